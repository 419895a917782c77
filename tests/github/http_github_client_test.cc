// Tests of HttpGitHubClient against FakeGitHubServer on loopback. Time and
// waiting are faked: FakeSleeper records each wait and advances FakeClock.
#include "github/http_github_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_github_server.h"
#include "tests/fakes/fake_sleeper.h"

namespace relayq::github {
namespace {

using relayq::testing::FakeClock;
using relayq::testing::FakeDelivery;
using relayq::testing::FakeGitHubServer;
using relayq::testing::FakeHook;
using relayq::testing::FakeJob;
using relayq::testing::FakeRun;
using relayq::testing::FakeRunner;
using relayq::testing::FakeSleeper;
using std::chrono::milliseconds;

constexpr char kRepo[] = "octo/kit";
constexpr char kToken[] = "ghp_TESTTOKEN_0123456789_do_not_leak";

int64_t NowUnix(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

class GitHubClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartFake(FakeGitHubServer::Options{}); }

  void StartFake(FakeGitHubServer::Options options) {
    fake_.reset();
    options.clock = &clock_;
    auto fake = FakeGitHubServer::Start(options);
    ASSERT_TRUE(fake.ok()) << fake.status().ToString();
    fake_ = std::move(fake).value();
  }

  // Options for a token client of the fake: no pacing, predictable jitter
  // (always half of the backoff cap).
  ClientOptions Options() {
    ClientOptions o;
    o.api_url = fake_->url();
    o.token = kToken;
    o.user_agent = "relayq/test";
    o.write_interval = milliseconds(0);
    o.max_attempts = 5;
    o.backoff_base = milliseconds(1000);
    o.backoff_max = milliseconds(60000);
    o.random = [] { return 0.5; };
    o.read_timeout = milliseconds(5000);
    // These tests exercise the waiting logic itself; the default cap (a
    // quarter of the executor's lease) is tested apart.
    o.max_rate_limit_wait = milliseconds(15 * 60 * 1000);
    return o;
  }

  std::unique_ptr<GitHubClient> MakeClient(const ClientOptions& options) {
    auto client = HttpGitHubClient::Create(options, clock_, sleeper_);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  std::unique_ptr<GitHubClient> MakeClient() { return MakeClient(Options()); }

  int64_t AddQueuedRun() {
    FakeRun run;
    run.repo = kRepo;
    return fake_->AddRun(run);
  }

  // The next GET of a run succeeds but says no requests are left until
  // `reset` (Unix seconds).
  void AnswerNextRunWithNoRequestsLeft(int64_t reset) {
    relayq::testing::FailureRule rule;
    rule.path_contains = "/actions/runs/";
    rule.status = 200;
    rule.body = R"({"id": 1})";
    rule.headers = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(reset)}};
    fake_->AddFailure(rule);
  }

  FakeClock clock_;
  FakeSleeper sleeper_{&clock_};
  std::unique_ptr<FakeGitHubServer> fake_;
};

TEST_F(GitHubClientTest, SendsGitHubsRecommendedHeaders) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  auto calls = fake_->CallsTo("GET", "/actions/runs/");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].Header("Accept"), "application/vnd.github+json");
  EXPECT_EQ(calls[0].Header("X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(calls[0].Header("User-Agent"), "relayq/test");
  EXPECT_EQ(calls[0].Header("Authorization"), std::string("Bearer ") + kToken);
}

// Reads are retried; a dispatch is not (see the OutcomeUnknown tests below:
// a 5xx may come after GitHub acted, and resending started a second run).
TEST_F(GitHubClientTest, ThreeServerErrorsThenSuccessReadsOnceWithBackoff) {
  auto client = MakeClient();
  const int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", 3, 500);
  auto result = client->GetRun(kRepo, id);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 4);
  // Full jitter with the random source fixed at 0.5: half of 1 s, 2 s, 4 s.
  auto waits = sleeper_.nonzero_waits();
  ASSERT_EQ(waits.size(), 3u);
  EXPECT_EQ(waits[0], milliseconds(500));
  EXPECT_LT(waits[0], waits[1]);
  EXPECT_LT(waits[1], waits[2]);
  ClientStats stats = client->Stats();
  EXPECT_EQ(stats.responses_by_status[500], 3);
  EXPECT_EQ(stats.responses_by_status[200], 1);
  EXPECT_EQ(stats.retries, 3);
}

// Issue 12, case 2: the client resent a dispatch after a 5xx, and the first
// one had started a run.
TEST_F(GitHubClientTest, DispatchAnswered5xxIsNotResentAndItsOutcomeIsUnknown) {
  auto client = MakeClient();
  relayq::testing::FailureRule rule;
  rule.path_contains = "/dispatches";
  rule.status = 502;
  rule.after_work = true;
  fake_->AddFailure(rule);
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kOutcomeUnknown);
  EXPECT_EQ(fake_->CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(fake_->runs().size(), 1u);
  EXPECT_TRUE(sleeper_.nonzero_waits().empty());
}

TEST_F(GitHubClientTest, DispatchWhoseAnswerIsLostIsNotResentAndItsOutcomeIsUnknown) {
  auto client = MakeClient();
  relayq::testing::FailureRule rule;
  rule.path_contains = "/dispatches";
  rule.after_work = true;
  rule.drop = true;
  fake_->AddFailure(rule);
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kOutcomeUnknown);
  EXPECT_EQ(fake_->CountCalls("POST", "/dispatches"), 1);
  EXPECT_EQ(fake_->runs().size(), 1u);
}

TEST_F(GitHubClientTest, CancelWhoseAnswerIsLostIsNotResentAndItsOutcomeIsUnknown) {
  auto client = MakeClient();
  const int64_t id = AddQueuedRun();
  relayq::testing::FailureRule rule;
  rule.path_contains = "/cancel";
  rule.after_work = true;
  rule.drop = true;
  fake_->AddFailure(rule);
  EXPECT_EQ(client->CancelRun(kRepo, id).code(), Status::Code::kOutcomeUnknown);
  EXPECT_EQ(fake_->CountCalls("POST", "/cancel"), 1);
  EXPECT_EQ(fake_->GetRun(id)->conclusion, "cancelled");
}

TEST_F(GitHubClientTest, RateLimitedDispatchIsNotResentAndSaysRateLimited) {
  auto client = MakeClient();
  fake_->FailNext("/dispatches", 1, 429, {{"Retry-After", "3"}});
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kRateLimited);
  EXPECT_EQ(fake_->CountCalls("POST", "/dispatches"), 1);
  EXPECT_TRUE(fake_->runs().empty());
}

TEST_F(GitHubClientTest, DispatchThatCannotConnectIsUnavailableNotUnknown) {
  ClientOptions o = Options();
  fake_.reset();
  auto client = MakeClient(o);
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kUnavailable);
}

// A rate-limit pause is measured on the monotonic clock: an NTP step back by
// an hour neither lengthens it nor turns it into a refusal.
TEST_F(GitHubClientTest, WallClockStepDoesNotLengthenARateLimitPause) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  const int64_t reset = NowUnix(clock_) + 20;
  AnswerNextRunWithNoRequestsLeft(reset);
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  clock_.SetWall(clock_.Now() - std::chrono::hours(1));
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(sleeper_.nonzero_waits(), std::vector<milliseconds>{milliseconds(20000)});
}

TEST_F(GitHubClientTest, DefaultOptionsNeverWaitLongerThanAQuarterOfTheLease) {
  ClientOptions o;
  EXPECT_LE(o.max_rate_limit_wait, milliseconds(15000));
  EXPECT_LE(o.backoff_max, milliseconds(15000));
}

// Issue 12, case 12: SIGTERM with GitHub answering Retry-After kept relayq
// waiting and sending. Real time: the stop must end the wait at once.
TEST_F(GitHubClientTest, StopEndsARetryAfterWaitAndSendsNothingMore) {
  StoppableSleeper stoppable;
  ClientOptions o = Options();
  auto made = HttpGitHubClient::Create(o, clock_, stoppable);
  ASSERT_TRUE(made.ok());
  auto client = std::move(made).value();
  const int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", -1, 429, {{"Retry-After", "120"}});
  std::thread stopper([&] {
    while (fake_->CountCalls("GET", "/actions/runs/") == 0) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    stoppable.Stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto run = client->GetRun(kRepo, id);
  const auto took = std::chrono::steady_clock::now() - t0;
  stopper.join();
  ASSERT_FALSE(run.ok());
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 1);
  EXPECT_EQ(client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true).status().code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(fake_->CountCalls("POST", "/dispatches"), 0);
}

TEST_F(GitHubClientTest, BackoffIsCappedAtTheMaximum) {
  ClientOptions o = Options();
  o.max_attempts = 6;
  o.backoff_max = milliseconds(3000);
  o.random = [] { return 1.0; };
  auto client = MakeClient(o);
  fake_->FailNext("/actions/runs", 5, 502);
  int64_t id = AddQueuedRun();
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  auto waits = sleeper_.nonzero_waits();
  ASSERT_EQ(waits.size(), 5u);
  EXPECT_EQ(waits[0], milliseconds(1000));
  EXPECT_EQ(waits[1], milliseconds(2000));
  EXPECT_EQ(waits[2], milliseconds(3000));
  EXPECT_EQ(waits[4], milliseconds(3000));
}

TEST_F(GitHubClientTest, GivesUpAsUnavailableWhenServerErrorsPersist) {
  ClientOptions o = Options();
  o.max_attempts = 3;
  auto client = MakeClient(o);
  const int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", -1, 503);
  auto result = client->GetRun(kRepo, id);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(result.status().message().find("3 attempts"), std::string::npos);
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 3);
}

TEST_F(GitHubClientTest, HonoursRetryAfterOn429) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", 1, 429, {{"Retry-After", "7"}});
  auto run = client->GetRun(kRepo, id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->id, id);
  EXPECT_EQ(sleeper_.nonzero_waits(), std::vector<milliseconds>{milliseconds(7000)});
  EXPECT_EQ(client->Stats().rate_limit_waits, 1);
}

TEST_F(GitHubClientTest, WaitsUntilResetWhenRateLimitRemainingIsZero) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  const int64_t reset = NowUnix(clock_) + 30;
  fake_->FailNext("/actions/runs/", 1, 403,
                  {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(reset)}},
                  R"({"message":"API rate limit exceeded for installation."})");
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(sleeper_.nonzero_waits(), std::vector<milliseconds>{milliseconds(30000)});
  EXPECT_GE(NowUnix(clock_), reset);
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 2);
}

TEST_F(GitHubClientTest, SuccessfulAnswerWithNoRequestsLeftHoldsTheNextCall) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  const int64_t reset = NowUnix(clock_) + 20;
  AnswerNextRunWithNoRequestsLeft(reset);
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_TRUE(sleeper_.nonzero_waits().empty());
  EXPECT_EQ(client->Stats().rate_limit_remaining, 0);
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(sleeper_.nonzero_waits(), std::vector<milliseconds>{milliseconds(20000)});
}

TEST_F(GitHubClientTest, SecondaryRateLimitWaitsAtLeastAMinute) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", 1, 403, {},
                  R"({"message":"You have exceeded a secondary rate limit. Please wait."})");
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  auto waits = sleeper_.nonzero_waits();
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_GE(waits[0], milliseconds(60000));
}

TEST_F(GitHubClientTest, RateLimitTooFarAwayFailsWithoutWaiting) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  const int64_t reset = NowUnix(clock_) + 2 * 3600;
  fake_->FailNext("/actions/runs/", 1, 403,
                  {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(reset)}});
  auto run = client->GetRun(kRepo, id);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kRateLimited);
  EXPECT_TRUE(sleeper_.nonzero_waits().empty());
  // The limit is remembered: the next call does not even reach GitHub.
  EXPECT_EQ(client->GetRun(kRepo, id).status().code(), Status::Code::kRateLimited);
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 1);
}

TEST_F(GitHubClientTest, PersistentRateLimitEndsAsRateLimited) {
  ClientOptions o = Options();
  o.max_attempts = 3;
  auto client = MakeClient(o);
  int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", -1, 429, {{"Retry-After", "5"}});
  auto run = client->GetRun(kRepo, id);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kRateLimited);
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs/"), 3);
}

struct NonRetryableCase {
  int http_status;
  Status::Code code;
};

class NonRetryableTest : public GitHubClientTest,
                         public ::testing::WithParamInterface<NonRetryableCase> {};

TEST_P(NonRetryableTest, IsNotRetriedAndSaysWhy) {
  auto client = MakeClient();
  fake_->FailNext("/dispatches", 1, GetParam().http_status, {}, R"({"message":"nope"})");
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, false);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), GetParam().code);
  EXPECT_NE(result.status().message().find("not retried"), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("nope"), std::string::npos);
  EXPECT_EQ(fake_->CountCalls("POST", "/dispatches"), 1);
  EXPECT_TRUE(sleeper_.nonzero_waits().empty());
}

INSTANTIATE_TEST_SUITE_P(ErrorPolicy, NonRetryableTest,
                         ::testing::Values(NonRetryableCase{401, Status::Code::kPermissionDenied},
                                           NonRetryableCase{403, Status::Code::kPermissionDenied},
                                           NonRetryableCase{404, Status::Code::kNotFound},
                                           NonRetryableCase{400, Status::Code::kInvalidArgument},
                                           NonRetryableCase{422, Status::Code::kInvalidArgument}),
                         [](const auto& info) {
                           return "Http" + std::to_string(info.param.http_status);
                         });

TEST_F(GitHubClientTest, CancelOfCompletedRunIsConflict) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->SetRunStatus(id, "completed", "success");
  Status s = client->CancelRun(kRepo, id);
  EXPECT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("not cancellable"), std::string::npos);
  EXPECT_EQ(fake_->CountCalls("POST", "/cancel"), 1);
}

TEST_F(GitHubClientTest, CancelOfStartedRunIsConflictWhenGitHubSaysSo) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->SetRunStatus(id, "in_progress");
  fake_->SetCancelConflictWhenInProgress(true);
  EXPECT_EQ(client->CancelRun(kRepo, id).code(), Status::Code::kConflict);
}

TEST_F(GitHubClientTest, CancelOfQueuedRunSucceeds) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  Status s = client->CancelRun(kRepo, id);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(fake_->GetRun(id)->conclusion, "cancelled");
  EXPECT_EQ(client->CancelRun(kRepo, 999999).code(), Status::Code::kNotFound);
}

TEST_F(GitHubClientTest, DispatchWithRunDetailsReturnsTheRunId) {
  auto client = MakeClient();
  auto result = client->DispatchWorkflow(kRepo, "transcribe_mac.yml", "main",
                                         {{"url", "u"}, {"relayq_id", "rq-1"}}, true);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(fake_->runs().size(), 1u);
  FakeRun run = fake_->runs()[0];
  ASSERT_TRUE(result->run_id.has_value());
  EXPECT_EQ(*result->run_id, run.id);
  EXPECT_FALSE(result->run_details_unsupported);
  ASSERT_TRUE(result->html_url.has_value());
  EXPECT_NE(result->html_url->find(std::to_string(run.id)), std::string::npos);
  EXPECT_TRUE(result->run_url.has_value());
  EXPECT_EQ(run.inputs.at("relayq_id"), "rq-1");
  EXPECT_EQ(run.ref, "main");
  auto calls = fake_->CallsTo("POST", "/actions/workflows/transcribe_mac.yml/dispatches");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_NE(calls[0].body.find("\"return_run_details\":true"), std::string::npos);
  EXPECT_EQ(calls[0].Header("Content-Type"), "application/json");

  // The run is readable and carries relayq_id in its display title.
  auto got = client->GetRun(kRepo, run.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, "queued");
  EXPECT_EQ(got->path, ".github/workflows/transcribe_mac.yml");
  EXPECT_NE(got->display_title.find("rq-1"), std::string::npos);
  EXPECT_GT(got->created_at_ms, 0);
}

TEST_F(GitHubClientTest, DispatchWithoutRunDetailsGetsNoContent) {
  auto client = MakeClient();
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, false);
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->run_id.has_value());
  EXPECT_EQ(fake_->CallsTo("POST", "/dispatches")[0].body.find("return_run_details"),
            std::string::npos);
}

class OldGhesTest : public GitHubClientTest, public ::testing::WithParamInterface<int> {};

TEST_P(OldGhesTest, RetriesOnceWithoutReturnRunDetails) {
  auto client = MakeClient();
  fake_->SetOldGhes(true, GetParam());
  auto result = client->DispatchWorkflow(kRepo, "x.yml", "main", {{"url", "u"}}, true);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->run_id.has_value());
  EXPECT_TRUE(result->run_details_unsupported);
  auto calls = fake_->CallsTo("POST", "/dispatches");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[0].body.find("return_run_details"), std::string::npos);
  EXPECT_EQ(calls[1].body.find("return_run_details"), std::string::npos);
  EXPECT_EQ(fake_->runs().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Statuses, OldGhesTest, ::testing::Values(400, 422));

TEST_F(GitHubClientTest, ListRunsWithStatusFiltersAndPaginates) {
  FakeGitHubServer::Options fo;
  fo.max_per_page = 2;
  StartFake(fo);
  auto client = MakeClient();
  std::vector<int64_t> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(AddQueuedRun());
  int64_t done = AddQueuedRun();
  fake_->SetRunStatus(done, "completed", "success");
  auto runs = client->ListRunsWithStatus(kRepo, "queued");
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].id, queued[2]);  // newest first
  EXPECT_EQ(fake_->CountCalls("GET", "/actions/runs"), 2);
  EXPECT_NE(fake_->CallsTo("GET", "/actions/runs")[1].query.find("status=queued"),
            std::string::npos);
}

TEST_F(GitHubClientTest, GetJobDecodesLabelsAndRunner) {
  auto client = MakeClient();
  int64_t run = AddQueuedRun();
  FakeJob job;
  job.repo = kRepo;
  job.run_id = run;
  job.labels = {"self-hosted", "macmini"};
  int64_t id = fake_->AddJob(job);
  auto got = client->GetJob(kRepo, id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->run_id, run);
  EXPECT_EQ(got->labels, (std::vector<std::string>{"self-hosted", "macmini"}));
  EXPECT_EQ(got->runner_name, "");  // null while queued
  EXPECT_EQ(got->conclusion, "");
  fake_->SetJobStatus(id, "in_progress", "mac-mini-1");
  got = client->GetJob(kRepo, id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->runner_name, "mac-mini-1");
  EXPECT_EQ(got->status, "in_progress");
}

TEST_F(GitHubClientTest, ListRunnersFollowsPages) {
  FakeGitHubServer::Options fo;
  fo.max_per_page = 2;
  StartFake(fo);
  auto client = MakeClient();
  for (const char* name : {"mac-mini", "pi4", "pi3"}) {
    FakeRunner r;
    r.repo = kRepo;
    r.name = name;
    r.labels = {"self-hosted", name};
    fake_->AddRunner(r);
  }
  auto runners = client->ListRunners(kRepo);
  ASSERT_TRUE(runners.ok()) << runners.status().ToString();
  ASSERT_EQ(runners->size(), 3u);
  EXPECT_EQ((*runners)[0].name, "mac-mini");
  EXPECT_EQ((*runners)[2].labels, (std::vector<std::string>{"self-hosted", "pi3"}));
  EXPECT_TRUE((*runners)[1].online());
  auto calls = fake_->CallsTo("GET", "/actions/runners");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[1].query.find("page=2"), std::string::npos);
}

TEST_F(GitHubClientTest, WorksBelowAnEnterprisePathPrefix) {
  FakeGitHubServer::Options fo;
  fo.path_prefix = "/api/v3";
  fo.max_per_page = 1;
  StartFake(fo);
  ASSERT_NE(fake_->url().find("/api/v3"), std::string::npos);
  auto client = MakeClient();  // api_url is the fake's url(), prefix included
  for (const char* name : {"a", "b"}) {
    FakeRunner r;
    r.repo = kRepo;
    r.name = name;
    fake_->AddRunner(r);
  }
  auto runners = client->ListRunners(kRepo);
  ASSERT_TRUE(runners.ok()) << runners.status().ToString();
  EXPECT_EQ(runners->size(), 2u);
  auto d = client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->run_id.has_value());
}

TEST_F(GitHubClientTest, HooksCreateListUpdate) {
  auto client = MakeClient();
  HookSpec spec;
  spec.url = "https://relayq.example.ts.net/webhook";
  spec.secret = "hook-secret-value";
  spec.events = {"workflow_job", "workflow_run"};
  auto created = client->CreateHook(kRepo, spec);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->url, spec.url);
  EXPECT_EQ(created->events, spec.events);
  EXPECT_EQ(created->content_type, "json");
  EXPECT_TRUE(created->active);
  ASSERT_EQ(fake_->hooks().size(), 1u);
  EXPECT_EQ(fake_->hooks()[0].secret, "hook-secret-value");

  auto listed = client->ListHooks(kRepo);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, created->id);

  spec.events = {"workflow_job"};
  spec.secret = "rotated";
  auto updated = client->UpdateHook(kRepo, created->id, spec);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->events, std::vector<std::string>{"workflow_job"});
  EXPECT_EQ(fake_->hooks()[0].secret, "rotated");
  EXPECT_EQ(fake_->CountCalls("PATCH", "/hooks/"), 1);
  EXPECT_EQ(client->UpdateHook(kRepo, 42, spec).status().code(), Status::Code::kNotFound);
}

TEST_F(GitHubClientTest, DeliveriesPageWithCursorAndRedeliver) {
  auto client = MakeClient();
  FakeHook hook;
  hook.repo = kRepo;
  hook.url = "https://x/webhook";
  int64_t hook_id = fake_->AddHook(hook);
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    FakeDelivery d;
    d.hook_id = hook_id;
    d.action = i == 0 ? "queued" : "completed";
    ids.push_back(fake_->AddDelivery(d));
  }
  auto first = client->ListHookDeliveries(kRepo, hook_id, 2, "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->deliveries.size(), 2u);
  EXPECT_EQ(first->deliveries[0].id, ids[2]);  // newest first
  EXPECT_EQ(first->deliveries[0].status_code, 502);
  EXPECT_EQ(first->deliveries[0].event, "workflow_job");
  EXPECT_FALSE(first->deliveries[0].guid.empty());
  EXPECT_GT(first->deliveries[0].delivered_at_ms, 0);
  ASSERT_TRUE(first->next_cursor.has_value());

  auto second = client->ListHookDeliveries(kRepo, hook_id, 2, *first->next_cursor);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->deliveries.size(), 1u);
  EXPECT_EQ(second->deliveries[0].id, ids[0]);
  EXPECT_EQ(second->deliveries[0].action, "queued");
  EXPECT_FALSE(second->next_cursor.has_value());

  ASSERT_TRUE(client->RedeliverHookDelivery(kRepo, hook_id, ids[0]).ok());
  auto redeliveries = fake_->redeliveries();
  ASSERT_EQ(redeliveries.size(), 1u);
  EXPECT_EQ(redeliveries[0].delivery_id, ids[0]);
  EXPECT_EQ(client->RedeliverHookDelivery(kRepo, hook_id, 1).code(), Status::Code::kNotFound);
}

TEST_F(GitHubClientTest, GarbageJsonIsUnavailableNotACrash) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->GarbageNext("/actions/runs/", 1);
  auto run = client->GetRun(kRepo, id);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(run.status().message().find("not valid JSON"), std::string::npos);
  fake_->GarbageNext("/runners", 1);
  EXPECT_EQ(client->ListRunners(kRepo).status().code(), Status::Code::kUnavailable);
}

TEST_F(GitHubClientTest, PacesWrites) {
  ClientOptions o = Options();
  o.write_interval = milliseconds(1000);
  auto client = MakeClient(o);
  int64_t a = AddQueuedRun();
  int64_t b = AddQueuedRun();
  ASSERT_TRUE(client->CancelRun(kRepo, a).ok());
  ASSERT_TRUE(client->CancelRun(kRepo, b).ok());
  EXPECT_EQ(sleeper_.nonzero_waits(), std::vector<milliseconds>{milliseconds(1000)});
  // Reads are not paced.
  ASSERT_TRUE(client->GetRun(kRepo, a).ok());
  EXPECT_EQ(sleeper_.nonzero_waits().size(), 1u);
}

TEST_F(GitHubClientTest, NetworkErrorsAreRetriedThenUnavailable) {
  ClientOptions o = Options();
  o.max_attempts = 3;
  fake_.reset();  // nothing listens at o.api_url any more
  auto client = MakeClient(o);
  auto run = client->GetRun(kRepo, 1);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(run.status().message().find("network error"), std::string::npos);
  EXPECT_EQ(client->Stats().network_errors, 3);
  EXPECT_EQ(sleeper_.nonzero_waits().size(), 2u);
}

TEST_F(GitHubClientTest, ReadTimeoutIsANetworkError) {
  ClientOptions o = Options();
  o.read_timeout = milliseconds(200);
  o.max_attempts = 1;
  auto client = MakeClient(o);
  fake_->SetDelay(milliseconds(700));
  auto run = client->GetRun(kRepo, AddQueuedRun());
  fake_->SetDelay(milliseconds(0));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kUnavailable);
}

TEST_F(GitHubClientTest, HttpsToAServerWithoutTlsFailsCleanly) {
  ClientOptions o = Options();
  o.api_url = "https://127.0.0.1:" + std::to_string(fake_->port());
  o.max_attempts = 1;
  auto client = MakeClient(o);
  auto run = client->GetRun(kRepo, 1);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(run.status().message().find(kToken), std::string::npos);
}

TEST_F(GitHubClientTest, TokenNeverAppearsInStatusMessages) {
  ClientOptions o = Options();
  o.max_attempts = 2;
  auto client = MakeClient(o);
  const std::string echo = std::string(R"({"message":"Bad credentials: )") + kToken + "\"}";
  std::vector<Status> statuses;
  for (int status : {401, 403, 404, 409, 422, 500, 429}) {
    fake_->FailNext("/actions/runs/", -1, status, {}, echo);
    statuses.push_back(client->GetRun(kRepo, 1).status());
    fake_->ClearFailures();
  }
  fake_->GarbageNext("/actions/runs/", 1);
  statuses.push_back(client->GetRun(kRepo, 1).status());
  HookSpec spec;
  spec.url = "https://x";
  spec.secret = "the-hook-secret";
  fake_->FailNext("/hooks", 1, 422, {}, R"({"message":"bad secret the-hook-secret"})");
  statuses.push_back(client->CreateHook(kRepo, spec).status());
  for (const Status& s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.ToString().find(kToken), std::string::npos) << s.ToString();
    EXPECT_EQ(s.ToString().find("the-hook-secret"), std::string::npos) << s.ToString();
  }
}

TEST_F(GitHubClientTest, ConcurrentCallersAllSucceed) {
  auto client = MakeClient();
  int64_t id = AddQueuedRun();
  fake_->FailNext("/actions/runs/", 3, 500);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        if (t % 2 == 0) {
          if (client->GetRun(kRepo, id).ok()) ++ok;
        } else {
          if (client->DispatchWorkflow(kRepo, "x.yml", "main", {}, true).ok()) ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(fake_->runs().size(), 1u + 10u);
}

TEST_F(GitHubClientTest, StatsReportRemainingRequests) {
  auto client = MakeClient();
  EXPECT_FALSE(client->Stats().rate_limit_remaining.has_value());
  ASSERT_TRUE(client->GetRun(kRepo, AddQueuedRun()).ok());
  ClientStats stats = client->Stats();
  ASSERT_TRUE(stats.rate_limit_remaining.has_value());
  EXPECT_LT(*stats.rate_limit_remaining, 5000);
  EXPECT_TRUE(stats.rate_limit_reset_unix.has_value());
  EXPECT_EQ(stats.responses_by_status[200], 1);
}

TEST_F(GitHubClientTest, CreateRejectsBadOptions) {
  ClientOptions both = Options();
  both.app = AppCredentials{"1", "pem", 1};
  EXPECT_EQ(HttpGitHubClient::Create(both, clock_, sleeper_).status().code(),
            Status::Code::kInvalidArgument);
  ClientOptions none = Options();
  none.token.clear();
  EXPECT_FALSE(HttpGitHubClient::Create(none, clock_, sleeper_).ok());
  ClientOptions bad_url = Options();
  bad_url.api_url = "api.github.com";
  EXPECT_FALSE(HttpGitHubClient::Create(bad_url, clock_, sleeper_).ok());
  ClientOptions bad_key = Options();
  bad_key.token.clear();
  bad_key.app = AppCredentials{
      "1", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", 1};
  auto r = HttpGitHubClient::Create(bad_key, clock_, sleeper_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("AAAA"), std::string::npos);
  ClientOptions no_ca = Options();
  no_ca.api_url = "https://api.github.com";
  no_ca.ca_bundle_path = "/nonexistent/ca.crt";
  EXPECT_FALSE(HttpGitHubClient::Create(no_ca, clock_, sleeper_).ok());
}

// ---- GitHub App authentication ----

class GitHubAppTest : public GitHubClientTest {
 protected:
  static void SetUpTestSuite() {
    auto keys = relayq::testing::GenerateTestRsaKeyPair();
    ASSERT_TRUE(keys.ok());
    keys_ = new relayq::testing::TestRsaKeyPair(std::move(keys).value());
  }
  static void TearDownTestSuite() {
    delete keys_;
    keys_ = nullptr;
  }

  ClientOptions AppOptions(std::optional<int64_t> installation_id) {
    ClientOptions o = Options();
    o.token.clear();
    o.app = AppCredentials{"12345", keys_->private_key_pem, installation_id};
    return o;
  }

  static relayq::testing::TestRsaKeyPair* keys_;
};
relayq::testing::TestRsaKeyPair* GitHubAppTest::keys_ = nullptr;

TEST_F(GitHubAppTest, JwtVerifiesAndInstallationTokenIsCachedThenRefreshed) {
  fake_->ConfigureApp("12345", keys_->public_key_pem, 77, std::chrono::hours(1));
  fake_->RequireAuth(true);
  auto client = MakeClient(AppOptions(std::nullopt));  // installation discovered
  int64_t id = AddQueuedRun();

  for (int i = 0; i < 3; ++i) {
    auto run = client->GetRun(kRepo, id);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
  }
  EXPECT_EQ(fake_->token_exchanges(), 1);
  EXPECT_EQ(fake_->CountCalls("GET", "/repos/octo/kit/installation"), 1);
  EXPECT_EQ(client->Stats().token_exchanges, 1);
  auto claims = fake_->last_jwt();
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->iss, "12345");
  EXPECT_EQ(claims->iat, NowUnix(clock_) - 60);
  EXPECT_EQ(claims->exp, NowUnix(clock_) + 9 * 60);
  auto exchange = fake_->CallsTo("POST", "/app/installations/77/access_tokens");
  ASSERT_EQ(exchange.size(), 1u);
  auto tokens = fake_->issued_tokens();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(fake_->CallsTo("GET", "/actions/runs/").back().Header("Authorization"),
            "Bearer " + tokens[0]);

  // 54 minutes later the token still has 6 minutes: reused.
  clock_.Advance(std::chrono::minutes(54));
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(fake_->token_exchanges(), 1);
  // Within 5 minutes of expiry: exchanged again.
  clock_.Advance(std::chrono::minutes(2));
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(fake_->token_exchanges(), 2);
  tokens = fake_->issued_tokens();
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(fake_->CallsTo("GET", "/actions/runs/").back().Header("Authorization"),
            "Bearer " + tokens[1]);
}

TEST_F(GitHubAppTest, ConfiguredInstallationSkipsDiscovery) {
  fake_->ConfigureApp("12345", keys_->public_key_pem, 77);
  auto client = MakeClient(AppOptions(77));
  ASSERT_TRUE(client->GetRun(kRepo, AddQueuedRun()).ok());
  EXPECT_EQ(fake_->CountCalls("GET", "/installation"), 0);
  EXPECT_EQ(fake_->token_exchanges(), 1);
}

TEST_F(GitHubAppTest, JwtSignedWithAnotherKeyIsRefusedWithoutLeakingIt) {
  auto other = relayq::testing::GenerateTestRsaKeyPair();
  ASSERT_TRUE(other.ok());
  fake_->ConfigureApp("12345", other->public_key_pem, 77);
  auto client = MakeClient(AppOptions(77));
  auto run = client->GetRun(kRepo, AddQueuedRun());
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(fake_->CountCalls("POST", "/access_tokens"), 1);  // 401 is not retried
  const std::string jwt =
      fake_->CallsTo("POST", "/access_tokens")[0].Header("Authorization").substr(7);
  ASSERT_FALSE(jwt.empty());
  EXPECT_EQ(run.status().message().find(jwt), std::string::npos);
  EXPECT_EQ(run.status().message().find("PRIVATE KEY"), std::string::npos);
}

TEST_F(GitHubAppTest, RevokedInstallationTokenIsReplacedOnTheNextCall) {
  fake_->ConfigureApp("12345", keys_->public_key_pem, 77);
  auto client = MakeClient(AppOptions(77));
  int64_t id = AddQueuedRun();
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  fake_->FailNext("/actions/runs/", 1, 401, {}, R"({"message":"Bad credentials"})");
  EXPECT_EQ(client->GetRun(kRepo, id).status().code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(client->GetRun(kRepo, id).ok());
  EXPECT_EQ(fake_->token_exchanges(), 2);
}

}  // namespace
}  // namespace relayq::github
