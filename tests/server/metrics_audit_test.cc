// QueueWaitFeed driven by the fake clock: it looks at the store a period
// after start-up and after each JobsChanged(), and counts each started job's
// wait once; no test sleeps or polls.
#include "server/metrics_audit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server/admin_api.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kPeriod = seconds(5);

class QueueWaitFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.path = dir_.File("relayq.db");
    auto s = store::Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    pool_ = std::make_shared<ReaderPool>(o.path);
  }

  // Job `job_id` (label rpi4) queued at the clock's now less `wait`, with
  // the given action; "in_progress" starts it now.
  void JobEvent(int64_t job_id, const std::string& action, seconds wait) {
    const int64_t now = ToUnixMillis(clock_.Now());
    store::Delivery d;
    d.id = "job-" + std::to_string(job_id) + "-" + action;
    d.event = "workflow_job";
    d.action = action;
    d.repository = "o/r";
    d.received_at = now;
    d.body = "{}";
    store::JobEvent e;
    e.job_id = job_id;
    e.run_id = 1;
    e.repository = "o/r";
    e.action = e.status = action;
    e.labels = {"self-hosted", "rpi4"};
    e.created_at = now - std::chrono::duration_cast<milliseconds>(wait).count();
    if (action != "queued") e.started_at = now;
    d.job = e;
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }
  bool Shows(const std::string& line) {
    return metrics_.RenderPrometheus().find(line) != std::string::npos;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<ReaderPool> pool_;
  MetricsRegistry metrics_;
};

TEST_F(QueueWaitFeedTest, CountsEachStartedJobOnceAfterThePeriod) {
  JobEvent(1, "queued", seconds(0));
  JobEvent(1, "in_progress", seconds(30));  // before the feed: not counted
  QueueWaitFeed feed(metrics_, pool_, clock_, kPeriod);
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  JobEvent(2, "queued", seconds(0));
  JobEvent(2, "in_progress", seconds(90));
  clock_.Advance(kPeriod - milliseconds(1));
  EXPECT_FALSE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"}"));
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));  // the look is over
  EXPECT_TRUE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"} 1"));
  EXPECT_TRUE(Shows("relayq_queue_wait_seconds_bucket{label=\"rpi4\",le=\"120\"} 1"));
  clock_.Advance(kPeriod);
  ASSERT_TRUE(clock_.AwaitWaitsBegun(3));
  EXPECT_TRUE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"} 1"));  // not again
}

TEST_F(QueueWaitFeedTest, LooksAgainOnlyAfterJobsChanged) {
  QueueWaitFeed feed(metrics_, pool_, clock_, kPeriod);
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  clock_.Advance(kPeriod);  // the look after start-up finds nothing
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  JobEvent(3, "queued", seconds(0));
  JobEvent(3, "in_progress", seconds(30));
  clock_.Advance(kPeriod * 100);  // idle: the feed waits to be told
  EXPECT_FALSE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"}"));
  feed.JobsChanged();
  feed.JobsChanged();  // a burst shares one look
  ASSERT_TRUE(clock_.AwaitWaitsBegun(3));
  clock_.Advance(kPeriod - milliseconds(1));
  EXPECT_FALSE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"}"));
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(4));
  EXPECT_TRUE(Shows("relayq_queue_wait_seconds_count{label=\"rpi4\"} 1"));
  EXPECT_TRUE(Shows("relayq_queue_wait_seconds_bucket{label=\"rpi4\",le=\"30\"} 1"));
}

}  // namespace
}  // namespace relayq::server
