// The Anthropic Messages API: POST {base}/messages with x-api-key and anthropic-version
// headers. Translation rules (the OpenAI request is what the gateway received):
//   - "system" (and "developer") messages are collected, in order, into the top-level `system`
//     field, joined with "\n\n" (text parts only);
//   - "user" and "assistant" messages keep their role; a "tool" message (tool_call_id, content)
//     becomes a tool_result block in a user turn. Consecutive turns of one role are merged into
//     one, since the API requires alternation: a turn of text only becomes one string (the texts
//     joined with "\n\n"), any other an array of content blocks (tool results first, as the
//     API requires);
//   - content may be a string or an array of parts: adjacent "text" parts become one text block;
//     "image_url" parts (user messages) become image blocks: a base64 data: URL (jpeg, png, gif,
//     webp) a base64 source, an http(s) URL a url source; any other part is an InvalidArgument;
//   - an assistant message's tool_calls become tool_use blocks (function.arguments parsed: it
//     must be a JSON object);
//   - tools (type "function") -> tools with input_schema; tool_choice "auto" / "none" /
//     "required" / {"type":"function","function":{"name"}} -> auto / none / any / tool;
//     parallel_tool_calls false -> disable_parallel_tool_use;
//   - max_tokens defaults to AnthropicOptions::default_max_tokens; stop -> stop_sequences;
//     user -> metadata.user_id;
//   - a JSON response_format (json_object, or json_schema with an object schema) becomes a
//     forced call of the tool kJsonTool whose input_schema is the schema; the call's input comes
//     back as the message's content (JSON text; streamed as it is generated), finish "stop";
//   - reasoning: `reasoning_effort` minimal / low / medium / high -> thinking enabled with a
//     budget of kThinkingBudgets' tokens ("none": no thinking); a `thinking` object in the body
//     (extra_body) is passed as it is, for settings reasoning_effort cannot say. max_tokens
//     counts the thinking: a request's max_tokens must exceed the budget, and without one the
//     default gets the budget added. An assistant message's `thinking_blocks` (as answers carry
//     them, signed) go first in its turn: the API requires them back in a tool loop;
//   - OpenAI parameters Anthropic cannot honour are refused (InvalidArgument) rather than
//     silently ignored: a JSON response_format together with tools, logprobs, top_logprobs,
//     audio, output modalities other than text, prediction (and `n` other than 1, refused by
//     the gateway for every provider: gateway/openai_wire.cc). seed and the other
//     OpenAI-only parameters (presence/frequency penalties, logit_bias, ...) are dropped.
// Responses: text blocks are concatenated, tool_use blocks become OpenAI tool_calls, thinking
// blocks the message's `reasoning_content` (their texts) and `thinking_blocks` (the blocks, with
// their signatures; redacted_thinking blocks too);
// stop_reason end_turn|stop_sequence -> stop, max_tokens -> length, tool_use -> tool_calls;
// prompt tokens are input_tokens plus the prompt cache's (cache_creation_ and
// cache_read_input_tokens), as OpenAI's prompt_tokens include cached tokens.
// Streams: text_delta -> content pieces; a tool_use block's start -> the first piece of a tool
// call (index, id, type, function.name), its input_json_delta pieces -> function.arguments
// pieces, as OpenAI streams tool calls; thinking_delta -> `reasoning_content` pieces, and at a
// thinking block's end the whole block (text and signature) as `thinking_blocks`.
#include <boost/json.hpp>

#include <algorithm>
#include <vector>

#include "providers/adapter.h"
#include "providers/sse_parser.h"
#include "providers/wire_util.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;

std::string MapStopReason(std::string_view r) {
  if (r == "max_tokens") return "length";
  if (r == "tool_use") return "tool_calls";
  if (r == "refusal") return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn and unknown values
}

// The tool through which a JSON answer (response_format json_object / json_schema) is asked of
// Anthropic, whose Messages API has no response format: a forced call of this tool, whose input
// is the answer. Clients never see it: its input comes back as the message's content.
constexpr std::string_view kJsonTool = "promptops_json_answer";

// The thinking budget (tokens) each OpenAI reasoning_effort asks of Anthropic; the API's floor
// is 1,024.
struct ThinkingBudget {
  std::string_view effort;
  std::int64_t tokens;
};
constexpr ThinkingBudget kThinkingBudgets[] = {
    {"minimal", 1024}, {"low", 1024}, {"medium", 4096}, {"high", 16384}};

// Reads an Anthropic usage object into `into`, leaving the counts it does not give as they were
// (a stream's later usage is cumulative and may leave some out). The prompt's tokens are
// input_tokens plus the prompt cache's reads and writes, which Anthropic counts apart (OpenAI's
// prompt_tokens include cached tokens).
void ReadUsage(const bj::object& usage, Usage& into) {
  auto input = wire::IntField(usage, "input_tokens");
  auto read = wire::IntField(usage, "cache_read_input_tokens");
  auto write = wire::IntField(usage, "cache_creation_input_tokens");
  if (input || read || write) {
    into.prompt_tokens = input.value_or(0) + read.value_or(0) + write.value_or(0);
  }
  if (read) into.cached_tokens = read;
  if (write) into.cache_write_tokens = write;
  if (auto n = wire::IntField(usage, "output_tokens")) into.completion_tokens = *n;
}

std::string Where(std::size_t index) { return "messages[" + std::to_string(index) + "]"; }

Error Unsupported(const std::string& what) {
  return Error::InvalidArgument(what + " is not supported by this model's provider (anthropic)");
}

// The text of an OpenAI message's content (string, null or array of text parts): system
// messages and tool results.
Result<std::string> ContentText(const bj::value& content, std::size_t index) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return std::string(content.get_string());
  if (!content.is_array()) {
    return Error::InvalidArgument(Where(index) + ".content must be a string or an array of parts");
  }
  std::string text;
  for (const bj::value& part : content.get_array()) {
    const bj::object* p = part.if_object();
    const bj::string* type = p ? wire::StringField(*p, "type") : nullptr;
    if (!type) {
      return Error::InvalidArgument(Where(index) + ".content parts must be objects with a 'type'");
    }
    if (*type != "text") {
      return Unsupported("content part type '" + std::string(*type) + "' in " + Where(index) +
                         " (only text parts are, in system and tool messages)");
    }
    const bj::string* t = wire::StringField(*p, "text");
    if (!t) return Error::InvalidArgument(Where(index) + ": a text part needs a string 'text'");
    text += *t;
  }
  return text;
}

// An image_url part as an image block: a base64 data: URL becomes a base64 source, an http(s)
// URL a url source (Anthropic fetches it, not the gateway).
Result<bj::object> ImageBlock(const bj::object& part, std::size_t index) {
  const bj::value* image = part.if_contains("image_url");
  const bj::string* url = nullptr;
  if (image && image->is_string()) url = &image->get_string();
  if (image && image->is_object()) url = wire::StringField(image->get_object(), "url");
  if (!url) return Error::InvalidArgument(Where(index) + ": an image_url part needs image_url.url");
  std::string_view u(url->data(), url->size());
  if (u.starts_with("data:")) {
    constexpr std::string_view kBase64 = ";base64";
    std::size_t comma = u.find(',');
    std::string_view meta = u.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
    if (comma == std::string_view::npos || !meta.ends_with(kBase64) || comma + 1 == u.size()) {
      return Error::InvalidArgument(Where(index) +
                                    ": an image data URL must be base64 "
                                    "(data:image/png;base64,...)");
    }
    std::string_view media = meta.substr(0, meta.size() - kBase64.size());
    if (media != "image/jpeg" && media != "image/png" && media != "image/gif" &&
        media != "image/webp") {
      return Unsupported("image type '" + std::string(media) + "' in " + Where(index) +
                         " (image/jpeg, image/png, image/gif and image/webp are)");
    }
    return bj::object{
        {"type", "image"},
        {"source", {{"type", "base64"}, {"media_type", media}, {"data", u.substr(comma + 1)}}}};
  }
  if (u.starts_with("https://") || u.starts_with("http://")) {
    return bj::object{{"type", "image"}, {"source", {{"type", "url"}, {"url", u}}}};
  }
  return Error::InvalidArgument(Where(index) +
                                ": image_url.url must be an http(s) URL or a base64 data URL");
}

// The content blocks of a user or assistant message: adjacent text parts become one text block
// (a string content one text block), image_url parts image blocks (user messages only).
Result<bj::array> ContentBlocks(const bj::value& content, std::size_t index, bool images) {
  bj::array blocks;
  if (content.is_null()) return blocks;
  if (content.is_string()) {
    blocks.push_back(bj::object{{"type", "text"}, {"text", content.get_string()}});
    return blocks;
  }
  if (!content.is_array()) {
    return Error::InvalidArgument(Where(index) + ".content must be a string or an array of parts");
  }
  std::optional<std::string> text;  // adjacent text parts, not yet a block
  auto flush = [&] {
    if (text) blocks.push_back(bj::object{{"type", "text"}, {"text", *text}});
    text.reset();
  };
  for (const bj::value& part : content.get_array()) {
    const bj::object* p = part.if_object();
    const bj::string* type = p ? wire::StringField(*p, "type") : nullptr;
    if (!type) {
      return Error::InvalidArgument(Where(index) + ".content parts must be objects with a 'type'");
    }
    if (*type == "text") {
      const bj::string* t = wire::StringField(*p, "text");
      if (!t) return Error::InvalidArgument(Where(index) + ": a text part needs a string 'text'");
      text = text.value_or("") + std::string(*t);
    } else if (*type == "image_url" && images) {
      flush();
      PO_ASSIGN_OR_RETURN(bj::object block, ImageBlock(*p, index));
      blocks.push_back(std::move(block));
    } else {
      return Unsupported("content part type '" + std::string(*type) + "' in " + Where(index) +
                         (images ? " (text and image_url parts are)" : " (text parts are)"));
    }
  }
  flush();
  return blocks;
}

// An assistant message's tool_calls as tool_use blocks (arguments parsed: Anthropic takes the
// input as a JSON object).
Status AppendToolUses(const bj::value& calls, std::size_t index, bj::array& blocks) {
  if (calls.is_null()) return OkStatus();
  if (!calls.is_array())
    return Error::InvalidArgument(Where(index) + ".tool_calls must be an array");
  const bj::array& all = calls.get_array();
  for (std::size_t j = 0; j < all.size(); ++j) {
    std::string where = Where(index) + ".tool_calls[" + std::to_string(j) + "]";
    const bj::object* call = all[j].if_object();
    const bj::object* fn = call ? wire::ObjectField(*call, "function") : nullptr;
    const bj::string* id = call ? wire::StringField(*call, "id") : nullptr;
    const bj::string* name = fn ? wire::StringField(*fn, "name") : nullptr;
    if (!id || !name) {
      return Error::InvalidArgument(where + " needs an 'id' and a 'function' with a 'name'");
    }
    if (const bj::string* type = wire::StringField(*call, "type"); type && *type != "function") {
      return Unsupported(where + ": tool call type '" + std::string(*type) + "'");
    }
    const bj::string* arguments = wire::StringField(*fn, "arguments");
    bj::value input = bj::object();
    if (arguments && !arguments->empty()) {
      boost::system::error_code ec;
      input = bj::parse(*arguments, ec);
      if (ec || !input.is_object()) {
        return Error::InvalidArgument(where + ".function.arguments must be a JSON object");
      }
    }
    blocks.push_back(bj::object{
        {"type", "tool_use"}, {"id", *id}, {"name", *name}, {"input", std::move(input)}});
  }
  return OkStatus();
}

// An assistant message's thinking_blocks (as answers carry them) as the thinking and
// redacted_thinking blocks that open its turn.
Status AppendThinkingBlocks(const bj::value& v, std::size_t index, bj::array& blocks) {
  if (v.is_null()) return OkStatus();
  if (!v.is_array()) {
    return Error::InvalidArgument(Where(index) + ".thinking_blocks must be an array");
  }
  for (std::size_t j = 0; j < v.get_array().size(); ++j) {
    std::string where = Where(index) + ".thinking_blocks[" + std::to_string(j) + "]";
    const bj::object* b = v.get_array()[j].if_object();
    const bj::string* type = b ? wire::StringField(*b, "type") : nullptr;
    if (type && *type == "thinking") {
      const bj::string* thinking = wire::StringField(*b, "thinking");
      const bj::string* signature = wire::StringField(*b, "signature");
      if (!thinking || !signature) {
        return Error::InvalidArgument(where +
                                      ": a thinking block needs 'thinking' and 'signature'");
      }
      blocks.push_back(
          bj::object{{"type", "thinking"}, {"thinking", *thinking}, {"signature", *signature}});
    } else if (type && *type == "redacted_thinking") {
      const bj::string* data = wire::StringField(*b, "data");
      if (!data) return Error::InvalidArgument(where + ": a redacted_thinking block needs 'data'");
      blocks.push_back(bj::object{{"type", "redacted_thinking"}, {"data", *data}});
    } else {
      return Error::InvalidArgument(where + " must be a 'thinking' or 'redacted_thinking' block");
    }
  }
  return OkStatus();
}

// The `thinking` setting of a request: from reasoning_effort, or a `thinking` object passed as
// it is; null for none. `budget` is the tokens it reserves (0 when unknown or none).
Result<bj::value> Thinking(const bj::object& extra, std::int64_t& budget) {
  budget = 0;
  const bj::value* effort = extra.if_contains("reasoning_effort");
  const bj::value* thinking = extra.if_contains("thinking");
  if (effort && effort->is_null()) effort = nullptr;
  if (thinking && thinking->is_null()) thinking = nullptr;
  if (effort && thinking) {
    return Error::InvalidArgument("give either 'reasoning_effort' or 'thinking', not both");
  }
  if (thinking) {
    if (!thinking->is_object()) {
      return Error::InvalidArgument("field 'thinking' must be an object (Anthropic's setting)");
    }
    if (auto b = wire::IntField(thinking->get_object(), "budget_tokens")) budget = *b;
    return *thinking;
  }
  if (!effort) return bj::value();
  const bj::string* e = effort->if_string();
  if (e && *e == "none") return bj::value();
  for (const ThinkingBudget& t : kThinkingBudgets) {
    if (e && *e == t.effort) {
      budget = t.tokens;
      return bj::value{{"type", "enabled"}, {"budget_tokens", t.tokens}};
    }
  }
  return Error::InvalidArgument(
      "field 'reasoning_effort' must be \"none\", \"minimal\", \"low\", \"medium\" or "
      "\"high\"");
}

// A JSON response_format as the kJsonTool tool (nullopt for text or none).
Result<std::optional<bj::object>> JsonAnswerTool(const bj::value* rf) {
  if (!rf) return std::optional<bj::object>();
  const bj::object* o = rf->if_object();
  const bj::string* type = o ? wire::StringField(*o, "type") : nullptr;
  if (!type)
    return Error::InvalidArgument("field 'response_format' must be an object with a 'type'");
  if (*type == "text") return std::optional<bj::object>();
  bj::object tool{{"name", kJsonTool}};
  if (*type == "json_object") {
    tool["description"] = "Give the answer as a JSON object: the input of this call.";
    tool["input_schema"] = bj::object{{"type", "object"}};
    return std::optional<bj::object>(std::move(tool));
  }
  if (*type != "json_schema") {
    return Unsupported("response_format type '" + std::string(*type) + "'");
  }
  const bj::object* js = wire::ObjectField(*o, "json_schema");
  const bj::object* schema = js ? wire::ObjectField(*js, "schema") : nullptr;
  if (!schema) {
    return Error::InvalidArgument("response_format json_schema needs json_schema.schema");
  }
  const bj::string* schema_type = wire::StringField(*schema, "type");
  if (!schema_type || *schema_type != "object") {
    return Unsupported("a response_format json_schema whose schema is not of type object");
  }
  std::string description = "Give the answer in this JSON shape: the input of this call.";
  if (const bj::string* d = wire::StringField(*js, "description")) description = std::string(*d);
  tool["description"] = description;
  tool["input_schema"] = *schema;
  return std::optional<bj::object>(std::move(tool));
}

// OpenAI's tools, tool_choice and parallel_tool_calls (from the request's extra parameters) as
// Anthropic's tools and tool_choice, and a JSON response_format as a forced call of kJsonTool;
// refuses the OpenAI parameters whose meaning Anthropic cannot give (logprobs, audio output,
// predicted outputs) instead of answering as if they had been honoured. The others are dropped
// (`n` other than 1 never gets here: the gateway refuses it for every provider).
Status TranslateExtra(const bj::object& extra, bj::object& body) {
  auto present = [&](std::string_view key) {
    const bj::value* v = extra.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
  };
  PO_ASSIGN_OR_RETURN(std::optional<bj::object> json_tool,
                      JsonAnswerTool(present("response_format")));
  if (json_tool) {
    if (const bj::value* t = present("tools"); t && !(t->is_array() && t->get_array().empty())) {
      return Unsupported("a JSON response_format together with tools");
    }
    // The JSON answer is a forced tool call, which the API refuses with thinking.
    if (body.contains("thinking")) {
      return Unsupported("a JSON response_format together with reasoning (thinking)");
    }
  }
  if (const bj::value* lp = present("logprobs"); lp && !(lp->is_bool() && !lp->get_bool())) {
    return Unsupported("'logprobs'");
  }
  for (std::string_view key : {"top_logprobs", "audio", "prediction"}) {
    if (present(key)) return Unsupported("'" + std::string(key) + "'");
  }
  if (const bj::value* m = present("modalities")) {
    const bj::array* a = m->if_array();
    bool text_only = a != nullptr;
    if (a) {
      for (const bj::value& x : *a)
        text_only = text_only && x.is_string() && x.get_string() == "text";
    }
    if (!text_only) return Unsupported("output modalities other than text");
  }

  if (json_tool) {
    body["tools"] = bj::array{std::move(*json_tool)};
    body["tool_choice"] = bj::object{{"type", "tool"}, {"name", kJsonTool}};
    return OkStatus();
  }
  const bj::value* tools = present("tools");
  if (!tools) return OkStatus();  // tool_choice without tools: nothing to choose from
  if (!tools->is_array()) return Error::InvalidArgument("field 'tools' must be an array");
  bj::array out;
  for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
    std::string where = "tools[" + std::to_string(i) + "]";
    const bj::object* t = tools->get_array()[i].if_object();
    const bj::string* type = t ? wire::StringField(*t, "type") : nullptr;
    if (!type) return Error::InvalidArgument(where + " must be an object with a 'type'");
    if (*type != "function") return Unsupported(where + ": tool type '" + std::string(*type) + "'");
    const bj::object* fn = wire::ObjectField(*t, "function");
    const bj::string* name = fn ? wire::StringField(*fn, "name") : nullptr;
    if (!name) return Error::InvalidArgument(where + " needs a 'function' with a 'name'");
    if (*name == kJsonTool) {
      return Error::InvalidArgument(where + ": the tool name '" + std::string(kJsonTool) +
                                    "' is reserved by the gateway");
    }
    bj::object tool{{"name", *name}};
    if (const bj::string* d = wire::StringField(*fn, "description")) tool["description"] = *d;
    const bj::object* schema = wire::ObjectField(*fn, "parameters");
    tool["input_schema"] =
        schema ? bj::value(*schema) : bj::value{{"type", "object"}, {"properties", bj::object()}};
    out.push_back(std::move(tool));
  }
  if (out.empty()) return OkStatus();
  body["tools"] = std::move(out);

  bj::object choice{{"type", "auto"}};
  if (const bj::value* tc = present("tool_choice")) {
    const bj::object* o = tc->if_object();
    const bj::object* fn = o ? wire::ObjectField(*o, "function") : nullptr;
    const bj::string* name = fn ? wire::StringField(*fn, "name") : nullptr;
    if (tc->is_string() && tc->get_string() == "auto") {
      choice["type"] = "auto";
    } else if (tc->is_string() && tc->get_string() == "none") {
      choice["type"] = "none";
    } else if (tc->is_string() && tc->get_string() == "required") {
      choice["type"] = "any";
    } else if (name) {
      choice = bj::object{{"type", "tool"}, {"name", *name}};
    } else {
      return Error::InvalidArgument(
          "field 'tool_choice' must be \"auto\", \"none\", \"required\" or "
          "{\"type\":\"function\",\"function\":{\"name\":...}}");
    }
  }
  if (const bj::value* p = present("parallel_tool_calls")) {
    if (!p->is_bool())
      return Error::InvalidArgument("field 'parallel_tool_calls' must be a boolean");
    if (!p->get_bool() && choice["type"] != "none") choice["disable_parallel_tool_use"] = true;
  }
  body["tool_choice"] = std::move(choice);
  return OkStatus();
}

class AnthropicStreamDecoder final : public SseStreamDecoder {
 public:
  AnthropicStreamDecoder() : SseStreamDecoder("message_stop") {}

 private:
  std::variant<std::monostate, UpstreamFailure> Handle(const std::vector<SseEvent>& events,
                                                       std::vector<StreamEvent>& out) override {
    for (const SseEvent& e : events) {
      if (done_) continue;
      auto o = wire::ParseObject(e.data);
      if (!o) return Fail("stream event data is not a JSON object");
      std::string type = e.event;
      if (const auto* t = wire::StringField(*o, "type")) type = std::string(*t);
      if (type == "error") {
        failed_ = true;
        UpstreamFailure f;
        f.cls = FailureClass::kStreamError;
        f.message = wire::ErrorMessage(0, e.data);
        // The HTTP status Anthropic uses for the same error outside a stream, for metrics.
        if (const bj::object* err = wire::ObjectField(*o, "error")) {
          if (const auto* et = wire::StringField(*err, "type")) {
            if (*et == "overloaded_error")
              f.status = 529;
            else if (*et == "rate_limit_error")
              f.status = 429;
            else if (*et == "api_error")
              f.status = 500;
          }
        }
        return f;
      }
      if (type == "message_start") {
        if (const bj::object* m = wire::ObjectField(*o, "message")) {
          if (const bj::object* u = wire::ObjectField(*m, "usage")) ReadUsage(*u, usage_);
        }
      } else if (type == "content_block_start") {
        // A tool_use block starts a tool call: its id and name go out first (OpenAI's first
        // piece of a streamed call), its input follows as input_json_delta pieces.
        const bj::object* b = wire::ObjectField(*o, "content_block");
        const auto* bt = b ? wire::StringField(*b, "type") : nullptr;
        if (bt && *bt == "thinking") {
          // Its text streams as reasoning pieces; the whole block goes out at its end.
          auto block = wire::IntField(*o, "index");
          if (!block) return Fail("thinking block without index");
          thinking_ = ThinkingBlock{*block, {}, {}};
          if (const auto* t = wire::StringField(*b, "thinking")) thinking_->text = std::string(*t);
        } else if (bt && *bt == "redacted_thinking") {
          const auto* data = wire::StringField(*b, "data");
          if (!data) return Fail("redacted_thinking block without data");
          StreamEvent ev;
          ev.thinking_blocks =
              bj::array{bj::object{{"type", "redacted_thinking"}, {"data", *data}}};
          out.push_back(std::move(ev));
        } else if (bt && *bt == "tool_use") {
          auto block = wire::IntField(*o, "index");
          const auto* id = wire::StringField(*b, "id");
          const auto* name = wire::StringField(*b, "name");
          if (!block || !id || !name) return Fail("tool_use block without index, id or name");
          if (*name == kJsonTool) {  // the JSON answer: its input is the content
            json_block_ = *block;
            continue;
          }
          std::int64_t call = static_cast<std::int64_t>(tool_blocks_.size());
          tool_blocks_.push_back(*block);
          StreamEvent ev;
          ev.tool_calls = bj::array{bj::object{{"index", call},
                                               {"id", *id},
                                               {"type", "function"},
                                               {"function", {{"name", *name}, {"arguments", ""}}}}};
          out.push_back(std::move(ev));
        }
      } else if (type == "content_block_delta") {
        const bj::object* d = wire::ObjectField(*o, "delta");
        if (!d) return Fail("content_block_delta without delta");
        const auto* dt = wire::StringField(*d, "type");
        if (dt && *dt == "text_delta") {
          const auto* text = wire::StringField(*d, "text");
          if (!text) return Fail("text_delta without text");
          StreamEvent ev;
          ev.text = std::string(*text);
          out.push_back(std::move(ev));
        } else if (dt && *dt == "input_json_delta") {
          const auto* json = wire::StringField(*d, "partial_json");
          auto block = wire::IntField(*o, "index");
          if (block && json_block_ && *block == *json_block_) {
            if (!json) return Fail("input_json_delta without partial_json");
            if (!json->empty()) {
              StreamEvent ev;
              ev.text = std::string(*json);
              out.push_back(std::move(ev));
            }
            continue;
          }
          auto it = block ? std::find(tool_blocks_.begin(), tool_blocks_.end(), *block)
                          : tool_blocks_.end();
          // The input of a block that is not a tool call (a server tool's): not relayed.
          if (it != tool_blocks_.end() && !json)
            return Fail("input_json_delta without partial_json");
          if (it != tool_blocks_.end() && !json->empty()) {
            StreamEvent ev;
            ev.tool_calls = bj::array{
                bj::object{{"index", static_cast<std::int64_t>(it - tool_blocks_.begin())},
                           {"function", {{"arguments", *json}}}}};
            out.push_back(std::move(ev));
          }
        } else if (dt && (*dt == "thinking_delta" || *dt == "signature_delta")) {
          auto block = wire::IntField(*o, "index");
          if (!thinking_ || !block || *block != thinking_->block) {
            return Fail(std::string(*dt) + " outside a thinking block");
          }
          const bool text = *dt == "thinking_delta";
          const auto* piece = wire::StringField(*d, text ? "thinking" : "signature");
          if (!piece) return Fail(std::string(*dt) + " without its string");
          if (!text) {
            thinking_->signature += *piece;
          } else if (!piece->empty()) {
            thinking_->text += *piece;
            StreamEvent ev;
            ev.reasoning = std::string(*piece);
            out.push_back(std::move(ev));
          }
        }
        // citations_delta: not relayed.
      } else if (type == "content_block_stop") {
        auto block = wire::IntField(*o, "index");
        if (thinking_ && block && *block == thinking_->block) {
          StreamEvent ev;
          ev.thinking_blocks = bj::array{bj::object{{"type", "thinking"},
                                                    {"thinking", thinking_->text},
                                                    {"signature", thinking_->signature}}};
          out.push_back(std::move(ev));
          thinking_.reset();
        }
      } else if (type == "message_delta") {
        if (const bj::object* d = wire::ObjectField(*o, "delta")) {
          if (const auto* sr = wire::StringField(*d, "stop_reason")) {
            StreamEvent ev;
            ev.kind = StreamEvent::Kind::kFinish;
            ev.finish_reason = MapStopReason(*sr);
            // The forced JSON answer's call is the answer, not a tool call.
            if (json_block_ && tool_blocks_.empty() && *ev.finish_reason == "tool_calls") {
              ev.finish_reason = "stop";
            }
            out.push_back(std::move(ev));
          }
        }
        // Cumulative, per the API reference.
        if (const bj::object* u = wire::ObjectField(*o, "usage")) ReadUsage(*u, usage_);
      } else if (type == "message_stop") {
        done_ = true;
        StreamEvent ev;
        ev.kind = StreamEvent::Kind::kUsage;
        ev.usage = usage_;
        out.push_back(std::move(ev));
      }
      // ping and future event types: nothing to do.
    }
    return {};
  }

  Usage usage_;  // so far (message_start, then message_delta's cumulative counts)
  std::vector<std::int64_t> tool_blocks_;   // the content block index of each tool call so far
  std::optional<std::int64_t> json_block_;  // the block of the JSON answer's call, if any
  struct ThinkingBlock {
    std::int64_t block;  // its content block index
    std::string text;
    std::string signature;
  };
  std::optional<ThinkingBlock> thinking_;  // the thinking block being streamed, if any
};

class AnthropicAdapter final : public Adapter {
 public:
  explicit AnthropicAdapter(AnthropicOptions options) : options_(std::move(options)) {}

  std::string_view type() const override { return "anthropic"; }

  Result<UpstreamRequest> BuildChat(const ChatRequest& req,
                                    const std::string& api_key) const override {
    std::string system;
    struct Turn {
      std::string_view role;  // "user" or "assistant"
      bj::array blocks;
    };
    std::vector<Turn> turns;
    const bj::array& openai_messages = req.Messages();
    for (std::size_t i = 0; i < openai_messages.size(); ++i) {
      const bj::object* m = openai_messages[i].if_object();
      const bj::string* role = m ? wire::StringField(*m, "role") : nullptr;
      if (!role) return Error::InvalidArgument(Where(i) + " needs a 'role'");
      const bj::value* content = m->if_contains("content");
      bj::value none;
      if (!content) content = &none;
      if (*role == "system" || *role == "developer") {
        PO_ASSIGN_OR_RETURN(std::string text, ContentText(*content, i));
        if (!system.empty()) system += "\n\n";
        system += text;
        continue;
      }
      std::string_view turn_role;
      bj::array blocks;
      if (*role == "user") {
        turn_role = "user";
        PO_ASSIGN_OR_RETURN(blocks, ContentBlocks(*content, i, true));
      } else if (*role == "assistant") {
        turn_role = "assistant";
        const bj::value* thinking = m->if_contains("thinking_blocks");
        PO_RETURN_IF_ERROR(AppendThinkingBlocks(thinking ? *thinking : none, i, blocks));
        PO_ASSIGN_OR_RETURN(bj::array content_blocks, ContentBlocks(*content, i, false));
        for (auto& b : content_blocks) blocks.push_back(std::move(b));
        const bj::value* calls = m->if_contains("tool_calls");
        PO_RETURN_IF_ERROR(AppendToolUses(calls ? *calls : none, i, blocks));
      } else if (*role == "tool") {
        // A tool's result goes back in a user turn, as a tool_result block.
        turn_role = "user";
        const bj::string* id = wire::StringField(*m, "tool_call_id");
        if (!id) return Error::InvalidArgument(Where(i) + ": a tool message needs 'tool_call_id'");
        PO_ASSIGN_OR_RETURN(std::string text, ContentText(*content, i));
        blocks.push_back(
            bj::object{{"type", "tool_result"}, {"tool_use_id", *id}, {"content", text}});
      } else {
        return Unsupported(Where(i) + ": role '" + std::string(*role) + "'");
      }
      // The API requires alternating roles: consecutive messages of one role become one turn.
      if (!turns.empty() && turns.back().role == turn_role) {
        for (auto& b : blocks) turns.back().blocks.push_back(std::move(b));
      } else {
        turns.push_back(Turn{turn_role, std::move(blocks)});
      }
    }
    if (turns.empty()) {
      return Error::InvalidArgument(
          "at least one user or assistant message is required by this model's provider "
          "(anthropic)");
    }
    bj::array messages;
    for (Turn& t : turns) {
      // Text only: one string, the messages' texts joined by blank lines. Otherwise the blocks,
      // without empty text blocks (which the API refuses).
      bool text_only = std::all_of(t.blocks.begin(), t.blocks.end(),
                                   [](const bj::value& b) { return b.at("type") == "text"; });
      bj::value content;
      if (text_only) {
        std::string text;
        for (std::size_t k = 0; k < t.blocks.size(); ++k) {
          if (k > 0) text += "\n\n";
          text += t.blocks[k].at("text").get_string();
        }
        content = bj::string(text);
      } else {
        // Tool results first (the API requires them at the start of their user turn), the
        // rest in order.
        std::stable_partition(t.blocks.begin(), t.blocks.end(),
                              [](const bj::value& b) { return b.at("type") == "tool_result"; });
        t.blocks.erase(std::remove_if(t.blocks.begin(), t.blocks.end(),
                                      [](const bj::value& b) {
                                        return b.at("type") == "text" &&
                                               b.at("text").get_string().empty();
                                      }),
                       t.blocks.end());
        content = std::move(t.blocks);
      }
      messages.push_back(bj::object{{"role", t.role}, {"content", std::move(content)}});
    }
    std::int64_t budget = 0;
    PO_ASSIGN_OR_RETURN(bj::value thinking, Thinking(req.extra, budget));
    std::int64_t max_tokens = req.max_tokens.value_or(options_.default_max_tokens + budget);
    if (req.max_tokens && budget > 0 && *req.max_tokens <= budget) {
      return Error::InvalidArgument("max_tokens (" + std::to_string(*req.max_tokens) +
                                    ") must be greater than the thinking budget (" +
                                    std::to_string(budget) +
                                    " tokens): thinking counts in max_tokens");
    }
    bj::object body;
    body["model"] = req.model;
    body["max_tokens"] = max_tokens;
    if (!thinking.is_null()) body["thinking"] = std::move(thinking);
    if (!system.empty()) body["system"] = system;
    body["messages"] = std::move(messages);
    if (req.temperature) body["temperature"] = *req.temperature;
    if (req.top_p) body["top_p"] = *req.top_p;
    if (!req.stop.empty()) {
      bj::array stop;
      for (const auto& s : req.stop) stop.emplace_back(s);
      body["stop_sequences"] = std::move(stop);
    }
    if (!req.user.empty()) body["metadata"] = bj::object{{"user_id", req.user}};
    if (req.stream) body["stream"] = true;
    PO_RETURN_IF_ERROR(TranslateExtra(req.extra, body));

    UpstreamRequest r;
    r.path = "/messages";
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("anthropic-version", options_.version);
    if (req.stream) r.headers.emplace_back("Accept", "text/event-stream");
    if (!api_key.empty()) r.headers.emplace_back("x-api-key", api_key);
    r.body = bj::serialize(body);
    return r;
  }

  std::variant<ChatResponse, UpstreamFailure> ParseChat(
      int status, std::string_view body,
      std::optional<std::chrono::milliseconds> retry_after) const override {
    if (status < 200 || status > 299) return wire::StatusFailure(status, body, retry_after);
    auto o = wire::ParseObject(body);
    if (!o) return wire::Malformed("response body is not a JSON object");
    auto cit = o->find("content");
    if (cit == o->end() || !cit->value().is_array()) {
      return wire::Malformed("response has no content array");
    }
    ChatResponse r;
    if (const auto* s = wire::StringField(*o, "id")) r.id = std::string(*s);
    if (const auto* s = wire::StringField(*o, "model")) r.model = std::string(*s);
    bj::array tool_calls;
    bool json_answer = false;
    auto name_is = [](const bj::object* b, std::string_view name) {
      const bj::string* n = wire::StringField(*b, "name");
      return n && *n == name;
    };
    for (const bj::value& block : cit->value().get_array()) {
      const bj::object* b = block.if_object();
      const bj::string* type = b ? wire::StringField(*b, "type") : nullptr;
      if (!type) return wire::Malformed("content block without type");
      if (*type == "text") {
        if (const auto* t = wire::StringField(*b, "text")) r.content += *t;
      } else if (*type == "thinking" || *type == "redacted_thinking") {
        if (!r.message_extra) r.message_extra.emplace();
        if (const auto* t = wire::StringField(*b, "thinking"); t && !t->empty()) {
          bj::value& text = (*r.message_extra)["reasoning_content"];
          if (!text.is_string()) text = "";
          text.get_string().append(*t);
        }
        bj::value& blocks = (*r.message_extra)["thinking_blocks"];
        if (!blocks.is_array()) blocks = bj::array();
        blocks.get_array().push_back(*b);
      } else if (*type == "tool_use" && name_is(b, kJsonTool)) {
        // The JSON answer (a JSON response_format): its input is the content.
        auto in = b->find("input");
        r.content += bj::serialize(in == b->end() ? bj::value(bj::object()) : in->value());
        json_answer = true;
      } else if (*type == "tool_use") {
        bj::object fn;
        if (const auto* n = wire::StringField(*b, "name")) fn["name"] = *n;
        auto in = b->find("input");
        fn["arguments"] = bj::serialize(in == b->end() ? bj::value(bj::object()) : in->value());
        bj::object call;
        if (const auto* id = wire::StringField(*b, "id")) call["id"] = *id;
        call["type"] = "function";
        call["function"] = std::move(fn);
        tool_calls.push_back(std::move(call));
      }
    }
    if (!tool_calls.empty()) r.tool_calls = std::move(tool_calls);
    if (const auto* sr = wire::StringField(*o, "stop_reason")) r.finish_reason = MapStopReason(*sr);
    if (json_answer && r.tool_calls.is_null() && r.finish_reason == "tool_calls") {
      r.finish_reason = "stop";
    }
    if (const bj::object* u = wire::ObjectField(*o, "usage")) {
      ReadUsage(*u, r.usage.emplace());
    }
    return r;
  }

  std::unique_ptr<StreamDecoder> NewStreamDecoder() const override {
    return std::make_unique<AnthropicStreamDecoder>();
  }

 private:
  AnthropicOptions options_;
};

}  // namespace

std::unique_ptr<Adapter> MakeAnthropicAdapter(AnthropicOptions options) {
  return std::make_unique<AnthropicAdapter>(std::move(options));
}

}  // namespace promptops::providers
