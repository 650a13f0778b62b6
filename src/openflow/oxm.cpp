// The OXM field table, field constructors, and the match rules of check_match.
#include "tapflow/openflow/oxm.hpp"

#include <algorithm>
#include <array>

#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/match.hpp"

namespace tapflow::openflow {
namespace {

using namespace oxm_field;
constexpr std::uint16_t kB = oxm_class::kOpenflowBasic;

// Every OpenFlow 1.3 basic field, plus the Nicira (NXM) fields that Open
// vSwitch commonly sends so they print by name; any other field decodes too,
// as an unnamed TLV kept byte for byte.
constexpr std::array<OxmFieldInfo, 40 + 26> kFields = {{
    {kB, kInPort, "in_port", 4, false},
    {kB, kInPhyPort, "in_phy_port", 4, false},
    {kB, kMetadata, "metadata", 8, true},
    {kB, kEthDst, "eth_dst", 6, true},
    {kB, kEthSrc, "eth_src", 6, true},
    {kB, kEthType, "eth_type", 2, false},
    {kB, kVlanVid, "vlan_vid", 2, true},
    {kB, kVlanPcp, "vlan_pcp", 1, false},
    {kB, kIpDscp, "ip_dscp", 1, false},
    {kB, kIpEcn, "ip_ecn", 1, false},
    {kB, kIpProto, "ip_proto", 1, false},
    {kB, kIpv4Src, "ipv4_src", 4, true},
    {kB, kIpv4Dst, "ipv4_dst", 4, true},
    {kB, kTcpSrc, "tcp_src", 2, false},
    {kB, kTcpDst, "tcp_dst", 2, false},
    {kB, kUdpSrc, "udp_src", 2, false},
    {kB, kUdpDst, "udp_dst", 2, false},
    {kB, kSctpSrc, "sctp_src", 2, false},
    {kB, kSctpDst, "sctp_dst", 2, false},
    {kB, kIcmpv4Type, "icmpv4_type", 1, false},
    {kB, kIcmpv4Code, "icmpv4_code", 1, false},
    {kB, kArpOp, "arp_op", 2, false},
    {kB, kArpSpa, "arp_spa", 4, true},
    {kB, kArpTpa, "arp_tpa", 4, true},
    {kB, kArpSha, "arp_sha", 6, true},
    {kB, kArpTha, "arp_tha", 6, true},
    {kB, kIpv6Src, "ipv6_src", 16, true},
    {kB, kIpv6Dst, "ipv6_dst", 16, true},
    {kB, kIpv6Flabel, "ipv6_flabel", 4, true},
    {kB, kIcmpv6Type, "icmpv6_type", 1, false},
    {kB, kIcmpv6Code, "icmpv6_code", 1, false},
    {kB, kIpv6NdTarget, "ipv6_nd_target", 16, false},
    {kB, kIpv6NdSll, "ipv6_nd_sll", 6, false},
    {kB, kIpv6NdTll, "ipv6_nd_tll", 6, false},
    {kB, kMplsLabel, "mpls_label", 4, false},
    {kB, kMplsTc, "mpls_tc", 1, false},
    {kB, kMplsBos, "mpls_bos", 1, false},
    {kB, kPbbIsid, "pbb_isid", 3, true},
    {kB, kTunnelId, "tunnel_id", 8, true},
    {kB, kIpv6Exthdr, "ipv6_exthdr", 2, true},
    // Nicira extensible match, class 0x0001 (NXM_1).
    {oxm_class::kNxm1, 0, "reg0", 4, true},
    {oxm_class::kNxm1, 1, "reg1", 4, true},
    {oxm_class::kNxm1, 2, "reg2", 4, true},
    {oxm_class::kNxm1, 3, "reg3", 4, true},
    {oxm_class::kNxm1, 4, "reg4", 4, true},
    {oxm_class::kNxm1, 5, "reg5", 4, true},
    {oxm_class::kNxm1, 6, "reg6", 4, true},
    {oxm_class::kNxm1, 7, "reg7", 4, true},
    {oxm_class::kNxm1, 8, "reg8", 4, true},
    {oxm_class::kNxm1, 9, "reg9", 4, true},
    {oxm_class::kNxm1, 10, "reg10", 4, true},
    {oxm_class::kNxm1, 11, "reg11", 4, true},
    {oxm_class::kNxm1, 12, "reg12", 4, true},
    {oxm_class::kNxm1, 13, "reg13", 4, true},
    {oxm_class::kNxm1, 14, "reg14", 4, true},
    {oxm_class::kNxm1, 15, "reg15", 4, true},
    {oxm_class::kNxm1, 16, "tun_id", 8, true},
    {oxm_class::kNxm1, 31, "tun_ipv4_src", 4, true},
    {oxm_class::kNxm1, 32, "tun_ipv4_dst", 4, true},
    {oxm_class::kNxm1, 33, "pkt_mark", 4, true},
    {oxm_class::kNxm1, 37, "conj_id", 4, false},
    {oxm_class::kNxm1, 105, "ct_state", 4, true},
    {oxm_class::kNxm1, 106, "ct_zone", 2, false},
    {oxm_class::kNxm1, 107, "ct_mark", 4, true},
    {oxm_class::kNxm1, 108, "ct_label", 16, true},
    {kB, kPbbUca, "pbb_uca", 1, false},
}};

std::uint64_t be_uint(const ValueBytes& b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < b.size() && i < 8; ++i) v = (v << 8) | b[i];
  return v;
}

void put_be(ValueBytes& out, std::uint64_t v, std::size_t n) {
  out.resize(n);
  for (std::size_t i = n; i-- > 0;) {
    out[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

bool all_ones(const ValueBytes& m) {
  return std::all_of(m.begin(), m.end(), [](std::uint8_t b) { return b == 0xff; });
}

OxmField bytes_field(std::uint8_t field, std::span<const std::uint8_t> value) {
  OxmField f;
  f.field = field;
  f.value.assign(value.begin(), value.end());
  return f;
}

OxmField bytes_field_masked(std::uint8_t field, std::span<const std::uint8_t> value,
                            std::span<const std::uint8_t> mask) {
  OxmField f = bytes_field(field, value);
  f.mask.assign(mask.begin(), mask.end());
  // An all-ones mask is an exact match: spell it without a mask.
  if (all_ones(f.mask)) {
    f.mask.clear();
  } else {
    f.has_mask = true;
  }
  return f;
}

}  // namespace

std::uint64_t OxmField::value_uint() const { return be_uint(value); }
std::uint64_t OxmField::mask_uint() const { return be_uint(mask); }

std::size_t OxmField::wire_size() const {
  return 4 + (oxm_class == oxm_class::kExperimenter ? 4 : 0) + value.size() +
         (has_mask ? mask.size() : 0);
}

const OxmFieldInfo* oxm_field_info(std::uint16_t cls, std::uint8_t field) {
  // Basic fields are looked up on every match check: index them (7-bit ids).
  static const auto kBasic = [] {
    std::array<const OxmFieldInfo*, 128> t{};
    for (const auto& f : kFields) {
      if (f.oxm_class == kB) t[f.field & 0x7f] = &f;
    }
    return t;
  }();
  if (cls == kB) return field < kBasic.size() ? kBasic[field] : nullptr;
  for (const auto& f : kFields) {
    if (f.oxm_class == cls && f.field == field) return &f;
  }
  return nullptr;
}

const OxmFieldInfo* oxm_field_info(std::string_view name) {
  for (const auto& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace oxm {
OxmField uint_field(std::uint8_t field, std::uint64_t value, std::size_t nbytes) {
  OxmField f;
  f.field = field;
  put_be(f.value, value, nbytes);
  return f;
}
OxmField uint_field_masked(std::uint8_t field, std::uint64_t value, std::uint64_t mask,
                           std::size_t nbytes) {
  OxmField f = uint_field(field, value, nbytes);
  const std::uint64_t full = nbytes >= 8 ? ~0ULL : ((1ULL << (8 * nbytes)) - 1);
  if ((mask & full) != full) {
    f.has_mask = true;
    put_be(f.mask, mask, nbytes);
  }
  return f;
}
OxmField in_port(std::uint32_t port) { return uint_field(kInPort, port, 4); }
OxmField metadata(std::uint64_t value, std::uint64_t mask) {
  return uint_field_masked(kMetadata, value, mask, 8);
}
OxmField eth_dst(const MacAddress& mac) { return bytes_field(kEthDst, mac.octets); }
OxmField eth_dst(const MacAddress& mac, const MacAddress& mask) {
  return bytes_field_masked(kEthDst, mac.octets, mask.octets);
}
OxmField eth_src(const MacAddress& mac) { return bytes_field(kEthSrc, mac.octets); }
OxmField eth_type(std::uint16_t type) { return uint_field(kEthType, type, 2); }
OxmField vlan_vid(std::uint16_t vid) { return uint_field(kVlanVid, vid, 2); }
OxmField vlan_vid(std::uint16_t vid, std::uint16_t mask) {
  return uint_field_masked(kVlanVid, vid, mask, 2);
}
OxmField vlan_pcp(std::uint8_t pcp) { return uint_field(kVlanPcp, pcp, 1); }
OxmField ip_proto(std::uint8_t proto) { return uint_field(kIpProto, proto, 1); }
OxmField ipv4_src(std::uint32_t addr, std::uint32_t mask) {
  return uint_field_masked(kIpv4Src, addr, mask, 4);
}
OxmField ipv4_dst(std::uint32_t addr, std::uint32_t mask) {
  return uint_field_masked(kIpv4Dst, addr, mask, 4);
}
OxmField ipv6_src(std::span<const std::uint8_t, 16> addr) { return bytes_field(kIpv6Src, addr); }
OxmField ipv6_src(std::span<const std::uint8_t, 16> addr, std::span<const std::uint8_t, 16> mask) {
  return bytes_field_masked(kIpv6Src, addr, mask);
}
OxmField ipv6_dst(std::span<const std::uint8_t, 16> addr) { return bytes_field(kIpv6Dst, addr); }
OxmField ipv6_dst(std::span<const std::uint8_t, 16> addr, std::span<const std::uint8_t, 16> mask) {
  return bytes_field_masked(kIpv6Dst, addr, mask);
}
OxmField tcp_src(std::uint16_t p) { return uint_field(kTcpSrc, p, 2); }
OxmField tcp_dst(std::uint16_t p) { return uint_field(kTcpDst, p, 2); }
OxmField udp_src(std::uint16_t p) { return uint_field(kUdpSrc, p, 2); }
OxmField udp_dst(std::uint16_t p) { return uint_field(kUdpDst, p, 2); }
OxmField icmpv6_type(std::uint8_t t) { return uint_field(kIcmpv6Type, t, 1); }
OxmField arp_op(std::uint16_t op) { return uint_field(kArpOp, op, 2); }
OxmField arp_tpa(std::uint32_t addr, std::uint32_t mask) {
  return uint_field_masked(kArpTpa, addr, mask, 4);
}
}  // namespace oxm

// ------------------------------------------------------------------ Match

const OxmField* Match::find(std::uint8_t basic_field) const {
  for (const auto& f : fields) {
    if (f.is_basic(basic_field)) return &f;
  }
  return nullptr;
}

namespace {

// A prerequisite: field `needs` must be matched exactly with one of `values`
// (an empty list: merely present, with any value).
struct Prereq {
  std::uint8_t field;
  std::uint8_t needs;
  std::array<std::uint64_t, 2> values;
  std::size_t nvalues;
};

constexpr std::uint64_t kIp4 = 0x0800, kIp6 = 0x86dd, kArp = 0x0806;
constexpr std::array<Prereq, 33> kPrereqs = {{
    {kInPhyPort, kInPort, {}, 0},
    {kVlanPcp, kVlanVid, {}, 0},
    {kIpDscp, kEthType, {kIp4, kIp6}, 2},
    {kIpEcn, kEthType, {kIp4, kIp6}, 2},
    {kIpProto, kEthType, {kIp4, kIp6}, 2},
    {kIpv4Src, kEthType, {kIp4}, 1},
    {kIpv4Dst, kEthType, {kIp4}, 1},
    {kTcpSrc, kIpProto, {6}, 1},
    {kTcpDst, kIpProto, {6}, 1},
    {kUdpSrc, kIpProto, {17}, 1},
    {kUdpDst, kIpProto, {17}, 1},
    {kSctpSrc, kIpProto, {132}, 1},
    {kSctpDst, kIpProto, {132}, 1},
    {kIcmpv4Type, kIpProto, {1}, 1},
    {kIcmpv4Code, kIpProto, {1}, 1},
    {kArpOp, kEthType, {kArp}, 1},
    {kArpSpa, kEthType, {kArp}, 1},
    {kArpTpa, kEthType, {kArp}, 1},
    {kArpSha, kEthType, {kArp}, 1},
    {kArpTha, kEthType, {kArp}, 1},
    {kIpv6Src, kEthType, {kIp6}, 1},
    {kIpv6Dst, kEthType, {kIp6}, 1},
    {kIpv6Flabel, kEthType, {kIp6}, 1},
    {kIpv6Exthdr, kEthType, {kIp6}, 1},
    {kIcmpv6Type, kIpProto, {58}, 1},
    {kIcmpv6Code, kIpProto, {58}, 1},
    {kIpv6NdTarget, kIcmpv6Type, {135, 136}, 2},
    {kIpv6NdSll, kIcmpv6Type, {135}, 1},
    {kIpv6NdTll, kIcmpv6Type, {136}, 1},
    {kMplsLabel, kEthType, {0x8847, 0x8848}, 2},
    {kMplsTc, kEthType, {0x8847, 0x8848}, 2},
    {kMplsBos, kEthType, {0x8847, 0x8848}, 2},
    {kPbbIsid, kEthType, {0x88e7}, 1},
}};

}  // namespace

Status check_match(const Match& m) {
  using namespace bad_match;
  for (std::size_t i = 0; i < m.fields.size(); ++i) {
    const OxmField& f = m.fields[i];
    const OxmFieldInfo* info = oxm_field_info(f.oxm_class, f.field);
    if (info == nullptr) {
      if (f.oxm_class == oxm_class::kOpenflowBasic) {
        return make_error(error_type::kBadMatch, kBadField,
                          "unknown OXM basic field " + std::to_string(f.field));
      }
      continue;  // experimenter fields: the switch judges them
    }
    if (f.value.size() != info->length || (f.has_mask && f.mask.size() != info->length)) {
      return make_error(error_type::kBadMatch, kBadLen,
                        std::string(info->name) + " must be " + std::to_string(info->length) +
                            " bytes");
    }
    if (f.has_mask && !info->maskable) {
      return make_error(error_type::kBadMatch, kBadMask,
                        std::string(info->name) + " cannot be masked");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (m.fields[j].oxm_class == f.oxm_class && m.fields[j].field == f.field &&
          m.fields[j].experimenter == f.experimenter) {
        return make_error(error_type::kBadMatch, kDupField,
                          std::string(info->name) + " appears twice");
      }
    }
    if (f.oxm_class != oxm_class::kOpenflowBasic) continue;
    static const auto kPrereqOf = [] {
      std::array<const Prereq*, 128> t{};
      for (const auto& p : kPrereqs) t[p.field & 0x7f] = &p;
      return t;
    }();
    if (const Prereq* pp = f.field < kPrereqOf.size() ? kPrereqOf[f.field] : nullptr) {
      const Prereq& p = *pp;
      const OxmField* dep = m.find(p.needs);
      bool ok = dep != nullptr;
      if (ok && p.nvalues > 0) {
        ok = !dep->has_mask &&
             std::find(p.values.begin(), p.values.begin() + static_cast<std::ptrdiff_t>(p.nvalues),
                       dep->value_uint()) != p.values.begin() + static_cast<std::ptrdiff_t>(p.nvalues);
      }
      if (ok && p.field == kVlanPcp) ok = (dep->value_uint() & kVlanPresent) != 0;
      if (!ok) {
        return make_error(error_type::kBadMatch, kBadPrereq,
                          std::string(info->name) + " needs " +
                              std::string(oxm_field_info(kB, p.needs)->name) +
                              (p.nvalues > 0 ? " with a matching value" : ""));
      }
    }
  }
  return ok_status();
}

}  // namespace tapflow::openflow
