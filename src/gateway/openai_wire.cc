#include "gateway/openai_wire.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>

#include "core/json.h"
#include "core/json_scan.h"

namespace promptops::gateway {

namespace bj = boost::json;

Result<ModelRef> ParseModelRef(std::string_view model) {
  ModelRef r;
  if (model.empty()) return Error::InvalidArgument("field 'model' is required");
  constexpr std::string_view kPrefix = "prompt:";
  if (model.substr(0, kPrefix.size()) == kPrefix) {
    r.is_prompt = true;
    auto ref = registry::ParsePromptRef(model.substr(kPrefix.size()));
    if (!ref.ok()) {
      return Error::InvalidArgument("model '" + std::string(model) + "': " + ref.error().message);
    }
    r.prompt = std::move(ref).value();
    if (!r.prompt.label && !r.prompt.version) r.prompt.label = "production";
    return r;
  }
  if (model.size() > 256) return Error::InvalidArgument("field 'model' is too long");
  r.model = std::string(model);
  return r;
}

namespace {

// Fields a client may never set: where to connect and with which credentials.
constexpr std::string_view kForbidden[] = {"api_base",
                                           "base_url",
                                           "api_key",
                                           "api_version",
                                           "organization",
                                           "azure_endpoint",
                                           "custom_llm_provider",
                                           "headers",
                                           "extra_headers"};

// Parameters the gateway understands itself; everything else goes to `extra`.
constexpr std::string_view kKnown[] = {"model",
                                       "messages",
                                       "variables",
                                       "metadata",
                                       "user",
                                       "stream",
                                       "stream_options",
                                       "temperature",
                                       "top_p",
                                       "max_tokens",
                                       "max_completion_tokens",
                                       "stop",
                                       "seed"};

// The position of a known field in kKnown, at compile time (a typo does not compile).
consteval std::size_t KnownIndex(std::string_view key) {
  for (std::size_t i = 0; i < std::size(kKnown); ++i) {
    if (kKnown[i] == key) return i;
  }
  throw "not a known field";
}

Status ValidateMessages(const bj::array& msgs) {
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    // Built only for an error: this runs for every message of every request.
    auto where = [i] { return "messages[" + std::to_string(i) + "]"; };
    if (!msgs[i].is_object()) return Error::InvalidArgument(where() + " must be an object");
    const auto& m = msgs[i].as_object();
    auto role = m.find("role");
    if (role == m.end() || !role->value().is_string()) {
      return Error::InvalidArgument(where() + ".role is required");
    }
    std::string_view r = role->value().as_string();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      return Error::InvalidArgument(where() +
                                    ".role must be system, developer, user, assistant or tool");
    }
    auto content = m.find("content");
    bool has_tool_calls = m.contains("tool_calls");
    if (content == m.end() || content->value().is_null()) {
      if (!(r == "assistant" && has_tool_calls)) {
        return Error::InvalidArgument(where() + ".content is required");
      }
    } else if (!content->value().is_string() && !content->value().is_array()) {
      return Error::InvalidArgument(where() + ".content must be a string or an array of parts");
    }
  }
  return OkStatus();
}

// The fast pass over an inbound request (see ParseChatRequestFast in openai_wire.h). Reads the
// text once; gives up (nullopt) at anything outside its shape, and the full parse then decides.
class RequestScanner : json::ScanCursor {
 public:
  explicit RequestScanner(std::string_view text) : ScanCursor(text) {}

  // Fills `c` (a default one) and returns true, or returns false with `c` in no useful state.
  bool Scan(InboundChat& c) {
    unsigned seen = 0;  // one bit per member: a repeated one is the full parse's case
    if (!Eat('{')) return false;
    if (Eat('}')) return false;  // no model: an error, worded by the full parse
    do {
      std::string_view key;
      SkipSpace();
      if (!PlainString(key) || !Eat(':')) return false;
      SkipSpace();
      int bit;
      bool ok;
      if (Is(key, "model")) {
        bit = 0;
        std::string_view v;
        ok = PlainString(v);
        c.model.assign(v);
      } else if (Is(key, "messages")) {
        bit = 1;
        ok = Messages(c.messages_text);
      } else if (Is(key, "stream")) {
        bit = 2;
        ok = Bool(c.stream);
      } else if (Is(key, "temperature")) {
        bit = 3;
        double t = 0;
        ok = Double(t);
        c.temperature = t;
      } else if (Is(key, "max_tokens")) {
        bit = 4;
        std::int64_t n = 0;
        ok = Int(n);
        c.max_tokens = n;
      } else if (Is(key, "user")) {
        bit = 5;
        std::string_view v;
        ok = PlainString(v);
        c.user.assign(v);
      } else {
        return false;
      }
      if (!ok || (seen & (1u << bit))) return false;
      seen |= 1u << bit;
    } while (Eat(','));
    if (!Eat('}')) return false;
    SkipSpace();
    if (!AtEnd()) return false;
    // What the full parse would refuse (it words the error) or treat specially.
    if (!(seen & 1u) || c.messages_text.empty()) return false;
    if (c.temperature && (*c.temperature < 0 || *c.temperature > 2)) return false;
    if (c.max_tokens && *c.max_tokens < 1) return false;
    auto ref = ParseModelRef(c.model);
    if (!ref.ok()) return false;
    c.ref = std::move(ref).value();
    return true;
  }

 private:
  bool Bool(bool& out) {
    if (Literal("true")) return out = true, true;
    if (Literal("false")) return out = false, true;
    return false;
  }
  // Short decimals only (what clients send): longer ones are left to the full parse, whose
  // rounding is the reference.
  bool Double(double& out) {
    std::string_view t, digits;
    bool integral;
    if (!NumberText(t, digits, integral) || t.size() > 12) return false;
    auto r = std::from_chars(t.data(), t.data() + t.size(), out);
    return r.ec == std::errc() && r.ptr == t.data() + t.size();
  }
  bool Int(std::int64_t& out) {
    std::string_view t, digits;
    bool integral;
    if (!NumberText(t, digits, integral) || !integral || t.size() > 18) return false;
    auto r = std::from_chars(t.data(), t.data() + t.size(), out);
    return r.ec == std::errc() && r.ptr == t.data() + t.size();
  }
  // [{"role": "...", "content": "..."}, ...]: string roles and contents only, each once, in
  // either order, and a role the full parse accepts. Checked, not built: `text` is the array's
  // JSON text (empty when it has no message).
  bool Messages(std::string_view& text) {
    SkipSpace();
    const unsigned char* start = p_;
    if (!Eat('[')) return false;
    if (Eat(']')) return true;
    do {
      if (!Eat('{')) return false;
      std::string_view role;
      bool has_role = false, has_content = false;
      do {
        std::string_view key, value;
        SkipSpace();
        if (!PlainString(key) || !Eat(':')) return false;
        SkipSpace();
        if (!PlainString(value)) return false;
        if (Is(key, "role") && !has_role) {
          has_role = true;
          role = value;
        } else if (Is(key, "content") && !has_content) {
          has_content = true;
        } else {
          return false;
        }
      } while (Eat(','));
      if (!Eat('}') || !has_role || !has_content) return false;
      if (!Is(role, "system") && !Is(role, "user") && !Is(role, "assistant") &&
          !Is(role, "developer")) {
        return false;
      }
    } while (Eat(','));
    if (!Eat(']')) return false;
    text = View(start, p_);
    return true;
  }
};

}  // namespace

std::optional<InboundChat> ParseChatRequestFast(std::string_view body) {
  std::optional<InboundChat> out(std::in_place);
  if (!RequestScanner(body).Scan(*out)) out.reset();
  return out;
}

bj::array& MessagesOf(InboundChat& c) {
  providers::TakeMessagesText(c.messages_text, c.messages);
  return c.messages;
}

Result<InboundChat> ParseChatRequest(std::string_view body) {
  // Filled in place and returned by name (one InboundChat, not moved through an optional).
  Result<InboundChat> out{InboundChat()};
  if (!RequestScanner(body).Scan(*out)) out = ParseChatRequestFull(body);
  return out;
}

Result<InboundChat> ParseChatRequestFull(std::string_view body) {
  PO_ASSIGN_OR_RETURN(bj::object o, json::ParseObject(body));
  // One pass over the body's fields (a lookup per field name cost more than the rest): refuse a
  // forbidden one, note where each known one is, and whether any is not ours (kept as extra
  // parameters below). Keys are unique (the parser keeps the last of duplicates).
  bj::value* field[std::size(kKnown)] = {};
  bool has_unknown = false;
  for (auto& kv : o) {
    std::string_view key(kv.key().data(), kv.key().size());
    auto known = std::find(std::begin(kKnown), std::end(kKnown), key);
    if (known != std::end(kKnown)) {
      field[known - std::begin(kKnown)] = &kv.value();
      continue;
    }
    if (std::find(std::begin(kForbidden), std::end(kForbidden), key) != std::end(kForbidden)) {
      return Error::InvalidArgument("field '" + std::string(key) +
                                    "' is not allowed: upstreams and their keys come from the "
                                    "gateway's configuration");
    }
    has_unknown = true;
  }
  InboundChat c;
  PO_ASSIGN_OR_RETURN(c.model, json::RequireString(field[KnownIndex("model")], "model"));
  PO_ASSIGN_OR_RETURN(c.ref, ParseModelRef(c.model));
  PO_ASSIGN_OR_RETURN(const bj::array* msgs,
                      json::OptArray(field[KnownIndex("messages")], "messages"));
  // Moved, not copied: `o` is ours (same memory resource, so the move takes the elements).
  if (msgs) c.messages = std::move(field[KnownIndex("messages")]->get_array());
  if (c.messages.empty() && !c.ref.is_prompt) {
    return Error::InvalidArgument("field 'messages' must be a non-empty array");
  }
  PO_RETURN_IF_ERROR(ValidateMessages(c.messages));
  PO_ASSIGN_OR_RETURN(const bj::object* vars,
                      json::OptObject(field[KnownIndex("variables")], "variables"));
  if (vars) c.variables = std::move(field[KnownIndex("variables")]->get_object());
  PO_ASSIGN_OR_RETURN(const bj::object* meta,
                      json::OptObject(field[KnownIndex("metadata")], "metadata"));
  if (meta) c.metadata = std::move(field[KnownIndex("metadata")]->get_object());
  PO_ASSIGN_OR_RETURN(auto user, json::OptString(field[KnownIndex("user")], "user"));
  c.user = user.value_or("");
  PO_ASSIGN_OR_RETURN(auto stream, json::OptBool(field[KnownIndex("stream")], "stream"));
  c.stream = stream.value_or(false);
  PO_ASSIGN_OR_RETURN(const bj::object* so,
                      json::OptObject(field[KnownIndex("stream_options")], "stream_options"));
  if (so) {
    PO_ASSIGN_OR_RETURN(auto inc, json::OptBool(*so, "include_usage"));
    c.include_usage = inc.value_or(false);
  }
  PO_ASSIGN_OR_RETURN(c.temperature,
                      json::OptDouble(field[KnownIndex("temperature")], "temperature"));
  if (c.temperature && (*c.temperature < 0 || *c.temperature > 2)) {
    return Error::InvalidArgument("field 'temperature' must be between 0 and 2");
  }
  PO_ASSIGN_OR_RETURN(c.top_p, json::OptDouble(field[KnownIndex("top_p")], "top_p"));
  PO_ASSIGN_OR_RETURN(c.max_tokens, json::OptInt(field[KnownIndex("max_tokens")], "max_tokens"));
  PO_ASSIGN_OR_RETURN(auto max_completion, json::OptInt(field[KnownIndex("max_completion_tokens")],
                                                        "max_completion_tokens"));
  if (max_completion) c.max_tokens = max_completion;
  if (c.max_tokens && *c.max_tokens < 1) {
    return Error::InvalidArgument("field 'max_tokens' must be a positive integer");
  }
  PO_ASSIGN_OR_RETURN(c.seed, json::OptInt(field[KnownIndex("seed")], "seed"));
  if (const bj::value* stop = field[KnownIndex("stop")]; stop && !stop->is_null()) {
    if (stop->is_string()) {
      c.stop.emplace_back(stop->get_string());
    } else if (stop->is_array()) {
      for (const auto& s : stop->get_array()) {
        if (!s.is_string())
          return Error::InvalidArgument("field 'stop' must be a string or an array of strings");
        c.stop.emplace_back(s.get_string());
      }
    } else {
      return Error::InvalidArgument("field 'stop' must be a string or an array of strings");
    }
  }
  if (has_unknown) {
    for (auto& kv : o) {
      std::string_view key(kv.key().data(), kv.key().size());
      if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
        // Answers carry one choice: more would be asked for (and paid) but never returned.
        if (key == "n" && !kv.value().is_null() &&
            !(kv.value().is_number() && kv.value().to_number<double>() == 1)) {
          return Error::InvalidArgument(
              "field 'n' must be 1: the gateway returns one choice per call");
        }
        c.extra[kv.key()] = std::move(kv.value());
      }
    }
  }
  return c;
}

namespace {

// `{"id":…,"object":…,"created":…,"model":…` (the object stays open), shared by both shapes.
void AppendObjectHead(std::string& out, std::string_view id, std::string_view object,
                      std::int64_t created, std::string_view model) {
  out += "{\"id\":";
  json::AppendString(out, id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":";
  json::AppendInt(out, created);
  out += ",\"model\":";
  json::AppendString(out, model);
}

// The value, or null when there is none.
void AppendValueOrNull(std::string& out, const bj::value* v) {
  if (v) {
    json::AppendValue(out, *v);
  } else {
    out += "null";
  }
}

// `,"usage":{"prompt_tokens":…,"completion_tokens":…,"total_tokens":…}`.
void AppendUsage(std::string& out, const providers::Usage& usage) {
  out += ",\"usage\":{\"prompt_tokens\":";
  json::AppendInt(out, usage.prompt_tokens);
  out += ",\"completion_tokens\":";
  json::AppendInt(out, usage.completion_tokens);
  out += ",\"total_tokens\":";
  json::AppendInt(out, usage.prompt_tokens + usage.completion_tokens);
  if (usage.cached_tokens) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    json::AppendInt(out, *usage.cached_tokens);
    out += '}';
  }
  if (usage.reasoning_tokens) {
    out += ",\"completion_tokens_details\":{\"reasoning_tokens\":";
    json::AppendInt(out, *usage.reasoning_tokens);
    out += '}';
  }
  out += '}';
}

}  // namespace

// Written by hand rather than through boost::json: it is on every non-streamed answer, and
// building the object first cost ~20 allocations.
std::string CompletionJson(std::string_view id, std::int64_t created, std::string_view model,
                           const providers::ChatResponse& r, const providers::Usage& usage) {
  std::string out;
  out.reserve(256 + id.size() + model.size() + r.content.size());
  AppendObjectHead(out, id, "chat.completion", created, model);
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  if (r.content.empty() &&
      (!r.tool_calls.is_null() || (r.message_extra && r.message_extra->contains("refusal")))) {
    out += "null";  // tool calls or a refusal only, as OpenAI answers them
  } else {
    json::AppendString(out, r.content);
  }
  if (!r.tool_calls.is_null()) {
    out += ",\"tool_calls\":";
    json::AppendValue(out, r.tool_calls);
  }
  if (r.message_extra) {
    for (const auto& kv : *r.message_extra) {
      out += ',';
      json::AppendString(out, std::string_view(kv.key().data(), kv.key().size()));
      out += ':';
      json::AppendValue(out, kv.value());
    }
  }
  out += "},\"logprobs\":";
  AppendValueOrNull(out, r.logprobs ? &*r.logprobs : nullptr);
  out += ",\"finish_reason\":";
  json::AppendString(out, r.finish_reason);
  out += "}]";
  AppendUsage(out, usage);
  out += '}';
  return out;
}

// Written by hand rather than through boost::json: one chunk per streamed token makes this the
// hottest serializer of the gateway.
DeltaExtras DeltaExtras::Of(const providers::StreamEvent& piece) {
  auto non_empty = [](const bj::value& v) {
    return v.is_array() && !v.get_array().empty() ? &v : nullptr;
  };
  DeltaExtras x;
  x.tool_calls = non_empty(piece.tool_calls);
  x.logprobs = piece.logprobs.is_object() ? &piece.logprobs : nullptr;
  x.refusal = piece.refusal;
  x.reasoning = piece.reasoning;
  x.reasoning_field = piece.reasoning_field;
  x.thinking_blocks = non_empty(piece.thinking_blocks);
  return x;
}

std::string ChunkJson(std::string_view id, std::int64_t created, std::string_view model,
                      std::optional<std::string_view> role, std::optional<std::string_view> text,
                      std::optional<std::string_view> finish_reason, const providers::Usage* usage,
                      const DeltaExtras& extras) {
  std::string out;
  out.reserve(160 + id.size() + model.size() + (text ? text->size() + 16 : 0) +
              extras.reasoning.size());
  AppendObjectHead(out, id, "chat.completion.chunk", created, model);
  if (usage) {
    out += ",\"choices\":[]";
    AppendUsage(out, *usage);
    out += '}';
    return out;
  }
  out += ",\"choices\":[{\"index\":0,\"delta\":{";
  bool first = true;
  auto member = [&](std::string_view key) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += key;  // the callers' keys need no escaping
    out += "\":";
  };
  if (role) {
    member("role");
    json::AppendString(out, *role);
  }
  if (!extras.reasoning.empty()) {
    member(extras.reasoning_field);
    json::AppendString(out, extras.reasoning);
  }
  if (extras.thinking_blocks) {
    member("thinking_blocks");
    json::AppendValue(out, *extras.thinking_blocks);
  }
  if (text) {
    member("content");
    json::AppendString(out, *text);
  }
  if (extras.tool_calls) {
    member("tool_calls");
    json::AppendValue(out, *extras.tool_calls);
  }
  if (!extras.refusal.empty()) {
    member("refusal");
    json::AppendString(out, extras.refusal);
  }
  out += "},\"logprobs\":";
  AppendValueOrNull(out, extras.logprobs);
  out += ",\"finish_reason\":";
  if (finish_reason) {
    json::AppendString(out, *finish_reason);
  } else {
    out += "null";
  }
  out += "}]}";
  return out;
}

WireError OpenAiError(const Error& e, std::string_view code) {
  std::string_view type = "invalid_request_error";
  switch (e.code) {
    case ErrorCode::kUnauthenticated:
      type = "authentication_error";
      break;
    case ErrorCode::kPermissionDenied:
      type = "permission_error";
      break;
    case ErrorCode::kNotFound:
      type = "invalid_request_error";
      break;
    case ErrorCode::kRateLimited:
      type = "rate_limit_error";
      break;
    case ErrorCode::kInternal:
    case ErrorCode::kUpstreamError:
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      type = "api_error";
      break;
    default:
      break;
  }
  bj::object err{{"message", e.message},
                 {"type", type},
                 {"param", nullptr},
                 {"code", code.empty() ? bj::value(ErrorCodeName(e.code)) : bj::value(code)}};
  return {HttpStatusFor(e.code), bj::serialize(bj::object{{"error", std::move(err)}})};
}

}  // namespace promptops::gateway
