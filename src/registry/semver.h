// Semantic versions (SemVer 2.0 without build metadata) and the compatibility rule that says how
// much a prompt's version number must move between two versions.
//
// Pure value types and functions; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace promptops::registry {

// MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 1.4.0 or 2.0.0-feature-x.2.
struct SemVer {
  int64_t major = 0, minor = 0, patch = 0;
  std::string prerelease;  // dot-separated identifiers without the leading '-'; empty = release

  // Parses "1.2.3" or "1.2.3-pre.1", optionally with a leading 'v' ("v1.2.3"). Numbers are
  // decimal without leading zeros (0 itself is fine) and must fit in int64. Prerelease identifiers
  // are non-empty, of [0-9A-Za-z-], and numeric ones have no leading zeros. Build metadata
  // ("+build") is not supported. Errors: InvalidArgument naming the part that is wrong.
  static Result<SemVer> Parse(std::string_view s);
  // "1.2.3" or "1.2.3-pre.1" (never with 'v'); Parse(ToString()) == *this.
  std::string ToString() const;

  // SemVer 2.0 precedence: numbers compared numerically; a prerelease is lower than the release;
  // prerelease identifiers compared left to right, numeric ones numerically and lower than
  // alphanumeric ones (compared in ASCII order); a shorter identifier list is lower when all of
  // its identifiers are equal. Consistent with ==.
  friend std::strong_ordering operator<=>(const SemVer& a, const SemVer& b);
  friend bool operator==(const SemVer& a, const SemVer& b);
};

// How far a version number moves.
enum class Bump {
  kNone,   // nothing changed
  kPatch,  // same interface, different text or settings
  kMinor,  // callers keep working, something new (a variable, another model)
  kMajor,  // existing callers may break (a variable removed or renamed, the type changed)
};

// "none", "patch", "minor", "major".
std::string_view BumpName(Bump b);

// The next version after v for a bump: major -> (M+1).0.0, minor -> M.(m+1).0,
// patch -> M.m.(p+1), none -> v unchanged. The prerelease is dropped for every bump except kNone.
SemVer Apply(const SemVer& v, Bump b);

// What a prompt version "is" for compatibility purposes.
struct VersionShape {
  std::string type;                    // "text" | "chat"
  std::vector<std::string> variables;  // template variables, sorted unique
  boost::json::object config;          // model, temperature, ...
};

// The differences between two versions A (old) and B (new) and the bump they call for.
struct CompatReport {
  std::vector<std::string> variables_added, variables_removed;  // sorted
  bool type_changed = false;
  // Top-level config keys, sorted. "changed" means present in both with different values.
  std::vector<std::string> config_keys_added, config_keys_removed, config_keys_changed;
  bool model_changed = false;  // config "model" differs (including added or removed)
  Bump bump = Bump::kNone;
  // B can replace A for existing callers: no variable added or removed and the type unchanged.
  bool drop_in = false;
};

// Compares A with B. Rule: a variable removed (a rename is a remove plus an add) or the type
// changed -> kMajor; else a variable added or the config's model changed -> kMinor; else any
// other difference (content_changed, i.e. the template text differs — the caller knows, or any
// config key added, removed or changed) -> kPatch; nothing different -> kNone. The variable lists
// need not be sorted; they are treated as sets.
CompatReport Compare(const VersionShape& a, const VersionShape& b, bool content_changed);

// {"variables_added":[...],"variables_removed":[...],"type_changed":bool,
//  "config_keys_added":[...],"config_keys_removed":[...],"config_keys_changed":[...],
//  "model_changed":bool,"bump":"none|patch|minor|major","drop_in":bool}
boost::json::object ToJson(const CompatReport& r);

}  // namespace promptops::registry
