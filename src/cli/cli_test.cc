// End-to-end tests of the CLI client commands: a real `promptops serve` on port 0 with a fresh
// data directory, and the CLI run as a subprocess against it, checking stdout, stderr and the
// exit code exactly as a user or a script sees them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <map>
#include <regex>

#include "core/json.h"
#include "registry/prompt_file.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace promptops::cli {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;
using promptops::testing::ProcessResult;
using promptops::testing::ReadFile;
using promptops::testing::ServerProcess;
using promptops::testing::TempDir;
using promptops::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminKey[] = "po-testadminkey0123456789abcdefghijklmnopq";

// Every file below dir: relative path -> content.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = ReadFile(e.path());
  }
  return out;
}

// Replaces RFC 3339 timestamps with "TIME" so output can be compared exactly.
std::string WithoutTimes(const std::string& s) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  return std::regex_replace(s, kTime, "TIME");
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (promptops::testing::PromptopsBinary().empty()) GTEST_SKIP() << "PROMPTOPS_BINARY not set";
    ServerProcess::Options o;
    o.data_dir = data_.path() / "data";
    o.admin_key = kAdminKey;
    auto s = ServerProcess::Start(o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(s).value();
  }

  // Runs `promptops ARGS` against the test server with the admin key (or `key`).
  ProcessResult Cli(std::vector<std::string> args, std::string key = kAdminKey) {
    return CliAt(server_->url(), std::move(args), std::move(key));
  }
  ProcessResult CliAt(const std::string& url, std::vector<std::string> args,
                      std::string key = kAdminKey) {
    args.insert(args.begin(), promptops::testing::PromptopsBinary());
    promptops::testing::ProcessOptions o;
    o.set_env = {{"PROMPTOPS_URL", url}, {"PROMPTOPS_KEY", key}, {"NO_COLOR", "1"}};
    return promptops::testing::RunProcess(args, o);
  }
  // Runs a command that must succeed and returns its stdout.
  std::string Ok(std::vector<std::string> args) {
    ProcessResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
    return r.out;
  }
  // Runs a command with -o json that must succeed and returns its parsed stdout.
  bj::value OkJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    std::string out = Ok(args);
    auto v = json::Parse(out);
    EXPECT_TRUE(v.ok()) << out;
    return v.ok() ? *v : bj::value();
  }
  std::int64_t VersionCount(const std::string& name) {
    return OkJson({"prompt", "get", name}).as_object().at("versions").as_int64();
  }

  TempDir data_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTest, CreateGetAndListInTableAndJson) {
  EXPECT_EQ(
      Ok({"prompt", "create", "support/refund-bot", "--type", "text", "--text", "Hello {{name}}",
          "--label", "staging", "--tag", "support", "--tag", "refunds", "--description",
          "Refund helper", "--config", R"({"model":"gpt-4o-mini"})", "-m", "first"}),
      "created support/refund-bot v1 (1.0.0)\n");

  std::string get = Ok({"prompt", "get", "support/refund-bot"});
  EXPECT_THAT(get, HasSubstr("name:        support/refund-bot\n"));
  EXPECT_THAT(get, HasSubstr("version:     1 (1.0.0) on main\n"));
  EXPECT_THAT(get, HasSubstr("labels:      latest, staging\n"));
  EXPECT_THAT(get, HasSubstr("tags:        support, refunds\n"));
  EXPECT_THAT(get, HasSubstr("config:      {\"model\":\"gpt-4o-mini\"}\n"));
  EXPECT_THAT(get, HasSubstr("message:     first\n\nHello {{name}}\n"));

  bj::value j = OkJson({"prompt", "get", "support/refund-bot", "--label", "staging"});
  EXPECT_EQ(j.at("version").at("prompt"), bj::value("Hello {{name}}"));
  EXPECT_EQ(j.at("description"), bj::value("Refund helper"));

  Ok({"prompt", "create", "greeting", "--type", "chat", "--text",
      "@system\nBe brief.\n@user\n{{q}}"});
  EXPECT_EQ(WithoutTimes(Ok({"prompt", "list"})),
            "NAME                TYPE  LATEST      VERSIONS  LABELS      TAGS             UPDATED\n"
            "greeting            chat  v1 (1.0.0)  1         -           -                TIME\n"
            "support/refund-bot  text  v1 (1.0.0)  1         staging=v1  support,refunds  TIME\n");
  bj::value lj = OkJson({"prompt", "list", "--tag", "support"});
  EXPECT_EQ(lj.at("total"), bj::value(1));
  EXPECT_EQ(lj.at("data").at(0).at("name"), bj::value("support/refund-bot"));
  EXPECT_EQ(OkJson({"prompt", "list", "--folder", "support"}).at("total"), bj::value(1));

  std::string chat = Ok({"prompt", "get", "greeting"});
  EXPECT_THAT(chat, HasSubstr("\n@system\nBe brief.\n@user\n{{q}}\n"));
}

TEST_F(CliTest, CreateFromPromptFile) {
  WriteFile(data_.path() / "bot.prompt",
            "---\ntype: chat\ndescription: From a file\nconfig: {temperature: 0.5}\n---\n"
            "@system\nYou help with {{topic}}.\n@placeholder history\n@user\n{{q}}\n");
  Ok({"prompt", "create", "bot", "--file", (data_.path() / "bot.prompt").string()});
  bj::value j = OkJson({"prompt", "get", "bot"});
  EXPECT_EQ(j.at("type"), bj::value("chat"));
  EXPECT_EQ(j.at("description"), bj::value("From a file"));
  EXPECT_EQ(j.at("version").at("config").at("temperature"), bj::value(0.5));
  EXPECT_EQ(j.at("version").at("prompt").as_array().size(), 3u);

  ProcessResult mismatch = Cli({"prompt", "create", "bot2", "--type", "text", "--file",
                                (data_.path() / "bot.prompt").string()});
  EXPECT_EQ(mismatch.exit_code, 2);
  EXPECT_THAT(mismatch.err, HasSubstr("does not match"));
}

TEST_F(CliTest, PushingADirectoryTwiceCreatesNothingTheSecondTime) {
  fs::path dir = data_.path() / "prompts";
  WriteFile(dir / "a.prompt", "---\ntype: text\n---\nA {{x}}\n");
  WriteFile(dir / "team/b.prompt", "---\ntype: chat\nlabels: [production]\n---\n@user\nB\n");

  std::string first = Ok({"prompt", "push", dir.string(), "-m", "initial"});
  EXPECT_EQ(first,
            "STATUS   PROMPT  VERSION     DETAIL\n"
            "created  a       v1 (1.0.0)  new prompt\n"
            "created  team/b  v1 (1.0.0)  new prompt\n"
            "2 prompt files: 2 created, 0 unchanged, 0 failed\n");
  std::string second = Ok({"prompt", "push", dir.string()});
  EXPECT_EQ(second,
            "STATUS     PROMPT  VERSION     DETAIL\n"
            "unchanged  a       v1 (1.0.0)\n"
            "unchanged  team/b  v1 (1.0.0)\n"
            "2 prompt files: 0 created, 2 unchanged, 0 failed\n");
  EXPECT_EQ(OkJson({"prompt", "get", "a"}).at("version").at("message"), bj::value("initial"));
  EXPECT_EQ(
      OkJson({"prompt", "get", "team/b", "--label", "production"}).at("version").at("version"),
      bj::value(1));

  // A change creates exactly one version; --dry-run reports it without pushing.
  WriteFile(dir / "a.prompt", "---\ntype: text\n---\nA {{x}} {{y}}\n");
  bj::value dry = OkJson({"prompt", "push", dir.string(), "--dry-run"});
  EXPECT_EQ(dry.at("results").at(0).at("status"), bj::value("new version"));
  EXPECT_EQ(dry.at("results").at(1).at("status"), bj::value("unchanged"));
  EXPECT_EQ(VersionCount("a"), 1);
  bj::value pushed = OkJson({"prompt", "push", dir.string()});
  EXPECT_EQ(pushed.at("created"), bj::value(1));
  EXPECT_EQ(pushed.at("results").at(0).at("semver"), bj::value("1.1.0"));
  EXPECT_EQ(OkJson({"prompt", "get", "a"}).at("version").at("message"),
            bj::value("push from " + dir.string()));
}

TEST_F(CliTest, PushReportsEveryFailureAndContinues) {
  fs::path dir = data_.path() / "prompts";
  WriteFile(dir / "good.prompt", "---\ntype: text\n---\nfine\n");
  WriteFile(dir / "bad.prompt", "---\ntype: text\n---\nbroken {{#open}}\n");
  WriteFile(dir / "zgood.prompt", "---\ntype: text\n---\nalso fine\n");
  ProcessResult r = Cli({"prompt", "push", dir.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.out, HasSubstr("failed   bad"));
  EXPECT_THAT(r.out, HasSubstr("created  good"));
  EXPECT_THAT(r.out, HasSubstr("created  zgood"));
  EXPECT_THAT(r.out, HasSubstr("3 prompt files: 2 created, 0 unchanged, 1 failed\n"));
  EXPECT_THAT(r.err, HasSubstr("promptops: 1 of 3 prompt files failed"));
}

TEST_F(CliTest, PushExportPushIsLosslessAndCreatesNoVersions) {
  fs::path src = data_.path() / "src";
  // Canonical files (as FormatPromptFile writes them), so the export must reproduce them
  // byte for byte, minus the message.
  std::map<std::string, std::string> files = {
      {"support/refund-bot.prompt",
       "---\nname: support/refund-bot\ntype: text\ndescription: Drafts a reply\ntags:\n  - "
       "support\n"
       "  - refunds\nlabels:\n  - production\n  - staging\nconfig:\n  model: gpt-4o-mini\n"
       "  temperature: 0.2\n  max_tokens: 400\n  top_p: 1.0\n  stream: false\n  stop:\n    - "
       "\"\\n\\n\"\n"
       "metadata:\n  owner: payments\n  reviewed: \"yes\"\n  nested:\n    a: 1\n---\n"
       "You are a support agent for {{company}}.\nA customer asks: {{question}}\n\n\n"},
      {"고객지원/환불-봇.prompt",
       "---\nname: 고객지원/환불-봇\ntype: chat\ndescription: 환불 문의 응대\nconfig:\n"
       "  model: claude-3-5-sonnet\n  temperature: 0.7\n---\n@system\n당신은 {{회사}}의 친절한 "
       "상담원입니다.\n\n"
       "@@멘션 은 무시하세요.\n@placeholder history\n@user\n{{질문}}\n"},
      {"plain.prompt", "---\nname: plain\ntype: text\n---\nno trailing newline"},
  };
  for (const auto& [path, content] : files) WriteFile(src / path, content);
  // Sanity: the fixtures are canonical.
  for (const auto& [path, content] : files) {
    auto parsed = registry::ParsePromptFile(content);
    ASSERT_TRUE(parsed.ok()) << path << ": " << parsed.error().message;
    ASSERT_EQ(registry::FormatPromptFile(*parsed), content) << path;
  }
  // With a message in a file: export leaves it out.
  WriteFile(src / "plain.prompt",
            "---\nname: plain\ntype: text\nmessage: first import\n---\nno trailing newline");

  Ok({"prompt", "push", src.string()});
  const std::int64_t versions =
      VersionCount("support/refund-bot") + VersionCount("고객지원/환불-봇") + VersionCount("plain");
  EXPECT_EQ(versions, 3);

  fs::path out1 = data_.path() / "out1";
  Ok({"prompt", "export", out1.string()});
  auto exported = Snapshot(out1);
  ASSERT_EQ(exported.size(), files.size());
  for (const auto& [path, content] : files) {
    auto want = registry::ParsePromptFile(content);
    auto got = registry::ParsePromptFile(exported[path]);
    ASSERT_TRUE(got.ok()) << path;
    EXPECT_EQ(*got, *want) << path << ":\n" << exported[path];
  }
  // Byte for byte too, except that metadata comes back with its keys sorted (the server
  // stores metadata canonically; config keeps its order).
  EXPECT_EQ(exported["plain.prompt"], files["plain.prompt"]);
  EXPECT_EQ(exported["고객지원/환불-봇.prompt"], files["고객지원/환불-봇.prompt"]);
  EXPECT_THAT(
      exported["support/refund-bot.prompt"],
      HasSubstr("metadata:\n  nested:\n    a: 1\n  owner: payments\n  reviewed: \"yes\"\n---\n"));

  // Re-pushing the export creates nothing; exporting again is byte-identical.
  bj::value again = OkJson({"prompt", "push", out1.string()});
  EXPECT_EQ(again.at("created"), bj::value(0));
  EXPECT_EQ(again.at("unchanged"), bj::value(3));
  EXPECT_EQ(
      VersionCount("support/refund-bot") + VersionCount("고객지원/환불-봇") + VersionCount("plain"),
      versions);
  fs::path out2 = data_.path() / "out2";
  Ok({"prompt", "export", out2.string()});
  EXPECT_EQ(Snapshot(out2), exported);

  // --label exports only prompts with that label, at the labelled version.
  fs::path prod = data_.path() / "prod";
  Ok({"prompt", "export", prod.string(), "--label", "production"});
  auto prod_files = Snapshot(prod);
  ASSERT_EQ(prod_files.size(), 1u);
  EXPECT_EQ(prod_files.begin()->first, "support/refund-bot.prompt");
}

TEST_F(CliTest, KoreanNamesAndContent) {
  Ok({"prompt", "create", "고객지원/인사", "--type", "text", "--text", "안녕하세요 {{이름}}님!"});
  EXPECT_EQ(Ok({"prompt", "render", "고객지원/인사", "--var", "이름=민수"}), "안녕하세요 민수님!");
  EXPECT_THAT(Ok({"prompt", "get", "고객지원/인사"}), HasSubstr("variables: 이름\n"));
  EXPECT_EQ(OkJson({"prompt", "get", "고객지원/인사"}).at("name"), bj::value("고객지원/인사"));
  // Columns stay aligned with wide characters: the Korean name is 13 columns wide.
  Ok({"prompt", "create", "abc", "--text", "x"});
  std::string list = Ok({"prompt", "list"});
  EXPECT_THAT(list, HasSubstr("\nabc            text"));
  EXPECT_THAT(list, HasSubstr("\n고객지원/인사  text"));
}

TEST_F(CliTest, LabelRollbackAndHistory) {
  Ok({"prompt", "create", "p", "--text", "one"});
  fs::path f = data_.path() / "p.prompt";
  WriteFile(f, "---\ntype: text\n---\ntwo");
  ProcessResult push2 = Cli({"prompt", "push", data_.path().string()});
  ASSERT_EQ(push2.exit_code, 0) << push2.err;

  EXPECT_EQ(Ok({"prompt", "label", "p", "production", "1", "--reason", "initial"}),
            "production: set to v1\n");
  EXPECT_EQ(Ok({"prompt", "label", "p", "production", "2"}), "production: v1 -> v2\n");
  EXPECT_EQ(Ok({"prompt", "rollback", "p", "production", "--reason", "bad answers"}),
            "rolled back production: v2 -> v1\n");
  EXPECT_EQ(OkJson({"prompt", "get", "p", "--label", "production"}).at("version").at("version"),
            bj::value(1));

  std::string history = Ok({"prompt", "history", "p", "--label", "production"});
  EXPECT_THAT(history, HasSubstr("production  v2    v1  pk-admin  rollback: bad answers\n"));
  EXPECT_THAT(history, HasSubstr("production  -     v1  pk-admin  initial\n"));

  EXPECT_EQ(Ok({"prompt", "label", "p", "production", "--protect"}),
            "production: v1 -> v1 (protected)\n");
  EXPECT_THAT(Ok({"prompt", "label", "p"}), HasSubstr("production  v1 (1.0.0)  yes"));
  EXPECT_EQ(Ok({"prompt", "label", "p", "staging", "2"}), "staging: set to v2\n");
  EXPECT_EQ(Ok({"prompt", "label", "p", "staging", "--delete"}), "deleted label staging of p\n");
  EXPECT_EQ(Cli({"prompt", "get", "p", "--label", "staging"}).exit_code, 5);
}

TEST_F(CliTest, DiffPrintsUnifiedDiff) {
  Ok({"prompt", "create", "d", "--text", "line one\nline two\n"});
  WriteFile(data_.path() / "d.prompt",
            "---\ntype: text\nconfig: {model: gpt-4o}\n---\nline one\nline 2\n");
  Ok({"prompt", "push", data_.path().string()});
  EXPECT_EQ(Ok({"prompt", "diff", "d", "1", "2"}),
            "--- d#1\n+++ d#2\n@@ -1,2 +1,2 @@\n line one\n-line two\n+line 2\n"
            "--- d#1 config\n+++ d#2 config\n@@ -0,0 +1 @@\n+model: \"gpt-4o\"\n");
  EXPECT_EQ(Ok({"prompt", "diff", "d", "latest", "latest"}), "");
  bj::value j = OkJson({"prompt", "diff", "d", "1", "latest"});
  EXPECT_EQ(j.at("identical"), bj::value(false));
  EXPECT_EQ(j.at("to"), bj::value(2));
  EXPECT_EQ(Cli({"prompt", "diff", "d", "1", "9"}).exit_code, 5);
}

TEST_F(CliTest, CompatExitsZeroUnlessDropInIsRequired) {
  Ok({"prompt", "create", "c", "--text", "Hi {{name}}"});
  fs::path dir = data_.path() / "c";
  WriteFile(dir / "c.prompt", "---\ntype: text\n---\nHello {{name}}");
  Ok({"prompt", "push", dir.string()});
  WriteFile(dir / "c.prompt", "---\ntype: text\n---\nHello {{name}} from {{city}}");
  Ok({"prompt", "push", dir.string()});

  ProcessResult drop_in = Cli({"prompt", "compat", "c", "1", "2", "--require-drop-in"});
  EXPECT_EQ(drop_in.exit_code, 0);
  EXPECT_EQ(drop_in.out,
            "c: v1 (1.0.0) -> v2 (1.0.1)\nno variable, type or config changes\nbump: "
            "patch\ndrop-in: yes\n");

  ProcessResult breaking = Cli({"prompt", "compat", "c", "2", "3"});
  EXPECT_EQ(breaking.exit_code, 0);
  EXPECT_EQ(breaking.out,
            "c: v2 (1.0.1) -> v3 (1.1.0)\nCHANGE           DETAIL\nvariables added  city\nbump: "
            "minor\ndrop-in: no\n");
  EXPECT_EQ(Cli({"prompt", "compat", "c", "2", "3", "--require-drop-in"}).exit_code, 1);
  ProcessResult json = Cli({"prompt", "compat", "c", "2", "3", "--require-drop-in", "-o", "json"});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_EQ(json::Parse(json.out)->at("drop_in"), bj::value(false));
}

TEST_F(CliTest, RenderWithVariables) {
  Ok({"prompt", "create", "r", "--text", "Dear {{name}}, re: {{topic}}"});
  EXPECT_EQ(Ok({"prompt", "render", "r", "--var", "name=Ada", "--var", "topic=a=b"}),
            "Dear Ada, re: a=b");
  WriteFile(data_.path() / "vars.json", R"({"name":"Bob","topic":"refunds"})");
  EXPECT_EQ(Ok({"prompt", "render", "r", "--vars-file", (data_.path() / "vars.json").string(),
                "--var", "name=Cy"}),
            "Dear Cy, re: refunds");
  ProcessResult missing = Cli({"prompt", "render", "r", "--var", "name=Ada"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("topic"));
  EXPECT_EQ(Ok({"prompt", "render", "r", "--var", "name=Ada", "--lenient"}), "Dear Ada, re: ");
  EXPECT_EQ(Cli({"prompt", "render", "r", "--var", "novalue"}).exit_code, 2);

  Ok({"prompt", "create", "chat", "--type", "chat", "--text",
      "@system\nYou are {{role}}.\n@placeholder history\n@user\n{{q}}"});
  WriteFile(
      data_.path() / "chat.json",
      R"({"role":"kind","q":"why?","history":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]})");
  EXPECT_EQ(Ok({"prompt", "render", "chat", "--vars-file", (data_.path() / "chat.json").string()}),
            "@system\nYou are kind.\n@user\nhi\n@assistant\nhello\n@user\nwhy?\n");
  bj::value j =
      OkJson({"prompt", "render", "chat", "--vars-file", (data_.path() / "chat.json").string()});
  EXPECT_EQ(j.at("messages").as_array().size(), 4u);
}

TEST_F(CliTest, BranchMergeAndLog) {
  Ok({"prompt", "create", "b", "--text", "v1 {{x}}", "-m", "start"});
  EXPECT_EQ(Ok({"prompt", "branch", "b", "exp"}), "created branch exp of b from v1\n");
  EXPECT_THAT(Ok({"prompt", "branch", "b"}), HasSubstr("\nexp     -           v1    pk-admin"));
  fs::path dir = data_.path() / "exp";
  WriteFile(dir / "b.prompt", "---\ntype: text\n---\nv2 {{x}}");
  EXPECT_THAT(Ok({"prompt", "push", dir.string(), "--branch", "exp", "-m", "try"}),
              HasSubstr("created  b       v2 (1.0.1-exp.1)"));
  EXPECT_EQ(OkJson({"prompt", "get", "b"}).at("version").at("version"), bj::value(1));
  EXPECT_EQ(OkJson({"prompt", "get", "b", "--branch", "exp"}).at("version").at("version"),
            bj::value(2));
  EXPECT_EQ(Cli({"prompt", "merge", "b", "nope"}).exit_code, 5);
  EXPECT_EQ(Ok({"prompt", "merge", "b", "exp", "-m", "ship it"}),
            "merged exp into main: v3 (1.0.1)\n");
  std::string log = Ok({"prompt", "log", "b"});
  EXPECT_EQ(WithoutTimes(log),
            "* v3 1.0.1 (main) [latest] merge of v2 ship it — pk-admin TIME\n"
            "| * v2 1.0.1-exp.1 (exp) parent v1 try — pk-admin TIME\n"
            "* v1 1.0.0 (main) start — pk-admin TIME\n");
  // A merge after main moved needs --force (conflict: exit 6).
  Ok({"prompt", "branch", "b", "exp2"});
  WriteFile(dir / "b.prompt", "---\ntype: text\n---\nv4 {{x}}");
  Ok({"prompt", "push", dir.string(), "--branch", "exp2"});
  WriteFile(dir / "b.prompt", "---\ntype: text\n---\nv5 {{x}}");
  Ok({"prompt", "push", dir.string()});
  ProcessResult conflict = Cli({"prompt", "merge", "b", "exp2"});
  EXPECT_EQ(conflict.exit_code, 6) << conflict.err;
  EXPECT_THAT(Ok({"prompt", "merge", "b", "exp2", "--force"}), HasSubstr("merged exp2 into main"));
  EXPECT_THAT(Ok({"prompt", "changelog", "b"}), HasSubstr("# Changelog: b"));
  EXPECT_GE(OkJson({"prompt", "changelog", "b"}).at("data").as_array().size(), 2u);
}

TEST_F(CliTest, KeysAndRoles) {
  bj::value created = OkJson({"key", "create", "--role", "viewer", "--name", "ro"});
  std::string secret(created.at("secret").as_string());
  std::string id(created.at("id").as_string());
  ProcessResult who = Cli({"whoami"}, secret);
  EXPECT_EQ(who.exit_code, 0);
  EXPECT_THAT(who.out, HasSubstr("role:    viewer\n"));
  EXPECT_THAT(who.out, Not(HasSubstr(secret)));

  ProcessResult denied = Cli({"prompt", "create", "x", "--text", "y"}, secret);
  EXPECT_EQ(denied.exit_code, 4);
  EXPECT_THAT(denied.err, HasSubstr("promptops: "));

  EXPECT_THAT(Ok({"key", "list"}), HasSubstr(id));
  EXPECT_EQ(Ok({"key", "revoke", id}), "revoked key " + id + "\n");
  EXPECT_EQ(Cli({"whoami"}, secret).exit_code, 3);

  ProcessResult table = Cli({"key", "create", "--role", "editor"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr("secret: po-"));
  EXPECT_THAT(table.err, HasSubstr("shown only once"));
}

TEST_F(CliTest, ErrorsMapToExitCodes) {
  const std::string wrong = "po-wrongwrongwrongwrongwrongwrongwrongwron";
  ProcessResult unauth = Cli({"prompt", "list"}, wrong);
  EXPECT_EQ(unauth.exit_code, 3);
  EXPECT_THAT(unauth.err, HasSubstr("promptops: "));
  EXPECT_THAT(unauth.err + unauth.out, Not(HasSubstr(wrong)));

  ProcessResult missing = Cli({"prompt", "get", "no/such-prompt"});
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_THAT(missing.err, HasSubstr("promptops: "));
  EXPECT_THAT(missing.err, HasSubstr("no/such-prompt"));

  Ok({"prompt", "create", "dup", "--text", "x"});
  EXPECT_EQ(Cli({"prompt", "create", "dup", "--text", "x"}).exit_code, 7);

  EXPECT_EQ(Cli({"prompt", "get"}).exit_code, 2);
  EXPECT_EQ(Cli({"prompt", "list", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Cli({"prompt", "list", "-o", "yaml"}).exit_code, 2);
  EXPECT_EQ(Cli({"prompt", "get", "dup", "--label", "x", "--version", "1"}).exit_code, 2);
  EXPECT_EQ(Cli({"prompt", "create", "bad name", "--text", "x"}).exit_code, 2);
  ProcessResult no_template = Cli({"prompt", "create", "x"});
  EXPECT_EQ(no_template.exit_code, 2);
  EXPECT_THAT(no_template.err, HasSubstr("--file FILE or --text TEXT"));
  EXPECT_EQ(Cli({"prompt", "create", "x", "--text", "x", "--config", "[1]"}).exit_code, 2);
  ProcessResult no_yes = Cli({"prompt", "delete", "dup"});
  EXPECT_EQ(no_yes.exit_code, 2);
  EXPECT_THAT(no_yes.err, HasSubstr("--yes"));
  EXPECT_EQ(Ok({"prompt", "delete", "dup", "--yes"}), "deleted prompt dup\n");
  EXPECT_EQ(Cli({"prompt", "get", "dup"}).exit_code, 5);

  std::string url = server_->url();
  server_->Stop();
  ProcessResult down = CliAt(url, {"prompt", "list"});
  EXPECT_EQ(down.exit_code, 12);
  EXPECT_THAT(down.err, HasSubstr("promptops: "));
  EXPECT_THAT(down.err, HasSubstr(url));
  EXPECT_THAT(down.err, Not(HasSubstr(kAdminKey)));
}

TEST_F(CliTest, HelpListsCommandsAndExamples) {
  ProcessResult help = Cli({"prompt", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd :
       {"create", "push", "export", "get", "list", "log", "diff", "compat", "label", "rollback",
        "render", "branch", "merge", "changelog", "delete", "history"}) {
    EXPECT_THAT(help.out, HasSubstr(cmd));
  }
  ProcessResult push = Cli({"prompt", "push", "--help"});
  EXPECT_EQ(push.exit_code, 0);
  EXPECT_THAT(push.out, HasSubstr("Example"));
  EXPECT_THAT(push.out, HasSubstr("--server"));
  EXPECT_THAT(push.out, HasSubstr("PROMPTOPS_KEY"));
}

}  // namespace
}  // namespace promptops::cli
