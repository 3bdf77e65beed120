// UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
#pragma once

#include <cstddef>
#include <string_view>

namespace promptops::utf8 {

bool IsValid(std::string_view s);
// The length of the valid UTF-8 sequence at p (1-4 bytes, p < end), or 0 if the bytes there are
// not one (a stray continuation byte, an overlong form, a surrogate, above U+10FFFF, cut short).
// Inline: scanners call it once per character of non-ASCII text.
inline std::size_t SequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = *p;
  if (c < 0x80) return 1;
  std::ptrdiff_t n;
  unsigned int cp;
  if ((c & 0xE0) == 0xC0) {
    n = 1;
    cp = c & 0x1F;
    if (c < 0xC2) return 0;  // overlong
  } else if ((c & 0xF0) == 0xE0) {
    n = 2;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 3;
    cp = c & 0x07;
    if (c > 0xF4) return 0;
  } else {
    return 0;
  }
  if (end - p <= n) return 0;
  for (std::ptrdiff_t i = 1; i <= n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return static_cast<std::size_t>(n + 1);
}

// Number of code points in valid UTF-8 text (counts bytes of invalid sequences as one each).
std::size_t CodePointCount(std::string_view s);

}  // namespace promptops::utf8
