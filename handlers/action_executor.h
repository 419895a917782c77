// ActionExecutor: carries out recorded routing actions against GitHub.
//
// Actions are recorded by the Router (fallbacks, chains) and by `relayq
// dispatch`; the executor claims those that are due, performs them in
// stages, and records each stage before the step it guards, so a restart
// resumes where it stopped and nothing is done twice:
//   fallback  check that no job of the run has started (store and API) ->
//             record "cancelling" -> cancel the run -> record "cancelled" ->
//             record a new request -> dispatch the fallback workflow with the
//             original inputs
//   chain     record a new request -> dispatch
//   dispatch  dispatch the request `relayq dispatch` recorded
//   notify    send one notification to one target (ExecutorOptions::notify)
//
// Exactly once. Dispatch and cancel are sent at most once per attempt; when
// GitHub's answer is lost (OutcomeUnknown: timeout, 5xx) the next attempt
// finds out before sending again: a dispatch looks for its run by
// [relayq:ID] in every run status (requested, waiting, pending, queued,
// in_progress, completed) and, when a listing fails, retries later instead of
// resending; a cancel reads the run's status. A fallback that recorded
// "cancelling" always ends with a replacement unless the run finished on its
// own (success/failure): a cancel that took effect is replaced whatever the
// answer said, and a job that reached a runner between the check and the
// cancel is cancelled by GitHub too (no 409), so it is replaced as well and
// the reason is recorded. A fallback aborts as "started on RUNNER" only
// before anything was cancelled, and only when some job of the run started
// (a run with several governed jobs is cancelled only while none has).
// Failures GitHub may recover from (network, 5xx, rate limits, an unknown
// outcome, a runners-API failure) are retried with exponential backoff and
// jitter; failures it will not (401, 403, 404, 422) fail the action with the
// reason.
//
// Claims and clocks. Every write is fenced on the action's claim (a token
// unique to the claim, see ActionStore); a write that finds the claim lost
// stops all work on that action ("lost"). While an action is worked on, its
// lease (ExecutorOptions::lease) is renewed every lease/4 by a heartbeat that
// waits on the monotonic clock (and sleeps while no claim is held: taking a
// claim wakes it), and every RunDue renews this executor's
// claims before it claims, so a wall-clock step inside the process never
// makes the executor take over its own live claims. Leases are stored as
// wall times (they must outlive the process: a daemon killed mid-action
// leaves claims that expire within one lease and are then taken over; a
// daemon starting beside a live one takes nothing live). Another process
// (`relayq dispatch`) sees a live claim as expired only if the wall clock
// steps forward by more than 3/4 of a lease between two renewals; then the
// fence stops the first owner at its next write and the taker looks for the
// run before sending. No single wait inside a GitHub call is longer than the
// client's max_rate_limit_wait/backoff_max (15 s by default), well under the
// lease. Due times are wall times because they come from GitHub's timestamps;
// all waiting (the workers' sleep, backoff inside the client) is monotonic.
//
// Stop. Stop() ends every wait inside GitHub calls at once (through the
// StoppableSleeper given in the options, which also aborts a request in
// flight), saves each action's progress as pending and due at once, and
// releases claims not yet started, so the daemon stops in well under 10 s
// whatever GitHub does.
//
// Thread safety: RunDue/Execute may be called from several threads at once
// (each action is claimed by one); Start() runs `workers` threads, woken by
// Wake() or by the next due time (at most idle_wake), never by a fixed fast
// poll, plus the lease heartbeat, which wakes only while claims are held. Both are PeriodicWorkers
// waiting on the injected clock, so a test with a fake clock drives them by advancing it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "github/client.h"
#include "github/sleeper.h"
#include "handlers/policy_holder.h"
#include "policy/decide.h"
#include "store/action_store.h"

namespace relayq::handlers {

struct ExecutorOptions {
  // Who claims actions: "daemon:PID" or "cli:PID" (each claim gets its own
  // token beginning with this).
  std::string owner = "daemon";
  // How long a claim holds without renewal before another owner may take the
  // action over; renewed every lease/4 while the action is worked on. Also
  // the longest a running action of a killed process waits to be resumed.
  std::chrono::milliseconds lease{std::chrono::seconds(60)};
  // Backoff between attempts: base * 2^attempts, at most max, with jitter.
  std::chrono::milliseconds retry_base{std::chrono::seconds(2)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};
  // Attempts before an action that keeps failing is given up as failed.
  int max_attempts = 40;
  // How long runner status from the API is trusted (a failed listing is
  // never cached: the fallback is retried).
  std::chrono::milliseconds runner_cache_ttl{std::chrono::seconds(60)};
  // The longest the executor sleeps with nothing due: actions recorded by
  // another process (a `relayq dispatch` that could not reach GitHub) are
  // noticed within this. Actions this process records wake it at once
  // (Wake()), and it wakes at each due time, so this is only that safety
  // net: long, so an idle daemon stays asleep. While nothing is scheduled
  // one worker thread looks this often; the others wait for Wake().
  std::chrono::milliseconds idle_wake{std::chrono::minutes(5)};
  // Actions claimed at a time by one worker.
  size_t claim_batch = 8;
  // Worker threads started by Start(): one slow GitHub call does not hold up
  // the others, and many simultaneous deadlines are met together. Claims are
  // atomic in the store, so two workers never take the same action.
  int workers = 4;
  // Sends the notification of an action of kind notify once
  // (handlers/notifier.h Notifier::Deliver): Ok with what was sent, or the
  // failure (Unavailable is retried with backoff). Unset: such actions fail.
  std::function<Status(const store::ActionRecord&, std::string& what)> notify;
  // Backoff base for notifications (retry_base for the others).
  std::chrono::milliseconds notify_retry_base{std::chrono::seconds(2)};
  // When set, only actions of this kind are claimed (a daemon without
  // GitHub credentials carries out notifications alone).
  std::optional<store::ActionKind> only_kind;
  // When set, Stop() stops it, ending the GitHub client's waits and aborting
  // its request in flight; it must be the sleeper the client was created
  // with and outlive the executor.
  github::StoppableSleeper* github_sleeper = nullptr;
};

// What one Execute() came to.
enum class ExecOutcome {
  kDone,
  kAborted,  // given up: the job started, the run ended, nothing governs it
  kRefused,  // the policy refused it (max_fallbacks, input_too_large, ...)
  kFailed,
  kRetrying,     // due again later (backoff), or at once after a stop
  kRescheduled,  // the policy moved the deadline
  kLost,         // the claim was lost: another worker owns the action now
  kReleased,     // not started: the executor is stopping
};
// "done", "aborted", ... (logs, CLI).
std::string_view ExecOutcomeName(ExecOutcome o);

struct ActionOutcome {
  ExecOutcome status = ExecOutcome::kFailed;
  std::string message;
  std::optional<int64_t> run_id;      // the dispatched run, when known
  std::optional<int64_t> request_id;  // the request dispatched
  // Failed or retrying: what GitHub (or the store) answered, so a caller
  // can tell an unknown workflow (NotFound) from a refused one.
  Status error = Status::Ok();
};

class ActionExecutor {
 public:
  ActionExecutor(store::ActionStore& actions, github::GitHubClient& github,
                 const PolicyHolder& policy, Clock& clock, MetricsRegistry& metrics,
                 ExecutorOptions options);
  ~ActionExecutor();

  // Claims and carries out every action due at the clock's now. Returns how
  // many it handled.
  int RunDue();

  // Carries out one action held under `claim` (from ClaimDue or
  // CreateDispatch); every write is fenced on it.
  ActionOutcome Execute(const store::ActionRecord& action, const store::Claim& claim);

  // Extends the lease of every claim this executor holds; returns how many
  // were renewed. Called by the heartbeat and before each claim.
  int RenewHeld();

  // How long the lease heartbeat sleeps while no claim is held (at least
  // lease/4): it is woken when a claim is taken.
  static constexpr std::chrono::milliseconds kIdleHeartbeat{std::chrono::hours(1)};

  void Start();
  void Wake();
  // Idempotent; see the file comment.
  void Stop();

 private:
  struct Progress;  // the action's result JSON, defined in the .cc

  ActionOutcome ExecuteFallback(const store::ActionRecord& a, Progress& p);
  ActionOutcome ExecuteChain(const store::ActionRecord& a, Progress& p);
  ActionOutcome ExecuteDispatch(const store::ActionRecord& a, Progress& p);
  ActionOutcome ExecuteNotify(const store::ActionRecord& a, Progress& p);
  // Records `request` and moves the action to the dispatching stage.
  Status BeginDispatching(const store::ActionRecord& a, Progress& p,
                          const store::DispatchRequest& request);
  // The dispatching stage shared by all kinds: dispatch request `id` once.
  ActionOutcome DispatchStage(const store::ActionRecord& a, Progress& p, int64_t request_id);

  // Records request `r` dispatched (as `run_id` when known) and the action
  // done, together.
  ActionOutcome Dispatched(const store::ActionRecord& a, Progress& p,
                           const store::DispatchRequest& r, std::optional<int64_t> run_id,
                           std::string message);
  ActionOutcome Abort(const store::ActionRecord& a, Progress& p, std::string why);
  // As Abort, but recorded as refused by the policy.
  ActionOutcome Refuse(const store::ActionRecord& a, Progress& p, std::string why);
  // Ends the action in final state `status`, counted as `outcome`.
  ActionOutcome Give(const store::ActionRecord& a, Progress& p, std::string why,
                     store::ActionStatus status, ExecOutcome outcome);
  ActionOutcome Fail(const store::ActionRecord& a, Progress& p, std::string why);
  ActionOutcome Lost(const store::ActionRecord& a, const Status& why);
  // Retry later when GitHub may recover, else fail.
  ActionOutcome RetryOrFail(const store::ActionRecord& a, Progress& p, const Status& error);
  // A fenced store write failed: Lost on Conflict, else retry later.
  ActionOutcome StoreFailed(const store::ActionRecord& a, Progress& p, const Status& error);
  // True once Stop() was called.
  bool Stopping();
  // Counts an attempt in relayq_routing_actions_total.
  void Count(const store::ActionRecord& a, ExecOutcome outcome);

  // Runner status of `repo`, cached for runner_cache_ttl; the API's error
  // (not cached) when it cannot be listed.
  Result<policy::RunnerAvailability> Availability(const std::string& repo);

  int64_t NowMs() const { return ToUnixMillis(clock_.Now()); }

  // One pass of a worker thread: RunDue, then sets the pause until the next
  // due time (at most idle_wake).
  void WorkerPass(PeriodicWorker::Pass& pass);

  store::ActionStore& actions_;
  github::GitHubClient& github_;
  const PolicyHolder& policy_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  const ExecutorOptions options_;

  struct CachedRunners {
    MonoTime fetched_at{};
    policy::RunnerAvailability availability;
  };
  Mutex cache_mu_;
  std::map<std::string, CachedRunners> runners_ GUARDED_BY(cache_mu_);
  std::mt19937_64 jitter_ GUARDED_BY(cache_mu_) = std::mt19937_64(std::random_device{}());

  // Renews the held claims; unless `force`, only after a wall-clock step or
  // when a renewal is overdue. Returns how many were renewed.
  int Renew(bool force);
  // Records `claim` as held (renewed by the heartbeat until it is released),
  // waking the heartbeat when its pause would outlast lease/4.
  void Hold(const store::Claim& claim);
  // The heartbeat's pass: renews, then pauses lease/4 while something is
  // held, else IdleHeartbeat().
  void HeartbeatPass(PeriodicWorker::Pass& pass);
  std::chrono::milliseconds RenewEvery() const;     // lease/4, at least 1 ms
  std::chrono::milliseconds IdleHeartbeat() const;  // max(lease/4, kIdleHeartbeat)

  Mutex held_mu_;
  std::map<int64_t, std::string> held_ GUARDED_BY(held_mu_);  // action id -> claim token
  MonoTime last_renew_ GUARDED_BY(held_mu_) = {};
  // When the heartbeat's current pause ends.
  MonoTime heartbeat_due_ GUARDED_BY(held_mu_) = {};
  // The worker thread that looks every idle_wake while nothing is scheduled.
  std::thread::id idle_looker_ GUARDED_BY(held_mu_);
  int64_t last_renew_offset_ms_ GUARDED_BY(held_mu_) = 0;  // wall - monotonic then

  // The worker threads (RunDue; woken by Wake()) and the lease heartbeat
  // (every lease/4). Stop() stops both; Stopping() is the workers' stop.
  PeriodicWorker workers_;
  PeriodicWorker heartbeat_;
};

}  // namespace relayq::handlers
