#include "http/sse.h"

#include <gtest/gtest.h>

namespace promptops::http {
namespace {

TEST(SseEvent, FormatsDataAndEvent) {
  struct Case {
    std::string data, event, want;
  } cases[] = {
      {"hello", "", "data: hello\n\n"},
      {"{\"a\":1}", "delta", "event: delta\ndata: {\"a\":1}\n\n"},
      {"a\nb", "", "data: a\ndata: b\n\n"},
      {"a\r\nb\rc", "", "data: a\ndata: b\ndata: c\n\n"},
      {"", "", "data: \n\n"},
      {"x", "bad\nname", "event: badname\ndata: x\n\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SseEvent(c.data, c.event), c.want) << c.data;
  }
}

struct ParseCase {
  const char* name;
  std::string input;
  std::vector<SseMessage> want;
};

std::vector<SseMessage> ParseWhole(std::string_view in) {
  SseParser p;
  std::vector<SseMessage> out;
  p.Feed(in, out);
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
      {"unterminated event dropped", "data: a\n\ndata: b\n", {{"", "a"}}},
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
        std::vector<SseMessage> out;
        p.Feed(std::string_view(in).substr(0, i), out);
        p.Feed(std::string_view(in).substr(i, j - i), out);
        p.Feed(std::string_view(in).substr(j), out);
        ASSERT_EQ(out, c.want) << c.name << " split at " << i << "," << j;
      }
    }
    SseParser p;
    std::vector<SseMessage> out;
    for (char ch : in) p.Feed(std::string_view(&ch, 1), out);
    EXPECT_EQ(out, c.want) << c.name << " byte by byte";
  }
}

TEST(SseParser, RemembersLastEventId) {
  SseParser p;
  std::vector<SseMessage> out;
  p.Feed("id: 1\ndata: a\n\nid: 2\n", out);
  EXPECT_EQ(p.last_event_id(), "2");
  p.Feed(std::string("id: a\0b\n", 8), out);
  EXPECT_EQ(p.last_event_id(), "2");
}

TEST(SseParser, RoundTripsSseEvent) {
  SseParser p;
  std::vector<SseMessage> out;
  p.Feed(SseEvent("line1\nline2", "e") + SseEvent("{}"), out);
  EXPECT_EQ(out, (std::vector<SseMessage>{{"e", "line1\nline2"}, {"", "{}"}}));
}

}  // namespace
}  // namespace promptops::http
