// OXM fields: the OpenFlow 1.3 match/set-field TLVs, also the version-neutral
// match representation (the 1.0 codec converts ofp_match to and from them).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tapflow/openflow/constants.hpp"
#include "tapflow/openflow/result.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow {

namespace oxm_class {
inline constexpr std::uint16_t kNxm0 = 0x0000;
inline constexpr std::uint16_t kNxm1 = 0x0001;
inline constexpr std::uint16_t kOpenflowBasic = 0x8000;
inline constexpr std::uint16_t kExperimenter = 0xffff;
}  // namespace oxm_class

// OpenFlow basic field numbers (OFPXMT_OFB_*).
namespace oxm_field {
inline constexpr std::uint8_t kInPort = 0, kInPhyPort = 1, kMetadata = 2, kEthDst = 3,
                              kEthSrc = 4, kEthType = 5, kVlanVid = 6, kVlanPcp = 7,
                              kIpDscp = 8, kIpEcn = 9, kIpProto = 10, kIpv4Src = 11,
                              kIpv4Dst = 12, kTcpSrc = 13, kTcpDst = 14, kUdpSrc = 15,
                              kUdpDst = 16, kSctpSrc = 17, kSctpDst = 18, kIcmpv4Type = 19,
                              kIcmpv4Code = 20, kArpOp = 21, kArpSpa = 22, kArpTpa = 23,
                              kArpSha = 24, kArpTha = 25, kIpv6Src = 26, kIpv6Dst = 27,
                              kIpv6Flabel = 28, kIcmpv6Type = 29, kIcmpv6Code = 30,
                              kIpv6NdTarget = 31, kIpv6NdSll = 32, kIpv6NdTll = 33,
                              kMplsLabel = 34, kMplsTc = 35, kMplsBos = 36, kPbbIsid = 37,
                              kTunnelId = 38, kIpv6Exthdr = 39, kPbbUca = 41;
}  // namespace oxm_field

// One OXM TLV. `value` and `mask` hold the field's bytes in network order, as
// on the wire. For class 0xffff, `experimenter` is the experimenter id and
// value/mask exclude it.
struct OxmField {
  std::uint16_t oxm_class = oxm_class::kOpenflowBasic;
  std::uint8_t field = 0;
  bool has_mask = false;
  std::uint32_t experimenter = 0;
  ValueBytes value;
  ValueBytes mask;

  // The value (or mask) as an unsigned integer, for fields of up to 8 bytes.
  std::uint64_t value_uint() const;
  std::uint64_t mask_uint() const;
  bool is_basic(std::uint8_t f) const {
    return oxm_class == oxm_class::kOpenflowBasic && field == f;
  }
  // Encoded size in bytes (4-byte header + payload).
  std::size_t wire_size() const;
  friend bool operator==(const OxmField&, const OxmField&) = default;
};

// What the codec knows about a field: name (as Ryu and ovs-ofctl spell it),
// payload length without mask, whether a mask is allowed.
struct OxmFieldInfo {
  std::uint16_t oxm_class;
  std::uint8_t field;
  std::string_view name;
  std::uint8_t length;
  bool maskable;
};

// Field info for a (class, field) pair, or nullptr if unknown to the codec.
const OxmFieldInfo* oxm_field_info(std::uint16_t oxm_class, std::uint8_t field);
const OxmFieldInfo* oxm_field_info(std::string_view name);

// Constructors for the fields a router uses. Integer values are host order.
namespace oxm {
OxmField uint_field(std::uint8_t field, std::uint64_t value, std::size_t nbytes);
OxmField uint_field_masked(std::uint8_t field, std::uint64_t value, std::uint64_t mask,
                           std::size_t nbytes);
OxmField in_port(std::uint32_t port);
OxmField metadata(std::uint64_t value, std::uint64_t mask = ~0ULL);
OxmField eth_dst(const MacAddress& mac);
OxmField eth_dst(const MacAddress& mac, const MacAddress& mask);
OxmField eth_src(const MacAddress& mac);
OxmField eth_type(std::uint16_t type);
OxmField vlan_vid(std::uint16_t vid_with_present_bit);
OxmField vlan_vid(std::uint16_t vid, std::uint16_t mask);
OxmField vlan_pcp(std::uint8_t pcp);
OxmField ip_proto(std::uint8_t proto);
OxmField ipv4_src(std::uint32_t addr, std::uint32_t mask = 0xffffffff);
OxmField ipv4_dst(std::uint32_t addr, std::uint32_t mask = 0xffffffff);
OxmField ipv6_src(std::span<const std::uint8_t, 16> addr);
OxmField ipv6_src(std::span<const std::uint8_t, 16> addr, std::span<const std::uint8_t, 16> mask);
OxmField ipv6_dst(std::span<const std::uint8_t, 16> addr);
OxmField ipv6_dst(std::span<const std::uint8_t, 16> addr, std::span<const std::uint8_t, 16> mask);
OxmField tcp_src(std::uint16_t p);
OxmField tcp_dst(std::uint16_t p);
OxmField udp_src(std::uint16_t p);
OxmField udp_dst(std::uint16_t p);
OxmField icmpv6_type(std::uint8_t t);
OxmField arp_op(std::uint16_t op);
OxmField arp_tpa(std::uint32_t addr, std::uint32_t mask = 0xffffffff);
}  // namespace oxm

}  // namespace tapflow::openflow
