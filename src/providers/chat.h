// The gateway's internal, provider-neutral view of a chat completion: what the gateway asks an
// upstream for (ChatRequest), what comes back whole (ChatResponse) or in pieces (StreamEvent),
// and how upstream failures are classified (UpstreamFailure). Each provider adapter translates
// between these and one upstream wire format; the gateway speaks OpenAI's format to clients.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace promptops::providers {

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool estimated = false;  // the upstream gave no usage; counted by the gateway's estimator
  // Details, when the upstream gives them; each is part of the count above it. Prompt tokens
  // read from the provider's prompt cache (OpenAI's prompt_tokens_details.cached_tokens,
  // Anthropic's cache_read_input_tokens) and written to it (Anthropic's
  // cache_creation_input_tokens); completion tokens spent reasoning (OpenAI's
  // completion_tokens_details.reasoning_tokens).
  std::optional<std::int64_t> cached_tokens;
  std::optional<std::int64_t> cache_write_tokens;
  std::optional<std::int64_t> reasoning_tokens;
};

struct ChatRequest {
  std::string model;  // the UPSTREAM model name (after alias resolution)
  // The messages, OpenAI shape: [{"role","content",...}]. Read them through Messages(): a
  // request passed on as the client sent it holds them as JSON text instead (messages_text,
  // validated by the gateway's fast pass, a view into the client's request body, which outlives
  // the call), which the OpenAI adapter sends as it is and Messages() parses on first use.
  // Whoever fills `messages` leaves messages_text empty. (A request is read by one thread at a
  // time: the first Messages() fills the array.)
  mutable boost::json::array messages;
  mutable std::string_view messages_text;
  const boost::json::array& Messages() const;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> max_tokens;
  std::vector<std::string> stop;
  std::optional<std::int64_t> seed;
  std::string user;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Other OpenAI parameters (tools, response_format, n, ...) forwarded to OpenAI-compatible
  // upstreams as they are. Never contains api_base/base_url (stripped by the gateway).
  boost::json::object extra;
};

// Messages kept as JSON text (validated by the gateway's fast pass): parsed into `into` (which
// is empty), and `text` emptied; nothing when `text` is empty. What ChatRequest::Messages() and
// the gateway's inbound request (gateway::MessagesOf) do on first use.
void TakeMessagesText(std::string_view& text, boost::json::array& into);

struct ChatResponse {
  std::string id;                      // upstream id, if any
  std::string model;                   // as reported by the upstream
  std::string content;                 // assistant text
  std::string finish_reason = "stop";  // stop | length | tool_calls | content_filter
  boost::json::value tool_calls;       // null unless the upstream returned tool calls
  // The choice's `logprobs` object ({"content":[...],"refusal":...}) as an OpenAI-compatible
  // upstream returned it when asked (`logprobs: true`); none otherwise. Passed through.
  // (This and message_extra are optional rather than empty JSON values: a response is moved
  // several times per call, and an empty boost::json value still costs a library call to move
  // and to destroy.)
  std::optional<boost::json::value> logprobs;
  // Members of the message the gateway passes through as they came when they say something
  // (kPassedMessageMembers: "refusal", "annotations", "audio", "function_call"; not null, not
  // an empty array); none when there is none.
  std::optional<boost::json::object> message_extra;
  std::optional<Usage> usage;
};

// One piece of a streamed answer, in arrival order.
struct StreamEvent {
  enum class Kind {
    kDelta,   // text: a piece of the assistant message (may be empty with role set)
    kFinish,  // finish_reason set
    kUsage,   // usage set
  };
  Kind kind = Kind::kDelta;
  std::string text;
  std::optional<std::string> finish_reason;
  std::optional<Usage> usage;
  // kDelta only: `delta.tool_calls` in OpenAI's streamed shape (an array of partial tool calls,
  // each with its `index`; the first piece of a call has its id, type and function name, later
  // ones pieces of function.arguments), null otherwise. Passed through to clients as they come.
  boost::json::value tool_calls;
  // kDelta only: the chunk's choice `logprobs` object (its tokens), null otherwise.
  boost::json::value logprobs;
  // kDelta only: a piece of the message's `refusal` (a model declining, e.g. under structured
  // outputs), streamed like content.
  std::string refusal;
  // kDelta only: a piece of the model's reasoning (thinking) text, relayed as the delta's
  // `reasoning_field` member: "reasoning_content" (DeepSeek, vLLM, LiteLLM, and Anthropic's
  // thinking translated) or "reasoning" (OpenRouter, newer vLLM), as the upstream names it.
  std::string reasoning;
  std::string_view reasoning_field = "reasoning_content";
  // kDelta only: complete thinking blocks ({"type":"thinking","thinking","signature"} or
  // {"type":"redacted_thinking","data"}: Anthropic's, which a client sends back in the
  // assistant message of a tool loop), relayed as the delta's `thinking_blocks`; null otherwise.
  boost::json::value thinking_blocks;
};

// The members of an OpenAI answer's message passed through besides content and tool_calls,
// when they say something (not null, not "", not []): a refusal, annotations, audio, the legacy
// function_call, and the model's reasoning under the names upstreams give it ("reasoning_content",
// "reasoning") with Anthropic's signed thinking blocks ("thinking_blocks").
inline constexpr std::string_view kPassedMessageMembers[] = {
    "refusal",           "annotations", "audio",          "function_call",
    "reasoning_content", "reasoning",   "thinking_blocks"};

// The message's reasoning text among its passed members (message_extra): "reasoning_content" or
// else "reasoning"; empty when there is none.
std::string_view ReasoningText(const std::optional<boost::json::object>& message_extra);

// Folds one streamed `delta.tool_calls` array into `calls`, the complete tool calls so far (an
// array in OpenAI's non-streamed shape, {"id","type","function":{"name","arguments"}}, in index
// order; null before the first): ids, types and names are taken, argument pieces appended.
// Pieces that are not objects with an integer `index` in [0, 128) are ignored.
void AccumulateToolCalls(boost::json::value& calls, const boost::json::value& deltas);

// Folds one kDelta piece into `r`, the answer so far: its text, refusal and reasoning pieces
// appended (the last two to message_extra["refusal"] and [e.reasoning_field]), its thinking
// blocks appended to message_extra["thinking_blocks"], its tool calls and logprobs accumulated.
void AppendStreamPiece(ChatResponse& r, const StreamEvent& e);

// Appends one streamed chunk's `logprobs` object to `all`, the answer's so far (null before the
// first): the tokens of its "content" and "refusal" arrays are appended to `all`'s.
void AccumulateLogprobs(boost::json::value& all, const boost::json::value& piece);

// How an upstream call failed. The class drives retries, fallbacks, circuit breaking, metrics
// (label "error_class") and the status the client sees.
enum class FailureClass {
  kConnect,      // could not connect / TLS failed / reset before a response
  kTimeout,      // connect, first-byte or total timeout
  kRateLimited,  // 429
  kServerError,  // 5xx
  kClientError,  // 4xx other than 429: the request itself is bad; never retried
  kMalformed,    // a response we cannot parse
  kStreamError,  // an error reported inside a 200 stream
  kCancelled,    // the client went away
};

// Stable snake_case name ("connect", "timeout", "rate_limited", "server_error", "client_error",
// "malformed", "stream_error", "cancelled"): the metrics label and the trace field.
std::string_view FailureClassName(FailureClass c);
// Whether a failure of this class may be retried on the same upstream / tried on a fallback:
// kConnect, kTimeout, kRateLimited, kServerError and kStreamError are (transient by nature);
// kClientError (the same request fails again), kMalformed (an upstream that answers garbage
// keeps doing so; retrying would double the cost) and kCancelled (nobody is waiting) are not.
// The caller adds the one rule this function cannot know: once a byte of the answer has been
// forwarded to the client, nothing is retried, whatever the class.
bool IsRetryable(FailureClass c);

struct UpstreamFailure {
  FailureClass cls = FailureClass::kServerError;
  int status = 0;                                        // upstream HTTP status, 0 if none
  std::string message;                                   // never contains provider keys
  std::optional<std::chrono::milliseconds> retry_after;  // from Retry-After
  // The error as the client should see it (OpenAI shape mapping is done by the gateway):
  //   kRateLimited -> kRateLimited (429), kTimeout -> kTimeout (504),
  //   kClientError -> kInvalidArgument (400) with the upstream's message ("upstream rejected
  //     the request: ..."), except 401/403, which mean the PROVIDER's credentials are wrong (a
  //     gateway configuration problem, not the client's): kUpstreamError with a fixed message,
  //     since upstreams echo parts of the key in that message;
  //   everything else -> kUpstreamError (502).
  // Upstream headers are never copied into the message.
  Error ToError() const;
};

}  // namespace promptops::providers
