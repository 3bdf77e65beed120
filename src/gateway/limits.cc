#include "gateway/limits.h"

#include <algorithm>
#include <cmath>

namespace promptops::gateway {

namespace {
constexpr std::int64_t kDayMs = 24 * 3600 * 1000;
std::int64_t DayOf(SystemTime t) { return ToUnixMillis(t) / kDayMs; }
bool Limited(const LimitConfig& l) {
  return l.requests_per_minute > 0 || l.tokens_per_day > 0 || l.cost_per_day_usd > 0;
}
std::chrono::seconds UntilMidnight(SystemTime t) {
  std::int64_t ms = kDayMs - ToUnixMillis(t) % kDayMs;
  return std::chrono::seconds((ms + 999) / 1000);
}
}  // namespace

UsageLimiter::UsageLimiter(const Clock& clock, LimitConfig per_key, LimitConfig per_project)
    : clock_(clock), per_key_(per_key), per_project_(per_project) {}

void UsageLimiter::Refresh(Counter& c, const LimitConfig& l, SystemTime now) {
  if (l.requests_per_minute > 0) {
    double cap = static_cast<double>(l.requests_per_minute);
    if (c.bucket < 0) {
      c.bucket = cap;
    } else {
      double secs = std::chrono::duration<double>(now - c.refilled).count();
      c.bucket = std::min(cap, c.bucket + std::max(0.0, secs) * cap / 60.0);
    }
    c.refilled = now;
  }
  std::int64_t day = DayOf(now);
  if (c.day != day) {
    c.day = day;
    c.tokens = 0;
    c.cost = 0;
  }
}

std::optional<std::string> UsageLimiter::Blocked(const Counter& c, const LimitConfig& l,
                                                 SystemTime now,
                                                 std::chrono::seconds* retry_after) const {
  if (l.requests_per_minute > 0 && c.bucket < 1.0) {
    double per_second = static_cast<double>(l.requests_per_minute) / 60.0;
    *retry_after =
        std::chrono::seconds(static_cast<std::int64_t>(std::ceil((1.0 - c.bucket) / per_second)));
    return "rate limit of " + std::to_string(l.requests_per_minute) + " requests per minute";
  }
  if (l.tokens_per_day > 0 && c.tokens >= l.tokens_per_day) {
    *retry_after = UntilMidnight(now);
    return "budget of " + std::to_string(l.tokens_per_day) + " tokens per day";
  }
  if (l.cost_per_day_usd > 0 && c.cost >= l.cost_per_day_usd) {
    *retry_after = UntilMidnight(now);
    char buf[64];
    std::snprintf(buf, sizeof buf, "budget of $%.2f per day", l.cost_per_day_usd);
    return std::string(buf);
  }
  return std::nullopt;
}

Status UsageLimiter::Admit(const std::string& key_id, std::int64_t project_id,
                           std::chrono::seconds* retry_after) {
  // Without any limit there is nothing to check or take (usage is still counted by Record):
  // no clock read, no lock shared by the network threads.
  if (!Limited(per_key_) && !Limited(per_project_)) return OkStatus();
  SystemTime now = clock_.Now();
  std::lock_guard lock(mu_);
  Counter& k = keys_[key_id];
  Counter& p = projects_[project_id];
  Refresh(k, per_key_, now);
  Refresh(p, per_project_, now);
  std::chrono::seconds wait{0};
  if (auto why = Blocked(k, per_key_, now, &wait)) {
    *retry_after = std::max(wait, std::chrono::seconds(1));
    return Error{ErrorCode::kRateLimited, "API key " + key_id + " is over its " + *why +
                                              "; retry after " +
                                              std::to_string(retry_after->count()) + " s"};
  }
  if (auto why = Blocked(p, per_project_, now, &wait)) {
    *retry_after = std::max(wait, std::chrono::seconds(1));
    return Error{ErrorCode::kRateLimited, "the project is over its " + *why + "; retry after " +
                                              std::to_string(retry_after->count()) + " s"};
  }
  if (per_key_.requests_per_minute > 0) k.bucket -= 1.0;
  if (per_project_.requests_per_minute > 0) p.bucket -= 1.0;
  return OkStatus();
}

void UsageLimiter::Record(const std::string& key_id, std::int64_t project_id, std::int64_t tokens,
                          double cost_usd) {
  SystemTime now = clock_.Now();
  std::lock_guard lock(mu_);
  Counter& k = keys_[key_id];
  Refresh(k, per_key_, now);
  k.tokens += tokens;
  k.cost += cost_usd;
  Counter& p = projects_[project_id];
  Refresh(p, per_project_, now);
  p.tokens += tokens;
  p.cost += cost_usd;
}

LimitUsage UsageLimiter::Usage(Counter& c, const LimitConfig& l) {
  Refresh(c, l, clock_.Now());
  return {l.requests_per_minute > 0 ? c.bucket : -1.0, c.tokens, c.cost};
}

LimitUsage UsageLimiter::KeyUsage(const std::string& key_id) {
  std::lock_guard lock(mu_);
  return Usage(keys_[key_id], per_key_);
}

LimitUsage UsageLimiter::ProjectUsage(std::int64_t project_id) {
  std::lock_guard lock(mu_);
  return Usage(projects_[project_id], per_project_);
}

}  // namespace promptops::gateway
