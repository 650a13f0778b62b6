// ServiceNotifier: tells the service manager (systemd, Type=notify) how tapflowd is doing;
// ReloadOnHangup: what SIGHUP (systemctl reload) changes in a running tapflowd.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tapflow::daemon {

// sd_notify(3) over $NOTIFY_SOCKET. Without NOTIFY_SOCKET (not started by a
// service manager) every call does nothing. A failed send is logged once at
// warn and never stops tapflowd: the service manager is only being informed.
class ServiceNotifier {
 public:
  explicit ServiceNotifier(boost::asio::io_context& io);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // A service manager listens (NOTIFY_SOCKET was set at start).
  bool active() const { return active_; }

  // READY=1 with STATUS=describe(); from then on STATUS is refreshed from
  // `describe` every `refresh` when it changed (`systemctl status` shows it).
  void ready(std::function<std::string()> describe,
             std::chrono::milliseconds refresh = std::chrono::seconds(5));
  // RELOADING=1 / READY=1 around a reload (systemd then shows "reloading").
  void reloading(std::string_view status);
  void reloaded(std::string_view status);
  // STOPPING=1: shutdown has begun; no more status refreshes.
  void stopping(std::string_view status);
  // STATUS= only.
  void status(std::string_view status);

 private:
  void send(const std::string& state);
  void schedule_refresh();

  boost::asio::steady_timer refresh_timer_;
  std::function<std::string()> describe_;
  std::chrono::milliseconds refresh_{0};
  std::string last_status_;
  bool active_ = false;
  bool warned_ = false;
  bool stopping_ = false;
};

// SIGHUP, as ExecReload=/bin/kill -HUP $MAINPID sends it: re-reads the
// configuration file and applies what changes without a restart, the log
// level (unless --log-level fixed it). A file that no longer loads is
// logged and changes nothing; everything else in it takes effect at the next
// restart, which the log says. Without a file, SIGHUP is logged and ignored
// (never the default action, which would end tapflowd).
class ReloadOnHangup {
 public:
  ReloadOnHangup(boost::asio::io_context& io, ServiceNotifier& notifier, std::string config_file,
                 std::optional<std::string> log_level_override);
  ReloadOnHangup(const ReloadOnHangup&) = delete;
  ReloadOnHangup& operator=(const ReloadOnHangup&) = delete;

 private:
  void wait();
  void reload();

  boost::asio::signal_set hangup_;
  ServiceNotifier& notifier_;
  std::string config_file_;
  std::optional<std::string> log_level_override_;
};

}  // namespace tapflow::daemon
