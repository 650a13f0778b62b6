#include "config.hpp"

#include <gtest/gtest.h>

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
TEST(Config, ShippedExampleLoads) {
  auto c = load_config(std::string(TAPFLOW_SOURCE_DIR) + "/configs/tapflowd.yaml");
  ASSERT_EQ(c.controller.listeners.size(), 1u);
  EXPECT_EQ(c.controller.listeners[0].port, 6653);
  EXPECT_EQ(c.controller.connection.echo_interval.count(), 5000);
  EXPECT_EQ(c.controller.connection.write_limit, 33554432u);
  EXPECT_FALSE(c.controller.tls.has_value());
}

}  // namespace
}  // namespace tapflow::daemon
