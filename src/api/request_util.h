// Helpers shared by the API handlers: authentication, JSON bodies, query parameters, JSON
// responses. Every failure is an Error that the handler returns as http::Response::FromError.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "api/context.h"
#include "core/actor.h"
#include "core/error.h"
#include "http/message.h"

namespace promptops::api {

// Authenticates "Authorization: Bearer <secret>" or "Authorization: Basic base64(public:secret)".
// Unauthenticated when missing or invalid; the message never contains the credential.
Result<Actor> Authenticate(const http::Request& req, const governance::ApiKeys& keys);

// Parses the request body as a JSON object. Empty body -> {} when allow_empty. A Content-Type
// other than application/json -> UnsupportedMediaType.
Result<boost::json::object> JsonBody(const http::Request& req, bool allow_empty = false);

// Query parameter as a positive integer (>= min), or nullopt if absent.
Result<std::optional<std::int64_t>> QueryInt(const http::Request& req, std::string_view name,
                                             std::int64_t min = 1, std::int64_t max = INT64_MAX);
// A path parameter that must be a positive version number.
Result<std::int64_t> ParseVersionNumber(std::string_view s);

inline http::Response JsonResponse(int status, const boost::json::value& v) {
  return http::Response::Json(status, boost::json::serialize(v));
}

// Runs `fn` (returning Result<http::Response>) and maps an error to its JSON error response.
template <typename Fn>
http::Response Handle(Fn&& fn) {
  auto r = fn();
  if (!r.ok()) return http::Response::FromError(r.error());
  return std::move(r).value();
}

}  // namespace promptops::api
