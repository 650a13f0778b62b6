// LinkControl against the real kernel (root), in a throwaway namespace with a
// TAP to work on.
#include "tapflow/netns/link_control.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "tapflow/tapd/tap_device.hpp"
#include "namespace_guard.hpp"

namespace tapflow::netns {
namespace {

constexpr unsigned kLowerUp = 0x10000;  // IFF_LOWER_UP (linux/if.h)

using test_support::NamespaceGuard;
using test_support::unique_name;

IpPrefix prefix(std::string_view text) { return IpPrefix::parse(text).value(); }

bool has_address(LinkControl& lc, int ifindex, const IpPrefix& p) {
  const auto all = lc.addresses(ifindex);
  return std::find(all.begin(), all.end(), p) != all.end();
}

class LinkControlTest : public ::testing::Test {
 protected:
  NamespaceGuard guard{unique_name("lc")};
  NetNamespace ns = NetNamespace::open_or_create(guard.name);
  std::string tap_name = "tfh1l" + std::to_string(::getpid());
  tapd::TapDevice tap = tapd::TapDevice::open(ns, tap_name, false);
  LinkControl lc{ns};
};

TEST(LinkControl, FreshNamespaceHasOnlyLoopback) {
  NamespaceGuard guard(unique_name("lo"));
  auto ns = NetNamespace::open_or_create(guard.name);
  LinkControl lc(ns);
  const auto links = lc.links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_EQ(lc.ifindex("lo"), links[0].ifindex);
  EXPECT_EQ(lc.ifindex("eth0"), std::nullopt);
  EXPECT_EQ(lc.link(12345), std::nullopt);
  // The host's interfaces are not visible through it.
  EXPECT_EQ(::if_nametoindex("lo"), 1u);
}

TEST_F(LinkControlTest, SeesTheTap) {
  EXPECT_EQ(lc.ifindex(tap_name), tap.ifindex());
  const auto l = lc.link(tap.ifindex());
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->name, tap_name);
  EXPECT_EQ(l->kind, "tun");
  EXPECT_EQ(l->parent_ifindex, 0);
  EXPECT_EQ(l->vlan_id, 0);
  const auto links = lc.links();
  EXPECT_EQ(links.size(), 2u);  // lo and the TAP
  EXPECT_TRUE(std::any_of(links.begin(), links.end(), [&](const LinkSummary& s) {
    return s.ifindex == tap.ifindex() && s.kind == "tun";
  }));
}

TEST_F(LinkControlTest, SetsUpMtuMacAlias) {
  const int idx = tap.ifindex();
  lc.set_up(idx, true);
  EXPECT_NE(lc.link(idx)->flags & IFF_UP, 0u);
  EXPECT_NE(lc.link(idx)->flags & kLowerUp, 0u);  // a held-open TAP has carrier
  lc.set_up(idx, false);
  EXPECT_EQ(lc.link(idx)->flags & IFF_UP, 0u);

  lc.set_mtu(idx, 1400);
  EXPECT_EQ(lc.link(idx)->mtu, 1400u);
  lc.set_mtu(idx, 9000);
  EXPECT_EQ(lc.link(idx)->mtu, 9000u);

  const auto mac = openflow::MacAddress::parse("02:aa:bb:cc:dd:01").value();
  lc.set_mac(idx, mac);
  EXPECT_EQ(lc.link(idx)->mac, mac);

  lc.set_alias(idx, "switch 0x1 port 3");
  EXPECT_EQ(lc.link(idx)->alias, "switch 0x1 port 3");
  lc.set_alias(idx, "");
  EXPECT_EQ(lc.link(idx)->alias, "");

  // Other flags were left alone by the up/down changes.
  lc.set_up(idx, true);
  EXPECT_EQ(lc.link(idx)->mtu, 9000u);
  EXPECT_EQ(lc.link(idx)->mac, mac);
}

// The kernel flushes a link's neighbours, permanent ones included, on any
// MAC write or admin down. Re-applying the settings a link already has (what
// a restarted tapflowd does to the TAPs it takes back) must keep them.
TEST_F(LinkControlTest, ReapplyingTheSameSettingsKeepsTheNeighbours) {
  const int idx = tap.ifindex();
  const auto mac = openflow::MacAddress::parse("02:aa:bb:cc:dd:02").value();
  lc.set_mac(idx, mac);
  lc.set_mtu(idx, 1500);
  lc.set_up(idx, true);
  lc.add_address(idx, prefix("10.78.0.1/24"));
  const std::string in_ns = "ip netns exec " + guard.name + " ";
  ASSERT_EQ(std::system((in_ns + "ip neigh replace 10.78.0.9 lladdr 02:00:00:00:00:09 dev " +
                         tap_name + " nud permanent").c_str()),
            0);
  const std::string has_neigh =
      in_ns + "ip neigh show 10.78.0.9 dev " + tap_name + " | grep -q PERMANENT";
  ASSERT_EQ(std::system(has_neigh.c_str()), 0);
  lc.set_mac(idx, mac);
  lc.set_mtu(idx, 1500);
  lc.set_up(idx, true);
  EXPECT_EQ(std::system(has_neigh.c_str()), 0) << "a same-value write flushed the neighbours";
  // A real change still happens (and the kernel flushes, as it must).
  const auto other = openflow::MacAddress::parse("02:aa:bb:cc:dd:03").value();
  lc.set_mac(idx, other);
  EXPECT_EQ(lc.link(idx)->mac, other);
  EXPECT_NE(std::system(has_neigh.c_str()), 0);
}

TEST_F(LinkControlTest, AddressesAreIdempotent) {
  const int idx = tap.ifindex();
  const auto v4 = prefix("10.77.0.1/24");
  const auto v6 = prefix("2001:db8:77::1/64");
  EXPECT_FALSE(has_address(lc, idx, v4));
  lc.add_address(idx, v4);
  EXPECT_NO_THROW(lc.add_address(idx, v4));
  lc.add_address(idx, v6);
  EXPECT_TRUE(has_address(lc, idx, v4));
  EXPECT_TRUE(has_address(lc, idx, v6));
  // Only this interface's addresses (lo's are not listed).
  for (const auto& p : lc.addresses(idx)) EXPECT_NE(p.addr.to_string(), "127.0.0.1");

  lc.del_address(idx, v4);
  EXPECT_FALSE(has_address(lc, idx, v4));
  EXPECT_NO_THROW(lc.del_address(idx, v4));
  lc.del_address(idx, v6);
  EXPECT_NO_THROW(lc.del_address(idx, v6));
  EXPECT_FALSE(has_address(lc, idx, v6));
}

TEST_F(LinkControlTest, VlanOnTap) {
  const std::string vname = "tfh1v" + std::to_string(::getpid());
  // Kernels built without CONFIG_VLAN_8021Q (the CI machines' among them)
  // cannot make VLAN interfaces at all: then the error must say so plainly.
  int vidx = 0;
  try {
    vidx = lc.add_vlan(tap.ifindex(), vname, 100);
  } catch (const Error& e) {
    ASSERT_EQ(e.error(), EOPNOTSUPP) << e.what();
    EXPECT_NE(std::string(e.what()).find("8021Q"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(vname), std::string::npos) << e.what();
    return;
  }
  EXPECT_EQ(lc.ifindex(vname), vidx);
  const auto v = lc.link(vidx);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, "vlan");
  EXPECT_EQ(v->vlan_id, 100);
  EXPECT_EQ(v->parent_ifindex, tap.ifindex());

  // Asking again for the same VLAN finds it; a different one under that name is refused.
  EXPECT_EQ(lc.add_vlan(tap.ifindex(), vname, 100), vidx);
  try {
    lc.add_vlan(tap.ifindex(), vname, 200);
    ADD_FAILURE() << "a second VLAN under the same name was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.error(), EEXIST);
  }

  // Addresses on the VLAN interface work like anywhere else.
  lc.add_address(vidx, prefix("10.100.0.1/24"));
  EXPECT_TRUE(has_address(lc, vidx, prefix("10.100.0.1/24")));

  lc.del_link(vidx);
  EXPECT_EQ(lc.ifindex(vname), std::nullopt);
  EXPECT_NO_THROW(lc.del_link(vidx));
}

TEST_F(LinkControlTest, ErrorsNameOperationInterfaceAndCause) {
  try {
    lc.set_mtu(tap.ifindex(), 100000);
    ADD_FAILURE() << "MTU 100000 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.error(), EINVAL);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("setting MTU 100000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + tap_name + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Invalid argument"), std::string::npos) << msg;
  }
  try {
    lc.set_up(987654, true);
    ADD_FAILURE() << "a missing link was set up";
  } catch (const Error& e) {
    EXPECT_EQ(e.error(), ENODEV);
    EXPECT_NE(std::string(e.what()).find("ifindex 987654"), std::string::npos) << e.what();
  }
  try {
    lc.add_vlan(987654, "tfh1x", 5);
    ADD_FAILURE() << "a VLAN on a missing parent was created";
  } catch (const Error& e) {
    EXPECT_NE(e.error(), 0);
  }
}

TEST_F(LinkControlTest, SocketStaysInItsNamespace) {
  // A link made in the host namespace under the same name is not what we see.
  EXPECT_EQ(::if_nametoindex(tap_name.c_str()), 0u);
  EXPECT_TRUE(lc.ifindex(tap_name).has_value());
}

}  // namespace
}  // namespace tapflow::netns
