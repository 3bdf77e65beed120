// The event-stream cases of the WHATWG HTML spec ("Parsing an event stream"), checked on the one
// SSE parser of the code base (the provider adapters read upstream streams with it).
#include "providers/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace promptops::providers {
namespace {

struct ParseCase {
  const char* name;
  std::string input;
  std::vector<SseEvent> want;
};

std::vector<SseEvent> ParseWhole(std::string_view in) {
  SseParser p;
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.Feed(in, out));
  return out;
}

const std::vector<ParseCase>& Cases() {
  static const std::vector<ParseCase> cases = {
      {"single", "data: hi\n\n", {{"", "hi"}}},
      {"two events", "data: a\n\ndata: b\n\n", {{"", "a"}, {"", "b"}}},
      {"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", {{"", "a"}, {"", "b"}}},
      {"cr only", "data: a\r\rdata: b\r\r", {{"", "a"}, {"", "b"}}},
      {"multi-line data", "data: a\ndata: b\ndata:c\n\n", {{"", "a\nb\nc"}}},
      {"event name", "event: delta\ndata: {}\n\n", {{"delta", "{}"}}},
      {"event resets after dispatch", "event: x\ndata: 1\n\ndata: 2\n\n", {{"x", "1"}, {"", "2"}}},
      {"comment ignored", ": keep-alive\ndata: a\n\n: another\n\n", {{"", "a"}}},
      {"no data is not dispatched", "event: x\n\ndata: y\n\n", {{"", "y"}}},
      {"empty data is dispatched", "data\n\n", {{"", ""}}},
      {"empty data with colon", "data:\n\n", {{"", ""}}},
      {"only one space stripped", "data:  two\n\n", {{"", " two"}}},
      {"colon in value", "data: a: b\n\n", {{"", "a: b"}}},
      {"unknown field ignored", "foo: bar\ndata: a\nretry: 10\nid: 7\n\n", {{"", "a"}}},
      {"bom skipped",
       "\xEF\xBB\xBF"
       "data: a\n\n",
       {{"", "a"}}},
      {"bom only at start", "data: \xEF\xBB\xBFx\n\n", {{"", "\xEF\xBB\xBFx"}}},
      {"unterminated event not dispatched by Feed", "data: a\n\ndata: b\n", {{"", "a"}}},
      {"blank lines between events", "\n\n\ndata: a\n\n\n", {{"", "a"}}},
      {"openai style", "data: {\"x\":1}\n\ndata: [DONE]\n\n", {{"", "{\"x\":1}"}, {"", "[DONE]"}}},
      {"trailing data newline kept once", "data: a\ndata:\n\n", {{"", "a\n"}}},
  };
  return cases;
}

TEST(SseParser, WholeInput) {
  for (const auto& c : Cases()) {
    EXPECT_EQ(ParseWhole(c.input), c.want) << c.name;
  }
}

// Every case gives the same events however the input is split: at every single point, at
// every pair of points, and byte by byte.
TEST(SseParser, ArbitrarySplitsGiveSameEvents) {
  for (const auto& c : Cases()) {
    const std::string& in = c.input;
    for (std::size_t i = 0; i <= in.size(); ++i) {
      for (std::size_t j = i; j <= in.size(); ++j) {
        SseParser p;
        std::vector<SseEvent> out;
        p.Feed(std::string_view(in).substr(0, i), out);
        p.Feed(std::string_view(in).substr(i, j - i), out);
        p.Feed(std::string_view(in).substr(j), out);
        ASSERT_EQ(out, c.want) << c.name << " split at " << i << "," << j;
      }
    }
    SseParser p;
    std::vector<SseEvent> out;
    for (char ch : in) p.Feed(std::string_view(&ch, 1), out);
    EXPECT_EQ(out, c.want) << c.name << " byte by byte";
  }
}

// Where this parser departs from a browser, on purpose: at the end of the stream an event that
// was not terminated by a blank line is dispatched (so "data: [DONE]" without a final newline
// still ends a stream), and "id"/"retry" are ignored (upstream calls are never resumed).
TEST(SseParser, FinishDispatchesTheUnterminatedLastEvent) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("id: 7\nretry: 10\ndata: a\n\ndata: [DONE]", out));
  EXPECT_EQ(out, (std::vector<SseEvent>{{"", "a"}}));
  p.Finish(out);
  EXPECT_EQ(out, (std::vector<SseEvent>{{"", "a"}, {"", "[DONE]"}}));
}

}  // namespace
}  // namespace promptops::providers
