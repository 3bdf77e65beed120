// ApiClient: the CLI's view of the promptops REST API (/api/v1). One synchronous HTTP call per
// method call (http::Fetch); responses are parsed as JSON and error responses turned back into
// Error values, so that each command maps failures to exit codes the same way (ExitCodeFor).
//
// Not thread-safe to share across threads while configuring; calls themselves share nothing.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "core/error.h"

namespace promptops::cli {

class ApiClient {
 public:
  // base_url: "http://host:port" (a trailing '/' is ignored). key: the bearer secret, may be
  // empty (then no Authorization header is sent). The key is never included in any message.
  ApiClient(std::string base_url, std::string key);

  // Sends `method` to base_url + path (path starts with "/api/v1/...", already encoded; see
  // PromptPath) with `body` serialized as JSON when it is not null. Returns the parsed response
  // body (null for an empty body, e.g. 204).
  // Errors: an API error body {"error":{"code","message"}} becomes that Error (unknown codes
  // fall back to ErrorCodeForHttpStatus); a non-JSON error response becomes the kind its status
  // stands for; connection failures are Unavailable with a hint naming the server URL; a 2xx
  // body that is not JSON is UpstreamError.
  Result<boost::json::value> Call(std::string_view method, std::string_view path,
                                  const boost::json::value& body = nullptr) const;
  // As Call, for endpoints that answer text (diff?format=text, changelog?format=markdown):
  // returns the body as is.
  Result<std::string> CallText(std::string_view method, std::string_view path) const;

  const std::string& base_url() const { return base_url_; }

 private:
  struct Raw {
    int status = 0;
    std::string body;
  };
  Result<Raw> Send(std::string_view method, std::string_view path, std::string_view body) const;

  std::string base_url_;
  std::string key_;
};

// "/api/v1/prompts/<name>" with the name encoded as ONE path segment ('/' -> %2F), followed by
// `suffix` (e.g. "/labels/production"; pieces of the suffix must be encoded by the caller).
std::string PromptPath(std::string_view name, std::string_view suffix = {});

// Appends "key=value" to a query string being built ("?a=1&b=2"), both percent-encoded.
void AddQuery(std::string& path, std::string_view key, std::string_view value);

}  // namespace promptops::cli
