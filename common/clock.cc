#include "common/clock.h"

namespace relayq {
namespace {

class RealClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }
  WaitResult WaitUntil(MonoTime deadline, const StopToken& stop) override {
    return stop.Block([] { return false; }, deadline);
  }
};

}  // namespace

Clock& Clock::Real() {
  static RealClock* clock = new RealClock();  // never destroyed: usable during exit
  return *clock;
}

}  // namespace relayq
