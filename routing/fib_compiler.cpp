// FIB compiler: kernel routes, neighbours and nexthop objects -> FIB flows and
// groups. See fib_compiler.hpp for the pipeline this builds.
#include "tapflow/routing/fib_compiler.hpp"

#include "tapflow/routing/fib_compress.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <tuple>

#include "flat_map.hpp"

namespace tapflow::routing {

using netns::IpAddress;
using netns::IpPrefix;
using netns::KernelState;
using netns::NeighbourKey;
using netns::NextHop;
using netns::Route;
using netns::RouteKey;
using namespace openflow;

namespace {

constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthIpv6 = 0x86dd;

// Per-prefix entry: 8 bytes. action 0 marks a free FlatMap slot.
struct RouteValue {
  std::uint32_t group = 0;
  std::uint8_t action = 0;  // FibAction
  bool used() const { return action != 0; }
  friend bool operator==(const RouteValue&, const RouteValue&) = default;
};
// What a prefix held before the current batch touched it.
struct DirtyValue {
  RouteValue old;
  std::uint8_t tag = 0;  // 1: old is valid, 2: there was no entry
  bool used() const { return tag != 0; }
};

// IPv4 prefixes as one integer: address << 8 | length.
using V4Key = std::uint64_t;
struct V4Hash {
  std::size_t operator()(V4Key k) const { return mix64(k); }
};
struct V6Key {
  std::uint64_t hi = 0, lo = 0;
  std::uint8_t len = 0;
  friend bool operator==(const V6Key&, const V6Key&) = default;
};
struct V6Hash {
  std::size_t operator()(const V6Key& k) const { return mix64(k.hi ^ mix64(k.lo + k.len)); }
};

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
void store_be64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

V4Key key4(const IpPrefix& p) { return (std::uint64_t{p.addr.v4_host_order()} << 8) | p.len; }
V6Key key6(const IpPrefix& p) {
  return V6Key{load_be64(p.addr.bytes.data()), load_be64(p.addr.bytes.data() + 8), p.len};
}
IpPrefix prefix_of(V4Key k) {
  return IpPrefix{IpAddress::v4(static_cast<std::uint32_t>(k >> 8)),
                  static_cast<std::uint8_t>(k & 0xff)};
}
IpPrefix prefix_of(const V6Key& k) {
  std::uint8_t b[16];
  store_be64(b, k.hi);
  store_be64(b + 8, k.lo);
  return IpPrefix{IpAddress::v6(b), k.len};
}

template <typename K, typename H>
struct RouteTable {
  FlatMap<K, RouteValue, H> entries;
  FlatMap<K, DirtyValue, H> dirty;  // this batch's first-touch values
};

struct GroupContent {
  bool resolved = false;  // kIndirect: neighbour known (and, on a VLAN TAP, its location)
  std::uint32_t port = 0;
  std::uint16_t push_vid = 0;  // kIndirect on a VLAN TAP, tagged egress: the VID to push
  MacAddress src, dst;
  std::vector<std::pair<std::uint32_t, std::uint8_t>> members;  // select / nexthop object
  bool to_controller = false;  // nexthop object: unknown or not usable
  friend bool operator==(const GroupContent&, const GroupContent&) = default;
};
struct GroupEntry {
  GroupKey key;
  GroupContent content;
  std::uint32_t refs = 0;  // flows, select groups and object groups using it
};

struct HostValue {
  std::uint16_t priority = 0;
  std::uint32_t group = 0;
  friend bool operator==(const HostValue&, const HostValue&) = default;
};

bool neighbour_usable(const netns::Neighbour& n) {
  if (!n.mac || n.mac->is_multicast() || n.mac->is_zero()) return false;  // includes broadcast
  if (n.state == NUD_NONE) return false;
  return (n.state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) == 0;
}

std::array<std::uint8_t, 16> v6_mask(unsigned len) {
  std::array<std::uint8_t, 16> m{};
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned bit = i * 8;
    if (bit + 8 <= len) {
      m[i] = 0xff;
    } else if (bit < len) {
      m[i] = static_cast<std::uint8_t>(0xff00u >> (len - bit));
    }
  }
  return m;
}

GroupKey indirect_key(int ifindex, const IpAddress& ip) {
  GroupKey k;
  k.kind = GroupKey::kIndirect;
  k.ifindex = ifindex;
  k.ip = ip;
  return k;
}

Action to_controller() { return action::Output{port::kController, kControllerMaxLenNoBuffer}; }

// VLAN mode needs groups and push_vlan: on 1.0 VLAN TAPs are not router ports.
RouterPorts usable_ports(RouterPorts ports, std::uint8_t version) {
  if (version == kVersion10) std::erase_if(ports, [](const auto& p) { return p.second.vlan != 0; });
  return ports;
}

}  // namespace

// --- GroupIdAllocator ---------------------------------------------------------

std::uint32_t GroupIdAllocator::id_for(const GroupKey& key) {
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  std::uint32_t id;
  if (!free_.empty()) {
    id = *free_.begin();
    free_.erase(free_.begin());
  } else {
    id = next_++;
  }
  ids_.emplace(key, id);
  return id;
}

std::optional<std::uint32_t> GroupIdAllocator::find(const GroupKey& key) const {
  auto it = ids_.find(key);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

void GroupIdAllocator::release(const GroupKey& key) {
  auto it = ids_.find(key);
  if (it == ids_.end()) return;
  pending_.insert(it->second);
  ids_.erase(it);
}

void GroupIdAllocator::end_batch() {
  free_.merge(pending_);
  pending_.clear();
}

// --- FibDiff --------------------------------------------------------------------

bool FibDiff::empty() const { return size() == 0; }
std::size_t FibDiff::size() const {
  return groups_added.size() + groups_changed.size() + groups_removed.size() +
         flows_added.size() + flows_changed.size() + flows_removed.size();
}

// --- FibCompiler ----------------------------------------------------------------

struct FibCompiler::Impl {
  const FibOptions& opts;
  RouterPorts ports;
  const KernelState* st = nullptr;  // during compile()/update() only

  RouteTable<V4Key, V4Hash> v4;
  RouteTable<V6Key, V6Hash> v6;
  std::map<IpPrefix, int> connected;  // prefixes compiled as connected subnets -> ifindex
  std::map<NeighbourKey, HostValue> hosts;
  std::map<NeighbourKey, std::optional<HostValue>> host_dirty;
  // Where tapd learned each MAC behind a VLAN TAP; only set_l2_location()
  // changes it (a recompile keeps it: tapd does not repeat itself).
  std::map<std::pair<int, MacAddress>, L2Location> l2;
  GroupIdAllocator alloc;
  std::map<std::uint32_t, GroupEntry> groups;
  std::map<std::uint32_t, std::optional<GroupEntry>> group_dirty;
  bool miss_installed = false;
  // Compression (set_compress): the route flows on the switch are the
  // compressor's entries, mirrored in `emitted` (prefix -> action key).
  bool compressing = false;
  PrefixCompressor compressor;
  std::map<IpPrefix, ActionKey> emitted;

  Impl(const FibOptions& o, RouterPorts p) : opts(o), ports(usable_ports(std::move(p), o.version)) {}

  bool v10() const { return opts.version == kVersion10; }
  // No GROUP_MODs: flows carry their next hop's actions (1.0, or a group-less profile).
  bool inline_actions() const { return v10() || !opts.groups; }
  // FIB flows in table 0, no miss flow (1.0, or a one-table profile).
  bool single_table() const { return v10() || opts.fib_table == pipeline::table::kIngress; }
  bool ipv6() const { return !v10() && opts.ipv6; }
  bool dec_ttl() const { return !v10() && opts.dec_ttl; }
  bool table_followed(std::uint32_t t) const {
    return std::find(opts.tables.begin(), opts.tables.end(), t) != opts.tables.end();
  }

  // --- groups ---

  void note_group(std::uint32_t id, const GroupEntry* old) {
    if (group_dirty.contains(id)) return;
    group_dirty.emplace(id, old ? std::optional<GroupEntry>(*old) : std::nullopt);
  }

  GroupContent indirect_content(int ifindex, const IpAddress& ip) const {
    GroupContent c;
    auto p = ports.find(ifindex);
    auto n = st->neighbours.find(NeighbourKey{ifindex, ip});
    if (p == ports.end() || n == st->neighbours.end() || !neighbour_usable(n->second)) return c;
    const RouterPort& rp = p->second;
    c.port = rp.port_no;
    if (rp.vlan != 0) {
      // Unknown location: the kernel forwards through the VLAN TAP and tapd floods.
      auto loc = l2.find({ifindex, *n->second.mac});
      if (loc == l2.end()) return GroupContent{};
      c.port = loc->second.port_no;
      if (loc->second.tagged) c.push_vid = rp.vlan;
    }
    c.resolved = true;
    c.src = rp.mac;
    c.dst = *n->second.mac;
    return c;
  }

  // Acquires one indirect group per next hop (they must all have a gateway)
  // and folds repeats into one member with the summed weight; each member
  // keeps exactly one of the references taken here.
  std::vector<std::pair<std::uint32_t, std::uint8_t>> acquire_members(
      const std::vector<NextHop>& nhs) {
    std::vector<std::pair<std::uint32_t, std::uint8_t>> members;
    for (const NextHop& nh : nhs) {
      const std::uint32_t id = acquire(indirect_key(nh.ifindex, *nh.gateway)).first;
      auto same = std::find_if(members.begin(), members.end(),
                               [&](const auto& m) { return m.first == id; });
      if (same == members.end()) {
        members.emplace_back(id, nh.weight);
      } else {
        same->second = static_cast<std::uint8_t>(std::min(255, same->second + nh.weight));
        release(id);
      }
    }
    return members;
  }

  // Next hops a route can use in the switch: alive and through a router port.
  std::vector<NextHop> usable_nexthops(std::span<const NextHop> nhs) const {
    std::vector<NextHop> out;
    for (const NextHop& nh : nhs) {
      if ((nh.flags & RTNH_F_DEAD) != 0 || !ports.contains(nh.ifindex)) continue;
      out.push_back(nh);
    }
    return out;
  }

  GroupContent object_content(std::uint32_t nhid) {
    GroupContent c;
    auto o = st->nexthop_objects.find(nhid);
    if (o == st->nexthop_objects.end()) {
      c.to_controller = true;
      return c;
    }
    if (o->second.blackhole) return c;  // no buckets: drop
    Route probe;
    probe.nexthop_id = nhid;
    const std::vector<NextHop> nhs = usable_nexthops(st->resolve_nexthops(probe));
    const bool all_gateways =
        std::all_of(nhs.begin(), nhs.end(), [](const NextHop& nh) { return nh.gateway.has_value(); });
    if (nhs.empty() || !all_gateways) {
      c.to_controller = true;
      return c;
    }
    c.members = acquire_members(nhs);
    return c;
  }

  // The group for `key`, created on first use; takes one reference.
  std::pair<std::uint32_t, bool> acquire(const GroupKey& key) {
    const std::uint32_t id = alloc.id_for(key);
    auto it = groups.find(id);
    const bool created = it == groups.end();
    if (created) {
      note_group(id, nullptr);
      GroupContent c;
      if (key.kind == GroupKey::kIndirect) {
        c = indirect_content(key.ifindex, key.ip);
      } else if (key.kind == GroupKey::kSelect) {
        c.members = key.members;  // the caller's member references pass to the group
      } else {
        c = object_content(key.nhid);
      }
      it = groups.emplace(id, GroupEntry{key, std::move(c), 0}).first;
    }
    ++it->second.refs;
    return {id, created};
  }

  void release(std::uint32_t id) {
    auto it = groups.find(id);
    if (it == groups.end() || --it->second.refs > 0) return;
    note_group(id, &it->second);
    GroupEntry gone = std::move(it->second);
    groups.erase(it);
    alloc.release(gone.key);
    for (const auto& m : gone.content.members) release(m.first);
  }

  void refresh_indirect(const NeighbourKey& nk) {
    auto id = alloc.find(indirect_key(std::get<0>(nk), std::get<1>(nk)));
    if (!id) return;
    auto it = groups.find(*id);
    if (it == groups.end()) return;
    GroupContent c = indirect_content(std::get<0>(nk), std::get<1>(nk));
    if (c == it->second.content) return;
    note_group(*id, &it->second);
    it->second.content = std::move(c);
  }

  void refresh_objects() {
    std::vector<std::uint32_t> ids;
    for (const auto& [id, g] : groups) {
      if (g.key.kind == GroupKey::kNexthopObject) ids.push_back(id);
    }
    for (std::uint32_t id : ids) {
      auto it = groups.find(id);
      if (it == groups.end()) continue;
      GroupContent c = object_content(it->second.key.nhid);
      it = groups.find(id);
      if (c == it->second.content) {
        for (const auto& m : c.members) release(m.first);  // undo: same members
        continue;
      }
      note_group(id, &it->second);
      auto old_members = std::move(it->second.content.members);
      it->second.content = std::move(c);
      for (const auto& m : old_members) release(m.first);
    }
  }

  // --- routes ---

  struct Compiled {
    RouteValue value;
    std::optional<int> connected;  // ifindex of a connected subnet
  };

  Compiled compile_route(const Route& r) {
    auto act = [](FibAction a, std::uint32_t g = 0) {
      return RouteValue{g, static_cast<std::uint8_t>(a)};
    };
    switch (r.type) {
      case RTN_UNICAST:
        break;
      case RTN_BLACKHOLE:
        return {act(FibAction::kDrop), std::nullopt};
      case RTN_UNREACHABLE:
      case RTN_PROHIBIT:
        return {act(FibAction::kController), std::nullopt};
      default:
        return {};
    }
    if (r.nexthop_id != 0) {
      GroupKey k;
      k.kind = GroupKey::kNexthopObject;
      k.nhid = r.nexthop_id;
      return {act(FibAction::kGroup, acquire(k).first), std::nullopt};
    }
    const std::vector<NextHop> nhs = usable_nexthops(r.nexthops);
    if (nhs.empty()) return {};
    if (r.nexthops.size() == 1 && !nhs[0].gateway) {
      return {act(FibAction::kController), nhs[0].ifindex};
    }
    for (const NextHop& nh : nhs) {
      if (!nh.gateway) return {act(FibAction::kController), std::nullopt};
    }
    auto members = acquire_members(nhs);
    if (members.size() == 1) return {act(FibAction::kGroup, members[0].first), std::nullopt};
    GroupKey k;
    k.kind = GroupKey::kSelect;
    k.members = members;
    auto [id, created] = acquire(k);
    if (!created) {
      for (const auto& m : members) release(m.first);  // the existing group holds its own
    }
    return {act(FibAction::kGroup, id), std::nullopt};
  }

  bool prefix_ignored(std::uint8_t family, const IpPrefix& p) const {
    if (!ipv6() && family == AF_INET6) return true;
    if (family != AF_INET && family != AF_INET6) return true;
    if (p.addr.is_multicast()) return true;
    return family == AF_INET6 && p.len >= 10 && p.addr.is_link_local();
  }

  // The route the kernel would use for exactly this prefix, compiled.
  Compiled compile_prefix(std::uint8_t family, const IpPrefix& p) {
    if (prefix_ignored(family, p)) return {};
    for (std::uint32_t table : opts.tables) {
      auto it = st->routes.lower_bound(RouteKey{table, family, p, 0, 0});
      if (it == st->routes.end()) continue;
      // Keys sort by tos then metric: the first tos-0 entry has the lowest metric.
      if (it->table == table && it->dst.addr.family == family && it->dst == p && it->tos == 0)
        return compile_route(*it);
    }
    return {};
  }

  template <typename Table, typename KeyFn>
  void apply_prefix(Table& t, KeyFn keyfn, std::uint8_t family, const IpPrefix& p) {
    const auto k = keyfn(p);
    RouteValue* cur = t.entries.find(k);
    const RouteValue old = cur ? *cur : RouteValue{};
    if (!t.dirty.find(k)) t.dirty.set(k, DirtyValue{old, static_cast<std::uint8_t>(cur ? 1 : 2)});
    Compiled c = compile_prefix(family, p);  // new references before the old are dropped
    if (c.value.used()) {
      t.entries.set(k, c.value);
    } else if (cur) {
      t.entries.erase(k);
    }
    if (old.action == static_cast<std::uint8_t>(FibAction::kGroup)) release(old.group);
    set_connected(p, c.connected);
  }

  void apply_route_key(const RouteKey& rk) {
    const auto& [table, family, dst, tos, metric] = rk;
    if (tos != 0 || !table_followed(table)) return;
    if (family == AF_INET) {
      apply_prefix(v4, key4, family, dst);
    } else if (family == AF_INET6 && ipv6()) {
      apply_prefix(v6, key6, family, dst);
    }
  }

  // --- connected hosts ---

  void set_connected(const IpPrefix& p, std::optional<int> ifindex) {
    auto it = connected.find(p);
    const std::optional<int> old =
        it == connected.end() ? std::nullopt : std::optional<int>(it->second);
    if (old == ifindex) return;
    if (ifindex) {
      connected[p] = *ifindex;
    } else {
      connected.erase(p);
    }
    if (old) refresh_hosts(*old, p);
    if (ifindex) refresh_hosts(*ifindex, p);
  }

  void refresh_hosts(int ifindex, const IpPrefix& p) {
    std::vector<NeighbourKey> keys;
    const NeighbourKey first{ifindex, IpAddress{}};
    for (auto it = st->neighbours.lower_bound(first);
         it != st->neighbours.end() && std::get<0>(it->first) == ifindex; ++it) {
      if (p.contains(std::get<1>(it->first))) keys.push_back(it->first);
    }
    for (auto it = hosts.lower_bound(first); it != hosts.end() && std::get<0>(it->first) == ifindex;
         ++it) {
      if (p.contains(std::get<1>(it->first))) keys.push_back(it->first);
    }
    for (const NeighbourKey& k : keys) apply_host(k);
  }

  // The longest connected subnet on `ifindex` holding `ip`.
  std::optional<std::uint8_t> connected_len(int ifindex, const IpAddress& ip) const {
    std::optional<std::uint8_t> best;
    for (const auto& [p, ifx] : connected) {
      if (ifx == ifindex && p.contains(ip) && (!best || p.len > *best)) best = p.len;
    }
    return best;
  }

  void apply_host(const NeighbourKey& nk) {
    const auto& [ifindex, ip] = nk;
    std::optional<HostValue> nv;
    auto n = st->neighbours.find(nk);
    if (n != st->neighbours.end() && neighbour_usable(n->second) && !(!ipv6() && ip.is_v6())) {
      if (auto len = connected_len(ifindex, ip)) {
        nv = HostValue{pipeline::priority::fib::host(*len),
                       acquire(indirect_key(ifindex, ip)).first};
      }
    }
    auto it = hosts.find(nk);
    std::optional<HostValue> old =
        it == hosts.end() ? std::nullopt : std::optional<HostValue>(it->second);
    host_dirty.try_emplace(nk, old);
    if (nv) {
      hosts[nk] = *nv;
    } else if (it != hosts.end()) {
      hosts.erase(it);
    }
    if (old) release(old->group);
  }

  // --- diff ---

  static FibFlow route_flow(const IpPrefix& p, const RouteValue& v) {
    return FibFlow{FibFlowKind::kRoute, p, pipeline::priority::fib::route(p.len),
                   static_cast<FibAction>(v.action), v.group};
  }
  static FibFlow host_flow(const NeighbourKey& nk, const HostValue& v) {
    const IpAddress& ip = std::get<1>(nk);
    return FibFlow{FibFlowKind::kHost, IpPrefix{ip, static_cast<std::uint8_t>(ip.is_v4() ? 32 : 128)},
                   v.priority, FibAction::kGroup, v.group};
  }

  // Groups whose 1.0 inlined actions changed: changed indirect groups and the
  // groups whose first member is one of them.
  std::set<std::uint32_t> flat_changed(const FibDiff& d) const {
    std::set<std::uint32_t> s(d.groups_added.begin(), d.groups_added.end());
    s.insert(d.groups_changed.begin(), d.groups_changed.end());
    s.insert(d.groups_removed.begin(), d.groups_removed.end());
    if (s.empty()) return s;
    for (const auto& [id, g] : groups) {
      if (g.key.kind != GroupKey::kIndirect && !g.content.members.empty() &&
          s.contains(g.content.members[0].first)) {
        s.insert(id);
      }
    }
    return s;
  }

  // Sorts added groups members-first and removed groups members-last.
  void order_groups(FibDiff& d, const std::map<std::uint32_t, GroupKey::Kind>& removed_kinds) const {
    auto kind_of = [&](std::uint32_t id) {
      auto g = groups.find(id);
      if (g != groups.end()) return g->second.key.kind;
      auto r = removed_kinds.find(id);
      return r != removed_kinds.end() ? r->second : GroupKey::kIndirect;
    };
    auto members_first = [&](std::uint32_t a, std::uint32_t b) {
      const bool ia = kind_of(a) == GroupKey::kIndirect, ib = kind_of(b) == GroupKey::kIndirect;
      return ia != ib ? ia : a < b;
    };
    std::sort(d.groups_added.begin(), d.groups_added.end(), members_first);
    std::sort(d.groups_changed.begin(), d.groups_changed.end(), members_first);
    std::sort(d.groups_removed.begin(), d.groups_removed.end(),
              [&](std::uint32_t a, std::uint32_t b) { return members_first(b, a); });
  }

  FibDiff finish_groups() {
    FibDiff d;
    std::map<std::uint32_t, GroupKey::Kind> removed_kinds;
    for (const auto& [id, old] : group_dirty) {
      auto cur = groups.find(id);
      if (old && cur != groups.end()) {
        if (!(old->content == cur->second.content)) d.groups_changed.push_back(id);
      } else if (cur != groups.end()) {
        d.groups_added.push_back(id);
      } else if (old) {
        d.groups_removed.push_back(id);
        removed_kinds.emplace(id, old->key.kind);
      }
    }
    group_dirty.clear();
    order_groups(d, removed_kinds);
    return d;
  }

  // --- compression ---

  // A connected subnet is pinned (its host flows sit just above it): its key
  // is its own (bit 63, its length and a hash of it above the value's bits).
  ActionKey key_of(const IpPrefix& p, const RouteValue& v) const {
    ActionKey k = (ActionKey{v.action} << 32) | v.group;
    if (connected.contains(p)) {
      std::uint64_t h = p.len;
      for (std::uint8_t b : p.addr.bytes) h = h * 131 + b;
      k |= (ActionKey{1} << 63) | (ActionKey{p.len} << 40) | ((h & 0x7fff) << 48);
    }
    return k;
  }
  static RouteValue value_of(ActionKey k) {
    return RouteValue{static_cast<std::uint32_t>(k), static_cast<std::uint8_t>(k >> 32)};
  }
  static bool pinned(ActionKey k) { return (k >> 63) != 0; }

  // The route flows of `d` (route-level changes) go through the compressor;
  // what the switch must change comes back in their place: the net effect of
  // the batch on the compressed set. `flat` (inline actions): groups whose
  // actions changed; the entries using them are rewritten.
  void compress_flows(FibDiff& d, const std::set<std::uint32_t>& flat) {
    if (!compressing) return;
    std::map<IpPrefix, std::optional<ActionKey>> before;  // first sight in this batch
    CompressDiff cd;
    auto note = [&](const IpPrefix& p) {
      if (before.contains(p)) return;
      auto it = emitted.find(p);
      before.emplace(p, it == emitted.end() ? std::nullopt : std::optional<ActionKey>(it->second));
    };
    auto absorb = [&] {
      for (const auto& e : cd.added) { note(e.prefix); emitted[e.prefix] = e.action; }
      for (const auto& e : cd.changed) { note(e.prefix); emitted[e.prefix] = e.action; }
      for (const auto& p : cd.removed) { note(p); emitted.erase(p); }
    };
    auto take = [&](std::vector<FibFlow>& flows, bool remove) {
      std::vector<FibFlow> keep;
      for (const FibFlow& f : flows) {
        if (f.kind != FibFlowKind::kRoute) {
          keep.push_back(f);
          continue;
        }
        const RouteValue v{f.group, static_cast<std::uint8_t>(f.action)};
        if (remove) {
          compressor.erase(f.prefix, cd);
        } else {
          const ActionKey k = key_of(f.prefix, v);
          compressor.set(f.prefix, k, pinned(k), cd);
        }
        absorb();
      }
      flows = std::move(keep);
    };
    take(d.flows_removed, true);
    take(d.flows_changed, false);
    take(d.flows_added, false);
    for (const auto& [p, old] : before) {
      auto now = emitted.find(p);
      if (now == emitted.end()) {
        if (old) d.flows_removed.push_back(route_flow(p, value_of(*old)));
      } else if (!old) {
        d.flows_added.push_back(route_flow(p, value_of(now->second)));
      } else if (*old != now->second) {
        d.flows_changed.push_back(route_flow(p, value_of(now->second)));
      } else if (flat.contains(value_of(now->second).group)) {
        d.flows_changed.push_back(route_flow(p, value_of(now->second)));
      }
    }
    if (!flat.empty()) {
      for (const auto& [p, k] : emitted) {
        const RouteValue v = value_of(k);
        if (!before.contains(p) && v.action == static_cast<std::uint8_t>(FibAction::kGroup) &&
            flat.contains(v.group)) {
          d.flows_changed.push_back(route_flow(p, v));
        }
      }
    }
  }

  template <typename F>
  void for_each_route(F&& f) const {
    v4.entries.for_each([&](V4Key k, const RouteValue& v) { f(prefix_of(k), v); });
    v6.entries.for_each([&](const V6Key& k, const RouteValue& v) { f(prefix_of(k), v); });
  }

  // Compression on or off: the route flows the switch holds move from one
  // form to the other (only what differs).
  FibDiff set_compress(bool on) {
    FibDiff d;
    if (on == compressing) return d;
    std::map<IpPrefix, RouteValue> routes;
    for_each_route([&](const IpPrefix& p, const RouteValue& v) { routes.emplace(p, v); });
    CompressDiff cd;
    compressor.clear(cd);
    std::map<IpPrefix, ActionKey> entries;
    if (on) {
      for (const auto& [p, v] : routes) {
        const ActionKey k = key_of(p, v);
        compressor.set(p, k, pinned(k), cd);
      }
      for (const CompressedEntry& e : compressor.entries()) entries.emplace(e.prefix, e.action);
    }
    // The route flows the switch holds now, and those it must hold.
    std::map<IpPrefix, RouteValue> compressed;
    for (const auto& [p, k] : on ? entries : emitted) compressed.emplace(p, value_of(k));
    const std::map<IpPrefix, RouteValue>& from = on ? routes : compressed;
    const std::map<IpPrefix, RouteValue>& to = on ? compressed : routes;
    for (const auto& [p, v] : to) {
      auto it = from.find(p);
      if (it == from.end()) {
        d.flows_added.push_back(route_flow(p, v));
      } else if (!(it->second == v)) {
        d.flows_changed.push_back(route_flow(p, v));
      }
    }
    for (const auto& [p, v] : from) {
      if (!to.contains(p)) d.flows_removed.push_back(route_flow(p, v));
    }
    compressing = on;
    emitted = on ? std::move(entries) : std::map<IpPrefix, ActionKey>{};
    return d;
  }

  void diff_hosts(FibDiff& d, const std::set<std::uint32_t>& flat) {
    for (const auto& [nk, old] : host_dirty) {
      auto cur = hosts.find(nk);
      if (old && cur != hosts.end()) {
        if (old->priority != cur->second.priority) {
          d.flows_removed.push_back(host_flow(nk, *old));
          d.flows_added.push_back(host_flow(nk, cur->second));
        } else if (!(*old == cur->second)) {
          d.flows_changed.push_back(host_flow(nk, cur->second));
        }
      } else if (cur != hosts.end()) {
        d.flows_added.push_back(host_flow(nk, cur->second));
      } else if (old) {
        d.flows_removed.push_back(host_flow(nk, *old));
      }
    }
    if (!flat.empty()) {
      for (const auto& [nk, v] : hosts) {
        auto dirty = host_dirty.find(nk);
        const bool same = dirty == host_dirty.end() || (dirty->second && *dirty->second == v);
        if (same && flat.contains(v.group)) d.flows_changed.push_back(host_flow(nk, v));
      }
    }
    host_dirty.clear();
  }

  template <typename Table>
  void diff_dirty(Table& t, FibDiff& d, const std::set<std::uint32_t>& flat) {
    t.dirty.for_each([&](const auto& k, const DirtyValue& dv) {
      const RouteValue* cur = t.entries.find(k);
      const bool had = dv.tag == 1;
      if (had && cur) {
        if (!(dv.old == *cur)) d.flows_changed.push_back(route_flow(prefix_of(k), *cur));
      } else if (cur) {
        d.flows_added.push_back(route_flow(prefix_of(k), *cur));
      } else if (had) {
        d.flows_removed.push_back(route_flow(prefix_of(k), dv.old));
      }
    });
    if (!flat.empty()) {
      t.entries.for_each([&](const auto& k, const RouteValue& v) {
        if (v.action != static_cast<std::uint8_t>(FibAction::kGroup) || !flat.contains(v.group)) {
          return;
        }
        const DirtyValue* dv = t.dirty.find(k);
        if (!dv || (dv->tag == 1 && dv->old == v)) {
          d.flows_changed.push_back(route_flow(prefix_of(k), v));
        }
      });
    }
    t.dirty.clear();
  }

  template <typename Map>
  static void diff_full(const Map& old, const Map& cur, FibDiff& d,
                        const std::set<std::uint32_t>& flat) {
    cur.for_each([&](const auto& k, const RouteValue& v) {
      const RouteValue* o = old.find(k);
      if (!o) {
        d.flows_added.push_back(route_flow(prefix_of(k), v));
      } else if (!(*o == v) || (v.action == static_cast<std::uint8_t>(FibAction::kGroup) &&
                                flat.contains(v.group))) {
        d.flows_changed.push_back(route_flow(prefix_of(k), v));
      }
    });
    old.for_each([&](const auto& k, const RouteValue& v) {
      if (!cur.find(k)) d.flows_removed.push_back(route_flow(prefix_of(k), v));
    });
  }

  void finish_miss(FibDiff& d) {
    if (single_table() || miss_installed) return;
    miss_installed = true;
    d.flows_added.push_back(FibFlow{FibFlowKind::kMiss, IpPrefix{}, pipeline::priority::fib::kMiss,
                                    FibAction::kController, 0});
  }

  void strip_groups_when_inline(FibDiff& d) const {
    if (!inline_actions()) return;
    d.groups_added.clear();
    d.groups_changed.clear();
    d.groups_removed.clear();
  }

  // --- entry points ---

  FibDiff set_l2_location(int ifindex, const MacAddress& mac, std::optional<L2Location> where,
                          const KernelState& state) {
    if (where) {
      l2.insert_or_assign({ifindex, mac}, *where);
    } else {
      l2.erase({ifindex, mac});
    }
    auto p = ports.find(ifindex);
    if (p == ports.end() || p->second.vlan == 0 || groups.empty()) return {};
    st = &state;
    // The neighbours on that TAP with that MAC (usually one per family).
    std::vector<NeighbourKey> keys;
    for (auto it = state.neighbours.lower_bound(NeighbourKey{ifindex, IpAddress{}});
         it != state.neighbours.end() && std::get<0>(it->first) == ifindex; ++it) {
      if (it->second.mac == mac) keys.push_back(it->first);
    }
    for (const NeighbourKey& nk : keys) refresh_indirect(nk);
    FibDiff d = finish_groups();
    alloc.end_batch();
    st = nullptr;
    return d;
  }

  FibDiff update(const KernelState& state, const netns::Changes& ch) {
    st = &state;
    for (const RouteKey& rk : ch.routes) apply_route_key(rk);
    if (!ch.nexthop_objects.empty()) refresh_objects();
    for (const NeighbourKey& nk : ch.neighbours) {
      refresh_indirect(nk);
      apply_host(nk);
    }
    FibDiff d = finish_groups();
    const std::set<std::uint32_t> flat = inline_actions() ? flat_changed(d) : std::set<std::uint32_t>{};
    diff_dirty(v4, d, flat);
    diff_dirty(v6, d, flat);
    diff_hosts(d, flat);
    compress_flows(d, flat);
    finish_miss(d);
    strip_groups_when_inline(d);
    alloc.end_batch();
    st = nullptr;
    return d;
  }

  FibDiff compile(const KernelState& state) {
    st = &state;
    // Start from nothing but keep the allocator's keys, so surviving groups
    // keep their ids; what is not rebuilt is released at the end.
    for (const auto& [id, g] : groups) note_group(id, &g);
    groups.clear();
    for (const auto& [nk, v] : hosts) host_dirty.try_emplace(nk, v);
    hosts.clear();
    connected.clear();
    auto old4 = std::move(v4.entries);
    auto old6 = std::move(v6.entries);
    v4.entries = {};
    v6.entries = {};
    v4.dirty.clear();
    v6.dirty.clear();

    const bool one_table = opts.tables.size() == 1;
    const Route* last = nullptr;
    for (const Route& r : state.routes) {
      const std::uint32_t table = r.table;
      const std::uint8_t family = r.dst.addr.family;
      const IpPrefix& dst = r.dst;
      if (r.tos != 0 || !table_followed(table)) continue;
      // Same (table, family, dst) with a higher metric: already decided.
      if (last && last->table == table && last->dst == dst) continue;
      last = &r;
      Compiled c;
      if (family == AF_INET) {
        if (!one_table && v4.entries.find(key4(dst))) continue;
        c = one_table ? (prefix_ignored(family, dst) ? Compiled{} : compile_route(r))
                      : compile_prefix(family, dst);
        if (c.value.used()) v4.entries.set(key4(dst), c.value);
      } else if (family == AF_INET6 && ipv6()) {
        if (!one_table && v6.entries.find(key6(dst))) continue;
        c = one_table ? (prefix_ignored(family, dst) ? Compiled{} : compile_route(r))
                      : compile_prefix(family, dst);
        if (c.value.used()) v6.entries.set(key6(dst), c.value);
      }
      if (c.connected) connected[dst] = *c.connected;
    }
    for (const auto& [p, ifindex] : connected) {
      const NeighbourKey first{ifindex, IpAddress{}};
      for (auto it = state.neighbours.lower_bound(first);
           it != state.neighbours.end() && std::get<0>(it->first) == ifindex; ++it) {
        if (p.contains(std::get<1>(it->first)) && !hosts.contains(it->first)) apply_host(it->first);
      }
    }
    for (const auto& [id, old] : group_dirty) {
      if (old && !groups.contains(id)) alloc.release(old->key);
    }

    FibDiff d = finish_groups();
    const std::set<std::uint32_t> flat = inline_actions() ? flat_changed(d) : std::set<std::uint32_t>{};
    diff_full(old4, v4.entries, d, flat);
    diff_full(old6, v6.entries, d, flat);
    diff_hosts(d, flat);
    compress_flows(d, flat);
    finish_miss(d);
    strip_groups_when_inline(d);
    alloc.end_batch();
    st = nullptr;
    return d;
  }

  // --- rendering ---

  // A resolved neighbour: rewrite the MACs, decrement the TTL (where the
  // profile has it), tag (VLAN egress), out.
  ActionList next_hop_actions(const GroupContent& c) const {
    ActionList a{action::SetField{oxm::eth_src(c.src)}, action::SetField{oxm::eth_dst(c.dst)}};
    if (dec_ttl()) a.push_back(action::DecNwTtl{});
    if (c.push_vid != 0) {
      a.push_back(action::PushVlan{0x8100});
      a.push_back(action::SetField{oxm::vlan_vid(static_cast<std::uint16_t>(c.push_vid | kVlanPresent))});
    }
    a.push_back(action::Output{c.port, 0});
    return a;
  }

  ActionList flat_actions(std::uint32_t id) const {
    auto it = groups.find(id);
    if (it == groups.end()) return {to_controller()};
    const GroupContent& c = it->second.content;
    if (it->second.key.kind == GroupKey::kIndirect) {
      if (!c.resolved) return {to_controller()};
      return next_hop_actions(c);
    }
    if (c.to_controller) return {to_controller()};
    if (c.members.empty()) return {};
    return flat_actions(c.members[0].first);
  }
};

FibCompiler::FibCompiler(FibOptions options, RouterPorts ports)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_, std::move(ports))) {}
FibCompiler::~FibCompiler() = default;

FibDiff FibCompiler::compile(const KernelState& state) { return impl_->compile(state); }

FibDiff FibCompiler::update(const KernelState& state, const netns::Changes& changes) {
  if (changes.full_resync) return impl_->compile(state);
  return impl_->update(state, changes);
}

FibDiff FibCompiler::set_ports(RouterPorts ports, const KernelState& state) {
  impl_->ports = usable_ports(std::move(ports), options_.version);
  return impl_->compile(state);
}

FibDiff FibCompiler::set_l2_location(int ifindex, const MacAddress& mac,
                                     std::optional<L2Location> where, const KernelState& state) {
  return impl_->set_l2_location(ifindex, mac, where, state);
}

FlowMod FibCompiler::render(const FibFlow& flow, std::uint8_t command) const {
  FlowMod f;
  f.command = command;
  f.cookie = flow.kind == FibFlowKind::kRoute  ? pipeline::cookie::kRoute
             : flow.kind == FibFlowKind::kHost ? pipeline::cookie::kHost
                                               : pipeline::cookie::kFibMiss;
  f.table_id = table_id();
  f.priority = flow.priority;
  f.buffer_id = kNoBuffer;
  const IpPrefix& p = flow.prefix;
  if (flow.kind != FibFlowKind::kMiss) {
    if (p.addr.is_v4()) {
      f.match.add(oxm::eth_type(kEthIpv4));
      if (p.len > 0) {
        const std::uint32_t mask = p.len >= 32 ? 0xffffffffu : ~(0xffffffffu >> p.len);
        f.match.add(oxm::ipv4_dst(p.addr.v4_host_order(), mask));
      }
    } else {
      f.match.add(oxm::eth_type(kEthIpv6));
      std::span<const std::uint8_t, 16> bytes(p.addr.bytes);
      if (p.len >= 128) {
        f.match.add(oxm::ipv6_dst(bytes));
      } else if (p.len > 0) {
        const auto mask = v6_mask(p.len);
        f.match.add(oxm::ipv6_dst(bytes, std::span<const std::uint8_t, 16>(mask)));
      }
    }
  }
  if (command == flow_mod_command::kDelete || command == flow_mod_command::kDeleteStrict) {
    return f;
  }
  switch (flow.action) {
    case FibAction::kController:
      f.instructions = {instruction::ApplyActions{{to_controller()}}};
      break;
    case FibAction::kDrop:
      break;
    case FibAction::kGroup:
      f.instructions = {instruction::ApplyActions{
          impl_->inline_actions() ? impl_->flat_actions(flow.group) : ActionList{action::Group{flow.group}}}};
      break;
  }
  return f;
}

GroupMod FibCompiler::render_group(std::uint32_t id, std::uint16_t command) const {
  GroupMod g;
  g.command = command;
  g.group_id = id;
  auto it = impl_->groups.find(id);
  if (it == impl_->groups.end()) return g;
  const GroupContent& c = it->second.content;
  if (it->second.key.kind == GroupKey::kIndirect) {
    g.type = group_type::kIndirect;
    Bucket b;
    if (c.resolved) {
      b.actions = impl_->next_hop_actions(c);
    } else {
      b.actions = {to_controller()};
    }
    g.buckets.push_back(std::move(b));
    return g;
  }
  if (!options_.select_groups) {
    // No select groups: chained to the first next hop's group.
    g.type = group_type::kIndirect;
    Bucket b;
    if (c.to_controller) {
      b.actions = {to_controller()};
    } else if (!c.members.empty()) {
      b.actions = {action::Group{c.members.front().first}};
    }
    g.buckets.push_back(std::move(b));
    return g;
  }
  g.type = group_type::kSelect;
  if (c.to_controller) {
    Bucket b;
    b.weight = 1;
    b.actions = {to_controller()};
    g.buckets.push_back(std::move(b));
    return g;
  }
  for (const auto& [member, weight] : c.members) {
    Bucket b;
    b.weight = weight;
    b.actions = {action::Group{member}};
    g.buckets.push_back(std::move(b));
  }
  return g;
}

GroupMod FibCompiler::delete_group(std::uint32_t id) {
  GroupMod g;
  g.command = group_mod_command::kDelete;
  g.group_id = id;
  return g;
}

std::vector<FibFlow> FibCompiler::flows() const {
  std::vector<FibFlow> out;
  out.reserve(flow_count());
  if (impl_->miss_installed) {
    out.push_back(FibFlow{FibFlowKind::kMiss, IpPrefix{}, pipeline::priority::fib::kMiss,
                          FibAction::kController, 0});
  }
  if (impl_->compressing) {
    for (const auto& [p, k] : impl_->emitted) out.push_back(Impl::route_flow(p, Impl::value_of(k)));
  } else {
    impl_->for_each_route(
        [&](const IpPrefix& p, const RouteValue& v) { out.push_back(Impl::route_flow(p, v)); });
  }
  for (const auto& [nk, v] : impl_->hosts) out.push_back(Impl::host_flow(nk, v));
  std::sort(out.begin(), out.end(), [](const FibFlow& a, const FibFlow& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.prefix < b.prefix;
  });
  return out;
}

FibSnapshot FibCompiler::snapshot() const {
  FibSnapshot s;
  if (!impl_->inline_actions()) {
    for (const auto& [id, g] : impl_->groups) s.groups.emplace(id, render_group(id));
  }
  for (const FibFlow& f : flows()) s.flows.push_back(render(f));
  return s;
}

std::vector<std::uint32_t> FibCompiler::group_ids() const {
  std::vector<std::uint32_t> ids;
  if (impl_->inline_actions()) return ids;
  ids.reserve(impl_->groups.size());
  for (const auto& [id, g] : impl_->groups) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::size_t FibCompiler::flow_count() const {
  const std::size_t routes =
      impl_->compressing ? impl_->emitted.size() : impl_->v4.entries.size() + impl_->v6.entries.size();
  return routes + impl_->hosts.size() + (impl_->miss_installed ? 1 : 0);
}

std::size_t FibCompiler::uncompressed_flow_count() const {
  return impl_->v4.entries.size() + impl_->v6.entries.size() + impl_->hosts.size() +
         (impl_->miss_installed ? 1 : 0);
}

std::size_t FibCompiler::route_count() const {
  return impl_->v4.entries.size() + impl_->v6.entries.size();
}

bool FibCompiler::compressing() const { return impl_->compressing; }

FibDiff FibCompiler::set_compress(bool on) { return impl_->set_compress(on); }

std::size_t FibCompiler::group_count() const {
  return impl_->inline_actions() ? 0 : impl_->groups.size();
}

std::uint8_t FibCompiler::table_id() const {
  return impl_->single_table() ? pipeline::table::kIngress : options_.fib_table;
}

bool FibCompiler::uses_groups() const { return !impl_->inline_actions(); }

std::size_t FibCompiler::memory_bytes() const {
  // std::map nodes: about 48 bytes of node and allocator overhead besides the value.
  constexpr std::size_t kNode = 48;
  std::size_t n = impl_->v4.entries.memory_bytes() + impl_->v6.entries.memory_bytes();
  if (impl_->compressing) {
    n += impl_->compressor.memory_bytes() +
         impl_->emitted.size() * (kNode + sizeof(IpPrefix) + sizeof(ActionKey));
  }
  n += impl_->connected.size() * (kNode + sizeof(IpPrefix) + sizeof(int));
  n += impl_->hosts.size() * (kNode + sizeof(NeighbourKey) + sizeof(HostValue));
  n += impl_->l2.size() * (kNode + sizeof(std::pair<int, MacAddress>) + sizeof(L2Location));
  for (const auto& [id, g] : impl_->groups) {
    n += 2 * (kNode + sizeof(GroupKey) + sizeof(std::uint32_t)) + sizeof(GroupEntry) +
         2 * g.key.members.size() * sizeof(g.key.members[0]);
  }
  return n;
}

}  // namespace tapflow::routing
