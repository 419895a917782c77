// Notifications: what relayq tells its owner (an action failed, a job is
// stuck in the queue, a routed label has no online runner, deliveries fail
// their signature check in a burst, the store cannot be written), the
// targets it tells (a generic JSON webhook, or an ntfy topic), and the HTTP
// request each target gets for a notification.
//
// Everything here is pure data and pure functions: the request is built
// here and sent by http_sender.h, so the formats are unit-tested without a
// network. A target's secrets (its token, its secret header values) are
// resolved into the Target when the configuration is loaded and live only in
// memory: they are never stored with a queued notification, never logged and
// never part of an error message. Thread safety: pure; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace relayq::notify {

// What a notification is about. Stored by name (EventKindName).
enum class EventKind {
  kActionFailed,       // a routing action failed (GitHub refused, gave up)
  kActionAborted,      // a routing action was given up (the job started, the run ended)
  kActionRefused,      // the policy refused a routing action (max_fallbacks, ...)
  kJobStuck,           // a job queued longer than notify.job_stuck_after, no route acting
  kRunnerOffline,      // no online runner for a routed label for runner_offline_after
  kSignatureFailures,  // deliveries failed the signature check in a burst
  kStoreUnwritable,    // the store cannot be written (sent directly, not queued)
  kTest,               // `relayq notify test`
};

// "action_failed", "job_stuck", ...: the names used in the configuration
// (`events:`), in the JSON body and in keys.
std::string_view EventKindName(EventKind kind);
std::optional<EventKind> ParseEventKind(std::string_view name);
// Every kind a target may subscribe to (all but kTest), in a fixed order.
const std::vector<EventKind>& AllEventKinds();
// The kinds a target gets when it names none: all but action_aborted (an
// aborted fallback is mostly good news: the job started after all).
std::vector<EventKind> DefaultEventKinds();

// One notification, as queued (ToJson) and as sent.
struct Notification {
  EventKind kind = EventKind::kTest;
  // Names the event, unique per kind: "action:42:failed", "job:7001". The
  // queued notification's key is notify:TARGET:KIND:KEY, so one event is
  // recorded (and sent) at most once per target.
  std::string key;
  std::string title;    // one line
  std::string message;  // may span lines
  int64_t time_ms = 0;  // when the event happened (Unix ms)
  // "high" for failures and outages, "default" otherwise (ntfy's names).
  std::string priority = "default";
  std::vector<std::pair<std::string, std::string>> links;  // (name, URL), e.g. ("run", ...)
  std::map<std::string, std::string> ids;  // action_id, job_id, run_id, repository, label, ...
};

// The queued form, and back. FromJson fails with InvalidArgument on text
// that is not a notification.
std::string ToJson(const Notification& n);
Result<Notification> FromJson(std::string_view text);

enum class TargetFormat {
  kWebhook,  // POST application/json: the notification as one JSON object
  kNtfy,     // POST text/plain message to an ntfy topic URL, with ntfy's headers
};
std::string_view TargetFormatName(TargetFormat f);

// One configured receiver (notify.targets[]).
struct Target {
  std::string name;  // unique among targets; names it in logs and errors
  TargetFormat format = TargetFormat::kWebhook;
  std::string url;  // http(s)://host[:port]/path; for ntfy, the topic's URL
  std::vector<EventKind> events = DefaultEventKinds();
  // Sent as "Authorization: Bearer TOKEN"; from token_file or token_env.
  // Secret.
  std::string token;
  // Extra headers: plain values from `headers`, secret ones from
  // header_env / header_files (all treated as secret once resolved).
  std::map<std::string, std::string> headers;
  // ntfy only: the tags sent with every notification (ntfy shows known
  // emoji names as emojis), besides the event kind.
  std::vector<std::string> tags;
  int timeout_s = 10;  // connect + whole answer

  bool Wants(EventKind kind) const;
};

// The HTTP request a target gets for a notification.
struct Request {
  std::string path;  // path and query of the target URL ("/" when none)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;
};

// Builds the request for `target`. Header values are single lines of
// printable ASCII (anything else becomes a space or '?'), so an event's
// text can never add or split a header.
Request BuildRequest(const Target& target, const Notification& n);

// A target URL split for the HTTP client.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;      // explicit, or 80/443 from the scheme
  std::string path;  // path and query; "/" when the URL has none
};
// Parses http(s)://host[:port][/path][?query]. InvalidArgument (which never
// repeats the URL: an ntfy topic or a webhook path may be a secret) on
// anything else, including user info and fragments.
Result<Url> ParseUrl(std::string_view text);

// A header value made safe: control characters (CR, LF, ...) become spaces,
// non-ASCII bytes '?', trimmed to `max` bytes.
std::string HeaderValue(std::string_view text, size_t max = 256);

}  // namespace relayq::notify
