// Store upkeep that runs beside a live daemon: pruning old raw bodies and
// taking an online backup.
//
// Both open their own connection to the store `db` names (Database::Open in
// kExisting mode: NotFound when there is no file, never creating one), with
// its settings, and work while
// `relayq serve` keeps writing (WAL mode): a prune takes the write lock in
// short batches so webhook intake is never held up for long, and a backup
// copies one consistent snapshot without blocking the writer.
// Thread safety: the functions share no state; call them from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/status.h"
#include "store/database.h"

namespace relayq::store {

struct PruneResult {
  int64_t bodies_dropped = 0;  // deliveries whose raw body was removed
  int64_t bytes_dropped = 0;   // their uncompressed size (body_size)
};

// Sets the raw body of every delivery received before `cutoff_ms` (Unix ms)
// to NULL; the delivery's metadata, and every job, run, job event and action,
// stay. Idempotent. Unavailable when the store stayed locked past the busy
// timeout. Freed pages are reused by later writes; the file does not shrink.
Result<PruneResult> PruneBodies(const Database& db, int64_t cutoff_ms);

// What PruneBodies(db, cutoff_ms) would drop now, without changing anything
// (read-only).
Result<PruneResult> CountPrunable(const Database& db, int64_t cutoff_ms);

// Copies the store to `dest` as one consistent snapshot (SQLite's
// online backup), safe while the daemon writes. The copy is written to a
// temporary file beside `dest`, checked (PRAGMA quick_check), made
// owner-only (0600) and then linked into place, so `dest` either does not
// exist or is complete. Conflict when `dest` already exists (an existing
// backup is never overwritten). Returns the copy's size in bytes.
Result<int64_t> BackupTo(const Database& db, const std::string& dest);

}  // namespace relayq::store
