// The JSON Web Token a GitHub App signs to authenticate as itself.
//
// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) made with OpenSSL; claims `iat` 60 s
// in the past (GitHub's advice against clock drift), `exp` 9 minutes ahead
// (GitHub's maximum is 10), `iss` the App id. Pure functions; thread-safe.
// Neither the key nor the token ever appears in a returned Status.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"

namespace relayq::github {

// Checks that `private_key_pem` is a PEM RSA private key OpenSSL can load.
Status ValidateAppPrivateKey(std::string_view private_key_pem);

// Builds and signs the App JWT at time `now`. `app_id` made only of digits is
// emitted as a JSON number, anything else (a client id) as a string.
Result<std::string> MakeAppJwt(std::string_view app_id, std::string_view private_key_pem,
                               WallTime now);

// Base64url without padding (RFC 7515 section 2).
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace relayq::github
