// The built-in simulated provider: answers without any network, deterministically, for demos,
// drills (error injection) and load tests. It is not an Adapter: PlanSimulated turns a request
// into a plan (the answer's tokens, the latencies, an optional injected failure) and the gateway
// executes the plan with its timers, exactly as it would relay a real upstream.
//
// Determinism: the plan is a pure function of (config, request). The random stream is seeded
// from config.seed, the request's seed, model, max_tokens, stop and the serialized messages, so
// different prompts get different latencies and errors, and the same request always the same.
// The random generator and distributions are written here (not <random>'s distributions, whose
// output differs between standard libraries), so plans are identical on every platform.
//
// The answer rule (tests and demos may assert on it):
//   "Simulated answer to: " + the first 12 words of the last user message (text parts
//   concatenated; "..." appended when it had more words; "(empty)" when there is none),
//   then filler words drawn from a fixed vocabulary until the answer has exactly max_tokens
//   tokens (the request's max_tokens, else config.max_tokens_default). A token is a word; every
//   token but the first carries its leading space, so the tokens joined are the content. When
//   max_tokens is smaller than the prefix, the prefix is cut and finish_reason is "length".
//
// The tool rule: when the request offers function tools (`tools`; `tool_choice` not "none") and
// its last message is a user message, the answer is one call of a function instead of text:
// the one `tool_choice` names, else the first. Its arguments are an object with the function's
// `parameters` properties that are `required` (all of them when none is): the first value of an
// `enum`; else by `type`, a string the same words as the text answer's (the first 12 words of
// the last user message), an integer or number drawn in [0, 100), true, [], {} or null. The
// call's id is "call_sim_" and 16 characters drawn from the plan's seed; finish_reason is
// "tool_calls"; when streaming, the arguments come in up to 4 pieces, one per token interval.
// A request whose last message is a tool result gets the text answer.
//
// The JSON rule (when the tool rule does not apply): a `response_format` of type json_schema
// (an object schema) gets an object of that schema, built as the tool rule builds arguments;
// json_object gets {"answer": <the same words>}. Streamed in up to 4 pieces; max_tokens does
// not cut it (it would no longer be JSON).
//
// The reasoning rule: a request with `reasoning_effort` other than "none" gets reasoning before
// its answer (whichever rule made it): "Thinking about: " + the same words + "." (unless they end
// with ASCII punctuation) then filler words, 8 / 16 / 32 / 64 tokens in all for minimal / low /
// medium / high (another value: medium). It is the message's `reasoning_content` (streamed first,
// one token per interval, the first after the time to first token) and counts in the completion
// tokens. The answer, the time to first token and a plain call's latency are those of the same
// request without it.
//
// Thread safety: pure functions, safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "providers/chat.h"

namespace promptops::providers {

struct SimulatedConfig {
  std::uint64_t seed = 42;
  // Total latency of non-streamed answers: log-normal fitted to median and p99.
  std::chrono::microseconds latency_median{200000}, latency_p99{800000};
  // Streaming: time to first token, log-normal fitted to median and p99.
  std::chrono::microseconds ttft_median{150000}, ttft_p99{500000};
  double tokens_per_second = 50;  // streaming token rate (> 0)
  double error_rate = 0.0;        // probability in [0, 1] of an injected failure per call
  // Chosen uniformly when a failure is injected: an HTTP status ("429", "500", "503", any
  // 400..599), "timeout" (never answers; the gateway's timeout fires), "connect" (connection
  // refused at once) or "stream" (an error event inside a 200 stream after some tokens; for a
  // non-streamed call it acts like "500").
  std::vector<std::string> error_kinds = {"429", "500", "timeout", "stream"};
  std::int64_t max_tokens_default = 64;
};

// InvalidArgument naming the field when the config cannot be planned with: latencies negative
// or p99 < median, tokens_per_second <= 0, error_rate outside [0, 1], an unknown error kind, an
// empty error_kinds with error_rate > 0, max_tokens_default < 1.
Status ValidateSimulatedConfig(const SimulatedConfig& cfg);

struct SimulatedToolCall {
  std::string id;
  std::string name;
};

struct SimulatedPlan {
  // The answer split in tokens; joined = content. With tool_call, the pieces of its arguments.
  std::vector<std::string> tokens;
  std::optional<SimulatedToolCall> tool_call;  // the tool rule's call, if it applies
  // The reasoning rule's tokens (joined = the reasoning), streamed before `tokens`; empty when
  // the rule does not apply.
  std::vector<std::string> reasoning_tokens;
  std::string finish_reason = "stop";
  // Non-streamed: the answer (or the HTTP error) is sent after total_latency.
  // Streamed: headers and the first token after ttft, then one token every inter_token; an
  // HTTP error is sent after ttft. total_latency = ttft + inter_token * (reasoning_tokens +
  // tokens - 1) then.
  std::chrono::microseconds total_latency{0};
  std::chrono::microseconds ttft{0};
  std::chrono::microseconds inter_token{0};
  // An injected failure, if any: kRateLimited/kServerError/kClientError with error_status (the
  // HTTP status to answer with), kTimeout (do not answer), kConnect (fail at once), or
  // kStreamError (status 200; error_after_tokens tokens are streamed, then an error event).
  std::optional<FailureClass> error;
  int error_status = 0;
  std::size_t error_after_tokens = 0;
  std::optional<std::chrono::milliseconds> retry_after;  // set for injected 429s (1 s)
  Usage usage;  // prompt: EstimateTokens over the messages; completion: tokens.size()

  std::string Content() const;
  std::string Reasoning() const;
};

// Pure: the same config and request give the same plan. `cfg` should be valid
// (ValidateSimulatedConfig); out-of-range values are clamped rather than trusted.
SimulatedPlan PlanSimulated(const SimulatedConfig& cfg, const ChatRequest& req);

// Token estimate for text when an upstream reports no usage: one token per 4 ASCII bytes
// (rounded up), one per Hangul syllable, CJK ideograph, kana or fullwidth form, and one per 2
// other non-ASCII code points (accented Latin, Cyrillic, emoji, ...). Approximates the BPE
// tokenizers of current models within ~30% for prose; 0 for empty text.
std::int64_t EstimateTokens(std::string_view text);

// EstimateTokens over every message's text content (string or text parts) plus 3 per message
// (role and separators, as OpenAI's counting recipe adds), as prompt_tokens.
// Assistant messages' tool_calls count too (EstimateToolCallTokens).
std::int64_t EstimatePromptTokens(const boost::json::array& messages);

// The prompt of a request as the model reads it: its messages (EstimatePromptTokens) and the
// tools it offers (their JSON, EstimateTokens).
std::int64_t EstimateRequestTokens(const ChatRequest& req);

// Tool calls (OpenAI's shape) as the model reads or writes them: per call 3 plus its function
// name and arguments (EstimateTokens). 0 for anything that is not an array of calls.
std::int64_t EstimateToolCallTokens(const boost::json::value& calls);
// One call's share of that.
std::int64_t EstimateToolCallTokens(std::string_view name, std::string_view arguments);

}  // namespace promptops::providers
