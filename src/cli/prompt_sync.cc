#include "cli/prompt_sync.h"

#include "cli/output.h"

namespace promptops::cli {

namespace bj = boost::json;
using registry::ChatMessage;
using registry::PromptFile;

namespace {

bj::array StringArray(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

bj::value ContentJson(const PromptFile& f) {
  if (f.type != "chat") return bj::value(f.text);
  bj::array messages;
  for (const auto& m : f.messages) {
    if (!m.placeholder.empty()) {
      messages.push_back(bj::object{{"type", "placeholder"}, {"name", m.placeholder}});
    } else {
      messages.push_back(bj::object{{"role", m.role}, {"content", m.content}});
    }
  }
  return messages;
}

bj::object PushBody(const PromptFile& f, std::string_view fallback_message) {
  bj::object body;
  body["type"] = f.type;
  body["prompt"] = ContentJson(f);
  body["config"] = f.config;
  body["metadata"] = f.metadata;
  body["labels"] = StringArray(f.labels);
  body["description"] = f.description;
  body["tags"] = StringArray(f.tags);
  body["message"] = f.message.empty() ? std::string(fallback_message) : f.message;
  return body;
}

Status SetContent(PromptFile& f, std::string_view type, const bj::value& content) {
  f.type = std::string(type);
  f.text.clear();
  f.messages.clear();
  if (type == "text") {
    if (!content.is_string()) return Error::InvalidArgument("text content is not a string");
    f.text = std::string(content.as_string());
    return OkStatus();
  }
  if (type != "chat")
    return Error::InvalidArgument("unknown prompt type '" + std::string(type) + "'");
  if (!content.is_array()) return Error::InvalidArgument("chat content is not an array");
  for (const auto& item : content.as_array()) {
    if (!item.is_object()) return Error::InvalidArgument("chat message is not an object");
    const auto& o = item.as_object();
    ChatMessage m;
    if (const auto* t = o.if_contains("type");
        t && t->is_string() && t->as_string() == "placeholder") {
      m.placeholder = ScalarText(o.if_contains("name"));
      if (m.placeholder.empty()) return Error::InvalidArgument("placeholder without a name");
    } else {
      m.role = ScalarText(o.if_contains("role"));
      m.content = ScalarText(o.if_contains("content"));
      if (m.role.empty()) return Error::InvalidArgument("chat message without a role");
    }
    f.messages.push_back(std::move(m));
  }
  return OkStatus();
}

Result<PromptFile> ExportedFile(const bj::object& prompt) {
  const auto* version = prompt.if_contains("version");
  if (!version || !version->is_object()) return Error::InvalidArgument("response has no version");
  const auto& v = version->as_object();
  PromptFile f;
  f.name = ScalarText(prompt.if_contains("name"));
  if (f.name.empty()) return Error::InvalidArgument("response has no prompt name");
  f.description = ScalarText(prompt.if_contains("description"));
  f.tags = StringList(prompt.if_contains("tags"));
  for (auto& l : StringList(v.if_contains("labels"))) {
    if (l != "latest") f.labels.push_back(std::move(l));
  }
  if (const auto* c = v.if_contains("config"); c && c->is_object()) f.config = c->as_object();
  if (const auto* m = v.if_contains("metadata"); m && m->is_object()) f.metadata = m->as_object();
  const auto* content = v.if_contains("prompt");
  if (!content) return Error::InvalidArgument("response has no content");
  std::string type = ScalarText(v.if_contains("type"));
  if (auto s = SetContent(f, type, *content); !s.ok()) {
    return Error::InvalidArgument("prompt '" + f.name + "': " + s.error().message);
  }
  return f;
}

std::string BodyText(const PromptFile& f) {
  if (f.type != "chat") return f.text;
  // The canonical writer escapes '@' lines; take its body (after the front matter).
  PromptFile only_body;
  only_body.type = "chat";
  only_body.messages = f.messages;
  std::string text = registry::FormatPromptFile(only_body);
  std::size_t end = text.find("\n---\n");
  return end == std::string::npos ? text : text.substr(end + 5);
}

}  // namespace promptops::cli
