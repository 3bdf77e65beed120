#include "telemetry/trace_writer.h"

#include <algorithm>
#include <vector>

#include "core/log.h"
#include "core/thread.h"
#include "telemetry/metrics.h"

namespace promptops::telemetry {

namespace {
constexpr auto kWarnEvery = std::chrono::seconds(10);
constexpr int kWriteAttempts = 3;
// Longest stretch of CPU work between two cooperation points at which the writer gives way to
// a network thread waiting for its core (core/thread.h).
constexpr auto kCooperativeSlice = std::chrono::microseconds(25);

TraceWriterOptions Sane(TraceWriterOptions o) {
  if (o.capacity == 0) o.capacity = 1;
  if (o.batch == 0) o.batch = 1;
  if (o.wake_at == 0 || o.wake_at > o.batch) o.wake_at = o.batch;
  if (o.interval <= std::chrono::milliseconds::zero()) o.interval = std::chrono::milliseconds(1);
  return o;
}

}  // namespace

TraceWriter::TraceWriter(store::Store& store, TraceWriterOptions options, Metrics* metrics)
    : store_(store), options_(Sane(options)), metrics_(metrics) {
  thread_ = std::thread([this] {
    SetThreadName("po-traces");
    // A thread woken onto the writer's core preempts it at once (core/thread.h).
    RequestSchedulerSlice(kBackgroundSchedulerSlice);
    EnableCooperativeYield(kCooperativeSlice);
    SetCooperativeYieldPause(&behind_);
    Run();
  });
}

TraceWriter::~TraceWriter() { Stop(); }

bool TraceWriter::Enqueue(TraceRecord&& r) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    Drop("stopped", 1);
    return false;
  }
  if (Waiting() >= options_.capacity) {
    Drop("queue_full", 1);
    return false;
  }
  queue_.push_back(std::move(r));
  ++accepted_;
  // More than a batch waits: the writer is behind (saturated cores, a slow disk). It stops
  // giving way to the network threads (core/thread.h) until it has caught up, so that the
  // backlog, and the memory it holds, stays small instead of growing towards `capacity`.
  if (Waiting() == options_.batch + 1) behind_.store(true, std::memory_order_relaxed);
  // The writer wakes by itself every interval; early once wake_at records wait.
  bool full_batch = Waiting() == options_.wake_at;
  lock.unlock();
  if (full_batch) wake_.notify_one();
  return true;
}

// Called with mu_ held.
void TraceWriter::Drop(const char* reason, std::uint64_t n) {
  dropped_ += n;
  unwarned_drops_ += n;
  if (metrics_) metrics_->TracesDropped(reason, n);
  auto now = std::chrono::steady_clock::now();
  if (now - last_warn_ >= kWarnEvery) {
    log::Warn("traces dropped", {{"reason", reason},
                                 {"dropped_since_last_warning", std::to_string(unwarned_drops_)},
                                 {"dropped_total", std::to_string(dropped_)}});
    last_warn_ = now;
    unwarned_drops_ = 0;
  }
}

void TraceWriter::Flush() {
  std::unique_lock lock(mu_);
  std::uint64_t target = accepted_;
  if (done_ >= target) return;
  if (flush_target_ < target) flush_target_ = target;
  wake_.notify_one();
  progress_.wait(lock, [&] { return done_ >= target; });
}

void TraceWriter::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::size_t TraceWriter::depth() const {
  std::lock_guard lock(mu_);
  return Waiting();
}

std::uint64_t TraceWriter::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::uint64_t TraceWriter::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

void TraceWriter::Run() {
  std::vector<TraceRecord> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.interval, [&] {
      return stopping_ || Waiting() >= options_.wake_at || (flush_target_ > done_ && Waiting() > 0);
    });
    if (Waiting() == 0) {
      if (metrics_) metrics_->SetTraceQueueDepth(0);
      if (stopping_) return;
      continue;
    }
    // Take up to one batch; the rest waits for the next round (no wait while it is full).
    std::size_t n = std::min(Waiting(), options_.batch);
    if (head_ == 0 && n == queue_.size()) {
      batch.swap(queue_);  // all of it (the usual case): `batch` was empty
    } else {
      auto first = queue_.begin() + static_cast<std::ptrdiff_t>(head_);
      batch.assign(std::make_move_iterator(first),
                   std::make_move_iterator(first + static_cast<std::ptrdiff_t>(n)));
      head_ += n;
      if (head_ == queue_.size()) {
        queue_.clear();
        head_ = 0;
      } else if (head_ >= queue_.size() / 2) {
        // The taken records are half of the vector or more: dropped, so that its size follows
        // what waits (each record is moved once per halving: linear in all).
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
    }
    // After a backlog, memory goes back: a vector holds its largest size until released.
    if (queue_.empty() && queue_.capacity() > 2 * options_.batch) {
      std::vector<TraceRecord>().swap(queue_);
      head_ = 0;
    }
    if (metrics_) metrics_->SetTraceQueueDepth(Waiting());
    behind_.store(Waiting() > options_.batch, std::memory_order_relaxed);
    lock.unlock();
    WriteBatch(batch);
    lock.lock();
    progress_.notify_all();
    // Loop without waiting while work is pending (the wait predicate is true then).
  }
}

void TraceWriter::WriteBatch(std::vector<TraceRecord>& batch) {
  // Rows are built in place in rows_, which keeps its capacity from batch to batch (a batch of
  // 2048 rows is ~1.4 MB: allocated afresh each time, it would be mapped and unmapped).
  auto& rows = rows_;
  rows.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    MoveToRow(std::move(batch[i]), rows[i]);
    CooperativeYield();
  }
  const std::uint64_t n = batch.size();
  batch.clear();
  // Kept for the next batch (swapped with the queue), unless a backlog made it large.
  if (batch.capacity() > 2 * options_.batch) std::vector<TraceRecord>().swap(batch);

  Status s;
  for (int attempt = 1; attempt <= kWriteAttempts; ++attempt) {
    // Relaxed durability (the default): traces survive a crash of promptops once stored, and
    // an OS crash or power loss once the next durable write or checkpoint syncs the WAL
    // (docs/telemetry.md). `durable` syncs every batch.
    auto insert = [&](store::Tx& tx) -> Status {
      PO_ASSIGN_OR_RETURN(auto inserted, tx.traces().InsertBatch(rows));
      (void)inserted;  // all of them: ids are not checked for duplicates
      return OkStatus();
    };
    s = options_.durable ? store_.Write(insert) : store_.WriteRelaxed(insert);
    if (s.ok()) break;
    log::Error("storing traces failed", {{"error", s.error().ToString()},
                                         {"records", std::to_string(n)},
                                         {"attempt", std::to_string(attempt)}});
    if (attempt < kWriteAttempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100) * attempt);
    }
  }
  // Before taking mu_: freeing a batch's strings must not hold up Enqueue.
  for (auto& row : rows) {
    row = store::TraceRow();
    CooperativeYield();
  }
  rows.clear();
  std::lock_guard lock(mu_);
  if (s.ok()) {
    written_ += n;
    if (metrics_) metrics_->TracesWritten(n);
  } else {
    Drop("write_failed", n);
  }
  done_ += n;
}

}  // namespace promptops::telemetry
