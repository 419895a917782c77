#include "policy/policy_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "common/strings.h"
#include "common/time_format.h"

namespace relayq::policy {

namespace {

using Severity = PolicyDiagnostic::Severity;

// A policy is a few kilobytes; anything much larger is a wrong path.
constexpr std::streamsize kMaxPolicyBytes = 1 << 20;

const std::vector<std::string> kTopKeys = {"routes", "chains"};
const std::vector<std::string> kRouteKeys = {"match",           "prefer",
                                             "fallback",        "constraints",
                                             "queue_timeout",   "fallback_workflow",
                                             "fallback_inputs", "fallback_when_offline",
                                             "offline_grace",   "max_fallbacks",
                                             "unknown_inputs"};
const std::vector<std::string> kMatchKeys = {"workflow", "labels", "repository"};
const std::vector<std::string> kChainKeys = {"name", "after", "dispatch"};
const std::vector<std::string> kAfterKeys = {"workflow", "conclusion", "repository"};
const std::vector<std::string> kDispatchKeys = {"workflow", "ref", "inputs", "repository"};
const std::vector<std::string> kConclusions = {"success", "failure",   "cancelled",
                                               "skipped", "timed_out", "action_required",
                                               "neutral", "stale",     "startup_failure"};

// One key of a YAML map, in document order.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

const Entry* Find(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string LabelList(const std::vector<std::string>& labels) { return "[" + Join(labels) + "]"; }

std::string ToLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// How a node reads to a user, for "got ..." in messages.
std::string Describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  return "'" + n.Scalar() + "'";
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

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
  size_t slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return false;
  return IsValidName(s.substr(0, slash)) && IsValidName(s.substr(slash + 1));
}

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

// Turns YAML into a Policy, collecting every diagnostic on the way.
class Parser {
 public:
  explicit Parser(std::string_view filename) : filename_(filename) {}

  std::shared_ptr<Policy> Run(std::string_view text) {
    auto policy = std::make_shared<Policy>();
    policy->source = filename_;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      AddAt(Severity::kError, e.mark, "", "invalid YAML: " + e.msg, TabHint(text));
      return nullptr;
    }
    try {
      ParseRoot(root, policy.get());
    } catch (const std::exception& e) {
      // Every access above checks the node's type first, so this is a bug;
      // it is still reported as a diagnostic rather than escaping.
      AddAt(Severity::kError, YAML::Mark::null_mark(), "",
            std::string("internal error while reading the policy: ") + e.what(), "");
    }
    if (HasErrors()) return nullptr;
    return policy;
  }

  std::vector<PolicyDiagnostic> TakeDiagnostics() {
    std::stable_sort(diags_.begin(), diags_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(diags_);
  }

 private:
  bool HasErrors() const {
    return std::any_of(diags_.begin(), diags_.end(), [](const auto& d) { return d.is_error(); });
  }

  void AddAt(Severity severity, const YAML::Mark& mark, std::string key, std::string message,
             std::string hint, int column_offset = 0) {
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
  void Error(const YAML::Node& at, const std::string& key, std::string message,
             std::string hint = "") {
    AddAt(Severity::kError, at.Mark(), key, std::move(message), std::move(hint));
  }
  void Warn(const YAML::Node& at, const std::string& key, std::string message,
            std::string hint = "") {
    AddAt(Severity::kWarning, at.Mark(), key, std::move(message), std::move(hint));
  }

  // The entries of a map. Reports non-scalar and duplicate keys, and, when
  // `known` is not null, keys outside it (with a "did you mean" hint). Only
  // accepted entries are returned.
  std::vector<Entry> Entries(const YAML::Node& map, const std::string& path,
                             const std::vector<std::string>* known) {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      // it-> yields a temporary proxy: copy the nodes (cheap handles) out of
      // it rather than keep references into it.
      YAML::Node k = it->first;
      YAML::Node v = it->second;
      if (!k.IsScalar()) {
        Error(k, path, "keys must be plain names, got " + Describe(k));
        continue;
      }
      std::string key = k.Scalar();
      std::string key_path = path.empty() ? key : path + "." + key;
      if (!seen.insert(key).second) {
        Error(k, key_path, "duplicate key", "each key may appear once; remove one of them");
        continue;
      }
      if (known != nullptr && std::find(known->begin(), known->end(), key) == known->end()) {
        std::string best = ClosestMatch(key, *known);
        Error(k, key_path, "unknown key",
              best.empty() ? "expected one of: " + Join(*known) : "did you mean '" + best + "'?");
        continue;
      }
      out.push_back(Entry{key, k, v});
    }
    return out;
  }

  // Checks that `n` is a map; a null node reads as an empty map when
  // `null_ok`. Returns false (after reporting) otherwise.
  bool ExpectMap(const YAML::Node& n, const std::string& path, const std::string& what,
                 bool null_ok) {
    if (n.IsMap()) return true;
    if (null_ok && n.IsNull()) return false;
    Error(n, path, "expected " + what + ", got " + Describe(n));
    return false;
  }

  std::optional<std::string> GetString(const YAML::Node& n, const std::string& path,
                                       const std::string& what) {
    if (n.IsScalar() && !n.Scalar().empty()) return n.Scalar();
    Error(n, path, "expected " + what + ", got " + Describe(n));
    return std::nullopt;
  }

  // A label list: a YAML list of labels, or one label alone (as runs-on allows).
  std::optional<std::vector<std::string>> GetLabels(const YAML::Node& n, const std::string& path,
                                                    bool allow_empty) {
    std::vector<std::string> labels;
    auto add = [&](const YAML::Node& item, const std::string& item_path) {
      if (!item.IsScalar() || !IsValidLabel(item.Scalar())) {
        Error(item, item_path,
              "expected a runner label (no spaces or commas), got " + Describe(item));
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
      Error(n, path, "expected a list of runner labels such as [macmini], got " + Describe(n));
      return std::nullopt;
    }
    if (labels.empty() && !allow_empty) {
      Error(n, path, "expected at least one runner label, got an empty list");
      return std::nullopt;
    }
    return labels;
  }

  std::optional<std::vector<std::string>> GetRepositories(const YAML::Node& n,
                                                          const std::string& path) {
    std::vector<std::string> repos;
    auto add = [&](const YAML::Node& item, const std::string& item_path) {
      if (!item.IsScalar() || !IsValidRepository(item.Scalar())) {
        Error(item, item_path, "expected a repository as owner/name, got " + Describe(item));
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
      Error(n, path, "expected owner/name or a non-empty list of them, got " + Describe(n));
      return std::nullopt;
    }
    return repos;
  }

  // A workflow file name. ".github/workflows/x.yml" is accepted and
  // shortened, since runs report their workflow by that path.
  std::optional<std::string> GetWorkflow(const YAML::Node& n, const std::string& path) {
    const std::string what = "a workflow file name such as transcribe_mac.yml";
    if (!n.IsScalar() || n.Scalar().empty()) {
      Error(n, path, "expected " + what + ", got " + Describe(n));
      return std::nullopt;
    }
    std::string_view name = n.Scalar();
    constexpr std::string_view kDir = ".github/workflows/";
    if (name.substr(0, kDir.size()) == kDir) name.remove_prefix(kDir.size());
    auto ends_with = [&](std::string_view suffix) {
      return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    };
    if (name.find('/') != std::string_view::npos || !(ends_with(".yml") || ends_with(".yaml"))) {
      Error(n, path, "expected " + what + ", got " + Describe(n),
            "name the file in .github/workflows/, ending in .yml or .yaml");
      return std::nullopt;
    }
    return std::string(name);
  }

  std::optional<std::chrono::milliseconds> GetDuration(const YAML::Node& n,
                                                       const std::string& path) {
    if (n.IsScalar()) {
      auto d = ParseDuration(n.Scalar());
      if (d.ok() && d->count() > 0) return *d;
    }
    Error(n, path,
          "expected a duration greater than zero such as 90s, 5m or 1h, got " + Describe(n));
    return std::nullopt;
  }

  std::optional<bool> GetBool(const YAML::Node& n, const std::string& path) {
    bool b = false;
    if (n.IsScalar() && YAML::convert<bool>::decode(n, b)) return b;
    Error(n, path, "expected true or false, got " + Describe(n));
    return std::nullopt;
  }

  std::optional<int64_t> GetInt(const YAML::Node& n, const std::string& path, int64_t min,
                                int64_t max) {
    int64_t v = 0;
    if (n.IsScalar() && YAML::convert<int64_t>::decode(n, v) && v >= min && v <= max) return v;
    Error(n, path,
          "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
              ", got " + Describe(n));
    return std::nullopt;
  }

  std::optional<Template> GetTemplate(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      Error(
          n, path,
          "expected a string (\"{{ inputs.url }}\" and the like may be used), got " + Describe(n));
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
  std::vector<std::pair<std::string, Template>> GetInputs(const YAML::Node& n,
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

  void ParseRoot(const YAML::Node& root, Policy* policy) {
    if (root.IsNull()) return;  // an empty file: no routes, no chains
    if (!root.IsMap()) {
      Error(root, "", "expected a map with 'routes' and/or 'chains', got " + Describe(root));
      return;
    }
    auto entries = Entries(root, "", &kTopKeys);
    if (const Entry* e = Find(entries, "routes")) ParseRoutes(e->value, policy);
    if (const Entry* e = Find(entries, "chains")) ParseChains(e->value, policy);
  }

  void ParseRoutes(const YAML::Node& n, Policy* policy) {
    if (!ExpectMap(n, "routes", "a map of route name to route", /*null_ok=*/true)) return;
    for (const Entry& e : Entries(n, "routes", nullptr)) {
      std::string path = "routes." + e.key;
      if (!IsValidName(e.key)) {
        Error(e.key_node, path, "route names may use letters, digits, '_', '-' and '.'");
        continue;
      }
      if (auto route = ParseRoute(e, path)) policy->routes.push_back(std::move(*route));
    }
  }

  std::optional<Route> ParseRoute(const Entry& entry, const std::string& path) {
    const YAML::Node& n = entry.value;
    if (!ExpectMap(n, path, "a route (a map with prefer, fallback, ...)", /*null_ok=*/false)) {
      return std::nullopt;
    }
    Route r;
    r.name = entry.key;
    r.location = {n.Mark().line + 1, n.Mark().column + 1};
    size_t errors_before = ErrorCount();
    auto entries = Entries(n, path, &kRouteKeys);

    const Entry* prefer = Find(entries, "prefer");
    const Entry* fallback = Find(entries, "fallback");
    if (prefer == nullptr) {
      Error(entry.key_node, path + ".prefer", "missing required key",
            "add e.g. 'prefer: [macmini]', the labels the job waits on");
    } else if (auto l = GetLabels(prefer->value, path + ".prefer", false)) {
      r.prefer = *l;
    }
    if (fallback == nullptr) {
      Error(entry.key_node, path + ".fallback", "missing required key",
            "add e.g. 'fallback: [rpi4]', the labels the fallback runs on");
    } else if (auto l = GetLabels(fallback->value, path + ".fallback", false)) {
      r.fallback = *l;
    }

    bool labels_given = false;
    if (const Entry* m = Find(entries, "match")) {
      std::string mpath = path + ".match";
      if (ExpectMap(m->value, mpath, "a map with workflow, labels and/or repository", false)) {
        auto ms = Entries(m->value, mpath, &kMatchKeys);
        if (const Entry* e = Find(ms, "workflow")) {
          if (auto w = GetWorkflow(e->value, mpath + ".workflow")) r.match.workflow = *w;
        }
        if (const Entry* e = Find(ms, "labels")) {
          labels_given = true;
          if (auto l = GetLabels(e->value, mpath + ".labels", true)) r.match.labels = *l;
        }
        if (const Entry* e = Find(ms, "repository")) {
          if (auto rs = GetRepositories(e->value, mpath + ".repository")) {
            r.match.repositories = *rs;
          }
        }
      }
    }
    if (!labels_given) r.match.labels = r.prefer;

    const Entry* timeout = Find(entries, "queue_timeout");
    if (timeout != nullptr) {
      if (auto d = GetDuration(timeout->value, path + ".queue_timeout")) r.queue_timeout = *d;
    }
    const Entry* fw = Find(entries, "fallback_workflow");
    if (fw != nullptr) {
      if (auto w = GetWorkflow(fw->value, path + ".fallback_workflow")) {
        r.fallback_workflow = *w;
        if (!r.match.workflow.empty() && r.fallback_workflow == r.match.workflow) {
          Error(fw->value, path + ".fallback_workflow",
                "is the workflow the route matches ('" + r.match.workflow +
                    "'): the fallback would wait on the same runners",
                "name the workflow that runs on the fallback labels");
        }
      }
    }
    const Entry* finputs = Find(entries, "fallback_inputs");
    if (finputs != nullptr)
      r.fallback_inputs = GetInputs(finputs->value, path + ".fallback_inputs");
    const Entry* when_offline = Find(entries, "fallback_when_offline");
    if (when_offline != nullptr) {
      if (auto b = GetBool(when_offline->value, path + ".fallback_when_offline")) {
        r.fallback_when_offline = *b;
      }
    }
    const Entry* grace = Find(entries, "offline_grace");
    if (grace != nullptr) {
      if (auto d = GetDuration(grace->value, path + ".offline_grace")) r.offline_grace = *d;
    }
    if (const Entry* e = Find(entries, "max_fallbacks")) {
      if (auto v = GetInt(e->value, path + ".max_fallbacks", 0, 10)) {
        r.max_fallbacks = static_cast<int>(*v);
      }
    }
    if (const Entry* e = Find(entries, "unknown_inputs")) {
      std::string p = path + ".unknown_inputs";
      if (e->value.IsScalar() && e->value.Scalar() == "refuse") {
        r.unknown_inputs = UnknownInputsAction::kRefuse;
      } else if (e->value.IsScalar() && e->value.Scalar() == "dispatch") {
        r.unknown_inputs = UnknownInputsAction::kDispatch;
      } else {
        std::string best =
            e->value.IsScalar() ? ClosestMatch(e->value.Scalar(), {"refuse", "dispatch"}) : "";
        Error(e->value, p, "expected 'refuse' or 'dispatch', got " + Describe(e->value),
              best.empty() ? "" : "did you mean '" + best + "'?");
      }
    }
    const Entry* constraints = Find(entries, "constraints");
    std::map<std::string, YAML::Node> cap_keys;
    if (constraints != nullptr) {
      ParseConstraints(constraints->value, path + ".constraints", &r.constraints, &cap_keys);
    }

    if (ErrorCount() != errors_before) return std::nullopt;

    // Checks across keys, on a route whose keys each read well.
    if (HasAllLabels(r.fallback, r.prefer)) {
      Error(fallback->value, path + ".fallback",
            "every runner with the fallback labels " + LabelList(r.fallback) +
                " also carries the preferred labels " + LabelList(r.prefer) +
                ": the fallback would compete for the same runners",
            "name labels that the preferred runners do not carry, e.g. [rpi4]");
    }
    if (r.fallback_workflow.empty() && r.fallback_inputs.empty()) {
      Warn(entry.key_node, path,
           "no fallback_workflow: the fallback re-dispatches the job's own workflow, which "
           "waits on " +
               LabelList(r.prefer) + " again unless its runs-on reads an input",
           "set fallback_workflow, or fallback_inputs for a workflow whose runs-on reads them");
    }
    for (const std::string& cap : r.constraints.required_labels) {
      if (HasAllLabels(r.fallback, {cap})) continue;
      Warn(cap_keys[cap], path + ".constraints.needs_" + cap,
           "the fallback labels " + LabelList(r.fallback) + " do not include '" + cap +
               "': the fallback is refused unless the runner status shows that every runner "
               "labelled " +
               LabelList(r.fallback) + " carries '" + cap + "'",
           "add '" + cap + "' to fallback if those runners have it");
    }
    if (grace != nullptr && !r.fallback_when_offline) {
      Warn(grace->key_node, path + ".offline_grace",
           "has no effect unless fallback_when_offline is true");
    } else if (r.fallback_when_offline && r.offline_grace >= r.queue_timeout) {
      Warn(grace != nullptr ? grace->value : when_offline->value, path + ".offline_grace",
           "offline_grace (" +
               FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(r.offline_grace)) +
               ") is not shorter than queue_timeout, so fallback_when_offline changes nothing");
    }
    return r;
  }

  // Fills `out`; `cap_keys` receives the key node of each needs_<label>, so
  // later warnings can point at it.
  void ParseConstraints(const YAML::Node& n, const std::string& path, Constraints* out,
                        std::map<std::string, YAML::Node>* cap_keys) {
    if (!ExpectMap(n, path, "a map such as {needs_ffmpeg: true, max_size_mb: 1000}", true)) {
      return;
    }
    // Any needs_<label> is known, so the keys are checked here, not by Entries.
    for (const Entry& e : Entries(n, path, nullptr)) {
      std::string p = path + "." + e.key;
      if (e.key == "max_size_mb") {
        if (auto v = GetInt(e.value, p, 1, int64_t{1} << 30)) out->max_size_mb = *v;
      } else if (e.key.rfind("needs_", 0) == 0 && e.key.size() > 6) {
        std::string label = e.key.substr(6);
        if (!IsValidLabel(label)) {
          Error(e.key_node, p, "'" + label + "' is not a runner label");
          continue;
        }
        auto b = GetBool(e.value, p);
        if (b.has_value() && *b) {
          out->required_labels.push_back(ToLower(label));
          cap_keys->emplace(ToLower(label), e.key_node);
        }
      } else {
        std::vector<std::string> candidates = {"max_size_mb", "needs_ffmpeg"};
        size_t underscore = e.key.find('_');
        if (underscore != std::string::npos && underscore + 1 < e.key.size()) {
          candidates.push_back("needs_" + e.key.substr(underscore + 1));
        }
        std::string best = ClosestMatch(e.key, candidates);
        Error(e.key_node, p, "unknown constraint",
              best.empty() ? "constraints are needs_<capability label>: true and max_size_mb: N"
                           : "did you mean '" + best + "'?");
      }
    }
    std::sort(out->required_labels.begin(), out->required_labels.end());
    out->required_labels.erase(
        std::unique(out->required_labels.begin(), out->required_labels.end()),
        out->required_labels.end());
  }

  void ParseChains(const YAML::Node& n, Policy* policy) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
      Error(n, "chains",
            "expected a list of chains (items starting with '- name:'), got " + Describe(n));
      return;
    }
    std::map<std::string, YAML::Node> names;
    std::vector<YAML::Node> chain_nodes;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string path = "chains[" + std::to_string(i) + "]";
      if (auto c = ParseChain(n[i], path, &names)) {
        policy->chains.push_back(std::move(*c));
        chain_nodes.push_back(n[i]);
      }
    }
    CheckChainLoops(*policy, chain_nodes);
  }

  std::optional<Chain> ParseChain(const YAML::Node& n, const std::string& path,
                                  std::map<std::string, YAML::Node>* names) {
    if (!ExpectMap(n, path, "a chain (a map with name, after and dispatch)", false)) {
      return std::nullopt;
    }
    Chain c;
    c.location = {n.Mark().line + 1, n.Mark().column + 1};
    size_t errors_before = ErrorCount();
    auto entries = Entries(n, path, &kChainKeys);
    for (std::string_view key : {"name", "after", "dispatch"}) {
      if (Find(entries, key) == nullptr) {
        Error(n, path + "." + std::string(key), "missing required key");
      }
    }
    if (const Entry* e = Find(entries, "name")) {
      std::string p = path + ".name";
      if (auto name = GetString(e->value, p, "a chain name")) {
        if (!IsValidName(*name)) {
          Error(e->value, p, "chain names may use letters, digits, '_', '-' and '.'",
                "the name goes into idempotency keys such as chain:NAME:RUN_ID:ATTEMPT");
        } else if (auto it = names->find(*name); it != names->end()) {
          Error(e->value, p, "duplicate chain name '" + *name + "'",
                "first used at line " + std::to_string(it->second.Mark().line + 1) +
                    "; chain names must be unique");
        } else {
          names->emplace(*name, e->value);
          c.name = *name;
        }
      }
    }
    if (const Entry* e = Find(entries, "after")) {
      std::string p = path + ".after";
      if (ExpectMap(e->value, p, "a map with workflow and conclusion", false)) {
        auto as = Entries(e->value, p, &kAfterKeys);
        if (const Entry* w = Find(as, "workflow")) {
          if (auto wf = GetWorkflow(w->value, p + ".workflow")) c.after_workflow = *wf;
        } else {
          Error(e->value, p + ".workflow", "missing required key",
                "name the workflow file whose completion starts this chain");
        }
        c.conclusions = {"success"};
        if (const Entry* k = Find(as, "conclusion")) ParseConclusions(k->value, p, &c);
        if (const Entry* r = Find(as, "repository")) {
          if (auto rs = GetRepositories(r->value, p + ".repository")) c.repositories = *rs;
        }
      }
    }
    if (const Entry* e = Find(entries, "dispatch")) {
      std::string p = path + ".dispatch";
      if (ExpectMap(e->value, p, "a map with workflow, inputs and optionally ref", false)) {
        auto ds = Entries(e->value, p, &kDispatchKeys);
        if (const Entry* w = Find(ds, "workflow")) {
          if (auto wf = GetWorkflow(w->value, p + ".workflow")) c.dispatch_workflow = *wf;
        } else {
          Error(e->value, p + ".workflow", "missing required key",
                "name the workflow file to dispatch");
        }
        if (const Entry* r = Find(ds, "ref")) {
          if (auto t = GetTemplate(r->value, p + ".ref")) {
            if (t->source().empty()) {
              Error(r->value, p + ".ref", "expected a branch or tag name, got ''");
            } else {
              c.ref = std::move(*t);
            }
          }
        }
        if (const Entry* in = Find(ds, "inputs")) c.inputs = GetInputs(in->value, p + ".inputs");
        if (const Entry* r = Find(ds, "repository")) {
          std::string rp = p + ".repository";
          if (!r->value.IsScalar() || !IsValidRepository(r->value.Scalar())) {
            Error(r->value, rp, "expected one repository as owner/name, got " + Describe(r->value));
          } else {
            c.dispatch_repository = r->value.Scalar();
          }
        }
      }
    }
    if (ErrorCount() != errors_before) return std::nullopt;
    if (c.dispatch_workflow == c.after_workflow) {
      Error(Find(entries, "dispatch")->value, path + ".dispatch.workflow",
            "dispatches the workflow it follows ('" + c.after_workflow +
                "'): every run would start another, forever");
      return std::nullopt;
    }
    return c;
  }

  void ParseConclusions(const YAML::Node& n, const std::string& after_path, Chain* c) {
    std::string p = after_path + ".conclusion";
    std::vector<YAML::Node> items;
    if (n.IsScalar()) {
      items.push_back(n);
    } else if (n.IsSequence() && n.size() > 0) {
      for (size_t i = 0; i < n.size(); ++i) items.push_back(n[i]);
    } else {
      Error(n, p, "expected a conclusion such as success, or a list of them, got " + Describe(n));
      return;
    }
    c->conclusions.clear();
    bool any = false;
    for (const YAML::Node& item : items) {
      std::string v = item.IsScalar() ? item.Scalar() : "";
      if (v == "any") {
        any = true;
      } else if (std::find(kConclusions.begin(), kConclusions.end(), v) != kConclusions.end()) {
        c->conclusions.push_back(v);
      } else {
        std::vector<std::string> candidates = kConclusions;
        candidates.push_back("any");
        std::string best = item.IsScalar() ? ClosestMatch(v, candidates) : "";
        Error(
            item, p,
            "expected a run conclusion (" + Join(kConclusions) + " or any), got " + Describe(item),
            best.empty() ? "" : "did you mean '" + best + "'?");
      }
    }
    if (any) c->conclusions.clear();  // empty means any conclusion
  }

  // Chains whose dispatches lead back to their own trigger would dispatch
  // forever. Conclusions and repositories are ignored: a loop that only
  // closes on some outcomes is still a loop worth refusing.
  void CheckChainLoops(const Policy& policy, const std::vector<YAML::Node>& nodes) {
    std::set<size_t> reported;
    for (size_t start = 0; start < policy.chains.size(); ++start) {
      if (reported.count(start) != 0) continue;
      // Depth-first search for a path of chains from start back to start.
      std::vector<size_t> path = {start};
      std::function<bool(const std::string&)> reach = [&](const std::string& workflow) -> bool {
        for (size_t i = 0; i < policy.chains.size(); ++i) {
          if (policy.chains[i].after_workflow != workflow) continue;
          if (i == start) return true;
          if (std::find(path.begin(), path.end(), i) != path.end()) continue;
          path.push_back(i);
          if (reach(policy.chains[i].dispatch_workflow)) return true;
          path.pop_back();
        }
        return false;
      };
      if (!reach(policy.chains[start].dispatch_workflow)) continue;
      std::string cycle = policy.chains[start].after_workflow;
      for (size_t i : path) {
        cycle += " -> " + policy.chains[i].dispatch_workflow;
        reported.insert(i);
      }
      Error(nodes[start], "chains[" + std::to_string(start) + "]",
            "chains form a loop (" + cycle + "): each run would start the next, forever",
            "break the loop by removing one of these chains");
    }
  }

  size_t ErrorCount() const {
    return static_cast<size_t>(
        std::count_if(diags_.begin(), diags_.end(), [](const auto& d) { return d.is_error(); }));
  }

  std::string filename_;
  std::vector<PolicyDiagnostic> diags_;
};

}  // namespace

size_t PolicyCheck::error_count() const {
  return static_cast<size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                           [](const auto& d) { return d.is_error(); }));
}

size_t PolicyCheck::warning_count() const { return diagnostics.size() - error_count(); }

PolicyCheck ParsePolicy(std::string_view text, std::string_view filename) {
  Parser parser(filename);
  PolicyCheck out;
  out.policy = parser.Run(text);
  out.diagnostics = parser.TakeDiagnostics();
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
