// Whole-process tests of the command line as an operator meets it: usage
// errors are one line with a "did you mean", an HTTP-speaking command reports
// a server's early answer instead of dying of SIGPIPE, and audit tables are
// gh-like (30 rows by default with a note when more exist, tab-separated into
// a pipe, json unchanged).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"
#include "common/time_format.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

using nlohmann::json;

class CliTest : public IntegrationTest {
 protected:
  CommandResult Run(std::vector<std::string> args) { return RunRelayq(dir_.path(), args, Env()); }
};

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST_F(CliTest, MistypedCommandIsOneLineWithDidYouMean) {
  auto r = Run({"serv"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'serv'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'serve'?"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;

  auto help = Run({"help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("dispatch"), std::string::npos) << help.out;

  auto sub = Run({"hooks", "instal"});
  EXPECT_EQ(sub.exit_code, 2);
  EXPECT_NE(sub.err.find("did you mean 'install'?"), std::string::npos) << sub.err;
  EXPECT_EQ(Lines(sub.err), 1u) << sub.err;
  auto bare = Run({"hooks"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("install, list"), std::string::npos) << bare.err;
  EXPECT_EQ(bare.err.find("A subcommand is required"), std::string::npos) << bare.err;

  auto none = Run({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(Lines(none.err), 1u) << none.err;
}

TEST_F(CliTest, BadOptionValuesAreOneLineUsageErrors) {
  // CLI11 printed a 309-digit range for a negative --limit.
  auto r = Run({"audit", "jobs", "--limit", "-1", "--db", DbPath()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--limit"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 200u) << r.err;
  auto unknown = Run({"audit", "jobs", "--colour"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(Lines(unknown.err), 1u) << unknown.err;
  EXPECT_NE(unknown.err.find("relayq audit --help"), std::string::npos) << unknown.err;
}

// Regression: `relayq send` with a body over the server's limit died of
// SIGPIPE (exit 141, nothing printed) when relayq answered 413 early.
TEST_F(CliTest, SendReportsAnEarly413InsteadOfDyingOfSigpipe) {
  std::ofstream(dir_.File("relayq.yaml")) << "webhook:\n  max_body: 4KiB\n";
  StartRelayq({"--config", dir_.File("relayq.yaml")});
  std::string big = R"({"action":"queued","padding":")" + std::string(8 << 20, 'x') + "\"}";
  std::ofstream(dir_.File("big.json")) << big;
  std::string url = "http://127.0.0.1:" + std::to_string(process_->public_port()) + "/webhook";
  auto r = RunRelayq(dir_.path(),
                     {"send", dir_.File("big.json"), "--event", "workflow_job", "--url", url,
                      "--config", dir_.File("relayq.yaml")},
                     Env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("413"), std::string::npos) << r.out << r.err;
}

TEST_F(CliTest, AuditTablesShowThirtyRowsTabSeparatedAndSayMoreExist) {
  StartRelayq();
  auto c = Client();
  const int64_t now = ToUnixMillis(Clock::Real().Now());
  for (int i = 0; i < 32; ++i) {
    JobSpec j;
    j.job_id = 7000 + i;
    j.run_id = 8000 + i;
    j.created_at = FormatRfc3339(now - (100 - i) * 1000LL);
    ASSERT_EQ(Deliver(*c, "workflow_job", "t-" + std::to_string(i), WorkflowJobPayload(j)), 202);
  }
  auto table = Run({"audit", "jobs", "--db", DbPath()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(Lines(table.out), 30u) << table.out;  // piped: no header, one row per job
  EXPECT_NE(table.out.find("7031\t"), std::string::npos) << table.out;  // newest first
  EXPECT_EQ(table.out.find("7000\t"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("  "), std::string::npos) << table.out;  // no padding
  EXPECT_NE(table.err.find("more exist"), std::string::npos) << table.err;

  auto all = Run({"audit", "jobs", "--limit", "0", "--db", DbPath()});
  EXPECT_EQ(Lines(all.out), 32u);
  EXPECT_EQ(all.err.find("more exist"), std::string::npos) << all.err;

  auto exact = Run({"audit", "jobs", "--limit", "32", "--db", DbPath()});
  EXPECT_EQ(Lines(exact.out), 32u);
  EXPECT_EQ(exact.err.find("more exist"), std::string::npos) << exact.err;

  auto js = Run({"audit", "jobs", "--format", "json", "--db", DbPath()});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_EQ(json::parse(js.out).size(), 32u);  // json: every item, as before
}

// At a terminal the table keeps its header and aligned columns and narrows
// its widest cells to the terminal's width (util-linux `script` gives the
// command a pseudo-terminal; its size is unknown there, so $COLUMNS says it).
TEST_F(CliTest, AuditTableAtATerminalFitsItsWidth) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no script(1)";
  StartRelayq();
  auto c = Client();
  JobSpec j;
  j.job_id = 4242;
  j.workflow_name = "a-rather-long-workflow-name-for-a-narrow-terminal";
  j.name = "and-an-equally-long-job-name";
  j.labels = {"self-hosted", "macmini", "audio", "ffmpeg", "heavy"};
  ASSERT_EQ(Deliver(*c, "workflow_job", "w-1", WorkflowJobPayload(j)), 202);
  std::string cmd = "COLUMNS=70 script -q -e -c '" + std::string(RELAYQ_BINARY) +
                    " audit jobs --db " + DbPath() + "' /dev/null 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  std::istringstream lines(out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t cols = 0;
    for (unsigned char ch : line) cols += (ch & 0xC0) != 0x80;
    EXPECT_LE(cols, 70u) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 2) << out;                                // header and the job
  EXPECT_NE(out.find("STATUS"), std::string::npos) << out;  // the header, cut to fit
  EXPECT_NE(out.find("queued"), std::string::npos) << out;
  EXPECT_NE(out.find("4242"), std::string::npos) << out;
}

}  // namespace
}  // namespace relayq::testing
