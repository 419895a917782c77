// Decoding a verified delivery body into the records relayq keeps.
//
// Accepts both content types GitHub sends: application/json, and
// application/x-www-form-urlencoded with the JSON in the `payload` field.
// Decoding is defensive: GitHub's payloads carry nulls, omit fields on older
// deliveries and gain fields over time. Only a body that is not the JSON it
// claims fails (InvalidArgument -> HTTP 400); JSON of an unexpected shape
// decodes to an Outcome::kUndecodable delivery with a reason. Never throws.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "store/model.h"

namespace relayq::handlers {

enum class BodyType { kJson, kForm, kUnsupported };

// Classifies a Content-Type header value (parameters such as charset ignored).
BodyType ClassifyContentType(std::string_view content_type);

// The JSON text of a body: the body itself, or the decoded `payload` field of
// a form body. InvalidArgument when a form body has no payload field.
Result<std::string> ExtractJson(BodyType type, std::string_view body);

// Percent-encoding for application/x-www-form-urlencoded values, as GitHub
// sends its `payload=` field: unreserved characters as they are, space as
// '+', everything else %XX. FormUrlDecode(FormUrlEncode(x)) == x.
std::string FormUrlEncode(std::string_view text);

// Percent-decoding of application/x-www-form-urlencoded values ('+' is space).
Result<std::string> FormUrlDecode(std::string_view text);

struct Decoded {
  std::string action;
  std::string repository;  // owner/name, or empty
  std::string owner;       // repository owner or organization login, or empty
  std::optional<store::JobEvent> job;
  std::optional<store::RunEvent> run;
  std::string problem;  // non-empty when the shape was unexpected
};

// Parses `json` as the payload of `event`. InvalidArgument when it is not JSON
// (or not a JSON object).
Result<Decoded> DecodePayload(std::string_view event, std::string_view json);

}  // namespace relayq::handlers
