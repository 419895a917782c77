#include "policy/policy_loader.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <optional>
#include <utility>

#include "common/yaml_reader.h"
#include "policy/policy_reader.h"

namespace relayq::policy {

namespace {

// A policy is a few kilobytes; anything much larger is a wrong path.
constexpr std::streamsize kMaxPolicyBytes = 1 << 20;

const std::vector<std::string> kTopKeys = {"routes", "chains"};

// A tab in indentation is the most common reason hand-written YAML does not
// parse, and yaml-cpp's message does not say so.
std::string TabHint(std::string_view text) {
  int line = 1;
  bool at_line_start = true;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      at_line_start = true;
    } else if (at_line_start && c == '\t') {
      return "line " + std::to_string(line) + " is indented with a tab; YAML needs spaces";
    } else if (c != ' ') {
      at_line_start = false;
    }
  }
  return "";
}

// Turns YAML into a Policy, collecting every diagnostic in `reader`; null
// when there is an error.
std::shared_ptr<Policy> ReadPolicy(std::string_view text, PolicyReader& reader) {
  auto policy = std::make_shared<Policy>();
  policy->source = reader.filename();
  yaml::ParseResult parsed = yaml::Parse(text);
  if (!parsed.ok()) {
    reader.AddAt(PolicyDiagnostic::Severity::kError, parsed.error->mark, "",
                 "invalid YAML: " + parsed.error->message, TabHint(text));
    return nullptr;
  }
  const yaml::Node& root = parsed.root;
  try {
    if (root.IsNull()) return policy;  // an empty file: no routes, no chains
    if (!root.IsMap()) {
      reader.Error(root, "",
                   "expected a map with 'routes' and/or 'chains', got " + root.Describe());
      return nullptr;
    }
    auto entries = reader.Entries(root, "", &kTopKeys);
    if (const Entry* e = Find(entries, "routes")) ParseRoutes(e->value, reader, policy.get());
    if (const Entry* e = Find(entries, "chains")) ParseChains(e->value, reader, policy.get());
  } catch (const std::exception& e) {
    // Every read above is checked, so this is a bug; it is still reported as
    // a diagnostic rather than escaping.
    reader.AddAt(PolicyDiagnostic::Severity::kError, yaml::Mark{}, "",
                 std::string("internal error while reading the policy: ") + e.what(), "");
  }
  if (reader.HasErrors()) return nullptr;
  return policy;
}

}  // namespace

size_t PolicyCheck::error_count() const {
  return static_cast<size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                           [](const auto& d) { return d.is_error(); }));
}

size_t PolicyCheck::warning_count() const { return diagnostics.size() - error_count(); }

PolicyCheck ParsePolicy(std::string_view text, std::string_view filename) {
  PolicyReader reader(filename);
  PolicyCheck out;
  out.policy = ReadPolicy(text, reader);
  out.diagnostics = reader.TakeDiagnostics();
  return out;
}

namespace {

// Reads the whole file; the error is a ready-made diagnostic.
std::optional<std::string> ReadPolicyFile(const std::string& path, PolicyDiagnostic* error) {
  error->file = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error->message = "cannot open the policy file";
    error->hint = "check the path given to --policy";
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<std::streamsize>(text.size()) > kMaxPolicyBytes) {
      error->message = "the policy file is larger than 1 MiB";
      error->hint = "is this the right file?";
      return std::nullopt;
    }
  }
  if (in.bad()) {
    error->message = "cannot read the policy file";
    return std::nullopt;
  }
  return text;
}

}  // namespace

PolicyCheck CheckPolicy(const std::string& path) {
  PolicyDiagnostic error;
  auto text = ReadPolicyFile(path, &error);
  if (!text.has_value()) {
    PolicyCheck out;
    out.diagnostics.push_back(std::move(error));
    return out;
  }
  return ParsePolicy(*text, path);
}

Result<std::shared_ptr<const Policy>> LoadPolicy(const std::string& path) {
  PolicyDiagnostic read_error;
  auto text = ReadPolicyFile(path, &read_error);
  if (!text.has_value()) return Status::IoError(FormatDiagnostic(read_error));
  PolicyCheck check = ParsePolicy(*text, path);
  if (check.ok()) return check.policy;
  size_t errors = check.error_count();
  for (const PolicyDiagnostic& d : check.diagnostics) {
    if (!d.is_error()) continue;
    std::string msg = FormatDiagnostic(d);
    if (errors > 1) msg += " (and " + std::to_string(errors - 1) + " more errors)";
    return Status::InvalidArgument(msg);
  }
  return Status::Internal("policy refused without an error");
}

std::string FormatDiagnostic(const PolicyDiagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) {
    out += ":" + std::to_string(d.line);
    if (d.column > 0) out += ":" + std::to_string(d.column);
  }
  out += ": ";
  if (!d.is_error()) out += "warning: ";
  if (!d.key.empty()) out += d.key + ": ";
  out += d.message;
  if (!d.hint.empty()) out += " (" + d.hint + ")";
  return out;
}

std::string FormatDiagnostics(const std::vector<PolicyDiagnostic>& diagnostics) {
  std::string out;
  for (const PolicyDiagnostic& d : diagnostics) out += FormatDiagnostic(d) + "\n";
  return out;
}

}  // namespace relayq::policy
