// IpAddress and IpPrefix: IPv4/IPv6 values shared by tapd and routing.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tapflow::netns {

// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of `bytes` (network
// order); the rest are zero, so comparison and hashing are plain.
struct IpAddress {
  std::uint8_t family = 0;  // AF_INET or AF_INET6; 0 = unset
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v6(const std::uint8_t* sixteen_bytes);
  // "10.0.0.1", "2001:db8::1"; nullopt if neither.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  bool is_v6() const;
  std::uint32_t v4_host_order() const;  // is_v4() only
  std::size_t size() const { return is_v4() ? 4 : 16; }
  bool is_link_local() const;  // 169.254/16 or fe80::/10
  bool is_multicast() const;   // 224/4 or ff00::/8
  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;
};

// An address with a prefix length: an interface address ("10.0.1.1/24") or a
// route destination ("10.0.0.0/8").
struct IpPrefix {
  IpAddress addr;
  std::uint8_t len = 0;

  // "10.0.1.1/24", "2001:db8::/32"; a bare address is a host prefix.
  // nullopt if malformed or the length is too long for the family.
  static std::optional<IpPrefix> parse(std::string_view text);
  IpPrefix network() const;  // host bits cleared
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
  auto operator<=>(const IpPrefix&) const = default;
};

}  // namespace tapflow::netns
