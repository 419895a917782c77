// FakeClock: a Clock that moves only when a test says so.
//
// Starts at a fixed wall time (2026-01-01T00:00:00Z) unless told otherwise.
// Waits (WaitFor/WaitUntil) block until Advance() carries monotonic time to
// their deadline, or their token is stopped or woken; no wait ever sleeps.
// Advance() and SetWall() return only once every waiter has seen the new
// time, so after Advance() the waits it ended have returned (or are about to
// return) and the others are known to keep waiting. AwaitWaitsBegun() lets a
// test block until a worker thread has reached its wait.
// Thread-safe, so a test may advance it while a component under test reads it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace relayq::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() : wall_(std::chrono::seconds(1767225600)), mono_() {}

  WallTime Now() const override {
    MutexLock lock(mu_);
    return wall_;
  }
  MonoTime Monotonic() const override {
    MutexLock lock(mu_);
    return mono_;
  }

  WaitResult WaitUntil(MonoTime deadline, const StopToken& stop) override {
    std::list<Waiter>::iterator me;
    {
      MutexLock lock(mu_);
      me = waiters_.insert(waiters_.end(), Waiter{stop, deadline, epoch_, false});
      ++waits_begun_;
    }
    cv_.notify_all();
    const WaitResult result = stop.Block(
        [&] {
          MutexLock lock(mu_);
          me->seen_epoch = epoch_;
          me->expired = mono_ >= deadline;
          cv_.notify_all();
          return me->expired;
        },
        std::nullopt);
    {
      MutexLock lock(mu_);
      waiters_.erase(me);
    }
    cv_.notify_all();
    return result;
  }

  // Moves both clocks forward by `d`; the waits whose deadline is reached
  // end (kTimedOut).
  void Advance(std::chrono::milliseconds d) {
    Move([&]() REQUIRES(mu_) {
      wall_ += d;
      mono_ += d;
    });
  }

  // Sets the wall clock only (as an NTP step would); monotonic time is
  // unchanged, and so is every wait.
  void SetWall(WallTime t) {
    Move([&]() REQUIRES(mu_) { wall_ = t; });
  }

  // Waits begun since construction (ended ones included).
  uint64_t WaitsBegun() const {
    MutexLock lock(mu_);
    return waits_begun_;
  }
  // Waits in progress whose deadline has not been reached.
  size_t Waiting() const {
    MutexLock lock(mu_);
    size_t n = 0;
    for (const Waiter& w : waiters_) n += w.expired ? 0 : 1;
    return n;
  }

  // Blocks until `n` waits have begun since construction; false after 30 s
  // of real time (a component that never waits: the test fails, not hangs).
  bool AwaitWaitsBegun(uint64_t n) {
    MutexLock lock(mu_);
    return cv_.wait_for(lock.native(), std::chrono::seconds(30),
                        [&]() REQUIRES(mu_) { return waits_begun_ >= n; });
  }

 private:
  struct Waiter {
    StopToken stop;
    MonoTime deadline;
    uint64_t seen_epoch;  // the last epoch_ this waiter checked its deadline at
    bool expired;         // its deadline was reached when it last checked
  };

  // Changes the time with `change` (run under mu_), then returns once every
  // waiter has checked its deadline against the new time.
  template <typename F>
  void Move(F change) {
    std::vector<StopToken> notify;
    uint64_t epoch;
    {
      MutexLock lock(mu_);
      change();
      epoch = ++epoch_;
      for (const Waiter& w : waiters_) notify.push_back(w.stop);
    }
    for (const StopToken& t : notify) t.Notify();
    MutexLock lock(mu_);
    cv_.wait(lock.native(), [&]() REQUIRES(mu_) {
      for (const Waiter& w : waiters_) {
        if (w.seen_epoch < epoch && !w.expired) return false;
      }
      return true;
    });
  }

  mutable Mutex mu_;
  std::condition_variable cv_;  // signalled on every change to waiters_
  WallTime wall_ GUARDED_BY(mu_);
  MonoTime mono_ GUARDED_BY(mu_);
  uint64_t epoch_ GUARDED_BY(mu_) = 0;  // bumped by every Move
  uint64_t waits_begun_ GUARDED_BY(mu_) = 0;
  std::list<Waiter> waiters_ GUARDED_BY(mu_);
};

}  // namespace relayq::testing
