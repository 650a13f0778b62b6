// App: what the controller tells applications (the learning switch, the
// router). Applications see the version-neutral model only, never wire bytes.
#pragma once

#include <cstdint>
#include <string>

#include "tapflow/controller/connection.hpp"
#include "tapflow/openflow/messages.hpp"

namespace tapflow::controller {

class App {
 public:
  virtual ~App() = default;
  // The handshake completed: features, ports and the negotiated version are
  // known. A switch that reconnects with the same datapath id first gets
  // on_datapath_down for its old connection.
  virtual void on_datapath_up(Datapath& dp) { (void)dp; }
  virtual void on_datapath_down(std::uint64_t dpid, const std::string& reason) {
    (void)dpid;
    (void)reason;
  }
  // Roles (several controllers share the switch; tapflowd's cluster mode):
  // the switch is connected but this controller is not its master. Called
  // instead of on_datapath_up when a standby connects, and after
  // on_datapath_up when the mastership is lost. From then on the app must
  // not program the switch (the connection refuses it anyway) and gets no
  // PACKET_IN; it may prepare (namespaces, TAPs without carrier) and still
  // sees on_port_status. on_datapath_up follows if it becomes master;
  // on_datapath_down if the connection goes. The default treats it as down.
  virtual void on_datapath_standby(Datapath& dp) {
    on_datapath_down(dp.datapath_id(), "another controller is the switch's master");
  }
  // The port list of `dp` is already updated when this is called.
  virtual void on_port_status(Datapath& dp, const openflow::PortStatus& ps) {
    (void)dp;
    (void)ps;
  }
  virtual void on_packet_in(Datapath& dp, const openflow::PacketIn& pi) {
    (void)dp;
    (void)pi;
  }
  virtual void on_flow_removed(Datapath& dp, const openflow::FlowRemoved& fr) {
    (void)dp;
    (void)fr;
  }
  // An ERROR that answers no pending request (e.g. a FLOW_MOD that failed):
  // `xid` is the failed message's, `error` in 1.3 numbering.
  virtual void on_error(Datapath& dp, const openflow::OfError& error, std::uint32_t xid) {
    (void)dp;
    (void)error;
    (void)xid;
  }
  virtual void on_experimenter(Datapath& dp, const openflow::Experimenter& e) {
    (void)dp;
    (void)e;
  }
};

}  // namespace tapflow::controller
