// A provider adapter translates the gateway's ChatRequest into one upstream's HTTP request and
// the upstream's answer (whole, or a byte stream of server-sent events) back into ChatResponse /
// StreamEvents. Adapters are pure: no sockets, no clocks; the gateway moves the bytes. This makes
// every wire format testable with byte strings.
//
// Thread safety: adapters are immutable after construction and shared by all requests; each
// streamed call gets its own StreamDecoder (not thread-safe, one per call).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "providers/chat.h"

namespace promptops::providers {

// What the transport sends. The URL is the provider's configured base URL + path: never taken
// from a client request.
struct UpstreamRequest {
  std::string method = "POST";
  std::string path;  // appended to the provider's base URL path, e.g. "/chat/completions"
  std::vector<std::pair<std::string, std::string>> headers;  // includes auth; never logged
  std::string body;
};

class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Feeds the next bytes of the response body (any split, even mid-line or mid-UTF-8) and appends
  // complete events to `out`. A failure (malformed event, an error event inside the stream) is
  // returned as UpstreamFailure with class kMalformed / kStreamError.
  virtual std::variant<std::monostate, UpstreamFailure> Feed(std::string_view bytes,
                                                             std::vector<StreamEvent>& out) = 0;
  // The body ended. Failure if the stream ended before its terminator ([DONE] / message_stop).
  virtual std::variant<std::monostate, UpstreamFailure> Finish(std::vector<StreamEvent>& out) = 0;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::string_view type() const = 0;  // "openai" | "anthropic"
  // The HTTP request for a chat completion. `api_key` may be empty (local upstreams): no auth
  // header is sent then. Errors: InvalidArgument when the request cannot be expressed in this
  // upstream's format (e.g. image parts for Anthropic); the message is meant for the client.
  virtual Result<UpstreamRequest> BuildChat(const ChatRequest& req,
                                            const std::string& api_key) const = 0;
  // Interprets a complete (non-streamed) response. Non-2xx statuses become UpstreamFailure with
  // the class of the status; a 2xx body that does not parse is kMalformed.
  virtual std::variant<ChatResponse, UpstreamFailure> ParseChat(
      int status, std::string_view body,
      std::optional<std::chrono::milliseconds> retry_after) const = 0;
  virtual std::unique_ptr<StreamDecoder> NewStreamDecoder() const = 0;
  // Embeddings (OpenAI-compatible only; others return nullopt from BuildEmbeddings).
  virtual std::optional<UpstreamRequest> BuildEmbeddings(const boost::json::object& openai_body,
                                                         const std::string& upstream_model,
                                                         const std::string& api_key) const {
    return std::nullopt;
  }
};

// "openai" (any OpenAI-compatible server) or "anthropic" (Messages API, default options);
// nullptr otherwise.
std::unique_ptr<Adapter> MakeAdapter(std::string_view type);

std::unique_ptr<Adapter> MakeOpenAiAdapter();

struct AnthropicOptions {
  // max_tokens is required by the Messages API; used when the request has none.
  std::int64_t default_max_tokens = 1024;
  std::string version = "2023-06-01";  // the anthropic-version header
};
std::unique_ptr<Adapter> MakeAnthropicAdapter(AnthropicOptions options = {});

// Classifies an HTTP status: 429 -> kRateLimited, 5xx -> kServerError, 408 -> kTimeout, other
// 4xx -> kClientError, anything else (1xx/3xx where an answer was expected) -> kMalformed.
FailureClass ClassifyStatus(int status);

// A Retry-After header value in delta-seconds ("2", "0.5"), for ParseChat's `retry_after`.
// nullopt for HTTP-dates (turning them into a delay needs a clock; the caller owns that) and
// for garbage. Values are capped at one hour.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);

}  // namespace promptops::providers
