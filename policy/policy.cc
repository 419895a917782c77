#include "policy/policy.h"

#include <cctype>

namespace relayq::policy {

const Route* Policy::FindRoute(std::string_view name) const {
  for (const Route& r : routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Chain* Policy::FindChain(std::string_view name) const {
  for (const Chain& c : chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string_view WorkflowBasename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool HasAllLabels(const std::vector<std::string>& have, const std::vector<std::string>& want) {
  for (const std::string& w : want) {
    bool found = false;
    for (const std::string& h : have) {
      if (EqualsIgnoreCase(h, w)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace relayq::policy
