#include "common/redact.h"

#include <cctype>

namespace relayq {

std::string RedactUrl(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  std::string out(url);
  size_t scheme_end = out.find("://");
  if (scheme_end == std::string::npos) return out;
  size_t authority = scheme_end + 3;
  size_t path = out.find('/', authority);
  size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= authority) out.erase(authority, at + 1 - authority);
  return out;
}

std::string RedactUrlsIn(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t http = text.find_first_of("hH", i);
    if (http == std::string_view::npos) break;
    size_t len = 0;
    for (std::string_view scheme : {"https://", "http://"}) {
      if (text.size() - http >= scheme.size()) {
        bool match = true;
        for (size_t k = 0; k < scheme.size() && match; ++k) {
          match = std::tolower(static_cast<unsigned char>(text[http + k])) == scheme[k];
        }
        if (match) {
          len = scheme.size();
          break;
        }
      }
    }
    if (len == 0) {
      out.append(text.substr(i, http + 1 - i));
      i = http + 1;
      continue;
    }
    size_t end = http + len;
    while (end < text.size()) {
      unsigned char c = static_cast<unsigned char>(text[end]);
      if (std::isspace(c) || c == '"' || c == '\'' || c == '<' || c == '>' || c < 0x20) break;
      ++end;
    }
    out.append(text.substr(i, http - i));
    out += RedactUrl(text.substr(http, end - http));
    i = end;
  }
  if (i < text.size()) out.append(text.substr(i));
  return out;
}

}  // namespace relayq
