// The parsers of the server (requests) and the upstream client (responses): Http1Parser with
// callbacks that store what it parses straight into this module's own types (no intermediate
// message), and the read loop both use. Only server.cc and upstream.cc include this header (it
// pulls in Asio and Beast's flat_buffer).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1_parser.h"
#include "http/message.h"

namespace promptops::http::wire {

// Feeds what is already buffered to the parser, without an asynchronous operation: most messages
// arrive whole in one read. Consumes what the parser took. Leaves `ec` clear when the parser
// simply needs more input. With `eager` false, it stops after the head (its body is left for
// later calls), as reading only the head must.
inline void ParseBuffered(Http1Parser& parser, boost::beast::flat_buffer& buffer,
                          boost::system::error_code& ec, bool eager = true) {
  parser.eager(eager);
  while (buffer.size() > 0 && !parser.is_done() && (eager || !parser.is_header_done())) {
    auto data = buffer.data();
    std::size_t n =
        parser.Put(std::string_view(static_cast<const char*>(data.data()), data.size()), ec);
    buffer.consume(n);
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      return;
    }
    if (ec || n == 0) return;
  }
}

// What a read of nothing but EOF means to `parser`: the end of a message that ends with the
// connection, a message cut short (partial_message), or no message at all (end_of_stream).
inline boost::system::error_code EndOfInput(Http1Parser& parser) {
  boost::system::error_code ec;
  if (parser.got_some()) {
    parser.PutEof(ec);
  } else {
    ec = boost::beast::http::error::end_of_stream;
  }
  return ec;
}

// The read loop the server and the upstream client share, in three pieces so that a caller on
// the hot path can run it inline (a coroutine call per message cost ~600 instructions):
//   ParseBuffered(parser, buffer, ec, !head_only);
//   while (!ec && Wants(parser, head_only)) {
//     auto [read_ec, n] = co_await stream.async_read_some(ReadSpace(buffer), ...);
//     ec = AfterRead(parser, buffer, read_ec, n, head_only);
//   }
// or call ReadMessage, which is that loop.

// Whether the parser still wants bytes: the head (`head_only`) or the whole message.
inline bool Wants(const Http1Parser& parser, bool head_only) {
  return !parser.is_done() && !(head_only && parser.is_header_done());
}

// Where the next read goes: up to 64 KiB, less when the buffer has less room before it grows.
inline boost::beast::flat_buffer::mutable_buffers_type ReadSpace(
    boost::beast::flat_buffer& buffer) {
  return buffer.prepare(boost::beast::read_size(buffer, 64 * 1024));
}

// Takes a read's outcome: commits its `n` bytes and parses them. Returns the read's or the
// parser's error: partial_message when the peer closed the connection inside the message,
// end_of_stream when before any of it.
inline boost::system::error_code AfterRead(Http1Parser& parser, boost::beast::flat_buffer& buffer,
                                           boost::system::error_code read_ec, std::size_t n,
                                           bool head_only) {
  buffer.commit(n);
  boost::system::error_code ec;
  if (read_ec == boost::asio::error::eof) {
    ec = EndOfInput(parser);
    if (!ec && Wants(parser, head_only)) ec = boost::beast::http::error::partial_message;
  } else if (read_ec) {
    ec = read_ec;
  } else {
    ParseBuffered(parser, buffer, ec, !head_only);
  }
  return ec;
}

// The loop above as a coroutine, for `stream` (a socket or a TLS stream).
template <class Stream>
boost::asio::awaitable<boost::system::error_code> ReadMessage(Stream& stream,
                                                              boost::beast::flat_buffer& buffer,
                                                              Http1Parser& parser, bool head_only) {
  boost::system::error_code ec;
  ParseBuffered(parser, buffer, ec, !head_only);
  while (!ec && Wants(parser, head_only)) {
    auto [read_ec, n] = co_await stream.async_read_some(
        ReadSpace(buffer), boost::asio::as_tuple(boost::asio::use_awaitable));
    ec = AfterRead(parser, buffer, read_ec, n, head_only);
  }
  co_return ec;
}

// Parses one request into `req`: method, target, header fields in arrival order and the body
// (Content-Length or chunked, bounded by body_limit()). Fields of `req` the parser does not
// set (path, query, request_id, ...) are left alone.
// The request may be one used before on the connection (see ReuseRequest in server.cc): its
// header pairs are overwritten in place (their strings keep their memory), and those left over
// are dropped when the head is done.
class RequestParser final : public Http1Parser {
 public:
  explicit RequestParser(Request& req) : Http1Parser(true), req_(req) {
    if (req_.headers.capacity() == 0) req_.headers.reserve(12);
  }

 private:
  // `s` becomes `v` (which points into the read buffer, never into `s`): on a reused request the
  // strings usually have the size already, and resize then does nothing (assign's general
  // replace cost about three times as much).
  static void Set(std::string& s, std::string_view v) {
    s.resize(v.size());
    if (!v.empty()) std::memcpy(s.data(), v.data(), v.size());
  }
  void OnRequest(std::string_view method, std::string_view target) override {
    Set(req_.method, method);
    Set(req_.target, target);
  }
  void OnField(std::string_view name, std::string_view value) override {
    if (fields_ < req_.headers.size()) {
      Set(req_.headers[fields_].first, name);
      Set(req_.headers[fields_].second, value);
    } else {
      req_.headers.emplace_back(std::string(name), std::string(value));
    }
    ++fields_;
  }
  void OnFieldsDone() override { req_.headers.resize(fields_); }
  void OnBodyInit(std::optional<std::uint64_t> length) override {
    // The parser has already refused a length above body_limit().
    if (length) req_.body.reserve(static_cast<std::size_t>(*length));
  }
  bool OnBody(std::string_view piece) override {
    req_.body.append(piece);
    return true;
  }

  Request& req_;
  std::size_t fields_ = 0;  // header pairs of this request so far
};

// Parses one response: the status and header fields into `status` / `headers` (framing fields
// included, in arrival order; only the names in `keep`, case-insensitive, when it is not
// empty), and hands every piece of the body, as it is parsed, to `on_data`. When on_data
// returns false, parsing stops with `stopped()` set (and an operation_aborted error, which the
// caller recognises by stopped()).
class ResponseParser final : public Http1Parser {
 public:
  using OnData = std::function<bool(std::string_view)>;
  ResponseParser(int& status, Headers& headers, const OnData& on_data,
                 const std::vector<std::string>& keep)
      : Http1Parser(false), status_(status), headers_(headers), on_data_(on_data), keep_(keep) {
    headers_.reserve(keep_.empty() ? 12 : keep_.size());
  }
  // on_data and keep are kept by reference: a temporary would dangle.
  ResponseParser(int&, Headers&, OnData&&, const std::vector<std::string>&) = delete;
  ResponseParser(int&, Headers&, const OnData&, std::vector<std::string>&&) = delete;
  bool stopped() const { return stopped_; }

 private:
  void OnStatus(int code) override { status_ = code; }
  void OnField(std::string_view name, std::string_view value) override {
    if (!keep_.empty() && !Kept(name)) return;
    headers_.emplace_back(std::string(name), std::string(value));
  }
  bool Kept(std::string_view name) const {
    for (const auto& k : keep_) {
      if (EqualsIgnoreCase(name, k)) return true;
    }
    return false;
  }
  bool OnBody(std::string_view piece) override {
    if (stopped_) return false;
    if (!on_data_(piece)) stopped_ = true;
    return !stopped_;
  }

  int& status_;
  Headers& headers_;
  const OnData& on_data_;
  const std::vector<std::string>& keep_;
  bool stopped_ = false;
};

}  // namespace promptops::http::wire
