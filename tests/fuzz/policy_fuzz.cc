// Fuzz target: the policy loader (policy.yaml text -> Policy or diagnostics).
// Properties: nothing throws past ParsePolicy or crashes; a policy is
// returned exactly when no diagnostic is an error; every diagnostic formats.
#include <cstdlib>
#include <string>

#include "policy/policy_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  relayq::policy::PolicyCheck check = relayq::policy::ParsePolicy(text, "fuzz.yaml");
  if (check.ok() != (check.error_count() == 0)) std::abort();
  for (const auto& d : check.diagnostics) {
    if (d.line < 0 || d.column < 0) std::abort();
    if (relayq::policy::FormatDiagnostic(d).empty()) std::abort();
  }
  return 0;
}
