// TraceWriter: batching, flush, drops when full (counted, never blocking), Stop flushes,
// concurrent producers.
#include "telemetry/trace_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/thread.h"
#include "support/temp_dir.h"
#include "telemetry/metrics.h"

namespace promptops::telemetry {
namespace {

TraceRecord Record(std::string id, std::int64_t project = 1) {
  TraceRecord r;
  r.id = std::move(id);
  r.project_id = project;
  r.time_ms = 1000;
  r.model = "m";
  return r;
}

// A Store that forwards to a real one, counts write transactions, and can hold writers at a
// gate (to simulate a slow or stuck database) or fail them.
class GatedStore : public store::Store {
 public:
  explicit GatedStore(store::Store& inner) : inner_(inner) {}
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    PO_RETURN_IF_ERROR(Gate());
    return inner_.Write(fn);
  }
  Status WriteRelaxed(const std::function<Status(store::Tx&)>& fn) override {
    PO_RETURN_IF_ERROR(Gate());
    ++relaxed_;
    // The calling thread gives way to network threads (core/thread.h) if it enabled that.
    if (CooperativeSlice().count() > 0) ++cooperative_;
    {
      std::lock_guard lock(mu_);
      paused_.push_back(CooperativeYieldPaused());
      slice_ = SchedulerSlice();
    }
    return inner_.WriteRelaxed(fn);
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  std::string Describe() const override { return "gated"; }

  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Fail(bool f) {
    std::lock_guard lock(mu_);
    failing_ = f;
  }
  // Waits until `n` write transactions have started.
  void WaitEntered(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  int writes() const { return writes_; }
  int relaxed() const { return relaxed_; }
  int cooperative() const { return cooperative_; }
  // For each relaxed write, whether the writer's cooperative yielding was paused then.
  std::vector<bool> paused() {
    std::lock_guard lock(mu_);
    return paused_;
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  // The scheduler slice of the thread of the last relaxed write (core/thread.h).
  std::chrono::nanoseconds slice() {
    std::lock_guard lock(mu_);
    return slice_;
  }

 private:
  Status Gate() {
    {
      std::unique_lock lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      if (failing_) return Error::Unavailable("disk on fire");
    }
    ++writes_;
    return OkStatus();
  }

  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  bool failing_ = false;
  int entered_ = 0;
  std::atomic<int> writes_{0};
  std::atomic<int> relaxed_{0};
  std::atomic<int> cooperative_{0};
  std::vector<bool> paused_;          // guarded by mu_
  std::chrono::nanoseconds slice_{};  // guarded by mu_
};

class TraceWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    real_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    gated_ = std::make_unique<GatedStore>(*real_);
  }
  std::size_t Stored(std::int64_t project = 1) {
    std::size_t n = 0;
    EXPECT_TRUE(real_
                    ->Read([&](store::Tx& tx) -> Status {
                      PO_ASSIGN_OR_RETURN(auto page, tx.traces().List(project, {}, 0, 1));
                      n = page.total;
                      return OkStatus();
                    })
                    .ok());
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> real_;
  std::unique_ptr<GatedStore> gated_;
};

TEST_F(TraceWriterTest, FlushStoresEverythingEnqueuedInBatches) {
  Metrics metrics;
  TraceWriter w(*gated_, {.capacity = 1000, .batch = 10, .interval = std::chrono::hours(1)},
                &metrics);
  for (int i = 0; i < 95; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-" + std::to_string(i))));
  w.Flush();
  EXPECT_EQ(Stored(), 95u);
  EXPECT_EQ(w.written(), 95u);
  EXPECT_EQ(w.depth(), 0u);
  // 9 full batches and one partial one: one transaction per batch, never one per record.
  EXPECT_EQ(gated_->writes(), 10);
  // Trace batches are telemetry: relaxed durability (no fsync per batch), written by a thread
  // that gives way to the network threads.
  EXPECT_EQ(gated_->relaxed(), 10);
  EXPECT_EQ(gated_->cooperative(), 10);
  EXPECT_EQ(CooperativeSlice().count(), 0);  // the test's own thread is not cooperative
  // The writer asks the scheduler for a long slice, so that a thread woken onto its core
  // preempts it at once (core/thread.h). Kernels before slice requests report zero for all.
  if (SchedulerSlice().count() > 0) {
    EXPECT_EQ(gated_->slice(), kBackgroundSchedulerSlice);
    EXPECT_NE(SchedulerSlice(), kBackgroundSchedulerSlice);  // only the writer's thread
  } else {
    EXPECT_EQ(gated_->slice().count(), 0);
  }
  EXPECT_EQ(metrics.Value("promptops_traces_written_total"), 95);
  EXPECT_EQ(metrics.Value("promptops_trace_queue_depth"), 0);
}

TEST_F(TraceWriterTest, DurableOptionSyncsEveryBatchLikeRegistryWrites) {
  TraceWriter w(*gated_, {.batch = 10, .interval = std::chrono::hours(1), .durable = true});
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-" + std::to_string(i))));
  w.Flush();
  EXPECT_EQ(Stored(), 25u);
  EXPECT_EQ(gated_->writes(), 3);
  EXPECT_EQ(gated_->relaxed(), 0);  // Store::Write, never WriteRelaxed
}

TEST_F(TraceWriterTest, FlushWithNothingQueuedReturnsAtOnce) {
  TraceWriter w(*gated_, {.interval = std::chrono::hours(1)});
  w.Flush();
  EXPECT_EQ(gated_->writes(), 0);
}

TEST_F(TraceWriterTest, PartialBatchIsWrittenAfterTheInterval) {
  TraceWriter w(*gated_, {.batch = 100, .interval = std::chrono::milliseconds(1)});
  ASSERT_TRUE(w.Enqueue(Record("tr-1")));
  gated_->WaitEntered(1);  // no Flush: the interval alone triggers the write
  w.Stop();
  EXPECT_EQ(Stored(), 1u);
}

// Group commit: wake_at records wake the writer long before the interval, and records that
// arrive while a batch commits go together into the next one (up to `batch`).
TEST_F(TraceWriterTest, WakesAtWakeAtAndGroupsWhatArrivesDuringACommit) {
  TraceWriter w(*gated_,
                {.capacity = 1000, .batch = 50, .wake_at = 3, .interval = std::chrono::hours(1)});
  gated_->Close();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-a" + std::to_string(i))));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(gated_->entered(), 0);  // below wake_at: the writer sleeps (interval: 1 h)
  ASSERT_TRUE(w.Enqueue(Record("tr-a2")));
  gated_->WaitEntered(1);  // the third record woke it: a batch of 3 is being committed
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-b" + std::to_string(i))));
  gated_->Open();
  w.Flush();
  EXPECT_EQ(Stored(), 43u);
  EXPECT_EQ(gated_->writes(), 2);  // 3, then the 40 that waited meanwhile in one transaction
}

// By default the writer wakes early only for a full batch: fewer, fuller commits write fewer
// pages per trace.
TEST_F(TraceWriterTest, ByDefaultWakesEarlyOnlyForAFullBatch) {
  TraceWriterOptions defaults;
  EXPECT_EQ(defaults.wake_at, defaults.batch);
  TraceWriter w(*gated_, {.capacity = 1000, .batch = 20, .interval = std::chrono::hours(1)});
  gated_->Close();
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-" + std::to_string(i))));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(gated_->entered(), 0);  // 19 of 20: the writer sleeps (interval: 1 h)
  ASSERT_TRUE(w.Enqueue(Record("tr-19")));
  gated_->WaitEntered(1);  // the 20th record woke it
  gated_->Open();
  w.Flush();
  EXPECT_EQ(Stored(), 20u);
  EXPECT_EQ(gated_->writes(), 1);
}
// The writer gives way to network threads only while it keeps up: with more than a batch
// waiting it stops yielding until the backlog is down to a batch.
TEST_F(TraceWriterTest, StopsGivingWayWhileMoreThanABatchWaits) {
  TraceWriter w(*gated_,
                {.capacity = 1000, .batch = 10, .wake_at = 1, .interval = std::chrono::hours(1)});
  gated_->Close();
  ASSERT_TRUE(w.Enqueue(Record("tr-first")));
  gated_->WaitEntered(1);  // the writer holds tr-first and waits at the gate
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-" + std::to_string(i))));
  gated_->Open();
  w.Flush();
  EXPECT_EQ(Stored(), 26u);
  // Batch 1 (tr-first) is written while 25 wait: behind. Batch 2 takes 10 and leaves 15 (more
  // than a batch): still behind. Batch 3 leaves 5 and batch 4 none: caught up, giving way again.
  EXPECT_EQ(gated_->paused(), (std::vector<bool>{true, true, false, false}));
}

// A backlog taken a batch at a time while more records arrive between the batches (the queue's
// taken front is dropped as it grows, the rest kept): every record is stored exactly once.
TEST_F(TraceWriterTest, BacklogTakenInPartsStoresEveryRecordOnce) {
  TraceWriter w(*gated_,
                {.capacity = 1000, .batch = 10, .wake_at = 1, .interval = std::chrono::hours(1)});
  std::set<std::string> sent;
  auto send = [&](const std::string& id) {
    ASSERT_TRUE(w.Enqueue(Record(id)));
    sent.insert(id);
  };
  gated_->Close();
  send("tr-first");
  gated_->WaitEntered(1);  // the writer holds tr-first and waits at the gate
  for (int i = 0; i < 37; ++i) send("tr-a" + std::to_string(i));
  EXPECT_EQ(w.depth(), 37u);
  for (int round = 0; round < 3; ++round) {  // let one batch through, then add more
    gated_->Open();
    gated_->WaitEntered(2 + round);
    gated_->Close();
    for (int i = 0; i < 6; ++i) send("tr-b" + std::to_string(round) + "-" + std::to_string(i));
  }
  gated_->Open();
  w.Flush();
  EXPECT_EQ(w.depth(), 0u);
  EXPECT_EQ(w.dropped(), 0u);
  std::set<std::string> stored;
  std::size_t rows = 0;
  ASSERT_TRUE(real_
                  ->Read([&](store::Tx& tx) -> Status {
                    PO_ASSIGN_OR_RETURN(auto page, tx.traces().List(1, {}, 0, 1000));
                    rows = page.rows.size();
                    for (const auto& r : page.rows) stored.insert(r.id);
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(rows, sent.size());  // no record twice
  EXPECT_EQ(stored, sent);       // and none missing
}

TEST_F(TraceWriterTest, FullQueueDropsAreCountedAndNeverBlock) {
  Metrics metrics;
  TraceWriter w(*gated_, {.capacity = 20, .batch = 5, .interval = std::chrono::milliseconds(1)},
                &metrics);
  gated_->Close();
  ASSERT_TRUE(w.Enqueue(Record("tr-first")));
  gated_->WaitEntered(1);  // the writer holds tr-first and is stuck in the database
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w.Enqueue(Record("tr-" + std::to_string(i))));
  EXPECT_EQ(w.depth(), 20u);
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(w.Enqueue(Record("tr-x" + std::to_string(i))));
  EXPECT_EQ(w.dropped(), 7u);
  EXPECT_EQ(metrics.Value("promptops_trace_queue_dropped_total", {{"reason", "queue_full"}}), 7);
  gated_->Open();
  w.Flush();
  EXPECT_EQ(Stored(), 21u);
  EXPECT_EQ(w.dropped(), 7u);
}

TEST_F(TraceWriterTest, StopStoresWhatIsQueuedAndRefusesLaterRecords) {
  Metrics metrics;
  auto w = std::make_unique<TraceWriter>(
      *gated_, TraceWriterOptions{.batch = 512, .interval = std::chrono::hours(1)}, &metrics);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(w->Enqueue(Record("tr-" + std::to_string(i))));
  w->Stop();
  EXPECT_EQ(Stored(), 30u);
  EXPECT_FALSE(w->Enqueue(Record("late")));
  EXPECT_EQ(metrics.Value("promptops_trace_queue_dropped_total", {{"reason", "stopped"}}), 1);
  w->Stop();  // idempotent
  w.reset();  // and the destructor after Stop is fine
}

TEST_F(TraceWriterTest, FailedBatchesAreDroppedAndCountedSoNewerTracesStillGetStored) {
  Metrics metrics;
  TraceWriter w(*gated_, {.batch = 512, .interval = std::chrono::hours(1)}, &metrics);
  gated_->Fail(true);
  ASSERT_TRUE(w.Enqueue(Record("tr-lost")));
  w.Flush();  // three attempts, then counted as write_failed
  EXPECT_EQ(w.dropped(), 1u);
  EXPECT_EQ(metrics.Value("promptops_trace_queue_dropped_total", {{"reason", "write_failed"}}), 1);
  gated_->Fail(false);
  ASSERT_TRUE(w.Enqueue(Record("tr-kept")));
  w.Flush();
  EXPECT_EQ(Stored(), 1u);
}

TEST_F(TraceWriterTest, ConcurrentProducersLoseNothing) {
  constexpr int kThreads = 8, kPerThread = 5000;
  Metrics metrics;
  TraceWriter w(*real_,
                {.capacity = 100000, .batch = 512, .interval = std::chrono::milliseconds(5)},
                &metrics);
  std::vector<std::thread> producers;
  std::atomic<int> refused{0};
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!w.Enqueue(Record("tr-" + std::to_string(t) + "-" + std::to_string(i)))) ++refused;
      }
    });
  }
  for (auto& p : producers) p.join();
  w.Flush();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(w.dropped(), 0u);
  EXPECT_EQ(Stored(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(metrics.Value("promptops_traces_written_total"), kThreads * kPerThread);
}

}  // namespace
}  // namespace promptops::telemetry
