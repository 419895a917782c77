// cli::AdminClient against a real loopback HTTP server: what a person sees
// when the daemon is down, refuses the token, or answers.
#include "cli/admin_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

namespace relayq::cli {
namespace {

// A loopback httplib server on a free port, stopped when it goes out of scope.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(httplib::Server&)> routes) {
    routes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs; connections made before
    // it runs wait in the listen backlog, so only the destructor needs this.
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(AdminClientTest, RefusesAUrlThatIsNotSchemeHostPort) {
  for (const char* bad : {"pi.local:8081", "ftp://pi.local", "http://pi.local:8081/api"}) {
    auto c = AdminClient::Create(bad, "tok");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("http(s)://HOST[:PORT]"), std::string::npos);
  }
  EXPECT_TRUE(AdminClient::Create("http://pi.local:8081/", "tok").ok());
}

TEST(AdminClientTest, NoDaemonNamesTheAddressAndWhy) {
  int port = 0;
  {
    LoopbackServer gone([](httplib::Server&) {});
    port = gone.port();
  }  // closed: nothing listens on `port` now
  auto c = AdminClient::Create("http://127.0.0.1:" + std::to_string(port), "tok");
  ASSERT_TRUE(c.ok());
  auto a = (*c)->Get("/api/v1/requests/1");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(a.status().message().find("cannot connect to 127.0.0.1:" + std::to_string(port) +
                                      ": Connection refused"),
            std::string::npos)
      << a.status().message();
}

TEST(AdminClientTest, RefusedTokenIsNamedButNeverShown) {
  LoopbackServer s([](httplib::Server& srv) {
    srv.Get("/api/v1/requests/1", [](const httplib::Request&, httplib::Response& res) {
      res.status = 401;
      res.set_content(R"({"error":"missing or wrong bearer token"})", "application/json");
    });
  });
  auto c = AdminClient::Create(s.Url(), "s3cret-admin-token");
  ASSERT_TRUE(c.ok());
  auto a = (*c)->Get("/api/v1/requests/1");
  ASSERT_TRUE(a.ok());
  Status st = AnswerStatus(*a, **c);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(st.message().find("RELAYQ_ADMIN_TOKEN"), std::string::npos);
  EXPECT_EQ(st.message().find("s3cret-admin-token"), std::string::npos);
}

TEST(AdminClientTest, SendsTheTokenAndTheIdempotencyKeyAndReadsJson) {
  std::string auth, key, body;
  LoopbackServer s([&](httplib::Server& srv) {
    srv.Post("/api/v1/dispatch", [&](const httplib::Request& req, httplib::Response& res) {
      auth = req.get_header_value("Authorization");
      key = req.get_header_value("Idempotency-Key");
      body = req.body;
      res.status = 202;
      res.set_content(R"({"id":7,"status":"queued"})", "application/json");
    });
  });
  auto c = AdminClient::Create(s.Url(), "tok");
  ASSERT_TRUE(c.ok());
  auto a = (*c)->Post("/api/v1/dispatch", {{"repo", "o/r"}}, "key-1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(AnswerStatus(*a, **c).ok());
  EXPECT_EQ(a->body.value("id", 0), 7);
  EXPECT_EQ(auth, "Bearer tok");
  EXPECT_EQ(key, "key-1");
  EXPECT_EQ(nlohmann::json::parse(body).value("repo", ""), "o/r");
}

TEST(AdminClientTest, ServerErrorsAndNonJsonAreReportedAsSuch) {
  LoopbackServer s([](httplib::Server& srv) {
    srv.Get("/x", [](const httplib::Request&, httplib::Response& res) {
      res.status = 502;
      res.set_content("<html>bad gateway</html>", "text/html");
    });
  });
  auto c = AdminClient::Create(s.Url(), "");
  auto a = (*c)->Get("/x");
  ASSERT_TRUE(a.ok());
  Status st = AnswerStatus(*a, **c);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("answered 502"), std::string::npos);
  EXPECT_NE(st.message().find("not JSON"), std::string::npos);
}

TEST(ChooseServerTest, FlagWinsOverConfigAndEnvironment) {
  server::Config c;
  EXPECT_EQ(ChooseServer("", c), "");
  c.server_url = "http://from-config:8081";
  EXPECT_EQ(ChooseServer("", c), "http://from-config:8081");
  EXPECT_EQ(ChooseServer("http://flag:1", c), "http://flag:1");
}

}  // namespace
}  // namespace relayq::cli
