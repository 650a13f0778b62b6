// HELLO and ERROR, and the top-level header/length checks.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

using testing::decode_roundtrip;
using testing::expect_decode_error;
using testing::hex;

TEST(Hello, VersionBitmapElement) {
  Bytes wire = hex(R"(
    04 00 0010 00000001   # v1.3 HELLO, len 16, xid 1
    0001 0008             # element VERSIONBITMAP, len 8
    00000012              # bits 1 and 4: OpenFlow 1.0 and 1.3
  )");
  Message m = decode_roundtrip(wire);
  EXPECT_EQ(m.version, kVersion13);
  EXPECT_EQ(m.xid, 1u);
  const auto& h = std::get<Hello>(m.body);
  ASSERT_EQ(h.elements.size(), 1u);
  EXPECT_EQ(h.elements[0].type, HelloElement::kVersionBitmap);
  EXPECT_EQ(h.elements[0].bitmaps, std::vector<std::uint32_t>{0x12});
}

TEST(Hello, AnyVersionAndUnknownElementsDecode) {
  // A HELLO from a future version 0x06 with an unknown element type 7 (len 6,
  // padded to 8) still decodes: negotiation needs it.
  Bytes wire = hex("06 00 0010 00000002  0007 0006 abcd 0000");
  Message m = decode_roundtrip(wire);
  EXPECT_EQ(m.version, 6);
  const auto& h = std::get<Hello>(m.body);
  ASSERT_EQ(h.elements.size(), 1u);
  EXPECT_EQ(h.elements[0].type, 7);
  EXPECT_EQ(h.elements[0].data, hex("abcd"));
}

TEST(Hello, PlainOpenFlow10Hello) {
  Message m = decode_roundtrip(hex("01 00 0008 0000abcd"));
  EXPECT_TRUE(std::get<Hello>(m.body).elements.empty());
}

TEST(Hello, ElementLengthTooSmallIsBadLen) {
  auto e = expect_decode_error(hex("04 00 000e 00000001  0001 0002 0000"),
                               error_type::kBadRequest, bad_request::kBadLen);
  EXPECT_EQ(e.offset, 10u);
}

TEST(Hello, ElementLongerThanMessageIsBadLen) {
  expect_decode_error(hex("04 00 0010 00000001  0001 0010 00000012"), error_type::kBadRequest,
                      bad_request::kBadLen);
}

TEST(Error, OpenFlow13ExperimenterError) {
  Bytes wire = hex(R"(
    04 01 0014 00000005   # v1.3 ERROR, len 20
    ffff ea60             # type EXPERIMENTER, exp_type 60000
    000f423f              # experimenter 999999
    6a 69 6b 6b           # data "jikk"
  )");
  Message m = decode_roundtrip(wire);
  const auto& e = std::get<Error>(m.body);
  EXPECT_EQ(e.type, 0xffff);
  EXPECT_EQ(e.code, 60000);
  EXPECT_EQ(e.experimenter, 999999u);
}

TEST(Error, AnyVersionHelloFailedDecodes) {
  // An OpenFlow 1.1 (0x02) HELLO_FAILED/INCOMPATIBLE: the error we send a
  // switch whose version we refuse, in its own version.
  Message m = decode_roundtrip(hex("02 01 000e 00000009  0000 0000  6f 6b"));
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(std::get<Error>(m.body).data, hex("6f6b"));
  expect_decode_error(hex("02 01 000a 00000009 0000"), error_type::kBadRequest,
                      bad_request::kBadLen);
  // Other messages of that version are refused.
  expect_decode_error(hex("02 02 0008 00000009"), error_type::kBadRequest,
                      bad_request::kBadVersion);
}

TEST(Header, TooShortForHeader) {
  expect_decode_error(hex("04 00 00"), error_type::kBadRequest, bad_request::kBadLen);
}

TEST(Header, LengthFieldDisagreesWithBuffer) {
  auto e = expect_decode_error(hex("04 02 0010 00000001 aabb"), error_type::kBadRequest,
                               bad_request::kBadLen);
  EXPECT_EQ(e.offset, 2u);
}

TEST(Header, UnsupportedVersion) {
  expect_decode_error(hex("03 02 0008 00000001"), error_type::kBadRequest,
                      bad_request::kBadVersion);
}

TEST(Header, UnknownType) {
  expect_decode_error(hex("04 63 0008 00000001"), error_type::kBadRequest, bad_request::kBadType);
  expect_decode_error(hex("01 16 0008 00000001"), error_type::kBadRequest, bad_request::kBadType);
}

TEST(Header, FixedSizeMessageWithWrongLength) {
  // v1.3 BARRIER_REQUEST must be exactly 8 bytes.
  expect_decode_error(hex("04 14 000c 00000001 00000000"), error_type::kBadRequest,
                      bad_request::kBadLen);
  // v1.0 FLOW_MOD shorter than its 72-byte fixed part.
  expect_decode_error(hex("01 0e 0010 00000001 0000000000000000"), error_type::kBadRequest,
                      bad_request::kBadLen);
}

TEST(Encode, RejectsMessageMissingFromVersion) {
  Message m{kVersion10, 1, GroupMod{}};
  auto r = encode(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, bad_request::kBadType);
  Message v{0x03, 1, BarrierRequest{}};
  ASSERT_FALSE(encode(v).ok());
  EXPECT_EQ(encode(v).error().code, bad_request::kBadVersion);
}

TEST(ErrorNames, BothVersions) {
  EXPECT_EQ(error_type_name(kVersion13, 4), "BAD_MATCH");
  EXPECT_EQ(error_type_name(kVersion10, 4), "PORT_MOD_FAILED");
  EXPECT_EQ(error_code_name(kVersion13, 1, 6), "BAD_LEN");
  EXPECT_EQ(error_code_name(kVersion10, 3, 0), "ALL_TABLES_FULL");
  EXPECT_EQ(error_code_name(kVersion13, 1, 99), "UNKNOWN(99)");
}

TEST(ErrorNames, WireErrorFor10MapsMatchErrors) {
  Bytes offending(100, 0xaa);
  Error e = to_wire_error(OfError{error_type::kBadMatch, bad_match::kBadLen, "", 0}, kVersion10,
                          offending);
  EXPECT_EQ(e.type, 1);  // BAD_REQUEST
  EXPECT_EQ(e.code, bad_request::kBadLen);
  EXPECT_EQ(e.data.size(), 64u);
  Error f = to_wire_error(OfError{error_type::kFlowModFailed, flow_mod_failed::kTableFull, "", 0},
                          kVersion10, offending);
  EXPECT_EQ(f.type, 3);
  EXPECT_EQ(f.code, 0);  // ALL_TABLES_FULL
}

}  // namespace
}  // namespace tapflow::openflow
