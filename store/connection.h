// Connect: the one function that opens a SQLite connection to a store file,
// private to store/. Every connection applies the Database's settings the
// same way: extended result codes, the busy timeout, and (when it writes) the
// store's synchronous mode. Thread safety: a connection belongs to one
// thread at a time (SQLITE_OPEN_NOMUTEX).
#pragma once

#include <optional>

#include "common/result.h"
#include "store/sqlite_util.h"
#include "store/store_options.h"

namespace relayq::store {

enum class Access {
  kReadOnly,   // SQLITE_OPEN_READONLY: can never change the file
  kReadWrite,  // an existing file, in the store's synchronous mode
  kCreate,     // kReadWrite, creating the file when missing
};

// Opens a connection to options.path. `busy_timeout_ms` overrides the
// options' (a probe that must not wait long).
Result<Db> Connect(const StoreOptions& options, Access access,
                   std::optional<int> busy_timeout_ms = std::nullopt);

// The schema version recorded in the file (PRAGMA user_version): 0 for a
// file without a relayq schema.
Result<int> SchemaVersion(sqlite3* db);

}  // namespace relayq::store
