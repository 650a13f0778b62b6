// Helpers shared by the OpenFlow 1.0 codec tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "of10_parts.hpp"
#include "test_util.hpp"

namespace tapflow::openflow::of10test {

using testing::decode_roundtrip;
using testing::expect_decode_error;
using testing::hex;

// ofp_match with every field wildcarded, as Open vSwitch spells it (netmasks
// as 32 ignored bits): what the encoder builds for an empty Match.
inline constexpr std::string_view kAnyMatch = R"(
    003820ff       # wildcards: all, nw_src/nw_dst 32 ignored bits
    0000           # in_port
    000000000000   # dl_src
    000000000000   # dl_dst
    0000 00 00     # dl_vlan, dl_vlan_pcp, pad
    0000 00 00     # dl_type, nw_tos, nw_proto
    0000           # pad
    00000000       # nw_src
    00000000       # nw_dst
    0000 0000      # tp_src, tp_dst
)";

inline Message msg10(MessageBody body, std::uint32_t xid = 0) {
  Message m;
  m.version = kVersion10;
  m.xid = xid;
  m.body = std::move(body);
  return m;
}

inline std::string hexs(const Bytes& b) { return to_hex(b.data(), b.size()); }

// Encodes and expects success.
inline Bytes encode_ok(const Message& m) {
  auto b = encode(m);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : describe(b.error()));
  return b.ok() ? *b : Bytes{};
}

inline OfError expect_encode_error(const Message& m, std::uint16_t type, std::uint16_t code) {
  auto b = encode(m);
  EXPECT_FALSE(b.ok()) << "encoded although inexpressible in 1.0";
  if (b.ok()) return {};
  EXPECT_EQ(b.error().type, type) << describe(b.error());
  EXPECT_EQ(b.error().code, code) << describe(b.error());
  return b.error();
}

inline Of10MatchBytes match_bytes(std::string_view text) {
  Bytes b = hex(text);
  Of10MatchBytes out{};
  EXPECT_EQ(b.size(), out.size());
  std::copy_n(b.begin(), std::min(b.size(), out.size()), out.begin());
  return out;
}

inline std::string hexs(const Of10MatchBytes& b) { return to_hex(b.data(), b.size()); }

// Runs a part decoder over `b` with the given underrun error; returns the
// value, the first error and what was left unread.
template <class T>
struct Decoded {
  T value;
  std::optional<OfError> error;
  std::size_t left = 0;
};
template <class Fn>
auto decode_part(const Bytes& b, Fn fn, std::uint16_t under_type = error_type::kBadRequest,
                 std::uint16_t under_code = bad_request::kBadLen) {
  wire::DecodeState st;
  wire::Reader r(b, st, 0, under_type, under_code);
  auto v = fn(r);
  return Decoded<decltype(v)>{std::move(v), st.error, r.remaining()};
}

}  // namespace tapflow::openflow::of10test
