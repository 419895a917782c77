// Router: turns recorded lifecycle changes into routing actions.
//
// It is the store's RoutingHook: as each delivery is committed it decides,
// with the policy in force, and returns the actions to record in the same
// transaction:
//   - a queued job governed by a route gets a `fallback:RUN:ATTEMPT` action
//     scheduled at its deadline (queued_at + queue_timeout; already past for
//     a job whose webhook came late, so due at once), or, when the run is
//     linked to its relayq request, an aborted one saying why the route can
//     never act for it (e.g. max_fallbacks). Lateness and needs_* are never
//     judged here but at the deadline, with runner status, by the executor;
//     a refusal that hinges on a request not linked yet is judged there too.
//     GitHub cancels runs, not jobs: a run attempt gets one fallback, due at
//     the earliest deadline of its governed queued jobs (the store keeps the
//     earlier of two scheduled fallbacks with one key);
//   - a completed run gets one `chain:NAME:RUN:ATTEMPT` action per chain that
//     follows it.
// A job is only judged once its run is recorded (the route may match on the
// run's workflow file), whichever of the two deliveries arrives first. The
// idempotency keys make redeliveries and re-evaluations harmless. Pure
// decisions, no I/O; thread-safe (the policy is read through PolicyHolder).
#pragma once

#include "handlers/policy_holder.h"
#include "store/store.h"

namespace relayq::handlers {

class Router final : public store::RoutingHook {
 public:
  explicit Router(const PolicyHolder& policy) : policy_(policy) {}

  std::vector<store::NewAction> OnLifecycleChange(const store::LifecycleChange& change,
                                                  store::TxnReader& reader) override;

 private:
  void JudgeQueuedJob(const policy::Policy& policy, const store::JobState& job,
                      const store::RunState& run, store::TxnReader& reader, int64_t now,
                      std::vector<store::NewAction>& out);

  const PolicyHolder& policy_;
};

}  // namespace relayq::handlers
