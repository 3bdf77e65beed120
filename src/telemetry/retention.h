// Retention: deletes traces and feedback older than `days` days, in every project (project by
// project, in bounded transactions: DeleteOlderThanInChunks). RunOnce is one pass at the clock's
// current time (tests drive it with a FakeClock); Start runs a pass at
// once and then every `interval` on a background thread until Stop.
//
// Threads: RunOnce is thread-safe. Start/Stop from one owning thread. The background thread
// waits on a condition variable, so Stop returns promptly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace promptops::telemetry {

// Rows deleted per write transaction by DeleteOlderThanInChunks.
inline constexpr std::int64_t kDeleteChunk = 5000;

// Deletes traces started before cutoff_ms and feedback created before it, in `project_id` or
// (nullopt) in every project, project by project through the (project_id, time_ms) index, in
// write transactions of at most `chunk` rows each, so that the trace writer never waits long for
// the write lock. Returns the number of traces deleted. Not atomic: after an error the chunks
// already deleted stay deleted (running it again continues).
Result<std::int64_t> DeleteOlderThanInChunks(store::Store& store, std::int64_t cutoff_ms,
                                             std::optional<std::int64_t> project_id,
                                             std::int64_t chunk = kDeleteChunk);

class Retention {
 public:
  // days > 0. `store` and `clock` must outlive this object. `chunk`: rows per transaction
  // (DeleteOlderThanInChunks).
  Retention(store::Store& store, Clock& clock, std::int64_t days,
            std::chrono::milliseconds interval = std::chrono::hours(1),
            std::int64_t chunk = kDeleteChunk);
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
  const std::int64_t chunk_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;         // guarded by mu_
  std::uint64_t passes_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace promptops::telemetry
