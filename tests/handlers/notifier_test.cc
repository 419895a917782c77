// Notifier, in process: the store-unwritable alert bypasses the outbox and
// is sent once per outage; events are queued once per target and event;
// the rate limit counts an event held back once however often it is seen,
// and Deliver sends what was queued to its target.
#include "handlers/notifier.h"

#include <gtest/gtest.h>

#include "common/mutex.h"
#include "store/store_options.h"
#include "tests/fakes/fake_action_store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::handlers {
namespace {

// A sender that records what it was asked to send, answering `status`.
class RecordingSender final : public notify::Sender {
 public:
  Result<int> Send(const notify::Target& target, const notify::Notification& n) override {
    MutexLock lock(mu_);
    sent_.emplace_back(target.name, n);
    if (!fail_.ok()) return fail_;
    return 200;
  }
  std::vector<std::pair<std::string, notify::Notification>> sent() {
    MutexLock lock(mu_);
    return sent_;
  }
  void Fail(Status s) {
    MutexLock lock(mu_);
    fail_ = std::move(s);
  }

 private:
  Mutex mu_;
  std::vector<std::pair<std::string, notify::Notification>> sent_ GUARDED_BY(mu_);
  Status fail_ GUARDED_BY(mu_);
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.path = dir_.File("relayq.db");
    auto db = store::Database::Open(o, store::Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate().ok());
  }

  std::unique_ptr<Notifier> Make(int max_per_hour = 10) {
    NotifierOptions o;
    notify::Target a;
    a.name = "a";
    a.url = "http://a.invalid/x";
    notify::Target b = a;
    b.name = "b";
    b.events = {notify::EventKind::kJobStuck};
    o.targets = {a, b};
    o.rate_limit = {max_per_hour, std::chrono::hours(1)};
    o.job_stuck_after = std::chrono::milliseconds(0);
    o.signature_count = 0;
    return std::make_unique<Notifier>(o, actions_, *db_, sender_, clock_, metrics_);
  }

  notify::Notification Stuck(const std::string& key) {
    notify::Notification n;
    n.kind = notify::EventKind::kJobStuck;
    n.key = key;
    n.title = "stuck " + key;
    return n;
  }

  int QueuedNotifications() {
    int n = 0;
    auto claimed =
        actions_.ClaimDueOfKind(store::ActionKind::kNotify, INT64_MAX, "t", INT64_MAX, 1000);
    EXPECT_TRUE(claimed.ok());
    for (const auto& c : *claimed) {
      ++n;
      (void)actions_.ReleaseClaim(c.claim, 0);
    }
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  testing::FakeActionStore actions_;
  testing::FakeClock clock_;
  MetricsRegistry metrics_;
  RecordingSender sender_;
};

TEST_F(NotifierTest, StoreUnwritableIsSentDirectlyOncePerOutage) {
  auto n = Make();
  Status writable = Status::IoError("disk I/O error");
  n->SetWritableCheck([&] { return writable; });
  n->CheckOnce();
  n->CheckOnce();
  ASSERT_EQ(sender_.sent().size(), 1u);  // target b does not take it
  EXPECT_EQ(sender_.sent()[0].first, "a");
  EXPECT_EQ(sender_.sent()[0].second.kind, notify::EventKind::kStoreUnwritable);
  EXPECT_NE(sender_.sent()[0].second.message.find("disk I/O error"), std::string::npos);
  EXPECT_EQ(QueuedNotifications(), 0);  // never through the store

  writable = Status::Ok();
  n->CheckOnce();
  writable = Status::IoError("database or disk is full");
  n->CheckOnce();
  EXPECT_EQ(sender_.sent().size(), 2u);  // the next outage is told again
}

TEST_F(NotifierTest, EventIsQueuedOncePerTargetAndDeliveredToItsTarget) {
  auto n = Make();
  EXPECT_EQ(n->Raise(Stuck("job:1")), 2);
  EXPECT_EQ(n->Raise(Stuck("job:1")), 0);  // seen again: nothing new
  auto claimed = actions_.ClaimDueOfKind(store::ActionKind::kNotify, INT64_MAX, "t", INT64_MAX, 10);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].action.key, "notify:a:job_stuck:job:1");
  std::string what;
  ASSERT_TRUE(n->Deliver((*claimed)[1].action, what).ok());
  EXPECT_EQ(what, "sent job_stuck to b (webhook): HTTP 200");
  ASSERT_EQ(sender_.sent().size(), 1u);
  EXPECT_EQ(sender_.sent()[0].second.title, "stuck job:1");

  sender_.Fail(Status::Unavailable("target b answered 503"));
  EXPECT_EQ(n->Deliver((*claimed)[1].action, what).code(), Status::Code::kUnavailable);
}

TEST_F(NotifierTest, HeldBackEventsAreCountedOnceAndSummarisedWhenTheWindowOpens) {
  auto n = Make(/*max_per_hour=*/1);
  EXPECT_EQ(n->Raise(Stuck("job:1")), 2);
  for (int pass = 0; pass < 3; ++pass) {
    EXPECT_EQ(n->Raise(Stuck("job:2")), 0);
    EXPECT_EQ(n->Raise(Stuck("job:3")), 0);
  }
  EXPECT_EQ(metrics_.CounterValue("relayq_notifications_held_total", {{"kind", "job_stuck"}}), 2u);
  n->CheckOnce();  // no room yet: no summary
  EXPECT_EQ(QueuedNotifications(), 2);
  clock_.Advance(std::chrono::hours(1));
  n->CheckOnce();
  auto summary = actions_.GetActionByKey("notify:a:job_stuck:held:" +
                                         std::to_string(ToUnixMillis(clock_.Now()) - 3600000));
  ASSERT_TRUE(summary.ok());
  ASSERT_TRUE(*summary);
  EXPECT_EQ((*summary)->reason, "relayq: 2 job_stuck notifications held back");
  // Still stuck: told on its own in a later window, and not counted again.
  EXPECT_EQ(n->Raise(Stuck("job:2")), 0);
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(n->Raise(Stuck("job:2")), 2);
  EXPECT_EQ(metrics_.CounterValue("relayq_notifications_held_total", {{"kind", "job_stuck"}}), 2u);
}

}  // namespace
}  // namespace relayq::handlers
