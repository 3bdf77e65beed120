#include <gtest/gtest.h>

#include "providers/adapter.h"
#include "providers/chat.h"
#include "providers/sse_parser.h"

namespace promptops::providers {
namespace {

// Messages kept as text (the gateway's fast pass) are parsed on first read, once.
TEST(ChatRequest, MessagesKeptAsTextAreParsedOnFirstRead) {
  const std::string body = R"([{"role":"user", "content":"안녕"}])";
  ChatRequest r;
  r.messages_text = body;
  const boost::json::array& m = r.Messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].at("content").as_string(), "안녕");
  EXPECT_TRUE(r.messages_text.empty());
  EXPECT_EQ(&r.Messages(), &m);  // the same array, not parsed again
  ChatRequest built;             // filled as an array: read as it is
  built.messages.push_back(boost::json::object{{"role", "user"}, {"content", "x"}});
  EXPECT_EQ(built.Messages().size(), 1u);
}

TEST(FailureClass, NamesRetryabilityAndClientErrors) {
  struct Case {
    FailureClass cls;
    int status;
    std::string_view name;
    bool retryable;
    ErrorCode code;
  };
  const Case cases[] = {
      {FailureClass::kConnect, 0, "connect", true, ErrorCode::kUpstreamError},
      {FailureClass::kTimeout, 0, "timeout", true, ErrorCode::kTimeout},
      {FailureClass::kRateLimited, 429, "rate_limited", true, ErrorCode::kRateLimited},
      {FailureClass::kServerError, 503, "server_error", true, ErrorCode::kUpstreamError},
      {FailureClass::kClientError, 400, "client_error", false, ErrorCode::kInvalidArgument},
      {FailureClass::kClientError, 401, "client_error", false, ErrorCode::kUpstreamError},
      {FailureClass::kClientError, 403, "client_error", false, ErrorCode::kUpstreamError},
      {FailureClass::kMalformed, 200, "malformed", false, ErrorCode::kUpstreamError},
      {FailureClass::kStreamError, 200, "stream_error", true, ErrorCode::kUpstreamError},
      {FailureClass::kCancelled, 0, "cancelled", false, ErrorCode::kUpstreamError},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FailureClassName(c.cls), c.name);
    EXPECT_EQ(IsRetryable(c.cls), c.retryable);
    UpstreamFailure f{c.cls, c.status, "upstream said no", std::nullopt};
    EXPECT_EQ(f.ToError().code, c.code);
  }
}

TEST(FailureClass, ClientErrorCarriesTheUpstreamMessage) {
  UpstreamFailure f{FailureClass::kClientError, 400, "invalid_request_error: bad temperature", {}};
  EXPECT_EQ(f.ToError().message,
            "upstream rejected the request: invalid_request_error: bad temperature");
  UpstreamFailure key{FailureClass::kClientError, 401, "Incorrect API key provided: sk-abc***", {}};
  EXPECT_EQ(key.ToError().message,
            "the upstream rejected the gateway's provider credentials (status 401)");
}

TEST(ClassifyStatus, Table) {
  const std::pair<int, FailureClass> cases[] = {
      {400, FailureClass::kClientError}, {401, FailureClass::kClientError},
      {404, FailureClass::kClientError}, {408, FailureClass::kTimeout},
      {413, FailureClass::kClientError}, {429, FailureClass::kRateLimited},
      {500, FailureClass::kServerError}, {502, FailureClass::kServerError},
      {529, FailureClass::kServerError}, {302, FailureClass::kMalformed},
  };
  for (const auto& [status, cls] : cases) EXPECT_EQ(ClassifyStatus(status), cls) << status;
}

TEST(ParseRetryAfter, DeltaSecondsOnly) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ParseRetryAfter("2"), milliseconds(2000));
  EXPECT_EQ(ParseRetryAfter(" 0.5 "), milliseconds(500));
  EXPECT_EQ(ParseRetryAfter("0"), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("999999"), milliseconds(3600000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.2.3"), std::nullopt);
}

std::vector<SseEvent> ParseAll(std::string_view s) {
  SseParser p;
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.Feed(s, out));
  p.Finish(out);
  return out;
}

TEST(SseParser, FieldsCommentsAndLineEnds) {
  auto e = ParseAll(
      "\xEF\xBB\xBF: comment\nevent: a\ndata: one\ndata:two\nid: 5\nretry: 9\n\n"
      "event: only-event\n\n"
      "data\r\n\r\n"
      "data:  two spaces\r\r");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].event, "a");
  EXPECT_EQ(e[0].data, "one\ntwo");
  EXPECT_EQ(e[1].event, "");  // the event-only block was not dispatched and did not leak
  EXPECT_EQ(e[1].data, "");
  EXPECT_EQ(e[2].data, " two spaces");
}

TEST(SseParser, LimitsEventSize) {
  SseParser p(16);
  std::vector<SseEvent> out;
  EXPECT_TRUE(p.Feed("data: 0123456789\n", out));
  EXPECT_FALSE(p.Feed("data: 0123456789\n", out));
  EXPECT_FALSE(p.Feed("\n", out));
}

}  // namespace
}  // namespace promptops::providers

namespace promptops::providers {
namespace {

TEST(AccumulateToolCalls, FoldsStreamedPiecesIntoCompleteCalls) {
  namespace bj = boost::json;
  bj::value calls;
  AccumulateToolCalls(calls, bj::parse("null"));  // no pieces: stays null
  EXPECT_TRUE(calls.is_null());
  const char* pieces[] = {
      R"([{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}])",
      R"([{"index":0,"function":{"arguments":"{\"x\":"}},
          {"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}])",
      R"([{"index":0,"function":{"arguments":"\"한\"}"}}])",
      // Ignored: not an object, no index, an index out of range, a non-integer index.
      R"([42,{"function":{"arguments":"x"}},{"index":128,"id":"z"},{"index":-1},{"index":"0"}])",
  };
  for (const char* p : pieces) AccumulateToolCalls(calls, bj::parse(p));
  EXPECT_EQ(calls, bj::parse(R"([
      {"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":\"한\"}"}},
      {"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}])"));
  // A piece for a later index first: the calls before it exist, empty, until theirs come.
  bj::value later;
  AccumulateToolCalls(later, bj::parse(R"([{"index":1,"id":"b","function":{"name":"g"}}])"));
  ASSERT_EQ(later.as_array().size(), 2u);
  EXPECT_EQ(later.at(0).at("id"), "");
  EXPECT_EQ(later.at(1).at("function").at("name"), "g");
  EXPECT_EQ(later.at(1).at("function").at("arguments"), "");
}

}  // namespace
}  // namespace promptops::providers
