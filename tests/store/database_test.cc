// Database: the one door to a store file (open modes, explicit migration,
// what it hands out).
#include "store/database.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "store/action_store.h"
#include "store/migrations.h"
#include "store/query.h"
#include "store/store.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/sqlite_reader.h"
#include "tests/fakes/temp_dir.h"

namespace relayq::store {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    StoreOptions o;
    o.path = dir_.File("relayq.db");
    return o;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
};

TEST_F(DatabaseTest, OpeningAMissingStoreIsNotFoundAndCreatesNothing) {
  auto db = Database::Open(Options());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kNotFound);
  struct stat st {};
  EXPECT_NE(::stat(Options().path.c_str(), &st), 0);
}

TEST_F(DatabaseTest, OpeningADirectoryIsInvalidArgument) {
  StoreOptions o;
  o.path = dir_.path();
  EXPECT_EQ(Database::Open(o).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(DatabaseTest, CreateMakesAnOwnerOnlyWalFileWithoutMigrating) {
  auto db = Database::Open(Options(), Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(Options().path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  testing::SqliteReader file(Options().path);
  EXPECT_EQ(file.Value("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(file.Count("PRAGMA user_version"), 0);
}

TEST_F(DatabaseTest, WriterAndActionStoreNeedAMigratedStore) {
  auto db = Database::Open(Options(), Database::Mode::kCreate);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->OpenWriter(clock_).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ((*db)->OpenActionStore().status().code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE((*db)->Migrate().ok());
  EXPECT_EQ(testing::SqliteReader(Options().path).Count("PRAGMA user_version"),
            LatestSchemaVersion());
  EXPECT_TRUE((*db)->OpenWriter(clock_).ok());
  EXPECT_TRUE((*db)->OpenActionStore().ok());
  EXPECT_TRUE((*db)->OpenReader().ok());
}

TEST_F(DatabaseTest, MigrateTwiceIsANoOp) {
  auto db = Database::Open(Options(), Database::Mode::kCreate);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate().ok());
  EXPECT_TRUE((*db)->Migrate().ok());
}

TEST_F(DatabaseTest, ReaderOfAFileWithoutASchemaIsRefused) {
  auto db = Database::Open(Options(), Database::Mode::kCreate);
  ASSERT_TRUE(db.ok());
  auto reader = (*db)->OpenReader();
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(DatabaseTest, FileModeOptionAppliesToANewFile) {
  StoreOptions o = Options();
  o.file_mode = 0640;
  ASSERT_TRUE(Database::Open(o, Database::Mode::kCreate).ok());
  struct stat st {};
  ASSERT_EQ(::stat(o.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

}  // namespace
}  // namespace relayq::store
