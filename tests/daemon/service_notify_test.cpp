// ServiceNotifier against a real notification socket, as systemd listens.
#include "service_notify.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "notify_socket.hpp"

namespace tapflow::daemon {
namespace {

TEST(ServiceNotifier, NothingWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  boost::asio::io_context io;
  ServiceNotifier n(io);
  EXPECT_FALSE(n.active());
  int calls = 0;
  n.ready([&] { return "status " + std::to_string(++calls); }, std::chrono::milliseconds(1));
  n.status("x");
  n.stopping("y");
  io.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(io.stopped(), true) << "no refresh timer may be left running";
}

TEST(ServiceNotifier, ReadyStatusRefreshAndStopping) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  ASSERT_TRUE(n.active());
  int switches = 0;
  n.ready([&] { return "app router, " + std::to_string(switches) + " switch connection(s)"; },
          std::chrono::milliseconds(5));
  EXPECT_EQ(sock.next(), "READY=1\nSTATUS=app router, 0 switch connection(s)");

  // Unchanged: no datagram. Changed: one STATUS line.
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(sock.next(), "");
  switches = 2;
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(sock.next(), "STATUS=app router, 2 switch connection(s)");
  EXPECT_EQ(sock.next(), "");

  n.stopping("stopping (signal 15)");
  EXPECT_EQ(sock.next(), "STOPPING=1\nSTATUS=stopping (signal 15)");
  switches = 3;
  io.restart();
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_EQ(sock.next(), "") << "no status refresh after STOPPING";
}

TEST(ServiceNotifier, NewlinesNeverStartAnotherAssignment) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  n.status("one\nREADY=1\r");
  EXPECT_EQ(sock.next(), "STATUS=one READY=1 ");
}

}  // namespace
}  // namespace tapflow::daemon
