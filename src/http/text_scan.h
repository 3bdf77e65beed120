// Character classes of HTTP/1.1 (RFC 9110 5.5, 5.6.2), shared by the parser (http1_parser.cc)
// and by the checks on the headers the server and the upstream client write (message.cc), so
// that what one writes the other reads; hex digits, for both; and comma-separated lists, for
// the parser and for handlers reading list-valued headers (Cache-Control).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace promptops::http::text {

// tchar: field names, methods, list elements.
inline constexpr std::array<bool, 256> kToken = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// A field value's (or reason phrase's) characters: VCHAR, obs-text, SP and HTAB; no other
// control and no DEL.
inline constexpr std::array<bool, 256> kFieldText = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c <= 0xff; ++c) t[c] = c != 0x7f;
  t['\t'] = true;
  return t;
}();

inline bool IsToken(char c) { return kToken[static_cast<unsigned char>(c)]; }

// OWS (RFC 9110 5.6.3): spaces and horizontal tabs.
inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// `s` without leading and trailing OWS.
inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each element of a comma-separated list (RFC 9110 5.6.1), trimmed of
// OWS (empty elements included). Stops and returns false when fn does.
template <class Fn>
bool ForEachElement(std::string_view list, Fn&& fn) {
  for (;;) {
    std::size_t comma = list.find(',');
    if (!fn(Trim(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// The value of a hex digit, or -1 (percent-escapes, chunk sizes).
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The first byte in [p, end) that is not field text, 16 bytes at a time where SSE2 is there
// (most of a head's bytes are in field values); `end` if there is none.
inline const char* SkipFieldText(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 16) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compares: bytes from 0x80 are negative, and text.
    __m128i control = _mm_andnot_si128(_mm_cmplt_epi8(b, zero), _mm_cmplt_epi8(b, space));
    int mask = _mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(b, del)));
    if (mask == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(static_cast<unsigned>(mask));
    if (*p != '\t') return p;
    ++p;  // HTAB is text
  }
#endif
  while (p < end && kFieldText[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

}  // namespace promptops::http::text
