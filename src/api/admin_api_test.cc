// The admin REST API through a real HTTP server on port 0 (in-process), with real SQLite.
#include "api/admin_api.h"

#include <gtest/gtest.h>

#include "core/json.h"
#include "http/client.h"
#include "http/server.h"
#include "support/temp_dir.h"

namespace promptops::api {
namespace {

namespace bj = boost::json;

constexpr const char* kSecret = "po-admin-secret-for-tests-0123456789";

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    registry_ = std::make_unique<registry::Registry>(*store_, Clock::Real());
    ASSERT_TRUE(registry_->Load().ok());
    keys_ = std::make_unique<governance::ApiKeys>(*store_, Clock::Real());
    ASSERT_TRUE(keys_->Bootstrap("default", std::string(kSecret), std::nullopt).ok());
    ctx_ = std::make_unique<ApiContext>(ApiContext{*registry_, *keys_, "test", &ready_});
    auto router = std::make_shared<http::Router>();
    AddHealthRoutes(*router, *ctx_);
    AddAdminRoutes(*router, *ctx_);
    http::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.max_body_bytes = 64 * 1024;
    server_ = std::make_unique<http::Server>(o, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { server_->Stop(); }

  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const std::string& body = "", const std::string& key = kSecret,
                            std::string content_type = "application/json") {
    http::Headers h;
    if (!key.empty()) h.emplace_back("Authorization", "Bearer " + key);
    if (!body.empty()) h.emplace_back("Content-Type", content_type);
    auto r = http::Fetch(method, base_ + path, h, body);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  static bj::value Json(const http::ClientResponse& r) {
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : bj::value();
  }
  static std::string ErrorCodeOf(const http::ClientResponse& r) {
    auto v = json::Parse(r.body);
    if (!v.ok() || !v->is_object() || !v->as_object().contains("error")) return "<no error body>";
    return std::string(v->at("error").at("code").as_string());
  }
  std::string CreateKey(const std::string& role) {
    auto r = Call("POST", "/api/v1/keys", R"({"role":")" + role + R"(","name":"t"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(Json(r).at("secret").as_string());
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<governance::ApiKeys> keys_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

TEST_F(AdminApiTest, HealthAndReadiness) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
  ready_ = false;
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 503);
}

TEST_F(AdminApiTest, CreateGetPushLabelRenderRoundTripWithFolderNames) {
  auto c = Call("POST", "/api/v1/prompts",
                R"({"name":"support/refund-bot","prompt":"Hi {{name}}","config":{"model":"m"},)"
                R"("labels":["production"],"tags":["support"],"message":"first"})");
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(Json(c).at("version").at("version").as_int64(), 1);
  EXPECT_EQ(Call("POST", "/api/v1/prompts", R"({"name":"support/refund-bot","prompt":"x"})").status,
            409);

  auto p2 = Call("POST", "/api/v1/prompts/support%2Frefund-bot/versions",
                 R"({"prompt":"Hello {{name}} from {{city}}","config":{"model":"m"}})");
  ASSERT_EQ(p2.status, 201) << p2.body;
  EXPECT_EQ(Json(p2).at("version").at("semver").as_string(), "1.1.0");
  auto same = Call("POST", "/api/v1/prompts/support%2Frefund-bot/versions",
                   R"({"prompt":"Hello {{name}} from {{city}}","config":{"model":"m"}})");
  EXPECT_EQ(same.status, 200);
  EXPECT_FALSE(Json(same).at("created").as_bool());

  auto get = Call("GET", "/api/v1/prompts/support%2Frefund-bot");
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(Json(get).at("version").at("version").as_int64(), 1);  // production
  EXPECT_EQ(Json(Call("GET", "/api/v1/prompts/support%2Frefund-bot?label=latest"))
                .at("version")
                .at("version")
                .as_int64(),
            2);
  EXPECT_EQ(
      Json(Call("GET", "/api/v1/prompts/support%2Frefund-bot/versions/2")).at("prompt").as_string(),
      "Hello {{name}} from {{city}}");

  auto label = Call("PUT", "/api/v1/prompts/support%2Frefund-bot/labels/production",
                    R"({"version":2,"reason":"ship"})");
  ASSERT_EQ(label.status, 200) << label.body;
  EXPECT_EQ(Json(label).at("from").as_int64(), 1);
  auto rb = Call("POST", "/api/v1/prompts/support%2Frefund-bot/labels/production/rollback", "");
  ASSERT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(Json(rb).at("to").as_int64(), 1);
  auto hist = Json(Call("GET", "/api/v1/prompts/support%2Frefund-bot/labels/production/history"));
  EXPECT_EQ(hist.at("data").as_array().size(), 3u);

  auto render = Call("POST", "/api/v1/prompts/support%2Frefund-bot/render",
                     R"({"label":"latest","variables":{"name":"민수","city":"서울"}})");
  ASSERT_EQ(render.status, 200) << render.body;
  EXPECT_EQ(Json(render).at("text").as_string(), "Hello 민수 from 서울");
  auto missing = Call("POST", "/api/v1/prompts/support%2Frefund-bot/render",
                      R"({"label":"latest","variables":{}})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("missing variables: city, name"), std::string::npos) << missing.body;

  auto diff = Call("GET", "/api/v1/prompts/support%2Frefund-bot/diff?from=1&to=2&format=text");
  ASSERT_EQ(diff.status, 200);
  EXPECT_NE(diff.body.find("-Hi {{name}}"), std::string::npos) << diff.body;
  EXPECT_NE(diff.body.find("+Hello {{name}} from {{city}}"), std::string::npos) << diff.body;
  auto compat = Json(Call("GET", "/api/v1/prompts/support%2Frefund-bot/compat?from=1&to=2"));
  EXPECT_EQ(compat.at("bump").as_string(), "minor");
  EXPECT_FALSE(compat.at("drop_in").as_bool());

  auto list = Json(Call("GET", "/api/v1/prompts?folder=support&limit=10"));
  EXPECT_EQ(list.at("total").as_int64(), 1);
  auto changelog = Call("GET", "/api/v1/prompts/support%2Frefund-bot/changelog?format=markdown");
  EXPECT_NE(changelog.body.find("1.1.0"), std::string::npos);
  EXPECT_EQ(Call("DELETE", "/api/v1/prompts/support%2Frefund-bot").status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/prompts/support%2Frefund-bot").status, 404);
}

TEST_F(AdminApiTest, BadInputGetsClearErrorsAndChangesNothing) {
  struct Case {
    std::string method, path, body;
    int status;
    std::string code;
  } cases[] = {
      {"POST", "/api/v1/prompts", "{not json", 400, "invalid_argument"},
      {"POST", "/api/v1/prompts", "[1,2]", 400, "invalid_argument"},
      {"POST", "/api/v1/prompts", R"({"name":"ok"})", 400, "invalid_argument"},
      {"POST", "/api/v1/prompts", R"({"name":"bad name!","prompt":"x"})", 400, "invalid_argument"},
      {"POST", "/api/v1/prompts", R"({"name":"ok","prompt":"{{#a}}"})", 400, "invalid_argument"},
      {"POST", "/api/v1/prompts", R"({"name":"ok","prompt":"x","config":"nope"})", 400,
       "invalid_argument"},
      {"POST", "/api/v1/prompts", R"({"name":"ok","prompt":"x","labels":"production"})", 400,
       "invalid_argument"},
      {"POST", "/api/v1/prompts", "{\"name\":\"ok\",\"prompt\":\"\xC3\x28\"}", 400,
       "invalid_argument"},
      {"POST", "/api/v1/prompts", std::string(200, '[') + std::string(200, ']'), 400,
       "invalid_argument"},
      {"GET", "/api/v1/prompts/none", "", 404, "not_found"},
      {"GET", "/api/v1/prompts/none/versions/abc", "", 404, "not_found"},
      {"GET", "/api/v1/prompts?limit=0", "", 400, "invalid_argument"},
      {"GET", "/api/v1/prompts?limit=abc", "", 400, "invalid_argument"},
      {"PUT", "/api/v1/prompts/none/labels/production", R"({"version":1})", 404, "not_found"},
      {"GET", "/api/v1/nope", "", 404, "not_found"},
      {"PATCH", "/api/v1/keys", "{}", 405, "method_not_allowed"},
  };
  for (const auto& c : cases) {
    auto r = Call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " -> " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), c.code) << r.body;
  }
  EXPECT_EQ(Json(Call("GET", "/api/v1/prompts")).at("total").as_int64(), 0);
  auto form =
      Call("POST", "/api/v1/prompts", "name=x", kSecret, "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 415);
  auto big = Call("POST", "/api/v1/prompts",
                  R"({"name":"big","prompt":")" + std::string(100 * 1024, 'x') + R"("})");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(ErrorCodeOf(big), "payload_too_large");
}

TEST_F(AdminApiTest, AuthenticationAndRolesAreEnforced) {
  EXPECT_EQ(Call("GET", "/api/v1/prompts", "", "").status, 401);
  auto wrong = Call("GET", "/api/v1/prompts", "", "po-wrong-wrong-wrong-wrong-wrong");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body.find("po-wrong"), std::string::npos) << "secret echoed";
  std::string viewer = CreateKey("viewer");
  std::string editor = CreateKey("editor");
  EXPECT_EQ(Call("GET", "/api/v1/prompts", "", viewer).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/prompts", R"({"name":"a","prompt":"x"})", viewer).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/prompts", R"({"name":"a","prompt":"x"})", editor).status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/keys", R"({"role":"admin"})", editor).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/prompts/a", "", editor).status, 403);
  // Protected labels: only admin moves them.
  EXPECT_EQ(Call("PUT", "/api/v1/prompts/a/labels/production", R"({"version":1,"protected":true})")
                .status,
            200);
  EXPECT_EQ(Call("PUT", "/api/v1/prompts/a/labels/production", R"({"version":1,"protected":false})",
                 editor)
                .status,
            403);
  // Revoked keys stop working at once; the last admin key cannot be revoked.
  auto keys = Json(Call("GET", "/api/v1/keys"));
  std::string viewer_id;
  for (const auto& k : keys.at("data").as_array()) {
    if (k.at("role").as_string() == "viewer") viewer_id = std::string(k.at("id").as_string());
    EXPECT_FALSE(k.as_object().contains("secret"));
  }
  EXPECT_EQ(Call("DELETE", "/api/v1/keys/" + viewer_id).status, 204);
  EXPECT_EQ(Call("GET", "/api/v1/prompts", "", viewer).status, 401);
  EXPECT_EQ(Call("DELETE", "/api/v1/keys/pk-admin").status, 409);
}

TEST_F(AdminApiTest, FetchByLabelServesTheSameJsonAsBuiltFreshFromTheSnapshot) {
  ASSERT_EQ(
      Call("POST", "/api/v1/prompts", R"({"name":"p","prompt":"v1 {{a}}","labels":["production"]})")
          .status,
      201);
  ASSERT_EQ(Call("POST", "/api/v1/prompts/p/versions", R"({"prompt":"v2 {{a}}"})").status, 201);
  ASSERT_EQ(Call("POST", "/api/v1/prompts/p/versions", R"({"prompt":"v3 {{a}}"})").status, 201);
  Actor actor{1, "pk-admin", Role::kAdmin};
  auto p = *registry_->Get(actor, "p");
  for (int n : {1, 2, 3}) {  // 1: production (cached), 2: no label (built per request), 3: latest
    bj::object expected = registry::PromptToJson(*p);
    expected["version"] = registry::VersionToJson(*p, *p->ByNumber(n));
    auto got = Call("GET", "/api/v1/prompts/p?version=" + std::to_string(n));
    ASSERT_EQ(got.status, 200);
    EXPECT_EQ(Json(got), bj::value(expected)) << n;
  }
}

TEST_F(AdminApiTest, BranchesAndMergeOverHttp) {
  ASSERT_EQ(Call("POST", "/api/v1/prompts", R"({"name":"p","prompt":"v1 {{a}}"})").status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/prompts/p/branches", R"({"name":"exp"})").status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/prompts/p/branches", R"({"name":"exp"})").status, 409);
  EXPECT_EQ(
      Call("POST", "/api/v1/prompts/p/versions", R"({"prompt":"v2 {{a}}","branch":"exp"})").status,
      201);
  auto branches = Json(Call("GET", "/api/v1/prompts/p/branches"));
  EXPECT_EQ(branches.at("data").as_array().size(), 2u);
  auto merged = Call("POST", "/api/v1/prompts/p/branches/exp/merge", "");
  ASSERT_EQ(merged.status, 201) << merged.body;
  EXPECT_EQ(Json(merged).at("version").at("merged_from").as_int64(), 2);
  auto log = Json(Call("GET", "/api/v1/prompts/p/log"));
  EXPECT_EQ(log.at("data").as_array().size(), 3u);
}

}  // namespace
}  // namespace promptops::api
