// Punt classes (control-plane policing): what a frame for the router is, so
// that PACKET_INs of each class are policed on their own and the kernel's
// routing-protocol frames go out first. Pure logic: a header look per frame
// and token buckets; the TapBridge applies them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "tapflow/netns/ip.hpp"

namespace tapflow::tapd {

// Highest first. What each holds:
//   kRouting  OSPF (IP protocol 89), VRRP (112), PIM (103), BGP (TCP port 179
//             either side), BFD (UDP 3784/3785/4784 with TTL/hop limit 255,
//             RFC 5881/5883), RIP (UDP 520), RIPng (UDP 521), LDP (646);
//   kArpNd    ARP, ICMPv6 router/neighbour solicitations and advertisements,
//             redirects;
//   kToRouter other IP to one of the router's addresses or to link-local
//             multicast (224.0.0.0/24, ff02::/16): ICMP, SSH, ...;
//   kGlean    other IP: transit the switch sent to the controller (a FIB miss,
//             an unresolved next hop; on OpenFlow 1.0 all routed IPv6);
//   kOther    everything else (not IP, not ARP).
enum class PuntClass : std::uint8_t { kRouting = 0, kArpNd, kToRouter, kGlean, kOther };
inline constexpr std::size_t kPuntClasses = 5;

std::string_view punt_class_name(PuntClass c);  // routing, arp_nd, to_router, glean, other

// The class of an Ethernet frame (802.1Q tags skipped). `is_local(ip)` tells
// whether an address is one of the router's own.
PuntClass classify_frame(std::span<const std::uint8_t> frame,
                         const std::function<bool(const netns::IpAddress&)>& is_local);

// A token bucket: `rate` packets per second, at most `burst` at once. rate 0:
// no limit.
struct PolicerConfig {
  std::uint32_t rate = 0;
  std::uint32_t burst = 0;
  friend bool operator==(const PolicerConfig&, const PolicerConfig&) = default;
};

// Defaults like hardware routers' control-plane policing (SONiC's CoPP:
// BGP/LACP 6000 pps, traffic to the router's own addresses 6000, ARP/ND 600,
// the rest 600). glean also carries the slow path of routed traffic (on
// OpenFlow 1.0 all routed IPv6): raise it, or set 0, where that matters.
struct PuntPolicy {
  std::array<PolicerConfig, kPuntClasses> classes{{
      {6000, 1000},  // routing
      {600, 200},    // arp_nd
      {6000, 1000},  // to_router
      {6000, 1000},  // glean
      {600, 200},    // other
  }};
  const PolicerConfig& operator[](PuntClass c) const { return classes[static_cast<std::size_t>(c)]; }
  friend bool operator==(const PuntPolicy&, const PuntPolicy&) = default;
};

class TokenBucket {
 public:
  TokenBucket() = default;
  explicit TokenBucket(PolicerConfig c) : config_(c), tokens_nano_(std::uint64_t{c.burst} * kNano) {}
  // Takes one token at `now_ns` (a monotonic clock); false: police (drop).
  bool take(std::uint64_t now_ns);
  const PolicerConfig& config() const { return config_; }
  // New rate and burst (a reload): the tokens in hand stay, up to the new burst.
  void reconfigure(PolicerConfig c) {
    config_ = c;
    tokens_nano_ = std::min(tokens_nano_, std::uint64_t{c.burst} * kNano);
  }

 private:
  static constexpr std::uint64_t kNano = 1'000'000'000;
  PolicerConfig config_;
  std::uint64_t tokens_nano_ = 0;  // tokens x 1e9, so refills stay exact in integers
  std::uint64_t last_ns_ = 0;
  bool started_ = false;
};

// Per class: frames seen, passed to the TAP, dropped by the policer.
struct PuntCounters {
  std::array<std::uint64_t, kPuntClasses> seen{}, passed{}, policed{};
  std::uint64_t control_out = 0;  // the kernel's routing/ARP/ND frames sent ahead of bulk
};

}  // namespace tapflow::tapd
