// Http1Parser: what it reads from well-formed messages, whole and in pieces; each malformed
// message's error; and, as the external reference, Beast's basic_parser fed the same thousands
// of mutated messages: both must read them alike except where this parser is stricter on
// purpose (listed in http1_parser.h).
#include "http/http1_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser_testing.h"

namespace promptops::http::wire {
namespace {

using testing::BeastRecordingParser;
using testing::Parsed;
using testing::RecordingParser;
using Err = boost::beast::http::error;
using error_code = boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 1024;
constexpr std::uint64_t kBodyLimit = 4096;

struct Outcome {
  error_code ec;
  bool done = false;
  bool keep_alive = false;
  std::size_t left = 0;  // bytes not consumed when done
  Parsed parsed;
};

// Feeds `pieces` one after another (what was not consumed stays in front of the next piece, as
// in a flat_buffer), then the end of input, to a parser through `put` (returns bytes taken) and
// `eof`, the way the server and the upstream client do.
template <class Parser, class PutFn, class EofFn>
void Drive(Parser& parser, const std::vector<std::string>& pieces, bool end_of_input, PutFn put,
           EofFn eof, Outcome& out) {
  std::string buffer;
  for (const auto& piece : pieces) {
    buffer += piece;
    while (!buffer.empty() && !parser.is_done()) {
      error_code ec;
      std::size_t n = put(buffer, ec);
      buffer.erase(0, n);
      if (ec == Err::need_more) break;
      if (ec) {
        out.ec = ec;
        return;
      }
      if (n == 0) break;
    }
  }
  if (!parser.is_done() && end_of_input) {
    error_code ec;
    if (parser.got_some()) {
      eof(ec);
    } else {
      ec = Err::end_of_stream;
    }
    out.ec = ec;
  }
  out.done = parser.is_done();
  if (out.done) {
    out.keep_alive = parser.keep_alive();
    out.left = buffer.size();
  }
}

Outcome RunOurs(bool is_request, const std::vector<std::string>& pieces, bool end_of_input = true,
                bool head_request = false) {
  Outcome out;
  RecordingParser parser(is_request, out.parsed);
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.skip(head_request);
  Drive(
      parser, pieces, end_of_input,
      [&](const std::string& b, error_code& ec) { return parser.Put(b, ec); },
      [&](error_code& ec) { parser.PutEof(ec); }, out);
  return out;
}

template <bool isRequest>
Outcome RunBeast(const std::vector<std::string>& pieces, bool end_of_input = true,
                 bool head_request = false) {
  Outcome out;
  BeastRecordingParser<isRequest> parser(out.parsed);
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  if (head_request) parser.skip(true);
  Drive(
      parser, pieces, end_of_input,
      [&](const std::string& b, error_code& ec) {
        return parser.put(boost::asio::buffer(b.data(), b.size()), ec);
      },
      [&](error_code& ec) { parser.put_eof(ec); }, out);
  return out;
}

Outcome RunOurs(bool is_request, std::string_view whole) {
  return RunOurs(is_request, std::vector<std::string>{std::string(whole)});
}

std::vector<std::string> Bytes(std::string_view s) {
  std::vector<std::string> v;
  for (char c : s) v.emplace_back(1, c);
  return v;
}

// --- Well-formed messages ---------------------------------------------------------------------

TEST(Http1Parser, ReadsARequestWithAContentLengthBody) {
  std::string msg =
      "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
      "X-Name:  값 한국어  \r\nAuthorization: Bearer k\r\n\r\nhello world";
  for (const auto& pieces : {std::vector<std::string>{msg}, Bytes(msg)}) {
    Outcome out = RunOurs(true, pieces);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_TRUE(out.done);
    EXPECT_TRUE(out.keep_alive);
    EXPECT_EQ(out.parsed.method, "POST");
    EXPECT_EQ(out.parsed.target, "/v1/chat/completions?x=1");
    EXPECT_EQ(out.parsed.body, "hello world");
    Headers want{{"Host", "a"},
                 {"Content-Length", "11"},
                 {"X-Name", "값 한국어"},
                 {"Authorization", "Bearer k"}};
    EXPECT_EQ(out.parsed.fields, want);
  }
}

TEST(Http1Parser, LeavesTheNextPipelinedRequestUnconsumed) {
  Outcome out = RunOurs(true, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  ASSERT_FALSE(out.ec);
  EXPECT_EQ(out.parsed.target, "/a");
  EXPECT_EQ(out.left, std::string_view("GET /b HTTP/1.1\r\n\r\n").size());
}

TEST(Http1Parser, KeepAliveFollowsVersionAndConnection) {
  EXPECT_TRUE(RunOurs(true, "GET / HTTP/1.1\r\n\r\n").keep_alive);
  EXPECT_FALSE(RunOurs(true, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(RunOurs(true, "GET / HTTP/1.1\r\nConnection: upgrade, Close\r\n\r\n").keep_alive);
  EXPECT_FALSE(RunOurs(true, "GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(RunOurs(true, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
  // HTTP/1.0 with Transfer-Encoding: read, then the connection closes (RFC 9112 6.1).
  Outcome te10 = RunOurs(true,
                         "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked"
                         "\r\n\r\n1\r\na\r\n0\r\n\r\n");
  ASSERT_FALSE(te10.ec) << te10.ec.message();
  EXPECT_EQ(te10.parsed.body, "a");
  EXPECT_FALSE(te10.keep_alive);
  // A response that ends with the connection cannot keep it.
  Outcome eof = RunOurs(false, "HTTP/1.1 200 OK\r\n\r\nall of it");
  ASSERT_FALSE(eof.ec) << eof.ec.message();
  EXPECT_EQ(eof.parsed.body, "all of it");
  EXPECT_FALSE(eof.keep_alive);
}

TEST(Http1Parser, ReadsChunkedBodiesWithExtensionsAndDropsTrailers) {
  std::string msg =
      "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value;q=\"a \\\"b\\\"\"\r\nhello\r\n"
      "6 ; x\r\n world\r\n"
      "0\r\nX-Trailer: t\r\n\r\n";
  for (const auto& pieces : {std::vector<std::string>{msg}, Bytes(msg)}) {
    Outcome out = RunOurs(true, pieces);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.parsed.body, "hello world");
    EXPECT_EQ(out.parsed.fields.size(), 1u);  // the trailer is not a field
  }
  // A response may use any coding before chunked.
  Outcome response = RunOurs(false, Bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
                                          "\r\n3\r\nabc\r\n0\r\n\r\n"));
  ASSERT_FALSE(response.ec) << response.ec.message();
  EXPECT_EQ(response.parsed.body, "abc");
  EXPECT_TRUE(response.keep_alive);
}

TEST(Http1Parser, ResponsesWithoutBodies) {
  for (const char* status : {"101 Switching", "204 No Content", "304 Not Modified"}) {
    Outcome out = RunOurs(false,
                          std::vector<std::string>{std::string("HTTP/1.1 ") + status +
                                                   "\r\nContent-Length: 5\r\n\r\n"},
                          false);
    EXPECT_TRUE(out.done) << status;
    EXPECT_EQ(out.parsed.body, "") << status;
  }
  Outcome head = RunOurs(false, {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"}, false, true);
  EXPECT_TRUE(head.done);
  EXPECT_TRUE(head.keep_alive);
  Outcome reason = RunOurs(false, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(reason.ec);  // an empty reason phrase
  EXPECT_EQ(reason.parsed.status, 200);
}

TEST(Http1Parser, InterimResponsesBeforeTheFinalOneAreSkipped) {
  std::string msg =
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (const auto& pieces : {std::vector<std::string>{msg}, Bytes(msg)}) {
    Outcome out = RunOurs(false, pieces);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.parsed.status, 200);
    EXPECT_EQ(out.parsed.fields, (Headers{{"Content-Length", "2"}}));
    EXPECT_EQ(out.parsed.body, "ok");
  }
  // 101 ends HTTP on the connection: it is the answer.
  Outcome upgrade = RunOurs(false, {"HTTP/1.1 101 Switching Protocols\r\n\r\nraw"}, false);
  EXPECT_TRUE(upgrade.done);
  EXPECT_EQ(upgrade.parsed.status, 101);
  // An interim answer and then nothing: cut short.
  EXPECT_EQ(RunOurs(false, "HTTP/1.1 100 Continue\r\n\r\n").ec, Err::partial_message);
  // A malformed interim head is reported as such.
  EXPECT_EQ(RunOurs(false, "HTTP/1.1 103 Hints\r\nBad Name: x\r\n\r\n").ec, Err::bad_field);
}

TEST(Http1Parser, EqualContentLengthsAreOneLength) {
  Outcome out =
      RunOurs(true, "PUT / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.parsed.body, "abc");
}

// --- Malformed messages -----------------------------------------------------------------------

struct Bad {
  bool is_request;
  std::string message;
  Err want;
};

TEST(Http1Parser, EachMalformedMessageGetsItsError) {
  const std::vector<Bad> cases = {
      {true, "G@T / HTTP/1.1\r\n\r\n", Err::bad_method},
      {true, " GET / HTTP/1.1\r\n\r\n", Err::bad_method},
      {true, "GET  / HTTP/1.1\r\n\r\n", Err::bad_target},
      {true, "GET /a\x01 HTTP/1.1\r\n\r\n", Err::bad_target},
      {true, "GET / HTTP/2.0\r\n\r\n", Err::bad_version},
      {true, "GET / HTTP/1.2\r\n\r\n", Err::bad_version},
      {true, "GET / HTTP/1.1\n\r\n\r\n", Err::bad_version},
      {true, "GET / HTTP/1.1\r\nHost : a\r\n\r\n", Err::bad_field},
      {true, "GET / HTTP/1.1\r\n: a\r\n\r\n", Err::bad_field},
      {true, "GET / HTTP/1.1\r\nHost: a\x01 b\r\n\r\n", Err::bad_value},
      {true, "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", Err::bad_value},
      {true, "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", Err::bad_line_ending},
      {true, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", Err::bad_value},  // obs-fold
      {true, "GET / HTTP/1.1\r\nConnection: clo se\r\n\r\n", Err::bad_value},
      {true, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", Err::bad_content_length},
      {true, "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", Err::bad_content_length},
      {true, "POST / HTTP/1.1\r\nContent-Length: 1,,1\r\n\r\n", Err::bad_content_length},
      {true, "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
       Err::bad_content_length},
      {true, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       Err::multiple_content_length},
      {true, "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       Err::bad_transfer_encoding},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
       Err::bad_content_length},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\n",
       Err::bad_content_length},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Err::bad_transfer_encoding},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked chunked\r\n\r\n",
       Err::bad_transfer_encoding},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q=\"x\r\n\r\n",
       Err::bad_transfer_encoding},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;q\r\n\r\n", Err::bad_transfer_encoding},
      {false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;a=b\r\n\r\n",
       Err::bad_transfer_encoding},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n",
       Err::bad_value},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       Err::bad_transfer_encoding},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
       Err::bad_transfer_encoding},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       Err::bad_transfer_encoding},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", Err::bad_chunk},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;a\r\n", Err::bad_chunk},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       Err::bad_chunk},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", Err::bad_chunk},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n",
       Err::bad_chunk_extension},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\r\nabc\r\n",
       Err::bad_chunk_extension},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\rabc\r\n",
       Err::bad_line_ending},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n",
       Err::bad_field},
      {true, "POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", Err::body_limit},
      {true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n", Err::body_limit},
      {false, "HTTP/1.1 20 OK\r\n\r\n", Err::bad_status},
      {false, "HTTP/1.1 200OK\r\n\r\n", Err::bad_status},
      {false, "HTTP/1.1  200 OK\r\n\r\n", Err::bad_status},
      {false, "HTTP/1.1 200 O\x01K\r\n\r\n", Err::bad_reason},
      {false, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", Err::partial_message},
      {false, "HTTP/1.1 200 OK\r\nContent-Len", Err::partial_message},
      {false, "HTTP/1.1 200 OK\r\n\r\n" + std::string(kBodyLimit + 1, 'x'), Err::body_limit},
  };
  for (const auto& c : cases) {
    Outcome whole = RunOurs(c.is_request, c.message);
    EXPECT_EQ(whole.ec, c.want) << c.message << " -> " << whole.ec.message();
    Outcome bytes = RunOurs(c.is_request, Bytes(c.message));
    EXPECT_EQ(bytes.ec, c.want) << "byte by byte: " << c.message << " -> " << bytes.ec.message();
  }
}

TEST(Http1Parser, ChunkSizeLinesAreBounded) {
  std::string msg = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1" +
                    std::string(Http1Parser::kMaxChunkLine, ' ');
  EXPECT_EQ(RunOurs(true, {msg}, false).ec, Err::bad_chunk);
  EXPECT_EQ(RunOurs(true, Bytes(msg), false).ec, Err::bad_chunk);
}

TEST(Http1Parser, TheHeadMayTakeExactlyTheHeaderLimit) {
  std::string start = "GET / HTTP/1.1\r\nX: ";
  std::string fits = start + std::string(kHeaderLimit - start.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), kHeaderLimit);
  EXPECT_FALSE(RunOurs(true, fits).ec);
  std::string over = start + std::string(kHeaderLimit - start.size() - 3, 'a') + "\r\n\r\n";
  EXPECT_EQ(RunOurs(true, over).ec, Err::header_limit);
  EXPECT_EQ(RunOurs(true, Bytes(over)).ec, Err::header_limit);
}

TEST(Http1Parser, GarbageGetsItsErrorBeforeTheHeadIsComplete) {
  // A TLS ClientHello sent to the plain HTTP port: no empty line will ever come.
  std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  EXPECT_EQ(RunOurs(true, {hello}, false).ec, Err::bad_method);
  // An unfinished but valid head just waits.
  Outcome waiting = RunOurs(true, {"GET / HTTP/1.1\r\nHost: a\r\n"}, false);
  EXPECT_FALSE(waiting.ec);
  EXPECT_FALSE(waiting.done);
}

TEST(Http1Parser, EndOfInput) {
  EXPECT_EQ(RunOurs(true, std::vector<std::string>{}).ec, Err::end_of_stream);
  EXPECT_EQ(RunOurs(true, "GET / HTTP/1.1\r\n").ec, Err::partial_message);
  EXPECT_EQ(RunOurs(true, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab").ec,
            Err::partial_message);
}

TEST(Http1Parser, OnBodyCanStopParsing) {
  Parsed parsed;
  RecordingParser parser(false, parsed);
  parser.stop_after(3);
  error_code ec;
  std::string msg =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nfghij\r\n";
  std::size_t n = parser.Put(msg, ec);
  EXPECT_EQ(ec, boost::asio::error::operation_aborted);
  EXPECT_EQ(parsed.body, "abcde");
  EXPECT_EQ(n, msg.find("abcde") + 5);
  EXPECT_FALSE(parser.is_done());
}

TEST(Http1Parser, HeadOnlyStopsAfterTheHead) {
  Parsed parsed;
  RecordingParser parser(false, parsed);
  parser.eager(false);
  error_code ec;
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  EXPECT_EQ(parser.Put(head + "abc", ec), head.size());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_EQ(parsed.body, "");
  parser.eager(true);
  EXPECT_EQ(parser.Put("abc", ec), 3u);
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(parsed.body, "abc");
}

// --- Against Beast ----------------------------------------------------------------------------

bool HasObsFold(std::string_view text) {
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] == '\r' && text[i + 1] == '\n' && (text[i + 2] == ' ' || text[i + 2] == '\t')) {
      return true;
    }
  }
  return false;
}

// In the head, or in the trailer section (after the last "0" chunk line).
bool HasObsFoldInFields(std::string_view msg) {
  std::size_t head_end = msg.find("\r\n\r\n");
  if (HasObsFold(msg.substr(0, head_end))) return true;
  std::size_t last_chunk = msg.rfind("\r\n0");
  return last_chunk != std::string_view::npos && HasObsFold(msg.substr(last_chunk + 3));
}

// The codings of every Transfer-Encoding field, in order, trimmed; empty elements left out.
std::vector<std::string> Codings(const Parsed& p) {
  std::vector<std::string> codings;
  for (const auto& [n, v] : p.fields) {
    if (!EqualsIgnoreCase(n, "transfer-encoding")) continue;
    std::size_t start = 0;
    while (start <= v.size()) {
      std::size_t comma = std::min(v.find(',', start), v.size());
      std::string e = v.substr(start, comma - start);
      e.erase(0, e.find_first_not_of(" \t"));
      e.erase(e.find_last_not_of(" \t") + 1);
      if (!e.empty()) codings.push_back(std::move(e));
      start = comma + 1;
    }
  }
  return codings;
}

// Whether a coding is not a token with parameters, or is chunked with parameters (checked by
// regular expressions: a second, independent reading of the grammar).
bool InvalidCoding(const std::string& coding) {
  static const std::regex kCoding(
      R"(([!#$%&'*+.^_`|~0-9A-Za-z-]+)([ \t]*;[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)"
      R"([ \t]*=[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+|"([^"\\]|\\.)*"))*)");
  static const std::regex kChunkedWithParameters(R"([Cc][Hh][Uu][Nn][Kk][Ee][Dd][ \t]*;.*)");
  return !std::regex_match(coding, kCoding) || std::regex_match(coding, kChunkedWithParameters);
}

bool HasField(const Parsed& p, std::string_view name) {
  return FindHeader(p.fields, name).has_value();
}

// Where this parser refuses on purpose what Beast accepts (see http1_parser.h).
bool StricterOnPurpose(bool is_request, std::string_view msg, const Outcome& beast) {
  if (HasObsFoldInFields(msg)) return true;
  std::vector<std::string> codings = Codings(beast.parsed);
  if (std::any_of(codings.begin(), codings.end(), InvalidCoding)) return true;
  bool te = HasField(beast.parsed, "transfer-encoding");
  if (te && HasField(beast.parsed, "content-length")) return true;
  if (is_request && te) {
    // Refused unless chunked is the last coding and there once (Beast reads no body then).
    auto chunked = std::count_if(codings.begin(), codings.end(), [](const std::string& c) {
      return EqualsIgnoreCase(c, "chunked");
    });
    return chunked != 1 || !EqualsIgnoreCase(codings.back(), "chunked");
  }
  return false;
}

std::string Mutate(std::string msg, std::mt19937& rng) {
  static constexpr char kChars[] = "\r\n \t:,;=\"0159afAFGHTP/\x7f\x80\xea.-";
  // The NUL too (sizeof counts the terminator).
  static const std::string kAlphabet(kChars, sizeof kChars);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int ops = 1 + static_cast<int>(pick(3));
  for (int i = 0; i < ops && !msg.empty(); ++i) {
    std::size_t at = pick(msg.size());
    char c = pick(4) == 0 ? static_cast<char>(pick(256)) : kAlphabet[pick(kAlphabet.size())];
    switch (pick(5)) {
      case 0:
        msg.erase(at, 1);
        break;
      case 1:
        msg.insert(at, 1, c);
        break;
      case 2:
        msg[at] = c;
        break;
      case 3:
        msg.insert(at, msg.substr(at, 1 + pick(8)));
        break;
      default:
        msg.resize(at);
        break;
    }
  }
  return msg;
}

std::vector<std::string> Split(const std::string& msg, std::mt19937& rng) {
  std::vector<std::string> pieces;
  std::size_t at = 0;
  while (at < msg.size()) {
    std::size_t n = 1 + std::uniform_int_distribution<std::size_t>(0, 24)(rng);
    pieces.push_back(msg.substr(at, n));
    at += n;
  }
  return pieces;
}

template <bool isRequest>
void CompareMutants(const std::vector<std::string>& seeds, int mutants_per_seed, int& compared_ok,
                    int& compared_error, int& stricter) {
  std::mt19937 rng(20261123);
  for (const auto& seed : seeds) {
    for (int i = 0; i <= mutants_per_seed; ++i) {
      std::string msg = i == 0 ? seed : Mutate(seed, rng);
      for (bool split : {false, true}) {
        std::vector<std::string> pieces = split ? Split(msg, rng) : std::vector<std::string>{msg};
        for (bool head_request : {false, true}) {
          if (head_request && isRequest) continue;
          Outcome ours = RunOurs(isRequest, pieces, true, head_request);
          Outcome beast = RunBeast<isRequest>(pieces, true, head_request);
          // Beast returns an interim (1xx) response as the answer; we skip it.
          if (!isRequest && beast.parsed.status / 100 == 1 && beast.parsed.status != 101) continue;
          std::string what = ::testing::PrintToString(msg) + (split ? " (in pieces)" : "");
          if (!beast.ec && ours.ec) {
            ASSERT_TRUE(StricterOnPurpose(isRequest, msg, beast))
                << what << ": Beast reads it, we say " << ours.ec.message();
            ++stricter;
            continue;
          }
          if (beast.ec && !ours.ec) {
            FAIL() << what << ": Beast says " << beast.ec.message() << ", we read it";
          }
          if (beast.ec) {
            // Both refuse it. Which error comes first may differ: this parser checks an
            // unfinished head now and then, Beast as it goes or once it has all of it.
            ++compared_error;
            continue;
          }
          ASSERT_EQ(ours.done, beast.done) << what;
          ASSERT_EQ(ours.parsed, beast.parsed) << what;
          if (ours.done) {
            // Except HTTP/1.0 with Transfer-Encoding, which we close after (RFC 9112 6.1).
            bool te10 = msg.find("HTTP/1.0") != std::string::npos &&
                        HasField(beast.parsed, "transfer-encoding");
            if (!te10) {
              ASSERT_EQ(ours.keep_alive, beast.keep_alive) << what;
            }
            ASSERT_EQ(ours.left, beast.left) << what;
          }
          ++compared_ok;
        }
      }
    }
  }
}

template <bool isRequest>
void CompareWithBeast(const std::vector<std::string>& seeds, int mutants_per_seed, int min_alike,
                      int min_refused) {
  int compared_ok = 0, compared_error = 0, stricter = 0;
  CompareMutants<isRequest>(seeds, mutants_per_seed, compared_ok, compared_error, stricter);
  // The mutants exercise both sides (not only errors).
  EXPECT_GT(compared_ok, min_alike);
  EXPECT_GT(compared_error, min_refused);
  std::printf("%s: %d read alike, %d refused by both, %d refused by us only\n",
              isRequest ? "requests" : "responses", compared_ok, compared_error, stricter);
}

TEST(Http1ParserVsBeast, MutatedRequestsAreReadAlike) {
  const std::vector<std::string> seeds = {
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:80\r\nContent-Length: 10\r\n"
      "Content-Type: application/json\r\nAuthorization: Bearer po-abc\r\n\r\n{\"a\":\"b\"}\n",
      "GET /api/v1/traces?model=m HTTP/1.0\r\nConnection: keep-alive\r\nX-Korean: 안녕\r\n\r\n",
      "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n",
      "PUT /x HTTP/1.1\r\nContent-Length: 3, 3\r\nExpect: 100-continue\r\n\r\nabc"
      "GET /next HTTP/1.1\r\n\r\n",
  };
  CompareWithBeast<true>(seeds, 4000, 5000, 15000);
}

TEST(Http1ParserVsBeast, MutatedResponsesAreReadAlike) {
  const std::vector<std::string> seeds = {
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 20:00:00 GMT\r\n"
      "Content-Type: application/json\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n"
      "{\"ok\":true}\n",
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      "e\r\ndata: {\"a\":1}\n\n\r\nE\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
      "HTTP/1.0 429 Too Many Requests\r\nRetry-After: 2\r\n\r\n{\"error\":\"slow down\"}",
      "HTTP/1.1 204 No Content\r\nX-Request-Id: r1\r\n\r\n",
  };
  CompareWithBeast<false>(seeds, 4000, 10000, 25000);
}

}  // namespace
}  // namespace promptops::http::wire
