#include "cli/size_probe.h"

#include <httplib.h>

#include <cstdio>

#include "common/redact.h"

namespace relayq::cli {

Result<int64_t> ProbeContentLength(const std::string& url) {
  const std::string safe = RedactUrl(url);
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("not an http(s) URL: " + safe);
  }
  size_t path_start = url.find('/', scheme_end + 3);
  std::string base = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  size_t hash = path.find('#');
  if (hash != std::string::npos) path.resize(hash);

  httplib::Client client(base);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  client.set_follow_location(true);
  client.enable_server_certificate_verification(true);
  auto res = client.Head(path);
  if (!res) {
    return Status::Unavailable("cannot reach " + safe + ": " + httplib::to_string(res.error()));
  }
  if (res->status < 200 || res->status > 299) {
    return Status::NotFound("HEAD " + safe + " answered " + std::to_string(res->status));
  }
  std::string length = res->get_header_value("Content-Length");
  int64_t bytes = 0;
  if (length.empty() || length.size() > 15 ||
      length.find_first_not_of("0123456789") != std::string::npos) {
    return Status::NotFound("HEAD " + safe + " gave no Content-Length");
  }
  bytes = std::stoll(length);
  return bytes;
}

std::string SizeMbInput(int64_t bytes) {
  constexpr int64_t kMiB = 1024 * 1024;
  // Hundredths of a MiB, rounded up.
  int64_t hundredths = (bytes * 100 + kMiB - 1) / kMiB;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(hundredths / 100),
                static_cast<long long>(hundredths % 100));
  return buf;
}

}  // namespace relayq::cli
