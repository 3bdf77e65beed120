#include "registry/template.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "core/utf8.h"

namespace promptops::registry {

namespace bj = boost::json;

namespace template_internal {

// One element of the parsed template. Children are owned by value; the tree is immutable
// after Parse.
struct Node {
  enum class Kind : std::uint8_t { kText, kVariable, kSection, kInverted, kPartial };
  Kind kind = Kind::kText;
  bool escape = true;             // kVariable: {{x}} (true) vs {{{x}}} / {{&x}} (false)
  std::string text;               // kText: the literal; otherwise the name as written
  std::vector<std::string> path;  // the name split on '.'; empty for the implicit iterator "."
  std::string indent;             // kPartial: whitespace before a standalone tag
  std::vector<Node> children;     // kSection, kInverted
};

}  // namespace template_internal

using template_internal::Node;

struct Template::Compiled {
  std::vector<Node> nodes;
  std::vector<std::string> variables;
  std::vector<std::string> partials;
  std::size_t source_size = 0;  // a first guess for the output size
};

namespace {

// Deeper section nesting is rejected at parse time so rendering recursion stays bounded.
constexpr std::size_t kMaxSectionDepth = 100;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> SplitName(std::string_view name) {
  std::vector<std::string> path;
  if (name == ".") return path;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      path.emplace_back(name.substr(start));
      return path;
    }
    path.emplace_back(name.substr(start, dot - start));
    start = dot + 1;
  }
}

class Parser {
 public:
  explicit Parser(std::string_view source) : src_(source) {}

  Result<std::vector<Node>> Run() {
    std::size_t pos = 0;
    while (true) {
      const std::size_t start = src_.find(open_delim_, pos);
      if (start == std::string_view::npos) {
        AddText(src_.substr(pos));
        break;
      }
      AddText(src_.substr(pos, start - pos));

      std::size_t content_start = start + open_delim_.size();
      char type = content_start < src_.size() ? src_[content_start] : '\0';
      std::string closer = close_delim_;
      switch (type) {
        case '{':
          closer = "}" + close_delim_;
          ++content_start;
          break;
        case '=':
          closer = "=" + close_delim_;
          ++content_start;
          break;
        case '!':
        case '#':
        case '^':
        case '/':
        case '>':
        case '&':
          ++content_start;
          break;
        default:
          type = '\0';  // a plain variable
      }
      const std::size_t content_end = src_.find(closer, content_start);
      if (content_end == std::string_view::npos) {
        return ErrorAt(start, "unclosed tag (expected '" + closer + "')");
      }
      const std::string_view content = src_.substr(content_start, content_end - content_start);
      const std::size_t end = content_end + closer.size();

      // Standalone rule: a non-interpolating tag alone on its line (only spaces/tabs around it)
      // removes the whole line, including its line ending.
      std::size_t next = end;
      std::string_view indent;
      if (type != '\0' && type != '{' && type != '&') {
        std::size_t line_start = start == 0 ? std::string_view::npos : src_.rfind('\n', start - 1);
        line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
        const std::string_view before = src_.substr(line_start, start - line_start);
        if (before.find_first_not_of(" \t") == std::string_view::npos) {
          std::size_t p = end;
          while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t')) ++p;
          bool standalone = true;
          if (p == src_.size()) {
            next = p;
          } else if (src_[p] == '\n') {
            next = p + 1;
          } else if (src_[p] == '\r' && p + 1 < src_.size() && src_[p + 1] == '\n') {
            next = p + 2;
          } else {
            standalone = false;
          }
          if (standalone) {
            StripTrailing(before.size());
            indent = before;
          } else {
            next = end;
          }
        }
      }
      pos = next;

      switch (type) {
        case '!':
          break;
        case '=': {
          const std::string_view spec = Trim(content);
          const std::size_t gap = spec.find_first_of(" \t\r\n");
          if (gap == std::string_view::npos) {
            return ErrorAt(start,
                           "invalid delimiter tag: expected two delimiters separated by "
                           "whitespace");
          }
          const std::string_view open = spec.substr(0, gap);
          const std::string_view close = Trim(spec.substr(gap));
          if (close.find_first_of(" \t\r\n") != std::string_view::npos) {
            return ErrorAt(start, "invalid delimiter tag: expected exactly two delimiters");
          }
          open_delim_ = std::string(open);
          close_delim_ = std::string(close);
          break;
        }
        case '#':
        case '^': {
          const std::string_view name = Trim(content);
          PO_RETURN_IF_ERROR(CheckName(start, name));
          if (open_.size() >= kMaxSectionDepth) {
            return ErrorAt(start,
                           "sections nested deeper than " + std::to_string(kMaxSectionDepth));
          }
          Node node;
          node.kind = type == '#' ? Node::Kind::kSection : Node::Kind::kInverted;
          node.text = std::string(name);
          node.path = SplitName(name);
          open_.push_back({std::move(node), start});
          break;
        }
        case '/': {
          const std::string_view name = Trim(content);
          PO_RETURN_IF_ERROR(CheckName(start, name));
          if (open_.empty()) {
            return ErrorAt(start,
                           "closing tag '" + std::string(name) + "' without an open section");
          }
          if (open_.back().node.text != name) {
            return ErrorAt(start, "closing tag '" + std::string(name) +
                                      "' does not match open section '" + open_.back().node.text +
                                      "' (opened at " + Location(open_.back().offset) + ")");
          }
          Node node = std::move(open_.back().node);
          open_.pop_back();
          Current().push_back(std::move(node));
          break;
        }
        case '>': {
          const std::string_view name = Trim(content);
          PO_RETURN_IF_ERROR(CheckName(start, name));
          Node node;
          node.kind = Node::Kind::kPartial;
          node.text = std::string(name);
          node.indent = std::string(indent);
          Current().push_back(std::move(node));
          break;
        }
        default: {  // '\0', '{', '&'
          const std::string_view name = Trim(content);
          PO_RETURN_IF_ERROR(CheckName(start, name));
          Node node;
          node.kind = Node::Kind::kVariable;
          node.escape = type == '\0';
          node.text = std::string(name);
          node.path = SplitName(name);
          Current().push_back(std::move(node));
          break;
        }
      }
    }
    if (!open_.empty()) {
      return ErrorAt(open_.back().offset, "unclosed section '" + open_.back().node.text + "'");
    }
    return std::move(root_);
  }

 private:
  struct OpenSection {
    Node node;
    std::size_t offset;  // of the opening tag, for errors
  };

  std::vector<Node>& Current() { return open_.empty() ? root_ : open_.back().node.children; }

  void AddText(std::string_view text) {
    if (text.empty()) return;
    std::vector<Node>& nodes = Current();
    if (!nodes.empty() && nodes.back().kind == Node::Kind::kText) {
      nodes.back().text.append(text);
      return;
    }
    Node node;
    node.text = std::string(text);
    nodes.push_back(std::move(node));
  }

  // Removes the indentation of a standalone tag, which is the tail of the last text node.
  void StripTrailing(std::size_t n) {
    if (n == 0) return;
    std::vector<Node>& nodes = Current();
    if (nodes.empty() || nodes.back().kind != Node::Kind::kText) return;
    std::string& text = nodes.back().text;
    text.resize(text.size() - std::min(n, text.size()));
    if (text.empty()) nodes.pop_back();
  }

  Status CheckName(std::size_t offset, std::string_view name) {
    if (name.empty()) return ErrorAt(offset, "empty tag name");
    if (name.find_first_of(" \t\r\n") != std::string_view::npos) {
      return ErrorAt(offset, "invalid tag name '" + std::string(name) + "': contains whitespace");
    }
    return OkStatus();
  }

  std::string Location(std::size_t offset) const {
    const std::string_view head = src_.substr(0, offset);
    const std::size_t line = 1 + std::count(head.begin(), head.end(), '\n');
    const std::size_t nl = head.rfind('\n');
    const std::size_t line_start = nl == std::string_view::npos ? 0 : nl + 1;
    const std::size_t column = 1 + utf8::CodePointCount(head.substr(line_start));
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  }

  Error ErrorAt(std::size_t offset, const std::string& what) const {
    return Error::InvalidArgument(Location(offset) + ": " + what);
  }

  std::string_view src_;
  std::string open_delim_ = "{{";
  std::string close_delim_ = "}}";
  std::vector<OpenSection> open_;
  std::vector<Node> root_;
};

// Collects Variables() (per the rule in template.h) and Partials().
void CollectNames(const std::vector<Node>& nodes, bool in_section,
                  std::vector<std::string>& variables, std::vector<std::string>& partials) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::Kind::kText:
        break;
      case Node::Kind::kPartial:
        partials.push_back(n.text);
        break;
      case Node::Kind::kVariable:
      case Node::Kind::kSection:
      case Node::Kind::kInverted:
        if (!in_section && !n.path.empty()) variables.push_back(n.path.front());
        CollectNames(n.children, in_section || n.kind == Node::Kind::kSection, variables, partials);
        break;
    }
  }
}

void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Spec truthiness: `!!data` in JavaScript terms (see template.h).
bool Truthy(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return false;
    case bj::kind::bool_:
      return v.get_bool();
    case bj::kind::int64:
      return v.get_int64() != 0;
    case bj::kind::uint64:
      return v.get_uint64() != 0;
    case bj::kind::double_:
      return v.get_double() != 0.0 && v.get_double() == v.get_double();
    case bj::kind::string:
      return !v.get_string().empty();
    case bj::kind::array:
      return !v.get_array().empty();
    case bj::kind::object:
      return true;
  }
  return false;
}

void AppendEscaped(std::string_view s, bool escape, std::string& out) {
  if (!escape) {
    out.append(s);
    return;
  }
  std::size_t run = 0;  // start of the pending unescaped run
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char* rep = nullptr;
    switch (s[i]) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&#39;";
        break;
      default:
        continue;
    }
    out.append(s.substr(run, i - run));
    out.append(rep);
    run = i + 1;
  }
  out.append(s.substr(run));
}

template <typename T>
void AppendNumber(T x, std::string& out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  if (ec == std::errc()) out.append(buf, end);
}

}  // namespace

// Renders one Template (and its partials) into one output string. Lives for one Render call;
// all state is local, which is what makes concurrent Render calls on one Template safe.
class TemplateRenderer {
 public:
  TemplateRenderer(const RenderOptions& opts, const bj::value& root) : opts_(opts) {
    stack_.reserve(16);
    stack_.push_back(&root);
  }

  Result<std::string> Run(const Template::Compiled& compiled) {
    out_.reserve(compiled.source_size + compiled.source_size / 2);
    PO_RETURN_IF_ERROR(RenderNodes(compiled.nodes, ""));
    if (!missing_.empty()) {
      SortUnique(missing_);
      std::string message = "missing variables: ";
      for (std::size_t i = 0; i < missing_.size(); ++i) {
        if (i) message += ", ";
        message += missing_[i];
      }
      return Error::InvalidArgument(std::move(message));
    }
    return std::move(out_);
  }

 private:
  struct PartialFrame {
    std::string_view name;
    const bj::value* top;  // the context item the partial was rendered with
  };

  Status RenderNodes(const std::vector<Node>& nodes, std::string_view indent) {
    for (const Node& n : nodes) {
      switch (n.kind) {
        case Node::Kind::kText:
          EmitText(n.text, indent);
          break;
        case Node::Kind::kVariable: {
          const bj::value* v = Lookup(n);
          if (v == nullptr) {
            Missing(n);
          } else {
            EmitValue(*v, n.escape && opts_.html_escape, indent);
          }
          break;
        }
        case Node::Kind::kSection: {
          const bj::value* v = Lookup(n);
          if (v == nullptr) {
            Missing(n);
          } else if (const bj::array* items = v->if_array()) {
            for (const bj::value& item : *items) {
              stack_.push_back(&item);
              PO_RETURN_IF_ERROR(RenderNodes(n.children, indent));
              stack_.pop_back();
            }
          } else if (Truthy(*v)) {
            stack_.push_back(v);
            PO_RETURN_IF_ERROR(RenderNodes(n.children, indent));
            stack_.pop_back();
          }
          break;
        }
        case Node::Kind::kInverted: {
          const bj::value* v = Lookup(n);
          if (v == nullptr) Missing(n);
          if (v == nullptr || !Truthy(*v)) PO_RETURN_IF_ERROR(RenderNodes(n.children, indent));
          break;
        }
        case Node::Kind::kPartial:
          PO_RETURN_IF_ERROR(RenderPartial(n, indent));
          break;
      }
    }
    return OkStatus();
  }

  Status RenderPartial(const Node& n, std::string_view indent) {
    if (!opts_.partials) {
      if (opts_.strict) {
        return Error::InvalidArgument("partial '" + n.text + "': no partial resolver configured");
      }
      return OkStatus();
    }
    const bj::value* top = stack_.back();
    for (std::size_t i = 0; i < chain_.size(); ++i) {
      if (chain_[i].name == n.text && chain_[i].top == top) {
        return Error::InvalidArgument("partial cycle: " + ChainText(i, n.text));
      }
    }
    if (static_cast<long>(chain_.size()) + 1 > opts_.max_partial_depth) {
      return Error::InvalidArgument("partials nested deeper than " +
                                    std::to_string(opts_.max_partial_depth) + ": " +
                                    ChainText(0, n.text));
    }
    Result<std::shared_ptr<const Template>> resolved = opts_.partials(n.text);
    if (!resolved.ok()) {
      Error e = std::move(resolved).error();
      e.message = "partial '" + n.text + "': " + e.message;
      return e;
    }
    const std::shared_ptr<const Template> partial = std::move(resolved).value();
    if (partial == nullptr) return OkStatus();
    std::string inner_indent;
    if (!n.indent.empty()) {
      inner_indent.reserve(indent.size() + n.indent.size());
      inner_indent.append(indent).append(n.indent);
      indent = inner_indent;
    }
    chain_.push_back({n.text, top});
    PO_RETURN_IF_ERROR(RenderNodes(partial->compiled_->nodes, indent));
    chain_.pop_back();
    return OkStatus();
  }

  // "a -> b -> last" from chain_[from] on.
  std::string ChainText(std::size_t from, std::string_view last) const {
    std::string s;
    for (std::size_t i = from; i < chain_.size(); ++i) {
      s.append(chain_[i].name).append(" -> ");
    }
    s.append(last);
    return s;
  }

  // Spec name resolution: the first name part against the context stack (top first), the rest
  // against the result only. nullptr when any part does not resolve.
  const bj::value* Lookup(const Node& n) const {
    if (n.path.empty()) return stack_.back();
    const bj::value* v = nullptr;
    for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) {
      if (const bj::object* o = (*it)->if_object()) {
        if ((v = o->if_contains(n.path.front())) != nullptr) break;
      }
    }
    for (std::size_t i = 1; v != nullptr && i < n.path.size(); ++i) {
      const bj::object* o = v->if_object();
      v = o == nullptr ? nullptr : o->if_contains(n.path[i]);
    }
    return v;
  }

  void Missing(const Node& n) {
    if (opts_.strict) missing_.push_back(n.text);
  }

  // Template text: every line that starts in it gets the current indentation.
  void EmitText(std::string_view text, std::string_view indent) {
    if (indent.empty()) {
      out_.append(text);
      at_line_start_ = text.back() == '\n';
      return;
    }
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t nl = text.find('\n', pos);
      const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
      if (at_line_start_) out_.append(indent);
      out_.append(text.substr(pos, end - pos));
      at_line_start_ = nl != std::string_view::npos;
      pos = end;
    }
  }

  // An interpolated value: indented if it starts a line; its own newlines are not indented.
  void EmitValue(const bj::value& v, bool escape, std::string_view indent) {
    if (v.is_null() || (v.is_string() && v.get_string().empty())) return;
    if (at_line_start_) out_.append(indent);
    at_line_start_ = false;
    switch (v.kind()) {
      case bj::kind::string:
        AppendEscaped(v.get_string(), escape, out_);
        break;
      case bj::kind::int64:
        AppendNumber(v.get_int64(), out_);
        break;
      case bj::kind::uint64:
        AppendNumber(v.get_uint64(), out_);
        break;
      case bj::kind::double_:
        AppendNumber(v.get_double(), out_);
        break;
      case bj::kind::bool_:
        out_.append(v.get_bool() ? "true" : "false");
        break;
      case bj::kind::array:
      case bj::kind::object:
        AppendEscaped(bj::serialize(v), escape, out_);
        break;
      case bj::kind::null:
        break;
    }
  }

  const RenderOptions& opts_;
  std::string out_;
  std::vector<const bj::value*> stack_;  // context stack; front is the root
  std::vector<PartialFrame> chain_;      // partials being rendered, outermost first
  std::vector<std::string> missing_;     // strict mode: unresolved names
  bool at_line_start_ = true;
};

Template::Template() : compiled_(std::make_shared<const Compiled>()) {}

Template::Template(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

Result<Template> Template::Parse(std::string_view source) {
  Parser parser(source);
  PO_ASSIGN_OR_RETURN(std::vector<Node> nodes, parser.Run());
  auto compiled = std::make_shared<Compiled>();
  compiled->nodes = std::move(nodes);
  compiled->source_size = source.size();
  CollectNames(compiled->nodes, false, compiled->variables, compiled->partials);
  SortUnique(compiled->variables);
  SortUnique(compiled->partials);
  return Template(std::move(compiled));
}

const std::vector<std::string>& Template::Variables() const { return compiled_->variables; }

const std::vector<std::string>& Template::Partials() const { return compiled_->partials; }

Result<std::string> Template::Render(const bj::value& context, const RenderOptions& opts) const {
  TemplateRenderer renderer(opts, context);
  return renderer.Run(*compiled_);
}

}  // namespace promptops::registry
