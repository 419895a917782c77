// Tests of the GitHub client's sleepers as adapters over the common wait,
// driven by the fake clock: no test sleeps.
#include "github/sleeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "tests/fakes/fake_clock.h"

namespace relayq::github {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(StoppableSleeperTest, SleepsUntilTheClockReachesTheEnd) {
  testing::FakeClock clock;
  StoppableSleeper sleeper(clock);
  auto sleeping = std::async(std::launch::async, [&] { sleeper.SleepFor(seconds(5)); });
  ASSERT_TRUE(clock.AwaitWaitsBegun(1));
  clock.Advance(seconds(4));
  EXPECT_EQ(clock.Waiting(), 1u);
  clock.Advance(seconds(1));
  ASSERT_EQ(sleeping.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_FALSE(sleeper.Stopping());
}

TEST(StoppableSleeperTest, StopEndsTheSleepForGoodAndRunsSubscribersOnce) {
  testing::FakeClock clock;
  StoppableSleeper sleeper(clock);
  int aborted = 0;
  int unsubscribed = 0;
  sleeper.Subscribe([&] { ++aborted; });
  sleeper.Unsubscribe(sleeper.Subscribe([&] { ++unsubscribed; }));
  auto sleeping = std::async(std::launch::async, [&] { sleeper.SleepFor(hours(1)); });
  ASSERT_TRUE(clock.AwaitWaitsBegun(1));
  sleeper.Stop();
  ASSERT_EQ(sleeping.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_TRUE(sleeper.Stopping());
  sleeper.SleepFor(hours(1));  // returns at once once stopped
  sleeper.Stop();
  EXPECT_EQ(aborted, 1);
  EXPECT_EQ(unsubscribed, 0);
}

TEST(StoppableSleeperTest, ZeroSleepDoesNotWait) {
  testing::FakeClock clock;
  StoppableSleeper sleeper(clock);
  sleeper.SleepFor(milliseconds(0));
  EXPECT_EQ(clock.WaitsBegun(), 0u);
}

TEST(RealSleeperTest, NeverStopsAndZeroSleepReturns) {
  Sleeper& real = Sleeper::Real();
  EXPECT_FALSE(real.Stopping());
  real.SleepFor(milliseconds(0));
  real.SleepFor(milliseconds(-1));
}

}  // namespace
}  // namespace relayq::github
