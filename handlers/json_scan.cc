#include "handlers/json_scan.h"

#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/strings.h"

namespace relayq::handlers {
namespace {

using nlohmann::json;

// --- Strings ------------------------------------------------------------------
//
// Nearly every string byte of a webhook is printable ASCII with nothing to
// unescape, so runs of such "plain" bytes are stepped over eight at a time.
// A run ends at '"', '\\', a control character (refused) or a byte >= 0x80
// (the lead of a UTF-8 sequence, checked on its own).

bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

constexpr uint64_t kOnes = 0x0101010101010101;
constexpr uint64_t kHighBits = 0x8080808080808080;

// Nonzero iff one of the bytes of `w` is not plain. Each term is the exact
// "some byte is below n" test, (x - n*ones) & ~x & high bits, which only
// errs in which byte it flags, never in whether one is.
uint64_t HasNonPlainByte(uint64_t w) {
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  return (((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash) | w) &
         kHighBits;
}

// The length of the well-formed UTF-8 sequence starting at `p` (a byte >=
// 0x80), or 0. The second byte's range is what excludes overlong forms
// (E0, F0), UTF-16 surrogates (ED) and code points above U+10FFFF (F4): the
// table of RFC 3629, which nlohmann applies byte by byte.
size_t Utf8Length(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = p[0];
  size_t length;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < length || p[1] < low || p[1] > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return length;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// --- The scanner -----------------------------------------------------------------
//
// One pass over the text with the nesting on an explicit stack (`closers_`,
// one byte per open container). The kept tree is built alongside: `kept_`
// holds the open containers that are kept, which are always the outermost
// ones, since nothing inside a skipped container is kept.
class Scanner {
 public:
  explicit Scanner(std::string_view text)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), end_(p_ + text.size()) {}

  bool Scan(const JsonSchema& schema, json& root);

 private:
  // Where the value about to be read goes, or nowhere (value == nullptr).
  struct Target {
    json* value;
    const JsonSchema* schema;
  };
  struct KeptContainer {
    json* value;
    const JsonSchema* schema;  // of the same kind as *value
  };
  // What the text holds next once a value (or a container's start) is read.
  enum class Next { kValue, kDone, kError };

  bool InKeptContainer() const { return kept_.size() == closers_.size(); }

  void SkipWhitespace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  void SkipPlain() {
    while (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, sizeof w);
      if (HasNonPlainByte(w)) break;
      p_ += 8;
    }
    while (p_ != end_ && IsPlain(*p_)) ++p_;
  }
  static void Append(std::string* out, const unsigned char* from, const unsigned char* to) {
    if (out != nullptr) out->append(reinterpret_cast<const char*>(from), to - from);
  }

  bool Scalar(json* out);
  bool String(std::string* out);
  bool Escape(std::string* out);
  int Hex4();
  bool Number(json* out);
  bool Float(const unsigned char* start, json* out);
  bool Literal(std::string_view word);
  void Open(unsigned char opener, Target t);
  void Close();
  Next FirstInContainer(Target& t);
  Next AfterValue(Target& t);
  Next Member(Target& t);
  Next Element(Target& t);

  const unsigned char* p_;
  const unsigned char* const end_;
  std::string closers_;  // '}' or ']' per open container, innermost last
  std::vector<KeptContainer> kept_;
  std::string key_;  // the unescaped key, when a kept object's key has escapes
};

bool Scanner::Scan(const JsonSchema& schema, json& root) {
  // nlohmann skips a byte order mark at offset 0, and refuses a partial one.
  if (p_ != end_ && *p_ == 0xEF) {
    if (end_ - p_ < 3 || p_[1] != 0xBB || p_[2] != 0xBF) return false;
    p_ += 3;
  }
  Target t{&root, &schema};
  for (;;) {
    SkipWhitespace();
    if (p_ == end_) return false;
    Next next;
    if (*p_ == '{' || *p_ == '[') {
      Open(*p_++, t);
      next = FirstInContainer(t);
    } else {
      if (!Scalar(t.value)) return false;
      next = AfterValue(t);
    }
    if (next != Next::kValue) return next == Next::kDone;
  }
}

bool Scanner::Scalar(json* out) {
  switch (*p_) {
    case '"': {
      ++p_;
      if (out == nullptr) return String(nullptr);
      std::string s;
      if (!String(&s)) return false;
      *out = std::move(s);
      return true;
    }
    case 't':
      if (!Literal("true")) return false;
      if (out != nullptr) *out = true;
      return true;
    case 'f':
      if (!Literal("false")) return false;
      if (out != nullptr) *out = false;
      return true;
    case 'n':
      if (!Literal("null")) return false;
      if (out != nullptr) *out = nullptr;
      return true;
    default:
      return Number(out);
  }
}

// After the opening quote; consumes the closing one. Appends the unescaped
// string to `out` unless it is null (the string is then only checked).
bool Scanner::String(std::string* out) {
  for (;;) {
    const unsigned char* run = p_;
    SkipPlain();
    Append(out, run, p_);
    if (p_ == end_) return false;
    const unsigned char c = *p_;
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c == '\\') {
      if (!Escape(out)) return false;
      continue;
    }
    if (c < 0x20) return false;
    const size_t n = Utf8Length(p_, end_);
    if (n == 0) return false;
    Append(out, p_, p_ + n);
    p_ += n;
  }
}

// At a backslash inside a string.
bool Scanner::Escape(std::string* out) {
  if (end_ - p_ < 2) return false;
  const unsigned char c = p_[1];
  p_ += 2;
  char plain;
  switch (c) {
    case '"':
      plain = '"';
      break;
    case '\\':
      plain = '\\';
      break;
    case '/':
      plain = '/';
      break;
    case 'b':
      plain = '\b';
      break;
    case 'f':
      plain = '\f';
      break;
    case 'n':
      plain = '\n';
      break;
    case 'r':
      plain = '\r';
      break;
    case 't':
      plain = '\t';
      break;
    case 'u': {
      const int unit = Hex4();
      if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
      uint32_t cp = static_cast<uint32_t>(unit);
      // A high surrogate counts only when a \u low surrogate follows at once.
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
        p_ += 2;
        const int low = Hex4();
        if (low < 0xDC00 || low > 0xDFFF) return false;
        cp = 0x10000 + ((cp - 0xD800) << 10) + static_cast<uint32_t>(low - 0xDC00);
      }
      if (out != nullptr) AppendUtf8(*out, cp);
      return true;
    }
    default:
      return false;
  }
  if (out != nullptr) *out += plain;
  return true;
}

// The UTF-16 unit of the four hex digits at p_ (consumed), or -1.
int Scanner::Hex4() {
  if (end_ - p_ < 4) return -1;
  int unit = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = HexDigitValue(static_cast<char>(p_[i]));
    if (d < 0) return -1;
    unit = unit * 16 + d;
  }
  p_ += 4;
  return unit;
}

// The grammar is RFC 8259's; what ends the number (and whether that is
// allowed there, as in "01") is the caller's business. Types follow
// nlohmann's lexer: strtoull/strtoll for integers, and whatever of those
// overflows goes through strtod like a fraction or an exponent.
bool Scanner::Number(json* out) {
  const unsigned char* start = p_;
  const bool negative = *p_ == '-';
  if (negative) ++p_;
  const unsigned char* digits = p_;
  if (p_ == end_ || !IsDigit(*p_)) return false;
  if (*p_++ != '0') {
    while (p_ != end_ && IsDigit(*p_)) ++p_;
  }
  const size_t digit_count = static_cast<size_t>(p_ - digits);
  bool integral = true;
  if (p_ != end_ && *p_ == '.') {
    ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    while (p_ != end_ && IsDigit(*p_)) ++p_;
    integral = false;
  }
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    while (p_ != end_ && IsDigit(*p_)) ++p_;
    integral = false;
  }
  // Without leading zeros, 20 digits may exceed UINT64_MAX and more always do.
  constexpr std::string_view kUint64Max = "18446744073709551615";
  if (integral && (digit_count < kUint64Max.size() ||
                   (digit_count == kUint64Max.size() &&
                    std::memcmp(digits, kUint64Max.data(), digit_count) <= 0))) {
    uint64_t magnitude = 0;
    for (size_t i = 0; i < digit_count; ++i) magnitude = magnitude * 10 + (digits[i] - '0');
    if (!negative) {
      if (out != nullptr) *out = json::number_unsigned_t{magnitude};
      return true;
    }
    if (magnitude <= uint64_t{1} << 63) {
      // Two's complement negation; well-defined for 2^63 too (C++20).
      if (out != nullptr) *out = static_cast<json::number_integer_t>(~magnitude + 1);
      return true;
    }
  }
  return Float(start, out);
}

// The number from `start` to p_, converted as nlohmann does: strtod on the
// text with '.' replaced by the locale's decimal point (read per number, as
// nlohmann reads it per parse); infinity (overflow) is refused. Numbers of
// 64 characters or more, which GitHub does not send, are copied to the heap.
bool Scanner::Float(const unsigned char* start, json* out) {
  const size_t n = static_cast<size_t>(p_ - start);
  char small[64];
  std::string large;
  char* text = small;
  if (n >= sizeof small) {
    large.resize(n + 1);
    text = large.data();
  }
  std::memcpy(text, start, n);
  text[n] = '\0';
  const std::lconv* locale = std::localeconv();
  const char point = locale->decimal_point == nullptr ? '.' : *locale->decimal_point;
  if (point != '.') {
    if (char* dot = static_cast<char*>(std::memchr(text, '.', n))) *dot = point;
  }
  const double value = std::strtod(text, nullptr);
  if (!std::isfinite(value)) return false;
  if (out != nullptr) *out = value;
  return true;
}

bool Scanner::Literal(std::string_view word) {
  if (static_cast<size_t>(end_ - p_) < word.size() ||
      std::memcmp(p_, word.data(), word.size()) != 0) {
    return false;
  }
  p_ += word.size();
  return true;
}

// A container of the kind the schema wants is kept with its children; any
// other kept container stays empty (readers only test its type).
void Scanner::Open(unsigned char opener, Target t) {
  const bool object = opener == '{';
  closers_ += object ? '}' : ']';
  if (t.value == nullptr) return;
  *t.value = object ? json::object() : json::array();
  if (t.schema->kind == (object ? JsonSchema::Kind::kObject : JsonSchema::Kind::kArray)) {
    kept_.push_back({t.value, t.schema});
  }
}

void Scanner::Close() {
  if (InKeptContainer()) kept_.pop_back();
  closers_.pop_back();
}

// Right after '{' or '['.
Scanner::Next Scanner::FirstInContainer(Target& t) {
  SkipWhitespace();
  if (p_ != end_ && *p_ == closers_.back()) {
    ++p_;
    Close();
    return AfterValue(t);
  }
  return closers_.back() == '}' ? Member(t) : Element(t);
}

// Right after a complete value: closes the containers that end here and
// reads the separator (and the key) before the next value, if any.
Scanner::Next Scanner::AfterValue(Target& t) {
  for (;;) {
    SkipWhitespace();
    // nlohmann reads a NUL byte where a token should start as the end of the
    // input, so after the top-level value it ends the text.
    if (closers_.empty()) return p_ == end_ || *p_ == '\0' ? Next::kDone : Next::kError;
    if (p_ == end_) return Next::kError;
    const unsigned char c = *p_++;
    if (c == ',') return closers_.back() == '}' ? Member(t) : Element(t);
    if (c != static_cast<unsigned char>(closers_.back())) return Next::kError;
    Close();
  }
}

// Reads `"key":` and targets the member's value.
Scanner::Next Scanner::Member(Target& t) {
  SkipWhitespace();
  if (p_ == end_ || *p_ != '"') return Next::kError;
  ++p_;
  t = {nullptr, nullptr};
  if (!InKeptContainer()) {
    if (!String(nullptr)) return Next::kError;
  } else {
    // Keys are matched unescaped ("\u0069d" is "id"), but nearly all are
    // plain and are matched in place.
    const unsigned char* start = p_;
    SkipPlain();
    std::string_view key;
    if (p_ != end_ && *p_ == '"') {
      key = {reinterpret_cast<const char*>(start), static_cast<size_t>(p_ - start)};
      ++p_;
    } else {
      p_ = start;
      key_.clear();
      if (!String(&key_)) return Next::kError;
      key = key_;
    }
    const KeptContainer& object = kept_.back();
    for (const auto& [name, schema] : object.schema->keys) {
      if (name == key) {
        t = {&(*object.value)[std::string(name)], schema};
        break;
      }
    }
  }
  SkipWhitespace();
  if (p_ == end_ || *p_ != ':') return Next::kError;
  ++p_;
  return Next::kValue;
}

Scanner::Next Scanner::Element(Target& t) {
  if (!InKeptContainer()) {
    t = {nullptr, nullptr};
    return Next::kValue;
  }
  const KeptContainer& array = kept_.back();
  array.value->push_back(json());
  t = {&array.value->back(), array.schema->elements};
  return Next::kValue;
}

}  // namespace

bool ScanJson(std::string_view text, const JsonSchema& schema, nlohmann::json& out) {
  return Scanner(text).Scan(schema, out);
}

}  // namespace relayq::handlers
