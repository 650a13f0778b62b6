// FibCompiler: kernel state built from hand-built netlink messages (fed to the
// NetlinkWatcher's parser) or directly, compiled into FIB flows and groups.
#include "tapflow/routing/fib_compiler.hpp"

#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "../netns/netlink_message_builder.hpp"
#include "tapflow/netns/netlink_watcher.hpp"
#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::routing {
namespace {

using netns::IpAddress;
using netns::IpPrefix;
using openflow::MacAddress;
using netns::test_support::MessageBuilder;

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }
IpPrefix pfx(const char* text) { return IpPrefix::parse(text).value(); }
MacAddress mac(const char* text) { return MacAddress::parse(text).value(); }

struct Hop {
  int ifindex = 0;
  const char* gateway = nullptr;  // none: on-link
  std::uint8_t weight = 1;
  std::uint8_t flags = 0;
};
struct RouteSpec {
  const char* dst = "";
  std::vector<Hop> hops{};
  std::uint8_t type = RTN_UNICAST;
  std::uint32_t table = RT_TABLE_MAIN;
  std::uint32_t metric = 0;
  std::uint32_t nhid = 0;
};

std::vector<std::uint8_t> route_msg(std::uint16_t msg_type, const RouteSpec& s) {
  const IpPrefix dst = pfx(s.dst);
  rtmsg rtm{};
  rtm.rtm_family = dst.addr.family;
  rtm.rtm_dst_len = dst.len;
  rtm.rtm_table = s.table < 256 ? static_cast<std::uint8_t>(s.table) : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
  rtm.rtm_protocol = RTPROT_STATIC;
  rtm.rtm_scope = s.hops.size() == 1 && !s.hops[0].gateway ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rtm.rtm_type = s.type;
  MessageBuilder m(msg_type);
  m.family(rtm);
  m.u32(RTA_TABLE, s.table);
  if (dst.len > 0) m.addr(RTA_DST, dst.addr);
  m.u32(RTA_PRIORITY, s.metric);
  // A gateway of the other family goes in RTA_VIA (struct rtvia).
  auto gateway = [&](const char* text) {
    const IpAddress gw = ip(text);
    if (gw.family == dst.addr.family) {
      m.addr(RTA_GATEWAY, gw);
    } else {
      std::uint8_t via[18] = {};
      const std::uint16_t fam = gw.family;
      std::memcpy(via, &fam, 2);
      std::memcpy(via + 2, gw.bytes.data(), gw.size());
      m.attr(RTA_VIA, via, 2 + gw.size());
    }
  };
  if (s.nhid != 0) {
    m.u32(RTA_NH_ID, s.nhid);
  } else if (s.hops.size() == 1) {
    m.u32(RTA_OIF, static_cast<std::uint32_t>(s.hops[0].ifindex));
    if (s.hops[0].gateway) gateway(s.hops[0].gateway);
  } else if (!s.hops.empty()) {
    const auto mp = m.begin(RTA_MULTIPATH);
    for (const Hop& h : s.hops) {
      const auto one = m.begin_rtnh(h.ifindex, static_cast<std::uint8_t>(h.weight - 1), h.flags);
      if (h.gateway) gateway(h.gateway);
      m.end(one);
    }
    m.end(mp);
  }
  return m.done();
}

std::vector<std::uint8_t> neigh_msg(std::uint16_t msg_type, int ifindex, const char* addr,
                                    const char* lladdr, std::uint16_t state) {
  const IpAddress a = ip(addr);
  ndmsg ndm{};
  ndm.ndm_family = a.family;
  ndm.ndm_ifindex = ifindex;
  ndm.ndm_state = state;
  MessageBuilder m(msg_type);
  m.family(ndm);
  m.addr(NDA_DST, a);
  if (lladdr) m.attr(NDA_LLADDR, mac(lladdr).octets.data(), 6);
  return m.done();
}

std::vector<std::uint8_t> nexthop_msg(std::uint32_t id, int ifindex, const char* gw) {
  nhmsg nhm{};
  nhm.nh_family = gw ? ip(gw).family : AF_INET;
  MessageBuilder m(RTM_NEWNEXTHOP);
  m.family(nhm);
  m.u32(NHA_ID, id);
  m.u32(NHA_OIF, static_cast<std::uint32_t>(ifindex));
  if (gw) m.addr(NHA_GATEWAY, ip(gw));
  return m.done();
}

std::vector<std::uint8_t> nexthop_group_msg(std::uint32_t id,
                                            std::vector<std::pair<std::uint32_t, std::uint8_t>> members) {
  nhmsg nhm{};
  MessageBuilder m(RTM_NEWNEXTHOP);
  m.family(nhm);
  m.u32(NHA_ID, id);
  std::vector<nexthop_grp> g(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    g[i].id = members[i].first;
    g[i].weight = static_cast<std::uint8_t>(members[i].second - 1);
  }
  m.attr(NHA_GROUP, g.data(), g.size() * sizeof(nexthop_grp));
  return m.done();
}

// Flows and groups as one line each, in the codec's text forms.
std::string text(const openflow::FlowMod& f) {
  std::ostringstream s;
  s << "table=" << int{f.table_id} << " prio=" << f.priority << " cookie=0x" << std::hex
    << (f.cookie >> 40) << std::dec << " " << openflow::to_text(f.match) << " -> ";
  if (f.instructions.empty()) s << "drop";
  for (const auto& i : f.instructions) s << openflow::to_text(i);
  return s.str();
}
std::string text(const openflow::GroupMod& g) {
  std::ostringstream s;
  s << (g.type == openflow::group_type::kIndirect ? "indirect" : "select");
  for (const auto& b : g.buckets) {
    s << " [";
    if (g.type == openflow::group_type::kSelect) s << "w" << b.weight << " ";
    s << openflow::to_text(b.actions) << "]";
  }
  return s.str();
}
std::vector<std::string> flow_texts(const FibCompiler& c) {
  std::vector<std::string> out;
  for (const auto& f : c.snapshot().flows) out.push_back(text(f));
  return out;
}
std::map<std::uint32_t, std::string> group_texts(const FibCompiler& c) {
  std::map<std::uint32_t, std::string> out;
  for (const auto& [id, g] : c.snapshot().groups) out.emplace(id, text(g));
  return out;
}

constexpr int kTap1 = 10, kTap2 = 11, kOther = 99;
const RouterPorts kPorts{{kTap1, {1, mac("02:00:00:00:00:01")}},
                         {kTap2, {2, mac("02:00:00:00:00:02")}}};

// Feeds hand-built messages to a real NetlinkWatcher's parser (no start():
// nothing comes from the kernel) and records the keys a batch touched.
class FibCompilerTest : public testing::Test {
 protected:
  void feed(const std::vector<std::uint8_t>& m) {
    const std::size_t before = w_.counters().parse_errors;
    w_.handle_datagram(m);
    ASSERT_EQ(w_.counters().parse_errors, before);
  }
  void add_route(const RouteSpec& s) { route(RTM_NEWROUTE, s); }
  void del_route(const RouteSpec& s) { route(RTM_DELROUTE, s); }
  void route(std::uint16_t type, const RouteSpec& s) {
    feed(route_msg(type, s));
    const IpPrefix dst = pfx(s.dst);
    changes_.routes.push_back(netns::RouteKey{s.table, dst.addr.family, dst, 0, s.metric});
  }
  void neigh(int ifindex, const char* addr, const char* lladdr, std::uint16_t state,
             std::uint16_t type = RTM_NEWNEIGH) {
    feed(neigh_msg(type, ifindex, addr, lladdr, state));
    changes_.neighbours.push_back(netns::NeighbourKey{ifindex, ip(addr)});
  }
  void nexthop(std::uint32_t id, int ifindex, const char* gw) {
    feed(nexthop_msg(id, ifindex, gw));
    changes_.nexthop_objects.push_back(id);
  }
  void nexthop_group(std::uint32_t id, std::vector<std::pair<std::uint32_t, std::uint8_t>> m) {
    feed(nexthop_group_msg(id, std::move(m)));
    changes_.nexthop_objects.push_back(id);
  }
  const netns::KernelState& state() const { return w_.state(); }
  FibDiff update(FibCompiler& c) {
    FibDiff d = c.update(state(), changes_);
    changes_ = {};
    return d;
  }
  FibDiff compile(FibCompiler& c) {
    changes_ = {};
    return c.compile(state());
  }

  boost::asio::io_context io_;
  netns::NetNamespace ns_ = netns::NetNamespace::current();
  netns::NetlinkWatcher w_{io_, ns_, netns::NetlinkWatcher::kAll, nullptr};
  netns::Changes changes_;
};

const char* kMiss = "table=1 prio=0 cookie=0x726f03 any -> apply(output:controller)";

TEST_F(FibCompilerTest, ConnectedSubnetGetsHostFlowsForResolvedNeighboursOnly) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  neigh(kTap1, "10.0.1.5", "aa:00:00:00:00:05", NUD_REACHABLE);
  neigh(kTap1, "10.0.1.6", nullptr, NUD_INCOMPLETE);
  neigh(kTap1, "10.0.1.7", "aa:00:00:00:00:07", NUD_FAILED);
  neigh(kTap1, "10.0.1.8", "01:00:5e:00:00:08", NUD_PERMANENT);  // multicast MAC
  neigh(kTap1, "10.0.1.9", "aa:00:00:00:00:09", NUD_NOARP);
  neigh(kTap1, "10.0.1.10", "aa:00:00:00:00:0a", NUD_STALE);
  neigh(kTap2, "10.0.1.11", "aa:00:00:00:00:0b", NUD_REACHABLE);  // other port: not this subnet
  FibCompiler c({}, kPorts);
  const FibDiff d = compile(c);
  EXPECT_EQ(d.flows_added.size(), 4u);
  EXPECT_EQ(d.groups_added.size(), 2u);
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1049 cookie=0x726f02 eth_type=0x0800,ipv4_dst=10.0.1.5 -> apply(group:1)",
      "table=1 prio=1049 cookie=0x726f02 eth_type=0x0800,ipv4_dst=10.0.1.10 -> apply(group:2)",
      "table=1 prio=1048 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.0.1.0/255.255.255.0 -> apply(output:controller)",
      kMiss}));
  EXPECT_EQ(group_texts(c), (std::map<std::uint32_t, std::string>{
      {1, "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:05,dec_ttl,output:1]"},
      {2, "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:0a,dec_ttl,output:1]"}}));
}

TEST_F(FibCompilerTest, GatewayRouteFollowsItsNeighbourThroughTheGroupOnly) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  FibCompiler c({}, kPorts);
  compile(c);
  // Unresolved: the route points at its group, which sends to the kernel.
  EXPECT_EQ(flow_texts(c)[1],
            "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.9.0.0/255.255.0.0 -> apply(group:1)");
  EXPECT_EQ(group_texts(c).at(1), "indirect [output:controller]");

  // Resolved: one group rewritten, no flow touched... except the gateway's own
  // host flow in the connected subnet.
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:01", NUD_REACHABLE);
  FibDiff d = update(c);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{1});
  EXPECT_TRUE(d.groups_added.empty());
  ASSERT_EQ(d.flows_added.size(), 1u);
  EXPECT_EQ(d.flows_added[0].kind, FibFlowKind::kHost);
  EXPECT_TRUE(d.flows_changed.empty());
  EXPECT_EQ(group_texts(c).at(1),
            "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:01,dec_ttl,output:1]");

  // Failed: back to the controller, host flow gone, group kept for the route.
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:01", NUD_FAILED);
  d = update(c);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{1});
  EXPECT_EQ(d.flows_removed.size(), 1u);
  EXPECT_EQ(group_texts(c).at(1), "indirect [output:controller]");
}

TEST_F(FibCompilerTest, NeighbourMacChangeRewritesOneGroupAndNoFlow) {
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:01", NUD_REACHABLE);
  for (int i = 0; i < 200; ++i) {
    const std::string dst = "172.16." + std::to_string(i) + ".0/24";
    add_route({.dst = dst.c_str(), .hops = {{kTap2, "10.0.2.1"}}});
  }
  FibCompiler c({}, kPorts);
  EXPECT_EQ(compile(c).flows_added.size(), 201u);
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:99", NUD_REACHABLE);
  const FibDiff d = update(c);
  EXPECT_EQ(d.size(), 1u);
  ASSERT_EQ(d.groups_changed.size(), 1u);
  EXPECT_EQ(text(c.render_group(d.groups_changed[0], openflow::group_mod_command::kModify)),
            "indirect [set_field:eth_src=02:00:00:00:00:02,set_field:eth_dst=aa:00:00:00:00:99,dec_ttl,output:2]");
}

TEST_F(FibCompilerTest, MultipathBecomesSelectGroupWithWeights) {
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:01", NUD_REACHABLE);
  add_route({.dst = "10.8.0.0/16", .hops = {{kTap1, "10.0.1.1", 1}, {kTap2, "10.0.2.1", 3}}});
  add_route({.dst = "10.5.0.0/16", .hops = {{kTap1, "10.0.1.1", 1}, {kTap2, "10.0.2.1", 3}}});
  // A dead next hop is left out, as the kernel does.
  add_route({.dst = "10.4.0.0/16",
             .hops = {{kTap1, "10.0.1.1", 1}, {kTap2, "10.0.2.1", 3, RTNH_F_DEAD}}});
  FibCompiler c({}, kPorts);
  const FibDiff d = compile(c);
  // Members first, so the select group never points at a missing group.
  EXPECT_EQ(d.groups_added, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.4.0.0/255.255.0.0 -> apply(group:1)",
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.5.0.0/255.255.0.0 -> apply(group:3)",
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.8.0.0/255.255.0.0 -> apply(group:3)",
      kMiss}));
  EXPECT_EQ(group_texts(c), (std::map<std::uint32_t, std::string>{
      {1, "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:01,dec_ttl,output:1]"},
      {2, "indirect [output:controller]"},
      {3, "select [w1 group:1] [w3 group:2]"}}));
}

TEST_F(FibCompilerTest, NexthopObjectChangeRewritesItsGroupOnly) {
  nexthop(1, kTap1, "10.0.1.1");
  nexthop(2, kTap2, "10.0.2.1");
  nexthop_group(3, {{1, 1}, {2, 2}});
  add_route({.dst = "10.7.0.0/16", .nhid = 3});
  add_route({.dst = "10.6.0.0/16", .nhid = 3});
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:01", NUD_REACHABLE);
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:02", NUD_REACHABLE);
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.6.0.0/255.255.0.0 -> apply(group:1)",
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.7.0.0/255.255.0.0 -> apply(group:1)",
      kMiss}));
  EXPECT_EQ(group_texts(c).at(1), "select [w1 group:2] [w2 group:3]");

  nexthop_group(3, {{2, 1}});  // FRR replaces the group's members
  FibDiff d = update(c);
  EXPECT_TRUE(d.flows_added.empty() && d.flows_changed.empty() && d.flows_removed.empty());
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{1});
  EXPECT_EQ(d.groups_removed, std::vector<std::uint32_t>{2});  // 10.0.1.1 no longer used
  EXPECT_EQ(group_texts(c).at(1), "select [w1 group:3]");
}

TEST_F(FibCompilerTest, Ipv6RouteViaLinkLocalGateway) {
  add_route({.dst = "2001:db8:1::/48", .hops = {{kTap1, "fe80::1"}}});
  add_route({.dst = "fe80::/64", .hops = {{kTap1}}});  // link-local: never routed
  neigh(kTap1, "fe80::1", "aa:00:00:00:00:61", NUD_REACHABLE);
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1096 cookie=0x726f01 eth_type=0x86dd,ipv6_dst=2001:db8:1::/ffff:ffff:ffff:: -> apply(group:1)",
      kMiss}));
  EXPECT_EQ(group_texts(c).at(1),
            "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:61,dec_ttl,output:1]");
}

TEST_F(FibCompilerTest, RouteRemovalRemovesFlowThenGroup) {
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  FibCompiler c({}, kPorts);
  compile(c);
  del_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  const FibDiff d = update(c);
  ASSERT_EQ(d.flows_removed.size(), 1u);
  EXPECT_EQ(text(c.render(d.flows_removed[0], openflow::flow_mod_command::kDeleteStrict)),
            "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.9.0.0/255.255.0.0 -> drop");
  EXPECT_EQ(d.groups_removed, std::vector<std::uint32_t>{1});
  EXPECT_EQ(c.group_count(), 0u);
  EXPECT_EQ(flow_texts(c), std::vector<std::string>{kMiss});
}

TEST_F(FibCompilerTest, RoutesThroughOtherInterfacesAreIgnored) {
  add_route({.dst = "10.1.0.0/16", .hops = {{kOther, "192.168.0.1"}}});
  add_route({.dst = "10.2.0.0/16", .hops = {{kOther}}});
  add_route({.dst = "10.3.0.0/16", .hops = {{kOther, "192.168.0.1"}, {kTap1, "10.0.1.1"}}});
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.3.0.0/255.255.0.0 -> apply(group:1)",
      kMiss}));
  EXPECT_EQ(group_texts(c).size(), 1u);  // the TAP next hop only, no select group
}

TEST_F(FibCompilerTest, LocalBroadcastOtherTablesAndMulticastIgnored) {
  add_route({.dst = "10.0.1.1/32", .hops = {{kTap1}}, .type = RTN_LOCAL, .table = RT_TABLE_LOCAL});
  add_route({.dst = "10.0.1.255/32", .hops = {{kTap1}}, .type = RTN_BROADCAST});
  add_route({.dst = "10.0.1.1/32", .hops = {{kTap1}}, .type = RTN_LOCAL});
  add_route({.dst = "10.50.0.0/16", .hops = {{kTap1, "10.0.1.1"}}, .table = 100});
  add_route({.dst = "ff00::/8", .hops = {{kTap1}}, .type = RTN_MULTICAST});
  add_route({.dst = "ff05::/16", .hops = {{kTap1}}});
  add_route({.dst = "10.66.0.0/16", .hops = {}, .type = RTN_BLACKHOLE});
  add_route({.dst = "10.67.0.0/16", .hops = {}, .type = RTN_UNREACHABLE});
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.66.0.0/255.255.0.0 -> drop",
      "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.67.0.0/255.255.0.0 -> apply(output:controller)",
      kMiss}));
  // Table 100 followed too (after main): its route appears.
  FibCompiler both({.tables = {254, 100}}, kPorts);
  compile(both);
  EXPECT_EQ(both.flow_count(), 4u);
}

TEST_F(FibCompilerTest, LowestMetricWinsAndTheNextTakesOver) {
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}, .metric = 10});
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap2, "10.0.2.1"}}, .metric = 20});
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(text(c.render_group(c.flows()[0].group)), "indirect [output:controller]");
  EXPECT_EQ(c.flows()[0].group, 1u);
  del_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}, .metric = 10});
  const FibDiff d = update(c);
  ASSERT_EQ(d.flows_changed.size(), 1u);
  EXPECT_EQ(d.flows_changed[0].group, 2u);
  EXPECT_EQ(d.groups_added, std::vector<std::uint32_t>{2});
  EXPECT_EQ(d.groups_removed, std::vector<std::uint32_t>{1});
}

TEST_F(FibCompilerTest, OpenFlow10FlattensIntoTableZero) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  // The watcher keeps next hops sorted by (ifindex, gateway): tap1's is first.
  add_route({.dst = "10.8.0.0/16", .hops = {{kTap2, "10.0.2.1", 1}, {kTap1, "10.0.1.1", 3}}});
  add_route({.dst = "2001:db8:1::/48", .hops = {{kTap1, "fe80::1"}}});
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:21", NUD_REACHABLE);
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  FibCompiler c({.version = openflow::kVersion10}, kPorts);
  const FibDiff d = compile(c);
  EXPECT_TRUE(d.groups_added.empty());
  EXPECT_EQ(c.group_count(), 0u);
  EXPECT_TRUE(c.snapshot().groups.empty());
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=0 prio=1049 cookie=0x726f02 eth_type=0x0800,ipv4_dst=10.0.1.1 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,output:1)",
      "table=0 prio=1048 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.0.1.0/255.255.255.0 -> apply(output:controller)",
      "table=0 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.8.0.0/255.255.0.0 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,output:1)"}));

  // A MAC change on 1.0 rewrites the flows that inline it: the host and the route.
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:12", NUD_REACHABLE);
  FibDiff m = update(c);
  EXPECT_TRUE(m.groups_changed.empty());
  ASSERT_EQ(m.flows_changed.size(), 2u);
  std::sort(m.flows_changed.begin(), m.flows_changed.end());
  EXPECT_EQ(m.flows_changed[0].prefix, pfx("10.8.0.0/16"));
  EXPECT_EQ(m.flows_changed[1].prefix, pfx("10.0.1.1/32"));
  EXPECT_EQ(text(c.render(m.flows_changed[0])),
            "table=0 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.8.0.0/255.255.0.0 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:12,output:1)");
  // The other next hop's MAC is not inlined anywhere: nothing to send.
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:22", NUD_REACHABLE);
  EXPECT_TRUE(update(c).empty());
}

// Profiles on 1.3 (pipeline/profile.hpp): one table (MikroTik's fast path),
// no groups, no TTL decrement, no select groups.
TEST_F(FibCompilerTest, OneTableGroupLessProfileInlinesIntoTableZeroWithoutTtl) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  add_route({.dst = "10.8.0.0/16", .hops = {{kTap2, "10.0.2.1", 1}, {kTap1, "10.0.1.1", 3}}});
  add_route({.dst = "2001:db8:1::/48", .hops = {{kTap1, "fe80::1"}}});
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  neigh(kTap1, "fe80::1", "aa:00:00:00:00:61", NUD_REACHABLE);
  FibCompiler c({.fib_table = 0, .groups = false, .dec_ttl = false}, kPorts);
  const FibDiff d = compile(c);
  EXPECT_TRUE(d.groups_added.empty());
  EXPECT_EQ(c.group_count(), 0u);
  EXPECT_FALSE(c.uses_groups());
  EXPECT_EQ(c.table_id(), 0);
  EXPECT_TRUE(c.snapshot().groups.empty());
  // Table 0, no miss flow (tapd's router-MAC flow catches the rest), IPv6 kept (1.3 matches it).
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=0 prio=1096 cookie=0x726f01 eth_type=0x86dd,ipv6_dst=2001:db8:1::/ffff:ffff:ffff:: -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:61,output:1)",
      "table=0 prio=1049 cookie=0x726f02 eth_type=0x0800,ipv4_dst=10.0.1.1 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,output:1)",
      "table=0 prio=1048 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.0.1.0/255.255.255.0 -> apply(output:controller)",
      "table=0 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.8.0.0/255.255.0.0 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,output:1)"}));
  // A MAC change rewrites the flows that inline it.
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:12", NUD_REACHABLE);
  const FibDiff m = update(c);
  EXPECT_TRUE(m.groups_changed.empty());
  EXPECT_EQ(m.flows_changed.size(), 2u);
}

TEST_F(FibCompilerTest, GroupLessProfileKeepsTheTtlDecrementWhereTheSwitchHasIt) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  FibCompiler c({.groups = false}, kPorts);
  compile(c);
  EXPECT_EQ(c.table_id(), 1);
  const auto flows = flow_texts(c);
  ASSERT_EQ(flows.size(), 4u);  // host, subnet, route, miss (two tables: the miss stays)
  EXPECT_EQ(flows[2],
            "table=1 prio=1032 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.9.0.0/255.255.0.0 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,dec_ttl,output:1)");
  EXPECT_EQ(flows[3], kMiss);
}

TEST_F(FibCompilerTest, NoTtlProfileLeavesDecTtlOutOfGroups) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  add_route({.dst = "10.9.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  FibCompiler c({.dec_ttl = false}, kPorts);
  compile(c);
  EXPECT_EQ(group_texts(c).at(1),
            "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:11,output:1]");
}

TEST_F(FibCompilerTest, WithoutSelectGroupsMultipathChainsToTheFirstNextHop) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  add_route({.dst = "10.0.2.0/24", .hops = {{kTap2}}});
  add_route({.dst = "10.8.0.0/16", .hops = {{kTap2, "10.0.2.1", 1}, {kTap1, "10.0.1.1", 3}}});
  neigh(kTap2, "10.0.2.1", "aa:00:00:00:00:21", NUD_REACHABLE);
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  FibCompiler c({.select_groups = false}, kPorts);
  compile(c);
  int chained = 0;
  for (const auto& [id, g] : group_texts(c)) {
    EXPECT_EQ(g.rfind("indirect [", 0), 0u) << g;  // never select
    if (g.find("group:") != std::string::npos) ++chained;
  }
  EXPECT_EQ(chained, 1);
}

TEST_F(FibCompilerTest, GroupIdsStayStableAcrossRecompilesAndAreReusedAfterABatch) {
  add_route({.dst = "10.1.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  add_route({.dst = "10.2.0.0/16", .hops = {{kTap1, "10.0.1.2"}}});
  add_route({.dst = "10.3.0.0/16", .hops = {{kTap1, "10.0.1.3"}}});
  FibCompiler c({}, kPorts);
  compile(c);
  const auto before = group_texts(c);
  del_route({.dst = "10.1.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  update(c);
  EXPECT_TRUE(compile(c).empty());  // a full recompile changes nothing
  EXPECT_EQ(c.flows()[0].group, 2u);
  // In one batch: 10.0.1.2 freed and 10.0.1.4 created. Id 2 is not reused in
  // the same diff (it would mean two things at once); id 1, freed earlier, is.
  del_route({.dst = "10.2.0.0/16", .hops = {{kTap1, "10.0.1.2"}}});
  add_route({.dst = "10.4.0.0/16", .hops = {{kTap1, "10.0.1.4"}}});
  const FibDiff d = update(c);
  EXPECT_EQ(d.groups_added, std::vector<std::uint32_t>{1});
  EXPECT_EQ(d.groups_removed, std::vector<std::uint32_t>{2});
  EXPECT_EQ(group_texts(c).size(), 2u);
  (void)before;
}

// --- property: incremental == full, and diffs replayed == snapshot ------------

// A switch that applies diffs; compared with the compiler's snapshot.
struct SwitchModel {
  std::map<std::pair<std::uint16_t, std::string>, std::string> flows;  // (prio, match) -> text
  std::map<std::uint32_t, std::string> groups;
  void apply(const FibCompiler& c, const FibDiff& d, std::string* error) {
    auto key = [&](const FibFlow& f) {
      return std::make_pair(f.priority, openflow::to_text(c.render(f).match));
    };
    for (auto id : d.groups_added) {
      if (!groups.emplace(id, text(c.render_group(id))).second) *error += "group re-added; ";
    }
    for (auto id : d.groups_changed) {
      if (!groups.contains(id)) *error += "modify of a missing group; ";
      groups[id] = text(c.render_group(id));
    }
    for (const auto& f : d.flows_added) {
      if (!flows.emplace(key(f), text(c.render(f))).second) *error += "flow re-added; ";
    }
    for (const auto& f : d.flows_changed) {
      if (!flows.contains(key(f))) *error += "modify of a missing flow; ";
      flows[key(f)] = text(c.render(f));
    }
    for (const auto& f : d.flows_removed) {
      if (flows.erase(key(f)) != 1) *error += "delete of a missing flow; ";
    }
    for (auto id : d.groups_removed) {
      if (groups.erase(id) != 1) *error += "delete of a missing group; ";
    }
  }
};

// Flows with group references expanded to what the groups do, so compilers
// with different id histories compare equal when they forward alike.
std::vector<std::string> canonical(const FibCompiler& c) {
  const FibSnapshot s = c.snapshot();
  std::function<std::string(std::uint32_t)> expand = [&](std::uint32_t id) {
    const openflow::GroupMod& g = s.groups.at(id);
    std::string out = g.type == openflow::group_type::kIndirect ? "ind{" : "sel{";
    for (const auto& b : g.buckets) {
      out += "w" + std::to_string(b.weight) + ":";
      for (const auto& a : b.actions) {
        if (const auto* grp = std::get_if<openflow::action::Group>(&a)) {
          out += expand(grp->group_id);
        } else {
          out += openflow::to_text(a) + ",";
        }
      }
      out += ";";
    }
    return out + "}";
  };
  std::vector<std::string> out;
  for (const auto& f : s.flows) {
    std::string line = std::to_string(f.priority) + " " + openflow::to_text(f.match) + " ->";
    for (const auto& i : f.instructions) {
      const auto* apply = std::get_if<openflow::instruction::ApplyActions>(&i);
      if (!apply) continue;
      for (const auto& a : apply->actions) {
        if (const auto* grp = std::get_if<openflow::action::Group>(&a)) {
          line += " " + expand(grp->group_id);
        } else {
          line += " " + openflow::to_text(a);
        }
      }
    }
    out.push_back(line);
  }
  return out;
}

// The flow a packet to `a` hits: the highest priority containing it (the
// switch's view; FibFlows of one priority never overlap).
std::optional<FibFlow> lookup(const std::vector<FibFlow>& flows, const IpAddress& a) {
  std::optional<FibFlow> best;
  for (const FibFlow& f : flows) {
    if (f.kind == FibFlowKind::kMiss || f.prefix.addr.family != a.family || !f.prefix.contains(a)) continue;
    if (!best || f.priority > best->priority) best = f;
  }
  return best;
}

// Compression never changes where a packet goes: every prefix's first and
// last address, and the address just past it, hit the same action.
void expect_same_forwarding(const FibCompiler& plain, const FibCompiler& packed, int round) {
  const auto a = plain.flows();
  const auto b = packed.flows();
  for (const FibFlow& f : a) {
    if (f.kind == FibFlowKind::kMiss) continue;
    std::vector<IpAddress> probes{f.prefix.network().addr};
    IpAddress last = f.prefix.network().addr;
    const unsigned bits = last.is_v4() ? 32 : 128;
    for (unsigned i = f.prefix.len; i < bits; ++i) last.bytes[i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
    probes.push_back(last);
    IpAddress next = last;
    for (int i = static_cast<int>(last.size()) - 1; i >= 0 && ++next.bytes[static_cast<std::size_t>(i)] == 0; --i) {}
    probes.push_back(next);
    for (const IpAddress& p : probes) {
      const auto x = lookup(a, p);
      const auto y = lookup(b, p);
      ASSERT_EQ(x.has_value(), y.has_value()) << p.to_string() << " round " << round;
      if (!x) continue;
      ASSERT_EQ(x->action, y->action) << p.to_string() << " round " << round;
      ASSERT_EQ(x->group, y->group) << p.to_string() << " round " << round;
      // A host flow stays itself (its priority sits just above its subnet).
      if (x->kind == FibFlowKind::kHost) {
        ASSERT_EQ(y->kind, FibFlowKind::kHost);
      }
    }
  }
  EXPECT_LE(b.size(), a.size());
}

void check_incremental_equals_full(std::uint8_t version, bool compress = false) {
  std::mt19937 rng(compress ? 20261206 : 20240605);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<const char*> gws4 = {"10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.2"};
  const std::vector<const char*> gws6 = {"fe80::1", "fe80::2", "2001:db8:ff::1"};
  const std::vector<int> ifs = {kTap1, kTap2, kOther};
  const std::vector<const char*> macs = {"aa:00:00:00:00:01", "aa:00:00:00:00:02",
                                         "aa:00:00:00:00:03"};
  const std::vector<std::uint16_t> states = {NUD_REACHABLE, NUD_STALE, NUD_INCOMPLETE,
                                             NUD_FAILED, NUD_PERMANENT, NUD_NOARP};

  netns::KernelState st;
  FibCompiler inc({.version = version}, kPorts);
  SwitchModel sw;
  std::string error;
  sw.apply(inc, inc.compile(st), &error);
  if (compress) sw.apply(inc, inc.set_compress(true), &error);

  for (int round = 0; round < 300; ++round) {
    if (compress && round % 50 == 49) {
      // Off and on again: each move takes the switch to the other form exactly.
      sw.apply(inc, inc.set_compress(!inc.compressing()), &error);
      ASSERT_EQ(error, "") << "round " << round;
    }
    netns::Changes ch;
    const int ops = 1 + pick(6);
    for (int op = 0; op < ops; ++op) {
      const int what = pick(10);
      if (what < 5) {  // a route: add, replace or delete
        netns::Route r;
        r.table = pick(6) == 0 ? 100u : 254u;
        const bool v6 = pick(3) == 0;
        const int n = pick(8);
        const std::string dst = v6 ? "2001:db8:" + std::to_string(n % 4) + "::/" + (n < 4 ? "48" : "64")
                                   : "10." + std::to_string(n % 5) + ".0.0/" + (n < 5 ? "16" : "24");
        r.dst = pfx(dst.c_str()).network();
        r.priority = static_cast<std::uint32_t>(pick(2) * 10);
        r.type = pick(12) == 0 ? RTN_BLACKHOLE : RTN_UNICAST;
        const int shape = pick(5);
        if (shape == 0) {
          r.nexthop_id = 1 + static_cast<std::uint32_t>(pick(4));
        } else if (shape == 1) {
          r.nexthops.push_back({ifs[static_cast<std::size_t>(pick(3))], std::nullopt, 1, 0});
        } else {
          const int hops = shape == 4 ? 2 + pick(2) : 1;
          for (int h = 0; h < hops; ++h) {
            const auto& gws = v6 ? gws6 : gws4;
            r.nexthops.push_back({ifs[static_cast<std::size_t>(pick(2))],
                                  ip(gws[static_cast<std::size_t>(pick(static_cast<int>(gws.size())))]),
                                  static_cast<std::uint8_t>(1 + pick(3)), 0});
          }
        }
        const auto k = netns::key_of(r);
        if (pick(3) == 0) {
          st.routes.erase(k);
        } else {
          st.routes.put(r);
        }
        ch.routes.push_back(k);
      } else if (what < 8) {  // a neighbour
        netns::Neighbour nb;
        nb.ifindex = ifs[static_cast<std::size_t>(pick(2))];
        const bool v6 = pick(3) == 0;
        const auto& pool = v6 ? gws6 : gws4;
        nb.ip = pick(4) == 0 && !v6 ? ip(("10.0." + std::to_string(1 + pick(2)) + ".9").c_str())
                                    : ip(pool[static_cast<std::size_t>(pick(static_cast<int>(pool.size())))]);
        nb.state = states[static_cast<std::size_t>(pick(static_cast<int>(states.size())))];
        if (nb.state != NUD_INCOMPLETE) nb.mac = mac(macs[static_cast<std::size_t>(pick(3))]);
        const netns::NeighbourKey k{nb.ifindex, nb.ip};
        if (pick(4) == 0) {
          st.neighbours.erase(k);
        } else {
          st.neighbours[k] = nb;
        }
        ch.neighbours.push_back(k);
      } else {  // a nexthop object
        netns::NexthopObject o;
        o.id = 1 + static_cast<std::uint32_t>(pick(4));
        if (o.id == 4) {
          o.group = {{1, static_cast<std::uint8_t>(1 + pick(3))}, {2, 1}};
        } else if (pick(6) == 0) {
          o.blackhole = true;
        } else {
          o.nexthop = netns::NextHop{ifs[static_cast<std::size_t>(pick(3))],
                                     ip(gws4[static_cast<std::size_t>(pick(4))]), 1, 0};
        }
        if (pick(5) == 0) {
          st.nexthop_objects.erase(o.id);
        } else {
          st.nexthop_objects[o.id] = o;
        }
        ch.nexthop_objects.push_back(o.id);
      }
    }
    sw.apply(inc, inc.update(st, ch), &error);
    ASSERT_EQ(error, "") << "round " << round;

    FibCompiler full({.version = version}, kPorts);
    if (inc.compressing()) (void)full.set_compress(true);
    full.compile(st);
    ASSERT_EQ(canonical(inc), canonical(full)) << "round " << round;
    if (compress) {
      FibCompiler plain({.version = version}, kPorts), packed({.version = version}, kPorts);
      plain.compile(st);
      (void)packed.set_compress(true);
      packed.compile(st);
      expect_same_forwarding(plain, packed, round);
      if (testing::Test::HasFatalFailure()) return;
    }

    std::map<std::pair<std::uint16_t, std::string>, std::string> want;
    for (const auto& f : inc.snapshot().flows) {
      want.emplace(std::make_pair(f.priority, openflow::to_text(f.match)), text(f));
    }
    ASSERT_EQ(sw.flows, want) << "round " << round;
    ASSERT_EQ(sw.groups, group_texts(inc)) << "round " << round;
  }
  // The run must have exercised something.
  EXPECT_GT(inc.flow_count(), 3u);
}

TEST(FibCompilerProperty, IncrementalEqualsFullCompileOpenFlow13) {
  check_incremental_equals_full(openflow::kVersion13);
}
TEST(FibCompilerProperty, IncrementalEqualsFullCompileOpenFlow10) {
  check_incremental_equals_full(openflow::kVersion10);
}
TEST(FibCompilerProperty, CompressedIncrementalEqualsFullAndForwardsTheSame) {
  check_incremental_equals_full(openflow::kVersion13, true);
}
TEST(FibCompilerProperty, CompressedOpenFlow10) {
  check_incremental_equals_full(openflow::kVersion10, true);
}

TEST_F(FibCompilerTest, CompressionMergesSameNextHopAndKeepsConnectedSubnets) {
  add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
  for (const char* dst : {"20.0.0.0/24", "20.0.1.0/24", "20.0.2.0/23", "20.0.4.0/24"}) {
    add_route({.dst = dst, .hops = {{kTap1, "10.0.1.1"}}});
  }
  add_route({.dst = "20.0.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});  // covers them all
  add_route({.dst = "20.0.9.0/24", .hops = {{kTap1, "10.0.1.2"}}});   // another next hop
  neigh(kTap1, "10.0.1.1", "aa:00:00:00:00:11", NUD_REACHABLE);
  FibCompiler c({}, kPorts);
  compile(c);
  EXPECT_EQ(c.flow_count(), 9u);  // 7 routes, 1 host, the miss
  const FibDiff on = c.set_compress(true);
  EXPECT_TRUE(c.compressing());
  // The four specifics under the /16 of the same next hop go; nothing is added.
  EXPECT_EQ(on.flows_removed.size(), 4u);
  EXPECT_TRUE(on.flows_added.empty());
  EXPECT_EQ(c.flow_count(), 5u);
  EXPECT_EQ(c.uncompressed_flow_count(), 9u);
  EXPECT_EQ(c.route_count(), 7u);
  // A new specific of the same next hop costs nothing.
  add_route({.dst = "20.0.7.0/24", .hops = {{kTap1, "10.0.1.1"}}});
  EXPECT_TRUE(update(c).empty());
  // ... merged with its sibling of that next hop: 20.0.8.0/23 replaces 20.0.9.0/24.
  add_route({.dst = "20.0.8.0/24", .hops = {{kTap1, "10.0.1.2"}}});
  FibDiff d = update(c);
  ASSERT_EQ(d.flows_added.size(), 1u);
  EXPECT_EQ(d.flows_added[0].prefix, pfx("20.0.8.0/23"));
  ASSERT_EQ(d.flows_removed.size(), 1u);
  EXPECT_EQ(d.flows_removed[0].prefix, pfx("20.0.9.0/24"));
  EXPECT_EQ(d.size(), 2u);
  // The /16 gone: its specifics come back (merged where they can be).
  del_route({.dst = "20.0.0.0/16", .hops = {{kTap1, "10.0.1.1"}}});
  d = update(c);
  EXPECT_EQ(d.flows_removed.size(), 1u);
  std::set<std::string> added;
  for (const FibFlow& f : d.flows_added) added.insert(f.prefix.to_string());
  // 20.0.0.0/24 + 20.0.1.0/24 + 20.0.2.0/23 = 20.0.0.0/22; then /24s 4 and 7.
  EXPECT_EQ(added, (std::set<std::string>{"20.0.0.0/22", "20.0.4.0/24", "20.0.7.0/24"}));
  // Off again: every route as itself.
  const FibDiff off = c.set_compress(false);
  EXPECT_FALSE(c.compressing());
  EXPECT_EQ(c.flow_count(), c.uncompressed_flow_count());
  EXPECT_FALSE(off.flows_added.empty());
}


// --- VLAN mode: indirect groups follow tapd's learned MAC locations ----------

constexpr int kVlanTap = 12;
const MacAddress kVlanMac = mac("02:00:00:00:00:0a");
const RouterPorts kVlanPorts{{kTap1, {1, mac("02:00:00:00:00:01")}},
                             {kTap2, {2, mac("02:00:00:00:00:02")}},
                             {kVlanTap, {0, kVlanMac, 10}}};
const char* kHostA = "aa:00:00:00:00:05";
const char* kHostB = "aa:00:00:00:00:06";
const std::string kToA = "set_field:eth_src=02:00:00:00:00:0a,set_field:eth_dst=aa:00:00:00:00:05,dec_ttl,";

class FibCompilerVlanTest : public FibCompilerTest {
 protected:
  // A connected VLAN subnet with host A (10.0.10.5, also the gateway of
  // 10.77.0.0/16) and host B (10.0.10.6); host A's MAC also sits behind tap1.
  void SetUp() override {
    add_route({.dst = "10.0.10.0/24", .hops = {{kVlanTap}}});
    add_route({.dst = "10.77.0.0/16", .hops = {{kVlanTap, "10.0.10.5"}}});
    add_route({.dst = "10.0.1.0/24", .hops = {{kTap1}}});
    neigh(kVlanTap, "10.0.10.5", kHostA, NUD_REACHABLE);
    neigh(kVlanTap, "10.0.10.6", kHostB, NUD_REACHABLE);
    neigh(kTap1, "10.0.1.5", kHostA, NUD_REACHABLE);
  }
  FibDiff locate(FibCompiler& c, const char* m, std::optional<L2Location> where, int ifindex = kVlanTap) {
    return c.set_l2_location(ifindex, mac(m), where, state());
  }
  // The id of the indirect group a host flow points at.
  static std::uint32_t host_group(const FibCompiler& c, const char* host) {
    for (const FibFlow& f : c.flows()) {
      if (f.kind == FibFlowKind::kHost && f.prefix == IpPrefix{ip(host), 32}) return f.group;
    }
    ADD_FAILURE() << "no host flow for " << host;
    return 0;
  }
};

TEST_F(FibCompilerVlanTest, GroupFollowsTheLearnedLocationAndNoFlowChanges) {
  FibCompiler c({}, kVlanPorts);
  compile(c);
  const std::uint32_t a = host_group(c, "10.0.10.5");
  // The route via A shares A's group: it is never in a location diff.
  const auto flows = c.flows();
  const auto via_a = std::find_if(flows.begin(), flows.end(),
                                  [](const FibFlow& f) { return f.prefix == pfx("10.77.0.0/16"); });
  ASSERT_NE(via_a, flows.end());
  EXPECT_EQ(via_a->action, FibAction::kGroup);
  EXPECT_EQ(via_a->group, a);
  // Unknown location: the kernel forwards through the VLAN TAP, tapd floods.
  EXPECT_EQ(text(c.render_group(a)), "indirect [output:controller]");
  const auto before = group_texts(c);

  // Tagged egress: push the tag the eth_dst table popped.
  FibDiff d = locate(c, kHostA, L2Location{4, true});
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{a});
  EXPECT_EQ(text(c.render_group(a, openflow::group_mod_command::kModify)),
            "indirect [" + kToA + "push_vlan:0x8100,set_field:vlan_vid=0x100a,output:4]");

  // Moves to an access port: untagged egress, plain output. Exactly one group.
  d = locate(c, kHostA, L2Location{2, false});
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{a});
  EXPECT_EQ(text(c.render_group(a)), "indirect [" + kToA + "output:2]");
  EXPECT_TRUE(locate(c, kHostA, L2Location{2, false}).empty());  // said again: nothing

  // Everything but A's VLAN group is as before: B, and A's MAC behind tap1.
  auto after = group_texts(c);
  after.erase(a);
  auto expected = before;
  expected.erase(a);
  EXPECT_EQ(after, expected);

  // Aged out: back to the controller.
  d = locate(c, kHostA, std::nullopt);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{a});
  EXPECT_EQ(group_texts(c), before);
  EXPECT_TRUE(locate(c, kHostA, std::nullopt).empty());
}

TEST_F(FibCompilerVlanTest, AMacMoveRewritesOnlyThatNeighboursGroup) {
  FibCompiler c({}, kVlanPorts);
  compile(c);
  const std::uint32_t a = host_group(c, "10.0.10.5"), b = host_group(c, "10.0.10.6");
  ASSERT_NE(a, b);
  locate(c, kHostA, L2Location{4, true});
  EXPECT_EQ(locate(c, kHostB, L2Location{1, false}).groups_changed, std::vector<std::uint32_t>{b});
  const auto before = group_texts(c);
  const FibDiff d = locate(c, kHostB, L2Location{3, false});
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{b});
  EXPECT_EQ(group_texts(c).at(a), before.at(a));
  EXPECT_EQ(group_texts(c).at(b),
            "indirect [set_field:eth_src=02:00:00:00:00:0a,set_field:eth_dst=aa:00:00:00:00:06,dec_ttl,output:3]");
  // The neighbour's own MAC change is seen through the location of the new MAC.
  neigh(kVlanTap, "10.0.10.6", kHostA, NUD_REACHABLE);
  EXPECT_EQ(update(c).groups_changed, std::vector<std::uint32_t>{b});
  EXPECT_EQ(group_texts(c).at(b), "indirect [set_field:eth_src=02:00:00:00:00:0a,set_field:eth_dst=aa:00:00:00:00:05,dec_ttl,push_vlan:0x8100,set_field:vlan_vid=0x100a,output:4]");
}

TEST_F(FibCompilerVlanTest, PerPortRouterPortsIgnoreLocations) {
  FibCompiler c({}, kVlanPorts);
  compile(c);
  const auto before = group_texts(c);
  const std::uint32_t on_tap1 = host_group(c, "10.0.1.5");
  EXPECT_EQ(before.at(on_tap1),
            "indirect [set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:05,dec_ttl,output:1]");
  // A location reported for a per-port TAP or an unknown interface changes nothing.
  EXPECT_TRUE(locate(c, kHostA, L2Location{7, true}, kTap1).empty());
  EXPECT_TRUE(locate(c, kHostA, L2Location{7, true}, kOther).empty());
  EXPECT_EQ(group_texts(c), before);
}

TEST_F(FibCompilerVlanTest, LocationsSurviveRecompilesAndMayComeFirst) {
  FibCompiler c({}, kVlanPorts);
  // Before anything is compiled: recorded, nothing to send yet.
  EXPECT_TRUE(locate(c, kHostA, L2Location{4, true}).empty());
  compile(c);
  const std::uint32_t a = host_group(c, "10.0.10.5");
  EXPECT_EQ(text(c.render_group(a)),
            "indirect [" + kToA + "push_vlan:0x8100,set_field:vlan_vid=0x100a,output:4]");
  EXPECT_TRUE(compile(c).empty());  // a full recompile keeps the location

  // New ports (the VLAN's router MAC and id changed): full compile, location kept.
  RouterPorts ports = kVlanPorts;
  ports[kVlanTap] = RouterPort{0, mac("02:00:00:00:00:0b"), 20};
  const FibDiff d = c.set_ports(ports, state());
  EXPECT_TRUE(d.flows_added.empty() && d.flows_changed.empty() && d.flows_removed.empty());
  EXPECT_EQ(d.groups_changed, std::vector<std::uint32_t>{a});
  EXPECT_EQ(text(c.render_group(a)),
            "indirect [set_field:eth_src=02:00:00:00:00:0b,set_field:eth_dst=aa:00:00:00:00:05,dec_ttl,"
            "push_vlan:0x8100,set_field:vlan_vid=0x1014,output:4]");

  // A neighbour appearing after its MAC was learned starts resolved.
  locate(c, "aa:00:00:00:00:07", L2Location{5, false});
  neigh(kVlanTap, "10.0.10.7", "aa:00:00:00:00:07", NUD_REACHABLE);
  const FibDiff n = update(c);
  ASSERT_EQ(n.groups_added.size(), 1u);
  EXPECT_EQ(text(c.render_group(n.groups_added[0])),
            "indirect [set_field:eth_src=02:00:00:00:00:0b,set_field:eth_dst=aa:00:00:00:00:07,dec_ttl,output:5]");
}

TEST_F(FibCompilerVlanTest, OpenFlow10IgnoresVlanPorts) {
  FibCompiler c({.version = openflow::kVersion10}, kVlanPorts);
  EXPECT_TRUE(locate(c, kHostA, L2Location{4, false}).empty());
  compile(c);
  // Only tap1's subnet and host: nothing through the VLAN TAP.
  EXPECT_EQ(flow_texts(c), (std::vector<std::string>{
      "table=0 prio=1049 cookie=0x726f02 eth_type=0x0800,ipv4_dst=10.0.1.5 -> apply(set_field:eth_src=02:00:00:00:00:01,set_field:eth_dst=aa:00:00:00:00:05,output:1)",
      "table=0 prio=1048 cookie=0x726f01 eth_type=0x0800,ipv4_dst=10.0.1.0/255.255.255.0 -> apply(output:controller)"}));
  EXPECT_TRUE(locate(c, kHostA, L2Location{3, true}).empty());
  EXPECT_TRUE(c.set_ports(kVlanPorts, state()).empty());
}

TEST_F(FibCompilerVlanTest, TaggedGroupRoundTripsThroughTheCodec) {
  FibCompiler c({}, kVlanPorts);
  compile(c);
  const std::uint32_t a = host_group(c, "10.0.10.5");
  locate(c, kHostA, L2Location{4, true});
  const openflow::Message m{openflow::kVersion13, 7, c.render_group(a)};
  const auto bytes = openflow::encode(m);
  ASSERT_TRUE(bytes.ok());
  const auto back = openflow::decode(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
  // On the wire, independent of the codec's model: OFPAT_PUSH_VLAN (17, len 8,
  // 0x8100) and OFPAT_SET_FIELD (25, len 16) holding OXM OFB_VLAN_VID (class
  // 0x8000, field 6, no mask, length 2) = 0x1000|10.
  const std::vector<std::uint8_t> push{0x00, 0x11, 0x00, 0x08, 0x81, 0x00, 0x00, 0x00};
  const std::vector<std::uint8_t> set{0x00, 0x19, 0x00, 0x10, 0x80, 0x00, 0x0c, 0x02, 0x10, 0x0a};
  EXPECT_NE(std::search(bytes->begin(), bytes->end(), push.begin(), push.end()), bytes->end());
  EXPECT_NE(std::search(bytes->begin(), bytes->end(), set.begin(), set.end()), bytes->end());
}

// Random neighbour and location changes on a VLAN TAP: the diffs replayed on a
// switch model equal the snapshot, and equal a fresh compile told the same
// locations.
TEST(FibCompilerProperty, VlanLocationsIncrementalEqualsFullCompile) {
  std::mt19937 rng(20240607);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<const char*> macs = {"aa:00:00:00:00:01", "aa:00:00:00:00:02", "aa:00:00:00:00:03"};
  const std::vector<const char*> hosts = {"10.0.10.1", "10.0.10.2", "10.0.10.3", "10.0.10.4"};
  netns::KernelState st;
  // The connected subnet, and a route via host 10.0.10.1.
  for (const auto& [dst, gw] : {std::pair<const char*, const char*>{"10.0.10.0/24", nullptr},
                                {"10.20.0.0/16", "10.0.10.1"}}) {
    netns::Route route;
    route.table = RT_TABLE_MAIN;
    route.type = RTN_UNICAST;
    route.dst = pfx(dst);
    route.nexthops.push_back({kVlanTap, gw ? std::optional(ip(gw)) : std::nullopt, 1, 0});
    st.routes.put(route);
  }
  std::map<std::pair<int, MacAddress>, L2Location> locations;
  FibCompiler inc({}, kVlanPorts);
  SwitchModel sw;
  std::string error;
  sw.apply(inc, inc.compile(st), &error);
  int located_changes = 0;
  for (int round = 0; round < 300; ++round) {
    if (pick(2) == 0) {
      netns::Neighbour nb;
      nb.ifindex = kVlanTap;
      nb.ip = ip(hosts[static_cast<std::size_t>(pick(4))]);
      nb.state = pick(5) == 0 ? NUD_FAILED : NUD_REACHABLE;
      nb.mac = mac(macs[static_cast<std::size_t>(pick(3))]);
      const netns::NeighbourKey k{nb.ifindex, nb.ip};
      if (pick(4) == 0) {
        st.neighbours.erase(k);
      } else {
        st.neighbours[k] = nb;
      }
      netns::Changes ch;
      ch.neighbours.push_back(k);
      sw.apply(inc, inc.update(st, ch), &error);
    } else {
      const MacAddress m = mac(macs[static_cast<std::size_t>(pick(3))]);
      std::optional<L2Location> where;
      if (pick(4) != 0) where = L2Location{static_cast<std::uint32_t>(1 + pick(3)), pick(2) == 0};
      if (where) {
        locations[{kVlanTap, m}] = *where;
      } else {
        locations.erase({kVlanTap, m});
      }
      const FibDiff d = inc.set_l2_location(kVlanTap, m, where, st);
      EXPECT_TRUE(d.flows_added.empty() && d.flows_changed.empty() && d.flows_removed.empty() &&
                  d.groups_added.empty() && d.groups_removed.empty());
      located_changes += d.groups_changed.empty() ? 0 : 1;
      sw.apply(inc, d, &error);
    }
    ASSERT_EQ(error, "") << "round " << round;
    FibCompiler full({}, kVlanPorts);
    for (const auto& [k, where] : locations) full.set_l2_location(k.first, k.second, where, st);
    full.compile(st);
    ASSERT_EQ(canonical(inc), canonical(full)) << "round " << round;
    ASSERT_EQ(sw.groups, group_texts(inc)) << "round " << round;
  }
  EXPECT_GT(located_changes, 20);
}

}  // namespace
}  // namespace tapflow::routing
