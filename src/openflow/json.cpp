// Ryu-shaped JSON (to_jsondict) for the OpenFlow model. Lengths Ryu shows
// ("len", "length", "actions_len") are computed from the encoded sizes of the
// parts, so they agree with what encode() writes.
#include "tapflow/openflow/json.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>

#include "of10_parts.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::openflow {
namespace {

using nlohmann::json;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr std::size_t pad8(std::size_t n) { return (n + 7) / 8 * 8; }

json tagged(const char* cls, json body) {
  json j = json::object();
  j[cls] = std::move(body);
  return j;
}

json b64(const Bytes& b) { return base64_encode(b.data(), b.size()); }

// Strings from the wire (port names, descriptions) may hold any byte; JSON
// text must be UTF-8. Valid sequences pass, others become U+FFFD.
std::string utf8_clean(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80) n = 1;
    else if ((c & 0xe0) == 0xc0 && c >= 0xc2) n = 2;
    else if ((c & 0xf0) == 0xe0) n = 3;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4) n = 4;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

// OpenFlow 1.0 port numbers are 16 bit; the model holds 1.3 numbers.
std::uint32_t port10(std::uint32_t p) { return p >= port::kMax ? (p & 0xffff) : p; }

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// ---------------------------------------------------------------- OXM

json oxm_value_json(OxmValueKind kind, const ValueBytes& v) {
  switch (kind) {
    case OxmValueKind::kMac: {
      MacAddress m;
      std::copy(v.begin(), v.end(), m.octets.begin());
      return m.to_string();
    }
    case OxmValueKind::kIpv4:
      return ipv4_to_string(be32(v.data()));
    case OxmValueKind::kIpv6:
      return ipv6_to_string(v.data());
    case OxmValueKind::kInteger:
      if (v.size() <= 8) {
        std::uint64_t x = 0;
        for (auto b : v) x = (x << 8) | b;
        return x;
      }
      // Wider than JSON integers go here (ct_label): hex text.
      return "0x" + to_hex(v.data(), v.size());
    case OxmValueKind::kBytes:
      break;
  }
  return base64_encode(v.data(), v.size());
}

json oxm_json(const OxmField& f) {
  const OxmFieldView v = view_oxm(f);
  json tlv = json::object();
  tlv["field"] = v.name;
  tlv["value"] = oxm_value_json(v.kind, v.value);
  tlv["mask"] = f.has_mask ? oxm_value_json(v.kind, v.mask) : json(nullptr);
  return tagged("OXMTlv", std::move(tlv));
}

std::size_t match13_length(const Match& m) {
  std::size_t n = 4;
  for (const auto& f : m.fields) n += f.wire_size();
  return n;
}

json match13_json(const Match& m) {
  json fields = json::array();
  for (const auto& f : m.fields) fields.push_back(oxm_json(f));
  return tagged("OFPMatch",
                {{"length", match13_length(m)}, {"oxm_fields", std::move(fields)}, {"type", 1}});
}

// ---------------------------------------------------------------- OF1.0 match

namespace fw = of10::wildcard;  // OFPFW_* bits

struct Of10Match {
  std::uint32_t wildcards = fw::kAllOvs;
  std::uint16_t in_port = 0;
  MacAddress dl_src, dl_dst;
  std::uint16_t dl_vlan = 0;
  std::uint8_t dl_vlan_pcp = 0;
  std::uint16_t dl_type = 0;
  std::uint8_t nw_tos = 0, nw_proto = 0;
  std::uint32_t nw_src = 0, nw_dst = 0;
  std::uint16_t tp_src = 0, tp_dst = 0;
};

Of10Match of10_from_wire(const Of10MatchBytes& b) {
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); };
  Of10Match m;
  m.wildcards = be32(&b[0]);
  m.in_port = u16(4);
  std::copy(b.begin() + 6, b.begin() + 12, m.dl_src.octets.begin());
  std::copy(b.begin() + 12, b.begin() + 18, m.dl_dst.octets.begin());
  m.dl_vlan = u16(18);
  m.dl_vlan_pcp = b[20];
  m.dl_type = u16(22);
  m.nw_tos = b[24];
  m.nw_proto = b[25];
  m.nw_src = be32(&b[28]);
  m.nw_dst = be32(&b[32]);
  m.tp_src = u16(36);
  m.tp_dst = u16(38);
  return m;
}

// Wildcard bits for an IPv4 mask: 32 minus the prefix length (a non-prefix
// mask cannot be said in 1.0; its leading ones are kept).
std::uint32_t nw_wild_bits(const OxmField& f) {
  if (!f.has_mask || f.mask.size() != 4) return 0;
  const std::uint32_t mask = be32(f.mask.data());
  std::uint32_t ones = 0;
  while (ones < 32 && (mask & (0x80000000u >> ones)) != 0) ++ones;
  return 32 - ones;
}

// Only for matches the 1.0 encoder refuses (fields or masks 1.0 cannot say):
// the nearest ofp_match, keeping what 1.0 can express.
Of10Match of10_from_fields(const Match& match) {
  Of10Match m;
  auto clear = [&m](std::uint32_t bit) { m.wildcards &= ~bit; };
  auto set_nw = [&m](std::uint32_t shift, std::uint32_t bits) {
    m.wildcards = (m.wildcards & ~(0x3fu << shift)) | (bits << shift);
  };
  for (const auto& f : match.fields) {
    if (f.oxm_class != oxm_class::kOpenflowBasic) continue;
    const auto v = f.value_uint();
    switch (f.field) {
      case oxm_field::kInPort:
        m.in_port = static_cast<std::uint16_t>(port10(static_cast<std::uint32_t>(v)));
        clear(fw::kInPort);
        break;
      case oxm_field::kEthSrc:
        m.dl_src = MacAddress::from_u64(v);
        clear(fw::kDlSrc);
        break;
      case oxm_field::kEthDst:
        m.dl_dst = MacAddress::from_u64(v);
        clear(fw::kDlDst);
        break;
      case oxm_field::kVlanVid:
        m.dl_vlan = (v & kVlanPresent) != 0 ? static_cast<std::uint16_t>(v & 0x0fff) : kVlanNone10;
        clear(fw::kDlVlan);
        break;
      case oxm_field::kVlanPcp:
        m.dl_vlan_pcp = static_cast<std::uint8_t>(v);
        clear(fw::kDlVlanPcp);
        break;
      case oxm_field::kEthType:
        m.dl_type = static_cast<std::uint16_t>(v);
        clear(fw::kDlType);
        break;
      case oxm_field::kIpDscp:
        m.nw_tos = static_cast<std::uint8_t>(v << 2);
        clear(fw::kNwTos);
        break;
      case oxm_field::kIpProto:
      case oxm_field::kArpOp:
        m.nw_proto = static_cast<std::uint8_t>(v);
        clear(fw::kNwProto);
        break;
      case oxm_field::kIpv4Src:
      case oxm_field::kArpSpa:
        m.nw_src = static_cast<std::uint32_t>(v);
        set_nw(fw::kNwSrcShift, nw_wild_bits(f));
        break;
      case oxm_field::kIpv4Dst:
      case oxm_field::kArpTpa:
        m.nw_dst = static_cast<std::uint32_t>(v);
        set_nw(fw::kNwDstShift, nw_wild_bits(f));
        break;
      case oxm_field::kTcpSrc:
      case oxm_field::kUdpSrc:
      case oxm_field::kIcmpv4Type:
        m.tp_src = static_cast<std::uint16_t>(v);
        clear(fw::kTpSrc);
        break;
      case oxm_field::kTcpDst:
      case oxm_field::kUdpDst:
      case oxm_field::kIcmpv4Code:
        m.tp_dst = static_cast<std::uint16_t>(v);
        clear(fw::kTpDst);
        break;
      default:
        break;
    }
  }
  return m;
}

json match10_json(const Match& match) {
  // What the 1.0 encoder writes (the decoded bytes when they still hold).
  const auto wire = of10::match_to_wire(match);
  const Of10Match m = wire.ok() ? of10_from_wire(*wire) : of10_from_fields(match);
  return tagged("OFPMatch", {{"wildcards", m.wildcards},
                             {"in_port", m.in_port},
                             {"dl_src", m.dl_src.to_string()},
                             {"dl_dst", m.dl_dst.to_string()},
                             {"dl_vlan", m.dl_vlan},
                             {"dl_vlan_pcp", m.dl_vlan_pcp},
                             {"dl_type", m.dl_type},
                             {"nw_tos", m.nw_tos},
                             {"nw_proto", m.nw_proto},
                             {"nw_src", ipv4_to_string(m.nw_src)},
                             {"nw_dst", ipv4_to_string(m.nw_dst)},
                             {"tp_src", m.tp_src},
                             {"tp_dst", m.tp_dst}});
}

// ---------------------------------------------------------------- actions

struct NiciraName {
  std::uint16_t subtype;
  const char* name;
};
// Ryu's class names (ryu/ofproto/nx_actions.py) for the subtypes Open vSwitch
// defines (NXAST_*); only the name is used, the body stays opaque.
constexpr std::array<NiciraName, 41> kNiciraNames = {{
    {1, "NXActionResubmit"},         {2, "NXActionSetTunnel"},
    {4, "NXActionSetQueue"},         {5, "NXActionPopQueue"},
    {6, "NXActionRegMove"},          {7, "NXActionRegLoad"},
    {8, "NXActionNote"},             {9, "NXActionSetTunnel64"},
    {10, "NXActionMultipath"},       {12, "NXActionBundle"},
    {13, "NXActionBundleLoad"},      {14, "NXActionResubmitTable"},
    {15, "NXActionOutputReg"},       {16, "NXActionLearn"},
    {17, "NXActionExit"},            {18, "NXActionDecTtl"},
    {19, "NXActionFinTimeout"},      {20, "NXActionController"},
    {21, "NXActionDecTtlCntIds"},    {22, "NXActionWriteMetadata"},
    {23, "NXActionPushMpls"},        {24, "NXActionPopMpls"},
    {25, "NXActionSetMplsTtl"},      {26, "NXActionDecMplsTtl"},
    {27, "NXActionStackPush"},       {28, "NXActionStackPop"},
    {29, "NXActionSample"},          {30, "NXActionSetMplsLabel"},
    {31, "NXActionSetMplsTc"},       {32, "NXActionOutputReg2"},
    {33, "NXActionRegLoad2"},        {34, "NXActionConjunction"},
    {35, "NXActionCT"},              {36, "NXActionNAT"},
    {37, "NXActionController2"},     {38, "NXActionSample2"},
    {39, "NXActionOutputTrunc"},     {41, "NXActionSample3"},
    {42, "NXActionClone"},           {43, "NXActionCTClear"},
    {44, "NXActionResubmitTableCT"},
}};

// Encoded size of an action in OpenFlow 1.3.
std::size_t action13_size(const Action& a) {
  return std::visit(Overloaded{
                        [](const action::Output&) -> std::size_t { return 16; },
                        [](const action::SetField& s) -> std::size_t {
                          return pad8(4 + s.field.wire_size());
                        },
                        [](const action::Experimenter& e) -> std::size_t {
                          return 8 + e.data.size();
                        },
                        [](const action::Enqueue&) -> std::size_t { return 16; },
                        [](const auto&) -> std::size_t { return 8; },
                    },
                    a);
}

std::size_t actions13_size(const ActionList& l) {
  std::size_t n = 0;
  for (const auto& a : l) n += action13_size(a);
  return n;
}

// Encoded size of an action in OpenFlow 1.0 (ofp_action_*): SET_DL_* and
// ENQUEUE are 16 bytes, the rest 8, vendor actions 8 plus their body.
std::size_t action10_size(const Action& a) {
  return std::visit(Overloaded{
                        [](const action::SetField& s) -> std::size_t {
                          return s.field.is_basic(oxm_field::kEthSrc) ||
                                         s.field.is_basic(oxm_field::kEthDst)
                                     ? 16
                                     : 8;
                        },
                        [](const action::Experimenter& e) -> std::size_t {
                          return 8 + e.data.size();
                        },
                        [](const action::Enqueue&) -> std::size_t { return 16; },
                        [](const auto&) -> std::size_t { return 8; },
                    },
                    a);
}

// Nicira actions: name, ids and subtype; the rest of the body as base64.
json nicira_json(const action::Experimenter& e, std::uint8_t version) {
  json j = json::object();
  std::uint16_t subtype = 0;
  Bytes rest;
  if (e.data.size() >= 2) {
    subtype = static_cast<std::uint16_t>((e.data[0] << 8) | e.data[1]);
    rest.assign(e.data.begin() + 2, e.data.end());
  } else {
    rest = e.data;
  }
  j["subtype"] = subtype;
  j["data"] = b64(rest);
  if (version == kVersion10) {
    j["vendor"] = e.experimenter;
  } else {
    j["experimenter"] = e.experimenter;
    j["len"] = 8 + e.data.size();
    j["type"] = 0xffff;
  }
  return tagged(nicira_action_name(subtype), std::move(j));
}

json action10_json(const Action& a) {
  return std::visit(
      Overloaded{
          [](const action::Output& o) {
            return tagged("OFPActionOutput", {{"port", port10(o.port)}, {"max_len", o.max_len}});
          },
          [](const action::SetVlanVid& s) {
            return tagged("OFPActionVlanVid", {{"vlan_vid", s.vid}});
          },
          [](const action::SetVlanPcp& s) {
            return tagged("OFPActionVlanPcp", {{"vlan_pcp", s.pcp}});
          },
          [](const action::PopVlan&) { return tagged("OFPActionStripVlan", json::object()); },
          [](const action::SetField& s) {
            const auto& f = s.field;
            if (f.is_basic(oxm_field::kEthSrc) || f.is_basic(oxm_field::kEthDst)) {
              return tagged(f.field == oxm_field::kEthSrc ? "OFPActionSetDlSrc" : "OFPActionSetDlDst",
                            {{"dl_addr", oxm_value_json(oxm_value_kind(f), f.value)}});
            }
            if (f.is_basic(oxm_field::kIpv4Src) || f.is_basic(oxm_field::kIpv4Dst)) {
              return tagged(
                  f.field == oxm_field::kIpv4Src ? "OFPActionSetNwSrc" : "OFPActionSetNwDst",
                  {{"nw_addr", oxm_value_json(oxm_value_kind(f), f.value)}});
            }
            // Not expressible in 1.0; shown as the 1.3 action without len/type.
            return tagged("OFPActionSetField", {{"field", oxm_json(f)}});
          },
          [](const action::SetNwTos& s) { return tagged("OFPActionSetNwTos", {{"tos", s.tos}}); },
          [](const action::SetTpSrc& s) { return tagged("OFPActionSetTpSrc", {{"tp", s.port}}); },
          [](const action::SetTpDst& s) { return tagged("OFPActionSetTpDst", {{"tp", s.port}}); },
          [](const action::Enqueue& e) {
            return tagged("OFPActionEnqueue", {{"port", port10(e.port)}, {"queue_id", e.queue_id}});
          },
          [](const action::Experimenter& e) {
            if (e.experimenter == kNiciraExperimenter) return nicira_json(e, kVersion10);
            return tagged("OFPActionVendor", {{"vendor", e.experimenter}, {"data", b64(e.data)}});
          },
          // 1.3-only actions in a 1.0 message (cannot be encoded): 1.3 names.
          [](const auto& other) {
            json j = to_json(Action{other}, kVersion13);
            for (auto& item : j.items()) {
              item.value().erase("len");
              item.value().erase("type");
            }
            return j;
          },
      },
      a);
}

json action13_json(const Action& a) {
  const std::size_t len = action13_size(a);
  auto with = [len](const char* cls, std::uint16_t type, json body = json::object()) {
    body["len"] = len;
    body["type"] = type;
    return tagged(cls, std::move(body));
  };
  return std::visit(
      Overloaded{
          [&](const action::Output& o) {
            return with("OFPActionOutput", 0, {{"port", o.port}, {"max_len", o.max_len}});
          },
          [&](const action::CopyTtlOut&) { return with("OFPActionCopyTtlOut", 11); },
          [&](const action::CopyTtlIn&) { return with("OFPActionCopyTtlIn", 12); },
          [&](const action::SetMplsTtl& s) {
            return with("OFPActionSetMplsTtl", 15, {{"mpls_ttl", s.ttl}});
          },
          [&](const action::DecMplsTtl&) { return with("OFPActionDecMplsTtl", 16); },
          [&](const action::PushVlan& p) {
            return with("OFPActionPushVlan", 17, {{"ethertype", p.ethertype}});
          },
          [&](const action::PopVlan&) { return with("OFPActionPopVlan", 18); },
          [&](const action::PushMpls& p) {
            return with("OFPActionPushMpls", 19, {{"ethertype", p.ethertype}});
          },
          [&](const action::PopMpls& p) {
            return with("OFPActionPopMpls", 20, {{"ethertype", p.ethertype}});
          },
          [&](const action::SetQueue& s) {
            return with("OFPActionSetQueue", 21, {{"queue_id", s.queue_id}});
          },
          [&](const action::Group& g) {
            return with("OFPActionGroup", 22, {{"group_id", g.group_id}});
          },
          [&](const action::SetNwTtl& s) {
            return with("OFPActionSetNwTtl", 23, {{"nw_ttl", s.ttl}});
          },
          [&](const action::DecNwTtl&) { return with("OFPActionDecNwTtl", 24); },
          [&](const action::SetField& s) {
            return with("OFPActionSetField", 25, {{"field", oxm_json(s.field)}});
          },
          [&](const action::PushPbb& p) {
            return with("OFPActionPushPbb", 26, {{"ethertype", p.ethertype}});
          },
          [&](const action::PopPbb&) { return with("OFPActionPopPbb", 27); },
          [&](const action::Experimenter& e) {
            if (e.experimenter == kNiciraExperimenter) return nicira_json(e, kVersion13);
            return with("OFPActionExperimenterUnknown", 0xffff,
                        {{"experimenter", e.experimenter}, {"data", b64(e.data)}});
          },
          // 1.0-only actions in a 1.3 message (cannot be encoded): 1.0 names.
          [&](const auto& other) { return action10_json(Action{other}); },
      },
      a);
}

json actions_json(const ActionList& l, std::uint8_t version) {
  json arr = json::array();
  for (const auto& a : l) arr.push_back(to_json(a, version));
  return arr;
}

// ---------------------------------------------------------------- instructions

std::size_t instruction13_size(const Instruction& i) {
  return std::visit(Overloaded{
                        [](const instruction::WriteMetadata&) -> std::size_t { return 24; },
                        [](const instruction::WriteActions& w) -> std::size_t {
                          return 8 + actions13_size(w.actions);
                        },
                        [](const instruction::ApplyActions& a) -> std::size_t {
                          return 8 + actions13_size(a.actions);
                        },
                        [](const instruction::Experimenter& e) -> std::size_t {
                          return 8 + e.data.size();
                        },
                        [](const auto&) -> std::size_t { return 8; },
                    },
                    i);
}

std::size_t instructions13_size(const InstructionList& l) {
  std::size_t n = 0;
  for (const auto& i : l) n += instruction13_size(i);
  return n;
}

json instruction13_json(const Instruction& i) {
  const std::size_t len = instruction13_size(i);
  auto with = [len](const char* cls, std::uint16_t type, json body) {
    body["len"] = len;
    body["type"] = type;
    return tagged(cls, std::move(body));
  };
  return std::visit(
      Overloaded{
          [&](const instruction::GotoTable& g) {
            return with("OFPInstructionGotoTable", 1, {{"table_id", g.table_id}});
          },
          [&](const instruction::WriteMetadata& w) {
            return with("OFPInstructionWriteMetadata", 2,
                        {{"metadata", w.metadata}, {"metadata_mask", w.mask}});
          },
          [&](const instruction::WriteActions& w) {
            return with("OFPInstructionActions", 3, {{"actions", actions_json(w.actions, kVersion13)}});
          },
          [&](const instruction::ApplyActions& a) {
            return with("OFPInstructionActions", 4, {{"actions", actions_json(a.actions, kVersion13)}});
          },
          [&](const instruction::ClearActions&) {
            return with("OFPInstructionActions", 5, {{"actions", json::array()}});
          },
          [&](const instruction::Meter& m) {
            return with("OFPInstructionMeter", 6, {{"meter_id", m.meter_id}});
          },
          [&](const instruction::Experimenter& e) {
            return with("OFPInstructionExperimenter", 0xffff,
                        {{"experimenter", e.experimenter}, {"data", b64(e.data)}});
          },
      },
      i);
}

json instructions13_json(const InstructionList& l) {
  json arr = json::array();
  for (const auto& i : l) arr.push_back(instruction13_json(i));
  return arr;
}

// OpenFlow 1.0 carries an action list where 1.3 has instructions.
ActionList flat_actions(const InstructionList& l) {
  ActionList out;
  for (const auto& i : l) {
    if (const auto* a = std::get_if<instruction::ApplyActions>(&i)) {
      out.insert(out.end(), a->actions.begin(), a->actions.end());
    }
  }
  return out;
}

// ---------------------------------------------------------------- common parts

struct Ctx {
  std::uint8_t version;
  bool v10() const { return version == kVersion10; }
  json port(std::uint32_t p) const { return v10() ? port10(p) : p; }
  json match(const Match& m) const { return v10() ? match10_json(m) : match13_json(m); }
};

json port_json(const Ctx& c, const Port& p) {
  json j = {{"port_no", c.port(p.port_no)}, {"hw_addr", p.hw_addr.to_string()},
            {"name", utf8_clean(p.name)},   {"config", p.config},
            {"state", p.state},             {"curr", p.curr},
            {"advertised", p.advertised},   {"supported", p.supported},
            {"peer", p.peer}};
  if (c.v10()) return tagged("OFPPhyPort", std::move(j));
  j["curr_speed"] = p.curr_speed;
  j["max_speed"] = p.max_speed;
  return tagged("OFPPort", std::move(j));
}

std::size_t bucket13_size(const Bucket& b) { return 16 + actions13_size(b.actions); }

json bucket_json(const Bucket& b) {
  return tagged("OFPBucket", {{"actions", actions_json(b.actions, kVersion13)},
                              {"len", bucket13_size(b)},
                              {"watch_group", b.watch_group},
                              {"watch_port", b.watch_port},
                              {"weight", b.weight}});
}

json buckets_json(const std::vector<Bucket>& l) {
  json arr = json::array();
  for (const auto& b : l) arr.push_back(bucket_json(b));
  return arr;
}

std::size_t band_size(const MeterBand& b) {
  return 16 + (b.type == meter_band_type::kExperimenter ? b.data.size() : 0);
}

json bands_json(const std::vector<MeterBand>& l) {
  json arr = json::array();
  for (const auto& b : l) {
    json j = {{"burst_size", b.burst_size}, {"len", band_size(b)}, {"rate", b.rate},
              {"type", b.type}};
    const char* cls = "OFPMeterBandUnknown";
    if (b.type == meter_band_type::kDrop) {
      cls = "OFPMeterBandDrop";
    } else if (b.type == meter_band_type::kDscpRemark) {
      cls = "OFPMeterBandDscpRemark";
      j["prec_level"] = b.prec_level;
    } else if (b.type == meter_band_type::kExperimenter) {
      cls = "OFPMeterBandExperimenter";
      j["experimenter"] = b.experimenter;
      if (!b.data.empty()) j["data"] = b64(b.data);
    }
    arr.push_back(tagged(cls, std::move(j)));
  }
  return arr;
}

std::size_t queue_prop_size(const QueueProperty& p) {
  if (p.property == 1 || p.property == 2) return 16;
  if (p.property == 0xffff) return 16 + p.data.size();
  return 8 + p.data.size();
}

json queue_json(const Ctx& c, const PacketQueue& q) {
  json props = json::array();
  std::size_t len = c.v10() ? 8 : 16;
  for (const auto& p : q.properties) {
    const std::size_t plen = queue_prop_size(p);
    len += plen;
    json j = {{"len", plen}, {"property", p.property}};
    const char* cls = "OFPQueuePropUnknown";
    if (p.property == 1 || p.property == 2) {
      cls = p.property == 1 ? "OFPQueuePropMinRate" : "OFPQueuePropMaxRate";
      j["rate"] = p.rate;
    } else if (p.property == 0xffff) {
      cls = "OFPQueuePropExperimenter";
      j["experimenter"] = p.experimenter;
      // Ryu shows this one as a list of byte values, not base64.
      j["data"] = json(std::vector<int>(p.data.begin(), p.data.end()));
    } else {
      j["data"] = b64(p.data);
    }
    props.push_back(tagged(cls, std::move(j)));
  }
  json j = {{"queue_id", q.queue_id}, {"len", len}, {"properties", std::move(props)}};
  if (!c.v10()) j["port"] = q.port;
  return tagged("OFPPacketQueue", std::move(j));
}

// ---------------------------------------------------------------- table features

std::size_t table_prop_length(const TableFeatureProp& p) {
  switch (p.type) {
    case 0: case 1: case 4: case 5: case 6: case 7: {
      std::size_t n = 4;
      for (const auto& id : p.ids) n += 4 + id.data.size();
      return n;
    }
    case 2: case 3:
      return 4 + p.table_ids.size();
    case 8: case 10: case 12: case 13: case 14: case 15:
      return 4 + 4 * p.oxm_ids.size();
    case 0xfffe: case 0xffff:
      return 12 + p.data.size();
    default:
      return 4 + p.data.size();
  }
}

json oxm_ids_json(const std::vector<std::uint32_t>& ids) {
  json arr = json::array();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint32_t h = ids[i];
    OxmField f;
    f.oxm_class = static_cast<std::uint16_t>(h >> 16);
    f.field = static_cast<std::uint8_t>((h >> 9) & 0x7f);
    json j = {{"hasmask", (h >> 8) & 1}, {"length", h & 0xff}, {"type", view_oxm(f).name}};
    if (f.oxm_class == oxm_class::kExperimenter && i + 1 < ids.size()) {
      j["experimenter"] = ids[++i];
    }
    arr.push_back(tagged("OFPOxmId", std::move(j)));
  }
  return arr;
}

json table_prop_json(const TableFeatureProp& p) {
  json j = {{"type", p.type}, {"length", table_prop_length(p)}};
  auto ids = [&p](const char* cls) {
    json arr = json::array();
    for (const auto& id : p.ids) {
      arr.push_back(tagged(cls, {{"type", id.type}, {"len", 4 + id.data.size()}}));
    }
    return arr;
  };
  switch (p.type) {
    case 0: case 1:
      j["instruction_ids"] = ids("OFPInstructionId");
      return tagged("OFPTableFeaturePropInstructions", std::move(j));
    case 2: case 3:
      j["table_ids"] = json(std::vector<int>(p.table_ids.begin(), p.table_ids.end()));
      return tagged("OFPTableFeaturePropNextTables", std::move(j));
    case 4: case 5: case 6: case 7:
      j["action_ids"] = ids("OFPActionId");
      return tagged("OFPTableFeaturePropActions", std::move(j));
    case 8: case 10: case 12: case 13: case 14: case 15:
      j["oxm_ids"] = oxm_ids_json(p.oxm_ids);
      return tagged("OFPTableFeaturePropOxm", std::move(j));
    case 0xfffe: case 0xffff: {
      j["experimenter"] = p.experimenter;
      j["exp_type"] = p.exp_type;
      // Ryu shows the body as a list of 32-bit words.
      json words = json::array();
      for (std::size_t i = 0; i + 4 <= p.data.size(); i += 4) words.push_back(be32(&p.data[i]));
      j["data"] = std::move(words);
      return tagged("OFPTableFeaturePropExperimenter", std::move(j));
    }
    default:
      j["data"] = b64(p.data);
      return tagged("OFPTableFeaturePropUnknown", std::move(j));
  }
}

json table_features_json(const std::vector<TableFeatures>& tables) {
  json arr = json::array();
  for (const auto& t : tables) {
    json props = json::array();
    std::size_t len = 64;
    for (const auto& p : t.properties) {
      len += pad8(table_prop_length(p));
      props.push_back(table_prop_json(p));
    }
    arr.push_back(tagged("OFPTableFeaturesStats", {{"table_id", t.table_id},
                                                   {"name", utf8_clean(t.name)},
                                                   {"metadata_match", t.metadata_match},
                                                   {"metadata_write", t.metadata_write},
                                                   {"config", t.config},
                                                   {"max_entries", t.max_entries},
                                                   {"length", len},
                                                   {"properties", std::move(props)}}));
  }
  return arr;
}

// ---------------------------------------------------------------- multipart

json flow_stats_request_fields(const Ctx& c, const FlowStatsRequest& r) {
  json j = {{"table_id", r.table_id}, {"out_port", c.port(r.out_port)}, {"match", c.match(r.match)}};
  if (!c.v10()) {
    j["out_group"] = r.out_group;
    j["cookie"] = r.cookie;
    j["cookie_mask"] = r.cookie_mask;
  }
  return j;
}

json multipart_request_json(const Ctx& c, const MultipartRequest& m) {
  const std::uint16_t type = multipart_type_of(m.body);
  auto head = [&](json j = json::object()) {
    j["flags"] = m.flags;
    j["type"] = type;
    return j;
  };
  return std::visit(
      Overloaded{
          [&](const DescStatsRequest&) { return tagged("OFPDescStatsRequest", head()); },
          [&](const FlowStatsRequest& r) {
            return tagged("OFPFlowStatsRequest", head(flow_stats_request_fields(c, r)));
          },
          [&](const AggregateStatsRequest& r) {
            return tagged("OFPAggregateStatsRequest", head(flow_stats_request_fields(c, r.filter)));
          },
          [&](const TableStatsRequest&) { return tagged("OFPTableStatsRequest", head()); },
          [&](const PortStatsRequest& r) {
            return tagged("OFPPortStatsRequest", head({{"port_no", c.port(r.port_no)}}));
          },
          [&](const QueueStatsRequest& r) {
            return tagged("OFPQueueStatsRequest",
                          head({{"port_no", c.port(r.port_no)}, {"queue_id", r.queue_id}}));
          },
          [&](const GroupStatsRequest& r) {
            return tagged("OFPGroupStatsRequest", head({{"group_id", r.group_id}}));
          },
          [&](const GroupDescStatsRequest&) { return tagged("OFPGroupDescStatsRequest", head()); },
          [&](const GroupFeaturesStatsRequest&) {
            return tagged("OFPGroupFeaturesStatsRequest", head());
          },
          [&](const MeterStatsRequest& r) {
            return tagged("OFPMeterStatsRequest", head({{"meter_id", r.meter_id}}));
          },
          [&](const MeterConfigRequest& r) {
            return tagged("OFPMeterConfigStatsRequest", head({{"meter_id", r.meter_id}}));
          },
          [&](const MeterFeaturesStatsRequest&) {
            return tagged("OFPMeterFeaturesStatsRequest", head());
          },
          [&](const TableFeaturesStatsRequest& r) {
            return tagged("OFPTableFeaturesStatsRequest",
                          head({{"body", table_features_json(r.tables)}}));
          },
          [&](const PortDescStatsRequest&) { return tagged("OFPPortDescStatsRequest", head()); },
          [&](const ExperimenterMultipart& e) {
            if (c.v10()) {
              return tagged("OFPVendorStatsRequest",
                            head({{"vendor", e.experimenter}, {"data", b64(e.data)}}));
            }
            return tagged("OFPExperimenterStatsRequest",
                          head({{"experimenter", e.experimenter},
                                {"exp_type", e.exp_type},
                                {"data", b64(e.data)}}));
          },
      },
      m.body);
}

json flow_stats_json(const Ctx& c, const FlowStats& f) {
  json j = {{"table_id", f.table_id},       {"duration_sec", f.duration_sec},
            {"duration_nsec", f.duration_nsec}, {"priority", f.priority},
            {"idle_timeout", f.idle_timeout}, {"hard_timeout", f.hard_timeout},
            {"cookie", f.cookie},           {"packet_count", f.packet_count},
            {"byte_count", f.byte_count},   {"match", c.match(f.match)}};
  if (c.v10()) {
    const ActionList actions = flat_actions(f.instructions);
    std::size_t len = 88;
    for (const auto& a : actions) len += action10_size(a);
    j["length"] = len;
    j["actions"] = actions_json(actions, kVersion10);
  } else {
    j["flags"] = f.flags;
    j["length"] = 48 + pad8(match13_length(f.match)) + instructions13_size(f.instructions);
    j["instructions"] = instructions13_json(f.instructions);
  }
  return tagged("OFPFlowStats", std::move(j));
}

template <class T, class F>
json list_json(const std::vector<T>& items, F&& one) {
  json arr = json::array();
  for (const auto& x : items) arr.push_back(one(x));
  return arr;
}

json multipart_reply_json(const Ctx& c, const MultipartReply& m) {
  const std::uint16_t type = multipart_type_of(m.body);
  auto reply = [&](const char* cls, json body) {
    return tagged(cls, {{"flags", m.flags}, {"type", type}, {"body", std::move(body)}});
  };
  return std::visit(
      Overloaded{
          [&](const DescStatsReply& r) {
            const auto& d = r.desc;
            return reply("OFPDescStatsReply",
                         tagged("OFPDescStats", {{"mfr_desc", utf8_clean(d.mfr_desc)},
                                                 {"hw_desc", utf8_clean(d.hw_desc)},
                                                 {"sw_desc", utf8_clean(d.sw_desc)},
                                                 {"serial_num", utf8_clean(d.serial_num)},
                                                 {"dp_desc", utf8_clean(d.dp_desc)}}));
          },
          [&](const FlowStatsReply& r) {
            return reply("OFPFlowStatsReply",
                         list_json(r.flows, [&](const FlowStats& f) { return flow_stats_json(c, f); }));
          },
          [&](const AggregateStatsReply& r) {
            return reply("OFPAggregateStatsReply",
                         tagged("OFPAggregateStats", {{"packet_count", r.stats.packet_count},
                                                      {"byte_count", r.stats.byte_count},
                                                      {"flow_count", r.stats.flow_count}}));
          },
          [&](const TableStatsReply& r) {
            return reply("OFPTableStatsReply", list_json(r.tables, [&](const TableStats& t) {
                           json j = {{"table_id", t.table_id},
                                     {"active_count", t.active_count},
                                     {"lookup_count", t.lookup_count},
                                     {"matched_count", t.matched_count}};
                           if (c.v10()) {
                             j["name"] = utf8_clean(t.name);
                             j["wildcards"] = t.wildcards;
                             j["max_entries"] = t.max_entries;
                           }
                           return tagged("OFPTableStats", std::move(j));
                         }));
          },
          [&](const PortStatsReply& r) {
            return reply("OFPPortStatsReply", list_json(r.ports, [&](const PortStats& p) {
                           json j = {{"port_no", c.port(p.port_no)}, {"rx_packets", p.rx_packets},
                                     {"tx_packets", p.tx_packets},   {"rx_bytes", p.rx_bytes},
                                     {"tx_bytes", p.tx_bytes},       {"rx_dropped", p.rx_dropped},
                                     {"tx_dropped", p.tx_dropped},   {"rx_errors", p.rx_errors},
                                     {"tx_errors", p.tx_errors},     {"rx_frame_err", p.rx_frame_err},
                                     {"rx_over_err", p.rx_over_err}, {"rx_crc_err", p.rx_crc_err},
                                     {"collisions", p.collisions}};
                           if (!c.v10()) {
                             j["duration_sec"] = p.duration_sec;
                             j["duration_nsec"] = p.duration_nsec;
                           }
                           return tagged("OFPPortStats", std::move(j));
                         }));
          },
          [&](const QueueStatsReply& r) {
            return reply("OFPQueueStatsReply", list_json(r.queues, [&](const QueueStats& q) {
                           json j = {{"port_no", c.port(q.port_no)}, {"queue_id", q.queue_id},
                                     {"tx_bytes", q.tx_bytes},       {"tx_packets", q.tx_packets},
                                     {"tx_errors", q.tx_errors}};
                           if (!c.v10()) {
                             j["duration_sec"] = q.duration_sec;
                             j["duration_nsec"] = q.duration_nsec;
                           }
                           return tagged("OFPQueueStats", std::move(j));
                         }));
          },
          [&](const GroupStatsReply& r) {
            return reply("OFPGroupStatsReply", list_json(r.groups, [](const GroupStats& g) {
                           return tagged(
                               "OFPGroupStats",
                               {{"group_id", g.group_id},
                                {"ref_count", g.ref_count},
                                {"packet_count", g.packet_count},
                                {"byte_count", g.byte_count},
                                {"duration_sec", g.duration_sec},
                                {"duration_nsec", g.duration_nsec},
                                {"length", 40 + 16 * g.bucket_stats.size()},
                                {"bucket_stats", list_json(g.bucket_stats, [](const BucketCounter& b) {
                                   return tagged("OFPBucketCounter",
                                                 {{"packet_count", b.packet_count},
                                                  {"byte_count", b.byte_count}});
                                 })}});
                         }));
          },
          [&](const GroupDescStatsReply& r) {
            return reply("OFPGroupDescStatsReply", list_json(r.groups, [](const GroupDesc& g) {
                           std::size_t len = 8;
                           for (const auto& b : g.buckets) len += bucket13_size(b);
                           return tagged("OFPGroupDescStats", {{"type", g.type},
                                                               {"group_id", g.group_id},
                                                               {"length", len},
                                                               {"buckets", buckets_json(g.buckets)}});
                         }));
          },
          [&](const GroupFeaturesStatsReply& r) {
            const auto& f = r.features;
            return reply("OFPGroupFeaturesStatsReply",
                         tagged("OFPGroupFeaturesStats", {{"types", f.types},
                                                          {"capabilities", f.capabilities},
                                                          {"max_groups", f.max_groups},
                                                          {"actions", f.actions}}));
          },
          [&](const MeterStatsReply& r) {
            return reply("OFPMeterStatsReply", list_json(r.meters, [](const MeterStats& s) {
                           return tagged(
                               "OFPMeterStats",
                               {{"meter_id", s.meter_id},
                                {"flow_count", s.flow_count},
                                {"packet_in_count", s.packet_in_count},
                                {"byte_in_count", s.byte_in_count},
                                {"duration_sec", s.duration_sec},
                                {"duration_nsec", s.duration_nsec},
                                {"len", 40 + 16 * s.band_stats.size()},
                                {"band_stats", list_json(s.band_stats, [](const MeterBandStats& b) {
                                   return tagged("OFPMeterBandStats",
                                                 {{"packet_band_count", b.packet_band_count},
                                                  {"byte_band_count", b.byte_band_count}});
                                 })}});
                         }));
          },
          [&](const MeterConfigStatsReply& r) {
            return reply("OFPMeterConfigStatsReply", list_json(r.meters, [](const MeterConfig& m2) {
                           std::size_t len = 8;
                           for (const auto& b : m2.bands) len += band_size(b);
                           return tagged("OFPMeterConfigStats", {{"flags", m2.flags},
                                                                 {"meter_id", m2.meter_id},
                                                                 {"length", len},
                                                                 {"bands", bands_json(m2.bands)}});
                         }));
          },
          [&](const MeterFeaturesStatsReply& r) {
            const auto& f = r.features;
            // Ryu shows this single body as a one-element list.
            return reply("OFPMeterFeaturesStatsReply",
                         json::array({tagged("OFPMeterFeaturesStats",
                                             {{"max_meter", f.max_meter},
                                              {"band_types", f.band_types},
                                              {"capabilities", f.capabilities},
                                              {"max_bands", f.max_bands},
                                              {"max_color", f.max_color}})}));
          },
          [&](const TableFeaturesStatsReply& r) {
            return reply("OFPTableFeaturesStatsReply", table_features_json(r.tables));
          },
          [&](const PortDescStatsReply& r) {
            return reply("OFPPortDescStatsReply",
                         list_json(r.ports, [&](const Port& p) { return port_json(c, p); }));
          },
          [&](const ExperimenterMultipart& e) {
            if (c.v10()) {
              return reply("OFPVendorStatsReply",
                           tagged("OFPVendorStats", {{"vendor", e.experimenter},
                                                     {"data", b64(e.data)}}));
            }
            return reply("OFPExperimenterStatsReply",
                         tagged("OFPExperimenterMultipart", {{"experimenter", e.experimenter},
                                                             {"exp_type", e.exp_type},
                                                             {"data", b64(e.data)}}));
          },
      },
      m.body);
}

// ---------------------------------------------------------------- messages

json hello_json(const Ctx& c, const Hello& h) {
  json j = json::object();
  if (c.v10() && h.elements.empty()) return tagged("OFPHello", std::move(j));
  json elements = json::array();
  for (const auto& e : h.elements) {
    if (e.type == HelloElement::kVersionBitmap) {
      json versions = json::array();
      for (std::size_t w = 0; w < e.bitmaps.size(); ++w) {
        for (unsigned bit = 0; bit < 32; ++bit) {
          if ((e.bitmaps[w] >> bit) & 1) versions.push_back(w * 32 + bit);
        }
      }
      elements.push_back(tagged("OFPHelloElemVersionBitmap",
                                {{"type", e.type},
                                 {"length", 4 + 4 * e.bitmaps.size()},
                                 {"versions", std::move(versions)}}));
    } else {
      elements.push_back(tagged("OFPHelloElemUnknown", {{"type", e.type},
                                                        {"length", 4 + e.data.size()},
                                                        {"data", b64(e.data)}}));
    }
  }
  j["elements"] = std::move(elements);
  return tagged("OFPHello", std::move(j));
}

json async_json(const char* cls, const AsyncConfig& a) {
  return tagged(cls, {{"packet_in_mask", a.packet_in_mask},
                      {"port_status_mask", a.port_status_mask},
                      {"flow_removed_mask", a.flow_removed_mask}});
}

json body_json(const Ctx& c, const MessageBody& body) {
  return std::visit(
      Overloaded{
          [&](const Hello& h) { return hello_json(c, h); },
          [&](const Error& e) {
            if (!c.v10() && e.type == error_type::kExperimenter) {
              return tagged("OFPErrorMsg", {{"type", e.type},
                                            {"code", nullptr},
                                            {"exp_type", e.code},
                                            {"experimenter", e.experimenter},
                                            {"data", b64(e.data)}});
            }
            return tagged("OFPErrorMsg", {{"type", e.type}, {"code", e.code}, {"data", b64(e.data)}});
          },
          [&](const EchoRequest& e) { return tagged("OFPEchoRequest", {{"data", b64(e.data)}}); },
          [&](const EchoReply& e) { return tagged("OFPEchoReply", {{"data", b64(e.data)}}); },
          [&](const Experimenter& e) {
            if (c.v10()) {
              return tagged("OFPVendor", {{"vendor", e.experimenter}, {"data", b64(e.data)}});
            }
            return tagged("OFPExperimenter", {{"experimenter", e.experimenter},
                                              {"exp_type", e.exp_type},
                                              {"data", b64(e.data)}});
          },
          [&](const FeaturesRequest&) { return tagged("OFPFeaturesRequest", json::object()); },
          [&](const FeaturesReply& f) {
            json j = {{"datapath_id", f.datapath_id},
                      {"n_buffers", f.n_buffers},
                      {"n_tables", f.n_tables},
                      {"capabilities", f.capabilities}};
            if (c.v10()) {
              j["actions"] = f.actions;
              json ports = json::object();
              for (const auto& p : f.ports) ports[std::to_string(port10(p.port_no))] = port_json(c, p);
              j["ports"] = std::move(ports);
            } else {
              j["auxiliary_id"] = f.auxiliary_id;
            }
            return tagged("OFPSwitchFeatures", std::move(j));
          },
          [&](const GetConfigRequest&) { return tagged("OFPGetConfigRequest", json::object()); },
          [&](const GetConfigReply& g) {
            return tagged("OFPGetConfigReply", {{"flags", g.flags}, {"miss_send_len", g.miss_send_len}});
          },
          [&](const SetConfig& s) {
            return tagged("OFPSetConfig", {{"flags", s.flags}, {"miss_send_len", s.miss_send_len}});
          },
          [&](const PacketIn& p) {
            json j = {{"buffer_id", p.buffer_id},
                      {"total_len", p.total_len},
                      {"reason", p.reason},
                      {"data", b64(p.data)}};
            if (c.v10()) {
              j["in_port"] = port10(p.in_port);
            } else {
              j["table_id"] = p.table_id;
              j["cookie"] = p.cookie;
              j["match"] = match13_json(p.match);
            }
            return tagged("OFPPacketIn", std::move(j));
          },
          [&](const FlowRemoved& f) {
            json j = {{"cookie", f.cookie},
                      {"priority", f.priority},
                      {"reason", f.reason},
                      {"duration_sec", f.duration_sec},
                      {"duration_nsec", f.duration_nsec},
                      {"idle_timeout", f.idle_timeout},
                      {"packet_count", f.packet_count},
                      {"byte_count", f.byte_count},
                      {"match", c.match(f.match)}};
            if (!c.v10()) {
              j["table_id"] = f.table_id;
              j["hard_timeout"] = f.hard_timeout;
            }
            return tagged("OFPFlowRemoved", std::move(j));
          },
          [&](const PortStatus& p) {
            return tagged("OFPPortStatus", {{"reason", p.reason}, {"desc", port_json(c, p.desc)}});
          },
          [&](const PacketOut& p) {
            json j = {{"buffer_id", p.buffer_id},
                      {"in_port", c.port(p.in_port)},
                      {"actions", actions_json(p.actions, c.version)},
                      {"data", b64(p.data)}};
            if (!c.v10()) j["actions_len"] = actions13_size(p.actions);
            return tagged("OFPPacketOut", std::move(j));
          },
          [&](const FlowMod& f) {
            json j = {{"cookie", f.cookie},
                      {"command", f.command},
                      {"idle_timeout", f.idle_timeout},
                      {"hard_timeout", f.hard_timeout},
                      {"priority", f.priority},
                      {"buffer_id", f.buffer_id},
                      {"out_port", c.port(f.out_port)},
                      {"flags", f.flags},
                      {"match", c.match(f.match)}};
            if (c.v10()) {
              j["actions"] = actions_json(flat_actions(f.instructions), kVersion10);
            } else {
              j["cookie_mask"] = f.cookie_mask;
              j["table_id"] = f.table_id;
              j["out_group"] = f.out_group;
              j["instructions"] = instructions13_json(f.instructions);
            }
            return tagged("OFPFlowMod", std::move(j));
          },
          [&](const GroupMod& g) {
            return tagged("OFPGroupMod", {{"command", g.command},
                                          {"type", g.type},
                                          {"group_id", g.group_id},
                                          {"buckets", buckets_json(g.buckets)}});
          },
          [&](const PortMod& p) {
            return tagged("OFPPortMod", {{"port_no", c.port(p.port_no)},
                                         {"hw_addr", p.hw_addr.to_string()},
                                         {"config", p.config},
                                         {"mask", p.mask},
                                         {"advertise", p.advertise}});
          },
          [&](const TableMod& t) {
            return tagged("OFPTableMod", {{"table_id", t.table_id}, {"config", t.config}});
          },
          [&](const MultipartRequest& m) { return multipart_request_json(c, m); },
          [&](const MultipartReply& m) { return multipart_reply_json(c, m); },
          [&](const BarrierRequest&) { return tagged("OFPBarrierRequest", json::object()); },
          [&](const BarrierReply&) { return tagged("OFPBarrierReply", json::object()); },
          [&](const QueueGetConfigRequest& q) {
            return tagged("OFPQueueGetConfigRequest", {{"port", c.port(q.port)}});
          },
          [&](const QueueGetConfigReply& q) {
            return tagged("OFPQueueGetConfigReply",
                          {{"port", c.port(q.port)},
                           {"queues", list_json(q.queues, [&](const PacketQueue& pq) {
                              return queue_json(c, pq);
                            })}});
          },
          [&](const RoleRequest& r) {
            return tagged("OFPRoleRequest", {{"role", r.role}, {"generation_id", r.generation_id}});
          },
          [&](const RoleReply& r) {
            return tagged("OFPRoleReply", {{"role", r.role}, {"generation_id", r.generation_id}});
          },
          [&](const GetAsyncRequest&) { return tagged("OFPGetAsyncRequest", json::object()); },
          [&](const GetAsyncReply& g) { return async_json("OFPGetAsyncReply", g.config); },
          [&](const SetAsync& s) { return async_json("OFPSetAsync", s.config); },
          [&](const MeterMod& m) {
            return tagged("OFPMeterMod", {{"command", m.command},
                                          {"flags", m.flags},
                                          {"meter_id", m.meter_id},
                                          {"bands", bands_json(m.bands)}});
          },
          [&](const BundleControl& b) {
            return tagged("ONFBundleCtrlMsg", {{"experimenter", kOnfExperimenter},
                                               {"exp_type", kOnfBundleControl},
                                               {"bundle_id", b.bundle_id},
                                               {"type", b.type},
                                               {"flags", b.flags},
                                               {"properties", b64(b.properties)}});
          },
          [&](const BundleAddMessage& b) {
            return tagged("ONFBundleAddMsg", {{"experimenter", kOnfExperimenter},
                                              {"exp_type", kOnfBundleAddMessage},
                                              {"bundle_id", b.bundle_id},
                                              {"flags", b.flags},
                                              {"message", b64(b.message)},
                                              {"properties", b64(b.properties)}});
          },
      },
      body);
}

}  // namespace

std::string base64_encode(const std::uint8_t* data, std::size_t len) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((len + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                            std::uint32_t{data[i + 2]};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = len - i; rest > 0) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

const char* nicira_action_name(std::uint16_t subtype) {
  for (const auto& n : kNiciraNames) {
    if (n.subtype == subtype) return n.name;
  }
  return "NXActionUnknown";
}

nlohmann::json to_json(const Match& match, std::uint8_t version) {
  return version == kVersion10 ? match10_json(match) : match13_json(match);
}

nlohmann::json to_json(const Action& action, std::uint8_t version) {
  return version == kVersion10 ? action10_json(action) : action13_json(action);
}

nlohmann::json to_json(const Message& m) { return body_json(Ctx{m.version}, m.body); }

}  // namespace tapflow::openflow
