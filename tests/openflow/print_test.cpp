// to_text: exact strings for representative messages of each family, and hex
// in -> text out through the codec.
#include "tapflow/openflow/print.hpp"

#include <gtest/gtest.h>

#include "tapflow/openflow/codec.hpp"
#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

using testing::hex;

MacAddress mac(const char* s) { return *MacAddress::parse(s); }

TEST(Print, FlowMod13) {
  FlowMod f;
  f.table_id = 1;
  f.priority = 123;
  f.match.add(oxm::eth_dst(mac("f2:0b:a4:7d:f8:ea")));
  f.instructions.push_back(instruction::ApplyActions{
      {action::SetField{oxm::eth_src(mac("01:02:03:04:05:06"))}, action::DecNwTtl{},
       action::Group{99}, action::Output{6}}});
  EXPECT_EQ(to_text(Message{kVersion13, 1, f}),
            "FLOW_MOD v1.3 xid=0x1 table=1 cmd=add priority=123 cookie=0x0 idle=0 hard=0 "
            "buffer=none out_port=any match: eth_dst=f2:0b:a4:7d:f8:ea actions: "
            "apply(set_field:eth_src=01:02:03:04:05:06,dec_ttl,group:99,output:6)");
}

TEST(Print, FlowMod13OptionalPartsAndEveryInstruction) {
  FlowMod f;
  f.table_id = kTableAll;
  f.command = flow_mod_command::kDeleteStrict;
  f.cookie = 0x10;
  f.cookie_mask = 0xff;
  f.out_group = 5;
  f.flags = flow_mod_flags::kSendFlowRem | flow_mod_flags::kCheckOverlap;
  f.match.add(oxm::eth_type(0x0800)).add(oxm::ipv4_dst(0x0a000000, 0xffffff00));
  f.instructions.push_back(instruction::Meter{7});
  f.instructions.push_back(
      instruction::WriteActions{{action::PopVlan{}, action::Output{port::kController, 128}}});
  f.instructions.push_back(instruction::ClearActions{});
  f.instructions.push_back(instruction::WriteMetadata{0x1, 0xff});
  f.instructions.push_back(instruction::GotoTable{2});
  EXPECT_EQ(to_text(Message{kVersion13, 0x2a, f}),
            "FLOW_MOD v1.3 xid=0x2a table=all cmd=delete_strict priority=32768 cookie=0x10/0xff "
            "idle=0 hard=0 buffer=none out_port=any out_group=5 flags=send_flow_rem|check_overlap "
            "match: eth_type=0x0800,ipv4_dst=10.0.0.0/255.255.255.0 actions: "
            "meter:7,write(pop_vlan,output:controller(max_len=128)),clear,"
            "write_metadata:0x1/0xff,goto_table:2");
}

TEST(Print, FlowMod10ShowsPlainActions) {
  FlowMod f;
  f.priority = 100;
  f.idle_timeout = 10;
  f.buffer_id = 0x2;
  f.flags = flow_mod_flags::kEmerg10;
  f.match.add(oxm::in_port(1)).add(oxm::eth_type(0x0800));
  f.instructions.push_back(instruction::ApplyActions{
      {action::SetVlanVid{5}, action::SetField{oxm::eth_dst(mac("aa:bb:cc:dd:ee:ff"))},
       action::Output{port::kInPort}}});
  EXPECT_EQ(to_text(Message{kVersion10, 3, f}),
            "FLOW_MOD v1.0 xid=0x3 cmd=add priority=100 cookie=0x0 idle=10 hard=0 buffer=0x2 "
            "out_port=any flags=emerg match: in_port=1,eth_type=0x0800 actions: "
            "set_vlan_vid:5,set_field:eth_dst=aa:bb:cc:dd:ee:ff,output:in_port");
  FlowMod drop;
  drop.command = flow_mod_command::kModify;
  EXPECT_EQ(to_text(Message{kVersion10, 4, drop}),
            "FLOW_MOD v1.0 xid=0x4 cmd=modify priority=32768 cookie=0x0 idle=0 hard=0 buffer=none "
            "out_port=any match: any actions: drop");
}

TEST(Print, HexInTextOut) {
  const Bytes wire = hex(R"(
    04 0e 0058 00000001      # FLOW_MOD v1.3, length 88, xid 1
    0000000000000000         # cookie
    0000000000000000         # cookie_mask
    01 00                    # table 1, command add
    0000 0000                # idle, hard timeouts
    007b                     # priority 123
    ffffffff                 # buffer_id: none
    ffffffff                 # out_port: any
    ffffffff                 # out_group: any
    0000 0000                # flags, pad
    0001 000e                # match: OXM, length 14
    80000606 f20ba47df8ea    #   eth_dst
    0000                     #   pad to 8
    0004 0018 00000000       # APPLY_ACTIONS, length 24
    0000 0010 00000006 ffff 000000000000  # output:6, max_len no_buffer
  )");
  auto m = decode(wire);
  ASSERT_TRUE(m.ok()) << describe(m.error());
  EXPECT_EQ(to_text(*m),
            "FLOW_MOD v1.3 xid=0x1 table=1 cmd=add priority=123 cookie=0x0 idle=0 hard=0 "
            "buffer=none out_port=any match: eth_dst=f2:0b:a4:7d:f8:ea actions: apply(output:6)");
}

TEST(Print, ErrorsByName) {
  EXPECT_EQ(to_text(Message{kVersion13, 5,
                            Error{error_type::kBadMatch, bad_match::kBadPrereq, 0, {0x04, 0x0e}}}),
            "ERROR v1.3 xid=0x5 type=BAD_MATCH code=BAD_PREREQ data=040e");
  // 1.0 numbering: type 3 is FLOW_MOD_FAILED, code 1 OVERLAP.
  EXPECT_EQ(to_text(Message{kVersion10, 0, Error{3, 1, 0, {}}}),
            "ERROR v1.0 xid=0x0 type=FLOW_MOD_FAILED code=OVERLAP");
  EXPECT_EQ(to_text(Message{kVersion13, 0, Error{error_type::kExperimenter, 60000, 999999, {}}}),
            "ERROR v1.3 xid=0x0 type=EXPERIMENTER exp_type=60000 experimenter=0xf423f");
  EXPECT_EQ(to_text(Message{kVersion13, 0, Error{1, 99, 0, {}}}),
            "ERROR v1.3 xid=0x0 type=BAD_REQUEST code=UNKNOWN(99)");
}

TEST(Print, PacketInDataIsCutAfter64Bytes) {
  PacketIn p;
  p.total_len = 100;
  p.reason = packet_in_reason::kAction;
  p.table_id = 1;
  p.cookie = 5;
  p.match.add(oxm::in_port(6));
  for (int i = 0; i < 100; ++i) p.data.push_back(static_cast<std::uint8_t>(i));
  EXPECT_EQ(to_text(Message{kVersion13, 0, p}),
            "PACKET_IN v1.3 xid=0x0 buffer=none total_len=100 reason=action table=1 cookie=0x5 "
            "match: in_port=6 data=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f...(100 bytes)");
  PacketIn p10;
  p10.buffer_id = 2;
  p10.total_len = 2;
  p10.in_port = 99;
  p10.data = {0xff, 0xff};
  EXPECT_EQ(to_text(Message{kVersion10, 0, p10}),
            "PACKET_IN v1.0 xid=0x0 buffer=0x2 total_len=2 in_port=99 reason=no_match data=ffff");
}

TEST(Print, ReservedPorts) {
  PacketOut p;
  p.actions = {action::Output{port::kAll},   action::Output{port::kFlood},
               action::Output{port::kNormal}, action::Output{port::kLocal},
               action::Output{port::kTable}, action::Output{port::kInPort},
               action::Output{port::kController}, action::Output{port::kMax - 1}};
  p.data = {0x0a, 0x0b};
  EXPECT_EQ(to_text(Message{kVersion13, 0, p}),
            "PACKET_OUT v1.3 xid=0x0 buffer=none in_port=controller actions: output:all,"
            "output:flood,output:normal,output:local,output:table,output:in_port,"
            "output:controller,output:4294967039 data=0a0b");
  EXPECT_EQ(port_to_text(port::kAny), "any");
}

TEST(Print, FieldsAndMasks) {
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  std::array<std::uint8_t, 16> m{0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(to_text(oxm::ipv6_src(a, m)), "ipv6_src=2001:db8::/ffff:ffff::");
  EXPECT_EQ(to_text(oxm::ipv6_dst(a)), "ipv6_dst=2001:db8::");
  EXPECT_EQ(to_text(oxm::eth_dst(mac("01:00:5e:00:00:00"), mac("ff:ff:ff:80:00:00"))),
            "eth_dst=01:00:5e:00:00:00/ff:ff:ff:80:00:00");
  EXPECT_EQ(to_text(oxm::metadata(0x1234, 0xffff)), "metadata=0x1234/0xffff");
  EXPECT_EQ(to_text(oxm::vlan_vid(kVlanPresent | 5)), "vlan_vid=0x1005");
  EXPECT_EQ(to_text(oxm::tcp_dst(179)), "tcp_dst=179");
  EXPECT_EQ(to_text(oxm::arp_tpa(0x0a000001)), "arp_tpa=10.0.0.1");
  OxmField reg;
  reg.oxm_class = oxm_class::kNxm1;
  reg.field = 5;
  reg.has_mask = true;
  reg.value = {0, 0, 0xab, 0xcd};
  reg.mask = {0, 0, 0xff, 0xff};
  EXPECT_EQ(to_text(reg), "reg5=0xabcd/0xffff");
  OxmField odd;  // a known field with a value of the wrong length: raw hex
  odd.field = oxm_field::kIpv4Src;
  odd.value = {1, 2};
  EXPECT_EQ(to_text(odd), "ipv4_src=0x0102");
  Match any;
  EXPECT_EQ(to_text(any), "any");
}

TEST(Print, ExperimenterActions) {
  const Action ct = action::Experimenter{kNiciraExperimenter, {0x00, 0x23, 0x00, 0x01}};
  EXPECT_EQ(to_text(ct), "nicira:CT(0001)");
  const Action unknown = action::Experimenter{kNiciraExperimenter, {0x65, 0x78, 'p', '_'}};
  EXPECT_EQ(to_text(unknown), "nicira:subtype=25976(705f)");
  const Action other = action::Experimenter{101, {0, 1, 2, 3, 4, 5, 6, 7}};
  EXPECT_EQ(to_text(other), "experimenter:0x65(0001020304050607)");
  EXPECT_EQ(to_text(Action{action::Enqueue{3, 7}}), "enqueue:3:7");
  EXPECT_EQ(to_text(Action{action::PushVlan{0x88a8}}), "push_vlan:0x88a8");
}

TEST(Print, MultipartBlocks) {
  Port p7;
  p7.port_no = 7;
  p7.name = "Port7";
  p7.hw_addr = mac("f2:0b:a4:d0:3f:70");
  p7.state = 4;
  p7.curr = p7.supported = p7.peer = 0x2808;
  p7.advertised = 0x2800;
  p7.curr_speed = p7.max_speed = 5000;
  Port local;
  local.port_no = port::kLocal;
  local.name = "br\"0";
  MultipartReply r{multipart_flags::kMore, PortDescStatsReply{{p7, local}}};
  EXPECT_EQ(to_text(Message{kVersion13, 9, r}),
            "MULTIPART_REPLY v1.3 xid=0x9 type=port_desc flags=0x1\n"
            "  port 7: name=\"Port7\" hw_addr=f2:0b:a4:d0:3f:70 config=0x0 state=0x4 curr=0x2808 "
            "advertised=0x2800 supported=0x2808 peer=0x2808 curr_speed=5000 max_speed=5000\n"
            "  port local: name=\"br\\\"0\" hw_addr=00:00:00:00:00:00 config=0x0 state=0x0 "
            "curr=0x0 advertised=0x0 supported=0x0 peer=0x0 curr_speed=0 max_speed=0");

  MultipartRequest flows{0, FlowStatsRequest{}};
  EXPECT_EQ(to_text(Message{kVersion13, 4, flows}),
            "MULTIPART_REQUEST v1.3 xid=0x4 type=flow table=all out_port=any out_group=any "
            "cookie=0x0/0x0 match: any");

  PortStats ps;
  ps.port_no = 1;
  ps.rx_packets = 4;
  MultipartReply ports10{0, PortStatsReply{{ps}}};
  EXPECT_EQ(to_text(Message{kVersion10, 0, ports10}),
            "MULTIPART_REPLY v1.0 xid=0x0 type=port\n"
            "  port 1: rx_packets=4 tx_packets=0 rx_bytes=0 tx_bytes=0 rx_dropped=0 tx_dropped=0 "
            "rx_errors=0 tx_errors=0 rx_frame_err=0 rx_over_err=0 rx_crc_err=0 collisions=0");

  FlowStats fs;
  fs.table_id = 1;
  fs.duration_sec = 3;
  fs.duration_nsec = 5;
  fs.priority = 10;
  fs.packet_count = 2;
  fs.byte_count = 128;
  fs.instructions.push_back(instruction::GotoTable{2});
  MultipartReply fr{0, FlowStatsReply{{fs}}};
  EXPECT_EQ(to_text(Message{kVersion13, 0, fr}),
            "MULTIPART_REPLY v1.3 xid=0x0 type=flow\n"
            "  table=1 duration=3.000000005s priority=10 cookie=0x0 idle=0 hard=0 packets=2 "
            "bytes=128 match: any actions: goto_table:2");
}

TEST(Print, TableFeatures) {
  TableFeatures t;
  t.name = "t0";
  t.metadata_match = ~0ULL;
  t.max_entries = 16;
  TableFeatureProp inst;
  inst.type = 0;
  inst.ids = {TableFeatureId{1, {}}, TableFeatureId{4, {}}};
  TableFeatureProp next;
  next.type = 2;
  next.table_ids = {1, 2};
  TableFeatureProp apply;
  apply.type = 6;
  apply.ids = {TableFeatureId{0, {}}, TableFeatureId{25, {}}};
  TableFeatureProp match;
  match.type = 8;
  match.oxm_ids = {0x80000004u, 0x80001708u};
  TableFeatureProp exp;
  exp.type = 0xfffe;
  exp.experimenter = 101;
  exp.exp_type = 1;
  exp.data = {0, 0, 0, 1};
  t.properties = {inst, next, apply, match, exp};
  MultipartReply r{0, TableFeaturesStatsReply{{t}}};
  EXPECT_EQ(to_text(Message{kVersion13, 0, r}),
            "MULTIPART_REPLY v1.3 xid=0x0 type=table_features\n"
            "  table 0: name=\"t0\" metadata_match=0xffffffffffffffff metadata_write=0x0 "
            "config=0x0 max_entries=16\n"
            "    instructions: goto_table,apply_actions\n"
            "    next_tables: 1,2\n"
            "    apply_actions: output,set_field\n"
            "    match: in_port,ipv4_src/mask\n"
            "    experimenter: experimenter=0x65 exp_type=1 data=00000001");
}

TEST(Print, GroupsMetersRolesAsync) {
  GroupMod g;
  g.command = group_mod_command::kAdd;
  g.type = group_type::kSelect;
  g.group_id = 1;
  g.buckets.push_back(Bucket{1, port::kAny, kGroupAny,
                             {action::SetField{oxm::eth_dst(mac("aa:bb:cc:dd:ee:ff"))},
                              action::Output{2}}});
  g.buckets.push_back(Bucket{2, 3, kGroupAny, {action::Output{3}}});
  EXPECT_EQ(to_text(Message{kVersion13, 0, g}),
            "GROUP_MOD v1.3 xid=0x0 cmd=add type=select group=1 "
            "bucket=weight:1,actions=set_field:eth_dst=aa:bb:cc:dd:ee:ff,output:2 "
            "bucket=weight:2,watch_port:3,actions=output:3");

  MeterMod mm;
  mm.meter_id = 100;
  mm.flags = 0xe;
  mm.bands = {MeterBand{meter_band_type::kDrop, 1000, 10, 0, 0, {}},
              MeterBand{meter_band_type::kDscpRemark, 1000, 10, 1, 0, {}}};
  EXPECT_EQ(to_text(Message{kVersion13, 0, mm}),
            "METER_MOD v1.3 xid=0x0 cmd=add meter=100 flags=0xe bands: "
            "drop(rate=1000,burst=10),dscp_remark(rate=1000,burst=10,prec_level=1)");

  EXPECT_EQ(to_text(Message{kVersion13, 0, RoleRequest{controller_role::kMaster,
                                                       17294086455919964160ULL}}),
            "ROLE_REQUEST v1.3 xid=0x0 role=master generation_id=17294086455919964160");

  AsyncConfig a;
  a.packet_in_mask = {5, 1};
  a.port_status_mask = {7, 3};
  a.flow_removed_mask = {15, 3};
  EXPECT_EQ(to_text(Message{kVersion13, 0, SetAsync{a}}),
            "SET_ASYNC v1.3 xid=0x0 packet_in=master:0x5,slave:0x1 "
            "port_status=master:0x7,slave:0x3 flow_removed=master:0xf,slave:0x3");
}

TEST(Print, SmallMessages) {
  Hello h;
  h.elements.push_back(HelloElement{HelloElement::kVersionBitmap, {0x12}, {}});
  EXPECT_EQ(to_text(Message{kVersion13, 1, h}), "HELLO v1.3 xid=0x1 versions=1.0,1.3");
  EXPECT_EQ(to_text(Message{kVersion13, 7, EchoRequest{}}), "ECHO_REQUEST v1.3 xid=0x7");
  EXPECT_EQ(to_text(Message{kVersion13, 7, EchoReply{{1, 2}}}), "ECHO_REPLY v1.3 xid=0x7 data=0102");
  EXPECT_EQ(to_text(Message{kVersion13, 0xffffffff, BarrierRequest{}}),
            "BARRIER_REQUEST v1.3 xid=0xffffffff");

  FlowRemoved fr;
  fr.priority = 65535;
  fr.duration_sec = 3;
  fr.duration_nsec = 48825000;
  fr.idle_timeout = 3;
  fr.packet_count = 1;
  fr.byte_count = 86;
  fr.match.add(oxm::eth_dst(mac("f2:0b:a4:7d:f8:ea")));
  EXPECT_EQ(to_text(Message{kVersion13, 0, fr}),
            "FLOW_REMOVED v1.3 xid=0x0 table=0 reason=idle_timeout priority=65535 cookie=0x0 "
            "duration=3.048825000s idle=3 hard=0 packets=1 bytes=86 match: eth_dst=f2:0b:a4:7d:f8:ea");

  FeaturesReply f;
  f.datapath_id = 0x3e7;
  f.n_tables = 255;
  f.capabilities = 0xa9;
  f.actions = 0x843;
  Port p6;
  p6.port_no = 6;
  p6.name = "Port6";
  f.ports.push_back(p6);
  EXPECT_EQ(to_text(Message{kVersion10, 2, f}),
            "FEATURES_REPLY v1.0 xid=0x2 dpid=0x00000000000003e7 n_buffers=0 n_tables=255 "
            "capabilities=0xa9 actions=0x843\n"
            "  port 6: name=\"Port6\" hw_addr=00:00:00:00:00:00 config=0x0 state=0x0 curr=0x0 "
            "advertised=0x0 supported=0x0 peer=0x0");

  EXPECT_EQ(to_text(Message{kVersion13, 0, SetConfig{}}),
            "SET_CONFIG v1.3 xid=0x0 flags=0x0 miss_send_len=no_buffer");
}

TEST(Print, BundleAddShowsTheInnerMessage) {
  auto inner = encode(Message{kVersion13, 3, BarrierRequest{}});
  ASSERT_TRUE(inner.ok());
  BundleAddMessage b;
  b.bundle_id = 1;
  b.flags = bundle_flags::kAtomic;
  b.message = *inner;
  EXPECT_EQ(to_text(Message{kVersion13, 0, b}),
            "BUNDLE_ADD_MESSAGE v1.3 xid=0x0 bundle_id=0x1 flags=atomic message: "
            "BARRIER_REQUEST v1.3 xid=0x3");
  b.message = {1, 2, 3};  // not a message: shown as hex
  EXPECT_EQ(to_text(Message{kVersion13, 0, b}),
            "BUNDLE_ADD_MESSAGE v1.3 xid=0x0 bundle_id=0x1 flags=atomic message=010203");
}

}  // namespace
}  // namespace tapflow::openflow
