// The SQLite implementation of store.h: one write connection (writers serialized by a mutex,
// BEGIN IMMEDIATE) and one read connection (WAL lets it read while a write is in progress).
#include <mutex>

#include "core/clock.h"
#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace promptops::store {

// Defined in sqlite_traces.cc.
std::unique_ptr<TraceRepository> NewSqliteTraceRepository(sqlite::Connection& c);

namespace {

using sqlite::Connection;
using sqlite::Statement;

class SqliteProjects : public ProjectRepository {
 public:
  explicit SqliteProjects(Connection& c) : c_(c) {}

  Result<std::optional<ProjectRow>> FindByName(std::string_view name) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("SELECT id, name, created_at FROM projects WHERE name = ?"));
    st.Bind(1, name);
    return One(st);
  }
  Result<std::optional<ProjectRow>> FindById(std::int64_t id) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("SELECT id, name, created_at FROM projects WHERE id = ?"));
    st.Bind(1, id);
    return One(st);
  }
  Result<ProjectRow> Create(std::string_view name, std::int64_t now) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("INSERT INTO projects (name, created_at) VALUES (?, ?)"));
    st.Bind(1, name).Bind(2, now);
    PO_RETURN_IF_ERROR(st.Run());
    return ProjectRow{c_.LastInsertId(), std::string(name), now};
  }
  Result<std::vector<ProjectRow>> List() override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("SELECT id, name, created_at FROM projects ORDER BY id"));
    return sqlite::All(st, Read);
  }

 private:
  static ProjectRow Read(const Statement& st) { return {st.Int(0), st.Text(1), st.Int(2)}; }
  static Result<std::optional<ProjectRow>> One(Statement& st) {
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ProjectRow>();
    return std::optional<ProjectRow>(Read(st));
  }
  Connection& c_;
};

constexpr const char* kKeyCols =
    "id, project_id, public_id, secret_hash, role, name, created_by, created_at, revoked_at";

class SqliteKeys : public ApiKeyRepository {
 public:
  explicit SqliteKeys(Connection& c) : c_(c) {}

  Result<ApiKeyRow> Insert(const ApiKeyRow& k) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(
            "INSERT INTO api_keys (project_id, public_id, secret_hash, role, name, created_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, k.project_id)
        .Bind(2, k.public_id)
        .Bind(3, k.secret_hash)
        .Bind(4, k.role)
        .Bind(5, k.name)
        .Bind(6, k.created_by)
        .Bind(7, k.created_at);
    auto s = st.Run();
    if (!s.ok()) {
      if (s.error().code == ErrorCode::kConflict) {
        return Error::AlreadyExists("an API key with public id '" + k.public_id + "' exists");
      }
      return std::move(s).error();
    }
    ApiKeyRow out = k;
    out.id = c_.LastInsertId();
    return out;
  }
  Result<std::optional<ApiKeyRow>> FindByPublicId(std::string_view public_id) override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string("SELECT ") + kKeyCols +
                                            " FROM api_keys WHERE public_id = ?"));
    st.Bind(1, public_id);
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ApiKeyRow>();
    return std::optional<ApiKeyRow>(Read(st));
  }
  Result<std::vector<ApiKeyRow>> List() override {
    PO_ASSIGN_OR_RETURN(
        auto st, c_.Prepare(std::string("SELECT ") + kKeyCols + " FROM api_keys ORDER BY id"));
    return sqlite::All(st, Read);
  }
  Result<bool> Revoke(std::string_view public_id, std::int64_t now) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(
            "UPDATE api_keys SET revoked_at = ? WHERE public_id = ? AND revoked_at IS NULL"));
    st.Bind(1, now).Bind(2, public_id);
    PO_RETURN_IF_ERROR(st.Run());
    return c_.Changes() > 0;
  }
  Result<std::int64_t> Count() override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("SELECT COUNT(*) FROM api_keys"));
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }

 private:
  static ApiKeyRow Read(const Statement& st) {
    ApiKeyRow k;
    k.id = st.Int(0);
    k.project_id = st.Int(1);
    k.public_id = st.Text(2);
    k.secret_hash = st.Text(3);
    k.role = st.Text(4);
    k.name = st.Text(5);
    k.created_by = st.Text(6);
    k.created_at = st.Int(7);
    k.revoked_at = st.OptInt(8);
    return k;
  }
  Connection& c_;
};

constexpr const char* kPromptCols =
    "id, project_id, name, type, description, tags, created_by, created_at";
constexpr const char* kVersionCols =
    "id, prompt_id, number, branch, parent, merged_from, semver, content, config, variables, "
    "metadata, content_hash, author, message, created_at";

class SqlitePrompts : public PromptRepository {
 public:
  explicit SqlitePrompts(Connection& c) : c_(c) {}

  Result<std::optional<PromptRow>> Find(std::int64_t project_id, std::string_view name) override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string("SELECT ") + kPromptCols +
                                            " FROM prompts WHERE project_id = ? AND name = ?"));
    st.Bind(1, project_id).Bind(2, name);
    return OnePrompt(st);
  }
  Result<std::optional<PromptRow>> FindById(std::int64_t id) override {
    PO_ASSIGN_OR_RETURN(
        auto st, c_.Prepare(std::string("SELECT ") + kPromptCols + " FROM prompts WHERE id = ?"));
    st.Bind(1, id);
    return OnePrompt(st);
  }
  Result<PromptRow> Insert(const PromptRow& p) override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("INSERT INTO prompts (project_id, name, type, "
                                            "description, tags, created_by, created_at) "
                                            "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, p.project_id)
        .Bind(2, p.name)
        .Bind(3, p.type)
        .Bind(4, p.description)
        .Bind(5, p.tags_json)
        .Bind(6, p.created_by)
        .Bind(7, p.created_at);
    auto s = st.Run();
    if (!s.ok()) {
      if (s.error().code == ErrorCode::kConflict) {
        return Error::AlreadyExists("prompt '" + p.name + "' already exists");
      }
      return std::move(s).error();
    }
    PromptRow out = p;
    out.id = c_.LastInsertId();
    return out;
  }
  Status UpdateInfo(std::int64_t id, std::string_view description,
                    std::string_view tags_json) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("UPDATE prompts SET description = ?, tags = ? WHERE id = ?"));
    st.Bind(1, description).Bind(2, tags_json).Bind(3, id);
    return st.Run();
  }
  Result<bool> Delete(std::int64_t id) override {
    // Labels reference versions; delete in dependency order (cascade would also work, but the
    // composite foreign key makes the order matter for SQLite's immediate checks).
    for (const char* sql : {"DELETE FROM prompt_labels WHERE prompt_id = ?",
                            "DELETE FROM label_events WHERE prompt_id = ?",
                            "DELETE FROM prompt_branches WHERE prompt_id = ?",
                            "DELETE FROM prompt_versions WHERE prompt_id = ?"}) {
      PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(sql));
      st.Bind(1, id);
      PO_RETURN_IF_ERROR(st.Run());
    }
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("DELETE FROM prompts WHERE id = ?"));
    st.Bind(1, id);
    PO_RETURN_IF_ERROR(st.Run());
    return c_.Changes() > 0;
  }
  Result<std::vector<PromptRow>> ListAll() override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string("SELECT ") + kPromptCols +
                                            " FROM prompts ORDER BY project_id, name"));
    return sqlite::All(st, ReadPrompt);
  }

  Result<std::optional<VersionRow>> FindVersion(std::int64_t prompt_id,
                                                std::int64_t number) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare(std::string("SELECT ") + kVersionCols +
                                   " FROM prompt_versions WHERE prompt_id = ? AND number = ?"));
    st.Bind(1, prompt_id).Bind(2, number);
    return OneVersion(st);
  }
  Result<std::optional<VersionRow>> BranchHead(std::int64_t prompt_id,
                                               std::string_view branch) override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string("SELECT ") + kVersionCols +
                                            " FROM prompt_versions WHERE prompt_id = ? AND branch "
                                            "= ? ORDER BY number DESC LIMIT 1"));
    st.Bind(1, prompt_id).Bind(2, branch);
    return OneVersion(st);
  }
  Result<std::int64_t> MaxVersionNumber(std::int64_t prompt_id) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("SELECT COALESCE(MAX(number), 0) FROM prompt_versions WHERE prompt_id = ?"));
    st.Bind(1, prompt_id);
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }
  Result<VersionRow> InsertVersion(const VersionRow& v) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(
            "INSERT INTO prompt_versions (prompt_id, number, branch, parent, merged_from, semver, "
            "content, config, variables, metadata, content_hash, author, message, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, v.prompt_id)
        .Bind(2, v.number)
        .Bind(3, v.branch)
        .Bind(4, v.parent)
        .Bind(5, v.merged_from)
        .Bind(6, v.semver)
        .Bind(7, v.content_json)
        .Bind(8, v.config_json)
        .Bind(9, v.variables_json)
        .Bind(10, v.metadata_json)
        .Bind(11, v.content_hash)
        .Bind(12, v.author)
        .Bind(13, v.message)
        .Bind(14, v.created_at);
    auto s = st.Run();
    if (!s.ok()) {
      if (s.error().code == ErrorCode::kConflict) {
        return Error::Conflict("version " + std::to_string(v.number) +
                               " was created concurrently; retry");
      }
      return std::move(s).error();
    }
    VersionRow out = v;
    out.id = c_.LastInsertId();
    return out;
  }
  Result<std::vector<VersionRow>> ListVersions(std::int64_t prompt_id,
                                               std::int64_t after) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(std::string("SELECT ") + kVersionCols +
                   " FROM prompt_versions WHERE prompt_id = ? AND number > ? ORDER BY number"));
    st.Bind(1, prompt_id).Bind(2, after);
    return sqlite::All(st, ReadVersion);
  }

  Result<std::vector<LabelRow>> ListLabels(std::int64_t prompt_id) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("SELECT label, version, protected, updated_by, updated_at FROM prompt_labels "
                   "WHERE prompt_id = ? ORDER BY label"));
    st.Bind(1, prompt_id);
    return sqlite::All(st, ReadLabel);
  }
  Result<std::optional<LabelRow>> FindLabel(std::int64_t prompt_id,
                                            std::string_view label) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("SELECT label, version, protected, updated_by, updated_at FROM prompt_labels "
                   "WHERE prompt_id = ? AND label = ?"));
    st.Bind(1, prompt_id).Bind(2, label);
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<LabelRow>();
    return std::optional<LabelRow>(ReadLabel(st));
  }
  Status UpsertLabel(std::int64_t prompt_id, const LabelRow& l) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("INSERT INTO prompt_labels (prompt_id, label, version, protected, updated_by, "
                   "updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (prompt_id, label) DO UPDATE SET "
                   "version = excluded.version, protected = excluded.protected, "
                   "updated_by = excluded.updated_by, updated_at = excluded.updated_at"));
    st.Bind(1, prompt_id)
        .Bind(2, l.label)
        .Bind(3, l.version)
        .Bind(4, static_cast<std::int64_t>(l.is_protected))
        .Bind(5, l.updated_by)
        .Bind(6, l.updated_at);
    return st.Run();
  }
  Status DeleteLabel(std::int64_t prompt_id, std::string_view label) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare("DELETE FROM prompt_labels WHERE prompt_id = ? AND label = ?"));
    st.Bind(1, prompt_id).Bind(2, label);
    return st.Run();
  }
  Status InsertLabelEvent(std::int64_t prompt_id, const LabelEventRow& e) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(
            "INSERT INTO label_events (prompt_id, label, from_version, to_version, actor, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, prompt_id)
        .Bind(2, e.label)
        .Bind(3, e.from_version)
        .Bind(4, e.to_version)
        .Bind(5, e.actor)
        .Bind(6, e.reason)
        .Bind(7, e.created_at);
    return st.Run();
  }
  Result<std::vector<LabelEventRow>> ListLabelEvents(
      std::int64_t prompt_id, std::optional<std::string_view> label) override {
    std::string sql =
        "SELECT id, label, from_version, to_version, actor, reason, created_at FROM label_events "
        "WHERE prompt_id = ?";
    if (label) sql += " AND label = ?";
    sql += " ORDER BY id";
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(sql));
    st.Bind(1, prompt_id);
    if (label) st.Bind(2, *label);
    return sqlite::All(st, [](const Statement& s) {
      LabelEventRow e;
      e.id = s.Int(0);
      e.label = s.Text(1);
      e.from_version = s.OptInt(2);
      e.to_version = s.OptInt(3);
      e.actor = s.Text(4);
      e.reason = s.Text(5);
      e.created_at = s.Int(6);
      return e;
    });
  }

  Result<std::vector<BranchRow>> ListBranches(std::int64_t prompt_id) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("SELECT name, base_version, created_by, created_at FROM prompt_branches "
                   "WHERE prompt_id = ? ORDER BY name"));
    st.Bind(1, prompt_id);
    return sqlite::All(st, [](const Statement& s) {
      return BranchRow{s.Text(0), s.Int(1), s.Text(2), s.Int(3)};
    });
  }
  Status InsertBranch(std::int64_t prompt_id, const BranchRow& b) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare(
            "INSERT INTO prompt_branches (prompt_id, name, base_version, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?)"));
    st.Bind(1, prompt_id)
        .Bind(2, b.name)
        .Bind(3, b.base_version)
        .Bind(4, b.created_by)
        .Bind(5, b.created_at);
    auto s = st.Run();
    if (!s.ok() && s.error().code == ErrorCode::kConflict) {
      return Error::AlreadyExists("branch '" + b.name + "' already exists");
    }
    return s;
  }

 private:
  static PromptRow ReadPrompt(const Statement& st) {
    PromptRow p;
    p.id = st.Int(0);
    p.project_id = st.Int(1);
    p.name = st.Text(2);
    p.type = st.Text(3);
    p.description = st.Text(4);
    p.tags_json = st.Text(5);
    p.created_by = st.Text(6);
    p.created_at = st.Int(7);
    return p;
  }
  static Result<std::optional<PromptRow>> OnePrompt(Statement& st) {
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<PromptRow>();
    return std::optional<PromptRow>(ReadPrompt(st));
  }
  static VersionRow ReadVersion(const Statement& st) {
    VersionRow v;
    v.id = st.Int(0);
    v.prompt_id = st.Int(1);
    v.number = st.Int(2);
    v.branch = st.Text(3);
    v.parent = st.OptInt(4);
    v.merged_from = st.OptInt(5);
    v.semver = st.Text(6);
    v.content_json = st.Text(7);
    v.config_json = st.Text(8);
    v.variables_json = st.Text(9);
    v.metadata_json = st.Text(10);
    v.content_hash = st.Text(11);
    v.author = st.Text(12);
    v.message = st.Text(13);
    v.created_at = st.Int(14);
    return v;
  }
  static Result<std::optional<VersionRow>> OneVersion(Statement& st) {
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<VersionRow>();
    return std::optional<VersionRow>(ReadVersion(st));
  }
  static LabelRow ReadLabel(const Statement& st) {
    return {st.Text(0), st.Int(1), st.Int(2) != 0, st.Text(3), st.Int(4)};
  }
  Connection& c_;
};

class SqliteTx : public Tx {
 public:
  explicit SqliteTx(Connection& c) : c_(c), projects_(c), keys_(c), prompts_(c) {}
  ProjectRepository& projects() override { return projects_; }
  ApiKeyRepository& keys() override { return keys_; }
  PromptRepository& prompts() override { return prompts_; }
  TraceRepository& traces() override {
    if (!traces_) traces_ = NewSqliteTraceRepository(c_);  // most transactions never need it
    return *traces_;
  }

 private:
  Connection& c_;
  SqliteProjects projects_;
  SqliteKeys keys_;
  SqlitePrompts prompts_;
  std::unique_ptr<TraceRepository> traces_;
};

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<Connection> writer,
              std::unique_ptr<Connection> reader, int schema)
      : path_(std::move(path)),
        writer_(std::move(writer)),
        reader_(std::move(reader)),
        schema_(schema) {}

  Status Write(const std::function<Status(Tx&)>& fn) override {
    std::lock_guard lock(write_mu_);
    PO_RETURN_IF_ERROR(SetRelaxed(false));
    return RunTx(*writer_, "BEGIN IMMEDIATE", fn);
  }
  // synchronous=NORMAL for one transaction: in WAL mode the commit appends to the WAL without an
  // fsync (the WAL is synced by the next synchronous=FULL commit or checkpoint). The setting
  // belongs to the connection, so it is restored before the next durable write, even if
  // restoring it right after this transaction failed.
  Status WriteRelaxed(const std::function<Status(Tx&)>& fn) override {
    std::lock_guard lock(write_mu_);
    PO_RETURN_IF_ERROR(SetRelaxed(true));
    Status s = RunTx(*writer_, "BEGIN IMMEDIATE", fn);
    (void)SetRelaxed(false);
    return s;
  }
  Status Read(const std::function<Status(Tx&)>& fn) override {
    std::lock_guard lock(read_mu_);
    return RunTx(*reader_, "BEGIN", fn);
  }
  std::string Describe() const override {
    return "sqlite:" + path_ + " (schema " + std::to_string(schema_) + ")";
  }

 private:
  static Status RunTx(Connection& c, const char* begin, const std::function<Status(Tx&)>& fn) {
    PO_RETURN_IF_ERROR(c.Exec(begin));
    SqliteTx tx(c);
    Status s;
    try {
      s = fn(tx);
    } catch (...) {
      (void)c.Exec("ROLLBACK");
      throw;
    }
    if (!s.ok()) {
      (void)c.Exec("ROLLBACK");
      return s;
    }
    auto commit = c.Exec("COMMIT");
    if (!commit.ok()) (void)c.Exec("ROLLBACK");
    return commit;
  }

  // Called with write_mu_ held.
  Status SetRelaxed(bool relaxed) {
    if (relaxed_ == relaxed) return OkStatus();
    PO_RETURN_IF_ERROR(
        writer_->Exec(relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL"));
    relaxed_ = relaxed;
    return OkStatus();
  }

  std::string path_;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by write_mu_
  bool relaxed_ = false;                // writer_ has synchronous=NORMAL; guarded by write_mu_
  std::mutex read_mu_;
  std::unique_ptr<Connection> reader_;  // guarded by read_mu_
  int schema_;
};

Result<int> Migrate(Connection& c) {
  PO_RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
             "name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  int current = 0;
  {
    PO_ASSIGN_OR_RETURN(auto st,
                        c.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) current = static_cast<int>(st.Int(0));
  }
  auto migrations = SqliteMigrations();
  int latest = migrations.empty() ? 0 : migrations.back().number;
  if (current > latest) {
    return Error::FailedPrecondition("database schema " + std::to_string(current) +
                                     " is newer than this promptops (knows " +
                                     std::to_string(latest) + "); upgrade promptops");
  }
  for (const auto& m : migrations) {
    if (m.number <= current) continue;
    PO_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
    auto s = c.Exec(m.sql);
    if (s.ok() && m.then) s = m.then(c);
    if (s.ok()) {
      auto st =
          c.Prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      if (!st.ok()) {
        s = st.error();
      } else {
        st->Bind(1, static_cast<std::int64_t>(m.number))
            .Bind(2, m.name)
            .Bind(3, ToUnixMillis(Clock::Real().Now()));
        s = st->Run();
      }
    }
    if (!s.ok()) {
      (void)c.Exec("ROLLBACK");
      return Error::Internal("migration " + std::to_string(m.number) + " (" + std::string(m.name) +
                             ") failed: " + s.error().message);
    }
    PO_RETURN_IF_ERROR(c.Exec("COMMIT"));
    current = m.number;
  }
  return current;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& file) {
  if (file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      return Error::Unavailable("cannot create data directory " + file.parent_path().string() +
                                ": " + ec.message());
    }
  }
  PO_ASSIGN_OR_RETURN(auto writer, sqlite::Connection::Open(file.string()));
  PO_ASSIGN_OR_RETURN(int schema, Migrate(*writer));
  PO_ASSIGN_OR_RETURN(auto reader, sqlite::Connection::Open(file.string()));
  return std::unique_ptr<Store>(
      new SqliteStore(file.string(), std::move(writer), std::move(reader), schema));
}

}  // namespace promptops::store
