#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <random>

#include "providers/adapter.h"
#include "providers/openai_adapter_internal.h"
#include "providers/stream_test_util.h"
#include "support/mutate.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;
using testutil::DecodeWhole;
using testutil::ExpectSplitInvariant;

const std::unique_ptr<Adapter> kOpenAi = MakeAdapter("openai");

ChatRequest BasicRequest() {
  ChatRequest r;
  r.model = "gpt-4o-mini";
  r.messages = bj::parse(R"([{"role":"system","content":"Be brief."},
                             {"role":"user","content":"Hello!"}])")
                   .as_array();
  return r;
}

std::optional<std::string> HeaderOf(const UpstreamRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

TEST(OpenAiAdapter, MakeAdapterKnowsTheTypes) {
  EXPECT_EQ(MakeAdapter("openai")->type(), "openai");
  EXPECT_EQ(MakeAdapter("anthropic")->type(), "anthropic");
  EXPECT_EQ(MakeAdapter("simulated"), nullptr);  // not an HTTP adapter
  EXPECT_EQ(MakeAdapter("OpenAI"), nullptr);
}

TEST(OpenAiAdapter, BuildsChatRequestFieldByField) {
  ChatRequest r = BasicRequest();
  r.temperature = 0.5;
  r.top_p = 0.9;
  r.max_tokens = 100;
  r.stop = {"\n\n", "END"};
  r.seed = 7;
  r.user = "user-1";
  auto req = kOpenAi->BuildChat(r, "sk-test");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->path, "/chat/completions");
  EXPECT_EQ(HeaderOf(*req, "Authorization"), "Bearer sk-test");
  EXPECT_EQ(HeaderOf(*req, "Content-Type"), "application/json");
  EXPECT_EQ(req->body,
            R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},)"
            R"({"role":"user","content":"Hello!"}],"temperature":5E-1,"top_p":9E-1,)"
            R"("max_tokens":100,"stop":["\n\n","END"],"seed":7,"user":"user-1"})");
  // And as values, independent of number formatting:
  bj::object b = bj::parse(req->body).as_object();
  EXPECT_EQ(b.at("temperature").as_double(), 0.5);
  EXPECT_FALSE(b.contains("stream"));
  EXPECT_FALSE(b.contains("stream_options"));
}

TEST(OpenAiAdapter, OmitsUnsetOptionalFields) {
  auto req = kOpenAi->BuildChat(BasicRequest(), "sk-test");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->body,
            R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},)"
            R"({"role":"user","content":"Hello!"}]})");
}

TEST(OpenAiAdapter, NoAuthorizationHeaderWithoutKey) {
  auto req = kOpenAi->BuildChat(BasicRequest(), "");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(HeaderOf(*req, "Authorization"), std::nullopt);
}

TEST(OpenAiAdapter, StreamingAlwaysAsksForUsage) {
  for (bool client_asked : {false, true}) {
    ChatRequest r = BasicRequest();
    r.stream = true;
    r.include_usage = client_asked;
    auto req = kOpenAi->BuildChat(r, "k");
    ASSERT_TRUE(req.ok());
    bj::object b = bj::parse(req->body).as_object();
    EXPECT_EQ(b.at("stream"), true);
    EXPECT_EQ(b.at("stream_options"), (bj::object{{"include_usage", true}}));
    EXPECT_EQ(HeaderOf(*req, "Accept"), "text/event-stream");
  }
}

TEST(OpenAiAdapter, ForwardsExtraFieldsWithoutOverridingTypedOnes) {
  ChatRequest r = BasicRequest();
  r.extra = bj::parse(R"({"response_format":{"type":"json_object"},"n":1,
                          "tools":[{"type":"function","function":{"name":"f"}}],
                          "model":"evil","messages":[],"stream":true,
                          "stream_options":{"include_usage":false}})")
                .as_object();
  auto req = kOpenAi->BuildChat(r, "k");
  ASSERT_TRUE(req.ok());
  bj::object b = bj::parse(req->body).as_object();
  EXPECT_EQ(b.at("model"), "gpt-4o-mini");
  EXPECT_EQ(b.at("messages").as_array().size(), 2u);
  EXPECT_EQ(b.at("response_format"), (bj::object{{"type", "json_object"}}));
  EXPECT_EQ(b.at("n"), 1);
  EXPECT_TRUE(b.contains("tools"));
  EXPECT_FALSE(b.contains("stream"));
  EXPECT_FALSE(b.contains("stream_options"));
}

// The example response of the Chat Completions API reference.
constexpr std::string_view kDocResponse = R"({
  "id": "chatcmpl-123",
  "object": "chat.completion",
  "created": 1677652288,
  "model": "gpt-4o-mini",
  "system_fingerprint": "fp_44709d6fcb",
  "choices": [{
    "index": 0,
    "message": {
      "role": "assistant",
      "content": "\n\nHello there, how may I assist you today?"
    },
    "logprobs": null,
    "finish_reason": "stop"
  }],
  "usage": {
    "prompt_tokens": 9,
    "completion_tokens": 12,
    "total_tokens": 21
  }
})";

TEST(OpenAiAdapter, ParsesTheDocumentedResponse) {
  auto r = kOpenAi->ParseChat(200, kDocResponse, std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(c.id, "chatcmpl-123");
  EXPECT_EQ(c.model, "gpt-4o-mini");
  EXPECT_EQ(c.content, "\n\nHello there, how may I assist you today?");
  EXPECT_EQ(c.finish_reason, "stop");
  EXPECT_TRUE(c.tool_calls.is_null());
  ASSERT_TRUE(c.usage.has_value());
  EXPECT_EQ(c.usage->prompt_tokens, 9);
  EXPECT_EQ(c.usage->completion_tokens, 12);
  EXPECT_FALSE(c.usage->estimated);
}

// The fast (SAX) reading of plain answers must agree with the full parse on every shape: this
// reference reads the answer the way the full parser does, and every case is compared with it.
struct Expected {
  std::string id, model, content, finish_reason = "stop";
  std::optional<std::pair<std::int64_t, std::int64_t>> usage;
};

Expected Reference(std::string_view body) {
  bj::object o = bj::parse(body).as_object();
  Expected e;
  auto str = [](const bj::object& obj, std::string_view k) -> std::optional<std::string> {
    auto it = obj.find(k);
    if (it == obj.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  e.id = str(o, "id").value_or("");
  e.model = str(o, "model").value_or("");
  const bj::object& choice = o.at("choices").as_array()[0].as_object();
  const bj::object& message = choice.at("message").as_object();
  e.content = str(message, "content").value_or("");
  if (auto f = str(choice, "finish_reason")) e.finish_reason = *f;
  if (auto u = o.find("usage"); u != o.end() && u->value().is_object()) {
    auto num = [](const bj::object& obj, std::string_view k) -> std::int64_t {
      auto it = obj.find(k);
      if (it == obj.end()) return 0;
      if (it->value().is_int64()) return it->value().as_int64();
      if (it->value().is_double()) return static_cast<std::int64_t>(it->value().as_double());
      return 0;
    };
    e.usage = std::make_pair(num(u->value().as_object(), "prompt_tokens"),
                             num(u->value().as_object(), "completion_tokens"));
  }
  return e;
}

TEST(OpenAiAdapter, EveryAnswerShapeReadsLikeTheFullParse) {
  const std::string cases[] = {
      std::string(kDocResponse),
      // Today's OpenAI answer: refusal, annotations, usage details objects, service tier.
      R"({"id":"chatcmpl-B9","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06",
          "choices":[{"index":0,"message":{"role":"assistant","content":"안녕하세요! \"인용\" \\ 줄\n바꿈 \u00e9 \ud83d\ude00",
          "refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
          "usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
          "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":0,"accepted_prediction_tokens":0}},
          "service_tier":"default","system_fingerprint":"fp_fc9f1d7035"})",
      // Several choices: only the first counts; logprobs with nested arrays inside choice 0.
      R"({"id":"a","model":"m","choices":[{"index":0,"logprobs":{"content":[{"token":"x","top_logprobs":[1,2]}]},
          "message":{"role":"assistant","content":"first"},"finish_reason":"length"},
          {"index":1,"message":{"role":"assistant","content":"second"},"finish_reason":"stop"}]})",
      // Keys in another order, usage before choices, message after finish_reason.
      R"({"usage":{"completion_tokens":3,"prompt_tokens":2},"choices":[{"finish_reason":"content_filter",
          "message":{"content":"x","role":"assistant"}}],"model":"m2","id":"i2"})",
      // null content, null finish_reason, null usage, no id/model.
      R"({"choices":[{"message":{"role":"assistant","content":null},"finish_reason":null}],"usage":null})",
      // Integral doubles as token counts (some servers): left to the full parser.
      R"({"choices":[{"message":{"content":"d"}}],"usage":{"prompt_tokens":5.0,"completion_tokens":7.0}})",
      // Unknown extra values of every type, everywhere.
      R"({"x":[true,false,null,1.5,-2,{"y":"z"}],"choices":[{"message":{"content":"c","extra":{"a":[1]}},
          "z":18446744073709551615}],"id":"i","model":"m","usage":{"prompt_tokens":1,"completion_tokens":2,"n":null}})",
      // Keys longer than the scanner's key buffer, one starting with a key it reads; nesting
      // deeper than its inline stack.
      R"({"choices":[{"message":{"content_but_a_much_longer_key_than_any_read":"no","content":"yes",
          "deep":[[[[[[[[[[[[{"content":"inner"}]]]]]]]]]]]]},"finish_reason_with_a_long_suffix_over_32":"x"}],
          "usage_is_what_this_key_is_not_about_at_all":{"prompt_tokens":9},"usage":{"prompt_tokens":4}})",
      // Content split across the parser's buffer: a long answer.
      R"({"choices":[{"message":{"content":")" + std::string(20000, 'a') + R"("}}]})",
  };
  for (const auto& body : cases) {
    auto r = kOpenAi->ParseChat(200, body, std::nullopt);
    ASSERT_EQ(r.index(), 0u) << body;
    const auto& c = std::get<ChatResponse>(r);
    Expected e = Reference(body);
    EXPECT_EQ(c.id, e.id) << body;
    EXPECT_EQ(c.model, e.model) << body;
    EXPECT_EQ(c.content, e.content) << body;
    EXPECT_EQ(c.finish_reason, e.finish_reason) << body;
    ASSERT_EQ(c.usage.has_value(), e.usage.has_value()) << body;
    if (e.usage) {
      EXPECT_EQ(c.usage->prompt_tokens, e.usage->first) << body;
      EXPECT_EQ(c.usage->completion_tokens, e.usage->second) << body;
    }
    EXPECT_TRUE(c.tool_calls.is_null());
  }
}

// Differential test of the fast pass against the full parse: thousands of answers, each a seed
// answer with a few random edits (bytes deleted, inserted, replaced, spans repeated, the text cut
// short), most of them invalid JSON or unusual shapes. Wherever the fast pass reads an answer,
// the full parse must read the same answer; and both kinds of answer must occur many times.
TEST(OpenAiAdapter, FastPassAgreesWithTheFullParseOnMutatedAnswers) {
  const std::string seeds[] = {
      std::string(kDocResponse),
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
          "message":{"role":"assistant","content":"안녕 \"q\" \\ \n \u00e9 \ud83d\ude00 \/ \b\f\r\t"},
          "logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7}})",
      R"({"choices":[{"message":{"content":null,"x":[1,-2.5e+3,true,false,null,{}]},"finish_reason":null},
          {"message":{"content":"second"}}],"usage":null,"id":"\u0041b","model":"\u97f3"})",
      R"( {"usage":{"completion_tokens":-0,"prompt_tokens":123456789012345678},"choices":[{"message":
          {"content":"","role":"assistant"}}] } )",
      R"({"choices":[{"message":{"content":"t","tool_calls":[{"id":"c","type":"function",
          "function":{"name":"f","arguments":"{}"}}]}}]})",
      R"({"error":{"message":"boom"},"choices":[{"message":{"content":"e"}}]})",
      R"({"choices":[{"message":{"content":"r"}}],"usage":{"prompt_tokens":20,"completion_tokens":9,
          "prompt_tokens_details":{"cached_tokens":16,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":5,"accepted_prediction_tokens":0}}})",
  };
  const std::string alphabet =
      std::string("\"\\{}[],:0-+.eEu n t f\x01\x7f", 22) + "\xc3\xa9\xeb\xff";
  std::mt19937 rng(20261123);
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int fast = 0, full_only = 0;
  for (int round = 0; round < 6000; ++round) {
    std::string body = testing::Mutate(seeds[pick(std::size(seeds))], rng, alphabet, 3, 12);
    auto quick = openai_internal::ParseChatFast(body);
    if (!quick) {
      ++full_only;
      continue;
    }
    ++fast;
    auto full = openai_internal::ParseChatFull(200, body);
    ASSERT_EQ(full.index(), 0u) << "the fast pass read an answer the full parse refuses: " << body;
    const auto& f = std::get<ChatResponse>(full);
    EXPECT_EQ(quick->id, f.id) << body;
    EXPECT_EQ(quick->model, f.model) << body;
    EXPECT_EQ(quick->content, f.content) << body;
    EXPECT_EQ(quick->finish_reason, f.finish_reason) << body;
    EXPECT_TRUE(f.tool_calls.is_null()) << body;
    ASSERT_EQ(quick->usage.has_value(), f.usage.has_value()) << body;
    if (f.usage) {
      EXPECT_EQ(quick->usage->prompt_tokens, f.usage->prompt_tokens) << body;
      EXPECT_EQ(quick->usage->completion_tokens, f.usage->completion_tokens) << body;
      EXPECT_EQ(quick->usage->cached_tokens, f.usage->cached_tokens) << body;
      EXPECT_EQ(quick->usage->reasoning_tokens, f.usage->reasoning_tokens) << body;
    }
  }
  EXPECT_GT(fast, 1000);
  EXPECT_GT(full_only, 1000);
}

// Escapes, UTF-8 and bytes JSON refuses are found at every offset of a string: the fast pass
// agrees with the full parse, or leaves the answer to it.
TEST(OpenAiAdapter, FastPassFindsEveryByteAtEveryOffset) {
  const std::string specials[] = {"\\n", "\\\"", "\\u00e9", "é", "한", "\x01", "\xff", "\xc3"};
  int read = 0;
  for (std::size_t before = 0; before <= 17; ++before) {
    for (std::size_t after = 0; after <= 17; ++after) {
      for (const auto& sp : specials) {
        std::string body = R"({"choices":[{"message":{"content":")" + std::string(before, 'a') +
                           sp + std::string(after, 'b') + R"("}}]})";
        auto quick = openai_internal::ParseChatFast(body);
        auto full = openai_internal::ParseChatFull(200, body);
        if (!quick) {
          // Left to the full parse: only for bytes JSON refuses.
          EXPECT_EQ(full.index(), 1u) << body;
          continue;
        }
        ++read;
        ASSERT_EQ(full.index(), 0u) << body;
        EXPECT_EQ(quick->content, std::get<ChatResponse>(full).content) << body;
      }
    }
  }
  EXPECT_EQ(read, 18 * 18 * 5);  // the five valid specials, everywhere
}

// The fast pass leaves to the full parse what it does not read itself, and refuses what is not
// strict JSON.
TEST(OpenAiAdapter, FastPassLeavesRareShapesAndInvalidJsonToTheFullParse) {
  const std::string plain = R"({"choices":[{"message":{"content":"x"}}]})";
  ASSERT_TRUE(openai_internal::ParseChatFast(plain));
  const std::string left[] = {
      R"({"choices":[{"message":{"content":"x"}}],"id":"a","id":"b"})",              // given twice
      R"({"choices":[{"message":{"content":"x","tool_calls":[]}}]})",                // tool calls
      R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1.0}})",  // a double
      R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1234567890123456789}})",
      R"({"choices":[{"message":{"content":"\ud800"}}]})",  // lone surrogate
      R"({"choices":[{"message":{"content":"\udc00x"}}]})",
      R"({"choices":[{"message":{"content":"x"}}],"error":null})",  // an error member
      R"({"choices":[{"message":{"content":"x"}}],})",              // trailing comma
      R"({"choices":[{"message":{"content":"x"}}]}/**/)",           // a comment
      R"({"choices":[{"message":{"content":"x"}}],"n":01})",        // leading zero
      R"({"choices":[{"message":{"content":"x"}}],"n":1.})",
      R"({"choices":[{"message":{"content":"x"}}],"n":-})",
      R"({"choices":[{"message":{"content":"x"}}],"n":.5})",
      R"({"choices":[{"message":{"content":"x"}}],"n":nul})",
      R"({"choices":[{"message":{"content":"x\q"}}]})",  // unknown escape
      R"({"choices":[{"message":{"content":"x\u12"}}]})",
      "{\"choices\":[{\"message\":{\"content\":\"tab\there\"}}]}",         // raw control byte
      "{\"choices\":[{\"message\":{\"content\":\"\xc0\xaf\"}}]}",          // overlong UTF-8
      "{\"choices\":[{\"message\":{\"content\":\"\xed\xa0\x80\"}}]}",      // UTF-8 surrogate
      "{\"choices\":[{\"message\":{\"content\":\"\xf4\x90\x80\x80\"}}]}",  // above U+10FFFF
      R"({"choices":[{"message":{"content":"x"}}],"deep":)" + std::string(40, '[') +
          std::string(40, ']') + "}",  // deeper than the fast pass goes
      R"({"choices":[],"x":1})",
      R"({"choices":[{"message":{"content":"x"}}]} x)",
      R"([{"choices":[{"message":{"content":"x"}}]}])",
      "",
  };
  for (const auto& body : left) EXPECT_FALSE(openai_internal::ParseChatFast(body)) << body;
  // Escapes and UTF-8 it does read, decoded as the full parse decodes them.
  const std::string read =
      R"({"choices":[{"message":{"content":"\u0000\u00e9\u20ac\ud83d\ude00\/한)"
      "\xf0\x9f\x98\x80"
      R"("}}]})";
  auto quick = openai_internal::ParseChatFast(read);
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->content, std::string("\0é€😀/한😀", 18));
  EXPECT_EQ(quick->content,
            std::get<ChatResponse>(openai_internal::ParseChatFull(200, read)).content);
}

TEST(OpenAiAdapter, MalformedAnswersAreRefusedLikeBefore) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([1,2])", "not a JSON object"},
      {R"({"choices":[]})", "no choices"},
      {R"({"choices":"x"})", "no choices"},
      {R"({"choices":[1]})", "no choices"},
      {R"({"choices":[{"message":"x"}]})", "no message"},
      {R"({"choices":[{"finish_reason":"stop"}]})", "no message"},
      {R"({"choices":[{"message":{"content":"x"}}]} trailing)", "not a JSON object"},
      {"{\"choices\":[{\"message\":{\"content\":\"\xff\"}}]}", "not a JSON object"},
  };
  for (const auto& [body, what] : cases) {
    auto r = kOpenAi->ParseChat(200, body, std::nullopt);
    ASSERT_EQ(r.index(), 1u) << body;
    const auto& f = std::get<UpstreamFailure>(r);
    EXPECT_EQ(f.cls, FailureClass::kMalformed) << body;
    EXPECT_NE(f.message.find(what), std::string::npos) << body << " -> " << f.message;
  }
  // An error object in a 200 answer is an upstream error, as before.
  auto err = kOpenAi->ParseChat(200, R"({"error":{"message":"boom","type":"server_error"}})",
                                std::nullopt);
  ASSERT_EQ(err.index(), 1u);
  EXPECT_EQ(std::get<UpstreamFailure>(err).cls, FailureClass::kServerError);
}

TEST(OpenAiAdapter, ParsesToolCallsWithNullContent) {
  auto r = kOpenAi->ParseChat(200, R"({"id":"x","model":"m","choices":[{"index":0,
      "message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]},
      "finish_reason":"tool_calls"}]})",
                              std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(c.content, "");
  EXPECT_EQ(c.finish_reason, "tool_calls");
  ASSERT_TRUE(c.tool_calls.is_array());
  EXPECT_EQ(c.tool_calls.at(0).at("function").at("name"), "get_weather");
  EXPECT_FALSE(c.usage.has_value());  // the gateway estimates then
}

struct FailureCase {
  int status;
  std::string_view body;
  FailureClass cls;
  std::string_view message;
  ErrorCode client_code;
};

TEST(OpenAiAdapter, ClassifiesErrorResponses) {
  const FailureCase cases[] = {
      {400,
       R"({"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}})",
       FailureClass::kClientError, "invalid_request_error: Invalid value for 'temperature'.",
       ErrorCode::kInvalidArgument},
      {401,
       R"({"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})",
       FailureClass::kClientError,
       "invalid_request_error: Incorrect API key provided: sk-abc***xyz.",
       ErrorCode::kUpstreamError},
      {404,
       R"({"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}})",
       FailureClass::kClientError, "invalid_request_error: The model `gpt-9` does not exist",
       ErrorCode::kInvalidArgument},
      {429,
       R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})",
       FailureClass::kRateLimited, "requests: Rate limit reached", ErrorCode::kRateLimited},
      {500, R"({"error":{"message":"The server had an error","type":"server_error"}})",
       FailureClass::kServerError, "server_error: The server had an error",
       ErrorCode::kUpstreamError},
      {503, "<html>503 Service Temporarily Unavailable</html>", FailureClass::kServerError,
       "<html>503 Service Temporarily Unavailable</html>", ErrorCode::kUpstreamError},
      {502, "", FailureClass::kServerError, "HTTP 502", ErrorCode::kUpstreamError},
      {408, "", FailureClass::kTimeout, "HTTP 408", ErrorCode::kTimeout},
      {400, R"({"error":"bad things"})", FailureClass::kClientError, "bad things",
       ErrorCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status);
    auto r = kOpenAi->ParseChat(c.status, c.body, std::nullopt);
    ASSERT_EQ(r.index(), 1u);
    const auto& f = std::get<UpstreamFailure>(r);
    EXPECT_EQ(f.cls, c.cls);
    EXPECT_EQ(f.status, c.status);
    EXPECT_EQ(f.message, c.message);
    EXPECT_EQ(f.ToError().code, c.client_code);
  }
}

TEST(OpenAiAdapter, ProviderKeyRejectionNeverReachesTheClient) {
  auto r = kOpenAi->ParseChat(
      401, R"({"error":{"message":"Incorrect API key provided: sk-abc***xyz."}})", std::nullopt);
  Error e = std::get<UpstreamFailure>(r).ToError();
  EXPECT_EQ(e.code, ErrorCode::kUpstreamError);
  EXPECT_EQ(e.message.find("sk-"), std::string::npos) << e.message;
}

TEST(OpenAiAdapter, RateLimitKeepsRetryAfter) {
  auto r = kOpenAi->ParseChat(429, R"({"error":{"message":"slow down"}})",
                              std::chrono::milliseconds(2000));
  const auto& f = std::get<UpstreamFailure>(r);
  EXPECT_EQ(f.cls, FailureClass::kRateLimited);
  EXPECT_EQ(f.retry_after, std::chrono::milliseconds(2000));
  EXPECT_TRUE(IsRetryable(f.cls));
}

TEST(OpenAiAdapter, MalformedSuccessBodies) {
  const std::string_view bodies[] = {"",
                                     "not json",
                                     "[1,2]",
                                     R"({"id":"x"})",
                                     R"({"choices":[]})",
                                     R"({"choices":[1]})",
                                     R"({"choices":[{"index":0}]})",
                                     R"({"choices":[{"message":{"content":"x"})"};
  for (auto body : bodies) {
    SCOPED_TRACE(body);
    auto r = kOpenAi->ParseChat(200, body, std::nullopt);
    ASSERT_EQ(r.index(), 1u);
    EXPECT_EQ(std::get<UpstreamFailure>(r).cls, FailureClass::kMalformed);
    EXPECT_FALSE(IsRetryable(FailureClass::kMalformed));
  }
}

TEST(OpenAiAdapter, ErrorObjectWithStatus200IsAServerError) {
  auto r = kOpenAi->ParseChat(200, R"({"error":{"message":"overloaded","type":"server_error"}})",
                              std::nullopt);
  ASSERT_EQ(r.index(), 1u);
  EXPECT_EQ(std::get<UpstreamFailure>(r).cls, FailureClass::kServerError);
}

// A stream as the API reference documents it, with stream_options.include_usage.
constexpr std::string_view kDocStream =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]"
    ","
    "\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"
    "\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\" "
    "there\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
    "data: [DONE]\n\n";

TEST(OpenAiStream, DecodesTheDocumentedStreamAtEverySplit) {
  auto d = ExpectSplitInvariant(*kOpenAi, kDocStream);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:|D:Hello|D: there|F:stop|U:9/2");
  EXPECT_EQ(d.Text(), "Hello there");
}

TEST(OpenAiStream, WithoutUsageChunk) {
  std::string s(kDocStream);
  auto begin = s.find(
      "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\","
      "\"created\":1694268190,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":"
      "\"fp_44709d6fcb\",\"choices\":[],");
  auto end = s.find("data: [DONE]");
  s.erase(begin, end - begin);
  auto d = DecodeWhole(*kOpenAi, s);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:|D:Hello|D: there|F:stop");
}

TEST(OpenAiStream, CrlfLineEndsAndCommentsAndBareCr) {
  const std::string_view streams[] = {
      ": keep-alive\r\n\r\ndata: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\r\n\r\n"
      "data: [DONE]\r\n\r\n",
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\r"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\r\r"
      "data: [DONE]\r\r",
      "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data:{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
      "data:[DONE]\n\n",
  };
  for (auto s : streams) {
    auto d = ExpectSplitInvariant(*kOpenAi, s);
    EXPECT_FALSE(d.failure.has_value());
    EXPECT_EQ(d.Summary(), "D:a|F:length");
  }
}

TEST(OpenAiStream, DoneWithoutFinalNewlineStillEndsTheStream) {
  auto d = DecodeWhole(
      *kOpenAi,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]");
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:a");
}

TEST(OpenAiStream, TruncatedStreamFailsInFinish) {
  std::string s(kDocStream);
  s.resize(s.find("data: [DONE]"));
  auto d = ExpectSplitInvariant(*kOpenAi, s);
  ASSERT_TRUE(d.failure.has_value());
  EXPECT_TRUE(d.failed_in_finish);
  EXPECT_EQ(d.failure->cls, FailureClass::kStreamError);
  EXPECT_EQ(d.failure->message, "the stream ended before data: [DONE]");
  EXPECT_EQ(d.Summary(), "D:|D:Hello|D: there|F:stop|U:9/2");  // what came is kept

  auto cut_mid_event = DecodeWhole(*kOpenAi, std::string(kDocStream).substr(0, 300));
  ASSERT_TRUE(cut_mid_event.failure.has_value());  // a half JSON object
  EXPECT_EQ(cut_mid_event.failure->cls, FailureClass::kMalformed);

  auto empty = DecodeWhole(*kOpenAi, "");
  ASSERT_TRUE(empty.failure.has_value());
  EXPECT_EQ(empty.failure->cls, FailureClass::kStreamError);
}

TEST(OpenAiStream, ErrorInsideTheStream) {
  const std::string_view streams[] = {
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "data: {\"error\":{\"message\":\"The server had an error while processing your request.\","
      "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      "event: error\ndata: {\"message\":\"The server had an error while processing your "
      "request.\",\"type\":\"server_error\"}\n\n",
  };
  for (auto s : streams) {
    auto d = ExpectSplitInvariant(*kOpenAi, s);
    ASSERT_TRUE(d.failure.has_value());
    EXPECT_FALSE(d.failed_in_finish);
    EXPECT_EQ(d.failure->cls, FailureClass::kStreamError);
    EXPECT_EQ(d.Summary(), "D:a");
  }
  auto d = DecodeWhole(*kOpenAi, streams[0]);
  EXPECT_EQ(d.failure->message,
            "server_error: The server had an error while processing your request.");
}

TEST(OpenAiStream, MalformedChunkFails) {
  const std::string_view streams[] = {
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}\n\n",
      "data: hello\n\n",
      "data: {\"choices\":{}}\n\n",
      "data: {\"choices\":[7]}\n\n",
  };
  for (auto s : streams) {
    SCOPED_TRACE(s);
    auto d = DecodeWhole(*kOpenAi, s);
    ASSERT_TRUE(d.failure.has_value());
    EXPECT_EQ(d.failure->cls, FailureClass::kMalformed);
  }
}

TEST(OpenAiStream, KoreanSplitMidUtf8) {
  std::string s;
  for (std::string_view t : {"안녕", "하세요", ", 세계!"}) {
    s += "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + std::string(t) +
         "\"}}]}\n\n";
  }
  s += "data: [DONE]\n\n";
  auto d = ExpectSplitInvariant(*kOpenAi, s);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Text(), "안녕하세요, 세계!");
  EXPECT_EQ(d.Summary(), "D:안녕|D:하세요|D:, 세계!");
}

TEST(OpenAiStream, IgnoresEverythingAfterDone) {
  auto d = DecodeWhole(*kOpenAi,
                       "data: [DONE]\n\ndata: {\"choices\":[{\"index\":0,\"delta\":"
                       "{\"content\":\"late\"}}]}\n\ndata: garbage\n\n");
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "");
}

TEST(OpenAiStream, RelaysToolCallDeltasAndOnlyTheFirstChoice) {
  auto d = DecodeWhole(
      *kOpenAi,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}},"
      "{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
      "data: [DONE]\n\n");
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(
      d.Summary(),
      R"(D:T:[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]|)"
      "F:tool_calls");
  ASSERT_TRUE(d.events[0].tool_calls.is_array());
  EXPECT_EQ(d.events[0].tool_calls.at(0).at("id"), "call_1");
}

TEST(OpenAiStream, RelaysEachChunksLogprobs) {
  auto d = DecodeWhole(
      *kOpenAi,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"logprobs\":{\"content\":[],\"refusal\":null}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"네\"},\"logprobs\":{\"content\":"
      "[{\"token\":\"네\",\"logprob\":-0.25,\"bytes\":[235,132,164],\"top_logprobs\":[]}]}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n");
  ASSERT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:|D:네|F:stop");
  EXPECT_EQ(d.events[0].logprobs, bj::parse(R"({"content":[],"refusal":null})"));
  EXPECT_EQ(d.events[1].logprobs.at("content").at(0).at("logprob"), -0.25);
  bj::value all;
  for (const auto& e : d.events) AccumulateLogprobs(all, e.logprobs);
  EXPECT_EQ(all, bj::parse(R"({"content":[{"token":"네","logprob":-0.25,"bytes":[235,132,164],)"
                           R"("top_logprobs":[]}]})"));
}

TEST(OpenAiAdapter, PassesLogprobsThrough) {
  auto r = kOpenAi->ParseChat(200, R"({"id":"x","model":"m","choices":[{"index":0,
      "message":{"role":"assistant","content":"Yes"},"finish_reason":"stop",
      "logprobs":{"content":[{"token":"Yes","logprob":-0.01,"bytes":[89,101,115],
      "top_logprobs":[{"token":"Yes","logprob":-0.01,"bytes":[89,101,115]}]}],"refusal":null}}]})",
                              std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const auto& c = std::get<ChatResponse>(r);
  EXPECT_EQ(c.content, "Yes");
  ASSERT_TRUE(c.logprobs.has_value());
  EXPECT_EQ(c.logprobs->at("content").at(0).at("top_logprobs").at(0).at("token"), "Yes");
  EXPECT_TRUE(c.logprobs->at("refusal").is_null());
  // null logprobs (not asked for): nothing kept, and the fast pass reads the answer.
  auto plain = kOpenAi->ParseChat(
      200, R"({"choices":[{"message":{"content":"x"},"logprobs":null,"finish_reason":"stop"}]})",
      std::nullopt);
  ASSERT_EQ(plain.index(), 0u);
  EXPECT_FALSE(std::get<ChatResponse>(plain).logprobs.has_value());
  EXPECT_TRUE(
      openai_internal::ParseChatFast(R"({"choices":[{"message":{"content":"x"},"logprobs":null}]})")
          .has_value());
  EXPECT_FALSE(openai_internal::ParseChatFast(
                   R"({"choices":[{"message":{"content":"x"},"logprobs":{"content":[]}}]})")
                   .has_value());
}

TEST(OpenAiAdapter, PassesRefusalsAnnotationsAndAudioThrough) {
  auto r = kOpenAi->ParseChat(200, R"({"choices":[{"index":0,"message":{"role":"assistant",
      "content":null,"refusal":"I can't help with that.","annotations":[]},"finish_reason":"stop"}]})",
                              std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  EXPECT_EQ(bj::value(std::get<ChatResponse>(r).message_extra.value()),
            bj::parse(R"({"refusal":"I can't help with that."})"));
  auto cited = kOpenAi->ParseChat(200, R"({"choices":[{"message":{"content":"See [1].",
      "annotations":[{"type":"url_citation","url_citation":{"url":"https://example.com","title":"예"}}],
      "audio":null,"refusal":null}}]})",
                                  std::nullopt);
  ASSERT_EQ(cited.index(), 0u);
  EXPECT_EQ(bj::value(std::get<ChatResponse>(cited).message_extra.value()),
            bj::parse(R"({"annotations":[{"type":"url_citation",)"
                      R"("url_citation":{"url":"https://example.com","title":"예"}}]})"));
  // Nothing to pass: the fast pass reads it (null refusal, empty annotations), nothing kept.
  constexpr std::string_view kQuiet =
      R"({"choices":[{"message":{"content":"x","refusal":null,"annotations":[],"audio":null}}]})";
  ASSERT_TRUE(openai_internal::ParseChatFast(kQuiet).has_value());
  EXPECT_FALSE(openai_internal::ParseChatFast(kQuiet)->message_extra.has_value());
  EXPECT_FALSE(
      openai_internal::ParseChatFast(R"({"choices":[{"message":{"content":null,"refusal":"no"}}]})")
          .has_value());

  auto d = DecodeWhole(*kOpenAi,
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                       "\"content\":null,\"refusal\":\"\"}}]}\n\n"
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"죄송\"}}]}\n\n"
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"합니다\"}}]}\n\n"
                       "data: [DONE]\n\n");
  ASSERT_FALSE(d.failure.has_value());
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[1].refusal, "죄송");
  EXPECT_EQ(d.events[2].refusal, "합니다");
}

TEST(OpenAiAdapter, PassesReasoningThroughUnderTheUpstreamsName) {
  // DeepSeek's and vLLM's name, and OpenRouter's.
  auto r = kOpenAi->ParseChat(200, R"({"choices":[{"index":0,"message":{"role":"assistant",
      "content":"42","reasoning_content":"6 곱하기 7은 42."},"finish_reason":"stop"}]})",
                              std::nullopt);
  ASSERT_EQ(r.index(), 0u);
  const ChatResponse& a = std::get<ChatResponse>(r);
  EXPECT_EQ(a.content, "42");
  EXPECT_EQ(bj::value(a.message_extra.value()),
            bj::parse(R"({"reasoning_content":"6 곱하기 7은 42."})"));
  EXPECT_EQ(ReasoningText(a.message_extra), "6 곱하기 7은 42.");
  auto o = kOpenAi->ParseChat(
      200, R"({"choices":[{"message":{"content":"42","reasoning":"Multiply."}}]})", std::nullopt);
  ASSERT_EQ(o.index(), 0u);
  EXPECT_EQ(ReasoningText(std::get<ChatResponse>(o).message_extra), "Multiply.");
  // An empty or null reasoning says nothing: the fast pass reads the answer, nothing is kept.
  constexpr std::string_view kQuiet =
      R"({"choices":[{"message":{"content":"x","reasoning_content":"","reasoning":null}}]})";
  ASSERT_TRUE(openai_internal::ParseChatFast(kQuiet).has_value());
  EXPECT_FALSE(openai_internal::ParseChatFast(kQuiet)->message_extra.has_value());
  auto full = kOpenAi->ParseChat(200, kQuiet, std::nullopt);
  ASSERT_EQ(full.index(), 0u);
  EXPECT_FALSE(std::get<ChatResponse>(full).message_extra.has_value());
  EXPECT_FALSE(openai_internal::ParseChatFast(
                   R"({"choices":[{"message":{"content":"x","reasoning_content":"y"}}]})")
                   .has_value());

  // Streamed: each piece keeps its member's name; a chunk of reasoning only has no text.
  auto d = ExpectSplitInvariant(
      *kOpenAi,
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,"
      "\"reasoning_content\":\"\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null,\"reasoning_content\":"
      "\"곱셈\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\" 먼저\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"42\"}}]}\n\n"
      "data: [DONE]\n\n");
  ASSERT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:|D:R(reasoning_content):곱셈|D:R(reasoning): 먼저|D:42");
  // Folded into the answer, as the gateway assembles a stream.
  ChatResponse folded;
  for (const auto& e : d.events) AppendStreamPiece(folded, e);
  EXPECT_EQ(folded.content, "42");
  EXPECT_EQ(bj::value(folded.message_extra.value()),
            bj::parse(R"({"reasoning_content":"곱셈","reasoning":" 먼저"})"));
}

TEST(OpenAiAdapter, ReadsTheUsagesCachedAndReasoningTokens) {
  constexpr std::string_view kAnswer =
      R"({"choices":[{"message":{"content":"42"},"finish_reason":"stop"}],
          "usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
          "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":256,"audio_tokens":0}}})";
  for (bool fast : {true, false}) {
    std::optional<ChatResponse> r;
    if (fast) {
      r = openai_internal::ParseChatFast(kAnswer);
    } else {
      auto full = openai_internal::ParseChatFull(200, kAnswer);
      ASSERT_EQ(full.index(), 0u);
      r = std::get<ChatResponse>(full);
    }
    ASSERT_TRUE(r.has_value()) << fast;
    EXPECT_EQ(r->usage->prompt_tokens, 2006) << fast;
    EXPECT_EQ(r->usage->cached_tokens, 1920) << fast;
    EXPECT_EQ(r->usage->reasoning_tokens, 256) << fast;
    EXPECT_EQ(r->usage->cache_write_tokens, std::nullopt) << fast;
  }
  // Without details, or null ones: none.
  auto plain = openai_internal::ParseChatFast(
      R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"prompt_tokens_details":null}})");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->usage->cached_tokens, std::nullopt);
  EXPECT_EQ(plain->usage->reasoning_tokens, std::nullopt);
  // Streamed: the final usage chunk's.
  auto d =
      DecodeWhole(*kOpenAi,
                  "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n"
                  "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":9,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":32},"
                  "\"completion_tokens_details\":{\"reasoning_tokens\":4}}}\n\n"
                  "data: [DONE]\n\n");
  ASSERT_FALSE(d.failure.has_value());
  ASSERT_EQ(d.events.back().kind, StreamEvent::Kind::kUsage);
  EXPECT_EQ(d.events.back().usage->cached_tokens, 32);
  EXPECT_EQ(d.events.back().usage->reasoning_tokens, 4);
}

TEST(OpenAiStream, OversizedLineFails) {
  auto decoder = kOpenAi->NewStreamDecoder();
  std::vector<StreamEvent> out;
  std::string big(1 << 20, 'x');
  std::variant<std::monostate, UpstreamFailure> r;
  for (int i = 0; i < 6 && r.index() == 0; ++i) r = decoder->Feed(big, out);
  ASSERT_EQ(r.index(), 1u);
  EXPECT_EQ(std::get<UpstreamFailure>(r).cls, FailureClass::kMalformed);
}

TEST(OpenAiAdapter, BuildsEmbeddingsWithTheUpstreamModel) {
  bj::object body =
      bj::parse(R"({"model":"embed-default","input":["a","b"],"encoding_format":"float"})")
          .as_object();
  auto req = kOpenAi->BuildEmbeddings(body, "text-embedding-3-small", "sk-e");
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->path, "/embeddings");
  EXPECT_EQ(HeaderOf(*req, "Authorization"), "Bearer sk-e");
  EXPECT_EQ(req->body,
            R"({"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"})");
  EXPECT_FALSE(MakeAdapter("anthropic")->BuildEmbeddings(body, "m", "k").has_value());
}

}  // namespace
}  // namespace promptops::providers
