// BFD watch: the liveness of the BFD sessions whose packets cross a switch's
// control path, as tapd sees them, so that FIB programming can yield to them.
//
// Why: on a router whose control plane shares its CPUs with the switch's
// programming (a software switch, a small controller host), a full-table
// install can starve a BFD sender or hold its packets in the switch, and a
// session at 100 ms x 3 goes down after 300 ms of silence. Every BFD packet
// of a session through the switch passes tapd: the neighbour's as PACKET_INs
// (to the TAP), the router's as PACKET_OUTs (from the TAP). tapd observes
// them here; the FIB programmer asks, before each bundle, whether a session
// that is Up has been silent for a large share of its detection time, and
// holds the bundle while one is (routing/fib_programmer.hpp, `hold`). The
// switch's main loop and the CPUs then go to the late packets. A session
// silent past its whole detection time counts as down (it is, or it is
// gone), so a dead neighbour never holds programming for longer than that.
//
// Pure logic, per datapath; beneath tapd and routing (they meet in the
// daemon, which gives both the same BfdWatch).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

namespace tapflow::bfdwatch {

using Clock = std::chrono::steady_clock;

// The fields of a BFD control packet (RFC 5880 4.1) that tell its sender's
// state and pace.
struct BfdControl {
  std::uint8_t state = 0;  // 0 AdminDown, 1 Down, 2 Init, 3 Up
  std::uint8_t detect_mult = 0;
  std::uint32_t my_discriminator = 0;
  std::uint32_t desired_min_tx_us = 0;
  static constexpr std::uint8_t kUp = 3;
};

// The BFD control packet in an Ethernet frame (802.1Q tags skipped; IPv4 or
// IPv6; UDP to port 3784, single hop, or 4784, multihop), if it is one.
std::optional<BfdControl> parse_bfd_control(std::span<const std::uint8_t> frame);

struct BfdWatchCounters {
  std::uint64_t packets = 0;        // BFD control packets observed
  std::uint64_t sessions_seen = 0;  // sessions (direction, sender's discriminator) ever tracked
};

class BfdWatch {
 public:
  // Sessions tracked per datapath at most (the oldest silent one goes).
  static constexpr std::size_t kMaxSessions = 4096;
  // A session unseen this long is forgotten.
  static constexpr Clock::duration kForget = std::chrono::seconds(60);

  // A BFD packet of datapath `dpid` at `now`: sent by the router's kernel
  // (from_router, TAP -> switch) or by a neighbour (switch -> TAP).
  void observe(std::uint64_t dpid, bool from_router, const BfdControl& c, Clock::time_point now);
  // Parses `frame` and observes it if it is a BFD control packet.
  void observe_frame(std::uint64_t dpid, bool from_router, std::span<const std::uint8_t> frame,
                     Clock::time_point now);

  // The largest silence of datapath `dpid`'s Up sessions at `now`, as a
  // share of each one's detection time (its sender's detect multiplier x
  // desired transmit interval), among those below 1 (the others are down);
  // 0 when none.
  double worst_silence(std::uint64_t dpid, Clock::time_point now) const;
  // Sessions of `dpid` whose last packet said Up.
  std::size_t up_sessions(std::uint64_t dpid) const;
  void forget(std::uint64_t dpid);  // the datapath is gone

  const BfdWatchCounters& counters() const { return counters_; }

 private:
  struct Session {
    Clock::time_point last{};
    Clock::duration detect{};
    bool up = false;
  };
  struct Datapath {
    std::unordered_map<std::uint64_t, Session> sessions;  // (from_router << 32 | discriminator)
    Clock::time_point last_sweep{};
  };
  std::unordered_map<std::uint64_t, Datapath> dps_;
  BfdWatchCounters counters_;
};

}  // namespace tapflow::bfdwatch
