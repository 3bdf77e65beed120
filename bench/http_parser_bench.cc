// The HTTP/1.1 parser on the gateway's hot path (http/http1_parser.h) against Beast's
// basic_parser with the same callbacks (what the server and the upstream client used before),
// on the two messages every proxied call parses: the request as bench/gateway_bench.sh's wrk
// sends it, and the mock upstream's answer as nginx sends it. Rounds alternate the two parsers;
// prints nanoseconds per message for each and their ratio (the figure to read: the machine's
// speed cancels out).
//
//   build/http_parser_bench [--rounds N] [--messages N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser_testing.h"

using namespace promptops::http::wire;
using namespace promptops::http::wire::testing;
using Clock_ = std::chrono::steady_clock;

namespace {

const std::string kRequestBody =
    R"({"model":"mock-model","messages":[{"role":"user","content":"Say hello."}]})";
const std::string kRequest =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Content-Length: " +
    std::to_string(kRequestBody.size()) +
    "\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer po-bench-0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
    "\r\n" +
    kRequestBody;

const std::string kResponseBody =
    R"({"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock )"
    R"(upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":7,)"
    R"("total_tokens":19}})";
const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Mon, 23 Nov 2026 20:00:00 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: " +
    std::to_string(kResponseBody.size()) +
    "\r\n"
    "Connection: keep-alive\r\n"
    "\r\n" +
    kResponseBody;

template <class Parse>
double NanosPerMessage(int messages, Parse&& parse) {
  auto t0 = Clock_::now();
  std::size_t sink = 0;
  for (int i = 0; i < messages; ++i) sink += parse();
  auto t1 = Clock_::now();
  if (sink == 0) std::fputs("", stderr);  // keeps the work observable
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / messages;
}

std::size_t ParseOurs(const std::string& msg, bool is_request) {
  Parsed out;
  RecordingParser parser(is_request, out);
  boost::system::error_code ec;
  parser.Put(msg, ec);
  if (ec || !parser.is_done()) std::abort();
  return out.fields.size() + out.body.size();
}

template <bool isRequest>
std::size_t ParseBeast(const std::string& msg) {
  Parsed out;
  BeastRecordingParser<isRequest> parser(out);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(msg), ec);
  if (ec || !parser.is_done()) std::abort();
  return out.fields.size() + out.body.size();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, messages = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--messages") == 0) messages = std::atoi(argv[i + 1]);
  }
  if (rounds <= 0 || messages <= 0) {
    std::fprintf(stderr, "usage: http_parser_bench [--rounds N] [--messages N]\n");
    return 2;
  }
  struct Row {
    const char* name;
    std::vector<double> beast, ours;
  } rows[2] = {{"request (wrk's POST)", {}, {}}, {"response (nginx's 200)", {}, {}}};
  for (int r = 0; r < rounds; ++r) {
    rows[0].beast.push_back(NanosPerMessage(messages, [] { return ParseBeast<true>(kRequest); }));
    rows[0].ours.push_back(NanosPerMessage(messages, [] { return ParseOurs(kRequest, true); }));
    rows[1].beast.push_back(NanosPerMessage(messages, [] { return ParseBeast<false>(kResponse); }));
    rows[1].ours.push_back(NanosPerMessage(messages, [] { return ParseOurs(kResponse, false); }));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("| message | Beast basic_parser ns | Http1Parser ns | Http1Parser / Beast |\n");
  std::printf("|---|---|---|---|\n");
  for (auto& row : rows) {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < row.beast.size(); ++i) ratios.push_back(row.ours[i] / row.beast[i]);
    std::printf("| %s | %.0f | %.0f | %.2f |\n", row.name, median(row.beast), median(row.ours),
                median(ratios));
  }
  return 0;
}
