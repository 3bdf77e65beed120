#include "http/ticker.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/error_code.hpp>

namespace promptops::http {

namespace asio = boost::asio;

void TickEntry::Cancel() {
  if (ticker_ != nullptr) Unlink();
}

void TickEntry::Unlink() {
  prev_->next_ = next_;
  next_->prev_ = prev_;
  prev_ = next_ = nullptr;
  --ticker_->count_;
  ticker_ = nullptr;
}

asio::execution_context::id Ticker::id;

Ticker::Ticker(asio::execution_context& ctx) : asio::execution_context::service(ctx) {
  for (auto& h : slots_) h.node.prev_ = h.node.next_ = &h.node;
}

namespace {
// Bumped whenever a ticker is destroyed, so that a thread's cached lookup (below) is never
// trusted for a context that was destroyed, even if a new one now has its address.
std::atomic<std::uint64_t> g_ticker_epoch{0};
}  // namespace

Ticker::~Ticker() { g_ticker_epoch.fetch_add(1, std::memory_order_release); }

Ticker& Ticker::Of(const asio::any_io_executor& ex) {
  // use_service takes the context's service-registry lock and searches its list; a network
  // thread asks for its own context's ticker on every session and upstream call, so the last
  // answer is kept per thread.
  struct Cached {
    const asio::execution_context* context = nullptr;
    Ticker* ticker = nullptr;
    std::uint64_t epoch = 0;
  };
  thread_local Cached cached;
  asio::execution_context& context = asio::query(ex, asio::execution::context);
  const std::uint64_t epoch = g_ticker_epoch.load(std::memory_order_acquire);
  if (cached.context == &context && cached.epoch == epoch) return *cached.ticker;
  Ticker& t = asio::use_service<Ticker>(context);
  cached = {&context, &t, epoch};
  return t;
}

std::int64_t Ticker::TickIndex(Clock::time_point t) {
  return static_cast<std::int64_t>(t.time_since_epoch() / kTick);
}

Ticker::Clock::time_point Ticker::Now() const { return running_ ? last_tick_ : Clock::now(); }

void Ticker::Schedule(TickEntry& e, Clock::time_point due, const asio::any_io_executor& ex) {
  e.Cancel();
  if (shut_down_) return;  // the context is going away: nothing will tick any more
  if (!running_) {
    if (!timer_) timer_.emplace(ex);
    // Idle until now: every slot up to the current tick counts as processed.
    done_through_ = TickIndex(Clock::now());
    last_tick_ = Clock::now();
    Start();
  }
  e.due_ = due;
  // The first tick whose start is at or after `due` (never early), and not one already past.
  std::int64_t index = TickIndex(due - Clock::duration(1)) + 1;
  index = std::max(index, done_through_ + 1);
  Link(slots_[static_cast<std::size_t>(index) % kSlots], e);
}

void Ticker::Link(Head& slot, TickEntry& e) {
  e.prev_ = slot.node.prev_;
  e.next_ = &slot.node;
  slot.node.prev_->next_ = &e;
  slot.node.prev_ = &e;
  e.ticker_ = this;
  ++count_;
}

// Waits for the start of the tick after done_through_. running_ stays true from here until a
// tick finds nothing scheduled (also while OnTick runs the callbacks, so that a callback's
// Schedule never starts a second wait).
void Ticker::Start() {
  running_ = true;
  timer_->expires_at(Clock::time_point(kTick * (done_through_ + 1)));
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || shut_down_) {
      running_ = false;
      return;
    }
    OnTick();
  });
}

void Ticker::OnTick() {
  ++ticks_;
  Clock::time_point now = Clock::now();
  last_tick_ = now;
  std::int64_t current = TickIndex(now);
  // A late tick (a busy thread) processes every slot it missed, at most one lap.
  std::int64_t from = std::max(done_through_ + 1, current - static_cast<std::int64_t>(kSlots) + 1);
  for (std::int64_t t = from; t <= current; ++t) {
    done_through_ = t;  // what a callback schedules now goes into a later slot
    Head& slot = slots_[static_cast<std::size_t>(t) % kSlots];
    if (slot.node.next_ == &slot.node) continue;
    // Move the slot's entries to a local list: a callback may schedule or cancel entries
    // (this slot's too) while we walk it.
    TickEntry local(nullptr);
    local.next_ = slot.node.next_;
    local.prev_ = slot.node.prev_;
    local.next_->prev_ = &local;
    local.prev_->next_ = &local;
    slot.node.next_ = slot.node.prev_ = &slot.node;
    while (local.next_ != &local) {
      TickEntry* e = local.next_;
      if (e->due_ <= now) {
        e->Unlink();
        e->fire_(*e);
      } else {  // due in a later lap: back into its slot
        e->Unlink();
        Link(slot, *e);
      }
    }
    local.prev_ = local.next_ = nullptr;
  }
  done_through_ = std::max(done_through_, current);
  if (count_ > 0 && !shut_down_) {
    Start();
  } else {
    running_ = false;
  }
}

void Ticker::shutdown() {
  shut_down_ = true;
  for (auto& h : slots_) {
    while (h.node.next_ != &h.node) h.node.next_->Unlink();
  }
  timer_.reset();
}

}  // namespace promptops::http
