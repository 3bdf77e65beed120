// A thin RAII layer over the SQLite C API: Connection and Statement. Internal to store/; the rest
// of the program sees only the repository interfaces in store/repositories.h.
//
// Thread safety: a Connection is used by one thread at a time (callers hold a mutex).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace promptops::store::sqlite {

// A cached prepared statement in use. Move-only; on destruction it is reset, which ends any
// read it left open (an un-reset statement would pin the connection's read snapshot).
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() { Reset(); }
  // Binds by 1-based index.
  Statement& Bind(int i, std::int64_t v);
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, std::optional<std::int64_t> v);
  Statement& Bind(int i, double v);
  Statement& BindNull(int i);
  // Binds text WITHOUT copying it: SQLite reads v's bytes during each later Step/Run until the
  // parameter is rebound or Reset() clears the bindings (the destructor does). Only for a string
  // that provably outlives every Step/Run of this statement and is not modified meanwhile, e.g.
  // a field of a caller's row bound and run inside one function that holds this Statement.
  Statement& BindNoCopy(int i, std::string_view v);
  // The same for a blob (bytes, not text).
  Statement& BindBlobNoCopy(int i, std::string_view v);
  // Steps once: true if a row is available, false when done. Errors map to store errors.
  Result<bool> Step();
  // Runs to completion (for INSERT/UPDATE/DELETE).
  Status Run();
  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::optional<std::int64_t> OptInt(int col) const;
  std::string Text(int col) const;
  // A blob column's bytes, valid until the next Step, Reset or Rewind.
  std::string_view Blob(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  // Resets bindings and state so a cached statement can be reused.
  void Reset();
  // Resets the state for another Step/Run but keeps the bindings (no sqlite3_clear_bindings): for
  // loops that rebind every parameter before each Run. BindNoCopy pointers stay bound.
  void Rewind() { sqlite3_reset(stmt_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating) the database file with WAL, foreign keys, busy timeout and synchronous=FULL.
  // The first call also turns off SQLite's global memory statistics (SQLITE_CONFIG_MEMSTATUS,
  // see sqlite.cc) unless SQLite was already initialized in this process.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool read_only = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Executes one or more statements without results.
  Status Exec(std::string_view sql);
  // Returns a reset, cached prepared statement for `sql` (owned by the connection).
  Result<Statement> Prepare(const std::string& sql);
  std::int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// Steps through the remaining rows of `st`, collecting read(st) for each.
template <typename Read>
auto All(Statement& st, Read read) -> Result<std::vector<decltype(read(st))>> {
  std::vector<decltype(read(st))> out;
  for (;;) {
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(read(st));
  }
}

// Maps an SQLite result code to an Error (constraint violations -> Conflict, busy -> Unavailable).
Error ErrorFromSqlite(sqlite3* db, int rc, std::string_view what);

}  // namespace promptops::store::sqlite
