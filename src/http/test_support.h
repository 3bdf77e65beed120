// Helpers shared by the http tests (header-only; included by *_test.cc files only): a raw
// blocking TCP client that reads responses and chunked bodies piece by piece, a gate that a
// test thread opens and a coroutine awaits, and a way to run a coroutine to completion.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/async.h"

namespace promptops::http::testing {

// A blocking TCP connection to 127.0.0.1 for writing raw HTTP and reading responses.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return connected_; }
  // Sends each small write at once (no Nagle delay), e.g. to send a request a byte at a time.
  void NoDelay() {
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  struct Head {
    int status = 0;
    std::string text;  // status line and header lines, lower-cased
    bool Has(std::string_view line) const { return text.find(line) != std::string::npos; }
  };

  // Reads a response head; nullopt on EOF or error.
  std::optional<Head> ReadHead() {
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Head h;
    h.text = pending_.substr(0, end + 2);
    for (char& c : h.text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    pending_.erase(0, end + 4);
    h.status = std::stoi(h.text.substr(9, 3));
    return h;
  }

  // Reads a Content-Length body of the response whose head was just read.
  std::optional<std::string> ReadBody(const Head& h) {
    std::size_t length = 0;
    if (auto p = h.text.find("content-length: "); p != std::string::npos) {
      length = std::stoul(h.text.substr(p + 16));
    }
    while (pending_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    std::string body = pending_.substr(0, length);
    pending_.erase(0, length);
    return body;
  }

  // A whole response with a Content-Length body (none for HEAD).
  struct Reply {
    int status = 0;
    std::string head;  // status line and header lines, lower-cased
    std::string body;
    bool Has(std::string_view line) const { return head.find(line) != std::string::npos; }
  };
  // Reads one response; nullopt on EOF or error.
  std::optional<Reply> Read(bool head_request = false) {
    auto h = ReadHead();
    if (!h) return std::nullopt;
    Reply r;
    r.status = h->status;
    if (!head_request) {
      auto body = ReadBody(*h);
      if (!body) return std::nullopt;
      r.body = std::move(*body);
    }
    r.head = std::move(h->text);
    return r;
  }

  // Reads one chunk of a chunked body: its data ("" for the terminating chunk, after which
  // the trailer's CRLF is consumed too); nullopt on EOF, error or malformed framing.
  std::optional<std::string> ReadChunk() {
    std::size_t eol;
    while ((eol = pending_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::size_t size = 0;
    try {
      size = std::stoul(pending_.substr(0, eol), nullptr, 16);
    } catch (...) {
      return std::nullopt;
    }
    std::size_t need = eol + 2 + size + 2;
    while (pending_.size() < need) {
      if (!Fill()) return std::nullopt;
    }
    std::string data = pending_.substr(eol + 2, size);
    pending_.erase(0, need);
    return data;
  }

  // True if the peer closed the connection (after anything already buffered).
  bool AtEof() {
    if (!pending_.empty()) return false;
    return !Fill();
  }

 private:
  bool Fill() {
    char buf[8192];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// Opened once by any thread; awaited by coroutines (on any executor) without blocking.
class AsyncGate {
 public:
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    for (auto* t : waiters_) {
      // Runs on the waiter's executor, serialized with it: the timer still exists if listed.
      boost::asio::post(t->get_executor(), [this, t] {
        std::lock_guard relock(mu_);
        if (std::find(waiters_.begin(), waiters_.end(), t) != waiters_.end()) t->cancel();
      });
    }
    cv_.notify_all();
  }
  // Completes when the gate is open; returns false if cancelled first (through the awaiting
  // coroutine's cancellation slot, e.g. bound to ResponseWriter::CancelSlot).
  boost::asio::awaitable<bool> Wait(boost::asio::cancellation_slot slot = {}) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    boost::asio::steady_timer::time_point::max());
    {
      std::lock_guard lock(mu_);
      if (open_) co_return true;
      waiters_.push_back(&timer);
    }
    co_await timer.async_wait(boost::asio::bind_cancellation_slot(
        slot, boost::asio::as_tuple(boost::asio::use_awaitable)));
    std::lock_guard lock(mu_);
    std::erase(waiters_, &timer);
    co_return open_;
  }
  // Blocks a test thread until the gate is open.
  bool WaitBlocking(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<boost::asio::steady_timer*> waiters_;
};

// Runs `a` on `ioc` (on the calling thread) until it completes; returns its value. (Not
// co_spawn with use_future: that needs a default-constructible T, and Result<T> is not.)
template <class T>
T RunSync(boost::asio::io_context& ioc, boost::asio::awaitable<T> a) {
  std::optional<T> out;
  auto run = [](boost::asio::awaitable<T> a,
                std::optional<T>& out) -> boost::asio::awaitable<void> {
    out.emplace(co_await std::move(a));
  };
  boost::asio::co_spawn(ioc, run(std::move(a), out), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
  ioc.restart();
  ioc.run();
  return std::move(*out);
}

// CPU time used so far by this process's threads whose name starts with `prefix` (the server's
// network threads are "po-net-N"), from /proc/self/task/*/schedstat (nanoseconds), or from the
// tasks' stat utime + stime (clock ticks) on a kernel without schedstat.
inline std::chrono::nanoseconds ThreadsCpuTime(std::string_view prefix) {
  namespace fs = std::filesystem;
  std::chrono::nanoseconds total{0};
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind(prefix, 0) != 0) continue;
    std::ifstream schedstat(task.path() / "schedstat");
    long long ns = 0;
    if (schedstat >> ns) {
      total += std::chrono::nanoseconds(ns);
      continue;
    }
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 (1-based)
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    total += std::chrono::nanoseconds((utime + stime) * 1'000'000'000LL / sysconf(_SC_CLK_TCK));
  }
  return total;
}

}  // namespace promptops::http::testing
