#include "tapflow/openflow/packet.hpp"

#include <algorithm>

namespace tapflow::openflow::packet {
namespace {

// Reads that return 0 outside the span: views check their region in parse(),
// these keep every accessor safe even so.
std::uint8_t u8(ByteSpan b, std::size_t at) { return at < b.size() ? b[at] : 0; }
std::uint16_t u16(ByteSpan b, std::size_t at) {
  if (at > b.size() || b.size() - at < 2) return 0;
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t u32(ByteSpan b, std::size_t at) {
  if (at > b.size() || b.size() - at < 4) return 0;
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}
MacAddress mac_at(ByteSpan b, std::size_t at) {
  MacAddress m;
  if (at <= b.size() && b.size() - at >= 6) std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 6, m.octets.begin());
  return m;
}
Ipv6Address ip6_at(ByteSpan b, std::size_t at) {
  Ipv6Address a{};
  if (at <= b.size() && b.size() - at >= 16) std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 16, a.begin());
  return a;
}

bool is_vlan_tpid(std::uint16_t t) { return t == ethertype::kVlan || t == ethertype::kQinQ; }

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}
void put_mac(Bytes& out, const MacAddress& m) {
  out.insert(out.end(), m.octets.begin(), m.octets.end());
}
void set16(Bytes& out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 8);
  out[at + 1] = static_cast<std::uint8_t>(v);
}

constexpr std::size_t kEthMinFrame = 60;
constexpr std::size_t kEthHeader = 14;

}  // namespace

// ---------------------------------------------------------------- Ethernet
std::optional<EthernetView> EthernetView::parse(ByteSpan frame) {
  if (frame.size() < kEthHeader) return std::nullopt;
  std::size_t tags = 0;
  while (tags < kMaxTags && is_vlan_tpid(u16(frame, 12 + 4 * tags))) {
    if (frame.size() < kEthHeader + 4 * (tags + 1)) return std::nullopt;  // cut inside a tag
    ++tags;
  }
  return EthernetView(frame, tags);
}
MacAddress EthernetView::dst() const { return mac_at(frame_, 0); }
MacAddress EthernetView::src() const { return mac_at(frame_, 6); }
VlanTag EthernetView::vlan(std::size_t i) const {
  if (i >= tags_) return {};
  return VlanTag{u16(frame_, 12 + 4 * i), u16(frame_, 14 + 4 * i)};
}
std::uint16_t EthernetView::ethertype() const { return u16(frame_, 12 + 4 * tags_); }

// ---------------------------------------------------------------- ARP
std::optional<ArpView> ArpView::parse(ByteSpan b) {
  if (b.size() < kLen) return std::nullopt;
  if (u16(b, 0) != 1 || u16(b, 2) != ethertype::kIpv4 || u8(b, 4) != 6 || u8(b, 5) != 4) {
    return std::nullopt;
  }
  return ArpView(b.first(kLen));
}
std::uint16_t ArpView::op() const { return u16(b_, 6); }
MacAddress ArpView::sha() const { return mac_at(b_, 8); }
std::uint32_t ArpView::spa() const { return u32(b_, 14); }
MacAddress ArpView::tha() const { return mac_at(b_, 18); }
std::uint32_t ArpView::tpa() const { return u32(b_, 24); }

// ---------------------------------------------------------------- IPv4
std::optional<Ipv4View> Ipv4View::parse(ByteSpan b) {
  if (b.size() < kMinLen || (b[0] >> 4) != 4) return std::nullopt;
  const std::size_t hl = std::size_t{b[0] & 0x0fu} * 4;
  if (hl < kMinLen || hl > b.size() || u16(b, 2) < hl) return std::nullopt;
  return Ipv4View(b);
}
std::size_t Ipv4View::header_len() const { return std::size_t{u8(b_, 0) & 0x0fu} * 4; }
std::uint8_t Ipv4View::dscp() const { return static_cast<std::uint8_t>(u8(b_, 1) >> 2); }
std::uint8_t Ipv4View::ecn() const { return static_cast<std::uint8_t>(u8(b_, 1) & 3); }
std::uint16_t Ipv4View::total_length() const { return u16(b_, 2); }
std::uint16_t Ipv4View::identification() const { return u16(b_, 4); }
bool Ipv4View::dont_fragment() const { return (u16(b_, 6) & 0x4000) != 0; }
bool Ipv4View::more_fragments() const { return (u16(b_, 6) & 0x2000) != 0; }
std::uint16_t Ipv4View::fragment_offset() const { return u16(b_, 6) & 0x1fff; }
std::uint8_t Ipv4View::ttl() const { return u8(b_, 8); }
std::uint8_t Ipv4View::protocol() const { return u8(b_, 9); }
std::uint16_t Ipv4View::checksum() const { return u16(b_, 10); }
std::uint32_t Ipv4View::src() const { return u32(b_, 12); }
std::uint32_t Ipv4View::dst() const { return u32(b_, 16); }
ByteSpan Ipv4View::options() const { return b_.subspan(kMinLen, header_len() - kMinLen); }
ByteSpan Ipv4View::payload() const {
  const std::size_t end = std::min<std::size_t>(total_length(), b_.size());
  return b_.subspan(header_len(), end - header_len());
}
bool Ipv4View::checksum_ok() const { return internet_checksum(b_.first(header_len())) == 0; }

// ---------------------------------------------------------------- IPv6
std::optional<Ipv6View> Ipv6View::parse(ByteSpan b) {
  if (b.size() < kLen || (b[0] >> 4) != 6) return std::nullopt;
  return Ipv6View(b);
}
std::uint8_t Ipv6View::traffic_class() const {
  return static_cast<std::uint8_t>((u16(b_, 0) >> 4) & 0xff);
}
std::uint32_t Ipv6View::flow_label() const { return u32(b_, 0) & 0xfffff; }
std::uint16_t Ipv6View::payload_length() const { return u16(b_, 4); }
std::uint8_t Ipv6View::next_header() const { return u8(b_, 6); }
std::uint8_t Ipv6View::hop_limit() const { return u8(b_, 7); }
Ipv6Address Ipv6View::src() const { return ip6_at(b_, 8); }
Ipv6Address Ipv6View::dst() const { return ip6_at(b_, 24); }
ByteSpan Ipv6View::payload() const {
  const std::size_t n = std::min<std::size_t>(payload_length(), b_.size() - kLen);
  return b_.subspan(kLen, n);
}

// ---------------------------------------------------------------- ICMP
std::optional<IcmpView> IcmpView::parse(ByteSpan b) {
  if (b.size() < kMinLen) return std::nullopt;
  return IcmpView(b);
}
std::uint8_t IcmpView::type() const { return u8(b_, 0); }
std::uint8_t IcmpView::code() const { return u8(b_, 1); }
std::uint16_t IcmpView::checksum() const { return u16(b_, 2); }
std::uint32_t IcmpView::rest_of_header() const { return u32(b_, 4); }

// ---------------------------------------------------------------- ICMPv6
std::optional<Icmpv6View> Icmpv6View::parse(ByteSpan b) {
  if (b.size() < kMinLen) return std::nullopt;
  return Icmpv6View(b);
}
std::uint8_t Icmpv6View::type() const { return u8(b_, 0); }
std::uint8_t Icmpv6View::code() const { return u8(b_, 1); }
std::uint16_t Icmpv6View::checksum() const { return u16(b_, 2); }

std::optional<Ipv6Address> Icmpv6View::nd_target() const {
  const std::uint8_t t = type();
  if (t != icmpv6_type::kNeighborSolicit && t != icmpv6_type::kNeighborAdvert &&
      t != icmpv6_type::kRedirect) {
    return std::nullopt;
  }
  if (b_.size() < 24) return std::nullopt;
  return ip6_at(b_, 8);
}

std::optional<std::uint8_t> Icmpv6View::na_flags() const {
  if (type() != icmpv6_type::kNeighborAdvert || b_.size() < 8) return std::nullopt;
  return u8(b_, 4);
}

std::size_t Icmpv6View::nd_options_offset() const {
  switch (type()) {
    case icmpv6_type::kRouterSolicit: return 8;
    case icmpv6_type::kRouterAdvert: return 16;
    case icmpv6_type::kNeighborSolicit:
    case icmpv6_type::kNeighborAdvert: return 24;
    case icmpv6_type::kRedirect: return 40;
    default: return 0;
  }
}

bool Icmpv6View::nd_options_ok() const {
  const std::size_t start = nd_options_offset();
  if (start == 0) return true;
  if (b_.size() < start) return false;
  for (std::size_t at = start; at < b_.size();) {
    if (b_.size() - at < 2) return false;
    const std::size_t len = std::size_t{b_[at + 1]} * 8;
    if (len == 0 || len > b_.size() - at) return false;
    at += len;
  }
  return true;
}

std::optional<MacAddress> Icmpv6View::nd_lla_option(std::uint8_t want) const {
  const std::size_t start = nd_options_offset();
  if (start == 0 || b_.size() < start) return std::nullopt;
  for (std::size_t at = start; b_.size() - at >= 2;) {
    const std::size_t len = std::size_t{b_[at + 1]} * 8;
    if (len == 0 || len > b_.size() - at) return std::nullopt;  // malformed: stop
    if (b_[at] == want && len == 8) return mac_at(b_, at + 2);
    at += len;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- TCP, UDP
std::optional<TcpView> TcpView::parse(ByteSpan b) {
  if (b.size() < kMinLen) return std::nullopt;
  const std::size_t hl = static_cast<std::size_t>(b[12] >> 4) * 4;
  if (hl < kMinLen || hl > b.size()) return std::nullopt;
  return TcpView(b);
}
std::uint16_t TcpView::src_port() const { return u16(b_, 0); }
std::uint16_t TcpView::dst_port() const { return u16(b_, 2); }
std::uint32_t TcpView::seq() const { return u32(b_, 4); }
std::uint32_t TcpView::ack() const { return u32(b_, 8); }
std::size_t TcpView::header_len() const { return static_cast<std::size_t>(u8(b_, 12) >> 4) * 4; }
std::uint8_t TcpView::flags() const { return u8(b_, 13); }
std::uint16_t TcpView::window() const { return u16(b_, 14); }
std::uint16_t TcpView::checksum() const { return u16(b_, 16); }
std::uint16_t TcpView::urgent() const { return u16(b_, 18); }

std::optional<UdpView> UdpView::parse(ByteSpan b) {
  if (b.size() < kLen || u16(b, 4) < kLen) return std::nullopt;
  return UdpView(b);
}
std::uint16_t UdpView::src_port() const { return u16(b_, 0); }
std::uint16_t UdpView::dst_port() const { return u16(b_, 2); }
std::uint16_t UdpView::length() const { return u16(b_, 4); }
std::uint16_t UdpView::checksum() const { return u16(b_, 6); }
ByteSpan UdpView::payload() const {
  const std::size_t end = std::min<std::size_t>(length(), b_.size());
  return b_.subspan(kLen, end - kLen);
}

// ---------------------------------------------------------------- parse_frame
namespace {

ParsedFrame& stop(ParsedFrame& p, ParsedFrame::Problem problem, std::string_view detail) {
  p.problem = problem;
  p.detail = detail;
  return p;
}

void parse_transport(ParsedFrame& p, std::uint8_t proto, bool v6, ByteSpan l4,
                     std::size_t l4_offset) {
  using P = ParsedFrame::Problem;
  p.ip_proto = proto;
  switch (proto) {
    case ip_proto::kIcmp:
      if (v6) return;
      p.icmp = IcmpView::parse(l4);
      if (!p.icmp) stop(p, P::kTruncated, "ICMP header truncated");
      break;
    case ip_proto::kIcmpv6:
      if (!v6) return;
      p.icmpv6 = Icmpv6View::parse(l4);
      if (!p.icmpv6) stop(p, P::kTruncated, "ICMPv6 header truncated");
      break;
    case ip_proto::kTcp:
      p.tcp = TcpView::parse(l4);
      if (!p.tcp) {
        if (l4.size() >= TcpView::kMinLen && (l4[12] >> 4) < 5) {
          stop(p, P::kMalformed, "TCP data offset below 5");
        } else {
          stop(p, P::kTruncated, "TCP header truncated");
        }
      }
      break;
    case ip_proto::kUdp:
      p.udp = UdpView::parse(l4);
      if (!p.udp) {
        stop(p, l4.size() < UdpView::kLen ? P::kTruncated : P::kMalformed,
             l4.size() < UdpView::kLen ? "UDP header truncated" : "UDP length below 8");
      }
      break;
    default:
      return;  // not a transport we know: no L4 view
  }
  if (p.problem == P::kNone) p.l4_offset = l4_offset;
}

void parse_ipv4(ParsedFrame& p, ByteSpan l3, std::size_t l3_offset) {
  using P = ParsedFrame::Problem;
  p.ipv4 = Ipv4View::parse(l3);
  if (!p.ipv4) {
    if (l3.size() < Ipv4View::kMinLen) {
      stop(p, P::kTruncated, "IPv4 header truncated");
    } else if ((l3[0] >> 4) != 4) {
      stop(p, P::kMalformed, "IPv4 version field is not 4");
    } else if ((l3[0] & 0x0f) < 5) {
      stop(p, P::kMalformed, "IPv4 IHL below 5");
    } else if (std::size_t{l3[0] & 0x0fu} * 4 > l3.size()) {
      stop(p, P::kTruncated, "IPv4 options truncated");
    } else {
      stop(p, P::kMalformed, "IPv4 total length below header length");
    }
    return;
  }
  p.l3_offset = l3_offset;
  if (p.ipv4->is_later_fragment()) {
    p.ip_proto = p.ipv4->protocol();  // no transport header in this fragment
    return;
  }
  parse_transport(p, p.ipv4->protocol(), false, p.ipv4->payload(),
                  l3_offset + p.ipv4->header_len());
}

void parse_ipv6(ParsedFrame& p, ByteSpan l3, std::size_t l3_offset) {
  using P = ParsedFrame::Problem;
  p.ipv6 = Ipv6View::parse(l3);
  if (!p.ipv6) {
    stop(p, l3.size() < Ipv6View::kLen ? P::kTruncated : P::kMalformed,
         l3.size() < Ipv6View::kLen ? "IPv6 header truncated" : "IPv6 version field is not 6");
    return;
  }
  p.l3_offset = l3_offset;
  std::uint8_t nh = p.ipv6->next_header();
  ByteSpan rest = p.ipv6->payload();
  std::size_t at = l3_offset + Ipv6View::kLen;
  // Each extension header consumes at least 8 bytes, so this loop ends.
  for (;;) {
    if (nh == ip_proto::kHopByHop || nh == ip_proto::kRouting || nh == ip_proto::kDestOpts) {
      if (rest.size() < 2) {
        stop(p, P::kTruncated, "IPv6 extension header truncated");
        return;
      }
      const std::size_t len = (std::size_t{rest[1]} + 1) * 8;
      if (len > rest.size()) {
        stop(p, P::kTruncated, "IPv6 extension header truncated");
        return;
      }
      nh = rest[0];
      rest = rest.subspan(len);
      at += len;
    } else if (nh == ip_proto::kFragment) {
      if (rest.size() < 8) {
        stop(p, P::kTruncated, "IPv6 fragment header truncated");
        return;
      }
      const bool later = (u16(rest, 2) >> 3) != 0;
      nh = rest[0];
      rest = rest.subspan(8);
      at += 8;
      if (later) {
        p.ip_proto = nh;
        return;
      }
    } else {
      break;
    }
  }
  parse_transport(p, nh, true, rest, at);
}

}  // namespace

ParsedFrame parse_frame(ByteSpan frame) {
  using P = ParsedFrame::Problem;
  ParsedFrame p;
  p.eth = EthernetView::parse(frame);
  if (!p.eth) return stop(p, P::kTruncated, "Ethernet header truncated");
  const std::size_t l3_offset = p.eth->header_len();
  const ByteSpan l3 = p.eth->payload();
  switch (p.eth->ethertype()) {
    case ethertype::kArp:
      p.arp = ArpView::parse(l3);
      if (!p.arp) {
        return stop(p, l3.size() < ArpView::kLen ? P::kTruncated : P::kMalformed,
                    l3.size() < ArpView::kLen ? "ARP truncated"
                                              : "ARP is not IPv4 over Ethernet");
      }
      p.l3_offset = l3_offset;
      break;
    case ethertype::kIpv4:
      parse_ipv4(p, l3, l3_offset);
      break;
    case ethertype::kIpv6:
      parse_ipv6(p, l3, l3_offset);
      break;
    default:
      break;
  }
  return p;
}

// ---------------------------------------------------------------- builders
std::uint16_t internet_checksum(ByteSpan bytes, std::uint32_t initial) {
  std::uint64_t sum = initial;
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
  if (i < bytes.size()) sum += std::uint32_t{bytes[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

Bytes build_ethernet(const MacAddress& dst, const MacAddress& src, std::uint16_t type,
                     ByteSpan payload, std::span<const VlanTag> vlans) {
  Bytes out;
  out.reserve(std::max(kEthMinFrame, kEthHeader + 4 * vlans.size() + payload.size()));
  put_mac(out, dst);
  put_mac(out, src);
  for (const auto& tag : vlans) {
    put16(out, tag.tpid);
    put16(out, tag.tci);
  }
  put16(out, type);
  out.insert(out.end(), payload.begin(), payload.end());
  if (out.size() < kEthMinFrame) out.resize(kEthMinFrame, 0);
  return out;
}

namespace {
Bytes arp_body(std::uint16_t op, const MacAddress& sha, std::uint32_t spa, const MacAddress& tha,
               std::uint32_t tpa) {
  Bytes b;
  put16(b, 1);                 // htype Ethernet
  put16(b, ethertype::kIpv4);  // ptype IPv4
  b.push_back(6);
  b.push_back(4);
  put16(b, op);
  put_mac(b, sha);
  put32(b, spa);
  put_mac(b, tha);
  put32(b, tpa);
  return b;
}
}  // namespace

Bytes build_arp_request(const MacAddress& sha, std::uint32_t spa, std::uint32_t tpa) {
  const MacAddress broadcast = MacAddress::from_u64(0xffffffffffffULL);
  return build_ethernet(broadcast, sha, ethertype::kArp,
                        arp_body(ArpView::kRequest, sha, spa, MacAddress{}, tpa));
}

Bytes build_arp_reply(const MacAddress& sha, std::uint32_t spa, const MacAddress& tha,
                      std::uint32_t tpa) {
  return build_ethernet(tha, sha, ethertype::kArp, arp_body(ArpView::kReply, sha, spa, tha, tpa));
}

Bytes build_ipv4_udp(const UdpFrameSpec& s, ByteSpan payload) {
  const std::size_t udp_len = UdpView::kLen + payload.size();
  const std::size_t ip_len = Ipv4View::kMinLen + udp_len;
  Bytes ip;
  ip.reserve(ip_len);
  ip.push_back(0x45);
  ip.push_back(0);
  put16(ip, static_cast<std::uint16_t>(ip_len));
  put16(ip, 0);       // identification
  put16(ip, 0x4000);  // don't fragment
  ip.push_back(s.ttl);
  ip.push_back(ip_proto::kUdp);
  put16(ip, 0);  // checksum, below
  put32(ip, s.ip_src);
  put32(ip, s.ip_dst);
  set16(ip, 10, internet_checksum(ip));

  const std::size_t udp_at = ip.size();
  put16(ip, s.src_port);
  put16(ip, s.dst_port);
  put16(ip, static_cast<std::uint16_t>(udp_len));
  put16(ip, 0);
  ip.insert(ip.end(), payload.begin(), payload.end());
  // Pseudo header: addresses, protocol, UDP length.
  const std::uint32_t pseudo = (s.ip_src >> 16) + (s.ip_src & 0xffff) + (s.ip_dst >> 16) +
                               (s.ip_dst & 0xffff) + ip_proto::kUdp +
                               static_cast<std::uint32_t>(udp_len);
  std::uint16_t sum = internet_checksum(ByteSpan(ip).subspan(udp_at), pseudo);
  set16(ip, udp_at + 6, sum == 0 ? 0xffff : sum);

  std::optional<VlanTag> tag;
  if (s.vlan_vid) tag = VlanTag{ethertype::kVlan, static_cast<std::uint16_t>(*s.vlan_vid & 0x0fff)};
  return build_ethernet(s.eth_dst, s.eth_src, ethertype::kIpv4, ip,
                        tag ? std::span<const VlanTag>(&*tag, 1) : std::span<const VlanTag>());
}

Bytes build_ipv4_udp_frame(const UdpFrameSpec& s, std::size_t frame_len) {
  const std::size_t headers =
      kEthHeader + (s.vlan_vid ? 4 : 0) + Ipv4View::kMinLen + UdpView::kLen;
  const Bytes payload(frame_len > headers ? frame_len - headers : 0, 0);
  return build_ipv4_udp(s, payload);
}

}  // namespace tapflow::openflow::packet
