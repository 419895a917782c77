// Small string helpers shared by every layer. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace relayq {

// Compares two byte strings in time that depends only on their lengths, so a
// remote caller cannot learn a secret byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The candidate closest to `word` by edit distance, if it is close enough to
// be a plausible typo (distance at most max(2, len/3)); empty otherwise. Used
// for "did you mean" hints on unknown configuration and policy keys.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// Splits on `sep`, trims ASCII whitespace from each piece, drops empty pieces.
std::vector<std::string> SplitAndTrim(std::string_view text, char sep);

// `s` with ASCII letters lower-cased; other bytes unchanged.
std::string ToLower(std::string_view s);

// ASCII case-insensitive equality (labels, repository names, header names).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True for "owner/name": exactly one '/', with a non-empty part on each side.
// Says nothing about the characters; callers that care check them too.
bool IsOwnerSlashName(std::string_view repo);

// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);

// The value of one hex digit (either case), or -1 when `c` is not one.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace relayq
