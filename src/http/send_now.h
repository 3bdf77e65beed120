// The write fast path shared by the server (responses, SSE chunks) and the upstream client
// (requests on plain connections). A request or response head is small, and the kernel's socket
// buffer almost always takes it whole: then one non-blocking sendmsg writes it, with no
// asynchronous operation, no handler allocation, no posted completion (each of which also costs
// the io_context a round through epoll_wait) and no timer. Only what the kernel does not take
// is written asynchronously by the caller. Only server.cc and upstream.cc include this header
// (it pulls in Asio).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstddef>

namespace promptops::http::detail {

// Sends as much of `bufs` as the socket takes now (at most 16 non-empty buffers); returns the
// bytes sent (0 when the socket takes nothing now), or -1 when the connection failed (reset,
// closed), with errno telling why.
template <class Buffers>
std::ptrdiff_t SendNow(boost::asio::ip::tcp::socket& socket, const Buffers& bufs) {
  constexpr std::size_t kMaxIov = 16;
  iovec iov[kMaxIov];
  std::size_t n = 0;
  for (auto it = boost::asio::buffer_sequence_begin(bufs);
       it != boost::asio::buffer_sequence_end(bufs); ++it) {
    boost::asio::const_buffer b(*it);
    if (b.size() == 0) continue;
    if (n == kMaxIov) break;
    iov[n].iov_base = const_cast<void*>(b.data());
    iov[n].iov_len = b.size();
    ++n;
  }
  if (n == 0) return 0;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  for (;;) {
    ssize_t sent = ::sendmsg(socket.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return sent;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

// Advances the buffers of `bufs` past the first `n` bytes (those SendNow sent).
template <class BufferArray>
void Consume(BufferArray& bufs, std::size_t n) {
  for (auto& b : bufs) {
    std::size_t k = n < b.size() ? n : b.size();
    b += k;
    n -= k;
  }
}

}  // namespace promptops::http::detail
