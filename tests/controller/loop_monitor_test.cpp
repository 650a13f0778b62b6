// LoopMonitor: a handler that spins is a busy stall, one that sleeps is not.
#include "tapflow/controller/loop_monitor.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <thread>

namespace tapflow::controller {
namespace {

using namespace std::chrono_literals;

// Runs the loop with the monitor for `total`; `hold` is posted after 50 ms.
LoopLagStats run_with(std::function<void()> hold, std::chrono::milliseconds total = 400ms) {
  boost::asio::io_context io;
  LoopMonitorOptions o;
  o.period = 5ms;
  o.stall = 60ms;
  LoopMonitor m(io, o);
  m.start();
  boost::asio::steady_timer at(io, 50ms);
  at.async_wait([&](const boost::system::error_code&) { hold(); });
  boost::asio::steady_timer end(io, total);
  end.async_wait([&](const boost::system::error_code&) { m.stop(); });
  io.run();
  return m.stats();
}

TEST(LoopMonitor, QuietLoopHasNoStall) {
  const auto s = run_with([] {});
  EXPECT_GT(s.ticks, 20u);
  EXPECT_EQ(s.stalls, 0u);
  EXPECT_LT(s.max_lag_seconds, 0.06);
}

TEST(LoopMonitor, SpinningHandlerStallsOnCpu) {
  // Spins until it has had 150 ms of CPU (on a loaded machine that takes
  // longer in wall time): all of that shows as the stall's CPU share.
  const auto s = run_with([] {
    const auto cpu = [] {
      timespec ts{};
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec + ts.tv_nsec / 1e9;
    };
    const double until = cpu() + 0.15;
    while (cpu() < until) {
    }
  }, 2000ms);
  // At least the spin; on a loaded machine (ctest -j2 beside a build) the
  // loop may also wait for a CPU now and then: more stalls, off the CPU.
  ASSERT_GE(s.stalls, 1u);
  EXPECT_GE(s.stall_seconds, 0.14);
  EXPECT_GE(s.stall_on_cpu_seconds, 0.13) << "of " << s.stall_seconds;
  EXPECT_LE(s.stall_on_cpu_seconds, s.stall_seconds);
}

TEST(LoopMonitor, BlockingHandlerIsAStallOffCpu) {
  const auto s = run_with([] { std::this_thread::sleep_for(200ms); });
  ASSERT_GE(s.stalls, 1u);
  EXPECT_GE(s.stall_seconds, 0.15);
  EXPECT_FALSE(stall_was_busy(s.stall_seconds, s.stall_on_cpu_seconds))
      << s.stall_on_cpu_seconds << " of " << s.stall_seconds;
  EXPECT_LT(s.stall_on_cpu_seconds, 0.05);
  // Asleep, not runnable: the wait is no shortage of CPU.
  EXPECT_LT(s.stall_runqueue_seconds, 0.05);
}

TEST(LoopLagStats, StallCauses) {
  EXPECT_EQ(stall_cause(0.2, 0.15, 0.0), "tapflowd's own work");
  EXPECT_EQ(stall_cause(0.2, 0.01, 0.15), "the machine short of CPU");
  EXPECT_EQ(stall_cause(0.2, 0.01, 0.02), "waiting in a blocking call");
  EXPECT_EQ(stall_cause(0.2, 0.01, -1), "waiting, or the machine short of CPU");
}

TEST(LoopLagStats, BusyMeansMostlyOnCpu) {
  EXPECT_TRUE(stall_was_busy(0.2, 0.19));
  EXPECT_TRUE(stall_was_busy(0.2, 0.1));
  EXPECT_FALSE(stall_was_busy(0.2, 0.05));
  EXPECT_FALSE(stall_was_busy(0, 0));
}

TEST(LoopLagStats, BucketsAreCumulative) {
  LoopLagStats s;
  s.add(0.0005);
  s.add(0.03);
  s.add(3.0);
  EXPECT_EQ(s.ticks, 3u);
  EXPECT_EQ(s.below[0], 1u);                          // <= 1 ms
  EXPECT_EQ(s.below[4], 2u);                          // <= 50 ms
  EXPECT_EQ(s.below[LoopLagStats::kBounds.size() - 1], 2u);  // <= 2.5 s: not the 3 s
  EXPECT_DOUBLE_EQ(s.max_lag_seconds, 3.0);
}

}  // namespace
}  // namespace tapflow::controller
