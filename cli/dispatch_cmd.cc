#include "cli/dispatch_cmd.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/admin_client.h"
#include "cli/size_probe.h"
#include "cli/status_cmd.h"
#include "common/redact.h"
#include "common/time_format.h"
#include "handlers/action_executor.h"
#include "handlers/action_progress.h"
#include "handlers/policy_holder.h"
#include "policy/policy.h"
#include "policy/policy_loader.h"
#include "server/dispatch_api.h"
#include "server/github_setup.h"
#include "store/action_store.h"
#include "store/database.h"
#include "store/store_lock.h"

namespace relayq::cli {
namespace {

// The claim `relayq dispatch` holds while it tries; after it the daemon may
// take the request over.
constexpr int64_t kCliLeaseMs = 2 * 60 * 1000;

// What the user asked for, parsed.
struct Submission {
  std::string repo;
  std::string workflow;  // a file name (server::WorkflowFileName)
  std::string ref;       // empty: the repository's default branch
  std::map<std::string, std::string> inputs;
};

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
void FillSizeInput(const server::Config& config, bool probe, Submission& s) {
  if (!probe || s.inputs.count("size_mb") || s.inputs.count("size_bytes")) return;
  auto url = s.inputs.find("url");
  if (url == s.inputs.end()) return;
  const std::string& u = url->second;
  if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) return;
  if (!WorkflowHasSizeLimit(config, s.workflow)) return;
  auto bytes = ProbeContentLength(u);
  if (!bytes.ok()) {
    std::cerr << "relayq: size of the input unknown (" << bytes.status().message()
              << "); give size_mb=N to let max_size_mb apply\n";
    return;
  }
  s.inputs["size_mb"] = SizeMbInput(*bytes);
}

// "dispatched as run R: URL" from a 202 answer or a local outcome.
std::string RunWords(const nlohmann::json& run_id, const nlohmann::json& run_url) {
  std::string out;
  if (run_id.is_number_integer()) out += " as run " + std::to_string(run_id.get<int64_t>());
  if (run_url.is_string()) out += ": " + run_url.get<std::string>();
  return out;
}

std::string TextOr(const nlohmann::json& j, const char* key, const std::string& fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Through a running relayq's admin API.
int RunRemote(const server::Config& config, const std::string& url, const Submission& s,
              int64_t& id_out) {
  auto client = AdminClient::Create(url, config.admin_token);
  if (!client.ok()) return FailWith(client.status());
  nlohmann::json body = {{"repo", s.repo}, {"workflow", s.workflow}, {"inputs", s.inputs}};
  if (!s.ref.empty()) body["ref"] = s.ref;
  // One key for every resend of this submission: a lost answer is asked
  // again and the daemon dispatches once.
  auto answer = (*client)->Post("/api/v1/dispatch", body, NewIdempotencyKey());
  if (!answer.ok()) {
    std::cerr << "relayq: nothing submitted: " << RedactUrlsIn(answer.status().message()) << "\n";
    return 1;
  }
  const nlohmann::json& j = answer->body;
  if (!answer->ok()) {
    Status why = AnswerStatus(*answer, **client);
    std::cerr << "relayq: " << RedactUrlsIn(why.message()) << "\n";
    return 1;
  }
  if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer()) {
    std::cerr << "relayq: relayq at " << (*client)->url()
              << " answered without a request id; the request may be recorded there\n";
    return 1;
  }
  const int64_t id = j["id"].get<int64_t>();
  id_out = id;
  std::cout << id << std::endl;
  const std::string status = TextOr(j, "status", "");
  if (status == "dispatched") {
    std::cerr << "relayq: request " << id << ": dispatched " << TextOr(j, "workflow", s.workflow)
              << " on " << TextOr(j, "ref", "the default branch")
              << RunWords(j.value("run_id", nlohmann::json()), j.value("run_url", nlohmann::json()))
              << "\n";
    return 0;
  }
  if (status == "queued") {
    std::cerr << "relayq: request " << id << " is recorded by relayq at " << (*client)->url()
              << " and not sent yet";
    if (j.value("last_error", nlohmann::json()).is_string()) {
      std::cerr << " (GitHub: " << RedactUrlsIn(j["last_error"].get<std::string>());
      if (j.value("last_tried_at", nlohmann::json()).is_string()) {
        std::cerr << "; last tried " << j["last_tried_at"].get<std::string>();
      }
      std::cerr << ")";
    }
    std::cerr << "; it will send it when GitHub answers";
    if (j.value("next_try_at", nlohmann::json()).is_string()) {
      std::cerr << " (next try " << j["next_try_at"].get<std::string>() << ")";
    }
    std::cerr << "\n";
    return 0;
  }
  std::cerr << "relayq: request " << id << " is "
            << (status.empty() ? "in an unknown state" : status) << ": "
            << RedactUrlsIn(TextOr(j, "error", TextOr(j, "last_error", "no reason given"))) << "\n";
  return 1;
}

// The run URL GitHub returned for an action's dispatch, from its progress.
std::string RunUrlOf(store::ActionStore& actions, int64_t action_id) {
  auto a = actions.GetAction(action_id);
  if (!a.ok() || !*a) return "";
  try {
    return handlers::ActionProgress::Parse((*a)->result).html_url.value_or("");
  } catch (const std::exception&) {
    return "";
  }
}

// On a local store, trying GitHub from here.
int RunLocal(const server::Config& config, bool init, const Submission& s, int64_t& id_out) {
  const std::string& path = config.db_path;
  if (!init && !std::filesystem::exists(path)) {
    std::cerr << "relayq: no store at " << path
              << ": give --db the store `relayq serve` uses, --init to create one here, or "
                 "--server URL (RELAYQ_SERVER) to submit through a running relayq\n";
    return 1;
  }
  // A daemon serving this store will send what GitHub does not take now.
  const bool daemon = store::StoreLock::IsHeld(path);
  const bool credentials = server::HasGitHubCredentials(config);
  if (!credentials && !daemon) {
    std::cerr << "relayq: nothing recorded: no GitHub credentials here (GITHUB_TOKEN or a GitHub "
                 "App) and no relayq serves "
              << path << " to send it\n";
    return 1;
  }

  Clock& clock = Clock::Real();
  store::StoreOptions o;
  o.path = path;
  o.synchronous = config.synchronous;
  auto database = store::Database::Open(
      o, init ? store::Database::Mode::kCreate : store::Database::Mode::kExisting);
  if (!database.ok()) return FailWith(database.status());
  if (Status migrated = (*database)->Migrate(); !migrated.ok()) return FailWith(migrated);
  auto actions = (*database)->OpenActionStore();
  if (!actions.ok()) return FailWith(actions.status());
  store::DispatchRequest request;
  request.repository = s.repo;
  request.workflow = s.workflow;
  request.ref = s.ref;
  request.inputs = s.inputs;
  const std::string owner = "cli:" + std::to_string(::getpid());
  const int64_t now = ToUnixMillis(clock.Now());
  store::Claim claim;
  auto recorded = (*actions)->CreateDispatch(request, owner, now, now + kCliLeaseMs, claim);
  if (!recorded.ok()) return FailWith(recorded.status());
  const int64_t id = recorded->id;
  id_out = id;
  std::cout << id << std::endl;
  const std::string held_by = "the relayq serving " + path + " will send it";

  if (!credentials) {
    (void)(*actions)->ReleaseClaim(claim, ToUnixMillis(clock.Now()));
    std::cerr << "relayq: request " << id
              << " is recorded but not sent from here (no GitHub credentials here); " << held_by
              << "\n";
    return 0;
  }
  auto options = server::GitHubClientOptions(config);
  if (!options.ok()) return FailWith(options.status());
  // A person is waiting: a bounded try, then the daemon (if any) takes over.
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
  // With no daemon to send it later, one try: a request GitHub did not take
  // ends failed here rather than waiting for some later `serve`.
  if (!daemon) exec.max_attempts = 1;
  handlers::ActionExecutor executor(**actions, **client, no_policy, clock, metrics, exec);
  auto action = (*actions)->GetAction(claim.action_id);
  if (!action.ok() || !*action)
    return FailWith(action.ok() ? Status::Internal("action vanished") : action.status());
  handlers::ActionOutcome outcome = executor.Execute(**action, claim);
  const std::string message = RedactUrlsIn(outcome.message);
  switch (outcome.status) {
    case handlers::ExecOutcome::kDone: {
      const std::string url = RunUrlOf(**actions, claim.action_id);
      std::cerr << "relayq: request " << id << ": " << message << (url.empty() ? "" : ": " + url)
                << "\n";
      return 0;
    }
    case handlers::ExecOutcome::kRetrying: {
      auto a = (*actions)->GetAction(claim.action_id);
      std::string next;
      if (a.ok() && *a && (*a)->next_attempt_at) {
        next = " (next try " + FormatRfc3339(*(*a)->next_attempt_at) + ")";
      }
      std::cerr << "relayq: request " << id << " is recorded; GitHub did not answer (" << message
                << ", tried " << FormatRfc3339(ToUnixMillis(clock.Now())) << "); " << held_by
                << next << "\n";
      return 0;
    }
    case handlers::ExecOutcome::kLost:
      std::cerr << "relayq: request " << id << " was taken over by another relayq on " << path
                << "; it will send it\n";
      return 0;
    default:
      break;
  }
  auto r = (*actions)->GetRequest(id);
  if (r.ok() && *r && (*r)->status == store::RequestStatus::kPending) {
    // Given up here for want of a daemon: recorded as failed so no later
    // `serve` sends it by surprise.
    const std::string why = "not sent: GitHub did not answer (" + outcome.message +
                            ") and no relayq serves this store to send it later";
    (void)(*actions)->MarkRequestFailed(id, why, ToUnixMillis(clock.Now()));
    std::cerr << "relayq: request " << id << " not sent: GitHub did not answer (" << message
              << ") and no relayq serves " << path
              << " to send it later; recorded as failed (try again, or run relayq serve)\n";
    return 1;
  }
  std::cerr << "relayq: request " << id << " failed: " << message << "\n";
  return 1;
}

}  // namespace

CommandRun RegisterDispatch(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string workflow, repo, ref, server;
    std::vector<std::string> pairs;
    bool no_size_probe = false;
    bool init = false;
    bool wait = false;
    double interval_s = 2.0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "dispatch", "Submit a job through relayq: record its inputs, dispatch it, print its id");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("WORKFLOW", f->workflow,
                  "Workflow file, e.g. transcribe_mac.yml (a bare name gets .yml)")
      ->required();
  cmd->add_option("INPUTS", f->pairs, "Inputs as key=value");
  cmd->add_option("--repo", f->repo, "OWNER/NAME (default: github.repositories when it names one)");
  cmd->add_option("--ref", f->ref,
                  "Branch or tag to run on (default: the repository's default "
                  "branch)");
  cmd->add_option("--server", f->server,
                  "Submit through the relayq whose admin API is at URL (default: RELAYQ_SERVER, "
                  "else admin.server; none: the local store)");
  cmd->add_flag("--init", f->init, "Create the local store when it does not exist");
  cmd->add_flag("--wait", f->wait,
                "Follow the request to its end (as relayq status ID --wait): exit 0 when its "
                "last run succeeded, 1 otherwise");
  cmd->add_option("--interval", f->interval_s, "With --wait: seconds between two looks (default 2)")
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_flag("--no-size-probe", f->no_size_probe,
                "Do not learn size_mb from a HEAD request to the url input");
  return [f] {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    Submission s;
    s.repo = f->repo;
    if (Status st = DefaultRepository(*config, s.repo); !st.ok()) {
      std::cerr << "relayq: " << st.message() << "\n";
      return 2;
    }
    s.workflow = server::WorkflowFileName(f->workflow);
    s.ref = f->ref;
    for (const auto& kv : f->pairs) {
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
      s.inputs[key] = kv.substr(eq + 1);
    }
    FillSizeInput(*config, !f->no_size_probe, s);
    const std::string server_url = ChooseServer(f->server, *config);
    int64_t id = 0;
    const int code = server_url.empty() ? RunLocal(*config, f->init, s, id)
                                        : RunRemote(*config, server_url, s, id);
    if (code != 0 || !f->wait) return code;
    // --wait: the same follow loop as `relayq status ID --wait`, reading the
    // story where the request was recorded.
    auto source = server_url.empty() ? StoreStorySource(config->db_path)
                                     : ServerStorySource(server_url, config->admin_token);
    if (!source.ok()) return FailWith(source.status());
    FollowOptions follow;
    follow.interval = std::chrono::milliseconds(static_cast<int64_t>(f->interval_s * 1000));
    return FollowRequest(**source, id, follow, std::cerr, std::cerr);
  };
}

}  // namespace relayq::cli
