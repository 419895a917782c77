// Template: a policy string with "{{ variable }}" placeholders, such as a
// chain's dispatch input `"{{ inputs.url }}"` or its `ref`.
//
// A template is parsed and validated once, when the policy loads, so an
// unknown variable is a policy-check error with a line and column rather than
// a surprise at dispatch time. It is rendered at decision time against a
// TemplateContext. Placeholders are "{{", optional spaces, a variable name,
// optional spaces, "}}". Known variables:
//
//   inputs.NAME        a dispatch input of the run (NAME: letters, digits, '_', '-')
//   run.id             run.attempt      run.html_url     run.head_branch
//   run.head_sha       run.conclusion   run.display_title
//   repository         "owner/name" of the run
//
// There are no filters and no escapes: "{{" always opens a placeholder and an
// unclosed one is an error; a lone "}}" is literal text.
//
// Rendering a reference to an input the run does not have, or any input when
// the run's inputs are unknown (a run relayq did not submit), fails with
// kNotFound rather than rendering an empty string: dispatching a summary of
// "" would be a silent, wrong action. An input that is present but empty
// renders empty.
//
// Thread safety: Template is an immutable value; concurrent Render calls are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace relayq::policy {

// What a template can refer to: the run that finished (chains) or the run
// being replaced (fallback). Fields a caller does not know stay empty.
struct TemplateContext {
  // The run's dispatch inputs; null when they are unknown (the run was not
  // submitted through `relayq dispatch`).
  const std::map<std::string, std::string>* inputs = nullptr;
  int64_t run_id = 0;
  int run_attempt = 0;
  std::string run_html_url;
  std::string run_head_branch;
  std::string run_head_sha;
  std::string run_conclusion;
  std::string run_display_title;
  std::string repository;
};

// Where and why Template::Parse failed. `offset` is a byte offset into the
// parsed text, so the loader can turn it into a column.
struct TemplateError {
  size_t offset = 0;
  std::string message;  // e.g. "unknown template variable 'run.url'"
  std::string hint;     // e.g. "did you mean 'run.id'?"; may be empty
};

class Template {
 public:
  // Parses `text`. Fails (kInvalidArgument) on an unclosed "{{", an empty
  // placeholder or an unknown variable; when `error` is not null it receives
  // the offset, message and hint of the first problem.
  static Result<Template> Parse(std::string_view text, TemplateError* error = nullptr);

  // A template that renders `text` verbatim (no placeholders are recognized).
  static Template Literal(std::string text);

  // Substitutes every placeholder. Fails with kNotFound when an `inputs.X`
  // placeholder cannot be filled (see the file comment); never fails for a
  // template without `inputs.` references.
  Result<std::string> Render(const TemplateContext& context) const;

  // The text as written in the policy.
  const std::string& source() const { return source_; }

  // True when some placeholder reads the run's inputs.
  bool references_inputs() const;

  // Names of the variables used, in order of appearance ("inputs.url", "run.id").
  std::vector<std::string> variables() const;

 private:
  enum class Var {
    kLiteral,  // not a variable: `text` is emitted as is
    kInput,    // `text` is the input name
    kRunId,
    kRunAttempt,
    kRunHtmlUrl,
    kRunHeadBranch,
    kRunHeadSha,
    kRunConclusion,
    kRunDisplayTitle,
    kRepository,
  };
  struct Piece {
    Var var;
    std::string text;
  };

  Template() = default;

  std::string source_;
  std::vector<Piece> pieces_;
};

// The variable names a template may use, for documentation and hints
// ("inputs.NAME" stands for any input).
const std::vector<std::string>& TemplateVariableNames();

}  // namespace relayq::policy
