#include "config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace tapflow::daemon {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, FullExample) {
  auto c = parse_config(R"(
listen: ["tcp:0.0.0.0:6653", "tls:[::1]:6654", "tcp:6633"]
tls:
  certificate: /etc/tapflow/ctl.pem
  private_key: /etc/tapflow/ctl.key
  ca_certificate: /etc/tapflow/ca.pem
app: learning-switch
log_level: debug
keepalive: { echo_interval: 2.5, echo_misses: 4 }
datapaths:
  allow: [1, "0x2a", "00:00:00:00:00:00:00:ff"]
limits: { max_connections: 100 }
)",
                        "t.yaml");
  ASSERT_EQ(c.controller.listeners.size(), 3u);
  EXPECT_EQ(c.controller.listeners[1].address, "::1");
  EXPECT_EQ(c.controller.listeners[1].port, 6654);
  EXPECT_TRUE(c.controller.listeners[1].tls);
  EXPECT_EQ(c.controller.listeners[2].address, "0.0.0.0");
  EXPECT_EQ(c.controller.listeners[2].port, 6633);
  ASSERT_TRUE(c.controller.tls.has_value());
  EXPECT_TRUE(c.controller.tls->require_client_cert);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.controller.connection.echo_interval.count(), 2500);
  EXPECT_EQ(c.controller.connection.echo_misses, 4u);
  EXPECT_EQ(c.controller.allowed_datapaths, (std::set<std::uint64_t>{1, 0x2a, 0xff}));
  EXPECT_EQ(c.controller.max_connections, 100u);
}

TEST(Config, EmptyFileGivesDefaults) {
  auto c = parse_config("", "t.yaml");
  ASSERT_EQ(c.controller.listeners.size(), 1u);
  EXPECT_EQ(c.controller.listeners[0].port, 6653);
  EXPECT_EQ(c.app, "learning-switch");
}

TEST(Config, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("app: learning-switch\nlisen: [\"tcp:1\"]\n").rfind("t.yaml:2:1: lisen: unknown key", 0), 0u)
      << error_of("app: learning-switch\nlisen: [\"tcp:1\"]\n");
  EXPECT_NE(error_of("listen: [\"udp:1.2.3.4:1\"]").find("t.yaml:1:10: listen:"), std::string::npos);
  EXPECT_NE(error_of("listen: [\"tcp:1.2.3.4:99999\"]").find("bad port"), std::string::npos);
  EXPECT_NE(error_of("listen: [\"tcp:not-an-ip:1\"]").find("bad address"), std::string::npos);
  EXPECT_NE(error_of("keepalive:\n  echo_interval: fast\n").find("t.yaml:2:18: keepalive.echo_interval"),
            std::string::npos);
  EXPECT_NE(error_of("app: router9000").find("unknown app"), std::string::npos);
  EXPECT_NE(error_of("log_level: loud").find("log_level"), std::string::npos);
  EXPECT_NE(error_of("listen: [\"tls:0.0.0.0:6654\"]").find("needs a tls: section"), std::string::npos);
  EXPECT_NE(error_of("tls: {certificate: a, private_key: b}").find("needs ca_certificate"),
            std::string::npos);
  EXPECT_NE(error_of("datapaths: {allow: [\"zz\"]}").find("datapaths.allow"), std::string::npos);
  EXPECT_NE(error_of("listen: [\"tcp:1\"\n").find("t.yaml:"), std::string::npos);  // YAML syntax
}

TEST(Config, RouterSection) {
  auto c = parse_config(R"(
app: router
router:
  netns_prefix: "lab-"
  mtu: 9000
  persist_taps: false
  switches:
    - dpid: 0x1
      name: r1
      ports:
        - name: s1-eth1
          interface: eth1
          mac: "02:00:00:00:01:01"
          addresses: ["10.0.1.1/24", "2001:db8:1::1/64"]
        - port: 2
          mtu: 1400
    - dpid: "00:00:00:00:00:00:00:02"
      netns: custom-ns
)",
                        "t.yaml");
  EXPECT_EQ(c.app, "router");
  EXPECT_EQ(c.router.netns_prefix, "lab-");
  EXPECT_EQ(c.router.mtu, 9000u);
  EXPECT_FALSE(c.router.persist_taps);
  ASSERT_EQ(c.router.switches.size(), 2u);
  const auto& s1 = c.router.switches[0];
  EXPECT_EQ(s1.dpid, 1u);
  EXPECT_EQ(s1.name, "r1");
  ASSERT_EQ(s1.ports.size(), 2u);
  EXPECT_EQ(*s1.ports[0].port_name, "s1-eth1");
  EXPECT_EQ(*s1.ports[0].interface, "eth1");
  EXPECT_EQ(s1.ports[0].mac->to_string(), "02:00:00:00:01:01");
  ASSERT_EQ(s1.ports[0].addresses.size(), 2u);
  EXPECT_EQ(s1.ports[0].addresses[0].to_string(), "10.0.1.1/24");
  EXPECT_EQ(s1.ports[0].addresses[1].to_string(), "2001:db8:1::1/64");
  EXPECT_EQ(*s1.ports[1].port_no, 2u);
  EXPECT_EQ(*s1.ports[1].mtu, 1400u);
  EXPECT_EQ(c.router.switches[1].dpid, 2u);
  EXPECT_EQ(c.router.switches[1].netns, "custom-ns");
}

TEST(Config, RouterRoutingKeys) {
  auto c = parse_config(R"(
app: router
router:
  routing: false
  forwarding: false
  route_tables: [main, 100]
  fib_table: 3
  bundles: false
  bundle_max: 500
  table_capacity: 5000
  bfd_yield: 0.3
)",
                        "t.yaml");
  EXPECT_DOUBLE_EQ(c.routing_config.bfd_yield, 0.3);
  EXPECT_NE(error_of("router: {bfd_yield: 1.5}").find("router.bfd_yield: must be a number from 0"),
            std::string::npos);
  EXPECT_FALSE(c.routing);
  EXPECT_FALSE(c.router.forwarding);
  EXPECT_EQ(c.routing_config.tables, (std::vector<std::uint32_t>{254, 100}));
  EXPECT_EQ(c.pipeline.fib_table, 3);
  EXPECT_FALSE(c.routing_config.programmer.use_bundles);
  EXPECT_EQ(c.routing_config.programmer.bundle_max, 500u);
  EXPECT_EQ(c.routing_config.programmer.table_capacity, 5000u);
  EXPECT_NE(error_of("router: {fib_table: 0}").find("router.fib_table: must be a number from 1"),
            std::string::npos);
  EXPECT_NE(error_of("router: {route_tables: []}").find("router.route_tables: must be a non-empty list"),
            std::string::npos);
  auto d = parse_config("app: router", "t.yaml");
  EXPECT_DOUBLE_EQ(d.routing_config.bfd_yield, 0.4);
  EXPECT_TRUE(d.routing);
  EXPECT_TRUE(d.router.forwarding);
  EXPECT_EQ(d.routing_config.tables, (std::vector<std::uint32_t>{254}));
}

TEST(Config, ProfilesAndCompression) {
  auto c = parse_config(R"(
app: router
router:
  profile: generic-of13
  compress: always
  switches:
    - dpid: 0x1
      profile: mikrotik
      table_capacity: 4000
    - dpid: 0x2
)",
                        "t.yaml");
  EXPECT_EQ(c.profile, pipeline::ProfileKind::kGenericOf13);
  EXPECT_EQ(c.routing_config.compress, routing::RoutingConfig::Compress::kAlways);
  ASSERT_EQ(c.profiles.size(), 1u);
  EXPECT_EQ(c.profiles.at(1).kind, pipeline::ProfileKind::kMikrotik);
  EXPECT_EQ(c.profiles.at(1).table_capacity, 4000u);
  auto d = parse_config("app: router", "t.yaml");
  EXPECT_EQ(d.profile, pipeline::ProfileKind::kAuto);
  EXPECT_EQ(d.routing_config.compress, routing::RoutingConfig::Compress::kAuto);
  EXPECT_TRUE(d.profiles.empty());
  EXPECT_NE(error_of("router: {profile: cisco}").find("t.yaml:1:19: router.profile: must be auto, ovs, mikrotik"),
            std::string::npos)
      << error_of("router: {profile: cisco}");
  EXPECT_NE(error_of("router: {compress: maybe}").find("router.compress: must be auto, always or never"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, table_capacity: 0}]}")
                .find("router.switches[0].table_capacity: must be a number from 1"),
            std::string::npos);
}

TEST(Config, StaleHold) {
  auto d = parse_config("app: router", "t.yaml");
  EXPECT_EQ(d.routing_config.stale_quiet, std::chrono::milliseconds(5000));
  EXPECT_EQ(d.routing_config.stale_max, std::chrono::milliseconds(120000));
  auto c = parse_config("router: {stale_hold: {quiet: 2.5, max: 0}}", "t.yaml");
  EXPECT_EQ(c.routing_config.stale_quiet, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.routing_config.stale_max, std::chrono::milliseconds(0));
  EXPECT_NE(error_of("router: {stale_hold: {quiet: -1}}").find("router.stale_hold.quiet: must be a number"),
            std::string::npos);
  EXPECT_NE(error_of("router: {stale_hold: {wait: 1}}").find("router.stale_hold.wait: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("router: {stale_hold: 5}").find("router.stale_hold: must be a mapping"),
            std::string::npos);
}

TEST(Config, PuntPolicer) {
  auto d = parse_config("app: router", "t.yaml");
  EXPECT_EQ(d.router.punt_policy[tapd::PuntClass::kRouting], (tapd::PolicerConfig{6000, 1000}));
  EXPECT_EQ(d.router.punt_policy[tapd::PuntClass::kArpNd], (tapd::PolicerConfig{600, 200}));
  EXPECT_EQ(d.router.punt_policy[tapd::PuntClass::kToRouter], (tapd::PolicerConfig{6000, 1000}));
  auto c = parse_config("router: {punt_policer: {arp_nd: {rate: 100, burst: 10}, glean: {rate: 0}}}", "t.yaml");
  EXPECT_EQ(c.router.punt_policy[tapd::PuntClass::kArpNd], (tapd::PolicerConfig{100, 10}));
  EXPECT_EQ(c.router.punt_policy[tapd::PuntClass::kGlean].rate, 0u);
  EXPECT_EQ(c.router.punt_policy[tapd::PuntClass::kRouting], (tapd::PolicerConfig{6000, 1000}));
  auto off = parse_config("router: {punt_policer: false}", "t.yaml");
  for (const auto& pc : off.router.punt_policy.classes) EXPECT_EQ(pc.rate, 0u);
  EXPECT_NE(error_of("router: {punt_policer: {bgp: {rate: 1}}}").find("router.punt_policer.bgp: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("router: {punt_policer: {arp_nd: {rate: -1}}}").find("router.punt_policer.arp_nd.rate"),
            std::string::npos);
  EXPECT_NE(error_of("router: {punt_policer: true}").find("router.punt_policer: is false or a map"),
            std::string::npos);
}

TEST(Config, RouterErrorsNameTheKey) {
  EXPECT_NE(error_of("router: {switches: [{name: r1}]}").find("router.switches[0]: needs dpid"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1}, {dpid: 1}]}").find("listed twice"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, ports: [{interface: eth1}]}]}")
                .find("router.switches[0].ports[0]: needs port (number) or name"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, ports: [{port: 1, interface: a-very-long-name-x}]}]}")
                .find("is not a Linux interface name"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, ports: [{port: 1, addresses: [10.0.0.1]}]}]}")
                .find("is not ADDRESS/LEN"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, ports: [{port: 1, addresses: [10.0.0.1/33]}]}]}")
                .find("is not ADDRESS/LEN"),
            std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, ports: [{port: 1, mac: 01:00:5e:00:00:01}]}]}")
                .find("not a unicast MAC"),
            std::string::npos);
  EXPECT_NE(error_of("router: {mtu: 20}").find("router.mtu: must be a number from 68"),
            std::string::npos);
  EXPECT_NE(error_of("router: {bogus: 1}").find("router.bogus: unknown key"), std::string::npos);
  EXPECT_NE(error_of("router: {switches: [{dpid: 1, netns: a/b}]}").find("cannot name a network namespace"),
            std::string::npos);
}

TEST(Config, DatapathIdForms) {
  EXPECT_EQ(parse_datapath_id("10"), 10u);
  EXPECT_EQ(parse_datapath_id("0x10"), 16u);
  EXPECT_EQ(parse_datapath_id("00:00:00:00:00:00:01:00"), 256u);
  EXPECT_THROW(parse_datapath_id(""), ConfigError);
  EXPECT_THROW(parse_datapath_id("0x"), ConfigError);
}

TEST(Config, MissingFileIsAnError) {
  EXPECT_THROW(load_config("/nonexistent/tapflow.yaml"), ConfigError);
}

}  // namespace
}  // namespace tapflow::daemon

namespace tapflow::daemon {
namespace {

// The example shipped in configs/ must load and mean what its comments say.
TEST(Config, ControlSocketAndLogFormat) {
  auto c = parse_config("", "t.yaml");
  EXPECT_TRUE(c.control.enabled);
  EXPECT_EQ(c.control.socket, "/run/tapflow/tapflowd.sock");
  EXPECT_EQ(c.control.group, "tapflow");
  EXPECT_FALSE(c.control.explicit_socket);
  EXPECT_EQ(c.log_format, "text");
  c = parse_config("control: { socket: /var/run/t/ctl.sock, group: ops }\nlog_format: json\n", "t.yaml");
  EXPECT_EQ(c.control.socket, "/var/run/t/ctl.sock");
  EXPECT_EQ(c.control.group, "ops");
  EXPECT_TRUE(c.control.explicit_socket);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_FALSE(parse_config("control: false\n", "t.yaml").control.enabled);
  EXPECT_EQ(error_of("control: { sock: /x }\n"), "t.yaml:1:12: control.sock: unknown key (known: group, socket)");
  EXPECT_EQ(error_of("control: { socket: /tmp/ }\n"),
            "t.yaml:1:20: control.socket: must be an absolute path of a file (at most 107 bytes)");
}

TEST(Config, ShippedExampleLoads) {
  auto c = load_config(std::string(TAPFLOW_SOURCE_DIR) + "/configs/tapflowd.yaml");
  ASSERT_EQ(c.controller.listeners.size(), 1u);
  EXPECT_EQ(c.controller.listeners[0].port, 6653);
  EXPECT_EQ(c.controller.connection.echo_interval.count(), 5000);
  EXPECT_EQ(c.controller.connection.write_limit, 33554432u);
  EXPECT_FALSE(c.controller.tls.has_value());
  EXPECT_EQ(c.router.netns_prefix, "tapflow-");
  EXPECT_EQ(c.router.mtu, 1500u);
  EXPECT_TRUE(c.router.persist_taps);
  EXPECT_TRUE(c.router.switches.empty());
}

}  // namespace
}  // namespace tapflow::daemon

namespace tapflow::daemon {
namespace {

TEST(Config, MetricsListenIsValidatedAndOffByDefault) {
  EXPECT_FALSE(parse_config("app: router\n", "t.yaml").metrics_listen);
  EXPECT_FALSE(load_config(std::string(TAPFLOW_SOURCE_DIR) + "/configs/tapflowd.yaml").metrics_listen);
  auto c = parse_config("metrics: { listen: \"127.0.0.1:9108\" }\n", "t.yaml");
  ASSERT_TRUE(c.metrics_listen);
  EXPECT_EQ(*c.metrics_listen, "127.0.0.1:9108");
  const auto v6 = parse_endpoint("[::1]:9108");
  EXPECT_EQ(v6.address().to_string(), "::1");
  EXPECT_EQ(v6.port(), 9108);
  EXPECT_EQ(parse_endpoint("0.0.0.0:0").port(), 0);

  EXPECT_EQ(error_of("metrics: { listen: \"127.0.0.1\" }\n"),
            "t.yaml:1:20: metrics.listen: '127.0.0.1': expected ADDR:PORT (127.0.0.1:9108)");
  EXPECT_EQ(error_of("metrics: { listen: \"localhost:9108\" }\n"),
            "t.yaml:1:20: metrics.listen: 'localhost:9108': bad address 'localhost'");
  EXPECT_EQ(error_of("metrics: { listen: \"127.0.0.1:70000\" }\n"),
            "t.yaml:1:20: metrics.listen: '127.0.0.1:70000': bad port '70000'");
  EXPECT_EQ(error_of("metrics: { listen: \"::1:9108\" }\n"),
            "t.yaml:1:20: metrics.listen: '::1:9108': write an IPv6 address as [ADDR]:PORT");
  EXPECT_EQ(error_of("metrics: {}\n"),
            "t.yaml:1:10: metrics: needs listen (ADDR:PORT, e.g. 127.0.0.1:9108)");
  EXPECT_NE(error_of("metrics: { listen: \"127.0.0.1:9108\", port: 1 }\n").find("unknown key"),
            std::string::npos);
}

}  // namespace
}  // namespace tapflow::daemon

namespace tapflow::daemon {
namespace {

// A router config with one switch whose body is `sw` (indented 6 spaces).
std::string vlan_yaml(const std::string& sw) {
  return "app: router\nrouter:\n  switches:\n    - dpid: 1\n" + sw;
}

TEST(Config, VlansParsedWithDefaults) {
  auto c = parse_config(vlan_yaml(R"(      mac_table_size: 100
      mac_aging: 60
      ports:
        - port: 9
      vlans:
        - id: 10
          mac: "02:00:00:00:00:0a"
          mtu: 1400
          addresses: [10.0.10.1/24, "2001:db8:10::1/64"]
          untagged: [1, 2, s1-eth5]
          tagged: [4]
        - id: 20
          name: users
          untagged: [3]
          tagged: [4]
)"),
                        "t.yaml");
  ASSERT_EQ(c.router.switches.size(), 1u);
  const auto& s = c.router.switches[0];
  EXPECT_EQ(s.mac_table_size, 100u);
  EXPECT_EQ(s.mac_aging, 60);
  ASSERT_EQ(s.vlans.size(), 2u);
  const auto& v10 = s.vlans[0];
  EXPECT_EQ(v10.id, 10);
  EXPECT_EQ(v10.name, "vlan10");
  EXPECT_EQ(v10.mac->to_string(), "02:00:00:00:00:0a");
  EXPECT_EQ(*v10.mtu, 1400u);
  ASSERT_EQ(v10.addresses.size(), 2u);
  EXPECT_EQ(v10.addresses[1].to_string(), "2001:db8:10::1/64");
  ASSERT_EQ(v10.untagged.size(), 3u);
  EXPECT_EQ(*v10.untagged[0].port_no, 1u);
  EXPECT_EQ(*v10.untagged[2].port_name, "s1-eth5");
  ASSERT_EQ(v10.tagged.size(), 1u);
  EXPECT_EQ(*v10.tagged[0].port_no, 4u);
  EXPECT_EQ(s.vlans[1].name, "users");
  EXPECT_FALSE(s.vlans[1].mac.has_value());
  // The FIB moves behind the two VLAN tables (GotoTable only goes forward).
  EXPECT_EQ(c.pipeline.l2_table, 1);
  EXPECT_EQ(c.pipeline.fib_table, 3);
  // Without VLANs the FIB stays in table 1.
  EXPECT_EQ(parse_config("app: router", "t.yaml").pipeline.fib_table, 1);
}

TEST(Config, VlanErrorsNameFileLineColumnAndReason) {
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - id: 4095\n")),
            "t.yaml:6:15: router.switches[0].vlans[0].id: must be a number from 1 to 4094, not '4095'");
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - id: 0\n")),
            "t.yaml:6:15: router.switches[0].vlans[0].id: must be a number from 1 to 4094, not '0'");
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - id: 10\n        - id: 10\n")),
            "t.yaml:7:15: router.switches[0].vlans[1].id: VLAN 10 is listed twice");
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - {id: 10, name: a}\n        - {id: 11, name: a}\n")),
            "t.yaml:7:26: router.switches[0].vlans[1].name: name 'a' is used by another VLAN");
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - {id: 10, untagged: [1, 2]}\n"
                               "        - {id: 20, untagged: [3, 2]}\n")),
            "t.yaml:7:34: router.switches[0].vlans[1].untagged: port 2 is already untagged in VLAN 10 "
            "(a port has one untagged VLAN)");
  EXPECT_EQ(error_of(vlan_yaml("      vlans:\n        - {id: 10, untagged: [eth1], tagged: [eth1]}\n")),
            "t.yaml:6:47: router.switches[0].vlans[0].tagged: port 'eth1' is both tagged and untagged "
            "in VLAN 10");
  EXPECT_EQ(error_of(vlan_yaml("      ports: [{port: 3}]\n      vlans:\n        - {id: 10, tagged: [3]}\n")),
            "t.yaml:7:29: router.switches[0].vlans[0].tagged: port 3 is also in ports: (per-port mode); "
            "a port is either a VLAN member or has its own TAP");
  EXPECT_NE(error_of(vlan_yaml("      vlans:\n        - {id: 10, trunk: [3]}\n"))
                .find("t.yaml:6:20: router.switches[0].vlans[0].trunk: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(vlan_yaml("      vlans:\n        - {untagged: [3]}\n")).find("needs id"),
            std::string::npos);
  EXPECT_NE(error_of(vlan_yaml("      vlans:\n        - {id: 10, untagged: [1, 1]}\n")).find("listed twice"),
            std::string::npos);
  EXPECT_NE(error_of(vlan_yaml("      vlans:\n        - {id: 10, mac: \"01:00:5e:00:00:01\"}\n"))
                .find("vlans[0].mac: '01:00:5e:00:00:01' is not a unicast MAC"),
            std::string::npos);
  EXPECT_NE(error_of(vlan_yaml("      vlans:\n        - {id: 10, name: \"a/b\"}\n")).find("not a Linux interface name"),
            std::string::npos);
  // A FIB table the VLAN tables would have to jump back to.
  EXPECT_NE(error_of("app: router\nrouter:\n  fib_table: 2\n  switches:\n    - dpid: 1\n"
                     "      vlans: [{id: 10}]\n")
                .find("t.yaml:3:14: router.fib_table: with VLANs the FIB must come after the VLAN tables 1 and 2"),
            std::string::npos);
  EXPECT_EQ(parse_config("app: router\nrouter:\n  l2_table: 5\n  fib_table: 7\n  switches:\n    - dpid: 1\n"
                         "      vlans: [{id: 10}]\n",
                         "t.yaml")
                .pipeline.fib_table,
            7);
}

TEST(Config, ShippedVlanLabConfigLoads) {
  // The system tests fill in the placeholders; so does this test.
  std::ifstream in(std::string(TAPFLOW_SOURCE_DIR) + "/configs/lab/tapflowd-vlan.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"@LISTEN_PORT@", "6653"},
                                 {"@METRICS_PORT@", "9108"},
                                 {"@NETNS@", "ns"}}) {
    for (auto pos = yaml.find(from); pos != std::string::npos; pos = yaml.find(from)) {
      yaml.replace(pos, from.size(), to);
    }
  }
  const auto c = parse_config(yaml, "tapflowd-vlan.yaml");
  EXPECT_EQ(c.pipeline.fib_table, 3);
  ASSERT_FALSE(c.router.switches.empty());
  EXPECT_EQ(c.router.switches[0].vlans.size(), 2u);
}

}  // namespace
}  // namespace tapflow::daemon

namespace tapflow::daemon {
namespace {

// configs/tapflowd.yaml documents a switch with ports and VLANs as comments:
// with the comment marks taken off, it must be a valid config.
TEST(Config, DocumentedSwitchExampleParses) {
  std::ifstream in(std::string(TAPFLOW_SOURCE_DIR) + "/configs/tapflowd.yaml");
  std::string line, yaml;
  bool example = false;
  while (std::getline(in, line)) {
    if (line.rfind("  # switches:", 0) == 0) example = true;
    if (example && line.rfind("  # ", 0) == 0) {
      line = "  " + line.substr(4);
    } else if (example && line.rfind("  #", 0) != 0) {
      example = false;
    }
    yaml += line + "\n";
  }
  const auto c = parse_config(yaml, "tapflowd.yaml");
  ASSERT_EQ(c.router.switches.size(), 1u);
  const auto& s = c.router.switches[0];
  EXPECT_EQ(s.ports.size(), 1u);
  ASSERT_EQ(s.vlans.size(), 2u);
  EXPECT_EQ(s.vlans[0].untagged.size(), 3u);
  EXPECT_EQ(*s.vlans[0].untagged[2].port_name, "s1-eth5");
  EXPECT_EQ(s.vlans[1].name, "vlan20");
  EXPECT_EQ(c.pipeline.fib_table, 3);
}

// Issue 14: the carrier hold and the fd store.
TEST(Config, CarrierHoldAndFdStoreDefaults) {
  auto c = parse_config("app: router\n", "t.yaml");
  EXPECT_EQ(c.router.carrier_hold.count(), 10000);
  EXPECT_TRUE(c.fd_store);
  EXPECT_EQ(c.fd_store_options.name, "tapflow-fdstore");
  EXPECT_TRUE(c.fd_store_options.spawn);
  EXPECT_EQ(c.fd_store_options.linger.count(), 60);
  EXPECT_TRUE(c.fd_store_options.program.empty());
}

TEST(Config, CarrierHoldAndFdStoreSet) {
  auto c = parse_config(R"(
app: router
router:
  carrier_hold: 2.5
  fd_store: { name: /run/tapflow/fds.sock, spawn: false, program: /usr/sbin/tapflow-fdstore,
              linger: 30, log: /var/log/tapflow-fdstore.log }
)",
                        "t.yaml");
  EXPECT_EQ(c.router.carrier_hold.count(), 2500);
  EXPECT_TRUE(c.fd_store);
  EXPECT_EQ(c.fd_store_options.name, "/run/tapflow/fds.sock");
  EXPECT_FALSE(c.fd_store_options.spawn);
  EXPECT_EQ(c.fd_store_options.program, "/usr/sbin/tapflow-fdstore");
  EXPECT_EQ(c.fd_store_options.linger.count(), 30);
  EXPECT_EQ(c.fd_store_options.log_file, "/var/log/tapflow-fdstore.log");

  EXPECT_EQ(parse_config("router: { carrier_hold: 0 }", "t.yaml").router.carrier_hold.count(), 0);
  EXPECT_FALSE(parse_config("router: { fd_store: false }", "t.yaml").fd_store);
  EXPECT_TRUE(parse_config("router: { fd_store: true }", "t.yaml").fd_store);
}

TEST(Config, CarrierHoldAndFdStoreErrors) {
  EXPECT_NE(error_of("router: { carrier_hold: -1 }").find("t.yaml:1:25: router.carrier_hold: must be a number"),
            std::string::npos)
      << error_of("router: { carrier_hold: -1 }");
  EXPECT_NE(error_of("router: { carrier_hold: 1h }").find("router.carrier_hold"), std::string::npos);
  EXPECT_NE(error_of("router: { fd_store: maybe }").find("t.yaml:1:21: router.fd_store: must be true or false"),
            std::string::npos)
      << error_of("router: { fd_store: maybe }");
  EXPECT_NE(error_of("router:\n  fd_store: { nmae: x }\n").find("t.yaml:2:15: router.fd_store.nmae: unknown key"),
            std::string::npos)
      << error_of("router:\n  fd_store: { nmae: x }\n");
  EXPECT_NE(error_of("router: { fd_store: { name: \"\" } }").find("router.fd_store.name: '' is not a socket name"),
            std::string::npos);
  EXPECT_NE(error_of("router: { fd_store: { name: " + std::string(120, 'x') + " } }").find("router.fd_store.name"),
            std::string::npos);
  EXPECT_NE(error_of("router: { fd_store: { program: tapflow-fdstore } }").find("must be an absolute path"),
            std::string::npos);
  EXPECT_NE(error_of("router: { fd_store: { linger: 0 } }").find("router.fd_store.linger: must be a number from 1"),
            std::string::npos);
}

TEST(Config, NoClusterMeansAloneWithoutRoles) {
  auto c = parse_config("app: router\n", "t.yaml");
  EXPECT_FALSE(c.cluster);
  EXPECT_FALSE(c.controller.roles);
}

TEST(Config, ClusterSection) {
  auto c = parse_config(R"(
cluster:
  etcd:
    endpoints: [ "http://127.0.0.1:2379", "http://[::1]:2379" ]
    request_timeout: 0.25
  id: a
  prefix: /lab
  lease_ttl: 3
)",
                        "t.yaml");
  ASSERT_TRUE(c.cluster);
  EXPECT_TRUE(c.controller.roles);
  EXPECT_EQ(c.cluster->endpoints.size(), 2u);
  EXPECT_EQ(c.cluster->instance_id, "a");
  EXPECT_EQ(c.cluster->prefix, "/lab/");
  EXPECT_EQ(c.cluster->lease_ttl, std::chrono::seconds(3));
  EXPECT_EQ(c.cluster->request_timeout, std::chrono::milliseconds(250));
  auto d = parse_config("cluster: { etcd: { endpoints: [ \"http://h:1\" ] } }", "t.yaml");
  EXPECT_EQ(d.cluster->lease_ttl, std::chrono::seconds(2));
  EXPECT_EQ(d.cluster->prefix, "/tapflow/");
  EXPECT_TRUE(d.cluster->instance_id.empty());  // the host name, at start
}

TEST(Config, ClusterErrors) {
  EXPECT_NE(error_of("cluster: { id: a }").find("cluster: needs etcd"), std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [] } }").find("cluster.etcd.endpoints: must be a non-empty list"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"127.0.0.1:2379\" ] } }")
                .find("'127.0.0.1:2379' must start with http:// or https://"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"http://host\" ] } }").find("needs a host and a port"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"http://h:1\" ], ca_certificate: /ca.pem } }")
                .find("TLS files need https:// endpoints"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"https://h:1\" ], certificate: /c.pem } }")
                .find("certificate and private_key go together"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"http://h:1\" ] }, lease_ttl: 0 }")
                .find("cluster.lease_ttl: must be a number from 1"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"http://h:1\" ] }, prefix: tapflow }")
                .find("cluster.prefix: must start with /"),
            std::string::npos);
  EXPECT_NE(error_of("cluster: { etcd: { endpoints: [ \"http://h:1\" ] }, lease: 2 }").find("cluster.lease: unknown key"),
            std::string::npos);
}

// The lab configs give the store a short linger, so a store a test forgot
// to stop goes away by itself.
TEST(Config, LabConfigsLingerShortly) {
  for (const char* f : {"tapflowd-router.yaml", "tapflowd-routing.yaml", "tapflowd-vlan.yaml"}) {
    std::ifstream in(std::string(TAPFLOW_SOURCE_DIR) + "/configs/lab/" + f);
    ASSERT_TRUE(in) << f;
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"@LISTEN_PORT@", "6653"},
                                   {"@METRICS_PORT@", "9108"},
                                   {"@NETNS@", "ns"}}) {
      for (auto pos = yaml.find(from); pos != std::string::npos; pos = yaml.find(from)) {
        yaml.replace(pos, from.size(), to);
      }
    }
    auto c = parse_config(yaml, f);
    EXPECT_TRUE(c.fd_store) << f;
    EXPECT_LE(c.fd_store_options.linger.count(), 30) << f;
  }
}

}  // namespace
}  // namespace tapflow::daemon
