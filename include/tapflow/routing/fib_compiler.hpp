// FIB compiler: turns one namespace's kernel routing state (netns::KernelState)
// into the switch's FIB flows and groups (DESIGN.md "The forwarding pipeline").
// Pure logic, no I/O: the daemon feeds it the watcher's state and changes and
// sends what it returns. It never includes tapd: the daemon tells it the
// router ports (TAP ifindex -> switch port, router MAC).
//
// OpenFlow 1.3 (FIB table `fib_table`, reached from tapd's router-MAC flow;
// priorities and cookies: pipeline.hpp, priority::fib and cookie::kRoute...):
//   priority 1000 + 2*len      a route's prefix (eth_type + ipv4_dst/ipv6_dst masked)
//                              -> group, CONTROLLER or drop (see below);
//   priority 1000 + 2*len + 1  a resolved neighbour in a connected subnet of
//                              length `len`, as a /32 (/128) -> its indirect group.
//                              Sits above its subnet and below any longer route,
//                              so the switch's longest match equals the kernel's;
//   priority 0                 miss -> CONTROLLER (the kernel answers: ICMP, ARP).
//   IPv4 and IPv6 flows never overlap: eth_type differs.
// Groups: one INDIRECT group per next hop (TAP ifindex, gateway or host IP):
//   resolved neighbour -> [eth_src=port MAC, eth_dst=neighbour MAC, dec_nw_ttl,
//   output:port]; unresolved (no entry, NUD none/incomplete/failed, NOARP, or a
//   multicast/broadcast MAC) -> [output:CONTROLLER], so the kernel resolves it
//   and forwards. Routes always point at the group: a neighbour appearing,
//   failing or changing its MAC rewrites one group and no flow (this is how
//   "unresolved routes go to the controller" is done without touching routes).
//   Inline multipath routes: a SELECT group with one bucket [group:indirect] per
//   next hop (weight = kernel weight), shared by routes with the same list.
//   Routes via a kernel nexthop object (FRR's nhid): a SELECT group per object
//   with the object's (flattened) next hops as buckets; an object change
//   rewrites that group only. Blackhole object: no buckets (drops); unknown
//   object or no next hop through a router port: [output:CONTROLLER].
// VLAN router ports (RouterPort.vlan != 0, one TAP per VLAN; tapd pops the
//   tag before the FIB, so packets reach fib_table untagged): a resolved
//   neighbour's indirect group depends on where tapd learned its MAC in the
//   VLAN (set_l2_location): known -> [eth_src, eth_dst, dec_nw_ttl, (tagged
//   egress: push_vlan 0x8100, set_field vlan_vid=vid|OFPVID_PRESENT), output:
//   the learned port]; unknown -> [output:CONTROLLER] (the kernel forwards
//   through the VLAN TAP, tapd floods in the VLAN, the reply teaches the
//   location). A location change rewrites only the groups of neighbours on
//   that TAP with that MAC; flows never change (they point at the group).
//   Locations are kept per (TAP, MAC), not per route, and survive compile()
//   and set_ports().
// Route types: unicast as above; blackhole -> a drop flow (empty instructions:
//   the kernel would drop too, and a covering route must not catch it);
//   unreachable/prohibit -> CONTROLLER (the kernel sends the ICMP error; ignoring
//   them would let a covering route forward what the kernel refuses); local,
//   broadcast, anycast, multicast, throw, ... -> no flow.
// Ignored: routes in tables not in `tables`, tos != 0, destinations in
//   fe80::/10 or multicast, next hops marked RTNH_F_DEAD or leaving through an
//   interface not in RouterPorts (a route with none left gets no flow). A
//   connected subnet (one next hop without gateway) goes to CONTROLLER so the
//   kernel ARPs; its resolved neighbours get host flows. A multipath route with
//   a gateway-less next hop goes to CONTROLLER. Several routes for one prefix:
//   the first table in `tables`, then the lowest metric, wins.
//
// OpenFlow 1.0 (no groups, one table): the same flows go to table 0 beside
// tapd's (between its router-MAC flow at 100 and its local flow at 39000) with
// the first next hop's actions inlined: [eth_src, eth_dst, output] or
// CONTROLLER. Not done on 1.0: TTL decrement (no standard 1.0 action; the
// kernel's TTL handling is lost for switch-forwarded packets), IPv6 (1.0
// cannot match it; tapd punts IPv6 to the router MAC to the kernel), ECMP (first
// next hop only). Trade-off: 1.0 FIB flows match eth_type + nw_dst but not the
// router MAC (matching it needs one flow per route and port); a frame with a
// routed destination that was not sent to the router (flooded unknown unicast
// on a shared segment) is routed too. On an L3-only switch such frames are rare.
// VLAN mode is 1.3 only: on 1.0, ports with vlan != 0 are not router ports (no
// flows or groups through them; routes via them are ignored as for any other
// non-router interface) and set_l2_location() only records the location.
// The 1.3 miss flow is not installed on 1.0: tapd's router-MAC flow already
// sends the rest to the controller.
//
// Switch profiles (FibOptions, from pipeline/profile.hpp) take 1.3 switches
// part of the way there: fib_table 0 is the one-table layout above (flows in
// table 0 matching no router MAC, no miss flow) for switches whose fast path
// ends at goto-table; groups false inlines the first next hop's actions in
// each flow (with dec_nw_ttl and VLAN tagging where they apply); dec_ttl
// false leaves the TTL alone; select_groups false chains a multipath route's
// group to its first next hop's.
//
// Scale: per route the compiler keeps a 16-byte (IPv4) or 32-byte (IPv6) slot
// in an open-addressing table ({prefix, group id, action}); FlowMods are
// rendered on demand. Changes apply incrementally and yield a FibDiff. VLAN
// locations cost one small map entry per learned MAC (bounded by tapd's MAC
// table), nothing per route.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "tapflow/netns/ip.hpp"
#include "tapflow/netns/kernel_state.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/pipeline/pipeline.hpp"

namespace tapflow::routing {

// A switch port (per-port mode) or a VLAN (VLAN mode) backed by a TAP in the
// router namespace.
struct RouterPort {
  std::uint32_t port_no = 0;  // per-port mode: the switch port; VLAN mode: 0
  openflow::MacAddress mac;   // the router's MAC on that port / VLAN (the TAP's)
  std::uint16_t vlan = 0;     // VLAN mode: the VLAN id (1..4094); 0 = per-port mode
  friend bool operator==(const RouterPort&, const RouterPort&) = default;
};
using RouterPorts = std::map<int, RouterPort>;  // by TAP ifindex

// Where a MAC was learned inside a VLAN: the switch port, and whether frames
// leave it tagged.
struct L2Location {
  std::uint32_t port_no = 0;
  bool tagged = false;
  friend bool operator==(const L2Location&, const L2Location&) = default;
};

// What the switch's profile (pipeline/profile.hpp) lets the FIB use. On 1.0
// the compiler always works as if fib_table were 0, groups, dec_ttl and ipv6
// false.
struct FibOptions {
  std::uint8_t version = openflow::kVersion13;
  // 1.3: the FIB table; 0: one table for everything (the 1.0 layout: flows in
  // table 0 beside tapd's, no miss flow, tapd's router-MAC flow catches the rest).
  std::uint8_t fib_table = pipeline::table::kFib;
  std::vector<std::uint32_t> tables{254};        // route tables followed, in precedence order
  // false: no GROUP_MODs; every flow carries its first next hop's actions
  // inline (as on 1.0), so a neighbour's MAC change rewrites its routes' flows.
  bool groups = true;
  // false (groups true): a multipath route's group (inline ECMP or a nexthop
  // object) is an INDIRECT group chained to its first next hop's group.
  bool select_groups = true;
  bool dec_ttl = true;  // DEC_NW_TTL before output (1.3)
  bool ipv6 = true;     // IPv6 routes and hosts become flows (never on 1.0)
  friend bool operator==(const FibOptions&, const FibOptions&) = default;
};

enum class FibAction : std::uint8_t { kGroup = 1, kController = 2, kDrop = 3 };
enum class FibFlowKind : std::uint8_t { kRoute = 1, kHost = 2, kMiss = 3 };

// One FIB flow in compact form; FibCompiler::render() makes the FlowMod.
struct FibFlow {
  FibFlowKind kind = FibFlowKind::kRoute;
  netns::IpPrefix prefix;  // unset (family 0) for the miss flow
  std::uint16_t priority = 0;
  FibAction action = FibAction::kController;
  std::uint32_t group = 0;  // kGroup only
  auto operator<=>(const FibFlow&) const = default;
};

// What one compile or update changed. Send in this order so no flow ever
// points at a missing group: groups_added (indirect before select),
// groups_changed, flows_added, flows_changed, flows_removed, groups_removed
// (select before indirect). On 1.0 the group lists stay empty; flows whose
// inlined next hop changed are in flows_changed. Order within a list follows
// the compiler's hash tables (deterministic for the same history).
struct FibDiff {
  std::vector<std::uint32_t> groups_added, groups_changed, groups_removed;
  std::vector<FibFlow> flows_added, flows_changed, flows_removed;
  bool empty() const;
  std::size_t size() const;
};

// The desired state, rendered: for tests, reconciliation and small tables.
struct FibSnapshot {
  std::map<std::uint32_t, openflow::GroupMod> groups;  // ADD commands; none on 1.0
  std::vector<openflow::FlowMod> flows;                 // ADD, priority desc then match
};

// What a group stands for; the allocator keeps its id while it exists.
struct GroupKey {
  enum Kind : std::uint8_t { kIndirect = 1, kSelect = 2, kNexthopObject = 3 };
  Kind kind = kIndirect;
  int ifindex = 0;          // kIndirect
  netns::IpAddress ip;      // kIndirect: gateway or connected host
  std::uint32_t nhid = 0;   // kNexthopObject
  std::vector<std::pair<std::uint32_t, std::uint8_t>> members;  // kSelect: (indirect id, weight)
  auto operator<=>(const GroupKey&) const = default;
};

// Stable group ids: a key keeps its id while it exists; freed ids are reused
// (lowest first) only after end_batch(), so one diff never deletes and re-adds
// the same id with another meaning.
class GroupIdAllocator {
 public:
  std::uint32_t id_for(const GroupKey& key);  // existing id, or a new one
  std::optional<std::uint32_t> find(const GroupKey& key) const;
  void release(const GroupKey& key);  // the id becomes reusable after end_batch()
  void end_batch();
  std::size_t size() const { return ids_.size(); }

 private:
  std::map<GroupKey, std::uint32_t> ids_;
  std::set<std::uint32_t> free_, pending_;
  std::uint32_t next_ = 1;
};

// Compiles KernelState into FIB flows and groups, keeps the result and updates
// it from the watcher's Changes.
class FibCompiler {
 public:
  FibCompiler(FibOptions options, RouterPorts ports);
  ~FibCompiler();
  FibCompiler(const FibCompiler&) = delete;
  FibCompiler& operator=(const FibCompiler&) = delete;

  // Everything from `state`; the diff is against the previous result (all
  // added the first time). Group ids of surviving keys are kept.
  FibDiff compile(const netns::KernelState& state);
  // Applies one batch of changes; changes.full_resync means compile(state).
  FibDiff update(const netns::KernelState& state, const netns::Changes& changes);
  // New router ports (added, removed, MAC changed): a full compile.
  FibDiff set_ports(RouterPorts ports, const netns::KernelState& state);
  // Sets (where engaged) or clears where `mac` lives behind the VLAN TAP
  // `ifindex`; rewrites the indirect groups (1.3) of neighbours on that TAP
  // with that MAC (groups_changed only). The location is kept even when no
  // such neighbour or port exists yet, and across compile()/set_ports().
  FibDiff set_l2_location(int ifindex, const openflow::MacAddress& mac,
                          std::optional<L2Location> where, const netns::KernelState& state);

  openflow::FlowMod render(const FibFlow& flow,
                           std::uint8_t command = openflow::flow_mod_command::kAdd) const;
  // 1.3 only; `id` must exist (in groups_added/changed or the snapshot).
  openflow::GroupMod render_group(std::uint32_t id,
                                  std::uint16_t command = openflow::group_mod_command::kAdd) const;
  // A removed group: just the id (DELETE needs no buckets).
  static openflow::GroupMod delete_group(std::uint32_t id);

  std::vector<FibFlow> flows() const;  // compact, sorted by (priority desc, prefix)
  FibSnapshot snapshot() const;
  // Ids of every group the switch should hold (1.3; empty on 1.0), ascending.
  std::vector<std::uint32_t> group_ids() const;
  std::size_t flow_count() const;
  std::uint8_t table_id() const;  // the table FIB flows go to (0 in the one-table layout)
  // Compression (fib_compress.hpp): the route flows become the smallest set
  // of prefixes this compressor finds that forwards exactly as the routes do
  // (same next hop merged, covered prefixes dropped; connected subnets kept
  // as they are, for their host flows). Kept up to date by every later diff.
  // The diff moves the switch from one form to the other.
  FibDiff set_compress(bool on);
  bool compressing() const;
  std::size_t route_count() const;              // route flows before compression
  std::size_t uncompressed_flow_count() const;  // flow_count() were compression off
  bool uses_groups() const;       // GROUP_MODs are sent (1.3 with groups)
  std::size_t group_count() const;  // groups the switch holds (0 on 1.0)
  std::size_t memory_bytes() const;  // approximate heap used by the compiler's state
  const FibOptions& options() const { return options_; }

 private:
  struct Impl;
  FibOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapflow::routing
