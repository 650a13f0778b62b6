// OpenFlow 1.3 actions, instructions, ports, group buckets and meter bands on
// the wire. Every TLV's length is checked against its fixed part, its
// alignment and its container before its body is read; a zero length fails,
// so no list loop can spin.
//
// Error choices (OpenFlow 1.3.5 numbering, as Open vSwitch answers them):
//   actions       BAD_ACTION/BAD_LEN, unknown type BAD_ACTION/BAD_TYPE,
//                 set-field contents BAD_ACTION/BAD_SET_{TYPE,LEN,ARGUMENT}
//   instructions  BAD_INSTRUCTION/BAD_LEN, unknown type BAD_INSTRUCTION/UNKNOWN_INST
//   buckets       GROUP_MOD_FAILED/BAD_BUCKET for any malformed bucket header
//                 (short, misaligned, or past the end): the spec's "error in bucket"
//   meter bands   BAD_REQUEST/BAD_LEN for lengths, METER_MOD_FAILED/BAD_BAND for
//                 an unknown band type
#include <type_traits>

#include "version_codecs.hpp"

namespace tapflow::openflow::of13 {
namespace {

// ofp_action_type (1.3).
namespace act {
constexpr std::uint16_t kOutput = 0, kCopyTtlOut = 11, kCopyTtlIn = 12, kSetMplsTtl = 15,
                        kDecMplsTtl = 16, kPushVlan = 17, kPopVlan = 18, kPushMpls = 19,
                        kPopMpls = 20, kSetQueue = 21, kGroup = 22, kSetNwTtl = 23,
                        kDecNwTtl = 24, kSetField = 25, kPushPbb = 26, kPopPbb = 27,
                        kExperimenter = 0xffff;
}
// ofp_instruction_type.
namespace ins {
constexpr std::uint16_t kGotoTable = 1, kWriteMetadata = 2, kWriteActions = 3,
                        kApplyActions = 4, kClearActions = 5, kMeter = 6,
                        kExperimenter = 0xffff;
}

constexpr std::size_t kTlvHeaderLen = 4;   // type + len
constexpr std::size_t kPortLen = 64;       // ofp_port
constexpr std::size_t kBucketHeaderLen = 16;
constexpr std::size_t kBandLen = 16;       // every band's fixed part

template <class>
inline constexpr bool kAlwaysFalse = false;

// Reads a type/len TLV header common to actions and instructions and checks
// the length: at least 8, a multiple of 8, inside the reader. Returns the body
// reader (len - 4 bytes) or nullopt after recording (err_type, bad_len).
struct TlvHeader {
  std::uint16_t type = 0;
  std::uint16_t len = 0;
  std::size_t at = 0;
};
std::optional<TlvHeader> read_tlv_header(wire::Reader& r, std::uint16_t err_type,
                                         std::uint16_t bad_len, const char* what) {
  TlvHeader h;
  h.at = r.offset();
  if (r.remaining() < kTlvHeaderLen) {
    r.fail(err_type, bad_len, std::string("truncated ") + what + " header");
    return std::nullopt;
  }
  h.type = r.u16();
  h.len = r.u16();
  if (h.len < 8 || h.len % 8 != 0) {
    r.fail_at(h.at + 2, err_type, bad_len,
              std::string(what) + " length " + std::to_string(h.len) +
                  " is not a positive multiple of 8");
    return std::nullopt;
  }
  if (h.len - kTlvHeaderLen > r.remaining()) {
    r.fail_at(h.at + 2, err_type, bad_len,
              std::string(what) + " length " + std::to_string(h.len) + " runs past its list");
    return std::nullopt;
  }
  return h;
}

// ------------------------------------------------------------------ actions

// The OXM of a SET_FIELD action. Its errors are reported as set-field errors.
std::optional<OxmField> decode_set_field_oxm(wire::Reader& body, const TlvHeader& h) {
  using namespace bad_action;
  wire::DecodeState local;
  const std::size_t base = body.offset();
  auto bytes = body.rest();
  wire::Reader ox(bytes, local, base, error_type::kBadAction, kBadSetLen);
  OxmField f = decode_oxm(ox);
  if (local.error) {
    std::uint16_t code = kBadSetArgument;
    if (local.error->type == error_type::kBadMatch) {
      if (local.error->code == bad_match::kBadField) code = kBadSetType;
      if (local.error->code == bad_match::kBadLen) code = kBadSetLen;
    } else if (local.error->type == error_type::kBadAction) {
      code = local.error->code;
    }
    body.fail_at(local.error->offset, error_type::kBadAction, code,
                 "set_field: " + local.error->detail);
    return std::nullopt;
  }
  if (f.has_mask) {
    body.fail_at(base, error_type::kBadAction, kBadSetArgument,
                 "set_field with a masked OXM (not allowed in OpenFlow 1.3)");
    return std::nullopt;
  }
  // What follows the OXM is padding to 8 bytes, and nothing more.
  if (ox.remaining() >= 8) {
    body.fail_at(h.at + 2, error_type::kBadAction, kBadSetLen,
                 "set_field action longer than its OXM needs");
    return std::nullopt;
  }
  return f;
}

std::optional<Action> decode_action(wire::Reader& r) {
  using namespace bad_action;
  auto h = read_tlv_header(r, error_type::kBadAction, kBadLen, "action");
  if (!h) return std::nullopt;
  wire::Reader b = r.sub(h->len - kTlvHeaderLen, error_type::kBadAction, kBadLen);
  auto fixed = [&](std::uint16_t want) {
    if (h->len == want) return true;
    r.fail_at(h->at + 2, error_type::kBadAction, kBadLen,
              "action type " + std::to_string(h->type) + " must have length " +
                  std::to_string(want) + ", not " + std::to_string(h->len));
    return false;
  };
  Action a;
  switch (h->type) {
    case act::kOutput: {
      if (!fixed(16)) return std::nullopt;
      action::Output o;
      o.port = b.u32();
      o.max_len = b.u16();
      b.skip(6);
      a = o;
      break;
    }
    case act::kCopyTtlOut:
      if (!fixed(8)) return std::nullopt;
      a = action::CopyTtlOut{};
      break;
    case act::kCopyTtlIn:
      if (!fixed(8)) return std::nullopt;
      a = action::CopyTtlIn{};
      break;
    case act::kSetMplsTtl:
      if (!fixed(8)) return std::nullopt;
      a = action::SetMplsTtl{b.u8()};
      break;
    case act::kDecMplsTtl:
      if (!fixed(8)) return std::nullopt;
      a = action::DecMplsTtl{};
      break;
    case act::kPushVlan:
      if (!fixed(8)) return std::nullopt;
      a = action::PushVlan{b.u16()};
      break;
    case act::kPopVlan:
      if (!fixed(8)) return std::nullopt;
      a = action::PopVlan{};
      break;
    case act::kPushMpls:
      if (!fixed(8)) return std::nullopt;
      a = action::PushMpls{b.u16()};
      break;
    case act::kPopMpls:
      if (!fixed(8)) return std::nullopt;
      a = action::PopMpls{b.u16()};
      break;
    case act::kSetQueue:
      if (!fixed(8)) return std::nullopt;
      a = action::SetQueue{b.u32()};
      break;
    case act::kGroup:
      if (!fixed(8)) return std::nullopt;
      a = action::Group{b.u32()};
      break;
    case act::kSetNwTtl:
      if (!fixed(8)) return std::nullopt;
      a = action::SetNwTtl{b.u8()};
      break;
    case act::kDecNwTtl:
      if (!fixed(8)) return std::nullopt;
      a = action::DecNwTtl{};
      break;
    case act::kSetField: {
      auto f = decode_set_field_oxm(b, *h);
      if (!f) return std::nullopt;
      a = action::SetField{std::move(*f)};
      break;
    }
    case act::kPushPbb:
      if (!fixed(8)) return std::nullopt;
      a = action::PushPbb{b.u16()};
      break;
    case act::kPopPbb:
      if (!fixed(8)) return std::nullopt;
      a = action::PopPbb{};
      break;
    case act::kExperimenter: {
      action::Experimenter e;
      e.experimenter = b.u32();
      e.data = b.rest_vector();
      a = std::move(e);
      break;
    }
    default:
      r.fail_at(h->at, error_type::kBadAction, kBadType,
                "unknown action type " + std::to_string(h->type));
      return std::nullopt;
  }
  b.rest();  // padding of fixed-size actions
  if (!r.ok()) return std::nullopt;
  return a;
}

Status action_error(std::uint16_t code, std::string detail) {
  return OfError{error_type::kBadAction, code, std::move(detail), 0};
}

// Writes type, a length placeholder and pad bytes; patch_len() fixes the length.
Status encode_action(const Action& a, wire::Writer& w) {
  const std::size_t start = w.pos();
  auto head = [&](std::uint16_t type) {
    w.u16(type);
    w.u16(0);
  };
  Status st = ok_status();
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, action::Output>) {
          head(act::kOutput);
          w.u32(x.port);
          w.u16(x.max_len);
          w.zeros(6);
        } else if constexpr (std::is_same_v<T, action::CopyTtlOut>) {
          head(act::kCopyTtlOut);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::CopyTtlIn>) {
          head(act::kCopyTtlIn);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::SetMplsTtl>) {
          head(act::kSetMplsTtl);
          w.u8(x.ttl);
          w.zeros(3);
        } else if constexpr (std::is_same_v<T, action::DecMplsTtl>) {
          head(act::kDecMplsTtl);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::PushVlan>) {
          head(act::kPushVlan);
          w.u16(x.ethertype);
          w.zeros(2);
        } else if constexpr (std::is_same_v<T, action::PopVlan>) {
          head(act::kPopVlan);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::PushMpls>) {
          head(act::kPushMpls);
          w.u16(x.ethertype);
          w.zeros(2);
        } else if constexpr (std::is_same_v<T, action::PopMpls>) {
          head(act::kPopMpls);
          w.u16(x.ethertype);
          w.zeros(2);
        } else if constexpr (std::is_same_v<T, action::SetQueue>) {
          head(act::kSetQueue);
          w.u32(x.queue_id);
        } else if constexpr (std::is_same_v<T, action::Group>) {
          head(act::kGroup);
          w.u32(x.group_id);
        } else if constexpr (std::is_same_v<T, action::SetNwTtl>) {
          head(act::kSetNwTtl);
          w.u8(x.ttl);
          w.zeros(3);
        } else if constexpr (std::is_same_v<T, action::DecNwTtl>) {
          head(act::kDecNwTtl);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::SetField>) {
          if (x.field.has_mask) {
            st = action_error(bad_action::kBadSetArgument,
                              "set_field with a masked OXM (not allowed in OpenFlow 1.3)");
            return;
          }
          if (x.field.wire_size() - 4 > 0xff) {
            st = action_error(bad_action::kBadSetLen, "set_field OXM payload above 255 bytes");
            return;
          }
          head(act::kSetField);
          encode_oxm(x.field, w);
          w.pad_from(start, 8);
        } else if constexpr (std::is_same_v<T, action::PushPbb>) {
          head(act::kPushPbb);
          w.u16(x.ethertype);
          w.zeros(2);
        } else if constexpr (std::is_same_v<T, action::PopPbb>) {
          head(act::kPopPbb);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, action::Experimenter>) {
          // `data` is everything after the id, padding included, as decoded.
          if ((8 + x.data.size()) % 8 != 0 || 8 + x.data.size() > 0xffff) {
            st = action_error(bad_action::kBadLen,
                              "experimenter action data of " + std::to_string(x.data.size()) +
                                  " bytes does not pad the action to a multiple of 8");
            return;
          }
          head(act::kExperimenter);
          w.u32(x.experimenter);
          w.bytes(x.data);
        } else if constexpr (std::is_same_v<T, action::SetVlanVid> ||
                             std::is_same_v<T, action::SetVlanPcp> ||
                             std::is_same_v<T, action::SetNwTos> ||
                             std::is_same_v<T, action::SetTpSrc> ||
                             std::is_same_v<T, action::SetTpDst> ||
                             std::is_same_v<T, action::Enqueue>) {
          st = action_error(bad_action::kBadType,
                            "OpenFlow 1.0 action has no OpenFlow 1.3 encoding (use set_field "
                            "or set_queue)");
        } else {
          static_assert(kAlwaysFalse<T>, "unhandled action");
        }
      },
      a);
  if (!st.ok()) {
    w.buffer().resize(start);
    return st;
  }
  w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
  return st;
}

// ------------------------------------------------------------------ instructions

std::optional<Instruction> decode_instruction(wire::Reader& r) {
  using namespace bad_instruction;
  auto h = read_tlv_header(r, error_type::kBadInstruction, kBadLen, "instruction");
  if (!h) return std::nullopt;
  wire::Reader b = r.sub(h->len - kTlvHeaderLen, error_type::kBadInstruction, kBadLen);
  auto fixed = [&](std::uint16_t want) {
    if (h->len == want) return true;
    r.fail_at(h->at + 2, error_type::kBadInstruction, kBadLen,
              "instruction type " + std::to_string(h->type) + " must have length " +
                  std::to_string(want) + ", not " + std::to_string(h->len));
    return false;
  };
  Instruction in;
  switch (h->type) {
    case ins::kGotoTable:
      if (!fixed(8)) return std::nullopt;
      in = instruction::GotoTable{b.u8()};
      break;
    case ins::kWriteMetadata: {
      if (!fixed(24)) return std::nullopt;
      b.skip(4);
      instruction::WriteMetadata wm;
      wm.metadata = b.u64();
      wm.mask = b.u64();
      in = wm;
      break;
    }
    case ins::kWriteActions:
    case ins::kApplyActions: {
      b.skip(4);
      wire::Reader list = b.sub(b.remaining(), error_type::kBadAction, bad_action::kBadLen);
      ActionList actions = decode_actions(list);
      if (h->type == ins::kWriteActions) {
        in = instruction::WriteActions{std::move(actions)};
      } else {
        in = instruction::ApplyActions{std::move(actions)};
      }
      break;
    }
    case ins::kClearActions:
      if (!fixed(8)) return std::nullopt;
      in = instruction::ClearActions{};
      break;
    case ins::kMeter:
      if (!fixed(8)) return std::nullopt;
      in = instruction::Meter{b.u32()};
      break;
    case ins::kExperimenter: {
      instruction::Experimenter e;
      e.experimenter = b.u32();
      e.data = b.rest_vector();
      in = std::move(e);
      break;
    }
    default:
      r.fail_at(h->at, error_type::kBadInstruction, kUnknownInst,
                "unknown instruction type " + std::to_string(h->type));
      return std::nullopt;
  }
  b.rest();  // padding
  if (!r.ok()) return std::nullopt;
  return in;
}

Status encode_instruction(const Instruction& in, wire::Writer& w) {
  const std::size_t start = w.pos();
  auto head = [&](std::uint16_t type) {
    w.u16(type);
    w.u16(0);
  };
  Status st = ok_status();
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, instruction::GotoTable>) {
          head(ins::kGotoTable);
          w.u8(x.table_id);
          w.zeros(3);
        } else if constexpr (std::is_same_v<T, instruction::WriteMetadata>) {
          head(ins::kWriteMetadata);
          w.zeros(4);
          w.u64(x.metadata);
          w.u64(x.mask);
        } else if constexpr (std::is_same_v<T, instruction::WriteActions>) {
          head(ins::kWriteActions);
          w.zeros(4);
          st = encode_actions(x.actions, w);
        } else if constexpr (std::is_same_v<T, instruction::ApplyActions>) {
          head(ins::kApplyActions);
          w.zeros(4);
          st = encode_actions(x.actions, w);
        } else if constexpr (std::is_same_v<T, instruction::ClearActions>) {
          head(ins::kClearActions);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, instruction::Meter>) {
          head(ins::kMeter);
          w.u32(x.meter_id);
        } else if constexpr (std::is_same_v<T, instruction::Experimenter>) {
          if ((8 + x.data.size()) % 8 != 0) {
            st = OfError{error_type::kBadInstruction, bad_instruction::kBadLen,
                         "experimenter instruction data of " + std::to_string(x.data.size()) +
                             " bytes does not pad the instruction to a multiple of 8",
                         0};
            return;
          }
          head(ins::kExperimenter);
          w.u32(x.experimenter);
          w.bytes(x.data);
        } else {
          static_assert(kAlwaysFalse<T>, "unhandled instruction");
        }
      },
      in);
  if (st.ok() && w.pos() - start > 0xffff) {
    st = OfError{error_type::kBadInstruction, bad_instruction::kBadLen,
                 "instruction longer than 65535 bytes", 0};
  }
  if (!st.ok()) {
    w.buffer().resize(start);
    return st;
  }
  w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
  return st;
}

}  // namespace

ActionList decode_actions(wire::Reader& r) {
  ActionList out;
  while (!r.empty() && r.ok()) {
    auto a = decode_action(r);
    if (!a) break;
    out.push_back(std::move(*a));
  }
  return out;
}

Status encode_actions(const ActionList& actions, wire::Writer& w) {
  for (const auto& a : actions) {
    Status st = encode_action(a, w);
    if (!st.ok()) return st;
  }
  return ok_status();
}

InstructionList decode_instructions(wire::Reader& r) {
  InstructionList out;
  while (!r.empty() && r.ok()) {
    auto in = decode_instruction(r);
    if (!in) break;
    out.push_back(std::move(*in));
  }
  return out;
}

Status encode_instructions(const InstructionList& instructions, wire::Writer& w) {
  for (const auto& in : instructions) {
    Status st = encode_instruction(in, w);
    if (!st.ok()) return st;
  }
  return ok_status();
}

// ------------------------------------------------------------------ ports

Port decode_port(wire::Reader& r) {
  Port p;
  wire::Reader b = r.sub(kPortLen);
  p.port_no = b.u32();
  b.skip(4);
  p.hw_addr = b.mac();
  b.skip(2);
  p.name = b.fixed_string(16);
  p.config = b.u32();
  p.state = b.u32();
  p.curr = b.u32();
  p.advertised = b.u32();
  p.supported = b.u32();
  p.peer = b.u32();
  p.curr_speed = b.u32();
  p.max_speed = b.u32();
  return p;
}

void encode_port(const Port& p, wire::Writer& w) {
  w.u32(p.port_no);
  w.zeros(4);
  w.mac(p.hw_addr);
  w.zeros(2);
  w.fixed_string(p.name, 16);
  w.u32(p.config);
  w.u32(p.state);
  w.u32(p.curr);
  w.u32(p.advertised);
  w.u32(p.supported);
  w.u32(p.peer);
  w.u32(p.curr_speed);
  w.u32(p.max_speed);
}

// ------------------------------------------------------------------ buckets

std::vector<Bucket> decode_buckets(wire::Reader& r) {
  using namespace group_mod_failed;
  std::vector<Bucket> out;
  while (!r.empty() && r.ok()) {
    const std::size_t at = r.offset();
    if (r.remaining() < kBucketHeaderLen) {
      r.fail(error_type::kGroupModFailed, kBadBucket,
             std::to_string(r.remaining()) + " bytes left, too few for a bucket");
      break;
    }
    const std::uint16_t len = r.u16();
    if (len < kBucketHeaderLen || len % 8 != 0 || len - 2u > r.remaining()) {
      r.fail_at(at, error_type::kGroupModFailed, kBadBucket,
                "bucket length " + std::to_string(len) +
                    " is below 16, not a multiple of 8, or past the end");
      break;
    }
    Bucket b;
    b.weight = r.u16();
    b.watch_port = r.u32();
    b.watch_group = r.u32();
    r.skip(4);
    wire::Reader actions = r.sub(len - kBucketHeaderLen, error_type::kBadAction,
                                 bad_action::kBadLen);
    b.actions = decode_actions(actions);
    out.push_back(std::move(b));
  }
  return out;
}

Status encode_buckets(const std::vector<Bucket>& buckets, wire::Writer& w) {
  for (const auto& b : buckets) {
    const std::size_t start = w.pos();
    w.u16(0);  // len, patched below
    w.u16(b.weight);
    w.u32(b.watch_port);
    w.u32(b.watch_group);
    w.zeros(4);
    Status st = encode_actions(b.actions, w);
    if (st.ok() && w.pos() - start > 0xffff) {
      st = OfError{error_type::kGroupModFailed, group_mod_failed::kBadBucket,
                   "bucket longer than 65535 bytes", 0};
    }
    if (!st.ok()) {
      w.buffer().resize(start);
      return st;
    }
    w.patch_u16(start, static_cast<std::uint16_t>(w.pos() - start));
  }
  return ok_status();
}

// ------------------------------------------------------------------ meter bands

std::vector<MeterBand> decode_meter_bands(wire::Reader& r) {
  std::vector<MeterBand> out;
  while (!r.empty() && r.ok()) {
    const std::size_t at = r.offset();
    if (r.remaining() < kBandLen) {
      r.fail(error_type::kBadRequest, bad_request::kBadLen,
             std::to_string(r.remaining()) + " bytes left, too few for a meter band");
      break;
    }
    MeterBand band;
    band.type = r.u16();
    const std::uint16_t len = r.u16();
    if (len < kBandLen || len % 8 != 0 || len - kTlvHeaderLen > r.remaining()) {
      r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
                "meter band length " + std::to_string(len) +
                    " is below 16, not a multiple of 8, or past the end");
      break;
    }
    wire::Reader b = r.sub(len - kTlvHeaderLen);
    band.rate = b.u32();
    band.burst_size = b.u32();
    switch (band.type) {
      case meter_band_type::kDrop:
      case meter_band_type::kDscpRemark:
        if (len != kBandLen) {
          r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
                    "drop/dscp_remark meter band must have length 16");
          break;
        }
        if (band.type == meter_band_type::kDscpRemark) band.prec_level = b.u8();
        b.rest();  // padding
        break;
      case meter_band_type::kExperimenter:
        band.experimenter = b.u32();
        band.data = b.rest_vector();
        break;
      default:
        r.fail_at(at, error_type::kMeterModFailed, meter_mod_failed::kBadBand,
                  "unknown meter band type " + std::to_string(band.type));
        break;
    }
    if (!r.ok()) break;
    out.push_back(std::move(band));
  }
  return out;
}

void encode_meter_bands(const std::vector<MeterBand>& bands, wire::Writer& w) {
  for (const auto& band : bands) {
    const std::size_t start = w.pos();
    w.u16(band.type);
    w.u16(0);  // len, patched below
    w.u32(band.rate);
    w.u32(band.burst_size);
    if (band.type == meter_band_type::kExperimenter) {
      w.u32(band.experimenter);
      w.bytes(band.data);
      w.pad_from(start, 8);  // bands are 8-byte aligned; decoded data already is
    } else {
      // DROP and DSCP_REMARK; any other type is written in the same 16-byte shape.
      w.u8(band.type == meter_band_type::kDscpRemark ? band.prec_level : 0);
      w.zeros(3);
    }
    w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
  }
}

}  // namespace tapflow::openflow::of13
