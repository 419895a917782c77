#include "handlers/decode.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/strings.h"
#include "common/time_format.h"
#include "github/json_fields.h"
#include "handlers/decode_internal.h"
#include "handlers/json_scan.h"

namespace relayq::handlers {
namespace {

using nlohmann::json;

// Accessors that never throw: a missing or mistyped field reads as absent.
using github::Field;
using github::OptInt;
using github::OptString;
using github::OptTime;

std::string String(const json& obj, const char* key) { return github::Str(obj, key); }

bool IsJsonMediaType(std::string_view type) { return type == "application/json"; }

std::string_view MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  return t;
}

void DecodeJob(const json& payload, Decoded& out) {
  const json* job = Field(payload, "workflow_job");
  if (job == nullptr || !job->is_object()) {
    out.problem = "workflow_job delivery without a workflow_job object";
    return;
  }
  auto id = OptInt(*job, "id");
  auto run_id = OptInt(*job, "run_id");
  if (!id || !run_id) {
    out.problem = "workflow_job without a numeric id and run_id";
    return;
  }
  store::JobEvent e;
  e.job_id = *id;
  e.run_id = *run_id;
  e.run_attempt = OptInt(*job, "run_attempt").value_or(1);
  e.repository = out.repository;
  e.workflow_name = String(*job, "workflow_name");
  e.name = String(*job, "name");
  if (const json* labels = Field(*job, "labels"); labels != nullptr && labels->is_array()) {
    for (const auto& l : *labels) {
      if (l.is_string()) e.labels.push_back(l.get<std::string>());
    }
  }
  e.action = out.action;
  e.status = String(*job, "status");
  if (e.status.empty()) e.status = out.action;
  e.conclusion = OptString(*job, "conclusion");
  e.runner_name = OptString(*job, "runner_name");
  e.runner_group = OptString(*job, "runner_group_name");
  e.created_at = OptTime(*job, "created_at");
  e.started_at = OptTime(*job, "started_at");
  e.completed_at = OptTime(*job, "completed_at");
  out.job = std::move(e);
}

void DecodeRun(const json& payload, Decoded& out) {
  const json* run = Field(payload, "workflow_run");
  if (run == nullptr || !run->is_object()) {
    out.problem = "workflow_run delivery without a workflow_run object";
    return;
  }
  auto id = OptInt(*run, "id");
  if (!id) {
    out.problem = "workflow_run without a numeric id";
    return;
  }
  store::RunEvent e;
  e.run_id = *id;
  e.attempt = OptInt(*run, "run_attempt").value_or(1);
  e.repository = out.repository;
  e.workflow_path = String(*run, "path");
  e.workflow_name = String(*run, "name");
  e.display_title = OptString(*run, "display_title");
  e.event = String(*run, "event");
  e.action = out.action;
  e.status = String(*run, "status");
  if (e.status.empty()) e.status = out.action;
  e.conclusion = OptString(*run, "conclusion");
  e.html_url = OptString(*run, "html_url");
  e.head_branch = OptString(*run, "head_branch");
  e.head_sha = OptString(*run, "head_sha");
  e.created_at = OptTime(*run, "created_at");
  e.updated_at = OptTime(*run, "updated_at");
  e.run_started_at = OptTime(*run, "run_started_at");
  out.run = std::move(e);
}

// --- The paths DecodePayload reads ---------------------------------------------
//
// A full DOM of an 8 KB GitHub payload is ~300 map nodes and strings, most of
// them never read. ScanJson (json_scan.h) validates the whole text as
// json::parse would but keeps only the values on these paths; every accessor
// above (Field, OptString, OptInt, is_object/is_array checks) sees in the
// pruned tree exactly what it would see in the full DOM.
const JsonSchema kLeaf{JsonSchema::Kind::kLeaf, {}, nullptr};
const JsonSchema kLabels{JsonSchema::Kind::kArray, {}, &kLeaf};
const JsonSchema kLogin{JsonSchema::Kind::kObject, {{"login", &kLeaf}}, nullptr};
const JsonSchema kRepository{
    JsonSchema::Kind::kObject, {{"full_name", &kLeaf}, {"owner", &kLogin}}, nullptr};
const JsonSchema kWorkflowJob{JsonSchema::Kind::kObject,
                              {{"id", &kLeaf},
                               {"run_id", &kLeaf},
                               {"run_attempt", &kLeaf},
                               {"workflow_name", &kLeaf},
                               {"name", &kLeaf},
                               {"labels", &kLabels},
                               {"status", &kLeaf},
                               {"conclusion", &kLeaf},
                               {"runner_name", &kLeaf},
                               {"runner_group_name", &kLeaf},
                               {"created_at", &kLeaf},
                               {"started_at", &kLeaf},
                               {"completed_at", &kLeaf}},
                              nullptr};
const JsonSchema kWorkflowRun{JsonSchema::Kind::kObject,
                              {{"id", &kLeaf},
                               {"run_attempt", &kLeaf},
                               {"path", &kLeaf},
                               {"name", &kLeaf},
                               {"display_title", &kLeaf},
                               {"event", &kLeaf},
                               {"status", &kLeaf},
                               {"conclusion", &kLeaf},
                               {"html_url", &kLeaf},
                               {"head_branch", &kLeaf},
                               {"head_sha", &kLeaf},
                               {"created_at", &kLeaf},
                               {"updated_at", &kLeaf},
                               {"run_started_at", &kLeaf}},
                              nullptr};
// Every path DecodeParsed, DecodeJob and DecodeRun read. Keep in step with them.
const JsonSchema kSchema{JsonSchema::Kind::kObject,
                         {{"action", &kLeaf},
                          {"repository", &kRepository},
                          {"organization", &kLogin},
                          {"workflow_job", &kWorkflowJob},
                          {"workflow_run", &kWorkflowRun}},
                         nullptr};

}  // namespace

BodyType ClassifyContentType(std::string_view content_type) {
  std::string type = ToLower(MediaType(content_type));
  if (IsJsonMediaType(type)) return BodyType::kJson;
  if (type == "application/x-www-form-urlencoded") return BodyType::kForm;
  return BodyType::kUnsupported;
}

std::string FormUrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::string> FormUrlDecode(std::string_view text) {
  // A form-encoded payload escapes most JSON punctuation, so escapes are a
  // large share of its bytes: decode them digit by digit, not a parse each.
  std::string out;
  out.resize(text.size());
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      const int high = i + 2 < text.size() ? HexDigitValue(text[i + 1]) : -1;
      const int low = high >= 0 ? HexDigitValue(text[i + 2]) : -1;
      if (low < 0) return Status::InvalidArgument("bad percent-escape in form body");
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    out[n++] = c;
  }
  out.resize(n);
  return out;
}

Result<std::string> ExtractJson(BodyType type, std::string_view body) {
  if (type == BodyType::kJson) return std::string(body);
  if (type != BodyType::kForm) return Status::InvalidArgument("unsupported content type");
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(start, end - start);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == "payload") {
      return FormUrlDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return Status::InvalidArgument("form body has no payload field");
}

const JsonSchema& DecodeSchema() { return kSchema; }

Result<Decoded> DecodeParsed(std::string_view event, const nlohmann::json& payload) {
  if (!payload.is_object()) return Status::InvalidArgument("body is not a JSON object");

  Decoded out;
  out.action = String(payload, "action");
  if (const json* repo = Field(payload, "repository")) {
    out.repository = String(*repo, "full_name");
    if (const json* owner = Field(*repo, "owner")) out.owner = String(*owner, "login");
    if (out.owner.empty()) out.owner = out.repository.substr(0, out.repository.find('/'));
  }
  if (out.owner.empty()) {
    if (const json* org = Field(payload, "organization")) out.owner = String(*org, "login");
  }
  if (event == "workflow_job") {
    DecodeJob(payload, out);
  } else if (event == "workflow_run") {
    DecodeRun(payload, out);
  }
  if ((event == "workflow_job" || event == "workflow_run") && out.problem.empty() &&
      out.repository.empty()) {
    out.problem = std::string(event) + " delivery without repository.full_name";
    out.job.reset();
    out.run.reset();
  }
  return out;
}

Result<Decoded> DecodePayload(std::string_view event, std::string_view text) {
  json payload;
  if (!ScanJson(text, kSchema, payload)) return Status::InvalidArgument("body is not valid JSON");
  return DecodeParsed(event, payload);
}

}  // namespace relayq::handlers
