// The reference handlers/json_scan is checked against: the decoder relayq had
// before it, nlohmann's strict SAX parser with a handler that keeps the
// values on a JsonSchema's paths. Used by tests/handlers/json_scan_test.cc,
// tests/fuzz/decode_fuzz.cc and bench/ingest_micro.cc. Header only; needs
// nlohmann_json and relayq_handlers.
#pragma once

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "handlers/decode.h"
#include "handlers/decode_internal.h"
#include "handlers/json_scan.h"

namespace relayq::testing {

// nlohmann SAX handler building the tree ScanJson documents: a kept object
// or array whose schema has another kind (or is a leaf) is kept empty, a
// scalar is kept as-is wherever it appears on a kept path, and duplicate keys
// overwrite, as in the DOM.
class NlohmannPrunedParser {
 public:
  using json = nlohmann::json;
  using JsonSchema = handlers::JsonSchema;

  NlohmannPrunedParser(json& root, const JsonSchema& schema) : root_(root), schema_(schema) {}

  bool null() { return Scalar(json(nullptr)); }
  bool boolean(bool v) { return Scalar(json(v)); }
  bool number_integer(json::number_integer_t v) { return Scalar(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Scalar(json(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return Scalar(json(v)); }
  bool string(json::string_t& v) {
    if (json* slot = Slot().first) *slot = std::move(v);
    return true;
  }
  bool binary(json::binary_t&) { return Scalar(json()); }  // not produced by JSON text
  bool start_object(std::size_t) { return Open(json::value_t::object, JsonSchema::Kind::kObject); }
  bool start_array(std::size_t) { return Open(json::value_t::array, JsonSchema::Kind::kArray); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(json::string_t& k) {
    next_ = nullptr;
    Frame& f = stack_.back();
    if (f.value == nullptr) return true;
    for (const auto& [name, node] : f.node->keys) {
      if (name == k) {
        next_ = &(*f.value)[k];
        next_node_ = node;
        break;
      }
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  struct Frame {
    json* value;             // the kept container, or nullptr while skipping
    const JsonSchema* node;  // its schema (children to keep)
  };

  // Where the value now starting goes (nullptr: not kept) and its schema.
  std::pair<json*, const JsonSchema*> Slot() {
    if (stack_.empty()) return {&root_, &schema_};
    Frame& f = stack_.back();
    if (f.value == nullptr) return {nullptr, nullptr};
    if (f.value->is_array()) {
      f.value->push_back(json());
      return {&f.value->back(), f.node->elements};
    }
    json* slot = next_;
    next_ = nullptr;
    return {slot, next_node_};
  }
  bool Scalar(json v) {
    if (json* slot = Slot().first) *slot = std::move(v);
    return true;
  }
  bool Open(json::value_t type, JsonSchema::Kind kind) {
    auto [slot, node] = Slot();
    if (slot == nullptr) {
      stack_.push_back({nullptr, nullptr});
      return true;
    }
    *slot = json(type);
    stack_.push_back(node->kind == kind ? Frame{slot, node} : Frame{nullptr, nullptr});
    return true;
  }
  bool Close() {
    stack_.pop_back();
    next_ = nullptr;
    return true;
  }

  json& root_;
  const JsonSchema& schema_;
  std::vector<Frame> stack_;
  json* next_ = nullptr;                   // the slot of the key just read, if kept
  const JsonSchema* next_node_ = nullptr;  // its schema
};

// What ScanJson(text, schema, out) should do, by nlohmann's parser.
inline bool NlohmannPrunedParse(std::string_view text, const handlers::JsonSchema& schema,
                                nlohmann::json& out) {
  NlohmannPrunedParser handler(out, schema);
  return nlohmann::json::sax_parse(text, &handler, nlohmann::json::input_format_t::json,
                                   /*strict=*/true);
}

// handlers::DecodePayload as it was before json_scan.
inline Result<handlers::Decoded> NlohmannDecodePayload(std::string_view event,
                                                       std::string_view text) {
  nlohmann::json payload;
  if (!NlohmannPrunedParse(text, handlers::DecodeSchema(), payload)) {
    return Status::InvalidArgument("body is not valid JSON");
  }
  return handlers::DecodeParsed(event, payload);
}

// Equal values of equal types, all the way down: unlike json's operator==,
// tells number_integer 1 from number_unsigned 1, and 0.0 from -0.0.
inline bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
  using nlohmann::json;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
        if (ia.key() != ib.key() || !SameJson(*ia, *ib)) return false;
      }
      return true;
    }
    case json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!SameJson(a[i], b[i])) return false;
      }
      return true;
    }
    case json::value_t::number_float: {
      const double x = a.get<double>(), y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default:
      return a == b;
  }
}

// Every field of a decode result, one per line, for comparisons that say
// what differs.
inline std::string Describe(const Result<handlers::Decoded>& r) {
  if (!r.ok()) return "error: " + r.status().ToString() + "\n";
  const handlers::Decoded& d = *r;
  std::string s;
  auto line = [&s](const char* name, const std::string& v) {
    s += std::string(name) + "=" + v + "\n";
  };
  auto opt = [&line](const char* name, const auto& v) {
    if (!v) return line(name, "(none)");
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) {
      line(name, "'" + *v + "'");
    } else {
      line(name, std::to_string(*v));
    }
  };
  line("action", d.action);
  line("repository", d.repository);
  line("owner", d.owner);
  line("problem", d.problem);
  if (d.job) {
    const store::JobEvent& j = *d.job;
    line("job.job_id", std::to_string(j.job_id));
    line("job.run_id", std::to_string(j.run_id));
    line("job.run_attempt", std::to_string(j.run_attempt));
    line("job.repository", j.repository);
    line("job.workflow_name", j.workflow_name);
    line("job.name", j.name);
    std::string labels;
    for (const auto& l : j.labels) labels += "'" + l + "' ";
    line("job.labels", labels);
    line("job.action", j.action);
    line("job.status", j.status);
    opt("job.conclusion", j.conclusion);
    opt("job.runner_name", j.runner_name);
    opt("job.runner_group", j.runner_group);
    opt("job.created_at", j.created_at);
    opt("job.started_at", j.started_at);
    opt("job.completed_at", j.completed_at);
  }
  if (d.run) {
    const store::RunEvent& r = *d.run;
    line("run.run_id", std::to_string(r.run_id));
    line("run.attempt", std::to_string(r.attempt));
    line("run.repository", r.repository);
    line("run.workflow_path", r.workflow_path);
    line("run.workflow_name", r.workflow_name);
    opt("run.display_title", r.display_title);
    line("run.event", r.event);
    line("run.action", r.action);
    line("run.status", r.status);
    opt("run.conclusion", r.conclusion);
    opt("run.html_url", r.html_url);
    opt("run.head_branch", r.head_branch);
    opt("run.head_sha", r.head_sha);
    opt("run.created_at", r.created_at);
    opt("run.updated_at", r.updated_at);
    opt("run.run_started_at", r.run_started_at);
  }
  return s;
}

}  // namespace relayq::testing
