#include "tapflow/netns/ip.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace tapflow::netns {

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.family = AF_INET;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v6(const std::uint8_t* sixteen_bytes) {
  IpAddress a;
  a.family = AF_INET6;
  std::memcpy(a.bytes.data(), sixteen_bytes, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid IPv6 text
  // (with an embedded IPv4 tail) is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  // An embedded NUL would make inet_pton accept only the text before it.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

bool IpAddress::is_v4() const { return family == AF_INET; }
bool IpAddress::is_v6() const { return family == AF_INET6; }

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

bool IpAddress::is_link_local() const {
  if (is_v4()) return bytes[0] == 169 && bytes[1] == 254;
  if (is_v6()) return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
  return false;
}

bool IpAddress::is_multicast() const {
  if (is_v4()) return (bytes[0] & 0xf0) == 0xe0;
  if (is_v6()) return bytes[0] == 0xff;
  return false;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4() || is_v6()) {
    if (inet_ntop(family, bytes.data(), buf, sizeof buf) != nullptr) return buf;
  }
  return "<unset>";
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const unsigned max_len = addr->is_v4() ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    // Digits only: from_chars alone would accept "24abc" up to the 'a'.
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    if (len > max_len) return std::nullopt;
  }
  IpPrefix p;
  p.addr = *addr;
  p.len = static_cast<std::uint8_t>(len);
  return p;
}

IpPrefix IpPrefix::network() const {
  IpPrefix p = *this;
  const std::size_t n = addr.size();
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= len) {
      p.addr.bytes[i] = 0;
    } else if (bit + 8 > len) {
      const unsigned keep = len - bit;
      p.addr.bytes[i] &= static_cast<std::uint8_t>(0xff00u >> keep);
    }
  }
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family != addr.family) return false;
  IpPrefix other{a, len};
  return other.network().addr == network().addr;
}

std::string IpPrefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

}  // namespace tapflow::netns
