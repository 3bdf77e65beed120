// TraceWriter: the bounded, non-blocking hand-off of traces from the network threads to one
// writer thread that stores them in batches (one write transaction per batch of up to
// `batch` records, at least every `interval` while records wait).
//
// Group commit: the writer wakes once `wake_at` records wait (by default a full batch) and
// takes all that wait (up to `batch`), or after `interval` whatever waits. Under heavy traffic
// records pile up while a batch commits, so the commit rate, not the traffic, bounds the
// commits. Full batches write the fewest pages per record (each commit rewrites the right-edge
// pages of the table and its indexes); a big batch does not stall the network threads because
// the writer yields every 25 us (below).
//
// Batches are committed with Store::WriteRelaxed (a stored trace survives a crash of promptops;
// an OS crash may lose it until the next durable write or checkpoint). The writer thread stays
// out of the way of the network threads and of the other processes on the machine (core/thread.h):
// it asks the scheduler for a long slice, so that on Linux 6.12+ a thread woken onto its core
// preempts it at once, and it yields the CPU every 25 us of work (cooperative yielding), so
// that neither an fsync per batch nor a batch's CPU burst delays them. While more than a batch
// waits the writer is behind and does not yield until it has caught up.
//
// Nothing is lost silently: a record that is not stored is counted in dropped() and in
// promptops_trace_queue_dropped_total{reason}, and logged (rate-limited):
//   - queue_full:   Enqueue found `capacity` records waiting (the database is slower than the
//                   traffic); the record is refused, Enqueue returns false at once.
//   - stopped:      Enqueue after Stop().
//   - write_failed: the store refused a batch three times (e.g. disk full); the batch is
//                   dropped so that newer traces can still be stored.
//
// Threads: Enqueue, depth and dropped may be called from any thread and never wait for the
// database (Enqueue takes a mutex held only to push or to swap the queue out). Flush and Stop
// block and must not be called from a network thread. One thread owned by the writer, started
// by the constructor, joined by Stop() or the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"
#include "telemetry/trace.h"

namespace promptops::telemetry {

class Metrics;

struct TraceWriterOptions {
  std::size_t capacity = 100000;            // records waiting at most; more are dropped
  std::size_t batch = 2048;                 // records per write transaction at most
  std::size_t wake_at = 2048;               // records waiting that wake the writer early
  std::chrono::milliseconds interval{200};  // longest wait before a partial batch is written
  // false: batches are committed with Store::WriteRelaxed (no fsync per batch; a stored trace
  // survives a crash of promptops, an OS crash may lose the last ones); true: Store::Write.
  bool durable = false;
};

class TraceWriter {
 public:
  // `store` and `metrics` (optional) must outlive the writer.
  TraceWriter(store::Store& store, TraceWriterOptions options = {}, Metrics* metrics = nullptr);
  // Stops (flushing) if Stop was not called.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Queues a record for storage. Returns false (and counts a drop) when the queue is full or
  // the writer is stopped. Never blocks on I/O.
  bool Enqueue(TraceRecord&& r);
  // Waits until every record enqueued before this call has been stored (or dropped as
  // write_failed).
  void Flush();
  // Stores everything queued, then ends the writer thread. Idempotent. Later Enqueue calls
  // return false.
  void Stop();

  // Records waiting to be stored (not counting the batch being written).
  std::size_t depth() const;
  // Records dropped since construction, for every reason.
  std::uint64_t dropped() const;
  // Records stored since construction.
  std::uint64_t written() const;

 private:
  void Run();
  void Drop(const char* reason, std::uint64_t n);
  void WriteBatch(std::vector<TraceRecord>& batch);
  // Records waiting (queue_ from head_ on). Called with mu_ held.
  std::size_t Waiting() const { return queue_.size() - head_; }

  store::Store& store_;
  const TraceWriterOptions options_;
  Metrics* const metrics_;

  mutable std::mutex mu_;
  std::condition_variable wake_;      // writer: work, flush or stop
  std::condition_variable progress_;  // Flush: done_ advanced
  // Records waiting: queue_[head_] onwards (those before head_ were taken by the writer and
  // are moved-from). A vector, not a deque: a record (~500 bytes) took a deque node of its own,
  // allocated under mu_ on every request and freed by the writer thread. The writer swaps it
  // with its batch when it takes all that waits, so both keep their capacity.
  std::vector<TraceRecord> queue_;  // guarded by mu_
  std::size_t head_ = 0;            // guarded by mu_
  // More than a batch waits (written under mu_, read by the writer's cooperation points).
  std::atomic<bool> behind_{false};
  std::uint64_t accepted_ = 0;      // guarded by mu_; records ever queued
  std::uint64_t done_ = 0;          // guarded by mu_; records stored or dropped by the writer
  std::uint64_t flush_target_ = 0;  // guarded by mu_; write partial batches until done_ reaches it
  bool stopping_ = false;           // guarded by mu_
  std::uint64_t dropped_ = 0;       // guarded by mu_
  std::uint64_t written_ = 0;       // guarded by mu_
  std::chrono::steady_clock::time_point last_warn_{};  // guarded by mu_
  std::uint64_t unwarned_drops_ = 0;                   // guarded by mu_

  std::vector<store::TraceRow> rows_;  // writer thread only: the batch being stored

  std::mutex stop_mu_;  // serializes Stop()
  std::thread thread_;
};

}  // namespace promptops::telemetry
