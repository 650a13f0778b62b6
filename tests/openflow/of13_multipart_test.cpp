// OpenFlow 1.3 multipart (stats) request and reply bodies: every type, both
// directions, and the malformed lists a switch or controller may send.
//
// The hex below is whole messages (header, ofp_multipart_request/reply header,
// body). The helpers run the multipart body codec directly, exactly as the
// top-level codec does (body after the 8-byte header; leftovers are BAD_LEN),
// so these tests do not depend on the message dispatcher; a few tests at the
// end go through the public decode()/encode().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_util.hpp"
#include "version_codecs.hpp"

namespace tapflow::openflow {
namespace {

using testing::hex;

constexpr std::uint8_t kRequestType = 18;  // OFPT_MULTIPART_REQUEST
constexpr std::uint8_t kReplyType = 19;    // OFPT_MULTIPART_REPLY

void check_header(const Bytes& wire, std::uint8_t type) {
  ASSERT_GE(wire.size(), 8u);
  EXPECT_EQ(wire[0], kVersion13);
  EXPECT_EQ(wire[1], type);
  EXPECT_EQ(std::size_t{wire[2]} << 8 | wire[3], wire.size()) << "test hex length field is wrong";
}

// Decodes the body of `wire` like the top-level codec does: an error, or
// leftovers, are returned as the error.
template <class M, class Decode>
std::optional<OfError> decode_body(const Bytes& wire, Decode decode, M& out) {
  wire::DecodeState state;
  wire::Reader r(std::span<const std::uint8_t>(wire).subspan(8), state, 8);
  out = decode(r);
  if (state.error) return state.error;
  if (!r.empty()) return OfError{error_type::kBadRequest, bad_request::kBadLen, "leftovers",
                                 r.offset()};
  return std::nullopt;
}

template <class M, class Decode, class Encode>
M roundtrip(const Bytes& wire, std::uint8_t type, Decode decode, Encode encode) {
  check_header(wire, type);
  M m;
  auto err = decode_body(wire, decode, m);
  EXPECT_FALSE(err.has_value()) << (err ? describe(*err) : "");
  if (err) return m;
  Bytes out(wire.begin(), wire.begin() + 8);
  wire::Writer w(out);
  Status st = encode(m, w);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : describe(st.error()));
  EXPECT_EQ(to_hex(out.data(), out.size()), to_hex(wire.data(), wire.size()));
  return m;
}

MultipartRequest request_roundtrip(const Bytes& wire) {
  return roundtrip<MultipartRequest>(wire, kRequestType, of13::decode_multipart_request,
                                     of13::encode_multipart_request);
}
MultipartReply reply_roundtrip(const Bytes& wire) {
  return roundtrip<MultipartReply>(wire, kReplyType, of13::decode_multipart_reply,
                                   of13::encode_multipart_reply);
}

template <class M, class Decode>
OfError expect_error(const Bytes& wire, std::uint8_t type, Decode decode, std::uint16_t err_type,
                     std::uint16_t err_code) {
  check_header(wire, type);
  M m;
  auto err = decode_body(wire, decode, m);
  EXPECT_TRUE(err.has_value()) << "decoded although malformed";
  if (!err) return {};
  EXPECT_EQ(err->type, err_type) << describe(*err);
  EXPECT_EQ(err->code, err_code) << describe(*err);
  return *err;
}
OfError request_error(const Bytes& wire, std::uint16_t type, std::uint16_t code) {
  return expect_error<MultipartRequest>(wire, kRequestType, of13::decode_multipart_request, type,
                                        code);
}
OfError reply_error(const Bytes& wire, std::uint16_t type, std::uint16_t code) {
  return expect_error<MultipartReply>(wire, kReplyType, of13::decode_multipart_reply, type, code);
}
OfError request_bad_len(const Bytes& wire) {
  return request_error(wire, error_type::kBadRequest, bad_request::kBadLen);
}
OfError reply_bad_len(const Bytes& wire) {
  return reply_error(wire, error_type::kBadRequest, bad_request::kBadLen);
}
OfError reply_bad_prop_len(const Bytes& wire) {
  return reply_error(wire, error_type::kTableFeaturesFailed, table_features_failed::kBadLen);
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A NUL-padded fixed string field.
Bytes text_field(std::string_view s, std::size_t n) {
  Bytes b(s.begin(), s.end());
  b.resize(n, 0);
  return b;
}

// ================================================================ requests

TEST(Of13MultipartRequest, Desc) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0010 00000001   # MULTIPART_REQUEST, len 16
    0000 0000 00000000    # type DESC, flags 0, pad
  )"));
  EXPECT_TRUE(std::holds_alternative<DescStatsRequest>(m.body));
  EXPECT_EQ(m.flags, 0);
}

TEST(Of13MultipartRequest, FlowWithEmptyMatch) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0038 00000002   # MULTIPART_REQUEST, len 56
    0001 0000 00000000    # type FLOW, flags 0, pad
    01 000000             # table_id 1, pad
    00000005              # out_port 5
    00000007              # out_group 7
    00000000              # pad
    0102030405060708      # cookie
    ffffffff00000000      # cookie_mask
    0001 0004 00000000    # match: OXM, len 4 (no fields), pad to 8
  )"));
  const auto& f = std::get<FlowStatsRequest>(m.body);
  EXPECT_EQ(f.table_id, 1);
  EXPECT_EQ(f.out_port, 5u);
  EXPECT_EQ(f.out_group, 7u);
  EXPECT_EQ(f.cookie, 0x0102030405060708u);
  EXPECT_EQ(f.cookie_mask, 0xffffffff00000000u);
  EXPECT_TRUE(f.match.empty());
}

TEST(Of13MultipartRequest, AggregateWithInPortMatch) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0040 00000003   # MULTIPART_REQUEST, len 64
    0002 0000 00000000    # type AGGREGATE
    ff 000000             # table_id ALL
    ffffffff ffffffff     # out_port ANY, out_group ANY
    00000000              # pad
    0000000000000000      # cookie
    0000000000000000      # cookie_mask
    0001 000c             # match: OXM, len 12
    80000004 00000003     #   in_port = 3
    00000000              #   pad to 16
  )"));
  const auto& a = std::get<AggregateStatsRequest>(m.body);
  EXPECT_EQ(a.filter.table_id, kTableAll);
  EXPECT_EQ(a.filter.out_port, port::kAny);
  ASSERT_EQ(a.filter.match.fields.size(), 1u);
}

TEST(Of13MultipartRequest, EmptyBodies) {
  struct Case {
    std::uint16_t type;
    std::size_t index;
  };
  for (Case c : {Case{3, 3}, Case{7, 7}, Case{8, 8}, Case{11, 11}, Case{13, 13}}) {
    SCOPED_TRACE(c.type);
    Bytes wire = hex("04 12 0010 00000004  0000 0000 00000000");
    wire[9] = static_cast<std::uint8_t>(c.type);  // multipart type
    MultipartRequest m = request_roundtrip(wire);
    EXPECT_EQ(m.body.index(), c.index);
    EXPECT_EQ(multipart_type_of(m.body), c.type);
  }
}

TEST(Of13MultipartRequest, PortStats) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0018 00000005   # len 24
    0004 0000 00000000    # type PORT_STATS
    fffffffe 00000000     # port_no LOCAL, pad
  )"));
  EXPECT_EQ(std::get<PortStatsRequest>(m.body).port_no, port::kLocal);
}

TEST(Of13MultipartRequest, Queue) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0018 00000006
    0005 0000 00000000    # type QUEUE
    00000002 00000009     # port_no 2, queue_id 9
  )"));
  const auto& q = std::get<QueueStatsRequest>(m.body);
  EXPECT_EQ(q.port_no, 2u);
  EXPECT_EQ(q.queue_id, 9u);
}

TEST(Of13MultipartRequest, Group) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0018 00000007
    0006 0000 00000000    # type GROUP
    fffffffc 00000000     # group_id ALL, pad
  )"));
  EXPECT_EQ(std::get<GroupStatsRequest>(m.body).group_id, kGroupAll);
}

TEST(Of13MultipartRequest, MeterAndMeterConfig) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 0018 00000008
    0009 0000 00000000    # type METER
    00000064 00000000     # meter_id 100, pad
  )"));
  EXPECT_EQ(std::get<MeterStatsRequest>(m.body).meter_id, 100u);
  MultipartRequest c = request_roundtrip(hex(R"(
    04 12 0018 00000009
    000a 0000 00000000    # type METER_CONFIG
    ffffffff 00000000     # meter_id ALL, pad
  )"));
  EXPECT_EQ(std::get<MeterConfigRequest>(c.body).meter_id, 0xffffffffu);
}

TEST(Of13MultipartRequest, TableFeaturesEmptyReadsFeatures) {
  MultipartRequest m = request_roundtrip(hex("04 12 0010 0000000a  000c 0000 00000000"));
  EXPECT_TRUE(std::get<TableFeaturesStatsRequest>(m.body).tables.empty());
}

TEST(Of13MultipartRequest, TableFeaturesSetsTables) {
  MultipartRequest m = request_roundtrip(cat({hex(R"(
    04 12 0060 0000000b   # len 96
    000c 0001 00000000    # type TABLE_FEATURES, flags MORE
    0050 03 0000000000    # length 80, table_id 3, pad
  )"),
                                              text_field("fib", 32), hex(R"(
    ffffffffffffffff      # metadata_match
    0000000000000000      # metadata_write
    00000003              # config
    00010000              # max_entries 65536
    0002 0005 04 000000   # NEXT_TABLES, len 5: table 4, pad to 8
    0003 0004 00000000    # NEXT_TABLES_MISS, len 4: none, pad to 8
  )")}));
  EXPECT_EQ(m.flags, multipart_flags::kMore);
  const auto& tables = std::get<TableFeaturesStatsRequest>(m.body).tables;
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].table_id, 3);
  EXPECT_EQ(tables[0].name, "fib");
  EXPECT_EQ(tables[0].max_entries, 65536u);
  ASSERT_EQ(tables[0].properties.size(), 2u);
  EXPECT_EQ(tables[0].properties[0].table_ids, std::vector<std::uint8_t>{4});
  EXPECT_EQ(tables[0].properties[1].type, 3);
  EXPECT_TRUE(tables[0].properties[1].table_ids.empty());
}

TEST(Of13MultipartRequest, Experimenter) {
  MultipartRequest m = request_roundtrip(hex(R"(
    04 12 001a 0000000c   # len 26
    ffff 0000 00000000    # type EXPERIMENTER
    00002320              # experimenter Nicira
    00000007              # exp_type 7
    aabb                  # data
  )"));
  const auto& x = std::get<ExperimenterMultipart>(m.body);
  EXPECT_EQ(x.experimenter, kNiciraExperimenter);
  EXPECT_EQ(x.exp_type, 7u);
  EXPECT_EQ(x.data, hex("aabb"));
}

// ---------------------------------------------------------------- malformed requests

TEST(Of13MultipartRequest, UnknownTypeIsBadMultipart) {
  auto e = request_error(hex("04 12 0010 00000001  000e 0000 00000000"), error_type::kBadRequest,
                         bad_request::kBadMultipart);
  EXPECT_EQ(e.offset, 8u);  // the type field
  request_error(hex("04 12 0010 00000001  fffe 0000 00000000"), error_type::kBadRequest,
                bad_request::kBadMultipart);
}

TEST(Of13MultipartRequest, TruncatedMultipartHeaderIsBadLen) {
  request_bad_len(hex("04 12 000c 00000001  0000 0000"));
}

TEST(Of13MultipartRequest, EmptyBodyWithExtraBytesIsBadLen) {
  for (std::uint8_t type : {0, 3, 7, 8, 11, 13}) {
    SCOPED_TRACE(int{type});
    Bytes wire = hex("04 12 0018 00000001  0000 0000 00000000  0000000000000000");
    wire[9] = type;
    auto e = request_bad_len(wire);
    EXPECT_EQ(e.offset, 16u);
  }
}

TEST(Of13MultipartRequest, FixedBodiesMustBeExact) {
  for (std::uint8_t type : {4, 5, 6, 9, 10}) {
    SCOPED_TRACE(int{type});
    Bytes short_body = hex("04 12 0014 00000001  0000 0000 00000000  ffffffff");
    short_body[9] = type;
    request_bad_len(short_body);
    Bytes long_body = hex("04 12 001c 00000001  0000 0000 00000000  ffffffff 00000000 00000000");
    long_body[9] = type;
    request_bad_len(long_body);
  }
}

TEST(Of13MultipartRequest, FlowShorterThanFixedPartIsBadLen) {
  request_bad_len(hex(R"(
    04 12 0030 00000001
    0001 0000 00000000    # FLOW
    ff000000 ffffffff ffffffff 00000000
    0000000000000000 0000000000000000   # no room for a match
  )"));
}

TEST(Of13MultipartRequest, FlowWithBytesAfterMatchIsBadLen) {
  request_bad_len(hex(R"(
    04 12 0040 00000001
    0001 0000 00000000    # FLOW
    ff000000 ffffffff ffffffff 00000000
    0000000000000000 0000000000000000
    0001 0004 00000000    # empty match
    0000000000000000      # stray bytes
  )"));
}

TEST(Of13MultipartRequest, ExperimenterWithoutExpTypeIsBadLen) {
  request_bad_len(hex("04 12 0014 00000001  ffff 0000 00000000  00002320"));
}

// ================================================================ replies

TEST(Of13MultipartReply, Desc) {
  Bytes wire = cat({hex(R"(
      04 13 0430 00000001   # MULTIPART_REPLY, len 1072
      0000 0000 00000000    # type DESC
    )"),
                    text_field("Acme", 256), text_field("box 9000", 256),
                    text_field("tapflow-sw 1.0", 256), text_field("SN-42", 32),
                    text_field("rack 3", 256)});
  MultipartReply m = reply_roundtrip(wire);
  const auto& d = std::get<DescStatsReply>(m.body).desc;
  EXPECT_EQ(d.mfr_desc, "Acme");
  EXPECT_EQ(d.hw_desc, "box 9000");
  EXPECT_EQ(d.sw_desc, "tapflow-sw 1.0");
  EXPECT_EQ(d.serial_num, "SN-42");
  EXPECT_EQ(d.dp_desc, "rack 3");
}

TEST(Of13MultipartReply, FlowStats) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0098 00000002   # len 152
    0001 0001 00000000    # type FLOW, flags MORE
    # entry 1
    0050 01 00            # length 80, table_id 1, pad
    0000000a 00000014     # duration 10 s 20 ns
    0100 001e 003c 0001   # priority 256, idle 30, hard 60, flags SEND_FLOW_REM
    00000000              # pad
    00000000000000aa      # cookie
    0000000000000005      # packet_count
    0000000000000140      # byte_count
    0001 0004 00000000    # match: empty
    0004 0018 00000000    # APPLY_ACTIONS, len 24
    0000 0010 00000002 ffff 000000000000   # OUTPUT port 2, max_len NO_BUFFER
    # entry 2
    0038 00 00            # length 56, table_id 0
    00000000 00000000
    0000 0000 0000 0000
    00000000
    0000000000000000 0000000000000000 0000000000000000
    0001 0004 00000000    # match: empty; no instructions
  )"));
  EXPECT_EQ(m.flags, multipart_flags::kMore);
  const auto& flows = std::get<FlowStatsReply>(m.body).flows;
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].table_id, 1);
  EXPECT_EQ(flows[0].duration_sec, 10u);
  EXPECT_EQ(flows[0].duration_nsec, 20u);
  EXPECT_EQ(flows[0].priority, 256);
  EXPECT_EQ(flows[0].idle_timeout, 30);
  EXPECT_EQ(flows[0].hard_timeout, 60);
  EXPECT_EQ(flows[0].flags, flow_mod_flags::kSendFlowRem);
  EXPECT_EQ(flows[0].cookie, 0xaau);
  EXPECT_EQ(flows[0].packet_count, 5u);
  EXPECT_EQ(flows[0].byte_count, 320u);
  ASSERT_EQ(flows[0].instructions.size(), 1u);
  const auto& apply = std::get<instruction::ApplyActions>(flows[0].instructions[0]);
  ASSERT_EQ(apply.actions.size(), 1u);
  EXPECT_EQ(std::get<action::Output>(apply.actions[0]).port, 2u);
  EXPECT_TRUE(flows[1].instructions.empty());
}

TEST(Of13MultipartReply, FlowStatsEmptyList) {
  MultipartReply m = reply_roundtrip(hex("04 13 0010 00000003  0001 0000 00000000"));
  EXPECT_TRUE(std::get<FlowStatsReply>(m.body).flows.empty());
}

TEST(Of13MultipartReply, Aggregate) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0028 00000004   # len 40
    0002 0000 00000000    # type AGGREGATE
    0000000000000007      # packet_count
    000000000000023e      # byte_count
    00000006 00000000     # flow_count 6, pad
  )"));
  const auto& a = std::get<AggregateStatsReply>(m.body).stats;
  EXPECT_EQ(a.packet_count, 7u);
  EXPECT_EQ(a.byte_count, 0x23eu);
  EXPECT_EQ(a.flow_count, 6u);
}

TEST(Of13MultipartReply, TableStats) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0040 00000005   # len 64
    0003 0000 00000000    # type TABLE
    00 000000 00000004    # table 0, pad, active_count 4
    0000000000000010      # lookup_count 16
    000000000000000c      # matched_count 12
    01 000000 00000000    # table 1
    0000000000000000 0000000000000000
  )"));
  const auto& t = std::get<TableStatsReply>(m.body).tables;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].active_count, 4u);
  EXPECT_EQ(t[0].lookup_count, 16u);
  EXPECT_EQ(t[0].matched_count, 12u);
  EXPECT_EQ(t[1].table_id, 1);
}

TEST(Of13MultipartReply, PortStats) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0080 00000006   # len 128
    0004 0000 00000000    # type PORT_STATS
    00000007 00000000     # port_no 7, pad
    0000000000000001      # rx_packets
    0000000000000002      # tx_packets
    0000000000000003      # rx_bytes
    0000000000000004      # tx_bytes
    0000000000000005      # rx_dropped
    0000000000000006      # tx_dropped
    0000000000000007      # rx_errors
    0000000000000008      # tx_errors
    0000000000000009      # rx_frame_err
    000000000000000a      # rx_over_err
    000000000000000b      # rx_crc_err
    000000000000000c      # collisions
    00000064 000003e8     # duration 100 s 1000 ns
  )"));
  const auto& p = std::get<PortStatsReply>(m.body).ports;
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].port_no, 7u);
  EXPECT_EQ(p[0].rx_packets, 1u);
  EXPECT_EQ(p[0].tx_bytes, 4u);
  EXPECT_EQ(p[0].rx_crc_err, 11u);
  EXPECT_EQ(p[0].collisions, 12u);
  EXPECT_EQ(p[0].duration_sec, 100u);
  EXPECT_EQ(p[0].duration_nsec, 1000u);
}

TEST(Of13MultipartReply, QueueStats) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0038 00000007   # len 56
    0005 0000 00000000    # type QUEUE
    00000007 00000001     # port_no 7, queue_id 1
    0000000000000100      # tx_bytes
    0000000000000010      # tx_packets
    0000000000000001      # tx_errors
    00000002 00000003     # duration 2 s 3 ns
  )"));
  const auto& q = std::get<QueueStatsReply>(m.body).queues;
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].queue_id, 1u);
  EXPECT_EQ(q[0].tx_bytes, 256u);
  EXPECT_EQ(q[0].tx_packets, 16u);
  EXPECT_EQ(q[0].tx_errors, 1u);
  EXPECT_EQ(q[0].duration_nsec, 3u);
}

TEST(Of13MultipartReply, GroupStatsWithBucketCounters) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0080 00000008   # len 128
    0006 0000 00000000    # type GROUP
    # group 1: two bucket counters
    0048 0000             # length 72, pad
    00000001 00000002     # group_id 1, ref_count 2
    00000000              # pad
    0000000000000003      # packet_count
    0000000000000004      # byte_count
    00000005 00000006     # duration
    0000000000000001 0000000000000040   # bucket 0: packets, bytes
    0000000000000002 0000000000000080   # bucket 1
    # group 2: no buckets
    0028 0000 00000002 00000000 00000000
    0000000000000000 0000000000000000 00000000 00000000
  )"));
  const auto& g = std::get<GroupStatsReply>(m.body).groups;
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].group_id, 1u);
  EXPECT_EQ(g[0].ref_count, 2u);
  EXPECT_EQ(g[0].packet_count, 3u);
  EXPECT_EQ(g[0].byte_count, 4u);
  EXPECT_EQ(g[0].duration_sec, 5u);
  ASSERT_EQ(g[0].bucket_stats.size(), 2u);
  EXPECT_EQ(g[0].bucket_stats[1].packet_count, 2u);
  EXPECT_EQ(g[0].bucket_stats[1].byte_count, 128u);
  EXPECT_EQ(g[1].group_id, 2u);
  EXPECT_TRUE(g[1].bucket_stats.empty());
}

TEST(Of13MultipartReply, GroupDescWithBucket) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0038 00000009   # len 56
    0007 0000 00000000    # type GROUP_DESC
    0028 01 00 00000005   # length 40, type SELECT, pad, group_id 5
    0020 0003             # bucket: len 32, weight 3
    00000002 ffffffff     # watch_port 2, watch_group ANY
    00000000              # pad
    0000 0010 00000002 ffff 000000000000   # OUTPUT port 2
  )"));
  const auto& g = std::get<GroupDescStatsReply>(m.body).groups;
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].type, group_type::kSelect);
  EXPECT_EQ(g[0].group_id, 5u);
  ASSERT_EQ(g[0].buckets.size(), 1u);
  EXPECT_EQ(g[0].buckets[0].weight, 3);
  EXPECT_EQ(g[0].buckets[0].watch_port, 2u);
  ASSERT_EQ(g[0].buckets[0].actions.size(), 1u);
}

TEST(Of13MultipartReply, GroupFeatures) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0038 0000000a   # len 56
    0008 0000 00000000    # type GROUP_FEATURES
    0000000f              # types: ALL, SELECT, INDIRECT, FF
    00000005              # capabilities
    00000100 00000010 00000200 00000001   # max_groups per type
    03ff9801 03ff9802 03ff9803 03ff9804   # actions per type
  )"));
  const auto& f = std::get<GroupFeaturesStatsReply>(m.body).features;
  EXPECT_EQ(f.types, 0xfu);
  EXPECT_EQ(f.capabilities, 5u);
  EXPECT_EQ(f.max_groups[2], 0x200u);
  EXPECT_EQ(f.actions[3], 0x03ff9804u);
}

TEST(Of13MultipartReply, MeterStatsWithBandStats) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0048 0000000b   # len 72
    0009 0000 00000000    # type METER
    00000064              # meter_id 100
    0038 000000000000     # len 56, pad
    00000003              # flow_count
    0000000000000010      # packet_in_count
    0000000000000020      # byte_in_count
    00000001 00000002     # duration
    0000000000000004 0000000000000008   # band 0: packets, bytes
  )"));
  const auto& ms = std::get<MeterStatsReply>(m.body).meters;
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].meter_id, 100u);
  EXPECT_EQ(ms[0].flow_count, 3u);
  EXPECT_EQ(ms[0].packet_in_count, 16u);
  EXPECT_EQ(ms[0].byte_in_count, 32u);
  ASSERT_EQ(ms[0].band_stats.size(), 1u);
  EXPECT_EQ(ms[0].band_stats[0].byte_band_count, 8u);
}

TEST(Of13MultipartReply, MeterConfigWithBand) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0028 0000000c   # len 40
    000a 0000 00000000    # type METER_CONFIG
    0018 0005 00000064    # length 24, flags KBPS|BURST, meter_id 100
    0001 0010             # band DROP, len 16
    000003e8 0000000a     # rate 1000, burst 10
    00000000              # pad
  )"));
  const auto& mc = std::get<MeterConfigStatsReply>(m.body).meters;
  ASSERT_EQ(mc.size(), 1u);
  EXPECT_EQ(mc[0].flags, 5);
  EXPECT_EQ(mc[0].meter_id, 100u);
  ASSERT_EQ(mc[0].bands.size(), 1u);
  EXPECT_EQ(mc[0].bands[0].type, meter_band_type::kDrop);
  EXPECT_EQ(mc[0].bands[0].rate, 1000u);
}

TEST(Of13MultipartReply, MeterFeatures) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0020 0000000d   # len 32
    000b 0000 00000000    # type METER_FEATURES
    00000100              # max_meter 256
    00000006              # band_types DROP|DSCP_REMARK
    0000000f              # capabilities
    10 08 0000            # max_bands 16, max_color 8, pad
  )"));
  const auto& f = std::get<MeterFeaturesStatsReply>(m.body).features;
  EXPECT_EQ(f.max_meter, 256u);
  EXPECT_EQ(f.band_types, 6u);
  EXPECT_EQ(f.capabilities, 15u);
  EXPECT_EQ(f.max_bands, 16);
  EXPECT_EQ(f.max_color, 8);
}

// Every kind of table feature property, with lengths that need padding.
const char* const kTableFeaturesProps = R"(
    0000 0014             # INSTRUCTIONS, len 20 (padded to 24)
    0001 0004             #   GOTO_TABLE
    0004 0004             #   APPLY_ACTIONS
    ffff 0008 00002320    #   EXPERIMENTER instruction id, Nicira
    00000000              #   pad
    0002 0007 01 02 03    # NEXT_TABLES, len 7: 1 2 3
    00                    #   pad
    0005 0010             # WRITE_ACTIONS_MISS, len 16
    0000 0004             #   OUTPUT
    ffff 0008 00002320    #   EXPERIMENTER action id, Nicira
    0008 000c             # MATCH, len 12 (padded to 16)
    80000004              #   in_port
    8000070c              #   eth_dst/mask
    00000000              #   pad
    000e 000c             # APPLY_SETFIELD, len 12
    ffff0004 00002320     #   experimenter-class OXM header, then its id
    00000000              #   pad
    fffe 000e             # EXPERIMENTER, len 14
    00002320 00000009     #   experimenter, exp_type 9
    abcd 0000             #   data, pad
    0009 0006 eeff        # type 9 (undefined in 1.3), len 6: kept opaque
    0000                  #   pad
)";

TEST(Of13MultipartReply, TableFeaturesAllPropertyKinds) {
  MultipartReply m = reply_roundtrip(cat({hex(R"(
      04 13 00b8 0000000e   # len 184
      000c 0000 00000000    # type TABLE_FEATURES
      00a8 01 0000000000    # length 168, table_id 1, pad
    )"),
                                          text_field("FIB", 32), hex(R"(
      0000000000000000      # metadata_match
      ffffffffffffffff      # metadata_write
      00000000              # config
      00100000              # max_entries
    )"),
                                          hex(kTableFeaturesProps)}));
  const auto& tables = std::get<TableFeaturesStatsReply>(m.body).tables;
  ASSERT_EQ(tables.size(), 1u);
  const TableFeatures& t = tables[0];
  EXPECT_EQ(t.table_id, 1);
  EXPECT_EQ(t.name, "FIB");
  EXPECT_EQ(t.metadata_write, ~std::uint64_t{0});
  EXPECT_EQ(t.max_entries, 0x100000u);
  ASSERT_EQ(t.properties.size(), 7u);

  const auto& ins = t.properties[0];
  EXPECT_EQ(ins.type, 0);
  ASSERT_EQ(ins.ids.size(), 3u);
  EXPECT_EQ(ins.ids[0].type, 1);
  EXPECT_TRUE(ins.ids[0].data.empty());
  EXPECT_EQ(ins.ids[2].type, 0xffff);
  EXPECT_EQ(ins.ids[2].data, hex("00002320"));

  EXPECT_EQ(t.properties[1].table_ids, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(t.properties[2].type, 5);
  ASSERT_EQ(t.properties[2].ids.size(), 2u);
  EXPECT_EQ(t.properties[3].oxm_ids, (std::vector<std::uint32_t>{0x80000004, 0x8000070c}));
  EXPECT_EQ(t.properties[4].oxm_ids, (std::vector<std::uint32_t>{0xffff0004, 0x00002320}));

  const auto& exp = t.properties[5];
  EXPECT_EQ(exp.type, 0xfffe);
  EXPECT_EQ(exp.experimenter, kNiciraExperimenter);
  EXPECT_EQ(exp.exp_type, 9u);
  EXPECT_EQ(exp.data, hex("abcd"));

  EXPECT_EQ(t.properties[6].type, 9);
  EXPECT_EQ(t.properties[6].data, hex("eeff"));
}

TEST(Of13MultipartReply, PortDesc) {
  MultipartReply m = reply_roundtrip(cat({hex(R"(
      04 13 0050 0000000f   # len 80
      000d 0000 00000000    # type PORT_DESC
      00000007 00000000     # port_no 7, pad
      f20ba4d03f70 0000     # hw_addr, pad
    )"),
                                          text_field("Port7", 16), hex(R"(
      00000000 00000004     # config, state LIVE
      00002808 00002800     # curr, advertised
      00002808 00002808     # supported, peer
      00001388 00001388     # curr_speed, max_speed 5000 kbps
    )")}));
  const auto& ports = std::get<PortDescStatsReply>(m.body).ports;
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].port_no, 7u);
  EXPECT_EQ(ports[0].name, "Port7");
  EXPECT_EQ(ports[0].curr_speed, 5000u);
}

TEST(Of13MultipartReply, Experimenter) {
  MultipartReply m = reply_roundtrip(hex(R"(
    04 13 0020 00000010   # len 32
    ffff 0000 00000000    # type EXPERIMENTER
    4f4e4600 0000074e     # experimenter ONF, exp_type 1870 (flow monitor)
    0102030405060708      # data
  )"));
  const auto& x = std::get<ExperimenterMultipart>(m.body);
  EXPECT_EQ(x.experimenter, kOnfExperimenter);
  EXPECT_EQ(x.exp_type, 1870u);
  EXPECT_EQ(x.data, hex("0102030405060708"));
}

// ---------------------------------------------------------------- malformed replies

TEST(Of13MultipartReply, UnknownTypeIsBadMultipart) {
  reply_error(hex("04 13 0010 00000001  000e 0000 00000000"), error_type::kBadRequest,
              bad_request::kBadMultipart);
  reply_error(hex("04 13 0018 00000001  1234 0000 00000000 0000000000000000"),
              error_type::kBadRequest, bad_request::kBadMultipart);
}

TEST(Of13MultipartReply, FixedBodiesMustBeExact) {
  // DESC one byte short, AGGREGATE 8 bytes long, GROUP_FEATURES and
  // METER_FEATURES empty.
  Bytes desc = cat({hex("04 13 042f 00000001  0000 0000 00000000"), Bytes(1055, 0)});
  reply_bad_len(desc);
  reply_bad_len(hex(R"(
    04 13 0030 00000001  0002 0000 00000000
    0000000000000000 0000000000000000 0000000000000000 0000000000000000
  )"));
  reply_bad_len(hex("04 13 0010 00000001  0008 0000 00000000"));
  reply_bad_len(hex("04 13 0010 00000001  000b 0000 00000000"));
}

TEST(Of13MultipartReply, FixedSizeListsMustBeWholeEntries) {
  // 25 bytes of table stats, 111 of port stats, 41 of queue stats, 63 of ports.
  for (auto [type, n] : {std::pair{3, 25}, std::pair{4, 111}, std::pair{5, 41},
                         std::pair{13, 63}}) {
    SCOPED_TRACE(type);
    Bytes wire = cat({hex("04 13 0000 00000001  0000 0000 00000000"),
                      Bytes(static_cast<std::size_t>(n), 0)});
    wire[2] = static_cast<std::uint8_t>(wire.size() >> 8);
    wire[3] = static_cast<std::uint8_t>(wire.size());
    wire[9] = static_cast<std::uint8_t>(type);
    reply_bad_len(wire);
  }
}

// A flow stats entry with every field zero and an empty match, length `len`.
Bytes flow_entry_with_length(std::uint16_t len) {
  Bytes e = hex(R"(
    0038 00 00 00000000 00000000 0000 0000 0000 0000 00000000
    0000000000000000 0000000000000000 0000000000000000
    0001 0004 00000000
  )");
  e[0] = static_cast<std::uint8_t>(len >> 8);
  e[1] = static_cast<std::uint8_t>(len);
  return e;
}

Bytes flow_reply(const Bytes& entries) {
  Bytes wire = cat({hex("04 13 0000 00000001  0001 0000 00000000"), entries});
  wire[2] = static_cast<std::uint8_t>(wire.size() >> 8);
  wire[3] = static_cast<std::uint8_t>(wire.size());
  return wire;
}

TEST(Of13MultipartReply, FlowStatsZeroLengthIsBadLenNotALoop) {
  auto e = reply_bad_len(flow_reply(flow_entry_with_length(0)));
  EXPECT_EQ(e.offset, 16u);  // the entry's length field
}

TEST(Of13MultipartReply, FlowStatsLengthBelowFixedPartIsBadLen) {
  reply_bad_len(flow_reply(flow_entry_with_length(55)));
}

TEST(Of13MultipartReply, FlowStatsLengthPastEndIsBadLen) {
  auto e = reply_bad_len(flow_reply(flow_entry_with_length(64)));
  EXPECT_EQ(e.offset, 16u);
}

TEST(Of13MultipartReply, FlowStatsTrailingPartialEntryIsBadLen) {
  reply_bad_len(flow_reply(cat({flow_entry_with_length(56), hex("0038 0000")})));
}

TEST(Of13MultipartReply, FlowStatsInstructionPastEntryIsBadInstructionLen) {
  // The entry says 80 bytes; its APPLY_ACTIONS claims 32 where 24 remain.
  Bytes entry = cat({flow_entry_with_length(80),
                     hex("0004 0020 00000000  0000 0010 00000002 ffff 000000000000")});
  reply_error(flow_reply(entry), error_type::kBadInstruction, bad_instruction::kBadLen);
}

TEST(Of13MultipartReply, GroupStatsLengthErrors) {
  const char* kFixed = "00000001 00000000 00000000 0000000000000000 0000000000000000 00000000 00000000";
  // Below the 40-byte fixed part.
  reply_bad_len(cat({hex("04 13 0038 00000001  0006 0000 00000000  0027 0000"), hex(kFixed)}));
  // 41: not a whole number of 16-byte bucket counters (and past the end).
  reply_bad_len(cat({hex("04 13 0038 00000001  0006 0000 00000000  0029 0000"), hex(kFixed)}));
  // 48 with 48 bytes present: a partial bucket counter.
  reply_bad_len(cat({hex("04 13 0040 00000001  0006 0000 00000000  0030 0000"), hex(kFixed),
                     hex("0000000000000000")}));
}

TEST(Of13MultipartReply, GroupDescLengthErrors) {
  reply_bad_len(hex("04 13 0018 00000001  0007 0000 00000000  0000 00 00 00000001"));
  reply_bad_len(hex("04 13 0018 00000001  0007 0000 00000000  0010 00 00 00000001"));
}

TEST(Of13MultipartReply, MeterStatsLengthErrors) {
  const char* kRest = "00000000 0000000000000000 0000000000000000 00000000 00000000";
  // len 0 (at offset 4 of the entry).
  auto e = reply_bad_len(
      cat({hex("04 13 0038 00000001  0009 0000 00000000  00000001 0000 000000000000"),
           hex(kRest)}));
  EXPECT_EQ(e.offset, 20u);
  // len 48: a partial band stats entry.
  reply_bad_len(cat({hex("04 13 0040 00000001  0009 0000 00000000  00000001 0030 000000000000"),
                     hex(kRest), hex("0000000000000000")}));
  // Entry cut short before its length field.
  reply_bad_len(hex("04 13 0014 00000001  0009 0000 00000000  00000001"));
}

TEST(Of13MultipartReply, MeterConfigLengthBelowFixedPartIsBadLen) {
  reply_bad_len(hex("04 13 0018 00000001  000a 0000 00000000  0004 0000 00000001"));
}

TEST(Of13MultipartReply, ExperimenterTooShortIsBadLen) {
  reply_bad_len(hex("04 13 0014 00000001  ffff 0000 00000000  4f4e4600"));
}

// A TABLE_FEATURES reply holding one table whose properties are `props`.
Bytes table_features_reply(const Bytes& props, std::optional<std::size_t> entry_len = {}) {
  Bytes wire = cat({hex("04 13 0000 00000001  000c 0000 00000000"),
                    hex("0000 00 0000000000"), text_field("t", 32),
                    hex("0000000000000000 0000000000000000 00000000 00000000"), props});
  const std::size_t len = entry_len.value_or(wire.size() - 16);
  wire[16] = static_cast<std::uint8_t>(len >> 8);
  wire[17] = static_cast<std::uint8_t>(len);
  wire[2] = static_cast<std::uint8_t>(wire.size() >> 8);
  wire[3] = static_cast<std::uint8_t>(wire.size());
  return wire;
}

TEST(Of13MultipartReply, TableFeaturesHelperMakesValidReply) {
  MultipartReply m = reply_roundtrip(table_features_reply(hex("0002 0005 07 000000")));
  const auto& t = std::get<TableFeaturesStatsReply>(m.body).tables;
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].properties[0].table_ids, std::vector<std::uint8_t>{7});
}

TEST(Of13MultipartReply, TableFeaturesEntryLengthErrors) {
  reply_bad_len(table_features_reply({}, 63));   // below the 64-byte fixed part
  reply_bad_len(table_features_reply({}, 0));    // zero
  reply_bad_len(table_features_reply({}, 72));   // past the end
}

TEST(Of13MultipartReply, TableFeaturePropertyLengthErrors) {
  // Zero length: an error, not a loop.
  auto e = reply_bad_prop_len(table_features_reply(hex("0000 0000 00000000")));
  EXPECT_EQ(e.offset, 16u + 64u + 2u);
  // Below the 4-byte header.
  reply_bad_prop_len(table_features_reply(hex("0002 0003 00000000")));
  // Past the end of its table.
  reply_bad_prop_len(table_features_reply(hex("0002 0010 00000000")));
  // Length 5 with the padding to 8 missing.
  reply_bad_prop_len(table_features_reply(hex("0002 0005 01")));
  // A truncated property header.
  reply_bad_prop_len(table_features_reply(hex("0002")));
  // OXM ids not a whole number of 32-bit headers.
  reply_bad_prop_len(table_features_reply(hex("0008 0006 8000 0000")));
  // An experimenter property without exp_type.
  reply_bad_prop_len(table_features_reply(hex("fffe 0008 00002320")));
  // Instruction ids: an id of length 2, and an id running past its property.
  reply_bad_prop_len(table_features_reply(hex("0000 0008 0001 0002")));
  reply_bad_prop_len(table_features_reply(hex("0000 0008 ffff 0008")));
}

TEST(Of13MultipartReply, TableFeaturesInRequestUseTheSameChecks) {
  Bytes wire = table_features_reply(hex("0006 0000 00000000"));
  wire[1] = kRequestType;
  request_error(wire, error_type::kTableFeaturesFailed, table_features_failed::kBadLen);
}

// ---------------------------------------------------------------- encoding

TEST(Of13MultipartEncode, TypeComesFromTheBody) {
  Bytes out;
  wire::Writer w(out);
  ASSERT_TRUE(of13::encode_multipart_request(
                  MultipartRequest{multipart_flags::kMore, MeterConfigRequest{9}}, w)
                  .ok());
  EXPECT_EQ(to_hex(out.data(), out.size()),
            to_hex(hex("000a 0001 00000000  00000009 00000000").data(), 16));
}

TEST(Of13MultipartEncode, TableFeaturePropertyIsPaddedButLengthIsNot) {
  TableFeatures t;
  t.table_id = 2;
  TableFeatureProp p;
  p.type = 3;  // NEXT_TABLES_MISS
  p.table_ids = {9};
  t.properties.push_back(p);
  Bytes out;
  wire::Writer w(out);
  ASSERT_TRUE(of13::encode_multipart_reply(MultipartReply{0, TableFeaturesStatsReply{{t}}}, w).ok());
  ASSERT_EQ(out.size(), 8u + 64u + 8u);
  EXPECT_EQ(out[8], 0x00);
  EXPECT_EQ(out[9], 72);  // table entry length includes the property's padding
  EXPECT_EQ(to_hex(out.data() + 72, 8), to_hex(hex("0003 0005 09 000000").data(), 8));
}

TEST(Of13MultipartEncode, OversizedEntryIsBadLen) {
  TableFeatures t;
  TableFeatureProp p;
  p.type = 2;
  p.table_ids.assign(70000, 1);
  t.properties.push_back(p);
  Bytes out;
  wire::Writer w(out);
  Status st = of13::encode_multipart_request(
      MultipartRequest{0, TableFeaturesStatsRequest{{t}}}, w);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().type, error_type::kBadRequest);
  EXPECT_EQ(st.error().code, bad_request::kBadLen);
}

// ---------------------------------------------------------------- Ryu data

Bytes read_conformance(const char* name) {
  auto p = std::filesystem::path(TAPFLOW_CONFORMANCE_DIR) / "ryu/tests/packet_data/of13" / name;
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << p;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Ryu's huge table features reply: ten tables, NEXT_TABLES properties of odd
// lengths 249..258 (padding from 0 to 7 bytes), experimenter properties.
TEST(Of13MultipartRyu, TableFeaturesReply) {
  MultipartReply m = reply_roundtrip(read_conformance("4-56-ofp_table_features_reply.packet"));
  EXPECT_EQ(m.flags, multipart_flags::kMore);
  const auto& tables = std::get<TableFeaturesStatsReply>(m.body).tables;
  ASSERT_EQ(tables.size(), 10u);
  EXPECT_EQ(tables[0].name, "\u79c1\u306e\u30c6\u30fc\u30d6\u30eb");
  EXPECT_EQ(tables[0].max_entries, 16777216u);
  ASSERT_EQ(tables[0].properties.size(), 11u);
  EXPECT_EQ(tables[0].properties[0].ids.size(), 6u);
  EXPECT_EQ(tables[0].properties[1].table_ids.size(), 254u);  // len 258
  EXPECT_EQ(tables[1].properties[1].table_ids.size(), 253u);  // len 257
  EXPECT_EQ(tables[9].properties[1].table_ids.size(), 245u);  // len 249
  EXPECT_EQ(tables[0].properties[4].oxm_ids.size(), 37u);     // MATCH, len 152
  const auto& last = tables[0].properties[10];
  EXPECT_EQ(last.type, 0xfffe);
  EXPECT_EQ(last.experimenter, 101u);
  EXPECT_EQ(last.exp_type, 2u);
  EXPECT_EQ(last.data, hex("00000001 00000002"));
  EXPECT_EQ(tables[9].name, "Flow Table 0x09");
}

TEST(Of13MultipartRyu, OnfFlowMonitorRequestIsOpaqueExperimenter) {
  MultipartRequest m = request_roundtrip(read_conformance("4-63-onf_flow_monitor_request.packet"));
  const auto& x = std::get<ExperimenterMultipart>(m.body);
  EXPECT_EQ(x.experimenter, kOnfExperimenter);
  EXPECT_EQ(x.exp_type, 1870u);
}

// ---------------------------------------------------------------- through decode()/encode()

TEST(Of13MultipartCodec, RequestAndReplyThroughTopLevel) {
  Message req = testing::decode_roundtrip(hex(R"(
    04 12 0018 00000042   # MULTIPART_REQUEST, xid 0x42
    0004 0000 00000000    # PORT_STATS
    ffffffff 00000000     # port ANY
  )"));
  EXPECT_EQ(req.xid, 0x42u);
  const auto* mr = std::get_if<MultipartRequest>(&req.body);
  ASSERT_NE(mr, nullptr);
  EXPECT_EQ(std::get<PortStatsRequest>(mr->body).port_no, port::kAny);

  Message rep = testing::decode_roundtrip(hex(R"(
    04 13 0020 00000042   # MULTIPART_REPLY
    000b 0000 00000000    # METER_FEATURES
    00000001 00000002 00000003 04 05 0000
  )"));
  ASSERT_NE(std::get_if<MultipartReply>(&rep.body), nullptr);
  testing::expect_decode_error(hex("04 13 0010 00000001  0063 0000 00000000"),
                               error_type::kBadRequest, bad_request::kBadMultipart);
}

}  // namespace
}  // namespace tapflow::openflow
