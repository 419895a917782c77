// A pool of read-only store connections (store/query.h) shared by the
// admin API's handlers and the store-derived metrics. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "store/query.h"

namespace relayq::server {

// Read-only store connections for concurrent handlers: a connection is opened
// on first need and reused afterwards. Thread-safe.
class ReaderPool {
 public:
  explicit ReaderPool(std::string db_path) : db_path_(std::move(db_path)) {}

  // Runs `use` with a connection of its own. A connection whose use failed
  // is closed rather than reused. Returns the open error or `use`'s status.
  Status With(const std::function<Status(store::StoreReader&)>& use);

 private:
  const std::string db_path_;
  Mutex mu_;
  std::vector<std::unique_ptr<store::StoreReader>> idle_ GUARDED_BY(mu_);
};

}  // namespace relayq::server
