#include "cli/admin_client.h"

#include <httplib.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/send.h"
#include "common/connect_probe.h"
#include "common/redact.h"
#include "github/http_util.h"

namespace relayq::cli {
namespace {

constexpr int kAttempts = 3;
constexpr auto kConnectTimeout = std::chrono::seconds(5);
// The daemon answers POST /api/v1/dispatch after its own bounded try at
// GitHub; this is well above that bound.
constexpr auto kReadTimeout = std::chrono::seconds(60);

}  // namespace

std::string ChooseServer(const std::string& flag, const server::Config& config) {
  return flag.empty() ? config.server_url : flag;
}

std::string AdminAnswer::Error() const {
  if (body.is_object()) {
    auto e = body.find("error");
    if (e != body.end() && e->is_string()) return e->get<std::string>();
  }
  if (body.is_null()) return "HTTP " + std::to_string(status) + " with a body that is not JSON";
  return "HTTP " + std::to_string(status);
}

Result<std::unique_ptr<AdminClient>> AdminClient::Create(std::string_view url, std::string token) {
  auto base = github::ParseBaseUrl(url);
  if (!base.ok() || !base->path_prefix.empty()) {
    return Status::InvalidArgument("the relayq server URL must be http(s)://HOST[:PORT], got '" +
                                   RedactUrlsIn(std::string(url.substr(0, 200))) + "'");
  }
  std::string trimmed(url);
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  return std::unique_ptr<AdminClient>(
      new AdminClient(trimmed, base->host, base->port, std::move(token)));
}

AdminClient::AdminClient(std::string url, std::string host, int port, std::string token)
    : url_(std::move(url)), host_(std::move(host)), port_(port), token_(std::move(token)) {
  http_ = std::make_unique<httplib::Client>(url_);
  http_->set_connection_timeout(kConnectTimeout);
  http_->set_read_timeout(kReadTimeout);
  http_->set_write_timeout(kReadTimeout);
  http_->enable_server_certificate_verification(true);
}

AdminClient::~AdminClient() = default;

Result<AdminAnswer> AdminClient::Get(const std::string& path_and_query) {
  return Send("GET", path_and_query, "", "");
}

Result<AdminAnswer> AdminClient::Post(const std::string& path, const nlohmann::json& body,
                                      const std::string& idempotency_key) {
  return Send("POST", path, body.dump(), idempotency_key);
}

Result<AdminAnswer> AdminClient::Send(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& idempotency_key) {
  const bool resendable = method == "GET" || !idempotency_key.empty();
  std::string failure;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = {{"User-Agent", "relayq-cli"}, {"Accept", "application/json"}};
    if (!token_.empty()) req.headers.emplace("Authorization", "Bearer " + token_);
    if (!idempotency_key.empty()) req.headers.emplace("Idempotency-Key", idempotency_key);
    if (method != "GET") {
      req.headers.emplace("Content-Type", "application/json");
      req.body = body;
    }
    httplib::Result res = http_->send(req);
    if (res) {
      AdminAnswer answer;
      answer.status = res->status;
      answer.body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
      if (answer.body.is_discarded()) answer.body = nullptr;
      return answer;
    }
    const bool never_connected = res.error() == httplib::Error::Connection;
    failure = never_connected ? "cannot connect to " + host_ + ":" + std::to_string(port_) + ": " +
                                    WhyConnectFails(host_, port_, std::chrono::milliseconds(2000))
                              : "talking to " + host_ + ":" + std::to_string(port_) + ": " +
                                    httplib::to_string(res.error());
    if (!never_connected && !resendable) {
      return Status::OutcomeUnknown(method + " " + path + ": " + failure +
                                    " (sent once, not resent: relayq may have acted)");
    }
    if (attempt < kAttempts) {
      auto wait = std::chrono::milliseconds(500 * attempt);
      std::cerr << "relayq: " << method << " " << url_ << path << ": " << failure
                << "; retrying in " << wait.count() / 1000.0 << "s (attempt " << attempt + 1
                << " of " << kAttempts << ")\n";
      std::this_thread::sleep_for(wait);
    }
  }
  return Status::Unavailable(failure);
}

Status AnswerStatus(const AdminAnswer& answer, const AdminClient& client) {
  if (answer.ok()) return Status::Ok();
  const std::string why = answer.Error();
  switch (answer.status) {
    case 401:
    case 403:
      return Status::PermissionDenied(
          "relayq at " + client.url() +
          " refused the admin token (set RELAYQ_ADMIN_TOKEN to the daemon's admin token, "
          "admin.token_file on the server): " +
          why);
    case 404:
      return Status::NotFound(why);
    case 400:
    case 409:
    case 413:
    case 422:
      return Status::InvalidArgument(why);
    default:
      if (answer.status >= 500) {
        return Status::Unavailable("relayq at " + client.url() + " answered " +
                                   std::to_string(answer.status) + ": " + why);
      }
      return Status::Internal("relayq at " + client.url() + " answered " +
                              std::to_string(answer.status) + ": " + why);
  }
}

std::string NewIdempotencyKey() { return NewDeliveryId(); }

}  // namespace relayq::cli
