// cbench: a cbench-style load generator for OpenFlow controllers, built on
// tapflow's codec (every message is built as a model and encoded, every
// message from the controller is framed and decoded; no wire structs here).
//
// N emulated switches (OpenFlow 1.0 or 1.3) connect to one controller, do the
// switch side of the handshake, then send PACKET_INs carrying 64-byte
// Ethernet/IPv4/UDP frames. Each switch has --macs hosts spread over --ports
// ports; host h sends to host h^1 (on another port), so a learning switch
// floods (PACKET_OUT) until it has seen the partner, then installs flows
// (FLOW_MOD). PACKET_INs are buffered (a unique buffer_id each, as cbench
// does), so a learning switch answers each with one message that names the
// buffer; that is how answers are matched to PACKET_INs.
//
// Phases: connect (a bounded number of TCP connects in flight) and handshake;
// a short settle; learning (each host once to the broadcast MAC, as cbench's
// -L does, so the measured loops see known destinations and FLOW_MODs); then
// --warmup loops and --loops measured loops.
//
//   throughput: --window PACKET_INs outstanding per switch, refilled as
//               answers arrive.
//   latency:    exactly one outstanding per switch; the next is sent when
//               the answer arrives.
//
// Counted: "responses" = FLOW_MOD + PACKET_OUT messages (what cbench counts),
// "answered" = PACKET_INs whose buffer an answer named. A learning switch that
// answers with FLOW_MOD + PACKET_OUT shows twice as many responses as answers.
//
// One thread, one epoll loop: the generator uses at most one core. With
// --controller-pid it also reports the controller's CPU time per answer over
// the measured loops (from /proc), which on shared cores is what sets the rate.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/framer.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/openflow/packet.hpp"

namespace {

namespace of = tapflow::openflow;
namespace pkt = tapflow::openflow::packet;
using of::Bytes;

constexpr std::int64_t kMs = 1'000'000;  // ns per ms
constexpr std::size_t kFrameLen = 64;

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CPU seconds (user + system) used so far by process `pid` (0: this
// process); negative if unknown.
double cpu_seconds(int pid) {
  if (pid == 0) {
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces: fields are counted after its ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  // After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
  // majflt cmajflt utime(14) stime(15).
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

enum class Mode { kThroughput, kLatency };

struct Options {
  std::string controller = "127.0.0.1:6653";
  unsigned switches = 16;
  std::string version_text = "1.0";
  std::uint8_t version = of::kVersion10;
  std::string mode_text = "throughput";
  Mode mode = Mode::kThroughput;
  unsigned loops = 16;
  unsigned ms_per_loop = 1000;
  unsigned warmup = 1;
  unsigned macs = 1000;
  unsigned ports = 4;
  unsigned window = 64;
  bool unbuffered = false;
  std::uint64_t dpid_offset = 1;
  unsigned connect_timeout_ms = 20000;
  unsigned settle_ms = 500;
  unsigned stall_ms = 3000;
  unsigned max_connecting = 64;
  bool learn = true;
  unsigned learn_timeout_ms = 60000;
  int controller_pid = 0;  // to report the controller's CPU time (from /proc)
};

struct Outstanding {
  std::uint32_t buffer_id;
  std::int64_t sent_ns;
};

enum class SwState { kWaiting, kConnecting, kHandshake, kReady, kClosed, kFailed };

struct Switch {
  unsigned index = 0;
  std::uint64_t dpid = 0;
  int fd = -1;
  SwState state = SwState::kWaiting;
  bool hello_ok = false;
  bool features_replied = false;
  bool epollout = false;
  of::Framer framer;
  Bytes out;
  std::size_t out_off = 0;
  std::uint16_t config_flags = 0;
  std::uint16_t miss_send_len = 128;
  std::uint32_t next_buffer_id = 1;
  std::uint32_t next_xid = 1;
  unsigned host = 0;  // next sending host
  unsigned learn_left = 0;  // hosts not yet announced in the learning phase
  std::deque<Outstanding> outstanding;
  std::int64_t last_progress_ns = 0;
  std::int64_t retry_at_ns = 0;
  std::uint64_t loop_responses = 0;
  std::uint64_t measured_answered = 0;
};

struct Counters {
  std::uint64_t responses = 0;  // FLOW_MOD + PACKET_OUT while running
  std::uint64_t answered = 0;   // PACKET_INs answered
  std::uint64_t sent = 0;       // PACKET_INs sent
  std::uint64_t lost = 0;       // PACKET_INs given up on (skipped or stalled)
  std::uint64_t unmatched = 0;  // responses naming no outstanding PACKET_IN
  std::uint64_t flow_mods = 0, packet_outs = 0;
  std::uint64_t before_run = 0;  // FLOW_MOD/PACKET_OUT during the handshake
  std::uint64_t controller_errors = 0;
  std::uint64_t decode_errors = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t version_refused = 0;
  std::uint64_t rtt_sum_ns = 0, rtt_count = 0;
};

const char* version_name(std::uint8_t v) { return v == of::kVersion10 ? "1.0" : "1.3"; }

of::MacAddress host_mac(unsigned sw, unsigned host) {
  // 02:cb:SS:SS:HH:HH, locally administered unicast.
  return of::MacAddress::from_u64(0x02cb00000000ULL | (std::uint64_t{sw & 0xffff} << 16) |
                                  (host & 0xffff));
}

class Generator {
 public:
  explicit Generator(const Options& o) : o_(o), read_buf_(std::size_t{1} << 18) {
    pkt::UdpFrameSpec spec;
    spec.ip_src = 0x0a000001;
    spec.ip_dst = 0x0a000002;
    spec.src_port = 40000;
    spec.dst_port = 9;
    frame_template_ = pkt::build_ipv4_udp_frame(spec, kFrameLen);
    of::PacketIn pin;
    pin.total_len = static_cast<std::uint16_t>(frame_template_.size());
    pin.reason = of::packet_in_reason::kNoMatch;
    pin.data = frame_template_;
    pin_msg_ = of::Message{o_.version, 0, std::move(pin)};
  }

  int run();

 private:
  bool resolve();
  void raise_fd_limit();
  void start_connect(Switch& s, std::int64_t now);
  void on_connected(Switch& s, std::int64_t now);
  void on_event(Switch& s, std::uint32_t events, std::int64_t now);
  void on_readable(Switch& s, std::int64_t now);
  void handle(Switch& s, std::span<const std::uint8_t> bytes, std::int64_t now);
  void on_hello(Switch& s, const of::Message& m);
  void on_response(Switch& s, std::uint32_t buffer_id, bool is_packet_out, std::int64_t now);
  void answer(Switch& s, std::size_t pos, std::int64_t now);
  void pump(Switch& s, std::int64_t now);
  void send_packet_in(Switch& s, std::int64_t now);
  bool learning_done() const;
  void send(Switch& s, std::uint32_t xid, of::MessageBody body);
  void send_error(Switch& s, const of::OfError& e, std::span<const std::uint8_t> offending,
                  std::uint32_t xid);
  void flush(Switch& s);
  void set_epollout(Switch& s, bool on);
  void close_switch(Switch& s, SwState to, const char* why);
  void check_stalls(std::int64_t now);
  std::vector<of::Port> ports_of(const Switch& s) const;
  void report();


  Options o_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int ep_ = -1;
  std::vector<Switch> sw_;
  std::vector<std::uint8_t> read_buf_;
  Bytes frame_template_;
  of::Message pin_msg_;
  Counters c_;
  bool learning_ = false;  // announcing every host once (broadcast PACKET_INs)
  bool running_ = false;   // the loops (warmup and measured)
  bool measuring_ = false;  // the measured loops
  unsigned connecting_ = 0;
  unsigned ready_ = 0;
  unsigned ever_connected_ = 0;
  unsigned first_errors_printed_ = 0;
  std::vector<double> loop_rates_;     // measured loops, responses/s
  std::vector<double> answered_rates_;  // measured loops, answered/s
  std::vector<std::uint32_t> rtts_ns_;  // latency mode, measured loops
  double handshake_s_ = 0;
  // CPU use over the measured loops.
  void measure_begin(std::int64_t now);
  void measure_end(std::int64_t now);
  std::int64_t measure_start_ns_ = 0, measure_ns_ = 0;
  std::uint64_t measure_answered_start_ = 0, measure_answered_ = 0;
  double gen_cpu_start_ = 0, ctl_cpu_start_ = 0, gen_cpu_ = -1, ctl_cpu_ = -1;
};

bool Generator::resolve() {
  // HOST:PORT, [V6ADDR]:PORT, or HOST alone (port 6653).
  std::string host = o_.controller;
  std::string port = "6653";
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) {
      std::fprintf(stderr, "cbench: bad controller address %s\n", o_.controller.c_str());
      return false;
    }
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.find(':');
             colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::fprintf(stderr, "cbench: cannot resolve %s: %s\n", o_.controller.c_str(), gai_strerror(rc));
    return false;
  }
  std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
  addr_len_ = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

void Generator::raise_fd_limit() {
  const rlim_t need = o_.switches + 64;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) return;
  if (rl.rlim_max < need) rl.rlim_max = need;  // works as root
  rl.rlim_cur = need;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    std::fprintf(stderr, "cbench: could only raise RLIMIT_NOFILE to %llu (need %llu)\n",
                 static_cast<unsigned long long>(rl.rlim_cur),
                 static_cast<unsigned long long>(need));
  }
}

std::vector<of::Port> Generator::ports_of(const Switch& s) const {
  std::vector<of::Port> ports;
  for (unsigned p = 1; p <= o_.ports; ++p) {
    of::Port port;
    port.port_no = p;
    port.hw_addr = of::MacAddress::from_u64(0x02cc00000000ULL |
                                            (std::uint64_t{s.index & 0xffff} << 16) | p);
    port.name = "s" + std::to_string(s.index + 1) + "-eth" + std::to_string(p);
    if (port.name.size() > 15) port.name.resize(15);
    // 1 Gb/s full duplex, copper (the bit numbers differ between versions).
    port.curr = o_.version == of::kVersion10 ? (1u << 5 | 1u << 7) : (1u << 5 | 1u << 11);
    port.advertised = port.supported = port.curr;
    port.curr_speed = port.max_speed = 1'000'000;  // kb/s, 1.3 only
    ports.push_back(std::move(port));
  }
  return ports;
}

void Generator::start_connect(Switch& s, std::int64_t now) {
  s.fd = socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    std::fprintf(stderr, "cbench: socket: %s\n", std::strerror(errno));
    s.state = SwState::kFailed;
    return;
  }
  const int one = 1;
  setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s.state = SwState::kConnecting;
  ++connecting_;
  const int rc = connect(s.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u32 = s.index;
  epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
  s.epollout = true;
  if (rc == 0) {
    on_connected(s, now);
  } else if (errno != EINPROGRESS) {
    // Try again shortly (the caller's loop re-queues kWaiting switches).
    ++c_.connect_failures;
    close(s.fd);
    s.fd = -1;
    --connecting_;
    s.state = SwState::kWaiting;
    s.retry_at_ns = now + 200 * kMs;
  }
}

void Generator::on_connected(Switch& s, std::int64_t now) {
  --connecting_;
  ++ever_connected_;
  s.state = SwState::kHandshake;
  s.last_progress_ns = now;
  set_epollout(s, false);
  // HELLO with a version bitmap naming exactly the version we speak.
  of::HelloElement bitmap;
  bitmap.type = of::HelloElement::kVersionBitmap;
  bitmap.bitmaps = {std::uint32_t{1} << o_.version};
  send(s, s.next_xid++, of::Hello{{bitmap}});
  flush(s);
}

void Generator::set_epollout(Switch& s, bool on) {
  if (s.epollout == on || s.fd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u32 = s.index;
  epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
  s.epollout = on;
}

void Generator::close_switch(Switch& s, SwState to, const char* why) {
  if (s.fd < 0) return;
  if (s.state == SwState::kReady) --ready_;
  if (s.state == SwState::kConnecting) --connecting_;
  close(s.fd);
  s.fd = -1;
  s.state = to;
  if (to == SwState::kClosed) ++c_.disconnects;
  c_.lost += s.outstanding.size();
  s.outstanding.clear();
  if (first_errors_printed_ < 10) {
    ++first_errors_printed_;
    std::fprintf(stderr, "cbench: switch %u (dpid %llu) closed: %s\n", s.index + 1,
                 static_cast<unsigned long long>(s.dpid), why);
  }
}

void Generator::send(Switch& s, std::uint32_t xid, of::MessageBody body) {
  const of::Message m{o_.version, xid, std::move(body)};
  const auto st = of::encode(m, s.out);
  if (!st.ok()) {
    std::fprintf(stderr, "cbench: cannot encode %s: %s\n", of::type_name(m.body),
                 of::describe(st.error()).c_str());
  }
}

void Generator::send_error(Switch& s, const of::OfError& e,
                           std::span<const std::uint8_t> offending, std::uint32_t xid) {
  send(s, xid, of::to_wire_error(e, o_.version, offending));
}

void Generator::flush(Switch& s) {
  while (s.fd >= 0 && s.out_off < s.out.size()) {
    const ssize_t n = ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      s.out_off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_epollout(s, true);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      close_switch(s, SwState::kClosed, std::strerror(errno));
      return;
    }
  }
  s.out.clear();
  s.out_off = 0;
  set_epollout(s, false);
}

void Generator::send_packet_in(Switch& s, std::int64_t now) {
  auto& pin = std::get<of::PacketIn>(pin_msg_.body);
  unsigned h = 0;
  of::MacAddress dst_mac;
  if (learning_) {
    // Learning phase: each host once, to the broadcast address, so the
    // controller learns where every host is (as cbench's -L does).
    h = o_.macs - s.learn_left;
    --s.learn_left;
    dst_mac = of::MacAddress::from_u64(0xffffffffffffULL);
  } else {
    h = s.host;
    s.host = (h + 1) % o_.macs;
    dst_mac = host_mac(s.index, h ^ 1u);
  }
  std::copy(frame_template_.begin(), frame_template_.end(), pin.data.begin());
  const auto dst = dst_mac.octets;
  const auto src = host_mac(s.index, h).octets;
  std::copy(dst.begin(), dst.end(), pin.data.begin());      // Ethernet destination
  std::copy(src.begin(), src.end(), pin.data.begin() + 6);  // Ethernet source
  pin.in_port = 1 + h % o_.ports;
  pin.buffer_id = o_.unbuffered ? of::kNoBuffer : s.next_buffer_id++;
  if (s.next_buffer_id == of::kNoBuffer) s.next_buffer_id = 1;
  pin_msg_.xid = s.next_xid++;
  const auto st = of::encode(pin_msg_, s.out);
  if (!st.ok()) {
    std::fprintf(stderr, "cbench: cannot encode PACKET_IN: %s\n", of::describe(st.error()).c_str());
    std::exit(2);
  }
  if (s.outstanding.empty()) s.last_progress_ns = now;
  s.outstanding.push_back({pin.buffer_id, now});
  ++c_.sent;
}

void Generator::pump(Switch& s, std::int64_t now) {
  if (s.state != SwState::kReady) return;
  if (learning_) {
    while (s.learn_left > 0 && s.outstanding.size() < o_.window) send_packet_in(s, now);
    return;
  }
  if (!running_) return;
  if (o_.mode == Mode::kLatency) {
    if (s.outstanding.empty()) send_packet_in(s, now);
    return;
  }
  // Refill once a quarter of the window is free: PACKET_INs leave in batches
  // (fewer system calls) while the pipe stays at least 3/4 full.
  const std::size_t batch = std::max<std::size_t>(1, o_.window / 4);
  if (s.outstanding.size() + batch > o_.window) return;
  while (s.outstanding.size() < o_.window) send_packet_in(s, now);
}

bool Generator::learning_done() const {
  for (const auto& s : sw_) {
    if (s.state == SwState::kReady && (s.learn_left > 0 || !s.outstanding.empty())) return false;
  }
  return true;
}

void Generator::answer(Switch& s, std::size_t pos, std::int64_t now) {
  // Controllers answer a connection's PACKET_INs in order: older ones that
  // were skipped are not going to be answered.
  c_.lost += pos;
  const Outstanding o = s.outstanding[pos];
  s.outstanding.erase(s.outstanding.begin(), s.outstanding.begin() + static_cast<long>(pos) + 1);
  ++c_.answered;
  s.last_progress_ns = now;
  if (measuring_) {
    ++s.measured_answered;
    const std::int64_t rtt = now - o.sent_ns;
    c_.rtt_sum_ns += static_cast<std::uint64_t>(rtt);
    ++c_.rtt_count;
    if (o_.mode == Mode::kLatency) {
      rtts_ns_.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(rtt, 0xffffffff)));
    }
  }
}

void Generator::on_response(Switch& s, std::uint32_t buffer_id, bool is_packet_out,
                            std::int64_t now) {
  if (!running_ && !learning_) {
    ++c_.before_run;
    return;
  }
  ++c_.responses;
  ++s.loop_responses;
  if (o_.unbuffered) {
    // Without buffers only a PACKET_OUT (carrying the frame) answers one.
    if (is_packet_out && !s.outstanding.empty()) {
      answer(s, 0, now);
    } else {
      ++c_.unmatched;
    }
    return;
  }
  if (buffer_id != of::kNoBuffer) {
    for (std::size_t i = 0; i < s.outstanding.size(); ++i) {
      if (s.outstanding[i].buffer_id == buffer_id) {
        answer(s, i, now);
        return;
      }
    }
  }
  ++c_.unmatched;
}

void Generator::on_hello(Switch& s, const of::Message& m) {
  const auto& hello = std::get<of::Hello>(m.body);
  bool has_bitmap = false, bit = false;
  for (const auto& e : hello.elements) {
    if (e.type != of::HelloElement::kVersionBitmap) continue;
    has_bitmap = true;
    const std::size_t word = o_.version / 32;
    if (word < e.bitmaps.size() && ((e.bitmaps[word] >> (o_.version % 32)) & 1u) != 0) bit = true;
  }
  const bool ok = has_bitmap ? bit : m.version >= o_.version;
  if (!ok) {
    ++c_.version_refused;
    const std::string text = "cbench speaks only OpenFlow " + std::string(version_name(o_.version));
    of::Error err = of::to_wire_error(
        of::make_error(of::error_type::kHelloFailed, of::hello_failed::kIncompatible, text),
        o_.version, {});
    err.data.assign(text.begin(), text.end());
    send(s, m.xid, std::move(err));
    flush(s);
    close_switch(s, SwState::kFailed, "controller does not speak our OpenFlow version");
    return;
  }
  s.hello_ok = true;
  if (s.features_replied && s.state == SwState::kHandshake) {
    s.state = SwState::kReady;
    ++ready_;
  }
}

void Generator::handle(Switch& s, std::span<const std::uint8_t> bytes, std::int64_t now) {
  auto r = of::decode(bytes);
  if (!r.ok()) {
    ++c_.decode_errors;
    if (first_errors_printed_ < 10) {
      ++first_errors_printed_;
      std::fprintf(stderr, "cbench: switch %u: undecodable message: %s\n", s.index + 1,
                   of::describe(r.error()).c_str());
    }
    send_error(s, r.error(), bytes, of::peek_header(bytes).xid);
    return;
  }
  of::Message& m = *r;
  auto& body = m.body;
  if (const auto* fm = std::get_if<of::FlowMod>(&body)) {
    ++c_.flow_mods;
    on_response(s, fm->buffer_id, false, now);
  } else if (const auto* po = std::get_if<of::PacketOut>(&body)) {
    ++c_.packet_outs;
    on_response(s, po->buffer_id, true, now);
  } else if (std::holds_alternative<of::Hello>(body)) {
    on_hello(s, m);
  } else if (std::holds_alternative<of::FeaturesRequest>(body)) {
    of::FeaturesReply f;
    f.datapath_id = s.dpid;
    f.n_buffers = 256;
    f.n_tables = o_.version == of::kVersion10 ? 1 : 254;
    f.capabilities = 0x7;  // flow, table and port stats
    if (o_.version == of::kVersion10) {
      f.actions = 0xfff;  // every OpenFlow 1.0 action
      f.ports = ports_of(s);
    }
    send(s, m.xid, std::move(f));
    s.features_replied = true;
    if (s.hello_ok && s.state == SwState::kHandshake) {
      s.state = SwState::kReady;
      ++ready_;
    }
  } else if (const auto* req = std::get_if<of::MultipartRequest>(&body)) {
    if (std::holds_alternative<of::PortDescStatsRequest>(req->body)) {
      send(s, m.xid, of::MultipartReply{0, of::PortDescStatsReply{ports_of(s)}});
    } else if (std::holds_alternative<of::DescStatsRequest>(req->body)) {
      of::DescStats d{"tapflow", "cbench emulated switch", "cbench", std::to_string(s.dpid),
                      "cbench switch " + std::to_string(s.index + 1)};
      send(s, m.xid, of::MultipartReply{0, of::DescStatsReply{d}});
    } else {
      send_error(s, of::make_error(of::error_type::kBadRequest, of::bad_request::kBadMultipart,
                                   "cbench answers PORT_DESC and DESC only"),
                 bytes, m.xid);
    }
  } else if (const auto* echo = std::get_if<of::EchoRequest>(&body)) {
    send(s, m.xid, of::EchoReply{echo->data});
  } else if (std::holds_alternative<of::BarrierRequest>(body)) {
    send(s, m.xid, of::BarrierReply{});
  } else if (const auto* sc = std::get_if<of::SetConfig>(&body)) {
    s.config_flags = sc->flags;
    s.miss_send_len = sc->miss_send_len;
  } else if (std::holds_alternative<of::GetConfigRequest>(body)) {
    send(s, m.xid, of::GetConfigReply{s.config_flags, s.miss_send_len});
  } else if (const auto* role = std::get_if<of::RoleRequest>(&body)) {
    const std::uint32_t r2 = role->role == of::controller_role::kNoChange
                                 ? of::controller_role::kEqual
                                 : role->role;
    send(s, m.xid, of::RoleReply{r2, role->generation_id});
  } else if (std::holds_alternative<of::GetAsyncRequest>(body)) {
    of::AsyncConfig cfg;
    cfg.packet_in_mask = {0x3, 0x0};
    cfg.port_status_mask = {0x7, 0x7};
    cfg.flow_removed_mask = {0xf, 0x0};
    send(s, m.xid, of::GetAsyncReply{cfg});
  } else if (const auto* q = std::get_if<of::QueueGetConfigRequest>(&body)) {
    send(s, m.xid, of::QueueGetConfigReply{q->port, {}});
  } else if (const auto* err = std::get_if<of::Error>(&body)) {
    ++c_.controller_errors;
    if (first_errors_printed_ < 10) {
      ++first_errors_printed_;
      std::fprintf(stderr, "cbench: switch %u got ERROR %s\n", s.index + 1,
                   of::describe(of::from_wire_error(*err, m.version)).c_str());
    }
  } else if (std::holds_alternative<of::EchoReply>(body) ||
             std::holds_alternative<of::SetAsync>(body) ||
             std::holds_alternative<of::PortMod>(body) ||
             std::holds_alternative<of::GroupMod>(body) ||
             std::holds_alternative<of::MeterMod>(body) ||
             std::holds_alternative<of::TableMod>(body)) {
    // Accepted; an emulated switch has no datapath to change.
  } else {
    send_error(s, of::make_error(of::error_type::kBadRequest, of::bad_request::kBadType,
                                 std::string("cbench does not handle ") + of::type_name(body)),
               bytes, m.xid);
  }
}

void Generator::on_readable(Switch& s, std::int64_t now) {
  const ssize_t n = ::recv(s.fd, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT);
  if (n == 0) {
    close_switch(s, SwState::kClosed, "controller closed the connection");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    close_switch(s, SwState::kClosed, std::strerror(errno));
    return;
  }
  s.framer.push(std::span<const std::uint8_t>(read_buf_.data(), static_cast<std::size_t>(n)));
  while (auto f = s.framer.next()) {
    handle(s, f->bytes, now);
    if (s.fd < 0) return;
  }
  if (s.framer.failed()) {
    send_error(s, *s.framer.error(), {}, 0);
    flush(s);
    close_switch(s, SwState::kClosed, "framing error from the controller");
    return;
  }
  pump(s, now);
  flush(s);
}

void Generator::on_event(Switch& s, std::uint32_t events, std::int64_t now) {
  if (s.fd < 0) return;
  if (s.state == SwState::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
      ++c_.connect_failures;
      close(s.fd);
      s.fd = -1;
      --connecting_;
      s.state = SwState::kWaiting;
      s.retry_at_ns = now + 200 * kMs;
      return;
    }
    on_connected(s, now);
    return;
  }
  if ((events & EPOLLOUT) != 0) flush(s);
  if (s.fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) on_readable(s, now);
}

void Generator::check_stalls(std::int64_t now) {
  for (auto& s : sw_) {
    if (s.state != SwState::kReady || s.outstanding.empty()) continue;
    if (now - s.last_progress_ns < static_cast<std::int64_t>(o_.stall_ms) * kMs) continue;
    c_.lost += s.outstanding.size();
    s.outstanding.clear();
    pump(s, now);
    flush(s);
  }
}

int Generator::run() {
  if (!resolve()) return 2;
  raise_fd_limit();
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  sw_.resize(o_.switches);
  for (unsigned i = 0; i < o_.switches; ++i) {
    sw_[i].index = i;
    sw_[i].dpid = o_.dpid_offset + i;
  }
  const char* mode = o_.mode == Mode::kThroughput ? "throughput" : "latency";
  std::printf(
      "cbench (tapflow): controller %s, %u switches, OpenFlow %s, %s mode, %u loops of %u ms "
      "after %u warmup, %u MACs/switch, %s PACKET_INs",
      o_.controller.c_str(), o_.switches, version_name(o_.version), mode, o_.loops, o_.ms_per_loop,
      o_.warmup, o_.macs, o_.unbuffered ? "unbuffered" : "buffered");
  if (o_.mode == Mode::kThroughput) std::printf(", window %u", o_.window);
  std::printf("\n");
  std::fflush(stdout);

  std::vector<epoll_event> events(1024);
  const std::int64_t t0 = now_ns();
  const std::int64_t connect_deadline = t0 + static_cast<std::int64_t>(o_.connect_timeout_ms) * kMs;
  std::int64_t settle_until = 0;
  std::int64_t learn_start = 0;
  std::int64_t run_start = 0;
  std::int64_t loop_start = 0;
  std::int64_t next_stall_check = 0;
  unsigned loop = 0;
  const unsigned total_loops = o_.warmup + o_.loops;
  std::uint64_t loop_base_responses = 0, loop_base_answered = 0;
  bool connecting_phase = true;

  for (;;) {
    std::int64_t now = now_ns();
    if (connecting_phase) {
      // Start connects, a bounded number at a time, so no listen backlog overflows.
      for (auto& s : sw_) {
        if (connecting_ >= o_.max_connecting) break;
        if (s.state == SwState::kWaiting && s.retry_at_ns <= now && now < connect_deadline) {
          start_connect(s, now);
        }
      }
      unsigned pending = 0;
      for (const auto& s : sw_) {
        if (s.state == SwState::kWaiting || s.state == SwState::kConnecting ||
            s.state == SwState::kHandshake) {
          ++pending;
        }
      }
      if (pending == 0 || now >= connect_deadline) {
        connecting_phase = false;
        handshake_s_ = static_cast<double>(now - t0) / 1e9;
        std::printf("connected %u/%u switches, %u completed the handshake in %.2f s\n",
                    ever_connected_, o_.switches, ready_, handshake_s_);
        std::fflush(stdout);
        if (ready_ == 0) {
          std::printf("RESULT avg=0 switches=%u connected=%u ready=0 served=0\n", o_.switches,
                      ever_connected_);
          return 1;
        }
        settle_until = now + static_cast<std::int64_t>(o_.settle_ms) * kMs;
      }
    } else if (!learning_ && !running_ && now >= settle_until && learn_start == 0) {
      learn_start = now;
      next_stall_check = now + 100 * kMs;
      if (o_.learn) {
        learning_ = true;
        for (auto& s : sw_) {
          s.learn_left = o_.macs;
          pump(s, now);
          flush(s);
        }
      }
    } else if (learning_) {
      if (now >= next_stall_check) {
        check_stalls(now);
        next_stall_check = now + 100 * kMs;
      }
      const bool timed_out = now - learn_start > static_cast<std::int64_t>(o_.learn_timeout_ms) * kMs;
      if (timed_out || learning_done()) {
        learning_ = false;
        for (auto& s : sw_) {
          c_.lost += s.outstanding.size();
          s.outstanding.clear();
        }
        std::printf("learning: %u hosts per switch announced in %.2f s (%llu answered, %llu lost)%s\n",
                    o_.macs, static_cast<double>(now - learn_start) / 1e9,
                    static_cast<unsigned long long>(c_.answered),
                    static_cast<unsigned long long>(c_.lost), timed_out ? ", TIMED OUT" : "");
        std::fflush(stdout);
      }
    } else if (!running_ && learn_start != 0) {
      // Start the loops with clean counters.
      const auto before = c_.before_run;
      const auto disconnects = c_.disconnects;
      const auto failures = c_.connect_failures;
      const auto refused = c_.version_refused;
      c_ = Counters{};
      c_.before_run = before;
      c_.disconnects = disconnects;
      c_.connect_failures = failures;
      c_.version_refused = refused;
      running_ = true;
      measuring_ = o_.warmup == 0;
      if (measuring_) measure_begin(now);
      run_start = loop_start = now;
      next_stall_check = now + 100 * kMs;
      for (auto& s : sw_) {
        pump(s, now);
        flush(s);
      }
    } else if (running_) {
      if (now >= next_stall_check) {
        check_stalls(now);
        next_stall_check = now + 100 * kMs;
      }
      const std::int64_t loop_end = run_start + static_cast<std::int64_t>(loop + 1) * o_.ms_per_loop * kMs;
      if (now >= loop_end) {
        const double secs = static_cast<double>(now - loop_start) / 1e9;
        const double rate = static_cast<double>(c_.responses - loop_base_responses) / secs;
        const double arate = static_cast<double>(c_.answered - loop_base_answered) / secs;
        const bool warm = loop < o_.warmup;
        unsigned active = 0;
        for (const auto& s : sw_) active += s.loop_responses > 0 ? 1 : 0;
        std::printf("loop %2u/%u%s: %10.0f responses/s, %10.0f answered/s, %u/%u switches answered",
                    loop + 1, total_loops, warm ? " (warmup)" : "", rate, arate, active,
                    o_.switches);
        if (o_.switches <= 16) {
          std::printf(" [");
          for (const auto& s : sw_) {
            std::printf("%s%.0f", &s == sw_.data() ? "" : " ",
                        static_cast<double>(s.loop_responses) / secs);
          }
          std::printf("]");
        }
        std::printf("\n");
        std::fflush(stdout);
        if (!warm) {
          loop_rates_.push_back(rate);
          answered_rates_.push_back(arate);
        }
        for (auto& s : sw_) s.loop_responses = 0;
        loop_base_responses = c_.responses;
        loop_base_answered = c_.answered;
        loop_start = now;
        ++loop;
        if (loop >= total_loops) {
          measure_end(now);
          break;
        }
        if (!measuring_ && loop >= o_.warmup) {
          measuring_ = true;
          measure_begin(now);
        }
      }
    }

    int timeout_ms = 100;
    if (running_) {
      const std::int64_t loop_end = run_start + static_cast<std::int64_t>(loop + 1) * o_.ms_per_loop * kMs;
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>((loop_end - now) / kMs + 1, 0, 100));
    } else if (connecting_phase || learning_) {
      timeout_ms = 10;
    } else {
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>((settle_until - now) / kMs + 1, 0, 100));
    }
    const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("cbench: epoll_wait");
      return 2;
    }
    now = now_ns();
    for (int i = 0; i < n; ++i) {
      on_event(sw_[events[static_cast<std::size_t>(i)].data.u32], events[static_cast<std::size_t>(i)].events, now);
    }
  }
  report();
  for (auto& s : sw_) {
    if (s.fd >= 0) close(s.fd);
  }
  close(ep_);
  return 0;
}

void Generator::measure_begin(std::int64_t now) {
  measure_start_ns_ = now;
  measure_answered_start_ = c_.answered;
  gen_cpu_start_ = cpu_seconds(0);
  ctl_cpu_start_ = o_.controller_pid > 0 ? cpu_seconds(o_.controller_pid) : -1;
}

void Generator::measure_end(std::int64_t now) {
  measure_ns_ = now - measure_start_ns_;
  measure_answered_ = c_.answered - measure_answered_start_;
  const double g = cpu_seconds(0);
  if (g >= 0 && gen_cpu_start_ >= 0) gen_cpu_ = g - gen_cpu_start_;
  if (o_.controller_pid > 0 && ctl_cpu_start_ >= 0) {
    const double c = cpu_seconds(o_.controller_pid);
    if (c >= 0) ctl_cpu_ = c - ctl_cpu_start_;
  }
}

void Generator::report() {
  const auto& r = loop_rates_;
  double mn = 0, mx = 0, avg = 0, sd = 0, aavg = 0;
  if (!r.empty()) {
    mn = *std::min_element(r.begin(), r.end());
    mx = *std::max_element(r.begin(), r.end());
    for (double v : r) avg += v;
    avg /= static_cast<double>(r.size());
    for (double v : r) sd += (v - avg) * (v - avg);
    sd = std::sqrt(sd / static_cast<double>(r.size()));
    for (double v : answered_rates_) aavg += v;
    aavg /= static_cast<double>(answered_rates_.size());
  }
  unsigned served = 0, still = 0;
  for (const auto& s : sw_) {
    served += s.measured_answered > 0 ? 1 : 0;
    still += s.state == SwState::kReady ? 1 : 0;
  }
  const double lat_avg_us =
      c_.rtt_count ? static_cast<double>(c_.rtt_sum_ns) / static_cast<double>(c_.rtt_count) / 1e3 : 0;
  double p50 = 0, p99 = 0;
  if (!rtts_ns_.empty()) {
    auto v = rtts_ns_;
    auto at = [&v](double q) {
      const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
      std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
      return static_cast<double>(v[k]) / 1e3;
    };
    p50 = at(0.50);
    p99 = at(0.99);
  }
  std::printf("%u switches, %zu loops: min/max/avg/stdev = %.0f/%.0f/%.0f/%.0f responses/s\n",
              o_.switches, r.size(), mn, mx, avg, sd);
  std::printf(
      "answered %.0f PACKET_INs/s; FLOW_MOD %llu, PACKET_OUT %llu, unmatched %llu, lost %llu; "
      "served %u/%u switches (%u still connected), disconnects %llu, controller errors %llu, "
      "decode errors %llu\n",
      aavg, static_cast<unsigned long long>(c_.flow_mods),
      static_cast<unsigned long long>(c_.packet_outs),
      static_cast<unsigned long long>(c_.unmatched), static_cast<unsigned long long>(c_.lost),
      served, o_.switches, still, static_cast<unsigned long long>(c_.disconnects),
      static_cast<unsigned long long>(c_.controller_errors),
      static_cast<unsigned long long>(c_.decode_errors));
  if (o_.mode == Mode::kLatency) {
    std::printf("round trip PACKET_IN -> answer: avg %.1f us, p50 %.1f us, p99 %.1f us\n",
                lat_avg_us, p50, p99);
  }
  // CPU over the measured loops: share of one core, and microseconds per
  // answered PACKET_IN (the cost that decides the rate when cores are shared).
  const double wall = static_cast<double>(measure_ns_) / 1e9;
  const double answers = static_cast<double>(std::max<std::uint64_t>(measure_answered_, 1));
  auto util = [wall](double cpu) { return cpu >= 0 && wall > 0 ? cpu / wall : -1; };
  auto per = [answers](double cpu) { return cpu >= 0 ? cpu * 1e6 / answers : -1; };
  std::printf("CPU over the measured loops: cbench %.0f%% of a core (%.2f us per answer)",
              100 * util(gen_cpu_), per(gen_cpu_));
  if (ctl_cpu_ >= 0) {
    std::printf(", controller %.0f%% (%.2f us per answer)", 100 * util(ctl_cpu_), per(ctl_cpu_));
  }
  std::printf("\n");
  std::printf(
      "RESULT avg=%.0f min=%.0f max=%.0f stdev=%.0f answered=%.0f switches=%u connected=%u "
      "ready=%u served=%u lost=%llu unmatched=%llu disconnects=%llu errors=%llu lat_avg_us=%.1f "
      "lat_p50_us=%.1f lat_p99_us=%.1f gen_cpu=%.2f gen_us_per_answer=%.2f ctl_cpu=%.2f "
      "ctl_us_per_answer=%.2f\n",
      avg, mn, mx, sd, aavg, o_.switches, ever_connected_, still, served,
      static_cast<unsigned long long>(c_.lost), static_cast<unsigned long long>(c_.unmatched),
      static_cast<unsigned long long>(c_.disconnects),
      static_cast<unsigned long long>(c_.controller_errors + c_.decode_errors), lat_avg_us, p50,
      p99, util(gen_cpu_), per(gen_cpu_), util(ctl_cpu_), per(ctl_cpu_));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"cbench (tapflow): cbench-style OpenFlow controller benchmark"};
  app.add_option("--controller,-c", o.controller, "controller HOST:PORT")->capture_default_str();
  app.add_option("--switches,-s", o.switches, "emulated switches")
      ->check(CLI::Range(1u, 65535u))
      ->capture_default_str();
  app.add_option("--version,-V", o.version_text, "OpenFlow version: 1.0 or 1.3")
      ->check(CLI::IsMember({"1.0", "1.3", "10", "13"}))
      ->capture_default_str();
  app.add_option("--mode,-m", o.mode_text, "throughput or latency")
      ->check(CLI::IsMember({"throughput", "latency"}))
      ->capture_default_str();
  app.add_option("--loops,-l", o.loops, "measured loops")->check(CLI::Range(1u, 100000u))->capture_default_str();
  app.add_option("--ms-per-loop,-t", o.ms_per_loop, "loop length in ms")
      ->check(CLI::Range(10u, 3600000u))
      ->capture_default_str();
  app.add_option("--warmup,-w", o.warmup, "loops run before measuring")->capture_default_str();
  app.add_option("--macs,-M", o.macs, "hosts (source MACs) per switch, made even")
      ->check(CLI::Range(2u, 65536u))
      ->capture_default_str();
  app.add_option("--ports", o.ports, "ports per switch (hosts are spread over them)")
      ->check(CLI::Range(2u, 255u))
      ->capture_default_str();
  app.add_option("--window", o.window, "throughput mode: outstanding PACKET_INs per switch")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_flag("--unbuffered", o.unbuffered,
               "send PACKET_INs with buffer_id NO_BUFFER (then a PACKET_OUT answers one)");
  app.add_option("--dpid-offset", o.dpid_offset, "datapath id of the first switch")->capture_default_str();
  app.add_option("--connect-timeout-ms", o.connect_timeout_ms, "time allowed for all handshakes")
      ->capture_default_str();
  app.add_option("--settle-ms", o.settle_ms, "pause after the handshakes")->capture_default_str();
  app.add_option("--stall-ms", o.stall_ms, "give up on unanswered PACKET_INs after this long")
      ->check(CLI::Range(10u, 3600000u))
      ->capture_default_str();
  app.add_option("--max-connecting", o.max_connecting, "TCP connects in flight at once")
      ->check(CLI::Range(1u, 65535u))
      ->capture_default_str();
  app.add_option("--controller-pid", o.controller_pid,
                 "the controller's PID, to report its CPU use over the measured loops");
  bool no_learn = false;
  app.add_flag("--no-learn", no_learn,
               "skip the learning phase (each host once to the broadcast MAC before the loops)");
  app.add_option("--learn-timeout-ms", o.learn_timeout_ms, "time allowed for the learning phase")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.learn = !no_learn;
  o.version = (o.version_text == "1.3" || o.version_text == "13") ? of::kVersion13 : of::kVersion10;
  o.mode = o.mode_text == "latency" ? Mode::kLatency : Mode::kThroughput;
  o.macs += o.macs % 2;
  Generator g(o);
  return g.run();
}
