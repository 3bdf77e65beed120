#include "providers/wire_util.h"

#include <charconv>
#include <cmath>

#include "core/utf8.h"
#include "providers/adapter.h"

namespace promptops::providers {

namespace wire {

namespace bj = boost::json;

const bj::string* StringField(const bj::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return nullptr;
  return &it->value().get_string();
}

const bj::object* ObjectField(const bj::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

const bj::array* ArrayField(const bj::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return nullptr;
  return &it->value().get_array();
}

std::optional<std::int64_t> IntField(const bj::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  const bj::value& v = it->value();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double() && std::isfinite(v.get_double()) &&
      v.get_double() == std::floor(v.get_double()) && std::fabs(v.get_double()) < 9e15) {
    return static_cast<std::int64_t>(v.get_double());
  }
  return std::nullopt;
}

std::optional<bj::object> ParseObject(std::string_view text, bj::storage_ptr sp) {
  boost::system::error_code ec;
  bj::parse_options opts;
  opts.max_depth = 64;
  bj::value v = bj::parse(text, ec, std::move(sp), opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

std::string ErrorMessage(int status, std::string_view body) {
  if (auto o = ParseObject(body)) {
    auto it = o->find("error");
    if (it != o->end()) {
      if (it->value().is_string()) return std::string(it->value().get_string());
      if (it->value().is_object()) {
        const auto& e = it->value().get_object();
        const bj::string* msg = StringField(e, "message");
        const bj::string* type = StringField(e, "type");
        std::string out;
        if (type && !type->empty()) out = std::string(*type);
        if (msg && !msg->empty()) {
          if (!out.empty()) out += ": ";
          out += std::string(*msg);
        }
        if (!out.empty()) return out;
      }
    }
  }
  std::string_view head = body.substr(0, 200);
  // Cutting may split a UTF-8 sequence: back off to a valid prefix (at most 3 bytes).
  for (int i = 0; i < 4 && !head.empty() && !utf8::IsValid(head); ++i) head.remove_suffix(1);
  if (!head.empty() && utf8::IsValid(head)) {
    std::string out(head);
    if (head.size() < body.size()) out += "...";
    return out;
  }
  return "HTTP " + std::to_string(status);
}

UpstreamFailure StatusFailure(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after) {
  UpstreamFailure f;
  f.cls = ClassifyStatus(status);
  f.status = status;
  f.message = ErrorMessage(status, body);
  f.retry_after = retry_after;
  return f;
}

UpstreamFailure Malformed(std::string message) {
  UpstreamFailure f;
  f.cls = FailureClass::kMalformed;
  f.message = std::move(message);
  return f;
}

}  // namespace wire

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  for (char c : value) {
    if (!((c >= '0' && c <= '9') || c == '.')) return std::nullopt;
  }
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  seconds = std::min(seconds, 3600.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

}  // namespace promptops::providers
