// Server: the HTTP/1.1 front door (Boost.Beast + C++20 coroutines behind a pimpl, so this
// header stays free of Asio/Beast).
//
// Life of a request: a listener coroutine accepts connections and hands them to the network
// threads in turn; each connection runs one session coroutine on its thread: read the header
// (limits: header size -> 431, declared body size -> 413), read the body (-> 413 if it grows past
// the limit, chunked included), assign the request id, route (404 / 405 with Allow), run the
// handler (inline on the network thread, on the blocking pool for RouteOptions::blocking, or
// awaited for an async route), write the response, keep the connection alive unless the client or
// the server asked to close.
//
// Threads: `threads` network threads, each running its own io_context, so a session (and the
// upstream calls it makes) stays on one thread from accept to close: no strands, no cross-thread
// hand-offs. `blocking_threads` run blocking handlers. Handlers never run on the thread that
// calls Start/Stop. Responses and chunks are written with one non-blocking sendmsg when the
// kernel takes them whole (the usual case); only the rest goes through an async write with the
// write timeout.
//
// Coroutine handlers and streamed responses (server-sent events): see http/async.h. An async
// route is awaited on the session's thread instead of being called; it may stream its body with
// chunked transfer-encoding, and the session watches the client for a disconnect meanwhile.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/router.h"

namespace promptops::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;      // 0 = pick a free port (see Server::port())
  int threads = 0;           // network threads; 0 = std::thread::hardware_concurrency()
  int blocking_threads = 2;  // pool for RouteOptions::blocking handlers
  std::size_t max_body_bytes = 10 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds request_timeout{30000};  // to read a whole request (and to write)
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive idle between requests
  std::chrono::milliseconds shutdown_grace{10000};   // Stop() waits this long for in-flight work
  // Busy polling: after it last ran a handler, a network thread keeps polling its sockets for up
  // to this long before it sleeps in epoll_wait, yielding the CPU (sched_yield) between polls to
  // any other runnable thread. An event that arrives within the window is taken without a wake-up
  // of a sleeping thread (on a virtual machine an idle vCPU halts, and waking it costs tens of
  // microseconds). Trades CPU for latency: a thread with steady traffic shows as busy, and under
  // a cgroup CPU quota the polling counts against it. 0 (the default) sleeps at once.
  std::chrono::microseconds busy_poll{0};
  // One structured log line per request (core/log.h): method, path without query string,
  // status, bytes, duration_us, request_id. Headers are never logged.
  bool access_log = false;
};

class Server {
 public:
  // The router is shared and must not change after Start (it is read without locks).
  Server(ServerOptions o, std::shared_ptr<const Router> router);
  // Stops if running (see Stop).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads, then returns. Error Unavailable
  // "cannot listen on host:port: reason" if the address cannot be bound; FailedPrecondition
  // if called twice.
  Status Start();
  // The bound port (useful with port 0); valid after a successful Start.
  uint16_t port() const;

  // Graceful stop: stop accepting, close idle keep-alive connections, let in-flight requests
  // finish (their responses carry "Connection: close") for up to shutdown_grace, then close
  // whatever is left and join all threads. Idempotent and thread-safe.
  // Called from a handler (a server thread), it only begins the shutdown and returns without
  // waiting (a thread cannot join itself); a later Stop() from another thread, or the
  // destructor, completes it. Blocking handlers still running after the grace period are
  // waited for: they must return eventually.
  void Stop();

  // Blocks until SIGINT or SIGTERM arrives (or Stop() is called from elsewhere), then Stop().
  // Call after Start, from the main thread.
  void WaitForSignal();

  // Registers a function run once by Stop() after the listener is closed and before waiting
  // for in-flight requests (e.g. to flip readiness). Call before Start.
  void OnShutdown(std::function<void()> hook);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptops::http
