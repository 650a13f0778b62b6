// TapBridge: the router's control plane attachment. For every switch it keeps a
// network namespace with one TAP per switch port, pumps frames between the
// switch (PACKET_IN / PACKET_OUT) and the TAPs, mirrors port state into TAP
// carrier, and keeps the switch's punt flows equal to what the namespace's
// addresses call for. With VLANs configured (OpenFlow 1.3) the member ports
// share one TAP per VLAN instead, switched in the datapath with MAC learning
// (vlan_switch.hpp). An App of the controller core; runs on its event loop.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "tapflow/bfdwatch/bfd_watch.hpp"
#include "tapflow/controller/app.hpp"
#include "tapflow/fdstore/fd_store.hpp"
#include "tapflow/netns/ip.hpp"
#include "tapflow/openflow/types.hpp"
#include "tapflow/pipeline/pipeline.hpp"
#include "tapflow/tapd/punt_class.hpp"
#include "tapflow/tapd/tap_device.hpp"
#include "tapflow/tapd/vlan_switch.hpp"

namespace tapflow::tapd {

// One switch port's TAP, as configured. A port is picked by number or name.
struct PortConfig {
  std::optional<std::uint32_t> port_no;
  std::optional<std::string> port_name;
  std::optional<std::string> interface;  // TAP name; default: from the port name
  std::optional<openflow::MacAddress> mac;  // default: the port's hardware address
  std::optional<unsigned> mtu;              // default: TapBridgeConfig::mtu
  std::vector<netns::IpPrefix> addresses;   // added to the TAP (kept if already there)
  friend bool operator==(const PortConfig&, const PortConfig&) = default;
};

// A switch port named in a VLAN's member list: by number or by name.
struct PortRef {
  std::optional<std::uint32_t> port_no;
  std::optional<std::string> port_name;
  bool matches(std::uint32_t no, const std::string& name) const {
    return port_no ? *port_no == no : (port_name && *port_name == name);
  }
  friend bool operator==(const PortRef&, const PortRef&) = default;
};

// A routed VLAN interface (OpenFlow 1.3 only): one TAP for the VLAN, its
// member ports switched in the datapath (MAC learning with flows).
struct VlanConfig {
  std::uint16_t id = 0;                     // 1..4094
  std::string name;                         // TAP name; default "vlan<id>"
  std::optional<openflow::MacAddress> mac;  // default: derived from dpid and id
  std::optional<unsigned> mtu;              // default: TapBridgeConfig::mtu
  std::vector<netns::IpPrefix> addresses;   // added to the TAP (kept if already there)
  std::vector<PortRef> untagged;            // access ports, and a trunk's native VLAN
  std::vector<PortRef> tagged;              // trunk ports carrying this VLAN tagged
  friend bool operator==(const VlanConfig&, const VlanConfig&) = default;
};

struct SwitchConfig {
  std::uint64_t dpid = 0;
  std::string name;   // default: the datapath id as 16 hex digits
  std::string netns;  // default: netns_prefix + name
  std::vector<PortConfig> ports;
  std::vector<VlanConfig> vlans;      // ports in no VLAN keep a TAP each
  std::size_t mac_table_size = 8192;  // learned MACs over all VLANs; beyond: no learning
  std::uint16_t mac_aging = 300;      // seconds without traffic before a MAC is forgotten
  friend bool operator==(const SwitchConfig&, const SwitchConfig&) = default;
};

struct TapBridgeConfig {
  // PACKET_INs for the TAPs are classified (punt_class.hpp) and policed per
  // class and switch: a storm of one class never starves another.
  PuntPolicy punt_policy;
  std::string netns_prefix = "tapflow-";
  unsigned mtu = 1500;
  // TAPs outlive tapflowd (NO-CARRIER while it is away), keeping their
  // ifindex and addresses, so routing daemons see a link flap, not a new link.
  bool persist_taps = true;
  // When the switch's connection drops, its TAPs keep their carrier this
  // long (a brief reconnect stays invisible to the routing daemons); after
  // it, without the switch, they lose it. Also applied at start to TAPs
  // taken over from the fd store. 0: carrier off at once. The default is
  // above Open vSwitch's default reconnect max_backoff (8 s).
  std::chrono::milliseconds carrier_hold{std::chrono::seconds(10)};
  bool local_port = false;  // also give the switch's LOCAL port a TAP
  bool forwarding = true;   // enable IPv4/IPv6 forwarding in the namespace
  std::size_t read_batch = 64;  // frames read from one TAP per wakeup
  // The switches' tables: 1.3 frames to a router MAC continue in its FIB
  // table (routing's; unset: they go to the controller and the kernel routes
  // them); VLAN mode learns in its L2 tables.
  pipeline::Pipeline pipeline = pipeline::Pipeline::standard();
  // Per connection: the layout the switch's profile allows (the daemon
  // resolves it, pipeline/profile.hpp); unset: `pipeline` for every switch.
  std::function<pipeline::Pipeline(const controller::Datapath&)> pipeline_for;
  std::vector<SwitchConfig> switches;  // switches not listed get defaults
  // Every BFD control packet through a switch, either way, is shown to this
  // watch (bfdwatch/bfd_watch.hpp; routing yields to its silences). Unset: none.
  std::shared_ptr<bfdwatch::BfdWatch> bfd_watch;
};

// What a live reconfiguration (TapBridge::reconfigure) did, in words for the
// operator: "r1: port 3 (p3): address 10.0.3.1/24 added".
struct ReconfigureReport {
  std::vector<std::string> applied;
  std::vector<std::string> restart_needed;  // changes kept for the next restart, and why
  std::vector<std::string> failed;          // changes the kernel or switch refused
};

// Time spent inside tapflowd per frame, in power-of-two nanosecond buckets.
struct LatencyStats {
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;
  std::uint64_t max_ns = 0;
  std::array<std::uint64_t, 40> buckets{};  // bucket i: [2^i, 2^(i+1)) ns
  void record(std::uint64_t ns);
  // Upper bound of the bucket holding quantile q (0 < q <= 1); 0 if empty.
  std::uint64_t quantile_ns(double q) const;
};

struct PortCounters {
  // switch -> TAP (PACKET_IN written to the TAP)
  std::uint64_t to_tap_frames = 0, to_tap_bytes = 0;
  // TAP -> switch (frames the kernel sent, as PACKET_OUT)
  std::uint64_t to_switch_frames = 0, to_switch_bytes = 0;
  // drops, by reason
  std::uint64_t drop_tap_busy = 0;          // the TAP would block (kernel backlog full)
  std::uint64_t drop_tap_error = 0;         // write to the TAP failed
  std::uint64_t drop_truncated = 0;         // PACKET_IN without the whole frame
  std::uint64_t drop_switch_down = 0;       // frame from the TAP while the switch is away
  std::uint64_t drop_send_error = 0;        // PACKET_OUT could not be queued
  std::uint64_t paused_congested = 0;       // times reading paused for a congested switch
  std::uint64_t drop_no_member = 0;         // VLAN TAP frame with no member port up
  LatencyStats to_tap_latency;     // PACKET_IN handed to us -> written to the TAP
  LatencyStats to_switch_latency;  // TAP readable -> PACKET_OUT queued for the switch
};

// A read-only view of one TAP for status output and metrics.
struct PortStatusView {
  std::uint64_t dpid = 0;
  std::string netns;
  std::uint32_t port_no = 0;  // 0 for a VLAN TAP
  std::uint16_t vlan = 0;     // a VLAN TAP's VLAN id, else 0
  std::string port_name;
  std::string interface;
  int ifindex = 0;
  bool carrier = false;
  PortCounters counters;
};

// Control-plane policing of one switch, for status output and metrics.
struct PuntView {
  std::uint64_t dpid = 0;
  std::string netns;
  PuntPolicy policy;
  PuntCounters counters;  // tapflowd's own policing
  bool switch_meters = false;  // the switch polices too (OpenFlow meters)
  // The switch's meters, per class, as last read (every 2 s): packets in, and
  // dropped by the band (arp_nd: its class meter and every port's own).
  std::array<std::uint64_t, kPuntClasses> switch_packets{}, switch_dropped{};
};

// A TAP as other parts see it (routing maps kernel next hops to switch ports).
struct TapPort {
  int ifindex = 0;
  std::uint32_t port_no = 0;  // per-port TAP: the switch port; VLAN TAP: 0
  openflow::MacAddress mac;   // the router's MAC on this port or VLAN
  std::uint16_t vlan = 0;     // VLAN TAP: the VLAN id; per-port TAP: 0
  friend bool operator==(const TapPort&, const TapPort&) = default;
};
// Called on the event loop whenever a switch's set of TAPs (or their MACs)
// changes, and when its namespace is first set up.
using TapPortsListener = std::function<void(std::uint64_t dpid, const std::string& netns,
                                            const std::vector<TapPort>& ports)>;

// Called when a MAC is learned on (or moves to) a VLAN member port, and with
// nullopt when it is forgotten (aged, port down, switch reconnected): where
// `mac` lives behind the VLAN TAP `ifindex`, as (port, frames leave tagged).
using L2LocationListener =
    std::function<void(std::uint64_t dpid, int ifindex, const openflow::MacAddress& mac,
                       std::optional<std::pair<std::uint32_t, bool>> where)>;

struct BridgeCounters {
  std::uint64_t packet_in_unknown_port = 0;  // PACKET_IN for a port with no TAP
  std::uint64_t packet_in_unknown_vlan = 0;  // from a member port, no VLAN TAP to take it
  // VLAN MAC learning, over all switches.
  std::uint64_t learn_packet_ins = 0;  // learning PACKET_INs (never written to a TAP)
  std::uint64_t mac_learned = 0;       // new MACs
  std::uint64_t mac_moves = 0;         // a MAC seen on another port of its VLAN
  std::uint64_t mac_aged = 0;          // eth_src flow expired: MAC forgotten
  std::uint64_t mac_flushed = 0;       // forgotten because its port went down or away
  std::uint64_t mac_table_full = 0;    // not learned: mac_table_size reached
  std::uint64_t mac_refreshed = 0;     // a known MAC's flows sent again (they had gone)
  std::uint64_t mac_restored = 0;      // taken back from the switch's flows (restart, reconnect)
  std::uint64_t vlan_setup_errors = 0;  // 1.0 switch with VLANs, unknown member ports
  std::uint64_t setup_errors = 0;            // namespace/TAP/netlink failures
  std::uint64_t punt_syncs = 0;              // punt flow set recomputed and sent
  // Carrier hold and the fd store.
  std::uint64_t carrier_holds = 0;  // holds started (switch away, or TAPs taken over at start)
  std::uint64_t carrier_hold_expiries = 0;  // holds that ran out: those TAPs lost their carrier
  std::uint64_t taps_adopted = 0;           // TAPs taken over from the fd store (no TUNSETIFF)
  std::uint64_t fdstore_errors = 0;         // stored descriptors unusable, or the store unreachable
  bool fdstore_connected = false;           // a store keeps the TAP descriptors now
};

class TapBridge final : public controller::App {
 public:
  // `store` (optional, not owned, must outlive the bridge) keeps the TAP
  // descriptors across restarts; the bridge takes what it holds at once.
  TapBridge(boost::asio::io_context& io, TapBridgeConfig config, fdstore::FdStore* store = nullptr);
  ~TapBridge() override;
  TapBridge(const TapBridge&) = delete;
  TapBridge& operator=(const TapBridge&) = delete;

  void on_datapath_up(controller::Datapath& dp) override;
  void on_datapath_down(std::uint64_t dpid, const std::string& reason) override;
  void on_datapath_standby(controller::Datapath& dp) override;
  void on_port_status(controller::Datapath& dp, const openflow::PortStatus& ps) override;
  void on_packet_in(controller::Datapath& dp, const openflow::PacketIn& pi) override;
  void on_flow_removed(controller::Datapath& dp, const openflow::FlowRemoved& fr) override;
  void on_error(controller::Datapath& dp, const openflow::OfError& error,
                std::uint32_t xid) override;

  // Live reconfiguration (tapflowctl reload, SIGHUP): the switches' ports
  // (addresses, MTU, MAC, TAP name), their VLANs (members, addresses, TAPs),
  // the punt policers (tapflowd's and the switch's meters) and the carrier
  // hold. Only what changed is touched: the punt and VLAN flows are diffed
  // against what the switch holds, other TAPs keep their carrier and
  // addresses. A switch's namespace (name, netns), MAC table size and aging,
  // and turning VLAN mode on or off on a connected switch keep their running
  // value until a restart; the report names them.
  ReconfigureReport reconfigure(std::vector<SwitchConfig> switches, const PuntPolicy& punt,
                                std::chrono::milliseconds carrier_hold);

  void set_ports_listener(TapPortsListener listener) { ports_listener_ = std::move(listener); }
  void set_l2_listener(L2LocationListener listener) { l2_listener_ = std::move(listener); }
  // Called once per datapath up, when what tapd knows of the switch's learned
  // MACs is complete (VLAN mode: read back from the switch's flows; else at
  // once): routing waits for it before it reconciles, so the next-hop groups
  // it compares with the switch's have their learned ports.
  void set_l2_ready_listener(std::function<void(std::uint64_t dpid)> listener) {
    l2_ready_listener_ = std::move(listener);
  }
  // Learned MACs of a switch's VLAN, for status output and tests.
  std::size_t learned_macs(std::uint64_t dpid) const;
  std::vector<PortStatusView> ports() const;
  std::vector<PuntView> punt() const;
  // Flows tapd keeps in table 0 of this switch (punts), as installed; 0 if unknown.
  std::size_t table0_flows(std::uint64_t dpid) const;
  const BridgeCounters& counters() const { return counters_; }
  // The namespace a datapath uses (configured or default name).
  std::string namespace_for(std::uint64_t dpid) const;
  // A datapath's name (router.switches[].name), else its id as 16 hex digits.
  std::string switch_name(std::uint64_t dpid) const;

 private:
  struct Port;
  struct Switch;

  // switch_for, logging and counting a namespace that cannot be set up.
  Switch* setup_switch(controller::Datapath& dp);
  // Forgets what the last connection sent the switch (a new one reconciles).
  void forget_session(Switch& sw);
  Switch& switch_for(controller::Datapath& dp);
  const SwitchConfig* config_for(std::uint64_t dpid) const;
  void sync_ports(Switch& sw);
  void add_or_update_port(Switch& sw, const openflow::Port& p);
  void remove_port(Switch& sw, std::uint32_t port_no, const std::string& why);
  void remove_stale_taps(Switch& sw);
  bool wanted(const openflow::Port& p) const;
  const PortConfig* port_config(const Switch& sw, const openflow::Port& p) const;
  void update_carrier(Switch& sw, Port& port);
  // A TAP for `name` in the switch's namespace: the fd store's descriptor if
  // it kept a live one, else a new TUNSETIFF; the store gets a dup either way.
  TapDevice open_tap(Switch& sw, const std::string& name);
  // The fd store forgets a TAP before it is removed (a descriptor it keeps
  // would keep a non-persistent TAP alive).
  void forget_stored(const Switch& sw, const std::string& name);
  void start_hold(Switch& sw, const std::string& reason);
  void end_startup_hold();
  void start_reading(Switch& sw, Port& port);
  void on_tap_readable(Switch& sw, Port& port);
  // Reads up to read_batch frames and sends them; false if it paused for a
  // congested switch (reading resumes when the switch drains).
  bool drain_tap(Switch& sw, Port& port, controller::Clock::time_point t0);
  void sync_punts(Switch& sw);
  void publish_ports(Switch& sw);
  openflow::MacAddress router_mac(const Switch& sw, const Port& port) const;
  bool write_to_tap(Switch& sw, Port& port, std::span<const std::uint8_t> frame, bool whole,
                    controller::Clock::time_point t0);
  // VLAN mode (vlan_switch.hpp).
  bool is_member(const Switch& sw, std::uint32_t port_no) const;
  void resolve_vlans(Switch& sw, bool log_unknown);
  void ensure_vlan_taps(Switch& sw);
  void update_vlan_carriers(Switch& sw);
  void sync_vlan_pipeline(Switch& sw);
  // This connection's pipeline (profile) and whether VLAN mode runs on it.
  void choose_pipeline(Switch& sw, const controller::Datapath& dp);
  void send_vlan_groups(Switch& sw, const std::set<std::uint32_t>& existing);
  void learn(Switch& sw, const openflow::PacketIn& pi);
  void flush_port_macs(Switch& sw, std::uint32_t port_no);
  // Deletes the flows of MACs taken out of the table and tells routing.
  void drop_learned(Switch& sw, const MacTable::Flushed& flushed);
  void forget_macs(Switch& sw);
  void restore_learned(Switch& sw);
  // OpenFlow 1.3: one meter per punt class where the switch has them
  // (METER_FEATURES), then the punt flows through them; read every 2 s.
  void setup_meters(Switch& sw);
  void poll_meters(Switch& sw);
  // Each port's own ARP/ND meter, sent where missing; fills port -> meter id.
  void ensure_port_meters(Switch& sw, std::map<std::uint32_t, std::uint32_t>& out);
  void notify_l2(Switch& sw, std::uint16_t vid, const openflow::MacAddress& mac,
                 std::optional<std::pair<std::uint32_t, bool>> where);
  bool send_from_vlan_tap(Switch& sw, Port& port, std::span<const std::uint8_t> frame,
                          controller::SendPriority priority);
  // Classifies a PACKET_IN's frame and takes a token of its class: false if
  // the class's policer drops it.
  bool admit_punt(Switch& sw, std::span<const std::uint8_t> frame);
  void send_flow(Switch& sw, const openflow::FlowMod& fm);
  // reconfigure(), per switch (tap_bridge_reload.cpp).
  void reconfigure_ports(Switch& sw, const SwitchConfig& before, ReconfigureReport& report);
  void reconfigure_vlans(Switch& sw, const SwitchConfig& before, ReconfigureReport& report);
  void reconfigure_punt(Switch& sw);
  // A TAP's MTU, MAC and addresses from `before` to `after` (nullopt/empty:
  // the defaults); what changed goes into `report` under `what`.
  void retune_tap(Switch& sw, Port& port, const std::string& what, std::optional<unsigned> mtu_before,
                  std::optional<unsigned> mtu_after, std::optional<openflow::MacAddress> mac_after,
                  const openflow::MacAddress& default_mac, const std::vector<netns::IpPrefix>& before,
                  const std::vector<netns::IpPrefix>& after, ReconfigureReport& report);
  void remove_vlan_tap(Switch& sw, std::uint16_t vid, const std::string& why);
  // Unregisters a TAP from the fd store and deletes it.
  void close_tap(Switch& sw, Port& port);

  boost::asio::io_context& io_;
  TapBridgeConfig config_;
  fdstore::FdStore* store_ = nullptr;
  // Descriptors the store handed back at start, by "<netns>/<ifname>", until
  // a port claims them; the startup hold drops the carrier of those left.
  std::map<std::string, netns::UniqueFd> stored_;
  boost::asio::steady_timer startup_hold_;
  std::map<std::uint64_t, std::unique_ptr<Switch>> switches_;
  BridgeCounters counters_;
  TapPortsListener ports_listener_;
  L2LocationListener l2_listener_;
  std::function<void(std::uint64_t)> l2_ready_listener_;
};

}  // namespace tapflow::tapd
