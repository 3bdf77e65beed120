// The Anthropic Messages API: POST {base}/messages with x-api-key and anthropic-version
// headers. Translation rules (the OpenAI request is what the gateway received):
//   - "system" (and "developer") messages are collected, in order, into the top-level `system`
//     field, joined with "\n\n";
//   - the remaining messages must be "user" or "assistant"; consecutive messages of the same
//     role are merged into one (texts joined with "\n\n"), since the API requires alternation;
//   - content may be a string or an array of parts: "text" parts are concatenated; any other
//     part (image_url, input_audio, file, ...) is an InvalidArgument for the client;
//   - "tool" messages and assistant tool_calls are not translated (InvalidArgument);
//   - max_tokens defaults to AnthropicOptions::default_max_tokens; stop -> stop_sequences;
//     user -> metadata.user_id; seed and `extra` (OpenAI-only parameters) are dropped.
// Responses: text blocks are concatenated, tool_use blocks become OpenAI tool_calls;
// stop_reason end_turn|stop_sequence -> stop, max_tokens -> length, tool_use -> tool_calls.
#include <boost/json.hpp>

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

// The text of an OpenAI message's content (string, null or array of parts).
Result<std::string> ContentText(const bj::value& content, std::size_t index) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return std::string(content.get_string());
  if (!content.is_array()) {
    return Error::InvalidArgument("messages[" + std::to_string(index) +
                                  "].content must be a string or an array of parts");
  }
  std::string text;
  for (const bj::value& part : content.get_array()) {
    const bj::object* p = part.if_object();
    const bj::string* type = p ? wire::StringField(*p, "type") : nullptr;
    if (!type) {
      return Error::InvalidArgument("messages[" + std::to_string(index) +
                                    "].content parts must be objects with a 'type'");
    }
    if (*type != "text") {
      return Error::InvalidArgument("content part type '" + std::string(*type) + "' in messages[" +
                                    std::to_string(index) +
                                    "] is not supported by this model's provider (anthropic); "
                                    "only text parts are");
    }
    const bj::string* t = wire::StringField(*p, "text");
    if (!t) {
      return Error::InvalidArgument("messages[" + std::to_string(index) +
                                    "]: a text part needs a string 'text'");
    }
    text += *t;
  }
  return text;
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
          if (const bj::object* u = wire::ObjectField(*m, "usage")) {
            input_tokens_ = wire::IntField(*u, "input_tokens").value_or(0);
            output_tokens_ = wire::IntField(*u, "output_tokens").value_or(0);
          }
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
        }
        // input_json_delta / thinking_delta / signature_delta: not relayed.
      } else if (type == "message_delta") {
        if (const bj::object* d = wire::ObjectField(*o, "delta")) {
          if (const auto* sr = wire::StringField(*d, "stop_reason")) {
            StreamEvent ev;
            ev.kind = StreamEvent::Kind::kFinish;
            ev.finish_reason = MapStopReason(*sr);
            out.push_back(std::move(ev));
          }
        }
        if (const bj::object* u = wire::ObjectField(*o, "usage")) {
          // Cumulative, per the API reference.
          if (auto n = wire::IntField(*u, "output_tokens")) output_tokens_ = *n;
          if (auto n = wire::IntField(*u, "input_tokens")) input_tokens_ = *n;
        }
      } else if (type == "message_stop") {
        done_ = true;
        StreamEvent ev;
        ev.kind = StreamEvent::Kind::kUsage;
        ev.usage = Usage{input_tokens_, output_tokens_, false};
        out.push_back(std::move(ev));
      }
      // ping, content_block_start, content_block_stop and future event types: nothing to do.
    }
    return {};
  }

  std::int64_t input_tokens_ = 0;
  std::int64_t output_tokens_ = 0;
};

class AnthropicAdapter final : public Adapter {
 public:
  explicit AnthropicAdapter(AnthropicOptions options) : options_(std::move(options)) {}

  std::string_view type() const override { return "anthropic"; }

  Result<UpstreamRequest> BuildChat(const ChatRequest& req,
                                    const std::string& api_key) const override {
    std::string system;
    bj::array messages;
    std::string last_role;
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
      const bj::object* m = req.messages[i].if_object();
      const bj::string* role = m ? wire::StringField(*m, "role") : nullptr;
      if (!role) {
        return Error::InvalidArgument("messages[" + std::to_string(i) + "] needs a 'role'");
      }
      auto cit = m->find("content");
      PO_ASSIGN_OR_RETURN(std::string text,
                          ContentText(cit == m->end() ? bj::value() : cit->value(), i));
      if (*role == "system" || *role == "developer") {
        if (!system.empty()) system += "\n\n";
        system += text;
        continue;
      }
      if (*role != "user" && *role != "assistant") {
        return Error::InvalidArgument("messages[" + std::to_string(i) + "]: role '" +
                                      std::string(*role) +
                                      "' is not supported by this model's provider (anthropic)");
      }
      if (m->contains("tool_calls") && !m->at("tool_calls").is_null()) {
        return Error::InvalidArgument("messages[" + std::to_string(i) +
                                      "]: tool_calls are not supported by this model's provider "
                                      "(anthropic)");
      }
      if (*role == last_role) {
        bj::string& prev = messages.back().get_object()["content"].get_string();
        prev.append("\n\n");
        prev.append(text);
        continue;
      }
      messages.push_back(bj::object{{"role", *role}, {"content", text}});
      last_role = std::string(*role);
    }
    if (messages.empty()) {
      return Error::InvalidArgument(
          "at least one user or assistant message is required by this model's provider "
          "(anthropic)");
    }
    bj::object body;
    body["model"] = req.model;
    body["max_tokens"] = req.max_tokens.value_or(options_.default_max_tokens);
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
    for (const bj::value& block : cit->value().get_array()) {
      const bj::object* b = block.if_object();
      const bj::string* type = b ? wire::StringField(*b, "type") : nullptr;
      if (!type) return wire::Malformed("content block without type");
      if (*type == "text") {
        if (const auto* t = wire::StringField(*b, "text")) r.content += *t;
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
    if (const bj::object* u = wire::ObjectField(*o, "usage")) {
      Usage usage;
      usage.prompt_tokens = wire::IntField(*u, "input_tokens").value_or(0);
      usage.completion_tokens = wire::IntField(*u, "output_tokens").value_or(0);
      r.usage = usage;
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
