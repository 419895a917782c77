// The REST mapping of HttpGitHubClient: each GitHubClient method as the
// GitHub endpoint it calls and the typed result it decodes from the answer.
// Sending, retries, rate limits, pacing and credentials are the transport's
// (github/transport.h).
#include "github/http_github_client.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <utility>

#include "github/app_jwt.h"
#include "github/http_util.h"
#include "github/json_fields.h"
#include "github/transport.h"

namespace relayq::github {
namespace {

// The fields a run and a job share, read alike.
template <typename RunOrJob>
void DecodeCommon(const Json& j, RunOrJob& out) {
  out.id = Int(j, "id");
  out.attempt = Int(j, "run_attempt", 1);
  out.name = Str(j, "name");
  out.head_branch = Str(j, "head_branch");
  out.status = Str(j, "status");
  out.conclusion = Str(j, "conclusion");
  out.created_at_ms = TimeMs(j, "created_at");
}

WorkflowRun DecodeRun(const Json& j) {
  WorkflowRun r;
  DecodeCommon(j, r);
  r.display_title = Str(j, "display_title");
  r.path = Str(j, "path");
  r.event = Str(j, "event");
  r.html_url = Str(j, "html_url");
  r.updated_at_ms = TimeMs(j, "updated_at");
  return r;
}

WorkflowJob DecodeJob(const Json& j) {
  WorkflowJob job;
  DecodeCommon(j, job);
  job.run_id = Int(j, "run_id");
  job.workflow_name = Str(j, "workflow_name");
  job.runner_name = Str(j, "runner_name");
  job.labels = StrList(j, "labels");
  job.started_at_ms = TimeMs(j, "started_at");
  job.completed_at_ms = TimeMs(j, "completed_at");
  return job;
}

Runner DecodeRunner(const Json& j) {
  Runner r;
  r.id = Int(j, "id");
  r.name = Str(j, "name");
  r.os = Str(j, "os");
  r.status = Str(j, "status");
  r.busy = Bool(j, "busy");
  r.labels = StrList(j, "labels");
  return r;
}

Hook DecodeHook(const Json& j) {
  Hook h;
  h.id = Int(j, "id");
  h.active = Bool(j, "active");
  h.events = StrList(j, "events");
  auto config = j.find("config");
  if (config != j.end() && config->is_object()) {
    h.url = Str(*config, "url");
    h.content_type = Str(*config, "content_type");
    h.has_secret = !Str(*config, "secret").empty();
  }
  return h;
}

HookDelivery DecodeDelivery(const Json& j) {
  HookDelivery d;
  d.id = Int(j, "id");
  d.guid = Str(j, "guid");
  d.delivered_at_ms = TimeMs(j, "delivered_at");
  d.redelivery = Bool(j, "redelivery");
  d.status_code = static_cast<int>(Int(j, "status_code"));
  d.status = Str(j, "status");
  d.event = Str(j, "event");
  d.action = Str(j, "action");
  return d;
}

Json HookBody(const HookSpec& spec, bool with_name) {
  Json body = {{"active", spec.active},
               {"events", spec.events},
               {"config",
                {{"url", spec.url},
                 {"content_type", spec.content_type},
                 {"secret", spec.secret},
                 {"insecure_ssl", "0"}}}};
  if (with_name) body["name"] = "web";
  return body;
}

class HttpGitHubClientImpl final : public GitHubClient {
 public:
  HttpGitHubClientImpl(ClientOptions options, BaseUrl base, Clock& clock, Sleeper& sleeper)
      : transport_(std::move(options), std::move(base), clock, sleeper) {}

  Result<DispatchResult> DispatchWorkflow(std::string_view repo, std::string_view workflow,
                                          std::string_view ref,
                                          const std::map<std::string, std::string>& inputs,
                                          bool return_run_details) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    if (workflow.empty() || ref.empty()) {
      return Status::InvalidArgument("dispatch needs a workflow and a ref");
    }
    Json body = {{"ref", ref}, {"inputs", Json::object()}};
    for (const auto& [k, v] : inputs) body["inputs"][k] = v;
    if (return_run_details) body["return_run_details"] = true;
    Call call{"POST", base + "/actions/workflows/" + PercentEncode(workflow) + "/dispatches",
              body.dump(), AuthMode::kDefault, std::string(repo)};

    DispatchResult result;
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.Send(call, /*idempotent=*/false));
    if (return_run_details && (answer.status == 400 || answer.status == 422)) {
      // Older GHES reject the unknown field; nothing was dispatched, so
      // sending once more without it cannot start the workflow twice.
      body.erase("return_run_details");
      call.body = body.dump();
      result.run_details_unsupported = true;
      RELAYQ_ASSIGN_OR_RETURN(answer, transport_.Send(call, /*idempotent=*/false));
    }
    if (!answer.ok()) return transport_.ErrorFor(call, answer);
    if (answer.status == 204 || answer.body.empty()) return result;
    RELAYQ_ASSIGN_OR_RETURN(Json j, transport_.ParseJson(call, answer));
    if (!j.is_object()) return result;
    int64_t id = Int(j, "workflow_run_id", Int(j, "id"));
    if (id > 0) result.run_id = id;
    if (std::string u = Str(j, "run_url"); !u.empty()) result.run_url = u;
    if (std::string u = Str(j, "html_url"); !u.empty()) result.html_url = u;
    return result;
  }

  Status CancelRun(std::string_view repo, int64_t run_id) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"POST", base + "/actions/runs/" + std::to_string(run_id) + "/cancel", "",
              AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.Send(call, /*idempotent=*/false));
    if (answer.status == 409) {
      return Status::Conflict("run " + std::to_string(run_id) +
                              " is not cancellable (already completed, or past the point it "
                              "can be stopped): " +
                              transport_.ErrorFor(call, answer).message());
    }
    if (!answer.ok()) return transport_.ErrorFor(call, answer);
    return Status::Ok();
  }

  Result<std::string> DefaultBranch(std::string_view repo) override {
    RELAYQ_ASSIGN_OR_RETURN(Json j, GetObject(repo, ""));
    std::string branch = Str(j, "default_branch");
    if (branch.empty()) {
      return Status::Unavailable("GitHub GET /repos/" + std::string(repo) +
                                 ": the answer names no default_branch");
    }
    return branch;
  }

  Result<WorkflowRun> GetRun(std::string_view repo, int64_t run_id) override {
    RELAYQ_ASSIGN_OR_RETURN(Json j, GetObject(repo, "/actions/runs/" + std::to_string(run_id)));
    return DecodeRun(j);
  }

  Result<WorkflowJob> GetJob(std::string_view repo, int64_t job_id) override {
    RELAYQ_ASSIGN_OR_RETURN(Json j, GetObject(repo, "/actions/jobs/" + std::to_string(job_id)));
    return DecodeJob(j);
  }

  Result<std::vector<WorkflowRun>> ListRunsWithStatus(std::string_view repo,
                                                      std::string_view status) override {
    RELAYQ_ASSIGN_OR_RETURN(
        std::vector<Json> items,
        GetAllPages(repo, "/actions/runs?status=" + PercentEncode(status) + "&per_page=100",
                    "workflow_runs"));
    std::vector<WorkflowRun> out;
    for (const Json& j : items) out.push_back(DecodeRun(j));
    return out;
  }

  Result<std::vector<Runner>> ListRunners(std::string_view repo) override {
    RELAYQ_ASSIGN_OR_RETURN(std::vector<Json> items,
                            GetAllPages(repo, "/actions/runners?per_page=100", "runners"));
    std::vector<Runner> out;
    for (const Json& j : items) out.push_back(DecodeRunner(j));
    return out;
  }

  Result<std::vector<Hook>> ListHooks(std::string_view repo) override {
    RELAYQ_ASSIGN_OR_RETURN(std::vector<Json> items,
                            GetAllPages(repo, "/hooks?per_page=100", nullptr));
    std::vector<Hook> out;
    for (const Json& j : items) out.push_back(DecodeHook(j));
    return out;
  }

  Result<Hook> CreateHook(std::string_view repo, const HookSpec& spec) override {
    return WriteHook(repo, "POST", "/hooks", spec, /*with_name=*/true);
  }

  Result<Hook> UpdateHook(std::string_view repo, int64_t hook_id, const HookSpec& spec) override {
    return WriteHook(repo, "PATCH", "/hooks/" + std::to_string(hook_id), spec, false);
  }

  Status DeleteHook(std::string_view repo, int64_t hook_id) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"DELETE", base + "/hooks/" + std::to_string(hook_id), "", AuthMode::kDefault,
              std::string(repo)};
    return transport_.SendOk(call).status();
  }

  Result<DeliveryPage> ListHookDeliveries(std::string_view repo, int64_t hook_id, int per_page,
                                          std::string_view cursor) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    per_page = std::clamp(per_page, 1, 100);
    std::string path = base + "/hooks/" + std::to_string(hook_id) +
                       "/deliveries?per_page=" + std::to_string(per_page);
    if (!cursor.empty()) path += "&cursor=" + PercentEncode(cursor);
    Call call{"GET", path, "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, transport_.ParseJson(call, answer));
    if (!j.is_array()) return Transport::NotShaped(call, "an array");
    DeliveryPage page;
    for (const Json& d : j) {
      if (d.is_object()) page.deliveries.push_back(DecodeDelivery(d));
    }
    if (auto next = NextLink(answer.Header("Link"))) {
      if (auto c = QueryParam(*next, "cursor"); c && !c->empty()) page.next_cursor = *c;
    }
    return page;
  }

  Status RedeliverHookDelivery(std::string_view repo, int64_t hook_id,
                               int64_t delivery_id) override {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"POST",
              base + "/hooks/" + std::to_string(hook_id) + "/deliveries/" +
                  std::to_string(delivery_id) + "/attempts",
              "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.SendOk(call));
    (void)answer;
    return Status::Ok();
  }

  ClientStats Stats() const override { return transport_.Stats(); }

 private:
  Result<Json> GetObject(std::string_view repo, const std::string& sub_path) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    Call call{"GET", base + sub_path, "", AuthMode::kDefault, std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, transport_.ParseJson(call, answer));
    if (!j.is_object()) return Transport::NotShaped(call, "an object");
    return j;
  }

  Result<Hook> WriteHook(std::string_view repo, const char* method, const std::string& sub_path,
                         const HookSpec& spec, bool with_name) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    if (!spec.secret.empty()) transport_.RememberSecret(spec.secret);
    Call call{method, base + sub_path, HookBody(spec, with_name).dump(), AuthMode::kDefault,
              std::string(repo)};
    RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.SendOk(call));
    RELAYQ_ASSIGN_OR_RETURN(Json j, transport_.ParseJson(call, answer));
    if (!j.is_object()) return Transport::NotShaped(call, "an object");
    return DecodeHook(j);
  }

  // Follows rel="next" links from `sub_path` (below the repository) and
  // collects the elements of `items_key` (or of the top-level array).
  Result<std::vector<Json>> GetAllPages(std::string_view repo, const std::string& sub_path,
                                        const char* items_key) {
    RELAYQ_ASSIGN_OR_RETURN(std::string base, RepoPath(repo));
    std::vector<Json> out;
    std::string path = base + sub_path;
    for (int page = 0; page < std::max(1, transport_.options().max_pages); ++page) {
      Call call{"GET", path, "", AuthMode::kDefault, std::string(repo)};
      RELAYQ_ASSIGN_OR_RETURN(Answer answer, transport_.SendOk(call));
      RELAYQ_ASSIGN_OR_RETURN(Json j, transport_.ParseJson(call, answer));
      const Json* items = &j;
      if (items_key != nullptr) {
        auto it = j.is_object() ? j.find(items_key) : j.end();
        if (it == j.end())
          return Transport::NotShaped(call, std::string("an object with \"") + items_key + "\"");
        items = &*it;
      }
      if (!items->is_array()) return Transport::NotShaped(call, "a list");
      for (const Json& item : *items) {
        if (item.is_object()) out.push_back(item);
      }
      auto next = NextLink(answer.Header("Link"));
      if (!next) break;
      // Only the path is taken from the link, so the credentials never go
      // to a host other than the configured one.
      std::string next_path = PathAndQuery(*next);
      if (!transport_.base().path_prefix.empty()) {
        if (!next_path.starts_with(transport_.base().path_prefix + "/")) {
          return Status::Unavailable(Describe(call) + ": next-page link outside the API base");
        }
        next_path.erase(0, transport_.base().path_prefix.size());
      }
      path = std::move(next_path);
    }
    return out;
  }

  Transport transport_;
};

}  // namespace

Result<std::unique_ptr<GitHubClient>> HttpGitHubClient::Create(const ClientOptions& options,
                                                               Clock& clock, Sleeper& sleeper) {
  RELAYQ_ASSIGN_OR_RETURN(BaseUrl base, ParseBaseUrl(options.api_url));
  const bool has_token = !options.token.empty();
  const bool has_app = options.app.has_value();
  if (has_token == has_app) {
    return Status::InvalidArgument(
        "GitHub credentials: set exactly one of a token and a GitHub App");
  }
  if (has_app) {
    if (options.app->app_id.empty()) return Status::InvalidArgument("GitHub App id is empty");
    RELAYQ_RETURN_IF_ERROR(ValidateAppPrivateKey(options.app->private_key_pem));
  }
  if (options.max_attempts < 1) return Status::InvalidArgument("max_attempts must be at least 1");
  if (options.user_agent.empty()) return Status::InvalidArgument("user_agent must not be empty");
  if (base.scheme == "https") {
    std::ifstream ca(options.ca_bundle_path);
    if (!ca.good()) {
      return Status::InvalidArgument("CA bundle " + options.ca_bundle_path +
                                     " cannot be read; it is needed to verify GitHub's "
                                     "certificate (install ca-certificates)");
    }
  }
  return std::unique_ptr<GitHubClient>(
      std::make_unique<HttpGitHubClientImpl>(options, std::move(base), clock, sleeper));
}

}  // namespace relayq::github
