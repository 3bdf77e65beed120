// The gateway's client-facing wire format: OpenAI's Chat Completions API. Parsing and validating
// an inbound request, and serializing answers, stream chunks and errors exactly as OpenAI does,
// so that the official SDKs work unmodified.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "providers/chat.h"
#include "registry/names.h"

namespace promptops::gateway {

// What the "model" field names: a configured model/alias, or a prompt reference
// "prompt:NAME", "prompt:NAME@LABEL", "prompt:NAME#VERSION" (label defaults to production).
struct ModelRef {
  bool is_prompt = false;
  std::string model;           // the model or alias (when !is_prompt)
  registry::PromptRef prompt;  // when is_prompt
};
Result<ModelRef> ParseModelRef(std::string_view model);

struct InboundChat {
  std::string model;  // as sent
  ModelRef ref;
  boost::json::array messages;  // the request's own messages, validated
  // Or, from the fast pass, the same messages as their JSON text (a view into the body; then
  // `messages` is empty): a request passed on to an OpenAI-compatible upstream sends them as
  // they came, without building and serializing them (providers::ChatRequest::messages_text).
  std::string_view messages_text;
  boost::json::object variables;  // template variables (promptops extension)
  boost::json::object metadata;   // kept on the trace
  std::string user;
  bool stream = false;
  bool include_usage = false;
  std::optional<double> temperature, top_p;
  std::optional<std::int64_t> max_tokens;
  std::vector<std::string> stop;
  std::optional<std::int64_t> seed;
  boost::json::object extra;  // other OpenAI parameters, forwarded to OpenAI-compatible upstreams
};

// The request's messages as an array: `messages`, parsed from messages_text first (which is
// then emptied) when the fast pass kept them as text.
boost::json::array& MessagesOf(InboundChat& c);

// Parses and validates a /v1/chat/completions body. Refuses fields that would let a client
// choose where the gateway connects or what key it sends (api_base, base_url, api_key, ...).
Result<InboundChat> ParseChatRequest(std::string_view body);
// The fast pass ParseChatRequest tries first: one scan of the text for the common request
// (model, messages of string role and content, stream, temperature, max_tokens, user; strings
// without escapes), building the result directly. nullopt for anything else, and for anything
// the full parse would refuse: the full parse reads those (and words the errors). Where it
// gives a result, it is the full parse's (the differential test in openai_wire_test checks it).
std::optional<InboundChat> ParseChatRequestFast(std::string_view body);
// The full parse alone (a JSON DOM, then the checks): what ParseChatRequest does when the fast
// pass gives up. For tests.
Result<InboundChat> ParseChatRequestFull(std::string_view body);

// {"id","object":"chat.completion","created","model","choices":[...],"usage":{...}}
std::string CompletionJson(std::string_view id, std::int64_t created, std::string_view model,
                           const providers::ChatResponse& r, const providers::Usage& usage);
// What a streamed chunk's delta carries besides role and content (each left out when unset).
struct DeltaExtras {
  // "tool_calls": OpenAI's streamed shape, an array of partial calls, each with its "index".
  const boost::json::value* tool_calls = nullptr;
  // The choice's "logprobs" (else null).
  const boost::json::value* logprobs = nullptr;
  std::string_view refusal;  // a piece of "refusal"
  // A piece of the reasoning text, written as the member `reasoning_field`.
  std::string_view reasoning;
  std::string_view reasoning_field = "reasoning_content";
  // "thinking_blocks": complete signed thinking blocks (an array).
  const boost::json::value* thinking_blocks = nullptr;

  // A streamed piece's extras (empty arrays and strings left out); they point into `piece`.
  static DeltaExtras Of(const providers::StreamEvent& piece);
  // Whether the delta carries a part that stands without "content": tool calls, a refusal,
  // reasoning or thinking blocks. Such a delta has no "content" unless it has text, as OpenAI
  // (and DeepSeek, for reasoning) stream them.
  bool StandsAlone() const {
    return tool_calls || !refusal.empty() || !reasoning.empty() || thinking_blocks;
  }
};

// One "chat.completion.chunk" object (without the "data: " framing). `role` is set on the first
// chunk; finish_reason on the last content chunk; usage-only chunks have empty choices.
std::string ChunkJson(std::string_view id, std::int64_t created, std::string_view model,
                      std::optional<std::string_view> role, std::optional<std::string_view> text,
                      std::optional<std::string_view> finish_reason, const providers::Usage* usage,
                      const DeltaExtras& extras = {});

// OpenAI's error shape {"error":{"message","type","param","code"}} and the HTTP status for it.
struct WireError {
  int status;
  std::string body;
};
WireError OpenAiError(const Error& e, std::string_view code = {});

}  // namespace promptops::gateway
