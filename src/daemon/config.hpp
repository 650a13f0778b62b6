// tapflowd's configuration: the YAML file and the command-line shortcuts.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tapflow/controller/controller.hpp"
#include "tapflow/fdstore/client.hpp"
#include "tapflow/pipeline/pipeline.hpp"
#include "tapflow/routing/router.hpp"
#include "tapflow/tapd/tap_bridge.hpp"
#include "profiles.hpp"

namespace tapflow::daemon {

// cluster: several tapflowd instances, the mastership of each switch
// elected in etcd. Unset: this instance runs alone (no etcd needed).
struct ClusterConfig {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://..."
  std::string ca_file, cert_file, key_file;  // etcd TLS (https endpoints)
  std::string instance_id;                   // default: the host name + pid
  std::string prefix = "/tapflow/";
  std::chrono::seconds lease_ttl{2};  // etcd's minimum with its default timers
  std::chrono::milliseconds request_timeout{500};
};

// control: the operator's Unix socket (tapflowctl status / show ...).
struct ControlConfig {
  static constexpr const char* kDefaultSocket = "/run/tapflow/tapflowd.sock";
  bool enabled = true;  // control: false turns it off
  std::string socket = kDefaultSocket;
  std::string group = "tapflow";  // the socket's group (mode 0660), if it exists
  // Set in the config or on the command line: failing to serve it is fatal
  // (the default path only warns: another tapflowd may hold it).
  bool explicit_socket = false;
};

struct DaemonConfig {
  controller::ControllerConfig controller;
  std::string app = "learning-switch";  // learning-switch | router
  tapd::TapBridgeConfig router;          // the router app: namespaces and TAPs
  // The router app's fd store (router.fd_store): keeps the TAP descriptors
  // across restarts of tapflowd. false: none (TAPs lose carrier on restart).
  bool fd_store = true;
  fdstore::StoreOptions fd_store_options;
  bool routing = true;                   // router app: compile the kernel FIB into flows
  routing::RoutingConfig routing_config;
  // The router app's switch pipeline (router.fib_table, router.l2_table):
  // tapflowd hands it to tapd (router) and routing (routing_config).
  pipeline::Pipeline pipeline = pipeline::Pipeline::standard();
  // Switch profiles (router.profile, router.switches[].profile and
  // .table_capacity): what tapflow may use on each switch.
  pipeline::ProfileKind profile = pipeline::ProfileKind::kAuto;
  std::map<std::uint64_t, ProfileConfig> profiles;
  std::string log_level = "info";
  std::string log_format = "text";  // text | json (one object per line)
  ControlConfig control;
  std::optional<std::string> metrics_listen;  // "ADDR:PORT" of /metrics; unset: no metrics
  std::optional<ClusterConfig> cluster;
};

// A configuration error: "FILE:LINE:COLUMN: KEY: what is wrong", and where
// (the offending YAML node's mark, 1-based; 0 where there is no node).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ConfigError(const std::string& what, int line, int column)
      : std::runtime_error(what), line_(line), column_(column) {}
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_ = 0, column_ = 0;
};

// Reads a YAML config file. Unknown keys are errors (they are usually typos).
DaemonConfig load_config(const std::string& path);
// A config file's text (ConfigError "FILE: cannot read the file").
std::string read_config_text(const std::string& path);
// The same from text (`name` stands for the file in messages).
DaemonConfig parse_config(const std::string& yaml, const std::string& name);

// tapflowd's command-line options that override the config file; empty:
// the file's value stands. Applied at start and again on every reload.
struct CommandLine {
  std::vector<std::string> listen;
  std::string app, log_level, log_format, control_socket;
  std::string tls_cert, tls_key, tls_ca;
  double echo_interval = 0;
  std::string metrics_listen;
  // The config keys these options fix ("listen", "log_level", ...).
  std::vector<std::string> fixed_keys() const;
};
// Throws ConfigError for an option that does not parse.
void apply_command_line(DaemonConfig& cfg, const CommandLine& cli);

// "tcp:ADDR:PORT", "tls:ADDR:PORT", "tcp:[v6addr]:PORT", "tcp:PORT".
controller::ListenerConfig parse_listen(const std::string& spec);
// "ADDR:PORT" or "[v6addr]:PORT" (the metrics listener).
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& spec);
// 1, "0x1", "00:00:00:00:00:00:00:01".
std::uint64_t parse_datapath_id(const std::string& text);

}  // namespace tapflow::daemon
