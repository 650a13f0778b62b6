// ClusterDriver: tapflowd's cluster mode. Joins each switch's etcd election
// (cluster::Mastership) and turns its results into OpenFlow roles
// (controller::Controller::become_master / become_standby).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config.hpp"
#include "metrics.hpp"
#include "tapflow/cluster/etcd_client.hpp"
#include "tapflow/cluster/mastership.hpp"
#include "tapflow/controller/controller.hpp"

namespace tapflow::daemon {

struct ClusterCounters {
  std::uint64_t takeovers = 0;        // became master of a switch
  std::uint64_t standdowns = 0;       // stopped being master (election, refusal, hand-over)
  std::uint64_t master_refused = 0;   // the switch refused us as master
  std::uint64_t handovers = 0;        // planned switchovers asked for (SIGUSR1)
};

class ClusterDriver final : public controller::RoleListener {
 public:
  // `carrier_hold`: how long a switch that left us may stay away before we
  // give up its election (a short hiccup keeps the mastership here).
  ClusterDriver(boost::asio::io_context& io, const ClusterConfig& config,
                controller::Controller& ctl, std::chrono::milliseconds carrier_hold);
  ~ClusterDriver() override;

  void start();
  // A clean shutdown: resign everything and revoke the lease, so another
  // instance takes over at once instead of after the lease TTL. `done`
  // once etcd answered (or gave up).
  void stop(std::function<void()> done);
  // Planned switchover: hand every switch this instance masters to another.
  void hand_over_all();

  void on_switch_connected(std::uint64_t dpid) override;
  void on_switch_disconnected(std::uint64_t dpid) override;
  void on_master_refused(std::uint64_t dpid, const std::string& why) override;

  const cluster::Mastership& mastership() const { return *mastership_; }
  const ClusterCounters& counters() const { return counters_; }
  const std::string& instance_id() const { return instance_id_; }
  // For /metrics: roles of the connected switches and the counters.
  ClusterMetricsView metrics_view() const;

 private:
  void on_role_change(const cluster::RoleChange& change);

  boost::asio::io_context& io_;
  controller::Controller& ctl_;
  std::chrono::milliseconds carrier_hold_;
  std::string instance_id_;
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::Mastership> mastership_;
  // Switches that left: their election is given up when the timer fires.
  std::map<std::uint64_t, std::unique_ptr<boost::asio::steady_timer>> away_;
  ClusterCounters counters_;
};

}  // namespace tapflow::daemon
