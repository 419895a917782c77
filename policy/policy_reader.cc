#include "policy/policy_reader.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "common/strings.h"
#include "common/time_format.h"

namespace relayq::policy {

const Entry* Find(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string LabelList(const std::vector<std::string>& labels) { return "[" + Join(labels) + "]"; }

namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

}  // namespace

bool IsValidName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsNameChar);
}

bool IsValidLabel(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') return false;
  }
  return true;
}

bool IsValidRepository(std::string_view s) {
  return IsOwnerSlashName(s) &&
         std::all_of(s.begin(), s.end(), [](char c) { return c == '/' || IsNameChar(c); });
}

size_t PolicyReader::ErrorCount() const {
  return static_cast<size_t>(
      std::count_if(diags_.begin(), diags_.end(), [](const auto& d) { return d.is_error(); }));
}

std::vector<PolicyDiagnostic> PolicyReader::TakeDiagnostics() {
  std::stable_sort(diags_.begin(), diags_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(diags_);
}

void PolicyReader::AddAt(Severity severity, const yaml::Mark& mark, std::string key,
                         std::string message, std::string hint, int column_offset) {
  PolicyDiagnostic d;
  d.severity = severity;
  d.file = filename_;
  if (!mark.is_null() && mark.line >= 0) {
    d.line = mark.line + 1;
    d.column = mark.column + 1 + column_offset;
  }
  d.key = std::move(key);
  d.message = std::move(message);
  d.hint = std::move(hint);
  diags_.push_back(std::move(d));
}
void PolicyReader::Error(const yaml::Node& at, const std::string& key, std::string message,
                         std::string hint) {
  AddAt(Severity::kError, at.Mark(), key, std::move(message), std::move(hint));
}
void PolicyReader::Warn(const yaml::Node& at, const std::string& key, std::string message,
                        std::string hint) {
  AddAt(Severity::kWarning, at.Mark(), key, std::move(message), std::move(hint));
}

// The entries of a map. Reports non-scalar and duplicate keys, and, when
// `known` is not null, keys outside it (with a "did you mean" hint). Only
// accepted entries are returned.
std::vector<Entry> PolicyReader::Entries(const yaml::Node& map, const std::string& path,
                                         const std::vector<std::string>* known) {
  std::vector<Entry> out;
  std::set<std::string> seen;
  for (const auto& [k, v] : map.Entries()) {
    if (!k.IsScalar()) {
      Error(k, path, "keys must be plain names, got " + k.Describe());
      continue;
    }
    std::string key = k.Scalar();
    std::string key_path = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) {
      Error(k, key_path, "duplicate key", "each key may appear once; remove one of them");
      continue;
    }
    if (known != nullptr && std::find(known->begin(), known->end(), key) == known->end()) {
      std::string hint = yaml::DidYouMean(key, *known);
      Error(k, key_path, "unknown key", hint.empty() ? "expected one of: " + Join(*known) : hint);
      continue;
    }
    out.push_back(Entry{key, k, v});
  }
  return out;
}

// Checks that `n` is a map; a null node reads as an empty map when
// `null_ok`. Returns false (after reporting) otherwise.
bool PolicyReader::ExpectMap(const yaml::Node& n, const std::string& path, const std::string& what,
                             bool null_ok) {
  if (n.IsMap()) return true;
  if (null_ok && n.IsNull()) return false;
  Error(n, path, "expected " + what + ", got " + n.Describe());
  return false;
}

std::optional<std::string> PolicyReader::GetString(const yaml::Node& n, const std::string& path,
                                                   const std::string& what) {
  if (n.IsScalar() && !n.Scalar().empty()) return n.Scalar();
  Error(n, path, "expected " + what + ", got " + n.Describe());
  return std::nullopt;
}

// A label list: a YAML list of labels, or one label alone (as runs-on allows).
std::optional<std::vector<std::string>> PolicyReader::GetLabels(const yaml::Node& n,
                                                                const std::string& path,
                                                                bool allow_empty) {
  std::vector<std::string> labels;
  auto add = [&](const yaml::Node& item, const std::string& item_path) {
    if (!item.IsScalar() || !IsValidLabel(item.Scalar())) {
      Error(item, item_path,
            "expected a runner label (no spaces or commas), got " + item.Describe());
      return false;
    }
    for (const std::string& l : labels) {
      if (EqualsIgnoreCase(l, item.Scalar())) return true;  // a repeat changes nothing
    }
    labels.push_back(item.Scalar());
    return true;
  };
  if (n.IsScalar()) {
    if (!add(n, path)) return std::nullopt;
  } else if (n.IsSequence()) {
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      ok = add(n[i], path + "[" + std::to_string(i) + "]") && ok;
    }
    if (!ok) return std::nullopt;
  } else {
    Error(n, path, "expected a list of runner labels such as [macmini], got " + n.Describe());
    return std::nullopt;
  }
  if (labels.empty() && !allow_empty) {
    Error(n, path, "expected at least one runner label, got an empty list");
    return std::nullopt;
  }
  return labels;
}

std::optional<std::vector<std::string>> PolicyReader::GetRepositories(const yaml::Node& n,
                                                                      const std::string& path) {
  std::vector<std::string> repos;
  auto add = [&](const yaml::Node& item, const std::string& item_path) {
    if (!item.IsScalar() || !IsValidRepository(item.Scalar())) {
      Error(item, item_path, "expected a repository as owner/name, got " + item.Describe());
      return false;
    }
    repos.push_back(item.Scalar());
    return true;
  };
  if (n.IsScalar()) {
    if (!add(n, path)) return std::nullopt;
  } else if (n.IsSequence() && n.size() > 0) {
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      ok = add(n[i], path + "[" + std::to_string(i) + "]") && ok;
    }
    if (!ok) return std::nullopt;
  } else {
    Error(n, path, "expected owner/name or a non-empty list of them, got " + n.Describe());
    return std::nullopt;
  }
  return repos;
}

// A workflow file name. ".github/workflows/x.yml" is accepted and
// shortened, since runs report their workflow by that path.
std::optional<std::string> PolicyReader::GetWorkflow(const yaml::Node& n, const std::string& path) {
  const std::string what = "a workflow file name such as transcribe_mac.yml";
  if (!n.IsScalar() || n.Scalar().empty()) {
    Error(n, path, "expected " + what + ", got " + n.Describe());
    return std::nullopt;
  }
  std::string_view name = n.Scalar();
  constexpr std::string_view kDir = ".github/workflows/";
  if (name.substr(0, kDir.size()) == kDir) name.remove_prefix(kDir.size());
  auto ends_with = [&](std::string_view suffix) {
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (name.find('/') != std::string_view::npos || !(ends_with(".yml") || ends_with(".yaml"))) {
    Error(n, path, "expected " + what + ", got " + n.Describe(),
          "name the file in .github/workflows/, ending in .yml or .yaml");
    return std::nullopt;
  }
  return std::string(name);
}

std::optional<std::chrono::milliseconds> PolicyReader::GetDuration(const yaml::Node& n,
                                                                   const std::string& path) {
  if (n.IsScalar()) {
    auto d = ParseDuration(n.Scalar());
    if (d.ok() && d->count() > 0) return *d;
  }
  Error(n, path,
        "expected a duration greater than zero such as 90s, 5m or 1h, got " + n.Describe());
  return std::nullopt;
}

std::optional<bool> PolicyReader::GetBool(const yaml::Node& n, const std::string& path) {
  if (std::optional<bool> b = n.AsBool()) return *b;
  Error(n, path, "expected true or false, got " + n.Describe());
  return std::nullopt;
}

std::optional<int64_t> PolicyReader::GetInt(const yaml::Node& n, const std::string& path,
                                            int64_t min, int64_t max) {
  std::optional<int64_t> v = n.AsInt64();
  if (v.has_value() && *v >= min && *v <= max) return *v;
  Error(n, path,
        "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
            ", got " + n.Describe());
  return std::nullopt;
}

std::optional<Template> PolicyReader::GetTemplate(const yaml::Node& n, const std::string& path) {
  if (!n.IsScalar()) {
    Error(n, path,
          "expected a string (\"{{ inputs.url }}\" and the like may be used), got " + n.Describe());
    return std::nullopt;
  }
  TemplateError err;
  auto t = Template::Parse(n.Scalar(), &err);
  if (t.ok()) return std::move(t).value();
  // Point at the offending placeholder when the value is on one line; a
  // quoted scalar's mark is at its opening quote.
  int offset = 0;
  if (n.Scalar().find('\n') == std::string::npos) {
    offset = static_cast<int>(err.offset) + (n.Tag() == "!" ? 1 : 0);
  }
  AddAt(Severity::kError, n.Mark(), path, err.message, err.hint, offset);
  return std::nullopt;
}

// A map of input name -> template.
std::vector<std::pair<std::string, Template>> PolicyReader::GetInputs(const yaml::Node& n,
                                                                      const std::string& path) {
  std::vector<std::pair<std::string, Template>> out;
  if (!ExpectMap(n, path, "a map of input name to value", /*null_ok=*/true)) return out;
  for (const Entry& e : Entries(n, path, nullptr)) {
    std::string p = path + "." + e.key;
    bool valid = std::all_of(e.key.begin(), e.key.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    if (!valid) {
      Error(e.key_node, p, "'" + e.key + "' is not a valid input name",
            "input names are letters, digits, '_' and '-'");
      continue;
    }
    if (auto t = GetTemplate(e.value, p)) out.emplace_back(e.key, std::move(*t));
  }
  return out;
}

}  // namespace relayq::policy
