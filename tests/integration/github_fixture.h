// GitHubIntegrationTest: a whole-process test with a fake GitHub API on
// loopback (tests/fakes/fake_github_server.h), started before each test, and
// the environment that points relayq at it with a token. Tests whose SetUp
// does more call GitHubIntegrationTest::SetUp() first.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "tests/fakes/fake_github_server.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {

class GitHubIntegrationTest : public IntegrationTest {
 protected:
  void SetUp() override {
    auto fake = FakeGitHubServer::Start();
    ASSERT_TRUE(fake.ok()) << fake.status().ToString();
    github_ = std::move(*fake);
  }

  // Env() with GITHUB_TOKEN = `token` and RELAYQ_GITHUB_API_URL = the fake.
  std::map<std::string, std::string> GitHubEnv(const std::string& token = "test-token") const {
    auto env = Env();
    env["GITHUB_TOKEN"] = token;
    env["RELAYQ_GITHUB_API_URL"] = github_->url();
    return env;
  }

  std::unique_ptr<FakeGitHubServer> github_;
};

}  // namespace relayq::testing
