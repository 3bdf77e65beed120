// Retention: deletes traces and feedback older than `days` days, in every project. RunOnce is
// one pass at the clock's current time (tests drive it with a FakeClock); Start runs a pass at
// once and then every `interval` on a background thread until Stop.
//
// Threads: RunOnce is thread-safe. Start/Stop from one owning thread. The background thread
// waits on a condition variable, so Stop returns promptly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace promptops::telemetry {

class Retention {
 public:
  // days > 0. `store` and `clock` must outlive this object.
  Retention(store::Store& store, Clock& clock, std::int64_t days,
            std::chrono::milliseconds interval = std::chrono::hours(1));
  ~Retention();  // Stop()
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // Deletes what is older than now - days. Returns the number of traces deleted.
  Result<std::int64_t> RunOnce();
  void Start();
  // Ends the background thread (idempotent).
  void Stop();
  // Passes completed by the background thread (for tests).
  std::uint64_t passes() const;

 private:
  void Run();

  store::Store& store_;
  Clock& clock_;
  const std::int64_t days_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;         // guarded by mu_
  std::uint64_t passes_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace promptops::telemetry
