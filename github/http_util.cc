#include "github/http_util.h"

#include <cctype>
#include <charconv>

#include "common/strings.h"

namespace relayq::github {
namespace {

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string BaseUrl::SchemeHostPort() const {
  return scheme + "://" + host + ":" + std::to_string(port);
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  BaseUrl out;
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("GitHub API URL \"" + std::string(url) +
                                   "\": " + std::string(why));
  };
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    out.scheme = "https";
    out.port = 443;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    out.scheme = "http";
    out.port = 80;
    rest.remove_prefix(7);
  } else {
    return bad("must start with http:// or https://");
  }
  if (rest.find_first_of("?#@") != std::string_view::npos) {
    return bad("must not contain a query, a fragment or user info");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.empty()) return bad("has no host");
  // IPv6 literals ("[::1]:8080") keep their brackets as the host.
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    std::string_view port_text = authority.substr(colon + 1);
    int port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535) {
      return bad("has an invalid port");
    }
    out.port = port;
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return bad("has no host");
  out.host = std::string(authority);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexDigitValue(s[i + 1]);
      int lo = HexDigitValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

Result<std::pair<std::string, std::string>> SplitRepo(std::string_view repo) {
  if (!IsOwnerSlashName(repo)) {
    return Status::InvalidArgument("repository \"" + std::string(repo) +
                                   "\" is not of the form OWNER/NAME");
  }
  size_t slash = repo.find('/');
  return std::make_pair(std::string(repo.substr(0, slash)), std::string(repo.substr(slash + 1)));
}

std::optional<std::string> NextLink(std::string_view link_header) {
  // Link: <https://api.github.com/...&page=2>; rel="next", <...>; rel="last"
  size_t pos = 0;
  while (pos < link_header.size()) {
    size_t open = link_header.find('<', pos);
    if (open == std::string_view::npos) break;
    size_t close = link_header.find('>', open);
    if (close == std::string_view::npos) break;
    size_t end = link_header.find(',', close);
    std::string_view params = link_header.substr(
        close + 1, end == std::string_view::npos ? std::string_view::npos : end - close - 1);
    size_t p = 0;
    while (p < params.size()) {
      size_t semi = params.find(';', p);
      std::string_view param = Trim(
          params.substr(p, semi == std::string_view::npos ? std::string_view::npos : semi - p));
      if (param == "rel=\"next\"" || param == "rel=next") {
        return std::string(link_header.substr(open + 1, close - open - 1));
      }
      if (semi == std::string_view::npos) break;
      p = semi + 1;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

std::string PathAndQuery(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t slash = url.find('/', scheme + 3);
  if (slash == std::string_view::npos) return "/";
  return std::string(url.substr(slash));
}

std::optional<std::string> QueryParam(std::string_view url, std::string_view key) {
  size_t q = url.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = url.substr(q + 1);
  size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    if (PercentDecode(k) == key) {
      return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  s = Trim(s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  auto v = ParseInt64(value);
  if (!v || *v < 0) return std::nullopt;
  return std::chrono::seconds(*v);
}

}  // namespace relayq::github
