#include "store/maintenance.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <utility>

#include "common/clock.h"
#include "store/connection.h"
#include "store/sqlite_util.h"

namespace relayq::store {
namespace {

// Rows per prune transaction: small enough that the daemon's writer waits
// milliseconds, not seconds, for the lock between batches.
constexpr int kPruneBatch = 500;
// Between two batches the prune lets go for this long, so a writer waiting
// in SQLite's busy handler (which polls) gets the lock before the next one.
constexpr int kPauseMs = 2;
// Pages PRAGMA incremental_vacuum frees per transaction (8 MiB at 4 KiB).
constexpr int kVacuumStepPages = 2048;

// Actions still to run, and what they point at stays.
constexpr const char* kLive = "('scheduled', 'pending', 'running')";

// What store.history deletes: each table's old, finished rows that nothing
// live needs. ?1 is the cutoff (Unix ms). Each condition is a range on an
// index of its time column (schema steps 1-4 and 7), so a batch reads only
// rows older than the cutoff, never the whole table (a run without a
// created_at is found through the same index; a job always has queued_at).
struct HistoryTable {
  const char* table;
  std::string old;  // WHERE condition on the table's own rows
};

const HistoryTable& ActionsOld() {
  static const HistoryTable t{
      "actions",
      "created_at < ?1 AND status IN ('done', 'failed', 'aborted', 'refused') AND "
      "coalesce(done_at, updated_at) < ?1"};
  return t;
}
const HistoryTable& JobsOld() {
  static const HistoryTable t{"jobs",
                              std::string("status = 'completed' AND queued_at < ?1 AND updated_at "
                                          "< ?1 AND NOT EXISTS (SELECT 1 FROM actions a WHERE "
                                          "a.job_id = jobs.id AND a.status IN ") +
                                  kLive + ")"};
  return t;
}
const HistoryTable& RunsOld() {
  static const HistoryTable t{
      "runs", std::string("(created_at < ?1 OR (created_at IS NULL AND updated_at < ?1)) AND "
                          "status = 'completed' AND "
                          "coalesce(updated_at, created_at, 0) < ?1 AND NOT EXISTS (SELECT 1 "
                          "FROM jobs j WHERE j.run_id = runs.id AND j.run_attempt = runs.attempt "
                          "AND j.status != 'completed') AND NOT EXISTS (SELECT 1 FROM actions a "
                          "WHERE a.run_id = runs.id AND a.status IN ") +
                  kLive + ")"};
  return t;
}
const HistoryTable& RequestsOld() {
  static const HistoryTable t{
      "dispatch_requests",
      std::string("created_at < ?1 AND status IN ('dispatched', 'failed') AND updated_at < ?1 AND "
                  "NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = dispatch_requests.run_id AND "
                  "r.status != 'completed') AND NOT EXISTS (SELECT 1 FROM actions a WHERE "
                  "a.status IN ") +
          kLive +
          " AND dispatch_requests.id IN (json_extract(CASE WHEN json_valid(a.payload) THEN "
          "a.payload END, '$.request_id'), json_extract(CASE WHEN json_valid(a.payload) THEN "
          "a.payload END, '$.parent_request_id'), json_extract(CASE WHEN json_valid(a.result) "
          "THEN a.result END, '$.request_id')))"};
  return t;
}
// Operator changes (relayq actions retry|cancel) of actions deleted above.
const HistoryTable& ActionEventsOrphaned() {
  static const HistoryTable t{"action_events",
                              "at < ?1 AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.id = "
                              "action_events.action_id)"};
  return t;
}
const HistoryTable& DeliveriesOld() {
  static const HistoryTable t{"deliveries", "received_at < ?1"};
  return t;
}

// SQLite's automatic checkpoint threshold (its default), in log pages.
constexpr int kAutoCheckpointPages = 1000;

// While it lives, the connection's commits leave the log's checkpoint to
// CheckpointIfDue, called after the write lock is let go: SQLite's automatic
// checkpoint runs inside COMMIT's step, so it would be timed as part of the
// transaction though the writer no longer waits for it. Restores the
// automatic checkpoint when it ends, on every path.
class DeferredCheckpoint {
 public:
  explicit DeferredCheckpoint(sqlite3* db) : db_(db) {
    sqlite3_wal_hook(db_, &DeferredCheckpoint::OnCommit, &wal_pages_);
  }
  ~DeferredCheckpoint() { sqlite3_wal_autocheckpoint(db_, kAutoCheckpointPages); }
  DeferredCheckpoint(const DeferredCheckpoint&) = delete;
  DeferredCheckpoint& operator=(const DeferredCheckpoint&) = delete;

  void CheckpointIfDue() {
    if (wal_pages_ < kAutoCheckpointPages) return;
    // PASSIVE: copies what it can without waiting for, or blocking, anyone.
    (void)sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    wal_pages_ = 0;
  }

 private:
  // Called by SQLite after each commit with the log's size in pages.
  static int OnCommit(void* wal_pages, sqlite3*, const char*, int pages) {
    *static_cast<int*>(wal_pages) = pages;
    return SQLITE_OK;
  }

  sqlite3* const db_;
  int wal_pages_ = 0;
};

// Runs `batch` (one bounded piece of work: returns how many rows it took
// from the table being pruned) in its own IMMEDIATE transaction, again and
// again until a batch takes fewer than kPruneBatch rows. `stats` gets the
// transactions and the longest, timed from when BEGIN IMMEDIATE has the
// write lock to the end of COMMIT: how long the daemon's writer could have
// waited for the prune (not how long the prune waited for the writer).
Status InBatches(sqlite3* db, const std::function<Result<int64_t>()>& batch,
                 HistoryPruneResult* stats = nullptr, const char* table = "") {
  DeferredCheckpoint checkpoint(db);
  for (;;) {
    RELAYQ_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
    const MonoTime locked = Clock::Real().Monotonic();
    Result<int64_t> n = batch();
    Status s = n.ok() ? Exec(db, "COMMIT") : n.status();
    const int64_t held_us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::Real().Monotonic() - locked)
            .count();
    if (!s.ok()) {
      (void)Exec(db, "ROLLBACK");
      return s;
    }
    if (stats != nullptr) {
      if (stats->batches == 0 || held_us > stats->longest_batch_us) {
        stats->longest_batch_us = held_us;
        stats->longest_batch_table = table;
      }
      ++stats->batches;
    }
    checkpoint.CheckpointIfDue();
    if (*n < kPruneBatch) return Status::Ok();
    sqlite3_sleep(kPauseMs);
  }
}

// Prepares `sql` and runs it with the cutoff (?1) and batch size (?2) bound
// where it names them; returns the rows it changed.
struct BatchStmt {
  Stmt stmt;
  sqlite3* db = nullptr;
  Result<int64_t> Run(int64_t cutoff_ms) {
    const int params = sqlite3_bind_parameter_count(stmt.get());
    if (params >= 1) stmt.Bind(1, cutoff_ms);
    if (params >= 2) stmt.Bind(2, int64_t{kPruneBatch});
    RELAYQ_RETURN_IF_ERROR(stmt.Run());
    return static_cast<int64_t>(sqlite3_changes(db));
  }
};
Result<BatchStmt> PrepareBatch(sqlite3* db, const std::string& sql) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, sql));
  return BatchStmt{std::move(s), db};
}

// Deletes the rows of `t` that are old, a batch at a time.
Status DeleteOld(sqlite3* db, const HistoryTable& t, int64_t cutoff_ms, int64_t& deleted,
                 HistoryPruneResult& stats) {
  const std::string table = t.table;
  RELAYQ_ASSIGN_OR_RETURN(BatchStmt del,
                          PrepareBatch(db, "DELETE FROM " + table +
                                               " WHERE rowid IN (SELECT rowid "
                                               "FROM " +
                                               table + " WHERE " + t.old + " LIMIT ?2)"));
  return InBatches(
      db,
      [&]() -> Result<int64_t> {
        RELAYQ_ASSIGN_OR_RETURN(int64_t n, del.Run(cutoff_ms));
        deleted += n;
        return n;
      },
      &stats, t.table);
}

// Deletes old jobs with their events and labels, a batch of jobs at a time
// (their ids picked into a temporary table first).
Status DeleteOldJobs(sqlite3* db, int64_t cutoff_ms, HistoryPruneResult& stats) {
  RELAYQ_RETURN_IF_ERROR(
      Exec(db, "CREATE TEMP TABLE IF NOT EXISTS prune_jobs (id INTEGER PRIMARY KEY, labels TEXT)"));
  RELAYQ_ASSIGN_OR_RETURN(BatchStmt clear, PrepareBatch(db, "DELETE FROM temp.prune_jobs"));
  RELAYQ_ASSIGN_OR_RETURN(BatchStmt pick,
                          PrepareBatch(db,
                                       "INSERT INTO temp.prune_jobs SELECT id, labels FROM "
                                       "jobs WHERE " +
                                           JobsOld().old + " LIMIT ?2"));
  RELAYQ_ASSIGN_OR_RETURN(
      BatchStmt events,
      PrepareBatch(db, "DELETE FROM job_events WHERE job_id IN (SELECT id FROM temp.prune_jobs)"));
  // A job's labels are the ones its events named (job_labels has no index
  // by job id; GitHub does not change a job's labels).
  RELAYQ_ASSIGN_OR_RETURN(
      BatchStmt labels,
      PrepareBatch(db,
                   "DELETE FROM job_labels WHERE (label, job_id) IN (SELECT l.value, p.id FROM "
                   "temp.prune_jobs p, json_each(CASE WHEN json_valid(p.labels) THEN p.labels "
                   "ELSE '[]' END) l)"));
  RELAYQ_ASSIGN_OR_RETURN(
      BatchStmt jobs,
      PrepareBatch(db, "DELETE FROM jobs WHERE id IN (SELECT id FROM temp.prune_jobs)"));
  return InBatches(
      db,
      [&]() -> Result<int64_t> {
        RELAYQ_RETURN_IF_ERROR(clear.Run(cutoff_ms).status());
        RELAYQ_ASSIGN_OR_RETURN(int64_t n, pick.Run(cutoff_ms));
        if (n == 0) return n;
        RELAYQ_ASSIGN_OR_RETURN(int64_t e, events.Run(cutoff_ms));
        RELAYQ_RETURN_IF_ERROR(labels.Run(cutoff_ms).status());
        RELAYQ_ASSIGN_OR_RETURN(int64_t j, jobs.Run(cutoff_ms));
        stats.job_events += e;
        stats.jobs += j;
        return n;
      },
      &stats, "jobs");
}

Result<int64_t> CountWhere(sqlite3* db, const std::string& sql, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, sql));
  q.Bind(1, cutoff_ms);
  RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Result<int64_t> PragmaInt(sqlite3* db, const char* pragma) {
  RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db, pragma));
  RELAYQ_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

// A read-write connection for a prune, the store in WAL mode (the writer's
// own connection has put the file in WAL mode; say so again in case this is
// a store that was never served: a no-op otherwise).
Result<Db> PruneConnection(const Database& store) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadWrite));
  RELAYQ_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA journal_mode = WAL"));
  return db;
}

}  // namespace

Result<PruneResult> CountPrunable(const Database& store, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt count, Stmt::Prepare(db.get(),
                                "SELECT count(*), coalesce(sum(body_size), 0) FROM deliveries "
                                "WHERE received_at < ?1 AND body IS NOT NULL"));
  count.Bind(1, cutoff_ms);
  RELAYQ_ASSIGN_OR_RETURN(bool row, count.Step());
  PruneResult r;
  if (row) {
    r.bodies_dropped = count.Int(0);
    r.bytes_dropped = count.Int(1);
  }
  return r;
}

Result<PruneResult> PruneBodies(const Database& store, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, PruneConnection(store));
  // Sum first (same rows, same transaction), then drop, batch by batch
  // through the received_at index.
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt pick, Stmt::Prepare(db.get(),
                               "SELECT count(*), coalesce(sum(body_size), 0) FROM (SELECT "
                               "body_size FROM deliveries WHERE received_at < ?1 AND body IS "
                               "NOT NULL LIMIT ?2)"));
  RELAYQ_ASSIGN_OR_RETURN(
      BatchStmt drop,
      PrepareBatch(db.get(),
                   "UPDATE deliveries SET body = NULL WHERE seq IN (SELECT seq FROM "
                   "deliveries WHERE received_at < ?1 AND body IS NOT NULL LIMIT ?2)"));
  PruneResult total;
  Status s = InBatches(db.get(), [&]() -> Result<int64_t> {
    pick.Bind(1, cutoff_ms).Bind(2, int64_t{kPruneBatch});
    Result<bool> row = pick.Step();
    int64_t n = 0, bytes = 0;
    if (row.ok() && *row) {
      n = pick.Int(0);
      bytes = pick.Int(1);
    }
    pick.Reset();
    if (!row.ok()) return row.status();
    if (n > 0) RELAYQ_RETURN_IF_ERROR(drop.Run(cutoff_ms).status());
    total.bodies_dropped += n;
    total.bytes_dropped += bytes;
    return n;
  });
  if (!s.ok()) return s.WithContext("pruning " + store.path());
  return total;
}

Result<HistoryPruneResult> PruneHistory(const Database& store, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, PruneConnection(store));
  HistoryPruneResult r;
  // Actions first: a finished action no longer keeps its job, run or
  // request; then what pointed at runs (jobs) before runs.
  Status s = DeleteOld(db.get(), ActionsOld(), cutoff_ms, r.actions, r);
  if (s.ok()) s = DeleteOldJobs(db.get(), cutoff_ms, r);
  int64_t action_events = 0;
  if (s.ok()) s = DeleteOld(db.get(), ActionEventsOrphaned(), cutoff_ms, action_events, r);
  if (s.ok()) s = DeleteOld(db.get(), RunsOld(), cutoff_ms, r.runs, r);
  if (s.ok()) s = DeleteOld(db.get(), RequestsOld(), cutoff_ms, r.dispatch_requests, r);
  if (s.ok()) s = DeleteOld(db.get(), DeliveriesOld(), cutoff_ms, r.deliveries, r);
  if (!s.ok()) return s.WithContext("pruning the history of " + store.path());
  return r;
}

Result<HistoryPruneResult> CountHistory(const Database& store, int64_t cutoff_ms) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  HistoryPruneResult r;
  for (auto [t, n] : {std::pair{&ActionsOld(), &r.actions},
                      {&JobsOld(), &r.jobs},
                      {&RunsOld(), &r.runs},
                      {&RequestsOld(), &r.dispatch_requests},
                      {&DeliveriesOld(), &r.deliveries}}) {
    RELAYQ_ASSIGN_OR_RETURN(
        *n,
        CountWhere(db.get(), std::string("SELECT count(*) FROM ") + t->table + " WHERE " + t->old,
                   cutoff_ms));
  }
  // The actions that keep a job are counted as they are now; those pruned
  // in the same pass may free a few more jobs than counted here.
  RELAYQ_ASSIGN_OR_RETURN(r.job_events,
                          CountWhere(db.get(),
                                     "SELECT count(*) FROM job_events WHERE job_id IN (SELECT id "
                                     "FROM jobs WHERE " +
                                         JobsOld().old + ")",
                                     cutoff_ms));
  return r;
}

Result<int64_t> ReclaimFreePages(const Database& store) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, PruneConnection(store));
  constexpr int64_t kIncremental = 2;  // PRAGMA auto_vacuum's value
  RELAYQ_ASSIGN_OR_RETURN(int64_t mode, PragmaInt(db.get(), "PRAGMA auto_vacuum"));
  if (mode != kIncremental) return int64_t{0};
  RELAYQ_ASSIGN_OR_RETURN(int64_t page_size, PragmaInt(db.get(), "PRAGMA page_size"));
  RELAYQ_ASSIGN_OR_RETURN(int64_t before, PragmaInt(db.get(), "PRAGMA page_count"));
  const std::string step = "PRAGMA incremental_vacuum(" + std::to_string(kVacuumStepPages) + ")";
  for (;;) {
    RELAYQ_ASSIGN_OR_RETURN(int64_t free_pages, PragmaInt(db.get(), "PRAGMA freelist_count"));
    if (free_pages == 0) break;
    // Each step is its own short write transaction.
    if (Status s = Exec(db.get(), step); !s.ok()) {
      return s.WithContext("freeing pages of " + store.path());
    }
    if (free_pages <= kVacuumStepPages) break;
    sqlite3_sleep(kPauseMs);
  }
  RELAYQ_ASSIGN_OR_RETURN(int64_t after, PragmaInt(db.get(), "PRAGMA page_count"));
  // The file shrinks when the whole log has been copied back into it: now,
  // unless a reader holds an older snapshot or the writer's own checkpoint
  // is running (tried again for a moment; else at a later checkpoint).
  // PASSIVE never blocks the writer.
  constexpr int kCheckpointTries = 20;
  for (int i = 0; i < kCheckpointTries; ++i) {
    RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db.get(), "PRAGMA wal_checkpoint(PASSIVE)"));
    Result<bool> row = q.Step();
    // Columns: busy, frames in the log, frames copied back.
    if (!row.ok() || !*row || (q.Int(0) == 0 && q.Int(1) == q.Int(2))) break;
    sqlite3_sleep(50);
  }
  return (before - after) * page_size;
}

Result<int64_t> BackupTo(const Database& store, const std::string& dest) {
  const std::string& path = store.path();
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    return Status::Conflict(dest + " already exists; choose a new file name");
  }
  RELAYQ_ASSIGN_OR_RETURN(Db src, Connect(store.options(), Access::kReadOnly));

  const std::string tmp = dest + ".partial-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  auto cleanup = [&tmp] {
    ::unlink(tmp.c_str());
    ::unlink((tmp + "-journal").c_str());
  };
  {
    // Owner-only from the first byte: the copy holds raw payloads too.
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
    }
    ::close(fd);
  }
  Status s;
  {
    auto out = OpenDb(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!out.ok()) {
      cleanup();
      return out.status();
    }
    sqlite3_backup* b = sqlite3_backup_init(out->get(), "main", src.get(), "main");
    if (b == nullptr) {
      s = SqliteStatus(sqlite3_errcode(out->get()), out->get(), "backup");
    } else {
      // One step copies every page under one read transaction: a single
      // consistent snapshot. In WAL mode that read does not block the
      // daemon's writer, and the writer's commits do not restart it.
      int rc;
      do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
      } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
      int fin = sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE) {
        s = SqliteStatus(rc, out->get(), "backup");
      } else if (fin != SQLITE_OK) {
        s = SqliteStatus(fin, out->get(), "backup");
      }
    }
    if (s.ok()) {
      // The copy keeps the source's WAL flag; a plain rollback journal makes
      // it one self-contained file, as a backup should be.
      s = Exec(out->get(), "PRAGMA journal_mode = DELETE");
    }
    if (s.ok()) {
      auto check = Stmt::Prepare(out->get(), "PRAGMA quick_check");
      if (!check.ok()) {
        s = check.status();
      } else {
        Result<bool> row = check->Step();
        if (!row.ok()) {
          s = row.status();
        } else if (!*row || check->Text(0) != "ok") {
          s = Status::Corruption("the copy failed its integrity check");
        }
      }
    }
  }
  if (!s.ok()) {
    cleanup();
    return s.WithContext("backup of " + path);
  }
  // link() fails if `dest` appeared meanwhile: never overwrite a file.
  if (::link(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    cleanup();
    if (err == EEXIST) return Status::Conflict(dest + " already exists; choose a new file name");
    return Status::IoError("cannot create " + dest + ": " + std::strerror(err));
  }
  cleanup();
  struct stat st {};
  ::stat(dest.c_str(), &st);
  return static_cast<int64_t>(st.st_size);
}

}  // namespace relayq::store
