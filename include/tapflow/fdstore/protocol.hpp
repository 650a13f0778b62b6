// The fd store's wire protocol: one AF_UNIX SOCK_SEQPACKET message per
// request or answer, an opcode byte and a key, descriptors as SCM_RIGHTS.
//
//   client -> store   PUT  'P' key   + exactly one fd  (replaces, and closes, an older one)
//                     DEL  'D' key                     (closes the stored fd)
//                     LIST 'L'                         (nothing else)
//   store -> client   ENTRY 'E' key + its fd           (one per stored key)
//                     END   'Z'                        (after the last entry)
//
// PUT and DEL get no answer: a LIST after them on the same connection is the
// barrier that shows they were applied (the store reads in order).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tapflow::fdstore {

// Longest key: a namespace name (NAME_MAX) + '/' + an interface name, with room.
inline constexpr std::size_t kMaxKey = 512;
// Opcode byte plus key.
inline constexpr std::size_t kMaxMessage = 1 + kMaxKey;

enum class Op : char { kPut = 'P', kDel = 'D', kList = 'L', kEntry = 'E', kEnd = 'Z' };

// A decoded message: its opcode and key (empty for LIST and END).
struct Message {
  Op op;
  std::string key;
  friend bool operator==(const Message&, const Message&) = default;
};

// A key is 1..kMaxKey bytes of printable ASCII other than blanks
// ("<netns>/<ifname>"); anything else is refused rather than stored.
bool valid_key(std::string_view key);

// The bytes of one message (no descriptors).
std::string encode(const Message& m);
// A message from the bytes of one datagram, or nullopt if malformed (unknown
// opcode, invalid key, a key where none belongs, too long).
std::optional<Message> decode(std::span<const std::uint8_t> bytes);
// How many descriptors a well-formed message of this opcode carries.
std::size_t fds_for(Op op);

// The socket address of a store name: a leading '/' is a filesystem path,
// anything else an abstract name (private to the network namespace).
// nullopt if empty or too long for sockaddr_un.
struct SocketAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
};
std::optional<SocketAddress> socket_address(const std::string& name);

}  // namespace tapflow::fdstore
