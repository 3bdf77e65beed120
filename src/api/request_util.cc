#include "api/request_util.h"

#include <charconv>

#include "core/json.h"

namespace promptops::api {

Result<Actor> Authenticate(const http::Request& req, const governance::ApiKeys& keys) {
  return keys.AuthenticateHeader(req.Header("authorization"));
}

Result<boost::json::object> JsonBody(const http::Request& req, bool allow_empty) {
  if (auto ct = req.Header("content-type")) {
    std::string_view t = *ct;
    auto semi = t.find(';');
    if (semi != std::string_view::npos) t = t.substr(0, semi);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (!http::EqualsIgnoreCase(t, "application/json")) {
      return Error{ErrorCode::kUnsupportedMediaType,
                   "request body must be JSON (Content-Type: application/json)"};
    }
  }
  if (req.body.empty()) {
    if (allow_empty) return boost::json::object();
    return Error::InvalidArgument("request body is empty; a JSON object is required");
  }
  return json::ParseObject(req.body);
}

Result<std::int64_t> ParseVersionNumber(std::string_view s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 1) {
    return Error::InvalidArgument("version must be a positive integer, not '" + std::string(s) +
                                  "'");
  }
  return v;
}

Result<std::optional<std::int64_t>> QueryInt(const http::Request& req, std::string_view name,
                                             std::int64_t min, std::int64_t max) {
  auto q = req.Query(name);
  if (!q) return std::optional<std::int64_t>();
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(q->data(), q->data() + q->size(), v);
  if (ec != std::errc() || ptr != q->data() + q->size() || v < min || v > max) {
    return Error::InvalidArgument("query parameter '" + std::string(name) +
                                  "' must be an integer in [" + std::to_string(min) + ", " +
                                  std::to_string(max) + "]");
  }
  return std::optional<std::int64_t>(v);
}

}  // namespace promptops::api
