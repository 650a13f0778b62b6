// Capability probing in the handshake (ConnectionOptions::probe_capabilities):
// DESC, TABLE_FEATURES and GROUP_FEATURES (1.3) or TABLE stats (1.0) against
// fake switches that answer, refuse, garble or ignore them.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace tapflow::controller {
namespace {

using namespace testing;

ControllerConfig probing_config() {
  auto cfg = ControllerFixture::fast_config();
  cfg.connection.probe_capabilities = true;
  cfg.connection.probe_group_features = true;
  return cfg;
}

TableFeatureProp ids_prop(std::uint16_t type, std::vector<std::uint16_t> ids) {
  TableFeatureProp p;
  p.type = type;
  for (auto id : ids) p.ids.push_back(TableFeatureId{id, {}});
  return p;
}

// One table as OVS describes it: instructions (0), next tables (2), apply
// actions (6) and match fields (8).
TableFeatures table(std::uint8_t id, std::uint32_t max_entries, bool goto_table, bool dec_ttl) {
  TableFeatures t;
  t.table_id = id;
  t.name = "table" + std::to_string(id);
  t.metadata_match = t.metadata_write = ~std::uint64_t{0};
  t.max_entries = max_entries;
  std::vector<std::uint16_t> instructions{3, 4, 6};  // write, apply, meter
  if (goto_table) instructions.insert(instructions.begin(), 1);
  t.properties.push_back(ids_prop(0, instructions));
  TableFeatureProp next;
  next.type = 2;
  next.table_ids = {static_cast<std::uint8_t>(id + 1)};
  t.properties.push_back(next);
  std::vector<std::uint16_t> actions{0, 17, 22, 25};  // output, push_vlan, group, set_field
  if (dec_ttl) actions.push_back(24);
  t.properties.push_back(ids_prop(6, actions));
  TableFeatureProp match;
  match.type = 8;
  match.oxm_ids = {0x80000004, 0x80000606, 0x80000a02};  // in_port, eth_dst, eth_type
  t.properties.push_back(match);
  return t;
}

DescStatsReply desc(std::string mfr, std::string hw, std::string sw) {
  DescStatsReply d;
  d.desc.mfr_desc = std::move(mfr);
  d.desc.hw_desc = std::move(hw);
  d.desc.sw_desc = std::move(sw);
  d.desc.serial_num = "None";
  d.desc.dp_desc = "None";
  return d;
}

GroupFeaturesStatsReply groups(std::uint32_t types) {
  GroupFeaturesStatsReply g;
  g.features.types = types;
  g.features.max_groups = {4096, 4096, 4096, 4096};
  return g;
}

pipeline::Capabilities capabilities(ControllerFixture& f, std::uint64_t dpid) {
  return f.run([&] {
    Datapath* dp = f.controller().find(dpid);
    return dp != nullptr ? dp->capabilities() : pipeline::Capabilities{};
  });
}

TEST(Capabilities, OpenFlow13SwitchAnsweringEverything) {
  ControllerFixture f(probing_config());
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = ProbeAnswer::reply({desc("Nicira, Inc.", "Open vSwitch", "3.1.0")});
  // Two tables in two parts: the reply is reassembled across kMore.
  pa.table_features = ProbeAnswer::reply({TableFeaturesStatsReply{{table(0, 1000000, true, true)}},
                                          TableFeaturesStatsReply{{table(1, 100, false, false)}}});
  pa.group_features = ProbeAnswer::reply({groups(0xf)});  // all, select, indirect, ff
  sw.probes = pa;
  sw.handshake(kVersion13, 0x13);
  ASSERT_TRUE(f.app.wait_kind("up"));

  const auto c = capabilities(f, 0x13);
  EXPECT_EQ(c.version, kVersion13);
  EXPECT_EQ(c.n_tables, 254);
  EXPECT_EQ(c.manufacturer, "Nicira, Inc.");
  EXPECT_EQ(c.hardware, "Open vSwitch");
  EXPECT_EQ(c.software, "3.1.0");
  EXPECT_EQ(c.goto_table, std::optional<bool>(true));
  EXPECT_EQ(c.dec_ttl, std::optional<bool>(true));
  EXPECT_EQ(c.group_indirect, std::optional<bool>(true));
  EXPECT_EQ(c.group_select, std::optional<bool>(true));
  EXPECT_EQ(c.max_entries, (std::map<std::uint8_t, std::uint32_t>{{0, 1000000}, {1, 100}}));
  EXPECT_TRUE(sw.saw_multipart_request<DescStatsRequest>());
  EXPECT_FALSE(sw.saw_multipart_request<TableStatsRequest>());  // 1.0 only
}

TEST(Capabilities, OpenFlow13WithoutGotoTableDecTtlOrSelectGroups) {
  // Only table 0 decides goto-table and dec_ttl; table 1 offering both changes nothing.
  ControllerFixture f(probing_config());
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = ProbeAnswer::reply({desc("MikroTik", "CRS326-24G-2S+", "7.15")});
  pa.table_features = ProbeAnswer::reply(
      {TableFeaturesStatsReply{{table(0, 4000, false, false), table(1, 0, true, true)}}});
  pa.group_features = ProbeAnswer::reply({groups(1u << group_type::kIndirect)});
  sw.probes = pa;
  sw.handshake(kVersion13, 0x14);
  ASSERT_TRUE(f.app.wait_kind("up"));

  const auto c = capabilities(f, 0x14);
  EXPECT_EQ(c.manufacturer, "MikroTik");
  EXPECT_EQ(c.goto_table, std::optional<bool>(false));
  EXPECT_EQ(c.dec_ttl, std::optional<bool>(false));
  EXPECT_EQ(c.group_indirect, std::optional<bool>(true));
  EXPECT_EQ(c.group_select, std::optional<bool>(false));
  EXPECT_EQ(c.max_entries, (std::map<std::uint8_t, std::uint32_t>{{0, 4000}, {1, 0}}));
}

TEST(Capabilities, RefusedProbesLeaveThosePartsUnknown) {
  ControllerFixture f(probing_config());
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = ProbeAnswer::reply({desc("Acme", "ofswitch", "1.0")});
  pa.table_features = ProbeAnswer::error(error_type::kBadRequest, bad_request::kBadType);
  pa.group_features = ProbeAnswer::error(error_type::kBadRequest, bad_request::kBadMultipart);
  sw.probes = pa;
  sw.handshake(kVersion13, 0x15);
  ASSERT_TRUE(f.app.wait_kind("up"));

  const auto c = capabilities(f, 0x15);
  EXPECT_EQ(c.manufacturer, "Acme");
  EXPECT_EQ(c.n_tables, 254);
  EXPECT_FALSE(c.goto_table.has_value());
  EXPECT_FALSE(c.dec_ttl.has_value());
  EXPECT_FALSE(c.group_indirect.has_value());
  EXPECT_FALSE(c.group_select.has_value());
  EXPECT_TRUE(c.max_entries.empty());
  // The errors were the probes' answers: nothing reaches the app.
  EXPECT_EQ(RecordingApp::count(f.app.events(), "error"), 0u);
  EXPECT_EQ(RecordingApp::count(f.app.events(), "down"), 0u);
}

TEST(Capabilities, SilentSwitchComesUpAfterTheRequestTimeout) {
  auto cfg = probing_config();
  cfg.connection.request_timeout = 300ms;
  ControllerFixture f(cfg);
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = pa.table_features = pa.group_features = ProbeAnswer::silent();
  sw.probes = pa;
  const auto t0 = std::chrono::steady_clock::now();
  sw.handshake(kVersion13, 0x16);
  ASSERT_TRUE(f.app.wait_kind("up"));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);

  const auto c = capabilities(f, 0x16);
  EXPECT_EQ(c.version, kVersion13);
  EXPECT_EQ(c.n_tables, 254);
  EXPECT_TRUE(c.manufacturer.empty());
  EXPECT_FALSE(c.goto_table.has_value());
  EXPECT_FALSE(c.group_indirect.has_value());
  EXPECT_TRUE(c.max_entries.empty());

  // Late answers to the abandoned probes are dropped: no app error, no change.
  ASSERT_EQ(sw.probe_requests.size(), 3u);
  for (const auto& req : sw.probe_requests) {
    const auto& body = std::get<MultipartRequest>(req.body).body;
    if (std::holds_alternative<DescStatsRequest>(body)) {
      sw.send(Message{kVersion13, req.xid, MultipartReply{0, desc("Late", "", "")}});
    } else {
      Error e;
      e.type = error_type::kBadRequest;
      e.code = bad_request::kBadType;
      sw.send(Message{kVersion13, req.xid, e});
    }
  }
  PacketIn pi;
  pi.in_port = 1;
  pi.data = Bytes(64, 0xab);
  pi.total_len = 64;
  sw.send(Message{kVersion13, 0, pi});  // handled after the late answers
  ASSERT_TRUE(f.app.wait_kind("packet_in"));
  EXPECT_EQ(RecordingApp::count(f.app.events(), "error"), 0u);
  EXPECT_EQ(RecordingApp::count(f.app.events(), "down"), 0u);
  EXPECT_TRUE(capabilities(f, 0x16).manufacturer.empty());
}

TEST(Capabilities, HandshakeTimeoutBoundsTheProbes) {
  // Probes that would time out after the handshake ends are given half of
  // what is left of it: the switch still comes up.
  auto cfg = probing_config();
  cfg.connection.handshake_timeout = 2s;
  cfg.connection.request_timeout = 30s;
  ControllerFixture f(cfg);
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = pa.table_features = pa.group_features = ProbeAnswer::silent();
  sw.probes = pa;
  sw.probe_wait = 3s;
  sw.handshake(kVersion13, 0x17);
  ASSERT_TRUE(f.app.wait_kind("up", 1, 3s));
  EXPECT_TRUE(capabilities(f, 0x17).manufacturer.empty());
}

TEST(Capabilities, UndecodableAnswerFailsThatProbeAtOnce) {
  auto cfg = probing_config();
  cfg.connection.handshake_timeout = 20s;
  cfg.connection.request_timeout = 10s;
  ControllerFixture f(cfg);
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = ProbeAnswer::reply({desc("Acme", "", "")});
  // MULTIPART_REPLY / TABLE_FEATURES whose one entry claims 8 bytes (< 64).
  pa.table_features = ProbeAnswer::raw_bytes(
      Bytes{kVersion13, 19, 0, 24, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0,  //
            0, 8, 0, 0, 0, 0, 0, 0});
  pa.group_features = ProbeAnswer::reply({groups(0x6)});
  sw.probes = pa;
  const auto t0 = std::chrono::steady_clock::now();
  sw.handshake(kVersion13, 0x18);
  ASSERT_TRUE(f.app.wait_kind("up"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // not the 10 s request timeout

  const auto c = capabilities(f, 0x18);
  EXPECT_EQ(c.manufacturer, "Acme");
  EXPECT_FALSE(c.goto_table.has_value());
  EXPECT_TRUE(c.max_entries.empty());
  EXPECT_EQ(c.group_indirect, std::optional<bool>(true));
  EXPECT_EQ(c.group_select, std::optional<bool>(true));
}

TEST(Capabilities, OpenFlow10DescAndTableStats) {
  ControllerFixture f(probing_config());
  FakeSwitch sw(f.port);
  ProbeAnswers pa;
  pa.desc = ProbeAnswer::reply({desc("Stanford University", "Reference Userspace Switch", "1.0.0")});
  TableStats t0;
  t0.table_id = 0;
  t0.name = "classifier";
  t0.wildcards = 0x3fffff;
  t0.max_entries = 2048;
  t0.active_count = 3;
  pa.table_stats = ProbeAnswer::reply({TableStatsReply{{t0}}});
  sw.probes = pa;
  sw.handshake(kVersion10, 0x10, {FakeSwitch::make_port(1, "eth1")});
  ASSERT_TRUE(f.app.wait_kind("up"));

  const auto c = capabilities(f, 0x10);
  EXPECT_EQ(c.version, kVersion10);
  EXPECT_EQ(c.n_tables, 1);
  EXPECT_EQ(c.manufacturer, "Stanford University");
  EXPECT_EQ(c.max_entries, (std::map<std::uint8_t, std::uint32_t>{{0, 2048}}));
  EXPECT_FALSE(c.goto_table.has_value());
  EXPECT_FALSE(c.dec_ttl.has_value());
  EXPECT_FALSE(c.group_indirect.has_value());
  EXPECT_FALSE(c.group_select.has_value());
  EXPECT_FALSE(sw.saw_multipart_request<TableFeaturesStatsRequest>());
  EXPECT_FALSE(sw.saw_multipart_request<GroupFeaturesStatsRequest>());
}

TEST(Capabilities, NoProbesUnlessAskedFor) {
  ControllerFixture f;  // probe_capabilities off (the default)
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 0x19);
  ASSERT_TRUE(f.app.wait_kind("up"));
  (void)sw.recv(200ms);  // anything sent after up
  EXPECT_FALSE(sw.saw_multipart_request<DescStatsRequest>());
  EXPECT_FALSE(sw.saw_multipart_request<TableFeaturesStatsRequest>());
  EXPECT_FALSE(sw.saw_multipart_request<GroupFeaturesStatsRequest>());
  const auto c = capabilities(f, 0x19);
  EXPECT_EQ(c.version, kVersion13);  // from FEATURES all the same
  EXPECT_EQ(c.n_tables, 254);
  EXPECT_TRUE(c.manufacturer.empty());
  EXPECT_TRUE(c.max_entries.empty());
}

}  // namespace
}  // namespace tapflow::controller
