// Read-only queries for recovering missed deliveries (relayq hooks recover
// and the periodic recovery in serve): which delivery ids the store already
// holds, which jobs it still believes are unfinished, and which repositories
// deliver to it.
//
// Each call opens its own read-only connection to the store `db` names
// (Database::Open fails with NotFound when there is no file), so it runs
// beside a serving relayq (the store is in WAL mode: readers never block the
// writer) and never takes the writer's queue. Nothing here writes; state is
// changed only through Store::Ingest. Thread safety: the functions share no
// state and may be called from any thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/database.h"
#include "store/model.h"

namespace relayq::store {

// The subset of `candidates` (X-GitHub-Delivery GUIDs) recorded in the
// deliveries table of the store, whatever their outcome (callers open the
// Database in kExisting mode, so a mistyped --db is NotFound rather than
// "nothing was ever recorded"); IoError/Corruption/Unavailable as SQLite
// reports them.
Result<std::set<std::string>> RecordedDeliveryIds(const Database& db,
                                                  const std::vector<std::string>& candidates);

// Jobs of `repository` (compared case-insensitively) whose recorded status
// is not "completed" and whose state last changed before `updated_before`
// (Unix ms), oldest change first, at most `limit`. Filled fields: id, run_id,
// run_attempt, repository, workflow_name, name, labels, status, runner_name,
// queued_at, started_at, updated_at.
Result<std::vector<JobState>> StaleUnfinishedJobs(const Database& db, const std::string& repository,
                                                  int64_t updated_before, int limit);

// The repositories (owner/name, one spelling each, compared
// case-insensitively) of workflow_job and workflow_run deliveries the store
// accepted at or after `received_since` (Unix ms).
Result<std::vector<std::string>> SeenRepositories(const Database& db, int64_t received_since);

}  // namespace relayq::store
