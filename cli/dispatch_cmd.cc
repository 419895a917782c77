#include "cli/dispatch_cmd.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/size_probe.h"
#include "common/redact.h"
#include "handlers/action_executor.h"
#include "handlers/policy_holder.h"
#include "policy/policy.h"
#include "policy/policy_loader.h"
#include "server/github_setup.h"
#include "store/action_store.h"
#include "store/store.h"

namespace relayq::cli {
namespace {

// The claim `relayq dispatch` holds while it tries; after it the daemon may
// take the request over.
constexpr int64_t kCliLeaseMs = 2 * 60 * 1000;

// Whether the policy relayq routes by (the config's `policy:`, else
// policy/policy.yaml when it exists, as `relayq serve` picks it) has a route
// that governs `workflow` and limits the input size: only then does the
// workflow declare a size_mb input (GitHub refuses an undeclared input with
// 422) and does knowing the size change anything. An unreadable policy: no.
bool WorkflowHasSizeLimit(const server::Config& config, const std::string& workflow) {
  std::string path = config.policy_path;
  if (path.empty() && std::filesystem::exists("policy/policy.yaml")) path = "policy/policy.yaml";
  if (path.empty()) return false;
  auto loaded = policy::LoadPolicy(path);
  if (!loaded.ok()) return false;
  for (const policy::Route& r : (*loaded)->routes) {
    if (r.match.workflow == workflow && r.constraints.max_size_mb.has_value()) return true;
  }
  return false;
}

// Fills the size_mb input from a HEAD of the `url` input when the user gave
// no size_mb/size_bytes, `probe` allows it and the workflow's route has a
// max_size_mb. A failed probe leaves the size unknown (max_size_mb then does
// not stop a fallback) and says so on stderr, naming the URL redacted.
void FillSizeInput(const server::Config& config, bool probe, store::DispatchRequest& request) {
  if (!probe || request.inputs.count("size_mb") || request.inputs.count("size_bytes")) return;
  auto url = request.inputs.find("url");
  if (url == request.inputs.end()) return;
  const std::string& u = url->second;
  if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) return;
  if (!WorkflowHasSizeLimit(config, request.workflow)) return;
  auto bytes = ProbeContentLength(u);
  if (!bytes.ok()) {
    std::cerr << "relayq: size of the input unknown (" << bytes.status().message()
              << "); give size_mb=N to let max_size_mb apply\n";
    return;
  }
  request.inputs["size_mb"] = SizeMbInput(*bytes);
}

int RunDispatch(const server::Config& config, const std::string& workflow_arg,
                const std::vector<std::string>& pairs, const std::string& repo,
                const std::string& ref, bool probe_size) {
  store::DispatchRequest request;
  request.repository = repo;
  request.workflow = std::string(policy::WorkflowBasename(workflow_arg));
  request.ref = ref;
  for (const auto& kv : pairs) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "relayq: '" << kv << "' is not key=value\n";
      return 2;
    }
    std::string key = kv.substr(0, eq);
    if (key == "relayq_id") {
      std::cerr << "relayq: relayq_id is set by relayq itself\n";
      return 2;
    }
    request.inputs[key] = kv.substr(eq + 1);
  }
  FillSizeInput(config, probe_size, request);

  Clock& clock = Clock::Real();
  // Creates and migrates the store when this is the first thing run.
  store::StoreOptions o;
  o.path = config.db_path;
  o.synchronous = config.synchronous;
  auto database = store::Database::Open(o, store::Database::Mode::kCreate);
  if (!database.ok()) return FailWith(database.status());
  if (Status migrated = (*database)->Migrate(); !migrated.ok()) return FailWith(migrated);
  auto actions = (*database)->OpenActionStore();
  if (!actions.ok()) return FailWith(actions.status());
  const std::string owner = "cli:" + std::to_string(::getpid());
  const int64_t now = ToUnixMillis(clock.Now());
  store::Claim claim;
  auto recorded = (*actions)->CreateDispatch(request, owner, now, now + kCliLeaseMs, claim);
  if (!recorded.ok()) return FailWith(recorded.status());
  const int64_t id = recorded->id;
  std::cout << id << std::endl;

  auto leave_to_daemon = [&](const std::string& why) {
    (void)(*actions)->ReleaseClaim(claim, ToUnixMillis(clock.Now()));
    std::cerr << "relayq: request " << id << " is recorded but not sent yet (" << why
              << "); relayq serve will send it when GitHub answers\n";
    return 0;
  };
  if (!server::HasGitHubCredentials(config)) return leave_to_daemon("no GitHub credentials here");
  auto options = server::GitHubClientOptions(config);
  if (!options.ok()) return FailWith(options.status());
  // A person is waiting: fail over to the daemon quickly instead of blocking.
  options->max_attempts = 2;
  options->backoff_max = std::chrono::seconds(2);
  options->max_rate_limit_wait = std::chrono::seconds(5);
  auto client = github::HttpGitHubClient::Create(*options, clock, github::Sleeper::Real());
  if (!client.ok()) return FailWith(client.status());

  handlers::PolicyHolder no_policy(std::make_shared<policy::Policy>());
  MetricsRegistry metrics;
  handlers::ExecutorOptions exec;
  exec.owner = owner;
  exec.retry_base = std::chrono::seconds(10);
  handlers::ActionExecutor executor(**actions, **client, no_policy, clock, metrics, exec);
  auto action = (*actions)->GetAction(claim.action_id);
  if (!action.ok() || !*action)
    return FailWith(action.ok() ? Status::Internal("action vanished") : action.status());
  handlers::ActionOutcome outcome = executor.Execute(**action, claim);
  if (outcome.status == handlers::ExecOutcome::kDone) {
    std::cerr << "relayq: request " << id << ": " << RedactUrlsIn(outcome.message) << "\n";
    return 0;
  }
  if (outcome.status == handlers::ExecOutcome::kRetrying) {
    std::cerr << "relayq: request " << id << " is recorded; GitHub did not answer ("
              << RedactUrlsIn(outcome.message)
              << "); relayq serve will send it when GitHub answers\n";
    return 0;
  }
  std::cerr << "relayq: request " << id << " failed: " << RedactUrlsIn(outcome.message) << "\n";
  return 1;
}

}  // namespace

CommandRun RegisterDispatch(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string workflow, repo, ref = "main";
    std::vector<std::string> pairs;
    bool no_size_probe = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "dispatch", "Submit a job through relayq: record its inputs, dispatch it, print its id");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("WORKFLOW", f->workflow, "Workflow file, e.g. transcribe_mac.yml")->required();
  cmd->add_option("INPUTS", f->pairs, "Inputs as key=value");
  cmd->add_option("--repo", f->repo, "OWNER/NAME (default: github.repositories when it names one)");
  cmd->add_option("--ref", f->ref, "Branch or tag to run on (default main)");
  cmd->add_flag("--no-size-probe", f->no_size_probe,
                "Do not learn size_mb from a HEAD request to the url input");
  return [f] {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    if (f->repo.empty() && config->github_repositories.size() == 1) {
      f->repo = config->github_repositories.front();
    }
    if (f->repo.find('/') == std::string::npos) {
      std::cerr << "relayq: --repo must be OWNER/NAME (it defaults to github.repositories when "
                   "that names one)\n";
      return 2;
    }
    return RunDispatch(*config, f->workflow, f->pairs, f->repo, f->ref, !f->no_size_probe);
  };
}

}  // namespace relayq::cli
