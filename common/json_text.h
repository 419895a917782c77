// JSON text that relayq writes: the one way to serialise a value that may
// hold strings nobody validated (header bytes, names GitHub sent, query
// parameters), and the `{"error": ...}` body of a refusal.
//
// Header-only, in terms of nlohmann::json, for the libraries that already use
// it (store, handlers, server); common itself does not link it. Pure;
// thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace relayq {

// Compact JSON text of `j`. Invalid UTF-8 in a string is replaced by U+FFFD
// instead of throwing (nlohmann's plain dump() throws type_error 316), so
// nothing a stranger sends can make serialising fail.
inline std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// {"error":"<why>"}, as DumpJson writes it.
inline std::string ErrorJson(std::string_view why) {
  return DumpJson(nlohmann::json{{"error", std::string(why)}});
}

}  // namespace relayq
