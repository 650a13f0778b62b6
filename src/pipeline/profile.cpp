// Switch profiles: the profile named in the config, narrowed by the switch's reports.
#include "tapflow/pipeline/profile.hpp"

#include <algorithm>
#include <cctype>

namespace tapflow::pipeline {

namespace {

constexpr std::uint8_t kOf10 = 0x01;

bool contains_nocase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// A reported table size that limits anything.
std::optional<std::uint32_t> size_of(const Capabilities& c, std::uint8_t table) {
  auto it = c.max_entries.find(table);
  if (it == c.max_entries.end() || it->second == 0 || it->second == 0xffffffffu) return std::nullopt;
  return it->second;
}

}  // namespace

std::string_view profile_name(ProfileKind k) {
  switch (k) {
    case ProfileKind::kAuto: return "auto";
    case ProfileKind::kOvs: return "ovs";
    case ProfileKind::kMikrotik: return "mikrotik";
    case ProfileKind::kGenericOf13: return "generic-of13";
    case ProfileKind::kGenericOf10: return "generic-of10";
  }
  return "?";
}

std::optional<ProfileKind> parse_profile(std::string_view text) {
  for (ProfileKind k : {ProfileKind::kAuto, ProfileKind::kOvs, ProfileKind::kMikrotik,
                        ProfileKind::kGenericOf13, ProfileKind::kGenericOf10}) {
    if (text == profile_name(k)) return k;
  }
  return std::nullopt;
}

std::string SwitchProfile::summary() const {
  std::string s(profile_name(kind));
  s += single_table ? ": one table" : ": FIB in table " + std::to_string(pipeline.fib_table.value_or(0));
  s += groups ? (select_groups ? ", groups (indirect, select)" : ", groups (indirect)") : ", inline actions";
  s += dec_ttl ? ", ttl decrement" : ", no ttl decrement";
  if (!ipv6) s += ", IPv4 only";
  s += fib_capacity ? ", FIB " + std::to_string(*fib_capacity) + " flows" : ", FIB size not limited";
  return s;
}

SwitchProfile resolve_profile(const ProfileRequest& rq, const Capabilities& c) {
  SwitchProfile p;
  ProfileKind k = rq.kind;
  if (k == ProfileKind::kAuto) {
    if (c.version == kOf10) {
      k = ProfileKind::kGenericOf10;
    } else if (contains_nocase(c.manufacturer, "nicira") ||
               contains_nocase(c.hardware, "open vswitch")) {
      k = ProfileKind::kOvs;
    } else if (contains_nocase(c.manufacturer, "mikrotik")) {
      k = ProfileKind::kMikrotik;
    } else {
      k = ProfileKind::kGenericOf13;
    }
  }
  p.kind = k;
  p.pipeline = rq.pipeline;
  auto limit = [&](std::string s) { p.limits.push_back(std::move(s)); };
  const bool v10 = c.version == kOf10;
  const bool like10 = v10 || k == ProfileKind::kGenericOf10;
  const bool mikrotik = k == ProfileKind::kMikrotik;

  // Tables.
  if (v10) {
    p.single_table = true;
    limit("OpenFlow 1.0: one table; FIB flows match the destination, not the router MAC");
  } else if (k == ProfileKind::kGenericOf10) {
    p.single_table = true;
    limit("profile generic-of10: one table; FIB flows match the destination, not the router MAC");
  } else if (mikrotik) {
    p.single_table = true;
    limit("one table (RouterOS leaves its hardware fast path at goto-table); FIB flows match the "
          "destination, not the router MAC");
  } else if (c.goto_table == false) {
    p.single_table = true;
    limit("table 0 has no goto-table: one table");
  } else if (c.n_tables != 0 && rq.pipeline.fib_table && *rq.pipeline.fib_table >= c.n_tables) {
    p.single_table = true;
    limit("the switch has " + std::to_string(c.n_tables) + " tables, no table " +
          std::to_string(*rq.pipeline.fib_table) + ": one table");
  }

  // Groups.
  if (like10 || mikrotik) {
    p.groups = false;
    limit(v10 ? std::string("OpenFlow 1.0: no groups; next-hop actions inline in every flow")
              : "no groups (profile " + std::string(profile_name(k)) +
                    "): next-hop actions inline in every flow");
  } else if (c.group_indirect == false) {
    p.groups = false;
    limit("no indirect groups: next-hop actions inline in every flow");
  }
  p.select_groups = p.groups && c.group_select != false;
  if (p.groups && !p.select_groups) limit("no select groups: ECMP routes use their first next hop");
  if (!p.groups) limit("no groups: ECMP routes use their first next hop");

  // TTL.
  if (like10 || mikrotik) {
    p.dec_ttl = false;
    limit("no TTL decrement action: packets the switch routes keep their TTL");
  } else if (c.dec_ttl == false) {
    p.dec_ttl = false;
    limit("no DEC_NW_TTL: packets the switch routes keep their TTL");
  }

  p.ipv6 = !v10;
  if (!p.ipv6) limit("OpenFlow 1.0 cannot match IPv6: IPv6 is routed by the kernel");

  // VLAN mode needs its L2 tables between table 0 and the FIB.
  p.vlans = !p.single_table && !v10;
  if (p.pipeline.l2_tables && !p.vlans) {
    limit("VLAN mode needs several tables: VLAN ports get no TAP");
    p.pipeline.l2_tables = false;
  }

  if (!rq.routing) {
    p.pipeline.fib_table.reset();
  } else if (p.single_table) {
    p.pipeline.fib_table = table::kIngress;
  }

  // The FIB's size.
  if (rq.fib_capacity) {
    p.fib_capacity = rq.fib_capacity;
  } else if (p.pipeline.fib_table) {
    auto n = size_of(c, *p.pipeline.fib_table);
    // Open vSwitch reports a nominal 1000000 per table that it does not
    // enforce; a Flow_Table flow_limit it reports as set, and enforces.
    if (k == ProfileKind::kOvs && n == kOvsNominalTableSize) n.reset();
    if (n) {
      if (p.single_table) {
        p.fib_capacity = *n > kIngressReserve ? *n - kIngressReserve : 1;
        p.shared_table_size = *n;
      } else {
        p.fib_capacity = *n;
      }
    }
  }
  return p;
}

}  // namespace tapflow::pipeline
