#include "providers/chat.h"

#include "providers/adapter.h"

namespace promptops::providers {

void TakeMessagesText(std::string_view& text, boost::json::array& into) {
  if (text.empty()) return;
  // Text the gateway's fast pass validated as an array: parsed once, then dropped.
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  text = {};
  if (!ec && v.is_array()) into = std::move(v.get_array());
}

const boost::json::array& ChatRequest::Messages() const {
  TakeMessagesText(messages_text, messages);
  return messages;
}

std::string_view FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kConnect:
      return "connect";
    case FailureClass::kTimeout:
      return "timeout";
    case FailureClass::kRateLimited:
      return "rate_limited";
    case FailureClass::kServerError:
      return "server_error";
    case FailureClass::kClientError:
      return "client_error";
    case FailureClass::kMalformed:
      return "malformed";
    case FailureClass::kStreamError:
      return "stream_error";
    case FailureClass::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool IsRetryable(FailureClass c) {
  switch (c) {
    case FailureClass::kConnect:
    case FailureClass::kTimeout:
    case FailureClass::kRateLimited:
    case FailureClass::kServerError:
    case FailureClass::kStreamError:
      return true;
    case FailureClass::kClientError:
    case FailureClass::kMalformed:
    case FailureClass::kCancelled:
      return false;
  }
  return false;
}

void AccumulateToolCalls(boost::json::value& calls, const boost::json::value& deltas) {
  const boost::json::array* pieces = deltas.if_array();
  if (!pieces) return;
  for (const boost::json::value& v : *pieces) {
    const boost::json::object* piece = v.if_object();
    if (!piece) continue;
    auto idx = piece->find("index");
    if (idx == piece->end() || !idx->value().is_int64()) continue;
    std::int64_t index = idx->value().get_int64();
    if (index < 0 || index >= 128) continue;  // no answer makes that many calls
    if (!calls.is_array()) calls.emplace_array();
    boost::json::array& all = calls.get_array();
    while (all.size() <= static_cast<std::size_t>(index)) {
      all.push_back(boost::json::object{
          {"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
    }
    boost::json::object& call = all[static_cast<std::size_t>(index)].get_object();
    if (auto it = piece->find("id"); it != piece->end() && it->value().is_string()) {
      call["id"] = it->value();
    }
    if (auto it = piece->find("type"); it != piece->end() && it->value().is_string()) {
      call["type"] = it->value();
    }
    auto fn = piece->find("function");
    if (fn == piece->end() || !fn->value().is_object()) continue;
    const boost::json::object& f = fn->value().get_object();
    boost::json::object& into = call["function"].get_object();
    if (auto it = f.find("name"); it != f.end() && it->value().is_string()) {
      into["name"] = it->value();
    }
    if (auto it = f.find("arguments"); it != f.end() && it->value().is_string()) {
      into["arguments"].get_string().append(it->value().get_string());
    }
  }
}

void AccumulateLogprobs(boost::json::value& all, const boost::json::value& piece) {
  const boost::json::object* p = piece.if_object();
  if (!p) return;
  if (!all.is_object()) all = boost::json::object{{"content", boost::json::array()}};
  for (std::string_view key : {"content", "refusal"}) {
    const boost::json::value* tokens = p->if_contains(key);
    if (!tokens || !tokens->is_array()) continue;
    boost::json::value& into = all.get_object()[key];
    if (!into.is_array()) into = boost::json::array();
    for (const boost::json::value& t : tokens->get_array()) into.get_array().push_back(t);
  }
}

std::string_view ReasoningText(const std::optional<boost::json::object>& message_extra) {
  if (!message_extra) return {};
  for (std::string_view key : {"reasoning_content", "reasoning"}) {
    const boost::json::value* v = message_extra->if_contains(key);
    if (v && v->is_string() && !v->get_string().empty()) return v->get_string();
  }
  return {};
}

void AppendStreamPiece(ChatResponse& r, const StreamEvent& e) {
  r.content += e.text;
  auto append_text = [&](std::string_view key, std::string_view piece) {
    if (piece.empty()) return;
    if (!r.message_extra) r.message_extra.emplace();
    boost::json::value& v = (*r.message_extra)[key];
    if (!v.is_string()) v = "";
    v.get_string().append(piece);
  };
  append_text("refusal", e.refusal);
  append_text(e.reasoning_field, e.reasoning);
  if (const boost::json::array* blocks = e.thinking_blocks.if_array(); blocks && !blocks->empty()) {
    if (!r.message_extra) r.message_extra.emplace();
    boost::json::value& v = (*r.message_extra)["thinking_blocks"];
    if (!v.is_array()) v = boost::json::array();
    for (const boost::json::value& b : *blocks) v.get_array().push_back(b);
  }
  if (e.tool_calls.is_array() && !e.tool_calls.get_array().empty()) {
    AccumulateToolCalls(r.tool_calls, e.tool_calls);
  }
  if (e.logprobs.is_object()) {
    if (!r.logprobs) r.logprobs.emplace();
    AccumulateLogprobs(*r.logprobs, e.logprobs);
  }
}

FailureClass ClassifyStatus(int status) {
  if (status == 429) return FailureClass::kRateLimited;
  if (status >= 500) return FailureClass::kServerError;
  if (status == 408) return FailureClass::kTimeout;  // the upstream timed out reading us
  if (status >= 400) return FailureClass::kClientError;
  // 1xx/3xx where a final 2xx answer was expected: the upstream is not speaking the API.
  return FailureClass::kMalformed;
}

Error UpstreamFailure::ToError() const {
  switch (cls) {
    case FailureClass::kRateLimited:
      return {ErrorCode::kRateLimited, "upstream rate limit: " + message};
    case FailureClass::kTimeout:
      return {ErrorCode::kTimeout, "upstream timed out: " + message};
    case FailureClass::kClientError:
      if (status == 401 || status == 403) {
        return {ErrorCode::kUpstreamError,
                "the upstream rejected the gateway's provider credentials (status " +
                    std::to_string(status) + ")"};
      }
      return Error::InvalidArgument("upstream rejected the request: " + message);
    default:
      return {ErrorCode::kUpstreamError,
              "upstream " + std::string(FailureClassName(cls)) + ": " + message};
  }
}

std::unique_ptr<Adapter> MakeAdapter(std::string_view type) {
  if (type == "openai") return MakeOpenAiAdapter();
  if (type == "anthropic") return MakeAnthropicAdapter();
  return nullptr;
}

}  // namespace promptops::providers
