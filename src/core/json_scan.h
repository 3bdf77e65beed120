// The pieces of a hand-written JSON fast pass (a strict scan of a known shape that gives up, for
// the full parser to decide, at anything else): the cursor, whitespace, punctuation, literals,
// the number grammar (RFC 8259 6) and strings without escapes. Used by the gateway's two fast
// passes, over the inbound request (gateway/openai_wire.cc) and the upstream's answer
// (providers/openai_adapter.cc); each is checked against the full parse by a differential test.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/utf8.h"

namespace promptops::json {

namespace scan_internal {
// Bytes that continue a plain run (SkipPlainAscii) and bytes written as they are (SkipUnescaped),
// for the last bytes of a text, which are most of a short string's.
inline constexpr std::array<bool, 256> kPlainAscii = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();
inline constexpr std::array<bool, 256> kUnescaped = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x100; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();
}  // namespace scan_internal

// The first byte in [p, end) that is not printable ASCII (0x20-0x7F) or is '"' or '\\': where a
// plain run of a JSON string's text ends (its closing quote, an escape, a control character or
// the lead byte of a UTF-8 sequence); `end` if none. 16 bytes per step with SSE2 (the baseline of
// x86-64), the last few one by one.
inline const unsigned char* SkipPlainAscii(const unsigned char* p, const unsigned char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed compare: bytes from 0x80 up are negative, so below 0x20 as well.
    __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)),
                     _mm_cmplt_epi8(x, space));
    if (int mask = _mm_movemask_epi8(stop)) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && scan_internal::kPlainAscii[*p]) ++p;
  return p;
}

// The first byte in [p, end) that JSON text must escape ('"', '\\', a control character below
// 0x20); `end` if none. Bytes from 0x80 up pass (UTF-8 is written as it is).
inline const char* SkipUnescaped(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control_max = _mm_set1_epi8(0x1F);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Unsigned x <= 0x1F: max(x, 0x1F) is 0x1F.
    __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(x, control_max), control_max);
    __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), control);
    if (int mask = _mm_movemask_epi8(stop)) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && scan_internal::kUnescaped[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

class ScanCursor {
 public:
  explicit ScanCursor(std::string_view text)
      : p_(reinterpret_cast<const unsigned char*>(text.data())), end_(p_ + text.size()) {}

  bool AtEnd() const { return p_ == end_; }

  // The loops work on a local copy of p_: through the member, every step was a store and a
  // load (a char pointer may alias the cursor itself).
  void SkipSpace() {
    const unsigned char* p = p_;
    // Most calls find none: one compare rules out every byte above the space.
    while (p < end_ && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    p_ = p;
  }
  // Whitespace, then `c` (consumed) if it is next. Compact JSON has no whitespace: `c` is
  // looked for first.
  bool Eat(unsigned char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    SkipSpace();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // `word` (consumed) if it is next: true, false, null.
  bool Literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return false;
    }
    p_ += word.size();
    return true;
  }
  // A number at p_ (consumed), its grammar checked: `text` is all of it, `int_digits` its integer
  // digits (without the sign), `integral` whether it has neither fraction nor exponent.
  bool NumberText(std::string_view& text, std::string_view& int_digits, bool& integral) {
    const unsigned char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const unsigned char* digits = p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0') {
      ++p_;  // no leading zeros
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    int_digits = View(digits, p_);
    integral = true;
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    text = View(start, p_);
    return true;
  }
  // A string at p_ (its opening quote; consumed) without escapes, as a view into the text:
  // valid UTF-8, no control characters. False at a backslash (a fast pass leaves escapes to the
  // full parser) and at anything JSON refuses.
  bool PlainString(std::string_view& out) {
    if (p_ >= end_ || *p_ != '"') return false;
    const unsigned char* start = p_ + 1;
    // Most are printable ASCII to the closing quote: one skip; the rest out of line.
    const unsigned char* q = SkipPlainAscii(start, end_);
    if (q < end_ && *q == '"') {
      out = View(start, q);
      p_ = q + 1;
      return true;
    }
    return PlainStringRest(start, q, out);
  }

 private:
  // PlainString from `p` on (printable ASCII from `start` to there): UTF-8 sequences and more
  // ASCII runs to the closing quote.
  [[gnu::noinline]] bool PlainStringRest(const unsigned char* start, const unsigned char* p,
                                         std::string_view& out) {
    for (;;) {
      if (p >= end_ || *p < 0x20 || *p == '\\') return false;
      if (*p == '"') break;
      std::size_t n = utf8::SequenceLength(p, end_);
      if (n == 0) return false;
      p = SkipPlainAscii(p + n, end_);
    }
    out = View(start, p);
    p_ = p + 1;
    return true;
  }

 protected:
  // Whether `s` is the literal `lit` (a member name, a role): the length first, then the bytes,
  // their count known when compiling, so that the compare is a few integer compares and not a
  // call to memcmp (as string_view's == makes it).
  template <std::size_t N>
  static bool Is(std::string_view s, const char (&lit)[N]) {
    return s.size() == N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
  }

  static std::string_view View(const unsigned char* from, const unsigned char* to) {
    return std::string_view(reinterpret_cast<const char*>(from),
                            static_cast<std::size_t>(to - from));
  }

  const unsigned char* p_;
  const unsigned char* end_;
};

}  // namespace promptops::json
