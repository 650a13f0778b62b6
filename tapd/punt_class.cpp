// Punt classes and token buckets: see punt_class.hpp.
#include "tapflow/tapd/punt_class.hpp"

#include <algorithm>

#include "tapflow/openflow/packet.hpp"

namespace tapflow::tapd {
namespace {

namespace pk = openflow::packet;

constexpr std::uint8_t kOspf = 89, kVrrp = 112, kPim = 103;

bool routing_udp(std::uint16_t dst, std::uint16_t src, std::uint8_t ttl) {
  // BFD single-hop (3784) and echo (3785) must arrive with TTL 255 (GTSM);
  // multihop (4784) with any.
  if (dst == 3784 || dst == 3785) return ttl == 255;
  if (dst == 4784) return true;
  return dst == 520 || dst == 521 || dst == 646 || src == 646;
}

}  // namespace

std::string_view punt_class_name(PuntClass c) {
  switch (c) {
    case PuntClass::kRouting: return "routing";
    case PuntClass::kArpNd: return "arp_nd";
    case PuntClass::kToRouter: return "to_router";
    case PuntClass::kGlean: return "glean";
    case PuntClass::kOther: return "other";
  }
  return "other";
}

PuntClass classify_frame(std::span<const std::uint8_t> frame,
                         const std::function<bool(const netns::IpAddress&)>& is_local) {
  const pk::ParsedFrame p = pk::parse_frame(frame);
  if (p.arp || (p.eth && p.eth->ethertype() == pk::ethertype::kArp)) return PuntClass::kArpNd;
  if (!p.ipv4 && !p.ipv6) return PuntClass::kOther;
  if (p.icmpv6 && p.icmpv6->is_nd()) return PuntClass::kArpNd;
  const std::uint8_t ttl = p.ipv4 ? p.ipv4->ttl() : p.ipv6->hop_limit();
  if (p.ip_proto) {
    const std::uint8_t proto = *p.ip_proto;
    if (proto == kOspf || proto == kVrrp || proto == kPim) return PuntClass::kRouting;
    if (p.tcp && (p.tcp->dst_port() == 179 || p.tcp->src_port() == 179)) return PuntClass::kRouting;
    if (p.udp && routing_udp(p.udp->dst_port(), p.udp->src_port(), ttl)) return PuntClass::kRouting;
  }
  netns::IpAddress dst;
  bool link_multicast = false;
  if (p.ipv4) {
    dst = netns::IpAddress::v4(p.ipv4->dst());
    link_multicast = (p.ipv4->dst() & 0xffffff00u) == 0xe0000000u;  // 224.0.0.0/24
  } else {
    const auto a = p.ipv6->dst();
    dst = netns::IpAddress::v6(a.data());
    link_multicast = a[0] == 0xff && (a[1] & 0x0f) == 0x02;  // ff02::/16 and friends
  }
  if (link_multicast || (is_local && is_local(dst))) return PuntClass::kToRouter;
  return PuntClass::kGlean;
}

bool TokenBucket::take(std::uint64_t now_ns) {
  if (config_.rate == 0) return true;
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  }
  if (now_ns > last_ns_) {
    const std::uint64_t cap = std::uint64_t{std::max<std::uint32_t>(config_.burst, 1)} * kNano;
    const std::uint64_t elapsed = now_ns - last_ns_;
    // elapsed x rate: capped before it could overflow (a full bucket anyway).
    const std::uint64_t add = elapsed >= cap ? cap : elapsed * config_.rate;
    tokens_nano_ = std::min(cap, tokens_nano_ + add);
    last_ns_ = now_ns;
  }
  if (tokens_nano_ < kNano) return false;
  tokens_nano_ -= kNano;
  return true;
}

}  // namespace tapflow::tapd
