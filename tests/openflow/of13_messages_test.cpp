// OpenFlow 1.3 messages other than multipart bodies: every type in annotated
// hex, decoded, checked field by field and re-encoded byte for byte, plus the
// malformed variants with the error a switch would answer.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "version_codecs.hpp"

namespace tapflow::openflow {
namespace {

using testing::decode_roundtrip;
using testing::expect_decode_error;
using testing::hex;

Bytes encode_ok(const Message& m) {
  auto b = encode(m);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : describe(b.error()));
  return b.ok() ? *b : Bytes{};
}

OfError encode_error_of(const Message& m) {
  auto b = encode(m);
  EXPECT_FALSE(b.ok()) << "encoded although invalid";
  return b.ok() ? OfError{} : b.error();
}

// ------------------------------------------------------------------ symmetric

TEST(Of13Messages, Error) {
  Message m = decode_roundtrip(hex(R"(
    04 01 0010 00000007   # ERROR, len 16
    0004 0008             # BAD_MATCH / BAD_MASK
    04 0e 0048            # data: the start of the offending request
  )"));
  EXPECT_EQ(m.xid, 7u);
  const auto& e = std::get<Error>(m.body);
  EXPECT_EQ(e.type, error_type::kBadMatch);
  EXPECT_EQ(e.code, bad_match::kBadMask);
  EXPECT_EQ(e.data, hex("04 0e 0048"));
}

TEST(Of13Messages, EchoRequestAndReply) {
  Message req = decode_roundtrip(hex("04 02 000c 00000001  61626364  # ECHO_REQUEST \"abcd\""));
  EXPECT_EQ(std::get<EchoRequest>(req.body).data, hex("61626364"));
  Message rep = decode_roundtrip(hex("04 03 0008 00000001  # ECHO_REPLY, no data"));
  EXPECT_TRUE(std::get<EchoReply>(rep.body).data.empty());
}

TEST(Of13Messages, Experimenter) {
  Message m = decode_roundtrip(hex(R"(
    04 04 0014 00000002   # EXPERIMENTER, len 20
    00002320              # experimenter Nicira
    00000010              # exp_type 16
    deadbeef              # data
  )"));
  const auto& e = std::get<Experimenter>(m.body);
  EXPECT_EQ(e.experimenter, kNiciraExperimenter);
  EXPECT_EQ(e.exp_type, 16u);
  EXPECT_EQ(e.data, hex("deadbeef"));
}

TEST(Of13Messages, OnfExperimenterOtherThanBundlesStaysGeneric) {
  Message m = decode_roundtrip(hex("04 04 0010 00000002  4f4e4600 00000708  # ONF exp_type 1800"));
  EXPECT_TRUE(std::holds_alternative<Experimenter>(m.body));
}

// ------------------------------------------------------------------ bundles (ONF 2300/2301)

TEST(Of13Bundles, BundleControl) {
  Message m = decode_roundtrip(hex(R"(
    04 04 0018 00000003   # EXPERIMENTER, len 24
    4f4e4600              # ONF
    000008fc              # exp_type 2300: bundle control
    00000001              # bundle_id 1
    0000                  # type OPEN_REQUEST
    0003                  # flags ATOMIC | ORDERED
  )"));
  const auto& b = std::get<BundleControl>(m.body);
  EXPECT_EQ(b.bundle_id, 1u);
  EXPECT_EQ(b.type, bundle_ctrl_type::kOpenRequest);
  EXPECT_EQ(b.flags, bundle_flags::kAtomic | bundle_flags::kOrdered);
  EXPECT_TRUE(b.properties.empty());
  EXPECT_EQ(wire_type(kVersion13, m.body), 4);
}

TEST(Of13Bundles, BundleControlWithProperties) {
  Message m = decode_roundtrip(hex(R"(
    04 04 0020 00000003   # EXPERIMENTER, len 32
    4f4e4600 000008fc     # ONF bundle control
    00000002 0004 0001    # bundle 2, COMMIT_REQUEST, ATOMIC
    ffff 0008 00002320    # an opaque property
  )"));
  const auto& b = std::get<BundleControl>(m.body);
  EXPECT_EQ(b.type, bundle_ctrl_type::kCommitRequest);
  EXPECT_EQ(b.properties, hex("ffff 0008 00002320"));
}

TEST(Of13Bundles, BundleAddWithoutProperties) {
  Message m = decode_roundtrip(hex(R"(
    04 04 0022 00000004   # EXPERIMENTER, len 34
    4f4e4600 000008fd     # ONF, exp_type 2301: bundle add
    00000001              # bundle_id 1
    0000                  # pad
    0001                  # flags ATOMIC
    04 02 000a 00000009   # inner ECHO_REQUEST, len 10 ...
    abcd                  # ... with 2 bytes of data; no padding when no properties
  )"));
  const auto& b = std::get<BundleAddMessage>(m.body);
  EXPECT_EQ(b.bundle_id, 1u);
  EXPECT_EQ(b.flags, bundle_flags::kAtomic);
  EXPECT_EQ(b.message, hex("04 02 000a 00000009 abcd"));
  EXPECT_TRUE(b.properties.empty());
  // The inner message is a message in its own right.
  auto inner = decode(b.message);
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(std::get<EchoRequest>(inner->body).data, hex("abcd"));
}

TEST(Of13Bundles, BundleAddWithPropertiesPadsTheInnerMessage) {
  Message m = decode_roundtrip(hex(R"(
    04 04 0030 00000004   # EXPERIMENTER, len 48
    4f4e4600 000008fd     # ONF bundle add
    00000001 0000 0001    # bundle 1, pad, ATOMIC
    04 02 000a 00000009   # inner ECHO_REQUEST, len 10
    abcd
    000000000000          # padding of the inner message to 16
    ffff 0008 aabbccdd    # a property
  )"));
  const auto& b = std::get<BundleAddMessage>(m.body);
  EXPECT_EQ(b.message.size(), 10u);
  EXPECT_EQ(b.properties, hex("ffff 0008 aabbccdd"));
}

TEST(Of13Bundles, MalformedBundleMessagesAreBadLen) {
  using namespace bad_request;
  const auto kBR = error_type::kBadRequest;
  // Bundle control with 4 of its 8 bytes.
  expect_decode_error(hex("04 04 0014 00000001  4f4e4600 000008fc  00000001"), kBR, kBadLen);
  // Bundle add whose inner message claims 4 bytes (less than a header).
  auto e = expect_decode_error(
      hex("04 04 0020 00000001  4f4e4600 000008fd  00000001 0000 0000  04 02 0004 00000001"),
      kBR, kBadLen);
  EXPECT_EQ(e.offset, 26u);
  // Inner message longer than what is left.
  expect_decode_error(
      hex("04 04 0020 00000001  4f4e4600 000008fd  00000001 0000 0000  04 02 0010 00000001"),
      kBR, kBadLen);
  // Bytes after the inner message shorter than its padding.
  expect_decode_error(
      hex("04 04 0024 00000001  4f4e4600 000008fd  00000001 0000 0000  04 02 000a 00000001 "
          "abcd 0000"),
      kBR, kBadLen);
  // Not even room for the inner header.
  expect_decode_error(hex("04 04 001a 00000001  4f4e4600 000008fd  00000001 0000 0000  0402"),
                      kBR, kBadLen);
}

TEST(Of13Bundles, EncodeRejectsAnIncompleteInnerMessage) {
  Message m{kVersion13, 1, BundleAddMessage{1, 0, hex("04 02 0010 00000001"), {}}};
  EXPECT_EQ(encode_error_of(m).code, bad_request::kBadLen);
  m.body = BundleAddMessage{1, 0, hex("0402"), {}};
  EXPECT_EQ(encode_error_of(m).code, bad_request::kBadLen);
}

// ------------------------------------------------------------------ switch config

TEST(Of13Messages, FeaturesRequestAndReply) {
  decode_roundtrip(hex("04 05 0008 00000001  # FEATURES_REQUEST"));
  Message m = decode_roundtrip(hex(R"(
    04 06 0020 00000001   # FEATURES_REPLY, len 32
    0000000000000abc      # datapath_id
    00000100              # n_buffers 256
    fe                    # n_tables 254
    01                    # auxiliary_id 1
    0000                  # pad
    0000004f              # capabilities FLOW|TABLE|PORT|GROUP|QUEUE
    00000000              # reserved
  )"));
  const auto& f = std::get<FeaturesReply>(m.body);
  EXPECT_EQ(f.datapath_id, 0xabcu);
  EXPECT_EQ(f.n_buffers, 256u);
  EXPECT_EQ(f.n_tables, 254);
  EXPECT_EQ(f.auxiliary_id, 1);
  EXPECT_EQ(f.capabilities, 0x4fu);
}

TEST(Of13Messages, SwitchConfig) {
  decode_roundtrip(hex("04 07 0008 00000001  # GET_CONFIG_REQUEST"));
  Message reply = decode_roundtrip(hex("04 08 000c 00000001  0000 ffff  # GET_CONFIG_REPLY"));
  EXPECT_EQ(std::get<GetConfigReply>(reply.body).miss_send_len, kControllerMaxLenNoBuffer);
  Message set = decode_roundtrip(hex("04 09 000c 00000001  0001 0080  # SET_CONFIG FRAG_DROP, 128"));
  EXPECT_EQ(std::get<SetConfig>(set.body).flags, 1);
  EXPECT_EQ(std::get<SetConfig>(set.body).miss_send_len, 128);
}

// ------------------------------------------------------------------ async

TEST(Of13Messages, PacketInCopiesInPortFromTheMatch) {
  Message m = decode_roundtrip(hex(R"(
    04 0a 002e 00000000   # PACKET_IN, len 46
    ffffffff              # buffer_id NO_BUFFER
    003c                  # total_len 60
    01                    # reason ACTION
    02                    # table_id 2
    0000000000000007      # cookie
    0001 000c             # match, length 12
    80000004 00000005     #   in_port 5
    00000000              #   pad
    0000                  # pad
    deadbeef              # data
  )"));
  const auto& p = std::get<PacketIn>(m.body);
  EXPECT_EQ(p.buffer_id, kNoBuffer);
  EXPECT_EQ(p.total_len, 60);
  EXPECT_EQ(p.reason, packet_in_reason::kAction);
  EXPECT_EQ(p.table_id, 2);
  EXPECT_EQ(p.cookie, 7u);
  EXPECT_EQ(p.in_port, 5u);
  EXPECT_EQ(p.data, hex("deadbeef"));
}

TEST(Of13Messages, PacketInEncodeAddsInPortWhenTheMatchHasNone) {
  PacketIn p;
  p.total_len = 4;
  p.in_port = 7;
  p.match.add(oxm::eth_type(0x0806));
  p.data = hex("deadbeef");
  Bytes wire = encode_ok(Message{kVersion13, 9, p});
  EXPECT_EQ(wire, hex(R"(
    04 0a 0036 00000009   # PACKET_IN, len 54
    ffffffff 0004 00 00   # buffer_id, total_len, reason, table_id
    0000000000000000      # cookie
    0001 0012             # match, length 18
    80000004 00000007     #   in_port 7, built from PacketIn::in_port, first
    8000 0a 02 0806       #   eth_type ARP
    000000000000          #   pad
    0000                  # pad
    deadbeef              # data
  )"));
  auto back = decode(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<PacketIn>(back->body).in_port, 7u);
}

TEST(Of13Messages, PacketInWithoutItsTwoPadBytesIsBadLen) {
  expect_decode_error(hex(R"(
    04 0a 0028 00000000   # PACKET_IN, len 40
    ffffffff 0000 00 00 0000000000000000
    0001 000c 80000004 00000005 00000000   # match ends the message: no pad
  )"),
                      error_type::kBadRequest, bad_request::kBadLen);
}

TEST(Of13Messages, FlowRemoved) {
  Message m = decode_roundtrip(hex(R"(
    04 0b 0040 00000000   # FLOW_REMOVED, len 64
    0000000000000001      # cookie
    8000                  # priority
    01                    # reason HARD_TIMEOUT
    03                    # table_id 3
    0000000a 00000064     # duration 10 s 100 ns
    0000 001e             # idle 0, hard 30
    0000000000000002      # packet_count
    0000000000000080      # byte_count
    0001 000a 8000 0a 02 0800  000000000000  # match eth_type IPv4, padded
  )"));
  const auto& f = std::get<FlowRemoved>(m.body);
  EXPECT_EQ(f.cookie, 1u);
  EXPECT_EQ(f.priority, 0x8000);
  EXPECT_EQ(f.reason, 1);
  EXPECT_EQ(f.table_id, 3);
  EXPECT_EQ(f.duration_sec, 10u);
  EXPECT_EQ(f.duration_nsec, 100u);
  EXPECT_EQ(f.hard_timeout, 30);
  EXPECT_EQ(f.packet_count, 2u);
  EXPECT_EQ(f.byte_count, 128u);
  ASSERT_EQ(f.match.fields.size(), 1u);
  EXPECT_EQ(f.match.fields[0], oxm::eth_type(0x0800));
}

TEST(Of13Messages, PortStatus) {
  Message m = decode_roundtrip(hex(R"(
    04 0c 0050 00000000   # PORT_STATUS, len 80
    02 00000000000000     # reason MODIFY, pad
    00000003 00000000 0a0b0c0d0e0f 0000   # port 3, hw_addr
    73312d65746831 000000000000000000     # name "s1-eth1"
    00000000 00000001     # config, state LINK_DOWN
    00000840 00000000 00000000 00000000   # curr, advertised, supported, peer
    000f4240 000f4240     # curr_speed, max_speed 1 Gb/s
  )"));
  const auto& s = std::get<PortStatus>(m.body);
  EXPECT_EQ(s.reason, port_reason::kModify);
  EXPECT_EQ(s.desc.port_no, 3u);
  EXPECT_EQ(s.desc.name, "s1-eth1");
  EXPECT_EQ(s.desc.state, port_state::kLinkDown);
  EXPECT_EQ(s.desc.curr_speed, 1000000u);
}

// ------------------------------------------------------------------ controller commands

TEST(Of13Messages, PacketOut) {
  Message m = decode_roundtrip(hex(R"(
    04 0d 002c 00000000   # PACKET_OUT, len 44
    ffffffff              # buffer_id NO_BUFFER
    fffffffd              # in_port CONTROLLER
    0010 000000000000     # actions_len 16, pad
    0000 0010 00000001 ffff 000000000000  # output 1
    aabbccdd              # data
  )"));
  const auto& p = std::get<PacketOut>(m.body);
  EXPECT_EQ(p.in_port, port::kController);
  EXPECT_EQ(p.actions, (ActionList{action::Output{1, 0xffff}}));
  EXPECT_EQ(p.data, hex("aabbccdd"));
}

TEST(Of13Messages, PacketOutMalformed) {
  // actions_len past the end of the message.
  auto e = expect_decode_error(hex("04 0d 0020 00000000  ffffffff fffffffd 0020 000000000000  "
                                   "0012 0008 00000000"),
                               error_type::kBadRequest, bad_request::kBadLen);
  EXPECT_EQ(e.offset, 16u);
  // actions_len 12 cuts the 16-byte output action.
  expect_decode_error(hex("04 0d 0028 00000000  ffffffff fffffffd 000c 000000000000  "
                          "0000 0010 00000001 ffff 000000000000"),
                      error_type::kBadAction, bad_action::kBadLen);
  // Unknown action type.
  expect_decode_error(hex("04 0d 0020 00000000  ffffffff fffffffd 0008 000000000000  "
                          "0009 0008 00000000"),
                      error_type::kBadAction, bad_action::kBadType);
}

TEST(Of13Messages, PacketOutEncodeRejectsOpenFlow10Actions) {
  PacketOut p;
  p.actions = {action::SetNwTos{4}};
  auto e = encode_error_of(Message{kVersion13, 1, p});
  EXPECT_EQ(e.type, error_type::kBadAction);
  EXPECT_EQ(e.code, bad_action::kBadType);
}

const char* const kFlowModHex = R"(
  04 0e 0060 00000005   # FLOW_MOD, len 96
  0000000000000abc      # cookie
  0000000000000000      # cookie_mask
  01                    # table_id 1
  00                    # command ADD
  0000 0000             # idle, hard timeout
  0018                  # priority 24
  ffffffff              # buffer_id NO_BUFFER
  ffffffff ffffffff     # out_port, out_group ANY
  0001                  # flags SEND_FLOW_REM
  0000                  # pad
  0001 0016             # match, length 22
    8000 0a 02 0800     #   eth_type IPv4
    8000 19 08 0a000000 ffffff00  # ipv4_dst 10.0.0.0/24
    0000                #   pad
  0004 0010 00000000    # APPLY_ACTIONS
    0016 0008 00000005  #   group 5
  0001 0008 02 000000   # GOTO_TABLE 2
)";

TEST(Of13Messages, FlowMod) {
  Message m = decode_roundtrip(hex(kFlowModHex));
  const auto& f = std::get<FlowMod>(m.body);
  EXPECT_EQ(f.cookie, 0xabcu);
  EXPECT_EQ(f.table_id, 1);
  EXPECT_EQ(f.command, flow_mod_command::kAdd);
  EXPECT_EQ(f.priority, 24);
  EXPECT_EQ(f.out_group, kGroupAny);
  EXPECT_EQ(f.flags, flow_mod_flags::kSendFlowRem);
  ASSERT_EQ(f.match.fields.size(), 2u);
  EXPECT_EQ(f.match.fields[1], oxm::ipv4_dst(0x0a000000, 0xffffff00));
  ASSERT_EQ(f.instructions.size(), 2u);
  EXPECT_EQ(std::get<instruction::ApplyActions>(f.instructions[0]).actions,
            (ActionList{action::Group{5}}));
  EXPECT_EQ(std::get<instruction::GotoTable>(f.instructions[1]).table_id, 2);
}

TEST(Of13Messages, FlowModDeleteEveryCommandAndFlag) {
  for (std::uint8_t command = 0; command <= 4; ++command) {
    Bytes wire = hex(R"(
      04 0e 0038 00000001   # FLOW_MOD, len 56: no instructions
      0000000000000000 0000000000000000
      ff 00 0000 0000 0000  # table ALL, command (patched), timeouts, priority
      ffffffff ffffffff ffffffff
      001f 0000             # every 1.3 flag
      0001 0004 00000000    # empty match
    )");
    wire[25] = command;
    Message m = decode_roundtrip(wire);
    EXPECT_EQ(std::get<FlowMod>(m.body).command, command);
    EXPECT_TRUE(std::get<FlowMod>(m.body).instructions.empty());
  }
}

TEST(Of13Messages, FlowModBadCommandAndFlags) {
  Bytes wire = hex(kFlowModHex);
  wire[25] = 5;  // command
  auto e = expect_decode_error(wire, error_type::kFlowModFailed, flow_mod_failed::kBadCommand);
  EXPECT_EQ(e.offset, 25u);
  wire = hex(kFlowModHex);
  wire[44] = 0x00;
  wire[45] = 0x20;  // flags bit 5: not defined in 1.3
  expect_decode_error(wire, error_type::kFlowModFailed, flow_mod_failed::kBadFlags);

  FlowMod f;
  f.command = 9;
  EXPECT_EQ(encode_error_of(Message{kVersion13, 1, f}).code, flow_mod_failed::kBadCommand);
}

TEST(Of13Messages, FlowModBadInstructions) {
  Bytes wire = hex(kFlowModHex);
  wire[88] = 0x00;
  wire[89] = 0x09;  // GOTO_TABLE becomes type 9
  auto e =
      expect_decode_error(wire, error_type::kBadInstruction, bad_instruction::kUnknownInst);
  EXPECT_EQ(e.offset, 88u);
  // Four trailing bytes after the instructions: a truncated instruction.
  wire = hex(kFlowModHex);
  wire.insert(wire.end(), {0x00, 0x05, 0x00, 0x08});
  wire[3] = 100;
  expect_decode_error(wire, error_type::kBadInstruction, bad_instruction::kBadLen);
}

const char* const kGroupModHex = R"(
  04 0f 0050 00000006   # GROUP_MOD, len 80
  0000                  # command ADD
  01 00                 # type SELECT, pad
  00000001              # group_id 1
  0020 0032 ffffffff ffffffff 00000000   # bucket len 32, weight 50
    0000 0010 00000001 ffff 000000000000 #   output 1
  0020 0032 ffffffff ffffffff 00000000   # bucket len 32, weight 50
    0000 0010 00000002 ffff 000000000000 #   output 2
)";

TEST(Of13Messages, GroupMod) {
  Message m = decode_roundtrip(hex(kGroupModHex));
  const auto& g = std::get<GroupMod>(m.body);
  EXPECT_EQ(g.command, group_mod_command::kAdd);
  EXPECT_EQ(g.type, group_type::kSelect);
  EXPECT_EQ(g.group_id, 1u);
  ASSERT_EQ(g.buckets.size(), 2u);
  EXPECT_EQ(g.buckets[1].weight, 50);
  EXPECT_EQ(g.buckets[1].actions, (ActionList{action::Output{2, 0xffff}}));
  // DELETE needs no buckets.
  Message del = decode_roundtrip(hex("04 0f 0010 00000006  0002 02 00 00000001"));
  EXPECT_TRUE(std::get<GroupMod>(del.body).buckets.empty());
}

TEST(Of13Messages, GroupModMalformed) {
  using namespace group_mod_failed;
  const auto kG = error_type::kGroupModFailed;
  Bytes wire = hex(kGroupModHex);
  wire[9] = 3;  // command 3
  expect_decode_error(wire, kG, kBadCommand);
  wire = hex(kGroupModHex);
  wire[10] = 4;  // type 4
  expect_decode_error(wire, kG, kBadType);
  wire = hex(kGroupModHex);
  wire[17] = 8;  // first bucket len 8
  expect_decode_error(wire, kG, kBadBucket);
  wire = hex(kGroupModHex);
  wire.insert(wire.end(), {0, 0, 0, 0});
  wire[3] = 84;  // four trailing bytes
  expect_decode_error(wire, kG, kBadBucket);

  GroupMod g;
  g.type = 7;
  EXPECT_EQ(encode_error_of(Message{kVersion13, 1, g}).code, kBadType);
}

TEST(Of13Messages, PortMod) {
  Message m = decode_roundtrip(hex(R"(
    04 10 0028 00000000   # PORT_MOD, len 40
    00000001 00000000     # port_no 1, pad
    001122334455 0000     # hw_addr, pad
    00000001              # config PORT_DOWN
    00000001              # mask
    00000000              # advertise
    00000000              # pad
  )"));
  const auto& p = std::get<PortMod>(m.body);
  EXPECT_EQ(p.port_no, 1u);
  EXPECT_EQ(p.hw_addr.to_string(), "00:11:22:33:44:55");
  EXPECT_EQ(p.config, port_config::kPortDown);
  EXPECT_EQ(p.mask, port_config::kPortDown);
}

TEST(Of13Messages, TableMod) {
  Message m = decode_roundtrip(hex("04 11 0010 00000000  01 000000  00000003  # table 1, config 3"));
  EXPECT_EQ(std::get<TableMod>(m.body).table_id, 1);
  EXPECT_EQ(std::get<TableMod>(m.body).config, 3u);
  expect_decode_error(hex("04 11 0014 00000000  01 000000 00000003 00000000  # trailing"),
                      error_type::kBadRequest, bad_request::kBadLen);
}

TEST(Of13Messages, MeterMod) {
  Message m = decode_roundtrip(hex(R"(
    04 1d 0030 00000000   # METER_MOD, len 48
    0000                  # command ADD
    0005                  # flags KBPS | BURST
    00000001              # meter_id 1
    0001 0010 000003e8 00000064 00000000   # DROP rate 1000 burst 100
    0002 0010 000001f4 00000032 02 000000  # DSCP_REMARK rate 500 burst 50 prec 2
  )"));
  const auto& mm = std::get<MeterMod>(m.body);
  EXPECT_EQ(mm.flags, 5);
  EXPECT_EQ(mm.meter_id, 1u);
  ASSERT_EQ(mm.bands.size(), 2u);
  EXPECT_EQ(mm.bands[0].rate, 1000u);
  EXPECT_EQ(mm.bands[1].prec_level, 2);
}

TEST(Of13Messages, MeterModMalformed) {
  expect_decode_error(hex("04 1d 0010 00000000  0003 0000 00000001  # command 3"),
                      error_type::kMeterModFailed, meter_mod_failed::kBadCommand);
  expect_decode_error(hex("04 1d 0020 00000000  0000 0000 00000001  "
                          "0004 0010 000003e8 00000064 00000000  # band type 4"),
                      error_type::kMeterModFailed, meter_mod_failed::kBadBand);
  expect_decode_error(hex("04 1d 0018 00000000  0000 0000 00000001  "
                          "0001 0010 000003e8  # band cut short"),
                      error_type::kBadRequest, bad_request::kBadLen);
}

// ------------------------------------------------------------------ multipart, barrier

TEST(Of13Messages, MultipartIsDelegated) {
  Message m = decode_roundtrip(hex("04 12 0010 00000001  0000 0000 00000000  # DESC request"));
  const auto& r = std::get<MultipartRequest>(m.body);
  EXPECT_TRUE(std::holds_alternative<DescStatsRequest>(r.body));
}

TEST(Of13Messages, Barrier) {
  Message req = decode_roundtrip(hex("04 14 0008 0000002a  # BARRIER_REQUEST"));
  EXPECT_TRUE(std::holds_alternative<BarrierRequest>(req.body));
  Message rep = decode_roundtrip(hex("04 15 0008 0000002a  # BARRIER_REPLY"));
  EXPECT_TRUE(std::holds_alternative<BarrierReply>(rep.body));
}

// ------------------------------------------------------------------ queues

TEST(Of13Queues, GetConfigRequest) {
  Message m = decode_roundtrip(hex("04 16 0010 00000000  00000001 00000000  # port 1, pad"));
  EXPECT_EQ(std::get<QueueGetConfigRequest>(m.body).port, 1u);
}

TEST(Of13Queues, GetConfigReplyWithUnpaddedLengths) {
  Message m = decode_roundtrip(hex(R"(
    04 17 0051 00000000   # QUEUE_GET_CONFIG_REPLY, len 81
    00000001 00000000     # port 1, pad
    00000001 00000001 0020 000000000000   # queue 1 on port 1, len 32
      0001 0010 00000000 01f4 000000000000  #   MIN_RATE 50.0%
    00000002 00000001 0021 000000000000   # queue 2, len 33
      ffff 0011 00000000  #   EXPERIMENTER property, len 17 (no padding)
      000003e7 00000000   #   experimenter 999, pad
      ab                  #   one data byte
  )"));
  const auto& r = std::get<QueueGetConfigReply>(m.body);
  EXPECT_EQ(r.port, 1u);
  ASSERT_EQ(r.queues.size(), 2u);
  ASSERT_EQ(r.queues[0].properties.size(), 1u);
  EXPECT_EQ(r.queues[0].properties[0].property, 1);
  EXPECT_EQ(r.queues[0].properties[0].rate, 500);
  ASSERT_EQ(r.queues[1].properties.size(), 1u);
  EXPECT_EQ(r.queues[1].properties[0].experimenter, 999u);
  EXPECT_EQ(r.queues[1].properties[0].data, hex("ab"));
}

TEST(Of13Queues, MalformedQueuesAreBadLen) {
  using namespace bad_request;
  const auto kBR = error_type::kBadRequest;
  // Queue length 8, below its 16-byte header.
  expect_decode_error(hex("04 17 0020 00000000  00000001 00000000  "
                          "00000001 00000001 0008 000000000000"),
                      kBR, kBadLen);
  // Queue length past the end.
  expect_decode_error(hex("04 17 0020 00000000  00000001 00000000  "
                          "00000001 00000001 0030 000000000000"),
                      kBR, kBadLen);
  // Zero-length property: must fail, not loop.
  expect_decode_error(hex("04 17 0028 00000000  00000001 00000000  "
                          "00000001 00000001 0018 000000000000  0001 0000 00000000"),
                      kBR, kBadLen);
  // MIN_RATE of 24 bytes.
  expect_decode_error(hex("04 17 0038 00000000  00000001 00000000  "
                          "00000001 00000001 0028 000000000000  "
                          "0001 0018 00000000 01f4 000000000000 0000000000000000"),
                      kBR, kBadLen);
  // Experimenter property below 16 bytes.
  expect_decode_error(hex("04 17 0028 00000000  00000001 00000000  "
                          "00000001 00000001 0018 000000000000  ffff 0008 00000000"),
                      kBR, kBadLen);
}

// ------------------------------------------------------------------ roles, async config

TEST(Of13Messages, RoleRequestAndReply) {
  Message req = decode_roundtrip(hex(R"(
    04 18 0018 00000000   # ROLE_REQUEST, len 24
    00000002 00000000     # role MASTER, pad
    0000000000000005      # generation_id 5
  )"));
  EXPECT_EQ(std::get<RoleRequest>(req.body).role, controller_role::kMaster);
  EXPECT_EQ(std::get<RoleRequest>(req.body).generation_id, 5u);
  Message rep = decode_roundtrip(hex("04 19 0018 00000000  00000003 00000000 0000000000000006"));
  EXPECT_EQ(std::get<RoleReply>(rep.body).role, controller_role::kSlave);
  EXPECT_EQ(std::get<RoleReply>(rep.body).generation_id, 6u);
}

TEST(Of13Messages, AsyncConfig) {
  decode_roundtrip(hex("04 1a 0008 00000000  # GET_ASYNC_REQUEST"));
  const char* body = R"(
    00000003 00000000     # packet_in mask: master/equal, slave
    00000007 00000001     # port_status mask
    0000000f 00000000     # flow_removed mask
  )";
  Message rep = decode_roundtrip(hex(std::string("04 1b 0020 00000000\n") + body));
  const AsyncConfig& c = std::get<GetAsyncReply>(rep.body).config;
  EXPECT_EQ(c.packet_in_mask[0], 3u);
  EXPECT_EQ(c.port_status_mask[1], 1u);
  EXPECT_EQ(c.flow_removed_mask[0], 15u);
  Message set = decode_roundtrip(hex(std::string("04 1c 0020 00000000\n") + body));
  EXPECT_EQ(std::get<SetAsync>(set.body).config, c);
}

TEST(Of13Messages, WireTypes) {
  EXPECT_EQ(of13::wire_type(MessageBody{FlowMod{}}), 14);
  EXPECT_EQ(of13::wire_type(MessageBody{MeterMod{}}), 29);
  EXPECT_EQ(of13::wire_type(MessageBody{BundleAddMessage{}}), 4);
  EXPECT_EQ(of13::wire_type(MessageBody{QueueGetConfigReply{}}), 23);
}

}  // namespace
}  // namespace tapflow::openflow

namespace tapflow::openflow {
namespace {

// Found by the decode fuzzer: a PACKET_IN whose match has no in_port must not
// gain one (in_port 0) when re-encoded.
TEST(Of13PacketIn, MatchWithoutInPortStaysWithout) {
  Bytes wire = testing::hex(R"(
    04 0a 0022 00000001   # PACKET_IN, len 34
    ffffffff 0000 00 00   # no buffer, total_len 0, reason no_match, table 0
    0000000000000000      # cookie
    0001 0004 00000000    # empty OXM match, padded to 8
    0000                  # pad
  )");
  Message m = testing::decode_roundtrip(wire);
  EXPECT_EQ(std::get<PacketIn>(m.body).in_port, 0u);
  EXPECT_TRUE(std::get<PacketIn>(m.body).match.empty());
}

}  // namespace
}  // namespace tapflow::openflow
