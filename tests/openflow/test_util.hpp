// Helpers for codec tests: annotated hex in, bytes out.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow::testing {

// Hex with '#' comments, e.g. "04 00 0008 00000001  # hello, xid 1".
inline Bytes hex(std::string_view text) {
  auto b = parse_hex(text);
  EXPECT_TRUE(b.has_value()) << "bad hex in test: " << text;
  return b.value_or(Bytes{});
}

// Decodes `wire`, expects success, and expects encode() to give `wire` back.
inline Message decode_roundtrip(const Bytes& wire) {
  auto m = decode(wire);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : describe(m.error()));
  if (!m.ok()) return {};
  auto again = encode(*m);
  EXPECT_TRUE(again.ok()) << (again.ok() ? "" : describe(again.error()));
  if (again.ok()) {
    EXPECT_EQ(to_hex(again->data(), again->size()), to_hex(wire.data(), wire.size()));
  }
  return *m;
}

// Expects decode(wire) to fail with (type, code).
inline OfError expect_decode_error(const Bytes& wire, std::uint16_t type, std::uint16_t code) {
  auto m = decode(wire);
  EXPECT_FALSE(m.ok()) << "decoded although malformed";
  if (m.ok()) return {};
  EXPECT_EQ(m.error().type, type) << describe(m.error());
  EXPECT_EQ(m.error().code, code) << describe(m.error());
  return m.error();
}

}  // namespace tapflow::openflow::testing
