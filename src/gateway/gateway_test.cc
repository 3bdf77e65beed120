// The gateway through a real HTTP server on port 0, against fake OpenAI and Anthropic upstreams
// (tests/support/fake_upstream) and the simulated provider, with real SQLite for registry, keys
// and traces.
#include "gateway/gateway.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include "core/hash.h"
#include "core/json.h"

#include "http/async.h"
#include "http/client.h"
#include "http/server.h"
#include "http/test_support.h"
#include "providers/simulated.h"
#include "support/fake_upstream.h"
#include "support/temp_dir.h"

namespace promptops::gateway {
namespace {

namespace bj = boost::json;
using testing::FakeResponse;
using testing::FakeUpstream;

constexpr const char* kKey = "po-gateway-test-key-0123456789abcdefgh";
constexpr const char* kUpstreamKey = "sk-upstream-secret-never-leak-0123456789";

// A streamed answer of the fake Anthropic upstream: one SSE event per data object, named by the
// object's "type", as the Messages API names them.
FakeResponse AnthropicSse(std::initializer_list<std::string> events) {
  FakeResponse r;
  r.action = FakeResponse::Action::kStream;
  r.headers = {{"Content-Type", "text/event-stream"}};
  for (const std::string& data : events) {
    std::string type(bj::parse(data).at("type").as_string());
    r.stream.push_back(testing::StreamStep{"event: " + type + "\ndata: " + data + "\n\n"});
  }
  return r;
}

// The JSON of every `data:` event of an SSE body, in order; [DONE] is not one (sets *done).
std::vector<bj::value> SseChunks(const std::string& body, bool* done = nullptr) {
  std::vector<bj::value> chunks;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    auto end = body.find("\n\n", pos);
    std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      if (done) *done = true;
      continue;
    }
    auto v = json::Parse(data);
    EXPECT_TRUE(v.ok()) << data;
    if (v.ok()) chunks.push_back(std::move(*v));
  }
  return chunks;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("PROMPTOPS_TEST_UPSTREAM_KEY", kUpstreamKey, 1);
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    registry_ = std::make_unique<registry::Registry>(*store_, Clock::Real());
    ASSERT_TRUE(registry_->Load().ok());
    keys_ = std::make_unique<governance::ApiKeys>(*store_, Clock::Real());
    ASSERT_TRUE(keys_->Bootstrap("default", std::string(kKey), std::nullopt).ok());
    telemetry_ = std::make_unique<telemetry::Telemetry>(*store_, Clock::Real());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    telemetry_->Stop();
  }

  // Config: openai fake, anthropic fake, simulated; models and fallbacks.
  void Start(std::function<void(GatewayConfig&)> tweak = {}) {
    GatewayConfig c;
    ProviderConfig oa;
    oa.name = "oa";
    oa.type = "openai";
    oa.base_url = openai_.base_url() + "/v1";
    oa.api_key_env = "PROMPTOPS_TEST_UPSTREAM_KEY";
    oa.first_byte_timeout = std::chrono::milliseconds(2000);
    c.providers["oa"] = oa;
    ProviderConfig an = oa;
    an.name = "an";
    an.type = "anthropic";
    an.base_url = anthropic_.base_url() + "/v1";
    c.providers["an"] = an;
    ProviderConfig sim;
    sim.name = "sim";
    sim.type = "simulated";
    sim.simulated.latency_median = std::chrono::microseconds(1000);
    sim.simulated.latency_p99 = std::chrono::microseconds(3000);
    sim.simulated.ttft_median = std::chrono::microseconds(1000);
    sim.simulated.ttft_p99 = std::chrono::microseconds(3000);
    sim.simulated.tokens_per_second = 5000;
    c.providers["sim"] = sim;
    auto model = [&](std::string name, std::string provider, std::string upstream,
                     std::vector<std::string> fallbacks = {}) {
      ModelConfig m;
      m.name = name;
      m.provider = provider;
      m.upstream_model = upstream;
      m.fallbacks = std::move(fallbacks);
      m.pricing.input_per_1m = 1.0;
      m.pricing.output_per_1m = 2.0;
      m.pricing.cached_input_per_1m = 0.25;
      m.pricing.cache_write_per_1m = 1.25;
      c.models[name] = m;
    };
    model("gpt-test", "oa", "gpt-4o-mini-upstream");
    model("claude-test", "an", "claude-3-5-haiku-20241022");
    model("demo-chat", "sim", "demo-chat");
    model("flaky", "oa", "gpt-4o-mini-upstream", {"demo-chat"});
    c.aliases["chat-default"] = "demo-chat";
    c.policy.backoff_base = std::chrono::milliseconds(1);
    c.policy.backoff_max = std::chrono::milliseconds(5);
    if (tweak) tweak(c);
    auto g = Gateway::Create(c, GatewayDeps{*registry_, *keys_, telemetry_.get()});
    ASSERT_TRUE(g.ok()) << g.error().ToString();
    gateway_ = std::move(g).value();
    auto router = std::make_shared<http::Router>();
    gateway_->AddRoutes(*router);
    http::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<http::Server>(o, router);
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  http::ClientResponse Post(const std::string& path, const std::string& body,
                            http::Headers extra = {}, const std::string& key = kKey) {
    http::Headers h{{"Content-Type", "application/json"}};
    if (!key.empty()) h.emplace_back("Authorization", "Bearer " + key);
    for (auto& e : extra) h.push_back(e);
    auto r = http::Fetch("POST", base_ + path, h, body, {.timeout = std::chrono::seconds(20)});
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  http::ClientResponse Chat(const std::string& body, http::Headers extra = {}) {
    return Post("/v1/chat/completions", body, std::move(extra));
  }
  static bj::value Json(const http::ClientResponse& r) {
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : bj::value();
  }
  // Concatenated delta contents of an SSE body; also checks the framing and [DONE].
  static std::string StreamText(const std::string& body, bj::value* usage = nullptr,
                                std::string* finish = nullptr) {
    std::string text;
    bool done = false;
    for (const bj::value& chunk : SseChunks(body, &done)) {
      EXPECT_EQ(chunk.at("object").as_string(), "chat.completion.chunk");
      if (chunk.as_object().contains("usage") && usage) *usage = chunk.at("usage");
      for (const auto& c : chunk.at("choices").as_array()) {
        const auto& d = c.at("delta").as_object();
        if (auto it = d.find("content"); it != d.end()) text += it->value().as_string();
        if (!c.at("finish_reason").is_null() && finish) *finish = c.at("finish_reason").as_string();
      }
    }
    EXPECT_TRUE(done) << body;
    return text;
  }
  std::vector<store::TraceRow> Traces() {
    telemetry_->writer().Flush();
    std::vector<store::TraceRow> rows;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> Status {
                      PO_ASSIGN_OR_RETURN(auto page,
                                          tx.traces().List(1, store::TraceFilter{}, 0, 100, true));
                      rows = std::move(page.rows);
                      return OkStatus();
                    })
                    .ok());
    return rows;
  }
  Actor Admin() { return Actor{1, "pk-admin", Role::kAdmin}; }

  testing::TempDir dir_;
  FakeUpstream openai_, anthropic_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<governance::ApiKeys> keys_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<http::Server> server_;
  std::string base_;
};

constexpr const char* kHello =
    R"({"model":"demo-chat","messages":[{"role":"user","content":"Hello there"}]})";

TEST_F(GatewayTest, SimulatedModelAnswersInOpenAiShapeWithHeadersAndTrace) {
  Start();
  auto r = Chat(kHello);
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = Json(r);
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_EQ(v.at("model").as_string(), "demo-chat");
  std::string content(v.at("choices").at(0).at("message").at("content").as_string());
  EXPECT_EQ(content.rfind("Simulated answer", 0), 0u) << content;
  EXPECT_GT(v.at("usage").at("completion_tokens").as_int64(), 0);
  ASSERT_TRUE(r.Header("x-promptops-trace-id").has_value());
  EXPECT_EQ(*r.Header("x-promptops-model"), "demo-chat");
  // The completion id carries the trace id's characters (a logged completion id finds its
  // trace): "chatcmpl-" + the trace id without "tr-".
  std::string trace_id(*r.Header("x-promptops-trace-id"));
  ASSERT_EQ(trace_id.rfind("tr-", 0), 0u) << trace_id;
  EXPECT_EQ(v.at("id").as_string(), "chatcmpl-" + trace_id.substr(3));
  // Deterministic: the same request gets the same answer.
  EXPECT_EQ(Json(Chat(kHello)).at("choices").at(0).at("message").at("content").as_string(),
            content);
  auto traces = Traces();
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[0].provider, "sim");
  EXPECT_EQ(traces[0].status, 200);
  EXPECT_GT(traces[0].cost_usd, 0);
  EXPECT_EQ(traces[0].key_id, "pk-admin");
  EXPECT_NE(telemetry_->metrics().Expose().find("promptops_gateway_requests_total"),
            std::string::npos);
}

// Messages in the common shape go to an OpenAI-compatible upstream as the client sent them
// (spacing and Korean text byte for byte, not rebuilt); others (an escape here) as the parsed
// messages. Both read the same to the upstream.
TEST_F(GatewayTest, OpenAiUpstreamGetsTheClientsMessages) {
  Start();
  openai_.SetHandler([](const testing::FakeRequest&) { return testing::OpenAiChatResponse("ok"); });
  const std::string as_sent = R"([ {"role":"system", "content":"너는 친절한 도우미야"},)"
                              "\n  "
                              R"({"content":"안녕 😀","role":"user"} ])";
  ASSERT_EQ(Chat(R"({"model":"gpt-test","messages":)" + as_sent + "}").status, 200);
  ASSERT_EQ(Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"tab\tand \u00e9"}]})")
                .status,
            200);
  auto seen = openai_.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].body.find(R"("messages":)" + as_sent), std::string::npos) << seen[0].body;
  auto first = bj::parse(seen[0].body);
  EXPECT_EQ(first.at("model").as_string(), "gpt-4o-mini-upstream");
  EXPECT_EQ(first.at("messages").at(1).at("content").as_string(), "안녕 😀");
  auto second = bj::parse(seen[1].body);
  EXPECT_EQ(second.at("messages").at(0).at("content").as_string(), "tab\tand \u00e9");
}

// The request's user, metadata and session reach the stored trace (the session from metadata's
// session_id, else the x-promptops-session header), Korean text included.
TEST_F(GatewayTest, UserMetadataAndSessionAreKeptOnTheTrace) {
  Start();
  auto a = Chat(R"({"model":"demo-chat","user":"김민수","metadata":{"session_id":"s-1","팀":"결제"},
      "messages":[{"role":"user","content":"안녕하세요"}]})");
  ASSERT_EQ(a.status, 200) << a.body;
  auto b = Chat(kHello, {{"x-promptops-session", "from-header"}});
  ASSERT_EQ(b.status, 200) << b.body;
  auto traces = Traces();  // newest first
  ASSERT_EQ(traces.size(), 2u);
  const auto& with_metadata = traces[1];
  EXPECT_EQ(with_metadata.user, "김민수");
  EXPECT_EQ(with_metadata.session, "s-1");
  auto metadata = bj::parse(with_metadata.metadata_json).as_object();
  EXPECT_EQ(metadata.at("session_id").as_string(), "s-1");
  EXPECT_EQ(metadata.at("팀").as_string(), "결제");
  EXPECT_EQ(traces[0].user, "");
  EXPECT_EQ(traces[0].session, "from-header");
}

TEST_F(GatewayTest, StreamingDeliversTheSameTextWithUsageOnlyWhenAsked) {
  Start();
  std::string plain(Json(Chat(kHello)).at("choices").at(0).at("message").at("content").as_string());
  auto s = Chat(
      R"({"model":"chat-default","stream":true,"messages":[{"role":"user","content":"Hello there"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(*s.Header("content-type"), "text/event-stream");
  bj::value usage;
  std::string finish;
  EXPECT_EQ(StreamText(s.body, &usage, &finish), plain);
  EXPECT_EQ(finish, "stop");
  EXPECT_TRUE(usage.is_null());
  auto u = Chat(
      R"({"model":"demo-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]})");
  StreamText(u.body, &usage);
  ASSERT_TRUE(usage.is_object()) << u.body;
  EXPECT_GT(usage.at("total_tokens").as_int64(), 0);
  // Every chunk has the completion id, built from the trace id.
  std::string streamed_id =
      "\"id\":\"chatcmpl-" + std::string(*u.Header("x-promptops-trace-id")).substr(3) + "\"";
  EXPECT_NE(u.body.find(streamed_id), std::string::npos) << u.body;
  auto traces = Traces();
  ASSERT_FALSE(traces.empty());
  EXPECT_TRUE(traces[0].stream);
  EXPECT_GE(traces[0].ttft_us, 0);
}

TEST_F(GatewayTest, OpenAiUpstreamGetsTheMappedModelAndItsKeyButNeverLeaksIt) {
  Start();
  openai_.Enqueue(testing::OpenAiChatResponse("from upstream", 7, 3));
  auto r = Chat(
      R"({"model":"gpt-test","temperature":0.5,"messages":[{"role":"user","content":"hi"}],"user":"u-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("choices").at(0).at("message").at("content").as_string(), "from upstream");
  EXPECT_EQ(Json(r).at("usage").at("prompt_tokens").as_int64(), 7);
  auto sent = openai_.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target, "/v1/chat/completions");
  EXPECT_EQ(*sent[0].Header("authorization"), std::string("Bearer ") + kUpstreamKey);
  auto body = *json::Parse(sent[0].body);
  EXPECT_EQ(body.at("model").as_string(), "gpt-4o-mini-upstream");
  EXPECT_EQ(body.at("user").as_string(), "u-1");
  // The client can never choose the upstream.
  auto evil = Chat(
      R"({"model":"gpt-test","api_base":"http://127.0.0.2:1","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(evil.status, 400);
  EXPECT_EQ(openai_.request_count(), 1u);
  for (const auto& t : Traces()) {
    EXPECT_EQ(t.request_body.find(kUpstreamKey), std::string::npos);
    EXPECT_EQ(t.response_body.find(kUpstreamKey), std::string::npos);
  }
  EXPECT_EQ(telemetry_->metrics().Expose().find(kUpstreamKey), std::string::npos);
}

TEST_F(GatewayTest, OpenAiUpstreamStreamIsPassedThroughChunkByChunk) {
  Start();
  openai_.Enqueue(testing::OpenAiStream({"안녕", "하세요", "!"}, true));
  auto s = Chat(
      R"({"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  bj::value usage;
  EXPECT_EQ(StreamText(s.body, &usage), "안녕하세요!");
  EXPECT_TRUE(usage.is_object());
  // The gateway always asks the upstream for usage, for tracing.
  EXPECT_TRUE(
      json::Parse(openai_.requests()[0].body)->at("stream_options").at("include_usage").as_bool());
}

// The tool-call pieces of an SSE body (each chunk's delta.tool_calls, as sent) and the calls
// they add up to, assembled here independently of the gateway's own accumulator.
struct StreamedCalls {
  std::vector<bj::value> pieces;
  bj::array calls;  // {"id","type","function":{"name","arguments"}} by index
};
StreamedCalls ToolCallsOf(const std::string& body) {
  StreamedCalls out;
  for (const bj::value& chunk : SseChunks(body)) {
    for (const auto& c : chunk.at("choices").as_array()) {
      const auto& d = c.at("delta").as_object();
      auto tc = d.find("tool_calls");
      if (tc == d.end()) continue;
      // A piece with tool calls only carries no content, as OpenAI streams it.
      EXPECT_FALSE(d.contains("content")) << json::Serialize(chunk);
      out.pieces.push_back(tc->value());
      for (const auto& piece : tc->value().as_array()) {
        auto i = static_cast<std::size_t>(piece.at("index").as_int64());
        while (out.calls.size() <= i) {
          out.calls.push_back(
              {{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
        }
        auto& call = out.calls[i].as_object();
        const auto& p = piece.as_object();
        if (p.contains("id")) call["id"] = p.at("id");
        if (p.contains("function")) {
          const auto& f = p.at("function").as_object();
          auto& into = call["function"].as_object();
          if (f.contains("name")) into["name"] = f.at("name");
          if (f.contains("arguments")) {
            into["arguments"].as_string().append(f.at("arguments").as_string());
          }
        }
      }
    }
  }
  return out;
}

std::string ChunkWith(const std::string& delta, const std::string& finish = "null") {
  return R"(data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,)"
         R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":)" +
         delta + R"(,"finish_reason":)" + finish + "}]}\n\n";
}

constexpr const char* kWeatherTools =
    R"("tools":[{"type":"function","function":{"name":"get_weather",)"
    R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";

TEST_F(GatewayTest, StreamedToolCallsReachTheClientAndAreTracedAndCached) {
  Start([](GatewayConfig& c) { c.policy.trace_bodies = "full"; });
  FakeResponse up;
  up.action = FakeResponse::Action::kStream;
  up.headers = {{"Content-Type", "text/event-stream"}};
  const std::string pieces[] = {
      R"([{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}])",
      R"([{"index":0,"function":{"arguments":"{\"city\":"}}])",
      R"([{"index":0,"function":{"arguments":"\"서울\"}"}}])",
  };
  up.stream.push_back(
      {ChunkWith(R"({"role":"assistant","content":null,"tool_calls":)" + pieces[0] + "}")});
  up.stream.push_back({ChunkWith(R"({"tool_calls":)" + pieces[1] + "}")});
  up.stream.push_back({ChunkWith(R"({"tool_calls":)" + pieces[2] + "}")});
  up.stream.push_back({ChunkWith("{}", R"("tool_calls")")});
  up.stream.push_back(
      {R"(data: {"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"m",)"
       R"("choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}})"
       "\n\n"});
  up.stream.push_back({"data: [DONE]\n\n"});
  openai_.Enqueue(up);
  const std::string request = std::string(R"({"model":"gpt-test","temperature":0,)") +
                              kWeatherTools +
                              R"(,"messages":[{"role":"user","content":"서울 날씨?"}])";
  auto s = Chat(request + R"(,"stream":true})");
  ASSERT_EQ(s.status, 200) << s.body;
  std::string finish;
  EXPECT_EQ(StreamText(s.body, nullptr, &finish), "");
  EXPECT_EQ(finish, "tool_calls");
  StreamedCalls got = ToolCallsOf(s.body);
  ASSERT_EQ(got.pieces.size(), 3u) << s.body;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got.pieces[i], bj::parse(pieces[i]));  // as sent
  const bj::value complete = bj::parse(
      R"([{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"서울\"}"}}])");
  EXPECT_EQ(bj::value(got.calls), complete);
  // The upstream got the tools.
  EXPECT_EQ(json::Parse(openai_.requests()[0].body)->at("tools").at(0).at("function").at("name"),
            "get_weather");

  // The trace keeps the calls as the answer.
  auto traces = Traces();
  ASSERT_EQ(traces.size(), 1u);
  auto kept = json::Parse(traces[0].response_body);
  ASSERT_TRUE(kept.ok()) << traces[0].response_body;
  EXPECT_EQ(*kept, complete);

  // The cache kept the whole calls: a plain call gets them in the message, a streamed one as
  // one piece per call.
  auto plain = Chat(request + "}");
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(*plain.Header("x-promptops-cache"), "hit");
  const bj::value plain_json = Json(plain);
  const auto& choice = plain_json.at("choices").at(0);
  EXPECT_EQ(choice.at("message").at("tool_calls"), complete);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  auto replay = Chat(request + R"(,"stream":true})");
  EXPECT_EQ(*replay.Header("x-promptops-cache"), "hit");
  StreamedCalls replayed = ToolCallsOf(replay.body);
  ASSERT_EQ(replayed.pieces.size(), 1u) << replay.body;
  EXPECT_EQ(bj::value(replayed.calls), complete);
  EXPECT_EQ(openai_.request_count(), 1u);
}

TEST_F(GatewayTest, LogprobsArePassedThroughPlainStreamedAndCached) {
  Start();
  const std::string yes =
      R"({"content":[{"token":"예","logprob":-0.5,"bytes":[236,152,136],"top_logprobs":[]}],"refusal":null})";
  FakeResponse plain;
  plain.headers = {{"Content-Type", "application/json"}};
  plain.body =
      R"({"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"예"},"logprobs":)" +
      yes + R"(,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}})";
  openai_.Enqueue(plain);
  const std::string request =
      R"({"model":"gpt-test","temperature":0,"logprobs":true,"messages":[{"role":"user","content":"예?"}])";
  auto r = Chat(request + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("choices").at(0).at("logprobs"), bj::parse(yes));
  EXPECT_TRUE(json::Parse(openai_.requests()[0].body)->at("logprobs").as_bool());
  // The cached answer keeps them, for plain and streamed replays.
  auto hit = Chat(request + "}");
  EXPECT_EQ(*hit.Header("x-promptops-cache"), "hit");
  EXPECT_EQ(Json(hit).at("choices").at(0).at("logprobs"), bj::parse(yes));
  auto replay = Chat(request + R"(,"stream":true})");
  EXPECT_NE(replay.body.find(R"("logprobs":{"content":[{"token":"예")"), std::string::npos)
      << replay.body;

  // Streamed: each chunk's logprobs go out with its text.
  FakeResponse up;
  up.action = FakeResponse::Action::kStream;
  up.headers = {{"Content-Type", "text/event-stream"}};
  up.stream.push_back(
      {R"(data: {"choices":[{"index":0,"delta":{"content":"아"},"logprobs":{"content":[{"token":"아","logprob":-1.5,"bytes":[236,149,132],"top_logprobs":[]}]},"finish_reason":null}]})"
       "\n\n"});
  up.stream.push_back(
      {R"(data: {"choices":[{"index":0,"delta":{"content":"니오"},"logprobs":{"content":[{"token":"니오","logprob":-0.75,"bytes":[235,139,136,236,152,164],"top_logprobs":[]}]},"finish_reason":null}]})"
       "\n\n"});
  up.stream.push_back(
      {"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
       "data: [DONE]\n\n"});
  openai_.Enqueue(up);
  auto s = Chat(
      R"({"model":"gpt-test","stream":true,"logprobs":true,"messages":[{"role":"user","content":"no?"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(StreamText(s.body), "아니오");
  std::vector<double> got;
  for (const bj::value& chunk : SseChunks(s.body)) {
    for (const auto& c : chunk.at("choices").as_array()) {
      if (c.at("logprobs").is_object()) {
        got.push_back(c.at("logprobs").at("content").at(0).at("logprob").to_number<double>());
      }
    }
  }
  EXPECT_EQ(got, (std::vector<double>{-1.5, -0.75}));
}

TEST_F(GatewayTest, RefusalsArePassedThroughPlainAndStreamed) {
  Start();
  FakeResponse plain;
  plain.headers = {{"Content-Type", "application/json"}};
  plain.body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":null,)"
      R"("refusal":"그건 도와드릴 수 없어요.","annotations":[]},"finish_reason":"stop"}]})";
  openai_.Enqueue(plain);
  auto r = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"x"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value v = Json(r);
  const auto& message = v.at("choices").at(0).at("message");
  EXPECT_EQ(message.at("refusal"), "그건 도와드릴 수 없어요.");
  EXPECT_TRUE(message.at("content").is_null());
  EXPECT_FALSE(message.as_object().contains("annotations"));  // empty: nothing to say

  FakeResponse up;
  up.action = FakeResponse::Action::kStream;
  up.headers = {{"Content-Type", "text/event-stream"}};
  for (const char* piece : {"그건 ", "안 돼요."}) {
    up.stream.push_back({std::string(R"(data: {"choices":[{"index":0,"delta":{"refusal":")") +
                         piece + R"("},"finish_reason":null}]})" + "\n\n"});
  }
  up.stream.push_back({R"(data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
                       "\n\ndata: [DONE]\n\n"});
  openai_.Enqueue(up);
  auto s = Chat(
      R"({"model":"gpt-test","temperature":0,"stream":true,"messages":[{"role":"user","content":"y"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(StreamText(s.body), "");
  EXPECT_NE(s.body.find(R"("delta":{"refusal":"그건 "})"), std::string::npos) << s.body;
  EXPECT_NE(s.body.find(R"("delta":{"refusal":"안 돼요."})"), std::string::npos) << s.body;
  // Cached whole: a plain replay has the whole refusal.
  auto hit =
      Chat(R"({"model":"gpt-test","temperature":0,"messages":[{"role":"user","content":"y"}]})");
  EXPECT_EQ(*hit.Header("x-promptops-cache"), "hit");
  EXPECT_EQ(Json(hit).at("choices").at(0).at("message").at("refusal"), "그건 안 돼요.");
}

TEST_F(GatewayTest, ReasoningIsPassedThroughPlainStreamedAndCached) {
  Start();
  // An OpenAI-compatible reasoning model (DeepSeek's shape) streams its reasoning first.
  FakeResponse up;
  up.action = FakeResponse::Action::kStream;
  up.headers = {{"Content-Type", "text/event-stream"}};
  for (const char* piece : {"먼저 ", "곱해 보자."}) {
    up.stream.push_back(
        {std::string(
             R"(data: {"choices":[{"index":0,"delta":{"content":null,"reasoning_content":")") +
         piece + R"("},"finish_reason":null}]})" + "\n\n"});
  }
  up.stream.push_back(
      {R"(data: {"choices":[{"index":0,"delta":{"content":"42"},"finish_reason":"stop"}]})"
       "\n\ndata: [DONE]\n\n"});
  openai_.Enqueue(up);
  const std::string request =
      R"({"model":"gpt-test","temperature":0,"stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"user","content":"6 곱하기 7?"}]})";
  auto s = Chat(request);
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(StreamText(s.body), "42");
  std::string reasoning;
  std::int64_t completion_tokens = -1;
  for (const bj::value& chunk : SseChunks(s.body)) {
    if (chunk.at("choices").as_array().empty()) {
      completion_tokens = chunk.at("usage").at("completion_tokens").as_int64();
      continue;
    }
    const bj::object& delta = chunk.at("choices").at(0).at("delta").as_object();
    if (const bj::value* r = delta.if_contains("reasoning_content")) {
      reasoning += r->as_string();
      EXPECT_FALSE(delta.contains("content")) << chunk;  // reasoning only, as DeepSeek streams
    }
  }
  EXPECT_EQ(reasoning, "먼저 곱해 보자.");
  // No usage from the upstream: the estimate counts the reasoning, which was generated too.
  EXPECT_EQ(completion_tokens,
            providers::EstimateTokens("42") + providers::EstimateTokens("먼저 곱해 보자."));

  // Cached whole: a plain replay has it in the message, a streamed one streams it first.
  auto hit = Chat(R"({"model":"gpt-test","temperature":0,)"
                  R"("messages":[{"role":"user","content":"6 곱하기 7?"}]})");
  EXPECT_EQ(*hit.Header("x-promptops-cache"), "hit");
  EXPECT_EQ(Json(hit).at("choices").at(0).at("message").at("reasoning_content"), "먼저 곱해 보자.");
  auto replay = Chat(request);
  EXPECT_EQ(*replay.Header("x-promptops-cache"), "hit");
  std::vector<bj::value> chunks = SseChunks(replay.body);
  ASSERT_GE(chunks.size(), 3u) << replay.body;
  EXPECT_EQ(chunks[1].at("choices").at(0).at("delta"),
            bj::parse(R"({"reasoning_content":"먼저 곱해 보자."})"));
  EXPECT_EQ(StreamText(replay.body), "42");

  // Claude: reasoning_effort asks for thinking; the thinking comes back as reasoning_content
  // with the signed blocks, which the next turn of a tool loop sends back.
  FakeResponse answer;
  answer.headers = {{"Content-Type", "application/json"}};
  answer.body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[)"
      R"({"type":"thinking","thinking":"날씨를 봐야 한다.","signature":"EqQB"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"서울"}}],)"
      R"("stop_reason":"tool_use","usage":{"input_tokens":30,"output_tokens":50}})";
  anthropic_.Enqueue(answer);
  auto c = Chat(std::string(R"({"model":"claude-test","reasoning_effort":"low",)") + kWeatherTools +
                R"(,"messages":[{"role":"user","content":"서울?"}]})");
  ASSERT_EQ(c.status, 200) << c.body;
  const bj::value message = Json(c).at("choices").at(0).at("message");
  EXPECT_EQ(message.at("reasoning_content"), "날씨를 봐야 한다.");
  EXPECT_EQ(
      message.at("thinking_blocks"),
      bj::parse(R"([{"type":"thinking","thinking":"날씨를 봐야 한다.","signature":"EqQB"}])"));
  auto sent = json::Parse(anthropic_.requests().back().body).value();
  EXPECT_EQ(sent.at("thinking"), bj::parse(R"({"type":"enabled","budget_tokens":1024})"));
  EXPECT_EQ(sent.at("max_tokens"), 2048);
  // The tool loop's next turn: the assistant message as it came, the tool's result.
  anthropic_.Enqueue(testing::AnthropicResponse("맑아요", 40, 5, "end_turn"));
  bj::object assistant = message.as_object();
  auto next =
      Chat(std::string(R"({"model":"claude-test","reasoning_effort":"low",)") + kWeatherTools +
           R"(,"messages":[{"role":"user","content":"서울?"},)" + bj::serialize(assistant) +
           R"(,{"role":"tool","tool_call_id":"toolu_1","content":"맑음"}]})");
  ASSERT_EQ(next.status, 200) << next.body;
  auto sent_next = json::Parse(anthropic_.requests().back().body).value();
  EXPECT_EQ(sent_next.at("messages").at(1).at("content").at(0),
            bj::parse(R"({"type":"thinking","thinking":"날씨를 봐야 한다.","signature":"EqQB"})"));
  EXPECT_EQ(sent_next.at("messages").at(1).at("content").at(1).at("type"), "tool_use");

  // Streamed: thinking pieces as reasoning_content, then the signed block, then the text.
  anthropic_.Enqueue(AnthropicSse({
      R"({"type":"message_start","message":{"usage":{"input_tokens":9}}})",
      R"({"type":"content_block_start","index":0,)"
      R"("content_block":{"type":"thinking","thinking":""}})",
      R"({"type":"content_block_delta","index":0,)"
      R"("delta":{"type":"thinking_delta","thinking":"짧게 "}})",
      R"({"type":"content_block_delta","index":0,)"
      R"("delta":{"type":"thinking_delta","thinking":"답하자."}})",
      R"({"type":"content_block_delta","index":0,)"
      R"("delta":{"type":"signature_delta","signature":"EqQC"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_delta","index":1,)"
      R"("delta":{"type":"text_delta","text":"네."}})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
      R"("usage":{"output_tokens":30}})",
      R"({"type":"message_stop"})",
  }));
  auto cs = Chat(R"({"model":"claude-test","reasoning_effort":"low","stream":true,)"
                 R"("messages":[{"role":"user","content":"짧게?"}]})");
  ASSERT_EQ(cs.status, 200) << cs.body;
  EXPECT_EQ(StreamText(cs.body), "네.");
  std::vector<std::string> deltas;
  for (const bj::value& chunk : SseChunks(cs.body)) {
    deltas.push_back(bj::serialize(chunk.at("choices").at(0).at("delta")));
  }
  EXPECT_EQ(
      deltas,
      (std::vector<std::string>{
          R"({"role":"assistant","content":""})",
          R"({"reasoning_content":"짧게 "})",
          R"({"reasoning_content":"답하자."})",
          R"({"thinking_blocks":[{"type":"thinking","thinking":"짧게 답하자.","signature":"EqQC"}]})",
          R"({"content":"네."})",
          R"({})",
      }));

  // A max_tokens the thinking budget does not fit in is refused before any call.
  std::size_t calls = anthropic_.request_count();
  auto small = Chat(R"({"model":"claude-test","reasoning_effort":"medium","max_tokens":100,)"
                    R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(small.status, 400) << small.body;
  EXPECT_NE(small.body.find("must be greater than the thinking budget (4096 tokens)"),
            std::string::npos)
      << small.body;
  EXPECT_EQ(anthropic_.request_count(), calls);
}

TEST_F(GatewayTest, CachedAndReasoningTokensReachTheClientAndTheCost) {
  Start();
  auto trace_of = [&](const http::ClientResponse& r) {
    for (const store::TraceRow& t : Traces()) {
      if (t.id == *r.Header("x-promptops-trace-id")) return t;
    }
    ADD_FAILURE() << "no trace for " << r.body;
    return store::TraceRow{};
  };
  FakeResponse answer;
  answer.headers = {{"Content-Type", "application/json"}};
  answer.body = R"({"choices":[{"message":{"content":"42"},"finish_reason":"stop"}],)"
                R"("usage":{"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100,)"
                R"("prompt_tokens_details":{"cached_tokens":800,"audio_tokens":0},)"
                R"("completion_tokens_details":{"reasoning_tokens":40}}})";
  openai_.Enqueue(answer);
  auto r = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"q"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("usage"), bj::parse(R"({"prompt_tokens":1000,"completion_tokens":100,
      "total_tokens":1100,"prompt_tokens_details":{"cached_tokens":800},
      "completion_tokens_details":{"reasoning_tokens":40}})"));
  // 200 input tokens at 1.00, 800 cached at 0.25, 100 output at 2.00 per million.
  EXPECT_NEAR(trace_of(r).cost_usd, (200 * 1.0 + 800 * 0.25 + 100 * 2.0) / 1e6, 1e-12);

  // Streamed with include_usage: the last chunk carries them too.
  FakeResponse up;
  up.action = FakeResponse::Action::kStream;
  up.headers = {{"Content-Type", "text/event-stream"}};
  up.stream = {{R"(data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]})"
                "\n\n"},
               {R"(data: {"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":9,)"
                R"("prompt_tokens_details":{"cached_tokens":32}}})"
                "\n\ndata: [DONE]\n\n"}};
  openai_.Enqueue(up);
  auto s = Chat(R"({"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},)"
                R"("messages":[{"role":"user","content":"q2"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(SseChunks(s.body).back().at("usage"),
            bj::parse(R"({"prompt_tokens":50,"completion_tokens":9,"total_tokens":59,
                "prompt_tokens_details":{"cached_tokens":32}})"));

  // Anthropic's prompt cache: reads and writes at their prices, reads reported as cached.
  FakeResponse claude;
  claude.headers = {{"Content-Type", "application/json"}};
  claude.body = R"({"content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn",)"
                R"("usage":{"input_tokens":12,"cache_creation_input_tokens":1000,)"
                R"("cache_read_input_tokens":3000,"output_tokens":4}})";
  anthropic_.Enqueue(claude);
  auto c = Chat(R"({"model":"claude-test","messages":[{"role":"user","content":"q"}]})");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(Json(c).at("usage").at("prompt_tokens"), 4012);
  EXPECT_EQ(Json(c).at("usage").at("prompt_tokens_details").at("cached_tokens"), 3000);
  EXPECT_NEAR(trace_of(c).cost_usd, (12 * 1.0 + 3000 * 0.25 + 1000 * 1.25 + 4 * 2.0) / 1e6, 1e-12);
}

TEST_F(GatewayTest, OverheadMetricLeavesTheUpstreamOut) {
  Start();
  auto sum = [&](const std::string& histogram) {
    std::string text = telemetry_->metrics().Expose();
    std::string line = histogram + "_sum{model=\"gpt-test\"} ";
    std::size_t at = text.find(line);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + line.size()));
  };
  FakeResponse slow = testing::OpenAiChatResponse("slow", 3, 1);
  slow.delay_before_headers = std::chrono::milliseconds(60);
  openai_.Enqueue(slow);
  const std::string request =
      R"({"model":"gpt-test","temperature":0,"messages":[{"role":"user","content":"slow?"}]})";
  auto r = Chat(request);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::map<std::string, std::string> model = {{"model", "gpt-test"}};
  EXPECT_EQ(telemetry_->metrics().Value("promptops_gateway_overhead_seconds", model), 1);
  double duration = sum("promptops_gateway_request_duration_seconds");
  double overhead = sum("promptops_gateway_overhead_seconds");
  EXPECT_GE(duration, 0.060);
  EXPECT_GE(overhead, 0);
  // The upstream's 60 ms are not the gateway's.
  EXPECT_LE(overhead, duration - 0.060) << "duration " << duration;
  // A cache hit and a refused key call no upstream: not observed.
  EXPECT_EQ(*Chat(request).Header("x-promptops-cache"), "hit");
  auto refused = Post("/v1/chat/completions", request, {}, "po-wrong-key-0123456789");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(telemetry_->metrics().Value("promptops_gateway_overhead_seconds", model), 1);
}

TEST_F(GatewayTest, TheSimulatedModelReasonsWhenAsked) {
  Start();
  const std::string request =
      R"({"model":"demo-chat","reasoning_effort":"low","messages":[{"role":"user","content":"왜 하늘은 파래요?"}])";
  auto r = Chat(request + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value v = Json(r);
  const bj::value& message = v.at("choices").at(0).at("message");
  const std::string reasoning(message.at("reasoning_content").as_string());
  EXPECT_EQ(reasoning.rfind("Thinking about: 왜 하늘은 파래요? ", 0), 0u) << reasoning;
  EXPECT_EQ(message.at("content").as_string().rfind("Simulated answer to: 왜 하늘은 파래요?", 0),
            0u);
  // Without reasoning_effort, the same answer with 16 completion tokens fewer.
  auto plain =
      Chat(R"({"model":"demo-chat","messages":[{"role":"user","content":"왜 하늘은 파래요?"}]})");
  ASSERT_EQ(plain.status, 200) << plain.body;
  const bj::value pv = Json(plain);
  EXPECT_EQ(pv.at("choices").at(0).at("message").at("content"), message.at("content"));
  EXPECT_FALSE(pv.at("choices").at(0).at("message").as_object().contains("reasoning_content"));
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(),
            pv.at("usage").at("completion_tokens").as_int64() + 16);
  // Streamed: 16 reasoning pieces first, then the text.
  auto s = Chat(request + R"(,"stream":true})");
  ASSERT_EQ(s.status, 200) << s.body;
  std::string streamed_reasoning;
  int pieces = 0;
  bool text_seen = false;
  for (const bj::value& chunk : SseChunks(s.body)) {
    const bj::object& delta = chunk.at("choices").at(0).at("delta").as_object();
    if (const bj::value* piece = delta.if_contains("reasoning_content")) {
      EXPECT_FALSE(text_seen) << "reasoning after the text: " << s.body;
      EXPECT_FALSE(delta.contains("content"));
      streamed_reasoning += piece->as_string();
      ++pieces;
    } else if (const bj::value* c = delta.if_contains("content"); c && !c->as_string().empty()) {
      text_seen = true;
    }
  }
  EXPECT_EQ(pieces, 16);
  EXPECT_EQ(streamed_reasoning, reasoning);
  EXPECT_EQ(StreamText(s.body), message.at("content").as_string());
}

TEST_F(GatewayTest, TheSimulatedModelCallsOfferedTools) {
  Start();
  const std::string request = std::string(R"({"model":"demo-chat",)") + kWeatherTools +
                              R"(,"messages":[{"role":"user","content":"부산 날씨"}])";
  auto r = Chat(request + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value v = Json(r);
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  const auto& call = choice.at("message").at("tool_calls").at(0);
  EXPECT_EQ(call.at("function").at("name"), "get_weather");
  EXPECT_EQ(bj::parse(call.at("function").at("arguments").as_string()),
            bj::parse(R"({"city":"부산 날씨"})"));
  // Streamed: the same call, in pieces.
  auto s = Chat(request + R"(,"stream":true})");
  ASSERT_EQ(s.status, 200) << s.body;
  StreamedCalls got = ToolCallsOf(s.body);
  EXPECT_GE(got.pieces.size(), 2u) << s.body;
  EXPECT_EQ(bj::value(got.calls), choice.at("message").at("tool_calls"));
  std::string finish;
  StreamText(s.body, nullptr, &finish);
  EXPECT_EQ(finish, "tool_calls");
  // The tool's result comes back: a text answer.
  auto done = Chat(std::string(R"({"model":"demo-chat",)") + kWeatherTools +
                   R"(,"messages":[{"role":"user","content":"부산 날씨"},)"
                   R"({"role":"assistant","content":null,"tool_calls":)" +
                   bj::serialize(choice.at("message").at("tool_calls")) +
                   R"(},{"role":"tool","tool_call_id":"x","content":"맑음"}]})");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(Json(done).at("choices").at(0).at("message").at("content").as_string().rfind(
                "Simulated answer to: 부산 날씨", 0),
            0u);
}

TEST_F(GatewayTest, AnthropicToolUseComesBackAsOpenAiToolCalls) {
  Start();
  // Non-streamed: the request's tools, tool calls and tool results are translated; the answer's
  // tool_use block becomes a tool call.
  FakeResponse answer;
  answer.headers = {{"Content-Type", "application/json"}};
  answer.body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[)"
      R"({"type":"text","text":"확인할게요"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"부산"}}],)"
      R"("stop_reason":"tool_use","usage":{"input_tokens":30,"output_tokens":12}})";
  anthropic_.Enqueue(answer);
  auto r =
      Chat(std::string(R"({"model":"claude-test",)") + kWeatherTools +
           R"(,"tool_choice":"required","messages":[)"
           R"({"role":"user","content":"서울?"},)"
           R"({"role":"assistant","content":null,"tool_calls":[{"id":"toolu_0","type":"function",)"
           R"("function":{"name":"get_weather","arguments":"{\"city\":\"서울\"}"}}]},)"
           R"({"role":"tool","tool_call_id":"toolu_0","content":"맑음"},)"
           R"({"role":"user","content":"부산은?"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value answer_json = Json(r);
  const auto& choice = answer_json.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_EQ(choice.at("message").at("tool_calls"),
            bj::parse(R"([{"id":"toolu_1","type":"function",)"
                      R"("function":{"name":"get_weather","arguments":"{\"city\":\"부산\"}"}}])"));
  auto sent = json::Parse(anthropic_.requests()[0].body).value();
  EXPECT_EQ(sent.at("tools").at(0).at("name"), "get_weather");
  EXPECT_EQ(sent.at("tool_choice"), bj::parse(R"({"type":"any"})"));
  EXPECT_EQ(sent.at("messages").at(1).at("content").at(0).at("type"), "tool_use");
  EXPECT_EQ(sent.at("messages").at(2).at("content"),
            bj::parse(R"([{"type":"tool_result","tool_use_id":"toolu_0","content":"맑음"},)"
                      R"({"type":"text","text":"부산은?"}])"));

  // Streamed: the tool_use block arrives as OpenAI tool-call pieces.
  anthropic_.Enqueue(AnthropicSse({
      R"({"type":"message_start","message":{"usage":{"input_tokens":30,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use",)"
      R"("id":"toolu_2","name":"get_weather","input":{}}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",)"
      R"("partial_json":"{\"city\": \"대구\"}"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}})",
      R"({"type":"message_stop"})",
  }));
  auto s = Chat(std::string(R"({"model":"claude-test","stream":true,)") + kWeatherTools +
                R"(,"messages":[{"role":"user","content":"대구?"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  std::string finish;
  StreamText(s.body, nullptr, &finish);
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_EQ(bj::value(ToolCallsOf(s.body).calls),
            bj::parse(R"([{"id":"toolu_2","type":"function",)"
                      R"("function":{"name":"get_weather","arguments":"{\"city\": \"대구\"}"}}])"));

  // A JSON response format: the forced call's input is the answer's content.
  FakeResponse json_answer;
  json_answer.headers = {{"Content-Type", "application/json"}};
  json_answer.body =
      R"({"id":"msg_2","type":"message","role":"assistant","model":"claude","content":[)"
      R"({"type":"tool_use","id":"toolu_9","name":"promptops_json_answer","input":{"city":"대구"}}],)"
      R"("stop_reason":"tool_use","usage":{"input_tokens":9,"output_tokens":7}})";
  anthropic_.Enqueue(json_answer);
  auto j = Chat(
      R"({"model":"claude-test","response_format":{"type":"json_schema","json_schema":{"name":"c",)"
      R"("schema":{"type":"object","properties":{"city":{"type":"string"}}}}},)"
      R"("messages":[{"role":"user","content":"도시 하나"}]})");
  ASSERT_EQ(j.status, 200) << j.body;
  const bj::value jv = Json(j);
  EXPECT_EQ(bj::parse(jv.at("choices").at(0).at("message").at("content").as_string()),
            bj::parse(R"({"city":"대구"})"));
  EXPECT_EQ(jv.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_FALSE(jv.at("choices").at(0).at("message").as_object().contains("tool_calls"));
  EXPECT_EQ(json::Parse(anthropic_.requests().back().body)->at("tool_choice").at("name"),
            "promptops_json_answer");

  // What Anthropic cannot do is refused before any call, as the client's error.
  auto refused = Chat(
      R"({"model":"claude-test","logprobs":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("'logprobs' is not supported by this model's provider (anthropic)"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(anthropic_.request_count(), 3u);
}

TEST_F(GatewayTest, AnthropicUpstreamAnswersInOpenAiShape) {
  Start();
  anthropic_.Enqueue(testing::AnthropicResponse("Claude says hi", 12, 4, "max_tokens"));
  auto r = Chat(
      R"({"model":"claude-test","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = Json(r);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(), "Claude says hi");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "length");
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 12);
  auto sent = anthropic_.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target, "/v1/messages");
  EXPECT_EQ(*sent[0].Header("x-api-key"), kUpstreamKey);
  EXPECT_EQ(json::Parse(sent[0].body)->at("system").as_string(), "be brief");
  anthropic_.Enqueue(testing::AnthropicStream({"A", "B", "C"}, 5));
  auto s =
      Chat(R"({"model":"claude-test","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(StreamText(s.body), "ABC");
}

TEST_F(GatewayTest, PromptReferencesRenderTheVersionAndUseItsConfig) {
  Start();
  registry::PushRequest p;
  p.name = "support/bot";
  p.content = bj::array{bj::object{{"role", "system"}, {"content", "You help {{company}}."}}};
  p.config = bj::object{{"model", "gpt-test"}, {"temperature", 0.3}, {"max_tokens", 50}};
  p.labels = {"production"};
  ASSERT_TRUE(registry_->Push(Admin(), p).ok());
  openai_.SetHandler([](const testing::FakeRequest&) { return testing::OpenAiChatResponse("ok"); });
  auto r =
      Chat(R"({"model":"prompt:support/bot","variables":{"company":"에이크미"},"temperature":0.9,
                    "messages":[{"role":"user","content":"refund?"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(*r.Header("x-promptops-prompt"), "support/bot@1");
  EXPECT_EQ(*r.Header("x-promptops-model"), "gpt-test");
  auto body = *json::Parse(openai_.requests().back().body);
  const auto& msgs = body.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("content").as_string(), "You help 에이크미.");
  EXPECT_EQ(msgs[1].at("content").as_string(), "refund?");
  EXPECT_DOUBLE_EQ(body.at("temperature").as_double(), 0.9);  // the request overrides
  EXPECT_EQ(body.at("max_tokens").as_int64(), 50);            // the version's config
  auto missing =
      Chat(R"({"model":"prompt:support/bot","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("missing variables: company"), std::string::npos) << missing.body;
  EXPECT_EQ(Chat(R"({"model":"prompt:nope","messages":[{"role":"user","content":"x"}]})").status,
            404);
  EXPECT_EQ(Chat(R"({"model":"prompt:support/bot@staging","variables":{"company":"x"}})").status,
            404);

  // The version's config may carry the call's other parameters: its tools, response format,
  // stop sequences, seed; the request's own win; keys that are not OpenAI parameters stay home.
  registry::PushRequest tooled;
  tooled.name = "support/tooled";
  tooled.content = "Answer for {{company}}.";
  tooled.config =
      json::Parse(std::string(R"({"model":"gpt-test","seed":7,"stop":"END",)") +
                  R"("max_completion_tokens":99,"response_format":{"type":"json_object"},)" +
                  kWeatherTools + R"(,"tool_choice":"auto","owner_note":"마케팅팀"})")
          ->as_object();
  tooled.labels = {"production"};
  ASSERT_TRUE(registry_->Push(Admin(), tooled).ok());
  ASSERT_EQ(Chat(R"({"model":"prompt:support/tooled","variables":{"company":"x"}})").status, 200);
  auto sent = json::Parse(openai_.requests().back().body).value();
  EXPECT_EQ(sent.at("seed"), 7);
  EXPECT_EQ(sent.at("stop"), bj::parse(R"(["END"])"));
  EXPECT_EQ(sent.at("max_tokens"), 99);
  EXPECT_EQ(sent.at("response_format"), bj::parse(R"({"type":"json_object"})"));
  EXPECT_EQ(sent.at("tools").at(0).at("function").at("name"), "get_weather");
  EXPECT_EQ(sent.at("tool_choice"), "auto");
  EXPECT_FALSE(sent.as_object().contains("owner_note"));
  ASSERT_EQ(Chat(R"({"model":"prompt:support/tooled","variables":{"company":"x"},"seed":1,)"
                 R"("stop":["STOP"],"tool_choice":"none","response_format":{"type":"text"}})")
                .status,
            200);
  sent = json::Parse(openai_.requests().back().body).value();
  EXPECT_EQ(sent.at("seed"), 1);
  EXPECT_EQ(sent.at("stop"), bj::parse(R"(["STOP"])"));
  EXPECT_EQ(sent.at("tool_choice"), "none");
  EXPECT_EQ(sent.at("response_format"), bj::parse(R"({"type":"text"})"));
  EXPECT_EQ(sent.at("tools").at(0).at("function").at("name"), "get_weather");  // still the config's

  auto traces = Traces();
  ASSERT_FALSE(traces.empty());
  bool found = false;
  for (const auto& t : traces) {
    if (t.status == 200 && t.prompt_name == "support/bot") {
      EXPECT_EQ(t.prompt_name, "support/bot");
      EXPECT_EQ(t.prompt_version, 1);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(GatewayTest, RetriesServerErrorsHonouringRetryAfterAndNeverRetriesClientErrors) {
  Start([](GatewayConfig& c) { c.policy.max_retries = 2; });
  openai_.Enqueue(testing::ErrorResponse(500, R"({"error":{"message":"boom"}})"));
  openai_.Enqueue(testing::ErrorResponse(429, R"({"error":{"message":"slow down"}})", 0));
  openai_.Enqueue(testing::OpenAiChatResponse("third time lucky"));
  auto r = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(openai_.request_count(), 3u);
  openai_.Enqueue(testing::ErrorResponse(400, R"({"error":{"message":"bad param"}})"));
  auto bad = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(openai_.request_count(), 4u);
  auto traces = Traces();
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(traces[1].retries, 2);
}

TEST_F(GatewayTest, FallsBackToTheNextModelWhenTheUpstreamKeepsFailing) {
  Start([](GatewayConfig& c) { c.policy.max_retries = 1; });
  openai_.SetHandler([](const testing::FakeRequest&) {
    return testing::ErrorResponse(503, R"({"error":{"message":"down"}})");
  });
  auto r = Chat(R"({"model":"flaky","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string(Json(r).at("choices").at(0).at("message").at("content").as_string())
                .substr(0, 16),
            "Simulated answer");
  EXPECT_EQ(openai_.request_count(), 2u);  // the first try and one retry
  auto traces = Traces();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_TRUE(traces[0].fallback_used);
  EXPECT_EQ(traces[0].provider, "sim");
  // Streams fall back too when the error arrives before any byte.
  auto s = Chat(R"({"model":"flaky","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(StreamText(s.body).substr(0, 16), "Simulated answer");
}

TEST_F(GatewayTest, UpstreamFaultsBecomeCleanErrors) {
  Start([](GatewayConfig& c) {
    c.policy.max_retries = 0;
    c.policy.breaker_failures = 100;
  });
  struct Case {
    FakeResponse response;
    int status;
  } cases[] = {
      {testing::ErrorResponse(502, "not json at all"), 502},
      {[] {
         FakeResponse f;
         f.body = "{\"choices\": [ broken";
         f.headers = {{"Content-Type", "application/json"}};
         return f;
       }(),
       502},
      {[] {
         FakeResponse f;
         f.action = FakeResponse::Action::kReset;
         return f;
       }(),
       503},
      {[] {
         FakeResponse f;
         f.action = FakeResponse::Action::kClose;
         return f;
       }(),
       503},
      {[] {
         FakeResponse f;
         f.action = FakeResponse::Action::kHang;
         return f;
       }(),
       504},
  };
  for (auto& c : cases) {
    openai_.Enqueue(c.response);
    auto r = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})");
    EXPECT_GE(r.status, 500) << r.body;
    EXPECT_TRUE(Json(r).as_object().contains("error")) << r.body;
  }
  // A stream reset in the middle: the client gets what arrived, then an error event; no crash.
  FakeResponse reset = testing::OpenAiStream({"partial"}, false);
  reset.action = FakeResponse::Action::kStreamThenReset;
  openai_.Enqueue(reset);
  auto s =
      Chat(R"({"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(s.status, 200);
  EXPECT_NE(s.body.find("partial"), std::string::npos);
  EXPECT_NE(s.body.find("\"error\""), std::string::npos) << s.body;
}

TEST_F(GatewayTest, CircuitOpensAfterRepeatedFailures) {
  Start([](GatewayConfig& c) {
    c.policy.max_retries = 0;
    c.policy.breaker_failures = 2;
    c.policy.breaker_cooldown = std::chrono::milliseconds(60000);
  });
  openai_.SetHandler([](const testing::FakeRequest&) { return testing::ErrorResponse(500, "{}"); });
  for (int i = 0; i < 2; ++i)
    EXPECT_GE(Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})").status,
              500);
  auto fast = Chat(R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(fast.status, 503);
  EXPECT_NE(fast.body.find("circuit open"), std::string::npos) << fast.body;
  EXPECT_EQ(openai_.request_count(), 2u);
}

// A model whose upstream's circuit is open falls back at once, and the fallback's answer is the
// whole answer (nothing of the open circuit's failure is left in it).
TEST_F(GatewayTest, OpenCircuitFallsBackToTheNextModel) {
  Start([](GatewayConfig& c) {
    c.policy.max_retries = 0;
    c.policy.breaker_failures = 2;
    c.policy.breaker_cooldown = std::chrono::milliseconds(60000);
    ModelConfig m = c.models.at("claude-test");
    m.name = "claude-first";
    m.fallbacks = {"gpt-test"};
    c.models[m.name] = m;
  });
  anthropic_.SetHandler(
      [](const testing::FakeRequest&) { return testing::ErrorResponse(500, "{}"); });
  openai_.SetHandler(
      [](const testing::FakeRequest&) { return testing::OpenAiChatResponse("from the fallback"); });
  const char* body = R"({"model":"claude-first","messages":[{"role":"user","content":"hi"}]})";
  for (int i = 0; i < 3; ++i) {  // the third finds the circuit open
    auto r = Chat(body);
    ASSERT_EQ(r.status, 200) << i << ": " << r.body;
    EXPECT_EQ(Json(r).at("choices").at(0).at("message").at("content").as_string(),
              "from the fallback");
  }
  EXPECT_EQ(anthropic_.request_count(), 2u);
  EXPECT_EQ(openai_.request_count(), 3u);
}

TEST_F(GatewayTest, CachesDeterministicAnswersAndReplaysThemAsStreams) {
  Start();
  openai_.SetHandler(
      [](const testing::FakeRequest&) { return testing::OpenAiChatResponse("cached answer"); });
  const char* body =
      R"({"model":"gpt-test","temperature":0,"messages":[{"role":"user","content":"same"}]})";
  auto first = Chat(body);
  EXPECT_EQ(*first.Header("x-promptops-cache"), "miss");
  auto second = Chat(body);
  EXPECT_EQ(*second.Header("x-promptops-cache"), "hit");
  EXPECT_EQ(Json(second).at("choices").at(0).at("message").at("content").as_string(),
            "cached answer");
  EXPECT_EQ(openai_.request_count(), 1u);
  auto bypass = Chat(body, {{"Cache-Control", "no-cache"}});
  EXPECT_EQ(*bypass.Header("x-promptops-cache"), "off");
  EXPECT_EQ(openai_.request_count(), 2u);
  // Directives are case-insensitive tokens in a list; no-store bypasses it too; others do not.
  for (const char* cc : {"max-age=0, No-Store", "NO-CACHE", "private,no-cache=\"x\""}) {
    EXPECT_EQ(*Chat(body, {{"Cache-Control", cc}}).Header("x-promptops-cache"), "off") << cc;
  }
  EXPECT_EQ(openai_.request_count(), 5u);
  EXPECT_EQ(*Chat(body, {{"Cache-Control", "max-age=60"}}).Header("x-promptops-cache"), "hit");
  EXPECT_EQ(*Chat(body, {{"Cache-Control", "x-no-cache-please"}}).Header("x-promptops-cache"),
            "hit");
  auto replay = Chat(
      R"({"model":"gpt-test","temperature":0,"stream":true,"messages":[{"role":"user","content":"same"}]})");
  EXPECT_EQ(*replay.Header("x-promptops-cache"), "hit");
  EXPECT_EQ(StreamText(replay.body), "cached answer");
  // Not cached by default when the temperature is not 0.
  auto warm = Chat(
      R"({"model":"gpt-test","temperature":0.7,"messages":[{"role":"user","content":"same"}]})");
  EXPECT_EQ(*warm.Header("x-promptops-cache"), "off");
}

// A ResponseWriter whose client has already left: nothing can be sent.
namespace asio = boost::asio;

class GoneWriter final : public http::ResponseWriter {
 public:
  explicit GoneWriter(asio::io_context& ioc) : ex_(ioc.get_executor()) {}
  asio::awaitable<bool> StartStream(int, http::Headers, std::string) override { co_return false; }
  asio::awaitable<bool> Write(std::string_view) override { co_return false; }
  asio::awaitable<void> Finish() override { co_return; }
  bool ClientGone() const override { return true; }
  asio::cancellation_slot CancelSlot() override { return cancel_.slot(); }
  asio::any_io_executor executor() const override { return ex_; }

 private:
  asio::any_io_executor ex_;
  asio::cancellation_signal cancel_;
};

TEST_F(GatewayTest, CachedStreamToAClientThatLeftIsTracedAsCancelled) {
  Start();
  openai_.SetHandler(
      [](const testing::FakeRequest&) { return testing::OpenAiChatResponse("cached answer"); });
  EXPECT_EQ(
      Chat(R"({"model":"gpt-test","temperature":0,"messages":[{"role":"user","content":"q"}]})")
          .status,
      200);
  // The same request, streamed from the cache to a client that is gone before the head.
  http::Router router;
  gateway_->AddRoutes(router);
  http::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.headers = {{"authorization", std::string("Bearer ") + kKey}};
  req.body =
      R"({"model":"gpt-test","temperature":0,"stream":true,"messages":[{"role":"user","content":"q"}]})";
  auto match = router.Find(req);
  ASSERT_TRUE(match.ok() && match->async);
  asio::io_context ioc;
  GoneWriter w(ioc);
  http::testing::RunSync(ioc, match->async->handler(req, w));
  bool traced = false;
  for (const auto& t : Traces()) {
    traced = traced || (t.cache_hit && t.status == 499 && t.error_class == "client_cancelled");
  }
  EXPECT_TRUE(traced);
  EXPECT_EQ(openai_.request_count(), 1u);  // answered from the cache
}

TEST_F(GatewayTest, RateLimitsAnswer429WithRetryAfter) {
  Start([](GatewayConfig& c) { c.policy.per_key.requests_per_minute = 2; });
  EXPECT_EQ(Chat(kHello).status, 200);
  EXPECT_EQ(Chat(kHello).status, 200);
  auto limited = Chat(kHello);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(*limited.Header("retry-after"), "30");
  EXPECT_EQ(Json(limited).at("error").at("type").as_string(), "rate_limit_error");
  auto usage = http::Fetch("GET", base_ + "/api/v1/usage",
                           {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(Json(*usage).at("key").at("requests_per_minute_limit").as_int64(), 2);
}

TEST_F(GatewayTest, BadRequestsGetOpenAiShapedErrors) {
  Start();
  struct Case {
    std::string body;
    std::string key;
    int status;
  } cases[] = {
      {kHello, "", 401},
      {kHello, "po-wrong-wrong-wrong-wrong-wrong", 401},
      {"{not json", kKey, 400},
      {std::string(100, '[') + std::string(100, ']'), kKey, 400},
      {"{\"model\":\"demo-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"\xC3\x28\"}]}",
       kKey, 400},
      {R"({"model":"no-such-model","messages":[{"role":"user","content":"x"}]})", kKey, 404},
      {R"({"model":"demo-chat","messages":[{"role":"user","content":"x"}],"temperature":5})", kKey,
       400},
  };
  for (const auto& c : cases) {
    auto r = Post("/v1/chat/completions", c.body, {}, c.key);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    auto v = json::Parse(r.body);
    ASSERT_TRUE(v.ok()) << r.body;
    EXPECT_TRUE(v->at("error").as_object().contains("message"));
    EXPECT_TRUE(v->at("error").as_object().contains("type"));
  }
  std::string big = R"({"model":"demo-chat","messages":[{"role":"user","content":")" +
                    std::string(5 << 20, 'x') + "\"}]}";
  EXPECT_EQ(Post("/v1/chat/completions", big).status, 413);
}

TEST_F(GatewayTest, ModelsAndEmbeddings) {
  Start();
  auto models =
      http::Fetch("GET", base_ + "/v1/models", {{"Authorization", std::string("Bearer ") + kKey}});
  ASSERT_TRUE(models.ok());
  auto v = Json(*models);
  EXPECT_EQ(v.at("object").as_string(), "list");
  std::set<std::string> ids;
  for (const auto& m : v.at("data").as_array()) ids.insert(std::string(m.at("id").as_string()));
  EXPECT_TRUE(ids.count("demo-chat") && ids.count("chat-default") && ids.count("gpt-test"));
  // Retrieve one: a model, an alias, an unknown one, without a key.
  auto get = [&](const std::string& id, const std::string& key = kKey) {
    auto r = http::Fetch("GET", base_ + "/v1/models/" + id, {{"Authorization", "Bearer " + key}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http::ClientResponse{};
  };
  auto one = get("gpt-test");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Json(one),
            bj::parse(R"({"id":"gpt-test","object":"model","created":)" +
                      std::to_string(Json(one).at("created").as_int64()) + R"(,"owned_by":"oa"})"));
  EXPECT_EQ(Json(get("chat-default")).at("owned_by"), "alias:demo-chat");
  EXPECT_EQ(Json(get("demo-chat")).at("owned_by"), "promptops-simulated");
  auto missing = get("org/no-such-model");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json(missing).at("error").at("code"), "model_not_found");
  EXPECT_NE(Json(missing).at("error").at("message").as_string().find("'org/no-such-model'"),
            std::string::npos);
  EXPECT_EQ(get("gpt-test", "wrong-key").status, 401);
  // The SDKs percent-encode the id (a slash as %2F): decoded before the lookup.
  EXPECT_EQ(Json(get("gpt%2Dtest")).at("id"), "gpt-test");
  EXPECT_NE(Json(get("org%2Fno-such-model"))
                .at("error")
                .at("message")
                .as_string()
                .find("'org/no-such-model'"),
            std::string::npos);
  auto e = Post("/v1/embeddings", R"({"model":"demo-chat","input":["a","b"]})");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(Json(e).at("data").as_array().size(), 2u);
  // Its trace id header, as for chat; errors have one too.
  ASSERT_TRUE(e.Header("x-promptops-trace-id").has_value());
  EXPECT_EQ(e.Header("x-promptops-trace-id")->rfind("tr-", 0), 0u);
  auto no_input = Post("/v1/embeddings", R"({"model":"demo-chat"})");
  EXPECT_EQ(no_input.status, 400);
  EXPECT_TRUE(no_input.Header("x-promptops-trace-id").has_value());
  // base64 (the SDKs' default) carries the same vector as little-endian float32.
  auto b64 =
      Post("/v1/embeddings", R"({"model":"demo-chat","input":["a"],"encoding_format":"base64"})");
  ASSERT_EQ(b64.status, 200) << b64.body;
  auto raw = Base64Decode(Json(b64).at("data").at(0).at("embedding").as_string());
  ASSERT_TRUE(raw.has_value());
  ASSERT_EQ(raw->size(), 16 * sizeof(float));
  const bj::value plain = Json(e);  // kept alive: `floats` refers into it
  const auto& floats = plain.at("data").at(0).at("embedding").as_array();
  for (std::size_t d = 0; d < 16; ++d) {
    float f;
    std::memcpy(&f, raw->data() + d * sizeof f, sizeof f);
    EXPECT_FLOAT_EQ(f, static_cast<float>(floats[d].as_double()));
  }
  EXPECT_EQ(
      Post("/v1/embeddings", R"({"model":"demo-chat","input":"a","encoding_format":"hex"})").status,
      400);
  FakeResponse embedding;
  embedding.headers = {{"Content-Type", "application/json"}};
  embedding.body =
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"x","usage":{"prompt_tokens":1,"total_tokens":1}})";
  openai_.Enqueue(embedding);
  auto up = Post("/v1/embeddings", R"({"model":"gpt-test","input":"hello"})");
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(json::Parse(openai_.requests().back().body)->at("model").as_string(),
            "gpt-4o-mini-upstream");
  EXPECT_EQ(Post("/v1/embeddings", R"({"model":"claude-test","input":"x"})").status, 400);
  openai_.Enqueue(testing::ErrorResponse(429, R"({"error":{"message":"embedding quota"}})", 3));
  auto limited = Post("/v1/embeddings", R"({"model":"gpt-test","input":"hello"})");
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("embedding quota"), std::string::npos) << limited.body;
  EXPECT_EQ(*limited.Header("retry-after"), "3");
  ASSERT_TRUE(limited.Header("x-promptops-trace-id").has_value());
  int embedding_traces = 0;
  for (const auto& t : Traces())
    embedding_traces += t.model == "gpt-test" || t.model == "demo-chat";
  EXPECT_GE(embedding_traces, 3);
}

TEST_F(GatewayTest, AnErrorEventBeforeTheFirstTokenFallsBack) {
  Start([](GatewayConfig& c) { c.policy.max_retries = 0; });
  FakeResponse err;
  err.action = FakeResponse::Action::kStream;
  err.headers = {{"Content-Type", "text/event-stream"}};
  err.stream = {
      {"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", {}}};
  openai_.Enqueue(err);
  auto s = Chat(R"({"model":"flaky","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(StreamText(s.body).substr(0, 16), "Simulated answer");
  auto traces = Traces();
  ASSERT_FALSE(traces.empty());
  EXPECT_TRUE(traces[0].fallback_used);
}

TEST_F(GatewayTest, ClientDisconnectingMidStreamCancelsTheUpstreamAndIsTraced) {
  Start();
  FakeResponse slow =
      testing::OpenAiStream({"one ", "two ", "three"}, true, std::chrono::milliseconds(300));
  openai_.Enqueue(slow);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string body =
      R"({"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    std::string(kKey) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  char buf[4096];
  std::string got;
  while (got.find("one") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // The trace says the client went away; the gateway keeps serving.
  bool traced = false;
  for (int i = 0; i < 100 && !traced; ++i) {
    for (const auto& t : Traces()) traced = traced || t.error_class == "client_cancelled";
    if (!traced) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(traced);
  EXPECT_EQ(Chat(kHello).status, 200);
}

TEST_F(GatewayTest, ClientDisconnectingDuringANonStreamedCallCancelsItAtOnce) {
  Start();
  FakeResponse hang;
  hang.action = FakeResponse::Action::kHang;
  openai_.Enqueue(hang);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string body = R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})";
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    std::string(kKey) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  ASSERT_TRUE(openai_.WaitForRequests(1, std::chrono::seconds(5)));
  auto t0 = std::chrono::steady_clock::now();
  ::close(fd);
  // The upstream hangs for its 2 s first-byte timeout; the cancel must come long before.
  bool traced = false;
  while (!traced && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1500)) {
    for (const auto& t : Traces()) traced = traced || t.error_class == "client_cancelled";
    if (!traced) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(traced) << "the upstream call was not cancelled when the client left";
  EXPECT_EQ(Chat(kHello).status, 200);
}

TEST(MaskForTrace, MasksEmailsNumbersAndKeys) {
  EXPECT_EQ(
      MaskForTrace("mail kim@example.co.kr or call 010-1234-5678, key sk-abcdefghijklmnopqrstuv"),
      "mail [EMAIL] or call [NUMBER], key [SECRET]");
  EXPECT_EQ(MaskForTrace("order 42 of 2024"), "order 42 of 2024");
  EXPECT_EQ(MaskForTrace("안녕하세요 민수님"), "안녕하세요 민수님");
}

}  // namespace
}  // namespace promptops::gateway
