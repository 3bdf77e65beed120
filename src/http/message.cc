#include "http/message.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "core/json.h"
#include "http/text_scan.h"

namespace promptops::http {
namespace {

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Calls fn(decoded_value) for each query pair whose decoded key equals `name`; stops when fn
// returns false.
template <typename Fn>
void ForEachQueryValue(std::string_view query, std::string_view name, Fn fn) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto key = UrlDecode(raw_key, true);
    if (!key || *key != name) continue;
    auto value = UrlDecode(raw_value, true);
    if (!value) continue;
    if (!fn(std::move(*value))) return;
  }
}

}  // namespace

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

bool IsFramingHeader(std::string_view name) {
  // By length first: it runs for every header of every response and upstream request, and most
  // names have none of these lengths.
  switch (name.size()) {
    case 10:
      return EqualsIgnoreCase(name, "connection");
    case 14:
      return EqualsIgnoreCase(name, "content-length");
    case 17:
      return EqualsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!text::IsToken(c)) return false;
  }
  return true;
}

bool ValidHeaderValue(std::string_view value) {
  const char* end = value.data() + value.size();
  return text::SkipFieldText(value.data(), end) == end;
}

namespace {

// Eight bytes of ASCII case folded at once: 0x20 added to each byte in 'A'-'Z' (the high bit of
// h + 0x3F says h >= 'A', of h + 0x25 that h > 'Z'; neither sum carries into the next byte, and
// bytes from 0x80 up are left alone).
std::uint64_t LowerAscii8(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  std::uint64_t h = x & (0x7F * kOnes);
  std::uint64_t from_a = h + (0x80 - 'A') * kOnes;
  std::uint64_t past_z = h + (0x7F - 'Z') * kOnes;
  std::uint64_t upper = (from_a ^ past_z) & ~x & (0x80 * kOnes);
  return x | (upper >> 2);
}

std::uint64_t Load8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  // Every header lookup and framing check runs this: eight bytes per step (the last step
  // overlapping the one before), byte by byte under eight.
  std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i) {
      if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
    }
    return true;
  }
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    if (LowerAscii8(Load8(a.data() + i)) != LowerAscii8(Load8(b.data() + i))) return false;
  }
  return n % 8 == 0 || LowerAscii8(Load8(a.data() + n - 8)) == LowerAscii8(Load8(b.data() + n - 8));
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

std::optional<std::string> Request::Query(std::string_view name) const {
  std::optional<std::string> out;
  ForEachQueryValue(query, name, [&](std::string v) {
    out = std::move(v);
    return false;
  });
  return out;
}

std::vector<std::string> Request::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  ForEachQueryValue(query, name, [&](std::string v) {
    out.push_back(std::move(v));
    return true;
  });
  return out;
}

std::string_view Request::Param(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers = {{"content-type", "application/json"}};
  r.body = std::move(body);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers = {{"content-type", std::move(content_type)}};
  r.body = std::move(body);
  return r;
}

Response Response::FromError(const Error& e) {
  return Json(HttpStatusFor(e.code), json::ErrorBody(e));
}

Response Response::NoContent() {
  Response r;
  r.status = 204;
  return r;
}

std::optional<std::string_view> Response::Header(std::string_view name) const {
  if (auto v = FindHeader(headers, name)) return v;
  return FindHeaderLine(head_lines, name);
}

bool AppendHeaderLine(std::string& lines, StaticHeaderName name, std::string_view value) {
  if (!ValidHeaderValue(value)) return false;
  std::string_view n = name.view();
  std::size_t at = lines.size();
  lines.resize(at + n.size() + value.size() + 4);  // then written in place: one size check
  char* p = lines.data() + at;
  std::memcpy(p, n.data(), n.size());
  p += n.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
  return true;
}

std::optional<std::string_view> FindHeaderLine(std::string_view lines, std::string_view name) {
  while (!lines.empty()) {
    std::size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
    std::size_t colon = line.find(": ");
    if (colon != std::string_view::npos && EqualsIgnoreCase(line.substr(0, colon), name)) {
      return line.substr(colon + 2);
    }
  }
  return std::nullopt;
}

std::optional<std::string> UrlDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = text::HexValue(s[i + 1]);
      int lo = text::HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace promptops::http
