// PeriodicWorker: runs a task again and again on its own thread(s), pausing
// between runs on the injected Clock, so a test drives it with a fake clock.
//
// The pause is measured from the end of one run to the start of the next
// (Options::period, or what the run asked for in Pass::next), on monotonic
// time. Wake() cuts the current pauses short; a Wake() that arrives while a
// run is in progress makes the pause after it end at once, so none is lost.
// Stop() ends the pauses at once, lets a run in progress finish (a long run
// checks Pass::stop and returns early) and joins the threads; destruction
// stops. Thread safety: every public method is thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/stop.h"

namespace relayq {

class PeriodicWorker {
 public:
  struct Options {
    // The pause between runs, unless a run asks for another.
    std::chrono::milliseconds period{std::chrono::seconds(1)};
    // True: the first run starts at once; false: after one period.
    bool run_at_start = true;
    // Threads running the task, each on its own schedule; Wake() and Stop()
    // reach them all. At least one.
    int threads = 1;
  };

  // What a run sees and may change.
  struct Pass {
    // Stopped once the worker stops: a long run checks it and returns early.
    const StopToken& stop;
    // The pause before this thread's next run; starts as Options::period.
    std::chrono::milliseconds next;
    // Set to end this thread after the run.
    bool last = false;
  };
  using Task = std::function<void(Pass&)>;

  // `clock` must outlive the worker; `task` runs only on the worker's
  // threads, never after Stop() returns. Nothing runs before Start().
  PeriodicWorker(Clock& clock, Options options, Task task);
  ~PeriodicWorker();
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Starts the threads. Does nothing once started or stopped.
  void Start();

  // Ends the current pauses now (see the file comment).
  void Wake();

  // Asks the threads to stop and ends their pauses, without waiting for
  // them; Stop() then joins. Idempotent.
  void RequestStop();
  // RequestStop(), then waits for the threads to end. Idempotent; must not
  // be called from the task.
  void Stop();

  // True once RequestStop() or Stop() was called.
  bool stop_requested() const { return stop_.stop_requested(); }

 private:
  void Loop();

  Clock& clock_;
  const Options options_;
  const Task task_;
  StopSource stop_;
  Mutex mu_;  // serializes Start and Stop
  bool started_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ GUARDED_BY(mu_);
};

}  // namespace relayq
