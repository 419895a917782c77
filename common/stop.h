// StopSource and StopToken: how relayq ends and shortens waits.
//
// A StopSource is owned by whoever may stop a piece of work (a background
// worker, the daemon on SIGTERM); the waits use its tokens (Clock::WaitFor,
// Clock::WaitUntil). Stop() ends every wait on its tokens at once and for
// good and then runs the registered stop callbacks (a GitHub client aborting
// its request in flight). Wake() ends the waits of the tokens taken before
// it, once: a loop takes a fresh token before each pass, so a Wake() that
// arrives while it works makes its next wait return at once and none is lost.
//
// A default-constructed StopToken belongs to no source: it is never stopped
// or woken. Thread safety: every method of both classes is thread-safe; a
// token stays valid after its source is destroyed (it is then never woken).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace relayq {

// Why a wait ended.
enum class WaitResult {
  kTimedOut,  // the deadline was reached
  kStopped,   // the token's source was stopped (also when the deadline passed too)
  kWoken,     // the token's source was woken after the token was taken
};

namespace internal {
struct StopState;
}  // namespace internal

class StopToken {
 public:
  // A token of no source: never stopped, never woken.
  StopToken();

  // True once the source was stopped.
  bool stop_requested() const;
  // True once the source was woken (Wake()) after this token was taken.
  bool woken() const;

  // For Clock implementations. Blocks until the source is stopped or woken,
  // `expired()` returns true, or (when given) the steady-clock time
  // `deadline` passes; says which, stop first. `expired` runs under the
  // token's lock and is re-evaluated whenever Notify() is called, so it must
  // not block on anything that calls Notify.
  WaitResult Block(const std::function<bool()>& expired,
                   std::optional<std::chrono::steady_clock::time_point> deadline) const;
  // For Clock implementations: makes the waiters blocked on this token's
  // source re-evaluate their `expired` (a fake clock that moved).
  void Notify() const;

 private:
  friend class StopSource;
  StopToken(std::shared_ptr<internal::StopState> state, uint64_t wakes_seen);

  std::shared_ptr<internal::StopState> state_;  // never null
  uint64_t wakes_seen_ = 0;  // the source's Wake() count when the token was taken
};

class StopSource {
 public:
  StopSource();
  StopSource(const StopSource&) = delete;
  StopSource& operator=(const StopSource&) = delete;

  // A token for one wait, or for a pass of a loop (see the file comment).
  StopToken token() const;

  // Ends every wait on this source's tokens, now and later (kStopped), then
  // runs the stop callbacks once, on the calling thread, under no lock.
  // Idempotent: later calls do nothing.
  void Stop();
  bool stop_requested() const;

  // Ends the current waits of tokens taken before this call (kWoken). Does
  // nothing to tokens taken afterwards.
  void Wake();

  // Registers `fn` to run on the stopping thread when Stop() is first
  // called; returns an id for RemoveStopCallback. A callback registered
  // after Stop() is never run. Removing one while Stop() runs the callbacks
  // is not supported.
  int AddStopCallback(std::function<void()> fn);
  void RemoveStopCallback(int id);

 private:
  std::shared_ptr<internal::StopState> state_;  // never null
};

namespace internal {

// Shared by a source and its tokens.
struct StopState {
  Mutex mu;
  std::condition_variable cv;
  bool stopped GUARDED_BY(mu) = false;
  uint64_t wakes GUARDED_BY(mu) = 0;
  int next_callback GUARDED_BY(mu) = 1;
  std::map<int, std::function<void()>> callbacks GUARDED_BY(mu);
};

}  // namespace internal
}  // namespace relayq
