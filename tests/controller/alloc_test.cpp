// Allocation counts on the PACKET_IN / PACKET_OUT hot path (tapd pumps every
// control-plane frame through it): decode_into of PACKET_INs into a reused
// message and encoding PACKET_OUT / FLOW_MOD from reused messages into an
// existing buffer allocate nothing after warm-up; through a real Connection,
// what remains per frame is measured and bounded.
//
// This is its own executable because it replaces the global operator new with
// a counting one; the counter is per thread so the fake switch's own work on
// the test thread does not count against the controller's event loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/oxm.hpp"

namespace {

// The allocation hook's state: a replaced operator new has no other place
// to count into. Sizes of the first few allocations are kept so a failure or
// a report can say what was allocated.
struct AllocCounter {
  std::uint64_t count = 0;
  std::size_t sizes[16] = {};
};
thread_local AllocCounter t_allocs;

void* counted_alloc(std::size_t n, std::size_t align) {
  t_allocs.sizes[t_allocs.count % 16] = n;
  ++t_allocs.count;
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else if (::posix_memalign(&p, align, n) != 0) {
    p = nullptr;
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* counted_alloc_nothrow(std::size_t n, std::size_t align) noexcept {
  try {
    return counted_alloc(n, align);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc_nothrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace tapflow::controller::testing {
namespace {

std::string sizes_text(const AllocCounter& c, std::uint64_t since) {
  // The ring holds the last 16 sizes.
  std::string s;
  for (std::uint64_t i = std::max(since, c.count < 16 ? 0 : c.count - 16); i < c.count; ++i) {
    s += (s.empty() ? "" : " ") + std::to_string(c.sizes[i % 16]);
  }
  return s.empty() ? "none" : s;
}

Bytes frame_of(std::size_t n, std::uint32_t seed) {
  Bytes d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return d;
}

// A PACKET_IN as a switch sends it: 1.0 (no match) or 1.3 with in_port and,
// for some, metadata and tunnel_id.
Bytes packet_in_wire(std::uint8_t version, std::uint32_t xid, std::size_t size,
                     std::uint32_t in_port, int extra_fields) {
  PacketIn p;
  p.total_len = static_cast<std::uint16_t>(size);
  p.in_port = in_port;
  p.data = frame_of(size, xid);
  if (version == kVersion13) {
    p.match.fields.push_back(oxm::in_port(in_port));
    if (extra_fields >= 1) p.match.fields.push_back(oxm::metadata(xid));
    if (extra_fields >= 2) p.match.fields.push_back(oxm::uint_field(oxm_field::kTunnelId, xid, 8));
  }
  auto w = encode(Message{version, xid, p});
  EXPECT_TRUE(w.ok());
  return w.ok() ? *w : Bytes{};
}

// 1000 PACKET_INs of both versions, 14..1500 bytes of frame.
std::vector<Bytes> packet_in_mix(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t version = i % 2 == 0 ? kVersion10 : kVersion13;
    const std::size_t size = std::uniform_int_distribution<std::size_t>(14, 1500)(rng);
    out.push_back(packet_in_wire(version, static_cast<std::uint32_t>(i + 1), size,
                                 1 + static_cast<std::uint32_t>(i % 48), static_cast<int>(i % 3)));
  }
  return out;
}

TEST(Alloc, CountingHookSeesAllocations) {
  // The hook itself must work, or every zero below means nothing.
  const Bytes wire = packet_in_wire(kVersion13, 1, 100, 1, 0);
  const auto before = t_allocs.count;
  auto m = decode(wire);  // the data and match vectors, at least
  ASSERT_TRUE(m.ok());
  EXPECT_GE(t_allocs.count - before, 2u);
}

TEST(Alloc, DecodeIntoPacketInAllocatesNothingInSteadyState) {
  const auto wires = packet_in_mix(1000, 7);
  Message scratch;
  // Warm-up: the largest frame and match of each version sizes the buffers.
  for (auto version : {kVersion10, kVersion13}) {
    ASSERT_TRUE(decode_into(packet_in_wire(version, 1, 1500, 1, 2), scratch).ok());
  }
  std::size_t bad = 0, bytes = 0;
  const auto before = t_allocs.count;
  for (const auto& w : wires) {
    const Status st = decode_into(w, scratch);
    const auto* pi = std::get_if<PacketIn>(&scratch.body);
    if (!st.ok() || pi == nullptr || pi->data.size() != pi->total_len) ++bad;
    if (pi != nullptr) bytes += pi->data.size();
  }
  const auto allocs = t_allocs.count - before;
  const std::string sizes = sizes_text(t_allocs, before);
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(bytes, 1000u * 14);
  EXPECT_EQ(allocs, 0u) << "sizes: " << sizes;
  std::printf("decode_into: %llu allocations for %zu PACKET_INs\n",
              static_cast<unsigned long long>(allocs), wires.size());

  // For contrast (and so this test can tell the two apart): decode() pays per message.
  const auto before_fresh = t_allocs.count;
  for (const auto& w : wires) {
    if (!decode(w).ok()) ++bad;
  }
  EXPECT_GE(t_allocs.count - before_fresh, wires.size());
  std::printf("decode: %llu allocations for %zu PACKET_INs\n",
              static_cast<unsigned long long>(t_allocs.count - before_fresh), wires.size());
}

TEST(Alloc, EncodePacketOutFromReusedMessageAllocatesNothing) {
  for (auto version : {kVersion10, kVersion13}) {
    SCOPED_TRACE(int(version));
    Message out{version, 1, PacketOut{}};
    auto& po = std::get<PacketOut>(out.body);
    po.actions = {action::Output{2, 0}};
    std::vector<Bytes> frames;
    for (std::size_t i = 0; i < 1000; ++i) frames.push_back(frame_of(14 + (i * 37) % 1487, i));
    Bytes buf;
    // Warm-up: the largest message sizes the buffer.
    po.data.assign(1500, 0);
    ASSERT_TRUE(encode(out, buf).ok());
    std::size_t bad = 0;
    const auto before = t_allocs.count;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      po.data.assign(frames[i].begin(), frames[i].end());
      po.in_port = 1 + static_cast<std::uint32_t>(i % 8);
      out.xid = static_cast<std::uint32_t>(i + 1);
      buf.clear();
      if (!encode(out, buf).ok() || buf.size() < frames[i].size()) ++bad;
    }
    const auto allocs = t_allocs.count - before;
    const std::string sizes = sizes_text(t_allocs, before);
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(allocs, 0u) << "sizes: " << sizes;
    std::printf("PACKET_OUT 0x%02x encode: %llu allocations for 1000 messages\n", version,
                static_cast<unsigned long long>(allocs));
  }
}

TEST(Alloc, EncodeFlowModFromReusedMessageAllocatesNothing) {
  for (auto version : {kVersion10, kVersion13}) {
    SCOPED_TRACE(int(version));
    Message out{version, 1, FlowMod{}};
    auto& fm = std::get<FlowMod>(out.body);
    fm.match.fields = {oxm::in_port(1), oxm::eth_type(0x0800),
                       oxm::ipv4_dst(0x0a000000, 0xff000000)};
    fm.instructions = {instruction::ApplyActions{{action::Output{2, 0}}}};
    Bytes buf;
    ASSERT_TRUE(encode(out, buf).ok());
    std::size_t bad = 0;
    const auto before = t_allocs.count;
    for (std::uint32_t i = 0; i < 1000; ++i) {
      out.xid = i + 1;
      fm.cookie = i;
      fm.priority = static_cast<std::uint16_t>(i);
      buf.clear();
      if (!encode(out, buf).ok()) ++bad;
    }
    const auto allocs = t_allocs.count - before;
    const std::string sizes = sizes_text(t_allocs, before);
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(allocs, 0u) << "sizes: " << sizes;
    std::printf("FLOW_MOD 0x%02x encode: %llu allocations for 1000 messages\n", version,
                static_cast<unsigned long long>(allocs));
  }
}

// ---------------------------------------------------------------- end to end

// Counts PACKET_INs and the event loop thread's allocation count at each; in
// echo mode answers each with a PACKET_OUT built in a reused message, as tapd
// does. Nothing here allocates by itself.
class CountingApp : public App {
 public:
  void on_datapath_up(Datapath& dp) override {
    (void)dp;
    up = true;
  }
  void on_packet_in(Datapath& dp, const PacketIn& pi) override {
    if (echo) {
      out_.version = dp.version();
      out_.xid = dp.next_xid();
      auto& po = std::get<PacketOut>(out_.body);
      po.in_port = pi.in_port;
      po.data.assign(pi.data.begin(), pi.data.end());
      if (!dp.send(out_).ok()) ++send_failures;
    }
    snapshot = t_allocs;
    allocs_at_last.store(t_allocs.count);
    packet_ins.fetch_add(1);
  }

  std::atomic<bool> up{false};
  std::atomic<bool> echo{false};
  std::atomic<std::uint64_t> packet_ins{0};
  std::atomic<std::uint64_t> allocs_at_last{0};
  std::atomic<std::uint64_t> send_failures{0};
  AllocCounter snapshot;  // the event loop's counter at the last PACKET_IN

 private:
  Message out_{kVersion13, 0, PacketOut{kNoBuffer, 0, {action::Output{1, 0}}, {}}};
};

// A Controller with CountingApp on its own event loop thread; no echo traffic
// during the measurements (long echo interval).
class Loop {
 public:
  Loop() : controller_(io_, config(), app) {
    controller_.start();
    port = controller_.local_endpoints().at(0).port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Loop() {
    std::promise<void> stopped;
    asio::post(io_, [this, &stopped] {
      controller_.stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  static ControllerConfig config() {
    ControllerConfig c;
    c.listeners = {ListenerConfig{"127.0.0.1", 0, false}};
    c.connection.echo_interval = 30s;
    c.connection.handshake_timeout = 5s;
    c.connection.request_timeout = 5s;
    return c;
  }
  bool wait_packet_ins(std::uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (app.packet_ins.load() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(200us);
    }
    return true;
  }

  CountingApp app;
  std::uint16_t port = 0;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  Controller controller_;
  std::thread thread_;
};

struct EndToEnd {
  std::uint64_t frames = 0;
  std::uint64_t allocs = 0;
  std::string sizes;  // of the last allocations
};

// Sends `n` PACKET_INs after a warm-up and returns the event loop's
// allocations between the first and the last one handled. `one_by_one` waits
// for each to be handled before sending the next, so every frame is its own
// read (the worst case); otherwise all go out in one burst. In echo mode each
// PACKET_OUT is read back by the switch.
EndToEnd run_end_to_end(std::uint8_t version, bool one_by_one, bool echo, std::size_t n) {
  Loop loop;
  loop.app.echo = echo;
  FakeSwitch sw(loop.port);
  sw.handshake(version, 0x42, {FakeSwitch::make_port(1, "p1"), FakeSwitch::make_port(2, "p2")});
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!loop.app.up && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(loop.app.up.load());

  std::vector<Bytes> wires;
  std::mt19937 rng(11);
  for (std::size_t i = 0; i < n + 51; ++i) {
    // The warm-up begins with two of the largest frame and match (two: the
    // connection's write buffers take turns).
    const bool largest = i < 2;
    const std::size_t size =
        largest ? 1500 : std::uniform_int_distribution<std::size_t>(14, 1500)(rng);
    wires.push_back(packet_in_wire(version, static_cast<std::uint32_t>(1000 + i), size,
                                   1 + static_cast<std::uint32_t>(i % 2),
                                   largest ? 2 : int(i % 3)));
  }
  auto send_and_drain = [&](std::size_t from, std::size_t to) {
    if (one_by_one) {
      for (std::size_t i = from; i < to; ++i) {
        sw.send_raw(wires[i]);
        if (echo) {
          EXPECT_TRUE(sw.expect<PacketOut>());
        } else {
          EXPECT_TRUE(loop.wait_packet_ins(i + 1));
        }
      }
    } else {
      Bytes burst;
      for (std::size_t i = from; i < to; ++i)
        burst.insert(burst.end(), wires[i].begin(), wires[i].end());
      sw.send_raw(burst);
      if (echo) {
        for (std::size_t i = from; i < to; ++i) EXPECT_TRUE(sw.expect<PacketOut>());
      }
    }
    EXPECT_TRUE(loop.wait_packet_ins(to));
  };
  // Warm-up: 51 PACKET_INs (buffers, asio's handler memory, the write path).
  send_and_drain(0, 51);
  const std::uint64_t start = loop.app.allocs_at_last.load();
  send_and_drain(51, 51 + n);
  EXPECT_EQ(loop.app.send_failures.load(), 0u);
  return {n, loop.app.allocs_at_last.load() - start, sizes_text(loop.app.snapshot, start)};
}

void report(const char* what, const EndToEnd& r) {
  std::printf(
      "end to end, %s: %llu allocations on the event loop for %llu PACKET_INs (%.2f per frame; "
      "sizes of the last: %s)\n",
      what, static_cast<unsigned long long>(r.allocs), static_cast<unsigned long long>(r.frames),
      static_cast<double>(r.allocs) / static_cast<double>(r.frames), r.sizes.c_str());
}

// Through a Connection the decode adds nothing; what remains is the
// transport's read callback (a std::function holding the connection's
// shared_ptr: one heap allocation per read, not per frame). So at most one
// allocation per frame when every frame is its own read, and far fewer in a
// burst. Decoding with decode() instead would cost at least one more per frame
// (the data vector), two for 1.3 (and the match's field vector).
TEST(Alloc, EndToEndPacketInAtMostOneAllocationPerRead) {
  for (auto version : {kVersion10, kVersion13}) {
    SCOPED_TRACE(int(version));
    const auto one = run_end_to_end(version, true, false, 300);
    report(version == kVersion10 ? "1.0, one frame per read" : "1.3, one frame per read", one);
    EXPECT_LE(one.allocs, one.frames);
    const auto burst = run_end_to_end(version, false, false, 1000);
    report(version == kVersion10 ? "1.0, burst" : "1.3, burst", burst);
    EXPECT_LT(burst.allocs, burst.frames / 2);
  }
}

// With a PACKET_OUT per PACKET_IN: the reused message encodes into the
// connection's pending buffer without allocating (see above); each write adds
// its callback (a std::function, like the read's) and asio's write operation
// (169 bytes here; asio's per-thread recycling keeps the read operation but
// not this one). So at most three per frame when every frame is its own read
// and write; decode() and a fresh PACKET_OUT would add two to four more.
TEST(Alloc, EndToEndPacketInWithPacketOutAtMostThreeAllocationsPerReadAndWrite) {
  for (auto version : {kVersion10, kVersion13}) {
    SCOPED_TRACE(int(version));
    const auto one = run_end_to_end(version, true, true, 300);
    report(version == kVersion10 ? "1.0 with PACKET_OUT, one frame per read"
                                 : "1.3 with PACKET_OUT, one frame per read",
           one);
    EXPECT_LE(one.allocs, 3 * one.frames);
  }
}

}  // namespace
}  // namespace tapflow::controller::testing
