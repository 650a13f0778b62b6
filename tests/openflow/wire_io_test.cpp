#include "wire_io.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

using testing::hex;

TEST(Reader, ReadsBigEndianAndTracksOffset) {
  Bytes b = hex("01 0203 04050607 08090a0b0c0d0e0f");
  wire::DecodeState st;
  wire::Reader r(b, st, 8);
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.u16(), 0x0203);
  EXPECT_EQ(r.u32(), 0x04050607u);
  EXPECT_EQ(r.offset(), 15u);
  EXPECT_EQ(r.u64(), 0x08090a0b0c0d0e0fULL);
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(r.ok());
}

TEST(Reader, ShortReadRecordsRegionErrorAndStops) {
  Bytes b = hex("0001 0002 0003");
  wire::DecodeState st;
  wire::Reader r(b, st, 8);
  r.u16();
  wire::Reader sub = r.sub(3, error_type::kBadAction, bad_action::kBadLen);
  EXPECT_EQ(sub.u32(), 0u);  // only 3 bytes: fails, returns zero
  EXPECT_FALSE(r.ok());
  ASSERT_TRUE(st.error.has_value());
  EXPECT_EQ(st.error->type, error_type::kBadAction);
  EXPECT_EQ(st.error->code, bad_action::kBadLen);
  EXPECT_EQ(st.error->offset, 10u);
  EXPECT_TRUE(sub.empty());
  EXPECT_EQ(r.u16(), 0u);  // later reads keep returning zero
}

TEST(Reader, SubBeyondEndFailsWithParentError) {
  Bytes b = hex("00 01");
  wire::DecodeState st;
  wire::Reader r(b, st);
  auto s = r.sub(5, error_type::kBadMatch, bad_match::kBadLen);
  EXPECT_TRUE(s.empty());
  ASSERT_TRUE(st.error.has_value());
  EXPECT_EQ(st.error->type, error_type::kBadRequest);
  EXPECT_EQ(st.error->code, bad_request::kBadLen);
}

TEST(Reader, FixedStringStopsAtNul) {
  Bytes b = hex("65 74 68 30 00 41 41 41");  // "eth0\0AAA"
  wire::DecodeState st;
  wire::Reader r(b, st);
  EXPECT_EQ(r.fixed_string(8), "eth0");
}

TEST(Reader, FixedStringWithoutNulKeepsWhatAWriterCanWrite) {
  // A peer that fills the field: the last byte gives way to the NUL the
  // writer adds, so decode(encode(decode(x))) == decode(x).
  Bytes b = hex("65 74 68 30 31 32 33 34");  // "eth01234", no NUL
  wire::DecodeState st;
  wire::Reader r(b, st);
  std::string s = r.fixed_string(8);
  EXPECT_EQ(s, "eth0123");
  Bytes out;
  wire::Writer w(out);
  w.fixed_string(s, 8);
  EXPECT_EQ(to_hex(out.data(), out.size()), "6574683031323300");
}

TEST(Writer, PadsAndPatches) {
  Bytes out;
  wire::Writer w(out);
  w.u16(0xabcd);
  w.u16(0);
  w.u8(1);
  w.pad_from(0, 8);
  w.patch_u16(2, 5);
  w.fixed_string("toolongname", 4);
  EXPECT_EQ(to_hex(out.data(), out.size()), "abcd000501000000746f6f00");
}

TEST(Hex, ParsesAnnotatedText) {
  auto b = parse_hex("0x04 0a  # comment 99\n ff:ee");
  ASSERT_TRUE(b);
  EXPECT_EQ(to_hex(b->data(), b->size()), "040affee");
  EXPECT_FALSE(parse_hex("abc").has_value());
  EXPECT_FALSE(parse_hex("zz").has_value());
}

TEST(MacAddress, ParsesAndPrints) {
  auto m = MacAddress::parse("F2:0b:a4:7d:f8:ea");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "f2:0b:a4:7d:f8:ea");
  EXPECT_EQ(MacAddress::from_u64(m->to_u64()), *m);
  EXPECT_FALSE(MacAddress::parse("f2:0b:a4:7d:f8").has_value());
  EXPECT_TRUE(MacAddress::parse("ff:ff:ff:ff:ff:ff")->is_broadcast());
}

}  // namespace
}  // namespace tapflow::openflow
