// Punt flows: what the switch sends to the controller (and so to the TAPs),
// derived from the router's ports and the namespace's addresses. Pure logic:
// the same inputs always give the same flows.
//
// Table 0 (1.0: the only table), priorities high to low (pipeline::priority::punt):
//   ARP to one of our IPv4 addresses; IPv4 link-local multicast 224.0.0.0/24
//   (OSPF, RIP, VRRP, ...); IPv6 link-local multicast ff02::/16 (ND, OSPFv3,
//   RIPng, ...); IPv4/IPv6 to one of our own addresses (BGP, ICMP, SSH, ...)
//   -> CONTROLLER (whole frame);
//   a frame to a port's MAC arriving on that port -> the FIB table (routing
//   installs it) or, without one, CONTROLLER so the kernel routes it;
//   anything else -> dropped (priority 0).
// OpenFlow 1.0 cannot match IPv6 fields: IPv6 is punted by destination MAC
// (33:33:00:00:00:01/02/05/06/09/16, the solicited-node MAC of each address,
// and the port MAC) instead.
//
// Meters (OpenFlow 1.3, where the switch has them): with PuntInputs::meters,
// each punt flow runs through its punt class's meter (punt_class.hpp), and
// the routing protocols get punt flows of their own above the general ones,
// so a flood of ARP or of traffic to the router is dropped in the switch and
// never crowds out OSPF, BGP or BFD on the way to the controller:
//   routing   (kRouting, above kControl): OSPF and VRRP to 224.0.0.0/24,
//             OSPFv3 to ff02::/16; to our addresses: OSPF, TCP 179 either way,
//             UDP 3784/3785/4784 (BFD);
//   arp_nd    ARP for our addresses; ICMPv6 133-137 to ff02::/16 or to ours;
//             per port (in_port, above the general flows) through the port's
//             own meter where there is one (PuntInputs::port_nd_meters);
//   to_router the rest of 224.0.0.0/24, ff02::/16 and of our addresses.
// The FIB's own miss and controller buckets (glean) are routing's flows.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "tapflow/netns/ip.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/pipeline/pipeline.hpp"
#include "tapflow/tapd/punt_class.hpp"

namespace tapflow::tapd {

struct PuntPort {
  std::uint32_t port_no = 0;
  openflow::MacAddress mac;  // the TAP's (router) MAC on this port
};

struct PuntInputs {
  std::uint8_t version = openflow::kVersion13;
  std::vector<PuntPort> ports;
  std::vector<netns::IpAddress> addresses;  // every local address in the namespace
  // 1.3 only: frames to a router MAC go to this table (routing's FIB); without
  // it (or on 1.0) they go to the controller.
  std::optional<std::uint8_t> fib_table;
  // 1.3 only: the meter of each punt class (0: that class is not metered).
  // Unset: no meters (and no flows of the routing class of their own).
  std::optional<std::array<std::uint32_t, kPuntClasses>> meters;
  // With meters: ARP/ND of each port through a meter of its own (by port),
  // so a flood on one port never uses up another port's ARP budget. Ports
  // not listed share the arp_nd class meter.
  std::map<std::uint32_t, std::uint32_t> port_nd_meters;
};

// The meter of a punt class on a switch (pipeline.hpp: its meter ids; a
// port's own ARP/ND meter is pipeline::port_nd_meter_id).
constexpr std::uint32_t punt_meter_id(PuntClass c) {
  return pipeline::punt_meter_id(static_cast<std::size_t>(c));
}
static_assert(pipeline::kPuntMeters.contains(pipeline::punt_meter_id(kPuntClasses - 1)));
// The METER_MOD (pktps, burst, one DROP band) of a policer, for meter_id
// (punt_meter_id, pipeline::port_nd_meter_id); nullopt for rate 0 (not metered).
std::optional<openflow::MeterMod> punt_meter(std::uint32_t meter_id, const PolicerConfig& policer,
                                             std::uint16_t command);

// Where address punts go and what they match first: table 0 with nothing
// (per-port mode), or a VLAN's eth_dst table with vlan_vid + router MAC.
struct AddressPuntScope {
  std::uint64_t cookie = pipeline::cookie::kPunt;
  std::uint8_t table = pipeline::table::kIngress;
  std::vector<openflow::OxmField> match;  // fields every flow starts with
};

// The router's own traffic by address -> CONTROLLER: ARP for one of our IPv4
// addresses (priority kControl), IPv4 to one of them and, with `ipv6`, IPv6
// to one of ours (kLocal). Loopback addresses and duplicates are left out.
std::vector<openflow::FlowMod> address_punts(const std::vector<netns::IpAddress>& addresses,
                                             const AddressPuntScope& scope, bool ipv6);

// The desired flows, as FLOW_MOD ADDs in table 0 with cookie pipeline::cookie::kPunt,
// sorted by (priority desc, match). No duplicates.
std::vector<openflow::FlowMod> punt_flows(const PuntInputs& in);

}  // namespace tapflow::tapd
