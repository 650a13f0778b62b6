#include "tapflow/netns/netlink_watcher.hpp"

// libnl first: it pulls in <linux/netlink.h> and <linux/rtnetlink.h>.
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <set>
#include <unordered_map>

namespace tapflow::netns {

namespace {

std::uint8_t clamp_weight(unsigned w) { return static_cast<std::uint8_t>(std::min(w, 255u)); }

constexpr unsigned kIffUp = 0x1;            // IFF_UP
constexpr unsigned kIffLowerUp = 0x10000;   // IFF_LOWER_UP (carrier)
// The kernel sizes a dump datagram to at most 32 KiB; events are smaller.
// Twice that leaves room and makes MSG_TRUNC a real anomaly.
constexpr std::size_t kRecvBufferBytes = 64 * 1024;
// Datagrams per recvmmsg() at most (WatcherOptions::recvs_per_call): a full table arrives as one event per route, and
// one system call each was a fifth of tapflowd's CPU during a 1M-route
// install (on a virtual machine a system call costs several microseconds).
constexpr unsigned kRecvsPerCall = 16;

// The receive buffers, shared by every watcher of a thread (a read never
// outlives read_batch()), so a thousand switches do not hold a megabyte each.
std::uint8_t* recv_scratch() {
  thread_local std::vector<std::uint64_t> scratch(kRecvsPerCall * kRecvBufferBytes /
                                                  sizeof(std::uint64_t));  // 8-byte aligned
  return reinterpret_cast<std::uint8_t*>(scratch.data());
}
constexpr auto kRetryDelay = std::chrono::milliseconds(100);
// A batch also ends after this much data (about 16k routes, some 15 ms of
// parsing), so a dump's full 32 KiB datagrams do not hold the loop for long.
constexpr std::size_t kMaxBatchBytes = 1 << 20;

enum class DumpKind { kLinks, kAddresses, kNeighbours, kNexthops, kRoutes };
enum class Parse { kOk, kSkip, kError };

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct MsgDeleter {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};

// Attribute reads: every one checks the payload length first; nothing reads
// past an attribute (libnl's nla_parse has already bounded the attributes
// themselves by the message).
template <typename T>
bool read_attr(const nlattr* a, T& out) {
  if (a == nullptr || nla_len(a) < static_cast<int>(sizeof(T))) return false;
  std::memcpy(&out, nla_data(a), sizeof(T));
  return true;
}

std::string read_string(const nlattr* a) {
  const char* p = static_cast<const char*>(nla_data(a));
  return std::string(p, strnlen(p, static_cast<std::size_t>(nla_len(a))));
}

std::size_t family_bytes(int family) { return family == AF_INET ? 4 : 16; }
unsigned family_bits(int family) { return family == AF_INET ? 32 : 128; }

IpAddress make_ip(int family, const void* p) {
  IpAddress ip;
  ip.family = static_cast<std::uint8_t>(family);
  std::memcpy(ip.bytes.data(), p, family_bytes(family));
  return ip;
}

// An address of either family, told by its length (a gateway, NHA_GATEWAY).
std::optional<IpAddress> read_any_ip(const nlattr* a) {
  if (nla_len(a) == 4) return make_ip(AF_INET, nla_data(a));
  if (nla_len(a) == 16) return make_ip(AF_INET6, nla_data(a));
  return std::nullopt;
}

// An address that must be of `family`.
std::optional<IpAddress> read_ip(const nlattr* a, int family) {
  if (static_cast<std::size_t>(nla_len(a)) != family_bytes(family)) return std::nullopt;
  return make_ip(family, nla_data(a));
}

// RTA_VIA: struct rtvia (a 16-bit family, then the address).
std::optional<IpAddress> read_via(const nlattr* a) {
  std::uint16_t family = 0;
  if (nla_len(a) < 2) return std::nullopt;
  std::memcpy(&family, nla_data(a), 2);
  if (family != AF_INET && family != AF_INET6) return std::nullopt;
  if (static_cast<std::size_t>(nla_len(a)) != 2 + family_bytes(family)) return std::nullopt;
  return make_ip(family, static_cast<const std::uint8_t*>(nla_data(a)) + 2);
}

// The family header right after the netlink header; nlmsg_parse has checked
// that the message holds it.
template <typename T>
T family_header(nlmsghdr* h) {
  T t;
  std::memcpy(&t, nlmsg_data(h), sizeof(T));
  return t;
}

template <typename T, int Max>
bool parse_message(nlmsghdr* h, nlattr* (&tb)[Max + 1]) {
  return nlmsg_parse(h, sizeof(T), tb, Max, nullptr) == 0;
}

Parse parse_link(nlmsghdr* h, Link& l) {
  nlattr* tb[IFLA_MAX + 1] = {};
  if (!parse_message<ifinfomsg, IFLA_MAX>(h, tb)) return Parse::kError;
  auto ifi = family_header<ifinfomsg>(h);
  // AF_BRIDGE link messages describe bridge ports; an RTM_DELLINK of that
  // family means "left the bridge", not "gone".
  if (ifi.ifi_family != AF_UNSPEC) return Parse::kSkip;
  if (ifi.ifi_index <= 0) return Parse::kError;
  l.ifindex = ifi.ifi_index;
  l.flags = ifi.ifi_flags;
  if (tb[IFLA_IFNAME]) l.name = read_string(tb[IFLA_IFNAME]);
  if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6)
    std::memcpy(l.mac.octets.data(), nla_data(tb[IFLA_ADDRESS]), 6);
  if (tb[IFLA_MTU] && !read_attr(tb[IFLA_MTU], l.mtu)) return Parse::kError;
  if (tb[IFLA_OPERSTATE] && !read_attr(tb[IFLA_OPERSTATE], l.operstate)) return Parse::kError;
  if (tb[IFLA_IFALIAS]) l.alias = read_string(tb[IFLA_IFALIAS]);
  std::uint32_t link = 0;
  if (tb[IFLA_LINK] && !read_attr(tb[IFLA_LINK], link)) return Parse::kError;
  // With IFLA_LINK_NETNSID the index belongs to another namespace (a veth
  // peer moved away): it names nothing here.
  if (link != 0 && static_cast<int>(link) != l.ifindex && !tb[IFLA_LINK_NETNSID])
    l.parent_ifindex = static_cast<int>(link);
  if (tb[IFLA_LINKINFO]) {
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) != 0) return Parse::kError;
    if (info[IFLA_INFO_KIND]) l.kind = read_string(info[IFLA_INFO_KIND]);
    if (l.kind == "vlan" && info[IFLA_INFO_DATA]) {
      nlattr* vlan[IFLA_VLAN_MAX + 1] = {};
      if (nla_parse_nested(vlan, IFLA_VLAN_MAX, info[IFLA_INFO_DATA], nullptr) != 0)
        return Parse::kError;
      if (vlan[IFLA_VLAN_ID] && !read_attr(vlan[IFLA_VLAN_ID], l.vlan_id)) return Parse::kError;
    }
  }
  return Parse::kOk;
}

Parse parse_address(nlmsghdr* h, Address& a) {
  nlattr* tb[IFA_MAX + 1] = {};
  if (!parse_message<ifaddrmsg, IFA_MAX>(h, tb)) return Parse::kError;
  auto ifa = family_header<ifaddrmsg>(h);
  if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) return Parse::kSkip;
  if (ifa.ifa_prefixlen > family_bits(ifa.ifa_family) || ifa.ifa_index == 0) return Parse::kError;
  // IFA_LOCAL is the local address; IFA_ADDRESS is the peer on a
  // point-to-point link and equals IFA_LOCAL otherwise (IPv6 sends only it
  // unless there is a peer).
  const nlattr* addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (addr == nullptr) return Parse::kError;
  auto ip = read_ip(addr, ifa.ifa_family);
  if (!ip) return Parse::kError;
  a.ifindex = static_cast<int>(ifa.ifa_index);
  a.prefix = IpPrefix{*ip, ifa.ifa_prefixlen};
  a.scope = ifa.ifa_scope;
  a.flags = ifa.ifa_flags;
  if (tb[IFA_FLAGS] && !read_attr(tb[IFA_FLAGS], a.flags)) return Parse::kError;
  return Parse::kOk;
}

Parse parse_neighbour(nlmsghdr* h, Neighbour& n) {
  nlattr* tb[NDA_MAX + 1] = {};
  if (!parse_message<ndmsg, NDA_MAX>(h, tb)) return Parse::kError;
  auto ndm = family_header<ndmsg>(h);
  // AF_BRIDGE is the bridge FDB; proxy entries are answers the kernel gives
  // for others, not neighbours (and would collide with real ones by key).
  if (ndm.ndm_family != AF_INET && ndm.ndm_family != AF_INET6) return Parse::kSkip;
  if ((ndm.ndm_flags & NTF_PROXY) != 0) return Parse::kSkip;
  if (ndm.ndm_ifindex <= 0 || tb[NDA_DST] == nullptr) return Parse::kError;
  auto ip = read_ip(tb[NDA_DST], ndm.ndm_family);
  if (!ip) return Parse::kError;
  // The kernel makes multicast entries (ff02::1:ff.., 224.x) whenever it
  // sends there, without a notification; they are never next hops.
  if (ip->is_multicast()) return Parse::kSkip;
  n.ifindex = ndm.ndm_ifindex;
  n.ip = *ip;
  n.state = ndm.ndm_state;
  n.flags = ndm.ndm_flags;
  if (tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == 6) {
    openflow::MacAddress mac;
    std::memcpy(mac.octets.data(), nla_data(tb[NDA_LLADDR]), 6);
    n.mac = mac;
  }
  return Parse::kOk;
}

Parse parse_nexthop_object(nlmsghdr* h, NexthopObject& o) {
  nlattr* tb[NHA_MAX + 1] = {};
  if (!parse_message<nhmsg, NHA_MAX>(h, tb)) return Parse::kError;
  auto nhm = family_header<nhmsg>(h);
  if (!read_attr(tb[NHA_ID], o.id) || o.id == 0) return Parse::kError;
  o.blackhole = tb[NHA_BLACKHOLE] != nullptr;
  if (tb[NHA_GROUP]) {
    const auto len = static_cast<std::size_t>(nla_len(tb[NHA_GROUP]));
    if (len == 0 || len % sizeof(nexthop_grp) != 0) return Parse::kError;
    const auto* p = static_cast<const std::uint8_t*>(nla_data(tb[NHA_GROUP]));
    for (std::size_t off = 0; off < len; off += sizeof(nexthop_grp)) {
      nexthop_grp g;
      std::memcpy(&g, p + off, sizeof g);
      // The wire weight is one less than the weight (0 means 1).
      o.group.emplace_back(g.id, clamp_weight(unsigned{g.weight} + 1));
    }
  } else if (tb[NHA_OIF] || tb[NHA_GATEWAY]) {
    NextHop nh;
    std::uint32_t oif = 0;
    if (tb[NHA_OIF] && !read_attr(tb[NHA_OIF], oif)) return Parse::kError;
    nh.ifindex = static_cast<int>(oif);
    if (tb[NHA_GATEWAY]) {
      nh.gateway = read_any_ip(tb[NHA_GATEWAY]);
      if (!nh.gateway) return Parse::kError;
    }
    nh.flags = static_cast<std::uint8_t>(nhm.nh_flags);
    o.nexthop = nh;
  }
  return Parse::kOk;
}

// RTA_GATEWAY / RTA_VIA of a route or of one rtnexthop.
bool read_gateway(nlattr* const* tb, NextHop& nh) {
  if (tb[RTA_GATEWAY]) {
    nh.gateway = read_any_ip(tb[RTA_GATEWAY]);
    if (!nh.gateway) return false;
  } else if (tb[RTA_VIA]) {
    nh.gateway = read_via(tb[RTA_VIA]);
    if (!nh.gateway) return false;
  }
  return true;
}

// RTA_MULTIPATH: a packed list of struct rtnexthop, each followed by its own
// attributes (RTA_GATEWAY, RTA_VIA, ...), each aligned to 4 bytes.
bool parse_multipath(nlattr* mp, std::vector<NextHop>& out) {
  auto* p = static_cast<std::uint8_t*>(nla_data(mp));
  std::size_t rem = static_cast<std::size_t>(nla_len(mp));
  while (rem >= sizeof(rtnexthop)) {
    rtnexthop rtnh;
    std::memcpy(&rtnh, p, sizeof rtnh);
    if (rtnh.rtnh_len < sizeof(rtnexthop) || rtnh.rtnh_len > rem) return false;
    NextHop nh;
    nh.ifindex = rtnh.rtnh_ifindex;
    nh.weight = clamp_weight(unsigned{rtnh.rtnh_hops} + 1);
    nh.flags = rtnh.rtnh_flags;
    const int attr_len = static_cast<int>(rtnh.rtnh_len - sizeof(rtnexthop));
    if (attr_len > 0) {
      nlattr* tb[RTA_MAX + 1] = {};
      if (nla_parse(tb, RTA_MAX, reinterpret_cast<nlattr*>(p + sizeof(rtnexthop)), attr_len,
                    nullptr) != 0)
        return false;
      if (!read_gateway(tb, nh)) return false;
    }
    out.push_back(nh);
    const std::size_t step = (std::size_t{rtnh.rtnh_len} + 3u) & ~std::size_t{3};
    if (step >= rem) break;
    p += step;
    rem -= step;
  }
  return true;
}

bool nexthop_less(const NextHop& a, const NextHop& b) {
  return std::tie(a.ifindex, a.gateway, a.weight, a.flags) <
         std::tie(b.ifindex, b.gateway, b.weight, b.flags);
}
bool same_path(const NextHop& a, const NextHop& b) {
  return a.ifindex == b.ifindex && a.gateway == b.gateway;
}

Parse parse_route(nlmsghdr* h, Route& r) {
  nlattr* tb[RTA_MAX + 1] = {};
  if (!parse_message<rtmsg, RTA_MAX>(h, tb)) return Parse::kError;
  auto rtm = family_header<rtmsg>(h);
  const int family = rtm.rtm_family;
  // IPMR, MPLS, ... come with an AF_UNSPEC dump; routing wants unicast IP.
  if (family != AF_INET && family != AF_INET6) return Parse::kSkip;
  // Cached clones (PMTU exceptions, redirects) are not routes. A route with a
  // source prefix (IPv6 subtrees) would share a key with its plain twin; the
  // FIB compiler cannot express it anyway.
  if ((rtm.rtm_flags & RTM_F_CLONED) != 0 || rtm.rtm_src_len != 0) return Parse::kSkip;
  if (rtm.rtm_dst_len > family_bits(family)) return Parse::kError;
  r.table = rtm.rtm_table;
  if (tb[RTA_TABLE] && !read_attr(tb[RTA_TABLE], r.table)) return Parse::kError;
  r.dst.addr.family = static_cast<std::uint8_t>(family);
  r.dst.len = rtm.rtm_dst_len;
  if (tb[RTA_DST]) {
    auto dst = read_ip(tb[RTA_DST], family);
    if (!dst) return Parse::kError;
    r.dst.addr = *dst;
  } else if (rtm.rtm_dst_len != 0) {
    return Parse::kError;  // only the default route has no RTA_DST
  }
  r.tos = rtm.rtm_tos;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.flags = rtm.rtm_flags;
  if (tb[RTA_PRIORITY] && !read_attr(tb[RTA_PRIORITY], r.priority)) return Parse::kError;
  if (tb[RTA_NH_ID]) {
    // The kernel may add the object's next hops for old tools
    // (nexthop_compat_mode); the object is the truth, so they are left out.
    if (!read_attr(tb[RTA_NH_ID], r.nexthop_id)) return Parse::kError;
    return Parse::kOk;
  }
  if (tb[RTA_MULTIPATH]) {
    std::vector<NextHop> paths;
    if (!parse_multipath(tb[RTA_MULTIPATH], paths)) return Parse::kError;
    std::sort(paths.begin(), paths.end(), nexthop_less);
    r.nexthops = std::move(paths);
  } else if (tb[RTA_OIF] || tb[RTA_GATEWAY] || tb[RTA_VIA]) {
    NextHop nh;
    std::uint32_t oif = 0;
    if (tb[RTA_OIF] && !read_attr(tb[RTA_OIF], oif)) return Parse::kError;
    nh.ifindex = static_cast<int>(oif);
    if (!read_gateway(tb, nh)) return Parse::kError;
    // A single path's RTNH_F_* flags travel in rtm_flags.
    nh.flags = static_cast<std::uint8_t>(rtm.rtm_flags & 0xff);
    r.nexthops.push_back(nh);
  }
  return Parse::kOk;
}

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

struct NetlinkWatcher::Impl {
  Impl(boost::asio::io_context& io_context, const NetNamespace& ns, unsigned requested,
       ChangeHandler handler, WatcherOptions opts);

  void start();
  void stop();

  // Reading.
  void arm_wait();
  void read_batch();
  void process(std::uint8_t* data, std::size_t len);
  void handle_message(nlmsghdr* h);
  void deliver();

  // Dump sequencing.
  void begin_sync();
  void begin_refresh();
  void request_refresh();
  void start_next_dump();
  void end_dump(int error);
  void finish_mode();
  void schedule_retry(bool resync);
  bool send_dump(DumpKind kind, std::uint32_t& seq);
  void sweep(DumpKind kind);

  // State updates.
  void on_link(nlmsghdr* h, bool from_dump);
  void on_address(nlmsghdr* h, bool from_dump);
  void on_neighbour(nlmsghdr* h);
  void on_nexthop_object(nlmsghdr* h);
  void on_route(nlmsghdr* h, bool from_dump);
  void remove_link(int ifindex);
  void erase_nexthop_object(std::uint32_t id);
  void put_route(Route r);
  RouteTable::iterator erase_route(RouteTable::iterator it);

  void changed_link(int i) {
    if (synced) pending.links.push_back(i);
  }
  void changed_address(const AddressKey& k) {
    if (synced) pending.addresses.push_back(k);
  }
  void changed_neighbour(const NeighbourKey& k) {
    if (synced) pending.neighbours.push_back(k);
  }
  void changed_nexthop(std::uint32_t id) {
    if (synced) pending.nexthop_objects.push_back(id);
  }
  void changed_route(const RouteKey& k) {
    if (synced) pending.routes.push_back(k);
  }
  void parse_error() { ++counters.parse_errors; }

  enum class Mode { kIdle, kSync, kRefresh };
  struct ActiveDump {
    DumpKind kind;
    std::uint32_t seq;
    bool discard;  // a resync superseded it: drain it, use none of it
  };

  boost::asio::io_context& io;
  unsigned groups;
  ChangeHandler on_change;
  WatcherOptions options;
  std::unique_ptr<nl_sock, SockDeleter> sock;
  int fd = -1;
  std::uint32_t local_port = 0;
  // Owns a dup() of the socket's fd, so libnl and asio each close their own.
  boost::asio::posix::stream_descriptor descriptor;
  boost::asio::steady_timer retry_timer;
  bool retry_resync = false;
  // Async handlers hold a weak reference: after destruction they do nothing.
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  KernelState state;
  WatcherCounters counters;
  Changes pending;
  bool started = false;
  bool stopped = false;
  bool synced = false;
  bool waiting = false;

  Mode mode = Mode::kIdle;
  std::optional<ActiveDump> active;
  std::deque<DumpKind> queued;
  bool refresh_wanted = false;
  // What a refresh has seen (from its dump or from events meanwhile); what it
  // has not seen when its dump ends is gone from the kernel.
  std::set<RouteKey> seen_routes;
  std::set<std::uint32_t> seen_nexthops;
  // How many routes use each nexthop object: deleting one that is in use
  // removes its routes (IPv4 ones without a notification).
  std::unordered_map<std::uint32_t, std::uint32_t> nexthop_refs;
};

NetlinkWatcher::Impl::Impl(boost::asio::io_context& io_context, const NetNamespace& ns,
                           unsigned requested, ChangeHandler handler, WatcherOptions opts)
    : io(io_context),
      groups(requested),
      on_change(std::move(handler)),
      options(opts),
      descriptor(io_context),
      retry_timer(io_context) {
  if (options.max_recvs_per_batch == 0) options.max_recvs_per_batch = 1;
  options.recvs_per_call = std::clamp(options.recvs_per_call, 1u, kRecvsPerCall);
  // Link and address events are what tell that the kernel silently flushed
  // IPv4 routes and nexthop objects, so routes need them too.
  if ((groups & kRoutes) != 0) groups |= kLinks | kAddresses;
  sock.reset(nl_socket_alloc());
  if (!sock) throw Error("netlink watcher: nl_socket_alloc", ENOMEM);
  // Events carry other processes' sequence numbers; dump replies are matched
  // by hand (port id and sequence number).
  nl_socket_disable_seq_check(sock.get());
  {
    NamespaceScope scope(ns);
    errno = 0;
    const int err = nl_connect(sock.get(), NETLINK_ROUTE);
    if (err < 0) {
      const int saved = errno != 0 ? errno : EIO;
      throw Error("netlink watcher: nl_connect(NETLINK_ROUTE) in namespace '" + ns.name() +
                      "': " + nl_geterror(err),
                  saved);
    }
  }
  fd = nl_socket_get_fd(sock.get());
  local_port = nl_socket_get_local_port(sock.get());
  if (const int err = nl_socket_set_nonblocking(sock.get()); err < 0)
    throw Error(std::string("netlink watcher: O_NONBLOCK: ") + nl_geterror(err), EIO);
  // SO_RCVBUFFORCE ignores net.core.rmem_max (needs CAP_NET_ADMIN); the
  // fallback is capped by it. A full table's burst must fit, or we resync.
  int size = options.receive_buffer_bytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
    throw Error("netlink watcher: SO_RCVBUF", errno);
  // We want ENOBUFS: it is the only sign that events were lost.
  int off = 0;
  ::setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &off, sizeof off);
  const int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) throw Error("netlink watcher: dup", errno);
  boost::system::error_code ec;
  descriptor.assign(dup_fd, ec);
  if (ec) {
    ::close(dup_fd);
    throw Error("netlink watcher: asio assign: " + ec.message(), ec.value());
  }
}

void NetlinkWatcher::Impl::start() {
  if (started || stopped) return;
  started = true;
  std::vector<int> rtnl_groups;
  if (groups & kLinks) rtnl_groups.push_back(RTNLGRP_LINK);
  if (groups & kAddresses) {
    rtnl_groups.push_back(RTNLGRP_IPV4_IFADDR);
    rtnl_groups.push_back(RTNLGRP_IPV6_IFADDR);
  }
  if (groups & kNeighbours) rtnl_groups.push_back(RTNLGRP_NEIGH);
  if (groups & kRoutes) {
    rtnl_groups.push_back(RTNLGRP_IPV4_ROUTE);
    rtnl_groups.push_back(RTNLGRP_IPV6_ROUTE);
  }
  for (int g : rtnl_groups) {
    if (const int err = nl_socket_add_membership(sock.get(), g); err < 0)
      throw Error("netlink watcher: join group " + std::to_string(g) + ": " + nl_geterror(err),
                  EINVAL);
  }
  // Nexthop objects are 5.3+; an older kernel refuses the group and the dump.
  if (groups & kRoutes) nl_socket_add_membership(sock.get(), RTNLGRP_NEXTHOP);
  // Subscribed first, dumped second, on the same socket: the kernel queues
  // events and dump replies on this one receive queue in the order they
  // happen, so applying everything in queue order gives the kernel's state.
  // An event older than the dump part covering its object is overwritten by
  // that part; a newer one comes after it. Nothing falls between.
  begin_sync();
  arm_wait();
  if (!pending.empty())  // nothing to dump (no groups): report at once, on the loop
    boost::asio::post(io, [this, weak = std::weak_ptr<int>(alive)] {
      if (!weak.expired() && !stopped) deliver();
    });
}

void NetlinkWatcher::Impl::stop() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ec;
  retry_timer.cancel();
  descriptor.cancel(ec);
  descriptor.close(ec);
  // Stop the kernel queueing events for nobody (up to the whole buffer).
  sock.reset();
  fd = -1;
}

void NetlinkWatcher::Impl::arm_wait() {
  if (waiting || stopped) return;
  waiting = true;
  descriptor.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                        [this, weak = std::weak_ptr<int>(alive)](const boost::system::error_code& ec) {
                          if (weak.expired()) return;
                          waiting = false;
                          if (ec || stopped) return;
                          read_batch();
                        });
}

void NetlinkWatcher::Impl::read_batch() {
  bool more = false;
  unsigned recvs = 0;
  std::size_t bytes = 0;
  std::uint8_t* scratch = recv_scratch();
  std::array<sockaddr_nl, kRecvsPerCall> from{};
  std::array<iovec, kRecvsPerCall> iov{};
  std::array<mmsghdr, kRecvsPerCall> msgs{};
  while (!stopped) {
    if (recvs >= options.max_recvs_per_batch || bytes >= kMaxBatchBytes) {
      more = true;
      break;
    }
    const unsigned want = std::min(options.recvs_per_call, options.max_recvs_per_batch - recvs);
    for (unsigned i = 0; i < want; ++i) {
      from[i] = sockaddr_nl{};
      iov[i] = iovec{scratch + i * kRecvBufferBytes, kRecvBufferBytes};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // An error after some datagrams is reported by the next call.
    const int got = ::recvmmsg(fd, msgs.data(), want, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      ++recvs;
      if (errno == ENOBUFS) {
        // The receive buffer overflowed: events were dropped. Start over.
        ++counters.overruns;
        ++counters.resyncs;
        begin_sync();
        continue;
      }
      // Nothing else is expected from a netlink socket; do not spin on it.
      ++counters.parse_errors;
      break;
    }
    bool restarted = false;
    for (int i = 0; i < got && !stopped; ++i) {
      ++recvs;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        // Part of a message is lost, so is what it said: start over (what
        // came with it belongs to the state being dropped).
        ++counters.parse_errors;
        ++counters.resyncs;
        begin_sync();
        restarted = true;
        break;
      }
      bytes += msgs[i].msg_len;
      if (from[i].nl_pid != 0) continue;  // only the kernel talks to us
      process(static_cast<std::uint8_t*>(iov[i].iov_base), msgs[i].msg_len);
    }
    if (!restarted && got < static_cast<int>(want)) break;  // drained
  }
  if (stopped) return;
  deliver();
  if (stopped) return;
  if (more) {
    // A dump of a full table is hundreds of datagrams: let other work run.
    boost::asio::post(io, [this, weak = std::weak_ptr<int>(alive)] {
      if (!weak.expired() && !stopped) read_batch();
    });
  } else {
    arm_wait();
  }
}

void NetlinkWatcher::Impl::process(std::uint8_t* data, std::size_t len) {
  int remaining = static_cast<int>(std::min<std::size_t>(len, INT_MAX));
  for (auto* h = reinterpret_cast<nlmsghdr*>(data); nlmsg_ok(h, remaining);
       h = nlmsg_next(h, &remaining)) {
    handle_message(h);
    if (stopped) return;
  }
  if (remaining > 0) parse_error();  // a truncated or malformed trailing message
}

void NetlinkWatcher::Impl::handle_message(nlmsghdr* h) {
  ++counters.messages;
  const bool from_dump = active && h->nlmsg_pid == local_port && h->nlmsg_seq == active->seq;
  if (from_dump && !active->discard && (h->nlmsg_flags & NLM_F_DUMP_INTR) != 0) {
    // The table changed under the dump in a way that may have skipped
    // entries no event will mention: redo it all.
    ++counters.resyncs;
    begin_sync();
    return;
  }
  switch (h->nlmsg_type) {
    case NLMSG_NOOP:
      return;
    case NLMSG_OVERRUN:
      ++counters.overruns;
      ++counters.resyncs;
      begin_sync();
      return;
    case NLMSG_DONE: {
      if (!from_dump) return;
      int error = 0;
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof error))
        std::memcpy(&error, nlmsg_data(h), sizeof error);
      end_dump(error < 0 ? error : 0);
      return;
    }
    case NLMSG_ERROR: {
      if (!from_dump) return;
      int error = 0;
      if (nlmsg_datalen(h) >= static_cast<int>(sizeof error))
        std::memcpy(&error, nlmsg_data(h), sizeof error);
      if (error != 0) end_dump(error < 0 ? error : -error);
      return;
    }
    default:
      break;
  }
  if (from_dump && active->discard) return;
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (groups & kLinks) on_link(h, from_dump);
      return;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (groups & kAddresses) on_address(h, from_dump);
      return;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      if (groups & kNeighbours) on_neighbour(h);
      return;
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
      if (groups & kRoutes) on_nexthop_object(h);
      return;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      if (groups & kRoutes) on_route(h, from_dump);
      return;
    default:
      return;
  }
}

void NetlinkWatcher::Impl::deliver() {
  if (!synced || pending.empty() || stopped) return;
  Changes out = std::move(pending);
  pending = Changes{};
  if (out.full_resync) {
    out = Changes{};
    out.full_resync = true;
  } else {
    sort_unique(out.links);
    sort_unique(out.addresses);
    sort_unique(out.neighbours);
    sort_unique(out.nexthop_objects);
    sort_unique(out.routes);
  }
  if (on_change) on_change(state, out);
}

// --- dump sequencing ---------------------------------------------------------

void NetlinkWatcher::Impl::begin_sync() {
  state = KernelState{};
  nexthop_refs.clear();
  pending = Changes{};
  synced = false;
  mode = Mode::kSync;
  refresh_wanted = false;
  seen_routes.clear();
  seen_nexthops.clear();
  queued.clear();
  if (groups & kLinks) queued.push_back(DumpKind::kLinks);
  if (groups & kAddresses) queued.push_back(DumpKind::kAddresses);
  if (groups & kNeighbours) queued.push_back(DumpKind::kNeighbours);
  if (groups & kRoutes) {
    queued.push_back(DumpKind::kNexthops);
    queued.push_back(DumpKind::kRoutes);
  }
  // A socket runs one dump at a time (a second one gets EBUSY): the running
  // one is drained and ignored first.
  if (active)
    active->discard = true;
  else
    start_next_dump();
}

void NetlinkWatcher::Impl::begin_refresh() {
  refresh_wanted = false;
  ++counters.refreshes;
  mode = Mode::kRefresh;
  seen_routes.clear();
  seen_nexthops.clear();
  queued = {DumpKind::kNexthops, DumpKind::kRoutes};
  start_next_dump();
}

// A link went down or lost carrier, or an IPv4 address went away: the kernel
// then drops IPv4 routes and nexthop objects (and changes route flags)
// without telling anyone. Guessing its rules is fragile; asking again is
// exact, and a refresh reports only what really changed.
void NetlinkWatcher::Impl::request_refresh() {
  if ((groups & kRoutes) == 0) return;
  refresh_wanted = true;
  if (mode == Mode::kIdle && !active) begin_refresh();
}

void NetlinkWatcher::Impl::start_next_dump() {
  if (active || stopped) return;
  if (queued.empty()) {
    finish_mode();
    return;
  }
  std::uint32_t seq = 0;
  if (!send_dump(queued.front(), seq)) {
    schedule_retry(false);
    return;
  }
  active = ActiveDump{queued.front(), seq, false};
  queued.pop_front();
}

void NetlinkWatcher::Impl::end_dump(int error) {
  const ActiveDump done = *active;
  active.reset();
  if (done.discard) {
    start_next_dump();
    return;
  }
  if (error != 0) {
    // Kernels before 5.3 have no nexthop objects: nothing to dump.
    const bool no_nexthops =
        done.kind == DumpKind::kNexthops && (error == -EINVAL || error == -EOPNOTSUPP);
    if (!no_nexthops) {
      ++counters.resyncs;
      schedule_retry(true);
      return;
    }
  }
  if (mode == Mode::kRefresh) sweep(done.kind);
  start_next_dump();
}

void NetlinkWatcher::Impl::finish_mode() {
  if (mode == Mode::kSync) {
    synced = true;
    ++counters.dumps;
    pending = Changes{};
    pending.full_resync = true;
  }
  mode = Mode::kIdle;
  if (refresh_wanted) begin_refresh();
}

void NetlinkWatcher::Impl::schedule_retry(bool resync) {
  retry_resync = retry_resync || resync;
  retry_timer.expires_after(kRetryDelay);
  retry_timer.async_wait([this, weak = std::weak_ptr<int>(alive)](const boost::system::error_code& ec) {
    if (ec || weak.expired() || stopped) return;
    const bool resync_now = retry_resync;
    retry_resync = false;
    if (resync_now)
      begin_sync();
    else
      start_next_dump();
    deliver();
  });
}

bool NetlinkWatcher::Impl::send_dump(DumpKind kind, std::uint32_t& seq) {
  static constexpr int kTypes[] = {RTM_GETLINK, RTM_GETADDR, RTM_GETNEIGH, RTM_GETNEXTHOP,
                                   RTM_GETROUTE};
  std::unique_ptr<nl_msg, MsgDeleter> msg(
      nlmsg_alloc_simple(kTypes[static_cast<int>(kind)], NLM_F_REQUEST | NLM_F_DUMP));
  if (!msg) return false;
  int err = 0;
  switch (kind) {
    case DumpKind::kLinks: {
      ifinfomsg hdr{};
      hdr.ifi_family = AF_UNSPEC;
      err = nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
      // Counters are a kilobyte per link and unused here.
      if (err == 0) err = nla_put_u32(msg.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
      break;
    }
    case DumpKind::kAddresses: {
      ifaddrmsg hdr{};
      hdr.ifa_family = AF_UNSPEC;
      err = nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
      break;
    }
    case DumpKind::kNeighbours: {
      ndmsg hdr{};
      hdr.ndm_family = AF_UNSPEC;
      err = nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
      break;
    }
    case DumpKind::kNexthops: {
      nhmsg hdr{};
      hdr.nh_family = AF_UNSPEC;
      err = nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
      break;
    }
    case DumpKind::kRoutes: {
      rtmsg hdr{};
      hdr.rtm_family = AF_UNSPEC;
      err = nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO);
      break;
    }
  }
  if (err != 0) return false;
  nl_complete_msg(sock.get(), msg.get());  // our port id and the next sequence number
  seq = nlmsg_hdr(msg.get())->nlmsg_seq;
  return nl_send(sock.get(), msg.get()) >= 0;
}

void NetlinkWatcher::Impl::sweep(DumpKind kind) {
  if (kind == DumpKind::kNexthops) {
    std::vector<std::uint32_t> gone;
    for (const auto& [id, o] : state.nexthop_objects)
      if (!seen_nexthops.contains(id)) gone.push_back(id);
    for (auto id : gone) erase_nexthop_object(id);
    seen_nexthops.clear();
  } else if (kind == DumpKind::kRoutes) {
    for (auto it = state.routes.begin(); it != state.routes.end();) {
      if (seen_routes.contains(key_of(*it)))
        ++it;
      else
        it = erase_route(it);
    }
    seen_routes.clear();
  }
}

// --- state updates -----------------------------------------------------------

void NetlinkWatcher::Impl::on_link(nlmsghdr* h, bool from_dump) {
  Link l;
  const Parse p = parse_link(h, l);
  if (p == Parse::kError) return parse_error();
  if (p == Parse::kSkip) return;
  auto it = state.links.find(l.ifindex);
  if (h->nlmsg_type == RTM_DELLINK) {
    if (it == state.links.end()) return;
    remove_link(l.ifindex);
    if (!from_dump) request_refresh();
    return;
  }
  const bool went_up_or_down =
      it != state.links.end() && ((it->second.flags ^ l.flags) & (kIffUp | kIffLowerUp)) != 0;
  if (it == state.links.end()) {
    const int index = l.ifindex;
    state.links.emplace(index, std::move(l));
    changed_link(index);
  } else if (it->second != l) {
    it->second = std::move(l);
    changed_link(it->first);
  }
  if (went_up_or_down && !from_dump) request_refresh();
}

// The kernel does not always announce what dies with a link (IPv4 routes and
// nexthop objects go silently): drop it here, and the refresh that follows
// settles multipath routes that only partly used the link.
void NetlinkWatcher::Impl::remove_link(int ifindex) {
  state.links.erase(ifindex);
  changed_link(ifindex);
  for (auto it = state.addresses.lower_bound(AddressKey{ifindex, IpPrefix{}});
       it != state.addresses.end() && std::get<0>(it->first) == ifindex;) {
    changed_address(it->first);
    it = state.addresses.erase(it);
  }
  for (auto it = state.neighbours.lower_bound(NeighbourKey{ifindex, IpAddress{}});
       it != state.neighbours.end() && std::get<0>(it->first) == ifindex;) {
    changed_neighbour(it->first);
    it = state.neighbours.erase(it);
  }
  std::vector<std::uint32_t> objects;
  for (const auto& [id, o] : state.nexthop_objects)
    if (o.nexthop && o.nexthop->ifindex == ifindex) objects.push_back(id);
  for (auto id : objects) erase_nexthop_object(id);
  for (auto it = state.routes.begin(); it != state.routes.end();) {
    const auto& nhs = it->nexthops;
    const bool all_through = !nhs.empty() && std::all_of(nhs.begin(), nhs.end(), [&](const NextHop& nh) {
      return nh.ifindex == ifindex;
    });
    if (all_through)
      it = erase_route(it);
    else
      ++it;
  }
}

void NetlinkWatcher::Impl::on_address(nlmsghdr* h, bool from_dump) {
  Address a;
  const Parse p = parse_address(h, a);
  if (p == Parse::kError) return parse_error();
  if (p == Parse::kSkip) return;
  const AddressKey key{a.ifindex, a.prefix};
  auto it = state.addresses.find(key);
  if (h->nlmsg_type == RTM_DELADDR) {
    if (it == state.addresses.end()) return;
    state.addresses.erase(it);
    changed_address(key);
    // Routes using it as source, or all IPv4 routes of a link left without
    // an address, are flushed silently.
    if (a.prefix.addr.is_v4() && !from_dump) request_refresh();
    return;
  }
  if (it == state.addresses.end()) {
    state.addresses.emplace(key, a);
  } else if (it->second != a) {
    it->second = a;
  } else {
    return;
  }
  changed_address(key);
}

void NetlinkWatcher::Impl::on_neighbour(nlmsghdr* h) {
  Neighbour n;
  const Parse p = parse_neighbour(h, n);
  if (p == Parse::kError) return parse_error();
  if (p == Parse::kSkip) return;
  const NeighbourKey key{n.ifindex, n.ip};
  auto it = state.neighbours.find(key);
  // NOARP entries (no resolution: multicast, broadcast, NOARP links) also
  // appear without a notification, so they are not kept; one that becomes
  // NOARP is as good as gone.
  if (h->nlmsg_type == RTM_DELNEIGH || (n.state & NUD_NOARP) != 0) {
    if (it == state.neighbours.end()) return;
    state.neighbours.erase(it);
  } else if (it == state.neighbours.end()) {
    state.neighbours.emplace(key, std::move(n));
  } else if (it->second != n) {
    it->second = std::move(n);
  } else {
    return;
  }
  changed_neighbour(key);
}

void NetlinkWatcher::Impl::on_nexthop_object(nlmsghdr* h) {
  NexthopObject o;
  const Parse p = parse_nexthop_object(h, o);
  if (p == Parse::kError) return parse_error();
  if (p == Parse::kSkip) return;
  if (mode == Mode::kRefresh) seen_nexthops.insert(o.id);
  if (h->nlmsg_type == RTM_DELNEXTHOP) {
    erase_nexthop_object(o.id);
    return;
  }
  auto it = state.nexthop_objects.find(o.id);
  const std::uint32_t id = o.id;
  if (it == state.nexthop_objects.end()) {
    state.nexthop_objects.emplace(id, std::move(o));
  } else if (it->second != o) {
    it->second = std::move(o);
  } else {
    return;
  }
  changed_nexthop(id);
}

// Deleting a nexthop object deletes the routes using it (IPv4 ones without a
// notification) and takes it out of its groups; a group left empty goes too.
void NetlinkWatcher::Impl::erase_nexthop_object(std::uint32_t id) {
  if (state.nexthop_objects.erase(id) == 0) return;
  changed_nexthop(id);
  if (auto ref = nexthop_refs.find(id); ref != nexthop_refs.end() && ref->second > 0) {
    for (auto it = state.routes.begin(); it != state.routes.end();) {
      if (it->nexthop_id == id)
        it = erase_route(it);
      else
        ++it;
    }
  }
  std::vector<std::uint32_t> emptied;
  for (auto& [gid, g] : state.nexthop_objects) {
    const auto before = g.group.size();
    std::erase_if(g.group, [id](const auto& member) { return member.first == id; });
    if (g.group.size() == before) continue;
    changed_nexthop(gid);
    if (g.group.empty() && !g.nexthop && !g.blackhole) emptied.push_back(gid);
  }
  for (auto gid : emptied) erase_nexthop_object(gid);
}

void NetlinkWatcher::Impl::put_route(Route r) {
  const RouteKey key = key_of(r);
  auto it = state.routes.lower_bound(key);  // one search for both the check and the put
  if (it != state.routes.end() && !state.routes.key_comp()(r, *it)) {
    if (*it == r) return;
    if (it->nexthop_id != 0) --nexthop_refs[it->nexthop_id];
  }
  if (r.nexthop_id != 0) ++nexthop_refs[r.nexthop_id];
  state.routes.put(it, std::move(r));
  changed_route(key);
}

RouteTable::iterator NetlinkWatcher::Impl::erase_route(RouteTable::iterator it) {
  if (it->nexthop_id != 0) {
    auto ref = nexthop_refs.find(it->nexthop_id);
    if (ref != nexthop_refs.end() && --ref->second == 0) nexthop_refs.erase(ref);
  }
  changed_route(key_of(*it));
  return state.routes.erase(it);
}

// IPv6 multipath routes are a set of sibling routes in the kernel. It
// announces a sibling added with NLM_F_APPEND (recent kernels list all
// siblings, older ones only the new one) and a sibling removed with an
// RTM_DELROUTE naming only that next hop. So: an IPv6 append merges next
// hops into the route; an IPv6 delete naming some but not all of a route's
// next hops removes just those; any other delete removes the route.
void NetlinkWatcher::Impl::on_route(nlmsghdr* h, bool from_dump) {
  Route r;
  const Parse p = parse_route(h, r);
  if (p == Parse::kError) return parse_error();
  if (p == Parse::kSkip) return;
  const RouteKey key = key_of(r);
  if (mode == Mode::kRefresh) seen_routes.insert(key);
  auto it = state.routes.find(key);
  const bool v6_paths = r.dst.addr.is_v6() && r.nexthop_id == 0 && !r.nexthops.empty() &&
                        it != state.routes.end() && it->nexthop_id == 0;
  if (h->nlmsg_type == RTM_DELROUTE) {
    if (it == state.routes.end()) return;
    const auto& have = it->nexthops;
    const bool some_paths =
        v6_paths && r.nexthops.size() < have.size() &&
        std::all_of(r.nexthops.begin(), r.nexthops.end(), [&](const NextHop& gone) {
          return std::any_of(have.begin(), have.end(),
                             [&](const NextHop& nh) { return same_path(nh, gone); });
        });
    if (!some_paths) {
      erase_route(it);
      return;
    }
    // Set elements are const: the route leaves the set (keeping its node) to change.
    auto hint = std::next(it);
    auto node = state.routes.extract(it);
    node.value().nexthops.erase_if([&](const NextHop& nh) {
      return std::any_of(r.nexthops.begin(), r.nexthops.end(),
                         [&](const NextHop& gone) { return same_path(nh, gone); });
    });
    state.routes.insert(hint, std::move(node));
    changed_route(key);
    return;
  }
  if (v6_paths && !from_dump && (h->nlmsg_flags & NLM_F_APPEND) != 0) {
    std::vector<NextHop> merged = it->nexthops.to_vector();
    for (const auto& nh : r.nexthops) {
      auto same = std::find_if(merged.begin(), merged.end(),
                               [&](const NextHop& m) { return same_path(m, nh); });
      if (same != merged.end())
        *same = nh;
      else
        merged.push_back(nh);
    }
    std::sort(merged.begin(), merged.end(), nexthop_less);
    r.nexthops = std::move(merged);
  }
  put_route(std::move(r));
}

// --- public ------------------------------------------------------------------

NetlinkWatcher::NetlinkWatcher(boost::asio::io_context& io, const NetNamespace& ns, unsigned groups,
                               ChangeHandler on_change)
    : NetlinkWatcher(io, ns, groups, std::move(on_change), WatcherOptions{}) {}

NetlinkWatcher::NetlinkWatcher(boost::asio::io_context& io, const NetNamespace& ns, unsigned groups,
                               ChangeHandler on_change, WatcherOptions options)
    : impl_(std::make_unique<Impl>(io, ns, groups, std::move(on_change), options)) {}

NetlinkWatcher::~NetlinkWatcher() { impl_->stop(); }

void NetlinkWatcher::start() { impl_->start(); }
void NetlinkWatcher::stop() { impl_->stop(); }
bool NetlinkWatcher::synced() const { return impl_->synced; }
const KernelState& NetlinkWatcher::state() const { return impl_->state; }
const WatcherCounters& NetlinkWatcher::counters() const { return impl_->counters; }

void NetlinkWatcher::handle_datagram(std::span<const std::uint8_t> datagram) {
  // Copied into aligned storage: the parser reads headers in place.
  std::vector<std::uint64_t> copy((datagram.size() + 7) / 8);
  if (!datagram.empty()) std::memcpy(copy.data(), datagram.data(), datagram.size());
  impl_->process(reinterpret_cast<std::uint8_t*>(copy.data()), datagram.size());
  impl_->deliver();
}

}  // namespace tapflow::netns
