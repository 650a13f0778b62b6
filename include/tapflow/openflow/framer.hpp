// Framer: cuts whole OpenFlow messages out of a TCP byte stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "tapflow/openflow/result.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow {

// One whole message cut from the stream: its bytes (header included) and the
// stream offset of its first byte.
struct Frame {
  std::span<const std::uint8_t> bytes;
  std::uint64_t offset = 0;
};

// Usage: push() what the socket gave, then call next() until it returns
// nothing; then read again.
//
// Messages that lie whole in the pushed bytes are returned as spans into them,
// without a copy. Only a message split across pushes is assembled in an
// internal buffer, which never holds more than one message's worth of bytes
// (at most 65535) plus whatever was pushed and not yet drained, so memory
// stays bounded whatever the peer sends.
//
// Lifetimes: bytes given to push() are borrowed until next() has returned
// nothing (or until the next push(), which copies what is left of them), so
// keep them unchanged until then. A returned Frame is valid until the next
// call to next() or push().
//
// A header length below 8 is a framing error: the stream cannot be resynced,
// so the error is sticky (next() returns nothing from then on) and the caller
// should close the connection, after sending error() back if it wishes.
class Framer {
 public:
  void push(std::span<const std::uint8_t> bytes);
  std::optional<Frame> next();

  bool failed() const { return error_.has_value(); }
  // The framing error: BAD_REQUEST/BAD_LEN; `offset` is the stream offset of
  // the bad message's first byte.
  const std::optional<OfError>& error() const { return error_; }

  // Stream offset of the first byte not yet returned in a Frame.
  std::uint64_t offset() const { return offset_; }
  // Bytes pushed but not yet returned in a Frame (a partial message, or
  // messages not yet drained). Non-zero at end of stream means the stream
  // ended inside a message.
  std::size_t pending() const { return (buffer_.size() - head_) + input_.size(); }
  // Bytes held in the internal buffer (copies), for tests and metrics.
  std::size_t buffered() const { return buffer_.size() - head_; }

 private:
  // Length of the message starting at `bytes` if its header is readable
  // (0 if fewer than 4 bytes); sets error_ on a bad length.
  std::size_t message_length(std::span<const std::uint8_t> bytes);
  void compact();

  Bytes buffer_;         // assembled bytes; [head_, end) not yet returned
  std::size_t head_ = 0;
  std::span<const std::uint8_t> input_;  // borrowed bytes from the last push()
  std::uint64_t offset_ = 0;
  std::optional<OfError> error_;
};

}  // namespace tapflow::openflow
