#include "cli/doctor_cmd.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/command.h"
#include "cli/github_commands.h"
#include "cli/hooks_cmd.h"
#include "common/connect_probe.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "handlers/recovery.h"
#include "policy/policy_loader.h"
#include "server/github_setup.h"
#include "store/store.h"

namespace relayq::cli {
namespace {

// How long doctor waits for a notification receiver to take a connection.
constexpr std::chrono::milliseconds kNotifyProbeTimeout{3000};

std::string Bracket(const std::vector<std::string>& labels) {
  std::string out = "[";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + labels[i];
  return out + "]";
}

bool RouteAppliesTo(const policy::Route& route, std::string_view repo) {
  if (route.match.repositories.empty()) return true;
  return std::any_of(route.match.repositories.begin(), route.match.repositories.end(),
                     [&](const std::string& r) { return policy::EqualsIgnoreCase(r, repo); });
}

DoctorCheck Pass(std::string name, std::string detail) {
  return {true, std::move(name), std::move(detail), ""};
}
DoctorCheck Fail(std::string name, std::string detail, std::string hint) {
  return {false, std::move(name), std::move(detail), std::move(hint)};
}

// The hint for a GitHub error, by kind; the message itself is in the detail.
std::string GitHubHint(const Status& s) {
  switch (s.code()) {
    case Status::Code::kPermissionDenied:
      return "the token lacks access: a fine-grained token needs, on this repository, "
             "\"Actions: read and write\", \"Webhooks: read and write\", \"Administration: read\" "
             "(self-hosted runners) and \"Metadata: read\"; a classic token needs the repo scope "
             "and admin access to the repository";
    case Status::Code::kNotFound:
      return "the repository does not exist or the token cannot see it (a fine-grained token "
             "must list it under Repository access)";
    case Status::Code::kRateLimited:
      return "GitHub is rate-limiting this token; try again later";
    default:
      return "check github.api_url / RELAYQ_GITHUB_API_URL and the network";
  }
}

std::string StoreHint() {
  return "check store.path / --db and its directory's owner and mode; another process may hold "
         "a write lock";
}

DoctorCheck CheckStore(const server::Config& config) {
  const std::string name = "store writable";
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(config.db_path, ec)) {
    // Do not create a store as a side effect; serve will, if it can.
    fs::path dir = fs::path(config.db_path).parent_path();
    if (dir.empty()) dir = ".";
    if (::access(dir.c_str(), W_OK) == 0) {
      return Pass(name, config.db_path + " does not exist yet; its directory is writable");
    }
    return Fail(name, "cannot create " + config.db_path + " (directory not writable)", StoreHint());
  }
  store::StoreOptions o;
  o.path = config.db_path;
  o.synchronous = config.synchronous;
  auto st = store::Store::Open(o, Clock::Real());
  if (!st.ok()) return Fail(name, st.status().message(), StoreHint());
  Status s = (*st)->CheckWritable();
  (*st)->Close();
  if (!s.ok()) return Fail(name, s.message(), StoreHint());
  return Pass(name, config.db_path);
}

// The policy path doctor checks: --policy, else the config's, else
// policy/policy.yaml when it exists (serve's default).
std::string PolicyPath(const server::Config& config) {
  if (!config.policy_path.empty()) return config.policy_path;
  std::error_code ec;
  if (std::filesystem::exists("policy/policy.yaml", ec)) return "policy/policy.yaml";
  return "";
}

// A mountinfo field with its octal escapes (\040 for a space, ...) undone.
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() &&
        std::isdigit(static_cast<unsigned char>(field[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(field[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(field[i + 3]))) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// True when `mount_point` is `dir` or one of its ancestors.
bool Covers(const std::string& mount_point, const std::string& dir) {
  if (mount_point == "/") return true;
  return dir == mount_point ||
         (dir.size() > mount_point.size() && dir.compare(0, mount_point.size(), mount_point) == 0 &&
          dir[mount_point.size()] == '/');
}

// The store's directory, absolute and with symlinks resolved as far as it exists.
std::string StoreDirectory(const std::string& db_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(db_path), ec).parent_path();
  fs::path resolved = fs::weakly_canonical(dir, ec);
  return ec ? dir.string() : resolved.string();
}

// The text of the mountinfo file (RELAYQ_MOUNTINFO, for tests, else
// /proc/self/mountinfo); nullopt where it cannot be read (not Linux).
std::optional<std::string> ReadMountinfo() {
  const char* env = std::getenv("RELAYQ_MOUNTINFO");
  std::ifstream in(env != nullptr && *env != '\0' ? env : "/proc/self/mountinfo");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<DoctorCheck> CheckWebhook(github::GitHubClient& client, const server::Config& config,
                                      const std::string& repo) {
  std::vector<DoctorCheck> out;
  const std::string name = "webhook " + repo;
  const std::string install_hint =
      "run: relayq hooks install --repo " + repo + " --url https://YOUR-HOST/webhook";
  auto hooks = client.ListHooks(repo);
  if (!hooks.ok()) {
    out.push_back(Fail(name, hooks.status().message(), GitHubHint(hooks.status())));
    return out;
  }
  auto hook = handlers::SelectRelayqHook(*hooks, config.github_hook_url);
  if (!hook.ok()) {
    std::string hint = hook.status().code() == Status::Code::kNotFound
                           ? install_hint
                           : "set github.hook_url to relayq's webhook URL";
    out.push_back(Fail(name, hook.status().message(), hint));
    return out;
  }
  std::vector<std::string> wrong;
  for (const std::string& e : handlers::kRelayqHookEvents) {
    if (std::find(hook->events.begin(), hook->events.end(), e) == hook->events.end() &&
        std::find(hook->events.begin(), hook->events.end(), "*") == hook->events.end()) {
      wrong.push_back("event " + e + " missing");
    }
  }
  if (!hook->active) wrong.push_back("inactive");
  if (hook->content_type != "json") wrong.push_back("content type " + hook->content_type);
  if (!hook->has_secret) wrong.push_back("no secret");
  std::string what = "hook " + std::to_string(hook->id) + " " + hook->url;
  if (!wrong.empty()) {
    std::string list;
    for (const auto& w : wrong) list += (list.empty() ? "" : ", ") + w;
    out.push_back(Fail(name, what + ": " + list,
                       "run: relayq hooks install --repo " + repo + " --url " + hook->url));
    return out;
  }
  out.push_back(Pass(name, what + " (workflow_job, workflow_run, json, secret)"));

  const std::string reach = "webhook " + repo + " reaches relayq";
  auto page = client.ListHookDeliveries(repo, hook->id, 1, "");
  if (!page.ok()) {
    out.push_back(Fail(reach, page.status().message(), GitHubHint(page.status())));
  } else if (page->deliveries.empty()) {
    out.push_back(Pass(reach, "no deliveries yet"));
  } else {
    const github::HookDelivery& d = page->deliveries.front();
    std::string last = "last delivery " + std::to_string(d.status_code) + " " + d.status;
    if (d.delivered_at_ms != 0) last += " at " + FormatRfc3339(d.delivered_at_ms);
    if (d.status_code >= 200 && d.status_code < 300) {
      out.push_back(Pass(reach, last));
    } else {
      out.push_back(Fail(reach, last,
                         "check that relayq serve is running and the funnel/HTTPS front reaches "
                         "its /webhook; then run relayq hooks recover --repo " +
                             repo));
    }
  }
  return out;
}

}  // namespace

std::vector<DoctorCheck> CheckRunnersAgainstPolicy(const policy::Policy& policy,
                                                   const std::vector<github::Runner>& runners,
                                                   std::string_view repo) {
  std::vector<DoctorCheck> out;
  const std::string r(repo);
  auto online_with = [&](const std::vector<std::string>& labels) {
    std::vector<std::string> online, offline;
    for (const github::Runner& runner : runners) {
      if (!policy::HasAllLabels(runner.labels, labels)) continue;
      (runner.online() ? online : offline).push_back(runner.name);
    }
    return std::pair{online, offline};
  };
  for (const policy::Route& route : policy.routes) {
    if (!RouteAppliesTo(route, repo)) continue;
    for (const auto& [role, labels] :
         {std::pair{"prefer", &route.prefer}, std::pair{"fallback", &route.fallback}}) {
      std::string name =
          "runners " + r + ": route " + route.name + " " + role + " " + Bracket(*labels);
      auto [online, offline] = online_with(*labels);
      if (!online.empty()) {
        std::string names;
        for (const auto& n : online) names += (names.empty() ? "" : ", ") + n;
        out.push_back(Pass(name, "online: " + names));
        continue;
      }
      std::string detail = "no online runner carries " + Bracket(*labels);
      if (!offline.empty()) {
        detail += " (offline: ";
        for (size_t i = 0; i < offline.size(); ++i) detail += (i ? ", " : "") + offline[i];
        detail += ")";
      }
      out.push_back(Fail(name, detail,
                         offline.empty()
                             ? "register a runner with these labels (deploy/runner-setup-*.sh "
                               "--extra-labels) or change the route's " +
                                   std::string(role) + " labels"
                             : "start the runner service on that machine and check its network"));
    }
    const auto& required = route.constraints.required_labels;
    if (required.empty()) continue;
    std::string name = "constraints " + r + ": route " + route.name + " fallback " +
                       Bracket(route.fallback) + " needs " + Bracket(required);
    std::vector<std::string> want = route.fallback;
    want.insert(want.end(), required.begin(), required.end());
    std::vector<std::string> ok_runners;
    for (const github::Runner& runner : runners) {
      if (policy::HasAllLabels(runner.labels, want)) ok_runners.push_back(runner.name);
    }
    if (!ok_runners.empty()) {
      std::string names;
      for (const auto& n : ok_runners) names += (names.empty() ? "" : ", ") + n;
      out.push_back(Pass(name, "carried by " + names));
    } else {
      std::string needs;
      for (const auto& l : required) needs += (needs.empty() ? "" : ", ") + ("needs_" + l);
      out.push_back(Fail(
          name,
          "no runner carrying " + Bracket(route.fallback) + " also carries " + Bracket(required),
          "add the labels to a fallback runner (runner-setup --extra-labels) or "
          "drop " +
              needs + " from route " + route.name));
    }
  }
  return out;
}

DoctorCheck CheckStoreFilesystem(std::string_view mountinfo, const std::string& dir) {
  const std::string name = "store filesystem";
  struct Mount {
    std::string point, fstype, source;
    std::vector<std::string> options;  // per-mount and superblock options together
  };
  std::optional<Mount> best;
  for (const std::string& line : SplitAndTrim(mountinfo, '\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    const std::vector<std::string> f = SplitAndTrim(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || f.end() - dash < 3) continue;
    Mount m{Unescape(f[4]), dash[1], Unescape(dash[2]), {}};
    if (!Covers(m.point, dir)) continue;
    if (best && best->point.size() > m.point.size()) continue;
    for (const std::string& opts : {f[5], dash + 3 < f.end() ? dash[3] : std::string()}) {
      for (std::string& o : SplitAndTrim(opts, ',')) m.options.push_back(std::move(o));
    }
    best = std::move(m);
  }
  if (!best) return Pass(name, "no mount covers " + dir + " in the mount table; not checked");
  auto has = [&](std::string_view o) {
    return std::find(best->options.begin(), best->options.end(), o) != best->options.end();
  };
  const std::string found =
      dir + " is on " + best->fstype + " (" + best->source + " at " + best->point + ")";
  DoctorCheck warn{true, name, "", ""};
  warn.warn = true;
  if (best->fstype == "tmpfs" || best->fstype == "ramfs") {
    warn.detail = found + ": memory, not a disk";
    warn.hint =
        "every delivery, job and action is lost at reboot or power loss; put store.path on a disk";
    return warn;
  }
  const std::string& t = best->fstype;
  if (t == "nfs" || t == "nfs4" || t == "cifs" || t == "smb3" || t == "9p" || t == "fuse.sshfs") {
    warn.detail = found + ": a network filesystem";
    warn.hint =
        "SQLite's WAL needs shared memory and locks on one machine, and a dropped connection can "
        "lose writes relayq acknowledged; put the store on a local disk";
    return warn;
  }
  if (has("nobarrier") || has("barrier=0")) {
    warn.detail = found + ", mounted " + (has("nobarrier") ? "nobarrier" : "barrier=0");
    warn.hint =
        "without flush barriers the disk may reorder or drop writes relayq committed (and "
        "acknowledged to GitHub) when power is cut; remount without it, or move the store";
    return warn;
  }
  if (has("data=writeback")) {
    warn.detail = found + ", mounted data=writeback";
    warn.hint =
        "file data is not ordered with the journal: after a power cut the store's files may hold "
        "stale blocks; mount with data=ordered (the default), or move the store";
    return warn;
  }
  if ((best->fstype == "vfat" || best->fstype == "exfat" || best->fstype == "msdos") &&
      !has("sync")) {
    warn.detail = found + ", mounted async (FAT has no journal)";
    warn.hint =
        "a power cut during a write can corrupt the filesystem under the store (SD cards and USB "
        "sticks often come formatted FAT); put the store on ext4 (the Pi's root filesystem), or "
        "mount with -o sync";
    return warn;
  }
  return Pass(name, found);
}

std::vector<DoctorCheck> CheckNotifyTargets(const std::vector<notify::Target>& targets,
                                            std::chrono::milliseconds timeout) {
  std::vector<DoctorCheck> checks;
  for (const notify::Target& t : targets) {
    const std::string name = "notify " + t.name;
    auto url = notify::ParseUrl(t.url);
    if (!url.ok()) {
      checks.push_back(Fail(name, url.status().message(), "fix the url of this notify target"));
      continue;
    }
    const bool ipv6 = url->host.find(':') != std::string::npos;
    const std::string where =
        (ipv6 ? "[" + url->host + "]" : url->host) + ":" + std::to_string(url->port);
    if (std::string problem = ConnectProblem(url->host, url->port, timeout); !problem.empty()) {
      checks.push_back(Fail(name, "cannot connect to " + where + ": " + problem,
                            "check the target's url and that its receiver runs; relayq notify "
                            "test sends a real notification"));
    } else {
      checks.push_back(Pass(name, where + " takes connections (relayq notify test sends one)"));
    }
  }
  return checks;
}

std::string FormatCheck(const DoctorCheck& c) {
  std::string out = (!c.ok ? "FAIL  " : c.warn ? "WARN  " : "PASS  ") + c.name;
  if (!c.detail.empty()) out += ": " + c.detail;
  out += "\n";
  if ((!c.ok || c.warn) && !c.hint.empty()) out += "      hint: " + c.hint + "\n";
  return out;
}

CommandRun RegisterDoctor(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string policy;
    std::vector<std::string> repos;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("doctor", "Check the whole set-up: a pass/fail line each");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("--policy", f->policy, "Routing policy file (default policy/policy.yaml)");
  cmd->add_option("--repo", f->repos,
                  "Repository OWNER/NAME to check (repeatable; default "
                  "github.repositories)");
  return [f]() -> int {
    int failed = 0, passed = 0, warnings = 0;
    auto report = [&](const DoctorCheck& c) {
      std::cout << FormatCheck(c) << std::flush;
      (c.ok ? passed : failed)++;
      warnings += c.ok && c.warn;
    };
    auto finish = [&] {
      std::cout << "doctor: " << passed << " passed, " << failed << " failed";
      if (warnings > 0) std::cout << " (" << warnings << " with a warning)";
      std::cout << "\n";
      return failed == 0 ? 0 : 1;
    };

    ConfigSources sources;
    auto config = LoadCommandConfig(
        f->common,
        [&](server::Config& c) {
          if (!f->policy.empty()) c.policy_path = f->policy;
        },
        &sources);
    if (!config.ok()) {
      report(Fail("config", config.status().message(),
                  "fix the file at the line shown; every key is documented in the README"));
      return finish();
    }
    report(Pass("config", sources.config_file.empty()
                              ? std::string("none: built-in defaults")
                              : sources.config_file + " (from " + sources.chosen_by + ")"));
    if (!sources.env_file.empty()) {
      report(Pass("env file", sources.env_file + " (for variables the environment does not set)"));
    } else if (!sources.env_problem.empty() &&
               (!config->github_token.empty() || !config->github_app_id.empty())) {
      report(Pass("env file", "not read: " + sources.env_problem));
    } else if (!sources.env_problem.empty()) {
      report(Fail("env file", sources.env_problem,
                  "run relayq as root, or export GITHUB_TOKEN and the secrets yourself"));
    }
    if (config->secrets.empty()) {
      report(Fail("webhook secret", "none configured",
                  "set RELAYQ_WEBHOOK_SECRET or webhook.secret_file (relayq serve generates "
                  "relayq.secret beside the store on its first start)"));
    } else {
      report(Pass("webhook secret", std::to_string(config->secrets.size()) + " configured"));
    }
    report(CheckStore(*config));
    if (auto mountinfo = ReadMountinfo()) {
      report(CheckStoreFilesystem(*mountinfo, StoreDirectory(config->db_path)));
    }

    std::shared_ptr<const policy::Policy> pol;
    if (std::string path = PolicyPath(*config); path.empty()) {
      report(Pass("policy", "no policy file; routing is off and runner checks are skipped"));
    } else if (auto loaded = policy::LoadPolicy(path); !loaded.ok()) {
      report(Fail("policy", loaded.status().message(),
                  "run: relayq policy check " + path + " (every error with file and line)"));
    } else {
      pol = *loaded;
      report(Pass("policy", path + ": " + std::to_string(pol->routes.size()) + " routes, " +
                                std::to_string(pol->chains.size()) + " chains"));
    }

    for (const DoctorCheck& c : CheckNotifyTargets(config->notify.targets, kNotifyProbeTimeout)) {
      report(c);
    }

    auto client = MakeCliGitHubClient(*config, Clock::Real());
    if (!client.ok()) {
      report(Fail("github credentials", client.status().message(),
                  "set GITHUB_TOKEN (a fine-grained token with Actions: read and write, Webhooks: "
                  "read and write, Administration: read) or configure a GitHub App"));
      return finish();
    }
    report(Pass("github credentials",
                std::string(config->github_token.empty() ? "GitHub App " : "token ") + "for " +
                    config->github_api_url));

    std::vector<std::string> repos = f->repos.empty() ? config->github_repositories : f->repos;
    if (repos.empty()) {
      report(Fail("repositories", "none to check",
                  "pass --repo OWNER/NAME or set github.repositories in the config"));
      return finish();
    }
    for (const std::string& repo : repos) {
      if (Status s = ValidateRepository(repo); !s.ok()) {
        report(Fail("repository " + repo, s.message(), "use OWNER/NAME"));
        continue;
      }
      auto runs = (*client)->ListRunsWithStatus(repo, "queued");
      if (!runs.ok()) {
        report(Fail("actions access " + repo, runs.status().message(), GitHubHint(runs.status())));
      } else {
        report(Pass("actions access " + repo, std::to_string(runs->size()) + " queued runs"));
      }
      auto runners = (*client)->ListRunners(repo);
      if (!runners.ok()) {
        report(Fail("runners access " + repo, runners.status().message(),
                    GitHubHint(runners.status())));
      } else {
        int online = static_cast<int>(std::count_if(runners->begin(), runners->end(),
                                                    [](const auto& r) { return r.online(); }));
        report(Pass("runners access " + repo, std::to_string(runners->size()) + " runners, " +
                                                  std::to_string(online) + " online"));
      }
      for (const DoctorCheck& c : CheckWebhook(**client, *config, repo)) report(c);
      if (pol && runners.ok()) {
        for (const DoctorCheck& c : CheckRunnersAgainstPolicy(*pol, *runners, repo)) report(c);
      }
    }
    return finish();
  };
}

}  // namespace relayq::cli
