// ServiceNotifier and ReloadOnHangup against a real notification socket, as systemd listens.
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

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::daemon {
namespace {

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

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tapflow-reload-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    saved_ = spdlog::get_level();
    spdlog::set_level(spdlog::level::info);
  }
  void TearDown() override {
    spdlog::set_level(saved_);
    std::filesystem::remove_all(dir_);
  }
  std::string write(const std::string& text) {
    const auto path = dir_ / "tapflowd.yaml";
    std::ofstream(path) << text;
    return path.string();
  }
  // SIGHUP to ourselves, then run the loop until the handler ran.
  static void hangup(boost::asio::io_context& io) {
    ASSERT_EQ(::raise(SIGHUP), 0);
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }

  std::filesystem::path dir_;
  spdlog::level::level_enum saved_ = spdlog::level::info;
};

TEST_F(ReloadTest, HangupAppliesTheLogLevel) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  const std::string file = write("app: learning-switch\nlog_level: warn\n");
  ReloadOnHangup reload(io, n, file, std::nullopt);
  hangup(io);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  EXPECT_EQ(sock.next(), "RELOADING=1\nSTATUS=reloading " + file);
  EXPECT_EQ(sock.next(), "READY=1\nSTATUS=log_level warn");

  // A second SIGHUP is handled as well (the handler re-arms).
  write("log_level: debug\n");
  hangup(io);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
}

TEST_F(ReloadTest, CommandLineLevelWins) {
  boost::asio::io_context io;
  ServiceNotifier n(io);
  ReloadOnHangup reload(io, n, write("log_level: error\n"), std::string("trace"));
  hangup(io);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::trace);
}

TEST_F(ReloadTest, ABrokenFileChangesNothing) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  const std::string file = write("log_level: warn\nlisen: []\n");
  ReloadOnHangup reload(io, n, file, std::nullopt);
  hangup(io);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  EXPECT_EQ(sock.next(), "RELOADING=1\nSTATUS=reloading " + file);
  EXPECT_EQ(sock.next(), "READY=1\nSTATUS=reload failed, running configuration kept");
}

TEST_F(ReloadTest, WithoutAFileHangupIsHarmless) {
  boost::asio::io_context io;
  ServiceNotifier n(io);
  ReloadOnHangup reload(io, n, "", std::nullopt);
  hangup(io);  // the default action would have ended this test binary
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

}  // namespace
}  // namespace tapflow::daemon
