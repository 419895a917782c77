// Fuzz target: webhook decoding as the intake path runs it on a verified
// delivery. Input: "<content type>\n<X-GitHub-Event>\n<body>".
// Properties: nothing throws or crashes (ASan/UBSan); a form body that
// decodes yields what FormUrlDecode says; decoding is deterministic; the JSON
// scanner agrees with nlohmann: it accepts what nlohmann::json::accept
// accepts, keeps the tree the former nlohmann-based decoder kept, and so
// decodes what that decoder decoded (tests/fakes/decode_reference.h).
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "handlers/decode.h"
#include "handlers/decode_internal.h"
#include "handlers/json_scan.h"
#include "tests/fakes/decode_reference.h"
#include "tests/fuzz/fuzz_input.h"

using relayq::handlers::BodyType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relayq::fuzz::FuzzInput in(data, size);
  std::string_view content_type = in.Line();
  std::string_view event = in.Line();
  std::string_view body = in.Rest();

  BodyType type = relayq::handlers::ClassifyContentType(content_type);
  (void)relayq::handlers::FormUrlDecode(body);
  auto json = relayq::handlers::ExtractJson(type, body);
  if (type == BodyType::kJson && json.ok() && *json != body) std::abort();
  if (!json.ok()) return 0;
  auto first = relayq::handlers::DecodePayload(event, *json);
  auto second = relayq::handlers::DecodePayload(event, *json);
  if (first.ok() != second.ok()) std::abort();
  if (first.ok() && (first->repository != second->repository || first->action != second->action ||
                     first->problem != second->problem)) {
    std::abort();
  }

  nlohmann::json tree;
  const bool scanned = relayq::handlers::ScanJson(*json, relayq::handlers::DecodeSchema(), tree);
  if (scanned != nlohmann::json::accept(*json)) std::abort();
  if (!scanned) return 0;
  nlohmann::json reference;
  if (!relayq::testing::NlohmannPrunedParse(*json, relayq::handlers::DecodeSchema(), reference) ||
      !relayq::testing::SameJson(tree, reference) ||
      relayq::testing::Describe(first) !=
          relayq::testing::Describe(relayq::handlers::DecodeParsed(event, reference))) {
    std::abort();
  }
  return 0;
}
