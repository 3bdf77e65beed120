#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "providers/simulated.h"

namespace promptops::providers {
namespace {

namespace bj = boost::json;
using std::chrono::microseconds;

ChatRequest Ask(std::string_view user_text, std::optional<std::int64_t> max_tokens = {}) {
  ChatRequest r;
  r.model = "sim-1";
  r.messages = bj::array{bj::object{{"role", "system"}, {"content", "You are terse."}},
                         bj::object{{"role", "user"}, {"content", user_text}}};
  r.max_tokens = max_tokens;
  return r;
}

TEST(Simulated, AnswerStartsWithThePromptsFirstTwelveWords) {
  SimulatedConfig cfg;
  struct Case {
    std::string_view prompt;
    std::string_view prefix;
  };
  const Case cases[] = {
      {"What is the capital of France?", "Simulated answer to: What is the capital of France? "},
      {"one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
       "Simulated answer to: one two three four five six seven eight nine ten eleven twelve "
       "... "},
      {"  spaced\n\tout  ", "Simulated answer to: spaced out "},
      {"", "Simulated answer to: (empty) "},
      {"서울의 날씨는 어때요?", "Simulated answer to: 서울의 날씨는 어때요? "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.prompt);
    SimulatedPlan plan = PlanSimulated(cfg, Ask(c.prompt));
    EXPECT_EQ(plan.Content().substr(0, c.prefix.size()), c.prefix);
    EXPECT_EQ(plan.tokens.size(), 64u);  // max_tokens_default
    EXPECT_EQ(plan.usage.completion_tokens, 64);
    EXPECT_EQ(plan.finish_reason, "stop");
    EXPECT_FALSE(plan.error.has_value());
  }
}

TEST(Simulated, TokensAreWordsWithLeadingSpaces) {
  SimulatedPlan plan = PlanSimulated({}, Ask("Hi there", 8));
  ASSERT_EQ(plan.tokens.size(), 8u);
  EXPECT_EQ(plan.tokens[0], "Simulated");
  EXPECT_EQ(plan.tokens[1], " answer");
  EXPECT_EQ(plan.tokens[2], " to:");
  EXPECT_EQ(plan.tokens[3], " Hi");
  EXPECT_EQ(plan.tokens[4], " there");
  for (std::size_t i = 1; i < plan.tokens.size(); ++i) {
    EXPECT_EQ(plan.tokens[i].front(), ' ');
    EXPECT_EQ(std::count(plan.tokens[i].begin(), plan.tokens[i].end(), ' '), 1);
  }
}

TEST(Simulated, SmallMaxTokensCutsTheAnswerWithLength) {
  SimulatedPlan plan = PlanSimulated({}, Ask("Tell me a long story please", 4));
  EXPECT_EQ(plan.Content(), "Simulated answer to: Tell");
  EXPECT_EQ(plan.finish_reason, "length");
  EXPECT_EQ(plan.usage.completion_tokens, 4);
}

TEST(Simulated, UsesTheLastUserMessageAndTextParts) {
  ChatRequest r;
  r.messages = bj::parse(R"([{"role":"user","content":"first question"},
      {"role":"assistant","content":"an answer"},
      {"role":"user","content":[{"type":"text","text":"second "},{"type":"text","text":"one"},
                                {"type":"image_url","image_url":{"url":"x"}}]}])")
                   .as_array();
  r.max_tokens = 5;
  EXPECT_EQ(PlanSimulated({}, r).Content(), "Simulated answer to: second one");
}

TEST(Simulated, SameRequestSamePlanDifferentPromptOrSeedDifferentLatency) {
  SimulatedConfig cfg;
  ChatRequest a = Ask("hello");
  SimulatedPlan p1 = PlanSimulated(cfg, a);
  SimulatedPlan p2 = PlanSimulated(cfg, a);
  EXPECT_EQ(p1.tokens, p2.tokens);
  EXPECT_EQ(p1.total_latency, p2.total_latency);
  EXPECT_EQ(p1.ttft, p2.ttft);

  SimulatedPlan other_prompt = PlanSimulated(cfg, Ask("hello!"));
  EXPECT_NE(p1.total_latency, other_prompt.total_latency);

  ChatRequest seeded = a;
  seeded.seed = 1;
  SimulatedPlan s1 = PlanSimulated(cfg, seeded);
  EXPECT_NE(p1.total_latency, s1.total_latency);
  EXPECT_NE(p1.tokens, s1.tokens);  // the filler differs too
  EXPECT_EQ(s1.tokens, PlanSimulated(cfg, seeded).tokens);

  SimulatedConfig cfg2;
  cfg2.seed = 43;
  EXPECT_NE(p1.total_latency, PlanSimulated(cfg2, a).total_latency);
}

// Pins the generator: plans must not change between platforms or refactorings, since demos
// and drills are scripted against them. Update deliberately, with a note, if the rule changes.
// (Latencies go through std::exp/std::log: a libm other than glibc's could differ by 1 us.)
TEST(Simulated, PlanIsPinned) {
  SimulatedPlan p = PlanSimulated({}, Ask("What is the capital of France?", 12));
  EXPECT_EQ(p.Content(), "Simulated answer to: What is the capital of France? esse veniam velit");
  EXPECT_EQ(p.total_latency.count(), 401144);
  EXPECT_EQ(p.ttft.count(), 242525);
}

ChatRequest AskWithTools(std::string_view user_text, std::string_view extra_json) {
  ChatRequest r = Ask(user_text, 12);
  r.extra = bj::parse(extra_json).as_object();
  return r;
}

constexpr std::string_view kWeatherTools = R"("tools":[
    {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
      "properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},
        "days":{"type":"integer"},"detailed":{"type":["boolean","null"]},"note":{"type":"string"}},
      "required":["city","unit","days","detailed"]}}},
    {"type":"function","function":{"name":"get_time"}}])";

TEST(Simulated, OfferedToolsAreCalledWithArgumentsFromTheSchema) {
  SimulatedPlan p =
      PlanSimulated({}, AskWithTools("서울 날씨 알려줘", "{" + std::string(kWeatherTools) + "}"));
  ASSERT_TRUE(p.tool_call.has_value());
  EXPECT_EQ(p.tool_call->name, "get_weather");
  EXPECT_EQ(p.tool_call->id.rfind("call_sim_", 0), 0u);
  EXPECT_EQ(p.tool_call->id.size(), 9u + 16u);
  EXPECT_EQ(p.finish_reason, "tool_calls");
  // The pieces join to the arguments: the required properties only, by their schema.
  bj::value args = bj::parse(p.Content());
  EXPECT_EQ(args.at("city"), "서울 날씨 알려줘");
  EXPECT_EQ(args.at("unit"), "celsius");
  EXPECT_TRUE(args.at("days").is_int64());
  EXPECT_GE(args.at("days").as_int64(), 0);
  EXPECT_LT(args.at("days").as_int64(), 100);
  EXPECT_EQ(args.at("detailed"), true);
  EXPECT_FALSE(args.as_object().contains("note"));
  EXPECT_GE(p.tokens.size(), 2u);
  EXPECT_LE(p.tokens.size(), 4u);
  for (const auto& piece : p.tokens) EXPECT_FALSE(piece.empty());
  EXPECT_GT(p.usage.completion_tokens, 0);
  // Deterministic; streamed and plain alike.
  ChatRequest again = AskWithTools("서울 날씨 알려줘", "{" + std::string(kWeatherTools) + "}");
  again.stream = true;
  SimulatedPlan q = PlanSimulated({}, again);
  EXPECT_EQ(q.tool_call->id, p.tool_call->id);
  EXPECT_EQ(q.Content(), p.Content());

  // tool_choice names another function (no parameters: empty arguments); "none": text.
  SimulatedPlan named = PlanSimulated(
      {}, AskWithTools(
              "now?", "{" + std::string(kWeatherTools) +
                          R"(,"tool_choice":{"type":"function","function":{"name":"get_time"}}})"));
  ASSERT_TRUE(named.tool_call.has_value());
  EXPECT_EQ(named.tool_call->name, "get_time");
  EXPECT_EQ(named.Content(), "{}");
  SimulatedPlan none = PlanSimulated(
      {}, AskWithTools("now?", "{" + std::string(kWeatherTools) + R"(,"tool_choice":"none"})"));
  EXPECT_FALSE(none.tool_call.has_value());
  EXPECT_EQ(none.tokens.front(), "Simulated");

  // After a tool's result, the text answer (to the last user message).
  ChatRequest after = AskWithTools("서울 날씨 알려줘", "{" + std::string(kWeatherTools) + "}");
  after.messages.push_back(
      bj::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", bj::array{}}});
  after.messages.push_back(
      bj::object{{"role", "tool"}, {"tool_call_id", "c"}, {"content", "맑음"}});
  SimulatedPlan answer = PlanSimulated({}, after);
  EXPECT_FALSE(answer.tool_call.has_value());
  EXPECT_EQ(answer.Content().rfind("Simulated answer to: 서울 날씨 알려줘", 0), 0u);
  EXPECT_EQ(answer.finish_reason, "stop");

  // Korean and other multi-byte text is never cut inside a character.
  SimulatedPlan korean = PlanSimulated(
      {},
      AskWithTools(
          "가나다라마바사아자차카타파하 가나다라마바사아자차카타파하",
          R"({"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"q":{"type":"string"}}}}}]})"));
  ASSERT_TRUE(korean.tool_call.has_value());
  for (const auto& piece : korean.tokens) {
    EXPECT_NE(static_cast<unsigned char>(piece.front()) & 0xC0, 0x80) << piece;
  }
  EXPECT_EQ(bj::parse(korean.Content()).at("q"),
            "가나다라마바사아자차카타파하 가나다라마바사아자차카타파하");
}

TEST(Simulated, JsonResponseFormatsGetJsonAnswers) {
  SimulatedPlan schema = PlanSimulated(
      {}, AskWithTools("제주도 인구는?",
                       R"({"response_format":{"type":"json_schema","json_schema":{"name":"city",
                           "schema":{"type":"object","properties":{"city":{"type":"string"},
                           "population":{"type":"integer"},"capital":{"type":"boolean"}},
                           "required":["city","population"]}}}})"));
  EXPECT_FALSE(schema.tool_call.has_value());
  EXPECT_EQ(schema.finish_reason, "stop");
  bj::value v = bj::parse(schema.Content());
  EXPECT_EQ(v.at("city"), "제주도 인구는?");
  EXPECT_TRUE(v.at("population").is_int64());
  EXPECT_FALSE(v.as_object().contains("capital"));
  EXPECT_LE(schema.tokens.size(), 4u);
  SimulatedPlan object =
      PlanSimulated({}, AskWithTools("hi there", R"({"response_format":{"type":"json_object"}})"));
  EXPECT_EQ(bj::parse(object.Content()), bj::parse(R"({"answer":"hi there"})"));
  // Offered tools come first; text formats change nothing.
  SimulatedPlan both =
      PlanSimulated({}, AskWithTools("now?", "{" + std::string(kWeatherTools) +
                                                 R"(,"response_format":{"type":"json_object"}})"));
  EXPECT_TRUE(both.tool_call.has_value());
  SimulatedPlan text =
      PlanSimulated({}, AskWithTools("hi there", R"({"response_format":{"type":"text"}})"));
  EXPECT_EQ(text.Content(), PlanSimulated({}, Ask("hi there", 12)).Content());
}

TEST(Simulated, ReasoningEffortAddsReasoningBeforeTheSameAnswer) {
  ChatRequest plain = Ask("서울의 인구는 몇 명이에요?", 20);
  SimulatedPlan without = PlanSimulated({}, plain);
  EXPECT_TRUE(without.reasoning_tokens.empty());
  const std::pair<std::string_view, std::size_t> efforts[] = {
      {"minimal", 8}, {"low", 16}, {"medium", 32}, {"high", 64}, {"unheard-of", 32}};
  for (const auto& [effort, length] : efforts) {
    ChatRequest r = plain;
    r.extra = bj::object{{"reasoning_effort", effort}};
    SimulatedPlan p = PlanSimulated({}, r);
    ASSERT_EQ(p.reasoning_tokens.size(), length) << effort;
    EXPECT_EQ(p.Reasoning().rfind("Thinking about: 서울의 인구는 몇 명이에요? ", 0), 0u)
        << p.Reasoning();
    // The answer, its latencies and the error decision are the same request's without it.
    EXPECT_EQ(p.tokens, without.tokens) << effort;
    EXPECT_EQ(p.total_latency, without.total_latency) << effort;
    EXPECT_EQ(p.ttft, without.ttft) << effort;
    EXPECT_EQ(p.usage.completion_tokens,
              without.usage.completion_tokens + static_cast<std::int64_t>(length))
        << effort;
    EXPECT_EQ(p.usage.prompt_tokens, without.usage.prompt_tokens) << effort;
  }
  // "none" and non-strings: no reasoning.
  for (bj::value none : {bj::value("none"), bj::value(nullptr), bj::value(3)}) {
    ChatRequest r = plain;
    r.extra = bj::object{{"reasoning_effort", none}};
    EXPECT_TRUE(PlanSimulated({}, r).reasoning_tokens.empty()) << none;
  }
  // A full stop after the words unless they end with one.
  ChatRequest korean = Ask("안녕 하세요");
  korean.extra = bj::object{{"reasoning_effort", "low"}};
  EXPECT_EQ(PlanSimulated({}, korean).Reasoning().rfind("Thinking about: 안녕 하세요. ", 0), 0u);
  // Few words: cut to the length; deterministic.
  ChatRequest minimal = Ask("one two three four five six seven eight nine ten", 5);
  minimal.extra = bj::object{{"reasoning_effort", "minimal"}};
  EXPECT_EQ(PlanSimulated({}, minimal).Reasoning(), "Thinking about: one two three four five six");
  EXPECT_EQ(PlanSimulated({}, minimal).reasoning_tokens,
            PlanSimulated({}, minimal).reasoning_tokens);
  // Streamed: the reasoning's tokens take their intervals before the answer's.
  SimulatedConfig cfg;
  cfg.tokens_per_second = 40;
  ChatRequest streamed = Ask("stream me", 10);
  streamed.stream = true;
  streamed.extra = bj::object{{"reasoning_effort", "low"}};
  SimulatedPlan sp = PlanSimulated(cfg, streamed);
  EXPECT_EQ(sp.total_latency, sp.ttft + (16 + 10 - 1) * microseconds(25000));
  // With the tool rule: reasoning, then the call.
  SimulatedPlan tool =
      PlanSimulated({}, AskWithTools("부산 날씨", "{" + std::string(kWeatherTools) +
                                                      R"(,"reasoning_effort":"minimal"})"));
  EXPECT_TRUE(tool.tool_call.has_value());
  EXPECT_EQ(tool.reasoning_tokens.size(), 8u);
}

TEST(Simulated, LatenciesFollowTheConfiguredMedianAndP99) {
  SimulatedConfig cfg;  // 200 ms median, 800 ms p99; ttft 150/500 ms
  std::vector<std::int64_t> total, ttft;
  for (int i = 0; i < 4000; ++i) {
    ChatRequest r = Ask("prompt " + std::to_string(i));
    SimulatedPlan p = PlanSimulated(cfg, r);
    total.push_back(p.total_latency.count());
    ttft.push_back(p.ttft.count());
  }
  auto quantile = [](std::vector<std::int64_t> v, double q) {
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[static_cast<std::size_t>(q * (v.size() - 1))]);
  };
  EXPECT_NEAR(quantile(total, 0.5), 200000, 200000 * 0.08);
  EXPECT_NEAR(quantile(total, 0.99), 800000, 800000 * 0.2);
  EXPECT_NEAR(quantile(ttft, 0.5), 150000, 150000 * 0.08);
  EXPECT_NEAR(quantile(ttft, 0.99), 500000, 500000 * 0.2);
}

TEST(Simulated, StreamedAndPlainCallsGiveTheSameAnswer) {
  ChatRequest plain = Ask("same question", 16);
  ChatRequest streamed = plain;
  streamed.stream = true;
  SimulatedPlan a = PlanSimulated({}, plain), b = PlanSimulated({}, streamed);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.ttft, b.ttft);
}

TEST(Simulated, StreamingTimingIsTtftPlusTokenRate) {
  SimulatedConfig cfg;
  cfg.tokens_per_second = 40;
  ChatRequest r = Ask("stream me", 10);
  r.stream = true;
  SimulatedPlan p = PlanSimulated(cfg, r);
  EXPECT_EQ(p.inter_token, microseconds(25000));
  EXPECT_EQ(p.total_latency, p.ttft + 9 * microseconds(25000));
}

TEST(Simulated, ZeroSpreadGivesExactLatency) {
  SimulatedConfig cfg;
  cfg.latency_median = cfg.latency_p99 = microseconds(5000);
  cfg.ttft_median = cfg.ttft_p99 = microseconds(1000);
  for (int i = 0; i < 20; ++i) {
    SimulatedPlan p = PlanSimulated(cfg, Ask(std::to_string(i)));
    EXPECT_EQ(p.total_latency, microseconds(5000));
    EXPECT_EQ(p.ttft, microseconds(1000));
  }
}

TEST(Simulated, InjectsErrorsAtTheConfiguredRateAndKinds) {
  SimulatedConfig cfg;
  cfg.error_rate = 0.25;
  std::map<std::string, int> seen;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    ChatRequest r = Ask("q" + std::to_string(i));
    r.stream = true;
    SimulatedPlan p = PlanSimulated(cfg, r);
    if (!p.error) continue;
    seen[std::string(FailureClassName(*p.error))]++;
    switch (*p.error) {
      case FailureClass::kRateLimited:
        EXPECT_EQ(p.error_status, 429);
        EXPECT_EQ(p.retry_after, std::chrono::milliseconds(1000));
        break;
      case FailureClass::kServerError:
        EXPECT_EQ(p.error_status, 500);
        break;
      case FailureClass::kTimeout:
        EXPECT_EQ(p.error_status, 0);
        break;
      case FailureClass::kStreamError:
        EXPECT_EQ(p.error_status, 200);
        EXPECT_GE(p.error_after_tokens, 1u);
        EXPECT_LT(p.error_after_tokens, p.tokens.size());
        break;
      default:
        ADD_FAILURE() << FailureClassName(*p.error);
    }
  }
  int total = 0;
  for (const auto& [k, v] : seen) total += v;
  EXPECT_NEAR(total, n * 0.25, n * 0.03);
  for (std::string_view k : {"rate_limited", "server_error", "timeout", "stream_error"}) {
    EXPECT_NEAR(seen[std::string(k)], total / 4.0, total * 0.06) << k;
  }
}

TEST(Simulated, StreamKindActsAs500WhenNotStreaming) {
  SimulatedConfig cfg;
  cfg.error_rate = 1;
  cfg.error_kinds = {"stream"};
  SimulatedPlan p = PlanSimulated(cfg, Ask("x"));
  EXPECT_EQ(p.error, FailureClass::kServerError);
  EXPECT_EQ(p.error_status, 500);
  cfg.error_kinds = {"connect"};
  EXPECT_EQ(PlanSimulated(cfg, Ask("x")).error, FailureClass::kConnect);
  cfg.error_kinds = {"503"};
  EXPECT_EQ(PlanSimulated(cfg, Ask("x")).error_status, 503);
  cfg.error_kinds = {"400"};
  EXPECT_EQ(PlanSimulated(cfg, Ask("x")).error, FailureClass::kClientError);
}

TEST(Simulated, ErrorDecisionDoesNotShiftLatencyOrAnswer) {
  SimulatedConfig calm, stormy;
  stormy.error_rate = 1;
  ChatRequest r = Ask("same");
  SimulatedPlan a = PlanSimulated(calm, r), b = PlanSimulated(stormy, r);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.total_latency, b.total_latency);
  EXPECT_TRUE(b.error.has_value());
}

TEST(Simulated, UsageEstimatesThePrompt) {
  SimulatedPlan p = PlanSimulated({}, Ask("abcdefgh", 5));
  // system: 3 + ceil(14/4)=4; user: 3 + 2
  EXPECT_EQ(p.usage.prompt_tokens, 12);
  EXPECT_EQ(p.usage.completion_tokens, 5);
  EXPECT_TRUE(p.usage.estimated);
}

TEST(Simulated, ValidatesConfig) {
  EXPECT_TRUE(ValidateSimulatedConfig({}).ok());
  struct Case {
    void (*mutate)(SimulatedConfig&);
    std::string_view field;
  };
  const Case cases[] = {
      {[](SimulatedConfig& c) { c.latency_p99 = microseconds(1); }, "latency_p99"},
      {[](SimulatedConfig& c) { c.ttft_median = microseconds(-1); }, "ttft_p99"},
      {[](SimulatedConfig& c) { c.tokens_per_second = 0; }, "tokens_per_second"},
      {[](SimulatedConfig& c) { c.error_rate = 1.5; }, "error_rate"},
      {[](SimulatedConfig& c) { c.error_kinds = {"boom"}; }, "error_kinds"},
      {[](SimulatedConfig& c) { c.error_kinds = {"200"}; }, "error_kinds"},
      {[](SimulatedConfig& c) {
         c.error_rate = 0.1;
         c.error_kinds = {};
       },
       "error_kinds"},
      {[](SimulatedConfig& c) { c.max_tokens_default = 0; }, "max_tokens_default"},
  };
  for (const auto& c : cases) {
    SimulatedConfig cfg;
    c.mutate(cfg);
    Status s = ValidateSimulatedConfig(cfg);
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find(c.field), std::string::npos) << s.error().message;
  }
}

TEST(EstimateTokens, Table) {
  const std::pair<std::string_view, std::int64_t> cases[] = {
      {"", 0},
      {"a", 1},
      {"abcd", 1},
      {"abcde", 2},
      {"Hello, world! How are you?", 7},  // 26 bytes
      {"안녕하세요", 5},                  // 5 Hangul syllables
      {"你好世界", 4},                    // 4 CJK ideographs
      {"こんにちは", 5},                  // 5 kana
      {"안녕, world", 4},                 // 2 + ceil(7/4)
      {"привет", 3},                      // 6 Cyrillic letters, 2 per token
      {"😀", 1},
  };
  for (const auto& [text, n] : cases) EXPECT_EQ(EstimateTokens(text), n) << text;
}

TEST(EstimateTokens, PromptCountsTextPartsAndPerMessageOverhead) {
  bj::array m = bj::parse(R"([{"role":"user","content":[{"type":"text","text":"abcd"},
      {"type":"image_url","image_url":{"url":"https://x"}}]},{"role":"assistant","content":null}])")
                    .as_array();
  EXPECT_EQ(EstimatePromptTokens(m), 3 + 1 + 3);
  // Tool calls count: per call 3, its name and its arguments.
  bj::array calls = bj::parse(R"([{"role":"assistant","content":null,"tool_calls":[
      {"id":"c","type":"function","function":{"name":"abcd","arguments":"{\"q\":\"서울\"}"}}]}])")
                        .as_array();
  // The message 3; its call 3, "abcd" 1, the arguments 4 (8 ASCII bytes and 2 syllables).
  EXPECT_EQ(EstimatePromptTokens(calls), 3 + (3 + 1 + 4));
  EXPECT_EQ(EstimateToolCallTokens(calls[0].at("tool_calls")), 3 + 1 + 4);
  EXPECT_EQ(EstimateToolCallTokens(bj::value("not calls")), 0);
  // A request: its messages and the JSON of the tools it offers (45 ASCII bytes: 12 tokens).
  ChatRequest r;
  r.messages = m;
  EXPECT_EQ(EstimateRequestTokens(r), EstimatePromptTokens(m));
  r.extra = bj::parse(R"({"tools":[{"type":"function","function":{"name":"f"}}]})").as_object();
  EXPECT_EQ(bj::serialize(r.extra.at("tools")).size(), 45u);
  EXPECT_EQ(EstimateRequestTokens(r), EstimatePromptTokens(m) + 12);
}

}  // namespace
}  // namespace promptops::providers
