// Errors as values: a closed set of error codes and Result<T>, the return type of every
// operation that can fail for an expected reason (bad input, not found, conflict, ...).
//
// Each ErrorCode is mapped exactly once to an HTTP status (HttpStatusFor), a stable wire name
// (ErrorCodeName) and a CLI exit code (ExitCodeFor); see error.cc.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace promptops {

// The closed registry of error kinds. Values are stable: they appear in JSON bodies (by name),
// in metrics and as CLI exit codes. Add new kinds at the end.
enum class ErrorCode {
  kInvalidArgument,       // malformed or invalid input (400)
  kUnauthenticated,       // missing or unknown credentials (401)
  kPermissionDenied,      // credentials valid but role insufficient (403)
  kNotFound,              // the named resource does not exist (404)
  kMethodNotAllowed,      // the path exists, not with this method (405)
  kConflict,              // state changed under the caller (concurrent write, moved branch) (409)
  kAlreadyExists,         // a create for a resource that exists (409)
  kFailedPrecondition,    // the operation is not allowed in the current state (409)
  kPayloadTooLarge,       // request body above the limit (413)
  kUnsupportedMediaType,  // body not JSON where JSON is required (415)
  kRateLimited,           // over a rate limit or budget (429)
  kInternal,              // a bug or an unexpected failure (500)
  kUpstreamError,         // an upstream service answered with an error (502)
  kUnavailable,           // temporarily unable to serve: shutting down, overloaded (503)
  kTimeout,               // a deadline passed (504)
};

// Stable snake_case name, e.g. "invalid_argument". Used as the JSON error "code".
std::string_view ErrorCodeName(ErrorCode code);
// Parses a name produced by ErrorCodeName; nullopt for unknown names.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);
// The HTTP status for this error kind.
int HttpStatusFor(ErrorCode code);
// The inverse used by clients: the error kind a bare HTTP status stands for.
ErrorCode ErrorCodeForHttpStatus(int status);
// CLI exit code: 0 is success, 1 is a generic failure/usage error, and each kind has its own
// code in 2..19 so scripts can tell classes of failure apart (documented in docs/cli.md).
int ExitCodeFor(ErrorCode code);

// An error value: a code and a human-readable message (never containing secrets).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error InvalidArgument(std::string m) {
    return {ErrorCode::kInvalidArgument, std::move(m)};
  }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error Conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
  static Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error FailedPrecondition(std::string m) {
    return {ErrorCode::kFailedPrecondition, std::move(m)};
  }
  static Error Unauthenticated(std::string m) {
    return {ErrorCode::kUnauthenticated, std::move(m)};
  }
  static Error PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }

  // "code: message", for logs and CLI output.
  std::string ToString() const;
};

// Result<T>: either a T or an Error. Cheap to move; accessing the wrong side is a bug (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *e_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*e_);
  }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;
inline Status OkStatus() { return {}; }

}  // namespace promptops

// Propagates an error: evaluates `expr` (a Result) and returns its error from the enclosing
// function if it failed.
#define PO_RETURN_IF_ERROR(expr)                                \
  do {                                                          \
    auto po_status_ = (expr);                                   \
    if (!po_status_.ok()) return std::move(po_status_).error(); \
  } while (0)

#define PO_CONCAT_INNER(a, b) a##b
#define PO_CONCAT(a, b) PO_CONCAT_INNER(a, b)
// PO_ASSIGN_OR_RETURN(auto x, MakeX()): declares x from a Result's value or returns its error.
#define PO_ASSIGN_OR_RETURN(decl, expr) \
  PO_ASSIGN_OR_RETURN_IMPL(PO_CONCAT(po_result_, __LINE__), decl, expr)
#define PO_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  decl = std::move(tmp).value()
