#include "gateway/circuit_breaker.h"

#include <gtest/gtest.h>

namespace promptops::gateway {
namespace {

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndRecoversThroughOneTrial) {
  FakeClock clock;
  CircuitBreaker b(clock, 3, std::chrono::milliseconds(1000));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.Allow());
    b.RecordFailure();
  }
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  b.RecordSuccess();  // a success resets the count
  for (int i = 0; i < 3; ++i) b.RecordFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Allow());
  clock.Advance(std::chrono::milliseconds(1000));
  EXPECT_TRUE(b.Allow());   // the trial
  EXPECT_FALSE(b.Allow());  // only one at a time
  b.RecordFailure();        // trial failed: open again
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Allow());
  clock.Advance(std::chrono::milliseconds(1000));
  ASSERT_TRUE(b.Allow());
  b.RecordSuccess();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(b.Allow());
  EXPECT_TRUE(b.Allow());
}

}  // namespace
}  // namespace promptops::gateway
