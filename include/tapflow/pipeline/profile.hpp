// Switch profiles: what tapflow asks of one switch (tables, next-hop groups,
// TTL decrement, FIB size), picked per switch in the config and narrowed by
// what the switch reports about itself (FEATURES, DESC, TABLE_FEATURES,
// GROUP_FEATURES; 1.0: TABLE stats). Pure logic: the controller fills
// Capabilities, the daemon resolves a SwitchProfile, tapd and routing follow it.
//
// A profile is an upper bound: it names what tapflow may use on that kind of
// switch; a capability the switch reports missing is never used. What could
// not be used is listed in `limits`, one line each, for the log, the metrics
// and `status`.
//
//   ovs           Open vSwitch: everything (goto-table, indirect and select
//                 groups, DEC_NW_TTL, bundles, meters), as reported.
//   mikrotik      MikroTik RouterOS: one table (its hardware fast path ends at
//                 the first goto-table), actions inline in every flow (no
//                 groups), no TTL decrement (RouterOS has neither DEC_NW_TTL
//                 nor SET_NW_TTL: packets the switch forwards keep their TTL,
//                 so a routing loop through it is broken only by the other
//                 routers, and traceroute does not see this hop).
//   generic-of13  any OpenFlow 1.3 switch: what its TABLE_FEATURES and
//                 GROUP_FEATURES say; what it does not report is assumed there
//                 and found out by errors.
//   generic-of10  any OpenFlow 1.0 switch: one table, no groups, no TTL
//                 decrement, IPv4 only (what 1.0 can express); so is every
//                 profile on a switch that negotiated 1.0.
//   auto          (default) by the switch's DESC: "Nicira" -> ovs, "MikroTik"
//                 -> mikrotik, else generic-of13 or generic-of10 by version.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tapflow/pipeline/pipeline.hpp"

namespace tapflow::pipeline {

enum class ProfileKind : std::uint8_t { kAuto, kOvs, kMikrotik, kGenericOf13, kGenericOf10 };

std::string_view profile_name(ProfileKind k);
// "auto", "ovs", "mikrotik", "generic-of13", "generic-of10"; nullopt otherwise.
std::optional<ProfileKind> parse_profile(std::string_view text);

// What a switch said about itself. nullopt: it did not say (the request failed
// or the switch has no such message).
struct Capabilities {
  std::uint8_t version = 0;  // negotiated OpenFlow version (1 = 1.0, 4 = 1.3)
  std::uint8_t n_tables = 0;
  std::string manufacturer, hardware, software;  // DESC
  // TABLE_FEATURES (1.3).
  std::optional<bool> goto_table;  // table 0 offers the goto-table instruction
  std::optional<bool> dec_ttl;     // DEC_NW_TTL among the FIB table's apply-actions (or table 0's)
  // GROUP_FEATURES (1.3).
  std::optional<bool> group_indirect, group_select;
  // Flows each table holds, as reported (TABLE_FEATURES max_entries, 1.0 TABLE
  // stats max_entries). 0 and 0xffffffff mean "no limit given".
  std::map<std::uint8_t, std::uint32_t> max_entries;
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

// What the configuration asks for one switch.
struct ProfileRequest {
  ProfileKind kind = ProfileKind::kAuto;
  Pipeline pipeline = Pipeline::standard();  // the configured layout (tables, VLANs)
  bool routing = true;                        // the FIB is compiled into flows
  // Flows the FIB table may hold, overriding what the switch reports.
  std::optional<std::uint32_t> fib_capacity;
  friend bool operator==(const ProfileRequest&, const ProfileRequest&) = default;
};

// What tapflow does on one switch.
struct SwitchProfile {
  ProfileKind kind = ProfileKind::kOvs;  // as resolved (never kAuto)
  Pipeline pipeline = Pipeline::standard();
  // The FIB shares table 0 with tapd's flows, no goto-table anywhere (1.0
  // layout): its flows match eth_type + destination, not the router MAC.
  bool single_table = false;
  bool groups = true;         // next-hop groups; false: the actions inline in each flow
  bool select_groups = true;  // ECMP through select groups; false: the first next hop only
  bool dec_ttl = true;        // routed packets have their TTL / hop limit decremented
  bool ipv6 = true;           // IPv6 routes become flows
  bool vlans = true;          // VLAN mode (the L2 tables) possible
  // Flows the FIB table holds (single table: what table 0 leaves after
  // tapd's flows); unset: no limit known.
  std::optional<std::uint32_t> fib_capacity;
  // One table: table 0's whole size, as reported (fib_capacity is it less
  // kIngressReserve; the Router takes tapd's actual flows off instead).
  std::optional<std::uint32_t> shared_table_size;
  std::vector<std::string> limits;  // what this switch could not do, one line each

  // One line: "generic-of13: 2 tables, groups (indirect, select), ttl, fib 4000 flows".
  std::string summary() const;
};

// Flows of table 0 that a single-table FIB leaves to tapd (punt flows and
// the like): subtracted from table 0's reported size.
inline constexpr std::uint32_t kIngressReserve = 64;
// What Open vSwitch reports as every table's max_entries without a
// Flow_Table flow_limit: not enforced, so the ovs profile takes it as no limit.
inline constexpr std::uint32_t kOvsNominalTableSize = 1000000;

SwitchProfile resolve_profile(const ProfileRequest& request, const Capabilities& caps);

}  // namespace tapflow::pipeline
