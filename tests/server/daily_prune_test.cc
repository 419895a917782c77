// DailyPrune driven by the fake clock: it prunes at start and then once per
// period, and stops at once; no test sleeps.
#include "server/daily_prune.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

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
  DailyPrune prune(Path(), hours(24 * 3), clock_, hours(24));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(1));  // the pass at start is over
  EXPECT_EQ(Bodies(), 1);
  Deliver("aging", hours(24 * 2 + 12));  // older than the retention in 12 h
  clock_.Advance(hours(24) - milliseconds(1));
  EXPECT_EQ(Bodies(), 2);  // no pass before the period is over
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaitsBegun(2));
  EXPECT_EQ(Bodies(), 1);  // "aging" pruned, "young" kept
}

TEST_F(DailyPruneTest, ZeroRetentionStartsNoThread) {
  Deliver("old", hours(24 * 400));
  {
    DailyPrune prune(Path(), milliseconds(0), clock_, hours(24));
    clock_.Advance(hours(48));
  }
  EXPECT_EQ(clock_.WaitsBegun(), 0u);
  EXPECT_EQ(Bodies(), 1);
}

TEST_F(DailyPruneTest, DestructionEndsTheDailyWaitAtOnce) {
  {
    DailyPrune prune(Path(), hours(24), clock_, hours(24));
    ASSERT_TRUE(clock_.AwaitWaitsBegun(1));
  }  // joins: a prune still waiting for its day would hang here
  EXPECT_EQ(clock_.Waiting(), 0u);
}

}  // namespace
}  // namespace relayq::server
