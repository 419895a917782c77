#include "github/sleeper.h"

#include <thread>
#include <vector>

namespace relayq::github {
namespace {

class RealSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds d) override {
    if (d.count() > 0) std::this_thread::sleep_for(d);
  }
};

}  // namespace

Sleeper& Sleeper::Real() {
  static auto* sleeper = new RealSleeper();  // never destroyed: usable during exit
  return *sleeper;
}

void StoppableSleeper::SleepFor(std::chrono::milliseconds d) {
  if (d.count() <= 0) return;
  std::unique_lock lock(mu_);
  // wait_for measures on the steady clock: a wall-clock step neither
  // lengthens nor shortens the wait.
  cv_.wait_for(lock, d, [this] { return stopped_; });
}

bool StoppableSleeper::Stopping() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

int StoppableSleeper::Subscribe(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  const int id = next_id_++;
  listeners_[id] = std::move(fn);
  return id;
}

void StoppableSleeper::Unsubscribe(int id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

void StoppableSleeper::Stop() {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [id, fn] : listeners_) run.push_back(fn);
  }
  cv_.notify_all();
  // Run under no lock: a listener may take the client's locks. Unsubscribe
  // during Stop is not supported (the daemon stops before destroying clients).
  for (auto& fn : run) fn();
}

}  // namespace relayq::github
