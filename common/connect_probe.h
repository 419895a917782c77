// Why a TCP connection cannot be made, in words: HTTP libraries report only
// "connection failed" (cpp-httplib keeps no errno), while a person needs
// "Connection refused" (nothing listens), "timed out" (a firewall) or "cannot
// resolve the name". Thread-safe.
#pragma once

#include <chrono>
#include <string>

namespace relayq {

// One more non-blocking connect to each resolved address of host:port within
// `timeout`; the last failure's reason ("Connection refused", "timed out",
// "cannot resolve the name: ..."). Blocks for at most `timeout` per address.
std::string WhyConnectFails(const std::string& host, int port, std::chrono::milliseconds timeout);

// Probes host:port: empty when a TCP connection is made within `timeout`
// (per resolved address; the name lookup itself is not bounded), else the
// reason, as above.
std::string ConnectProblem(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace relayq
