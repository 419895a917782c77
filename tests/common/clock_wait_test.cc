// Tests of the common wait (Clock::WaitFor/WaitUntil with StopSource and
// StopToken) on the real clock and on the fake clock. No test sleeps: the
// real clock is only asked for waits that end at once or are stopped, and
// the fake clock moves by hand.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "common/clock.h"
#include "common/stop.h"
#include "tests/fakes/fake_clock.h"

namespace relayq {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- StopSource and StopToken ----

TEST(StopTest, TokenOfNoSourceIsNeverStoppedOrWoken) {
  StopToken token;
  EXPECT_FALSE(token.stop_requested());
  EXPECT_FALSE(token.woken());
}

TEST(StopTest, WakeReachesOnlyTokensTakenBeforeIt) {
  StopSource source;
  StopToken before = source.token();
  source.Wake();
  StopToken after = source.token();
  EXPECT_TRUE(before.woken());
  EXPECT_FALSE(after.woken());
  EXPECT_FALSE(before.stop_requested());
}

TEST(StopTest, StopReachesEveryTokenAndRunsEachCallbackOnce) {
  StopSource source;
  StopToken token = source.token();
  int ran = 0;
  int removed_ran = 0;
  source.AddStopCallback([&] { ++ran; });
  const int removed = source.AddStopCallback([&] { ++removed_ran; });
  source.RemoveStopCallback(removed);
  source.Stop();
  source.Stop();
  int late_ran = 0;
  source.AddStopCallback([&] { ++late_ran; });
  source.Stop();
  EXPECT_TRUE(token.stop_requested());
  EXPECT_TRUE(source.token().stop_requested());
  EXPECT_TRUE(source.stop_requested());
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(removed_ran, 0);
  EXPECT_EQ(late_ran, 0);
}

// ---- the real clock ----

TEST(RealClockWaitTest, ZeroOrPastDeadlineTimesOutAtOnce) {
  Clock& clock = Clock::Real();
  EXPECT_EQ(clock.WaitFor(milliseconds(0), StopToken()), WaitResult::kTimedOut);
  EXPECT_EQ(clock.WaitFor(milliseconds(-5), StopToken()), WaitResult::kTimedOut);
  EXPECT_EQ(clock.WaitUntil(clock.Monotonic() - seconds(1), StopToken()), WaitResult::kTimedOut);
}

TEST(RealClockWaitTest, StoppedOrWokenTokenReturnsAtOnce) {
  StopSource woken;
  StopToken token = woken.token();
  woken.Wake();
  EXPECT_EQ(Clock::Real().WaitFor(hours(1), token), WaitResult::kWoken);
  StopSource stopped;
  stopped.Stop();
  EXPECT_EQ(Clock::Real().WaitFor(hours(1), stopped.token()), WaitResult::kStopped);
}

TEST(RealClockWaitTest, StopFromAnotherThreadEndsALongWait) {
  StopSource source;
  auto waiting = std::async(std::launch::async,
                            [&] { return Clock::Real().WaitFor(hours(1), source.token()); });
  source.Stop();
  ASSERT_EQ(waiting.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_EQ(waiting.get(), WaitResult::kStopped);
}

// ---- the fake clock ----

class FakeClockWaitTest : public ::testing::Test {
 protected:
  // Starts WaitFor(d) on another thread and returns once it is waiting.
  std::future<WaitResult> StartWait(milliseconds d, StopToken token = StopToken()) {
    const uint64_t begun = clock_.WaitsBegun();
    auto f = std::async(std::launch::async, [this, d, token] { return clock_.WaitFor(d, token); });
    EXPECT_TRUE(clock_.AwaitWaitsBegun(begun + 1));
    return f;
  }
  static bool Done(std::future<WaitResult>& f) {
    return f.wait_for(seconds(0)) == std::future_status::ready;
  }

  testing::FakeClock clock_;
};

TEST_F(FakeClockWaitTest, AdvanceEndsTheWaitExactlyAtItsDeadline) {
  auto wait = StartWait(seconds(10));
  clock_.Advance(milliseconds(9999));
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_FALSE(Done(wait));
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(wait.get(), WaitResult::kTimedOut);
  EXPECT_EQ(clock_.Waiting(), 0u);
}

TEST_F(FakeClockWaitTest, WallClockStepNeitherEndsNorLengthensAWait) {
  auto wait = StartWait(seconds(10));
  clock_.SetWall(clock_.Now() + hours(24));
  EXPECT_EQ(clock_.Waiting(), 1u);
  clock_.SetWall(clock_.Now() - hours(48));
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_FALSE(Done(wait));
  clock_.Advance(seconds(10));
  EXPECT_EQ(wait.get(), WaitResult::kTimedOut);
}

TEST_F(FakeClockWaitTest, StopEndsTheWaitWithoutTimeMoving) {
  StopSource source;
  const MonoTime start = clock_.Monotonic();
  auto wait = StartWait(hours(1), source.token());
  source.Stop();
  EXPECT_EQ(wait.get(), WaitResult::kStopped);
  EXPECT_EQ(clock_.Monotonic(), start);
}

TEST_F(FakeClockWaitTest, WakeEndsTheWaitWithoutTimeMoving) {
  StopSource source;
  auto wait = StartWait(hours(1), source.token());
  source.Wake();
  EXPECT_EQ(wait.get(), WaitResult::kWoken);
}

TEST_F(FakeClockWaitTest, OneAdvanceEndsOnlyTheWaitsItReaches) {
  auto short_wait = StartWait(seconds(5));
  auto long_wait = StartWait(seconds(50));
  clock_.Advance(seconds(5));
  EXPECT_EQ(short_wait.get(), WaitResult::kTimedOut);
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_FALSE(Done(long_wait));
  clock_.Advance(seconds(45));
  EXPECT_EQ(long_wait.get(), WaitResult::kTimedOut);
}

TEST_F(FakeClockWaitTest, ZeroWaitAndStoppedTokenReturnAtOnce) {
  EXPECT_EQ(clock_.WaitFor(milliseconds(0), StopToken()), WaitResult::kTimedOut);
  StopSource stopped;
  stopped.Stop();
  EXPECT_EQ(clock_.WaitFor(hours(1), stopped.token()), WaitResult::kStopped);
  EXPECT_EQ(clock_.Waiting(), 0u);
}

}  // namespace
}  // namespace relayq
