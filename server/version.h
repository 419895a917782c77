#pragma once

#include <string_view>

namespace relayq::server {
inline constexpr std::string_view kVersion = RELAYQ_VERSION;
}  // namespace relayq::server
