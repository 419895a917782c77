// One problem found in a policy file: where it is, what is wrong and a hint.
// Shared by the loader (policy_loader.h), which returns them, and the
// section parsers (policy_reader.h), which make them. A plain value.
#pragma once

#include <string>

namespace relayq::policy {

struct PolicyDiagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;         // 1-based; 0 when the problem has no place (unreadable file)
  int column = 0;       // 1-based; 0 likewise
  std::string key;      // key path, e.g. "routes.transcribe.queue_timeout"; may be empty
  std::string message;  // what is wrong and what was expected
  std::string hint;     // e.g. "did you mean 'queue_timeout'?"; may be empty

  bool is_error() const { return severity == Severity::kError; }
};

}  // namespace relayq::policy
