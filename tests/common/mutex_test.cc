// Tests for common/mutex.h: MutexLock holds its Mutex for its scope, can let
// go of it and take it again, and serves a condition variable.
#include "common/mutex.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <thread>

namespace relayq {
namespace {

// True if another thread can take `mu` right now.
bool FreeElsewhere(Mutex& mu) {
  bool free = false;
  std::thread t([&] {
    free = mu.native().try_lock();
    if (free) mu.native().unlock();
  });
  t.join();
  return free;
}

TEST(MutexLockTest, HoldsTheMutexForItsScope) {
  Mutex mu;
  {
    MutexLock lock(mu);
    EXPECT_FALSE(FreeElsewhere(mu));
  }
  EXPECT_TRUE(FreeElsewhere(mu));
}

TEST(MutexLockTest, UnlockLetsOthersInAndLockTakesItBack) {
  Mutex mu;
  {
    MutexLock lock(mu);
    lock.Unlock();
    EXPECT_TRUE(FreeElsewhere(mu));
    lock.Lock();
    EXPECT_FALSE(FreeElsewhere(mu));
  }
  EXPECT_TRUE(FreeElsewhere(mu));
}

TEST(MutexLockTest, ScopeEndedWhileUnlockedLeavesTheMutexFree) {
  Mutex mu;
  {
    MutexLock lock(mu);
    lock.Unlock();
  }
  EXPECT_TRUE(FreeElsewhere(mu));
}

TEST(MutexLockTest, ConditionVariableWaitsOnTheNativeLock) {
  struct Shared {
    Mutex mu;
    std::condition_variable cv;
    bool ready GUARDED_BY(mu) = false;
  } s;
  std::thread setter([&] {
    MutexLock lock(s.mu);
    s.ready = true;
    s.cv.notify_all();
  });
  {
    MutexLock lock(s.mu);
    s.cv.wait(lock.native(), [&]() REQUIRES(s.mu) { return s.ready; });
    EXPECT_TRUE(s.ready);
  }
  setter.join();
}

}  // namespace
}  // namespace relayq
