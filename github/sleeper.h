// Sleeper: the one way the GitHub client waits (backoff, rate limits, pacing).
//
// Production code uses Sleeper::Real(); tests inject a fake that records the
// requested waits and advances a FakeClock, so no test sleeps for real.
// Thread safety: implementations must be thread-safe.
#pragma once

#include <chrono>

namespace relayq::github {

class Sleeper {
 public:
  virtual ~Sleeper() = default;

  // Blocks the calling thread for `d` (returns at once for d <= 0).
  virtual void SleepFor(std::chrono::milliseconds d) = 0;

  // The process-wide real sleeper; never null, never destroyed.
  static Sleeper& Real();
};

}  // namespace relayq::github
