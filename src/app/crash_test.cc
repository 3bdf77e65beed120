// Durability: SIGKILL the real server during a burst of concurrent pushes; after a restart every
// acknowledged version is there with its content, version numbers are dense, and the database
// passes SQLite's integrity check. Also: SIGTERM lets in-flight requests finish and exits 0.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "core/json.h"
#include "http/client.h"
#include "store/sqlite.h"
#include "store/sqlite_traces.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace promptops {
namespace {

namespace bj = boost::json;
constexpr const char* kKey = "po-crash-test-admin-key-0123456789abcdef";

http::Headers Auth() {
  return {{"Authorization", std::string("Bearer ") + kKey}, {"Content-Type", "application/json"}};
}

struct Ack {
  std::string name;
  std::int64_t number;
  std::string content;
};

TEST(Durability, SigkillDuringConcurrentPushesLosesNoAcknowledgedVersion) {
  if (testing::PromptopsBinary().empty()) GTEST_SKIP() << "PROMPTOPS_BINARY not set";
  testing::TempDir dir;
  testing::ServerProcess::Options opts;
  opts.data_dir = dir.path() / "data";
  opts.admin_key = kKey;
  auto server = testing::ServerProcess::Start(opts);
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  const std::string url = (*server)->url();

  std::mutex mu;
  std::vector<Ack> acks;
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        // Two threads share one prompt (racing for version numbers), two have their own.
        std::string name = t < 2 ? "crash/shared" : "crash/own-" + std::to_string(t);
        std::string content =
            "thread " + std::to_string(t) + " push " + std::to_string(i) + " {{x}}";
        bj::object body{{"prompt", content}, {"message", "burst"}};
        auto r = http::Fetch("POST", url + "/api/v1/prompts/" + http::UrlEncode(name) + "/versions",
                             Auth(), bj::serialize(body), {.timeout = std::chrono::seconds(5)});
        if (!r.ok()) continue;  // the server is gone: not acknowledged
        if (r->status != 201) continue;
        auto v = json::Parse(r->body);
        if (!v.ok()) continue;
        std::lock_guard lock(mu);
        acks.push_back({name, v->at("version").at("version").as_int64(), content});
        ++acked;
      }
    });
  }
  // Kill once a good number of pushes were acknowledged, while the clients keep pushing.
  for (int i = 0; i < 3000 && acked < 60; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ((*server)->Kill(SIGKILL), 128 + SIGKILL);
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_GE(acks.size(), 10u) << "too few pushes were acknowledged to test anything";

  // The database file is consistent.
  {
    auto c = store::sqlite::Connection::Open((opts.data_dir / "promptops.db").string());
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    auto st = (*c)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->Text(0), "ok");
  }

  opts.admin_key.clear();
  auto restarted = testing::ServerProcess::Start(opts);
  ASSERT_TRUE(restarted.ok()) << restarted.error().ToString();
  const std::string url2 = (*restarted)->url();
  std::map<std::string, std::int64_t> max_acked;
  for (const auto& a : acks) {
    auto r = http::Fetch("GET",
                         url2 + "/api/v1/prompts/" + http::UrlEncode(a.name) + "/versions/" +
                             std::to_string(a.number),
                         Auth());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << a.name << "#" << a.number << " lost: " << r->body;
    EXPECT_EQ(json::Parse(r->body)->at("prompt").as_string(), a.content);
    max_acked[a.name] = std::max(max_acked[a.name], a.number);
  }
  // Numbers are dense (no gaps, no duplicates) and at least every acknowledged one exists.
  for (const auto& [name, max] : max_acked) {
    auto r = http::Fetch("GET", url2 + "/api/v1/prompts/" + http::UrlEncode(name) + "/log", Auth());
    ASSERT_TRUE(r.ok());
    auto data = json::Parse(r->body)->at("data").as_array();
    ASSERT_GE(static_cast<std::int64_t>(data.size()), max);
    std::int64_t expect = static_cast<std::int64_t>(data.size());
    for (const auto& v : data) EXPECT_EQ(v.at("version").as_int64(), expect--);
  }
  EXPECT_EQ((*restarted)->Stop(), 0);
}

// Also with busy polling on (`--busy-poll-us`): the network threads poll instead of sleeping,
// and the graceful stop is the same.
TEST(Durability, SigtermFinishesInFlightRequestsAndExitsZero) {
  if (testing::PromptopsBinary().empty()) GTEST_SKIP() << "PROMPTOPS_BINARY not set";
  for (std::vector<std::string> args :
       {std::vector<std::string>{}, std::vector<std::string>{"--busy-poll-us", "200"}}) {
    SCOPED_TRACE(args.empty() ? "default" : "busy polling");
    testing::TempDir dir;
    testing::ServerProcess::Options opts;
    opts.data_dir = dir.path() / "data";
    opts.admin_key = kKey;
    opts.extra_args = args;
    auto server = testing::ServerProcess::Start(opts);
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    std::atomic<int> ok{0}, sent{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          bj::object body{{"prompt", "t" + std::to_string(t) + " " + std::to_string(i)}};
          auto r = http::Fetch("POST", (*server)->url() + "/api/v1/prompts/term/versions", Auth(),
                               bj::serialize(body));
          if (!r.ok()) return;  // refused after shutdown began: never half-done
          ++sent;
          if (r->status == 201) ++ok;
        }
      });
    }
    while (sent < 20) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ((*server)->Stop(), 0);
    for (auto& c : clients) c.join();
    EXPECT_EQ(ok.load(), sent.load()) << "every request that got an answer was a success";
  }
}

}  // namespace
}  // namespace promptops

namespace promptops {
namespace {

TEST(Durability, TracesQueuedAtShutdownAreStored) {
  if (testing::PromptopsBinary().empty()) GTEST_SKIP() << "PROMPTOPS_BINARY not set";
  testing::TempDir dir;
  testing::ServerProcess::Options opts;
  opts.data_dir = dir.path() / "data";
  opts.admin_key = kKey;
  opts.extra_args = {"--demo"};
  auto server = testing::ServerProcess::Start(opts);
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  constexpr int kCalls = 5;  // the demo model answers in ~200 ms each
  std::vector<std::string> trace_ids;
  for (int i = 0; i < kCalls; ++i) {
    bj::object body{{"model", "demo-chat"},
                    {"max_tokens", 5},
                    {"messages", bj::array{bj::object{{"role", "user"},
                                                      {"content", "hi " + std::to_string(i)}}}}};
    auto r =
        http::Fetch("POST", (*server)->url() + "/v1/chat/completions", Auth(), bj::serialize(body));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    trace_ids.emplace_back(*r->Header("x-promptops-trace-id"));
  }
  // Stop right away: the writer has not necessarily stored them yet; shutdown must.
  EXPECT_EQ((*server)->Stop(), 0);
  auto c = store::sqlite::Connection::Open((opts.data_dir / "promptops.db").string());
  ASSERT_TRUE(c.ok());
  auto traces = store::NewSqliteTraceRepository(**c);
  for (const auto& id : trace_ids) {
    auto t = traces->Get(1, id);
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    ASSERT_TRUE(t->has_value()) << "trace " << id << " lost at shutdown";
    EXPECT_EQ((*t)->status, 200);
  }
}

}  // namespace
}  // namespace promptops
