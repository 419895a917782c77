// Tests of PeriodicWorker driven by the fake clock: no test sleeps. A test
// learns that the worker finished a run by waiting (on a condition, not a
// timer) for the worker's next wait to begin (FakeClock::AwaitWaitsBegun).
#include "common/periodic_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "tests/fakes/fake_clock.h"

namespace relayq {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kPeriod = seconds(10);

class PeriodicWorkerTest : public ::testing::Test {
 protected:
  PeriodicWorker::Options Every(milliseconds period, bool run_at_start = true, int threads = 1) {
    return {.period = period, .run_at_start = run_at_start, .threads = threads};
  }

  testing::FakeClock clock_;
  std::atomic<int> runs_{0};
};

TEST_F(PeriodicWorkerTest, RunsAtStartThenOncePerPeriod) {
  PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  EXPECT_EQ(runs_, 1);
  clock_.Advance(kPeriod - milliseconds(1));
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_EQ(runs_, 1);
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(runs_, 2);
  clock_.Advance(kPeriod);
  ASSERT_TRUE(clock_.AwaitWaitsBegun(3));
  EXPECT_EQ(runs_, 3);
}

TEST_F(PeriodicWorkerTest, NotRunningAtStartWaitsOnePeriodFirst) {
  PeriodicWorker worker(clock_, Every(kPeriod, /*run_at_start=*/false),
                        [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  EXPECT_EQ(runs_, 0);
  clock_.Advance(kPeriod);
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(runs_, 1);
}

TEST_F(PeriodicWorkerTest, NothingRunsBeforeStart) {
  {
    PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass&) { ++runs_; });
    clock_.Advance(kPeriod * 3);
  }
  EXPECT_EQ(runs_, 0);
  EXPECT_EQ(clock_.WaitsBegun(), 0u);
}

TEST_F(PeriodicWorkerTest, WakeStartsTheNextRunWithoutTimeMoving) {
  PeriodicWorker worker(clock_, Every(hours(1)), [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  worker.Wake();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(runs_, 2);
}

TEST_F(PeriodicWorkerTest, WakeDuringARunIsNotLost) {
  std::promise<void> running;
  std::promise<void> go;
  auto go_future = go.get_future();
  PeriodicWorker worker(clock_, Every(hours(1)), [&](PeriodicWorker::Pass&) {
    if (++runs_ == 1) {
      running.set_value();
      go_future.wait();
    }
  });
  worker.Start();
  running.get_future().wait();
  worker.Wake();  // while the first run is in progress
  go.set_value();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));  // the first pause ended at once
  EXPECT_EQ(runs_, 2);
}

TEST_F(PeriodicWorkerTest, StopWhileWaitingReturnsWithoutTimeMoving) {
  PeriodicWorker worker(clock_, Every(hours(24)), [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  worker.Stop();  // joins: a worker still waiting would hang here
  EXPECT_TRUE(worker.stop_requested());
  EXPECT_EQ(runs_, 1);
  clock_.Advance(hours(48));
  EXPECT_EQ(runs_, 1);
}

TEST_F(PeriodicWorkerTest, StopReachesALongRunThroughItsToken) {
  std::promise<void> running;
  PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass& pass) {
    ++runs_;
    running.set_value();
    // A long run waits on the pass's token, as recovery's GitHub calls do.
    EXPECT_EQ(clock_.WaitFor(hours(1), pass.stop), WaitResult::kStopped);
  });
  worker.Start();
  running.get_future().wait();
  worker.Stop();
  EXPECT_EQ(runs_, 1);
}

TEST_F(PeriodicWorkerTest, RunChoosesThePauseBeforeTheNext) {
  PeriodicWorker worker(clock_, Every(hours(1)), [&](PeriodicWorker::Pass& pass) {
    ++runs_;
    pass.next = seconds(3);
  });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  clock_.Advance(seconds(3));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(runs_, 2);
}

TEST_F(PeriodicWorkerTest, LastRunEndsTheThread) {
  std::promise<void> ran;
  PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass& pass) {
    ++runs_;
    pass.last = true;
    ran.set_value();
  });
  worker.Start();
  ran.get_future().wait();
  worker.Stop();
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(clock_.WaitsBegun(), 0u);
}

TEST_F(PeriodicWorkerTest, WallClockStepDoesNotChangeThePeriod) {
  PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  clock_.SetWall(clock_.Now() + hours(24));
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_EQ(runs_, 1);
  clock_.SetWall(clock_.Now() - hours(48));
  clock_.Advance(kPeriod - milliseconds(1));
  EXPECT_EQ(clock_.Waiting(), 1u);
  EXPECT_EQ(runs_, 1);
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(runs_, 2);
}

TEST_F(PeriodicWorkerTest, EveryThreadRunsOnItsOwnAndWakeReachesThemAll) {
  PeriodicWorker worker(clock_, Every(hours(1), /*run_at_start=*/true, /*threads=*/3),
                        [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Start();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(3));
  EXPECT_EQ(runs_, 3);
  worker.Wake();
  ASSERT_TRUE(clock_.AwaitWaitsBegun(6));
  EXPECT_EQ(runs_, 6);
}

TEST_F(PeriodicWorkerTest, DestructionStopsAndJoins) {
  {
    PeriodicWorker worker(clock_, Every(hours(24)), [&](PeriodicWorker::Pass&) { ++runs_; });
    worker.Start();
    ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  }
  EXPECT_EQ(clock_.Waiting(), 0u);
  EXPECT_EQ(runs_, 1);
}

TEST_F(PeriodicWorkerTest, StartAfterStopRunsNothing) {
  PeriodicWorker worker(clock_, Every(kPeriod), [&](PeriodicWorker::Pass&) { ++runs_; });
  worker.Stop();
  worker.Start();
  worker.Stop();
  EXPECT_EQ(runs_, 0);
}

}  // namespace
}  // namespace relayq
