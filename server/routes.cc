#include "server/routes.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "handlers/decode.h"
#include "policy/policy.h"
#include "server/logging.h"

namespace relayq::server {
namespace {

// Every event name GitHub's webhooks send (docs: "Webhook events and
// payloads"), sorted; anything else is counted as "other".
constexpr std::string_view kGitHubEvents[] = {"branch_protection_configuration",
                                              "branch_protection_rule",
                                              "check_run",
                                              "check_suite",
                                              "code_scanning_alert",
                                              "commit_comment",
                                              "create",
                                              "custom_property",
                                              "custom_property_values",
                                              "delete",
                                              "dependabot_alert",
                                              "deploy_key",
                                              "deployment",
                                              "deployment_protection_rule",
                                              "deployment_review",
                                              "deployment_status",
                                              "discussion",
                                              "discussion_comment",
                                              "fork",
                                              "github_app_authorization",
                                              "gollum",
                                              "installation",
                                              "installation_repositories",
                                              "installation_target",
                                              "issue_comment",
                                              "issues",
                                              "label",
                                              "marketplace_purchase",
                                              "member",
                                              "membership",
                                              "merge_group",
                                              "meta",
                                              "milestone",
                                              "org_block",
                                              "organization",
                                              "package",
                                              "page_build",
                                              "personal_access_token_request",
                                              "ping",
                                              "project",
                                              "project_card",
                                              "project_column",
                                              "projects_v2",
                                              "projects_v2_item",
                                              "public",
                                              "pull_request",
                                              "pull_request_review",
                                              "pull_request_review_comment",
                                              "pull_request_review_thread",
                                              "push",
                                              "registry_package",
                                              "release",
                                              "repository",
                                              "repository_advisory",
                                              "repository_dispatch",
                                              "repository_import",
                                              "repository_ruleset",
                                              "repository_vulnerability_alert",
                                              "secret_scanning_alert",
                                              "secret_scanning_alert_location",
                                              "security_advisory",
                                              "security_and_analysis",
                                              "sponsorship",
                                              "star",
                                              "status",
                                              "sub_issues",
                                              "team",
                                              "team_add",
                                              "watch",
                                              "workflow_dispatch",
                                              "workflow_job",
                                              "workflow_run",
                                              "relayq_reconcile",
                                              "other"};

// relayq_webhook_deliveries_total{event,code}, without taking the registry's
// lock per delivery: the counters of the events GitHub sends for workflows
// and the codes /webhook answers are cached after their first use (so
// /metrics shows exactly the series that occurred); any other pair goes to
// the registry. Both labels come from fixed sets. Thread-safe.
class DeliveryCounters {
 public:
  explicit DeliveryCounters(MetricsRegistry& metrics) : metrics_(metrics) {}

  Counter* Get(std::string_view event, int code) {
    const int e = EventIndex(event), c = CodeIndex(code);
    if (e < 0 || c < 0) return Lookup(EventLabel(event), code);
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
  Counter* Lookup(std::string_view event, int code) {
    return metrics_.GetCounter("relayq_webhook_deliveries_total",
                               "Webhook deliveries by event and answer",
                               {{"event", std::string(event)}, {"code", std::to_string(code)}});
  }

  MetricsRegistry& metrics_;
  std::array<std::atomic<Counter*>, kEvents.size() * kCodes.size()> slots_{};
};

HttpResponse Answer(const handlers::WebhookAnswer& a) {
  return HttpResponse::Json(a.status, a.body);
}

// Refusals that need no body, so none is read: GitHub does not compress
// deliveries, and only JSON and its `payload=` form are webhook bodies.
std::optional<HttpResponse> CheckWebhookHeader(const HttpRequest& req) {
  std::string_view encoding = req.Header("Content-Encoding");
  if (!encoding.empty() && !policy::EqualsIgnoreCase(encoding, "identity")) {
    return HttpResponse::Error(
        415, "Content-Encoding must be identity (GitHub does not compress deliveries)");
  }
  if (handlers::ClassifyContentType(req.Header("Content-Type")) ==
      handlers::BodyType::kUnsupported) {
    return HttpResponse::Error(
        415, "content type must be application/json or application/x-www-form-urlencoded");
  }
  return std::nullopt;
}

}  // namespace

std::string_view EventLabel(std::string_view event) {
  for (std::string_view e : kGitHubEvents) {
    if (e == event) return e;
  }
  return "other";
}

void AddPublicRoutes(Router& router, PublicRouteDeps deps) {
  MetricsRegistry& metrics = deps.metrics;
  Histogram* latency = metrics.GetHistogram(
      "relayq_webhook_duration_seconds", "Time from a delivery's complete arrival to its answer",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5});
  auto counters = std::make_shared<DeliveryCounters>(metrics);
  // The series unverified requests are counted in exist from the start.
  for (int code : {400, 401, 415}) counters->Get("other", code);

  Route webhook;
  webhook.method = "POST";
  webhook.pattern = "/webhook";
  webhook.max_body_bytes = deps.max_body_bytes;
  webhook.header_check = CheckWebhookHeader;
  // Inline: verify and decode take microseconds on the I/O thread; the
  // answer comes when the store's group commit completes.
  webhook.handler = [deps, latency, counters](HttpRequest&& req, Respond respond) {
    const MonoTime start = deps.clock.Monotonic();
    handlers::WebhookRequest w;
    w.content_type = std::string(req.Header("Content-Type"));
    w.event = std::string(req.Header("X-GitHub-Event"));
    w.delivery_id = std::string(req.Header("X-GitHub-Delivery"));
    w.signature = std::string(req.Header("X-Hub-Signature-256"));
    w.hook_id = std::string(req.Header("X-GitHub-Hook-ID"));
    w.body = std::move(req.body);
    std::string event = w.event.substr(0, 64), delivery = w.delivery_id.substr(0, 128);
    Clock& clock = deps.clock;
    deps.intake.HandleAsync(
        std::move(w),
        [&clock, start, latency, counters, event = std::move(event), delivery = std::move(delivery),
         respond = std::move(respond)](handlers::WebhookAnswer answer) mutable {
          // Called on the store's writer thread: hand everything but the
          // answer itself to the I/O thread.
          HttpResponse res = Answer(answer);
          res.on_sent = [&clock, start, latency, counters, event = std::move(event),
                         delivery = std::move(delivery), answer = std::move(answer)]() mutable {
            const auto micros =
                std::chrono::duration_cast<std::chrono::microseconds>(clock.Monotonic() - start)
                    .count();
            latency->Observe(static_cast<double>(micros) / 1e6);
            // A request that never proved it knows the secret adds no
            // series: it is counted under "other", whatever event it names.
            const bool verified =
                answer.status != 401 && answer.status != 400 && answer.status != 415;
            counters->Get(verified ? EventLabel(event) : "other", answer.status)->Increment();
            Log(answer.status >= 500 ? LogLevel::kWarn : LogLevel::kInfo, "delivery",
                {{"id", std::move(delivery)},
                 {"event", event},
                 {"action", answer.action},
                 {"repo", answer.repository},
                 {"status", std::to_string(answer.status)},
                 {"outcome", answer.outcome},
                 {"us", std::to_string(micros)}});
          };
          respond(std::move(res));
        });
  };
  router.Add(std::move(webhook));
  router.Get("/healthz",
             [](const HttpRequest&) { return HttpResponse::Json(200, R"({"status":"ok"})"); });
}

void AddAdminRoutes(Router& router, AdminRouteDeps deps) {
  auto authorized = [token = deps.admin_token](const HttpRequest& req) {
    std::string_view header = req.Header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.substr(0, kBearer.size()) == kBearer) {
      return ConstantTimeEquals(header.substr(kBearer.size()), token);
    }
    // The one exception: a browser cannot send a bearer header when it loads
    // a page, so the dashboard (GET /, exactly that path) also takes the
    // token as ?token=, compared the same constant-time way. Every API call
    // the page makes then sends the header (server/dashboard.h).
    if (req.path == "/" && (req.method == "GET" || req.method == "HEAD") &&
        req.ParamCount("token") == 1) {
      return ConstantTimeEquals(*req.Param("token"), token);
    }
    return false;
  };
  const bool enabled = !deps.admin_token.empty();
  router.SetHeaderCheck(
      [authorized, enabled](const HttpRequest& req) -> std::optional<HttpResponse> {
        if (enabled && authorized(req)) return std::nullopt;
        HttpResponse r = HttpResponse::Error(
            401, enabled ? "missing or wrong bearer token"
                         : "the admin API is disabled: no admin token is configured "
                           "(set RELAYQ_ADMIN_TOKEN or admin.token_file)");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      },
      {"/healthz"});
  router.Get("/healthz",
             [](const HttpRequest&) { return HttpResponse::Json(200, R"({"status":"ok"})"); });
  store::Store& store = deps.store;
  router.Get(
      "/readyz",
      [&store](const HttpRequest&) {
        Status s = store.CheckWritable();
        if (s.ok()) return HttpResponse::Json(200, R"({"status":"ready"})");
        return HttpResponse::Error(503, "store not writable: " + s.message());
      },
      Route::Runs::kBlocking);
  MetricsRegistry& metrics = deps.metrics;
  router.Get(
      "/metrics",
      [&metrics](const HttpRequest&) {
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics.RenderPrometheus();
        return r;
      },
      Route::Runs::kBlocking);
}

}  // namespace relayq::server
