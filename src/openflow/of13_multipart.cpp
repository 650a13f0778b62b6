// OpenFlow 1.3 multipart (statistics) request and reply bodies: everything
// after ofp_multipart_request/reply's type, flags and pad.
//
// Lists of variable-length entries carry a 16-bit length per entry; it must
// cover at least the entry's fixed part and stay inside the message, else the
// whole message is BAD_REQUEST/BAD_LEN. Table feature properties have their own
// error, TABLE_FEATURES_FAILED/BAD_LEN ("length problem in properties"); their
// length excludes the padding to 8 bytes that follows each property.
#include <optional>
#include <string>
#include <variant>

#include "version_codecs.hpp"

namespace tapflow::openflow::of13 {
namespace {

using wire::Reader;
using wire::Writer;

// Fixed sizes of the 1.3 wire structures (ofp_*), in bytes.
constexpr std::size_t kMultipartHeaderLen = 8;  // type, flags, pad[4]
constexpr std::size_t kDescLen = 1056;          // 256 * 3 + 32 + 256
constexpr std::size_t kDescStrLen = 256;
constexpr std::size_t kSerialNumLen = 32;
constexpr std::size_t kFlowStatsRequestFixed = 32;  // before the match
constexpr std::size_t kMinMatchLen = 8;
constexpr std::size_t kFlowStatsFixed = 48;  // before the match
constexpr std::size_t kAggregateReplyLen = 24;
constexpr std::size_t kTableStatsLen = 24;
constexpr std::size_t kPortStatsLen = 112;
constexpr std::size_t kQueueStatsLen = 40;
constexpr std::size_t kGroupStatsFixed = 40;
constexpr std::size_t kBucketCounterLen = 16;
constexpr std::size_t kGroupDescFixed = 8;
constexpr std::size_t kGroupFeaturesLen = 40;
constexpr std::size_t kMeterStatsFixed = 40;
constexpr std::size_t kMeterStatsLenAt = 4;  // ofp_meter_stats puts len after meter_id
constexpr std::size_t kBandStatsLen = 16;
constexpr std::size_t kMeterConfigFixed = 8;
constexpr std::size_t kMeterFeaturesLen = 16;
constexpr std::size_t kTableFeaturesFixed = 64;
constexpr std::size_t kTableNameLen = 32;
constexpr std::size_t kPortLen = 64;
constexpr std::size_t kExperimenterFixed = 8;  // experimenter, exp_type
constexpr std::size_t kIdRequestLen = 8;       // port/queue/group/meter id (+ pad)
constexpr std::size_t kPropHeaderLen = 4;
constexpr std::size_t kExperimenterPropFixed = 12;

// Table feature property types (OFPTFPT_*).
namespace tfpt {
constexpr std::uint16_t kInstructions = 0, kInstructionsMiss = 1, kNextTables = 2,
                        kNextTablesMiss = 3, kWriteActions = 4, kWriteActionsMiss = 5,
                        kApplyActions = 6, kApplyActionsMiss = 7, kMatch = 8, kWildcards = 10,
                        kWriteSetfield = 12, kWriteSetfieldMiss = 13, kApplySetfield = 14,
                        kApplySetfieldMiss = 15, kExperimenter = 0xfffe,
                        kExperimenterMiss = 0xffff;
}

enum class PropKind { kIds, kTableIds, kOxmIds, kExperimenter, kOpaque };

PropKind prop_kind(std::uint16_t type) {
  switch (type) {
    case tfpt::kInstructions:
    case tfpt::kInstructionsMiss:
    case tfpt::kWriteActions:
    case tfpt::kWriteActionsMiss:
    case tfpt::kApplyActions:
    case tfpt::kApplyActionsMiss:
      return PropKind::kIds;
    case tfpt::kNextTables:
    case tfpt::kNextTablesMiss:
      return PropKind::kTableIds;
    case tfpt::kMatch:
    case tfpt::kWildcards:
    case tfpt::kWriteSetfield:
    case tfpt::kWriteSetfieldMiss:
    case tfpt::kApplySetfield:
    case tfpt::kApplySetfieldMiss:
      return PropKind::kOxmIds;
    case tfpt::kExperimenter:
    case tfpt::kExperimenterMiss:
      return PropKind::kExperimenter;
    default:
      // Not defined in 1.3: kept whole in `data` so it round-trips.
      return PropKind::kOpaque;
  }
}

void fail_len(Reader& r, std::string detail) {
  r.fail(error_type::kBadRequest, bad_request::kBadLen, detail);
}

OfError encode_len_error(const char* what, std::size_t len) {
  return OfError{error_type::kBadRequest, bad_request::kBadLen,
                 std::string(what) + " would be " + std::to_string(len) +
                     " bytes, more than its 16-bit length field holds",
                 0};
}

// A body of fixed size must be exactly that size.
bool expect_size(Reader& r, std::size_t n, const char* what) {
  if (r.remaining() == n) return true;
  fail_len(r, std::string(what) + " body is " + std::to_string(r.remaining()) +
                  " bytes, must be " + std::to_string(n));
  return false;
}

// A list of fixed-size entries must be a whole number of them.
bool expect_multiple(Reader& r, std::size_t n, const char* what) {
  if (r.remaining() % n == 0) return true;
  fail_len(r, std::string(what) + " list of " + std::to_string(r.remaining()) +
                  " bytes is not a whole number of " + std::to_string(n) + "-byte entries");
  return false;
}

// Splits off the next entry of a list whose u16 length field sits `len_at`
// bytes into each entry. The entry's reader starts at the entry (length field
// included). Records BAD_REQUEST/BAD_LEN and returns nothing if the length is
// below `min_len` or runs past the end of the list.
std::optional<Reader> next_entry(Reader& r, std::size_t len_at, std::size_t min_len,
                                 const char* what) {
  if (r.remaining() < len_at + 2) {
    fail_len(r, std::string("truncated ") + what);
    return std::nullopt;
  }
  Reader peek = r;  // a copy: reading it leaves r where it is
  peek.skip(len_at);
  const std::size_t len_offset = peek.offset();
  const std::size_t len = peek.u16();
  if (len < min_len) {
    r.fail_at(len_offset, error_type::kBadRequest, bad_request::kBadLen,
              std::string(what) + " length " + std::to_string(len) + " below its minimum " +
                  std::to_string(min_len));
    return std::nullopt;
  }
  if (len > r.remaining()) {
    r.fail_at(len_offset, error_type::kBadRequest, bad_request::kBadLen,
              std::string(what) + " length " + std::to_string(len) + " runs past the end (" +
                  std::to_string(r.remaining()) + " bytes left)");
    return std::nullopt;
  }
  return r.sub(len);
}

// Writes the length of the entry that started at `start` into the u16 at
// `len_at`.
Status patch_entry_len(Writer& w, std::size_t start, std::size_t len_at, const char* what) {
  const std::size_t len = w.pos() - start;
  if (len > 0xffff) return encode_len_error(what, len);
  w.patch_u16(len_at, static_cast<std::uint16_t>(len));
  return ok_status();
}

// ---------------------------------------------------------------- DESC
DescStats decode_desc(Reader& r) {
  DescStats d;
  if (!expect_size(r, kDescLen, "DESC reply")) return d;
  d.mfr_desc = r.fixed_string(kDescStrLen);
  d.hw_desc = r.fixed_string(kDescStrLen);
  d.sw_desc = r.fixed_string(kDescStrLen);
  d.serial_num = r.fixed_string(kSerialNumLen);
  d.dp_desc = r.fixed_string(kDescStrLen);
  return d;
}

void encode_desc(const DescStats& d, Writer& w) {
  w.fixed_string(d.mfr_desc, kDescStrLen);
  w.fixed_string(d.hw_desc, kDescStrLen);
  w.fixed_string(d.sw_desc, kDescStrLen);
  w.fixed_string(d.serial_num, kSerialNumLen);
  w.fixed_string(d.dp_desc, kDescStrLen);
}

// ---------------------------------------------------------------- FLOW, AGGREGATE
FlowStatsRequest decode_flow_request(Reader& r, const char* what) {
  FlowStatsRequest f;
  if (r.remaining() < kFlowStatsRequestFixed + kMinMatchLen) {
    fail_len(r, std::string(what) + " body shorter than its fixed part and match");
    return f;
  }
  f.table_id = r.u8();
  r.skip(3);
  f.out_port = r.u32();
  f.out_group = r.u32();
  r.skip(4);
  f.cookie = r.u64();
  f.cookie_mask = r.u64();
  f.match = decode_match(r);
  if (r.ok() && !r.empty()) {
    fail_len(r, std::to_string(r.remaining()) + " bytes after the match of " + what);
  }
  return f;
}

void encode_flow_request(const FlowStatsRequest& f, Writer& w) {
  w.u8(f.table_id);
  w.zeros(3);
  w.u32(f.out_port);
  w.u32(f.out_group);
  w.zeros(4);
  w.u64(f.cookie);
  w.u64(f.cookie_mask);
  encode_match(f.match, w);
}

FlowStats decode_flow_stats(Reader& e) {
  FlowStats s;
  e.skip(2);  // length, checked by next_entry
  s.table_id = e.u8();
  e.skip(1);
  s.duration_sec = e.u32();
  s.duration_nsec = e.u32();
  s.priority = e.u16();
  s.idle_timeout = e.u16();
  s.hard_timeout = e.u16();
  s.flags = e.u16();
  e.skip(4);
  s.cookie = e.u64();
  s.packet_count = e.u64();
  s.byte_count = e.u64();
  s.match = decode_match(e);
  Reader ins = e.sub(e.remaining(), error_type::kBadInstruction, bad_instruction::kBadLen);
  s.instructions = decode_instructions(ins);
  return s;
}

Status encode_flow_stats(const FlowStats& s, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);  // length, patched below
  w.u8(s.table_id);
  w.zeros(1);
  w.u32(s.duration_sec);
  w.u32(s.duration_nsec);
  w.u16(s.priority);
  w.u16(s.idle_timeout);
  w.u16(s.hard_timeout);
  w.u16(s.flags);
  w.zeros(4);
  w.u64(s.cookie);
  w.u64(s.packet_count);
  w.u64(s.byte_count);
  encode_match(s.match, w);
  if (Status st = encode_instructions(s.instructions, w); !st.ok()) return st;
  return patch_entry_len(w, start, start, "flow stats entry");
}

AggregateStats decode_aggregate(Reader& r) {
  AggregateStats a;
  if (!expect_size(r, kAggregateReplyLen, "AGGREGATE reply")) return a;
  a.packet_count = r.u64();
  a.byte_count = r.u64();
  a.flow_count = r.u32();
  r.skip(4);
  return a;
}

void encode_aggregate(const AggregateStats& a, Writer& w) {
  w.u64(a.packet_count);
  w.u64(a.byte_count);
  w.u32(a.flow_count);
  w.zeros(4);
}

// ---------------------------------------------------------------- TABLE, PORT, QUEUE
TableStats decode_table_stats(Reader& r) {
  TableStats t;
  t.table_id = r.u8();
  r.skip(3);
  t.active_count = r.u32();
  t.lookup_count = r.u64();
  t.matched_count = r.u64();
  return t;
}

void encode_table_stats(const TableStats& t, Writer& w) {
  w.u8(t.table_id);
  w.zeros(3);
  w.u32(t.active_count);
  w.u64(t.lookup_count);
  w.u64(t.matched_count);
}

PortStats decode_port_stats(Reader& r) {
  PortStats p;
  p.port_no = r.u32();
  r.skip(4);
  p.rx_packets = r.u64();
  p.tx_packets = r.u64();
  p.rx_bytes = r.u64();
  p.tx_bytes = r.u64();
  p.rx_dropped = r.u64();
  p.tx_dropped = r.u64();
  p.rx_errors = r.u64();
  p.tx_errors = r.u64();
  p.rx_frame_err = r.u64();
  p.rx_over_err = r.u64();
  p.rx_crc_err = r.u64();
  p.collisions = r.u64();
  p.duration_sec = r.u32();
  p.duration_nsec = r.u32();
  return p;
}

void encode_port_stats(const PortStats& p, Writer& w) {
  w.u32(p.port_no);
  w.zeros(4);
  for (std::uint64_t v : {p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes, p.rx_dropped,
                          p.tx_dropped, p.rx_errors, p.tx_errors, p.rx_frame_err, p.rx_over_err,
                          p.rx_crc_err, p.collisions}) {
    w.u64(v);
  }
  w.u32(p.duration_sec);
  w.u32(p.duration_nsec);
}

QueueStats decode_queue_stats(Reader& r) {
  QueueStats q;
  q.port_no = r.u32();
  q.queue_id = r.u32();
  q.tx_bytes = r.u64();
  q.tx_packets = r.u64();
  q.tx_errors = r.u64();
  q.duration_sec = r.u32();
  q.duration_nsec = r.u32();
  return q;
}

void encode_queue_stats(const QueueStats& q, Writer& w) {
  w.u32(q.port_no);
  w.u32(q.queue_id);
  w.u64(q.tx_bytes);
  w.u64(q.tx_packets);
  w.u64(q.tx_errors);
  w.u32(q.duration_sec);
  w.u32(q.duration_nsec);
}

// A list of fixed-size entries.
template <class T, class DecodeOne>
std::vector<T> decode_fixed_list(Reader& r, std::size_t entry_len, const char* what,
                                 DecodeOne decode_one) {
  std::vector<T> out;
  if (!expect_multiple(r, entry_len, what)) return out;
  while (!r.empty() && r.ok()) out.push_back(decode_one(r));
  return out;
}

// ---------------------------------------------------------------- GROUP
GroupStats decode_group_stats(Reader& e) {
  GroupStats g;
  const std::size_t len = e.u16();
  if ((len - kGroupStatsFixed) % kBucketCounterLen != 0) {
    e.fail_at(e.offset() - 2, error_type::kBadRequest, bad_request::kBadLen,
              "group stats length " + std::to_string(len) +
                  " leaves a partial bucket counter");
    return g;
  }
  e.skip(2);
  g.group_id = e.u32();
  g.ref_count = e.u32();
  e.skip(4);
  g.packet_count = e.u64();
  g.byte_count = e.u64();
  g.duration_sec = e.u32();
  g.duration_nsec = e.u32();
  while (!e.empty() && e.ok()) {
    BucketCounter c;
    c.packet_count = e.u64();
    c.byte_count = e.u64();
    g.bucket_stats.push_back(c);
  }
  return g;
}

Status encode_group_stats(const GroupStats& g, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);
  w.zeros(2);
  w.u32(g.group_id);
  w.u32(g.ref_count);
  w.zeros(4);
  w.u64(g.packet_count);
  w.u64(g.byte_count);
  w.u32(g.duration_sec);
  w.u32(g.duration_nsec);
  for (const auto& c : g.bucket_stats) {
    w.u64(c.packet_count);
    w.u64(c.byte_count);
  }
  return patch_entry_len(w, start, start, "group stats entry");
}

GroupDesc decode_group_desc(Reader& e) {
  GroupDesc g;
  e.skip(2);
  g.type = e.u8();
  e.skip(1);
  g.group_id = e.u32();
  g.buckets = decode_buckets(e);
  return g;
}

Status encode_group_desc(const GroupDesc& g, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);
  w.u8(g.type);
  w.zeros(1);
  w.u32(g.group_id);
  if (Status st = encode_buckets(g.buckets, w); !st.ok()) return st;
  return patch_entry_len(w, start, start, "group desc entry");
}

GroupFeatures decode_group_features(Reader& r) {
  GroupFeatures f;
  if (!expect_size(r, kGroupFeaturesLen, "GROUP_FEATURES reply")) return f;
  f.types = r.u32();
  f.capabilities = r.u32();
  for (auto& v : f.max_groups) v = r.u32();
  for (auto& v : f.actions) v = r.u32();
  return f;
}

void encode_group_features(const GroupFeatures& f, Writer& w) {
  w.u32(f.types);
  w.u32(f.capabilities);
  for (std::uint32_t v : f.max_groups) w.u32(v);
  for (std::uint32_t v : f.actions) w.u32(v);
}

// ---------------------------------------------------------------- METER
MeterStats decode_meter_stats(Reader& e) {
  MeterStats m;
  m.meter_id = e.u32();
  const std::size_t len = e.u16();
  if ((len - kMeterStatsFixed) % kBandStatsLen != 0) {
    e.fail_at(e.offset() - 2, error_type::kBadRequest, bad_request::kBadLen,
              "meter stats length " + std::to_string(len) + " leaves a partial band stats entry");
    return m;
  }
  e.skip(6);
  m.flow_count = e.u32();
  m.packet_in_count = e.u64();
  m.byte_in_count = e.u64();
  m.duration_sec = e.u32();
  m.duration_nsec = e.u32();
  while (!e.empty() && e.ok()) {
    MeterBandStats b;
    b.packet_band_count = e.u64();
    b.byte_band_count = e.u64();
    m.band_stats.push_back(b);
  }
  return m;
}

Status encode_meter_stats(const MeterStats& m, Writer& w) {
  const std::size_t start = w.pos();
  w.u32(m.meter_id);
  w.u16(0);
  w.zeros(6);
  w.u32(m.flow_count);
  w.u64(m.packet_in_count);
  w.u64(m.byte_in_count);
  w.u32(m.duration_sec);
  w.u32(m.duration_nsec);
  for (const auto& b : m.band_stats) {
    w.u64(b.packet_band_count);
    w.u64(b.byte_band_count);
  }
  return patch_entry_len(w, start, start + kMeterStatsLenAt, "meter stats entry");
}

MeterConfig decode_meter_config(Reader& e) {
  MeterConfig m;
  e.skip(2);
  m.flags = e.u16();
  m.meter_id = e.u32();
  m.bands = decode_meter_bands(e);
  return m;
}

Status encode_meter_config(const MeterConfig& m, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);
  w.u16(m.flags);
  w.u32(m.meter_id);
  encode_meter_bands(m.bands, w);
  return patch_entry_len(w, start, start, "meter config entry");
}

MeterFeatures decode_meter_features(Reader& r) {
  MeterFeatures f;
  if (!expect_size(r, kMeterFeaturesLen, "METER_FEATURES reply")) return f;
  f.max_meter = r.u32();
  f.band_types = r.u32();
  f.capabilities = r.u32();
  f.max_bands = r.u8();
  f.max_color = r.u8();
  r.skip(2);
  return f;
}

void encode_meter_features(const MeterFeatures& f, Writer& w) {
  w.u32(f.max_meter);
  w.u32(f.band_types);
  w.u32(f.capabilities);
  w.u8(f.max_bands);
  w.u8(f.max_color);
  w.zeros(2);
}

// ---------------------------------------------------------------- TABLE_FEATURES
void fail_prop(Reader& r, std::size_t at, std::string detail) {
  r.fail_at(at, error_type::kTableFeaturesFailed, table_features_failed::kBadLen, detail);
}

// Instruction or action ids: type, len, then len-4 bytes (e.g. an experimenter
// id). Ids are not padded one by one.
std::vector<TableFeatureId> decode_feature_ids(Reader& body) {
  std::vector<TableFeatureId> ids;
  while (!body.empty() && body.ok()) {
    const std::size_t at = body.offset();
    TableFeatureId id;
    id.type = body.u16();
    const std::size_t len = body.u16();
    if (!body.ok()) break;
    if (len < kPropHeaderLen || len - kPropHeaderLen > body.remaining()) {
      fail_prop(body, at + 2,
                "table feature id length " + std::to_string(len) +
                    (len < kPropHeaderLen ? " below 4" : " runs past its property"));
      break;
    }
    id.data = body.byte_vector(len - kPropHeaderLen);
    ids.push_back(std::move(id));
  }
  return ids;
}

TableFeatureProp decode_feature_prop(Reader& r) {
  TableFeatureProp p;
  const std::size_t at = r.offset();
  if (r.remaining() < kPropHeaderLen) {
    fail_prop(r, at, "truncated table feature property header");
    return p;
  }
  p.type = r.u16();
  const std::size_t len = r.u16();
  const PropKind kind = prop_kind(p.type);
  const std::size_t min_len =
      kind == PropKind::kExperimenter ? kExperimenterPropFixed : kPropHeaderLen;
  if (len < min_len) {
    fail_prop(r, at + 2,
              "table feature property length " + std::to_string(len) + " below its minimum " +
                  std::to_string(min_len));
    return p;
  }
  const std::size_t padded = wire::pad8(len);
  if (padded - kPropHeaderLen > r.remaining()) {
    fail_prop(r, at + 2,
              "table feature property length " + std::to_string(len) + " (padded " +
                  std::to_string(padded) + ") runs past its table");
    return p;
  }
  Reader body = r.sub(len - kPropHeaderLen, error_type::kTableFeaturesFailed,
                      table_features_failed::kBadLen);
  r.skip(padded - len);
  switch (kind) {
    case PropKind::kIds:
      p.ids = decode_feature_ids(body);
      break;
    case PropKind::kTableIds: {
      auto s = body.rest();
      p.table_ids.assign(s.begin(), s.end());
      break;
    }
    case PropKind::kOxmIds:
      if (body.remaining() % 4 != 0) {
        fail_prop(body, at + 2,
                  "OXM id property length " + std::to_string(len) +
                      " is not a whole number of 32-bit headers");
        break;
      }
      while (!body.empty() && body.ok()) p.oxm_ids.push_back(body.u32());
      break;
    case PropKind::kExperimenter:
      p.experimenter = body.u32();
      p.exp_type = body.u32();
      p.data = body.rest_vector();
      break;
    case PropKind::kOpaque:
      p.data = body.rest_vector();
      break;
  }
  return p;
}

Status encode_feature_prop(const TableFeatureProp& p, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(p.type);
  w.u16(0);
  switch (prop_kind(p.type)) {
    case PropKind::kIds:
      for (const auto& id : p.ids) {
        const std::size_t id_len = kPropHeaderLen + id.data.size();
        if (id_len > 0xffff) return encode_len_error("table feature id", id_len);
        w.u16(id.type);
        w.u16(static_cast<std::uint16_t>(id_len));
        w.bytes(id.data);
      }
      break;
    case PropKind::kTableIds:
      w.bytes(p.table_ids);
      break;
    case PropKind::kOxmIds:
      for (std::uint32_t h : p.oxm_ids) w.u32(h);
      break;
    case PropKind::kExperimenter:
      w.u32(p.experimenter);
      w.u32(p.exp_type);
      w.bytes(p.data);
      break;
    case PropKind::kOpaque:
      w.bytes(p.data);
      break;
  }
  if (Status st = patch_entry_len(w, start, start + 2, "table feature property"); !st.ok()) {
    return st;
  }
  w.pad_from(start, 8);  // the padding is not counted in the length
  return ok_status();
}

TableFeatures decode_table_features(Reader& e) {
  TableFeatures t;
  e.skip(2);
  t.table_id = e.u8();
  e.skip(5);
  t.name = e.fixed_string(kTableNameLen);
  t.metadata_match = e.u64();
  t.metadata_write = e.u64();
  t.config = e.u32();
  t.max_entries = e.u32();
  while (!e.empty() && e.ok()) t.properties.push_back(decode_feature_prop(e));
  return t;
}

Status encode_table_features(const TableFeatures& t, Writer& w) {
  const std::size_t start = w.pos();
  w.u16(0);
  w.u8(t.table_id);
  w.zeros(5);
  w.fixed_string(t.name, kTableNameLen);
  w.u64(t.metadata_match);
  w.u64(t.metadata_write);
  w.u32(t.config);
  w.u32(t.max_entries);
  for (const auto& p : t.properties) {
    if (Status st = encode_feature_prop(p, w); !st.ok()) return st;
  }
  return patch_entry_len(w, start, start, "table features entry");
}

// ---------------------------------------------------------------- EXPERIMENTER
ExperimenterMultipart decode_experimenter(Reader& r) {
  ExperimenterMultipart x;
  if (r.remaining() < kExperimenterFixed) {
    fail_len(r, "EXPERIMENTER multipart body shorter than experimenter and exp_type");
    return x;
  }
  x.experimenter = r.u32();
  x.exp_type = r.u32();
  x.data = r.rest_vector();
  return x;
}

void encode_experimenter(const ExperimenterMultipart& x, Writer& w) {
  w.u32(x.experimenter);
  w.u32(x.exp_type);
  w.bytes(x.data);
}

// ---------------------------------------------------------------- lists
// A list of entries with a u16 length at `len_at`, each at least `min_len`.
template <class T, class DecodeOne>
std::vector<T> decode_entry_list(Reader& r, std::size_t len_at, std::size_t min_len,
                                 const char* what, DecodeOne decode_one) {
  std::vector<T> out;
  while (!r.empty() && r.ok()) {
    std::optional<Reader> e = next_entry(r, len_at, min_len, what);
    if (!e) break;
    out.push_back(decode_one(*e));
  }
  return out;
}

template <class T, class EncodeOne>
Status encode_list(const std::vector<T>& items, Writer& w, EncodeOne encode_one) {
  for (const auto& item : items) {
    if (Status st = encode_one(item, w); !st.ok()) return st;
  }
  return ok_status();
}

std::vector<TableFeatures> decode_table_features_list(Reader& r) {
  return decode_entry_list<TableFeatures>(r, 0, kTableFeaturesFixed, "table features entry",
                                          decode_table_features);
}

// ---------------------------------------------------------------- request bodies
Status encode_request_body(const DescStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const FlowStatsRequest& b, Writer& w) {
  encode_flow_request(b, w);
  return ok_status();
}
Status encode_request_body(const AggregateStatsRequest& b, Writer& w) {
  encode_flow_request(b.filter, w);
  return ok_status();
}
Status encode_request_body(const TableStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const PortStatsRequest& b, Writer& w) {
  w.u32(b.port_no);
  w.zeros(4);
  return ok_status();
}
Status encode_request_body(const QueueStatsRequest& b, Writer& w) {
  w.u32(b.port_no);
  w.u32(b.queue_id);
  return ok_status();
}
Status encode_request_body(const GroupStatsRequest& b, Writer& w) {
  w.u32(b.group_id);
  w.zeros(4);
  return ok_status();
}
Status encode_request_body(const GroupDescStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const GroupFeaturesStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const MeterStatsRequest& b, Writer& w) {
  w.u32(b.meter_id);
  w.zeros(4);
  return ok_status();
}
Status encode_request_body(const MeterConfigRequest& b, Writer& w) {
  w.u32(b.meter_id);
  w.zeros(4);
  return ok_status();
}
Status encode_request_body(const MeterFeaturesStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const TableFeaturesStatsRequest& b, Writer& w) {
  return encode_list(b.tables, w, encode_table_features);
}
Status encode_request_body(const PortDescStatsRequest&, Writer&) { return ok_status(); }
Status encode_request_body(const ExperimenterMultipart& b, Writer& w) {
  encode_experimenter(b, w);
  return ok_status();
}

MultipartRequestBody decode_request_body(std::uint16_t type, Reader& r) {
  namespace mp = multipart_type;
  switch (type) {
    case mp::kDesc:
      expect_size(r, 0, "DESC request");
      return DescStatsRequest{};
    case mp::kFlow:
      return decode_flow_request(r, "FLOW request");
    case mp::kAggregate:
      return AggregateStatsRequest{decode_flow_request(r, "AGGREGATE request")};
    case mp::kTable:
      expect_size(r, 0, "TABLE request");
      return TableStatsRequest{};
    case mp::kPort: {
      PortStatsRequest b;
      if (!expect_size(r, kIdRequestLen, "PORT_STATS request")) return b;
      b.port_no = r.u32();
      r.skip(4);
      return b;
    }
    case mp::kQueue: {
      QueueStatsRequest b;
      if (!expect_size(r, kIdRequestLen, "QUEUE request")) return b;
      b.port_no = r.u32();
      b.queue_id = r.u32();
      return b;
    }
    case mp::kGroup: {
      GroupStatsRequest b;
      if (!expect_size(r, kIdRequestLen, "GROUP request")) return b;
      b.group_id = r.u32();
      r.skip(4);
      return b;
    }
    case mp::kGroupDesc:
      expect_size(r, 0, "GROUP_DESC request");
      return GroupDescStatsRequest{};
    case mp::kGroupFeatures:
      expect_size(r, 0, "GROUP_FEATURES request");
      return GroupFeaturesStatsRequest{};
    case mp::kMeter: {
      MeterStatsRequest b;
      if (!expect_size(r, kIdRequestLen, "METER request")) return b;
      b.meter_id = r.u32();
      r.skip(4);
      return b;
    }
    case mp::kMeterConfig: {
      MeterConfigRequest b;
      if (!expect_size(r, kIdRequestLen, "METER_CONFIG request")) return b;
      b.meter_id = r.u32();
      r.skip(4);
      return b;
    }
    case mp::kMeterFeatures:
      expect_size(r, 0, "METER_FEATURES request");
      return MeterFeaturesStatsRequest{};
    case mp::kTableFeatures:
      return TableFeaturesStatsRequest{decode_table_features_list(r)};
    case mp::kPortDesc:
      expect_size(r, 0, "PORT_DESC request");
      return PortDescStatsRequest{};
    case mp::kExperimenter:
      return decode_experimenter(r);
    default:
      break;
  }
  r.fail_at(r.offset() - kMultipartHeaderLen, error_type::kBadRequest, bad_request::kBadMultipart,
            "unknown multipart request type " + std::to_string(type));
  return DescStatsRequest{};
}

// ---------------------------------------------------------------- reply bodies
Status encode_reply_body(const DescStatsReply& b, Writer& w) {
  encode_desc(b.desc, w);
  return ok_status();
}
Status encode_reply_body(const FlowStatsReply& b, Writer& w) {
  return encode_list(b.flows, w, encode_flow_stats);
}
Status encode_reply_body(const AggregateStatsReply& b, Writer& w) {
  encode_aggregate(b.stats, w);
  return ok_status();
}
Status encode_reply_body(const TableStatsReply& b, Writer& w) {
  for (const auto& t : b.tables) encode_table_stats(t, w);
  return ok_status();
}
Status encode_reply_body(const PortStatsReply& b, Writer& w) {
  for (const auto& p : b.ports) encode_port_stats(p, w);
  return ok_status();
}
Status encode_reply_body(const QueueStatsReply& b, Writer& w) {
  for (const auto& q : b.queues) encode_queue_stats(q, w);
  return ok_status();
}
Status encode_reply_body(const GroupStatsReply& b, Writer& w) {
  return encode_list(b.groups, w, encode_group_stats);
}
Status encode_reply_body(const GroupDescStatsReply& b, Writer& w) {
  return encode_list(b.groups, w, encode_group_desc);
}
Status encode_reply_body(const GroupFeaturesStatsReply& b, Writer& w) {
  encode_group_features(b.features, w);
  return ok_status();
}
Status encode_reply_body(const MeterStatsReply& b, Writer& w) {
  return encode_list(b.meters, w, encode_meter_stats);
}
Status encode_reply_body(const MeterConfigStatsReply& b, Writer& w) {
  return encode_list(b.meters, w, encode_meter_config);
}
Status encode_reply_body(const MeterFeaturesStatsReply& b, Writer& w) {
  encode_meter_features(b.features, w);
  return ok_status();
}
Status encode_reply_body(const TableFeaturesStatsReply& b, Writer& w) {
  return encode_list(b.tables, w, encode_table_features);
}
Status encode_reply_body(const PortDescStatsReply& b, Writer& w) {
  for (const auto& p : b.ports) encode_port(p, w);
  return ok_status();
}
Status encode_reply_body(const ExperimenterMultipart& b, Writer& w) {
  encode_experimenter(b, w);
  return ok_status();
}

MultipartReplyBody decode_reply_body(std::uint16_t type, Reader& r) {
  namespace mp = multipart_type;
  switch (type) {
    case mp::kDesc:
      return DescStatsReply{decode_desc(r)};
    case mp::kFlow:
      return FlowStatsReply{
          decode_entry_list<FlowStats>(r, 0, kFlowStatsFixed + kMinMatchLen, "flow stats entry",
                                       decode_flow_stats)};
    case mp::kAggregate:
      return AggregateStatsReply{decode_aggregate(r)};
    case mp::kTable:
      return TableStatsReply{
          decode_fixed_list<TableStats>(r, kTableStatsLen, "table stats", decode_table_stats)};
    case mp::kPort:
      return PortStatsReply{
          decode_fixed_list<PortStats>(r, kPortStatsLen, "port stats", decode_port_stats)};
    case mp::kQueue:
      return QueueStatsReply{
          decode_fixed_list<QueueStats>(r, kQueueStatsLen, "queue stats", decode_queue_stats)};
    case mp::kGroup:
      return GroupStatsReply{decode_entry_list<GroupStats>(r, 0, kGroupStatsFixed,
                                                           "group stats entry", decode_group_stats)};
    case mp::kGroupDesc:
      return GroupDescStatsReply{decode_entry_list<GroupDesc>(
          r, 0, kGroupDescFixed, "group desc entry", decode_group_desc)};
    case mp::kGroupFeatures:
      return GroupFeaturesStatsReply{decode_group_features(r)};
    case mp::kMeter:
      return MeterStatsReply{decode_entry_list<MeterStats>(
          r, kMeterStatsLenAt, kMeterStatsFixed, "meter stats entry", decode_meter_stats)};
    case mp::kMeterConfig:
      return MeterConfigStatsReply{decode_entry_list<MeterConfig>(
          r, 0, kMeterConfigFixed, "meter config entry", decode_meter_config)};
    case mp::kMeterFeatures:
      return MeterFeaturesStatsReply{decode_meter_features(r)};
    case mp::kTableFeatures:
      return TableFeaturesStatsReply{decode_table_features_list(r)};
    case mp::kPortDesc:
      return PortDescStatsReply{
          decode_fixed_list<Port>(r, kPortLen, "port description", decode_port)};
    case mp::kExperimenter:
      return decode_experimenter(r);
    default:
      break;
  }
  r.fail_at(r.offset() - kMultipartHeaderLen, error_type::kBadRequest, bad_request::kBadMultipart,
            "unknown multipart reply type " + std::to_string(type));
  return DescStatsReply{};
}

}  // namespace

MultipartRequest decode_multipart_request(Reader& r) {
  MultipartRequest m;
  const std::uint16_t type = r.u16();
  m.flags = r.u16();
  r.skip(4);
  if (!r.ok()) return m;
  m.body = decode_request_body(type, r);
  return m;
}

Status encode_multipart_request(const MultipartRequest& m, Writer& w) {
  w.u16(multipart_type_of(m.body));
  w.u16(m.flags);
  w.zeros(4);
  return std::visit([&w](const auto& body) { return encode_request_body(body, w); }, m.body);
}

MultipartReply decode_multipart_reply(Reader& r) {
  MultipartReply m;
  const std::uint16_t type = r.u16();
  m.flags = r.u16();
  r.skip(4);
  if (!r.ok()) return m;
  m.body = decode_reply_body(type, r);
  return m;
}

Status encode_multipart_reply(const MultipartReply& m, Writer& w) {
  w.u16(multipart_type_of(m.body));
  w.u16(m.flags);
  w.zeros(4);
  return std::visit([&w](const auto& body) { return encode_reply_body(body, w); }, m.body);
}

}  // namespace tapflow::openflow::of13
