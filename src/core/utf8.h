// UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
#pragma once

#include <cstddef>
#include <string_view>

namespace promptops::utf8 {

bool IsValid(std::string_view s);
// Number of code points in valid UTF-8 text (counts bytes of invalid sequences as one each).
std::size_t CodePointCount(std::string_view s);

}  // namespace promptops::utf8
