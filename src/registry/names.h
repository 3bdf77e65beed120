// Validation of the names users type: prompt names (with folders), labels and branch names, and
// parsing of prompt references ("NAME", "NAME@LABEL", "NAME#VERSION").
//
// All functions are pure and thread-safe. Errors are InvalidArgument with a message that quotes
// the offending input and says exactly which rule it breaks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace promptops::registry {

// Longest prompt name, in bytes of UTF-8.
inline constexpr std::size_t kMaxPromptNameBytes = 255;

// Checks a prompt name such as "support/refund-bot" or "고객지원/환불-봇". Rules:
//  - valid UTF-8, 1..255 bytes;
//  - folder segments separated by a single '/': no leading or trailing '/', no empty segment,
//    no "." or ".." segment;
//  - segment characters: ASCII letters and digits, '-', '_', '.', and any non-ASCII code point
//    except whitespace, control and format characters: U+0080–U+009F, U+00A0, U+1680,
//    U+2000–U+200F, U+2028–U+202F, U+205F–U+206F, U+3000 and U+FEFF are rejected;
//  - every other ASCII character is rejected: space, control characters and punctuation other
//    than "-_." (in particular '@', '#', ':', '?', '%', '\\', '"'), so a name never collides with
//    the reference syntax, URLs or file paths.
// Example error: "prompt name 'a//b' has an empty folder segment".
Status ValidatePromptName(std::string_view name);

// Checks a label ("production", "staging", "v2.1-rc"): ^[a-z0-9_.-]{1,36}$.
Status ValidateLabel(std::string_view label);

// Checks a branch name ("main", "feature-x"): ^[a-z0-9][a-z0-9_.-]{0,62}$.
Status ValidateBranchName(std::string_view branch);

// A parsed prompt reference. At most one of label and version is set; neither means "latest".
struct PromptRef {
  std::string name;
  std::optional<std::string> label;
  std::optional<int64_t> version;

  friend bool operator==(const PromptRef&, const PromptRef&) = default;
};

// Parses "NAME", "NAME@LABEL" or "NAME#VERSION" (VERSION a positive decimal integer without sign
// or leading zeros, fitting in int64). The name and label are validated as above. A reference with
// both '@' and '#', or with either one twice, is an error.
Result<PromptRef> ParsePromptRef(std::string_view ref);

}  // namespace promptops::registry
