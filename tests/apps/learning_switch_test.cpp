// The learning switch against a fake switch over loopback, in both versions.
#include "tapflow/apps/learning_switch.hpp"

#include <gtest/gtest.h>

#include "../controller/harness.hpp"

namespace tapflow::apps {
namespace {

using namespace tapflow::controller::testing;
using namespace tapflow::openflow;

// A 64-byte Ethernet frame from src to dst (IPv4 ethertype, zero payload).
Bytes frame(std::uint64_t dst, std::uint64_t src) {
  Bytes f(64, 0);
  auto d = MacAddress::from_u64(dst), s = MacAddress::from_u64(src);
  std::copy(d.octets.begin(), d.octets.end(), f.begin());
  std::copy(s.octets.begin(), s.octets.end(), f.begin() + 6);
  f[12] = 0x08;
  return f;
}

PacketIn packet_in(std::uint32_t port, const Bytes& data, std::uint32_t buffer = kNoBuffer) {
  PacketIn pi;
  pi.in_port = port;
  pi.buffer_id = buffer;
  pi.total_len = static_cast<std::uint16_t>(data.size());
  pi.data = data;
  return pi;
}

class LearningSwitchTest : public ::testing::TestWithParam<std::uint8_t> {};

// A controller running the app, and one fake switch that completed the
// handshake in the version under test.
struct Lab {
  Lab(std::uint8_t version, std::uint64_t dpid, std::vector<Port> ports = {}) : v(version) {
    f.app.on_up = [this](controller::Datapath& dp) { ls.on_datapath_up(dp); };
    f.app.on_packet = [this](controller::Datapath& dp, const PacketIn& pi) {
      ls.on_packet_in(dp, pi);
    };
    sw.handshake(v, dpid, std::move(ports));
    EXPECT_TRUE(f.app.wait_kind("up"));
  }
  std::uint8_t v;
  LearningSwitch ls;
  ControllerFixture f;
  FakeSwitch sw{f.port};
};

TEST_P(LearningSwitchTest, FloodsUnknownThenInstallsFlow) {
  Lab lab(GetParam(), 1, {FakeSwitch::make_port(1, "p1"), FakeSwitch::make_port(2, "p2")});
  auto& [v, ls, f, sw] = lab;

  // Host A (port 1) -> B (unknown): flooded.
  sw.send(Message{v, 0, packet_in(1, frame(0xb, 0xa))});
  auto flood = sw.expect<PacketOut>();
  ASSERT_TRUE(flood);
  const auto& po = std::get<PacketOut>(flood->body);
  EXPECT_EQ(po.in_port, 1u);
  ASSERT_EQ(po.actions.size(), 1u);
  EXPECT_EQ(std::get<action::Output>(po.actions[0]).port, port::kFlood);
  EXPECT_EQ(po.data, frame(0xb, 0xa));

  // B (port 2) -> A (learned on 1): a flow in_port=2,src=B,dst=A -> output 1,
  // then the packet itself.
  sw.send(Message{v, 0, packet_in(2, frame(0xa, 0xb))});
  auto fm = sw.expect<FlowMod>();
  ASSERT_TRUE(fm);
  const auto& flow = std::get<FlowMod>(fm->body);
  EXPECT_EQ(flow.command, flow_mod_command::kAdd);
  ASSERT_NE(flow.match.find(oxm_field::kInPort), nullptr);
  EXPECT_EQ(flow.match.find(oxm_field::kInPort)->value_uint(), 2u);
  EXPECT_EQ(flow.match.find(oxm_field::kEthDst)->value_uint(), 0xau);
  EXPECT_EQ(flow.match.find(oxm_field::kEthSrc)->value_uint(), 0xbu);
  const auto& apply = std::get<instruction::ApplyActions>(flow.instructions.at(0));
  EXPECT_EQ(std::get<action::Output>(apply.actions.at(0)).port, 1u);
  auto out = sw.expect<PacketOut>();
  ASSERT_TRUE(out);
  EXPECT_EQ(std::get<action::Output>(std::get<PacketOut>(out->body).actions[0]).port, 1u);
  EXPECT_EQ(ls.counters().flows_installed, 1u);
  EXPECT_EQ(ls.counters().floods, 1u);
}

TEST_P(LearningSwitchTest, BufferedPacketIsReleasedByTheFlowMod) {
  Lab lab(GetParam(), 1);
  auto& [v, ls, f, sw] = lab;
  sw.send(Message{v, 0, packet_in(1, frame(0xb, 0xa))});
  ASSERT_TRUE(sw.expect<PacketOut>());
  sw.send(Message{v, 0, packet_in(2, frame(0xa, 0xb), 77)});
  auto fm = sw.expect<FlowMod>();
  ASSERT_TRUE(fm);
  EXPECT_EQ(std::get<FlowMod>(fm->body).buffer_id, 77u);
  // No PACKET_OUT follows: the next message is the echo we trigger.
  sw.send(Message{v, 500, EchoRequest{}});
  auto next = sw.recv();
  ASSERT_TRUE(next);
  EXPECT_TRUE(std::holds_alternative<EchoReply>(next->body)) << type_name(next->body);
}

TEST_P(LearningSwitchTest, HostMoveDeletesStaleFlowsAndRelearns) {
  Lab lab(GetParam(), 9);
  auto& [v, ls, f, sw] = lab;
  sw.send(Message{v, 0, packet_in(1, frame(0xb, 0xa))});
  ASSERT_TRUE(sw.expect<PacketOut>());
  sw.send(Message{v, 0, packet_in(3, frame(0xb, 0xa))});  // A now on port 3
  auto del = sw.expect<FlowMod>();
  ASSERT_TRUE(del);
  const auto& d = std::get<FlowMod>(del->body);
  EXPECT_EQ(d.command, flow_mod_command::kDelete);
  EXPECT_EQ(d.match.find(oxm_field::kEthDst)->value_uint(), 0xau);
  ASSERT_TRUE(f.app.wait_kind("packet_in", 2));
  EXPECT_EQ(f.run([&] { return ls.port_of(9, MacAddress::from_u64(0xa)); }), 3u);
  EXPECT_EQ(ls.counters().moves, 1u);
}

TEST_P(LearningSwitchTest, PortDownForgetsItsHosts) {
  Lab lab(GetParam(), 4, {FakeSwitch::make_port(1, "p1")});
  auto& [v, ls, f, sw] = lab;
  sw.send(Message{v, 0, packet_in(1, frame(0xb, 0xa))});
  ASSERT_TRUE(sw.expect<PacketOut>());
  ASSERT_EQ(f.run([&] { return ls.port_of(4, MacAddress::from_u64(0xa)); }), 1u);
  // The harness app does not forward port status: call the app on the loop.
  PortStatus ps;
  ps.reason = port_reason::kModify;
  ps.desc = FakeSwitch::make_port(1, "p1");
  ps.desc.state = port_state::kLinkDown;
  f.run([&] { ls.on_port_status(*f.controller().find(4), ps); });
  auto del = sw.expect<FlowMod>();
  ASSERT_TRUE(del);
  EXPECT_EQ(std::get<FlowMod>(del->body).command, flow_mod_command::kDelete);
  EXPECT_EQ(std::get<FlowMod>(del->body).out_port, 1u);
  EXPECT_EQ(f.run([&] { return ls.port_of(4, MacAddress::from_u64(0xa)); }), 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, LearningSwitchTest,
                         ::testing::Values(kVersion10, kVersion13),
                         [](const auto& p) { return p.param == kVersion10 ? "OF10" : "OF13"; });

}  // namespace
}  // namespace tapflow::apps
