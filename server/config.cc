#include "server/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/time_format.h"
#include "common/yaml_reader.h"
#include "store/maintenance.h"

namespace relayq::server {
namespace {

// One configuration error, phrased as "FILE:LINE:COL: KEY: what".
Status ConfigError(const std::string& file, const yaml::Node& node, const std::string& key,
                   const std::string& what) {
  return Status::InvalidArgument(yaml::Place(file, node.Mark()) + ": " + key + ": " + what);
}

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  // Checks that `node` is a mapping whose keys are all in `known`.
  Status Keys(const yaml::Node& node, const std::string& prefix,
              const std::vector<std::string>& known) {
    if (!node.IsMap())
      return ConfigError(file_, node, prefix.empty() ? "(top)" : prefix, "expected a mapping");
    for (const auto& kv : node.Entries()) {
      std::string key = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string hint = yaml::DidYouMean(key, known);
      std::string what = "unknown key";
      if (!hint.empty()) what += " (" + hint + ")";
      if (key == "secret" || key == "secrets" || key == "token") {
        what += "; secrets go in the environment or a 0600 file, never in the config";
      }
      return ConfigError(file_, kv.first, prefix.empty() ? key : prefix + "." + key, what);
    }
    return Status::Ok();
  }

  Status String(const yaml::Node& node, const std::string& key, std::string& out) {
    if (!node.IsDefined() || node.IsNull()) return Status::Ok();
    if (!node.IsScalar()) return ConfigError(file_, node, key, "expected a string");
    out = node.Scalar();
    return Status::Ok();
  }

  Status Int(const yaml::Node& node, const std::string& key, int lo, int hi, int& out) {
    if (!node.IsDefined() || node.IsNull()) return Status::Ok();
    std::optional<int> v = node.AsInt();
    if (!v.has_value()) return ConfigError(file_, node, key, "expected a whole number");
    if (*v < lo || *v > hi) {
      return ConfigError(
          file_, node, key,
          "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    out = *v;
    return Status::Ok();
  }

  Status Seconds(const yaml::Node& node, const std::string& key, int& out) {
    std::string text;
    RELAYQ_RETURN_IF_ERROR(String(node, key, text));
    if (text.empty()) return Status::Ok();
    auto d = ParseDuration(text);
    if (!d.ok()) return ConfigError(file_, node, key, d.status().message());
    out = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
    return Status::Ok();
  }

  // An age such as store.retention: a duration with a unit ("30d", "12h"),
  // or "0" (off). A bare number is refused: is "30" seconds or days?
  Status Age(const yaml::Node& node, const std::string& key, std::chrono::milliseconds& out) {
    std::string text;
    RELAYQ_RETURN_IF_ERROR(String(node, key, text));
    if (text.empty()) return Status::Ok();
    if (text != "0" && text.find_first_not_of("0123456789") == std::string::npos) {
      const std::string n = text.substr(0, 32);
      return ConfigError(
          file_, node, key,
          n + " has no unit; write " + n + "d (days), " + n + "h (hours) or 0 (off)");
    }
    auto d = ParseDuration(text);
    if (!d.ok()) return ConfigError(file_, node, key, d.status().message());
    out = *d;
    return Status::Ok();
  }

  Status StringList(const yaml::Node& node, const std::string& key, std::vector<std::string>& out) {
    if (!node.IsDefined() || node.IsNull()) return Status::Ok();
    if (!node.IsSequence()) return ConfigError(file_, node, key, "expected a list of strings");
    out.clear();
    for (const auto& item : node.Items()) {
      if (!item.IsScalar()) return ConfigError(file_, item, key, "expected a list of strings");
      out.push_back(item.Scalar());
    }
    return Status::Ok();
  }

  Status OneOf(const yaml::Node& node, const std::string& key,
               const std::vector<std::string>& allowed, std::string& out) {
    std::string v = out;
    RELAYQ_RETURN_IF_ERROR(String(node, key, v));
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return ConfigError(file_, node, key, "expected one of " + list + ", got '" + v + "'");
    }
    out = v;
    return Status::Ok();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A duration key read into `out` ("90s", "500ms", "0"); `allow_zero`
// false refuses 0.
Status Duration(Reader& r, const yaml::Node& node, const std::string& key, bool allow_zero,
                std::chrono::milliseconds& out) {
  std::string text;
  RELAYQ_RETURN_IF_ERROR(r.String(node, key, text));
  if (text.empty()) return Status::Ok();
  auto d = ParseDuration(text);
  if (!d.ok()) return ConfigError(r.file(), node, key, d.status().message());
  if (!allow_zero && d->count() == 0) return ConfigError(r.file(), node, key, "must not be 0");
  out = *d;
  return Status::Ok();
}

// A mapping of header names to strings (values, variable names or files).
Status HeaderMap(Reader& r, const yaml::Node& node, const std::string& key,
                 std::map<std::string, std::string>& out) {
  if (!node.IsDefined() || node.IsNull()) return Status::Ok();
  if (!node.IsMap()) return ConfigError(r.file(), node, key, "expected a mapping of header: value");
  for (const auto& [k, v] : node.Entries()) {
    const std::string name = k.Scalar();
    const bool token_chars = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!token_chars) return ConfigError(r.file(), k, key, "'" + name + "' is not a header name");
    if (!v.IsScalar()) return ConfigError(r.file(), v, key + "." + name, "expected a string");
    out[name] = v.Scalar();
  }
  return Status::Ok();
}

// notify: (README "Notifications").
Status ReadNotify(Reader& r, const yaml::Node& node, NotifyConfig& c) {
  RELAYQ_RETURN_IF_ERROR(r.Keys(node, "notify",
                                {"targets", "rate_limit", "check_interval", "job_stuck_after",
                                 "runner_offline_after", "signature_failures", "retry_base"}));
  RELAYQ_RETURN_IF_ERROR(
      Duration(r, node["check_interval"], "notify.check_interval", false, c.check_interval));
  RELAYQ_RETURN_IF_ERROR(
      Duration(r, node["job_stuck_after"], "notify.job_stuck_after", true, c.job_stuck_after));
  RELAYQ_RETURN_IF_ERROR(Duration(r, node["runner_offline_after"], "notify.runner_offline_after",
                                  true, c.runner_offline_after));
  RELAYQ_RETURN_IF_ERROR(Duration(r, node["retry_base"], "notify.retry_base", false, c.retry_base));
  if (yaml::Node rl = node["rate_limit"]; rl.IsDefined() && !rl.IsNull()) {
    RELAYQ_RETURN_IF_ERROR(r.Keys(rl, "notify.rate_limit", {"max", "per"}));
    RELAYQ_RETURN_IF_ERROR(r.Int(rl["max"], "notify.rate_limit.max", 0, 100000, c.rate_limit.max));
    RELAYQ_RETURN_IF_ERROR(
        Duration(r, rl["per"], "notify.rate_limit.per", false, c.rate_limit.per));
  }
  if (yaml::Node sf = node["signature_failures"]; sf.IsDefined() && !sf.IsNull()) {
    RELAYQ_RETURN_IF_ERROR(r.Keys(sf, "notify.signature_failures", {"count", "window"}));
    RELAYQ_RETURN_IF_ERROR(
        r.Int(sf["count"], "notify.signature_failures.count", 0, 1000000, c.signature_count));
    RELAYQ_RETURN_IF_ERROR(
        Duration(r, sf["window"], "notify.signature_failures.window", false, c.signature_window));
  }
  yaml::Node targets = node["targets"];
  if (!targets.IsDefined() || targets.IsNull()) return Status::Ok();
  if (!targets.IsSequence()) {
    return ConfigError(r.file(), targets, "notify.targets", "expected a list of targets");
  }
  std::vector<std::string> kinds;
  for (notify::EventKind k : notify::AllEventKinds()) {
    kinds.emplace_back(notify::EventKindName(k));
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    const yaml::Node t = targets[i];
    std::string key = "notify.targets[" + std::to_string(i) + "]";
    RELAYQ_RETURN_IF_ERROR(r.Keys(t, key,
                                  {"name", "format", "url", "events", "token_file", "token_env",
                                   "headers", "header_env", "header_files", "tags", "timeout"}));
    notify::Target target;
    NotifyTargetSecrets secrets;
    RELAYQ_RETURN_IF_ERROR(r.String(t["name"], key + ".name", target.name));
    const bool name_ok = !target.name.empty() && target.name.size() <= 64 &&
                         std::all_of(target.name.begin(), target.name.end(), [](char ch) {
                           return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                                  ch == '_' || ch == '.';
                         });
    if (!name_ok) {
      return ConfigError(r.file(), t["name"].IsDefined() ? t["name"] : t, key + ".name",
                         "every target needs a name of letters, digits, '-', '_' or '.'");
    }
    for (const notify::Target& other : c.targets) {
      if (other.name == target.name) {
        return ConfigError(r.file(), t["name"], key + ".name",
                           "'" + target.name + "' names two targets");
      }
    }
    key = "notify.targets[" + target.name + "]";
    std::string format = "webhook";
    RELAYQ_RETURN_IF_ERROR(r.OneOf(t["format"], key + ".format", {"webhook", "ntfy"}, format));
    target.format = format == "ntfy" ? notify::TargetFormat::kNtfy : notify::TargetFormat::kWebhook;
    RELAYQ_RETURN_IF_ERROR(r.String(t["url"], key + ".url", target.url));
    if (target.url.empty()) {
      return ConfigError(r.file(), t, key + ".url",
                         "every target needs a url (http:// or https://)");
    }
    if (auto url = notify::ParseUrl(target.url); !url.ok()) {
      return ConfigError(r.file(), t["url"], key + ".url", url.status().message());
    }
    if (t["events"].IsDefined() && !t["events"].IsNull()) {
      std::vector<std::string> names;
      RELAYQ_RETURN_IF_ERROR(r.StringList(t["events"], key + ".events", names));
      target.events.clear();
      for (size_t e = 0; e < names.size(); ++e) {
        auto kind = notify::ParseEventKind(names[e]);
        if (!kind || *kind == notify::EventKind::kTest) {
          std::string hint = yaml::DidYouMean(names[e], kinds);
          return ConfigError(
              r.file(), t["events"][e], key + ".events",
              "unknown event '" + names[e] + "'" + (hint.empty() ? "" : " (" + hint + ")") +
                  "; known: " + [&] {
                    std::string all;
                    for (const auto& k : kinds) all += (all.empty() ? "" : ", ") + k;
                    return all;
                  }());
        }
        target.events.push_back(*kind);
      }
    }
    RELAYQ_RETURN_IF_ERROR(r.String(t["token_file"], key + ".token_file", secrets.token_file));
    RELAYQ_RETURN_IF_ERROR(r.String(t["token_env"], key + ".token_env", secrets.token_env));
    if (!secrets.token_file.empty() && !secrets.token_env.empty()) {
      return ConfigError(r.file(), t["token_env"], key + ".token_env",
                         "set token_file or token_env, not both");
    }
    RELAYQ_RETURN_IF_ERROR(HeaderMap(r, t["headers"], key + ".headers", target.headers));
    for (const auto& [name, value] : target.headers) {
      if (ToLower(name) == "authorization") {
        return ConfigError(r.file(), t["headers"], key + ".headers",
                           "an Authorization header is a secret: use token_file, token_env, "
                           "header_env or header_files");
      }
    }
    RELAYQ_RETURN_IF_ERROR(HeaderMap(r, t["header_env"], key + ".header_env", secrets.header_env));
    RELAYQ_RETURN_IF_ERROR(
        HeaderMap(r, t["header_files"], key + ".header_files", secrets.header_files));
    RELAYQ_RETURN_IF_ERROR(r.StringList(t["tags"], key + ".tags", target.tags));
    RELAYQ_RETURN_IF_ERROR(r.Seconds(t["timeout"], key + ".timeout", target.timeout_s));
    if (target.timeout_s < 1 || target.timeout_s > 300) {
      return ConfigError(r.file(), t["timeout"], key + ".timeout", "expected 1s to 5m");
    }
    c.targets.push_back(std::move(target));
    c.secrets.push_back(std::move(secrets));
  }
  return Status::Ok();
}

// Reads each notify target's token and secret headers from their files and
// variables. Errors name the target, the file or the variable, never a value.
Status ResolveNotifySecrets(NotifyConfig& c, const std::function<std::string(const char*)>& env) {
  for (size_t i = 0; i < c.targets.size() && i < c.secrets.size(); ++i) {
    notify::Target& t = c.targets[i];
    const NotifyTargetSecrets& s = c.secrets[i];
    const std::string key = "notify.targets[" + t.name + "]";
    auto from_file = [&](const std::string& path, const std::string& what) -> Result<std::string> {
      auto text = ReadSecretFile(path);
      if (!text.ok()) return Status::InvalidArgument(key + "." + what + ": cannot read " + path);
      auto lines = SplitAndTrim(*text, '\n');
      if (lines.empty())
        return Status::InvalidArgument(key + "." + what + ": " + path + " is empty");
      return lines.front();
    };
    auto from_env = [&](const std::string& var, const std::string& what) -> Result<std::string> {
      std::string v = env(var.c_str());
      if (v.empty()) {
        return Status::InvalidArgument(key + "." + what + ": the variable " + var + " is not set");
      }
      return v;
    };
    if (!s.token_file.empty()) {
      RELAYQ_ASSIGN_OR_RETURN(t.token, from_file(s.token_file, "token_file"));
    } else if (!s.token_env.empty()) {
      RELAYQ_ASSIGN_OR_RETURN(t.token, from_env(s.token_env, "token_env"));
    }
    for (const auto& [header, var] : s.header_env) {
      RELAYQ_ASSIGN_OR_RETURN(t.headers[header], from_env(var, "header_env." + header));
    }
    for (const auto& [header, path] : s.header_files) {
      RELAYQ_ASSIGN_OR_RETURN(t.headers[header], from_file(path, "header_files." + header));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<size_t> ParseByteSize(const std::string& text) {
  size_t i = 0;
  unsigned long long n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (1ULL << 40)) return Status::InvalidArgument("'" + text + "' is too large");
    n = n * 10 + static_cast<unsigned>(text[i] - '0');
    ++i;
  }
  if (i == 0) return Status::InvalidArgument("'" + text + "' is not a size (e.g. 25MiB)");
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  unsigned long long scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KB")
    scale = 1000;
  else if (unit == "KiB")
    scale = 1ULL << 10;
  else if (unit == "MB")
    scale = 1000 * 1000;
  else if (unit == "MiB")
    scale = 1ULL << 20;
  else if (unit == "GB")
    scale = 1000ULL * 1000 * 1000;
  else if (unit == "GiB")
    scale = 1ULL << 30;
  else
    return Status::InvalidArgument("'" + text + "' has an unknown unit (use B, KiB, MiB, KB, MB)");
  return static_cast<size_t>(n * scale);
}

Status SplitHostPort(const std::string& text, std::string& host, int& port) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:8080)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return bad();
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad();
  std::string p = text.substr(colon + 1);
  if (p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return bad();
  port = std::stoi(p);
  if (port > 65535) return bad();
  return Status::Ok();
}

std::string DefaultSecretFile(const std::string& db_path) {
  std::filesystem::path dir = std::filesystem::path(db_path).parent_path();
  return (dir / "relayq.secret").string();
}

Result<Config> LoadConfigFile(const std::string& path) {
  Config c;
  if (path.empty()) return c;
  c.config_path = path;
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the configuration file");
  std::stringstream text;
  text << in.rdbuf();
  yaml::ParseResult parsed = yaml::Parse(text.str());
  if (const auto& e = parsed.error; e.has_value()) {
    if (!e->syntax) return Status::InvalidArgument(path + ": " + e->what);
    return Status::InvalidArgument(path + ":" + std::to_string(e->mark.line + 1) + ":" +
                                   std::to_string(e->mark.column + 1) +
                                   ": YAML syntax error: " + e->message);
  }
  const yaml::Node& root = parsed.root;
  if (root.IsNull()) return c;  // an empty file is all defaults
  Reader r(path);
  yaml::Node history_node;
  {
    RELAYQ_RETURN_IF_ERROR(r.Keys(root, "",
                                  {"listen", "admin_listen", "tls", "store", "policy", "webhook",
                                   "admin", "http", "log", "github", "recovery", "notify"}));
    RELAYQ_RETURN_IF_ERROR(r.String(root["listen"], "listen", c.listen));
    RELAYQ_RETURN_IF_ERROR(r.String(root["admin_listen"], "admin_listen", c.admin_listen));
    for (const auto& [key, value] :
         {std::pair{"listen", &c.listen}, {"admin_listen", &c.admin_listen}}) {
      std::string host;
      int port;
      if (Status s = SplitHostPort(*value, host, port); !s.ok()) {
        return ConfigError(path, root[key], key, s.message());
      }
    }
    RELAYQ_RETURN_IF_ERROR(r.String(root["policy"], "policy", c.policy_path));
    if (yaml::Node tls = root["tls"]; tls.IsDefined() && !tls.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(tls, "tls", {"cert", "key"}));
      RELAYQ_RETURN_IF_ERROR(r.String(tls["cert"], "tls.cert", c.tls_cert));
      RELAYQ_RETURN_IF_ERROR(r.String(tls["key"], "tls.key", c.tls_key));
      if (c.tls_cert.empty() != c.tls_key.empty()) {
        return ConfigError(path, tls, "tls", "set both cert and key, or neither");
      }
    }
    if (yaml::Node st = root["store"]; st.IsDefined() && !st.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(st, "store", {"path", "synchronous", "retention", "history"}));
      RELAYQ_RETURN_IF_ERROR(r.String(st["path"], "store.path", c.db_path));
      std::string sync = "full";
      RELAYQ_RETURN_IF_ERROR(
          r.OneOf(st["synchronous"], "store.synchronous", {"full", "normal"}, sync));
      c.synchronous =
          sync == "full" ? store::StoreOptions::Sync::kFull : store::StoreOptions::Sync::kNormal;
      RELAYQ_RETURN_IF_ERROR(r.Age(st["retention"], "store.retention", c.retention));
      RELAYQ_RETURN_IF_ERROR(r.Age(st["history"], "store.history", c.history));
      history_node = st["history"];
    }
    if (yaml::Node wh = root["webhook"]; wh.IsDefined() && !wh.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(wh, "webhook", {"secret_file", "allow", "max_body"}));
      RELAYQ_RETURN_IF_ERROR(r.String(wh["secret_file"], "webhook.secret_file", c.secret_file));
      RELAYQ_RETURN_IF_ERROR(r.StringList(wh["allow"], "webhook.allow", c.allow));
      std::string size;
      RELAYQ_RETURN_IF_ERROR(r.String(wh["max_body"], "webhook.max_body", size));
      if (!size.empty()) {
        auto n = ParseByteSize(size);
        if (!n.ok())
          return ConfigError(path, wh["max_body"], "webhook.max_body", n.status().message());
        if (*n < 1024)
          return ConfigError(path, wh["max_body"], "webhook.max_body", "must be at least 1KiB");
        c.max_body_bytes = *n;
      }
    }
    if (yaml::Node ad = root["admin"]; ad.IsDefined() && !ad.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(ad, "admin", {"token_file", "server"}));
      RELAYQ_RETURN_IF_ERROR(r.String(ad["token_file"], "admin.token_file", c.admin_token_file));
      RELAYQ_RETURN_IF_ERROR(r.String(ad["server"], "admin.server", c.server_url));
    }
    if (yaml::Node http = root["http"]; http.IsDefined() && !http.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(
          r.Keys(http, "http",
                 {"threads", "io_threads", "keep_alive_timeout", "read_timeout", "header_timeout",
                  "request_timeout", "max_connections", "admin_max_connections"}));
      int ignored = 0;
      RELAYQ_RETURN_IF_ERROR(r.Int(http["threads"], "http.threads", 1, 1024, ignored));
      c.http_threads_given = http["threads"].IsDefined() && !http["threads"].IsNull();
      RELAYQ_RETURN_IF_ERROR(r.Int(http["io_threads"], "http.io_threads", 0, 64, c.io_threads));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(http["keep_alive_timeout"], "http.keep_alive_timeout", c.keep_alive_timeout_s));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(http["read_timeout"], "http.read_timeout", c.header_timeout_s));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(http["header_timeout"], "http.header_timeout", c.header_timeout_s));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(http["request_timeout"], "http.request_timeout", c.request_timeout_s));
      RELAYQ_RETURN_IF_ERROR(
          r.Int(http["max_connections"], "http.max_connections", 1, 1000000, c.max_connections));
      RELAYQ_RETURN_IF_ERROR(r.Int(http["admin_max_connections"], "http.admin_max_connections", 1,
                                   100000, c.admin_max_connections));
      for (auto [key, value] : {std::pair{"header_timeout", c.header_timeout_s},
                                std::pair{"request_timeout", c.request_timeout_s},
                                std::pair{"keep_alive_timeout", c.keep_alive_timeout_s}}) {
        if (value < 1)
          return ConfigError(path, http[key], std::string("http.") + key, "must be at least 1s");
      }
      if (c.request_timeout_s < c.header_timeout_s) {
        return ConfigError(path, http["request_timeout"], "http.request_timeout",
                           "must not be shorter than http.header_timeout (" +
                               std::to_string(c.header_timeout_s) + "s)");
      }
    }
    if (yaml::Node log = root["log"]; log.IsDefined() && !log.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(log, "log", {"format", "level"}));
      RELAYQ_RETURN_IF_ERROR(r.OneOf(log["format"], "log.format", {"text", "json"}, c.log_format));
      RELAYQ_RETURN_IF_ERROR(
          r.OneOf(log["level"], "log.level", {"debug", "info", "warn", "error"}, c.log_level));
    }
    if (yaml::Node gh = root["github"]; gh.IsDefined() && !gh.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(gh, "github",
                                    {"api_url", "app_id", "installation_id", "private_key_file",
                                     "repositories", "hook_url", "write_interval"}));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(gh["write_interval"], "github.write_interval", c.github_write_interval_s));
      RELAYQ_RETURN_IF_ERROR(r.String(gh["api_url"], "github.api_url", c.github_api_url));
      RELAYQ_RETURN_IF_ERROR(r.String(gh["app_id"], "github.app_id", c.github_app_id));
      RELAYQ_RETURN_IF_ERROR(
          r.String(gh["installation_id"], "github.installation_id", c.github_installation_id));
      RELAYQ_RETURN_IF_ERROR(
          r.String(gh["private_key_file"], "github.private_key_file", c.github_private_key_file));
      RELAYQ_RETURN_IF_ERROR(
          r.StringList(gh["repositories"], "github.repositories", c.github_repositories));
      for (size_t i = 0; i < c.github_repositories.size(); ++i) {
        const std::string& repo = c.github_repositories[i];
        if (!IsOwnerSlashName(repo)) {
          return ConfigError(path, gh["repositories"][i], "github.repositories",
                             "'" + repo + "' is not owner/name");
        }
      }
      RELAYQ_RETURN_IF_ERROR(r.String(gh["hook_url"], "github.hook_url", c.github_hook_url));
    }
    if (yaml::Node rc = root["recovery"]; rc.IsDefined() && !rc.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(r.Keys(rc, "recovery", {"since", "stale_after", "interval"}));
      RELAYQ_RETURN_IF_ERROR(r.Seconds(rc["interval"], "recovery.interval", c.recovery_interval_s));
      RELAYQ_RETURN_IF_ERROR(r.Seconds(rc["since"], "recovery.since", c.recovery_since_s));
      RELAYQ_RETURN_IF_ERROR(
          r.Seconds(rc["stale_after"], "recovery.stale_after", c.recovery_stale_after_s));
    }
    if (yaml::Node nt = root["notify"]; nt.IsDefined() && !nt.IsNull()) {
      RELAYQ_RETURN_IF_ERROR(ReadNotify(r, nt, c.notify));
    }
    // Delivery ids and action keys make redeliveries and repeated events
    // idempotent: they must outlive GitHub's redelivery window and recovery's
    // look-back (store/maintenance.h).
    const auto since = std::chrono::seconds(c.recovery_since_s);
    if (c.history.count() > 0 &&
        (c.history.count() < store::kMinHistoryMs || c.history <= 2 * since)) {
      return ConfigError(path, history_node, "store.history",
                         "must be at least 7d and more than twice recovery.since (or 0: keep "
                         "every record); delivery ids and action keys younger than that keep "
                         "redeliveries from acting twice");
    }
  }
  return c;
}

Status ApplyEnvironment(Config& c, const std::function<const char*(const char*)>& getenv) {
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  if (std::string v = env("RELAYQ_GITHUB_API_URL"); !v.empty()) c.github_api_url = v;
  if (std::string v = env("GITHUB_TOKEN"); !v.empty()) c.github_token = v;
  if (std::string v = env("RELAYQ_SERVER"); !v.empty()) c.server_url = v;
  if (std::string v = env("RELAYQ_ADMIN_TOKEN"); !v.empty()) {
    c.admin_token = v;
  } else if (!c.admin_token_file.empty()) {
    auto text = ReadSecretFile(c.admin_token_file);
    if (!text.ok()) return text.status().WithContext("admin.token_file");
    auto parts = SplitAndTrim(*text, '\n');
    if (parts.empty())
      return Status::InvalidArgument("admin.token_file " + c.admin_token_file + " is empty");
    c.admin_token = parts.front();
  }
  RELAYQ_RETURN_IF_ERROR(ResolveNotifySecrets(c.notify, env));
  if (std::string v = env("RELAYQ_WEBHOOK_SECRET"); !v.empty()) {
    c.secrets = SplitAndTrim(v, ',');
  } else {
    std::string file = c.secret_file.empty() ? DefaultSecretFile(c.db_path) : c.secret_file;
    if (std::filesystem::exists(file)) {
      auto text = ReadSecretFile(file);
      if (!text.ok()) return text.status().WithContext("webhook.secret_file");
      std::string joined = *text;
      for (char& ch : joined) {
        if (ch == '\n' || ch == '\r') ch = ',';
      }
      c.secrets = SplitAndTrim(joined, ',');
    }
  }
  return Status::Ok();
}

}  // namespace relayq::server
