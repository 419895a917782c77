#include "server/github_setup.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "server/version.h"

namespace relayq::server {

bool HasGitHubCredentials(const Config& config) {
  return !config.github_token.empty() ||
         (!config.github_app_id.empty() && !config.github_private_key_file.empty());
}

Result<github::ClientOptions> GitHubClientOptions(const Config& config) {
  github::ClientOptions options;
  options.api_url = config.github_api_url;
  options.user_agent = "relayq/" + std::string(kVersion);
  options.write_interval = std::chrono::seconds(config.github_write_interval_s);
  if (!config.github_token.empty()) {
    options.token = config.github_token;
    return options;
  }
  const bool any_app = !config.github_app_id.empty() || !config.github_private_key_file.empty() ||
                       !config.github_installation_id.empty();
  if (!any_app) {
    return Status::PermissionDenied(
        "no GitHub credentials: set GITHUB_TOKEN or configure a GitHub App (github.app_id and "
        "github.private_key_file)");
  }
  if (config.github_app_id.empty() || config.github_private_key_file.empty()) {
    return Status::InvalidArgument(
        "a GitHub App needs both github.app_id and github.private_key_file");
  }
  github::AppCredentials app;
  app.app_id = config.github_app_id;
  std::ifstream in(config.github_private_key_file, std::ios::binary);
  if (!in) {
    return Status::IoError("cannot read github.private_key_file " + config.github_private_key_file);
  }
  std::stringstream pem;
  pem << in.rdbuf();
  app.private_key_pem = pem.str();
  if (!config.github_installation_id.empty()) {
    const std::string& text = config.github_installation_id;
    int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
      return Status::InvalidArgument("github.installation_id '" + text + "' is not a number");
    }
    app.installation_id = id;
  }
  options.app = std::move(app);
  return options;
}

Result<std::unique_ptr<github::GitHubClient>> MakeGitHubClient(const Config& config, Clock& clock,
                                                               github::Sleeper& sleeper) {
  RELAYQ_ASSIGN_OR_RETURN(github::ClientOptions options, GitHubClientOptions(config));
  return github::HttpGitHubClient::Create(options, clock, sleeper);
}

}  // namespace relayq::server
