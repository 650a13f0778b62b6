// TapDevice against the real kernel (root): creation inside a namespace,
// carrier, frames both ways, persistence across close/reopen, destroy.
#include "tapflow/tapd/tap_device.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "tapflow/netns/link_control.hpp"
#include "../netns/namespace_guard.hpp"

namespace tapflow::tapd {
namespace {

using netns::IpPrefix;
using netns::LinkControl;
using netns::NetNamespace;

constexpr unsigned kLowerUp = 0x10000;  // IFF_LOWER_UP (linux/if.h)

using netns::test_support::NamespaceGuard;

class TapDeviceTest : public ::testing::Test {
 protected:
  NamespaceGuard guard{"tfh1-" + std::to_string(::getpid()) + "-tap"};
  NetNamespace ns = NetNamespace::open_or_create(guard.name);
  LinkControl lc{ns};
  std::string name = "tfh1t" + std::to_string(::getpid());
};

bool lower_up(LinkControl& lc, int ifindex) {
  return (lc.link(ifindex).value().flags & kLowerUp) != 0;
}

// An ARP request "who has `target`? tell `sender_ip`" from `sender_mac`.
std::vector<std::uint8_t> arp_request(const std::array<std::uint8_t, 6>& sender_mac,
                                      const std::array<std::uint8_t, 4>& sender_ip,
                                      const std::array<std::uint8_t, 4>& target) {
  std::vector<std::uint8_t> f;
  f.insert(f.end(), 6, 0xff);                               // eth dst: broadcast
  f.insert(f.end(), sender_mac.begin(), sender_mac.end());  // eth src
  f.insert(f.end(), {0x08, 0x06});                          // ethertype ARP
  f.insert(f.end(), {0x00, 0x01, 0x08, 0x00, 6, 4});        // Ethernet/IPv4, sizes
  f.insert(f.end(), {0x00, 0x01});                          // opcode: request
  f.insert(f.end(), sender_mac.begin(), sender_mac.end());  // sender MAC
  f.insert(f.end(), sender_ip.begin(), sender_ip.end());    // sender IP
  f.insert(f.end(), 6, 0x00);                               // target MAC: unknown
  f.insert(f.end(), target.begin(), target.end());          // target IP
  f.resize(60, 0);                                          // minimum frame
  return f;
}

// Reads frames until one is an ARP reply, or `timeout` passes.
std::vector<std::uint8_t> read_arp_reply(TapDevice& tap, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<std::uint8_t, 2048> buf{};
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{tap.fd(), POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 1))) <= 0) continue;
    const ssize_t n = tap.read(buf);
    if (n <= 0) continue;
    // Skip the IPv6 ND/MLD chatter a link that just came up sends.
    if (n >= 42 && buf[12] == 0x08 && buf[13] == 0x06 && buf[20] == 0x00 && buf[21] == 0x02) {
      return {buf.begin(), buf.begin() + n};
    }
  }
  return {};
}

TEST_F(TapDeviceTest, CreatesATapInsideTheNamespace) {
  auto tap = TapDevice::open(ns, name, false);
  EXPECT_TRUE(tap.is_open());
  EXPECT_EQ(tap.name(), name);
  EXPECT_GT(tap.ifindex(), 0);
  EXPECT_EQ(lc.ifindex(name), tap.ifindex());
  EXPECT_EQ(lc.link(tap.ifindex())->kind, "tun");
  // Not in the host namespace, and the calling thread is back home.
  EXPECT_EQ(::if_nametoindex(name.c_str()), 0u);

  const auto mac = openflow::MacAddress::parse("02:00:5e:10:00:01").value();
  lc.set_mac(tap.ifindex(), mac);
  lc.set_mtu(tap.ifindex(), 1600);
  EXPECT_EQ(lc.link(tap.ifindex())->mac, mac);
  EXPECT_EQ(lc.link(tap.ifindex())->mtu, 1600u);
}

TEST_F(TapDeviceTest, CarrierFollowsSetCarrier) {
  auto tap = TapDevice::open(ns, name, false);
  lc.set_up(tap.ifindex(), true);
  EXPECT_TRUE(lower_up(lc, tap.ifindex()));
  tap.set_carrier(false);
  EXPECT_FALSE(lower_up(lc, tap.ifindex()));
  tap.set_carrier(true);
  EXPECT_TRUE(lower_up(lc, tap.ifindex()));
}

TEST_F(TapDeviceTest, KernelAnswersAnArpRequestWrittenIntoTheTap) {
  auto tap = TapDevice::open(ns, name, false);
  const auto tap_mac = openflow::MacAddress::parse("02:00:5e:10:00:01").value();
  lc.set_mac(tap.ifindex(), tap_mac);
  lc.add_address(tap.ifindex(), IpPrefix::parse("10.99.0.1/24").value());
  lc.set_up(tap.ifindex(), true);

  // Nothing queued yet beyond link chatter; reading never blocks.
  std::array<std::uint8_t, 2048> scratch{};
  while (tap.read(scratch) > 0) {
  }
  EXPECT_EQ(tap.read(scratch), 0);

  const std::array<std::uint8_t, 6> peer_mac{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02};
  ASSERT_EQ(tap.write(arp_request(peer_mac, {10, 99, 0, 2}, {10, 99, 0, 1})), 0);
  const auto reply = read_arp_reply(tap, std::chrono::seconds(3));
  ASSERT_FALSE(reply.empty()) << "no ARP reply from the kernel";
  EXPECT_TRUE(std::equal(peer_mac.begin(), peer_mac.end(), reply.begin()));  // eth dst
  EXPECT_TRUE(std::equal(tap_mac.octets.begin(), tap_mac.octets.end(), reply.begin() + 6));
  EXPECT_TRUE(std::equal(tap_mac.octets.begin(), tap_mac.octets.end(), reply.begin() + 22));
  const std::array<std::uint8_t, 4> sender_ip{10, 99, 0, 1};
  EXPECT_TRUE(std::equal(sender_ip.begin(), sender_ip.end(), reply.begin() + 28));
  const std::array<std::uint8_t, 4> target_ip{10, 99, 0, 2};
  EXPECT_TRUE(std::equal(target_ip.begin(), target_ip.end(), reply.begin() + 38));
}

TEST_F(TapDeviceTest, PersistentTapKeepsIfindexAndAddressesAcrossReopen) {
  auto tap = TapDevice::open(ns, name);  // persistent by default
  const int idx = tap.ifindex();
  const auto addr = IpPrefix::parse("10.98.0.1/24").value();
  lc.add_address(idx, addr);
  lc.set_up(idx, true);
  tap.close();
  EXPECT_FALSE(tap.is_open());

  // Still there, without carrier, addresses intact.
  ASSERT_EQ(lc.ifindex(name), idx);
  EXPECT_FALSE(lower_up(lc, idx));
  auto addrs = lc.addresses(idx);
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), addr), addrs.end());

  auto again = TapDevice::open(ns, name);
  EXPECT_EQ(again.ifindex(), idx);
  EXPECT_TRUE(lower_up(lc, idx));
  addrs = lc.addresses(idx);
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), addr), addrs.end());

  again.destroy();
  EXPECT_FALSE(again.is_open());
  EXPECT_EQ(lc.ifindex(name), std::nullopt);
}

TEST_F(TapDeviceTest, NonPersistentTapGoesAwayOnClose) {
  {
    auto tap = TapDevice::open(ns, name, false);
    EXPECT_TRUE(lc.ifindex(name).has_value());
  }
  EXPECT_EQ(lc.ifindex(name), std::nullopt);
}

TEST_F(TapDeviceTest, MovedTapOwnsTheDescriptor) {
  auto tap = TapDevice::open(ns, name, false);
  const int fd = tap.fd();
  TapDevice moved = std::move(tap);
  EXPECT_FALSE(tap.is_open());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(moved.fd(), fd);
  TapDevice assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.fd(), fd);
  EXPECT_EQ(assigned.name(), name);
  EXPECT_TRUE(lc.ifindex(name).has_value());
}

TEST_F(TapDeviceTest, RefusesBusyForeignAndBadNames) {
  auto tap = TapDevice::open(ns, name);
  try {
    TapDevice::open(ns, name);
    ADD_FAILURE() << "a TAP held by someone else was opened twice";
  } catch (const netns::Error& e) {
    EXPECT_EQ(e.error(), EBUSY);
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }

  // Every namespace has a loopback device, which is no TAP.
  try {
    TapDevice::open(ns, "lo");
    ADD_FAILURE() << "the loopback device was taken for a TAP";
  } catch (const netns::Error& e) {
    EXPECT_EQ(e.error(), EINVAL);
  }

  for (const std::string& bad : {std::string(""), std::string(16, 'a'), std::string("tap%d")}) {
    try {
      TapDevice::open(ns, bad);
      ADD_FAILURE() << "accepted name '" << bad << "'";
    } catch (const netns::Error& e) {
      EXPECT_EQ(e.error(), EINVAL) << bad;
    }
  }
  tap.destroy();
}

// Issue 14: a descriptor kept elsewhere (the fd store) across a restart is
// taken over as it is: same device, carrier never dropped, while TUNSETIFF
// on the name is refused as long as that descriptor exists.
TEST_F(TapDeviceTest, AdoptsAKeptDescriptorWithoutDroppingCarrier) {
  auto tap = TapDevice::open(ns, name);
  const int idx = tap.ifindex();
  lc.set_up(idx, true);
  tap.set_carrier(true);
  netns::UniqueFd kept(::dup(tap.fd()));
  tap.close();  // tapflowd gone; the store's dup holds the device
  EXPECT_TRUE(lower_up(lc, idx));
  EXPECT_THROW(TapDevice::open(ns, name), netns::Error);  // EBUSY: why we adopt

  auto again = TapDevice::adopt(ns, name, std::move(kept));
  EXPECT_EQ(again.ifindex(), idx);
  EXPECT_EQ(again.name(), name);
  EXPECT_TRUE(lower_up(lc, idx));
  again.set_carrier(false);
  EXPECT_FALSE(lower_up(lc, idx));
  again.destroy();
}

TEST_F(TapDeviceTest, AdoptRefusesAnotherNameAndADeadDevice) {
  auto tap = TapDevice::open(ns, name);
  EXPECT_THROW(TapDevice::adopt(ns, name + "x", netns::UniqueFd(::dup(tap.fd()))), netns::Error);
  netns::UniqueFd kept(::dup(tap.fd()));
  lc.del_link(tap.ifindex());  // deleted while held: the descriptor answers EBADFD
  try {
    TapDevice::adopt(ns, name, std::move(kept));
    ADD_FAILURE() << "adopted a deleted device";
  } catch (const netns::Error& e) {
    EXPECT_EQ(e.error(), EBADFD) << e.what();
  }
}

}  // namespace
}  // namespace tapflow::tapd
