// Whole-process routing tests: the real relayq against a fake GitHub API on
// loopback. Deliveries are real signed webhooks; outcomes are read from the
// fake's recorded calls and from the SQLite file.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/time_format.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";

constexpr char kPolicy[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml, labels: [macmini] }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 2s
    fallback_workflow: transcribe_rpi.yml
chains:
  - name: summarize
    after: { workflow: transcribe_audio.yml, conclusion: success }
    dispatch:
      workflow: summarize.yml
      inputs: { url: "{{ inputs.url }}", source_run: "{{ run.id }}" }
)";

std::string NowRfc3339() { return FormatRfc3339(ToUnixMillis(Clock::Real().Now())); }

class RoutingTest : public GitHubIntegrationTest {
 protected:
  void SetUp() override {
    GitHubIntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    std::ofstream(dir_.File("policy.yaml")) << kPolicy;
  }

  void StartServe(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--policy", dir_.File("policy.yaml")};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = RelayqProcess::Start({dir_.path(), args, GitHubEnv()});
    ASSERT_NE(process_, nullptr);
  }

  // The daemon's JSON log lines whose "msg" is `msg` (read after it exits:
  // info lines are flushed at exit).
  std::vector<nlohmann::json> LogLines(const std::string& msg) const {
    std::ifstream log(dir_.File("relayq.stderr.log"));
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(log, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("msg", "") == msg) out.push_back(std::move(j));
    }
    return out;
  }

  // `relayq audit ARGS` on the daemon's store.
  CommandResult Audit(std::vector<std::string> args) const {
    args.insert(args.begin(), "audit");
    args.insert(args.end(), {"--db", DbPath()});
    return RunRelayq(dir_.path(), args, GitHubEnv());
  }

  // `relayq audit actions --format json`, by key.
  std::map<std::string, nlohmann::json> ActionItems() const {
    auto r = Audit({"actions", "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, nlohmann::json> out;
    auto items = nlohmann::json::parse(r.out, nullptr, false);
    if (!items.is_array()) return out;
    for (auto& item : items) out[item.value("key", "")] = item;
    return out;
  }

  // `relayq dispatch`; returns the relayq id it printed.
  int64_t Dispatch(const std::string& workflow, const std::string& url) {
    auto r = RunRelayq(dir_.path(),
                       {"dispatch", workflow, "url=" + url, "backend=local", "--repo", kRepo},
                       GitHubEnv());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? 0 : std::stoll(r.out);
  }

  // The run the fake created for relayq request `id`.
  int64_t RunOfRequest(int64_t id) {
    SqliteReader db(DbPath());
    std::string v =
        db.Value("SELECT run_id FROM dispatch_requests WHERE id = " + std::to_string(id));
    return v.empty() || v == "NULL" ? 0 : std::stoll(v);
  }

  int DeliverRun(int64_t run_id, const std::string& workflow, const std::string& action,
                 const std::string& delivery, std::optional<std::string> conclusion = {}) {
    RunSpec spec;
    spec.run_id = run_id;
    spec.repository = kRepo;
    spec.action = action;
    spec.conclusion = conclusion;
    spec.path = ".github/workflows/" + workflow;
    spec.created_at = spec.updated_at = NowRfc3339();
    auto c = Client();
    return Deliver(*c, "workflow_run", delivery, WorkflowRunPayload(spec));
  }

  int DeliverJob(int64_t job_id, int64_t run_id, const std::string& action,
                 const std::string& delivery, std::optional<std::string> runner = {}) {
    JobSpec spec;
    spec.job_id = job_id;
    spec.run_id = run_id;
    spec.repository = kRepo;
    spec.action = action;
    spec.labels = {"self-hosted", "macmini", "audio"};
    spec.runner_name = runner;
    spec.created_at = spec.started_at = NowRfc3339();
    auto c = Client();
    return Deliver(*c, "workflow_job", delivery, WorkflowJobPayload(spec));
  }

  // The Mac route with fallback_when_offline (grace 1s) and `queue_timeout`.
  void WriteOfflineAwarePolicy(const std::string& queue_timeout) {
    std::ofstream(dir_.File("policy.yaml"), std::ios::trunc)
        << "routes:\n"
           "  transcribe:\n"
           "    match: { workflow: transcribe_mac.yml }\n"
           "    prefer: [macmini]\n"
           "    fallback: [rpi4]\n"
           "    queue_timeout: "
        << queue_timeout
        << "\n"
           "    fallback_when_offline: true\n"
           "    offline_grace: 1s\n"
           "    fallback_workflow: transcribe_rpi.yml\n";
  }

  // Runner macmini-1 of kRepo, as the runners API lists it.
  void AddMacRunner(const std::string& status, std::vector<std::string> labels) {
    FakeRunner mac;
    mac.repo = kRepo;
    mac.name = "macmini-1";
    mac.status = status;
    mac.labels = std::move(labels);
    github_->AddRunner(mac);
  }

  // A dispatched transcribe_mac run with one queued macmini job, as GitHub
  // would report it. Returns {run id, job id}.
  std::pair<int64_t, int64_t> QueuedMacJob(const std::string& url) {
    int64_t id = Dispatch("transcribe_mac.yml", url);
    int64_t run = RunOfRequest(id);
    EXPECT_NE(run, 0);
    FakeJob job;
    job.repo = kRepo;
    job.run_id = run;
    job.labels = {"self-hosted", "macmini", "audio"};
    int64_t job_id = github_->AddJob(job);
    EXPECT_EQ(DeliverRun(run, "transcribe_mac.yml", "requested", "run-" + std::to_string(run)),
              202);
    EXPECT_EQ(DeliverJob(job_id, run, "queued", "job-q-" + std::to_string(job_id)), 202);
    return {run, job_id};
  }

  std::string ActionStatus(const std::string& key) {
    SqliteReader db(DbPath());
    return db.Value("SELECT status FROM actions WHERE key = '" + key + "'");
  }

  std::vector<RecordedCall> DispatchesOf(const std::string& workflow) {
    return github_->CallsTo("POST", "/actions/workflows/" + workflow + "/dispatches");
  }
};

TEST_F(RoutingTest, FallbackFiresAfterTheTimeoutAndNotBefore) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/a.mp3");
  // Well inside the 2 s timeout: scheduled, nothing sent.
  EXPECT_EQ(ActionStatus("fallback:" + std::to_string(run) + ":1"), "scheduled");
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);

  ASSERT_TRUE(WaitFor([&] { return DispatchesOf("transcribe_rpi.yml").size() == 1; }));
  EXPECT_EQ(github_->CountCalls("POST", "/actions/runs/" + std::to_string(run) + "/cancel"), 1);
  auto body = nlohmann::json::parse(DispatchesOf("transcribe_rpi.yml")[0].body);
  EXPECT_EQ(body["ref"], "main");
  EXPECT_EQ(body["inputs"]["url"], "https://example.com/a.mp3");  // the original inputs
  EXPECT_EQ(body["inputs"]["backend"], "local");
  EXPECT_EQ(body["inputs"]["relayq_id"], "2");

  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  SqliteReader db(DbPath());
  // Not before the deadline: done at least queue_timeout after the job queued.
  int64_t queued = db.Count("SELECT queued_at FROM jobs WHERE id = " + std::to_string(job));
  int64_t done = db.Count("SELECT done_at FROM actions WHERE key = '" + key + "'");
  EXPECT_GE(done - queued, 2000 - 1000);  // queued_at has GitHub's 1 s resolution
  // The fallback request is tied to the original one.
  EXPECT_EQ(db.Value("SELECT parent_id || ':' || fallback_count || ':' || workflow FROM "
                     "dispatch_requests WHERE id = 2"),
            "1:1:transcribe_rpi.yml");
  // Redelivering the queued event does not schedule a second fallback.
  EXPECT_EQ(DeliverJob(job, run, "queued", "job-q-again"), 202);
  EXPECT_EQ(db.Count("SELECT count(*) FROM actions WHERE kind = 'fallback'"), 1);
}

TEST_F(RoutingTest, NoFallbackWhenTheJobStartsInTime) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/b.mp3");
  EXPECT_EQ(DeliverJob(job, run, "in_progress", "job-p", "macmini-1"), 202);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "aborted"; }));
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT last_error FROM actions WHERE key = '" + key + "'"),
            "started on macmini-1");
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);
  EXPECT_TRUE(DispatchesOf("transcribe_rpi.yml").empty());
}

TEST_F(RoutingTest, JobStartingDuringTheFallbackIsNotRunTwice) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/c.mp3");
  // GitHub has handed the job to a runner, but relayq has not heard yet.
  github_->SetJobStatus(job, "in_progress", "macmini-1");
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "aborted"; }));
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT last_error FROM actions WHERE key = '" + key + "'"),
            "started on macmini-1");
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);
  EXPECT_TRUE(DispatchesOf("transcribe_rpi.yml").empty());
}

TEST_F(RoutingTest, CancelConflictAbortsTheFallback) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/c2.mp3");
  github_->FailNext("/cancel", 1, 409);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "aborted"; }));
  EXPECT_TRUE(DispatchesOf("transcribe_rpi.yml").empty());
}

TEST_F(RoutingTest, PendingFallbackFiresAfterARestart) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/d.mp3");
  process_->Kill();  // crash well before the deadline
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 0);
  StartServe();
  ASSERT_TRUE(WaitFor([&] { return DispatchesOf("transcribe_rpi.yml").size() == 1; }));
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  EXPECT_EQ(github_->CountCalls("POST", "/cancel"), 1);
}

TEST_F(RoutingTest, ServerErrorsThenSuccessGiveExactlyOneDispatch) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/e.mp3");
  github_->FailNext("/actions/workflows/transcribe_rpi.yml/dispatches", 3, 500);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }, std::chrono::seconds(40)));
  int accepted = 0;
  for (const auto& r : github_->runs()) accepted += r.workflow == "transcribe_rpi.yml";
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(DispatchesOf("transcribe_rpi.yml").size(), 4u);  // 3 failures, 1 success
}

TEST_F(RoutingTest, FallsBackEarlyWhenNoPreferredRunnerIsOnline) {
  WriteOfflineAwarePolicy("10m");
  AddMacRunner("offline", {"self-hosted", "macmini", "audio", "ffmpeg"});
  StartServe();
  QueuedMacJob("https://example.com/offline.mp3");
  // Long before the 10 minute queue_timeout.
  ASSERT_TRUE(WaitFor([&] { return DispatchesOf("transcribe_rpi.yml").size() == 1; }));
  EXPECT_GE(github_->CountCalls("GET", "/actions/runners"), 1);
}

TEST_F(RoutingTest, WaitsTheFullTimeoutWhilePreferredRunnerIsOnline) {
  WriteOfflineAwarePolicy("3s");
  AddMacRunner("online", {"self-hosted", "macmini"});
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/online.mp3");
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  // Checked at the grace period, then put back to the full timeout.
  ASSERT_TRUE(WaitFor([&] { return github_->CountCalls("GET", "/actions/runners") >= 1; }));
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  SqliteReader db(DbPath());
  int64_t queued = db.Count("SELECT queued_at FROM jobs WHERE id = " + std::to_string(job));
  int64_t done = db.Count("SELECT done_at FROM actions WHERE key = '" + key + "'");
  EXPECT_GE(done - queued, 3000 - 1000);
}

TEST_F(RoutingTest, ChainFiresOnceUnderRedelivery) {
  StartServe();
  int64_t id = Dispatch("transcribe_audio.yml", "https://example.com/f.mp3");
  int64_t run = RunOfRequest(id);
  ASSERT_NE(run, 0);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "done-1", "success"), 202);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "done-1", "success"), 200);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "done-2", "success"), 202);
  ASSERT_TRUE(WaitFor([&] { return DispatchesOf("summarize.yml").size() == 1; }));
  const std::string key = "chain:summarize:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  auto body = nlohmann::json::parse(DispatchesOf("summarize.yml")[0].body);
  EXPECT_EQ(body["inputs"]["url"], "https://example.com/f.mp3");
  EXPECT_EQ(body["inputs"]["source_run"], std::to_string(run));
  EXPECT_EQ(DispatchesOf("summarize.yml").size(), 1u);
}

TEST_F(RoutingTest, FailedRunDoesNotChain) {
  StartServe();
  int64_t id = Dispatch("transcribe_audio.yml", "https://example.com/g.mp3");
  int64_t run = RunOfRequest(id);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "fail-1", "failure"), 202);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM actions WHERE kind = 'chain'"), 0);
}

TEST_F(RoutingTest, InvalidPolicyOnSighupKeepsTheOldOne) {
  StartServe();
  std::ofstream(dir_.File("policy.yaml"), std::ios::trunc) << "routes:\n  broken: [\n";
  kill(process_->pid(), SIGHUP);
  // The old policy still chains.
  int64_t id = Dispatch("transcribe_audio.yml", "https://example.com/h.mp3");
  int64_t run = RunOfRequest(id);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "sighup-1", "success"), 202);
  ASSERT_TRUE(WaitFor([&] { return DispatchesOf("summarize.yml").size() == 1; }));
  auto c = Client();
  EXPECT_EQ(c->Get("/healthz")->status, 200);
}

// With a daemon serving the store (it holds the store's lock) the command
// leaves what GitHub did not take to it; without one it exits 1
// (dispatch_api_test.cc, LocalDispatchWithGitHubDownAndNoDaemon...).
TEST_F(RoutingTest, DispatchWaitsInTheStoreWhileGitHubIsDown) {
  StartServe();
  github_->FailNext("/dispatches", -1, 503);
  auto r = RunRelayq(
      dir_.path(),
      {"dispatch", "transcribe_audio.yml", "url=https://example.com/i.mp3", "--repo", kRepo},
      GitHubEnv());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("will send it"), std::string::npos) << r.err;
  const int64_t id = std::stoll(r.out);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT status FROM dispatch_requests WHERE id = " + std::to_string(id)),
            "pending");
  // GitHub comes back; the daemon sends it, once (a refused dispatch
  // creates no run: the runs are the dispatches GitHub took).
  github_->ClearFailures();
  // The daemon notices another process's action within its idle wake-up;
  // SIGHUP wakes its executor at once (it then waits for the retry's due time).
  kill(process_->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return ActionStatus("dispatch:" + std::to_string(id)) == "done"; },
                      std::chrono::seconds(90)));
  int runs = 0;
  for (const FakeRun& run : github_->runs()) {
    if (run.workflow != "transcribe_audio.yml") continue;
    ++runs;
    EXPECT_EQ(run.inputs.count("relayq_id") ? run.inputs.at("relayq_id") : "", std::to_string(id));
  }
  EXPECT_EQ(runs, 1);
}

// Issue 12, case 12: with GitHub answering Retry-After, relayq kept waiting
// and sending for minutes after SIGTERM; systemd killed it mid-action.
TEST_F(RoutingTest, SigtermStopsWithinTenSecondsWhileGitHubRateLimits) {
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/stop.mp3");
  // From now on GitHub asks for 10 s between requests (inside the client's
  // 15 s cap, so the client waits rather than giving up).
  github_->FailNext("/repos/", -1, 429, {{"Retry-After", "10"}});
  github_->ClearCalls();
  ASSERT_TRUE(WaitFor([&] { return github_->CountCalls("", "/actions/jobs/") > 0; },
                      std::chrono::seconds(30)));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(process_->TerminateWithin(std::chrono::seconds(10)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(github_->CountCalls("POST", ""), 0);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  EXPECT_EQ(ActionStatus(key), "pending");  // progress saved, due again at the next start
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT attempts FROM actions WHERE key = '" + key + "'"), "0");
}

TEST_F(RoutingTest, PolicyCheckExplainsErrors) {
  std::ofstream(dir_.File("bad.yaml")) << "routes:\n  transcribe:\n    prefer: [macmini]\n"
                                          "    fallback: [rpi4]\n    queue_timout: 5m\n";
  auto r = RunRelayq(dir_.path(), {"policy", "check", dir_.File("bad.yaml")}, Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:5:5: routes.transcribe.queue_timout"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'queue_timeout'"), std::string::npos) << r.err;
  auto ok = RunRelayq(dir_.path(), {"policy", "check", dir_.File("policy.yaml")}, Env());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// ---- every routing decision visible (issue 16) ----

TEST_F(RoutingTest, FallbackIsLoggedAndItsItemNamesTheNewRun) {
  StartServe({"--log-format", "json"});
  auto [run, job] = QueuedMacJob("https://example.com/visible.mp3?sig=secret-signature");
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  const int64_t new_run = RunOfRequest(2);
  ASSERT_NE(new_run, 0);

  // The action item says where the job went, with the whole reason.
  auto items = ActionItems();
  ASSERT_EQ(items.count(key), 1u);
  const nlohmann::json& a = items[key];
  EXPECT_EQ(a["target_workflow"], "transcribe_rpi.yml");
  EXPECT_EQ(a["result_run_id"], new_run);
  ASSERT_TRUE(a["result_run_url"].is_string()) << a.dump();
  EXPECT_NE(a["result_run_url"].get<std::string>().find(std::to_string(new_run)),
            std::string::npos);
  EXPECT_EQ(a["request_id"], 2);
  EXPECT_EQ(a["attempts"], 1);  // the one try that did it, not 0
  EXPECT_TRUE(a["last_error"].is_null());
  EXPECT_GT(a["reason"].get<std::string>().size(), 40u);
  EXPECT_NE(a["reason"].get<std::string>().find("falls back at"), std::string::npos);
  EXPECT_NE(a["decision"].get<std::string>().find("queue_timeout"), std::string::npos);
  EXPECT_TRUE(a["decided_at"].is_string());

  // One action with its stored progress, by id: CLI and admin API.
  const std::string id = std::to_string(a["id"].get<int64_t>());
  auto one = Audit({"actions", "--id", id, "--format", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto detail = nlohmann::json::parse(one.out);
  EXPECT_EQ(detail["key"], key);
  EXPECT_EQ(detail["progress"]["stage"], "done");
  EXPECT_EQ(detail["progress"]["run_id"], new_run);
  EXPECT_EQ(detail["payload"]["route"], "transcribe");
  EXPECT_EQ(detail.dump().find("secret-signature"), std::string::npos);  // URLs redacted
  auto table = Audit({"actions", "--id", id});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("target_workflow:  transcribe_rpi.yml"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("progress:"), std::string::npos);
  EXPECT_NE(table.out.find("stage: done"), std::string::npos);

  httplib::Client admin("127.0.0.1", process_->admin_port());
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  auto res = admin.Get("/api/v1/actions/" + id, auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto api = nlohmann::json::parse(res->body);
  EXPECT_EQ(api["result_run_id"], new_run);
  EXPECT_EQ(api["progress"]["stage"], "done");
  res = admin.Get("/api/v1/actions/999999", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_NE(res->body.find("no action 999999"), std::string::npos);
  res = admin.Get("/api/v1/actions/abc", auth);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("not a whole number"), std::string::npos);
  EXPECT_EQ(admin.Get("/api/v1/actions/" + id, {{"Authorization", "Bearer wrong"}})->status, 401);

  // The job's routing decision and why.
  auto history = Audit({"jobs", "--id", std::to_string(job), "--format", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto h = nlohmann::json::parse(history.out);
  EXPECT_EQ(h["routing"]["decision"], "fallback done");
  EXPECT_NE(h["routing"]["why"].get<std::string>().find("route transcribe"), std::string::npos);

  // The daemon's log says what it planned and what it did, with the new run.
  EXPECT_EQ(process_->Terminate(), 0);
  bool planned = false;
  for (const auto& l : LogLines("routing decision")) {
    if (l.value("key", "") == key && l.value("decision", "") == "fallback planned") planned = true;
  }
  EXPECT_TRUE(planned);
  int done_lines = 0;
  for (const auto& l : LogLines("routing action")) {
    if (l.value("key", "") != key || l.value("outcome", "") != "done") continue;
    ++done_lines;
    EXPECT_EQ(l["kind"], "fallback");
    EXPECT_EQ(l["action_id"], id);
    EXPECT_EQ(l["job_id"], std::to_string(job));
    EXPECT_EQ(l["run_id"], std::to_string(run));
    EXPECT_EQ(l["target_workflow"], "transcribe_rpi.yml");
    EXPECT_EQ(l["new_run_id"], std::to_string(new_run));
    EXPECT_NE(l.value("why", "").find("queue_timeout"), std::string::npos) << l.dump();
  }
  EXPECT_EQ(done_lines, 1);
}

TEST_F(RoutingTest, FailedTriesAreLoggedWithGitHubsAnswerAndDoneClearsTheError) {
  StartServe({"--log-format", "json"});
  auto [run, job] = QueuedMacJob("https://example.com/retry.mp3");
  // A dispatch answered 5xx is not retried by the client (GitHub may have
  // acted): each failure is one try of the executor.
  github_->FailNext("/actions/workflows/transcribe_rpi.yml/dispatches", 3, 500);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }, std::chrono::seconds(40)));
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT last_error IS NULL FROM actions WHERE key = '" + key + "'"), "1");
  const int64_t retried =
      db.Count("SELECT attempts FROM actions WHERE key = '" + key + "'");  // tries that failed
  auto items = ActionItems();
  EXPECT_TRUE(items[key]["last_error"].is_null());
  EXPECT_EQ(items[key]["attempts"], retried + 1);
  EXPECT_EQ(process_->Terminate(), 0);
  int retry_lines = 0;
  for (const auto& l : LogLines("routing action")) {
    if (l.value("key", "") != key || l.value("outcome", "") != "retrying") continue;
    ++retry_lines;
    EXPECT_EQ(l["level"], "warning");
    EXPECT_NE(l.value("error", "").find("HTTP 500"), std::string::npos) << l.dump();
    EXPECT_EQ(l.dump().find("test-token"), std::string::npos);
  }
  EXPECT_EQ(retried, 3);
  EXPECT_EQ(retry_lines, retried);
}

TEST_F(RoutingTest, EarlyOfflineFallbackReportsItsOwnDecisionTime) {
  WriteOfflineAwarePolicy("10m");
  AddMacRunner("offline", {"self-hosted", "macmini", "audio", "ffmpeg"});
  StartServe();
  auto [run, job] = QueuedMacJob("https://example.com/offline-time.mp3");
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  auto a = ActionItems()[key];
  // Decided about a second after it queued, not at the 10 minute deadline.
  SqliteReader db(DbPath());
  const int64_t queued = db.Count("SELECT queued_at FROM jobs WHERE id = " + std::to_string(job));
  ASSERT_TRUE(a["decided_at"].is_string()) << a.dump();
  EXPECT_LT(a["decided_at"].get<std::string>(), FormatRfc3339(queued + 60 * 1000));
  EXPECT_NE(a["decision"].get<std::string>().find("no online runner"), std::string::npos);
  // The planned reason names the early time too, not only the deadline.
  EXPECT_NE(a["reason"].get<std::string>().find("if no runner carrying [macmini] is online"),
            std::string::npos)
      << a["reason"];
}

TEST_F(RoutingTest, JobNoRouteGovernsSaysSoInItsHistoryAndLog) {
  StartServe({"--log-format", "json"});
  int64_t id = Dispatch("transcribe_audio.yml", "https://example.com/none.mp3");
  int64_t run = RunOfRequest(id);
  ASSERT_NE(run, 0);
  FakeJob fj;
  fj.repo = kRepo;
  fj.run_id = run;
  fj.labels = {"self-hosted", "macmini", "audio"};
  int64_t job = github_->AddJob(fj);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "requested", "none-run"), 202);
  EXPECT_EQ(DeliverJob(job, run, "queued", "none-job"), 202);
  auto history = Audit({"jobs", "--id", std::to_string(job), "--format", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto h = nlohmann::json::parse(history.out);
  EXPECT_EQ(h["routing"]["decision"], "no route matched");
  EXPECT_TRUE(h["routing"]["action_id"].is_null());
  auto table = Audit({"jobs", "--id", std::to_string(job)});
  EXPECT_NE(table.out.find("routing:          no route matched"), std::string::npos) << table.out;
  EXPECT_EQ(process_->Terminate(), 0);
  bool logged = false;
  for (const auto& l : LogLines("routing decision")) {
    if (l.value("decision", "") == "no route matched" &&
        l.value("job_id", "") == std::to_string(job))
      logged = true;
  }
  EXPECT_TRUE(logged);
}

TEST_F(RoutingTest, ChainItemNamesItsWorkflowRunAndRequest) {
  StartServe({"--log-format", "json"});
  int64_t id = Dispatch("transcribe_audio.yml", "https://example.com/chain-visible.mp3");
  int64_t run = RunOfRequest(id);
  ASSERT_NE(run, 0);
  EXPECT_EQ(DeliverRun(run, "transcribe_audio.yml", "completed", "cv-1", "success"), 202);
  const std::string key = "chain:summarize:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  auto a = ActionItems()[key];
  EXPECT_EQ(a["target_workflow"], "summarize.yml");
  ASSERT_TRUE(a["request_id"].is_number_integer()) << a.dump();
  EXPECT_EQ(a["result_run_id"], RunOfRequest(a["request_id"].get<int64_t>()));
  EXPECT_EQ(a["attempts"], 1);
  EXPECT_EQ(process_->Terminate(), 0);
  bool planned = false, done = false;
  for (const auto& l : LogLines("routing decision")) {
    planned = planned || (l.value("key", "") == key && l.value("decision", "") == "chain planned");
  }
  for (const auto& l : LogLines("routing action")) {
    done = done || (l.value("key", "") == key && l.value("outcome", "") == "done" &&
                    l.value("new_run_id", "") == std::to_string(a["result_run_id"].get<int64_t>()));
  }
  EXPECT_TRUE(planned);
  EXPECT_TRUE(done);
}

TEST_F(RoutingTest, AuditByIdRefusesWrongInput) {
  StartServe();  // creates the store
  EXPECT_EQ(process_->Terminate(), 0);
  auto unknown = Audit({"actions", "--id", "424242"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no action 424242"), std::string::npos) << unknown.err;
  auto bad = Audit({"actions", "--id", "abc"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--id"), std::string::npos) << bad.err;
  auto zero = Audit({"actions", "--id", "0"});
  EXPECT_EQ(zero.exit_code, 2) << zero.err;
  auto runs = Audit({"runs", "--id", "1"});
  EXPECT_EQ(runs.exit_code, 2);
  EXPECT_NE(runs.err.find("--id applies to jobs, actions and requests only"), std::string::npos)
      << runs.err;
}

// ---- operator controls: relayq actions retry|cancel ----

// `relayq actions ARGS` (with the admin token in the environment).
CommandResult Actions(const std::string& workdir, std::vector<std::string> args,
                      std::map<std::string, std::string> env) {
  args.insert(args.begin(), "actions");
  return RunRelayq(workdir, args, env);
}

TEST_F(RoutingTest, FailedFallbackRetriedThroughTheServerIsSentExactlyOnceMore) {
  StartServe({"--log-format", "json"});
  auto [run, job] = QueuedMacJob("https://example.com/r.mp3");
  // GitHub refuses the fallback's dispatch for good (404: the workflow is not
  // on the branch yet): the action fails without retrying by itself.
  github_->FailNext("/actions/workflows/transcribe_rpi.yml/dispatches", 1, 404);
  const std::string key = "fallback:" + std::to_string(run) + ":1";
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "failed"; }));
  ASSERT_EQ(DispatchesOf("transcribe_rpi.yml").size(), 1u);
  const std::string id = std::to_string(ActionItems()[key].value("id", int64_t{0}));
  const std::string server = "http://127.0.0.1:" + std::to_string(process_->admin_port());

  auto retried = Actions(
      dir_.path(), {"retry", id, "--server", server, "--reason", "fixed the branch"}, GitHubEnv());
  EXPECT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_NE(retried.out.find("failed -> pending"), std::string::npos) << retried.out;
  ASSERT_TRUE(WaitFor([&] { return ActionStatus(key) == "done"; }));
  EXPECT_EQ(DispatchesOf("transcribe_rpi.yml").size(), 2u);  // exactly one new dispatch

  // Once done, a second retry is refused with the current state.
  auto again = Actions(dir_.path(), {"retry", id, "--server", server}, GitHubEnv());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("it is done"), std::string::npos) << again.err;
  httplib::Client admin("127.0.0.1", process_->admin_port());
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  auto conflict = admin.Post("/api/v1/actions/" + id + "/retry", auth, "", "application/json");
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(nlohmann::json::parse(conflict->body, nullptr, false).value("status", ""), "done");

  // The history says who asked, in the API and in `relayq audit actions --id`.
  auto detail = admin.Get("/api/v1/actions/" + id, auth);
  ASSERT_TRUE(detail && detail->status == 200);
  auto j = nlohmann::json::parse(detail->body, nullptr, false);
  ASSERT_EQ(j["history"].size(), 1u) << detail->body;
  EXPECT_EQ(j["history"][0]["what"], "retry");
  EXPECT_EQ(j["history"][0]["who"], "admin-api from 127.0.0.1");
  EXPECT_EQ(j["history"][0]["reason"], "fixed the branch");
  EXPECT_EQ(j["history"][0]["from_status"], "failed");
  auto table = Audit({"actions", "--id", id});
  EXPECT_NE(
      table.out.find("retry by admin-api from 127.0.0.1 (failed -> pending): fixed the branch"),
      std::string::npos)
      << table.out;
  EXPECT_EQ(DispatchesOf("transcribe_rpi.yml").size(), 2u);
  EXPECT_EQ(process_->Terminate(), 0);
  int changed = 0;
  for (const auto& l : LogLines("routing action changed by an operator")) {
    changed += l.value("action", "") == id && l.value("who", "") == "admin-api from 127.0.0.1";
  }
  EXPECT_EQ(changed, 1);
}

TEST_F(RoutingTest, CancelledFallbackNeverFires) {
  StartServe();
  auto [run_a, job_a] = QueuedMacJob("https://example.com/x.mp3");
  const std::string key_a = "fallback:" + std::to_string(run_a) + ":1";
  const std::string id = std::to_string(ActionItems()[key_a].value("id", int64_t{0}));
  const std::string server = "http://127.0.0.1:" + std::to_string(process_->admin_port());
  auto cancelled = Actions(dir_.path(), {"cancel", id, "--server", server}, GitHubEnv());
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(ActionStatus(key_a), "aborted");
  // A second job queued after the first: once its fallback is done, the
  // first one's deadline has passed too.
  auto [run_b, job_b] = QueuedMacJob("https://example.com/y.mp3");
  ASSERT_TRUE(
      WaitFor([&] { return ActionStatus("fallback:" + std::to_string(run_b) + ":1") == "done"; }));
  EXPECT_EQ(ActionStatus(key_a), "aborted");
  EXPECT_EQ(github_->CountCalls("POST", "/actions/runs/" + std::to_string(run_a) + "/cancel"), 0);
  EXPECT_EQ(DispatchesOf("transcribe_rpi.yml").size(), 1u);  // job b's only
  // The job's routing decision names the cancel, not a refusal.
  auto history = Audit({"jobs", "--id", std::to_string(job_a), "--format", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto routing = nlohmann::json::parse(history.out, nullptr, false)["routing"];
  EXPECT_EQ(routing.value("decision", ""), "fallback cancelled") << history.out;
  EXPECT_NE(routing.value("why", "").find("cancelled by admin-api from 127.0.0.1"),
            std::string::npos)
      << history.out;
  // Cancelling an ended action again is refused; so is a cancel on the local
  // store (--server "" is the local path).
  auto again = Actions(dir_.path(), {"cancel", id, "--db", DbPath()}, Env());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("it is aborted"), std::string::npos) << again.err;
}

TEST_F(RoutingTest, ActionsCommandsAndRoutesRefuseWrongInput) {
  StartServe();
  const std::string server = "http://127.0.0.1:" + std::to_string(process_->admin_port());
  auto unknown = Actions(dir_.path(), {"retry", "424242", "--server", server}, GitHubEnv());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no action 424242"), std::string::npos) << unknown.err;
  auto word = Actions(dir_.path(), {"cancel", "abc", "--server", server}, GitHubEnv());
  EXPECT_EQ(word.exit_code, 2);
  auto env = GitHubEnv();
  env["RELAYQ_ADMIN_TOKEN"] = "s3cr3t-not-the-token";
  auto token = Actions(dir_.path(), {"retry", "1", "--server", server}, env);
  EXPECT_EQ(token.exit_code, 1);
  EXPECT_NE(token.err.find("admin token"), std::string::npos) << token.err;
  EXPECT_EQ(token.err.find("s3cr3t"), std::string::npos) << token.err;  // never the token
  auto no_store = Actions(dir_.path(), {"retry", "1", "--db", dir_.File("absent.db")}, Env());
  EXPECT_EQ(no_store.exit_code, 1);
  EXPECT_NE(no_store.err.find("absent.db"), std::string::npos) << no_store.err;

  httplib::Client admin("127.0.0.1", process_->admin_port());
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  auto status = [&](const std::string& path, const httplib::Headers& h, const std::string& body) {
    auto r = admin.Post(path, h, body, "application/json");
    return r ? r->status : -1;
  };
  EXPECT_EQ(status("/api/v1/actions/1/retry", {}, ""), 401);
  EXPECT_EQ(status("/api/v1/actions/1/cancel", {{"Authorization", "Bearer nope"}}, ""), 401);
  EXPECT_EQ(status("/api/v1/actions/424242/retry", auth, ""), 404);
  EXPECT_EQ(status("/api/v1/actions/abc/cancel", auth, ""), 400);
  EXPECT_EQ(status("/api/v1/actions/1/retry", auth, "{not json"), 400);
  EXPECT_EQ(status("/api/v1/actions/1/retry", auth, R"({"reason": 5})"), 400);
  auto waits = admin.Get("/api/v1/waits?by=month", auth);
  ASSERT_TRUE(waits);
  EXPECT_EQ(waits->status, 400);
  auto ok = admin.Get("/api/v1/waits?since=7d&by=week&label=macmini", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

}  // namespace
}  // namespace relayq::testing
