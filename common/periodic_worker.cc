#include "common/periodic_worker.h"

#include <algorithm>
#include <utility>

namespace relayq {

PeriodicWorker::PeriodicWorker(Clock& clock, Options options, Task task)
    : clock_(clock), options_(options), task_(std::move(task)) {}

PeriodicWorker::~PeriodicWorker() { Stop(); }

void PeriodicWorker::Start() {
  MutexLock lock(mu_);
  if (started_ || stop_.stop_requested()) return;
  started_ = true;
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void PeriodicWorker::Wake() { stop_.Wake(); }

void PeriodicWorker::RequestStop() { stop_.Stop(); }

void PeriodicWorker::Stop() {
  stop_.Stop();
  std::vector<std::thread> threads;
  {
    MutexLock lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

void PeriodicWorker::Loop() {
  if (!options_.run_at_start &&
      clock_.WaitFor(options_.period, stop_.token()) == WaitResult::kStopped) {
    return;
  }
  for (;;) {
    // Taken before the run: a Wake() during it ends the pause after it.
    const StopToken token = stop_.token();
    if (token.stop_requested()) return;
    Pass pass{token, options_.period};
    task_(pass);
    if (pass.last) return;
    if (clock_.WaitFor(pass.next, token) == WaitResult::kStopped) return;
  }
}

}  // namespace relayq
