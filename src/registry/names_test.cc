#include "registry/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace promptops::registry {
namespace {

using ::testing::HasSubstr;

TEST(ValidatePromptName, AcceptsValidNames) {
  const char* cases[] = {
      "a",       "refund-bot",       "support/refund-bot", "support/billing/refund_bot.v2",
      "A.B-C_D", "고객지원/환불-봇", "日本語/プロンプト",  "émoji-😀",
      "..a/b..",  // dots inside a segment are fine; only "." and ".." segments are not
      "...",
  };
  for (const char* name : cases) {
    EXPECT_TRUE(ValidatePromptName(name).ok())
        << name << ": " << ValidatePromptName(name).error().message;
  }
  EXPECT_TRUE(ValidatePromptName(std::string(255, 'x')).ok());
}

TEST(ValidatePromptName, RejectsWithPreciseMessages) {
  struct Case {
    std::string name;
    std::string message_part;
  } cases[] = {
      {"", "must not be empty"},
      {"a//b", "prompt name 'a//b' has an empty folder segment"},
      {"/a", "must not start with '/'"},
      {"a/", "must not end with '/'"},
      {"a/./b", "has a '.' segment"},
      {"..", "has a '..' segment"},
      {"a/../b", "has a '..' segment"},
      {".", "has a '.' segment"},
      {"a b", "contains a space"},
      {"a@b", "contains '@'"},
      {"a#b", "contains '#'"},
      {"a:b", "contains ':'"},
      {"a?b", "contains '?'"},
      {"a%b", "contains '%'"},
      {"a\\b", "contains '\\'"},
      {"a\"b", "contains '\"'"},
      {"a+b", "contains '+'"},
      {"a\tb", "control character U+0009"},
      {std::string("a\0b", 3), "control character U+0000"},
      {"a\x7f"
       "b",
       "control character U+007F"},
      {"a\xc2\x85"
       "b",
       "U+0085"},  // NEL
      {"a\xc2\xa0"
       "b",
       "U+00A0"},  // no-break space
      {"a\xe1\x9a\x80"
       "b",
       "U+1680"},  // ogham space mark
      {"a\xe2\x80\x8b"
       "b",
       "U+200B"},  // zero-width space
      {"a\xe2\x80\x8f"
       "b",
       "U+200F"},  // RTL mark
      {"a\xe2\x80\xa8"
       "b",
       "U+2028"},  // line separator
      {"a\xe2\x80\xaf"
       "b",
       "U+202F"},  // narrow no-break space
      {"a\xe2\x81\xa0"
       "b",
       "U+2060"},  // word joiner
      {"a\xe3\x80\x80"
       "b",
       "U+3000"},  // ideographic space
      {"\xef\xbb\xbf"
       "a",
       "U+FEFF"},  // BOM
      {"a\xff", "not valid UTF-8"},
      {"a\xc0\xaf", "not valid UTF-8"},  // overlong '/'
      {std::string(256, 'x'), "is 256 bytes long; the maximum is 255"},
  };
  for (const auto& c : cases) {
    Status s = ValidatePromptName(c.name);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(s.error().message, HasSubstr(c.message_part)) << c.name;
  }
}

TEST(ValidatePromptName, LengthCountsBytesNotCodePoints) {
  // 85 Hangul syllables = 255 bytes; 86 = 258 bytes.
  std::string ok, too_long;
  for (int i = 0; i < 85; ++i) ok += "봇";
  too_long = ok + "봇";
  EXPECT_TRUE(ValidatePromptName(ok).ok());
  EXPECT_FALSE(ValidatePromptName(too_long).ok());
}

TEST(ValidateLabel, FollowsRule) {
  for (const char* ok : {"production", "staging", "v2.1-rc_1", "0", "a"}) {
    EXPECT_TRUE(ValidateLabel(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateLabel(std::string(36, 'a')).ok());
  for (std::string bad :
       {std::string(""), std::string(37, 'a'), std::string("Prod"), std::string("a b"),
        std::string("a/b"), std::string("a@b"), std::string("라벨")}) {
    Status s = ValidateLabel(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.error().message, HasSubstr("^[a-z0-9_.-]{1,36}$"));
  }
}

TEST(ValidateBranchName, FollowsRule) {
  for (const char* ok : {"main", "feature-x", "0day", "a.b_c-d"}) {
    EXPECT_TRUE(ValidateBranchName(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateBranchName(std::string(63, 'b')).ok());
  for (std::string bad :
       {std::string(""), std::string(64, 'b'), std::string("-x"), std::string(".x"),
        std::string("_x"), std::string("Main"), std::string("a/b"), std::string("a b")}) {
    Status s = ValidateBranchName(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.error().message, HasSubstr("^[a-z0-9][a-z0-9_.-]{0,62}$"));
  }
}

TEST(ParsePromptRef, ParsesTheThreeForms) {
  struct Case {
    const char* ref;
    PromptRef want;
  } cases[] = {
      {"support/refund-bot", {"support/refund-bot", std::nullopt, std::nullopt}},
      {"support/refund-bot@production", {"support/refund-bot", "production", std::nullopt}},
      {"support/refund-bot#12", {"support/refund-bot", std::nullopt, 12}},
      {"고객지원/환불-봇@staging", {"고객지원/환불-봇", "staging", std::nullopt}},
      {"a#9223372036854775807", {"a", std::nullopt, INT64_MAX}},
  };
  for (const auto& c : cases) {
    auto r = ParsePromptRef(c.ref);
    ASSERT_TRUE(r.ok()) << c.ref << ": " << r.error().message;
    EXPECT_EQ(*r, c.want) << c.ref;
  }
}

TEST(ParsePromptRef, RejectsMalformed) {
  struct Case {
    const char* ref;
    const char* message_part;
  } cases[] = {
      {"a@prod#3", "both '@' (label) and '#' (version)"},
      {"a#3@prod", "both '@' (label) and '#' (version)"},
      {"a@b@c", "more than one '@'"},
      {"a#1#2", "more than one '#'"},
      {"a@", "empty label"},
      {"a#", "empty version"},
      {"a#0", "positive integer"},
      {"a#-1", "positive integer"},
      {"a#+1", "positive integer"},
      {"a#01", "positive integer"},
      {"a#1.5", "positive integer"},
      {"a#x", "positive integer"},
      {"a#9223372036854775808", "positive integer"},
      {"a@Prod", "^[a-z0-9_.-]{1,36}$"},
      {"@prod", "must not be empty"},
      {"a//b@prod", "empty folder segment"},
      {"", "must not be empty"},
  };
  for (const auto& c : cases) {
    auto r = ParsePromptRef(c.ref);
    ASSERT_FALSE(r.ok()) << c.ref;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message, HasSubstr(c.message_part)) << c.ref;
  }
}

}  // namespace
}  // namespace promptops::registry
