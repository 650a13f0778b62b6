// OpenFlow 1.0 actions (ofp_action_*) <-> the version-neutral Action.
#include <string>
#include <type_traits>

#include "of10_parts.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::openflow::of10 {
namespace {

// OFPAT_* of OpenFlow 1.0.
namespace at {
inline constexpr std::uint16_t kOutput = 0, kSetVlanVid = 1, kSetVlanPcp = 2, kStripVlan = 3,
                               kSetDlSrc = 4, kSetDlDst = 5, kSetNwSrc = 6, kSetNwDst = 7,
                               kSetNwTos = 8, kSetTpSrc = 9, kSetTpDst = 10, kEnqueue = 11,
                               kVendor = 0xffff;
}

// The fixed wire size of an action type; 0 for an unknown type; the vendor
// action is at least 8 bytes.
std::size_t action_size(std::uint16_t type) {
  switch (type) {
    case at::kSetDlSrc:
    case at::kSetDlDst:
    case at::kEnqueue:
      return 16;
    case at::kVendor:
      return 8;
    default:
      return type <= at::kSetTpDst ? 8 : 0;
  }
}

OfError action_error(std::uint16_t code, std::string detail) {
  return make_error(error_type::kBadAction, code, "OpenFlow 1.0 action: " + std::move(detail));
}

Action decode_one(std::uint16_t type, wire::Reader& a) {
  using namespace action;
  switch (type) {
    case at::kOutput: {
      Output o;
      o.port = port_from_wire(a.u16());
      o.max_len = a.u16();
      return o;
    }
    case at::kSetVlanVid: {
      const std::size_t off = a.offset();
      SetVlanVid s{a.u16()};
      a.skip(2);
      if (s.vid > 0x0fff) a.fail_at(off, error_type::kBadAction, bad_action::kBadArgument, "VLAN id above 4095");
      return s;
    }
    case at::kSetVlanPcp: {
      const std::size_t off = a.offset();
      SetVlanPcp s{a.u8()};
      a.skip(3);
      if (s.pcp > 7) a.fail_at(off, error_type::kBadAction, bad_action::kBadArgument, "VLAN PCP above 7");
      return s;
    }
    case at::kStripVlan:
      a.skip(4);
      return PopVlan{};
    case at::kSetDlSrc:
    case at::kSetDlDst: {
      const MacAddress mac = a.mac();
      a.skip(6);
      return SetField{type == at::kSetDlSrc ? oxm::eth_src(mac) : oxm::eth_dst(mac)};
    }
    case at::kSetNwSrc:
    case at::kSetNwDst: {
      const std::uint32_t addr = a.u32();
      return SetField{type == at::kSetNwSrc ? oxm::ipv4_src(addr) : oxm::ipv4_dst(addr)};
    }
    case at::kSetNwTos: {
      SetNwTos s{a.u8()};
      a.skip(3);
      return s;
    }
    case at::kSetTpSrc: {
      SetTpSrc s{a.u16()};
      a.skip(2);
      return s;
    }
    case at::kSetTpDst: {
      SetTpDst s{a.u16()};
      a.skip(2);
      return s;
    }
    case at::kEnqueue: {
      Enqueue e;
      e.port = port_from_wire(a.u16());
      a.skip(6);
      e.queue_id = a.u32();
      return e;
    }
    default: {  // kVendor
      action::Experimenter e;
      e.experimenter = a.u32();
      e.data = a.rest_vector();
      return e;
    }
  }
}

// Header of an action of `len` bytes.
void header(wire::Writer& w, std::uint16_t type, std::uint16_t len) {
  w.u16(type);
  w.u16(len);
}

Status port16(std::uint32_t p, wire::Writer& w, const char* what) {
  auto v = wire_port(p, error_type::kBadAction, bad_action::kBadOutPort, what);
  if (!v) return v.error();
  w.u16(*v);
  return ok_status();
}

Status encode_set_vlan_vid(std::uint16_t vid, wire::Writer& w) {
  if (vid > 0x0fff) return action_error(bad_action::kBadArgument, "VLAN id above 4095");
  header(w, at::kSetVlanVid, 8);
  w.u16(vid);
  w.zeros(2);
  return ok_status();
}

Status encode_set_vlan_pcp(std::uint8_t pcp, wire::Writer& w) {
  if (pcp > 7) return action_error(bad_action::kBadArgument, "VLAN PCP above 7");
  header(w, at::kSetVlanPcp, 8);
  w.u8(pcp);
  w.zeros(3);
  return ok_status();
}

void encode_u16_action(std::uint16_t type, std::uint16_t v, wire::Writer& w) {
  header(w, type, 8);
  w.u16(v);
  w.zeros(2);
}

// SET_FIELD has 1.0 forms for the fields 1.0 can rewrite, exact values only.
Status encode_set_field(const OxmField& f, wire::Writer& w) {
  using namespace oxm_field;
  const OxmFieldInfo* info = oxm_field_info(f.oxm_class, f.field);
  if (f.oxm_class != oxm_class::kOpenflowBasic || info == nullptr) {
    return action_error(bad_action::kBadSetType, "set_field of a field 1.0 cannot rewrite");
  }
  const std::string name(info->name);
  if (f.value.size() != info->length) {
    return action_error(bad_action::kBadSetLen, "set_field " + name + " of the wrong length");
  }
  if (f.has_mask) {
    return action_error(bad_action::kBadSetArgument,
                        "masked set_field " + name + " has no 1.0 form");
  }
  const std::uint64_t v = f.value_uint();
  switch (f.field) {
    case kEthSrc:
    case kEthDst:
      header(w, f.field == kEthSrc ? at::kSetDlSrc : at::kSetDlDst, 16);
      w.bytes(std::span<const std::uint8_t>(f.value.data(), f.value.size()));
      w.zeros(6);
      return ok_status();
    case kIpv4Src:
    case kIpv4Dst:
      header(w, f.field == kIpv4Src ? at::kSetNwSrc : at::kSetNwDst, 8);
      w.u32(static_cast<std::uint32_t>(v));
      return ok_status();
    case kTcpSrc:
    case kUdpSrc:
    case kSctpSrc:
      encode_u16_action(at::kSetTpSrc, static_cast<std::uint16_t>(v), w);
      return ok_status();
    case kTcpDst:
    case kUdpDst:
    case kSctpDst:
      encode_u16_action(at::kSetTpDst, static_cast<std::uint16_t>(v), w);
      return ok_status();
    case kVlanVid:
      // 1.3 set_field vlan_vid may carry OFPVID_PRESENT; the VID is below it.
      if ((v & ~std::uint64_t{0x1fff}) != 0) {
        return action_error(bad_action::kBadSetArgument, "set_field vlan_vid above 4095");
      }
      return encode_set_vlan_vid(static_cast<std::uint16_t>(v & 0x0fff), w);
    case kVlanPcp:
      return encode_set_vlan_pcp(static_cast<std::uint8_t>(v), w);
    case kIpDscp:
      if (v > 63) return action_error(bad_action::kBadSetArgument, "set_field ip_dscp above 63");
      header(w, at::kSetNwTos, 8);
      w.u8(static_cast<std::uint8_t>(v << 2));
      w.zeros(3);
      return ok_status();
    default:
      return action_error(bad_action::kBadSetType,
                          "set_field " + name + " has no OpenFlow 1.0 action");
  }
}

Status encode_one(const Action& action, wire::Writer& w) {
  return std::visit(
      [&w](const auto& a) -> Status {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::Output>) {
          header(w, at::kOutput, 8);
          if (Status st = port16(a.port, w, "output port"); !st) return st;
          w.u16(a.max_len);
        } else if constexpr (std::is_same_v<T, action::SetVlanVid>) {
          return encode_set_vlan_vid(a.vid, w);
        } else if constexpr (std::is_same_v<T, action::SetVlanPcp>) {
          return encode_set_vlan_pcp(a.pcp, w);
        } else if constexpr (std::is_same_v<T, action::PopVlan>) {
          header(w, at::kStripVlan, 8);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::SetField>) {
          return encode_set_field(a.field, w);
        } else if constexpr (std::is_same_v<T, action::SetNwTos>) {
          header(w, at::kSetNwTos, 8);
          w.u8(a.tos);
          w.zeros(3);
        } else if constexpr (std::is_same_v<T, action::SetTpSrc>) {
          encode_u16_action(at::kSetTpSrc, a.port, w);
        } else if constexpr (std::is_same_v<T, action::SetTpDst>) {
          encode_u16_action(at::kSetTpDst, a.port, w);
        } else if constexpr (std::is_same_v<T, action::Enqueue>) {
          header(w, at::kEnqueue, 16);
          if (Status st = port16(a.port, w, "enqueue port"); !st) return st;
          w.zeros(6);
          w.u32(a.queue_id);
        } else if constexpr (std::is_same_v<T, action::Experimenter>) {
          const std::size_t len = 8 + a.data.size();
          if (len % 8 != 0 || len > 0xffff) {
            return action_error(bad_action::kBadLen,
                                "vendor action data must make the action a multiple of 8 bytes");
          }
          header(w, at::kVendor, static_cast<std::uint16_t>(len));
          w.u32(a.experimenter);
          w.bytes(a.data);
        } else {
          return action_error(bad_action::kBadType,
                              "this action has no OpenFlow 1.0 form (1.0 has no groups, TTL, "
                              "MPLS, PBB, push VLAN or set queue actions)");
        }
        return ok_status();
      },
      action);
}

}  // namespace

ActionList decode_actions(wire::Reader& r) {
  ActionList out;
  while (!r.empty() && r.ok()) {
    const std::size_t at = r.offset();
    const std::uint16_t type = r.u16();
    const std::uint16_t len = r.u16();
    if (!r.ok()) break;
    if (len < 8 || len % 8 != 0) {
      r.fail_at(at + 2, error_type::kBadAction, bad_action::kBadLen,
                "action length " + std::to_string(len) + " is not a positive multiple of 8");
      break;
    }
    if (len - 4u > r.remaining()) {
      r.fail_at(at + 2, error_type::kBadAction, bad_action::kBadLen,
                "action of length " + std::to_string(len) + " runs past the action list");
      break;
    }
    const std::size_t size = action_size(type);
    if (size == 0) {
      r.fail_at(at, error_type::kBadAction, bad_action::kBadType,
                "unknown OpenFlow 1.0 action type " + std::to_string(type));
      break;
    }
    if (type != at::kVendor && len != size) {
      r.fail_at(at + 2, error_type::kBadAction, bad_action::kBadLen,
                "action type " + std::to_string(type) + " must be " + std::to_string(size) +
                    " bytes, not " + std::to_string(len));
      break;
    }
    wire::Reader a = r.sub(len - 4u, error_type::kBadAction, bad_action::kBadLen);
    out.push_back(decode_one(type, a));
  }
  return out;
}

Status encode_actions(const ActionList& actions, wire::Writer& w) {
  for (const Action& a : actions) {
    if (Status st = encode_one(a, w); !st) return st;
  }
  return ok_status();
}

InstructionList actions_to_instructions(ActionList actions) {
  InstructionList out;
  if (!actions.empty()) out.push_back(instruction::ApplyActions{std::move(actions)});
  return out;
}

Status encode_instructions_as_actions(const InstructionList& instructions, wire::Writer& w) {
  if (instructions.empty()) return ok_status();
  const auto* apply = std::get_if<instruction::ApplyActions>(&instructions.front());
  if (instructions.size() != 1 || apply == nullptr) {
    return make_error(error_type::kBadInstruction, bad_instruction::kUnsupInst,
                      "OpenFlow 1.0 carries only an action list: the instructions must be "
                      "empty or a single APPLY_ACTIONS");
  }
  return encode_actions(apply->actions, w);
}

}  // namespace tapflow::openflow::of10
