// Read-only queries for the notifier (handlers/notifier.h): the routing
// actions that ended badly since a time, and the jobs stuck in the queue
// with no routing action under way for them.
//
// Each call opens its own read-only connection to the store `db` names, as
// recovery_reads.h does, so it runs beside the writer (WAL: readers never
// block it). Thread safety: the functions share no state.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "store/database.h"
#include "store/model.h"

namespace relayq::store {

// Actions other than notifications whose status is failed, aborted or
// refused and whose done_at is at or after `done_since` (Unix ms), oldest
// first, at most `limit`.
Result<std::vector<ActionRecord>> EndedActionsSince(const Database& db, int64_t done_since,
                                                    int limit);

// Jobs still queued (or waiting) that were queued before `queued_before`
// (Unix ms) and for which no routing action (a fallback of the job or of its
// run's attempt) is scheduled, pending or running: nothing relayq does will
// move them. Oldest first, at most `limit`.
Result<std::vector<JobState>> StuckQueuedJobs(const Database& db, int64_t queued_before, int limit);

}  // namespace relayq::store
