// HTTP messages as plain values: what a handler receives (Request) and returns (Response),
// independent of the wire library. Other modules include this header; it must stay free of
// Boost.Asio/Beast so that including it is cheap.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "http/text_scan.h"

namespace promptops::http {

// Header fields in the order they were received or added. Names keep their original case;
// lookups (Request::Header, ClientResponse::Header) are case-insensitive.
using Headers = std::vector<std::pair<std::string, std::string>>;

// One request as the server read it. The server owns it for the duration of the handler call;
// a handler may modify it (the router fills path_params) but must not keep references to it
// after returning.
struct Request {
  std::string method;  // "GET", upper case as received (methods are case-sensitive)
  std::string target;  // raw target as received: "/api/v1/prompts/a%2Fb?x=1"
  std::string path;    // raw (still percent-encoded) path part of target
  std::string query;   // raw query string without '?'
  Headers headers;
  std::string body;
  std::string remote_addr;  // "127.0.0.1:5555"
  std::string request_id;   // assigned by the server, or a valid incoming x-request-id
  // Filled by Router::Find, percent-decoded, in pattern order.
  std::vector<std::pair<std::string, std::string>> path_params;

  // The first header with this name (case-insensitive), or nullopt. The view points into
  // `headers` and is valid while the request is not modified.
  std::optional<std::string_view> Header(std::string_view name) const;
  // The first query parameter with this (decoded) name, decoded with '+' as space. Pairs with
  // malformed percent escapes are ignored. "?a" yields "" for "a".
  std::optional<std::string> Query(std::string_view name) const;
  // All values of a query parameter, in order.
  std::vector<std::string> QueryAll(std::string_view name) const;
  // A path parameter captured by the router, or "" if there is none by that name.
  std::string_view Param(std::string_view name) const;
};

// A header name written in the program, checked when the program is compiled: a token (RFC
// 9110 5.6.2), in lower case, and none of the headers the server writes itself (Content-Length,
// Transfer-Encoding, Connection, Server, x-request-id).
class StaticHeaderName {
 public:
  consteval StaticHeaderName(const char* name)
      : name_(name) {  // NOLINT(google-explicit-constructor)
    if (!Valid(name_)) throw "not a valid static header name";  // a compile error, consteval
  }
  std::string_view view() const { return name_; }

  static constexpr bool Valid(std::string_view n) {
    if (n.empty()) return false;
    for (char c : n) {
      if (!text::kToken[static_cast<unsigned char>(c)] || (c >= 'A' && c <= 'Z')) return false;
    }
    for (std::string_view own :
         {"content-length", "transfer-encoding", "connection", "server", "x-request-id"}) {
      if (n == own) return false;
    }
    return true;
  }

 private:
  std::string_view name_;
};

// Appends "name: value\r\n" to `lines` (Response::head_lines). False, with nothing appended,
// when `value` is not valid field text (a line break would split the head).
bool AppendHeaderLine(std::string& lines, StaticHeaderName name, std::string_view value);

// What a handler returns. The server adds Content-Length, Server, x-request-id and Connection;
// handlers must not set Content-Length or Transfer-Encoding themselves (they are dropped).
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Header lines written after `headers` as they are, built with AppendHeaderLine: for a handler
  // that adds headers of its own on every request (the gateway), one string instead of a pair of
  // strings per header, each checked again when the head is written.
  std::string head_lines;

  // `body` is already serialized JSON; sets content-type: application/json.
  static Response Json(int status, std::string body);
  static Response Text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  // Status from HttpStatusFor(e.code), body {"error":{"code":...,"message":...}}.
  static Response FromError(const Error& e);
  // 204 without a body.
  static Response NoContent();

  // The first header with this name (case-insensitive), in `headers` and then in `head_lines`,
  // or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// The first line of `lines` (AppendHeaderLine's format) with this name (case-insensitive).
std::optional<std::string_view> FindHeaderLine(std::string_view lines, std::string_view name);

// Percent-decoding of a path segment or query component. With plus_as_space, '+' decodes to a
// space (application/x-www-form-urlencoded). Returns nullopt for a '%' not followed by two hex
// digits. Decoded bytes are not checked for UTF-8 validity.
std::optional<std::string> UrlDecode(std::string_view s, bool plus_as_space);
// Percent-encodes every byte except the unreserved set A-Za-z0-9-._~ (so the result is safe as
// a path segment and as a query key or value).
std::string UrlEncode(std::string_view s);

// ASCII case-insensitive equality, for header names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// The first header named `name` (case-insensitive), or nullopt.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);
// Content-Length, Transfer-Encoding or Connection: the message framing, which the HTTP layer
// (server, client, upstream client) sets itself and never copies from a caller's headers.
bool IsFramingHeader(std::string_view name);
// Whether a header may be written as given: the name is a token (RFC 9110 5.1) and the value is
// field text (no control but HTAB, no DEL; RFC 9110 5.5), which is what the parser reads. The
// server and the upstream client never write a header that fails this (a CR or LF could split
// the message).
bool ValidHeaderName(std::string_view name);
bool ValidHeaderValue(std::string_view value);

}  // namespace promptops::http
