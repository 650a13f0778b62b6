// LearningSwitch: the reference application (OpenFlow 1.0 and 1.3). Learns
// source MACs from packet-ins, installs a flow per (in_port, src, dst) once the
// destination is known, floods unknown destinations, and follows hosts that
// move and ports that go away.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "tapflow/controller/app.hpp"

namespace tapflow::apps {

struct LearningSwitchOptions {
  std::uint16_t idle_timeout = 300;  // seconds; 0 = never
  std::uint16_t priority = 100;
  std::size_t max_macs_per_datapath = 65536;  // bounded memory; beyond it the table restarts
  std::uint64_t cookie = 0x4c534c53;          // "LSLS": names our flows
};

struct LearningSwitchCounters {
  std::uint64_t packet_ins = 0, flows_installed = 0, floods = 0, moves = 0, ignored = 0;
};

class LearningSwitch final : public controller::App {
 public:
  explicit LearningSwitch(LearningSwitchOptions options = {});

  void on_datapath_up(controller::Datapath& dp) override;
  void on_datapath_down(std::uint64_t dpid, const std::string& reason) override;
  void on_port_status(controller::Datapath& dp, const openflow::PortStatus& ps) override;
  void on_packet_in(controller::Datapath& dp, const openflow::PacketIn& pi) override;

  const LearningSwitchCounters& counters() const { return counters_; }
  // Port learned for `mac` on `dpid`, or 0.
  std::uint32_t port_of(std::uint64_t dpid, const openflow::MacAddress& mac) const;

 private:
  using MacTable = std::unordered_map<std::uint64_t, std::uint32_t>;  // MAC -> port
  void forget_port(controller::Datapath& dp, MacTable& table, std::uint32_t port);

  LearningSwitchOptions options_;
  std::unordered_map<std::uint64_t, MacTable> tables_;  // by datapath id
  LearningSwitchCounters counters_;
  // Reused messages: the hot path builds nothing once warmed up.
  openflow::Message flow_msg_{openflow::kVersion13, 0, openflow::FlowMod{}};
  openflow::Message out_msg_{openflow::kVersion13, 0, openflow::PacketOut{}};
};

}  // namespace tapflow::apps
