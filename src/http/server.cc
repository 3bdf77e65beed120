#include "http/server.h"

#include <sched.h>
#include <sys/socket.h>

#include <cerrno>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/thread.h"
#include "http/async.h"
#include "http/send_now.h"
#include "http/ticker.h"
#include "http/wire_parser.h"

namespace promptops::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Expected network outcomes (EOF, reset, timeout, cancellation) come back as values.
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// The server whose handler (or network thread) the current thread is running, so that Stop()
// called from inside the server does not wait for itself.
thread_local const Server::Impl* t_current_server = nullptr;

// A connection as Stop() sees it. Fields other than `executor` are only touched on its thread.
struct Connection {
  explicit Connection(asio::any_io_executor e) : executor(std::move(e)) {}
  asio::any_io_executor executor;  // the io_context (one network thread) the session runs on
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for the first byte of the next request
};

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string EndpointString(const tcp::endpoint& ep) {
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Splits a target into raw path and query. Absolute-form targets ("http://h/p") are reduced
// to their path, as RFC 9112 asks servers to accept them.
void SplitTarget(std::string_view target, std::string* path, std::string* query) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    std::size_t authority = target.find("://") + 3;
    std::size_t slash = target.find_first_of("/?", authority);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  std::size_t q = target.find('?');
  *path = std::string(target.substr(0, q));
  if (path->empty()) *path = "/";
  *query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

// The response for a request that could not be read, or nullopt to just close (the peer went
// away or timed out: nobody to answer).
std::optional<Response> ReadErrorResponse(const beast::error_code& ec, std::size_t max_body) {
  if (ec == bhttp::error::header_limit) {
    Response r = Response::Json(
        431, json::ErrorBody(Error::InvalidArgument("request header fields too large")));
    return r;
  }
  if (ec == bhttp::error::body_limit) {
    return Response::FromError({ErrorCode::kPayloadTooLarge,
                                "request body exceeds " + std::to_string(max_body) + " bytes"});
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return Response::FromError(Error::InvalidArgument("malformed request: " + ec.message()));
  }
  return std::nullopt;
}

// The status line and header block of a response (ending with the empty line): the handler's
// headers in their order, minus the framing headers and the two the server sets itself
// (Server, x-request-id), then its head lines, then those, then the framing. `content_length`
// nullopt: none (a bodiless status); `chunked`: Transfer-Encoding: chunked.
std::string ResponseHead(int status, const Headers& headers, std::string_view head_lines,
                         const std::string& request_id, bool keep_alive,
                         std::optional<std::size_t> content_length, bool chunked) {
  using namespace std::string_view_literals;  // no strlen per literal
  std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  reason = reason.substr(0, 64);  // Beast's longest is 31
  // Written through a pointer into a buffer sized once for the most it can take (the fixed
  // lines below need < 192 bytes): one allocation and no capacity check per piece.
  std::size_t bound = 256 + request_id.size() + head_lines.size();
  for (const auto& [name, value] : headers) bound += name.size() + value.size() + 4;
  std::string out(bound, '\0');
  char* p = out.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("HTTP/1.1 "sv);
  p = std::to_chars(p, p + 24, status).ptr;
  *p++ = ' ';
  put(reason);
  put("\r\n"sv);
  for (const auto& [name, value] : headers) {
    if (IsFramingHeader(name) || EqualsIgnoreCase(name, "server") ||
        EqualsIgnoreCase(name, "x-request-id")) {
      continue;
    }
    if (!ValidHeaderName(name) || !ValidHeaderValue(value)) {
      log::Warn("http response header dropped: invalid name or value",
                {{"request_id", request_id}, {"header", std::string(name.substr(0, 64))}});
      continue;
    }
    put(name);
    put(": "sv);
    put(value);
    put("\r\n"sv);
  }
  put(head_lines);  // checked when they were appended (AppendHeaderLine)
  put("Server: promptops\r\nx-request-id: "sv);
  put(request_id);
  put("\r\n"sv);
  if (!keep_alive) put("Connection: close\r\n"sv);
  if (chunked) put("Transfer-Encoding: chunked\r\n"sv);
  if (content_length) {
    put("Content-Length: "sv);
    p = std::to_chars(p, p + 24, *content_length).ptr;
    put("\r\n"sv);
  }
  put("\r\n"sv);
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

bool BodilessStatus(int status) { return status < 200 || status == 204 || status == 304; }

// Empties a request for the next one on its connection, keeping the memory of its strings (and
// its header pairs, which the parser overwrites), except what a large request left: a body or
// a header of more than kKeep bytes, or many headers, is not kept for the connection's life.
void ReuseRequest(Request& req) {
  constexpr std::size_t kKeep = 16 * 1024;
  req.method.clear();
  req.target.clear();
  req.path.clear();
  req.query.clear();
  req.request_id.clear();
  req.path_params.clear();
  if (req.body.capacity() > kKeep) {
    std::string().swap(req.body);
  } else {
    req.body.clear();
  }
  bool large = req.headers.size() > 32 || req.target.capacity() > kKeep;
  for (const auto& [name, value] : req.headers) {
    if (name.capacity() + value.capacity() > kKeep) large = true;
  }
  if (large) {
    Headers().swap(req.headers);
    std::string().swap(req.target);
  }
}

// --- Write fast path (http/send_now.h) ---------------------------------------------------------

// The first step of writing `bufs`: what the kernel takes now, without an asynchronous
// operation (usually all of it). Returns true when that finished the write, with `ok` false if
// the connection failed; false when a rest is left in `bufs`, for WriteRest. Callers on the hot
// path use this pair directly, so that a response that goes out at once costs no coroutine.
template <std::size_t N>
bool SendNowOrLeaveRest(beast::tcp_stream& stream, std::array<asio::const_buffer, N>& bufs,
                        bool& ok) {
  std::size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  std::ptrdiff_t sent = detail::SendNow(stream.socket(), bufs);
  ok = sent >= 0;
  if (!ok || static_cast<std::size_t>(sent) == total) return true;
  detail::Consume(bufs, static_cast<std::size_t>(sent));  // skip what went out
  return false;
}

// Writes `bufs` with an async write under `timeout`. Returns false when the connection failed.
// (GCC 12: these coroutines keep one co_return at the end and put each co_await result in a
// variable first; `if (!co_await f()) co_return ...` resumed a destroyed frame here.)
template <std::size_t N>
asio::awaitable<bool> WriteRest(beast::tcp_stream& stream, std::array<asio::const_buffer, N> bufs,
                                std::chrono::milliseconds timeout) {
  stream.expires_after(timeout);
  auto [ec, n] = co_await asio::async_write(stream, bufs, kTuple);
  stream.expires_never();
  co_return !ec;
}

// Writes `bufs`: at once while the kernel takes them, the rest with an async write under
// `timeout`. Returns false when the connection failed.
template <std::size_t N>
asio::awaitable<bool> WriteAll(beast::tcp_stream& stream, std::array<asio::const_buffer, N> bufs,
                               std::chrono::milliseconds timeout) {
  bool ok = false;
  if (!SendNowOrLeaveRest(stream, bufs, ok)) ok = co_await WriteRest(stream, bufs, timeout);
  co_return ok;
}

// Writes `data` as one chunk of a chunked body (size line, data, CRLF); an empty `data` writes
// the last chunk. Returns false when the connection failed.
asio::awaitable<bool> WriteChunk(beast::tcp_stream& stream, std::string_view data,
                                 std::chrono::milliseconds timeout) {
  char size_line[24];
  int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
  static constexpr char kCrlf[] = "\r\n";
  std::array<asio::const_buffer, 3> bufs{
      asio::const_buffer(size_line, static_cast<std::size_t>(len)),
      asio::const_buffer(data.data(), data.size()),
      asio::const_buffer(kCrlf, data.empty() ? 0 : 2)};
  // The last chunk is "0\r\n\r\n" (no trailers): the size line's CRLF plus one more.
  if (data.empty()) bufs[1] = asio::const_buffer(kCrlf, 2);
  bool ok = co_await WriteAll(stream, bufs, timeout);
  co_return ok;
}

// The idle and request-read timeouts of one connection, on one timer that is rarely touched.
// Setting a deadline is a plain store as long as it is not earlier than the pending wake-up: the
// timer wakes, finds the deadline moved and waits again. Wake-ups are capped at `step` (the
// shorter timeout) ahead, so a deadline computed as now + timeout is never earlier than the
// pending wake-up and a busy keep-alive connection costs one timer wait per `step`, not two
// timer operations per request. When a deadline passes, the socket's operations are cancelled
// (they complete with operation_aborted) and Fired() turns true. Runs on the connection's thread.
class ConnectionDeadline {
  using Clock = std::chrono::steady_clock;

 public:
  ConnectionDeadline(tcp::socket& socket, std::chrono::milliseconds step)
      : st_(std::make_shared<State>(socket, step)) {}
  ~ConnectionDeadline() {
    st_->socket = nullptr;  // a wait still pending completes without touching the socket
    st_->timer.cancel();
  }
  ConnectionDeadline(const ConnectionDeadline&) = delete;
  ConnectionDeadline& operator=(const ConnectionDeadline&) = delete;

  void Set(Clock::time_point deadline) {
    st_->deadline = deadline;
    if (!st_->waiting || deadline < st_->wake) Arm(st_, deadline);
  }
  void Clear() { st_->deadline = Clock::time_point::max(); }
  bool Fired() const { return st_->fired; }

 private:
  struct State {
    State(tcp::socket& s, std::chrono::milliseconds st)
        : socket(&s), timer(s.get_executor()), step(st) {}
    tcp::socket* socket;
    asio::steady_timer timer;
    std::chrono::milliseconds step;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point wake{};
    bool waiting = false;
    bool fired = false;
  };

  static void Arm(const std::shared_ptr<State>& st, Clock::time_point deadline) {
    st->wake = std::min(deadline, Clock::now() + st->step);
    st->waiting = true;
    st->timer.expires_at(st->wake);
    st->timer.async_wait([st](const beast::error_code& ec) {
      if (ec == asio::error::operation_aborted && st->wake > Clock::now()) {
        return;  // re-armed earlier (that wait is pending) or destroyed
      }
      st->waiting = false;
      if (!st->socket || st->deadline == Clock::time_point::max()) return;
      if (Clock::now() >= st->deadline) {
        st->fired = true;
        beast::error_code ignored;
        st->socket->cancel(ignored);
        return;
      }
      Arm(st, st->deadline);
    });
  }

  std::shared_ptr<State> st_;
};

// The ResponseWriter of one async request. Lives in the session's frame; used on its thread by
// the handler (writes) and by the session's client watcher (MarkGone).
class AsyncWriter final : public ResponseWriter {
 public:
  AsyncWriter(beast::tcp_stream& stream, asio::any_io_executor executor, const Request& req,
              bool keep_alive, std::chrono::milliseconds write_timeout)
      : stream_(stream),
        executor_(std::move(executor)),
        request_id_(req.request_id),
        head_request_(req.method == "HEAD"),
        keep_alive_(keep_alive),
        write_timeout_(write_timeout) {}

  asio::awaitable<bool> StartStream(int status, Headers headers, std::string head_lines) override {
    if (started_ || gone_) co_return false;
    started_ = true;
    status_ = status;
    bool chunked = !BodilessStatus(status);
    // Nothing may follow the head of a bodiless status, nor of a HEAD response: Write and
    // Finish then do nothing.
    no_body_ = !chunked || head_request_;
    std::string head =
        ResponseHead(status, headers, head_lines, request_id_, keep_alive_, std::nullopt, chunked);
    bool ok = co_await WriteAll(stream_, std::array{asio::const_buffer(head.data(), head.size())},
                                write_timeout_);
    if (!ok) MarkGone();
    co_return ok;
  }

  asio::awaitable<bool> Write(std::string_view data) override {
    if (!started_ || finished_ || gone_) co_return false;
    if (data.empty() || no_body_) co_return true;
    bool ok = co_await WriteChunk(stream_, data, write_timeout_);
    if (ok) {
      bytes_ += data.size();
    } else {
      MarkGone();
    }
    co_return ok;
  }

  asio::awaitable<void> Finish() override {
    if (!started_ || finished_ || gone_) co_return;
    finished_ = true;
    if (no_body_) co_return;
    bool ok = co_await WriteChunk(stream_, {}, write_timeout_);
    if (!ok) MarkGone();
  }

  bool ClientGone() const override { return gone_; }
  asio::cancellation_slot CancelSlot() override { return cancel_.slot(); }
  asio::any_io_executor executor() const override { return executor_; }

  // The client went away (EOF or error on its socket, or a failed write): flips ClientGone and
  // emits the cancellation signal, once.
  void MarkGone() {
    if (gone_) return;
    gone_ = true;
    cancel_.emit(asio::cancellation_type::terminal);
  }

  bool Started() const { return started_; }
  bool KeepAlive() const { return keep_alive_; }
  int StatusCode() const { return status_; }
  std::size_t BodyBytes() const { return bytes_; }

 private:
  beast::tcp_stream& stream_;
  asio::any_io_executor executor_;
  std::string request_id_;
  bool head_request_;
  bool keep_alive_;
  std::chrono::milliseconds write_timeout_;
  asio::cancellation_signal cancel_;
  bool started_ = false;
  bool finished_ = false;
  bool no_body_ = false;
  bool gone_ = false;
  int status_ = 0;
  std::size_t bytes_ = 0;
};

// While an async handler runs, watches the client socket to notice EOF or a reset: a readiness
// wait (no coroutine, no buffer while nothing arrives) whose handler reads what the client sent
// into the session's buffer (kept for the next request) and waits again. Stops at
// `max_buffered` bytes (a client pipelining that much is not going away) or at Stop(). The
// handler may run after Stop() (the wait is cancelled, not awaited): it then only drops its
// reference to the shared state.
//
// The wait starts only once the handler has run for kWatchAfter (on the connection's Ticker):
// most requests are answered sooner, and arming the wait (an epoll_ctl system call) and
// cancelling it (a posted completion) cost each of them about as much as routing it. A client
// that goes away is noticed within kWatchAfter plus a tick (~20-30 ms), which matters for
// calls that last seconds, not for those that are over by then.
class ClientWatcher : private TickEntry {
 public:
  static constexpr std::chrono::milliseconds kWatchAfter{10};

  ClientWatcher(tcp::socket& socket, beast::flat_buffer& buffer, AsyncWriter& writer,
                std::size_t max_buffered, Ticker& ticker, const asio::any_io_executor& ex)
      : TickEntry(&ClientWatcher::OnDue),
        socket_(socket),
        buffer_(buffer),
        writer_(writer),
        max_buffered_(max_buffered) {
    ticker.Schedule(*this, ticker.Now() + kWatchAfter, ex);
  }
  ~ClientWatcher() { Stop(); }
  ClientWatcher(const ClientWatcher&) = delete;
  ClientWatcher& operator=(const ClientWatcher&) = delete;

  void Stop() {
    TickEntry::Cancel();
    if (!state_ || !state_->active) return;
    state_->active = false;
    if (state_->waiting) {
      beast::error_code ec;
      state_->socket->cancel(ec);
    }
  }

 private:
  struct State {
    tcp::socket* socket;
    beast::flat_buffer* buffer;
    AsyncWriter* writer;
    std::size_t max_buffered;
    bool active = true;
    bool waiting = false;
  };

  static void OnDue(TickEntry& e) {
    auto& w = static_cast<ClientWatcher&>(e);
    // A handler still running now may stream for long: the read buffer's memory is not held
    // meanwhile (10,000 streams x 4 KiB); the recv below allocates it again if the client sends
    // more. (Released here, not before every handler: most answer sooner, and the next request
    // reuses the buffer.)
    if (w.buffer_.size() == 0) w.buffer_.shrink_to_fit();
    w.state_ = std::make_shared<State>(State{&w.socket_, &w.buffer_, &w.writer_, w.max_buffered_});
    Arm(w.state_);
  }

  static void Arm(const std::shared_ptr<State>& st) {
    if (st->buffer->size() >= st->max_buffered) return;
    st->waiting = true;
    st->socket->async_wait(tcp::socket::wait_read, [st](const beast::error_code& ec) {
      st->waiting = false;
      if (!st->active) return;
      if (ec) {
        st->writer->MarkGone();
        return;
      }
      auto space = st->buffer->prepare(4096);
      ssize_t n = ::recv(st->socket->native_handle(), space.data(), space.size(), MSG_DONTWAIT);
      if (n > 0) {
        st->buffer->commit(static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        st->writer->MarkGone();  // EOF or reset
        return;
      }
      Arm(st);
    });
  }

  tcp::socket& socket_;
  beast::flat_buffer& buffer_;
  AsyncWriter& writer_;
  std::size_t max_buffered_;
  std::shared_ptr<State> state_;  // from the first wait on
};

// A network thread's loop: io_context::run(), or with busy polling (ServerOptions::busy_poll) a
// loop that polls (epoll_wait with a zero timeout) for up to `busy_poll` after the last handler
// ran, yielding the CPU between polls, and only then blocks in run_one(). The ticker's tick
// (every 10 ms while any upstream call or client watch is pending, http/ticker.h) does not
// restart the window: with slow upstream calls in flight the thread would otherwise poll for a
// window every tick while nothing arrives. What a tick fires (a timeout's completions) does.
// Returns once the io_context is stopped or out of work, as run() does.
void RunNetworkThread(asio::io_context& ioc, std::chrono::microseconds busy_poll) {
  if (busy_poll.count() <= 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  const Ticker& ticker = Ticker::Of(ioc.get_executor());
  auto last = Clock::now();
  while (!ioc.stopped()) {
    std::uint64_t ticks = ticker.ticks();
    std::size_t ran = ioc.poll();
    if (ran > ticker.ticks() - ticks) {  // a handler other than a tick ran
      last = Clock::now();
    } else if (Clock::now() - last < busy_poll) {
      sched_yield();  // lets another runnable thread of this CPU go first; returns at once if none
    } else {
      ticks = ticker.ticks();
      if (ioc.run_one() > 0 && ticker.ticks() == ticks) last = Clock::now();
    }
  }
}

}  // namespace

void AddAsyncRoute(Router& router, std::string method, std::string pattern, AsyncHandler h) {
  auto route = std::make_shared<AsyncRoute>();
  route->handler = std::move(h);
  router.AddAsync(std::move(method), std::move(pattern), std::move(route));
}

class Server::Impl {
 public:
  Impl(ServerOptions o, std::shared_ptr<const Router> router)
      : opts_(std::move(o)),
        router_(std::move(router)),
        blocking_pool_(static_cast<std::size_t>(std::max(1, opts_.blocking_threads))) {
    // One io_context per network thread: a session lives on one thread from accept to close,
    // so its handlers need no strand and an upstream call's completions never hop threads.
    for (int i = 0; i < NetworkThreads(); ++i) {
      iocs_.push_back(std::make_unique<asio::io_context>(1));
      // Keeps run() going on a thread that has no connection yet; dropped by FinishShutdown.
      work_.push_back(asio::make_work_guard(*iocs_.back()));
    }
  }

  ~Impl() { Stop(); }

  Status Start();
  uint16_t BoundPort() const { return port_.load(); }
  void Stop();
  void WaitForSignal();
  void OnShutdown(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

 private:
  int NetworkThreads() const {
    if (opts_.threads > 0) return opts_.threads;
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }

  asio::awaitable<void> Listen();
  asio::awaitable<void> Session(tcp::socket socket);
  // Runs the plain handler `match` found for req (or answers 404/405); never throws.
  asio::awaitable<Response> Dispatch(Request& req, const Result<Router::Match>& match,
                                     const std::string& allow);
  // Runs a coroutine handler while watching the client, and writes its response or finishes
  // its stream. Returns whether the connection can serve another request; fills *status and
  // *bytes for the access log.
  asio::awaitable<bool> RunAsync(const AsyncRoute& route, Request& req, beast::tcp_stream& stream,
                                 beast::flat_buffer& buffer, asio::any_io_executor executor,
                                 Ticker& ticker, bool keep_alive, int* status, std::size_t* bytes);
  asio::awaitable<Response> RunBlocking(const Handler* h, Request& req);
  Response CallHandler(const Handler& h, Request& req);
  // Writes `res`; false if the connection failed. HEAD responses get headers only.
  asio::awaitable<bool> WriteResponse(beast::tcp_stream& stream, std::string_view method,
                                      const std::string& request_id, Response res, bool keep_alive);
  // The head of `res` for a request of `method`; `body` is set to the bytes that follow it
  // (none for a bodiless status or a HEAD request).
  static std::string HeadAndBody(std::string_view method, const std::string& request_id,
                                 const Response& res, bool keep_alive, std::string_view& body);
  // Half-closes and discards what the peer still sends for a moment, so that an error response
  // written before the request was fully read is not destroyed by a TCP reset.
  asio::awaitable<void> LingeringClose(beast::tcp_stream& stream);
  void BeginShutdown();
  void FinishShutdown();
  void LogAccess(const Request& req, int status, std::size_t bytes,
                 std::chrono::steady_clock::time_point start);

  ServerOptions opts_;
  std::shared_ptr<const Router> router_;
  std::vector<std::function<void()>> hooks_;

  // Declared before the io_context: coroutine frames destroyed with it touch these.
  std::mutex mu_;
  std::condition_variable sessions_done_;
  std::list<std::shared_ptr<Connection>> conns_;  // guarded by mu_
  int active_sessions_ = 0;                       // guarded by mu_

  std::mutex join_mu_;    // serializes FinishShutdown
  bool started_ = false;  // set by Start, before the threads exist
  bool joined_ = false;   // guarded by join_mu_
  std::atomic<bool> stopping_{false};
  std::atomic<uint16_t> port_{0};

  asio::io_context signal_ioc_;
  asio::thread_pool blocking_pool_;
  std::vector<std::unique_ptr<asio::io_context>> iocs_;  // one per network thread
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::size_t next_ioc_ = 0;  // used by the acceptor only
  // Connections accepted per wake-up of the listener beyond the first (see Listen).
  static constexpr int kAcceptBurst = 256;
  // The network thread's io_context for the next connection: each in turn (StartSession moves
  // on to the next; an accept that finds nothing does not).
  asio::io_context& NextContext() { return *iocs_[next_ioc_ % iocs_.size()]; }
  // Runs a new connection's session on the io_context its socket belongs to.
  void StartSession(tcp::socket socket) {
    ++next_ioc_;
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(std::move(socket)), [](const std::exception_ptr& e) {
      // Session catches everything itself; this is a last resort (e.g. bad_alloc in a catch).
      if (e) log::Error("http session ended with an exception");
    });
  }
  std::optional<tcp::acceptor> acceptor_;  // runs on iocs_[0]'s thread only, after Start
  std::vector<std::thread> threads_;
};

Status Server::Impl::Start() {
  if (started_) return Error::FailedPrecondition("server already started");
  std::string where = opts_.host + ":" + std::to_string(opts_.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address addr = asio::ip::make_address(opts_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(addr, opts_.port);
  } else {
    tcp::resolver resolver(*iocs_[0]);
    auto results =
        resolver.resolve(opts_.host, std::to_string(opts_.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Error::Unavailable("cannot listen on " + where + ": " +
                                (ec ? ec.message() : "host not found"));
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor_.emplace(*iocs_[0]);
  auto fail = [&](const beast::error_code& e) {
    acceptor_.reset();
    return Error::Unavailable("cannot listen on " + where + ": " + e.message());
  };
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_->non_blocking(true, ec);  // Listen drains the queue with plain accepts
  if (ec) return fail(ec);
  port_ = acceptor_->local_endpoint(ec).port();
  started_ = true;

  asio::co_spawn(acceptor_->get_executor(), Listen(), [](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::Error("http listener failed", {{"error", ex.what()}});
    }
  });
  int n = NetworkThreads();
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      SetThreadName("po-net-" + std::to_string(i));
      t_current_server = this;
      RunNetworkThread(*iocs_[static_cast<std::size_t>(i)], opts_.busy_poll);
    });
  }
  // busy_poll_us is said at start-up: a polling thread shows as busy, which would otherwise look
  // like a fault.
  log::Info("http server listening", {{"address", EndpointString(acceptor_->local_endpoint(ec))},
                                      {"threads", std::to_string(n)},
                                      {"busy_poll_us", std::to_string(opts_.busy_poll.count())}});
  return OkStatus();
}

asio::awaitable<void> Server::Impl::Listen() {
  for (;;) {
    // Connections go to the network threads in turn.
    auto [ec, socket] = co_await acceptor_->async_accept(NextContext(), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_ || !acceptor_->is_open()) co_return;
      // E.g. out of file descriptors: back off a little instead of spinning.
      log::Warn("http accept failed", {{"error", ec.message()}});
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await timer.async_wait(kTuple);
      continue;
    }
    StartSession(std::move(socket));
    // Then whatever else is queued, without a round through the io_context per connection: in a
    // burst of connections (clients reconnecting at once) each accept would otherwise wait
    // behind all the work queued on this thread meanwhile, and the kernel's accept queue
    // (somaxconn) overflows; its clients then wait for SYN-ACK retransmissions (1 s, 3 s, 7 s).
    // At most kAcceptBurst at a time, so the thread's other connections are served meanwhile.
    for (int i = 0; i < kAcceptBurst; ++i) {
      beast::error_code more_ec;
      tcp::socket more = acceptor_->accept(NextContext(), more_ec);
      if (more_ec) break;  // would_block: the queue is empty (other errors: the next async_accept)
      StartSession(std::move(more));
    }
  }
}

asio::awaitable<void> Server::Impl::Session(tcp::socket socket) {
  auto conn = std::make_shared<Connection>(socket.get_executor());
  std::list<std::shared_ptr<Connection>>::iterator self;
  {
    std::lock_guard lock(mu_);
    ++active_sessions_;
    self = conns_.insert(conns_.end(), conn);
  }
  // Unregisters on every exit path, also when the io_context destroys this frame unfinished.
  struct Unregister {
    Impl* impl;
    std::list<std::shared_ptr<Connection>>::iterator it;
    ~Unregister() {
      (*it)->stream = nullptr;
      std::lock_guard lock(impl->mu_);
      impl->conns_.erase(it);
      if (--impl->active_sessions_ == 0) impl->sessions_done_.notify_all();
    }
  } unregister{this, self};

  beast::error_code ec;
  std::string remote = EndpointString(socket.remote_endpoint(ec));
  beast::tcp_stream stream(std::move(socket));
  conn->stream = &stream;
  beast::flat_buffer buffer;
  ConnectionDeadline deadline(stream.socket(), std::min(opts_.idle_timeout, opts_.request_timeout));
  Ticker& ticker = Ticker::Of(conn->executor);
  // One request object for the connection's requests, emptied for each (ReuseRequest): its
  // strings and header pairs keep their memory from one request to the next.
  Request req;
  req.remote_addr = remote;
  try {
    for (;;) {
      // Idle: between requests on a keep-alive connection. Stop() closes connections here.
      conn->idle = true;
      if (stopping_) break;
      if (buffer.size() == 0) {
        deadline.Set(std::chrono::steady_clock::now() + opts_.idle_timeout);
        // From the socket itself: the deadline above bounds this read, and the stream's own
        // read operation (its timeout bookkeeping, a reference count and a work count per read)
        // cost more than the read's completion.
        auto [read_ec, n] = co_await stream.socket().async_read_some(buffer.prepare(4096), kTuple);
        if (read_ec || deadline.Fired()) break;
        buffer.commit(n);
      }
      conn->idle = false;
      auto start = std::chrono::steady_clock::now();

      ReuseRequest(req);
      wire::RequestParser parser(req);
      parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
      parser.body_limit(opts_.max_body_bytes);
      deadline.Set(start + opts_.request_timeout);
      beast::error_code header_ec;
      wire::ParseBuffered(parser, buffer, header_ec);
      if (!header_ec && !parser.is_header_done()) {
        beast::error_code read_ec =
            co_await wire::ReadMessage(stream.socket(), buffer, parser, true);
        header_ec = read_ec;
      }
      beast::error_code body_ec = header_ec;
      if (!header_ec && !parser.is_done()) {
        auto expect = FindHeader(req.headers, "expect");
        if (expect && EqualsIgnoreCase(*expect, "100-continue")) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          bool sent = co_await WriteAll(
              stream, std::array{asio::const_buffer(kContinue.data(), kContinue.size())},
              opts_.request_timeout);
          if (!sent) break;
        }
        beast::error_code read_ec =
            co_await wire::ReadMessage(stream.socket(), buffer, parser, false);
        body_ec = read_ec;
      }
      if (deadline.Fired()) break;  // the request was not read in time: just close
      if (body_ec) {
        std::optional<Response> error = ReadErrorResponse(body_ec, opts_.max_body_bytes);
        if (error) {
          std::string id = FastId(16);
          Request unread;
          unread.method = std::move(req.method);
          SplitTarget(req.target, &unread.path, &unread.query);
          unread.request_id = id;
          int status = error->status;
          std::size_t bytes = error->body.size();
          if (co_await WriteResponse(stream, unread.method, id, std::move(*error), false)) {
            co_await LingeringClose(stream);
          }
          LogAccess(unread, status, bytes, start);
        }
        break;
      }

      SplitTarget(req.target, &req.path, &req.query);
      auto incoming_id = req.Header("x-request-id");
      if (incoming_id && ValidRequestId(*incoming_id)) {
        req.request_id.assign(*incoming_id);
      } else {
        req.request_id.resize(16);
        FillFastId(req.request_id.data(), 16);
      }
      bool keep_alive = parser.keep_alive();

      deadline.Clear();  // a handler may take long; the client waits, not us
      std::string allow;
      auto match = router_->Find(req, &allow);
      if (match.ok() && match->async) {
        int status = 0;
        std::size_t bytes = 0;
        bool again = co_await RunAsync(*match->async, req, stream, buffer, conn->executor, ticker,
                                       keep_alive, &status, &bytes);
        LogAccess(req, status, bytes, start);
        if (!again) {
          stream.socket().shutdown(tcp::socket::shutdown_send, ec);
          break;
        }
        continue;
      }
      Response res = co_await Dispatch(req, match, allow);
      keep_alive = keep_alive && !stopping_;
      int status = res.status;
      std::size_t bytes = res.body.size();
      bool written =
          co_await WriteResponse(stream, req.method, req.request_id, std::move(res), keep_alive);
      LogAccess(req, status, bytes, start);
      if (!written) break;
      if (!keep_alive) {
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        break;
      }
    }
  } catch (const std::exception& e) {
    log::Error("http session failed", {{"remote", remote}, {"error", e.what()}});
  }
  conn->stream = nullptr;
  stream.socket().close(ec);
}

asio::awaitable<Response> Server::Impl::Dispatch(Request& req, const Result<Router::Match>& match,
                                                 const std::string& allow) {
  if (!match.ok()) {
    Response r = Response::FromError(match.error());
    if (match.error().code == ErrorCode::kMethodNotAllowed) r.headers.emplace_back("allow", allow);
    co_return r;
  }
  if (!match->options.blocking) co_return CallHandler(*match->handler, req);
  // Run on the blocking pool; co_spawn resumes this coroutine on the session's thread.
  co_return co_await asio::co_spawn(blocking_pool_.get_executor(), RunBlocking(match->handler, req),
                                    asio::use_awaitable);
}

asio::awaitable<bool> Server::Impl::RunAsync(const AsyncRoute& route, Request& req,
                                             beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                             asio::any_io_executor executor, Ticker& ticker,
                                             bool keep_alive, int* status, std::size_t* bytes) {
  AsyncWriter writer(stream, std::move(executor), req, keep_alive && !stopping_,
                     opts_.request_timeout);
  ClientWatcher watcher(stream.socket(), buffer, writer,
                        opts_.max_header_bytes + opts_.max_body_bytes, ticker, writer.executor());

  Response res;
  bool threw = false;
  try {
    res = co_await route.handler(req, writer);
  } catch (const std::exception& e) {
    threw = true;
    log::Error("http handler threw",
               {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    threw = true;
    log::Error("http handler threw", {{"request_id", req.request_id}, {"path", req.path}});
  }

  watcher.Stop();

  if (writer.Started()) {
    *status = writer.StatusCode();
    *bytes = writer.BodyBytes();
    // A stream cut short by an exception must not look complete: close without the last chunk.
    if (threw || writer.ClientGone()) co_return false;
    co_await writer.Finish();
    co_return !writer.ClientGone() && writer.KeepAlive() && !stopping_;
  }
  if (threw) {
    res = Response::FromError(Error::Internal("internal error (request " + req.request_id + ")"));
  }
  *status = res.status;
  *bytes = res.body.size();
  if (writer.ClientGone()) co_return false;
  keep_alive = keep_alive && !stopping_;
  // WriteResponse inline: a response the kernel takes at once (the usual case) costs no
  // coroutine frame more.
  std::string_view body;
  std::string head = HeadAndBody(req.method, req.request_id, res, keep_alive, body);
  std::array bufs{asio::const_buffer(head.data(), head.size()),
                  asio::const_buffer(body.data(), body.size())};
  bool written = false;
  if (!SendNowOrLeaveRest(stream, bufs, written)) {
    written = co_await WriteRest(stream, bufs, opts_.request_timeout);
  }
  co_return written&& keep_alive;
}

asio::awaitable<Response> Server::Impl::RunBlocking(const Handler* h, Request& req) {
  const Impl* previous = t_current_server;
  t_current_server = this;
  Response r = CallHandler(*h, req);
  t_current_server = previous;
  co_return r;
}

Response Server::Impl::CallHandler(const Handler& h, Request& req) {
  try {
    return h(req);
  } catch (const std::exception& e) {
    log::Error("http handler threw",
               {{"request_id", req.request_id}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    log::Error("http handler threw", {{"request_id", req.request_id}, {"path", req.path}});
  }
  return Response::FromError(Error::Internal("internal error (request " + req.request_id + ")"));
}

std::string Server::Impl::HeadAndBody(std::string_view method, const std::string& request_id,
                                      const Response& res, bool keep_alive,
                                      std::string_view& body) {
  bool bodiless = BodilessStatus(res.status);
  body = bodiless || method == "HEAD" ? std::string_view() : std::string_view(res.body);
  return ResponseHead(res.status, res.headers, res.head_lines, request_id, keep_alive,
                      bodiless ? std::nullopt : std::optional<std::size_t>(res.body.size()), false);
}

asio::awaitable<bool> Server::Impl::WriteResponse(beast::tcp_stream& stream,
                                                  std::string_view method,
                                                  const std::string& request_id, Response res,
                                                  bool keep_alive) {
  std::string_view body;
  std::string head = HeadAndBody(method, request_id, res, keep_alive, body);
  bool ok = co_await WriteAll(stream,
                              std::array{asio::const_buffer(head.data(), head.size()),
                                         asio::const_buffer(body.data(), body.size())},
                              opts_.request_timeout);
  co_return ok;
}

asio::awaitable<void> Server::Impl::LingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::milliseconds(500));
  char sink[4096];
  std::size_t total = 0;
  while (total < (std::size_t{1} << 20)) {
    auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (read_ec) break;
    total += n;
  }
}

void Server::Impl::LogAccess(const Request& req, int status, std::size_t bytes,
                             std::chrono::steady_clock::time_point start) {
  if (!opts_.access_log) return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  log::Info("http request", {{"method", req.method},
                             {"path", req.path},
                             {"status", std::to_string(status)},
                             {"bytes", std::to_string(bytes)},
                             {"duration_us", std::to_string(us)},
                             {"request_id", req.request_id}});
}

void Server::Impl::Stop() {
  if (!stopping_.exchange(true)) BeginShutdown();
  if (t_current_server == this) return;  // inside the server: cannot wait for ourselves
  FinishShutdown();
}

void Server::Impl::BeginShutdown() {
  signal_ioc_.stop();
  if (!started_) return;
  asio::post(acceptor_->get_executor(), [this] {
    beast::error_code ec;
    acceptor_->close(ec);
  });
  for (auto& hook : hooks_) hook();
  std::lock_guard lock(mu_);
  for (const auto& conn : conns_) {
    asio::post(conn->executor, [conn] {
      if (conn->idle && conn->stream) conn->stream->cancel();
    });
  }
}

void Server::Impl::FinishShutdown() {
  std::lock_guard join_lock(join_mu_);
  if (joined_ || !started_) return;
  {
    std::unique_lock lock(mu_);
    sessions_done_.wait_for(lock, opts_.shutdown_grace, [&] { return active_sessions_ == 0; });
    if (active_sessions_ > 0) {
      log::Warn("http server stopping with requests in flight",
                {{"sessions", std::to_string(active_sessions_)}});
    }
  }
  work_.clear();
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  blocking_pool_.join();
  joined_ = true;
  log::Info("http server stopped", {{"port", std::to_string(port_.load())}});
}

void Server::Impl::WaitForSignal() {
  asio::signal_set signals(signal_ioc_, SIGINT, SIGTERM);
  signals.async_wait([](const beast::error_code&, int signal) {
    if (signal) log::Info("received signal, stopping", {{"signal", std::to_string(signal)}});
  });
  signal_ioc_.run();  // returns at once if Stop() already ran
  Stop();
}

Server::Server(ServerOptions o, std::shared_ptr<const Router> router)
    : impl_(std::make_unique<Impl>(std::move(o), std::move(router))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->BoundPort(); }
void Server::Stop() { impl_->Stop(); }
void Server::WaitForSignal() { impl_->WaitForSignal(); }
void Server::OnShutdown(std::function<void()> hook) { impl_->OnShutdown(std::move(hook)); }

}  // namespace promptops::http
