// Punt flows: the router's own traffic to the controller, the rest to the FIB
// or dropped. See punt_flows.hpp for the table this builds.
#include "tapflow/tapd/punt_flows.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

namespace tapflow::tapd {
namespace {

using namespace openflow;
using netns::IpAddress;

constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthArp = 0x0806;
constexpr std::uint16_t kEthIpv6 = 0x86dd;

// IPv6 multicast groups a router listens to on every link, as Ethernet
// destinations 33:33:00:00:00:xx (RFC 2464): all-nodes, all-routers,
// OSPFv3 all-SPF and all-DR routers, RIPng, MLDv2 reports.
constexpr std::array<std::uint8_t, 6> kIpv6LinkGroups = {0x01, 0x02, 0x05, 0x06, 0x09, 0x16};

// Addresses are compared by family and bytes only, so this file needs nothing
// from ip.cpp (tapd's unit tests stay independent of it).
bool is_v4(const IpAddress& a) { return a.family == AF_INET; }
bool is_v6(const IpAddress& a) { return a.family == AF_INET6; }

std::uint32_t v4_host_order(const IpAddress& a) {
  return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
         (std::uint32_t{a.bytes[2]} << 8) | std::uint32_t{a.bytes[3]};
}

// 127/8 and ::1 live on lo; the kernel drops them when they arrive from a
// wire (martians), so punting them would only open a path to local services.
bool is_loopback(const IpAddress& a) {
  if (is_v4(a)) return a.bytes[0] == 127;
  if (!is_v6(a)) return false;
  for (std::size_t i = 0; i < 15; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return a.bytes[15] == 1;
}

// OpenFlow 1.3 instructions and 1.0 actions both read as one ApplyActions.
InstructionList to_controller() {
  return {instruction::ApplyActions{{action::Output{port::kController, kControllerMaxLenNoBuffer}}}};
}

FlowMod make_flow(std::uint16_t priority, std::initializer_list<OxmField> fields,
                  InstructionList instructions, const AddressPuntScope& scope = {}) {
  FlowMod f;
  f.cookie = scope.cookie;
  f.table_id = scope.table;
  f.command = flow_mod_command::kAdd;
  f.priority = priority;
  f.buffer_id = kNoBuffer;
  f.flags = 0;
  // Fields go in the order the 1.0 decoder reports them (in_port, eth_dst,
  // eth_type, then L3), so a 1.0 round trip gives the same Match back.
  for (const OxmField& field : scope.match) f.match.add(field);
  for (const OxmField& field : fields) f.match.add(field);
  f.instructions = std::move(instructions);
  return f;
}

bool field_less(const OxmField& a, const OxmField& b) {
  if (std::tie(a.oxm_class, a.field, a.experimenter, a.has_mask) !=
      std::tie(b.oxm_class, b.field, b.experimenter, b.has_mask)) {
    return std::tie(a.oxm_class, a.field, a.experimenter, a.has_mask) <
           std::tie(b.oxm_class, b.field, b.experimenter, b.has_mask);
  }
  if (a.value != b.value) {
    return std::lexicographical_compare(a.value.begin(), a.value.end(), b.value.begin(),
                                        b.value.end());
  }
  return std::lexicographical_compare(a.mask.begin(), a.mask.end(), b.mask.begin(), b.mask.end());
}

bool match_less(const Match& a, const Match& b) {
  return std::lexicographical_compare(a.fields.begin(), a.fields.end(), b.fields.begin(),
                                      b.fields.end(), field_less);
}

// Output order: priority high to low, then the match's fields; flows with the
// same priority and match are the same flow (OpenFlow's identity in a table).
bool flow_less(const FlowMod& a, const FlowMod& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return match_less(a.match, b.match);
}
bool same_identity(const FlowMod& a, const FlowMod& b) {
  return a.priority == b.priority && a.match == b.match;
}

MacAddress mac(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t e,
               std::uint8_t f) {
  MacAddress m;
  m.octets = {a, b, c, d, e, f};
  return m;
}

// To the controller through the class's meter, if it has one.
InstructionList punt_to(const PuntInputs& in, PuntClass c) {
  InstructionList ins = to_controller();
  if (in.meters && (*in.meters)[static_cast<std::size_t>(c)] != 0) {
    ins.insert(ins.begin(), instruction::Meter{(*in.meters)[static_cast<std::size_t>(c)]});
  }
  return ins;
}

constexpr std::uint8_t kProtoOspf = 89, kProtoVrrp = 112, kProtoTcp = 6, kProtoUdp = 17,
                       kProtoIcmpv6 = 58;

}  // namespace

std::optional<MeterMod> punt_meter(std::uint32_t meter_id, const PolicerConfig& policer,
                                   std::uint16_t command) {
  if (policer.rate == 0) return std::nullopt;
  MeterMod m;
  m.command = command;
  m.flags = 0x2 | 0x4;  // OFPMF_PKTPS | OFPMF_BURST
  m.meter_id = meter_id;
  MeterBand b;
  b.type = meter_band_type::kDrop;
  b.rate = policer.rate;
  b.burst_size = std::max<std::uint32_t>(policer.burst, 1);
  m.bands.push_back(b);
  return m;
}

std::vector<FlowMod> address_punts(const std::vector<IpAddress>& addresses,
                                   const AddressPuntScope& scope, bool ipv6) {
  using namespace pipeline::priority::punt;
  // Sets make the result independent of the input order and drop duplicates.
  std::set<IpAddress> v4, v6;
  for (const IpAddress& a : addresses) {
    if (is_loopback(a)) continue;
    if (is_v4(a)) v4.insert(a);
    if (is_v6(a)) v6.insert(a);  // family 0 (unset) and others: ignored
  }
  std::vector<FlowMod> out;
  for (const IpAddress& a : v4) {
    const std::uint32_t addr = v4_host_order(a);
    out.push_back(make_flow(kControl, {oxm::eth_type(kEthArp), oxm::arp_tpa(addr)},
                            to_controller(), scope));
    out.push_back(make_flow(kLocal, {oxm::eth_type(kEthIpv4), oxm::ipv4_dst(addr)},
                            to_controller(), scope));
  }
  if (ipv6) {
    for (const IpAddress& a : v6) {
      std::span<const std::uint8_t, 16> bytes(a.bytes);
      out.push_back(make_flow(kLocal, {oxm::eth_type(kEthIpv6), oxm::ipv6_dst(bytes)},
                              to_controller(), scope));
    }
  }
  return out;
}

std::vector<FlowMod> punt_flows(const PuntInputs& in) {
  using namespace pipeline::priority::punt;
  std::vector<FlowMod> out;
  out.push_back(make_flow(kDrop, {}, {}));
  // A router without ports has no link to hear anything on: nothing to punt.
  if (in.ports.empty()) return out;

  const bool v10 = in.version == kVersion10;

  // Sets make the result independent of the input order and drop duplicates.
  std::set<IpAddress> v4, v6;
  for (const IpAddress& a : in.addresses) {
    if (is_loopback(a)) continue;
    if (is_v4(a)) v4.insert(a);
    if (is_v6(a)) v6.insert(a);  // family 0 (unset) and others: ignored
  }

  for (FlowMod& f : address_punts(in.addresses, {}, !v10)) out.push_back(std::move(f));
  // IPv4 link-local multicast (OSPF hellos, RIP, VRRP, ...). 1.0 spells the
  // /24 as nw_dst with 8 wildcarded bits.
  out.push_back(make_flow(kControl, {oxm::eth_type(kEthIpv4), oxm::ipv4_dst(0xe0000000, 0xffffff00)},
                          to_controller()));

  const bool metered = !v10 && in.meters.has_value();
  if (metered) {
    // Each general punt through its class's meter (ARP: arp_nd; the rest:
    // to_router), and the routing protocols above them through theirs.
    for (FlowMod& f : out) {
      if (f.priority == kDrop) continue;
      bool arp = false;
      for (const OxmField& x : f.match.fields) {
        arp = arp || (x.is_basic(oxm_field::kEthType) && x.value_uint() == kEthArp);
      }
      f.instructions = punt_to(in, arp ? PuntClass::kArpNd : PuntClass::kToRouter);
    }
    const InstructionList routing = punt_to(in, PuntClass::kRouting);
    const InstructionList nd = punt_to(in, PuntClass::kArpNd);
    for (std::uint8_t proto : {kProtoOspf, kProtoVrrp}) {
      out.push_back(make_flow(kRouting,
                              {oxm::eth_type(kEthIpv4), oxm::ipv4_dst(0xe0000000, 0xffffff00),
                               oxm::ip_proto(proto)},
                              routing));
    }
    std::array<std::uint8_t, 16> ff02{0xff, 0x02};
    std::array<std::uint8_t, 16> mask16{0xff, 0xff};
    out.push_back(make_flow(kRouting,
                            {oxm::eth_type(kEthIpv6), oxm::ipv6_dst(ff02, mask16),
                             oxm::ip_proto(kProtoOspf)},
                            routing));
    for (std::uint8_t t = 133; t <= 137; ++t) {
      out.push_back(make_flow(kRouting,
                              {oxm::eth_type(kEthIpv6), oxm::ipv6_dst(ff02, mask16),
                               oxm::ip_proto(kProtoIcmpv6), oxm::icmpv6_type(t)},
                              nd));
    }
    auto own = [&](std::uint16_t eth_type, const OxmField& dst) {
      out.push_back(make_flow(kRouting, {oxm::eth_type(eth_type), dst, oxm::ip_proto(kProtoOspf)},
                              routing));
      out.push_back(make_flow(kRouting,
                              {oxm::eth_type(eth_type), dst, oxm::ip_proto(kProtoTcp), oxm::tcp_dst(179)},
                              routing));
      out.push_back(make_flow(kRouting,
                              {oxm::eth_type(eth_type), dst, oxm::ip_proto(kProtoTcp), oxm::tcp_src(179)},
                              routing));
      for (std::uint16_t port : {3784, 3785, 4784}) {
        out.push_back(make_flow(kRouting,
                                {oxm::eth_type(eth_type), dst, oxm::ip_proto(kProtoUdp),
                                 oxm::udp_dst(port)},
                                routing));
      }
      if (eth_type == kEthIpv6) {
        for (std::uint8_t t = 133; t <= 137; ++t) {
          out.push_back(make_flow(kRouting,
                                  {oxm::eth_type(eth_type), dst, oxm::ip_proto(kProtoIcmpv6),
                                   oxm::icmpv6_type(t)},
                                  nd));
        }
      }
    };
    for (const IpAddress& a : v4) own(kEthIpv4, oxm::ipv4_dst(v4_host_order(a)));
    for (const IpAddress& a : v6) {
      std::span<const std::uint8_t, 16> bytes(a.bytes);
      own(kEthIpv6, oxm::ipv6_dst(bytes));
    }
    // ARP and ND per port, through the port's own meter, above the general
    // flows (which stay for ports without a meter of their own).
    for (const auto& [port_no, meter_id] : in.port_nd_meters) {
      const InstructionList port_nd = {instruction::Meter{meter_id},
                                       instruction::ApplyActions{
                                           {action::Output{port::kController, kControllerMaxLenNoBuffer}}}};
      for (const IpAddress& a : v4) {
        out.push_back(make_flow(kRouting, {oxm::in_port(port_no), oxm::eth_type(kEthArp),
                                           oxm::arp_tpa(v4_host_order(a))},
                                port_nd));
      }
      for (std::uint8_t t = 133; t <= 137; ++t) {
        out.push_back(make_flow(kPortNd,
                                {oxm::in_port(port_no), oxm::eth_type(kEthIpv6), oxm::ipv6_dst(ff02, mask16),
                                 oxm::ip_proto(kProtoIcmpv6), oxm::icmpv6_type(t)},
                                port_nd));
        for (const IpAddress& a : v6) {
          std::span<const std::uint8_t, 16> bytes(a.bytes);
          out.push_back(make_flow(kPortNd,
                                  {oxm::in_port(port_no), oxm::eth_type(kEthIpv6), oxm::ipv6_dst(bytes),
                                   oxm::ip_proto(kProtoIcmpv6), oxm::icmpv6_type(t)},
                                  port_nd));
        }
      }
    }
  }

  if (v10) {
    // No IPv6 fields in 1.0: punt IPv6 by destination MAC. The link groups are
    // needed before any global address exists (ND, OSPFv3 hellos).
    std::set<MacAddress> group_macs;
    for (std::uint8_t g : kIpv6LinkGroups) group_macs.insert(mac(0x33, 0x33, 0, 0, 0, g));
    for (const IpAddress& a : v6) {
      // Solicited-node group ff02::1:ffXX:XXXX -> 33:33:ff:XX:XX:XX.
      group_macs.insert(mac(0x33, 0x33, 0xff, a.bytes[13], a.bytes[14], a.bytes[15]));
    }
    for (const MacAddress& m : group_macs) {
      out.push_back(make_flow(kControl, {oxm::eth_dst(m), oxm::eth_type(kEthIpv6)},
                              to_controller()));
    }
    // Unicast IPv6 to the router: 1.0 has no FIB for it, the kernel routes it.
    for (const PuntPort& p : in.ports) {
      out.push_back(make_flow(kLocal,
                              {oxm::in_port(p.port_no), oxm::eth_dst(p.mac), oxm::eth_type(kEthIpv6)},
                              to_controller()));
    }
  } else {
    std::array<std::uint8_t, 16> ff02{0xff, 0x02};
    std::array<std::uint8_t, 16> mask16{0xff, 0xff};
    out.push_back(make_flow(kControl, {oxm::eth_type(kEthIpv6), oxm::ipv6_dst(ff02, mask16)},
                            metered ? punt_to(in, PuntClass::kToRouter) : to_controller()));
  }

  // GotoTable must point forward: a FIB in table 0 (ours) would be a loop.
  const bool to_fib = !v10 && in.fib_table.has_value() && *in.fib_table > 0;
  for (const PuntPort& p : in.ports) {
    InstructionList ins = to_fib ? InstructionList{instruction::GotoTable{*in.fib_table}}
                                 : to_controller();
    out.push_back(make_flow(kRouterMac, {oxm::in_port(p.port_no), oxm::eth_dst(p.mac)},
                            std::move(ins)));
  }

  std::stable_sort(out.begin(), out.end(), flow_less);
  out.erase(std::unique(out.begin(), out.end(), same_identity), out.end());
  return out;
}

}  // namespace tapflow::tapd
