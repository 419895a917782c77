// ActionStore: the routing actions and dispatch requests, for the code that
// carries them out (the daemon's action executor and `relayq dispatch`).
//
// It has its own SQLite connection beside the ingest writer, so a slow
// GitHub call never holds up webhook acknowledgements; SQLite's write lock
// (with a busy timeout) orders the two. An action is taken by Claim*, which
// atomically marks it running with a lease in the name of one owner, so the
// daemon and the command line never act on the same action; an owner that
// dies leaves a lease that expires. Thread safety: all methods may be called
// from any thread (one connection, guarded by a mutex).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/model.h"

namespace relayq::store {

class ActionStore {
 public:
  // Opens the store at `path`, which must exist and be migrated (Store::Open
  // creates it); fails otherwise.
  static Result<std::unique_ptr<ActionStore>> Open(const std::string& path,
                                                   int busy_timeout_ms = 5000);
  ~ActionStore();

  // Records a new request and, in the same transaction, its `dispatch:ID`
  // action claimed by `owner` until `lease_until` (so the caller can try it
  // at once and the daemon takes over if the caller gives up or dies).
  // Returns the request with its id; `action_id` receives the action's id.
  Result<DispatchRequest> CreateDispatch(const DispatchRequest& request, const std::string& owner,
                                         int64_t now, int64_t lease_until, int64_t& action_id);

  // Records a request that action `action_id` will dispatch, and in the same
  // transaction saves the action's progress, `progress(request id)` (so a
  // restart knows the request exists and resumes at dispatching it).
  Result<DispatchRequest> CreateRequestForAction(
      const DispatchRequest& request, int64_t action_id,
      const std::function<std::string(int64_t request_id)>& progress, int64_t now);

  // Marks request `request_id` dispatched (as run `run_id`, when known) and
  // action `action_id` done with `result`, in one transaction.
  Status FinishDispatched(int64_t action_id, int64_t request_id, std::optional<int64_t> run_id,
                          const std::string& result, int64_t now);

  Result<std::optional<DispatchRequest>> GetRequest(int64_t id);
  Result<std::optional<DispatchRequest>> RequestForRun(int64_t run_id);
  Status MarkRequestFailed(int64_t id, const std::string& error, int64_t now);

  // Takes up to `max` actions that are due at `now` (scheduled ones past
  // due_at, pending ones past their backoff, running ones whose lease
  // expired) and marks them running for `owner` until `lease_until`.
  Result<std::vector<ActionRecord>> ClaimDue(int64_t now, const std::string& owner,
                                             int64_t lease_until, size_t max);

  // Releases every action still marked running by an owner whose name starts
  // with `owner_prefix` (a daemon restarting releases its predecessor's).
  Status ReleaseClaims(const std::string& owner_prefix, int64_t now);

  // The earliest time any unfinished action is due, or nullopt.
  Result<std::optional<int64_t>> NextDueTime();

  // Final states. `result` is a JSON object (progress and outcome).
  Status Finish(int64_t id, const std::string& status, const std::string& result,
                const std::optional<std::string>& error, int64_t now);
  // Back to pending after a failed attempt, due again at `next_attempt_at`.
  Status Retry(int64_t id, int64_t next_attempt_at, const std::string& error,
               const std::string& result, int64_t now);
  // Back to scheduled, due at `due_at` (the policy moved the deadline).
  Status Reschedule(int64_t id, int64_t due_at, int64_t now);
  // Saves progress (e.g. {"stage":"cancelled"}) so a restart resumes there.
  Status SaveProgress(int64_t id, const std::string& result, int64_t now);
  Result<std::optional<ActionRecord>> GetAction(int64_t id);
  Result<std::optional<ActionRecord>> GetActionByKey(const std::string& key);

  Result<std::optional<JobState>> GetJob(int64_t job_id);
  Result<std::optional<RunState>> GetRun(int64_t run_id, int64_t attempt);

 private:
  struct Impl;
  explicit ActionStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relayq::store
