// Whole-process tests of `relayq status`, `relayq audit requests` and the
// admin API's /api/v1/requests routes: a daemon with a policy that falls back
// and chains, the fake GitHub API, requests submitted with `relayq dispatch
// --db <the daemon's store>`, and the signed webhooks real runners would
// cause. `status --wait` runs on its own thread while the webhooks arrive.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/time_format.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kKit[] = "octo/kit";

// The Mac route falls back to the Pi workflow after 1 s; a successful Pi run
// chains summarize.yml (flow style, one entry a line).
constexpr char kFallbackAndChainPolicy[] =
    "routes:\n"
    "  transcribe: { match: { workflow: transcribe_mac.yml, labels: [macmini] }, prefer: "
    "[macmini], fallback: [rpi4], queue_timeout: 1s, fallback_workflow: transcribe_rpi.yml }\n"
    "chains:\n"
    "  - { name: summarize, after: { workflow: transcribe_rpi.yml, conclusion: success }, "
    "dispatch: { workflow: summarize.yml, inputs: { url: \"{{ inputs.url }}\" } } }\n";

std::string RunUrl(int64_t run) {
  return "https://github.com/" + std::string(kKit) + "/actions/runs/" + std::to_string(run);
}

class StatusTest : public GitHubIntegrationTest {
 protected:
  void SetUp() override {
    GitHubIntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    std::ofstream(dir_.File("policy.yaml")) << kFallbackAndChainPolicy;
    std::vector<std::string> args = {"--policy", dir_.File("policy.yaml")};
    process_ = RelayqProcess::Start({dir_.path(), args, GitHubEnv()});
    ASSERT_NE(process_, nullptr);
  }

  std::string AdminUrl() const {
    return "http://127.0.0.1:" + std::to_string(process_->admin_port());
  }

  // `relayq ARGS` with the test's environment (admin token included).
  CommandResult Relayq(const std::vector<std::string>& args,
                       std::optional<std::map<std::string, std::string>> env = {}) const {
    return RunRelayq(dir_.path(), args, env ? *env : GitHubEnv());
  }

  // `relayq status ID --server URL ARGS`.
  CommandResult StatusOf(const std::string& id, std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {"status", id, "--server", AdminUrl()});
    return Relayq(args);
  }

  // Submits WORKFLOW through today's local `relayq dispatch` on the daemon's
  // store; returns the relayq id it printed.
  int64_t Submit(const std::string& workflow) {
    auto r = Relayq({"dispatch", workflow, "url=https://example.com/ep.mp3", "backend=local",
                     "--repo", kKit, "--db", DbPath()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? 0 : std::stoll(r.out);
  }

  int64_t RunOf(int64_t request) {
    SqliteReader db(DbPath());
    std::string v =
        db.Value("SELECT run_id FROM dispatch_requests WHERE id = " + std::to_string(request));
    return v.empty() || v == "NULL" ? 0 : std::stoll(v);
  }

  std::string ActionStatus(const std::string& key) {
    SqliteReader db(DbPath());
    return db.Value("SELECT status FROM actions WHERE key = '" + key + "'");
  }

  // A workflow_run event of `run` (WORKFLOW) as GitHub sends it.
  void RunEvent(int64_t run, const std::string& workflow, const std::string& action,
                std::optional<std::string> conclusion = {}) {
    RunSpec spec;
    spec.run_id = run;
    spec.repository = kKit;
    spec.action = action;
    spec.conclusion = conclusion;
    spec.path = ".github/workflows/" + workflow;
    spec.created_at = spec.updated_at = FormatRfc3339(ToUnixMillis(Clock::Real().Now()));
    auto c = Client();
    EXPECT_EQ(Deliver(*c, "workflow_run", "run-" + std::to_string(run) + "-" + action,
                      WorkflowRunPayload(spec)),
              202);
  }

  // A workflow_job event of job `job` of `run` asking for `labels`.
  void JobEvent(int64_t job, int64_t run, const std::vector<std::string>& labels,
                const std::string& action, std::optional<std::string> runner = {},
                std::optional<std::string> conclusion = {}) {
    JobSpec spec;
    spec.job_id = job;
    spec.run_id = run;
    spec.repository = kKit;
    spec.action = action;
    spec.labels = labels;
    spec.runner_name = runner;
    spec.conclusion = conclusion;
    spec.created_at = spec.started_at = spec.completed_at =
        FormatRfc3339(ToUnixMillis(Clock::Real().Now()));
    auto c = Client();
    EXPECT_EQ(Deliver(*c, "workflow_job", "job-" + std::to_string(job) + "-" + action,
                      WorkflowJobPayload(spec)),
              202);
  }

  const std::vector<std::string> kMacLabels = {"self-hosted", "macmini", "audio"};

  // The one job of the Mac run `mac_run` queued, as GitHub reports it; its id.
  int64_t QueuedOnTheMac(int64_t mac_run) {
    FakeJob queued;
    queued.repo = kKit;
    queued.run_id = mac_run;
    queued.labels = kMacLabels;
    const int64_t mac_job = github_->AddJob(queued);
    RunEvent(mac_run, "transcribe_mac.yml", "requested");
    JobEvent(mac_job, mac_run, kMacLabels, "queued");
    return mac_job;
  }

  // Waits for relayq's fallback of `mac_run` to be done, then reports what
  // GitHub sends after the cancel; false when the fallback never happened.
  bool FellBackToThePi(int64_t mac_run, int64_t mac_job) {
    const std::string fallback = "fallback:" + std::to_string(mac_run) + ":1";
    if (!WaitFor([&] { return ActionStatus(fallback) == "done"; })) return false;
    JobEvent(mac_job, mac_run, kMacLabels, "completed", std::nullopt, "cancelled");
    RunEvent(mac_run, "transcribe_mac.yml", "completed", "cancelled");
    return true;
  }

  // The chain after a transcribe_rpi.yml run of request `id`: its run ends
  // successfully, relayq dispatches summarize.yml; returns that request's id.
  int64_t RpiRunSucceedsAndChains(int64_t id) {
    const int64_t run = RunOf(id);
    EXPECT_NE(run, 0);
    RunEvent(run, "transcribe_rpi.yml", "requested");
    JobEvent(run * 10, run, {"self-hosted", "rpi4", "audio"}, "queued");
    JobEvent(run * 10, run, {"self-hosted", "rpi4", "audio"}, "in_progress", "pi-1");
    JobEvent(run * 10, run, {"self-hosted", "rpi4", "audio"}, "completed", "pi-1", "success");
    RunEvent(run, "transcribe_rpi.yml", "completed", "success");
    const std::string key = "chain:summarize:" + std::to_string(run) + ":1";
    EXPECT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
    SqliteReader db(DbPath());
    return db.Count("SELECT id FROM dispatch_requests WHERE parent_id = " + std::to_string(id));
  }

  // The chained summarize.yml run of request `id` is requested, then ends
  // successfully; `follower` (a command following the request) must still
  // be waiting in between, and must have returned within 30 s after.
  // Returns the run's id; 0 (with a failure) when there was no run or the
  // follower had not returned.
  int64_t SummaryRunSucceedsWhileFollowed(int64_t id, std::future<CommandResult>& follower) {
    const int64_t summary_run = RunOf(id);
    EXPECT_NE(summary_run, 0);
    if (summary_run == 0) return 0;
    RunEvent(summary_run, "summarize.yml", "requested");
    // Still following: the chained run has not ended.
    EXPECT_EQ(follower.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
    RunEvent(summary_run, "summarize.yml", "completed", "success");
    const bool returned = follower.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    EXPECT_TRUE(returned) << "still following 30 s after the chained run ended";
    return returned ? summary_run : 0;
  }

  // GET PATH on the admin listener with `token` (none when empty).
  httplib::Result AdminGet(const std::string& path, const std::string& token = kAdminToken) {
    httplib::Client c("127.0.0.1", process_->admin_port());
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return c.Get(path, h);
  }
};

TEST_F(StatusTest, ShowsEveryStepOfAFallbackAndItsChainAndWaitsForTheChainedRun) {
  const int64_t id = Submit("transcribe_mac.yml");
  ASSERT_EQ(id, 1);
  const int64_t mac_run = RunOf(id);
  ASSERT_NE(mac_run, 0);
  const int64_t mac_job = QueuedOnTheMac(mac_run);

  // Followed from before the fallback to the end of the chained run.
  auto waited = std::async(std::launch::async, [&] {
    return StatusOf("1", {"--wait", "--interval", "0.1"});
  });

  ASSERT_TRUE(FellBackToThePi(mac_run, mac_job));
  const int64_t rpi_run = RunOf(2);
  ASSERT_NE(rpi_run, 0);
  const int64_t chained = RpiRunSucceedsAndChains(2);
  ASSERT_EQ(chained, 3);
  const int64_t summary_run = SummaryRunSucceedsWhileFollowed(3, waited);
  ASSERT_NE(summary_run, 0);
  CommandResult w = waited.get();
  EXPECT_EQ(w.exit_code, 0) << w.out << w.err;
  for (const char* step : {"submitted", "dispatched", "job_queued", "fallback", "job_started",
                           "job_finished", "run_finished", "chained"}) {
    EXPECT_NE(w.out.find(step), std::string::npos) << step << "\n" << w.out;
  }
  EXPECT_NE(w.out.find("request 1: success"), std::string::npos) << w.out;
  // Each step once, though it was read many times.
  EXPECT_EQ(w.out.find("fell back to"), w.out.rfind("fell back to")) << w.out;

  CommandResult table = StatusOf("1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const char* want :
       {"submitted", "dispatched", "job_queued", "fallback", "job_started", "pi-1", "job_finished",
        "run_finished", "chained", "summarize", "transcribe_rpi.yml", "request 1: success"}) {
    EXPECT_NE(table.out.find(want), std::string::npos) << want << "\n" << table.out;
  }
  for (int64_t run : {mac_run, rpi_run, summary_run}) {
    EXPECT_NE(table.out.find(RunUrl(run)), std::string::npos) << run << "\n" << table.out;
  }

  // JSON, with the server named by RELAYQ_SERVER instead of --server.
  auto env = GitHubEnv();
  env["RELAYQ_SERVER"] = AdminUrl();
  CommandResult json = Relayq({"status", "1", "--format", "json"}, env);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto story = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(story.is_object()) << json.out;
  EXPECT_EQ(story["id"], 1);
  EXPECT_EQ(story["outcome"], "success");
  EXPECT_EQ(story["finished"], true);
  EXPECT_EQ(story["run_url"], RunUrl(mac_run));
  std::set<int64_t> led_to;
  for (const auto& s : story["steps"]) {
    if (s["new_request_id"].is_number()) led_to.insert(s["new_request_id"].get<int64_t>());
  }
  EXPECT_EQ(led_to, (std::set<int64_t>{2, 3}));
  EXPECT_EQ(story["requests"].size(), 3u);

  // The same story from the store, and the requests as audit items.
  CommandResult local = Relayq({"status", "1", "--db", DbPath(), "--format", "json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(nlohmann::json::parse(local.out, nullptr, false)["steps"], story["steps"]);
  CommandResult audit = Relayq({"audit", "requests", "--db", DbPath(), "--format", "json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  auto items = nlohmann::json::parse(audit.out, nullptr, false);
  ASSERT_TRUE(items.is_array()) << audit.out;
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["id"], 3);
  EXPECT_EQ(items[0]["parent_id"], 2);
  EXPECT_EQ(items[2]["inputs"]["url"], "https://example.com/ep.mp3");
  EXPECT_EQ(items[1]["fallback_count"], 1);
  CommandResult one = Relayq({"audit", "requests", "--id", "2", "--db", DbPath()});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("fallback of request 1"), std::string::npos) << one.out;
}

// The whole remote path: `relayq dispatch --server --wait` from "another
// machine" (no store, no GitHub token of its own), the daemon dispatches, the
// job waits too long and falls back, the fallback's run succeeds and chains;
// dispatch exits 0 only when the chained run has succeeded, having printed
// only the id on stdout and the story's steps on stderr.
TEST_F(StatusTest, RemoteDispatchWaitFollowsFallbackAndChainToSuccess) {
  std::map<std::string, std::string> remote = {{"RELAYQ_ADMIN_TOKEN", kAdminToken},
                                               {"RELAYQ_CONFIG", ""}};
  auto submitted = std::async(std::launch::async, [&] {
    return Relayq({"dispatch", "transcribe_mac", "url=https://example.com/ep.mp3", "backend=local",
                   "--repo", kKit, "--server", AdminUrl(), "--wait", "--interval", "0.1"},
                  remote);
  });
  ASSERT_TRUE(WaitFor([&] { return RunOf(1) != 0; }));
  const int64_t mac_run = RunOf(1);
  const int64_t mac_job = QueuedOnTheMac(mac_run);
  ASSERT_TRUE(FellBackToThePi(mac_run, mac_job));
  ASSERT_EQ(RpiRunSucceedsAndChains(2), 3);
  ASSERT_NE(SummaryRunSucceedsWhileFollowed(3, submitted), 0);
  CommandResult r = submitted.get();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_NE(r.err.find(RunUrl(mac_run)), std::string::npos) << r.err;
  for (const char* step : {"fallback", "chained", "request 1: success"}) {
    EXPECT_NE(r.err.find(step), std::string::npos) << step << "\n" << r.err;
  }
  EXPECT_EQ(r.err.find(kAdminToken), std::string::npos);
  EXPECT_EQ(github_->CountCalls("POST", "/actions/workflows/transcribe_mac.yml/dispatches"), 1);
}

TEST_F(StatusTest, WaitExitsOneWhenTheChainedRunFails) {
  const int64_t id = Submit("transcribe_rpi.yml");
  ASSERT_NE(id, 0);
  const int64_t chained = RpiRunSucceedsAndChains(id);
  ASSERT_NE(chained, 0);
  auto waited = std::async(std::launch::async, [&] {
    return StatusOf(std::to_string(id), {"--wait", "--interval", "0.1"});
  });
  const int64_t run = RunOf(chained);
  ASSERT_NE(run, 0);
  RunEvent(run, "summarize.yml", "requested");
  RunEvent(run, "summarize.yml", "completed", "failure");
  ASSERT_EQ(waited.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  CommandResult w = waited.get();
  EXPECT_EQ(w.exit_code, 1) << w.out << w.err;
  EXPECT_NE(w.out.find("request " + std::to_string(id) + ": failure"), std::string::npos) << w.out;
}

TEST_F(StatusTest, WrongInputGetsTheRightCodeAndAClearMessage) {
  const int64_t id = Submit("transcribe_rpi.yml");
  ASSERT_NE(id, 0);

  CommandResult unknown = StatusOf("999");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no request 999"), std::string::npos) << unknown.err;
  CommandResult unknown_wait = StatusOf("999", {"--wait"});
  EXPECT_EQ(unknown_wait.exit_code, 1);
  EXPECT_NE(unknown_wait.err.find("no request 999"), std::string::npos) << unknown_wait.err;
  auto res = AdminGet("/api/v1/requests/999");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  for (const char* bad : {"abc", "0", "1x", "99999999999999999999"}) {
    CommandResult r = StatusOf(bad);
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("whole number"), std::string::npos) << r.err;
  }
  res = AdminGet("/api/v1/requests/abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);

  auto env = GitHubEnv();
  env["RELAYQ_ADMIN_TOKEN"] = "not-the-token";
  CommandResult wrong = Relayq({"status", "1", "--server", AdminUrl()}, env);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("refused the admin token"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("not-the-token"), std::string::npos) << wrong.err;
  env.erase("RELAYQ_ADMIN_TOKEN");
  CommandResult none = Relayq({"status", "1", "--server", AdminUrl(), "--wait"}, env);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("refused the admin token"), std::string::npos) << none.err;
  res = AdminGet("/api/v1/requests/1", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);

  for (const char* bad : {"/api/v1/requests?status=bogus", "/api/v1/requests?label=rpi4",
                          "/api/v1/requests?limit=0", "/api/v1/requests?since=yesterday",
                          "/api/v1/requests?colour=red", "/api/v1/requests?cursor=zz"}) {
    res = AdminGet(bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad << ": " << res->body;
  }
  res = AdminGet("/api/v1/requests?status=dispatched&limit=1");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto page = nlohmann::json::parse(res->body);
  ASSERT_EQ(page["items"].size(), 1u);
  for (const char* field : {"id", "repository", "workflow", "ref", "inputs", "status", "run_id",
                            "run_url", "parent_id", "fallback_count", "created_at"}) {
    EXPECT_TRUE(page["items"][0].contains(field)) << field;
  }

  CommandResult audit_unknown = Relayq({"audit", "requests", "--id", "999", "--db", DbPath()});
  EXPECT_EQ(audit_unknown.exit_code, 1);
  EXPECT_NE(audit_unknown.err.find("no request 999"), std::string::npos) << audit_unknown.err;

  // A local store that does not exist is an error, and is not created.
  CommandResult missing = Relayq({"status", "1", "--db", dir_.File("typo.db")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no store at"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::ifstream(dir_.File("typo.db")).good());
}

}  // namespace
}  // namespace relayq::testing
