// `relayq send FILE --event EVENT --url URL`: sign a payload with the webhook
// secret and deliver it the way GitHub does, to test a set-up end to end.
#pragma once

#include <string>

#include "server/config.h"

namespace relayq::cli {

struct SendOptions {
  std::string file;
  std::string event;
  std::string url;
  std::string delivery_id;  // empty: a new random GUID
  bool form = false;        // send as application/x-www-form-urlencoded payload=
};

// Prints the answer's status and body; returns 0 for a 2xx answer, else 1.
int RunSend(const server::Config& config, const SendOptions& options);

// A random version-4 UUID, as GitHub uses for X-GitHub-Delivery.
std::string NewDeliveryId();

}  // namespace relayq::cli
