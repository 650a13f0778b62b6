// tapflowd's Prometheus metrics: the exact text for small examples, the
// latency histogram conversion, and the /metrics server over real loopback TCP.
#include "metrics.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <future>
#include <limits>
#include <optional>
#include <thread>

#include "harness.hpp"

namespace tapflow::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

TEST(MetricsLabels, DatapathIdAndVersion) {
  EXPECT_EQ(dpid_label(0x2a), "000000000000002a");
  EXPECT_EQ(dpid_label(0xfedcba9876543210ULL), "fedcba9876543210");
  EXPECT_EQ(version_label(0x01), "1.0");
  EXPECT_EQ(version_label(0x04), "1.3");
  EXPECT_EQ(version_label(0x09), "0x09");
}

TEST(LatencyHistogram, PowerOfTwoBucketsBecomeCumulativeSecondsWithInf) {
  tapd::LatencyStats s;
  s.buckets[3] = 1;   // [8, 16) ns
  s.buckets[10] = 2;  // [1024, 2048) ns
  s.buckets[11] = 1;  // [2048, 4096) ns
  s.buckets[20] = 1;  // [~1 ms, ~2 ms)
  s.count = 5;
  s.sum_ns = 2'000'000;
  const auto h = latency_histogram(s, {10, 12});
  EXPECT_EQ(h.sample_count, 5u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 0.002);
  ASSERT_EQ(h.bucket.size(), 4u);
  // le = 2^k ns holds the source buckets below k.
  EXPECT_DOUBLE_EQ(h.bucket[0].upper_bound, 1024e-9);
  EXPECT_EQ(h.bucket[0].cumulative_count, 1u);
  EXPECT_DOUBLE_EQ(h.bucket[1].upper_bound, 2048e-9);
  EXPECT_EQ(h.bucket[1].cumulative_count, 3u);
  EXPECT_DOUBLE_EQ(h.bucket[2].upper_bound, 4096e-9);
  EXPECT_EQ(h.bucket[2].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(h.bucket[3].upper_bound));
  EXPECT_EQ(h.bucket[3].cumulative_count, 5u);
}

TEST(LatencyHistogram, DefaultBoundsAreFixedAndStopAtTheOverflowBucket) {
  tapd::LatencyStats empty;
  const auto d = latency_histogram(empty);
  ASSERT_EQ(d.bucket.size(), 22u);  // 2^10 .. 2^30 ns, +Inf
  EXPECT_DOUBLE_EQ(d.bucket.front().upper_bound, 1.024e-6);
  EXPECT_DOUBLE_EQ(d.bucket[20].upper_bound, 1.073741824);
  for (const auto& b : d.bucket) EXPECT_EQ(b.cumulative_count, 0u);

  // Bucket 39 also holds everything above 2^40 ns: no finite bound counts it.
  tapd::LatencyStats big;
  big.buckets[39] = 1;
  big.count = 1;
  const auto h = latency_histogram(big, {38, 60});
  ASSERT_EQ(h.bucket.size(), 3u);  // 2^38, 2^39, +Inf
  EXPECT_EQ(h.bucket[1].cumulative_count, 0u);
  EXPECT_EQ(h.bucket[2].cumulative_count, 1u);
}

TEST(MetricsText, ControllerAndOneDatapath) {
  controller::ControllerCounters c;
  c.accepted = 3;
  c.refused = 1;
  c.closed = 2;
  c.replaced = 1;
  DatapathMetrics dp;
  dp.dpid = 0x2a;
  dp.version = 0x04;
  dp.counters = {10, 12, 800, 960, 1, 5};  // rx/tx messages, rx/tx bytes, decode errors, packet-ins
  const std::string text = render_text(controller_metrics(c, 2, {dp}));
  EXPECT_EQ(text,
            "# HELP tapflow_controller_connections OpenFlow connections open (in handshake or up)\n"
            "# TYPE tapflow_controller_connections gauge\n"
            "tapflow_controller_connections 2\n"
            "# HELP tapflow_controller_datapaths Datapaths up (handshake complete)\n"
            "# TYPE tapflow_controller_datapaths gauge\n"
            "tapflow_controller_datapaths 1\n"
            "# HELP tapflow_controller_connections_accepted_total Switch connections accepted\n"
            "# TYPE tapflow_controller_connections_accepted_total counter\n"
            "tapflow_controller_connections_accepted_total 3\n"
            "# HELP tapflow_controller_connections_refused_total Switch connections refused at "
            "limits.max_connections\n"
            "# TYPE tapflow_controller_connections_refused_total counter\n"
            "tapflow_controller_connections_refused_total 1\n"
            "# HELP tapflow_controller_connections_closed_total Switch connections closed, for any "
            "reason\n"
            "# TYPE tapflow_controller_connections_closed_total counter\n"
            "tapflow_controller_connections_closed_total 2\n"
            "# HELP tapflow_controller_connections_replaced_total Datapaths that reconnected while "
            "still connected (the new connection replaced the old)\n"
            "# TYPE tapflow_controller_connections_replaced_total counter\n"
            "tapflow_controller_connections_replaced_total 1\n"
            "# HELP tapflow_datapath_rx_messages_total OpenFlow messages received from the switch\n"
            "# TYPE tapflow_datapath_rx_messages_total counter\n"
            "tapflow_datapath_rx_messages_total{dpid=\"000000000000002a\",version=\"1.3\"} 10\n"
            "# HELP tapflow_datapath_tx_messages_total OpenFlow messages sent to the switch\n"
            "# TYPE tapflow_datapath_tx_messages_total counter\n"
            "tapflow_datapath_tx_messages_total{dpid=\"000000000000002a\",version=\"1.3\"} 12\n"
            "# HELP tapflow_datapath_rx_bytes_total Bytes received from the switch\n"
            "# TYPE tapflow_datapath_rx_bytes_total counter\n"
            "tapflow_datapath_rx_bytes_total{dpid=\"000000000000002a\",version=\"1.3\"} 800\n"
            "# HELP tapflow_datapath_tx_bytes_total Bytes sent to the switch\n"
            "# TYPE tapflow_datapath_tx_bytes_total counter\n"
            "tapflow_datapath_tx_bytes_total{dpid=\"000000000000002a\",version=\"1.3\"} 960\n"
            "# HELP tapflow_datapath_decode_errors_total Messages from the switch that did not "
            "decode (answered with an OpenFlow error)\n"
            "# TYPE tapflow_datapath_decode_errors_total counter\n"
            "tapflow_datapath_decode_errors_total{dpid=\"000000000000002a\",version=\"1.3\"} 1\n"
            "# HELP tapflow_datapath_packet_ins_total PACKET_IN messages from the switch\n"
            "# TYPE tapflow_datapath_packet_ins_total counter\n"
            "tapflow_datapath_packet_ins_total{dpid=\"000000000000002a\",version=\"1.3\"} 5\n");
}

TEST(MetricsText, OneTapPortWithHistogram) {
  tapd::PortStatusView p;
  p.dpid = 1;
  p.netns = "tapflow-r1";
  p.port_no = 2;
  p.port_name = "s1-eth2";
  p.interface = "eth2";
  p.carrier = true;
  auto& c = p.counters;
  c.to_tap_frames = 5;
  c.to_tap_bytes = 500;
  c.to_switch_frames = 3;
  c.to_switch_bytes = 180;
  c.drop_tap_busy = 1;
  c.drop_truncated = 2;
  c.paused_congested = 4;
  c.to_tap_latency.buckets[9] = 1;   // [512, 1024) ns
  c.to_tap_latency.buckets[10] = 3;  // [1024, 2048) ns
  c.to_tap_latency.buckets[12] = 1;  // [4096, 8192) ns
  c.to_tap_latency.count = 5;
  c.to_tap_latency.sum_ns = 9000;
  tapd::BridgeCounters b;
  b.packet_in_unknown_port = 7;
  b.punt_syncs = 9;
  b.carrier_holds = 3;
  b.carrier_hold_expiries = 1;
  b.taps_adopted = 2;
  b.fdstore_connected = true;

  const std::string l = "dpid=\"0000000000000001\",netns=\"tapflow-r1\",port=\"2\",interface=\"eth2\"";
  const std::string text = render_text(tap_metrics({p}, b, {10, 11}));
  EXPECT_EQ(text,
            "# HELP tapflow_tap_frames_total Frames between the switch and the TAP (to_tap: "
            "PACKET_IN written to the TAP; to_switch: sent by the kernel, as PACKET_OUT)\n"
            "# TYPE tapflow_tap_frames_total counter\n"
            "tapflow_tap_frames_total{" + l + ",direction=\"to_tap\"} 5\n"
            "tapflow_tap_frames_total{" + l + ",direction=\"to_switch\"} 3\n"
            "# HELP tapflow_tap_bytes_total Bytes of tapflow_tap_frames_total\n"
            "# TYPE tapflow_tap_bytes_total counter\n"
            "tapflow_tap_bytes_total{" + l + ",direction=\"to_tap\"} 500\n"
            "tapflow_tap_bytes_total{" + l + ",direction=\"to_switch\"} 180\n"
            "# HELP tapflow_tap_drops_total Frames dropped between switch and TAP, by reason\n"
            "# TYPE tapflow_tap_drops_total counter\n"
            "tapflow_tap_drops_total{" + l + ",reason=\"tap_busy\"} 1\n"
            "tapflow_tap_drops_total{" + l + ",reason=\"tap_error\"} 0\n"
            "tapflow_tap_drops_total{" + l + ",reason=\"truncated\"} 2\n"
            "tapflow_tap_drops_total{" + l + ",reason=\"switch_down\"} 0\n"
            "tapflow_tap_drops_total{" + l + ",reason=\"send_error\"} 0\n"
            "# HELP tapflow_tap_read_pauses_total Times reading the TAP paused because the switch "
            "was congested\n"
            "# TYPE tapflow_tap_read_pauses_total counter\n"
            "tapflow_tap_read_pauses_total{" + l + "} 4\n"
            "# HELP tapflow_tap_carrier TAP carrier (1: the switch port is up)\n"
            "# TYPE tapflow_tap_carrier gauge\n"
            "tapflow_tap_carrier{" + l + "} 1\n"
            "# HELP tapflow_tap_latency_seconds Time a frame spends in tapflowd (to_tap: PACKET_IN "
            "handed over to TAP write; to_switch: TAP readable to PACKET_OUT queued)\n"
            "# TYPE tapflow_tap_latency_seconds histogram\n"
            "tapflow_tap_latency_seconds_count{" + l + ",direction=\"to_tap\"} 5\n"
            "tapflow_tap_latency_seconds_sum{" + l + ",direction=\"to_tap\"} 9e-06\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_tap\",le=\"1.024e-06\"} 1\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_tap\",le=\"2.048e-06\"} 4\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_tap\",le=\"+Inf\"} 5\n"
            "tapflow_tap_latency_seconds_count{" + l + ",direction=\"to_switch\"} 0\n"
            "tapflow_tap_latency_seconds_sum{" + l + ",direction=\"to_switch\"} 0\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_switch\",le=\"1.024e-06\"} 0\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_switch\",le=\"2.048e-06\"} 0\n"
            "tapflow_tap_latency_seconds_bucket{" + l + ",direction=\"to_switch\",le=\"+Inf\"} 0\n"
            "# HELP tapflow_bridge_packet_in_unknown_port_total PACKET_IN for a switch port without "
            "a TAP\n"
            "# TYPE tapflow_bridge_packet_in_unknown_port_total counter\n"
            "tapflow_bridge_packet_in_unknown_port_total 7\n"
            "# HELP tapflow_bridge_setup_errors_total Namespace, TAP or netlink setup failures\n"
            "# TYPE tapflow_bridge_setup_errors_total counter\n"
            "tapflow_bridge_setup_errors_total 0\n"
            "# HELP tapflow_bridge_punt_syncs_total Times the punt flow set was recomputed and sent\n"
            "# TYPE tapflow_bridge_punt_syncs_total counter\n"
            "tapflow_bridge_punt_syncs_total 9\n"
            "# HELP tapflow_tap_carrier_holds_total Carrier holds started (a switch away, or TAPs "
            "taken over at start)\n"
            "# TYPE tapflow_tap_carrier_holds_total counter\n"
            "tapflow_tap_carrier_holds_total 3\n"
            "# HELP tapflow_tap_carrier_hold_expiries_total Carrier holds that ran out (those TAPs "
            "lost their carrier)\n"
            "# TYPE tapflow_tap_carrier_hold_expiries_total counter\n"
            "tapflow_tap_carrier_hold_expiries_total 1\n"
            "# HELP tapflow_fdstore_taps_adopted_total TAPs taken over from the fd store (carrier "
            "kept across a restart)\n"
            "# TYPE tapflow_fdstore_taps_adopted_total counter\n"
            "tapflow_fdstore_taps_adopted_total 2\n"
            "# HELP tapflow_fdstore_errors_total Unusable stored TAP descriptors, or requests the "
            "store did not take\n"
            "# TYPE tapflow_fdstore_errors_total counter\n"
            "tapflow_fdstore_errors_total 0\n"
            "# HELP tapflow_fdstore_connected 1 while an fd store keeps the TAP descriptors across "
            "restarts\n"
            "# TYPE tapflow_fdstore_connected gauge\n"
            "tapflow_fdstore_connected 1\n");
}

// The controller's own counters, read on its event loop, after a real handshake.
TEST(MetricsText, VlanCountersAreUnlabelledCounters) {
  tapd::BridgeCounters c;
  c.mac_learned = 7;
  c.mac_table_full = 2;
  const std::string text = render_text(vlan_metrics(c));
  EXPECT_NE(text.find("# TYPE tapflow_vlan_mac_learned_total counter\ntapflow_vlan_mac_learned_total 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\ntapflow_vlan_mac_table_full_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ntapflow_vlan_mac_moves_total 0\n"), std::string::npos) << text;
}

TEST(MetricsText, PuntClassesPerSwitch) {
  tapd::PuntView v;
  v.dpid = 1;
  v.netns = "tapflow-r1";
  v.counters.seen[0] = 10;
  v.counters.passed[0] = 10;
  v.counters.seen[1] = 5000;
  v.counters.passed[1] = 600;
  v.counters.policed[1] = 4400;
  v.counters.control_out = 7;
  v.switch_meters = true;
  v.switch_packets[1] = 110000;
  v.switch_dropped[1] = 105000;
  const std::string text = render_text(punt_metrics({v}));
  const std::string sw = "dpid=\"0000000000000001\",netns=\"tapflow-r1\"";
  EXPECT_NE(text.find("tapflow_punt_packet_ins_total{" + sw + ",class=\"routing\"} 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tapflow_punt_policed_total{" + sw + ",class=\"arp_nd\"} 4400\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tapflow_punt_passed_total{" + sw + ",class=\"arp_nd\"} 600\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tapflow_punt_policer_rate{" + sw + ",class=\"routing\"} 6000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tapflow_punt_control_out_total{" + sw + "} 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tapflow_punt_switch_meters{" + sw + "} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("class=\"glean\""), std::string::npos);
  EXPECT_NE(text.find("tapflow_punt_switch_meter_dropped_total{" + sw + ",class=\"arp_nd\"} 105000\n"),
            std::string::npos)
      << text;
}

TEST(MetricsText, RouterAndPerSwitchFib) {
  routing::RouterCounters r;
  r.compiles = 2;
  r.updates = 40;
  r.update_confirm_last_us = 1500;
  r.update_confirm_max_us = 250000;
  routing::Router::SwitchView a;
  a.dpid = 0x1;
  a.netns = "tapflow-r1";
  a.synced = true;
  a.routes = 1000;
  a.flows = 1003;
  a.groups = 4;
  a.installed_flows = 1000;
  a.withheld_flows = 3;
  a.programming = true;
  a.programmer.flow_mods = 1003;
  a.programmer.errors = 3;
  a.programmer.table_full = 3;
  a.watcher.overruns = 1;
  a.watcher.resyncs = 1;
  routing::Router::SwitchView b;  // a switch whose namespace is not read yet
  b.dpid = 0x2;
  b.netns = "tapflow-r2";
  const std::string text = render_text(routing_metrics(r, {a, b}));
  const auto has = [&](const std::string& line) {
    EXPECT_NE(text.find("\n" + line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
  };
  has("tapflow_router_compiles_total 2");
  has("tapflow_router_updates_total 40");
  has("tapflow_router_update_confirm_seconds{kind=\"last\"} 0.0015");
  has("tapflow_router_update_confirm_seconds{kind=\"max\"} 0.25");
  has("# TYPE tapflow_fib_routes gauge");
  has("tapflow_fib_synced{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1");
  has("tapflow_fib_synced{dpid=\"0000000000000002\",netns=\"tapflow-r2\"} 0");
  has("tapflow_fib_routes{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1000");
  has("tapflow_fib_flows{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1003");
  has("tapflow_fib_groups{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 4");
  has("tapflow_fib_switch_flows{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1000");
  has("tapflow_fib_withheld_flows{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 3");
  has("tapflow_fib_programming{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1");
  has("# TYPE tapflow_fib_flow_mods_total counter");
  has("tapflow_fib_flow_mods_total{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1003");
  has("tapflow_fib_switch_errors_total{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 3");
  has("tapflow_fib_table_full_total{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 3");
  has("tapflow_netlink_overruns_total{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1");
  has("tapflow_netlink_resyncs_total{dpid=\"0000000000000001\",netns=\"tapflow-r1\"} 1");
  has("tapflow_fib_switch_errors_total{dpid=\"0000000000000002\",netns=\"tapflow-r2\"} 0");
  // Every family is exposed once, with or without switches.
  EXPECT_EQ(routing_metrics(r, {}).size(), routing_metrics(r, {a, b}).size());
}

TEST(MetricsController, DatapathSnapshotAfterHandshake) {
  controller::testing::ControllerFixture fx;
  controller::testing::FakeSwitch sw(fx.port);
  sw.handshake(openflow::kVersion13, 0x2a);
  ASSERT_TRUE(fx.app.wait_kind("up"));
  const auto dps = fx.run([&] { return datapath_metrics(fx.controller()); });
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_EQ(dps[0].dpid, 0x2au);
  EXPECT_EQ(dps[0].version, openflow::kVersion13);
  // HELLO, FEATURES_REPLY, PORT_DESC reply, BARRIER_REPLY at least.
  EXPECT_GE(dps[0].counters.rx_messages, 4u);
  EXPECT_GT(dps[0].counters.tx_bytes, 0u);
  const auto text = fx.run([&] { return render_text(controller_metrics(fx.controller())); });
  EXPECT_NE(text.find("\ntapflow_controller_connections 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ntapflow_controller_connections_accepted_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("\ntapflow_datapath_packet_ins_total{dpid=\"000000000000002a\",version=\"1.3\"} 0\n"),
            std::string::npos)
      << text;
}

// ------------------------------------------------------------------ server

// A MetricsServer on 127.0.0.1 (ephemeral port) with its event loop on a thread.
class ServerFixture {
 public:
  explicit ServerFixture(std::vector<MetricsServer::Collector> collectors,
                         MetricsServerOptions options = {})
      : server_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(collectors),
                options) {
    server_.start();
    port = server_.local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
    io_thread = thread_.get_id();
  }
  ~ServerFixture() {
    run([this] { server_.stop(); });
    // Without the guard, run() returns only once stop() left nothing pending.
    work_.reset();
    thread_.join();
  }
  template <class F>
  auto run(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto fut = task.get_future();
    asio::post(io_, [&task] { task(); });
    return fut.get();
  }

  std::uint16_t port = 0;
  std::thread::id io_thread;

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  MetricsServer server_;
  std::thread thread_;
};

// An HTTP client over a real socket; every wait is bounded.
class HttpClient {
 public:
  using Response = http::response<http::string_body>;
  explicit HttpClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(const std::string& raw) { asio::write(socket_, asio::buffer(raw)); }
  // One response, or nullopt when the server closes, errs or is silent for 3 s.
  // `head`: the response to a HEAD request (headers only, whatever Content-Length says).
  std::optional<Response> read(bool head = false, std::chrono::milliseconds timeout = 3s) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    std::optional<beast::error_code> result;
    http::async_read(socket_, buffer_, parser,
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    io_.restart();
    io_.run_for(timeout);
    if (!result) {
      socket_.cancel();
      io_.restart();
      io_.run();
      error = asio::error::timed_out;
      return std::nullopt;
    }
    error = *result;
    if (error) return std::nullopt;
    return parser.release();
  }
  std::optional<Response> get(const std::string& target, bool keep_alive = true) {
    send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         (keep_alive ? "" : "Connection: close\r\n") + "\r\n");
    return read();
  }

  beast::error_code error;

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// A collector that counts its calls and notes the thread it ran on.
struct CountingCollector {
  std::uint64_t calls = 0;  // touched on the event loop only
  std::thread::id thread;
  MetricsServer::Collector collector() {
    return [this] {
      ++calls;
      thread = std::this_thread::get_id();
      prometheus::MetricFamily f;
      f.name = "tapflow_test_scrapes_total";
      f.help = "scrapes";
      f.type = prometheus::MetricType::Counter;
      prometheus::ClientMetric m;
      m.counter.value = static_cast<double>(calls);
      f.metric.push_back(m);
      return MetricFamilies{f};
    };
  }
};

TEST(MetricsServer, ServesMetricsOverTcpFromTheEventLoop) {
  CountingCollector counting;
  ServerFixture fx({counting.collector(),
                    [] { return controller_metrics(controller::ControllerCounters{}, 0, {}); }});
  HttpClient client(fx.port);
  auto res = client.get("/metrics", false);
  ASSERT_TRUE(res) << client.error.message();
  EXPECT_EQ(res->result(), http::status::ok);
  EXPECT_EQ((*res)[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res->body().find("\ntapflow_test_scrapes_total 1\n"), std::string::npos) << res->body();
  EXPECT_NE(res->body().find("\ntapflow_controller_connections 0\n"), std::string::npos);
  EXPECT_EQ(fx.run([&] { return counting.thread; }), fx.io_thread);
  // Connection: close was asked for: the server ends the connection.
  EXPECT_FALSE(client.read());
  EXPECT_EQ(client.error, http::error::end_of_stream);
}

TEST(MetricsServer, KeepAliveAnswersEachScrapeWithFreshValues) {
  CountingCollector counting;
  ServerFixture fx({counting.collector()});
  HttpClient client(fx.port);
  for (int i = 1; i <= 3; ++i) {
    auto res = client.get("/metrics?x=1");
    ASSERT_TRUE(res) << client.error.message();
    EXPECT_TRUE(res->keep_alive());
    EXPECT_EQ(res->body(), "# HELP tapflow_test_scrapes_total scrapes\n"
                           "# TYPE tapflow_test_scrapes_total counter\n"
                           "tapflow_test_scrapes_total " + std::to_string(i) + "\n");
  }
  // HEAD: GET's headers, Content-Length included, and no body; the
  // connection stays in step (the next GET parses).
  client.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = client.read(true);
  ASSERT_TRUE(head) << client.error.message();
  EXPECT_EQ(head->result(), http::status::ok);
  EXPECT_EQ((*head)[http::field::content_length], "113");
  EXPECT_EQ(head->body(), "");
  auto last = client.get("/metrics");
  ASSERT_TRUE(last) << client.error.message();
  EXPECT_EQ(last->body().size(), 113u);
  EXPECT_NE(last->body().find("tapflow_test_scrapes_total 5\n"), std::string::npos);
  EXPECT_EQ(fx.run([&] { return counting.calls; }), 5u);
}

TEST(MetricsServer, OtherPathsAndMethodsAreRefused) {
  CountingCollector counting;
  ServerFixture fx({counting.collector()});
  HttpClient client(fx.port);
  auto nf = client.get("/");
  ASSERT_TRUE(nf) << client.error.message();
  EXPECT_EQ(nf->result(), http::status::not_found);
  client.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  auto na = client.read();
  ASSERT_TRUE(na) << client.error.message();
  EXPECT_EQ(na->result(), http::status::method_not_allowed);
  EXPECT_EQ((*na)[http::field::allow], "GET, HEAD");
  EXPECT_EQ(fx.run([&] { return counting.calls; }), 0u);

  // Not HTTP: the connection is closed, nothing collected.
  HttpClient junk(fx.port);
  junk.send("\x16\x03\x01 hello\r\n\r\n");
  EXPECT_FALSE(junk.read());
  // Headers beyond the limit: closed too.
  HttpClient huge(fx.port);
  huge.send("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
  EXPECT_FALSE(huge.read());
  EXPECT_EQ(fx.run([&] { return counting.calls; }), 0u);
}

TEST(MetricsServer, ConnectionsBeyondTheLimitAreClosed) {
  CountingCollector counting;
  MetricsServerOptions opt;
  opt.max_sessions = 1;
  ServerFixture fx({counting.collector()}, opt);
  HttpClient first(fx.port);
  ASSERT_TRUE(first.get("/metrics"));  // its session is open (keep-alive)
  HttpClient second(fx.port);
  EXPECT_FALSE(second.get("/metrics"));
  EXPECT_TRUE(first.get("/metrics"));
  EXPECT_EQ(fx.run([&] { return counting.calls; }), 2u);
}

TEST(MetricsServer, StopClosesOpenConnectionsAndCollectsNoMore) {
  CountingCollector counting;
  auto fx = std::make_unique<ServerFixture>(std::vector<MetricsServer::Collector>{counting.collector()});
  HttpClient client(fx->port);
  ASSERT_TRUE(client.get("/metrics"));
  fx.reset();  // stop() on the event loop, then the loop must run dry
  EXPECT_FALSE(client.read());
  EXPECT_EQ(counting.calls, 1u);
}

TEST(MetricsServer, StartFailsClearlyWhenThePortIsTaken) {
  asio::io_context io;
  MetricsServer a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), {});
  a.start();
  MetricsServer b(io, a.local_endpoint(), {});
  try {
    b.start();
    ADD_FAILURE() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(a.local_endpoint().port())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tapflow::daemon
