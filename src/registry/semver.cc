#include "registry/semver.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace promptops::registry {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a MAJOR/MINOR/PATCH number: digits, no leading zero, fits in int64.
Result<int64_t> ParseNumber(std::string_view text, std::string_view part, std::string_view whole) {
  auto fail = [&](std::string why) {
    return Error::InvalidArgument("version '" + std::string(whole) + "': " + std::string(part) +
                                  " " + why);
  };
  if (text.empty()) return fail("is missing");
  if (!AllDigits(text)) return fail("'" + std::string(text) + "' is not a number");
  if (text.size() > 1 && text[0] == '0') {
    return fail("'" + std::string(text) + "' has a leading zero");
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return fail("is too large");
  return v;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// Compares two digit strings without leading zeros numerically (no overflow).
std::strong_ordering CompareNumeric(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() <=> b.size();
  int c = a.compare(b);
  return c <=> 0;
}

std::strong_ordering ComparePrerelease(std::string_view a, std::string_view b) {
  if (a == b) return std::strong_ordering::equal;
  if (a.empty()) return std::strong_ordering::greater;  // release > prerelease
  if (b.empty()) return std::strong_ordering::less;
  auto ia = Split(a, '.'), ib = Split(b, '.');
  for (std::size_t i = 0; i < ia.size() && i < ib.size(); ++i) {
    bool na = AllDigits(ia[i]), nb = AllDigits(ib[i]);
    std::strong_ordering c = std::strong_ordering::equal;
    if (na && nb) {
      c = CompareNumeric(ia[i], ib[i]);
    } else if (na != nb) {
      c = na ? std::strong_ordering::less : std::strong_ordering::greater;
    } else {
      c = ia[i].compare(ib[i]) <=> 0;
    }
    if (c != 0) return c;
  }
  return ia.size() <=> ib.size();
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

boost::json::array ToArray(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

Result<SemVer> SemVer::Parse(std::string_view s) {
  const std::string_view whole = s;
  if (!s.empty() && s[0] == 'v') s.remove_prefix(1);
  if (s.find('+') != std::string_view::npos) {
    return Error::InvalidArgument("version '" + std::string(whole) +
                                  "': build metadata ('+...') is not supported");
  }
  std::string_view core = s, pre;
  bool has_pre = false;
  if (std::size_t dash = s.find('-'); dash != std::string_view::npos) {
    core = s.substr(0, dash);
    pre = s.substr(dash + 1);
    has_pre = true;
  }
  auto parts = Split(core, '.');
  if (parts.size() != 3) {
    return Error::InvalidArgument("version '" + std::string(whole) +
                                  "' must have the form MAJOR.MINOR.PATCH[-PRERELEASE]");
  }
  SemVer v;
  PO_ASSIGN_OR_RETURN(v.major, ParseNumber(parts[0], "major", whole));
  PO_ASSIGN_OR_RETURN(v.minor, ParseNumber(parts[1], "minor", whole));
  PO_ASSIGN_OR_RETURN(v.patch, ParseNumber(parts[2], "patch", whole));
  if (has_pre) {
    if (pre.empty()) {
      return Error::InvalidArgument("version '" + std::string(whole) +
                                    "': prerelease after '-' is empty");
    }
    for (std::string_view id : Split(pre, '.')) {
      if (id.empty()) {
        return Error::InvalidArgument("version '" + std::string(whole) +
                                      "': prerelease has an empty identifier");
      }
      for (char c : id) {
        bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!ok) {
          return Error::InvalidArgument("version '" + std::string(whole) +
                                        "': prerelease identifier '" + std::string(id) +
                                        "' may contain only [0-9A-Za-z-]");
        }
      }
      if (AllDigits(id) && id.size() > 1 && id[0] == '0') {
        return Error::InvalidArgument("version '" + std::string(whole) +
                                      "': numeric prerelease identifier '" + std::string(id) +
                                      "' has a leading zero");
      }
    }
    v.prerelease = std::string(pre);
  }
  return v;
}

std::string SemVer::ToString() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty()) s += "-" + prerelease;
  return s;
}

std::strong_ordering operator<=>(const SemVer& a, const SemVer& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  return ComparePrerelease(a.prerelease, b.prerelease);
}

bool operator==(const SemVer& a, const SemVer& b) {
  return a.major == b.major && a.minor == b.minor && a.patch == b.patch &&
         a.prerelease == b.prerelease;
}

std::string_view BumpName(Bump b) {
  switch (b) {
    case Bump::kNone:
      return "none";
    case Bump::kPatch:
      return "patch";
    case Bump::kMinor:
      return "minor";
    case Bump::kMajor:
      return "major";
  }
  return "none";
}

SemVer Apply(const SemVer& v, Bump b) {
  switch (b) {
    case Bump::kNone:
      return v;
    case Bump::kPatch:
      return {v.major, v.minor, v.patch + 1, ""};
    case Bump::kMinor:
      return {v.major, v.minor + 1, 0, ""};
    case Bump::kMajor:
      return {v.major + 1, 0, 0, ""};
  }
  return v;
}

CompatReport Compare(const VersionShape& a, const VersionShape& b, bool content_changed) {
  CompatReport r;
  auto va = SortedUnique(a.variables), vb = SortedUnique(b.variables);
  std::set_difference(vb.begin(), vb.end(), va.begin(), va.end(),
                      std::back_inserter(r.variables_added));
  std::set_difference(va.begin(), va.end(), vb.begin(), vb.end(),
                      std::back_inserter(r.variables_removed));
  r.type_changed = a.type != b.type;

  for (const auto& kv : b.config) {
    auto* old = a.config.if_contains(kv.key());
    if (old == nullptr) {
      r.config_keys_added.emplace_back(kv.key());
    } else if (*old != kv.value()) {
      r.config_keys_changed.emplace_back(kv.key());
    }
  }
  for (const auto& kv : a.config) {
    if (!b.config.contains(kv.key())) r.config_keys_removed.emplace_back(kv.key());
  }
  std::sort(r.config_keys_added.begin(), r.config_keys_added.end());
  std::sort(r.config_keys_removed.begin(), r.config_keys_removed.end());
  std::sort(r.config_keys_changed.begin(), r.config_keys_changed.end());

  const auto* ma = a.config.if_contains("model");
  const auto* mb = b.config.if_contains("model");
  r.model_changed = (ma == nullptr) != (mb == nullptr) || (ma != nullptr && *ma != *mb);

  bool config_changed = !r.config_keys_added.empty() || !r.config_keys_removed.empty() ||
                        !r.config_keys_changed.empty();
  if (!r.variables_removed.empty() || r.type_changed) {
    r.bump = Bump::kMajor;
  } else if (!r.variables_added.empty() || r.model_changed) {
    r.bump = Bump::kMinor;
  } else if (content_changed || config_changed) {
    r.bump = Bump::kPatch;
  }
  r.drop_in = r.variables_added.empty() && r.variables_removed.empty() && !r.type_changed;
  return r;
}

boost::json::object ToJson(const CompatReport& r) {
  boost::json::object o;
  o["variables_added"] = ToArray(r.variables_added);
  o["variables_removed"] = ToArray(r.variables_removed);
  o["type_changed"] = r.type_changed;
  o["config_keys_added"] = ToArray(r.config_keys_added);
  o["config_keys_removed"] = ToArray(r.config_keys_removed);
  o["config_keys_changed"] = ToArray(r.config_keys_changed);
  o["model_changed"] = r.model_changed;
  o["bump"] = BumpName(r.bump);
  o["drop_in"] = r.drop_in;
  return o;
}

}  // namespace promptops::registry
