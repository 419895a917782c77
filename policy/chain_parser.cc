// The `chains:` section of a policy file: each chain's name, trigger and
// dispatch, and the refusal of chains that would dispatch each other
// forever. Part of the policy loader (policy_loader.h); the messages are its
// interface. Pure; thread-safe.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/strings.h"
#include "policy/policy_reader.h"

namespace relayq::policy {
namespace {

const std::vector<std::string> kChainKeys = {"name", "after", "dispatch"};
const std::vector<std::string> kAfterKeys = {"workflow", "conclusion", "repository"};
const std::vector<std::string> kDispatchKeys = {"workflow", "ref", "inputs", "repository"};
const std::vector<std::string> kConclusions = {"success", "failure",   "cancelled",
                                               "skipped", "timed_out", "action_required",
                                               "neutral", "stale",     "startup_failure"};

void ParseConclusions(PolicyReader& in, const yaml::Node& n, const std::string& after_path,
                      Chain* c) {
  std::string p = after_path + ".conclusion";
  std::vector<yaml::Node> items;
  if (n.IsScalar()) {
    items.push_back(n);
  } else if (n.IsSequence() && n.size() > 0) {
    for (size_t i = 0; i < n.size(); ++i) items.push_back(n[i]);
  } else {
    in.Error(n, p, "expected a conclusion such as success, or a list of them, got " + n.Describe());
    return;
  }
  c->conclusions.clear();
  bool any = false;
  for (const yaml::Node& item : items) {
    std::string v = item.IsScalar() ? item.Scalar() : "";
    if (v == "any") {
      any = true;
    } else if (std::find(kConclusions.begin(), kConclusions.end(), v) != kConclusions.end()) {
      c->conclusions.push_back(v);
    } else {
      std::vector<std::string> candidates = kConclusions;
      candidates.push_back("any");
      std::string best = item.IsScalar() ? ClosestMatch(v, candidates) : "";
      in.Error(
          item, p,
          "expected a run conclusion (" + Join(kConclusions) + " or any), got " + item.Describe(),
          best.empty() ? "" : "did you mean '" + best + "'?");
    }
  }
  if (any) c->conclusions.clear();  // empty means any conclusion
}

// Chains whose dispatches lead back to their own trigger would dispatch
// forever. Conclusions and repositories are ignored: a loop that only
// closes on some outcomes is still a loop worth refusing.
void CheckChainLoops(PolicyReader& in, const Policy& policy, const std::vector<yaml::Node>& nodes) {
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
    in.Error(nodes[start], "chains[" + std::to_string(start) + "]",
             "chains form a loop (" + cycle + "): each run would start the next, forever",
             "break the loop by removing one of these chains");
  }
}

// The chain's name: valid, and not used by an earlier chain.
void ParseChainName(PolicyReader& in, const Entry* e, const std::string& path,
                    std::map<std::string, yaml::Node>* names, Chain& c) {
  std::string p = path + ".name";
  if (auto name = in.GetString(e->value, p, "a chain name")) {
    if (!IsValidName(*name)) {
      in.Error(e->value, p, "chain names may use letters, digits, '_', '-' and '.'",
               "the name goes into idempotency keys such as chain:NAME:RUN_ID:ATTEMPT");
    } else if (auto it = names->find(*name); it != names->end()) {
      in.Error(e->value, p, "duplicate chain name '" + *name + "'",
               "first used at line " + std::to_string(it->second.Mark().line + 1) +
                   "; chain names must be unique");
    } else {
      names->emplace(*name, e->value);
      c.name = *name;
    }
  }
}

// The chain's `after:` map: the workflow whose completion starts it, the
// conclusions and repositories it follows.
void ParseAfter(PolicyReader& in, const Entry* e, const std::string& path, Chain& c) {
  std::string p = path + ".after";
  if (in.ExpectMap(e->value, p, "a map with workflow and conclusion", false)) {
    auto as = in.Entries(e->value, p, &kAfterKeys);
    if (const Entry* w = Find(as, "workflow")) {
      if (auto wf = in.GetWorkflow(w->value, p + ".workflow")) c.after_workflow = *wf;
    } else {
      in.Error(e->value, p + ".workflow", "missing required key",
               "name the workflow file whose completion starts this chain");
    }
    c.conclusions = {"success"};
    if (const Entry* k = Find(as, "conclusion")) ParseConclusions(in, k->value, p, &c);
    if (const Entry* r = Find(as, "repository")) {
      if (auto rs = in.GetRepositories(r->value, p + ".repository")) c.repositories = *rs;
    }
  }
}

// The chain's `dispatch:` map: the workflow to dispatch, its ref, inputs
// and repository.
void ParseDispatch(PolicyReader& in, const Entry* e, const std::string& path, Chain& c) {
  std::string p = path + ".dispatch";
  if (in.ExpectMap(e->value, p, "a map with workflow, inputs and optionally ref", false)) {
    auto ds = in.Entries(e->value, p, &kDispatchKeys);
    if (const Entry* w = Find(ds, "workflow")) {
      if (auto wf = in.GetWorkflow(w->value, p + ".workflow")) c.dispatch_workflow = *wf;
    } else {
      in.Error(e->value, p + ".workflow", "missing required key",
               "name the workflow file to dispatch");
    }
    if (const Entry* r = Find(ds, "ref")) {
      if (auto t = in.GetTemplate(r->value, p + ".ref")) {
        if (t->source().empty()) {
          in.Error(r->value, p + ".ref", "expected a branch or tag name, got ''");
        } else {
          c.ref = std::move(*t);
        }
      }
    }
    if (const Entry* inputs = Find(ds, "inputs")) {
      c.inputs = in.GetInputs(inputs->value, p + ".inputs");
    }
    if (const Entry* r = Find(ds, "repository")) {
      std::string rp = p + ".repository";
      if (!r->value.IsScalar() || !IsValidRepository(r->value.Scalar())) {
        in.Error(r->value, rp, "expected one repository as owner/name, got " + r->value.Describe());
      } else {
        c.dispatch_repository = r->value.Scalar();
      }
    }
  }
}

std::optional<Chain> ParseChain(PolicyReader& in, const yaml::Node& n, const std::string& path,
                                std::map<std::string, yaml::Node>* names) {
  if (!in.ExpectMap(n, path, "a chain (a map with name, after and dispatch)", false)) {
    return std::nullopt;
  }
  Chain c;
  c.location = {n.Mark().line + 1, n.Mark().column + 1};
  size_t errors_before = in.ErrorCount();
  auto entries = in.Entries(n, path, &kChainKeys);
  for (std::string_view key : {"name", "after", "dispatch"}) {
    if (Find(entries, key) == nullptr) {
      in.Error(n, path + "." + std::string(key), "missing required key");
    }
  }
  if (const Entry* e = Find(entries, "name")) ParseChainName(in, e, path, names, c);
  if (const Entry* e = Find(entries, "after")) ParseAfter(in, e, path, c);
  if (const Entry* e = Find(entries, "dispatch")) ParseDispatch(in, e, path, c);
  if (in.ErrorCount() != errors_before) return std::nullopt;
  if (c.dispatch_workflow == c.after_workflow) {
    in.Error(Find(entries, "dispatch")->value, path + ".dispatch.workflow",
             "dispatches the workflow it follows ('" + c.after_workflow +
                 "'): every run would start another, forever");
    return std::nullopt;
  }
  return c;
}

}  // namespace

void ParseChains(const yaml::Node& n, PolicyReader& in, Policy* policy) {
  if (n.IsNull()) return;
  if (!n.IsSequence()) {
    in.Error(n, "chains",
             "expected a list of chains (items starting with '- name:'), got " + n.Describe());
    return;
  }
  std::map<std::string, yaml::Node> names;
  std::vector<yaml::Node> chain_nodes;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string path = "chains[" + std::to_string(i) + "]";
    if (auto c = ParseChain(in, n[i], path, &names)) {
      policy->chains.push_back(std::move(*c));
      chain_nodes.push_back(n[i]);
    }
  }
  CheckChainLoops(in, *policy, chain_nodes);
}

}  // namespace relayq::policy
