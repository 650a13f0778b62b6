// Small value types used across the OpenFlow model.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

namespace tapflow::openflow {

using Bytes = std::vector<std::uint8_t>;
// Field values (OXM values and masks): inline up to 16 bytes (an IPv6 address),
// so decoding a match allocates nothing for standard fields.
using ValueBytes = boost::container::small_vector<std::uint8_t, 16>;

// An Ethernet address.
struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  static std::optional<MacAddress> parse(std::string_view text);  // "aa:bb:cc:dd:ee:ff"
  std::string to_string() const;
  std::uint64_t to_u64() const;
  static MacAddress from_u64(std::uint64_t v);
  bool is_zero() const { return to_u64() == 0; }
  bool is_multicast() const { return (octets[0] & 1) != 0; }
  bool is_broadcast() const { return to_u64() == 0xffffffffffffULL; }
  auto operator<=>(const MacAddress&) const = default;
};

// Text helpers used by printers and tests.
std::string ipv4_to_string(std::uint32_t host_order);
std::string ipv6_to_string(const std::uint8_t* sixteen_bytes);
std::string to_hex(const std::uint8_t* data, std::size_t len);
// Parses hex text, ignoring white space, "0x" prefixes and '#' comments to end
// of line. Returns nullopt on an odd digit count or a non-hex character.
std::optional<Bytes> parse_hex(std::string_view text);

}  // namespace tapflow::openflow
