#include "cli/send.h"

#include <httplib.h>
#include <openssl/rand.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "handlers/decode.h"
#include "handlers/signature.h"

namespace relayq::cli {
namespace {}  // namespace

std::string NewDeliveryId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

int RunSend(const server::Config& config, const SendOptions& o) {
  if (config.secrets.empty()) {
    std::cerr << "relayq: no webhook secret configured (set RELAYQ_WEBHOOK_SECRET or "
                 "webhook.secret_file)\n";
    return 1;
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    std::cerr << "relayq: cannot read " << o.file << "\n";
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  std::string content_type = "application/json";
  if (o.form) {
    body = "payload=" + handlers::FormUrlEncode(body);
    content_type = "application/x-www-form-urlencoded";
  }

  // Split URL into scheme://host[:port] and path.
  size_t scheme_end = o.url.find("://");
  if (scheme_end == std::string::npos) {
    std::cerr << "relayq: --url must be http://HOST[:PORT]/PATH or https://...\n";
    return 2;
  }
  size_t path_start = o.url.find('/', scheme_end + 3);
  std::string base = o.url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : o.url.substr(path_start);

  httplib::Client client(base);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(15, 0);
  client.enable_server_certificate_verification(true);
  std::string delivery = o.delivery_id.empty() ? NewDeliveryId() : o.delivery_id;
  httplib::Headers headers = {
      {"X-GitHub-Event", o.event},
      {"X-GitHub-Delivery", delivery},
      {"X-Hub-Signature-256", handlers::SignBody(body, config.secrets.front())},
      {"User-Agent", "GitHub-Hookshot/relayq-send"},
  };
  auto res = client.Post(path, headers, body, content_type);
  if (!res) {
    std::cerr << "relayq: cannot deliver to " << base << ": " << httplib::to_string(res.error())
              << "\n";
    return 1;
  }
  std::cout << res->status << " " << res->body << "\n";
  std::cout << "delivery " << delivery << "\n";
  return res->status >= 200 && res->status < 300 ? 0 : 1;
}

CommandRun RegisterSend(CLI::App& app) {
  struct Flags {
    CommonFlags common;
    SendOptions send;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      app.add_subcommand("send", "Sign FILE with the webhook secret and deliver it like GitHub");
  AddCommonFlags(cmd, f->common, /*with_db=*/true);
  cmd->add_option("FILE", f->send.file, "JSON payload file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--event", f->send.event, "X-GitHub-Event, e.g. workflow_job")->required();
  cmd->add_option("--url", f->send.url, "Webhook URL, e.g. http://127.0.0.1:8080/webhook")
      ->required();
  cmd->add_option("--delivery", f->send.delivery_id, "X-GitHub-Delivery (default: a new GUID)");
  cmd->add_flag("--form", f->send.form, "Send as application/x-www-form-urlencoded (payload=)");
  return [f] {
    auto config = LoadCommandConfig(f->common);
    if (!config.ok()) return FailWith(config.status());
    return RunSend(*config, f->send);
  };
}

}  // namespace relayq::cli
