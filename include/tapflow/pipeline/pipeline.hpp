// The switch pipeline contract: the one place tapd and routing agree on table
// ids, priority bands, cookie classes, group and meter ids (DESIGN.md "The
// forwarding pipeline"). Beneath both; they never include each other.
//
// What never varies between switches (cookies, priorities, tapd's group and
// meter ids: what a reconcile recognises as its own) is a constant here;
// what a switch's profile may change (which tables, which group ids routing
// owns) is a Pipeline value, one per switch, checked by validate().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace tapflow::pipeline {

// An inclusive range of group or meter ids.
struct IdRange {
  std::uint32_t first = 0, last = 0;
  constexpr bool empty() const { return last < first; }
  constexpr bool contains(std::uint32_t id) const { return first <= id && id <= last; }
  constexpr bool overlaps(const IdRange& o) const {
    return !empty() && !o.empty() && first <= o.last && o.first <= last;
  }
  friend constexpr bool operator==(const IdRange&, const IdRange&) = default;
};

// Flows whose cookie & mask == value belong to one owner, which reconciles
// them (FlowSync, FibProgrammer) and leaves every other cookie alone.
struct CookieClass {
  std::string_view name;
  std::uint64_t value = 0, mask = 0;
  constexpr bool owns(std::uint64_t cookie) const { return (cookie & mask) == value; }
  // Some cookie belongs to both.
  constexpr bool overlaps(const CookieClass& o) const {
    const std::uint64_t common = mask & o.mask;
    return (value & common) == (o.value & common);
  }
};

// The flows of one kind in one table: priorities from lowest to highest.
struct Band {
  std::string_view name;
  std::uint16_t lowest = 0, highest = 0;
};

// The name of the first class that overlaps an earlier one; empty: disjoint.
constexpr std::string_view overlapping(std::span<const CookieClass> classes) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (classes[i].overlaps(classes[j])) return classes[i].name;
    }
  }
  return {};
}

// The bands of one table, listed highest first, must each lie strictly below
// the one before (a packet matching flows of two bands hits the earlier).
// The name of the first band out of order; empty: ordered.
constexpr std::string_view misordered(std::span<const Band> bands) {
  for (std::size_t i = 0; i < bands.size(); ++i) {
    if (bands[i].lowest > bands[i].highest) return bands[i].name;
    if (i > 0 && bands[i].highest >= bands[i - 1].lowest) return bands[i].name;
  }
  return {};
}

// Tables. Every packet starts in table 0; GotoTable only goes forward.
namespace table {
inline constexpr std::uint8_t kIngress = 0;  // tapd: punt flows, VLAN classification; 1.0: all
inline constexpr std::uint8_t kL2 = 1;       // VLAN mode: learning (eth_src); kL2 + 1: eth_dst
inline constexpr std::uint8_t kFib = 1;      // routing's FIB (OpenFlow 1.3)
inline constexpr std::uint8_t kLast = 254;   // 255 is OFPTT_ALL
}  // namespace table

// Cookies: the owner's class in the top 16 bits, a sub-class in the next 8
// (tapd's VLAN flows: in the next 4, with 4 more of detail).
namespace cookie {
inline constexpr std::uint64_t kClassMask = 0xffff000000000000ULL;
inline constexpr std::uint64_t kSubclassMask = 0xffffff0000000000ULL;

// tapd: class 0x7461 ("ta").
inline constexpr std::uint64_t kTapd = 0x7461000000000000ULL;
inline constexpr std::uint64_t kPunt = 0x7461000000000000ULL;  // sub-class 0: punt flows
// VLAN flows: the static ones share the nibble 0x1 (one FlowSync), learned
// ones the nibble 0x2.
inline constexpr std::uint64_t kVlanFlowsMask = 0xfffff00000000000ULL;
inline constexpr std::uint64_t kVlanStatic = 0x7461100000000000ULL;
inline constexpr std::uint64_t kVlanClassify = 0x7461100000000000ULL;
inline constexpr std::uint64_t kVlanRouter = 0x7461110000000000ULL;
inline constexpr std::uint64_t kVlanFlood = 0x7461120000000000ULL;
inline constexpr std::uint64_t kVlanLearnMiss = 0x7461130000000000ULL;
inline constexpr std::uint64_t kLearned = 0x7461200000000000ULL;
inline constexpr std::uint64_t kLearnedSrc = 0x7461200000000000ULL;
inline constexpr std::uint64_t kLearnedDst = 0x7461210000000000ULL;
// The low 40 bits of a learned flow's cookie: the MAC table entry's generation.
inline constexpr std::uint64_t kGenerationMask = 0x000000ffffffffffULL;

// routing: class 0x726f ("ro").
inline constexpr std::uint64_t kRouting = 0x726f000000000000ULL;
inline constexpr std::uint64_t kRoute = 0x726f010000000000ULL;    // a route's prefix
inline constexpr std::uint64_t kHost = 0x726f020000000000ULL;     // a connected host
inline constexpr std::uint64_t kFibMiss = 0x726f030000000000ULL;  // FIB miss (1.3)
}  // namespace cookie

// The owners, and the sets of flows each reconciles on its own: disjoint.
inline constexpr CookieClass kCookieClasses[] = {
    {"tapd", cookie::kTapd, cookie::kClassMask},
    {"routing", cookie::kRouting, cookie::kClassMask},
};
inline constexpr CookieClass kTapdCookieClasses[] = {
    {"punt", cookie::kPunt, cookie::kSubclassMask},
    {"vlan static", cookie::kVlanStatic, cookie::kVlanFlowsMask},
    {"learned", cookie::kLearned, cookie::kVlanFlowsMask},
};
inline constexpr CookieClass kRoutingCookieClasses[] = {
    {"route", cookie::kRoute, cookie::kSubclassMask},
    {"host", cookie::kHost, cookie::kSubclassMask},
    {"miss", cookie::kFibMiss, cookie::kSubclassMask},
};
static_assert(overlapping(kCookieClasses).empty());
static_assert(overlapping(kTapdCookieClasses).empty());
static_assert(overlapping(kRoutingCookieClasses).empty());

// Priorities. The order rules are the bands below (k*Bands).
namespace priority {
// tapd's punt flows: table 0 (per-port mode), and the address punts of a
// VLAN's eth_dst table.
namespace punt {
inline constexpr std::uint16_t kPortNd = 40101;    // with meters: ND through a port's own meter
inline constexpr std::uint16_t kRouting = 40100;   // with meters: the routing protocols
inline constexpr std::uint16_t kControl = 40000;   // ARP/ND/routing-protocol multicast
inline constexpr std::uint16_t kLocal = 39000;     // to our own addresses
inline constexpr std::uint16_t kRouterMac = 100;   // to a port MAC: FIB or controller
inline constexpr std::uint16_t kDrop = 0;
}  // namespace punt
// tapd's VLAN pipeline (vlan_switch.hpp).
namespace vlan {
inline constexpr std::uint16_t kClassify = 50000;       // table 0: a member port's VLAN
inline constexpr std::uint16_t kClassifyDrop = 49000;   // table 0: a member port, wrong tag
inline constexpr std::uint16_t kRouterRoute = 30000;    // eth_dst: routed -> FIB
inline constexpr std::uint16_t kRouterOther = 29000;    // eth_dst: rest to the router MAC
inline constexpr std::uint16_t kLearned = 20000;        // eth_dst: a learned MAC
inline constexpr std::uint16_t kLearnedSrc = 100;       // l2: a learned source
inline constexpr std::uint16_t kFloodMulticast = 10;    // eth_dst
inline constexpr std::uint16_t kFloodUnknown = 5;       // eth_dst
inline constexpr std::uint16_t kLearnMiss = 0;          // l2
}  // namespace vlan
// routing's FIB: by prefix length, so the switch's longest match is the
// kernel's. A connected subnet's hosts sit between its own route and any
// longer one.
namespace fib {
inline constexpr std::uint16_t kBase = 1000;
inline constexpr std::uint16_t kMiss = 0;
constexpr std::uint16_t route(unsigned len) { return static_cast<std::uint16_t>(kBase + 2 * len); }
constexpr std::uint16_t host(unsigned subnet_len) {
  return static_cast<std::uint16_t>(kBase + 2 * subnet_len + 1);
}
inline constexpr std::uint16_t kHighest = host(128);
static_assert(route(24) < host(24) && host(24) < route(25));
}  // namespace fib
}  // namespace priority

// The bands of each table, highest first (misordered() checks them).
// Table 0. VLAN classification first: a member port's frames must take its
// VLAN (or be dropped) before any punt flow, which match no port, sees them.
// The routing protocols' metered punts above the general ones, so a flood of
// ARP never takes their meter (a port's own ND meter just above the routing
// class's ND flows, which match the same frames). Traffic to our own addresses above the FIB
// (OpenFlow 1.0 puts the FIB in table 0): a covering route must not forward
// it. The FIB above the router-MAC flow, which sends the rest to the kernel
// (1.0: its FIB flows do not match the router MAC). The drop-all miss last.
inline constexpr Band kIngressBands[] = {
    {"vlan classify", priority::vlan::kClassify, priority::vlan::kClassify},
    {"vlan classify drop", priority::vlan::kClassifyDrop, priority::vlan::kClassifyDrop},
    {"punt routing", priority::punt::kRouting, priority::punt::kPortNd},
    {"punt control", priority::punt::kControl, priority::punt::kControl},
    {"punt local", priority::punt::kLocal, priority::punt::kLocal},
    {"fib (1.0)", priority::fib::route(0), priority::fib::kHighest},
    {"punt router mac", priority::punt::kRouterMac, priority::punt::kRouterMac},
    {"punt drop", priority::punt::kDrop, priority::punt::kDrop},
};
// VLAN learning (l2_table): a learned source passes; the miss copies the
// frame to the controller to learn it.
inline constexpr Band kL2Bands[] = {
    {"vlan learned src", priority::vlan::kLearnedSrc, priority::vlan::kLearnedSrc},
    {"vlan learn miss", priority::vlan::kLearnMiss, priority::vlan::kLearnMiss},
};
// VLAN eth_dst (l2_table + 1): the router's own traffic by address before
// routed traffic goes to the FIB; the rest to the router MAC after it; known
// MACs before flooding, multicast flooding (to the router too) before the
// catch-all flood of unknown unicast.
inline constexpr Band kEthDstBands[] = {
    {"punt control", priority::punt::kControl, priority::punt::kControl},
    {"punt local", priority::punt::kLocal, priority::punt::kLocal},
    {"vlan router route", priority::vlan::kRouterRoute, priority::vlan::kRouterRoute},
    {"vlan router other", priority::vlan::kRouterOther, priority::vlan::kRouterOther},
    {"vlan learned", priority::vlan::kLearned, priority::vlan::kLearned},
    {"vlan flood multicast", priority::vlan::kFloodMulticast, priority::vlan::kFloodMulticast},
    {"vlan flood unknown", priority::vlan::kFloodUnknown, priority::vlan::kFloodUnknown},
};
// The FIB table (1.3): routes and hosts, then the miss to the controller.
inline constexpr Band kFibBands[] = {
    {"fib", priority::fib::route(0), priority::fib::kHighest},
    {"fib miss", priority::fib::kMiss, priority::fib::kMiss},
};
static_assert(misordered(kIngressBands).empty());
static_assert(misordered(kL2Bands).empty());
static_assert(misordered(kEthDstBands).empty());
static_assert(misordered(kFibBands).empty());

// Groups. Groups carry no cookie: an owner recognises its own by id range.
namespace group {
// tapd's VLAN flood groups: kFloodFirst | vid << 1 | with-router.
inline constexpr std::uint32_t kFloodFirst = 0x74000000;
inline constexpr std::uint32_t kFloodLast = kFloodFirst | (4095u << 1) | 1u;
// routing's next-hop groups (by default): everything below tapd's.
inline constexpr std::uint32_t kFibFirst = 1;
inline constexpr std::uint32_t kFibLast = kFloodFirst - 1;
inline constexpr std::uint32_t kMax = 0xffffff00;  // OFPG_MAX
}  // namespace group
inline constexpr IdRange kFloodGroups{group::kFloodFirst, group::kFloodLast};
constexpr std::uint32_t flood_group_id(std::uint16_t vid, bool with_router) {
  return group::kFloodFirst | (std::uint32_t{vid} << 1) | (with_router ? 1u : 0u);
}

// Meters (tapd's control-plane policing, 1.3): one per punt class from
// kPuntBase ("ta", like the cookies), and a port's own ARP/ND meter at
// kPortNdBase + port number.
namespace meter {
inline constexpr std::uint32_t kPuntBase = 0x7461;
inline constexpr std::uint32_t kPortNdBase = 0x7480;
}  // namespace meter
inline constexpr IdRange kPuntMeters{meter::kPuntBase, meter::kPortNdBase - 1};
inline constexpr IdRange kPortNdMeters{meter::kPortNdBase, 0xffffffff};
static_assert(!kPuntMeters.overlaps(kPortNdMeters));
// The meter of punt class `index` (tapd's PuntClass).
constexpr std::uint32_t punt_meter_id(std::size_t index) {
  return meter::kPuntBase + static_cast<std::uint32_t>(index);
}
// A port's own ARP/ND meter, for ports whose id stays within `max_meter`
// (the switch's METER_FEATURES); nullopt beyond.
constexpr std::optional<std::uint32_t> port_nd_meter_id(std::uint32_t port_no, std::uint32_t max_meter) {
  if (port_no > max_meter || max_meter - port_no < meter::kPortNdBase) return std::nullopt;
  return meter::kPortNdBase + port_no;
}

// One switch's layout: which tables tapd and routing use and which group ids
// routing owns. The daemon builds one and hands it to both.
struct Pipeline {
  // VLAN mode: learning (eth_src) in l2_table, eth_dst in l2_table + 1, both
  // between table 0 and the FIB.
  std::uint8_t l2_table = table::kL2;
  bool l2_tables = false;  // the switch runs VLANs: the L2 tables are in use
  // The FIB (1.3; 1.0 puts it in table 0). Frames to a router MAC go on to it.
  // Unset: no FIB (routing is off): they go to the controller. Table 0: one
  // table for everything (1.0, and profiles without goto-table): FIB flows sit
  // in table 0 beside tapd's, and frames to a router MAC that match none go to
  // the controller.
  std::optional<std::uint8_t> fib_table = table::kFib;
  // The group ids routing's programmer owns: its reconcile deletes (or holds
  // as stale) groups in here that the FIB does not need, never others.
  IdRange fib_groups{group::kFibFirst, group::kFibLast};

  // Today's layout: table 0, FIB in table 1, no VLANs.
  static constexpr Pipeline standard() { return {}; }
  friend constexpr bool operator==(const Pipeline&, const Pipeline&) = default;

  // The FIB shares table 0 with tapd's flows (no goto-table).
  constexpr bool single_table() const { return fib_table && *fib_table == table::kIngress; }
  constexpr std::uint8_t l2_dst_table() const { return static_cast<std::uint8_t>(l2_table + 1); }
  // The lowest table the FIB may take (GotoTable only goes forward).
  constexpr unsigned first_fib_table() const {
    return l2_tables ? l2_table + 2u : table::kIngress + 1u;
  }

  // What is wrong with this layout; empty: nothing.
  constexpr std::string_view validate() const {
    if (l2_tables && (l2_table <= table::kIngress || l2_table >= table::kLast)) {
      return "the L2 tables must lie between table 0 and table 254";
    }
    if (single_table() && l2_tables) return "VLAN mode needs its L2 tables: the FIB cannot share table 0";
    if (fib_table && !single_table() && (*fib_table < first_fib_table() || *fib_table > table::kLast)) {
      return "the FIB table must come after table 0 and the L2 tables";
    }
    if (fib_groups.empty() || fib_groups.first == 0 || fib_groups.last > group::kMax) {
      return "the FIB's group ids must be a range within 1..0xffffff00";
    }
    if (fib_groups.overlaps(kFloodGroups)) return "the FIB's group ids overlap tapd's flood groups";
    return {};
  }
};
static_assert(Pipeline::standard().validate().empty());

}  // namespace tapflow::pipeline
