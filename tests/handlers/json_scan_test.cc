// handlers/json_scan against nlohmann: for every text, ScanJson accepts iff
// nlohmann::json::accept does, and when it does, the pruned tree is the one
// the former decoder (nlohmann's SAX parser, tests/fakes/decode_reference.h)
// built, value for value and type for type, so DecodePayload decodes what it
// decoded. Texts: hand-written edge cases, every byte at every offset of a
// string, 100,000-deep nesting, and a fixed set of mutations of the realistic
// payloads in tests/fakes/github_payloads.h.
#include "handlers/json_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handlers/decode.h"
#include "handlers/decode_internal.h"
#include "tests/fakes/decode_reference.h"
#include "tests/fakes/github_payloads.h"

namespace relayq::handlers {
namespace {

using nlohmann::json;
using testing::Describe;
using testing::JobSpec;
using testing::RunSpec;

// Printable form of (part of) a text for failure messages.
std::string Show(std::string_view text, size_t around = std::string_view::npos) {
  size_t from = 0, to = text.size();
  if (around != std::string_view::npos && text.size() > 160) {
    from = around > 80 ? around - 80 : 0;
    to = std::min(text.size(), from + 160);
  }
  std::string out = from > 0 ? "..." : "";
  for (size_t i = from; i < to; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (to < text.size()) out += "...";
  return out + " (" + std::to_string(text.size()) + " bytes)";
}

// Empty when ScanJson and DecodePayload agree with nlohmann on `text`;
// otherwise what differs. Sets *valid to nlohmann's verdict and, for valid
// text, *decoded to DecodePayload's results as Describe prints them.
std::string Disagreement(std::string_view text, bool* valid = nullptr,
                         std::string* decoded = nullptr) {
  json tree;
  const bool scanned = ScanJson(text, DecodeSchema(), tree);
  const bool accepted = json::accept(text);
  if (valid != nullptr) *valid = accepted;
  if (scanned != accepted) {
    return std::string("ScanJson says ") + (scanned ? "valid" : "invalid") +
           ", nlohmann::json::accept says " + (accepted ? "valid" : "invalid");
  }
  if (!accepted) {
    auto d = DecodePayload("workflow_job", text);
    if (d.ok() || d.status().message() != "body is not valid JSON") {
      return "DecodePayload of invalid JSON: " + Describe(d);
    }
    return "";
  }
  json reference;
  if (!testing::NlohmannPrunedParse(text, DecodeSchema(), reference)) {
    return "json::accept and json::sax_parse disagree";
  }
  if (!testing::SameJson(tree, reference)) {
    return "pruned trees differ:\n  ScanJson:  " + tree.dump() +
           "\n  nlohmann:  " + reference.dump();
  }
  for (const char* event : {"workflow_job", "workflow_run"}) {
    const std::string now = Describe(DecodePayload(event, text));
    const std::string before = Describe(DecodeParsed(event, reference));
    if (now != before) {
      return std::string("DecodePayload(") + event + ") differs:\n--- now\n" + now +
             "--- before\n" + before;
    }
    if (decoded != nullptr) *decoded += now;
  }
  return "";
}

#define EXPECT_AGREES(text) EXPECT_EQ(Disagreement(text), "") << Show(text)

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// --- Hand-written cases ---------------------------------------------------------

TEST(JsonScanTest, AcceptsExactlyWhatNlohmannAccepts) {
  using namespace std::string_literals;
  const std::string big_integer = "1" + std::string(308, '0');  // 1e308: a finite double
  const std::pair<std::string, bool> cases[] = {
      // Whitespace is space, tab, LF and CR only; one value, nothing after it.
      {"{}", true},
      {" \t\n\r{} \t\n\r", true},
      {"", false},
      {" \n", false},
      {"\f{}", false},
      {"{}\v", false},
      {"{}{}", false},
      {"{} x", false},
      {"[1 2]", false},
      // A byte order mark is skipped at offset 0 only, and only a whole one.
      {"\xEF\xBB\xBF{}", true},
      {"\xEF\xBB\xBF \"x\"", true},
      {"\xEF\xBB{}", false},
      {"\xEF{}", false},
      {" \xEF\xBB\xBF{}", false},
      {"\xEF\xBB\xBF\xEF\xBB\xBF{}", false},
      {"\xEF\xBB\xBF", false},
      {"{}\xEF\xBB\xBF", false},
      {"\xEF\xBB\xBE{}", false},
      {"\xEF\xBA\xBF{}", false},
      {"\xBB\xBF{}", false},
      {"\xFE\xFF{}", false},
      // A NUL byte where a token starts is the end of the input to nlohmann:
      // after the value it ends the text, anywhere else it is an early end.
      {"{}\0garbage"s, true},
      {"{} \0 {"s, true},
      {"1\0"s, true},
      {"\0"s, false},
      {"\0{}"s, false},
      {"[1\0]"s, false},
      {"{\"a\":\0}"s, false},
      {"\"a\0\""s, false},
      // Literals.
      {"true", true},
      {"false", true},
      {"null", true},
      {"tru", false},
      {"truee", false},
      {"nul", false},
      {"NULL", false},
      {"True", false},
      {"[true,fals]", false},
      // Numbers.
      {"0", true},
      {"-0", true},
      {"-0.0", true},
      {"0e5", true},
      {"1E+2", true},
      {"1e-1", true},
      {"01", false},
      {"-01", false},
      {"00", false},
      {"1.", false},
      {".1", false},
      {"1.e1", false},
      {"1e", false},
      {"1e+", false},
      {"+1", false},
      {"-", false},
      {"--1", false},
      {"0x1", false},
      {"NaN", false},
      {"Infinity", false},
      {"-Infinity", false},
      {"1_000", false},
      {"[-]", false},
      {"[1.]", false},
      {"18446744073709551615", true},
      {"18446744073709551616", true},
      {"-9223372036854775808", true},
      {"-9223372036854775809", true},
      // Overflow to infinity is refused; underflow to zero is not.
      {"1e400", false},
      {"-1e400", false},
      {"[1e309]", false},
      {"1e-400", true},
      {"1.7976931348623157e308", true},
      {"1.7976931348623159e308", false},
      {big_integer, true},
      {big_integer + "0", false},
      {"-" + big_integer + "0", false},
      {big_integer + ".5", true},
      {"4.9e-324", true},
      // Strings: escapes, \u surrogates, control characters.
      {"\"\"", true},
      {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", true},
      {"\"\\u0000\"", true},
      {"\"\x01\"", false},
      {"\"\x1f\"", false},
      {"\"\t\"", false},
      {"\"\x7f\"", true},
      {"\"\\x\"", false},
      {"\"\\'\"", false},
      {"\"\\U0041\"", false},
      {"\"\\u12\"", false},
      {"\"\\u12G4\"", false},
      {"\"\\uABcd\"", true},
      {"\"\\ud800\"", false},
      {"\"\\udc00\"", false},
      {"\"\\ud800\\udc00\"", true},
      {"\"\\uDBFF\\uDFFF\"", true},
      {"\"\\ud800\\ud800\"", false},
      {"\"\\ud800\\u0041\"", false},
      {"\"\\ud800a\"", false},
      {"\"\\ud800\\\"", false},
      {"\"\\udc00\\ud800\"", false},
      {"\"abc", false},
      {"\"\\", false},
      {"\"\\\"", false},
      {"\"\\u", false},
      {"\"\\ud800\\u", false},
      // UTF-8: RFC 3629 only (no overlongs, surrogates, or beyond U+10FFFF).
      {"\"\xC3\xA9\"", true},
      {"\"\xC2\x80\"", true},
      {"\"\xC1\xBF\"", false},
      {"\"\xC0\x80\"", false},
      {"\"\xE0\xA0\x80\"", true},
      {"\"\xE0\x9F\xBF\"", false},
      {"\"\xED\x9F\xBF\"", true},
      {"\"\xED\xA0\x80\"", false},
      {"\"\xEF\xBF\xBF\"", true},
      {"\"\xF0\x90\x80\x80\"", true},
      {"\"\xF0\x8F\xBF\xBF\"", false},
      {"\"\xF4\x8F\xBF\xBF\"", true},
      {"\"\xF4\x90\x80\x80\"", false},
      {"\"\xF5\x80\x80\x80\"", false},
      {"\"\xFF\"", false},
      {"\"\x80\"", false},
      {"\"\xC3\"", false},
      {"\"\xE2\x82\"", false},
      {"\"\xE2\x82", false},
      {"\"\xC3\x28\"", false},
      {"\"\xF0\x9F\x98\"", false},
      {"\xC3\xA9", false},
      // Structure.
      {"[", false},
      {"]", false},
      {"[]", true},
      {"[,]", false},
      {"[1,]", false},
      {"[1,,2]", false},
      {"{\"a\"}", false},
      {"{\"a\":}", false},
      {"{\"a\":1,}", false},
      {"{,}", false},
      {"{1:2}", false},
      {"{\"a\" : 1 , \"b\" : [ ] }", true},
      {"{'a':1}", false},
      {"[1]]", false},
      {"[}", false},
      {"{]", false},
      {"/* c */{}", false},
      {"{}//", false},
      {"{\"a\":1 \"b\":2}", false},
  };
  for (const auto& [text, valid] : cases) {
    ASSERT_EQ(json::accept(text), valid) << "the table is wrong about " << Show(text);
    json tree;
    EXPECT_EQ(ScanJson(text, DecodeSchema(), tree), valid) << Show(text);
    EXPECT_AGREES(text);
  }
}

TEST(JsonScanTest, KeepsValuesAsNlohmannTypesThem) {
  json tree;
  ASSERT_TRUE(ScanJson(R"({"workflow_job":{"id":-0,"run_id":18446744073709551615,
      "run_attempt":18446744073709551616,"name":-9223372036854775808,
      "status":-9223372036854775809,"conclusion":1.0,"labels":[0,-1,"\u00e9\ud83d\ude00",
      "a\/b\u0000"]},"sender":{"id":1}})",
                       DecodeSchema(), tree));
  const json& job = tree["workflow_job"];
  EXPECT_TRUE(job["id"].is_number_integer() && !job["id"].is_number_unsigned());
  EXPECT_TRUE(job["run_id"].is_number_unsigned());
  EXPECT_EQ(job["run_id"].get<uint64_t>(), UINT64_MAX);
  EXPECT_TRUE(job["run_attempt"].is_number_float());
  EXPECT_EQ(job["name"].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(job["status"].is_number_float());
  EXPECT_TRUE(job["conclusion"].is_number_float());
  EXPECT_TRUE(job["labels"][0].is_number_unsigned());
  EXPECT_TRUE(job["labels"][1].is_number_integer());
  EXPECT_EQ(job["labels"][2], "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(job["labels"][3], std::string("a/b\0", 4));
  EXPECT_FALSE(tree.contains("sender"));
}

TEST(JsonScanTest, MatchesEscapedKeysUnescaped) {
  auto d = DecodePayload("workflow_job",
                         R"({"\u0061ction":"queued","repository":{"full_\u006eame":"o/r"},
                             "workflow_job":{"\u0069d":7,"run_id":8,"l\u0061bels":["x"]}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->action, "queued");
  EXPECT_EQ(d->repository, "o/r");
  ASSERT_TRUE(d->job.has_value());
  EXPECT_EQ(d->job->job_id, 7);
  EXPECT_EQ(d->job->labels, std::vector<std::string>{"x"});
}

// The eight-bytes-at-a-time string loop must stop at a special byte in any
// lane and at either end of a word, in kept and in skipped strings alike.
TEST(JsonScanTest, EveryByteAtEveryStringOffset) {
  for (int offset = 0; offset <= 17; ++offset) {
    for (int byte = 0; byte < 256; ++byte) {
      const std::string s = std::string(offset, 'a') + static_cast<char>(byte) + "bcdefghij";
      for (const char* key : {"action", "skipped"}) {
        const std::string text = std::string("{\"") + key + "\":\"" + s + "\",\"x\":1}";
        ASSERT_EQ(Disagreement(text), "") << Show(text);
      }
    }
  }
}

// Every \u escape, in a kept string (UTF-8 encoding at each length
// boundary) and a skipped one; surrogate pairs at the edges of both ranges.
TEST(JsonScanTest, EveryUnicodeEscape) {
  auto escape = [](unsigned unit) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04X", unit);
    return std::string(buf);
  };
  for (unsigned unit = 0; unit <= 0xFFFF; ++unit) {
    const std::string text =
        "{\"action\":\"<" + escape(unit) + ">\",\"x\":\"" + escape(unit) + "\"}";
    ASSERT_EQ(Disagreement(text), "") << Show(text);
  }
  const unsigned highs[] = {0xD800, 0xD801, 0xDA00, 0xDBFE, 0xDBFF};
  const unsigned lows[] = {0xDC00, 0xDC01, 0xDE00, 0xDFFE, 0xDFFF};
  for (unsigned high : highs) {
    for (unsigned low : lows) {
      for (const std::string& pair : {escape(high) + escape(low), escape(low) + escape(high),
                                      escape(high) + escape(high), escape(high) + "\\n"}) {
        const std::string text = "{\"action\":\"" + pair + "\"}";
        ASSERT_EQ(Disagreement(text), "") << Show(text);
      }
    }
  }
}

// 100,000 levels: the scanner's stack is on the heap, and a kept container
// of the wrong shape deep down is still kept empty.
TEST(JsonScanTest, DeepNestingIsHandledWithoutRecursion) {
  constexpr size_t kDepth = 100000;
  const std::string arrays = Repeat("[", kDepth) + Repeat("]", kDepth);
  const std::string objects = Repeat("{\"a\":", kDepth) + "1" + Repeat("}", kDepth);
  const std::string texts[] = {
      arrays,
      objects,
      Repeat("[", kDepth),
      Repeat("[", kDepth) + Repeat("]", kDepth - 1) + "}",
      Repeat("[", kDepth) + Repeat("]", kDepth + 1),
      R"({"action":"queued","repository":{"full_name":"o/r"},"workflow_job":{"id":1,"run_id":2,"labels":)" +
          arrays + "}}",
      R"({"action":"queued","repository":{"full_name":"o/r"},"workflow_job":{"id":1,"run_id":2,"labels":["a",)" +
          arrays + ",\"b\"]}}",
      R"({"repository":{"owner":{"login":)" + objects + R"(},"full_name":"o/r"}})",
      R"({"repository":{"full_name":"o/r"},"sender":)" + objects + "}",
  };
  for (const std::string& text : texts) EXPECT_AGREES(text);
}

// --- Mutations of realistic payloads -------------------------------------------------

// Bytes and fragments that are edge cases of the grammar somewhere: string
// delimiters and escapes, control and high bytes, surrogates, malformed and
// truncated UTF-8, structure, number and literal pieces.
std::vector<std::string> TrickyFragments() {
  std::vector<std::string> f = {
      "\"",
      "\\",
      "\\u",
      "\\u00",
      "\\u0041",
      "\\u00e9",
      "\\u20AC",
      "\\ud83d\\ude00",
      "\\ud800",
      "\\udc00",
      "\\ud800\\u0041",
      "\\uDBFF\\uDFFF",
      "\\u0000",
      "\\/",
      "\\b",
      "\\x",
      "\\'",
      "\\\"",
      "\\\\",
      "\\u007F",
      "\\u0080",
      "\\u07FF",
      "\\u0800",
      "\\uFFFF",
      "\xC3\xA9",
      "\xE2\x82\xAC",
      "\xF0\x9F\x98\x80",
      "\xF4\x8F\xBF\xBF",
      "\xC0\x80",
      "\xC1\xBF",
      "\xE0\x80\x80",
      "\xE0\x9F\xBF",
      "\xED\xA0\x80",
      "\xED\xBF\xBF",
      "\xF0\x80\x80\x80",
      "\xF0\x8F\xBF\xBF",
      "\xF4\x90\x80\x80",
      "\xF5\x80\x80\x80",
      "\xE2\x82",
      "\xF0\x9F\x98",
      "\xEF\xBB\xBF",
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      " ",
      "\t",
      "\n",
      "\r",
      "0",
      "-",
      ".",
      "e",
      "E+",
      "1",
      "null",
      "true",
      "false",
      "nul",
      "tru",
      "-0",
      "01",
      "1.",
      ".5",
      "+1",
      "1e",
      "[]",
      "{}",
      ",\"x\":1",
      "\":\"",
      "\",\"",
      std::string(1, '\0'),
  };
  for (int c = 0; c < 0x20; ++c) f.emplace_back(1, static_cast<char>(c));
  for (int c = 0x7F; c < 0x100; ++c) f.emplace_back(1, static_cast<char>(c));
  return f;
}

// Values for members put on kept paths: numbers at the int64/uint64/double
// boundaries, escaped strings, containers of every shape, broken values.
std::vector<std::string> TrickyValues() {
  const std::string e308 = "1" + std::string(308, '0');
  return {
      "0",
      "-0",
      "1",
      "-1",
      "0.0",
      "-0.0",
      "2.5",
      "1e3",
      "1E+2",
      "1e-2",
      "1e-400",
      "-1e-400",
      "4.9e-324",
      "9223372036854775807",
      "9223372036854775808",
      "-9223372036854775808",
      "-9223372036854775809",
      "18446744073709551615",
      "18446744073709551616",
      "-18446744073709551616",
      "99999999999999999999",
      "123456789012345678901234567890",
      "1e308",
      "1.7976931348623157e308",
      "1.7976931348623159e308",
      "1e309",
      "-1e309",
      "1e400",
      "1e99999999999999999999",
      e308,
      e308 + "0",
      "-" + e308 + "0",
      "01",
      "1.",
      "+1",
      "-",
      "1e",
      "0x10",
      "NaN",
      "\"\"",
      "\"queued\"",
      "\"o/r\"",
      "\"2026-01-01T00:00:30Z\"",
      "\"2026-01-01T00:00:30\\u005A\"",
      "\"\\u00e9t\\u00e9\"",
      "\"\\ud83d\\ude00\"",
      "\"a\\\"b\"",
      "\"a\\\\b\"",
      "\"\\u0000\"",
      "\"tab\\there\"",
      "\"\xC3\xA9\"",
      "\"\\ud800\"",
      "\"abc",
      "null",
      "true",
      "false",
      "{}",
      "[]",
      "[1,\"a\",null]",
      "{\"login\":\"x\"}",
      "{\"login\":{\"login\":\"x\"}}",
      "{\"full_name\":\"a/b\",\"owner\":{\"login\":\"z\"}}",
      "[\"x\",[\"y\"],{\"z\":1},\"w\"]",
      "[[[[[]]]]]",
      "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":\"e\"}]}}}",
      "[,]",
      "{,}",
      "[1,]",
      "{\"a\":1,}",
      "{\"a\"}",
      "{1:2}",
  };
}

// Keys of DecodeSchema() (some escaped) and a few that are not.
std::vector<std::string> Keys() {
  return {"action",
          "repository",
          "full_name",
          "owner",
          "login",
          "organization",
          "workflow_job",
          "workflow_run",
          "id",
          "run_id",
          "run_attempt",
          "workflow_name",
          "name",
          "labels",
          "status",
          "conclusion",
          "runner_name",
          "runner_group_name",
          "created_at",
          "started_at",
          "completed_at",
          "path",
          "display_title",
          "event",
          "html_url",
          "head_branch",
          "head_sha",
          "updated_at",
          "run_started_at",
          "\\u0069d",
          "l\\u0061bels",
          "\\u0061ction",
          "full_\\u006eame",
          "sender",
          "",
          "ID"};
}

// Where the JSON value starting at `pos` ends, for well-formed text (a
// best effort on text already mutated).
size_t ValueEnd(const std::string& text, size_t pos) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']' || c == ',') {
      if (depth == 0) return i;
      if (c != ',' && --depth == 0) return i + 1;
    }
  }
  return text.size();
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  // One to three mutations of `text`; `where` is the offset of the last.
  std::string Mutate(std::string text, size_t& where) {
    const size_t count = Below(4) == 0 ? 2 + Below(2) : 1;
    for (size_t i = 0; i < count; ++i) MutateOnce(text, where);
    return text;
  }

 private:
  // Uniform enough, and the same on every standard library (unlike
  // std::uniform_int_distribution; std::mt19937_64's output is specified).
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

  // Half the time near a key on a kept path, where the scanner builds values.
  size_t Position(const std::string& text) {
    if (Below(2) == 0) {
      const std::string needle = "\"" + Pick(keys_) + "\":";
      const std::vector<size_t> hits = FindAll(text, needle);
      if (!hits.empty()) return std::min(text.size(), Pick(hits) + Below(needle.size() + 24));
    }
    return Below(text.size() + 1);
  }

  static std::vector<size_t> FindAll(const std::string& text, std::string_view needle) {
    std::vector<size_t> at;
    for (size_t i = text.find(needle); i != std::string::npos; i = text.find(needle, i + 1)) {
      at.push_back(i);
    }
    return at;
  }

  // Offsets of the '{' or '}' (`brace`) of some objects: half the time those
  // of the root or of an object under a key (a kept one, as likely as not).
  std::vector<size_t> Braces(const std::string& text, char brace) {
    if (Below(2) == 0 && !text.empty()) {
      if (brace == '{') {
        std::vector<size_t> at = FindAll(text, "\"" + Pick(keys_) + "\":{");
        for (size_t& i : at) i = text.find('{', i);
        at.push_back(text.find('{'));
        if (at.back() == std::string::npos) at.pop_back();
        return at;
      }
      const size_t last = text.rfind('}');
      if (last != std::string::npos) return {last};
    }
    return FindAll(text, std::string_view(&brace, 1));
  }

  void MutateOnce(std::string& text, size_t& where) {
    size_t pos = Position(text);
    switch (Below(8)) {
      case 0:  // replace a byte by any byte
        if (pos < text.size()) text[pos] = static_cast<char>(Below(256));
        break;
      case 1:
      case 2:  // insert a tricky fragment
        text.insert(pos, Pick(fragments_));
        break;
      case 3:  // delete a few bytes
        text.erase(pos, 1 + Below(4));
        break;
      case 4:  // truncate
        text.resize(pos);
        break;
      case 5: {  // a member first in some object (an earlier duplicate)
        std::vector<size_t> opens = Braces(text, '{');
        if (opens.empty()) break;
        pos = Pick(opens) + 1;
        text.insert(pos, "\"" + Pick(keys_) + "\":" + Pick(values_) + ",");
        break;
      }
      case 6: {  // a member last in some object (a later duplicate wins)
        std::vector<size_t> closes = Braces(text, '}');
        if (closes.empty()) break;
        pos = Pick(closes);
        const bool empty = pos > 0 && text[pos - 1] == '{';
        text.insert(pos,
                    std::string(empty ? "" : ",") + "\"" + Pick(keys_) + "\":" + Pick(values_));
        break;
      }
      case 7: {  // the value of some key replaced
        const std::string needle = "\"" + Pick(keys_) + "\":";
        const std::vector<size_t> hits = FindAll(text, needle);
        if (hits.empty()) break;
        pos = Pick(hits) + needle.size();
        text.replace(pos, ValueEnd(text, pos) - pos, Pick(values_));
        break;
      }
    }
    where = pos;
  }

  std::mt19937_64 rng_;
  const std::vector<std::string> fragments_ = TrickyFragments();
  const std::vector<std::string> values_ = TrickyValues();
  const std::vector<std::string> keys_ = Keys();
};

std::vector<std::string> Payloads() {
  std::vector<std::string> out;
  for (const char* action : {"queued", "in_progress", "completed", "waiting"}) {
    JobSpec j;
    j.action = action;
    j.steps = 1;
    if (std::string(action) != "queued") j.runner_name = "macmini-1";
    if (std::string(action) == "completed") j.conclusion = "failure";
    out.push_back(testing::WorkflowJobPayload(j));
  }
  JobSpec quirky;
  quirky.null_labels = true;
  quirky.extra_unknown_fields = true;
  out.push_back(testing::WorkflowJobPayload(quirky));
  RunSpec requested;
  out.push_back(testing::WorkflowRunPayload(requested));
  RunSpec completed;
  completed.action = "completed";
  completed.conclusion = "success";
  completed.display_title.reset();
  out.push_back(testing::WorkflowRunPayload(completed));
  out.push_back(testing::PingPayload("octo-org/media-kit", 42));
  // Small ones with every kept path, so that mutations land on them often.
  out.push_back(
      R"({"action":"in_progress","repository":{"full_name":"o/r","owner":{"login":"o"}},)"
      R"("organization":{"login":"org"},"workflow_job":{"id":1,"run_id":2,"run_attempt":3,)"
      R"("workflow_name":"w\u00e9","name":"n","labels":["self-hosted","\ud83d\ude00"],)"
      R"("status":"in_progress","conclusion":null,"runner_name":"r","runner_group_name":"g",)"
      R"("created_at":"2026-01-01T00:00:00Z","started_at":"2026-01-01T00:00:30Z",)"
      R"("completed_at":null,"steps":[{"a":1}]}})");
  out.push_back(R"({"action":"completed","repository":{"full_name":"o/r"},"workflow_run":)"
                R"({"id":9223372036854775807,"run_attempt":1,"path":".github/workflows/x.yml",)"
                R"("name":"x","display_title":"t \"q\"","event":"push","status":"completed",)"
                R"("conclusion":"success","html_url":"https://x/y","head_branch":"main",)"
                R"("head_sha":"abc","created_at":"2026-01-01T00:00:00Z",)"
                R"("updated_at":"2026-01-01T00:00:00Z","run_started_at":"2026-01-01T00:00:00Z"}})");
  return out;
}

TEST(JsonScanDifferentialTest, RealPayloadsAgreeWithNlohmann) {
  for (const std::string& text : Payloads()) {
    ASSERT_TRUE(json::accept(text));
    EXPECT_AGREES(text);
  }
}

TEST(JsonScanDifferentialTest, MutationsOfRealPayloadsAgreeWithNlohmann) {
  constexpr int kMutations = 24000;
  const std::vector<std::string> payloads = Payloads();
  // Each payload in turn, the two small ones with every kept path thrice as
  // often (mutations land on kept values more, and they are cheap to parse).
  std::vector<size_t> turns;
  for (size_t p = 0; p < payloads.size(); ++p) turns.push_back(p);
  for (size_t p = payloads.size() - 2; p < payloads.size(); ++p) turns.insert(turns.end(), 2, p);
  std::vector<std::string> unmutated(payloads.size());
  for (size_t p = 0; p < payloads.size(); ++p) {
    ASSERT_EQ(Disagreement(payloads[p], nullptr, &unmutated[p]), "");
  }
  Mutator mutator(20260101);
  int failures = 0, accepted = 0, decoded_differently = 0;
  for (int i = 0; i < kMutations; ++i) {
    const size_t base = turns[static_cast<size_t>(i) % turns.size()];
    size_t where = 0;
    const std::string text = mutator.Mutate(payloads[base], where);
    bool valid = false;
    std::string decoded;
    const std::string diff = Disagreement(text, &valid, &decoded);
    if (valid) {
      ++accepted;
      if (decoded != unmutated[base]) ++decoded_differently;
    }
    if (!diff.empty()) {
      ADD_FAILURE() << "mutation " << i << " of payload " << base << " at " << where << ": " << diff
                    << "\n  text: " << Show(text, where);
      if (++failures == 10) return;
    }
  }
  // Both verdicts are exercised in earnest, and many valid mutations change
  // what is decoded (they hit the kept paths).
  EXPECT_GT(accepted, kMutations / 10) << decoded_differently;
  EXPECT_LT(accepted, kMutations * 9 / 10);
  EXPECT_GT(decoded_differently, kMutations / 20) << accepted;
  std::printf("%d mutations: %d valid, %d of them decode differently from their payload\n",
              kMutations, accepted, decoded_differently);
}

}  // namespace
}  // namespace relayq::handlers
