#include "tests/fakes/fake_github_server.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/mutex.h"
#include "common/time_format.h"

namespace relayq::testing {
namespace {

using Json = nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string b64(in);
  for (char& c : b64) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return std::nullopt;  // not base64url
  }
  size_t pad = (4 - b64.size() % 4) % 4;
  if (pad == 3) return std::nullopt;
  b64.append(pad, '=');
  std::string out(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Json NullIfEmpty(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json; charset=utf-8");
}

void Message(httplib::Response& res, int status, const std::string& msg) {
  Reply(res, status, {{"message", msg}, {"documentation_url", "https://docs.github.com/rest"}});
}

int64_t ParamInt(const httplib::Request& req, const char* key, int64_t fallback) {
  if (!req.has_param(key)) return fallback;
  try {
    return std::stoll(req.get_param_value(key));
  } catch (...) {
    return fallback;
  }
}

}  // namespace

std::string RecordedCall::Header(std::string_view name) const {
  auto it = headers.find(Lower(std::string(name)));
  return it == headers.end() ? std::string() : it->second;
}

struct FakeGitHubServer::State {
  Options options;
  const Clock* clock = nullptr;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  mutable Mutex mu;
  std::vector<RecordedCall> calls GUARDED_BY(mu);
  std::vector<FailureRule> failures GUARDED_BY(mu);
  std::chrono::milliseconds delay GUARDED_BY(mu) = std::chrono::milliseconds(0);
  std::function<void(const RecordedCall&)> call_hook GUARDED_BY(mu);
  bool old_ghes GUARDED_BY(mu) = false;
  int old_ghes_status GUARDED_BY(mu) = 422;
  bool cancel_conflict_in_progress GUARDED_BY(mu) = false;
  std::optional<std::set<std::string>> known_workflows GUARDED_BY(mu);
  std::map<std::string, std::vector<std::string>> workflow_job_labels GUARDED_BY(mu);
  std::map<std::string, std::string> default_branches GUARDED_BY(mu);  // repo -> branch
  bool require_auth GUARDED_BY(mu) = false;
  std::set<std::string> valid_tokens GUARDED_BY(mu);
  std::map<std::string, int64_t> issued GUARDED_BY(mu);  // installation token -> expiry (unix s)
  std::vector<std::string> issued_order GUARDED_BY(mu);
  std::optional<std::string> app_id GUARDED_BY(mu);
  std::string app_public_key_pem GUARDED_BY(mu);
  int64_t installation_id GUARDED_BY(mu) = 0;
  std::chrono::seconds token_ttl GUARDED_BY(mu) = std::chrono::seconds(3600);
  std::optional<FakeJwtClaims> last_jwt GUARDED_BY(mu);
  int token_exchanges GUARDED_BY(mu) = 0;
  int64_t next_id GUARDED_BY(mu) = 1000;
  int64_t rate_remaining GUARDED_BY(mu) = 5000;
  std::map<int64_t, FakeRun> runs GUARDED_BY(mu);
  std::map<int64_t, FakeJob> jobs GUARDED_BY(mu);
  std::map<int64_t, FakeRunner> runners GUARDED_BY(mu);
  std::map<int64_t, FakeHook> hooks GUARDED_BY(mu);
  std::map<int64_t, FakeDelivery> deliveries GUARDED_BY(mu);
  std::vector<FakeRedelivery> redeliveries GUARDED_BY(mu);

  int64_t NowUnix() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock->Now().time_since_epoch())
        .count();
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port) + options.path_prefix;
  }
  std::string Time(int64_t unix_s) const { return FormatRfc3339(unix_s * 1000); }

  // ---- JSON views (require mu) ----
  Json RunJson(const FakeRun& r) const {
    std::string name = r.workflow.substr(0, r.workflow.rfind('.'));
    auto [owner, repo] = SplitRepo(r.repo);
    return {{"id", r.id},
            {"name", name},
            {"display_title", r.display_title},
            {"run_attempt", r.attempt},
            {"status", r.status},
            {"conclusion", NullIfEmpty(r.conclusion)},
            {"head_branch", r.ref},
            {"path", ".github/workflows/" + r.workflow},
            {"event", r.event},
            {"html_url", "https://github.com/" + r.repo + "/actions/runs/" + std::to_string(r.id)},
            {"url", Url() + "/repos/" + r.repo + "/actions/runs/" + std::to_string(r.id)},
            {"created_at", Time(r.created_at_unix)},
            {"updated_at", Time(NowUnix())},
            {"repository", {{"full_name", r.repo}, {"name", repo}, {"owner", {{"login", owner}}}}}};
  }
  Json JobJson(const FakeJob& j) const {
    return {{"id", j.id},
            {"run_id", j.run_id},
            {"run_attempt", j.attempt},
            {"name", j.name},
            {"workflow_name", j.workflow_name},
            {"status", j.status},
            {"conclusion", NullIfEmpty(j.conclusion)},
            {"runner_name", NullIfEmpty(j.runner_name)},
            {"labels", j.labels},
            {"created_at", Time(NowUnix())},
            {"started_at", Time(NowUnix())},
            {"completed_at", nullptr}};
  }
  static Json RunnerJson(const FakeRunner& r) {
    Json labels = Json::array();
    int64_t i = 1;
    for (const auto& l : r.labels) {
      bool builtin = l == "self-hosted" || l == "Linux" || l == "macOS" || l == "X64" ||
                     l == "ARM64" || l == "ARM";
      labels.push_back({{"id", i++}, {"name", l}, {"type", builtin ? "read-only" : "custom"}});
    }
    return {{"id", r.id},         {"name", r.name}, {"os", r.os},
            {"status", r.status}, {"busy", r.busy}, {"labels", labels}};
  }
  Json HookJson(const FakeHook& h) const {
    return {{"type", "Repository"},
            {"id", h.id},
            {"name", "web"},
            {"active", h.active},
            {"events", h.events},
            {"config",
             {{"url", h.url},
              {"content_type", h.content_type},
              {"insecure_ssl", "0"},
              {"secret", h.secret.empty() ? "" : "********"}}},
            {"url", Url() + "/repos/" + h.repo + "/hooks/" + std::to_string(h.id)}};
  }
  Json DeliveryJson(const FakeDelivery& d) const {
    return {{"id", d.id},
            {"guid", d.guid},
            {"delivered_at", Time(d.delivered_at_unix)},
            {"redelivery", d.redelivery},
            {"duration", 0.05},
            {"status", d.status},
            {"status_code", d.status_code},
            {"event", d.event},
            {"action", NullIfEmpty(d.action)},
            {"installation_id", nullptr},
            {"repository_id", 1}};
  }

  static std::pair<std::string, std::string> SplitRepo(const std::string& repo) {
    size_t slash = repo.find('/');
    if (slash == std::string::npos) return {repo, ""};
    return {repo.substr(0, slash), repo.substr(slash + 1)};
  }

  int64_t NewId() REQUIRES(mu) { return next_id++; }

  int64_t AddRunLocked(FakeRun run) REQUIRES(mu) {
    if (run.id == 0) run.id = NewId();
    if (run.created_at_unix == 0) run.created_at_unix = NowUnix();
    if (run.display_title.empty()) {
      run.display_title = run.workflow;
      auto it = run.inputs.find("relayq_id");
      // As the kit's workflows do with run-name: "... [relayq:ID]".
      if (it != run.inputs.end()) run.display_title += " [relayq:" + it->second + "]";
    }
    int64_t id = run.id;
    runs[id] = std::move(run);
    return id;
  }

  // ---- JWT ----
  // Returns "" when `authorization` carries a JWT that verifies, else why not.
  std::string VerifyJwt(const std::string& authorization) REQUIRES(mu) {
    if (!app_id) return "the fake has no GitHub App configured";
    if (!authorization.starts_with("Bearer ")) return "no bearer token";
    std::string jwt = authorization.substr(7);
    size_t d1 = jwt.find('.');
    size_t d2 = d1 == std::string::npos ? d1 : jwt.find('.', d1 + 1);
    if (d2 == std::string::npos || jwt.find('.', d2 + 1) != std::string::npos) {
      return "not a JWT";
    }
    auto header = Base64UrlDecode(std::string_view(jwt).substr(0, d1));
    auto payload = Base64UrlDecode(std::string_view(jwt).substr(d1 + 1, d2 - d1 - 1));
    auto sig = Base64UrlDecode(std::string_view(jwt).substr(d2 + 1));
    if (!header || !payload || !sig) return "JWT is not base64url";
    Json h = Json::parse(*header, nullptr, false);
    Json p = Json::parse(*payload, nullptr, false);
    if (!h.is_object() || !p.is_object()) return "JWT parts are not JSON objects";
    if (h.value("alg", "") != "RS256") return "JWT alg is not RS256";

    BIO* bio =
        BIO_new_mem_buf(app_public_key_pem.data(), static_cast<int>(app_public_key_pem.size()));
    EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    bool verified = false;
    if (key != nullptr) {
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      std::string signing_input = jwt.substr(0, d2);
      verified =
          ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
          EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                           reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
      EVP_MD_CTX_free(ctx);
      EVP_PKEY_free(key);
    }
    ERR_clear_error();
    if (!verified) return "JWT signature does not verify";

    auto iat = p.find("iat");
    auto exp = p.find("exp");
    auto iss = p.find("iss");
    if (iat == p.end() || !iat->is_number_integer() || exp == p.end() ||
        !exp->is_number_integer() || iss == p.end()) {
      return "JWT lacks iat, exp or iss";
    }
    FakeJwtClaims claims{iat->get<int64_t>(), exp->get<int64_t>(),
                         iss->is_string() ? iss->get<std::string>() : iss->dump()};
    const int64_t now = NowUnix();
    if (claims.iss != *app_id) return "JWT iss is not the App id";
    if (claims.exp <= now) return "JWT expired";
    if (claims.iat > now + 60) return "JWT iat is in the future";
    if (claims.exp > now + 600) return "JWT exp is more than 10 minutes ahead";
    if (claims.exp <= claims.iat) return "JWT exp is not after iat";
    last_jwt = claims;
    return "";
  }

  bool TokenValid(const std::string& authorization) const REQUIRES(mu) {
    if (!authorization.starts_with("Bearer ")) return false;
    std::string token = authorization.substr(7);
    if (valid_tokens.count(token)) return true;
    auto it = issued.find(token);
    return it != issued.end() && NowUnix() < it->second;
  }

  // ---- request pipeline ----
  // Records the call and applies the failure, delay and auth knobs. Runs
  // inside each route's handler (not as a pre-routing handler) because only
  // there has httplib read the request body. True when it answered.
  static void Answer(const FailureRule& rule, httplib::Response& res) {
    if (rule.drop) {
      // Promise a body, then fail to write it: the server closes the
      // connection and the client sees a read error.
      res.status = 200;
      res.body.clear();
      res.set_content_provider(1024, "application/json",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
      return;
    }
    if (rule.garbage) {
      res.status = 200;
      res.set_content("{\"this is\": not json <html>", "application/json");
    } else {
      res.status = rule.status;
      res.set_content(rule.body.empty() ? R"({"message":"fake failure"})" : rule.body,
                      "application/json");
    }
    for (const auto& [k, v] : rule.headers) res.set_header(k, v);
  }

  // `after` receives a failure rule to apply once the real handler ran.
  bool Intercept(const httplib::Request& req, httplib::Response& res,
                 std::optional<FailureRule>& after) {
    RecordedCall call;
    call.method = req.method;
    call.path = req.path;
    size_t q = req.target.find('?');
    if (q != std::string::npos) call.query = req.target.substr(q + 1);
    for (const auto& [k, v] : req.headers) call.headers[Lower(k)] = v;
    call.body = req.body;
    call.received_at_ms = ToUnixMillis(clock->Now());
    const std::string& prefix = options.path_prefix;
    bool under_prefix =
        prefix.empty() || call.path == prefix || call.path.starts_with(prefix + "/");
    if (under_prefix) call.path.erase(0, prefix.size());

    std::chrono::milliseconds delay{0};
    std::optional<FailureRule> failure;
    bool unauthorized = false;
    std::function<void(const RecordedCall&)> hook;
    {
      MutexLock lock(mu);
      hook = call_hook;
    }
    if (hook) hook(call);
    {
      MutexLock lock(mu);
      calls.push_back(call);
      if (rate_remaining > 0) --rate_remaining;
      delay = this->delay;
      for (FailureRule& rule : failures) {
        if (rule.times == 0) continue;
        if (!rule.method.empty() && rule.method != call.method) continue;
        if (call.path.find(rule.path_contains) == std::string::npos) continue;
        if (rule.times > 0) --rule.times;
        failure = rule;
        break;
      }
      if (require_auth && call.path.starts_with("/repos/") &&
          !call.path.ends_with("/installation")) {
        unauthorized = !TokenValid(call.Header("authorization"));
      }
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (!under_prefix) {
      Message(res, 404, "Not Found");
      return true;
    }
    if (failure && !failure->after_work) {
      Answer(*failure, res);
      return true;
    }
    if (unauthorized) {
      Message(res, 401, "Bad credentials");
      return true;
    }
    if (failure) after = failure;
    return false;
  }

  httplib::Server::Handler Wrap(httplib::Server::Handler handler) {
    return
        [this, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
          std::optional<FailureRule> after;
          if (Intercept(req, res, after)) return;
          handler(req, res);
          if (after) {
            res.headers.clear();
            Answer(*after, res);
          }
        };
  }
  void Get(const std::string& pattern, httplib::Server::Handler h) {
    server.Get(pattern, Wrap(std::move(h)));
  }
  void Post(const std::string& pattern, httplib::Server::Handler h) {
    server.Post(pattern, Wrap(std::move(h)));
  }
  void Patch(const std::string& pattern, httplib::Server::Handler h) {
    server.Patch(pattern, Wrap(std::move(h)));
  }
  void Delete(const std::string& pattern, httplib::Server::Handler h) {
    server.Delete(pattern, Wrap(std::move(h)));
  }

  void AddRateHeaders(httplib::Response& res) {
    MutexLock lock(mu);
    if (!res.has_header("x-ratelimit-remaining")) {
      res.set_header("x-ratelimit-limit", std::to_string(options.rate_limit));
      res.set_header("x-ratelimit-remaining", std::to_string(rate_remaining));
      res.set_header("x-ratelimit-reset", std::to_string(NowUnix() + 3600));
    }
  }

  // A Link header to the next page of `path` when there is one.
  void Paginate(const httplib::Request& req, httplib::Response& res, size_t total, int64_t page,
                int64_t per_page, const std::string& repo_path) {
    if (static_cast<size_t>(page * per_page) >= total) return;
    std::string query;
    for (const auto& [k, v] : req.params) {
      if (k == "page" || k == "per_page") continue;
      query += "&" + Encode(k) + "=" + Encode(v);
    }
    std::string next = Url() + repo_path + "?per_page=" + std::to_string(per_page) +
                       "&page=" + std::to_string(page + 1) + query;
    std::string last_page = std::to_string((total + per_page - 1) / per_page);
    res.set_header("Link", "<" + next + ">; rel=\"next\", <" + Url() + repo_path +
                               "?per_page=" + std::to_string(per_page) + "&page=" + last_page +
                               query + ">; rel=\"last\"");
  }

  int64_t PerPage(const httplib::Request& req) {
    return std::clamp<int64_t>(ParamInt(req, "per_page", 30), 1, options.max_per_page);
  }

  // The page of `match` the request asks for (its page and per_page), each
  // element as `to_json` renders it, with the Link header of Paginate set.
  template <typename T, typename ToJson>
  Json PageOf(const httplib::Request& req, httplib::Response& res,
              const std::vector<const T*>& match, ToJson to_json, const std::string& repo_path) {
    int64_t per_page = PerPage(req);
    int64_t page = std::max<int64_t>(1, ParamInt(req, "page", 1));
    Json items = Json::array();
    for (size_t i = (page - 1) * per_page;
         i < match.size() && i < static_cast<size_t>(page * per_page); ++i) {
      items.push_back(to_json(*match[i]));
    }
    Paginate(req, res, match.size(), page, per_page, repo_path);
    return items;
  }

  void Routes();
};

void FakeGitHubServer::State::Routes() {
  const std::string p = options.path_prefix;
  const std::string repo_re = p + R"(/repos/([^/]+)/([^/]+))";
  auto repo_of = [](const httplib::Request& req) {
    return req.matches[1].str() + "/" + req.matches[2].str();
  };
  auto body_json = [](const httplib::Request& req) {
    return Json::parse(req.body, nullptr, false);
  };

  Post(repo_re + R"(/actions/workflows/([^/]+)/dispatches)", [=, this](const httplib::Request& req,
                                                                       httplib::Response& res) {
    Json body = body_json(req);
    if (!body.is_object()) return Message(res, 400, "Problems parsing JSON");
    MutexLock lock(mu);
    std::string workflow = req.matches[3].str();
    if (body.contains("return_run_details") && old_ghes) {
      return Message(res, old_ghes_status,
                     "Invalid request.\n\n\"return_run_details\" is not a permitted "
                     "key.");
    }
    if (!body.contains("ref") || !body["ref"].is_string()) {
      return Message(res, 422, "Invalid request.\n\n\"ref\" wasn't supplied.");
    }
    if (known_workflows && !known_workflows->count(workflow)) {
      return Message(res, 404, "Not Found");
    }
    FakeRun run;
    run.repo = repo_of(req);
    run.workflow = workflow;
    run.ref = body["ref"].get<std::string>();
    if (body.contains("inputs") && body["inputs"].is_object()) {
      for (const auto& [k, v] : body["inputs"].items()) {
        run.inputs[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
    }
    int64_t id = AddRunLocked(std::move(run));
    if (auto it = workflow_job_labels.find(workflow); it != workflow_job_labels.end()) {
      FakeJob job;
      job.id = NewId();
      job.repo = repo_of(req);
      job.run_id = id;
      job.workflow_name = workflow.substr(0, workflow.rfind('.'));
      job.labels = it->second;
      jobs[job.id] = job;
    }
    if (body.value("return_run_details", false)) {
      return Reply(
          res, 200,
          {{"workflow_run_id", id},
           {"run_url", Url() + "/repos/" + repo_of(req) + "/actions/runs/" + std::to_string(id)},
           {"html_url",
            "https://github.com/" + repo_of(req) + "/actions/runs/" + std::to_string(id)}});
    }
    res.status = 204;
  });

  Post(repo_re + R"(/actions/runs/(\d+)/cancel)", [=, this](const httplib::Request& req,
                                                            httplib::Response& res) {
    MutexLock lock(mu);
    auto it = runs.find(std::stoll(req.matches[3].str()));
    if (it == runs.end() || it->second.repo != repo_of(req)) {
      return Message(res, 404, "Not Found");
    }
    FakeRun& run = it->second;
    if (run.status == "completed" || (run.status == "in_progress" && cancel_conflict_in_progress)) {
      return Message(res, 409, "Cannot cancel a workflow run that is completed.");
    }
    run.status = "completed";
    run.conclusion = "cancelled";
    for (auto& [id, job] : jobs) {
      if (job.run_id == run.id && job.status != "completed") {
        job.status = "completed";
        job.conclusion = "cancelled";
      }
    }
    Reply(res, 202, Json::object());
  });

  Get(repo_re + R"(/actions/runs/(\d+))",
      [=, this](const httplib::Request& req, httplib::Response& res) {
        MutexLock lock(mu);
        auto it = runs.find(std::stoll(req.matches[3].str()));
        if (it == runs.end() || it->second.repo != repo_of(req)) {
          return Message(res, 404, "Not Found");
        }
        Reply(res, 200, RunJson(it->second));
      });

  Get(repo_re + R"(/actions/jobs/(\d+))",
      [=, this](const httplib::Request& req, httplib::Response& res) {
        MutexLock lock(mu);
        auto it = jobs.find(std::stoll(req.matches[3].str()));
        if (it == jobs.end() || it->second.repo != repo_of(req)) {
          return Message(res, 404, "Not Found");
        }
        Reply(res, 200, JobJson(it->second));
      });

  Get(repo_re + R"(/actions/runs)", [=, this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(mu);
    std::string status = req.has_param("status") ? req.get_param_value("status") : "";
    std::vector<const FakeRun*> match;
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {  // newest first
      const FakeRun& r = it->second;
      if (r.repo != repo_of(req)) continue;
      if (!status.empty() && r.status != status && r.conclusion != status) continue;
      match.push_back(&r);
    }
    Json items = PageOf(
        req, res, match, [this](const auto& x) { return RunJson(x); },
        "/repos/" + repo_of(req) + "/actions/runs");
    Reply(res, 200, {{"total_count", match.size()}, {"workflow_runs", items}});
  });

  Get(repo_re + R"(/actions/runners)",
      [=, this](const httplib::Request& req, httplib::Response& res) {
        MutexLock lock(mu);
        std::vector<const FakeRunner*> match;
        for (const auto& [id, r] : runners) {
          if (r.repo == repo_of(req)) match.push_back(&r);
        }
        Json items = PageOf(
            req, res, match, [](const auto& x) { return RunnerJson(x); },
            "/repos/" + repo_of(req) + "/actions/runners");
        Reply(res, 200, {{"total_count", match.size()}, {"runners", items}});
      });

  Get(repo_re + R"(/hooks)", [=, this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(mu);
    std::vector<const FakeHook*> match;
    for (const auto& [id, h] : hooks) {
      if (h.repo == repo_of(req)) match.push_back(&h);
    }
    Json items = PageOf(
        req, res, match, [this](const auto& x) { return HookJson(x); },
        "/repos/" + repo_of(req) + "/hooks");
    Reply(res, 200, items);
  });

  // Applies the fields present in a create/update body to `hook`; "" if ok.
  auto apply_hook = [](const Json& body, FakeHook& hook) -> std::string {
    if (body.contains("active") && body["active"].is_boolean()) hook.active = body["active"];
    if (body.contains("events")) {
      if (!body["events"].is_array()) return "events must be an array";
      hook.events.clear();
      for (const auto& e : body["events"]) {
        if (e.is_string()) hook.events.push_back(e.get<std::string>());
      }
    }
    if (body.contains("config")) {
      const Json& c = body["config"];
      if (!c.is_object()) return "config must be an object";
      if (c.contains("url") && c["url"].is_string()) hook.url = c["url"];
      if (c.contains("content_type") && c["content_type"].is_string()) {
        hook.content_type = c["content_type"];
      }
      if (c.contains("secret") && c["secret"].is_string()) hook.secret = c["secret"];
    }
    if (hook.url.empty()) return "Validation Failed: url is missing";
    return "";
  };

  Post(repo_re + R"(/hooks)", [=, this](const httplib::Request& req, httplib::Response& res) {
    Json body = body_json(req);
    if (!body.is_object()) return Message(res, 400, "Problems parsing JSON");
    MutexLock lock(mu);
    FakeHook hook;
    hook.repo = repo_of(req);
    hook.events = {"push"};
    if (std::string err = apply_hook(body, hook); !err.empty()) return Message(res, 422, err);
    hook.id = NewId();
    hooks[hook.id] = hook;
    Reply(res, 201, HookJson(hook));
  });

  Get(repo_re + R"(/hooks/(\d+))", [=, this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(mu);
    auto it = hooks.find(std::stoll(req.matches[3].str()));
    if (it == hooks.end() || it->second.repo != repo_of(req)) return Message(res, 404, "Not Found");
    Reply(res, 200, HookJson(it->second));
  });

  Patch(repo_re + R"(/hooks/(\d+))",
        [=, this](const httplib::Request& req, httplib::Response& res) {
          Json body = body_json(req);
          if (!body.is_object()) return Message(res, 400, "Problems parsing JSON");
          MutexLock lock(mu);
          auto it = hooks.find(std::stoll(req.matches[3].str()));
          if (it == hooks.end() || it->second.repo != repo_of(req))
            return Message(res, 404, "Not Found");
          FakeHook updated = it->second;
          if (std::string err = apply_hook(body, updated); !err.empty())
            return Message(res, 422, err);
          it->second = updated;
          Reply(res, 200, HookJson(updated));
        });

  Delete(repo_re + R"(/hooks/(\d+))",
         [=, this](const httplib::Request& req, httplib::Response& res) {
           MutexLock lock(mu);
           auto it = hooks.find(std::stoll(req.matches[3].str()));
           if (it == hooks.end() || it->second.repo != repo_of(req))
             return Message(res, 404, "Not Found");
           hooks.erase(it);
           res.status = 204;
         });

  Get(repo_re + R"(/hooks/(\d+)/deliveries)",
      [=, this](const httplib::Request& req, httplib::Response& res) {
        MutexLock lock(mu);
        int64_t hook_id = std::stoll(req.matches[3].str());
        auto hit = hooks.find(hook_id);
        if (hit == hooks.end() || hit->second.repo != repo_of(req)) {
          return Message(res, 404, "Not Found");
        }
        // The cursor is the id of the newest delivery on the requested page.
        int64_t start = INT64_MAX;
        if (req.has_param("cursor")) {
          std::string c = req.get_param_value("cursor");
          if (c.size() < 2 || c[0] != 'v') return Message(res, 422, "invalid cursor");
          try {
            start = std::stoll(c.substr(1));
          } catch (...) {
            return Message(res, 422, "invalid cursor");
          }
        }
        int64_t per_page = PerPage(req);
        Json items = Json::array();
        std::optional<int64_t> next;
        for (auto it = deliveries.rbegin(); it != deliveries.rend(); ++it) {
          const FakeDelivery& d = it->second;
          if (d.hook_id != hook_id || d.id > start) continue;
          if (static_cast<int64_t>(items.size()) == per_page) {
            next = d.id;
            break;
          }
          items.push_back(DeliveryJson(d));
        }
        if (next) {
          std::string path =
              "/repos/" + repo_of(req) + "/hooks/" + std::to_string(hook_id) + "/deliveries";
          res.set_header("Link", "<" + Url() + path + "?per_page=" + std::to_string(per_page) +
                                     "&cursor=v" + std::to_string(*next) + ">; rel=\"next\"");
        }
        Reply(res, 200, items);
      });

  Post(repo_re + R"(/hooks/(\d+)/deliveries/(\d+)/attempts)",
       [=, this](const httplib::Request& req, httplib::Response& res) {
         MutexLock lock(mu);
         int64_t hook_id = std::stoll(req.matches[3].str());
         int64_t delivery_id = std::stoll(req.matches[4].str());
         auto it = deliveries.find(delivery_id);
         if (it == deliveries.end() || it->second.hook_id != hook_id) {
           return Message(res, 404, "Not Found");
         }
         redeliveries.push_back({repo_of(req), hook_id, delivery_id});
         FakeDelivery again = it->second;
         again.id = NewId();
         again.redelivery = true;
         again.status_code = 200;
         again.status = "OK";
         again.delivered_at_unix = NowUnix();
         deliveries[again.id] = again;
         Reply(res, 202, Json::object());
       });

  Get(repo_re, [=, this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(mu);
    const std::string repo = repo_of(req);
    auto it = default_branches.find(repo);
    Reply(res, 200,
          {{"full_name", repo},
           {"name", req.matches[2].str()},
           {"default_branch", it == default_branches.end() ? "main" : it->second},
           {"html_url", "https://github.com/" + repo}});
  });

  Get(repo_re + R"(/installation)", [=, this](const httplib::Request& req, httplib::Response& res) {
    MutexLock lock(mu);
    if (std::string why = VerifyJwt(req.get_header_value("Authorization")); !why.empty()) {
      return Message(res, 401, "A JSON web token could not be decoded (" + why + ")");
    }
    Reply(res, 200, {{"id", installation_id}, {"app_id", *app_id}, {"target_type", "Repository"}});
  });

  Post(p + R"(/app/installations/(\d+)/access_tokens)",
       [=, this](const httplib::Request& req, httplib::Response& res) {
         MutexLock lock(mu);
         if (std::string why = VerifyJwt(req.get_header_value("Authorization")); !why.empty()) {
           return Message(res, 401, "A JSON web token could not be decoded (" + why + ")");
         }
         if (std::stoll(req.matches[1].str()) != installation_id) {
           return Message(res, 404, "Not Found");
         }
         ++token_exchanges;
         // Lengths vary on purpose: clients must not assume a format.
         std::string token = "ghs_" + RandomHex(16 + token_exchanges % 5);
         int64_t expires = NowUnix() + token_ttl.count();
         issued[token] = expires;
         issued_order.push_back(token);
         Reply(res, 201,
               {{"token", token},
                {"expires_at", Time(expires)},
                {"permissions", {{"actions", "write"}}},
                {"repository_selection", "all"}});
       });

  // Registered last, so only what no route above matched lands here; it is
  // still recorded and still subject to the failure knobs.
  auto not_found = [](const httplib::Request&, httplib::Response& res) {
    Message(res, 404, "Not Found");
  };
  Get(".*", not_found);
  Post(".*", not_found);
  Patch(".*", not_found);
  Delete(".*", not_found);
  server.Put(".*", Wrap(not_found));
}

FakeGitHubServer::FakeGitHubServer() : state_(std::make_unique<State>()) {}

FakeGitHubServer::~FakeGitHubServer() {
  state_->server.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

Result<std::unique_ptr<FakeGitHubServer>> FakeGitHubServer::Start(Options options) {
  std::unique_ptr<FakeGitHubServer> fake(new FakeGitHubServer());
  State& s = *fake->state_;
  while (!options.path_prefix.empty() && options.path_prefix.back() == '/') {
    options.path_prefix.pop_back();
  }
  s.options = options;
  {
    MutexLock lock(s.mu);  // uncontended: the server has not started
    s.rate_remaining = options.rate_limit;
  }
  s.clock = options.clock != nullptr ? options.clock : &Clock::Real();
  size_t threads = static_cast<size_t>(std::max(2, options.threads));
  s.server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.server.set_keep_alive_timeout(2);
  s.server.set_tcp_nodelay(true);
  s.server.set_post_routing_handler(
      [&s](const httplib::Request&, httplib::Response& res) { s.AddRateHeaders(res); });
  s.server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) Message(res, res.status, "Not Found");
  });
  s.Routes();
  s.port = s.server.bind_to_any_port("127.0.0.1");
  if (s.port <= 0) return Status::Unavailable("fake GitHub: cannot bind 127.0.0.1");
  s.thread = std::thread([&s] { s.server.listen_after_bind(); });
  for (int i = 0; i < 5000 && !s.server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!s.server.is_running()) return Status::Unavailable("fake GitHub: server did not start");
  return fake;
}

std::string FakeGitHubServer::url() const { return state_->Url(); }
int FakeGitHubServer::port() const { return state_->port; }

std::vector<RecordedCall> FakeGitHubServer::calls() const {
  MutexLock lock(state_->mu);
  return state_->calls;
}

std::vector<RecordedCall> FakeGitHubServer::CallsTo(std::string_view method,
                                                    std::string_view path_contains) const {
  MutexLock lock(state_->mu);
  std::vector<RecordedCall> out;
  for (const auto& c : state_->calls) {
    if (!method.empty() && c.method != method) continue;
    if (c.path.find(path_contains) == std::string::npos) continue;
    out.push_back(c);
  }
  return out;
}

int FakeGitHubServer::CountCalls(std::string_view method, std::string_view path_contains) const {
  return static_cast<int>(CallsTo(method, path_contains).size());
}

void FakeGitHubServer::ClearCalls() {
  MutexLock lock(state_->mu);
  state_->calls.clear();
}

void FakeGitHubServer::AddFailure(FailureRule rule) {
  MutexLock lock(state_->mu);
  state_->failures.push_back(std::move(rule));
}

void FakeGitHubServer::FailNext(std::string_view path_contains, int times, int status,
                                std::map<std::string, std::string> headers, std::string body) {
  FailureRule rule;
  rule.path_contains = std::string(path_contains);
  rule.times = times;
  rule.status = status;
  rule.headers = std::move(headers);
  rule.body = std::move(body);
  AddFailure(std::move(rule));
}

void FakeGitHubServer::GarbageNext(std::string_view path_contains, int times) {
  FailureRule rule;
  rule.path_contains = std::string(path_contains);
  rule.times = times;
  rule.garbage = true;
  AddFailure(std::move(rule));
}

void FakeGitHubServer::ClearFailures() {
  MutexLock lock(state_->mu);
  state_->failures.clear();
}

void FakeGitHubServer::SetDelay(std::chrono::milliseconds d) {
  MutexLock lock(state_->mu);
  state_->delay = d;
}

void FakeGitHubServer::SetOldGhes(bool old_ghes, int status) {
  MutexLock lock(state_->mu);
  state_->old_ghes = old_ghes;
  state_->old_ghes_status = status;
}

void FakeGitHubServer::SetCallHook(std::function<void(const RecordedCall&)> hook) {
  MutexLock lock(state_->mu);
  state_->call_hook = std::move(hook);
}

void FakeGitHubServer::SetCancelConflictWhenInProgress(bool conflict) {
  MutexLock lock(state_->mu);
  state_->cancel_conflict_in_progress = conflict;
}

void FakeGitHubServer::SetKnownWorkflows(std::set<std::string> workflows) {
  MutexLock lock(state_->mu);
  state_->known_workflows = std::move(workflows);
}

void FakeGitHubServer::SetDefaultBranch(const std::string& repo, std::string branch) {
  MutexLock lock(state_->mu);
  state_->default_branches[repo] = std::move(branch);
}

void FakeGitHubServer::SetWorkflowJobLabels(const std::string& workflow,
                                            std::vector<std::string> labels) {
  MutexLock lock(state_->mu);
  state_->workflow_job_labels[workflow] = std::move(labels);
}

void FakeGitHubServer::RequireAuth(bool required) {
  MutexLock lock(state_->mu);
  state_->require_auth = required;
}

void FakeGitHubServer::AddValidToken(std::string token) {
  MutexLock lock(state_->mu);
  state_->valid_tokens.insert(std::move(token));
}

void FakeGitHubServer::ConfigureApp(std::string app_id, std::string public_key_pem,
                                    int64_t installation_id, std::chrono::seconds token_ttl) {
  MutexLock lock(state_->mu);
  state_->app_id = std::move(app_id);
  state_->app_public_key_pem = std::move(public_key_pem);
  state_->installation_id = installation_id;
  state_->token_ttl = token_ttl;
}

int64_t FakeGitHubServer::AddRun(FakeRun run) {
  MutexLock lock(state_->mu);
  return state_->AddRunLocked(std::move(run));
}

std::optional<FakeRun> FakeGitHubServer::GetRun(int64_t id) const {
  MutexLock lock(state_->mu);
  auto it = state_->runs.find(id);
  if (it == state_->runs.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeRun> FakeGitHubServer::runs() const {
  MutexLock lock(state_->mu);
  std::vector<FakeRun> out;
  for (const auto& [id, r] : state_->runs) out.push_back(r);
  return out;
}

void FakeGitHubServer::SetRunStatus(int64_t id, std::string status, std::string conclusion) {
  MutexLock lock(state_->mu);
  auto it = state_->runs.find(id);
  if (it == state_->runs.end()) return;
  it->second.status = std::move(status);
  it->second.conclusion = std::move(conclusion);
}

int64_t FakeGitHubServer::AddJob(FakeJob job) {
  MutexLock lock(state_->mu);
  if (job.id == 0) job.id = state_->NewId();
  int64_t id = job.id;
  state_->jobs[id] = std::move(job);
  return id;
}

std::optional<FakeJob> FakeGitHubServer::GetJob(int64_t id) const {
  MutexLock lock(state_->mu);
  auto it = state_->jobs.find(id);
  if (it == state_->jobs.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeJob> FakeGitHubServer::jobs() const {
  MutexLock lock(state_->mu);
  std::vector<FakeJob> out;
  for (const auto& [id, j] : state_->jobs) out.push_back(j);
  return out;
}

void FakeGitHubServer::SetJobStatus(int64_t id, std::string status, std::string runner_name,
                                    std::string conclusion) {
  MutexLock lock(state_->mu);
  auto it = state_->jobs.find(id);
  if (it == state_->jobs.end()) return;
  it->second.status = std::move(status);
  it->second.runner_name = std::move(runner_name);
  it->second.conclusion = std::move(conclusion);
}

int64_t FakeGitHubServer::AddRunner(FakeRunner runner) {
  MutexLock lock(state_->mu);
  if (runner.id == 0) runner.id = state_->NewId();
  int64_t id = runner.id;
  state_->runners[id] = std::move(runner);
  return id;
}

void FakeGitHubServer::SetRunnerStatus(int64_t id, std::string status, bool busy) {
  MutexLock lock(state_->mu);
  auto it = state_->runners.find(id);
  if (it == state_->runners.end()) return;
  it->second.status = std::move(status);
  it->second.busy = busy;
}

int64_t FakeGitHubServer::AddHook(FakeHook hook) {
  MutexLock lock(state_->mu);
  if (hook.id == 0) hook.id = state_->NewId();
  int64_t id = hook.id;
  state_->hooks[id] = std::move(hook);
  return id;
}

std::vector<FakeHook> FakeGitHubServer::hooks() const {
  MutexLock lock(state_->mu);
  std::vector<FakeHook> out;
  for (const auto& [id, h] : state_->hooks) out.push_back(h);
  return out;
}

int64_t FakeGitHubServer::AddDelivery(FakeDelivery delivery) {
  MutexLock lock(state_->mu);
  if (delivery.id == 0) delivery.id = state_->NewId();
  if (delivery.guid.empty()) delivery.guid = "guid-" + std::to_string(delivery.id);
  if (delivery.delivered_at_unix == 0) delivery.delivered_at_unix = state_->NowUnix();
  int64_t id = delivery.id;
  state_->deliveries[id] = std::move(delivery);
  return id;
}

std::vector<FakeRedelivery> FakeGitHubServer::redeliveries() const {
  MutexLock lock(state_->mu);
  return state_->redeliveries;
}

std::optional<FakeJwtClaims> FakeGitHubServer::last_jwt() const {
  MutexLock lock(state_->mu);
  return state_->last_jwt;
}

int FakeGitHubServer::token_exchanges() const {
  MutexLock lock(state_->mu);
  return state_->token_exchanges;
}

std::vector<std::string> FakeGitHubServer::issued_tokens() const {
  MutexLock lock(state_->mu);
  return state_->issued_order;
}

Result<TestRsaKeyPair> GenerateTestRsaKeyPair() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  if (key == nullptr) return Status::Internal("EVP_RSA_gen failed");
  TestRsaKeyPair pair;
  auto to_pem = [&](bool is_private) -> std::string {
    BIO* bio = BIO_new(BIO_s_mem());
    int ok = is_private ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                        : PEM_write_bio_PUBKEY(bio, key);
    std::string out;
    if (ok == 1) {
      char* data = nullptr;
      long n = BIO_get_mem_data(bio, &data);
      out.assign(data, static_cast<size_t>(n));
    }
    BIO_free(bio);
    return out;
  };
  pair.private_key_pem = to_pem(true);
  pair.public_key_pem = to_pem(false);
  EVP_PKEY_free(key);
  if (pair.private_key_pem.empty() || pair.public_key_pem.empty()) {
    return Status::Internal("cannot write the test key as PEM");
  }
  return pair;
}

}  // namespace relayq::testing
