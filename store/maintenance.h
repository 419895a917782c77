// Store upkeep that runs beside a live daemon: pruning old raw bodies
// (store.retention) and old records (store.history), giving freed pages back
// to the file system, and taking an online backup.
//
// Each opens its own connection to the store `db` names (Database::Open in
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
// timeout. Freed pages are reused by later writes; ReclaimFreePages gives
// them back to the file system.
Result<PruneResult> PruneBodies(const Database& db, int64_t cutoff_ms);

// The shortest store.history relayq accepts. Delivery ids and action keys are
// what make a redelivered delivery and a repeated event idempotent: GitHub
// redelivers for three days and recovery asks for deliveries as far back as
// recovery.since, so records younger than this must stay or one event could,
// say, fire a fallback twice.
inline constexpr int64_t kMinHistoryMs = int64_t{7} * 24 * 60 * 60 * 1000;

// Rows PruneHistory removed (or CountHistory would), per table, and how the
// work was split.
struct HistoryPruneResult {
  int64_t deliveries = 0;
  int64_t jobs = 0;  // with their job_labels rows
  int64_t job_events = 0;
  int64_t runs = 0;
  int64_t actions = 0;
  int64_t dispatch_requests = 0;
  int64_t batches = 0;                   // write transactions taken (PruneHistory only)
  int64_t longest_batch_us = 0;          // the longest of them held the write lock this long
  const char* longest_batch_table = "";  // and pruned this table (static text)
  int64_t total() const {
    return deliveries + jobs + job_events + runs + actions + dispatch_requests;
  }
};

// Deletes the records older than `cutoff_ms` (Unix ms) that nothing live
// needs (store.history): delivery rows received before it; finished routing
// actions (done, failed, aborted, refused) finished before it; completed jobs
// last updated before it that no live action names, with their job events and
// labels; completed runs last updated before it with no unfinished job and no
// live action; dispatch requests dispatched or failed before it whose run is
// gone or completed and that no live action names. Never a scheduled,
// pending or running action, nor what one of them, an unfinished job or an
// unfinished run points at. In write transactions of at most a few hundred
// rows with a pause between them, so the daemon's writer (webhook intake)
// waits milliseconds at most. Idempotent; Unavailable when the store stayed
// locked past the busy timeout (what was deleted so far stays deleted).
// The caller enforces kMinHistoryMs (a store-level test may go below it).
Result<HistoryPruneResult> PruneHistory(const Database& db, int64_t cutoff_ms);

// What PruneHistory(db, cutoff_ms) would delete now (read-only).
Result<HistoryPruneResult> CountHistory(const Database& db, int64_t cutoff_ms);

// Gives the store's free pages back to the file system: PRAGMA
// incremental_vacuum, in steps of a few MiB, then a passive checkpoint so
// the file is truncated; for a store in incremental auto-vacuum mode (every
// store from schema 11 on); a no-op otherwise. Returns the bytes freed.
Result<int64_t> ReclaimFreePages(const Database& db);

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
