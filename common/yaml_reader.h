// The checked YAML reader shared by the configuration (server/config.cc) and
// the routing policy (policy/policy_loader.cc): a YAML document as a tree of
// read-only nodes that know their place in the text, with typed reads that
// never throw.
//
// yaml-cpp is an implementation detail: no yaml-cpp type appears here (the
// library links it PRIVATE), and none of its exceptions leaves this file's
// functions. The reads follow yaml-cpp's own rules exactly (what counts as
// null, a boolean, an integer), so readers built on this keep yaml-cpp's
// behaviour. What is checked (keys, ranges) and how a problem is worded stays
// with each caller; this file gives them places, kinds and values.
//
// Thread safety: a Node is an immutable handle into a parsed document; copies
// are cheap and share the document. Distinct documents may be used from
// different threads; one document should be read by one thread at a time
// (yaml-cpp does not promise more).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relayq::yaml {

struct ParseResult;

// A place in the text, 0-based as yaml-cpp counts; line and column are -1
// when the place is unknown (a node that is not in the document).
struct Mark {
  int line = -1;
  int column = -1;

  bool is_null() const { return line < 0; }
};

// One node of a parsed document, or an undefined node (a key that is not
// there, an index past the end). Every read is valid on every node: reading
// the wrong kind yields the empty value, not an error.
class Node {
 public:
  enum class Kind { kUndefined, kNull, kScalar, kSequence, kMap };

  // An undefined node.
  Node();

  Kind kind() const;
  bool IsDefined() const { return kind() != Kind::kUndefined; }
  bool IsNull() const { return kind() == Kind::kNull; }
  bool IsScalar() const { return kind() == Kind::kScalar; }
  bool IsSequence() const { return kind() == Kind::kSequence; }
  bool IsMap() const { return kind() == Kind::kMap; }

  // A scalar's text; "" for any other kind.
  const std::string& Scalar() const;
  // The node's tag: "!" for a quoted scalar, "?" for a plain one; "" when
  // undefined.
  const std::string& Tag() const;
  // Where the node starts; null for an undefined node.
  yaml::Mark Mark() const;

  // Elements of a sequence or entries of a map; 0 for other kinds.
  size_t size() const;
  // Element `i` of a sequence; undefined when out of range or not a sequence.
  Node operator[](size_t i) const;
  // The value of the first entry of a map whose key is the scalar `key`;
  // undefined when there is none or this is not a map.
  Node operator[](std::string_view key) const;
  // A sequence's elements in document order; empty for other kinds.
  std::vector<Node> Items() const;
  // A map's (key, value) entries in document order, duplicates included;
  // empty for other kinds.
  std::vector<std::pair<Node, Node>> Entries() const;

  // A scalar read as yaml-cpp's `as<T>` reads it (true/false/yes/no/on/off
  // in any of yaml-cpp's spellings; decimal, 0x and 0o integers within the
  // type's range); nullopt for anything else, including non-scalars.
  std::optional<bool> AsBool() const;
  std::optional<int64_t> AsInt64() const;
  std::optional<int> AsInt() const;

  // How the node reads to a user after "got": "nothing" (undefined or null),
  // "a map", "a list", or the scalar in single quotes.
  std::string Describe() const;

 private:
  struct Impl;
  explicit Node(std::shared_ptr<const Impl> impl);
  friend ParseResult Parse(std::string_view text);

  std::shared_ptr<const Impl> impl_;  // null: undefined
};

// Why a text is not YAML.
struct ParseError {
  // True for a syntax error (yaml-cpp's ParserException); false for any other
  // failure of the library, which then has no place.
  bool syntax = true;
  yaml::Mark mark;
  // The library's message without a place ("illegal map value").
  std::string message;
  // The library's full message, which for a syntax error starts with the
  // place ("yaml-cpp: error at line 3, column 7: illegal map value").
  std::string what;
};

struct ParseResult {
  Node root;  // an undefined node when `error` is set; a null node for an empty text
  std::optional<ParseError> error;

  bool ok() const { return !error.has_value(); }
};

// Parses one YAML document (the first, if the text holds several).
ParseResult Parse(std::string_view text);

// "FILE:LINE:COL" with 1-based line and column, or "FILE" when the mark is
// null: the place prefix of every configuration and policy message.
std::string Place(std::string_view file, const yaml::Mark& mark);

// "did you mean 'x'?" for the known key closest to `key` (common/strings.h
// ClosestMatch), or "" when none is close.
std::string DidYouMean(std::string_view key, const std::vector<std::string>& known);

}  // namespace relayq::yaml
