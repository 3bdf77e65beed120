#include "cli/output.h"

#include <gtest/gtest.h>

namespace promptops::cli {
namespace {

namespace bj = boost::json;

TEST(DisplayWidth, CountsWideCharactersAsTwoColumns) {
  struct Case {
    const char* text;
    std::size_t width;
  } cases[] = {
      {"", 0},       {"abc", 3},      {"고객지원", 8}, {"a/환불-봇", 9},
      {"日本語", 6}, {"ｆｕｌｌ", 8}, {"e\u0301", 1},  {"\xff", 1},
  };
  for (const auto& c : cases) EXPECT_EQ(DisplayWidth(c.text), c.width) << c.text;
}

TEST(Table, AlignsColumnsByDisplayWidthWithoutTrailingSpaces) {
  Table t({"NAME", "TYPE", "NOTE"});
  t.AddRow({"고객지원/인사", "text", ""});
  t.AddRow({"abc", "chat", "multi\nline"});
  EXPECT_EQ(t.rows(), 2u);
  EXPECT_EQ(t.Render(),
            "NAME           TYPE  NOTE\n"
            "고객지원/인사  text\n"
            "abc            chat  multi line\n");
}

TEST(KeyValues, PadsKeysToTheLongest) {
  EXPECT_EQ(KeyValues({{"a", "1"}, {"long", "2"}, {"empty", ""}}), "a:     1\nlong:  2\nempty:\n");
}

TEST(PrettyJson, IndentsAndKeepsUtf8) {
  bj::value v = bj::parse(R"({"a":[1,{"b":"환불"}],"e":{},"l":[]})");
  EXPECT_EQ(PrettyJson(v),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"환불\"\n    }\n  ],\n  \"e\": {},\n  "
            "\"l\": []\n}\n");
}

TEST(ColorizeDiff, ColoursEachKindOfLine) {
  EXPECT_EQ(ColorizeDiff("--- a\n+++ b\n@@ -1 +1 @@\n ctx\n-old\n+new\n"),
            "\x1b[1m--- a\x1b[0m\n\x1b[1m+++ b\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n ctx\n"
            "\x1b[31m-old\x1b[0m\n\x1b[32m+new\x1b[0m\n");
}

}  // namespace
}  // namespace promptops::cli
