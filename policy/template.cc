#include "policy/template.h"

#include <cctype>
#include <utility>

#include "common/strings.h"

namespace relayq::policy {

namespace {

bool IsInputNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

const std::vector<std::string>& TemplateVariableNames() {
  static const std::vector<std::string> kNames = {
      "inputs.NAME",  "run.id",         "run.attempt",       "run.html_url", "run.head_branch",
      "run.head_sha", "run.conclusion", "run.display_title", "repository",
  };
  return kNames;
}

Template Template::Literal(std::string text) {
  Template t;
  t.source_ = text;
  t.pieces_.push_back({Var::kLiteral, std::move(text)});
  return t;
}

Result<Template> Template::Parse(std::string_view text, TemplateError* error) {
  static const std::pair<std::string_view, Var> kRunVars[] = {
      {"run.id", Var::kRunId},
      {"run.attempt", Var::kRunAttempt},
      {"run.html_url", Var::kRunHtmlUrl},
      {"run.head_branch", Var::kRunHeadBranch},
      {"run.head_sha", Var::kRunHeadSha},
      {"run.conclusion", Var::kRunConclusion},
      {"run.display_title", Var::kRunDisplayTitle},
      {"repository", Var::kRepository},
  };
  auto fail = [&](size_t offset, std::string message, std::string hint) -> Status {
    if (error != nullptr) *error = TemplateError{offset, message, hint};
    return Status::InvalidArgument(hint.empty() ? message : message + " (" + hint + ")");
  };

  Template t;
  t.source_ = std::string(text);
  std::string literal;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal.append(text.substr(pos));
      break;
    }
    literal.append(text.substr(pos, open - pos));
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return fail(open, "unclosed '{{' in template", "close it with '}}'");
    }
    size_t b = open + 2, e = close;
    while (b < e && IsSpace(text[b])) ++b;
    while (e > b && IsSpace(text[e - 1])) --e;
    std::string_view name = text.substr(b, e - b);
    if (name.empty()) {
      return fail(open, "empty template placeholder '{{ }}'", "");
    }
    Piece piece{Var::kLiteral, ""};
    if (name.substr(0, 7) == "inputs.") {
      std::string_view input = name.substr(7);
      bool valid = !input.empty();
      for (char c : input) valid = valid && IsInputNameChar(c);
      if (!valid) {
        return fail(b, "'" + std::string(name) + "' is not a valid input reference",
                    "input names are letters, digits, '_' and '-'");
      }
      piece = Piece{Var::kInput, std::string(input)};
    } else {
      for (const auto& [var_name, var] : kRunVars) {
        if (name == var_name) piece = Piece{var, ""};
      }
      if (piece.var == Var::kLiteral) {
        std::vector<std::string> candidates;
        for (const auto& [var_name, var] : kRunVars) candidates.emplace_back(var_name);
        size_t dot = name.find('.');
        if (dot != std::string_view::npos) {
          candidates.push_back("inputs." + std::string(name.substr(dot + 1)));
        }
        std::string best = ClosestMatch(name, candidates);
        std::string hint = best.empty() ? "known variables: inputs.NAME, run.id, run.attempt, "
                                          "run.html_url, run.head_branch, run.head_sha, "
                                          "run.conclusion, run.display_title, repository"
                                        : "did you mean '" + best + "'?";
        return fail(b, "unknown template variable '" + std::string(name) + "'", hint);
      }
    }
    if (!literal.empty()) {
      t.pieces_.push_back({Var::kLiteral, std::move(literal)});
      literal.clear();
    }
    t.pieces_.push_back(std::move(piece));
    pos = close + 2;
  }
  if (!literal.empty()) t.pieces_.push_back({Var::kLiteral, std::move(literal)});
  return t;
}

Result<std::string> Template::Render(const TemplateContext& context) const {
  std::string out;
  for (const Piece& p : pieces_) {
    switch (p.var) {
      case Var::kLiteral:
        out += p.text;
        break;
      case Var::kInput: {
        if (context.inputs == nullptr) {
          return Status::NotFound("'{{ inputs." + p.text +
                                  " }}' cannot be filled: the run's inputs are unknown (it was "
                                  "not submitted through relayq dispatch)");
        }
        auto it = context.inputs->find(p.text);
        if (it == context.inputs->end()) {
          return Status::NotFound("'{{ inputs." + p.text +
                                  " }}' cannot be filled: the run has no "
                                  "input '" +
                                  p.text + "'");
        }
        out += it->second;
        break;
      }
      case Var::kRunId:
        out += std::to_string(context.run_id);
        break;
      case Var::kRunAttempt:
        out += std::to_string(context.run_attempt);
        break;
      case Var::kRunHtmlUrl:
        out += context.run_html_url;
        break;
      case Var::kRunHeadBranch:
        out += context.run_head_branch;
        break;
      case Var::kRunHeadSha:
        out += context.run_head_sha;
        break;
      case Var::kRunConclusion:
        out += context.run_conclusion;
        break;
      case Var::kRunDisplayTitle:
        out += context.run_display_title;
        break;
      case Var::kRepository:
        out += context.repository;
        break;
    }
  }
  return out;
}

bool Template::references_inputs() const {
  for (const Piece& p : pieces_) {
    if (p.var == Var::kInput) return true;
  }
  return false;
}

std::vector<std::string> Template::variables() const {
  static const std::pair<Var, std::string_view> kNames[] = {
      {Var::kRunId, "run.id"},
      {Var::kRunAttempt, "run.attempt"},
      {Var::kRunHtmlUrl, "run.html_url"},
      {Var::kRunHeadBranch, "run.head_branch"},
      {Var::kRunHeadSha, "run.head_sha"},
      {Var::kRunConclusion, "run.conclusion"},
      {Var::kRunDisplayTitle, "run.display_title"},
      {Var::kRepository, "repository"},
  };
  std::vector<std::string> out;
  for (const Piece& p : pieces_) {
    if (p.var == Var::kLiteral) continue;
    if (p.var == Var::kInput) {
      out.push_back("inputs." + p.text);
      continue;
    }
    for (const auto& [var, name] : kNames) {
      if (var == p.var) out.emplace_back(name);
    }
  }
  return out;
}

}  // namespace relayq::policy
