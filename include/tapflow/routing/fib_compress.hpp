// FIB prefix compressor: when a switch's FIB table is too small for the
// routes, the FIB compiler installs a smaller set of (prefix, action) entries
// that forwards every address exactly as the routes do under longest-prefix
// match, kept up to date incrementally as routes change. Pure logic, no I/O.
//
// The compression is covered-prefix elimination plus merging of uniform
// subtrees (not full ORTC: entries are always prefixes that hold a route or
// whose whole address range forwards one way). Over the binary trie of
// prefixes, with value(v) = the action of the longest route covering all of v
// (or MISS) and uniform(v) = a when every address in v forwards to a:
//   - a uniform(a) node whose parent is not uniform is emitted as (v, a),
//     unless a is MISS or a is what v inherits from the nearest emitted entry
//     above it (which always equals value(parent(v)));
//   - a non-uniform node holding a route of action a is emitted as (v, a)
//     unless a equals what it inherits.
// So no entry ever covers MISS space (the switch's table miss stays a miss),
// and the result depends only on the route set, not on the order of changes.
// A pinned route (the compiler's connected subnets, whose host flows sit at
// special priorities) is always emitted at its own prefix, and it and all its
// ancestors count as non-uniform: nothing merges across it; below it,
// prefixes compress among themselves.
//
// Incremental: a change at prefix p recomputes p's ancestors (O(prefix
// length)) and the part of p's subtree that inherits from p (down to the next
// routes below p); the diff compares the entries of exactly that region
// before and after, so it is exact and minimal. Storage: one path-compressed
// binary trie per family, nodes pooled in a vector with 32-bit indices and
// actions interned to 32-bit ids (24 bytes a node for IPv4, at most two nodes
// a route).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tapflow/netns/ip.hpp"

namespace tapflow::routing {

// What a route does, as an opaque key: equal keys forward identically.
using ActionKey = std::uint64_t;

// One entry of the compressed set: install `prefix` -> `action`, with the
// priority ordering of its prefix length.
struct CompressedEntry {
  netns::IpPrefix prefix;
  ActionKey action = 0;
  auto operator<=>(const CompressedEntry&) const = default;
};

// The changes one call made to the compressed set: `added` prefixes were not
// in the set, `changed` ones stay with a new action, `removed` ones are gone.
// No prefix appears twice, and nothing appears that ends where it started.
struct CompressDiff {
  std::vector<CompressedEntry> added;
  std::vector<CompressedEntry> changed;
  std::vector<netns::IpPrefix> removed;

  bool empty() const { return added.empty() && changed.empty() && removed.empty(); }
  std::size_t size() const { return added.size() + changed.size() + removed.size(); }
  void clear();
};

// Routes in, compressed entries (and their changes) out; IPv4 and IPv6 in one
// object. Every mutating call first clears `diff`, then fills it with exactly
// that call's changes (so a caller batching calls applies each diff in turn).
class PrefixCompressor {
 public:
  PrefixCompressor();
  ~PrefixCompressor();
  PrefixCompressor(PrefixCompressor&&) noexcept;
  PrefixCompressor& operator=(PrefixCompressor&&) noexcept;

  // Sets (adds or replaces) the route of exactly `prefix`; host bits are
  // ignored (cleared). A pinned route is always emitted as itself and blocks
  // merging across it; give each pinned route its own action key.
  void set(const netns::IpPrefix& prefix, ActionKey action, bool pinned, CompressDiff& diff);
  // Removes the route of exactly `prefix`; a no-op if there is none.
  void erase(const netns::IpPrefix& prefix, CompressDiff& diff);
  // Removes every route (of both families).
  void clear(CompressDiff& diff);

  // The whole compressed set, sorted.
  std::vector<CompressedEntry> entries() const;
  std::size_t route_count() const;
  std::size_t entry_count() const;
  // Approximate heap use (trie nodes, action table, scratch space).
  std::size_t memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapflow::routing
