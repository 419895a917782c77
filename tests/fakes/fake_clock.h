// FakeClock: a Clock that moves only when a test says so.
//
// Starts at a fixed wall time (2026-01-01T00:00:00Z) unless told otherwise.
// Thread-safe, so a test may advance it while a component under test reads it.
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.h"

namespace relayq::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() : wall_(std::chrono::seconds(1767225600)), mono_() {}

  WallTime Now() const override {
    std::lock_guard lock(mu_);
    return wall_;
  }
  MonoTime Monotonic() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }

  // Moves both clocks forward by `d`.
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    wall_ += d;
    mono_ += d;
  }

  // Sets the wall clock only (as an NTP step would); monotonic time is unchanged.
  void SetWall(WallTime t) {
    std::lock_guard lock(mu_);
    wall_ = t;
  }

 private:
  mutable std::mutex mu_;
  WallTime wall_;  // guarded by mu_
  MonoTime mono_;  // guarded by mu_
};

}  // namespace relayq::testing
