#include "metrics.hpp"

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
  state->acceptor.async_accept([state](const boost::system::error_code& ec, tcp::socket socket) {
    if (state->stopped) return;
    if (ec) {
      spdlog::warn("metrics: accept failed: {}", ec.message());
      state->retry.expires_after(std::chrono::milliseconds(500));
      state->retry.async_wait([state](const boost::system::error_code& wec) {
        if (!wec && !state->stopped) accept(state);
      });
      return;
    }
    if (state->sessions.size() >= state->options.max_sessions) {
      // Too many scrapers at once: drop this one; it retries next interval.
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(state, std::move(socket))->read();
    }
    accept(state);
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
