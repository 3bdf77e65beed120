#include "registry/prompt_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "core/json.h"
#include "support/temp_dir.h"

namespace promptops::registry {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

boost::json::object Obj(std::string_view text) { return *json::ParseObject(text); }

PromptFile TextFile(std::string name, std::string text) {
  PromptFile f;
  f.name = std::move(name);
  f.text = std::move(text);
  return f;
}

PromptFile ChatFile(std::string name, std::vector<ChatMessage> messages) {
  PromptFile f;
  f.name = std::move(name);
  f.type = "chat";
  f.messages = std::move(messages);
  return f;
}

std::vector<PromptFile> RoundTripCases() {
  std::vector<PromptFile> cases;
  cases.push_back(TextFile("greeting", "Hello {{name}}!\n"));
  cases.push_back(TextFile("no-trailing-newline", "Hello"));
  cases.push_back(TextFile("many-trailing-newlines", "Hello\n\n\n"));
  cases.push_back(TextFile("trailing-spaces", "  indented\nand trailing   \n  "));
  cases.push_back(TextFile("empty-body", ""));
  cases.push_back(TextFile("dashes", "---\nnot front matter\n---\n--- also not\n"));
  cases.push_back(TextFile("at-lines-in-text", "@user\n@@ stays verbatim in text prompts\n"));
  cases.push_back(TextFile("", "no name at all\n"));
  {
    PromptFile f = TextFile("고객지원/환불-봇", "안녕하세요 {{고객명}}님,\n환불을 도와드릴게요.\n");
    f.description = "환불 문의 응대 봇";
    f.tags = {"고객지원", "환불"};
    f.labels = {"production", "staging"};
    f.message = "첫 버전: 인사말 추가";
    f.metadata = Obj(R"({"담당":"결제팀"})");
    cases.push_back(f);
  }
  {
    PromptFile f = TextFile("support/refund-bot", "Body\n");
    f.config = Obj(R"({"model":"gpt-4o-mini","temperature":0.2,"max_tokens":512,"top_p":1.0,
        "seed":-7,"big":18446744073709551615,"stream":false,"stop":["\n\n","END"],
        "response_format":{"type":"json_schema","schema":{"required":["a"],"nested":{"x":null}}},
        "tiny":1e-300,"huge":1.5e300,"empty_map":{},"empty_list":[],"n":0})");
    f.metadata = Obj(R"({"owner":"payments","ticket":"PAY-12","reviewed":true})");
    cases.push_back(f);
  }
  {
    // Strings that look like other YAML types or need quoting.
    PromptFile f = TextFile("quoting", "x");
    f.description = "true";
    f.message = "123";
    f.tags = {"null",  "~",         "1.5",    "yes",   "no",     "- dash",      "a: b",
              "#hash", "'quote'",   "\"dq\"", " lead", "trail ", "multi\nline", "---",
              "@at",   "tab\there", "{x}",    "[y]",   "*star",  "&amp",        "!bang",
              "%pct",  "|pipe",     ">gt",    "0x1F",  ".inf",   "1e5",         "+1"};
    f.metadata = Obj(R"({"str_true":"true","str_num":"42","str_float":"0.5","str_null":"null",
        "str_empty":"","key with: colon":"v","true":"key looks like bool"})");
    f.config = Obj(R"({"model":"m","neg_zero":-0.0,"int_like_double":3.0,"ten":1e1})");
    cases.push_back(f);
  }
  {
    PromptFile f = TextFile("multi-line-description", "x\n");
    f.description = "Line one\nLine two\n---\nLine four\n";
    cases.push_back(f);
  }
  cases.push_back(
      ChatFile("chat/basic", {{"system", "You are helpful.", ""}, {"user", "{{question}}", ""}}));
  cases.push_back(
      ChatFile("chat/multi-line", {{"system", "Line 1\nLine 2\n\nLine 4", ""},
                                   {"", "", "history"},
                                   {"user", "Q: {{q}}\n", ""},
                                   {"assistant", "\n\nleading and trailing blank lines\n\n", ""},
                                   {"user", "", ""},
                                   {"assistant", "", ""}}));
  cases.push_back(ChatFile("chat/at-escaping",
                           {{"user", "@user is not a marker\n@@double\n@\nplain @ inside", ""},
                            {"assistant", "@system", ""},
                            {"user", "---\n--- inside chat", ""}}));
  cases.push_back(ChatFile("chat/placeholder-last", {{"system", "s", ""}, {"", "", "history"}}));
  cases.push_back(ChatFile("chat/empty", {}));
  {
    PromptFile f = ChatFile(
        "고객지원/채팅", {{"system", "당신은 친절한 상담원입니다.", ""}, {"user", "{{질문}}", ""}});
    f.config = Obj(R"({"model":"claude-3-5-sonnet","temperature":0.7})");
    cases.push_back(f);
  }
  return cases;
}

TEST(PromptFile, RoundTripsExactly) {
  for (const PromptFile& f : RoundTripCases()) {
    std::string text = FormatPromptFile(f);
    auto parsed = ParsePromptFile(text);
    ASSERT_TRUE(parsed.ok()) << f.name << ": " << parsed.error().message << "\n" << text;
    EXPECT_EQ(*parsed, f) << f.name << "\n"
                          << text << "\nconfig: " << json::Serialize(parsed->config)
                          << "\nmetadata: " << json::Serialize(parsed->metadata);
    // Canonical: formatting the parsed file gives the same text.
    EXPECT_EQ(FormatPromptFile(*parsed), text) << f.name;
  }
}

TEST(PromptFile, KeepsIntsAndFloatsApart) {
  PromptFile f = TextFile("n", "");
  f.config = Obj(R"({"a":1,"b":1.0,"c":-2,"d":2.5e-3})");
  auto parsed = ParsePromptFile(FormatPromptFile(f));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->config.at("a").is_int64());
  EXPECT_TRUE(parsed->config.at("b").is_double());
  EXPECT_TRUE(parsed->config.at("c").is_int64());
  EXPECT_TRUE(parsed->config.at("d").is_double());
}

TEST(PromptFile, FormatsKoreanAsUtf8AndKeysInFixedOrder) {
  PromptFile f = TextFile("고객지원/환불-봇", "본문\n");
  f.type = "text";
  f.description = "설명";
  f.tags = {"태그"};
  f.labels = {"production"};
  f.message = "메시지";
  f.config = Obj(R"({"model":"m"})");
  f.metadata = Obj(R"({"k":"값"})");
  std::string text = FormatPromptFile(f);
  EXPECT_EQ(text,
            "---\n"
            "name: 고객지원/환불-봇\n"
            "type: text\n"
            "description: 설명\n"
            "tags:\n  - 태그\n"
            "labels:\n  - production\n"
            "message: 메시지\n"
            "config:\n  model: m\n"
            "metadata:\n  k: 값\n"
            "---\n"
            "본문\n");
}

TEST(PromptFile, FormatsChatBody) {
  PromptFile f = ChatFile(
      "c", {{"system", "Be brief.\n@mention", ""}, {"", "", "history"}, {"user", "{{q}}", ""}});
  EXPECT_EQ(FormatPromptFile(f),
            "---\nname: c\ntype: chat\n---\n"
            "@system\nBe brief.\n@@mention\n"
            "@placeholder history\n"
            "@user\n{{q}}\n");
}

TEST(PromptFile, QuotesStringsOtherYamlReadersWouldRetype) {
  PromptFile f = TextFile("q", "");
  f.tags = {"yes", "off", "0x1F", "1_000", "1:30", "123", "null", "plain"};
  EXPECT_THAT(FormatPromptFile(f),
              HasSubstr("tags:\n  - \"yes\"\n  - \"off\"\n  - \"0x1F\"\n  - \"1_000\"\n"
                        "  - \"1:30\"\n  - \"123\"\n  - \"null\"\n  - plain\n"));
}

TEST(PromptFile, ParsesHandWrittenFile) {
  auto f = ParsePromptFile(
      "---\n"
      "name: support/refund-bot\n"
      "type: chat\n"
      "tags: [support, refunds]\n"
      "config: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 256, stop: ~, json: yes}\n"
      "---\n"
      "\n"
      "@system\n"
      "You are a refund assistant.\n"
      "\n"
      "@placeholder history\n"
      "\n"
      "@user\n"
      "{{question}}");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->name, "support/refund-bot");
  EXPECT_EQ(f->tags, (std::vector<std::string>{"support", "refunds"}));
  EXPECT_EQ(
      json::Serialize(f->config),
      R"({"model":"gpt-4o-mini","temperature":2E-1,"max_tokens":256,"stop":null,"json":"yes"})");
  ASSERT_EQ(f->messages.size(), 3u);
  EXPECT_EQ(f->messages[0], (ChatMessage{"system", "You are a refund assistant.\n", ""}));
  EXPECT_EQ(f->messages[1], (ChatMessage{"", "", "history"}));
  EXPECT_EQ(f->messages[2], (ChatMessage{"user", "{{question}}", ""}));
}

TEST(PromptFile, ClosingDelimiterAtEndOfFileGivesEmptyBody) {
  auto f = ParsePromptFile("---\nname: a\n---");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->text, "");
  auto g = ParsePromptFile("---\n---\nbody");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->name, "");
  EXPECT_EQ(g->type, "text");
  EXPECT_EQ(g->text, "body");
}

TEST(PromptFile, RejectsMalformed) {
  struct Case {
    const char* what;
    std::string content;
    const char* message_part;
  } cases[] = {
      {"no front matter", "hello\n", "line 1: a prompt file must start with a '---' line"},
      {"empty file", "", "line 1: a prompt file must start"},
      {"missing closing", "---\nname: a\nbody\n",
       "line 1: front matter opened here has no closing"},
      {"bad yaml", "---\nname: a\nconfig: {model: [x\n---\n",
       "line 4, column 1: invalid YAML in front matter"},
      {"bad yaml indentation", "---\nname: a\n  type: text\n---\n", "line 3"},
      {"unknown type", "---\nname: a\ntype: completion\n---\n",
       "line 3: unknown type 'completion'"},
      {"config not a mapping", "---\nconfig: 5\n---\n", "line 2: 'config' must be a mapping"},
      {"config a list", "---\nconfig:\n  - a\n---\n", "'config' must be a mapping"},
      {"metadata not a mapping", "---\nmetadata: x\n---\n", "'metadata' must be a mapping"},
      {"front matter not a mapping", "---\n- a\n---\n", "front matter must be a YAML mapping"},
      {"unknown key", "---\nname: a\nmodle: x\n---\n", "line 3: unknown front matter key 'modle'"},
      {"duplicate key", "---\nname: a\nname: b\n---\n", "duplicate"},
      {"duplicate config key", "---\nconfig:\n  a: 1\n  a: 2\n---\n", "duplicate key 'a'"},
      {"invalid name", "---\nname: a//b\n---\n", "line 2: prompt name 'a//b' has an empty folder"},
      {"invalid label", "---\nlabels: [Prod]\n---\n", "^[a-z0-9_.-]{1,36}$"},
      {"tags not a list", "---\ntags: x\n---\n", "'tags' must be a list of strings"},
      {"tags nested", "---\ntags: [[x]]\n---\n", "'tags' must be a list of strings"},
      {"name not a string", "---\nname: [a]\n---\n", "'name' must be a string"},
      {"integer out of range", "---\nconfig: {n: 99999999999999999999999}\n---\n", "out of range"},
      {"invalid utf8", "---\nname: a\n---\n\xff", "not valid UTF-8"},
      {"chat text before marker", "---\ntype: chat\n---\nhello\n@user\nx\n",
       "line 4: text before the first message marker"},
      {"chat unknown marker", "---\ntype: chat\n---\n@user\nhi\n@tool\n",
       "line 6: unknown marker '@tool'"},
      {"chat unescaped at", "---\ntype: chat\n---\n@user\n@someone said\n",
       "line 5: unknown marker '@someone said'"},
      {"chat marker with trailing space", "---\ntype: chat\n---\n@user \n", "unknown marker"},
      {"placeholder without name", "---\ntype: chat\n---\n@placeholder\n", "needs a name"},
      {"placeholder bad name", "---\ntype: chat\n---\n@placeholder a b\n",
       "placeholder name 'a b'"},
      {"placeholder with content", "---\ntype: chat\n---\n@placeholder h\ntext\n@user\nx\n",
       "line 4: a placeholder has no content"},
  };
  for (const auto& c : cases) {
    auto f = ParsePromptFile(c.content);
    ASSERT_FALSE(f.ok()) << c.what;
    EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_THAT(f.error().message, HasSubstr(c.message_part)) << c.what;
  }
}

TEST(PromptDir, WritesAndReadsBackLosslessly) {
  testing::TempDir dir;
  std::vector<PromptFile> files = RoundTripCases();
  std::erase_if(files, [](const PromptFile& f) { return f.name.empty(); });
  ASSERT_TRUE(WritePromptDir(dir.path(), files).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "support" / "refund-bot.prompt"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "고객지원" / "환불-봇.prompt"));

  auto read = ReadPromptDir(dir.path());
  ASSERT_TRUE(read.ok()) << read.error().message;
  std::sort(files.begin(), files.end(),
            [](const PromptFile& a, const PromptFile& b) { return a.name < b.name; });
  EXPECT_EQ(*read, files);
}

TEST(PromptDir, DerivesNameFromPathAndChecksIt) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "support");
  testing::WriteFile(dir.path() / "support" / "refund-bot.prompt", "---\ntype: text\n---\nhi\n");
  testing::WriteFile(dir.path() / "a.prompt", "---\nname: a\n---\nA");
  testing::WriteFile(dir.path() / "notes.md", "not a prompt");
  testing::WriteFile(dir.path() / "b.prompt.tmp-1-2", "ignored temp file");
  auto read = ReadPromptDir(dir.path());
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].name, "a");
  EXPECT_EQ((*read)[1].name, "support/refund-bot");
  EXPECT_EQ((*read)[1].text, "hi\n");

  testing::WriteFile(dir.path() / "support" / "other.prompt", "---\nname: support/else\n---\n");
  auto mismatch = ReadPromptDir(dir.path());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.error().message, StartsWith("support/other.prompt: "));
  EXPECT_THAT(mismatch.error().message, HasSubstr("'support/else' does not match"));
}

TEST(PromptDir, ErrorsNameTheFile) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "x");
  testing::WriteFile(dir.path() / "x" / "bad.prompt", "---\ntype: nope\n---\n");
  auto read = ReadPromptDir(dir.path());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().message,
            "x/bad.prompt: line 2: unknown type 'nope'; expected 'text' or 'chat'");

  testing::TempDir bad_name;
  testing::WriteFile(bad_name.path() / "a b.prompt", "---\n---\n");
  auto r2 = ReadPromptDir(bad_name.path());
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.error().message, StartsWith("a b.prompt: prompt name 'a b' contains a space"));

  auto missing = ReadPromptDir(dir.path() / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(PromptDir, WriteRefusesEscapingAndDuplicateNames) {
  testing::TempDir dir;
  for (const char* name : {"../evil", "/abs", "a/../../b", "", "a\\b"}) {
    Status s = WritePromptDir(dir.path(), {TextFile(name, "x")});
    EXPECT_FALSE(s.ok()) << name;
  }
  Status dup = WritePromptDir(dir.path(), {TextFile("a", "1"), TextFile("a", "2")});
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.error().message, HasSubstr("appears twice"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(PromptDir, WriteReplacesExistingFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePromptDir(dir.path(), {TextFile("a", "old")}).ok());
  ASSERT_TRUE(WritePromptDir(dir.path(), {TextFile("a", "new")}).ok());
  EXPECT_EQ(testing::ReadFile(dir.path() / "a.prompt"), "---\nname: a\ntype: text\n---\nnew");
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);  // no temp files left behind
}

}  // namespace
}  // namespace promptops::registry
