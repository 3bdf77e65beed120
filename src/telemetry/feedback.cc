#include "telemetry/feedback.h"

#include <cmath>

#include "core/json.h"

namespace promptops::telemetry {

Result<FeedbackInput> ParseFeedback(const boost::json::object& body) {
  FeedbackInput in;
  PO_ASSIGN_OR_RETURN(auto value, json::OptString(body, "value"));
  auto score_it = body.find("score");
  bool has_score = score_it != body.end() && !score_it->value().is_null();
  if (value && has_score) {
    return Error::InvalidArgument("give either 'value' (\"up\" or \"down\") or 'score' (1..5)");
  }
  if (value) {
    if (*value != "up" && *value != "down") {
      return Error::InvalidArgument("field 'value' must be \"up\" or \"down\"");
    }
    in.value = *value;
  } else if (has_score) {
    const auto& s = score_it->value();
    std::optional<std::int64_t> n;
    if (s.is_int64()) n = s.as_int64();
    if (s.is_uint64() && s.as_uint64() <= 5) n = static_cast<std::int64_t>(s.as_uint64());
    if (s.is_double() && s.as_double() >= 1 && s.as_double() <= 5 &&
        s.as_double() == std::floor(s.as_double())) {
      n = static_cast<std::int64_t>(s.as_double());  // 4.0 from some JSON encoders
    }
    if (!n || *n < 1 || *n > 5) {
      return Error::InvalidArgument("field 'score' must be an integer from 1 to 5");
    }
    in.value = "score";
    in.score = n;
  } else {
    return Error::InvalidArgument(
        "feedback needs 'value' (\"up\" or \"down\") or 'score' (an integer from 1 to 5)");
  }
  PO_ASSIGN_OR_RETURN(auto comment, json::OptString(body, "comment"));
  in.comment = comment.value_or("");
  if (in.comment.size() > kMaxFeedbackCommentBytes) {
    return Error::InvalidArgument("field 'comment' is longer than 4096 bytes");
  }
  PO_ASSIGN_OR_RETURN(auto user, json::OptString(body, "user"));
  in.user = user.value_or("");
  if (in.user.size() > 256) return Error::InvalidArgument("field 'user' is longer than 256 bytes");
  return in;
}

}  // namespace promptops::telemetry
