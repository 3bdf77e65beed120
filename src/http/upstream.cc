#include "http/upstream.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "http/send_now.h"
#include "http/ticker.h"
#include "http/wire_parser.h"

namespace promptops::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace upstream_internal {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string base_path;  // "" or "/v1" (no trailing slash)
};

Result<Target> ParseBaseUrl(std::string_view url) {
  Target t;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    t.tls = true;
  } else {
    return Error::InvalidArgument("upstream URL must start with http:// or https://: " +
                                  std::string(url));
  }
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Error::InvalidArgument("upstream URL must not have a query or fragment: " +
                                  std::string(url));
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  // Checked once here: every request's target starts with it (RequestHead checks the rest).
  if (path.find_first_of(" \t\r\n") != std::string_view::npos) {
    return Error::InvalidArgument("upstream URL path must not contain spaces or line breaks: " +
                                  std::string(url));
  }
  t.base_path = std::string(path);
  if (authority.find('@') != std::string_view::npos) {
    return Error::InvalidArgument("upstream URL must not contain credentials");
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Error::InvalidArgument("malformed upstream URL host: " + std::string(url));
    }
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return Error::InvalidArgument("malformed upstream URL host: " + std::string(url));
      }
      port = after.substr(1);
    }
  } else {
    std::size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (t.host.empty())
    return Error::InvalidArgument("upstream URL has no host: " + std::string(url));
  std::string default_port = t.tls ? "443" : "80";
  if (port.empty()) {
    t.port = default_port;
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0) {
      return Error::InvalidArgument("malformed upstream URL port: " + std::string(url));
    }
    t.port = std::string(port);
  }
  std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  t.host_header = t.port == default_port ? host : host + ":" + t.port;
  return t;
}

// One connection to the upstream: a TCP socket, or a TLS stream over one.
struct Connection {
  asio::execution_context* context = nullptr;  // the io_context its I/O objects belong to
  std::optional<tcp::socket> plain;
  std::optional<beast::ssl_stream<tcp::socket>> tls;
  beast::flat_buffer buffer;  // bytes read past a response; must be empty to be pooled
  Clock::time_point idle_since;

  tcp::socket& Socket() { return tls ? tls->next_layer() : *plain; }

  // False if the peer closed the idle connection (or sent bytes nobody asked for).
  bool LooksAlive() {
    char c;
    ssize_t n = ::recv(Socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;
    if (n > 0) return tls.has_value();  // TLS may have a pending record (session ticket)
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
};

// Arms one deadline at a time over a call's phases and, when it passes, cancels the socket (or
// the resolver) of the call; also cancels them when the caller's UpstreamCancel fires. Runs on
// the call's executor, on the io_context's Ticker (http/ticker.h): arming, re-arming for the
// next phase and disarming are list operations, with no timer operation and no posted
// completion per call. A deadline fires up to a tick (10 ms) late.
class Watchdog : private TickEntry {
 public:
  explicit Watchdog(const asio::any_io_executor& ex, UpstreamCancel* cancel)
      : TickEntry(&Watchdog::OnDue), ex_(ex), ticker_(Ticker::Of(ex)), cancel_(cancel) {
    if (cancel_) cancel_->Bind(&Watchdog::CancelNow, this);
  }
  ~Watchdog() {
    Disarm();
    if (cancel_) cancel_->Bind(nullptr, nullptr);
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `phase` and `limit` name the deadline in the timeout error ("first byte timeout after N ms").
  void Arm(Clock::time_point deadline, const char* phase, std::chrono::milliseconds limit,
           tcp::socket* socket, std::shared_ptr<tcp::resolver> resolver = nullptr) {
    socket_ = socket;
    resolver_ = std::move(resolver);
    phase_ = phase;
    limit_ = limit;
    ticker_.Schedule(*this, deadline, ex_);
  }
  void Disarm() {
    TickEntry::Cancel();
    socket_ = nullptr;
    resolver_.reset();
  }
  bool Fired() const { return fired_; }
  bool Cancelled() const { return cancel_ && cancel_->cancelled(); }
  Error TimeoutError() const {
    return {ErrorCode::kTimeout,
            std::string(phase_) + " timeout after " + std::to_string(limit_.count()) + " ms"};
  }

 private:
  static void OnDue(TickEntry& e) {
    auto& dog = static_cast<Watchdog&>(e);
    dog.fired_ = true;
    dog.Abort();
  }
  static void CancelNow(void* self) { static_cast<Watchdog*>(self)->Abort(); }
  void Abort() {
    beast::error_code ignored;
    if (socket_) socket_->cancel(ignored);
    if (resolver_) resolver_->cancel();
  }

  asio::any_io_executor ex_;
  Ticker& ticker_;
  UpstreamCancel* cancel_;
  bool fired_ = false;
  tcp::socket* socket_ = nullptr;
  std::shared_ptr<tcp::resolver> resolver_;
  const char* phase_ = "";
  std::chrono::milliseconds limit_{0};
};

bool IsHttpProtocolError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

// The peer closed or reset a connection before sending anything: on a reused connection
// this is the keep-alive race (the upstream closed it just as we reused it).
bool IsConnectionLost(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

Error Cancelled() { return Error::Unavailable("cancelled"); }

// The idle connections of one client. Shared with the per-io_context PoolRegistry services
// (by weak pointer), so that destroying an io_context closes the connections opened on it
// while their sockets' services still exist.
// An idle connection reused within this time is not probed for a peer close first.
constexpr std::chrono::milliseconds kCheckIdleAfter{1000};

class UpstreamPool : public std::enable_shared_from_this<UpstreamPool> {
 public:
  UpstreamPool(std::size_t max_idle, std::chrono::milliseconds idle_timeout)
      : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  std::unique_ptr<Connection> Take(asio::execution_context* context);
  void Put(std::unique_ptr<Connection> c);
  // Closes the connections of an io_context that is being destroyed.
  void DropContext(asio::execution_context* context);
  std::size_t Size() {
    std::size_t n = 0;
    for (auto& shard : shards_) {
      std::lock_guard lock(shard.mu);
      n += shard.idle.size();
    }
    return n;
  }

 private:
  // The idle connections of one io_context (one network thread), each shard on its own cache
  // lines: network threads take and return connections without sharing a lock. A shard is
  // claimed by the first context that puts a connection into it; contexts beyond kShards share
  // the last shard (each connection records its context, so sharing is only slower). Claims
  // are never released (claimed shards stay a prefix, which lets Take stop at the first free
  // one): a process that creates io_contexts again and again ends up sharing the last shard.
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    std::atomic<asio::execution_context*> context{nullptr};
    std::mutex mu;
    std::deque<std::unique_ptr<Connection>> idle;  // guarded by mu; oldest first
    // The contexts whose PoolRegistry knows this pool through this shard; guarded by mu.
    std::vector<asio::execution_context*> registered_in;
  };
  // The shard of `context`; claims a free one when `claim`, else null if it has none.
  Shard* ShardOf(asio::execution_context* context, bool claim);

  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  std::atomic<std::size_t> total_idle_{0};  // over all shards; bounded by max_idle_
  std::array<Shard, kShards> shards_;
};

// An io_context service that knows the pools holding connections of that io_context.
class PoolRegistry : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit PoolRegistry(asio::execution_context& ctx) : service(ctx) {}

  void Add(std::weak_ptr<UpstreamPool> pool) {
    std::lock_guard lock(mu_);
    pools_.push_back(std::move(pool));
  }

 private:
  void shutdown() override {
    std::vector<std::weak_ptr<UpstreamPool>> pools;
    {
      std::lock_guard lock(mu_);
      pools.swap(pools_);
    }
    for (auto& weak : pools) {
      if (auto pool = weak.lock()) pool->DropContext(&context());
    }
  }

  std::mutex mu_;
  std::vector<std::weak_ptr<UpstreamPool>> pools_;
};

UpstreamPool::Shard* UpstreamPool::ShardOf(asio::execution_context* context, bool claim) {
  for (std::size_t i = 0; i + 1 < kShards; ++i) {
    asio::execution_context* owner = shards_[i].context.load(std::memory_order_acquire);
    if (owner == context) return &shards_[i];
    if (owner == nullptr) {
      if (!claim) return nullptr;  // shards are claimed in order: no later one is ours
      if (shards_[i].context.compare_exchange_strong(owner, context, std::memory_order_acq_rel)) {
        return &shards_[i];
      }
      if (owner == context) return &shards_[i];  // another thread claimed it for us
    }
  }
  return &shards_[kShards - 1];  // shared by any further contexts
}

std::unique_ptr<Connection> UpstreamPool::Take(asio::execution_context* context) {
  Shard* shard = ShardOf(context, false);
  if (shard == nullptr) return nullptr;
  std::vector<std::unique_ptr<Connection>> dead;  // closed outside the lock
  std::unique_ptr<Connection> found;
  {
    std::lock_guard lock(shard->mu);
    if (shard->idle.empty()) return nullptr;
    auto now = Clock::now();
    // Oldest first: stop at the first one still within its idle time.
    while (!shard->idle.empty() && now - shard->idle.front()->idle_since > idle_timeout_) {
      dead.push_back(std::move(shard->idle.front()));
      shard->idle.pop_front();
    }
    // Most recently used first: it is the least likely to have been closed by the peer.
    for (std::size_t i = shard->idle.size(); i-- > 0 && !found;) {
      if (shard->idle[i]->context != context) continue;  // the shared last shard
      auto c = std::move(shard->idle[i]);
      shard->idle.erase(shard->idle.begin() + static_cast<std::ptrdiff_t>(i));
      // A connection used moments ago is not checked (a syscall per call); if the upstream
      // closed it anyway, the call retries once on a new connection (the keep-alive race).
      if (now - c->idle_since < kCheckIdleAfter || c->LooksAlive()) {
        found = std::move(c);
      } else {
        dead.push_back(std::move(c));
      }
    }
  }
  total_idle_.fetch_sub(dead.size() + (found ? 1 : 0), std::memory_order_relaxed);
  return found;
}

void UpstreamPool::Put(std::unique_ptr<Connection> c) {
  if (max_idle_ == 0) return;
  c->idle_since = Clock::now();
  Shard* shard = ShardOf(c->context, true);
  std::unique_ptr<Connection> evicted;  // closed outside the locks
  if (total_idle_.load(std::memory_order_relaxed) >= max_idle_) {
    // Over the client's limit: the oldest of this context goes, else another context's (the
    // shards from this one on, one locked at a time; this path is rare).
    const auto own = static_cast<std::size_t>(shard - shards_.data());
    for (std::size_t i = 0; i < kShards && !evicted; ++i) {
      Shard& victim = shards_[(own + i) % kShards];
      std::lock_guard lock(victim.mu);
      if (victim.idle.empty()) continue;
      evicted = std::move(victim.idle.front());
      victim.idle.pop_front();
      total_idle_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  std::lock_guard lock(shard->mu);
  if (total_idle_.load(std::memory_order_relaxed) >= max_idle_) return;  // raced: c closes
  if (std::find(shard->registered_in.begin(), shard->registered_in.end(), c->context) ==
      shard->registered_in.end()) {
    // Registered before the connection becomes visible, so shutdown finds it.
    shard->registered_in.push_back(c->context);
    asio::use_service<PoolRegistry>(*c->context).Add(weak_from_this());
  }
  shard->idle.push_back(std::move(c));
  total_idle_.fetch_add(1, std::memory_order_relaxed);
}

void UpstreamPool::DropContext(asio::execution_context* context) {
  std::vector<std::unique_ptr<Connection>> dropped;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (auto it = shard.idle.begin(); it != shard.idle.end();) {
      if ((*it)->context == context) {
        dropped.push_back(std::move(*it));
        it = shard.idle.erase(it);
      } else {
        ++it;
      }
    }
    // The shard stays claimed (contexts are few, and a new one at the same address reuses it);
    // the pool registers again with the next connection put into it.
    std::erase(shard.registered_in, context);
  }
  total_idle_.fetch_sub(dropped.size(), std::memory_order_relaxed);
}

}  // namespace upstream_internal

using namespace upstream_internal;  // NOLINT(google-build-using-namespace): this file's own

// The same operation on either kind of connection: both give one awaitable type, so the call
// awaits them without a coroutine per kind.
asio::awaitable<std::tuple<beast::error_code, std::size_t>> ReadSomeOn(Connection& c,
                                                                       asio::mutable_buffer space) {
  return c.tls ? c.tls->async_read_some(space, kTuple) : c.plain->async_read_some(space, kTuple);
}
template <std::size_t N>
asio::awaitable<std::tuple<beast::error_code, std::size_t>> WriteOn(
    Connection& c, const std::array<asio::const_buffer, N>& bufs) {
  return c.tls ? asio::async_write(*c.tls, bufs, kTuple)
               : asio::async_write(*c.plain, bufs, kTuple);
}
asio::awaitable<beast::error_code> ReadRestOn(Connection& c, wire::ResponseParser& parser) {
  return c.tls ? wire::ReadMessage(*c.tls, c.buffer, parser, false)
               : wire::ReadMessage(*c.plain, c.buffer, parser, false);
}

class UpstreamClient::Impl {
 public:
  Impl(UpstreamOptions o, Target t, std::optional<ssl::context> tls)
      : opts_(std::move(o)),
        target_(std::move(t)),
        tls_(std::move(tls)),
        pool_(std::make_shared<UpstreamPool>(opts_.max_idle_connections, opts_.idle_timeout)) {}

  // May take the head's contents (Fetch moves them out); the head is not used afterwards.
  using OnHead = std::function<bool(UpstreamResponseHead&)>;
  using OnData = std::function<bool(std::string_view)>;

  using Fetched = std::pair<UpstreamResponseHead, std::string>;
  // One call; its arguments are its own (by value), so that Fetch and Stream need no frame of
  // their own around it. With `collect`, the head and body are stored there and the callbacks
  // are not used.
  asio::awaitable<Status> Call(std::string method, std::string path, Headers headers,
                               std::string body, Fetched* collect, OnHead on_head, OnData on_data,
                               UpstreamCancel* cancel);
  // The request's head (start line, Host, `headers`, Content-Length when there is a body or the
  // method takes one, the empty line), or an error for a method, path, name or value that could
  // split the request.
  Result<std::string> RequestHead(std::string_view method, std::string_view path,
                                  const Headers& headers, std::size_t body_size) const;

  std::size_t Idle() { return pool_->Size(); }
  std::size_t Opened() const { return opened_.load(); }

 private:
  // What one attempt on one connection came to.
  struct Outcome {
    Status status;
    bool reusable = false;  // the response was read completely and keep-alive holds
    bool retry = false;     // lost before any response byte on a reused connection
  };
  struct Deadlines {
    Clock::time_point total;
    Clock::time_point Clip(Clock::time_point phase) const { return std::min(phase, total); }
  };

  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(asio::any_io_executor ex,
                                                               Watchdog& dog, const Deadlines& d);
  // Arms `dog` for a phase; a phase cut short by the total deadline is named "total".
  void ArmPhase(Watchdog& dog, const Deadlines& d, Clock::time_point phase_deadline,
                const char* phase, std::chrono::milliseconds limit, tcp::socket* socket,
                std::shared_ptr<tcp::resolver> resolver = nullptr) const {
    if (phase_deadline >= d.total) {
      dog.Arm(d.total, "total", opts_.total_timeout, socket, std::move(resolver));
    } else {
      dog.Arm(phase_deadline, phase, limit, socket, std::move(resolver));
    }
  }

  // The outcome of a phase cut short by its deadline or by the caller's cancel, if it was.
  static std::optional<Outcome> CutShort(Watchdog& dog, const beast::error_code& ec) {
    if (dog.Fired()) return Outcome{dog.TimeoutError()};
    if (ec == asio::error::operation_aborted || dog.Cancelled()) return Outcome{Cancelled()};
    return std::nullopt;
  }

  UpstreamOptions opts_;
  Target target_;
  std::optional<ssl::context> tls_;
  std::shared_ptr<UpstreamPool> pool_;
  std::atomic<std::size_t> opened_{0};
};

asio::awaitable<Result<std::unique_ptr<Connection>>> UpstreamClient::Impl::Connect(
    asio::any_io_executor ex, Watchdog& dog, const Deadlines& d) {
  std::string where = target_.host + ":" + target_.port;
  auto connect_deadline = d.Clip(Clock::now() + opts_.connect_timeout);
  if (dog.Cancelled()) co_return Cancelled();
  auto resolver = std::make_shared<tcp::resolver>(ex);
  ArmPhase(dog, d, connect_deadline, "connect", opts_.connect_timeout, nullptr, resolver);
  auto [resolve_ec, endpoints] =
      co_await resolver->async_resolve(target_.host, target_.port, kTuple);
  if (dog.Fired()) co_return dog.TimeoutError();
  if (dog.Cancelled()) co_return Cancelled();
  if (resolve_ec) {
    co_return Error::Unavailable("connect: cannot resolve " + target_.host + ": " +
                                 resolve_ec.message());
  }

  auto c = std::make_unique<Connection>();
  c->context = &asio::query(ex, asio::execution::context);
  if (tls_) {
    c->tls.emplace(ex, *tls_);
  } else {
    c->plain.emplace(ex);
  }
  ArmPhase(dog, d, connect_deadline, "connect", opts_.connect_timeout, &c->Socket());
  auto [connect_ec, ep] = co_await asio::async_connect(c->Socket(), endpoints, kTuple);
  if (dog.Fired()) co_return dog.TimeoutError();
  if (connect_ec == asio::error::operation_aborted || dog.Cancelled()) co_return Cancelled();
  if (connect_ec) co_return Error::Unavailable("connect: " + where + ": " + connect_ec.message());
  opened_.fetch_add(1);
  beast::error_code ec;
  c->Socket().set_option(tcp::no_delay(true), ec);

  if (c->tls) {
    beast::error_code addr_ec;
    asio::ip::make_address(target_.host, addr_ec);
    bool is_ip = !addr_ec;
    // SNI (only for names: RFC 6066 forbids IP literals there).
    if (!is_ip && !SSL_set_tlsext_host_name(c->tls->native_handle(), target_.host.c_str())) {
      co_return Error::Unavailable("connect: TLS: cannot set server name");
    }
    if (opts_.verify_tls) {
      c->tls->set_verify_mode(ssl::verify_peer);
      c->tls->set_verify_callback(ssl::host_name_verification(target_.host));
    } else {
      c->tls->set_verify_mode(ssl::verify_none);
    }
    auto [hs_ec] = co_await c->tls->async_handshake(ssl::stream_base::client, kTuple);
    if (dog.Fired()) co_return dog.TimeoutError();
    if (hs_ec == asio::error::operation_aborted || dog.Cancelled()) co_return Cancelled();
    if (hs_ec) {
      co_return Error::Unavailable("connect: TLS handshake with " + where + ": " + hs_ec.message());
    }
  }
  co_return std::move(c);
}

// The request head, written by hand (Beast's message and serializer cost an allocation per
// field), in a plain function (in the coroutine, every piece went through its frame). Header
// names and values come from the gateway's adapters and configuration, never from clients; a
// name or value that could split the request is refused all the same.
Result<std::string> UpstreamClient::Impl::RequestHead(std::string_view method,
                                                      std::string_view path, const Headers& headers,
                                                      std::size_t body_size) const {
  if (!ValidHeaderName(method)) {  // a method is a token too (RFC 9110 9.1)
    return Error::InvalidArgument("invalid HTTP method");
  }
  std::string_view base = target_.base_path;  // checked when the URL was parsed
  bool slash = path.empty() || path.front() != '/';
  // A plain loop: find_first_of calls memchr on its set once per byte.
  for (char c : path) {
    if (c == ' ' || c == '\r' || c == '\n') {
      return Error::InvalidArgument("upstream request target contains a space or line break");
    }
  }
  bool send_length = body_size > 0 || method == "POST" || method == "PUT" || method == "PATCH";
  using namespace std::string_view_literals;  // no strlen per literal
  // Written through a pointer into a buffer sized once for all of it (as the server writes a
  // response head): one allocation, no capacity check per piece.
  std::size_t size = method.size() + base.size() + path.size() + target_.host_header.size() + 64;
  for (const auto& [name, value] : headers) size += name.size() + value.size() + 4;
  std::string head(size, '\0');
  char* p = head.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(method);
  put(" "sv);
  put(base);
  if (slash) put("/"sv);
  put(path);
  put(" HTTP/1.1\r\nHost: "sv);
  put(target_.host_header);
  put("\r\n"sv);
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "host") || IsFramingHeader(name)) continue;
    if (!ValidHeaderName(name) || !ValidHeaderValue(value)) {
      return Error::InvalidArgument("upstream request header '" + name.substr(0, 64) +
                                    "' has an invalid name or value");
    }
    put(name);
    put(": "sv);
    put(value);
    put("\r\n"sv);
  }
  if (send_length) {
    put("Content-Length: "sv);
    p = std::to_chars(p, p + 24, body_size).ptr;  // 64 bytes of `size` are for these lines
    put("\r\n"sv);
  }
  put("\r\n"sv);
  head.resize(static_cast<std::size_t>(p - head.data()));
  return head;
}

asio::awaitable<Status> UpstreamClient::Impl::Call(std::string method, std::string path,
                                                   Headers headers, std::string body,
                                                   Fetched* collect, OnHead on_head, OnData on_data,
                                                   UpstreamCancel* cancel) {
  if (collect) {
    on_head = [collect](UpstreamResponseHead& h) {
      collect->first = std::move(h);
      return true;
    };
    on_data = [collect](std::string_view piece) {
      collect->second.append(piece);
      return true;
    };
  }
  auto built = RequestHead(method, path, headers, body.size());
  if (!built.ok()) co_return std::move(built).error();
  std::string head = std::move(built).value();
  bool head_request = method == "HEAD";

  asio::any_io_executor ex = co_await asio::this_coro::executor;
  asio::execution_context* context = &asio::query(ex, asio::execution::context);
  Deadlines d{Clock::now() + opts_.total_timeout};
  Watchdog dog(ex, cancel);
  std::optional<Error> failure;
  try {
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Connection> c = attempt == 0 ? pool_->Take(context) : nullptr;
      bool reused = c != nullptr;
      if (!c) {
        auto connected = co_await Connect(ex, dog, d);
        if (!connected.ok()) co_return std::move(connected).error();
        c = std::move(*connected);
      }
      // The exchange on this connection, here rather than in a coroutine of its own (a frame
      // per call): each exit sets `o` and leaves the block.
      Outcome o;
      do {
        auto first_byte_deadline = d.Clip(Clock::now() + opts_.first_byte_timeout);
        ArmPhase(dog, d, first_byte_deadline, "first byte", opts_.first_byte_timeout, &c->Socket());
        if (dog.Cancelled()) {
          o = Outcome{Cancelled()};
          break;
        }
        std::array bufs{asio::const_buffer(head.data(), head.size()),
                        asio::const_buffer(body.data(), body.size())};
        beast::error_code write_ec;
        std::size_t unsent = head.size() + body.size();
        if (!c->tls) {
          // Plain connection: write what the socket takes now (usually all of it) without an
          // asynchronous operation (http/send_now.h).
          std::ptrdiff_t sent = detail::SendNow(*c->plain, bufs);
          if (sent < 0) {
            write_ec = beast::error_code(errno, asio::error::get_system_category());
            unsent = 0;
          } else {
            detail::Consume(bufs, static_cast<std::size_t>(sent));
            unsent -= static_cast<std::size_t>(sent);
          }
        }
        if (unsent > 0) {
          auto [ec, wn] = co_await WriteOn(*c, bufs);
          write_ec = ec;
        }
        if (auto cut = CutShort(dog, write_ec)) {
          o = std::move(*cut);
          break;
        }
        if (write_ec) {
          if (reused && IsConnectionLost(write_ec)) {
            o = Outcome{OkStatus(), false, true};
          } else {
            o = Outcome{Error::Unavailable("no response: write failed: " + write_ec.message())};
          }
          break;
        }

        UpstreamResponseHead response_head;
        wire::ResponseParser parser(response_head.status, response_head.headers, on_data,
                                    opts_.response_headers);
        parser.header_limit(64 * 1024);
        parser.body_limit(opts_.max_response_bytes);
        if (head_request) parser.skip(true);
        // Reads go straight to the socket and the parser takes what they bring (Beast's
        // composed read operations cost more, and post their completion when the message is
        // already buffered, as the body usually is once the head arrived: the whole answer
        // comes in one read). The head alone first: on_head must see it before on_data sees
        // any of the body. The loop of wire::ReadMessage inline: this read is on every call's
        // path.
        beast::error_code head_ec;
        wire::ParseBuffered(parser, c->buffer, head_ec, false);
        while (!head_ec && wire::Wants(parser, true)) {
          auto [ec, n] = co_await ReadSomeOn(*c, wire::ReadSpace(c->buffer));
          head_ec = wire::AfterRead(parser, c->buffer, ec, n, true);
        }
        if (auto cut = CutShort(dog, head_ec)) {
          o = std::move(*cut);
          break;
        }
        if (head_ec) {
          if (reused && !parser.got_some() && IsConnectionLost(head_ec)) {
            o = Outcome{OkStatus(), false, true};
          } else if (IsHttpProtocolError(head_ec)) {
            o = Outcome{
                Error{ErrorCode::kUpstreamError, "malformed response head: " + head_ec.message()}};
          } else {
            o = Outcome{Error::Unavailable("no response: " + head_ec.message())};
          }
          break;
        }

        // The body is bounded only by the total deadline.
        dog.Arm(d.total, "total", opts_.total_timeout, &c->Socket());
        if (!on_head(response_head)) {
          o = Outcome{OkStatus()};
          break;
        }

        // The parser hands each piece of the body to on_data as it parses it (no copy in
        // between), first what came with the head (usually all of it: then no read).
        beast::error_code ec;
        wire::ParseBuffered(parser, c->buffer, ec);
        if (!ec && !parser.is_done()) ec = co_await ReadRestOn(*c, parser);
        std::optional<Outcome> cut;
        if (parser.stopped()) {  // on_data wants no more
          o = Outcome{OkStatus()};
        } else if ((cut = CutShort(dog, ec))) {
          o = std::move(*cut);
        } else if (ec == bhttp::error::body_limit) {
          o = Outcome{Error{
              ErrorCode::kUpstreamError,
              "response body exceeds " + std::to_string(opts_.max_response_bytes) + " bytes"}};
        } else if (ec) {
          o = Outcome{Error{ErrorCode::kUpstreamError, "response body: " + ec.message()}};
        } else {
          dog.Disarm();
          o = Outcome{OkStatus(), parser.keep_alive() && c->buffer.size() == 0, false};
        }
      } while (false);
      dog.Disarm();
      if (o.retry) continue;  // `c` is closed here; the next attempt opens a new connection
      if (o.status.ok() && o.reusable) pool_->Put(std::move(c));
      co_return o.status;
    }
  } catch (const boost::system::system_error& e) {
    // Awaiting an operation after the coroutine was cancelled throws operation_aborted.
    failure = e.code() == asio::error::operation_aborted
                  ? Cancelled()
                  : Error::Internal(std::string("upstream call failed: ") + e.what());
  } catch (const std::exception& e) {
    failure = Error::Internal(std::string("upstream call failed: ") + e.what());
  }
  co_return std::move(*failure);
}

std::optional<std::string_view> UpstreamResponseHead::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

Result<std::shared_ptr<UpstreamClient>> UpstreamClient::Create(UpstreamOptions o) {
  PO_ASSIGN_OR_RETURN(Target t, ParseBaseUrl(o.base_url));
  std::optional<ssl::context> tls;
  if (t.tls) {
    tls.emplace(ssl::context::tls_client);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->set_default_verify_paths(ec);  // a missing system store is not fatal with ca_file
    if (!o.ca_file.empty()) {
      tls->load_verify_file(o.ca_file, ec);
      if (ec) {
        return Error::InvalidArgument("cannot load CA file " + o.ca_file + ": " + ec.message());
      }
    }
  }
  auto impl = std::make_unique<Impl>(std::move(o), std::move(t), std::move(tls));
  return std::shared_ptr<UpstreamClient>(new UpstreamClient(std::move(impl)));
}

UpstreamClient::UpstreamClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UpstreamClient::~UpstreamClient() = default;

asio::awaitable<UpstreamClient::FetchResult> UpstreamClient::Fetch(std::string method,
                                                                   std::string path,
                                                                   Headers headers,
                                                                   std::string body,
                                                                   UpstreamCancel* cancel) {
  Impl::Fetched out;
  Status st = co_await impl_->Call(std::move(method), std::move(path), std::move(headers),
                                   std::move(body), &out, nullptr, nullptr, cancel);
  if (!st.ok()) co_return std::move(st).error();
  co_return std::move(out);
}

asio::awaitable<Status> UpstreamClient::FetchInto(std::string method, std::string path,
                                                  Headers headers, std::string body,
                                                  std::pair<UpstreamResponseHead, std::string>& out,
                                                  UpstreamCancel* cancel) {
  return impl_->Call(std::move(method), std::move(path), std::move(headers), std::move(body), &out,
                     nullptr, nullptr, cancel);
}

asio::awaitable<Status> UpstreamClient::Stream(
    std::string method, std::string path, Headers headers, std::string body,
    std::function<bool(const UpstreamResponseHead&)> on_head,
    std::function<bool(std::string_view)> on_data, UpstreamCancel* cancel) {
  return impl_->Call(std::move(method), std::move(path), std::move(headers), std::move(body),
                     nullptr, std::move(on_head), std::move(on_data), cancel);
}

std::size_t UpstreamClient::idle_connections() const { return impl_->Idle(); }
std::size_t UpstreamClient::connections_opened() const { return impl_->Opened(); }

}  // namespace promptops::http
