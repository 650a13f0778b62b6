// Match: a version-neutral flow match, as an ordered list of OXM fields.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "tapflow/openflow/oxm.hpp"

namespace tapflow::openflow {

// The 40-byte OpenFlow 1.0 ofp_match as it was on the wire.
using Of10MatchBytes = std::array<std::uint8_t, 40>;

struct Match {
  // Fields in wire order. A field absent from the list is wildcarded.
  std::vector<OxmField> fields;

  // Set only by the OpenFlow 1.0 decoder: the original ofp_match bytes. The 1.0
  // encoder re-emits them when they still decode to `fields`, so a decoded
  // message re-encodes byte for byte (1.0 wildcards have several spellings of
  // the same match, e.g. a /0 netmask as 32 or 63 ignored bits, and wildcarded
  // fields may carry stale values). Matches built by code leave it empty.
  std::optional<Of10MatchBytes> of10_wire;

  const OxmField* find(std::uint8_t basic_field) const;
  Match& add(OxmField f) {
    fields.push_back(std::move(f));
    of10_wire.reset();
    return *this;
  }
  bool empty() const { return fields.empty(); }
  friend bool operator==(const Match& a, const Match& b) { return a.fields == b.fields; }
};

// Checks OpenFlow 1.3 match rules that a switch enforces: known field lengths,
// masks only where allowed, no duplicate fields, prerequisites present
// (e.g. ipv4_dst needs eth_type=0x0800). Error type BAD_MATCH.
Status check_match(const Match& m);

}  // namespace tapflow::openflow
