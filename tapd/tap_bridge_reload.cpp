// TapBridge::reconfigure: a new configuration applied to running switches,
// touching only what changed (tap_bridge.hpp).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "tap_bridge_state.hpp"
#include "tapflow/tapd/punt_flows.hpp"
#include "tapflow/tapd/tap_bridge.hpp"

namespace tapflow::tapd {

using namespace openflow;

namespace {

const VlanConfig* find_vlan(const SwitchConfig& c, std::uint16_t id) {
  for (const auto& v : c.vlans) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

bool contains(const std::vector<netns::IpPrefix>& list, const netns::IpPrefix& p) {
  return std::find(list.begin(), list.end(), p) != list.end();
}

std::string join_refs(const std::vector<PortRef>& refs) {
  std::string out;
  for (const auto& r : refs) {
    out += (out.empty() ? "" : ",") + (r.port_no ? std::to_string(*r.port_no) : r.port_name.value_or("?"));
  }
  return out.empty() ? "-" : out;
}

// The switch ports whose membership of a VLAN changed between `before` and
// `after` (joined, left, tagged <-> untagged); nullopt if a member cannot be
// told apart (a name the switch does not have, or no switch): all of them.
std::optional<std::set<std::uint32_t>> changed_members(const VlanConfig& before, const VlanConfig& after,
                                        const std::vector<openflow::Port>& ports) {
  std::map<std::uint32_t, int> b, a;  // port -> 1 untagged, 2 tagged
  bool unknown = ports.empty();
  auto resolve = [&](const std::vector<PortRef>& refs, int kind, std::map<std::uint32_t, int>& out) {
    for (const PortRef& r : refs) {
      bool found = false;
      for (const auto& p : ports) {
        if (r.matches(p.port_no, p.name)) {
          out[p.port_no] |= kind;
          found = true;
        }
      }
      unknown = unknown || !found;
    }
  };
  resolve(before.untagged, 1, b);
  resolve(before.tagged, 2, b);
  resolve(after.untagged, 1, a);
  resolve(after.tagged, 2, a);
  if (unknown) return std::nullopt;
  std::set<std::uint32_t> out;
  for (const auto& [no, kind] : b) {
    if (auto it = a.find(no); it == a.end() || it->second != kind) out.insert(no);
  }
  for (const auto& [no, kind] : a) {
    if (!b.contains(no)) out.insert(no);
  }
  return out;
}

}  // namespace

ReconfigureReport TapBridge::reconfigure(std::vector<SwitchConfig> switches, const PuntPolicy& punt,
                                         std::chrono::milliseconds carrier_hold) {
  ReconfigureReport report;
  // A switch tapd has set up keeps, until a restart, what only a new
  // namespace or a new pipeline could change.
  for (const auto& [dpid, sw] : switches_) {
    const SwitchConfig& now = sw->config;
    SwitchConfig* listed = find_switch(switches, dpid);
    SwitchConfig next = listed != nullptr ? *listed : SwitchConfig{};
    next.dpid = dpid;
    const std::string label = switch_name(dpid);
    bool kept = false;
    if (const std::string ns = namespace_name(&next, dpid, config_.netns_prefix); ns != sw->ns.name()) {
      report.restart_needed.push_back(fmt::format(
          "{}: namespace {} (the config now gives {}): a switch's namespace changes at restart", label,
          sw->ns.name(), ns));
      next.name = now.name;
      next.netns = now.netns;
      kept = true;
    }
    if (next.mac_table_size != now.mac_table_size || next.mac_aging != now.mac_aging) {
      report.restart_needed.push_back(fmt::format(
          "{}: mac_table_size {} and mac_aging {} s stay (the config now gives {} and {} s) until a restart",
          label, now.mac_table_size, now.mac_aging, next.mac_table_size, next.mac_aging));
      next.mac_table_size = now.mac_table_size;
      next.mac_aging = now.mac_aging;
      kept = true;
    }
    if (sw->dp != nullptr && now.vlans.empty() != next.vlans.empty()) {
      report.restart_needed.push_back(fmt::format(
          "{}: VLANs {} the switch's pipeline (per-port TAPs <-> VLAN TAPs): the running VLANs stay "
          "until a restart",
          label, next.vlans.empty() ? "removed: the last one leaving changes" : "added: the first one changes"));
      next.vlans = now.vlans;
      kept = true;
    }
    if (!kept) continue;
    if (listed != nullptr) {
      *listed = next;
    } else {
      switches.push_back(next);
    }
  }

  // Switches tapd has not seen yet: their entries take effect when they connect.
  for (const auto& c : switches) {
    if (switches_.contains(c.dpid)) continue;
    const SwitchConfig* old = find_switch(config_.switches, c.dpid);
    if (old == nullptr) {
      report.applied.push_back(fmt::format("switch {:016x} ({}): added, set up when it connects", c.dpid,
                                           c.name.empty() ? "no name" : c.name));
    } else if (!(*old == c)) {
      report.applied.push_back(fmt::format("switch {:016x}: changed, applied when it connects", c.dpid));
    }
  }
  for (const auto& c : config_.switches) {
    if (!switches_.contains(c.dpid) && find_switch(switches, c.dpid) == nullptr) {
      report.applied.push_back(fmt::format("switch {:016x}: removed from the config", c.dpid));
    }
  }

  const bool punt_changed = punt != config_.punt_policy;
  for (std::size_t c = 0; c < kPuntClasses; ++c) {
    const auto& a = config_.punt_policy.classes[c];
    const auto& b = punt.classes[c];
    if (a == b) continue;
    report.applied.push_back(fmt::format("punt_policer.{}: {} pkt/s (burst {}) -> {} pkt/s (burst {})",
                                         punt_class_name(static_cast<PuntClass>(c)), a.rate, a.burst,
                                         b.rate, b.burst));
  }
  if (carrier_hold != config_.carrier_hold) {
    report.applied.push_back(fmt::format("carrier_hold: {} s -> {} s", config_.carrier_hold.count() / 1000.0,
                                         carrier_hold.count() / 1000.0));
  }

  config_.switches = std::move(switches);
  config_.punt_policy = punt;
  config_.carrier_hold = carrier_hold;
  for (auto& [dpid, sw] : switches_) {
    const SwitchConfig before = sw->config;
    const SwitchConfig* c = config_for(dpid);
    sw->config = c != nullptr ? *c : SwitchConfig{};
    sw->config.dpid = dpid;
    if (before.name != sw->config.name) {
      report.applied.push_back(fmt::format("switch {:016x}: name '{}' -> '{}'", dpid, before.name,
                                           sw->config.name));
    }
    const bool ports = before.ports != sw->config.ports;
    const bool vlans = before.vlans != sw->config.vlans;
    if (ports) reconfigure_ports(*sw, before, report);
    if (vlans) reconfigure_vlans(*sw, before, report);
    if (punt_changed) reconfigure_punt(*sw);
    if (ports || vlans) sync_punts(*sw);
  }
  for (const auto& line : report.applied) spdlog::info("reload: {}", line);
  for (const auto& line : report.restart_needed) spdlog::warn("reload: needs a restart: {}", line);
  for (const auto& line : report.failed) spdlog::error("reload: failed: {}", line);
  return report;
}

void TapBridge::reconfigure_ports(Switch& sw, const SwitchConfig& before, ReconfigureReport& report) {
  std::vector<std::uint32_t> numbers;
  for (const auto& [no, port] : sw.ports) numbers.push_back(no);
  for (const std::uint32_t no : numbers) {
    auto it = sw.ports.find(no);
    if (it == sw.ports.end()) continue;
    Port& port = *it->second;
    const PortConfig* b = find_port_config(before, no, port.port_name);
    const PortConfig* a = find_port_config(sw.config, no, port.port_name);
    if (b == a || (b != nullptr && a != nullptr && *b == *a)) continue;
    const std::string what = fmt::format("{}: port {} ({})", switch_name(sw.dpid), no, port.port_name);
    if (a != nullptr && a->interface && *a->interface != port.tap.name()) {
      // A TAP's name changes with the TAP: this port's sessions start over.
      report.applied.push_back(fmt::format("{}: TAP {} replaced by {}", what, port.tap.name(), *a->interface));
      remove_port(sw, no, "reload: the TAP's name changed");
      if (sw.dp != nullptr) {
        for (const auto& p : sw.dp->ports()) {
          if (p.port_no == no) add_or_update_port(sw, p);
        }
      }
      continue;
    }
    // Without a configured MAC the TAP has the switch port's.
    MacAddress hw = port.mac_configured ? MacAddress{} : port.mac;
    if (sw.dp != nullptr) {
      for (const auto& p : sw.dp->ports()) {
        if (p.port_no == no) hw = p.hw_addr;
      }
    }
    static const std::vector<netns::IpPrefix> kNone;
    retune_tap(sw, port, what, b != nullptr ? b->mtu : std::nullopt, a != nullptr ? a->mtu : std::nullopt,
               a != nullptr ? a->mac : std::nullopt, hw, b != nullptr ? b->addresses : kNone,
               a != nullptr ? a->addresses : kNone, report);
    port.mac_configured = a != nullptr && a->mac.has_value();
  }
}

void TapBridge::retune_tap(Switch& sw, Port& port, const std::string& what,
                           std::optional<unsigned> mtu_before, std::optional<unsigned> mtu_after,
                           std::optional<MacAddress> mac_after, const MacAddress& default_mac,
                           const std::vector<netns::IpPrefix>& before,
                           const std::vector<netns::IpPrefix>& after, ReconfigureReport& report) {
  const int ifindex = port.tap.ifindex();
  // Each change on its own: one the kernel refuses does not stop the others.
  auto attempt = [&](const std::string& change, const std::function<void()>& fn) {
    try {
      fn();
      report.applied.push_back(what + ": " + change);
    } catch (const std::exception& e) {
      ++counters_.setup_errors;
      report.failed.push_back(what + ": " + change + ": " + e.what());
    }
  };
  const unsigned mb = mtu_before.value_or(config_.mtu), ma = mtu_after.value_or(config_.mtu);
  if (ma != mb) {
    attempt(fmt::format("MTU {} -> {}", mb, ma), [&] { sw.links->set_mtu(ifindex, ma); });
  }
  const MacAddress mac = mac_after.value_or(default_mac);
  if (!mac.is_zero() && mac != port.mac) {
    attempt(fmt::format("MAC {} -> {}", port.mac.to_string(), mac.to_string()), [&] {
      sw.links->set_mac(ifindex, mac);
      port.mac = mac;
    });
  }
  // Only addresses the config gave are removed; others (an operator's) stay.
  for (const auto& p : before) {
    if (!contains(after, p)) {
      attempt("address " + p.to_string() + " removed", [&] { sw.links->del_address(ifindex, p); });
    }
  }
  for (const auto& p : after) {
    if (!contains(before, p)) {
      attempt("address " + p.to_string() + " added", [&] { sw.links->add_address(ifindex, p); });
    }
  }
}

void TapBridge::reconfigure_vlans(Switch& sw, const SwitchConfig& before, ReconfigureReport& report) {
  const std::string label = switch_name(sw.dpid);
  // VLANs gone, or renamed (a TAP's name changes with the TAP).
  for (const VlanConfig& b : before.vlans) {
    const VlanConfig* a = find_vlan(sw.config, b.id);
    if (a != nullptr && a->name == b.name) continue;
    if (a == nullptr) {
      // Its hosts' flows go with it; the flows and groups of the VLAN
      // follow in sync_punts.
      drop_learned(sw, sw.macs.flush_vlan(b.id));
      report.applied.push_back(fmt::format("{}: VLAN {} ({}) removed", label, b.id, b.name));
    } else {
      report.applied.push_back(
          fmt::format("{}: VLAN {}: TAP {} replaced by {}", label, b.id, b.name, a->name));
    }
    remove_vlan_tap(sw, b.id, a == nullptr ? "reload: no longer configured" : "reload: renamed");
  }
  for (const VlanConfig& a : sw.config.vlans) {
    const VlanConfig* b = find_vlan(before, a.id);
    if (b == nullptr) {
      report.applied.push_back(fmt::format("{}: VLAN {} ({}) added", label, a.id, a.name));
      continue;  // ensure_vlan_taps makes its TAP
    }
    if (*b == a) continue;
    const std::string what = fmt::format("{}: VLAN {} ({})", label, a.id, a.name);
    if (auto vt = sw.vlan_taps.find(a.id); vt != sw.vlan_taps.end() && b->name == a.name) {
      retune_tap(sw, *vt->second, what, b->mtu, a.mtu, a.mac, default_vlan_mac(sw.dpid, a.id),
                 b->addresses, a.addresses, report);
    }
    if (b->untagged != a.untagged || b->tagged != a.tagged) {
      // Hosts learned on a port that left the VLAN, or now carries it
      // tagged instead of untagged (or back), are learned again; the
      // VLAN's other hosts stay.
      const auto moved = changed_members(*b, a, sw.dp != nullptr ? sw.dp->ports() : std::vector<openflow::Port>{});
      drop_learned(sw, sw.macs.flush_if([&moved, vid = a.id](std::uint16_t v, const MacTable::Entry& e) {
        return v == vid && (!moved || moved->contains(e.where.port_no));
      }));
      report.applied.push_back(fmt::format("{}: members untagged {} tagged {} -> untagged {} tagged {}", what,
                                           join_refs(b->untagged), join_refs(b->tagged),
                                           join_refs(a.untagged), join_refs(a.tagged)));
    }
  }
  if (sw.dp == nullptr) return;  // the rest when the switch is back (on_datapath_up)
  resolve_vlans(sw, true);
  sync_ports(sw);  // a port leaving its VLANs gets its own TAP again; a new member loses its own
  ensure_vlan_taps(sw);
  update_vlan_carriers(sw);
}

void TapBridge::reconfigure_punt(Switch& sw) {
  for (std::size_t c = 0; c < kPuntClasses; ++c) sw.policers[c].reconfigure(config_.punt_policy.classes[c]);
  if (sw.dp == nullptr || sw.standby || !sw.dp->is_up() || sw.dp->version() != kVersion13) return;
  bool any = false;
  for (const auto& c : config_.punt_policy.classes) any = any || c.rate != 0;
  if (any) {
    // Reads the switch's meters, modifies those that differ, then the punt
    // flows (a class whose rate became 0 loses its meter instruction).
    setup_meters(sw);
  } else if (sw.meters) {
    sw.meters.reset();
    sync_punts(sw);
  }
}

}  // namespace tapflow::tapd
