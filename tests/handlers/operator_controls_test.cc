// The operator controls (`relayq actions retry|cancel`, POST
// /api/v1/actions/{id}/retry|cancel) against the real store and executor with
// the fake GitHub and a fake clock: which states allow what, exactly one of
// two concurrent retries, the fencing of stale claims, and a cancelled
// fallback never firing.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/database.h"
#include "store/query.h"
#include "tests/fakes/routing_harness.h"

namespace relayq::handlers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::RoutingHarness;

constexpr char kFallback[] = "fallback:100:1";

class OperatorControlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.ok()) << h_.error(); }

  void RunToQuiet(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) {
      h_.executor().RunDue();
      auto next = h_.actions().NextDueTime();
      if (!next.ok() || !*next) return;
      if (**next > h_.Now()) h_.clock().Advance(milliseconds(**next - h_.Now()));
    }
  }
  int64_t FallbackId() {
    auto a = h_.actions().GetActionByKey(kFallback);
    return a.ok() && *a ? (*a)->id : 0;
  }
  store::OperatorRequest By(std::string who, std::string reason = "") {
    return {std::move(who), std::move(reason), h_.Now()};
  }
  // A fallback that failed for good: GitHub answered 500 to every dispatch
  // until the executor's attempts ran out.
  void FailTheFallback() {
    ExecutorOptions eo = RoutingHarness::DefaultExecutorOptions();
    eo.max_attempts = 2;
    h_.Restart(eo);
    h_.QueueJob(100, 1000);
    h_.clock().Advance(seconds(5 * 60));
    h_.github().FailNext("/dispatches", 1000, 500);
    RunToQuiet();
    ASSERT_EQ(h_.ActionStatus(kFallback), "failed");
    h_.github().ClearFailures();
  }
  std::vector<store::Record> History(int64_t id) {
    auto reader = store::StoreReader::Open(h_.path());
    if (!reader.ok()) return {};
    auto d = (*reader)->Action(id);
    return d.ok() ? d->history : std::vector<store::Record>{};
  }

  RoutingHarness h_;
};

TEST_F(OperatorControlsTest, RetriedFailedFallbackIsTriedExactlyOnceMoreAndRecordsWhoAsked) {
  FailTheFallback();
  const int dispatches_before = h_.github().CountCalls("POST", "/dispatches");
  auto out = h_.actions().RetryAction(FallbackId(), By("cli:ann@box", "GitHub is back"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->changed);
  EXPECT_EQ(out->action.status, store::ActionStatus::kPending);
  EXPECT_EQ(out->previous, store::ActionStatus::kFailed);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), dispatches_before + 1);
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  auto history = History(FallbackId());
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].Get("what")->s, "retry");
  EXPECT_EQ(history[0].Get("who")->s, "cli:ann@box");
  EXPECT_EQ(history[0].Get("reason")->s, "GitHub is back");
  EXPECT_EQ(history[0].Get("from_status")->s, "failed");
  EXPECT_EQ(history[0].Get("to_status")->s, "pending");
}

TEST_F(OperatorControlsTest, RetriedFallbackThatFailsAgainIsNotRetriedByItself) {
  FailTheFallback();
  h_.github().FailNext("/dispatches", 1000, 500);
  const int dispatches_before = h_.github().CountCalls("POST", "/dispatches");
  ASSERT_TRUE(h_.actions().RetryAction(FallbackId(), By("cli:ann@box")).ok());
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "failed");
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), dispatches_before + 1);
}

TEST_F(OperatorControlsTest, RetryRefusesEveryStateButFailedAndAborted) {
  h_.QueueJob(100, 1000);  // scheduled until its deadline
  auto scheduled = h_.actions().RetryAction(FallbackId(), By("cli:ann@box"));
  ASSERT_TRUE(scheduled.ok());
  EXPECT_FALSE(scheduled->changed);
  EXPECT_EQ(scheduled->action.status, store::ActionStatus::kScheduled);
  h_.clock().Advance(seconds(5 * 60));
  RunToQuiet();
  ASSERT_EQ(h_.ActionStatus(kFallback), "done");
  auto done = h_.actions().RetryAction(FallbackId(), By("cli:ann@box"));
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->changed);
  EXPECT_EQ(done->action.status, store::ActionStatus::kDone);
  EXPECT_NE(done->why.find("done"), std::string::npos) << done->why;
  EXPECT_TRUE(History(FallbackId()).empty());
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
}

TEST_F(OperatorControlsTest, RefusedActionIsNotRetried) {
  h_.QueueJob(100, 1000);
  ASSERT_TRUE(h_.Sql("UPDATE actions SET status = 'refused', last_error = 'max_fallbacks'"));
  auto out = h_.actions().RetryAction(FallbackId(), By("cli:ann@box"));
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->changed);
  EXPECT_NE(out->why.find("policy"), std::string::npos);
}

TEST_F(OperatorControlsTest, UnknownActionIsNotFound) {
  auto retry = h_.actions().RetryAction(999, By("cli:ann@box"));
  EXPECT_EQ(retry.status().code(), Status::Code::kNotFound);
  auto cancel = h_.actions().CancelAction(999, By("cli:ann@box"));
  EXPECT_EQ(cancel.status().code(), Status::Code::kNotFound);
}

// Two operators retry the same failed action at the same moment, each
// through its own connection (the CLI and the daemon): one wins, the other
// sees it pending, and it is tried once.
TEST_F(OperatorControlsTest, OfTwoConcurrentRetriesExactlyOneWins) {
  FailTheFallback();
  const int64_t id = FallbackId();
  store::StoreOptions options;
  options.path = h_.path();
  auto db = store::Database::Open(options);
  ASSERT_TRUE(db.ok());
  auto second = (*db)->OpenActionStore();
  ASSERT_TRUE(second.ok());
  Result<store::OperatorOutcome> a = Status::Internal("not run"), b = Status::Internal("not run");
  std::thread t1([&] { a = h_.actions().RetryAction(id, By("cli:ann@box")); });
  std::thread t2([&] { b = (*second)->RetryAction(id, By("admin-api from 10.0.0.2")); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << " / " << b.status().ToString();
  EXPECT_EQ(a->changed + b->changed, 1);
  const store::OperatorOutcome& loser = a->changed ? *b : *a;
  EXPECT_EQ(loser.action.status, store::ActionStatus::kPending);
  EXPECT_EQ(History(id).size(), 1u);
}

// A worker whose claim was taken over, and whose action then failed and was
// retried, cannot finish the retried action: its token is dead; the retried
// action is claimed afresh.
TEST_F(OperatorControlsTest, StaleClaimCannotFinishARetriedAction) {
  h_.QueueJob(100, 1000);
  h_.clock().Advance(seconds(5 * 60));
  auto stale = h_.actions().ClaimDue(h_.Now(), "worker-a", h_.Now() + 1000, 10);
  ASSERT_TRUE(stale.ok() && stale->size() == 1u);
  h_.clock().Advance(seconds(2));
  auto taker = h_.actions().ClaimDue(h_.Now(), "worker-b", h_.Now() + 60'000, 10);
  ASSERT_TRUE(taker.ok() && taker->size() == 1u);
  ASSERT_TRUE(h_.actions()
                  .Finish((*taker)[0].claim, store::ActionStatus::kFailed, "{}", "boom", h_.Now())
                  .ok());
  auto out = h_.actions().RetryAction(FallbackId(), By("cli:ann@box"));
  ASSERT_TRUE(out.ok() && out->changed);
  for (const store::Claim& dead : {(*stale)[0].claim, (*taker)[0].claim}) {
    Status s = h_.actions().Finish(dead, store::ActionStatus::kDone, "{}", std::nullopt, h_.Now());
    EXPECT_TRUE(store::ClaimWasLost(s)) << s.ToString();
  }
  EXPECT_EQ(h_.ActionStatus(kFallback), "pending");
  auto fresh = h_.actions().ClaimDue(h_.Now(), "worker-c", h_.Now() + 60'000, 10);
  ASSERT_TRUE(fresh.ok() && fresh->size() == 1u);
  EXPECT_NE((*fresh)[0].claim.token, (*stale)[0].claim.token);
  EXPECT_TRUE(h_.actions().SaveProgress((*fresh)[0].claim, "{}", h_.Now()).ok());
}

TEST_F(OperatorControlsTest, CancelledFallbackNeverFiresEvenAfterItsDeadline) {
  h_.QueueJob(100, 1000);
  auto out = h_.actions().CancelAction(FallbackId(), By("admin-api from 10.0.0.2", "on purpose"));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->changed);
  EXPECT_EQ(out->action.status, store::ActionStatus::kAborted);
  ASSERT_TRUE(out->action.last_error.has_value());
  EXPECT_EQ(*out->action.last_error, "cancelled by admin-api from 10.0.0.2: on purpose");
  h_.clock().Advance(seconds(60 * 60));
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "aborted");
  EXPECT_EQ(h_.github().CountCalls("POST", "/cancel"), 0);
  EXPECT_EQ(h_.github().CountCalls("POST", "/dispatches"), 0);
  auto history = History(FallbackId());
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].Get("what")->s, "cancel");
  EXPECT_EQ(history[0].Get("from_status")->s, "scheduled");
}

TEST_F(OperatorControlsTest, RunningActionIsNotCancelled) {
  h_.QueueJob(100, 1000);
  h_.clock().Advance(seconds(5 * 60));
  auto held = h_.actions().ClaimDue(h_.Now(), "worker-a", h_.Now() + 60'000, 10);
  ASSERT_TRUE(held.ok() && held->size() == 1u);
  auto out = h_.actions().CancelAction(FallbackId(), By("cli:ann@box"));
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->changed);
  EXPECT_EQ(out->action.status, store::ActionStatus::kRunning);
  EXPECT_TRUE(h_.actions().SaveProgress((*held)[0].claim, "{}", h_.Now()).ok());
}

TEST_F(OperatorControlsTest, CancelledThenRetriedFallbackFiresOnce) {
  h_.QueueJob(100, 1000);
  ASSERT_TRUE(h_.actions().CancelAction(FallbackId(), By("cli:ann@box")).ok());
  auto out = h_.actions().RetryAction(FallbackId(), By("cli:ann@box", "changed my mind"));
  ASSERT_TRUE(out.ok() && out->changed);
  RunToQuiet();
  EXPECT_EQ(h_.ActionStatus(kFallback), "done");
  EXPECT_EQ(h_.RunsOf("transcribe_rpi.yml"), 1);
  EXPECT_EQ(History(FallbackId()).size(), 2u);
}

}  // namespace
}  // namespace relayq::handlers
