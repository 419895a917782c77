// Whole-process tests of `relayq hooks install|list|recover`, start-up
// recovery in `relayq serve`, `relayq runners` and `relayq doctor`: the real
// binary against the fake GitHub API on loopback, asserting on the fake's
// recorded calls and on the SQLite file.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/fakes/github_payloads.h"
#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";
constexpr char kToken[] = "hooks-test-token";
constexpr char kHookUrl[] = "https://relayq.example/webhook";

constexpr char kPolicy[] = R"(routes:
  transcribe:
    prefer: [macmini]
    fallback: [rpi4]
    constraints:
      needs_ffmpeg: true
      max_size_mb: 1000
)";

class HooksTest : public GitHubIntegrationTest {
 protected:
  std::map<std::string, std::string> GitHubEnv() const {
    return GitHubIntegrationTest::GitHubEnv(kToken);
  }

  CommandResult Run(std::vector<std::string> args) const {
    CommandResult r = RunRelayq(dir_.path(), args, GitHubEnv());
    // No secret, ever, in what a command prints.
    for (const std::string& text : {r.out, r.err}) {
      EXPECT_EQ(text.find(kToken), std::string::npos) << text;
      EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
    }
    return r;
  }

  int64_t AddRelayqHook() {
    FakeHook h;
    h.repo = kRepo;
    h.url = kHookUrl;
    h.secret = kSecret;
    h.events = {"workflow_job", "workflow_run"};
    return github_->AddHook(h);
  }

  int64_t AddFailedDelivery(int64_t hook_id, const std::string& guid,
                            const std::string& event = "workflow_job") {
    FakeDelivery d;
    d.hook_id = hook_id;
    d.guid = guid;
    d.event = event;
    return github_->AddDelivery(d);
  }

  // Runs relayq serve just long enough to record `deliveries` (GUID ->
  // workflow_job body), then stops it.
  void RecordWithRelayq(const std::vector<std::pair<std::string, std::string>>& deliveries) {
    StartRelayq();
    {
      // Closed before SIGTERM, so shutdown does not wait out keep-alive.
      auto c = Client();
      for (const auto& [guid, body] : deliveries) {
        ASSERT_EQ(Deliver(*c, "workflow_job", guid, body), 202) << guid;
      }
    }
    ASSERT_EQ(process_->Terminate(), 0);
    process_.reset();
  }

  std::set<int64_t> RedeliveredIds() const {
    std::set<int64_t> ids;
    for (const auto& r : github_->redeliveries()) ids.insert(r.delivery_id);
    return ids;
  }
};

TEST_F(HooksTest, InstallTwiceCreatesOnceThenChangesNothing) {
  auto first = Run({"hooks", "install", "--repo", kRepo, "--url", kHookUrl});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("created hook"), std::string::npos) << first.out;
  EXPECT_EQ(github_->CountCalls("POST", "/repos/octo/kit/hooks"), 1);
  auto hooks = github_->hooks();
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].url, kHookUrl);
  EXPECT_EQ(hooks[0].secret, kSecret);
  EXPECT_EQ(hooks[0].content_type, "json");
  EXPECT_EQ(std::set<std::string>(hooks[0].events.begin(), hooks[0].events.end()),
            (std::set<std::string>{"workflow_job", "workflow_run"}));

  auto second = Run({"hooks", "install", "--repo", kRepo, "--url", kHookUrl});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("unchanged hook"), std::string::npos) << second.out;
  EXPECT_EQ(github_->CountCalls("POST", "/repos/octo/kit/hooks"), 1);
  EXPECT_EQ(github_->CountCalls("PATCH", "/hooks/"), 0);
  EXPECT_EQ(github_->hooks().size(), 1u);
}

TEST_F(HooksTest, InstallUpdatesAHookWithTheSameUrlOnlyOnce) {
  FakeHook old;
  old.repo = kRepo;
  old.url = kHookUrl;
  old.events = {"push"};
  int64_t id = github_->AddHook(old);

  auto first = Run({"hooks", "install", "--repo", kRepo, "--url", kHookUrl});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("updated hook " + std::to_string(id) + " on octo/kit: events, secret"),
            std::string::npos)
      << first.out;
  EXPECT_EQ(github_->CountCalls("PATCH", "/hooks/" + std::to_string(id)), 1);
  EXPECT_EQ(github_->CountCalls("POST", "/repos/octo/kit/hooks"), 0);
  EXPECT_EQ(github_->hooks()[0].secret, kSecret);

  auto second = Run({"hooks", "install", "--repo", kRepo, "--url", kHookUrl});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.out.find("unchanged"), std::string::npos);
  EXPECT_EQ(github_->CountCalls("PATCH", "/hooks/"), 1);
}

TEST_F(HooksTest, InstallWithoutSecretFailsBeforeCallingGitHub) {
  auto env = GitHubEnv();
  env.erase("RELAYQ_WEBHOOK_SECRET");
  auto r = RunRelayq(dir_.path(), {"hooks", "install", "--repo", kRepo, "--url", kHookUrl}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no webhook secret"), std::string::npos) << r.err;
  EXPECT_TRUE(github_->calls().empty());
}

TEST_F(HooksTest, ListShowsHooksAndLastDelivery) {
  int64_t id = AddRelayqHook();
  FakeDelivery ok;
  ok.hook_id = id;
  ok.status_code = 202;
  ok.status = "Accepted";
  github_->AddDelivery(ok);

  auto r = Run({"hooks", "list", "--repo", kRepo});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(std::to_string(id)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kHookUrl), std::string::npos);
  EXPECT_NE(r.out.find("workflow_job,workflow_run"), std::string::npos);
  EXPECT_NE(r.out.find("202 Accepted"), std::string::npos);

  auto j = Run({"hooks", "list", "--repo", kRepo, "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0]["id"], id);
  EXPECT_EQ(parsed[0]["active"], true);
  EXPECT_EQ(parsed[0]["secret"], true);
  EXPECT_EQ(parsed[0]["last_delivery"]["status"], "202 Accepted");
}

TEST_F(HooksTest, RecoverRedeliversExactlyWhatRelayqNeverRecorded) {
  // relayq was up for A only; B and C failed to connect. B was retried once
  // by hand on GitHub and failed again: two attempts, one GUID.
  RecordWithRelayq({{"A", WorkflowJobPayload({})}});
  int64_t hook = AddRelayqHook();
  AddFailedDelivery(hook, "A");
  int64_t b_old = AddFailedDelivery(hook, "B");
  int64_t c = AddFailedDelivery(hook, "C", "workflow_run");
  int64_t b_new = AddFailedDelivery(hook, "B");
  AddFailedDelivery(hook, "P", "ping");

  auto r = Run({"hooks", "recover", "--repo", kRepo});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(RedeliveredIds(), (std::set<int64_t>{b_new, c}));
  EXPECT_EQ(github_->redeliveries().size(), 2u);
  EXPECT_EQ(RedeliveredIds().count(b_old), 0u);
  EXPECT_NE(r.out.find("2 missing, 2 redelivered, 0 reconciled"), std::string::npos) << r.out;

  // GitHub now lists the redeliveries; relayq still has not received them
  // (nothing is listening), so a second run asks again, still once per GUID.
  github_->ClearCalls();
  auto again = Run({"hooks", "recover", "--repo", kRepo});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(github_->CountCalls("POST", "/attempts"), 2);
}

TEST_F(HooksTest, RecoverRefusesAMissingStore) {
  AddRelayqHook();
  auto r = Run({"hooks", "recover", "--repo", kRepo, "--db", dir_.File("typo.db")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no store at"), std::string::npos) << r.err;
  EXPECT_TRUE(github_->redeliveries().empty());
}

TEST_F(HooksTest, ServeRecoversOnStartInTheBackground) {
  RecordWithRelayq({{"A", WorkflowJobPayload({})}});
  int64_t hook = AddRelayqHook();
  AddFailedDelivery(hook, "A");
  int64_t b = AddFailedDelivery(hook, "B");
  int64_t c = AddFailedDelivery(hook, "C", "workflow_run");
  std::ofstream(dir_.File("relayq.yaml")) << "github:\n  repositories: [" << kRepo << "]\n";

  process_ =
      RelayqProcess::Start({dir_.path(), {"--config", dir_.File("relayq.yaml")}, GitHubEnv()});
  ASSERT_NE(process_, nullptr);
  // Listening came first (Start returned); the redeliveries follow.
  ASSERT_TRUE(WaitFor([&] { return github_->redeliveries().size() >= 2; }));
  EXPECT_EQ(RedeliveredIds(), (std::set<int64_t>{b, c}));
  // The webhook keeps working meanwhile.
  EXPECT_EQ(Deliver(*Client(), "workflow_job", "D", WorkflowJobPayload({})), 202);
  EXPECT_EQ(process_->Terminate(), 0);
  EXPECT_EQ(github_->redeliveries().size(), 2u);
}

// Regression (issue 12, case 13): without github.repositories, serve
// recovered nothing; the repositories that deliver to the store count.
TEST_F(HooksTest, ServeRecoversRepositoriesSeenInDeliveriesWithoutConfiguringThem) {
  JobSpec a;
  a.repository = kRepo;
  RecordWithRelayq({{"A", WorkflowJobPayload(a)}});
  int64_t hook = AddRelayqHook();
  AddFailedDelivery(hook, "A");
  int64_t b = AddFailedDelivery(hook, "B");
  process_ = RelayqProcess::Start({dir_.path(), {}, GitHubEnv()});
  ASSERT_NE(process_, nullptr);
  ASSERT_TRUE(WaitFor([&] { return !github_->redeliveries().empty(); }));
  EXPECT_EQ(RedeliveredIds(), (std::set<int64_t>{b}));
  EXPECT_EQ(process_->Terminate(), 0);
}

// Regression (issue 12, case 13): recovery ran only at start-up, so a
// delivery relayq answered 503 while running was never recovered (GitHub
// does not redeliver on its own).
TEST_F(HooksTest, ServeRecoversADeliveryAnswered503WhileRunning) {
  int64_t hook = AddRelayqHook();
  std::ofstream(dir_.File("relayq.yaml")) << "recovery:\n  interval: 1s\n";
  process_ =
      RelayqProcess::Start({dir_.path(), {"--config", dir_.File("relayq.yaml")}, GitHubEnv()});
  ASSERT_NE(process_, nullptr);
  JobSpec a;
  a.repository = kRepo;
  EXPECT_EQ(Deliver(*Client(), "workflow_job", "A", WorkflowJobPayload(a)), 202);
  AddFailedDelivery(hook, "A");
  // Passes go on; none has anything to redeliver yet.
  ASSERT_TRUE(WaitFor([&] { return github_->CountCalls("GET", "/deliveries") >= 1; }));
  EXPECT_TRUE(github_->redeliveries().empty());
  // relayq answers 503 to B (its store was busy): GitHub lists it as failed.
  FakeDelivery failed;
  failed.hook_id = hook;
  failed.guid = "B";
  failed.status_code = 503;
  failed.status = "Service Unavailable";
  int64_t b = github_->AddDelivery(failed);
  ASSERT_TRUE(WaitFor([&] { return !github_->redeliveries().empty(); }));
  EXPECT_EQ(RedeliveredIds(), (std::set<int64_t>{b}));
  EXPECT_EQ(process_->Terminate(), 0);
}

TEST_F(HooksTest, ServeShutsDownPromptlyWhileRecoveryIsBackingOff) {
  AddRelayqHook();
  // GitHub answers 500 for the deliveries list: the client backs off for
  // seconds between attempts. SIGTERM must not wait for that.
  github_->FailNext("/deliveries", -1, 500);
  std::ofstream(dir_.File("relayq.yaml")) << "github:\n  repositories: [" << kRepo << "]\n";
  process_ =
      RelayqProcess::Start({dir_.path(), {"--config", dir_.File("relayq.yaml")}, GitHubEnv()});
  ASSERT_NE(process_, nullptr);
  ASSERT_TRUE(WaitFor([&] { return github_->CountCalls("GET", "/deliveries") >= 1; }));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(process_->Terminate(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5) * kSlowdown);
}

TEST_F(HooksTest, RecoverReconcilesAJobStuckInProgress) {
  FakeJob job;
  job.repo = kRepo;
  job.run_id = 11185212;
  job.status = "completed";
  job.conclusion = "success";
  job.runner_name = "mini";
  job.labels = {"self-hosted", "macmini"};
  int64_t job_id = github_->AddJob(job);
  JobSpec started;
  started.job_id = job_id;
  started.repository = kRepo;
  started.action = "in_progress";
  started.runner_name = "mini";
  RecordWithRelayq({{"started", WorkflowJobPayload(started)}});
  AddRelayqHook();

  auto r = Run({"hooks", "recover", "--repo", kRepo, "--stale-after", "0s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("1 reconciled"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in_progress -> completed (success)"), std::string::npos) << r.out;
  SqliteReader db(DbPath());
  const std::string id = std::to_string(job_id);
  EXPECT_EQ(db.Value("SELECT status || '/' || conclusion FROM jobs WHERE id = " + id),
            "completed/success");
  EXPECT_EQ(db.Value("SELECT event || '/' || outcome FROM deliveries WHERE id = 'reconcile-" + id +
                     "-completed'"),
            "relayq_reconcile/accepted");
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events WHERE job_id = " + id), 2);

  // Converged: nothing left to reconcile.
  auto again = Run({"hooks", "recover", "--repo", kRepo, "--stale-after", "0s"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("0 reconciled"), std::string::npos) << again.out;
}

TEST_F(HooksTest, RunnersListsLabelsOnlineAndBusy) {
  github_->AddRunner({.repo = kRepo,
                      .name = "mini",
                      .os = "macOS",
                      .status = "online",
                      .busy = true,
                      .labels = {"self-hosted", "macmini", "ffmpeg"}});
  github_->AddRunner(
      {.repo = kRepo, .name = "pi3", .status = "offline", .labels = {"self-hosted", "rpi3"}});
  auto r = Run({"runners", "--repo", kRepo});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NAME"), std::string::npos);
  EXPECT_NE(r.out.find("self-hosted,macmini,ffmpeg"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("offline"), std::string::npos);

  auto j = Run({"runners", "--repo", kRepo, "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0]["name"], "mini");
  EXPECT_EQ(parsed[0]["online"], true);
  EXPECT_EQ(parsed[0]["busy"], true);
  EXPECT_EQ(parsed[1]["online"], false);
}

class DoctorTest : public HooksTest {
 protected:
  void SetUp() override {
    HooksTest::SetUp();
    std::ofstream(dir_.File("policy.yaml")) << kPolicy;
    AddRelayqHook();
    github_->AddRunner(
        {.repo = kRepo, .name = "pi4", .labels = {"self-hosted", "rpi4", "audio", "ffmpeg"}});
  }
  CommandResult Doctor() {
    return Run({"doctor", "--repo", kRepo, "--policy", dir_.File("policy.yaml")});
  }
};

TEST_F(DoctorTest, PassesWhenEverythingIsSetUp) {
  github_->AddRunner({.repo = kRepo,
                      .name = "mini",
                      .labels = {"self-hosted", "macmini", "audio", "ffmpeg", "heavy"}});
  auto r = Doctor();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  webhook octo/kit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  runners octo/kit: route transcribe prefer [macmini]"),
            std::string::npos);
  EXPECT_NE(r.out.find(" 0 failed"), std::string::npos);
}

TEST_F(DoctorTest, FailsWithAHintWhenNoRunnerCarriesARoutedLabel) {
  auto r = Doctor();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL  runners octo/kit: route transcribe prefer [macmini]: no online "
                       "runner carries [macmini]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("hint: register a runner"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  runners octo/kit: route transcribe fallback [rpi4]"),
            std::string::npos);
}

TEST_F(DoctorTest, ForbiddenTokenGetsAScopesHint) {
  github_->AddRunner({.repo = kRepo, .name = "mini", .labels = {"macmini"}});
  github_->FailNext("/actions/runners", -1, 403, {}, R"({"message": "Resource not accessible"})");
  auto r = Doctor();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  runners access octo/kit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"Actions: read and write\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"Webhooks: read and write\""), std::string::npos);
}

TEST_F(DoctorTest, WarnsWithoutFailingWhenTheStoreSitsOnFat) {
  github_->AddRunner({.repo = kRepo,
                      .name = "mini",
                      .labels = {"self-hosted", "macmini", "audio", "ffmpeg", "heavy"}});
  // The store (relayq.db in the working directory) on an SD card's FAT.
  const std::string here = std::filesystem::canonical(dir_.path()).string();
  std::ofstream(dir_.File("mountinfo"))
      << "22 1 179:2 / / rw,relatime shared:1 - ext4 /dev/mmcblk0p2 rw\n"
      << "40 22 179:1 / " << here << " rw,relatime shared:2 - vfat /dev/mmcblk0p1 rw,fmask=0022\n";
  auto env = GitHubEnv();
  env["RELAYQ_MOUNTINFO"] = dir_.File("mountinfo");
  auto r = RunRelayq(dir_.path(), {"doctor", "--repo", kRepo, "--policy", dir_.File("policy.yaml")},
                     env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // a warning is not a failure
  EXPECT_NE(r.out.find("WARN  store filesystem: " + here + " is on vfat (/dev/mmcblk0p1 at " +
                       here + "), mounted async (FAT has no journal)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("hint: a power cut during a write can corrupt"), std::string::npos);
  EXPECT_NE(r.out.find(" 0 failed (1 with a warning)"), std::string::npos) << r.out;
}

TEST_F(DoctorTest, NoCredentialsFailsAndSaysWhatToSet) {
  auto env = GitHubEnv();
  env.erase("GITHUB_TOKEN");
  auto r = RunRelayq(dir_.path(), {"doctor", "--repo", kRepo}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  github credentials"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("set GITHUB_TOKEN"), std::string::npos);
  EXPECT_TRUE(github_->calls().empty());
}

}  // namespace
}  // namespace relayq::testing
