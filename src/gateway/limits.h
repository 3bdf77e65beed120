// Budgets and rate limits per API key and per project: requests per minute (token bucket),
// tokens per UTC day and cost per UTC day. Admit() is checked before an upstream call and
// Record() adds what the call used. Counters live in memory (one instance per process; a Redis
// backend shares them across instances later).
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/error.h"
#include "gateway/config.h"

namespace promptops::gateway {

struct LimitUsage {
  double requests_available = 0;  // tokens left in the per-minute bucket (-1 if unlimited)
  std::int64_t tokens_today = 0;
  double cost_today_usd = 0;
};

class UsageLimiter {
 public:
  UsageLimiter(const Clock& clock, LimitConfig per_key, LimitConfig per_project);

  // Takes one request from the key's and the project's buckets, or fails with RateLimited
  // ("... retry after N s") without taking anything. `retry_after` is set on failure.
  Status Admit(const std::string& key_id, std::int64_t project_id,
               std::chrono::seconds* retry_after);
  // Adds the tokens and cost of a finished call.
  void Record(const std::string& key_id, std::int64_t project_id, std::int64_t tokens,
              double cost_usd);

  LimitUsage KeyUsage(const std::string& key_id);
  LimitUsage ProjectUsage(std::int64_t project_id);
  const LimitConfig& per_key() const { return per_key_; }
  const LimitConfig& per_project() const { return per_project_; }

 private:
  struct Counter {
    double bucket = -1;  // -1: not initialised
    SystemTime refilled{};
    std::int64_t day = -1;  // days since epoch of the counters below
    std::int64_t tokens = 0;
    double cost = 0;
  };
  // Refills the bucket and rolls the day; caller holds mu_.
  void Refresh(Counter& c, const LimitConfig& l, SystemTime now);
  // Why `c` cannot take a request now, or nullopt.
  std::optional<std::string> Blocked(const Counter& c, const LimitConfig& l, SystemTime now,
                                     std::chrono::seconds* retry_after) const;
  LimitUsage Usage(Counter& c, const LimitConfig& l);

  const Clock& clock_;
  const LimitConfig per_key_, per_project_;
  std::mutex mu_;
  std::unordered_map<std::string, Counter> keys_;       // guarded by mu_
  std::unordered_map<std::int64_t, Counter> projects_;  // guarded by mu_
};

}  // namespace promptops::gateway
