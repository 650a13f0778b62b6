// PrefixCompressor: hand-made route sets with their expected entries and
// diffs, then random route sets under random changes, where every diff must
// replay onto the previous entries, the entries must equal a rebuild from
// scratch, and forwarding must equal the routes' (checked exactly, over every
// interval between prefix boundaries, and on sampled addresses by brute force).
#include "tapflow/routing/fib_compress.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <sstream>

namespace tapflow::routing {
namespace {

using netns::IpAddress;
using netns::IpPrefix;

IpPrefix pfx(const char* text) { return IpPrefix::parse(text).value(); }

// --------------------------------------------------------------- hand cases

class CompressTest : public ::testing::Test {
 protected:
  void set(const char* p, ActionKey a, bool pinned = false) {
    c.set(pfx(p), a, pinned, diff);
    check_count();
  }
  void erase(const char* p) {
    c.erase(pfx(p), diff);
    check_count();
  }
  void check_count() const { EXPECT_EQ(c.entry_count(), c.entries().size()); }
  // "10.0.0.0/24=1 10.0.1.0/25=2", in prefix order.
  std::string dump() const {
    std::ostringstream o;
    for (const auto& e : c.entries())
      o << (o.tellp() > 0 ? " " : "") << e.prefix.to_string() << "=" << e.action;
    return o.str();
  }
  std::string diff_text() const {
    std::ostringstream o;
    for (const auto& e : diff.added) o << "+" << e.prefix.to_string() << "=" << e.action << " ";
    for (const auto& e : diff.changed) o << "~" << e.prefix.to_string() << "=" << e.action << " ";
    for (const auto& p : diff.removed) o << "-" << p.to_string() << " ";
    std::string s = o.str();
    if (!s.empty()) s.pop_back();
    return s;
  }

  PrefixCompressor c;
  CompressDiff diff;
};

TEST_F(CompressTest, CoveredPrefixWithTheSameActionVanishes) {
  set("10.0.0.0/16", 1);
  set("10.0.5.0/24", 1);
  EXPECT_EQ(dump(), "10.0.0.0/16=1");
  EXPECT_TRUE(diff.empty());
  EXPECT_EQ(c.route_count(), 2u);
  set("10.0.5.0/24", 2);  // now it matters
  EXPECT_EQ(dump(), "10.0.0.0/16=1 10.0.5.0/24=2");
  EXPECT_EQ(diff_text(), "+10.0.5.0/24=2");
}

TEST_F(CompressTest, SiblingsWithOneActionMerge) {
  set("10.0.0.0/25", 1);
  EXPECT_EQ(diff_text(), "+10.0.0.0/25=1");
  set("10.0.0.128/25", 1);
  EXPECT_EQ(dump(), "10.0.0.0/24=1");
  EXPECT_EQ(diff_text(), "+10.0.0.0/24=1 -10.0.0.0/25");
}

TEST_F(CompressTest, FourQuartersAndUnevenHalvesMergeRecursively) {
  for (const char* p : {"10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"}) set(p, 3);
  EXPECT_EQ(dump(), "10.0.0.0/24=3");
  // /25 + two /26 + a /24 sibling: one /23.
  set("10.0.1.0/25", 3);
  set("10.0.1.128/26", 3);
  EXPECT_EQ(dump(), "10.0.0.0/24=3 10.0.1.0/25=3 10.0.1.128/26=3");
  set("10.0.1.192/26", 3);
  EXPECT_EQ(dump(), "10.0.0.0/23=3");
  EXPECT_EQ(diff_text(), "+10.0.0.0/23=3 -10.0.0.0/24 -10.0.1.0/25 -10.0.1.128/26");
}

TEST_F(CompressTest, NeverCoversMissSpace) {
  set("10.0.0.0/25", 1);
  set("10.0.1.0/25", 1);  // not siblings: the /24s' other halves miss
  EXPECT_EQ(dump(), "10.0.0.0/25=1 10.0.1.0/25=1");
  set("10.0.0.128/26", 1);  // 10.0.0.192/26 still misses
  EXPECT_EQ(dump(), "10.0.0.0/25=1 10.0.0.128/26=1 10.0.1.0/25=1");
}

TEST_F(CompressTest, DifferentActionsKeepBoth) {
  set("10.0.0.0/25", 1);
  set("10.0.0.128/25", 2);
  EXPECT_EQ(dump(), "10.0.0.0/25=1 10.0.0.128/25=2");
}

TEST_F(CompressTest, ShadowedRouteTakesItsChildrensAction) {
  set("10.0.0.0/24", 1);
  set("10.0.0.0/25", 2);
  EXPECT_EQ(dump(), "10.0.0.0/24=1 10.0.0.0/25=2");
  set("10.0.0.128/25", 2);  // nothing forwards to 1 any more
  EXPECT_EQ(dump(), "10.0.0.0/24=2");
  EXPECT_EQ(diff_text(), "~10.0.0.0/24=2 -10.0.0.0/25");
}

TEST_F(CompressTest, PinnedRouteBlocksMergingAndStays) {
  set("10.0.0.0/24", 100, true);
  set("10.0.0.0/25", 1);
  set("10.0.0.128/25", 1);
  EXPECT_EQ(dump(), "10.0.0.0/24=100 10.0.0.0/25=1 10.0.0.128/25=1");
  // Below the pinned route, prefixes still compress among themselves.
  set("10.0.0.0/26", 1);
  EXPECT_EQ(dump(), "10.0.0.0/24=100 10.0.0.0/25=1 10.0.0.128/25=1");
  // A pinned route is emitted even when a covering route has its action.
  set("10.0.0.0/16", 7);
  set("10.0.1.0/24", 7, true);
  EXPECT_EQ(dump(), "10.0.0.0/16=7 10.0.0.0/24=100 10.0.0.0/25=1 10.0.0.128/25=1 10.0.1.0/24=7");
  // Nothing merges across it: its sibling's action equals it, its parent stays.
  set("10.0.0.0/23", 7);
  EXPECT_EQ(dump(), "10.0.0.0/16=7 10.0.0.0/24=100 10.0.0.0/25=1 10.0.0.128/25=1 10.0.1.0/24=7");
  erase("10.0.1.0/24");
  EXPECT_EQ(diff_text(), "-10.0.1.0/24");
}

TEST_F(CompressTest, PinnedSiblingsDoNotMerge) {
  set("10.0.0.0/25", 5, true);
  set("10.0.0.128/25", 5);
  EXPECT_EQ(dump(), "10.0.0.0/25=5 10.0.0.128/25=5");
  set("10.0.0.0/25", 5, false);  // unpinned: now they merge
  EXPECT_EQ(dump(), "10.0.0.0/24=5");
}

TEST_F(CompressTest, Ipv6) {
  set("2001:db8::/33", 1);
  set("2001:db8:8000::/33", 1);
  set("2001:db8:1::/48", 1);
  EXPECT_EQ(dump(), "2001:db8::/32=1");
  set("2001:db8:2::/48", 2);  // the lower half no longer forwards one way
  EXPECT_EQ(dump(), "2001:db8::/33=1 2001:db8:2::/48=2 2001:db8:8000::/33=1");
  EXPECT_EQ(diff_text(),
            "+2001:db8::/33=1 +2001:db8:2::/48=2 +2001:db8:8000::/33=1 -2001:db8::/32");
  set("2001:db8:2::1/128", 1);
  set("10.0.0.0/8", 1);  // the families never meet
  EXPECT_EQ(
      dump(),
      "10.0.0.0/8=1 2001:db8::/33=1 2001:db8:2::/48=2 2001:db8:2::1/128=1 2001:db8:8000::/33=1");
  erase("2001:db8:8000::/33");
  EXPECT_EQ(diff_text(), "-2001:db8:8000::/33");
  set("::/0", 1);
  EXPECT_EQ(dump(), "10.0.0.0/8=1 ::/0=1 2001:db8:2::/48=2 2001:db8:2::1/128=1");
  EXPECT_EQ(diff_text(), "+::/0=1 -2001:db8::/33");
}

TEST_F(CompressTest, DefaultRoute) {
  set("0.0.0.0/0", 1);
  set("10.0.0.0/8", 1);
  EXPECT_EQ(dump(), "0.0.0.0/0=1");
  set("10.0.0.0/8", 2);
  set("10.0.0.0/9", 1);
  EXPECT_EQ(dump(), "0.0.0.0/0=1 10.0.0.0/8=2 10.0.0.0/9=1");
  set("10.128.0.0/9", 1);  // 10/8 is all 1 again
  EXPECT_EQ(dump(), "0.0.0.0/0=1");
  EXPECT_EQ(diff_text(), "-10.0.0.0/8 -10.0.0.0/9");
  erase("0.0.0.0/0");
  EXPECT_EQ(dump(), "10.0.0.0/8=1");
  for (const char* p : {"10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9"}) erase(p);
  EXPECT_EQ(dump(), "");
  // Two halves of the whole space: the root itself becomes the entry.
  set("0.0.0.0/1", 4);
  set("128.0.0.0/1", 4);
  EXPECT_EQ(dump(), "0.0.0.0/0=4");
}

TEST_F(CompressTest, EraseRestoresAndChangesShowAsChanged) {
  set("10.0.0.0/25", 1);
  set("10.0.0.128/25", 1);
  set("10.0.0.0/24", 1);  // the merged entry is also a route now
  EXPECT_TRUE(diff.empty());
  erase("10.0.0.0/24");
  EXPECT_TRUE(diff.empty());  // the two /25 still make the /24
  erase("10.0.0.128/25");
  EXPECT_EQ(diff_text(), "+10.0.0.0/25=1 -10.0.0.0/24");
  set("10.0.0.0/25", 2);
  EXPECT_EQ(diff_text(), "~10.0.0.0/25=2");
  set("10.0.0.0/25", 2);
  EXPECT_TRUE(diff.empty());
  erase("10.0.0.0/25");
  EXPECT_EQ(diff_text(), "-10.0.0.0/25");
  erase("10.0.0.0/25");  // absent: nothing
  EXPECT_TRUE(diff.empty());
  EXPECT_EQ(dump(), "");
  EXPECT_EQ(c.route_count(), 0u);
}

TEST_F(CompressTest, HostBitsAreIgnoredAndClearRemovesAll) {
  set("10.0.0.77/24", 1);
  EXPECT_EQ(dump(), "10.0.0.0/24=1");
  set("2001:db8::1/64", 1);
  c.clear(diff);
  EXPECT_EQ(diff_text(), "-10.0.0.0/24 -2001:db8::/64");
  EXPECT_EQ(dump(), "");
  EXPECT_EQ(c.route_count(), 0u);
  EXPECT_EQ(c.entry_count(), 0u);
}

// ---------------------------------------------------------- property tests

// Addresses of either family as 128-bit numbers (IPv4 in the low 32 bits).
__extension__ typedef unsigned __int128 U128;

U128 number(const IpAddress& a) {
  U128 v = 0;
  for (std::size_t i = 0; i < a.size(); ++i) v = (v << 8) | a.bytes[i];
  return v;
}
IpAddress address(std::uint8_t family, U128 v) {
  if (family == AF_INET) return IpAddress::v4(static_cast<std::uint32_t>(v));
  std::uint8_t b[16];
  for (int i = 15; i >= 0; --i, v >>= 8) b[i] = static_cast<std::uint8_t>(v);
  return IpAddress::v6(b);
}
unsigned bits(std::uint8_t family) { return family == AF_INET ? 32 : 128; }
U128 first(const IpPrefix& p) { return number(p.addr); }
U128 last(const IpPrefix& p) {
  const unsigned host = bits(p.addr.family) - p.len;
  return first(p) | (host == 128 ? ~U128{0} : (U128{1} << host) - 1);
}

constexpr ActionKey kMiss = ~ActionKey{0};
using Table = std::map<IpPrefix, ActionKey>;

// Forwarding of a prefix set under longest-prefix match, as the sorted start
// addresses of its maximal constant intervals: equal lists = equal forwarding
// for every address.
std::vector<std::pair<U128, ActionKey>> intervals(const Table& t, std::uint8_t family) {
  std::vector<std::pair<U128, ActionKey>> out{{0, kMiss}};
  auto put = [&](U128 at, ActionKey a) {
    if (out.back().first == at) out.pop_back();
    if (out.empty() || out.back().second != a) out.emplace_back(at, a);
  };
  const U128 top = family == AF_INET ? U128{0xffffffffu} : ~U128{0};
  std::vector<std::pair<U128, ActionKey>> open;  // (last address, action), innermost last
  auto close_before = [&](std::optional<U128> at) {
    while (!open.empty() && (!at || open.back().first < *at)) {
      const U128 end = open.back().first;
      open.pop_back();
      if (end != top) put(end + 1, open.empty() ? kMiss : open.back().second);
    }
  };
  for (const auto& [p, a] : t) {  // map order: by start, then shorter first
    if (p.addr.family != family) continue;
    close_before(first(p));
    put(first(p), a);
    open.emplace_back(last(p), a);
  }
  close_before(std::nullopt);
  return out;
}

// Brute force: the longest prefix in t containing `a`.
ActionKey lookup(const Table& t, const IpAddress& a) {
  int best = -1;
  ActionKey act = kMiss;
  for (const auto& [p, x] : t) {
    if (p.addr.family == a.family && p.len > best && p.contains(a)) {
      best = p.len;
      act = x;
    }
  }
  return act;
}

Table as_table(const std::vector<CompressedEntry>& es) {
  Table t;
  for (const auto& e : es) t[e.prefix] = e.action;
  return t;
}

struct Route {
  ActionKey action;
  bool pinned;
};

// Random route sets for one family: clustered prefixes, skewed lengths.
class RouteGen {
 public:
  RouteGen(std::uint8_t family, std::uint32_t seed, unsigned actions)
      : family_(family), rng_(seed), actions_(actions) {
    const unsigned n = bits(family_);
    for (int i = 0; i < 3; ++i) {
      bases_.push_back(random_number() & mask(family_ == AF_INET ? 14 : 40, n));
    }
  }
  IpPrefix prefix() {
    const unsigned n = bits(family_);
    unsigned len;
    const unsigned r = pick(100);
    if (family_ == AF_INET) {
      if (r < 3)
        len = pick(9);  // /0 .. /8
      else if (r < 8)
        len = 9 + pick(8);
      else if (r < 92)
        len = 18 + pick(9);  // /18 .. /26, mostly
      else
        len = 27 + pick(6);
    } else {
      if (r < 3)
        len = pick(33);
      else if (r < 90)
        len = 42 + pick(20);
      else
        len = 62 + pick(67);
    }
    U128 v = random_number();
    if (r >= 3) {  // inside a cluster
      const unsigned base_len = family_ == AF_INET ? 14 : 40;
      v = bases_[pick(3)] | (v & ~mask(base_len, n));
    }
    return {address(family_, v & mask(len, n)), static_cast<std::uint8_t>(len)};
  }
  Route route() {
    if (pick(20) == 0) return {1000 + next_pinned_++, true};  // pinned: own key
    return {1 + pick(actions_), false};
  }
  unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(rng_); }
  std::mt19937& rng() { return rng_; }
  U128 random_number() {
    U128 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 32) | rng_();
    return family_ == AF_INET ? v & 0xffffffffu : v;
  }

 private:
  static U128 mask(unsigned len, unsigned n) {
    if (len == 0) return 0;
    const U128 all = n == 128 ? ~U128{0} : (U128{1} << n) - 1;
    return all & ~((len == n ? U128{0} : ~U128{0} >> len) >> (128 - n));
  }
  std::uint8_t family_;
  std::mt19937 rng_;
  unsigned actions_;
  ActionKey next_pinned_ = 0;
  std::vector<U128> bases_;
};

// A compressor under test beside a plain map of its routes and a mirror of
// its entries kept by replaying diffs.
class Harness {
 public:
  Harness(std::uint8_t family, RouteGen& gen) : family_(family), gen_(gen) {}

  void set(const IpPrefix& p, const Route& r) {
    routes_[p] = r;
    c_.set(p, r.action, r.pinned, diff_);
    replay();
  }
  // By value: callers pass keys of routes_, which the erase frees.
  void erase(IpPrefix p) {
    routes_.erase(p);
    c_.erase(p, diff_);
    replay();
  }
  const std::map<IpPrefix, Route>& routes() const { return routes_; }
  const PrefixCompressor& compressor() const { return c_; }

  // (a) the mirror equals entries(); (b) a rebuild in another order gives the
  // same entries; (c) forwarding equals the routes'.
  void check(const IpPrefix& touched) {
    const auto entries = c_.entries();
    ASSERT_TRUE(std::is_sorted(entries.begin(), entries.end()));
    ASSERT_EQ(as_table(entries), mirror_) << "diffs do not replay onto entries()";
    ASSERT_EQ(c_.entry_count(), entries.size());
    ASSERT_EQ(c_.route_count(), routes_.size());

    std::vector<std::pair<IpPrefix, Route>> order(routes_.begin(), routes_.end());
    std::shuffle(order.begin(), order.end(), gen_.rng());
    PrefixCompressor fresh;
    CompressDiff d;
    for (const auto& [p, r] : order) fresh.set(p, r.action, r.pinned, d);
    ASSERT_EQ(fresh.entries(), entries) << "not independent of the order of changes";

    Table routes;
    for (const auto& [p, r] : routes_) routes[p] = r.action;
    const Table compressed = as_table(entries);
    ASSERT_EQ(intervals(routes, family_), intervals(compressed, family_))
        << "forwarding differs after a change at " << touched.to_string();

    // Brute force on the touched prefix's edges and a few sampled addresses.
    std::vector<U128> probes;
    auto edges = [&](const IpPrefix& p) {
      for (U128 v : {first(p), first(p) - 1, last(p), last(p) + 1}) probes.push_back(v);
    };
    edges(touched);
    for (int i = 0; i < 4 && !entries.empty(); ++i)
      edges(entries[gen_.pick(static_cast<unsigned>(entries.size()))].prefix);
    for (int i = 0; i < 8; ++i) probes.push_back(gen_.random_number());
    for (U128 v : probes) {
      const IpAddress a = address(family_, v);
      ASSERT_EQ(lookup(routes, a), lookup(compressed, a)) << a.to_string();
    }
  }

 private:
  void replay() {
    for (const auto& p : diff_.removed) {
      ASSERT_EQ(mirror_.erase(p), 1u) << "removed an absent " << p.to_string();
    }
    for (const auto& e : diff_.changed) {
      auto it = mirror_.find(e.prefix);
      ASSERT_NE(it, mirror_.end()) << "changed an absent " << e.prefix.to_string();
      ASSERT_NE(it->second, e.action) << "changed to the same action " << e.prefix.to_string();
      it->second = e.action;
    }
    for (const auto& e : diff_.added) {
      ASSERT_TRUE(mirror_.emplace(e.prefix, e.action).second)
          << "added twice " << e.prefix.to_string();
    }
  }

  std::uint8_t family_;
  RouteGen& gen_;
  PrefixCompressor c_;
  CompressDiff diff_;
  std::map<IpPrefix, Route> routes_;
  Table mirror_;
};

void run_random(std::uint8_t family, std::uint32_t seed, unsigned routes, unsigned steps) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  RouteGen gen(family, seed, 1 + seed % 4);
  Harness h(family, gen);
  IpPrefix last_set;
  for (unsigned i = 0; i < routes; ++i) {
    last_set = gen.prefix();
    h.set(last_set, gen.route());
    if (i % 64 == 0) {
      ASSERT_NO_FATAL_FAILURE(h.check(last_set));
    }
  }
  ASSERT_NO_FATAL_FAILURE(h.check(last_set));
  for (unsigned i = 0; i < steps; ++i) {
    const unsigned r = gen.pick(10);
    IpPrefix p;
    auto existing = [&] {
      auto it = h.routes().begin();
      std::advance(it, gen.pick(static_cast<unsigned>(h.routes().size())));
      return it->first;
    };
    if (r < 4 || h.routes().empty()) {  // a new (or replaced) route
      p = gen.prefix();
      h.set(p, gen.route());
    } else if (r < 7) {  // a flap
      p = existing();
      h.erase(p);
    } else if (r < 9) {  // a new action for an existing prefix
      p = existing();
      h.set(p, gen.route());
    } else {  // the same route again: no change
      p = existing();
      const Route same = h.routes().at(p);
      h.set(p, same);
    }
    ASSERT_NO_FATAL_FAILURE(h.check(p));
  }
  // Erase everything: no entry may remain.
  while (!h.routes().empty()) h.erase(h.routes().begin()->first);
  EXPECT_TRUE(h.compressor().entries().empty());
  EXPECT_EQ(h.compressor().entry_count(), 0u);
}

TEST(CompressProperty, RandomIpv4) {
  const unsigned sizes[] = {300, 800, 2000, 150, 1000, 500};
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    ASSERT_NO_FATAL_FAILURE(run_random(AF_INET, seed, sizes[seed - 1], 120));
  }
}

TEST(CompressProperty, RandomIpv6) {
  for (std::uint32_t seed = 11; seed <= 13; ++seed) {
    ASSERT_NO_FATAL_FAILURE(run_random(AF_INET6, seed, 500, 120));
  }
}

// Dense sets where nearly everything merges (one or two actions, a single
// cluster), and the default route moving underneath.
TEST(CompressProperty, DenseMergesAndDefaultRoute) {
  for (std::uint32_t seed = 21; seed <= 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RouteGen gen(AF_INET, seed, 2);
    Harness h(AF_INET, gen);
    std::mt19937 rng(seed);
    for (int i = 0; i < 400; ++i) {
      const unsigned len = 20 + rng() % 9;
      const std::uint32_t v = (0x0a000000u | (rng() & 0x3fffu) << 6) & ~(0xffffffffu >> len);
      const IpPrefix p{IpAddress::v4(v), static_cast<std::uint8_t>(len)};
      if (rng() % 4 == 0 && h.routes().count(p)) {
        h.erase(p);
      } else {
        h.set(p, {1 + rng() % 2, false});
      }
      if (i % 25 == 0) {
        const IpPrefix def = pfx("0.0.0.0/0");
        if (rng() % 2)
          h.set(def, {1 + rng() % 2, false});
        else
          h.erase(def);
        ASSERT_NO_FATAL_FAILURE(h.check(def));
      }
      ASSERT_NO_FATAL_FAILURE(h.check(p));
    }
  }
}

}  // namespace
}  // namespace tapflow::routing
