#include "registry/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/json.h"
#include "support/temp_dir.h"

namespace promptops::registry {
namespace {

TEST(UnifiedDiff, TableOfCases) {
  struct Case {
    const char* what;
    std::string a, b;
    int context;
    std::string want;  // without the "--- a\n+++ b\n" header; "" = identical
  } cases[] = {
      {"identical", "x\ny\n", "x\ny\n", 3, ""},
      {"both empty", "", "", 3, ""},
      {"from empty", "", "a\nb\n", 3, "@@ -0,0 +1,2 @@\n+a\n+b\n"},
      {"to empty", "a\n", "", 3, "@@ -1 +0,0 @@\n-a\n"},
      {"one line changed", "a\nb\nc\n", "a\nB\nc\n", 3, "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
      {"context 0", "a\nb\nc\n", "a\nB\nc\n", 0, "@@ -2 +2 @@\n-b\n+B\n"},
      {"insert at start, context 0", "a\n", "z\na\n", 0, "@@ -0,0 +1 @@\n+z\n"},
      {"delete in middle, context 0", "a\nb\nc\n", "a\nc\n", 0, "@@ -2 +1,0 @@\n-b\n"},
      {"korean", "안녕하세요\n고객님\n환불 도와드릴게요\n",
       "안녕하세요\n회원님\n환불 도와드릴게요\n", 1,
       "@@ -1,3 +1,3 @@\n 안녕하세요\n-고객님\n+회원님\n 환불 도와드릴게요\n"},
      {"newline added at end", "a\nb", "a\nb\n", 3,
       "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
      {"newline removed at end", "a\nb\n", "a\nb", 3,
       "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"},
      {"neither ends in newline", "a\nb", "a\nc", 3,
       "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
      {"unchanged last line without newline as context", "a\nb", "A\nb", 3,
       "@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n"},
      {"no trailing newline from empty", "", "x", 3,
       "@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n"},
      {"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n", 1,
       "@@ -1,3 +1,3 @@\n 1\n-2\n+X\n 3\n@@ -8,3 +8,3 @@\n 8\n-9\n+Y\n 10\n"},
      {"close changes merge", "1\n2\n3\n4\n5\n", "1\nX\n3\n4\nY\n", 1,
       "@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n-5\n+Y\n"},
      {"blank lines", "\n\n\n", "\n\nx\n", 3, "@@ -1,3 +1,3 @@\n \n \n-\n+x\n"},
  };
  for (const auto& c : cases) {
    std::string got = UnifiedDiff(c.a, c.b, "a", "b", c.context);
    if (c.want.empty()) {
      EXPECT_EQ(got, "") << c.what;
    } else {
      EXPECT_EQ(got, "--- a\n+++ b\n" + c.want) << c.what;
    }
  }
}

TEST(LineDiff, HunksAndJson) {
  auto hunks = LineDiff("a\nb\n", "a\nc", 3);
  ASSERT_EQ(hunks.size(), 1u);
  EXPECT_EQ(hunks[0].old_start, 1);
  EXPECT_EQ(hunks[0].old_count, 2);
  EXPECT_EQ(hunks[0].new_start, 1);
  EXPECT_EQ(hunks[0].new_count, 2);
  EXPECT_EQ(json::Serialize(HunksToJson(hunks)),
            R"([{"old_start":1,"old_count":2,"new_start":1,"new_count":2,"lines":[)"
            R"({"op":"context","text":"a"},{"op":"remove","text":"b"},)"
            R"({"op":"add","text":"c","no_newline":true}]}])");
  EXPECT_TRUE(LineDiff("same\n", "same\n").empty());
  EXPECT_EQ(json::Serialize(HunksToJson({})), "[]");
}

TEST(LineDiff, NegativeContextCountsAsZero) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nB\nc\n", -5), LineDiff("a\nb\nc\n", "a\nB\nc\n", 0));
}

TEST(LineDiff, LargeInputsStayFast) {
  std::string a, b;
  for (int i = 0; i < 20000; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += (i % 1000 == 7 ? "changed " : "line ") + std::to_string(i) + "\n";
  }
  auto hunks = LineDiff(a, b);
  EXPECT_EQ(hunks.size(), 20u);
}

// Runs GNU diff -u and returns its output without the two header lines.
std::string GnuDiffBody(const testing::TempDir& dir, const std::string& a, const std::string& b,
                        int context) {
  testing::WriteFile(dir.path() / "a", a);
  testing::WriteFile(dir.path() / "b", b);
  std::string cmd = "/usr/bin/diff -U " + std::to_string(context) + " '" + dir.File("a") + "' '" +
                    dir.File("b") + "' > '" + dir.File("out") + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
  std::string out = testing::ReadFile(dir.path() / "out");
  for (int i = 0; i < 2 && !out.empty(); ++i) out.erase(0, out.find('\n') + 1);
  return out;
}

std::string OurBody(const std::string& a, const std::string& b, int context) {
  std::string out = UnifiedDiff(a, b, "a", "b", context);
  for (int i = 0; i < 2 && !out.empty(); ++i) out.erase(0, out.find('\n') + 1);
  return out;
}

TEST(UnifiedDiff, MatchesGnuDiff) {
  if (!std::filesystem::exists("/usr/bin/diff")) GTEST_SKIP() << "no /usr/bin/diff";
  testing::TempDir dir;
  struct Case {
    std::string a, b;
  } cases[] = {
      {"a\nb\nc\n", "a\nB\nc\n"},
      {"", "x\ny\n"},
      {"x\ny\n", ""},
      {"a\nb", "a\nb\n"},
      {"a\nb\n", "a\nb"},
      {"a\nb", "a\nc"},
      {"a\nb", "A\nb"},
      {"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n",
       "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\nY\n15\n16\n"},
      {"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n"},
      {"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\nX\n3\n4\n5\n6\n7\nY\n9\n10\n"},
      {"안녕하세요\n고객님\n환불 도와드릴게요\n감사합니다\n",
       "안녕하세요\n회원님\n환불을 도와드릴게요\n감사합니다\n추가 줄\n"},
      {"You are a helpful assistant.\nAnswer in {{language}}.\nBe brief.\n",
       "You are a helpful support agent.\nAnswer in {{language}}.\nBe brief.\nCite the policy.\n"},
      {"a\nb\nc\nd\ne\nf\ng\n", "a\nc\nd\nx\ny\ne\ng\n"},
      {"first\n", "zero\nfirst\n"},
      {"a\nb\na\n", "a\n"},
      {"a\na\na\n", "a\na\n"},
      {"x\n}\n\ny\n}\n", "x\n}\n\nz\n}\n\ny\n}\n"},
      {"a\nb\nc\n", "c\nb\na\n"},
      {"1\n2\n3\n", "3\n1\n2\n"},
      {"p\nq\nr\ns\nt\nu\nv\nw\n", "p\nq\nr\ns\nt\nu\nv\nw\nz"},
  };
  for (int context : {0, 1, 3}) {
    for (const auto& c : cases) {
      EXPECT_EQ(OurBody(c.a, c.b, context), GnuDiffBody(dir, c.a, c.b, context))
          << "context " << context << "\n--- a:\n"
          << c.a << "\n--- b:\n"
          << c.b;
    }
  }
}

}  // namespace
}  // namespace promptops::registry
