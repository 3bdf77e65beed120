#include "gateway/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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

TEST(CircuitBreaker, HealthyFastPathStillSeesFailuresFromOtherThreads) {
  FakeClock clock;
  CircuitBreaker b(clock, 3, std::chrono::milliseconds(1000));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (b.Allow()) ++allowed;
        b.RecordSuccess();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 20000);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  // Failures counted on another thread open it; the lock-free Allow sees that at once.
  std::thread([&] {
    for (int i = 0; i < 3; ++i) b.RecordFailure();
  }).join();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Allow());
  // A success after a failure is not skipped: it resets the count.
  clock.Advance(std::chrono::milliseconds(1000));
  ASSERT_TRUE(b.Allow());
  b.RecordSuccess();
  b.RecordFailure();
  b.RecordFailure();
  b.RecordSuccess();
  b.RecordFailure();
  b.RecordFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
}

}  // namespace
}  // namespace promptops::gateway
