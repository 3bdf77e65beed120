#include "cli/prompt_sync.h"

#include <gtest/gtest.h>

namespace promptops::cli {
namespace {

namespace bj = boost::json;
using registry::PromptFile;

PromptFile ChatFile() {
  auto f = registry::ParsePromptFile(
      "---\nname: 고객지원/봇\ntype: chat\ndescription: d\ntags: [a, b]\nlabels: [production]\n"
      "message: why\nconfig: {model: m, temperature: 0.5}\nmetadata: {owner: x}\n---\n"
      "@system\nHi {{name}}\n\n@@mention\n@placeholder history\n@user\n{{q}}\n");
  EXPECT_TRUE(f.ok()) << f.error().message;
  return *f;
}

TEST(PushBody, CarriesEveryFieldOfTheFile) {
  bj::object body = PushBody(ChatFile(), "fallback");
  EXPECT_EQ(body.at("type"), bj::value("chat"));
  EXPECT_EQ(body.at("prompt"),
            bj::parse(R"([{"role":"system","content":"Hi {{name}}\n\n@mention"},)"
                      R"({"type":"placeholder","name":"history"},)"
                      R"({"role":"user","content":"{{q}}"}])"));
  EXPECT_EQ(body.at("config"), bj::parse(R"({"model":"m","temperature":0.5})"));
  EXPECT_EQ(body.at("metadata"), bj::parse(R"({"owner":"x"})"));
  EXPECT_EQ(body.at("labels"), bj::parse(R"(["production"])"));
  EXPECT_EQ(body.at("tags"), bj::parse(R"(["a","b"])"));
  EXPECT_EQ(body.at("description"), bj::value("d"));
  EXPECT_EQ(body.at("message"), bj::value("why"));
}

TEST(PushBody, UsesTheFallbackMessageWhenTheFileHasNone) {
  PromptFile f;
  f.text = "x";
  bj::object body = PushBody(f, "push from dir");
  EXPECT_EQ(body.at("message"), bj::value("push from dir"));
  EXPECT_EQ(body.at("prompt"), bj::value("x"));
  EXPECT_EQ(body.at("description"), bj::value(""));  // the file is the source of truth
}

TEST(ExportedFile, IsThePushedFileWithoutMessageAndLatest) {
  PromptFile f = ChatFile();
  bj::object push = PushBody(f, "");
  // What GET /api/v1/prompts/{name} answers for the pushed version.
  bj::object version{{"type", "chat"},
                     {"prompt", push.at("prompt")},
                     {"config", push.at("config")},
                     {"metadata", push.at("metadata")},
                     {"labels", bj::array{"latest", "production"}},
                     {"message", "why"}};
  bj::object prompt{
      {"name", f.name}, {"description", "d"}, {"tags", bj::array{"a", "b"}}, {"version", version}};
  auto exported = ExportedFile(prompt);
  ASSERT_TRUE(exported.ok()) << exported.error().message;
  f.message.clear();
  EXPECT_EQ(*exported, f);
  EXPECT_EQ(registry::FormatPromptFile(*exported), registry::FormatPromptFile(f));
}

TEST(ExportedFile, RejectsContentOfTheWrongShape) {
  bj::object prompt{{"name", "p"},
                    {"version", bj::object{{"type", "chat"}, {"prompt", "not an array"}}}};
  EXPECT_EQ(ExportedFile(prompt).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ExportedFile(bj::object{{"name", "p"}}).ok());
}

TEST(BodyText, WritesChatAsEscapedSections) {
  EXPECT_EQ(BodyText(ChatFile()),
            "@system\nHi {{name}}\n\n@@mention\n@placeholder history\n@user\n{{q}}\n");
  PromptFile text;
  text.text = "verbatim\n\n";
  EXPECT_EQ(BodyText(text), "verbatim\n\n");
}

}  // namespace
}  // namespace promptops::cli
