// Sleeper: the one way the GitHub client waits (backoff, rate limits, pacing).
//
// Production code uses Sleeper::Real() or, in the daemon, a StoppableSleeper
// whose Stop() ends every wait at once and tells the client to abandon its
// requests, so SIGTERM is never held up by GitHub. Tests inject a fake that
// records the requested waits and advances a FakeClock, so no test sleeps for
// real. Both real sleepers are thin adapters over the common wait
// (Clock::WaitFor with a StopToken, common/clock.h).
// Thread safety: implementations must be thread-safe.
#pragma once

#include <chrono>
#include <functional>

#include "common/clock.h"
#include "common/stop.h"

namespace relayq::github {

class Sleeper {
 public:
  virtual ~Sleeper() = default;

  // Blocks the calling thread for `d` (returns at once for d <= 0), or less
  // when the sleeper is stopped.
  virtual void SleepFor(std::chrono::milliseconds d) = 0;

  // True once the process is stopping: callers send no new request and give
  // up waiting. Never true for the plain sleepers.
  virtual bool Stopping() const { return false; }

  // Registers `fn` to run (on the stopping thread) when the sleeper stops, so
  // a client can abort a request in flight; returns an id for Unsubscribe.
  // Plain sleepers never stop, so they keep nothing.
  virtual int Subscribe(std::function<void()> /*fn*/) { return 0; }
  virtual void Unsubscribe(int /*id*/) {}

  // The process-wide real sleeper; never null, never destroyed, never stops.
  static Sleeper& Real();
};

// A sleeper that waits on `clock` (the real one unless given) and that a stop
// request cuts short, for good.
class StoppableSleeper final : public Sleeper {
 public:
  explicit StoppableSleeper(Clock& clock = Clock::Real()) : clock_(clock) {}

  void SleepFor(std::chrono::milliseconds d) override;
  bool Stopping() const override;
  int Subscribe(std::function<void()> fn) override;
  void Unsubscribe(int id) override;

  // Ends every wait now and later, then runs the subscribers once (on the
  // calling thread; Unsubscribe during Stop is not supported: the daemon
  // stops before destroying clients).
  void Stop();

 private:
  Clock& clock_;
  StopSource stop_;
};

}  // namespace relayq::github
