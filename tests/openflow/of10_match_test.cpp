// OpenFlow 1.0 ofp_match <-> OXM field list, both directions: wildcard bits,
// CIDR netmasks (including odd spellings like 63 ignored bits), VLAN/PCP,
// ARP and ICMP reuse of the IP/port slots, fields 1.0 ignores, byte-for-byte
// re-emission of decoded matches, and every build error.
#include <gtest/gtest.h>

#include "of10_test_util.hpp"

namespace tapflow::openflow {
namespace {

using namespace of10test;
using of10::match_from_wire;
using of10::match_to_wire;

Match match_of(std::initializer_list<OxmField> fields) {
  Match m;
  for (const auto& f : fields) m.add(f);
  return m;
}

OfError expect_build_error(const Match& m, std::uint16_t code) {
  auto b = match_to_wire(m);
  EXPECT_FALSE(b.ok()) << "built a 1.0 match for an inexpressible one";
  if (b.ok()) return {};
  EXPECT_EQ(b.error().type, error_type::kBadMatch) << describe(b.error());
  EXPECT_EQ(b.error().code, code) << describe(b.error());
  return b.error();
}

std::string built(const Match& m) {
  auto b = match_to_wire(m);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : describe(b.error()));
  return b.ok() ? hexs(*b) : "";
}

TEST(Of10Ports, SixteenBitReservedRangeMapsToThirtyTwoBit) {
  EXPECT_EQ(of10::port_from_wire(1), 1u);
  EXPECT_EQ(of10::port_from_wire(0xfeff), 0xfeffu);
  EXPECT_EQ(of10::port_from_wire(0xff00), port::kMax);
  EXPECT_EQ(of10::port_from_wire(0xfff8), port::kInPort);
  EXPECT_EQ(of10::port_from_wire(0xfffd), port::kController);
  EXPECT_EQ(of10::port_from_wire(0xfffe), port::kLocal);
  EXPECT_EQ(of10::port_from_wire(0xffff), port::kAny);  // OFPP_NONE

  EXPECT_EQ(of10::port_to_wire(7), std::optional<std::uint16_t>(7));
  EXPECT_EQ(of10::port_to_wire(port::kFlood), std::optional<std::uint16_t>(0xfffb));
  EXPECT_EQ(of10::port_to_wire(port::kAny), std::optional<std::uint16_t>(0xffff));
  EXPECT_EQ(of10::port_to_wire(port::kMax), std::optional<std::uint16_t>(0xff00));
  EXPECT_FALSE(of10::port_to_wire(0xff00));       // 1.3 port 65280: no 1.0 spelling
  EXPECT_FALSE(of10::port_to_wire(0x10000));
  EXPECT_FALSE(of10::port_to_wire(0xfffffeff));
}

TEST(Of10Match, AllWildcardedIsEmptyAndEmptyBuildsOvsSpelling) {
  const auto wire = match_bytes(kAnyMatch);
  Match m = match_from_wire(wire);
  EXPECT_TRUE(m.fields.empty());
  ASSERT_TRUE(m.of10_wire.has_value());
  EXPECT_EQ(hexs(*m.of10_wire), hexs(wire));
  EXPECT_EQ(built(Match{}), hexs(wire));
}

constexpr std::string_view kEveryTcpField = R"(
    00000000       # wildcards: nothing, nw_src/nw_dst exact (0 ignored bits)
    0003           # in_port 3
    001122334455   # dl_src
    66778899aabb   # dl_dst
    000a 05 00     # dl_vlan 10, dl_vlan_pcp 5, pad
    0800 b8 06     # dl_type IPv4, nw_tos 0xb8 (DSCP 46), nw_proto TCP
    0000           # pad
    c0a80101       # nw_src 192.168.1.1
    0a000001       # nw_dst 10.0.0.1
    0050 01bb      # tp_src 80, tp_dst 443
)";

TEST(Of10Match, EveryFieldExactTcp) {
  const auto wire = match_bytes(kEveryTcpField);
  Match m = match_from_wire(wire);
  const std::vector<OxmField> want = {
      oxm::in_port(3),
      oxm::eth_dst(*MacAddress::parse("66:77:88:99:aa:bb")),
      oxm::eth_src(*MacAddress::parse("00:11:22:33:44:55")),
      oxm::eth_type(0x0800),
      oxm::vlan_vid(0x100a),
      oxm::vlan_pcp(5),
      oxm::uint_field(oxm_field::kIpDscp, 46, 1),
      oxm::ip_proto(6),
      oxm::ipv4_src(0xc0a80101),
      oxm::ipv4_dst(0x0a000001),
      oxm::tcp_src(80),
      oxm::tcp_dst(443),
  };
  EXPECT_EQ(m.fields, want);
  EXPECT_TRUE(check_match(m).ok());
  // Built from the fields alone (no saved wire bytes), the same 40 bytes.
  Match fresh;
  fresh.fields = want;
  EXPECT_EQ(built(fresh), hexs(wire));
}

TEST(Of10Match, CidrNetmasksBecomeMaskedIpv4Fields) {
  const auto wire = match_bytes(R"(
    003008ef       # all wildcarded but dl_type; nw_src 8 ignored bits, nw_dst 0
    0000 000000000000 000000000000 0000 00 00
    0800 00 00 0000 # dl_type IPv4
    0a00004d       # nw_src 10.0.0.77 (low byte under the wildcard)
    0a000102       # nw_dst 10.0.1.2
    0000 0000
  )");
  Match m = match_from_wire(wire);
  const std::vector<OxmField> want = {oxm::eth_type(0x0800),
                                      oxm::ipv4_src(0x0a000000, 0xffffff00),
                                      oxm::ipv4_dst(0x0a000102)};
  EXPECT_EQ(m.fields, want);
  EXPECT_TRUE(m.fields[1].has_mask);
  EXPECT_FALSE(m.fields[2].has_mask);
  // The decoded match re-emits its original bytes, stale .77 included ...
  EXPECT_EQ(built(m), hexs(wire));
  // ... and built from fields, the address is written under its mask.
  Match fresh;
  fresh.fields = want;
  EXPECT_EQ(built(fresh), "003008ef" "0000" "000000000000" "000000000000" "0000" "00" "00"
                          "0800" "00" "00" "0000" "0a000000" "0a000102" "0000" "0000");
}

TEST(Of10Match, ThirtyOneIgnoredBitsIsSlashOne) {
  const auto wire = match_bytes(R"(
    0038 1fef      # dl_type exact; nw_src 31 ignored bits; nw_dst 32
    0000 000000000000 000000000000 0000 00 00
    0800 00 00 0000
    80000000 00000000 0000 0000   # nw_src 128.0.0.0/1
  )");
  Match m = match_from_wire(wire);
  ASSERT_EQ(m.fields.size(), 2u);
  EXPECT_EQ(m.fields[1], oxm::ipv4_src(0x80000000, 0x80000000));
  Match fresh;
  fresh.fields = m.fields;
  EXPECT_EQ(built(fresh), hexs(wire));
}

TEST(Of10Match, SixtyThreeIgnoredBitsRoundTripsAsItCame) {
  // nw_src and nw_dst with 63 ignored bits (OFPFW_ALL's spelling): any
  // count from 32 to 63 wildcards the address completely.
  const auto wire = match_bytes(R"(
    003fffef       # all wildcarded but dl_type; nw_src/nw_dst 63 ignored bits
    0000 000000000000 000000000000 0000 00 00
    0800 00 00 0000
    01020304 05060708 0000 0000   # stale addresses under the wildcard
  )");
  Match m = match_from_wire(wire);
  EXPECT_EQ(m.fields, std::vector<OxmField>{oxm::eth_type(0x0800)});
  EXPECT_EQ(built(m), hexs(wire));
  Match fresh;
  fresh.fields = m.fields;
  EXPECT_EQ(built(fresh), "003820ef" "0000" "000000000000" "000000000000" "0000" "00" "00"
                          "0800" "00" "00" "0000" "00000000" "00000000" "0000" "0000");
}

TEST(Of10Match, AnyCountFrom32To63WildcardsTheAddress) {
  for (std::uint32_t bits : {32u, 33u, 40u, 62u, 63u}) {
    Of10MatchBytes wire = match_bytes(kEveryTcpField);
    const std::uint32_t wc = bits << 8 | bits << 14;
    wire[1] = static_cast<std::uint8_t>(wc >> 16);
    wire[2] = static_cast<std::uint8_t>(wc >> 8);
    wire[3] = static_cast<std::uint8_t>(wc);
    Match m = match_from_wire(wire);
    EXPECT_EQ(m.find(oxm_field::kIpv4Src), nullptr) << bits;
    EXPECT_EQ(m.find(oxm_field::kIpv4Dst), nullptr) << bits;
    EXPECT_NE(m.find(oxm_field::kTcpSrc), nullptr) << bits;
    EXPECT_EQ(built(m), hexs(wire)) << bits;
  }
}

TEST(Of10Match, ArpUsesNwProtoAndAddressesForOpcodeAndProtocolAddresses) {
  const auto wire = match_bytes(R"(
    0030 08cf      # exact: dl_type, nw_proto; nw_src 8 ignored bits, nw_dst 0 (exact)
    0000 000000000000 000000000000 0000 00 00
    0806 00 02     # dl_type ARP, nw_proto 2: opcode reply
    0000
    c0a80000       # nw_src: arp_spa 192.168.0.0/24
    c0a80001       # nw_dst: arp_tpa 192.168.0.1
    0000 0000
  )");
  Match m = match_from_wire(wire);
  const std::vector<OxmField> want = {
      oxm::eth_type(0x0806), oxm::arp_op(2),
      oxm::uint_field_masked(oxm_field::kArpSpa, 0xc0a80000, 0xffffff00, 4),
      oxm::arp_tpa(0xc0a80001)};
  EXPECT_EQ(m.fields, want);
  EXPECT_TRUE(check_match(m).ok());
  Match fresh;
  fresh.fields = want;
  EXPECT_EQ(built(fresh), hexs(wire));
}

TEST(Of10Match, IcmpUsesTransportPortsForTypeAndCode) {
  const auto wire = match_bytes(R"(
    0038 200f      # exact: dl_type, nw_proto, tp_src, tp_dst
    0000 000000000000 000000000000 0000 00 00
    0800 00 01     # IPv4, ICMP
    0000 00000000 00000000
    0008 0000      # tp_src: type 8 (echo request), tp_dst: code 0
  )");
  Match m = match_from_wire(wire);
  const std::vector<OxmField> want = {oxm::eth_type(0x0800), oxm::ip_proto(1),
                                      oxm::uint_field(oxm_field::kIcmpv4Type, 8, 1),
                                      oxm::uint_field(oxm_field::kIcmpv4Code, 0, 1)};
  EXPECT_EQ(m.fields, want);
  Match fresh;
  fresh.fields = want;
  EXPECT_EQ(built(fresh), hexs(wire));
}

TEST(Of10Match, UdpAndSctpPorts) {
  Match udp = match_from_wire(match_bytes(R"(
    0038 208f      # exact: dl_type, nw_proto, tp_src
    0000 000000000000 000000000000 0000 00 00
    0800 00 11 0000 00000000 00000000   # UDP
    0208 0000      # tp_src 520 (RIP)
  )"));
  EXPECT_EQ(udp.fields.back(), oxm::udp_src(520));
  Match sctp = match_from_wire(match_bytes(R"(
    0038 204f      # exact: dl_type, nw_proto, tp_dst
    0000 000000000000 000000000000 0000 00 00
    0800 00 84 0000 00000000 00000000   # SCTP (132)
    0000 0b59      # tp_dst 2905
  )"));
  EXPECT_EQ(sctp.fields.back(), oxm::uint_field(oxm_field::kSctpDst, 2905, 2));
  EXPECT_TRUE(check_match(udp).ok());
  EXPECT_TRUE(check_match(sctp).ok());
}

TEST(Of10Match, FieldsOneZeroIgnoresAreLeftOut) {
  // dl_type wildcarded: nw_* and tp_* are ignored by a 1.0 switch even when
  // their wildcard bits are clear; nw_proto 47 (GRE) has no ports; a PCP on
  // untagged frames (dl_vlan OFPVID_NONE) means nothing; DSCP only for IPv4.
  Match no_type = match_from_wire(match_bytes(R"(
    00000010       # everything exact except dl_type
    0001 000000000001 000000000002 ffff 03 00   # in_port 1, MACs, untagged, pcp 3
    0000 b8 06 0000 0a000001 0a000002 0050 0050 # nw/tp fields without a dl_type
  )"));
  EXPECT_EQ(no_type.fields,
            (std::vector<OxmField>{oxm::in_port(1), oxm::eth_dst(MacAddress::from_u64(2)),
                                   oxm::eth_src(MacAddress::from_u64(1)),
                                   oxm::vlan_vid(kVlanNone)}));
  Match gre = match_from_wire(match_bytes(R"(
    0000 0000      # everything exact
    0001 000000000001 000000000002 ffff 00 00
    0800 00 2f 0000 0a000001 0a000002 0050 0050 # IPv4, GRE: ports ignored
  )"));
  EXPECT_EQ(gre.find(oxm_field::kTcpSrc), nullptr);
  EXPECT_EQ(gre.fields.back(), oxm::ipv4_dst(0x0a000002));
  Match arp_tos = match_from_wire(match_bytes(R"(
    0000 0000
    0001 000000000001 000000000002 ffff 00 00
    0806 b8 01 0000 0a000001 0a000002 0050 0050 # ARP: no DSCP, no ports
  )"));
  EXPECT_EQ(arp_tos.find(oxm_field::kIpDscp), nullptr);
  EXPECT_EQ(arp_tos.find(oxm_field::kTcpSrc), nullptr);
  EXPECT_EQ(arp_tos.find(oxm_field::kIcmpv4Type), nullptr);
  for (const Match* m : {&no_type, &gre, &arp_tos}) {
    EXPECT_TRUE(check_match(*m).ok());
    EXPECT_EQ(built(*m), hexs(*m->of10_wire));  // still re-emitted byte for byte
  }
}

TEST(Of10Match, UntaggedIsVlanNoneBothWays) {
  const auto wire = match_bytes(R"(
    0038 20fd      # exact: dl_vlan
    0000 000000000000 000000000000
    ffff 00 00     # dl_vlan OFP_VLAN_NONE
    0000 00 00 0000 00000000 00000000 0000 0000
  )");
  Match m = match_from_wire(wire);
  EXPECT_EQ(m.fields, std::vector<OxmField>{oxm::vlan_vid(kVlanNone)});
  EXPECT_EQ(built(match_of({oxm::vlan_vid(kVlanNone)})), hexs(wire));
}

TEST(Of10Match, PcpWithAnyVidIsAnyTaggedFrame) {
  const auto wire = match_bytes(R"(
    0028 20ff      # exact: dl_vlan_pcp only
    0000 000000000000 000000000000
    0000 06 00     # dl_vlan (wildcarded), pcp 6
    0000 00 00 0000 00000000 00000000 0000 0000
  )");
  Match m = match_from_wire(wire);
  const std::vector<OxmField> want = {oxm::vlan_vid(kVlanPresent, kVlanPresent),
                                      oxm::vlan_pcp(6)};
  EXPECT_EQ(m.fields, want);
  EXPECT_TRUE(check_match(m).ok());
  Match fresh;
  fresh.fields = want;
  EXPECT_EQ(built(fresh), hexs(wire));
}

TEST(Of10Match, StaleSavedBytesAreNotReEmitted) {
  Match m = match_from_wire(match_bytes(kAnyMatch));
  m.fields.push_back(oxm::eth_type(0x0806));  // edited without add(): of10_wire stays
  ASSERT_TRUE(m.of10_wire.has_value());
  EXPECT_EQ(built(m), "003820ef" "0000" "000000000000" "000000000000" "0000" "00" "00"
                      "0806" "00" "00" "0000" "00000000" "00000000" "0000" "0000");
}

TEST(Of10Match, EthernetMasksAllOnesIsExactAllZeroIsAny) {
  const MacAddress mac = *MacAddress::parse("02:00:00:00:00:01");
  OxmField ones = oxm::eth_dst(mac);
  ones.has_mask = true;
  ones.mask.assign(6, 0xff);
  OxmField zeros = oxm::eth_src(mac);
  zeros.has_mask = true;
  zeros.mask.assign(6, 0x00);
  EXPECT_EQ(built(match_of({ones, zeros})),
            "003820f7" "0000" "000000000000" "020000000001" "0000" "00" "00" "0000" "00" "00"
            "0000" "00000000" "00000000" "0000" "0000");
}

TEST(Of10Match, BuildErrors) {
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  using namespace bad_match;
  // Fields 1.0 does not have.
  expect_build_error(match_of({oxm::eth_type(0x86dd), oxm::ipv6_src(v6)}), kBadField);
  expect_build_error(match_of({oxm::metadata(1)}), kBadField);
  expect_build_error(match_of({oxm::eth_type(0x0800),
                               oxm::uint_field(oxm_field::kIpEcn, 1, 1)}),
                     kBadField);
  OxmField reg0;
  reg0.oxm_class = oxm_class::kNxm1;
  reg0.field = 0;
  reg0.value.assign(4, 0);
  expect_build_error(match_of({reg0}), kBadField);
  // Masks 1.0 cannot spell.
  expect_build_error(match_of({oxm::eth_dst(MacAddress::from_u64(0x010000000000),
                                            MacAddress::from_u64(0x010000000000))}),
                     kBadDlAddrMask);
  expect_build_error(match_of({oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000001, 0xff00ff00)}),
                     kBadNwAddrMask);
  expect_build_error(match_of({oxm::eth_type(0x0806),
                               oxm::uint_field_masked(oxm_field::kArpSpa, 1, 0x0000ffff, 4)}),
                     kBadNwAddrMask);
  expect_build_error(match_of({oxm::vlan_vid(kVlanPresent, kVlanPresent)}), kBadMask);
  expect_build_error(match_of({oxm::vlan_vid(0x1000, 0x1f00)}), kBadMask);
  // Values 1.0 cannot hold.
  expect_build_error(match_of({oxm::in_port(0xff00)}), kBadValue);
  expect_build_error(match_of({oxm::vlan_vid(5)}), kBadValue);  // no OFPVID_PRESENT
  expect_build_error(match_of({oxm::eth_type(0x0806), oxm::arp_op(0x100)}), kBadValue);
  expect_build_error(match_of({oxm::eth_type(0x0800),
                               oxm::uint_field(oxm_field::kIpDscp, 64, 1)}),
                     kBadValue);
  // Fields 1.0 would ignore: IP fields on IPv6, and 1.3 prerequisites.
  expect_build_error(match_of({oxm::eth_type(0x86dd), oxm::ip_proto(6)}), kBadPrereq);
  expect_build_error(match_of({oxm::eth_type(0x86dd),
                               oxm::uint_field(oxm_field::kIpDscp, 1, 1)}),
                     kBadPrereq);
  expect_build_error(match_of({oxm::ipv4_src(1)}), kBadPrereq);
  expect_build_error(match_of({oxm::eth_type(0x0800), oxm::ip_proto(17), oxm::tcp_dst(1)}),
                     kBadPrereq);
  expect_build_error(match_of({oxm::vlan_pcp(3)}), kBadPrereq);
  // Duplicates and wrong lengths, as check_match reports them.
  expect_build_error(match_of({oxm::in_port(1), oxm::in_port(2)}), kDupField);
  expect_build_error(match_of({oxm::uint_field(oxm_field::kInPort, 1, 2)}), kBadLen);
}

TEST(Of10Match, ShortMatchIsBadMatchBadLen) {
  auto d = decode_part(Bytes(39, 0), of10::decode_match);
  ASSERT_TRUE(d.error.has_value());
  EXPECT_EQ(d.error->type, error_type::kBadMatch);
  EXPECT_EQ(d.error->code, bad_match::kBadLen);
}

TEST(Of10Match, BuiltMatchesDecodeToTheirFields) {
  // Encoding then decoding gives the fields back (in OXM order) for every
  // kind of field 1.0 has.
  const std::vector<Match> cases = {
      match_of({oxm::in_port(port::kLocal)}),
      match_of({oxm::eth_type(0x0800), oxm::ip_proto(6), oxm::ipv4_dst(0x0a000000, 0xff000000),
                oxm::tcp_dst(179)}),
      match_of({oxm::eth_type(0x0800), oxm::ip_proto(17), oxm::udp_dst(53)}),
      match_of({oxm::eth_type(0x0806), oxm::arp_op(1), oxm::arp_tpa(0x0a000001)}),
      match_of({oxm::vlan_vid(kVlanPresent | 100), oxm::vlan_pcp(7)}),
      match_of({oxm::eth_dst(MacAddress::from_u64(0x0180c2000000))}),
  };
  for (const Match& m : cases) {
    auto b = match_to_wire(m);
    ASSERT_TRUE(b.ok()) << describe(b.error());
    EXPECT_EQ(match_from_wire(*b).fields, m.fields) << hexs(*b);
  }
}

}  // namespace
}  // namespace tapflow::openflow
