// FlatMap: a map's behaviour against std::unordered_map, through its
// incremental growth, and growth spread over many calls.
#include "flat_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <unordered_map>

namespace tapflow::routing {
namespace {

struct Val {
  std::uint32_t v = 0;  // 0: free
  bool used() const { return v != 0; }
};
struct Hash {
  std::size_t operator()(std::uint64_t k) const { return mix64(k); }
};
// Every key in the same home slot's neighbourhood: long probe runs that wrap.
struct BadHash {
  std::size_t operator()(std::uint64_t k) const { return ~std::size_t{0} - (k & 3); }
};
using Map = FlatMap<std::uint64_t, Val, Hash>;

template <typename M>
void expect_same(const M& m, const std::unordered_map<std::uint64_t, std::uint32_t>& ref) {
  ASSERT_EQ(m.size(), ref.size());
  for (const auto& [k, v] : ref) {
    const Val* f = m.find(k);
    ASSERT_NE(f, nullptr) << "key " << k;
    ASSERT_EQ(f->v, v) << "key " << k;
  }
  std::size_t seen = 0;
  m.for_each([&](std::uint64_t k, const Val& v) {
    ++seen;
    auto it = ref.find(k);
    ASSERT_NE(it, ref.end()) << "key " << k;
    EXPECT_EQ(it->second, v.v);
  });
  EXPECT_EQ(seen, ref.size());
}

template <typename M>
void random_ops(std::uint32_t seed, std::uint64_t key_space, int ops) {
  M m;
  std::unordered_map<std::uint64_t, std::uint32_t> ref;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < ops; ++i) {
    const std::uint64_t k = rng() % key_space;
    const int what = static_cast<int>(rng() % 10);
    if (what < 6) {
      const std::uint32_t v = static_cast<std::uint32_t>(rng() % 1000) + 1;
      m.set(k, Val{v});
      ref[k] = v;
    } else if (what < 9) {
      EXPECT_EQ(m.erase(k), ref.erase(k) == 1) << "op " << i;
    } else {
      const Val* f = m.find(k);
      auto it = ref.find(k);
      ASSERT_EQ(f != nullptr, it != ref.end()) << "op " << i;
      if (f) {
        EXPECT_EQ(f->v, it->second);
      }
    }
    if (i % 5000 == 0) expect_same(m, ref);
  }
  expect_same(m, ref);
}

TEST(FlatMap, BehavesLikeAMapThroughGrowthAndErase) {
  random_ops<Map>(1, 100000, 300000);
  random_ops<Map>(2, 300, 50000);
}

TEST(FlatMap, ProbeRunsThatWrapSurviveGrowth) {
  random_ops<FlatMap<std::uint64_t, Val, BadHash>>(3, 2000, 40000);
}

TEST(FlatMap, GrowthIsSpreadOverManyCalls) {
  Map m;
  std::unordered_map<std::uint64_t, std::uint32_t> ref;
  std::uint64_t k = 0;
  // Fill until a growth starts at a sizeable table.
  while (!(m.growing() && m.size() > 100000)) {
    m.set(k, Val{static_cast<std::uint32_t>(k % 7 + 1)});
    ref[k] = static_cast<std::uint32_t>(k % 7 + 1);
    ++k;
  }
  const std::size_t at = m.size();
  // The table that filled had 8/7 x `at` slots; each call drains kDrainPerOp
  // of them and the rest of a probe run, so the growth takes thousands of
  // calls, not one.
  int calls = 0;
  while (m.growing()) {
    m.set(k, Val{1});
    ref[k] = 1;
    ++k;
    ++calls;
    if (calls % 1000 == 0) expect_same(m, ref);
  }
  std::printf("growth at %zu entries took %d calls\n", at, calls);
  EXPECT_GT(calls, static_cast<int>(at / Map::kDrainPerOp / 4));
  expect_same(m, ref);
  // Erases drive the growth as well, and find works throughout.
  while (!m.growing()) {
    m.set(k, Val{2});
    ref[k] = 2;
    ++k;
  }
  for (std::uint64_t e = 0; m.growing(); e += 3) {
    EXPECT_TRUE(m.erase(e));
    ref.erase(e);
  }
  expect_same(m, ref);
}

TEST(FlatMap, ReserveAndClear) {
  Map m;
  for (std::uint64_t k = 0; k < 1000; ++k) m.set(k, Val{5});
  m.reserve(100000);
  EXPECT_FALSE(m.growing());
  EXPECT_GE(m.memory_bytes(), 100000 * sizeof(Map::Slot));
  for (std::uint64_t k = 0; k < 1000; ++k) ASSERT_NE(m.find(k), nullptr);
  for (std::uint64_t k = 1000; k < 90000; ++k) m.set(k, Val{6});
  EXPECT_FALSE(m.growing());
  EXPECT_EQ(m.size(), 90000u);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(5), nullptr);
  EXPECT_EQ(m.memory_bytes(), 0u);
  m.set(5, Val{9});
  EXPECT_EQ(m.find(5)->v, 9u);
}

}  // namespace
}  // namespace tapflow::routing
