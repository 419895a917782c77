// Thin RAII helpers over the SQLite C API, private to store/.
//
// Db and Stmt own their handles through unique_ptr with custom deleters.
// SqliteStatus() is the one place a SQLite result code becomes a relayq
// Status: SQLITE_FULL and SQLITE_BUSY mean "try again later" (Unavailable), so
// callers can answer 503 instead of acknowledging. Not thread-safe: a Db and
// its statements belong to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"

namespace relayq::store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// Translates a SQLite result code (with the connection's message) once.
Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

// Opens `path` with the given SQLITE_OPEN_* flags, extended result codes on.
Result<Db> OpenDb(const std::string& path, int flags);

// Runs one or more statements that return no rows.
Status Exec(sqlite3* db, std::string_view sql);

// A prepared statement, reset after each use so it can be prepared once and
// reused. Bind indexes are 1-based, as in SQLite.
class Stmt {
 public:
  Stmt() = default;
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view v);  // text
  Stmt& BindBlob(int i, std::string_view v);
  Stmt& BindNull(int i);
  Stmt& Bind(int i, const std::optional<int64_t>& v);
  Stmt& Bind(int i, const std::optional<std::string>& v);

  // Steps once: true when a row is ready, false when done; an error Status
  // otherwise.
  Result<bool> Step();
  // Steps to completion, ignoring rows, then resets.
  Status Run();
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  std::optional<int64_t> OptInt(int col) const;
  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;
  std::string Blob(int col) const;

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
};

}  // namespace relayq::store
