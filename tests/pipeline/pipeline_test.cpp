// The pipeline contract: the standard layout's values are today's wire values
// (a change here changes what every switch holds, and what a restarted
// tapflowd recognises as its own), and the checks catch broken layouts.
#include "tapflow/pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace tapflow::pipeline {
namespace {

TEST(Pipeline, StandardTables) {
  constexpr Pipeline p = Pipeline::standard();
  EXPECT_EQ(table::kIngress, 0);
  EXPECT_EQ(p.l2_table, 1);
  EXPECT_EQ(p.l2_dst_table(), 2);
  EXPECT_FALSE(p.l2_tables);
  EXPECT_EQ(p.fib_table, std::optional<std::uint8_t>(1));
  EXPECT_EQ(p.first_fib_table(), 1u);
  EXPECT_EQ(p.validate(), "");
}

TEST(Pipeline, Cookies) {
  EXPECT_EQ(cookie::kClassMask, 0xffff000000000000ULL);
  EXPECT_EQ(cookie::kSubclassMask, 0xffffff0000000000ULL);
  EXPECT_EQ(cookie::kTapd, 0x7461000000000000ULL);
  EXPECT_EQ(cookie::kPunt, 0x7461000000000000ULL);
  EXPECT_EQ(cookie::kVlanFlowsMask, 0xfffff00000000000ULL);
  EXPECT_EQ(cookie::kVlanStatic, 0x7461100000000000ULL);
  EXPECT_EQ(cookie::kVlanClassify, 0x7461100000000000ULL);
  EXPECT_EQ(cookie::kVlanRouter, 0x7461110000000000ULL);
  EXPECT_EQ(cookie::kVlanFlood, 0x7461120000000000ULL);
  EXPECT_EQ(cookie::kVlanLearnMiss, 0x7461130000000000ULL);
  EXPECT_EQ(cookie::kLearned, 0x7461200000000000ULL);
  EXPECT_EQ(cookie::kLearnedSrc, 0x7461200000000000ULL);
  EXPECT_EQ(cookie::kLearnedDst, 0x7461210000000000ULL);
  EXPECT_EQ(cookie::kGenerationMask, 0x000000ffffffffffULL);
  EXPECT_EQ(cookie::kRouting, 0x726f000000000000ULL);
  EXPECT_EQ(cookie::kRoute, 0x726f010000000000ULL);
  EXPECT_EQ(cookie::kHost, 0x726f020000000000ULL);
  EXPECT_EQ(cookie::kFibMiss, 0x726f030000000000ULL);
}

TEST(Pipeline, Priorities) {
  using namespace priority;
  EXPECT_EQ(punt::kPortNd, 40101);
  EXPECT_EQ(punt::kRouting, 40100);
  EXPECT_EQ(punt::kControl, 40000);
  EXPECT_EQ(punt::kLocal, 39000);
  EXPECT_EQ(punt::kRouterMac, 100);
  EXPECT_EQ(punt::kDrop, 0);
  EXPECT_EQ(vlan::kClassify, 50000);
  EXPECT_EQ(vlan::kClassifyDrop, 49000);
  EXPECT_EQ(vlan::kRouterRoute, 30000);
  EXPECT_EQ(vlan::kRouterOther, 29000);
  EXPECT_EQ(vlan::kLearned, 20000);
  EXPECT_EQ(vlan::kLearnedSrc, 100);
  EXPECT_EQ(vlan::kFloodMulticast, 10);
  EXPECT_EQ(vlan::kFloodUnknown, 5);
  EXPECT_EQ(vlan::kLearnMiss, 0);
  EXPECT_EQ(fib::kMiss, 0);
  EXPECT_EQ(fib::route(0), 1000);
  EXPECT_EQ(fib::route(24), 1048);
  EXPECT_EQ(fib::host(24), 1049);
  EXPECT_EQ(fib::route(32), 1064);
  EXPECT_EQ(fib::host(128), 1257);
  EXPECT_EQ(fib::kHighest, 1257);
}

TEST(Pipeline, GroupAndMeterIds) {
  EXPECT_EQ(group::kFloodFirst, 0x74000000u);
  EXPECT_EQ(group::kFloodLast, 0x74001fffu);
  EXPECT_EQ(flood_group_id(10, false), 0x74000014u);
  EXPECT_EQ(flood_group_id(4095, true), group::kFloodLast);
  EXPECT_EQ(Pipeline::standard().fib_groups, (IdRange{1, 0x73ffffff}));
  EXPECT_EQ(punt_meter_id(0), 0x7461u);
  EXPECT_EQ(punt_meter_id(4), 0x7465u);
  EXPECT_EQ(port_nd_meter_id(5, 65536), std::optional<std::uint32_t>(0x7485));
  EXPECT_EQ(port_nd_meter_id(40000, 65536), std::nullopt);  // beyond max_meter
  EXPECT_EQ(port_nd_meter_id(0xffffff00, 0xffffffff), std::nullopt);  // past 0xffffffff
  EXPECT_FALSE(kPuntMeters.overlaps(kPortNdMeters));
}

TEST(Pipeline, VlanTablesPushTheFibBack) {
  Pipeline p;
  p.l2_tables = true;
  EXPECT_EQ(p.first_fib_table(), 3u);
  EXPECT_EQ(p.validate(), "the FIB table must come after table 0 and the L2 tables");
  p.fib_table = 3;
  EXPECT_EQ(p.validate(), "");
  p.l2_table = 5;
  EXPECT_NE(p.validate(), "");
  p.fib_table = 7;
  EXPECT_EQ(p.validate(), "");
  p.fib_table.reset();  // no FIB (routing off): nothing to order
  EXPECT_EQ(p.validate(), "");
  p.l2_table = 0;
  EXPECT_EQ(p.validate(), "the L2 tables must lie between table 0 and table 254");
}

TEST(Pipeline, ValidateCatchesOverlappingGroupRanges) {
  Pipeline p;
  p.fib_groups = IdRange{1, 0xfffffeff};  // the programmer's old default: takes the flood groups
  EXPECT_EQ(p.validate(), "the FIB's group ids overlap tapd's flood groups");
  p.fib_groups = IdRange{group::kFloodLast + 1, group::kMax};  // above them: fine
  EXPECT_EQ(p.validate(), "");
  p.fib_groups = IdRange{0x74001000, 0x74001000};  // one id inside
  EXPECT_NE(p.validate(), "");
  p.fib_groups = IdRange{5, 4};
  EXPECT_NE(p.validate(), "");
  p.fib_groups = IdRange{0, 10};
  EXPECT_NE(p.validate(), "");
}

TEST(Pipeline, OverlappingCookieClasses) {
  EXPECT_EQ(overlapping(kCookieClasses), "");
  EXPECT_EQ(overlapping(kTapdCookieClasses), "");
  EXPECT_EQ(overlapping(kRoutingCookieClasses), "");
  // Another owner with tapd's class, or a wider mask that takes in both.
  constexpr std::array<CookieClass, 3> same{{{"tapd", cookie::kTapd, cookie::kClassMask},
                                             {"routing", cookie::kRouting, cookie::kClassMask},
                                             {"again", 0x7461ff0000000000ULL, cookie::kSubclassMask}}};
  EXPECT_EQ(overlapping(same), "again");
  constexpr std::array<CookieClass, 2> wide{{{"tapd", cookie::kTapd, cookie::kClassMask},
                                             {"wide", 0x7000000000000000ULL, 0xf000000000000000ULL}}};
  EXPECT_EQ(overlapping(wide), "wide");
  // The punt flows' sub-class and the VLAN flows' nibble must stay apart:
  // each has a FlowSync of its own.
  constexpr std::array<CookieClass, 2> vlan{{{"punt", cookie::kPunt, cookie::kSubclassMask},
                                             {"vlan", 0x7461000000000000ULL, cookie::kVlanFlowsMask}}};
  EXPECT_EQ(overlapping(vlan), "vlan");
  EXPECT_TRUE(kCookieClasses[1].owns(cookie::kHost));
  EXPECT_FALSE(kCookieClasses[1].owns(cookie::kLearnedDst | 7));
}

TEST(Pipeline, MisorderedBands) {
  EXPECT_EQ(misordered(kIngressBands), "");
  EXPECT_EQ(misordered(kL2Bands), "");
  EXPECT_EQ(misordered(kEthDstBands), "");
  EXPECT_EQ(misordered(kFibBands), "");
  // The 1.0 FIB above the punts to our own addresses would forward them.
  constexpr std::array<Band, 3> fib_over_local{{{"punt control", 40000, 40000},
                                                {"fib (1.0)", 1000, 40000},
                                                {"punt local", 39000, 39000}}};
  EXPECT_EQ(misordered(fib_over_local), "fib (1.0)");
  constexpr std::array<Band, 2> swapped{{{"vlan flood unknown", 5, 5},
                                         {"vlan flood multicast", 10, 10}}};
  EXPECT_EQ(misordered(swapped), "vlan flood multicast");
  constexpr std::array<Band, 2> equal{{{"a", 100, 100}, {"b", 100, 100}}};
  EXPECT_EQ(misordered(equal), "b");
  constexpr std::array<Band, 1> inverted{{{"inverted", 10, 5}}};
  EXPECT_EQ(misordered(inverted), "inverted");
}

}  // namespace
}  // namespace tapflow::pipeline
