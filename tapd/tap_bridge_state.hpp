// TapBridge's per-switch and per-TAP state, shared by tap_bridge.cpp and
// tap_bridge_reload.cpp (private to tapd).
#pragma once

#include <fmt/format.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/netns/link_control.hpp"
#include "tapflow/netns/netlink_watcher.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/tapd/tap_bridge.hpp"
#include "tapflow/tapd/tap_device.hpp"
#include "tapflow/tapd/vlan_switch.hpp"

namespace tapflow::tapd {

namespace asio = boost::asio;

struct TapBridge::Port {
  std::uint32_t port_no = 0;  // 0 for a VLAN TAP
  std::uint16_t vlan = 0;     // a VLAN TAP's VLAN id
  std::string port_name;
  openflow::MacAddress mac;        // what the TAP was given
  bool mac_configured = false;
  TapDevice tap;
  std::unique_ptr<asio::posix::stream_descriptor> readable;  // on a dup of tap.fd()
  bool link_up = false;   // the switch port's state
  bool carrier = false;   // what the TAP shows
  // Unknown until set once: a TAP taken over from the fd store shows what
  // the previous process left, a new one whatever TUNSETIFF gave it.
  bool carrier_known = false;
  bool waiting = false;   // an async_wait is outstanding
  bool paused = false;    // waiting for a congested switch
  PortCounters counters;
  // Handlers hold a weak_ptr to this: a port removed meanwhile is never touched.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  ~Port() {
    if (readable) {
      boost::system::error_code ignored;
      readable->cancel(ignored);
      readable->close(ignored);
    }
  }
};

struct TapBridge::Switch {
  std::uint64_t dpid = 0;
  SwitchConfig config;
  std::string log;  // "dpid=... netns=..."
  netns::NetNamespace ns;
  std::unique_ptr<netns::LinkControl> links;
  std::unique_ptr<netns::NetlinkWatcher> watcher;
  controller::Datapath* dp = nullptr;  // null while the switch is away
  // The switch is away but its TAPs keep their carrier until the timer fires.
  bool holding = false;
  // Another controller is the switch's master (cluster mode): the TAPs are
  // ready without carrier, and nothing is sent to the switch.
  bool standby = false;
  std::unique_ptr<asio::steady_timer> hold_timer;
  std::map<std::uint32_t, std::unique_ptr<Port>> ports;
  // Sub-class 0 only: the VLAN flows (other sub-classes of tapd's class) have their own.
  controller::FlowSync punts{pipeline::cookie::kPunt, pipeline::cookie::kSubclassMask};
  bool reconciled = false;  // punt flows read back from the switch since it came up
  bool stale_checked = false;
  openflow::Message packet_out;  // reused for every PACKET_OUT: no allocation per frame
  // Control-plane policing (punt_class.hpp): per class, and the namespace's
  // own addresses (sorted) for telling "to the router" from transit.
  std::array<TokenBucket, kPuntClasses> policers;
  PuntCounters punt;
  std::vector<netns::IpAddress> local_addresses;
  // Meters in the switch (1.3, where it has them): set once they are in
  // place for this connection; the punt flows then run through them.
  std::optional<std::array<std::uint32_t, kPuntClasses>> meters;
  std::uint32_t max_meter = 0;                 // METER_FEATURES
  std::set<std::uint32_t> existing_meters;     // on the switch when this connection came up
  std::map<std::uint32_t, std::uint32_t> port_meters;  // port -> its ARP/ND meter, sent
  std::map<std::uint32_t, openflow::MeterStats> meter_stats;  // last read, by meter id
  std::unique_ptr<asio::steady_timer> meter_timer;
  bool published = false;  // ports_listener_ told about published_ports
  std::vector<TapPort> published_ports;

  // VLAN mode.
  bool vlan_mode = false;  // VLANs configured, the switch speaks 1.3 and its profile has the tables
  // This connection's layout (TapBridgeConfig::pipeline_for; else the config's).
  pipeline::Pipeline pipeline;
  std::map<std::uint16_t, std::unique_ptr<Port>> vlan_taps;  // by VLAN id
  std::vector<VlanMembers> members;         // per configured VLAN: ports present now
  std::map<std::uint32_t, bool> member_up;  // every member port -> link up
  controller::FlowSync vlan_static{pipeline::cookie::kVlanStatic, pipeline::cookie::kVlanFlowsMask};
  bool vlan_reconciled = false;
  bool groups_ready = false;    // flood groups sent since the switch came up
  bool groups_reading = false;  // GROUP_DESC outstanding
  bool open_vswitch = true;     // DESC says Open vSwitch (Nicira): it takes NX actions
  std::map<std::uint32_t, openflow::GroupMod> groups;  // as last sent
  std::set<std::uint32_t> stale_groups;  // of VLANs no longer configured: deleted after their flows
  MacTable macs{8192};
  std::uint64_t epoch = 0;  // bumped on every up/down: stale replies are ignored
  openflow::Message vlan_packet_out;
  openflow::Bytes scratch;  // a PACKET_IN's frame without its tag
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  explicit Switch(netns::NetNamespace n) : ns(std::move(n)) {
    openflow::PacketOut po;
    po.buffer_id = openflow::kNoBuffer;
    po.in_port = openflow::port::kController;
    po.actions.push_back(openflow::action::Output{0, 0});
    po.data.reserve(65536);
    packet_out.body = std::move(po);
    openflow::PacketOut vpo;
    vpo.buffer_id = openflow::kNoBuffer;
    vpo.in_port = openflow::port::kController;
    vlan_packet_out.body = std::move(vpo);
  }

  const VlanMembers* vlan(std::uint16_t vid) const {
    for (const auto& m : members) {
      if (m.vid == vid) return &m;
    }
    return nullptr;
  }
};

// A switch's entry in `list` by datapath id; null if it is not listed.
template <class List>
auto* find_switch(List& list, std::uint64_t dpid) {
  for (auto& s : list) {
    if (s.dpid == dpid) return &s;
  }
  return static_cast<decltype(&*list.begin())>(nullptr);
}

// The namespace of a switch configured as `c` (null: not listed).
inline std::string namespace_name(const SwitchConfig* c, std::uint64_t dpid, const std::string& prefix) {
  if (c != nullptr && !c->netns.empty()) return c->netns;
  return prefix + (c != nullptr && !c->name.empty() ? c->name : fmt::format("{:016x}", dpid));
}

// A port's configuration: by number first, else by name; null if none.
inline const PortConfig* find_port_config(const SwitchConfig& c, std::uint32_t port_no,
                                          const std::string& name) {
  for (const auto& pc : c.ports) {
    if (pc.port_no && *pc.port_no == port_no) return &pc;
  }
  for (const auto& pc : c.ports) {
    if (!pc.port_no && pc.port_name && *pc.port_name == name) return &pc;
  }
  return nullptr;
}

// A switch port's state as the TAPs see it: up unless the link is down or
// the port administratively down.
inline bool port_link_up(const openflow::Port& p) {
  using namespace openflow;
  return (p.state & port_state::kLinkDown) == 0 && (p.config & port_config::kPortDown) == 0;
}

}  // namespace tapflow::tapd
