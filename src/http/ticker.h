// Coarse deadlines for the network threads: one timer per io_context instead of one timer
// operation (start, cancel, a posted completion) per request. The server's client watcher and
// the upstream client's timeouts schedule TickEntry objects here; a timer ticking every
// Ticker::kTick while any entry is scheduled fires those whose time has come (a hashed timing
// wheel of kSlots slots, so a tick looks only at the entries of its slot).
//
// An entry fires at the first tick at or after its due time: up to one tick late, never early.
// Everything runs on the io_context's own thread (one thread per io_context in the server):
// Schedule, Cancel and the callbacks are not thread-safe. An entry must be cancelled (or have
// fired) before its memory goes; the destructor of the entry's owner does that. When the
// io_context shuts down, the ticker unlinks every entry, so later Cancel calls are no-ops.
// Only server.cc and upstream.cc include this header (it pulls in Asio).
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace promptops::http {

class Ticker;

// One scheduled callback. Intrusive: scheduling allocates nothing.
class TickEntry {
 public:
  using Clock = std::chrono::steady_clock;
  using Fire = void (*)(TickEntry&);

  explicit TickEntry(Fire fire) : fire_(fire) {}
  ~TickEntry() { Cancel(); }
  TickEntry(const TickEntry&) = delete;
  TickEntry& operator=(const TickEntry&) = delete;

  bool scheduled() const { return next_ != nullptr; }
  Clock::time_point due() const { return due_; }
  // Unlinks the entry if it is scheduled; it then never fires.
  void Cancel();

 private:
  friend class Ticker;
  void Unlink();

  Fire fire_;
  Clock::time_point due_{};
  Ticker* ticker_ = nullptr;
  TickEntry* prev_ = nullptr;
  TickEntry* next_ = nullptr;
};

class Ticker final : public boost::asio::execution_context::service {
 public:
  using Clock = TickEntry::Clock;
  static constexpr std::chrono::milliseconds kTick{10};
  static constexpr std::size_t kSlots = 256;  // one lap: 2.56 s

  using key_type = Ticker;
  static boost::asio::execution_context::id id;
  explicit Ticker(boost::asio::execution_context& ctx);
  ~Ticker() override;

  // The ticker of the execution context `ex` belongs to (created on first use).
  static Ticker& Of(const boost::asio::any_io_executor& ex);

  // Schedules `e` (rescheduling it if it is scheduled already) to fire at the first tick at or
  // after `due`; starts ticking if the ticker was idle. `ex` must belong to this ticker's
  // context (the timer is created with it on first use).
  void Schedule(TickEntry& e, Clock::time_point due, const boost::asio::any_io_executor& ex);

  // The time of the last tick while ticking, else the current time: a cheap "now" for
  // deadlines that are coarse anyway.
  Clock::time_point Now() const;
  std::size_t scheduled() const { return count_; }
  std::uint64_t ticks() const { return ticks_; }

 private:
  friend class TickEntry;
  struct Head {
    TickEntry node{nullptr};
  };
  void shutdown() override;
  static std::int64_t TickIndex(Clock::time_point t);
  void Link(Head& slot, TickEntry& e);
  void Start();
  void OnTick();

  std::array<Head, kSlots> slots_;
  std::size_t count_ = 0;
  std::optional<boost::asio::steady_timer> timer_;
  bool running_ = false;
  bool shut_down_ = false;
  std::int64_t done_through_ = 0;  // tick index of the last slot processed
  Clock::time_point last_tick_{};
  std::uint64_t ticks_ = 0;
};

}  // namespace promptops::http
