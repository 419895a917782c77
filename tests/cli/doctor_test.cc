// doctor's checks that need no GitHub: runners and constraints against a
// policy, the store's filesystem from a mount table, and whether
// notification targets take a connection (real loopback sockets).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

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

TEST(FormatCheckTest, WarningShowsItsHint) {
  DoctorCheck c{true, "store filesystem", "on tmpfs", "put it on a disk"};
  c.warn = true;
  EXPECT_EQ(FormatCheck(c), "WARN  store filesystem: on tmpfs\n      hint: put it on a disk\n");
}

// A mount table: / on ext4, /srv/relayq on `fstype` with `options` (the
// per-mount options) and `super` (the superblock's), /srv/relayq/sub on tmpfs.
std::string Mountinfo(const std::string& fstype, const std::string& options,
                      const std::string& super) {
  return "22 1 179:2 / / rw,relatime shared:1 - ext4 /dev/mmcblk0p2 rw\n"
         "30 22 0:25 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
         "40 22 8:1 / /srv/relayq " +
         options + " shared:20 - " + fstype + " /dev/sda1 " + super +
         "\n"
         "41 40 0:30 / /srv/relayq/sub rw,relatime - tmpfs tmpfs rw,size=1024k\n";
}

TEST(CheckStoreFilesystemTest, JudgesTheMountUnderTheStore) {
  struct Case {
    const char* fstype;
    const char* options;
    const char* super;
    bool warn;
    const char* says;  // in the detail
  } cases[] = {
      {"ext4", "rw,noatime", "rw,errors=remount-ro", false, "on ext4 (/dev/sda1 at /srv/relayq)"},
      {"ext4", "rw,noatime", "rw,nobarrier", true, "mounted nobarrier"},
      {"ext4", "rw,noatime", "rw,barrier=0", true, "mounted barrier=0"},
      {"xfs", "rw,nobarrier", "rw", true, "mounted nobarrier"},
      {"ext4", "rw", "rw,data=writeback", true, "mounted data=writeback"},
      {"ext4", "rw", "rw,data=ordered", false, "on ext4"},
      {"vfat", "rw,relatime", "rw,fmask=0022,errors=remount-ro", true, "FAT has no journal"},
      {"exfat", "rw", "rw", true, "FAT has no journal"},
      {"vfat", "rw,sync,relatime", "rw", false, "on vfat"},
      {"tmpfs", "rw", "rw,size=100m", true, "memory, not a disk"},
      {"nfs4", "rw,relatime", "rw,vers=4.2", true, "a network filesystem"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.fstype) + " " + c.options + " " + c.super);
    DoctorCheck check =
        CheckStoreFilesystem(Mountinfo(c.fstype, c.options, c.super), "/srv/relayq/data");
    EXPECT_TRUE(check.ok);
    EXPECT_EQ(check.warn, c.warn);
    EXPECT_NE(check.detail.find(c.says), std::string::npos) << check.detail;
    EXPECT_EQ(check.hint.empty(), !c.warn);
  }
}

TEST(CheckStoreFilesystemTest, TheLongestCoveringMountPointWins) {
  const std::string table = Mountinfo("ext4", "rw", "rw");
  EXPECT_TRUE(CheckStoreFilesystem(table, "/srv/relayq/sub").warn);      // the tmpfs
  EXPECT_FALSE(CheckStoreFilesystem(table, "/srv/relayq/subdir").warn);  // not under it
  EXPECT_NE(CheckStoreFilesystem(table, "/home/pi").detail.find("/dev/mmcblk0p2"),
            std::string::npos);
}

TEST(CheckStoreFilesystemTest, ALaterMountOverAnEarlierOneWins) {
  const std::string table =
      "22 1 179:2 / / rw - ext4 /dev/root rw\n"
      "50 22 0:40 / /var/lib/relayq rw - ext4 /dev/sda1 rw\n"
      "51 50 0:41 / /var/lib/relayq rw - tmpfs tmpfs rw\n";
  EXPECT_TRUE(CheckStoreFilesystem(table, "/var/lib/relayq").warn);
}

TEST(CheckStoreFilesystemTest, EscapedMountPointsAndUncoveredPaths) {
  const std::string table = "40 22 8:1 / /media/pi/SD\\040CARD rw - vfat /dev/sdb1 rw\n";
  EXPECT_TRUE(CheckStoreFilesystem(table, "/media/pi/SD CARD/relayq").warn);
  DoctorCheck none = CheckStoreFilesystem(table, "/srv");
  EXPECT_TRUE(none.ok);
  EXPECT_FALSE(none.warn);
  EXPECT_NE(none.detail.find("not checked"), std::string::npos);
}

// A loopback port with a listener (it takes connections into its backlog
// without accepting), or one bound with none: a connect is refused, and the
// port stays this socket's, so no other test can start listening on it.
class LoopbackPort {
 public:
  explicit LoopbackPort(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    if (listening) {
      EXPECT_EQ(::listen(fd_, 8), 0);
    }
  }
  ~LoopbackPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(CheckNotifyTargetsTest, OneLinePerTargetNamingHostAndPortButNeverThePath) {
  LoopbackPort up(true), down(false);
  notify::Target ntfy;
  ntfy.name = "phone";
  ntfy.format = notify::TargetFormat::kNtfy;
  ntfy.url = "http://127.0.0.1:" + std::to_string(up.port()) + "/relayq-topic-s3cret";
  notify::Target hook;
  hook.name = "chat";
  hook.url = "http://127.0.0.1:" + std::to_string(down.port()) + "/hooks/s3cret-path";
  notify::Target bad;
  bad.name = "typo";
  bad.url = "ftp://example.net/s3cret";

  auto checks = CheckNotifyTargets({ntfy, hook, bad}, std::chrono::milliseconds(2000));
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_TRUE(checks[0].ok);
  EXPECT_EQ(checks[0].name, "notify phone");
  EXPECT_NE(checks[0].detail.find("127.0.0.1:" + std::to_string(up.port())), std::string::npos);
  EXPECT_FALSE(checks[1].ok);
  EXPECT_EQ(checks[1].name, "notify chat");
  EXPECT_NE(checks[1].detail.find("Connection refused"), std::string::npos) << checks[1].detail;
  EXPECT_NE(checks[1].hint.find("relayq notify test"), std::string::npos);
  EXPECT_FALSE(checks[2].ok);
  for (const auto& c : checks) {
    EXPECT_EQ(FormatCheck(c).find("s3cret"), std::string::npos) << FormatCheck(c);
  }
  EXPECT_TRUE(CheckNotifyTargets({}, std::chrono::milliseconds(100)).empty());
}

}  // namespace
}  // namespace relayq::cli
