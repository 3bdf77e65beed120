// UpstreamClient: the asynchronous HTTP/1.1 client the gateway uses to call providers, with a
// keep-alive connection pool, timeouts, TLS and streaming of the response body.
//
// This header names Asio types (awaitable); include it only from .cc files that need it.
//
// Life of a call: take an idle pooled connection of the same io_context (dropping ones the
// peer has closed or that idled longer than idle_timeout) or resolve + connect (+ TLS
// handshake with SNI and hostname verification); write the request; read the response head;
// then the body, handing each de-chunked piece to the caller as it arrives. A connection goes
// back to the pool only if its response was read completely and both sides allow keep-alive;
// after an error, an abort by a callback or a cancellation it is closed.
//
// A reused connection that the upstream closed just as it was reused (EOF or reset before any
// byte of the response) is retried once on a new connection: that is the keep-alive race, and
// the upstream did not process the request. No other retries happen here; retries, fallback
// and circuit breaking are the gateway's job.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "http/message.h"

namespace promptops::http {

struct UpstreamOptions {
  // "http://127.0.0.1:9000/v1" or "https://api.openai.com/v1": scheme, host, optional port
  // (default 80/443), optional base path that every call's path is appended to.
  std::string base_url;
  // Resolve + TCP connect + TLS handshake.
  std::chrono::milliseconds connect_timeout{5000};
  // From the start of writing the request until the response head has been read.
  std::chrono::milliseconds first_byte_timeout{60000};
  // The whole call, including connecting and reading the whole body.
  std::chrono::milliseconds total_timeout{600000};
  std::size_t max_idle_connections = 64;          // idle keep-alive connections kept per client
  std::chrono::milliseconds idle_timeout{30000};  // an idle connection older than this is closed
  std::size_t max_response_bytes = 64 << 20;      // body size limit (Fetch and Stream)
  // https: verify the server's certificate against the system CA store
  // (SSL_CTX_set_default_verify_paths) plus ca_file, and its name against the URL's host.
  bool verify_tls = true;
  std::string ca_file;  // optional extra CA bundle (PEM)
  // Response header fields kept in UpstreamResponseHead::headers (names, case-insensitive);
  // empty: all of them. A caller that reads one or two (the gateway: Retry-After) saves copying
  // every other field of every response. The message framing is parsed either way.
  std::vector<std::string> response_headers;
};

struct UpstreamResponseHead {
  int status = 0;
  Headers headers;  // in arrival order; only UpstreamOptions::response_headers if set
  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// One per configured upstream base URL; lives as long as the server. Thread-safe: calls from
// any number of coroutines on any executors run concurrently (the pool is locked briefly).
// Each call runs on the awaiting coroutine's executor; pooled connections are reused only by
// calls on the io_context they were opened on.
//
// Errors (as values, never exceptions; messages never contain header values, which may carry
// API keys):
//   kUnavailable   "connect: ..."  resolving, connecting or the TLS handshake failed (e.g.
//                  "connect: TLS handshake: certificate verify failed"); or the connection was
//                  lost before the response head ("no response: ..."); or the call was
//                  cancelled ("cancelled").
//   kTimeout       "connect timeout after N ms", "first byte timeout after N ms",
//                  "total timeout after N ms".
//   kUpstreamError a malformed response head, or the body was cut short, malformed or larger
//                  than max_response_bytes.
// Any HTTP status is a successful call: mapping 429/5xx is the caller's decision.
//
// Cancellation: a call may be cancelled through the awaiting coroutine's cancellation slot,
// e.g. co_await co_spawn(ex, client->Stream(...),
//                        bind_cancellation_slot(writer.CancelSlot(), use_awaitable));
// (co_spawn needs a default-constructible result: fine for Stream's Status; wrap Fetch in a
// coroutine returning e.g. std::optional<FetchResult> to do the same with it). The
// pending operation is aborted at once, the connection closed, and the call returns
// kUnavailable "cancelled" (Stream) or that error (Fetch). A pending DNS lookup is not
// interruptible; the call ends when it completes.
// Cancels one call from outside its coroutine, e.g. when the gateway's client leaves: pass it to
// Fetch or Stream, then Cancel() aborts the pending operation at once and the call returns
// kUnavailable "cancelled". Cheaper than binding a cancellation slot (no extra coroutine).
// Not thread-safe: use it on the call's executor. Cancelling before the call starts makes it
// fail at once; it must outlive the call.
class UpstreamCancel {
 public:
  void Cancel() {
    cancelled_ = true;
    if (hook_) hook_(hook_arg_);
  }
  bool cancelled() const { return cancelled_; }
  // Used by the running call: what Cancel() aborts (nullptr: nothing is running).
  void Bind(void (*hook)(void*), void* arg) {
    hook_ = hook;
    hook_arg_ = arg;
  }

 private:
  bool cancelled_ = false;
  void (*hook_)(void*) = nullptr;
  void* hook_arg_ = nullptr;
};

class UpstreamClient {
 public:
  using FetchResult = Result<std::pair<UpstreamResponseHead, std::string>>;

  // InvalidArgument for a malformed base_url (not http/https, no host, bad port) or a ca_file
  // that cannot be loaded.
  static Result<std::shared_ptr<UpstreamClient>> Create(UpstreamOptions o);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Sends `method` to base path + `path` ("/chat/completions", may carry a query) with
  // `headers` and `body`, and reads the whole response. The client sets Host, Content-Length
  // (when there is a body, or for POST/PUT/PATCH) and keep-alive; caller headers named Host,
  // Content-Length, Transfer-Encoding or Connection are dropped.
  boost::asio::awaitable<FetchResult> Fetch(std::string method, std::string path, Headers headers,
                                            std::string body, UpstreamCancel* cancel = nullptr);
  // Fetch into `out` (its head and body; the caller keeps it alive until the call is done): the
  // same call without a coroutine of its own around it, for the gateway's hot path.
  boost::asio::awaitable<Status> FetchInto(std::string method, std::string path, Headers headers,
                                           std::string body,
                                           std::pair<UpstreamResponseHead, std::string>& out,
                                           UpstreamCancel* cancel = nullptr);

  // Like Fetch, but hands the response to callbacks as it arrives: on_head once with the
  // status and headers, then on_data with each piece of the de-chunked body as soon as it is
  // read (no buffering; a piece may split an SSE event anywhere). Returning false from a
  // callback aborts the call (OkStatus is returned; the connection is closed). The callbacks
  // run on the awaiting coroutine's executor and must not block.
  boost::asio::awaitable<Status> Stream(std::string method, std::string path, Headers headers,
                                        std::string body,
                                        std::function<bool(const UpstreamResponseHead&)> on_head,
                                        std::function<bool(std::string_view)> on_data,
                                        UpstreamCancel* cancel = nullptr);

  // Idle connections currently pooled (for tests and metrics).
  std::size_t idle_connections() const;
  // Connections opened so far (for tests and metrics).
  std::size_t connections_opened() const;

  // Pooled connections are bound to the io_context they were opened on; they are closed when
  // that io_context is destroyed or when the client is, whichever comes first.

  class Impl;

 private:
  explicit UpstreamClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptops::http
