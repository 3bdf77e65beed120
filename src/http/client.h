// A simple synchronous HTTP/1.1 client: one connection per call, no pooling yet. Used by the
// CLI and by tests to call real servers. Thread-safe (calls share nothing); each call runs
// its own small event loop on the calling thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/message.h"

namespace promptops::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct FetchOptions {
  // Deadline for the whole exchange: resolve, connect, write, read.
  std::chrono::milliseconds timeout{30000};
  // A larger response body fails the call (UpstreamError).
  std::size_t max_body_bytes = 64 * 1024 * 1024;
};

// Sends one request and reads the whole response. url: "http://host:port/path?query" (port
// defaults to 80; IPv6 hosts in brackets). Sets Host, Content-Length (when there is a body or
// the method is POST/PUT/PATCH), User-Agent "promptops-cli" and "Connection: close"; `headers`
// may override Host and User-Agent.
// Errors: InvalidArgument for a malformed URL or https ("https is not supported yet");
// Unavailable("cannot connect to host:port: reason") when resolving or connecting fails, and
// for a connection lost mid-exchange; UpstreamError for a malformed or oversized response;
// Timeout when the deadline passes. Any HTTP status is a successful call.
Result<ClientResponse> Fetch(std::string_view method, std::string_view url,
                             const Headers& headers = {}, std::string_view body = {},
                             FetchOptions o = {});

}  // namespace promptops::http
