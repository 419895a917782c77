#include "github/sleeper.h"

#include <thread>

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

}  // namespace relayq::github
