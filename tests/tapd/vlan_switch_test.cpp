// VLAN switching, pure logic: the pipeline's flows and groups for a small
// switch (exact lists), learned flow pairs, PACKET_OUT actions, tag handling
// and the MAC table (learn, move, expire by generation, limit, flush).
#include "tapflow/tapd/vlan_switch.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <string>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/print.hpp"
#include "tapflow/netns/ip.hpp"
#include "tapflow/tapd/punt_flows.hpp"

namespace tapflow::tapd {
namespace {

using namespace openflow;
using netns::IpAddress;

IpAddress ip(const char* text) {
  const auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad address in test: " << text;
  return a.value_or(IpAddress{});
}

MacAddress mac(std::uint64_t v) { return MacAddress::from_u64(v); }

std::string line(const FlowMod& f) {
  std::string s = "t" + std::to_string(f.table_id) + " " + std::to_string(f.priority) + " " +
                  to_text(f.match) + " ->";
  if (f.instructions.empty()) s += " drop";
  for (const Instruction& i : f.instructions) s += " " + to_text(i);
  return s;
}

std::string actions_text(const ActionList& actions) {
  std::string s;
  for (const Action& a : actions) s += (s.empty() ? "" : ",") + to_text(a);
  return s;
}

// VLAN 10: access ports 1, 2, trunk 5; VLAN 20: access 3, trunk 5.
VlanPipelineInputs two_vlans() {
  VlanPipelineInputs in;
  in.vlans = {VlanMembers{10, mac(0x02000000000aULL), {1, 2}, {5}},
              VlanMembers{20, mac(0x020000000014ULL), {3}, {5}}};
  in.addresses = {ip("10.0.10.1"), ip("fd00:10::1"), ip("127.0.0.1")};
  in.l2_table = 1;
  in.fib_table = 3;
  return in;
}

std::vector<std::string> lines_of_table(const std::vector<FlowMod>& flows, std::uint8_t table) {
  std::vector<std::string> out;
  for (const FlowMod& f : flows) {
    if (f.table_id == table) out.push_back(line(f));
  }
  return out;
}

TEST(VlanFlows, Table0ClassifiesByPortAndTag) {
  const auto flows = vlan_flows(two_vlans());
  EXPECT_EQ(lines_of_table(flows, 0),
            (std::vector<std::string>{
                "t0 50000 in_port=1,vlan_vid=0x0 -> apply(push_vlan:0x8100,set_field:vlan_vid=0x100a) goto_table:1",
                "t0 50000 in_port=2,vlan_vid=0x0 -> apply(push_vlan:0x8100,set_field:vlan_vid=0x100a) goto_table:1",
                "t0 50000 in_port=3,vlan_vid=0x0 -> apply(push_vlan:0x8100,set_field:vlan_vid=0x1014) goto_table:1",
                "t0 50000 in_port=5,vlan_vid=0x100a -> goto_table:1",
                "t0 50000 in_port=5,vlan_vid=0x1014 -> goto_table:1",
                "t0 49000 in_port=1 -> drop",
                "t0 49000 in_port=2 -> drop",
                "t0 49000 in_port=3 -> drop",
                "t0 49000 in_port=5 -> drop",
            }));
  for (const FlowMod& f : flows) {
    EXPECT_EQ(f.cookie & pipeline::cookie::kVlanFlowsMask, pipeline::cookie::kVlanStatic)
        << line(f);
    EXPECT_EQ(f.command, flow_mod_command::kAdd);
  }
}

TEST(VlanFlows, LearningMissCopiesToControllerAndContinues) {
  const auto flows = vlan_flows(two_vlans());
  ASSERT_EQ(lines_of_table(flows, 1),
            (std::vector<std::string>{"t1 0 any -> apply(output:controller(max_len=128)) goto_table:2"}));
  for (const FlowMod& f : flows) {
    if (f.table_id == 1) {
      EXPECT_EQ(f.cookie, pipeline::cookie::kVlanLearnMiss);
    }
  }
}

TEST(VlanFlows, EthDstTableRouterMacPuntsRoutesAndFloods) {
  const auto t2 = lines_of_table(vlan_flows(two_vlans()), 2);
  const std::string c = "apply(output:controller)";
  const std::string r10 = "vlan_vid=0x100a,eth_dst=02:00:00:00:00:0a";
  const std::string r20 = "vlan_vid=0x1014,eth_dst=02:00:00:00:00:14";
  EXPECT_EQ(t2, (std::vector<std::string>{
                    "t2 40000 " + r10 + ",eth_type=0x0806,arp_tpa=10.0.10.1 -> " + c,
                    "t2 40000 " + r20 + ",eth_type=0x0806,arp_tpa=10.0.10.1 -> " + c,
                    "t2 39000 " + r10 + ",eth_type=0x0800,ipv4_dst=10.0.10.1 -> " + c,
                    "t2 39000 " + r10 + ",eth_type=0x86dd,ipv6_dst=fd00:10::1 -> " + c,
                    "t2 39000 " + r20 + ",eth_type=0x0800,ipv4_dst=10.0.10.1 -> " + c,
                    "t2 39000 " + r20 + ",eth_type=0x86dd,ipv6_dst=fd00:10::1 -> " + c,
                    "t2 30000 " + r10 + ",eth_type=0x0800 -> apply(pop_vlan,nicira:RegLoad(000f000000020000000000000000)) write_metadata:0xa/0xfff goto_table:3",
                    "t2 30000 " + r10 + ",eth_type=0x86dd -> apply(pop_vlan,nicira:RegLoad(000f000000020000000000000000)) write_metadata:0xa/0xfff goto_table:3",
                    "t2 30000 " + r20 + ",eth_type=0x0800 -> apply(pop_vlan,nicira:RegLoad(000f000000020000000000000000)) write_metadata:0x14/0xfff goto_table:3",
                    "t2 30000 " + r20 + ",eth_type=0x86dd -> apply(pop_vlan,nicira:RegLoad(000f000000020000000000000000)) write_metadata:0x14/0xfff goto_table:3",
                    "t2 29000 " + r10 + " -> " + c,
                    "t2 29000 " + r20 + " -> " + c,
                    "t2 10 vlan_vid=0x100a,eth_dst=01:00:00:00:00:00/01:00:00:00:00:00 -> apply(group:1946157077)",
                    "t2 10 vlan_vid=0x1014,eth_dst=01:00:00:00:00:00/01:00:00:00:00:00 -> apply(group:1946157097)",
                    "t2 5 vlan_vid=0x100a -> apply(group:1946157076)",
                    "t2 5 vlan_vid=0x1014 -> apply(group:1946157096)",
                }));
  EXPECT_EQ(pipeline::flood_group_id(10, false), 0x74000014u);
  EXPECT_EQ(pipeline::flood_group_id(10, true), 0x74000015u);
}

TEST(VlanFlows, WithoutFibRoutedTrafficGoesToTheController) {
  auto in = two_vlans();
  in.fib_table.reset();
  for (const FlowMod& f : vlan_flows(in)) {
    if (f.priority == pipeline::priority::vlan::kRouterRoute) {
      EXPECT_EQ(line(f).substr(line(f).find("->")), "-> apply(output:controller)");
    }
  }
  // A FIB table the eth_dst table cannot jump to forward is not used either.
  in.fib_table = 2;
  for (const FlowMod& f : vlan_flows(in)) {
    for (const Instruction& i : f.instructions) {
      if (const auto* g = std::get_if<instruction::GotoTable>(&i)) {
        EXPECT_GT(g->table_id, f.table_id);
      }
    }
  }
}

TEST(VlanFlows, NoVlansNoFlows) { EXPECT_TRUE(vlan_flows(VlanPipelineInputs{}).empty()); }

TEST(VlanFlows, EveryFlowModEncodesAndDecodesBackEqualIn13) {
  for (const FlowMod& f : vlan_flows(two_vlans())) {
    EXPECT_TRUE(check_match(f.match).ok()) << line(f);
    Message m{kVersion13, 7, f};
    auto bytes = encode(m);
    ASSERT_TRUE(bytes.ok()) << line(f) << ": " << describe(bytes.error());
    auto back = decode(*bytes);
    ASSERT_TRUE(back.ok()) << line(f);
    EXPECT_EQ(std::get<FlowMod>(back->body), f) << line(f);
  }
}

TEST(VlanGroups, FloodBucketsPerMemberAndRouterBucket) {
  const auto groups = vlan_groups(two_vlans());
  ASSERT_EQ(groups.size(), 4u);
  const GroupMod& flood10 = groups.at(pipeline::flood_group_id(10, false));
  EXPECT_EQ(flood10.type, group_type::kAll);
  std::vector<std::string> b;
  for (const Bucket& bucket : flood10.buckets) b.push_back(actions_text(bucket.actions));
  EXPECT_EQ(b, (std::vector<std::string>{"pop_vlan,output:1", "pop_vlan,output:2", "output:5"}));
  const GroupMod& router10 = groups.at(pipeline::flood_group_id(10, true));
  ASSERT_EQ(router10.buckets.size(), 4u);
  EXPECT_EQ(actions_text(router10.buckets.back().actions), "output:controller");
  const GroupMod& flood20 = groups.at(pipeline::flood_group_id(20, false));
  b.clear();
  for (const Bucket& bucket : flood20.buckets) b.push_back(actions_text(bucket.actions));
  EXPECT_EQ(b, (std::vector<std::string>{"pop_vlan,output:3", "output:5"}));
  for (const auto& [id, g] : groups) {
    EXPECT_GE(id, pipeline::group::kFloodFirst);
    EXPECT_LE(id, pipeline::group::kFloodLast);
    auto bytes = encode(Message{kVersion13, 1, g});
    ASSERT_TRUE(bytes.ok());
  }
}

TEST(LearnedFlows, PairForAccessAndTrunkPorts) {
  const MacAddress h = mac(0x0a0000000001ULL);
  auto [src, dst] = learned_flows(10, h, {2, false}, 300, 1, 7);
  EXPECT_EQ(line(src), "t1 100 in_port=2,vlan_vid=0x100a,eth_src=0a:00:00:00:00:01 -> goto_table:2");
  EXPECT_EQ(src.idle_timeout, 300);
  EXPECT_EQ(src.flags, flow_mod_flags::kSendFlowRem);
  EXPECT_EQ(src.cookie, pipeline::cookie::kLearnedSrc | 7);
  EXPECT_EQ(line(dst), "t2 20000 vlan_vid=0x100a,eth_dst=0a:00:00:00:00:01 -> apply(pop_vlan,output:2)");
  EXPECT_EQ(dst.cookie, pipeline::cookie::kLearnedDst | 7);
  EXPECT_EQ(dst.idle_timeout, 0);

  auto [tsrc, tdst] = learned_flows(20, h, {5, true}, 60, 1, 8);
  EXPECT_EQ(line(tdst), "t2 20000 vlan_vid=0x1014,eth_dst=0a:00:00:00:00:01 -> apply(output:5)");

  // Deletes name the generation: a newer flow of the same MAC is not hit.
  auto [dsrc, ddst] = learned_flow_deletes(10, h, {2, false}, 1, 7);
  EXPECT_EQ(dsrc.command, flow_mod_command::kDeleteStrict);
  EXPECT_EQ(dsrc.match, src.match);
  EXPECT_EQ(dsrc.priority, src.priority);
  EXPECT_EQ(dsrc.cookie_mask, ~std::uint64_t{0});
  EXPECT_EQ(dsrc.cookie, src.cookie);
  EXPECT_EQ(ddst.match, dst.match);
  EXPECT_EQ(ddst.priority, dst.priority);
  EXPECT_EQ(ddst.cookie, dst.cookie);
  EXPECT_EQ(ddst.table_id, 2);

  const FlowMod wipe = learned_flows_wipe();
  EXPECT_EQ(wipe.command, flow_mod_command::kDelete);
  EXPECT_EQ(wipe.table_id, kTableAll);
  // The wipe covers both learned sub-classes and none of the static flows.
  EXPECT_EQ(src.cookie & wipe.cookie_mask, wipe.cookie);
  EXPECT_EQ(dst.cookie & wipe.cookie_mask, wipe.cookie);
  EXPECT_NE(pipeline::cookie::kVlanLearnMiss & wipe.cookie_mask, wipe.cookie);
  EXPECT_NE(pipeline::cookie::kPunt & wipe.cookie_mask, wipe.cookie);
}

// A restarted tapflowd reads the learned flows back: what learned_flows()
// wrote parses back to its VLAN, MAC, port and generation; other shapes do not.
TEST(LearnedFlows, ParseBackWhatLearnedFlowsWrote) {
  const MacAddress h = MacAddress::from_u64(0x020000000abcULL);
  auto [src, dst] = learned_flows(10, h, {2, false}, 300, 1, 0x1234567);
  auto s = parse_learned_flow(src.cookie, src.table_id, src.match, 1);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, (LearnedFlow{true, 10, h, 2, 0x1234567}));
  auto d = parse_learned_flow(dst.cookie, dst.table_id, dst.match, 1);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (LearnedFlow{false, 10, h, 0, 0x1234567}));
  // Another l2_table, a swapped table, an extra field: not ours to take.
  EXPECT_FALSE(parse_learned_flow(src.cookie, src.table_id, src.match, 3));
  EXPECT_FALSE(parse_learned_flow(src.cookie, dst.table_id, src.match, 1));
  Match extra = src.match;
  extra.add(oxm::eth_type(0x0800));
  EXPECT_FALSE(parse_learned_flow(src.cookie, src.table_id, extra, 1));
  Match untagged;
  untagged.add(oxm::in_port(2)).add(oxm::eth_src(h));
  EXPECT_FALSE(parse_learned_flow(src.cookie, src.table_id, untagged, 1));
}

TEST(MacTable, RestoreKeepsTheSwitchsGenerationOnce) {
  MacTable t(2, 1000);
  const MacAddress a = MacAddress::from_u64(0x02000000000aULL);
  const MacAddress b = MacAddress::from_u64(0x02000000000bULL);
  const MacAddress c = MacAddress::from_u64(0x02000000000cULL);
  EXPECT_TRUE(t.restore(10, a, {3, true}, 77, 0));
  EXPECT_FALSE(t.restore(10, a, {4, false}, 78, 0));  // known: unchanged
  ASSERT_NE(t.find(10, a), nullptr);
  EXPECT_EQ(t.find(10, a)->where, (MacLocation{3, true}));
  EXPECT_EQ(t.find(10, a)->generation, 77u);
  EXPECT_TRUE(t.restore(10, b, {3, false}, 79, 0));
  EXPECT_FALSE(t.restore(10, c, {3, false}, 80, 0));  // full
  // Its flows' FLOW_REMOVED finds it: same generation.
  EXPECT_TRUE(t.expire(10, a, 77));
  EXPECT_EQ(t.find(10, a), nullptr);
}

TEST(PacketOutActions, UnicastAndFlood) {
  EXPECT_EQ(actions_text(unicast_actions(10, {2, false})), "output:2");
  EXPECT_EQ(actions_text(unicast_actions(10, {5, true})),
            "push_vlan:0x8100,set_field:vlan_vid=0x100a,output:5");
  const std::vector<std::uint32_t> untagged{1, 2}, tagged{5, 6}, none;
  EXPECT_EQ(actions_text(flood_actions(10, untagged, tagged)),
            "output:1,output:2,push_vlan:0x8100,set_field:vlan_vid=0x100a,output:5,output:6");
  EXPECT_EQ(actions_text(flood_actions(10, untagged, none)), "output:1,output:2");
  EXPECT_EQ(actions_text(flood_actions(10, none, tagged)),
            "push_vlan:0x8100,set_field:vlan_vid=0x100a,output:5,output:6");
}

TEST(Frames, TagParsedAndStripped) {
  // dst, src, 802.1Q TCI pcp=3 vid=20, then IPv4 ethertype and a payload byte.
  const Bytes tagged = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0, 0, 0, 0, 1,
                        0x81, 0x00, 0x60, 0x14, 0x08, 0x00, 0x45};
  ASSERT_EQ(frame_vlan(tagged), std::optional<std::uint16_t>(20));
  Bytes out;
  strip_vlan_tag(tagged, out);
  EXPECT_EQ(out, (Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45}));
  EXPECT_FALSE(frame_vlan(out).has_value());
  Bytes again;
  strip_vlan_tag(out, again);
  EXPECT_EQ(again, out);
  EXPECT_EQ(frame_source(tagged)->to_string(), "0a:00:00:00:00:01");
  EXPECT_TRUE(frame_destination(tagged)->is_broadcast());
  EXPECT_FALSE(frame_vlan(Bytes(10, 0)).has_value());
  EXPECT_FALSE(frame_source(Bytes(10, 0)).has_value());
}

TEST(Frames, DefaultVlanMacIsLocallyAdministeredUnicastAndDistinct) {
  const MacAddress a = default_vlan_mac(0x1, 10), b = default_vlan_mac(0x1, 20),
                   c = default_vlan_mac(0x2, 10);
  EXPECT_EQ(a.to_string(), "02:00:00:01:00:0a");
  EXPECT_FALSE(a.is_multicast());
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(MacTable, LearnKnownMoveAndIgnored) {
  MacTable t(10);
  const MacAddress router = mac(0x02000000000aULL), h = mac(0x0a0000000001ULL);
  auto r = t.learn(10, h, {1, false}, router);
  EXPECT_EQ(r.outcome, MacTable::Outcome::kNew);
  const auto g1 = r.generation;
  EXPECT_EQ(t.learn(10, h, {1, false}, router).outcome, MacTable::Outcome::kKnown);
  // The same MAC in another VLAN is another entry.
  EXPECT_EQ(t.learn(20, h, {5, true}, router).outcome, MacTable::Outcome::kNew);
  r = t.learn(10, h, {2, false}, router);
  EXPECT_EQ(r.outcome, MacTable::Outcome::kMoved);
  ASSERT_TRUE(r.old.has_value());
  EXPECT_EQ(r.old->port_no, 1u);
  EXPECT_NE(r.generation, g1);
  EXPECT_EQ(t.find(10, h)->where.port_no, 2u);
  EXPECT_EQ(t.learn(10, router, {1, false}, router).outcome, MacTable::Outcome::kIgnored);
  EXPECT_EQ(t.learn(10, mac(0x01005e000005ULL), {1, false}, router).outcome,
            MacTable::Outcome::kIgnored);
  EXPECT_EQ(t.learn(10, mac(0), {1, false}, router).outcome, MacTable::Outcome::kIgnored);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.counters().learned, 2u);
  EXPECT_EQ(t.counters().moves, 1u);
}

TEST(MacTable, ExpireOnlyTheCurrentGeneration) {
  MacTable t(10);
  const MacAddress router = mac(0x02000000000aULL), h = mac(0x0a0000000001ULL);
  const auto g1 = t.learn(10, h, {1, false}, router).generation;
  const auto g2 = t.learn(10, h, {2, false}, router).generation;
  // The old flow's removal (after the move) leaves the new entry alone.
  EXPECT_FALSE(t.expire(10, h, g1).has_value());
  ASSERT_NE(t.find(10, h), nullptr);
  auto e = t.expire(10, h, g2);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->where.port_no, 2u);
  EXPECT_EQ(t.find(10, h), nullptr);
  EXPECT_EQ(t.counters().aged, 1u);
  EXPECT_FALSE(t.expire(10, h, g2).has_value());
}

TEST(MacTable, FullTableLearnsNothingMoreButStillMoves) {
  MacTable t(2);
  const MacAddress router = mac(0x02000000000aULL);
  EXPECT_EQ(t.learn(10, mac(0x0a01), {1, false}, router).outcome, MacTable::Outcome::kNew);
  EXPECT_EQ(t.learn(10, mac(0x0a02), {1, false}, router).outcome, MacTable::Outcome::kNew);
  EXPECT_EQ(t.learn(10, mac(0x0a03), {1, false}, router).outcome, MacTable::Outcome::kFull);
  EXPECT_EQ(t.learn(10, mac(0x0a01), {2, false}, router).outcome, MacTable::Outcome::kMoved);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.counters().table_full, 1u);
}

TEST(MacTable, FlushPortForgetsItsEntries) {
  MacTable t(10);
  const MacAddress router = mac(0x02000000000aULL);
  t.learn(10, mac(0x0a01), {1, false}, router);
  t.learn(20, mac(0x0a02), {1, false}, router);
  t.learn(10, mac(0x0a03), {2, false}, router);
  const auto gone = t.flush_port(1);
  EXPECT_EQ(gone.size(), 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find(10, mac(0x0a03)), nullptr);
}

}  // namespace
}  // namespace tapflow::tapd

namespace tapflow::tapd {
namespace {

TEST(MacTable, GenerationsStartWhereTheOwnerSays) {
  // Two processes (tapflowd restarted) must not hand out the same cookies.
  MacTable a(10), b(10, 0x123456789abcULL);
  const MacAddress router = MacAddress::from_u64(0x02000000000aULL), h = MacAddress::from_u64(0x0a01);
  const auto ga = a.learn(10, h, {1, false}, router).generation;
  const auto gb = b.learn(10, h, {1, false}, router).generation;
  EXPECT_EQ(ga, 1u);
  EXPECT_EQ(gb, 0x3456789abdULL);  // the low 40 bits, odd: never 0
  EXPECT_EQ(gb & ~pipeline::cookie::kGenerationMask, 0u);
  EXPECT_FALSE(b.expire(10, h, ga).has_value());
  MacTable wrap(10, pipeline::cookie::kGenerationMask);
  EXPECT_EQ(wrap.learn(10, h, {1, false}, router).generation, pipeline::cookie::kGenerationMask);
  EXPECT_EQ(wrap.learn(10, MacAddress::from_u64(0x0a02), {1, false}, router).generation, 1u);
}

TEST(MacTable, RefreshDueAtMostOncePerInterval) {
  MacTable t(10);
  const MacAddress router = MacAddress::from_u64(0x02000000000aULL), h = MacAddress::from_u64(0x0a01);
  t.learn(10, h, {1, false}, router);
  t.mark_refreshed(10, h, 5'000);
  EXPECT_FALSE(t.refresh_due(10, h, 5'500, 1'000));
  EXPECT_TRUE(t.refresh_due(10, h, 6'000, 1'000));
  EXPECT_FALSE(t.refresh_due(10, h, 6'500, 1'000));
  EXPECT_FALSE(t.refresh_due(20, h, 9'000, 1'000));  // not learned there
}

}  // namespace
}  // namespace tapflow::tapd

namespace tapflow::tapd {
namespace {

TEST(VlanFlows, WithoutNiciraActionsRoutedFlowsOnlyPopTheTag) {
  auto in = two_vlans();
  in.clear_in_port = false;
  std::size_t routed = 0;
  for (const FlowMod& f : vlan_flows(in)) {
    if (f.priority != pipeline::priority::vlan::kRouterRoute) continue;
    ++routed;
    EXPECT_NE(line(f).find("-> apply(pop_vlan) write_metadata"), std::string::npos) << line(f);
  }
  EXPECT_EQ(routed, 4u);
}

}  // namespace
}  // namespace tapflow::tapd

namespace tapflow::tapd {
namespace {

TEST(PacketInRouting, LearnTagMetadataPerPortUnknown) {
  using Kind = PacketInRoute::Kind;
  // dst broadcast, src 0a:..:01, 802.1Q vid 20, ARP.
  const Bytes tagged = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0, 0, 0, 0, 1,
                        0x81, 0x00, 0x00, 0x14, 0x08, 0x06, 0x00, 0x01};
  const Bytes untagged = {0x02, 0, 0, 1, 0, 0x0a, 0x0a, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0};
  const std::uint64_t punt = pipeline::cookie::kPunt, learn = pipeline::cookie::kVlanLearnMiss,
                      fib = pipeline::cookie::kRoute;
  // A learning copy never reaches a TAP, tagged or not.
  EXPECT_EQ(route_packet_in(true, true, learn, tagged, std::nullopt), (PacketInRoute{Kind::kLearn, 0, false}));
  EXPECT_EQ(route_packet_in(true, true, pipeline::cookie::kVlanFlood, tagged, std::nullopt),
            (PacketInRoute{Kind::kVlanTap, 20, true}));
  // From the FIB: untagged, in_port cleared (not a member), VLAN in the metadata.
  EXPECT_EQ(route_packet_in(true, false, fib, untagged, 0x14), (PacketInRoute{Kind::kVlanTap, 20, false}));
  EXPECT_EQ(route_packet_in(true, true, fib, untagged, 0xa), (PacketInRoute{Kind::kVlanTap, 10, false}));
  // A member port's frame with neither: nowhere to go.
  EXPECT_EQ(route_packet_in(true, true, punt, untagged, std::nullopt), (PacketInRoute{Kind::kUnknownVlan, 0, false}));
  // Per-port ports keep their TAP even with a tagged frame (a kernel VLAN
  // subinterface on a per-port TAP), and the learning cookie means nothing there.
  EXPECT_EQ(route_packet_in(true, false, punt, tagged, std::nullopt), (PacketInRoute{Kind::kPerPort, 0, false}));
  EXPECT_EQ(route_packet_in(true, false, learn, tagged, std::nullopt), (PacketInRoute{Kind::kPerPort, 0, false}));
  EXPECT_EQ(route_packet_in(true, false, fib, untagged, 0), (PacketInRoute{Kind::kPerPort, 0, false}));
  // Without VLAN mode (1.0, or none configured) everything is per-port.
  EXPECT_EQ(route_packet_in(false, true, learn, tagged, 0x14), (PacketInRoute{Kind::kPerPort, 0, false}));
}

}  // namespace
}  // namespace tapflow::tapd

namespace tapflow::tapd {
namespace {

TEST(PacketOutActions, VlanTapFrameToLearnedPortElseFloodedToUpMembers) {
  const VlanMembers v10{10, MacAddress::from_u64(0x02000000000aULL), {1, 2}, {5}};
  MacTable macs(10);
  macs.learn(10, MacAddress::from_u64(0x0a0000000001ULL), {2, false}, v10.router_mac);
  macs.learn(10, MacAddress::from_u64(0x0a0000000005ULL), {5, true}, v10.router_mac);
  macs.learn(20, MacAddress::from_u64(0x0a0000000009ULL), {3, false}, v10.router_mac);
  const std::map<std::uint32_t, bool> up{{1, true}, {2, false}, {5, true}};
  auto frame_to = [](std::uint64_t dst) {
    Bytes f(14, 0);
    const MacAddress d = MacAddress::from_u64(dst);
    std::copy(d.octets.begin(), d.octets.end(), f.begin());
    f[12] = 0x08;
    return f;
  };
  EXPECT_EQ(actions_text(vlan_tap_actions(v10, frame_to(0x0a0000000001ULL), macs, up)), "output:2");
  EXPECT_EQ(actions_text(vlan_tap_actions(v10, frame_to(0x0a0000000005ULL), macs, up)),
            "push_vlan:0x8100,set_field:vlan_vid=0x100a,output:5");
  // Learned in another VLAN only, broadcast, multicast: flooded to the up members.
  const std::string flood = "output:1,push_vlan:0x8100,set_field:vlan_vid=0x100a,output:5";
  EXPECT_EQ(actions_text(vlan_tap_actions(v10, frame_to(0x0a0000000009ULL), macs, up)), flood);
  EXPECT_EQ(actions_text(vlan_tap_actions(v10, frame_to(0xffffffffffffULL), macs, up)), flood);
  EXPECT_EQ(actions_text(vlan_tap_actions(v10, frame_to(0x333300000001ULL), macs, up)), flood);
  EXPECT_TRUE(vlan_tap_actions(v10, frame_to(0xffffffffffffULL), macs, {}).empty());
}

}  // namespace
}  // namespace tapflow::tapd
