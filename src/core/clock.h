// Time: an injectable clock (tests use FakeClock; nothing sleeps) and RFC 3339 formatting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace promptops {

using SystemTime = std::chrono::system_clock::time_point;

// Wall-clock source. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
  // The process-wide real clock.
  static Clock& Real();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(SystemTime start = SystemTime(std::chrono::seconds(1'700'000'000)))
      : now_us_(std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch())
                    .count()) {}
  SystemTime Now() const override { return SystemTime(std::chrono::microseconds(now_us_.load())); }
  void Advance(std::chrono::microseconds d) { now_us_ += d.count(); }

 private:
  std::atomic<std::int64_t> now_us_;
};

// "2026-11-22T20:33:34.123Z" (UTC, millisecond precision).
std::string FormatRfc3339(SystemTime t);
// Parses RFC 3339 timestamps with 'Z' or a numeric offset, optional fractional seconds.
std::optional<SystemTime> ParseRfc3339(std::string_view s);
// Milliseconds since the Unix epoch, the form timestamps take in the database.
std::int64_t ToUnixMillis(SystemTime t);
SystemTime FromUnixMillis(std::int64_t ms);

}  // namespace promptops
