#include "server/admin_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "server/audit_json.h"
#include "server/dashboard.h"
#include "server/metrics_audit.h"
#include "server/reader_pool.h"
#include "server/version.h"

namespace relayq::server {

namespace {

HttpResponse StoreError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
      return HttpResponse::Error(400, s.message());
    case Status::Code::kNotFound:
      return HttpResponse::Error(404, s.message());
    case Status::Code::kUnavailable:
      return HttpResponse::Error(503, "store busy: " + s.message());
    default:
      return HttpResponse::Error(500, "store: " + s.message());
  }
}

// A JSON body that cannot throw: text from the store (names GitHub sent) may
// hold invalid UTF-8, which is replaced.
HttpResponse JsonOk(const nlohmann::json& body) { return HttpResponse::Json(200, DumpJson(body)); }

// The whole-number id of a /{id} route; nullopt when it is not one.
std::optional<int64_t> PathId(const HttpRequest& req) {
  const std::string& text = req.path_params.at(0);
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || text.size() > 18 || id < 0) {
    return std::nullopt;
  }
  return id;
}

// Answers one item read by `read` (200), or the store's error.
HttpResponse ReadOne(ReaderPool& pool,
                     const std::function<Result<nlohmann::json>(store::StoreReader&)>& read) {
  nlohmann::json body;
  Status s = pool.With([&](store::StoreReader& r) {
    auto j = read(r);
    if (!j.ok()) return j.status();
    body = std::move(*j);
    return Status::Ok();
  });
  if (!s.ok()) return StoreError(s);
  return JsonOk(body);
}

const std::vector<std::string> kListParams = {"repo",  "label", "status", "since",
                                              "until", "limit", "cursor"};

// Builds a ListQuery from the query string; InvalidArgument names the
// parameter and what is wrong with it.
Result<store::ListQuery> ParseListQuery(store::Kind kind, const HttpRequest& req, WallTime now) {
  store::ListQuery q;
  q.kind = kind;
  for (const auto& [key, value] : req.query) {
    if (std::find(kListParams.begin(), kListParams.end(), key) == kListParams.end()) {
      std::string hint = ClosestMatch(key, kListParams);
      return Status::InvalidArgument(
          "unknown query parameter '" + key.substr(0, 64) + "'" +
          (hint.empty() ? " (use repo, label, status, since, until, limit, cursor)"
                        : " (did you mean '" + hint + "'?)"));
    }
    if (req.ParamCount(key) > 1) {
      return Status::InvalidArgument("query parameter '" + key + "' given more than once");
    }
    if (value.empty()) return Status::InvalidArgument("query parameter '" + key + "' is empty");
  }
  auto param = [&](const char* k) { return req.Param(k); };
  q.repo = param("repo");
  q.label = param("label");
  q.status = param("status");
  if (q.label && kind != store::Kind::kJobs) {
    return Status::InvalidArgument("label applies to jobs only");
  }
  for (auto [name, out] : {std::pair{"since", &q.since_ms}, std::pair{"until", &q.until_ms}}) {
    if (auto v = param(name)) {
      auto t = ParseTimeFilter(*v, now);
      if (!t.ok()) return Status::InvalidArgument(std::string(name) + ": " + t.status().message());
      *out = *t;
    }
  }
  if (auto v = param("limit")) {
    int n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size() || n < 1 || n > store::kMaxPageSize) {
      return Status::InvalidArgument("limit must be a whole number from 1 to " +
                                     std::to_string(store::kMaxPageSize));
    }
    q.limit = n;
  }
  if (auto v = param("cursor")) q.cursor = *v;
  return q;
}

// GET /api/v1/waits?since=&until=&label=&by=: since defaults to 30 days
// back, until to now, by to day.
Result<store::WaitsQuery> ParseWaitsQuery(const HttpRequest& req, WallTime now) {
  static const std::vector<std::string> kParams = {"since", "until", "label", "by"};
  for (const auto& [key, value] : req.query) {
    if (std::find(kParams.begin(), kParams.end(), key) == kParams.end()) {
      return Status::InvalidArgument("unknown query parameter '" + key.substr(0, 64) +
                                     "' (use since, until, label, by)");
    }
    if (req.ParamCount(key) > 1 || value.empty()) {
      return Status::InvalidArgument("query parameter '" + key + "' must be given once, not empty");
    }
  }
  store::WaitsQuery q;
  q.since_ms = ToUnixMillis(now) - 30 * 24 * 3600 * 1000LL;
  q.until_ms = ToUnixMillis(now) + 1;
  for (auto [name, out] : {std::pair{"since", &q.since_ms}, std::pair{"until", &q.until_ms}}) {
    if (auto v = req.Param(name)) {
      auto t = ParseTimeFilter(*v, now);
      if (!t.ok()) return Status::InvalidArgument(std::string(name) + ": " + t.status().message());
      *out = *t;
    }
  }
  q.label = req.Param("label");
  if (auto by = req.Param("by")) {
    RELAYQ_ASSIGN_OR_RETURN(q.by, store::ParseWaitsBy(*by));
  }
  return q;
}

nlohmann::json Summary(store::StoreReader& r, int64_t now, Status& status) {
  nlohmann::json j;
  j["now"] = FormatRfc3339(now);
  j["version"] = std::string(kVersion);
  auto queued = r.QueuedByLabel();
  auto runners = r.RunnersSince(now - 24 * 3600 * 1000LL, 50);
  auto waits = r.WaitByLabel(now - 24 * 3600 * 1000LL, now + 1, std::nullopt);
  auto pending = r.Pending();
  for (const Status* s :
       {&queued.status(), &runners.status(), &waits.status(), &pending.status()}) {
    if (!s->ok()) {
      status = *s;
      return j;
    }
  }
  j["queued_by_label"] = nlohmann::json::array();
  for (const auto& q : *queued) {
    nlohmann::json l = {{"label", q.label}, {"queued", q.queued}};
    if (q.oldest_queued) {
      l["oldest_queued_at"] = FormatRfc3339(*q.oldest_queued);
      l["oldest_wait_seconds"] = std::max<int64_t>(0, (now - *q.oldest_queued) / 1000);
    } else {
      l["oldest_queued_at"] = nullptr;
      l["oldest_wait_seconds"] = nullptr;
    }
    j["queued_by_label"].push_back(l);
  }
  j["runners"] = nlohmann::json::array();
  for (const auto& rs : *runners) {
    j["runners"].push_back({{"runner_name", rs.runner_name},
                            {"last_seen", FormatRfc3339(rs.last_seen)},
                            {"jobs", rs.jobs},
                            {"busy", rs.busy},
                            {"last_repository", rs.last_repository},
                            {"last_workflow", rs.last_workflow},
                            {"last_job", rs.last_job},
                            {"last_status", rs.last_status}});
  }
  j["wait_by_label_24h"] = nlohmann::json::array();
  for (const auto& w : *waits) {
    j["wait_by_label_24h"].push_back({{"label", w.label},
                                      {"jobs", w.jobs},
                                      {"p50_seconds", w.p50_seconds},
                                      {"p95_seconds", w.p95_seconds},
                                      {"max_seconds", w.max_seconds}});
  }
  j["actions"] = {{"scheduled", pending->scheduled}, {"pending", pending->pending}};
  return j;
}

class Services final : public AuditServices {
 public:
  Services(MetricsRegistry& metrics, std::shared_ptr<ReaderPool> pool, Clock& clock)
      : feed_(metrics, std::move(pool), clock) {}
  void JobsChanged() override { feed_.JobsChanged(); }

 private:
  QueueWaitFeed feed_;
};

}  // namespace

std::unique_ptr<AuditServices> AddAuditApi(Router& router, AuditApiDeps deps) {
  auto pool = std::make_shared<ReaderPool>(deps.db_path);
  Clock& clock = deps.clock;
  constexpr auto kBlocking = Route::Runs::kBlocking;  // every store read may wait on a lock

  for (store::Kind kind : {store::Kind::kJobs, store::Kind::kRuns, store::Kind::kDeliveries,
                           store::Kind::kActions, store::Kind::kRequests}) {
    std::string path = "/api/v1/" + std::string(store::KindName(kind));
    router.Get(
        path,
        [pool, kind, &clock](const HttpRequest& req) {
          auto q = ParseListQuery(kind, req, clock.Now());
          if (!q.ok()) return HttpResponse::Error(400, q.status().message());
          nlohmann::json body;
          Status s = pool->With([&](store::StoreReader& r) {
            auto page = r.List(*q);
            if (!page.ok()) return page.status();
            body["items"] = nlohmann::json::array();
            for (const auto& item : page->items) body["items"].push_back(RecordJson(item));
            body["next"] =
                page->next.empty() ? nlohmann::json(nullptr) : nlohmann::json(page->next);
            return Status::Ok();
          });
          if (!s.ok()) return StoreError(s);
          return JsonOk(body);
        },
        kBlocking);
  }

  router.Get(
      "/api/v1/jobs/{id}",
      [pool](const HttpRequest& req) {
        auto id = PathId(req);
        if (!id) return HttpResponse::Error(404, "no such job: a job id is a whole number");
        return ReadOne(*pool, [&](store::StoreReader& r) -> Result<nlohmann::json> {
          auto h = r.Job(*id);
          if (!h.ok()) return h.status();
          return JobHistoryJson(*h);
        });
      },
      kBlocking);

  router.Get(
      "/api/v1/actions/{id}",
      [pool](const HttpRequest& req) {
        auto id = PathId(req);
        if (!id) {
          return HttpResponse::Error(
              400, "action id '" + req.path_params.at(0).substr(0, 32) + "' is not a whole number");
        }
        return ReadOne(*pool, [&](store::StoreReader& r) -> Result<nlohmann::json> {
          auto d = r.Action(*id);
          if (!d.ok()) return d.status();
          return ActionDetailJson(*d);
        });
      },
      kBlocking);

  router.Get(
      "/api/v1/requests/{id}",
      [pool](const HttpRequest& req) {
        auto id = PathId(req);
        if (!id) {
          return HttpResponse::Error(400, "request id '" + req.path_params.at(0).substr(0, 32) +
                                              "' is not a whole number");
        }
        return ReadOne(*pool, [&](store::StoreReader& r) -> Result<nlohmann::json> {
          auto story = r.Request(*id);
          if (!story.ok()) return story.status();
          return RequestStoryJson(*story);
        });
      },
      kBlocking);

  router.Get(
      "/api/v1/summary",
      [pool, &clock](const HttpRequest&) {
        nlohmann::json body;
        Status s = pool->With([&](store::StoreReader& r) {
          Status inner;
          body = Summary(r, ToUnixMillis(clock.Now()), inner);
          return inner;
        });
        if (!s.ok()) return StoreError(s);
        return JsonOk(body);
      },
      kBlocking);

  router.Get(
      "/api/v1/waits",
      [pool, &clock](const HttpRequest& req) {
        auto q = ParseWaitsQuery(req, clock.Now());
        if (!q.ok()) return HttpResponse::Error(400, q.status().message());
        return ReadOne(*pool, [&](store::StoreReader& r) -> Result<nlohmann::json> {
          auto rows = r.Waits(*q);
          if (!rows.ok()) return rows.status();
          nlohmann::json body = {{"items", nlohmann::json::array()}};
          for (const auto& row : *rows) body["items"].push_back(RecordJson(row));
          return body;
        });
      },
      kBlocking);

  router.Get("/", [](const HttpRequest&) {
    HttpResponse res;
    // The page may have been opened with ?token=: keep it out of caches and
    // of any Referer header.
    res.headers = {{"Cache-Control", "no-store"},
                   {"Referrer-Policy", "no-referrer"},
                   {"X-Content-Type-Options", "nosniff"},
                   {"Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                    "frame-ancestors 'none'"}};
    res.content_type = "text/html; charset=utf-8";
    res.body = std::string(DashboardHtml());
    return res;
  });

  RegisterStoreMetrics(deps.metrics, pool, clock, kVersion);
  return std::make_unique<Services>(deps.metrics, pool, clock);
}

}  // namespace relayq::server
