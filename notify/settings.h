// What the `notify:` configuration decides, with its defaults (README
// "Notifications"): where notifications go, how many per kind, and when each
// check reports. One struct, so the defaults are written once: the
// configuration (server::NotifyConfig) and the notifier that runs the checks
// (handlers::NotifierOptions) both build on it.
#pragma once

#include <chrono>
#include <vector>

#include "notify/notification.h"
#include "notify/rate_limiter.h"

namespace relayq::notify {

struct Settings {
  // notify.targets: where notifications go; empty: none are sent.
  std::vector<Target> targets;
  // notify.rate_limit.max / .per: events per kind per window. Default 10 per 1h.
  RateLimit rate_limit;
  // notify.check_interval: how often the checks run. Default 30s.
  std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
  // notify.job_stuck_after: a job queued this long with no routing action
  // under way is reported. Default 1h; 0 turns it off.
  std::chrono::milliseconds job_stuck_after{std::chrono::hours(1)};
  // notify.runner_offline_after: a routed label with no online runner for
  // this long is reported. Default 10m; 0 turns it off.
  std::chrono::milliseconds runner_offline_after{std::chrono::minutes(10)};
  // notify.signature_failures.count / .window: this many deliveries refused
  // for their signature within the window are reported. Default 10 in 5m;
  // count 0 turns it off.
  int signature_count = 10;
  std::chrono::milliseconds signature_window{std::chrono::minutes(5)};
};

}  // namespace relayq::notify
