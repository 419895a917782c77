// Internal to policy/ (policy_loader.cc and the section parsers): the
// checked reads a policy is built from, on top of the shared YAML reader
// (common/yaml_reader.h), and the two sections of a policy file.
//
// A PolicyReader collects diagnostics instead of stopping at the first
// problem: every Get* reports what it expected, with the node's place and
// key path, and returns nullopt when the value is unusable, so a caller goes
// on reading the rest of the file. Messages are part of relayq's interface
// (`relayq policy check` prints them and tests assert them): change one only
// on purpose.
//
// Thread safety: a PolicyReader is used by one thread; the functions share no
// state.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/yaml_reader.h"
#include "policy/diagnostic.h"
#include "policy/policy.h"
#include "policy/template.h"

namespace relayq::policy {

// One key of a YAML map, in document order.
struct Entry {
  std::string key;
  yaml::Node key_node;
  yaml::Node value;
};

// The entry named `key`, or null.
const Entry* Find(const std::vector<Entry>& entries, std::string_view key);

// "a, b, c"
std::string Join(const std::vector<std::string>& items, std::string_view sep = ", ");
// "[a, b]"
std::string LabelList(const std::vector<std::string>& labels);

// Route and chain names: letters, digits, '_', '-' and '.'; not empty.
bool IsValidName(std::string_view s);
// A runner label: not empty, no whitespace, no comma.
bool IsValidLabel(std::string_view s);
// owner/name (common/strings.h IsOwnerSlashName) whose parts are names as
// IsValidName reads them.
bool IsValidRepository(std::string_view s);

class PolicyReader {
 public:
  using Severity = PolicyDiagnostic::Severity;

  explicit PolicyReader(std::string_view filename) : filename_(filename) {}

  const std::string& filename() const { return filename_; }

  // Records a diagnostic at `mark` (none when the mark is null); the column
  // is moved right by `column_offset`.
  void AddAt(Severity severity, const yaml::Mark& mark, std::string key, std::string message,
             std::string hint, int column_offset = 0);
  void Error(const yaml::Node& at, const std::string& key, std::string message,
             std::string hint = "");
  void Warn(const yaml::Node& at, const std::string& key, std::string message,
            std::string hint = "");

  size_t ErrorCount() const;
  bool HasErrors() const { return ErrorCount() > 0; }
  // The diagnostics so far, in order of their place in the file.
  std::vector<PolicyDiagnostic> TakeDiagnostics();

  // The entries of a map. Reports non-scalar and duplicate keys, and, when
  // `known` is not null, keys outside it (with a "did you mean" hint). Only
  // accepted entries are returned.
  std::vector<Entry> Entries(const yaml::Node& map, const std::string& path,
                             const std::vector<std::string>* known);

  // Checks that `n` is a map; a null node reads as an empty map when
  // `null_ok`. Returns false (after reporting) otherwise.
  bool ExpectMap(const yaml::Node& n, const std::string& path, const std::string& what,
                 bool null_ok);

  // A non-empty scalar.
  std::optional<std::string> GetString(const yaml::Node& n, const std::string& path,
                                       const std::string& what);
  // A label list: a YAML list of labels, or one label alone (as runs-on
  // allows). Repeats (ignoring case) are dropped.
  std::optional<std::vector<std::string>> GetLabels(const yaml::Node& n, const std::string& path,
                                                    bool allow_empty);
  // owner/name, or a non-empty list of them.
  std::optional<std::vector<std::string>> GetRepositories(const yaml::Node& n,
                                                          const std::string& path);
  // A workflow file name. ".github/workflows/x.yml" is accepted and
  // shortened, since runs report their workflow by that path.
  std::optional<std::string> GetWorkflow(const yaml::Node& n, const std::string& path);
  // A duration greater than zero ("90s").
  std::optional<std::chrono::milliseconds> GetDuration(const yaml::Node& n,
                                                       const std::string& path);
  std::optional<bool> GetBool(const yaml::Node& n, const std::string& path);
  // A whole number in [min, max].
  std::optional<int64_t> GetInt(const yaml::Node& n, const std::string& path, int64_t min,
                                int64_t max);
  // A template string ("{{ inputs.url }}"); an error points at the offending
  // placeholder when the value is on one line.
  std::optional<Template> GetTemplate(const yaml::Node& n, const std::string& path);
  // A map of input name -> template.
  std::vector<std::pair<std::string, Template>> GetInputs(const yaml::Node& n,
                                                          const std::string& path);

 private:
  std::string filename_;
  std::vector<PolicyDiagnostic> diags_;
};

// The `routes:` section (route_parser.cc): appends each route that reads
// without errors to policy->routes.
void ParseRoutes(const yaml::Node& n, PolicyReader& reader, Policy* policy);

// The `chains:` section (chain_parser.cc): appends each chain that reads
// without errors to policy->chains, then refuses chains that form a loop.
void ParseChains(const yaml::Node& n, PolicyReader& reader, Policy* policy);

}  // namespace relayq::policy
