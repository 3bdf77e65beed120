#include "gateway/limits.h"

#include <gtest/gtest.h>

namespace promptops::gateway {
namespace {

TEST(UsageLimiter, RequestsPerMinuteRefillAndReportRetryAfter) {
  FakeClock clock;
  UsageLimiter l(clock, LimitConfig{6, 0, 0}, LimitConfig{});
  std::chrono::seconds retry{0};
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(l.Admit("k", 1, &retry).ok()) << i;
  auto s = l.Admit("k", 1, &retry);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(retry.count(), 10);  // 6 per minute: one every 10 s
  EXPECT_NE(s.error().message.find("6 requests per minute"), std::string::npos);
  EXPECT_TRUE(l.Admit("other-key", 1, &retry).ok());  // per key
  clock.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(l.Admit("k", 1, &retry).ok());
}

TEST(UsageLimiter, DailyTokenAndCostBudgetsResetAtUtcMidnight) {
  FakeClock clock(FromUnixMillis(1'700'000'000'000));  // 22:13:20 UTC
  UsageLimiter l(clock, LimitConfig{0, 1000, 0}, LimitConfig{0, 0, 1.0});
  std::chrono::seconds retry{0};
  ASSERT_TRUE(l.Admit("k", 1, &retry).ok());
  l.Record("k", 1, 1000, 0.10);
  auto s = l.Admit("k", 1, &retry);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(retry.count(), 6400);  // until 00:00:00
  EXPECT_EQ(l.KeyUsage("k").tokens_today, 1000);
  ASSERT_TRUE(l.Admit("k2", 1, &retry).ok());
  l.Record("k2", 1, 10, 0.95);
  auto project = l.Admit("k3", 1, &retry);
  ASSERT_FALSE(project.ok());
  EXPECT_NE(project.error().message.find("project"), std::string::npos);
  clock.Advance(std::chrono::seconds(6400));
  EXPECT_TRUE(l.Admit("k", 1, &retry).ok());
  EXPECT_EQ(l.KeyUsage("k").tokens_today, 0);
}

TEST(UsageLimiter, ZeroMeansUnlimited) {
  FakeClock clock;
  UsageLimiter l(clock, LimitConfig{}, LimitConfig{});
  std::chrono::seconds retry{0};
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(l.Admit("k", 1, &retry).ok());
  EXPECT_LT(l.KeyUsage("k").requests_available, 0);
  // Usage is counted all the same, per key and per project, and rolls over at UTC midnight.
  l.Record("k", 1, 120, 0.25);
  l.Record("k2", 1, 30, 0.05);
  EXPECT_EQ(l.KeyUsage("k").tokens_today, 120);
  EXPECT_EQ(l.ProjectUsage(1).tokens_today, 150);
  EXPECT_DOUBLE_EQ(l.ProjectUsage(1).cost_today_usd, 0.30);
  clock.Advance(std::chrono::hours(24));
  EXPECT_TRUE(l.Admit("k", 1, &retry).ok());
  EXPECT_EQ(l.KeyUsage("k").tokens_today, 0);
  EXPECT_EQ(l.ProjectUsage(1).tokens_today, 0);
}

}  // namespace
}  // namespace promptops::gateway
