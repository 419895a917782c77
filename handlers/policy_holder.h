// PolicyHolder: the policy in force, swappable at run time (SIGHUP).
//
// Readers take a shared_ptr snapshot and keep using it for one decision, so
// a reload never changes a policy under a decision in progress. Thread-safe.
#pragma once

#include <memory>

#include "common/mutex.h"
#include "policy/policy.h"

namespace relayq::handlers {

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const policy::Policy> policy)
      : policy_(std::move(policy)) {}

  std::shared_ptr<const policy::Policy> Get() const {
    MutexLock lock(mu_);
    return policy_;
  }

  void Set(std::shared_ptr<const policy::Policy> policy) {
    MutexLock lock(mu_);
    policy_ = std::move(policy);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const policy::Policy> policy_ GUARDED_BY(mu_);  // never null
};

}  // namespace relayq::handlers
