// Clock: the only way relayq code reads time, and the only way it waits.
//
// Wall time (Now) stamps records; monotonic time (Monotonic) measures
// timeouts and latencies, immune to the wall clock being set. Every wait
// (WaitFor, WaitUntil) runs on monotonic time and ends early when its
// StopToken is stopped or woken (common/stop.h). Production code uses
// Clock::Real(); tests use tests/fakes/fake_clock.h and advance time by hand,
// which ends the waits whose deadline it passes, so nothing waits on a real
// timer. Nothing else in relayq calls std::chrono::*::now() or sleeps.
// Thread safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/stop.h"

namespace relayq {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;

  virtual WallTime Now() const = 0;
  virtual MonoTime Monotonic() const = 0;

  // Blocks until Monotonic() reaches `deadline` (kTimedOut; at once when it
  // has), or `stop` is stopped (kStopped) or woken (kWoken), whichever comes
  // first. A wall-clock step neither lengthens nor shortens the wait.
  virtual WaitResult WaitUntil(MonoTime deadline, const StopToken& stop) = 0;

  // WaitUntil(Monotonic() + d, stop); returns kTimedOut at once for d <= 0
  // unless `stop` is already stopped or woken.
  WaitResult WaitFor(std::chrono::milliseconds d, const StopToken& stop) {
    return WaitUntil(Monotonic() + d, stop);
  }

  // The process-wide real clock; never null, never destroyed.
  static Clock& Real();
};

// Milliseconds since the Unix epoch, the unit relayq stores times in.
inline int64_t ToUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline WallTime FromUnixMillis(int64_t ms) { return WallTime(std::chrono::milliseconds(ms)); }

}  // namespace relayq
