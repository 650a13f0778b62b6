#include "tapflow/apps/learning_switch.hpp"

#include <spdlog/spdlog.h>

#include "tapflow/openflow/packet.hpp"

namespace tapflow::apps {

using namespace tapflow::openflow;

LearningSwitch::LearningSwitch(LearningSwitchOptions options) : options_(options) {
  auto& flow_ = std::get<FlowMod>(flow_msg_.body);
  auto& out_ = std::get<PacketOut>(out_msg_.body);
  flow_.command = flow_mod_command::kAdd;
  flow_.cookie = options_.cookie;
  flow_.idle_timeout = options_.idle_timeout;
  flow_.priority = options_.priority;
  flow_.match.add(oxm::in_port(0)).add(oxm::eth_src(MacAddress{})).add(oxm::eth_dst(MacAddress{}));
  flow_.instructions = {instruction::ApplyActions{{action::Output{0, 0}}}};
  out_.actions = {action::Output{0, 0}};
}

std::uint32_t LearningSwitch::port_of(std::uint64_t dpid, const MacAddress& mac) const {
  auto t = tables_.find(dpid);
  if (t == tables_.end()) return 0;
  auto it = t->second.find(mac.to_u64());
  return it == t->second.end() ? 0 : it->second;
}

void LearningSwitch::on_datapath_up(controller::Datapath& dp) {
  tables_[dp.datapath_id()].clear();
  // A fresh start: remove the flows an earlier run of this app left behind
  // (they may point at ports whose hosts have moved). 1.3 selects them by
  // cookie; 1.0 cannot, so there every flow goes.
  FlowMod del;
  del.command = flow_mod_command::kDelete;
  del.table_id = kTableAll;
  del.cookie = options_.cookie;
  del.cookie_mask = ~0ULL;
  (void)dp.send(std::move(del));
}

void LearningSwitch::on_datapath_down(std::uint64_t dpid, const std::string& /*reason*/) {
  tables_.erase(dpid);
}

void LearningSwitch::forget_port(controller::Datapath& dp, MacTable& table, std::uint32_t port) {
  std::erase_if(table, [port](const auto& kv) { return kv.second == port; });
  FlowMod del;
  del.command = flow_mod_command::kDelete;
  del.table_id = kTableAll;
  del.out_port = port;
  (void)dp.send(std::move(del));
}

void LearningSwitch::on_port_status(controller::Datapath& dp, const PortStatus& ps) {
  auto& table = tables_[dp.datapath_id()];
  const bool gone = ps.reason == port_reason::kDelete ||
                    (ps.desc.state & port_state::kLinkDown) != 0 ||
                    (ps.desc.config & port_config::kPortDown) != 0;
  if (gone) forget_port(dp, table, ps.desc.port_no);
}

void LearningSwitch::on_packet_in(controller::Datapath& dp, const PacketIn& pi) {
  ++counters_.packet_ins;
  auto eth = packet::EthernetView::parse(pi.data);
  if (!eth) {
    ++counters_.ignored;
    return;
  }
  const MacAddress src = eth->src();
  const MacAddress dst = eth->dst();
  const std::uint32_t in_port = pi.in_port;
  auto& table = tables_[dp.datapath_id()];

  if (!src.is_multicast()) {
    if (table.size() >= options_.max_macs_per_datapath) table.clear();
    auto [it, inserted] = table.try_emplace(src.to_u64(), in_port);
    if (!inserted && it->second != in_port) {
      // The host moved: flows towards it lead to the old port.
      ++counters_.moves;
      it->second = in_port;
      FlowMod del;
      del.command = flow_mod_command::kDelete;
      del.table_id = kTableAll;
      del.match.add(oxm::eth_dst(src));
      (void)dp.send(std::move(del));
    }
  }

  std::uint32_t out_port = port::kFlood;
  if (!dst.is_multicast()) {
    auto it = table.find(dst.to_u64());
    if (it != table.end()) out_port = it->second;
  }
  if (out_port == in_port) {
    ++counters_.ignored;  // would go back where it came from
    return;
  }

  auto& flow_ = std::get<FlowMod>(flow_msg_.body);
  auto& out_ = std::get<PacketOut>(out_msg_.body);
  if (out_port != port::kFlood) {
    ++counters_.flows_installed;
    flow_.match.fields[0].value = oxm::in_port(in_port).value;
    std::copy(src.octets.begin(), src.octets.end(), flow_.match.fields[1].value.begin());
    std::copy(dst.octets.begin(), dst.octets.end(), flow_.match.fields[2].value.begin());
    auto& apply = std::get<instruction::ApplyActions>(flow_.instructions[0]);
    std::get<action::Output>(apply.actions[0]).port = out_port;
    flow_.buffer_id = pi.buffer_id;
    flow_msg_.version = dp.version();
    flow_msg_.xid = dp.next_xid();
    (void)dp.send(flow_msg_);
    // A buffered packet is released by the FLOW_MOD itself.
    if (pi.buffer_id != kNoBuffer) return;
  } else {
    ++counters_.floods;
  }
  out_.buffer_id = pi.buffer_id;
  out_.in_port = in_port;
  std::get<action::Output>(out_.actions[0]).port = out_port;
  if (pi.buffer_id == kNoBuffer) {
    out_.data.assign(pi.data.begin(), pi.data.end());
  } else {
    out_.data.clear();
  }
  out_msg_.version = dp.version();
  out_msg_.xid = dp.next_xid();
  (void)dp.send(out_msg_);
}

}  // namespace tapflow::apps
