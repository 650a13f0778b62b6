// Read-only, bounds-checked views over the frames that PACKET_IN and
// PACKET_OUT carry (Ethernet, 802.1Q, ARP, IPv4, IPv6, ICMP, ICMPv6, TCP,
// UDP), parse_frame() to see what a frame holds, and small frame builders.
//
// A view is made only by its parse(), which checks that the fixed header (and
// the header length the header claims) lies inside the span; its accessors
// then read only inside that checked region. Views borrow the frame's bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow::packet {

using ByteSpan = std::span<const std::uint8_t>;
using Ipv6Address = std::array<std::uint8_t, 16>;

namespace ethertype {
inline constexpr std::uint16_t kIpv4 = 0x0800, kArp = 0x0806, kVlan = 0x8100, kQinQ = 0x88a8,
                               kIpv6 = 0x86dd;
}
namespace ip_proto {
inline constexpr std::uint8_t kHopByHop = 0, kIcmp = 1, kTcp = 6, kUdp = 17, kRouting = 43,
                              kFragment = 44, kIcmpv6 = 58, kNoNext = 59, kDestOpts = 60;
}
namespace icmpv6_type {
inline constexpr std::uint8_t kRouterSolicit = 133, kRouterAdvert = 134, kNeighborSolicit = 135,
                              kNeighborAdvert = 136, kRedirect = 137;
}

// One 802.1Q / 802.1ad tag: the TPID that introduced it and its TCI.
struct VlanTag {
  std::uint16_t tpid = ethertype::kVlan;
  std::uint16_t tci = 0;
  std::uint16_t vid() const { return tci & 0x0fff; }
  std::uint8_t pcp() const { return static_cast<std::uint8_t>(tci >> 13); }
  bool dei() const { return (tci & 0x1000) != 0; }
  friend bool operator==(const VlanTag&, const VlanTag&) = default;
};

// Ethernet II with up to two stacked VLAN tags (0x8100 or 0x88a8 TPIDs).
// A third tag is left in the payload (ethertype() then says 0x8100).
class EthernetView {
 public:
  static constexpr std::size_t kMaxTags = 2;
  static std::optional<EthernetView> parse(ByteSpan frame);

  MacAddress dst() const;
  MacAddress src() const;
  std::size_t vlan_count() const { return tags_; }
  VlanTag vlan(std::size_t i) const;  // i < vlan_count()
  std::uint16_t ethertype() const;    // the type after the tags
  std::size_t header_len() const { return 14 + 4 * tags_; }
  ByteSpan payload() const { return frame_.subspan(header_len()); }

 private:
  EthernetView(ByteSpan f, std::size_t tags) : frame_(f), tags_(tags) {}
  ByteSpan frame_;
  std::size_t tags_;
};

// ARP for IPv4 over Ethernet (htype 1, ptype 0x0800, hlen 6, plen 4) only.
class ArpView {
 public:
  static constexpr std::size_t kLen = 28;
  static constexpr std::uint16_t kRequest = 1, kReply = 2;
  static std::optional<ArpView> parse(ByteSpan bytes);

  std::uint16_t op() const;
  MacAddress sha() const;
  std::uint32_t spa() const;
  MacAddress tha() const;
  std::uint32_t tpa() const;

 private:
  explicit ArpView(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// IPv4 with options. parse() requires version 4, IHL >= 5, the whole header
// (options included) inside the span and total_length >= header length.
// A total_length beyond the span (a frame cut by miss_send_len) is accepted
// and reported by truncated(); Ethernet padding after total_length is not
// part of payload().
class Ipv4View {
 public:
  static constexpr std::size_t kMinLen = 20;
  static std::optional<Ipv4View> parse(ByteSpan bytes);

  std::size_t header_len() const;
  std::uint8_t dscp() const;
  std::uint8_t ecn() const;
  std::uint16_t total_length() const;
  std::uint16_t identification() const;
  bool dont_fragment() const;
  bool more_fragments() const;
  std::uint16_t fragment_offset() const;  // in 8-byte units
  // A later fragment carries no transport header.
  bool is_later_fragment() const { return fragment_offset() != 0; }
  std::uint8_t ttl() const;
  std::uint8_t protocol() const;
  std::uint16_t checksum() const;
  std::uint32_t src() const;  // host order
  std::uint32_t dst() const;
  ByteSpan options() const;
  ByteSpan payload() const;
  bool truncated() const { return total_length() > b_.size(); }
  // True when the header checksum verifies.
  bool checksum_ok() const;

 private:
  explicit Ipv4View(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// The fixed IPv6 header. next_header() is the fixed header's; parse_frame()
// walks the extension headers after it.
class Ipv6View {
 public:
  static constexpr std::size_t kLen = 40;
  static std::optional<Ipv6View> parse(ByteSpan bytes);

  std::uint8_t traffic_class() const;
  std::uint32_t flow_label() const;
  std::uint16_t payload_length() const;
  std::uint8_t next_header() const;
  std::uint8_t hop_limit() const;
  Ipv6Address src() const;
  Ipv6Address dst() const;
  ByteSpan payload() const;  // up to payload_length, cut at the span's end
  bool truncated() const { return kLen + payload_length() > b_.size(); }

 private:
  explicit Ipv6View(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// ICMP (v4): type, code, checksum and the 4-byte rest-of-header.
class IcmpView {
 public:
  static constexpr std::size_t kMinLen = 8;
  static constexpr std::uint8_t kEchoReply = 0, kUnreachable = 3, kEchoRequest = 8,
                                kTimeExceeded = 11;
  static std::optional<IcmpView> parse(ByteSpan bytes);

  std::uint8_t type() const;
  std::uint8_t code() const;
  std::uint16_t checksum() const;
  std::uint32_t rest_of_header() const;
  ByteSpan payload() const { return b_.subspan(kMinLen); }

 private:
  explicit IcmpView(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// ICMPv6, with Neighbor Discovery: for NS/NA the target address and the
// source/target link-layer address options.
class Icmpv6View {
 public:
  static constexpr std::size_t kMinLen = 4;
  static std::optional<Icmpv6View> parse(ByteSpan bytes);

  std::uint8_t type() const;
  std::uint8_t code() const;
  std::uint16_t checksum() const;
  ByteSpan body() const { return b_.subspan(kMinLen); }

  bool is_nd() const { return type() >= icmpv6_type::kRouterSolicit && type() <= icmpv6_type::kRedirect; }
  // NS (135) / NA (136) / redirect (137): the target address, if present.
  std::optional<Ipv6Address> nd_target() const;
  // NA flags byte (R, S, O in the top bits), if an NA.
  std::optional<std::uint8_t> na_flags() const;
  // The source (type 1) / target (type 2) link-layer address option of an ND
  // message. Nothing if absent, or if the options are malformed (a zero
  // length, or one running past the end) before it is found.
  std::optional<MacAddress> nd_sll() const { return nd_lla_option(1); }
  std::optional<MacAddress> nd_tll() const { return nd_lla_option(2); }
  // True when the ND options area is well formed (always true if not ND).
  bool nd_options_ok() const;

 private:
  explicit Icmpv6View(ByteSpan b) : b_(b) {}
  std::size_t nd_options_offset() const;  // 0 if no options area
  std::optional<MacAddress> nd_lla_option(std::uint8_t type) const;
  ByteSpan b_;
};

// TCP. parse() requires data offset >= 5 and the whole header in the span.
class TcpView {
 public:
  static constexpr std::size_t kMinLen = 20;
  static constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08,
                                kAck = 0x10, kUrg = 0x20;
  static std::optional<TcpView> parse(ByteSpan bytes);

  std::uint16_t src_port() const;
  std::uint16_t dst_port() const;
  std::uint32_t seq() const;
  std::uint32_t ack() const;
  std::size_t header_len() const;
  std::uint8_t flags() const;
  std::uint16_t window() const;
  std::uint16_t checksum() const;
  std::uint16_t urgent() const;
  ByteSpan options() const { return b_.subspan(kMinLen, header_len() - kMinLen); }
  ByteSpan payload() const { return b_.subspan(header_len()); }

 private:
  explicit TcpView(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// UDP. parse() requires length >= 8; payload() ends at length or the span.
class UdpView {
 public:
  static constexpr std::size_t kLen = 8;
  static std::optional<UdpView> parse(ByteSpan bytes);

  std::uint16_t src_port() const;
  std::uint16_t dst_port() const;
  std::uint16_t length() const;
  std::uint16_t checksum() const;
  ByteSpan payload() const;
  bool truncated() const { return length() > b_.size(); }

 private:
  explicit UdpView(ByteSpan b) : b_(b) {}
  ByteSpan b_;
};

// What parse_frame() found. Offsets are from the frame's start; a layer that
// is absent has no view and no offset. `problem` says why parsing stopped
// before the transport layer, if it did for a reason other than an unknown
// protocol (which is not a problem: the frame simply has no more known layers).
struct ParsedFrame {
  enum class Problem { kNone, kTruncated, kMalformed };

  std::optional<EthernetView> eth;
  std::optional<ArpView> arp;
  std::optional<Ipv4View> ipv4;
  std::optional<Ipv6View> ipv6;
  std::optional<IcmpView> icmp;
  std::optional<Icmpv6View> icmpv6;
  std::optional<TcpView> tcp;
  std::optional<UdpView> udp;

  std::optional<std::size_t> l3_offset;  // ARP / IP header
  std::optional<std::size_t> l4_offset;  // ICMP / ICMPv6 / TCP / UDP header
  // The transport protocol number: IPv4 protocol, or IPv6 after extension
  // headers (hop-by-hop, routing, destination options, fragment).
  std::optional<std::uint8_t> ip_proto;

  Problem problem = Problem::kNone;
  std::string_view detail;  // a fixed text naming the problem
};

// Parses Ethernet / VLAN / ARP / IPv4 / IPv6 / ICMP / ICMPv6 / TCP / UDP as
// far as the frame allows. Never reads outside `frame`.
ParsedFrame parse_frame(ByteSpan frame);

// ---------------------------------------------------------------- builders
// For tests and benchmarks. Addresses are host order. Frames are padded with
// zeros to the 60-byte Ethernet minimum (no FCS).

// The 16-bit one's complement sum used by IPv4, ICMP, TCP and UDP.
std::uint16_t internet_checksum(ByteSpan bytes, std::uint32_t initial = 0);

Bytes build_ethernet(const MacAddress& dst, const MacAddress& src, std::uint16_t ethertype,
                     ByteSpan payload, std::span<const VlanTag> vlans = {});
// An ARP request "who has tpa? tell spa" from sha, broadcast.
Bytes build_arp_request(const MacAddress& sha, std::uint32_t spa, std::uint32_t tpa);
// An ARP reply "spa is at sha" to (tha, tpa).
Bytes build_arp_reply(const MacAddress& sha, std::uint32_t spa, const MacAddress& tha,
                      std::uint32_t tpa);

struct UdpFrameSpec {
  MacAddress eth_dst;
  MacAddress eth_src;
  std::uint32_t ip_src = 0;
  std::uint32_t ip_dst = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t ttl = 64;
  std::optional<std::uint16_t> vlan_vid;  // adds one 802.1Q tag
};
// Ethernet / IPv4 / UDP with valid IP and UDP checksums.
Bytes build_ipv4_udp(const UdpFrameSpec& spec, ByteSpan payload);
// The same, with a payload of zeros sized so the frame is `frame_len` bytes
// (at least the headers' size).
Bytes build_ipv4_udp_frame(const UdpFrameSpec& spec, std::size_t frame_len);

}  // namespace tapflow::openflow::packet
