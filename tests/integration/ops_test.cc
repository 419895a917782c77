// Whole-process tests of an operator's day (issue 13, "Operations"): which
// configuration the CLI reads (--config, RELAYQ_CONFIG, the default path, the
// env file beside it), --repo and --url defaults, `relayq hooks remove` and
// the refusal of URLs GitHub cannot reach, and network errors that name the
// host. The real binary against the fake GitHub API on loopback.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/fakes/github_payloads.h"
#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";
constexpr char kToken[] = "ops-test-token";
constexpr char kHookUrl[] = "https://relayq.example/webhook";

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Each test gets its own fake GitHub API (started in SetUp).
class OpsTest : public GitHubIntegrationTest {
 protected:
  // The environment of a shell with the token exported (and the fake's URL).
  std::map<std::string, std::string> GitHubEnv() const {
    return GitHubIntegrationTest::GitHubEnv(kToken);
  }

  CommandResult Run(std::vector<std::string> args,
                    const std::map<std::string, std::string>& env) const {
    CommandResult r = RunRelayq(dir_.path(), args, env);
    for (const std::string& text : {r.out, r.err}) {
      EXPECT_FALSE(Has(text, kToken)) << text;
      EXPECT_FALSE(Has(text, kSecret)) << text;
    }
    return r;
  }

  // An installed set-up: DIR/config.yaml naming one repository and the hook
  // URL, and DIR/relayq.env holding the credentials (as /etc/relayq after the
  // systemd install).
  std::string InstallConfig() const {
    std::string etc = dir_.File("etc");
    std::filesystem::create_directories(etc);
    WriteFile(etc + "/config.yaml", "store:\n  path: " + dir_.File("relayq.db") +
                                        "\ngithub:\n  repositories: [" + kRepo +
                                        "]\n  hook_url: " + kHookUrl + "\n");
    WriteFile(etc + "/relayq.env", std::string("# written by the install\nGITHUB_TOKEN=") + kToken +
                                       "\nRELAYQ_WEBHOOK_SECRET=" + kSecret +
                                       "\nRELAYQ_GITHUB_API_URL=" + github_->url() + "\n");
    ::chmod((etc + "/relayq.env").c_str(), 0600);
    return etc + "/config.yaml";
  }
};

// The ops environment of a root shell: no credentials exported.
std::map<std::string, std::string> BareEnv() { return {{"PATH", "/usr/bin:/bin"}}; }

TEST_F(OpsTest, RelayqConfigAndItsEnvFileGiveHooksInstallEverything) {
  auto env = BareEnv();
  env["RELAYQ_CONFIG"] = InstallConfig();
  // No --repo, no --url, no exported token: all from the installed set-up.
  auto r = Run({"hooks", "install"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, std::string("created hook")) && Has(r.out, kHookUrl)) << r.out;
  ASSERT_EQ(github_->hooks().size(), 1u);
  EXPECT_EQ(github_->hooks()[0].repo, kRepo);
  EXPECT_EQ(github_->hooks()[0].secret, kSecret);
}

TEST_F(OpsTest, ConfigFlagWinsOverRelayqConfigAndEmptyMeansNone) {
  std::string installed = InstallConfig();
  std::string other = dir_.File("other.yaml");
  WriteFile(other, "github:\n  repositories: [a/one, b/two]\n");
  auto env = GitHubEnv();
  env["RELAYQ_CONFIG"] = installed;
  // --config names a file with two repositories: --repo has no default.
  auto r = Run({"runners", "--config", other}, env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "--repo")) << r.err;
  // RELAYQ_CONFIG's file names one: the default applies.
  auto ok = Run({"runners"}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_GE(github_->CountCalls("GET", "/repos/octo/kit/actions/runners"), 1);
  // RELAYQ_CONFIG set but empty: no file at all.
  env["RELAYQ_CONFIG"] = "";
  auto none = Run({"doctor"}, env);
  EXPECT_TRUE(Has(none.out, "none: built-in defaults")) << none.out;
}

TEST_F(OpsTest, DoctorSaysWhichConfigAndEnvFileItUsed) {
  auto env = BareEnv();
  std::string config = InstallConfig();
  env["RELAYQ_CONFIG"] = config;
  auto r = Run({"doctor"}, env);
  EXPECT_TRUE(Has(r.out, config + " (from RELAYQ_CONFIG)")) << r.out;
  EXPECT_TRUE(Has(r.out, dir_.File("etc") + "/relayq.env")) << r.out;
  EXPECT_TRUE(Has(r.out, "token for " + github_->url())) << r.out;
  auto flag = Run({"doctor", "--config", config}, BareEnv());
  EXPECT_TRUE(Has(flag.out, config + " (from --config)")) << flag.out;
}

TEST_F(OpsTest, ExportedVariablesWinOverTheEnvFile) {
  auto env = GitHubEnv();
  env["RELAYQ_CONFIG"] = InstallConfig();
  env["RELAYQ_WEBHOOK_SECRET"] = "exported-secret";
  auto r = Run({"hooks", "install"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(github_->hooks().size(), 1u);
  EXPECT_EQ(github_->hooks()[0].secret, "exported-secret");
}

TEST_F(OpsTest, HooksRemoveDeletesRelayqsHook) {
  FakeHook other;
  other.repo = kRepo;
  other.url = "https://ci.example/hook";
  other.events = {"push"};
  github_->AddHook(other);
  auto env = BareEnv();
  env["RELAYQ_CONFIG"] = InstallConfig();
  ASSERT_EQ(Run({"hooks", "install"}, env).exit_code, 0);
  ASSERT_EQ(github_->hooks().size(), 2u);

  auto r = Run({"hooks", "remove"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "removed hook")) << r.out;
  ASSERT_EQ(github_->hooks().size(), 1u);
  EXPECT_EQ(github_->hooks()[0].url, "https://ci.example/hook");
  EXPECT_EQ(github_->CountCalls("DELETE", "/repos/octo/kit/hooks/"), 1);

  // Nothing left to remove: a failure that says so.
  auto again = Run({"hooks", "remove"}, env);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(github_->CountCalls("DELETE", "/repos/octo/kit/hooks/"), 1);
}

TEST_F(OpsTest, HooksRemoveWhoseAnswerIsLostChecksAndReportsTheHookGone) {
  auto env = BareEnv();
  env["RELAYQ_CONFIG"] = InstallConfig();
  ASSERT_EQ(Run({"hooks", "install"}, env).exit_code, 0);
  ASSERT_EQ(github_->hooks().size(), 1u);
  // GitHub deletes the hook, then the connection drops before its answer.
  FailureRule lost;
  lost.path_contains = "/repos/octo/kit/hooks/";
  lost.after_work = true;
  lost.drop = true;
  github_->AddFailure(lost);

  auto r = Run({"hooks", "remove"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "the hook is gone")) << r.out;
  EXPECT_TRUE(github_->hooks().empty());
  // DELETE is idempotent, so the client resends it; the resend's 404 is
  // checked against the hook list rather than reported as a failure.
  EXPECT_EQ(github_->CountCalls("DELETE", "/repos/octo/kit/hooks/"), 2);
}

TEST_F(OpsTest, HooksInstallRefusesUrlsGitHubCannotReach) {
  for (const std::string url :
       {"http://127.0.0.1:8080/webhook", "http://localhost:8080/webhook",
        "https://10.0.0.5/webhook", "https://172.20.1.1/webhook", "https://192.168.1.10/webhook",
        "https://169.254.1.1/webhook", "http://[::1]:8080/webhook", "https://pi.local/webhook",
        "https://100.101.102.103/webhook"}) {
    auto r = Run({"hooks", "install", "--repo", kRepo, "--url", url}, GitHubEnv());
    EXPECT_EQ(r.exit_code, 1) << url;
    EXPECT_TRUE(Has(r.err, "GitHub cannot reach")) << url << ": " << r.err;
    EXPECT_TRUE(Has(r.err, "funnel")) << r.err;
  }
  EXPECT_TRUE(github_->calls().empty());
  EXPECT_TRUE(github_->hooks().empty());
  auto ok =
      Run({"hooks", "install", "--repo", kRepo, "--url", "https://pi.tail1234.ts.net/webhook"},
          GitHubEnv());
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// A loopback port nothing listens on.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_F(OpsTest, NetworkErrorsNameTheHostAndShowRetries) {
  auto env = GitHubEnv();
  std::string hostport = "127.0.0.1:" + std::to_string(ClosedPort());
  env["RELAYQ_GITHUB_API_URL"] = "http://" + hostport;
  auto r = Run({"runners", "--repo", kRepo}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "cannot connect to " + hostport + ": Connection refused")) << r.err;
  EXPECT_TRUE(Has(r.err, "retrying in ")) << r.err;
  EXPECT_TRUE(Has(r.err, "(attempt 2 of ")) << r.err;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// How many times `part` occurs in relayq's log (its stderr).
int LogCount(const std::string& workdir, const std::string& part) {
  std::string log = ReadAll(workdir + "/relayq.stderr.log");
  int n = 0;
  for (size_t pos = log.find(part); pos != std::string::npos; pos = log.find(part, pos + 1)) ++n;
  return n;
}

TEST_F(IntegrationTest, SighupAppliesAReloadedAllowListAndKeepsTheOldOneOnABrokenConfig) {
  std::string config = dir_.File("config.yaml");
  WriteFile(config, "webhook:\n  allow: [someone/else]\n");
  StartRelayq({"--config", config});
  auto c = Client();
  JobSpec job;
  job.repository = "octo-org/media-kit";
  const std::string body = WorkflowJobPayload(job);
  EXPECT_EQ(Deliver(*c, "workflow_job", "sighup-1", body), 403);

  // Allowed now, plus a key only a restart applies.
  WriteFile(config,
            "webhook:\n  allow: [someone/else, octo-org/media-kit]\nhttp:\n  header_timeout: 7s\n");
  ASSERT_EQ(::kill(process_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return LogCount(dir_.path(), "webhook settings reloaded") == 1; }))
      << ReadAll(dir_.File("relayq.stderr.log"));
  EXPECT_EQ(Deliver(*c, "workflow_job", "sighup-2", body), 202);
  std::string log = ReadAll(dir_.File("relayq.stderr.log"));
  EXPECT_TRUE(Has(log, "need a restart")) << log;
  EXPECT_TRUE(Has(log, "http.*")) << log;

  // A broken file: refused with the reason; the allow-list stays.
  WriteFile(config, "webhook:\n  alow: [nobody/here]\n");
  ASSERT_EQ(::kill(process_->pid(), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return LogCount(dir_.path(), "configuration refused") == 1; }));
  log = ReadAll(dir_.File("relayq.stderr.log"));
  EXPECT_TRUE(Has(log, "alow")) << log;
  EXPECT_EQ(Deliver(*c, "workflow_job", "sighup-3", body), 202);
  EXPECT_EQ(process_->Terminate(), 0);
}

// The metric names of README's "### Metrics" table, with their type.
std::map<std::string, std::string> ReadmeMetrics() {
  std::ifstream in(std::string(RELAYQ_SOURCE_DIR) + "/README.md");
  std::map<std::string, std::string> out;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("### ", 0) == 0) in_section = line == "### Metrics";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    size_t end = line.find('`', 3);
    std::string name = line.substr(3, end - 3);
    size_t type_start = line.find("| ", end) + 2;
    out[name] = line.substr(type_start, line.find(' ', type_start) - type_start);
  }
  return out;
}

TEST_F(OpsTest, MetricsFollowPrometheusConventionsAndTheReadmeListsEveryOne) {
  std::string config = dir_.File("config.yaml");
  WriteFile(config, "github:\n  repositories: [octo-org/media-kit]\n  write_interval: 0\n");
  process_ = RelayqProcess::Start({dir_.path(), {"--config", config}, GitHubEnv()});
  ASSERT_NE(process_, nullptr);
  auto c = Client();
  // A job waits and starts (the queue-wait histogram), a stranger fails the
  // signature; GitHub credentials are configured (the GitHub families).
  JobSpec job;
  ASSERT_EQ(Deliver(*c, "workflow_job", "m-1", WorkflowJobPayload(job)), 202);
  job.action = "in_progress";
  job.runner_name = "mac-mini";
  ASSERT_EQ(Deliver(*c, "workflow_job", "m-2", WorkflowJobPayload(job)), 202);
  auto bad =
      c->Post("/webhook", Headers("workflow_job", "m-3", "{}", "wrong"), "{}", "application/json");
  ASSERT_TRUE(bad);
  job.action = "completed";
  job.conclusion = "success";
  ASSERT_EQ(Deliver(*c, "workflow_job", "m-4", WorkflowJobPayload(job)), 202);

  httplib::Client admin("127.0.0.1", process_->admin_port());
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    auto m = admin.Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminToken}});
    if (!m || m->status != 200) return false;
    text = m->body;
    return Has(text, "relayq_queue_wait_seconds_count");
  })) << text;

  std::map<std::string, std::string> scraped;  // family -> type
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    scraped[name] = type;
    if (type == "counter") {
      EXPECT_TRUE(name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) << name;
    }
  }
  const auto readme = ReadmeMetrics();
  ASSERT_FALSE(readme.empty());
  for (const auto& [name, type] : scraped) {
    auto it = readme.find(name);
    EXPECT_NE(it, readme.end()) << name << " is served but not in README's metrics table";
    if (it != readme.end()) {
      EXPECT_EQ(it->second, type) << name;
    }
  }
  for (const auto& [name, type] : readme) {
    EXPECT_EQ(scraped.count(name), 1u) << name << " is in README's table but not served";
  }
  for (const char* want : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_open_fds ", "process_max_fds ", "process_start_time_seconds ",
                           "relayq_jobs_completed_total{conclusion=\"success\"} 1",
                           "relayq_queue_wait_seconds_count{label=\"macmini\"} 1"}) {
    EXPECT_TRUE(Has(text, want)) << want << "\n" << text;
  }
  EXPECT_FALSE(Has(text, "self-hosted")) << text;
  EXPECT_FALSE(Has(text, "relayq_jobs_completed_24h")) << text;
  EXPECT_EQ(process_->Terminate(), 0);
}

}  // namespace
}  // namespace relayq::testing
