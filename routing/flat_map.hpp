// FlatMap: an open-addressing hash map (linear probing, backward-shift
// deletion) for the FIB's per-prefix entries. A node-based map costs some 60
// bytes per route in pointers and allocator headers; this costs the slot.
// V marks a free slot itself (V{}.used() is false), so a slot is just K + V.
//
// Growth is incremental: when the table fills, a table twice its size takes
// every new entry, and each later set() or erase() moves a few slots of the
// old table over (kDrainPerOp); lookups look in both meanwhile. So no single
// call ever rehashes the whole map. (It did: at 917,504 IPv4 routes one
// insert rehashed them all, 100-160 ms on one core, and tapflowd's event
// loop, the one that moves BFD and BGP frames between the switch and the
// TAPs, stood still that long during a full-table install.) A map whose
// changes stop mid-growth keeps both tables until its next change. Tables come from
// calloc, zeroed lazily by the kernel for large ones, so their pages are
// touched as entries land rather than all at once. K and V must be trivially
// copyable, and an all-zero V must be free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace tapflow::routing {

inline std::uint64_t mix64(std::uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

template <typename K, typename V, typename Hash>
class FlatMap {
 public:
  struct Slot {
    K key;
    V value;
  };
  static_assert(std::is_trivially_copyable_v<Slot>, "FlatMap slots are calloc'd and copied as bytes");

  // Old-table slots drained per set() or erase() while growing (and the rest
  // of the probe run the last one is in). The new table has twice the old
  // one's slots, so the old one is empty before the inserts that drive the
  // move could fill a thirty-second of it.
  static constexpr std::size_t kDrainPerOp = 16;

  std::size_t size() const { return cur_.size + old_.size; }
  bool empty() const { return size() == 0; }
  std::size_t memory_bytes() const { return (cur_.cap + old_.cap) * sizeof(Slot); }
  bool growing() const { return old_.cap != 0; }

  const V* find(const K& k) const {
    if (const Slot* s = cur_.find(k)) return &s->value;
    if (const Slot* s = old_.find(k)) return &s->value;
    return nullptr;
  }
  V* find(const K& k) { return const_cast<V*>(static_cast<const FlatMap*>(this)->find(k)); }

  // Inserts or overwrites; `v` must be used().
  void set(const K& k, const V& v) {
    drain(kDrainPerOp);
    if (Slot* s = old_.find(k)) {
      s->value = v;  // moved over with its slot later
      return;
    }
    if (Slot* s = cur_.find(k)) {
      s->value = v;
      return;
    }
    if ((cur_.size + 1) * 8 > cur_.cap * 7) {
      // Full. A growth still under way (only after a burst of inserts that
      // drove no drain, which set() does not allow) is finished first.
      drain(old_.cap);
      start_growth(cur_.cap ? cur_.cap * 2 : 16);
      drain(kDrainPerOp);
    }
    cur_.insert(k, v);
  }

  bool erase(const K& k) {
    drain(kDrainPerOp);
    return cur_.erase(k) || old_.erase(k);
  }

  void clear() {
    cur_ = Table();
    old_ = Table();
    drain_pos_ = drained_ = 0;
  }
  // Room for n entries without growing (finishes a growth under way).
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap * 7 < n * 8) cap *= 2;
    drain(old_.cap);
    if (cap <= cur_.cap) return;
    start_growth(cap);
    drain(old_.cap);
  }

  template <typename F>
  void for_each(F&& f) const {
    cur_.for_each(f);
    old_.for_each(f);
  }

 private:
  struct Free {
    void operator()(Slot* p) const { std::free(p); }
  };
  struct Table {
    std::unique_ptr<Slot[], Free> slots;
    std::size_t cap = 0, mask = 0, size = 0;

    Table() = default;
    explicit Table(std::size_t c)
        : slots(static_cast<Slot*>(std::calloc(c, sizeof(Slot)))), cap(c), mask(c - 1) {
      if (!slots) throw std::bad_alloc();
    }
    Table(Table&& o) noexcept
        : slots(std::move(o.slots)), cap(std::exchange(o.cap, 0)), mask(std::exchange(o.mask, 0)),
          size(std::exchange(o.size, 0)) {}
    Table& operator=(Table&& o) noexcept {
      slots = std::move(o.slots);
      cap = std::exchange(o.cap, 0);
      mask = std::exchange(o.mask, 0);
      size = std::exchange(o.size, 0);
      return *this;
    }

    Slot* find(const K& k) const {
      if (cap == 0) return nullptr;
      for (std::size_t i = Hash{}(k) & mask;; i = (i + 1) & mask) {
        Slot& s = slots[i];
        if (!s.value.used()) return nullptr;
        if (s.key == k) return &s;
      }
    }
    // `k` must be absent and a slot free.
    void insert(const K& k, const V& v) {
      for (std::size_t i = Hash{}(k) & mask;; i = (i + 1) & mask) {
        Slot& s = slots[i];
        if (!s.value.used()) {
          s.key = k;
          s.value = v;
          ++size;
          return;
        }
      }
    }
    bool erase(const K& k) {
      Slot* s = find(k);
      if (!s) return false;
      erase_at(static_cast<std::size_t>(s - slots.get()));
      return true;
    }
    // Backward shift: pull later entries of the probe run into the hole, so
    // lookups never need tombstones.
    void erase_at(std::size_t i) {
      for (std::size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        Slot& s = slots[j];
        if (!s.value.used()) break;
        const std::size_t ideal = Hash{}(s.key) & mask;
        // Move s into the hole unless its ideal slot lies cyclically in (i, j].
        const bool in_range = i <= j ? (ideal > i && ideal <= j) : (ideal > i || ideal <= j);
        if (!in_range) {
          slots[i] = s;
          i = j;
        }
      }
      slots[i] = Slot{};
      --size;
    }
    template <typename F>
    void for_each(F& f) const {
      for (std::size_t i = 0; i < cap; ++i) {
        if (slots[i].value.used()) f(slots[i].key, slots[i].value);
      }
    }
  };

  // Starts a growth into a table of `cap` slots: the current one becomes the
  // old one, drained from just past one of its free slots, cyclically.
  void start_growth(std::size_t cap) {
    old_ = std::move(cur_);
    cur_ = Table(cap);
    drained_ = 0;
    drain_pos_ = 0;
    if (old_.cap == 0) return;
    while (old_.slots[drain_pos_].value.used()) ++drain_pos_;  // the load is below 1: one is free
    drain_pos_ = (drain_pos_ + 1) & old_.mask;
  }
  // Moves the entries of at least `n` old slots into the current table, and
  // always whole probe runs (a run starts past a free slot): a lookup of a
  // key still in the old table walks its run, which is never cut. Emptying a
  // whole run needs no backward shifts, so each entry moves once.
  void drain(std::size_t n) {
    if (old_.cap == 0) return;
    bool in_run = false;
    while (drained_ < old_.cap && (n > 0 || in_run)) {
      Slot& s = old_.slots[drain_pos_];
      in_run = s.value.used();
      if (in_run) {
        cur_.insert(s.key, s.value);
        s = Slot{};
        --old_.size;
      }
      drain_pos_ = (drain_pos_ + 1) & old_.mask;
      ++drained_;
      if (n > 0) --n;
    }
    if (drained_ == old_.cap) {
      old_ = Table();
      drained_ = drain_pos_ = 0;
    }
  }

  Table cur_;  // where new entries go
  Table old_;  // while growing: the previous table, drained into cur_
  std::size_t drain_pos_ = 0, drained_ = 0;  // next old slot to drain; old slots drained
};

}  // namespace tapflow::routing
