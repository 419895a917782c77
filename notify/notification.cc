#include "notify/notification.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "common/time_format.h"

namespace relayq::notify {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<EventKind, std::string_view>, 8> kKinds = {{
    {EventKind::kActionFailed, "action_failed"},
    {EventKind::kActionAborted, "action_aborted"},
    {EventKind::kActionRefused, "action_refused"},
    {EventKind::kJobStuck, "job_stuck"},
    {EventKind::kRunnerOffline, "runner_offline"},
    {EventKind::kSignatureFailures, "signature_failures"},
    {EventKind::kStoreUnwritable, "store_unwritable"},
    {EventKind::kTest, "test"},
}};

// ntfy's priorities are min, low, default, high, max (urgent): ours map to them.
std::string NtfyPriority(const std::string& p) {
  static const std::array<std::string_view, 11> known = {
      "min", "low", "default", "high", "max", "urgent", "1", "2", "3", "4", "5"};
  if (std::find(known.begin(), known.end(), p) != known.end()) return p;
  return "default";
}

}  // namespace

std::string_view EventKindName(EventKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (const auto& [k, n] : kKinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

const std::vector<EventKind>& AllEventKinds() {
  static const std::vector<EventKind> all = {
      EventKind::kActionFailed,   EventKind::kActionAborted, EventKind::kActionRefused,
      EventKind::kJobStuck,       EventKind::kRunnerOffline, EventKind::kSignatureFailures,
      EventKind::kStoreUnwritable};
  return all;
}

std::vector<EventKind> DefaultEventKinds() {
  std::vector<EventKind> out;
  for (EventKind k : AllEventKinds()) {
    if (k != EventKind::kActionAborted) out.push_back(k);
  }
  return out;
}

std::string_view TargetFormatName(TargetFormat f) {
  return f == TargetFormat::kNtfy ? "ntfy" : "webhook";
}

bool Target::Wants(EventKind kind) const {
  return kind == EventKind::kTest || std::find(events.begin(), events.end(), kind) != events.end();
}

std::string ToJson(const Notification& n) {
  json links = json::object();
  for (const auto& [name, url] : n.links) links[name] = url;
  json j = {{"event", std::string(EventKindName(n.kind))},
            {"key", n.key},
            {"title", n.title},
            {"message", n.message},
            {"time", FormatRfc3339(n.time_ms)},
            {"time_ms", n.time_ms},
            {"priority", n.priority},
            {"links", links},
            {"ids", n.ids},
            {"source", "relayq"}};
  return j.dump();
}

Result<Notification> FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("a queued notification is not a JSON object");
  Notification n;
  try {
    auto kind = ParseEventKind(j.value("event", std::string()));
    if (!kind) return Status::InvalidArgument("a queued notification has an unknown event kind");
    n.kind = *kind;
    n.key = j.value("key", std::string());
    n.title = j.value("title", std::string());
    n.message = j.value("message", std::string());
    n.time_ms = j.value("time_ms", int64_t{0});
    n.priority = j.value("priority", std::string("default"));
    if (j.contains("links") && j["links"].is_object()) {
      for (auto it = j["links"].begin(); it != j["links"].end(); ++it) {
        if (it->is_string()) n.links.emplace_back(it.key(), it->get<std::string>());
      }
    }
    if (j.contains("ids") && j["ids"].is_object()) {
      for (auto it = j["ids"].begin(); it != j["ids"].end(); ++it) {
        if (it->is_string()) n.ids[it.key()] = it->get<std::string>();
      }
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("a queued notification does not read: ") + e.what());
  }
  return n;
}

std::string HeaderValue(std::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (char c : text) {
    if (out.size() >= max) break;
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += ' ';
    } else if (u >= 0x80) {
      out += '?';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

Result<Url> ParseUrl(std::string_view text) {
  Url u;
  std::string_view rest;
  if (text.starts_with("https://")) {
    u.scheme = "https";
    u.port = 443;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    u.scheme = "http";
    u.port = 80;
    rest = text.substr(7);
  } else {
    return Status::InvalidArgument("the url must start with http:// or https://");
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.path.empty() && u.path.front() == '?') u.path = "/" + u.path;
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "the url must not hold user info; put credentials in token_file or header_env");
  }
  if (u.path.find('#') != std::string::npos) {
    return Status::InvalidArgument("the url must not have a #fragment");
  }
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    std::string_view port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Status::InvalidArgument("the url's port is not a number");
    }
    u.port = std::stoi(std::string(port));
    if (u.port < 1 || u.port > 65535)
      return Status::InvalidArgument("the url's port is out of range");
    authority = authority.substr(0, colon);
  }
  u.host = std::string(authority);
  if (u.host.size() >= 2 && u.host.front() == '[' && u.host.back() == ']') {
    u.host = u.host.substr(1, u.host.size() - 2);
  }
  if (u.host.empty()) return Status::InvalidArgument("the url has no host");
  for (char c : u.path) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f)
      return Status::InvalidArgument("the url's path has spaces or control characters");
  }
  return u;
}

Request BuildRequest(const Target& target, const Notification& n) {
  Request r;
  auto url = ParseUrl(target.url);
  r.path = url.ok() ? url->path : "/";
  r.headers.emplace_back("User-Agent", "relayq");
  if (!target.token.empty()) {
    r.headers.emplace_back("Authorization", "Bearer " + HeaderValue(target.token, 4096));
  }
  for (const auto& [name, value] : target.headers) {
    r.headers.emplace_back(HeaderValue(name, 128), HeaderValue(value, 4096));
  }
  if (target.format == TargetFormat::kWebhook) {
    r.content_type = "application/json";
    r.body = ToJson(n);
    r.headers.emplace_back("X-Relayq-Event", std::string(EventKindName(n.kind)));
    return r;
  }
  // ntfy: the message is the body; title, priority, tags and the click URL
  // are its documented publish headers (docs.ntfy.sh/publish).
  r.content_type = "text/plain; charset=utf-8";
  r.body = n.message;
  for (const auto& [name, link] : n.links) r.body += "\n" + name + ": " + link;
  r.headers.emplace_back("Title", HeaderValue(n.title));
  r.headers.emplace_back("Priority", NtfyPriority(n.priority));
  std::string tags(EventKindName(n.kind));
  for (const std::string& t : target.tags) tags += "," + t;
  r.headers.emplace_back("Tags", HeaderValue(tags));
  if (!n.links.empty()) r.headers.emplace_back("Click", HeaderValue(n.links.front().second, 2048));
  return r;
}

}  // namespace relayq::notify
