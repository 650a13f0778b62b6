// STUB (to be replaced): OpenFlow 1.3 actions, instructions, ports, buckets, bands.
#include "version_codecs.hpp"
namespace tapflow::openflow::of13 {
namespace { OfError nyi() { return OfError{error_type::kBadRequest, bad_request::kBadType, "not implemented", 0}; } }
ActionList decode_actions(wire::Reader& r) { r.fail(error_type::kBadAction, bad_action::kBadType, "not implemented"); return {}; }
Status encode_actions(const ActionList&, wire::Writer&) { return nyi(); }
InstructionList decode_instructions(wire::Reader& r) { r.fail(error_type::kBadInstruction, bad_instruction::kUnknownInst, "not implemented"); return {}; }
Status encode_instructions(const InstructionList&, wire::Writer&) { return nyi(); }
Port decode_port(wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadType, "not implemented"); return {}; }
void encode_port(const Port&, wire::Writer&) {}
std::vector<Bucket> decode_buckets(wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadType, "not implemented"); return {}; }
Status encode_buckets(const std::vector<Bucket>&, wire::Writer&) { return nyi(); }
std::vector<MeterBand> decode_meter_bands(wire::Reader& r) { r.fail(error_type::kBadRequest, bad_request::kBadType, "not implemented"); return {}; }
void encode_meter_bands(const std::vector<MeterBand>&, wire::Writer&) {}
}  // namespace tapflow::openflow::of13
