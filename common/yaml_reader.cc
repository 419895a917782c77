#include "common/yaml_reader.h"

#include <yaml-cpp/yaml.h>

#include "common/strings.h"

namespace relayq::yaml {

// A handle to one yaml-cpp node of a loaded document; yaml-cpp nodes share
// the document's memory, so the document lives as long as any handle.
struct Node::Impl {
  YAML::Node node;
};

namespace {

const std::string kEmpty;

yaml::Mark FromYaml(const YAML::Mark& m) { return yaml::Mark{m.line, m.column}; }

}  // namespace

Node::Node() = default;

Node::Node(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Node::Kind Node::kind() const {
  if (impl_ == nullptr || !impl_->node.IsDefined()) return Kind::kUndefined;
  switch (impl_->node.Type()) {
    case YAML::NodeType::Null:
      return Kind::kNull;
    case YAML::NodeType::Scalar:
      return Kind::kScalar;
    case YAML::NodeType::Sequence:
      return Kind::kSequence;
    case YAML::NodeType::Map:
      return Kind::kMap;
    case YAML::NodeType::Undefined:
      break;
  }
  return Kind::kUndefined;
}

const std::string& Node::Scalar() const { return IsScalar() ? impl_->node.Scalar() : kEmpty; }

const std::string& Node::Tag() const { return IsDefined() ? impl_->node.Tag() : kEmpty; }

yaml::Mark Node::Mark() const { return IsDefined() ? FromYaml(impl_->node.Mark()) : yaml::Mark{}; }

size_t Node::size() const { return IsSequence() || IsMap() ? impl_->node.size() : 0; }

Node Node::operator[](size_t i) const {
  if (!IsSequence() || i >= impl_->node.size()) return Node();
  const YAML::Node& n = impl_->node;
  return Node(std::make_shared<const Impl>(Impl{n[i]}));
}

Node Node::operator[](std::string_view key) const {
  if (!IsMap()) return Node();
  const YAML::Node& n = impl_->node;
  try {
    YAML::Node v = n[std::string(key)];
    if (!v.IsDefined()) return Node();
    return Node(std::make_shared<const Impl>(Impl{v}));
  } catch (const YAML::Exception&) {
    return Node();
  }
}

std::vector<Node> Node::Items() const {
  std::vector<Node> out;
  if (!IsSequence()) return out;
  for (const YAML::Node& item : impl_->node) {
    out.push_back(Node(std::make_shared<const Impl>(Impl{item})));
  }
  return out;
}

std::vector<std::pair<Node, Node>> Node::Entries() const {
  std::vector<std::pair<Node, Node>> out;
  if (!IsMap()) return out;
  for (auto it = impl_->node.begin(); it != impl_->node.end(); ++it) {
    // it-> yields a temporary proxy: copy the nodes (cheap handles) out.
    YAML::Node k = it->first;
    YAML::Node v = it->second;
    out.emplace_back(Node(std::make_shared<const Impl>(Impl{k})),
                     Node(std::make_shared<const Impl>(Impl{v})));
  }
  return out;
}

std::optional<bool> Node::AsBool() const {
  bool b = false;
  if (IsScalar() && YAML::convert<bool>::decode(impl_->node, b)) return b;
  return std::nullopt;
}

std::optional<int64_t> Node::AsInt64() const {
  int64_t v = 0;
  if (IsScalar() && YAML::convert<int64_t>::decode(impl_->node, v)) return v;
  return std::nullopt;
}

std::optional<int> Node::AsInt() const {
  int v = 0;
  if (IsScalar() && YAML::convert<int>::decode(impl_->node, v)) return v;
  return std::nullopt;
}

std::string Node::Describe() const {
  if (!IsDefined() || IsNull()) return "nothing";
  if (IsMap()) return "a map";
  if (IsSequence()) return "a list";
  return "'" + Scalar() + "'";
}

ParseResult Parse(std::string_view text) {
  ParseResult out;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    out.root = Node(std::make_shared<const Node::Impl>(Node::Impl{root}));
  } catch (const YAML::ParserException& e) {
    out.error = ParseError{true, FromYaml(e.mark), e.msg, e.what()};
  } catch (const YAML::Exception& e) {
    out.error = ParseError{false, FromYaml(e.mark), e.msg, e.what()};
  }
  return out;
}

std::string Place(std::string_view file, const yaml::Mark& mark) {
  std::string out(file);
  if (!mark.is_null()) {
    out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  return out;
}

std::string DidYouMean(std::string_view key, const std::vector<std::string>& known) {
  std::string best = ClosestMatch(key, known);
  return best.empty() ? "" : "did you mean '" + best + "'?";
}

}  // namespace relayq::yaml
