#include "notify/rate_limiter.h"

namespace relayq::notify {

void RateLimiter::Expire(std::deque<MonoTime>& sent, MonoTime now) const {
  while (!sent.empty() && now - sent.front() >= limit_.per) sent.pop_front();
}

bool RateLimiter::Allow(EventKind kind) {
  const MonoTime now = clock_.Monotonic();
  MutexLock lock(mu_);
  std::deque<MonoTime>& sent = sent_[kind];
  Expire(sent, now);
  if (static_cast<int>(sent.size()) < limit_.max) {
    sent.push_back(now);
    return true;
  }
  return false;
}

void RateLimiter::Hold(EventKind kind) {
  const int64_t now = ToUnixMillis(clock_.Now());
  MutexLock lock(mu_);
  Held& h = held_[kind];
  if (h.count == 0) h.since_ms = now;
  ++h.count;
}

std::optional<RateLimiter::Held> RateLimiter::TakeSummary(EventKind kind) {
  const MonoTime now = clock_.Monotonic();
  MutexLock lock(mu_);
  auto it = held_.find(kind);
  if (it == held_.end() || it->second.count == 0) return std::nullopt;
  std::deque<MonoTime>& sent = sent_[kind];
  Expire(sent, now);
  if (static_cast<int>(sent.size()) >= limit_.max) return std::nullopt;
  sent.push_back(now);
  Held out = it->second;
  held_.erase(it);
  return out;
}

int RateLimiter::held(EventKind kind) const {
  MutexLock lock(mu_);
  auto it = held_.find(kind);
  return it == held_.end() ? 0 : it->second.count;
}

}  // namespace relayq::notify
