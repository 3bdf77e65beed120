// The content of a prompt version: a text template, or chat messages (each a template) and
// message-list placeholders. Content is validated and canonicalized once, when a version is
// saved; the parsed templates are kept for rendering.
//
// Canonical JSON:
//   text: a JSON string (the template)
//   chat: [{"role":"system|user|assistant","content":"..."} | {"type":"placeholder","name":"..."}]
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "registry/template.h"

namespace promptops::registry {

enum class PromptType { kText, kChat };

std::string_view PromptTypeName(PromptType t);
Result<PromptType> ParsePromptType(std::string_view s);

// A validated, parsed content value. Immutable after creation; safe to share across threads.
struct Content {
  PromptType type = PromptType::kText;
  boost::json::value canonical;  // see the file comment
  std::string canonical_json;    // serialize(canonical)
  // For text: one template. For chat: one per message, nullptr for placeholders.
  std::vector<std::shared_ptr<const Template>> templates;
  std::vector<std::string> variables;     // union of the templates' variables, sorted, unique
  std::vector<std::string> partials;      // union of partial references, sorted, unique
  std::vector<std::string> placeholders;  // chat placeholder names, in order
};

// Validates `value` as content of type `type` and parses every template. Errors
// (InvalidArgument) name the message ("messages[2].content: line 1, column 5: ...").
Result<Content> ParseContent(PromptType type, const boost::json::value& value);

// A text rendering of content for diffs and display: text is itself; chat is each message as
// "@role" on its own line followed by its content (placeholders as "@placeholder NAME").
std::string ContentAsText(const Content& c);

// Renders content. Text: a string value. Chat: an array of {"role","content"} where each
// placeholder is replaced by the messages given for it in `variables` (an array of
// {role, content} objects; missing -> nothing in lenient mode, an error in strict mode).
Result<boost::json::value> RenderContent(const Content& c, const boost::json::object& variables,
                                         const RenderOptions& options);

}  // namespace promptops::registry
