// OpenFlow 1.3 message bodies (everything but multipart, which has its own
// file). The top level (codec.cpp) has already checked each type's minimum or
// exact length; these functions read the body that follows the header and
// check what lies inside it.
#include <type_traits>

#include "version_codecs.hpp"

namespace tapflow::openflow::of13 {
namespace {

// ofp_type (1.3).
namespace mt {
constexpr std::uint8_t kHello = 0, kError = 1, kEchoRequest = 2, kEchoReply = 3,
                       kExperimenter = 4, kFeaturesRequest = 5, kFeaturesReply = 6,
                       kGetConfigRequest = 7, kGetConfigReply = 8, kSetConfig = 9,
                       kPacketIn = 10, kFlowRemoved = 11, kPortStatus = 12, kPacketOut = 13,
                       kFlowMod = 14, kGroupMod = 15, kPortMod = 16, kTableMod = 17,
                       kMultipartRequest = 18, kMultipartReply = 19, kBarrierRequest = 20,
                       kBarrierReply = 21, kQueueGetConfigRequest = 22,
                       kQueueGetConfigReply = 23, kRoleRequest = 24, kRoleReply = 25,
                       kGetAsyncRequest = 26, kGetAsyncReply = 27, kSetAsync = 28,
                       kMeterMod = 29;
}

// Queue properties (ofp_queue_properties).
constexpr std::uint16_t kQueuePropMinRate = 1, kQueuePropMaxRate = 2,
                        kQueuePropExperimenter = 0xffff;
constexpr std::size_t kQueueHeaderLen = 16;      // ofp_packet_queue without properties
constexpr std::size_t kQueuePropHeaderLen = 8;   // ofp_queue_prop_header
constexpr std::size_t kQueuePropRateLen = 16;    // min/max rate property
constexpr std::size_t kQueuePropExpLen = 16;     // experimenter property without data

constexpr std::uint16_t kFlowModKnownFlags = 0x1f;  // SEND_FLOW_REM .. NO_BYT_COUNTS

template <class>
inline constexpr bool kAlwaysFalse = false;

OfError bad_len(std::string detail) {
  return OfError{error_type::kBadRequest, bad_request::kBadLen, std::move(detail), 0};
}

// ------------------------------------------------------------------ async config

AsyncConfig decode_async_config(wire::Reader& r) {
  AsyncConfig c;
  for (auto& m : c.packet_in_mask) m = r.u32();
  for (auto& m : c.port_status_mask) m = r.u32();
  for (auto& m : c.flow_removed_mask) m = r.u32();
  return c;
}

void encode_async_config(const AsyncConfig& c, wire::Writer& w) {
  for (auto m : c.packet_in_mask) w.u32(m);
  for (auto m : c.port_status_mask) w.u32(m);
  for (auto m : c.flow_removed_mask) w.u32(m);
}

// ------------------------------------------------------------------ experimenter / bundles

// ONF bundle extension: the OpenFlow 1.4 bundle bodies after the 16-byte
// experimenter header.
BundleControl decode_bundle_control(wire::Reader& r) {
  BundleControl b;
  b.bundle_id = r.u32();
  b.type = r.u16();
  b.flags = r.u16();
  b.properties = r.rest_vector();
  return b;
}

BundleAddMessage decode_bundle_add(wire::Reader& r) {
  BundleAddMessage b;
  b.bundle_id = r.u32();
  r.skip(2);
  b.flags = r.u16();
  if (!r.ok()) return b;
  // The inner message's own header says how long it is.
  const std::size_t at = r.offset();
  if (r.remaining() < kHeaderLen) {
    r.fail(error_type::kBadRequest, bad_request::kBadLen,
           "bundle add message too short for the inner message's header");
    return b;
  }
  auto rest = r.rest();
  wire::DecodeState peek_state;
  wire::Reader peek(rest, peek_state, at);
  peek.skip(2);
  const std::size_t inner_len = peek.u16();
  if (inner_len < kHeaderLen || inner_len > rest.size()) {
    r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
              "inner message length " + std::to_string(inner_len) + " with " +
                  std::to_string(rest.size()) + " bytes left");
    return b;
  }
  b.message.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(inner_len));
  auto tail = rest.subspan(inner_len);
  if (!tail.empty()) {
    // Properties follow the inner message padded to 8 bytes. (Padding with no
    // property after it is accepted but not re-emitted: the encoder pads only
    // when there are properties, as Open vSwitch does.)
    const std::size_t pad = wire::pad8(inner_len) - inner_len;
    if (tail.size() < pad) {
      r.fail_at(at + inner_len, error_type::kBadRequest, bad_request::kBadLen,
                "bundle add message: bytes after the inner message shorter than its padding");
      return b;
    }
    auto props = tail.subspan(pad);
    b.properties.assign(props.begin(), props.end());
  }
  return b;
}

MessageBody decode_experimenter(wire::Reader& r) {
  const std::uint32_t experimenter = r.u32();
  const std::uint32_t exp_type = r.u32();
  if (experimenter == kOnfExperimenter && exp_type == kOnfBundleControl) {
    if (r.remaining() < 8) {
      r.fail(error_type::kBadRequest, bad_request::kBadLen, "bundle control message too short");
      return BundleControl{};
    }
    return decode_bundle_control(r);
  }
  if (experimenter == kOnfExperimenter && exp_type == kOnfBundleAddMessage) {
    if (r.remaining() < 8) {
      r.fail(error_type::kBadRequest, bad_request::kBadLen, "bundle add message too short");
      return BundleAddMessage{};
    }
    return decode_bundle_add(r);
  }
  Experimenter e;
  e.experimenter = experimenter;
  e.exp_type = exp_type;
  e.data = r.rest_vector();
  return e;
}

void encode_bundle_control(const BundleControl& b, wire::Writer& w) {
  w.u32(kOnfExperimenter);
  w.u32(kOnfBundleControl);
  w.u32(b.bundle_id);
  w.u16(b.type);
  w.u16(b.flags);
  w.bytes(b.properties);
}

Status encode_bundle_add(const BundleAddMessage& b, wire::Writer& w) {
  if (b.message.size() < kHeaderLen ||
      ((std::size_t{b.message[2]} << 8) | b.message[3]) != b.message.size()) {
    return bad_len("bundle add: the inner message is not one complete OpenFlow message");
  }
  w.u32(kOnfExperimenter);
  w.u32(kOnfBundleAddMessage);
  w.u32(b.bundle_id);
  w.zeros(2);
  w.u16(b.flags);
  const std::size_t start = w.pos();
  w.bytes(b.message);
  if (!b.properties.empty()) {
    w.pad_from(start, 8);
    w.bytes(b.properties);
  }
  return ok_status();
}

// ------------------------------------------------------------------ switch config

FeaturesReply decode_features_reply(wire::Reader& r) {
  FeaturesReply f;
  f.datapath_id = r.u64();
  f.n_buffers = r.u32();
  f.n_tables = r.u8();
  f.auxiliary_id = r.u8();
  r.skip(2);
  f.capabilities = r.u32();
  f.reserved = r.u32();
  return f;
}

void encode_features_reply(const FeaturesReply& f, wire::Writer& w) {
  w.u64(f.datapath_id);
  w.u32(f.n_buffers);
  w.u8(f.n_tables);
  w.u8(f.auxiliary_id);
  w.zeros(2);
  w.u32(f.capabilities);
  w.u32(f.reserved);
}

template <class T>
T decode_switch_config(wire::Reader& r) {
  T c;
  c.flags = r.u16();
  c.miss_send_len = r.u16();
  return c;
}

template <class T>
void encode_switch_config(const T& c, wire::Writer& w) {
  w.u16(c.flags);
  w.u16(c.miss_send_len);
}

// ------------------------------------------------------------------ async messages

// Fills a default PacketIn (see reuse_packet_in).
void decode_packet_in(wire::Reader& r, PacketIn& p) {
  p.buffer_id = r.u32();
  p.total_len = r.u16();
  p.reason = r.u8();
  p.table_id = r.u8();
  p.cookie = r.u64();
  decode_match_into(r, p.match);
  r.skip(2);
  const auto data = r.rest();
  p.data.assign(data.begin(), data.end());
  if (const OxmField* in = p.match.find(oxm_field::kInPort);
      in != nullptr && !in->has_mask && in->value.size() == 4) {
    p.in_port = static_cast<std::uint32_t>(in->value_uint());
  }
}

void encode_packet_in(const PacketIn& p, wire::Writer& w) {
  w.u32(p.buffer_id);
  w.u16(p.total_len);
  w.u8(p.reason);
  w.u8(p.table_id);
  w.u64(p.cookie);
  if (p.match.find(oxm_field::kInPort) != nullptr || p.in_port == 0) {
    // in_port 0 is no port: a match without in_port stays without it, so a
    // decoded PACKET_IN re-encodes as it was.
    encode_match(p.match, w);
  } else {
    // The ingress port travels in the match; build it from `in_port`.
    Match m;
    m.fields.reserve(p.match.fields.size() + 1);
    m.fields.push_back(oxm::in_port(p.in_port));
    m.fields.insert(m.fields.end(), p.match.fields.begin(), p.match.fields.end());
    encode_match(m, w);
  }
  w.zeros(2);
  w.bytes(p.data);
}

FlowRemoved decode_flow_removed(wire::Reader& r) {
  FlowRemoved f;
  f.cookie = r.u64();
  f.priority = r.u16();
  f.reason = r.u8();
  f.table_id = r.u8();
  f.duration_sec = r.u32();
  f.duration_nsec = r.u32();
  f.idle_timeout = r.u16();
  f.hard_timeout = r.u16();
  f.packet_count = r.u64();
  f.byte_count = r.u64();
  f.match = decode_match(r);
  return f;
}

void encode_flow_removed(const FlowRemoved& f, wire::Writer& w) {
  w.u64(f.cookie);
  w.u16(f.priority);
  w.u8(f.reason);
  w.u8(f.table_id);
  w.u32(f.duration_sec);
  w.u32(f.duration_nsec);
  w.u16(f.idle_timeout);
  w.u16(f.hard_timeout);
  w.u64(f.packet_count);
  w.u64(f.byte_count);
  encode_match(f.match, w);
}

PortStatus decode_port_status(wire::Reader& r) {
  PortStatus s;
  s.reason = r.u8();
  r.skip(7);
  s.desc = decode_port(r);
  return s;
}

void encode_port_status(const PortStatus& s, wire::Writer& w) {
  w.u8(s.reason);
  w.zeros(7);
  encode_port(s.desc, w);
}

// ------------------------------------------------------------------ controller commands

PacketOut decode_packet_out(wire::Reader& r) {
  PacketOut p;
  p.buffer_id = r.u32();
  p.in_port = r.u32();
  const std::size_t len_at = r.offset();
  const std::uint16_t actions_len = r.u16();
  r.skip(6);
  if (actions_len > r.remaining()) {
    r.fail_at(len_at, error_type::kBadRequest, bad_request::kBadLen,
              "actions_len " + std::to_string(actions_len) + " runs past the message");
    return p;
  }
  wire::Reader actions = r.sub(actions_len, error_type::kBadAction, bad_action::kBadLen);
  p.actions = decode_actions(actions);
  p.data = r.rest_vector();
  return p;
}

Status encode_packet_out(const PacketOut& p, wire::Writer& w) {
  w.u32(p.buffer_id);
  w.u32(p.in_port);
  const std::size_t len_at = w.pos();
  w.u16(0);  // actions_len, patched below
  w.zeros(6);
  const std::size_t start = w.pos();
  Status st = encode_actions(p.actions, w);
  if (!st.ok()) return st;
  if (w.pos() - start > 0xffff) return bad_len("packet_out actions longer than 65535 bytes");
  w.patch_u16(len_at, static_cast<std::uint16_t>(w.pos() - start));
  w.bytes(p.data);
  return ok_status();
}

Status check_flow_mod(std::uint8_t command, std::uint16_t flags) {
  if (command > flow_mod_command::kDeleteStrict) {
    return OfError{error_type::kFlowModFailed, flow_mod_failed::kBadCommand,
                   "unknown flow_mod command " + std::to_string(command), 25};
  }
  if ((flags & ~kFlowModKnownFlags) != 0) {
    return OfError{error_type::kFlowModFailed, flow_mod_failed::kBadFlags,
                   "unknown flow_mod flags " + std::to_string(flags), 44};
  }
  return ok_status();
}

FlowMod decode_flow_mod(wire::Reader& r) {
  FlowMod f;
  f.cookie = r.u64();
  f.cookie_mask = r.u64();
  f.table_id = r.u8();
  f.command = r.u8();
  f.idle_timeout = r.u16();
  f.hard_timeout = r.u16();
  f.priority = r.u16();
  f.buffer_id = r.u32();
  f.out_port = r.u32();
  f.out_group = r.u32();
  f.flags = r.u16();
  r.skip(2);
  if (!r.ok()) return f;
  if (Status st = check_flow_mod(f.command, f.flags); !st.ok()) {
    r.fail_at(st.error().offset, st.error().type, st.error().code, st.error().detail);
    return f;
  }
  f.match = decode_match(r);
  f.instructions = decode_instructions(r);
  return f;
}

Status encode_flow_mod(const FlowMod& f, wire::Writer& w) {
  if (Status st = check_flow_mod(f.command, f.flags); !st.ok()) return st;
  w.u64(f.cookie);
  w.u64(f.cookie_mask);
  w.u8(f.table_id);
  w.u8(f.command);
  w.u16(f.idle_timeout);
  w.u16(f.hard_timeout);
  w.u16(f.priority);
  w.u32(f.buffer_id);
  w.u32(f.out_port);
  w.u32(f.out_group);
  w.u16(f.flags);
  w.zeros(2);
  encode_match(f.match, w);
  return encode_instructions(f.instructions, w);
}

Status check_group_mod(std::uint16_t command, std::uint8_t type) {
  if (command > group_mod_command::kDelete) {
    return OfError{error_type::kGroupModFailed, group_mod_failed::kBadCommand,
                   "unknown group_mod command " + std::to_string(command), 8};
  }
  if (type > group_type::kFastFailover) {
    return OfError{error_type::kGroupModFailed, group_mod_failed::kBadType,
                   "unknown group type " + std::to_string(type), 10};
  }
  return ok_status();
}

GroupMod decode_group_mod(wire::Reader& r) {
  GroupMod g;
  g.command = r.u16();
  g.type = r.u8();
  r.skip(1);
  g.group_id = r.u32();
  if (!r.ok()) return g;
  if (Status st = check_group_mod(g.command, g.type); !st.ok()) {
    r.fail_at(st.error().offset, st.error().type, st.error().code, st.error().detail);
    return g;
  }
  g.buckets = decode_buckets(r);
  return g;
}

Status encode_group_mod(const GroupMod& g, wire::Writer& w) {
  if (Status st = check_group_mod(g.command, g.type); !st.ok()) return st;
  w.u16(g.command);
  w.u8(g.type);
  w.zeros(1);
  w.u32(g.group_id);
  return encode_buckets(g.buckets, w);
}

PortMod decode_port_mod(wire::Reader& r) {
  PortMod p;
  p.port_no = r.u32();
  r.skip(4);
  p.hw_addr = r.mac();
  r.skip(2);
  p.config = r.u32();
  p.mask = r.u32();
  p.advertise = r.u32();
  r.skip(4);
  return p;
}

void encode_port_mod(const PortMod& p, wire::Writer& w) {
  w.u32(p.port_no);
  w.zeros(4);
  w.mac(p.hw_addr);
  w.zeros(2);
  w.u32(p.config);
  w.u32(p.mask);
  w.u32(p.advertise);
  w.zeros(4);
}

TableMod decode_table_mod(wire::Reader& r) {
  TableMod t;
  t.table_id = r.u8();
  r.skip(3);
  t.config = r.u32();
  return t;
}

void encode_table_mod(const TableMod& t, wire::Writer& w) {
  w.u8(t.table_id);
  w.zeros(3);
  w.u32(t.config);
}

Status check_meter_mod(std::uint16_t command) {
  if (command > meter_mod_command::kDelete) {
    return OfError{error_type::kMeterModFailed, meter_mod_failed::kBadCommand,
                   "unknown meter_mod command " + std::to_string(command), 8};
  }
  return ok_status();
}

MeterMod decode_meter_mod(wire::Reader& r) {
  MeterMod m;
  m.command = r.u16();
  m.flags = r.u16();
  m.meter_id = r.u32();
  if (!r.ok()) return m;
  if (Status st = check_meter_mod(m.command); !st.ok()) {
    r.fail_at(st.error().offset, st.error().type, st.error().code, st.error().detail);
    return m;
  }
  m.bands = decode_meter_bands(r);
  return m;
}

Status encode_meter_mod(const MeterMod& m, wire::Writer& w) {
  if (Status st = check_meter_mod(m.command); !st.ok()) return st;
  w.u16(m.command);
  w.u16(m.flags);
  w.u32(m.meter_id);
  encode_meter_bands(m.bands, w);
  return ok_status();
}

// ------------------------------------------------------------------ queues

QueueProperty decode_queue_property(wire::Reader& r) {
  QueueProperty p;
  const std::size_t at = r.offset();
  if (r.remaining() < kQueuePropHeaderLen) {
    r.fail(error_type::kBadRequest, bad_request::kBadLen, "truncated queue property header");
    return p;
  }
  p.property = r.u16();
  const std::uint16_t len = r.u16();
  r.skip(4);
  if (len < kQueuePropHeaderLen || len - kQueuePropHeaderLen > r.remaining()) {
    r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
              "queue property length " + std::to_string(len) + " is below 8 or past its queue");
    return p;
  }
  wire::Reader b = r.sub(len - kQueuePropHeaderLen);
  switch (p.property) {
    case kQueuePropMinRate:
    case kQueuePropMaxRate:
      if (len != kQueuePropRateLen) {
        r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
                  "min/max rate queue property must have length 16");
        return p;
      }
      p.rate = b.u16();
      b.skip(6);
      break;
    case kQueuePropExperimenter:
      // Ryu's data has experimenter properties of 17 and 18 bytes: no padding.
      if (len < kQueuePropExpLen) {
        r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
                  "experimenter queue property below 16 bytes");
        return p;
      }
      p.experimenter = b.u32();
      b.skip(4);
      p.data = b.rest_vector();
      break;
    default:
      p.data = b.rest_vector();
      break;
  }
  return p;
}

void encode_queue_property(const QueueProperty& p, wire::Writer& w) {
  const std::size_t start = w.pos();
  w.u16(p.property);
  w.u16(0);  // len, patched below
  w.zeros(4);
  switch (p.property) {
    case kQueuePropMinRate:
    case kQueuePropMaxRate:
      w.u16(p.rate);
      w.zeros(6);
      break;
    case kQueuePropExperimenter:
      w.u32(p.experimenter);
      w.zeros(4);
      w.bytes(p.data);
      break;
    default:
      w.bytes(p.data);
      break;
  }
  w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
}

// Packet queues are not padded: their length is exactly header + properties.
std::vector<PacketQueue> decode_queues(wire::Reader& r) {
  std::vector<PacketQueue> out;
  while (!r.empty() && r.ok()) {
    const std::size_t at = r.offset();
    if (r.remaining() < kQueueHeaderLen) {
      r.fail(error_type::kBadRequest, bad_request::kBadLen,
             std::to_string(r.remaining()) + " bytes left, too few for a packet queue");
      break;
    }
    PacketQueue q;
    q.queue_id = r.u32();
    q.port = r.u32();
    const std::uint16_t len = r.u16();
    r.skip(6);
    if (len < kQueueHeaderLen || len - kQueueHeaderLen > r.remaining()) {
      r.fail_at(at + 8, error_type::kBadRequest, bad_request::kBadLen,
                "packet queue length " + std::to_string(len) + " is below 16 or past the end");
      break;
    }
    wire::Reader props = r.sub(len - kQueueHeaderLen);
    while (!props.empty() && props.ok()) q.properties.push_back(decode_queue_property(props));
    out.push_back(std::move(q));
  }
  return out;
}

Status encode_queues(const std::vector<PacketQueue>& queues, wire::Writer& w) {
  for (const auto& q : queues) {
    const std::size_t start = w.pos();
    w.u32(q.queue_id);
    w.u32(q.port);
    w.u16(0);  // len, patched below
    w.zeros(6);
    for (const auto& p : q.properties) {
      const std::size_t pstart = w.pos();
      encode_queue_property(p, w);
      if (w.pos() - pstart > 0xffff) return bad_len("queue property longer than 65535 bytes");
    }
    if (w.pos() - start > 0xffff) return bad_len("packet queue longer than 65535 bytes");
    w.patch_u16(start + 8, static_cast<std::uint16_t>(w.pos() - start));
  }
  return ok_status();
}

QueueGetConfigReply decode_queue_get_config_reply(wire::Reader& r) {
  QueueGetConfigReply q;
  q.port = r.u32();
  r.skip(4);
  q.queues = decode_queues(r);
  return q;
}

// ------------------------------------------------------------------ roles

template <class T>
T decode_role(wire::Reader& r) {
  T m;
  m.role = r.u32();
  r.skip(4);
  m.generation_id = r.u64();
  return m;
}

template <class T>
void encode_role(const T& m, wire::Writer& w) {
  w.u32(m.role);
  w.zeros(4);
  w.u64(m.generation_id);
}

// The wire type of each model struct in OpenFlow 1.3 (-1: none).
template <class T>
constexpr int wire_type_of() {
  if constexpr (std::is_same_v<T, Hello>) return mt::kHello;
  else if constexpr (std::is_same_v<T, Error>) return mt::kError;
  else if constexpr (std::is_same_v<T, EchoRequest>) return mt::kEchoRequest;
  else if constexpr (std::is_same_v<T, EchoReply>) return mt::kEchoReply;
  else if constexpr (std::is_same_v<T, Experimenter> || std::is_same_v<T, BundleControl> ||
                     std::is_same_v<T, BundleAddMessage>) return mt::kExperimenter;
  else if constexpr (std::is_same_v<T, FeaturesRequest>) return mt::kFeaturesRequest;
  else if constexpr (std::is_same_v<T, FeaturesReply>) return mt::kFeaturesReply;
  else if constexpr (std::is_same_v<T, GetConfigRequest>) return mt::kGetConfigRequest;
  else if constexpr (std::is_same_v<T, GetConfigReply>) return mt::kGetConfigReply;
  else if constexpr (std::is_same_v<T, SetConfig>) return mt::kSetConfig;
  else if constexpr (std::is_same_v<T, PacketIn>) return mt::kPacketIn;
  else if constexpr (std::is_same_v<T, FlowRemoved>) return mt::kFlowRemoved;
  else if constexpr (std::is_same_v<T, PortStatus>) return mt::kPortStatus;
  else if constexpr (std::is_same_v<T, PacketOut>) return mt::kPacketOut;
  else if constexpr (std::is_same_v<T, FlowMod>) return mt::kFlowMod;
  else if constexpr (std::is_same_v<T, GroupMod>) return mt::kGroupMod;
  else if constexpr (std::is_same_v<T, PortMod>) return mt::kPortMod;
  else if constexpr (std::is_same_v<T, TableMod>) return mt::kTableMod;
  else if constexpr (std::is_same_v<T, MultipartRequest>) return mt::kMultipartRequest;
  else if constexpr (std::is_same_v<T, MultipartReply>) return mt::kMultipartReply;
  else if constexpr (std::is_same_v<T, BarrierRequest>) return mt::kBarrierRequest;
  else if constexpr (std::is_same_v<T, BarrierReply>) return mt::kBarrierReply;
  else if constexpr (std::is_same_v<T, QueueGetConfigRequest>) return mt::kQueueGetConfigRequest;
  else if constexpr (std::is_same_v<T, QueueGetConfigReply>) return mt::kQueueGetConfigReply;
  else if constexpr (std::is_same_v<T, RoleRequest>) return mt::kRoleRequest;
  else if constexpr (std::is_same_v<T, RoleReply>) return mt::kRoleReply;
  else if constexpr (std::is_same_v<T, GetAsyncRequest>) return mt::kGetAsyncRequest;
  else if constexpr (std::is_same_v<T, GetAsyncReply>) return mt::kGetAsyncReply;
  else if constexpr (std::is_same_v<T, SetAsync>) return mt::kSetAsync;
  else if constexpr (std::is_same_v<T, MeterMod>) return mt::kMeterMod;
  else static_assert(kAlwaysFalse<T>, "message type without an OpenFlow 1.3 wire type");
}

MessageBody decode_other_body(std::uint8_t type, wire::Reader& r) {
  switch (type) {
    case mt::kHello:
      return common::decode_hello(r);
    case mt::kError:
      return common::decode_error(r, kVersion13);
    case mt::kEchoRequest:
      return EchoRequest{r.rest_vector()};
    case mt::kEchoReply:
      return EchoReply{r.rest_vector()};
    case mt::kExperimenter:
      return decode_experimenter(r);
    case mt::kFeaturesRequest:
      return FeaturesRequest{};
    case mt::kFeaturesReply:
      return decode_features_reply(r);
    case mt::kGetConfigRequest:
      return GetConfigRequest{};
    case mt::kGetConfigReply:
      return decode_switch_config<GetConfigReply>(r);
    case mt::kSetConfig:
      return decode_switch_config<SetConfig>(r);
    case mt::kFlowRemoved:
      return decode_flow_removed(r);
    case mt::kPortStatus:
      return decode_port_status(r);
    case mt::kPacketOut:
      return decode_packet_out(r);
    case mt::kFlowMod:
      return decode_flow_mod(r);
    case mt::kGroupMod:
      return decode_group_mod(r);
    case mt::kPortMod:
      return decode_port_mod(r);
    case mt::kTableMod:
      return decode_table_mod(r);
    case mt::kMultipartRequest:
      return decode_multipart_request(r);
    case mt::kMultipartReply:
      return decode_multipart_reply(r);
    case mt::kBarrierRequest:
      return BarrierRequest{};
    case mt::kBarrierReply:
      return BarrierReply{};
    case mt::kQueueGetConfigRequest: {
      QueueGetConfigRequest q;
      q.port = r.u32();
      r.skip(4);
      return q;
    }
    case mt::kQueueGetConfigReply:
      return decode_queue_get_config_reply(r);
    case mt::kRoleRequest:
      return decode_role<RoleRequest>(r);
    case mt::kRoleReply:
      return decode_role<RoleReply>(r);
    case mt::kGetAsyncRequest:
      return GetAsyncRequest{};
    case mt::kGetAsyncReply:
      return GetAsyncReply{decode_async_config(r)};
    case mt::kSetAsync:
      return SetAsync{decode_async_config(r)};
    case mt::kMeterMod:
      return decode_meter_mod(r);
    default:
      r.fail_at(1, error_type::kBadRequest, bad_request::kBadType,
                "unknown OpenFlow 1.3 message type " + std::to_string(type));
      return Hello{};
  }
}

}  // namespace

void decode_body(std::uint8_t type, wire::Reader& r, MessageBody& out) {
  // PACKET_IN is decoded in place so a reused body keeps its buffers.
  if (type == mt::kPacketIn) {
    decode_packet_in(r, reuse_packet_in(out));
    return;
  }
  out = decode_other_body(type, r);
}

Status encode_body(const MessageBody& body, wire::Writer& w) {
  return std::visit(
      [&](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          common::encode_hello(m, w);
        } else if constexpr (std::is_same_v<T, Error>) {
          common::encode_error(m, kVersion13, w);
        } else if constexpr (std::is_same_v<T, EchoRequest> || std::is_same_v<T, EchoReply>) {
          w.bytes(m.data);
        } else if constexpr (std::is_same_v<T, Experimenter>) {
          w.u32(m.experimenter);
          w.u32(m.exp_type);
          w.bytes(m.data);
        } else if constexpr (std::is_same_v<T, BundleControl>) {
          encode_bundle_control(m, w);
        } else if constexpr (std::is_same_v<T, BundleAddMessage>) {
          return encode_bundle_add(m, w);
        } else if constexpr (std::is_same_v<T, FeaturesRequest> ||
                             std::is_same_v<T, GetConfigRequest> ||
                             std::is_same_v<T, BarrierRequest> ||
                             std::is_same_v<T, BarrierReply> ||
                             std::is_same_v<T, GetAsyncRequest>) {
          // header only
        } else if constexpr (std::is_same_v<T, FeaturesReply>) {
          encode_features_reply(m, w);
        } else if constexpr (std::is_same_v<T, GetConfigReply> || std::is_same_v<T, SetConfig>) {
          encode_switch_config(m, w);
        } else if constexpr (std::is_same_v<T, PacketIn>) {
          encode_packet_in(m, w);
        } else if constexpr (std::is_same_v<T, FlowRemoved>) {
          encode_flow_removed(m, w);
        } else if constexpr (std::is_same_v<T, PortStatus>) {
          encode_port_status(m, w);
        } else if constexpr (std::is_same_v<T, PacketOut>) {
          return encode_packet_out(m, w);
        } else if constexpr (std::is_same_v<T, FlowMod>) {
          return encode_flow_mod(m, w);
        } else if constexpr (std::is_same_v<T, GroupMod>) {
          return encode_group_mod(m, w);
        } else if constexpr (std::is_same_v<T, PortMod>) {
          encode_port_mod(m, w);
        } else if constexpr (std::is_same_v<T, TableMod>) {
          encode_table_mod(m, w);
        } else if constexpr (std::is_same_v<T, MultipartRequest>) {
          return encode_multipart_request(m, w);
        } else if constexpr (std::is_same_v<T, MultipartReply>) {
          return encode_multipart_reply(m, w);
        } else if constexpr (std::is_same_v<T, QueueGetConfigRequest>) {
          w.u32(m.port);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, QueueGetConfigReply>) {
          w.u32(m.port);
          w.zeros(4);
          return encode_queues(m.queues, w);
        } else if constexpr (std::is_same_v<T, RoleRequest> || std::is_same_v<T, RoleReply>) {
          encode_role(m, w);
        } else if constexpr (std::is_same_v<T, GetAsyncReply> || std::is_same_v<T, SetAsync>) {
          encode_async_config(m.config, w);
        } else if constexpr (std::is_same_v<T, MeterMod>) {
          return encode_meter_mod(m, w);
        } else {
          static_assert(kAlwaysFalse<T>, "unhandled message type");
        }
        return ok_status();
      },
      body);
}

int wire_type(const MessageBody& body) {
  return std::visit([](const auto& m) { return wire_type_of<std::decay_t<decltype(m)>>(); },
                    body);
}

}  // namespace tapflow::openflow::of13
