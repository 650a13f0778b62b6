#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tapflow/tapd/tap_device.hpp"

namespace tapflow::tapd {
namespace {

const auto kNothingTaken = [](const std::string&) { return false; };

std::string name_for(std::string_view port, std::uint32_t no = 7) {
  return interface_name_for_port(port, no, kNothingTaken);
}

TEST(InterfaceName, KeepsUsableNames) {
  EXPECT_EQ(name_for("s1-eth1"), "s1-eth1");
  EXPECT_EQ(name_for("eth0.100"), "eth0.100");
  EXPECT_EQ(name_for("Port_7"), "Port_7");
  EXPECT_EQ(name_for("123456789012345"), "123456789012345");  // exactly 15
}

TEST(InterfaceName, TruncatesTo15Bytes) {
  EXPECT_EQ(name_for("GigabitEthernet0/0/1"), "GigabitEthernet");
  EXPECT_EQ(name_for("1234567890123456"), "123456789012345");
  EXPECT_EQ(name_for(std::string(300, 'a')).size(), 15u);
}

TEST(InterfaceName, ReplacesCharactersLinuxOrToolsRefuse) {
  EXPECT_EQ(name_for("Ethernet1/1"), "Ethernet1-1");
  EXPECT_EQ(name_for("ge:0:1"), "ge-0-1");
  EXPECT_EQ(name_for("port 1"), "port_1");
  EXPECT_EQ(name_for("a\tb\nc"), "a_b_c");
  EXPECT_EQ(name_for("eth%d"), "eth_d");  // TUNSETIFF would expand %d
  EXPECT_EQ(name_for("v@x"), "v_x");
  EXPECT_EQ(name_for(std::string_view("a\0b", 3)), "a_b");
  EXPECT_EQ(name_for("p\xc3\xa9"), "p__");  // a UTF-8 'é' is two bytes, each replaced
  // Every result is a name the kernel accepts.
  for (const std::string port : {"x/y:z w", "\x01\x02q", "////a", "a.b-c_d"}) {
    const std::string n = name_for(port);
    EXPECT_LE(n.size(), 15u);
    EXPECT_EQ(n.find_first_of("/: \t\n\r\v\f%@"), std::string::npos) << n;
  }
}

TEST(InterfaceName, UnusableNamesBecomePortNumber) {
  EXPECT_EQ(name_for("", 3), "port3");
  EXPECT_EQ(name_for(".", 4), "port4");
  EXPECT_EQ(name_for("..", 5), "port5");
  EXPECT_EQ(name_for("   ", 6), "port6");
  EXPECT_EQ(name_for("///", 65534), "port65534");
  EXPECT_EQ(name_for("", 4294967295u), "port4294967295");  // 14 bytes: still fits
  EXPECT_EQ(name_for("x", 1), "x");                        // one letter is a name
}

TEST(InterfaceName, CollisionsGetASuffixWithin15Bytes) {
  std::set<std::string> taken{"s1-eth1"};
  auto is_taken = [&](const std::string& n) { return taken.count(n) != 0; };
  EXPECT_EQ(interface_name_for_port("s1-eth1", 1, is_taken), "s1-eth1_2");
  taken.insert("s1-eth1_2");
  EXPECT_EQ(interface_name_for_port("s1-eth1", 1, is_taken), "s1-eth1_3");

  // A 15-byte name loses its tail to the suffix, never exceeding 15.
  taken = {"GigabitEthernet"};
  EXPECT_EQ(interface_name_for_port("GigabitEthernet0/1", 1, is_taken), "GigabitEthern_2");
  for (int i = 2; i < 10; ++i) taken.insert("GigabitEthern_" + std::to_string(i));
  EXPECT_EQ(interface_name_for_port("GigabitEthernet0/1", 1, is_taken), "GigabitEther_10");

  // The fallback name collides too.
  taken = {"port9"};
  EXPECT_EQ(interface_name_for_port("", 9, is_taken), "port9_2");
}

TEST(InterfaceName, DistinctPortsGetDistinctNames) {
  // Ports whose names differ only after byte 15 still end up distinct when
  // the caller records what it hands out.
  std::set<std::string> given;
  auto is_taken = [&](const std::string& n) { return given.count(n) != 0; };
  for (std::uint32_t p = 1; p <= 30; ++p) {
    const auto n =
        interface_name_for_port("TenGigabitEthernet1/0/" + std::to_string(p), p, is_taken);
    EXPECT_LE(n.size(), 15u);
    EXPECT_TRUE(given.insert(n).second) << n;
  }
  EXPECT_EQ(given.size(), 30u);
}

}  // namespace
}  // namespace tapflow::tapd
