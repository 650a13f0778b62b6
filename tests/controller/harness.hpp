// Test harness for the controller core: a Controller running on its own
// thread with a recording App, and a FakeSwitch that speaks OpenFlow over a
// real loopback TCP socket with our codec.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tapflow/controller/controller.hpp"
#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/framer.hpp"

namespace tapflow::controller::testing {

using namespace std::chrono_literals;
using namespace tapflow::openflow;

// Records every event; tests wait for conditions on it.
class RecordingApp : public App {
 public:
  struct Event {
    std::string kind;  // "up", "down", "packet_in", "port_status", "flow_removed", "error"
    std::uint64_t dpid = 0;
    std::string detail;
    std::uint32_t xid = 0;
    OfError error;
  };

  void on_datapath_up(Datapath& dp) override {
    add({"up", dp.datapath_id(), std::to_string(dp.ports().size()) + " ports", 0, {}});
    if (on_up) on_up(dp);
  }
  void on_datapath_down(std::uint64_t dpid, const std::string& reason) override {
    add({"down", dpid, reason, 0, {}});
  }
  void on_datapath_standby(Datapath& dp) override {
    add({"standby", dp.datapath_id(), "", 0, {}});
    if (on_standby) on_standby(dp);
  }
  void on_packet_in(Datapath& dp, const PacketIn& pi) override {
    add({"packet_in", dp.datapath_id(), std::to_string(pi.in_port), 0, {}});
    if (on_packet) on_packet(dp, pi);
  }
  void on_port_status(Datapath& dp, const PortStatus& ps) override {
    add({"port_status", dp.datapath_id(), ps.desc.name, 0, {}});
  }
  void on_flow_removed(Datapath& dp, const FlowRemoved& fr) override {
    add({"flow_removed", dp.datapath_id(), std::to_string(fr.cookie), 0, {}});
  }
  void on_error(Datapath& dp, const OfError& e, std::uint32_t xid) override {
    add({"error", dp.datapath_id(), e.detail, xid, e});
  }

  // Waits until `pred(events)` holds; returns false on timeout.
  bool wait(const std::function<bool(const std::vector<Event>&)>& pred,
            std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return pred(events_); });
  }
  bool wait_kind(const std::string& kind, std::size_t count = 1,
                 std::chrono::milliseconds timeout = 3s) {
    return wait([&](const auto& ev) { return this->count(ev, kind) >= count; }, timeout);
  }
  std::vector<Event> events() {
    std::lock_guard lk(mu_);
    return events_;
  }
  static std::size_t count(const std::vector<Event>& ev, const std::string& kind) {
    std::size_t n = 0;
    for (const auto& e : ev) n += e.kind == kind;
    return n;
  }

  std::function<void(Datapath&)> on_up;
  std::function<void(Datapath&)> on_standby;
  std::function<void(Datapath&, const PacketIn&)> on_packet;

 private:
  void add(Event e) {
    {
      std::lock_guard lk(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// A Controller on 127.0.0.1 (ephemeral port) with its event loop on a thread.
class ControllerFixture {
 public:
  explicit ControllerFixture(ControllerConfig cfg = fast_config()) : controller_(io_, cfg, app) {
    controller_.start();
    port = controller_.local_endpoints().at(0).port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ControllerFixture() {
    run([this] { controller_.stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  static ControllerConfig fast_config() {
    ControllerConfig c;
    c.listeners = {ListenerConfig{"127.0.0.1", 0, false}};
    c.connection.echo_interval = 200ms;
    c.connection.echo_misses = 3;
    c.connection.handshake_timeout = 2s;
    c.connection.request_timeout = 1s;
    return c;
  }

  // Runs fn on the event loop and waits for it.
  template <class F>
  auto run(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto fut = task.get_future();
    asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  Controller& controller() { return controller_; }

  RecordingApp app;
  std::uint16_t port = 0;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  Controller controller_;
  std::thread thread_;
};

// The switch side, blocking, with timeouts.
class FakeSwitch {
 public:
  explicit FakeSwitch(std::uint16_t port, bool ipv6 = false) {
    int rc;
    if (ipv6) {
      fd_ = ::socket(AF_INET6, SOCK_STREAM, 0);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) ADD_FAILURE() << "connect to controller failed";
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~FakeSwitch() {
    if (fd_ >= 0) ::close(fd_);
  }
  FakeSwitch(const FakeSwitch&) = delete;
  FakeSwitch& operator=(const FakeSwitch&) = delete;

  int fd() const { return fd_; }

  void send_raw(const Bytes& b) {
    std::size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        ADD_FAILURE() << "send failed";
        return;
      }
      off += static_cast<std::size_t>(n);
    }
  }
  void send(const Message& m) {
    auto b = encode(m);
    ASSERT_TRUE(b.ok()) << describe(b.error());
    send_raw(*b);
  }

  // The next message from the controller, or nullopt on timeout/EOF.
  std::optional<Message> recv(std::chrono::milliseconds timeout = 2s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto f = framer_.next()) {
        auto m = decode(f->bytes);
        EXPECT_TRUE(m.ok()) << "controller sent undecodable bytes: " << describe(m.error());
        if (!m.ok()) return std::nullopt;
        return *m;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      framer_.push(std::span<const std::uint8_t>(buf_.data(), static_cast<std::size_t>(n)));
    }
  }

  // Receives until a message of type T arrives (answering echo requests on
  // the way); fails the test on timeout.
  template <class T>
  std::optional<Message> expect(std::chrono::milliseconds timeout = 2s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = recv(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!m) break;
      if (std::holds_alternative<T>(m->body)) return m;
      if (const auto* e = std::get_if<EchoRequest>(&m->body)) {
        send(Message{m->version, m->xid, EchoReply{e->data}});
      }
    }
    ADD_FAILURE() << "expected message did not arrive";
    return std::nullopt;
  }

  // True if the controller closes the connection within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout = 2s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && std::chrono::steady_clock::now() < deadline) {
      (void)recv(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
    }
    return eof_;
  }

  static Port make_port(std::uint32_t no, const std::string& name) {
    Port p;
    p.port_no = no;
    p.name = name;
    p.hw_addr = MacAddress::from_u64(0x020000000000ULL + no);
    return p;
  }

  // Plays the switch side of the handshake in `version`.
  // `table_miss`: the controller installs it (false with roles: the
  // standby it starts as sends no FLOW_MOD).
  void handshake(std::uint8_t version, std::uint64_t dpid, std::vector<Port> ports = {},
                 bool table_miss = true) {
    HelloElement bm;
    bm.bitmaps = {1u << version};
    send(Message{version, 1, Hello{version == kVersion10 ? std::vector<HelloElement>{}
                                                         : std::vector<HelloElement>{bm}}});
    auto hello = expect<Hello>();
    ASSERT_TRUE(hello);
    auto freq = expect<FeaturesRequest>();
    ASSERT_TRUE(freq);
    EXPECT_EQ(freq->version, version);
    FeaturesReply fr;
    fr.datapath_id = dpid;
    fr.n_buffers = 256;
    fr.n_tables = version == kVersion10 ? 1 : 254;
    if (version == kVersion10) fr.ports = ports;
    send(Message{version, freq->xid, fr});
    if (version != kVersion10) {
      auto pd = expect<MultipartRequest>();
      ASSERT_TRUE(pd);
      EXPECT_TRUE(std::holds_alternative<PortDescStatsRequest>(
          std::get<MultipartRequest>(pd->body).body));
      send(Message{version, pd->xid, MultipartReply{0, PortDescStatsReply{ports}}});
    }
    auto sc = expect<SetConfig>();
    ASSERT_TRUE(sc);
    EXPECT_EQ(std::get<SetConfig>(sc->body).miss_send_len, kControllerMaxLenNoBuffer);
    if (version != kVersion10 && table_miss) {
      auto fm = expect<FlowMod>();  // table-miss flow
      ASSERT_TRUE(fm);
      EXPECT_EQ(std::get<FlowMod>(fm->body).priority, 0);
    }
    auto br = expect<BarrierRequest>();
    ASSERT_TRUE(br);
    send(Message{version, br->xid, BarrierReply{}});
  }

 private:
  int fd_ = -1;
  bool eof_ = false;
  Framer framer_;
  std::array<std::uint8_t, 65536> buf_{};
};

}  // namespace tapflow::controller::testing
