// HttpGitHubClient: GitHubClient over GitHub's REST API with cpp-httplib.
//
// Speaks to api.github.com or a GitHub Enterprise Server ("https://host/api/v3")
// over HTTPS with certificate verification against the system CA bundle, or
// over plain HTTP (tests, a loopback fake). Follows GitHub's REST best
// practices: the recommended headers, requests one at a time, a pause between
// writes, exponential backoff with full jitter on network errors and 5xx,
// obeying Retry-After and x-ratelimit-remaining/x-ratelimit-reset and
// secondary rate limits, and never retrying what cannot succeed (401, 404,
// 422). Authenticates with a token or as a GitHub App (RS256 JWT exchanged for
// an installation token, cached until 5 minutes before it expires).
//
// All waiting goes through the injected Sleeper and all time through the
// injected Clock, so tests run without real sleeps.
//
// Thread safety: thread-safe. Requests are sent one at a time (GitHub asks
// integrations not to send concurrent requests); a caller waiting for backoff
// does not block the others' requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "github/client.h"
#include "github/client_options.h"
#include "github/sleeper.h"

namespace relayq::github {

class HttpGitHubClient {
 public:
  // Validates `options` and builds a client. Fails with InvalidArgument when
  // the URL is not http(s)://host[:port][/prefix], when neither or both of
  // token and app are set, when the App key is not a readable RSA PEM, or
  // when an https URL's CA bundle cannot be read. Sends no request.
  // `clock` and `sleeper` must outlive the client.
  static Result<std::unique_ptr<GitHubClient>> Create(const ClientOptions& options, Clock& clock,
                                                      Sleeper& sleeper);
};

}  // namespace relayq::github
