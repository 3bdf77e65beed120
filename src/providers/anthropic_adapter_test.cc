#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/adapter.h"
#include "providers/stream_test_util.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;
using testutil::DecodeWhole;
using testutil::ExpectSplitInvariant;

const std::unique_ptr<Adapter> kAnthropic = MakeAdapter("anthropic");

ChatRequest RequestWith(std::string_view messages_json) {
  ChatRequest r;
  r.model = "claude-3-5-haiku-20241022";
  r.messages = bj::parse(messages_json).as_array();
  return r;
}

std::optional<std::string> HeaderOf(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(AnthropicAdapter, BuildsMessagesRequestFieldByField) {
  ChatRequest r = RequestWith(R"([{"role":"system","content":"Be brief."},
                                  {"role":"user","content":"Hello, Claude"}])");
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.max_tokens = 256;
  r.stop = {"END"};
  r.seed = 7;  // not supported upstream: dropped
  r.user = "user-1";
  r.extra = bj::object{{"n", 1}};  // OpenAI-only: dropped
  auto req = kAnthropic->BuildChat(r, "sk-ant-test");
  ASSERT_TRUE(req.ok()) << req.error().message;
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->path, "/messages");
  EXPECT_EQ(HeaderOf(*req, "x-api-key"), "sk-ant-test");
  EXPECT_EQ(HeaderOf(*req, "anthropic-version"), "2023-06-01");
  EXPECT_EQ(HeaderOf(*req, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(*req, "Authorization"), std::nullopt);
  EXPECT_EQ(req->body,
            R"({"model":"claude-3-5-haiku-20241022","max_tokens":256,"system":"Be brief.",)"
            R"("messages":[{"role":"user","content":"Hello, Claude"}],"temperature":5E-1,)"
            R"("top_p":9E-1,"stop_sequences":["END"],"metadata":{"user_id":"user-1"}})");
}

TEST(AnthropicAdapter, DefaultsMaxTokensAndStreams) {
  ChatRequest r = RequestWith(R"([{"role":"user","content":"Hi"}])");
  r.stream = true;
  auto req = kAnthropic->BuildChat(r, "");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->body, R"({"model":"claude-3-5-haiku-20241022","max_tokens":1024,)"
                       R"("messages":[{"role":"user","content":"Hi"}],"stream":true})");
  EXPECT_EQ(HeaderOf(*req, "x-api-key"), std::nullopt);
  EXPECT_EQ(HeaderOf(*req, "Accept"), "text/event-stream");

  auto custom = MakeAnthropicAdapter({.default_max_tokens = 4096});
  auto req2 = custom->BuildChat(r, "k");
  ASSERT_TRUE(req2.ok());
  EXPECT_EQ(bj::parse(req2->body).at("max_tokens"), 4096);
}

struct MessageCase {
  std::string_view name;
  std::string_view openai_messages;
  std::string_view system;  // "" = no system field
  std::string_view anthropic_messages;
};

TEST(AnthropicAdapter, CollectsSystemAndMergesSameRoleMessages) {
  const MessageCase cases[] = {
      {"several system messages, anywhere",
       R"([{"role":"system","content":"A"},{"role":"user","content":"u1"},
           {"role":"developer","content":"B"},{"role":"assistant","content":"a1"},
           {"role":"user","content":"u2"}])",
       "A\n\nB",
       R"([{"role":"user","content":"u1"},{"role":"assistant","content":"a1"},
           {"role":"user","content":"u2"}])"},
      {"consecutive users merged",
       R"([{"role":"user","content":"one"},{"role":"user","content":"two"},
           {"role":"assistant","content":"x"},{"role":"assistant","content":"y"},
           {"role":"user","content":"three"}])",
       "",
       R"([{"role":"user","content":"one\n\ntwo"},{"role":"assistant","content":"x\n\ny"},
           {"role":"user","content":"three"}])"},
      {"users separated only by a system message merge",
       R"([{"role":"user","content":"one"},{"role":"system","content":"S"},
           {"role":"user","content":"two"}])",
       "S", R"([{"role":"user","content":"one\n\ntwo"}])"},
      {"text parts concatenated",
       R"([{"role":"user","content":[{"type":"text","text":"Hello, "},
                                     {"type":"text","text":"world"}]}])",
       "", R"([{"role":"user","content":"Hello, world"}])"},
      {"null assistant content",
       R"([{"role":"user","content":"q"},{"role":"assistant","content":null},
           {"role":"user","content":"r"}])",
       "",
       R"([{"role":"user","content":"q"},{"role":"assistant","content":""},
           {"role":"user","content":"r"}])"},
      {"Korean",
       R"([{"role":"system","content":"한국어로 답하세요"},{"role":"user","content":"안녕"}])",
       "한국어로 답하세요", R"([{"role":"user","content":"안녕"}])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto req = kAnthropic->BuildChat(RequestWith(c.openai_messages), "k");
    ASSERT_TRUE(req.ok()) << req.error().message;
    bj::object b = bj::parse(req->body).as_object();
    if (c.system.empty()) {
      EXPECT_FALSE(b.contains("system"));
    } else {
      EXPECT_EQ(b.at("system"), bj::string(c.system));
    }
    EXPECT_EQ(b.at("messages"), bj::parse(c.anthropic_messages));
  }
}

TEST(AnthropicAdapter, RejectsWhatItCannotTranslateWithAClientError) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {R"([{"role":"user","content":[{"type":"text","text":"What is this?"},
           {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}])",
       "content part type 'image_url' in messages[0] is not supported by this model's provider "
       "(anthropic); only text parts are"},
      {R"([{"role":"user","content":"q"},{"role":"tool","tool_call_id":"c","content":"42"}])",
       "messages[1]: role 'tool' is not supported by this model's provider (anthropic)"},
      {R"([{"role":"system","content":"only system"}])",
       "at least one user or assistant message is required by this model's provider "
       "(anthropic)"},
      {R"([{"content":"no role"}])", "messages[0] needs a 'role'"},
      {R"([{"role":"user","content":42}])",
       "messages[0].content must be a string or an array of parts"},
      {R"([{"role":"user","content":"q"},{"role":"assistant","content":null,
           "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}])",
       "messages[1]: tool_calls are not supported by this model's provider (anthropic)"},
  };
  for (const auto& [messages, message] : cases) {
    SCOPED_TRACE(messages);
    auto req = kAnthropic->BuildChat(RequestWith(messages), "k");
    ASSERT_FALSE(req.ok());
    EXPECT_EQ(req.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(req.error().message, message);
  }
}

// The example response of the Messages API reference.
constexpr std::string_view kDocResponse = R"({
  "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "model": "claude-3-5-sonnet-20241022",
  "role": "assistant",
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "type": "message",
  "usage": {"input_tokens": 2095, "output_tokens": 503}
})";

TEST(AnthropicAdapter, ParsesTheDocumentedResponse) {
  auto r = kAnthropic->ParseChat(200, kDocResponse, std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(c.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
  EXPECT_EQ(c.model, "claude-3-5-sonnet-20241022");
  EXPECT_EQ(c.content, "Hi! My name is Claude.");
  EXPECT_EQ(c.finish_reason, "stop");
  ASSERT_TRUE(c.usage.has_value());
  EXPECT_EQ(c.usage->prompt_tokens, 2095);
  EXPECT_EQ(c.usage->completion_tokens, 503);
}

TEST(AnthropicAdapter, MapsStopReasons) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"end_turn", "stop"},       {"max_tokens", "length"},      {"stop_sequence", "stop"},
      {"tool_use", "tool_calls"}, {"refusal", "content_filter"}, {"pause_turn", "stop"},
  };
  for (const auto& [anthropic, openai] : cases) {
    std::string body = R"({"content":[{"type":"text","text":"x"}],"stop_reason":")" +
                       std::string(anthropic) + R"("})";
    auto r = kAnthropic->ParseChat(200, body, std::nullopt);
    ASSERT_EQ(r.index(), 0u);
    EXPECT_EQ(std::get<ChatResponse>(r).finish_reason, openai) << anthropic;

    std::string stream =
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" +
        std::string(anthropic) + "\"},\"usage\":{\"output_tokens\":1}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    EXPECT_EQ(DecodeWhole(*kAnthropic, stream).Summary(), "F:" + std::string(openai) + "|U:0/1");
  }
}

TEST(AnthropicAdapter, ConcatenatesTextBlocksAndTranslatesToolUse) {
  auto r = kAnthropic->ParseChat(200, R"({"content":[
      {"type":"text","text":"Let me check. "},
      {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Seoul"}},
      {"type":"text","text":"Done."}],"stop_reason":"tool_use"})",
                                 std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(c.content, "Let me check. Done.");
  EXPECT_EQ(c.finish_reason, "tool_calls");
  EXPECT_EQ(c.tool_calls, bj::parse(R"([{"id":"toolu_01","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}])"));
  EXPECT_FALSE(c.usage.has_value());
}

TEST(AnthropicAdapter, ClassifiesErrorStatuses) {
  struct Case {
    int status;
    std::string_view type;
    FailureClass cls;
    ErrorCode client_code;
  };
  const Case cases[] = {
      {400, "invalid_request_error", FailureClass::kClientError, ErrorCode::kInvalidArgument},
      {401, "authentication_error", FailureClass::kClientError, ErrorCode::kUpstreamError},
      {403, "permission_error", FailureClass::kClientError, ErrorCode::kUpstreamError},
      {404, "not_found_error", FailureClass::kClientError, ErrorCode::kInvalidArgument},
      {413, "request_too_large", FailureClass::kClientError, ErrorCode::kInvalidArgument},
      {429, "rate_limit_error", FailureClass::kRateLimited, ErrorCode::kRateLimited},
      {500, "api_error", FailureClass::kServerError, ErrorCode::kUpstreamError},
      {529, "overloaded_error", FailureClass::kServerError, ErrorCode::kUpstreamError},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status);
    std::string body = R"({"type":"error","error":{"type":")" + std::string(c.type) +
                       R"(","message":"something happened"}})";
    auto r = kAnthropic->ParseChat(c.status, body, std::chrono::milliseconds(30000));
    ASSERT_EQ(r.index(), 1u);
    const auto& f = std::get<UpstreamFailure>(r);
    EXPECT_EQ(f.cls, c.cls);
    EXPECT_EQ(f.status, c.status);
    EXPECT_EQ(f.message, std::string(c.type) + ": something happened");
    EXPECT_EQ(f.retry_after, std::chrono::milliseconds(30000));
    EXPECT_EQ(f.ToError().code, c.client_code);
    EXPECT_EQ(IsRetryable(f.cls), c.status == 429 || c.status >= 500);
  }
}

TEST(AnthropicAdapter, MalformedSuccessBodies) {
  for (std::string_view body :
       {"", "{", R"({"type":"message"})", R"({"content":"text"})", R"({"content":[{}]})"}) {
    SCOPED_TRACE(body);
    auto r = kAnthropic->ParseChat(200, body, std::nullopt);
    ASSERT_EQ(r.index(), 1u);
    EXPECT_EQ(std::get<UpstreamFailure>(r).cls, FailureClass::kMalformed);
  }
}

// The streaming example of the Messages API reference ("Basic streaming request").
constexpr std::string_view kDocStream =
    "event: message_start\n"
    "data: {\"type\": \"message_start\", \"message\": {\"id\": "
    "\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", "
    "\"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": "
    "\"claude-3-5-sonnet-20241022\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": "
    "{\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": "
    "\"text\", \"text\": \"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
    "\"text\": \"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", "
    "\"text\": \"!\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
    "event: message_delta\n"
    "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", "
    "\"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\": \"message_stop\"}\n\n";

TEST(AnthropicStream, DecodesTheDocumentedStreamAtEverySplit) {
  auto d = ExpectSplitInvariant(*kAnthropic, kDocStream);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:Hello|D:!|F:stop|U:25/15");
}

TEST(AnthropicStream, ErrorEventInsideTheStream) {
  std::string s(kDocStream);
  s.resize(s.find("event: content_block_stop"));
  s += "event: error\n"
       "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": "
       "\"Overloaded\"}}\n\n";
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  ASSERT_TRUE(d.failure.has_value());
  EXPECT_FALSE(d.failed_in_finish);
  EXPECT_EQ(d.failure->cls, FailureClass::kStreamError);
  EXPECT_EQ(d.failure->status, 529);
  EXPECT_EQ(d.failure->message, "overloaded_error: Overloaded");
  EXPECT_EQ(d.Summary(), "D:Hello|D:!");
  EXPECT_TRUE(IsRetryable(d.failure->cls));  // if nothing was forwarded yet
}

TEST(AnthropicStream, TruncatedStreamFailsInFinish) {
  std::string s(kDocStream);
  s.resize(s.find("event: message_stop"));
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  ASSERT_TRUE(d.failure.has_value());
  EXPECT_TRUE(d.failed_in_finish);
  EXPECT_EQ(d.failure->cls, FailureClass::kStreamError);
  EXPECT_EQ(d.failure->message, "the stream ended before message_stop");
  EXPECT_EQ(d.Summary(), "D:Hello|D:!|F:stop");
}

TEST(AnthropicStream, MalformedEventFails) {
  auto d = DecodeWhole(*kAnthropic,
                       "event: content_block_delta\ndata: {\"type\": \"content_block_delta\"\n\n");
  ASSERT_TRUE(d.failure.has_value());
  EXPECT_EQ(d.failure->cls, FailureClass::kMalformed);
  auto d2 = DecodeWhole(*kAnthropic,
                        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", "
                        "\"delta\": {\"type\": \"text_delta\"}}\n\n");
  ASSERT_TRUE(d2.failure.has_value());
  EXPECT_EQ(d2.failure->cls, FailureClass::kMalformed);
}

TEST(AnthropicStream, KoreanSplitMidUtf8AndUnknownEventsIgnored) {
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":7,\"output_tokens\":1}}}\n\n";
  for (std::string_view t : {"안녕", "하세요", " 😀"}) {
    s += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
         "\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
         std::string(t) + "\"}}\n\n";
  }
  s += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n"
       "event: future_event\ndata: {\"type\":\"future_event\"}\n\n"
       "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
       "\"max_tokens\"},\"usage\":{\"output_tokens\":3}}\n\n"
       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Text(), "안녕하세요 😀");
  EXPECT_EQ(d.Summary(), "D:안녕|D:하세요|D: 😀|F:length|U:7/3");
}

}  // namespace
}  // namespace promptops::providers
