// FlatMap: an open-addressing hash map (linear probing, backward-shift
// deletion) for the FIB's per-prefix entries. A node-based map costs some 60
// bytes per route in pointers and allocator headers; this costs the slot.
// V marks a free slot itself (V{}.used() is false), so a slot is just K + V.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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
    K key{};
    V value{};
  };

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

  const V* find(const K& k) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = Hash{}(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.value.used()) return nullptr;
      if (s.key == k) return &s.value;
    }
  }
  V* find(const K& k) { return const_cast<V*>(static_cast<const FlatMap*>(this)->find(k)); }

  // Inserts or overwrites; `v` must be used().
  void set(const K& k, const V& v) {
    if ((size_ + 1) * 8 > slots_.size() * 7) grow();
    for (std::size_t i = Hash{}(k) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.value.used()) {
        s.key = k;
        s.value = v;
        ++size_;
        return;
      }
      if (s.key == k) {
        s.value = v;
        return;
      }
    }
  }

  bool erase(const K& k) {
    if (slots_.empty()) return false;
    std::size_t i = Hash{}(k) & mask_;
    for (;; i = (i + 1) & mask_) {
      if (!slots_[i].value.used()) return false;
      if (slots_[i].key == k) break;
    }
    // Backward shift: pull later entries of the probe run into the hole, so
    // lookups never need tombstones.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      Slot& s = slots_[j];
      if (!s.value.used()) break;
      const std::size_t ideal = Hash{}(s.key) & mask_;
      // Move s into the hole unless its ideal slot lies cyclically in (i, j].
      const bool in_range = i <= j ? (ideal > i && ideal <= j) : (ideal > i || ideal <= j);
      if (!in_range) {
        slots_[i] = s;
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
    return true;
  }

  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
    mask_ = 0;
  }
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap * 7 < n * 8) cap *= 2;
    if (cap > slots_.size()) rehash(cap);
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.value.used()) f(s.key, s.value);
    }
  }

 private:
  void grow() { rehash(slots_.empty() ? 16 : slots_.size() * 2); }
  void rehash(std::size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.value.used()) set(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
};

}  // namespace tapflow::routing
