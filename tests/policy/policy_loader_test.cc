#include "policy/policy_loader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace relayq::policy {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kOriginalKitExample[] = R"(routes:
  transcribe:
    prefer: [macmini]
    fallback: [rpi4]
    constraints:
      needs_ffmpeg: true
      max_size_mb: 1000
)";

constexpr char kExtendedExample[] = R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml, labels: [macmini] }  # which jobs it governs
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: 5m
    fallback_workflow: transcribe_rpi.yml   # dispatched with the original inputs
chains:
  - name: summarize
    after: { workflow: transcribe_audio.yml, conclusion: success }
    dispatch:
      workflow: summarize.yml
      inputs: { url: "{{ inputs.url }}", source_run: "{{ run.id }}" }
)";

std::vector<PolicyDiagnostic> Errors(const PolicyCheck& check) {
  std::vector<PolicyDiagnostic> out;
  for (const auto& d : check.diagnostics) {
    if (d.is_error()) out.push_back(d);
  }
  return out;
}

class PolicyLoaderTest : public ::testing::Test {
 protected:
  // Parses text that must load; fails the test with the diagnostics otherwise.
  std::shared_ptr<const Policy> MustLoad(const std::string& text) {
    PolicyCheck check = ParsePolicy(text, "policy.yaml");
    EXPECT_TRUE(check.ok()) << FormatDiagnostics(check.diagnostics);
    return check.policy;
  }
};

TEST_F(PolicyLoaderTest, AcceptsOriginalKitExample) {
  PolicyCheck check = ParsePolicy(kOriginalKitExample, "policy.yaml");
  ASSERT_TRUE(check.ok()) << FormatDiagnostics(check.diagnostics);
  EXPECT_EQ(check.error_count(), 0u);
  const Policy& p = *check.policy;
  ASSERT_EQ(p.routes.size(), 1u);
  const Route& r = p.routes[0];
  EXPECT_EQ(r.name, "transcribe");
  EXPECT_EQ(r.prefer, std::vector<std::string>{"macmini"});
  EXPECT_EQ(r.fallback, std::vector<std::string>{"rpi4"});
  EXPECT_EQ(r.constraints.required_labels, std::vector<std::string>{"ffmpeg"});
  EXPECT_EQ(r.constraints.max_size_mb, 1000);
  // Defaults.
  EXPECT_EQ(r.queue_timeout, minutes(5));
  EXPECT_EQ(r.max_fallbacks, 1);
  EXPECT_FALSE(r.fallback_when_offline);
  EXPECT_EQ(r.offline_grace, seconds(60));
  EXPECT_EQ(r.unknown_inputs, UnknownInputsAction::kRefuse);
  EXPECT_TRUE(r.match.workflow.empty());
  EXPECT_EQ(r.match.labels, r.prefer);
  EXPECT_TRUE(r.match.repositories.empty());
  EXPECT_TRUE(r.fallback_workflow.empty());
  EXPECT_EQ(r.location.line, 3);
  EXPECT_TRUE(p.chains.empty());
}

TEST_F(PolicyLoaderTest, OriginalKitExampleWarnsAboutUnprovenCapability) {
  PolicyCheck check = ParsePolicy(kOriginalKitExample, "policy.yaml");
  bool warned = false;
  for (const auto& d : check.diagnostics) {
    if (d.key == "routes.transcribe.constraints.needs_ffmpeg") {
      warned = true;
      EXPECT_FALSE(d.is_error());
      EXPECT_EQ(d.line, 6);
      EXPECT_EQ(d.column, 7);
    }
  }
  EXPECT_TRUE(warned) << FormatDiagnostics(check.diagnostics);
}

TEST_F(PolicyLoaderTest, AcceptsExtendedExample) {
  auto p = MustLoad(kExtendedExample);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->routes.size(), 1u);
  const Route& r = p->routes[0];
  EXPECT_EQ(r.match.workflow, "transcribe_mac.yml");
  EXPECT_EQ(r.match.labels, std::vector<std::string>{"macmini"});
  EXPECT_EQ(r.queue_timeout, minutes(5));
  EXPECT_EQ(r.fallback_workflow, "transcribe_rpi.yml");
  ASSERT_EQ(p->chains.size(), 1u);
  const Chain& c = p->chains[0];
  EXPECT_EQ(c.name, "summarize");
  EXPECT_EQ(c.after_workflow, "transcribe_audio.yml");
  EXPECT_EQ(c.conclusions, std::vector<std::string>{"success"});
  EXPECT_EQ(c.dispatch_workflow, "summarize.yml");
  EXPECT_FALSE(c.ref.has_value());
  EXPECT_TRUE(c.dispatch_repository.empty());
  ASSERT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.inputs[0].first, "url");
  EXPECT_EQ(c.inputs[0].second.source(), "{{ inputs.url }}");
  EXPECT_EQ(c.inputs[1].first, "source_run");
  EXPECT_EQ(c.inputs[1].second.variables(), std::vector<std::string>{"run.id"});
  EXPECT_EQ(p->FindChain("summarize"), &c);
  EXPECT_EQ(p->FindRoute("transcribe"), &r);
  EXPECT_EQ(p->FindRoute("nope"), nullptr);
}

TEST_F(PolicyLoaderTest, ExtendedExampleHasNoDiagnostics) {
  PolicyCheck check = ParsePolicy(kExtendedExample, "policy.yaml");
  EXPECT_TRUE(check.diagnostics.empty()) << FormatDiagnostics(check.diagnostics);
}

TEST_F(PolicyLoaderTest, ShippedPolicyFilePassesTheChecker) {
  PolicyCheck check = CheckPolicy(RELAYQ_SOURCE_DIR "/policy/policy.yaml");
  EXPECT_TRUE(check.ok());
  EXPECT_TRUE(check.diagnostics.empty()) << FormatDiagnostics(check.diagnostics);
}

TEST_F(PolicyLoaderTest, AcceptsEveryRouteKey) {
  auto p = MustLoad(R"(routes:
  t:
    match:
      workflow: .github/workflows/transcribe_mac.yml
      labels: [self-hosted, macmini]
      repository: [me/media, Me/Other]
    prefer: macmini
    fallback: [rpi4, ffmpeg]
    queue_timeout: 1h30m
    fallback_workflow: transcribe_rpi.yml
    fallback_inputs: { backend: openai, origin: "{{ run.html_url }}" }
    fallback_when_offline: yes
    offline_grace: 45s
    max_fallbacks: 2
    unknown_inputs: dispatch
    constraints: { needs_ffmpeg: true, needs_audio: false, needs_GPU: true, max_size_mb: 5 }
)");
  ASSERT_NE(p, nullptr);
  const Route& r = p->routes[0];
  EXPECT_EQ(r.match.workflow, "transcribe_mac.yml");
  EXPECT_EQ(r.match.labels, (std::vector<std::string>{"self-hosted", "macmini"}));
  EXPECT_EQ(r.match.repositories, (std::vector<std::string>{"me/media", "Me/Other"}));
  EXPECT_EQ(r.prefer, std::vector<std::string>{"macmini"});
  EXPECT_EQ(r.queue_timeout, minutes(90));
  ASSERT_EQ(r.fallback_inputs.size(), 2u);
  EXPECT_EQ(r.fallback_inputs[0].first, "backend");
  EXPECT_TRUE(r.fallback_when_offline);
  EXPECT_EQ(r.offline_grace, seconds(45));
  EXPECT_EQ(r.max_fallbacks, 2);
  EXPECT_EQ(r.unknown_inputs, UnknownInputsAction::kDispatch);
  EXPECT_EQ(r.constraints.required_labels, (std::vector<std::string>{"ffmpeg", "gpu"}));
  EXPECT_EQ(r.constraints.max_size_mb, 5);
}

TEST_F(PolicyLoaderTest, ChainConclusionsAndOptionalKeys) {
  auto p = MustLoad(R"(chains:
  - name: notify-any
    after: { workflow: a.yml, conclusion: any, repository: me/media }
    dispatch: { workflow: notify.yml, ref: main, repository: me/ops }
  - name: retry
    after: { workflow: a.yml, conclusion: [failure, timed_out] }
    dispatch: { workflow: b.yaml, ref: "{{ run.head_branch }}" }
)");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->chains.size(), 2u);
  EXPECT_TRUE(p->chains[0].conclusions.empty());  // any
  EXPECT_EQ(p->chains[0].repositories, std::vector<std::string>{"me/media"});
  EXPECT_EQ(p->chains[0].dispatch_repository, "me/ops");
  ASSERT_TRUE(p->chains[0].ref.has_value());
  EXPECT_EQ(p->chains[0].ref->source(), "main");
  EXPECT_TRUE(p->chains[0].inputs.empty());
  EXPECT_EQ(p->chains[1].conclusions, (std::vector<std::string>{"failure", "timed_out"}));
}

TEST_F(PolicyLoaderTest, EmptyDocumentIsAnEmptyPolicy) {
  for (const char* text : {"", "# nothing yet\n", "routes:\nchains:\n"}) {
    PolicyCheck check = ParsePolicy(text, "policy.yaml");
    ASSERT_TRUE(check.ok()) << text;
    EXPECT_TRUE(check.policy->routes.empty());
    EXPECT_TRUE(check.policy->chains.empty());
  }
}

TEST_F(PolicyLoaderTest, UnknownKeySuggestsClosest) {
  PolicyCheck check = ParsePolicy(R"(routes:
  transcribe:
    match: { workflow: transcribe_mac.yml }
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: transcribe_rpi.yml
    queue_timout: 5m
)",
                                  "policy.yaml");
  EXPECT_FALSE(check.ok());
  EXPECT_EQ(check.policy, nullptr);
  ASSERT_EQ(check.diagnostics.size(), 1u) << FormatDiagnostics(check.diagnostics);
  EXPECT_EQ(FormatDiagnostic(check.diagnostics[0]),
            "policy.yaml:7:5: routes.transcribe.queue_timout: unknown key (did you mean "
            "'queue_timeout'?)");
}

// One policy error per row: where it is reported and what it says.
struct ErrorCase {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* key;
  const char* message;  // a substring of the message
  const char* hint;     // a substring of the hint; "" for no check
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class PolicyErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PolicyErrorTest, ReportsLineColumnKeyAndHint) {
  const ErrorCase& c = GetParam();
  PolicyCheck check = ParsePolicy(c.yaml, "p.yaml");
  EXPECT_FALSE(check.ok());
  auto errors = Errors(check);
  ASSERT_EQ(errors.size(), 1u) << FormatDiagnostics(check.diagnostics);
  const PolicyDiagnostic& d = errors[0];
  EXPECT_EQ(d.file, "p.yaml");
  EXPECT_EQ(d.line, c.line) << FormatDiagnostic(d);
  EXPECT_EQ(d.column, c.column) << FormatDiagnostic(d);
  EXPECT_EQ(d.key, c.key) << FormatDiagnostic(d);
  EXPECT_NE(d.message.find(c.message), std::string::npos) << FormatDiagnostic(d);
  EXPECT_NE(d.hint.find(c.hint), std::string::npos) << FormatDiagnostic(d);
}

// A valid route body to build error cases on (lines 2-5 of each document).
#define ROUTE_HEAD                   \
  "routes:\n"                        \
  "  t:\n"                           \
  "    fallback_workflow: rpi.yml\n" \
  "    prefer: [macmini]\n"          \
  "    fallback: [rpi4]\n"

const ErrorCase kErrorCases[] = {
    {"YamlSyntax", "routes:\n  t: [macmini\n  u: 1\n", 3, 4, "", "invalid YAML", ""},
    {"TabIndentation", "routes:\n\tt: 1\n", 2, 3, "", "invalid YAML",
     "line 2 is indented with a tab"},
    {"TopLevelNotMap", "- a\n- b\n", 1, 1, "", "expected a map with 'routes'", ""},
    {"UnknownTopKey", "route:\n  t: {}\n", 1, 1, "route", "unknown key", "did you mean 'routes'?"},
    {"RoutesNotMap", "routes: [a]\n", 1, 9, "routes", "expected a map of route name", ""},
    {"RouteNotMap", "routes:\n  t: 5\n", 2, 6, "routes.t", "expected a route", ""},
    {"BadRouteName", "routes:\n  'a b':\n    prefer: [x]\n    fallback: [y]\n", 2, 3, "routes.a b",
     "route names may use", ""},
    {"MissingPrefer", "routes:\n  t:\n    fallback: [rpi4]\n", 2, 3, "routes.t.prefer",
     "missing required key", "prefer: [macmini]"},
    {"MissingFallback", "routes:\n  t:\n    prefer: [macmini]\n", 2, 3, "routes.t.fallback",
     "missing required key", "fallback: [rpi4]"},
    {"EmptyPrefer", "routes:\n  t:\n    prefer: []\n    fallback: [rpi4]\n", 3, 13,
     "routes.t.prefer", "at least one runner label", ""},
    {"PreferIsMap", "routes:\n  t:\n    prefer: {a: 1}\n    fallback: [rpi4]\n", 3, 13,
     "routes.t.prefer", "expected a list of runner labels", ""},
    {"LabelWithSpace", "routes:\n  t:\n    prefer: [macmini, 'mac mini']\n    fallback: [rpi4]\n",
     3, 23, "routes.t.prefer[1]", "expected a runner label", ""},
    {"FallbackCoversPrefer",
     "routes:\n  t:\n    prefer: [macmini]\n    fallback: [macmini, heavy]\n"
     "    fallback_workflow: x.yml\n",
     4, 15, "routes.t.fallback", "compete for the same runners", ""},
    {"UnknownRouteKey", ROUTE_HEAD "    prefr: [x]\n", 6, 5, "routes.t.prefr", "unknown key",
     "did you mean 'prefer'?"},
    {"UnknownKeyFarFromAny", ROUTE_HEAD "    colour: blue\n", 6, 5, "routes.t.colour",
     "unknown key", "expected one of: match, prefer"},
    {"DuplicateKey", ROUTE_HEAD "    prefer: [other]\n", 6, 5, "routes.t.prefer", "duplicate key",
     ""},
    {"BadDuration", ROUTE_HEAD "    queue_timeout: soon\n", 6, 20, "routes.t.queue_timeout",
     "expected a duration", ""},
    {"ZeroDuration", ROUTE_HEAD "    queue_timeout: 0s\n", 6, 20, "routes.t.queue_timeout",
     "greater than zero", ""},
    {"NegativeDuration", ROUTE_HEAD "    queue_timeout: -5m\n", 6, 20, "routes.t.queue_timeout",
     "expected a duration", ""},
    {"DurationIsList", ROUTE_HEAD "    offline_grace: [1m]\n", 6, 20, "routes.t.offline_grace",
     "got a list", ""},
    {"BadBool", ROUTE_HEAD "    fallback_when_offline: maybe\n", 6, 28,
     "routes.t.fallback_when_offline", "expected true or false", ""},
    {"NegativeMaxFallbacks", ROUTE_HEAD "    max_fallbacks: -1\n", 6, 20, "routes.t.max_fallbacks",
     "whole number from 0 to 10", ""},
    {"BadUnknownInputs", ROUTE_HEAD "    unknown_inputs: refus\n", 6, 21, "routes.t.unknown_inputs",
     "expected 'refuse' or 'dispatch'", "did you mean 'refuse'?"},
    {"FallbackWorkflowIsMatched",
     "routes:\n  t:\n    match: { workflow: mac.yml }\n    prefer: [macmini]\n"
     "    fallback: [rpi4]\n    fallback_workflow: mac.yml\n",
     6, 24, "routes.t.fallback_workflow", "is the workflow the route matches", ""},
    {"WorkflowNotAFileName", ROUTE_HEAD "    match: { workflow: transcribe }\n", 6, 24,
     "routes.t.match.workflow", "expected a workflow file name", ".yml or .yaml"},
    {"WorkflowInOtherDirectory", ROUTE_HEAD "    match: { workflow: ci/x.yml }\n", 6, 24,
     "routes.t.match.workflow", "expected a workflow file name", ""},
    {"UnknownMatchKey", ROUTE_HEAD "    match: { workflows: x.yml }\n", 6, 14,
     "routes.t.match.workflows", "unknown key", "did you mean 'workflow'?"},
    {"BadRepository", ROUTE_HEAD "    match: { repository: media }\n", 6, 26,
     "routes.t.match.repository", "owner/name", ""},
    {"UnknownConstraint", ROUTE_HEAD "    constraints: { neds_ffmpeg: true }\n", 6, 20,
     "routes.t.constraints.neds_ffmpeg", "unknown constraint", "did you mean 'needs_ffmpeg'?"},
    {"ConstraintNotBool", ROUTE_HEAD "    constraints:\n      needs_ffmpeg: please\n", 7, 21,
     "routes.t.constraints.needs_ffmpeg", "expected true or false", ""},
    {"MaxSizeNotNumber", ROUTE_HEAD "    constraints:\n      max_size_mb: 1GB\n", 7, 20,
     "routes.t.constraints.max_size_mb", "whole number", ""},
    {"MaxSizeZero", ROUTE_HEAD "    constraints:\n      max_size_mb: 0\n", 7, 20,
     "routes.t.constraints.max_size_mb", "whole number from 1", ""},
    {"FallbackInputUnknownVariable",
     ROUTE_HEAD "    fallback_inputs: { runner: \"{{ run.labels }}\" }\n", 6, 36,
     "routes.t.fallback_inputs.runner", "unknown template variable 'run.labels'", ""},
    {"ChainsNotList", "chains: { name: x }\n", 1, 9, "chains", "expected a list of chains", ""},
    {"ChainMissingName",
     "chains:\n  - after: { workflow: a.yml }\n    dispatch: { workflow: b.yml }\n", 2, 5,
     "chains[0].name", "missing required key", ""},
    {"ChainMissingAfterWorkflow",
     "chains:\n  - name: x\n    after: { conclusion: success }\n    dispatch: { workflow: b.yml "
     "}\n",
     3, 12, "chains[0].after.workflow", "missing required key", ""},
    {"ChainBadName",
     "chains:\n  - name: 'a:b'\n    after: { workflow: a.yml }\n    dispatch: { workflow: b.yml "
     "}\n",
     2, 11, "chains[0].name", "chain names may use", "idempotency keys"},
    {"DuplicateChainName",
     "chains:\n"
     "  - name: s\n    after: { workflow: a.yml }\n    dispatch: { workflow: b.yml }\n"
     "  - name: s\n    after: { workflow: c.yml }\n    dispatch: { workflow: d.yml }\n",
     5, 11, "chains[1].name", "duplicate chain name 's'", "first used at line 2"},
    {"BadConclusion",
     "chains:\n  - name: s\n    after: { workflow: a.yml, conclusion: sucess }\n"
     "    dispatch: { workflow: b.yml }\n",
     3, 43, "chains[0].after.conclusion", "expected a run conclusion", "did you mean 'success'?"},
    {"UnknownChainKey",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch: { workflow: b.yml }\n"
     "    dispatc: {}\n",
     5, 5, "chains[0].dispatc", "unknown key", "did you mean 'dispatch'?"},
    {"UnknownTemplateVariable",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch:\n"
     "      workflow: b.yml\n      inputs: { src: \"{{ run.idd }}\" }\n",
     6, 26, "chains[0].dispatch.inputs.src", "unknown template variable 'run.idd'",
     "did you mean 'run.id'?"},
    {"TemplateVariableWithoutSpaces",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch:\n"
     "      workflow: b.yml\n      inputs:\n        src: see {{input.url}}\n",
     7, 20, "chains[0].dispatch.inputs.src", "unknown template variable 'input.url'",
     "did you mean 'inputs.url'?"},
    {"UnclosedTemplate",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch:\n"
     "      workflow: b.yml\n      ref: \"{{ run.head_branch\"\n",
     6, 13, "chains[0].dispatch.ref", "unclosed '{{'", ""},
    {"InputValueIsList",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch:\n"
     "      workflow: b.yml\n      inputs: { urls: [a, b] }\n",
     6, 23, "chains[0].dispatch.inputs.urls", "expected a string", ""},
    {"ChainDispatchesItself",
     "chains:\n  - name: s\n    after: { workflow: a.yml }\n    dispatch: { workflow: a.yml }\n", 4,
     15, "chains[0].dispatch.workflow", "dispatches the workflow it follows", ""},
    {"ChainsFormALoop",
     "chains:\n"
     "  - name: s\n    after: { workflow: a.yml }\n    dispatch: { workflow: b.yml }\n"
     "  - name: t\n    after: { workflow: b.yml, conclusion: failure }\n"
     "    dispatch: { workflow: a.yml }\n",
     2, 5, "chains[0]", "chains form a loop (a.yml -> b.yml -> a.yml)", ""},
};

INSTANTIATE_TEST_SUITE_P(Cases, PolicyErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(PolicyLoaderTest, ReportsEveryErrorNotJustTheFirst) {
  PolicyCheck check = ParsePolicy(R"(routes:
  a:
    prefer: []
    fallback: [rpi4]
  b:
    prefer: [macmini]
    fallback: [rpi4]
    queue_timeout: later
chains:
  - name: s
    after: { workflow: x.yml, conclusion: done }
    dispatch: { workflow: y.yml }
)",
                                  "policy.yaml");
  auto errors = Errors(check);
  ASSERT_EQ(errors.size(), 3u) << FormatDiagnostics(check.diagnostics);
  // In file order.
  EXPECT_EQ(errors[0].key, "routes.a.prefer");
  EXPECT_EQ(errors[1].key, "routes.b.queue_timeout");
  EXPECT_EQ(errors[2].key, "chains[0].after.conclusion");
  EXPECT_EQ(check.error_count(), 3u);
}

TEST_F(PolicyLoaderTest, WarnsButLoadsWhenOfflineGraceIsUseless) {
  PolicyCheck check = ParsePolicy(R"(routes:
  t:
    prefer: [macmini]
    fallback: [rpi4]
    fallback_workflow: rpi.yml
    offline_grace: 30s
)",
                                  "policy.yaml");
  ASSERT_TRUE(check.ok());
  ASSERT_EQ(check.warning_count(), 1u);
  EXPECT_EQ(FormatDiagnostic(check.diagnostics[0]),
            "policy.yaml:6:5: warning: routes.t.offline_grace: has no effect unless "
            "fallback_when_offline is true");
}

TEST_F(PolicyLoaderTest, CapabilityListedInFallbackLabelsNeedsNoWarning) {
  PolicyCheck check = ParsePolicy(R"(routes:
  t:
    prefer: [macmini]
    fallback: [rpi4, ffmpeg]
    fallback_workflow: rpi.yml
    constraints: { needs_ffmpeg: true }
)",
                                  "policy.yaml");
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check.diagnostics.empty()) << FormatDiagnostics(check.diagnostics);
}

TEST_F(PolicyLoaderTest, CheckPolicyReadsTheFile) {
  std::string path = ::testing::TempDir() + "/policy_loader_test.yaml";
  {
    std::ofstream out(path);
    out << "routes:\n  t:\n    prefer: [macmini]\n    fallback: [rpi4]\n    max_fallback: 2\n";
  }
  PolicyCheck check = CheckPolicy(path);
  ASSERT_EQ(check.error_count(), 1u);
  EXPECT_EQ(check.diagnostics[0].file, path);
  EXPECT_EQ(FormatDiagnostic(check.diagnostics[0]),
            path + ":5:5: routes.t.max_fallback: unknown key (did you mean 'max_fallbacks'?)");

  auto loaded = LoadPolicy(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find(":5:5: routes.t.max_fallback"), std::string::npos);
}

TEST_F(PolicyLoaderTest, LoadPolicyCountsTheOtherErrors) {
  std::string path = ::testing::TempDir() + "/policy_loader_test_many.yaml";
  {
    std::ofstream out(path);
    out << "routes:\n  a: {}\n  b: {}\n";
  }
  auto loaded = LoadPolicy(path);
  ASSERT_FALSE(loaded.ok());
  // Two missing keys per route.
  EXPECT_NE(loaded.status().message().find("(and 3 more errors)"), std::string::npos)
      << loaded.status().message();
}

TEST_F(PolicyLoaderTest, LoadPolicyReturnsTheShippedPolicy) {
  auto loaded = LoadPolicy(RELAYQ_SOURCE_DIR "/policy/policy.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_NE((*loaded)->FindRoute("transcribe"), nullptr);
  EXPECT_NE((*loaded)->FindChain("summarize"), nullptr);
}

TEST_F(PolicyLoaderTest, UnreadableFileIsOneErrorWithoutALine) {
  std::string path = ::testing::TempDir() + "/does/not/exist.yaml";
  PolicyCheck check = CheckPolicy(path);
  EXPECT_FALSE(check.ok());
  ASSERT_EQ(check.diagnostics.size(), 1u);
  EXPECT_EQ(check.diagnostics[0].line, 0);
  EXPECT_EQ(FormatDiagnostic(check.diagnostics[0]),
            path + ": cannot open the policy file (check the path given to --policy)");
  auto loaded = LoadPolicy(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Status::Code::kIoError);
}

TEST_F(PolicyLoaderTest, StrangeInputNeverThrows) {
  const char* inputs[] = {
      "routes: !!binary aGVsbG8=\n",
      "routes:\n  ? [a, b]\n  : 1\n",
      "&a [*a]\n",
      "routes: *undefined\n",
      "routes:\n  t:\n    prefer: &l [macmini]\n    fallback: *l\n",
      "%YAML 9.9\n---\nroutes: {}\n",
      "\xff\xfe\x00r",
      "routes: {t: {prefer: [a], fallback: [b], constraints: {needs_: true}}}\n",
      "chains:\n  - ~\n  - []\n",
  };
  for (const char* text : inputs) {
    PolicyCheck check;
    EXPECT_NO_THROW(check = ParsePolicy(text, "policy.yaml")) << text;
    EXPECT_EQ(check.ok(), check.error_count() == 0) << text;
  }
}

}  // namespace
}  // namespace relayq::policy
