// The OpenAI Chat Completions wire format (also spoken by vLLM, Ollama, LiteLLM, Azure-style
// proxies, ...): POST {base}/chat/completions, answers `chat.completion` objects or, when
// streaming, `chat.completion.chunk` objects as SSE `data:` lines ending with `data: [DONE]`.
#include <boost/json.hpp>

#include "core/json.h"
#include "providers/adapter.h"
#include "providers/sse_parser.h"
#include "providers/wire_util.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;

std::optional<Usage> ParseUsage(const bj::object& o) {
  const bj::object* u = wire::ObjectField(o, "usage");
  if (!u) return std::nullopt;
  Usage usage;
  usage.prompt_tokens = wire::IntField(*u, "prompt_tokens").value_or(0);
  usage.completion_tokens = wire::IntField(*u, "completion_tokens").value_or(0);
  return usage;
}

// One streamed call: OpenAI chunks until data: [DONE].
class OpenAiStreamDecoder final : public SseStreamDecoder {
 public:
  OpenAiStreamDecoder() : SseStreamDecoder("data: [DONE]") {}

 private:
  std::variant<std::monostate, UpstreamFailure> Handle(const std::vector<SseEvent>& events,
                                                       std::vector<StreamEvent>& out) override {
    for (const SseEvent& e : events) {
      if (done_) continue;  // nothing after [DONE] counts
      if (e.data == "[DONE]") {
        done_ = true;
        continue;
      }
      // The chunk is only read (what is kept is copied out): parse it onto the stack.
      unsigned char arena[2048];
      bj::monotonic_resource mr(arena, sizeof arena);
      auto chunk = wire::ParseObject(e.data, &mr);
      if (!chunk) return Fail("stream chunk is not a JSON object");
      if (e.event == "error" || chunk->contains("error")) {
        failed_ = true;
        UpstreamFailure f;
        f.cls = FailureClass::kStreamError;
        f.message = wire::ErrorMessage(0, e.data);
        return f;
      }
      auto ch = chunk->find("choices");
      if (ch != chunk->end() && ch->value().is_array()) {
        for (const bj::value& choice : ch->value().get_array()) {
          if (!choice.is_object()) return Fail("stream choice is not an object");
          const bj::object& c = choice.get_object();
          // Only the first choice is relayed (the gateway does not forward n > 1).
          if (wire::IntField(c, "index").value_or(0) != 0) continue;
          if (const bj::object* delta = wire::ObjectField(c, "delta")) {
            const bj::string* content = wire::StringField(*delta, "content");
            auto tc = delta->find("tool_calls");
            bool has_tools = tc != delta->end() && tc->value().is_array();
            if (content || has_tools || delta->contains("role")) {
              StreamEvent ev;
              if (content) ev.text = std::string(*content);
              if (has_tools) ev.tool_calls = tc->value();
              out.push_back(std::move(ev));
            }
          }
          if (const bj::string* fr = wire::StringField(c, "finish_reason")) {
            StreamEvent ev;
            ev.kind = StreamEvent::Kind::kFinish;
            ev.finish_reason = std::string(*fr);
            out.push_back(std::move(ev));
          }
        }
      } else if (ch != chunk->end() && !ch->value().is_null()) {
        return Fail("stream chunk 'choices' is not an array");
      }
      if (auto usage = ParseUsage(*chunk)) {
        StreamEvent ev;
        ev.kind = StreamEvent::Kind::kUsage;
        ev.usage = usage;
        out.push_back(std::move(ev));
      }
    }
    return {};
  }
};

class OpenAiAdapter final : public Adapter {
 public:
  std::string_view type() const override { return "openai"; }

  Result<UpstreamRequest> BuildChat(const ChatRequest& req,
                                    const std::string& api_key) const override {
    // Serialized field by field rather than through a bj::object: building the object copied
    // every message of the conversation first.
    std::string body;
    body.reserve(256 + req.model.size() + 96 * req.messages.size());
    body += "{\"model\":";
    json::AppendString(body, req.model);
    body += ",\"messages\":";
    json::AppendValue(body, req.messages);
    auto number = [&body](std::string_view key, const bj::value& v) {
      body += ",\"";
      body += key;
      body += "\":";
      json::AppendValue(body, v);
    };
    if (req.temperature) number("temperature", *req.temperature);
    if (req.top_p) number("top_p", *req.top_p);
    if (req.max_tokens) number("max_tokens", *req.max_tokens);
    if (!req.stop.empty()) {
      body += ",\"stop\":[";
      for (std::size_t i = 0; i < req.stop.size(); ++i) {
        if (i > 0) body += ',';
        json::AppendString(body, req.stop[i]);
      }
      body += ']';
    }
    if (req.seed) number("seed", *req.seed);
    if (!req.user.empty()) {
      body += ",\"user\":";
      json::AppendString(body, req.user);
    }
    if (req.stream) {
      // Always: the gateway needs the usage for traces and costs, and drops the usage chunk
      // for clients that did not ask for it.
      body += ",\"stream\":true,\"stream_options\":{\"include_usage\":true}";
    }
    for (const auto& kv : req.extra) {
      // The typed fields above win; stream/stream_options are the gateway's business.
      std::string_view k = kv.key();
      bool typed = k == "model" || k == "messages" || (k == "temperature" && req.temperature) ||
                   (k == "top_p" && req.top_p) || (k == "max_tokens" && req.max_tokens) ||
                   (k == "stop" && !req.stop.empty()) || (k == "seed" && req.seed) ||
                   (k == "user" && !req.user.empty()) || k == "stream" || k == "stream_options";
      if (typed) continue;
      body += ',';
      json::AppendString(body, k);
      body += ':';
      json::AppendValue(body, kv.value());
    }
    body += '}';
    UpstreamRequest r;
    r.path = "/chat/completions";
    r.headers.emplace_back("Content-Type", "application/json");
    if (req.stream) r.headers.emplace_back("Accept", "text/event-stream");
    if (!api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + api_key);
    r.body = std::move(body);
    return r;
  }

  std::variant<ChatResponse, UpstreamFailure> ParseChat(
      int status, std::string_view body,
      std::optional<std::chrono::milliseconds> retry_after) const override {
    if (status < 200 || status > 299) return wire::StatusFailure(status, body, retry_after);
    // The answer is only read (what is kept is copied out): parse it onto the stack.
    unsigned char arena[4096];
    bj::monotonic_resource mr(arena, sizeof arena);
    auto o = wire::ParseObject(body, &mr);
    if (!o) return wire::Malformed("response body is not a JSON object");
    if (o->contains("error") && !o->contains("choices")) {
      // Some compatible servers answer errors with status 200.
      UpstreamFailure f;
      f.cls = FailureClass::kServerError;
      f.status = status;
      f.message = wire::ErrorMessage(status, body);
      return f;
    }
    auto ch = o->find("choices");
    if (ch == o->end() || !ch->value().is_array() || ch->value().get_array().empty() ||
        !ch->value().get_array()[0].is_object()) {
      return wire::Malformed("response has no choices");
    }
    const bj::object& choice = ch->value().get_array()[0].get_object();
    const bj::object* message = wire::ObjectField(choice, "message");
    if (!message) return wire::Malformed("response choice has no message");
    ChatResponse r;
    if (const auto* s = wire::StringField(*o, "id")) r.id = std::string(*s);
    if (const auto* s = wire::StringField(*o, "model")) r.model = std::string(*s);
    if (const auto* s = wire::StringField(*message, "content")) r.content = std::string(*s);
    if (auto tc = message->find("tool_calls");
        tc != message->end() && tc->value().is_array() && !tc->value().get_array().empty()) {
      r.tool_calls = tc->value();
    }
    if (const auto* s = wire::StringField(choice, "finish_reason")) {
      r.finish_reason = std::string(*s);
    }
    r.usage = ParseUsage(*o);
    return r;
  }

  std::unique_ptr<StreamDecoder> NewStreamDecoder() const override {
    return std::make_unique<OpenAiStreamDecoder>();
  }

  std::optional<UpstreamRequest> BuildEmbeddings(const bj::object& openai_body,
                                                 const std::string& upstream_model,
                                                 const std::string& api_key) const override {
    bj::object body = openai_body;
    body["model"] = upstream_model;
    UpstreamRequest r;
    r.path = "/embeddings";
    r.headers.emplace_back("Content-Type", "application/json");
    if (!api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + api_key);
    r.body = bj::serialize(body);
    return r;
  }
};

}  // namespace

std::unique_ptr<Adapter> MakeOpenAiAdapter() { return std::make_unique<OpenAiAdapter>(); }

}  // namespace promptops::providers
