// doctor's runner and constraint checks against a policy (pure).
#include <gtest/gtest.h>

#include "cli/doctor_cmd.h"
#include "policy/policy_loader.h"

namespace relayq::cli {
namespace {

constexpr char kPolicy[] = R"(routes:
  transcribe:
    prefer: [macmini]
    fallback: [rpi4]
    constraints:
      needs_ffmpeg: true
      max_size_mb: 1000
)";

std::shared_ptr<const policy::Policy> Load(const char* text) {
  auto check = policy::ParsePolicy(text, "policy.yaml");
  EXPECT_TRUE(check.ok()) << policy::FormatDiagnostics(check.diagnostics);
  return check.policy;
}

github::Runner MakeRunner(std::string name, std::vector<std::string> labels, bool online = true) {
  github::Runner r;
  r.name = std::move(name);
  r.labels = std::move(labels);
  r.status = online ? "online" : "offline";
  return r;
}

int Failures(const std::vector<DoctorCheck>& checks) {
  int n = 0;
  for (const auto& c : checks) n += c.ok ? 0 : 1;
  return n;
}

TEST(CheckRunnersAgainstPolicyTest, KitRunnersPass) {
  auto pol = Load(kPolicy);
  std::vector<github::Runner> runners = {
      MakeRunner("mini", {"self-hosted", "macmini", "audio", "ffmpeg", "heavy"}),
      MakeRunner("pi4", {"self-hosted", "rpi4", "audio", "light", "ffmpeg"})};
  auto checks = CheckRunnersAgainstPolicy(*pol, runners, "octo/kit");
  ASSERT_EQ(checks.size(), 3u);  // prefer, fallback, constraints
  EXPECT_EQ(Failures(checks), 0) << FormatCheck(checks[0]) << FormatCheck(checks[1])
                                 << FormatCheck(checks[2]);
}

TEST(CheckRunnersAgainstPolicyTest, NoRunnerForRoutedLabelFailsWithHint) {
  auto pol = Load(kPolicy);
  std::vector<github::Runner> runners = {MakeRunner("pi4", {"self-hosted", "rpi4", "ffmpeg"})};
  auto checks = CheckRunnersAgainstPolicy(*pol, runners, "octo/kit");
  ASSERT_EQ(Failures(checks), 1);
  const DoctorCheck& c = checks[0];
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.name.find("prefer [macmini]"), std::string::npos);
  EXPECT_NE(c.hint.find("register a runner"), std::string::npos);
}

TEST(CheckRunnersAgainstPolicyTest, OfflineRunnerIsNamed) {
  auto pol = Load(kPolicy);
  std::vector<github::Runner> runners = {
      MakeRunner("mini", {"self-hosted", "macmini", "ffmpeg"}, /*online=*/false),
      MakeRunner("pi4", {"self-hosted", "rpi4", "ffmpeg"})};
  auto checks = CheckRunnersAgainstPolicy(*pol, runners, "octo/kit");
  ASSERT_EQ(Failures(checks), 1);
  EXPECT_NE(checks[0].detail.find("offline: mini"), std::string::npos);
  EXPECT_NE(checks[0].hint.find("start the runner"), std::string::npos);
}

TEST(CheckRunnersAgainstPolicyTest, UnsatisfiableConstraintFails) {
  auto pol = Load(kPolicy);
  // The kit's Pi 4 has no ffmpeg label: needs_ffmpeg cannot be proved.
  std::vector<github::Runner> runners = {
      MakeRunner("mini", {"self-hosted", "macmini", "ffmpeg"}),
      MakeRunner("pi4", {"self-hosted", "rpi4", "audio", "light"})};
  auto checks = CheckRunnersAgainstPolicy(*pol, runners, "octo/kit");
  ASSERT_EQ(Failures(checks), 1);
  EXPECT_NE(checks[2].name.find("constraints"), std::string::npos);
  EXPECT_NE(checks[2].hint.find("needs_ffmpeg"), std::string::npos);
}

TEST(CheckRunnersAgainstPolicyTest, LabelsCompareIgnoringCase) {
  auto pol = Load(kPolicy);
  std::vector<github::Runner> runners = {MakeRunner("mini", {"MacMini"}),
                                         MakeRunner("pi4", {"RPI4", "FFmpeg"})};
  EXPECT_EQ(Failures(CheckRunnersAgainstPolicy(*pol, runners, "octo/kit")), 0);
}

TEST(CheckRunnersAgainstPolicyTest, RouteForOtherRepositoryIsSkipped) {
  auto pol = Load(R"(routes:
  other:
    match: { repository: someone/else }
    prefer: [macmini]
    fallback: [rpi4]
)");
  EXPECT_TRUE(CheckRunnersAgainstPolicy(*pol, {}, "octo/kit").empty());
}

TEST(FormatCheckTest, HintOnlyOnFailure) {
  EXPECT_EQ(FormatCheck({true, "store writable", "relayq.db", "unused"}),
            "PASS  store writable: relayq.db\n");
  EXPECT_EQ(FormatCheck({false, "webhook secret", "none configured", "set it"}),
            "FAIL  webhook secret: none configured\n      hint: set it\n");
}

}  // namespace
}  // namespace relayq::cli
