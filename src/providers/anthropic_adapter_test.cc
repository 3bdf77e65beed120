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

TEST(AnthropicAdapter, TranslatesImagesToolCallsAndToolResults) {
  const MessageCase cases[] = {
      {"an image by URL after text",
       R"([{"role":"user","content":[{"type":"text","text":"What is this?"},
           {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"low"}}]}])",
       "",
       R"([{"role":"user","content":[{"type":"text","text":"What is this?"},
           {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}]}])"},
      {"a base64 image first, adjacent text parts joined",
       R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
           {"type":"text","text":"이건 "},{"type":"text","text":"뭐예요?"}]}])",
       "",
       R"([{"role":"user","content":[
           {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
           {"type":"text","text":"이건 뭐예요?"}]}])"},
      {"a tool round trip: calls, results (merged into one user turn with the next question)",
       R"([{"role":"user","content":"Weather in Seoul and Busan?"},
           {"role":"assistant","content":null,"tool_calls":[
             {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"서울\"}"}},
             {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"부산\"}"}}]},
           {"role":"tool","tool_call_id":"call_1","content":"맑음, 21°C"},
           {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"비"}]},
           {"role":"user","content":"Thanks"}])",
       "",
       R"([{"role":"user","content":"Weather in Seoul and Busan?"},
           {"role":"assistant","content":[
             {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"서울"}},
             {"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"부산"}}]},
           {"role":"user","content":[
             {"type":"tool_result","tool_use_id":"call_1","content":"맑음, 21°C"},
             {"type":"tool_result","tool_use_id":"call_2","content":"비"},
             {"type":"text","text":"Thanks"}]}])"},
      {"assistant text before its tool call; empty arguments are an empty input",
       R"([{"role":"user","content":"now?"},
           {"role":"assistant","content":"Let me check.","tool_calls":[
             {"id":"t","type":"function","function":{"name":"clock","arguments":""}}]},
           {"role":"tool","tool_call_id":"t","content":"12:00"}])",
       "",
       R"([{"role":"user","content":"now?"},
           {"role":"assistant","content":[{"type":"text","text":"Let me check."},
             {"type":"tool_use","id":"t","name":"clock","input":{}}]},
           {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"12:00"}]}])"},
      {"tool results go first in their user turn",
       R"([{"role":"user","content":"q"},
           {"role":"assistant","content":null,"tool_calls":[
             {"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},
           {"role":"user","content":"also this"},
           {"role":"tool","tool_call_id":"t","content":"r"}])",
       "",
       R"([{"role":"user","content":"q"},
           {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},
           {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"},
             {"type":"text","text":"also this"}]}])"},
      {"an empty text next to a tool call is left out",
       R"([{"role":"user","content":"q"},
           {"role":"assistant","content":"","tool_calls":[
             {"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]}])",
       "",
       R"([{"role":"user","content":"q"},
           {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto req = kAnthropic->BuildChat(RequestWith(c.openai_messages), "k");
    ASSERT_TRUE(req.ok()) << req.error().message;
    bj::object b = bj::parse(req->body).as_object();
    EXPECT_FALSE(b.contains("system"));
    EXPECT_EQ(b.at("messages"), bj::parse(c.anthropic_messages)) << req->body;
  }
}

TEST(AnthropicAdapter, TranslatesToolsAndToolChoice) {
  constexpr std::string_view kTools = R"([
      {"type":"function","function":{"name":"get_weather","description":"날씨 조회",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},
        "strict":true}},
      {"type":"function","function":{"name":"clock"}}])";
  auto build = [&](std::string_view extra_json) {
    ChatRequest r = RequestWith(R"([{"role":"user","content":"Hi"}])");
    r.extra = bj::parse(extra_json).as_object();
    auto req = kAnthropic->BuildChat(r, "k");
    EXPECT_TRUE(req.ok()) << req.error().message;
    return req.ok() ? bj::parse(req->body).as_object() : bj::object();
  };
  bj::object b = build(R"({"tools":)" + std::string(kTools) + "}");
  EXPECT_EQ(b.at("tools"), bj::parse(R"([
      {"name":"get_weather","description":"날씨 조회",
       "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
      {"name":"clock","input_schema":{"type":"object","properties":{}}}])"));
  EXPECT_EQ(b.at("tool_choice"), bj::parse(R"({"type":"auto"})"));

  const std::pair<std::string_view, std::string_view> choices[] = {
      {R"("tool_choice":"auto")", R"({"type":"auto"})"},
      {R"("tool_choice":"none")", R"({"type":"none"})"},
      {R"("tool_choice":"required")", R"({"type":"any"})"},
      {R"("tool_choice":{"type":"function","function":{"name":"clock"}})",
       R"({"type":"tool","name":"clock"})"},
      {R"("tool_choice":"required","parallel_tool_calls":false)",
       R"({"type":"any","disable_parallel_tool_use":true})"},
      {R"("parallel_tool_calls":false)", R"({"type":"auto","disable_parallel_tool_use":true})"},
      {R"("tool_choice":"none","parallel_tool_calls":false)", R"({"type":"none"})"},
      {R"("parallel_tool_calls":true)", R"({"type":"auto"})"},
  };
  for (const auto& [extra, choice] : choices) {
    SCOPED_TRACE(extra);
    b = build("{" + std::string(extra) + R"(,"tools":)" + std::string(kTools) + "}");
    EXPECT_EQ(b.at("tool_choice"), bj::parse(choice));
  }
  // Without tools there is nothing to choose from; OpenAI-only parameters are dropped.
  b = build(R"({"tool_choice":"auto","presence_penalty":0.5,"logit_bias":{"1":2},"n":1,
                "response_format":{"type":"text"},"logprobs":false,"modalities":["text"]})");
  EXPECT_FALSE(b.contains("tools"));
  EXPECT_FALSE(b.contains("tool_choice"));
  EXPECT_FALSE(b.contains("presence_penalty"));
  EXPECT_FALSE(b.contains("n"));
}

TEST(AnthropicAdapter, JsonResponseFormatsAskForAForcedToolCallWhoseInputIsTheAnswer) {
  auto build = [&](std::string_view extra_json) {
    ChatRequest r = RequestWith(R"([{"role":"user","content":"서울 인구?"}])");
    r.extra = bj::parse(extra_json).as_object();
    auto req = kAnthropic->BuildChat(r, "k");
    EXPECT_TRUE(req.ok()) << req.error().message;
    return req.ok() ? bj::parse(req->body).as_object() : bj::object();
  };
  bj::object b = build(R"({"response_format":{"type":"json_object"}})");
  EXPECT_EQ(b.at("tools").at(0).at("name"), "promptops_json_answer");
  EXPECT_EQ(b.at("tools").at(0).at("input_schema"), bj::parse(R"({"type":"object"})"));
  EXPECT_EQ(b.at("tool_choice"), bj::parse(R"({"type":"tool","name":"promptops_json_answer"})"));
  b = build(R"({"response_format":{"type":"json_schema","json_schema":{"name":"city",
      "description":"A city and its population","strict":true,"schema":{"type":"object",
      "properties":{"name":{"type":"string"},"population":{"type":"integer"}},
      "required":["name","population"]}}}})");
  EXPECT_EQ(b.at("tools").at(0).at("description"), "A city and its population");
  EXPECT_EQ(b.at("tools").at(0).at("input_schema").at("required"),
            bj::parse(R"(["name","population"])"));
  b = build(R"({"response_format":{"type":"text"}})");  // text: nothing to ask
  EXPECT_FALSE(b.contains("tools"));

  // The answer: the forced call's input is the content (JSON text), finish "stop".
  auto r = kAnthropic->ParseChat(200, R"({"id":"m","model":"c","content":[{"type":"tool_use",
      "id":"toolu_1","name":"promptops_json_answer","input":{"name":"서울","population":9411000}}],
      "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":9}})",
                                 std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(bj::parse(c.content), bj::parse(R"({"name":"서울","population":9411000})"));
  EXPECT_TRUE(c.tool_calls.is_null());
  EXPECT_EQ(c.finish_reason, "stop");

  // Streamed: the input's pieces are the content's pieces.
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
      "\"promptops_json_answer\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"name\\\": \\\"서\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"울\\\"}\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  ASSERT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:{\"name\": \"서|D:울\"}|F:stop|U:5/9");
}

TEST(AnthropicAdapter, RejectsWhatItCannotTranslateWithAClientError) {
  struct Case {
    std::string_view messages;
    std::string_view extra;
    std::string_view error;
  };
  const Case cases[] = {
      {R"([{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}])",
       "{}",
       "content part type 'input_audio' in messages[0] (text and image_url parts are) is not "
       "supported by this model's provider (anthropic)"},
      {R"([{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://e.com/a.png"}}]}])",
       "{}",
       "content part type 'image_url' in messages[0] (text parts are) is not supported by this "
       "model's provider (anthropic)"},
      {R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://e.com/a.png"}}]},{"role":"user","content":"q"}])",
       "{}",
       "content part type 'image_url' in messages[0] (only text parts are, in system and tool "
       "messages) is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}])",
       "{}",
       "image type 'image/bmp' in messages[0] (image/jpeg, image/png, image/gif and image/webp "
       "are) is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}])",
       "{}", "messages[0]: an image data URL must be base64 (data:image/png;base64,...)"},
      {R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}])",
       "{}", "messages[0]: image_url.url must be an http(s) URL or a base64 data URL"},
      {R"([{"role":"user","content":[{"type":"image_url"}]}])", "{}",
       "messages[0]: an image_url part needs image_url.url"},
      {R"([{"role":"user","content":"q"},{"role":"tool","content":"42"}])", "{}",
       "messages[1]: a tool message needs 'tool_call_id'"},
      {R"([{"role":"user","content":"q"},{"role":"function","name":"f","content":"42"}])", "{}",
       "messages[1]: role 'function' is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":"q"},{"role":"assistant","content":null,
           "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}])",
       "{}", "messages[1].tool_calls[0].function.arguments must be a JSON object"},
      {R"([{"role":"user","content":"q"},{"role":"assistant","content":null,
           "tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{bad"}}]}])",
       "{}", "messages[1].tool_calls[0].function.arguments must be a JSON object"},
      {R"([{"role":"user","content":"q"},{"role":"assistant","content":null,
           "tool_calls":[{"type":"function","function":{"name":"f"}}]}])",
       "{}", "messages[1].tool_calls[0] needs an 'id' and a 'function' with a 'name'"},
      {R"([{"role":"system","content":"only system"}])", "{}",
       "at least one user or assistant message is required by this model's provider "
       "(anthropic)"},
      {R"([{"content":"no role"}])", "{}", "messages[0] needs a 'role'"},
      {R"([{"role":"user","content":42}])", "{}",
       "messages[0].content must be a string or an array of parts"},
      {R"([{"role":"user","content":"q"}])",
       R"({"response_format":{"type":"json_schema","json_schema":{"name":"l","schema":{"type":"array"}}}})",
       "a response_format json_schema whose schema is not of type object is not supported by "
       "this model's provider (anthropic)"},
      {R"([{"role":"user","content":"q"}])",
       R"({"response_format":{"type":"json_object"},"tools":[{"type":"function","function":{"name":"f"}}]})",
       "a JSON response_format together with tools is not supported by this model's provider "
       "(anthropic)"},
      {R"([{"role":"user","content":"q"}])", R"({"response_format":{"type":"xml"}})",
       "response_format type 'xml' is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":"q"}])",
       R"({"tools":[{"type":"function","function":{"name":"promptops_json_answer"}}]})",
       "tools[0]: the tool name 'promptops_json_answer' is reserved by the gateway"},
      {R"([{"role":"user","content":"q"}])", R"({"logprobs":true})",
       "'logprobs' is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":"q"}])", R"({"modalities":["text","audio"]})",
       "output modalities other than text is not supported by this model's provider "
       "(anthropic)"},
      {R"([{"role":"user","content":"q"}])", R"({"tools":[{"type":"file_search"}]})",
       "tools[0]: tool type 'file_search' is not supported by this model's provider (anthropic)"},
      {R"([{"role":"user","content":"q"}])", R"({"tools":[{"type":"function","function":{}}]})",
       "tools[0] needs a 'function' with a 'name'"},
      {R"([{"role":"user","content":"q"}])",
       R"({"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"})",
       R"(field 'tool_choice' must be "auto", "none", "required" or {"type":"function","function":{"name":...}})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.messages) + " " + std::string(c.extra));
    ChatRequest r = RequestWith(c.messages);
    r.extra = bj::parse(c.extra).as_object();
    auto req = kAnthropic->BuildChat(r, "k");
    ASSERT_FALSE(req.ok());
    EXPECT_EQ(req.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(req.error().message, c.error);
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

TEST(AnthropicAdapter, ReasoningEffortAsksForThinkingThatMaxTokensCounts) {
  auto body = [](std::string_view extra, std::optional<std::int64_t> max_tokens = std::nullopt) {
    ChatRequest r = RequestWith(R"([{"role":"user","content":"왜 하늘은 파랄까?"}])");
    r.extra = bj::parse(extra).as_object();
    r.max_tokens = max_tokens;
    auto req = kAnthropic->BuildChat(r, "");
    return req.ok() ? bj::parse(req->body) : bj::value(req.error().message);
  };
  // Without max_tokens, the default answer room plus the budget.
  bj::value low = body(R"({"reasoning_effort":"low"})");
  EXPECT_EQ(low.at("max_tokens"), 1024 + 1024);
  EXPECT_EQ(low.at("thinking"), bj::parse(R"({"type":"enabled","budget_tokens":1024})"));
  EXPECT_EQ(body(R"({"reasoning_effort":"minimal"})").at("thinking").at("budget_tokens"), 1024);
  EXPECT_EQ(body(R"({"reasoning_effort":"medium"})").at("thinking").at("budget_tokens"), 4096);
  bj::value high = body(R"({"reasoning_effort":"high"})", 20000);
  EXPECT_EQ(high.at("max_tokens"), 20000);
  EXPECT_EQ(high.at("thinking").at("budget_tokens"), 16384);
  // "none" and null: no thinking, the usual default.
  for (std::string_view none : {R"({"reasoning_effort":"none"})", R"({"reasoning_effort":null})"}) {
    bj::value b = body(none);
    EXPECT_FALSE(b.as_object().contains("thinking")) << none;
    EXPECT_EQ(b.at("max_tokens"), 1024) << none;
  }
  // Anthropic's own setting (extra_body) goes as it is.
  bj::value own = body(R"({"thinking":{"type":"enabled","budget_tokens":2000}})", 3000);
  EXPECT_EQ(own.at("thinking"), bj::parse(R"({"type":"enabled","budget_tokens":2000})"));
  EXPECT_EQ(own.at("max_tokens"), 3000);
  EXPECT_EQ(body(R"({"thinking":{"type":"adaptive"}})").at("thinking"),
            bj::parse(R"({"type":"adaptive"})"));

  // What cannot be asked, refused before any call with what to change.
  EXPECT_EQ(body(R"({"reasoning_effort":"medium"})", 4096),
            "max_tokens (4096) must be greater than the thinking budget (4096 tokens): thinking "
            "counts in max_tokens");
  EXPECT_EQ(body(R"({"thinking":{"type":"enabled","budget_tokens":2000}})", 1500),
            "max_tokens (1500) must be greater than the thinking budget (2000 tokens): thinking "
            "counts in max_tokens");
  EXPECT_EQ(
      body(R"({"reasoning_effort":"extreme"})"),
      "field 'reasoning_effort' must be \"none\", \"minimal\", \"low\", \"medium\" or \"high\"");
  EXPECT_EQ(
      body(R"({"reasoning_effort":3})"),
      "field 'reasoning_effort' must be \"none\", \"minimal\", \"low\", \"medium\" or \"high\"");
  EXPECT_EQ(
      body(R"({"reasoning_effort":"low","thinking":{"type":"enabled","budget_tokens":1024}})"),
      "give either 'reasoning_effort' or 'thinking', not both");
  EXPECT_EQ(body(R"({"thinking":"on"})"),
            "field 'thinking' must be an object (Anthropic's setting)");
  EXPECT_EQ(body(R"({"reasoning_effort":"low","response_format":{"type":"json_object"}})"),
            "a JSON response_format together with reasoning (thinking) is not supported by this "
            "model's provider (anthropic)");
}

TEST(AnthropicAdapter, AssistantThinkingBlocksGoBackFirstInTheirTurn) {
  // A tool loop with thinking: the assistant's signed blocks come back as the answer gave them.
  ChatRequest r = RequestWith(R"([
      {"role":"user","content":"서울 날씨?"},
      {"role":"assistant","content":null,
       "reasoning_content":"날씨 도구를 불러야 한다.",
       "thinking_blocks":[{"type":"thinking","thinking":"날씨 도구를 불러야 한다.","signature":"sig=="},
                          {"type":"redacted_thinking","data":"EmwKAhgB"}],
       "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"서울\"}"}}]},
      {"role":"tool","tool_call_id":"toolu_1","content":"맑음"}])");
  r.extra = bj::object{{"reasoning_effort", "low"}};
  auto req = kAnthropic->BuildChat(r, "");
  ASSERT_TRUE(req.ok()) << req.error().message;
  EXPECT_EQ(bj::parse(req->body).at("messages"), bj::parse(R"([
      {"role":"user","content":"서울 날씨?"},
      {"role":"assistant","content":[
        {"type":"thinking","thinking":"날씨 도구를 불러야 한다.","signature":"sig=="},
        {"type":"redacted_thinking","data":"EmwKAhgB"},
        {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"서울"}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"맑음"}]}])"));

  struct Case {
    std::string_view blocks;
    std::string_view error;
  };
  const Case cases[] = {
      {R"({"type":"thinking"})", "messages[1].thinking_blocks must be an array"},
      {R"([{"type":"thinking","thinking":"x"}])",
       "messages[1].thinking_blocks[0]: a thinking block needs 'thinking' and 'signature'"},
      {R"([{"type":"redacted_thinking"}])",
       "messages[1].thinking_blocks[0]: a redacted_thinking block needs 'data'"},
      {R"([{"type":"text","text":"x"}])",
       "messages[1].thinking_blocks[0] must be a 'thinking' or 'redacted_thinking' block"},
  };
  for (const Case& c : cases) {
    ChatRequest bad = RequestWith(R"([{"role":"user","content":"q"},
                                       {"role":"assistant","content":"a"}])");
    bad.messages[1].as_object()["thinking_blocks"] = bj::parse(c.blocks);
    auto res = kAnthropic->BuildChat(bad, "");
    ASSERT_FALSE(res.ok()) << c.blocks;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(res.error().message, c.error);
  }
}

TEST(AnthropicAdapter, ThinkingBlocksBecomeReasoningAndSignedBlocks) {
  auto r = kAnthropic->ParseChat(200, R"({"id":"msg_1","type":"message","role":"assistant",
      "model":"claude-sonnet-4-5","content":[
        {"type":"thinking","thinking":"빛의 산란을 ","signature":"EqQB"},
        {"type":"redacted_thinking","data":"EmwKAhgB"},
        {"type":"thinking","thinking":"설명하자.","signature":"EqQC"},
        {"type":"text","text":"레일리 산란 때문입니다."}],
      "stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":80}})",
                                 std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const ChatResponse& a = std::get<ChatResponse>(r);
  EXPECT_EQ(a.content, "레일리 산란 때문입니다.");
  EXPECT_EQ(bj::value(a.message_extra.value()), bj::parse(R"({
      "reasoning_content":"빛의 산란을 설명하자.",
      "thinking_blocks":[{"type":"thinking","thinking":"빛의 산란을 ","signature":"EqQB"},
                         {"type":"redacted_thinking","data":"EmwKAhgB"},
                         {"type":"thinking","thinking":"설명하자.","signature":"EqQC"}]})"));
  // Without thinking, nothing is added.
  auto plain = kAnthropic->ParseChat(
      200, R"({"content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn"})", std::nullopt);
  ASSERT_EQ(plain.index(), 0u);
  EXPECT_FALSE(std::get<ChatResponse>(plain).message_extra.has_value());
}

TEST(AnthropicAdapter, PromptTokensIncludeThePromptCachesTokens) {
  auto r = kAnthropic->ParseChat(200, R"({"content":[{"type":"text","text":"hi"}],
      "stop_reason":"end_turn","usage":{"input_tokens":12,"cache_creation_input_tokens":1000,
      "cache_read_input_tokens":3000,"output_tokens":4}})",
                                 std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  EXPECT_EQ(std::get<ChatResponse>(r).usage->prompt_tokens, 4012);
  EXPECT_EQ(std::get<ChatResponse>(r).usage->completion_tokens, 4);
  EXPECT_EQ(std::get<ChatResponse>(r).usage->cached_tokens, 3000);
  EXPECT_EQ(std::get<ChatResponse>(r).usage->cache_write_tokens, 1000);
  // Streamed: from message_start, and from a message_delta that reports them again.
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":5,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  EXPECT_EQ(DecodeWhole(*kAnthropic, s).Summary(), "D:hi|F:stop|U:2005/3");
  const Usage u = DecodeWhole(*kAnthropic, s).events.back().usage.value();
  EXPECT_EQ(u.cached_tokens, 2000);
  EXPECT_EQ(u.cache_write_tokens, std::nullopt);
  std::string again = s;
  again.replace(again.find("{\"output_tokens\":3}"), 19,
                "{\"input_tokens\":5,\"cache_read_input_tokens\":2500,\"output_tokens\":3}");
  EXPECT_EQ(DecodeWhole(*kAnthropic, again).Summary(), "D:hi|F:stop|U:2505/3");
  EXPECT_EQ(DecodeWhole(*kAnthropic, again).events.back().usage->cached_tokens, 2500);
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

TEST(AnthropicStream, ToolUseBlocksBecomeStreamedToolCalls) {
  // As the Messages API streams a tool call (its documentation's example, shortened).
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":472,\"output_tokens\":2}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"확인할게요\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":"
      "\"get_weather\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"서울\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
      "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_02\",\"name\":\"clock\","
      "\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"tool_use\"},\"usage\":{\"output_tokens\":89}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  ASSERT_FALSE(d.failure.has_value()) << d.failure->message;
  EXPECT_EQ(
      d.Summary(),
      "D:확인할게요|"
      R"(D:T:[{"index":0,"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":""}}]|)"
      R"(D:T:[{"index":0,"function":{"arguments":"{\"city\": "}}]|)"
      R"(D:T:[{"index":0,"function":{"arguments":"\"서울\"}"}}]|)"
      R"(D:T:[{"index":1,"id":"toolu_02","type":"function","function":{"name":"clock","arguments":""}}]|)"
      R"(D:T:[{"index":1,"function":{"arguments":"{}"}}]|)"
      "F:tool_calls|U:472/89");
  // Folded together, the pieces are the complete calls.
  bj::value calls;
  for (const auto& e : d.events) {
    if (!e.tool_calls.is_null()) AccumulateToolCalls(calls, e.tool_calls);
  }
  EXPECT_EQ(calls, bj::parse(R"([
      {"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"서울\"}"}},
      {"id":"toolu_02","type":"function","function":{"name":"clock","arguments":"{}"}}])"));

  // A tool_use block without its id is malformed.
  auto bad =
      DecodeWhole(*kAnthropic,
                  "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                  "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"name\":\"f\"}}\n\n");
  ASSERT_TRUE(bad.failure.has_value());
  EXPECT_EQ(bad.failure->cls, FailureClass::kMalformed);
}

TEST(AnthropicStream, ThinkingStreamsAsReasoningThenTheSignedBlock) {
  // As the Messages API streams extended thinking (its documentation's example, shortened).
  std::string s =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
      "{\"input_tokens\":20,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
      "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"27 곱하기 453을 \"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"나눠서 계산하자.\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAh\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
      "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgB\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"12,231입니다.\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":120}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto d = ExpectSplitInvariant(*kAnthropic, s);
  ASSERT_FALSE(d.failure.has_value()) << d.failure->message;
  EXPECT_EQ(
      d.Summary(),
      "D:R(reasoning_content):27 곱하기 453을 |D:R(reasoning_content):나눠서 계산하자.|"
      R"(D:B:[{"type":"thinking","thinking":"27 곱하기 453을 나눠서 계산하자.","signature":"EqQBCgIYAh"}]|)"
      R"(D:B:[{"type":"redacted_thinking","data":"EmwKAhgB"}]|)"
      "D:12,231입니다.|F:stop|U:20/120");
  // Folded, the stream gives the answer a plain call gives.
  ChatResponse folded;
  for (const auto& e : d.events) {
    if (e.kind == StreamEvent::Kind::kDelta) AppendStreamPiece(folded, e);
  }
  EXPECT_EQ(folded.content, "12,231입니다.");
  EXPECT_EQ(bj::value(folded.message_extra.value()), bj::parse(R"({
      "reasoning_content":"27 곱하기 453을 나눠서 계산하자.",
      "thinking_blocks":[{"type":"thinking","thinking":"27 곱하기 453을 나눠서 계산하자.","signature":"EqQBCgIYAh"},
                         {"type":"redacted_thinking","data":"EmwKAhgB"}]})"));

  // Thinking pieces outside a thinking block, or without their string, are malformed.
  for (std::string_view bad :
       {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"x\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"x\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"redacted_thinking\"}}\n\n"}) {
    auto f = DecodeWhole(*kAnthropic, bad);
    ASSERT_TRUE(f.failure.has_value()) << bad;
    EXPECT_EQ(f.failure->cls, FailureClass::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace promptops::providers
