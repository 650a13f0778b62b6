// The control socket's views from hand-built kernel state and FIB flows:
// routes (all, a prefix, an address's longest match), neighbours, and the
// flow comparison behind `show flows [--diff]`.
#include "control_views.hpp"

#include <gtest/gtest.h>

namespace tapflow::daemon {
namespace {

netns::IpPrefix pfx(const char* t) { return *netns::IpPrefix::parse(t); }

netns::KernelState lab_state() {
  netns::KernelState st;
  for (int i : {2, 3}) {
    netns::Link l;
    l.ifindex = i;
    l.name = "eth" + std::to_string(i);
    st.links[i] = l;
  }
  auto route = [&](std::uint32_t table, const char* dst, std::uint32_t metric, std::uint8_t proto,
                   std::optional<const char*> gw, int dev) {
    netns::Route r;
    r.table = table;
    r.dst = pfx(dst);
    r.priority = metric;
    r.protocol = proto;
    r.type = 1;
    netns::NextHop nh;
    nh.ifindex = dev;
    if (gw) nh.gateway = netns::IpAddress::parse(*gw);
    r.nexthops = {nh};
    st.routes.put(r);
  };
  route(254, "10.0.2.0/24", 0, 2, std::nullopt, 2);
  route(254, "10.0.0.0/8", 32, 12, "10.0.2.2", 2);
  route(254, "10.0.3.0/24", 32, 12, "10.0.2.2", 2);
  route(254, "10.0.3.0/24", 100, 12, "10.0.2.3", 2);  // same prefix, worse metric
  route(255, "10.0.2.1/32", 0, 2, std::nullopt, 2);   // local table: not followed
  netns::Neighbour n;
  n.ifindex = 2;
  n.ip = *netns::IpAddress::parse("10.0.2.2");
  n.mac = openflow::MacAddress::parse("02:00:00:00:00:02");
  n.state = 0x02;
  st.neighbours[{2, n.ip}] = n;
  return st;
}

TEST(ControlViews, RoutesOfTheFollowedTables) {
  const auto st = lab_state();
  ControlRequest r;
  r.view = ControlView::kRoutes;
  const json j = routes_json(st, {254}, r);
  EXPECT_EQ(j["total"], 4);
  EXPECT_FALSE(j["truncated"]);
  ASSERT_EQ(j["routes"].size(), 4u);
  for (const auto& route : j["routes"]) EXPECT_EQ(route["table"], "main");
  const json& first = j["routes"][0];
  EXPECT_EQ(first["prefix"], "10.0.0.0/8");
  EXPECT_EQ(first["protocol"], "bird");
  EXPECT_EQ(first["type"], "unicast");
  EXPECT_EQ(first["nexthops"][0]["gateway"], "10.0.2.2");
  EXPECT_EQ(first["nexthops"][0]["dev"], "eth2");
  r.limit = 1;
  const json t = routes_json(st, {254}, r);
  EXPECT_EQ(t["routes"].size(), 1u);
  EXPECT_TRUE(t["truncated"]);
}

TEST(ControlViews, PrefixGivesItsRoutesAndAddressItsLongestMatch) {
  const auto st = lab_state();
  ControlRequest r;
  r.view = ControlView::kRoutes;
  r.destination = pfx("10.0.3.0/24");
  EXPECT_EQ(routes_json(st, {254}, r)["routes"].size(), 2u);  // both metrics
  r.destination = pfx("10.0.3.77/32");
  r.address = true;
  json j = routes_json(st, {254}, r);
  ASSERT_EQ(j["routes"].size(), 1u);
  EXPECT_EQ(j["routes"][0]["prefix"], "10.0.3.0/24");
  EXPECT_EQ(j["routes"][0]["metric"], 32);  // the lowest metric
  r.destination = pfx("10.9.9.9/32");
  EXPECT_EQ(routes_json(st, {254}, r)["routes"][0]["prefix"], "10.0.0.0/8");
  r.destination = pfx("192.0.2.1/32");
  EXPECT_TRUE(routes_json(st, {254}, r)["routes"].empty());
}

TEST(ControlViews, Neighbours) {
  const json j = neighbors_json(lab_state(), 10);
  ASSERT_EQ(j["neighbors"].size(), 1u);
  EXPECT_EQ(j["neighbors"][0]["ip"], "10.0.2.2");
  EXPECT_EQ(j["neighbors"][0]["mac"], "02:00:00:00:00:02");
  EXPECT_EQ(j["neighbors"][0]["state"], "reachable");
  EXPECT_EQ(nud_state_name(0x04 | 0x80), "stale,permanent");
  EXPECT_EQ(route_protocol_name(186), "bgp");
  EXPECT_EQ(route_protocol_name(77), "77");
}

routing::FibFlow route_flow(const char* prefix, std::uint32_t group) {
  routing::FibFlow f;
  f.kind = routing::FibFlowKind::kRoute;
  f.prefix = pfx(prefix);
  f.priority = static_cast<std::uint16_t>(1000 + 2 * f.prefix.len);
  f.action = routing::FibAction::kGroup;
  f.group = group;
  return f;
}

FlowComparison::Text text(std::string actions) { return {0x726f010000000000ULL, "m", std::move(actions), 7}; }

json compare(bool diff) {
  std::vector<FlowComparison::Want> want{{route_flow("10.0.3.0/24", 1), 11, false},
                                         {route_flow("10.0.4.0/24", 1), 12, false},
                                         {route_flow("10.0.5.0/24", 2), 13, false},
                                         {route_flow("10.0.6.0/24", 2), 14, true}};
  FlowComparison c(std::move(want), 1, diff, 100);
  c.add_have(route_flow("10.0.3.0/24", 1), 1, 1048, 11, [] { return text("apply(group:1)"); });
  c.add_have(route_flow("10.0.5.0/24", 9), 1, 1048, 99, [] { return text("apply(group:9)"); });
  c.add_have(route_flow("10.0.7.0/24", 1), 1, 1048, 15, [] { return text("apply(group:1)"); });
  c.add_have(std::nullopt, 0, 5, 1, [] { return text("drop"); });  // another shape: not a FIB flow
  return c.finish([](const routing::FibFlow& f) {
    return FlowComparison::Text{0x726f010000000000ULL, "m", "apply(group:" + std::to_string(f.group) + ")",
                                std::nullopt};
  });
}

TEST(ControlViews, FlowComparisonNamesEveryState) {
  const json j = compare(false);
  EXPECT_EQ(j["counts"]["ok"], 1);
  EXPECT_EQ(j["counts"]["missing"], 1);
  EXPECT_EQ(j["counts"]["different"], 1);
  EXPECT_EQ(j["counts"]["extra"], 2);
  EXPECT_EQ(j["counts"]["withheld"], 1);
  std::map<std::string, std::string> state;
  for (const auto& f : j["flows"]) state[f["prefix"].is_null() ? "other" : f["prefix"].get<std::string>()] = f["state"];
  EXPECT_EQ(state["10.0.3.0/24"], "ok");
  EXPECT_EQ(state["10.0.4.0/24"], "missing");
  EXPECT_EQ(state["10.0.5.0/24"], "different");
  EXPECT_EQ(state["10.0.6.0/24"], "withheld");
  EXPECT_EQ(state["10.0.7.0/24"], "extra");
  EXPECT_EQ(state["other"], "extra");
  for (const auto& f : j["flows"]) {
    if (f["prefix"] == "10.0.5.0/24") {
      EXPECT_EQ(f["want"], "apply(group:2)");
      EXPECT_EQ(f["have"], "apply(group:9)");
    }
    if (f["prefix"] == "10.0.4.0/24") {
      EXPECT_TRUE(f["have"].is_null());
    }
  }
}

TEST(ControlViews, FlowDiffListsOnlyWhatDiffers) {
  const json j = compare(true);
  EXPECT_EQ(j["flows"].size(), 4u);  // missing, different, two extra: no ok, no withheld
  for (const auto& f : j["flows"]) {
    EXPECT_NE(f["state"], "ok");
    EXPECT_NE(f["state"], "withheld");
  }
  // Sorted as the switch orders flows: priority high to low.
  EXPECT_EQ(j["flows"].back()["priority"], 5);
}

}  // namespace
}  // namespace tapflow::daemon
