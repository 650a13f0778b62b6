#include "metrics.hpp"

#include "accept_loop.hpp"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

namespace tapflow::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

namespace {

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric counter(Labels labels, std::uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  return m;
}

ClientMetric gauge(Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

// A counter family with one unlabelled value.
MetricFamily single_counter(std::string name, std::string help, std::uint64_t value) {
  auto f = family(std::move(name), std::move(help), MetricType::Counter);
  f.metric.push_back(counter({}, value));
  return f;
}

Labels with(Labels labels, std::string name, std::string value) {
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

std::string dpid_label(std::uint64_t dpid) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(dpid));
  return text;
}

std::string version_label(std::uint8_t version) {
  switch (version) {
    case 0x01: return "1.0";
    case 0x02: return "1.1";
    case 0x03: return "1.2";
    case 0x04: return "1.3";
    case 0x05: return "1.4";
    case 0x06: return "1.5";
    default: break;
  }
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", static_cast<unsigned>(version));
  return text;
}

prometheus::ClientMetric::Histogram latency_histogram(const tapd::LatencyStats& stats,
                                                      LatencyBuckets bounds) {
  ClientMetric::Histogram h;
  h.sample_count = stats.count;
  h.sample_sum = static_cast<double>(stats.sum_ns) / 1e9;
  // The last source bucket also holds everything beyond it, so no finite
  // bound may lie above its lower edge.
  const unsigned last = std::min<unsigned>(bounds.last_exp, stats.buckets.size() - 1);
  std::uint64_t cumulative = 0;
  std::size_t next = 0;  // first source bucket not yet summed
  for (unsigned k = bounds.first_exp; k <= last; ++k) {
    // le = 2^k ns: every source bucket whose upper edge is <= 2^k, i.e. i < k.
    for (; next < k; ++next) cumulative += stats.buckets[next];
    h.bucket.push_back({cumulative, std::ldexp(1.0, static_cast<int>(k)) / 1e9});
  }
  h.bucket.push_back({stats.count, std::numeric_limits<double>::infinity()});
  return h;
}

MetricFamilies controller_metrics(const controller::ControllerCounters& counters,
                                  std::size_t connections,
                                  const std::vector<DatapathMetrics>& datapaths) {
  MetricFamilies out;
  auto conns = family("tapflow_controller_connections",
                      "OpenFlow connections open (in handshake or up)", MetricType::Gauge);
  conns.metric.push_back(gauge({}, static_cast<double>(connections)));
  out.push_back(std::move(conns));
  auto up = family("tapflow_controller_datapaths", "Datapaths up (handshake complete)",
                   MetricType::Gauge);
  up.metric.push_back(gauge({}, static_cast<double>(datapaths.size())));
  out.push_back(std::move(up));
  out.push_back(single_counter("tapflow_controller_connections_accepted_total",
                               "Switch connections accepted", counters.accepted));
  out.push_back(single_counter("tapflow_controller_connections_refused_total",
                               "Switch connections refused at limits.max_connections",
                               counters.refused));
  out.push_back(single_counter("tapflow_controller_connections_closed_total",
                               "Switch connections closed, for any reason", counters.closed));
  out.push_back(single_counter("tapflow_controller_connections_replaced_total",
                               "Datapaths that reconnected while still connected (the new "
                               "connection replaced the old)",
                               counters.replaced));

  using CC = controller::ConnectionCounters;
  struct PerDatapath {
    const char* name;
    const char* help;
    std::uint64_t CC::*field;
  };
  static constexpr PerDatapath kPerDatapath[] = {
      {"tapflow_datapath_rx_messages_total", "OpenFlow messages received from the switch",
       &CC::rx_messages},
      {"tapflow_datapath_tx_messages_total", "OpenFlow messages sent to the switch",
       &CC::tx_messages},
      {"tapflow_datapath_rx_bytes_total", "Bytes received from the switch", &CC::rx_bytes},
      {"tapflow_datapath_tx_bytes_total", "Bytes sent to the switch", &CC::tx_bytes},
      {"tapflow_datapath_decode_errors_total",
       "Messages from the switch that did not decode (answered with an OpenFlow error)",
       &CC::decode_errors},
      {"tapflow_datapath_packet_ins_total", "PACKET_IN messages from the switch",
       &CC::packet_ins},
  };
  for (const auto& d : kPerDatapath) {
    auto f = family(d.name, d.help, MetricType::Counter);
    for (const auto& dp : datapaths) {
      f.metric.push_back(counter({{"dpid", dpid_label(dp.dpid)}, {"version", version_label(dp.version)}},
                                 dp.counters.*d.field));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<DatapathMetrics> datapath_metrics(const controller::Controller& ctl) {
  std::vector<DatapathMetrics> out;
  for (const auto* dp : ctl.datapaths()) {
    out.push_back({dp->datapath_id(), dp->version(), dp->counters()});
  }
  return out;
}

MetricFamilies controller_metrics(const controller::Controller& ctl) {
  return controller_metrics(ctl.counters(), ctl.connection_count(), datapath_metrics(ctl));
}

MetricFamilies loop_metrics(const controller::LoopLagStats& s) {
  MetricFamilies out;
  auto lag = family("tapflow_event_loop_lag_seconds",
                    "How late the event loop ran a 10 ms timer: what a PACKET_IN or a TAP "
                    "frame waits for at worst",
                    MetricType::Histogram);
  ClientMetric m;
  for (std::size_t i = 0; i < s.below.size(); ++i) {
    m.histogram.bucket.push_back({s.below[i], controller::LoopLagStats::kBounds[i]});
  }
  m.histogram.bucket.push_back({s.ticks, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = s.ticks;
  m.histogram.sample_sum = s.lag_sum_seconds;
  lag.metric.push_back(std::move(m));
  out.push_back(std::move(lag));
  out.push_back(single_counter("tapflow_event_loop_stalls_total",
                               "Times the event loop was held longer than 100 ms", s.stalls));
  auto secs = family("tapflow_event_loop_stall_seconds_total",
                     "Time the event loop was held in stalls; cpu=on: of it, tapflowd's thread "
                     "was on the CPU (its own work), cpu=off: waiting or short of CPU",
                     MetricType::Counter);
  ClientMetric on, off;
  on.label = {{"cpu", "on"}};
  on.counter.value = s.stall_on_cpu_seconds;
  off.label = {{"cpu", "off"}};
  off.counter.value = std::max(0.0, s.stall_seconds - s.stall_on_cpu_seconds);
  secs.metric.push_back(std::move(on));
  secs.metric.push_back(std::move(off));
  out.push_back(std::move(secs));
  auto runq = family("tapflow_event_loop_stall_runqueue_seconds_total",
                     "Of the stalls' time off the CPU, time tapflowd's thread was runnable but given "
                     "no CPU (/proc schedstat): the machine short of CPU",
                     MetricType::Counter);
  ClientMetric rq;
  rq.counter.value = s.stall_runqueue_seconds;
  runq.metric.push_back(std::move(rq));
  out.push_back(std::move(runq));
  auto worst = family("tapflow_event_loop_max_lag_seconds",
                      "The longest the event loop was held since start", MetricType::Gauge);
  worst.metric.push_back(gauge({}, s.max_lag_seconds));
  out.push_back(std::move(worst));
  return out;
}

MetricFamilies tap_metrics(const std::vector<tapd::PortStatusView>& ports,
                           const tapd::BridgeCounters& bridge, LatencyBuckets bounds) {
  auto frames = family("tapflow_tap_frames_total",
                       "Frames between the switch and the TAP (to_tap: PACKET_IN written to the "
                       "TAP; to_switch: sent by the kernel, as PACKET_OUT)",
                       MetricType::Counter);
  auto bytes = family("tapflow_tap_bytes_total", "Bytes of tapflow_tap_frames_total",
                      MetricType::Counter);
  auto drops = family("tapflow_tap_drops_total", "Frames dropped between switch and TAP, by reason",
                      MetricType::Counter);
  auto pauses = family("tapflow_tap_read_pauses_total",
                       "Times reading the TAP paused because the switch was congested",
                       MetricType::Counter);
  auto carrier = family("tapflow_tap_carrier", "TAP carrier (1: the switch port is up)",
                        MetricType::Gauge);
  auto latency = family("tapflow_tap_latency_seconds",
                        "Time a frame spends in tapflowd (to_tap: PACKET_IN handed over to TAP "
                        "write; to_switch: TAP readable to PACKET_OUT queued)",
                        MetricType::Histogram);
  for (const auto& p : ports) {
    const Labels port{{"dpid", dpid_label(p.dpid)},
                      {"netns", p.netns},
                      {"port", std::to_string(p.port_no)},
                      {"interface", p.interface}};
    const auto& c = p.counters;
    const auto to_tap = with(port, "direction", "to_tap");
    const auto to_switch = with(port, "direction", "to_switch");
    frames.metric.push_back(counter(to_tap, c.to_tap_frames));
    frames.metric.push_back(counter(to_switch, c.to_switch_frames));
    bytes.metric.push_back(counter(to_tap, c.to_tap_bytes));
    bytes.metric.push_back(counter(to_switch, c.to_switch_bytes));
    const std::pair<const char*, std::uint64_t> reasons[] = {
        {"tap_busy", c.drop_tap_busy},       {"tap_error", c.drop_tap_error},
        {"truncated", c.drop_truncated},     {"switch_down", c.drop_switch_down},
        {"send_error", c.drop_send_error},
    };
    for (const auto& [reason, n] : reasons) drops.metric.push_back(counter(with(port, "reason", reason), n));
    pauses.metric.push_back(counter(port, c.paused_congested));
    carrier.metric.push_back(gauge(port, p.carrier ? 1 : 0));
    for (const auto& [labels, stats] : {std::pair{&to_tap, &c.to_tap_latency},
                                        std::pair{&to_switch, &c.to_switch_latency}}) {
      ClientMetric m;
      m.label = *labels;
      m.histogram = latency_histogram(*stats, bounds);
      latency.metric.push_back(std::move(m));
    }
  }
  MetricFamilies out;
  for (auto* f : {&frames, &bytes, &drops, &pauses, &carrier, &latency}) out.push_back(std::move(*f));
  out.push_back(single_counter("tapflow_bridge_packet_in_unknown_port_total",
                               "PACKET_IN for a switch port without a TAP",
                               bridge.packet_in_unknown_port));
  out.push_back(single_counter("tapflow_bridge_setup_errors_total",
                               "Namespace, TAP or netlink setup failures", bridge.setup_errors));
  out.push_back(single_counter("tapflow_bridge_punt_syncs_total",
                               "Times the punt flow set was recomputed and sent", bridge.punt_syncs));
  out.push_back(single_counter("tapflow_tap_carrier_holds_total",
                               "Carrier holds started (a switch away, or TAPs taken over at start)",
                               bridge.carrier_holds));
  out.push_back(single_counter("tapflow_tap_carrier_hold_expiries_total",
                               "Carrier holds that ran out (those TAPs lost their carrier)",
                               bridge.carrier_hold_expiries));
  out.push_back(single_counter("tapflow_fdstore_taps_adopted_total",
                               "TAPs taken over from the fd store (carrier kept across a restart)",
                               bridge.taps_adopted));
  out.push_back(single_counter("tapflow_fdstore_errors_total",
                               "Unusable stored TAP descriptors, or requests the store did not take",
                               bridge.fdstore_errors));
  auto store = family("tapflow_fdstore_connected",
                      "1 while an fd store keeps the TAP descriptors across restarts",
                      MetricType::Gauge);
  store.metric.push_back(gauge({}, bridge.fdstore_connected ? 1 : 0));
  out.push_back(std::move(store));
  return out;
}

MetricFamilies punt_metrics(const std::vector<tapd::PuntView>& switches) {
  auto seen = family("tapflow_punt_packet_ins_total",
                     "PACKET_INs for the router's TAPs, by punt class (routing, arp_nd, to_router, "
                     "glean, other)",
                     MetricType::Counter);
  auto passed = family("tapflow_punt_passed_total", "Of tapflow_punt_packet_ins_total: written on",
                       MetricType::Counter);
  auto policed = family("tapflow_punt_policed_total",
                        "Of tapflow_punt_packet_ins_total: dropped by the class's policer",
                        MetricType::Counter);
  auto rate = family("tapflow_punt_policer_rate",
                     "The class's policer rate in packets/s (0: no limit)", MetricType::Gauge);
  auto control = family("tapflow_punt_control_out_total",
                        "The kernel's routing-protocol and ARP/ND frames sent ahead of queued bulk",
                        MetricType::Counter);
  auto meters = family("tapflow_punt_switch_meters",
                       "1 when the switch polices the punt classes with OpenFlow meters too",
                       MetricType::Gauge);
  auto meter_in = family("tapflow_punt_switch_meter_packets_total",
                         "Packets the switch's meters of the class saw (arp_nd: also each port's own; read every 2 s)",
                         MetricType::Counter);
  auto meter_drop = family("tapflow_punt_switch_meter_dropped_total",
                           "Packets the switch's meter of the class dropped (read every 2 s)",
                           MetricType::Counter);
  for (const auto& v : switches) {
    const Labels sw{{"dpid", dpid_label(v.dpid)}, {"netns", v.netns}};
    for (std::size_t c = 0; c < tapd::kPuntClasses; ++c) {
      const auto l = with(sw, "class", std::string(tapd::punt_class_name(static_cast<tapd::PuntClass>(c))));
      seen.metric.push_back(counter(l, v.counters.seen[c]));
      passed.metric.push_back(counter(l, v.counters.passed[c]));
      policed.metric.push_back(counter(l, v.counters.policed[c]));
      rate.metric.push_back(gauge(l, v.policy.classes[c].rate));
      if (v.switch_meters) {
        meter_in.metric.push_back(counter(l, v.switch_packets[c]));
        meter_drop.metric.push_back(counter(l, v.switch_dropped[c]));
      }
    }
    control.metric.push_back(counter(sw, v.counters.control_out));
    meters.metric.push_back(gauge(sw, v.switch_meters ? 1 : 0));
  }
  MetricFamilies out;
  for (auto* f : {&seen, &passed, &policed, &rate, &control, &meters, &meter_in, &meter_drop}) {
    out.push_back(std::move(*f));
  }
  return out;
}

MetricFamilies vlan_metrics(const tapd::BridgeCounters& c) {
  return {
      single_counter("tapflow_vlan_learn_packet_ins_total", "Learning PACKET_INs (VLAN mode)",
                     c.learn_packet_ins),
      single_counter("tapflow_vlan_mac_learned_total", "MACs learned in a VLAN", c.mac_learned),
      single_counter("tapflow_vlan_mac_moves_total", "MACs seen on another port of their VLAN",
                     c.mac_moves),
      single_counter("tapflow_vlan_mac_aged_total", "MACs forgotten after their eth_src flow expired",
                     c.mac_aged),
      single_counter("tapflow_vlan_mac_flushed_total",
                     "MACs forgotten because their port went down or away", c.mac_flushed),
      single_counter("tapflow_vlan_mac_refreshed_total",
                     "Known MACs whose learned flows were sent again", c.mac_refreshed),
      single_counter("tapflow_vlan_mac_table_full_total",
                     "MACs not learned: the MAC table was full", c.mac_table_full),
      single_counter("tapflow_vlan_packet_in_unknown_vlan_total",
                     "PACKET_INs from a VLAN member port with no VLAN TAP to take them",
                     c.packet_in_unknown_vlan),
      single_counter("tapflow_vlan_setup_errors_total", "VLAN configuration problems found at connect",
                     c.vlan_setup_errors),
  };
}

MetricFamilies cluster_metrics(const ClusterMetricsView& v) {
  MetricFamilies out;
  auto reach = family("tapflow_cluster_etcd_reachable",
                      "1 while this instance's etcd lease is kept alive", MetricType::Gauge);
  reach.metric.push_back(gauge({{"instance_id", v.instance}}, v.etcd_reachable ? 1 : 0));
  out.push_back(std::move(reach));
  auto role = family("tapflow_cluster_role",
                     "This instance's role per switch: 0 standby, 1 becoming master (elected, "
                     "waiting for the switch), 2 master",
                     MetricType::Gauge);
  auto gen = family("tapflow_cluster_generation",
                    "The switch's current OpenFlow generation id as this instance knows it (its "
                    "own as master, the master's as standby; 0 unknown)",
                    MetricType::Gauge);
  auto leader = family("tapflow_cluster_leader_info",
                       "The instance each switch's election names master (value 1)",
                       MetricType::Gauge);
  for (const auto& sw : v.switches) {
    const Labels l{{"dpid", dpid_label(sw.dpid)}};
    role.metric.push_back(gauge(l, static_cast<double>(static_cast<int>(sw.role))));
    gen.metric.push_back(gauge(l, static_cast<double>(sw.generation)));
    if (!sw.leader.empty()) leader.metric.push_back(gauge(with(l, "leader", sw.leader), 1));
  }
  out.push_back(std::move(role));
  out.push_back(std::move(gen));
  out.push_back(std::move(leader));
  const std::pair<const char*, std::pair<const char*, std::uint64_t>> counters[] = {
      {"tapflow_cluster_elections_won_total", {"Elections this instance won", v.elections_won}},
      {"tapflow_cluster_stepped_down_total",
       {"Masterships given up (etcd lease at risk, hand-over, refusal)", v.stepped_down}},
      {"tapflow_cluster_lease_grants_total", {"etcd leases granted to this instance", v.lease_grants}},
      {"tapflow_cluster_keepalive_failures_total",
       {"etcd lease keepalives that failed", v.keepalive_failures}},
      {"tapflow_cluster_etcd_errors_total", {"etcd requests that failed", v.etcd_errors}},
      {"tapflow_cluster_master_refused_total",
       {"Times a switch refused this instance as master (stale generation, IS_SLAVE)",
        v.master_refused}},
      {"tapflow_cluster_handovers_total", {"Planned switchovers asked for (SIGUSR1)", v.handovers}},
      {"tapflow_cluster_role_requests_total", {"ROLE_REQUESTs sent to switches", v.role_requests}},
      {"tapflow_cluster_role_errors_total",
       {"Role requests the switch refused or did not confirm", v.role_errors}},
      {"tapflow_cluster_takeovers_total",
       {"Times a switch confirmed this instance as master", v.masters_confirmed}},
      {"tapflow_cluster_dropped_not_master_total",
       {"Switch messages dropped while standby (PACKET_IN, FLOW_REMOVED, errors)",
        v.dropped_not_master}},
  };
  for (const auto& [name, hv] : counters) out.push_back(single_counter(name, hv.first, hv.second));
  auto confirm = family("tapflow_cluster_last_takeover_seconds",
                        "The last takeover: elected in etcd to the switch confirming MASTER",
                        MetricType::Gauge);
  confirm.metric.push_back(gauge({}, static_cast<double>(v.last_master_confirm_us) / 1e6));
  out.push_back(std::move(confirm));
  return out;
}

MetricFamilies routing_metrics(const routing::RouterCounters& router,
                               const std::vector<routing::Router::SwitchView>& switches) {
  MetricFamilies out;
  out.push_back(single_counter("tapflow_router_compiles_total",
                               "Full FIB compiles (kernel dump, resync, switch reconnect)",
                               router.compiles));
  out.push_back(single_counter("tapflow_router_updates_total",
                               "Incremental FIB updates (batches of kernel changes)", router.updates));
  out.push_back(single_counter("tapflow_router_reconciles_total",
                               "Reconciles of a switch's FIB against the kernel's", router.reconciles));
  out.push_back(single_counter("tapflow_router_setup_errors_total",
                               "Namespace or netlink failures of the router app",
                               router.setup_errors));
  out.push_back(single_counter("tapflow_router_stale_holds_total",
                               "Reconciles that kept stale flows or groups (graceful restart)",
                               router.stale_holds));
  out.push_back(single_counter("tapflow_router_stale_sweeps_total",
                               "Stale holds ended by a sweep (FIB quiet, or the maximum hold)",
                               router.stale_sweeps));
  auto confirm = family("tapflow_router_update_confirm_seconds",
                        "Kernel change read from netlink -> the switch confirmed the FIB update "
                        "(kind: last, or max since start)",
                        MetricType::Gauge);
  confirm.metric.push_back(
      gauge({{"kind", "last"}}, static_cast<double>(router.update_confirm_last_us) / 1e6));
  confirm.metric.push_back(
      gauge({{"kind", "max"}}, static_cast<double>(router.update_confirm_max_us) / 1e6));
  out.push_back(std::move(confirm));

  // Per switch: one table, gauges then counters (every value fits a double
  // exactly: counts stay far below 2^53).
  using SV = routing::Router::SwitchView;
  struct PerSwitch {
    const char* name;
    const char* help;
    MetricType type;
    double (*value)(const SV&);
  };
  constexpr auto G = MetricType::Gauge;
  constexpr auto C = MetricType::Counter;
  static constexpr PerSwitch kPerSwitch[] = {
      {"tapflow_fib_synced", "1 once the namespace's kernel state has been read in full", G,
       [](const SV& v) { return v.synced ? 1.0 : 0.0; }},
      {"tapflow_fib_routes", "Routes of the namespace that the router follows", G,
       [](const SV& v) { return static_cast<double>(v.routes); }},
      {"tapflow_fib_flows", "FIB flows the compiler wants on the switch", G,
       [](const SV& v) { return static_cast<double>(v.flows); }},
      {"tapflow_fib_groups", "Groups the compiler wants on the switch", G,
       [](const SV& v) { return static_cast<double>(v.groups); }},
      {"tapflow_fib_switch_flows",
       "FIB flows sent to the switch and not removed since (withheld ones excluded)", G,
       [](const SV& v) { return static_cast<double>(v.installed_flows); }},
      {"tapflow_fib_withheld_flows",
       "FIB flows left out because the switch's FIB table is full (the kernel forwards them)", G,
       [](const SV& v) { return static_cast<double>(v.withheld_flows); }},
      {"tapflow_fib_capacity_flows",
       "Flows the switch's FIB table holds (its profile, TABLE_FEATURES or table_capacity); 0: no "
       "limit known",
       G, [](const SV& v) { return static_cast<double>(v.fib_capacity.value_or(0)); }},
      {"tapflow_fib_compressing",
       "1 while the FIB's route flows are compressed (same next hop merged, covered prefixes "
       "dropped) to fit the switch's table",
       G, [](const SV& v) { return v.compressing ? 1.0 : 0.0; }},
      {"tapflow_fib_uncompressed_flows", "FIB flows the switch would need without compression", G,
       [](const SV& v) { return static_cast<double>(v.uncompressed_flows); }},
      {"tapflow_fib_table_utilization",
       "FIB flows wanted / the FIB table's size (above 0.9: nearly full, logged; above 1: the "
       "shortest prefixes go to the kernel); 0: no limit known",
       G, [](const SV& v) {
         return v.fib_capacity && *v.fib_capacity > 0
                    ? static_cast<double>(v.flows) / static_cast<double>(*v.fib_capacity)
                    : 0.0;
       }},
      {"tapflow_fib_programming",
       "1 while FIB changes are queued or not yet confirmed by the switch (0: it holds them all)", G,
       [](const SV& v) { return v.programming ? 1.0 : 0.0; }},
      {"tapflow_fib_compiler_bytes", "Memory held by the FIB compiler's state", G,
       [](const SV& v) { return static_cast<double>(v.compiler_bytes); }},
      {"tapflow_fib_stale_flows",
       "FIB flows the switch held at the last reconcile that the namespace's FIB does not have "
       "(yet): kept forwarding until the sweep",
       G, [](const SV& v) { return static_cast<double>(v.stale_flows); }},
      {"tapflow_fib_stale_groups", "Groups held as stale until the sweep", G,
       [](const SV& v) { return static_cast<double>(v.stale_groups); }},
      {"tapflow_fib_flow_mods_total", "FLOW_MODs sent (bundled or not, retries included)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.flow_mods); }},
      {"tapflow_fib_group_mods_total", "GROUP_MODs sent (bundled or not, retries included)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.group_mods); }},
      {"tapflow_fib_batches_total", "Batches of FIB changes sent", C,
       [](const SV& v) { return static_cast<double>(v.programmer.batches); }},
      {"tapflow_fib_bundles_committed_total", "Bundles the switch committed", C,
       [](const SV& v) { return static_cast<double>(v.programmer.bundles_committed); }},
      {"tapflow_fib_bundle_shrinks_total",
       "Times the next bundles were made smaller: the switch took longer than router.bundle_target for one", C,
       [](const SV& v) { return static_cast<double>(v.programmer.bundle_shrinks); }},
      {"tapflow_fib_control_holds_total",
       "Times FIB programming held its next bundle: a BFD session through the switch was silent for "
       "router.bfd_yield of its detection time",
       C, [](const SV& v) { return static_cast<double>(v.programmer.control_holds); }},
      {"tapflow_fib_control_hold_seconds_total", "Time FIB programming held for silent BFD sessions", C,
       [](const SV& v) { return static_cast<double>(v.programmer.control_hold_us) / 1e6; }},
      {"tapflow_fib_bundles_failed_total",
       "Bundles the switch refused (their messages are resent one by one)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.bundles_failed); }},
      {"tapflow_fib_retried_total", "Messages resent one by one after a failed bundle", C,
       [](const SV& v) { return static_cast<double>(v.programmer.retried); }},
      {"tapflow_fib_switch_errors_total",
       "FIB entries the switch rejected or that could not be sent (logged with the route)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.errors); }},
      {"tapflow_fib_table_full_total", "Of tapflow_fib_switch_errors_total: TABLE_FULL", C,
       [](const SV& v) { return static_cast<double>(v.programmer.table_full); }},
      {"tapflow_fib_reconciles_total", "Reads of the switch's FIB to reconcile it", C,
       [](const SV& v) { return static_cast<double>(v.programmer.reconciles); }},
      {"tapflow_fib_reconcile_errors_total", "Reconciles that failed (the switch did not answer)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.reconcile_errors); }},
      {"tapflow_fib_groups_adopted_total",
       "Switch groups a reconcile kept because their content is what a FIB group needs", C,
       [](const SV& v) { return static_cast<double>(v.programmer.groups_adopted); }},
      {"tapflow_fib_stale_held_flows_total", "Flows reconciles kept as stale", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_held_flows); }},
      {"tapflow_fib_stale_replaced_total", "Stale flows replaced by the FIB's own", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_replaced); }},
      {"tapflow_fib_stale_adopted_flows_total",
       "Stale flows the FIB took back unchanged (no FLOW_MOD: the same route came back)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_adopted_flows); }},
      {"tapflow_fib_stale_adopted_groups_total",
       "Stale groups the FIB took back unchanged (no GROUP_MOD: the same next hop came back)", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_adopted_groups); }},
      {"tapflow_fib_stale_swept_flows_total", "Stale flows deleted by a sweep", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_swept_flows); }},
      {"tapflow_fib_stale_swept_groups_total", "Stale groups deleted by a sweep", C,
       [](const SV& v) { return static_cast<double>(v.programmer.stale_swept_groups); }},
      {"tapflow_netlink_messages_total", "Netlink messages handled", C,
       [](const SV& v) { return static_cast<double>(v.watcher.messages); }},
      {"tapflow_netlink_dumps_total", "Full netlink dumps completed", C,
       [](const SV& v) { return static_cast<double>(v.watcher.dumps); }},
      {"tapflow_netlink_resyncs_total", "Dumps redone after an overrun or an interrupted dump", C,
       [](const SV& v) { return static_cast<double>(v.watcher.resyncs); }},
      {"tapflow_netlink_overruns_total",
       "Netlink socket overruns (ENOBUFS), each followed by a resync", C,
       [](const SV& v) { return static_cast<double>(v.watcher.overruns); }},
      {"tapflow_netlink_parse_errors_total", "Netlink messages that did not parse", C,
       [](const SV& v) { return static_cast<double>(v.watcher.parse_errors); }},
      {"tapflow_netlink_refreshes_total",
       "Route re-dumps after a link went down or lost carrier (the kernel flushes silently)", C,
       [](const SV& v) { return static_cast<double>(v.watcher.refreshes); }},
  };
  for (const auto& d : kPerSwitch) {
    auto f = family(d.name, d.help, d.type);
    for (const auto& v : switches) {
      ClientMetric m;
      m.label = {{"dpid", dpid_label(v.dpid)}, {"netns", v.netns}};
      (d.type == G ? m.gauge.value : m.counter.value) = d.value(v);
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
  auto info = family("tapflow_switch_profile_info",
                     "1 per switch: the profile it runs with (what tapflow uses on it)",
                     MetricType::Gauge);
  for (const auto& v : switches) {
    if (v.profile.empty()) continue;
    ClientMetric m;
    m.label = {{"dpid", dpid_label(v.dpid)},
               {"netns", v.netns},
               {"profile", v.profile},
               {"summary", v.profile_summary}};
    m.gauge.value = 1;
    info.metric.push_back(std::move(m));
  }
  out.push_back(std::move(info));
  return out;
}

std::string render_text(const MetricFamilies& families) {
  return prometheus::TextSerializer().Serialize(families);
}

// ------------------------------------------------------------------ server

struct MetricsServer::State {
  State(asio::io_context& io, tcp::endpoint ep, std::vector<Collector> c, MetricsServerOptions o)
      : endpoint(ep), acceptor(io), retry(io), collectors(std::move(c)), options(o) {}

  std::string scrape() {
    MetricFamilies all;
    for (const auto& collect : collectors) {
      auto some = collect();
      all.insert(all.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
    }
    return render_text(all);
  }

  tcp::endpoint endpoint;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after an accept error (EMFILE): retry later, not in a tight loop
  std::vector<Collector> collectors;
  MetricsServerOptions options;
  std::set<Session*> sessions;  // live sessions, so stop() can close them (not owned)
  bool stopped = false;
};

// One scrape connection: read a request, answer it, repeat while keep-alive.
class MetricsServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<State> state, tcp::socket socket)
      : state_(std::move(state)),
        stream_(std::move(socket)),
        buffer_(state_->options.max_request_header_bytes) {
    state_->sessions.insert(this);
  }
  ~Session() { state_->sessions.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_request_header_bytes));
    stream_.expires_after(state_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

 private:
  void on_read(beast::error_code ec) {
    // Any error (EOF, timeout, oversized or malformed request) ends the
    // session: a scraper simply reconnects.
    if (ec || state_->stopped) return close();
    respond(parser_->get());
    stream_.expires_after(state_->options.idle_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code wec, std::size_t) {
                        if (wec || self->state_->stopped || !self->keep_alive_) return self->close();
                        self->read();
                      });
  }

  void respond(const http::request<http::empty_body>& req) {
    response_ = {};
    response_.version(req.version());
    response_.set(http::field::server, "tapflowd");
    keep_alive_ = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    const auto path = target.substr(0, target.find('?'));
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "only GET and HEAD\n";
    } else if (path != "/metrics") {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "not found: the metrics are at /metrics\n";
    } else {
      try {
        response_.body() = state_->scrape();
        response_.result(http::status::ok);
        response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      } catch (const std::exception& e) {
        spdlog::error("metrics: collecting failed: {}", e.what());
        response_.result(http::status::internal_server_error);
        response_.set(http::field::content_type, "text/plain; charset=utf-8");
        response_.body() = "collecting metrics failed\n";
      }
    }
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    // HEAD: the GET response's headers (Content-Length included), no body.
    if (head) response_.body().clear();
  }

  std::shared_ptr<State> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
};

MetricsServer::MetricsServer(asio::io_context& io, tcp::endpoint endpoint,
                             std::vector<Collector> collectors, MetricsServerOptions options)
    : state_(std::make_shared<State>(io, endpoint, std::move(collectors), options)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  auto& st = *state_;
  boost::system::error_code ec;
  st.acceptor.open(st.endpoint.protocol(), ec);
  if (!ec) st.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(st.endpoint, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    st.acceptor.close(ignored);
    throw std::runtime_error("metrics: cannot listen on " + endpoint_text(st.endpoint) + ": " +
                             ec.message());
  }
  spdlog::info("metrics: serving http://{}/metrics", endpoint_text(local_endpoint()));
  accept(state_);
}

void MetricsServer::accept(const std::shared_ptr<State>& state) {
  accept_loop(state, "metrics", [state](tcp::socket socket) {
    if (state->sessions.size() >= state->options.max_sessions) {
      // Too many scrapers at once: drop this one; it retries next interval.
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(state, std::move(socket))->read();
    }
  });
}

void MetricsServer::stop() {
  auto& st = *state_;
  if (st.stopped) return;
  st.stopped = true;
  boost::system::error_code ignored;
  st.acceptor.close(ignored);
  st.retry.cancel();
  // close() only cancels; the sessions go away when their handlers run.
  for (Session* s : st.sessions) s->close();
  // What the collectors refer to may be destroyed right after stop().
  st.collectors.clear();
}

tcp::endpoint MetricsServer::local_endpoint() const {
  boost::system::error_code ec;
  auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? state_->endpoint : ep;
}

}  // namespace tapflow::daemon
