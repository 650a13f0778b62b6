// OpenFlow 1.0 actions: every type's layout and its model form, vendor
// actions kept opaque, the model actions that have 1.0 spellings (SET_FIELD),
// those that have none, and malformed action lists with the exact error.
#include <gtest/gtest.h>

#include "of10_test_util.hpp"

namespace tapflow::openflow {
namespace {

using namespace of10test;

Decoded<ActionList> decode_actions(const Bytes& b) {
  return decode_part(b, of10::decode_actions, error_type::kBadAction, bad_action::kBadLen);
}

ActionList actions_roundtrip(const Bytes& wire) {
  auto d = decode_actions(wire);
  EXPECT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.left, 0u);
  Bytes again;
  wire::Writer w(again);
  Status st = of10::encode_actions(d.value, w);
  EXPECT_TRUE(st.ok()) << describe(st.error());
  EXPECT_EQ(hexs(again), hexs(wire));
  return d.value;
}

std::string encoded(const ActionList& a) {
  Bytes out;
  wire::Writer w(out);
  Status st = of10::encode_actions(a, w);
  EXPECT_TRUE(st.ok()) << describe(st.error());
  return hexs(out);
}

void expect_encode_action_error(const Action& a, std::uint16_t code) {
  Bytes out;
  wire::Writer w(out);
  Status st = of10::encode_actions({a}, w);
  ASSERT_FALSE(st.ok()) << "encoded an action 1.0 does not have: " << hexs(out);
  EXPECT_EQ(st.error().type, error_type::kBadAction) << describe(st.error());
  EXPECT_EQ(st.error().code, code) << describe(st.error());
}

OfError expect_action_decode_error(const Bytes& b, std::uint16_t code) {
  auto d = decode_actions(b);
  EXPECT_TRUE(d.error.has_value()) << "decoded although malformed";
  if (!d.error) return {};
  EXPECT_EQ(d.error->type, error_type::kBadAction) << describe(*d.error);
  EXPECT_EQ(d.error->code, code) << describe(*d.error);
  return *d.error;
}

TEST(Of10Actions, Output) {
  ActionList a = actions_roundtrip(hex(R"(
    0000 0008 0002 ffff   # OUTPUT, len 8, port 2, max_len 65535
    0000 0008 fffd 0080   # OUTPUT, len 8, port CONTROLLER, max_len 128
  )"));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(std::get<action::Output>(a[0]), (action::Output{2, 0xffff}));
  EXPECT_EQ(std::get<action::Output>(a[1]), (action::Output{port::kController, 128}));
}

TEST(Of10Actions, EveryFixedSizeType) {
  ActionList a = actions_roundtrip(hex(R"(
    0001 0008 0064 0000                    # SET_VLAN_VID 100, pad
    0002 0008 05 000000                    # SET_VLAN_PCP 5, pad
    0003 0008 00000000                     # STRIP_VLAN, pad
    0004 0010 020000000001 000000000000    # SET_DL_SRC 02:00:00:00:00:01, pad
    0005 0010 020000000002 000000000000    # SET_DL_DST 02:00:00:00:00:02, pad
    0006 0008 0a000001                     # SET_NW_SRC 10.0.0.1
    0007 0008 0a000002                     # SET_NW_DST 10.0.0.2
    0008 0008 b8 000000                    # SET_NW_TOS 0xb8, pad
    0009 0008 1f90 0000                    # SET_TP_SRC 8080, pad
    000a 0008 0050 0000                    # SET_TP_DST 80, pad
    000b 0010 0003 000000000000 00000007   # ENQUEUE port 3, pad, queue 7
  )"));
  const ActionList want = {
      action::SetVlanVid{100},
      action::SetVlanPcp{5},
      action::PopVlan{},
      action::SetField{oxm::eth_src(MacAddress::from_u64(0x020000000001))},
      action::SetField{oxm::eth_dst(MacAddress::from_u64(0x020000000002))},
      action::SetField{oxm::ipv4_src(0x0a000001)},
      action::SetField{oxm::ipv4_dst(0x0a000002)},
      action::SetNwTos{0xb8},
      action::SetTpSrc{8080},
      action::SetTpDst{80},
      action::Enqueue{3, 7},
  };
  EXPECT_EQ(a, want);
}

TEST(Of10Actions, EnqueueOnReservedPort) {
  ActionList a = actions_roundtrip(hex("000b 0010 fff8 000000000000 00000001  # ENQUEUE IN_PORT q1"));
  EXPECT_EQ(std::get<action::Enqueue>(a.at(0)), (action::Enqueue{port::kInPort, 1}));
}

TEST(Of10Actions, VendorActionsStayOpaque) {
  // Nicira NXAST_DEC_TTL and NXAST_SET_MPLS_LABEL, as in the ovs-ofctl-of10
  // conformance files, and a vendor action with nothing after its id.
  ActionList a = actions_roundtrip(hex(R"(
    ffff 0010 00002320 0012 000000000000   # VENDOR len 16, Nicira, subtype 18, pad
    ffff 0010 00002320 001e 0000 0000000a  # VENDOR len 16, Nicira, subtype 30, label 10
    ffff 0008 00abcdef                     # VENDOR len 8, vendor 0xabcdef, no data
  )"));
  ASSERT_EQ(a.size(), 3u);
  const auto& dec_ttl = std::get<action::Experimenter>(a[0]);
  EXPECT_EQ(dec_ttl.experimenter, kNiciraExperimenter);
  EXPECT_EQ(dec_ttl.data, hex("0012 000000000000"));
  EXPECT_EQ(std::get<action::Experimenter>(a[1]).data, hex("001e 0000 0000000a"));
  EXPECT_EQ(std::get<action::Experimenter>(a[2]), (action::Experimenter{0xabcdef, {}}));
}

TEST(Of10Actions, EmptyListIsEmpty) { EXPECT_TRUE(actions_roundtrip({}).empty()); }

TEST(Of10Actions, SetFieldsWithOneZeroForms) {
  EXPECT_EQ(encoded({action::SetField{oxm::eth_src(MacAddress::from_u64(0x0a0b0c0d0e0f))},
                     action::SetField{oxm::ipv4_dst(0xc0000201)},
                     action::SetField{oxm::tcp_src(22)}, action::SetField{oxm::udp_dst(53)},
                     action::SetField{oxm::uint_field(oxm_field::kSctpDst, 9, 2)}}),
            hexs(hex(R"(
    0004 0010 0a0b0c0d0e0f 000000000000   # SET_DL_SRC
    0007 0008 c0000201                    # SET_NW_DST 192.0.2.1
    0009 0008 0016 0000                   # SET_TP_SRC 22
    000a 0008 0035 0000                   # SET_TP_DST 53
    000a 0008 0009 0000                   # SET_TP_DST 9
  )")));
  // VLAN, PCP and DSCP set-fields become the 1.0 VLAN/TOS actions; a 1.3
  // vlan_vid value may carry OFPVID_PRESENT.
  EXPECT_EQ(encoded({action::SetField{oxm::vlan_vid(kVlanPresent | 42)},
                     action::SetField{oxm::vlan_vid(43)}, action::SetField{oxm::vlan_pcp(3)},
                     action::SetField{oxm::uint_field(oxm_field::kIpDscp, 46, 1)}}),
            hexs(hex(R"(
    0001 0008 002a 0000   # SET_VLAN_VID 42
    0001 0008 002b 0000   # SET_VLAN_VID 43
    0002 0008 03 000000   # SET_VLAN_PCP 3
    0008 0008 b8 000000   # SET_NW_TOS 0xb8 (DSCP 46)
  )")));
}

TEST(Of10Actions, ActionsWithoutOneZeroFormAreBadType) {
  for (const Action& a : ActionList{action::Group{1}, action::DecNwTtl{}, action::SetNwTtl{9},
                                    action::PushVlan{}, action::PushMpls{}, action::PopMpls{},
                                    action::SetMplsTtl{1}, action::DecMplsTtl{},
                                    action::CopyTtlIn{}, action::CopyTtlOut{},
                                    action::SetQueue{1}, action::PushPbb{}, action::PopPbb{}}) {
    SCOPED_TRACE(a.index());
    expect_encode_action_error(a, bad_action::kBadType);
  }
}

TEST(Of10Actions, SetFieldErrors) {
  const std::uint8_t v6[16] = {0xfe, 0x80};
  expect_encode_action_error(action::SetField{oxm::ipv6_dst(v6)}, bad_action::kBadSetType);
  expect_encode_action_error(action::SetField{oxm::arp_op(1)}, bad_action::kBadSetType);
  expect_encode_action_error(action::SetField{oxm::metadata(1)}, bad_action::kBadSetType);
  expect_encode_action_error(action::SetField{oxm::ipv4_src(1, 0xffff0000)},
                             bad_action::kBadSetArgument);
  expect_encode_action_error(action::SetField{oxm::vlan_vid(0x2001)},
                             bad_action::kBadSetArgument);
  expect_encode_action_error(action::SetField{oxm::uint_field(oxm_field::kIpDscp, 64, 1)},
                             bad_action::kBadSetArgument);
  expect_encode_action_error(action::SetField{oxm::uint_field(oxm_field::kIpv4Src, 1, 2)},
                             bad_action::kBadSetLen);
}

TEST(Of10Actions, EncodeValueErrors) {
  expect_encode_action_error(action::Output{0xff00, 0}, bad_action::kBadOutPort);
  expect_encode_action_error(action::Output{0xfffffeff, 0}, bad_action::kBadOutPort);
  expect_encode_action_error(action::Enqueue{0x12345, 1}, bad_action::kBadOutPort);
  expect_encode_action_error(action::SetVlanVid{4096}, bad_action::kBadArgument);
  expect_encode_action_error(action::SetVlanPcp{8}, bad_action::kBadArgument);
  // Vendor data must keep the action a multiple of 8 bytes.
  expect_encode_action_error(action::Experimenter{kNiciraExperimenter, {1, 2, 3}},
                             bad_action::kBadLen);
}

TEST(Of10Actions, MalformedLengths) {
  using namespace bad_action;
  auto e = expect_action_decode_error(hex("0000 0000 0001 ffff   # OUTPUT len 0"), kBadLen);
  EXPECT_EQ(e.offset, 2u);
  expect_action_decode_error(hex("0003 0004 0000 0000   # STRIP_VLAN len 4"), kBadLen);
  expect_action_decode_error(hex("0000 000c 0001 ffff 00000000   # len 12: not a multiple of 8"),
                             kBadLen);
  expect_action_decode_error(hex("0000 0010 0001 ffff 0000000000000000   # OUTPUT len 16"),
                             kBadLen);
  expect_action_decode_error(hex("0004 0008 020000000001   # SET_DL_SRC len 8, must be 16"),
                             kBadLen);
  expect_action_decode_error(hex("000b 0008 0003 0000   # ENQUEUE len 8, must be 16"), kBadLen);
  expect_action_decode_error(hex("0000 0010 0001 ffff   # len 16 but 8 bytes left"), kBadLen);
  expect_action_decode_error(hex("0000 0008 0001 ffff  0000   # 2 trailing bytes"), kBadLen);
  expect_action_decode_error(hex("0000 0008 0001 ffff  00000008   # trailing header only"),
                             kBadLen);
  expect_action_decode_error(hex("ffff 0000 00002320   # VENDOR len 0"), kBadLen);
}

TEST(Of10Actions, UnknownTypesAndBadArguments) {
  using namespace bad_action;
  auto e = expect_action_decode_error(
      hex("0000 0008 0001 ffff  000c 0008 00000000   # type 12 after a good OUTPUT"), kBadType);
  EXPECT_EQ(e.offset, 8u);
  expect_action_decode_error(hex("0011 0010 0000000000000000 00000000   # 1.3 PUSH_VLAN number"),
                             kBadType);
  expect_action_decode_error(hex("fffe 0008 00000000"), kBadType);
  expect_action_decode_error(hex("0001 0008 1000 0000   # SET_VLAN_VID 4096"), kBadArgument);
  expect_action_decode_error(hex("0002 0008 08 000000   # SET_VLAN_PCP 8"), kBadArgument);
}

TEST(Of10Actions, InstructionsAsActions) {
  Bytes out;
  wire::Writer w(out);
  EXPECT_TRUE(of10::encode_instructions_as_actions({}, w).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(of10::encode_instructions_as_actions(
                  {instruction::ApplyActions{{action::Output{1, 0}}}}, w)
                  .ok());
  EXPECT_EQ(hexs(out), "0000000800010000");
  EXPECT_TRUE(of10::actions_to_instructions({}).empty());
  EXPECT_EQ(of10::actions_to_instructions({action::PopVlan{}}),
            (InstructionList{instruction::ApplyActions{{action::PopVlan{}}}}));
  for (const InstructionList& bad :
       {InstructionList{instruction::WriteActions{{action::Output{1, 0}}}},
        InstructionList{instruction::GotoTable{1}},
        InstructionList{instruction::ApplyActions{}, instruction::ApplyActions{}},
        InstructionList{instruction::ApplyActions{}, instruction::Meter{1}},
        InstructionList{instruction::ClearActions{}}}) {
    Status st = of10::encode_instructions_as_actions(bad, w);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().type, error_type::kBadInstruction);
    EXPECT_EQ(st.error().code, bad_instruction::kUnsupInst);
  }
}

}  // namespace
}  // namespace tapflow::openflow
