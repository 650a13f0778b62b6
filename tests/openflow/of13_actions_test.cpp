// OpenFlow 1.3 actions, instructions, ofp_port, group buckets and meter bands:
// every type's layout, round trips, and the malformed variants with the exact
// error a switch would answer.
#include <gtest/gtest.h>

#include <optional>

#include "test_util.hpp"
#include "version_codecs.hpp"

namespace tapflow::openflow {
namespace {

using testing::hex;

template <class T>
struct Decoded {
  T value;
  std::optional<OfError> error;
  std::size_t left = 0;
};
// Runs a part decoder over `b`; underruns of the outer reader report
// (under_type, under_code) as the caller's container would.
template <class Fn>
auto decode_part(const Bytes& b, Fn fn, std::uint16_t under_type = error_type::kBadRequest,
                 std::uint16_t under_code = bad_request::kBadLen) {
  wire::DecodeState st;
  wire::Reader r(b, st, 0, under_type, under_code);
  auto v = fn(r);
  return Decoded<decltype(v)>{std::move(v), st.error, r.remaining()};
}

template <class Fn>
void expect_part_error(const Bytes& b, Fn fn, std::uint16_t type, std::uint16_t code) {
  auto d = decode_part(b, fn);
  ASSERT_TRUE(d.error.has_value()) << "decoded although malformed";
  EXPECT_EQ(d.error->type, type) << describe(*d.error);
  EXPECT_EQ(d.error->code, code) << describe(*d.error);
}

void expect_action_error(const Bytes& b, std::uint16_t code) {
  expect_part_error(b, of13::decode_actions, error_type::kBadAction, code);
}
void expect_instruction_error(const Bytes& b, std::uint16_t type, std::uint16_t code) {
  expect_part_error(b, of13::decode_instructions, type, code);
}

Bytes encode_actions_bytes(const ActionList& a) {
  Bytes out;
  wire::Writer w(out);
  Status st = of13::encode_actions(a, w);
  EXPECT_TRUE(st.ok()) << describe(st.error());
  return out;
}

// Decodes an action list, expects no error and the same bytes back.
ActionList actions_roundtrip(const Bytes& wire) {
  auto d = decode_part(wire, of13::decode_actions);
  EXPECT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.left, 0u);
  Bytes again = encode_actions_bytes(d.value);
  EXPECT_EQ(to_hex(again.data(), again.size()), to_hex(wire.data(), wire.size()));
  return d.value;
}

// ------------------------------------------------------------------ actions

TEST(Of13Actions, Output) {
  ActionList a = actions_roundtrip(hex(R"(
    0000 0010      # OUTPUT, len 16
    00000001       # port 1
    ffe5           # max_len 65509
    000000000000   # pad
  )"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<action::Output>(a[0]), (action::Output{1, 0xffe5}));
}

TEST(Of13Actions, EveryFixedSizeAction) {
  ActionList a = actions_roundtrip(hex(R"(
    000b 0008 00000000   # COPY_TTL_OUT
    000c 0008 00000000   # COPY_TTL_IN
    000f 0008 40 000000  # SET_MPLS_TTL 64
    0010 0008 00000000   # DEC_MPLS_TTL
    0011 0008 88a8 0000  # PUSH_VLAN 802.1ad
    0012 0008 00000000   # POP_VLAN
    0013 0008 8848 0000  # PUSH_MPLS multicast
    0014 0008 86dd 0000  # POP_MPLS to IPv6
    0015 0008 00000007   # SET_QUEUE 7
    0016 0008 00000009   # GROUP 9
    0017 0008 3f 000000  # SET_NW_TTL 63
    0018 0008 00000000   # DEC_NW_TTL
    001a 0008 88e7 0000  # PUSH_PBB
    001b 0008 00000000   # POP_PBB
  )"));
  ASSERT_EQ(a.size(), 14u);
  EXPECT_TRUE(std::holds_alternative<action::CopyTtlOut>(a[0]));
  EXPECT_TRUE(std::holds_alternative<action::CopyTtlIn>(a[1]));
  EXPECT_EQ(std::get<action::SetMplsTtl>(a[2]).ttl, 64);
  EXPECT_TRUE(std::holds_alternative<action::DecMplsTtl>(a[3]));
  EXPECT_EQ(std::get<action::PushVlan>(a[4]).ethertype, 0x88a8);
  EXPECT_TRUE(std::holds_alternative<action::PopVlan>(a[5]));
  EXPECT_EQ(std::get<action::PushMpls>(a[6]).ethertype, 0x8848);
  EXPECT_EQ(std::get<action::PopMpls>(a[7]).ethertype, 0x86dd);
  EXPECT_EQ(std::get<action::SetQueue>(a[8]).queue_id, 7u);
  EXPECT_EQ(std::get<action::Group>(a[9]).group_id, 9u);
  EXPECT_EQ(std::get<action::SetNwTtl>(a[10]).ttl, 63);
  EXPECT_TRUE(std::holds_alternative<action::DecNwTtl>(a[11]));
  EXPECT_EQ(std::get<action::PushPbb>(a[12]).ethertype, 0x88e7);
  EXPECT_TRUE(std::holds_alternative<action::PopPbb>(a[13]));
}

TEST(Of13Actions, SetFieldPadsItsOxmToEight) {
  ActionList a = actions_roundtrip(hex(R"(
    0019 0010          # SET_FIELD, len 16
    8000 08 06         # eth_src (field 4 << 1), length 6
    001122334455
    0000               # pad: 4 + 4 + 6 = 14 -> 16
  )"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<action::SetField>(a[0]).field,
            oxm::eth_src(*MacAddress::parse("00:11:22:33:44:55")));
}

TEST(Of13Actions, SetFieldFillingEightNeedsNoPad) {
  ActionList a = actions_roundtrip(hex(R"(
    0019 0018                         # SET_FIELD, len 24 = 4 + 4 + 16, no pad
    8000 36 10                        # ipv6_dst
    fe800000000000000000000000000001  # fe80::1
  )"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::get<action::SetField>(a[0]).field.is_basic(oxm_field::kIpv6Dst));
}

TEST(Of13Actions, ExperimenterActionIsKeptByteForByte) {
  ActionList a = actions_roundtrip(hex(R"(
    ffff 0010      # EXPERIMENTER, len 16
    00002320       # Nicira
    000e           # subtype 14: resubmit_table
    fff8 ff        # in_port IN_PORT, table 255
    000000         # pad
  )"));
  ASSERT_EQ(a.size(), 1u);
  const auto& e = std::get<action::Experimenter>(a[0]);
  EXPECT_EQ(e.experimenter, kNiciraExperimenter);
  EXPECT_EQ(e.data, hex("000e fff8 ff 000000"));
}

TEST(Of13Actions, EmptyListIsEmpty) {
  auto d = decode_part(Bytes{}, of13::decode_actions);
  EXPECT_FALSE(d.error);
  EXPECT_TRUE(d.value.empty());
}

TEST(Of13Actions, ZeroLengthIsBadLenNotALoop) {
  expect_action_error(hex("0000 0000 00000001 ffff 000000000000"), bad_action::kBadLen);
}

TEST(Of13Actions, LengthNotMultipleOfEightIsBadLen) {
  auto d = decode_part(hex("0000 000c 00000001 ffff 0000"), of13::decode_actions);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->code, bad_action::kBadLen);
  EXPECT_EQ(d.error->offset, 2u);
}

TEST(Of13Actions, LengthPastTheListIsBadLen) {
  expect_action_error(hex("0000 0010 00000001  # OUTPUT of 16 with 8 present"),
                      bad_action::kBadLen);
}

TEST(Of13Actions, TruncatedHeaderIsBadLen) {
  expect_action_error(hex("0012 0008 00000000  0012 00"), bad_action::kBadLen);
}

TEST(Of13Actions, WrongFixedLengthIsBadLen) {
  expect_action_error(hex("0000 0008 00000001  # OUTPUT needs 16"), bad_action::kBadLen);
  expect_action_error(hex("0012 0010 0000000000000000 0000  # POP_VLAN of 16"),
                      bad_action::kBadLen);
}

TEST(Of13Actions, UnknownTypeIsBadType) {
  // Type 1 was OpenFlow 1.0 SET_VLAN_VID; 1.3 has no such action.
  auto d = decode_part(hex("0012 0008 00000000  0001 0008 0005 0000"), of13::decode_actions);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->type, error_type::kBadAction);
  EXPECT_EQ(d.error->code, bad_action::kBadType);
  EXPECT_EQ(d.error->offset, 8u);
}

TEST(Of13Actions, SetFieldErrorsAreSetFieldErrors) {
  expect_action_error(hex("0019 0010  8000 50 02 0000  000000000000  # basic field 40"),
                      bad_action::kBadSetType);
  expect_action_error(hex("0019 0010  8000 0a 03 080000  0000000000  # eth_type of 3 bytes"),
                      bad_action::kBadSetLen);
  expect_action_error(hex("0019 0008  8000 08 06  # eth_src payload outside the action"),
                      bad_action::kBadSetLen);
  expect_action_error(hex(R"(
    0019 0018  8000 09 0c       # SET_FIELD with a masked eth_src
    001122334455 ffffff000000
    00000000
  )"),
                      bad_action::kBadSetArgument);
  expect_action_error(hex(R"(
    0019 0018  8000 0a 02 0800  # eth_type needs 16 bytes, the action has 24
    000000000000 0000000000000000
  )"),
                      bad_action::kBadSetLen);
}

TEST(Of13Actions, OpenFlow10OnlyActionsCannotBeEncoded) {
  for (const Action& a : ActionList{action::SetVlanVid{5}, action::SetVlanPcp{1},
                                    action::SetNwTos{0x10}, action::SetTpSrc{80},
                                    action::SetTpDst{80}, action::Enqueue{1, 2}}) {
    Bytes out;
    wire::Writer w(out);
    Status st = of13::encode_actions({action::PopVlan{}, a}, w);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().type, error_type::kBadAction);
    EXPECT_EQ(st.error().code, bad_action::kBadType);
    EXPECT_EQ(out.size(), 8u) << "the failed action must leave nothing behind";
  }
}

TEST(Of13Actions, EncodeRejectsUnalignedExperimenterAndMaskedSetField) {
  Bytes out;
  wire::Writer w(out);
  Status st = of13::encode_actions({action::Experimenter{kNiciraExperimenter, {1, 2, 3}}}, w);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, bad_action::kBadLen);
  st = of13::encode_actions({action::SetField{oxm::ipv4_dst(0x0a000000, 0xff000000)}}, w);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, bad_action::kBadSetArgument);
  EXPECT_TRUE(out.empty());
}

TEST(Of13Actions, EncodesConstructedActions) {
  EXPECT_EQ(encode_actions_bytes({action::SetField{oxm::vlan_vid(0x1000 | 10)},
                                  action::Output{port::kController, 128}}),
            hex(R"(
    0019 0010  8000 0c 02 100a  000000000000  # set_field vlan_vid 10|PRESENT
    0000 0010  fffffffd 0080 000000000000     # output CONTROLLER, max_len 128
  )"));
}

// ------------------------------------------------------------------ instructions

TEST(Of13Instructions, EveryType) {
  Bytes wire = hex(R"(
    0001 0008 01 000000          # GOTO_TABLE 1
    0002 0018 00000000           # WRITE_METADATA, pad
      0000000000000010           #   metadata
      00000000000000ff           #   mask
    0003 0018 00000000           # WRITE_ACTIONS, pad
      0000 0010 00000002 ffff 000000000000  # output 2
    0004 0010 00000000           # APPLY_ACTIONS, pad
      0018 0008 00000000         #   dec_nw_ttl
    0005 0008 00000000           # CLEAR_ACTIONS
    0006 0008 00000005           # METER 5
    ffff 0010 00002320           # EXPERIMENTER Nicira
      aabbccdd 00000000          #   opaque data
  )");
  auto d = decode_part(wire, of13::decode_instructions);
  ASSERT_FALSE(d.error) << describe(*d.error);
  ASSERT_EQ(d.value.size(), 7u);
  EXPECT_EQ(std::get<instruction::GotoTable>(d.value[0]).table_id, 1);
  EXPECT_EQ(std::get<instruction::WriteMetadata>(d.value[1]),
            (instruction::WriteMetadata{0x10, 0xff}));
  EXPECT_EQ(std::get<instruction::WriteActions>(d.value[2]).actions,
            (ActionList{action::Output{2, 0xffff}}));
  EXPECT_EQ(std::get<instruction::ApplyActions>(d.value[3]).actions,
            ActionList{action::DecNwTtl{}});
  EXPECT_TRUE(std::holds_alternative<instruction::ClearActions>(d.value[4]));
  EXPECT_EQ(std::get<instruction::Meter>(d.value[5]).meter_id, 5u);
  EXPECT_EQ(std::get<instruction::Experimenter>(d.value[6]).data, hex("aabbccdd 00000000"));

  Bytes out;
  wire::Writer w(out);
  ASSERT_TRUE(of13::encode_instructions(d.value, w).ok());
  EXPECT_EQ(to_hex(out.data(), out.size()), to_hex(wire.data(), wire.size()));
}

TEST(Of13Instructions, EmptyApplyActions) {
  Bytes wire = hex("0004 0008 00000000  # APPLY_ACTIONS with no actions");
  auto d = decode_part(wire, of13::decode_instructions);
  ASSERT_FALSE(d.error);
  EXPECT_TRUE(std::get<instruction::ApplyActions>(d.value.at(0)).actions.empty());
}

TEST(Of13Instructions, MalformedLengthsAreBadLen) {
  using namespace bad_instruction;
  const auto kBI = error_type::kBadInstruction;
  expect_instruction_error(hex("0001 0000 01000000  # zero length"), kBI, kBadLen);
  expect_instruction_error(hex("0001 000c 01000000 00000000  # 12"), kBI, kBadLen);
  expect_instruction_error(hex("0001 0010 01000000 00000000 00000000  # goto of 16"), kBI,
                           kBadLen);
  expect_instruction_error(hex("0002 0010 00000000 0000000000000010  # write_metadata of 16"),
                           kBI, kBadLen);
  expect_instruction_error(hex("0004 0018 00000000  # apply_actions past the end"), kBI,
                           kBadLen);
  expect_instruction_error(hex("0005 00"), kBI, kBadLen);
}

TEST(Of13Instructions, UnknownTypeIsUnknownInst) {
  auto d = decode_part(hex("0001 0008 01 000000  0007 0008 00000000"), of13::decode_instructions);
  ASSERT_TRUE(d.error);
  EXPECT_EQ(d.error->type, error_type::kBadInstruction);
  EXPECT_EQ(d.error->code, bad_instruction::kUnknownInst);
  EXPECT_EQ(d.error->offset, 8u);
}

TEST(Of13Instructions, BadActionInsideIsABadActionError) {
  expect_instruction_error(hex(R"(
    0004 0010 00000000       # APPLY_ACTIONS, len 16
    0000 0008 00000001       # OUTPUT with length 8
  )"),
                           error_type::kBadAction, bad_action::kBadLen);
  expect_instruction_error(hex("0003 0010 00000000  0000 0000 00000000  # zero-length action"),
                           error_type::kBadAction, bad_action::kBadLen);
}

TEST(Of13Instructions, EncodeRejectsUnalignedExperimenter) {
  Bytes out;
  wire::Writer w(out);
  Status st = of13::encode_instructions({instruction::Experimenter{1, {1}}}, w);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().type, error_type::kBadInstruction);
  EXPECT_EQ(st.error().code, bad_instruction::kBadLen);
  EXPECT_TRUE(out.empty());
}

// ------------------------------------------------------------------ ports

const char* const kPortHex = R"(
  00000001                  # port_no 1
  00000000                  # pad
  001122334455              # hw_addr
  0000                      # pad
  65746830 00000000 00000000 00000000  # name "eth0"
  00000001                  # config PORT_DOWN
  00000004                  # state LIVE
  00002808                  # curr 10GB_FD | COPPER | AUTONEG
  0000280f                  # advertised
  0000280f                  # supported
  00000000                  # peer
  00989680                  # curr_speed 10000000 kbps
  00989680                  # max_speed
)";

TEST(Of13Port, SixtyFourBytes) {
  Bytes wire = hex(kPortHex);
  ASSERT_EQ(wire.size(), 64u);
  auto d = decode_part(wire, of13::decode_port);
  ASSERT_FALSE(d.error) << describe(*d.error);
  EXPECT_EQ(d.left, 0u);
  const Port& p = d.value;
  EXPECT_EQ(p.port_no, 1u);
  EXPECT_EQ(p.hw_addr.to_string(), "00:11:22:33:44:55");
  EXPECT_EQ(p.name, "eth0");
  EXPECT_EQ(p.config, port_config::kPortDown);
  EXPECT_EQ(p.state, 4u);
  EXPECT_EQ(p.curr, 0x2808u);
  EXPECT_EQ(p.advertised, 0x280fu);
  EXPECT_EQ(p.curr_speed, 10000000u);
  EXPECT_EQ(p.max_speed, 10000000u);
  Bytes out;
  wire::Writer w(out);
  of13::encode_port(p, w);
  EXPECT_EQ(out, wire);
}

TEST(Of13Port, TruncatedPortIsBadLen) {
  Bytes wire = hex(kPortHex);
  wire.resize(60);
  expect_part_error(wire, of13::decode_port, error_type::kBadRequest, bad_request::kBadLen);
}

TEST(Of13Port, LongNameIsCutToFifteenBytes) {
  Port p;
  p.name = "a-very-long-port-name";
  Bytes out;
  wire::Writer w(out);
  of13::encode_port(p, w);
  ASSERT_EQ(out.size(), 64u);
  EXPECT_EQ(out[16 + 14], 'r');
  EXPECT_EQ(out[16 + 15], 0) << "the name must stay NUL-terminated";
}

// ------------------------------------------------------------------ buckets

TEST(Of13Buckets, TwoBuckets) {
  Bytes wire = hex(R"(
    0020 0001          # bucket len 32, weight 1
    00000003           # watch_port 3
    ffffffff           # watch_group ANY
    00000000           # pad
      0000 0010 00000003 ffff 000000000000  # output 3
    0010 0002          # bucket len 16 (no actions), weight 2
    ffffffff ffffffff 00000000
  )");
  auto d = decode_part(wire, of13::decode_buckets);
  ASSERT_FALSE(d.error) << describe(*d.error);
  ASSERT_EQ(d.value.size(), 2u);
  EXPECT_EQ(d.value[0].weight, 1);
  EXPECT_EQ(d.value[0].watch_port, 3u);
  EXPECT_EQ(d.value[0].watch_group, kGroupAny);
  EXPECT_EQ(d.value[0].actions, (ActionList{action::Output{3, 0xffff}}));
  EXPECT_EQ(d.value[1].weight, 2);
  EXPECT_TRUE(d.value[1].actions.empty());
  Bytes out;
  wire::Writer w(out);
  ASSERT_TRUE(of13::encode_buckets(d.value, w).ok());
  EXPECT_EQ(out, wire);
}

TEST(Of13Buckets, MalformedBucketsAreBadBucket) {
  using namespace group_mod_failed;
  const auto kG = error_type::kGroupModFailed;
  const auto f = of13::decode_buckets;
  expect_part_error(hex("0000 0001 ffffffff ffffffff 00000000  # len 0"), f, kG, kBadBucket);
  expect_part_error(hex("0008 0001 ffffffff ffffffff 00000000  # len 8"), f, kG, kBadBucket);
  expect_part_error(hex("0014 0001 ffffffff ffffffff 00000000 00000000  # len 20"), f, kG,
                    kBadBucket);
  expect_part_error(hex("0030 0001 ffffffff ffffffff 00000000  # len 48, 16 present"), f, kG,
                    kBadBucket);
  expect_part_error(hex("0010 0001 ffffffff ffffffff 00000000  00000000 00000000  # trailing"),
                    f, kG, kBadBucket);
}

TEST(Of13Buckets, BadActionInsideIsABadActionError) {
  expect_part_error(hex(R"(
    0018 0001 ffffffff ffffffff 00000000
    0000 0008 00000003          # OUTPUT with length 8
  )"),
                    of13::decode_buckets, error_type::kBadAction, bad_action::kBadLen);
}

// ------------------------------------------------------------------ meter bands

TEST(Of13MeterBands, EveryType) {
  Bytes wire = hex(R"(
    0001 0010 000003e8 0000000a 00000000  # DROP rate 1000 burst 10
    0002 0010 000007d0 00000014 01 000000 # DSCP_REMARK rate 2000 burst 20 prec_level 1
    ffff 0018 00000bb8 0000001e           # EXPERIMENTER rate 3000 burst 30
      000003e7                            #   experimenter 999
      aabbccdd 00000000                   #   data
  )");
  auto d = decode_part(wire, of13::decode_meter_bands);
  ASSERT_FALSE(d.error) << describe(*d.error);
  ASSERT_EQ(d.value.size(), 3u);
  EXPECT_EQ(d.value[0].type, meter_band_type::kDrop);
  EXPECT_EQ(d.value[0].rate, 1000u);
  EXPECT_EQ(d.value[0].burst_size, 10u);
  EXPECT_EQ(d.value[1].type, meter_band_type::kDscpRemark);
  EXPECT_EQ(d.value[1].prec_level, 1);
  EXPECT_EQ(d.value[2].type, meter_band_type::kExperimenter);
  EXPECT_EQ(d.value[2].experimenter, 999u);
  EXPECT_EQ(d.value[2].data, hex("aabbccdd 00000000"));
  Bytes out;
  wire::Writer w(out);
  of13::encode_meter_bands(d.value, w);
  EXPECT_EQ(out, wire);
}

TEST(Of13MeterBands, MalformedLengthsAreBadLen) {
  using namespace bad_request;
  const auto kBR = error_type::kBadRequest;
  const auto f = of13::decode_meter_bands;
  expect_part_error(hex("0001 0000 000003e8 0000000a 00000000  # len 0"), f, kBR, kBadLen);
  expect_part_error(hex("0001 0008 000003e8 0000000a 00000000  # len 8"), f, kBR, kBadLen);
  expect_part_error(hex("ffff 0014 000003e8 0000000a 000003e7 00000000  # len 20"), f, kBR,
                    kBadLen);
  expect_part_error(hex("0001 0018 000003e8 0000000a 00000000 0000000000000000  # DROP of 24"),
                    f, kBR, kBadLen);
  expect_part_error(hex("ffff 0020 000003e8 0000000a 000003e7 00000000  # len 32, 20 present"),
                    f, kBR, kBadLen);
  expect_part_error(hex("0001 0010 000003e8 0000000a 00000000  00010010  # trailing"), f, kBR,
                    kBadLen);
}

TEST(Of13MeterBands, UnknownTypeIsBadBand) {
  expect_part_error(hex("0003 0010 000003e8 0000000a 00000000"), of13::decode_meter_bands,
                    error_type::kMeterModFailed, meter_mod_failed::kBadBand);
}

TEST(Of13MeterBands, ExperimenterDataIsPaddedOnEncode) {
  MeterBand b;
  b.type = meter_band_type::kExperimenter;
  b.rate = 1;
  b.burst_size = 2;
  b.experimenter = 3;
  b.data = {0xaa, 0xbb, 0xcc};
  Bytes out;
  wire::Writer w(out);
  of13::encode_meter_bands({b}, w);
  EXPECT_EQ(out, hex("ffff 0018 00000001 00000002 00000003 aabbcc 0000000000"));
}

}  // namespace
}  // namespace tapflow::openflow
