#include "providers/simulated.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "providers/adapter.h"
#include "providers/wire_util.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same output everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  std::size_t Below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(Next() % n); }
  // Standard normal (Box-Muller).
  double Normal() {
    double u1 = Uniform();
    double u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::uint64_t state_;
};

// FNV-1a 64, folding the inputs of the seed.
class Fnv {
 public:
  void Add(std::string_view s) {
    for (unsigned char c : s) {
      h_ ^= c;
      h_ *= 0x100000001B3ULL;
    }
    Add(std::uint64_t{0xFF});  // separator: ("ab","c") != ("a","bc")
  }
  void Add(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (8 * i)) & 0xFF;
      h_ *= 0x100000001B3ULL;
    }
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xCBF29CE484222325ULL;
};

constexpr double kZ99 = 2.3263478740408408;  // the standard normal's 99th percentile

// A log-normal draw with the given median and 99th percentile, in microseconds.
std::chrono::microseconds LogNormal(Rng& rng, std::chrono::microseconds median,
                                    std::chrono::microseconds p99) {
  double m = std::max<double>(1.0, static_cast<double>(median.count()));
  double q = std::max<double>(m, static_cast<double>(p99.count()));
  double sigma = (std::log(q) - std::log(m)) / kZ99;
  double v = std::exp(std::log(m) + sigma * rng.Normal());
  v = std::min(v, 3.6e9);  // an hour: a draw far in the tail stays a sane timer
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(v)));
}

constexpr std::string_view kFiller[] = {
    "lorem",  "ipsum", "dolor",   "sit",     "amet",    "consectetur", "adipiscing", "elit",
    "sed",    "do",    "eiusmod", "tempor",  "magna",   "aliqua",      "enim",       "minim",
    "veniam", "quis",  "nostrud", "ullamco", "laboris", "nisi",        "aliquip",    "commodo",
    "duis",   "aute",  "irure",   "velit",   "esse",    "cillum",      "fugiat",     "nulla",
};

// Text of a message's content: a string, or the concatenated text parts of an array.
std::string MessageText(const bj::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (const bj::array* parts = content.if_array()) {
    for (const bj::value& p : *parts) {
      const bj::object* o = p.if_object();
      if (!o) continue;
      auto t = o->find("text");
      if (t != o->end() && t->value().is_string()) out += t->value().get_string();
    }
  }
  return out;
}

std::vector<std::string> SplitWords(std::string_view s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

// The function the tool rule calls, if it applies: its name and parameters schema.
struct ToolPick {
  std::string name;
  const bj::object* parameters = nullptr;
};
std::optional<ToolPick> PickTool(const ChatRequest& req) {
  const bj::array* tools = wire::ArrayField(req.extra, "tools");
  if (!tools) return std::nullopt;
  const bj::value* choice = req.extra.if_contains("tool_choice");
  if (choice && choice->is_string() && choice->get_string() == "none") return std::nullopt;
  std::string_view wanted;
  const bj::object* chosen = choice ? choice->if_object() : nullptr;
  const bj::object* chosen_fn = chosen ? wire::ObjectField(*chosen, "function") : nullptr;
  if (const bj::string* n = chosen_fn ? wire::StringField(*chosen_fn, "name") : nullptr)
    wanted = *n;
  std::optional<ToolPick> first;
  for (const bj::value& t : *tools) {
    const bj::object* tool = t.if_object();
    const bj::object* fn = tool ? wire::ObjectField(*tool, "function") : nullptr;
    const bj::string* name = fn ? wire::StringField(*fn, "name") : nullptr;
    if (!name) continue;
    ToolPick pick{std::string(*name), wire::ObjectField(*fn, "parameters")};
    if (wanted.empty() || pick.name == wanted) return pick;
    if (!first) first = std::move(pick);
  }
  return first;
}

// The JSON answer a response_format asks for: none, any object (json_object), or an object of
// a schema (json_schema whose schema is an object).
struct JsonFormat {
  bool json = false;
  const bj::object* schema = nullptr;  // json_schema's, else null
};
JsonFormat JsonFormatOf(const ChatRequest& req) {
  JsonFormat f;
  const bj::object* o = wire::ObjectField(req.extra, "response_format");
  const bj::string* type = o ? wire::StringField(*o, "type") : nullptr;
  if (!type) return f;
  if (*type == "json_object") f.json = true;
  if (*type == "json_schema") {
    const bj::object* js = wire::ObjectField(*o, "json_schema");
    f.schema = js ? wire::ObjectField(*js, "schema") : nullptr;
    f.json = f.schema != nullptr;
  }
  return f;
}

// The arguments of the tool rule's call, and the object of the JSON rule (see simulated.h).
bj::object ToolArguments(const bj::object* params, const std::string& text, Rng& rng) {
  bj::object args;
  const bj::value* props_value = params ? params->if_contains("properties") : nullptr;
  const bj::object* props = props_value ? props_value->if_object() : nullptr;
  std::vector<std::string> keys;
  if (const bj::value* req = params ? params->if_contains("required") : nullptr;
      req && req->is_array()) {
    for (const bj::value& k : req->get_array()) {
      if (k.is_string()) keys.emplace_back(k.get_string());
    }
  }
  if (keys.empty() && props) {
    for (const auto& kv : *props) keys.emplace_back(kv.key());
  }
  for (const std::string& key : keys) {
    const bj::value* schema_value = props ? props->if_contains(key) : nullptr;
    const bj::object* schema = schema_value ? schema_value->if_object() : nullptr;
    const bj::value* e = schema ? schema->if_contains("enum") : nullptr;
    if (e && e->is_array() && !e->get_array().empty()) {
      args[key] = e->get_array()[0];
      continue;
    }
    std::string_view type = "string";
    if (const bj::value* t = schema ? schema->if_contains("type") : nullptr) {
      if (t->is_string()) type = t->get_string();
      if (t->is_array()) {  // e.g. ["string", "null"]: the first that is not null
        for (const bj::value& x : t->get_array()) {
          if (x.is_string() && x.get_string() != "null") {
            type = x.get_string();
            break;
          }
        }
      }
    }
    if (type == "integer" || type == "number") {
      args[key] = static_cast<std::int64_t>(rng.Below(100));
    } else if (type == "boolean") {
      args[key] = true;
    } else if (type == "array") {
      args[key] = bj::array();
    } else if (type == "object") {
      args[key] = bj::object();
    } else if (type == "null") {
      args[key] = nullptr;
    } else {
      args[key] = text;
    }
  }
  return args;
}

// `json` in up to `n` pieces, cut only before ASCII bytes (never inside a UTF-8 sequence).
std::vector<std::string> Pieces(const std::string& json, std::size_t n) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t k = 1; k < n; ++k) {
    std::size_t cut = std::max(start, json.size() * k / n);
    while (cut < json.size() && (static_cast<unsigned char>(json[cut]) & 0xC0) == 0x80) ++cut;
    if (cut <= start || cut >= json.size()) continue;
    out.push_back(json.substr(start, cut - start));
    start = cut;
  }
  out.push_back(json.substr(start));
  return out;
}

bool KnownErrorKind(std::string_view k) {
  if (k == "timeout" || k == "connect" || k == "stream") return true;
  if (k.size() != 3) return false;
  for (char c : k) {
    if (c < '0' || c > '9') return false;
  }
  int s = std::stoi(std::string(k));
  return s >= 400 && s <= 599;
}

}  // namespace

Status ValidateSimulatedConfig(const SimulatedConfig& cfg) {
  if (cfg.latency_median.count() < 0 || cfg.latency_p99 < cfg.latency_median) {
    return Error::InvalidArgument("simulated.latency_p99 must be >= simulated.latency_median >= 0");
  }
  if (cfg.ttft_median.count() < 0 || cfg.ttft_p99 < cfg.ttft_median) {
    return Error::InvalidArgument("simulated.ttft_p99 must be >= simulated.ttft_median >= 0");
  }
  if (!(cfg.tokens_per_second > 0) || !std::isfinite(cfg.tokens_per_second)) {
    return Error::InvalidArgument("simulated.tokens_per_second must be > 0");
  }
  if (!(cfg.error_rate >= 0 && cfg.error_rate <= 1)) {
    return Error::InvalidArgument("simulated.error_rate must be in [0, 1]");
  }
  if (cfg.error_rate > 0 && cfg.error_kinds.empty()) {
    return Error::InvalidArgument("simulated.error_kinds must not be empty when error_rate > 0");
  }
  for (const auto& k : cfg.error_kinds) {
    if (!KnownErrorKind(k)) {
      return Error::InvalidArgument("simulated.error_kinds: unknown kind '" + k +
                                    "' (use an HTTP status 400..599, timeout, connect or stream)");
    }
  }
  if (cfg.max_tokens_default < 1) {
    return Error::InvalidArgument("simulated.max_tokens_default must be >= 1");
  }
  return OkStatus();
}

namespace {
std::string Joined(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += t;
  return s;
}
}  // namespace

std::string SimulatedPlan::Content() const { return Joined(tokens); }
std::string SimulatedPlan::Reasoning() const { return Joined(reasoning_tokens); }

namespace {

// The reasoning rule's length for the request's reasoning_effort: 0 when it does not apply.
std::size_t ReasoningLength(const ChatRequest& req) {
  const bj::string* effort = wire::StringField(req.extra, "reasoning_effort");
  if (!effort || *effort == "none") return 0;
  const bj::string& e = *effort;
  if (e == "minimal") return 8;
  if (e == "low") return 16;
  if (e == "high") return 64;
  return 32;
}

}  // namespace

SimulatedPlan PlanSimulated(const SimulatedConfig& cfg, const ChatRequest& req) {
  Fnv fnv;
  fnv.Add(cfg.seed);
  fnv.Add(static_cast<std::uint64_t>(req.seed.value_or(0)));
  fnv.Add(std::uint64_t{req.seed.has_value()});
  fnv.Add(req.model);
  fnv.Add(static_cast<std::uint64_t>(req.max_tokens.value_or(-1)));
  for (const auto& s : req.stop) fnv.Add(s);
  fnv.Add(bj::serialize(req.Messages()));
  std::optional<ToolPick> tool = PickTool(req);
  JsonFormat format = JsonFormatOf(req);
  // Only then: the plans of other requests stay as they were.
  if (tool || format.json) fnv.Add(bj::serialize(req.extra));
  // Not the stream flag: a streamed and a plain call of the same request give the same answer.
  Rng rng(fnv.value());

  SimulatedPlan plan;

  // The answer.
  std::string last_user;
  bool found = false;
  bool user_last = false;  // the last message is the user's (the tool rule's condition)
  const bj::array& messages = req.Messages();
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    const bj::object* m = it->if_object();
    if (!m) continue;
    auto role = m->find("role");
    if (role == m->end() || !role->value().is_string() || role->value().get_string() != "user") {
      continue;
    }
    auto content = m->find("content");
    if (content != m->end()) last_user = MessageText(content->value());
    found = true;
    user_last = it == messages.rbegin();
    break;
  }
  std::vector<std::string> words = SplitWords(last_user);
  std::vector<std::string> answer = {"Simulated", "answer", "to:"};
  if (!found || words.empty()) {
    answer.emplace_back("(empty)");
  } else {
    for (std::size_t i = 0; i < words.size() && i < 12; ++i) answer.push_back(words[i]);
    if (words.size() > 12) answer.emplace_back("...");
  }
  std::int64_t max_tokens = std::max<std::int64_t>(
      1, std::min<std::int64_t>(req.max_tokens.value_or(cfg.max_tokens_default), 1 << 20));
  auto limit = static_cast<std::size_t>(max_tokens);
  if (answer.size() > limit) {
    answer.resize(limit);
    plan.finish_reason = "length";
  }
  while (answer.size() < limit) {
    answer.emplace_back(kFiller[rng.Below(std::size(kFiller))]);
  }
  // The first words of the last user message, for the tool and JSON rules.
  std::string text;
  for (std::size_t i = 0; i < words.size() && i < 12; ++i) text += (i ? " " : "") + words[i];
  if (text.empty()) text = "(empty)";
  if (tool && user_last) {
    // The tool rule. Its own random stream, so that the latencies below stay as they were.
    Rng tool_rng(fnv.value() ^ 0x746F6F6C63616C6CULL);
    std::string arguments = bj::serialize(ToolArguments(tool->parameters, text, tool_rng));
    static constexpr char kIdChars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string id = "call_sim_";
    for (int i = 0; i < 16; ++i) id += kIdChars[tool_rng.Below(sizeof kIdChars - 1)];
    plan.tool_call = SimulatedToolCall{std::move(id), tool->name};
    plan.tokens = Pieces(arguments, 4);
    plan.finish_reason = "tool_calls";
  } else if (format.json) {
    // The JSON rule: an object of the schema (like a tool's arguments), or {"answer": text}.
    Rng json_rng(fnv.value() ^ 0x6A736F6E616E7377ULL);
    bj::object answer_object =
        format.schema ? ToolArguments(format.schema, text, json_rng) : bj::object{{"answer", text}};
    plan.tokens = Pieces(bj::serialize(answer_object), 4);
  } else {
    plan.tokens.reserve(answer.size());
    for (std::size_t i = 0; i < answer.size(); ++i) {
      plan.tokens.push_back(i == 0 ? answer[i] : " " + answer[i]);
    }
  }

  // The reasoning rule, from its own random stream too.
  if (std::size_t n = ReasoningLength(req); n > 0) {
    Rng reasoning_rng(fnv.value() ^ 0x7265617330E96E67ULL);
    std::vector<std::string> r = {"Thinking", "about:"};
    for (std::string& w : SplitWords(text)) r.push_back(std::move(w));
    if (!std::ispunct(static_cast<unsigned char>(r.back().back()))) r.back() += '.';
    if (r.size() > n) r.resize(n);
    while (r.size() < n) r.emplace_back(kFiller[reasoning_rng.Below(std::size(kFiller))]);
    for (std::size_t i = 0; i < r.size(); ++i) {
      plan.reasoning_tokens.push_back(i == 0 ? r[i] : " " + r[i]);
    }
  }

  // Timing. Always drawn in the same order, so an error decision does not shift latencies.
  plan.ttft = LogNormal(rng, cfg.ttft_median, cfg.ttft_p99);
  double tps = cfg.tokens_per_second > 0 ? cfg.tokens_per_second : 50;
  plan.inter_token = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(1e6 / tps)));
  std::chrono::microseconds whole = LogNormal(rng, cfg.latency_median, cfg.latency_p99);
  if (req.stream) {
    plan.total_latency =
        plan.ttft + plan.inter_token * static_cast<std::int64_t>(plan.reasoning_tokens.size() +
                                                                 plan.tokens.size() - 1);
  } else {
    plan.total_latency = whole;
  }

  // Failure injection.
  double u = rng.Uniform();
  std::size_t kind_index = rng.Below(cfg.error_kinds.size());
  std::size_t after = rng.Below(plan.tokens.size());  // 0..n-1 tokens before the error event
  if (u < cfg.error_rate && !cfg.error_kinds.empty()) {
    const std::string& kind = cfg.error_kinds[kind_index];
    if (kind == "timeout") {
      plan.error = FailureClass::kTimeout;
    } else if (kind == "connect") {
      plan.error = FailureClass::kConnect;
    } else if (kind == "stream" && req.stream) {
      plan.error = FailureClass::kStreamError;
      plan.error_status = 200;
      plan.error_after_tokens = std::max<std::size_t>(1, after);
      if (plan.error_after_tokens >= plan.tokens.size())
        plan.error_after_tokens = plan.tokens.size() - 1;
    } else {
      int status = kind == "stream" ? 500 : std::atoi(kind.c_str());
      if (status < 400 || status > 599) status = 500;
      plan.error = ClassifyStatus(status);
      plan.error_status = status;
      if (status == 429) plan.retry_after = std::chrono::milliseconds(1000);
    }
  }

  plan.usage.prompt_tokens = EstimateRequestTokens(req);
  if (plan.tool_call) {
    plan.usage.completion_tokens = EstimateToolCallTokens(plan.tool_call->name, plan.Content());
  } else if (format.json) {
    plan.usage.completion_tokens = EstimateTokens(plan.Content());
  } else {
    plan.usage.completion_tokens = static_cast<std::int64_t>(plan.tokens.size());
  }
  plan.usage.completion_tokens += static_cast<std::int64_t>(plan.reasoning_tokens.size());
  plan.usage.estimated = true;
  return plan;
}

std::int64_t EstimateTokens(std::string_view text) {
  std::int64_t whole = 0;     // tokens counted one per character
  std::int64_t quarters = 0;  // quarter tokens: ASCII byte = 1, other code point = 2
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++quarters;
      ++i;
      continue;
    }
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + len > text.size()) len = text.size() - i;
    char32_t cp = 0;
    if (len == 2) cp = ((c & 0x1F) << 6) | (text[i + 1] & 0x3F);
    if (len == 3) {
      cp = ((c & 0x0F) << 12) | ((text[i + 1] & 0x3F) << 6) | (text[i + 2] & 0x3F);
    }
    if (len == 4) {
      cp = ((c & 0x07) << 18) | ((text[i + 1] & 0x3F) << 12) | ((text[i + 2] & 0x3F) << 6) |
           (text[i + 3] & 0x3F);
    }
    bool dense = (cp >= 0xAC00 && cp <= 0xD7A3)        // Hangul syllables
                 || (cp >= 0x1100 && cp <= 0x11FF)     // Hangul jamo
                 || (cp >= 0x3130 && cp <= 0x318F)     // Hangul compatibility jamo
                 || (cp >= 0x3040 && cp <= 0x30FF)     // Hiragana, Katakana
                 || (cp >= 0x3400 && cp <= 0x4DBF)     // CJK extension A
                 || (cp >= 0x4E00 && cp <= 0x9FFF)     // CJK unified ideographs
                 || (cp >= 0xF900 && cp <= 0xFAFF)     // CJK compatibility ideographs
                 || (cp >= 0xFF00 && cp <= 0xFFEF)     // half/fullwidth forms
                 || (cp >= 0x20000 && cp <= 0x3FFFF);  // CJK extensions B..
    if (dense) {
      ++whole;
    } else {
      quarters += 2;
    }
    i += len;
  }
  return whole + (quarters + 3) / 4;
}

std::int64_t EstimatePromptTokens(const bj::array& messages) {
  std::int64_t n = 0;
  for (const bj::value& v : messages) {
    const bj::object* m = v.if_object();
    if (!m) continue;
    n += 3;
    auto c = m->find("content");
    if (c != m->end()) n += EstimateTokens(MessageText(c->value()));
    // An assistant's tool calls are read by the model too: their names and arguments.
    if (const bj::value* calls = m->if_contains("tool_calls"); calls && calls->is_array()) {
      n += EstimateToolCallTokens(*calls);
    }
  }
  return n;
}

std::int64_t EstimateToolCallTokens(const bj::value& calls) {
  std::int64_t n = 0;
  const bj::array* all = calls.if_array();
  if (!all) return 0;
  for (const bj::value& call : *all) {
    const bj::value* fn = call.is_object() ? call.get_object().if_contains("function") : nullptr;
    if (!fn || !fn->is_object()) continue;
    auto text = [&](std::string_view key) {
      const bj::value* v = fn->get_object().if_contains(key);
      return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    };
    n += EstimateToolCallTokens(text("name"), text("arguments"));
  }
  return n;
}

std::int64_t EstimateToolCallTokens(std::string_view name, std::string_view arguments) {
  return 3 + EstimateTokens(name) + EstimateTokens(arguments);
}

std::int64_t EstimateRequestTokens(const ChatRequest& req) {
  std::int64_t n = EstimatePromptTokens(req.Messages());
  if (const bj::value* tools = req.extra.if_contains("tools")) {
    n += EstimateTokens(bj::serialize(*tools));
  }
  return n;
}

}  // namespace promptops::providers
