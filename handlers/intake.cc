#include "handlers/intake.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <future>
#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/strings.h"
#include "handlers/decode.h"
#include "handlers/signature.h"

namespace relayq::handlers {
namespace {

std::string JsonBody(std::initializer_list<std::pair<const char*, std::string_view>> fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fields) j[k] = std::string(v);
  // Replacement of invalid UTF-8 keeps dump() from throwing on odd header bytes.
  return DumpJson(j);
}

// GitHub's delivery ids are GUIDs; anything printable and short is accepted
// (GitHub Enterprise and test tools vary), but not control characters that
// would corrupt logs.
bool PlausibleDeliveryId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isgraph(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

Intake::Intake(IntakeOptions options, store::Store& store, Clock& clock, MetricsRegistry& metrics)
    : lists_(MakeLists(std::move(options))),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      signature_failures_(metrics.GetCounter("relayq_webhook_signature_failures_total",
                                             "Deliveries refused for a missing or wrong "
                                             "signature")) {}

std::shared_ptr<const Intake::Lists> Intake::MakeLists(IntakeOptions options) {
  auto lists = std::make_shared<Lists>();
  lists->secrets = std::move(options.secrets);
  for (const auto& a : options.allow) lists->allow_lower.push_back(ToLower(a));
  return lists;
}

void Intake::SetOptions(IntakeOptions options) { lists_.store(MakeLists(std::move(options))); }

bool Intake::Allowed(const Lists& lists, const std::string& repository, const std::string& owner) {
  if (lists.allow_lower.empty()) return true;
  std::string repo = ToLower(repository), own = ToLower(owner);
  for (const auto& a : lists.allow_lower) {
    if (a.find('/') != std::string::npos ? a == repo : (!own.empty() && a == own)) return true;
  }
  return false;
}

WebhookAnswer Intake::Reject(int status, std::string_view outcome, std::string_view why) {
  WebhookAnswer a;
  a.status = status;
  a.outcome = std::string(outcome);
  a.body = ErrorJson(why);
  return a;
}

WebhookAnswer Intake::Handle(WebhookRequest request) {
  std::promise<WebhookAnswer> promise;
  std::future<WebhookAnswer> answer = promise.get_future();
  HandleAsync(std::move(request), [&promise](WebhookAnswer a) { promise.set_value(std::move(a)); });
  return answer.get();
}

void Intake::HandleAsync(WebhookRequest req, std::function<void(WebhookAnswer)> done) {
  BodyType type = ClassifyContentType(req.content_type);
  if (type == BodyType::kUnsupported) {
    return done(
        Reject(415, "unsupported_media_type",
               "content type must be application/json or application/x-www-form-urlencoded"));
  }
  if (req.event.empty()) return done(Reject(400, "bad_request", "missing X-GitHub-Event header"));
  if (!PlausibleDeliveryId(req.delivery_id)) {
    return done(Reject(400, "bad_request", "missing or malformed X-GitHub-Delivery header"));
  }
  const std::shared_ptr<const Lists> lists = lists_.load();
  if (Status s = VerifySignature(req.body, req.signature, lists->secrets); !s.ok()) {
    signature_failures_->Increment();
    return done(Reject(401, "bad_signature", s.message()));
  }
  std::optional<int64_t> hook_id;
  if (!req.hook_id.empty()) {
    int64_t id = 0;
    auto [end, ec] =
        std::from_chars(req.hook_id.data(), req.hook_id.data() + req.hook_id.size(), id);
    if (ec != std::errc() || end != req.hook_id.data() + req.hook_id.size() || id < 0) {
      return done(Reject(400, "bad_request", "X-GitHub-Hook-ID is not a hook id (a whole number)"));
    }
    hook_id = id;
  }
  // A JSON body is decoded in place; only a form body needs its payload
  // field extracted (and so copied) first.
  Result<std::string> form_json = std::string();
  if (type == BodyType::kForm) {
    form_json = ExtractJson(type, req.body);
    if (!form_json.ok()) return done(Reject(400, "bad_request", form_json.status().message()));
  }
  Result<Decoded> decoded =
      DecodePayload(req.event, type == BodyType::kForm ? std::string_view(*form_json)
                                                       : std::string_view(req.body));
  if (!decoded.ok()) return done(Reject(400, "bad_request", decoded.status().message()));

  store::Delivery d;
  d.id = req.delivery_id;
  d.event = req.event;
  d.action = decoded->action;
  if (hook_id) d.hook_id = *hook_id;
  d.repository = decoded->repository;
  d.received_at = ToUnixMillis(clock_.Now());
  d.content_type = req.content_type;
  d.body = std::move(req.body);

  int success_status = 202;
  if (!Allowed(*lists, decoded->repository, decoded->owner)) {
    d.outcome = store::Outcome::kRefused;
    d.reason = "repository not in the allow-list";
    success_status = 403;
  } else if (req.event == "ping") {
    d.outcome = store::Outcome::kPing;
    success_status = 200;
  } else if (!decoded->problem.empty()) {
    d.outcome = store::Outcome::kUndecodable;
    d.reason = decoded->problem;
  } else if (decoded->job || decoded->run) {
    d.outcome = store::Outcome::kAccepted;
    d.job = std::move(decoded->job);
    d.run = std::move(decoded->run);
  } else {
    d.outcome = store::Outcome::kIgnored;
    d.reason = "event not interpreted by relayq";
  }

  // What the answer needs once the commit is done.
  WebhookAnswer a;
  a.action = decoded->action;
  a.repository = decoded->repository;
  a.status = success_status;
  a.outcome = std::string(store::OutcomeName(d.outcome));
  store_.IngestAsync(std::move(d), [this, a = std::move(a), id = std::move(req.delivery_id),
                                    done = std::move(done)](Result<store::IngestResult> r) mutable {
    done(Committed(std::move(a), id, r));
  });
}

WebhookAnswer Intake::Committed(WebhookAnswer a, const std::string& delivery_id,
                                const Result<store::IngestResult>& r) {
  if (!r.ok()) {
    bool retry = r.status().code() == Status::Code::kUnavailable;
    WebhookAnswer e = Reject(retry ? 503 : 500, "store_error",
                             retry ? "the store is unavailable; retry the delivery"
                                   : "the delivery could not be recorded");
    e.action = a.action;
    e.repository = a.repository;
    return e;
  }
  if (r->duplicate) {
    a.status = 200;
    a.outcome = "duplicate";
    a.body = JsonBody({{"status", "duplicate"}, {"delivery", delivery_id}});
    return a;
  }
  if (a.status == 403) {
    a.body = JsonBody({{"error", "repository not allowed"}, {"delivery", delivery_id}});
  } else {
    a.body = JsonBody({{"status", a.outcome}, {"delivery", delivery_id}});
  }
  return a;
}

}  // namespace relayq::handlers
