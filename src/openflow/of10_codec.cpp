// OpenFlow 1.0 (wire version 0x01) messages: dispatch by type, and the
// message bodies. Matches, actions and stats live in of10_match.cpp,
// of10_actions.cpp and of10_stats.cpp.
//
// Mapping choices worth knowing:
// - Ports are 16 bit on the wire and 1.3-numbered in the model (see
//   port_from_wire); a model port that 1.0 cannot spell is BAD_REQUEST/BAD_PORT
//   (BAD_ACTION/BAD_OUT_PORT inside actions, BAD_MATCH/BAD_VALUE in a match).
// - FLOW_MOD and flow stats carry an action list: it becomes one ApplyActions
//   instruction (none when empty); encoding any other instruction list is
//   BAD_INSTRUCTION/UNSUP_INST.
// - Fields of the model that 1.0 lacks (table_id, cookie_mask, out_group,
//   PACKET_IN match/cookie, curr_speed, ...) are ignored when encoding and
//   left at their defaults when decoding.
// - Padding bytes are not checked on input and are written as zeros.
#include <string>
#include <type_traits>

#include "of10_parts.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::openflow::of10 {
namespace {

// OFPT_* of OpenFlow 1.0.
namespace t {
inline constexpr std::uint8_t kHello = 0, kError = 1, kEchoRequest = 2, kEchoReply = 3,
                              kVendor = 4, kFeaturesRequest = 5, kFeaturesReply = 6,
                              kGetConfigRequest = 7, kGetConfigReply = 8, kSetConfig = 9,
                              kPacketIn = 10, kFlowRemoved = 11, kPortStatus = 12,
                              kPacketOut = 13, kFlowMod = 14, kPortMod = 15,
                              kStatsRequest = 16, kStatsReply = 17, kBarrierRequest = 18,
                              kBarrierReply = 19, kQueueGetConfigRequest = 20,
                              kQueueGetConfigReply = 21;
}

// Queue property types with a rate (OFPQT_MIN_RATE; MAX_RATE as 1.3 has it).
constexpr std::uint16_t kQueueMinRate = 1, kQueueMaxRate = 2;
constexpr std::size_t kQueuePropHeaderLen = 8, kQueueRatePropLen = 16, kPacketQueueHeaderLen = 8;

template <class T>
constexpr int type_of() {
  if constexpr (std::is_same_v<T, Hello>) return t::kHello;
  else if constexpr (std::is_same_v<T, Error>) return t::kError;
  else if constexpr (std::is_same_v<T, EchoRequest>) return t::kEchoRequest;
  else if constexpr (std::is_same_v<T, EchoReply>) return t::kEchoReply;
  else if constexpr (std::is_same_v<T, Experimenter>) return t::kVendor;
  else if constexpr (std::is_same_v<T, FeaturesRequest>) return t::kFeaturesRequest;
  else if constexpr (std::is_same_v<T, FeaturesReply>) return t::kFeaturesReply;
  else if constexpr (std::is_same_v<T, GetConfigRequest>) return t::kGetConfigRequest;
  else if constexpr (std::is_same_v<T, GetConfigReply>) return t::kGetConfigReply;
  else if constexpr (std::is_same_v<T, SetConfig>) return t::kSetConfig;
  else if constexpr (std::is_same_v<T, PacketIn>) return t::kPacketIn;
  else if constexpr (std::is_same_v<T, FlowRemoved>) return t::kFlowRemoved;
  else if constexpr (std::is_same_v<T, PortStatus>) return t::kPortStatus;
  else if constexpr (std::is_same_v<T, PacketOut>) return t::kPacketOut;
  else if constexpr (std::is_same_v<T, FlowMod>) return t::kFlowMod;
  else if constexpr (std::is_same_v<T, PortMod>) return t::kPortMod;
  else if constexpr (std::is_same_v<T, MultipartRequest>) return t::kStatsRequest;
  else if constexpr (std::is_same_v<T, MultipartReply>) return t::kStatsReply;
  else if constexpr (std::is_same_v<T, BarrierRequest>) return t::kBarrierRequest;
  else if constexpr (std::is_same_v<T, BarrierReply>) return t::kBarrierReply;
  else if constexpr (std::is_same_v<T, QueueGetConfigRequest>) return t::kQueueGetConfigRequest;
  else if constexpr (std::is_same_v<T, QueueGetConfigReply>) return t::kQueueGetConfigReply;
  else return -1;  // GROUP_MOD, TABLE_MOD, METER_MOD, ROLE_*, *ASYNC*, BUNDLE_*
}

Status put_port(std::uint32_t p, wire::Writer& w, const char* what) {
  auto v = wire_port(p, error_type::kBadRequest, bad_request::kBadPort, what);
  if (!v) return v.error();
  w.u16(*v);
  return ok_status();
}

// ---------------------------------------------------------------- decoders

FeaturesReply decode_features_reply(wire::Reader& r) {
  FeaturesReply f;
  f.datapath_id = r.u64();
  f.n_buffers = r.u32();
  f.n_tables = r.u8();
  r.skip(3);
  f.capabilities = r.u32();
  f.actions = r.u32();
  if (r.remaining() % kPhyPortLen != 0) {
    r.fail(error_type::kBadRequest, bad_request::kBadLen,
           "FEATURES_REPLY port list is not a whole number of 48-byte ports");
    return f;
  }
  while (!r.empty() && r.ok()) f.ports.push_back(decode_phy_port(r));
  return f;
}

// Fills a default PacketIn (see reuse_packet_in); 1.0 has no match, table
// or cookie, so those keep their defaults.
void decode_packet_in(wire::Reader& r, PacketIn& p) {
  p.buffer_id = r.u32();
  p.total_len = r.u16();
  p.in_port = port_from_wire(r.u16());
  p.reason = r.u8();
  r.skip(1);
  const auto data = r.rest();
  p.data.assign(data.begin(), data.end());
}

FlowRemoved decode_flow_removed(wire::Reader& r) {
  FlowRemoved f;
  f.match = decode_match(r);
  f.cookie = r.u64();
  f.priority = r.u16();
  f.reason = r.u8();
  r.skip(1);
  f.duration_sec = r.u32();
  f.duration_nsec = r.u32();
  f.idle_timeout = r.u16();
  r.skip(2);
  f.packet_count = r.u64();
  f.byte_count = r.u64();
  return f;
}

PortStatus decode_port_status(wire::Reader& r) {
  PortStatus s;
  s.reason = r.u8();
  r.skip(7);
  s.desc = decode_phy_port(r);
  return s;
}

PacketOut decode_packet_out(wire::Reader& r) {
  PacketOut p;
  p.buffer_id = r.u32();
  p.in_port = port_from_wire(r.u16());
  const std::uint16_t actions_len = r.u16();
  // Past the message: BAD_REQUEST/BAD_LEN; a bad action inside: BAD_ACTION/*.
  wire::Reader actions = r.sub(actions_len, error_type::kBadAction, bad_action::kBadLen);
  p.actions = decode_actions(actions);
  p.data = r.rest_vector();
  return p;
}

FlowMod decode_flow_mod(wire::Reader& r) {
  FlowMod f;
  f.match = decode_match(r);
  f.cookie = r.u64();
  const std::size_t command_at = r.offset();
  const std::uint16_t command = r.u16();
  if (command > 0xff) {
    r.fail_at(command_at, error_type::kFlowModFailed, flow_mod_failed::kBadCommand,
              "FLOW_MOD command " + std::to_string(command) + " is unknown");
    return f;
  }
  f.command = static_cast<std::uint8_t>(command);
  f.idle_timeout = r.u16();
  f.hard_timeout = r.u16();
  f.priority = r.u16();
  f.buffer_id = r.u32();
  f.out_port = port_from_wire(r.u16());
  f.flags = r.u16();
  wire::Reader actions = r.sub(r.remaining(), error_type::kBadAction, bad_action::kBadLen);
  f.instructions = actions_to_instructions(decode_actions(actions));
  return f;
}

PortMod decode_port_mod(wire::Reader& r) {
  PortMod p;
  p.port_no = port_from_wire(r.u16());
  p.hw_addr = r.mac();
  p.config = r.u32();
  p.mask = r.u32();
  p.advertise = r.u32();
  r.skip(4);
  return p;
}

QueueProperty decode_queue_property(wire::Reader& r) {
  QueueProperty p;
  const std::size_t at = r.offset();
  p.property = r.u16();
  const std::uint16_t len = r.u16();
  r.skip(4);
  if (!r.ok()) return p;
  const bool rate = p.property == kQueueMinRate || p.property == kQueueMaxRate;
  if (len < kQueuePropHeaderLen || (rate && len != kQueueRatePropLen)) {
    r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
              "queue property " + std::to_string(p.property) + " has bad length " +
                  std::to_string(len));
    return p;
  }
  wire::Reader body = r.sub(len - kQueuePropHeaderLen);
  if (rate) {
    p.rate = body.u16();
    body.skip(6);
  } else {
    p.data = body.rest_vector();
  }
  return p;
}

QueueGetConfigReply decode_queue_get_config_reply(wire::Reader& r) {
  QueueGetConfigReply q;
  q.port = port_from_wire(r.u16());
  r.skip(6);
  while (!r.empty() && r.ok()) {
    PacketQueue pq;
    const std::size_t at = r.offset();
    pq.queue_id = r.u32();
    const std::uint16_t len = r.u16();
    r.skip(2);
    if (!r.ok()) break;
    if (len < kPacketQueueHeaderLen) {
      r.fail_at(at + 4, error_type::kBadRequest, bad_request::kBadLen,
                "packet queue length " + std::to_string(len) + " below 8");
      break;
    }
    wire::Reader props = r.sub(len - kPacketQueueHeaderLen);
    while (!props.empty() && props.ok()) pq.properties.push_back(decode_queue_property(props));
    q.queues.push_back(std::move(pq));
  }
  return q;
}

// ---------------------------------------------------------------- encoders

Status encode_features_reply(const FeaturesReply& f, wire::Writer& w) {
  w.u64(f.datapath_id);
  w.u32(f.n_buffers);
  w.u8(f.n_tables);
  w.zeros(3);
  w.u32(f.capabilities);
  w.u32(f.actions);
  for (const Port& p : f.ports) {
    if (Status st = encode_phy_port(p, w); !st) return st;
  }
  return ok_status();
}

Status encode_packet_in(const PacketIn& p, wire::Writer& w) {
  w.u32(p.buffer_id);
  w.u16(p.total_len);
  if (Status st = put_port(p.in_port, w, "PACKET_IN in_port"); !st) return st;
  w.u8(p.reason);
  w.zeros(1);
  w.bytes(p.data);
  return ok_status();
}

Status encode_flow_removed(const FlowRemoved& f, wire::Writer& w) {
  if (Status st = encode_match(f.match, w); !st) return st;
  w.u64(f.cookie);
  w.u16(f.priority);
  w.u8(f.reason);
  w.zeros(1);
  w.u32(f.duration_sec);
  w.u32(f.duration_nsec);
  w.u16(f.idle_timeout);
  w.zeros(2);
  w.u64(f.packet_count);
  w.u64(f.byte_count);
  return ok_status();
}

Status encode_packet_out(const PacketOut& p, wire::Writer& w) {
  w.u32(p.buffer_id);
  if (Status st = put_port(p.in_port, w, "PACKET_OUT in_port"); !st) return st;
  const std::size_t len_at = w.pos();
  w.u16(0);  // actions_len, patched below
  const std::size_t start = w.pos();
  if (Status st = encode_actions(p.actions, w); !st) return st;
  const std::size_t len = w.pos() - start;
  if (len > 0xffff) {
    return make_error(error_type::kBadRequest, bad_request::kBadLen,
                      "PACKET_OUT actions longer than 65535 bytes");
  }
  w.patch_u16(len_at, static_cast<std::uint16_t>(len));
  w.bytes(p.data);
  return ok_status();
}

Status encode_flow_mod(const FlowMod& f, wire::Writer& w) {
  if (Status st = encode_match(f.match, w); !st) return st;
  w.u64(f.cookie);
  w.u16(f.command);
  w.u16(f.idle_timeout);
  w.u16(f.hard_timeout);
  w.u16(f.priority);
  w.u32(f.buffer_id);
  if (Status st = put_port(f.out_port, w, "FLOW_MOD out_port"); !st) return st;
  w.u16(f.flags);
  return encode_instructions_as_actions(f.instructions, w);
}

Status encode_port_mod(const PortMod& p, wire::Writer& w) {
  if (Status st = put_port(p.port_no, w, "PORT_MOD port_no"); !st) return st;
  w.mac(p.hw_addr);
  w.u32(p.config);
  w.u32(p.mask);
  w.u32(p.advertise);
  w.zeros(4);
  return ok_status();
}

Status encode_queue_get_config_reply(const QueueGetConfigReply& q, wire::Writer& w) {
  if (Status st = put_port(q.port, w, "QUEUE_GET_CONFIG_REPLY port"); !st) return st;
  w.zeros(6);
  for (const PacketQueue& pq : q.queues) {
    const std::size_t start = w.pos();
    w.u32(pq.queue_id);
    w.u16(0);  // len, patched below
    w.zeros(2);
    for (const QueueProperty& p : pq.properties) {
      const bool rate = p.property == kQueueMinRate || p.property == kQueueMaxRate;
      const std::size_t len = rate ? kQueueRatePropLen : kQueuePropHeaderLen + p.data.size();
      if (len > 0xffff) {
        return make_error(error_type::kBadRequest, bad_request::kBadLen,
                          "queue property longer than 65535 bytes");
      }
      w.u16(p.property);
      w.u16(static_cast<std::uint16_t>(len));
      w.zeros(4);
      if (rate) {
        w.u16(p.rate);
        w.zeros(6);
      } else {
        w.bytes(p.data);
      }
    }
    const std::size_t len = w.pos() - start;
    if (len > 0xffff) {
      return make_error(error_type::kBadRequest, bad_request::kBadLen,
                        "packet queue longer than 65535 bytes");
    }
    w.patch_u16(start + 4, static_cast<std::uint16_t>(len));
  }
  return ok_status();
}

}  // namespace

// ---------------------------------------------------------------- ofp_phy_port

Port decode_phy_port(wire::Reader& r) {
  Port p;
  p.port_no = port_from_wire(r.u16());
  p.hw_addr = r.mac();
  p.name = r.fixed_string(16);
  p.config = r.u32();
  p.state = r.u32();
  p.curr = r.u32();
  p.advertised = r.u32();
  p.supported = r.u32();
  p.peer = r.u32();
  return p;
}

Status encode_phy_port(const Port& p, wire::Writer& w) {
  if (Status st = put_port(p.port_no, w, "port_no"); !st) return st;
  w.mac(p.hw_addr);
  w.fixed_string(p.name, 16);
  w.u32(p.config);
  w.u32(p.state);
  w.u32(p.curr);
  w.u32(p.advertised);
  w.u32(p.supported);
  w.u32(p.peer);
  return ok_status();
}

// ---------------------------------------------------------------- entry points

namespace {

MessageBody decode_other_body(std::uint8_t type, wire::Reader& r) {
  switch (type) {
    case t::kHello:
      return common::decode_hello(r);
    case t::kError:
      return common::decode_error(r, kVersion10);
    case t::kEchoRequest:
      return EchoRequest{r.rest_vector()};
    case t::kEchoReply:
      return EchoReply{r.rest_vector()};
    case t::kVendor: {
      Experimenter e;
      e.experimenter = r.u32();
      e.data = r.rest_vector();
      return e;
    }
    case t::kFeaturesRequest:
      return FeaturesRequest{};
    case t::kFeaturesReply:
      return decode_features_reply(r);
    case t::kGetConfigRequest:
      return GetConfigRequest{};
    case t::kGetConfigReply: {
      GetConfigReply c;
      c.flags = r.u16();
      c.miss_send_len = r.u16();
      return c;
    }
    case t::kSetConfig: {
      SetConfig c;
      c.flags = r.u16();
      c.miss_send_len = r.u16();
      return c;
    }
    case t::kFlowRemoved:
      return decode_flow_removed(r);
    case t::kPortStatus:
      return decode_port_status(r);
    case t::kPacketOut:
      return decode_packet_out(r);
    case t::kFlowMod:
      return decode_flow_mod(r);
    case t::kPortMod:
      return decode_port_mod(r);
    case t::kStatsRequest:
      return decode_stats_request(r);
    case t::kStatsReply:
      return decode_stats_reply(r);
    case t::kBarrierRequest:
      return BarrierRequest{};
    case t::kBarrierReply:
      return BarrierReply{};
    case t::kQueueGetConfigRequest: {
      QueueGetConfigRequest q;
      q.port = port_from_wire(r.u16());
      r.skip(2);
      return q;
    }
    case t::kQueueGetConfigReply:
      return decode_queue_get_config_reply(r);
    default:
      r.fail_at(1, error_type::kBadRequest, bad_request::kBadType,
                "unknown OpenFlow 1.0 message type " + std::to_string(type));
      return {};
  }
}

}  // namespace

void decode_body(std::uint8_t type, wire::Reader& r, MessageBody& out) {
  // PACKET_IN is decoded in place so a reused body keeps its buffers.
  if (type == t::kPacketIn) {
    decode_packet_in(r, reuse_packet_in(out));
    return;
  }
  out = decode_other_body(type, r);
}

Status encode_body(const MessageBody& body, wire::Writer& w) {
  return std::visit(
      [&w](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          common::encode_hello(m, w);
        } else if constexpr (std::is_same_v<T, Error>) {
          common::encode_error(m, kVersion10, w);
        } else if constexpr (std::is_same_v<T, EchoRequest> || std::is_same_v<T, EchoReply>) {
          w.bytes(m.data);
        } else if constexpr (std::is_same_v<T, Experimenter>) {
          if (m.exp_type != 0) {
            return make_error(error_type::kBadRequest, bad_request::kBadExpType,
                              "OpenFlow 1.0 VENDOR messages have no exp_type; it must be 0");
          }
          w.u32(m.experimenter);
          w.bytes(m.data);
        } else if constexpr (std::is_same_v<T, FeaturesReply>) {
          return encode_features_reply(m, w);
        } else if constexpr (std::is_same_v<T, GetConfigReply> || std::is_same_v<T, SetConfig>) {
          w.u16(m.flags);
          w.u16(m.miss_send_len);
        } else if constexpr (std::is_same_v<T, PacketIn>) {
          return encode_packet_in(m, w);
        } else if constexpr (std::is_same_v<T, FlowRemoved>) {
          return encode_flow_removed(m, w);
        } else if constexpr (std::is_same_v<T, PortStatus>) {
          w.u8(m.reason);
          w.zeros(7);
          return encode_phy_port(m.desc, w);
        } else if constexpr (std::is_same_v<T, PacketOut>) {
          return encode_packet_out(m, w);
        } else if constexpr (std::is_same_v<T, FlowMod>) {
          return encode_flow_mod(m, w);
        } else if constexpr (std::is_same_v<T, PortMod>) {
          return encode_port_mod(m, w);
        } else if constexpr (std::is_same_v<T, MultipartRequest>) {
          return encode_stats_request(m, w);
        } else if constexpr (std::is_same_v<T, MultipartReply>) {
          return encode_stats_reply(m, w);
        } else if constexpr (std::is_same_v<T, QueueGetConfigRequest>) {
          if (Status st = put_port(m.port, w, "QUEUE_GET_CONFIG_REQUEST port"); !st) return st;
          w.zeros(2);
        } else if constexpr (std::is_same_v<T, QueueGetConfigReply>) {
          return encode_queue_get_config_reply(m, w);
        } else if constexpr (type_of<T>() < 0) {
          return make_error(error_type::kBadRequest, bad_request::kBadType,
                            std::string(type_name(MessageBody{m})) +
                                " does not exist in OpenFlow 1.0");
        }
        // FEATURES_REQUEST, GET_CONFIG_REQUEST, BARRIER_*: header only.
        return ok_status();
      },
      body);
}

int wire_type(const MessageBody& body) {
  return std::visit([](const auto& m) { return type_of<std::decay_t<decltype(m)>>(); }, body);
}

}  // namespace tapflow::openflow::of10
