// The traces API through a real HTTP server on port 0 (in-process), with real SQLite. Traces
// are recorded the way the gateway records them (Telemetry::RecordRequest).
#include "api/traces_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "api/admin_api.h"
#include "core/json.h"
#include "http/client.h"
#include "http/server.h"
#include "support/temp_dir.h"

namespace promptops::api {
namespace {

namespace bj = boost::json;
using ::testing::HasSubstr;

constexpr const char* kSecret = "po-admin-secret-for-tests-0123456789";
constexpr std::int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

class TracesApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void Start(TraceRoutesOptions options) {
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    registry_ = std::make_unique<registry::Registry>(*store_, Clock::Real());
    ASSERT_TRUE(registry_->Load().ok());
    keys_ = std::make_unique<governance::ApiKeys>(*store_, Clock::Real());
    ASSERT_TRUE(keys_->Bootstrap("default", std::string(kSecret), std::nullopt).ok());
    project_ = *keys_->ProjectId("default");
    telemetry_ = std::make_unique<telemetry::Telemetry>(*store_, Clock::Real());
    ctx_ = std::make_unique<ApiContext>(ApiContext{*registry_, *keys_, "test", nullptr});
    auto router = std::make_shared<http::Router>();
    AddAdminRoutes(*router, *ctx_);
    AddTraceRoutes(*router, *ctx_, *telemetry_, std::move(options));
    http::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<http::Server>(o, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->Stop();
    telemetry_->Stop();
  }

  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const std::string& body = "", const std::string& key = kSecret) {
    http::Headers h;
    if (!key.empty()) h.emplace_back("Authorization", "Bearer " + key);
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = http::Fetch(method, base_ + path, h, body);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  static bj::value Json(const http::ClientResponse& r) {
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : bj::value();
  }
  static std::vector<std::string> Ids(const http::ClientResponse& r) {
    std::vector<std::string> out;
    bj::value v = Json(r);
    for (const auto& t : v.at("data").as_array()) out.emplace_back(t.at("id").as_string());
    return out;
  }
  std::string CreateKey(const std::string& role) {
    auto r = Call("POST", "/api/v1/keys", R"({"role":")" + role + R"(","name":"t"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(Json(r).at("secret").as_string());
  }

  // Six traces a minute apart: tr-0 .. tr-5; tr-4 failed with 429, tr-5 was a client cancel.
  void RecordSample() {
    for (int i = 0; i < 6; ++i) {
      telemetry::TraceRecord r;
      r.id = "tr-" + std::to_string(i);
      r.time_ms = kT0 + i * 60'000;
      r.project_id = project_;
      r.key_id = "pk-gw";
      r.user = i < 3 ? "alice" : "bob";
      r.metadata = {{"team", "support"}};
      r.prompt_name = i % 2 ? "support/bot" : "summarize";
      r.prompt_version = i < 4 ? 1 : 2;
      r.prompt_label = "production";
      r.model = i < 2 ? "gpt-4o-mini" : "claude";
      r.provider = "openai";
      r.input_tokens = 10;
      r.output_tokens = 5;
      r.cost_usd = 0.0001;
      r.latency_us = 123'000;
      r.status = i == 4 ? 429 : 200;
      r.error_class = i == 4 ? "rate_limited" : (i == 5 ? "client_cancelled" : "");
      r.request_body = R"({"messages":[{"role":"user","content":"hi"}]})";
      r.response_body = "{}";
      ASSERT_TRUE(telemetry_->RecordRequest(std::move(r)));
    }
    telemetry_->writer().Flush();
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<governance::ApiKeys> keys_;
  std::int64_t project_ = 0;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

TEST_F(TracesApiTest, ListsNewestFirstWithPagination) {
  RecordSample();
  auto r = Call("GET", "/api/v1/traces?limit=2&offset=1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = Json(r);
  EXPECT_EQ(v.at("total").as_int64(), 6);
  EXPECT_EQ(v.at("offset").as_int64(), 1);
  EXPECT_EQ(v.at("limit").as_int64(), 2);
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"tr-4", "tr-3"}));
  const auto& t = v.at("data").at(0).as_object();
  EXPECT_EQ(t.at("time").as_string(), "2026-01-01T00:04:00.000Z");
  EXPECT_EQ(t.at("status").as_int64(), 429);
  EXPECT_EQ(t.at("error_class").as_string(), "rate_limited");
  EXPECT_TRUE(t.at("ttft_us").is_null());
  EXPECT_EQ(t.at("prompt").at("name").as_string(), "summarize");
  EXPECT_EQ(t.at("usage").at("input_tokens").as_int64(), 10);
  EXPECT_FALSE(t.contains("request_body"));  // bodies only on GET one trace and export
}

TEST_F(TracesApiTest, FiltersByQueryParameters) {
  RecordSample();
  struct Case {
    std::string query;
    std::vector<std::string> ids;
  };
  const Case cases[] = {
      {"prompt=support%2Fbot", {"tr-5", "tr-3", "tr-1"}},
      {"prompt=summarize&version=2", {"tr-4"}},
      {"model=gpt-4o-mini", {"tr-1", "tr-0"}},
      {"status=429", {"tr-4"}},
      {"status=error", {"tr-5", "tr-4"}},
      {"error_class=client_cancelled", {"tr-5"}},
      {"user=alice", {"tr-2", "tr-1", "tr-0"}},
      {"from=2026-01-01T00:02:00Z&to=2026-01-01T00:04:00Z", {"tr-3", "tr-2"}},
      {"from=2026-01-01T01:02:00%2B01:00", {"tr-5", "tr-4", "tr-3", "tr-2"}},
  };
  for (const auto& c : cases) {
    auto r = Call("GET", "/api/v1/traces?" + c.query);
    ASSERT_EQ(r.status, 200) << c.query << ": " << r.body;
    EXPECT_EQ(Ids(r), c.ids) << c.query;
  }
  for (std::string bad :
       {"from=yesterday", "status=teapot", "status=999", "version=0", "limit=501"}) {
    EXPECT_EQ(Call("GET", "/api/v1/traces?" + bad).status, 400) << bad;
  }
}

TEST_F(TracesApiTest, GetsOneTraceWithBodiesAndFeedback) {
  RecordSample();
  auto r = Call("GET", "/api/v1/traces/tr-3");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = Json(r);
  EXPECT_EQ(v.at("request_body").as_string(), R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(v.at("metadata").at("team").as_string(), "support");
  EXPECT_TRUE(v.at("feedback").as_array().empty());
  EXPECT_EQ(Call("GET", "/api/v1/traces/tr-nope").status, 404);
}

TEST_F(TracesApiTest, ExportsJsonLinesWithTheSameFilters) {
  RecordSample();
  auto r = Call("GET", "/api/v1/traces/export?user=bob");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(std::string(r.Header("content-type").value_or("")),
              HasSubstr("application/x-ndjson"));
  std::istringstream in(r.body);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    auto v = json::Parse(line);
    ASSERT_TRUE(v.ok()) << line;
    ids.emplace_back(v->at("id").as_string());
    EXPECT_TRUE(v->as_object().contains("response_body"));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"tr-5", "tr-4", "tr-3"}));
  auto limited = Call("GET", "/api/v1/traces/export?limit=2");
  EXPECT_EQ(std::count(limited.body.begin(), limited.body.end(), '\n'), 2);
  EXPECT_EQ(limited.Header("x-promptops-truncated").value_or(""), "true");
  EXPECT_EQ(limited.Header("x-promptops-total").value_or(""), "6");
}

TEST_F(TracesApiTest, FeedbackIsStoredShownAndSummarized) {
  RecordSample();
  auto up = Call("POST", "/api/v1/traces/tr-1/feedback", R"({"value":"up","comment":"nice"})");
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(Json(up).at("value").as_string(), "up");
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-1/feedback", R"({"score":4,"user":"rev"})").status,
            201);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-3/feedback", R"({"value":"down"})").status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-0/feedback", R"({"score":2})").status, 201);

  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-missing/feedback", R"({"value":"up"})").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-1/feedback", R"({"value":"sideways"})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-1/feedback", R"({"score":9})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-1/feedback", "").status, 400);

  auto t = Json(Call("GET", "/api/v1/traces/tr-1"));
  ASSERT_EQ(t.at("feedback").as_array().size(), 2u);
  EXPECT_EQ(t.at("feedback").at(0).at("comment").as_string(), "nice");
  EXPECT_EQ(t.at("feedback").at(1).at("score").as_int64(), 4);
  EXPECT_EQ(t.at("feedback").at(1).at("user").as_string(), "rev");

  auto s = Call("GET", "/api/v1/feedback/summary?prompt=support%2Fbot&version=1");
  ASSERT_EQ(s.status, 200) << s.body;
  auto rows = Json(s).at("data").as_array();
  ASSERT_EQ(rows.size(), 2u);  // gpt-4o-mini (tr-1) and claude (tr-3)
  EXPECT_EQ(rows[0].at("model").as_string(), "claude");
  EXPECT_EQ(rows[0].at("down").as_int64(), 1);
  EXPECT_TRUE(rows[0].at("mean_score").is_null());
  EXPECT_EQ(rows[1].at("up").as_int64(), 1);
  EXPECT_EQ(rows[1].at("scored").as_int64(), 1);
  EXPECT_DOUBLE_EQ(rows[1].at("mean_score").as_double(), 4.0);
  EXPECT_EQ(Json(Call("GET", "/api/v1/feedback/summary")).at("data").as_array().size(), 3u);

  std::string metrics = Call("GET", "/metrics", "", "").body;
  EXPECT_THAT(metrics, HasSubstr("promptops_feedback_total{model=\"gpt-4o-mini\",prompt=\"support/"
                                 "bot\",value=\"up\",version=\"1\"} 1"));
}

TEST_F(TracesApiTest, RetentionByRequestNeedsAdmin) {
  RecordSample();
  std::string viewer = CreateKey("viewer");
  EXPECT_EQ(Call("DELETE", "/api/v1/traces?older_than_days=1", "", viewer).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/traces").status, 400);
  // The sample is from 2026-01-01, more than a day before now... or not, if the clock says so.
  std::int64_t age_days = (ToUnixMillis(Clock::Real().Now()) - kT0) / 86'400'000;
  auto keep = Call("DELETE", "/api/v1/traces?older_than_days=" + std::to_string(age_days + 1));
  ASSERT_EQ(keep.status, 200) << keep.body;
  EXPECT_EQ(Json(keep).at("deleted").as_int64(), 0);
  auto all = Call("DELETE", "/api/v1/traces?older_than_days=0");
  EXPECT_EQ(Json(all).at("deleted").as_int64(), 6);
  EXPECT_EQ(Json(Call("GET", "/api/v1/traces")).at("total").as_int64(), 0);
}

TEST_F(TracesApiTest, EveryTraceRouteNeedsAKeyAndViewersMayRead) {
  RecordSample();
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/traces"},
           {"GET", "/api/v1/traces/tr-1"},
           {"GET", "/api/v1/traces/export"},
           {"DELETE", "/api/v1/traces?older_than_days=1"},
           {"POST", "/api/v1/traces/tr-1/feedback"},
           {"GET", "/api/v1/feedback/summary"}}) {
    EXPECT_EQ(Call(method, path, "", "").status, 401) << method << " " << path;
    EXPECT_EQ(Call(method, path, "", "po-wrong-secret-000000000000000000000").status, 401) << path;
  }
  std::string viewer = CreateKey("viewer");
  EXPECT_EQ(Call("GET", "/api/v1/traces", "", viewer).status, 200);
  EXPECT_EQ(Call("POST", "/api/v1/traces/tr-1/feedback", R"({"value":"up"})", viewer).status, 201);
}

TEST_F(TracesApiTest, MetricsAreServedWithoutAuthInTheTextFormat) {
  RecordSample();
  auto r = Call("GET", "/metrics", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(std::string(r.Header("content-type").value_or("")), HasSubstr("version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("promptops_traces_written_total 6"));
  EXPECT_THAT(r.body, HasSubstr("promptops_gateway_requests_total{model=\"claude\",prompt="
                                "\"summarize\",status=\"429\",version=\"2\"} 1"));
}

TEST_F(TracesApiTest, MetricsTokenWhenConfigured) {
  server_->Stop();
  telemetry_->Stop();
  server_.reset();
  telemetry_.reset();
  ctx_.reset();
  keys_.reset();
  registry_.reset();
  store_.reset();
  Start({.metrics_bearer_token = "scrape-token"});
  EXPECT_EQ(Call("GET", "/metrics", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", "wrong").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", "scrape-token").status, 200);
}

}  // namespace
}  // namespace promptops::api
