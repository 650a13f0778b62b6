// VLAN switching for routed VLAN interfaces (OpenFlow 1.3 only). Pure logic:
// the flows and groups of the VLAN pipeline, the flows of a learned MAC, the
// PACKET_OUT actions for frames from a VLAN TAP, 802.1Q tag handling, and the
// MAC table. TapBridge does the I/O.
//
// Tables: 0 ingress, l2_table (eth_src: learning), l2_table + 1 (eth_dst),
// then the FIB (fib_table > l2_table + 1: GotoTable only goes forward).
// Priorities, cookies and flood group ids: pipeline.hpp (priority::vlan,
// cookie::kVlan*/kLearned*, flood_group_id).
//   table 0, 50000: untagged member p of VLAN v: in_port=p, no tag -> push tag v,
//                   goto l2_table; tagged member: in_port=p, vid=v -> goto l2_table;
//            49000: any member port: in_port=p -> drop (wrong or missing tag).
//   l2_table, 100:  learned vid=v, eth_src=m, in_port=p -> goto eth_dst table
//                   (idle timeout = MAC aging, FLOW_REMOVED on expiry);
//             0:    miss -> CONTROLLER (a learning PACKET_IN, recognised by its
//                   cookie, never written to a TAP) + goto eth_dst table.
//   eth_dst table, per VLAN v with router MAC R:
//             40000/39000: eth_dst=R and ARP/IPv4/IPv6 for one of our addresses
//                   -> CONTROLLER (tagged: tapd picks the VLAN TAP by the vid);
//             30000: eth_dst=R, IPv4/IPv6 -> pop tag, in_port=0 (routing back
//                   out of the ingress trunk must not count as output to the
//                   input port), metadata=v, goto FIB (FIB PACKET_INs carry
//                   the metadata: tapd picks the VLAN TAP by it);
//             29000: eth_dst=R -> CONTROLLER;
//             20000: learned vid=v, eth_dst=m -> [pop tag if untagged] output p;
//             10:   vid=v, multicast/broadcast -> group flood+router of v;
//             5:    vid=v -> group flood of v (unknown unicast).
// Flood groups (ALL): a bucket per member port (untagged: pop tag, output;
// tagged: output); flood+router adds a CONTROLLER bucket. The switch never
// sends a bucket back out of the ingress port.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "tapflow/netns/ip.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/pipeline/pipeline.hpp"

namespace tapflow::tapd {

// One VLAN as the switch has it now: member ports present on the switch.
struct VlanMembers {
  std::uint16_t vid = 0;
  openflow::MacAddress router_mac;
  std::vector<std::uint32_t> untagged;
  std::vector<std::uint32_t> tagged;
  friend bool operator==(const VlanMembers&, const VlanMembers&) = default;
};

struct VlanPipelineInputs {
  std::vector<VlanMembers> vlans;
  std::vector<netns::IpAddress> addresses;  // every local address in the namespace
  std::uint8_t l2_table = 1;
  // Routed traffic to the router MAC continues here; unset: CONTROLLER.
  std::optional<std::uint8_t> fib_table;
  // Clear in_port before the FIB (Nicira reg_load: Open vSwitch only), so
  // traffic routed between two VLANs of one trunk may leave by the port it
  // came in on. Without it a switch drops such traffic.
  bool clear_in_port = true;
};

// The static flows (classification, router MAC, flooding, learning miss) as
// FLOW_MOD ADDs, sorted by (table, priority desc, match), no duplicates.
std::vector<openflow::FlowMod> vlan_flows(const VlanPipelineInputs& in);
// The flood groups of every VLAN as GROUP_MOD ADDs, by group id.
std::map<std::uint32_t, openflow::GroupMod> vlan_groups(const VlanPipelineInputs& in);

// Where a MAC was learned: the member port, and whether frames leave it tagged.
struct MacLocation {
  std::uint32_t port_no = 0;
  bool tagged = false;
  friend bool operator==(const MacLocation&, const MacLocation&) = default;
};

// The flow pair of a learned MAC: eth_src in l2_table (idle timeout `aging`,
// SEND_FLOW_REM, cookie kLearnedSrc | generation) and eth_dst in
// l2_table + 1 (cookie kLearnedDst | generation).
std::pair<openflow::FlowMod, openflow::FlowMod> learned_flows(std::uint16_t vid,
                                                              const openflow::MacAddress& mac,
                                                              MacLocation where, std::uint16_t aging,
                                                              std::uint8_t l2_table,
                                                              std::uint64_t generation);
// DELETE_STRICTs for the pair of that generation (exact cookie, so a newer
// flow of the same MAC is left alone).
std::pair<openflow::FlowMod, openflow::FlowMod> learned_flow_deletes(std::uint16_t vid,
                                                                     const openflow::MacAddress& mac,
                                                                     MacLocation where,
                                                                     std::uint8_t l2_table,
                                                                     std::uint64_t generation);
// A DELETE of every learned flow in every table (the switch's learned flows
// could not be read back: relearn).
openflow::FlowMod learned_flows_wipe();

// A learned flow the switch holds, as learned_flows() spelled it: the eth_src
// flow (l2_table; in_port, tagged vlan_vid, eth_src) or the eth_dst flow
// (l2_table + 1; tagged vlan_vid, eth_dst), with the generation from its
// cookie. Anything else of the learned cookie class: nullopt.
struct LearnedFlow {
  bool src = true;            // eth_src flow (else eth_dst)
  std::uint16_t vid = 0;
  openflow::MacAddress mac;
  std::uint32_t port_no = 0;  // eth_src flows only
  std::uint64_t generation = 0;
  friend bool operator==(const LearnedFlow&, const LearnedFlow&) = default;
};
std::optional<LearnedFlow> parse_learned_flow(std::uint64_t cookie, std::uint8_t table_id,
                                              const openflow::Match& match, std::uint8_t l2_table);

// PACKET_OUT actions for a frame from a VLAN TAP: to a learned location, or
// flooded (untagged members first, then tag pushed for the tagged ones).
openflow::ActionList unicast_actions(std::uint16_t vid, MacLocation where);
openflow::ActionList flood_actions(std::uint16_t vid, std::span<const std::uint32_t> untagged,
                                   std::span<const std::uint32_t> tagged);

// Where a PACKET_IN goes. `vlan_mode`: the switch runs VLANs; `member`: its
// in_port is a VLAN member port; `metadata`: the match's metadata, if any.
//   learning cookie from a member port     -> kLearn (never to a TAP);
//   tagged frame from a member port         -> kVlanTap, vid = the tag, strip it;
//   metadata with a VLAN id (FIB, untagged) -> kVlanTap, vid = metadata & 0xfff;
//   otherwise from a member port            -> kUnknownVlan (dropped, counted);
//   otherwise                               -> kPerPort (the in_port's TAP).
struct PacketInRoute {
  enum class Kind { kPerPort, kLearn, kVlanTap, kUnknownVlan };
  Kind kind = Kind::kPerPort;
  std::uint16_t vid = 0;
  bool strip_tag = false;
  friend bool operator==(const PacketInRoute&, const PacketInRoute&) = default;
};
PacketInRoute route_packet_in(bool vlan_mode, bool member, std::uint64_t cookie,
                              std::span<const std::uint8_t> frame,
                              std::optional<std::uint64_t> metadata);

// 802.1Q: the VLAN id of a tagged frame (TPID 0x8100), else nullopt.
std::optional<std::uint16_t> frame_vlan(std::span<const std::uint8_t> frame);
// The frame without its outer 802.1Q tag (unchanged if it has none).
void strip_vlan_tag(std::span<const std::uint8_t> frame, openflow::Bytes& out);
// The source MAC of a frame (nullopt if shorter than an Ethernet header).
std::optional<openflow::MacAddress> frame_source(std::span<const std::uint8_t> frame);
std::optional<openflow::MacAddress> frame_destination(std::span<const std::uint8_t> frame);

// The router MAC of a VLAN when none is configured: locally administered,
// 02:dd:dd:dd:vv:vv from the datapath id's low 24 bits and the VLAN id.
openflow::MacAddress default_vlan_mac(std::uint64_t dpid, std::uint16_t vid);

struct MacTableCounters {
  std::uint64_t learned = 0;     // new entries
  std::uint64_t moves = 0;       // a known MAC seen on another port
  std::uint64_t aged = 0;        // entries whose eth_src flow expired or was removed
  std::uint64_t table_full = 0;  // MACs not learned because the table was full
};

// The learned MACs of one switch, per VLAN, bounded. Each entry has a
// generation, carried in its flows' cookies, so a FLOW_REMOVED of an older
// flow of the same MAC (after a move) never removes the newer entry.
class MacTable {
 public:
  struct Entry {
    MacLocation where;
    std::uint64_t generation = 0;
    std::uint64_t refreshed_ns = 0;  // when its flows were last (re)sent; see refresh_due()
  };
  enum class Outcome { kNew, kMoved, kKnown, kFull, kIgnored };
  // Entries taken out of the table, with their (VLAN, MAC).
  using Flushed = std::vector<std::pair<std::pair<std::uint16_t, openflow::MacAddress>, Entry>>;
  struct Learned {
    Outcome outcome = Outcome::kIgnored;
    std::optional<MacLocation> old;  // kMoved: where it was
    std::uint64_t generation = 0;    // kNew/kMoved: the new entry's
  };

  // Generations start at `first_generation` (masked to 40 bits): give each
  // process another start (e.g. the clock), so a FLOW_REMOVED for a flow an
  // earlier tapflowd installed never matches an entry of this one.
  explicit MacTable(std::size_t limit, std::uint64_t first_generation = 1)
      : limit_(limit),
        next_generation_((first_generation & pipeline::cookie::kGenerationMask) | 1) {}

  // A frame from `mac` arrived at `where` in VLAN `vid`. Multicast, zero and
  // the router's own MAC are never learned.
  Learned learn(std::uint16_t vid, const openflow::MacAddress& mac, MacLocation where,
                const openflow::MacAddress& router_mac);
  // The eth_src flow with this cookie's generation is gone (aged, deleted):
  // removes the entry if it still is that generation.
  std::optional<Entry> expire(std::uint16_t vid, const openflow::MacAddress& mac,
                              std::uint64_t generation);
  // Takes back an entry whose flows the switch still holds (after a restart
  // or reconnect), with their generation. False (nothing changed) if the MAC
  // is known already or the table is full.
  bool restore(std::uint16_t vid, const openflow::MacAddress& mac, MacLocation where,
               std::uint64_t generation, std::uint64_t now_ns);
  // Forgets every entry at a port (it went down or away); returns them.
  Flushed flush_port(std::uint32_t port_no);
  // Forgets every entry of a VLAN (it is no longer configured); returns them.
  Flushed flush_vlan(std::uint16_t vid);
  // Forgets the entries `pred` picks; returns them.
  Flushed flush_if(const std::function<bool(std::uint16_t vid, const Entry&)>& pred);
  const Entry* find(std::uint16_t vid, const openflow::MacAddress& mac) const;
  // A learning PACKET_IN for a MAC already at that place means its eth_src
  // flow is missing (deleted behind our back) or not installed yet: true
  // (and noted) if its flows were last sent `interval_ns` or more before
  // `now_ns`, so they are sent again at most that often.
  bool refresh_due(std::uint16_t vid, const openflow::MacAddress& mac, std::uint64_t now_ns,
                   std::uint64_t interval_ns);
  void mark_refreshed(std::uint16_t vid, const openflow::MacAddress& mac, std::uint64_t now_ns);
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }
  const MacTableCounters& counters() const { return counters_; }
  const std::map<std::pair<std::uint16_t, openflow::MacAddress>, Entry>& entries() const {
    return entries_;
  }

 private:
  std::uint64_t next_generation();

  std::size_t limit_;
  std::map<std::pair<std::uint16_t, openflow::MacAddress>, Entry> entries_;
  std::uint64_t next_generation_;
  MacTableCounters counters_;
};

// The PACKET_OUT actions for a frame the kernel sent out of VLAN `m`'s TAP:
// to the port its destination MAC was learned on (unicast_actions), else
// (broadcast, multicast, not learned) flooded to the member ports that are up
// (flood_actions). Empty: no member port is up.
openflow::ActionList vlan_tap_actions(const VlanMembers& m, std::span<const std::uint8_t> frame,
                                      const MacTable& macs,
                                      const std::map<std::uint32_t, bool>& port_up);

}  // namespace tapflow::tapd
