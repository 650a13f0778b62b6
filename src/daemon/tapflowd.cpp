// tapflowd: the OpenFlow controller daemon. Wiring only: config, logging,
// signals, the controller core and the selected application.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include "cluster_driver.hpp"
#include "config.hpp"
#include "control_server.hpp"
#include "control_service.hpp"
#include "json_log.hpp"
#include "metrics.hpp"
#include "reload.hpp"
#include "service_notify.hpp"
#include "tapflow/apps/learning_switch.hpp"
#include "tapflow/bfdwatch/bfd_watch.hpp"
#include "tapflow/controller/app_chain.hpp"
#include "tapflow/controller/controller.hpp"
#include "tapflow/controller/loop_monitor.hpp"
#include "tapflow/fdstore/client.hpp"
#include "tapflow/netns/namespace.hpp"
#include "tapflow/routing/router.hpp"
#include "tapflow/tapd/tap_bridge.hpp"

using namespace tapflow;

int main(int argc, char** argv) {
  CLI::App cli{"tapflowd: OpenFlow 1.0/1.3 router controller"};
  std::string config_file;
  daemon::CommandLine cl;
  cli.add_option("-c,--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  cli.add_option("--listen", cl.listen, "tcp:ADDR:PORT or tls:ADDR:PORT (repeatable; replaces the config's)");
  cli.add_option("--app", cl.app, "application: learning-switch or router");
  cli.add_option("--log-level", cl.log_level, "trace, debug, info, warn, error, off");
  cli.add_option("--log-format", cl.log_format, "text, or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  cli.add_option("--control-socket", cl.control_socket,
                 "tapflowctl's Unix socket (default /run/tapflow/tapflowd.sock)");
  cli.add_option("--tls-cert", cl.tls_cert, "controller certificate (PEM) for tls: listeners");
  cli.add_option("--tls-key", cl.tls_key, "controller private key (PEM)");
  cli.add_option("--tls-ca", cl.tls_ca, "CA that signs switch certificates (PEM)");
  cli.add_option("--echo-interval", cl.echo_interval, "seconds of silence before an ECHO_REQUEST");
  cli.add_option("--metrics", cl.metrics_listen, "serve Prometheus metrics at http://ADDR:PORT/metrics");
  CLI11_PARSE(cli, argc, argv);

  daemon::DaemonConfig cfg;
  // The file as it was read at start: a reload names what differs from it
  // and needs a restart.
  std::string config_text;
  try {
    if (!config_file.empty()) {
      config_text = daemon::read_config_text(config_file);
      cfg = daemon::parse_config(config_text, config_file);
    }
    daemon::apply_command_line(cfg, cl);
  } catch (const std::exception& e) {
    std::cerr << "tapflowd: configuration error: " << e.what() << "\n";
    return 2;
  }

  daemon::setup_logging(cfg.log_format, cfg.log_level);

  boost::asio::io_context io(1);
  std::unique_ptr<controller::App> app;
  // Declared before the bridge, which uses it until its destructor.
  std::unique_ptr<fdstore::FdStoreClient> fd_store;
  std::unique_ptr<daemon::ProfileBook> profiles;  // tapd's and routing's, per switch
  std::unique_ptr<tapd::TapBridge> bridge;
  std::unique_ptr<routing::Router> router;
  if (cfg.app == "router") {
    // Namespaces, TAPs and mounts of /run/netns: fail now, clearly, rather
    // than at the first switch.
    if (!netns::have_required_capabilities()) {
      spdlog::error(
          "the router app needs CAP_NET_ADMIN and CAP_SYS_ADMIN (network namespaces, "
          "TAP devices): run tapflowd as root, or with both as ambient "
          "capabilities (tapflowd.service)");
      return 1;
    }
    // tapd installs the flows of table 0 itself, a drop-all miss among them.
    cfg.controller.connection.install_table_miss = false;
    // One pipeline layout (tables, routing's group ids) for tapd and routing
    // alike. Without routing there is no FIB: tapd punts routed traffic.
    cfg.router.pipeline = cfg.routing_config.pipeline = cfg.pipeline;
    if (!cfg.routing) cfg.router.pipeline.fib_table.reset();
    // Per switch: its profile (ovs, mikrotik, generic-of13/of10) narrowed by
    // what it reports in the handshake; tapd and routing get the same answer.
    cfg.controller.connection.probe_capabilities = true;
    // GROUP_FEATURES too: a switch without indirect or select groups gets
    // inline actions or first-next-hop ECMP from the start, not by errors.
    cfg.controller.connection.probe_group_features = true;
    pipeline::ProfileRequest base;
    base.kind = cfg.profile;
    base.pipeline = cfg.pipeline;
    base.routing = cfg.routing;
    base.fib_capacity = cfg.routing_config.programmer.table_capacity;
    profiles = std::make_unique<daemon::ProfileBook>(base, cfg.profiles);
    cfg.router.pipeline_for = [p = profiles.get()](const controller::Datapath& dp) {
      return p->resolve(dp).pipeline;
    };
    cfg.routing_config.profile_for = [p = profiles.get()](const controller::Datapath& dp) {
      return p->resolve(dp);
    };
    // The profile's (or router.table_capacity's) size wins per switch.
    cfg.routing_config.programmer.table_capacity.reset();
    // The TAP descriptors outlive this process in the store, so a restart
    // keeps the carriers; never fatal: without it the TAPs still persist.
    if (cfg.fd_store && cfg.router.persist_taps) {
      fd_store = fdstore::connect_or_spawn(cfg.fd_store_options);
    }
    // tapd shows routing every BFD packet through a switch; routing yields
    // to the sessions' silences (router.bfd_yield).
    if (cfg.routing && cfg.routing_config.bfd_yield > 0) {
      auto watch = std::make_shared<bfdwatch::BfdWatch>();
      cfg.router.bfd_watch = watch;
      cfg.routing_config.bfd_watch = watch;
    }
    bridge = std::make_unique<tapd::TapBridge>(io, cfg.router, fd_store.get());
    auto chain = std::make_unique<controller::AppChain>();
    chain->add(*bridge);  // first: a switch's TAPs exist before routing looks at them
    if (cfg.routing) {
      // One-table profiles: the FIB gets table 0 less tapd's flows there.
      cfg.routing_config.ingress_flows = [b = bridge.get()](std::uint64_t dpid) {
        return b->table0_flows(dpid);
      };
      router = std::make_unique<routing::Router>(io, cfg.routing_config);
      bridge->set_ports_listener([r = router.get()](std::uint64_t dpid, const std::string& ns,
                                                    const std::vector<tapd::TapPort>& taps) {
        routing::RouterPorts ports;
        for (const auto& t : taps) ports[t.ifindex] = routing::RouterPort{t.port_no, t.mac, t.vlan};
        r->set_ports(dpid, ns, std::move(ports));
      });
      // Where tapd learned a MAC inside a VLAN: routing sends routed traffic
      // for that neighbour straight to the port, tagged where it must be.
      bridge->set_l2_listener([r = router.get()](std::uint64_t dpid, int ifindex,
                                                 const openflow::MacAddress& mac,
                                                 std::optional<std::pair<std::uint32_t, bool>> where) {
        std::optional<routing::L2Location> loc;
        if (where) loc = routing::L2Location{where->first, where->second};
        r->set_l2_location(dpid, ifindex, mac, loc);
      });
      bridge->set_l2_ready_listener([r = router.get()](std::uint64_t dpid) { r->set_l2_ready(dpid); });
      chain->add(*router);
    }
    app = std::move(chain);
  } else {
    app = std::make_unique<apps::LearningSwitch>();
  }
  controller::Controller ctl(io, cfg.controller, *app);
  // Cluster mode: the roles are decided before the first switch connects.
  std::unique_ptr<daemon::ClusterDriver> cluster;
  if (cfg.cluster) {
    cluster = std::make_unique<daemon::ClusterDriver>(io, *cfg.cluster, ctl, cfg.router.carrier_hold);
    cluster->start();
  }
  try {
    ctl.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }

  // Stalls of the event loop (where every PACKET_IN and TAP frame waits) are
  // logged and exposed, told apart as tapflowd's own work or off the CPU.
  controller::LoopMonitor loop_monitor(io);
  loop_monitor.start();

  // Scrapes run on this event loop, where the counters live (no locks).
  std::unique_ptr<daemon::MetricsServer> metrics;
  if (cfg.metrics_listen) {
    std::vector<daemon::MetricsServer::Collector> collectors{
        [&ctl] { return daemon::controller_metrics(ctl); },
        [&loop_monitor] { return daemon::loop_metrics(loop_monitor.stats()); }};
    if (bridge) {
      collectors.push_back(
          [b = bridge.get()] { return daemon::tap_metrics(b->ports(), b->counters()); });
      collectors.push_back([b = bridge.get()] { return daemon::vlan_metrics(b->counters()); });
      collectors.push_back([b = bridge.get()] { return daemon::punt_metrics(b->punt()); });
    }
    if (router) {
      collectors.push_back(
          [r = router.get()] { return daemon::routing_metrics(r->counters(), r->switches()); });
    }
    if (cluster) {
      collectors.push_back([c = cluster.get()] { return daemon::cluster_metrics(c->metrics_view()); });
    }
    metrics = std::make_unique<daemon::MetricsServer>(io, daemon::parse_endpoint(*cfg.metrics_listen),
                                                      std::move(collectors));
    try {
      metrics->start();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  // systemd (Type=notify): READY once the listeners are up, STOPPING on the
  // way out (nothing without NOTIFY_SOCKET). Reloads (SIGHUP, as ExecReload
  // sends it, and tapflowctl reload) apply the log settings here and tapd's
  // switches, punt policers and carrier hold; the rest waits for a restart.
  daemon::ServiceNotifier service(io);
  daemon::Reloader reloader(io, service, config_file, config_text, cfg, cl,
                            [b = bridge.get()](const daemon::DaemonConfig& next, daemon::ReloadOutcome& out) {
                              if (b == nullptr) return;
                              auto r = b->reconfigure(next.router.switches, next.router.punt_policy,
                                                      next.router.carrier_hold);
                              out.applied.insert(out.applied.end(), r.applied.begin(), r.applied.end());
                              out.restart_needed.insert(out.restart_needed.end(), r.restart_needed.begin(),
                                                        r.restart_needed.end());
                              out.failed.insert(out.failed.end(), r.failed.begin(), r.failed.end());
                            });

  // The operator's socket (tapflowctl status / show / reload), on this event loop too.
  std::unique_ptr<daemon::ControlService> control_service;
  std::unique_ptr<daemon::ControlServer> control;
  if (cfg.control.enabled) {
    daemon::ControlSources sources{cfg.app, &ctl, bridge.get(), router.get(), profiles.get(), {}, {}};
    if (cluster) sources.cluster = [c = cluster.get()] { return c->metrics_view(); };
    sources.reload = [&reloader] { return reloader.reload().to_json(); };
    control_service = std::make_unique<daemon::ControlService>(std::move(sources));
    control = std::make_unique<daemon::ControlServer>(
        io, daemon::ControlServerOptions{cfg.control.socket, cfg.control.group},
        [s = control_service.get()](const std::string& line, const daemon::ControlServer::Reply& reply) {
          s->handle(line, reply);
        });
    try {
      control->start();
    } catch (const std::exception& e) {
      // Asked for explicitly: fatal. The default path: another tapflowd may
      // hold it; this one routes all the same.
      if (cfg.control.explicit_socket) {
        spdlog::error("{}", e.what());
        return 1;
      }
      spdlog::warn("{}: tapflowctl cannot reach this tapflowd (set control.socket or --control-socket)",
                   e.what());
      control.reset();
    }
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    service.stopping("stopping (signal " + std::to_string(sig) + ")");
    spdlog::info("signal {}: shutting down ({} connections)", sig, ctl.connection_count());
    if (cluster) {
      // Resign and revoke the lease first, so a standby takes over at once;
      // the switches stay connected until the new master has them.
      auto finish = std::make_shared<std::function<void()>>([&ctl, &io] {
        ctl.stop();
        io.stop();
      });
      // Bounded: an unreachable etcd must not keep us from exiting.
      auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::seconds(2));
      t->async_wait([finish, t](const boost::system::error_code& e) {
        if (!e) (*finish)();
      });
      cluster->stop([finish, t] {
        t->cancel();
        (*finish)();
      });
      return;
    }
    loop_monitor.stop();
    ctl.stop();
    io.stop();
  });
  // Planned switchover (cluster mode): SIGUSR1 hands every switch this
  // instance masters to another instance.
  boost::asio::signal_set handover(io, SIGUSR1);
  std::function<void()> wait_handover = [&] {
    handover.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (cluster) {
        cluster->hand_over_all();
      } else {
        spdlog::warn("SIGUSR1: hand-over needs cluster mode (a cluster: section); ignored");
      }
      wait_handover();
    });
  };
  wait_handover();
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::info("tapflowd running app {}", cfg.app);
  service.ready([&ctl, &cfg] {
    return "app " + cfg.app + ", " + std::to_string(ctl.connection_count()) +
           " switch connection(s)";
  });
  io.run();
  spdlog::info("tapflowd stopped");
  return 0;
}
