// JSON view of OpenFlow messages in the shape of Ryu's to_jsondict(), so our
// decodings can be compared with Ryu's and read by tools that know Ryu's format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "tapflow/openflow/messages.hpp"

namespace tapflow::openflow {

// The message as Ryu's to_jsondict() shows it for m.version, e.g.
// {"OFPFlowMod": {...}}: no header fields at top level; 1.3 actions and
// instructions carry "len" and "type", 1.0 actions do not; port numbers in the
// version's own numbering; MAC/IPv4/IPv6 as text, other values as integers,
// opaque bytes as base64. Experimenter (Nicira) action bodies are not decoded:
// they show their class name, ids, subtype and the rest as base64 "data".
nlohmann::json to_json(const Message& m);

// Parts, for callers that print a match or an action on its own.
nlohmann::json to_json(const Match& match, std::uint8_t version);
nlohmann::json to_json(const Action& action, std::uint8_t version);

// Ryu's class name for a Nicira action subtype ("NXActionCT" for 35), or
// "NXActionUnknown".
const char* nicira_action_name(std::uint16_t subtype);

// Standard base64 (RFC 4648, with padding), as Ryu shows binary data.
std::string base64_encode(const std::uint8_t* data, std::size_t len);

}  // namespace tapflow::openflow
