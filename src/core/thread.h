#pragma once
// Thread naming, so that top -H, perf and gdb show which part of promptops a thread belongs to;
// and two ways for background threads that share the cores with network threads to stay out of
// their way: a long scheduler slice, and cooperative yielding.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace promptops {

// Names the calling thread (Linux keeps the first 15 bytes). Best effort: errors are ignored.
void SetThreadName(std::string_view name);

// Asks the kernel's scheduler for a time slice of `slice` for the calling thread, keeping its
// policy and nice value (its share of the CPU does not change). Under Linux's EEVDF scheduler
// (slice requests since 6.12) a thread woken with a shorter slice than the running thread's
// preempts it at once (PREEMPT_SHORT); otherwise the running thread keeps the core until the
// end of its protected slice or its next yield. A latency-tolerant background thread (the trace
// writer) asks for kBackgroundSchedulerSlice, longer than the default (0.7 ms times 1 + log2 of
// the CPU count), so that a thread woken onto its core, a network thread or another process's,
// runs at once. The kernel clamps a request to 0.1-100 ms; 0 restores the default.
// Returns the slice in effect after the call, as the kernel reports it, or zero when the kernel
// ignores slice requests (before 6.12) or refused this one; best effort, nothing else changes.
std::chrono::nanoseconds RequestSchedulerSlice(std::chrono::nanoseconds slice);
// The calling thread's scheduler slice as the kernel reports it (zero: no slice requests).
std::chrono::nanoseconds SchedulerSlice();
// Not longer: a sched_yield moves the yielding thread's deadline on by one slice, so a thread
// that also yields cooperatively (below) with a 100 ms slice gives its core away for up to
// 100 ms at every yield on a busy machine and falls behind (measured: the trace writer's backlog
// under saturation grew from ~40 to ~2,000 records with 100 ms, ~100 with 5 ms).
inline constexpr std::chrono::milliseconds kBackgroundSchedulerSlice{5};

// Cooperative yielding. A background thread that runs long stretches of CPU work beside the
// latency-sensitive network threads (the trace writer storing a batch) calls
// EnableCooperativeYield once, then CooperativeYield at points where it may pause (between
// rows and statements, inside statements, after each page SQLite writes). When the thread has run
// for its current slice since it last gave way, the call yields the CPU (sched_yield), so that a
// network thread woken onto the same core runs within about a slice instead of waiting for the
// scheduler to preempt the background thread, which can take milliseconds. When nothing else is
// runnable the yield returns at once (well under a microsecond).
//
// The slice adapts: when most yields hand the core to a thread that keeps it for long (200 us or
// more: the cores are saturated and everybody waits anyway), fine slicing would only add
// context switches, so the slice doubles, up to `max_slice`; when few yields do, it halves,
// down to `slice`. A yield to a network thread that handles one event and sleeps again is
// short, so at low load the slice stays at `slice`.
// On a thread that did not enable it, CooperativeYield only reads a thread-local flag.
void EnableCooperativeYield(std::chrono::microseconds slice = std::chrono::microseconds(25),
                            std::chrono::microseconds max_slice = std::chrono::milliseconds(2));
void CooperativeYield();
// While *pause is true (checked at every cooperation point; null: never), CooperativeYield on
// this thread does nothing. Call after EnableCooperativeYield, which resets it. The trace writer
// points it at its "behind" flag, set as soon as more than a batch of traces waits, so that giving
// way never lets its backlog grow.
void SetCooperativeYieldPause(const std::atomic<bool>* pause);
// Whether CooperativeYield is paused on this thread right now (for tests and diagnostics).
bool CooperativeYieldPaused();
// How many times the calling thread has yielded in CooperativeYield, and its current slice (for
// tests and diagnostics).
std::uint64_t CooperativeYields();
std::chrono::nanoseconds CooperativeSlice();
// The adaptation rule, on its own for tests: the slice after a window of `yields` yields of
// which `long_yields` lasted 200 us or more.
std::chrono::nanoseconds NextCooperativeSlice(std::chrono::nanoseconds current,
                                              std::chrono::nanoseconds base,
                                              std::chrono::nanoseconds max, unsigned yields,
                                              unsigned long_yields);

}  // namespace promptops
