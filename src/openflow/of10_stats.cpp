// OpenFlow 1.0 STATS_REQUEST / STATS_REPLY bodies (the model's multipart).
#include <string>
#include <type_traits>

#include "of10_parts.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::openflow::of10 {
namespace {

constexpr std::size_t kFlowStatsLen = 88;
constexpr std::size_t kDescLen = 256, kSerialLen = 32, kTableNameLen = 32;
// OFPP_ALL: how a 1.0 queue stats request says "every port" (1.3: OFPP_ANY).
constexpr std::uint16_t kAllPorts10 = 0xfffc;
constexpr std::uint16_t kNone10 = 0xffff;

OfError bad_multipart(std::string detail) {
  return make_error(error_type::kBadRequest, bad_request::kBadMultipart, std::move(detail));
}

Status put_port(std::uint32_t p, wire::Writer& w, const char* what) {
  auto v = wire_port(p, error_type::kBadRequest, bad_request::kBadPort, what);
  if (!v) return v.error();
  w.u16(*v);
  return ok_status();
}

Status check_exp_type(std::uint32_t exp_type) {
  if (exp_type == 0) return ok_status();
  return make_error(error_type::kBadRequest, bad_request::kBadExpType,
                    "OpenFlow 1.0 vendor stats have no exp_type; it must be 0");
}

// ofp_flow_stats_request (also the aggregate request).
FlowStatsRequest decode_flow_request(wire::Reader& r) {
  FlowStatsRequest f;
  f.match = decode_match(r);
  f.table_id = r.u8();
  r.skip(1);
  f.out_port = port_from_wire(r.u16());
  return f;
}

Status encode_flow_request(const FlowStatsRequest& f, wire::Writer& w) {
  if (Status st = encode_match(f.match, w); !st) return st;
  w.u8(f.table_id);
  w.zeros(1);
  return put_port(f.out_port, w, "out_port");
}

FlowStats decode_flow_stats(wire::Reader& r) {
  FlowStats f;
  const std::size_t at = r.offset();
  const std::uint16_t len = r.u16();
  if (!r.ok()) return f;
  if (len < kFlowStatsLen) {
    r.fail_at(at, error_type::kBadRequest, bad_request::kBadLen,
              "flow stats entry length " + std::to_string(len) + " below 88");
    return f;
  }
  wire::Reader e = r.sub(len - 2u);
  f.table_id = e.u8();
  e.skip(1);
  f.match = decode_match(e);
  f.duration_sec = e.u32();
  f.duration_nsec = e.u32();
  f.priority = e.u16();
  f.idle_timeout = e.u16();
  f.hard_timeout = e.u16();
  e.skip(6);
  f.cookie = e.u64();
  f.packet_count = e.u64();
  f.byte_count = e.u64();
  wire::Reader actions = e.sub(e.remaining(), error_type::kBadAction, bad_action::kBadLen);
  f.instructions = actions_to_instructions(decode_actions(actions));
  return f;
}

Status encode_flow_stats(const FlowStats& f, wire::Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);  // length, patched below
  w.u8(f.table_id);
  w.zeros(1);
  if (Status st = encode_match(f.match, w); !st) return st;
  w.u32(f.duration_sec);
  w.u32(f.duration_nsec);
  w.u16(f.priority);
  w.u16(f.idle_timeout);
  w.u16(f.hard_timeout);
  w.zeros(6);
  w.u64(f.cookie);
  w.u64(f.packet_count);
  w.u64(f.byte_count);
  if (Status st = encode_instructions_as_actions(f.instructions, w); !st) return st;
  const std::size_t len = w.pos() - start;
  if (len > 0xffff) {
    return make_error(error_type::kBadRequest, bad_request::kBadLen,
                      "flow stats entry longer than 65535 bytes");
  }
  w.patch_u16(start, static_cast<std::uint16_t>(len));
  return ok_status();
}

DescStats decode_desc(wire::Reader& r) {
  DescStats d;
  d.mfr_desc = r.fixed_string(kDescLen);
  d.hw_desc = r.fixed_string(kDescLen);
  d.sw_desc = r.fixed_string(kDescLen);
  d.serial_num = r.fixed_string(kSerialLen);
  d.dp_desc = r.fixed_string(kDescLen);
  return d;
}

void encode_desc(const DescStats& d, wire::Writer& w) {
  w.fixed_string(d.mfr_desc, kDescLen);
  w.fixed_string(d.hw_desc, kDescLen);
  w.fixed_string(d.sw_desc, kDescLen);
  w.fixed_string(d.serial_num, kSerialLen);
  w.fixed_string(d.dp_desc, kDescLen);
}

TableStats decode_table_stats(wire::Reader& r) {
  TableStats t;
  t.table_id = r.u8();
  r.skip(3);
  t.name = r.fixed_string(kTableNameLen);
  t.wildcards = r.u32();
  t.max_entries = r.u32();
  t.active_count = r.u32();
  t.lookup_count = r.u64();
  t.matched_count = r.u64();
  return t;
}

void encode_table_stats(const TableStats& t, wire::Writer& w) {
  w.u8(t.table_id);
  w.zeros(3);
  w.fixed_string(t.name, kTableNameLen);
  w.u32(t.wildcards);
  w.u32(t.max_entries);
  w.u32(t.active_count);
  w.u64(t.lookup_count);
  w.u64(t.matched_count);
}

PortStats decode_port_stats(wire::Reader& r) {
  PortStats p;
  p.port_no = port_from_wire(r.u16());
  r.skip(6);
  for (std::uint64_t* c : {&p.rx_packets, &p.tx_packets, &p.rx_bytes, &p.tx_bytes,
                           &p.rx_dropped, &p.tx_dropped, &p.rx_errors, &p.tx_errors,
                           &p.rx_frame_err, &p.rx_over_err, &p.rx_crc_err, &p.collisions}) {
    *c = r.u64();
  }
  return p;
}

Status encode_port_stats(const PortStats& p, wire::Writer& w) {
  if (Status st = put_port(p.port_no, w, "port stats port_no"); !st) return st;
  w.zeros(6);
  for (std::uint64_t c : {p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes, p.rx_dropped,
                          p.tx_dropped, p.rx_errors, p.tx_errors, p.rx_frame_err, p.rx_over_err,
                          p.rx_crc_err, p.collisions}) {
    w.u64(c);
  }
  return ok_status();
}

QueueStats decode_queue_stats(wire::Reader& r) {
  QueueStats q;
  q.port_no = port_from_wire(r.u16());
  r.skip(2);
  q.queue_id = r.u32();
  q.tx_bytes = r.u64();
  q.tx_packets = r.u64();
  q.tx_errors = r.u64();
  return q;
}

Status encode_queue_stats(const QueueStats& q, wire::Writer& w) {
  if (Status st = put_port(q.port_no, w, "queue stats port_no"); !st) return st;
  w.zeros(2);
  w.u32(q.queue_id);
  w.u64(q.tx_bytes);
  w.u64(q.tx_packets);
  w.u64(q.tx_errors);
  return ok_status();
}

ExperimenterMultipart decode_vendor(wire::Reader& r) {
  ExperimenterMultipart e;
  e.experimenter = r.u32();
  e.data = r.rest_vector();
  return e;
}

Status encode_vendor(const ExperimenterMultipart& e, wire::Writer& w) {
  if (Status st = check_exp_type(e.exp_type); !st) return st;
  w.u32(e.experimenter);
  w.bytes(e.data);
  return ok_status();
}

template <class T>
std::vector<T> read_all(wire::Reader& r, T (*one)(wire::Reader&)) {
  std::vector<T> out;
  while (!r.empty() && r.ok()) out.push_back(one(r));
  return out;
}

}  // namespace

MultipartRequest decode_stats_request(wire::Reader& r) {
  MultipartRequest m;
  const std::size_t at = r.offset();
  const std::uint16_t type = r.u16();
  m.flags = r.u16();
  switch (type) {
    case multipart_type::kDesc:
      m.body = DescStatsRequest{};
      break;
    case multipart_type::kFlow:
      m.body = decode_flow_request(r);
      break;
    case multipart_type::kAggregate:
      m.body = AggregateStatsRequest{decode_flow_request(r)};
      break;
    case multipart_type::kTable:
      m.body = TableStatsRequest{};
      break;
    case multipart_type::kPort: {
      PortStatsRequest p;
      p.port_no = port_from_wire(r.u16());
      r.skip(6);
      m.body = p;
      break;
    }
    case multipart_type::kQueue: {
      QueueStatsRequest q;
      const std::size_t port_at = r.offset();
      const std::uint16_t port = r.u16();
      r.skip(2);
      q.queue_id = r.u32();
      if (port == kNone10) {
        r.fail_at(port_at, error_type::kBadRequest, bad_request::kBadPort,
                  "queue stats request for OFPP_NONE (1.0 says all ports as OFPP_ALL)");
      }
      q.port_no = port == kAllPorts10 ? port::kAny : port_from_wire(port);
      m.body = q;
      break;
    }
    case multipart_type::kExperimenter:
      m.body = decode_vendor(r);
      break;
    default:
      r.fail_at(at, error_type::kBadRequest, bad_request::kBadMultipart,
                "unknown OpenFlow 1.0 stats type " + std::to_string(type));
      break;
  }
  return m;
}

Status encode_stats_request(const MultipartRequest& m, wire::Writer& w) {
  const std::uint16_t type = multipart_type_of(m.body);
  if (type > multipart_type::kQueue && type != multipart_type::kExperimenter) {
    return bad_multipart("multipart type " + std::to_string(type) + " does not exist in 1.0");
  }
  w.u16(type);
  w.u16(m.flags);
  return std::visit(
      [&w](const auto& b) -> Status {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, FlowStatsRequest>) {
          return encode_flow_request(b, w);
        } else if constexpr (std::is_same_v<T, AggregateStatsRequest>) {
          return encode_flow_request(b.filter, w);
        } else if constexpr (std::is_same_v<T, PortStatsRequest>) {
          if (Status st = put_port(b.port_no, w, "port stats port_no"); !st) return st;
          w.zeros(6);
        } else if constexpr (std::is_same_v<T, QueueStatsRequest>) {
          if (b.port_no == port::kAny) {
            w.u16(kAllPorts10);
          } else if (Status st = put_port(b.port_no, w, "queue stats port_no"); !st) {
            return st;
          }
          w.zeros(2);
          w.u32(b.queue_id);
        } else if constexpr (std::is_same_v<T, ExperimenterMultipart>) {
          return encode_vendor(b, w);
        }
        return ok_status();  // DESC and TABLE requests have no body
      },
      m.body);
}

MultipartReply decode_stats_reply(wire::Reader& r) {
  MultipartReply m;
  const std::size_t at = r.offset();
  const std::uint16_t type = r.u16();
  m.flags = r.u16();
  switch (type) {
    case multipart_type::kDesc:
      m.body = DescStatsReply{decode_desc(r)};
      break;
    case multipart_type::kFlow:
      m.body = FlowStatsReply{read_all(r, decode_flow_stats)};
      break;
    case multipart_type::kAggregate: {
      AggregateStats a;
      a.packet_count = r.u64();
      a.byte_count = r.u64();
      a.flow_count = r.u32();
      r.skip(4);
      m.body = AggregateStatsReply{a};
      break;
    }
    case multipart_type::kTable:
      m.body = TableStatsReply{read_all(r, decode_table_stats)};
      break;
    case multipart_type::kPort:
      m.body = PortStatsReply{read_all(r, decode_port_stats)};
      break;
    case multipart_type::kQueue:
      m.body = QueueStatsReply{read_all(r, decode_queue_stats)};
      break;
    case multipart_type::kExperimenter:
      m.body = decode_vendor(r);
      break;
    default:
      r.fail_at(at, error_type::kBadRequest, bad_request::kBadMultipart,
                "unknown OpenFlow 1.0 stats type " + std::to_string(type));
      break;
  }
  return m;
}

Status encode_stats_reply(const MultipartReply& m, wire::Writer& w) {
  const std::uint16_t type = multipart_type_of(m.body);
  if (type > multipart_type::kQueue && type != multipart_type::kExperimenter) {
    return bad_multipart("multipart type " + std::to_string(type) + " does not exist in 1.0");
  }
  w.u16(type);
  w.u16(m.flags);
  return std::visit(
      [&w](const auto& b) -> Status {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, DescStatsReply>) {
          encode_desc(b.desc, w);
        } else if constexpr (std::is_same_v<T, FlowStatsReply>) {
          for (const auto& f : b.flows) {
            if (Status st = encode_flow_stats(f, w); !st) return st;
          }
        } else if constexpr (std::is_same_v<T, AggregateStatsReply>) {
          w.u64(b.stats.packet_count);
          w.u64(b.stats.byte_count);
          w.u32(b.stats.flow_count);
          w.zeros(4);
        } else if constexpr (std::is_same_v<T, TableStatsReply>) {
          for (const auto& t : b.tables) encode_table_stats(t, w);
        } else if constexpr (std::is_same_v<T, PortStatsReply>) {
          for (const auto& p : b.ports) {
            if (Status st = encode_port_stats(p, w); !st) return st;
          }
        } else if constexpr (std::is_same_v<T, QueueStatsReply>) {
          for (const auto& q : b.queues) {
            if (Status st = encode_queue_stats(q, w); !st) return st;
          }
        } else if constexpr (std::is_same_v<T, ExperimenterMultipart>) {
          return encode_vendor(b, w);
        }
        return ok_status();
      },
      m.body);
}

}  // namespace tapflow::openflow::of10
