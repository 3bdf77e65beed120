#include "api/request_util.h"

#include <charconv>

#include "core/json.h"

namespace promptops::api {

std::optional<std::string> Base64Decode(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  unsigned int buf = 0;
  int bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

Result<Actor> Authenticate(const http::Request& req, const governance::ApiKeys& keys) {
  auto auth = req.Header("authorization");
  if (!auth) {
    return Error::Unauthenticated(
        "missing credentials: send 'Authorization: Bearer <api key>' (or Basic public:secret)");
  }
  std::string_view v = *auth;
  auto starts = [&](std::string_view p) {
    return v.size() >= p.size() && http::EqualsIgnoreCase(v.substr(0, p.size()), p);
  };
  if (starts("Bearer ")) {
    std::string_view secret = v.substr(7);
    while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
    return keys.Authenticate(secret);
  }
  if (starts("Basic ")) {
    auto decoded = Base64Decode(v.substr(6));
    if (!decoded) return Error::Unauthenticated("malformed Basic credentials");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return Error::Unauthenticated("malformed Basic credentials");
    return keys.AuthenticatePair(std::string_view(*decoded).substr(0, colon),
                                 std::string_view(*decoded).substr(colon + 1));
  }
  return Error::Unauthenticated("unsupported Authorization scheme (use Bearer or Basic)");
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
