// Small pure helpers of the GitHub client: URL pieces, percent-encoding, the
// Link header, Retry-After. Kept apart so they are unit-tested directly.
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace relayq::github {

// "https://ghe.example.com:8443/api/v3/" split into its parts.
struct BaseUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;             // explicit, or 80/443 from the scheme
  std::string path_prefix;  // "" or "/api/v3": no trailing slash

  // "https://host:port", the form cpp-httplib's Client wants.
  std::string SchemeHostPort() const;
};

// Parses an API base URL. Fails with InvalidArgument on anything but
// http(s)://host[:port][/path] (no query, fragment or user info).
Result<BaseUrl> ParseBaseUrl(std::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters, so a value
// is safe as one path segment or one query value.
std::string PercentEncode(std::string_view s);

// Decodes %XX escapes and '+' (as space); malformed escapes are kept as is.
std::string PercentDecode(std::string_view s);

// Splits "owner/name" into its two parts; InvalidArgument unless both are
// non-empty and there is exactly one '/'.
Result<std::pair<std::string, std::string>> SplitRepo(std::string_view repo);

// The target of the rel="next" link in a Link header, if any.
std::optional<std::string> NextLink(std::string_view link_header);

// The path and query of an absolute or relative URL ("/repos/...?page=2").
std::string PathAndQuery(std::string_view url);

// The value of query parameter `key` in a URL or path (decoded), if present.
std::optional<std::string> QueryParam(std::string_view url, std::string_view key);

// Retry-After as a delay: delta-seconds only (GitHub sends seconds). Empty
// when absent or not a non-negative integer.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

// A decimal int64, or empty.
std::optional<int64_t> ParseInt64(std::string_view s);

}  // namespace relayq::github
