#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace promptops::store {
namespace {

TEST(SqliteStore, MigratesOnOpenAndReopensIdempotently) {
  testing::TempDir dir;
  auto path = dir.path() / "nested" / "db.sqlite";
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    std::string latest = "schema " + std::to_string(SqliteMigrations().back().number);
    EXPECT_NE((*s)->Describe().find(latest), std::string::npos);
    ASSERT_TRUE((*s)->Write([](Tx& tx) -> Status {
                      auto p = tx.projects().Create("default", 1);
                      return p.ok() ? OkStatus() : p.error();
                    })
                    .ok());
  }
  auto again = OpenSqliteStore(path);
  ASSERT_TRUE(again.ok());
  Status s = (*again)->Read([](Tx& tx) -> Status {
    auto p = tx.projects().FindByName("default");
    EXPECT_TRUE(p.ok() && p->has_value());
    return OkStatus();
  });
  EXPECT_TRUE(s.ok());
}

TEST(SqliteStore, RefusesADatabaseFromANewerVersion) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Exec("INSERT INTO schema_migrations VALUES (999, 'future', 0)").ok());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(SqliteStore, FailedTransactionsRollBackEverything) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() / "db.sqlite")).value();
  Status s = store->Write([](Tx& tx) -> Status {
    auto p = tx.projects().Create("a", 1);
    if (!p.ok()) return p.error();
    return Error::InvalidArgument("abort");
  });
  EXPECT_FALSE(s.ok());
  ASSERT_TRUE(store
                  ->Read([](Tx& tx) -> Status {
                    EXPECT_FALSE(tx.projects().FindByName("a")->has_value());
                    return OkStatus();
                  })
                  .ok());
}

TEST(SqliteStore, DuplicateVersionNumbersAreAConflict) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() / "db.sqlite")).value();
  Status s = store->Write([](Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto project, tx.projects().Create("p", 1));
    PromptRow row;
    row.project_id = project.id;
    row.name = "x";
    row.type = "text";
    PO_ASSIGN_OR_RETURN(auto prompt, tx.prompts().Insert(row));
    VersionRow v;
    v.prompt_id = prompt.id;
    v.number = 1;
    v.semver = "1.0.0";
    v.content_json = "\"a\"";
    PO_RETURN_IF_ERROR(tx.prompts().InsertVersion(v).ok() ? OkStatus() : Error::Internal("first"));
    auto dup = tx.prompts().InsertVersion(v);
    EXPECT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
    auto dup_prompt = tx.prompts().Insert(row);
    EXPECT_EQ(dup_prompt.error().code, ErrorCode::kAlreadyExists);
    return OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s.error().ToString();
}

TEST(SqliteStore, UnwritableLocationIsUnavailable) {
  auto s = OpenSqliteStore("/proc/promptops-cannot-exist/db.sqlite");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
}

// Index names of a table, sorted.
std::vector<std::string> Indexes(sqlite::Connection& c, const std::string& table) {
  auto st = c.Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
      "ORDER BY name");
  EXPECT_TRUE(st.ok());
  st->Bind(1, table);
  return *sqlite::All(*st, [](sqlite::Statement& s) { return s.Text(0); });
}

const std::vector<std::string> kTraceIndexes = {"trace_blocks_ids", "trace_blocks_project",
                                                "trace_blocks_time"};

bool HasTable(sqlite::Connection& c, const std::string& table) {
  auto st = c.Prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  EXPECT_TRUE(st.ok());
  st->Bind(1, table);
  auto row = st->Step();
  return row.ok() && *row && st->Int(0) > 0;
}

// Creates a database as a promptops that knew the first `n` migrations left it.
void CreateAtSchema(const std::filesystem::path& path, std::size_t n) {
  auto c = sqlite::Connection::Open(path.string());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
                  .ok());
  for (const auto& m : SqliteMigrations().first(n)) {
    ASSERT_TRUE((*c)->Exec(m.sql).ok()) << m.name;
    auto st = (*c)->Prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)");
    st->Bind(1, std::int64_t{m.number}).Bind(2, m.name);
    ASSERT_TRUE(st->Run().ok());
  }
}

TEST(SqliteStore, FreshDatabaseKeepsTracesInBlocks) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  auto c = sqlite::Connection::Open(path.string());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Indexes(**c, "trace_blocks"), kTraceIndexes);
  EXPECT_FALSE(HasTable(**c, "traces"));
}

// A database made by a promptops that knew migrations 1 and 2 (traces_model and traces_time
// exist, traces stored) is upgraded on open: the traces move into blocks, the old table goes.
TEST(SqliteStore, UpgradesASchema2DatabaseKeepingItsTraces) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  CreateAtSchema(path, 2);
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Exec("INSERT INTO traces (id, project_id, time_ms, model, status) VALUES "
                           "('tr-old', 1, 5, 'm', 200)")
                    .ok());
    auto before = Indexes(**c, "traces");
    EXPECT_NE(std::find(before.begin(), before.end(), "traces_model"), before.end());
    EXPECT_NE(std::find(before.begin(), before.end(), "traces_time"), before.end());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::string latest = "schema " + std::to_string(SqliteMigrations().back().number);
  EXPECT_NE((*s)->Describe().find(latest), std::string::npos) << (*s)->Describe();
  ASSERT_TRUE((*s)->Read([](Tx& tx) -> Status {
                    auto t = tx.traces().Get(1, "tr-old");
                    EXPECT_TRUE(t.ok() && t->has_value());
                    TraceFilter f;
                    f.model = "m";
                    EXPECT_EQ(tx.traces().List(1, f, 0, 10)->total, 1u);
                    return OkStatus();
                  })
                  .ok());
  auto c = sqlite::Connection::Open(path.string());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Indexes(**c, "trace_blocks"), kTraceIndexes);
  EXPECT_FALSE(HasTable(**c, "traces"));
}

// A database at schema 3 (traces_status and traces_user, traces and feedback stored, ids of every
// format promptops ever handed out) is upgraded by migrations 4 and 5: the traces, their ids,
// bodies and feedback stay, and every query answers as before.
TEST(SqliteStore, UpgradesASchema3DatabaseKeepingItsTracesAndIds) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  CreateAtSchema(path, 3);
  const char* kRandomId = "tr-Qx81bLr0aZ9kTTm2pWc4eN7y";   // "tr-" + FastId(24), before ordered ids
  const char* kOrderedId = "tr-1ffbWk3Wd9Xq2VbRk0LmZc5A";  // NewTraceId: time digits + random
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    auto before = Indexes(**c, "traces");
    EXPECT_EQ(before, (std::vector<std::string>{"traces_project_time", "traces_prompt",
                                                "traces_status", "traces_user"}));
    auto st = (*c)->Prepare(
        "INSERT INTO traces (id, project_id, time_ms, user, prompt_name, prompt_version, model, "
        "status, error_class, request_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'body')");
    ASSERT_TRUE(st.ok());
    struct Old {
      const char* id;
      std::int64_t project, time_ms;
      const char* user;
      const char* prompt;
      std::int64_t version;
      const char* model;
      std::int64_t status;
      const char* error_class;
    };
    const Old old[] = {
        {kRandomId, 1, 100, "alice", "support/bot", 2, "gpt-4o", 200, ""},
        {kOrderedId, 1, 200, "bob", "", 0, "gpt-4o-mini", 429, "rate_limited"},
        {"tr-legacy", 1, 300, "", "support/bot", 1, "gpt-4o", 200, "client_cancelled"},
        {"tr-other-project", 2, 150, "alice", "support/bot", 2, "gpt-4o", 200, ""},
    };
    for (const auto& o : old) {
      st->Bind(1, o.id)
          .Bind(2, o.project)
          .Bind(3, o.time_ms)
          .Bind(4, o.user)
          .Bind(5, o.prompt)
          .Bind(6, o.version)
          .Bind(7, o.model)
          .Bind(8, o.status)
          .Bind(9, o.error_class);
      ASSERT_TRUE(st->Run().ok()) << o.id;
      st->Reset();
    }
    ASSERT_TRUE((*c)->Exec(std::string("INSERT INTO feedback (project_id, trace_id, value, "
                                       "created_at) VALUES (1, '") +
                           kRandomId + "', 'up', 150)")
                    .ok());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::string latest = "schema " + std::to_string(SqliteMigrations().back().number);
  EXPECT_NE((*s)->Describe().find(latest), std::string::npos) << (*s)->Describe();
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(Indexes(**c, "trace_blocks"), kTraceIndexes);
    EXPECT_FALSE(HasTable(**c, "traces"));
  }
  // A trace stored after the upgrade.
  ASSERT_TRUE((*s)->Write([&](Tx& tx) -> Status {
                    std::vector<TraceRow> rows(1);
                    rows[0].id = "tr-new";
                    rows[0].project_id = 1;
                    rows[0].time_ms = 400;
                    rows[0].user = "alice";
                    rows[0].model = "gpt-4o";
                    PO_ASSIGN_OR_RETURN(auto n, tx.traces().InsertBatch(rows));
                    EXPECT_EQ(n, 1u);
                    return OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(
      (*s)->Read([&](Tx& tx) -> Status {
            for (const char* id : {kRandomId, kOrderedId, "tr-legacy"}) {
              auto t = tx.traces().Get(1, id);
              EXPECT_TRUE(t.ok() && t->has_value()) << id;
              if (t.ok() && t->has_value()) {
                EXPECT_EQ((*t)->request_body, "body") << id;
              }
            }
            EXPECT_FALSE(tx.traces().Get(2, kRandomId)->has_value());
            EXPECT_EQ(tx.traces().Get(1, kOrderedId).value()->time_ms, 200);
            EXPECT_EQ(tx.traces().ListFeedback(1, kRandomId)->size(), 1u);
            auto ids = [&](auto set) {
              TraceFilter f;
              set(f);
              std::vector<std::string> out;
              auto page = tx.traces().List(1, f, 0, 10);
              EXPECT_TRUE(page.ok());
              for (const auto& r : page->rows) out.push_back(r.id);
              return out;
            };
            using V = std::vector<std::string>;
            EXPECT_EQ(ids([](TraceFilter&) {}), (V{"tr-new", "tr-legacy", kOrderedId, kRandomId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.from_ms = 150, f.to_ms = 301; }),
                      (V{"tr-legacy", kOrderedId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.user = "alice"; }), (V{"tr-new", kRandomId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.prompt = "support/bot"; }),
                      (V{"tr-legacy", kRandomId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.prompt = "support/bot", f.version = 2; }),
                      V{kRandomId});
            EXPECT_EQ(ids([](TraceFilter& f) { f.model = "gpt-4o"; }),
                      (V{"tr-new", "tr-legacy", kRandomId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.status = 429; }), V{kOrderedId});
            EXPECT_EQ(ids([](TraceFilter& f) { f.errors_only = true; }),
                      (V{"tr-legacy", kOrderedId}));
            EXPECT_EQ(ids([](TraceFilter& f) { f.error_class = "client_cancelled"; }),
                      V{"tr-legacy"});
            EXPECT_EQ(*tx.traces().TraceProjectIds(), (std::vector<std::int64_t>{1, 2}));
            return OkStatus();
          })
          .ok());
  // Retention still finds the old traces.
  ASSERT_TRUE((*s)->Write([](Tx& tx) -> Status {
                    EXPECT_EQ(*tx.traces().DeleteOlderThan(250, std::nullopt), 3);
                    return OkStatus();
                  })
                  .ok());
}

// A database at schema 4 with more traces than one conversion chunk (4096), in two projects, with
// times against their storage order, is upgraded by migration 5: every trace moves into blocks
// with all its fields, List gives the order the old table gave (time, then newest stored first),
// Get finds each id, and the old table is gone.
TEST(SqliteStore, UpgradesASchema4DatabaseMovingItsTracesIntoBlocks) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  CreateAtSchema(path, 4);
  constexpr int kRows = 9000;
  std::vector<std::string> expected;  // project 1, newest first, as the old table listed them
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Exec("BEGIN").ok());
    auto st = (*c)->Prepare(
        "INSERT INTO traces (id, project_id, time_ms, user, model, status, error_class, "
        "cost_usd, ttft_us, stream, request_body, response_body) "
        "VALUES (?, ?, ?, ?, 'm', ?, ?, 0.25, -1, ?, ?, '응답')");
    ASSERT_TRUE(st.ok());
    for (int i = 0; i < kRows; ++i) {
      std::string id = "tr-" + std::to_string(i);
      st->Bind(1, id)
          .Bind(2, std::int64_t{i % 3 == 2 ? 2 : 1})
          .Bind(3, std::int64_t{(i * 7919) % 500})  // several traces per millisecond
          .Bind(4, i % 2 ? "김민수" : "bob")
          .Bind(5, std::int64_t{i % 10 == 0 ? 500 : 200})
          .Bind(6, i % 10 == 0 ? "upstream_error" : "")
          .Bind(7, std::int64_t{i % 2})
          .Bind(8, "요청 " + std::to_string(i));
      ASSERT_TRUE(st->Run().ok());
      st->Reset();
    }
    ASSERT_TRUE((*c)->Exec("COMMIT").ok());
    auto q = (*c)->Prepare(
        "SELECT id FROM traces WHERE project_id = 1 ORDER BY time_ms DESC, "
        "rowid DESC");
    expected = *sqlite::All(*q, [](sqlite::Statement& s) { return s.Text(0); });
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(HasTable(**c, "traces"));
  }
  ASSERT_TRUE((*s)->Read([&](Tx& tx) -> Status {
                    auto all = tx.traces().List(1, {}, 0, kRows);
                    EXPECT_TRUE(all.ok());
                    std::vector<std::string> ids;
                    for (const auto& r : all->rows) ids.push_back(r.id);
                    EXPECT_EQ(all->total, expected.size());
                    EXPECT_EQ(ids, expected);
                    EXPECT_EQ(tx.traces().List(2, {}, 0, 1)->total, 3000u);
                    TraceFilter errors;
                    errors.errors_only = true;
                    EXPECT_EQ(tx.traces().List(1, errors, 0, 1)->total, 600u);
                    for (int i : {0, 1, 4095, 4096, 8999}) {
                      std::string id = "tr-" + std::to_string(i);
                      auto t = tx.traces().Get(i % 3 == 2 ? 2 : 1, id);
                      EXPECT_TRUE(t.ok() && t->has_value()) << id;
                      if (!t.ok() || !t->has_value()) continue;
                      const TraceRow& r = **t;
                      EXPECT_EQ(r.time_ms, (i * 7919) % 500) << id;
                      EXPECT_EQ(r.user, i % 2 ? "김민수" : "bob") << id;
                      EXPECT_EQ(r.status, i % 10 == 0 ? 500 : 200) << id;
                      EXPECT_EQ(r.error_class, i % 10 == 0 ? "upstream_error" : "") << id;
                      EXPECT_EQ(r.cost_usd, 0.25) << id;
                      EXPECT_EQ(r.ttft_us, -1) << id;
                      EXPECT_EQ(r.stream, i % 2 == 1) << id;
                      EXPECT_EQ(r.request_body, "요청 " + std::to_string(i)) << id;
                      EXPECT_EQ(r.response_body, "응답") << id;
                    }
                    return OkStatus();
                  })
                  .ok());
}

// Stored full bodies can be megabytes each: migration 5 moves them in chunks of ~64 MB, and every
// body arrives whole.
TEST(SqliteStore, UpgradeMovesLargeBodiesInBoundedChunks) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  CreateAtSchema(path, 4);
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    auto st = (*c)->Prepare(
        "INSERT INTO traces (id, project_id, time_ms, status, request_body) VALUES (?, 1, ?, 200, "
        "?)");
    for (int i = 0; i < 4; ++i) {
      std::string body(30 << 20, static_cast<char>('a' + i));
      st->Bind(1, "tr-big-" + std::to_string(i)).Bind(2, std::int64_t{i}).Bind(3, body);
      ASSERT_TRUE(st->Run().ok());
      st->Reset();
    }
  }
  auto s = OpenSqliteStore(path);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_TRUE((*s)->Read([&](Tx& tx) -> Status {
                    EXPECT_EQ(tx.traces().List(1, {}, 0, 1)->total, 4u);
                    for (int i = 0; i < 4; ++i) {
                      auto t = tx.traces().Get(1, "tr-big-" + std::to_string(i));
                      EXPECT_TRUE(t.ok() && t->has_value()) << i;
                      if (!t.ok() || !t->has_value()) continue;
                      EXPECT_EQ((*t)->request_body,
                                std::string(30 << 20, static_cast<char>('a' + i)));
                    }
                    return OkStatus();
                  })
                  .ok());
}

// Connection::Open turns SQLite's global memory statistics off before SQLite initializes (each
// test runs in its own process under ctest, and nothing here touches SQLite before Open): with
// them off, SQLite stops counting, so sqlite3_memory_used() stays 0 however much it allocates.
TEST(SqliteStore, MemoryStatisticsAreOff) {
  testing::TempDir dir;
  auto store = OpenSqliteStore(dir.path() / "db.sqlite");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->Write([](Tx& tx) -> Status {
                    std::vector<TraceRow> rows(100);
                    for (std::size_t i = 0; i < rows.size(); ++i) {
                      rows[i].id = "tr-" + std::to_string(i);
                      rows[i].project_id = 1;
                      rows[i].request_body = std::string(1000, 'x');
                    }
                    return tx.traces().InsertBatch(rows).ok() ? OkStatus() : Error::Internal("x");
                  })
                  .ok());
  EXPECT_EQ(sqlite3_memory_used(), 0);
  // Opening again (SQLite initialized by now) is fine: the configuration is attempted once.
  EXPECT_TRUE(sqlite::Connection::Open((dir.path() / "db.sqlite").string()).ok());
}

}  // namespace
}  // namespace promptops::store
