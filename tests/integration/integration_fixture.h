// IntegrationTest: a fixture that runs the real relayq in a temp directory
// with a known webhook secret and admin token, plus helpers to deliver signed
// webhooks over real HTTP and read the store file.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "handlers/signature.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"
#include "tests/integration/relayq_process.h"

namespace relayq::testing {

inline constexpr char kSecret[] = "integration-secret";

// Polls `done` every 20 ms until it holds or `limit` passes, for outcomes
// that happen in another process (the fake GitHub's recorded calls, rows in
// the store) where there is nothing to block on.
inline bool WaitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}
inline constexpr char kAdminToken[] = "integration-admin-token";

class IntegrationTest : public ::testing::Test {
 protected:
  // A server may answer (413, 401) before a client has sent its whole body
  // and then close: the client's next write must fail, not kill the test.
  IntegrationTest() { ::signal(SIGPIPE, SIG_IGN); }

  std::map<std::string, std::string> Env() const {
    return {{"PATH", "/usr/bin:/bin"},
            {"RELAYQ_WEBHOOK_SECRET", kSecret},
            {"RELAYQ_ADMIN_TOKEN", kAdminToken}};
  }

  // Starts relayq with extra serve arguments; fails the test if it cannot.
  void StartRelayq(std::vector<std::string> args = {}) {
    process_ = RelayqProcess::Start({dir_.path(), std::move(args), Env()});
    ASSERT_NE(process_, nullptr);
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", process_->public_port());
    c->set_read_timeout(30, 0);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    return c;
  }

  httplib::Headers Headers(const std::string& event, const std::string& id, const std::string& body,
                           const std::string& secret = kSecret) const {
    return {{"X-GitHub-Event", event},
            {"X-GitHub-Delivery", id},
            {"X-GitHub-Hook-ID", "4242"},
            {"X-Hub-Signature-256", handlers::SignBody(body, secret)},
            {"User-Agent", "GitHub-Hookshot/044aadd"}};
  }

  // POSTs a signed JSON delivery; returns the status (or -1 when no answer).
  int Deliver(httplib::Client& c, const std::string& event, const std::string& id,
              const std::string& body) const {
    auto res = c.Post("/webhook", Headers(event, id, body), body, "application/json");
    return res ? res->status : -1;
  }

  std::string DbPath() const { return dir_.File("relayq.db"); }

  TempDir dir_;
  std::unique_ptr<RelayqProcess> process_;
};

}  // namespace relayq::testing
