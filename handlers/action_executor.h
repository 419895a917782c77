// ActionExecutor: carries out recorded routing actions against GitHub.
//
// Actions are recorded by the Router (fallbacks, chains) and by `relayq
// dispatch`; the executor claims those that are due, performs them in
// stages, and records each stage before the next, so a restart resumes where
// it stopped and nothing is done twice:
//   fallback  check the job is still queued (store and API) -> cancel its run
//             -> check it did not start meanwhile -> record a new request ->
//             dispatch the fallback workflow with the original inputs
//   chain     record a new request -> dispatch
//   dispatch  dispatch the request `relayq dispatch` recorded
// A job that starts before its fallback is carried out (an in_progress
// delivery, a runner on the API's job, a 409 from the cancel) aborts the
// fallback, recorded as "started on RUNNER". Failures GitHub may recover
// from (network, 5xx, rate limits) are retried with exponential backoff and
// jitter; failures it will not (401, 403, 404, 422) fail the action with the
// reason. Every dispatch carries the `relayq_id` input, and its run is tied
// back to the request by id (return_run_details) or by [relayq:ID] in the
// run's title.
//
// Thread safety: RunDue/Execute may be called from several threads at once
// (each action is claimed by one); Start() runs `workers` threads, woken by
// Wake() or by the next due time, never by a fixed fast poll.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "github/client.h"
#include "handlers/policy_holder.h"
#include "policy/decide.h"
#include "store/action_store.h"

namespace relayq::handlers {

struct ExecutorOptions {
  // Who claims actions: "daemon:PID" or "cli:PID".
  std::string owner = "daemon";
  // How long a claim holds before another owner may take the action over.
  std::chrono::milliseconds lease{std::chrono::minutes(10)};
  // Backoff between attempts: base * 2^attempts, at most max, with jitter.
  std::chrono::milliseconds retry_base{std::chrono::seconds(5)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};
  // Attempts before an action that keeps failing is given up as failed.
  int max_attempts = 40;
  // How long runner status from the API is trusted.
  std::chrono::milliseconds runner_cache_ttl{std::chrono::seconds(60)};
  // The longest the executor sleeps with nothing due: actions recorded by
  // another process (`relayq dispatch`) are noticed within this.
  std::chrono::milliseconds idle_wake{std::chrono::seconds(30)};
  // Actions claimed at a time by one worker.
  size_t claim_batch = 8;
  // Worker threads started by Start(): one slow GitHub call does not hold up
  // the others, and many simultaneous deadlines are met together. Claims are
  // atomic in the store, so two workers never take the same action.
  int workers = 4;
};

struct ActionOutcome {
  std::string status;  // done | aborted | failed | retrying | rescheduled
  std::string message;
  std::optional<int64_t> run_id;      // the dispatched run, when known
  std::optional<int64_t> request_id;  // the request dispatched
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

  // Carries out one action already claimed by this executor's owner.
  ActionOutcome Execute(const store::ActionRecord& action);

  void Start();
  void Wake();
  void Stop();

 private:
  struct Progress;  // the action's result JSON, defined in the .cc

  ActionOutcome ExecuteFallback(const store::ActionRecord& a, Progress& p);
  ActionOutcome ExecuteChain(const store::ActionRecord& a, Progress& p);
  ActionOutcome ExecuteDispatch(const store::ActionRecord& a, Progress& p);
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
  ActionOutcome Fail(const store::ActionRecord& a, Progress& p, std::string why);
  // Retry later when GitHub may recover, else fail.
  ActionOutcome RetryOrFail(const store::ActionRecord& a, Progress& p, const Status& error);
  void Count(const store::ActionRecord& a, const std::string& outcome);

  // Runner status of `repo`, cached for runner_cache_ttl; nullopt when unknown.
  std::optional<policy::RunnerAvailability> Availability(const std::string& repo);

  int64_t NowMs() const { return ToUnixMillis(clock_.Now()); }

  void Loop();

  store::ActionStore& actions_;
  github::GitHubClient& github_;
  const PolicyHolder& policy_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  const ExecutorOptions options_;

  struct CachedRunners {
    int64_t fetched_at = 0;
    bool ok = false;
    policy::RunnerAvailability availability;
  };
  std::mutex cache_mu_;
  std::map<std::string, CachedRunners> runners_;    // guarded by cache_mu_
  std::mt19937_64 jitter_{std::random_device{}()};  // guarded by cache_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wake_seq_ = 0;  // guarded by mu_; bumped by Wake()
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace relayq::handlers
