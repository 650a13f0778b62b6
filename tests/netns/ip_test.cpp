#include "tapflow/netns/ip.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace tapflow::netns {
namespace {

IpAddress addr(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

IpPrefix prefix(std::string_view text) {
  auto p = IpPrefix::parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p.value_or(IpPrefix{});
}

TEST(IpAddress, ParsesV4) {
  const auto a = addr("10.1.2.3");
  EXPECT_TRUE(a.is_v4());
  EXPECT_FALSE(a.is_v6());
  EXPECT_EQ(a.family, AF_INET);
  EXPECT_EQ(a.v4_host_order(), 0x0a010203u);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.to_string(), "10.1.2.3");
  // The tail stays zero so == and <=> compare only the address.
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes[i], 0) << i;
  EXPECT_EQ(a, IpAddress::v4(0x0a010203u));
}

TEST(IpAddress, ParsesV6AndPrintsCanonically) {
  const auto a = addr("2001:0db8:0:0::0001");
  EXPECT_TRUE(a.is_v6());
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.bytes[0], 0x20);
  EXPECT_EQ(a.bytes[1], 0x01);
  EXPECT_EQ(a.bytes[15], 0x01);
  EXPECT_EQ(a.to_string(), "2001:db8::1");
  EXPECT_EQ(IpAddress::v6(a.bytes.data()), a);
  EXPECT_EQ(addr("::ffff:10.0.0.1").to_string(), "::ffff:10.0.0.1");
}

TEST(IpAddress, RejectsBadInput) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1 ", " 10.0.0.1", "1.2.3.4.5", "abc",
                          "2001:db8:::1", "2001:db8::g", "10.0.0.1/24", "fe80::1%eth0",
                          "1:2:3:4:5:6:7:8:9", "0000:0000:0000:0000:0000:ffff:255.255.255.255x"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
  // An embedded NUL must not let a prefix of the text pass.
  EXPECT_FALSE(IpAddress::parse(std::string_view("10.0.0.1\0x", 10)).has_value());
}

TEST(IpAddress, LinkLocalAndMulticast) {
  EXPECT_TRUE(addr("169.254.1.1").is_link_local());
  EXPECT_FALSE(addr("169.253.1.1").is_link_local());
  EXPECT_TRUE(addr("fe80::1").is_link_local());
  EXPECT_TRUE(addr("febf::1").is_link_local());
  EXPECT_FALSE(addr("fec0::1").is_link_local());
  EXPECT_FALSE(addr("10.0.0.1").is_link_local());

  EXPECT_TRUE(addr("224.0.0.5").is_multicast());
  EXPECT_TRUE(addr("239.255.255.255").is_multicast());
  EXPECT_FALSE(addr("240.0.0.1").is_multicast());
  EXPECT_FALSE(addr("223.255.255.255").is_multicast());
  EXPECT_TRUE(addr("ff02::5").is_multicast());
  EXPECT_FALSE(addr("fe80::5").is_multicast());
  EXPECT_FALSE(IpAddress{}.is_multicast());
  EXPECT_FALSE(IpAddress{}.is_link_local());
}

TEST(IpAddress, OrdersV4BeforeV6AndByBytes) {
  EXPECT_LT(addr("10.0.0.1"), addr("10.0.0.2"));
  EXPECT_LT(addr("255.255.255.255"), addr("::"));
}

TEST(IpPrefix, ParsesWithAndWithoutLength) {
  const auto p = prefix("10.0.1.1/24");
  EXPECT_EQ(p.addr, addr("10.0.1.1"));
  EXPECT_EQ(p.len, 24);
  EXPECT_EQ(p.to_string(), "10.0.1.1/24");
  EXPECT_EQ(prefix("10.0.1.1").len, 32);
  EXPECT_EQ(prefix("2001:db8::1").len, 128);
  EXPECT_EQ(prefix("2001:db8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(prefix("0.0.0.0/0").len, 0);
  EXPECT_EQ(prefix("::/0").to_string(), "::/0");
}

TEST(IpPrefix, RejectsBadInput) {
  for (const char* bad :
       {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/24x", "10.0.0.0/ 24",
        "10.0.0.0/+8", "/24", "x/24", "10.0.0.0/0024", "10.0.0.0/24/8", "10.0.0.0/99999999999"}) {
    EXPECT_FALSE(IpPrefix::parse(bad).has_value()) << bad;
  }
}

TEST(IpPrefix, NetworkClearsHostBits) {
  EXPECT_EQ(prefix("10.0.1.77/24").network().to_string(), "10.0.1.0/24");
  EXPECT_EQ(prefix("10.0.1.77/20").network().to_string(), "10.0.0.0/20");
  EXPECT_EQ(prefix("10.255.1.77/9").network().to_string(), "10.128.0.0/9");
  EXPECT_EQ(prefix("10.0.1.77/32").network().to_string(), "10.0.1.77/32");
  EXPECT_EQ(prefix("10.0.1.77/0").network().to_string(), "0.0.0.0/0");
  EXPECT_EQ(prefix("2001:db8:ffff::1/33").network().to_string(), "2001:db8:8000::/33");
  EXPECT_EQ(prefix("fe80::1:2/64").network().to_string(), "fe80::/64");
}

TEST(IpPrefix, Contains) {
  const auto p = prefix("10.0.0.0/8");
  EXPECT_TRUE(p.contains(addr("10.255.0.1")));
  EXPECT_FALSE(p.contains(addr("11.0.0.1")));
  // A host address with its length: the containing network is what counts.
  EXPECT_TRUE(prefix("192.168.1.1/24").contains(addr("192.168.1.200")));
  EXPECT_FALSE(prefix("192.168.1.1/24").contains(addr("192.168.2.1")));
  EXPECT_TRUE(prefix("0.0.0.0/0").contains(addr("1.2.3.4")));
  // Families never mix, not even for the default route.
  EXPECT_FALSE(prefix("0.0.0.0/0").contains(addr("::1")));
  EXPECT_FALSE(prefix("::/0").contains(addr("10.0.0.1")));
  EXPECT_TRUE(prefix("2001:db8::/32").contains(addr("2001:db8:1::5")));
  EXPECT_FALSE(prefix("2001:db8::/32").contains(addr("2001:db9::5")));
  EXPECT_TRUE(prefix("10.0.0.1/32").contains(addr("10.0.0.1")));
  EXPECT_FALSE(prefix("10.0.0.1/32").contains(addr("10.0.0.2")));
}

}  // namespace
}  // namespace tapflow::netns
