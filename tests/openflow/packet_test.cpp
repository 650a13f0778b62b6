// Packet header views and parse_frame(): annotated frames, malformed headers,
// and every truncation of each frame.
#include "tapflow/openflow/packet.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "test_util.hpp"

namespace tapflow::openflow::packet {
namespace {

using openflow::testing::hex;
using Problem = ParsedFrame::Problem;

MacAddress mac(const char* text) { return MacAddress::parse(text).value(); }

const Bytes kArpRequest = hex(R"(
  ff ff ff ff ff ff    # dst: broadcast
  02 00 00 00 00 01    # src
  08 06                # ARP
  0001 0800 06 04      # Ethernet / IPv4, hlen 6, plen 4
  0001                 # op: request
  02 00 00 00 00 01    # sha
  0a 00 00 01          # spa 10.0.0.1
  00 00 00 00 00 00    # tha
  0a 00 00 02          # tpa 10.0.0.2
  000000000000000000000000000000000000  # padding to 60
)");

const Bytes kQinQUdp = hex(R"(
  02 00 00 00 00 02    # dst
  02 00 00 00 00 01    # src
  88a8 a064            # S-tag: pcp 5, vid 100
  8100 200a            # C-tag: pcp 1, vid 10
  0800                 # IPv4
  45 00 0020           # v4, IHL 5, total length 32
  0000 4000            # id 0, DF
  40 11 0000           # ttl 64, UDP, checksum (not checked here)
  c0a80101 c0a80202    # 192.168.1.1 -> 192.168.2.2
  04d2 162e 000c 0000  # UDP 1234 -> 5678, length 12
  deadbeef             # payload
  000000000000         # Ethernet padding (not IP payload)
)");

const Bytes kIpv4OptionsTcp = hex(R"(
  02 00 00 00 00 02  02 00 00 00 00 01  0800
  46 00 0030           # IHL 6 (one option word), total length 48
  0001 0000 40 06 0000 # id 1, ttl 64, TCP
  0a000001 0a000002    # 10.0.0.1 -> 10.0.0.2
  01 01 01 00          # options: NOP NOP NOP EOL
  00b3 c000            # TCP 179 -> 49152
  00000001 00000000    # seq 1, ack 0
  60 02 ffff           # data offset 6, SYN, window 65535
  0000 0000            # checksum, urgent
  0204 05b4            # option: MSS 1460
)");

const Bytes kIcmpEcho = hex(R"(
  02 00 00 00 00 02  02 00 00 00 00 01  0800
  45 00 001c 0000 0000 40 01 0000  0a000001 0a000002   # IPv4, ICMP, total 28
  08 00 0000 1234 0001 # echo request, id 0x1234, seq 1
  0000000000000000000000000000000000   # padding
  00
)");

const Bytes kNeighborSolicit = hex(R"(
  33 33 ff 00 00 02    # dst: solicited-node multicast
  02 00 00 00 00 01    # src
  86dd                 # IPv6
  60000000             # v6, tc 0, flow 0
  0020 3a ff           # payload 32, next header ICMPv6, hop limit 255
  fe800000000000000000000000000001   # src fe80::1
  ff0200000000000000000001ff000002   # dst ff02::1:ff00:2
  87 00 0000           # NS, code 0, checksum
  00000000             # reserved
  fe800000000000000000000000000002   # target fe80::2
  01 01 020000000001   # option: source link-layer address 02:00:00:00:00:01
)");

const Bytes kNeighborAdvert = hex(R"(
  02 00 00 00 00 01  02 00 00 00 00 02  86dd
  60000000 0020 3a ff
  fe800000000000000000000000000002   # src fe80::2
  fe800000000000000000000000000001   # dst fe80::1
  88 00 0000           # NA
  60000000             # flags: solicited, override
  fe800000000000000000000000000002   # target fe80::2
  02 01 020000000002   # option: target link-layer address 02:00:00:00:00:02
)");

const Bytes kIpv6HopByHopUdp = hex(R"(
  02 00 00 00 00 02  02 00 00 00 00 01  86dd
  60000000 0018 00 01  # payload 24, next header hop-by-hop, hop limit 1
  00000000000000000000000000000001   # ::1
  00000000000000000000000000000002   # ::2
  11 00 0502 0000 0100 # hop-by-hop: next UDP, len 0 (8 bytes), router alert, PadN
  0035 0035 0010 0000  # UDP 53 -> 53, length 16
  0102030405060708     # payload
)");

const std::vector<const Bytes*> kSamples = {&kArpRequest,      &kQinQUdp,        &kIpv4OptionsTcp,
                                            &kIcmpEcho,        &kNeighborSolicit, &kNeighborAdvert,
                                            &kIpv6HopByHopUdp};

TEST(Packet, ArpRequest) {
  ASSERT_EQ(kArpRequest.size(), 60u);
  auto p = parse_frame(kArpRequest);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.eth);
  EXPECT_TRUE(p.eth->dst().is_broadcast());
  EXPECT_EQ(p.eth->src(), mac("02:00:00:00:00:01"));
  EXPECT_EQ(p.eth->ethertype(), ethertype::kArp);
  EXPECT_EQ(p.eth->vlan_count(), 0u);
  ASSERT_TRUE(p.arp);
  EXPECT_EQ(p.l3_offset, 14u);
  EXPECT_EQ(p.arp->op(), ArpView::kRequest);
  EXPECT_EQ(p.arp->sha(), mac("02:00:00:00:00:01"));
  EXPECT_EQ(p.arp->spa(), 0x0a000001u);
  EXPECT_TRUE(p.arp->tha().is_zero());
  EXPECT_EQ(p.arp->tpa(), 0x0a000002u);
  EXPECT_FALSE(p.ipv4 || p.ipv6 || p.l4_offset);
}

TEST(Packet, StackedVlansAndUdp) {
  auto p = parse_frame(kQinQUdp);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.eth);
  ASSERT_EQ(p.eth->vlan_count(), 2u);
  EXPECT_EQ(p.eth->vlan(0), (VlanTag{0x88a8, 0xa064}));
  EXPECT_EQ(p.eth->vlan(0).vid(), 100);
  EXPECT_EQ(p.eth->vlan(0).pcp(), 5);
  EXPECT_EQ(p.eth->vlan(1).tpid, 0x8100);
  EXPECT_EQ(p.eth->vlan(1).vid(), 10);
  EXPECT_EQ(p.eth->vlan(1).pcp(), 1);
  EXPECT_EQ(p.eth->ethertype(), ethertype::kIpv4);
  EXPECT_EQ(p.l3_offset, 22u);
  ASSERT_TRUE(p.ipv4);
  EXPECT_EQ(p.ipv4->src(), 0xc0a80101u);
  EXPECT_EQ(p.ipv4->dst(), 0xc0a80202u);
  EXPECT_EQ(p.ipv4->ttl(), 64);
  EXPECT_TRUE(p.ipv4->dont_fragment());
  EXPECT_FALSE(p.ipv4->truncated());
  EXPECT_EQ(p.ipv4->payload().size(), 12u) << "Ethernet padding is not IP payload";
  EXPECT_EQ(p.ip_proto, ip_proto::kUdp);
  EXPECT_EQ(p.l4_offset, 42u);
  ASSERT_TRUE(p.udp);
  EXPECT_EQ(p.udp->src_port(), 1234);
  EXPECT_EQ(p.udp->dst_port(), 5678);
  EXPECT_EQ(p.udp->payload().size(), 4u);
  EXPECT_EQ(p.udp->payload()[0], 0xde);
}

TEST(Packet, ThirdVlanTagStaysInPayload) {
  Bytes f = hex(R"(
    020000000002 020000000001
    8100 0001  8100 0002  8100 0003   # three tags: only two are parsed
    0800 0000000000000000000000000000000000000000
  )");
  auto eth = EthernetView::parse(f);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->vlan_count(), 2u);
  EXPECT_EQ(eth->ethertype(), ethertype::kVlan);
  EXPECT_EQ(eth->header_len(), 22u);
}

TEST(Packet, Ipv4OptionsAndTcpOptions) {
  auto p = parse_frame(kIpv4OptionsTcp);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv4);
  EXPECT_EQ(p.ipv4->header_len(), 24u);
  EXPECT_EQ(p.ipv4->options().size(), 4u);
  EXPECT_EQ(p.ipv4->options()[3], 0x00);
  EXPECT_EQ(p.l4_offset, 38u);
  ASSERT_TRUE(p.tcp);
  EXPECT_EQ(p.tcp->src_port(), 179);
  EXPECT_EQ(p.tcp->dst_port(), 49152);
  EXPECT_EQ(p.tcp->seq(), 1u);
  EXPECT_EQ(p.tcp->header_len(), 24u);
  EXPECT_EQ(p.tcp->flags(), TcpView::kSyn);
  EXPECT_EQ(p.tcp->window(), 0xffff);
  ASSERT_EQ(p.tcp->options().size(), 4u);
  EXPECT_EQ(p.tcp->options()[0], 0x02);
  EXPECT_TRUE(p.tcp->payload().empty());
}

TEST(Packet, IcmpEcho) {
  auto p = parse_frame(kIcmpEcho);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.icmp);
  EXPECT_EQ(p.icmp->type(), IcmpView::kEchoRequest);
  EXPECT_EQ(p.icmp->rest_of_header(), 0x12340001u);
  EXPECT_TRUE(p.icmp->payload().empty()) << "padding is cut at total_length";
}

TEST(Packet, NeighborSolicitation) {
  auto p = parse_frame(kNeighborSolicit);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv6);
  EXPECT_EQ(p.ipv6->hop_limit(), 255);
  EXPECT_EQ(p.ipv6->payload_length(), 32);
  EXPECT_EQ(p.ipv6->src()[0], 0xfe);
  EXPECT_EQ(p.ipv6->src()[15], 0x01);
  EXPECT_EQ(p.ipv6->dst()[11], 0x01);
  EXPECT_EQ(p.ipv6->dst()[12], 0xff);
  EXPECT_EQ(p.l4_offset, 54u);
  ASSERT_TRUE(p.icmpv6);
  EXPECT_TRUE(p.icmpv6->is_nd());
  EXPECT_EQ(p.icmpv6->type(), icmpv6_type::kNeighborSolicit);
  auto target = p.icmpv6->nd_target();
  ASSERT_TRUE(target);
  EXPECT_EQ((*target)[0], 0xfe);
  EXPECT_EQ((*target)[15], 0x02);
  EXPECT_EQ(p.icmpv6->nd_sll(), mac("02:00:00:00:00:01"));
  EXPECT_FALSE(p.icmpv6->nd_tll());
  EXPECT_TRUE(p.icmpv6->nd_options_ok());
  EXPECT_FALSE(p.icmpv6->na_flags());
}

TEST(Packet, NeighborAdvertisement) {
  auto p = parse_frame(kNeighborAdvert);
  ASSERT_TRUE(p.icmpv6);
  EXPECT_EQ(p.icmpv6->type(), icmpv6_type::kNeighborAdvert);
  EXPECT_EQ(p.icmpv6->na_flags(), 0x60);
  EXPECT_EQ(p.icmpv6->nd_tll(), mac("02:00:00:00:00:02"));
  EXPECT_FALSE(p.icmpv6->nd_sll());
}

TEST(Packet, ZeroLengthNdOptionIsMalformed) {
  Bytes f = kNeighborSolicit;
  f[f.size() - 7] = 0;  // SLL option length 0 would loop forever
  auto p = parse_frame(f);
  ASSERT_TRUE(p.icmpv6);
  EXPECT_FALSE(p.icmpv6->nd_options_ok());
  EXPECT_FALSE(p.icmpv6->nd_sll());
}

TEST(Packet, NdOptionPastTheEndIsMalformed) {
  Bytes f = kNeighborSolicit;
  f[f.size() - 7] = 2;  // claims 16 bytes, 8 present
  auto p = parse_frame(f);
  ASSERT_TRUE(p.icmpv6);
  EXPECT_FALSE(p.icmpv6->nd_options_ok());
  EXPECT_FALSE(p.icmpv6->nd_sll());
}

TEST(Packet, Ipv6ExtensionHeaderIsWalked) {
  auto p = parse_frame(kIpv6HopByHopUdp);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv6);
  EXPECT_EQ(p.ipv6->next_header(), ip_proto::kHopByHop);
  EXPECT_EQ(p.ip_proto, ip_proto::kUdp);
  EXPECT_EQ(p.l4_offset, 62u);
  ASSERT_TRUE(p.udp);
  EXPECT_EQ(p.udp->dst_port(), 53);
  EXPECT_EQ(p.udp->payload().size(), 8u);
}

TEST(Packet, LaterFragmentsHaveNoTransportHeader) {
  Bytes v4 = hex(R"(
    020000000002 020000000001 0800
    45 00 001c 0001 0001 40 11 0000 0a000001 0a000002   # fragment offset 1 (8 bytes)
    0035 0035 0008 0000                                 # looks like UDP but is data
    0000000000000000000000000000000000
    00
  )");
  auto p = parse_frame(v4);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv4);
  EXPECT_TRUE(p.ipv4->is_later_fragment());
  EXPECT_EQ(p.ip_proto, ip_proto::kUdp);
  EXPECT_FALSE(p.udp);
  EXPECT_FALSE(p.l4_offset);

  Bytes v6 = hex(R"(
    020000000002 020000000001 86dd
    60000000 0010 2c 40                 # payload 16, next header fragment
    00000000000000000000000000000001 00000000000000000000000000000002
    11 00 0008 00000001                 # fragment: next UDP, offset 1
    0035 0035 0008 0000
  )");
  p = parse_frame(v6);
  EXPECT_EQ(p.problem, Problem::kNone);
  EXPECT_EQ(p.ip_proto, ip_proto::kUdp);
  EXPECT_FALSE(p.udp);

  v6[14 + 40 + 3] = 0x00;  // offset 0: first fragment, the UDP header is there
  p = parse_frame(v6);
  ASSERT_TRUE(p.udp);
  EXPECT_EQ(p.l4_offset, 62u);
}

struct MalformedCase {
  const char* name;
  Bytes frame;
  const char* detail;
};

TEST(Packet, MalformedHeaders) {
  const Bytes eth = hex("020000000002 020000000001");
  auto with = [&](std::string_view rest) {
    Bytes f = eth;
    Bytes r = hex(rest);
    f.insert(f.end(), r.begin(), r.end());
    return f;
  };
  const std::vector<MalformedCase> cases = {
      {"IHL 4", with("0800 44 00 001c 0000 0000 40 11 0000 0a000001 0a000002 0035003500080000"),
       "IPv4 IHL below 5"},
      {"IPv4 version 6", with("0800 65 00 001c 0000 0000 40 11 0000 0a000001 0a000002 00000000"),
       "IPv4 version field is not 4"},
      {"total length 16",
       with("0800 45 00 0010 0000 0000 40 11 0000 0a000001 0a000002 00000000"),
       "IPv4 total length below header length"},
      {"UDP length 4",
       with("0800 45 00 001c 0000 0000 40 11 0000 0a000001 0a000002 0035 0035 0004 0000"),
       "UDP length below 8"},
      {"TCP data offset 4",
       with("0800 45 00 0028 0000 0000 40 06 0000 0a000001 0a000002"
            " 0001 0002 00000000 00000000 40 02 0000 0000 0000"),
       "TCP data offset below 5"},
      {"ARP over token ring",
       with("0806 0006 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002"),
       "ARP is not IPv4 over Ethernet"},
      {"IPv6 version 4", with("86dd 40000000 0000 3b 40 " + std::string(64, '0')),
       "IPv6 version field is not 6"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto p = parse_frame(c.frame);
    EXPECT_EQ(p.problem, Problem::kMalformed);
    EXPECT_EQ(p.detail, c.detail);
    EXPECT_FALSE(p.l4_offset);
  }
}

TEST(Packet, UnknownEthertypeIsNotAProblem) {
  Bytes f = hex("020000000002 020000000001 88cc 0000");  // LLDP
  auto p = parse_frame(f);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.eth);
  EXPECT_EQ(p.eth->ethertype(), 0x88cc);
  EXPECT_FALSE(p.l3_offset);
}

// Every prefix of every sample: no read outside the prefix (each prefix is a
// separate heap block, so a sanitizer build catches any overread), every view
// lies inside it, and a cut before the last header's end is kTruncated.
TEST(Packet, EveryTruncationIsSafe) {
  for (const Bytes* sample : kSamples) {
    const auto full = parse_frame(*sample);
    ASSERT_EQ(full.problem, Problem::kNone);
    // Where the deepest parsed header ends.
    std::size_t headers_end = 0;
    if (full.tcp) headers_end = *full.l4_offset + full.tcp->header_len();
    else if (full.udp) headers_end = *full.l4_offset + UdpView::kLen;
    else if (full.icmp) headers_end = *full.l4_offset + IcmpView::kMinLen;
    else if (full.icmpv6) headers_end = *full.l4_offset + Icmpv6View::kMinLen;
    else if (full.arp) headers_end = *full.l3_offset + ArpView::kLen;
    ASSERT_GT(headers_end, 0u);

    for (std::size_t n = 0; n <= sample->size(); ++n) {
      SCOPED_TRACE("sample of " + std::to_string(sample->size()) + " bytes cut to " +
                   std::to_string(n));
      const std::vector<std::uint8_t> cut(sample->begin(),
                                          sample->begin() + static_cast<std::ptrdiff_t>(n));
      const auto p = parse_frame(cut);
      const auto* end = cut.data() + n;
      auto inside = [&](ByteSpan s) { return s.empty() || (s.data() >= cut.data() && s.data() + s.size() <= end); };
      if (p.eth) {
        EXPECT_LE(p.eth->header_len(), n);
        EXPECT_TRUE(inside(p.eth->payload()));
      }
      if (p.arp) {
        EXPECT_LE(*p.l3_offset + ArpView::kLen, n);
      }
      if (p.ipv4) {
        EXPECT_LE(*p.l3_offset + p.ipv4->header_len(), n);
        EXPECT_TRUE(inside(p.ipv4->payload()));
        EXPECT_TRUE(inside(p.ipv4->options()));
      }
      if (p.ipv6) {
        EXPECT_LE(*p.l3_offset + Ipv6View::kLen, n);
        EXPECT_TRUE(inside(p.ipv6->payload()));
      }
      if (p.tcp) {
        EXPECT_LE(*p.l4_offset + p.tcp->header_len(), n);
        EXPECT_TRUE(inside(p.tcp->payload()));
      }
      if (p.udp) {
        EXPECT_LE(*p.l4_offset + UdpView::kLen, n);
        EXPECT_TRUE(inside(p.udp->payload()));
      }
      if (p.icmpv6) {
        (void)p.icmpv6->nd_sll();  // option walk inside the cut
        (void)p.icmpv6->nd_target();
        EXPECT_TRUE(inside(p.icmpv6->body()));
      }
      if (n < headers_end) {
        EXPECT_EQ(p.problem, Problem::kTruncated);
      } else {
        EXPECT_EQ(p.problem, Problem::kNone);
      }
    }
  }
}

TEST(Packet, CutPayloadIsReportedTruncated) {
  // A PACKET_IN cut by miss_send_len: headers whole, data short.
  Bytes cut(kQinQUdp.begin(), kQinQUdp.begin() + 52);  // 2 of 4 UDP payload bytes
  auto p = parse_frame(cut);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv4 && p.udp);
  EXPECT_TRUE(p.ipv4->truncated());
  EXPECT_TRUE(p.udp->truncated());
  EXPECT_EQ(p.udp->payload().size(), 2u);
}

TEST(Packet, InternetChecksumRfc1071Example) {
  Bytes b = hex("0001 f203 f4f5 f6f7");
  EXPECT_EQ(internet_checksum(b), 0x220d);
  Bytes odd = hex("01");  // a trailing odd byte is the high half of a word
  EXPECT_EQ(internet_checksum(odd), 0xfeff);
}

TEST(Packet, BuildArpRequestParsesBack) {
  Bytes f = build_arp_request(mac("02:00:00:00:00:01"), 0x0a000001, 0x0a000002);
  EXPECT_EQ(openflow::to_hex(f.data(), f.size()), openflow::to_hex(kArpRequest.data(), kArpRequest.size()));
  Bytes reply = build_arp_reply(mac("02:00:00:00:00:02"), 0x0a000002, mac("02:00:00:00:00:01"),
                                0x0a000001);
  auto p = parse_frame(reply);
  ASSERT_TRUE(p.arp);
  EXPECT_EQ(p.eth->dst(), mac("02:00:00:00:00:01"));
  EXPECT_EQ(p.arp->op(), ArpView::kReply);
  EXPECT_EQ(p.arp->tha(), mac("02:00:00:00:00:01"));
  EXPECT_EQ(p.arp->spa(), 0x0a000002u);
}

TEST(Packet, BuildIpv4UdpHasValidChecksums) {
  UdpFrameSpec s;
  s.eth_dst = mac("02:00:00:00:00:02");
  s.eth_src = mac("02:00:00:00:00:01");
  s.ip_src = 0x0a000001;
  s.ip_dst = 0xc0a80001;
  s.src_port = 4000;
  s.dst_port = 53;
  s.vlan_vid = 42;
  Bytes payload = hex("0102030405");
  Bytes f = build_ipv4_udp(s, payload);
  auto p = parse_frame(f);
  EXPECT_EQ(p.problem, Problem::kNone);
  ASSERT_TRUE(p.ipv4 && p.udp);
  EXPECT_EQ(p.eth->vlan_count(), 1u);
  EXPECT_EQ(p.eth->vlan(0).vid(), 42);
  EXPECT_TRUE(p.ipv4->checksum_ok());
  EXPECT_EQ(p.ipv4->total_length(), 20 + 8 + 5);
  EXPECT_EQ(p.udp->length(), 13);
  EXPECT_EQ(p.udp->payload().size(), 5u);
  // UDP checksum over pseudo header + datagram verifies to zero.
  const std::uint32_t pseudo = 0x0a00 + 0x0001 + 0xc0a8 + 0x0001 + 17 + 13;
  ByteSpan udp = ByteSpan(f).subspan(*p.l4_offset, 13);
  EXPECT_EQ(internet_checksum(udp, pseudo), 0);

  s.vlan_vid.reset();
  EXPECT_EQ(build_ipv4_udp_frame(s, 64).size(), 64u);
  EXPECT_EQ(build_ipv4_udp_frame(s, 1500).size(), 1500u);
  EXPECT_EQ(build_ipv4_udp_frame(s, 10).size(), 60u) << "padded to the Ethernet minimum";
}

}  // namespace
}  // namespace tapflow::openflow::packet
