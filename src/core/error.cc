#include "core/error.h"

#include <array>

namespace promptops {
namespace {

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;
  int http_status;
  int exit_code;
};

// The one table: wire name, HTTP status and CLI exit code of each error kind.
constexpr std::array<ErrorInfo, 15> kErrorTable = {{
    {ErrorCode::kInvalidArgument, "invalid_argument", 400, 2},
    {ErrorCode::kUnauthenticated, "unauthenticated", 401, 3},
    {ErrorCode::kPermissionDenied, "permission_denied", 403, 4},
    {ErrorCode::kNotFound, "not_found", 404, 5},
    {ErrorCode::kMethodNotAllowed, "method_not_allowed", 405, 2},
    {ErrorCode::kConflict, "conflict", 409, 6},
    {ErrorCode::kAlreadyExists, "already_exists", 409, 7},
    {ErrorCode::kFailedPrecondition, "failed_precondition", 409, 8},
    {ErrorCode::kPayloadTooLarge, "payload_too_large", 413, 2},
    {ErrorCode::kUnsupportedMediaType, "unsupported_media_type", 415, 2},
    {ErrorCode::kRateLimited, "rate_limited", 429, 9},
    {ErrorCode::kInternal, "internal", 500, 10},
    {ErrorCode::kUpstreamError, "upstream_error", 502, 11},
    {ErrorCode::kUnavailable, "unavailable", 503, 12},
    {ErrorCode::kTimeout, "timeout", 504, 13},
}};

const ErrorInfo& Info(ErrorCode code) {
  for (const auto& e : kErrorTable) {
    if (e.code == code) return e;
  }
  return kErrorTable[11];  // kInternal
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) { return Info(code).name; }

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (const auto& e : kErrorTable) {
    if (e.name == name) return e.code;
  }
  return std::nullopt;
}

int HttpStatusFor(ErrorCode code) { return Info(code).http_status; }

ErrorCode ErrorCodeForHttpStatus(int status) {
  for (const auto& e : kErrorTable) {
    if (e.http_status == status) return e.code;  // first match is the canonical kind
  }
  if (status >= 500) return ErrorCode::kInternal;
  return ErrorCode::kInvalidArgument;
}

int ExitCodeFor(ErrorCode code) { return Info(code).exit_code; }

std::string Error::ToString() const {
  std::string s(ErrorCodeName(code));
  s += ": ";
  s += message;
  return s;
}

}  // namespace promptops
