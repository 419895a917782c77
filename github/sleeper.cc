#include "github/sleeper.h"

#include <utility>

namespace relayq::github {
namespace {

class RealSleeper final : public Sleeper {
 public:
  void SleepFor(std::chrono::milliseconds d) override {
    if (d.count() > 0) (void)Clock::Real().WaitFor(d, StopToken());
  }
};

}  // namespace

Sleeper& Sleeper::Real() {
  static auto* sleeper = new RealSleeper();  // never destroyed: usable during exit
  return *sleeper;
}

void StoppableSleeper::SleepFor(std::chrono::milliseconds d) {
  if (d.count() > 0) (void)clock_.WaitFor(d, stop_.token());
}

bool StoppableSleeper::Stopping() const { return stop_.stop_requested(); }

int StoppableSleeper::Subscribe(std::function<void()> fn) {
  return stop_.AddStopCallback(std::move(fn));
}

void StoppableSleeper::Unsubscribe(int id) { stop_.RemoveStopCallback(id); }

void StoppableSleeper::Stop() { stop_.Stop(); }

}  // namespace relayq::github
