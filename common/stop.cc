#include "common/stop.h"

#include <utility>
#include <vector>

namespace relayq {

StopToken::StopToken() : state_(std::make_shared<internal::StopState>()) {}

StopToken::StopToken(std::shared_ptr<internal::StopState> state, uint64_t wakes_seen)
    : state_(std::move(state)), wakes_seen_(wakes_seen) {}

bool StopToken::stop_requested() const {
  MutexLock lock(state_->mu);
  return state_->stopped;
}

bool StopToken::woken() const {
  MutexLock lock(state_->mu);
  return state_->wakes != wakes_seen_;
}

WaitResult StopToken::Block(const std::function<bool()>& expired,
                            std::optional<std::chrono::steady_clock::time_point> deadline) const {
  internal::StopState& s = *state_;
  MutexLock lock(s.mu);
  auto done = [&]() REQUIRES(s.mu) { return s.stopped || s.wakes != wakes_seen_ || expired(); };
  if (deadline) {
    // A steady-clock deadline: a wall-clock step neither lengthens nor
    // shortens the wait.
    s.cv.wait_until(lock.native(), *deadline, done);
  } else {
    s.cv.wait(lock.native(), done);
  }
  if (s.stopped) return WaitResult::kStopped;
  if (s.wakes != wakes_seen_) return WaitResult::kWoken;
  return WaitResult::kTimedOut;
}

void StopToken::Notify() const {
  // Taking the lock orders this call after a waiter's check of `expired`,
  // so a waiter about to block cannot miss the notification.
  { MutexLock lock(state_->mu); }
  state_->cv.notify_all();
}

StopSource::StopSource() : state_(std::make_shared<internal::StopState>()) {}

StopToken StopSource::token() const {
  MutexLock lock(state_->mu);
  return StopToken(state_, state_->wakes);
}

void StopSource::Stop() {
  std::vector<std::function<void()>> run;
  {
    MutexLock lock(state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
    for (auto& [id, fn] : state_->callbacks) run.push_back(fn);
  }
  state_->cv.notify_all();
  // Under no lock: a callback may take its owner's locks.
  for (auto& fn : run) fn();
}

bool StopSource::stop_requested() const {
  MutexLock lock(state_->mu);
  return state_->stopped;
}

void StopSource::Wake() {
  {
    MutexLock lock(state_->mu);
    ++state_->wakes;
  }
  state_->cv.notify_all();
}

int StopSource::AddStopCallback(std::function<void()> fn) {
  MutexLock lock(state_->mu);
  const int id = state_->next_callback++;
  state_->callbacks[id] = std::move(fn);
  return id;
}

void StopSource::RemoveStopCallback(int id) {
  MutexLock lock(state_->mu);
  state_->callbacks.erase(id);
}

}  // namespace relayq
