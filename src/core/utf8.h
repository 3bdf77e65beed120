// UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
#pragma once

#include <cstddef>
#include <string_view>

namespace promptops::utf8 {

bool IsValid(std::string_view s);
// The length of the valid UTF-8 sequence at p (1-4 bytes, p < end), or 0 if the bytes there are
// not one (a stray continuation byte, an overlong form, a surrogate, above U+10FFFF, cut short).
std::size_t SequenceLength(const unsigned char* p, const unsigned char* end);
// Number of code points in valid UTF-8 text (counts bytes of invalid sequences as one each).
std::size_t CodePointCount(std::string_view s);

}  // namespace promptops::utf8
