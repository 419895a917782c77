// Tolerant readers of GitHub JSON: the one family of accessors for the REST
// client's answers (github/) and the webhook payloads (handlers/decode.cc).
//
// GitHub sends null for fields that do not apply yet (conclusion,
// runner_name), and a stranger can send anything; nlohmann would throw on a
// value of the wrong type. Here a missing key, null, a value of another type,
// or a parent that is not an object all read as absent, and nothing throws.
//
// Header-only (the webhook decoder reads a few dozen fields per delivery on
// the hot path) and in terms of nlohmann::json, so only .cc files of
// libraries that link nlohmann_json include it. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/time_format.h"

namespace relayq::github {

using Json = nlohmann::json;

// The member `key` of `obj`, or null when `obj` is not an object, has no
// such member, or the member is null.
inline const Json* Field(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string member, or nullopt.
inline std::optional<std::string> OptString(const Json& obj, const char* key) {
  const Json* f = Field(obj, key);
  if (f == nullptr || !f->is_string()) return std::nullopt;
  return f->get<std::string>();
}

// An integer member (signed or unsigned; an unsigned one above INT64_MAX
// wraps as static_cast does), or nullopt; a float is not an integer.
inline std::optional<int64_t> OptInt(const Json& obj, const char* key) {
  const Json* f = Field(obj, key);
  if (f == nullptr || !f->is_number_integer()) return std::nullopt;
  return f->get<int64_t>();
}

// An RFC 3339 time member as Unix milliseconds; unparsable reads as absent.
inline std::optional<int64_t> OptTime(const Json& obj, const char* key) {
  auto s = OptString(obj, key);
  if (!s) return std::nullopt;
  auto t = ParseRfc3339(*s);
  if (!t.ok()) return std::nullopt;
  return *t;
}

// The same, with a default for absent values.
inline std::string Str(const Json& obj, const char* key) {
  return OptString(obj, key).value_or(std::string());
}
inline int64_t Int(const Json& obj, const char* key, int64_t fallback = 0) {
  return OptInt(obj, key).value_or(fallback);
}
inline bool Bool(const Json& obj, const char* key) {
  const Json* f = Field(obj, key);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}
inline int64_t TimeMs(const Json& obj, const char* key) { return OptTime(obj, key).value_or(0); }

// The strings of an array member; objects in it contribute their "name"
// (runner labels are {"id", "name", "type"}); other elements are skipped.
inline std::vector<std::string> StrList(const Json& obj, const char* key) {
  std::vector<std::string> out;
  const Json* list = Field(obj, key);
  if (list == nullptr || !list->is_array()) return out;
  for (const Json& v : *list) {
    if (v.is_string()) out.push_back(v.get<std::string>());
    if (v.is_object()) {
      std::string name = Str(v, "name");
      if (!name.empty()) out.push_back(std::move(name));
    }
  }
  return out;
}

}  // namespace relayq::github
