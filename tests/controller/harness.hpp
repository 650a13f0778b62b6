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

#include <algorithm>
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
  asio::io_context& io() { return io_; }  // for timers the code under test asks for

  RecordingApp app;
  std::uint16_t port = 0;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  Controller controller_;
  std::thread thread_;
};

// How a FakeSwitch answers one capability probe (ConnectionOptions::
// probe_capabilities): with reply parts (kMore on all but the last), with an
// ERROR, with raw bytes (one message, its xid filled in), or not at all.
struct ProbeAnswer {
  enum class Mode { kReply, kError, kRaw, kSilent };
  Mode mode = Mode::kReply;
  std::vector<MultipartReplyBody> parts;
  std::uint16_t error_type = 0, error_code = 0;
  Bytes raw;

  static ProbeAnswer reply(std::vector<MultipartReplyBody> parts) {
    return {Mode::kReply, std::move(parts), 0, 0, {}};
  }
  static ProbeAnswer error(std::uint16_t type, std::uint16_t code) {
    return {Mode::kError, {}, type, code, {}};
  }
  static ProbeAnswer raw_bytes(Bytes bytes) { return {Mode::kRaw, {}, 0, 0, std::move(bytes)}; }
  static ProbeAnswer silent() { return {Mode::kSilent, {}, 0, 0, {}}; }
};
// The answers to every probe; a probe without an answer here is not expected
// (1.3: desc, table_features, group_features; 1.0: desc, table_stats).
struct ProbeAnswers {
  std::optional<ProbeAnswer> desc, table_features, group_features, table_stats;
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
        if (const auto* mp = std::get_if<MultipartRequest>(&m->body)) {
          multipart_requests_.push_back(mp->body.index());
        }
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

  // Whether the controller sent a multipart request with a body of type T
  // (at any time, whatever consumed it).
  template <class T>
  bool saw_multipart_request() const {
    const std::size_t want = MultipartRequestBody(T{}).index();
    return std::find(multipart_requests_.begin(), multipart_requests_.end(), want) !=
           multipart_requests_.end();
  }

  // The capability probes of the handshake, answered per `probes` (set it
  // before handshake()); unset: the controller is expected not to probe.
  std::optional<ProbeAnswers> probes;
  std::vector<Message> probe_requests;  // as received, in order

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
    if (probes) answer_probes(version);
    auto sc = expect<SetConfig>(probe_wait);
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

  // How long handshake() waits for SET_CONFIG (after probes left unanswered).
  std::chrono::milliseconds probe_wait = 2s;

 private:
  // Receives the probes (all sent at once, before SET_CONFIG) and answers
  // each as `probes` says.
  void answer_probes(std::uint8_t version) {
    const ProbeAnswers& pa = *probes;
    const std::size_t expected = std::size_t{pa.desc.has_value()} + pa.table_features.has_value() +
                                 pa.group_features.has_value() + pa.table_stats.has_value();
    for (std::size_t i = 0; i < expected; ++i) {
      auto req = expect<MultipartRequest>();
      ASSERT_TRUE(req) << "probe " << i + 1 << " of " << expected << " did not arrive";
      probe_requests.push_back(*req);
      const auto& body = std::get<MultipartRequest>(req->body).body;
      const std::optional<ProbeAnswer>* answer = nullptr;
      if (std::holds_alternative<DescStatsRequest>(body)) {
        answer = &pa.desc;
      } else if (const auto* tf = std::get_if<TableFeaturesStatsRequest>(&body)) {
        EXPECT_TRUE(tf->tables.empty()) << "TABLE_FEATURES probe must only read";
        answer = &pa.table_features;
      } else if (std::holds_alternative<GroupFeaturesStatsRequest>(body)) {
        answer = &pa.group_features;
      } else if (std::holds_alternative<TableStatsRequest>(body)) {
        answer = &pa.table_stats;
      }
      ASSERT_TRUE(answer != nullptr && answer->has_value())
          << "unexpected probe (multipart body " << body.index() << ")";
      const ProbeAnswer& a = **answer;
      switch (a.mode) {
        case ProbeAnswer::Mode::kReply:
          for (std::size_t p = 0; p < a.parts.size(); ++p) {
            const std::uint16_t flags = p + 1 < a.parts.size() ? multipart_flags::kMore : 0;
            send(Message{version, req->xid, MultipartReply{flags, a.parts[p]}});
          }
          break;
        case ProbeAnswer::Mode::kError: {
          Error e;
          e.type = a.error_type;
          e.code = a.error_code;
          auto raw = encode(*req);
          if (raw.ok()) e.data.assign(raw->begin(), raw->end());
          send(Message{version, req->xid, e});
          break;
        }
        case ProbeAnswer::Mode::kRaw: {
          Bytes b = a.raw;
          for (int k = 0; k < 4; ++k) b[4 + k] = static_cast<std::uint8_t>(req->xid >> (24 - 8 * k));
          send_raw(b);
          break;
        }
        case ProbeAnswer::Mode::kSilent:
          break;
      }
    }
  }

  int fd_ = -1;
  bool eof_ = false;
  std::vector<std::size_t> multipart_requests_;  // body index of every multipart request seen
  Framer framer_;
  std::array<std::uint8_t, 65536> buf_{};
};

}  // namespace tapflow::controller::testing
