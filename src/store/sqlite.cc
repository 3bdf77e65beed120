#include "store/sqlite.h"

#include <sys/types.h>
#include <unistd.h>

#include <mutex>

#include "core/log.h"
#include "core/thread.h"

namespace promptops::store::sqlite {

namespace {

// SQLite's memory statistics (on by default) take a process-wide mutex around every malloc and
// free, which is most of SQLite's own per-row overhead on the trace writer. promptops never reads
// them (no sqlite3_memory_used, no soft heap limit). sqlite3_config only works before
// sqlite3_initialize, i.e. before the process's first sqlite3_open: if something else got there
// first (a test, an embedding program) it answers SQLITE_MISUSE and statistics stay on, which
// is only slower. Not thread-safe against other threads' SQLite use, hence before the first open
// and once.
//
// Page writes are cooperation points (core/thread.h): the unix VFS's pwrite/pwrite64 are wrapped
// so that a thread that enabled cooperative yielding (the trace writer) gives way to network
// threads between the pages of a commit or checkpoint, which it otherwise writes in one
// stretch of hundreds of microseconds. Other threads pay one thread-local check per page. The
// wrapper is installed through the VFS's documented system-call override (xSetSystemCall)
// before any connection exists; a VFS without it, or a build using neither call, is left as is.
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
static_assert(sizeof(off_t) == 8, "pwrite and pwrite64 share one signature on 64-bit Linux");
PwriteFn g_pwrite = nullptr;
PwriteFn g_pwrite64 = nullptr;
// The wrapper of the call whose original is *Original.
template <PwriteFn* Original>
ssize_t CooperativePwrite(int fd, const void* buf, size_t n, off_t off) {
  ssize_t r = (*Original)(fd, buf, n, off);
  CooperativeYield();  // keeps errno
  return r;
}

// SQLite's progress handler as a cooperation point; returning 0 lets the statement go on.
constexpr int kOpsPerCooperation = 200;
int CooperationPoint(void*) {
  CooperativeYield();
  return 0;
}

void WrapPageWrites() {
  sqlite3_vfs* vfs = sqlite3_vfs_find(nullptr);
  if (vfs == nullptr || vfs->iVersion < 3 || vfs->xSetSystemCall == nullptr) return;
  auto wrap = [&](const char* name, PwriteFn& original, PwriteFn wrapper) {
    auto current = vfs->xGetSystemCall(vfs, name);
    if (current == nullptr) return;  // this build of SQLite does not use it
    original = reinterpret_cast<PwriteFn>(current);
    if (vfs->xSetSystemCall(vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(wrapper)) !=
        SQLITE_OK) {
      log::Warn("sqlite: cannot wrap page writes", {{"call", name}});
    }
  };
  wrap("pwrite", g_pwrite, CooperativePwrite<&g_pwrite>);
  wrap("pwrite64", g_pwrite64, CooperativePwrite<&g_pwrite64>);
}

void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc == SQLITE_MISUSE) {
      log::Debug("sqlite already initialized; memory statistics stay on");
    } else if (rc != SQLITE_OK) {
      log::Warn("sqlite3_config(MEMSTATUS) failed", {{"error", sqlite3_errstr(rc)}});
    }
    WrapPageWrites();
  });
}

}  // namespace

Error ErrorFromSqlite(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_CONSTRAINT:
      return Error::Conflict(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error::Unavailable(std::move(msg));
    default:
      return Error::Internal(std::move(msg));
  }
}

Statement& Statement::Bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::Bind(int i, std::optional<std::int64_t> v) {
  return v ? Bind(i, *v) : BindNull(i);
}
Statement& Statement::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::BindNoCopy(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
  return *this;
}
Statement& Statement::BindBlobNoCopy(int i, std::string_view v) {
  sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC);
  return *this;
}
std::string_view Statement::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string_view();
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorFromSqlite(db_, rc, "database statement failed");
}

Status Statement::Run() {
  for (;;) {
    PO_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

std::optional<std::int64_t> Statement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

std::string Statement::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

void Statement::Reset() {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool read_only) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = ErrorFromSqlite(db, rc, "cannot open database " + path);
    sqlite3_close_v2(db);
    e.code = ErrorCode::kUnavailable;
    return e;
  }
  std::unique_ptr<Connection> c(new Connection(db));
  sqlite3_busy_timeout(db, 10000);
  // A cooperation point inside statements too (core/thread.h): every kOpsPerCooperation
  // virtual-machine instructions. A no-op (one thread-local check) on threads that did not
  // enable cooperative yielding; on the trace writer it slices a multi-row INSERT.
  sqlite3_progress_handler(db, kOpsPerCooperation, &CooperationPoint, nullptr);
  sqlite3_extended_result_codes(db, 1);
  // WAL: readers never block the writer. synchronous=FULL: a committed transaction survives a
  // process kill and a power loss. Foreign keys are enforced.
  // The writing connection (which also stores every trace batch) keeps an 8 MiB page cache
  // (default 2 MiB) and checkpoints every 10,000 WAL pages (~40 MB, default 1,000): the trace
  // indexes' hot pages stay cached, and a page changed by many batches is copied into the
  // database once per checkpoint instead of once per 1,000 pages. Measured with
  // bench/trace_store_bench: ~20% fewer instructions per stored trace, mostly in the kernel.
  // Durability is unchanged (the WAL is synced at every commit).
  std::string pragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;";
  if (!read_only) {
    pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA cache_size=-8192; PRAGMA wal_autocheckpoint=10000; " +
        pragmas;
  }
  PO_RETURN_IF_ERROR(c->Exec(pragmas));
  return c;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = ErrorFromSqlite(nullptr, rc, "database exec failed");
    e.message = "database exec failed: " + msg;
    return e;
  }
  return OkStatus();
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return Statement(db_, it->second);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorFromSqlite(db_, rc, "cannot prepare statement");
  cache_.emplace(sql, stmt);
  return Statement(db_, stmt);
}

}  // namespace promptops::store::sqlite
