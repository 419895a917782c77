// Routing soak: seeded fault-injection scenarios over the whole routing path
// (RoutingHarness: real store, router, executor and client; fake GitHub; fake
// clock), checking the exactly-once invariants after each one.
//
// One scenario queues a governed job, lets its fallback fall due and drives
// the executor until nothing is left to do, while the fake GitHub answers at
// random with timeouts after doing the work, timeouts before it, 5xx
// (before/after the work), 429/403 with Retry-After; a job starts between
// the check and the cancel (or before the check); the wall clock steps
// forward or back; and the "process" is killed at random moments (its
// GitHub calls stop arriving and its store writes are lost, modelled by a
// trigger that swallows the writes of the dead executor's claims), then
// restarted as a new executor on the same store. Each replacement run
// succeeds, which must chain exactly one summarize run.
//
// Invariants checked: exactly one replacement run when the original run was
// cancelled and none otherwise; exactly one chain run per successful
// replacement run; no action left running (without a live owner) or failed.
// Thread safety: scenarios are independent; run them from one thread each.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace relayq::testing {

struct SoakResult {
  bool ok = true;
  std::string failure;  // the invariant that broke, with the counts

  int fallbacks_cancelled = 0;  // the original run ended cancelled by relayq
  int replacements = 0;         // fallback runs dispatched
  int aborted_started = 0;      // fallbacks aborted because the job started first
  int started_between = 0;      // jobs started between the check and the cancel
  int successful_runs = 0;      // replacement runs that succeeded
  int chain_runs = 0;           // summarize runs dispatched
  int restarts = 0;             // executor incarnations killed and replaced
  int clock_steps = 0;
  int github_calls = 0;
  std::map<std::string, int> faults;  // injected fault kind -> count

  // Adds `r`'s counts to these (ok and failure are left alone).
  void Add(const SoakResult& r);
};

// Runs the scenario of `seed` (deterministic choices; timing may vary).
SoakResult RunRoutingSoakScenario(uint64_t seed);

}  // namespace relayq::testing
