#include "cli/actions_cmd.h"

#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/admin_client.h"
#include "common/redact.h"
#include "common/time_format.h"
#include "server/actions_api.h"
#include "store/action_store.h"
#include "store/database.h"

namespace relayq::cli {
namespace {

using server::OperatorVerb;

// "cli:USER@HOST": who asked, as the action's history records it.
std::string CliIdentity() {
  std::string user;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    user = pw->pw_name;
  } else if (const char* u = std::getenv("USER"); u != nullptr) {
    user = u;
  } else {
    user = std::to_string(::geteuid());
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return "cli:" + user + "@" + (host[0] != '\0' ? std::string(host) : std::string("localhost"));
}

// The line a change prints (stdout) in a table format.
void PrintChange(const nlohmann::json& j, const std::string& format) {
  if (format == "json") {
    std::cout << j.dump(2) << "\n";
    return;
  }
  auto text = [&j](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::cout << "action " << j.value("id", int64_t{0}) << ": " << text("previous_status") << " -> "
            << text("status") << " (" << text("what") << " by " << text("who") << " at "
            << text("at") << ")\n";
}

int RunRemote(const server::Config& config, const std::string& url, OperatorVerb verb, int64_t id,
              const std::string& reason, const std::string& format) {
  auto client = AdminClient::Create(url, config.admin_token);
  if (!client.ok()) return FailWith(client.status());
  nlohmann::json body = nlohmann::json::object();
  if (!reason.empty()) body["reason"] = reason;
  auto answer = (*client)->Post(
      "/api/v1/actions/" + std::to_string(id) + "/" + std::string(server::OperatorVerbName(verb)),
      body);
  if (!answer.ok()) return FailWith(answer.status());
  if (answer->status == 409) {
    std::cerr << "relayq: " << RedactUrlsIn(answer->Error()) << "\n";
    return 1;
  }
  if (Status s = AnswerStatus(*answer, **client); !s.ok()) return FailWith(s);
  PrintChange(answer->body, format);
  return 0;
}

int RunLocal(const server::Config& config, OperatorVerb verb, int64_t id, const std::string& reason,
             const std::string& format) {
  store::StoreOptions o;
  o.path = config.db_path;
  o.synchronous = config.synchronous;
  auto database = store::Database::Open(o, store::Database::Mode::kExisting);
  if (!database.ok()) {
    return FailWith(database.status().WithContext(
        "no server given (--server, RELAYQ_SERVER, admin.server) and the local store"));
  }
  // The operator history needs the current schema; migrating is what the
  // daemon does on start, in one transaction.
  if (Status migrated = (*database)->Migrate(); !migrated.ok()) return FailWith(migrated);
  auto actions = (*database)->OpenActionStore();
  if (!actions.ok()) return FailWith(actions.status());
  store::OperatorRequest request;
  request.who = CliIdentity();
  request.reason = reason;
  request.now = ToUnixMillis(Clock::Real().Now());
  auto outcome = server::ApplyOperatorVerb(**actions, verb, id, request);
  if (!outcome.ok()) return FailWith(outcome.status());
  if (!outcome->changed) {
    std::cerr << "relayq: " << server::RefusalMessage(verb, *outcome) << "\n";
    return 1;
  }
  PrintChange(server::OperatorChangeJson(verb, *outcome, request), format);
  if (verb == OperatorVerb::kRetry) {
    std::cerr << "relayq: changed in " << config.db_path
              << "; a running relayq serve tries it at its next wake-up (give --server to have "
                 "it tried at once)\n";
  }
  return 0;
}

}  // namespace

CommandRun RegisterActions(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    std::string id, reason, server, format = "table";
  };
  auto f = std::make_shared<Flags>();
  CLI::App* actions = app.add_subcommand("actions", "Retry or cancel a routing action");
  actions->require_subcommand(1);
  CLI::App* retry =
      actions->add_subcommand("retry", "Try a failed or aborted routing action again, once");
  CLI::App* cancel =
      actions->add_subcommand("cancel", "Drop a scheduled or pending routing action");
  for (CLI::App* sub : {retry, cancel}) {
    AddCommonFlags(sub, f->common, /*with_db=*/true);
    sub->add_option("ID", f->id, "The action's id (relayq audit actions)")->required();
    sub->add_option("--reason", f->reason, "Why, kept in the action's history");
    sub->add_option("--server", f->server,
                    "Admin URL of a running relayq (default RELAYQ_SERVER, else admin.server; "
                    "none: the local store)");
    sub->add_option("--format", f->format, "table (default) or json")
        ->check(CLI::IsMember({"table", "json"}));
  }
  return [f, retry]() -> int {
    const OperatorVerb verb = retry->parsed() ? OperatorVerb::kRetry : OperatorVerb::kCancel;
    int64_t id = 0;
    if (f->id.empty() || f->id.size() > 18 ||
        f->id.find_first_not_of("0123456789") != std::string::npos ||
        (id = std::stoll(f->id)) <= 0) {
      std::cerr << "relayq: action id '" << f->id.substr(0, 32)
                << "' is not a whole number above 0 (see relayq actions --help)\n";
      return 2;
    }
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    const std::string url = ChooseServer(f->server, *config);
    if (!url.empty()) return RunRemote(*config, url, verb, id, f->reason, f->format);
    return RunLocal(*config, verb, id, f->reason, f->format);
  };
}

}  // namespace relayq::cli
