// Reads a relayq SQLite store directly, as a test's independent witness of
// what relayq wrote (tests never trust relayq's own read path for this).
#pragma once

#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace relayq::testing {

class SqliteReader {
 public:
  explicit SqliteReader(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~SqliteReader() { sqlite3_close_v2(db_); }
  SqliteReader(const SqliteReader&) = delete;
  SqliteReader& operator=(const SqliteReader&) = delete;

  // Every row of `sql`, each column as text ("NULL" for SQL NULL).
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("bad test SQL: ") + sqlite3_errmsg(db_));
    }
    std::vector<std::vector<std::string>> rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

  // The single value of a one-row, one-column query.
  std::string Value(const std::string& sql) {
    auto rows = Rows(sql);
    if (rows.empty() || rows[0].empty()) return "";
    return rows[0][0];
  }

  int64_t Count(const std::string& sql) { return std::stoll(Value(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace relayq::testing
