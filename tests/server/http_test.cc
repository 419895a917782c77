// Router: which route a request's header selects, and what a request that
// fits none is answered.
#include "server/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/http_server.h"

namespace relayq::server {
namespace {

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  return r;
}

HttpResponse Ok(const HttpRequest&) { return HttpResponse::Json(200, "{}"); }

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Post("/webhook", Ok);
    router_.Get("/healthz", Ok);
    router_.Get("/api/v1/jobs/{id}", Ok);
  }
  Router router_;
};

TEST_F(RouterTest, ExactAndPatternRoutesMatchAndCaptureSegments) {
  auto r = Req("GET", "/api/v1/jobs/42");
  auto m = router_.Find(r);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(r.path_params, std::vector<std::string>{"42"});
  auto w = Req("POST", "/webhook");
  EXPECT_NE(router_.Find(w).route, nullptr);
}

TEST_F(RouterTest, GetRoutesAlsoServeHead) {
  auto r = Req("HEAD", "/healthz");
  EXPECT_NE(router_.Find(r).route, nullptr);
}

TEST_F(RouterTest, UnknownPathIs404KnownPathOtherMethodIs405WithAllow) {
  struct Case {
    const char* method;
    const char* path;
    int status;
  };
  for (const Case& c : {Case{"GET", "/nope", 404}, Case{"GET", "/api/v1/jobs/", 404},
                        Case{"GET", "/api/v1/jobs/1/2", 404}, Case{"GET", "/webhook", 405},
                        Case{"DELETE", "/healthz", 405}, Case{"POST", "/webhook/x", 404}}) {
    auto r = Req(c.method, c.path);
    auto m = router_.Find(r);
    EXPECT_EQ(m.route, nullptr) << c.method << " " << c.path;
    ASSERT_TRUE(m.answer) << c.method << " " << c.path;
    EXPECT_EQ(m.answer->status, c.status) << c.method << " " << c.path;
    if (c.status == 405) {
      ASSERT_FALSE(m.answer->headers.empty());
      EXPECT_EQ(m.answer->headers[0].first, "Allow");
    }
  }
}

TEST_F(RouterTest, HeaderCheckRefusesAllButExemptPathsAndRunsBeforeRouting) {
  router_.SetHeaderCheck(
      [](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.Header("authorization") == "Bearer t") return std::nullopt;
        return HttpResponse::Error(401, "no");
      },
      {"/healthz"});
  auto health = Req("GET", "/healthz");
  EXPECT_NE(router_.Find(health).route, nullptr);
  auto unknown = Req("GET", "/nope");  // 401 before 404: routes are not revealed
  EXPECT_EQ(router_.Find(unknown).answer->status, 401);
  auto job = Req("GET", "/api/v1/jobs/1");
  job.headers = {{"Authorization", "Bearer t"}};
  EXPECT_NE(router_.Find(job).route, nullptr);
}

TEST(HttpRequestTest, HeadersAreCaseInsensitiveAndParamsCounted) {
  HttpRequest r;
  r.headers = {{"X-GitHub-Event", "push"}, {"x-github-event", "second"}};
  r.query = {{"a", "1"}, {"a", "2"}, {"b", ""}};
  EXPECT_EQ(r.Header("x-github-EVENT"), "push");
  EXPECT_EQ(r.Header("missing"), "");
  EXPECT_EQ(r.ParamCount("a"), 2u);
  EXPECT_EQ(r.Param("a"), "1");
  EXPECT_EQ(r.Param("b"), "");
  EXPECT_FALSE(r.Param("c"));
}

TEST(HttpResponseTest, ErrorBodiesSurviveInvalidUtf8) {
  HttpResponse r = HttpResponse::Error(400, std::string("bad \xff\xfe byte"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

// Whether a TCP connect to 127.0.0.1:port succeeds now.
bool Connects(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Regression: Stop queued the acceptor's close on the loop it then stopped,
// so the port kept taking connections (into the backlog, never answered)
// until the server object was destroyed.
TEST(HttpServerTest, AfterStopThePortRefusesConnections) {
  Router router;
  router.Get("/healthz", Ok);
  auto server = HttpServer::Create(HttpServerOptions{}, std::move(router), nullptr);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE((*server)->Start().ok());
  const int port = (*server)->port();
  ASSERT_TRUE(Connects(port));
  (*server)->Stop(std::chrono::milliseconds(0));
  EXPECT_FALSE(Connects(port));
}

}  // namespace
}  // namespace relayq::server
