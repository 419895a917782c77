#include "handlers/intake.h"

#include <gtest/gtest.h>

#include "handlers/signature.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/github_payloads.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::handlers {
namespace {

constexpr char kSecret[] = "intake-test-secret";

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override { Open({}); }

  void Open(std::vector<std::string> allow) {
    intake_.reset();
    store_.reset();
    store::StoreOptions o;
    o.path = dir_.File("relayq.db");
    auto s = store::Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    intake_ = std::make_unique<Intake>(IntakeOptions{{kSecret}, std::move(allow)}, *store_, clock_,
                                       metrics_);
  }

  WebhookRequest Signed(const std::string& event, const std::string& id, std::string body) {
    WebhookRequest r;
    r.content_type = "application/json";
    r.event = event;
    r.delivery_id = id;
    r.signature = SignBody(body, kSecret);
    r.hook_id = "4242";
    r.body = std::move(body);
    return r;
  }

  int64_t Deliveries() {
    testing::SqliteReader db(dir_.File("relayq.db"));
    return db.Count("SELECT count(*) FROM deliveries");
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Intake> intake_;
};

TEST_F(IntakeTest, AcceptsAndRecordsSignedJob) {
  auto a = intake_->Handle(Signed("workflow_job", "d-1", testing::WorkflowJobPayload({})));
  EXPECT_EQ(a.status, 202);
  EXPECT_EQ(a.outcome, "accepted");
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT outcome || ':' || hook_id FROM deliveries WHERE id = 'd-1'"),
            "accepted:4242");
  EXPECT_EQ(db.Value("SELECT status FROM jobs"), "queued");
}

TEST_F(IntakeTest, BadSignatureRecordsNothingButACounter) {
  auto r = Signed("workflow_job", "d-1", testing::WorkflowJobPayload({}));
  r.signature = SignBody(r.body, "wrong-secret");
  EXPECT_EQ(intake_->Handle(r).status, 401);
  r.signature.clear();
  EXPECT_EQ(intake_->Handle(r).status, 401);
  EXPECT_EQ(Deliveries(), 0);
  EXPECT_EQ(metrics_.CounterValue("relayq_webhook_signature_failures_total"), 2u);
}

TEST_F(IntakeTest, RedeliveryAnswers200AndChangesNothing) {
  testing::JobSpec spec;
  EXPECT_EQ(
      intake_->Handle(Signed("workflow_job", "same", testing::WorkflowJobPayload(spec))).status,
      202);
  spec.action = "completed";
  spec.runner_name = "macmini-1";
  // Same delivery id, different content: still the first one wins.
  auto again = intake_->Handle(Signed("workflow_job", "same", testing::WorkflowJobPayload(spec)));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.outcome, "duplicate");
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT status FROM jobs"), "queued");
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events"), 1);
}

TEST_F(IntakeTest, AllowListRefusesOtherRepositoriesButRecordsThem) {
  Open({"octo-org/allowed", "friend"});
  testing::JobSpec spec;  // octo-org/media-kit: not allowed
  auto a = intake_->Handle(Signed("workflow_job", "d-1", testing::WorkflowJobPayload(spec)));
  EXPECT_EQ(a.status, 403);
  spec.repository = "Friend/anything";  // owner allowed, case-insensitively
  EXPECT_EQ(
      intake_->Handle(Signed("workflow_job", "d-2", testing::WorkflowJobPayload(spec))).status,
      202);
  spec.repository = "OCTO-ORG/Allowed";
  spec.job_id = 2;
  EXPECT_EQ(
      intake_->Handle(Signed("workflow_job", "d-3", testing::WorkflowJobPayload(spec))).status,
      202);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'd-1'"), "refused");
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), 2);  // the refused one was not applied
}

TEST_F(IntakeTest, PingIsRecordedAndAnswered200) {
  auto a = intake_->Handle(Signed("ping", "p-1", testing::PingPayload("octo-org/media-kit", 4242)));
  EXPECT_EQ(a.status, 200);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'p-1'"), "ping");
}

TEST_F(IntakeTest, UnknownEventsAreRecordedNotInterpreted) {
  auto a =
      intake_->Handle(Signed("push", "x-1", R"({"ref":"main","repository":{"full_name":"o/r"}})"));
  EXPECT_EQ(a.status, 202);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'x-1'"), "ignored");
}

TEST_F(IntakeTest, UnexpectedShapeIsRecordedWithReason) {
  auto a = intake_->Handle(
      Signed("workflow_job", "u-1", R"({"action":"queued","repository":{"full_name":"o/r"}})"));
  EXPECT_EQ(a.status, 202);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT outcome FROM deliveries WHERE id = 'u-1'"), "undecodable");
  EXPECT_NE(db.Value("SELECT reason FROM deliveries WHERE id = 'u-1'"), "");
}

TEST_F(IntakeTest, HeaderAndBodyErrors) {
  struct Case {
    const char* name;
    std::function<void(WebhookRequest&)> mutate;
    int status;
  } cases[] = {
      {"no event", [](WebhookRequest& r) { r.event.clear(); }, 400},
      {"no delivery", [](WebhookRequest& r) { r.delivery_id.clear(); }, 400},
      {"control chars in delivery", [](WebhookRequest& r) { r.delivery_id = "a\nb"; }, 400},
      {"text/plain", [](WebhookRequest& r) { r.content_type = "text/plain"; }, 415},
      {"not json",
       [](WebhookRequest& r) {
         r.body = "{oops";
         r.signature = SignBody(r.body, kSecret);
       },
       400},
      {"form without payload",
       [](WebhookRequest& r) {
         r.content_type = "application/x-www-form-urlencoded";
         r.body = "a=b";
         r.signature = SignBody(r.body, kSecret);
       },
       400},
  };
  for (const auto& c : cases) {
    auto r = Signed("workflow_job", "e-1", testing::WorkflowJobPayload({}));
    c.mutate(r);
    auto a = intake_->Handle(r);
    EXPECT_EQ(a.status, c.status) << c.name;
    EXPECT_NE(a.body.find("error"), std::string::npos) << c.name;
  }
  EXPECT_EQ(Deliveries(), 0);
}

TEST_F(IntakeTest, ClosedStoreAnswers503AndRecordsNothing) {
  store_->Close();
  auto a = intake_->Handle(Signed("workflow_job", "late", testing::WorkflowJobPayload({})));
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(Deliveries(), 0);
}

}  // namespace
}  // namespace relayq::handlers
