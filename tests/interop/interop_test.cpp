// Interop: what OUR encoder writes must be read cleanly by independent
// decoders. At least one message of every type we support, in 1.0 and 1.3
// (with representative actions, instructions, OXM fields, groups, meters,
// multipart requests/replies and bundles), goes through
//   (a) `ovs-ofctl ofp-print HEX`, one by one: no decode error markers, and
//       the message type OVS names is the one we meant;
//   (b) a pcap of Ethernet/IPv4/TCP segments to port 6653 read by tshark's
//       OpenFlow dissectors: nothing malformed, no error expert info, and
//       tshark sees each message with the expected type.
// Both tools are required: if one is missing the test FAILS (never skips).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/packet.hpp"

namespace tapflow::openflow {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

MacAddress mac(const char* s) { return MacAddress::parse(s).value(); }

std::array<std::uint8_t, 16> ip6(std::initializer_list<std::uint8_t> head, std::uint8_t last) {
  std::array<std::uint8_t, 16> a{};
  std::size_t i = 0;
  for (auto b : head) a[i++] = b;
  a[15] = last;
  return a;
}

OxmField bytes_oxm(std::uint8_t field, std::span<const std::uint8_t> value) {
  OxmField f;
  f.field = field;
  f.value.assign(value.begin(), value.end());
  return f;
}

Bytes arp_request_frame() {
  return packet::build_arp_request(mac("02:00:00:00:00:01"), 0x0a000001, 0x0a0000fe);
}

Bytes must_encode(const Message& m) {
  auto b = encode(m);
  EXPECT_TRUE(b.ok()) << type_name(m.body) << ": " << (b.ok() ? "" : describe(b.error()));
  return b.ok() ? *b : Bytes{};
}

// One message to check: what OVS calls it (a substring of its first line).
struct Sample {
  std::string ovs_name;
  Message message;
  // Two tshark 4.0 dissector bugs mark valid messages "Malformed" (OVS reads
  // them fine, as does tshark with Ryu's own samples of them): an OpenFlow 1.0
  // FLOW_MOD without actions (a drop or delete flow) and any OpenFlow 1.3
  // experimenter multipart reply. Such samples stay out of the pcap.
  bool in_pcap = true;
};

// ---------------------------------------------------------------- OpenFlow 1.3

Match route_match() {
  Match m;
  m.add(oxm::eth_type(0x0800));
  m.add(oxm::ipv4_dst(0x0a010200, 0xffffff00));
  return m;
}

ActionList next_hop_actions() {
  return {action::SetField{oxm::eth_src(mac("02:00:00:00:00:fe"))},
          action::SetField{oxm::eth_dst(mac("02:00:00:00:01:01"))}, action::DecNwTtl{},
          action::Output{2, 0}};
}

FlowMod flow13_route() {
  FlowMod f;
  f.table_id = 1;
  f.cookie = 0x2000000000000001ULL;
  f.priority = 24;
  f.match = route_match();
  f.instructions = {instruction::ApplyActions{next_hop_actions()}};
  return f;
}

// Every instruction kind, IPv6 ND match fields, VLAN actions.
FlowMod flow13_nd() {
  FlowMod f;
  f.table_id = 0;
  f.command = flow_mod_command::kModifyStrict;
  f.priority = 1000;
  f.idle_timeout = 30;
  f.hard_timeout = 300;
  f.flags = flow_mod_flags::kSendFlowRem | flow_mod_flags::kCheckOverlap;
  const auto src = ip6({0xfe, 0x80}, 0);  // fe80::/64
  const auto mask = ip6({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0);
  const auto target = ip6({0xfe, 0x80}, 2);
  f.match.add(oxm::in_port(1));
  f.match.add(oxm::eth_dst(mac("33:33:00:00:00:00"), mac("ff:ff:00:00:00:00")));
  f.match.add(oxm::vlan_vid(kVlanPresent | 10));
  f.match.add(oxm::vlan_pcp(3));
  f.match.add(oxm::eth_type(0x86dd));
  f.match.add(oxm::ip_proto(58));
  f.match.add(oxm::ipv6_src(src, mask));
  f.match.add(oxm::icmpv6_type(135));
  f.match.add(oxm::uint_field(oxm_field::kIcmpv6Code, 0, 1));
  f.match.add(bytes_oxm(oxm_field::kIpv6NdTarget, target));
  f.instructions = {
      instruction::Meter{1},
      instruction::ApplyActions{{action::PopVlan{}, action::PushVlan{0x8100},
                                 action::SetField{oxm::vlan_vid(kVlanPresent | 20)},
                                 action::Output{port::kController, 128}}},
      instruction::ClearActions{},
      instruction::WriteActions{{action::SetQueue{1}, action::Group{7}}},
      instruction::WriteMetadata{0x10, 0xff},
      instruction::GotoTable{2},
  };
  return f;
}

// TCP/IPv4 fields, L3/L4 rewrites, set TTL, a Nicira action (resubmit). (No
// copy_ttl_out/in or PBB actions: Open vSwitch does not implement them.)
FlowMod flow13_tcp() {
  FlowMod f;
  f.table_id = 2;
  f.priority = 500;
  f.buffer_id = 0x100;
  f.match.add(oxm::metadata(0x10, 0xff));
  f.match.add(oxm::eth_type(0x0800));
  f.match.add(oxm::uint_field(oxm_field::kIpDscp, 46, 1));
  f.match.add(oxm::ip_proto(6));
  f.match.add(oxm::ipv4_src(0xc0a80000, 0xffff0000));
  f.match.add(oxm::tcp_dst(179));
  f.instructions = {instruction::ApplyActions{{
      action::SetField{oxm::ipv4_dst(0x0a000002)},
      action::SetField{oxm::tcp_dst(1179)},
      action::SetNwTtl{32},
      action::Experimenter{kNiciraExperimenter, {0x00, 0x01, 0xff, 0xf8, 0, 0, 0, 0}},
      action::Output{port::kInPort, 0},
  }}};
  return f;
}

// MPLS, ARP and UDP fields with their actions; delete with out_port/out_group.
FlowMod flow13_mpls() {
  FlowMod f;
  f.table_id = 3;
  f.priority = 10;
  f.match.add(oxm::eth_type(0x8847));
  f.match.add(oxm::uint_field(oxm_field::kMplsLabel, 100, 4));
  f.match.add(oxm::uint_field(oxm_field::kMplsTc, 1, 1));
  f.instructions = {instruction::ApplyActions{{action::SetMplsTtl{9}, action::DecMplsTtl{},
                                               action::PopMpls{0x0800},
                                               action::Output{3, 0}}}};
  return f;
}
FlowMod flow13_arp_udp_delete() {
  FlowMod f;
  f.command = flow_mod_command::kDelete;
  f.table_id = kTableAll;
  f.cookie = 0x10;
  f.cookie_mask = 0xff;
  f.out_port = 4;
  f.out_group = kGroupAny;
  f.match.add(oxm::eth_type(0x0806));
  f.match.add(oxm::arp_op(1));
  f.match.add(oxm::arp_tpa(0x0a0000fe));
  return f;
}
FlowMod flow13_udp_push_mpls() {
  FlowMod f;
  f.table_id = 4;
  f.match.add(oxm::eth_type(0x0800));
  f.match.add(oxm::ip_proto(17));
  f.match.add(oxm::udp_src(53));
  f.match.add(oxm::uint_field(oxm_field::kTunnelId, 0x1234, 8));
  f.instructions = {instruction::ApplyActions{
      {action::PushMpls{0x8847}, action::SetField{oxm::uint_field(oxm_field::kMplsLabel, 200, 4)},
       action::Output{5, 0}}}};
  return f;
}

std::vector<Port> ports13() {
  Port a;
  a.port_no = 1;
  a.hw_addr = mac("02:00:00:00:00:11");
  a.name = "br0-eth1";
  a.state = 4;  // live
  a.curr = 0x2820;
  a.curr_speed = a.max_speed = 1000000;
  Port b = a;
  b.port_no = 2;
  b.hw_addr = mac("02:00:00:00:00:12");
  b.name = "br0-eth2";
  b.config = port_config::kPortDown;
  b.state = port_state::kLinkDown;
  return {a, b};
}

std::vector<Bucket> next_hop_buckets() {
  Bucket a;
  a.weight = 1;
  a.actions = {action::SetField{oxm::eth_src(mac("02:00:00:00:00:fe"))},
               action::SetField{oxm::eth_dst(mac("02:00:00:00:01:01"))}, action::Output{2, 0}};
  Bucket b = a;
  b.weight = 2;
  b.actions = {action::SetField{oxm::eth_src(mac("02:00:00:00:00:fe"))},
               action::SetField{oxm::eth_dst(mac("02:00:00:00:01:02"))}, action::Output{3, 0}};
  return {a, b};
}

TableFeatures table_features() {
  TableFeatures t;
  t.table_id = 0;
  t.name = "ingress";
  t.metadata_match = t.metadata_write = ~0ULL;
  t.max_entries = 4096;
  TableFeatureProp instructions;
  instructions.type = 0;  // INSTRUCTIONS
  for (std::uint16_t type : {1, 2, 3, 4, 5, 6}) instructions.ids.push_back({type, {}});
  TableFeatureProp next;
  next.type = 2;  // NEXT_TABLES
  next.table_ids = {1, 2, 3};
  TableFeatureProp apply;
  apply.type = 6;  // APPLY_ACTIONS
  for (std::uint16_t type : {0, 17, 18, 22, 23, 24, 25}) apply.ids.push_back({type, {}});
  TableFeatureProp write = apply;
  write.type = 4;  // WRITE_ACTIONS
  TableFeatureProp match;
  match.type = 8;  // MATCH: in_port, eth_type, ipv4_src, ipv4_dst
  match.oxm_ids = {0x80000004, 0x80000a02, 0x80001604, 0x80001804};
  TableFeatureProp wildcards = match;
  wildcards.type = 10;  // WILDCARDS
  TableFeatureProp setfield;
  setfield.type = 14;  // APPLY_SETFIELD
  setfield.oxm_ids = {0x80000606, 0x80000806};
  TableFeatureProp write_setfield = setfield;
  write_setfield.type = 12;  // WRITE_SETFIELD
  // Open vSwitch requires every non-miss property.
  t.properties = {instructions, next, write, apply, match, wildcards, write_setfield, setfield};
  return t;
}

std::vector<Sample> samples13() {
  const std::uint8_t v = kVersion13;
  std::uint32_t xid = 0x1300;
  std::vector<Sample> s;
  auto add = [&](std::string ovs, MessageBody body) {
    s.push_back({std::move(ovs), Message{v, ++xid, std::move(body)}});
  };

  Hello hello;
  hello.elements.push_back(HelloElement{HelloElement::kVersionBitmap, {0x12}, {}});
  add("OFPT_HELLO", hello);
  add("OFPT_ERROR",
      Error{error_type::kBadRequest, bad_request::kBadType, 0,
            must_encode(Message{v, 7, BarrierRequest{}})});
  add("OFPT_ECHO_REQUEST", EchoRequest{{1, 2, 3, 4}});
  add("OFPT_ECHO_REPLY", EchoReply{{1, 2, 3, 4}});
  // Nicira NXT_SET_PACKET_IN_FORMAT (subtype 16), format "standard".
  add("NXT_SET_PACKET_IN_FORMAT", Experimenter{kNiciraExperimenter, 16, {0, 0, 0, 0}});
  add("OFPT_FEATURES_REQUEST", FeaturesRequest{});
  FeaturesReply features;
  features.datapath_id = 0x1;
  features.n_buffers = 0;
  features.n_tables = 254;
  features.capabilities = 0x4f;
  add("OFPT_FEATURES_REPLY", features);
  add("OFPT_GET_CONFIG_REQUEST", GetConfigRequest{});
  add("OFPT_GET_CONFIG_REPLY", GetConfigReply{0, 0xffff});
  add("OFPT_SET_CONFIG", SetConfig{0, kControllerMaxLenNoBuffer});

  PacketIn pin;
  pin.buffer_id = kNoBuffer;
  pin.data = arp_request_frame();
  pin.total_len = static_cast<std::uint16_t>(pin.data.size());
  pin.reason = packet_in_reason::kAction;
  pin.table_id = 0;
  pin.cookie = 0xa1;
  pin.in_port = 1;
  pin.match.add(oxm::in_port(1));
  add("OFPT_PACKET_IN", pin);

  FlowRemoved removed;
  removed.cookie = 0x2000000000000001ULL;
  removed.priority = 24;
  removed.reason = 0;
  removed.table_id = 1;
  removed.duration_sec = 10;
  removed.idle_timeout = 30;
  removed.packet_count = 5;
  removed.byte_count = 500;
  removed.match = route_match();
  add("OFPT_FLOW_REMOVED", removed);
  add("OFPT_PORT_STATUS", PortStatus{port_reason::kModify, ports13()[1]});

  PacketOut pout;
  pout.actions = {action::Output{1, 0}};
  pout.data = packet::build_arp_reply(mac("02:00:00:00:00:fe"), 0x0a0000fe,
                                      mac("02:00:00:00:00:01"), 0x0a000001);
  add("OFPT_PACKET_OUT", pout);
  add("OFPT_FLOW_MOD", flow13_route());
  add("OFPT_FLOW_MOD", flow13_nd());
  add("OFPT_FLOW_MOD", flow13_tcp());
  add("OFPT_FLOW_MOD", flow13_mpls());
  add("OFPT_FLOW_MOD", flow13_arp_udp_delete());
  add("OFPT_FLOW_MOD", flow13_udp_push_mpls());
  // FIB flow pointing at a next-hop group.
  FlowMod fib = flow13_route();
  fib.instructions = {instruction::ApplyActions{{action::Group{7}}}};
  add("OFPT_FLOW_MOD", fib);

  GroupMod indirect;
  indirect.type = group_type::kIndirect;
  indirect.group_id = 7;
  indirect.buckets = {next_hop_buckets()[0]};
  indirect.buckets[0].weight = 0;
  indirect.buckets[0].actions.insert(indirect.buckets[0].actions.begin() + 2, action::DecNwTtl{});
  add("OFPT_GROUP_MOD", indirect);
  GroupMod select;
  select.type = group_type::kSelect;
  select.group_id = 8;
  select.command = group_mod_command::kModify;
  select.buckets = next_hop_buckets();
  add("OFPT_GROUP_MOD", select);
  GroupMod failover;
  failover.type = group_type::kFastFailover;
  failover.group_id = 9;
  failover.buckets = next_hop_buckets();
  failover.buckets[0].weight = failover.buckets[1].weight = 0;
  failover.buckets[0].watch_port = 2;
  failover.buckets[1].watch_port = 3;
  add("OFPT_GROUP_MOD", failover);
  GroupMod all;
  all.type = group_type::kAll;
  all.group_id = 10;
  all.buckets = {Bucket{0, port::kAny, kGroupAny, {action::Output{1, 0}}},
                 Bucket{0, port::kAny, kGroupAny, {action::Output{2, 0}}}};
  add("OFPT_GROUP_MOD", all);
  GroupMod del;
  del.command = group_mod_command::kDelete;
  del.group_id = kGroupAll;
  del.type = group_type::kAll;
  add("OFPT_GROUP_MOD", del);

  PortMod pm;
  pm.port_no = 1;
  pm.hw_addr = mac("02:00:00:00:00:11");
  pm.config = port_config::kPortDown;
  pm.mask = port_config::kPortDown;
  add("OFPT_PORT_MOD", pm);
  add("OFPT_TABLE_MOD", TableMod{1, 0});

  // Multipart requests.
  add("OFPST_DESC request", MultipartRequest{0, DescStatsRequest{}});
  FlowStatsRequest fsr;
  fsr.table_id = 1;
  fsr.cookie = 0x2000000000000000ULL;
  fsr.cookie_mask = 0xf000000000000000ULL;
  fsr.match = route_match();
  add("OFPST_FLOW request", MultipartRequest{0, fsr});
  add("OFPST_AGGREGATE request", MultipartRequest{0, AggregateStatsRequest{fsr}});
  add("OFPST_TABLE request", MultipartRequest{0, TableStatsRequest{}});
  add("OFPST_PORT request", MultipartRequest{0, PortStatsRequest{port::kAny}});
  add("OFPST_QUEUE request", MultipartRequest{0, QueueStatsRequest{1, 0xffffffff}});
  add("OFPST_GROUP request", MultipartRequest{0, GroupStatsRequest{kGroupAll}});
  add("OFPST_GROUP_DESC request", MultipartRequest{0, GroupDescStatsRequest{}});
  add("OFPST_GROUP_FEATURES request", MultipartRequest{0, GroupFeaturesStatsRequest{}});
  add("OFPST_METER request", MultipartRequest{0, MeterStatsRequest{0xffffffff}});
  add("OFPST_METER_CONFIG request", MultipartRequest{0, MeterConfigRequest{1}});
  add("OFPST_METER_FEATURES request", MultipartRequest{0, MeterFeaturesStatsRequest{}});
  add("OFPST_TABLE_FEATURES request", MultipartRequest{0, TableFeaturesStatsRequest{}});
  add("OFPST_PORT_DESC request", MultipartRequest{0, PortDescStatsRequest{}});
  // ONF flow monitor (experimenter multipart 1870): id 1, flags initial|add|
  // delete|modify, match length 4, out_port any, all tables, empty OXM match.
  add("ONFST_FLOW_MONITOR request",
      MultipartRequest{0, ExperimenterMultipart{kOnfExperimenter, 1870,
                                                {0, 0, 0, 1, 0x00, 0x0f, 0x00, 0x04,
                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
                                                 0x00, 0x01, 0x00, 0x04, 0, 0, 0, 0}}});

  // Multipart replies.
  add("OFPST_DESC reply",
      MultipartReply{0, DescStatsReply{DescStats{"tapflow", "virtual", "0.1", "1", "dp1"}}});
  FlowStats fs;
  fs.table_id = 1;
  fs.duration_sec = 100;
  fs.priority = 24;
  fs.idle_timeout = 30;
  fs.flags = flow_mod_flags::kSendFlowRem;
  fs.cookie = 0x2000000000000001ULL;
  fs.packet_count = 10;
  fs.byte_count = 1000;
  fs.match = route_match();
  fs.instructions = {instruction::ApplyActions{next_hop_actions()}};
  FlowStats fs2 = fs;
  fs2.match = Match{};
  fs2.priority = 0;
  fs2.instructions = {instruction::ApplyActions{{action::Output{port::kController, 0xffff}}}};
  add("OFPST_FLOW reply", MultipartReply{multipart_flags::kMore, FlowStatsReply{{fs, fs2}}});
  add("OFPST_AGGREGATE reply", MultipartReply{0, AggregateStatsReply{AggregateStats{10, 1000, 2}}});
  TableStats ts;
  ts.table_id = 0;
  ts.active_count = 3;
  ts.lookup_count = 100;
  ts.matched_count = 90;
  add("OFPST_TABLE reply", MultipartReply{0, TableStatsReply{{ts}}});
  PortStats ps;
  ps.port_no = 1;
  ps.rx_packets = 10;
  ps.tx_packets = 20;
  ps.duration_sec = 5;
  add("OFPST_PORT reply", MultipartReply{0, PortStatsReply{{ps}}});
  QueueStats qs;
  qs.port_no = 1;
  qs.queue_id = 1;
  qs.tx_packets = 3;
  add("OFPST_QUEUE reply", MultipartReply{0, QueueStatsReply{{qs}}});
  GroupStats gs;
  gs.group_id = 8;
  gs.ref_count = 1;
  gs.packet_count = 4;
  gs.bucket_stats = {BucketCounter{1, 100}, BucketCounter{3, 300}};
  add("OFPST_GROUP reply", MultipartReply{0, GroupStatsReply{{gs}}});
  add("OFPST_GROUP_DESC reply",
      MultipartReply{0, GroupDescStatsReply{{GroupDesc{group_type::kSelect, 8, next_hop_buckets()}}}});
  GroupFeatures gf;
  gf.types = 0xf;
  gf.capabilities = 0x5;
  gf.max_groups = {16, 16, 16, 16};
  gf.actions = {0x1, 0x1, 0x1, 0x1};
  add("OFPST_GROUP_FEATURES reply", MultipartReply{0, GroupFeaturesStatsReply{gf}});
  MeterStats ms;
  ms.meter_id = 1;
  ms.flow_count = 1;
  ms.band_stats = {MeterBandStats{1, 64}};
  add("OFPST_METER reply", MultipartReply{0, MeterStatsReply{{ms}}});
  MeterBand drop{meter_band_type::kDrop, 1000, 100, 0, 0, {}};
  add("OFPST_METER_CONFIG reply",
      MultipartReply{0, MeterConfigStatsReply{{MeterConfig{0x5, 1, {drop}}}}});
  add("OFPST_METER_FEATURES reply",
      MultipartReply{0, MeterFeaturesStatsReply{MeterFeatures{64, 0x6, 0xf, 2, 0}}});
  add("OFPST_TABLE_FEATURES reply", MultipartReply{0, TableFeaturesStatsReply{{table_features()}}});
  add("OFPST_PORT_DESC reply", MultipartReply{0, PortDescStatsReply{ports13()}});
  add("ONFST_FLOW_MONITOR reply",
      MultipartReply{0, ExperimenterMultipart{kOnfExperimenter, 1870, {}}});
  s.back().in_pcap = false;  // see Sample::in_pcap

  add("OFPT_BARRIER_REQUEST", BarrierRequest{});
  add("OFPT_BARRIER_REPLY", BarrierReply{});
  add("OFPT_QUEUE_GET_CONFIG_REQUEST", QueueGetConfigRequest{1});
  PacketQueue q;
  q.queue_id = 1;
  q.port = 1;
  q.properties = {QueueProperty{1, 100, 0, {}}, QueueProperty{2, 500, 0, {}}};
  add("OFPT_QUEUE_GET_CONFIG_REPLY", QueueGetConfigReply{1, {q}});
  add("OFPT_ROLE_REQUEST", RoleRequest{controller_role::kMaster, 1});
  add("OFPT_ROLE_REPLY", RoleReply{controller_role::kMaster, 1});
  add("OFPT_GET_ASYNC_REQUEST", GetAsyncRequest{});
  AsyncConfig async;
  async.packet_in_mask = {0x3, 0x0};
  async.port_status_mask = {0x7, 0x7};
  async.flow_removed_mask = {0xf, 0x0};
  add("OFPT_GET_ASYNC_REPLY", GetAsyncReply{async});
  add("OFPT_SET_ASYNC", SetAsync{async});

  MeterMod mm;
  mm.meter_id = 1;
  mm.flags = 0x5;  // KBPS | BURST
  mm.bands = {drop};
  add("OFPT_METER_MOD", mm);
  MeterMod mm2;
  mm2.command = meter_mod_command::kModify;
  mm2.meter_id = 2;
  mm2.flags = 0x2;  // PKTPS
  mm2.bands = {MeterBand{meter_band_type::kDscpRemark, 500, 0, 1, 0, {}}};
  add("OFPT_METER_MOD", mm2);

  // Bundles (ONF extension on 1.3): open, add a flow mod, close, commit. The
  // inner message's xid must equal the outer one.
  add("ONFT_BUNDLE_CONTROL", BundleControl{1, bundle_ctrl_type::kOpenRequest, bundle_flags::kAtomic, {}});
  BundleAddMessage bam;
  bam.bundle_id = 1;
  bam.flags = bundle_flags::kAtomic;
  bam.message = must_encode(Message{v, xid + 1, flow13_route()});
  add("ONFT_BUNDLE_ADD_MESSAGE", bam);
  add("ONFT_BUNDLE_CONTROL", BundleControl{1, bundle_ctrl_type::kCloseRequest, bundle_flags::kAtomic, {}});
  add("ONFT_BUNDLE_CONTROL", BundleControl{1, bundle_ctrl_type::kCommitRequest, bundle_flags::kAtomic, {}});
  return s;
}

// ---------------------------------------------------------------- OpenFlow 1.0

std::vector<Sample> samples10() {
  const std::uint8_t v = kVersion10;
  std::uint32_t xid = 0x1000;
  std::vector<Sample> s;
  auto add = [&](std::string ovs, MessageBody body) {
    s.push_back({std::move(ovs), Message{v, ++xid, std::move(body)}});
  };
  Port p1;
  p1.port_no = 1;
  p1.hw_addr = mac("02:00:00:00:00:11");
  p1.name = "eth1";
  p1.curr = 0x20;  // 1GB-FD
  Port p2 = p1;
  p2.port_no = 2;
  p2.hw_addr = mac("02:00:00:00:00:12");
  p2.name = "eth2";
  p2.state = 1;  // link down

  Match tcp;
  tcp.add(oxm::in_port(1));
  tcp.add(oxm::eth_type(0x0800));
  tcp.add(oxm::ip_proto(6));
  tcp.add(oxm::ipv4_src(0xc0a80000, 0xffff0000));
  tcp.add(oxm::tcp_dst(179));

  add("OFPT_HELLO", Hello{});
  add("OFPT_ERROR", Error{1, 1, 0, must_encode(Message{v, 9, BarrierRequest{}})});
  add("OFPT_ECHO_REQUEST", EchoRequest{{9, 8, 7}});
  add("OFPT_ECHO_REPLY", EchoReply{{9, 8, 7}});
  // Nicira NXT_SET_PACKET_IN_FORMAT: vendor, then subtype 16 and the format.
  add("NXT_SET_PACKET_IN_FORMAT",
      Experimenter{kNiciraExperimenter, 0, {0, 0, 0, 16, 0, 0, 0, 0}});
  add("OFPT_FEATURES_REQUEST", FeaturesRequest{});
  FeaturesReply features;
  features.datapath_id = 0xff12345678ULL;
  features.n_buffers = 256;
  features.n_tables = 1;
  features.capabilities = 0x87;
  features.actions = 0xfff;
  features.ports = {p1, p2};
  add("OFPT_FEATURES_REPLY", features);
  add("OFPT_GET_CONFIG_REQUEST", GetConfigRequest{});
  add("OFPT_GET_CONFIG_REPLY", GetConfigReply{0, 128});
  add("OFPT_SET_CONFIG", SetConfig{0, kControllerMaxLenNoBuffer});
  PacketIn pin;
  pin.buffer_id = kNoBuffer;
  pin.in_port = 1;
  pin.reason = packet_in_reason::kNoMatch;
  pin.data = arp_request_frame();
  pin.total_len = static_cast<std::uint16_t>(pin.data.size());
  add("OFPT_PACKET_IN", pin);
  FlowRemoved removed;
  removed.cookie = 0x77;
  removed.priority = 100;
  removed.duration_sec = 3;
  removed.idle_timeout = 10;
  removed.packet_count = 2;
  removed.byte_count = 128;
  removed.match = tcp;
  add("OFPT_FLOW_REMOVED", removed);
  add("OFPT_PORT_STATUS", PortStatus{port_reason::kAdd, p2});
  PacketOut pout;
  pout.actions = {action::Output{1, 0}};
  pout.data = arp_request_frame();
  add("OFPT_PACKET_OUT", pout);

  FlowMod route;
  route.priority = 24;
  route.cookie = 0x2000000000000001ULL;
  route.match = route_match();
  route.instructions = {instruction::ApplyActions{
      {action::SetField{oxm::eth_src(mac("02:00:00:00:00:fe"))},
       action::SetField{oxm::eth_dst(mac("02:00:00:00:01:01"))}, action::Output{2, 0}}}};
  add("OFPT_FLOW_MOD", route);
  // Every 1.0 action.
  FlowMod rich;
  rich.priority = 100;
  rich.idle_timeout = 10;
  rich.flags = flow_mod_flags::kSendFlowRem;
  rich.match = tcp;
  rich.instructions = {instruction::ApplyActions{{
      action::SetVlanVid{10},
      action::SetVlanPcp{3},
      action::PopVlan{},
      action::SetField{oxm::eth_src(mac("02:00:00:00:00:fe"))},
      action::SetField{oxm::eth_dst(mac("02:00:00:00:01:01"))},
      action::SetField{oxm::ipv4_src(0x0a000001)},
      action::SetField{oxm::ipv4_dst(0x0a000002)},
      action::SetNwTos{0x20},
      action::SetTpSrc{1179},
      action::SetTpDst{179},
      action::Enqueue{2, 1},
      action::Experimenter{kNiciraExperimenter, {0x00, 0x01, 0xff, 0xf8, 0, 0, 0, 0}},
      action::Output{port::kController, 128},
  }}};
  add("OFPT_FLOW_MOD", rich);
  FlowMod del;
  del.command = flow_mod_command::kDeleteStrict;
  del.priority = 100;
  del.out_port = 2;
  del.match = tcp;
  add("OFPT_FLOW_MOD", del);
  s.back().in_pcap = false;  // no actions: see Sample::in_pcap
  PortMod pm;
  pm.port_no = 1;
  pm.hw_addr = p1.hw_addr;
  pm.config = 1;
  pm.mask = 1;
  add("OFPT_PORT_MOD", pm);

  FlowStatsRequest fsr;
  fsr.table_id = kTableAll;
  fsr.match = tcp;
  add("OFPST_DESC request", MultipartRequest{0, DescStatsRequest{}});
  add("OFPST_FLOW request", MultipartRequest{0, fsr});
  add("OFPST_AGGREGATE request", MultipartRequest{0, AggregateStatsRequest{fsr}});
  add("OFPST_TABLE request", MultipartRequest{0, TableStatsRequest{}});
  add("OFPST_PORT request", MultipartRequest{0, PortStatsRequest{port::kAny}});
  add("OFPST_QUEUE request", MultipartRequest{0, QueueStatsRequest{port::kAny, 0xffffffff}});
  // Nicira NXST_FLOW request: subtype 0, pad, then out_port none, match_len 0,
  // all tables.
  add("NXST_FLOW request",
      MultipartRequest{0, ExperimenterMultipart{kNiciraExperimenter, 0,
                                                {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
                                                 0xff, 0, 0, 0}}});
  add("OFPST_DESC reply",
      MultipartReply{0, DescStatsReply{DescStats{"tapflow", "virtual", "0.1", "1", "dp1"}}});
  // Nicira NXST_FLOW reply with no flows: subtype 0, pad.
  add("NXST_FLOW reply",
      MultipartReply{0, ExperimenterMultipart{kNiciraExperimenter, 0, {0, 0, 0, 0, 0, 0, 0, 0}}});
  FlowStats fs;
  fs.duration_sec = 7;
  fs.priority = 100;
  fs.cookie = 0x77;
  fs.packet_count = 1;
  fs.byte_count = 64;
  fs.match = tcp;
  fs.instructions = {instruction::ApplyActions{{action::Output{2, 0}}}};
  add("OFPST_FLOW reply", MultipartReply{0, FlowStatsReply{{fs}}});
  add("OFPST_AGGREGATE reply", MultipartReply{0, AggregateStatsReply{AggregateStats{1, 64, 1}}});
  TableStats ts;
  ts.name = "classifier";
  ts.wildcards = 0x3fffff;
  ts.max_entries = 1000000;
  ts.active_count = 2;
  ts.lookup_count = 10;
  ts.matched_count = 8;
  add("OFPST_TABLE reply", MultipartReply{0, TableStatsReply{{ts}}});
  PortStats ps;
  ps.port_no = 1;
  ps.rx_packets = 3;
  add("OFPST_PORT reply", MultipartReply{0, PortStatsReply{{ps}}});
  QueueStats qs;
  qs.port_no = 1;
  qs.queue_id = 1;
  add("OFPST_QUEUE reply", MultipartReply{0, QueueStatsReply{{qs}}});
  add("OFPT_BARRIER_REQUEST", BarrierRequest{});
  add("OFPT_BARRIER_REPLY", BarrierReply{});
  add("OFPT_QUEUE_GET_CONFIG_REQUEST", QueueGetConfigRequest{1});
  PacketQueue q;
  q.queue_id = 1;
  q.properties = {QueueProperty{1, 100, 0, {}}};
  add("OFPT_QUEUE_GET_CONFIG_REPLY", QueueGetConfigReply{1, {q}});
  return s;
}

std::vector<Sample> all_samples() {
  auto s = samples10();
  auto s13 = samples13();
  s.insert(s.end(), s13.begin(), s13.end());
  return s;
}

// ---------------------------------------------------------------- processes, files

// Where `tool` is on PATH, or "" if it is not.
std::string find_tool(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path p = fs::path(dir.empty() ? "." : dir) / tool;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

struct Output {
  int status = -1;
  std::string text;
};

// Runs a shell command, returning its exit status and standard output.
Output run(const std::string& command) {
  Output out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.text.append(buf.data(), n);
  const int rc = pclose(pipe);
  out.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tapflow-interop-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// pcap (microsecond, little-endian) with one Ethernet/IPv4/TCP segment per
// message, from the controller (port 6653) to the switch, sequence numbers
// following on.
class PcapWriter {
 public:
  explicit PcapWriter(const fs::path& p) : out_(p, std::ios::binary) {
    le32(0xa1b2c3d4);
    le16(2);
    le16(4);
    le32(0);      // thiszone
    le32(0);      // sigfigs
    le32(65535);  // snaplen
    le32(1);      // LINKTYPE_ETHERNET
  }
  bool ok() const { return static_cast<bool>(out_); }

  void segment(const Bytes& payload) {
    Bytes ip;
    const std::size_t ip_len = 20 + 20 + payload.size();
    const std::uint32_t src = 0x0a000001, dst = 0x0a000002;
    auto put16 = [](Bytes& b, std::uint16_t v) {
      b.push_back(static_cast<std::uint8_t>(v >> 8));
      b.push_back(static_cast<std::uint8_t>(v));
    };
    auto put32 = [&](Bytes& b, std::uint32_t v) {
      put16(b, static_cast<std::uint16_t>(v >> 16));
      put16(b, static_cast<std::uint16_t>(v));
    };
    ip.push_back(0x45);
    ip.push_back(0);
    put16(ip, static_cast<std::uint16_t>(ip_len));
    put16(ip, static_cast<std::uint16_t>(ip_id_++));
    put16(ip, 0x4000);
    ip.push_back(64);
    ip.push_back(6);
    put16(ip, 0);
    put32(ip, src);
    put32(ip, dst);
    const std::uint16_t ipsum = packet::internet_checksum(ip);
    ip[10] = static_cast<std::uint8_t>(ipsum >> 8);
    ip[11] = static_cast<std::uint8_t>(ipsum);
    const std::size_t tcp_at = ip.size();
    put16(ip, 6653);
    put16(ip, 40000);
    put32(ip, seq_);
    put32(ip, 1);       // ack
    put16(ip, 0x5018);  // data offset 5, PSH|ACK
    put16(ip, 65535);   // window
    put16(ip, 0);       // checksum, below
    put16(ip, 0);       // urgent
    ip.insert(ip.end(), payload.begin(), payload.end());
    const std::uint32_t pseudo = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 +
                                 static_cast<std::uint32_t>(ip_len - 20);
    const std::uint16_t tcpsum =
        packet::internet_checksum(std::span<const std::uint8_t>(ip).subspan(tcp_at), pseudo);
    ip[tcp_at + 16] = static_cast<std::uint8_t>(tcpsum >> 8);
    ip[tcp_at + 17] = static_cast<std::uint8_t>(tcpsum);
    seq_ += static_cast<std::uint32_t>(payload.size());

    const Bytes frame =
        packet::build_ethernet(mac("02:00:00:00:00:02"), mac("02:00:00:00:00:01"), 0x0800, ip);
    le32(1700000000 + count_);  // ts_sec
    le32(0);                    // ts_usec
    le32(static_cast<std::uint32_t>(frame.size()));
    le32(static_cast<std::uint32_t>(frame.size()));
    out_.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
    ++count_;
  }

 private:
  void le16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
    out_.write(b, 2);
  }
  void le32(std::uint32_t v) {
    le16(static_cast<std::uint16_t>(v & 0xffff));
    le16(static_cast<std::uint16_t>(v >> 16));
  }

  std::ofstream out_;
  std::uint32_t seq_ = 1;
  std::uint32_t ip_id_ = 1;
  std::uint32_t count_ = 0;
};

// The first line of ovs-ofctl's output that is not a log line
// ("2024-01-01T00:00:00Z|00001|module|LEVEL|...").
std::string first_line(const std::string& s) {
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > 4 && std::isdigit(static_cast<unsigned char>(line[0])) &&
        line.find('|') != std::string::npos) {
      continue;
    }
    return line;
  }
  return "";
}

// ---------------------------------------------------------------- tests

TEST(Interop, EverySampleEncodesAndDecodesBack) {
  const auto samples = all_samples();
  EXPECT_GE(samples.size(), 100u);
  for (const auto& s : samples) {
    SCOPED_TRACE(s.ovs_name);
    Bytes wire = must_encode(s.message);
    auto back = decode(wire);
    ASSERT_TRUE(back.ok()) << describe(back.error());
    EXPECT_TRUE(*back == s.message) << type_name(s.message.body) << " v"
                                    << int{s.message.version} << " "
                                    << to_hex(wire.data(), wire.size());
  }
}

// One value of each alternative of a variant.
template <class V, std::size_t... I>
std::vector<V> each_alternative(std::index_sequence<I...>) {
  return {V(std::in_place_index<I>)...};
}
template <class V>
std::vector<V> each_alternative() {
  return each_alternative<V>(std::make_index_sequence<std::variant_size_v<V>>{});
}

TEST(Interop, SamplesCoverEveryMessageTypeOfBothVersions) {
  const auto samples = all_samples();
  for (std::uint8_t v : {kVersion10, kVersion13}) {
    SCOPED_TRACE(v == kVersion10 ? "OpenFlow 1.0" : "OpenFlow 1.3");
    auto covered = [&](auto&& pred) {
      return std::any_of(samples.begin(), samples.end(),
                         [&](const Sample& s) { return s.message.version == v && pred(s.message.body); });
    };
    for (const auto& body : each_alternative<MessageBody>()) {
      if (wire_type(v, body) < 0) continue;  // not in this version
      EXPECT_TRUE(covered([&](const MessageBody& b) { return b.index() == body.index(); }))
          << "no sample of " << type_name(body);
    }
    // Multipart bodies this version can encode.
    for (const auto& req : each_alternative<MultipartRequestBody>()) {
      if (!encode(Message{v, 0, MultipartRequest{0, req}}).ok()) continue;
      EXPECT_TRUE(covered([&](const MessageBody& b) {
        const auto* m = std::get_if<MultipartRequest>(&b);
        return m != nullptr && m->body.index() == req.index();
      })) << "no sample of multipart request type " << multipart_type_of(req);
    }
    for (const auto& rep : each_alternative<MultipartReplyBody>()) {
      if (!encode(Message{v, 0, MultipartReply{0, rep}}).ok()) continue;
      EXPECT_TRUE(covered([&](const MessageBody& b) {
        const auto* m = std::get_if<MultipartReply>(&b);
        return m != nullptr && m->body.index() == rep.index();
      })) << "no sample of multipart reply type " << multipart_type_of(rep);
    }
  }
}

TEST(Interop, OvsOfctlDecodesEverything) {
  const std::string ovs = find_tool("ovs-ofctl");
  ASSERT_FALSE(ovs.empty())
      << "ovs-ofctl not found on PATH: this test needs it (Debian: apt-get install "
         "openvswitch-common); it fails rather than skips";
  // Text OVS prints when it cannot decode something.
  const std::vector<std::string> markers = {"***", "|WARN|", "|ERR|", "decode error",
                                            "truncated", "only uses", "bad ", "invalid"};
  const std::vector<std::string> error_names = {"OFPBRC_", "OFPBAC_", "OFPBIC_", "OFPBMC_",
                                                "OFPFMFC_", "OFPGMFC_", "OFPMMFC_", "NXBRC_",
                                                "ONFBFC_", "OFPBFC_"};
  std::size_t checked = 0;
  for (const auto& s : all_samples()) {
    const Bytes wire = must_encode(s.message);
    const std::string hex = to_hex(wire.data(), wire.size());
    const Output out = run(ovs + " ofp-print " + hex + " 2>&1");
    const std::string what = s.ovs_name + " (" + type_name(s.message.body) + " v" +
                             (s.message.version == kVersion10 ? "1.0" : "1.3") + "): " + hex +
                             "\n" + out.text;
    std::vector<std::string> problems;
    if (out.status != 0) problems.push_back("exit status " + std::to_string(out.status));
    if (first_line(out.text).find(s.ovs_name) == std::string::npos) {
      problems.push_back("OVS does not call it " + s.ovs_name);
    }
    for (const auto& m : markers) {
      if (out.text.find(m) != std::string::npos) problems.push_back("'" + m + "'");
    }
    if (!std::holds_alternative<Error>(s.message.body)) {
      for (const auto& m : error_names) {
        if (out.text.find(m) != std::string::npos) problems.push_back("'" + m + "'");
      }
    }
    if (!problems.empty()) {
      std::string list;
      for (const auto& p : problems) list += (list.empty() ? "" : ", ") + p;
      ADD_FAILURE() << list << " for " << what;
    }
    ++checked;
  }
  EXPECT_GE(checked, 100u);
}

TEST(Interop, OvsOfctlFlagsABrokenMessage) {
  // The markers above are real: a FLOW_MOD whose output action says length 8.
  const std::string ovs = find_tool("ovs-ofctl");
  ASSERT_FALSE(ovs.empty()) << "ovs-ofctl not found on PATH";
  const std::string hex =
      "040e0050 00000002"                       // v1.3 FLOW_MOD, length 80
      "0000000000000000 0000000000000000"       // cookie, cookie_mask
      "00 00 0000 0000 8000 ffffffff"           // table, command, timeouts, priority, buffer
      "ffffffff ffffffff 0000 0000"             // out_port, out_group, flags, pad
      "0001 0004 00000000"                      // empty OXM match
      "0004 0018 00000000"                      // APPLY_ACTIONS, length 24
      "0000 0008 00000001 0000 000000000000";   // output action with length 8
  std::string compact;
  for (char c : hex) {
    if (c != ' ') compact += c;
  }
  const Output out = run(ovs + " ofp-print " + compact + " 2>&1");
  EXPECT_NE(out.text.find("***decode error: OFPBAC_BAD_LEN***"), std::string::npos) << out.text;
}

TEST(Interop, TsharkDissectsEverything) {
  const std::string tshark = find_tool("tshark");
  ASSERT_FALSE(tshark.empty())
      << "tshark not found on PATH: this test needs it (Debian: apt-get install tshark); it "
         "fails rather than skips";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty()) << "cannot create a temporary directory";
  const fs::path pcap = dir.path() / "interop.pcap";
  std::vector<Sample> samples;
  for (auto& s : all_samples()) {
    if (s.in_pcap) samples.push_back(std::move(s));
  }
  {
    PcapWriter w(pcap);
    for (const auto& s : samples) w.segment(must_encode(s.message));
    ASSERT_TRUE(w.ok()) << "cannot write " << pcap;
  }
  // For debugging: TAPFLOW_INTEROP_KEEP_PCAP=FILE keeps a copy of the capture.
  if (const char* keep = std::getenv("TAPFLOW_INTEROP_KEEP_PCAP")) {
    std::error_code ec;
    fs::copy_file(pcap, keep, fs::copy_options::overwrite_existing, ec);
  }
  const std::string base = tshark + " -n -r " + pcap.string() + " -d tcp.port==6653,openflow";

  // Full dissection: nothing malformed, no error-level expert info.
  const Output verbose = run(base + " -V 2>&1");
  ASSERT_EQ(verbose.status, 0) << verbose.text.substr(0, 4000);
  for (const char* m : {"Malformed", "[Expert Info (Error", "Exception occurred"}) {
    const auto at = verbose.text.find(m);
    EXPECT_EQ(at, std::string::npos)
        << m << " in tshark output:\n"
        << verbose.text.substr(at == std::string::npos ? 0 : (at > 3000 ? at - 3000 : 0), 4000);
  }

  // One OpenFlow message per frame, of the type we wrote.
  const Output fields =
      run(base + " -T fields -e frame.number -e openflow_1_0.type -e openflow_v4.type 2>/dev/null");
  ASSERT_EQ(fields.status, 0);
  std::istringstream lines(fields.text);
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    ASSERT_LT(n, samples.size()) << "more frames than messages: " << line;
    const auto& m = samples[n].message;
    std::istringstream cols(line);
    std::string frame, t10, t13;
    std::getline(cols, frame, '\t');
    std::getline(cols, t10, '\t');
    std::getline(cols, t13, '\t');
    const std::string seen = m.version == kVersion10 ? t10 : t13;
    const std::string first = seen.substr(0, seen.find(','));
    EXPECT_EQ(first, std::to_string(wire_type(m.version, m.body)))
        << "frame " << frame << " (" << samples[n].ovs_name << "): tshark saw '" << line << "'";
  }
  EXPECT_EQ(n, samples.size()) << "tshark saw " << n << " OpenFlow frames";
}

}  // namespace
}  // namespace tapflow::openflow
