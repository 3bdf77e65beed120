#include "gateway/circuit_breaker.h"

namespace promptops::gateway {

bool CircuitBreaker::Allow() {
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
  std::lock_guard lock(mu_);
  state_ = State::kClosed;
  consecutive_failures_ = 0;
  trial_in_flight_ = false;
}

void CircuitBreaker::RecordFailure() {
  std::lock_guard lock(mu_);
  ++consecutive_failures_;
  if (state_ == State::kHalfOpen || consecutive_failures_ >= threshold_) {
    state_ = State::kOpen;
    opened_at_ = clock_.Now();
    trial_in_flight_ = false;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

}  // namespace promptops::gateway
