// GitHub webhook signatures (X-Hub-Signature-256).
//
// GitHub signs the raw request body with HMAC-SHA256 keyed by the webhook
// secret and sends "sha256=<64 lower-case hex digits>". Verification compares
// in constant time against every configured secret, so secrets can be rotated
// by configuring old and new together. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relayq::handlers {

// "sha256=" + hex HMAC-SHA256 of `body` keyed by `secret`.
std::string SignBody(std::string_view body, std::string_view secret);

// Ok when `header` is a well-formed signature of `body` under any of
// `secrets`; InvalidSignature (saying only "missing", "malformed" or "does not
// match", never anything about the secrets) otherwise. No secrets: always
// InvalidSignature, so an unconfigured relayq accepts nothing.
Status VerifySignature(std::string_view body, std::string_view header,
                       const std::vector<std::string>& secrets);

}  // namespace relayq::handlers
