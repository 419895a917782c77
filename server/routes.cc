#include "server/routes.h"

#include <array>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "server/logging.h"

namespace relayq::server {
namespace {

void JsonError(httplib::Response& res, int status, std::string_view why) {
  res.status = status;
  nlohmann::json j = {{"error", std::string(why)}};
  res.set_content(j.dump(), "application/json");
}

const char* StatusText(int status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413: return "body too large";
    case 414: return "URI too long";
    case 415: return "unsupported media type";
    case 431: return "request header fields too large";
    case 503: return "service unavailable";
    default: return "error";
  }
}

// relayq_webhook_deliveries_total{event,code}, without taking the registry's
// lock per delivery: the counters of the events GitHub sends for workflows
// and the codes /webhook answers are cached after their first use (so
// /metrics shows exactly the series that occurred, as before); any other
// pair goes to the registry. Thread-safe.
class DeliveryCounters {
 public:
  explicit DeliveryCounters(MetricsRegistry& metrics) : metrics_(metrics) {}

  Counter* Get(const std::string& event, int code) {
    const int e = EventIndex(event), c = CodeIndex(code);
    if (e < 0 || c < 0) return Lookup(event, code);
    std::atomic<Counter*>& slot = slots_[static_cast<size_t>(e * kCodes.size() + c)];
    Counter* counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = Lookup(event, code);
      slot.store(counter, std::memory_order_release);
    }
    return counter;
  }

 private:
  static constexpr std::array<std::string_view, 3> kEvents = {"workflow_job", "workflow_run",
                                                              "ping"};
  static constexpr std::array<int, 11> kCodes = {200, 202, 400, 401, 403, 413,
                                                 415, 500, 503, 405, 404};
  static int EventIndex(std::string_view event) {
    for (size_t i = 0; i < kEvents.size(); ++i) {
      if (kEvents[i] == event) return static_cast<int>(i);
    }
    return -1;
  }
  static int CodeIndex(int code) {
    for (size_t i = 0; i < kCodes.size(); ++i) {
      if (kCodes[i] == code) return static_cast<int>(i);
    }
    return -1;
  }
  Counter* Lookup(const std::string& event, int code) {
    return metrics_.GetCounter("relayq_webhook_deliveries_total",
                               "Webhook deliveries by event and answer",
                               {{"event", event.size() <= 64 ? event : "(long)"},
                                {"code", std::to_string(code)}});
  }

  MetricsRegistry& metrics_;
  std::array<std::atomic<Counter*>, kEvents.size() * kCodes.size()> slots_{};
};

}  // namespace

void SetJsonErrorHandler(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    JsonError(res, res.status, StatusText(res.status));
  });
}

void AddPublicRoutes(httplib::Server& server, PublicRouteDeps deps) {
  MetricsRegistry& metrics = deps.metrics;
  Histogram* latency = metrics.GetHistogram(
      "relayq_webhook_duration_seconds", "Time from a delivery's arrival to its answer",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5});

  auto counters = std::make_shared<DeliveryCounters>(metrics);
  server.Post("/webhook", [deps, latency, counters](const httplib::Request& req,
                                                    httplib::Response& res,
                                          const httplib::ContentReader& read) {
    const MonoTime start = deps.clock.Monotonic();
    handlers::WebhookRequest w;
    w.content_type = req.get_header_value("Content-Type");
    w.event = req.get_header_value("X-GitHub-Event");
    w.delivery_id = req.get_header_value("X-GitHub-Delivery");
    w.signature = req.get_header_value("X-Hub-Signature-256");
    w.hook_id = req.get_header_value("X-GitHub-Hook-ID");
    bool too_large = false;
    if (req.has_header("Content-Length")) {
      const size_t declared = static_cast<size_t>(
          std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10));
      too_large = declared > deps.max_body_bytes;
      if (!too_large) w.body.reserve(declared);
    }
    // A content-reader route: cpp-httplib would otherwise buffer form bodies
    // itself and refuse any over its compiled-in 8 KiB form limit.
    bool complete = too_large || read([&](const char* data, size_t n) {
      if (w.body.size() + n > deps.max_body_bytes) {
        too_large = true;
        return false;
      }
      w.body.append(data, n);
      return true;
    });
    // Kept for the log line: Handle() takes the request, and each header
    // lookup in cpp-httplib is a case-insensitive map search.
    std::string event = w.event.substr(0, 64), delivery = w.delivery_id.substr(0, 128);
    handlers::WebhookAnswer answer;
    // cpp-httplib marks a body over its payload limit with 413 itself.
    if (too_large || res.status == 413) {
      answer.status = 413;
      answer.outcome = "too_large";
      answer.body = R"({"error":"body over the size limit"})";
    } else if (!complete) {
      answer.status = 400;
      answer.outcome = "bad_request";
      answer.body = R"({"error":"incomplete body"})";
    } else {
      answer = deps.intake.Handle(std::move(w));
    }
    res.status = answer.status;
    res.set_content(answer.body, "application/json");

    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            deps.clock.Monotonic() - start).count();
    latency->Observe(static_cast<double>(micros) / 1e6);
    counters->Get(event, answer.status)->Increment();
    Log(answer.status >= 500 ? LogLevel::kWarn : LogLevel::kInfo, "delivery",
        {{"id", std::move(delivery)},
         {"event", event},
         {"action", answer.action},
         {"repo", answer.repository},
         {"status", std::to_string(answer.status)},
         {"outcome", answer.outcome},
         {"us", std::to_string(micros)}});
  });

  // Wrong methods on the webhook route get 405, not a misleading 404.
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST");
    JsonError(res, 405, "use POST for /webhook");
  };
  server.Get("/webhook", not_allowed);
  server.Put("/webhook", not_allowed);
  server.Delete("/webhook", not_allowed);
  server.Patch("/webhook", not_allowed);

  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
}

void AddAdminRoutes(httplib::Server& server, AdminRouteDeps deps) {
  auto authorized = [token = deps.admin_token](const httplib::Request& req) {
    if (token.empty()) return false;
    std::string header = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.compare(0, kBearer.size(), kBearer) == 0) {
      return ConstantTimeEquals(std::string_view(header).substr(kBearer.size()), token);
    }
    // The one exception: a browser cannot send a bearer header when it loads
    // a page, so the dashboard (GET /, exactly that path) also takes the
    // token as ?token=, compared the same constant-time way. Every API call
    // the page makes then sends the header (server/dashboard.h).
    if (req.path == "/" && (req.method == "GET" || req.method == "HEAD") &&
        req.get_param_value_count("token") == 1) {
      return ConstantTimeEquals(req.get_param_value("token"), token);
    }
    return false;
  };
  server.set_pre_routing_handler([authorized](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/healthz" || authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    JsonError(res, 401, "missing or wrong bearer token");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  store::Store& store = deps.store;
  server.Get("/readyz", [&store](const httplib::Request&, httplib::Response& res) {
    Status s = store.CheckWritable();
    if (s.ok()) {
      res.set_content(R"({"status":"ready"})", "application/json");
    } else {
      JsonError(res, 503, "store not writable: " + s.message());
    }
  });
  MetricsRegistry& metrics = deps.metrics;
  server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace relayq::server
