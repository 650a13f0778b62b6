// FIB prefix compressor on a generated Internet-like IPv4 table: how much it
// compresses (beside full ORTC, the optimal non-incremental baseline), how
// fast it builds and follows updates, how big the diffs are, and its memory.
// Prints markdown. Forwarding of both compressed sets is checked against the
// routes exactly (every constant interval of the address space) and on
// sampled addresses by hashed longest-prefix match; a mismatch aborts.
//
//   fib_compress_bench [--routes N] [--nexthops K] [--seed S] [--updates U]
#include <sys/resource.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tapflow/routing/fib_compress.hpp"

namespace {

using tapflow::netns::IpAddress;
using tapflow::netns::IpPrefix;
using tapflow::routing::ActionKey;
using tapflow::routing::CompressDiff;
using tapflow::routing::PrefixCompressor;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMiss = 0xffffffffu;  // "no route", as an action

struct Route {
  std::uint32_t addr = 0;
  std::uint8_t len = 0;
  std::uint32_t nh = 0;
};

std::uint64_t block_size(unsigned len) { return std::uint64_t{1} << (32 - len); }
std::uint32_t netmask(unsigned len) { return len == 0 ? 0 : ~std::uint32_t{0} << (32 - len); }
std::uint64_t key_of(std::uint32_t addr, unsigned len) {
  return (std::uint64_t{addr & netmask(len)} << 6) | len;
}
IpPrefix prefix_of(const Route& r) { return {IpAddress::v4(r.addr), r.len}; }
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// ------------------------------------------------------------ the table

// Target: the share of prefix lengths in today's IPv4 table (percent,
// rounded): /24 60, /23 10, /22 12, /21 5, /20 5, /16-/19 7, /8-/15 1.
// The weights the generator draws lengths with, tuned so that a 1M table
// comes out close to the target (nesting and splitting shift the shares).
constexpr double kDrawWeights[25] = {0,    0,    0,    0,    0,   0,   0,   0,    // /0-/7
                                     0.06, 0.12, 0.25, 0.35, 0.7, 0.9, 1.2, 1.2,  // /8-/15
                                     2.2,  1.45, 1.9,  2.0,                       // /16-/19
                                     4.4,  4.5,  10.5, 8.5,  62};                 // /20-/24

// Origins (ASes) take address blocks in turn from 1.0.0.0 on, a few with a
// gap before them (unannounced space). An origin announces its block, or
// not, and a run of adjacent more-specifics inside it (deaggregation: 30% of
// them 1-3 bits longer than the block, the rest any longer length; some
// holes); a /24 origin announces a run of adjacent /24s. A quarter of the
// origins (all, once the space is used up) are customers announcing 1-4
// adjacent prefixes of a drawn length inside a shorter aggregate of another
// origin (their aggregates can hold later customers). Next hops: each origin
// leaves via one of K peers (Zipf: peer i with weight 1/(i+1)); 80% of its
// more-specifics go the same way, a customer's half the time its provider's.
class TableGen {
 public:
  TableGen(std::uint64_t seed, unsigned peers)
      : rng_(seed),
        lengths_(std::begin(kDrawWeights), std::end(kDrawWeights)),
        peers_(make_peer_weights(peers)) {}

  std::vector<Route> generate(std::size_t n) {
    std::vector<Route> out;
    out.reserve(n);
    while (out.size() < n) {
      if (exhausted_ || (!aggregates_.empty() && coin(0.25))) {
        customer(out, n);
      } else {
        independent(out, n);
      }
    }
    return out;
  }

  unsigned length() { return static_cast<unsigned>(lengths_(rng_)); }
  unsigned length_above(unsigned l) {
    for (;;) {
      const unsigned x = length();
      if (x > l) return x;
    }
  }
  // A more-specific of a /len: half the time 1-3 bits longer (an aggregate
  // split in halves or quarters), else any length above it.
  unsigned more_specific(unsigned len) {
    if (len < 24 && coin(0.3)) return std::min(24u, len + 1 + static_cast<unsigned>(pick(3)));
    return length_above(len);
  }
  std::uint32_t peer() { return static_cast<std::uint32_t>(peers_(rng_)); }
  bool coin(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::uint64_t pick(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }
  std::mt19937_64& rng() { return rng_; }
  bool add(std::vector<Route>& out, std::uint32_t addr, unsigned len, std::uint32_t nh) {
    if (!seen_.insert(key_of(addr, len)).second) return false;
    out.push_back({addr, static_cast<std::uint8_t>(len), nh});
    return true;
  }

 private:
  static std::discrete_distribution<int> make_peer_weights(unsigned k) {
    std::vector<double> w;
    for (unsigned i = 0; i < k; ++i) w.push_back(1.0 / (i + 1));
    return {w.begin(), w.end()};
  }
  // Heavy-tailed count >= 1 (Pareto, alpha 1.2), at most `cap`.
  std::uint64_t heavy(std::uint64_t cap) {
    const double u = std::uniform_real_distribution<double>(1e-9, 1.0)(rng_);
    return std::min<std::uint64_t>(cap, static_cast<std::uint64_t>(std::pow(u, -1 / 1.2)));
  }
  static bool reserved(std::uint64_t a) {
    const std::uint64_t first = a >> 24;
    return first == 0 || first == 10 || first == 127;
  }

  void independent(std::vector<Route>& out, std::size_t n) {
    const unsigned len = length();
    const std::uint32_t nh = peer();
    const std::uint64_t size = block_size(len);
    if (coin(0.08)) cursor_ += size * (1 + pick(3));  // unannounced space
    cursor_ = (cursor_ + size - 1) & ~(size - 1);
    while (reserved(cursor_) || reserved(cursor_ + size - 1)) {
      cursor_ = ((cursor_ >> 24) + 1) << 24;
    }
    if (cursor_ + size > (std::uint64_t{224} << 24)) {
      exhausted_ = true;
      return;
    }
    const auto block = static_cast<std::uint32_t>(cursor_);
    cursor_ += size;
    if (len == 24) {
      add(out, block, 24, nh);
      while (out.size() < n && coin(0.45) && !reserved(cursor_) &&
             cursor_ + 256 <= (std::uint64_t{224} << 24)) {
        add(out, static_cast<std::uint32_t>(cursor_), 24, coin(0.9) ? nh : peer());
        cursor_ += 256;
      }
      return;
    }
    const bool aggregate = coin(0.7);
    if (aggregate) add(out, block, len, nh);
    if (len <= 22) aggregates_.push_back({block, static_cast<std::uint8_t>(len), nh});
    const std::uint64_t more = aggregate && coin(0.55) ? 0 : heavy(256);
    std::uint64_t sub = block;
    for (std::uint64_t i = 0; i < more && out.size() < n; ++i) {
      const unsigned sl = more_specific(len);
      const std::uint64_t ssize = block_size(sl);
      sub = (sub + ssize - 1) & ~(ssize - 1);
      if (sub + ssize > block + size) break;
      add(out, static_cast<std::uint32_t>(sub), sl, coin(0.8) ? nh : peer());
      sub += ssize;
      if (coin(0.15)) sub += ssize;  // a hole in the deaggregation
    }
  }

  void customer(std::vector<Route>& out, std::size_t n) {
    if (aggregates_.empty()) {
      exhausted_ = false;  // nothing to nest in (tiny tables): keep allocating
      independent(out, n);
      return;
    }
    // Its length as drawn, inside an aggregate that is shorter (a few tries).
    Route a = aggregates_[pick(aggregates_.size())];
    unsigned len = length();
    for (int i = 0; i < 16 && a.len >= len; ++i) a = aggregates_[pick(aggregates_.size())];
    if (a.len >= len) len = more_specific(a.len);
    const std::uint32_t nh = coin(0.5) ? a.nh : peer();
    const std::uint64_t slots = block_size(a.len) / block_size(len);
    std::uint64_t at = a.addr + pick(slots) * block_size(len);
    if (len <= 22)
      aggregates_.push_back({static_cast<std::uint32_t>(at), static_cast<std::uint8_t>(len), nh});
    const std::uint64_t count = coin(0.3) ? 1 + pick(3) : 1;
    for (std::uint64_t i = 0; i < count && out.size() < n; ++i, at += block_size(len)) {
      if (at + block_size(len) > std::uint64_t{a.addr} + block_size(a.len)) break;
      add(out, static_cast<std::uint32_t>(at), len, nh);
    }
  }

  std::mt19937_64 rng_;
  std::discrete_distribution<int> lengths_;
  std::discrete_distribution<int> peers_;
  std::uint64_t cursor_ = std::uint64_t{1} << 24;
  bool exhausted_ = false;
  std::vector<Route> aggregates_;
  std::unordered_set<std::uint64_t> seen_;
};

// --------------------------------------------------------------- ORTC

// ORTC (Draves, King, Venkatachary, Zill, "Constructing optimal IP routing
// tables", INFOCOM 1999) over a binary trie, with "no route" as next hop K
// (sets are bitmasks, so K <= 31). Pass 1 (normalisation: every node gets 0
// or 2 children, leaves inherit the next hop) is done implicitly: a missing
// child is a leaf holding the inherited next hop. Pass 2 (bottom-up):
// set(leaf) = {next hop}, set(node) = A # B (A n B if not empty, else A u B).
// Pass 3 (top-down): a node whose set holds what it inherits gets no entry,
// else it gets an entry with some member. The root inherits the table miss
// (no entry needed when "no route" is in its set); other entries whose next
// hop is "no route" are needed and counted (on a switch: the miss action).
class Ortc {
 public:
  explicit Ortc(unsigned next_hops) : miss_(next_hops) { nodes_.emplace_back(); }

  void insert(const Route& r) {
    std::uint32_t cur = 0;
    for (unsigned d = 0; d < r.len; ++d) {
      const unsigned b = (r.addr >> (31 - d)) & 1u;
      if (nodes_[cur].child[b] == 0) {
        nodes_[cur].child[b] = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
      }
      cur = nodes_[cur].child[b];
    }
    nodes_[cur].nh = static_cast<std::int16_t>(r.nh);
  }

  // Entries as routes (nh == kMiss: a "no route" entry).
  std::vector<Route> run() {
    sets(0, static_cast<int>(miss_));
    std::vector<Route> out;
    assign(0, static_cast<int>(miss_), static_cast<int>(miss_), 0, 0, out);
    return out;
  }
  std::size_t node_count() const { return nodes_.size(); }

 private:
  struct Node {
    std::uint32_t child[2] = {0, 0};
    std::uint32_t set = 0;
    std::int16_t nh = -1;
  };

  std::uint32_t sets(std::uint32_t q, int inherited) {
    const int own = nodes_[q].nh >= 0 ? nodes_[q].nh : inherited;
    std::uint32_t s[2];
    for (unsigned b = 0; b < 2; ++b) {
      const std::uint32_t c = nodes_[q].child[b];
      s[b] = c != 0 ? sets(c, own) : 1u << own;
    }
    const bool leaf = nodes_[q].child[0] == 0 && nodes_[q].child[1] == 0;
    const std::uint32_t both = s[0] & s[1];
    nodes_[q].set = leaf ? 1u << own : both != 0 ? both : s[0] | s[1];
    return nodes_[q].set;
  }

  void emit(std::uint32_t addr, unsigned len, int nh, std::vector<Route>& out) const {
    out.push_back({addr, static_cast<std::uint8_t>(len),
                   nh == static_cast<int>(miss_) ? kMiss : static_cast<std::uint32_t>(nh)});
  }

  // `chosen`: the next hop this node inherits from entries above; `routed`:
  // what pass 1 pushes down (its own route's next hop, or inherited).
  void assign(std::uint32_t q, int chosen, int routed, std::uint32_t addr, unsigned len,
              std::vector<Route>& out) const {
    const Node& n = nodes_[q];
    const int own = n.nh >= 0 ? n.nh : routed;
    int here = chosen;
    if ((n.set >> chosen & 1u) == 0) {
      here = std::countr_zero(n.set);  // lowest member: a real next hop if any
      emit(addr, len, here, out);
    }
    for (unsigned b = 0; b < 2; ++b) {
      const std::uint32_t caddr = addr | (b != 0 ? std::uint32_t{1} << (31 - len) : 0);
      if (n.child[b] != 0) {
        assign(n.child[b], here, own, caddr, len + 1, out);
      } else if (n.child[b ^ 1] != 0 && own != here) {  // pass 1's added leaf
        emit(caddr, len + 1, own, out);
      }
    }
  }

  unsigned miss_;
  std::vector<Node> nodes_;
};

// ------------------------------------------------------------ forwarding

// Longest-prefix match over a route list, by hashing each length.
class Lpm {
 public:
  explicit Lpm(const std::vector<Route>& rs) {
    map_.reserve(rs.size());
    for (const Route& r : rs) {
      map_[key_of(r.addr, r.len)] = r.nh;
      lengths_ |= std::uint64_t{1} << r.len;
    }
  }
  std::uint32_t lookup(std::uint32_t a) const {
    for (int l = 32; l >= 0; --l) {
      if ((lengths_ >> l & 1u) == 0) continue;
      if (auto it = map_.find(key_of(a, static_cast<unsigned>(l))); it != map_.end()) {
        return it->second;
      }
    }
    return kMiss;
  }

 private:
  std::unordered_map<std::uint64_t, std::uint32_t> map_;
  std::uint64_t lengths_ = 0;
};

// Forwarding of a route list as its maximal constant intervals (start
// address, next hop): equal lists forward every address alike.
std::vector<std::pair<std::uint64_t, std::uint32_t>> intervals(std::vector<Route> rs) {
  std::sort(rs.begin(), rs.end(), [](const Route& a, const Route& b) {
    return a.addr != b.addr ? a.addr < b.addr : a.len < b.len;
  });
  std::vector<std::pair<std::uint64_t, std::uint32_t>> out{{0, kMiss}};
  auto put = [&](std::uint64_t at, std::uint32_t nh) {
    if (out.back().first == at) out.pop_back();
    if (out.empty() || out.back().second != nh) out.emplace_back(at, nh);
  };
  std::vector<std::pair<std::uint64_t, std::uint32_t>> open;  // (end, nh), innermost last
  auto close_before = [&](std::uint64_t at) {
    while (!open.empty() && open.back().first <= at) {
      const std::uint64_t end = open.back().first;
      open.pop_back();
      put(end, open.empty() ? kMiss : open.back().second);
    }
  };
  for (const Route& r : rs) {
    close_before(r.addr);
    put(r.addr, r.nh);
    open.emplace_back(std::uint64_t{r.addr} + block_size(r.len), r.nh);
  }
  close_before(std::uint64_t{1} << 32);
  if (out.back().first == std::uint64_t{1} << 32) out.pop_back();
  return out;
}

std::vector<Route> as_routes(const PrefixCompressor& c) {
  std::vector<Route> out;
  for (const auto& e : c.entries()) {
    out.push_back(
        {e.prefix.addr.v4_host_order(), e.prefix.len, static_cast<std::uint32_t>(e.action)});
  }
  return out;
}

// Exact check over every address; returns the number of intervals.
std::size_t check_exact(const std::vector<Route>& routes, const std::vector<Route>& entries,
                        const char* what) {
  const auto a = intervals(routes);
  if (a != intervals(entries)) {
    std::fprintf(stderr, "FORWARDING MISMATCH (%s): interval lists differ\n", what);
    std::abort();
  }
  return a.size();
}

// Sampled check: random addresses and the edges of a sample of routes.
std::size_t check_sampled(const std::vector<Route>& routes, const std::vector<const Lpm*>& sets,
                          std::mt19937_64& rng) {
  const Lpm truth(routes);
  std::vector<std::uint32_t> probes;
  for (int i = 0; i < 200000; ++i) probes.push_back(static_cast<std::uint32_t>(rng()));
  for (int i = 0; i < 50000; ++i) {
    const Route& r = routes[rng() % routes.size()];
    const std::uint32_t last = r.addr | ~netmask(r.len);
    for (std::uint32_t a : {r.addr, r.addr - 1, last, last + 1}) probes.push_back(a);
  }
  for (std::uint32_t a : probes) {
    const std::uint32_t want = truth.lookup(a);
    for (const Lpm* s : sets) {
      if (s->lookup(a) != want) {
        std::fprintf(stderr, "FORWARDING MISMATCH at %s: %u vs %u\n",
                     IpAddress::v4(a).to_string().c_str(), s->lookup(a), want);
        std::abort();
      }
    }
  }
  return probes.size();
}

// -------------------------------------------------------------- updates

struct Stats {
  std::vector<double> micros;
  std::vector<std::size_t> sizes;
  void add(double us, std::size_t diff) {
    micros.push_back(us);
    sizes.push_back(diff);
  }
};

template <typename T>
T percentile(std::vector<T> v, double p) {
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}
template <typename T>
double mean(const std::vector<T>& v) {
  double s = 0;
  for (T x : v) s += static_cast<double>(x);
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

void print_stats(const char* name, const Stats& s) {
  if (s.micros.empty()) return;
  double total = 0;
  for (double x : s.micros) total += x;
  std::printf("| %s | %zu | %.0f | %.2f | %zu | %zu | %.2f | %.1f | %.0f |\n", name,
              s.micros.size(), static_cast<double>(s.micros.size()) / (total / 1e6), mean(s.sizes),
              percentile(s.sizes, 0.99), *std::max_element(s.sizes.begin(), s.sizes.end()),
              mean(s.micros), percentile(s.micros, 0.99),
              *std::max_element(s.micros.begin(), s.micros.end()));
}

struct Options {
  std::size_t routes = 1000000;
  unsigned nexthops = 4;
  std::uint64_t seed = 1;
  std::size_t updates = 100000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--routes" && has) {
      o.routes = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--nexthops" && has) {
      o.nexthops = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--seed" && has) {
      o.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--updates" && has) {
      o.updates = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--routes N] [--nexthops K (1-31)] [--seed S] [--updates U]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  if (o.nexthops < 1 || o.nexthops > 31 || o.routes < 1) {
    std::fprintf(stderr, "--nexthops must be 1-31, --routes at least 1\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  TableGen gen(opt.seed, opt.nexthops);
  std::vector<Route> routes = gen.generate(opt.routes);

  std::printf("## fib_compress_bench: %zu IPv4 routes, %u next hops, seed %" PRIu64 "\n\n",
              routes.size(), opt.nexthops, opt.seed);
  std::printf(
      "Data: a generated IPv4 table. Origins take address blocks in turn from 1.0.0.0 "
      "(0/8, 10/8, 127/8 and 224/3 skipped, 8%% with unannounced space before them); each "
      "announces its block (70%%) and/or a run of adjacent more-specifics inside it (30%% "
      "of them 1-3 bits longer, some holes), /24 origins a run of adjacent /24s; 25%% of "
      "origins (all, once the space is used) are customers announcing 1-4 adjacent "
      "prefixes inside a shorter aggregate of another origin. Next hops: each origin "
      "leaves via one of %u peers (Zipf, weight 1/(i+1)); 80%% of its more-specifics the "
      "same way, a customer's half the time its provider's.\n\n",
      opt.nexthops);
  {
    std::size_t by_len[33] = {};
    std::uint64_t covered = 0;
    for (const Route& r : routes) ++by_len[r.len];
    auto iv = intervals(routes);
    for (std::size_t i = 0; i < iv.size(); ++i) {
      const std::uint64_t end = i + 1 < iv.size() ? iv[i + 1].first : std::uint64_t{1} << 32;
      if (iv[i].second != kMiss) covered += end - iv[i].first;
    }
    auto pct = [&](unsigned lo, unsigned hi) {
      std::size_t s = 0;
      for (unsigned l = lo; l <= hi; ++l) s += by_len[l];
      return 100.0 * static_cast<double>(s) / static_cast<double>(routes.size());
    };
    std::printf("| share of routes by length | /8-/15 | /16-/19 | /20 | /21 | /22 | /23 | /24 |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    std::printf("| target (today's table) | 1%% | 7%% | 5%% | 5%% | 12%% | 10%% | 60%% |\n");
    std::printf("| generated | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n\n",
                pct(0, 15), pct(16, 19), pct(20, 20), pct(21, 21), pct(22, 22), pct(23, 23),
                pct(24, 32));
    std::printf("Routed address space: %.1f%% of all IPv4 addresses.\n\n",
                100.0 * static_cast<double>(covered) / 4294967296.0);
  }

  // Build, in the generated order (origin by origin) and shuffled.
  PrefixCompressor c;
  CompressDiff diff;
  std::size_t build_changes = 0;
  const double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  for (const Route& r : routes) {
    c.set(prefix_of(r), r.nh, false, diff);
    build_changes += diff.size();
  }
  const double build_s = seconds_since(t0);
  const double build_cpu_s = cpu_seconds() - cpu0;
  const std::size_t memory = c.memory_bytes();

  std::vector<Route> shuffled = routes;
  std::shuffle(shuffled.begin(), shuffled.end(), gen.rng());
  double shuffled_s = 0;
  {
    PrefixCompressor c2;
    t0 = Clock::now();
    for (const Route& r : shuffled) c2.set(prefix_of(r), r.nh, false, diff);
    shuffled_s = seconds_since(t0);
    if (c2.entries() != c.entries()) {
      std::fprintf(stderr, "NOT DETERMINISTIC: shuffled build differs\n");
      std::abort();
    }
  }
  shuffled.clear();
  shuffled.shrink_to_fit();

  t0 = Clock::now();
  Ortc ortc(opt.nexthops);
  for (const Route& r : routes) ortc.insert(r);
  const std::vector<Route> ortc_entries = ortc.run();
  const double ortc_s = seconds_since(t0);
  const std::size_t ortc_miss = static_cast<std::size_t>(std::count_if(
      ortc_entries.begin(), ortc_entries.end(), [](const Route& r) { return r.nh == kMiss; }));

  const std::vector<Route> entries = as_routes(c);
  const std::size_t n_intervals = check_exact(routes, entries, "compressor");
  check_exact(routes, ortc_entries, "ORTC");
  std::size_t sampled = 0;
  {
    const Lpm a(entries);
    const Lpm b(ortc_entries);
    sampled = check_sampled(routes, {&a, &b}, gen.rng());
  }

  const double n = static_cast<double>(routes.size());
  std::printf(
      "| method | routes | entries | entries/routes | build | build rate | bytes/route |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::printf(
      "| PrefixCompressor (covered elimination + uniform merge, incremental) | %zu | %zu | "
      "%.3f | %.2f s (%.2f s shuffled) | %.0f routes/s (%.0f shuffled) | %.1f |\n",
      routes.size(), entries.size(), static_cast<double>(entries.size()) / n, build_s, shuffled_s,
      n / build_s, n / shuffled_s, static_cast<double>(memory) / n);
  std::printf(
      "| ORTC (Draves et al. 1999, optimal, non-incremental), incl. %zu \"no route\" entries "
      "| %zu | %zu | %.3f | %.2f s | %.0f routes/s | (binary trie: %zu nodes) |\n\n",
      ortc_miss, routes.size(), ortc_entries.size(), static_cast<double>(ortc_entries.size()) / n,
      ortc_s, n / ortc_s, ortc.node_count());
  std::printf(
      "Build: %.2f s of CPU time (%.0f routes/s per CPU second; wall time suffers when the "
      "machine is shared). Each set() also yields its diff (%zu entry changes in all). Memory: "
      "PrefixCompressor::memory_bytes() = %.1f MB. ORTC's \"no route\" entries re-expose the "
      "table miss below a covering entry (the switch's miss action); the PrefixCompressor "
      "never needs them.\n\n",
      build_cpu_s, n / build_cpu_s, build_changes, static_cast<double>(memory) / 1e6);
  std::printf(
      "Published reference: ORTC reported tables of about 60%% of the original size on the "
      "backbone tables of 1999 (Draves, King, Venkatachary, Zill, \"Constructing optimal IP "
      "routing tables\", INFOCOM 1999).\n\n");

  // Updates: flaps (withdraw, re-announce), next-hop changes, new more-specifics.
  Stats withdraw, announce, change, specific, all;
  std::vector<Route>& live = routes;
  auto timed = [&](auto&& op, Stats& s) {
    const auto t = Clock::now();
    op();
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - t).count();
    s.add(us, diff.size());
    all.add(us, diff.size());
  };
  std::size_t done = 0;
  while (done < opt.updates) {
    const double r = std::uniform_real_distribution<double>(0, 1)(gen.rng());
    Route& x = live[gen.pick(live.size())];
    if (r < 0.4 || (r < 0.7 && opt.nexthops == 1)) {
      timed([&] { c.erase(prefix_of(x), diff); }, withdraw);
      timed([&] { c.set(prefix_of(x), x.nh, false, diff); }, announce);
      done += 2;
    } else if (r < 0.7) {
      std::uint32_t nh = gen.peer();
      while (nh == x.nh) nh = static_cast<std::uint32_t>(gen.pick(opt.nexthops));
      x.nh = nh;
      timed([&] { c.set(prefix_of(x), x.nh, false, diff); }, change);
      ++done;
    } else {
      if (x.len >= 24) continue;
      const unsigned len = gen.length_above(x.len);
      const std::uint64_t slots = block_size(x.len) / block_size(len);
      Route m{static_cast<std::uint32_t>(x.addr + gen.pick(slots) * block_size(len)),
              static_cast<std::uint8_t>(len), gen.coin(0.5) ? x.nh : gen.peer()};
      if (!gen.add(live, m.addr, m.len, m.nh)) continue;
      timed([&] { c.set(prefix_of(m), m.nh, false, diff); }, specific);
      ++done;
    }
  }
  std::printf(
      "Updates: %zu random updates on the built table (a flap is a withdraw and a "
      "re-announce; \"new more-specific\" adds a prefix inside an existing route, half "
      "with its next hop). Diff = compressed entries added + changed + removed.\n\n",
      all.sizes.size());
  std::printf(
      "| update | count | updates/s | mean diff | p99 diff | max diff | mean us | p99 us | max us "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  print_stats("withdraw (flap)", withdraw);
  print_stats("re-announce (flap)", announce);
  print_stats("next-hop change", change);
  print_stats("new more-specific", specific);
  print_stats("all", all);

  // Worst case: a default route appearing, changing and leaving touches every
  // prefix that inherits from it (all the top of the trie).
  Stats worst;
  const IpPrefix def{IpAddress::v4(0), 0};
  const std::size_t before = c.entry_count();
  std::size_t with_default = 0;
  timed([&] { c.set(def, 0, false, diff); }, worst);
  with_default = c.entry_count();
  timed([&] { c.set(def, opt.nexthops > 1 ? 1 : 0, false, diff); }, worst);
  timed([&] { c.erase(def, diff); }, worst);
  std::printf(
      "\nWorst case, a default route (0.0.0.0/0) under the whole table: add %zu entry changes "
      "in %.1f ms (entries %zu -> %zu), next-hop change %zu in %.1f ms, withdraw %zu in %.1f "
      "ms.\n\n",
      worst.sizes[0], worst.micros[0] / 1e3, before, with_default, worst.sizes[1],
      worst.micros[1] / 1e3, worst.sizes[2], worst.micros[2] / 1e3);

  const std::vector<Route> after = as_routes(c);
  check_exact(live, after, "compressor after updates");
  {
    PrefixCompressor fresh;
    for (const Route& r : live) fresh.set(prefix_of(r), r.nh, false, diff);
    if (fresh.entries() != c.entries()) {
      std::fprintf(stderr, "NOT DETERMINISTIC: rebuild after updates differs\n");
      std::abort();
    }
  }
  std::printf("After updates: %zu routes, %zu entries (%.3f), equal to a rebuild from scratch.\n\n",
              live.size(), after.size(),
              static_cast<double>(after.size()) / static_cast<double>(live.size()));
  std::printf(
      "forwarding checked on %zu addresses (LPM over routes == LPM over compressor and ORTC "
      "entries), and exactly on every IPv4 address (%zu constant intervals compared), before "
      "and after the updates\n",
      sampled, n_intervals);
  return 0;
}
