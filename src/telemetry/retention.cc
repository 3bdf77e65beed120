#include "telemetry/retention.h"

#include "core/log.h"

namespace promptops::telemetry {

Retention::Retention(store::Store& store, Clock& clock, std::int64_t days,
                     std::chrono::milliseconds interval)
    : store_(store), clock_(clock), days_(days), interval_(interval) {}

Retention::~Retention() { Stop(); }

Result<std::int64_t> Retention::RunOnce() {
  std::int64_t cutoff = ToUnixMillis(clock_.Now()) - days_ * 24 * 60 * 60 * 1000;
  std::int64_t deleted = 0;
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(deleted, tx.traces().DeleteOlderThan(cutoff, std::nullopt));
    return OkStatus();
  }));
  return deleted;
}

void Retention::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
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
