#include "server/audit_json.h"

#include "common/redact.h"
#include "common/time_format.h"

namespace relayq::server {

using store::Field;
using store::Record;

namespace {

// URLs in every string shown as scheme://host/path, as in RecordJson (a
// workflow input may be a signed link).
void RedactStrings(nlohmann::json& j) {
  if (j.is_string()) {
    j = RedactUrlsIn(j.get<std::string>());
  } else if (j.is_structured()) {
    for (auto& v : j) RedactStrings(v);
  }
}

nlohmann::json StoredJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return nlohmann::json(RedactUrlsIn(text));
  RedactStrings(j);
  return j;
}

nlohmann::json RecordsJson(const std::vector<Record>& records) {
  nlohmann::json a = nlohmann::json::array();
  for (const Record& r : records) a.push_back(RecordJson(r));
  return a;
}

}  // namespace

nlohmann::json RecordJson(const Record& record) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : record.fields) {
    switch (f.type) {
      case Field::Type::kNull:
        j[f.name] = nullptr;
        break;
      case Field::Type::kInt:
      case Field::Type::kSeconds:
        j[f.name] = f.i;
        break;
      // URLs as scheme://host/path, as everywhere relayq prints them;
      // control characters are escaped by the JSON encoding itself.
      case Field::Type::kText:
        j[f.name] = RedactUrlsIn(f.s);
        break;
      case Field::Type::kTime:
        j[f.name] = FormatRfc3339(f.i);
        break;
      case Field::Type::kList:
        j[f.name] = f.list;
        break;
      case Field::Type::kBool:
        j[f.name] = f.i != 0;
        break;
      case Field::Type::kJson:
        j[f.name] = StoredJson(f.s);
        break;
    }
  }
  return j;
}

nlohmann::json JobHistoryJson(const store::JobHistory& h) {
  nlohmann::json j = RecordJson(h.job);
  j["events"] = RecordsJson(h.events);
  j["deliveries"] = RecordsJson(h.deliveries);
  j["actions"] = RecordsJson(h.actions);
  j["routing"] = RoutingDecisionJson(RoutingDecisionOf(h));
  return j;
}

namespace {

std::string TextOf(const Record& r, const char* name) {
  const Field* f = r.Get(name);
  return f != nullptr && f->type == Field::Type::kText ? f->s : std::string();
}

}  // namespace

RoutingDecision RoutingDecisionOf(const store::JobHistory& h) {
  // The run's fallback action (one per run attempt; the latest when a
  // redelivery made more), else none was recorded.
  const Record* fallback = nullptr;
  for (const Record& a : h.actions) {
    if (TextOf(a, "kind") == "fallback") fallback = &a;
  }
  RoutingDecision d;
  if (fallback == nullptr) {
    d.decision = "no route matched";
    d.why =
        "no fallback action is recorded for this job or its run: no route of the policy "
        "loaded when it was queued governs it";
    return d;
  }
  const Field* id = fallback->Get("id");
  if (id != nullptr && id->type == Field::Type::kInt) d.action_id = id->i;
  const std::string status = TextOf(*fallback, "status");
  const Field* tries = fallback->Get("attempts");
  const bool tried = tries != nullptr && tries->type == Field::Type::kInt && tries->i > 0;
  if (status == "aborted" && TextOf(*fallback, "last_error").starts_with("cancelled by ")) {
    d.decision = "fallback cancelled";  // by an operator (relayq actions cancel)
  } else if ((status == "aborted" || status == "refused") && !tried) {
    d.decision = "refused";  // recorded final by the router, never tried
  } else if (status == "scheduled" || status == "pending" || status == "running") {
    d.decision = "fallback planned (" + status + ")";
  } else if (status == "done") {
    d.decision = "fallback done";
  } else {
    d.decision = "fallback " + status;
  }
  d.why = TextOf(*fallback, "reason");
  for (const char* extra : {"decision", "last_error"}) {
    const std::string v = TextOf(*fallback, extra);
    if (!v.empty()) d.why += (d.why.empty() ? "" : "; ") + v;
  }
  return d;
}

nlohmann::json RoutingDecisionJson(const RoutingDecision& d) {
  nlohmann::json j = {{"decision", d.decision}, {"why", RedactUrlsIn(d.why)}};
  j["action_id"] = d.action_id ? nlohmann::json(*d.action_id) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json ActionDetailJson(const store::ActionDetail& d) {
  nlohmann::json j = RecordJson(d.action);
  j["payload"] = StoredJson(d.payload);
  j["progress"] = d.result ? StoredJson(*d.result) : nlohmann::json(nullptr);
  j["history"] = nlohmann::json::array();
  for (const store::Record& e : d.history) j["history"].push_back(RecordJson(e));
  return j;
}

nlohmann::json StoryStepJson(const store::StoryStep& step) {
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json j;
  j["at"] = step.at ? nlohmann::json(FormatRfc3339(*step.at)) : nlohmann::json(nullptr);
  j["request_id"] = step.request_id;
  j["depth"] = step.depth;
  j["step"] = step.step;
  j["detail"] = RedactUrlsIn(step.detail);
  j["run_id"] = opt(step.run_id);
  j["run_attempt"] = opt(step.run_attempt);
  j["run_url"] =
      step.run_url ? nlohmann::json(RedactUrlsIn(*step.run_url)) : nlohmann::json(nullptr);
  j["job_id"] = opt(step.job_id);
  j["action_id"] = opt(step.action_id);
  j["new_request_id"] = opt(step.new_request_id);
  j["conclusion"] = opt(step.conclusion);
  return j;
}

nlohmann::json RequestStoryJson(const store::RequestStory& story) {
  nlohmann::json j = RecordJson(story.request);
  j["outcome"] = std::string(store::RequestOutcomeName(story.outcome));
  j["finished"] = story.outcome != store::RequestOutcome::kInProgress;
  j["outcome_why"] = RedactUrlsIn(story.outcome_why);
  j["steps"] = nlohmann::json::array();
  for (const auto& s : story.steps) j["steps"].push_back(StoryStepJson(s));
  j["requests"] = RecordsJson(story.requests);
  j["runs"] = RecordsJson(story.runs);
  j["actions"] = RecordsJson(story.actions);
  return j;
}

}  // namespace relayq::server
