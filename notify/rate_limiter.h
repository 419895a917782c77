// RateLimiter: at most `max` notifications per event kind in any window of
// `per` (a sliding window on the monotonic clock), and a count of what was
// held back, so a flood of one kind (a hundred stuck jobs, a signature
// attack) becomes a few notifications and one summary instead of a hundred
// pages, and nothing is lost silently.
//
// The state is in memory: a restart starts with an empty window (at most
// `max` more notifications of a kind right after a restart). Thread safety:
// thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>

#include "common/clock.h"
#include "common/mutex.h"
#include "notify/notification.h"

namespace relayq::notify {

struct RateLimit {
  int max = 10;  // notifications per kind per window; 0: none at all
  std::chrono::milliseconds per{std::chrono::hours(1)};
};

class RateLimiter {
 public:
  RateLimiter(RateLimit limit, const Clock& clock) : limit_(limit), clock_(clock) {}

  // True, and the notification counts against the window, when one more of
  // `kind` may be sent now; false when the window is full.
  bool Allow(EventKind kind);
  // Counts one notification of `kind` held back (after Allow said no); the
  // caller counts each event once, however often it asks again.
  void Hold(EventKind kind);

  // What was held back of one kind since `since_ms` (the wall time of the
  // first one held back, Unix ms).
  struct Held {
    int count = 0;
    int64_t since_ms = 0;
  };
  // When some of `kind` were held back and the window has room again: takes
  // a slot for the summary, resets the count and returns what was held.
  // Otherwise nullopt (nothing held, or still no room).
  std::optional<Held> TakeSummary(EventKind kind);

  // Held back so far and not yet summarised (for tests and metrics).
  int held(EventKind kind) const;

 private:
  // Drops the sends that left the window. REQUIRES mu_.
  void Expire(std::deque<MonoTime>& sent, MonoTime now) const;

  const RateLimit limit_;
  const Clock& clock_;
  mutable Mutex mu_;
  std::map<EventKind, std::deque<MonoTime>> sent_ GUARDED_BY(mu_);  // within the window
  std::map<EventKind, Held> held_ GUARDED_BY(mu_);
};

}  // namespace relayq::notify
