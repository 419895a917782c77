// Whole-process tests of the audit side: `relayq audit` on the real store
// file, the /api/v1 routes and their errors, /metrics through promtool, the
// dashboard in headless Chromium, and backup/prune while the daemon serves.
// The data always arrives the way GitHub sends it: signed webhook deliveries.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/time_format.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

using nlohmann::json;

// Runs a shell command; returns its exit status and output (stdout+stderr).
std::pair<int, std::string> Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool HaveTool(const std::string& name) {
  return Shell("command -v " + name + " >/dev/null").first == 0;
}

std::string Ago(int seconds) {
  return FormatRfc3339(ToUnixMillis(Clock::Real().Now()) - seconds * 1000LL);
}

class AuditTest : public IntegrationTest {
 protected:
  void SetUp() override { StartRelayq(); }

  httplib::Headers Auth() const {
    return {{"Authorization", std::string("Bearer ") + kAdminToken}};
  }
  httplib::Client Admin() const {
    httplib::Client c("127.0.0.1", process_->admin_port());
    c.set_read_timeout(30, 0);
    return c;
  }
  json GetJson(const std::string& path, int want_status = 200) {
    auto c = Admin();
    auto res = c.Get(path.c_str(), Auth());
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, want_status) << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  // Known data:
  //   job 101: macmini, queued 10 min ago, still queued
  //   job 102: macmini, queued 4 min ago, still queued
  //   job 103: rpi4, queued 20 min ago, started 90 s later on pi4-kitchen, done
  //   job 104: rpi4 in another repository, queued 2 min ago, in progress on pi4-attic
  //   run 5001: requested
  //   one undecodable workflow_job delivery
  void DeliverKnownData() {
    auto c = Client();
    JobSpec a;
    a.job_id = 101;
    a.run_id = 5001;
    a.labels = {"self-hosted", "macmini", "audio"};
    a.created_at = Ago(600);
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-101-q", WorkflowJobPayload(a)), 202);
    JobSpec b = a;
    b.job_id = 102;
    b.created_at = Ago(240);
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-102-q", WorkflowJobPayload(b)), 202);
    JobSpec d;
    d.job_id = 103;
    d.run_id = 5002;
    d.labels = {"self-hosted", "rpi4", "light"};
    d.workflow_name = "transcribe_rpi";
    d.name = "transcribe-small";
    d.created_at = Ago(1200);
    d.started_at = Ago(1110);
    d.completed_at = Ago(900);
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-103-q", WorkflowJobPayload(d)), 202);
    d.action = "in_progress";
    d.runner_name = "pi4-kitchen";
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-103-s", WorkflowJobPayload(d)), 202);
    d.action = "completed";
    d.conclusion = "success";
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-103-c", WorkflowJobPayload(d)), 202);
    JobSpec e;
    e.job_id = 104;
    e.run_id = 5003;
    e.repository = "octo-org/podcasts";
    e.labels = {"self-hosted", "rpi4"};
    e.created_at = Ago(120);
    e.started_at = Ago(60);
    e.action = "in_progress";
    e.runner_name = "pi4-attic";
    ASSERT_EQ(Deliver(*c, "workflow_job", "k-104-s", WorkflowJobPayload(e)), 202);
    RunSpec r;
    r.run_id = 5001;
    r.created_at = Ago(600);
    r.updated_at = Ago(600);
    ASSERT_EQ(Deliver(*c, "workflow_run", "k-run", WorkflowRunPayload(r)), 202);
    std::string bad = R"({"action":"queued","repository":{"full_name":"octo-org/media-kit"}})";
    int code = Deliver(*c, "workflow_job", "k-bad", bad);
    ASSERT_TRUE(code == 202 || code == 200) << code;
  }

  CommandResult Audit(std::vector<std::string> args) {
    args.insert(args.begin(), "audit");
    args.push_back("--db");
    args.push_back(DbPath());
    return RunRelayq(dir_.path(), args, Env());
  }
};

TEST_F(AuditTest, CliJsonCsvAndTableAgreeWithTheStore) {
  DeliverKnownData();
  auto r = Audit({"jobs", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json jobs = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(jobs.is_array()) << r.out;
  ASSERT_EQ(jobs.size(), 4u);
  // Newest first by queued_at: 104 (2 min), 102 (4), 101 (10), 103 (20).
  EXPECT_EQ(jobs[0]["id"], 104);
  EXPECT_EQ(jobs[3]["id"], 103);
  const json& done = jobs[3];
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["conclusion"], "success");
  EXPECT_EQ(done["runner_name"], "pi4-kitchen");
  EXPECT_EQ(done["wait_seconds"], 90);
  EXPECT_EQ(done["duration_seconds"], 210);
  EXPECT_TRUE(done["queued_at"].get<std::string>().ends_with("Z"));
  EXPECT_TRUE(jobs[1]["wait_seconds"].is_null());
  EXPECT_EQ(jobs[1]["labels"], json({"self-hosted", "macmini", "audio"}));

  auto filtered =
      Audit({"jobs", "--label", "rpi4", "--repo", "octo-org/media-kit", "--format", "json"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  json f = json::parse(filtered.out);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]["id"], 103);
  auto recent = Audit({"jobs", "--since", "5m", "--format", "json"});
  ASSERT_EQ(recent.exit_code, 0);
  EXPECT_EQ(json::parse(recent.out).size(), 2u);  // 104 and 102

  auto csv = Audit({"jobs", "--format", "csv", "--limit", "2"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.substr(0, csv.out.find("\r\n")),
            "id,run_id,run_attempt,repository,workflow_name,name,labels,status,conclusion,"
            "runner_name,queued_at,started_at,completed_at,wait_seconds,duration_seconds,"
            "runner_group,updated_at");
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3);

  auto table = Audit({"jobs"});
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("pi4-kitchen"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1m30s"), std::string::npos) << table.out;  // human wait

  auto deliveries = Audit({"deliveries", "--status", "undecodable", "--format", "json"});
  ASSERT_EQ(deliveries.exit_code, 0);
  json d = json::parse(deliveries.out);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["id"], "k-bad");
  EXPECT_FALSE(d[0]["reason"].get<std::string>().empty());

  auto runs = Audit({"runs", "--format", "json"});
  ASSERT_EQ(runs.exit_code, 0);
  EXPECT_EQ(json::parse(runs.out)[0]["id"], 5001);

  auto history = Audit({"jobs", "--id", "103", "--format", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  json h = json::parse(history.out);
  EXPECT_EQ(h["events"].size(), 3u);
  EXPECT_EQ(h["deliveries"].size(), 3u);
  EXPECT_EQ(h["deliveries"][0]["id"], "k-103-q");
  auto history_table = Audit({"jobs", "--id", "103"});
  EXPECT_NE(history_table.out.find("k-103-c"), std::string::npos) << history_table.out;
}

TEST_F(AuditTest, CliUsageAndStoreErrors) {
  auto bad_since = Audit({"jobs", "--since", "yesterday"});
  EXPECT_EQ(bad_since.exit_code, 2);
  EXPECT_NE(bad_since.err.find("--since"), std::string::npos) << bad_since.err;
  EXPECT_EQ(Audit({"things"}).exit_code, 2);
  EXPECT_EQ(Audit({"runs", "--label", "rpi4"}).exit_code, 2);
  EXPECT_EQ(Audit({"jobs", "--format", "xml"}).exit_code, 2);
  auto missing = RunRelayq(dir_.path(), {"audit", "jobs", "--db", dir_.File("nope.db")}, Env());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no store"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("nope.db")));
  EXPECT_EQ(Audit({"jobs", "--id", "999"}).exit_code, 1);
}

// Regression: job names, labels and workflow names come from workflow files
// a fork's pull request controls. `relayq audit` passed ESC/OSC sequences and
// newlines through raw (a forged row, a disguised hyperlink), CSV cells
// starting with = or @ ran as spreadsheet formulas, and a signed audio URL in
// a run title was printed with its token.
TEST_F(AuditTest, HostileTextIsEscapedNeutralisedAndUrlsRedacted) {
  auto c = Client();
  JobSpec j;
  j.job_id = 900;
  j.run_id = 9001;
  j.name =
      "build\x1b]8;;https://evil.example/\x07"
      "click\x1b]8;;\x07\nFORGED ROW\xc2\x9b"
      "2J";
  // The hostile label first: the CSV cell starts with it.
  j.labels = {"=HYPERLINK(\"http://evil\")", "self-hosted", "rpi4"};
  j.workflow_name = "@SUM(1+1)";
  j.created_at = Ago(30);
  ASSERT_EQ(Deliver(*c, "workflow_job", "h-900", WorkflowJobPayload(j)), 202);
  RunSpec r;
  r.run_id = 9001;
  r.display_title = "transcribe https://cdn.example.com/a.mp3?X-Amz-Signature=s3cr3t [relayq:4]";
  r.created_at = r.updated_at = Ago(30);
  ASSERT_EQ(Deliver(*c, "workflow_run", "h-run", WorkflowRunPayload(r)), 202);

  for (const char* format : {"table", "csv"}) {
    auto out = Audit({"jobs", "--format", format});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    EXPECT_EQ(out.out.find('\x1b'), std::string::npos) << format;
    EXPECT_EQ(out.out.find('\x07'), std::string::npos) << format;
    EXPECT_EQ(out.out.find("\xc2\x9b"), std::string::npos) << format;
    EXPECT_EQ(out.out.find("\nFORGED ROW"), std::string::npos) << format << ": " << out.out;
    EXPECT_NE(out.out.find("\\x1b]8;;"), std::string::npos) << format << ": " << out.out;
  }
  auto csv = Audit({"jobs", "--format", "csv"}).out;
  EXPECT_NE(csv.find(",'@SUM(1+1),"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://evil\"\");self-hosted;rpi4\","), std::string::npos)
      << csv;

  for (const char* format : {"table", "csv", "json"}) {
    auto out = Audit({"runs", "--format", format});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    EXPECT_EQ(out.out.find("s3cr3t"), std::string::npos) << format << ": " << out.out;
    EXPECT_NE(out.out.find("https://cdn.example.com/a.mp3"), std::string::npos) << format;
  }
  auto api = GetJson("/api/v1/runs");
  EXPECT_EQ(api.dump().find("s3cr3t"), std::string::npos);
}

// Regression: `--status bogus` and `--status success` both answered "no jobs
// match" with exit 0 (and the API 200): a typo looked like an empty result.
TEST_F(AuditTest, StatusFiltersAreValidatedAndConclusionsFilterCompletedItems) {
  DeliverKnownData();
  auto bogus = Audit({"jobs", "--status", "bogus"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("unknown status 'bogus'"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("in_progress"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("success"), std::string::npos) << bogus.err;
  for (const char* kind : {"runs", "deliveries", "actions"}) {
    auto r = Audit({kind, "--status", "bogus", "--format", "json"});
    EXPECT_EQ(r.exit_code, 2) << kind << ": " << r.err;
    EXPECT_NE(r.err.find("valid:"), std::string::npos) << kind << ": " << r.err;
  }
  auto wrong_kind = Audit({"deliveries", "--status", "queued"});
  EXPECT_EQ(wrong_kind.exit_code, 2);
  EXPECT_NE(wrong_kind.err.find("refused"), std::string::npos) << wrong_kind.err;

  // A conclusion is a status a table shows: it finds the completed job 103.
  auto success = Audit({"jobs", "--status", "success", "--format", "json"});
  ASSERT_EQ(success.exit_code, 0) << success.err;
  json items = json::parse(success.out, nullptr, false);
  ASSERT_TRUE(items.is_array()) << success.out;
  ASSERT_EQ(items.size(), 1u) << success.out;
  EXPECT_EQ(items[0]["id"], 103);
  EXPECT_EQ(Audit({"jobs", "--status", "failure", "--format", "json"}).out, "[]\n");

  GetJson("/api/v1/jobs?status=bogus", 400);
  GetJson("/api/v1/actions?status=refusal", 400);
  GetJson("/api/v1/deliveries?status=queued", 400);
  EXPECT_EQ(GetJson("/api/v1/jobs?status=success")["items"].size(), 1u);
}

// Regression: nothing that deletes data may have a surprising default.
// `relayq prune` with store.retention 0 (documented as off) dropped every
// body; it now says what it will drop and needs --yes; a bare number is
// refused instead of meaning seconds.
TEST_F(AuditTest, PruneSaysWhatItWillDropAndNeedsYes) {
  DeliverKnownData();
  SqliteReader db(DbPath());
  const int64_t bodies = db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL");
  ASSERT_GT(bodies, 0);

  std::ofstream(dir_.File("off.yaml")) << "store:\n  retention: 0s\n";
  auto off =
      RunRelayq(dir_.path(), {"prune", "--config", dir_.File("off.yaml"), "--db", DbPath()}, Env());
  EXPECT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("off"), std::string::npos) << off.out;
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL"), bodies);

  auto bare = RunRelayq(dir_.path(), {"prune", "--older-than", "30", "--db", DbPath()}, Env());
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("30d"), std::string::npos) << bare.err;

  auto ask = RunRelayq(dir_.path(), {"prune", "--older-than", "0s", "--db", DbPath()}, Env());
  EXPECT_EQ(ask.exit_code, 1);
  EXPECT_NE(ask.out.find(std::to_string(bodies) + " raw bodies"), std::string::npos) << ask.out;
  EXPECT_NE(ask.err.find("--yes"), std::string::npos) << ask.err;
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL"), bodies);

  auto yes =
      RunRelayq(dir_.path(), {"prune", "--older-than", "0s", "--yes", "--db", DbPath()}, Env());
  EXPECT_EQ(yes.exit_code, 0) << yes.err;
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL"), 0);
}

TEST_F(AuditTest, ApiPagesFiltersAndErrors) {
  DeliverKnownData();
  json first = GetJson("/api/v1/jobs?limit=3");
  ASSERT_EQ(first["items"].size(), 3u);
  ASSERT_TRUE(first["next"].is_string());
  // A delivery between pages does not shift the second page.
  JobSpec late;
  late.job_id = 999;
  late.created_at = Ago(5);
  auto c = Client();
  ASSERT_EQ(Deliver(*c, "workflow_job", "k-999", WorkflowJobPayload(late)), 202);
  json second = GetJson("/api/v1/jobs?limit=3&cursor=" + first["next"].get<std::string>());
  ASSERT_EQ(second["items"].size(), 1u);
  EXPECT_EQ(second["items"][0]["id"], 103);
  EXPECT_TRUE(second["next"].is_null());

  json rpi = GetJson("/api/v1/jobs?label=rpi4&status=in_progress");
  ASSERT_EQ(rpi["items"].size(), 1u);
  EXPECT_EQ(rpi["items"][0]["runner_name"], "pi4-attic");
  EXPECT_EQ(GetJson("/api/v1/deliveries?status=undecodable")["items"].size(), 1u);
  EXPECT_EQ(GetJson("/api/v1/runs?repo=octo-org/media-kit")["items"].size(), 1u);
  EXPECT_EQ(GetJson("/api/v1/actions")["items"].size(), 0u);

  json job = GetJson("/api/v1/jobs/103");
  EXPECT_EQ(job["id"], 103);
  EXPECT_EQ(job["events"].size(), 3u);
  EXPECT_EQ(job["events"][1]["status"], "in_progress");
  GetJson("/api/v1/jobs/424242", 404);

  for (const char* bad :
       {"/api/v1/jobs?since=yesterday", "/api/v1/jobs?limit=0", "/api/v1/jobs?limit=5000",
        "/api/v1/jobs?limit=ten", "/api/v1/jobs?lable=rpi4", "/api/v1/jobs?cursor=nothex",
        "/api/v1/runs?label=rpi4", "/api/v1/jobs?repo="}) {
    json e = GetJson(bad, 400);
    EXPECT_TRUE(e["error"].is_string()) << bad;
  }
  EXPECT_NE(GetJson("/api/v1/jobs?lable=x", 400)["error"].get<std::string>().find("label"),
            std::string::npos);

  auto admin = Admin();
  auto no_token = admin.Get("/api/v1/jobs");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  EXPECT_EQ(admin.Get("/api/v1/jobs", {{"Authorization", "Bearer wrong"}})->status, 401);
  // ?token= opens the dashboard page only, never the API.
  std::string q = std::string("token=") + kAdminToken;
  EXPECT_EQ(admin.Get(("/api/v1/jobs?" + q).c_str())->status, 401);
  EXPECT_EQ(admin.Get(("/metrics?" + q).c_str())->status, 401);
  EXPECT_EQ(admin.Get("/?token=wrong")->status, 401);
  EXPECT_EQ(admin.Get("/")->status, 401);
  auto page = admin.Get(("/?" + q).c_str());
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_EQ(page->body.find(kAdminToken), std::string::npos);
}

TEST_F(AuditTest, MetricsPassPromtoolAndCountWhatArrived) {
  DeliverKnownData();
  // Signature failures and a job that starts after relayq did.
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  c->Post("/webhook", Headers("workflow_job", "bad-sig", body, "wrong-secret"), body,
          "application/json");
  // The queue-wait histogram follows the store every few seconds: poll the
  // scrape until job 103's wait shows up (bounded), as Prometheus would.
  auto admin = Admin();
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = admin.Get("/metrics", Auth());
    ASSERT_TRUE(m);
    ASSERT_EQ(m->status, 200);
    text = m->body;
    if (text.find("relayq_queue_wait_seconds_count{label=\"rpi4\"} 2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_NE(text.find("relayq_queue_wait_seconds_bucket{label=\"rpi4\",le=\"120\"} 2"),
            std::string::npos)
      << text;  // waits of 90 s (job 103) and 60 s (job 104)
  for (const char* want :
       {"relayq_jobs{status=\"queued\"} 2", "relayq_jobs{status=\"in_progress\"} 1",
        "relayq_queued_jobs{label=\"macmini\"} 2",
        "relayq_queued_oldest_wait_seconds{label=\"macmini\"}",
        "relayq_jobs_completed_total{conclusion=\"success\"} 1", "relayq_actions_pending 0",
        "relayq_actions_oldest_pending_age_seconds 0", "process_resident_memory_bytes ",
        "relayq_uptime_seconds ", "relayq_build_info{version=\"",
        "relayq_webhook_signature_failures_total 1",
        "relayq_webhook_deliveries_total{event=\"workflow_job\",code=\"202\"}",
        "relayq_queue_wait_seconds_bucket{label=\"rpi4\",le=\"+Inf\"}"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  if (!HaveTool("promtool")) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  std::string file = dir_.File("metrics.txt");
  std::ofstream(file) << text;
  auto [code, out] = Shell("promtool check metrics < " + file);
  EXPECT_EQ(code, 0) << out << "\n" << text;
}

TEST_F(AuditTest, DashboardShowsKnownNumbersInChromium) {
  DeliverKnownData();
  if (!HaveTool("chromium")) GTEST_SKIP() << "chromium not installed";
  std::string url =
      "http://127.0.0.1:" + std::to_string(process_->admin_port()) + "/?token=" + kAdminToken;
  std::string flags =
      "chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --disable-sync --no-first-run --user-data-dir=" +
      dir_.File("chromium-profile") + " --window-size=1280,900 --virtual-time-budget=5000 ";
  auto [code, dom] = Shell(flags + "--dump-dom '" + url + "'");
  ASSERT_EQ(code, 0) << dom;
  EXPECT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << dom;
  // Per label queued now: macmini 2, and no token left in the page.
  EXPECT_NE(dom.find("data-queue-label=\"macmini\"><div class=\"n\" data-queued=\"2\">2<"),
            std::string::npos)
      << dom;
  EXPECT_NE(dom.find("data-runner=\"pi4-kitchen\""), std::string::npos);
  EXPECT_NE(dom.find("data-runner=\"pi4-attic\""), std::string::npos);
  EXPECT_NE(dom.find("data-job=\"103\""), std::string::npos);
  EXPECT_NE(dom.find("1m30s"), std::string::npos);  // job 103's wait
  EXPECT_NE(dom.find("data-undecodable=\"k-bad\""), std::string::npos);
  EXPECT_NE(dom.find("<div id=\"error\" style=\"display: none;\"></div>"), std::string::npos);

  std::string shot = dir_.File("dashboard.png");
  auto [scode, sout] = Shell(flags + "--screenshot=" + shot + " '" + url + "'");
  ASSERT_EQ(scode, 0) << sout;
  std::ifstream in(shot, std::ios::binary);
  ASSERT_TRUE(in) << "no screenshot: " << sout;
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  // Kept for a person to look at.
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::copy_file(shot, std::string(tmp ? tmp : "/tmp") + "/relayq-dashboard.png",
                             std::filesystem::copy_options::overwrite_existing);
}

TEST_F(AuditTest, AuditWaitsShowsPerLabelPercentilesAndFallbacksInEveryFormat) {
  DeliverKnownData();  // rpi4 waits: 90 s (job 103) and 60 s (job 104)
  // By week, so that a day boundary between the two jobs cannot split them.
  auto json = RunRelayq(
      dir_.path(),
      {"audit", "waits", "--label", "rpi4", "--by", "week", "--format", "json", "--db", DbPath()},
      Env());
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto items = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(items.is_array()) << json.out;
  ASSERT_EQ(items.size(), 1u) << json.out;
  EXPECT_EQ(items[0]["label"], "rpi4");
  EXPECT_EQ(items[0]["jobs"], 2);
  EXPECT_EQ(items[0]["waited"], 2);
  EXPECT_EQ(items[0]["p50_seconds"], 60);
  EXPECT_EQ(items[0]["p95_seconds"], 90);
  EXPECT_EQ(items[0]["max_seconds"], 90);
  EXPECT_EQ(items[0]["fallbacks"], 0);
  // The API answers the same items.
  auto api = Admin().Get("/api/v1/waits?label=rpi4&by=week", Auth());
  ASSERT_TRUE(api && api->status == 200);
  EXPECT_EQ(nlohmann::json::parse(api->body)["items"], items);
  // macmini's jobs are queued: counted, no wait yet.
  auto csv = RunRelayq(
      dir_.path(),
      {"audit", "waits", "--label", "macmini", "--by", "week", "--format", "csv", "--db", DbPath()},
      Env());
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("label,period_start,jobs,waited,p50_seconds,p95_seconds,max_seconds,"
                          "fallbacks\r\nmacmini,",
                          0),
            0u)
      << csv.out;
  EXPECT_NE(csv.out.find(",2,0,,,,0\r\n"), std::string::npos) << csv.out;
  auto table = RunRelayq(dir_.path(), {"audit", "waits", "--db", DbPath()}, Env());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("P95"), std::string::npos) << table.out;
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--by", "month"}, {"--repo", "o/a"}, {"--since", "soon"}}) {
    std::vector<std::string> args = {"audit", "waits", "--db", DbPath()};
    args.insert(args.end(), bad.begin(), bad.end());
    EXPECT_EQ(RunRelayq(dir_.path(), args, Env()).exit_code, 2) << bad[0];
  }
  EXPECT_EQ(
      RunRelayq(dir_.path(), {"audit", "jobs", "--by", "week", "--db", DbPath()}, Env()).exit_code,
      2);
}

// The wait chart (inline SVG, drawn by the page) has one p50 and one p95
// path per label that has waits in the last 30 days; the actions list links
// each result run and highlights failures and refusals.
TEST_F(AuditTest, DashboardChartsWaitsAndHighlightsFailedAndRefusedActions) {
  DeliverKnownData();
  if (!HaveTool("chromium")) GTEST_SKIP() << "chromium not installed";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    const std::string now = std::to_string(ToUnixMillis(Clock::Real().Now()));
    const std::string sql =
        "INSERT INTO actions (id, kind, key, repository, status, last_error, reason, result, "
        "created_at, updated_at, done_at) VALUES "
        "(901, 'fallback', 'fallback:1:1', 'octo/kit', 'failed', 'HTTP 422', 'route transcribe', "
        "'{\"stage\":\"dispatching\"}', " +
        now + ", " + now + ", " + now +
        "), "
        "(902, 'fallback', 'fallback:2:1', 'octo/kit', 'refused', 'max_fallbacks', 'route x', "
        "NULL, " +
        now + ", " + now + ", " + now +
        "), "
        "(903, 'fallback', 'fallback:3:1', 'octo/kit', 'done', NULL, 'route transcribe', "
        "'{\"run_id\":777,\"html_url\":\"https://github.com/octo/kit/actions/runs/777\","
        "\"target_workflow\":\"transcribe_rpi.yml\"}', " +
        now + ", " + now + ", " + now +
        "), "
        "(904, 'chain', 'chain:4:1', 'octo/kit', 'done', NULL, 'chain', "
        "'{\"run_id\":778,\"html_url\":\"javascript:alert(1)\"}', " +
        now + ", " + now + ", " + now + ")";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  std::string url =
      "http://127.0.0.1:" + std::to_string(process_->admin_port()) + "/?token=" + kAdminToken;
  auto [code, dom] = Shell(
      "chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --disable-sync --no-first-run --user-data-dir=" +
      dir_.File("chromium-profile") +
      " --window-size=1280,900 --virtual-time-budget=5000 --dump-dom '" + url + "'");
  ASSERT_EQ(code, 0) << dom;
  ASSERT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << dom;
  auto count = [&dom](const std::string& needle) {
    size_t n = 0;
    for (size_t at = dom.find(needle); at != std::string::npos; at = dom.find(needle, at + 1)) ++n;
    return n;
  };
  // Waits are known for rpi4 and light (jobs 103, 104); self-hosted (every
  // job has it) is left out, and macmini's jobs are still queued.
  EXPECT_EQ(count("<svg"), 1u) << dom;
  EXPECT_EQ(count("class=\"wait-p50\""), 2u) << dom;
  EXPECT_EQ(count("class=\"wait-p95 p95\""), 2u) << dom;
  EXPECT_EQ(count("class=\"wait-p50\" data-label=\"rpi4\""), 1u) << dom;
  EXPECT_EQ(count("class=\"wait-p50\" data-label=\"light\""), 1u) << dom;
  EXPECT_EQ(count("data-label=\"macmini\""), 0u) << dom;
  // Failed and refused rows carry their highlight; the done one links its run.
  EXPECT_NE(dom.find("<tr class=\"hl-failed\"><td data-action=\"901\">"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<tr class=\"hl-refused\"><td data-action=\"902\">"), std::string::npos);
  EXPECT_NE(dom.find("<tr><td data-action=\"903\">"), std::string::npos);
  EXPECT_NE(dom.find("<a href=\"https://github.com/octo/kit/actions/runs/777\" "
                     "rel=\"noreferrer\">transcribe_rpi.yml #777</a>"),
            std::string::npos)
      << dom;
  EXPECT_EQ(dom.find("href=\"javascript:"), std::string::npos);  // a stored URL is data
}

TEST_F(AuditTest, BackupWhileServingIsConsistentAndPruneKeepsJobs) {
  DeliverKnownData();
  // Deliveries keep arriving while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0};
  std::thread writer([&] {
    auto c = Client();
    for (int i = 0; !stop.load() && i < 400; ++i) {
      JobSpec s;
      s.job_id = 10000 + i;
      s.created_at = Ago(30);
      if (Deliver(*c, "workflow_job", "w-" + std::to_string(i), WorkflowJobPayload(s)) == 202) {
        ++accepted;
      }
    }
  });
  while (accepted.load() < 20) std::this_thread::yield();
  auto backup = RunRelayq(dir_.path(), {"backup", dir_.File("copy.db"), "--db", DbPath()}, Env());
  stop = true;
  writer.join();
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  {
    SqliteReader copy(dir_.File("copy.db"));
    EXPECT_EQ(copy.Value("PRAGMA integrity_check"), "ok");
    int64_t jobs = copy.Count("SELECT count(*) FROM jobs");
    int64_t deliveries = copy.Count("SELECT count(*) FROM deliveries");
    EXPECT_GE(jobs, 4 + 20);
    // Consistent: every job_event in the copy has its delivery in the copy.
    EXPECT_EQ(copy.Count("SELECT count(*) FROM job_events e WHERE NOT EXISTS "
                         "(SELECT 1 FROM deliveries d WHERE d.id = e.delivery_id)"),
              0);
    EXPECT_LE(deliveries, 8 + accepted.load());
  }
  // The audit CLI reads the copy like any store (how to check a restore).
  auto from_copy =
      RunRelayq(dir_.path(), {"audit", "jobs", "--id", "103", "--db", dir_.File("copy.db")}, Env());
  EXPECT_EQ(from_copy.exit_code, 0) << from_copy.err;
  // Never overwrites.
  auto again = RunRelayq(dir_.path(), {"backup", dir_.File("copy.db"), "--db", DbPath()}, Env());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos);

  SqliteReader db(DbPath());
  const int64_t jobs_before = db.Count("SELECT count(*) FROM jobs");
  auto keep = RunRelayq(dir_.path(), {"prune", "--db", DbPath()}, Env());
  ASSERT_EQ(keep.exit_code, 0) << keep.err;
  EXPECT_NE(keep.out.find("dropped 0 raw bodies"), std::string::npos) << keep.out;
  auto prune =
      RunRelayq(dir_.path(), {"prune", "--older-than", "0s", "--yes", "--db", DbPath()}, Env());
  ASSERT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL"), 0);
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), jobs_before);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events WHERE job_id = 103"), 3);
  EXPECT_EQ(
      RunRelayq(dir_.path(), {"prune", "--older-than", "soon", "--db", DbPath()}, Env()).exit_code,
      2);
  // Still serving after all that.
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "workflow_job", "after", WorkflowJobPayload({})), 202);
}

}  // namespace
}  // namespace relayq::testing
