// Coroutine handlers and streamed responses (server-sent events) for the HTTP server.
//
// This header names Asio types (awaitable, executors, cancellation slots), so it is included
// only by the few .cc files that write coroutine handlers (the gateway); message.h, router.h,
// server.h and client.h stay Asio-free.
//
// Life of an async request: the session coroutine reads the request as for a plain route, then
// awaits the AsyncHandler on the connection's network thread. While the handler
// runs, the session also watches the client socket: if the client closes its side or resets,
// ClientGone() becomes true and the writer's cancellation signal is emitted once (terminal), so
// that an upstream call bound to CancelSlot() is cancelled at once. Bytes the client pipelines
// meanwhile are kept for the next request, not lost.
//
// A handler either returns a Response (written like a plain route's; keep-alive continues) or
// calls StartStream and then Write for each piece: the body goes out with chunked
// transfer-encoding, each piece flushed to the socket as it is written. The stream is finished
// by Finish() or, implicitly, when the handler returns; the connection then stays alive for
// the next request. A handler that throws gets a 500 if nothing was sent yet; after
// StartStream the connection is closed instead (the client sees a truncated chunked body).
// Server::Stop waits for running async handlers and streams like for any in-flight request
// (up to shutdown_grace).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "http/router.h"

namespace promptops::http {

namespace asio = boost::asio;

// Given to an async handler for the duration of one request; owned by the server's session,
// valid until the handler's awaitable completes. All methods must be called from the handler's
// coroutine (they run on the connection's network thread); none is thread-safe.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Starts a streamed response: status and headers are written now, then the body in pieces
  // with chunked transfer-encoding (e.g. content-type: text/event-stream). Content-Length,
  // Transfer-Encoding and Connection headers from `headers` are dropped; the server adds
  // Server, x-request-id and Connection as usual. Returns false if the client is gone (or
  // StartStream was already called). After StartStream the handler's returned Response is
  // ignored. `head_lines` (Response::head_lines, built with AppendHeaderLine) follow `headers`.
  virtual asio::awaitable<bool> StartStream(int status, Headers headers,
                                            std::string head_lines) = 0;
  asio::awaitable<bool> StartStream(int status, Headers headers) {
    return StartStream(status, std::move(headers), std::string());
  }

  // Writes one piece as one chunk and flushes it to the socket at once (no buffering: an SSE
  // event reaches the client as it is produced). Empty pieces are skipped. Returns false if
  // the client is gone (a write failed, it timed out after ServerOptions::request_timeout, or
  // the server saw the client close its side) or the stream was not started or is finished.
  virtual asio::awaitable<bool> Write(std::string_view data) = 0;

  // Ends the chunked body (terminating chunk). Further calls do nothing; implied when the
  // handler returns without it.
  virtual asio::awaitable<void> Finish() = 0;

  // True once the client disconnected (or a write to it failed).
  virtual bool ClientGone() const = 0;

  // Emits a terminal cancellation once when the client disconnects while the handler runs.
  // Bind an operation to it to cancel it then, e.g.
  //   co_await asio::co_spawn(w.executor(), upstream->Stream(...),
  //                           asio::bind_cancellation_slot(w.CancelSlot(), asio::use_awaitable));
  // A slot holds one handler at a time: binding a second operation replaces the first.
  // The signal is emitted once and not replayed: after binding a handler to the slot, check
  // ClientGone() in case the client left before.
  virtual asio::cancellation_slot CancelSlot() = 0;

  // The executor of the connection's network thread, on which the handler runs (for timers in
  // the handler).
  virtual asio::any_io_executor executor() const = 0;
};

// A coroutine request handler. Runs on a network thread and must never block (no disk I/O,
// no waiting on locks held for long, no synchronous network calls): use asynchronous
// operations or post blocking work elsewhere. Several requests run it concurrently, on
// different network threads. Expected failures are returned as Response::FromError.
using AsyncHandler = std::function<asio::awaitable<Response>(Request&, ResponseWriter&)>;

// Router storage for an async route (see Router::AddAsync).
struct AsyncRoute {
  AsyncHandler handler;
};

// Registers an async route; same pattern rules, HEAD fallback and start-up errors
// (std::invalid_argument) as Router::Add.
void AddAsyncRoute(Router& router, std::string method, std::string pattern, AsyncHandler h);

}  // namespace promptops::http
