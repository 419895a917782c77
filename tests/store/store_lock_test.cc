#include "store/store_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/fakes/temp_dir.h"

namespace relayq::store {
namespace {

// Regression (issue 12, case 14): nothing kept a second daemon off a store.
// flock locks belong to an open file, so a second Acquire in this process
// stands for a second process.
TEST(StoreLockTest, SecondHolderIsRefusedWithTheFirstsPid) {
  testing::TempDir dir;
  const std::string db = dir.File("relayq.db");
  auto first = StoreLock::Acquire(db);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = StoreLock::Acquire(db);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kConflict);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(db), std::string::npos);
  first->reset();
  EXPECT_TRUE(StoreLock::Acquire(db).ok());
}

TEST(StoreLockTest, LockFileLeftByADeadHolderIsTakenOver) {
  testing::TempDir dir;
  const std::string db = dir.File("relayq.db");
  std::ofstream(StoreLock::PathFor(db)) << "999999\n";  // no one holds the flock
  auto lock = StoreLock::Acquire(db);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::ifstream in(StoreLock::PathFor(db));
  std::string pid;
  in >> pid;
  EXPECT_EQ(pid, std::to_string(::getpid()));
}

}  // namespace
}  // namespace relayq::store
