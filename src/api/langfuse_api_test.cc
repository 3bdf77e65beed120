// The Langfuse-compatible prompt API, in process: requests go through the real Router and
// handlers against a real SQLite store, without sockets. The wire contract (shapes, statuses,
// error bodies) follows Langfuse's public API; see docs/langfuse.md.
#include "api/langfuse_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "governance/api_keys.h"
#include "http/router.h"
#include "registry/registry.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace promptops::api {
namespace {

namespace bj = boost::json;

constexpr char kSecret[] = "sk-lf-test-0123456789abcdefghijklmnopqrstuv";
constexpr char kPublic[] = "pk-admin";

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned int buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 0x3F]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string BasicAuth(std::string_view user, std::string_view password) {
  return "Basic " + Base64(std::string(user) + ":" + std::string(password));
}

struct Reply {
  int status = 0;
  bj::value json;  // null when the body is empty
  http::Response raw;
};

class LangfuseApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::OpenSqliteStore(dir_.path() / "db.sqlite");
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    store_ = std::move(store).value();
    registry_ = std::make_unique<registry::Registry>(*store_, Clock::Real());
    ASSERT_TRUE(registry_->Load().ok());
    keys_ = std::make_unique<governance::ApiKeys>(*store_, Clock::Real());
    ASSERT_TRUE(keys_->Load().ok());
    auto boot = keys_->Bootstrap("default", std::string(kSecret), std::string(kPublic));
    ASSERT_TRUE(boot.ok()) << boot.error().ToString();
    ctx_ = std::make_unique<ApiContext>(ApiContext{*registry_, *keys_});
    AddLangfuseRoutes(router_, *ctx_);
  }

  // Sends a request through the router. `target` is the raw path plus query.
  Reply Call(std::string method, std::string target, std::string body = "",
             std::optional<std::string> auth = BasicAuth(kPublic, kSecret)) {
    http::Request req;
    req.method = std::move(method);
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = target.substr(q + 1);
    if (auth) req.headers.emplace_back("Authorization", *auth);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    Reply r;
    auto match = router_.Find(req);
    if (!match.ok()) {
      r.raw = http::Response::FromError(match.error());
    } else {
      r.raw = (*match->handler)(req);
    }
    r.status = r.raw.status;
    if (!r.raw.body.empty()) r.json = bj::parse(r.raw.body);
    return r;
  }

  // Creates a version through the API and returns the response (asserting 201).
  bj::object Create(const std::string& body_json) {
    Reply r = Call("POST", "/api/public/v2/prompts", body_json);
    EXPECT_EQ(r.status, 201) << r.raw.body;
    return r.json.is_object() ? r.json.as_object() : bj::object();
  }

  static bj::value Labels(const bj::value& prompt) { return prompt.at("labels"); }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<governance::ApiKeys> keys_;
  std::unique_ptr<ApiContext> ctx_;
  http::Router router_;
};

TEST_F(LangfuseApiTest, CreateTextPromptReturns201WithLangfusePromptShape) {
  bj::object p =
      Create(R"({"name":"greeting","prompt":"Hello {{name}}!","config":{"model":"gpt-4o"},
                           "labels":["production"],"tags":["onboarding"],"commitMessage":"first"})");
  EXPECT_EQ(p.at("name"), "greeting");
  EXPECT_EQ(p.at("version"), 1);
  EXPECT_EQ(p.at("type"), "text");
  EXPECT_EQ(p.at("prompt"), "Hello {{name}}!");
  EXPECT_EQ(p.at("config"), bj::parse(R"({"model":"gpt-4o"})"));
  EXPECT_EQ(p.at("labels"), bj::parse(R"(["latest","production"])"));
  EXPECT_EQ(p.at("tags"), bj::parse(R"(["onboarding"])"));
  EXPECT_EQ(p.at("commitMessage"), "first");
  EXPECT_TRUE(p.at("id").is_string());
  EXPECT_TRUE(p.at("projectId").is_string());
  EXPECT_EQ(p.at("createdBy"), kPublic);
  EXPECT_TRUE(p.at("createdAt").is_string());
  EXPECT_TRUE(p.at("updatedAt").is_string());
}

TEST_F(LangfuseApiTest, CreateChatPromptAcceptsSdkMessageTypesAndPlaceholders) {
  // The JS SDK sends "type":"chatmessage" on every message.
  bj::object p = Create(R"({"name":"chat","type":"chat","prompt":[
      {"role":"system","content":"You are {{persona}}.","type":"chatmessage"},
      {"type":"placeholder","name":"history"},
      {"role":"user","content":"{{question}}"}]})");
  EXPECT_EQ(p.at("type"), "chat");
  EXPECT_EQ(p.at("prompt"), bj::parse(R"([
      {"role":"system","content":"You are {{persona}}."},
      {"type":"placeholder","name":"history"},
      {"role":"user","content":"{{question}}"}])"));
  EXPECT_EQ(p.at("config"), bj::object());
  EXPECT_EQ(p.at("commitMessage"), nullptr);
  EXPECT_EQ(p.at("labels"), bj::parse(R"(["latest"])"));
}

TEST_F(LangfuseApiTest, GetDefaultsToProductionLabel) {
  Create(R"({"name":"g","prompt":"v1","labels":["production"]})");
  Create(R"({"name":"g","prompt":"v2"})");
  Reply r = Call("GET", "/api/public/v2/prompts/g");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.json.at("version"), 1);
  EXPECT_EQ(r.json.at("prompt"), "v1");
  EXPECT_EQ(Labels(r.json), bj::parse(R"(["production"])"));
}

TEST_F(LangfuseApiTest, GetWithoutProductionLabelIs404LikeLangfuse) {
  // promptops' own API falls back to "latest"; Langfuse does not.
  Create(R"({"name":"draft","prompt":"x"})");
  Reply r = Call("GET", "/api/public/v2/prompts/draft");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json, bj::parse(R"({"message":"Prompt not found: 'draft' with label 'production'",
                                  "error":"LangfuseNotFoundError"})"));
}

TEST_F(LangfuseApiTest, GetByLabelAndByVersion) {
  Create(R"({"name":"g","prompt":"v1","labels":["production"]})");
  Create(R"({"name":"g","prompt":"v2","labels":["staging"]})");
  struct Case {
    std::string query;
    int want_status;
    std::int64_t want_version;
  };
  const Case cases[] = {
      {"?label=staging", 200, 2},    {"?label=latest", 200, 2},
      {"?label=production", 200, 1}, {"?version=1", 200, 1},
      {"?version=2", 200, 2},        {"?version=3", 404, 0},
      {"?label=nope", 404, 0},       {"?version=abc", 400, 0},
      {"?version=0", 400, 0},        {"?version=1&label=staging", 400, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    Reply r = Call("GET", "/api/public/v2/prompts/g" + c.query);
    EXPECT_EQ(r.status, c.want_status) << r.raw.body;
    if (c.want_status == 200) {
      EXPECT_EQ(r.json.at("version"), c.want_version);
    } else {
      EXPECT_TRUE(r.json.at("message").is_string());
      EXPECT_TRUE(r.json.at("error").is_string());
    }
  }
  Reply missing = Call("GET", "/api/public/v2/prompts/g?version=3");
  EXPECT_EQ(missing.json.at("message"), "Prompt not found: 'g' with version 3");
}

TEST_F(LangfuseApiTest, NamesWithFoldersAndKoreanArePercentEncodedSegments) {
  Create(R"({"name":"support/refund-bot","prompt":"환불: {{order}}","labels":["production"]})");
  Create(R"({"name":"고객지원/환불-봇","prompt":"안녕하세요 {{이름}}","labels":["production"]})");
  Reply folder = Call("GET", "/api/public/v2/prompts/support%2Frefund-bot");
  ASSERT_EQ(folder.status, 200) << folder.raw.body;
  EXPECT_EQ(folder.json.at("name"), "support/refund-bot");
  EXPECT_EQ(folder.json.at("prompt"), "환불: {{order}}");

  // encodeURIComponent("고객지원/환불-봇")
  Reply korean = Call("GET", "/api/public/v2/prompts/" + http::UrlEncode("고객지원/환불-봇"));
  ASSERT_EQ(korean.status, 200) << korean.raw.body;
  EXPECT_EQ(korean.json.at("name"), "고객지원/환불-봇");
  EXPECT_EQ(korean.json.at("prompt"), "안녕하세요 {{이름}}");

  Reply patched = Call("PATCH", "/api/public/v2/prompts/support%2Frefund-bot/versions/1",
                       R"({"newLabels":["staging"]})");
  EXPECT_EQ(patched.status, 200) << patched.raw.body;
}

TEST_F(LangfuseApiTest, UnknownPromptIs404) {
  Reply r = Call("GET", "/api/public/v2/prompts/nope?label=staging");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json, bj::parse(R"({"message":"Prompt not found: 'nope' with label 'staging'",
                                  "error":"LangfuseNotFoundError"})"));
}

TEST_F(LangfuseApiTest, MissingOrWrongCredentialsAre401) {
  struct Case {
    std::string name;
    std::optional<std::string> auth;
  };
  const Case cases[] = {
      {"no header", std::nullopt},
      {"wrong secret", BasicAuth(kPublic, "sk-lf-wrong-0123456789abcdefghijklmnopq")},
      {"unknown public key", BasicAuth("pk-other", kSecret)},
      {"not base64", std::string("Basic !!!")},
      {"no colon", "Basic " + Base64("justonepart")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string requests[][3] = {
        {"GET", "/api/public/v2/prompts/x", ""},
        {"GET", "/api/public/v2/prompts", ""},
        {"POST", "/api/public/v2/prompts", R"({"name":"x","prompt":"y"})"},
        {"PATCH", "/api/public/v2/prompts/x/versions/1", R"({"newLabels":[]})"},
        {"DELETE", "/api/public/v2/prompts/x", ""},
    };
    for (const auto& rq : requests) {
      Reply r = Call(rq[0], rq[1], rq[2], c.auth);
      EXPECT_EQ(r.status, 401) << rq[0] << " " << rq[1];
      EXPECT_EQ(r.json.at("error"), "UnauthorizedError");
      EXPECT_TRUE(r.json.at("message").is_string());
    }
  }
  // Nothing was created by the rejected POSTs.
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts").json.at("meta").at("totalItems"), 0);
}

TEST_F(LangfuseApiTest, ViewerKeyCannotCreate403) {
  auto admin = keys_->AuthenticatePair(kPublic, kSecret);
  ASSERT_TRUE(admin.ok());
  governance::KeyRequest kr;
  kr.role = Role::kViewer;
  kr.name = "reader";
  kr.public_id = "pk-viewer";
  kr.secret = "sk-lf-viewer-0123456789abcdefghijklmnop";
  ASSERT_TRUE(keys_->Create(*admin, kr).ok());
  Reply r = Call("POST", "/api/public/v2/prompts", R"({"name":"x","prompt":"y"})",
                 BasicAuth("pk-viewer", *kr.secret));
  EXPECT_EQ(r.status, 403) << r.raw.body;
  EXPECT_EQ(r.json.at("error"), "ForbiddenError");
  // Reads are fine.
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts", "", BasicAuth("pk-viewer", *kr.secret)).status,
            200);
}

TEST_F(LangfuseApiTest, CreateRejectsBadInputWith400) {
  struct Case {
    std::string name;
    std::string body;
  };
  const Case cases[] = {
      {"malformed JSON", R"({"name":"x",)"},
      {"not an object", R"(["x"])"},
      {"missing name", R"({"prompt":"x"})"},
      {"name not a string", R"({"name":5,"prompt":"x"})"},
      {"missing prompt", R"({"name":"x"})"},
      {"text prompt not a string", R"({"name":"x","prompt":["a"]})"},
      {"chat prompt without type chat",
       R"({"name":"x","prompt":[{"role":"user","content":"hi"}]})"},
      {"chat prompt not an array", R"({"name":"x","type":"chat","prompt":"hi"})"},
      {"chat message without content", R"({"name":"x","type":"chat","prompt":[{"role":"user"}]})"},
      {"unknown message type",
       R"({"name":"x","type":"chat","prompt":[{"type":"image","name":"a"}]})"},
      {"unknown type", R"({"name":"x","type":"audio","prompt":"x"})"},
      {"labels not strings", R"({"name":"x","prompt":"x","labels":[1]})"},
      {"invalid label", R"({"name":"x","prompt":"x","labels":["Prod uction"]})"},
      {"tags not an array", R"({"name":"x","prompt":"x","tags":"a"})"},
      {"config not an object", R"({"name":"x","prompt":"x","config":[1]})"},
      {"invalid name", R"({"name":"a//b","prompt":"x"})"},
      {"bad template", R"({"name":"x","prompt":"{{#open}}"})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r = Call("POST", "/api/public/v2/prompts", c.body);
    EXPECT_EQ(r.status, 400) << r.raw.body;
    ASSERT_TRUE(r.json.is_object()) << r.raw.body;
    EXPECT_EQ(r.json.at("error"), "InvalidRequestError");
    EXPECT_FALSE(r.json.at("message").as_string().empty());
  }
}

TEST_F(LangfuseApiTest, CreatingIdenticalContentReturnsTheExistingVersionAndMovesLabels) {
  Create(R"({"name":"g","prompt":"same"})");
  Reply again = Call("POST", "/api/public/v2/prompts",
                     R"({"name":"g","prompt":"same","labels":["production"]})");
  ASSERT_EQ(again.status, 201);
  EXPECT_EQ(again.json.at("version"), 1);
  EXPECT_EQ(again.raw.Header("x-promptops-version-created"), "false");
  EXPECT_EQ(Labels(again.json), bj::parse(R"(["latest","production"])"));
  Reply changed = Call("POST", "/api/public/v2/prompts", R"({"name":"g","prompt":"different"})");
  EXPECT_EQ(changed.json.at("version"), 2);
  EXPECT_EQ(changed.raw.Header("x-promptops-version-created"), "true");
}

TEST_F(LangfuseApiTest, PatchAddsLabelsAndMovesThemFromOtherVersions) {
  Create(R"({"name":"g","prompt":"v1","labels":["production"]})");
  Create(R"({"name":"g","prompt":"v2"})");
  Reply r = Call("PATCH", "/api/public/v2/prompts/g/versions/2",
                 R"({"newLabels":["production","canary"]})");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.json.at("version"), 2);
  EXPECT_EQ(Labels(r.json), bj::parse(R"(["canary","latest","production"])"));
  EXPECT_EQ(Labels(Call("GET", "/api/public/v2/prompts/g?version=1").json), bj::array());
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts/g").json.at("version"), 2);
}

TEST_F(LangfuseApiTest, PatchErrors) {
  Create(R"({"name":"g","prompt":"v1"})");
  struct Case {
    std::string name;
    std::string target;
    std::string body;
    int want_status;
  };
  const Case cases[] = {
      {"unknown prompt", "/api/public/v2/prompts/nope/versions/1", R"({"newLabels":["a"]})", 404},
      {"unknown version", "/api/public/v2/prompts/g/versions/9", R"({"newLabels":["a"]})", 404},
      {"version not a number", "/api/public/v2/prompts/g/versions/x", R"({"newLabels":["a"]})",
       400},
      {"missing newLabels", "/api/public/v2/prompts/g/versions/1", R"({})", 400},
      {"newLabels not strings", "/api/public/v2/prompts/g/versions/1", R"({"newLabels":[1]})", 400},
      {"latest is reserved", "/api/public/v2/prompts/g/versions/1", R"({"newLabels":["latest"]})",
       400},
      {"malformed JSON", "/api/public/v2/prompts/g/versions/1", R"({"newLabels":)", 400},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r = Call("PATCH", c.target, c.body);
    EXPECT_EQ(r.status, c.want_status) << r.raw.body;
    EXPECT_TRUE(r.json.at("error").is_string());
  }
}

TEST_F(LangfuseApiTest, DeleteRemovesThePromptWith204) {
  Create(R"({"name":"support/old","prompt":"x","labels":["production"]})");
  Reply r = Call("DELETE", "/api/public/v2/prompts/support%2Fold");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.raw.body.empty());
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts/support%2Fold").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/public/v2/prompts/support%2Fold").status, 404);
}

TEST_F(LangfuseApiTest, DeleteOfSingleVersionsIsOnlyHonouredWhenItIsTheWholePrompt) {
  Create(R"({"name":"one","prompt":"x","labels":["staging"]})");
  Create(R"({"name":"two","prompt":"a"})");
  Create(R"({"name":"two","prompt":"b"})");
  EXPECT_EQ(Call("DELETE", "/api/public/v2/prompts/two?version=3").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/public/v2/prompts/two?label=nope").status, 404);
  Reply partial = Call("DELETE", "/api/public/v2/prompts/two?version=1");
  EXPECT_EQ(partial.status, 501);
  EXPECT_EQ(partial.json.at("error"), "NotImplementedError");
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts/two?version=1").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/public/v2/prompts/one?label=staging").status, 204);
  EXPECT_EQ(Call("GET", "/api/public/v2/prompts/one?version=1").status, 404);
}

TEST_F(LangfuseApiTest, ListPaginatesByNameWithLangfuseMeta) {
  for (const char* n : {"a", "b", "c", "d", "e"}) {
    Create(std::string(R"({"name":")") + n + R"(","prompt":"x","tags":["t"]})");
  }
  Create(R"({"name":"c","prompt":"y","labels":["production"],"config":{"temperature":0.2}})");

  Reply page2 = Call("GET", "/api/public/v2/prompts?page=2&limit=2");
  ASSERT_EQ(page2.status, 200) << page2.raw.body;
  EXPECT_EQ(page2.json.at("meta"),
            bj::parse(R"({"page":2,"limit":2,"totalItems":5,"totalPages":3})"));
  const auto& data = page2.json.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("name"), "c");
  EXPECT_EQ(data[0].at("type"), "text");
  EXPECT_EQ(data[0].at("versions"), bj::parse("[1,2]"));
  EXPECT_EQ(data[0].at("labels"), bj::parse(R"(["latest","production"])"));
  EXPECT_EQ(data[0].at("tags"), bj::parse(R"(["t"])"));
  EXPECT_EQ(data[0].at("lastConfig"), bj::parse(R"({"temperature":0.2})"));
  EXPECT_TRUE(data[0].at("lastUpdatedAt").is_string());
  EXPECT_EQ(data[1].at("name"), "d");

  Reply defaults = Call("GET", "/api/public/v2/prompts");
  EXPECT_EQ(defaults.json.at("meta"),
            bj::parse(R"({"page":1,"limit":10,"totalItems":5,"totalPages":1})"));

  Reply beyond = Call("GET", "/api/public/v2/prompts?page=9&limit=2");
  EXPECT_EQ(beyond.json.at("data"), bj::array());
  EXPECT_EQ(beyond.json.at("meta").at("totalItems"), 5);
}

TEST_F(LangfuseApiTest, ListFiltersMatchVersionsLikeLangfuse) {
  Create(R"({"name":"a","prompt":"1","tags":["x"]})");
  Create(R"({"name":"a","prompt":"2","labels":["production"]})");
  Create(R"({"name":"b","prompt":"1","tags":["y"]})");
  struct Case {
    std::string query;
    std::string want_data;  // JSON of [name, versions, labels] per item
  };
  const Case cases[] = {
      {"name=a", R"([["a",[1,2],["latest","production"]]])"},
      {"label=production", R"([["a",[2],["latest","production"]]])"},
      {"tag=y", R"([["b",[1],["latest"]]])"},
      {"version=1", R"([["a",[1],[]],["b",[1],["latest"]]])"},
      {"name=zzz", R"([])"},
      {"fromUpdatedAt=2000-01-01T00:00:00Z",
       R"([["a",[1,2],["latest","production"]],["b",[1],["latest"]]])"},
      {"toUpdatedAt=2000-01-01T00:00:00Z", R"([])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    Reply r = Call("GET", "/api/public/v2/prompts?" + c.query);
    ASSERT_EQ(r.status, 200) << r.raw.body;
    bj::array got;
    for (const auto& item : r.json.at("data").as_array()) {
      got.push_back(bj::array{item.at("name"), item.at("versions"), item.at("labels")});
    }
    EXPECT_EQ(bj::serialize(got), bj::serialize(bj::parse(c.want_data)));
  }
  for (const char* bad : {"page=0", "limit=0", "limit=101", "page=x", "fromUpdatedAt=yesterday"}) {
    SCOPED_TRACE(bad);
    Reply r = Call("GET", std::string("/api/public/v2/prompts?") + bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json.at("error"), "InvalidRequestError");
  }
}

}  // namespace
}  // namespace promptops::api
