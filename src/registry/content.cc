#include "registry/content.h"

#include <algorithm>
#include <set>

#include "core/utf8.h"

namespace promptops::registry {

namespace bj = boost::json;

std::string_view PromptTypeName(PromptType t) { return t == PromptType::kChat ? "chat" : "text"; }

Result<PromptType> ParsePromptType(std::string_view s) {
  if (s == "text") return PromptType::kText;
  if (s == "chat") return PromptType::kChat;
  return Error::InvalidArgument("prompt type must be 'text' or 'chat', not '" + std::string(s) +
                                "'");
}

namespace {

bool ValidRole(std::string_view r) { return r == "system" || r == "user" || r == "assistant"; }

Status ParseOne(std::string_view where, std::string_view source, Content& c) {
  auto t = Template::Parse(source);
  if (!t.ok()) return Error::InvalidArgument(std::string(where) + ": " + t.error().message);
  auto shared = std::make_shared<const Template>(std::move(t).value());
  c.templates.push_back(shared);
  return OkStatus();
}

void Collect(Content& c) {
  std::set<std::string> vars, partials;
  for (const auto& t : c.templates) {
    if (!t) continue;
    vars.insert(t->Variables().begin(), t->Variables().end());
    partials.insert(t->Partials().begin(), t->Partials().end());
  }
  c.variables.assign(vars.begin(), vars.end());
  c.partials.assign(partials.begin(), partials.end());
}

}  // namespace

Result<Content> ParseContent(PromptType type, const bj::value& value) {
  Content c;
  c.type = type;
  if (type == PromptType::kText) {
    if (!value.is_string()) return Error::InvalidArgument("text prompt content must be a string");
    std::string_view s = value.as_string();
    if (!utf8::IsValid(s)) return Error::InvalidArgument("prompt content is not valid UTF-8");
    PO_RETURN_IF_ERROR(ParseOne("prompt", s, c));
    c.canonical = bj::string(s);
  } else {
    if (!value.is_array()) {
      return Error::InvalidArgument("chat prompt content must be an array of messages");
    }
    const auto& arr = value.as_array();
    if (arr.empty()) return Error::InvalidArgument("chat prompt needs at least one message");
    bj::array out;
    std::set<std::string> seen_placeholders;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      std::string where = "messages[" + std::to_string(i) + "]";
      if (!arr[i].is_object()) return Error::InvalidArgument(where + " must be an object");
      const auto& m = arr[i].as_object();
      auto type_it = m.find("type");
      if (type_it != m.end() && type_it->value().is_string() &&
          type_it->value().as_string() == "placeholder") {
        auto name = m.find("name");
        if (name == m.end() || !name->value().is_string() || name->value().as_string().empty()) {
          return Error::InvalidArgument(where + ": placeholder needs a non-empty string 'name'");
        }
        std::string n(name->value().as_string());
        if (!seen_placeholders.insert(n).second) {
          return Error::InvalidArgument(where + ": duplicate placeholder '" + n + "'");
        }
        c.placeholders.push_back(n);
        c.templates.push_back(nullptr);
        out.push_back(bj::object{{"type", "placeholder"}, {"name", n}});
        continue;
      }
      auto role = m.find("role");
      auto content = m.find("content");
      if (role == m.end() || !role->value().is_string() || !ValidRole(role->value().as_string())) {
        return Error::InvalidArgument(where + ".role must be one of 'system', 'user', 'assistant'");
      }
      if (content == m.end() || !content->value().is_string()) {
        return Error::InvalidArgument(where + ".content must be a string");
      }
      std::string_view text = content->value().as_string();
      if (!utf8::IsValid(text))
        return Error::InvalidArgument(where + ".content is not valid UTF-8");
      PO_RETURN_IF_ERROR(ParseOne(where + ".content", text, c));
      out.push_back(bj::object{{"role", role->value()}, {"content", text}});
    }
    c.canonical = std::move(out);
  }
  Collect(c);
  c.canonical_json = bj::serialize(c.canonical);
  return c;
}

std::string ContentAsText(const Content& c) {
  if (c.type == PromptType::kText) return std::string(c.canonical.as_string());
  std::string out;
  for (const auto& m : c.canonical.as_array()) {
    const auto& o = m.as_object();
    if (o.contains("type")) {
      out += "@placeholder ";
      out += o.at("name").as_string();
      out += "\n";
    } else {
      out += "@";
      out += o.at("role").as_string();
      out += "\n";
      out += o.at("content").as_string();
      if (out.empty() || out.back() != '\n') out += "\n";
    }
  }
  return out;
}

Result<bj::value> RenderContent(const Content& c, const bj::object& variables,
                                const RenderOptions& options) {
  bj::value ctx = variables;
  if (c.type == PromptType::kText) {
    PO_ASSIGN_OR_RETURN(std::string s, c.templates.at(0)->Render(ctx, options));
    return bj::value(bj::string(s));
  }
  bj::array out;
  std::vector<std::string> missing;
  const auto& msgs = c.canonical.as_array();
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i].as_object();
    if (!c.templates[i]) {
      std::string name(m.at("name").as_string());
      auto it = variables.find(name);
      if (it == variables.end() || it->value().is_null()) {
        if (options.strict) missing.push_back(name);
        continue;
      }
      if (!it->value().is_array()) {
        return Error::InvalidArgument("placeholder '" + name + "' must be an array of messages");
      }
      for (const auto& pm : it->value().as_array()) {
        if (!pm.is_object() || !pm.as_object().contains("role") ||
            !pm.as_object().contains("content")) {
          return Error::InvalidArgument("placeholder '" + name +
                                        "' messages need 'role' and 'content'");
        }
        out.push_back(pm);
      }
      continue;
    }
    auto r = c.templates[i]->Render(ctx, options);
    if (!r.ok()) {
      // Collect missing variables across all messages so the error lists every one.
      const std::string prefix = "missing variables: ";
      if (options.strict && r.error().message.rfind(prefix, 0) == 0) {
        std::string rest = r.error().message.substr(prefix.size());
        std::size_t pos = 0;
        while (pos <= rest.size()) {
          std::size_t comma = rest.find(", ", pos);
          missing.push_back(rest.substr(pos, comma == std::string::npos ? comma : comma - pos));
          if (comma == std::string::npos) break;
          pos = comma + 2;
        }
        continue;
      }
      return std::move(r).error();
    }
    out.push_back(bj::object{{"role", m.at("role")}, {"content", std::move(r).value()}});
  }
  if (!missing.empty()) {
    std::sort(missing.begin(), missing.end());
    missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
    std::string msg = "missing variables: ";
    for (std::size_t i = 0; i < missing.size(); ++i) msg += (i ? ", " : "") + missing[i];
    return Error::InvalidArgument(msg);
  }
  return bj::value(std::move(out));
}

}  // namespace promptops::registry
