// Fuzz target: X-Hub-Signature-256 parsing and verification.
// Input: "<header>\n<body>". Properties: nothing crashes; a header that
// verifies is exactly "sha256=" + 64 hex digits; the signature relayq
// computes for the body always verifies; no secrets never verifies.
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "handlers/signature.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relayq::fuzz::FuzzInput in(data, size);
  std::string_view header = in.Line();
  std::string_view body = in.Rest();
  const std::vector<std::string> secrets = {"It's a Secret to Everybody", "rotated-secret"};

  relayq::Status s = relayq::handlers::VerifySignature(body, header, secrets);
  if (s.ok()) {
    if (header.size() != 7 + 64 || header.substr(0, 7) != "sha256=") std::abort();
    for (char c : header.substr(7)) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) std::abort();
    }
  }
  if (relayq::handlers::VerifySignature(body, header, {}).ok()) std::abort();
  for (const std::string& secret : secrets) {
    std::string good = relayq::handlers::SignBody(body, secret);
    if (!relayq::handlers::VerifySignature(body, good, secrets).ok()) std::abort();
  }
  return 0;
}
