// Encode and decode whole OpenFlow messages (1.0 and 1.3).
#pragma once

#include <cstdint>
#include <span>

#include "tapflow/openflow/messages.hpp"
#include "tapflow/openflow/result.hpp"

namespace tapflow::openflow {

// Decodes exactly one message. `bytes` must be the whole message: its size
// must equal the header's length field. Decoding is total: any input gives a
// Message or an OfError (with the offset of the problem), never a read past
// the end. Versions other than 1.0 and 1.3 give BAD_REQUEST/BAD_VERSION,
// except HELLO and ERROR, which are decoded whatever their version
// (negotiation, and the HELLO_FAILED error that may end it, need them).
Result<Message> decode(std::span<const std::uint8_t> bytes);

// decode() into an existing message, for receive loops: when `out` already
// holds a PACKET_IN and the input is one, its data and match buffers are
// reused, so a steady stream of PACKET_INs decodes without allocating. Same
// result as decode(). On error `out` is valid but its contents unspecified.
Status decode_into(std::span<const std::uint8_t> bytes, Message& out);

// Encodes `msg` for msg.version, appending to `out`. On error `out` is left as
// it was. Fails with BAD_REQUEST/BAD_TYPE (or a BAD_ACTION/BAD_MATCH code) when
// the message cannot be expressed in that version (e.g. GROUP_MOD in 1.0).
Status encode(const Message& msg, Bytes& out);
Result<Bytes> encode(const Message& msg);

// The wire message type number of a body in a version, or -1 if the version
// has no such message.
int wire_type(std::uint8_t version, const MessageBody& body);

// Reads the 8-byte header fields from the start of a buffer (at least 8 bytes).
struct Header {
  std::uint8_t version = 0;
  std::uint8_t type = 0;
  std::uint16_t length = 0;
  std::uint32_t xid = 0;
};
Header peek_header(std::span<const std::uint8_t> bytes);

}  // namespace tapflow::openflow
