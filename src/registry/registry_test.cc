// Registry service behaviour against a real SQLite store in a temporary directory.
#include "registry/registry.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "support/temp_dir.h"

namespace promptops::registry {
namespace {

namespace bj = boost::json;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    reg_ = std::make_unique<Registry>(*store_, clock_);
    ASSERT_TRUE(reg_->Load().ok());
  }

  PushResult MustPush(std::string name, bj::value content, bj::object config = {},
                      std::vector<std::string> labels = {}, std::string branch = "main") {
    auto r = Push(std::move(name), std::move(content), std::move(config), std::move(labels),
                  std::move(branch));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return std::move(r).value();
  }
  Result<PushResult> Push(std::string name, bj::value content, bj::object config = {},
                          std::vector<std::string> labels = {}, std::string branch = "main",
                          const Actor* actor = nullptr) {
    PushRequest req;
    req.name = std::move(name);
    req.content = std::move(content);
    req.config = std::move(config);
    req.labels = std::move(labels);
    req.branch = std::move(branch);
    req.message = "test";
    clock_.Advance(std::chrono::milliseconds(10));
    return reg_->Push(actor ? *actor : editor_, std::move(req));
  }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Registry> reg_;
  Actor admin_{1, "pk-admin", Role::kAdmin};
  Actor editor_{1, "pk-editor", Role::kEditor};
  Actor viewer_{1, "pk-viewer", Role::kViewer};

  void SetUpProject() {}
};

// Projects are referenced by foreign key; create project 1 for every test.
class Reg : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    ASSERT_TRUE(store_
                    ->Write([](store::Tx& tx) -> Status {
                      auto p = tx.projects().Create("default", 0);
                      return p.ok() ? OkStatus() : p.error();
                    })
                    .ok());
  }
};

TEST_F(Reg, PushCreatesImmutableNumberedVersionsWithHashAndVariables) {
  auto r1 = MustPush("greet", "Hello {{name}}");
  EXPECT_TRUE(r1.created);
  EXPECT_TRUE(r1.prompt_created);
  EXPECT_EQ(r1.version->number, 1);
  EXPECT_EQ(r1.version->semver, "1.0.0");
  EXPECT_EQ(r1.version->content.variables, std::vector<std::string>{"name"});
  EXPECT_EQ(r1.version->content_hash.size(), 64u);
  auto r2 = MustPush("greet", "Hi {{name}}");
  EXPECT_EQ(r2.version->number, 2);
  EXPECT_EQ(*r2.version->parent, 1);
  // The first version is unchanged in the new snapshot.
  EXPECT_EQ(r2.prompt->ByNumber(1)->content.canonical.as_string(), "Hello {{name}}");
}

TEST_F(Reg, IdenticalPushIsANoOpReturningTheHead) {
  MustPush("greet", "Hello {{name}}", bj::object{{"model", "m"}, {"temperature", 0}});
  // Same content and config in another key order: still identical.
  auto again = MustPush("greet", "Hello {{name}}", bj::object{{"temperature", 0}, {"model", "m"}});
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.version->number, 1);
  EXPECT_EQ(again.prompt->versions.size(), 1u);
}

TEST_F(Reg, SemverFollowsWhatChanged) {
  struct Case {
    const char* content;
    bj::object config;
    const char* semver;
  } cases[] = {
      {"Hello {{name}}", {{"model", "a"}}, "1.0.0"},
      {"Hello there {{name}}", {{"model", "a"}}, "1.0.1"},                      // text only: patch
      {"Hello there {{name}}", {{"model", "a"}, {"temperature", 1}}, "1.0.2"},  // config: patch
      {"Hello {{name}} from {{city}}", {{"model", "a"}, {"temperature", 1}}, "1.1.0"},  // +var
      {"Hello {{name}} from {{city}}", {{"model", "b"}, {"temperature", 1}}, "1.2.0"},  // model
      {"Hello {{city}}", {{"model", "b"}, {"temperature", 1}}, "2.0.0"},  // -var: major
  };
  for (const auto& c : cases) {
    auto r = MustPush("p", c.content, c.config);
    EXPECT_EQ(r.version->semver, c.semver) << c.content;
  }
  // The type changing (text -> chat) is major.
  auto chat = MustPush("p", bj::array{bj::object{{"role", "user"}, {"content", "{{city}}"}}},
                       bj::object{{"model", "b"}, {"temperature", 1}});
  EXPECT_EQ(chat.version->semver, "3.0.0");
}

TEST_F(Reg, ExplicitSemverMustBeGreater) {
  MustPush("p", "a");
  PushRequest req;
  req.name = "p";
  req.content = "b";
  req.semver = "0.9.0";
  auto r = reg_->Push(editor_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  req.semver = "5.0.0";
  auto ok = reg_->Push(editor_, req);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->version->semver, "5.0.0");
}

TEST_F(Reg, InvalidInputIsRejectedAndChangesNothing) {
  struct Case {
    std::string name;
    bj::value content;
    ErrorCode code;
  } cases[] = {
      {"bad name", "x", ErrorCode::kInvalidArgument},
      {"a//b", "x", ErrorCode::kInvalidArgument},
      {"ok", "{{#open}}never closed", ErrorCode::kInvalidArgument},
      {"ok", 42, ErrorCode::kInvalidArgument},
      {"ok", bj::array{bj::object{{"role", "wizard"}, {"content", "x"}}},
       ErrorCode::kInvalidArgument},
      {"ok", bj::array{}, ErrorCode::kInvalidArgument},
      {"ok", "{{> missing-partial}}", ErrorCode::kNotFound},
  };
  for (auto& c : cases) {
    auto r = Push(c.name, c.content);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.code) << r.error().ToString();
  }
  EXPECT_EQ(reg_->List(editor_, {}).total, 0u);
  auto syntax = Push("ok", "line1\nline2\n  {{#open}}");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().message.find("line 3"), std::string::npos) << syntax.error().message;
}

TEST_F(Reg, ViewersCannotWriteAndProtectedLabelsNeedAdmin) {
  auto r = Push("p", "x", {}, {}, "main", &viewer_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  MustPush("p", "v1");
  MustPush("p", "v2");
  ASSERT_TRUE(reg_->SetLabel(admin_, "p", "production", 1, "first", true).ok());
  auto denied = reg_->SetLabel(editor_, "p", "production", 2, "try");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(reg_->SetLabel(admin_, "p", "production", 2, "ok").ok());
  EXPECT_FALSE(reg_->Delete(editor_, "p").ok());
}

TEST_F(Reg, LabelsMoveWithHistoryAndRollbackReturnsToThePreviousTarget) {
  MustPush("p", "v1", {}, {"production"});
  MustPush("p", "v2");
  MustPush("p", "v3");
  auto snap = reg_->snapshot();
  EXPECT_EQ(snap->Find(1, "p")->ByLabel("latest")->number, 3);
  ASSERT_TRUE(reg_->SetLabel(editor_, "p", "production", 3, "release 3").ok());
  auto back = reg_->Rollback(editor_, "p", "production", std::nullopt, "bad answers");
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->to, 1);
  EXPECT_EQ(*back->from, 3);
  EXPECT_EQ(reg_->snapshot()->Find(1, "p")->ByLabel("production")->number, 1);
  auto history = reg_->LabelHistory(editor_, "p", std::string("production"));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[2].reason, "rollback: bad answers");
  EXPECT_EQ((*history)[2].actor, "pk-editor");
  // Rollback to a named version; unknown versions and 'latest' are refused.
  EXPECT_EQ(reg_->Rollback(editor_, "p", "production", 2, "")->to, 2);
  EXPECT_EQ(reg_->SetLabel(editor_, "p", "production", 9, "").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reg_->SetLabel(editor_, "p", "latest", 1, "").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg_->SetLabel(editor_, "p", "Bad Label", 1, "").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg_->Rollback(editor_, "p", "staging", std::nullopt, "").error().code,
            ErrorCode::kNotFound);
}

TEST_F(Reg, RollbackWithoutEarlierTargetFails) {
  MustPush("p", "v1", {}, {"production"});
  auto r = reg_->Rollback(editor_, "p", "production", std::nullopt, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(Reg, BranchesCarryPrereleaseSemverAndMergeIntoMain) {
  MustPush("p", "Hello {{name}}");
  ASSERT_TRUE(reg_->CreateBranch(editor_, "p", "exp", std::nullopt).ok());
  auto b1 = MustPush("p", "Hello {{name}} and {{friend}}", {}, {}, "exp");
  EXPECT_EQ(b1.version->branch, "exp");
  EXPECT_EQ(b1.version->semver, "1.1.0-exp.1");
  EXPECT_EQ(*b1.version->parent, 1);
  auto b2 = MustPush("p", "Hi {{name}} and {{friend}}", {}, {}, "exp");
  EXPECT_EQ(b2.version->semver, "1.1.0-exp.2");
  // main's head is unchanged by branch pushes.
  EXPECT_EQ(reg_->snapshot()->Find(1, "p")->Latest()->number, 1);
  auto merged = reg_->Merge(editor_, "p", "exp", false, "");
  ASSERT_TRUE(merged.ok()) << merged.error().ToString();
  EXPECT_EQ(merged->version->branch, "main");
  EXPECT_EQ(merged->version->number, 4);
  EXPECT_EQ(*merged->version->merged_from, 3);
  EXPECT_EQ(merged->version->semver, "1.1.0");
  EXPECT_EQ(merged->version->content.canonical.as_string(), "Hi {{name}} and {{friend}}");
}

TEST_F(Reg, MergeIsRefusedWhenMainMovedUnlessForced) {
  MustPush("p", "one");
  ASSERT_TRUE(reg_->CreateBranch(editor_, "p", "exp", std::nullopt).ok());
  MustPush("p", "branch work", {}, {}, "exp");
  MustPush("p", "main moved");
  auto refused = reg_->Merge(editor_, "p", "exp", false, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  auto forced = reg_->Merge(editor_, "p", "exp", true, "forced");
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->version->content.canonical.as_string(), "branch work");
  EXPECT_EQ(reg_->Merge(editor_, "p", "nope", false, "").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Push("p", "x", {}, {}, "nope").error().code, ErrorCode::kNotFound);
}

TEST_F(Reg, PartialsComposeAndCyclesAreRefusedAtSaveTime) {
  MustPush("shared/tone", "Be kind.", {}, {"production"});
  MustPush("bot", "Intro. {{> shared/tone}} Ask {{q}}");
  auto r = reg_->Render(editor_, "bot", {}, bj::object{{"q", "why"}}, true);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->rendered.as_string(), "Intro. Be kind. Ask why");
  // shared/tone including bot would close a cycle.
  auto cycle = Push("shared/tone", "Be kind. {{> bot}}");
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(cycle.error().message.find("cycle"), std::string::npos) << cycle.error().message;
  auto self = Push("self", "{{> self}}");
  ASSERT_FALSE(self.ok());
  // Depth: a chain of 7 prompts exceeds the limit of 5.
  MustPush("d0", "end");
  for (int i = 1; i <= 5; ++i) {
    MustPush("d" + std::to_string(i), bj::string("{{> d" + std::to_string(i - 1) + "}}"));
  }
  auto deep = Push("d6", "{{> d5}}");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message.find("deeper"), std::string::npos) << deep.error().message;
  // Label and version references.
  MustPush("shared/tone", "Be brief.");
  MustPush("pinned", "{{> shared/tone#2}} / {{> shared/tone@production}}");
  EXPECT_EQ(reg_->Render(editor_, "pinned", {}, {}, true)->rendered.as_string(),
            "Be brief. / Be kind.");
}

TEST_F(Reg, StrictRenderListsEveryMissingVariableAcrossChatMessages) {
  bj::array chat{bj::object{{"role", "system"}, {"content", "You help {{company}}."}},
                 bj::object{{"type", "placeholder"}, {"name", "history"}},
                 bj::object{{"role", "user"}, {"content", "{{question}} ({{lang}})"}}};
  MustPush("chat", chat);
  auto r = reg_->Render(editor_, "chat", {}, bj::object{{"company", "Acme"}}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "missing variables: history, lang, question");
  bj::object vars{{"company", "에이크미"},
                  {"question", "환불되나요?"},
                  {"lang", "ko"},
                  {"history", bj::array{bj::object{{"role", "user"}, {"content", "hi"}}}}};
  auto ok = reg_->Render(editor_, "chat", {}, vars, true);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  const auto& msgs = ok->rendered.as_array();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].at("content").as_string(), "You help 에이크미.");
  EXPECT_EQ(msgs[1].at("content").as_string(), "hi");
  EXPECT_EQ(msgs[2].at("content").as_string(), "환불되나요? (ko)");
  // Lenient mode renders missing names empty.
  auto lenient = reg_->Render(editor_, "chat", {}, bj::object{}, false);
  ASSERT_TRUE(lenient.ok());
  EXPECT_EQ(lenient->rendered.as_array()[0].at("content").as_string(), "You help .");
}

TEST_F(Reg, SelectorsResolveLabelsNumbersBranchesAndDefaultToProductionThenLatest) {
  MustPush("p", "v1");
  MustPush("p", "v2");
  auto p = *reg_->Get(editor_, "p");
  EXPECT_EQ((*reg_->Resolve(*p, {}))->number, 2);  // no production: latest
  ASSERT_TRUE(reg_->SetLabel(editor_, "p", "production", 1, "").ok());
  p = *reg_->Get(editor_, "p");
  EXPECT_EQ((*reg_->Resolve(*p, {}))->number, 1);
  Selector s;
  s.number = 7;
  EXPECT_EQ(reg_->Resolve(*p, s).error().code, ErrorCode::kNotFound);
}

TEST_F(Reg, ListFiltersByFolderTagAndLabelWithPagination) {
  PushRequest req;
  for (const char* n : {"support/a", "support/b", "support/deep/c", "sales/x", "고객지원/인사"}) {
    req = {};
    req.name = n;
    req.content = "x";
    req.tags = std::vector<std::string>{std::string(n).substr(0, 5)};
    ASSERT_TRUE(reg_->Push(editor_, req).ok());
  }
  ListFilter f;
  f.folder = "support";
  EXPECT_EQ(reg_->List(editor_, f).total, 3u);
  f = {};
  f.limit = 2;
  f.offset = 1;
  auto page = reg_->List(editor_, f);
  EXPECT_EQ(page.total, 5u);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0]->name, "support/a");
  f = {};
  f.folder = "고객지원";
  EXPECT_EQ(reg_->List(editor_, f).total, 1u);
  f = {};
  f.label = "production";
  EXPECT_EQ(reg_->List(editor_, f).total, 0u);
}

TEST_F(Reg, SnapshotSurvivesReloadFromTheStore) {
  MustPush("p", "v1", {}, {"production"});
  MustPush("p", "v2");
  Registry fresh(*store_, clock_);
  ASSERT_TRUE(fresh.Load().ok());
  const PromptView* p = fresh.snapshot()->Find(1, "p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->versions.size(), 2u);
  EXPECT_EQ(p->ByLabel("production")->number, 1);
}

TEST_F(Reg, ConcurrentPushesGetDistinctNumbersAndLoseNothing) {
  constexpr int kThreads = 8, kEach = 15;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::int64_t> numbers;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        PushRequest req;
        req.name = "race";
        req.content = "thread " + std::to_string(t) + " push " + std::to_string(i);
        auto r = reg_->Push(editor_, req);
        if (!r.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        EXPECT_TRUE(numbers.insert(r->version->number).second) << "duplicate number";
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(numbers.size(), static_cast<std::size_t>(kThreads * kEach));
  const PromptView* p = reg_->snapshot()->Find(1, "race");
  ASSERT_EQ(p->versions.size(), static_cast<std::size_t>(kThreads * kEach));
  Registry fresh(*store_, clock_);
  ASSERT_TRUE(fresh.Load().ok());
  EXPECT_EQ(fresh.snapshot()->Find(1, "race")->versions.size(), p->versions.size());
}

TEST_F(Reg, ChangelogListsVersionsAndLabelMovesNewestFirst) {
  MustPush("p", "v1", {}, {"production"});
  MustPush("p", "v2 {{x}}");
  clock_.Advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(reg_->SetLabel(editor_, "p", "production", 2, "ship").ok());
  auto log = reg_->Changelog(editor_, "p");
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].kind, "label");
  EXPECT_EQ((*log)[0].text, "production: 1 -> 2 (ship)");
  EXPECT_EQ((*log)[1].kind, "version");
  EXPECT_EQ((*log)[1].semver, "1.1.0");
}

TEST_F(Reg, DeleteRemovesThePromptAndItsHistory) {
  MustPush("p", "v1", {}, {"production"});
  ASSERT_TRUE(reg_->Delete(admin_, "p").ok());
  EXPECT_EQ(reg_->Get(editor_, "p").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reg_->Delete(admin_, "p").error().code, ErrorCode::kNotFound);
  // The name can be used again, starting from version 1.
  EXPECT_EQ(MustPush("p", "again").version->number, 1);
}

}  // namespace
}  // namespace promptops::registry
