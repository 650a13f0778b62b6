// The fd store over real sockets with real descriptors (pipes, eventfds):
// what goes in comes back, replaced and deleted ones are closed, malformed
// clients are dropped without harm, and nothing leaks.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "tapflow/fdstore/client.hpp"
#include "tapflow/fdstore/protocol.hpp"
#include "tapflow/fdstore/server.hpp"

namespace tapflow::fdstore {
namespace {

using namespace std::chrono_literals;
using netns::UniqueFd;

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

// A unique abstract name per test, so tests may run in parallel.
std::string test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "tapflow-fdstore-test-" + std::to_string(::getpid()) + "-" + info->name();
}

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    r.reset(fds[0]);
    w.reset(fds[1]);
  }
};

// The read end sees EOF once every copy of the write end is closed: that is
// how a test knows whether the store still holds a descriptor.
bool write_end_closed(int read_fd) {
  const int flags = ::fcntl(read_fd, F_GETFL);
  ::fcntl(read_fd, F_SETFL, flags | O_NONBLOCK);
  char c;
  const ssize_t n = ::read(read_fd, &c, 1);
  return n == 0;
}

// The store on a thread, stopped through an eventfd.
class RunningStore {
 public:
  explicit RunningStore(ServerConfig config)
      : server_(std::move(config)), stop_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this] {
      server_.run(stop_.get());
      done_ = true;
    });
  }
  ~RunningStore() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    const std::uint64_t one = 1;
    EXPECT_EQ(::write(stop_.get(), &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
    thread_.join();
  }
  bool wait_done(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done_ && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    if (done_ && thread_.joinable()) thread_.join();
    return done_;
  }

 private:
  FdStoreServer server_;
  UniqueFd stop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

ServerConfig config(std::chrono::milliseconds linger = 60s) {
  ServerConfig c;
  c.name = test_name();
  c.linger = linger;
  return c;
}

TEST(FdStoreProtocol, EncodeDecode) {
  for (const Message& m :
       {Message{Op::kPut, "ns/eth1"}, Message{Op::kDel, "tapflow-r1/vlan10"},
        Message{Op::kList, ""}, Message{Op::kEntry, "a/b"}, Message{Op::kEnd, ""}}) {
    const std::string bytes = encode(m);
    EXPECT_EQ(decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}), m);
  }
  auto dec = [](const std::string& s) {
    return decode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  };
  EXPECT_FALSE(dec(""));                         // nothing
  EXPECT_FALSE(dec("X ns/eth1"));                // unknown opcode
  EXPECT_FALSE(dec("P"));                        // PUT without a key
  EXPECT_FALSE(dec("Pns/eth 1"));                // blank in the key
  EXPECT_FALSE(dec(std::string("Pns/\0x", 6)));  // NUL in the key
  EXPECT_FALSE(dec("Lextra"));                   // LIST takes no key
  EXPECT_FALSE(dec("P" + std::string(kMaxKey + 1, 'k')));
  EXPECT_TRUE(dec("P" + std::string(kMaxKey, 'k')));
}

TEST(FdStoreProtocol, SocketAddress) {
  EXPECT_FALSE(socket_address(""));
  EXPECT_FALSE(socket_address(std::string(108, 'a')));
  const auto abstract = socket_address("tapflow-fdstore");
  ASSERT_TRUE(abstract);
  EXPECT_EQ(abstract->addr.sun_path[0], '\0');
  EXPECT_EQ(std::string(abstract->addr.sun_path + 1, 15), "tapflow-fdstore");
  const auto path = socket_address("/run/x.sock");
  ASSERT_TRUE(path);
  EXPECT_STREQ(path->addr.sun_path, "/run/x.sock");
}

TEST(FdStore, PutListDelRoundTrip) {
  RunningStore store(config());
  Pipe a, b;
  {
    auto c = FdStoreClient::connect(test_name());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->peer_pid(), ::getpid());
    EXPECT_TRUE(c->put("ns1/eth1", a.w.get()));
    EXPECT_TRUE(c->put("ns1/eth2", b.w.get()));
    a.w.reset();
    b.w.reset();
    auto got = c->list();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].key, "ns1/eth1");
    EXPECT_EQ(got[1].key, "ns1/eth2");
    // The same pipe came back: a byte written through it arrives.
    ASSERT_EQ(::write(got[0].fd.get(), "x", 1), 1);
    char ch = 0;
    ASSERT_EQ(::read(a.r.get(), &ch, 1), 1);
    EXPECT_EQ(ch, 'x');
    EXPECT_NE(::fcntl(got[0].fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  }
  // A second client (as a restarted tapflowd) gets them too, and deletes one.
  auto c2 = FdStoreClient::connect(test_name());
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->list().size(), 2u);
  EXPECT_FALSE(write_end_closed(a.r.get()));
  EXPECT_TRUE(c2->del("ns1/eth1"));
  EXPECT_TRUE(c2->del("ns1/absent"));  // deleting nothing is fine
  auto left = c2->list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, "ns1/eth2");
  EXPECT_TRUE(write_end_closed(a.r.get())) << "the store still holds the deleted descriptor";
  EXPECT_FALSE(write_end_closed(b.r.get()));
}

TEST(FdStore, PutReplacesAndClosesTheOlder) {
  RunningStore store(config());
  Pipe old_pipe, new_pipe;
  auto c = FdStoreClient::connect(test_name());
  ASSERT_TRUE(c);
  c->put("ns/tap", old_pipe.w.get());
  c->put("ns/tap", new_pipe.w.get());
  old_pipe.w.reset();
  new_pipe.w.reset();
  auto got = c->list();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(::write(got[0].fd.get(), "y", 1), 1);
  char ch = 0;
  EXPECT_EQ(::read(new_pipe.r.get(), &ch, 1), 1);
  EXPECT_TRUE(write_end_closed(old_pipe.r.get()));
}

// Raw messages a broken or hostile client might send.
UniqueFd raw_client(const std::string& name) {
  const auto addr = socket_address(name);
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len), 0);
  return s;
}

void send_raw(int sock, const std::string& bytes, std::vector<int> fds) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ASSERT_GE(::sendmsg(sock, &msg, MSG_NOSIGNAL), 0) << std::strerror(errno);
}

// The store closed this client: a read returns EOF (or the reset).
bool dropped(int sock) {
  timeval tv{2, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[16];
  const ssize_t n = ::recv(sock, buf, sizeof(buf), 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

TEST(FdStore, MalformedClientsAreDroppedAndTheirDescriptorsClosed) {
  RunningStore store(config());
  struct Case {
    const char* what;
    std::string bytes;
    int fds;
  };
  const Case cases[] = {
      {"PUT without a descriptor", "Pns/eth1", 0},
      {"PUT with two descriptors", "Pns/eth1", 2},
      {"DEL with a descriptor", "Dns/eth1", 1},
      {"unknown opcode", "Qns/eth1", 1},
      {"invalid key", "Pns/e th1", 1},
      {"oversized", "P" + std::string(4000, 'k'), 1},
      {"an answer sent to the store", "Ens/eth1", 1},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    std::vector<Pipe> pipes(static_cast<std::size_t>(k.fds));
    std::vector<int> fds;
    for (auto& p : pipes) fds.push_back(p.w.get());
    UniqueFd s = raw_client(test_name());
    send_raw(s.get(), k.bytes, fds);
    for (auto& p : pipes) p.w.reset();
    EXPECT_TRUE(dropped(s.get()));
    for (auto& p : pipes) EXPECT_TRUE(write_end_closed(p.r.get())) << "descriptor leaked";
  }
  // Still serving, and nothing of the above was stored.
  auto c = FdStoreClient::connect(test_name());
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->list().empty());
}

TEST(FdStore, TooManyDescriptorsForTheControlBufferAreClosed) {
  // More than the store's control buffer takes: the kernel truncates
  // (MSG_CTRUNC) and closes the excess; the store closes what it got.
  RunningStore store(config());
  std::vector<Pipe> pipes(20);
  std::vector<int> fds;
  for (auto& p : pipes) fds.push_back(p.w.get());
  UniqueFd s = raw_client(test_name());
  send_raw(s.get(), "Pns/eth1", fds);
  for (auto& p : pipes) p.w.reset();
  EXPECT_TRUE(dropped(s.get()));
  for (auto& p : pipes) EXPECT_TRUE(write_end_closed(p.r.get()));
}

TEST(FdStore, BoundedEntries) {
  auto cfg = config();
  cfg.max_entries = 2;
  RunningStore store(cfg);
  Pipe p1, p2, p3;
  auto c = FdStoreClient::connect(test_name());
  ASSERT_TRUE(c);
  c->put("ns/a", p1.w.get());
  c->put("ns/b", p2.w.get());
  c->put("ns/c", p3.w.get());  // refused: full
  c->put("ns/a", p3.w.get());  // replacing is fine
  p1.w.reset();
  p2.w.reset();
  p3.w.reset();
  auto got = c->list();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "ns/a");
  EXPECT_EQ(got[1].key, "ns/b");
  EXPECT_TRUE(write_end_closed(p1.r.get()));
}

TEST(FdStore, LingersThenClosesEverythingAndExits) {
  RunningStore store(config(600ms));
  Pipe p;
  {
    auto c = FdStoreClient::connect(test_name());
    ASSERT_TRUE(c);
    c->put("ns/eth1", p.w.get());
    p.w.reset();
    EXPECT_EQ(c->list().size(), 1u);
    // Connected: no linger, however long.
    std::this_thread::sleep_for(900ms);
    EXPECT_FALSE(write_end_closed(p.r.get()));
  }
  // The client went away: the store still holds the descriptor for a while...
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(write_end_closed(p.r.get()));
  // ...then closes it and returns.
  EXPECT_TRUE(store.wait_done(3s));
  EXPECT_TRUE(write_end_closed(p.r.get()));
  EXPECT_FALSE(FdStoreClient::connect(test_name()));
}

TEST(FdStore, StopClosesEverything) {
  auto store = std::make_unique<RunningStore>(config());
  Pipe p;
  auto c = FdStoreClient::connect(test_name());
  ASSERT_TRUE(c);
  c->put("ns/eth1", p.w.get());
  p.w.reset();
  EXPECT_EQ(c->list().size(), 1u);
  store->stop();
  EXPECT_TRUE(write_end_closed(p.r.get()));
  // The client notices at its next request and says so, without throwing.
  EXPECT_TRUE(c->list().empty());
  EXPECT_FALSE(c->connected());
  EXPECT_FALSE(c->put("ns/eth1", STDIN_FILENO));
}

TEST(FdStore, NoDescriptorLeaks) {
  const std::size_t before = open_fds();
  {
    RunningStore store(config());
    std::vector<Pipe> pipes(50);
    auto c = FdStoreClient::connect(test_name());
    ASSERT_TRUE(c);
    for (std::size_t i = 0; i < pipes.size(); ++i) {
      c->put("ns/eth" + std::to_string(i), pipes[i].w.get());
      c->put("ns/eth" + std::to_string(i), pipes[i].r.get());  // replaced
    }
    for (int round = 0; round < 3; ++round) EXPECT_EQ(c->list().size(), pipes.size());
    for (std::size_t i = 0; i < pipes.size(); i += 2) c->del("ns/eth" + std::to_string(i));
    EXPECT_EQ(c->list().size(), pipes.size() / 2);
    for (int i = 0; i < 5; ++i) {
      UniqueFd s = raw_client(test_name());
      const UniqueFd e(::eventfd(0, EFD_CLOEXEC));
      send_raw(s.get(), "Dns/x", {e.get()});  // malformed: DEL with a descriptor
      EXPECT_TRUE(dropped(s.get()));
    }
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(FdStore, FilesystemSocketAndSecondStoreRefused) {
  const std::string path = "/tmp/" + test_name() + ".sock";
  ServerConfig cfg = config();
  cfg.name = path;
  {
    RunningStore store(cfg);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(FdStoreClient::connect(path));
    try {
      FdStoreServer second(cfg);
      ADD_FAILURE() << "a second store bound a name in use";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file left behind";
  // A stale socket file (its store died) does not stop a new store.
  {
    UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET, 0));
    const auto addr = socket_address(path);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len), 0);
  }
  RunningStore again(cfg);
  EXPECT_TRUE(FdStoreClient::connect(path));
}

TEST(FdStore, ConnectToNobodyIsNotAnError) {
  EXPECT_FALSE(FdStoreClient::connect(test_name()));
  EXPECT_FALSE(FdStoreClient::connect("/tmp/" + test_name() + ".absent"));
  StoreOptions o;
  o.name = test_name();
  o.spawn = false;
  EXPECT_FALSE(connect_or_spawn(o));
  o.spawn = true;
  o.program = "/nonexistent/tapflow-fdstore";
  EXPECT_FALSE(connect_or_spawn(o));
}

}  // namespace
}  // namespace tapflow::fdstore
