// The two readings of a non-streamed OpenAI answer, exposed for tests that compare them: the fast
// pass that reads plain answers without a DOM, and the full parse that every other answer gets.
// OpenAiAdapter::ParseChat uses the fast one when it reads the answer, else the full one.
#pragma once

#include <optional>
#include <string_view>
#include <variant>

#include "providers/chat.h"

namespace promptops::providers::openai_internal {

// A plain chat.completion read in one pass over the text, or nullopt when the fast pass leaves
// the answer to the full parse (invalid JSON, errors, tool calls, rare shapes). Whenever it reads
// an answer, it reads it exactly as ParseChatFull does.
std::optional<ChatResponse> ParseChatFast(std::string_view body);

// The full reading of a 2xx answer through a DOM: the response, or the failure (malformed answer,
// or an error object in a 200 answer).
std::variant<ChatResponse, UpstreamFailure> ParseChatFull(int status, std::string_view body);

}  // namespace promptops::providers::openai_internal
