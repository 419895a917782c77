#include "server/actions_api.h"

#include <charconv>

#include "common/json_text.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/time_format.h"

namespace relayq::server {

namespace {

// The longest reason kept (a note, not a document).
constexpr size_t kMaxReasonBytes = 500;

// The reason of a request body: "" for an empty body; InvalidArgument for a
// body that is not a JSON object whose only key is a string "reason".
Result<std::string> ReasonOf(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return std::string();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the body must be a JSON object such as {\"reason\": \"...\"}");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "reason") {
      return Status::InvalidArgument("unknown field '" + it.key().substr(0, 64) +
                                     "' (the body takes only \"reason\")");
    }
  }
  if (!j.contains("reason")) return std::string();
  if (!j["reason"].is_string()) return Status::InvalidArgument("\"reason\" must be a string");
  std::string reason = j["reason"].get<std::string>();
  if (reason.size() > kMaxReasonBytes) {
    return Status::InvalidArgument("\"reason\" is longer than " + std::to_string(kMaxReasonBytes) +
                                   " bytes");
  }
  return reason;
}

HttpResponse Control(const ActionsApiDeps& deps, OperatorVerb verb, const HttpRequest& req) {
  const std::string& text = req.path_params.at(0);
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return HttpResponse::Error(
        400, "action id '" + text.substr(0, 32) + "' is not a whole number above 0");
  }
  auto reason = ReasonOf(req.body);
  if (!reason.ok()) return HttpResponse::Error(400, reason.status().message());
  store::OperatorRequest request;
  request.who = "admin-api from " + (req.remote_address.empty() ? "?" : req.remote_address);
  request.reason = *reason;
  request.now = ToUnixMillis(deps.clock.Now());
  auto outcome = ApplyOperatorVerb(deps.actions, verb, id, request);
  if (!outcome.ok()) {
    const Status& s = outcome.status();
    if (s.code() == Status::Code::kNotFound) return HttpResponse::Error(404, s.message());
    if (s.code() == Status::Code::kUnavailable) {
      return HttpResponse::Error(503, "store busy: " + s.message());
    }
    return HttpResponse::Error(500, "store: " + s.message());
  }
  if (!outcome->changed) {
    nlohmann::json body = {{"error", RefusalMessage(verb, *outcome)},
                           {"status", std::string(ActionStatusName(outcome->action.status))}};
    return HttpResponse::Json(409, DumpJson(body));
  }
  if (verb == OperatorVerb::kRetry && deps.wake_executor) deps.wake_executor();
  return HttpResponse::Json(200, DumpJson(OperatorChangeJson(verb, *outcome, request)));
}

}  // namespace

std::string_view OperatorVerbName(OperatorVerb verb) {
  return verb == OperatorVerb::kRetry ? "retry" : "cancel";
}

Result<store::OperatorOutcome> ApplyOperatorVerb(store::ActionStore& actions, OperatorVerb verb,
                                                 int64_t id,
                                                 const store::OperatorRequest& request) {
  auto outcome = verb == OperatorVerb::kRetry ? actions.RetryAction(id, request)
                                              : actions.CancelAction(id, request);
  if (!outcome.ok() || !outcome->changed) return outcome;
  const store::ActionRecord& a = outcome->action;
  LogFields f = {{"action", std::to_string(id)},
                 {"kind", std::string(store::ActionKindName(a.kind))},
                 {"key", a.key},
                 {"what", std::string(OperatorVerbName(verb))},
                 {"who", request.who},
                 {"status", std::string(store::ActionStatusName(a.status))},
                 {"previous_status", std::string(store::ActionStatusName(outcome->previous))}};
  if (!request.reason.empty()) f.emplace_back("reason", RedactUrlsIn(request.reason));
  Log(LogLevel::kInfo, "routing action changed by an operator", f);
  return outcome;
}

nlohmann::json OperatorChangeJson(OperatorVerb verb, const store::OperatorOutcome& outcome,
                                  const store::OperatorRequest& request) {
  nlohmann::json j = {{"id", outcome.action.id},
                      {"what", std::string(OperatorVerbName(verb))},
                      {"status", std::string(store::ActionStatusName(outcome.action.status))},
                      {"who", request.who},
                      {"reason", RedactUrlsIn(request.reason)},
                      {"at", FormatRfc3339(request.now)}};
  j["previous_status"] = std::string(store::ActionStatusName(outcome.previous));
  return j;
}

std::string RefusalMessage(OperatorVerb verb, const store::OperatorOutcome& outcome) {
  return "cannot " + std::string(OperatorVerbName(verb)) + " action " +
         std::to_string(outcome.action.id) + ": it is " +
         std::string(store::ActionStatusName(outcome.action.status)) + " (" + outcome.why + ")";
}

void AddActionsApi(Router& router, ActionsApiDeps deps) {
  for (OperatorVerb verb : {OperatorVerb::kRetry, OperatorVerb::kCancel}) {
    router.Post(
        "/api/v1/actions/{id}/" + std::string(OperatorVerbName(verb)),
        [deps, verb](const HttpRequest& req) { return Control(deps, verb, req); },
        Route::Runs::kBlocking);
  }
}

}  // namespace relayq::server
