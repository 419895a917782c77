// Router + ActionExecutor on an in-memory action store (FakeActionStore:
// the lifecycle merge and the ActionStore contract without SQLite) and a
// fake GitHub API, with a fake clock: queue timeouts are crossed by
// advancing the clock, never by sleeping. The exactly-once and soak tests
// run the same path on the real SQLite store.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "github/http_github_client.h"
#include "handlers/action_executor.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "tests/fakes/fake_action_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"
#include "tests/fakes/routing_harness.h"

namespace relayq::handlers {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPolicy[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 5m
    fallback_workflow: transcribe_rpi.yml
    unknown_inputs: dispatch
)";

class RoutingUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = policy::ParsePolicy(kPolicy, "policy.yaml");
    ASSERT_TRUE(parsed.ok());
    policy_ = std::make_unique<PolicyHolder>(parsed.policy);
    router_ = std::make_unique<Router>(*policy_);

    auto fake = testing::FakeGitHubServer::Start();
    ASSERT_TRUE(fake.ok());
    github_ = std::move(*fake);
    auto client = github::HttpGitHubClient::Create(testing::FakeGitHubClientOptions(github_->url()),
                                                   clock_, sleeper_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ExecutorOptions eo;
    eo.owner = "test";
    executor_ =
        std::make_unique<ActionExecutor>(actions_, *client_, *policy_, clock_, metrics_, eo);
  }

  int64_t Now() { return ToUnixMillis(clock_.Now()); }

  void Record(const std::string& id, store::Delivery d) {
    d.id = id;
    d.received_at = Now();
    actions_.Ingest(d, router_.get());
  }

  // A run of transcribe_mac.yml with one queued macmini job, both recorded.
  void QueueJob(int64_t run_id, int64_t job_id) {
    testing::FakeRun run;
    run.id = run_id;
    run.workflow = "transcribe_mac.yml";
    github_->AddRun(run);
    testing::FakeJob job;
    job.id = job_id;
    job.run_id = run_id;
    job.labels = {"self-hosted", "macmini"};
    github_->AddJob(job);
    Record("run-" + std::to_string(run_id),
           testing::RunDelivery("octo/kit", run_id, ".github/workflows/transcribe_mac.yml",
                                "queued", "", Now()));
    Record("job-" + std::to_string(job_id),
           testing::QueuedJobDelivery("octo/kit", run_id, job_id, job.labels, Now()));
  }

  std::string Status(const std::string& key) {
    auto a = actions_.GetActionByKey(key);
    return a.ok() && *a ? std::string(store::ActionStatusName((*a)->status)) : "";
  }

  testing::FakeClock clock_;
  testing::FakeSleeper sleeper_{&clock_};
  MetricsRegistry metrics_;
  testing::FakeActionStore actions_;
  std::unique_ptr<PolicyHolder> policy_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<testing::FakeGitHubServer> github_;
  std::unique_ptr<github::GitHubClient> client_;
  std::unique_ptr<ActionExecutor> executor_;
};

TEST_F(RoutingUnitTest, FallbackIsDueExactlyAtTheQueueTimeout) {
  QueueJob(100, 1000);
  EXPECT_EQ(Status("fallback:100:1"), "scheduled");
  clock_.Advance(seconds(5 * 60) - milliseconds(1));
  EXPECT_EQ(executor_->RunDue(), 0);
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
  EXPECT_EQ(github_->CountCalls("POST", "/actions/runs/100/cancel"), 1);
  EXPECT_EQ(github_->CountCalls("POST", "/actions/workflows/transcribe_rpi.yml/dispatches"), 1);
}

TEST_F(RoutingUnitTest, NextDueTimeIsTheEarliestDeadline) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(60));
  QueueJob(200, 2000);
  auto next = actions_.NextDueTime();
  ASSERT_TRUE(next.ok() && *next);
  EXPECT_EQ(**next, Now() - 60'000 + 5 * 60'000);
}

TEST_F(RoutingUnitTest, TransientFailuresBackOffThenSucceedOnce) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  // A dispatch is sent once per executor attempt (a 502 may have started a
  // run: it is never resent by the client), so two failures fail two
  // executor attempts.
  github_->FailNext("/dispatches", 2, 502);
  EXPECT_EQ(executor_->RunDue(), 1);
  auto a = actions_.GetActionByKey("fallback:100:1");
  ASSERT_TRUE(a.ok() && *a);
  EXPECT_EQ((*a)->status, store::ActionStatus::kPending);
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_GT(*(*a)->next_attempt_at, Now());
  // Not before the backoff has passed.
  EXPECT_EQ(executor_->RunDue(), 0);
  clock_.Advance(milliseconds(*(*a)->next_attempt_at - Now()));
  EXPECT_EQ(executor_->RunDue(), 1);
  a = actions_.GetActionByKey("fallback:100:1");
  EXPECT_EQ((*a)->status, store::ActionStatus::kPending);
  EXPECT_EQ((*a)->attempts, 2);
  clock_.Advance(milliseconds(*(*a)->next_attempt_at - Now()));
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
  // The run was cancelled once and resumed at the dispatch stage afterwards.
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 1);
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 3);
  int created = 0;
  for (const auto& r : github_->runs()) created += r.workflow == "transcribe_rpi.yml";
  EXPECT_EQ(created, 1);
}

// relayq died after GitHub accepted the dispatch but before it recorded the
// answer: the resumed action finds the run by [relayq:ID] and does not
// dispatch a second time.
TEST_F(RoutingUnitTest, DispatchWhoseAnswerWasLostIsNotSentTwice) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  EXPECT_EQ(executor_->RunDue(), 1);
  ASSERT_EQ(Status("fallback:100:1"), "done");
  auto a = actions_.GetActionByKey("fallback:100:1");
  const int64_t request = nlohmann::json::parse(*(*a)->result)["request_id"].get<int64_t>();
  // Rewind the store to the moment before the answer was recorded.
  actions_.EditAction("fallback:100:1", [&](store::ActionRecord& r) {
    r.status = store::ActionStatus::kPending;
    r.next_attempt_at = 0;
    r.result =
        nlohmann::json{{"stage", "dispatching"}, {"request_id", request}, {"sends", 1}}.dump();
  });
  actions_.EditRequest(request, [](store::DispatchRequest& r) {
    r.status = store::RequestStatus::kPending;
    r.run_id.reset();
  });
  github_->ClearCalls();
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 0);
  auto r = actions_.GetRequest(request);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->status, store::RequestStatus::kDispatched);
  EXPECT_TRUE((*r)->run_id.has_value());
}

// The store failed (busy, disk) exactly when the accepted dispatch was to be
// recorded: the action is retried later and finishes from its saved
// progress, without sending the dispatch again.
TEST_F(RoutingUnitTest, StoreFailureWhenRecordingADispatchDoesNotResendIt) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  actions_.FailNextWrites(1, "FinishDispatched");
  EXPECT_EQ(executor_->RunDue(), 1);
  auto a = actions_.GetActionByKey("fallback:100:1");
  ASSERT_TRUE(a.ok() && *a);
  EXPECT_EQ((*a)->status, store::ActionStatus::kPending);
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 1);
  clock_.Advance(milliseconds(*(*a)->next_attempt_at - Now()));
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 1);
}

TEST_F(RoutingUnitTest, PermanentFailureFailsWithTheReason) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  github_->FailNext("/dispatches", 1, 404);
  executor_->RunDue();
  auto a = actions_.GetActionByKey("fallback:100:1");
  EXPECT_EQ((*a)->status, store::ActionStatus::kFailed);
  EXPECT_NE((*a)->last_error->find("404"), std::string::npos) << *(*a)->last_error;
}

TEST_F(RoutingUnitTest, ExpiredClaimOfADeadOwnerIsTakenOver) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  auto claimed = actions_.ClaimDue(Now(), "someone-who-dies", Now() + 60'000, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(executor_->RunDue(), 0);  // held by the other owner
  clock_.Advance(seconds(61));
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
}

}  // namespace
}  // namespace relayq::handlers
