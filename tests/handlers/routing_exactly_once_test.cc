// Regression tests for issue 12 ("routing exactly once when GitHub, the
// clock and the process misbehave"), executor side: each test is named after
// what broke and runs the real store, router, executor and client against
// the fake GitHub with a fake clock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "github/sleeper.h"
#include "tests/fakes/routing_harness.h"

namespace relayq::handlers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FailureRule;
using testing::RoutingHarness;

constexpr char kFallback[] = "fallback:100:1";

class RoutingExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.ok()) << h_.error(); }

  // Queues run 100 / job 1000 and moves the clock to its deadline.
  void QueueAndReachDeadline() {
    h_.QueueJob(100, 1000);
    h_.clock().Advance(seconds(5 * 60));
  }
  // Runs the executor until nothing is due or pending, moving the clock to
  // each next attempt; at most `rounds` rounds.
  void RunToQuiet(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) {
      h_.executor().RunDue();
      auto next = h_.actions().NextDueTime();
      if (!next.ok() || !*next) return;
      if (**next > h_.Now()) h_.clock().Advance(milliseconds(**next - h_.Now()));
    }
  }
  void Fail(std::string method, std::string path, int status, bool after_work, bool drop,
            int times = 1, std::map<std::string, std::string> headers = {}) {
    FailureRule r;
    r.method = std::move(method);
    r.path_contains = std::move(path);
    r.status = status;
    r.after_work = after_work;
    r.drop = drop;
    r.times = times;
    r.headers = std::move(headers);
    h_.github().AddFailure(r);
  }

  RoutingHarness h_;
};

// ---- case 1: claims, fencing, leases ----

TEST_F(RoutingExactlyOnceTest, EveryClaimGetsItsOwnTokenEvenUnderOneOwnerName) {
  QueueAndReachDeadline();
  auto first = h_.actions().ClaimDue(h_.Now(), "daemon:1", h_.Now() + 1000, 10);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  h_.clock().Advance(seconds(2));
  auto second = h_.actions().ClaimDue(h_.Now(), "daemon:1", h_.Now() + 1000, 10);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_NE((*first)[0].claim.token, (*second)[0].claim.token);
  // The first claim is dead: its writes change nothing.
  Status s = h_.actions().SaveProgress((*first)[0].claim, "{\"stage\":\"cancelled\"}", h_.Now());
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_TRUE(h_.actions().SaveProgress((*second)[0].claim, "{}", h_.Now()).ok());
}

// Two workers carried out one action when the first one's lease ran out
// while it still worked: the first is now stopped at its next write and
// sends nothing.
TEST_F(RoutingExactlyOnceTest, WorkerWhoseClaimWasTakenOverStopsBeforeCancelling) {
  QueueAndReachDeadline();
  auto stale = h_.actions().ClaimDue(h_.Now(), h_.owner(), h_.Now() + 1000, 10);
  ASSERT_TRUE(stale.ok() && stale->size() == 1u);
  h_.clock().Advance(seconds(2));
  auto taken = h_.actions().ClaimDue(h_.Now(), "other-worker", h_.Now() + 60'000, 10);
  ASSERT_TRUE(taken.ok() && taken->size() == 1u);
  ActionOutcome out = h_.executor().Execute((*stale)[0].action, (*stale)[0].claim);
  EXPECT_EQ(out.status, ExecOutcome::kLost);
  EXPECT_EQ(h_.github().CountCalls("POST", "/cancel"), 0);
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 0);
  EXPECT_EQ(h_.ActionStatus(kFallback), "running");  // still the other worker's
}

TEST_F(RoutingExactlyOnceTest, RenewedLeaseIsNotTakenOverWhileItsOwnerWorks) {
  QueueAndReachDeadline();
  auto mine = h_.actions().ClaimDue(h_.Now(), "a", h_.Now() + 60'000, 10);
  ASSERT_TRUE(mine.ok() && mine->size() == 1u);
  for (int i = 0; i < 10; ++i) {
    h_.clock().Advance(seconds(15));
    ASSERT_TRUE(h_.actions().Renew((*mine)[0].claim, h_.Now() + 60'000, h_.Now()).ok());
    auto other = h_.actions().ClaimDue(h_.Now(), "b", h_.Now() + 60'000, 10);
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->empty()) << "taken over after " << (i + 1) * 15 << " s";
  }
}

// An NTP step (wall clock forward by an hour) while a worker waits on GitHub
// made its claim look expired, and another worker of the same executor took
// it: two cancels, two replacements.
TEST_F(RoutingExactlyOnceTest, WallClockStepDoesNotLetTheSameExecutorClaimItsLiveActionAgain) {
  QueueAndReachDeadline();
  std::promise<int> inner;
  std::future<int> inner_result = inner.get_future();
  std::atomic<bool> stepped{false};
  h_.github().SetCallHook([&](const testing::RecordedCall& call) {
    if (call.method != "GET" || call.path.find("/actions/jobs/") == std::string::npos) return;
    if (stepped.exchange(true)) return;
    h_.clock().SetWall(h_.clock().Now() + std::chrono::hours(1));
    // Another worker thread of the same executor looks for due work now.
    std::thread([&] { inner.set_value(h_.executor().RunDue()); }).detach();
    if (inner_result.wait_for(seconds(5)) != std::future_status::ready) {
      ADD_FAILURE() << "the second worker is stuck on the first one's action";
    }
  });
  EXPECT_EQ(h_.executor().RunDue(), 1);
  h_.github().SetCallHook(nullptr);
  ASSERT_EQ(inner_result.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(inner_result.get(), 0);
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/cancel"), 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

// One GitHub call waited 15 minutes on a rate limit while holding claims.
TEST_F(RoutingExactlyOnceTest, LongRetryAfterFailsTheCallInsteadOfOutwaitingTheLease) {
  QueueAndReachDeadline();
  Fail("GET", "/actions/jobs/", 429, false, false, 1, {{"Retry-After", "900"}});
  EXPECT_EQ(h_.executor().RunDue(), 1);
  EXPECT_EQ(h_.ActionStatus(kFallback), "pending");
  for (milliseconds w : h_.sleeper().nonzero_waits()) {
    EXPECT_LE(w, seconds(15)) << w.count();  // a quarter of the default lease
  }
}

// ---- case 2: no resend of dispatch or cancel ----

TEST_F(RoutingExactlyOnceTest, DispatchTimingOutAfterGitHubActedIsNotSentAgain) {
  QueueAndReachDeadline();
  Fail("POST", "/dispatches", 0, /*after_work=*/true, /*drop=*/true);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

TEST_F(RoutingExactlyOnceTest, Dispatch502AfterGitHubActedIsNotSentAgain) {
  QueueAndReachDeadline();
  Fail("POST", "/dispatches", 502, /*after_work=*/true, /*drop=*/false);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

TEST_F(RoutingExactlyOnceTest, DispatchTimingOutBeforeGitHubActedIsSentOnceMoreLater) {
  QueueAndReachDeadline();
  Fail("POST", "/dispatches", 0, /*after_work=*/false, /*drop=*/true);
  h_.executor().RunDue();
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);  // not resent by the client
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 2);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

TEST_F(RoutingExactlyOnceTest, ChainDispatch5xxDoesNotStartASecondChainRun) {
  testing::FakeRun done;
  done.id = 500;
  done.workflow = "transcribe_rpi.yml";
  done.status = "completed";
  done.conclusion = "success";
  h_.github().AddRun(done);
  h_.RecordRun(500, ".github/workflows/transcribe_rpi.yml", "completed", "success");
  Fail("POST", "/dispatches", 503, /*after_work=*/true, /*drop=*/false, 1);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus("chain:summarize:500:1"), "done");
  EXPECT_EQ(h_.RunsOf("summarize.yml"), 1);
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
}

// ---- case 3: the search for a run whose answer was lost ----

TEST_F(RoutingExactlyOnceTest, LostDispatchAnswerFindsTheRunWaitingInPending) {
  QueueAndReachDeadline();
  Fail("POST", "/dispatches", 0, /*after_work=*/true, /*drop=*/true);
  h_.executor().RunDue();
  ASSERT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  for (const auto& r : h_.github().runs()) {
    if (r.workflow == "transcribe_rpi.yml") h_.github().SetRunStatus(r.id, "pending");
  }
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
}

TEST_F(RoutingExactlyOnceTest, FailingRunListingIsRetriedLaterNotAnsweredByAResend) {
  QueueAndReachDeadline();
  Fail("POST", "/dispatches", 0, /*after_work=*/true, /*drop=*/true);
  h_.executor().RunDue();
  // Every run listing fails for a while.
  Fail("GET", "/actions/runs", 500, false, false, /*times=*/15);
  h_.clock().Advance(seconds(60));
  h_.executor().RunDue();
  EXPECT_EQ(h_.ActionStatus(kFallback), "pending");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

// ---- case 4: a failed "done" write ----

TEST_F(RoutingExactlyOnceTest, FailedWriteOfTheFinishedDispatchNeitherResendsNorFails) {
  QueueAndReachDeadline();
  // The store refuses to mark the action done once (as a busy store would).
  ASSERT_TRUE(
      h_.Sql("CREATE TABLE refuse_once (n INTEGER); INSERT INTO refuse_once VALUES (1);"
             "CREATE TRIGGER refuse_done BEFORE UPDATE OF status ON actions "
             "WHEN NEW.status = 'done' AND (SELECT count(*) FROM refuse_once) > 0 "
             "BEGIN SELECT RAISE(ABORT, 'database is locked'); END;"));
  h_.executor().RunDue();
  EXPECT_EQ(h_.ActionStatus(kFallback), "pending");
  ASSERT_TRUE(h_.Sql("DELETE FROM refuse_once;"));
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

// ---- case 5: a cancel that took effect, answer lost ----

TEST_F(RoutingExactlyOnceTest, CancelThatTookEffectWithItsAnswerLostIsReplaced) {
  QueueAndReachDeadline();
  Fail("POST", "/cancel", 0, /*after_work=*/true, /*drop=*/true);
  RunToQuiet();
  EXPECT_EQ(h_.github().GetRun(100)->conclusion, "cancelled");
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  EXPECT_EQ(h_.github().CountCalls("POST", "/cancel"), 1);
}

TEST_F(RoutingExactlyOnceTest, CancelAnswered502AfterItTookEffectIsReplaced) {
  QueueAndReachDeadline();
  Fail("POST", "/cancel", 502, /*after_work=*/true, /*drop=*/false);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

// relayq died after the cancel was accepted, before "cancelled" was saved.
TEST_F(RoutingExactlyOnceTest, CancelAcceptedThenRestartBeforeSavingIsReplaced) {
  QueueAndReachDeadline();
  // The write of stage "cancelled" is lost with the process.
  ASSERT_TRUE(
      h_.Sql("CREATE TRIGGER die_after_cancel BEFORE UPDATE OF result ON actions "
             "WHEN json_extract(NEW.result, '$.stage') = 'cancelled' "
             "BEGIN SELECT RAISE(IGNORE); END;"));
  h_.executor().RunDue();
  ASSERT_EQ(h_.github().GetRun(100)->conclusion, "cancelled");
  ASSERT_TRUE(h_.Sql("DROP TRIGGER die_after_cancel;"));
  h_.Restart();
  h_.clock().Advance(seconds(61));
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

// ---- case 6: the job reached a runner between the check and the cancel ----

TEST_F(RoutingExactlyOnceTest, JobThatStartedBetweenCheckAndCancelIsStillReplaced) {
  QueueAndReachDeadline();
  h_.github().SetCallHook([&](const testing::RecordedCall& call) {
    if (call.method == "POST" && call.path.ends_with("/cancel")) {
      h_.github().SetJobStatus(1000, "in_progress", "macmini-1");
    }
  });
  RunToQuiet();
  h_.github().SetCallHook(nullptr);
  EXPECT_EQ(h_.github().GetRun(100)->conclusion, "cancelled");
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  EXPECT_EQ(h_.ActionResult(kFallback).value("started_before_cancel", ""), "macmini-1");
}

// ---- case 8 (executor side): runners-API failure at the deadline ----

constexpr char kPolicyWithConstraint[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 5m
    fallback_workflow: transcribe_rpi.yml
    unknown_inputs: dispatch
    constraints: { needs_audio: true }
)";

TEST(RoutingRunnersApiTest, RunnersApiFailureAtTheDeadlineIsRetriedNotAbortedForGood) {
  testing::RoutingHarnessOptions o;
  o.policy = kPolicyWithConstraint;
  RoutingHarness h(o);
  ASSERT_TRUE(h.ok()) << h.error();
  testing::FakeRunner pi;
  pi.name = "pi";
  pi.labels = {"self-hosted", "rpi4", "audio"};
  h.github().AddRunner(pi);
  h.QueueJob(100, 1000);
  h.clock().Advance(seconds(5 * 60));
  h.github().FailNext("/actions/runners", 5, 500);  // every attempt of one call
  h.executor().RunDue();
  EXPECT_EQ(h.ActionStatus(kFallback), "pending");
  const int listings = h.github().CountCalls("GET", "/actions/runners");
  // The failure is not cached: the retry (well within the cache TTL) asks again.
  auto next = h.actions().NextDueTime();
  ASSERT_TRUE(next.ok() && *next);
  h.clock().Advance(milliseconds(**next - h.Now()));
  h.executor().RunDue();
  EXPECT_GT(h.github().CountCalls("GET", "/actions/runners"), listings);
  EXPECT_EQ(h.ActionStatus(kFallback), "done");
  EXPECT_EQ(h.RunsOf("transcribe_rpi.yml"), 1);
}

// ---- case 9 (executor side): several governed jobs in one run ----

TEST_F(RoutingExactlyOnceTest, RunIsNotCancelledWhileASiblingJobRuns) {
  h_.QueueJob(100, std::vector<int64_t>{1000, 1001});
  h_.clock().Advance(seconds(5 * 60));
  h_.github().SetJobStatus(1001, "in_progress", "macmini-1");  // not yet reported by webhook
  RunToQuiet();
  EXPECT_EQ(h_.github().CountCalls("POST", "/cancel"), 0);
  EXPECT_EQ(h_.ActionStatus(kFallback), "aborted");
  EXPECT_EQ(h_.github().GetJob(1001)->status, "in_progress");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 0);
}

// ---- case 12: SIGTERM ----

// With GitHub answering Retry-After, relayq kept waiting and sending after
// SIGTERM. Real time: the executor's waits must end when it is stopped.
TEST(RoutingStopTest, StopEndsGitHubWaitsAtOnceAndSavesProgress) {
  RoutingHarness h;
  ASSERT_TRUE(h.ok()) << h.error();
  h.QueueJob(100, 1000);
  h.clock().Advance(seconds(5 * 60));
  github::StoppableSleeper sleeper;
  github::ClientOptions co;
  co.api_url = h.github().url();
  co.token = "t";
  co.write_interval = milliseconds(0);
  co.max_rate_limit_wait = seconds(14);
  auto client = github::HttpGitHubClient::Create(co, h.clock(), sleeper);
  ASSERT_TRUE(client.ok());
  ExecutorOptions eo;
  eo.owner = "daemon:stop";
  eo.workers = 2;
  eo.github_sleeper = &sleeper;
  ActionExecutor executor(h.actions(), **client, h.policy(), h.clock(), h.metrics(), eo);
  // Every call is rate limited for 10 s at a time.
  h.github().FailNext("/repos/", -1, 429, {{"Retry-After", "10"}});
  std::promise<void> waiting;
  std::atomic<bool> once{false};
  h.github().SetCallHook([&](const testing::RecordedCall&) {
    if (!once.exchange(true)) waiting.set_value();
  });
  executor.Start();
  ASSERT_EQ(waiting.get_future().wait_for(seconds(10)), std::future_status::ready);
  const auto t0 = std::chrono::steady_clock::now();
  executor.Stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  h.github().SetCallHook(nullptr);
  EXPECT_LT(took, seconds(3));
  const int calls = h.github().CountCalls("", "/repos/");
  std::this_thread::sleep_for(milliseconds(200));  // nothing more may arrive
  EXPECT_EQ(h.github().CountCalls("", "/repos/"), calls);
  EXPECT_EQ(h.github().CountCalls("POST", ""), 0);
  auto a = h.actions().GetActionByKey(kFallback);
  ASSERT_TRUE(a.ok() && *a);
  EXPECT_EQ((*a)->status, store::ActionStatus::kPending);
  EXPECT_EQ((*a)->attempts, 0);
}

// ---- the started executor's workers, on the fake clock ----

// Options under which only the worker's wait for the next due time (or a
// Wake) can end a wait: idle wake and heartbeat far away.
ExecutorOptions QuietWorkerOptions() {
  ExecutorOptions eo = RoutingHarness::DefaultExecutorOptions();
  eo.idle_wake = std::chrono::hours(1);
  eo.lease = std::chrono::hours(24);
  return eo;
}

TEST(ExecutorWorkerTest, IdleWorkerRunsTheFallbackWhenTheClockReachesItsDeadline) {
  RoutingHarness h;
  ASSERT_TRUE(h.ok()) << h.error();
  h.Restart(QuietWorkerOptions());
  h.QueueJob(100, 1000);
  h.executor().Start();
  ASSERT_TRUE(h.clock().AwaitWaitsBegun(2));  // the worker (nothing due yet), the heartbeat
  h.clock().Advance(seconds(5 * 60) - milliseconds(1));
  EXPECT_EQ(h.ActionStatus(kFallback), "scheduled");
  EXPECT_EQ(h.github().CountCalls("POST", ""), 0);
  h.clock().Advance(milliseconds(1));
  ASSERT_TRUE(h.clock().AwaitWaitsBegun(3));  // the worker's pass is over
  EXPECT_EQ(h.ActionStatus(kFallback), "done");
  EXPECT_EQ(h.github().CountCalls("POST", "/cancel"), 1);
  EXPECT_EQ(h.RunsOf("transcribe_rpi.yml"), 1);
  h.executor().Stop();
}

TEST(ExecutorWorkerTest, WakeRunsAnActionRecordedWhileTheWorkerWaited) {
  RoutingHarness h;
  ASSERT_TRUE(h.ok()) << h.error();
  h.Restart(QuietWorkerOptions());
  h.executor().Start();
  ASSERT_TRUE(h.clock().AwaitWaitsBegun(2));  // nothing recorded: the worker waits idle_wake
  h.QueueJob(100, 1000);
  h.clock().Advance(seconds(5 * 60));  // due now, but the worker waits for an hour
  EXPECT_EQ(h.ActionStatus(kFallback), "scheduled");
  h.executor().Wake();
  ASSERT_TRUE(h.clock().AwaitWaitsBegun(3));
  EXPECT_EQ(h.ActionStatus(kFallback), "done");
  EXPECT_EQ(h.RunsOf("transcribe_rpi.yml"), 1);
  h.executor().Stop();
}

// Issue 15: an idle executor's heartbeat woke every lease/4 (15 s) although
// it held no claim; it now sleeps until a claim is taken (or an hour).
TEST(ExecutorWorkerTest, HeartbeatSleepsWhileNoClaimIsHeld) {
  RoutingHarness h;
  ASSERT_TRUE(h.ok()) << h.error();
  ExecutorOptions eo = RoutingHarness::DefaultExecutorOptions();
  eo.lease = std::chrono::seconds(60);
  eo.idle_wake = std::chrono::hours(2);  // the worker stays asleep too
  h.Restart(eo);
  h.executor().Start();
  ASSERT_TRUE(h.clock().AwaitWaitsBegun(2));  // the worker, the heartbeat
  h.clock().Advance(std::chrono::minutes(59));
  EXPECT_EQ(h.clock().WaitsBegun(), 2u);  // nothing woke in 59 minutes
  h.executor().Stop();
}

// ---- case 14 (claims): a daemon starting beside a live one ----

TEST_F(RoutingExactlyOnceTest, StartingDaemonDoesNotReleaseTheLiveClaimsOfAnother) {
  QueueAndReachDeadline();
  auto live = h_.actions().ClaimDue(h_.Now(), "daemon:111", h_.Now() + 60'000, 10);
  ASSERT_TRUE(live.ok() && live->size() == 1u);
  ASSERT_TRUE(h_.actions().ReleaseClaims("daemon:", h_.Now()).ok());
  EXPECT_EQ(h_.ActionStatus(kFallback), "running");
  EXPECT_TRUE(h_.actions().Renew((*live)[0].claim, h_.Now() + 60'000, h_.Now()).ok());
  // Once it stops renewing, its claim expires and is released.
  h_.clock().Advance(seconds(61));
  ASSERT_TRUE(h_.actions().ReleaseClaims("daemon:", h_.Now()).ok());
  EXPECT_EQ(h_.ActionStatus(kFallback), "pending");
}

}  // namespace
}  // namespace relayq::handlers
