// The settings of the GitHub REST client (HttpGitHubClient and the
// Transport under it): where the API is, how to authenticate, timeouts,
// retries and pacing. Plain values; no thread-safety concerns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace relayq::github {

// Credentials of a GitHub App.
struct AppCredentials {
  // The App's id (digits) or client id ("Iv1...."); becomes the JWT's `iss`.
  std::string app_id;
  // The App's RSA private key, PEM. Never logged or put in a message.
  std::string private_key_pem;
  // The installation to act as. When empty it is discovered per repository
  // with GET /repos/{owner}/{repo}/installation (and cached).
  std::optional<int64_t> installation_id;
};

struct ClientOptions {
  // REST API base URL; may carry a path prefix (GHES: "https://host/api/v3").
  // The caller resolves RELAYQ_GITHUB_API_URL; this class reads no environment.
  std::string api_url = "https://api.github.com";

  // Exactly one of `token` and `app` must be set. The token is sent as
  // "Authorization: Bearer <token>"; its length and format are not assumed.
  std::string token;
  std::optional<AppCredentials> app;

  // Sent as User-Agent (GitHub rejects requests without one).
  std::string user_agent = "relayq";

  // CA bundle for https URLs (certificate verification is always on).
  std::string ca_bundle_path = "/etc/ssl/certs/ca-certificates.crt";

  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};

  // Attempts per call, including the first (>= 1). Rate-limit waits count.
  int max_attempts = 5;
  // Backoff before retry n (1-based) is uniform in [0, min(backoff_max,
  // backoff_base * 2^(n-1))] ("full jitter").
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{15000};
  // A secondary rate limit without Retry-After waits at least this long
  // (GitHub: "wait for at least one minute").
  std::chrono::milliseconds secondary_rate_limit_wait{60000};
  // A call does not block longer than this for one rate-limit wait; beyond it
  // the call fails with RateLimited so a durable caller can come back later.
  // Kept well under the executor's claim lease (60 s), so no single wait
  // inside a call holds an action for long; see ExecutorOptions::lease.
  std::chrono::milliseconds max_rate_limit_wait{15 * 1000};

  // Minimum spacing between writes (POST/PUT/PATCH/DELETE); GitHub asks for
  // at least one second. Tests set 0.
  std::chrono::milliseconds write_interval{1000};

  // Pages followed by list calls (runs, runners, hooks) before stopping.
  int max_pages = 20;

  // Source of uniform numbers in [0, 1) for jitter. Empty: a PRNG seeded from
  // std::random_device. Tests inject a constant to make waits predictable.
  std::function<double()> random;

  // Called (from the calling thread) before each wait to retry a call,
  // with one line such as "GitHub GET /repos/o/r/hooks: cannot connect to
  // api.github.com:443: Connection refused; retrying in 1.4s (attempt 2 of
  // 5)". Never carries a credential. The CLI prints it to stderr; empty:
  // nothing.
  std::function<void(const std::string&)> on_retry;
};

}  // namespace relayq::github
