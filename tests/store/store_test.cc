#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.path = dir_.File("relayq.db");
    auto s = Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  static Delivery JobDelivery(const std::string& id, int64_t job_id, const std::string& action) {
    Delivery d;
    d.id = id;
    d.event = "workflow_job";
    d.action = action;
    d.repository = "o/r";
    d.received_at = 1767225600000;
    d.body = std::string(8000, 'x');
    JobEvent e;
    e.job_id = job_id;
    e.run_id = 1;
    e.repository = "o/r";
    e.action = action;
    e.status = action;
    e.labels = {"self-hosted", "rpi4"};
    e.created_at = 1767225600000;
    d.job = e;
    return d;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, RecordsDeliveryJobLabelsAndHistoryInOneGo) {
  auto r = store_->Ingest(JobDelivery("d1", 7, "queued"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->duplicate);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT body_codec || ':' || body_size FROM deliveries"), "zstd:8000");
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 7"), "queued");
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_labels WHERE job_id = 7"), 2);
  EXPECT_EQ(db.Count("SELECT count(*) FROM job_events WHERE job_id = 7 AND applied = 1"), 1);
}

TEST_F(StoreTest, DuplicateIdIsReportedAndChangesNothing) {
  ASSERT_TRUE(store_->Ingest(JobDelivery("d1", 7, "queued")).ok());
  auto r = store_->Ingest(JobDelivery("d1", 7, "completed"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->duplicate);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Value("SELECT status FROM jobs WHERE id = 7"), "queued");
  EXPECT_EQ(store_->Stats().duplicates, 1u);
}

TEST_F(StoreTest, StoreFileIsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("relayq.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(StoreTest, ConcurrentIngestsShareCommitsAndLoseNothing) {
  constexpr int kThreads = 16, kEach = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store_->Ingest(JobDelivery(id, t * 1000 + i, "queued")).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.deliveries_committed, uint64_t{kThreads * kEach});
  // Group commit: concurrent deliveries share transactions.
  EXPECT_LT(stats.commits, stats.deliveries_committed);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), kThreads * kEach);
  EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), kThreads * kEach);
}

TEST_F(StoreTest, CloseFinishesQueuedWritesThenRefuses) {
  ASSERT_TRUE(store_->Ingest(JobDelivery("before", 1, "queued")).ok());
  store_->Close();
  auto r = store_->Ingest(JobDelivery("after", 2, "queued"));
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  testing::SqliteReader db(dir_.File("relayq.db"));
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries"), 1);
}

TEST_F(StoreTest, ReportsWritable) { EXPECT_TRUE(store_->CheckWritable().ok()); }

}  // namespace
}  // namespace relayq::store
