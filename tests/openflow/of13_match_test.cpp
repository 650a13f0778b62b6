// OpenFlow 1.3 OXM TLVs and ofp_match: layouts, opaque non-basic classes, and
// the wire-level errors (prerequisites are check_match()'s job, not decode's).
#include <gtest/gtest.h>

#include <optional>

#include "test_util.hpp"
#include "version_codecs.hpp"

namespace tapflow::openflow {
namespace {

using testing::decode_roundtrip;
using testing::expect_decode_error;
using testing::hex;

// Runs a part decoder over `b` (underruns reported as BAD_MATCH/BAD_LEN, as in
// a match) and records what it left behind.
template <class T>
struct Decoded {
  T value;
  std::optional<OfError> error;
  std::size_t left = 0;
};
template <class Fn>
auto decode_part(const Bytes& b, Fn fn) {
  wire::DecodeState st;
  wire::Reader r(b, st, 0, error_type::kBadMatch, bad_match::kBadLen);
  auto v = fn(r);
  return Decoded<decltype(v)>{std::move(v), st.error, r.remaining()};
}

Bytes encode_oxm_bytes(const OxmField& f) {
  Bytes out;
  wire::Writer w(out);
  of13::encode_oxm(f, w);
  return out;
}

Bytes encode_match_bytes(const Match& m) {
  Bytes out;
  wire::Writer w(out);
  of13::encode_match(m, w);
  return out;
}

void expect_oxm_error(const Bytes& b, std::uint16_t code) {
  auto d = decode_part(b, of13::decode_oxm);
  ASSERT_TRUE(d.error.has_value()) << "decoded although malformed";
  EXPECT_EQ(d.error->type, error_type::kBadMatch) << describe(*d.error);
  EXPECT_EQ(d.error->code, code) << describe(*d.error);
}

// ------------------------------------------------------------------ OXM TLVs

TEST(Of13Oxm, BasicExactField) {
  Bytes wire = hex(R"(
    8000        # class OPENFLOW_BASIC
    0a          # field 5 (eth_type) << 1, hasmask 0
    02          # length 2
    86dd        # IPv6
  )");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.left, 0u);
  EXPECT_TRUE(d.value.is_basic(oxm_field::kEthType));
  EXPECT_FALSE(d.value.has_mask);
  EXPECT_EQ(d.value.value_uint(), 0x86ddu);
  EXPECT_EQ(d.value, oxm::eth_type(0x86dd));
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, BasicMaskedField) {
  Bytes wire = hex(R"(
    8000 19 08  # ipv4_dst (field 12 << 1 | hasmask), length 8
    0a000000    # value 10.0.0.0
    ffffff00    # mask /24
  )");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_TRUE(d.value.is_basic(oxm_field::kIpv4Dst));
  EXPECT_TRUE(d.value.has_mask);
  EXPECT_EQ(d.value.value_uint(), 0x0a000000u);
  EXPECT_EQ(d.value.mask_uint(), 0xffffff00u);
  EXPECT_EQ(d.value, oxm::ipv4_dst(0x0a000000, 0xffffff00));
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, Ipv6AddressField) {
  Bytes wire = hex(R"(
    8000 36 10                        # ipv6_dst (field 27 << 1), length 16
    20010db8000000000000000000000001  # 2001:db8::1
  )");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_TRUE(d.value.is_basic(oxm_field::kIpv6Dst));
  EXPECT_EQ(d.value.value.size(), 16u);
  EXPECT_EQ(d.value.value[0], 0x20);
  EXPECT_EQ(d.value.value[15], 0x01);
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, NiciraFieldIsKeptOpaqueAndSplitByMask) {
  Bytes wire = hex(R"(
    0001 01 08  # class NXM_1, field 0 (reg0), hasmask, length 8
    0000000a    # value
    000000ff    # mask
  )");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.value.oxm_class, oxm_class::kNxm1);
  EXPECT_EQ(d.value.field, 0);
  EXPECT_TRUE(d.value.has_mask);
  EXPECT_EQ(d.value.value_uint(), 0x0au);
  EXPECT_EQ(d.value.mask_uint(), 0xffu);
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, UnknownNiciraFieldOfAnyLengthDecodes) {
  // NXM_0 field 127 with a 3-byte payload: unknown to us, kept byte for byte.
  Bytes wire = hex("0000 fe 03  abcdef");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.value.oxm_class, oxm_class::kNxm0);
  EXPECT_EQ(d.value.field, 127);
  EXPECT_EQ(d.value.value.size(), 3u);
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, ExperimenterClassCarriesItsId) {
  Bytes wire = hex(R"(
    ffff 54 06  # class EXPERIMENTER, field 42 (ONF tcp_flags), length 6
    4f4e4600    # experimenter ONF, counted in the length
    0012        # value: SYN|ACK
  )");
  auto d = decode_part(wire, of13::decode_oxm);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.value.oxm_class, oxm_class::kExperimenter);
  EXPECT_EQ(d.value.field, 42);
  EXPECT_EQ(d.value.experimenter, kOnfExperimenter);
  EXPECT_EQ(d.value.value_uint(), 0x12u);
  EXPECT_EQ(d.value.wire_size(), 10u);
  EXPECT_EQ(encode_oxm_bytes(d.value), wire);
}

TEST(Of13Oxm, WrongLengthForKnownFieldIsBadLen) {
  expect_oxm_error(hex("8000 0a 03  86dd00   # eth_type with 3 bytes"), bad_match::kBadLen);
  expect_oxm_error(hex("8000 19 04  0a000000 # masked ipv4_dst without its mask"),
                   bad_match::kBadLen);
  expect_oxm_error(hex("8000 0a 00           # eth_type with no payload"), bad_match::kBadLen);
}

TEST(Of13Oxm, MaskOnNonMaskableFieldIsBadMask) {
  expect_oxm_error(hex("8000 0b 04  0800 ffff  # eth_type with hasmask"), bad_match::kBadMask);
}

TEST(Of13Oxm, UnknownBasicFieldIsBadField) {
  expect_oxm_error(hex("8000 50 02  0000  # basic field 40: unassigned in 1.3"),
                   bad_match::kBadField);
  expect_oxm_error(hex("8000 fe 01  00    # basic field 127"), bad_match::kBadField);
}

TEST(Of13Oxm, PayloadPastTheEndIsBadLen) {
  auto d = decode_part(hex("8000 18 04  0a00  # ipv4_dst claims 4 bytes, 2 present"),
                       of13::decode_oxm);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, bad_match::kBadLen);
  EXPECT_EQ(d.error->offset, 3u);  // the length byte
}

TEST(Of13Oxm, TruncatedHeaderIsBadLen) {
  expect_oxm_error(hex("8000 0a"), bad_match::kBadLen);
}

TEST(Of13Oxm, ExperimenterShorterThanItsIdIsBadLen) {
  expect_oxm_error(hex("ffff 54 02  4f4e  # experimenter OXM of length 2"), bad_match::kBadLen);
}

TEST(Of13Oxm, OddMaskedOpaquePayloadIsBadLen) {
  expect_oxm_error(hex("0001 01 03  aabbcc  # masked reg0, payload cannot be halved"),
                   bad_match::kBadLen);
}

// ------------------------------------------------------------------ ofp_match

TEST(Of13Match, FieldsThenPaddingToEight) {
  Bytes wire = hex(R"(
    0001 0016     # type OXM, length 22 (4 + 6 + 12, padding excluded)
    8000 0a 02    # eth_type
      0800
    8000 19 08    # ipv4_dst/24
      c0a80100 ffffff00
    0000          # padding to 24
  )");
  auto d = decode_part(wire, of13::decode_match);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.left, 0u) << "padding must be consumed";
  ASSERT_EQ(d.value.fields.size(), 2u);
  EXPECT_EQ(d.value.fields[0], oxm::eth_type(0x0800));
  EXPECT_EQ(d.value.fields[1], oxm::ipv4_dst(0xc0a80100, 0xffffff00));
  EXPECT_EQ(encode_match_bytes(d.value), wire);
}

TEST(Of13Match, EmptyMatchIsFourBytesPlusPadding) {
  Bytes wire = hex("0001 0004  00000000  # type OXM, length 4, 4 pad bytes");
  auto d = decode_part(wire, of13::decode_match);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_TRUE(d.value.empty());
  EXPECT_EQ(d.left, 0u);
  EXPECT_EQ(encode_match_bytes(Match{}), wire);
}

TEST(Of13Match, ExactMultipleOfEightHasNoPadding) {
  Bytes wire = hex(R"(
    0001 0010              # length 16
    8000 19 08             # ipv4_dst/8
    0a000000 ff000000
  )");
  auto d = decode_part(wire, of13::decode_match);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.value.fields.size(), 1u);
  EXPECT_EQ(d.left, 0u);
  EXPECT_EQ(encode_match_bytes(d.value), wire);
}

TEST(Of13Match, PrerequisitesAreNotEnforcedByDecode) {
  // tcp_dst without ip_proto/eth_type: a switch could report it; the decoder
  // reads it and check_match() is what objects.
  Bytes wire = hex(R"(
    0001 000a   # length 10
    8000 1c 02  # tcp_dst
      00b3      # 179
    000000000000
  )");
  auto d = decode_part(wire, of13::decode_match);
  ASSERT_FALSE(d.error) << describe(*d.error);
  ASSERT_EQ(d.value.fields.size(), 1u);
  EXPECT_EQ(check_match(d.value).error().code, bad_match::kBadPrereq);
}

TEST(Of13Match, DuplicateFieldsDecode) {
  Bytes wire = hex("0001 0010  8000 0a 02 0800  8000 0a 02 86dd  # two eth_type fields");
  auto d = decode_part(wire, of13::decode_match);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.value.fields.size(), 2u);
  EXPECT_EQ(check_match(d.value).error().code, bad_match::kDupField);
}

TEST(Of13Match, StandardMatchTypeIsBadType) {
  auto d = decode_part(hex("0000 0058 " + std::string(168, '0')), of13::decode_match);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->type, error_type::kBadMatch);
  EXPECT_EQ(d.error->code, bad_match::kBadType);
  EXPECT_EQ(d.error->offset, 0u);
}

TEST(Of13Match, LengthBelowHeaderIsBadLen) {
  auto d = decode_part(hex("0001 0003 00000000"), of13::decode_match);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, bad_match::kBadLen);
  EXPECT_EQ(d.error->offset, 2u);
}

TEST(Of13Match, MissingPaddingIsBadLen) {
  // Length 10 needs 6 pad bytes to reach 16; only 2 follow.
  auto d = decode_part(hex("0001 000a  8000 0a 02 0800  0000"), of13::decode_match);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->type, error_type::kBadMatch);
  EXPECT_EQ(d.error->code, bad_match::kBadLen);
}

TEST(Of13Match, FieldCrossingTheMatchLengthIsBadLen) {
  // The match says 8 bytes, but its one OXM needs 10.
  auto d = decode_part(hex("0001 0008  8000 0a 02 0800 000000000000"), of13::decode_match);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->type, error_type::kBadMatch);
  EXPECT_EQ(d.error->code, bad_match::kBadLen);
}

TEST(Of13Match, ErrorInsideAFlowModCarriesItsOffset) {
  Bytes wire = hex(R"(
    04 0e 0048 00000001       # FLOW_MOD, length 72
    0000000000000000          # cookie
    0000000000000000          # cookie_mask
    00 00 0000 0000 8000      # table 0, ADD, idle, hard, priority
    ffffffff ffffffff ffffffff  # buffer_id, out_port, out_group
    0000 0000                 # flags, pad
    0001 000c                 # match: OXM, length 12
    8000 0b 04 0800 ffff      # eth_type with a mask: BAD_MASK
    00000000                  # pad to 16
    0005 0008 00000000        # CLEAR_ACTIONS
  )");
  auto e = expect_decode_error(wire, error_type::kBadMatch, bad_match::kBadMask);
  EXPECT_EQ(e.offset, 52u);  // the OXM header, after the 48-byte fixed part and match header
}

TEST(Of13Match, EncodesConstructedFields) {
  Match m;
  m.add(oxm::in_port(3)).add(oxm::eth_type(0x0806)).add(oxm::arp_tpa(0x0a000001));
  EXPECT_EQ(encode_match_bytes(m), hex(R"(
    0001 001a               # length 26
    80000004 00000003       # in_port 3
    8000 0a 02 0806         # eth_type ARP
    8000 2e 04 0a000001     # arp_tpa (field 23 << 1) 10.0.0.1
    000000000000            # pad to 32
  )"));
}

}  // namespace
}  // namespace tapflow::openflow
