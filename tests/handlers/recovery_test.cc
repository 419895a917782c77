// Recovery: the pure steps (hook choice, GUID dedup, what is missing, when to
// reconcile) and RecoverRepository against the fake GitHub server and a real
// store in a temp dir.
#include "handlers/recovery.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "github/http_github_client.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::handlers {
namespace {

using github::Hook;
using github::HookDelivery;

Hook MakeHook(int64_t id, std::string url, std::vector<std::string> events) {
  Hook h;
  h.id = id;
  h.url = std::move(url);
  h.events = std::move(events);
  h.active = true;
  h.content_type = "json";
  return h;
}

HookDelivery Attempt(int64_t id, std::string guid, std::string event, int64_t at_ms,
                     int status_code = 502) {
  HookDelivery d;
  d.id = id;
  d.guid = std::move(guid);
  d.event = std::move(event);
  d.delivered_at_ms = at_ms;
  d.status_code = status_code;
  return d;
}

TEST(SelectRelayqHookTest, PicksByUrlWhenGiven) {
  std::vector<Hook> hooks = {MakeHook(1, "https://a/webhook", {"workflow_job"}),
                             MakeHook(2, "https://b/webhook", {"workflow_job"})};
  auto h = SelectRelayqHook(hooks, "https://b/webhook");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id, 2);
  EXPECT_EQ(SelectRelayqHook(hooks, "https://c/webhook").status().code(), Status::Code::kNotFound);
}

TEST(SelectRelayqHookTest, WithoutUrlTakesTheOnlyHookSendingWorkflowJob) {
  std::vector<Hook> hooks = {
      MakeHook(1, "https://ci/push", {"push"}),
      MakeHook(2, "https://relayq/webhook", {"workflow_run", "workflow_job"})};
  auto h = SelectRelayqHook(hooks, "");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id, 2);
}

TEST(SelectRelayqHookTest, WildcardHookCounts) {
  auto h = SelectRelayqHook({MakeHook(7, "https://x", {"*"})}, "");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->id, 7);
}

TEST(SelectRelayqHookTest, SeveralCandidatesAskForUrl) {
  std::vector<Hook> hooks = {MakeHook(1, "https://a", {"workflow_job"}),
                             MakeHook(2, "https://b", {"*"})};
  auto h = SelectRelayqHook(hooks, "");
  EXPECT_EQ(h.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(h.status().message().find("--url"), std::string::npos);
}

TEST(SelectRelayqHookTest, NoneIsNotFound) {
  EXPECT_EQ(SelectRelayqHook({MakeHook(1, "https://a", {"push"})}, "").status().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(SelectRelayqHook({}, "").status().code(), Status::Code::kNotFound);
}

TEST(UniqueRecoverableDeliveriesTest, GuidWithSeveralAttemptsCountsOnceWithNewestAttempt) {
  // Newest first, as GitHub lists them: B failed, was redelivered and failed again.
  std::vector<HookDelivery> listed = {
      Attempt(30, "B", "workflow_job", 3000), Attempt(20, "C", "workflow_run", 2000),
      Attempt(15, "B", "workflow_job", 1500), Attempt(10, "A", "workflow_job", 1000)};
  auto unique = UniqueRecoverableDeliveries(listed, 0);
  ASSERT_EQ(unique.size(), 3u);
  EXPECT_EQ(unique[0].guid, "B");
  EXPECT_EQ(unique[0].id, 30);
  EXPECT_EQ(unique[1].guid, "C");
  EXPECT_EQ(unique[2].guid, "A");
}

TEST(UniqueRecoverableDeliveriesTest, SkipsPingAndOtherEvents) {
  std::vector<HookDelivery> listed = {Attempt(3, "P", "ping", 10), Attempt(2, "Q", "push", 10),
                                      Attempt(1, "J", "workflow_job", 10)};
  auto unique = UniqueRecoverableDeliveries(listed, 0);
  ASSERT_EQ(unique.size(), 1u);
  EXPECT_EQ(unique[0].guid, "J");
}

TEST(UniqueRecoverableDeliveriesTest, DropsAttemptsBeforeSince) {
  std::vector<HookDelivery> listed = {Attempt(2, "new", "workflow_job", 5000),
                                      Attempt(1, "old", "workflow_job", 1000)};
  auto unique = UniqueRecoverableDeliveries(listed, 2000);
  ASSERT_EQ(unique.size(), 1u);
  EXPECT_EQ(unique[0].guid, "new");
}

TEST(MissingDeliveriesTest, OnlyGuidsNotRecorded) {
  std::vector<HookDelivery> unique = {Attempt(3, "C", "workflow_job", 0),
                                      Attempt(2, "B", "workflow_job", 0),
                                      Attempt(1, "A", "workflow_job", 0)};
  auto missing = MissingDeliveries(unique, {"A"});
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].guid, "C");
  EXPECT_EQ(missing[1].guid, "B");
  EXPECT_TRUE(MissingDeliveries(unique, {"A", "B", "C"}).empty());
}

TEST(NeedsReconcileTest, OnlyWhenGitHubIsAhead) {
  struct Case {
    const char* recorded;
    const char* api;
    bool want;
  } cases[] = {
      {"in_progress", "completed", true}, {"queued", "in_progress", true},
      {"queued", "completed", true},      {"in_progress", "in_progress", false},
      {"in_progress", "queued", false},   {"queued", "queued", false},
      {"pending", "queued", true},        {"queued", "pending", false},
  };
  for (const auto& c : cases) {
    store::JobState s;
    s.status = c.recorded;
    github::WorkflowJob api;
    api.status = c.api;
    EXPECT_EQ(NeedsReconcile(s, api), c.want) << c.recorded << " vs " << c.api;
  }
}

TEST(ReconcileDeliveryTest, CarriesTheApiAnswerAndAStableId) {
  store::JobState s;
  s.id = 42;
  s.run_id = 7;
  s.repository = "Octo/Kit";
  s.status = "in_progress";
  s.labels = {"self-hosted", "macmini"};
  github::WorkflowJob api;
  api.id = 42;
  api.run_id = 7;
  api.status = "completed";
  api.conclusion = "success";
  api.runner_name = "mini";
  api.completed_at_ms = 1767225600000;
  store::Delivery d = ReconcileDelivery(s, api, 1767225700000);
  EXPECT_EQ(d.id, "reconcile-42-completed");
  EXPECT_EQ(d.event, "relayq_reconcile");
  EXPECT_EQ(d.outcome, store::Outcome::kAccepted);
  EXPECT_EQ(d.repository, "Octo/Kit");
  EXPECT_EQ(d.received_at, 1767225700000);
  ASSERT_TRUE(d.job.has_value());
  EXPECT_EQ(d.job->status, "completed");
  EXPECT_EQ(d.job->conclusion, "success");
  EXPECT_EQ(d.job->runner_name, "mini");
  EXPECT_EQ(d.job->labels, s.labels);  // the API sent none: keep what was recorded
  EXPECT_EQ(d.job->completed_at, 1767225600000);
  EXPECT_FALSE(d.job->started_at.has_value());
  auto body = nlohmann::json::parse(d.body);
  EXPECT_EQ(body["status"], "completed");
  EXPECT_EQ(body["conclusion"], "success");
  EXPECT_EQ(body["completed_at"], "2026-01-01T00:00:00Z");
}

// RecoverRepository end to end in one process: the fake GitHub API, the
// real HTTP client and a real store.
class RecoverRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FakeGitHubServer::Options fo;
    fo.clock = &clock_;
    fo.max_per_page = 2;  // several pages even for a handful of deliveries
    auto fake = testing::FakeGitHubServer::Start(fo);
    ASSERT_TRUE(fake.ok()) << fake.status().ToString();
    fake_ = std::move(*fake);
    github::ClientOptions o;
    o.api_url = fake_->url();
    o.token = "t0ken";
    o.write_interval = std::chrono::milliseconds(0);
    o.random = [] { return 0.0; };
    auto client = github::HttpGitHubClient::Create(o, clock_, sleeper_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
    store::StoreOptions so;
    so.path = dir_.File("relayq.db");
    auto st = store::Store::Open(so, clock_);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
    testing::FakeHook hook;
    hook.repo = "octo/kit";
    hook.url = "https://relayq.example/webhook";
    hook.events = {"workflow_job", "workflow_run"};
    hook_id_ = fake_->AddHook(hook);
  }

  int64_t AddDelivery(const std::string& guid, const std::string& event = "workflow_job") {
    testing::FakeDelivery d;
    d.hook_id = hook_id_;
    d.guid = guid;
    d.event = event;
    return fake_->AddDelivery(d);
  }

  void Record(const std::string& guid) {
    store::Delivery d;
    d.id = guid;
    d.event = "workflow_job";
    d.action = "queued";
    d.repository = "octo/kit";
    d.received_at = ToUnixMillis(clock_.Now());
    d.outcome = store::Outcome::kIgnored;
    ASSERT_TRUE(store_->Ingest(d).ok());
  }

  RecoveryOptions Options() {
    RecoveryOptions o;
    o.repository = "octo/kit";
    o.since_ms = ToUnixMillis(clock_.Now()) - 24 * 3600 * 1000;
    o.db_path = dir_.File("relayq.db");
    return o;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  testing::FakeSleeper sleeper_{&clock_};
  std::unique_ptr<testing::FakeGitHubServer> fake_;
  std::unique_ptr<github::GitHubClient> client_;
  std::unique_ptr<store::Store> store_;
  int64_t hook_id_ = 0;
};

TEST_F(RecoverRepositoryTest, RedeliversExactlyTheUnrecordedGuidsOnce) {
  AddDelivery("A");
  int64_t b1 = AddDelivery("B");
  AddDelivery("C", "workflow_run");
  int64_t b2 = AddDelivery("B");  // B failed twice
  AddDelivery("P", "ping");
  Record("A");

  auto report = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->hook_id, hook_id_);
  EXPECT_EQ(report->unique, 3);
  EXPECT_EQ(report->missing, 2);
  EXPECT_EQ(report->redelivered, 2);
  EXPECT_EQ(report->redelivery_failed, 0);
  auto redelivered = fake_->redeliveries();
  ASSERT_EQ(redelivered.size(), 2u);
  std::set<int64_t> ids;
  for (const auto& r : redelivered) ids.insert(r.delivery_id);
  EXPECT_EQ(ids.count(b1), 0u);  // the newest attempt of B, not the old one
  EXPECT_EQ(ids.count(b2), 1u);
  // One request per page at most two deliveries a page: every page was read.
  EXPECT_GE(fake_->CountCalls("GET", "/deliveries"), 3);
}

TEST_F(RecoverRepositoryTest, NothingMissingRedeliversNothing) {
  AddDelivery("A");
  Record("A");
  auto report = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->missing, 0);
  EXPECT_TRUE(fake_->redeliveries().empty());
}

TEST_F(RecoverRepositoryTest, StopsPagingAtSince) {
  AddDelivery("old-1");
  AddDelivery("old-2");
  AddDelivery("old-3");
  clock_.Advance(std::chrono::hours(48));
  AddDelivery("new");
  auto report = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->unique, 1);
  ASSERT_EQ(fake_->redeliveries().size(), 1u);
  // Page 1 holds "new" and "old-3"; "old-3" is past since, so no page 2.
  EXPECT_EQ(fake_->CountCalls("GET", "/deliveries"), 1);
}

TEST_F(RecoverRepositoryTest, ReconcilesAStaleJobGitHubReportsCompleted) {
  testing::FakeJob job;
  job.repo = "octo/kit";
  job.run_id = 5;
  job.status = "completed";
  job.conclusion = "success";
  job.runner_name = "mini";
  job.labels = {"self-hosted", "macmini"};
  int64_t job_id = fake_->AddJob(job);

  store::Delivery d;
  d.id = "started";
  d.event = "workflow_job";
  d.action = "in_progress";
  d.repository = "octo/kit";
  d.received_at = ToUnixMillis(clock_.Now());
  store::JobEvent e;
  e.job_id = job_id;
  e.run_id = 5;
  e.repository = "octo/kit";
  e.labels = {"self-hosted", "macmini"};
  e.action = "in_progress";
  e.status = "in_progress";
  e.runner_name = "mini";
  d.job = e;
  ASSERT_TRUE(store_->Ingest(d).ok());

  // Not stale yet: nothing is checked.
  auto early = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->jobs_checked, 0);

  clock_.Advance(std::chrono::minutes(10));
  auto report = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->jobs_checked, 1);
  EXPECT_EQ(report->reconciled, 1);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(
      db.Value("SELECT status || '/' || conclusion FROM jobs WHERE id = " + std::to_string(job_id)),
      "completed/success");
  EXPECT_EQ(db.Value("SELECT event || '/' || outcome FROM deliveries WHERE id = 'reconcile-" +
                     std::to_string(job_id) + "-completed'"),
            "relayq_reconcile/accepted");

  // Converged: a second pass finds nothing stale.
  auto again = RecoverRepository(*client_, *store_, clock_, Options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->jobs_checked, 0);
  EXPECT_EQ(again->reconciled, 0);
}

TEST_F(RecoverRepositoryTest, MissingHookFailsClearly) {
  auto o = Options();
  o.hook_url = "https://elsewhere/webhook";
  auto report = RecoverRepository(*client_, *store_, clock_, o);
  EXPECT_EQ(report.status().code(), Status::Code::kNotFound);
}

TEST_F(RecoverRepositoryTest, StopRequestedReturnsInterrupted) {
  AddDelivery("B");
  StopSource stop;
  stop.Stop();
  auto report = RecoverRepository(*client_, *store_, clock_, Options(), stop.token());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->interrupted);
  EXPECT_TRUE(fake_->redeliveries().empty());
}

}  // namespace
}  // namespace relayq::handlers
