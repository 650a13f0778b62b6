// Punt classes and token buckets: frames built field by field, classified as
// the PACKET_IN path and the TAP path see them; buckets driven by a fake clock.
#include "tapflow/tapd/punt_class.hpp"

#include <gtest/gtest.h>

#include "tapflow/openflow/packet.hpp"

namespace tapflow::tapd {
namespace {

using namespace openflow;
namespace pk = openflow::packet;

const MacAddress kRouterMac = MacAddress::from_u64(0x020000000001ULL);
const MacAddress kHostMac = MacAddress::from_u64(0x0200000000aaULL);
constexpr std::uint32_t kRouter = 0x0a000201;  // 10.0.2.1, the router's address
constexpr std::uint32_t kPeer = 0x0a000202;    // 10.0.2.2
constexpr std::uint32_t kFar = 0xc6336401;     // 198.51.100.1, routed through

bool local(const netns::IpAddress& a) { return a == netns::IpAddress::v4(kRouter); }

// IPv4 with `proto` and `payload` (checksum left 0: classification ignores it).
Bytes ipv4(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::uint8_t ttl, Bytes payload) {
  Bytes ip = {0x45, 0x00, 0x00, 0x00,  // version 4, IHL 5; total length below
              0x00, 0x01, 0x00, 0x00,  // id 1, no fragment
              ttl,  proto, 0x00, 0x00};
  for (std::uint32_t a : {src, dst}) {
    for (int s = 24; s >= 0; s -= 8) ip.push_back(static_cast<std::uint8_t>(a >> s));
  }
  const std::size_t total = ip.size() + payload.size();
  ip[2] = static_cast<std::uint8_t>(total >> 8);
  ip[3] = static_cast<std::uint8_t>(total);
  ip.insert(ip.end(), payload.begin(), payload.end());
  return pk::build_ethernet(kRouterMac, kHostMac, pk::ethertype::kIpv4, ip);
}
Bytes tcp(std::uint16_t sport, std::uint16_t dport) {
  return {static_cast<std::uint8_t>(sport >> 8), static_cast<std::uint8_t>(sport),
          static_cast<std::uint8_t>(dport >> 8), static_cast<std::uint8_t>(dport),
          0, 0, 0, 1,   0, 0, 0, 0,   // seq, ack
          0x50, 0x10,   0xff, 0xff,  // data offset 5, ACK; window
          0, 0, 0, 0};               // checksum, urgent
}
Bytes udp_frame(std::uint32_t dst, std::uint16_t dport, std::uint8_t ttl) {
  pk::UdpFrameSpec s;
  s.eth_dst = kRouterMac;
  s.eth_src = kHostMac;
  s.ip_src = kPeer;
  s.ip_dst = dst;
  s.src_port = 49152;
  s.dst_port = dport;
  s.ttl = ttl;
  return pk::build_ipv4_udp_frame(s, 80);
}

PuntClass of(const Bytes& f) { return classify_frame(f, local); }

TEST(PuntClass, RoutingProtocols) {
  EXPECT_EQ(of(ipv4(kPeer, 0xe0000005, 89, 1, Bytes(24, 0))), PuntClass::kRouting);  // OSPF hello
  EXPECT_EQ(of(ipv4(kPeer, kRouter, 6, 1, tcp(49152, 179))), PuntClass::kRouting);   // BGP to us
  EXPECT_EQ(of(ipv4(kPeer, kRouter, 6, 1, tcp(179, 40000))), PuntClass::kRouting);   // BGP from the peer's port
  EXPECT_EQ(of(udp_frame(kRouter, 3784, 255)), PuntClass::kRouting);                 // BFD, GTSM
  EXPECT_EQ(of(udp_frame(kRouter, 4784, 10)), PuntClass::kRouting);                  // BFD multihop
  EXPECT_EQ(of(ipv4(kPeer, 0xe0000012, 112, 255, Bytes(20, 0))), PuntClass::kRouting);  // VRRP
}

TEST(PuntClass, BfdWithoutTtl255IsNotTrusted) {
  // RFC 5881: single-hop BFD arrives with TTL 255; anything else is someone
  // else's traffic to the router, policed with the rest.
  EXPECT_EQ(of(udp_frame(kRouter, 3784, 64)), PuntClass::kToRouter);
}

TEST(PuntClass, ArpAndNeighbourDiscovery) {
  EXPECT_EQ(of(pk::build_arp_request(kHostMac, kPeer, kRouter)), PuntClass::kArpNd);
  // ICMPv6 neighbour solicitation to the solicited-node group.
  Bytes ip6 = {0x60, 0, 0, 0,  0, 24, 58, 255};  // payload 24, ICMPv6, hop limit 255
  const std::uint8_t src[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const std::uint8_t dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1};
  ip6.insert(ip6.end(), src, src + 16);
  ip6.insert(ip6.end(), dst, dst + 16);
  Bytes ns = {135, 0, 0, 0,  0, 0, 0, 0};  // type 135, code, checksum, reserved
  ns.insert(ns.end(), 16, 0);                 // target
  ip6.insert(ip6.end(), ns.begin(), ns.end());
  EXPECT_EQ(of(pk::build_ethernet(kRouterMac, kHostMac, pk::ethertype::kIpv6, ip6)), PuntClass::kArpNd);
}

TEST(PuntClass, ToRouterGleanOther) {
  EXPECT_EQ(of(ipv4(kPeer, kRouter, 1, 64, Bytes(8, 0))), PuntClass::kToRouter);  // ping us
  EXPECT_EQ(of(udp_frame(kRouter, 9, 64)), PuntClass::kToRouter);
  EXPECT_EQ(of(ipv4(kPeer, 0xe0000001, 2, 1, Bytes(8, 0))), PuntClass::kToRouter);  // IGMP, link-local group
  EXPECT_EQ(of(udp_frame(kFar, 9, 64)), PuntClass::kGlean);                          // transit
  EXPECT_EQ(of(ipv4(kPeer, kFar, 6, 64, tcp(40000, 80))), PuntClass::kGlean);
  EXPECT_EQ(of(pk::build_ethernet(kRouterMac, kHostMac, 0x88cc, Bytes(40, 0))), PuntClass::kOther);  // LLDP
  EXPECT_EQ(of(Bytes{1, 2, 3}), PuntClass::kOther);  // not even Ethernet
}

TEST(TokenBucket, BurstThenRate) {
  TokenBucket b(PolicerConfig{1000, 10});  // 1000/s, 10 at once
  std::uint64_t t = 5'000'000'000;
  int passed = 0;
  for (int i = 0; i < 50; ++i) passed += b.take(t);
  EXPECT_EQ(passed, 10);  // the burst, then nothing at the same instant
  t += 5'000'000;         // 5 ms: 5 tokens
  passed = 0;
  for (int i = 0; i < 50; ++i) passed += b.take(t);
  EXPECT_EQ(passed, 5);
  // One second at 10x the rate: about the rate passes.
  passed = 0;
  for (int i = 0; i < 10000; ++i) {
    t += 100'000;  // 10k/s offered
    passed += b.take(t);
  }
  EXPECT_GE(passed, 995);
  EXPECT_LE(passed, 1010);
  // Idle for an hour: the bucket holds the burst, no more, and no overflow.
  t += 3600ULL * 1'000'000'000;
  passed = 0;
  for (int i = 0; i < 50; ++i) passed += b.take(t);
  EXPECT_EQ(passed, 10);
}

TEST(TokenBucket, RateZeroIsUnlimited) {
  TokenBucket b(PolicerConfig{0, 0});
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(b.take(1));
}

}  // namespace
}  // namespace tapflow::tapd
