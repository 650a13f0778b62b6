// BFD watch: parsing BFD control packets out of frames, and the silences of
// Up sessions as a share of their detection time.
#include "tapflow/bfdwatch/bfd_watch.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "tapflow/openflow/packet.hpp"

namespace tapflow::bfdwatch {
namespace {

using namespace std::chrono_literals;
namespace pk = openflow::packet;

std::vector<std::uint8_t> bfd_payload(std::uint8_t state, std::uint8_t mult, std::uint32_t disc,
                                      std::uint32_t tx_us, std::uint8_t version = 1, std::uint8_t len = 24) {
  std::vector<std::uint8_t> b(24, 0);
  b[0] = static_cast<std::uint8_t>(version << 5);
  b[1] = static_cast<std::uint8_t>(state << 6);
  b[2] = mult;
  b[3] = len;
  auto put = [&b](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put(4, disc);
  put(8, 7);  // your discriminator
  put(12, tx_us);
  put(16, tx_us);
  return b;
}

openflow::Bytes frame(const std::vector<std::uint8_t>& payload, std::uint16_t dst_port = 3784,
                      std::optional<std::uint16_t> vlan = std::nullopt) {
  pk::UdpFrameSpec spec;
  spec.eth_dst = openflow::MacAddress::from_u64(0x020000000001);
  spec.eth_src = openflow::MacAddress::from_u64(0x020000000002);
  spec.ip_src = 0x0a000202;
  spec.ip_dst = 0x0a000201;
  spec.src_port = 49152;
  spec.dst_port = dst_port;
  spec.ttl = 255;
  spec.vlan_vid = vlan;
  return pk::build_ipv4_udp(spec, payload);
}

TEST(BfdWatch, ParsesControlPackets) {
  auto c = parse_bfd_control(frame(bfd_payload(3, 3, 0x1234, 100000)));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, BfdControl::kUp);
  EXPECT_EQ(c->detect_mult, 3);
  EXPECT_EQ(c->my_discriminator, 0x1234u);
  EXPECT_EQ(c->desired_min_tx_us, 100000u);
  // Multihop, and behind an 802.1Q tag.
  EXPECT_TRUE(parse_bfd_control(frame(bfd_payload(1, 5, 9, 1000000), 4784)));
  EXPECT_TRUE(parse_bfd_control(frame(bfd_payload(3, 3, 9, 100000), 3784, 30)));
}

TEST(BfdWatch, RefusesWhatIsNotAControlPacket) {
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 3, 1, 100000), 3785)));  // echo port
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 3, 1, 100000), 53)));
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 3, 1, 100000, 0))));  // version 0
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 0, 1, 100000))));     // detect mult 0
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 3, 0, 100000))));     // no discriminator
  EXPECT_FALSE(parse_bfd_control(frame(bfd_payload(3, 3, 1, 100000, 1, 40))));  // longer than the datagram
  auto shortp = bfd_payload(3, 3, 1, 100000);
  shortp.resize(20);
  EXPECT_FALSE(parse_bfd_control(frame(shortp)));
  const std::vector<std::uint8_t> junk{0x01, 0x02};
  EXPECT_FALSE(parse_bfd_control(junk));
}

TEST(BfdWatch, SilenceOfUpSessionsAsAShareOfTheirDetectionTime) {
  BfdWatch w;
  const auto t0 = Clock::now();
  EXPECT_EQ(w.worst_silence(1, t0), 0.0);
  // dpid 1: a neighbour at 100 ms x 3, and the router's own at 300 ms x 3.
  w.observe(1, false, *parse_bfd_control(frame(bfd_payload(3, 3, 11, 100000))), t0);
  w.observe(1, true, *parse_bfd_control(frame(bfd_payload(3, 3, 11, 300000))), t0);
  EXPECT_EQ(w.up_sessions(1), 2u);
  EXPECT_NEAR(w.worst_silence(1, t0 + 150ms), 0.5, 1e-6);  // the neighbour's: 150 of 300 ms
  EXPECT_NEAR(w.worst_silence(1, t0 + 270ms), 0.9, 1e-6);
  // Past its detection time the neighbour's session is down: the router's counts.
  EXPECT_NEAR(w.worst_silence(1, t0 + 450ms), 0.5, 1e-6);
  EXPECT_EQ(w.worst_silence(1, t0 + 2s), 0.0);
  // A packet resets the silence (the router's, 230 of 900 ms, is now the
  // worst); other datapaths are their own.
  w.observe(1, false, *parse_bfd_control(frame(bfd_payload(3, 3, 11, 100000))), t0 + 200ms);
  EXPECT_NEAR(w.worst_silence(1, t0 + 230ms), 230.0 / 900, 1e-6);
  EXPECT_NEAR(w.worst_silence(1, t0 + 440ms), 0.8, 1e-6);  // the neighbour's: 240 of 300 ms
  EXPECT_EQ(w.worst_silence(2, t0 + 230ms), 0.0);
  // A session that says Down (or Init) is not watched: its slow packets are no alarm.
  w.observe(1, false, *parse_bfd_control(frame(bfd_payload(1, 3, 11, 1000000))), t0 + 300ms);
  w.observe(1, true, *parse_bfd_control(frame(bfd_payload(2, 3, 11, 1000000))), t0 + 300ms);
  EXPECT_EQ(w.up_sessions(1), 0u);
  EXPECT_EQ(w.worst_silence(1, t0 + 500ms), 0.0);
  EXPECT_EQ(w.counters().packets, 5u);
  EXPECT_EQ(w.counters().sessions_seen, 2u);
  w.forget(1);
  EXPECT_EQ(w.up_sessions(1), 0u);
}

TEST(BfdWatch, StaysBoundedUnderAFloodOfDiscriminators) {
  BfdWatch w;
  const auto t0 = Clock::now();
  for (std::uint32_t d = 1; d <= BfdWatch::kMaxSessions + 500; ++d) {
    w.observe(1, false, BfdControl{3, 3, d, 100000}, t0 + std::chrono::microseconds(d));
  }
  EXPECT_EQ(w.up_sessions(1), BfdWatch::kMaxSessions);
  // Unseen for a minute: forgotten at the next sweep.
  w.observe(1, false, BfdControl{3, 3, 1, 100000}, t0 + 2min);
  EXPECT_EQ(w.up_sessions(1), 1u);
}

}  // namespace
}  // namespace tapflow::bfdwatch
