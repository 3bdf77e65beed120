#include "core/thread.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace promptops {

void SetThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

namespace {

// A yield that took this long handed the core to a thread that kept it (a busy thread of a
// saturated machine). A yield to a network thread that was woken onto this core lasts about
// as long as that thread's handling of its event, tens of microseconds; sched_yield alone
// returns in well under a microsecond.
constexpr std::int64_t kLongYieldNs = 200'000;
// Yields per adaptation window.
constexpr unsigned kWindow = 32;

struct Cooperation {
  bool enabled = false;
  const std::atomic<bool>* pause = nullptr;
  std::int64_t base_ns = 0;
  std::int64_t max_ns = 0;
  std::int64_t slice_ns = 0;
  std::int64_t last_ns = 0;  // when the thread last gave way (or enabled cooperation)
  std::uint64_t yields = 0;
  unsigned window = 0;       // yields in the current window
  unsigned long_yields = 0;  // of which lasted kLongYieldNs or more
};
thread_local Cooperation t_coop;

std::int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

std::chrono::nanoseconds NextCooperativeSlice(std::chrono::nanoseconds current,
                                              std::chrono::nanoseconds base,
                                              std::chrono::nanoseconds max, unsigned yields,
                                              unsigned long_yields) {
  if (yields == 0) return current;
  if (long_yields * 2 > yields) return std::min(std::max(current * 2, base), max);
  if (long_yields * 8 < yields) return std::max(current / 2, base);
  return current;
}

void EnableCooperativeYield(std::chrono::microseconds slice, std::chrono::microseconds max_slice) {
  t_coop = Cooperation{};
  t_coop.enabled = true;
  t_coop.base_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
  t_coop.max_ns = std::max(t_coop.base_ns,
                           std::chrono::duration_cast<std::chrono::nanoseconds>(max_slice).count());
  t_coop.slice_ns = t_coop.base_ns;
  t_coop.last_ns = MonotonicNs();
}

void SetCooperativeYieldPause(const std::atomic<bool>* pause) { t_coop.pause = pause; }

bool CooperativeYieldPaused() {
  return t_coop.pause != nullptr && t_coop.pause->load(std::memory_order_relaxed);
}

void CooperativeYield() {
  if (!t_coop.enabled) return;
  if (CooperativeYieldPaused()) return;
  // Called from inside SQLite's I/O methods too: errno must be what the caller left.
  const int saved_errno = errno;
  const std::int64_t now = MonotonicNs();
  if (now - t_coop.last_ns >= t_coop.slice_ns) {
    sched_yield();
    const std::int64_t after = MonotonicNs();
    ++t_coop.yields;
    if (after - now >= kLongYieldNs) ++t_coop.long_yields;
    if (++t_coop.window == kWindow) {
      using std::chrono::nanoseconds;
      t_coop.slice_ns =
          NextCooperativeSlice(nanoseconds(t_coop.slice_ns), nanoseconds(t_coop.base_ns),
                               nanoseconds(t_coop.max_ns), t_coop.window, t_coop.long_yields)
              .count();
      t_coop.window = 0;
      t_coop.long_yields = 0;
    }
    // The time spent waiting for the core does not count towards the next slice.
    t_coop.last_ns = after;
  }
  errno = saved_errno;
}

std::uint64_t CooperativeYields() { return t_coop.yields; }

std::chrono::nanoseconds CooperativeSlice() { return std::chrono::nanoseconds(t_coop.slice_ns); }

}  // namespace promptops
