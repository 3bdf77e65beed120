// An incremental HTTP/1.1 message parser (RFC 9112) for the server (requests) and the upstream
// client (responses), in place of Beast's basic_parser, which cost ~4k instructions per message
// on the gateway's hot path (a field-name lookup, a list parse and a virtual call per field).
// This one finds the end of the head first and then reads it in one pass.
//
// It reports errors with Beast's error codes (boost::beast::http::error), so the callers' mapping
// of errors to answers (400 / 431 / 413, "malformed response head", ...) stays as it was. Where
// it is stricter than Beast, on purpose, against request smuggling and response splitting:
//   - obs-fold (a field line continued on the next line) is refused (bad_value); RFC 9112 5.2
//     lets a server refuse it and a gateway answer 502;
//   - Transfer-Encoding together with Content-Length is refused whatever their order;
//   - a request whose Transfer-Encoding does not end with chunked is refused (RFC 9112 6.3),
//     and so is any message whose Transfer-Encoding is not a list of codings (or has chunked
//     with parameters);
//   - a chunk-size line is at most kMaxChunkLine bytes, trailers at most the header limit.
// Trailer fields are checked (obs-fold refused there too) and dropped. Interim responses (1xx
// but 101) before a final one are skipped (RFC 9110 15.2); Beast returned them as the answer. Its
// behaviour otherwise matches Beast's, which http1_parser_test checks by feeding both the same
// mutated messages.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace promptops::http::wire {

class Http1Parser {
 public:
  using error_code = boost::system::error_code;
  static constexpr std::size_t kMaxChunkLine = 4096;

  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // The most bytes the head may take (start line, fields and the empty line).
  void header_limit(std::uint32_t n) { header_limit_ = n; }
  // The most body bytes; nullopt: no limit.
  void body_limit(std::optional<std::uint64_t> n) { body_limit_ = n; }
  // A response to HEAD: no body whatever its fields say. Before the first Put.
  void skip(bool v) { skip_body_ = v; }
  // With eager false, a Put stops after the head (the body is left for later calls).
  void eager(bool v) { eager_ = v; }

  // Parses what it can of `data`; returns the bytes consumed (the caller drops them). `ec` is
  // need_more when the head is not complete yet (nothing consumed), an error from
  // boost::beast::http::error when the message is malformed, or operation_aborted when
  // OnBody asked to stop.
  std::size_t Put(std::string_view data, error_code& ec);
  // The input ended: completes a body that runs to the end of the connection, or reports a
  // message cut short (partial_message). Only after got_some().
  void PutEof(error_code& ec);

  bool got_some() const { return got_some_; }
  bool is_header_done() const { return state_ > State::kHead; }
  bool is_done() const { return state_ == State::kComplete; }
  // Whether the connection may carry another message after this one.
  bool keep_alive() const;

 protected:
  explicit Http1Parser(bool is_request) : is_request_(is_request) {}
  virtual ~Http1Parser() = default;

  virtual void OnRequest(std::string_view /*method*/, std::string_view /*target*/) {}
  virtual void OnStatus(int /*status*/) {}
  virtual void OnField(std::string_view name, std::string_view value) = 0;
  // After the last OnField of a head that parsed (before the framing is checked).
  virtual void OnFieldsDone() {}
  virtual void OnBodyInit(std::optional<std::uint64_t> /*length*/) {}
  // Returns false to stop parsing (Put then reports operation_aborted).
  virtual bool OnBody(std::string_view piece) = 0;

 private:
  enum class State : std::uint8_t {
    kNothingYet,
    kHead,
    kBody,          // Content-Length bytes remain
    kBodyToEof,     // until the connection ends (responses only)
    kChunkSize,     // a chunk-size line
    kChunkData,     // chunk data
    kChunkDataEnd,  // the CRLF after chunk data
    kTrailer,       // trailer fields after the last chunk
    kComplete,
  };

  // Parses the head in [p, end) (which holds all of it when `complete`); returns the bytes it
  // took, or 0 with `ec` set.
  std::size_t ParseHead(const char* p, const char* end, bool complete, error_code& ec);
  // Whether the complete head [head, end) is a valid interim (1xx but 101) response's.
  bool Interim(const char* head, const char* end);
  bool StartLine(const char*& p, const char* end, bool complete, error_code& ec);
  void Field(std::string_view name, std::string_view value, error_code& ec);
  void FinishHead(error_code& ec);
  // Parses body bytes from [p, end); returns how many it took.
  std::size_t Body(const char* p, const char* end, error_code& ec);
  bool Deliver(std::string_view piece, error_code& ec);

  const bool is_request_;
  bool eager_ = true;
  bool skip_body_ = false;
  bool got_some_ = false;
  bool chunked_ = false;
  bool has_transfer_encoding_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool need_eof_ = false;
  State state_ = State::kNothingYet;
  int version_ = 0;
  int status_ = 0;
  std::uint32_t header_limit_ = 8192;
  std::optional<std::uint64_t> body_limit_;
  std::optional<std::uint64_t> content_length_;
  std::uint64_t remaining_ = 0;  // of the body or of the current chunk
  std::size_t scanned_ = 0;      // head bytes searched for the empty line without finding it
  std::size_t checked_ = 0;      // head bytes checked while incomplete (for early errors)
};

}  // namespace promptops::http::wire
