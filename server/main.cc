// relayq's command line: one executable, one subcommand per job.
//
// Exit codes (PRODUCT.md): 0 success, 1 the operation failed (one line on
// stderr), 2 usage error.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "server/config.h"
#include "server/send.h"
#include "server/serve.h"
#include "server/version.h"

namespace {

using relayq::server::Config;

// Loads the configuration file, applies flags (through `apply_flags`) and
// then the environment, in the precedence PRODUCT.md promises.
bool BuildConfig(const std::string& config_file, const std::function<void(Config&)>& apply_flags,
                 Config& out) {
  auto loaded = relayq::server::LoadConfigFile(config_file);
  if (!loaded.ok()) {
    std::cerr << "relayq: " << loaded.status().message() << "\n";
    return false;
  }
  out = std::move(*loaded);
  apply_flags(out);
  relayq::Status s = relayq::server::ApplyEnvironment(out, [](const char* n) { return std::getenv(n); });
  if (!s.ok()) {
    std::cerr << "relayq: " << s.message() << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"relayq: verifies and records GitHub Actions webhooks, and routes jobs between "
               "self-hosted runners"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(relayq::server::kVersion));

  std::string config_file;
  auto add_config = [&](CLI::App* cmd) {
    cmd->add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  };

  // serve
  CLI::App* serve = app.add_subcommand("serve", "Run the daemon: receive webhooks, record, route");
  add_config(serve);
  std::string listen, admin_listen, db, policy, log_format;
  serve->add_option("--listen", listen, "Public listener HOST:PORT (default 127.0.0.1:8080)");
  serve->add_option("--admin-listen", admin_listen, "Admin listener HOST:PORT (default 127.0.0.1:8081)");
  serve->add_option("--db", db, "SQLite store (default: store.path, else ./relayq.db)");
  serve->add_option("--policy", policy, "Routing policy file (default policy/policy.yaml)");
  serve->add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));

  // send
  CLI::App* send = app.add_subcommand("send", "Sign FILE with the webhook secret and deliver it like GitHub");
  add_config(send);
  relayq::server::SendOptions send_options;
  std::string send_db;
  send->add_option("FILE", send_options.file, "JSON payload file")->required()->check(CLI::ExistingFile);
  send->add_option("--event", send_options.event, "X-GitHub-Event, e.g. workflow_job")->required();
  send->add_option("--url", send_options.url, "Webhook URL, e.g. http://127.0.0.1:8080/webhook")->required();
  send->add_option("--delivery", send_options.delivery_id, "X-GitHub-Delivery (default: a new GUID)");
  send->add_flag("--form", send_options.form, "Send as application/x-www-form-urlencoded (payload=)");
  send->add_option("--db", send_db, "Store whose generated secret file to use (default ./relayq.db)");

  // version
  CLI::App* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return 2;
  }

  if (version->parsed()) {
    std::cout << "relayq " << relayq::server::kVersion << "\n";
    return 0;
  }
  Config config;
  if (serve->parsed()) {
    bool ok = BuildConfig(config_file, [&](Config& c) {
      if (!listen.empty()) c.listen = listen;
      if (!admin_listen.empty()) c.admin_listen = admin_listen;
      if (!db.empty()) c.db_path = db;
      if (!policy.empty()) c.policy_path = policy;
      if (!log_format.empty()) c.log_format = log_format;
    }, config);
    if (!ok) return 1;
    return relayq::server::RunServe(std::move(config));
  }
  if (send->parsed()) {
    bool ok = BuildConfig(config_file, [&](Config& c) {
      if (!send_db.empty()) c.db_path = send_db;
    }, config);
    if (!ok) return 1;
    return relayq::server::RunSend(config, send_options);
  }
  return 2;
}
