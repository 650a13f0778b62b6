// sd_notify for tapflowd (READY, RELOADING, STOPPING, STATUS).
#include "service_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>


namespace tapflow::daemon {
namespace {

// One STATUS= line: the protocol is newline-separated assignments, so a
// newline inside the text would start a bogus one.
std::string status_line(std::string_view text) {
  std::string line = "STATUS=";
  for (char c : text) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return line;
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : refresh_timer_(io) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && socket[0] != '\0';
  if (active_) spdlog::debug("service manager: notifying {}", socket);
}

void ServiceNotifier::send(const std::string& state) {
  if (!active_) return;
  // unset_environment = 0: later notifications (STOPPING) need the variable.
  const int r = sd_notify(0, state.c_str());
  if (r < 0 && !warned_) {
    warned_ = true;
    spdlog::warn("service manager: sd_notify to $NOTIFY_SOCKET failed: {}", std::strerror(-r));
  }
}

void ServiceNotifier::ready(std::function<std::string()> describe,
                            std::chrono::milliseconds refresh) {
  describe_ = std::move(describe);
  refresh_ = refresh;
  last_status_ = describe_ ? describe_() : std::string();
  send("READY=1\n" + status_line(last_status_));
  if (active_) spdlog::info("service manager: READY=1 ({})", last_status_);
  schedule_refresh();
}

void ServiceNotifier::schedule_refresh() {
  if (!active_ || stopping_ || !describe_ || refresh_.count() <= 0) return;
  refresh_timer_.expires_after(refresh_);
  refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    std::string now = describe_();
    if (now != last_status_) {
      last_status_ = std::move(now);
      send(status_line(last_status_));
    }
    schedule_refresh();
  });
}

void ServiceNotifier::reloading(std::string_view status) {
  send("RELOADING=1\n" + status_line(status));
}

void ServiceNotifier::reloaded(std::string_view status) {
  // Shown until the next refresh puts the running status back.
  last_status_ = std::string(status);
  send("READY=1\n" + status_line(last_status_));
}

void ServiceNotifier::stopping(std::string_view status) {
  stopping_ = true;
  refresh_timer_.cancel();
  send("STOPPING=1\n" + status_line(status));
}

void ServiceNotifier::status(std::string_view status) { send(status_line(status)); }

}  // namespace tapflow::daemon
