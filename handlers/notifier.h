// Notifier: finds the events the owner wants to hear about and queues one
// notification per event and target through the action outbox (actions of
// kind `notify`), which the ActionExecutor carries out by calling Deliver().
//
// Events and where they come from (each pass, every check_interval):
//   action_failed / action_aborted / action_refused  routing actions that
//       ended so since the last pass (the store's actions table, so refusals
//       the router records at once are seen too), with kind, key, reason
//       and the last error (GitHub's answer);
//   job_stuck  jobs queued longer than job_stuck_after with no routing
//       action scheduled, pending or running for them;
//   runner_offline  a label some route prefers or falls back to, carried by
//       registered runners none of which has been online for
//       runner_offline_after (GitHub's runners API for the served
//       repositories; needs GitHub credentials: job events cannot tell an
//       idle runner from a dead one). Labels no repository runner carries
//       (organisation runners) are not judged;
//   signature_failures  at least signature_count deliveries refused for
//       their signature within signature_window (the intake's counter);
//   store_unwritable  the store's write probe fails. This one cannot go
//       through the store: it is sent directly to the targets, best effort
//       (no retry), once per outage (remembered in memory).
//
// Exactly once. A queued notification's key is notify:TARGET:KIND:EVENT, so
// an event seen again (the next pass, after a restart) is never queued
// twice; the executor sends it with retries and backoff under its claim's
// fencing, and finishes it done once the target answered 2xx.
//
// Rate limit. At most rate_limit.max events of one kind per rate_limit.per
// are queued (one event reaches every target that wants it). An event over
// the limit is counted (once, however often it is seen again), logged and
// counted in relayq_notifications_held_total; once the window has room, one
// summary notification of that kind says how many were held back since
// when. The window is in memory: a restart starts a fresh one.
//
// Thread safety: Raise, Deliver and CheckOnce may be called from any thread;
// Start/Stop from one.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/periodic_worker.h"
#include "github/client.h"
#include "handlers/policy_holder.h"
#include "notify/http_sender.h"
#include "notify/notification.h"
#include "notify/rate_limiter.h"
#include "notify/settings.h"
#include "store/action_store.h"
#include "store/database.h"

namespace relayq::handlers {

// The configured settings (targets, rate limit, checks; defaults in
// notify/settings.h) and what the notifier learns elsewhere.
struct NotifierOptions : notify::Settings {
  // How far back the first pass looks for actions that ended badly (those
  // already notified are skipped by key).
  std::chrono::milliseconds lookback{std::chrono::hours(1)};
  // Repositories whose runners are checked, besides those that delivered
  // in the last week.
  std::vector<std::string> repositories;
  // The web UI links point into ("https://github.com"); "" for none.
  std::string web_url = "https://github.com";
};

class Notifier {
 public:
  // `actions`, `db`, `sender`, `clock` and `metrics` must outlive the
  // notifier.
  Notifier(NotifierOptions options, store::ActionStore& actions, const store::Database& db,
           notify::Sender& sender, Clock& clock, MetricsRegistry& metrics);
  ~Notifier();

  // Optional sources, set before Start(): the store's write probe, and the
  // GitHub client and policy for the runner check (github may be null).
  void SetWritableCheck(std::function<Status()> check) { writable_check_ = std::move(check); }
  void SetRunnerSource(github::GitHubClient* github, const PolicyHolder* policy) {
    github_ = github;
    policy_ = policy;
  }
  // Called after notifications were queued (the executor's Wake).
  void SetWake(std::function<void()> wake) { wake_ = std::move(wake); }

  // Queues `n` for every target that wants its kind, within the rate limit
  // (see the file comment). Returns how many were queued.
  int Raise(const notify::Notification& n);

  // The executor's work for an action of kind notify: sends its
  // notification to its target once. Ok (with `what` saying what was sent)
  // when the target took it; the sender's Status otherwise (Unavailable is
  // retried). InvalidArgument when the target is no longer configured.
  Status Deliver(const store::ActionRecord& action, std::string& what);

  // One pass of every check; Start() runs it every check_interval.
  void CheckOnce();

  void Start();
  void Stop();

 private:
  // Records `n` for each of `targets` (no rate limit); wakes the executor.
  int Queue(const notify::Notification& n, const std::vector<const notify::Target*>& targets);
  // Sends `n` straight to every target that wants it, bypassing the store.
  void SendDirect(const notify::Notification& n);
  void CheckEndedActions(int64_t now) REQUIRES(pass_mu_);
  void CheckStuckJobs(int64_t now) REQUIRES(pass_mu_);
  void CheckSignatureFailures(int64_t now) REQUIRES(pass_mu_);
  void CheckRunners(int64_t now) REQUIRES(pass_mu_);
  void SendSummaries(int64_t now);
  const notify::Target* FindTarget(const std::string& name) const;
  void CountSent(const notify::Target& t, notify::EventKind kind, bool ok);

  const NotifierOptions options_;
  store::ActionStore& actions_;
  const store::Database& db_;
  notify::Sender& sender_;
  Clock& clock_;
  MetricsRegistry& metrics_;
  notify::RateLimiter limiter_;
  std::function<Status()> writable_check_;
  github::GitHubClient* github_ = nullptr;
  const PolicyHolder* policy_ = nullptr;
  std::function<void()> wake_;

  Mutex mu_;
  std::set<std::string> held_keys_ GUARDED_BY(mu_);  // events counted as held back
  // The checks' memory, kept by CheckOnce (one pass at a time).
  Mutex pass_mu_;
  int64_t ended_since_ GUARDED_BY(pass_mu_) = 0;     // done_at watermark
  bool store_alerted_ GUARDED_BY(pass_mu_) = false;  // this outage was told
  // Counter samples within the signature window.
  std::vector<std::pair<MonoTime, uint64_t>> signature_samples_ GUARDED_BY(pass_mu_);
  bool in_signature_burst_ GUARDED_BY(pass_mu_) = false;
  struct Offline {
    int64_t since_ms = 0;
    MonoTime since{};
    bool told = false;
  };
  std::map<std::string, Offline> offline_labels_ GUARDED_BY(pass_mu_);  // lower-case label

  PeriodicWorker worker_;
};

}  // namespace relayq::handlers
