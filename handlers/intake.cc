#include "handlers/intake.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "handlers/decode.h"
#include "handlers/signature.h"

namespace relayq::handlers {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string JsonBody(std::initializer_list<std::pair<const char*, std::string_view>> fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fields) j[k] = std::string(v);
  // Replacement of invalid UTF-8 keeps dump() from throwing on odd header bytes.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// GitHub's delivery ids are GUIDs; anything printable and short is accepted
// (GitHub Enterprise and test tools vary), but not control characters that
// would corrupt logs.
bool PlausibleDeliveryId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isgraph(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace

Intake::Intake(IntakeOptions options, store::Store& store, Clock& clock, MetricsRegistry& metrics)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      signature_failures_(metrics.GetCounter("relayq_webhook_signature_failures_total",
                                             "Deliveries refused for a missing or wrong "
                                             "signature")) {
  for (const auto& a : options_.allow) allow_lower_.push_back(Lower(a));
}

bool Intake::Allowed(const std::string& repository, const std::string& owner) const {
  if (allow_lower_.empty()) return true;
  std::string repo = Lower(repository), own = Lower(owner);
  for (const auto& a : allow_lower_) {
    if (a.find('/') != std::string::npos ? a == repo : (!own.empty() && a == own)) return true;
  }
  return false;
}

WebhookAnswer Intake::Reject(int status, std::string_view outcome, std::string_view why) {
  WebhookAnswer a;
  a.status = status;
  a.outcome = std::string(outcome);
  a.body = JsonBody({{"error", why}});
  return a;
}

WebhookAnswer Intake::Handle(WebhookRequest req) {
  BodyType type = ClassifyContentType(req.content_type);
  if (type == BodyType::kUnsupported) {
    return Reject(415, "unsupported_media_type",
                  "content type must be application/json or application/x-www-form-urlencoded");
  }
  if (req.event.empty()) return Reject(400, "bad_request", "missing X-GitHub-Event header");
  if (!PlausibleDeliveryId(req.delivery_id)) {
    return Reject(400, "bad_request", "missing or malformed X-GitHub-Delivery header");
  }
  if (Status s = VerifySignature(req.body, req.signature, options_.secrets); !s.ok()) {
    signature_failures_->Increment();
    return Reject(401, "bad_signature", s.message());
  }
  // A JSON body is decoded in place; only a form body needs its payload
  // field extracted (and so copied) first.
  Result<std::string> form_json = std::string();
  if (type == BodyType::kForm) {
    form_json = ExtractJson(type, req.body);
    if (!form_json.ok()) return Reject(400, "bad_request", form_json.status().message());
  }
  Result<Decoded> decoded =
      DecodePayload(req.event, type == BodyType::kForm ? std::string_view(*form_json)
                                                       : std::string_view(req.body));
  if (!decoded.ok()) return Reject(400, "bad_request", decoded.status().message());

  store::Delivery d;
  d.id = req.delivery_id;
  d.event = req.event;
  d.action = decoded->action;
  if (!req.hook_id.empty() && req.hook_id.size() < 20 &&
      std::all_of(req.hook_id.begin(), req.hook_id.end(), ::isdigit)) {
    d.hook_id = std::stoll(req.hook_id);
  }
  d.repository = decoded->repository;
  d.received_at = ToUnixMillis(clock_.Now());
  d.content_type = req.content_type;
  d.body = std::move(req.body);

  int success_status = 202;
  if (!Allowed(decoded->repository, decoded->owner)) {
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
  const store::Outcome outcome = d.outcome;

  WebhookAnswer a;
  a.action = decoded->action;
  a.repository = decoded->repository;
  Result<store::IngestResult> r = store_.Ingest(std::move(d));
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
    a.body = JsonBody({{"status", "duplicate"}, {"delivery", req.delivery_id}});
    return a;
  }
  a.status = success_status;
  a.outcome = std::string(store::OutcomeName(outcome));
  if (outcome == store::Outcome::kRefused) {
    a.body = JsonBody({{"error", "repository not allowed"}, {"delivery", req.delivery_id}});
  } else {
    a.body = JsonBody({{"status", a.outcome}, {"delivery", req.delivery_id}});
  }
  return a;
}

}  // namespace relayq::handlers
