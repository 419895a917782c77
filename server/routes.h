// The HTTP routes of relayq's two listeners.
//
// Public listener: POST /webhook (the only route the funnel exposes) and
// GET /healthz. Admin listener: /healthz, /readyz, /metrics, behind a bearer
// token (everything but /healthz). Routes translate HTTP to calls on the
// handlers and back; they hold no state of their own. Thread-safe.
#pragma once

#include <httplib.h>

#include <string>

#include "common/clock.h"
#include "common/metrics.h"
#include "handlers/intake.h"
#include "store/store.h"

namespace relayq::server {

struct PublicRouteDeps {
  handlers::Intake& intake;
  MetricsRegistry& metrics;
  Clock& clock;
  size_t max_body_bytes;
};

void AddPublicRoutes(httplib::Server& server, PublicRouteDeps deps);

struct AdminRouteDeps {
  store::Store& store;
  MetricsRegistry& metrics;
  std::string admin_token;  // empty: every protected route answers 401
};

void AddAdminRoutes(httplib::Server& server, AdminRouteDeps deps);

// Answers 404/405 and library-level errors (413, 400) with a small JSON body.
void SetJsonErrorHandler(httplib::Server& server);

}  // namespace relayq::server
