// Punt flows: exact flow lists for small routers on OpenFlow 1.0 and 1.3,
// and the properties every list must have (valid matches, sorted, unique,
// independent of input order, encodable in its version).
#include "tapflow/netns/ip.hpp"
#include "tapflow/tapd/punt_flows.hpp"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <random>
#include <string>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::tapd {
namespace {

using namespace openflow;
using netns::IpAddress;

IpAddress ip(const char* text) {
  const auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad address in test: " << text;
  return a.value_or(IpAddress{});
}

PuntPort port(std::uint32_t no) { return {no, MacAddress::from_u64(0x0200000000a0ULL + no)}; }

// One line per flow: "priority match -> instructions".
std::string line(const FlowMod& f) {
  std::string s = std::to_string(f.priority) + " " + to_text(f.match) + " ->";
  if (f.instructions.empty()) s += " drop";
  for (const Instruction& i : f.instructions) s += " " + to_text(i);
  return s;
}
std::vector<std::string> lines(const std::vector<FlowMod>& flows) {
  std::vector<std::string> out;
  for (const FlowMod& f : flows) out.push_back(line(f));
  return out;
}

PuntInputs small_router(std::uint8_t version) {
  PuntInputs in;
  in.version = version;
  in.ports = {port(1), port(2)};
  in.addresses = {ip("10.0.1.1"), ip("10.0.2.1"), ip("2001:db8::1"), ip("fe80::1")};
  return in;
}

const char* const kToController = "apply(output:controller)";

TEST(PuntFlows, OpenFlow13SmallRouter) {
  const auto flows = punt_flows(small_router(kVersion13));
  const std::string c = kToController;
  EXPECT_EQ(lines(flows),
            (std::vector<std::string>{
                "40000 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0 -> " + c,
                "40000 eth_type=0x0806,arp_tpa=10.0.1.1 -> " + c,
                "40000 eth_type=0x0806,arp_tpa=10.0.2.1 -> " + c,
                "40000 eth_type=0x86dd,ipv6_dst=ff02::/ffff:: -> " + c,
                "39000 eth_type=0x0800,ipv4_dst=10.0.1.1 -> " + c,
                "39000 eth_type=0x0800,ipv4_dst=10.0.2.1 -> " + c,
                "39000 eth_type=0x86dd,ipv6_dst=2001:db8::1 -> " + c,
                "39000 eth_type=0x86dd,ipv6_dst=fe80::1 -> " + c,
                "100 in_port=1,eth_dst=02:00:00:00:00:a1 -> " + c,
                "100 in_port=2,eth_dst=02:00:00:00:00:a2 -> " + c,
                "0 any -> drop",
            }));
}

TEST(PuntFlows, OpenFlow13WithFibTableSendsRouterMacToIt) {
  auto in = small_router(kVersion13);
  in.fib_table = 1;
  const auto flows = punt_flows(in);
  ASSERT_EQ(flows.size(), 11u);
  EXPECT_EQ(line(flows[8]), "100 in_port=1,eth_dst=02:00:00:00:00:a1 -> goto_table:1");
  EXPECT_EQ(line(flows[9]), "100 in_port=2,eth_dst=02:00:00:00:00:a2 -> goto_table:1");
  // Only the router-MAC flows change.
  auto without = punt_flows(small_router(kVersion13));
  for (std::size_t i = 0; i < flows.size(); ++i) {
    if (i == 8 || i == 9) continue;
    EXPECT_EQ(flows[i], without[i]) << i;
  }
  in.fib_table = 7;
  EXPECT_EQ(line(punt_flows(in)[8]), "100 in_port=1,eth_dst=02:00:00:00:00:a1 -> goto_table:7");
}

TEST(PuntFlows, FibTableZeroWouldLoopSoRouterMacGoesToController) {
  auto in = small_router(kVersion13);
  in.fib_table = 0;
  EXPECT_EQ(punt_flows(in), punt_flows(small_router(kVersion13)));
}

TEST(PuntFlows, OpenFlow10SmallRouterPuntsIpv6ByMac) {
  const auto flows = punt_flows(small_router(kVersion10));
  const std::string c = kToController;
  // 2001:db8::1 and fe80::1 share the solicited-node MAC 33:33:ff:00:00:01.
  EXPECT_EQ(lines(flows),
            (std::vector<std::string>{
                "40000 eth_dst=33:33:00:00:00:01,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:00:00:00:02,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:00:00:00:05,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:00:00:00:06,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:00:00:00:09,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:00:00:00:16,eth_type=0x86dd -> " + c,
                "40000 eth_dst=33:33:ff:00:00:01,eth_type=0x86dd -> " + c,
                "40000 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0 -> " + c,
                "40000 eth_type=0x0806,arp_tpa=10.0.1.1 -> " + c,
                "40000 eth_type=0x0806,arp_tpa=10.0.2.1 -> " + c,
                "39000 in_port=1,eth_dst=02:00:00:00:00:a1,eth_type=0x86dd -> " + c,
                "39000 in_port=2,eth_dst=02:00:00:00:00:a2,eth_type=0x86dd -> " + c,
                "39000 eth_type=0x0800,ipv4_dst=10.0.1.1 -> " + c,
                "39000 eth_type=0x0800,ipv4_dst=10.0.2.1 -> " + c,
                "100 in_port=1,eth_dst=02:00:00:00:00:a1 -> " + c,
                "100 in_port=2,eth_dst=02:00:00:00:00:a2 -> " + c,
                "0 any -> drop",
            }));
}

TEST(PuntFlows, OpenFlow10IgnoresFibTable) {
  auto in = small_router(kVersion10);
  in.fib_table = 1;
  EXPECT_EQ(punt_flows(in), punt_flows(small_router(kVersion10)));
}

TEST(PuntFlows, SolicitedNodeMacUsesTheLow24Bits) {
  PuntInputs in;
  in.version = kVersion10;
  in.ports = {port(3)};
  in.addresses = {ip("2001:db8::12:3456:789a")};
  const auto flows = punt_flows(in);
  const auto l = lines(flows);
  EXPECT_NE(std::find(l.begin(), l.end(),
                      std::string("40000 eth_dst=33:33:ff:56:78:9a,eth_type=0x86dd -> ") +
                          kToController),
            l.end());
  // 6 link groups + 1 solicited node + 224/24 + port IPv6 + router MAC + drop.
  EXPECT_EQ(flows.size(), 11u);
}

TEST(PuntFlows, EveryFieldOfTheFlowModIsAsSpecified) {
  PuntInputs in;
  in.version = kVersion13;
  in.ports = {port(1)};
  in.addresses = {ip("192.0.2.1")};
  in.fib_table = 2;
  for (const FlowMod& f : punt_flows(in)) {
    EXPECT_EQ(f.cookie, pipeline::cookie::kPunt);
    EXPECT_EQ(f.cookie_mask, 0u);
    EXPECT_EQ(f.table_id, 0);
    EXPECT_EQ(f.command, flow_mod_command::kAdd);
    EXPECT_EQ(f.idle_timeout, 0);
    EXPECT_EQ(f.hard_timeout, 0);
    EXPECT_EQ(f.buffer_id, kNoBuffer);
    EXPECT_EQ(f.out_port, port::kAny);
    EXPECT_EQ(f.out_group, kGroupAny);
    EXPECT_EQ(f.flags, 0);
  }
  // The ARP flow in full, actions included: the whole frame to the controller.
  FlowMod arp;
  arp.cookie = pipeline::cookie::kPunt;
  arp.priority = pipeline::priority::punt::kControl;
  arp.match.add(oxm::eth_type(0x0806)).add(oxm::arp_tpa(0xc0000201));
  arp.instructions = {instruction::ApplyActions{{action::Output{port::kController, 0xffff}}}};
  const auto flows = punt_flows(in);
  EXPECT_NE(std::find(flows.begin(), flows.end(), arp), flows.end());
  // The drop flow: empty match, no instructions, priority 0, last.
  EXPECT_TRUE(flows.back().match.empty());
  EXPECT_TRUE(flows.back().instructions.empty());
  EXPECT_EQ(flows.back().priority, pipeline::priority::punt::kDrop);
}

TEST(PuntFlows, NoPortsGivesOnlyTheDropFlow) {
  for (std::uint8_t v : {kVersion10, kVersion13}) {
    PuntInputs in;
    in.version = v;
    const auto empty = punt_flows(in);
    EXPECT_EQ(lines(empty), std::vector<std::string>{"0 any -> drop"});
    in.addresses = {ip("10.0.0.1"), ip("2001:db8::1")};
    in.fib_table = 1;
    EXPECT_EQ(punt_flows(in), empty) << "addresses without ports punt nothing";
  }
}

TEST(PuntFlows, PortsWithoutAddressesStillHearLinkMulticast) {
  PuntInputs in;
  in.version = kVersion13;
  in.ports = {port(1)};
  EXPECT_EQ(lines(punt_flows(in)),
            (std::vector<std::string>{
                std::string("40000 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0 -> ") +
                    kToController,
                std::string("40000 eth_type=0x86dd,ipv6_dst=ff02::/ffff:: -> ") + kToController,
                std::string("100 in_port=1,eth_dst=02:00:00:00:00:a1 -> ") + kToController,
                "0 any -> drop",
            }));
  in.version = kVersion10;
  // 6 IPv6 link groups, 224/24, the port's IPv6, its router MAC, drop.
  EXPECT_EQ(punt_flows(in).size(), 10u);
}

TEST(PuntFlows, DuplicateUnsetAndLoopbackAddressesAreIgnored) {
  PuntInputs clean;
  clean.version = kVersion13;
  clean.ports = {port(1)};
  clean.addresses = {ip("10.0.0.1"), ip("2001:db8::1")};
  PuntInputs noisy = clean;
  noisy.addresses = {ip("10.0.0.1"),  IpAddress{},        ip("2001:db8::1"), ip("10.0.0.1"),
                     ip("127.0.0.1"), ip("2001:db8::1"), ip("::1"),         IpAddress{}};
  noisy.ports = {port(1), port(1)};
  EXPECT_EQ(punt_flows(noisy), punt_flows(clean));
  EXPECT_EQ(punt_flows(clean).size(), 7u);
}

TEST(PuntFlows, InputOrderDoesNotMatter) {
  for (std::uint8_t v : {kVersion10, kVersion13}) {
    PuntInputs in;
    in.version = v;
    in.fib_table = 3;
    for (std::uint32_t p = 1; p <= 6; ++p) in.ports.push_back(port(p));
    in.addresses = {ip("10.0.1.1"),  ip("10.0.2.1"),     ip("192.168.7.1"), ip("2001:db8::1"),
                    ip("fe80::a1"),  ip("2001:db8:1::9"), ip("172.16.0.1"), ip("fe80::a2")};
    const auto expected = punt_flows(in);
    std::mt19937 rng(42);
    for (int round = 0; round < 20; ++round) {
      std::shuffle(in.ports.begin(), in.ports.end(), rng);
      std::shuffle(in.addresses.begin(), in.addresses.end(), rng);
      ASSERT_EQ(punt_flows(in), expected) << "round " << round;
    }
  }
}

// Properties of every list, over a few input shapes.
const std::array<std::uint32_t, kPuntClasses> kMeters{
    punt_meter_id(PuntClass::kRouting), punt_meter_id(PuntClass::kArpNd),
    punt_meter_id(PuntClass::kToRouter), 0, punt_meter_id(PuntClass::kOther)};

// The meter a flow runs through (0: none).
std::uint32_t meter_of(const FlowMod& f) {
  for (const Instruction& i : f.instructions) {
    if (const auto* m = std::get_if<instruction::Meter>(&i)) return m->meter_id;
  }
  return 0;
}

// With meters, every punt runs through its class's meter and the routing
// protocols get flows of their own above the general punts: a flood of ARP
// or of pings to the router is dropped by its meter in the switch and never
// shares one with OSPF, BGP or BFD.
TEST(PuntFlows, WithMetersEachClassHasItsOwnMeter) {
  PuntInputs in = small_router(kVersion13);
  in.fib_table = 1;
  in.meters = kMeters;
  const auto flows = punt_flows(in);
  const std::uint32_t routing = punt_meter_id(PuntClass::kRouting);
  const std::uint32_t nd = punt_meter_id(PuntClass::kArpNd);
  const std::uint32_t local = punt_meter_id(PuntClass::kToRouter);
  std::map<std::string, std::uint32_t> meter;
  for (const FlowMod& f : flows) meter[std::to_string(f.priority) + " " + to_text(f.match)] = meter_of(f);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0,ip_proto=89"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0,ip_proto=112"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=10.0.2.1,ip_proto=6,tcp_dst=179"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=10.0.2.1,ip_proto=6,tcp_src=179"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=10.0.2.1,ip_proto=17,udp_dst=3784"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x0800,ipv4_dst=10.0.2.1,ip_proto=89"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x86dd,ipv6_dst=2001:db8::1,ip_proto=6,tcp_dst=179"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x86dd,ipv6_dst=ff02::/ffff::,ip_proto=89"), routing);
  EXPECT_EQ(meter.at("40100 eth_type=0x86dd,ipv6_dst=ff02::/ffff::,ip_proto=58,icmpv6_type=135"), nd);
  EXPECT_EQ(meter.at("40000 eth_type=0x0806,arp_tpa=10.0.1.1"), nd);
  EXPECT_EQ(meter.at("40000 eth_type=0x0800,ipv4_dst=224.0.0.0/255.255.255.0"), local);
  EXPECT_EQ(meter.at("40000 eth_type=0x86dd,ipv6_dst=ff02::/ffff::"), local);
  EXPECT_EQ(meter.at("39000 eth_type=0x0800,ipv4_dst=10.0.2.1"), local);
  // Transit to the FIB and the drop flow are not punts.
  EXPECT_EQ(meter.at("100 in_port=1,eth_dst=02:00:00:00:00:a1"), 0u);
  EXPECT_EQ(meter.at("0 any"), 0u);
  // Meters go first, before the output.
  for (const FlowMod& f : flows) {
    if (meter_of(f) != 0) {
      EXPECT_TRUE(std::holds_alternative<instruction::Meter>(f.instructions.front())) << line(f);
    }
  }
}

// A flood of ARP on one port must not use up another port's ARP budget:
// each port's ARP and ND go through a meter of its own, above the shared one.
TEST(PuntFlows, ArpAndNdPerPortThroughThePortsMeter) {
  PuntInputs in = small_router(kVersion13);
  in.meters = kMeters;
  in.port_nd_meters = {{1, 0x7481}, {2, 0x7482}};
  std::map<std::string, std::uint32_t> meter;
  for (const FlowMod& f : punt_flows(in)) meter[std::to_string(f.priority) + " " + to_text(f.match)] = meter_of(f);
  EXPECT_EQ(meter.at("40100 in_port=1,eth_type=0x0806,arp_tpa=10.0.2.1"), 0x7481u);
  EXPECT_EQ(meter.at("40100 in_port=2,eth_type=0x0806,arp_tpa=10.0.2.1"), 0x7482u);
  EXPECT_EQ(meter.at("40101 in_port=2,eth_type=0x86dd,ipv6_dst=ff02::/ffff::,ip_proto=58,icmpv6_type=135"), 0x7482u);
  EXPECT_EQ(meter.at("40101 in_port=1,eth_type=0x86dd,ipv6_dst=2001:db8::1,ip_proto=58,icmpv6_type=136"), 0x7481u);
  // The shared flows stay, below, for ports without a meter of their own.
  EXPECT_EQ(meter.at("40000 eth_type=0x0806,arp_tpa=10.0.2.1"), punt_meter_id(PuntClass::kArpNd));
}

TEST(PuntFlows, OpenFlow10HasNoMeters) {
  PuntInputs in = small_router(kVersion10);
  const auto plain = punt_flows(in);
  in.meters = kMeters;
  EXPECT_EQ(punt_flows(in), plain);
}

TEST(PuntMeters, PacketsPerSecondWithBurstAndOneDropBand) {
  auto m = punt_meter(punt_meter_id(PuntClass::kArpNd), PolicerConfig{600, 200}, meter_mod_command::kAdd);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->meter_id, punt_meter_id(PuntClass::kArpNd));
  EXPECT_EQ(m->flags, 0x2 | 0x4);  // OFPMF_PKTPS | OFPMF_BURST
  ASSERT_EQ(m->bands.size(), 1u);
  EXPECT_EQ(m->bands[0].type, meter_band_type::kDrop);
  EXPECT_EQ(m->bands[0].rate, 600u);
  EXPECT_EQ(m->bands[0].burst_size, 200u);
  EXPECT_FALSE(punt_meter(punt_meter_id(PuntClass::kGlean), PolicerConfig{0, 0}, meter_mod_command::kAdd));
  auto bytes = encode(Message{kVersion13, 1, *m});
  ASSERT_TRUE(bytes.ok());
  auto back = decode(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<MeterMod>(back->body), *m);
}

std::vector<PuntInputs> assorted_inputs() {
  std::vector<PuntInputs> all;
  for (std::uint8_t v : {kVersion10, kVersion13}) {
    for (int shape = 0; shape < 5; ++shape) {
      PuntInputs in;
      in.version = v;
      if (shape >= 1) in.ports = {port(1), port(2), port(0xfeff)};
      if (shape >= 2) in.addresses = {ip("10.0.1.1"), ip("fe80::1"), ip("2001:db8::ff:1")};
      if (shape >= 3) in.fib_table = 1;
      if (shape >= 4) {
        in.meters = kMeters;
        in.port_nd_meters = {{1, 0x7481}, {2, 0x7482}};
      }
      all.push_back(in);
    }
  }
  return all;
}

TEST(PuntFlows, EveryMatchPassesOpenFlow13MatchRules) {
  for (const PuntInputs& in : assorted_inputs()) {
    for (const FlowMod& f : punt_flows(in)) {
      Status st = check_match(f.match);
      EXPECT_TRUE(st.ok()) << line(f) << ": " << (st.ok() ? "" : describe(st.error()));
    }
  }
}

TEST(PuntFlows, SortedByPriorityThenMatchWithoutDuplicates) {
  for (const PuntInputs& in : assorted_inputs()) {
    const auto flows = punt_flows(in);
    for (std::size_t i = 1; i < flows.size(); ++i) {
      EXPECT_GE(flows[i - 1].priority, flows[i].priority) << line(flows[i]);
      for (std::size_t j = 0; j < i; ++j) {
        EXPECT_FALSE(flows[j].priority == flows[i].priority && flows[j].match == flows[i].match)
            << "duplicate " << line(flows[i]);
      }
    }
  }
}

TEST(PuntFlows, EveryFlowModEncodesAndDecodesBackEqual) {
  for (const PuntInputs& in : assorted_inputs()) {
    for (const FlowMod& f : punt_flows(in)) {
      Message m{in.version, 7, f};
      auto bytes = encode(m);
      ASSERT_TRUE(bytes.ok()) << line(f) << ": " << describe(bytes.error());
      auto back = decode(*bytes);
      ASSERT_TRUE(back.ok()) << line(f) << ": " << describe(back.error());
      EXPECT_EQ(back->version, in.version);
      ASSERT_TRUE(std::holds_alternative<FlowMod>(back->body));
      EXPECT_EQ(std::get<FlowMod>(back->body), f) << line(f);
    }
  }
}

}  // namespace
}  // namespace tapflow::tapd
