#include "core/thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace promptops {

void SetThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

namespace {

// The kernel's struct sched_attr (the ABI of sched_getattr(2) and sched_setattr(2); glibc
// 2.36 has neither wrapper, and <linux/sched/types.h> clashes with <sched.h>).
struct SchedAttr {
  std::uint32_t size = sizeof(SchedAttr);
  std::uint32_t sched_policy = 0;
  std::uint64_t sched_flags = 0;
  std::int32_t sched_nice = 0;
  std::uint32_t sched_priority = 0;
  std::uint64_t sched_runtime = 0;
  std::uint64_t sched_deadline = 0;
  std::uint64_t sched_period = 0;
  std::uint32_t sched_util_min = 0;
  std::uint32_t sched_util_max = 0;
};
static_assert(sizeof(SchedAttr) == 56);  // SCHED_ATTR_SIZE_VER1
constexpr std::uint64_t kSchedFlagResetOnFork = 0x01;

bool GetSchedAttr(SchedAttr& attr) {
  attr = SchedAttr{};
  return syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) == 0;
}

bool IsFairPolicy(std::uint32_t policy) {
  return policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE;
}

}  // namespace

std::chrono::nanoseconds SchedulerSlice() {
  SchedAttr attr;
  // Kernels without slice requests report a runtime only for SCHED_DEADLINE threads.
  if (!GetSchedAttr(attr) || !IsFairPolicy(attr.sched_policy)) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(attr.sched_runtime);
}

std::chrono::nanoseconds RequestSchedulerSlice(std::chrono::nanoseconds slice) {
  SchedAttr attr;
  // Only the fair policies take a slice; real-time threads are left as they are.
  if (!GetSchedAttr(attr) || !IsFairPolicy(attr.sched_policy)) return std::chrono::nanoseconds(0);
  const int saved_errno = errno;
  // Same policy, nice value and reset-on-fork flag as now (an unprivileged thread could not
  // lower its nice value back): only the runtime, the slice request of the fair policies,
  // changes. Utilization clamps are left alone (their flags are not passed).
  attr.size = sizeof attr;
  attr.sched_flags &= kSchedFlagResetOnFork;
  attr.sched_runtime = static_cast<std::uint64_t>(std::max<std::int64_t>(slice.count(), 0));
  const bool ok = syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
  errno = saved_errno;
  if (!ok) return std::chrono::nanoseconds(0);
  return SchedulerSlice();
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
