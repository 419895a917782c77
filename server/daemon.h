// `relayq serve`: the daemon.
//
// Opens the store, starts the public and admin listeners, and runs until
// SIGTERM or SIGINT; then it stops accepting, lets in-flight deliveries
// finish, closes the store cleanly and returns 0. Start-up problems (a bad
// configuration, an unbindable address, an unreadable store) return 1 after
// one clear line on stderr.
#pragma once

#include "server/config.h"

namespace relayq::server {

int RunServe(Config config);

}  // namespace relayq::server
