#include "server/reader_pool.h"

namespace relayq::server {

Status ReaderPool::With(const std::function<Status(store::StoreReader&)>& use) {
  std::unique_ptr<store::StoreReader> reader;
  {
    MutexLock lock(mu_);
    if (!idle_.empty()) {
      reader = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!reader) {
    // A short busy timeout: metrics are read while the registry renders, and
    // a scrape must not hold up anything for long.
    auto opened = store::StoreReader::Open(db_path_, /*busy_timeout_ms=*/1000);
    if (!opened.ok()) return opened.status();
    reader = std::move(*opened);
  }
  Status s = use(*reader);
  // A reader that failed for a reason other than the caller's input may be
  // in a bad state (a vanished file): drop it.
  if (s.ok() || s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kNotFound) {
    MutexLock lock(mu_);
    idle_.push_back(std::move(reader));
  }
  return s;
}

}  // namespace relayq::server
