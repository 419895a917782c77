// FakeSleeper: a github::Sleeper that records every requested wait and
// advances a FakeClock by it instead of sleeping.
//
// Header-only; a target using it must link relayq_github (for sleeper.h).
// Thread-safe.
#pragma once

#include <chrono>
#include <vector>

#include "common/mutex.h"
#include "github/sleeper.h"
#include "tests/fakes/fake_clock.h"

namespace relayq::testing {

class FakeSleeper final : public github::Sleeper {
 public:
  // `clock` (may be null: then time does not move) must outlive the sleeper.
  explicit FakeSleeper(FakeClock* clock) : clock_(clock) {}

  void SleepFor(std::chrono::milliseconds d) override {
    {
      MutexLock lock(mu_);
      waits_.push_back(d);
    }
    if (clock_ != nullptr && d.count() > 0) clock_->Advance(d);
  }

  // Every wait asked for so far, in order (zero waits included).
  std::vector<std::chrono::milliseconds> waits() const {
    MutexLock lock(mu_);
    return waits_;
  }
  // The waits longer than zero, in order.
  std::vector<std::chrono::milliseconds> nonzero_waits() const {
    MutexLock lock(mu_);
    std::vector<std::chrono::milliseconds> out;
    for (auto w : waits_) {
      if (w.count() > 0) out.push_back(w);
    }
    return out;
  }
  void Clear() {
    MutexLock lock(mu_);
    waits_.clear();
  }

 private:
  FakeClock* const clock_;
  mutable Mutex mu_;
  std::vector<std::chrono::milliseconds> waits_ GUARDED_BY(mu_);
};

}  // namespace relayq::testing
