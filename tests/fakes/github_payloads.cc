#include "tests/fakes/github_payloads.h"

#include <nlohmann/json.hpp>

namespace relayq::testing {
namespace {

using nlohmann::json;

json User(const std::string& login, int64_t id, const std::string& type = "User") {
  std::string u = "https://api.github.com/users/" + login;
  return {{"login", login},
          {"id", id},
          {"node_id", "MDQ6VXNlcjIxMDMxMDY3"},
          {"avatar_url", "https://avatars.githubusercontent.com/u/" + std::to_string(id) + "?v=4"},
          {"gravatar_id", ""},
          {"url", u},
          {"html_url", "https://github.com/" + login},
          {"followers_url", u + "/followers"},
          {"following_url", u + "/following{/other_user}"},
          {"gists_url", u + "/gists{/gist_id}"},
          {"starred_url", u + "/starred{/owner}{/repo}"},
          {"subscriptions_url", u + "/subscriptions"},
          {"organizations_url", u + "/orgs"},
          {"repos_url", u + "/repos"},
          {"events_url", u + "/events{/privacy}"},
          {"received_events_url", u + "/received_events"},
          {"type", type},
          {"user_view_type", "public"},
          {"site_admin", false}};
}

json Repository(const std::string& full_name) {
  std::string owner = full_name.substr(0, full_name.find('/'));
  std::string name = full_name.substr(full_name.find('/') + 1);
  std::string a = "https://api.github.com/repos/" + full_name;
  json r = {{"id", 186853002},
            {"node_id", "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI="},
            {"name", name},
            {"full_name", full_name},
            {"private", true},
            {"owner", User(owner, 21031067, "Organization")},
            {"html_url", "https://github.com/" + full_name},
            {"description", "Transcription and media jobs on self-hosted runners"},
            {"fork", false},
            {"url", a}};
  for (const char* k : {"forks",
                        "keys{/key_id}",
                        "collaborators{/collaborator}",
                        "teams",
                        "hooks",
                        "issues/events{/number}",
                        "events",
                        "assignees{/user}",
                        "branches{/branch}",
                        "tags",
                        "git/blobs{/sha}",
                        "git/tags{/sha}",
                        "git/refs{/sha}",
                        "git/trees{/sha}",
                        "statuses/{sha}",
                        "languages",
                        "stargazers",
                        "contributors",
                        "subscribers",
                        "subscription",
                        "commits{/sha}",
                        "git/commits{/sha}",
                        "comments{/number}",
                        "issues/comments{/number}",
                        "contents/{+path}",
                        "compare/{base}...{head}",
                        "merges",
                        "{archive_format}{/ref}",
                        "downloads",
                        "issues{/number}",
                        "pulls{/number}",
                        "milestones{/number}",
                        "notifications{?since,all,participating}",
                        "labels{/name}",
                        "releases{/id}",
                        "deployments"}) {
    std::string key(k);
    key = key.substr(0, key.find_first_of("{/"));
    if (key.empty()) key = "archive";
    r[key + "_url"] = a + "/" + k;
  }
  r["created_at"] = "2019-05-15T15:19:25Z";
  r["updated_at"] = "2026-01-01T00:00:00Z";
  r["pushed_at"] = "2026-01-01T00:00:00Z";
  r["git_url"] = "git://github.com/" + full_name + ".git";
  r["ssh_url"] = "git@github.com:" + full_name + ".git";
  r["clone_url"] = "https://github.com/" + full_name + ".git";
  r["svn_url"] = "https://github.com/" + full_name;
  r["homepage"] = nullptr;
  r["size"] = 1024;
  r["stargazers_count"] = 3;
  r["watchers_count"] = 3;
  r["language"] = "Shell";
  r["has_issues"] = true;
  r["has_projects"] = false;
  r["has_downloads"] = true;
  r["has_wiki"] = false;
  r["has_pages"] = false;
  r["has_discussions"] = false;
  r["forks_count"] = 0;
  r["mirror_url"] = nullptr;
  r["archived"] = false;
  r["disabled"] = false;
  r["open_issues_count"] = 2;
  r["license"] = nullptr;
  r["allow_forking"] = false;
  r["is_template"] = false;
  r["web_commit_signoff_required"] = false;
  r["topics"] = json::array({"transcription", "self-hosted"});
  r["visibility"] = "private";
  r["forks"] = 0;
  r["open_issues"] = 2;
  r["watchers"] = 3;
  r["default_branch"] = "main";
  r["custom_properties"] = json::object();
  return r;
}

json Organization(const std::string& login) {
  std::string o = "https://api.github.com/orgs/" + login;
  return {{"login", login},
          {"id", 21031067},
          {"node_id", "MDEyOk9yZ2FuaXphdGlvbjIxMDMxMDY3"},
          {"url", o},
          {"repos_url", o + "/repos"},
          {"events_url", o + "/events"},
          {"hooks_url", o + "/hooks"},
          {"issues_url", o + "/issues"},
          {"members_url", o + "/members{/member}"},
          {"public_members_url", o + "/public_members{/member}"},
          {"avatar_url", "https://avatars.githubusercontent.com/u/21031067?v=4"},
          {"description", "Home media lab"}};
}

json Envelope(const std::string& action, const std::string& repository) {
  std::string owner = repository.substr(0, repository.find('/'));
  return {{"action", action},
          {"repository", Repository(repository)},
          {"organization", Organization(owner)},
          {"sender", User("octocat", 583231)},
          {"installation",
           {{"id", 2311213}, {"node_id", "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw=="}}}};
}

}  // namespace

std::string WorkflowJobPayload(const JobSpec& s) {
  json p = Envelope(s.action, s.repository);
  std::string a = "https://api.github.com/repos/" + s.repository;
  const bool started = s.action == "in_progress" || s.action == "completed";
  json steps = json::array();
  const char* names[] = {"Set up job",  "Run actions/checkout@v4", "Fetch audio",
                         "Transcribe",  "Upload transcript",       "Post Run actions/checkout@v4",
                         "Complete job"};
  for (int i = 0; i < s.steps && started; ++i) {
    bool done = s.action == "completed";
    steps.push_back({{"name", names[i % 7]},
                     {"status", done ? "completed" : (i == 0 ? "in_progress" : "queued")},
                     {"conclusion", done ? json(s.conclusion.value_or("success")) : json(nullptr)},
                     {"number", i + 1},
                     {"started_at", done || i == 0 ? json(s.started_at) : json(nullptr)},
                     {"completed_at", done ? json(s.completed_at) : json(nullptr)}});
  }
  json job = {
      {"id", s.job_id},
      {"run_id", s.run_id},
      {"workflow_name", s.workflow_name},
      {"head_branch", "main"},
      {"run_url", a + "/actions/runs/" + std::to_string(s.run_id)},
      {"run_attempt", s.run_attempt},
      {"node_id", "CR_kwDOCyTPis8AAAAG6qE2Yg"},
      {"head_sha", "f4f01fe7a5e3c6a0b3d1e2c9a8b7f6e5d4c3b2a1"},
      {"url", a + "/actions/jobs/" + std::to_string(s.job_id)},
      {"html_url", "https://github.com/" + s.repository + "/actions/runs/" +
                       std::to_string(s.run_id) + "/job/" + std::to_string(s.job_id)},
      {"status", s.action == "waiting" ? "waiting" : s.action},
      {"conclusion",
       s.action == "completed" ? json(s.conclusion.value_or("success")) : json(nullptr)},
      {"created_at", s.created_at},
      // GitHub fills started_at even on queued jobs (equal to created_at).
      {"started_at", started ? s.started_at : s.created_at},
      {"completed_at", s.action == "completed" ? json(s.completed_at) : json(nullptr)},
      {"name", s.name},
      {"steps", steps},
      {"check_run_url", a + "/check-runs/" + std::to_string(s.job_id)},
      {"labels", s.null_labels ? json(nullptr) : json(s.labels)},
      {"runner_id", s.runner_name ? json(42) : json(nullptr)},
      {"runner_name", s.runner_name ? json(*s.runner_name) : json(nullptr)},
      {"runner_group_id", s.runner_name ? json(1) : json(nullptr)},
      {"runner_group_name", s.runner_name ? json("Default") : json(nullptr)},
  };
  if (s.extra_unknown_fields) {
    job["queue_priority"] = {{"tier", "standard"}, {"position", 3}};
    job["future_field"] = json::array({1, 2, 3});
    p["deployment"] = {{"id", 1}, {"environment", "prod"}};
  }
  p["workflow_job"] = job;
  return p.dump();
}

std::string WorkflowRunPayload(const RunSpec& s) {
  json p = Envelope(s.action, s.repository);
  std::string a = "https://api.github.com/repos/" + s.repository;
  std::string run = a + "/actions/runs/" + std::to_string(s.run_id);
  json r = {
      {"id", s.run_id},
      {"name", s.name},
      {"node_id", "WFR_kwLOCyTPis4AqrO8"},
      {"head_branch", s.head_branch},
      {"head_sha", "f4f01fe7a5e3c6a0b3d1e2c9a8b7f6e5d4c3b2a1"},
      {"path", s.path},
      {"run_number", 128},
      {"event", s.event},
      {"status", s.action == "requested" ? "queued" : s.action},
      {"conclusion",
       s.action == "completed" ? json(s.conclusion.value_or("success")) : json(nullptr)},
      {"workflow_id", 5828279},
      {"check_suite_id", 15823564023},
      {"check_suite_node_id", "CS_kwDOCyTPis8AAAADrylf9w"},
      {"url", run},
      {"html_url",
       "https://github.com/" + s.repository + "/actions/runs/" + std::to_string(s.run_id)},
      {"pull_requests", json::array()},
      {"created_at", s.created_at},
      {"updated_at", s.updated_at},
      {"actor", User("octocat", 583231)},
      {"triggering_actor", User("octocat", 583231)},
      {"run_attempt", s.run_attempt},
      {"referenced_workflows", json::array()},
      {"run_started_at", s.created_at},
      {"jobs_url", run + "/jobs"},
      {"logs_url", run + "/logs"},
      {"check_suite_url", a + "/check-suites/15823564023"},
      {"artifacts_url", run + "/artifacts"},
      {"cancel_url", run + "/cancel"},
      {"rerun_url", run + "/rerun"},
      {"previous_attempt_url", s.run_attempt > 1
                                   ? json(run + "/attempts/" + std::to_string(s.run_attempt - 1))
                                   : json(nullptr)},
      {"workflow_url", a + "/actions/workflows/5828279"},
      {"head_commit",
       {{"id", "f4f01fe7a5e3c6a0b3d1e2c9a8b7f6e5d4c3b2a1"},
        {"tree_id", "31b122c26a97cf9af023e9ddab94a82c6e77b0ea"},
        {"message", "Add the summary workflow\n\nChained after transcription."},
        {"timestamp", s.created_at},
        {"author", {{"name", "Octo Cat"}, {"email", "octocat@github.com"}}},
        {"committer", {{"name", "GitHub"}, {"email", "noreply@github.com"}}}}},
      {"repository", Repository(s.repository)},
      {"head_repository", Repository(s.repository)},
  };
  if (s.display_title) r["display_title"] = *s.display_title;
  p["workflow"] = {
      {"id", 5828279},
      {"node_id", "W_kwDOCyTPis4AWO23"},
      {"name", s.name},
      {"path", s.path},
      {"state", "active"},
      {"created_at", "2025-06-01T00:00:00Z"},
      {"updated_at", "2025-06-01T00:00:00Z"},
      {"url", a + "/actions/workflows/5828279"},
      {"html_url", "https://github.com/" + s.repository + "/blob/main/" + s.path},
      {"badge_url", "https://github.com/" + s.repository + "/workflows/" + s.name + "/badge.svg"}};
  p["workflow_run"] = r;
  return p.dump();
}

std::string PingPayload(const std::string& repository, int64_t hook_id) {
  json p = {{"zen", "Keep it logically awesome."},
            {"hook_id", hook_id},
            {"hook",
             {{"type", "Repository"},
              {"id", hook_id},
              {"name", "web"},
              {"active", true},
              {"events", json::array({"workflow_job", "workflow_run"})},
              {"config",
               {{"content_type", "json"},
                {"insecure_ssl", "0"},
                {"url", "https://relayq.example.ts.net/webhook"}}}}},
            {"repository", Repository(repository)},
            {"sender", User("octocat", 583231)}};
  return p.dump();
}

}  // namespace relayq::testing
