// The version-neutral OpenFlow message model. One struct per message; a
// Message is a header (version, xid) plus one of them. Fields that exist in only
// one version are documented as such and ignored by the other version's codec.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tapflow/openflow/action.hpp"
#include "tapflow/openflow/constants.hpp"
#include "tapflow/openflow/match.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow {

// ---------------------------------------------------------------- symmetric
// A HELLO element. Type 1 (VERSIONBITMAP) carries `bitmaps`; other types keep
// their payload in `data`.
struct HelloElement {
  static constexpr std::uint16_t kVersionBitmap = 1;
  std::uint16_t type = kVersionBitmap;
  std::vector<std::uint32_t> bitmaps;
  Bytes data;
  friend bool operator==(const HelloElement&, const HelloElement&) = default;
};
struct Hello {
  std::vector<HelloElement> elements;
  friend bool operator==(const Hello&, const Hello&) = default;
};

// OFPT_ERROR. `type`/`code` are as on the wire of the message's version. For
// type 0xffff (1.3 experimenter error) `code` holds exp_type and `experimenter`
// the id. `data` is opaque (usually the start of the offending request).
struct Error {
  std::uint16_t type = 0;
  std::uint16_t code = 0;
  std::uint32_t experimenter = 0;
  Bytes data;
  friend bool operator==(const Error&, const Error&) = default;
};

struct EchoRequest {
  Bytes data;
  friend bool operator==(const EchoRequest&, const EchoRequest&) = default;
};
struct EchoReply {
  Bytes data;
  friend bool operator==(const EchoReply&, const EchoReply&) = default;
};

// OFPT_EXPERIMENTER (1.3) / OFPT_VENDOR (1.0). 1.0 has no exp_type: it is 0 and
// `data` is everything after the vendor id.
struct Experimenter {
  std::uint32_t experimenter = 0;
  std::uint32_t exp_type = 0;
  Bytes data;
  friend bool operator==(const Experimenter&, const Experimenter&) = default;
};

// ---------------------------------------------------------------- switch config
// A switch port: OF1.0 ofp_phy_port or OF1.3 ofp_port. Port numbers are 1.3
// numbering. curr_speed/max_speed are 1.3 only.
struct Port {
  std::uint32_t port_no = 0;
  MacAddress hw_addr;
  std::string name;  // at most 15 characters on the wire (16 bytes, NUL-terminated)
  std::uint32_t config = 0;
  std::uint32_t state = 0;
  std::uint32_t curr = 0;
  std::uint32_t advertised = 0;
  std::uint32_t supported = 0;
  std::uint32_t peer = 0;
  std::uint32_t curr_speed = 0;
  std::uint32_t max_speed = 0;
  friend bool operator==(const Port&, const Port&) = default;
};

struct FeaturesRequest {
  friend bool operator==(const FeaturesRequest&, const FeaturesRequest&) = default;
};
struct FeaturesReply {
  std::uint64_t datapath_id = 0;
  std::uint32_t n_buffers = 0;
  std::uint8_t n_tables = 0;
  std::uint8_t auxiliary_id = 0;  // 1.3 only
  std::uint32_t capabilities = 0;
  std::uint32_t reserved = 0;     // 1.3 only
  std::uint32_t actions = 0;      // 1.0 only: supported action bitmap
  std::vector<Port> ports;        // 1.0 only (1.3: PORT_DESC multipart)
  friend bool operator==(const FeaturesReply&, const FeaturesReply&) = default;
};

struct GetConfigRequest {
  friend bool operator==(const GetConfigRequest&, const GetConfigRequest&) = default;
};
struct GetConfigReply {
  std::uint16_t flags = 0;
  std::uint16_t miss_send_len = 0;
  friend bool operator==(const GetConfigReply&, const GetConfigReply&) = default;
};
struct SetConfig {
  std::uint16_t flags = 0;
  std::uint16_t miss_send_len = kControllerMaxLenNoBuffer;
  friend bool operator==(const SetConfig&, const SetConfig&) = default;
};

// ---------------------------------------------------------------- async
// OFPT_PACKET_IN. In 1.3 the ingress port travels in `match` (OXM in_port);
// the decoder also copies it to `in_port`. The 1.3 encoder adds an in_port
// field from `in_port` if the match has none and in_port is not 0 (no port). table_id, cookie and match are
// 1.3 only.
struct PacketIn {
  std::uint32_t buffer_id = kNoBuffer;
  std::uint16_t total_len = 0;
  std::uint32_t in_port = 0;
  std::uint8_t reason = 0;
  std::uint8_t table_id = 0;
  std::uint64_t cookie = 0;
  Match match;
  Bytes data;
  friend bool operator==(const PacketIn&, const PacketIn&) = default;
};

struct FlowRemoved {
  std::uint64_t cookie = 0;
  std::uint16_t priority = 0;
  std::uint8_t reason = 0;
  std::uint8_t table_id = 0;  // 1.3 only
  std::uint32_t duration_sec = 0;
  std::uint32_t duration_nsec = 0;
  std::uint16_t idle_timeout = 0;
  std::uint16_t hard_timeout = 0;  // 1.3 only
  std::uint64_t packet_count = 0;
  std::uint64_t byte_count = 0;
  Match match;
  friend bool operator==(const FlowRemoved&, const FlowRemoved&) = default;
};

struct PortStatus {
  std::uint8_t reason = 0;
  Port desc;
  friend bool operator==(const PortStatus&, const PortStatus&) = default;
};

// ---------------------------------------------------------------- controller commands
struct PacketOut {
  std::uint32_t buffer_id = kNoBuffer;
  std::uint32_t in_port = port::kController;
  ActionList actions;
  Bytes data;
  friend bool operator==(const PacketOut&, const PacketOut&) = default;
};

// OFPT_FLOW_MOD. OpenFlow 1.0 carries actions, not instructions: its codec
// reads them into a single ApplyActions instruction (none for an empty list)
// and can only write instruction lists of that shape.
struct FlowMod {
  std::uint64_t cookie = 0;
  std::uint64_t cookie_mask = 0;  // 1.3 only
  std::uint8_t table_id = 0;      // 1.3 only
  std::uint8_t command = flow_mod_command::kAdd;
  std::uint16_t idle_timeout = 0;
  std::uint16_t hard_timeout = 0;
  std::uint16_t priority = 0x8000;
  std::uint32_t buffer_id = kNoBuffer;
  std::uint32_t out_port = port::kAny;
  std::uint32_t out_group = kGroupAny;  // 1.3 only
  std::uint16_t flags = 0;
  Match match;
  InstructionList instructions;
  friend bool operator==(const FlowMod&, const FlowMod&) = default;
};

struct Bucket {
  std::uint16_t weight = 0;
  std::uint32_t watch_port = port::kAny;
  std::uint32_t watch_group = kGroupAny;
  ActionList actions;
  friend bool operator==(const Bucket&, const Bucket&) = default;
};
struct GroupMod {  // 1.3 only
  std::uint16_t command = group_mod_command::kAdd;
  std::uint8_t type = group_type::kIndirect;
  std::uint32_t group_id = 0;
  std::vector<Bucket> buckets;
  friend bool operator==(const GroupMod&, const GroupMod&) = default;
};

struct PortMod {
  std::uint32_t port_no = 0;
  MacAddress hw_addr;
  std::uint32_t config = 0;
  std::uint32_t mask = 0;
  std::uint32_t advertise = 0;
  friend bool operator==(const PortMod&, const PortMod&) = default;
};

struct TableMod {  // 1.3 only
  std::uint8_t table_id = 0;
  std::uint32_t config = 0;
  friend bool operator==(const TableMod&, const TableMod&) = default;
};

// A meter band. DROP uses rate/burst_size; DSCP_REMARK adds prec_level;
// EXPERIMENTER adds experimenter and opaque `data` after it.
struct MeterBand {
  std::uint16_t type = meter_band_type::kDrop;
  std::uint32_t rate = 0;
  std::uint32_t burst_size = 0;
  std::uint8_t prec_level = 0;
  std::uint32_t experimenter = 0;
  Bytes data;
  friend bool operator==(const MeterBand&, const MeterBand&) = default;
};
struct MeterMod {  // 1.3 only
  std::uint16_t command = meter_mod_command::kAdd;
  std::uint16_t flags = 0;
  std::uint32_t meter_id = 0;
  std::vector<MeterBand> bands;
  friend bool operator==(const MeterMod&, const MeterMod&) = default;
};

struct BarrierRequest {
  friend bool operator==(const BarrierRequest&, const BarrierRequest&) = default;
};
struct BarrierReply {
  friend bool operator==(const BarrierReply&, const BarrierReply&) = default;
};

// ---------------------------------------------------------------- queues
// A queue property: MIN_RATE (1) / MAX_RATE (2) use `rate`; EXPERIMENTER
// (0xffff) uses experimenter + data; others keep their payload in `data`.
struct QueueProperty {
  std::uint16_t property = 0;
  std::uint16_t rate = 0;
  std::uint32_t experimenter = 0;
  Bytes data;
  friend bool operator==(const QueueProperty&, const QueueProperty&) = default;
};
struct PacketQueue {
  std::uint32_t queue_id = 0;
  std::uint32_t port = 0;  // 1.3 only
  std::vector<QueueProperty> properties;
  friend bool operator==(const PacketQueue&, const PacketQueue&) = default;
};
struct QueueGetConfigRequest {
  std::uint32_t port = port::kAny;
  friend bool operator==(const QueueGetConfigRequest&, const QueueGetConfigRequest&) = default;
};
struct QueueGetConfigReply {
  std::uint32_t port = 0;
  std::vector<PacketQueue> queues;
  friend bool operator==(const QueueGetConfigReply&, const QueueGetConfigReply&) = default;
};

// ---------------------------------------------------------------- roles, async config (1.3)
struct RoleRequest {
  std::uint32_t role = controller_role::kNoChange;
  std::uint64_t generation_id = 0;
  friend bool operator==(const RoleRequest&, const RoleRequest&) = default;
};
struct RoleReply {
  std::uint32_t role = 0;
  std::uint64_t generation_id = 0;
  friend bool operator==(const RoleReply&, const RoleReply&) = default;
};
// Masks as in ofp_async_config: [0] for master/equal, [1] for slave.
struct AsyncConfig {
  std::array<std::uint32_t, 2> packet_in_mask{};
  std::array<std::uint32_t, 2> port_status_mask{};
  std::array<std::uint32_t, 2> flow_removed_mask{};
  friend bool operator==(const AsyncConfig&, const AsyncConfig&) = default;
};
struct GetAsyncRequest {
  friend bool operator==(const GetAsyncRequest&, const GetAsyncRequest&) = default;
};
struct GetAsyncReply {
  AsyncConfig config;
  friend bool operator==(const GetAsyncReply&, const GetAsyncReply&) = default;
};
struct SetAsync {
  AsyncConfig config;
  friend bool operator==(const SetAsync&, const SetAsync&) = default;
};

// ---------------------------------------------------------------- bundles
// OpenFlow 1.4 bundles, sent on 1.3 as the ONF extension (experimenter
// 0x4f4e4600, exp_type 2300/2301) that Open vSwitch accepts.
namespace bundle_ctrl_type {
inline constexpr std::uint16_t kOpenRequest = 0, kOpenReply = 1, kCloseRequest = 2,
                               kCloseReply = 3, kCommitRequest = 4, kCommitReply = 5,
                               kDiscardRequest = 6, kDiscardReply = 7;
}
namespace bundle_flags {
inline constexpr std::uint16_t kAtomic = 1, kOrdered = 2;
}
struct BundleControl {
  std::uint32_t bundle_id = 0;
  std::uint16_t type = bundle_ctrl_type::kOpenRequest;
  std::uint16_t flags = 0;
  Bytes properties;  // opaque bundle property TLVs
  friend bool operator==(const BundleControl&, const BundleControl&) = default;
};
struct BundleAddMessage {
  std::uint32_t bundle_id = 0;
  std::uint16_t flags = 0;
  Bytes message;     // one complete encoded OpenFlow message (its own header)
  Bytes properties;  // opaque, after the message padded to 8 bytes
  friend bool operator==(const BundleAddMessage&, const BundleAddMessage&) = default;
};

// ---------------------------------------------------------------- multipart / stats
struct DescStats {
  std::string mfr_desc, hw_desc, sw_desc, serial_num, dp_desc;
  friend bool operator==(const DescStats&, const DescStats&) = default;
};

struct FlowStatsRequest {
  std::uint8_t table_id = kTableAll;
  std::uint32_t out_port = port::kAny;
  std::uint32_t out_group = kGroupAny;  // 1.3 only
  std::uint64_t cookie = 0;             // 1.3 only
  std::uint64_t cookie_mask = 0;        // 1.3 only
  Match match;
  friend bool operator==(const FlowStatsRequest&, const FlowStatsRequest&) = default;
};
struct FlowStats {
  std::uint8_t table_id = 0;
  std::uint32_t duration_sec = 0;
  std::uint32_t duration_nsec = 0;
  std::uint16_t priority = 0;
  std::uint16_t idle_timeout = 0;
  std::uint16_t hard_timeout = 0;
  std::uint16_t flags = 0;  // 1.3 only
  std::uint64_t cookie = 0;
  std::uint64_t packet_count = 0;
  std::uint64_t byte_count = 0;
  Match match;
  InstructionList instructions;  // 1.0: one ApplyActions (see FlowMod)
  friend bool operator==(const FlowStats&, const FlowStats&) = default;
};
struct AggregateStatsRequest {
  FlowStatsRequest filter;
  friend bool operator==(const AggregateStatsRequest&, const AggregateStatsRequest&) = default;
};
struct AggregateStats {
  std::uint64_t packet_count = 0;
  std::uint64_t byte_count = 0;
  std::uint32_t flow_count = 0;
  friend bool operator==(const AggregateStats&, const AggregateStats&) = default;
};
struct TableStats {
  std::uint8_t table_id = 0;
  std::string name;                 // 1.0 only
  std::uint32_t wildcards = 0;      // 1.0 only
  std::uint32_t max_entries = 0;    // 1.0 only
  std::uint32_t active_count = 0;
  std::uint64_t lookup_count = 0;
  std::uint64_t matched_count = 0;
  friend bool operator==(const TableStats&, const TableStats&) = default;
};
struct PortStatsRequest {
  std::uint32_t port_no = port::kAny;
  friend bool operator==(const PortStatsRequest&, const PortStatsRequest&) = default;
};
struct PortStats {
  std::uint32_t port_no = 0;
  std::uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  std::uint64_t rx_dropped = 0, tx_dropped = 0, rx_errors = 0, tx_errors = 0;
  std::uint64_t rx_frame_err = 0, rx_over_err = 0, rx_crc_err = 0, collisions = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3 only
  friend bool operator==(const PortStats&, const PortStats&) = default;
};
struct QueueStatsRequest {
  std::uint32_t port_no = port::kAny;
  std::uint32_t queue_id = 0xffffffff;  // OFPQ_ALL
  friend bool operator==(const QueueStatsRequest&, const QueueStatsRequest&) = default;
};
struct QueueStats {
  std::uint32_t port_no = 0;
  std::uint32_t queue_id = 0;
  std::uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3 only
  friend bool operator==(const QueueStats&, const QueueStats&) = default;
};
struct GroupStatsRequest {
  std::uint32_t group_id = kGroupAll;
  friend bool operator==(const GroupStatsRequest&, const GroupStatsRequest&) = default;
};
struct BucketCounter {
  std::uint64_t packet_count = 0, byte_count = 0;
  friend bool operator==(const BucketCounter&, const BucketCounter&) = default;
};
struct GroupStats {
  std::uint32_t group_id = 0;
  std::uint32_t ref_count = 0;
  std::uint64_t packet_count = 0, byte_count = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;
  std::vector<BucketCounter> bucket_stats;
  friend bool operator==(const GroupStats&, const GroupStats&) = default;
};
struct GroupDesc {
  std::uint8_t type = 0;
  std::uint32_t group_id = 0;
  std::vector<Bucket> buckets;
  friend bool operator==(const GroupDesc&, const GroupDesc&) = default;
};
struct GroupFeatures {
  std::uint32_t types = 0;
  std::uint32_t capabilities = 0;
  std::array<std::uint32_t, 4> max_groups{};
  std::array<std::uint32_t, 4> actions{};
  friend bool operator==(const GroupFeatures&, const GroupFeatures&) = default;
};
struct MeterStatsRequest {
  std::uint32_t meter_id = 0xffffffff;  // OFPM_ALL
  friend bool operator==(const MeterStatsRequest&, const MeterStatsRequest&) = default;
};
struct MeterBandStats {
  std::uint64_t packet_band_count = 0, byte_band_count = 0;
  friend bool operator==(const MeterBandStats&, const MeterBandStats&) = default;
};
struct MeterStats {
  std::uint32_t meter_id = 0;
  std::uint32_t flow_count = 0;
  std::uint64_t packet_in_count = 0, byte_in_count = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;
  std::vector<MeterBandStats> band_stats;
  friend bool operator==(const MeterStats&, const MeterStats&) = default;
};
struct MeterConfigRequest {
  std::uint32_t meter_id = 0xffffffff;
  friend bool operator==(const MeterConfigRequest&, const MeterConfigRequest&) = default;
};
struct MeterConfig {
  std::uint16_t flags = 0;
  std::uint32_t meter_id = 0;
  std::vector<MeterBand> bands;
  friend bool operator==(const MeterConfig&, const MeterConfig&) = default;
};
struct MeterFeatures {
  std::uint32_t max_meter = 0, band_types = 0, capabilities = 0;
  std::uint8_t max_bands = 0, max_color = 0;
  friend bool operator==(const MeterFeatures&, const MeterFeatures&) = default;
};

// Table feature properties (OFPTFPT_*). Which member is used depends on type:
//   INSTRUCTIONS(_MISS) 0/1, WRITE_ACTIONS(_MISS) 4/5, APPLY_ACTIONS(_MISS) 6/7:
//       `ids` (instruction or action ids: type + any extra bytes, e.g. experimenter id)
//   NEXT_TABLES(_MISS) 2/3: `table_ids`
//   MATCH 8, WILDCARDS 10, WRITE_SETFIELD(_MISS) 12/13, APPLY_SETFIELD(_MISS) 14/15:
//       `oxm_ids` (OXM headers; an experimenter-class header is followed by its id
//       as a second entry)
//   EXPERIMENTER(_MISS) 0xfffe/0xffff: experimenter, exp_type, `data`
//   any other type (undefined in 1.3): its whole payload in `data`, so it round-trips
struct TableFeatureId {
  std::uint16_t type = 0;
  Bytes data;  // bytes after type+len in the id TLV
  friend bool operator==(const TableFeatureId&, const TableFeatureId&) = default;
};
struct TableFeatureProp {
  std::uint16_t type = 0;
  std::vector<TableFeatureId> ids;
  std::vector<std::uint8_t> table_ids;
  std::vector<std::uint32_t> oxm_ids;
  std::uint32_t experimenter = 0;
  std::uint32_t exp_type = 0;
  Bytes data;
  friend bool operator==(const TableFeatureProp&, const TableFeatureProp&) = default;
};
struct TableFeatures {
  std::uint8_t table_id = 0;
  std::string name;
  std::uint64_t metadata_match = 0;
  std::uint64_t metadata_write = 0;
  std::uint32_t config = 0;
  std::uint32_t max_entries = 0;
  std::vector<TableFeatureProp> properties;
  friend bool operator==(const TableFeatures&, const TableFeatures&) = default;
};

struct ExperimenterMultipart {
  std::uint32_t experimenter = 0;
  std::uint32_t exp_type = 0;  // 1.3 only (1.0 vendor stats: all in data)
  Bytes data;
  friend bool operator==(const ExperimenterMultipart&, const ExperimenterMultipart&) = default;
};

// Request bodies. Empty requests are tagged structs.
struct DescStatsRequest {
  friend bool operator==(const DescStatsRequest&, const DescStatsRequest&) = default;
};
struct TableStatsRequest {
  friend bool operator==(const TableStatsRequest&, const TableStatsRequest&) = default;
};
struct GroupDescStatsRequest {
  friend bool operator==(const GroupDescStatsRequest&, const GroupDescStatsRequest&) = default;
};
struct GroupFeaturesStatsRequest {
  friend bool operator==(const GroupFeaturesStatsRequest&,
                         const GroupFeaturesStatsRequest&) = default;
};
struct MeterFeaturesStatsRequest {
  friend bool operator==(const MeterFeaturesStatsRequest&,
                         const MeterFeaturesStatsRequest&) = default;
};
struct PortDescStatsRequest {
  friend bool operator==(const PortDescStatsRequest&, const PortDescStatsRequest&) = default;
};
struct TableFeaturesStatsRequest {
  std::vector<TableFeatures> tables;  // empty: just read the features
  friend bool operator==(const TableFeaturesStatsRequest&,
                         const TableFeaturesStatsRequest&) = default;
};

using MultipartRequestBody =
    std::variant<DescStatsRequest, FlowStatsRequest, AggregateStatsRequest, TableStatsRequest,
                 PortStatsRequest, QueueStatsRequest, GroupStatsRequest, GroupDescStatsRequest,
                 GroupFeaturesStatsRequest, MeterStatsRequest, MeterConfigRequest,
                 MeterFeaturesStatsRequest, TableFeaturesStatsRequest, PortDescStatsRequest,
                 ExperimenterMultipart>;

// Reply bodies: one struct per multipart type.
struct DescStatsReply {
  DescStats desc;
  friend bool operator==(const DescStatsReply&, const DescStatsReply&) = default;
};
struct FlowStatsReply {
  std::vector<FlowStats> flows;
  friend bool operator==(const FlowStatsReply&, const FlowStatsReply&) = default;
};
struct AggregateStatsReply {
  AggregateStats stats;
  friend bool operator==(const AggregateStatsReply&, const AggregateStatsReply&) = default;
};
struct TableStatsReply {
  std::vector<TableStats> tables;
  friend bool operator==(const TableStatsReply&, const TableStatsReply&) = default;
};
struct PortStatsReply {
  std::vector<PortStats> ports;
  friend bool operator==(const PortStatsReply&, const PortStatsReply&) = default;
};
struct QueueStatsReply {
  std::vector<QueueStats> queues;
  friend bool operator==(const QueueStatsReply&, const QueueStatsReply&) = default;
};
struct GroupStatsReply {
  std::vector<GroupStats> groups;
  friend bool operator==(const GroupStatsReply&, const GroupStatsReply&) = default;
};
struct GroupDescStatsReply {
  std::vector<GroupDesc> groups;
  friend bool operator==(const GroupDescStatsReply&, const GroupDescStatsReply&) = default;
};
struct GroupFeaturesStatsReply {
  GroupFeatures features;
  friend bool operator==(const GroupFeaturesStatsReply&, const GroupFeaturesStatsReply&) = default;
};
struct MeterStatsReply {
  std::vector<MeterStats> meters;
  friend bool operator==(const MeterStatsReply&, const MeterStatsReply&) = default;
};
struct MeterConfigStatsReply {
  std::vector<MeterConfig> meters;
  friend bool operator==(const MeterConfigStatsReply&, const MeterConfigStatsReply&) = default;
};
struct MeterFeaturesStatsReply {
  MeterFeatures features;
  friend bool operator==(const MeterFeaturesStatsReply&, const MeterFeaturesStatsReply&) = default;
};
struct TableFeaturesStatsReply {
  std::vector<TableFeatures> tables;
  friend bool operator==(const TableFeaturesStatsReply&, const TableFeaturesStatsReply&) = default;
};
struct PortDescStatsReply {
  std::vector<Port> ports;
  friend bool operator==(const PortDescStatsReply&, const PortDescStatsReply&) = default;
};

using MultipartReplyBody =
    std::variant<DescStatsReply, FlowStatsReply, AggregateStatsReply, TableStatsReply,
                 PortStatsReply, QueueStatsReply, GroupStatsReply, GroupDescStatsReply,
                 GroupFeaturesStatsReply, MeterStatsReply, MeterConfigStatsReply,
                 MeterFeaturesStatsReply, TableFeaturesStatsReply, PortDescStatsReply,
                 ExperimenterMultipart>;

// OFPT_MULTIPART_REQUEST (1.3) / OFPT_STATS_REQUEST (1.0).
struct MultipartRequest {
  std::uint16_t flags = 0;
  MultipartRequestBody body;
  friend bool operator==(const MultipartRequest&, const MultipartRequest&) = default;
};
struct MultipartReply {
  std::uint16_t flags = 0;  // multipart_flags::kMore: more parts follow with this xid
  MultipartReplyBody body;
  friend bool operator==(const MultipartReply&, const MultipartReply&) = default;
};

// ---------------------------------------------------------------- the message
using MessageBody =
    std::variant<Hello, Error, EchoRequest, EchoReply, Experimenter, FeaturesRequest,
                 FeaturesReply, GetConfigRequest, GetConfigReply, SetConfig, PacketIn,
                 FlowRemoved, PortStatus, PacketOut, FlowMod, GroupMod, PortMod, TableMod,
                 MultipartRequest, MultipartReply, BarrierRequest, BarrierReply,
                 QueueGetConfigRequest, QueueGetConfigReply, RoleRequest, RoleReply,
                 GetAsyncRequest, GetAsyncReply, SetAsync, MeterMod, BundleControl,
                 BundleAddMessage>;

struct Message {
  std::uint8_t version = kVersion13;
  std::uint32_t xid = 0;
  MessageBody body;
  friend bool operator==(const Message&, const Message&) = default;
};

// The message's type name as OpenFlow spells it without the OFPT_ prefix:
// "HELLO", "FLOW_MOD", "MULTIPART_REQUEST", "BUNDLE_CONTROL", ...
const char* type_name(const MessageBody& body);
// The multipart type number (multipart_type::k*) of a request or reply body.
std::uint16_t multipart_type_of(const MultipartRequestBody& body);
std::uint16_t multipart_type_of(const MultipartReplyBody& body);

}  // namespace tapflow::openflow
