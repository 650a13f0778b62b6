// The control socket's transport over real Unix sockets: replies in order,
// garbage and oversized lines answered without harm, half-closed clients,
// a limit on clients, stale socket files, mode and removal at stop.
#include "control_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "control_request.hpp"
#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::daemon {
namespace {

namespace asio = boost::asio;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tapflow-ctl-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/sub/ctl.sock";  // sub/ does not exist yet: start() makes it
  }
  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }

  void start(ControlServerOptions o = {}) {
    o.path = path_;
    o.group = "";
    server_ = std::make_unique<ControlServer>(io_, o, [this](const std::string& line, const ControlServer::Reply& reply) {
      try {
        const auto r = parse_control_request(line);
        const std::string answer = nlohmann::json{{"view", view_name(r.view)}}.dump();
        if (r.view == ControlView::kFlows) {
          // As show flows does: the answer comes later, from the event loop.
          auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
          t->async_wait([t, reply, answer](const boost::system::error_code&) { reply(answer); });
          return;
        }
        reply(answer);
      } catch (const ControlRequestError& e) {
        reply(nlohmann::json{{"error", e.what()}}.dump());
      }
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    std::promise<void> done;
    asio::post(io_, [&] {
      server_.reset();
      done.set_value();
    });
    done.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  netns::UniqueFd connect_client() {
    netns::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    return fd;
  }
  static void send_all(const netns::UniqueFd& fd, const std::string& s) {
    for (std::size_t off = 0; off < s.size();) {
      const ssize_t n = ::send(fd.get(), s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed: what the test reads next tells
      off += static_cast<std::size_t>(n);
    }
  }
  // One line, or "" at EOF.
  static std::string read_line(const netns::UniqueFd& fd) {
    std::string out;
    char c;
    while (::recv(fd.get(), &c, 1, 0) == 1) {
      if (c == '\n') return out;
      out += c;
    }
    return out;
  }
  // The server closed: EOF, or a reset when it closed with our bytes unread.
  static bool at_eof(const netns::UniqueFd& fd) {
    char c;
    const ssize_t n = ::recv(fd.get(), &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::string dir_, path_;
};

TEST_F(ControlServerTest, RepliesInOrderAndGarbageDoesNoHarm) {
  start();
  struct stat sb {};
  ASSERT_EQ(::stat(path_.c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 0777, 0660u);
  auto fd = connect_client();
  send_all(fd, "{\"command\":\"status\"}\n\xff\xfe garbage\n\n{\"command\":\"show\",\"view\":\"ha\"}\r\n");
  EXPECT_EQ(read_line(fd), R"({"view":"status"})");
  EXPECT_NE(read_line(fd).find("\"error\":\"not a JSON object"), std::string::npos);
  EXPECT_EQ(read_line(fd), R"({"view":"ha"})");  // the blank line is skipped
  send_all(fd, "{\"command\":\"status\"}\n");
  EXPECT_EQ(read_line(fd), R"({"view":"status"})");
}

TEST_F(ControlServerTest, LateRepliesArriveAlsoFromHalfClosedClients) {
  start();
  auto fd = connect_client();
  send_all(fd, "{\"command\":\"show\",\"view\":\"flows\"}\n{\"command\":\"status\"}\n");
  ::shutdown(fd.get(), SHUT_WR);  // as tapflowctl does
  EXPECT_EQ(read_line(fd), R"({"view":"flows"})");
  EXPECT_EQ(read_line(fd), R"({"view":"status"})");  // in order, after the late one
  EXPECT_TRUE(at_eof(fd));
}

TEST_F(ControlServerTest, HugeLineGetsAnErrorAndTheServerGoesOn) {
  ControlServerOptions o;
  o.max_line = 1024;
  start(o);
  auto fd = connect_client();
  send_all(fd, std::string(100000, 'x'));
  EXPECT_EQ(read_line(fd), R"({"error":"request line longer than 1024 bytes"})");
  EXPECT_TRUE(at_eof(fd));
  auto other = connect_client();
  send_all(other, "{\"command\":\"status\"}\n");
  EXPECT_EQ(read_line(other), R"({"view":"status"})");
}

TEST_F(ControlServerTest, HalfClosedClientGetsItsReplyThenEof) {
  start();
  auto fd = connect_client();
  send_all(fd, R"({"command":"status"})");  // no newline: the EOF ends the line
  ::shutdown(fd.get(), SHUT_WR);
  EXPECT_EQ(read_line(fd), R"({"view":"status"})");
  EXPECT_TRUE(at_eof(fd));
  // A client that closes before reading its reply harms nobody.
  {
    auto gone = connect_client();
    send_all(gone, "{\"command\":\"status\"}\n");
  }
  auto next = connect_client();
  send_all(next, "{\"command\":\"status\"}\n");
  EXPECT_EQ(read_line(next), R"({"view":"status"})");
}

TEST_F(ControlServerTest, ClientsBeyondTheLimitAreToldSo) {
  ControlServerOptions o;
  o.max_clients = 4;
  start(o);
  std::vector<netns::UniqueFd> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(connect_client());
    send_all(held.back(), "{\"command\":\"status\"}\n");
    EXPECT_EQ(read_line(held.back()), R"({"view":"status"})");  // accepted and served
  }
  auto extra = connect_client();
  EXPECT_EQ(read_line(extra), R"x({"error":"too many clients (4)"})x");
  EXPECT_TRUE(at_eof(extra));
  held.pop_back();  // one leaves: room again
  for (int tries = 0; tries < 50; ++tries) {
    auto again = connect_client();
    send_all(again, "{\"command\":\"status\"}\n");
    if (read_line(again) == R"({"view":"status"})") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no room after a client left";
}

TEST_F(ControlServerTest, StaleSocketIsReplacedLiveOneRefusedAndStopRemovesIt) {
  // A socket file nobody listens on (a killed tapflowd).
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  {
    netns::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  start();
  auto fd = connect_client();
  send_all(fd, "{\"command\":\"status\"}\n");
  EXPECT_EQ(read_line(fd), R"({"view":"status"})");
  // A second server on the same path: refused, the first keeps it.
  asio::io_context io2;
  ControlServerOptions o;
  o.path = path_;
  ControlServer second(io2, o, [](const std::string&, const ControlServer::Reply&) {});
  try {
    second.start();
    ADD_FAILURE() << "a second server took a live socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is in use"), std::string::npos) << e.what();
  }
  second.stop();
  EXPECT_TRUE(std::filesystem::exists(path_));  // not the second's to remove
  stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ControlServerTest, AFileThatIsNoSocketIsLeftAlone) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  { std::ofstream(path_) << "not a socket"; }
  ControlServerOptions o;
  o.path = path_;
  ControlServer s(io_, o, [](const std::string&, const ControlServer::Reply&) {});
  EXPECT_THROW(s.start(), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

}  // namespace
}  // namespace tapflow::daemon
