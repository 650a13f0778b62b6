// Prometheus metrics for tapflowd: pure functions that turn the controller's
// and tapd's counters into metric families, and MetricsServer, the HTTP
// endpoint (/metrics) that serves them from the daemon's event loop.
#pragma once

#include <prometheus/metric_family.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapflow/controller/controller.hpp"
#include "tapflow/controller/loop_monitor.hpp"
#include "tapflow/routing/router.hpp"
#include "tapflow/tapd/tap_bridge.hpp"

namespace tapflow::daemon {

using MetricFamilies = std::vector<prometheus::MetricFamily>;

// One datapath's counters and the labels that name it, copied on the event loop.
struct DatapathMetrics {
  std::uint64_t dpid = 0;
  std::uint8_t version = 0;  // wire number (0x01 = 1.0, 0x04 = 1.3)
  controller::ConnectionCounters counters;
};

// The latency histogram's exposed bounds: le = 2^first_exp .. 2^last_exp ns,
// plus +Inf. A fixed set, so histogram_quantile() works across scrapes;
// the default spans 1.024 us .. 1.07 s in 21 buckets.
struct LatencyBuckets {
  unsigned first_exp = 10;
  unsigned last_exp = 30;
};

// "000000000000002a": the datapath id as tapflowd's logs print it.
std::string dpid_label(std::uint64_t dpid);
// "1.0", "1.3", else "0x05".
std::string version_label(std::uint8_t version);

// LatencyStats' power-of-two buckets as a cumulative histogram in seconds.
// Bucket i holds [2^i, 2^(i+1)) ns, so le = 2^k ns counts the samples below
// 2^k ns (a sample of exactly 2^k ns falls in the next bound).
prometheus::ClientMetric::Histogram latency_histogram(const tapd::LatencyStats& stats,
                                                      LatencyBuckets bounds = {});

// tapflow_controller_* and tapflow_datapath_* families.
MetricFamilies controller_metrics(const controller::ControllerCounters& counters,
                                  std::size_t connections,
                                  const std::vector<DatapathMetrics>& datapaths);
// Snapshot of every up datapath; call on the controller's event loop.
std::vector<DatapathMetrics> datapath_metrics(const controller::Controller& ctl);
// Everything a controller exposes; call on its event loop.
MetricFamilies controller_metrics(const controller::Controller& ctl);
// tapflow_event_loop_*: the loop's lateness and stalls (LoopMonitor).
MetricFamilies loop_metrics(const controller::LoopLagStats& stats);

// tapflow_tap_* (per port) and tapflow_bridge_* families.
MetricFamilies tap_metrics(const std::vector<tapd::PortStatusView>& ports,
                           const tapd::BridgeCounters& bridge, LatencyBuckets bounds = {});

// tapflow_vlan_*: tapd's VLAN MAC learning counters (all switches).
MetricFamilies vlan_metrics(const tapd::BridgeCounters& bridge);
// Control-plane policing per switch and punt class (tapflow_punt_*).
MetricFamilies punt_metrics(const std::vector<tapd::PuntView>& switches);

// tapflow_router_* (the app) and tapflow_fib_* (per switch: the kernel FIB
// as the compiler sees it, what the programmer sent and the switch refused,
// the namespace's netlink watcher).
MetricFamilies routing_metrics(const routing::RouterCounters& router,
                               const std::vector<routing::Router::SwitchView>& switches);

// Cluster mode (tapflow_cluster_*): this instance's role per switch and its
// elections. Plain values, so the metrics need no etcd client.
struct ClusterMetricsView {
  std::string instance;
  bool etcd_reachable = false;
  struct Switch {
    std::uint64_t dpid = 0;
    controller::SwitchRole role = controller::SwitchRole::kStandby;
    std::uint64_t generation = 0;  // ours as master, else the master's (0 unknown)
    std::string leader;            // the master's instance id ("" unknown)
  };
  std::vector<Switch> switches;
  std::uint64_t elections_won = 0, stepped_down = 0, lease_grants = 0, keepalive_failures = 0,
                etcd_errors = 0, master_refused = 0, handovers = 0;
  std::uint64_t role_requests = 0, role_errors = 0, masters_confirmed = 0,
                dropped_not_master = 0, last_master_confirm_us = 0;
};
MetricFamilies cluster_metrics(const ClusterMetricsView& view);

// The Prometheus text exposition format (0.0.4).
std::string render_text(const MetricFamilies& families);

struct MetricsServerOptions {
  std::size_t max_sessions = 16;                     // further connections are closed at once
  std::chrono::milliseconds idle_timeout{30000};     // per request read and response write
  std::size_t max_request_header_bytes = 8192;
};

// An HTTP/1.1 server for Prometheus scrapes (GET/HEAD /metrics), on the
// daemon's io_context. Collectors run on that event loop, one scrape at a
// time, so they read the event loop's plain counters without locks.
class MetricsServer {
 public:
  using Collector = std::function<MetricFamilies()>;

  MetricsServer(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint endpoint,
                std::vector<Collector> collectors, MetricsServerOptions options = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error naming the endpoint.
  void start();
  // Closes the listener and every scrape connection; collectors are not
  // called again. Also done by the destructor.
  void stop();
  // The bound endpoint (the real port when started on port 0).
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  struct State;
  class Session;
  static void accept(const std::shared_ptr<State>& state);

  // Shared with pending handlers, which may run after this object is gone.
  std::shared_ptr<State> state_;
};

}  // namespace tapflow::daemon
