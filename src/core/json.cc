#include "core/json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "core/json_scan.h"
#include "core/utf8.h"

namespace promptops::json {

Result<bj::value> Parse(std::string_view text) {
  bj::parse_options opts;
  opts.max_depth = kMaxDepth;
  opts.allow_invalid_utf8 = false;
  // Small documents (every gateway request) reuse a parser per thread, whose temporary stack
  // stays allocated between documents; a big one gets its own, so that no thread keeps the
  // memory a large document needed.
  constexpr std::size_t kReuseUpTo = 64 * 1024;
  thread_local bj::parser reused(bj::storage_ptr(), opts);
  std::optional<bj::parser> own;
  bj::parser& p = text.size() <= kReuseUpTo ? reused : own.emplace(bj::storage_ptr(), opts);
  p.reset();
  boost::system::error_code ec;
  p.write(text.data(), text.size(), ec);
  if (ec) {
    // Boost.JSON refuses invalid UTF-8 (in strings, and any byte >= 0x80 outside them is a
    // syntax error), so the text is checked only here, for the clearer message.
    if (!utf8::IsValid(text)) return Error::InvalidArgument("request body is not valid UTF-8");
    std::string msg = "malformed JSON: " + ec.message();
    if (ec == bj::error::too_deep) msg = "JSON nested deeper than 64 levels";
    return Error::InvalidArgument(std::move(msg));
  }
  return p.release();
}

Result<bj::object> ParseObject(std::string_view text) {
  PO_ASSIGN_OR_RETURN(bj::value v, Parse(text));
  if (!v.is_object()) return Error::InvalidArgument("JSON body must be an object");
  return std::move(v.as_object());
}

std::string Serialize(const bj::value& v) { return bj::serialize(v); }

namespace {
template <class T>
void AppendSerialized(std::string& out, const T& v) {
  bj::serializer sr;
  sr.reset(&v);
  char buf[512];
  while (!sr.done()) out += sr.read(buf, sizeof buf);
}

// Written by hand for what requests carry (objects, arrays, strings, integers): Boost.JSON's
// serializer costs a set-up per call that was most of the work for a short conversation.
// Doubles keep Boost.JSON's own number format (through its serializer), and so does anything
// nested deeper than kMaxDepth (Boost.JSON's serializer does not recurse on the stack).
void AppendValue(std::string& out, const bj::value& v, int depth);
void AppendValue(std::string& out, const bj::array& a, int depth) {
  if (depth > static_cast<int>(kMaxDepth)) return AppendSerialized(out, a);
  out += '[';
  bool first = true;
  for (const auto& e : a) {
    if (!first) out += ',';
    first = false;
    AppendValue(out, e, depth + 1);
  }
  out += ']';
}
void AppendValue(std::string& out, const bj::object& o, int depth) {
  if (depth > static_cast<int>(kMaxDepth)) return AppendSerialized(out, o);
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    AppendString(out, kv.key());
    out += ':';
    AppendValue(out, kv.value(), depth + 1);
  }
  out += '}';
}
void AppendValue(std::string& out, const bj::value& v, int depth) {
  switch (v.kind()) {
    case bj::kind::string:
      AppendString(out, v.get_string());
      return;
    case bj::kind::int64:
      AppendInt(out, v.get_int64());
      return;
    case bj::kind::uint64: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, static_cast<std::size_t>(end - buf));
      return;
    }
    case bj::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case bj::kind::null:
      out += "null";
      return;
    case bj::kind::object:
      return AppendValue(out, v.get_object(), depth);
    case bj::kind::array:
      return AppendValue(out, v.get_array(), depth);
    case bj::kind::double_:
      return AppendSerialized(out, v);
  }
}

}  // namespace

void AppendValue(std::string& out, const bj::value& v) { AppendValue(out, v, 0); }
void AppendValue(std::string& out, const bj::array& v) { AppendValue(out, v, 0); }
void AppendValue(std::string& out, const bj::object& v) { AppendValue(out, v, 0); }

void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* end = s.data() + s.size();
  std::size_t i = static_cast<std::size_t>(SkipUnescaped(s.data(), end) - s.data());
  if (i == s.size()) {  // nothing to escape (the usual case): the quotes and the text at once
    std::size_t at = out.size();
    out.append(s.size() + 2, '"');
    std::memcpy(out.data() + at + 1, s.data(), s.size());
    return;
  }
  out.reserve(out.size() + s.size() + 8);
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    i = static_cast<std::size_t>(SkipUnescaped(s.data() + run, end) - s.data());
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendInt(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

namespace {
void AppendCanonical(const bj::value& v, std::string& out) {
  if (v.is_object()) {
    const auto& o = v.as_object();
    std::vector<const bj::key_value_pair*> kv;
    kv.reserve(o.size());
    for (const auto& p : o) kv.push_back(&p);
    std::sort(kv.begin(), kv.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out += '{';
    for (std::size_t i = 0; i < kv.size(); ++i) {
      if (i) out += ',';
      out += bj::serialize(bj::string(kv[i]->key()));
      out += ':';
      AppendCanonical(kv[i]->value(), out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v.as_array()) {
      if (!first) out += ',';
      first = false;
      AppendCanonical(e, out);
    }
    out += ']';
  } else if (v.is_double()) {
    // Shortest round-trip form ("0.2", not Boost.JSON's "2E-1"); integral doubles keep a ".0"
    // so that they stay doubles when parsed back.
    char buf[64];
    double d = v.as_double();
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view s(buf, static_cast<std::size_t>(end - buf));
    if (ec != std::errc() || !std::isfinite(d)) {
      out += bj::serialize(v);
    } else {
      out += s;
      if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";
    }
  } else {
    out += bj::serialize(v);
  }
}
}  // namespace

std::string CanonicalSerialize(const bj::value& v) {
  std::string out;
  AppendCanonical(v, out);
  return out;
}

namespace {
Error WrongType(std::string_view key, std::string_view type) {
  return Error::InvalidArgument("field '" + std::string(key) + "' must be " + std::string(type));
}
}  // namespace

namespace {
const bj::value* Find(const bj::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}
}  // namespace

Result<std::optional<std::string>> OptString(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return WrongType(key, "a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<std::int64_t>> OptInt(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()));
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d < 9.2e18 && d > -9.2e18) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
  }
  return WrongType(key, "an integer");
}

Result<std::optional<double>> OptDouble(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return std::optional<double>();
  if (v->is_double()) return std::optional<double>(v->get_double());
  if (v->is_int64()) return std::optional<double>(static_cast<double>(v->get_int64()));
  if (v->is_uint64()) return std::optional<double>(static_cast<double>(v->get_uint64()));
  return WrongType(key, "a number");
}

Result<std::optional<bool>> OptBool(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return WrongType(key, "a boolean");
  return std::optional<bool>(v->get_bool());
}

Result<const bj::object*> OptObject(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return static_cast<const bj::object*>(nullptr);
  if (!v->is_object()) return WrongType(key, "an object");
  return &v->get_object();
}

Result<const bj::array*> OptArray(const bj::value* v, std::string_view key) {
  if (!v || v->is_null()) return static_cast<const bj::array*>(nullptr);
  if (!v->is_array()) return WrongType(key, "an array");
  return &v->get_array();
}

Result<std::optional<std::string>> OptString(const bj::object& o, std::string_view key) {
  return OptString(Find(o, key), key);
}
Result<std::optional<std::int64_t>> OptInt(const bj::object& o, std::string_view key) {
  return OptInt(Find(o, key), key);
}
Result<std::optional<double>> OptDouble(const bj::object& o, std::string_view key) {
  return OptDouble(Find(o, key), key);
}
Result<std::optional<bool>> OptBool(const bj::object& o, std::string_view key) {
  return OptBool(Find(o, key), key);
}
Result<const bj::object*> OptObject(const bj::object& o, std::string_view key) {
  return OptObject(Find(o, key), key);
}
Result<const bj::array*> OptArray(const bj::object& o, std::string_view key) {
  return OptArray(Find(o, key), key);
}

Result<std::string> RequireString(const bj::value* v, std::string_view key) {
  PO_ASSIGN_OR_RETURN(auto s, OptString(v, key));
  if (!s) return Error::InvalidArgument("field '" + std::string(key) + "' is required");
  return std::move(*s);
}

Result<std::string> RequireString(const bj::object& o, std::string_view key) {
  return RequireString(Find(o, key), key);
}

std::string ErrorBody(const Error& e) {
  bj::object inner;
  inner["code"] = ErrorCodeName(e.code);
  inner["message"] = e.message;
  bj::object outer;
  outer["error"] = std::move(inner);
  return bj::serialize(outer);
}

}  // namespace promptops::json
