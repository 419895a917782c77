// routing_soak: the routing fault-injection soak at bench size (default
// 10,000 seeded scenarios; see tests/fakes/routing_soak.h), printing the
// counts and every failing seed.
//
//   routing_soak [--scenarios N] [--seed FIRST] [--threads T]
//
// Exit status 0 when every invariant held, 1 otherwise.
#include "tests/fakes/routing_soak.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  uint64_t scenarios = 10000, first = 1;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--scenarios") {
      scenarios = std::strtoull(next(), nullptr, 10);
    } else if (a == "--seed") {
      first = std::strtoull(next(), nullptr, 10);
    } else if (a == "--threads") {
      threads = std::max(1, std::atoi(next()));
    } else {
      std::cerr << "usage: routing_soak [--scenarios N] [--seed FIRST] [--threads T]\n";
      return a == "--help" ? 0 : 2;
    }
  }
  std::atomic<uint64_t> next_seed{first};
  std::mutex mu;
  relayq::testing::SoakResult total;
  std::vector<std::string> failures;
  auto work = [&] {
    for (;;) {
      const uint64_t seed = next_seed++;
      if (seed >= first + scenarios) return;
      relayq::testing::SoakResult r = relayq::testing::RunRoutingSoakScenario(seed);
      std::lock_guard lock(mu);
      if (!r.ok) failures.push_back("seed " + std::to_string(seed) + ": " + r.failure);
      total.Add(r);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  std::cout << "scenarios                         " << scenarios << " (seeds " << first << ".."
            << first + scenarios - 1 << ")\n"
            << "invariant failures                " << failures.size() << "\n"
            << "fallbacks that cancelled          " << total.fallbacks_cancelled << "\n"
            << "replacement runs                  " << total.replacements << "\n"
            << "aborted (job started first)       " << total.aborted_started << "\n"
            << "started between check and cancel  " << total.started_between << "\n"
            << "successful replacement runs       " << total.successful_runs << "\n"
            << "chain runs                        " << total.chain_runs << "\n"
            << "restarts (kills)                  " << total.restarts << "\n"
            << "wall-clock steps                  " << total.clock_steps << "\n"
            << "GitHub calls                      " << total.github_calls << "\n"
            << "faults injected:\n";
  for (const auto& [k, v] : total.faults) std::cout << "  " << k << ": " << v << "\n";
  for (const auto& f : failures) std::cout << "FAILED " << f << "\n";
  return failures.empty() ? 0 : 1;
}
