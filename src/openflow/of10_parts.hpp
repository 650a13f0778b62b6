// Internal pieces of the OpenFlow 1.0 codec shared by of10_*.cpp and their
// tests: port numbering, ofp_match <-> Match, actions, ofp_phy_port, stats.
#pragma once

#include <cstdint>
#include <optional>

#include "tapflow/openflow/messages.hpp"
#include "version_codecs.hpp"
#include "wire_io.hpp"

namespace tapflow::openflow::of10 {

inline constexpr std::size_t kMatchLen = 40;
inline constexpr std::size_t kPhyPortLen = 48;

// ---------------------------------------------------------------- ports
// 1.0 ports are 16 bit; the model uses 1.3 numbering. The reserved range
// 0xff00..0xffff (OFPP_MAX..OFPP_NONE) is 0xffffff00..0xffffffff in 1.3.
inline std::uint32_t port_from_wire(std::uint16_t p) {
  return p >= 0xff00 ? 0xffff0000u | p : p;
}
// nullopt for 0xff00..0xfffffeff, which 1.0 cannot spell.
inline std::optional<std::uint16_t> port_to_wire(std::uint32_t p) {
  if (p < 0xff00) return static_cast<std::uint16_t>(p);
  if (p >= port::kMax) return static_cast<std::uint16_t>(p & 0xffff);
  return std::nullopt;
}

// ---------------------------------------------------------------- ofp_match
// Wildcard bits of ofp_match.wildcards (OFPFW_*).
namespace wildcard {
inline constexpr std::uint32_t kInPort = 1u << 0, kDlVlan = 1u << 1, kDlSrc = 1u << 2,
                               kDlDst = 1u << 3, kDlType = 1u << 4, kNwProto = 1u << 5,
                               kTpSrc = 1u << 6, kTpDst = 1u << 7, kNwSrcShift = 8,
                               kNwDstShift = 14, kDlVlanPcp = 1u << 20, kNwTos = 1u << 21;
inline constexpr std::uint32_t kNwSrcMask = 0x3fu << kNwSrcShift;
inline constexpr std::uint32_t kNwDstMask = 0x3fu << kNwDstShift;
// Everything wildcarded, spelled as Open vSwitch does: netmasks as 32
// ignored bits (not 63), no bits above 21.
inline constexpr std::uint32_t kAllOvs = 0xffu | kDlVlanPcp | kNwTos | (32u << kNwSrcShift) |
                                         (32u << kNwDstShift);
}  // namespace wildcard

// The fields a 40-byte ofp_match stands for, in OXM field-number order.
// Fields 1.0 ignores (network fields without dl_type IPv4/ARP, transport
// ports without nw_proto TCP/UDP/SCTP/ICMP, a PCP on untagged frames) are
// left out, as a 1.0 switch ignores them. Sets of10_wire. Never fails.
Match match_from_wire(const Of10MatchBytes& wire);
// The ofp_match for `m`: of10_wire when it still decodes to m.fields, else
// built from the fields (BAD_MATCH/BAD_FIELD for fields 1.0 lacks,
// BAD_DL_ADDR_MASK/BAD_NW_ADDR_MASK/BAD_MASK for masks it cannot spell,
// BAD_VALUE for values it cannot hold, BAD_PREREQ where 1.0 would ignore the
// field, plus every check_match error).
Result<Of10MatchBytes> match_to_wire(const Match& m);

Match decode_match(wire::Reader& r);  // reads 40 bytes
Status encode_match(const Match& m, wire::Writer& w);

// ---------------------------------------------------------------- actions
// Reads actions until the reader is empty. Errors are BAD_ACTION/*.
ActionList decode_actions(wire::Reader& r);
Status encode_actions(const ActionList& actions, wire::Writer& w);

// FLOW_MOD / flow stats: 1.0 actions as the model's instructions (one
// ApplyActions, or none for an empty list) and back.
InstructionList actions_to_instructions(ActionList actions);
Status encode_instructions_as_actions(const InstructionList& instructions, wire::Writer& w);

// ---------------------------------------------------------------- ports
Port decode_phy_port(wire::Reader& r);  // reads 48 bytes
Status encode_phy_port(const Port& p, wire::Writer& w);

// ---------------------------------------------------------------- stats
MultipartRequest decode_stats_request(wire::Reader& r);
Status encode_stats_request(const MultipartRequest& m, wire::Writer& w);
MultipartReply decode_stats_reply(wire::Reader& r);
Status encode_stats_reply(const MultipartReply& m, wire::Writer& w);

// A model port as a 1.0 port, or the given error.
Result<std::uint16_t> wire_port(std::uint32_t p, std::uint16_t err_type, std::uint16_t err_code,
                                const char* what);

}  // namespace tapflow::openflow::of10
