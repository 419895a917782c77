#include "store/migrations.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <barrier>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::store {
namespace {

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

// A store left by every earlier schema version, with data in it, opens and is
// upgraded to the latest version without losing that data.
TEST(MigrationsTest, UpgradesFromEveryEarlierVersion) {
  for (int from = 0; from < LatestSchemaVersion(); ++from) {
    testing::TempDir dir;
    std::string path = dir.File("old.db");
    ASSERT_TRUE(MigrateFileTo(path, from).ok());
    if (from >= 1) {
      Exec(path,
           "INSERT INTO deliveries (id, event, received_at, outcome) "
           "VALUES ('old-delivery', 'workflow_job', 1, 'accepted')");
    }
    testing::FakeClock clock;
    StoreOptions o;
    o.path = path;
    auto store = Store::Open(o, clock);
    ASSERT_TRUE(store.ok()) << "from " << from << ": " << store.status().ToString();
    (*store)->Close();
    testing::SqliteReader db(path);
    EXPECT_EQ(db.Value("PRAGMA user_version"), std::to_string(LatestSchemaVersion()));
    if (from >= 1) {
      EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = 'old-delivery'"), 1);
    }
    EXPECT_EQ(db.Count("SELECT count(*) FROM jobs"), 0);
  }
}

// Issue 13: a refusal by the policy was stored as 'aborted'. Step 6 gives the
// refusals earlier relayq recorded (the reason alone from the router, "reason:
// why" from the executor) their own status and leaves other aborts alone.
TEST(MigrationsTest, StepSixMarksEarlierRefusalsRefused) {
  testing::TempDir dir;
  std::string path = dir.File("old.db");
  ASSERT_TRUE(MigrateFileTo(path, 5).ok());
  Exec(path,
       "INSERT INTO actions (kind, key, repository, status, last_error, created_at, updated_at) "
       "VALUES ('fallback', 'a', 'o/r', 'aborted', 'max_fallbacks', 1, 1), "
       "('fallback', 'b', 'o/r', 'aborted', 'input_too_large: 340 MB > 200 MB', 1, 1), "
       "('fallback', 'c', 'o/r', 'aborted', 'started on macmini-1', 1, 1), "
       "('fallback', 'd', 'o/r', 'aborted', NULL, 1, 1), "
       "('fallback', 'e', 'o/r', 'failed', 'no_ref', 1, 1)");
  ASSERT_TRUE(MigrateFileTo(path, 6).ok());
  testing::SqliteReader db(path);
  EXPECT_EQ(db.Value("SELECT group_concat(key || '=' || status, ' ') FROM "
                     "(SELECT key, status FROM actions ORDER BY key)"),
            "a=refused b=refused c=aborted d=aborted e=failed");
}

// Step 11 rebuilds a store made before it (auto_vacuum off) once, keeping its
// data, so that pruned pages can go back to the file system.
TEST(MigrationsTest, StepElevenMakesAnOlderStoreIncremental) {
  testing::TempDir dir;
  std::string path = dir.File("old.db");
  ASSERT_TRUE(MigrateFileTo(path, 10).ok());
  Exec(path,
       "PRAGMA journal_mode = WAL; INSERT INTO deliveries (id, event, received_at, outcome) "
       "VALUES ('old-delivery', 'workflow_job', 1, 'accepted')");
  {
    testing::SqliteReader db(path);
    EXPECT_EQ(db.Value("PRAGMA auto_vacuum"), "0");
  }
  ASSERT_TRUE(MigrateFileTo(path, 11).ok());
  testing::SqliteReader db(path);
  EXPECT_EQ(db.Value("PRAGMA auto_vacuum"), "2");
  EXPECT_EQ(db.Value("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db.Value("PRAGMA user_version"), "11");
  EXPECT_EQ(db.Count("SELECT count(*) FROM deliveries WHERE id = 'old-delivery'"), 1);
}

// Regression (issue 12, case 14): the version was read outside the step's
// transaction, so two processes opening a new store at once both ran step 1
// and the second failed with "table already exists".
TEST(MigrationsTest, ConcurrentOpensOfANewStoreMigrateItOnce) {
  constexpr int kTrials = 10, kOpeners = 4;
  for (int trial = 0; trial < kTrials; ++trial) {
    testing::TempDir dir;
    const std::string path = dir.File("relayq.db");
    testing::FakeClock clock;
    std::barrier start(kOpeners);
    std::vector<Status> results(kOpeners);
    std::vector<std::thread> openers;
    for (int i = 0; i < kOpeners; ++i) {
      openers.emplace_back([&, i] {
        StoreOptions o;
        o.path = path;
        start.arrive_and_wait();
        auto store = Store::Open(o, clock);
        results[i] = store.ok() ? Status::Ok() : store.status();
      });
    }
    for (auto& t : openers) t.join();
    for (int i = 0; i < kOpeners; ++i) {
      EXPECT_TRUE(results[i].ok()) << "trial " << trial << ": " << results[i].ToString();
    }
    testing::SqliteReader db(path);
    EXPECT_EQ(db.Count("PRAGMA user_version"), LatestSchemaVersion());
  }
}

TEST(MigrationsTest, RefusesAStoreFromANewerRelayq) {
  testing::TempDir dir;
  std::string path = dir.File("new.db");
  Exec(path, "PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 1));
  testing::FakeClock clock;
  StoreOptions o;
  o.path = path;
  auto store = Store::Open(o, clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("upgrade relayq"), std::string::npos);
}

TEST(MigrationsTest, RefusesAFileThatIsNotAStore) {
  testing::TempDir dir;
  std::string path = dir.File("junk.db");
  FILE* f = fopen(path.c_str(), "w");
  fputs("this is not a database, just text that is long enough to have a header........", f);
  fclose(f);
  testing::FakeClock clock;
  StoreOptions o;
  o.path = path;
  EXPECT_FALSE(Store::Open(o, clock).ok());
}

}  // namespace
}  // namespace relayq::store
