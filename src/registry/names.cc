#include "registry/names.h"

#include <charconv>
#include <cstdio>
#include <string>

#include "core/utf8.h"

namespace promptops::registry {
namespace {

// Decodes one code point from valid UTF-8 at s[i], advancing i.
char32_t DecodeAt(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  char32_t cp = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

// Non-ASCII code points that are whitespace, control or format characters: invisible or
// confusable in a name, so rejected.
bool IsForbiddenNonAscii(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
         (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF;
}

bool IsAsciiNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

std::string CodePointLabel(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// How a rejected ASCII character is shown in a message: printable ones quoted, others as U+XXXX.
std::string AsciiLabel(char c) {
  if (c == ' ') return "a space";
  if (c < 0x20 || c == 0x7F) return "control character " + CodePointLabel(c);
  return std::string("'") + c + "'";
}

bool IsLowerDigitOrPunct(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

}  // namespace

Status ValidatePromptName(std::string_view name) {
  if (name.empty()) return Error::InvalidArgument("prompt name must not be empty");
  if (!utf8::IsValid(name)) return Error::InvalidArgument("prompt name is not valid UTF-8");
  const std::string quoted = "prompt name '" + std::string(name) + "'";
  if (name.size() > kMaxPromptNameBytes) {
    return Error::InvalidArgument(quoted + " is " + std::to_string(name.size()) +
                                  " bytes long; the maximum is " +
                                  std::to_string(kMaxPromptNameBytes));
  }
  if (name.front() == '/') return Error::InvalidArgument(quoted + " must not start with '/'");
  if (name.back() == '/') return Error::InvalidArgument(quoted + " must not end with '/'");

  std::size_t seg_start = 0;
  for (std::size_t i = 0; i <= name.size();) {
    if (i == name.size() || name[i] == '/') {
      std::string_view seg = name.substr(seg_start, i - seg_start);
      if (seg.empty()) return Error::InvalidArgument(quoted + " has an empty folder segment");
      if (seg == "." || seg == "..") {
        return Error::InvalidArgument(quoted + " has a '" + std::string(seg) +
                                      "' segment, which is not allowed");
      }
      if (i == name.size()) break;
      seg_start = ++i;
      continue;
    }
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (!IsAsciiNameChar(name[i])) {
        return Error::InvalidArgument(quoted + " contains " + AsciiLabel(name[i]) +
                                      "; allowed are letters, digits, '-', '_', '.' and '/' "
                                      "between folders");
      }
      ++i;
      continue;
    }
    char32_t cp = DecodeAt(name, i);
    if (IsForbiddenNonAscii(cp)) {
      return Error::InvalidArgument(quoted + " contains " + CodePointLabel(cp) +
                                    ", a whitespace, control or format character");
    }
  }
  return OkStatus();
}

Status ValidateLabel(std::string_view label) {
  if (label.empty() || label.size() > 36) {
    return Error::InvalidArgument("label '" + std::string(label) +
                                  "' must be 1 to 36 characters matching ^[a-z0-9_.-]{1,36}$");
  }
  for (char c : label) {
    if (!IsLowerDigitOrPunct(c)) {
      return Error::InvalidArgument("label '" + std::string(label) +
                                    "' must match ^[a-z0-9_.-]{1,36}$ (lowercase letters, "
                                    "digits, '_', '.', '-')");
    }
  }
  return OkStatus();
}

Status ValidateBranchName(std::string_view branch) {
  const char* rule = "^[a-z0-9][a-z0-9_.-]{0,62}$";
  auto fail = [&](const std::string& why) {
    return Error::InvalidArgument("branch name '" + std::string(branch) + "' " + why +
                                  " (rule: " + rule + ")");
  };
  if (branch.empty()) return fail("is empty");
  if (branch.size() > 63) return fail("is longer than 63 characters");
  char first = branch.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) {
    return fail("must start with a lowercase letter or digit");
  }
  for (char c : branch) {
    if (!IsLowerDigitOrPunct(c)) {
      return fail("may contain only lowercase letters, digits, '_', '.' and '-'");
    }
  }
  return OkStatus();
}

Result<PromptRef> ParsePromptRef(std::string_view ref) {
  const std::string quoted = "prompt reference '" + std::string(ref) + "'";
  std::size_t at = ref.find('@');
  std::size_t hash = ref.find('#');
  if (at != std::string_view::npos && hash != std::string_view::npos) {
    return Error::InvalidArgument(quoted + " has both '@' (label) and '#' (version); use one");
  }
  if (at != std::string_view::npos && ref.find('@', at + 1) != std::string_view::npos) {
    return Error::InvalidArgument(quoted + " has more than one '@'");
  }
  if (hash != std::string_view::npos && ref.find('#', hash + 1) != std::string_view::npos) {
    return Error::InvalidArgument(quoted + " has more than one '#'");
  }
  std::size_t sep = at != std::string_view::npos ? at : hash;
  PromptRef out;
  out.name = std::string(ref.substr(0, sep));
  PO_RETURN_IF_ERROR(ValidatePromptName(out.name));
  if (sep == std::string_view::npos) return out;

  std::string_view rest = ref.substr(sep + 1);
  if (at != std::string_view::npos) {
    if (rest.empty()) return Error::InvalidArgument(quoted + " has an empty label after '@'");
    PO_RETURN_IF_ERROR(ValidateLabel(rest));
    out.label = std::string(rest);
    return out;
  }
  if (rest.empty()) return Error::InvalidArgument(quoted + " has an empty version after '#'");
  bool digits = rest.find_first_not_of("0123456789") == std::string_view::npos;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (!digits || rest.front() == '0' || ec != std::errc() || ptr != rest.data() + rest.size() ||
      v <= 0) {
    return Error::InvalidArgument(quoted + " has version '" + std::string(rest) +
                                  "'; a version must be a positive integer such as 3");
  }
  out.version = v;
  return out;
}

}  // namespace promptops::registry
