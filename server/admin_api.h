// The audit side of the admin listener: the read-only /api/v1 routes, the
// dashboard page and the store-derived metrics, all over one pool of
// read-only store connections (store/query.h).
//
//   GET /api/v1/jobs|runs|deliveries|actions  {"items": [...], "next": CURSOR|null}
//       query parameters: repo, label, status, since, until, limit (1..1000,
//       default 100), cursor; a bad one is a 400 with {"error": "..."}
//   GET /api/v1/jobs/{id}   one job with "events", "deliveries", "actions"; 404 if unknown
//   GET /api/v1/summary     what the dashboard shows (queues per label, runners)
//   GET /                   the dashboard (server/dashboard.h)
//
// Authentication is the admin router's header check (routes.cc); nothing
// here sees the token. Thread safety: the store-reading handlers run on the
// listener's worker pool; the pool hands each its own connection.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "server/http.h"

namespace relayq::server {

struct AuditApiDeps {
  std::string db_path;
  MetricsRegistry& metrics;
  Clock& clock;
};

// Keeps the audit API's background work (the queue-wait metrics feed)
// running; destroying it stops that work.
class AuditServices {
 public:
  virtual ~AuditServices() = default;
  // The store recorded a job status change: the queue-wait feed looks at the
  // store soon after (QueueWaitFeed::JobsChanged). Cheap; any thread.
  virtual void JobsChanged() = 0;
};

// Adds the routes above to `router` and registers the store, process and
// build metrics (server/metrics_audit.h) on deps.metrics. Call once, before
// the listener starts; keep the result until the listener has stopped.
std::unique_ptr<AuditServices> AddAuditApi(Router& router, AuditApiDeps deps);

}  // namespace relayq::server
