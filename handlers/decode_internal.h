// What decode.cc shares with its tests, fuzzer and benchmark only: they
// check DecodePayload against decoding nlohmann's own parse of the same
// text. Not for other callers (the interface is in terms of nlohmann::json,
// which handlers/ links privately).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"
#include "handlers/decode.h"
#include "handlers/json_scan.h"

namespace relayq::handlers {

// The paths DecodePayload keeps: every value DecodeParsed reads.
const JsonSchema& DecodeSchema();

// DecodePayload once the text is parsed. `payload` may be the full DOM or the
// tree pruned to DecodeSchema(); both decode alike. InvalidArgument when it
// is not an object.
Result<Decoded> DecodeParsed(std::string_view event, const nlohmann::json& payload);

}  // namespace relayq::handlers
