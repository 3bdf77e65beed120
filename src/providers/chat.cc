#include "providers/chat.h"

#include "providers/adapter.h"

namespace promptops::providers {

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
