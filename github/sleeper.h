// Sleeper: the one way the GitHub client waits (backoff, rate limits, pacing).
//
// Production code uses Sleeper::Real() or, in the daemon, a StoppableSleeper
// whose Stop() ends every wait at once and tells the client to abandon its
// requests, so SIGTERM is never held up by GitHub. Tests inject a fake that
// records the requested waits and advances a FakeClock, so no test sleeps for
// real. Thread safety: implementations must be thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

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

// A real sleeper that a stop request cuts short, for good.
class StoppableSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds d) override;
  bool Stopping() const override;
  int Subscribe(std::function<void()> fn) override;
  void Unsubscribe(int id) override;

  // Ends every wait now and later, then runs the subscribers once.
  void Stop();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                             // guarded by mu_
  int next_id_ = 1;                                  // guarded by mu_
  std::map<int, std::function<void()>> listeners_;  // guarded by mu_
};

}  // namespace relayq::github
