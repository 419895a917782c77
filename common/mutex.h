// Mutex and MutexLock: std::mutex and std::unique_lock with clang
// thread-safety annotations (common/thread_annotations.h), so that
// GUARDED_BY(mu_) on a member is checked by the clang build rather than
// promised by a comment.
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   ...
//   MutexLock lock(mu_);
//   ++count_;
//   cv_.wait(lock.native(), [&]() REQUIRES(mu_) { return count_ > 0; });
//
// Thread safety: as std::mutex.
#pragma once

#include <mutex>

#include "common/thread_annotations.h"

namespace relayq {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

  // The std::mutex underneath, for std::unique_lock in MutexLock only.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope. native() is the std::unique_lock a
// std::condition_variable waits on; a wait releases and re-takes the mutex,
// which the analysis (like the reader) treats as held throughout. Unlock()
// and Lock() let go of the mutex for part of the scope (slow work between
// two waits); the destructor releases it only if held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Releases the mutex; it must be held.
  void Unlock() RELEASE() { lock_.unlock(); }
  // Takes the mutex again after Unlock().
  void Lock() ACQUIRE() { lock_.lock(); }

  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace relayq
