#include "tapflow/fdstore/protocol.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace tapflow::fdstore {

bool valid_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKey &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string encode(const Message& m) {
  std::string out(1, static_cast<char>(m.op));
  out += m.key;
  return out;
}

std::size_t fds_for(Op op) { return op == Op::kPut || op == Op::kEntry ? 1 : 0; }

std::optional<Message> decode(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > kMaxMessage) return std::nullopt;
  const auto op = static_cast<Op>(bytes[0]);
  std::string key(reinterpret_cast<const char*>(bytes.data()) + 1, bytes.size() - 1);
  switch (op) {
    case Op::kPut:
    case Op::kDel:
    case Op::kEntry:
      if (!valid_key(key)) return std::nullopt;
      return Message{op, std::move(key)};
    case Op::kList:
    case Op::kEnd:
      if (!key.empty()) return std::nullopt;
      return Message{op, {}};
  }
  return std::nullopt;
}

std::optional<SocketAddress> socket_address(const std::string& name) {
  SocketAddress a;
  a.addr.sun_family = AF_UNIX;
  // A path needs its NUL; an abstract name its leading NUL: both leave
  // sizeof(sun_path) - 1 bytes for the name.
  if (name.empty() || name.size() > sizeof(a.addr.sun_path) - 1 ||
      name.find('\0') != std::string::npos) {
    return std::nullopt;
  }
  if (name[0] == '/') {
    std::memcpy(a.addr.sun_path, name.data(), name.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  } else {
    std::memcpy(a.addr.sun_path + 1, name.data(), name.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  }
  return a;
}

}  // namespace tapflow::fdstore
