// ServiceNotifier: tells the service manager (systemd, Type=notify) how tapflowd is doing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
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

}  // namespace tapflow::daemon
