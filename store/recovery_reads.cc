#include "store/recovery_reads.h"

#include <sqlite3.h>

#include "store/connection.h"
#include "store/rows.h"
#include "store/sqlite_util.h"

namespace relayq::store {

Result<std::set<std::string>> RecordedDeliveryIds(const Database& store,
                                                  const std::vector<std::string>& candidates) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  // One indexed lookup per candidate: the list is at most a few thousand
  // GUIDs (GitHub keeps three days of deliveries), and a read transaction
  // around them gives one consistent snapshot.
  RELAYQ_RETURN_IF_ERROR(Exec(db.get(), "BEGIN"));
  RELAYQ_ASSIGN_OR_RETURN(Stmt lookup,
                          Stmt::Prepare(db.get(), "SELECT 1 FROM deliveries WHERE id = ?1"));
  std::set<std::string> found;
  for (const std::string& id : candidates) {
    lookup.Bind(1, std::string_view(id));
    Result<bool> row = lookup.Step();
    lookup.Reset();
    if (!row.ok()) {
      (void)Exec(db.get(), "ROLLBACK");
      return row.status().WithContext("store " + store.path());
    }
    if (*row) found.insert(id);
  }
  (void)Exec(db.get(), "COMMIT");
  return found;
}

Result<std::vector<JobState>> StaleUnfinishedJobs(const Database& store,
                                                  const std::string& repository,
                                                  int64_t updated_before, int limit) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt q,
      Stmt::Prepare(db.get(), std::string("SELECT ") + kJobColumns +
                                  " FROM jobs WHERE status <> 'completed' AND repository = ?1 "
                                  "COLLATE NOCASE AND updated_at < ?2 ORDER BY updated_at "
                                  "LIMIT ?3"));
  q.Bind(1, std::string_view(repository))
      .Bind(2, updated_before)
      .Bind(3, static_cast<int64_t>(limit));
  std::vector<JobState> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext("store " + store.path());
    if (!*row) break;
    out.push_back(JobFromRow(q));
  }
  return out;
}

Result<std::vector<std::string>> SeenRepositories(const Database& store, int64_t received_since) {
  RELAYQ_ASSIGN_OR_RETURN(Db db, Connect(store.options(), Access::kReadOnly));
  // deliveries_by_time bounds the scan to the window.
  RELAYQ_ASSIGN_OR_RETURN(
      Stmt q, Stmt::Prepare(db.get(),
                            "SELECT min(repository) FROM deliveries WHERE received_at >= ?1 "
                            "AND event IN ('workflow_job', 'workflow_run') AND outcome = "
                            "'accepted' AND repository <> '' GROUP BY lower(repository) "
                            "ORDER BY 1"));
  q.Bind(1, received_since);
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status().WithContext("store " + store.path());
    if (!*row) break;
    out.push_back(q.Text(0));
  }
  return out;
}

}  // namespace relayq::store
