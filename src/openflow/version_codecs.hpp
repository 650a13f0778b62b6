// Internal interface between the top-level codec (codec.cpp) and the per-version
// wire codecs. Body decoders read from a Reader positioned just after the
// 8-byte header and must consume every byte of the body (the top level rejects
// leftovers with BAD_LEN); errors are recorded in the reader's DecodeState.
// Body encoders append everything after the header.
#pragma once

#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "tapflow/openflow/messages.hpp"
#include "wire_io.hpp"

namespace tapflow::openflow {

// Messages whose layout is the same in 1.0 and 1.3 (common_codec.cpp).
namespace common {
Hello decode_hello(wire::Reader& r);
void encode_hello(const Hello& m, wire::Writer& w);
Error decode_error(wire::Reader& r, std::uint8_t version);
void encode_error(const Error& m, std::uint8_t version, wire::Writer& w);
}  // namespace common

// The PacketIn held by `body`, reset to a default PacketIn but keeping the
// capacity of its data and match vectors; a fresh one if `body` holds another
// message. Refilling it allocates nothing once the buffers are big enough,
// which the controller's receive path relies on (decode_into).
inline PacketIn& reuse_packet_in(MessageBody& body) {
  auto* p = std::get_if<PacketIn>(&body);
  if (p == nullptr) return body.emplace<PacketIn>();
  Bytes data = std::move(p->data);
  std::vector<OxmField> fields = std::move(p->match.fields);
  data.clear();
  fields.clear();
  *p = PacketIn{};  // every other member back to its default, whatever is added later
  p->data = std::move(data);
  p->match.fields = std::move(fields);
  return *p;
}

namespace of10 {
// Decodes a body into `out` (which may hold an earlier message: a PACKET_IN
// decoded over a PACKET_IN reuses its buffers via reuse_packet_in).
void decode_body(std::uint8_t type, wire::Reader& r, MessageBody& out);
Status encode_body(const MessageBody& body, wire::Writer& w);
int wire_type(const MessageBody& body);  // -1: not in OpenFlow 1.0
}  // namespace of10

namespace of13 {
void decode_body(std::uint8_t type, wire::Reader& r, MessageBody& out);  // as of10's
Status encode_body(const MessageBody& body, wire::Writer& w);
int wire_type(const MessageBody& body);  // -1: not in OpenFlow 1.3

// Parts shared between 1.3 messages (of13_match.cpp, of13_actions.cpp). Each
// decoder reads one item from the reader; list decoders read until it is empty.
OxmField decode_oxm(wire::Reader& r);
void encode_oxm(const OxmField& f, wire::Writer& w);
Match decode_match(wire::Reader& r);                  // ofp_match incl. its padding
void decode_match_into(wire::Reader& r, Match& out);  // the same, appending to out.fields
void encode_match(const Match& m, wire::Writer& w);
ActionList decode_actions(wire::Reader& r);
Status encode_actions(const ActionList& actions, wire::Writer& w);
InstructionList decode_instructions(wire::Reader& r);
Status encode_instructions(const InstructionList& instructions, wire::Writer& w);
Port decode_port(wire::Reader& r);
void encode_port(const Port& p, wire::Writer& w);
std::vector<Bucket> decode_buckets(wire::Reader& r);
Status encode_buckets(const std::vector<Bucket>& buckets, wire::Writer& w);
std::vector<MeterBand> decode_meter_bands(wire::Reader& r);
void encode_meter_bands(const std::vector<MeterBand>& bands, wire::Writer& w);

// Multipart bodies (of13_multipart.cpp).
MultipartRequest decode_multipart_request(wire::Reader& r);
Status encode_multipart_request(const MultipartRequest& m, wire::Writer& w);
MultipartReply decode_multipart_reply(wire::Reader& r);
Status encode_multipart_reply(const MultipartReply& m, wire::Writer& w);
}  // namespace of13

}  // namespace tapflow::openflow
