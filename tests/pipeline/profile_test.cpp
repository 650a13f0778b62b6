// Switch profiles: the configured profile narrowed by what the switch reports.
#include "tapflow/pipeline/profile.hpp"

#include <gtest/gtest.h>

namespace tapflow::pipeline {
namespace {

Capabilities ovs13() {
  Capabilities c;
  c.version = 0x04;
  c.n_tables = 254;
  c.manufacturer = "Nicira, Inc.";
  c.hardware = "Open vSwitch";
  c.goto_table = true;
  c.dec_ttl = true;
  c.group_indirect = c.group_select = true;
  c.max_entries = {{0, 1000000}, {1, 1000000}};
  return c;
}

bool has_limit(const SwitchProfile& p, std::string_view part) {
  for (const auto& l : p.limits) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(Profile, NamesRoundTrip) {
  for (auto k : {ProfileKind::kAuto, ProfileKind::kOvs, ProfileKind::kMikrotik,
                 ProfileKind::kGenericOf13, ProfileKind::kGenericOf10}) {
    EXPECT_EQ(parse_profile(profile_name(k)), k);
  }
  EXPECT_EQ(parse_profile("OVS"), std::nullopt);
  EXPECT_EQ(parse_profile("cisco"), std::nullopt);
}

TEST(Profile, AutoPicksOvsByDescAndUsesEverything) {
  const SwitchProfile p = resolve_profile({}, ovs13());
  EXPECT_EQ(p.kind, ProfileKind::kOvs);
  EXPECT_FALSE(p.single_table);
  EXPECT_EQ(p.pipeline.fib_table, std::optional<std::uint8_t>(1));
  EXPECT_TRUE(p.groups);
  EXPECT_TRUE(p.select_groups);
  EXPECT_TRUE(p.dec_ttl);
  EXPECT_TRUE(p.ipv6);
  EXPECT_EQ(p.fib_capacity, std::nullopt);  // OVS's nominal 1000000 is not enforced
  EXPECT_TRUE(p.limits.empty());
  EXPECT_EQ(p.pipeline.validate(), "");
}

TEST(Profile, AutoPicksMikrotikAndGenericByDescAndVersion) {
  Capabilities c = ovs13();
  c.manufacturer = "MikroTik";
  c.hardware = "CRS326";
  EXPECT_EQ(resolve_profile({}, c).kind, ProfileKind::kMikrotik);
  c.manufacturer = "Acme Networks";
  EXPECT_EQ(resolve_profile({}, c).kind, ProfileKind::kGenericOf13);
  c.version = 0x01;
  EXPECT_EQ(resolve_profile({}, c).kind, ProfileKind::kGenericOf10);
}

TEST(Profile, MikrotikIsOneTableInlineWithoutTtl) {
  ProfileRequest rq;
  rq.kind = ProfileKind::kMikrotik;
  const SwitchProfile p = resolve_profile(rq, ovs13());  // even if the switch reports more
  EXPECT_TRUE(p.single_table);
  EXPECT_EQ(p.pipeline.fib_table, std::optional<std::uint8_t>(0));
  EXPECT_TRUE(p.pipeline.single_table());
  EXPECT_FALSE(p.groups);
  EXPECT_FALSE(p.select_groups);
  EXPECT_FALSE(p.dec_ttl);
  EXPECT_TRUE(p.ipv6);
  EXPECT_TRUE(has_limit(p, "goto-table"));
  EXPECT_TRUE(has_limit(p, "TTL"));
  // Table 0's size less what tapd keeps there.
  EXPECT_EQ(p.fib_capacity, std::optional<std::uint32_t>(1000000 - kIngressReserve));
  EXPECT_EQ(p.pipeline.validate(), "");
}

TEST(Profile, GenericOf13FollowsTheReports) {
  ProfileRequest rq;
  rq.kind = ProfileKind::kGenericOf13;
  Capabilities c = ovs13();
  c.group_select = false;
  c.dec_ttl = false;
  c.max_entries = {{0, 2000}, {1, 4000}};
  SwitchProfile p = resolve_profile(rq, c);
  EXPECT_FALSE(p.single_table);
  EXPECT_TRUE(p.groups);
  EXPECT_FALSE(p.select_groups);
  EXPECT_FALSE(p.dec_ttl);
  EXPECT_EQ(p.fib_capacity, std::optional<std::uint32_t>(4000));
  EXPECT_TRUE(has_limit(p, "ECMP"));
  EXPECT_TRUE(has_limit(p, "DEC_NW_TTL"));

  c.group_indirect = false;
  c.goto_table = false;
  p = resolve_profile(rq, c);
  EXPECT_TRUE(p.single_table);
  EXPECT_FALSE(p.groups);
  EXPECT_EQ(p.fib_capacity, std::optional<std::uint32_t>(2000 - kIngressReserve));
  EXPECT_TRUE(has_limit(p, "inline"));

  // Nothing reported: assumed there (errors tell later); no size known.
  Capabilities bare;
  bare.version = 0x04;
  p = resolve_profile(rq, bare);
  EXPECT_FALSE(p.single_table);
  EXPECT_TRUE(p.groups);
  EXPECT_TRUE(p.dec_ttl);
  EXPECT_EQ(p.fib_capacity, std::nullopt);
}

TEST(Profile, TooFewTablesMeansOneTable) {
  Capabilities c = ovs13();
  c.n_tables = 1;
  const SwitchProfile p = resolve_profile({}, c);
  EXPECT_TRUE(p.single_table);
  EXPECT_TRUE(has_limit(p, "1 tables"));
}

TEST(Profile, OpenFlow10IsOneTableIpv4) {
  Capabilities c;
  c.version = 0x01;
  c.max_entries = {{0, 1500}};
  ProfileRequest rq;
  rq.kind = ProfileKind::kOvs;  // any profile on a 1.0 connection
  const SwitchProfile p = resolve_profile(rq, c);
  EXPECT_TRUE(p.single_table);
  EXPECT_FALSE(p.groups);
  EXPECT_FALSE(p.dec_ttl);
  EXPECT_FALSE(p.ipv6);
  EXPECT_EQ(p.fib_capacity, std::optional<std::uint32_t>(1500 - kIngressReserve));
}

TEST(Profile, OvsFlowLimitIsTheFibSize) {
  Capabilities c = ovs13();
  c.max_entries[1] = 300;  // Flow_Table flow_limit=300 on table 1
  EXPECT_EQ(resolve_profile({}, c).fib_capacity, std::optional<std::uint32_t>(300));
  // Another profile on the same switch takes the nominal size at its word.
  ProfileRequest rq;
  rq.kind = ProfileKind::kGenericOf13;
  c.max_entries[1] = 1000000;
  EXPECT_EQ(resolve_profile(rq, c).fib_capacity, std::optional<std::uint32_t>(1000000));
}

TEST(Profile, ConfiguredCapacityWinsAndUnlimitedSizesAreIgnored) {
  Capabilities c = ovs13();
  c.max_entries = {{1, 0xffffffffu}};
  EXPECT_EQ(resolve_profile({}, c).fib_capacity, std::nullopt);
  ProfileRequest rq;
  rq.fib_capacity = 3000;
  EXPECT_EQ(resolve_profile(rq, c).fib_capacity, std::optional<std::uint32_t>(3000));
}

TEST(Profile, VlansNeedSeveralTables) {
  ProfileRequest rq;
  rq.kind = ProfileKind::kMikrotik;
  rq.pipeline.l2_tables = true;
  rq.pipeline.fib_table = 3;
  const SwitchProfile p = resolve_profile(rq, ovs13());
  EXPECT_FALSE(p.vlans);
  EXPECT_FALSE(p.pipeline.l2_tables);
  EXPECT_TRUE(has_limit(p, "VLAN"));
  EXPECT_EQ(p.pipeline.validate(), "");
  // Multi-table keeps them.
  rq.kind = ProfileKind::kOvs;
  const SwitchProfile q = resolve_profile(rq, ovs13());
  EXPECT_TRUE(q.vlans);
  EXPECT_TRUE(q.pipeline.l2_tables);
  EXPECT_EQ(q.pipeline.fib_table, std::optional<std::uint8_t>(3));
}

TEST(Profile, RoutingOffMeansNoFib) {
  ProfileRequest rq;
  rq.routing = false;
  EXPECT_EQ(resolve_profile(rq, ovs13()).pipeline.fib_table, std::nullopt);
  rq.kind = ProfileKind::kMikrotik;
  EXPECT_EQ(resolve_profile(rq, ovs13()).pipeline.fib_table, std::nullopt);
}

TEST(Profile, SummaryIsOneLine) {
  const std::string s = resolve_profile({}, ovs13()).summary();
  EXPECT_EQ(s, "ovs: FIB in table 1, groups (indirect, select), ttl decrement, FIB size not limited");
}

}  // namespace
}  // namespace tapflow::pipeline
