#include <gtest/gtest.h>

#include "tapflow/openflow/match.hpp"
#include "tapflow/openflow/oxm.hpp"

namespace tapflow::openflow {
namespace {

TEST(OxmFieldInfo, KnowsEveryBasicField) {
  for (std::uint8_t f = 0; f <= 41; ++f) {
    if (f == 40) continue;  // unassigned in 1.3
    const OxmFieldInfo* info = oxm_field_info(oxm_class::kOpenflowBasic, f);
    ASSERT_NE(info, nullptr) << int(f);
    EXPECT_EQ(oxm_field_info(info->name), info);
  }
  EXPECT_EQ(oxm_field_info(oxm_class::kOpenflowBasic, 40), nullptr);
  EXPECT_EQ(oxm_field_info("ipv4_dst")->length, 4);
  EXPECT_TRUE(oxm_field_info("ipv4_dst")->maskable);
  EXPECT_FALSE(oxm_field_info("ip_proto")->maskable);
}

TEST(OxmConstructors, ExactMaskIsDropped) {
  OxmField f = oxm::ipv4_dst(0x0a000000, 0xffffff00);
  EXPECT_TRUE(f.has_mask);
  EXPECT_EQ(f.value_uint(), 0x0a000000u);
  EXPECT_EQ(f.mask_uint(), 0xffffff00u);
  EXPECT_EQ(f.wire_size(), 12u);
  OxmField g = oxm::ipv4_dst(0x0a000001);
  EXPECT_FALSE(g.has_mask);
  EXPECT_EQ(g.wire_size(), 8u);
  auto mac = *MacAddress::parse("00:11:22:33:44:55");
  EXPECT_FALSE(oxm::eth_dst(mac, MacAddress::from_u64(0xffffffffffffULL)).has_mask);
}

TEST(CheckMatch, AcceptsRouteMatch) {
  Match m;
  m.add(oxm::eth_type(0x0800)).add(oxm::ipv4_dst(0x0a000000, 0xff000000));
  EXPECT_TRUE(check_match(m).ok());
}

TEST(CheckMatch, MissingPrerequisite) {
  Match m;
  m.add(oxm::ipv4_dst(0x0a000001));
  auto st = check_match(m);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().type, error_type::kBadMatch);
  EXPECT_EQ(st.error().code, bad_match::kBadPrereq);
}

TEST(CheckMatch, WrongPrerequisiteValue) {
  Match m;
  m.add(oxm::eth_type(0x86dd)).add(oxm::ip_proto(17)).add(oxm::tcp_dst(179));
  EXPECT_EQ(check_match(m).error().code, bad_match::kBadPrereq);
  Match ok;
  ok.add(oxm::eth_type(0x86dd)).add(oxm::ip_proto(6)).add(oxm::tcp_dst(179));
  EXPECT_TRUE(check_match(ok).ok());
}

TEST(CheckMatch, VlanPcpNeedsPresentVid) {
  Match m;
  m.add(oxm::vlan_vid(0)).add(oxm::vlan_pcp(3));
  EXPECT_EQ(check_match(m).error().code, bad_match::kBadPrereq);
  Match ok;
  ok.add(oxm::vlan_vid(kVlanPresent | 10)).add(oxm::vlan_pcp(3));
  EXPECT_TRUE(check_match(ok).ok());
}

TEST(CheckMatch, DuplicateMaskAndLength) {
  Match dup;
  dup.add(oxm::in_port(1)).add(oxm::in_port(2));
  EXPECT_EQ(check_match(dup).error().code, bad_match::kDupField);

  Match badmask;
  OxmField f = oxm::ip_proto(6);
  f.has_mask = true;
  f.mask = {0x0f};
  badmask.add(oxm::eth_type(0x0800)).add(f);
  EXPECT_EQ(check_match(badmask).error().code, bad_match::kBadMask);

  Match badlen;
  OxmField g = oxm::eth_type(0x0800);
  g.value.push_back(0);
  badlen.add(g);
  EXPECT_EQ(check_match(badlen).error().code, bad_match::kBadLen);

  Match unknown;
  OxmField u;
  u.field = 40;
  unknown.add(u);
  EXPECT_EQ(check_match(unknown).error().code, bad_match::kBadField);
}

}  // namespace
}  // namespace tapflow::openflow
