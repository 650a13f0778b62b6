// STUB (to be replaced): OpenFlow 1.3 multipart request/reply bodies.
#include "version_codecs.hpp"
namespace tapflow::openflow::of13 {
MultipartRequest decode_multipart_request(wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadMultipart, "not implemented"); return {}; }
Status encode_multipart_request(const MultipartRequest&, wire::Writer&) { return OfError{error_type::kBadRequest, bad_request::kBadMultipart, "not implemented", 0}; }
MultipartReply decode_multipart_reply(wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadMultipart, "not implemented"); return {}; }
Status encode_multipart_reply(const MultipartReply&, wire::Writer&) { return OfError{error_type::kBadRequest, bad_request::kBadMultipart, "not implemented", 0}; }
}  // namespace tapflow::openflow::of13
