// LinkControl: synchronous rtnetlink requests (libnl-route) on the links and
// addresses of one network namespace. Each call is one request and its ACK on a
// local socket, microseconds; nothing here waits on anything but the kernel.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapflow/netns/ip.hpp"
#include "tapflow/netns/namespace.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::netns {

struct LinkSummary {
  int ifindex = 0;
  std::string name;
  std::string kind;   // "tun", "veth", "vlan", ... ("" if none)
  std::string alias;  // IFLA_IFALIAS
  openflow::MacAddress mac;
  unsigned mtu = 0;
  unsigned flags = 0;  // IFF_*
  int parent_ifindex = 0;      // IFLA_LINK (a VLAN's parent), 0 if none
  std::uint16_t vlan_id = 0;   // for kind "vlan"
};

class LinkControl {
 public:
  // Opens a NETLINK_ROUTE socket inside `ns` (it stays bound to `ns`).
  explicit LinkControl(const NetNamespace& ns);
  ~LinkControl();
  LinkControl(const LinkControl&) = delete;
  LinkControl& operator=(const LinkControl&) = delete;

  // All calls throw Error naming the operation, the interface and strerror.
  std::optional<int> ifindex(const std::string& name);
  std::vector<LinkSummary> links();
  std::optional<LinkSummary> link(int ifindex);
  // set_up/set_mtu/set_mac do nothing when the link already has that value:
  // the kernel flushes every neighbour of a link (static ones too) on any MAC
  // write or on going down, even a rewrite of the same value.
  void set_up(int ifindex, bool up);
  void set_mtu(int ifindex, unsigned mtu);
  void set_mac(int ifindex, const openflow::MacAddress& mac);
  void set_alias(int ifindex, const std::string& alias);
  void add_address(int ifindex, const IpPrefix& prefix);  // already there: no error
  void del_address(int ifindex, const IpPrefix& prefix);  // not there: no error
  std::vector<IpPrefix> addresses(int ifindex);
  // An 802.1Q interface `name` with id `vid` on `parent_ifindex`; returns its ifindex.
  int add_vlan(int parent_ifindex, const std::string& name, std::uint16_t vid);
  void del_link(int ifindex);  // gone already: no error

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapflow::netns
