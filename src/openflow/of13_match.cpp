// STUB (to be replaced): OpenFlow 1.3 OXM and ofp_match wire codec.
#include "version_codecs.hpp"
namespace tapflow::openflow::of13 {
OxmField decode_oxm(wire::Reader& r) { r.fail(error_type::kBadMatch, bad_match::kBadType, "not implemented"); return {}; }
void encode_oxm(const OxmField&, wire::Writer&) {}
Match decode_match(wire::Reader& r) { r.fail(error_type::kBadMatch, bad_match::kBadType, "not implemented"); return {}; }
void encode_match(const Match&, wire::Writer&) {}
}  // namespace tapflow::openflow::of13
