#include "tapflow/openflow/errors.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace tapflow::openflow {
namespace {

using Names = std::vector<std::string_view>;

const Names kTypes13 = {"HELLO_FAILED",     "BAD_REQUEST",        "BAD_ACTION",
                        "BAD_INSTRUCTION",  "BAD_MATCH",          "FLOW_MOD_FAILED",
                        "GROUP_MOD_FAILED", "PORT_MOD_FAILED",    "TABLE_MOD_FAILED",
                        "QUEUE_OP_FAILED",  "SWITCH_CONFIG_FAILED", "ROLE_REQUEST_FAILED",
                        "METER_MOD_FAILED", "TABLE_FEATURES_FAILED"};
const Names kTypes10 = {"HELLO_FAILED",    "BAD_REQUEST",     "BAD_ACTION",
                        "FLOW_MOD_FAILED", "PORT_MOD_FAILED", "QUEUE_OP_FAILED"};

const std::array<Names, 14> kCodes13 = {{
    {"INCOMPATIBLE", "EPERM"},
    {"BAD_VERSION", "BAD_TYPE", "BAD_MULTIPART", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "EPERM",
     "BAD_LEN", "BUFFER_EMPTY", "BUFFER_UNKNOWN", "BAD_TABLE_ID", "IS_SLAVE", "BAD_PORT",
     "BAD_PACKET", "MULTIPART_BUFFER_OVERFLOW"},
    {"BAD_TYPE", "BAD_LEN", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT",
     "EPERM", "TOO_MANY", "BAD_QUEUE", "BAD_OUT_GROUP", "MATCH_INCONSISTENT",
     "UNSUPPORTED_ORDER", "BAD_TAG", "BAD_SET_TYPE", "BAD_SET_LEN", "BAD_SET_ARGUMENT"},
    {"UNKNOWN_INST", "UNSUP_INST", "BAD_TABLE_ID", "UNSUP_METADATA", "UNSUP_METADATA_MASK",
     "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_LEN", "EPERM"},
    {"BAD_TYPE", "BAD_LEN", "BAD_TAG", "BAD_DL_ADDR_MASK", "BAD_NW_ADDR_MASK", "BAD_WILDCARDS",
     "BAD_FIELD", "BAD_VALUE", "BAD_MASK", "BAD_PREREQ", "DUP_FIELD", "EPERM"},
    {"UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID", "OVERLAP", "EPERM", "BAD_TIMEOUT", "BAD_COMMAND",
     "BAD_FLAGS"},
    {"GROUP_EXISTS", "INVALID_GROUP", "WEIGHT_UNSUPPORTED", "OUT_OF_GROUPS", "OUT_OF_BUCKETS",
     "CHAINING_UNSUPPORTED", "WATCH_UNSUPPORTED", "LOOP", "UNKNOWN_GROUP", "CHAINED_GROUP",
     "BAD_TYPE", "BAD_COMMAND", "BAD_BUCKET", "BAD_WATCH", "EPERM"},
    {"BAD_PORT", "BAD_HW_ADDR", "BAD_CONFIG", "BAD_ADVERTISE", "EPERM"},
    {"BAD_TABLE", "BAD_CONFIG", "EPERM"},
    {"BAD_PORT", "BAD_QUEUE", "EPERM"},
    {"BAD_FLAGS", "BAD_LEN", "EPERM"},
    {"STALE", "UNSUP", "BAD_ROLE"},
    {"UNKNOWN", "METER_EXISTS", "INVALID_METER", "UNKNOWN_METER", "BAD_COMMAND", "BAD_FLAGS",
     "BAD_RATE", "BAD_BURST", "BAD_BAND", "BAD_BAND_VALUE", "OUT_OF_METERS", "OUT_OF_BANDS"},
    {"BAD_TABLE", "BAD_METADATA", "BAD_TYPE", "BAD_LEN", "BAD_ARGUMENT", "EPERM"},
}};

const std::array<Names, 6> kCodes10 = {{
    {"INCOMPATIBLE", "EPERM"},
    {"BAD_VERSION", "BAD_TYPE", "BAD_STAT", "BAD_VENDOR", "BAD_SUBTYPE", "EPERM", "BAD_LEN",
     "BUFFER_EMPTY", "BUFFER_UNKNOWN"},
    {"BAD_TYPE", "BAD_LEN", "BAD_VENDOR", "BAD_VENDOR_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT",
     "EPERM", "TOO_MANY", "BAD_QUEUE"},
    {"ALL_TABLES_FULL", "OVERLAP", "EPERM", "BAD_EMERG_TIMEOUT", "BAD_COMMAND", "UNSUPPORTED"},
    {"BAD_PORT", "BAD_HW_ADDR"},
    {"BAD_PORT", "BAD_QUEUE", "EPERM"},
}};

std::string pick(const Names& names, std::uint16_t i) {
  if (i < names.size()) return std::string(names[i]);
  return "UNKNOWN(" + std::to_string(i) + ")";
}

}  // namespace

std::string error_type_name(std::uint8_t version, std::uint16_t type) {
  if (type == error_type::kExperimenter && version != kVersion10) return "EXPERIMENTER";
  return pick(version == kVersion10 ? kTypes10 : kTypes13, type);
}

std::string error_code_name(std::uint8_t version, std::uint16_t type, std::uint16_t code) {
  if (version == kVersion10) {
    if (type < kCodes10.size()) return pick(kCodes10[type], code);
  } else if (type < kCodes13.size()) {
    return pick(kCodes13[type], code);
  }
  return "UNKNOWN(" + std::to_string(code) + ")";
}

std::string describe(const OfError& e) {
  std::string s = error_type_name(kVersion13, e.type) + "/" +
                  error_code_name(kVersion13, e.type, e.code);
  if (!e.detail.empty()) s += ": " + e.detail;
  s += " (at byte " + std::to_string(e.offset) + ")";
  return s;
}

Error to_wire_error(const OfError& e, std::uint8_t version, std::span<const std::uint8_t> offending) {
  Error out;
  out.type = e.type;
  out.code = e.code;
  out.data.assign(offending.begin(),
                  offending.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(offending.size(), 64)));
  if (version != kVersion10) return out;

  // OpenFlow 1.0 has fewer types and codes: map each 1.3 error to the nearest
  // 1.0 one (same meaning where it exists, else the generic BAD_REQUEST one).
  using namespace error_type;
  switch (e.type) {
    case kHelloFailed:
      out.type = 0;
      break;
    case kBadRequest:
      out.type = 1;
      out.code = e.code <= bad_request::kBufferUnknown ? e.code : bad_request::kEperm;
      break;
    case kBadAction:
      out.type = 2;
      out.code = e.code <= bad_action::kBadQueue ? e.code : bad_action::kBadArgument;
      break;
    case kBadInstruction:
      out.type = 1;
      out.code = bad_request::kBadType;
      break;
    case kBadMatch:  // 1.0 has no BAD_MATCH: a bad ofp_match is a bad request
      out.type = 1;
      out.code = e.code == bad_match::kBadLen ? bad_request::kBadLen : bad_request::kEperm;
      break;
    case kFlowModFailed:
      out.type = 3;
      switch (e.code) {
        case flow_mod_failed::kTableFull: out.code = 0; break;
        case flow_mod_failed::kOverlap: out.code = 1; break;
        case flow_mod_failed::kEperm: out.code = 2; break;
        case flow_mod_failed::kBadTimeout: out.code = 3; break;
        case flow_mod_failed::kBadCommand: out.code = 4; break;
        default: out.code = 5; break;  // UNSUPPORTED
      }
      break;
    case kPortModFailed:
      out.type = 4;
      out.code = e.code <= 1 ? e.code : 0;
      break;
    case kQueueOpFailed:
      out.type = 5;
      break;
    default:
      out.type = 1;
      out.code = bad_request::kBadType;
      break;
  }
  return out;
}

OfError from_wire_error(const Error& e, std::uint8_t version) {
  OfError out{e.type, e.code, {}, 0};
  if (version != kVersion10) return out;
  switch (e.type) {
    case 3:  // OFPET_FLOW_MOD_FAILED (1.0)
      out.type = error_type::kFlowModFailed;
      switch (e.code) {
        case 0: out.code = flow_mod_failed::kTableFull; break;
        case 1: out.code = flow_mod_failed::kOverlap; break;
        case 2: out.code = flow_mod_failed::kEperm; break;
        case 3: out.code = flow_mod_failed::kBadTimeout; break;
        case 4: out.code = flow_mod_failed::kBadCommand; break;
        default: out.code = flow_mod_failed::kUnknown; break;
      }
      break;
    case 4:  // OFPET_PORT_MOD_FAILED (1.0)
      out.type = error_type::kPortModFailed;
      break;
    case 5:  // OFPET_QUEUE_OP_FAILED (1.0)
      out.type = error_type::kQueueOpFailed;
      break;
    default:  // HELLO_FAILED, BAD_REQUEST, BAD_ACTION: same numbers
      break;
  }
  return out;
}

}  // namespace tapflow::openflow
