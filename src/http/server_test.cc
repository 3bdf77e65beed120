// The server and the client against each other on port 0, plus raw sockets where the wire
// format itself is under test (HEAD, keep-alive, malformed input, limits).
#include "http/server.h"
#include "http/test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <latch>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "http/client.h"

namespace promptops::http {
namespace {

using namespace std::chrono_literals;

std::string ThreadIdString() {
  std::ostringstream s;
  s << std::this_thread::get_id();
  return s.str();
}

// A one-shot gate: Wait() blocks until Open(). Both thread-safe.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

using testing::RawConnection;
using testing::ThreadsCpuTime;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<Router>();
    router->Add("GET", "/hello", [](Request&) { return Response::Text(200, "hello"); });
    router->Add("GET", "/prompts/{name}",
                [](Request& r) { return Response::Text(200, std::string(r.Param("name"))); });
    router->Add("GET", "/query",
                [](Request& r) { return Response::Text(200, r.Query("q").value_or("<none>")); });
    router->Add("POST", "/echo", [](Request& r) {
      return Response::Text(200, r.body, std::string(r.Header("content-type").value_or("")));
    });
    router->Add("GET", "/request-id", [](Request& r) { return Response::Text(200, r.request_id); });
    // Everything the handler sees of the request, one line per item.
    auto describe = [](Request& r) {
      std::string out = r.method + " " + r.target + " path=" + r.path + " query=" + r.query +
                        " body=" + r.body + " params=" + std::to_string(r.path_params.size()) +
                        "\n";
      for (const auto& [name, value] : r.headers) out += name + ": " + value + "\n";
      return Response::Text(200, out);
    };
    router->Add("GET", "/describe/{x}", describe);
    router->Add("POST", "/describe", describe);
    router->Add("GET", "/odd-headers", [](Request&) {
      Response r = Response::Text(200, "body");
      r.headers.emplace_back("X-Split", "a\r\nInjected: yes");  // would split the response
      r.headers.emplace_back("Bad Name", "v");                  // not a token
      r.headers.emplace_back("X-Nul", std::string("a\0b", 3));  // NUL in a value
      r.headers.emplace_back("Content-Length", "999");          // framing: the server's
      r.headers.emplace_back("Transfer-Encoding", "chunked");   // framing: the server's
      r.headers.emplace_back("Server", "impostor");             // the server's own
      r.headers.emplace_back("Connection", "upgrade");          // framing: the server's
      r.headers.emplace_back("X-Request-ID", "forged");         // the server's own
      r.headers.emplace_back("X-Kept", "안녕 ok");              // UTF-8 value passes
      r.headers.emplace_back("x-kept-2", "");                   // empty value is fine
      return r;
    });
    router->Add("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("boom"); });
    router->Add("GET", "/thread", [](Request&) { return Response::Text(200, ThreadIdString()); });
    router->Add("GET", "/blocking/thread",
                [](Request&) { return Response::Text(200, ThreadIdString()); }, {.blocking = true});
    router->Add("GET", "/blocking/wait",
                [this](Request&) {
                  entered_.Open();
                  release_.Wait();
                  return Response::Text(200, "finished");
                },
                {.blocking = true});
    router_ = router;
  }

  void TearDown() override {
    release_.Open();
    if (server_) server_->Stop();
  }

  // Starts a server on port 0; options can be adjusted by the test first.
  void StartServer() {
    options_.port = 0;
    server_ = std::make_unique<Server>(options_, router_);
    for (auto& hook : hooks_) server_->OnShutdown(hook);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_NE(server_->port(), 0);
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }

  ServerOptions options_{.threads = 2, .max_body_bytes = 1024, .max_header_bytes = 2048};
  std::shared_ptr<Router> router_;
  std::vector<std::function<void()>> hooks_;
  std::unique_ptr<Server> server_;
  Gate entered_;  // a blocking /blocking/wait handler has started
  Gate release_;  // lets /blocking/wait handlers return
};

TEST_F(ServerTest, ServesRouteWithStandardHeaders) {
  StartServer();
  auto r = Fetch("GET", Url("/hello"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("Server"), "promptops");
  EXPECT_EQ(r->Header("content-type"), "text/plain; charset=utf-8");
  ASSERT_TRUE(r->Header("x-request-id"));
  EXPECT_EQ(r->Header("x-request-id")->size(), 16u);
}

TEST_F(ServerTest, HandlerHeadersThatCouldBreakTheResponseAreDropped) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /odd-headers HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "body");
  EXPECT_FALSE(r->Has("injected"));
  EXPECT_FALSE(r->Has("x-split"));
  EXPECT_FALSE(r->Has("bad name"));
  EXPECT_FALSE(r->Has("x-nul"));
  EXPECT_FALSE(r->Has("transfer-encoding"));
  EXPECT_FALSE(r->Has("impostor"));
  EXPECT_FALSE(r->Has("upgrade"));
  EXPECT_FALSE(r->Has("forged"));
  EXPECT_TRUE(r->Has("\r\ncontent-length: 4\r\n"));
  EXPECT_TRUE(r->Has("\r\nserver: promptops\r\n"));
  EXPECT_TRUE(r->Has("\r\nx-kept: 안녕 ok\r\n"));
  EXPECT_TRUE(r->Has("\r\nx-kept-2: \r\n"));
  EXPECT_TRUE(r->head.starts_with("http/1.1 200 ok\r\n"));
  // The connection is intact: a second request on it is answered.
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto again = c.Read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello");
}

TEST_F(ServerTest, EncodedSlashStaysInPathSegmentAndIsDecoded) {
  StartServer();
  auto r = Fetch("GET", Url("/prompts/team%2Fgreeting"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "team/greeting");
  auto bad = Fetch("GET", Url("/prompts/bad%zz"));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\"invalid_argument\""), std::string::npos);
}

TEST_F(ServerTest, QueryIsDecoded) {
  StartServer();
  auto r = Fetch("GET", Url("/query?x=1&q=a+b%21&q=second"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "a b!");
}

TEST_F(ServerTest, PostBodyAndHeadersReachHandler) {
  StartServer();
  auto r = Fetch("POST", Url("/echo"), {{"Content-Type", "application/json"}}, R"({"a":1})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"a":1})");
  EXPECT_EQ(r->Header("content-type"), "application/json");
}

TEST_F(ServerTest, UnknownRouteIs404Json) {
  StartServer();
  auto r = Fetch("GET", Url("/nope"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"error":{"code":"not_found","message":"no route for /nope"}})");
  EXPECT_TRUE(r->Header("x-request-id"));
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  auto r = Fetch("DELETE", Url("/hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("allow"), "GET, HEAD");
  EXPECT_NE(r->body.find("\"method_not_allowed\""), std::string::npos);
}

TEST_F(ServerTest, HeadResponseHasHeadersButNoBody) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.Read(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->Has("content-length: 5\r\n"));
  // Had a body been sent, it would appear in front of the next response.
  auto get = c.Read();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello");
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.Read();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->Has("connection: close"));
  ASSERT_TRUE(c.Send("GET /prompts/two HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = c.Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "two");
}

// One request object serves a connection's requests (its memory reused): each handler sees
// exactly its own request, whatever the one before on the connection had (more or fewer
// headers, a body, a path parameter, a large header or body, which are not kept).
TEST_F(ServerTest, RequestsOnOneConnectionSeeOnlyTheirOwnParts) {
  options_.max_body_bytes = 64 * 1024;
  options_.max_header_bytes = 64 * 1024;
  StartServer();
  RawConnection c(server_->port());
  std::string big(20000, 'b');     // a body larger than what a connection keeps
  std::string header(17000, 'h');  // a header too
  struct Step {
    std::string request;
    std::string expected;
  } steps[] = {
      {"POST /describe?a=1 HTTP/1.1\r\nHost: x\r\nX-One: 1\r\nX-Two: 2\r\nX-Three: 3\r\n"
       "Content-Length: 5\r\n\r\nhello",
       "POST /describe?a=1 path=/describe query=a=1 body=hello params=0\nHost: x\nX-One: 1\n"
       "X-Two: 2\nX-Three: 3\nContent-Length: 5\n"},
      {"GET /describe/7 HTTP/1.1\r\nHost: y\r\n\r\n",
       "GET /describe/7 path=/describe/7 query= body= params=1\nHost: y\n"},
      {"POST /describe HTTP/1.1\r\nHost: z\r\nX-Big: " + header +
           "\r\nContent-Length: 20000\r\n\r\n" + big,
       "POST /describe path=/describe query= body=" + big + " params=0\nHost: z\nX-Big: " + header +
           "\nContent-Length: 20000\n"},
      {"GET /describe/8?q=%E2%9C%93 HTTP/1.1\r\nHost: w\r\nX-Korean: 안녕\r\n\r\n",
       "GET /describe/8?q=%E2%9C%93 path=/describe/8 query=q=%E2%9C%93 body= params=1\nHost: w\n"
       "X-Korean: 안녕\n"},
  };
  for (const auto& step : steps) {
    ASSERT_TRUE(c.Send(step.request));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // Not EXPECT_EQ: the large step would print 40 KB.
    EXPECT_TRUE(r->body == step.expected) << r->body.substr(0, 300) << "\n--- expected ---\n"
                                          << step.expected.substr(0, 300);
  }
}

TEST_F(ServerTest, ConnectionCloseIsHonored) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->Has("connection: close\r\n"));
  EXPECT_TRUE(c.AtEof());
}

TEST_F(ServerTest, BodyOverLimitByContentLengthIs413) {
  StartServer();
  auto r = Fetch("POST", Url("/echo"), {}, std::string(2000, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("\"payload_too_large\""), std::string::npos);
  EXPECT_TRUE(r->Header("x-request-id"));
  // A body at the limit is fine.
  auto ok = Fetch("POST", Url("/echo"), {}, std::string(1024, 'x'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, Oversized413IsSentBeforeTheBodyIsRead) {
  StartServer();
  RawConnection c(server_->port());
  // Only the header: the server must answer from Content-Length alone.
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(r->Has("connection: close"));
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  StartServer();
  RawConnection c(server_->port());
  std::string chunk(600, 'y');
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "258\r\n" + chunk + "\r\n";  // 0x258 = 600
  req += "0\r\n\r\n";
  ASSERT_TRUE(c.Send(req));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("\"payload_too_large\""), std::string::npos);
}

TEST_F(ServerTest, ChunkedBodyWithinLimitIsAccepted) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
}

TEST_F(ServerTest, HeaderOverLimitIs431) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'h') + "\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(r->Has("x-request-id: "));
}

TEST_F(ServerTest, HandlerExceptionIs500AndConnectionSurvives) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("\"internal\""), std::string::npos);
  EXPECT_EQ(r->body.find("boom"), std::string::npos);  // no internals leak to the client
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto next = c.Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_F(ServerTest, MalformedRequestLineIs400AndServerKeepsServing) {
  StartServer();
  {
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send("THIS IS NOT HTTP\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("\"invalid_argument\""), std::string::npos);
    EXPECT_TRUE(c.AtEof());
  }
  auto r = Fetch("GET", Url("/hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

// Messages whose body length two parsers could read differently (request smuggling) get a 400
// and the connection closes: nothing after them is read as a request.
TEST_F(ServerTest, AmbiguousFramingIs400AndClosesTheConnection) {
  StartServer();
  const std::vector<std::string> requests = {
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
      "0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
      "GET /hello HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
  };
  for (const auto& req : requests) {
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send(req + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r) << req;
    EXPECT_EQ(r->status, 400) << req;
    EXPECT_NE(r->body.find("malformed request"), std::string::npos) << r->body;
    EXPECT_TRUE(c.AtEof()) << req;
  }
}

// Bytes that are not HTTP (a TLS handshake sent to the plain port) get their 400 at once, not
// after the request timeout.
TEST_F(ServerTest, GarbageWithoutALineEndIs400AtOnce) {
  options_.request_timeout = std::chrono::seconds(30);
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  auto start = std::chrono::steady_clock::now();
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// A request sent a byte at a time, with a chunked body, then a pipelined one in the same write.
TEST_F(ServerTest, RequestArrivingByteByByteIsReadWhole) {
  StartServer();
  RawConnection c(server_->port());
  c.NoDelay();
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\n한\r\n2\r\nok\r\n0\r\nTrailer: t\r\n\r\n";
  for (char ch : req) ASSERT_TRUE(c.Send(std::string_view(&ch, 1)));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "한ok");
  // The head's first bytes alone, then the rest of it with the body in one write: the body
  // must be taken from what the head's read brought.
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHo"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(c.Send("st: x\r\nContent-Length: 5\r\n\r\nfirst"));
  auto split = c.Read();
  ASSERT_TRUE(split);
  EXPECT_EQ(split->body, "first");
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naGET "
             "/prompts/two HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "a");
  auto second = c.Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "two");
}

TEST_F(ServerTest, RequestIdIsTakenFromValidHeaderOrAssigned) {
  StartServer();
  auto given = Fetch("GET", Url("/request-id"), {{"X-Request-Id", "trace-42.a_b:c"}});
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->body, "trace-42.a_b:c");
  EXPECT_EQ(given->Header("x-request-id"), "trace-42.a_b:c");
  auto invalid = Fetch("GET", Url("/request-id"), {{"X-Request-Id", "has space<script>"}});
  ASSERT_TRUE(invalid.ok());
  EXPECT_EQ(invalid->body.size(), 16u);
  EXPECT_EQ(invalid->Header("x-request-id"), invalid->body);
  auto other = Fetch("GET", Url("/request-id"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->body, invalid->body);
}

TEST_F(ServerTest, BlockingRouteRunsOffTheNetworkThread) {
  options_.threads = 1;
  StartServer();
  auto network = Fetch("GET", Url("/thread"));
  auto blocking = Fetch("GET", Url("/blocking/thread"));
  ASSERT_TRUE(network.ok());
  ASSERT_TRUE(blocking.ok());
  EXPECT_EQ(blocking->status, 200);
  EXPECT_NE(network->body, blocking->body);
  EXPECT_NE(network->body, ThreadIdString());
}

TEST_F(ServerTest, NetworkThreadKeepsServingWhileBlockingHandlerWaits) {
  options_.threads = 1;
  StartServer();
  std::thread slow([&] {
    auto r = Fetch("GET", Url("/blocking/wait"));
    EXPECT_TRUE(r.ok() && r->status == 200);
  });
  ASSERT_TRUE(entered_.Wait());
  auto r = Fetch("GET", Url("/hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  release_.Open();
  slow.join();
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  // The handler is released only once Stop() is under way (the shutdown hook runs after the
  // listener closed), so the response is written during a graceful stop.
  hooks_.push_back([this] { release_.Open(); });
  StartServer();
  std::optional<Result<ClientResponse>> in_flight;
  std::thread client([&] { in_flight = Fetch("GET", Url("/blocking/wait")); });
  ASSERT_TRUE(entered_.Wait());
  server_->Stop();
  client.join();
  ASSERT_TRUE(in_flight && in_flight->ok()) << in_flight->error().ToString();
  EXPECT_EQ((*in_flight)->status, 200);
  EXPECT_EQ((*in_flight)->body, "finished");
  EXPECT_EQ((*in_flight)->Header("connection"), "close");
  auto after = Fetch("GET", Url("/hello"), {}, {}, {.timeout = 2s});
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kUnavailable);
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnectionsWithoutWaiting) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.Read());
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // well under the 10 s grace
  EXPECT_TRUE(c.AtEof());
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, StopWithoutStartAndDestructorAreSafe) {
  Server never_started(options_, router_);
  never_started.Stop();
  StartServer();
  server_.reset();  // the destructor stops a running server
}

TEST_F(ServerTest, StartFailsWhenPortIsTaken) {
  StartServer();
  ServerOptions o = options_;
  o.port = server_->port();
  Server second(o, router_);
  Status s = second.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(o.port)),
            std::string::npos);
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.Send("ok"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
}

TEST_F(ServerTest, AccessLogDoesNotDisturbServing) {
  options_.access_log = true;
  StartServer();
  auto r = Fetch("GET", Url("/query?q=secret"), {{"Authorization", "Bearer sk-secret"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, ConcurrentClientsAllSucceed) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string name = "p" + std::to_string(t) + "-" + std::to_string(i);
        auto r = Fetch("GET", Url("/prompts/" + name));
        if (r.ok() && r->status == 200 && r->body == name) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(ServerTest, IncompleteRequestIsClosedAtRequestTimeout) {
  options_.request_timeout = 200ms;
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n"));  // header never ends
  EXPECT_TRUE(c.AtEof());
  auto r = Fetch("GET", Url("/hello"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAtIdleTimeout) {
  options_.idle_timeout = 200ms;
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.Read());
  EXPECT_TRUE(c.AtEof());
}

TEST_F(ServerTest, BusyKeepAliveConnectionOutlivesItsIdleTimeout) {
  // The idle deadline moves with every request: a connection used every 100 ms stays open
  // well past a 250 ms idle timeout, then closes 250 ms after its last request.
  options_.idle_timeout = 250ms;
  options_.request_timeout = 1000ms;
  StartServer();
  RawConnection c(server_->port());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->body, "hello");
    std::this_thread::sleep_for(100ms);
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.AtEof());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(ServerTest, SlowlyTrickledRequestIsClosedAtRequestTimeout) {
  // Every byte resets no timer: the whole request must arrive within request_timeout.
  options_.request_timeout = 300ms;
  options_.idle_timeout = 5000ms;
  StartServer();
  RawConnection c(server_->port());
  std::string req = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnopqrstuvwxyz\r\n\r\n";
  auto t0 = std::chrono::steady_clock::now();
  for (char ch : req) {
    if (!c.Send(std::string(1, ch))) break;  // the server closed: sends start failing
    std::this_thread::sleep_for(20ms);
    if (std::chrono::steady_clock::now() - t0 > 1000ms) break;
  }
  // Closed without an answer. (AtEof would wait up to 10 s if the server kept it open.)
  EXPECT_TRUE(c.AtEof());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(ServerTest, StopFromAHandlerBeginsShutdownWithoutDeadlock) {
  router_->Add("POST", "/shutdown",
               [this](Request&) {
                 server_->Stop();  // returns at once on a server thread
                 return Response::Text(200, "stopping");
               },
               {.blocking = true});
  StartServer();
  auto r = Fetch("POST", Url("/shutdown"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "stopping");
  EXPECT_EQ(r->Header("connection"), "close");
  server_->Stop();  // completes the shutdown: joins the threads
  auto after = Fetch("GET", Url("/hello"), {}, {}, {.timeout = 2s});
  EXPECT_FALSE(after.ok());
}

TEST_F(ServerTest, WaitForSignalReturnsWhenStoppedElsewhere) {
  StartServer();
  std::thread waiter([&] { server_->WaitForSignal(); });
  server_->Stop();
  waiter.join();
}

TEST_F(ServerTest, ClientHandlesHeadAndNoContent) {
  router_->Add("DELETE", "/thing", [](Request&) { return Response::NoContent(); });
  StartServer();
  auto head = Fetch("HEAD", Url("/hello"));
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "5");
  EXPECT_EQ(head->body, "");
  auto deleted = Fetch("DELETE", Url("/thing"));
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  EXPECT_EQ(deleted->status, 204);
  EXPECT_EQ(deleted->body, "");
  EXPECT_FALSE(deleted->Header("content-length"));
}

// --- client ---

TEST(Client, ConnectionRefusedIsUnavailable) {
  // Bind a port, then close it, so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  std::string where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto r = Fetch("GET", "http://" + where + "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("cannot connect to " + where), std::string::npos)
      << r.error().message;
}

TEST(Client, RejectsHttpsAndMalformedUrls) {
  struct {
    std::string url;
    std::string message_part;
  } cases[] = {
      {"https://example.com/", "https is not supported yet"},
      {"ftp://example.com/", "unsupported URL"},
      {"example.com/x", "unsupported URL"},
      {"http:///x", "no host"},
      {"http://h:99999/", "port"},
      {"http://h:12ab/", "port"},
      {"http://[::1/", "host"},
  };
  for (const auto& c : cases) {
    auto r = Fetch("GET", c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.url;
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST_F(ServerTest, ClientTimesOut) {
  StartServer();
  auto r = Fetch("GET", Url("/blocking/wait"), {}, {}, {.timeout = 200ms});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  release_.Open();
}

TEST_F(ServerTest, ClientSendsUserAgentAndHost) {
  router_->Add("GET", "/whoami", [](Request& r) {
    return Response::Text(200, std::string(r.Header("user-agent").value_or("")) + "|" +
                                   std::string(r.Header("host").value_or("")));
  });
  StartServer();
  auto r = Fetch("GET", Url("/whoami"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "promptops-cli|127.0.0.1:" + std::to_string(server_->port()));
}

// Connections that arrive one at a time go to the network threads in turn too (an accept that
// finds the queue empty must not take a thread's turn).
TEST_F(ServerTest, ConnectionsArrivingOneByOneAlternateBetweenThreads) {
  StartServer();
  std::vector<std::unique_ptr<RawConnection>> conns;
  std::vector<std::string> threads;
  for (int i = 0; i < 4; ++i) {
    conns.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(conns.back()->Send("GET /thread HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = conns.back()->Read();  // served before the next connection opens
    ASSERT_TRUE(r) << i;
    threads.push_back(r->body);
  }
  EXPECT_NE(threads[0], threads[1]);
  EXPECT_EQ(threads[0], threads[2]);
  EXPECT_EQ(threads[1], threads[3]);
}

// A burst of connections (clients reconnecting at once): the listener takes what is queued in
// one go (Listen's drain loop, beyond its first accept and past its limit per wake-up); every
// connection gets its session, on one of the network threads, and is answered.
TEST_F(ServerTest, ABurstOfConnectionsIsAcceptedAndEveryOneServed) {
  StartServer();
  constexpr int kConnections = 400;  // more than one drain's limit; 800 descriptors in all
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(conns.back()->connected()) << i;
  }
  for (int i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(conns[static_cast<std::size_t>(i)]->Send("GET /prompts/c" + std::to_string(i) +
                                                         " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  std::set<std::string> threads;
  for (int i = 0; i < kConnections; ++i) {
    auto r = conns[static_cast<std::size_t>(i)]->Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "c" + std::to_string(i));
  }
  // The connections went to both network threads in turn.
  for (int i = 0; i < 4; ++i) {
    RawConnection& c = *conns[static_cast<std::size_t>(i)];
    ASSERT_TRUE(c.Send("GET /thread HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    threads.insert(r->body);
  }
  EXPECT_EQ(threads.size(), 2u);
}

// Busy polling (ServerOptions::busy_poll): a network thread keeps polling after an event for
// the window, then sleeps. Measured by the thread's CPU time: busy while polling, ~0 asleep.
TEST_F(ServerTest, BusyPollPollsForItsWindowAfterAnEventThenSleeps) {
  options_.threads = 1;
  options_.busy_poll = 400ms;  // far beyond what serve accepts, to be visible in CPU time
  StartServer();
  ASSERT_TRUE(Fetch("GET", Url("/hello")).ok());
  auto polling0 = ThreadsCpuTime("po-net-");
  std::this_thread::sleep_for(200ms);
  auto polling = ThreadsCpuTime("po-net-") - polling0;
  // Polling yields to other runnable threads, so on a loaded machine it gets a share only.
  EXPECT_GT(polling, 30ms) << "the network thread did not poll after the request";

  std::this_thread::sleep_for(400ms);  // the window (400 ms after the request) is over
  auto asleep0 = ThreadsCpuTime("po-net-");
  std::this_thread::sleep_for(300ms);
  auto asleep = ThreadsCpuTime("po-net-") - asleep0;
  EXPECT_LT(asleep, 30ms) << "the network thread kept polling after its window";

  // A sleeping thread wakes for the next request.
  auto again = Fetch("GET", Url("/prompts/after-sleep"));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->body, "after-sleep");
}

// Without busy polling a thread sleeps as soon as it has nothing to do.
TEST_F(ServerTest, WithoutBusyPollTheNetworkThreadSleepsAtOnce) {
  options_.threads = 1;
  StartServer();
  ASSERT_TRUE(Fetch("GET", Url("/hello")).ok());
  auto cpu0 = ThreadsCpuTime("po-net-");
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(ThreadsCpuTime("po-net-") - cpu0, 30ms);
}

// Everything a server does works the same with busy polling on: keep-alive, a blocking route,
// an error, and a stop that closes idle connections without waiting for the grace period.
TEST_F(ServerTest, BusyPollServesAndStops) {
  options_.busy_poll = 200us;
  StartServer();
  RawConnection c(server_->port());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.Send("GET /prompts/n" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "n" + std::to_string(i));
  }
  auto blocking = Fetch("GET", Url("/blocking/thread"));
  ASSERT_TRUE(blocking.ok());
  EXPECT_EQ(blocking->status, 200);
  auto missing = Fetch("GET", Url("/nowhere"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // well under the 10 s grace
  EXPECT_TRUE(c.AtEof());
}

}  // namespace
}  // namespace promptops::http
