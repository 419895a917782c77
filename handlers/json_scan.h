// A validating JSON scanner that keeps only the values a schema names.
//
// A webhook body is 7-25 KB of JSON of which relayq reads a few dozen values.
// ScanJson checks the whole text, accepting exactly what nlohmann::json's
// strict parser accepts (json::accept), and builds only the values on the
// paths of a JsonSchema, as the nlohmann::json values json::parse would have
// put there; everything else is validated and skipped without allocating.
// It walks nesting with an explicit stack, so depth is bounded by memory, not
// by the C stack.
//
// Internal to handlers/ (decode.cc) and its tests: the interface is in terms
// of nlohmann::json, which handlers/ links privately. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

namespace relayq::handlers {

// The shape of the values to keep. A node is a leaf (keep the value as it
// is, but a container only as an empty one), an object (keep the members
// named in `keys`, each by its own schema) or an array (keep every element,
// each by `elements`, which must then be set). Schemas are static tables;
// ScanJson only reads them.
struct JsonSchema {
  enum class Kind { kLeaf, kObject, kArray };
  Kind kind;
  std::vector<std::pair<std::string_view, const JsonSchema*>> keys;  // kObject
  const JsonSchema* elements = nullptr;                              // kArray
};

// Returns true iff nlohmann::json::accept(text) would: one RFC 8259 value
// with optional whitespace around it; strings of well-formed UTF-8 with no
// control characters and no unpaired \u surrogates; numbers that do not
// overflow a double. nlohmann's two leniencies are kept: a UTF-8 byte order
// mark at offset 0 is skipped, and a NUL byte after the value ends the text
// (whatever follows it is ignored).
//
// On success `out` is the value pruned to `schema`: at every kept position a
// scalar is what json::parse yields (unescaped UTF-8 string; number_unsigned
// for a non-negative integer that fits uint64_t, number_integer for a
// negative one that fits int64_t, number_float otherwise); a container of the
// schema's kind keeps the children the schema names (objects: the last of
// duplicate keys wins; arrays: all elements, in order); a container of
// another kind is kept empty. On failure `out` is unspecified.
// Throws only std::bad_alloc.
bool ScanJson(std::string_view text, const JsonSchema& schema, nlohmann::json& out);

}  // namespace relayq::handlers
