// Coroutine routes and streamed responses against the real server on port 0, read with a raw
// socket so that the chunked framing and the timing of each chunk are visible.
#include "http/async.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <stdexcept>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "http/sse.h"
#include "http/test_support.h"
#include "http/ticker.h"

namespace promptops::http {
namespace {

using namespace std::chrono_literals;
using testing::AsyncGate;
using testing::RawConnection;

class AsyncRouteTest : public ::testing::Test {
 protected:
  void StartServer() {
    options_.port = 0;
    options_.threads = 2;
    server_ = std::make_unique<Server>(options_, router_);
    if (on_shutdown_) server_->OnShutdown(on_shutdown_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  static std::string Get(std::string_view path) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }

  ServerOptions options_;
  std::shared_ptr<Router> router_ = std::make_shared<Router>();
  std::unique_ptr<Server> server_;
  std::function<void()> on_shutdown_;
};

// Built outside the coroutines: GCC 12 rejects braced header lists inside a coroutine body.
Headers SseHeaders() { return {{"content-type", "text/event-stream"}}; }

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// GET /events: streams event "one", waits for `chunk1_read` to open (only the client having
// read chunk 1 opens it: no buffering), then streams "two" (event "done").
void AddGatedEvents(Router& router, AsyncGate& chunk1_read) {
  AddAsyncRoute(router, "GET", "/events",
                [&chunk1_read](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  if (!co_await w.StartStream(200, SseHeaders())) {
                    co_return Response{};
                  }
                  co_await w.Write(SseEvent("one"));
                  co_await chunk1_read.Wait(w.CancelSlot());
                  co_await w.Write(SseEvent("two", "done"));
                  co_return Response::Text(500, "ignored after StartStream");
                });
}

TEST_F(AsyncRouteTest, NonStreamedResponseAndKeepAlive) {
  AddAsyncRoute(*router_, "GET", "/hello/{name}",
                [](Request& req, ResponseWriter&) -> asio::awaitable<Response> {
                  co_await Sleep(1ms);
                  co_return Response::Text(200, "hello " + std::string(req.Param("name")));
                });
  StartServer();
  auto r = Fetch("GET", Url("/hello/ann"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello ann");

  RawConnection c(server_->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send(Get("/hello/bob")));
    auto head = c.ReadHead();
    ASSERT_TRUE(head);
    EXPECT_EQ(c.ReadBody(*head), "hello bob");
  }
}

TEST_F(AsyncRouteTest, StreamReachesClientBeforeNextWriteAndKeepsConnection) {
  AsyncGate chunk1_read;
  AddGatedEvents(*router_, chunk1_read);
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/events")));
  auto head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->Has("transfer-encoding: chunked")) << head->text;
  EXPECT_TRUE(head->Has("content-type: text/event-stream"));
  EXPECT_TRUE(head->Has("x-request-id: "));
  EXPECT_EQ(c.ReadChunk(), "data: one\n\n");
  chunk1_read.Open();
  EXPECT_EQ(c.ReadChunk(), "event: done\ndata: two\n\n");
  EXPECT_EQ(c.ReadChunk(), "");  // terminating chunk, implied by returning

  // Keep-alive after a finished stream.
  ASSERT_TRUE(c.Send(Get("/events")));
  head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(c.ReadChunk(), "data: one\n\n");  // the gate is open now
  EXPECT_EQ(c.ReadChunk(), "event: done\ndata: two\n\n");
  EXPECT_EQ(c.ReadChunk(), "");
}

// With busy polling on, a coroutine route's timer fires and a stream's chunks go out as they
// are written (the network thread polls instead of sleeping in run()).
TEST_F(AsyncRouteTest, BusyPollRunsTimersAndStreams) {
  options_.busy_poll = std::chrono::microseconds(300);
  AsyncGate chunk1_read;
  AddAsyncRoute(*router_, "GET", "/later",
                [](Request&, ResponseWriter&) -> asio::awaitable<Response> {
                  co_await Sleep(20ms);
                  co_return Response::Text(200, "later");
                });
  AddGatedEvents(*router_, chunk1_read);
  StartServer();
  auto r = Fetch("GET", Url("/later"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->body, "later");
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/events")));
  auto head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(c.ReadChunk(), "data: one\n\n");
  chunk1_read.Open();
  EXPECT_EQ(c.ReadChunk(), "event: done\ndata: two\n\n");
  EXPECT_EQ(c.ReadChunk(), "");
}

// A slow upstream call keeps its thread's ticker ticking every 10 ms (its timeouts are ticker
// entries). With busy polling, those ticks alone must not restart the polling window, or the
// thread would poll for as long as the call lasts while nothing arrives.
TEST_F(AsyncRouteTest, BusyPollIsNotKeptUpByTheTickersTicks) {
  options_.busy_poll = std::chrono::milliseconds(20);
  AddAsyncRoute(*router_, "GET", "/ticking",
                [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  TickEntry entry([](TickEntry&) {});  // stands for an upstream call's timeout
                  Ticker& ticker = Ticker::Of(w.executor());
                  ticker.Schedule(entry, ticker.Now() + std::chrono::seconds(10), w.executor());
                  std::uint64_t ticks0 = ticker.ticks();
                  co_await Sleep(800ms);
                  entry.Cancel();
                  co_return Response::Text(200, std::to_string(ticker.ticks() - ticks0));
                });
  StartServer();
  std::optional<Result<ClientResponse>> r;
  std::thread client([&] { r = Fetch("GET", Url("/ticking")); });
  std::this_thread::sleep_for(200ms);  // the window after the request's arrival is over
  auto cpu0 = testing::ThreadsCpuTime("po-net-");
  std::this_thread::sleep_for(400ms);
  auto used = testing::ThreadsCpuTime("po-net-") - cpu0;
  client.join();
  ASSERT_TRUE(r && r->ok()) << (r ? r->error().ToString() : "no answer");
  EXPECT_GT(std::stoll(r->value().body), 30) << "the ticker did not tick while the handler waited";
  EXPECT_LT(used, 60ms) << "the network thread kept polling on the ticker's ticks";
}

// Head lines (Response::head_lines, StartStream's third argument) follow the handler's
// headers, before the server's own, in plain and streamed answers.
TEST_F(AsyncRouteTest, HeadLinesReachTheClientPlainAndStreamed) {
  AddAsyncRoute(*router_, "GET", "/lines",
                [](Request&, ResponseWriter&) -> asio::awaitable<Response> {
                  Response r = Response::Text(200, "plain");
                  AppendHeaderLine(r.head_lines, "x-promptops-trace-id", "tr-1");
                  AppendHeaderLine(r.head_lines, "x-promptops-model", "모델");
                  co_return r;
                });
  AddAsyncRoute(*router_, "GET", "/lines-stream",
                [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  std::string lines;
                  AppendHeaderLine(lines, "x-promptops-trace-id", "tr-2");
                  if (co_await w.StartStream(200, SseHeaders(), lines)) {
                    co_await w.Write(SseEvent("one"));
                  }
                  co_return Response{};
                });
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/lines")));
  auto head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_TRUE(
      head->Has("\r\ncontent-type: text/plain; charset=utf-8\r\n"
                "x-promptops-trace-id: tr-1\r\nx-promptops-model: 모델\r\n"
                "server: promptops\r\n"))
      << head->text;
  EXPECT_EQ(c.ReadBody(*head), "plain");

  ASSERT_TRUE(c.Send(Get("/lines-stream")));
  head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->Has("\r\nx-promptops-trace-id: tr-2\r\nserver: promptops\r\n")) << head->text;
  EXPECT_TRUE(head->Has("content-type: text/event-stream"));
  EXPECT_EQ(c.ReadChunk(), "data: one\n\n");
  EXPECT_EQ(c.ReadChunk(), "");
}

TEST_F(AsyncRouteTest, ExplicitFinishEndsBodyOnce) {
  AddAsyncRoute(*router_, "GET", "/s",
                [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  co_await w.StartStream(200, Headers{});
                  co_await w.Write("abc");
                  co_await w.Write("");  // skipped: an empty chunk would end the body
                  co_await w.Finish();
                  co_await w.Finish();
                  EXPECT_FALSE(co_await w.Write("late"));
                  co_return Response{};
                });
  StartServer();
  auto r = Fetch("GET", Url("/s"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->body, "abc");
}

TEST_F(AsyncRouteTest, ClientDisconnectMidStreamFlipsClientGoneAndFiresCancelSlot) {
  std::promise<std::pair<bool, bool>> seen;  // (timer was cancelled, ClientGone)
  std::promise<void> armed;  // the handler is about to wait with the cancel slot bound
  AddAsyncRoute(
      *router_, "GET", "/long", [&](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
        co_await w.StartStream(200, SseHeaders());
        co_await w.Write(SseEvent("first"));
        asio::steady_timer timer(w.executor(), 60s);
        // Set just before the wait starts, on this strand: the disconnect watcher (same strand)
        // cannot run between this line and the slot being bound by async_wait. Without it the
        // client could close before the slot is bound and the one-time signal would be missed
        // (CI saw that race).
        armed.set_value();
        auto [ec] = co_await timer.async_wait(
            asio::bind_cancellation_slot(w.CancelSlot(), asio::as_tuple(asio::use_awaitable)));
        seen.set_value({ec == asio::error::operation_aborted, w.ClientGone()});
        co_return Response{};
      });
  StartServer();
  auto result = seen.get_future();
  auto ready_to_close = armed.get_future();
  {
    RawConnection c(server_->port());
    ASSERT_TRUE(c.Send(Get("/long")));
    ASSERT_TRUE(c.ReadHead());
    EXPECT_EQ(c.ReadChunk(), "data: first\n\n");
    ASSERT_EQ(ready_to_close.wait_for(10s), std::future_status::ready);
  }  // closes the socket
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  auto [cancelled, gone] = result.get();
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(gone);
}

// The handler waits 60 s and is cancelled when the client leaves: whether the client closes
// at once (before the watcher starts, 10 ms into the handler: noticed when it starts) or later
// (noticed at once, the watcher waiting on the socket), never at a timeout.
TEST_F(AsyncRouteTest, ClientDisconnectDuringNonStreamedHandlerCancelsIt) {
  std::atomic<std::promise<bool>*> gone{nullptr};
  AddAsyncRoute(
      *router_, "GET", "/slow", [&](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
        asio::steady_timer timer(w.executor(), 60s);
        co_await timer.async_wait(
            asio::bind_cancellation_slot(w.CancelSlot(), asio::as_tuple(asio::use_awaitable)));
        gone.load()->set_value(w.ClientGone());
        co_return Response::Text(200, "too late");
      });
  StartServer();
  for (auto close_after : {0ms, 50ms}) {
    std::promise<bool> promise;
    gone = &promise;
    auto result = promise.get_future();
    std::chrono::steady_clock::time_point closed;
    {
      RawConnection c(server_->port());
      ASSERT_TRUE(c.Send(Get("/slow")));
      std::this_thread::sleep_for(close_after);
      closed = std::chrono::steady_clock::now();
    }
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready) << close_after.count();
    EXPECT_TRUE(result.get());
    EXPECT_LT(std::chrono::steady_clock::now() - closed, 2s) << close_after.count();
  }
}

// Chunks and bodies larger than the socket buffers: the kernel takes only part of each at
// once, and the rest must follow asynchronously, in order and intact, while the client reads
// late (the write fast path's slow half).
TEST_F(AsyncRouteTest, LargeChunksAndBodiesReachASlowReaderIntact) {
  auto pattern = [](std::size_t n, char seed) {
    std::string s(n, ' ');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
    return s;
  };
  const std::string big1 = pattern(3 << 20, 1);
  const std::string big2 = pattern(2 << 20, 5);
  const std::string body = pattern(4 << 20, 9);
  AddAsyncRoute(*router_, "GET", "/big-stream",
                [&](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  bool ok = co_await w.StartStream(200, SseHeaders());
                  if (ok) ok = co_await w.Write(big1);
                  if (ok) ok = co_await w.Write("small");
                  if (ok) co_await w.Write(big2);
                  co_return Response{};
                });
  AddAsyncRoute(*router_, "GET", "/big-body",
                [&](Request&, ResponseWriter&) -> asio::awaitable<Response> {
                  co_return Response::Text(200, body);
                });
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/big-stream")));
  std::this_thread::sleep_for(200ms);  // let the server fill the socket buffers and wait
  auto head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(c.ReadChunk(), big1);
  EXPECT_EQ(c.ReadChunk(), "small");
  EXPECT_EQ(c.ReadChunk(), big2);
  EXPECT_EQ(c.ReadChunk(), "");
  // Same connection (keep-alive survived): a plain response larger than the buffers.
  ASSERT_TRUE(c.Send(Get("/big-body")));
  std::this_thread::sleep_for(200ms);
  auto reply = c.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body.size(), body.size());
  EXPECT_TRUE(reply->body == body);
}

TEST_F(AsyncRouteTest, PipelinedRequestIsServedAfterAsyncHandler) {
  AddAsyncRoute(*router_, "GET", "/a", [](Request&, ResponseWriter&) -> asio::awaitable<Response> {
    co_await Sleep(20ms);  // the second request arrives (and is buffered) meanwhile
    co_return Response::Text(200, "a");
  });
  router_->Add("GET", "/b", [](Request&) { return Response::Text(200, "b"); });
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/a") + Get("/b")));
  auto h1 = c.ReadHead();
  ASSERT_TRUE(h1);
  EXPECT_EQ(c.ReadBody(*h1), "a");
  auto h2 = c.ReadHead();
  ASSERT_TRUE(h2);
  EXPECT_EQ(c.ReadBody(*h2), "b");
}

// A handler faster than the watcher's start: the pipelined request stays in the socket until
// the session reads it.
TEST_F(AsyncRouteTest, PipelinedRequestsAfterFastAsyncHandlersAreServedInOrder) {
  AddAsyncRoute(*router_, "GET", "/fast",
                [](Request& req, ResponseWriter&) -> asio::awaitable<Response> {
                  co_return Response::Text(200, std::string(req.Query("n").value_or("")));
                });
  StartServer();
  RawConnection c(server_->port());
  std::string all;
  for (int i = 0; i < 20; ++i) all += Get("/fast?n=" + std::to_string(i));
  ASSERT_TRUE(c.Send(all));
  for (int i = 0; i < 20; ++i) {
    auto h = c.ReadHead();
    ASSERT_TRUE(h) << i;
    EXPECT_EQ(c.ReadBody(*h), std::to_string(i));
  }
}

TEST_F(AsyncRouteTest, ExceptionBeforeAnythingSentIs500AndConnectionSurvives) {
  AddAsyncRoute(*router_, "GET", "/boom",
                [](Request&, ResponseWriter&) -> asio::awaitable<Response> {
                  co_await Sleep(1ms);
                  throw std::runtime_error("bug");
                });
  StartServer();
  RawConnection c(server_->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send(Get("/boom")));
    auto head = c.ReadHead();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 500);
    EXPECT_NE(c.ReadBody(*head)->find("\"internal\""), std::string::npos);
  }
}

TEST_F(AsyncRouteTest, ExceptionAfterStartStreamClosesWithoutTerminatingChunk) {
  AddAsyncRoute(*router_, "GET", "/boom",
                [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  co_await w.StartStream(200, Headers{});
                  co_await w.Write("partial");
                  throw std::runtime_error("bug");
                });
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/boom")));
  ASSERT_TRUE(c.ReadHead());
  EXPECT_EQ(c.ReadChunk(), "partial");
  EXPECT_EQ(c.ReadChunk(), std::nullopt);  // EOF, not a terminating chunk
}

TEST_F(AsyncRouteTest, HeadOnStreamingRouteSendsHeadOnly) {
  AddAsyncRoute(*router_, "GET", "/s",
                [](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  co_await w.StartStream(200, Headers{});
                  co_await w.Write("body");
                  co_return Response{};
                });
  router_->Add("GET", "/next", [](Request&) { return Response::Text(200, "next"); });
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send("HEAD /s HTTP/1.1\r\nHost: x\r\n\r\n" + Get("/next")));
  auto head = c.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  auto next = c.ReadHead();  // nothing between the two heads
  ASSERT_TRUE(next);
  EXPECT_EQ(c.ReadBody(*next), "next");
}

TEST_F(AsyncRouteTest, GracefulStopWaitsForInFlightStream) {
  AsyncGate stop_begun;
  AddAsyncRoute(*router_, "GET", "/events",
                [&](Request&, ResponseWriter& w) -> asio::awaitable<Response> {
                  co_await w.StartStream(200, SseHeaders());
                  co_await w.Write(SseEvent("before stop"));
                  co_await stop_begun.Wait(w.CancelSlot());
                  co_await w.Write(SseEvent("after stop"));
                  co_return Response{};
                });
  on_shutdown_ = [&] { stop_begun.Open(); };
  StartServer();
  RawConnection c(server_->port());
  ASSERT_TRUE(c.Send(Get("/events")));
  ASSERT_TRUE(c.ReadHead());
  EXPECT_EQ(c.ReadChunk(), "data: before stop\n\n");
  std::thread stopper([&] { server_->Stop(); });
  EXPECT_EQ(c.ReadChunk(), "data: after stop\n\n");
  EXPECT_EQ(c.ReadChunk(), "");
  EXPECT_TRUE(c.AtEof());  // the connection closes after the stream during shutdown
  stopper.join();
}

}  // namespace
}  // namespace promptops::http
