// OpenFlow 1.0 ofp_match (40 bytes, wildcard bits) <-> the OXM field list.
#include <algorithm>
#include <bit>
#include <string>

#include "of10_parts.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::openflow::of10 {
namespace {

using namespace oxm_field;

constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthArp = 0x0806;
constexpr std::uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoSctp = 132;

// The ofp_match fields, host order.
struct RawMatch {
  std::uint32_t wildcards = wildcard::kAllOvs;
  std::uint16_t in_port = 0;
  MacAddress dl_src, dl_dst;
  std::uint16_t dl_vlan = 0;
  std::uint8_t dl_vlan_pcp = 0;
  std::uint16_t dl_type = 0;
  std::uint8_t nw_tos = 0;
  std::uint8_t nw_proto = 0;
  std::uint32_t nw_src = 0, nw_dst = 0;
  std::uint16_t tp_src = 0, tp_dst = 0;

  bool exact(std::uint32_t bit) const { return (wildcards & bit) == 0; }
};

RawMatch parse(const Of10MatchBytes& b) {
  wire::DecodeState st;
  wire::Reader r(b, st);
  RawMatch m;
  m.wildcards = r.u32();
  m.in_port = r.u16();
  m.dl_src = r.mac();
  m.dl_dst = r.mac();
  m.dl_vlan = r.u16();
  m.dl_vlan_pcp = r.u8();
  r.skip(1);
  m.dl_type = r.u16();
  m.nw_tos = r.u8();
  m.nw_proto = r.u8();
  r.skip(2);
  m.nw_src = r.u32();
  m.nw_dst = r.u32();
  m.tp_src = r.u16();
  m.tp_dst = r.u16();
  return m;
}

// Written straight into the array (no temporary buffer): encoding a 1.0
// FLOW_MOD from a reused message allocates nothing.
Of10MatchBytes serialize(const RawMatch& m) {
  Of10MatchBytes b{};  // pad bytes stay zero
  std::size_t at = 0;
  auto put = [&b, &at](std::uint32_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) b[at++] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  auto put_mac = [&b, &at](const MacAddress& mac) {
    at = static_cast<std::size_t>(std::copy(mac.octets.begin(), mac.octets.end(),
                                            b.begin() + static_cast<std::ptrdiff_t>(at)) -
                                  b.begin());
  };
  put(m.wildcards, 4);
  put(m.in_port, 2);
  put_mac(m.dl_src);
  put_mac(m.dl_dst);
  put(m.dl_vlan, 2);
  put(m.dl_vlan_pcp, 1);
  at += 1;
  put(m.dl_type, 2);
  put(m.nw_tos, 1);
  put(m.nw_proto, 1);
  at += 2;
  put(m.nw_src, 4);
  put(m.nw_dst, 4);
  put(m.tp_src, 2);
  put(m.tp_dst, 2);
  return b;
}

// A netmask from the 6-bit count of ignored low bits; nullopt when the
// field is fully wildcarded (32 or more, up to 63, are all legal spellings).
std::optional<std::uint32_t> netmask(std::uint32_t wildcards, std::uint32_t shift) {
  const std::uint32_t bits = (wildcards >> shift) & 0x3f;
  if (bits >= 32) return std::nullopt;
  return bits == 0 ? 0xffffffffu : 0xffffffffu << bits;
}

void add_masked_ipv4(Match& m, std::uint8_t field, std::uint32_t addr, std::uint32_t wildcards,
                     std::uint32_t shift) {
  if (auto mask = netmask(wildcards, shift)) {
    m.fields.push_back(oxm::uint_field_masked(field, addr & *mask, *mask, 4));
  }
}

OfError match_error(std::uint16_t code, std::string detail) {
  return make_error(error_type::kBadMatch, code, "OpenFlow 1.0 match: " + std::move(detail));
}

std::string field_name(const OxmField& f) {
  if (const OxmFieldInfo* info = oxm_field_info(f.oxm_class, f.field)) {
    return std::string(info->name);
  }
  return "field " + std::to_string(f.oxm_class) + ":" + std::to_string(f.field);
}

bool all_bytes(const ValueBytes& v, std::uint8_t b) {
  return std::all_of(v.begin(), v.end(), [b](std::uint8_t x) { return x == b; });
}

// Ignored low bits for an IPv4 mask: 0 exact .. 32 any; -1 if not a prefix.
int ignored_bits(std::uint32_t mask) {
  const std::uint32_t inv = ~mask;
  if ((inv & (inv + 1)) != 0) return -1;
  return 32 - std::popcount(mask);
}

// Writes an OXM IPv4 (or ARP address) field as nw_src/nw_dst + CIDR bits.
Status put_ipv4(const OxmField& f, std::uint32_t& addr, RawMatch& raw, std::uint32_t shift) {
  const std::uint32_t value = static_cast<std::uint32_t>(f.value_uint());
  const std::uint32_t mask = f.has_mask ? static_cast<std::uint32_t>(f.mask_uint()) : 0xffffffffu;
  const int bits = ignored_bits(mask);
  if (bits < 0) {
    return match_error(bad_match::kBadNwAddrMask,
                       field_name(f) + " mask is not a prefix, which 1.0 cannot spell");
  }
  addr = value & mask;
  raw.wildcards = (raw.wildcards & ~(0x3fu << shift)) | (static_cast<std::uint32_t>(bits) << shift);
  return ok_status();
}

Status put_mac(const OxmField& f, MacAddress& mac, RawMatch& raw, std::uint32_t bit) {
  if (f.has_mask && !all_bytes(f.mask, 0xff)) {
    if (all_bytes(f.mask, 0x00)) return ok_status();  // matches anything: stays wildcarded
    return match_error(bad_match::kBadDlAddrMask,
                       field_name(f) + " is masked; 1.0 matches whole Ethernet addresses only");
  }
  std::copy(f.value.begin(), f.value.end(), mac.octets.begin());
  raw.wildcards &= ~bit;
  return ok_status();
}

Result<Of10MatchBytes> build(const Match& m) {
  if (Status st = check_match(m); !st) return st.error();

  const OxmField* eth_type = m.find(kEthType);
  const std::uint64_t type = eth_type != nullptr ? eth_type->value_uint() : 0;
  const OxmField* vlan_pcp = m.find(kVlanPcp);

  RawMatch raw;
  for (const OxmField& f : m.fields) {
    if (f.oxm_class != oxm_class::kOpenflowBasic) {
      return match_error(bad_match::kBadField, field_name(f) + " has no OpenFlow 1.0 equivalent");
    }
    // check_match has verified lengths, mask permissions, duplicates and the
    // 1.3 prerequisites; what is left are the things 1.0 cannot say.
    const bool needs_ipv4 = f.field == kIpDscp || f.field == kIpProto;
    if (needs_ipv4 && type != kEthIpv4) {
      return match_error(bad_match::kBadPrereq,
                         field_name(f) + " needs eth_type 0x0800 in OpenFlow 1.0");
    }
    Status st = ok_status();
    switch (f.field) {
      case kInPort: {
        auto p = port_to_wire(static_cast<std::uint32_t>(f.value_uint()));
        if (!p) return match_error(bad_match::kBadValue, "in_port has no 16-bit spelling");
        raw.in_port = *p;
        raw.wildcards &= ~wildcard::kInPort;
        break;
      }
      case kEthDst:
        st = put_mac(f, raw.dl_dst, raw, wildcard::kDlDst);
        break;
      case kEthSrc:
        st = put_mac(f, raw.dl_src, raw, wildcard::kDlSrc);
        break;
      case kEthType:
        raw.dl_type = static_cast<std::uint16_t>(f.value_uint());
        raw.wildcards &= ~wildcard::kDlType;
        break;
      case kVlanVid: {
        const auto v = static_cast<std::uint16_t>(f.value_uint());
        if (f.has_mask) {
          // Only "any tagged frame" with a PCP: 1.0 says that as dl_vlan
          // wildcarded and dl_vlan_pcp exact.
          if (v != kVlanPresent || f.mask_uint() != kVlanPresent || vlan_pcp == nullptr) {
            return match_error(bad_match::kBadMask, "masked vlan_vid has no 1.0 spelling");
          }
          break;
        }
        if (v == kVlanNone) {
          raw.dl_vlan = kVlanNone10;
        } else if ((v & ~0x1fffu) == 0 && (v & kVlanPresent) != 0) {
          raw.dl_vlan = static_cast<std::uint16_t>(v & 0x0fff);
        } else {
          return match_error(bad_match::kBadValue,
                             "vlan_vid must be OFPVID_NONE or have OFPVID_PRESENT set");
        }
        raw.wildcards &= ~wildcard::kDlVlan;
        break;
      }
      case kVlanPcp:
        raw.dl_vlan_pcp = static_cast<std::uint8_t>(f.value_uint());
        raw.wildcards &= ~wildcard::kDlVlanPcp;
        break;
      case kIpDscp: {
        const std::uint64_t dscp = f.value_uint();
        if (dscp > 63) return match_error(bad_match::kBadValue, "ip_dscp above 63");
        raw.nw_tos = static_cast<std::uint8_t>(dscp << 2);
        raw.wildcards &= ~wildcard::kNwTos;
        break;
      }
      case kIpProto:
        raw.nw_proto = static_cast<std::uint8_t>(f.value_uint());
        raw.wildcards &= ~wildcard::kNwProto;
        break;
      case kIpv4Src:
      case kArpSpa:
        st = put_ipv4(f, raw.nw_src, raw, wildcard::kNwSrcShift);
        break;
      case kIpv4Dst:
      case kArpTpa:
        st = put_ipv4(f, raw.nw_dst, raw, wildcard::kNwDstShift);
        break;
      case kArpOp: {
        const std::uint64_t op = f.value_uint();
        if (op > 0xff) return match_error(bad_match::kBadValue, "arp_op above 255 (1.0: 8 bits)");
        raw.nw_proto = static_cast<std::uint8_t>(op);
        raw.wildcards &= ~wildcard::kNwProto;
        break;
      }
      case kTcpSrc:
      case kUdpSrc:
      case kSctpSrc:
      case kIcmpv4Type:
        raw.tp_src = static_cast<std::uint16_t>(f.value_uint());
        raw.wildcards &= ~wildcard::kTpSrc;
        break;
      case kTcpDst:
      case kUdpDst:
      case kSctpDst:
      case kIcmpv4Code:
        raw.tp_dst = static_cast<std::uint16_t>(f.value_uint());
        raw.wildcards &= ~wildcard::kTpDst;
        break;
      default:
        return match_error(bad_match::kBadField,
                           field_name(f) + " has no OpenFlow 1.0 equivalent");
    }
    if (!st) return st.error();
  }
  return serialize(raw);
}

}  // namespace

Match match_from_wire(const Of10MatchBytes& wire) {
  const RawMatch raw = parse(wire);
  Match m;
  if (raw.exact(wildcard::kInPort)) m.fields.push_back(oxm::in_port(port_from_wire(raw.in_port)));
  if (raw.exact(wildcard::kDlDst)) m.fields.push_back(oxm::eth_dst(raw.dl_dst));
  if (raw.exact(wildcard::kDlSrc)) m.fields.push_back(oxm::eth_src(raw.dl_src));
  const bool has_type = raw.exact(wildcard::kDlType);
  if (has_type) m.fields.push_back(oxm::eth_type(raw.dl_type));

  const bool pcp = raw.exact(wildcard::kDlVlanPcp);
  const auto pcp_value = static_cast<std::uint8_t>(raw.dl_vlan_pcp & 0x07);
  if (raw.exact(wildcard::kDlVlan)) {
    if (raw.dl_vlan == kVlanNone10) {
      m.fields.push_back(oxm::vlan_vid(kVlanNone));  // untagged: a PCP means nothing
    } else {
      m.fields.push_back(oxm::vlan_vid(static_cast<std::uint16_t>(kVlanPresent | (raw.dl_vlan & 0x0fff))));
      if (pcp) m.fields.push_back(oxm::vlan_pcp(pcp_value));
    }
  } else if (pcp) {
    // A PCP with any VID: any tagged frame with that priority.
    m.fields.push_back(oxm::vlan_vid(kVlanPresent, kVlanPresent));
    m.fields.push_back(oxm::vlan_pcp(pcp_value));
  }

  const bool ipv4 = has_type && raw.dl_type == kEthIpv4;
  const bool arp = has_type && raw.dl_type == kEthArp;
  const bool proto = raw.exact(wildcard::kNwProto);
  if (ipv4) {
    if (raw.exact(wildcard::kNwTos)) {
      m.fields.push_back(oxm::uint_field(kIpDscp, raw.nw_tos >> 2, 1));
    }
    if (proto) m.fields.push_back(oxm::ip_proto(raw.nw_proto));
    add_masked_ipv4(m, kIpv4Src, raw.nw_src, raw.wildcards, wildcard::kNwSrcShift);
    add_masked_ipv4(m, kIpv4Dst, raw.nw_dst, raw.wildcards, wildcard::kNwDstShift);
    if (proto) {
      std::uint8_t src = 0, dst = 0, width = 2;
      switch (raw.nw_proto) {
        case kProtoTcp: src = kTcpSrc; dst = kTcpDst; break;
        case kProtoUdp: src = kUdpSrc; dst = kUdpDst; break;
        case kProtoSctp: src = kSctpSrc; dst = kSctpDst; break;
        case kProtoIcmp: src = kIcmpv4Type; dst = kIcmpv4Code; width = 1; break;
        default: width = 0; break;
      }
      if (width != 0) {
        const std::uint64_t mask = width == 1 ? 0xff : 0xffff;
        if (raw.exact(wildcard::kTpSrc)) m.fields.push_back(oxm::uint_field(src, raw.tp_src & mask, width));
        if (raw.exact(wildcard::kTpDst)) m.fields.push_back(oxm::uint_field(dst, raw.tp_dst & mask, width));
      }
    }
  } else if (arp) {
    if (proto) m.fields.push_back(oxm::arp_op(raw.nw_proto));
    add_masked_ipv4(m, kArpSpa, raw.nw_src, raw.wildcards, wildcard::kNwSrcShift);
    add_masked_ipv4(m, kArpTpa, raw.nw_dst, raw.wildcards, wildcard::kNwDstShift);
  }
  m.of10_wire = wire;
  return m;
}

Result<Of10MatchBytes> match_to_wire(const Match& m) {
  if (m.of10_wire && match_from_wire(*m.of10_wire).fields == m.fields) return *m.of10_wire;
  return build(m);
}

Match decode_match(wire::Reader& r) {
  if (r.remaining() < kMatchLen) {
    r.fail(error_type::kBadMatch, bad_match::kBadLen, "ofp_match needs 40 bytes");
    return {};
  }
  auto s = r.bytes(kMatchLen);
  Of10MatchBytes b{};
  std::copy(s.begin(), s.end(), b.begin());
  return match_from_wire(b);
}

Status encode_match(const Match& m, wire::Writer& w) {
  auto b = match_to_wire(m);
  if (!b) return b.error();
  w.bytes(*b);
  return ok_status();
}

Result<std::uint16_t> wire_port(std::uint32_t p, std::uint16_t err_type, std::uint16_t err_code,
                                const char* what) {
  if (auto v = port_to_wire(p)) return *v;
  return make_error(err_type, err_code,
                    std::string(what) + " " + std::to_string(p) +
                        " has no OpenFlow 1.0 (16-bit) spelling");
}

}  // namespace tapflow::openflow::of10
