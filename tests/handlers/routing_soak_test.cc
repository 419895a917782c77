// The routing soak at CI size: a few hundred seeded fault-injection
// scenarios (see tests/fakes/routing_soak.h); a failing scenario names its
// seed, which bench/routing_soak --seed replays. RELAYQ_SOAK_SCENARIOS and
// RELAYQ_SOAK_SEED override the count and the first seed.
#include "tests/fakes/routing_soak.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

namespace relayq::testing {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(RoutingSoakTest, EveryFallbackAndChainHappensExactlyOnceUnderFaults) {
  const uint64_t first = EnvOr("RELAYQ_SOAK_SEED", 1);
  const uint64_t n = EnvOr("RELAYQ_SOAK_SCENARIOS", 300);
  SoakResult total;
  int failed = 0;
  for (uint64_t seed = first; seed < first + n; ++seed) {
    SoakResult r = RunRoutingSoakScenario(seed);
    if (!r.ok) {
      ++failed;
      ADD_FAILURE() << "seed " << seed << ": " << r.failure;
    }
    total.Add(r);
  }
  std::cout << "routing soak: seeds " << first << ".." << first + n - 1 << ", " << failed
            << " failed; cancelled " << total.fallbacks_cancelled << ", replacements "
            << total.replacements << ", aborted (started first) " << total.aborted_started
            << ", started between check and cancel " << total.started_between
            << ", successful runs " << total.successful_runs << ", chain runs " << total.chain_runs
            << ", restarts " << total.restarts << ", clock steps " << total.clock_steps
            << ", GitHub calls " << total.github_calls << "\nfaults:";
  for (const auto& [k, v] : total.faults) std::cout << " " << k << "=" << v << ";";
  std::cout << std::endl;
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace relayq::testing
