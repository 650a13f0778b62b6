// The kernel-state model: one namespace's links, addresses, neighbours,
// nexthop objects and routes, and what a batch of netlink events changed.
// Plain data (no Asio, no libnl): the NetlinkWatcher fills it, the FIB
// compiler reads it, tests build it by hand.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "tapflow/netns/ip.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::netns {

struct Link {
  int ifindex = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "tun", "vlan", "veth", ... ("" if none)
  std::string alias;
  openflow::MacAddress mac;
  unsigned mtu = 0;
  unsigned flags = 0;           // IFF_* (IFF_UP, IFF_LOWER_UP, ...)
  std::uint8_t operstate = 0;   // IF_OPER_*
  int parent_ifindex = 0;       // IFLA_LINK when it differs from ifindex (VLAN parent)
  std::uint16_t vlan_id = 0;    // kind "vlan" only
  friend bool operator==(const Link&, const Link&) = default;
};

struct Address {
  int ifindex = 0;
  IpPrefix prefix;  // the local address and its prefix length
  std::uint8_t scope = 0;
  std::uint32_t flags = 0;  // IFA_F_* (tentative, deprecated, ...)
  friend bool operator==(const Address&, const Address&) = default;
};
using AddressKey = std::tuple<int, IpPrefix>;  // (ifindex, prefix)

struct Neighbour {
  int ifindex = 0;
  IpAddress ip;
  std::optional<openflow::MacAddress> mac;  // absent while unresolved
  std::uint16_t state = 0;                  // NUD_*
  std::uint8_t flags = 0;                   // NTF_*
  friend bool operator==(const Neighbour&, const Neighbour&) = default;
};
using NeighbourKey = std::tuple<int, IpAddress>;  // (ifindex, ip)

struct NextHop {
  int ifindex = 0;
  std::optional<IpAddress> gateway;  // none: directly connected
  std::uint8_t weight = 1;           // rtnh_hops + 1 (256 is kept as 255)
  std::uint8_t flags = 0;            // RTNH_F_* (DEAD, LINKDOWN, ONLINK, ...)
  friend bool operator==(const NextHop&, const NextHop&) = default;
};

// A nexthop object (RTM_NEWNEXTHOP, as FRR installs them): one next hop, or a
// group of other objects' ids with weights.
struct NexthopObject {
  std::uint32_t id = 0;
  std::optional<NextHop> nexthop;
  std::vector<std::pair<std::uint32_t, std::uint8_t>> group;  // (id, weight)
  bool blackhole = false;
  friend bool operator==(const NexthopObject&, const NexthopObject&) = default;
};

// A route's next hops, vector-like. One next hop (nearly every route of a full
// table) is kept inline instead of in a heap block of its own: that block was a
// sixth of tapflowd's memory per route at 1M routes.
class NextHopList {
 public:
  using value_type = NextHop;
  using iterator = NextHop*;
  using const_iterator = const NextHop*;

  NextHopList() = default;
  NextHopList(std::initializer_list<NextHop> nhs) : NextHopList(std::vector<NextHop>(nhs)) {}
  NextHopList(std::vector<NextHop> nhs) {  // implicit: assigning a vector stays natural
    if (nhs.size() == 1)
      v_.emplace<NextHop>(nhs[0]);
    else
      v_.emplace<std::vector<NextHop>>(std::move(nhs));
  }

  std::size_t size() const { return one() ? 1 : many().size(); }
  bool empty() const { return size() == 0; }
  NextHop* data() { return one() ? &std::get<NextHop>(v_) : std::get<std::vector<NextHop>>(v_).data(); }
  const NextHop* data() const { return one() ? &std::get<NextHop>(v_) : many().data(); }
  iterator begin() { return data(); }
  iterator end() { return data() + size(); }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size(); }
  // (No pointer arithmetic on the inline one: GCC's -Warray-bounds sees i > 0.)
  NextHop& operator[](std::size_t i) {
    return one() ? std::get<NextHop>(v_) : std::get<std::vector<NextHop>>(v_)[i];
  }
  const NextHop& operator[](std::size_t i) const { return one() ? std::get<NextHop>(v_) : many()[i]; }
  std::vector<NextHop> to_vector() const { return {begin(), end()}; }

  void push_back(const NextHop& nh) {
    if (one()) {
      v_.emplace<std::vector<NextHop>>(std::vector<NextHop>{std::get<NextHop>(v_), nh});
    } else if (many().empty()) {
      v_.emplace<NextHop>(nh);
    } else {
      std::get<std::vector<NextHop>>(v_).push_back(nh);
    }
  }
  void clear() { v_.emplace<std::vector<NextHop>>(); }
  // Removes the next hops `pred` holds for; returns how many.
  template <typename Pred>
  std::size_t erase_if(Pred pred) {
    std::vector<NextHop> kept;
    for (const NextHop& nh : *this)
      if (!pred(nh)) kept.push_back(nh);
    const std::size_t removed = size() - kept.size();
    if (removed != 0) *this = NextHopList(std::move(kept));
    return removed;
  }

  friend bool operator==(const NextHopList& a, const NextHopList& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  bool one() const { return std::holds_alternative<NextHop>(v_); }
  const std::vector<NextHop>& many() const { return std::get<std::vector<NextHop>>(v_); }
  // Invariant: the NextHop alternative exactly when there is one next hop.
  std::variant<std::vector<NextHop>, NextHop> v_;
};

struct Route {
  std::uint32_t table = 0;  // RT_TABLE_MAIN = 254, local = 255
  IpPrefix dst;
  std::uint8_t tos = 0;
  std::uint32_t priority = 0;  // metric
  std::uint8_t protocol = 0;   // RTPROT_* (kernel, boot, static, bird = 12, ospf = 188, bgp = 186, ...)
  std::uint8_t scope = 0;
  std::uint8_t type = 0;       // RTN_UNICAST, RTN_LOCAL, RTN_BLACKHOLE, ...
  std::uint32_t flags = 0;     // RTM_F_* / RTNH_F_* of the route
  std::uint32_t nexthop_id = 0;  // RTA_NH_ID (then `nexthops` is empty)
  NextHopList nexthops;          // from RTA_OIF/RTA_GATEWAY or RTA_MULTIPATH (last: no padding)
  friend bool operator==(const Route&, const Route&) = default;
};
using RouteKey = std::tuple<std::uint32_t, std::uint8_t, IpPrefix, std::uint8_t, std::uint32_t>;
// (table, family, dst, tos, priority)
RouteKey key_of(const Route& r);

// Orders routes by their key, and compares a route with a RouteKey, so a set
// of routes is looked up by key without storing the key a second time.
struct RouteLess {
  using is_transparent = void;
  // The key's parts, by reference: key_of() copies them into a RouteKey.
  static auto tie(const Route& r) { return std::tie(r.table, r.dst.addr.family, r.dst, r.tos, r.priority); }
  bool operator()(const Route& a, const Route& b) const { return tie(a) < tie(b); }
  bool operator()(const Route& a, const RouteKey& b) const { return tie(a) < b; }
  bool operator()(const RouteKey& a, const Route& b) const { return a < tie(b); }
};

// The routes by key (find/lower_bound take a RouteKey). A set, not a map from
// RouteKey: the key lives in the route, and at 1M routes the copy cost 32 B
// each. Elements are const; change one with put() or extract()/insert().
class RouteTable : public std::set<Route, RouteLess> {
 public:
  using std::set<Route, RouteLess>::set;
  using std::set<Route, RouteLess>::erase;
  std::size_t erase(const RouteKey& k) {
    auto it = find(k);
    if (it == end()) return 0;
    erase(it);
    return 1;
  }
  // Inserts `r`, or replaces the route with its key (reusing its node).
  iterator put(Route r) {
    auto at = lower_bound(r);
    return put(at, std::move(r));
  }
  // The same with `at` = lower_bound(key_of(r)) already known (one search).
  iterator put(iterator at, Route r) {
    if (at == end() || key_comp()(r, *at)) return insert(at, std::move(r));
    auto hint = std::next(at);
    auto node = extract(at);
    node.value() = std::move(r);
    return insert(hint, std::move(node));
  }
};

struct KernelState {
  std::map<int, Link> links;  // by ifindex
  std::map<AddressKey, Address> addresses;
  std::map<NeighbourKey, Neighbour> neighbours;
  std::map<std::uint32_t, NexthopObject> nexthop_objects;  // by id
  RouteTable routes;

  // A route's next hops with nexthop objects expanded (groups flattened with
  // their weights). Empty for a blackhole or an unknown object id.
  std::vector<NextHop> resolve_nexthops(const Route& r) const;
};

// What one batch changed (added, modified or deleted: look the key up in the
// state to tell). After a full resync only `full_resync` is set.
struct Changes {
  bool full_resync = false;
  std::vector<int> links;
  std::vector<AddressKey> addresses;
  std::vector<NeighbourKey> neighbours;
  std::vector<std::uint32_t> nexthop_objects;
  std::vector<RouteKey> routes;
  bool empty() const {
    return !full_resync && links.empty() && addresses.empty() && neighbours.empty() &&
           nexthop_objects.empty() && routes.empty();
  }
};

}  // namespace tapflow::netns
