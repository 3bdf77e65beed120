#include "gateway/openai_wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/json.h"
#include "http/sse.h"
#include "providers/sse_parser.h"
#include "support/mutate.h"

namespace promptops::gateway {
namespace {

namespace bj = boost::json;

TEST(ModelRef, ParsesModelsAndPromptReferences) {
  auto m = *ParseModelRef("gpt-4o-mini");
  EXPECT_FALSE(m.is_prompt);
  EXPECT_EQ(m.model, "gpt-4o-mini");
  auto p = *ParseModelRef("prompt:support/refund-bot");
  EXPECT_TRUE(p.is_prompt);
  EXPECT_EQ(p.prompt.name, "support/refund-bot");
  EXPECT_EQ(*p.prompt.label, "production");
  EXPECT_EQ(*ParseModelRef("prompt:x@staging")->prompt.label, "staging");
  auto v = *ParseModelRef("prompt:고객지원/인사말#3");
  EXPECT_EQ(*v.prompt.version, 3);
  EXPECT_FALSE(v.prompt.label.has_value());
  for (const char* bad : {"", "prompt:", "prompt:a@B", "prompt:a#0", "prompt:a@x#1"}) {
    EXPECT_FALSE(ParseModelRef(bad).ok()) << bad;
  }
}

TEST(ParseChatRequest, AcceptsTheOpenAiShapeAndKeepsUnknownParameters) {
  auto r = ParseChatRequest(R"({
    "model":"gpt-4o-mini","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],
    "temperature":0,"max_completion_tokens":5,"stop":"END","stream":true,"stream_options":{"include_usage":true},
    "user":"u1","metadata":{"session_id":"s1"},"variables":{"x":1},"response_format":{"type":"json_object"},"n":1})");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(*r->temperature, 0.0);
  EXPECT_EQ(*r->max_tokens, 5);
  EXPECT_EQ(r->stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->user, "u1");
  EXPECT_TRUE(r->extra.contains("response_format"));
  EXPECT_TRUE(r->extra.contains("n"));
  EXPECT_FALSE(r->extra.contains("variables"));
}

TEST(ParseChatRequest, RejectsBadInputAndClientChosenUpstreams) {
  struct Case {
    const char* body;
    const char* mentions;
  } cases[] = {
      {"{", "malformed"},
      {R"({"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":[]})", "messages"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "role"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "content"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "content"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3})",
       "temperature"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})",
       "temperature"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"api_base":"http://evil"})",
       "api_base"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"base_url":"http://evil"})",
       "base_url"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"api_key":"sk-x"})", "api_key"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})",
       "field 'n' must be 1: the gateway returns one choice per call"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":"1"})", "field 'n'"},
      // A client-chosen upstream is refused before anything else is looked at.
      {R"({"extra_headers":{"x-api-key":"k"}})", "extra_headers"},
      {R"({"model":5,"organization":"o"})", "organization"},
  };
  for (const auto& c : cases) {
    auto r = ParseChatRequest(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << r.error().message;
  }
  // n of 1 (or null) asks for what the gateway gives.
  EXPECT_TRUE(
      ParseChatRequest(R"({"model":"m","n":1,"messages":[{"role":"user","content":"x"}]})").ok());
  EXPECT_TRUE(
      ParseChatRequest(R"({"model":"m","n":null,"messages":[{"role":"user","content":"x"}]})")
          .ok());
  // A prompt reference may come without messages of its own.
  EXPECT_TRUE(ParseChatRequest(R"({"model":"prompt:x","variables":{"a":"b"}})").ok());
}

// Differential test of the fast pass against the full parse: thousands of requests, each a seed
// with a few random edits (most of them invalid JSON or unusual shapes). Wherever the fast pass
// reads a request, the full parse must read the same request; both kinds must occur often.
TEST(ParseChatRequest, FastPassAgreesWithTheFullParseOnMutatedRequests) {
  const std::string seeds[] = {
      R"({"model":"mock-model","messages":[{"role":"user","content":"Say hello."}]})",
      R"( {"messages":[{"content":"너는 친절한 도우미야 😀","role":"system"},{"role":"user","content":"안녕"}],
          "model":"gpt-4o-mini","stream":true,"temperature":0.7,"max_tokens":128,"user":"김민수"} )",
      R"({"model":"prompt:support/bot@staging","messages":[{"role":"assistant","content":""},
          {"role":"developer","content":"x"}],"stream":false,"temperature":0,"max_tokens":1})",
      R"({"model":"m","temperature":1.25e0,"messages":[{"role":"user","content":"tab\tnot allowed raw"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"esc \" and \u00e9"}],"seed":3})",
      R"({"model":"m","messages":[{"role":"tool","content":"r","tool_call_id":"t"}]})",
  };
  const std::string alphabet =
      std::string("\"\\{}[],:0-+.eE1 \x01\x7f", 18) + "\xc3\xa9\xeb\xff" + "truefalsenul";
  std::mt19937 rng(20261123);
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int fast = 0, full_only = 0;
  for (int round = 0; round < 8000; ++round) {
    std::string body = testing::Mutate(seeds[pick(std::size(seeds))], rng, alphabet, 3, 16);
    auto quick = ParseChatRequestFast(body);
    if (!quick) {
      ++full_only;
      continue;
    }
    ++fast;
    auto full = ParseChatRequestFull(body);
    ASSERT_TRUE(full.ok()) << "the fast pass read a request the full parse refuses: " << body
                           << "\n"
                           << full.error().message;
    EXPECT_EQ(quick->model, full->model) << body;
    EXPECT_EQ(quick->ref.is_prompt, full->ref.is_prompt) << body;
    EXPECT_EQ(quick->ref.model, full->ref.model) << body;
    EXPECT_EQ(quick->ref.prompt.name, full->ref.prompt.name) << body;
    EXPECT_EQ(quick->ref.prompt.label, full->ref.prompt.label) << body;
    EXPECT_EQ(quick->ref.prompt.version, full->ref.prompt.version) << body;
    // The fast pass keeps the messages as their text, which reads as the full parse's messages
    // (members in the order sent).
    EXPECT_TRUE(quick->messages.empty()) << body;
    EXPECT_FALSE(quick->messages_text.empty()) << body;
    EXPECT_EQ(quick->messages_text.front(), '[') << body;
    EXPECT_EQ(quick->messages_text.back(), ']') << body;
    const bj::array& quick_messages = MessagesOf(*quick);
    EXPECT_TRUE(quick->messages_text.empty()) << body;
    EXPECT_EQ(quick_messages, full->messages) << body;
    EXPECT_EQ(json::Serialize(quick_messages), json::Serialize(full->messages)) << body;
    EXPECT_EQ(quick->stream, full->stream) << body;
    EXPECT_EQ(quick->include_usage, full->include_usage) << body;
    ASSERT_EQ(quick->temperature.has_value(), full->temperature.has_value()) << body;
    if (quick->temperature) {  // within one unit in the last place of each other
      EXPECT_LE(std::abs(*quick->temperature - *full->temperature),
                std::abs(*full->temperature) * 3e-16)
          << body;
    }
    EXPECT_EQ(quick->max_tokens, full->max_tokens) << body;
    EXPECT_EQ(quick->user, full->user) << body;
    EXPECT_EQ(quick->top_p, full->top_p) << body;
    EXPECT_EQ(quick->seed, full->seed) << body;
    EXPECT_EQ(quick->stop, full->stop) << body;
    EXPECT_TRUE(full->variables.empty() && full->metadata.empty() && full->extra.empty()) << body;
  }
  EXPECT_GT(fast, 1500);
  EXPECT_GT(full_only, 1500);
  // Every seed that the fast pass should read, it reads.
  for (int i : {0, 1, 2}) EXPECT_TRUE(ParseChatRequestFast(seeds[i]).has_value()) << seeds[i];
  for (int i : {3, 4, 5}) EXPECT_FALSE(ParseChatRequestFast(seeds[i]).has_value()) << seeds[i];
}

TEST(OpenAiWire, SerializesCompletionsChunksAndErrorsInOpenAiShape) {
  providers::ChatResponse r;
  r.content = "안녕하세요";
  providers::Usage u;
  u.prompt_tokens = 3;
  u.completion_tokens = 2;
  auto c = *json::Parse(CompletionJson("chatcmpl-1", 1700000000, "m", r, u));
  EXPECT_EQ(c.at("object").as_string(), "chat.completion");
  EXPECT_EQ(c.at("choices").at(0).at("message").at("content").as_string(), "안녕하세요");
  EXPECT_EQ(c.at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(c.at("usage").at("total_tokens").as_int64(), 5);
  auto first = *json::Parse(ChunkJson("id", 1, "m", "assistant", "", std::nullopt, nullptr));
  EXPECT_EQ(first.at("object").as_string(), "chat.completion.chunk");
  EXPECT_EQ(first.at("choices").at(0).at("delta").at("role").as_string(), "assistant");
  EXPECT_TRUE(first.at("choices").at(0).at("finish_reason").is_null());
  auto last = *json::Parse(ChunkJson("id", 1, "m", std::nullopt, std::nullopt, "length", nullptr));
  EXPECT_EQ(last.at("choices").at(0).at("finish_reason").as_string(), "length");
  EXPECT_TRUE(last.at("choices").at(0).at("delta").as_object().empty());
  auto usage = *json::Parse(ChunkJson("id", 1, "m", std::nullopt, std::nullopt, std::nullopt, &u));
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("prompt_tokens").as_int64(), 3);
  EXPECT_EQ(usage.at("usage").at("total_tokens").as_int64(), 5);

  // Hand-written output: quotes and control characters are escaped, tool calls pass through.
  r.content = "say \"hi\"\n\\ok";
  r.finish_reason = "tool_calls";
  r.tool_calls = *json::Parse(R"([{"id":"call_1","type":"function",
      "function":{"name":"f","arguments":"{\"a\":1}"}}])");
  auto t = *json::Parse(CompletionJson("id\"x", 7, "model/\u00e9", r, u));
  EXPECT_EQ(t.at("id").as_string(), "id\"x");
  EXPECT_EQ(t.at("model").as_string(), "model/\u00e9");
  EXPECT_EQ(t.at("created").as_int64(), 7);
  const auto& msg = t.at("choices").at(0).at("message");
  EXPECT_EQ(msg.at("content").as_string(), "say \"hi\"\n\\ok");
  EXPECT_EQ(msg.at("tool_calls"), r.tool_calls);
  EXPECT_EQ(t.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");
  EXPECT_EQ(t.at("usage").at("completion_tokens").as_int64(), 2);
  // Tool calls without text: the content is null, as OpenAI answers them.
  r.content.clear();
  auto calls_only = *json::Parse(CompletionJson("id", 7, "m", r, u));
  EXPECT_TRUE(calls_only.at("choices").at(0).at("message").at("content").is_null());
  EXPECT_EQ(calls_only.at("choices").at(0).at("message").at("tool_calls"), r.tool_calls);
  r.tool_calls = nullptr;  // no calls, no text: an empty string
  auto empty = *json::Parse(CompletionJson("id", 7, "m", r, u));
  EXPECT_EQ(empty.at("choices").at(0).at("message").at("content"), "");

  struct Case {
    Error e;
    int status;
    const char* type;
  } errors[] = {
      {Error::InvalidArgument("bad"), 400, "invalid_request_error"},
      {Error::Unauthenticated("who"), 401, "authentication_error"},
      {Error::NotFound("model"), 404, "invalid_request_error"},
      {{ErrorCode::kRateLimited, "slow"}, 429, "rate_limit_error"},
      {{ErrorCode::kUpstreamError, "boom"}, 502, "api_error"},
      {{ErrorCode::kTimeout, "late"}, 504, "api_error"},
  };
  for (const auto& c : errors) {
    auto w = OpenAiError(c.e);
    EXPECT_EQ(w.status, c.status);
    auto v = *json::Parse(w.body);
    EXPECT_EQ(v.at("error").at("type").as_string(), c.type);
    EXPECT_EQ(v.at("error").at("message").as_string(), c.e.message);
    EXPECT_TRUE(v.at("error").at("param").is_null());
  }
  EXPECT_EQ(json::Parse(OpenAiError(Error::NotFound("x"), "model_not_found").body)
                ->at("error")
                .at("code")
                .as_string(),
            "model_not_found");
}

// What the gateway streams (http::SseEvent) reads back as the same events through the SSE parser
// the provider adapters use, multi-line data and event names included.
TEST(SseWire, FormattedEventsParseBack) {
  providers::SseParser p;
  std::vector<providers::SseEvent> out;
  ASSERT_TRUE(p.Feed(
      http::SseEvent("line1\nline2", "e") + http::SseEvent("{\"한\":1}") + http::SseEvent("[DONE]"),
      out));
  EXPECT_EQ(out, (std::vector<providers::SseEvent>{
                     {"e", "line1\nline2"}, {"", "{\"한\":1}"}, {"", "[DONE]"}}));
}

}  // namespace
}  // namespace promptops::gateway
