// to_json on hand-built messages: Ryu's shapes, the lengths Ryu shows (they
// must agree with encode()), 1.0 port numbering and match derivation, and the
// generic form of experimenter actions.
#include "tapflow/openflow/json.hpp"

#include <gtest/gtest.h>

#include "tapflow/openflow/codec.hpp"
#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

using nlohmann::json;

MacAddress mac(const char* s) { return *MacAddress::parse(s); }

Message flow_mod13() {
  FlowMod f;
  f.table_id = 1;
  f.priority = 123;
  f.cookie = 0x10;
  f.cookie_mask = 0xff;
  f.match.add(oxm::eth_type(0x0800)).add(oxm::ipv4_dst(0x0a000000, 0xffffff00));
  f.instructions.push_back(instruction::Meter{7});
  f.instructions.push_back(instruction::ApplyActions{
      {action::SetField{oxm::eth_src(mac("01:02:03:04:05:06"))}, action::DecNwTtl{},
       action::Group{99}, action::Output{6, 0xffe5}}});
  f.instructions.push_back(instruction::ClearActions{});
  f.instructions.push_back(instruction::WriteMetadata{0x1, 0xff});
  f.instructions.push_back(instruction::GotoTable{2});
  return Message{kVersion13, 1, f};
}

TEST(Json, FlowMod13HasRyuShapeAndLengths) {
  const json expected = json::parse(R"({"OFPFlowMod": {
    "buffer_id": 4294967295, "command": 0, "cookie": 16, "cookie_mask": 255, "flags": 0,
    "hard_timeout": 0, "idle_timeout": 0, "out_group": 4294967295, "out_port": 4294967295,
    "priority": 123, "table_id": 1,
    "match": {"OFPMatch": {"length": 22, "type": 1, "oxm_fields": [
      {"OXMTlv": {"field": "eth_type", "mask": null, "value": 2048}},
      {"OXMTlv": {"field": "ipv4_dst", "mask": "255.255.255.0", "value": "10.0.0.0"}}]}},
    "instructions": [
      {"OFPInstructionMeter": {"len": 8, "meter_id": 7, "type": 6}},
      {"OFPInstructionActions": {"len": 56, "type": 4, "actions": [
        {"OFPActionSetField": {"len": 16, "type": 25, "field":
          {"OXMTlv": {"field": "eth_src", "mask": null, "value": "01:02:03:04:05:06"}}}},
        {"OFPActionDecNwTtl": {"len": 8, "type": 24}},
        {"OFPActionGroup": {"group_id": 99, "len": 8, "type": 22}},
        {"OFPActionOutput": {"len": 16, "max_len": 65509, "port": 6, "type": 0}}]}},
      {"OFPInstructionActions": {"actions": [], "len": 8, "type": 5}},
      {"OFPInstructionWriteMetadata": {"len": 24, "metadata": 1, "metadata_mask": 255, "type": 2}},
      {"OFPInstructionGotoTable": {"len": 8, "table_id": 2, "type": 1}}]}})");
  EXPECT_EQ(to_json(flow_mod13()), expected) << to_json(flow_mod13()).dump(1);
}

TEST(Json, LengthsAgreeWithEncode) {
  const Message m = flow_mod13();
  auto wire = encode(m);
  ASSERT_TRUE(wire.ok()) << describe(wire.error());
  const json j = to_json(m)["OFPFlowMod"];
  // ofp_flow_mod: 48 fixed bytes (with the header), the match padded to 8, instructions.
  std::size_t size = 48 + (j["match"]["OFPMatch"]["length"].get<std::size_t>() + 7) / 8 * 8;
  for (const auto& i : j["instructions"]) size += i.begin()->at("len").get<std::size_t>();
  EXPECT_EQ(size, wire->size());

  PacketOut po;
  po.actions = {action::SetField{oxm::ipv6_dst(std::array<std::uint8_t, 16>{0xfe, 0x80})},
                action::Output{port::kTable, 0}};
  po.data = {1, 2, 3};
  const Message out{kVersion13, 2, po};
  auto out_wire = encode(out);
  ASSERT_TRUE(out_wire.ok());
  const json pj = to_json(out)["OFPPacketOut"];
  // ofp_packet_out: 24 fixed bytes, actions, data.
  EXPECT_EQ(pj["actions_len"], 40);
  EXPECT_EQ(24 + pj["actions_len"].get<std::size_t>() + 3, out_wire->size());
  EXPECT_EQ(pj["actions"][0]["OFPActionSetField"]["len"], 24);
  EXPECT_EQ(pj["actions"][0]["OFPActionSetField"]["field"]["OXMTlv"]["value"], "fe80::");
  EXPECT_EQ(pj["actions"][1]["OFPActionOutput"]["port"], 0xfffffff9u);
  EXPECT_EQ(pj["data"], "AQID");
}

// Sum of the "len"/"length" Ryu shows for each entry of a multipart body.
std::size_t entry_lengths(const json& body) {
  std::size_t n = 0;
  for (const auto& e : body) {
    const json& v = *e.begin();
    n += (v.contains("length") ? v["length"] : v["len"]).get<std::size_t>();
  }
  return n;
}

std::size_t encoded_size(const Message& m) {
  auto wire = encode(m);
  EXPECT_TRUE(wire.ok()) << describe(wire.error());
  return wire.ok() ? wire->size() : 0;
}

TEST(Json, MultipartEntryLengthsAgreeWithEncode) {
  FlowStats fs;
  fs.match.add(oxm::eth_type(0x0806));
  fs.instructions.push_back(instruction::ApplyActions{{action::Output{port::kNormal}}});
  fs.instructions.push_back(instruction::GotoTable{3});
  Bucket b{1, port::kAny, kGroupAny, {action::Output{1}, action::DecNwTtl{}}};
  MeterBand drop{meter_band_type::kDrop, 1000, 10, 0, 0, {}};

  // 1.3 multipart replies: 16-byte header, then the entries.
  const Message flows{kVersion13, 0, MultipartReply{0, FlowStatsReply{{fs, fs}}}};
  EXPECT_EQ(16 + entry_lengths(to_json(flows)["OFPFlowStatsReply"]["body"]), encoded_size(flows));
  const Message groups{kVersion13, 0, MultipartReply{0, GroupDescStatsReply{{GroupDesc{1, 2, {b, b}}}}}};
  EXPECT_EQ(16 + entry_lengths(to_json(groups)["OFPGroupDescStatsReply"]["body"]),
            encoded_size(groups));
  const Message meters{kVersion13, 0,
                       MultipartReply{0, MeterConfigStatsReply{{MeterConfig{1, 5, {drop, drop}}}}}};
  EXPECT_EQ(16 + entry_lengths(to_json(meters)["OFPMeterConfigStatsReply"]["body"]),
            encoded_size(meters));
  GroupStats gs;
  gs.bucket_stats.resize(3);
  const Message gstats{kVersion13, 0, MultipartReply{0, GroupStatsReply{{gs}}}};
  EXPECT_EQ(16 + entry_lengths(to_json(gstats)["OFPGroupStatsReply"]["body"]), encoded_size(gstats));
  MeterStats ms;
  ms.band_stats.resize(2);
  const Message mstats{kVersion13, 0, MultipartReply{0, MeterStatsReply{{ms}}}};
  EXPECT_EQ(16 + entry_lengths(to_json(mstats)["OFPMeterStatsReply"]["body"]), encoded_size(mstats));

  // 1.0 stats replies: 12-byte header; flow stats carry actions.
  FlowStats fs10;
  fs10.instructions.push_back(instruction::ApplyActions{
      {action::Output{1}, action::SetField{oxm::eth_src(mac("00:00:00:00:00:01"))},
       action::Enqueue{1, 2}, action::SetVlanPcp{3}}});
  const Message flows10{kVersion10, 0, MultipartReply{0, FlowStatsReply{{fs10}}}};
  EXPECT_EQ(12 + entry_lengths(to_json(flows10)["OFPFlowStatsReply"]["body"]),
            encoded_size(flows10));

  // Queue configs: a 16-byte header in both versions.
  PacketQueue q{5, 0, {QueueProperty{1, 10, 0, {}}}};
  for (std::uint8_t v : {kVersion10, kVersion13}) {
    const Message qc{v, 0, QueueGetConfigReply{1, {q, q}}};
    EXPECT_EQ(16 + entry_lengths(to_json(qc)["OFPQueueGetConfigReply"]["queues"]), encoded_size(qc))
        << int(v);
  }
}

TEST(Json, FlowMod10UsesSixteenBitPortsAndDerivesTheMatch) {
  FlowMod f;
  f.priority = 100;
  f.out_port = port::kAny;
  f.match.add(oxm::in_port(port::kLocal))
      .add(oxm::eth_type(0x0800))
      .add(oxm::ipv4_dst(0x0a000000, 0xffffff00));
  f.instructions.push_back(instruction::ApplyActions{
      {action::Output{port::kController, 128}, action::SetField{oxm::eth_dst(mac("aa:bb:cc:dd:ee:ff"))},
       action::PopVlan{}, action::Enqueue{3, 7}}});
  const json expected = json::parse(R"({"OFPFlowMod": {
    "buffer_id": 4294967295, "command": 0, "cookie": 0, "flags": 0, "hard_timeout": 0,
    "idle_timeout": 0, "out_port": 65535, "priority": 100,
    "match": {"OFPMatch": {
      "wildcards": 3285230, "in_port": 65534, "dl_src": "00:00:00:00:00:00",
      "dl_dst": "00:00:00:00:00:00", "dl_vlan": 0, "dl_vlan_pcp": 0, "dl_type": 2048,
      "nw_tos": 0, "nw_proto": 0, "nw_src": "0.0.0.0", "nw_dst": "10.0.0.0",
      "tp_src": 0, "tp_dst": 0}},
    "actions": [
      {"OFPActionOutput": {"max_len": 128, "port": 65533}},
      {"OFPActionSetDlDst": {"dl_addr": "aa:bb:cc:dd:ee:ff"}},
      {"OFPActionStripVlan": {}},
      {"OFPActionEnqueue": {"port": 3, "queue_id": 7}}]}})");
  // wildcards: everything but in_port and dl_type, nw_dst ignoring 8 bits, in the
  // spelling the 1.0 encoder writes.
  EXPECT_EQ(to_json(Message{kVersion10, 1, f}), expected)
      << to_json(Message{kVersion10, 1, f}).dump(1);
}

TEST(Json, Of10MatchPrefersTheWireBytes) {
  // Decoded 1.0 matches keep their ofp_match; stale wildcarded values show as
  // Ryu shows them.
  Match m;
  m.add(oxm::eth_dst(mac("f2:0b:a4:7d:f8:ea")));
  Of10MatchBytes wire{};
  wire[0] = 0x00; wire[1] = 0x3f; wire[2] = 0xff; wire[3] = 0xf7;  // all but DL_DST
  wire[5] = 0x09;                                                  // stale in_port 9
  const std::uint8_t dst[] = {0xf2, 0x0b, 0xa4, 0x7d, 0xf8, 0xea};
  std::copy(std::begin(dst), std::end(dst), wire.begin() + 12);
  m.of10_wire = wire;
  const json j = to_json(m, kVersion10)["OFPMatch"];
  EXPECT_EQ(j["wildcards"], 4194295);
  EXPECT_EQ(j["in_port"], 9);
  EXPECT_EQ(j["dl_dst"], "f2:0b:a4:7d:f8:ea");

  // A match 1.0 cannot say (IPv6) still shows what it can: dl_type.
  Match v6;
  v6.add(oxm::eth_type(0x86dd)).add(oxm::ipv6_dst(std::array<std::uint8_t, 16>{0xfe, 0x80}));
  const json k = to_json(v6, kVersion10)["OFPMatch"];
  EXPECT_EQ(k["wildcards"], 0x3820ff & ~0x10);
  EXPECT_EQ(k["dl_type"], 0x86dd);
}

TEST(Json, ExperimenterActionsShowGenericKeysOnly) {
  // Bodies: the 16-bit subtype, then the rest.
  const Action ct = action::Experimenter{
      kNiciraExperimenter, {0x00, 0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
  EXPECT_EQ(to_json(ct, kVersion13), json::parse(R"({"NXActionCT": {"experimenter": 8992,
      "subtype": 35, "len": 24, "type": 65535, "data": "AAAAAAAAAAAAAAAAAAA="}})"));
  const Action dec_ttl = action::Experimenter{kNiciraExperimenter, {0x00, 0x12, 0, 0, 0, 0, 0, 0}};
  EXPECT_EQ(to_json(dec_ttl, kVersion10), json::parse(R"({"NXActionDecTtl": {"vendor": 8992,
      "subtype": 18, "data": "AAAAAAAA"}})"));
  const Action unknown = action::Experimenter{kNiciraExperimenter, {0x65, 0x78, 'p', '_'}};
  EXPECT_EQ(to_json(unknown, kVersion13)["NXActionUnknown"]["data"], "cF8=");
  const Action other = action::Experimenter{101, {0, 1, 2, 3, 4, 5, 6, 7}};
  EXPECT_EQ(to_json(other, kVersion13), json::parse(R"({"OFPActionExperimenterUnknown": {
      "data": "AAECAwQFBgc=", "experimenter": 101, "len": 16, "type": 65535}})"));
  EXPECT_STREQ(nicira_action_name(34), "NXActionConjunction");
  EXPECT_STREQ(nicira_action_name(3), "NXActionUnknown");
}

TEST(Json, OxmValuesByKind) {
  Match m;
  m.add(oxm::eth_dst(mac("01:00:5e:00:00:00"), mac("ff:ff:ff:80:00:00")));
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  std::array<std::uint8_t, 16> mask{0xff, 0xff, 0xff, 0xff};
  m.add(oxm::ipv6_src(a, mask));
  m.add(oxm::metadata(0x1234, 0xffff));
  OxmField reg;  // NXM_NX_REG5, masked
  reg.oxm_class = oxm_class::kNxm1;
  reg.field = 5;
  reg.has_mask = true;
  reg.value = {0, 0, 0xab, 0xcd};
  reg.mask = {0, 0, 0xff, 0xff};
  m.add(reg);
  OxmField unknown;  // basic field 40 is unassigned
  unknown.field = 40;
  unknown.value = {1, 2, 3};
  m.add(unknown);
  OxmField pbb_uca;  // EXT-256: ONF experimenter, exp_type 2560, then the value
  pbb_uca.oxm_class = oxm_class::kExperimenter;
  pbb_uca.experimenter = kOnfExperimenter;
  pbb_uca.value = {0x0a, 0x00, 0x01};
  m.add(pbb_uca);
  const json expected = json::parse(R"({"OFPMatch": {"length": 106, "type": 1, "oxm_fields": [
    {"OXMTlv": {"field": "eth_dst", "value": "01:00:5e:00:00:00", "mask": "ff:ff:ff:80:00:00"}},
    {"OXMTlv": {"field": "ipv6_src", "value": "2001:db8::", "mask": "ffff:ffff::"}},
    {"OXMTlv": {"field": "metadata", "value": 4660, "mask": 65535}},
    {"OXMTlv": {"field": "reg5", "value": 43981, "mask": 65535}},
    {"OXMTlv": {"field": "field_4194344", "value": "AQID", "mask": null}},
    {"OXMTlv": {"field": "pbb_uca", "value": 1, "mask": null}}]}})");
  EXPECT_EQ(to_json(m, kVersion13), expected) << to_json(m, kVersion13).dump(1);
}

TEST(Json, ErrorsHelloAndEcho) {
  Error exp_err;
  exp_err.type = error_type::kExperimenter;
  exp_err.code = 60000;
  exp_err.experimenter = 999999;
  exp_err.data = {'a'};
  EXPECT_EQ(to_json(Message{kVersion13, 0, exp_err}), json::parse(R"({"OFPErrorMsg": {
      "type": 65535, "code": null, "exp_type": 60000, "experimenter": 999999, "data": "YQ=="}})"));
  Error err{error_type::kBadMatch, bad_match::kBadPrereq, 0, {}};
  EXPECT_EQ(to_json(Message{kVersion13, 0, err}),
            json::parse(R"({"OFPErrorMsg": {"type": 4, "code": 9, "data": ""}})"));

  Hello h;
  h.elements.push_back(HelloElement{HelloElement::kVersionBitmap, {0x12, 0x2}, {}});
  EXPECT_EQ(to_json(Message{kVersion13, 0, h}), json::parse(R"({"OFPHello": {"elements": [
      {"OFPHelloElemVersionBitmap": {"length": 12, "type": 1, "versions": [1, 4, 33]}}]}})"));
  EXPECT_EQ(to_json(Message{kVersion10, 0, Hello{}}), json::parse(R"({"OFPHello": {}})"));
  EXPECT_EQ(to_json(Message{kVersion13, 0, EchoRequest{}}),
            json::parse(R"({"OFPEchoRequest": {"data": ""}})"));
}

TEST(Json, FeaturesReply10ListsPortsByNumber) {
  FeaturesReply f;
  f.datapath_id = 1;
  f.n_tables = 1;
  Port p;
  p.port_no = port::kLocal;
  p.name = std::string("br0\xff", 4);  // not UTF-8: replaced, so the JSON can be dumped
  f.ports.push_back(p);
  const json j = to_json(Message{kVersion10, 0, f});
  const json& port = j["OFPSwitchFeatures"]["ports"]["65534"]["OFPPhyPort"];
  EXPECT_EQ(port["port_no"], 65534);
  EXPECT_EQ(port["name"], "br0\xef\xbf\xbd");
  EXPECT_FALSE(port.contains("curr_speed"));
  EXPECT_NO_THROW((void)j.dump());
  EXPECT_FALSE(j["OFPSwitchFeatures"].contains("auxiliary_id"));
}

TEST(Json, MultipartQuirks) {
  // Ryu shows meter features as a one-element list, group features as an object.
  MultipartReply mf{0, MeterFeaturesStatsReply{MeterFeatures{16, 6, 15, 255, 0}}};
  const json j = to_json(Message{kVersion13, 0, mf})["OFPMeterFeaturesStatsReply"];
  ASSERT_TRUE(j["body"].is_array());
  EXPECT_EQ(j["body"][0]["OFPMeterFeaturesStats"]["max_bands"], 255);
  EXPECT_EQ(j["type"], 11);

  MultipartReply gf{0, GroupFeaturesStatsReply{}};
  EXPECT_TRUE(to_json(Message{kVersion13, 0, gf})["OFPGroupFeaturesStatsReply"]["body"].is_object());

  MultipartRequest exp{0, ExperimenterMultipart{0xdeadbeaf, 7, {'h', 'i'}}};
  EXPECT_EQ(to_json(Message{kVersion13, 0, exp}), json::parse(R"({"OFPExperimenterStatsRequest": {
      "flags": 0, "type": 65535, "experimenter": 3735928495, "exp_type": 7, "data": "aGk="}})"));
}

TEST(Json, TableFeatureLengths) {
  TableFeatures t;
  t.name = "t0";
  TableFeatureProp next;
  next.type = 2;
  next.table_ids = {1, 2, 3};  // 4 + 3 = 7, padded to 8 in the table's length
  TableFeatureProp oxms;
  oxms.type = 8;
  oxms.oxm_ids = {0x80000004u, 0x80001708u};  // in_port, ipv4_src/mask (8 bytes)
  TableFeatureProp exp;
  exp.type = 0xfffe;
  exp.experimenter = 101;
  exp.exp_type = 2;
  exp.data = {0, 0, 0, 1, 0, 0, 0, 2};
  t.properties = {next, oxms, exp};
  MultipartReply r{0, TableFeaturesStatsReply{{t}}};
  const json j = to_json(Message{kVersion13, 0, r});
  const json& tf = j["OFPTableFeaturesStatsReply"]["body"][0]["OFPTableFeaturesStats"];
  EXPECT_EQ(tf["length"], 64 + 8 + 16 + 24);
  EXPECT_EQ(16 + tf["length"].get<std::size_t>(), encoded_size(Message{kVersion13, 0, r}));
  const json& props = tf["properties"];
  EXPECT_EQ(props[0]["OFPTableFeaturePropNextTables"]["length"], 7);
  EXPECT_EQ(props[1]["OFPTableFeaturePropOxm"], json::parse(R"({"length": 12, "type": 8,
      "oxm_ids": [{"OFPOxmId": {"hasmask": 0, "length": 4, "type": "in_port"}},
                  {"OFPOxmId": {"hasmask": 1, "length": 8, "type": "ipv4_src"}}]})"));
  EXPECT_EQ(props[2]["OFPTableFeaturePropExperimenter"], json::parse(R"({"length": 20,
      "type": 65534, "experimenter": 101, "exp_type": 2, "data": [1, 2]})"));
}

TEST(Json, QueueConfigLengths) {
  PacketQueue q;
  q.queue_id = 88;
  q.port = 77;
  q.properties = {QueueProperty{1, 100, 0, {}}, QueueProperty{0xffff, 0, 999, {1}}};
  QueueGetConfigReply r{port::kAny, {q}};
  EXPECT_EQ(to_json(Message{kVersion13, 0, r}), json::parse(R"({"OFPQueueGetConfigReply": {
      "port": 4294967295, "queues": [{"OFPPacketQueue": {"len": 49, "port": 77, "queue_id": 88,
      "properties": [{"OFPQueuePropMinRate": {"len": 16, "property": 1, "rate": 100}},
                     {"OFPQueuePropExperimenter": {"data": [1], "experimenter": 999, "len": 17,
                                                   "property": 65535}}]}}]}})"));
}

TEST(Json, Base64) {
  auto enc = [](std::string_view s) {
    return base64_encode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg==");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE=");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace tapflow::openflow
