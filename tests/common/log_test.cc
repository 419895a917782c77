// common/log.h: lines reach the installed sink with their level and fields.
#include "common/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace relayq {
namespace {

struct Line {
  LogLevel level;
  std::string msg;
  std::string fields;
};
std::vector<Line>* g_lines = nullptr;

void RecordingSink(LogLevel level, std::string_view msg, const LogFields& fields) {
  std::string f;
  for (const auto& [k, v] : fields) f += std::string(k) + "=" + v + ";";
  g_lines->push_back({level, std::string(msg), f});
}

class LogTest : public ::testing::Test {
 protected:
  LogTest() {
    g_lines = &lines_;
    SetLogSink(&RecordingSink);
  }
  ~LogTest() override {
    SetLogSink(nullptr);
    g_lines = nullptr;
  }
  std::vector<Line> lines_;
};

TEST_F(LogTest, InstalledSinkGetsLevelMessageAndFieldsInOrder) {
  Log(LogLevel::kWarn, "recovery failed", {{"repository", "octo/kit"}, {"error", "boom"}});
  Log(LogLevel::kDebug, "quiet");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0].level, LogLevel::kWarn);
  EXPECT_EQ(lines_[0].msg, "recovery failed");
  EXPECT_EQ(lines_[0].fields, "repository=octo/kit;error=boom;");
  EXPECT_EQ(lines_[1].level, LogLevel::kDebug);
  EXPECT_EQ(lines_[1].fields, "");
}

TEST_F(LogTest, NullSinkRestoresTheDefaultAndStopsCallingTheOldOne) {
  SetLogSink(nullptr);
  ::testing::internal::CaptureStderr();
  Log(LogLevel::kInfo, "started", {{"public", "127.0.0.1:8080"}});
  Log(LogLevel::kDebug, "not shown by default");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "info started public=127.0.0.1:8080\n");
  EXPECT_TRUE(lines_.empty());
}

}  // namespace
}  // namespace relayq
