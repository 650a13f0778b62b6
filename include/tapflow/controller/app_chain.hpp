// AppChain: several applications on one controller (tapd and routing for the
// router), each receiving every event in the order they were added.
#pragma once

#include <vector>

#include "tapflow/controller/app.hpp"

namespace tapflow::controller {

class AppChain final : public App {
 public:
  // The apps must outlive the chain.
  void add(App& app) { apps_.push_back(&app); }

  void on_datapath_up(Datapath& dp) override {
    for (auto* a : apps_) a->on_datapath_up(dp);
  }
  void on_datapath_down(std::uint64_t dpid, const std::string& reason) override {
    for (auto* a : apps_) a->on_datapath_down(dpid, reason);
  }
  void on_datapath_standby(Datapath& dp) override {
    for (auto* a : apps_) a->on_datapath_standby(dp);
  }
  void on_port_status(Datapath& dp, const openflow::PortStatus& ps) override {
    for (auto* a : apps_) a->on_port_status(dp, ps);
  }
  void on_packet_in(Datapath& dp, const openflow::PacketIn& pi) override {
    for (auto* a : apps_) a->on_packet_in(dp, pi);
  }
  void on_flow_removed(Datapath& dp, const openflow::FlowRemoved& fr) override {
    for (auto* a : apps_) a->on_flow_removed(dp, fr);
  }
  void on_error(Datapath& dp, const openflow::OfError& error, std::uint32_t xid) override {
    for (auto* a : apps_) a->on_error(dp, error, xid);
  }
  void on_experimenter(Datapath& dp, const openflow::Experimenter& e) override {
    for (auto* a : apps_) a->on_experimenter(dp, e);
  }

 private:
  std::vector<App*> apps_;
};

}  // namespace tapflow::controller
