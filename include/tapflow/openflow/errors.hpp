// Names of OpenFlow error types and codes, and the mapping of the neutral
// (1.3-numbered) OfError to what a given version puts on the wire.
#pragma once

#include <cstdint>
#include <string>

#include "tapflow/openflow/messages.hpp"
#include "tapflow/openflow/result.hpp"

namespace tapflow::openflow {

// "BAD_REQUEST", "BAD_MATCH", ... for a wire type in a version; "UNKNOWN(n)".
std::string error_type_name(std::uint8_t version, std::uint16_t type);
// "BAD_LEN", "BAD_FIELD", ... for a wire (type, code) in a version; "UNKNOWN(n)".
std::string error_code_name(std::uint8_t version, std::uint16_t type, std::uint16_t code);
// "BAD_REQUEST/BAD_LEN" style text for a neutral OfError, plus detail and offset.
std::string describe(const OfError& e);

// The OFPT_ERROR body to send back for `e` on a connection of `version`, with
// up to 64 bytes of the offending message as data (as the spec asks).
Error to_wire_error(const OfError& e, std::uint8_t version,
                    std::span<const std::uint8_t> offending);

// The neutral (1.3-numbered) OfError for an OFPT_ERROR a switch of `version`
// sent: the inverse of to_wire_error, so callers compare one numbering.
OfError from_wire_error(const Error& e, std::uint8_t version);

// Shorthand used by the codec and the controller.
inline OfError make_error(std::uint16_t type, std::uint16_t code, std::string detail,
                          std::size_t offset = 0) {
  return OfError{type, code, std::move(detail), offset};
}

}  // namespace tapflow::openflow
