// ActionStore: the routing actions and dispatch requests, for the code that
// carries them out (the daemon's action executor and `relayq dispatch`).
//
// An interface: its SQLite implementation (sqlite_action_store.cc, handed
// out by Database::OpenActionStore) has its own connection beside the ingest
// writer, so a slow GitHub call never holds up webhook acknowledgements, and
// SQLite's write lock (with the busy timeout) orders the two; tests may use
// an in-memory one (tests/fakes/fake_action_store.h).
//
// Claims. An action is taken by ClaimDue (or created claimed by
// CreateDispatch), which atomically marks it running under a token unique to
// that one claim ("OWNER#RANDOM", kept in claimed_by) with a lease: the wall
// time until which nobody else may take it (kept in next_attempt_at). Every
// write that follows is fenced on the Claim: it changes the row only while
// the row is still running under that very token, and otherwise fails with
// a Conflict for which ClaimWasLost() is true, meaning the claim was lost (taken over after the
// lease ran out, or cancelled by an operator) and the caller must stop touching the action. The
// owner renews the lease (Renew) while it works, so only the claims of an owner that stopped
// renewing (it died, or hung longer than a lease) are taken over; see ActionExecutor for the
// renewal period and clock steps.
//
// Thread safety: all methods may be called from any thread (the SQLite one
// is one connection guarded by a mutex).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "store/model.h"

namespace relayq::store {

// One claim on one action: the proof of ownership every fenced write needs.
struct Claim {
  int64_t action_id = 0;
  std::string token;  // unique per claim; "" never matches
};

// True when `s` (from a fenced write) says the claim was lost, as opposed to
// the store failing (busy, disk): the holder must stop touching the action.
bool ClaimWasLost(const Status& s);

struct ClaimedAction {
  ActionRecord action;
  Claim claim;
};

// An operator's request to change an action (`relayq actions retry|cancel`,
// POST /api/v1/actions/{id}/retry|cancel): who asked ("cli:USER@HOST",
// "admin-api from IP"), why (optional, free text) and when (Unix ms).
struct OperatorRequest {
  std::string who;
  std::string reason;
  int64_t now = 0;
};

// What an operator's request came to: `changed` false when the action's
// state did not allow it (then `action` is the action as it is and `why`
// says what the state allows); true with the action as it is now.
struct OperatorOutcome {
  bool changed = false;
  ActionRecord action;
  std::string why;
  ActionStatus previous = ActionStatus::kUnknown;  // the state it was found in
};

// Why ClaimWasLost() is true; for implementations of ActionStore.
Status ClaimLostStatus(const Claim& claim);

class ActionStore {
 public:
  virtual ~ActionStore() = default;

  // Records a new request and, in the same transaction, its `dispatch:ID`
  // action claimed by `owner` until `lease_until` (so the caller can try it
  // at once and the daemon takes over if the caller gives up or dies).
  // Returns the request with its id; `claim` receives the action's claim.
  // When request.idempotency_key is set and a request with that key is
  // already recorded, records nothing and returns that request as stored;
  // `claim` is then left empty (action_id 0): the caller must not act on it.
  virtual Result<DispatchRequest> CreateDispatch(const DispatchRequest& request,
                                                 const std::string& owner, int64_t now,
                                                 int64_t lease_until, Claim& claim) = 0;

  // Records a request that the claimed action will dispatch, and in the same
  // transaction saves the action's progress, `progress(request id)` (so a
  // restart knows the request exists and resumes at dispatching it).
  // Fails (nothing recorded) when the claim was lost.
  virtual Result<DispatchRequest> CreateRequestForAction(
      const DispatchRequest& request, const Claim& claim,
      const std::function<std::string(int64_t request_id)>& progress, int64_t now) = 0;

  // Marks request `request_id` dispatched (as run `run_id`, when known) and
  // the claimed action done with `result`, in one transaction; fails
  // (nothing changed) when the claim was lost.
  virtual Status FinishDispatched(const Claim& claim, int64_t request_id,
                                  std::optional<int64_t> run_id, const std::string& result,
                                  int64_t now) = 0;

  virtual Result<std::optional<DispatchRequest>> GetRequest(int64_t id) = 0;
  virtual Result<std::optional<DispatchRequest>> RequestForRun(int64_t run_id) = 0;
  virtual Status MarkRequestFailed(int64_t id, const std::string& error, int64_t now) = 0;
  // Sets the ref of request `id` when it has none (a request submitted
  // without a ref runs on the repository's default branch, learnt when it is
  // sent); a request that has a ref keeps it.
  virtual Status SetRequestRef(int64_t id, const std::string& ref, int64_t now) = 0;

  // Takes up to `max` actions that are due at `now` (scheduled ones past
  // due_at, pending ones past their backoff, running ones whose lease
  // expired) and marks each running under a fresh token of `owner` until
  // `lease_until`.
  virtual Result<std::vector<ClaimedAction>> ClaimDue(int64_t now, const std::string& owner,
                                                      int64_t lease_until, size_t max) = 0;

  // As ClaimDue and NextDueTime, for the actions of one kind only (an
  // executor without GitHub credentials carries out notifications alone).
  virtual Result<std::vector<ClaimedAction>> ClaimDueOfKind(ActionKind kind, int64_t now,
                                                            const std::string& owner,
                                                            int64_t lease_until, size_t max) = 0;
  virtual Result<std::optional<int64_t>> NextDueTimeOfKind(ActionKind kind) = 0;

  // Records `action` (pending: due at once unless action.due_at says later)
  // unless an action with its key exists. Returns true when it was recorded,
  // false when the key was taken (nothing changed).
  virtual Result<bool> RecordAction(const NewAction& action, int64_t now) = 0;

  // Extends a claim's lease to `lease_until`; fails when it was lost.
  virtual Status Renew(const Claim& claim, int64_t lease_until, int64_t now) = 0;
  // Renew for many claims in one transaction; returns how many were renewed
  // (the others were lost).
  virtual Result<int> RenewAll(const std::vector<Claim>& claims, int64_t lease_until,
                               int64_t now) = 0;

  // Gives a claim back untouched: the action is pending and due at `now`
  // (its attempts and progress unchanged). Fails when it was lost.
  virtual Status ReleaseClaim(const Claim& claim, int64_t now) = 0;

  // Releases the running actions of owners whose name starts with
  // `owner_prefix` whose lease has run out at `now` (they are due anyway;
  // this only makes them show as pending). A live claim, renewed by an owner
  // still running, is never released, so a daemon starting beside another
  // one on the same store does not take over its work.
  virtual Status ReleaseClaims(const std::string& owner_prefix, int64_t now) = 0;
  // Releases every running action of owners whose name starts with
  // `owner_prefix`, live lease or not. Only for a caller that knows all such
  // owners are dead: a daemon holding the store's one-daemon lock may release
  // its dead predecessors' claims at once instead of waiting out their lease.
  virtual Status ReleaseClaimsOfDeadOwners(const std::string& owner_prefix, int64_t now) = 0;

  // The earliest time any unfinished action is due, or nullopt.
  virtual Result<std::optional<int64_t>> NextDueTime() = 0;

  // The writes of a claim's holder; each fails, changing nothing, with
  // ClaimWasLost() true when the claim was lost.
  // Final states (`status` must be IsFinal). `result` is a JSON object
  // (progress and outcome).
  virtual Status Finish(const Claim& claim, ActionStatus status, const std::string& result,
                        const std::optional<std::string>& error, int64_t now) = 0;
  // Back to pending after a failed attempt, due again at `next_attempt_at`;
  // `count_attempt` false for an attempt cut short by a stop.
  virtual Status Retry(const Claim& claim, int64_t next_attempt_at, const std::string& error,
                       const std::string& result, int64_t now, bool count_attempt = true) = 0;
  // Back to scheduled, due at `due_at` (the policy moved the deadline).
  virtual Status Reschedule(const Claim& claim, int64_t due_at, int64_t now) = 0;
  // Saves progress (e.g. {"stage":"cancelled"}) so a restart resumes there.
  virtual Status SaveProgress(const Claim& claim, const std::string& result, int64_t now) = 0;
  virtual Result<std::optional<ActionRecord>> GetAction(int64_t id) = 0;
  virtual Result<std::optional<ActionRecord>> GetActionByKey(const std::string& key) = 0;

  // Operator controls. Each runs in one transaction that checks the state,
  // changes the action and records the request in its history
  // (action_events), so of two concurrent requests exactly one changes it
  // and the other sees the state the first left. NotFound ("no action N")
  // for an unknown id.
  //
  // RetryAction: a failed or aborted action goes back to pending, due at
  // `now` (scheduled until its due_at when that is still ahead: a fallback
  // cancelled before its deadline), unclaimed, its progress (result) kept so the executor resumes
  // where it stopped and never repeats a step GitHub already took; its
  // attempts count the try that ended it, so the executor's give-up rule
  // lets exactly one more try happen. Any other state (scheduled, pending,
  // running, done, refused: the policy refused it and would refuse it again)
  // is not changed. A claim taken before the action ended stays lost: the
  // retried action is claimed afresh, like any other.
  virtual Result<OperatorOutcome> RetryAction(int64_t id, const OperatorRequest& request) {
    (void)id;
    (void)request;
    return Status::Internal("this action store has no operator controls");
  }
  // CancelAction: a scheduled or pending action ends as aborted ("cancelled
  // by WHO"), unclaimed, and the dispatch request it would send (if any, and
  // not yet sent) is marked failed. A running action is not changed: its
  // holder may be talking to GitHub at this moment (try again once the try
  // ends; a try that fails goes back to pending). Final states are not
  // changed either.
  virtual Result<OperatorOutcome> CancelAction(int64_t id, const OperatorRequest& request) {
    (void)id;
    (void)request;
    return Status::Internal("this action store has no operator controls");
  }

  virtual Result<std::optional<JobState>> GetJob(int64_t job_id) = 0;
  virtual Result<std::optional<RunState>> GetRun(int64_t run_id, int64_t attempt) = 0;
  // Every recorded job of run `run_id`'s attempt `attempt`, by id.
  virtual Result<std::vector<JobState>> JobsOfRun(int64_t run_id, int64_t attempt) = 0;
};

}  // namespace relayq::store
