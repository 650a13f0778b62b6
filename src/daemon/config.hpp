// tapflowd's configuration: the YAML file and the command-line shortcuts.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "tapflow/controller/controller.hpp"
#include "tapflow/fdstore/client.hpp"
#include "tapflow/routing/router.hpp"
#include "tapflow/tapd/tap_bridge.hpp"

namespace tapflow::daemon {

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
  std::string log_level = "info";
  std::optional<std::string> metrics_listen;  // "ADDR:PORT" of /metrics; unset: no metrics
};

// A configuration error: "FILE:LINE:COLUMN: KEY: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a YAML config file. Unknown keys are errors (they are usually typos).
DaemonConfig load_config(const std::string& path);
// The same from text (`name` stands for the file in messages).
DaemonConfig parse_config(const std::string& yaml, const std::string& name);

// "tcp:ADDR:PORT", "tls:ADDR:PORT", "tcp:[v6addr]:PORT", "tcp:PORT".
controller::ListenerConfig parse_listen(const std::string& spec);
// "ADDR:PORT" or "[v6addr]:PORT" (the metrics listener).
boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& spec);
// 1, "0x1", "00:00:00:00:00:00:00:01".
std::uint64_t parse_datapath_id(const std::string& text);

}  // namespace tapflow::daemon
