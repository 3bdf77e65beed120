#include "core/thread.h"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

namespace promptops {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Slice requests exist since Linux 6.12; older kernels report no slice for fair threads.
bool KernelTakesSliceRequests() {
  utsname u{};
  if (uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 12);
}

TEST(SchedulerSlice, ALongSliceIsGrantedToTheCallingThreadOnlyAndKeepsItsNiceValue) {
  if (!KernelTakesSliceRequests()) {
    // Ignored, and said so: zero, and the thread is otherwise unchanged.
    std::thread([] { EXPECT_EQ(RequestSchedulerSlice(milliseconds(100)).count(), 0); }).join();
    GTEST_SKIP() << "this kernel predates scheduler slice requests (Linux 6.12)";
  }
  const nanoseconds before = SchedulerSlice();
  ASSERT_GT(before.count(), 0);  // the default slice, reported by kernels that take requests
  std::thread([&] {
    // A nice value set by the operator (here: by the thread itself) survives the request.
    ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5), 0);
    EXPECT_EQ(RequestSchedulerSlice(milliseconds(100)), milliseconds(100));
    EXPECT_EQ(SchedulerSlice(), milliseconds(100));
    errno = 0;
    EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), 5);
    EXPECT_EQ(errno, 0);
    // The kernel clamps requests to 0.1-100 ms, and the call reports what is in effect.
    EXPECT_EQ(RequestSchedulerSlice(std::chrono::seconds(5)), milliseconds(100));
    EXPECT_EQ(RequestSchedulerSlice(microseconds(10)), microseconds(100));
    EXPECT_EQ(RequestSchedulerSlice(nanoseconds(0)), before);  // 0: the kernel's default again
  }).join();
  EXPECT_EQ(SchedulerSlice(), before);  // other threads keep theirs
}

TEST(CooperativeYield, DoesNothingOnAThreadThatDidNotEnableIt) {
  std::thread([] {
    for (int i = 0; i < 10000; ++i) CooperativeYield();
    EXPECT_EQ(CooperativeYields(), 0u);
    EXPECT_EQ(CooperativeSlice().count(), 0);
  }).join();
}

TEST(CooperativeYield, YieldsOnlyOnceASliceHasPassed) {
  std::thread([] {
    EnableCooperativeYield(milliseconds(1000), milliseconds(1000));
    for (int i = 0; i < 10000; ++i) CooperativeYield();
    EXPECT_EQ(CooperativeYields(), 0u);  // far less than a second of work

    EnableCooperativeYield(milliseconds(2), milliseconds(2));
    auto end = std::chrono::steady_clock::now() + milliseconds(20);
    while (std::chrono::steady_clock::now() < end) CooperativeYield();
    // About one yield per 2 ms of running: at most 10 in 20 ms, and at least one.
    EXPECT_GE(CooperativeYields(), 1u);
    EXPECT_LE(CooperativeYields(), 10u);
  }).join();
}

TEST(CooperativeYield, ZeroSliceYieldsAtEveryPointAndKeepsErrno) {
  std::thread([] {
    EnableCooperativeYield(microseconds(0), microseconds(0));
    for (int i = 0; i < 100; ++i) {
      errno = EIO;
      CooperativeYield();
      ASSERT_EQ(errno, EIO);  // callable from inside I/O wrappers
    }
    EXPECT_EQ(CooperativeYields(), 100u);
  }).join();
}

TEST(CooperativeYield, DoesNotYieldWhilePaused) {
  std::thread([] {
    std::atomic<bool> pause{true};
    EnableCooperativeYield(microseconds(0), microseconds(0));
    SetCooperativeYieldPause(&pause);
    for (int i = 0; i < 100; ++i) CooperativeYield();
    EXPECT_TRUE(CooperativeYieldPaused());
    EXPECT_EQ(CooperativeYields(), 0u);
    pause = false;  // seen at the next cooperation point
    for (int i = 0; i < 100; ++i) CooperativeYield();
    EXPECT_FALSE(CooperativeYieldPaused());
    EXPECT_EQ(CooperativeYields(), 100u);
    SetCooperativeYieldPause(nullptr);
    EXPECT_FALSE(CooperativeYieldPaused());
  }).join();
}

TEST(CooperativeYield, SliceDoublesWhenMostYieldsAreLongAndHalvesWhenFewAre) {
  const nanoseconds base = microseconds(25), max = milliseconds(2);
  // Most yields were long (the core went to a busy thread): saturated, yield half as often.
  EXPECT_EQ(NextCooperativeSlice(base, base, max, 32, 17), microseconds(50));
  EXPECT_EQ(NextCooperativeSlice(microseconds(1600), base, max, 32, 32), max);
  EXPECT_EQ(NextCooperativeSlice(max, base, max, 32, 32), max);
  // Few did: back towards the base slice, never below it.
  EXPECT_EQ(NextCooperativeSlice(microseconds(800), base, max, 32, 3), microseconds(400));
  EXPECT_EQ(NextCooperativeSlice(base, base, max, 32, 0), base);
  // In between (from 1/8 to 1/2 long yields): unchanged.
  EXPECT_EQ(NextCooperativeSlice(microseconds(400), base, max, 32, 4), microseconds(400));
  EXPECT_EQ(NextCooperativeSlice(microseconds(400), base, max, 32, 16), microseconds(400));
  EXPECT_EQ(NextCooperativeSlice(microseconds(400), base, max, 0, 0), microseconds(400));
}

}  // namespace
}  // namespace promptops
