// UpstreamClient against real local servers on port 0: our own server with async routes as
// the fake upstream, a raw socket server for broken responses, and a TLS server with a
// certificate issued by a CA generated here with the openssl CLI.
#include "http/upstream.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "http/async.h"
#include "http/server.h"
#include "http/test_support.h"
#include "support/temp_dir.h"

namespace promptops::http {
namespace {

using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using testing::AsyncGate;
using testing::RunSync;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The fake upstream: our server with a few routes under /v1.
class UpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_->Add("GET", "/v1/conn", [this](Request& req) {
      std::lock_guard lock(mu_);
      remotes_.insert(req.remote_addr);
      return Response::Text(200, "ok");
    });
    router_->Add("POST", "/v1/echo", [](Request& req) {
      Response r = Response::Text(201, req.body);
      r.headers.emplace_back("x-seen", std::string(req.Header("x-api-key").value_or("")));
      r.headers.emplace_back("x-target", req.target);
      return r;
    });
    AddAsyncRoute(*router_, "GET", "/v1/slow-head",
                  [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                    asio::steady_timer t(w.executor(), 30s);
                    co_await t.async_wait(asio::bind_cancellation_slot(w.CancelSlot(), kTuple));
                    co_return Response::Text(200, "late");
                  });
    AddAsyncRoute(*router_, "GET", "/v1/slow-stream",
                  [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                    co_await w.StartStream(200, Headers());
                    for (int i = 0; i < 600 && !w.ClientGone(); ++i) {
                      co_await w.Write("x");
                      asio::steady_timer t(w.executor(), 50ms);
                      co_await t.async_wait(asio::bind_cancellation_slot(w.CancelSlot(), kTuple));
                    }
                    co_return Response{};
                  });
    AddAsyncRoute(*router_, "GET", "/v1/gated-stream",
                  [this](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                    co_await w.StartStream(200, SseHeaders());
                    co_await w.Write("one");
                    bool opened = co_await gate_.Wait(w.CancelSlot());
                    if (!opened) {
                      server_saw_gone_.set_value(w.ClientGone());
                      co_return Response{};
                    }
                    co_await w.Write("two");
                    co_return Response{};
                  });
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.shutdown_grace = 2s;
    server_ = std::make_unique<Server>(o, router_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override { server_->Stop(); }

  static Headers SseHeaders() { return {{"content-type", "text/event-stream"}}; }

  std::shared_ptr<UpstreamClient> MakeClient(UpstreamOptions o = {}) {
    if (o.base_url.empty())
      o.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
    auto c = UpstreamClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return *c;
  }

  std::mutex mu_;
  std::set<std::string> remotes_;  // guarded by mu_
  AsyncGate gate_;
  std::promise<bool> server_saw_gone_;
  std::shared_ptr<Router> router_ = std::make_shared<Router>();
  std::unique_ptr<Server> server_;
  std::shared_ptr<UpstreamClient> client_;
  // Declared last, so destroyed first: pooled connections must be closed with it.
  asio::io_context ioc_;
};

// A collecting Stream call.
struct Streamed {
  Status status;
  int http_status = 0;
  std::vector<std::string> pieces;
};

asio::awaitable<Streamed> StreamAll(UpstreamClient& c, std::string path,
                                    std::function<bool(std::string_view)> also = nullptr) {
  Streamed out;
  out.status = co_await c.Stream(
      "GET", std::move(path), {}, "",
      [&out](const UpstreamResponseHead& h) {
        out.http_status = h.status;
        return true;
      },
      [&out, also](std::string_view piece) {
        out.pieces.emplace_back(piece);
        return also ? also(piece) : true;
      });
  co_return out;
}

TEST_F(UpstreamTest, FetchSendsHeadersAndBodyToBasePath) {
  client_ = MakeClient();
  auto r = RunSync(ioc_, client_->Fetch("POST", "/echo?q=1", {{"x-api-key", "sk-secret"}}, "hi"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->first.status, 201);
  EXPECT_EQ(r->first.Header("x-seen"), "sk-secret");
  EXPECT_EQ(r->first.Header("x-target"), "/v1/echo?q=1");
  EXPECT_EQ(r->second, "hi");
  // A path without its leading slash is put under the base path all the same.
  auto bare = RunSync(ioc_, client_->Fetch("POST", "echo", {}, "ho"));
  ASSERT_TRUE(bare.ok()) << bare.error().ToString();
  EXPECT_EQ(bare->first.Header("x-target"), "/v1/echo");
  EXPECT_EQ(bare->second, "ho");
}

// FetchInto: the same call as Fetch (the gateway's hot path), its answer in the caller's pair;
// the arguments are the call's own, so temporaries passed to it may go before it runs.
TEST_F(UpstreamTest, FetchIntoFillsTheCallersPairAndReportsErrors) {
  client_ = MakeClient();
  std::pair<UpstreamResponseHead, std::string> out;
  asio::awaitable<Status> call = [&] {
    std::string path = "/echo?q=2";
    return client_->FetchInto("POST", path, {{"x-api-key", "sk-into"}}, std::string(3, 'z'), out);
  }();  // `path` is gone before the call starts
  Status st = RunSync(ioc_, std::move(call));
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(out.first.status, 201);
  EXPECT_EQ(out.first.Header("x-seen"), "sk-into");
  EXPECT_EQ(out.first.Header("x-target"), "/v1/echo?q=2");
  EXPECT_EQ(out.second, "zzz");
  EXPECT_EQ(client_->idle_connections(), 1u);  // read to the end: pooled

  std::pair<UpstreamResponseHead, std::string> refused;
  st = RunSync(ioc_, client_->FetchInto("GET", "/x", {{"bad name", "v"}}, "", refused));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.first.status, 0);
  EXPECT_EQ(refused.second, "");
}

// response_headers: only the named fields are kept (names case-insensitive); the body and the
// framing are not affected.
TEST_F(UpstreamTest, OnlyTheResponseHeadersAskedForAreKept) {
  UpstreamOptions o;
  o.response_headers = {"X-Seen", "retry-after"};
  client_ = MakeClient(o);
  auto r = RunSync(ioc_, client_->Fetch("POST", "/echo", {{"x-api-key", "k1"}}, "body"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->first.status, 201);
  EXPECT_EQ(r->second, "body");
  ASSERT_EQ(r->first.headers.size(), 1u);
  EXPECT_EQ(r->first.Header("x-seen"), "k1");
  EXPECT_FALSE(r->first.Header("x-target"));
  EXPECT_FALSE(r->first.Header("content-length"));
  // And the connection is reused as usual (framing parsed all the same).
  auto again = RunSync(ioc_, client_->Fetch("POST", "/echo", {}, "two"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second, "two");
  EXPECT_EQ(client_->idle_connections(), 1u);
}

// A request the socket cannot take in one non-blocking send (8 MB over loopback): the part the
// fast path sent and the rest written asynchronously arrive whole and in order.
TEST_F(UpstreamTest, RequestBiggerThanTheSocketBufferArrivesWhole) {
  client_ = MakeClient();
  std::string body;
  body.reserve(8 << 20);
  for (std::size_t i = 0; body.size() < (8u << 20); ++i) {
    body += "요청 " + std::to_string(i) + '\n';
  }
  auto r = RunSync(ioc_, client_->Fetch("POST", "/echo", {}, body));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->first.status, 201);
  ASSERT_EQ(r->second.size(), body.size());
  EXPECT_TRUE(r->second == body);
  // The connection stays usable.
  auto again = RunSync(ioc_, client_->Fetch("POST", "/echo", {}, "small"));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->second, "small");
}

TEST_F(UpstreamTest, HeadersOrMethodsThatCouldSplitTheRequestAreRefusedUnsent) {
  client_ = MakeClient();
  auto injected = RunSync(ioc_, client_->Fetch("POST", "/echo", {{"x-a", "v\r\nX-Evil: 1"}}, "hi"));
  ASSERT_FALSE(injected.ok());
  EXPECT_EQ(injected.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(injected.error().message.find("x-a"), std::string::npos);
  auto bad_name = RunSync(ioc_, client_->Fetch("POST", "/echo", {{"x a", "v"}}, "hi"));
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidArgument);
  auto bad_method = RunSync(ioc_, client_->Fetch("GET /x HTTP/1.1\r\n", "/echo", {}, ""));
  ASSERT_FALSE(bad_method.ok());
  EXPECT_EQ(bad_method.error().code, ErrorCode::kInvalidArgument);
  auto bad_path = RunSync(ioc_, client_->Fetch("GET", "/echo x", {}, ""));
  ASSERT_FALSE(bad_path.ok());
  auto split_path = RunSync(ioc_, client_->Fetch("GET", "/echo\r\nX-Evil: 1", {}, ""));
  ASSERT_FALSE(split_path.ok());
  EXPECT_EQ(split_path.error().code, ErrorCode::kInvalidArgument);
  // Nothing reached the upstream, and a valid call still works.
  EXPECT_EQ(client_->connections_opened(), 0u);
  auto ok = RunSync(ioc_, client_->Fetch("POST", "/echo", {{"x-api-key", "k"}}, "hi"));
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->second, "hi");
}

TEST_F(UpstreamTest, HundredSequentialCallsUseOneConnection) {
  client_ = MakeClient();
  auto calls = [](UpstreamClient& c) -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < 100; ++i) {
      auto r = co_await c.Fetch("GET", "/conn", {}, "");
      if (r.ok() && r->first.status == 200 && r->second == "ok") ++ok;
    }
    co_return ok;
  };
  EXPECT_EQ(RunSync(ioc_, calls(*client_)), 100);
  std::lock_guard lock(mu_);
  EXPECT_EQ(remotes_.size(), 1u);
  EXPECT_EQ(client_->connections_opened(), 1u);
  EXPECT_EQ(client_->idle_connections(), 1u);
}

// Network threads each have their own io_context and keep their own idle connections: two
// threads calling at the same time each reuse one connection, a connection never crosses
// contexts, and destroying a context closes its idle connections only.
TEST_F(UpstreamTest, EachContextReusesItsOwnConnectionsAndDropsThemWhenDestroyed) {
  client_ = MakeClient();
  auto calls = [](UpstreamClient& c, int n) -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      auto r = co_await c.Fetch("GET", "/conn", {}, "");
      if (r.ok() && r->first.status == 200 && r->second == "ok") ++ok;
    }
    co_return ok;
  };
  int other_ok = 0;
  std::thread other([&] {
    asio::io_context ioc;
    other_ok = RunSync(ioc, calls(*client_, 200));
  });  // its io_context is destroyed as the thread ends
  EXPECT_EQ(RunSync(ioc_, calls(*client_, 200)), 200);
  other.join();
  EXPECT_EQ(other_ok, 200);
  EXPECT_EQ(client_->connections_opened(), 2u);
  EXPECT_EQ(client_->idle_connections(), 1u);  // the other context's went with it
  EXPECT_EQ(RunSync(ioc_, calls(*client_, 50)), 50);
  EXPECT_EQ(client_->connections_opened(), 2u);
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(remotes_.size(), 2u);
  }

  // The client's limit holds over all contexts together.
  UpstreamOptions o;
  o.max_idle_connections = 1;
  auto small = MakeClient(o);
  asio::io_context second;
  EXPECT_EQ(RunSync(ioc_, calls(*small, 3)), 3);
  EXPECT_EQ(RunSync(second, calls(*small, 3)), 3);
  EXPECT_EQ(small->idle_connections(), 1u);
  EXPECT_EQ(small->connections_opened(), 2u);
}

TEST_F(UpstreamTest, FiftyConcurrentCallsAllSucceed) {
  client_ = MakeClient();
  std::atomic<int> ok{0};
  auto one = [](UpstreamClient& c, std::atomic<int>& ok) -> asio::awaitable<void> {
    auto r = co_await c.Fetch("GET", "/conn", {}, "");
    if (r.ok() && r->first.status == 200) ++ok;
  };
  for (int i = 0; i < 50; ++i) asio::co_spawn(ioc_, one(*client_, ok), asio::detached);
  ioc_.run();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_LE(client_->connections_opened(), 50u);
  EXPECT_EQ(client_->idle_connections(), client_->connections_opened());
  // A second wave reuses the pool.
  std::size_t opened = client_->connections_opened();
  for (int i = 0; i < 50; ++i) asio::co_spawn(ioc_, one(*client_, ok), asio::detached);
  ioc_.restart();
  ioc_.run();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(client_->connections_opened(), opened);
}

TEST_F(UpstreamTest, ConnectionRefusedIsUnavailable) {
  uint16_t free_port;
  {
    tcp::acceptor a(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    free_port = a.local_endpoint().port();
  }
  UpstreamOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(free_port);
  client_ = MakeClient(o);
  auto r = RunSync(ioc_, client_->Fetch("GET", "/x", {{"authorization", "Bearer sk-secret"}}, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().message.starts_with("connect: ")) << r.error().message;
  EXPECT_EQ(r.error().message.find("sk-secret"), std::string::npos);
}

TEST_F(UpstreamTest, FirstByteTimeout) {
  UpstreamOptions o;
  o.first_byte_timeout = 200ms;
  client_ = MakeClient(o);
  auto start = std::chrono::steady_clock::now();
  auto r = RunSync(ioc_, client_->Fetch("GET", "/slow-head", {}, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(r.error().message, "first byte timeout after 200 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(client_->idle_connections(), 0u);
}

TEST_F(UpstreamTest, TotalTimeoutOnSlowStream) {
  UpstreamOptions o;
  o.total_timeout = 300ms;
  client_ = MakeClient(o);
  auto r = RunSync(ioc_, StreamAll(*client_, "/slow-stream"));
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(r.status.error().message, "total timeout after 300 ms");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_FALSE(r.pieces.empty());
  EXPECT_EQ(client_->idle_connections(), 0u);
}

TEST_F(UpstreamTest, StreamDeliversPiecesAsTheyArrive) {
  client_ = MakeClient();
  // The server writes "two" only after the gate opens, and we open it on receiving "one":
  // the test completes only if "one" was handed over without waiting for more.
  auto r = RunSync(ioc_, StreamAll(*client_, "/gated-stream", [this](std::string_view p) {
                     if (p == "one") gate_.Open();
                     return true;
                   }));
  ASSERT_TRUE(r.status.ok()) << r.status.error().ToString();
  ASSERT_GE(r.pieces.size(), 2u);
  EXPECT_EQ(r.pieces[0], "one");
  std::string all;
  for (const auto& p : r.pieces) all += p;
  EXPECT_EQ(all, "onetwo");
  EXPECT_EQ(client_->idle_connections(), 1u);  // chunked body read to the end: reusable
}

TEST_F(UpstreamTest, CancellationMidStreamAbortsAndClosesConnection) {
  client_ = MakeClient();
  asio::cancellation_signal cancel;
  auto call = [&]() -> asio::awaitable<Streamed> {
    co_return co_await asio::co_spawn(
        ioc_,
        StreamAll(*client_, "/gated-stream",
                  [&](std::string_view) {
                    // Cancel once the next read is pending, as a client disconnect would.
                    asio::post(ioc_, [&] { cancel.emit(asio::cancellation_type::terminal); });
                    return true;
                  }),
        asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
  };
  auto start = std::chrono::steady_clock::now();
  auto r = RunSync(ioc_, call());
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.status.error().message, "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(client_->idle_connections(), 0u);
  // The upstream saw the connection go away (and cancelled its own wait).
  auto gone = server_saw_gone_.get_future();
  ASSERT_EQ(gone.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(gone.get());
}

TEST_F(UpstreamTest, UpstreamCancelAbortsAFetchWaitingForTheHeadAtOnce) {
  client_ = MakeClient();
  UpstreamCancel cancel;
  asio::steady_timer timer(ioc_, 200ms);  // the head would come after 30 s
  timer.async_wait([&](const boost::system::error_code&) { cancel.Cancel(); });
  auto start = std::chrono::steady_clock::now();
  auto r = RunSync(ioc_, client_->Fetch("GET", "/slow-head", {}, "", &cancel));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message, "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(client_->idle_connections(), 0u);  // the connection was closed, not pooled
}

TEST_F(UpstreamTest, UpstreamCancelledBeforeTheCallFailsAtOnceWithoutConnecting) {
  client_ = MakeClient();
  UpstreamCancel cancel;
  cancel.Cancel();
  auto r = RunSync(ioc_, client_->Fetch("POST", "/echo", {}, "x", &cancel));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cancelled");
  EXPECT_EQ(client_->connections_opened(), 0u);
}

TEST_F(UpstreamTest, UnusedUpstreamCancelChangesNothing) {
  client_ = MakeClient();
  UpstreamCancel cancel;
  for (int i = 0; i < 3; ++i) {
    auto r = RunSync(ioc_, client_->Fetch("POST", "/echo", {}, "body", &cancel));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->second, "body");
  }
  EXPECT_EQ(client_->connections_opened(), 1u);  // kept alive and reused
  cancel.Cancel();  // after the calls: nothing is bound any more, nothing happens
  EXPECT_EQ(client_->idle_connections(), 1u);
}

TEST_F(UpstreamTest, CallbackReturningFalseAbortsAndConnectionIsNotReused) {
  client_ = MakeClient();
  Status st = RunSync(
      ioc_, client_->Stream(
                "GET", "/gated-stream", {}, "", [](const UpstreamResponseHead&) { return true; },
                [](std::string_view) { return false; }));
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(client_->idle_connections(), 0u);
  auto r = RunSync(ioc_, client_->Fetch("GET", "/conn", {}, ""));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(client_->connections_opened(), 2u);
}

TEST(UpstreamClientCreate, RejectsBadUrls) {
  const char* bad[] = {"", "ftp://x", "http://", "http://:80", "http://h:99999", "http://h:x",
                       "http://u:p@h/", "http://h/v1?x=1", "http://[::1",
                       // A base path that would split every request's start line.
                       "http://h/v 1", "http://h/v1\r\nX-Evil: 1", "http://h/v1\t"};
  for (const char* url : bad) {
    UpstreamOptions o;
    o.base_url = url;
    auto c = UpstreamClient::Create(o);
    ASSERT_FALSE(c.ok()) << url;
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument) << url;
  }
  UpstreamOptions o;
  o.base_url = "https://api.example.com/v1/";
  EXPECT_TRUE(UpstreamClient::Create(o).ok());
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(UpstreamClient::Create(o).ok());
}

// Reads from `s` until a request head has arrived; false when the connection failed first.
bool ReadRequestHead(tcp::socket& s) {
  beast::error_code ec;
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    if (ec) return false;
    request.append(buf, n);
  }
  return true;
}

// A server that answers one request with `answer`, written in one piece, then ends the
// connection: with a FIN (waiting for the client to close), or with `reset`, an RST.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string answer, bool reset = false)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, reset, answer = std::move(answer)] {
      beast::error_code ec;
      tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec || !ReadRequestHead(s)) return;
      asio::write(s, asio::buffer(answer), ec);
      if (reset) {
        s.set_option(asio::socket_base::linger(true, 0), ec);  // close with RST
      } else {
        s.shutdown(tcp::socket::shutdown_send, ec);
        char buf[256];
        s.read_some(asio::buffer(buf), ec);  // until the client closes
      }
      s.close(ec);
    });
  }
  ~ScriptedServer() {
    beast::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST_F(UpstreamTest, ResetMidBodyIsUpstreamError) {
  ScriptedServer bad("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", true);
  UpstreamOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(bad.port());
  client_ = MakeClient(o);
  auto r = RunSync(ioc_, client_->Fetch("GET", "/x", {}, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUpstreamError) << r.error().ToString();
  EXPECT_TRUE(r.error().message.starts_with("response body: ")) << r.error().message;
  EXPECT_EQ(client_->idle_connections(), 0u);
}

// An answer whose head and whole body arrive in one segment: the head reaches the caller
// before any of the body, and every byte of the body arrives (chunked, with a length, and
// delimited by the end of the connection); a connection that ends inside the head or the body is
// an error.
TEST_F(UpstreamTest, HeadComesBeforeTheBodyThatArrivedWithIt) {
  struct Case {
    const char* name;
    std::string answer;
    bool ok;
    std::string body;
  };
  const Case cases[] = {
      {"chunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n\xEC\x95\x88\xEB\x85\x95\r\n"
       "3\r\nabc\r\n0\r\n\r\n",
       true,
       "\xEC\x95\x88\xEB\x85\x95"
       "abc"},
      {"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true, "hello"},
      {"after interim answers",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
       true, "ok"},
      {"until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", true, "to the end"},
      {"cut in the head", "HTTP/1.1 200 OK\r\nContent-Le", false, ""},
      {"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", false, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ScriptedServer server(c.answer);
    UpstreamOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server.port());
    auto client = MakeClient(o);
    bool head_seen = false, data_before_head = false;
    std::string body;
    auto st = RunSync(ioc_, client->Stream(
                                "GET", "/x", {}, "",
                                [&](const UpstreamResponseHead& h) {
                                  head_seen = true;
                                  EXPECT_EQ(h.status, 200);
                                  return true;
                                },
                                [&](std::string_view piece) {
                                  data_before_head = data_before_head || !head_seen;
                                  body.append(piece);
                                  return true;
                                }));
    EXPECT_FALSE(data_before_head);
    EXPECT_EQ(st.ok(), c.ok) << (st.ok() ? "" : st.error().ToString());
    if (c.ok) {
      EXPECT_EQ(body, c.body);
    }
  }
}

// A server that answers each request with a keep-alive response and then closes the
// connection: the client pools it, and the next call must not fail because of that.
class ClosingServer {
 public:
  explicit ClosingServer(int connections)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        beast::error_code ec;
        tcp::socket s(ioc_);
        acceptor_.accept(s, ec);
        if (ec) return;
        ++accepted_;
        ReadRequestHead(s);
        asio::write(
            s, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")),
            ec);
        s.shutdown(tcp::socket::shutdown_both, ec);
        s.close(ec);
      }
    });
  }
  ~ClosingServer() {
    beast::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_.load(); }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(UpstreamTest, PooledConnectionClosedByUpstreamIsReplaced) {
  ClosingServer closing(2);
  UpstreamOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(closing.port());
  client_ = MakeClient(o);
  for (int i = 0; i < 2; ++i) {
    auto r = RunSync(ioc_, client_->Fetch("POST", "/x", {}, "body"));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().ToString();
    EXPECT_EQ(r->second, "ok");
  }
  EXPECT_EQ(closing.accepted(), 2);
}

// ---- TLS ----

int Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A CA and a server certificate for the name localhost signed by it, made with the CLI.
struct TestPki {
  promptops::testing::TempDir dir;
  std::string ca = dir.File("ca.pem");
  std::string cert = dir.File("server.pem");
  std::string key = dir.File("server.key");
  bool ok = false;
  TestPki() {
    std::string d = dir.path().string();
    ok = Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
             " -keyout " +
             d + "/ca.key -out " + ca +
             " -days 2 -subj /CN=promptops-test-ca"
             " -addext basicConstraints=critical,CA:TRUE"
             " -addext keyUsage=critical,keyCertSign,cRLSign") == 0 &&
         Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + key +
             " -out " + d + "/server.csr -subj /CN=localhost") == 0 &&
         Run("printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n'"
             " > " +
             d + "/ext.cnf") == 0 &&
         Run("openssl x509 -req -in " + d + "/server.csr -CA " + ca + " -CAkey " + d +
             "/ca.key -CAcreateserial -out " + cert + " -days 2 -extfile " + d + "/ext.cnf") == 0;
  }
};

// A keep-alive HTTPS server answering "secure <target>" to every request.
class TlsServer {
 public:
  TlsServer(const std::string& cert, const std::string& key)
      : ctx_(ssl::context::tls_server),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain_file(cert);
    ctx_.use_private_key_file(key, ssl::context::pem);
    asio::co_spawn(ioc_, Accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsServer() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_.load(); }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(ioc_, Serve(std::move(s)), asio::detached);
    }
  }
  asio::awaitable<void> Serve(tcp::socket s) {
    beast::ssl_stream<tcp::socket> stream(std::move(s), ctx_);
    auto [hs] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
    if (hs) co_return;
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [rec, rn] = co_await bhttp::async_read(stream, buffer, req, kTuple);
      if (rec) co_return;
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
      res.body() = "secure " + std::string(req.target());
      res.prepare_payload();
      res.keep_alive(req.keep_alive());
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
      if (wec) co_return;
    }
  }

  asio::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST(UpstreamTls, VerifiesAgainstCaFileAndReusesConnection) {
  TestPki pki;
  ASSERT_TRUE(pki.ok) << "openssl CLI failed";
  TlsServer server(pki.cert, pki.key);
  UpstreamOptions o;
  o.base_url = "https://localhost:" + std::to_string(server.port()) + "/v1";
  o.ca_file = pki.ca;
  auto client = UpstreamClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  asio::io_context ioc;
  for (int i = 0; i < 3; ++i) {
    auto r = RunSync(ioc, (*client)->Fetch("GET", "/models", {}, ""));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->first.status, 200);
    EXPECT_EQ(r->second, "secure /v1/models");
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST(UpstreamTls, FailsWithoutTheCa) {
  TestPki pki;
  ASSERT_TRUE(pki.ok) << "openssl CLI failed";
  TlsServer server(pki.cert, pki.key);
  UpstreamOptions o;
  o.base_url = "https://localhost:" + std::to_string(server.port());
  auto client = UpstreamClient::Create(o);
  ASSERT_TRUE(client.ok());
  asio::io_context ioc;
  auto r = RunSync(ioc, (*client)->Fetch("GET", "/", {}, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(r.error().message.starts_with("connect: ")) << r.error().message;
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
}

TEST(UpstreamTls, FailsForWrongHostName) {
  TestPki pki;
  ASSERT_TRUE(pki.ok) << "openssl CLI failed";
  TlsServer server(pki.cert, pki.key);
  UpstreamOptions o;
  // The same server by address: the certificate names only "localhost".
  o.base_url = "https://127.0.0.1:" + std::to_string(server.port());
  o.ca_file = pki.ca;
  auto client = UpstreamClient::Create(o);
  ASSERT_TRUE(client.ok());
  asio::io_context ioc;
  auto r = RunSync(ioc, (*client)->Fetch("GET", "/", {}, ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().ToString();
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace promptops::http
