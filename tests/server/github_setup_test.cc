// Config -> GitHub client options, and the config keys recovery adds.
#include "server/github_setup.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/fakes/temp_dir.h"

namespace relayq::server {
namespace {

TEST(GitHubClientOptionsTest, NoCredentialsSaysWhatToSet) {
  Config c;
  auto o = GitHubClientOptions(c);
  EXPECT_EQ(o.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(o.status().message().find("set GITHUB_TOKEN or configure a GitHub App"),
            std::string::npos);
  EXPECT_FALSE(HasGitHubCredentials(c));
}

TEST(GitHubClientOptionsTest, TokenAndUserAgent) {
  Config c;
  c.github_token = "ghp_secret_value";
  c.github_api_url = "http://127.0.0.1:9/api";
  auto o = GitHubClientOptions(c);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->token, "ghp_secret_value");
  EXPECT_EQ(o->api_url, "http://127.0.0.1:9/api");
  EXPECT_EQ(o->user_agent.rfind("relayq/", 0), 0u);
  EXPECT_FALSE(o->app.has_value());
}

TEST(GitHubClientOptionsTest, TokenWinsOverApp) {
  Config c;
  c.github_token = "t";
  c.github_app_id = "123";
  c.github_private_key_file = "/nonexistent";
  auto o = GitHubClientOptions(c);
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->app.has_value());
}

TEST(GitHubClientOptionsTest, AppReadsKeyFileAndInstallation) {
  testing::TempDir dir;
  std::ofstream(dir.File("key.pem")) << "-----BEGIN PRIVATE KEY-----\n...\n";
  Config c;
  c.github_app_id = "123";
  c.github_private_key_file = dir.File("key.pem");
  c.github_installation_id = "99";
  auto o = GitHubClientOptions(c);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE(o->app.has_value());
  EXPECT_EQ(o->app->app_id, "123");
  EXPECT_EQ(o->app->installation_id, 99);
  EXPECT_NE(o->app->private_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST(GitHubClientOptionsTest, HalfConfiguredAppFailsWithoutLeakingTheKey) {
  testing::TempDir dir;
  Config c;
  c.github_app_id = "123";
  EXPECT_EQ(GitHubClientOptions(c).status().code(), Status::Code::kInvalidArgument);
  c.github_private_key_file = dir.File("missing.pem");
  EXPECT_EQ(GitHubClientOptions(c).status().code(), Status::Code::kIoError);
  std::ofstream(dir.File("key.pem")) << "KEYMATERIAL";
  c.github_private_key_file = dir.File("key.pem");
  c.github_installation_id = "12x";
  auto o = GitHubClientOptions(c);
  EXPECT_EQ(o.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(o.status().message().find("KEYMATERIAL"), std::string::npos);
}

TEST(RecoveryConfigTest, KeysParseWithDefaults) {
  testing::TempDir dir;
  std::string path = dir.File("relayq.yaml");
  std::ofstream(path) << "github:\n  repositories: [octo/kit, octo/other]\n"
                         "  hook_url: https://relayq.example/webhook\n"
                         "recovery:\n  since: 2d\n  stale_after: 10m\n";
  auto c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->github_repositories, (std::vector<std::string>{"octo/kit", "octo/other"}));
  EXPECT_EQ(c->github_hook_url, "https://relayq.example/webhook");
  EXPECT_EQ(c->recovery_since_s, 2 * 24 * 3600);
  EXPECT_EQ(c->recovery_stale_after_s, 600);
  Config defaults;
  EXPECT_TRUE(defaults.github_repositories.empty());
  EXPECT_EQ(defaults.recovery_since_s, 24 * 3600);
  EXPECT_EQ(defaults.recovery_stale_after_s, 300);
}

TEST(RecoveryConfigTest, IntervalDefaultsToTenMinutesAndZeroMeansStartUpOnly) {
  EXPECT_EQ(Config().recovery_interval_s, 600);
  testing::TempDir dir;
  std::string path = dir.File("relayq.yaml");
  std::ofstream(path) << "recovery:\n  interval: 30m\n";
  auto c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->recovery_interval_s, 1800);
  std::ofstream(path) << "recovery:\n  interval: 0s\n";
  c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->recovery_interval_s, 0);
}

TEST(RecoveryConfigTest, BadRepositoryNamesFileAndLine) {
  testing::TempDir dir;
  std::string path = dir.File("relayq.yaml");
  std::ofstream(path) << "github:\n  repositories:\n    - octo/kit\n    - justowner\n";
  auto c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(path + ":4:"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("github.repositories"), std::string::npos);
}

TEST(RecoveryConfigTest, UnknownRecoveryKeyIsRefused) {
  testing::TempDir dir;
  std::string path = dir.File("relayq.yaml");
  std::ofstream(path) << "recovery:\n  stale_afterr: 5m\n";
  auto c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("did you mean 'stale_after'"), std::string::npos);
}

}  // namespace
}  // namespace relayq::server
