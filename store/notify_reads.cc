#include "store/notify_reads.h"

#include <sqlite3.h>

#include <functional>

#include "store/connection.h"
#include "store/rows.h"
#include "store/sqlite_util.h"

namespace relayq::store {
namespace {

// Runs `sql` (bound by `bind`) on a read-only connection; each row becomes
// a T.
template <typename T>
Result<std::vector<T>> ReadAll(const Database& store, const std::string& sql,
                               const std::function<void(Stmt&)>& bind, T (*from_row)(const Stmt&)) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  RELAYQ_ASSIGN_OR_RETURN(Stmt q, Stmt::Prepare(db.get(), sql));
  bind(q);
  std::vector<T> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext("store " + store.path());
    if (!*row) break;
    out.push_back(from_row(q));
  }
  return out;
}

}  // namespace

Result<std::vector<ActionRecord>> EndedActionsSince(const Database& db, int64_t done_since,
                                                    int limit) {
  return ReadAll<ActionRecord>(
      db,
      std::string("SELECT ") + kActionColumns +
          " FROM actions WHERE done_at >= ?1 AND status IN ('failed', 'aborted', 'refused') "
          "AND kind <> 'notify' ORDER BY done_at, id LIMIT ?2",
      [&](Stmt& q) { q.Bind(1, done_since).Bind(2, static_cast<int64_t>(limit)); }, &ActionFromRow);
}

Result<std::vector<JobState>> StuckQueuedJobs(const Database& db, int64_t queued_before,
                                              int limit) {
  // jobs_by_status bounds the scan to queued jobs in time order; the
  // actions are found through actions_by_job and actions_by_run.
  return ReadAll<JobState>(
      db,
      std::string("SELECT ") + kJobColumns +
          " FROM jobs WHERE status IN ('queued', 'waiting', 'pending', 'requested') AND queued_at "
          "< ?1 "
          "AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.status IN ('scheduled', 'pending', "
          "'running') AND a.kind <> 'notify' AND (a.job_id = jobs.id OR (a.run_id = jobs.run_id "
          "AND a.run_attempt = jobs.run_attempt))) ORDER BY queued_at LIMIT ?2",
      [&](Stmt& q) { q.Bind(1, queued_before).Bind(2, static_cast<int64_t>(limit)); }, &JobFromRow);
}

}  // namespace relayq::store
