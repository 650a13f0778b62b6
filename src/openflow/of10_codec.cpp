// STUB (to be replaced): OpenFlow 1.0 wire codec.
#include "version_codecs.hpp"
namespace tapflow::openflow::of10 {
MessageBody decode_body(std::uint8_t, wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadType, "not implemented"); return {}; }
Status encode_body(const MessageBody&, wire::Writer&) { return OfError{error_type::kBadRequest, bad_request::kBadType, "not implemented", 0}; }
int wire_type(const MessageBody&) { return -1; }
}  // namespace tapflow::openflow::of10
