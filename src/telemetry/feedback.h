// Feedback on a trace, as a client sends it: {"value":"up"|"down"} or {"score":1..5}, with an
// optional "comment" and "user". Validation only; TraceService stores it.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"

namespace promptops::telemetry {

inline constexpr std::size_t kMaxFeedbackCommentBytes = 4096;

struct FeedbackInput {
  std::string value;                  // "up" | "down" | "score"
  std::optional<std::int64_t> score;  // 1..5, with value "score"
  std::string comment;
  std::string user;
};

// InvalidArgument (naming the field) unless exactly one of "value" ("up"/"down") and "score"
// (an integer 1..5) is given, and comment/user are strings (comment at most 4 KiB, user at most
// 256 bytes).
Result<FeedbackInput> ParseFeedback(const boost::json::object& body);

}  // namespace promptops::telemetry
