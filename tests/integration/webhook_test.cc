// Whole-process tests of POST /webhook and the listeners: the real binary,
// real signed HTTP on loopback, the real SQLite file.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "handlers/decode.h"
#include "tests/fakes/github_payloads.h"
#include "tests/integration/integration_fixture.h"

namespace relayq::testing {
namespace {

class WebhookTest : public IntegrationTest {
 protected:
  void SetUp() override { StartRelayq(); }
};

TEST_F(WebhookTest, SignedJobIsAcknowledgedOnlyOnceStored) {
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  auto res = c->Post("/webhook", Headers("workflow_job", "d-1", body), body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(res->body.find("accepted"), std::string::npos);
  // The 202 came after the commit: the row is already in the file.
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT event || '/' || action || '/' || repository FROM deliveries "
                     "WHERE id = 'd-1'"),
            "workflow_job/queued/octo-org/media-kit");
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 29679449"), "queued");
}

TEST_F(WebhookTest, SignatureFailuresAre401AndRecordNothing) {
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  struct Case {
    const char* name;
    httplib::Headers headers;
  } cases[] = {
      {"missing", {{"X-GitHub-Event", "workflow_job"}, {"X-GitHub-Delivery", "s-1"}}},
      {"wrong secret", Headers("workflow_job", "s-2", body, "not-the-secret")},
      {"other body", Headers("workflow_job", "s-3", body + " ")},
      {"sha1 only",
       {{"X-GitHub-Event", "workflow_job"},
        {"X-GitHub-Delivery", "s-4"},
        {"X-Hub-Signature", "sha1=0000000000000000000000000000000000000000"}}},
      {"garbage",
       {{"X-GitHub-Event", "workflow_job"},
        {"X-GitHub-Delivery", "s-5"},
        {"X-Hub-Signature-256", "sha256=zz"}}},
  };
  for (const auto& tc : cases) {
    auto res = c->Post("/webhook", tc.headers, body, "application/json");
    ASSERT_TRUE(res) << tc.name;
    EXPECT_EQ(res->status, 401) << tc.name;
    EXPECT_EQ(res->body.find(kSecret), std::string::npos);
  }
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 0);
  auto admin = httplib::Client("127.0.0.1", process_->admin_port());
  auto metrics = admin.Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("relayq_webhook_signature_failures_total 5"), std::string::npos)
      << metrics->body;
}

TEST_F(WebhookTest, FormEncodedDeliveryLargerThanLibraryFormLimit) {
  // cpp-httplib refuses form bodies over 8 KiB by default; a real
  // workflow_run delivery form-encoded is ~3x that.
  RunSpec spec;
  std::string json = WorkflowRunPayload(spec);
  std::string form = "payload=" + handlers::FormUrlEncode(json);
  ASSERT_GT(form.size(), 15000u);
  auto c = Client();
  auto res = c->Post("/webhook", Headers("workflow_run", "f-1", form), form,
                     "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT status FROM runs WHERE id = 11185212"), "queued");
  EXPECT_EQ(db.Value("SELECT content_type FROM deliveries WHERE id = 'f-1'"),
            "application/x-www-form-urlencoded");
}

TEST_F(WebhookTest, RedeliveryAnswers200AndIsNotProcessedTwice) {
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  EXPECT_EQ(Deliver(*c, "workflow_job", "dup", body), 202);
  EXPECT_EQ(Deliver(*c, "workflow_job", "dup", body), 200);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 1);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events"), 1);
}

TEST_F(WebhookTest, PingIsRecordedAndAnswered200) {
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "ping", "ping-1", PingPayload("octo-org/media-kit", 4242)), 200);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'ping-1'"), "ping");
}

TEST_F(WebhookTest, BadRequestsGetClearErrors) {
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  {
    auto h = Headers("workflow_job", "b-1", body);
    h.erase("X-GitHub-Event");
    auto res = c->Post("/webhook", h, body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(res->body.find("X-GitHub-Event"), std::string::npos);
  }
  {
    auto h = Headers("workflow_job", "b-2", body);
    h.erase("X-GitHub-Delivery");
    auto res = c->Post("/webhook", h, body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
  }
  {
    std::string bad = "{\"action\": \"queued\", ";
    auto res = c->Post("/webhook", Headers("workflow_job", "b-3", bad), bad, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_NE(res->body.find("JSON"), std::string::npos);
  }
  {
    auto res = c->Post("/webhook", Headers("workflow_job", "b-4", body), body, "text/plain");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 415);
  }
  {
    auto res = c->Get("/webhook");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 405);
  }
  {
    auto res = c->Get("/admin-only-thing");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
  }
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 0);
}

TEST_F(WebhookTest, OversizeBodyIs413) {
  auto c = Client();
  std::string huge((25u << 20) + 1, ' ');
  auto res = c->Post("/webhook", Headers("workflow_job", "big", "x"), huge, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

TEST_F(WebhookTest, MultiMegabyteDeliveryUnderTheLimitIsAccepted) {
  // A large but legal body: padding inside a real payload (GitHub sends up
  // to 25 MB).
  std::string body = WorkflowJobPayload({});
  body.insert(body.size() - 1, ",\"padding\":\"" + std::string(4u << 20, 'p') + "\"");
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "workflow_job", "big-ok", body), 202);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT body_size FROM deliveries WHERE id = 'big-ok'"),
            std::to_string(body.size()));
}

TEST_F(WebhookTest, HealthzOnBothListenersAdminNeedsToken) {
  auto c = Client();
  auto h = c->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  httplib::Client admin("127.0.0.1", process_->admin_port());
  EXPECT_EQ(admin.Get("/healthz")->status, 200);
  EXPECT_EQ(admin.Get("/readyz")->status, 401);
  EXPECT_EQ(admin.Get("/metrics", {{"Authorization", "Bearer wrong"}})->status, 401);
  auto ready = admin.Get("/readyz", {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  // The public listener does not serve admin routes.
  EXPECT_EQ(c->Get("/metrics")->status, 404);
}

TEST_F(WebhookTest, SigtermExitsCleanly) {
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "workflow_job", "t-1", WorkflowJobPayload({})), 202);
  // An idle keep-alive connection holds its worker until the keep-alive
  // timeout (a cpp-httplib limit); GitHub does not keep connections open.
  c.reset();
  EXPECT_EQ(process_->Terminate(), 0);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 1);
}

class WebhookConfigTest : public IntegrationTest {};

// Regression: a SIGTERM right after relayq reported listening used to reach
// cpp-httplib before its listening thread had marked the server running, so
// stop() did nothing and shutdown hung on the join.
TEST_F(WebhookConfigTest, SigtermRightAfterStartExitsPromptly) {
  for (int i = 0; i < 5; ++i) {
    StartRelayq();
    EXPECT_EQ(process_->TerminateWithin(std::chrono::seconds(20)), 0) << "round " << i;
  }
}

TEST_F(WebhookConfigTest, JsonLogHasOneObjectPerLineAndADeliveryLine) {
  StartRelayq({"--log-format", "json"});
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "workflow_job", "log-1", WorkflowJobPayload({})), 202);
  c.reset();
  EXPECT_EQ(process_->Terminate(), 0);
  std::ifstream log(dir_.File("relayq.stderr.log"));
  std::string line;
  int lines = 0;
  bool delivery = false;
  while (std::getline(log, line)) {
    ++lines;
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(line.find(kSecret), std::string::npos);
    EXPECT_EQ(line.find(kAdminToken), std::string::npos);
    if (j.value("msg", "") == "delivery") {
      delivery = true;
      EXPECT_EQ(j["id"], "log-1");
      EXPECT_EQ(j["event"], "workflow_job");
      EXPECT_EQ(j["action"], "queued");
      EXPECT_EQ(j["repo"], "octo-org/media-kit");
      EXPECT_EQ(j["status"], "202");
      EXPECT_FALSE(j.value("us", "").empty());
    }
  }
  EXPECT_GT(lines, 2);
  EXPECT_TRUE(delivery);
}

TEST_F(WebhookConfigTest, AllowListRefusesOtherRepositories) {
  std::ofstream(dir_.File("relayq.yaml")) << "webhook:\n  allow: [someone-else/repo]\n";
  StartRelayq({"--config", dir_.File("relayq.yaml")});
  auto c = Client();
  EXPECT_EQ(Deliver(*c, "workflow_job", "r-1", WorkflowJobPayload({})), 403);
  SqliteReader db(DbPath());
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'r-1'"), "refused");
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), 0);
}

TEST_F(WebhookConfigTest, ConfiguredBodyLimitIsEnforced) {
  std::ofstream(dir_.File("relayq.yaml")) << "webhook:\n  max_body: 64KiB\n";
  StartRelayq({"--config", dir_.File("relayq.yaml")});
  auto c = Client();
  std::string body = WorkflowJobPayload({});
  body.insert(body.size() - 1, ",\"padding\":\"" + std::string(70000, 'p') + "\"");
  auto res = c->Post("/webhook", Headers("workflow_job", "l-1", body), body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

TEST_F(WebhookConfigTest, UnknownKeyStopsStartupNamingFileLineAndKey) {
  std::ofstream(dir_.File("bad.yaml")) << "listen: 127.0.0.1:0\nwebhook:\n  alow: [x]\n";
  auto r = RunRelayq(dir_.path(), {"serve", "--config", dir_.File("bad.yaml")}, Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:3:3: webhook.alow: unknown key (did you mean 'allow'?)"),
            std::string::npos)
      << r.err;
}

TEST_F(WebhookConfigTest, BadValueStopsStartup) {
  std::ofstream(dir_.File("bad.yaml")) << "store:\n  synchronous: sometimes\n";
  auto r = RunRelayq(dir_.path(), {"serve", "--config", dir_.File("bad.yaml")}, Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml:2:16: store.synchronous"), std::string::npos) << r.err;
}

TEST_F(WebhookConfigTest, UsageErrorExits2) {
  auto r = RunRelayq(dir_.path(), {"serve", "--no-such-flag"}, Env());
  EXPECT_EQ(r.exit_code, 2);
  r = RunRelayq(dir_.path(), {}, Env());
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(WebhookConfigTest, GeneratesSecretFileOnceWhenNoneConfigured) {
  auto env = Env();
  env.erase("RELAYQ_WEBHOOK_SECRET");
  auto p = RelayqProcess::Start({dir_.path(), {}, env});
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->stdout_text().find("generated one"), std::string::npos);
  EXPECT_EQ(p->Terminate(), 0);
  std::ifstream in(dir_.File("relayq.secret"));
  std::string secret;
  in >> secret;
  EXPECT_EQ(secret.size(), 64u);
  // The second start reuses the file and prints nothing about it.
  auto again = RelayqProcess::Start({dir_.path(), {}, env});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->stdout_text().find("generated"), std::string::npos);
  // The generated secret verifies deliveries (relayq send signs with it).
  std::ofstream(dir_.File("job.json")) << WorkflowJobPayload({});
  auto sent = RunRelayq(dir_.path(),
                        {"send", dir_.File("job.json"), "--event", "workflow_job", "--url",
                         "http://127.0.0.1:" + std::to_string(again->public_port()) + "/webhook"},
                        env);
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_NE(sent.out.find("202"), std::string::npos);
  // Never in the log.
  std::ifstream log(dir_.File("relayq.stderr.log"));
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_EQ(ss.str().find(secret), std::string::npos);
}

TEST_F(WebhookConfigTest, EmptySecretFileIsNeverOverwritten) {
  auto env = Env();
  env.erase("RELAYQ_WEBHOOK_SECRET");
  std::ofstream(dir_.File("relayq.secret")) << "\n";
  auto r = RunRelayq(dir_.path(), {"serve"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("relayq.secret exists but holds no secret"), std::string::npos) << r.err;
  std::ifstream in(dir_.File("relayq.secret"));
  std::stringstream kept;
  kept << in.rdbuf();
  EXPECT_EQ(kept.str(), "\n");
}

}  // namespace
}  // namespace relayq::testing
