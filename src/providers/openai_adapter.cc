// The OpenAI Chat Completions wire format (also spoken by vLLM, Ollama, LiteLLM, Azure-style
// proxies, ...): POST {base}/chat/completions, answers `chat.completion` objects or, when
// streaming, `chat.completion.chunk` objects as SSE `data:` lines ending with `data: [DONE]`.
#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "core/json.h"
#include "core/json_scan.h"
#include "core/utf8.h"
#include "providers/adapter.h"
#include "providers/openai_adapter_internal.h"
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
  if (const bj::object* d = wire::ObjectField(*u, "prompt_tokens_details")) {
    usage.cached_tokens = wire::IntField(*d, "cached_tokens");
  }
  if (const bj::object* d = wire::ObjectField(*u, "completion_tokens_details")) {
    usage.reasoning_tokens = wire::IntField(*d, "reasoning_tokens");
  }
  return usage;
}

// Reads a plain chat.completion in one pass over the text, straight into a ChatResponse (no DOM:
// building Boost.JSON objects for the whole answer cost more than the rest of the call's JSON
// work, and Boost.JSON's SAX parser still cost ~20 instructions per byte): an object with a
// non-empty `choices` whose first element is an object with a `message` object; id, model,
// content, finish_reason and usage. It validates the whole text as strict
// JSON (RFC 8259: no comments, no trailing commas; UTF-8) and gives up (nullopt) on anything it
// does not read itself: invalid JSON, an `error` member, tool calls, a non-string
// id/model/content/finish_reason, token counts that are not integers, a member it reads given
// twice, escapes it cannot decode (lone surrogates), nesting deeper than 32 levels. The caller then
// parses the answer fully, so errors and rare shapes keep exactly the full parser's behaviour; a
// test compares the two on thousands of mutated answers.
class CompletionScanner : json::ScanCursor {
 public:
  explicit CompletionScanner(std::string_view text) : ScanCursor(text) {}

  std::optional<ChatResponse> Scan() {
    ChatResponse r;
    r_ = &r;
    SkipSpace();
    if (!Top()) return std::nullopt;
    SkipSpace();
    if (!AtEnd()) return std::nullopt;  // only whitespace may follow the document
    if (!has_choices_ || !has_message_) return std::nullopt;
    return r;
  }

 private:
  // Deeper answers are left to the full parser (whose limit is 64); none is this deep.
  static constexpr int kMaxDepth = 32;

  // A member this pass reads, seen a second time in its object: which of the two counts is the
  // full parser's business.
  static bool Again(bool& seen) {
    bool again = seen;
    seen = true;
    return again;
  }

  // Walks the members of an object (the '{' is consumed): `member(key)` reads each value and
  // returns false to give up. Keys are compared as they appear in the text; a key with escapes
  // is decoded first.
  template <class Member>
  bool Members(int depth, Member&& member) {
    if (depth > kMaxDepth) return false;
    if (Eat('}')) return true;
    std::string key_buffer;
    do {
      SkipSpace();
      std::string_view key;
      if (p_ >= end_ || *p_ != '"' || !String(&key, &key_buffer)) return false;
      if (!Eat(':')) return false;
      SkipSpace();
      if (!member(key)) return false;
    } while (Eat(','));
    return Eat('}');
  }
  template <class Element>
  bool Elements(int depth, Element&& element) {
    if (depth > kMaxDepth) return false;
    if (Eat(']')) return true;
    std::size_t index = 0;
    do {
      SkipSpace();
      if (!element(index++)) return false;
    } while (Eat(','));
    return Eat(']');
  }

  // Any value, validated and skipped.
  bool Skip(int depth) {
    if (p_ >= end_) return false;
    switch (*p_) {
      case '{':
        ++p_;
        return Members(depth + 1, [&](std::string_view) { return Skip(depth + 1); });
      case '[':
        ++p_;
        return Elements(depth + 1, [&](std::size_t) { return Skip(depth + 1); });
      case '"':
        return String(nullptr, nullptr);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number(nullptr);
    }
  }

  bool Top() {
    if (!Eat('{')) return false;  // not an object: the full parser says what it is
    bool seen_id = false, seen_model = false, seen_choices = false, seen_usage = false;
    return Members(1, [&](std::string_view key) {
      if (Is(key, "id")) return !Again(seen_id) && StringInto(r_->id);
      if (Is(key, "model")) return !Again(seen_model) && StringInto(r_->model);
      if (Is(key, "choices")) {
        if (Again(seen_choices) || !Eat('[')) return false;
        bool ok = Elements(2, [&](std::size_t i) {
          if (i > 0) return Skip(2);
          has_choices_ = true;
          return Eat('{') && Choice();
        });
        return ok && has_choices_;
      }
      if (Is(key, "usage")) {
        if (Again(seen_usage)) return false;
        if (Literal("null")) return true;  // reads like an absent field
        if (!Eat('{')) return false;
        Usage& usage = r_->usage.emplace();  // counts it does not give are 0
        bool seen_prompt = false, seen_completion = false, seen_pd = false, seen_cd = false;
        // A details object's one count (null or absent: none).
        auto detail = [&](std::string_view name, std::optional<std::int64_t>& out) {
          if (Literal("null")) return true;
          if (!Eat('{')) return false;
          bool seen = false;
          return Members(3, [&](std::string_view k) {
            if (k != name) return Skip(3);
            std::int64_t n = 0;
            if (Again(seen) || !TokenCount(n)) return false;
            out = n;
            return true;
          });
        };
        return Members(2, [&](std::string_view k) {
          if (Is(k, "prompt_tokens")) return !Again(seen_prompt) && TokenCount(usage.prompt_tokens);
          if (Is(k, "completion_tokens")) {
            return !Again(seen_completion) && TokenCount(usage.completion_tokens);
          }
          if (Is(k, "prompt_tokens_details")) {
            return !Again(seen_pd) && detail("cached_tokens", usage.cached_tokens);
          }
          if (Is(k, "completion_tokens_details")) {
            return !Again(seen_cd) && detail("reasoning_tokens", usage.reasoning_tokens);
          }
          return Skip(2);
        });
      }
      if (Is(key, "error")) return false;  // an error inside a 200 answer: the full parser's case
      return Skip(1);
    });
  }

  bool Choice() {  // choices[0], after its '{'
    bool seen_message = false, seen_finish = false;
    return Members(3, [&](std::string_view key) {
      if (Is(key, "message")) {
        if (Again(seen_message) || !Eat('{')) return false;
        has_message_ = true;
        bool seen_content = false;
        return Members(4, [&](std::string_view k) {
          if (Is(k, "content")) {
            return !Again(seen_content) && (Literal("null") || StringInto(r_->content));
          }
          if (Is(k, "tool_calls")) return false;  // tool calls: the full parser's case
          // A refusal, annotations, audio, reasoning: the full parser's case when they say
          // something.
          if (std::find(std::begin(kPassedMessageMembers), std::end(kPassedMessageMembers), k) !=
              std::end(kPassedMessageMembers)) {
            return Literal("null") || Literal("[]") || Literal("\"\"");
          }
          return Skip(4);
        });
      }
      // Log probabilities (asked for with logprobs: true) are the full parser's case.
      if (Is(key, "logprobs")) return Literal("null");
      if (Is(key, "finish_reason")) {
        if (Again(seen_finish)) return false;
        if (Literal("null")) return true;  // the default ("stop") stays
        return StringInto(r_->finish_reason);
      }
      return Skip(3);
    });
  }

  bool StringInto(std::string& out) {
    if (p_ >= end_ || *p_ != '"') return false;
    std::string_view v;
    std::string buffer;
    if (!String(&v, &buffer)) return false;
    if (!v.empty() && v.data() == buffer.data()) {
      out = std::move(buffer);  // decoded (it had escapes): taken, not copied
    } else {
      out.assign(v.data(), v.size());
    }
    return true;
  }

  // A token count: an integer that fits int64 (a fraction or exponent, as some servers send,
  // is left to the full parser).
  bool TokenCount(std::int64_t& out) { return Number(&out); }

  // A JSON number (validated). With `out`, it must be an integer of at most 18 digits, whose
  // value is stored there.
  bool Number(std::int64_t* out) {
    std::string_view text, digits;
    bool integral;
    if (!NumberText(text, digits, integral)) return false;
    if (!out) return true;
    if (!integral || digits.size() > 18) return false;
    std::int64_t v = 0;
    for (char d : digits) v = v * 10 + (d - '0');
    *out = text.front() == '-' ? -v : v;
    return true;
  }

  // A string at p_ (its opening quote). With `out`, its decoded text: a view into the answer
  // when it has no escapes (UTF-8 text included), else decoded into `buffer`. Checks UTF-8 and
  // refuses raw control characters, as JSON requires. Bytes between escapes are copied in runs.
  bool String(std::string_view* out, std::string* buffer) {
    // Most strings of an answer (every member name) are printable ASCII to their closing quote:
    // found with one skip, here; the rest takes the general loop, out of line (its frame cost
    // every string as much as the skip).
    const unsigned char* q = json::SkipPlainAscii(p_ + 1, end_);
    if (q < end_ && *q == '"') {
      if (out) *out = View(p_ + 1, q);
      p_ = q + 1;
      return true;
    }
    return AnyString(out, buffer);
  }
  [[gnu::noinline]] bool AnyString(std::string_view* out, std::string* buffer) {
    const unsigned char* start = p_ + 1;  // after the opening quote
    const unsigned char* run = start;     // the bytes from here on are copied as they are
    bool escaped = false;
    p_ = start;
    for (;;) {
      p_ = json::SkipPlainAscii(p_, end_);  // printable ASCII
      if (p_ >= end_) return false;         // no closing quote
      unsigned char c = *p_;
      if (c >= 0x80) {
        std::size_t n = utf8::SequenceLength(p_, end_);
        if (n == 0) return false;
        p_ += n;
        continue;
      }
      auto text = [](const unsigned char* from, const unsigned char* to) {
        return std::string_view(reinterpret_cast<const char*>(from),
                                static_cast<std::size_t>(to - from));
      };
      if (c == '"') {
        if (out && !escaped) *out = text(start, p_);
        if (out && escaped) {
          buffer->append(text(run, p_));
          *out = *buffer;
        }
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      // A backslash: what came before it is copied, the escape decoded.
      if (buffer) {
        if (escaped) {
          buffer->append(text(run, p_));
        } else {
          // At most the rest of the answer: one allocation for the decoded text (up to 64 KiB;
          // beyond, the buffer grows as it fills, not to the size of a large answer at once).
          buffer->reserve(std::min<std::size_t>(static_cast<std::size_t>(end_ - start), 64 * 1024));
          buffer->assign(text(run, p_));
        }
      }
      escaped = true;
      if (!Escape(buffer)) return false;
      run = p_;
    }
  }

  static int Hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Hex4(std::uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = Hex(p_[i]);
      if (h < 0) return false;
      v = (v << 4) | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  // An escape at p_ (its backslash), decoded onto `buffer` when there is one.
  bool Escape(std::string* buffer) {
    if (end_ - p_ < 2) return false;
    unsigned char e = p_[1];
    p_ += 2;
    char plain;
    switch (e) {
      case '"':
        plain = '"';
        break;
      case '\\':
        plain = '\\';
        break;
      case '/':
        plain = '/';
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        std::uint32_t cp;
        if (!Hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone trailing surrogate
        if (cp >= 0xD800 && cp <= 0xDBFF) {              // needs its trailing half
          std::uint32_t low;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (buffer) AppendUtf8(*buffer, cp);
        return true;
      }
      default:
        return false;
    }
    if (buffer) *buffer += plain;
    return true;
  }

  static void AppendUtf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  ChatResponse* r_ = nullptr;
  bool has_choices_ = false;
  bool has_message_ = false;
};

}  // namespace

namespace openai_internal {

std::optional<ChatResponse> ParseChatFast(std::string_view body) {
  return CompletionScanner(body).Scan();
}

std::variant<ChatResponse, UpstreamFailure> ParseChatFull(int status, std::string_view body) {
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
  // Assigned, not constructed from the parsed object: a copy-constructed value would share the
  // parse's stack arena (boost::json copies keep the source's memory resource).
  if (const bj::object* lp = wire::ObjectField(choice, "logprobs")) {
    r.logprobs.emplace();
    *r.logprobs = *lp;
  }
  for (std::string_view key : kPassedMessageMembers) {
    const bj::value* v = message->if_contains(key);
    if (!v || v->is_null() || (v->is_array() && v->get_array().empty()) ||
        (v->is_string() && v->get_string().empty())) {
      continue;
    }
    if (!r.message_extra) r.message_extra.emplace();
    (*r.message_extra)[key] = *v;
  }
  r.usage = ParseUsage(*o);
  return r;
}

}  // namespace openai_internal

namespace {

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
            const bj::object* logprobs = wire::ObjectField(c, "logprobs");
            const bj::string* refusal = wire::StringField(*delta, "refusal");
            std::string_view reasoning_field = "reasoning_content";
            const bj::string* reasoning = wire::StringField(*delta, reasoning_field);
            if (!reasoning) {
              reasoning_field = "reasoning";
              reasoning = wire::StringField(*delta, reasoning_field);
            }
            const bj::array* blocks = wire::ArrayField(*delta, "thinking_blocks");
            if (content || has_tools || logprobs || refusal || reasoning || blocks ||
                delta->contains("role")) {
              StreamEvent ev;
              if (content) ev.text = std::string(*content);
              if (refusal) ev.refusal = std::string(*refusal);
              if (reasoning) {
                ev.reasoning = std::string(*reasoning);
                ev.reasoning_field = reasoning_field;
              }
              if (blocks && !blocks->empty()) ev.thinking_blocks = *blocks;
              if (has_tools) ev.tool_calls = tc->value();
              if (logprobs) ev.logprobs = *logprobs;
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
    body.reserve(256 + req.model.size() +
                 (req.messages_text.empty() ? 96 * req.messages.size() : req.messages_text.size()));
    body += "{\"model\":";
    json::AppendString(body, req.model);
    body += ",\"messages\":";
    if (!req.messages_text.empty()) {
      body += req.messages_text;  // as the client sent them (validated by the gateway)
    } else {
      json::AppendValue(body, req.messages);
    }
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
    if (auto r = openai_internal::ParseChatFast(body)) return *std::move(r);
    // Anything else (tool calls, errors, odd shapes): the full parse decides.
    return openai_internal::ParseChatFull(status, body);
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
