// The HTTP routes of relayq's two listeners.
//
// Public listener: POST /webhook (the only route the funnel exposes) and
// GET /healthz. Admin listener: /healthz, /readyz, /metrics, behind a bearer
// token (everything but /healthz). Routes translate HTTP to calls on the
// handlers and back; they hold no state of their own. Thread-safe.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "handlers/intake.h"
#include "server/http.h"
#include "store/store.h"

namespace relayq::server {

struct PublicRouteDeps {
  handlers::Intake& intake;
  MetricsRegistry& metrics;
  Clock& clock;
  size_t max_body_bytes;  // webhook.max_body
};

void AddPublicRoutes(Router& router, PublicRouteDeps deps);

struct AdminRouteDeps {
  store::Store& store;
  MetricsRegistry& metrics;
  std::string admin_token;  // empty: the admin API is off, every protected route answers 401
};

void AddAdminRoutes(Router& router, AdminRouteDeps deps);

// The label relayq_webhook_deliveries_total gives an X-GitHub-Event value:
// the event itself when it is one GitHub sends, else "other", so a stranger
// cannot add series.
std::string_view EventLabel(std::string_view event);

}  // namespace relayq::server
