#include "github/app_jwt.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

namespace relayq::github {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Loads the key; the OpenSSL error queue is cleared, never reported, because
// its text could quote parts of the PEM.
Result<PkeyPtr> LoadPrivateKey(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("out of memory loading the GitHub App key");
  // A null passphrase callback with an empty passphrase keeps OpenSSL from
  // prompting on a terminal for an encrypted key.
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  ERR_clear_error();
  if (!key) {
    return Status::InvalidArgument(
        "GitHub App private key is not a readable unencrypted PEM private key");
  }
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return Status::InvalidArgument("GitHub App private key is not an RSA key");
  }
  return key;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Status ValidateAppPrivateKey(std::string_view private_key_pem) {
  auto key = LoadPrivateKey(private_key_pem);
  return key.ok() ? Status::Ok() : key.status();
}

Result<std::string> MakeAppJwt(std::string_view app_id, std::string_view private_key_pem,
                               WallTime now) {
  if (app_id.empty()) return Status::InvalidArgument("GitHub App id is empty");
  RELAYQ_ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_key_pem));

  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  nlohmann::json claims = {{"iat", now_s - 60}, {"exp", now_s + 9 * 60}};
  if (AllDigits(app_id) && app_id.size() < 19) {
    claims["iss"] = std::stoll(std::string(app_id));
  } else {
    claims["iss"] = std::string(app_id);
  }
  std::string signing_input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    ERR_clear_error();
    return Status::Internal("could not sign the GitHub App JWT");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    ERR_clear_error();
    return Status::Internal("could not sign the GitHub App JWT");
  }
  sig.resize(sig_len);
  return signing_input + "." + Base64UrlEncode(sig);
}

}  // namespace relayq::github
