// Clock: the only way relayq code reads time.
//
// Wall time (Now) stamps records; monotonic time (Monotonic) measures
// timeouts and latencies, immune to the wall clock being set. Production code
// uses Clock::Real(); tests use tests/fakes/fake_clock.h and advance time by
// hand, so nothing waits on a real timer. Nothing else in relayq calls
// std::chrono::*::now(). Thread safety: implementations are thread-safe.
#pragma once

#include <chrono>

namespace relayq {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;

  virtual WallTime Now() const = 0;
  virtual MonoTime Monotonic() const = 0;

  // The process-wide real clock; never null, never destroyed.
  static Clock& Real();
};

// Milliseconds since the Unix epoch, the unit relayq stores times in.
inline int64_t ToUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline WallTime FromUnixMillis(int64_t ms) {
  return WallTime(std::chrono::milliseconds(ms));
}

}  // namespace relayq
