// DailyPrune driven by the fake clock: it prunes at start and then once per
// period, and stops at once; no test sleeps.
#include "server/daily_prune.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "server/config.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::server {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

class DailyPruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.path = Path();
    auto s = store::Store::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::string Path() const { return dir_.File("relayq.db"); }

  // A ping delivery (with a body) received `age` before the clock's now.
  void Deliver(const std::string& id, milliseconds age) {
    store::Delivery d;
    d.id = id;
    d.event = "ping";
    d.repository = "o/r";
    d.received_at = ToUnixMillis(clock_.Now() - age);
    d.body = std::string(2000, 'x');
    ASSERT_TRUE(store_->Ingest(std::move(d)).ok());
  }
  int64_t Bodies() {
    testing::SqliteReader db(Path());
    return db.Count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL");
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(DailyPruneTest, PrunesAtStartThenOncePerPeriod) {
  Deliver("old", hours(24 * 5));
  Deliver("young", hours(12));
  DailyPrune prune(Path(), hours(24 * 3), milliseconds(0), clock_, hours(24));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));  // the pass at start is over
  EXPECT_EQ(Bodies(), 1);
  Deliver("aging", hours(24 * 2 + 12));  // older than the retention in 12 h
  clock_.Advance(hours(24) - milliseconds(1));
  EXPECT_EQ(Bodies(), 2);  // no pass before the period is over
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(Bodies(), 1);  // "aging" pruned, "young" kept
}

// store.history: the records of a delivery older than the history go at
// start (and its freed pages with them); a younger one stays, so its
// redelivery is still a duplicate.
TEST_F(DailyPruneTest, DeletesRecordsOlderThanTheHistory) {
  Deliver("ancient", hours(24 * 40));
  Deliver("recent", hours(24 * 20));
  DailyPrune prune(Path(), milliseconds(0), hours(24 * 30), clock_, hours(24));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  testing::SqliteReader db(Path());
  EXPECT_EQ(db.Value("SELECT group_concat(id, ' ') FROM deliveries"), "recent");
  store::Delivery again;
  again.id = "recent";
  again.event = "ping";
  again.received_at = ToUnixMillis(clock_.Now());
  auto r = store_->Ingest(std::move(again));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->duplicate);
}

// Refused: a history shorter than 7 days, or not more than twice
// recovery.since (delivery ids must outlive redeliveries); 0 keeps all.
TEST(StoreHistoryConfigTest, ShortHistoriesAreRefused) {
  testing::TempDir dir;
  auto load = [&](const std::string& yaml) {
    std::ofstream(dir.File("c.yaml")) << yaml;
    return LoadConfigFile(dir.File("c.yaml"));
  };
  auto short_one = load("store:\n  history: 6d\n");
  ASSERT_FALSE(short_one.ok());
  EXPECT_NE(short_one.status().message().find("store.history: must be at least 7d"),
            std::string::npos)
      << short_one.status().message();
  EXPECT_FALSE(load("store:\n  history: 10d\nrecovery:\n  since: 5d\n").ok());
  EXPECT_FALSE(load("store:\n  history: 30\n").ok());
  auto fine = load("store:\n  history: 7d\n");
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  EXPECT_EQ(fine->history, hours(24 * 7));
  auto forever = load("store:\n  history: 0\n");
  ASSERT_TRUE(forever.ok());
  EXPECT_EQ(forever->history.count(), 0);
  auto defaults = load("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->history, hours(24 * 400));
}

TEST_F(DailyPruneTest, ZeroRetentionStartsNoThread) {
  Deliver("old", hours(24 * 400));
  {
    DailyPrune prune(Path(), milliseconds(0), milliseconds(0), clock_, hours(24));
    clock_.Advance(hours(48));
  }
  EXPECT_EQ(clock_.WaitsBegun(), 0u);
  EXPECT_EQ(Bodies(), 1);
}

TEST_F(DailyPruneTest, DestructionEndsTheDailyWaitAtOnce) {
  {
    DailyPrune prune(Path(), hours(24), milliseconds(0), clock_, hours(24));
    ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  }  // joins: a prune still waiting for its day would hang here
  EXPECT_EQ(clock_.Waiting(), 0u);
}

}  // namespace
}  // namespace relayq::server
