// Sending and receiving one SEQPACKET message with descriptors (SCM_RIGHTS),
// shared by the store and its client. Private to src/fdstore.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::fdstore::detail {

// sendmsg of `bytes` with `fd` attached unless it is -1. MSG_NOSIGNAL: a
// peer gone is an error here, not SIGPIPE. Returns 0 or an errno.
int send_message(int sock, const std::string& bytes, int fd);

struct Received {
  int error = 0;           // an errno; EAGAIN when nothing waits
  bool eof = false;        // the peer closed
  bool truncated = false;  // MSG_TRUNC or MSG_CTRUNC: malformed
  std::vector<std::uint8_t> bytes;
  std::vector<netns::UniqueFd> fds;  // every descriptor that arrived (owned)
};
// One recvmsg into a buffer of max_bytes + 1 (so that an oversized message
// shows as MSG_TRUNC) with room for a few descriptors: every descriptor that
// arrives is in `fds`, so nothing received can leak.
Received receive_message(int sock, std::size_t max_bytes, int flags);

}  // namespace tapflow::fdstore::detail
