// The daemon as an object: what `relayq serve` runs, and what in-process
// tests start on port 0.
//
// Open() does all the start-up work that can fail (the store's one-daemon
// lock, the webhook secret, the store, the policy, the GitHub client and the
// action executor, the routes and both listeners, created but not bound), so
// a bad configuration, an unbindable address or an unreadable store fails
// before anything serves. Start() binds and starts the listeners and the
// background work (executor, recovery, daily prune); Reload() re-reads the
// policy, Reload(config) also takes the reloadable parts of a configuration; Stop() stops
// accepting, lets in-flight deliveries finish, stops the background work and closes the store
// cleanly.
//
// Signals, logging set-up and the "relayq: listening ..." line belong to the
// caller (cli/serve_cmd.cc). Thread safety: Open, Start and Stop are called
// from one thread; Reload may be called from any thread while the daemon
// runs; the accessors are safe once Start has succeeded.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "common/status.h"
#include "server/config.h"

namespace relayq::server {

struct DaemonOptions {
  // Wall time for records and monotonic time for timeouts. Must outlive the
  // daemon.
  Clock* clock = &Clock::Real();
  // Where the one-time notice of a generated webhook secret (with the
  // secret, for the user to paste into GitHub) is written. Never the log.
  std::ostream* notices = nullptr;  // null: std::cout
};

class Daemon {
 public:
  // Prepares everything `config` describes (see the file comment). Fails
  // with one clear message: another daemon holds the store, the secret file
  // cannot be made, the store or policy cannot be read, a GitHub client
  // cannot be built, a listen address is malformed, the TLS files cannot be
  // loaded. When `config` has no webhook secret, one is generated into the
  // secret file (mode 0600) and announced on options.notices.
  static Result<std::unique_ptr<Daemon>> Open(Config config, DaemonOptions options = {});

  // Stop()s.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts the executor, binds both listeners and starts serving, then
  // starts recovery and the daily prune. Fails when an address cannot be
  // bound (the daemon is then stopped). Call once.
  Status Start();

  // Loads the policy again (the configured file, else policy/policy.yaml);
  // an invalid one is refused (returned, and logged) and the current one
  // stays in force. Deliveries keep flowing meanwhile.
  Status Reload();
  // What SIGHUP does with the configuration read again (`fresh`): takes its
  // reloadable parts (webhook.allow, the webhook secrets, the policy file,
  // which is loaded again) and logs a warning naming every other key that
  // changed, which needs a restart (listen addresses, store, TLS, http.*,
  // github.*, recovery.*, ...). An invalid policy is refused as Reload()'s,
  // and nothing of `fresh` is taken then. One caller at a time.
  Status Reload(const Config& fresh);

  // Stops the listeners (in-flight requests finish), the executor, recovery
  // and the daily prune, and closes the store. Idempotent.
  void Stop();

  // The bound listeners as host:port (the real port when 0 was asked for),
  // and whether the public one speaks HTTPS. Valid after Start().
  std::string public_address() const;
  std::string admin_address() const;
  bool public_tls() const;

  struct Parts;

 private:
  explicit Daemon(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace relayq::server
