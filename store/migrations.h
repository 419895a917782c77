// Schema migrations: the store's schema is built and upgraded by numbered
// steps, and `PRAGMA user_version` records the last step applied.
//
// A store from any earlier relayq is upgraded in place on open, all steps in
// one IMMEDIATE transaction that also reads the version, so two processes
// opening one store at once upgrade it once; a store written by a newer
// relayq (a higher version than this binary knows) is refused rather than
// misread. One step cannot run in a transaction: step 11 converts a store to
// incremental auto-vacuum with a one-time VACUUM (logged, with its size and
// time); the steps before it commit first, and it is skipped for a store
// that is already incremental (every store Database::Open creates).
#pragma once

#include <string>

#include "common/status.h"

struct sqlite3;

namespace relayq::store {

// The schema version this binary writes.
int LatestSchemaVersion();

// Applies migrations to `db` up to `target` (LatestSchemaVersion() by default).
// Fails without changes if the store is already newer than this binary, or
// when any step fails (then no step of its transaction is applied). Waits for another
// connection's migration through `db`'s busy timeout.
Status Migrate(sqlite3* db, int target = -1);

// Opens the file at `path` (creating it) and migrates it to exactly `target`.
// For tests that build stores as older relayq versions left them.
Status MigrateFileTo(const std::string& path, int target);

}  // namespace relayq::store
