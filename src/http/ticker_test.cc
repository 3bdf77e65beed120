// Ticker: coarse deadlines on one timer per io_context (http/ticker.h), on a real io_context.
#include "http/ticker.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <vector>

namespace promptops::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// An entry that records when (and in which order) it fired.
struct Probe : TickEntry {
  explicit Probe(int id, std::vector<int>* order = nullptr)
      : TickEntry([](TickEntry& e) {
          auto& p = static_cast<Probe&>(e);
          p.fired_at = Clock::now();
          ++p.fired;
          if (p.order) p.order->push_back(p.id);
          if (p.then) p.then(p);
        }),
        id(id),
        order(order) {}
  int id;
  std::vector<int>* order;
  int fired = 0;
  Clock::time_point fired_at{};
  std::function<void(Probe&)> then;
};

// A fresh io_context and its ticker per test.
class TickerTest : public ::testing::Test {
 protected:
  asio::io_context ioc;
  asio::any_io_executor ex = ioc.get_executor();
  Ticker& t = Ticker::Of(ex);
};

TEST_F(TickerTest, FiresAtTheFirstTickAtOrAfterTheDueTimeInDueOrder) {
  EXPECT_EQ(&t, &Ticker::Of(ex));  // one per context
  std::vector<int> order;
  Probe a(1, &order), b(2, &order), c(3, &order);
  auto start = Clock::now();
  t.Schedule(c, start + 120ms, ex);
  t.Schedule(a, start + 20ms, ex);
  t.Schedule(b, start + 65ms, ex);
  EXPECT_EQ(t.scheduled(), 3u);
  EXPECT_TRUE(a.scheduled());
  ioc.run();  // returns once nothing is scheduled: the ticker stops ticking
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(t.scheduled(), 0u);
  EXPECT_FALSE(a.scheduled());
  for (Probe* p : {&a, &b, &c}) {
    EXPECT_EQ(p->fired, 1);
    EXPECT_GE(p->fired_at, p->due());          // never early
    EXPECT_LT(p->fired_at - p->due(), 500ms);  // about a tick late (loaded machine)
  }
}

TEST_F(TickerTest, CancelledAndDestroyedEntriesNeverFire) {
  Probe kept(1), cancelled(2);
  auto gone = std::make_unique<Probe>(3);
  t.Schedule(kept, Clock::now() + 30ms, ex);
  t.Schedule(cancelled, Clock::now() + 10ms, ex);
  t.Schedule(*gone, Clock::now() + 10ms, ex);
  cancelled.Cancel();
  cancelled.Cancel();  // twice: a no-op
  gone.reset();        // its destructor unlinks it
  EXPECT_EQ(t.scheduled(), 1u);
  ioc.run();
  EXPECT_EQ(kept.fired, 1);
  EXPECT_EQ(cancelled.fired, 0);
}

TEST_F(TickerTest, RescheduleMovesTheEntryAndAPastDueFiresAtTheNextTick) {
  Probe moved(1), past(2);
  auto start = Clock::now();
  t.Schedule(moved, start + 10ms, ex);
  t.Schedule(moved, start + 200ms, ex);  // later: the first due time no longer counts
  EXPECT_EQ(t.scheduled(), 1u);
  t.Schedule(past, start - 1s, ex);
  ioc.run();
  EXPECT_EQ(moved.fired, 1);
  EXPECT_GE(moved.fired_at, start + 200ms);
  EXPECT_EQ(past.fired, 1);
  EXPECT_LT(past.fired_at - start, 500ms);
}

// An entry due more than a lap of the wheel ahead (2.56 s) shares its slot with nearer ones and
// must not fire a lap early.
TEST_F(TickerTest, EntryDueBeyondOneLapFiresOnTime) {
  Probe far(1), near(2);
  auto start = Clock::now();
  t.Schedule(far, start + 2700ms, ex);
  t.Schedule(near, start + 140ms, ex);  // 2560 ms earlier: the same slot
  ioc.run();
  EXPECT_EQ(near.fired, 1);
  EXPECT_EQ(far.fired, 1);
  EXPECT_GE(far.fired_at, start + 2700ms);
  EXPECT_LT(far.fired_at, near.fired_at + 3s);
}

// Callbacks may schedule and cancel entries, those of the slot being processed included.
TEST_F(TickerTest, CallbacksMayScheduleAndCancelEntries) {
  std::vector<int> order;
  Probe first(1, &order), victim(2, &order), chained(3, &order);
  auto due = Clock::now() + 20ms;
  first.then = [&](Probe&) {
    victim.Cancel();                             // same slot, not fired yet
    t.Schedule(chained, Clock::now(), ex);       // due now: the next tick
    t.Schedule(first, Clock::now() + 30ms, ex);  // itself, once more
    first.then = nullptr;
  };
  t.Schedule(first, due, ex);
  t.Schedule(victim, due, ex);
  ioc.run();
  EXPECT_EQ(victim.fired, 0);
  EXPECT_EQ(chained.fired, 1);
  EXPECT_EQ(first.fired, 2);
  EXPECT_EQ(order, (std::vector<int>{1, 3, 1}));
  EXPECT_GE(t.ticks(), 2u);
}

TEST_F(TickerTest, NowIsTheLastTickWhileTickingElseTheClock) {
  auto before = Clock::now();
  EXPECT_GE(t.Now(), before);  // idle: the clock
  Probe p(1);
  Clock::time_point seen_in_callback{};
  p.then = [&](Probe&) { seen_in_callback = t.Now(); };
  t.Schedule(p, Clock::now() + 15ms, ex);
  ioc.run();
  EXPECT_GE(seen_in_callback, p.due());
  EXPECT_LE(seen_in_callback, p.fired_at);  // the tick's time, read before the callback ran
}

// Entries still scheduled when their io_context goes away are unlinked by it; cancelling or
// destroying them afterwards is harmless (ASan checks the memory).
TEST(Ticker, ContextDestroyedWithEntriesScheduled) {
  Probe p(1);
  auto q = std::make_unique<Probe>(2);
  {
    asio::io_context ioc;
    auto ex = ioc.get_executor();
    Ticker::Of(ex).Schedule(p, Clock::now() + 1h, ex);
    Ticker::Of(ex).Schedule(*q, Clock::now() + 1h, ex);
    ioc.run_for(30ms);
  }
  EXPECT_FALSE(p.scheduled());
  p.Cancel();
  q.reset();
  EXPECT_EQ(p.fired, 0);
}

// Ticker::Of keeps its last answer per thread; it must still answer each context's own ticker,
// also for a new context built where a destroyed one was (same address, new ticker).
TEST(Ticker, OfAnswersEachContextsOwnTickerAlsoAfterAContextAtTheSameAddress) {
  asio::io_context a, b;
  Ticker& ta = Ticker::Of(a.get_executor());
  EXPECT_EQ(&Ticker::Of(a.get_executor()), &ta);
  EXPECT_EQ(&ta, &asio::use_service<Ticker>(a));
  Ticker& tb = Ticker::Of(b.get_executor());
  EXPECT_NE(&tb, &ta);
  EXPECT_EQ(&tb, &asio::use_service<Ticker>(b));
  EXPECT_EQ(&Ticker::Of(a.get_executor()), &ta);

  alignas(asio::io_context) unsigned char storage[sizeof(asio::io_context)];
  auto* first = new (storage) asio::io_context;
  Ticker& t1 = Ticker::Of(first->get_executor());
  EXPECT_EQ(&t1, &asio::use_service<Ticker>(*first));
  first->~io_context();
  auto* second = new (storage) asio::io_context;  // same address, a new ticker on first use
  Ticker& t2 = Ticker::Of(second->get_executor());
  EXPECT_EQ(&t2, &asio::use_service<Ticker>(*second));
  // The new ticker works: an entry scheduled on it fires.
  Probe p(1);
  t2.Schedule(p, Clock::now(), second->get_executor());
  second->run_for(100ms);
  EXPECT_EQ(p.fired, 1);
  second->~io_context();
}

}  // namespace
}  // namespace promptops::http
