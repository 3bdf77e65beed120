#include "registry/semver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/json.h"

namespace promptops::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SemVer, ParsesAndFormats) {
  struct Case {
    const char* in;
    SemVer want;
    const char* formatted;
  } cases[] = {
      {"1.2.3", {1, 2, 3, ""}, "1.2.3"},
      {"v1.2.3", {1, 2, 3, ""}, "1.2.3"},
      {"0.0.0", {0, 0, 0, ""}, "0.0.0"},
      {"10.20.30", {10, 20, 30, ""}, "10.20.30"},
      {"1.2.3-pre.1", {1, 2, 3, "pre.1"}, "1.2.3-pre.1"},
      {"2.0.0-feature-x.2", {2, 0, 0, "feature-x.2"}, "2.0.0-feature-x.2"},
      {"1.0.0-0", {1, 0, 0, "0"}, "1.0.0-0"},
      {"1.0.0-alpha.0a", {1, 0, 0, "alpha.0a"}, "1.0.0-alpha.0a"},
      {"9223372036854775807.0.0", {INT64_MAX, 0, 0, ""}, "9223372036854775807.0.0"},
  };
  for (const auto& c : cases) {
    auto v = SemVer::Parse(c.in);
    ASSERT_TRUE(v.ok()) << c.in << ": " << v.error().message;
    EXPECT_EQ(*v, c.want) << c.in;
    EXPECT_EQ(v->ToString(), c.formatted);
    EXPECT_EQ(*SemVer::Parse(v->ToString()), *v);
  }
}

TEST(SemVer, RejectsMalformed) {
  struct Case {
    const char* in;
    const char* message_part;
  } cases[] = {
      {"", "MAJOR.MINOR.PATCH"},
      {"1.2", "MAJOR.MINOR.PATCH"},
      {"1.2.3.4", "MAJOR.MINOR.PATCH"},
      {"01.2.3", "major '01' has a leading zero"},
      {"1.02.3", "minor '02' has a leading zero"},
      {"1.2.03", "patch '03' has a leading zero"},
      {"1..3", "minor is missing"},
      {"1.x.3", "minor 'x' is not a number"},
      {"-1.2.3", "MAJOR.MINOR.PATCH"},
      {"V1.2.3", "major 'V1' is not a number"},
      {"vv1.2.3", "is not a number"},
      {" 1.2.3", "is not a number"},
      {"1.2.3-", "prerelease after '-' is empty"},
      {"1.2.3-a..b", "empty identifier"},
      {"1.2.3-01", "leading zero"},
      {"1.2.3-a_b", "[0-9A-Za-z-]"},
      {"1.2.3+build", "build metadata"},
      {"9223372036854775808.0.0", "too large"},
  };
  for (const auto& c : cases) {
    auto v = SemVer::Parse(c.in);
    ASSERT_FALSE(v.ok()) << c.in;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(v.error().message, HasSubstr(c.message_part)) << c.in;
  }
}

TEST(SemVer, OrdersBySemVer2Precedence) {
  // The example chain from semver.org section 11, plus numeric-vs-lexical checks.
  const char* ascending[] = {
      "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
      "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
      "1.0.1",        "1.2.0",         "1.10.0",           "2.0.0-0",
      "2.0.0-9",      "2.0.0-10",      "2.0.0-a",          "2.0.0",
      "10.0.0",
  };
  for (std::size_t i = 0; i < std::size(ascending); ++i) {
    for (std::size_t j = 0; j < std::size(ascending); ++j) {
      SemVer a = *SemVer::Parse(ascending[i]), b = *SemVer::Parse(ascending[j]);
      EXPECT_EQ(a <=> b, i <=> j) << ascending[i] << " vs " << ascending[j];
      EXPECT_EQ(a == b, i == j);
    }
  }
  EXPECT_EQ(*SemVer::Parse("v1.0.0"), *SemVer::Parse("1.0.0"));
}

TEST(SemVer, ComparesLongNumericPrereleaseIdentifiersWithoutOverflow) {
  EXPECT_LT(*SemVer::Parse("1.0.0-99999999999999999999"),
            *SemVer::Parse("1.0.0-100000000000000000000"));
}

TEST(Bump, NamesAndApply) {
  EXPECT_EQ(BumpName(Bump::kNone), "none");
  EXPECT_EQ(BumpName(Bump::kPatch), "patch");
  EXPECT_EQ(BumpName(Bump::kMinor), "minor");
  EXPECT_EQ(BumpName(Bump::kMajor), "major");

  SemVer v{1, 4, 7, "rc.1"};
  EXPECT_EQ(Apply(v, Bump::kNone), v);
  EXPECT_EQ(Apply(v, Bump::kPatch), (SemVer{1, 4, 8, ""}));
  EXPECT_EQ(Apply(v, Bump::kMinor), (SemVer{1, 5, 0, ""}));
  EXPECT_EQ(Apply(v, Bump::kMajor), (SemVer{2, 0, 0, ""}));
}

VersionShape Shape(std::string type, std::vector<std::string> vars, std::string_view config) {
  return {std::move(type), std::move(vars), *json::ParseObject(config)};
}

TEST(Compare, BumpRuleTable) {
  struct Case {
    const char* what;
    VersionShape a, b;
    bool content_changed;
    Bump want;
    bool drop_in;
  } cases[] = {
      {"identical", Shape("text", {"x"}, R"({"model":"m1"})"),
       Shape("text", {"x"}, R"({"model":"m1"})"), false, Bump::kNone, true},
      {"text only", Shape("text", {"x"}, R"({"model":"m1"})"),
       Shape("text", {"x"}, R"({"model":"m1"})"), true, Bump::kPatch, true},
      {"temperature changed", Shape("text", {"x"}, R"({"model":"m1","temperature":0.2})"),
       Shape("text", {"x"}, R"({"model":"m1","temperature":0.7})"), false, Bump::kPatch, true},
      {"config key added", Shape("text", {}, R"({})"), Shape("text", {}, R"({"max_tokens":100})"),
       false, Bump::kPatch, true},
      {"model changed", Shape("text", {"x"}, R"({"model":"m1"})"),
       Shape("text", {"x"}, R"({"model":"m2"})"), true, Bump::kMinor, true},
      {"model added", Shape("text", {}, R"({})"), Shape("text", {}, R"({"model":"m1"})"), false,
       Bump::kMinor, true},
      {"variable added", Shape("text", {"x"}, R"({})"), Shape("text", {"x", "y"}, R"({})"), true,
       Bump::kMinor, false},
      {"variable removed", Shape("text", {"x", "y"}, R"({})"), Shape("text", {"x"}, R"({})"), true,
       Bump::kMajor, false},
      {"variable renamed", Shape("text", {"x"}, R"({})"), Shape("text", {"y"}, R"({})"), true,
       Bump::kMajor, false},
      {"type changed", Shape("text", {}, R"({})"), Shape("chat", {}, R"({})"), true, Bump::kMajor,
       false},
      {"removed wins over model", Shape("text", {"x"}, R"({"model":"m1"})"),
       Shape("text", {}, R"({"model":"m2"})"), false, Bump::kMajor, false},
  };
  for (const auto& c : cases) {
    CompatReport r = Compare(c.a, c.b, c.content_changed);
    EXPECT_EQ(r.bump, c.want) << c.what << ": got " << BumpName(r.bump);
    EXPECT_EQ(r.drop_in, c.drop_in) << c.what;
  }
}

TEST(Compare, ListsDifferencesSorted) {
  auto a =
      Shape("text", {"b", "a", "c"}, R"({"model":"m1","temperature":0.2,"stop":["x"],"top_p":1})");
  auto b = Shape("chat", {"d", "a"},
                 R"({"model":"m1","temperature":0.2,"stop":["y"],"max_tokens":5,"seed":1})");
  CompatReport r = Compare(a, b, false);
  EXPECT_THAT(r.variables_added, ElementsAre("d"));
  EXPECT_THAT(r.variables_removed, ElementsAre("b", "c"));
  EXPECT_TRUE(r.type_changed);
  EXPECT_THAT(r.config_keys_added, ElementsAre("max_tokens", "seed"));
  EXPECT_THAT(r.config_keys_removed, ElementsAre("top_p"));
  EXPECT_THAT(r.config_keys_changed, ElementsAre("stop"));
  EXPECT_FALSE(r.model_changed);
  EXPECT_EQ(r.bump, Bump::kMajor);
  EXPECT_FALSE(r.drop_in);
}

TEST(Compare, ToJsonHasEveryKey) {
  CompatReport r = Compare(Shape("text", {"x"}, R"({"model":"m1"})"),
                           Shape("text", {"x", "y"}, R"({"model":"m2"})"), true);
  EXPECT_EQ(json::Serialize(ToJson(r)),
            R"({"variables_added":["y"],"variables_removed":[],"type_changed":false,)"
            R"("config_keys_added":[],"config_keys_removed":[],"config_keys_changed":["model"],)"
            R"("model_changed":true,"bump":"minor","drop_in":false})");
  EXPECT_THAT(Compare(Shape("text", {}, "{}"), Shape("text", {}, "{}"), false).variables_added,
              IsEmpty());
}

}  // namespace
}  // namespace promptops::registry
