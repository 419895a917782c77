#include "cli/hooks_cmd.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/command.h"
#include "cli/github_commands.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "handlers/recovery.h"
#include "server/github_setup.h"
#include "store/store.h"

namespace relayq::cli {

github::HookSpec RelayqHookSpec(std::string url, std::string secret) {
  github::HookSpec spec;
  spec.url = std::move(url);
  spec.secret = std::move(secret);
  spec.events = handlers::kRelayqHookEvents;
  spec.content_type = "json";
  spec.active = true;
  return spec;
}

std::vector<std::string> HookDifferences(const github::Hook& hook, const github::HookSpec& want) {
  std::vector<std::string> diff;
  std::set<std::string> have_events(hook.events.begin(), hook.events.end());
  std::set<std::string> want_events(want.events.begin(), want.events.end());
  if (have_events != want_events) diff.push_back("events");
  if (hook.content_type != want.content_type) diff.push_back("content_type");
  if (hook.active != want.active) diff.push_back("active");
  if (!want.secret.empty() && !hook.has_secret) diff.push_back("secret");
  return diff;
}

std::string UnreachableHostReason(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::string_view rest = url.substr(start);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string host;
  if (!rest.empty() && rest.front() == '[') {
    host = std::string(rest.substr(1, rest.find(']') - 1));
  } else {
    host = std::string(rest.substr(0, rest.find(':')));
  }
  host = ToLower(host);
  while (!host.empty() && host.back() == '.') host.pop_back();
  auto ends_with = [&](std::string_view suffix) {
    return host.size() >= suffix.size() &&
           host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (host.empty()) return "the URL has no host";
  if (host == "localhost" || ends_with(".localhost")) return host + " is this machine";
  if (ends_with(".local")) return host + " is a local-network (mDNS) name";
  if (ends_with(".internal") || ends_with(".lan") || ends_with(".home.arpa"))
    return host + " is a private-network name";
  unsigned char a[16];
  if (inet_pton(AF_INET, host.c_str(), a) == 1) {
    if (a[0] == 127) return host + " is a loopback address";
    if (a[0] == 0) return host + " is not a routable address";
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
      return host + " is a private (RFC 1918) address";
    if (a[0] == 169 && a[1] == 254) return host + " is a link-local address";
    if (a[0] == 100 && (a[1] & 0xc0) == 64)
      return host + " is a shared (CGNAT/Tailscale) address, reachable only inside the tailnet";
    return "";
  }
  if (inet_pton(AF_INET6, host.c_str(), a) == 1) {
    static const unsigned char kZero[16] = {};
    if (std::equal(a, a + 15, kZero) && (a[15] == 0 || a[15] == 1))
      return host + " is a loopback or unspecified address";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return host + " is a link-local address";
    if ((a[0] & 0xfe) == 0xfc) return host + " is a unique-local (private) address";
    const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(a, a + 12, kMapped)) {
      char v4[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, a + 12, v4, sizeof v4);
      return UnreachableHostReason(std::string("http://") + v4);
    }
  }
  return "";
}

namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

int RunInstall(const server::Config& config, const std::string& repo, const std::string& url,
               bool force, bool allow_private) {
  if (config.secrets.empty()) {
    return FailWith(Status::InvalidArgument(
        "no webhook secret configured: set RELAYQ_WEBHOOK_SECRET or webhook.secret_file "
        "(relayq serve generates relayq.secret beside the store on its first start)"));
  }
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return FailWith(Status::InvalidArgument("--url must be an http(s) URL, got '" + url + "'"));
  }
  if (std::string why = UnreachableHostReason(url); !why.empty() && !allow_private) {
    return FailWith(Status::InvalidArgument(
        "GitHub cannot reach " + url + ": " + why +
        ". Expose relayq's public listener with deploy/funnel.sh (a Tailscale funnel) and pass "
        "its https://HOST.TAILNET.ts.net/webhook URL; for a GitHub Enterprise Server on the same "
        "network add --allow-private-url"));
  }
  auto client = MakeCliGitHubClient(config, Clock::Real());
  if (!client.ok()) return FailWith(client.status());
  auto hooks = (*client)->ListHooks(repo);
  if (!hooks.ok()) return FailWith(hooks.status());
  // The first secret is the current one; the others are only still accepted
  // while GitHub switches over (rotation).
  github::HookSpec spec = RelayqHookSpec(url, config.secrets.front());
  const std::string events = Join(spec.events, ", ");

  auto existing = std::find_if(hooks->begin(), hooks->end(),
                               [&](const github::Hook& h) { return h.url == url; });
  if (existing == hooks->end()) {
    auto created = (*client)->CreateHook(repo, spec);
    if (!created.ok()) return FailWith(created.status());
    std::cout << "created hook " << created->id << " on " << repo << ": " << url << " (events "
              << events << ", json, secret set)\n";
    return 0;
  }
  std::vector<std::string> diff = HookDifferences(*existing, spec);
  if (diff.empty() && !force) {
    std::cout << "unchanged hook " << existing->id << " on " << repo << ": " << url << "\n";
    return 0;
  }
  auto updated = (*client)->UpdateHook(repo, existing->id, spec);
  if (!updated.ok()) return FailWith(updated.status());
  std::cout << "updated hook " << existing->id << " on " << repo << ": "
            << (diff.empty() ? std::string("forced (secret)") : Join(diff, ", ")) << "\n";
  return 0;
}

int RunRemove(const server::Config& config, const std::string& repo, const std::string& url) {
  auto client = MakeCliGitHubClient(config, Clock::Real());
  if (!client.ok()) return FailWith(client.status());
  auto hooks = (*client)->ListHooks(repo);
  if (!hooks.ok()) return FailWith(hooks.status());
  auto hook = handlers::SelectRelayqHook(*hooks, url);
  if (!hook.ok()) return FailWith(hook.status().WithContext(repo));
  if (Status s = (*client)->DeleteHook(repo, hook->id); !s.ok()) {
    // A DELETE whose answer was lost may have happened, and a 404 means the
    // hook is already gone (a lost answer to an earlier try, or someone
    // else): look before calling it a failure.
    const bool maybe_done =
        s.code() == Status::Code::kOutcomeUnknown || s.code() == Status::Code::kNotFound;
    if (!maybe_done) return FailWith(s);
    auto after = (*client)->ListHooks(repo);
    if (!after.ok()) return FailWith(s);
    for (const github::Hook& h : *after) {
      if (h.id == hook->id) return FailWith(s);
    }
    std::cout << "removed hook " << hook->id << " from " << repo << ": " << hook->url
              << " (GitHub's answer was lost; the hook is gone)\n";
    return 0;
  }
  std::cout << "removed hook " << hook->id << " from " << repo << ": " << hook->url << "\n";
  return 0;
}

int RunList(const server::Config& config, const std::string& repo, const std::string& format) {
  auto client = MakeCliGitHubClient(config, Clock::Real());
  if (!client.ok()) return FailWith(client.status());
  auto hooks = (*client)->ListHooks(repo);
  if (!hooks.ok()) return FailWith(hooks.status());

  // One extra request per hook; a failure to read deliveries (e.g. a token
  // without webhook read access) shows as "?" rather than failing the list.
  struct Last {
    std::string status;  // "200 OK", "502 failed to connect", "-", "?"
    int64_t at_ms = 0;
  };
  std::vector<Last> last;
  for (const github::Hook& h : *hooks) {
    Last l{"-", 0};
    auto page = (*client)->ListHookDeliveries(repo, h.id, 1, "");
    if (!page.ok()) {
      l.status = "?";
    } else if (!page->deliveries.empty()) {
      const auto& d = page->deliveries.front();
      l.status = std::to_string(d.status_code) + " " + d.status;
      l.at_ms = d.delivered_at_ms;
    }
    last.push_back(l);
  }

  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < hooks->size(); ++i) {
      const github::Hook& h = (*hooks)[i];
      nlohmann::json last_delivery = nullptr;
      if (last[i].status != "-") {
        last_delivery = {
            {"status", last[i].status},
            {"delivered_at", last[i].at_ms ? nlohmann::json(FormatRfc3339(last[i].at_ms))
                                           : nlohmann::json(nullptr)}};
      }
      out.push_back({{"id", h.id},
                     {"url", h.url},
                     {"events", h.events},
                     {"active", h.active},
                     {"content_type", h.content_type},
                     {"secret", h.has_secret},
                     {"last_delivery", last_delivery}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < hooks->size(); ++i) {
    const github::Hook& h = (*hooks)[i];
    std::string when = last[i].at_ms ? " at " + FormatRfc3339(last[i].at_ms) : "";
    rows.push_back({std::to_string(h.id), h.url, Join(h.events, ","), h.active ? "yes" : "no",
                    h.content_type, h.has_secret ? "yes" : "no", last[i].status + when});
  }
  std::cout << FormatTable({"ID", "URL", "EVENTS", "ACTIVE", "TYPE", "SECRET", "LAST DELIVERY"},
                           rows);
  if (hooks->empty()) std::cout << "(no webhooks on " << repo << ")\n";
  return 0;
}

struct RecoverFlags {
  std::string since = "24h";
  std::string url;
  std::string stale_after;
};

int RunRecover(const server::Config& config, const std::string& repo, const RecoverFlags& f) {
  Clock& clock = Clock::Real();
  handlers::RecoveryOptions o;
  o.repository = repo;
  o.hook_url = f.url.empty() ? config.github_hook_url : f.url;
  auto since = ParseTimeFilter(f.since, clock.Now());
  if (!since.ok()) return FailWith(since.status().WithContext("--since"));
  o.since_ms = *since;
  o.stale_after = std::chrono::seconds(config.recovery_stale_after_s);
  if (!f.stale_after.empty()) {
    auto d = ParseDuration(f.stale_after);
    if (!d.ok()) return FailWith(d.status().WithContext("--stale-after"));
    o.stale_after = *d;
  }
  o.db_path = config.db_path;
  // Recovery compares against what relayq recorded; an empty new store
  // from a mistyped path would make everything look missing.
  std::error_code ec;
  if (!std::filesystem::exists(o.db_path, ec)) {
    return FailWith(
        Status::NotFound("no store at " + o.db_path + " (pass --db or set store.path)"));
  }

  auto client = MakeCliGitHubClient(config, clock);
  if (!client.ok()) return FailWith(client.status());
  store::StoreOptions so;
  so.path = config.db_path;
  so.synchronous = config.synchronous;
  auto st = store::Store::Open(so, clock);
  if (!st.ok()) return FailWith(st.status());

  auto report = handlers::RecoverRepository(**client, **st, clock, o);
  (*st)->Close();
  if (!report.ok()) return FailWith(report.status());
  for (const std::string& line : report->done) std::cout << line << "\n";
  for (const std::string& line : report->problems) std::cerr << "relayq: " << line << "\n";
  std::cout << repo << ": " << report->missing << " missing, " << report->redelivered
            << " redelivered, " << report->reconciled << " reconciled (hook " << report->hook_id
            << ", " << report->unique << " deliveries since " << FormatRfc3339(o.since_ms) << ", "
            << report->jobs_checked << " stale jobs checked)\n";
  return report->redelivery_failed > 0 ? 1 : 0;
}

}  // namespace

CommandRun RegisterHooks(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string repo, url, format = "table";
    bool force = false, allow_private = false;
    RecoverFlags recover;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* hooks = app.add_subcommand("hooks", "Install, show and recover the repository webhook");
  hooks->require_subcommand(1);
  const char* kRepoHelp = "Repository OWNER/NAME (default: github.repositories when it names one)";

  CLI::App* install =
      hooks->add_subcommand("install", "Create or update relayq's webhook (idempotent)");
  AddCommonFlags(install, f->common, /*with_db=*/true);
  install->add_option("--repo", f->repo, kRepoHelp);
  install->add_option("--url", f->url,
                      "Public webhook URL, e.g. https://host.ts.net/webhook (default "
                      "github.hook_url)");
  install->add_flag("--force", f->force,
                    "Update even when nothing visible differs (pushes a rotated secret)");
  install->add_flag("--allow-private-url", f->allow_private,
                    "Accept a loopback or private-network URL (GitHub Enterprise Server on the "
                    "same network)");

  CLI::App* list = hooks->add_subcommand("list", "Show the repository's webhooks");
  AddCommonFlags(list, f->common, /*with_db=*/false);
  list->add_option("--repo", f->repo, kRepoHelp);
  list->add_option("--format", f->format, "table or json")->check(CLI::IsMember({"table", "json"}));

  CLI::App* recover = hooks->add_subcommand(
      "recover", "Ask GitHub to redeliver what relayq missed; reconcile stale jobs");
  AddCommonFlags(recover, f->common, /*with_db=*/true);
  recover->add_option("--repo", f->repo, kRepoHelp);
  recover->add_option("--since", f->recover.since,
                      "RFC 3339 time or duration back from now (default 24h)");
  recover->add_option("--url", f->recover.url,
                      "Webhook URL that picks the hook (default github.hook_url, else the one "
                      "hook sending workflow_job)");
  recover->add_option("--stale-after", f->recover.stale_after,
                      "Check jobs unchanged this long against GitHub (default "
                      "recovery.stale_after, 5m)");

  CLI::App* remove = hooks->add_subcommand("remove", "Delete relayq's webhook from the repository");
  AddCommonFlags(remove, f->common, /*with_db=*/false);
  remove->add_option("--repo", f->repo, kRepoHelp);
  remove->add_option("--url", f->url,
                     "URL of the hook to delete (default github.hook_url, else the one hook "
                     "sending workflow_job)");

  return [f, install, remove, list, recover]() -> int {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    if (Status s = DefaultRepository(*config, f->repo); !s.ok()) {
      std::cerr << "relayq: " << s.message() << "\n";
      return 2;
    }
    std::string url = f->url.empty() ? config->github_hook_url : f->url;
    if (install->parsed()) {
      if (url.empty()) {
        std::cerr << "relayq: --url is required (or set github.hook_url in the config)\n";
        return 2;
      }
      return RunInstall(*config, f->repo, url, f->force, f->allow_private);
    }
    if (remove->parsed()) return RunRemove(*config, f->repo, url);
    if (list->parsed()) return RunList(*config, f->repo, f->format);
    if (recover->parsed()) return RunRecover(*config, f->repo, f->recover);
    return 2;
  };
}

}  // namespace relayq::cli
