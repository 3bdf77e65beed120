#include "gateway/response_cache.h"

#include <gtest/gtest.h>

namespace promptops::gateway {
namespace {

providers::ChatRequest Req(std::string text, double temperature = 0) {
  providers::ChatRequest r;
  r.model = "m";
  r.messages.push_back(boost::json::object{{"role", "user"}, {"content", text}});
  r.temperature = temperature;
  return r;
}

CachedAnswer Answer(std::string text) {
  CachedAnswer a;
  a.response.content = std::move(text);
  a.usage.prompt_tokens = 1;
  a.usage.completion_tokens = 1;
  return a;
}

TEST(ResponseCache, KeyCoversProviderModelMessagesAndParameters) {
  auto base = ResponseCache::Key("p", Req("hi"));
  EXPECT_EQ(base, ResponseCache::Key("p", Req("hi")));
  EXPECT_NE(base, ResponseCache::Key("q", Req("hi")));
  EXPECT_NE(base, ResponseCache::Key("p", Req("hello")));
  EXPECT_NE(base, ResponseCache::Key("p", Req("hi", 0.5)));
  auto other_model = Req("hi");
  other_model.model = "n";
  EXPECT_NE(base, ResponseCache::Key("p", other_model));
  auto stop = Req("hi");
  stop.stop = {"x"};
  EXPECT_NE(base, ResponseCache::Key("p", stop));
}

TEST(ResponseCache, ExpiresAfterTtl) {
  FakeClock clock;
  ResponseCache cache(1 << 20, std::chrono::seconds(10), clock);
  cache.Put("k", Answer("a"));
  ASSERT_NE(cache.Get("k"), nullptr);
  clock.Advance(std::chrono::seconds(11));
  EXPECT_EQ(cache.Get("k"), nullptr);
  auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 0u);
}

TEST(ResponseCache, EvictsLeastRecentlyUsedWithinTheByteBound) {
  FakeClock clock;
  ResponseCache cache(8 * 1024, std::chrono::seconds(60), clock);
  std::string body(1000, 'x');
  for (int i = 0; i < 5; ++i) cache.Put("k" + std::to_string(i), Answer(body));
  ASSERT_NE(cache.Get("k0"), nullptr);  // k0 becomes most recent
  for (int i = 5; i < 8; ++i) cache.Put("k" + std::to_string(i), Answer(body));
  EXPECT_LE(cache.stats().bytes, 8u * 1024);
  EXPECT_GT(cache.stats().evictions, 0u);
  EXPECT_NE(cache.Get("k0"), nullptr);
  EXPECT_EQ(cache.Get("k1"), nullptr);
  // Too large for the cache: not stored.
  cache.Put("huge", Answer(std::string(4096, 'y')));
  EXPECT_EQ(cache.Get("huge"), nullptr);
  // Logprobs (and tool calls) count too: a short text with large logprobs is too large.
  CachedAnswer scored = Answer("yes");
  boost::json::array tokens;
  for (int i = 0; i < 100; ++i) {
    tokens.push_back({{"token", "yes"}, {"logprob", -0.5}, {"top_logprobs", boost::json::array()}});
  }
  scored.response.logprobs = boost::json::object{{"content", std::move(tokens)}};
  cache.Put("scored", scored);
  EXPECT_EQ(cache.Get("scored"), nullptr);
  scored.response.logprobs.reset();
  cache.Put("scored", scored);
  EXPECT_NE(cache.Get("scored"), nullptr);
}

}  // namespace
}  // namespace promptops::gateway
