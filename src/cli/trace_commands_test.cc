// Text output of the `trace` commands, from API JSON as the traces API returns it.
#include "cli/trace_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace promptops::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

boost::json::object Parse(const std::string& text) { return boost::json::parse(text).as_object(); }

constexpr const char* kTrace = R"({
  "id":"tr-1","time":"2026-01-01T00:04:00.000Z","key_id":"pk-gw","user":"alice","session":"",
  "metadata":{"team":"support"},
  "prompt":{"name":"support/bot","version":2,"label":"production"},
  "model":"gpt-4o-mini","provider":"openai","upstream_model":"gpt-4o-mini-2024-07-18",
  "usage":{"input_tokens":120,"output_tokens":30,"estimated":true},"cost_usd":0.000123,
  "latency_us":1534000,"ttft_us":210000,"status":429,"error_class":"rate_limited","retries":2,
  "fallback_used":false,"cache_hit":false,"stream":true,
  "request_body":"{\"messages\":[]}","response_body":"",
  "feedback":[{"id":1,"trace_id":"tr-1","value":"score","score":4,"comment":"ok","user":"rev",
               "created_at":"2026-01-01T00:05:00.000Z"}]})";

TEST(TraceCommands, DurationsReadNaturally) {
  EXPECT_EQ(DurationText(870), "870us");
  EXPECT_EQ(DurationText(340'500), "340ms");
  EXPECT_EQ(DurationText(1'234'000), "1.2s");
}

TEST(TraceCommands, ListIsATableWithAPagingHint) {
  auto page = Parse(R"({"data":[)" + std::string(kTrace) +
                    R"(,{"id":"tr-0","time":"T","prompt":null,"model":"m","status":200,
                        "error_class":null,"latency_us":900,"usage":{"input_tokens":1,
                        "output_tokens":2,"estimated":false},"cost_usd":0,"user":""}],
                        "total":5,"offset":0,"limit":2})");
  std::string text = TraceListText(page);
  EXPECT_THAT(text, HasSubstr("ID    TIME"));
  EXPECT_THAT(text, HasSubstr("support/bot@v2"));
  EXPECT_THAT(text, HasSubstr("429 rate_limited"));
  EXPECT_THAT(text, HasSubstr("1.5s"));
  EXPECT_THAT(text, HasSubstr("120/30~"));
  EXPECT_THAT(text, HasSubstr("$0.000123"));
  EXPECT_THAT(text, HasSubstr("tr-0  T                         -"));
  EXPECT_THAT(text, HasSubstr("2 of 5 traces"));
}

TEST(TraceCommands, ListWithEverythingHasNoPagingHint) {
  std::string text = TraceListText(Parse(R"({"data":[],"total":0,"offset":0,"limit":50})"));
  EXPECT_THAT(text, Not(HasSubstr("traces (offset")));
}

TEST(TraceCommands, ShowListsFieldsFeedbackAndBodies) {
  std::string text = TraceShowText(Parse(kTrace));
  EXPECT_THAT(text, HasSubstr("status:   429 rate_limited"));
  EXPECT_THAT(text, HasSubstr("label:    production"));
  EXPECT_THAT(text, HasSubstr("ttft:     210ms"));
  EXPECT_THAT(text, HasSubstr("flags:    stream, retries=2"));
  EXPECT_THAT(text, HasSubstr("metadata: {\"team\":\"support\"}"));
  EXPECT_THAT(text, HasSubstr("score 4  by rev  \"ok\""));
  EXPECT_THAT(text, HasSubstr("request_body:\n{\"messages\":[]}\n"));
  EXPECT_THAT(text, Not(HasSubstr("response_body")));  // empty: not stored
}

}  // namespace
}  // namespace promptops::cli
