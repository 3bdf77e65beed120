#include "telemetry/retention.h"

#include <vector>

#include "core/log.h"
#include "core/thread.h"

namespace promptops::telemetry {

namespace {

// Runs `step` (deleting at most `chunk` rows) in write transactions until a chunk comes back
// short. Returns the total deleted.
template <typename Step>
Result<std::int64_t> DeleteInChunks(store::Store& store, std::int64_t chunk, Step step) {
  std::int64_t total = 0;
  for (;;) {
    std::int64_t n = 0;
    PO_RETURN_IF_ERROR(store.Write([&](store::Tx& tx) -> Status {
      PO_ASSIGN_OR_RETURN(n, step(tx.traces()));
      return OkStatus();
    }));
    total += n;
    if (n < chunk) return total;
  }
}

}  // namespace

Result<std::int64_t> DeleteOlderThanInChunks(store::Store& store, std::int64_t cutoff_ms,
                                             std::optional<std::int64_t> project_id,
                                             std::int64_t chunk) {
  if (chunk < 1) chunk = 1;
  PO_ASSIGN_OR_RETURN(auto feedback_deleted,
                      DeleteInChunks(store, chunk, [&](store::TraceRepository& traces) {
                        return traces.DeleteFeedbackBefore(cutoff_ms, project_id, chunk);
                      }));
  (void)feedback_deleted;
  std::vector<std::int64_t> projects;
  if (project_id) {
    projects.push_back(*project_id);
  } else {
    // From a read snapshot: a project whose first trace arrives meanwhile has nothing old.
    PO_RETURN_IF_ERROR(store.Read([&](store::Tx& tx) -> Status {
      PO_ASSIGN_OR_RETURN(projects, tx.traces().TraceProjectIds());
      return OkStatus();
    }));
  }
  std::int64_t deleted = 0;
  for (auto p : projects) {
    PO_ASSIGN_OR_RETURN(auto n, DeleteInChunks(store, chunk, [&](store::TraceRepository& traces) {
                          return traces.DeleteTracesBefore(p, cutoff_ms, chunk);
                        }));
    deleted += n;
  }
  return deleted;
}

Retention::Retention(store::Store& store, Clock& clock, std::int64_t days,
                     std::chrono::milliseconds interval, std::int64_t chunk)
    : store_(store), clock_(clock), days_(days), interval_(interval), chunk_(chunk) {}

Retention::~Retention() { Stop(); }

Result<std::int64_t> Retention::RunOnce() {
  std::int64_t cutoff = ToUnixMillis(clock_.Now()) - days_ * 24 * 60 * 60 * 1000;
  return DeleteOlderThanInChunks(store_, cutoff, std::nullopt, chunk_);
}

void Retention::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    SetThreadName("po-retention");
    // Background deletes give way to every other thread woken onto their core (core/thread.h).
    RequestSchedulerSlice(kBackgroundSchedulerSlice);
    Run();
  });
}

void Retention::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Retention::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

void Retention::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto r = RunOnce();
    if (!r.ok()) {
      log::Error("trace retention failed", {{"error", r.error().ToString()}});
    } else if (*r > 0) {
      log::Info("trace retention",
                {{"deleted", std::to_string(*r)}, {"retention_days", std::to_string(days_)}});
    }
    lock.lock();
    ++passes_;
    cv_.notify_all();
    cv_.wait_for(lock, interval_, [&] { return stop_; });
  }
}

}  // namespace promptops::telemetry
