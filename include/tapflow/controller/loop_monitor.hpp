// LoopMonitor: how long the event loop keeps its handlers waiting, and whether
// it was busy (our own work) or off the CPU (a blocking call, a busy machine).
//
// Every tapflowd duty that keeps a routing session alive (PACKET_IN to TAP,
// TAP to PACKET_OUT, echo replies) runs on one event loop: a handler that
// holds it for 300 ms is a missed BFD packet. A timer ticks every `period`;
// a tick late by more than `stall` is a stall: counted, and logged (at most
// one line per `log_every`, the rest summed up in it) with the share of it
// the loop's thread spent on the CPU. Busy (mostly on CPU): tapflowd's own
// work held the loop. Off CPU: a blocking call, or the machine had no CPU
// to give (other processes, the host).
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

namespace tapflow::controller {

struct LoopMonitorOptions {
  std::chrono::milliseconds period{10};
  std::chrono::milliseconds stall{100};
  std::chrono::milliseconds log_every{10000};
};

// Lateness of the ticks, cumulative by upper bound (seconds), as Prometheus wants.
struct LoopLagStats {
  static constexpr std::array<double, 10> kBounds{0.001, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,  0.5,  1.0,   2.5};
  std::array<std::uint64_t, kBounds.size()> below{};  // ticks late by <= kBounds[i]
  std::uint64_t ticks = 0;
  double lag_sum_seconds = 0;
  double max_lag_seconds = 0;
  std::uint64_t stalls = 0;              // ticks late by more than `stall`
  double stall_seconds = 0;              // their lateness, summed
  double stall_on_cpu_seconds = 0;       // of which the loop's thread was on the CPU
  double stall_runqueue_seconds = 0;     // of which it was runnable but given no CPU
  void add(double lag_seconds);
};

// Whether a stall was the loop's own work: at least half of it on the CPU.
bool stall_was_busy(double lag_seconds, double on_cpu_seconds);

// What held a stall, in words for the log: tapflowd's own work (half of it
// or more on the CPU), the machine short of CPU (half or more runnable but
// not running: /proc schedstat's run delay), else a wait (a blocking call).
// runqueue_seconds < 0: unknown (no schedstat).
std::string_view stall_cause(double lag_seconds, double on_cpu_seconds, double runqueue_seconds);

class LoopMonitor {
 public:
  LoopMonitor(boost::asio::io_context& io, LoopMonitorOptions options = {});
  ~LoopMonitor();
  LoopMonitor(const LoopMonitor&) = delete;
  LoopMonitor& operator=(const LoopMonitor&) = delete;

  // Call on the loop's thread (the CPU time read is that thread's).
  void start();
  void stop();
  const LoopLagStats& stats() const { return stats_; }

 private:
  void arm();
  void on_tick();

  boost::asio::io_context& io_;
  LoopMonitorOptions options_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_;
  LoopLagStats stats_;
  std::chrono::steady_clock::time_point due_{}, last_log_{};
  std::chrono::nanoseconds cpu_at_arm_{};
  std::int64_t run_delay_at_arm_ = -1;  // ns runnable but not running (schedstat), -1: unknown
  // The loop thread's /proc schedstat, opened once by start() and read with
  // pread at each tick (the timer ticks every `period`: no open per tick).
  int schedstat_fd_ = -1;
  std::uint64_t unlogged_ = 0;            // stalls since the last log line
  double unlogged_worst_ = 0;
  bool running_ = false;
};

}  // namespace tapflow::controller
