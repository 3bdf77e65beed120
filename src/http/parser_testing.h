// For http1_parser_test and bench/http_parser_bench only: two parsers that record what they
// parse into the same Parsed, one on Http1Parser and one on Beast's basic_parser (the
// reference it is compared with). Pulls in Beast's parser: not for the server's code.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http1_parser.h"
#include "http/message.h"

namespace promptops::http::wire::testing {

struct Parsed {
  std::string method, target;
  int status = 0;
  Headers fields;
  std::string body;
  bool operator==(const Parsed&) const = default;
};

class RecordingParser final : public Http1Parser {
 public:
  explicit RecordingParser(bool is_request, Parsed& out) : Http1Parser(is_request), out_(out) {}
  // Stop after this many body bytes were delivered (the rest of the piece is still taken).
  void stop_after(std::size_t n) { stop_after_ = n; }

 private:
  void OnRequest(std::string_view method, std::string_view target) override {
    out_.method.assign(method);
    out_.target.assign(target);
  }
  void OnStatus(int status) override { out_.status = status; }
  void OnField(std::string_view name, std::string_view value) override {
    out_.fields.emplace_back(std::string(name), std::string(value));
  }
  bool OnBody(std::string_view piece) override {
    out_.body.append(piece);
    return out_.body.size() < stop_after_;
  }

  Parsed& out_;
  std::size_t stop_after_ = static_cast<std::size_t>(-1);
};

// Beast's parser with the same callbacks. Trailer fields are not recorded (Http1Parser drops
// them), nor fields seen after the head.
template <bool isRequest>
class BeastRecordingParser final : public boost::beast::http::basic_parser<isRequest> {
  using bstring_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

 public:
  explicit BeastRecordingParser(Parsed& out) : out_(out) {}

 private:
  void on_request_impl(boost::beast::http::verb, bstring_view method, bstring_view target, int,
                       error_code&) override {
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
  }
  void on_response_impl(int status, bstring_view, int, error_code&) override {
    out_.status = status;
  }
  void on_field_impl(boost::beast::http::field, bstring_view name, bstring_view value,
                     error_code&) override {
    if (head_done_) return;  // a trailer
    out_.fields.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code&) override { head_done_ = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(bstring_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, bstring_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, bstring_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  Parsed& out_;
  bool head_done_ = false;
};

}  // namespace promptops::http::wire::testing
