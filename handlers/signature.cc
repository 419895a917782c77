#include "handlers/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "common/strings.h"

namespace relayq::handlers {
namespace {

constexpr std::string_view kPrefix = "sha256=";
constexpr size_t kDigestSize = 32;
using Digest = std::array<unsigned char, kDigestSize>;

Digest Hmac(std::string_view body, std::string_view secret) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out.data(), &len);
  return out;
}

}  // namespace

std::string SignBody(std::string_view body, std::string_view secret) {
  Digest d = Hmac(body, secret);
  return std::string(kPrefix) +
         HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Status VerifySignature(std::string_view body, std::string_view header,
                       const std::vector<std::string>& secrets) {
  if (header.empty()) return Status::InvalidSignature("missing X-Hub-Signature-256");
  if (header.substr(0, kPrefix.size()) != kPrefix || header.size() != kPrefix.size() + 64) {
    return Status::InvalidSignature("malformed X-Hub-Signature-256 (want sha256=<64 hex>)");
  }
  Digest claimed{};
  std::string_view hex = header.substr(kPrefix.size());
  for (size_t i = 0; i < kDigestSize; ++i) {
    int hi = HexDigitValue(hex[2 * i]), lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidSignature("malformed X-Hub-Signature-256 (want sha256=<64 hex>)");
    }
    claimed[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  // Check every secret even after a match, so timing does not reveal which
  // secret (old or new) signed the delivery.
  bool matched = false;
  for (const auto& secret : secrets) {
    Digest expected = Hmac(body, secret);
    matched |= CRYPTO_memcmp(expected.data(), claimed.data(), kDigestSize) == 0;
  }
  if (!matched) return Status::InvalidSignature("X-Hub-Signature-256 does not match");
  return Status::Ok();
}

}  // namespace relayq::handlers
