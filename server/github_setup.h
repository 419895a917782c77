// Building the GitHub REST client from relayq's configuration.
//
// One place turns Config (github.api_url / RELAYQ_GITHUB_API_URL, GITHUB_TOKEN,
// or a GitHub App: github.app_id, github.installation_id,
// github.private_key_file) into github::ClientOptions and a client, for every
// command and for serve's background work. GITHUB_TOKEN wins when both a
// token and an App are configured: the environment overrides the file
// (PRODUCT.md). Errors never contain the token or the key. Thread safety:
// reentrant functions; the returned client is thread-safe.
#pragma once

#include <memory>

#include "common/clock.h"
#include "common/result.h"
#include "github/client.h"
#include "github/http_github_client.h"
#include "github/sleeper.h"
#include "server/config.h"

namespace relayq::server {

// True when a token or a GitHub App (id and key file) is configured; says
// nothing about whether GitHub accepts them.
bool HasGitHubCredentials(const Config& config);

// The client options for `config`: api_url, the token or the App credentials
// (the private key read from github.private_key_file), and User-Agent
// "relayq/<version>". PermissionDenied "no GitHub credentials: set
// GITHUB_TOKEN or configure a GitHub App ..." when none are configured;
// InvalidArgument for a half-configured App or a bad installation id; IoError
// when the key file cannot be read.
Result<github::ClientOptions> GitHubClientOptions(const Config& config);

// A client for `config` (see GitHubClientOptions for the failures, plus
// HttpGitHubClient::Create's). `clock` and `sleeper` must outlive it; pass an
// interruptible sleeper for background work that must stop promptly.
Result<std::unique_ptr<github::GitHubClient>> MakeGitHubClient(
    const Config& config, Clock& clock, github::Sleeper& sleeper = github::Sleeper::Real());

}  // namespace relayq::server
