// A per-upstream circuit breaker: after `failures` consecutive retryable failures the circuit
// opens and calls fail fast for `cooldown`; then one trial call is let through (half-open): its
// success closes the circuit, its failure opens it again.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

#include "core/clock.h"

namespace promptops::gateway {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(const Clock& clock, int failures, std::chrono::milliseconds cooldown)
      : clock_(clock), threshold_(failures), cooldown_(cooldown) {}

  // Whether a call may go to the upstream now. In half-open state only one caller gets true
  // until it reports its outcome.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  State state() const;

 private:
  const Clock& clock_;
  const int threshold_;
  const std::chrono::milliseconds cooldown_;
  mutable std::mutex mu_;
  // Lock-free fast paths for the common case (every call of a healthy upstream): both are
  // written under mu_ and mirror the state below.
  std::atomic<bool> closed_{true};  // state_ == kClosed
  std::atomic<bool> clean_{true};   // closed, no failure counted, no trial in flight
  State state_ = State::kClosed;    // guarded by mu_
  int consecutive_failures_ = 0;    // guarded by mu_
  SystemTime opened_at_{};          // guarded by mu_
  bool trial_in_flight_ = false;    // guarded by mu_
};

}  // namespace promptops::gateway
