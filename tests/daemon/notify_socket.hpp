// NotifySocket: a service manager's notification socket for tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <string>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::daemon {

// A datagram socket at an abstract address, NOTIFY_SOCKET pointing at it for
// the test's lifetime (as systemd sets it for a Type=notify service).
class NotifySocket {
 public:
  NotifySocket() {
    static std::atomic<int> serial{0};
    name_ = "tapflow-notify-test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
    sock_ = netns::UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(sock_);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name_.copy(addr.sun_path + 1, name_.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name_.size());
    EXPECT_EQ(::bind(sock_.get(), reinterpret_cast<const sockaddr*>(&addr), len), 0);
    ::setenv("NOTIFY_SOCKET", ("@" + name_).c_str(), 1);
  }
  ~NotifySocket() { ::unsetenv("NOTIFY_SOCKET"); }

  // The next datagram, "" if none is waiting.
  std::string next() {
    char buf[4096];
    const ssize_t n = ::recv(sock_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  netns::UniqueFd sock_;
};

}  // namespace tapflow::daemon
