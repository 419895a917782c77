// Whole-process tests of `relayq dispatch` learning an input's size: the real
// binary against the fake GitHub API and a file server on loopback. The size
// reaches GitHub as the workflow's size_mb input (what the kit's workflows
// declare and what max_size_mb reads), only for a workflow whose route limits
// the size, and never with the URL's query in anything relayq prints.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/github_fixture.h"

namespace relayq::testing {
namespace {

constexpr char kRepo[] = "octo/kit";
constexpr int64_t kFileBytes = 3 * 1024 * 1024 + 1;  // 3 MiB and a byte: "3.01"

// The shipped policy's shape: transcribe_mac.yml is governed by a route with
// max_size_mb; transcribe_audio.yml by none.
constexpr char kPolicy[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml, labels: [macmini] }
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: transcribe_rpi.yml
    constraints: { max_size_mb: 2 }
)";

class DispatchSizeTest : public GitHubIntegrationTest {
 protected:
  void SetUp() override {
    GitHubIntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    // relayq dispatch reads policy/policy.yaml from its working directory
    // when the config names none, as relayq serve does.
    std::filesystem::create_directories(dir_.File("policy"));
    std::ofstream(dir_.File("policy/policy.yaml")) << kPolicy;

    files_.Get("/audio/episode.mp3", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.method == "HEAD") ++heads_;
      res.set_content(std::string(kFileBytes, 'a'), "audio/mpeg");
    });
    files_port_ = files_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(files_port_, 0);
    files_thread_ = std::thread([this] { files_.listen_after_bind(); });
    // bind_to_any_port has bound and is listening: connections wait in the
    // backlog until the thread accepts them. But cpp-httplib's stop() does
    // nothing until the listening thread has marked the server running, so
    // a test that stops it at once would hang on the join: wait for that
    // (microseconds; bounded).
    for (int i = 0; i < 5000 && !files_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(files_.is_running());
  }
  void TearDown() override {
    files_.stop();
    if (files_thread_.joinable()) files_thread_.join();
  }

  std::string FileUrl() const {
    return "http://127.0.0.1:" + std::to_string(files_port_) +
           "/audio/episode.mp3?X-Amz-Signature=s3cr3t-sig";
  }

  CommandResult Dispatch(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"dispatch"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--repo", kRepo, "--init"});  // no daemon: a store of its own
    return RunRelayq(dir_.path(), args, GitHubEnv());
  }

  // The inputs of the one dispatch GitHub received for `workflow`.
  nlohmann::json SentInputs(const std::string& workflow) {
    auto calls = github_->CallsTo("POST", "/actions/workflows/" + workflow + "/dispatches");
    EXPECT_EQ(calls.size(), 1u);
    if (calls.empty()) return nullptr;
    return nlohmann::json::parse(calls[0].body, nullptr, false)
        .value("inputs", nlohmann::json::object());
  }

  httplib::Server files_;
  int files_port_ = 0;
  std::thread files_thread_;
  std::atomic<int> heads_{0};
};

TEST_F(DispatchSizeTest, SizeMbFilledFromHeadForASizeLimitedWorkflow) {
  auto r = Dispatch({"transcribe_mac.yml", "url=" + FileUrl()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(heads_.load(), 1);
  nlohmann::json inputs = SentInputs("transcribe_mac.yml");
  EXPECT_EQ(inputs.value("size_mb", ""), "3.01");
  EXPECT_EQ(inputs.value("url", ""), FileUrl());  // the runner needs the signed URL
  EXPECT_EQ(r.err.find("s3cr3t-sig"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("s3cr3t-sig"), std::string::npos) << r.out;
}

TEST_F(DispatchSizeTest, SizeGivenByTheUserIsSentAsIsWithoutAProbe) {
  auto r = Dispatch({"transcribe_mac.yml", "url=" + FileUrl(), "size_mb=340"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(heads_.load(), 0);
  EXPECT_EQ(SentInputs("transcribe_mac.yml").value("size_mb", ""), "340");
}

TEST_F(DispatchSizeTest, NoProbeWithoutASizeLimitOrWithNoSizeProbe) {
  // No route limits transcribe_audio.yml's size: its inputs stay as given
  // (an undeclared size_mb would get GitHub's 422).
  auto r = Dispatch({"transcribe_audio.yml", "url=" + FileUrl()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(SentInputs("transcribe_audio.yml").contains("size_mb"));
  r = Dispatch({"transcribe_mac.yml", "url=" + FileUrl(), "--no-size-probe"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(SentInputs("transcribe_mac.yml").contains("size_mb"));
  EXPECT_EQ(heads_.load(), 0);
}

TEST_F(DispatchSizeTest, UnreachableFileLeavesTheSizeUnknownAndSaysSoRedacted) {
  files_.stop();
  files_thread_.join();
  auto r = Dispatch({"transcribe_mac.yml", "url=" + FileUrl()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(SentInputs("transcribe_mac.yml").contains("size_mb"));
  EXPECT_NE(r.err.find("size of the input unknown"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/audio/episode.mp3"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("s3cr3t-sig"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace relayq::testing
