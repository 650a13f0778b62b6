// OpenFlow 1.0 STATS_REQUEST / STATS_REPLY (type 16/17): every stats type in
// annotated hex, the 1.0 queue-stats "all ports" spelling, vendor stats kept
// opaque, 1.3-only multipart bodies refused, and malformed entries.
#include <gtest/gtest.h>

#include <string>

#include "of10_test_util.hpp"

namespace tapflow::openflow {
namespace {

using namespace of10test;

template <class T>
T request_body(const Message& m) {
  const auto* r = std::get_if<MultipartRequest>(&m.body);
  EXPECT_NE(r, nullptr) << type_name(m.body);
  if (r == nullptr || !std::holds_alternative<T>(r->body)) {
    ADD_FAILURE() << "unexpected stats request body";
    return T{};
  }
  return std::get<T>(r->body);
}

template <class T>
T reply_body(const Message& m, std::uint16_t* flags = nullptr) {
  const auto* r = std::get_if<MultipartReply>(&m.body);
  EXPECT_NE(r, nullptr) << type_name(m.body);
  if (r == nullptr || !std::holds_alternative<T>(r->body)) {
    ADD_FAILURE() << "unexpected stats reply body";
    return T{};
  }
  if (flags != nullptr) *flags = r->flags;
  return std::get<T>(r->body);
}

// A NUL-padded string field of n bytes, as hex.
std::string str_field(std::string_view s, std::size_t n) {
  Bytes b(s.begin(), s.end());
  b.resize(n, 0);
  return hexs(b);
}

Bytes cat(std::initializer_list<std::string_view> parts) {
  Bytes out;
  for (auto p : parts) {
    Bytes b = hex(p);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// ------------------------------------------------------------------ DESC

TEST(Of10Stats, DescRequestAndReply) {
  Message req = decode_roundtrip(hex("01 10 000c 00000001  0000 0000   # STATS_REQUEST DESC"));
  request_body<DescStatsRequest>(req);

  const std::string fields = str_field("MikroTik", 256) + str_field("CRS326", 256) +
                             str_field("RouterOS 7.15", 256) + str_field("HEX123", 32) +
                             str_field("rack 4", 256);
  Message rep = decode_roundtrip(cat({"01 11 042c 00000001  0000 0000   # DESC reply, len 1068",
                                      fields}));
  const auto d = reply_body<DescStatsReply>(rep).desc;
  EXPECT_EQ(d.mfr_desc, "MikroTik");
  EXPECT_EQ(d.hw_desc, "CRS326");
  EXPECT_EQ(d.sw_desc, "RouterOS 7.15");
  EXPECT_EQ(d.serial_num, "HEX123");
  EXPECT_EQ(d.dp_desc, "rack 4");

  Bytes short_reply = cat({"01 11 0420 00000001  0000 0000", fields});
  short_reply.resize(0x420);
  expect_decode_error(short_reply, error_type::kBadRequest, bad_request::kBadLen);
}

// ------------------------------------------------------------------ FLOW / AGGREGATE

TEST(Of10Stats, FlowRequest) {
  Message m = decode_roundtrip(cat({"01 10 0038 00000002  0001 0000   # FLOW, len 56",
                                    kAnyMatch, R"(
    ff 00                 # table_id ALL, pad
    ffff                  # out_port NONE
  )"}));
  const auto f = request_body<FlowStatsRequest>(m);
  EXPECT_EQ(f.table_id, kTableAll);
  EXPECT_EQ(f.out_port, port::kAny);
  EXPECT_TRUE(f.match.empty());
  // Built in code with defaults: the same bytes.
  EXPECT_EQ(hexs(encode_ok(msg10(MultipartRequest{0, FlowStatsRequest{}}, 2))),
            hexs(encode_ok(m)));
}

TEST(Of10Stats, AggregateRequestAndReply) {
  Message req = decode_roundtrip(cat({"01 10 0038 00000003  0002 0000   # AGGREGATE, len 56",
                                      R"(
    003820fe 0007 000000000000 000000000000 0000 00 00
    0000 00 00 0000 00000000 00000000 0000 0000   # match in_port 7
    00 00 0003            # table 0, pad, out_port 3
  )"}));
  const auto a = request_body<AggregateStatsRequest>(req);
  EXPECT_EQ(a.filter.match.fields, std::vector<OxmField>{oxm::in_port(7)});
  EXPECT_EQ(a.filter.table_id, 0);
  EXPECT_EQ(a.filter.out_port, 3u);

  Message rep = decode_roundtrip(hex(R"(
    01 11 0024 00000003  0002 0000   # AGGREGATE reply, len 36
    0000000000000064      # packet_count 100
    0000000000001770      # byte_count 6000
    00000004 00000000     # flow_count 4, pad
  )"));
  EXPECT_EQ(reply_body<AggregateStatsReply>(rep).stats, (AggregateStats{100, 6000, 4}));
  expect_decode_error(hex("01 11 0028 00000003  0002 0000  0000000000000064 0000000000001770 "
                          "00000004 00000000 00000000   # 4 bytes too many"),
                      error_type::kBadRequest, bad_request::kBadLen);
}

constexpr std::string_view kFlowEntryWithOutput = R"(
    0060 00 00            # length 96, table 0, pad
    003820fe 0001 000000000000 000000000000 0000 00 00
    0000 00 00 0000 00000000 00000000 0000 0000   # match in_port 1
    0000000a 00000064     # duration 10 s 100 ns
    8000 003c 0000        # priority, idle 60, hard 0
    000000000000          # pad
    00000000000000f1      # cookie
    0000000000000003      # packet_count
    00000000000000b4      # byte_count 180
    0000 0008 0002 0000   # OUTPUT port 2
)";

constexpr std::string_view kFlowEntryDrop = R"(
    0058 01 00            # length 88, table 1, pad
    003820ff 0000 000000000000 000000000000 0000 00 00
    0000 00 00 0000 00000000 00000000 0000 0000   # match: any
    00000000 00000000 0000 0000 0000 000000000000
    0000000000000000 0000000000000000 0000000000000000   # no actions: drop
)";

TEST(Of10Stats, FlowReply) {
  Message m = decode_roundtrip(cat({"01 11 00c4 00000004  0001 0001   # FLOW reply, MORE, len 196",
                                    kFlowEntryWithOutput, kFlowEntryDrop}));
  std::uint16_t flags = 0;
  const auto r = reply_body<FlowStatsReply>(m, &flags);
  EXPECT_EQ(flags, multipart_flags::kMore);
  ASSERT_EQ(r.flows.size(), 2u);
  const FlowStats& f = r.flows[0];
  EXPECT_EQ(f.table_id, 0);
  EXPECT_EQ(f.match.fields, std::vector<OxmField>{oxm::in_port(1)});
  EXPECT_EQ(f.duration_sec, 10u);
  EXPECT_EQ(f.duration_nsec, 100u);
  EXPECT_EQ(f.priority, 0x8000);
  EXPECT_EQ(f.idle_timeout, 60);
  EXPECT_EQ(f.cookie, 0xf1u);
  EXPECT_EQ(f.packet_count, 3u);
  EXPECT_EQ(f.byte_count, 180u);
  EXPECT_EQ(f.instructions,
            (InstructionList{instruction::ApplyActions{{action::Output{2, 0}}}}));
  EXPECT_EQ(r.flows[1].table_id, 1);
  EXPECT_TRUE(r.flows[1].instructions.empty());
  EXPECT_TRUE(r.flows[1].match.empty());
}

TEST(Of10Stats, FlowReplyMalformed) {
  // entry length below 88.
  Bytes shorter = cat({"01 11 0064 00000004  0001 0000", kFlowEntryDrop});
  shorter[13] = 0x50;
  expect_decode_error(shorter, error_type::kBadRequest, bad_request::kBadLen);
  // entry length past the message.
  Bytes longer = cat({"01 11 0064 00000004  0001 0000", kFlowEntryDrop});
  longer[13] = 0x60;
  expect_decode_error(longer, error_type::kBadRequest, bad_request::kBadLen);
  // an entry whose action has a bad length.
  Bytes broken = cat({"01 11 006c 00000004  0001 0000", kFlowEntryWithOutput});
  broken[0x67] = 0x10;  // OUTPUT len 16 in an entry with 8 bytes of actions
  expect_decode_error(broken, error_type::kBadAction, bad_action::kBadLen);
  // a lone length byte after a good entry.
  Bytes trailing = cat({"01 11 0065 00000004  0001 0000", kFlowEntryDrop, "00"});
  expect_decode_error(trailing, error_type::kBadRequest, bad_request::kBadLen);
}

// ------------------------------------------------------------------ TABLE

TEST(Of10Stats, TableRequestAndReply) {
  Message req = decode_roundtrip(hex("01 10 000c 00000005  0003 0000   # TABLE request"));
  request_body<TableStatsRequest>(req);
  Message rep = decode_roundtrip(cat({"01 11 004c 00000005  0003 0000   # TABLE reply, len 76",
                                      "00 000000   # table 0, pad",
                                      str_field("classifier", 32), R"(
    003fffff              # wildcards supported
    00100000              # max_entries
    00000005              # active_count
    0000000000000064      # lookup_count
    0000000000000032      # matched_count
  )"}));
  const auto t = reply_body<TableStatsReply>(rep);
  ASSERT_EQ(t.tables.size(), 1u);
  EXPECT_EQ(t.tables[0].name, "classifier");
  EXPECT_EQ(t.tables[0].wildcards, 0x3fffffu);
  EXPECT_EQ(t.tables[0].max_entries, 0x100000u);
  EXPECT_EQ(t.tables[0].active_count, 5u);
  EXPECT_EQ(t.tables[0].lookup_count, 100u);
  EXPECT_EQ(t.tables[0].matched_count, 50u);
}

// ------------------------------------------------------------------ PORT

TEST(Of10Stats, PortRequestAndReply) {
  Message req = decode_roundtrip(hex("01 10 0014 00000006  0004 0000  ffff 000000000000  # NONE: all"));
  EXPECT_EQ(request_body<PortStatsRequest>(req).port_no, port::kAny);
  Message rep = decode_roundtrip(hex(R"(
    01 11 0074 00000006  0004 0000   # PORT reply, len 116
    0001 000000000000     # port_no 1, pad
    0000000000000001 0000000000000002   # rx_packets, tx_packets
    0000000000000003 0000000000000004   # rx_bytes, tx_bytes
    0000000000000005 0000000000000006   # rx_dropped, tx_dropped
    0000000000000007 0000000000000008   # rx_errors, tx_errors
    0000000000000009 000000000000000a   # rx_frame_err, rx_over_err
    000000000000000b 000000000000000c   # rx_crc_err, collisions
  )"));
  const auto p = reply_body<PortStatsReply>(rep);
  ASSERT_EQ(p.ports.size(), 1u);
  EXPECT_EQ(p.ports[0].port_no, 1u);
  EXPECT_EQ(p.ports[0].rx_packets, 1u);
  EXPECT_EQ(p.ports[0].tx_bytes, 4u);
  EXPECT_EQ(p.ports[0].tx_errors, 8u);
  EXPECT_EQ(p.ports[0].collisions, 12u);

  Bytes truncated = hex("01 11 0070 00000006  0004 0000  0001 000000000000");
  truncated.resize(0x70, 0);
  expect_decode_error(truncated, error_type::kBadRequest, bad_request::kBadLen);
  expect_encode_error(msg10(MultipartRequest{0, PortStatsRequest{0xff00}}),
                      error_type::kBadRequest, bad_request::kBadPort);
}

// ------------------------------------------------------------------ QUEUE

TEST(Of10Stats, QueueRequestAllPortsIsOfppAll) {
  Message req = decode_roundtrip(hex(R"(
    01 10 0014 00000007  0005 0000   # QUEUE request, len 20
    fffc 0000             # port_no ALL (1.0's "every port"), pad
    ffffffff              # queue_id ALL
  )"));
  const auto q = request_body<QueueStatsRequest>(req);
  EXPECT_EQ(q.port_no, port::kAny);  // the model's "every port"
  EXPECT_EQ(q.queue_id, 0xffffffffu);
  EXPECT_EQ(hexs(encode_ok(msg10(MultipartRequest{0, QueueStatsRequest{}}, 7))),
            hexs(encode_ok(req)));
  Message one = decode_roundtrip(hex("01 10 0014 00000007  0005 0000  0002 0000 00000001"));
  EXPECT_EQ(request_body<QueueStatsRequest>(one), (QueueStatsRequest{2, 1}));
  expect_decode_error(hex("01 10 0014 00000007  0005 0000  ffff 0000 ffffffff  # NONE"),
                      error_type::kBadRequest, bad_request::kBadPort);
}

TEST(Of10Stats, QueueReply) {
  Message rep = decode_roundtrip(hex(R"(
    01 11 002c 00000007  0005 0000   # QUEUE reply, len 44
    0001 0000 00000001    # port_no 1, pad, queue_id 1
    00000000000003e8      # tx_bytes 1000
    000000000000000a      # tx_packets 10
    0000000000000000      # tx_errors
  )"));
  const auto q = reply_body<QueueStatsReply>(rep);
  ASSERT_EQ(q.queues.size(), 1u);
  EXPECT_EQ(q.queues[0].port_no, 1u);
  EXPECT_EQ(q.queues[0].queue_id, 1u);
  EXPECT_EQ(q.queues[0].tx_bytes, 1000u);
  EXPECT_EQ(q.queues[0].tx_packets, 10u);
}

// ------------------------------------------------------------------ VENDOR

TEST(Of10Stats, VendorRequestAndReplyStayOpaque) {
  Message req = decode_roundtrip(hex(R"(
    01 10 0018 00000008  ffff 0000   # VENDOR stats request, len 24
    00002320              # vendor Nicira
    00000000 00000000     # data: everything after the vendor id
  )"));
  const auto v = request_body<ExperimenterMultipart>(req);
  EXPECT_EQ(v.experimenter, kNiciraExperimenter);
  EXPECT_EQ(v.exp_type, 0u);
  EXPECT_EQ(v.data, hex("0000000000000000"));
  Message rep = decode_roundtrip(hex("01 11 0014 00000008  ffff 0000  00abcdef 01020304"));
  EXPECT_EQ(reply_body<ExperimenterMultipart>(rep).data, hex("01020304"));
  expect_decode_error(hex("01 10 000e 00000008  ffff 0000  0000   # vendor id cut short"),
                      error_type::kBadRequest, bad_request::kBadLen);
  expect_encode_error(msg10(MultipartRequest{0, ExperimenterMultipart{1, 2, {}}}),
                      error_type::kBadRequest, bad_request::kBadExpType);
  expect_encode_error(msg10(MultipartReply{0, ExperimenterMultipart{1, 2, {}}}),
                      error_type::kBadRequest, bad_request::kBadExpType);
}

// ------------------------------------------------------------------ not in 1.0

TEST(Of10Stats, UnknownAndOneThreeOnlyTypes) {
  for (const char* text : {"01 10 000c 00000009  0006 0000   # GROUP: not in 1.0",
                           "01 10 000c 00000009  000d 0000   # PORT_DESC: not in 1.0",
                           "01 11 000c 00000009  000c 0000   # TABLE_FEATURES reply",
                           "01 11 000c 00000009  fffe 0000"}) {
    SCOPED_TRACE(text);
    expect_decode_error(hex(text), error_type::kBadRequest, bad_request::kBadMultipart);
  }
  for (const MultipartRequestBody& b :
       {MultipartRequestBody{GroupStatsRequest{}}, MultipartRequestBody{GroupDescStatsRequest{}},
        MultipartRequestBody{GroupFeaturesStatsRequest{}},
        MultipartRequestBody{MeterStatsRequest{}}, MultipartRequestBody{MeterConfigRequest{}},
        MultipartRequestBody{MeterFeaturesStatsRequest{}},
        MultipartRequestBody{TableFeaturesStatsRequest{}},
        MultipartRequestBody{PortDescStatsRequest{}}}) {
    expect_encode_error(msg10(MultipartRequest{0, b}), error_type::kBadRequest,
                        bad_request::kBadMultipart);
  }
  for (const MultipartReplyBody& b :
       {MultipartReplyBody{GroupStatsReply{}}, MultipartReplyBody{GroupDescStatsReply{}},
        MultipartReplyBody{GroupFeaturesStatsReply{}}, MultipartReplyBody{MeterStatsReply{}},
        MultipartReplyBody{MeterConfigStatsReply{}}, MultipartReplyBody{MeterFeaturesStatsReply{}},
        MultipartReplyBody{TableFeaturesStatsReply{}}, MultipartReplyBody{PortDescStatsReply{}}}) {
    expect_encode_error(msg10(MultipartReply{0, b}), error_type::kBadRequest,
                        bad_request::kBadMultipart);
  }
}

TEST(Of10Stats, TooShortForTheStatsHeader) {
  expect_decode_error(hex("01 10 000a 00000009  0000"), error_type::kBadRequest,
                      bad_request::kBadLen);
}

TEST(Of10Stats, FlowReplyEncodeErrors) {
  FlowStats f;
  f.instructions = {instruction::WriteActions{}};
  expect_encode_error(msg10(MultipartReply{0, FlowStatsReply{{f}}}),
                      error_type::kBadInstruction, bad_instruction::kUnsupInst);
  f.instructions = {};
  f.match.add(oxm::metadata(5));
  expect_encode_error(msg10(MultipartReply{0, FlowStatsReply{{f}}}), error_type::kBadMatch,
                      bad_match::kBadField);
}

}  // namespace
}  // namespace tapflow::openflow
