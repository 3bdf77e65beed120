// The OpenAI Chat Completions wire format (also spoken by vLLM, Ollama, LiteLLM, Azure-style
// proxies, ...): POST {base}/chat/completions, answers `chat.completion` objects or, when
// streaming, `chat.completion.chunk` objects as SSE `data:` lines ending with `data: [DONE]`.
#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <cstring>

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

// The fields of a plain chat.completion answer, read by a SAX pass (no DOM: building Boost.JSON
// objects for the whole answer cost more than the rest of the call's JSON work). `regular` is
// false for anything the fast pass does not cover (tool calls, an error object, an unexpected
// shape or type): the caller then parses the answer fully, so errors and rare shapes keep
// exactly the full parser's behaviour.
struct CompletionFields {
  bool regular = true;
  bool has_choices = false;
  bool has_message = false;
  std::string id, model, content, finish_reason;
  bool has_finish_reason = false;
  bool has_usage = false;
  std::optional<std::int64_t> prompt_tokens, completion_tokens;
};

class CompletionScanner {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;
  using sv = bj::string_view;

  explicit CompletionScanner(CompletionFields& f) : f_(f) {}

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) {
    Kind k = Kind::kOther;
    if (stack_.empty()) {
      k = Kind::kTop;
    } else if (In(Kind::kChoices) && stack_.back().index == 0) {
      k = Kind::kChoice0;
    } else if (In(Kind::kChoice0) && KeyIs("message")) {
      k = Kind::kMessage;
      f_.has_message = true;
    } else if (In(Kind::kTop) && KeyIs("usage")) {
      k = Kind::kUsage;
      f_.has_usage = true;
    } else {
      Unread();
    }
    EndValue();
    stack_.push_back({k, 0});
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    stack_.pop_back();
    return true;
  }
  bool on_array_begin(ec_t&) {
    Kind k = Kind::kOther;
    if (In(Kind::kTop) && KeyIs("choices")) {
      k = Kind::kChoices;
      f_.has_choices = true;
    } else {
      Unread();
    }
    EndValue();
    stack_.push_back({k, 0});
    return true;
  }
  bool on_array_end(std::size_t n, ec_t&) {
    if (In(Kind::kChoices) && n == 0) f_.regular = false;  // "response has no choices"
    stack_.pop_back();
    return true;
  }
  bool on_key_part(sv s, std::size_t, ec_t&) {
    AppendKey(s);
    return true;
  }
  bool on_key(sv s, std::size_t, ec_t&) {
    AppendKey(s);
    return true;
  }
  bool on_string_part(sv s, std::size_t, ec_t&) {
    str_.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, ec_t&) {
    str_.append(s.data(), s.size());
    std::string* dst = nullptr;
    if (In(Kind::kTop) && KeyIs("id")) {
      dst = &f_.id;
    } else if (In(Kind::kTop) && KeyIs("model")) {
      dst = &f_.model;
    } else if (In(Kind::kMessage) && KeyIs("content")) {
      dst = &f_.content;
    } else if (In(Kind::kChoice0) && KeyIs("finish_reason")) {
      f_.has_finish_reason = true;
      dst = &f_.finish_reason;
    } else {
      Unread();
    }
    if (dst) *dst = std::move(str_);
    str_.clear();
    EndValue();
    return true;
  }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t v, sv, ec_t&) {
    if (In(Kind::kUsage) && KeyIs("prompt_tokens")) {
      f_.prompt_tokens = v;
    } else if (In(Kind::kUsage) && KeyIs("completion_tokens")) {
      f_.completion_tokens = v;
    } else {
      Unread();
    }
    EndValue();
    return true;
  }
  bool on_uint64(std::uint64_t v, sv text, ec_t& ec) {
    if (v <= static_cast<std::uint64_t>(INT64_MAX)) {
      return on_int64(static_cast<std::int64_t>(v), text, ec);
    }
    Unread();
    EndValue();
    return true;
  }
  bool on_double(double, sv, ec_t&) {
    Unread();  // integral doubles as token counts: left to the full parser
    EndValue();
    return true;
  }
  bool on_bool(bool, ec_t&) {
    Unread();
    EndValue();
    return true;
  }
  bool on_null(ec_t&) {
    // null content, finish_reason or usage reads like an absent field, as in the full parser.
    bool absent_ok = (In(Kind::kMessage) && KeyIs("content")) ||
                     (In(Kind::kChoice0) && KeyIs("finish_reason")) ||
                     (In(Kind::kTop) && KeyIs("usage"));
    if (!absent_ok) Unread();
    EndValue();
    return true;
  }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }

 private:
  enum class Kind { kTop, kChoices, kChoice0, kMessage, kUsage, kOther };
  struct Frame {
    Kind kind;
    std::size_t index;  // arrays: the index of the next element
  };
  bool In(Kind k) const { return !stack_.empty() && stack_.back().kind == k; }
  // Compares lengths first: std::string == "literal" (GCC 12) calls memcmp every time, which
  // was 3.5% of the gateway's user-space instructions per request.
  bool KeyIs(std::string_view k) const {
    return key_len_ <= kKeyCapacity && std::string_view(key_, key_len_) == k;
  }
  // Keys are kept in a fixed buffer (no allocation per key): every key the scanner compares is
  // shorter than it, and a longer key only needs to be known as "none of those".
  void AppendKey(sv s) {
    if (key_len_ + s.size() <= kKeyCapacity) std::memcpy(key_ + key_len_, s.data(), s.size());
    key_len_ += s.size();
  }

  // A value ended: the next key starts afresh; in an array the index moves on.
  void EndValue() {
    if (!stack_.empty()) ++stack_.back().index;
    key_len_ = 0;
  }
  // A value the fast pass does not read. Harmless in most places; where the full parser would
  // read it or fail on it, the answer is left to the full parser.
  void Unread() {
    if (stack_.empty()) {
      f_.regular = false;  // the document is not an object
      return;
    }
    switch (stack_.back().kind) {
      case Kind::kTop:
        if (KeyIs("error") || KeyIs("choices") || KeyIs("usage") || KeyIs("id") || KeyIs("model")) {
          f_.regular = false;
        }
        break;
      case Kind::kChoices:
        if (stack_.back().index == 0) f_.regular = false;  // choices[0] is not an object
        break;
      case Kind::kChoice0:
        if (KeyIs("message") || KeyIs("finish_reason")) f_.regular = false;
        break;
      case Kind::kMessage:
        if (KeyIs("content") || KeyIs("tool_calls")) f_.regular = false;
        break;
      case Kind::kUsage:
        if (KeyIs("prompt_tokens") || KeyIs("completion_tokens")) f_.regular = false;
        break;
      case Kind::kOther:
        break;
    }
  }

  static constexpr std::size_t kKeyCapacity = 32;

  CompletionFields& f_;
  boost::container::small_vector<Frame, 8> stack_;  // an answer nests 4 deep; deeper allocates
  char key_[kKeyCapacity];
  std::size_t key_len_ = 0;
  std::string str_;
};

// Reads a chat.completion with CompletionScanner; nullopt when the text is not valid JSON.
std::optional<CompletionFields> ScanCompletion(std::string_view body) {
  CompletionFields f;
  bj::parse_options opts;
  opts.max_depth = 64;
  bj::basic_parser<CompletionScanner> p(opts, f);
  boost::system::error_code ec;
  std::size_t n = p.write_some(false, body.data(), body.size(), ec);
  if (ec || !p.done()) return std::nullopt;
  // write_some stops after the document: anything but whitespace after it is malformed.
  if (body.find_first_not_of(" \t\r\n", n) != std::string_view::npos) return std::nullopt;
  return f;
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
    r.headers.reserve(3);
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
    // Fast path: a plain answer, read without building a DOM.
    if (auto f = ScanCompletion(body); f && f->regular && f->has_choices && f->has_message) {
      ChatResponse r;
      r.id = std::move(f->id);
      r.model = std::move(f->model);
      r.content = std::move(f->content);
      if (f->has_finish_reason) r.finish_reason = std::move(f->finish_reason);
      if (f->has_usage) {
        Usage u;
        u.prompt_tokens = f->prompt_tokens.value_or(0);
        u.completion_tokens = f->completion_tokens.value_or(0);
        r.usage = u;
      }
      return r;
    }
    // Anything else (tool calls, errors, odd shapes): the full parse below decides.
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
