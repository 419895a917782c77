#include "notify/http_sender.h"

#include <httplib.h>

namespace relayq::notify {
namespace {

// The first line of an answer's body, shortened, with the target's secrets
// taken out (a receiver may echo what it was sent).
std::string AnswerText(const Target& target, const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  auto scrub = [&line](const std::string& secret) {
    if (secret.size() < 4) return;
    for (size_t at = line.find(secret); at != std::string::npos; at = line.find(secret)) {
      line.replace(at, secret.size(), "[redacted]");
    }
  };
  scrub(target.token);
  for (const auto& [name, value] : target.headers) scrub(value);
  return HeaderValue(line, 200);
}

}  // namespace

Result<int> HttpSender::Send(const Target& target, const Notification& n) {
  const std::string who = "target " + target.name;
  auto url = ParseUrl(target.url);
  if (!url.ok()) return Status::InvalidArgument(who + ": " + url.status().message());
  const Request request = BuildRequest(target, n);

  httplib::Client client(url->scheme + "://" + url->host + ":" + std::to_string(url->port));
  client.set_connection_timeout(target.timeout_s, 0);
  client.set_read_timeout(target.timeout_s, 0);
  client.set_write_timeout(target.timeout_s, 0);
  client.set_follow_location(false);
  client.set_keep_alive(false);
  if (url->scheme == "https") {
    client.set_ca_cert_path(ca_bundle_path_);
    client.enable_server_certificate_verification(true);
  }
  httplib::Headers headers;
  for (const auto& [name, value] : request.headers) headers.emplace(name, value);
  httplib::Result res = client.Post(request.path, headers, request.body, request.content_type);
  if (!res) {
    return Status::Unavailable(who + ": no answer (" + httplib::to_string(res.error()) + ")");
  }
  const int status = res->status;
  if (status >= 200 && status < 300) return status;
  std::string what = who + " answered " + std::to_string(status);
  if (std::string text = AnswerText(target, res->body); !text.empty()) what += ": " + text;
  if (status == 408 || status == 429 || status >= 500) return Status::Unavailable(what);
  if (status == 401 || status == 403) return Status::PermissionDenied(what);
  return Status::InvalidArgument(what);
}

}  // namespace relayq::notify
