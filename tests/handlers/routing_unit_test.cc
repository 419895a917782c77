// Router + ActionExecutor on a real store and a fake GitHub API, with a fake
// clock: queue timeouts are crossed by advancing the clock, never by
// sleeping.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "github/http_github_client.h"
#include "handlers/action_executor.h"
#include "handlers/router.h"
#include "policy/policy_loader.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

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

    store::StoreOptions o;
    o.path = dir_.File("relayq.db");
    auto s = store::Store::Open(o, clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    store_->SetRoutingHook(router_.get(), nullptr);
    auto a = store::ActionStore::Open(o.path);
    ASSERT_TRUE(a.ok());
    actions_ = std::move(*a);

    auto fake = testing::FakeGitHubServer::Start();
    ASSERT_TRUE(fake.ok());
    github_ = std::move(*fake);
    github::ClientOptions co;
    co.api_url = github_->url();
    co.token = "t";
    co.write_interval = milliseconds(0);
    co.random = [] { return 0.5; };
    auto client = github::HttpGitHubClient::Create(co, clock_, sleeper_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ExecutorOptions eo;
    eo.owner = "test";
    executor_ = std::make_unique<ActionExecutor>(*actions_, *client_, *policy_, clock_, metrics_, eo);
  }

  int64_t Now() { return ToUnixMillis(clock_.Now()); }

  void Record(const std::string& id, store::Delivery d) {
    d.id = id;
    d.received_at = Now();
    auto r = store_->Ingest(std::move(d));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
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

    store::Delivery rd;
    rd.event = "workflow_run";
    rd.repository = "octo/kit";
    store::RunEvent re;
    re.run_id = run_id;
    re.repository = "octo/kit";
    re.workflow_path = ".github/workflows/transcribe_mac.yml";
    re.status = re.action = "queued";
    re.head_branch = "main";
    re.updated_at = Now();
    rd.run = re;
    Record("run-" + std::to_string(run_id), rd);

    store::Delivery jd;
    jd.event = "workflow_job";
    jd.repository = "octo/kit";
    store::JobEvent je;
    je.job_id = job_id;
    je.run_id = run_id;
    je.repository = "octo/kit";
    je.labels = {"self-hosted", "macmini"};
    je.status = je.action = "queued";
    je.created_at = Now();
    jd.job = je;
    Record("job-" + std::to_string(job_id), jd);
  }

  std::string Status(const std::string& key) {
    auto a = actions_->GetActionByKey(key);
    return a.ok() && *a ? (*a)->status : "";
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  testing::FakeSleeper sleeper_{&clock_};
  MetricsRegistry metrics_;
  std::unique_ptr<PolicyHolder> policy_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::ActionStore> actions_;
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
  auto next = actions_->NextDueTime();
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
  auto a = actions_->GetActionByKey("fallback:100:1");
  ASSERT_TRUE(a.ok() && *a);
  EXPECT_EQ((*a)->status, "pending");
  EXPECT_EQ((*a)->attempts, 1);
  EXPECT_GT(*(*a)->next_attempt_at, Now());
  // Not before the backoff has passed.
  EXPECT_EQ(executor_->RunDue(), 0);
  clock_.Advance(milliseconds(*(*a)->next_attempt_at - Now()));
  EXPECT_EQ(executor_->RunDue(), 1);
  a = actions_->GetActionByKey("fallback:100:1");
  EXPECT_EQ((*a)->status, "pending");
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
  auto a = actions_->GetActionByKey("fallback:100:1");
  const int64_t request = nlohmann::json::parse(*(*a)->result)["request_id"].get<int64_t>();
  // Rewind the store to the moment before the answer was recorded.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("relayq.db").c_str(), &db), SQLITE_OK);
    std::string sql =
        "UPDATE actions SET status = 'pending', next_attempt_at = 0, result = "
        "json_object('stage', 'dispatching', 'request_id', " + std::to_string(request) +
        ", 'sends', 1) WHERE key = 'fallback:100:1'; UPDATE dispatch_requests SET status = "
        "'pending', run_id = NULL WHERE id = " + std::to_string(request) + ";";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  github_->ClearCalls();
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
  EXPECT_EQ(github_->CountCalls("POST", "/dispatches"), 0);
  auto r = actions_->GetRequest(request);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->status, "dispatched");
  EXPECT_TRUE((*r)->run_id.has_value());
}

TEST_F(RoutingUnitTest, PermanentFailureFailsWithTheReason) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  github_->FailNext("/dispatches", 1, 404);
  executor_->RunDue();
  auto a = actions_->GetActionByKey("fallback:100:1");
  EXPECT_EQ((*a)->status, "failed");
  EXPECT_NE((*a)->last_error->find("404"), std::string::npos) << *(*a)->last_error;
}

TEST_F(RoutingUnitTest, ExpiredClaimOfADeadOwnerIsTakenOver) {
  QueueJob(100, 1000);
  clock_.Advance(seconds(5 * 60));
  auto claimed = actions_->ClaimDue(Now(), "someone-who-dies", Now() + 60'000, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(executor_->RunDue(), 0);  // held by the other owner
  clock_.Advance(seconds(61));
  EXPECT_EQ(executor_->RunDue(), 1);
  EXPECT_EQ(Status("fallback:100:1"), "done");
}

}  // namespace
}  // namespace relayq::handlers
