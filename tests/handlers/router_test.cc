// Router on the real store (and, where the outcome is the executor's
// judgement at the deadline, the real executor against the fake GitHub API),
// fed GitHub's payload shapes through the decoder, with a fake clock. The
// regressions of issue 12 that are the router's: when a job is judged, from
// what time its queue wait counts, and what is recorded before the run is
// linked to its relayq request.
#include "handlers/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/time_format.h"
#include "github/http_github_client.h"
#include "handlers/action_executor.h"
#include "handlers/decode.h"
#include "policy/policy_loader.h"
#include "store/action_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/routing_fixtures.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::handlers {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kRepo[] = "octo-org/media-kit";
constexpr int64_t kRun = 11185212;
constexpr int64_t kJob = 29679449;
constexpr char kKey[] = "fallback:11185212:1";

// The kit's Mac route; `extra` adds keys to it.
std::string Policy(const std::string& extra = "") {
  return "routes:\n"
         "  transcribe:\n"
         "    match: { workflow: transcribe_mac.yml }\n"
         "    prefer: [macmini]\n"
         "    fallback: [rpi4]\n"
         "    queue_timeout: 5m\n"
         "    fallback_workflow: transcribe_rpi.yml\n" +
         extra;
}

class RouterTest : public ::testing::Test {
 protected:
  void Init(const std::string& policy_text, const std::string& db = "relayq.db") {
    actions_.reset();
    store_.reset();
    auto parsed = policy::ParsePolicy(policy_text, "policy.yaml");
    ASSERT_TRUE(parsed.ok());
    policy_ = std::make_unique<PolicyHolder>(parsed.policy);
    router_ = std::make_unique<Router>(*policy_);
    store::StoreOptions o;
    o.path = dir_.File(db);
    auto s = store::Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    store_->SetRoutingHook(router_.get(), nullptr);
    auto database = store::Database::Open(o);
    ASSERT_TRUE(database.ok());
    auto a = (*database)->OpenActionStore();
    ASSERT_TRUE(a.ok());
    actions_ = std::move(*a);
  }

  // The executor against the fake GitHub API, which knows the run and job.
  void StartExecutor() {
    auto fake = testing::FakeGitHubServer::Start();
    ASSERT_TRUE(fake.ok());
    github_ = std::move(*fake);
    testing::FakeRun run;
    run.id = kRun;
    run.repo = kRepo;
    run.workflow = "transcribe_mac.yml";
    github_->AddRun(run);
    testing::FakeJob job;
    job.id = kJob;
    job.repo = kRepo;
    job.run_id = kRun;
    job.labels = {"self-hosted", "macmini", "audio", "ffmpeg"};
    github_->AddJob(job);
    auto client = github::HttpGitHubClient::Create(testing::FakeGitHubClientOptions(github_->url()),
                                                   clock_, sleeper_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ExecutorOptions eo;
    eo.owner = "test";
    executor_ =
        std::make_unique<ActionExecutor>(*actions_, *client_, *policy_, clock_, metrics_, eo);
  }

  int64_t Now() { return ToUnixMillis(clock_.Now()); }

  void Deliver(const std::string& event, const std::string& guid, const std::string& body) {
    auto decoded = DecodePayload(event, body);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    store::Delivery d;
    d.id = guid;
    d.event = event;
    d.action = decoded->action;
    d.repository = decoded->repository;
    d.received_at = Now();
    d.outcome = store::Outcome::kAccepted;
    d.content_type = "application/json";
    d.body = body;
    d.job = decoded->job;
    d.run = decoded->run;
    auto r = store_->Ingest(std::move(d));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // transcribe_mac.yml run kRun, not tagged [relayq:ID].
  void DeliverRun(const std::string& guid = "run-requested") {
    testing::RunSpec run;
    run.run_id = kRun;
    run.repository = kRepo;
    run.path = ".github/workflows/transcribe_mac.yml";
    run.name = "transcribe_mac";
    run.created_at = run.updated_at = FormatRfc3339(Now());
    Deliver("workflow_run", guid, testing::WorkflowRunPayload(run));
  }

  testing::JobSpec Job(const std::string& action, int64_t created_at_ms, int64_t id = kJob) {
    testing::JobSpec job;
    job.job_id = id;
    job.run_id = kRun;
    job.repository = kRepo;
    job.action = action;
    job.created_at = FormatRfc3339(created_at_ms);
    return job;
  }

  // A relayq request for kRun's workflow, dispatched but not yet linked to
  // its run (the answer with the run id is recorded later: Link()).
  void CreateRequest(int64_t fallback_count) {
    store::DispatchRequest r;
    r.repository = kRepo;
    r.workflow = "transcribe_mac.yml";
    r.ref = "main";
    r.inputs = {{"url", "https://example.com/episode.mp3"}};
    r.fallback_count = fallback_count;
    auto created = actions_->CreateDispatch(r, "cli:1", Now(), Now() + 3600'000, dispatch_claim_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    request_id_ = created->id;
  }
  void Link() {
    ASSERT_TRUE(actions_->FinishDispatched(dispatch_claim_, request_id_, kRun, "{}", Now()).ok());
  }

  std::optional<store::ActionRecord> Action(const std::string& key = kKey) {
    auto a = actions_->GetActionByKey(key);
    EXPECT_TRUE(a.ok());
    return a.ok() ? *a : std::nullopt;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;  // starts at 2026-01-01T00:00:00Z, the payloads' created_at
  testing::FakeSleeper sleeper_{&clock_};
  MetricsRegistry metrics_;
  std::unique_ptr<PolicyHolder> policy_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::ActionStore> actions_;
  std::unique_ptr<testing::FakeGitHubServer> github_;
  std::unique_ptr<github::GitHubClient> client_;
  std::unique_ptr<ActionExecutor> executor_;
  store::Claim dispatch_claim_;  // the CLI's claim on the request's dispatch action
  int64_t request_id_ = 0;
};

// Regression (issue 12, case 7): queued_at was the job's created_at, so a job
// approved after a long environment wait was due (and cancelled) the moment
// it was approved.
TEST_F(RouterTest, JobApprovedAfterALongWaitIsDueQueueTimeoutAfterApproval) {
  Init(Policy("    unknown_inputs: dispatch\n"));
  const int64_t created = Now();
  DeliverRun();
  Deliver("workflow_job", "job-waiting", testing::WorkflowJobPayload(Job("waiting", created)));
  EXPECT_FALSE(Action().has_value());
  clock_.Advance(minutes(120));
  const int64_t approved = Now();
  Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", created)));
  auto a = Action();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, store::ActionStatus::kScheduled);
  EXPECT_EQ(a->due_at, approved + 5 * 60'000);
}

// Regression (issue 12, case 8): a job whose webhook arrived after its
// deadline was judged at once without runner status, and a needs_* route
// refused it for good (missing_capability). It is due now instead, to be
// judged by the executor with the runner status of that moment.
TEST_F(RouterTest, JobLateOnArrivalIsScheduledDueNowNotRefusedForCapabilities) {
  Init(Policy("    unknown_inputs: dispatch\n    constraints:\n      needs_ffmpeg: true\n"));
  const int64_t created = Now();
  clock_.Advance(minutes(12));
  DeliverRun();
  Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", created)));
  auto a = Action();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, store::ActionStatus::kScheduled) << a->last_error.value_or("");
  EXPECT_EQ(a->due_at, created + 5 * 60'000);
  EXPECT_LE(*a->due_at, Now());
  EXPECT_FALSE(a->last_error.has_value());
}

// Regression (issue 12, case 9): a run's governed jobs share one fallback;
// it was due at the deadline of whichever job's webhook came first, though a
// sibling had queued earlier.
TEST_F(RouterTest, TwoGovernedJobsOfARunShareOneFallbackDueAtTheEarliestDeadline) {
  Init(Policy("    unknown_inputs: dispatch\n"));
  const int64_t early = Now();
  DeliverRun();
  clock_.Advance(seconds(90));
  Deliver("workflow_job", "job-b", testing::WorkflowJobPayload(Job("queued", Now(), kJob + 1)));
  Deliver("workflow_job", "job-a", testing::WorkflowJobPayload(Job("queued", early, kJob)));
  auto a = Action();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, store::ActionStatus::kScheduled);
  EXPECT_EQ(a->due_at, early + 5 * 60'000);
  EXPECT_EQ(a->job_id, kJob);
  // A redelivery of the later job does not move it back.
  Deliver("workflow_job", "job-b-again",
          testing::WorkflowJobPayload(Job("queued", Now(), kJob + 1)));
  EXPECT_EQ(Action()->due_at, early + 5 * 60'000);
  EXPECT_EQ(Action()->job_id, kJob);
}

// Regression (issue 12, case 10): the run's jobs were judged before the
// dispatch answer linked the run to its request, and the job was refused
// for good as inputs_unknown; once linked, it falls back with its inputs.
TEST_F(RouterTest, JobOfARunLinkedLateFallsBackWithItsRequestsInputs) {
  Init(Policy());  // unknown_inputs: refuse, the default
  StartExecutor();
  CreateRequest(/*fallback_count=*/0);
  const int64_t created = Now();
  DeliverRun();
  Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", created)));
  ASSERT_TRUE(Action().has_value());
  EXPECT_EQ(Action()->status, store::ActionStatus::kScheduled) << Action()->last_error.value_or("");
  Link();
  clock_.Advance(minutes(5));
  EXPECT_GE(executor_->RunDue(), 1);
  EXPECT_EQ(Action()->status, store::ActionStatus::kDone) << Action()->last_error.value_or("");
  int replacements = 0;
  for (const auto& r : github_->runs()) {
    if (r.workflow != "transcribe_rpi.yml") continue;
    ++replacements;
    EXPECT_EQ(r.inputs.at("url"), "https://example.com/episode.mp3");
  }
  EXPECT_EQ(replacements, 1);
}

// Regression (issue 12, case 10): the job of a fallback run, linked late,
// was judged as if it had never fallen back. Judged once linked, the
// max_fallbacks guard holds and says so.
TEST_F(RouterTest, JobOfAFallbackRunLinkedLateIsRefusedForMaxFallbacks) {
  Init(Policy());
  StartExecutor();
  CreateRequest(/*fallback_count=*/1);
  DeliverRun();
  Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", Now())));
  ASSERT_TRUE(Action().has_value());
  EXPECT_EQ(Action()->status, store::ActionStatus::kScheduled);
  Link();
  clock_.Advance(minutes(5));
  EXPECT_GE(executor_->RunDue(), 1);
  auto a = Action();
  EXPECT_EQ(a->status, store::ActionStatus::kRefused);
  EXPECT_NE(a->last_error.value_or("").find("max_fallbacks"), std::string::npos)
      << a->last_error.value_or("");
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);
}

// Once linked at webhook time, a refusal is final and recorded at once.
TEST_F(RouterTest, LinkedFallbackRunIsRefusedAtOnce) {
  Init(Policy());
  CreateRequest(/*fallback_count=*/1);
  Link();
  DeliverRun();
  Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", Now())));
  auto a = Action();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, store::ActionStatus::kRefused);
  EXPECT_EQ(a->last_error, "max_fallbacks");
}

// Regression (issue 12, case 11): a job first reported pending (or
// requested) and then queued was never judged.
TEST_F(RouterTest, JobPendingThenQueuedIsJudgedFromWhenItQueued) {
  for (const char* first : {"pending", "requested"}) {
    SCOPED_TRACE(first);
    Init(Policy("    unknown_inputs: dispatch\n"), std::string(first) + ".db");
    const int64_t created = Now();
    DeliverRun();
    nlohmann::json pending =
        nlohmann::json::parse(testing::WorkflowJobPayload(Job("queued", created)));
    pending["workflow_job"]["status"] = first;
    Deliver("workflow_job", "job-pending", pending.dump());
    EXPECT_FALSE(Action().has_value());
    clock_.Advance(minutes(3));
    const int64_t queued = Now();
    Deliver("workflow_job", "job-queued", testing::WorkflowJobPayload(Job("queued", created)));
    auto a = Action();
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->status, store::ActionStatus::kScheduled);
    EXPECT_EQ(a->due_at, queued + 5 * 60'000);
  }
}

}  // namespace
}  // namespace relayq::handlers
