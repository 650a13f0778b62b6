// ClusterDriver: etcd elections -> OpenFlow roles, per switch.
#include "cluster_driver.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace tapflow::daemon {

namespace {
std::string default_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "tapflowd";
  return host;
}
}  // namespace

ClusterDriver::ClusterDriver(boost::asio::io_context& io, const ClusterConfig& config,
                             controller::Controller& ctl, std::chrono::milliseconds carrier_hold)
    : io_(io), ctl_(ctl), carrier_hold_(carrier_hold) {
  instance_id_ = config.instance_id.empty() ? default_instance_id() : config.instance_id;
  cluster::EtcdOptions eo;
  eo.endpoints = config.endpoints;
  eo.request_timeout = config.request_timeout;
  if (!config.ca_file.empty() || !config.cert_file.empty()) {
    cluster::EtcdTls tls;
    tls.ca_file = config.ca_file;
    tls.cert_file = config.cert_file;
    tls.key_file = config.key_file;
    eo.tls = tls;
  }
  etcd_ = std::make_unique<cluster::EtcdClient>(io_, eo);
  cluster::MastershipOptions mo;
  mo.instance_id = instance_id_;
  mo.prefix = config.prefix;
  mo.lease_ttl = config.lease_ttl;
  mastership_ = std::make_unique<cluster::Mastership>(
      io_, *etcd_, mo, [this](const cluster::RoleChange& c) { on_role_change(c); });
  ctl_.set_role_listener(this);
}

ClusterDriver::~ClusterDriver() { ctl_.set_role_listener(nullptr); }

void ClusterDriver::start() {
  spdlog::info("cluster: instance {}, mastership of each switch elected in etcd", instance_id_);
  mastership_->start();
}

void ClusterDriver::stop(std::function<void()> done) {
  for (auto& [dpid, t] : away_) t->cancel();
  away_.clear();
  mastership_->stop(std::move(done));
}

void ClusterDriver::hand_over_all() {
  ++counters_.handovers;
  spdlog::info("cluster: planned switchover: handing the switches this instance masters to another");
  mastership_->hand_over_all();
}

void ClusterDriver::on_switch_connected(std::uint64_t dpid) {
  if (auto it = away_.find(dpid); it != away_.end()) {
    it->second->cancel();
    away_.erase(it);
  }
  // The election's result so far decides the role at once: a switch that
  // reconnects to its master gets it back without waiting for etcd.
  if (mastership_->role(dpid) == cluster::Role::kMaster) {
    ctl_.become_master(dpid, mastership_->generation(dpid));
  } else {
    ctl_.become_standby(dpid, mastership_->leader_generation(dpid));
  }
  mastership_->join(dpid);
}

void ClusterDriver::on_switch_disconnected(std::uint64_t dpid) {
  // A hiccup must not move the switch: keep competing for the carrier hold,
  // then give the election up so that an instance that still reaches the
  // switch can take it.
  auto& t = away_[dpid];
  if (!t) t = std::make_unique<boost::asio::steady_timer>(io_);
  t->expires_after(carrier_hold_);
  t->async_wait([this, dpid](const boost::system::error_code& ec) {
    if (ec) return;
    away_.erase(dpid);
    if (ctl_.find(dpid) != nullptr) return;
    spdlog::info("cluster: dpid {:016x} away for {} ms: leaving its election", dpid,
                 carrier_hold_.count());
    mastership_->leave(dpid);
  });
}

void ClusterDriver::on_master_refused(std::uint64_t dpid, const std::string& why) {
  ++counters_.master_refused;
  ++counters_.standdowns;
  spdlog::warn("cluster: dpid {:016x}: {}; resigning its election", dpid, why);
  mastership_->hand_over(dpid);
}

ClusterMetricsView ClusterDriver::metrics_view() const {
  ClusterMetricsView v;
  v.instance = instance_id_;
  v.etcd_reachable = mastership_->etcd_reachable();
  for (const controller::Datapath* dp : ctl_.datapaths()) {
    ClusterMetricsView::Switch sw;
    sw.dpid = dp->datapath_id();
    sw.role = ctl_.role(sw.dpid);
    sw.generation = sw.role == controller::SwitchRole::kStandby
                        ? mastership_->leader_generation(sw.dpid)
                        : mastership_->generation(sw.dpid);
    sw.leader = mastership_->leader(sw.dpid);
    v.switches.push_back(std::move(sw));
  }
  const auto& m = mastership_->counters();
  v.elections_won = m.elections_won;
  v.stepped_down = m.stepped_down;
  v.lease_grants = m.lease_grants;
  v.keepalive_failures = m.keepalive_failures;
  v.etcd_errors = m.etcd_errors;
  v.master_refused = counters_.master_refused;
  v.handovers = counters_.handovers;
  const auto& c = ctl_.counters();
  v.role_requests = c.role_requests;
  v.role_errors = c.role_errors;
  v.masters_confirmed = c.masters_confirmed;
  v.dropped_not_master = c.dropped_not_master;
  v.last_master_confirm_us = c.last_master_confirm_us;
  return v;
}

void ClusterDriver::on_role_change(const cluster::RoleChange& c) {
  if (c.role == cluster::Role::kMaster) {
    ++counters_.takeovers;
    spdlog::info("cluster: elected master of dpid {:016x} (generation {})", c.dpid, c.generation);
    ctl_.become_master(c.dpid, c.generation);
  } else {
    if (ctl_.role(c.dpid) != controller::SwitchRole::kStandby) ++counters_.standdowns;
    spdlog::info("cluster: standby for dpid {:016x} (master {}, generation {}){}", c.dpid,
                 c.leader.empty() ? "unknown" : c.leader, c.generation,
                 c.reason.empty() ? "" : ": " + c.reason);
    ctl_.become_standby(c.dpid, c.generation);
  }
}

}  // namespace tapflow::daemon
