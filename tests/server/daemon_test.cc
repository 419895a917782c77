// server::Daemon in-process: opened on port 0 with a store in a temp dir,
// it takes a real signed delivery over HTTP, reloads its policy and stops.
#include "server/daemon.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <sstream>
#include <string>

#include "handlers/signature.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::server {
namespace {

constexpr char kSecret[] = "daemon-test-secret";

constexpr char kPolicy[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml, labels: [macmini] }
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 10m
    fallback_workflow: transcribe_rpi.yml
)";

// "127.0.0.1:PORT" -> PORT.
int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    std::ofstream(dir_.File("policy.yaml")) << kPolicy;
    config_.db_path = dir_.File("relayq.db");
    config_.listen = "127.0.0.1:0";
    config_.admin_listen = "127.0.0.1:0";
    config_.policy_path = dir_.File("policy.yaml");
    config_.secrets = {kSecret};
    config_.admin_token = "admin-token";
    config_.retention = std::chrono::milliseconds(0);  // no daily prune thread
    config_.history = std::chrono::milliseconds(0);
  }

  // POSTs a signed workflow_job delivery to the public listener; returns the
  // status, or -1 when nothing answered.
  int Deliver(const std::string& address, const std::string& id, const std::string& body) {
    httplib::Client c("127.0.0.1", PortOf(address));
    c.set_read_timeout(30, 0);
    httplib::Headers headers = {{"X-GitHub-Event", "workflow_job"},
                                {"X-GitHub-Delivery", id},
                                {"X-GitHub-Hook-ID", "4242"},
                                {"X-Hub-Signature-256", handlers::SignBody(body, kSecret)},
                                {"User-Agent", "GitHub-Hookshot/044aadd"}};
    auto res = c.Post("/webhook", headers, body, "application/json");
    return res ? res->status : -1;
  }

  testing::TempDir dir_;
  Config config_;
};

TEST_F(DaemonTest, RecordsASignedDeliveryReloadsAndStops) {
  std::ostringstream notices;
  auto daemon = Daemon::Open(config_, {.notices = &notices});
  ASSERT_TRUE(daemon.ok()) << daemon.status().message();
  ASSERT_TRUE((*daemon)->Start().ok());
  EXPECT_FALSE((*daemon)->public_tls());
  const std::string public_address = (*daemon)->public_address();
  EXPECT_NE(PortOf(public_address), 0);
  EXPECT_NE(PortOf((*daemon)->admin_address()), 0);
  EXPECT_NE(PortOf((*daemon)->admin_address()), PortOf(public_address));

  ASSERT_EQ(Deliver(public_address, "d-1", testing::WorkflowJobPayload({})), 202);
  {
    // The 202 came after the commit: the row is already in the file.
    testing::SqliteReader db(config_.db_path);
    EXPECT_EQ(db.Value("SELECT event || '/' || action FROM deliveries WHERE id = 'd-1'"),
              "workflow_job/queued");
    EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 29679449"), "queued");
  }

  EXPECT_TRUE((*daemon)->Reload().ok());
  // Deliveries keep flowing after a reload.
  testing::JobSpec started;
  started.action = "in_progress";
  started.runner_name = "macmini-1";
  EXPECT_EQ(Deliver(public_address, "d-2", testing::WorkflowJobPayload(started)), 202);

  (*daemon)->Stop();
  (*daemon)->Stop();  // idempotent
  // The store was closed cleanly: every acknowledged delivery is in the file.
  testing::SqliteReader db(config_.db_path);
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 29679449"), "in_progress");
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 2);
  EXPECT_TRUE(notices.str().empty());  // a secret was configured: none generated
}

TEST_F(DaemonTest, ReloadRefusesAnInvalidPolicyAndKeepsServing) {
  auto daemon = Daemon::Open(config_);
  ASSERT_TRUE(daemon.ok()) << daemon.status().message();
  ASSERT_TRUE((*daemon)->Start().ok());
  std::ofstream(dir_.File("policy.yaml"), std::ios::trunc) << "routes: [not, a, map\n";
  EXPECT_FALSE((*daemon)->Reload().ok());
  EXPECT_EQ(Deliver((*daemon)->public_address(), "d-1", testing::WorkflowJobPayload({})), 202);
}

// POST /api/v1/dispatch checks webhook.allow as SIGHUP last reloaded it. The
// daemon has no GitHub credentials, so a submission that passes the checks
// is answered 503 (and nothing is recorded); one that fails them is 400.
TEST_F(DaemonTest, ReloadAppliesWebhookAllowToDispatchSubmissions) {
  auto daemon = Daemon::Open(config_);
  ASSERT_TRUE(daemon.ok()) << daemon.status().message();
  ASSERT_TRUE((*daemon)->Start().ok());
  // The status; a 400 must be the allow-list's, not another refusal.
  auto submit = [&](const std::string& repo) {
    httplib::Client c("127.0.0.1", PortOf((*daemon)->admin_address()));
    c.set_read_timeout(30, 0);
    auto res =
        c.Post("/api/v1/dispatch", {{"Authorization", "Bearer admin-token"}},
               R"({"repo":")" + repo + R"(","workflow":"transcribe_mac.yml"})", "application/json");
    if (res && res->status == 400) {
      EXPECT_NE(res->body.find("webhook.allow"), std::string::npos) << res->body;
    }
    return res ? res->status : -1;
  };
  EXPECT_EQ(submit("stranger/repo"), 503);  // every repository allowed

  Config fresh = config_;
  fresh.allow = {"homelab"};
  ASSERT_TRUE((*daemon)->Reload(fresh).ok());
  EXPECT_EQ(submit("stranger/repo"), 400);
  EXPECT_EQ(submit("homelab/media"), 503);

  fresh.allow.clear();
  ASSERT_TRUE((*daemon)->Reload(fresh).ok());
  EXPECT_EQ(submit("stranger/repo"), 503);
}

TEST_F(DaemonTest, GeneratesASecretWhenNoneIsConfigured) {
  config_.secrets.clear();
  std::ostringstream notices;
  auto daemon = Daemon::Open(config_, {.notices = &notices});
  ASSERT_TRUE(daemon.ok()) << daemon.status().message();
  EXPECT_NE(notices.str().find(dir_.File("relayq.secret")), std::string::npos);
  std::ifstream file(dir_.File("relayq.secret"));
  std::string secret;
  std::getline(file, secret);
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_NE(notices.str().find(secret), std::string::npos);
}

TEST_F(DaemonTest, SecondDaemonOnTheSameStoreIsRefused) {
  auto first = Daemon::Open(config_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = Daemon::Open(config_);
  EXPECT_FALSE(second.ok());
}

TEST_F(DaemonTest, MalformedListenAddressFailsToOpenNamingTheFlag) {
  config_.listen = "no-port";
  auto daemon = Daemon::Open(config_);
  ASSERT_FALSE(daemon.ok());
  EXPECT_NE(daemon.status().message().find("--listen"), std::string::npos);
}

}  // namespace
}  // namespace relayq::server
