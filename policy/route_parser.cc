// The `routes:` section of a policy file: each route's keys, values and the
// checks across them. Part of the policy loader (policy_loader.h); the
// messages are its interface. Pure; thread-safe.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/strings.h"
#include "common/time_format.h"
#include "policy/policy_reader.h"

namespace relayq::policy {
namespace {

const std::vector<std::string> kRouteKeys = {"match",           "prefer",
                                             "fallback",        "constraints",
                                             "queue_timeout",   "fallback_workflow",
                                             "fallback_inputs", "fallback_when_offline",
                                             "offline_grace",   "max_fallbacks",
                                             "unknown_inputs"};
const std::vector<std::string> kMatchKeys = {"workflow", "labels", "repository"};

// Fills `out`; `cap_keys` receives the key node of each needs_<label>, so
// later warnings can point at it.
void ParseConstraints(PolicyReader& in, const yaml::Node& n, const std::string& path,
                      Constraints* out, std::map<std::string, yaml::Node>* cap_keys) {
  if (!in.ExpectMap(n, path, "a map such as {needs_ffmpeg: true, max_size_mb: 1000}", true)) {
    return;
  }
  // Any needs_<label> is known, so the keys are checked here, not by Entries.
  for (const Entry& e : in.Entries(n, path, nullptr)) {
    std::string p = path + "." + e.key;
    if (e.key == "max_size_mb") {
      if (auto v = in.GetInt(e.value, p, 1, int64_t{1} << 30)) out->max_size_mb = *v;
    } else if (e.key.rfind("needs_", 0) == 0 && e.key.size() > 6) {
      std::string label = e.key.substr(6);
      if (!IsValidLabel(label)) {
        in.Error(e.key_node, p, "'" + label + "' is not a runner label");
        continue;
      }
      auto b = in.GetBool(e.value, p);
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
      in.Error(e.key_node, p, "unknown constraint",
               best.empty() ? "constraints are needs_<capability label>: true and max_size_mb: N"
                            : "did you mean '" + best + "'?");
    }
  }
  std::sort(out->required_labels.begin(), out->required_labels.end());
  out->required_labels.erase(std::unique(out->required_labels.begin(), out->required_labels.end()),
                             out->required_labels.end());
}

// The route's `match:` map, when present. Returns whether it names labels
// (a route without them matches jobs waiting on its preferred labels).
bool ParseMatch(PolicyReader& in, const Entry* m, const std::string& path, Route& r) {
  bool labels_given = false;
  if (m == nullptr) return labels_given;
  std::string mpath = path + ".match";
  if (in.ExpectMap(m->value, mpath, "a map with workflow, labels and/or repository", false)) {
    auto ms = in.Entries(m->value, mpath, &kMatchKeys);
    if (const Entry* e = Find(ms, "workflow")) {
      if (auto w = in.GetWorkflow(e->value, mpath + ".workflow")) r.match.workflow = *w;
    }
    if (const Entry* e = Find(ms, "labels")) {
      labels_given = true;
      if (auto l = in.GetLabels(e->value, mpath + ".labels", true)) r.match.labels = *l;
    }
    if (const Entry* e = Find(ms, "repository")) {
      if (auto rs = in.GetRepositories(e->value, mpath + ".repository")) {
        r.match.repositories = *rs;
      }
    }
  }
  return labels_given;
}

// The optional settings of a route: timeouts, the fallback workflow and its
// inputs, offline fallback, the fallback limit and unknown inputs.
void ParseOptions(PolicyReader& in, const std::vector<Entry>& entries, const std::string& path,
                  Route& r) {
  const Entry* timeout = Find(entries, "queue_timeout");
  if (timeout != nullptr) {
    if (auto d = in.GetDuration(timeout->value, path + ".queue_timeout")) r.queue_timeout = *d;
  }
  const Entry* fw = Find(entries, "fallback_workflow");
  if (fw != nullptr) {
    if (auto w = in.GetWorkflow(fw->value, path + ".fallback_workflow")) {
      r.fallback_workflow = *w;
      if (!r.match.workflow.empty() && r.fallback_workflow == r.match.workflow) {
        in.Error(fw->value, path + ".fallback_workflow",
                 "is the workflow the route matches ('" + r.match.workflow +
                     "'): the fallback would wait on the same runners",
                 "name the workflow that runs on the fallback labels");
      }
    }
  }
  const Entry* finputs = Find(entries, "fallback_inputs");
  if (finputs != nullptr)
    r.fallback_inputs = in.GetInputs(finputs->value, path + ".fallback_inputs");
  const Entry* when_offline = Find(entries, "fallback_when_offline");
  if (when_offline != nullptr) {
    if (auto b = in.GetBool(when_offline->value, path + ".fallback_when_offline")) {
      r.fallback_when_offline = *b;
    }
  }
  const Entry* grace = Find(entries, "offline_grace");
  if (grace != nullptr) {
    if (auto d = in.GetDuration(grace->value, path + ".offline_grace")) r.offline_grace = *d;
  }
  if (const Entry* e = Find(entries, "max_fallbacks")) {
    if (auto v = in.GetInt(e->value, path + ".max_fallbacks", 0, 10)) {
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
      in.Error(e->value, p, "expected 'refuse' or 'dispatch', got " + e->value.Describe(),
               best.empty() ? "" : "did you mean '" + best + "'?");
    }
  }
}

// Checks across keys, on a route whose keys each read well.
void CheckRoute(PolicyReader& in, const Entry& entry, const std::vector<Entry>& entries,
                const std::string& path, const Route& r,
                std::map<std::string, yaml::Node>& cap_keys) {
  const Entry* fallback = Find(entries, "fallback");
  const Entry* when_offline = Find(entries, "fallback_when_offline");
  const Entry* grace = Find(entries, "offline_grace");
  if (HasAllLabels(r.fallback, r.prefer)) {
    in.Error(fallback->value, path + ".fallback",
             "every runner with the fallback labels " + LabelList(r.fallback) +
                 " also carries the preferred labels " + LabelList(r.prefer) +
                 ": the fallback would compete for the same runners",
             "name labels that the preferred runners do not carry, e.g. [rpi4]");
  }
  if (r.fallback_workflow.empty() && r.fallback_inputs.empty()) {
    in.Warn(entry.key_node, path,
            "no fallback_workflow: the fallback re-dispatches the job's own workflow, which "
            "waits on " +
                LabelList(r.prefer) + " again unless its runs-on reads an input",
            "set fallback_workflow, or fallback_inputs for a workflow whose runs-on reads them");
  }
  for (const std::string& cap : r.constraints.required_labels) {
    if (HasAllLabels(r.fallback, {cap})) continue;
    in.Warn(cap_keys[cap], path + ".constraints.needs_" + cap,
            "the fallback labels " + LabelList(r.fallback) + " do not include '" + cap +
                "': the fallback is refused unless the runner status shows that every runner "
                "labelled " +
                LabelList(r.fallback) + " carries '" + cap + "'",
            "add '" + cap + "' to fallback if those runners have it");
  }
  if (grace != nullptr && !r.fallback_when_offline) {
    in.Warn(grace->key_node, path + ".offline_grace",
            "has no effect unless fallback_when_offline is true");
  } else if (r.fallback_when_offline && r.offline_grace >= r.queue_timeout) {
    in.Warn(grace != nullptr ? grace->value : when_offline->value, path + ".offline_grace",
            "offline_grace (" +
                FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(r.offline_grace)) +
                ") is not shorter than queue_timeout, so fallback_when_offline changes nothing");
  }
}

std::optional<Route> ParseRoute(PolicyReader& in, const Entry& entry, const std::string& path) {
  const yaml::Node& n = entry.value;
  if (!in.ExpectMap(n, path, "a route (a map with prefer, fallback, ...)", /*null_ok=*/false)) {
    return std::nullopt;
  }
  Route r;
  r.name = entry.key;
  r.location = {n.Mark().line + 1, n.Mark().column + 1};
  size_t errors_before = in.ErrorCount();
  auto entries = in.Entries(n, path, &kRouteKeys);

  const Entry* prefer = Find(entries, "prefer");
  const Entry* fallback = Find(entries, "fallback");
  if (prefer == nullptr) {
    in.Error(entry.key_node, path + ".prefer", "missing required key",
             "add e.g. 'prefer: [macmini]', the labels the job waits on");
  } else if (auto l = in.GetLabels(prefer->value, path + ".prefer", false)) {
    r.prefer = *l;
  }
  if (fallback == nullptr) {
    in.Error(entry.key_node, path + ".fallback", "missing required key",
             "add e.g. 'fallback: [rpi4]', the labels the fallback runs on");
  } else if (auto l = in.GetLabels(fallback->value, path + ".fallback", false)) {
    r.fallback = *l;
  }

  bool labels_given = ParseMatch(in, Find(entries, "match"), path, r);
  if (!labels_given) r.match.labels = r.prefer;
  ParseOptions(in, entries, path, r);
  const Entry* constraints = Find(entries, "constraints");
  std::map<std::string, yaml::Node> cap_keys;
  if (constraints != nullptr) {
    ParseConstraints(in, constraints->value, path + ".constraints", &r.constraints, &cap_keys);
  }

  if (in.ErrorCount() != errors_before) return std::nullopt;

  CheckRoute(in, entry, entries, path, r, cap_keys);
  return r;
}

}  // namespace

void ParseRoutes(const yaml::Node& n, PolicyReader& in, Policy* policy) {
  if (!in.ExpectMap(n, "routes", "a map of route name to route", /*null_ok=*/true)) return;
  for (const Entry& e : in.Entries(n, "routes", nullptr)) {
    std::string path = "routes." + e.key;
    if (!IsValidName(e.key)) {
      in.Error(e.key_node, path, "route names may use letters, digits, '_', '-' and '.'");
      continue;
    }
    if (auto route = ParseRoute(in, e, path)) policy->routes.push_back(std::move(*route));
  }
}

}  // namespace relayq::policy
