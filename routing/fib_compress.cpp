// FIB prefix compressor: routes -> a smaller set of LPM entries that forwards
// identically, kept incrementally. See fib_compress.hpp for the rules.
//
// Per family a path-compressed binary trie: a node exists for every route and
// for every prefix where routes below branch both ways; node 0 is the /0 root
// and always exists. Each node caches uniform(v) (an action id, MISS, or
// kNonUniform). On a compressed edge P -> C the skipped prefixes hold no route
// and have one empty half, so each of them is uniform iff C is uniform with
// value(P); this is why emitted entries only ever sit on nodes, and why
// value(binary parent of C) = value(P).
//
// The region a change at p can affect (ancestors of p, their children, p and
// what below p inherits from p, see collect()) is defined on prefixes, not on
// nodes, so the same region is read before and after a change even when the
// change adds or removes nodes; everything outside it keeps its entry.
#include "tapflow/routing/fib_compress.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <unordered_map>

namespace tapflow::routing {

using netns::IpAddress;
using netns::IpPrefix;

void CompressDiff::clear() {
  added.clear();
  changed.clear();
  removed.clear();
}

namespace {

constexpr std::uint32_t kNone = 0;  // no child; no route; MISS
constexpr std::uint32_t kNonUniform = 0xffffffffu;

struct V6Key {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const V6Key&) const = default;
};

template <typename K>
struct KeyOps;

template <>
struct KeyOps<std::uint32_t> {
  static constexpr unsigned kBits = 32;
  static unsigned bit(std::uint32_t k, unsigned i) { return (k >> (31 - i)) & 1u; }
  static std::uint32_t mask(std::uint32_t k, unsigned len) {
    return len == 0 ? 0 : k & (~std::uint32_t{0} << (32 - len));
  }
  // How many leading bits a and b share.
  static unsigned common(std::uint32_t a, std::uint32_t b) {
    return static_cast<unsigned>(std::countl_zero(a ^ b));
  }
  static std::uint32_t from(const IpAddress& a) { return a.v4_host_order(); }
  static IpAddress to(std::uint32_t k) { return IpAddress::v4(k); }
};

template <>
struct KeyOps<V6Key> {
  static constexpr unsigned kBits = 128;
  static unsigned bit(const V6Key& k, unsigned i) {
    return i < 64 ? (k.hi >> (63 - i)) & 1u : (k.lo >> (127 - i)) & 1u;
  }
  static V6Key mask(const V6Key& k, unsigned len) {
    if (len == 0) return {};
    if (len <= 64) return {k.hi & (~std::uint64_t{0} << (64 - len)), 0};
    return {k.hi, k.lo & (~std::uint64_t{0} << (128 - len))};
  }
  static unsigned common(const V6Key& a, const V6Key& b) {
    if (a.hi != b.hi) return static_cast<unsigned>(std::countl_zero(a.hi ^ b.hi));
    return 64 + static_cast<unsigned>(std::countl_zero(a.lo ^ b.lo));
  }
  static V6Key from(const IpAddress& a) {
    V6Key k;
    for (int i = 0; i < 8; ++i) k.hi = (k.hi << 8) | a.bytes[static_cast<std::size_t>(i)];
    for (int i = 8; i < 16; ++i) k.lo = (k.lo << 8) | a.bytes[static_cast<std::size_t>(i)];
    return k;
  }
  static IpAddress to(const V6Key& k) {
    std::uint8_t b[16];
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<std::uint8_t>(k.hi >> (56 - 8 * i));
      b[8 + i] = static_cast<std::uint8_t>(k.lo >> (56 - 8 * i));
    }
    return IpAddress::v6(b);
  }
};

// Action keys interned to 32-bit ids (0 = MISS), counted by the routes that
// use them; an id is freed with its last route.
class ActionTable {
 public:
  std::uint32_t acquire(ActionKey key) {
    auto [it, inserted] = ids_.try_emplace(key, 0);
    if (inserted) {
      if (free_.empty()) {
        it->second = static_cast<std::uint32_t>(slots_.size());
        slots_.push_back({key, 0});
      } else {
        it->second = free_.back();
        free_.pop_back();
        slots_[it->second] = {key, 0};
      }
    }
    ++slots_[it->second].refs;
    return it->second;
  }
  void release(std::uint32_t id) {
    if (--slots_[id].refs == 0) {
      ids_.erase(slots_[id].key);
      free_.push_back(id);
    }
  }
  ActionKey key(std::uint32_t id) const { return slots_[id].key; }
  void clear() {
    slots_.resize(1);
    free_.clear();
    ids_.clear();
  }
  std::size_t memory_bytes() const {
    return slots_.capacity() * sizeof(Slot) + free_.capacity() * sizeof(std::uint32_t) +
           ids_.bucket_count() * sizeof(void*) + ids_.size() * 32;
  }

 private:
  struct Slot {
    ActionKey key = 0;
    std::uint32_t refs = 0;
  };
  std::vector<Slot> slots_{Slot{}};  // slot 0: MISS
  std::vector<std::uint32_t> free_;
  std::unordered_map<ActionKey, std::uint32_t> ids_;
};

// One compressed entry inside a trie, before it becomes an IpPrefix.
template <typename K>
struct Item {
  K key{};
  std::uint8_t len = 0;
  ActionKey action = 0;
};

template <typename K>
class Trie {
 public:
  using Ops = KeyOps<K>;

  Trie() { clear(); }

  // Both return whether a route changed; `diff` gets the entry changes.
  bool set(const K& raw, unsigned len, ActionKey action, bool pinned, ActionTable& actions,
           CompressDiff& diff) {
    const K key = Ops::mask(raw, len);
    const std::uint32_t found = find(key, len);
    if (found != kNone || len == 0) {
      const Node& n = nodes_[found];
      if (n.route != kNone && actions.key(n.route) == action && n.pinned == pinned) return false;
    }
    collect(key, len, actions, before_);
    const std::uint32_t id = actions.acquire(action);
    const std::uint32_t x = insert(key, len);
    const std::uint32_t old = nodes_[x].route;
    nodes_[x].route = id;
    nodes_[x].pinned = pinned;
    if (old != kNone) {
      actions.release(old);
    } else {
      ++routes_;
    }
    refresh(key, len);
    collect(key, len, actions, after_);
    make_diff(diff);
    return true;
  }

  bool erase(const K& raw, unsigned len, ActionTable& actions, CompressDiff& diff) {
    const K key = Ops::mask(raw, len);
    const std::uint32_t x = find(key, len);  // fills path_
    if ((x == kNone && len != 0) || nodes_[x].route == kNone) return false;
    collect(key, len, actions, before_);
    actions.release(nodes_[x].route);
    nodes_[x].route = kNone;
    nodes_[x].pinned = false;
    --routes_;
    unlink_if_useless(x);
    refresh(key, len);
    collect(key, len, actions, after_);
    make_diff(diff);
    return true;
  }

  // Every entry, in prefix order (pre-order of the trie is (address, length)).
  void entries(const ActionTable& actions, std::vector<Item<K>>& out) const {
    walk(0, kTop, actions, out, ~0u);
  }

  void clear() {
    nodes_.assign(1, Node{});
    free_head_ = kNone;
    routes_ = 0;
  }
  std::size_t routes() const { return routes_; }
  std::size_t memory_bytes() const {
    return nodes_.capacity() * sizeof(Node) +
           (path_.capacity() + before_.capacity() + after_.capacity()) * sizeof(Item<K>);
  }

 private:
  struct Node {
    K key{};
    std::uint32_t child[2] = {kNone, kNone};
    std::uint32_t route = kNone;    // action id of the route at exactly this prefix
    std::uint32_t uniform = kNone;  // action id (or MISS) if all of it forwards so
    std::uint8_t len = 0;
    bool pinned = false;
  };
  // What emit() needs to know of a node's trie parent.
  struct Parent {
    std::uint32_t value;    // value(parent): its route, or what covers it
    std::uint32_t uniform;  // uniform(parent)
    int len;                // its prefix length (-1 above the root)
  };
  static constexpr Parent kTop{kNone, kNonUniform, -1};

  static Parent below(const Node& n, const Parent& par) {
    return {n.route != kNone ? n.route : par.value, n.uniform, n.len};
  }

  // The action id node q is emitted with, or kNone.
  std::uint32_t emitted(const Node& n, const Parent& par) const {
    if (n.uniform != kNonUniform) {
      const std::uint32_t a = n.uniform;
      if (a == kNone || a == par.value) return kNone;
      // Directly below a uniform parent: the parent (or higher) covers it.
      if (n.len == par.len + 1 && par.uniform != kNonUniform) return kNone;
      return a;
    }
    if (n.route == kNone || (!n.pinned && n.route == par.value)) return kNone;
    return n.route;
  }

  void emit(std::uint32_t q, const Parent& par, const ActionTable& actions,
            std::vector<Item<K>>& out) const {
    const Node& n = nodes_[q];
    if (const std::uint32_t a = emitted(n, par); a != kNone) {
      out.push_back({n.key, n.len, actions.key(a)});
    }
  }

  // Pre-order walk from q; stops below any route other than at length
  // `plen` (~0u: never stops).
  void walk(std::uint32_t q, const Parent& par, const ActionTable& actions,
            std::vector<Item<K>>& out, unsigned plen) const {
    emit(q, par, actions, out);
    const Node& n = nodes_[q];
    if (plen != ~0u && n.route != kNone && n.len != plen) return;
    const Parent next = below(n, par);
    for (std::uint32_t c : n.child) {
      if (c != kNone) walk(c, next, actions, out, plen);
    }
  }

  // Where child C (reached from a proper ancestor of p) stands relative to p.
  enum class Rel { kAncestorOrSelf, kInside, kApart };
  static Rel relate(const Node& c, const K& key, unsigned len, unsigned& diverge) {
    const unsigned d = std::min({Ops::common(c.key, key), unsigned{c.len}, len});
    diverge = d;
    if (d == c.len) return Rel::kAncestorOrSelf;  // c.len <= len
    if (d == len) return Rel::kInside;            // len < c.len
    return Rel::kApart;
  }

  // The entries of the region a change at p can touch: proper ancestors of p,
  // their children, and the prefixes inside p not strictly below another
  // route. Outside it neither uniform(v), value(parent), uniform(parent) nor
  // v's route change, so neither does v's entry.
  void collect(const K& key, unsigned len, const ActionTable& actions,
               std::vector<Item<K>>& out) const {
    out.clear();
    Parent par = kTop;
    std::uint32_t cur = 0;
    for (;;) {
      const Node& n = nodes_[cur];
      if (n.len == len) {
        walk(cur, par, actions, out, len);
        break;
      }
      emit(cur, par, actions, out);
      const Parent next = below(n, par);
      const unsigned b = Ops::bit(key, n.len);
      if (const std::uint32_t o = n.child[b ^ 1]; o != kNone && nodes_[o].len == n.len + 1) {
        emit(o, next, actions, out);  // p's ancestor's other child
      }
      const std::uint32_t c = n.child[b];
      if (c == kNone) break;
      unsigned d = 0;
      const Rel rel = relate(nodes_[c], key, len, d);
      if (rel == Rel::kAncestorOrSelf) {
        par = next;
        cur = c;
        continue;
      }
      if (rel == Rel::kInside) {
        walk(c, next, actions, out, len);
      } else if (d + 1 == nodes_[c].len) {
        emit(c, next, actions, out);  // its binary parent is an ancestor of p
      }
      break;
    }
    std::sort(out.begin(), out.end(), [](const Item<K>& a, const Item<K>& b) {
      return a.key != b.key ? a.key < b.key : a.len < b.len;
    });
  }

  void make_diff(CompressDiff& diff) const {
    auto prefix = [](const Item<K>& i) { return IpPrefix{Ops::to(i.key), i.len}; };
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < before_.size() || j < after_.size()) {
      if (j == after_.size() || (i < before_.size() && (before_[i].key != after_[j].key
                                                            ? before_[i].key < after_[j].key
                                                            : before_[i].len < after_[j].len))) {
        diff.removed.push_back(prefix(before_[i++]));
      } else if (i == before_.size() || before_[i].key != after_[j].key ||
                 before_[i].len != after_[j].len) {
        diff.added.push_back({prefix(after_[j]), after_[j].action});
        ++j;
      } else {
        if (before_[i].action != after_[j].action) {
          diff.changed.push_back({prefix(after_[j]), after_[j].action});
        }
        ++i;
        ++j;
      }
    }
  }

  // The node of exactly (key, len), or kNone (0 is also the root: callers
  // check len == 0). path_ gets the proper ancestors that exist.
  std::uint32_t find(const K& key, unsigned len) {
    path_.clear();
    std::uint32_t cur = 0;
    for (;;) {
      const Node& n = nodes_[cur];
      if (n.len == len) return cur;
      path_.push_back(cur);
      const std::uint32_t c = n.child[Ops::bit(key, n.len)];
      if (c == kNone) return kNone;
      unsigned d = 0;
      if (relate(nodes_[c], key, len, d) != Rel::kAncestorOrSelf) return kNone;
      cur = c;
    }
  }

  std::uint32_t alloc(const K& key, unsigned len) {
    std::uint32_t i;
    if (free_head_ != kNone) {
      i = free_head_;
      free_head_ = nodes_[i].child[0];
    } else {
      i = static_cast<std::uint32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    nodes_[i] = Node{};
    nodes_[i].key = key;
    nodes_[i].len = static_cast<std::uint8_t>(len);
    return i;
  }
  void release_node(std::uint32_t i) {
    nodes_[i] = Node{};
    nodes_[i].child[0] = free_head_;
    free_head_ = i;
  }

  // The node of (key, len), created (with a branch node if needed) if absent.
  std::uint32_t insert(const K& key, unsigned len) {
    std::uint32_t cur = 0;
    for (;;) {
      if (nodes_[cur].len == len) return cur;
      const unsigned b = Ops::bit(key, nodes_[cur].len);
      const std::uint32_t c = nodes_[cur].child[b];
      if (c == kNone) {
        const std::uint32_t leaf = alloc(key, len);
        nodes_[cur].child[b] = leaf;
        return leaf;
      }
      unsigned d = 0;
      const Rel rel = relate(nodes_[c], key, len, d);
      if (rel == Rel::kAncestorOrSelf) {
        cur = c;
        continue;
      }
      if (rel == Rel::kInside) {  // p sits on the edge above c
        const std::uint32_t x = alloc(key, len);
        nodes_[x].child[Ops::bit(nodes_[c].key, len)] = c;
        nodes_[cur].child[b] = x;
        return x;
      }
      const std::uint32_t branch = alloc(Ops::mask(key, d), d);
      const std::uint32_t leaf = alloc(key, len);
      nodes_[branch].child[Ops::bit(key, d)] = leaf;
      nodes_[branch].child[Ops::bit(nodes_[c].key, d)] = c;
      nodes_[cur].child[b] = branch;
      return leaf;
    }
  }

  // After x lost its route (path_ = x's proper ancestors): drop x if it has
  // fewer than two children, and then its parent if that became a routeless
  // node with one child.
  void unlink_if_useless(std::uint32_t x) {
    if (x == 0) return;
    const Node n = nodes_[x];
    if (n.child[0] != kNone && n.child[1] != kNone) return;
    const std::uint32_t only = n.child[0] != kNone ? n.child[0] : n.child[1];
    const std::uint32_t p = path_.back();
    const unsigned slot = nodes_[p].child[0] == x ? 0 : 1;
    nodes_[p].child[slot] = only;
    release_node(x);
    if (only != kNone || p == 0 || nodes_[p].route != kNone) return;
    const std::uint32_t sibling = nodes_[p].child[slot ^ 1];
    const std::uint32_t gp = path_[path_.size() - 2];
    nodes_[gp].child[nodes_[gp].child[0] == p ? 0 : 1] = sibling;
    release_node(p);
  }

  void recompute(std::uint32_t q, std::uint32_t value_above) {
    Node& n = nodes_[q];
    if (n.pinned) {
      n.uniform = kNonUniform;
      return;
    }
    const std::uint32_t v = n.route != kNone ? n.route : value_above;
    std::uint32_t half[2];
    for (unsigned b = 0; b < 2; ++b) {
      const std::uint32_t c = n.child[b];
      if (c == kNone) {
        half[b] = v;
      } else if (nodes_[c].len == n.len + 1) {
        half[b] = nodes_[c].uniform;
      } else {  // the skipped prefixes: the empty half is v
        half[b] = nodes_[c].uniform == v ? v : kNonUniform;
      }
    }
    n.uniform = half[0] == half[1] ? half[0] : kNonUniform;
  }

  // Post-order recompute of what inherits from p (stops at other routes).
  void recompute_inside(std::uint32_t q, std::uint32_t value_above, unsigned plen) {
    const Node& n = nodes_[q];
    if (n.route != kNone && n.len != plen) return;
    const std::uint32_t v = n.route != kNone ? n.route : value_above;
    for (std::uint32_t c : n.child) {
      if (c != kNone) recompute_inside(c, v, plen);
    }
    recompute(q, value_above);
  }

  // Recomputes uniform() for the inside of p, then p's ancestors bottom-up.
  void refresh(const K& key, unsigned len) {
    values_.clear();
    path_.clear();
    std::uint32_t value = kNone;
    std::uint32_t cur = 0;
    for (;;) {
      const Node& n = nodes_[cur];
      if (n.len == len) {
        recompute_inside(cur, value, len);
        break;
      }
      path_.push_back(cur);
      values_.push_back(value);
      if (n.route != kNone) value = n.route;
      const std::uint32_t c = n.child[Ops::bit(key, n.len)];
      if (c == kNone) break;
      unsigned d = 0;
      const Rel rel = relate(nodes_[c], key, len, d);
      if (rel == Rel::kAncestorOrSelf) {
        cur = c;
        continue;
      }
      if (rel == Rel::kInside) recompute_inside(c, value, len);
      break;
    }
    for (std::size_t i = path_.size(); i-- > 0;) recompute(path_[i], values_[i]);
  }

  std::vector<Node> nodes_;
  std::uint32_t free_head_ = kNone;
  std::size_t routes_ = 0;
  // Scratch, kept to avoid allocating per call.
  std::vector<std::uint32_t> path_;
  std::vector<std::uint32_t> values_;
  std::vector<Item<K>> before_;
  std::vector<Item<K>> after_;
};

bool usable(const IpPrefix& p) {
  return (p.addr.is_v4() && p.len <= 32) || (p.addr.is_v6() && p.len <= 128);
}

}  // namespace

struct PrefixCompressor::Impl {
  ActionTable actions;
  Trie<std::uint32_t> v4;
  Trie<V6Key> v6;
  std::size_t entries = 0;

  void count(const CompressDiff& diff) { entries += diff.added.size() - diff.removed.size(); }
};

PrefixCompressor::PrefixCompressor() : impl_(std::make_unique<Impl>()) {}
PrefixCompressor::~PrefixCompressor() = default;
PrefixCompressor::PrefixCompressor(PrefixCompressor&&) noexcept = default;
PrefixCompressor& PrefixCompressor::operator=(PrefixCompressor&&) noexcept = default;

void PrefixCompressor::set(const IpPrefix& prefix, ActionKey action, bool pinned,
                           CompressDiff& diff) {
  diff.clear();
  if (!usable(prefix)) return;
  Impl& m = *impl_;
  if (prefix.addr.is_v4()) {
    m.v4.set(KeyOps<std::uint32_t>::from(prefix.addr), prefix.len, action, pinned, m.actions, diff);
  } else {
    m.v6.set(KeyOps<V6Key>::from(prefix.addr), prefix.len, action, pinned, m.actions, diff);
  }
  m.count(diff);
}

void PrefixCompressor::erase(const IpPrefix& prefix, CompressDiff& diff) {
  diff.clear();
  if (!usable(prefix)) return;
  Impl& m = *impl_;
  if (prefix.addr.is_v4()) {
    m.v4.erase(KeyOps<std::uint32_t>::from(prefix.addr), prefix.len, m.actions, diff);
  } else {
    m.v6.erase(KeyOps<V6Key>::from(prefix.addr), prefix.len, m.actions, diff);
  }
  m.count(diff);
}

void PrefixCompressor::clear(CompressDiff& diff) {
  diff.clear();
  for (const CompressedEntry& e : entries()) diff.removed.push_back(e.prefix);
  impl_->v4.clear();
  impl_->v6.clear();
  impl_->actions.clear();
  impl_->entries = 0;
}

std::vector<CompressedEntry> PrefixCompressor::entries() const {
  std::vector<CompressedEntry> out;
  out.reserve(impl_->entries);
  std::vector<Item<std::uint32_t>> v4;
  impl_->v4.entries(impl_->actions, v4);
  for (const auto& i : v4) {
    out.push_back({{KeyOps<std::uint32_t>::to(i.key), i.len}, i.action});
  }
  std::vector<Item<V6Key>> v6;
  impl_->v6.entries(impl_->actions, v6);
  for (const auto& i : v6) out.push_back({{KeyOps<V6Key>::to(i.key), i.len}, i.action});
  return out;
}

std::size_t PrefixCompressor::route_count() const {
  return impl_->v4.routes() + impl_->v6.routes();
}
std::size_t PrefixCompressor::entry_count() const { return impl_->entries; }

std::size_t PrefixCompressor::memory_bytes() const {
  return sizeof(Impl) + impl_->actions.memory_bytes() + impl_->v4.memory_bytes() +
         impl_->v6.memory_bytes();
}

}  // namespace tapflow::routing
