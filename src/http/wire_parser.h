// Beast parsers that store what they parse straight into this module's own types, for the
// server (requests) and the upstream client (responses). Beast's stock parsers first build a
// beast::http::message (one allocation per header field, the body in the message) which the
// callers then copied into a Request or handed on piece by piece; these skip that step. Only
// server.cc and upstream.cc include this header (it pulls in Beast).
#pragma once

#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace promptops::http::wire {

namespace bhttp = boost::beast::http;
using bstring_view = boost::beast::string_view;

// Feeds what is already buffered to the parser, without an asynchronous operation: most messages
// arrive whole in one read, and Beast's read operations complete through a posted handler when
// they find the message already buffered. Consumes what the parser took. Leaves `ec` clear when
// the parser simply needs more input. With `eager` false, a put stops after the header (its
// body is left for later calls), as reading only the head must.
template <bool isRequest>
void ParseBuffered(bhttp::basic_parser<isRequest>& parser, boost::beast::flat_buffer& buffer,
                   boost::beast::error_code& ec, bool eager = true) {
  parser.eager(eager);
  while (buffer.size() > 0 && !parser.is_done() && (eager || !parser.is_header_done())) {
    std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec == bhttp::error::need_more) {
      ec = {};
      return;
    }
    if (ec || n == 0) return;
  }
}

// What a read of nothing but EOF means to `parser`, as Beast's read operations decide it: the end
// of a message that ends with the connection (put_eof), a message cut short (partial_message), or
// no message at all (end_of_stream).
template <bool isRequest>
boost::beast::error_code EndOfInput(bhttp::basic_parser<isRequest>& parser) {
  boost::beast::error_code ec;
  if (parser.got_some()) {
    parser.put_eof(ec);
  } else {
    ec = bhttp::error::end_of_stream;
  }
  return ec;
}

// Parses one request into `req`: method, target, header fields in arrival order and the body
// (Content-Length or chunked, bounded by body_limit()). Fields of `req` the parser does not
// set (path, query, request_id, ...) are left alone.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  explicit RequestParser(Request& req) : req_(req) { req_.headers.reserve(12); }

 private:
  void on_request_impl(bhttp::verb, bstring_view method, bstring_view target, int,
                       boost::beast::error_code&) override {
    req_.method.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int, bstring_view, int, boost::beast::error_code&) override {}
  void on_field_impl(bhttp::field, bstring_view name, bstring_view value,
                     boost::beast::error_code&) override {
    req_.headers.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(boost::beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         boost::beast::error_code&) override {
    // basic_parser has already refused a length above body_limit().
    if (length) req_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(bstring_view body, boost::beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, bstring_view, boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, bstring_view body,
                                 boost::beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(boost::beast::error_code&) override {}

  Request& req_;
};

// Parses one response: the status and header fields into `status` / `headers` (framing fields
// included, in arrival order; only the names in `keep`, case-insensitive, when it is not
// empty), and hands every piece of the body, as it is parsed, to `on_data`. When on_data
// returns false, parsing stops with `stopped()` set (and an operation_aborted error, which the
// caller recognises by stopped()).
class ResponseParser final : public bhttp::basic_parser<false> {
 public:
  using OnData = std::function<bool(std::string_view)>;
  ResponseParser(int& status, Headers& headers, const OnData& on_data,
                 const std::vector<std::string>& keep)
      : status_(status), headers_(headers), on_data_(on_data), keep_(keep) {
    headers_.reserve(keep_.empty() ? 12 : keep_.size());
  }
  // on_data and keep are kept by reference: a temporary would dangle.
  ResponseParser(int&, Headers&, OnData&&, const std::vector<std::string>&) = delete;
  ResponseParser(int&, Headers&, const OnData&, std::vector<std::string>&&) = delete;
  bool stopped() const { return stopped_; }

 private:
  void on_request_impl(bhttp::verb, bstring_view, bstring_view, int,
                       boost::beast::error_code&) override {}
  void on_response_impl(int code, bstring_view, int, boost::beast::error_code&) override {
    status_ = code;
  }
  void on_field_impl(bhttp::field, bstring_view name, bstring_view value,
                     boost::beast::error_code&) override {
    if (!keep_.empty() && !Kept(std::string_view(name.data(), name.size()))) return;
    headers_.emplace_back(std::string(name), std::string(value));
  }
  bool Kept(std::string_view name) const {
    for (const auto& k : keep_) {
      if (EqualsIgnoreCase(name, k)) return true;
    }
    return false;
  }
  void on_header_impl(boost::beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::beast::error_code&) override {}
  std::size_t on_body_impl(bstring_view body, boost::beast::error_code& ec) override {
    Deliver(body, ec);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, bstring_view, boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, bstring_view body,
                                 boost::beast::error_code& ec) override {
    Deliver(body, ec);
    return body.size();
  }
  void on_finish_impl(boost::beast::error_code&) override {}

  void Deliver(bstring_view body, boost::beast::error_code& ec) {
    if (body.empty() || stopped_) return;
    if (!on_data_(std::string_view(body.data(), body.size()))) {
      stopped_ = true;
      ec = boost::asio::error::operation_aborted;
    }
  }

  int& status_;
  Headers& headers_;
  const OnData& on_data_;
  const std::vector<std::string>& keep_;
  bool stopped_ = false;
};

}  // namespace promptops::http::wire
