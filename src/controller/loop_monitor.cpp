// LoopMonitor: event-loop lateness and stalls, told apart as busy or off CPU.
#include "tapflow/controller/loop_monitor.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace tapflow::controller {

namespace {

std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// A thread's time spent runnable but not running, in ns: the second field
// of its /proc schedstat, open as `fd`; -1 if the kernel has none.
std::int64_t run_delay(int fd) {
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  unsigned long long on_cpu = 0, waited = 0;
  if (std::sscanf(buf, "%llu %llu", &on_cpu, &waited) != 2) return -1;
  return static_cast<std::int64_t>(waited);
}

}  // namespace

void LoopLagStats::add(double lag_seconds) {
  ++ticks;
  lag_sum_seconds += lag_seconds;
  max_lag_seconds = std::max(max_lag_seconds, lag_seconds);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (lag_seconds <= kBounds[i]) ++below[i];
  }
}

bool stall_was_busy(double lag_seconds, double on_cpu_seconds) {
  return lag_seconds > 0 && on_cpu_seconds >= 0.5 * lag_seconds;
}

std::string_view stall_cause(double lag_seconds, double on_cpu_seconds, double runqueue_seconds) {
  if (stall_was_busy(lag_seconds, on_cpu_seconds)) return "tapflowd's own work";
  if (runqueue_seconds < 0) return "waiting, or the machine short of CPU";
  if (lag_seconds > 0 && runqueue_seconds >= 0.5 * lag_seconds) return "the machine short of CPU";
  return "waiting in a blocking call";
}

LoopMonitor::LoopMonitor(boost::asio::io_context& io, LoopMonitorOptions options)
    : io_(io), options_(options), timer_(io), alive_(std::make_shared<bool>(true)) {
  options_.period = std::max(options_.period, std::chrono::milliseconds(1));
}

LoopMonitor::~LoopMonitor() {
  *alive_ = false;
  timer_.cancel();
  if (schedstat_fd_ >= 0) ::close(schedstat_fd_);
}

void LoopMonitor::start() {
  if (running_) return;
  running_ = true;
  // thread-self names the calling thread: the loop's (start runs on it).
  if (schedstat_fd_ < 0) schedstat_fd_ = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  last_log_ = std::chrono::steady_clock::now() - options_.log_every;
  arm();
}

void LoopMonitor::stop() {
  running_ = false;
  timer_.cancel();
}

void LoopMonitor::arm() {
  due_ = std::chrono::steady_clock::now() + options_.period;
  cpu_at_arm_ = thread_cpu();
  run_delay_at_arm_ = run_delay(schedstat_fd_);
  timer_.expires_at(due_);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive || !running_) return;
    on_tick();
  });
}

void LoopMonitor::on_tick() {
  const auto now = std::chrono::steady_clock::now();
  const double lag = std::max(0.0, seconds(now - due_));
  stats_.add(lag);
  if (lag * 1000 > static_cast<double>(options_.stall.count())) {
    // The thread's CPU time since the timer was armed (the period and the
    // lateness): what of the lateness was spent running.
    const double cpu = seconds(thread_cpu() - cpu_at_arm_);
    const double on_cpu = std::min(lag, std::max(0.0, cpu - seconds(options_.period)));
    // Runnable but not running since the timer was armed (the thread sleeps
    // in epoll until the tick is due, which adds none): the machine's part.
    const std::int64_t rd = run_delay(schedstat_fd_);
    const double runq = rd < 0 || run_delay_at_arm_ < 0
                            ? -1.0
                            : std::min(lag - on_cpu, static_cast<double>(rd - run_delay_at_arm_) / 1e9);
    ++stats_.stalls;
    stats_.stall_seconds += lag;
    stats_.stall_on_cpu_seconds += on_cpu;
    if (runq > 0) stats_.stall_runqueue_seconds += runq;
    ++unlogged_;
    unlogged_worst_ = std::max(unlogged_worst_, lag);
    if (now - last_log_ >= options_.log_every) {
      spdlog::warn("event loop held {:.0f} ms ({:.0f} ms of it on the CPU{}: {}){}", lag * 1000,
                   on_cpu * 1000,
                   runq < 0 ? std::string() : fmt::format(", {:.0f} ms waiting for a CPU", runq * 1000),
                   stall_cause(lag, on_cpu, runq),
                   unlogged_ > 1 ? fmt::format("; {} such stalls since the last report, the worst "
                                               "{:.0f} ms",
                                               unlogged_, unlogged_worst_ * 1000)
                                 : std::string());
      last_log_ = now;
      unlogged_ = 0;
      unlogged_worst_ = 0;
    }
  }
  arm();
}

}  // namespace tapflow::controller
