#include "gateway/circuit_breaker.h"

namespace promptops::gateway {

bool CircuitBreaker::Allow() {
  if (closed_.load(std::memory_order_acquire)) return true;
  std::lock_guard lock(mu_);
  if (state_ == State::kClosed) return true;
  if (state_ == State::kOpen) {
    if (clock_.Now() - opened_at_ < cooldown_) return false;
    state_ = State::kHalfOpen;
    trial_in_flight_ = false;
  }
  if (trial_in_flight_) return false;
  trial_in_flight_ = true;
  return true;
}

void CircuitBreaker::RecordSuccess() {
  if (clean_.load(std::memory_order_acquire)) return;  // nothing to reset
  std::lock_guard lock(mu_);
  state_ = State::kClosed;
  consecutive_failures_ = 0;
  trial_in_flight_ = false;
  closed_.store(true, std::memory_order_release);
  clean_.store(true, std::memory_order_release);
}

void CircuitBreaker::RecordFailure() {
  std::lock_guard lock(mu_);
  clean_.store(false, std::memory_order_release);
  ++consecutive_failures_;
  if (state_ == State::kHalfOpen || consecutive_failures_ >= threshold_) {
    state_ = State::kOpen;
    opened_at_ = clock_.Now();
    trial_in_flight_ = false;
    closed_.store(false, std::memory_order_release);
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

}  // namespace promptops::gateway
