#include "tapflow/tapd/tap_bridge.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>

#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/netns/link_control.hpp"
#include "tapflow/netns/namespace.hpp"
#include "tapflow/netns/netlink_watcher.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/tapd/punt_flows.hpp"
#include "tapflow/tapd/tap_device.hpp"
#include "tapflow/tapd/vlan_switch.hpp"
#include "tap_bridge_state.hpp"

namespace tapflow::tapd {

namespace asio = boost::asio;
using controller::Clock;
using controller::Datapath;
using controller::SendPriority;
using namespace openflow;

namespace {

std::uint64_t ns_since(Clock::time_point t0) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

std::string dpid_hex(std::uint64_t dpid) { return fmt::format("{:016x}", dpid); }

// The alias marks a TAP as ours, so a restarted tapflowd finds its TAPs again
// (and removes those whose port is gone) without touching other interfaces.
std::string alias_prefix(std::uint64_t dpid) { return "tapflow dpid=" + dpid_hex(dpid) + " port="; }

std::string vlan_alias(std::uint64_t dpid, std::uint16_t vid) {
  return "tapflow dpid=" + dpid_hex(dpid) + " vlan=" + std::to_string(vid);
}

std::uint64_t field_uint(const OxmField& f) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < f.value.size(); ++i) v = (v << 8) | f.value[i];
  return v;
}

std::string store_key(const netns::NetNamespace& ns, const std::string& ifname) {
  return ns.name() + "/" + ifname;
}

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Calls fn with each part of type T of a multipart reply.
template <class T, class Fn>
void for_each_part(const std::vector<Message>& replies, Fn&& fn) {
  for (const Message& m : replies) {
    const auto* mp = std::get_if<MultipartReply>(&m.body);
    if (const auto* part = mp != nullptr ? std::get_if<T>(&mp->body) : nullptr) fn(*part);
  }
}

// A router forwards: the kernel must route the packets the switch sends it
// (first packets before a flow exists, and what the FIB leaves to the kernel).
// /proc/sys/net shows the namespace of the thread that opens the file.
void enable_forwarding(const netns::NetNamespace& ns, const std::string& log) {
  netns::NamespaceScope in(ns);
  for (const char* path : {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding",
                           "/proc/sys/net/ipv6/conf/default/forwarding"}) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "1\n", 2) != 2) {
      spdlog::warn("{} cannot enable forwarding ({}): {}", log, path, std::strerror(errno));
    }
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace

// ---------------------------------------------------------------- LatencyStats

void LatencyStats::record(std::uint64_t ns) {
  ++count;
  sum_ns += ns;
  max_ns = std::max(max_ns, ns);
  const unsigned b = ns == 0 ? 0 : static_cast<unsigned>(std::bit_width(ns) - 1);
  ++buckets[std::min<std::size_t>(b, buckets.size() - 1)];
}

std::uint64_t LatencyStats::quantile_ns(double q) const {
  if (count == 0) return 0;
  const auto want = static_cast<std::uint64_t>(q * static_cast<double>(count) + 0.999999);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= want) return std::min<std::uint64_t>(std::uint64_t{2} << i, max_ns);
  }
  return max_ns;
}

// ---------------------------------------------------------------- setup

TapBridge::TapBridge(asio::io_context& io, TapBridgeConfig config, fdstore::FdStore* store)
    : io_(io), config_(std::move(config)), store_(store), startup_hold_(io) {
  if (store_ == nullptr) return;
  for (auto& e : store_->list()) stored_.insert_or_assign(std::move(e.key), std::move(e.fd));
  counters_.fdstore_connected = store_->connected();
  if (stored_.empty()) return;
  // Taken over as they are (with carrier if they had it); a switch that
  // does not come back within the hold takes its TAPs' carrier with it.
  ++counters_.carrier_holds;
  spdlog::info(
      "fd store: {} TAP descriptors kept from before; carrier hold {} s for their switches",
      stored_.size(), seconds(config_.carrier_hold));
  startup_hold_.expires_after(config_.carrier_hold);
  startup_hold_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) end_startup_hold();
  });
}

void TapBridge::end_startup_hold() {
  if (stored_.empty()) return;
  ++counters_.carrier_hold_expiries;
  for (const auto& [key, fd] : stored_) {
    // Through the stored descriptor, which stays stored: the TAP and its
    // ifindex remain for when the switch comes.
    int off = 0;
    if (::ioctl(fd.get(), TUNSETCARRIER, &off) != 0) {
      spdlog::warn("fd store: TAP {}: carrier off: {}", key, std::strerror(errno));
    } else {
      spdlog::info("carrier hold expired: TAP {} (its switch has not connected) carrier off", key);
    }
  }
}

TapBridge::~TapBridge() {
  // With the store keeping the descriptors, a planned restart is invisible:
  // the carriers stay as they are. Without one, closing drops them anyway;
  // saying so first is what the routing daemons have always seen.
  const bool keep_carrier = store_ != nullptr && store_->connected();
  for (auto& [dpid, sw] : switches_) {
    if (sw->watcher) sw->watcher->stop();
    if (keep_carrier) continue;
    auto carrier_off = [](Port& port) {
      if (!port.tap.is_open()) return;
      try {
        port.tap.set_carrier(false);
      } catch (const std::exception&) {
        // Closing the descriptor drops the carrier anyway.
      }
    };
    for (auto& [no, port] : sw->ports) carrier_off(*port);
    for (auto& [vid, port] : sw->vlan_taps) carrier_off(*port);
  }
}

const SwitchConfig* TapBridge::config_for(std::uint64_t dpid) const {
  return find_switch(config_.switches, dpid);
}

std::string TapBridge::namespace_for(std::uint64_t dpid) const {
  return namespace_name(config_for(dpid), dpid, config_.netns_prefix);
}

std::string TapBridge::switch_name(std::uint64_t dpid) const {
  const SwitchConfig* c = config_for(dpid);
  return c != nullptr && !c->name.empty() ? c->name : dpid_hex(dpid);
}

TapBridge::Switch& TapBridge::switch_for(Datapath& dp) {
  const std::uint64_t dpid = dp.datapath_id();
  if (auto it = switches_.find(dpid); it != switches_.end()) return *it->second;

  const std::string ns_name = namespace_for(dpid);
  auto sw = std::make_unique<Switch>(netns::NetNamespace::open_or_create(ns_name));
  sw->dpid = dpid;
  if (const SwitchConfig* c = config_for(dpid)) sw->config = *c;
  sw->config.dpid = dpid;
  // Learned flows carry the entry's generation in their cookie; starting
  // from the clock keeps this process's apart from a predecessor's, whose
  // flows are taken back (restore_learned) with their own generations when the switch comes up.
  sw->macs = MacTable(sw->config.mac_table_size,
                      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()));
  sw->log = fmt::format("dpid={} netns={}", dpid_hex(dpid), ns_name);
  sw->meter_timer = std::make_unique<asio::steady_timer>(io_);
  for (std::size_t c = 0; c < kPuntClasses; ++c) sw->policers[c] = TokenBucket(config_.punt_policy.classes[c]);
  sw->hold_timer = std::make_unique<asio::steady_timer>(io_);
  sw->links = std::make_unique<netns::LinkControl>(sw->ns);
  if (auto lo = sw->links->ifindex("lo")) sw->links->set_up(*lo, true);
  if (config_.forwarding) enable_forwarding(sw->ns, sw->log);
  spdlog::info("{} namespace {}", sw->log, sw->ns.created() ? "created" : "reused");

  Switch* raw = sw.get();
  sw->watcher = std::make_unique<netns::NetlinkWatcher>(
      io_, sw->ns, netns::NetlinkWatcher::kLinks | netns::NetlinkWatcher::kAddresses,
      [this, raw](const netns::KernelState&, const netns::Changes& ch) {
        if (ch.full_resync || !ch.addresses.empty() || !ch.links.empty()) sync_punts(*raw);
      });
  sw->watcher->start();
  auto& ref = *sw;
  switches_.emplace(dpid, std::move(sw));
  return ref;
}

bool TapBridge::wanted(const openflow::Port& p) const {
  if (p.port_no == port::kLocal) return config_.local_port;
  return p.port_no != 0 && p.port_no <= port::kMax;
}

const PortConfig* TapBridge::port_config(const Switch& sw, const openflow::Port& p) const {
  return find_port_config(sw.config, p.port_no, p.name);
}

// ---------------------------------------------------------------- datapath events

TapBridge::Switch* TapBridge::setup_switch(Datapath& dp) {
  try {
    return &switch_for(dp);
  } catch (const std::exception& e) {
    ++counters_.setup_errors;
    spdlog::error("{} tapd: cannot set up the namespace {}: {}", dp.log_name(),
                  namespace_for(dp.datapath_id()), e.what());
    return nullptr;
  }
}

void TapBridge::choose_pipeline(Switch& sw, const Datapath& dp) {
  sw.pipeline = config_.pipeline_for ? config_.pipeline_for(dp) : config_.pipeline;
  const bool vlans = !sw.config.vlans.empty();
  sw.vlan_mode = vlans && dp.version() == kVersion13 && sw.pipeline.l2_tables;
  if (vlans && !sw.vlan_mode) {
    ++counters_.vlan_setup_errors;
    spdlog::error("{} tapd: VLANs need OpenFlow 1.3 with groups, push/pop VLAN and several tables; "
                  "this switch ({}) has not: the VLAN member ports get no TAP, the other ports "
                  "stay in per-port mode",
                  dp.log_name(), dp.version() == kVersion13 ? "its profile" : "OpenFlow 1.0");
  }
}

void TapBridge::forget_session(Switch& sw) {
  // What this connection told the switch, and replies still on the way.
  sw.reconciled = false;
  sw.punts.forget();
  ++sw.epoch;
  sw.vlan_static.forget();
  sw.vlan_reconciled = false;
  sw.groups_ready = false;
  sw.groups_reading = false;
  sw.groups.clear();
  sw.stale_groups.clear();
}

void TapBridge::on_datapath_up(Datapath& dp) {
  Switch* sw = setup_switch(dp);
  if (sw == nullptr) return;
  sw->dp = &dp;
  if (sw->standby) {
    sw->standby = false;
    spdlog::info("{} tapd: master of the switch now: TAPs take carrier, punt flows reconciled", sw->log);
  }
  sw->hold_timer->cancel();
  if (sw->holding) {
    spdlog::info("{} tapd: switch back within the carrier hold: TAPs kept their carrier", sw->log);
    sw->holding = false;
  }
  forget_session(*sw);
  choose_pipeline(*sw, dp);
  resolve_vlans(*sw, true);
  if (sw->vlan_mode) {
    // The switch's learned flows (of an earlier connection, or of a
    // predecessor of this process) go on switching while they are read back:
    // what still fits the configured VLANs is taken back, the rest deleted.
    forget_macs(*sw);
    restore_learned(*sw);
  } else if (l2_ready_listener_) {
    l2_ready_listener_(sw->dpid);
  }
  sync_ports(*sw);
  ensure_vlan_taps(*sw);
  update_vlan_carriers(*sw);
  spdlog::info("{} tapd: {} TAPs, {} VLAN TAPs in {}", dp.log_name(), sw->ports.size(),
               sw->vlan_taps.size(), sw->ns.name());
  sw->meters.reset();
  sw->meter_timer->cancel();
  sync_punts(*sw);
  if (dp.version() == kVersion13) setup_meters(*sw);
}

void TapBridge::on_datapath_standby(Datapath& dp) {
  Switch* sw = setup_switch(dp);
  if (sw == nullptr) return;
  const bool demoted = sw->dp == &dp && !sw->standby;
  // The warm standby: namespace, TAPs, addresses and MACs as the master has
  // them, but no carrier, so the routing daemons here stay quiet until this
  // instance becomes master; and nothing goes to the switch.
  sw->dp = &dp;
  sw->standby = true;
  sw->hold_timer->cancel();
  sw->holding = false;
  forget_session(*sw);
  sw->meters.reset();
  sw->meter_timer->cancel();
  choose_pipeline(*sw, dp);
  resolve_vlans(*sw, !demoted);
  forget_macs(*sw);
  sync_ports(*sw);
  ensure_vlan_taps(*sw);
  update_vlan_carriers(*sw);
  publish_ports(*sw);
  spdlog::info("{} tapd: {}standby, another controller is the switch's master: {} TAPs, {} VLAN TAPs "
               "ready in {} without carrier",
               sw->log, demoted ? "no longer master, " : "", sw->ports.size(), sw->vlan_taps.size(),
               sw->ns.name());
}

void TapBridge::setup_meters(Switch& sw) {
  bool any = false;
  for (const auto& c : config_.punt_policy.classes) any = any || c.rate != 0;
  if (!any) return;
  const std::uint64_t epoch = sw.epoch;
  Switch* raw = &sw;
  auto valid = [this, raw, epoch, alive = std::weak_ptr<bool>(sw.alive)] {
    return !alive.expired() && raw->epoch == epoch && raw->dp != nullptr;
  };
  sw.dp->request(MultipartRequest{0, MeterFeaturesStatsRequest{}}, [this, raw, valid](
                                                                       Result<std::vector<Message>> r) {
    if (!valid()) return;
    std::optional<MeterFeatures> f;
    if (r) for_each_part<MeterFeaturesStatsReply>(*r, [&f](const auto& part) { f = part.features; });
    // OFPMBT_DROP bands, OFPMF_PKTPS and OFPMF_BURST, and ids up to ours.
    const bool usable = f && (f->band_types & (1u << meter_band_type::kDrop)) != 0 &&
                        (f->capabilities & 0x2) != 0 && (f->capabilities & 0x4) != 0 &&
                        f->max_meter >= punt_meter_id(PuntClass::kOther);
    if (usable) raw->max_meter = f->max_meter;
    if (!usable) {
      spdlog::info("{} punt meters: the switch has none that fit ({}); tapflowd polices alone",
                   raw->log,
                   f ? fmt::format("max_meter {}, band types {:#x}, capabilities {:#x}", f->max_meter,
                                   f->band_types, f->capabilities)
                     : (r ? std::string("no METER_FEATURES") : describe(r.error())));
      return;
    }
    raw->dp->request(MultipartRequest{0, MeterConfigRequest{}}, [this, raw, valid](
                                                                    Result<std::vector<Message>> cr) {
      if (!valid()) return;
      std::map<std::uint32_t, MeterConfig> have;
      if (cr) {
        for_each_part<MeterConfigStatsReply>(*cr, [&have](const auto& part) {
          for (const MeterConfig& c : part.meters) have[c.meter_id] = c;
        });
      }
      raw->existing_meters.clear();
      for (const auto& [id, mc] : have) raw->existing_meters.insert(id);
      raw->port_meters.clear();
      std::array<std::uint32_t, kPuntClasses> ids{};
      for (std::size_t c = 0; c < kPuntClasses; ++c) {
        const auto cls = static_cast<PuntClass>(c);
        const std::uint32_t id = punt_meter_id(cls);
        auto it = have.find(id);
        auto mod = punt_meter(id, config_.punt_policy.classes[c],
                              it == have.end() ? meter_mod_command::kAdd : meter_mod_command::kModify);
        if (!mod) continue;  // rate 0: not metered
        ids[c] = id;
        if (it != have.end() && it->second.flags == mod->flags && it->second.bands == mod->bands) continue;
        if (auto st = raw->dp->send(MessageBody{*mod}); !st) {
          spdlog::warn("{} punt meter {}: {}", raw->log, id, describe(st.error()));
          return;
        }
      }
      // The meters are sent before the flows that use them: same connection, in order.
      raw->meters = ids;
      spdlog::info("{} punt meters in the switch: {}", raw->log, [&] {
        std::string out;
        for (std::size_t c = 0; c < kPuntClasses; ++c) {
          if (ids[c] == 0) continue;
          out += fmt::format("{}{} {} pkt/s (burst {})", out.empty() ? "" : ", ",
                             punt_class_name(static_cast<PuntClass>(c)),
                             config_.punt_policy.classes[c].rate, config_.punt_policy.classes[c].burst);
        }
        return out;
      }());
      sync_punts(*raw);
      poll_meters(*raw);
    });
  });
}

void TapBridge::ensure_port_meters(Switch& sw, std::map<std::uint32_t, std::uint32_t>& out) {
  const PolicerConfig& nd = config_.punt_policy[PuntClass::kArpNd];
  if (nd.rate == 0) return;
  for (const auto& [no, port] : sw.ports) {
    const auto id = pipeline::port_nd_meter_id(no, sw.max_meter);
    if (!id) continue;
    if (!sw.port_meters.contains(no)) {
      // Before the flows that use it: same connection, in order.
      auto mod = punt_meter(*id, nd, sw.existing_meters.contains(*id) ? meter_mod_command::kModify
                                                                       : meter_mod_command::kAdd);
      if (!mod || !sw.dp->send(MessageBody{*mod})) continue;
      sw.existing_meters.insert(*id);
      sw.port_meters.emplace(no, *id);
    }
    out.emplace(no, *id);
  }
}

void TapBridge::poll_meters(Switch& sw) {
  if (!sw.meters || sw.dp == nullptr) return;
  const std::uint64_t epoch = sw.epoch;
  Switch* raw = &sw;
  std::weak_ptr<bool> alive = sw.alive;
  sw.dp->request(MultipartRequest{0, MeterStatsRequest{}}, [raw, epoch, alive](
                                                               Result<std::vector<Message>> r) {
    if (alive.expired() || raw->epoch != epoch || !r) return;
    for_each_part<MeterStatsReply>(*r, [raw](const auto& part) {
      for (const MeterStats& st : part.meters) {
        const bool ours = (st.meter_id >= pipeline::meter::kPuntBase &&
                           st.meter_id < pipeline::meter::kPuntBase + kPuntClasses) ||
                          st.meter_id >= pipeline::meter::kPortNdBase;
        if (ours) raw->meter_stats[st.meter_id] = st;
      }
    });
  });
  sw.meter_timer->expires_after(std::chrono::seconds(2));
  sw.meter_timer->async_wait([this, raw, epoch, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired() || raw->epoch != epoch) return;
    poll_meters(*raw);
  });
}

void TapBridge::on_datapath_down(std::uint64_t dpid, const std::string& reason) {
  auto it = switches_.find(dpid);
  if (it == switches_.end()) return;
  Switch& sw = *it->second;
  const bool was_standby = sw.standby;
  sw.dp = nullptr;
  sw.standby = false;
  forget_session(sw);
  // The TAPs stay (their addresses and ifindex with them). The carrier
  // stays for the hold, so a brief reconnect does not tear down the routing
  // sessions; then it goes, and routing daemons see the links down until the
  // switch is back.
  if (config_.carrier_hold.count() > 0 && !was_standby) {
    start_hold(sw, reason);
    return;
  }
  for (auto& [no, port] : sw.ports) update_carrier(sw, *port);
  for (auto& [vid, port] : sw.vlan_taps) update_carrier(sw, *port);
  spdlog::info("{} tapd: switch away ({}), {} TAPs without carrier", sw.log, reason,
               sw.ports.size() + sw.vlan_taps.size());
}

void TapBridge::start_hold(Switch& sw, const std::string& reason) {
  sw.holding = true;
  ++counters_.carrier_holds;
  spdlog::info("{} tapd: switch away ({}): {} TAPs keep their carrier for the carrier hold ({} s)",
               sw.log, reason, sw.ports.size() + sw.vlan_taps.size(),
               seconds(config_.carrier_hold));
  sw.hold_timer->expires_after(config_.carrier_hold);
  Switch* swp = &sw;
  std::weak_ptr<bool> alive = sw.alive;
  sw.hold_timer->async_wait([this, swp, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired() || swp->dp != nullptr || !swp->holding) return;
    swp->holding = false;
    ++counters_.carrier_hold_expiries;
    for (auto& [no, port] : swp->ports) update_carrier(*swp, *port);
    for (auto& [vid, port] : swp->vlan_taps) update_carrier(*swp, *port);
    spdlog::info("{} tapd: carrier hold expired ({} s), switch still away: {} TAPs without carrier",
                 swp->log, seconds(config_.carrier_hold),
                 swp->ports.size() + swp->vlan_taps.size());
  });
}

void TapBridge::on_port_status(Datapath& dp, const PortStatus& ps) {
  auto it = switches_.find(dp.datapath_id());
  if (it == switches_.end() || it->second->dp != &dp) return;
  Switch& sw = *it->second;
  if (!sw.config.vlans.empty()) resolve_vlans(sw, false);
  const bool member = is_member(sw, ps.desc.port_no);
  if (ps.reason == port_reason::kDelete) {
    remove_port(sw, ps.desc.port_no, "port deleted");
  } else if (member) {
    remove_port(sw, ps.desc.port_no, "port is a VLAN member");
  } else if (wanted(ps.desc)) {
    add_or_update_port(sw, ps.desc);
  }
  if (sw.vlan_mode && !sw.standby &&
      (ps.reason == port_reason::kDelete || !port_link_up(ps.desc))) {
    // Hosts behind a port that went away are elsewhere now, or nowhere.
    flush_port_macs(sw, ps.desc.port_no);
  }
  update_vlan_carriers(sw);
  sync_punts(sw);
}

void TapBridge::on_error(Datapath& dp, const OfError& error, std::uint32_t xid) {
  spdlog::warn("{} switch refused message xid {}: {}", dp.log_name(), xid, describe(error));
}

// ---------------------------------------------------------------- ports and TAPs

void TapBridge::sync_ports(Switch& sw) {
  std::set<std::uint32_t> present;
  for (const auto& p : sw.dp->ports()) {
    if (!wanted(p) || is_member(sw, p.port_no)) continue;
    present.insert(p.port_no);
    add_or_update_port(sw, p);
  }
  std::vector<std::uint32_t> gone;
  for (const auto& [no, port] : sw.ports) {
    if (present.count(no) == 0) gone.push_back(no);
  }
  for (auto no : gone) remove_port(sw, no, "port no longer on the switch, or a VLAN member");
  if (!sw.stale_checked) {
    sw.stale_checked = true;
    remove_stale_taps(sw);
  }
}

void TapBridge::remove_stale_taps(Switch& sw) {
  // TAPs a previous tapflowd made for ports this switch no longer has (or
  // that are VLAN members now), and for VLANs no longer configured.
  try {
    const std::string prefix = alias_prefix(sw.dpid);
    const std::string vlan_prefix = "tapflow dpid=" + dpid_hex(sw.dpid) + " vlan=";
    for (const auto& l : sw.links->links()) {
      if (l.alias.rfind(vlan_prefix, 0) == 0) {
        bool configured = false;
        for (const VlanConfig& vc : sw.config.vlans) {
          configured = configured || l.alias == vlan_alias(sw.dpid, vc.id);
        }
        if (configured) continue;
        spdlog::info("{} removing the TAP {} of a VLAN no longer configured ({})", sw.log, l.name, l.alias);
        forget_stored(sw, l.name);
        sw.links->del_link(l.ifindex);
        continue;
      }
      if (l.alias.rfind(prefix, 0) != 0) continue;
      bool ours = false;
      for (const auto& [no, port] : sw.ports) ours = ours || port->tap.ifindex() == l.ifindex;
      if (ours) continue;
      spdlog::info("{} removing stale TAP {} ({})", sw.log, l.name, l.alias);
      forget_stored(sw, l.name);
      sw.links->del_link(l.ifindex);
    }
  } catch (const std::exception& e) {
    ++counters_.setup_errors;
    spdlog::warn("{} listing stale TAPs: {}", sw.log, e.what());
  }
}

void TapBridge::add_or_update_port(Switch& sw, const openflow::Port& p) {
  const PortConfig* pc = port_config(sw, p);
  if (auto it = sw.ports.find(p.port_no); it != sw.ports.end()) {
    Port& port = *it->second;
    port.port_name = p.name;
    if (!port.mac_configured && p.hw_addr != port.mac && !p.hw_addr.is_zero()) {
      try {
        sw.links->set_mac(port.tap.ifindex(), p.hw_addr);
        port.mac = p.hw_addr;
      } catch (const std::exception& e) {
        ++counters_.setup_errors;
        spdlog::warn("{} TAP {}: {}", sw.log, port.tap.name(), e.what());
      }
    }
    port.link_up = port_link_up(p);
    update_carrier(sw, port);
    if (port.paused || !port.waiting) start_reading(sw, port);
    return;
  }

  // The TAP's name: configured, else the name a previous run gave this port
  // (found by its alias), else derived from the port's name.
  const std::string alias = alias_prefix(sw.dpid) + std::to_string(p.port_no);
  std::string name;
  std::vector<netns::LinkSummary> existing;
  try {
    existing = sw.links->links();
  } catch (const std::exception& e) {
    spdlog::warn("{} listing links: {}", sw.log, e.what());
  }
  if (pc != nullptr && pc->interface) {
    name = *pc->interface;
  } else {
    for (const auto& l : existing) {
      if (l.alias == alias) name = l.name;
    }
  }
  if (name.empty()) {
    name = interface_name_for_port(p.name, p.port_no, [&](const std::string& n) {
      for (const auto& [no, other] : sw.ports) {
        if (other->tap.name() == n) return true;
      }
      for (const auto& l : existing) {
        if (l.name == n && l.alias != alias) return true;
      }
      return false;
    });
  }

  auto port = std::make_unique<Port>();
  port->port_no = p.port_no;
  port->port_name = p.name;
  port->link_up = port_link_up(p);
  try {
    port->tap = open_tap(sw, name);
    const int ifindex = port->tap.ifindex();
    port->mac_configured = pc != nullptr && pc->mac.has_value();
    port->mac = port->mac_configured ? *pc->mac : p.hw_addr;
    if (!port->mac.is_zero()) sw.links->set_mac(ifindex, port->mac);
    sw.links->set_mtu(ifindex, pc != nullptr && pc->mtu ? *pc->mtu : config_.mtu);
    sw.links->set_alias(ifindex, alias);
    sw.links->set_up(ifindex, true);
    if (pc != nullptr) {
      for (const auto& a : pc->addresses) sw.links->add_address(ifindex, a);
    }
    const int fd = ::dup(port->tap.fd());
    if (fd < 0) throw netns::Error("dup of the TAP descriptor", errno);
    port->readable = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  } catch (const std::exception& e) {
    ++counters_.setup_errors;
    spdlog::error("{} port {} ({}): cannot set up TAP {}: {}", sw.log, p.port_no, p.name, name,
                  e.what());
    return;
  }
  spdlog::info("{} port {} ({}) -> TAP {} ifindex {} mac {}", sw.log, p.port_no, p.name,
               port->tap.name(), port->tap.ifindex(), port->mac.to_string());
  Port& ref = *port;
  sw.ports.emplace(p.port_no, std::move(port));
  update_carrier(sw, ref);
  start_reading(sw, ref);
}

void TapBridge::remove_port(Switch& sw, std::uint32_t port_no, const std::string& why) {
  auto it = sw.ports.find(port_no);
  if (it == sw.ports.end()) return;
  spdlog::info("{} port {} ({}): removing TAP {}", sw.log, port_no, why, it->second->tap.name());
  close_tap(sw, *it->second);
  sw.ports.erase(it);
}

void TapBridge::remove_vlan_tap(Switch& sw, std::uint16_t vid, const std::string& why) {
  auto it = sw.vlan_taps.find(vid);
  if (it == sw.vlan_taps.end()) return;
  spdlog::info("{} VLAN {} ({}): removing TAP {}", sw.log, vid, why, it->second->tap.name());
  close_tap(sw, *it->second);
  sw.vlan_taps.erase(it);
}

void TapBridge::close_tap(Switch& sw, Port& port) {
  forget_stored(sw, port.tap.name());
  port.readable.reset();
  port.tap.destroy();
}

TapDevice TapBridge::open_tap(Switch& sw, const std::string& name) {
  const std::string key = store_key(sw.ns, name);
  TapDevice tap;
  if (auto it = stored_.find(key); it != stored_.end()) {
    netns::UniqueFd fd = std::move(it->second);
    stored_.erase(it);
    try {
      // The previous process's descriptor is what makes TUNSETIFF fail
      // (EBUSY): take it over instead, carrier, queue and all.
      tap = TapDevice::adopt(sw.ns, name, std::move(fd), config_.persist_taps);
      ++counters_.taps_adopted;
      spdlog::info("{} TAP {} ifindex {} taken over from the fd store", sw.log, name,
                   tap.ifindex());
    } catch (const std::exception& e) {
      ++counters_.fdstore_errors;
      spdlog::warn("{} fd store's descriptor for TAP {} is unusable ({}): opening it anew", sw.log,
                   name, e.what());
      if (store_ != nullptr) store_->del(key);
    }
  }
  if (!tap.is_open()) tap = TapDevice::open(sw.ns, name, config_.persist_taps);
  if (store_ != nullptr) {
    if (!store_->put(key, tap.fd())) ++counters_.fdstore_errors;
    counters_.fdstore_connected = store_->connected();
  }
  return tap;
}

void TapBridge::forget_stored(const Switch& sw, const std::string& name) {
  const std::string key = store_key(sw.ns, name);
  stored_.erase(key);
  if (store_ == nullptr) return;
  if (!store_->del(key)) ++counters_.fdstore_errors;
  counters_.fdstore_connected = store_->connected();
}

void TapBridge::update_carrier(Switch& sw, Port& port) {
  const bool want = !sw.standby && (sw.dp != nullptr || sw.holding) && port.link_up;
  if (port.carrier_known && want == port.carrier) return;
  try {
    port.tap.set_carrier(want);
    port.carrier = want;
    port.carrier_known = true;
    spdlog::info("{} TAP {} carrier {}", sw.log, port.tap.name(), want ? "on" : "off");
  } catch (const std::exception& e) {
    ++counters_.setup_errors;
    spdlog::warn("{} TAP {}: {}", sw.log, port.tap.name(), e.what());
  }
}

// ---------------------------------------------------------------- frame pump

void TapBridge::on_packet_in(Datapath& dp, const PacketIn& pi) {
  const auto t0 = Clock::now();
  auto it = switches_.find(dp.datapath_id());
  if (it == switches_.end()) return;
  Switch& sw = *it->second;
  const bool whole = pi.total_len <= pi.data.size() && !pi.data.empty();
  // Frames for the router arrive tagged from a member port (eth_dst table,
  // flood group), or untagged from the FIB with the VLAN in the metadata
  // (and no in_port: the eth_dst table clears it). Per-port traffic has
  // neither.
  std::optional<std::uint64_t> metadata;
  if (const OxmField* md = sw.vlan_mode ? pi.match.find(oxm_field::kMetadata) : nullptr) {
    metadata = field_uint(*md);
  }
  const PacketInRoute route =
      route_packet_in(sw.vlan_mode, is_member(sw, pi.in_port), pi.cookie, pi.data, metadata);
  switch (route.kind) {
    case PacketInRoute::Kind::kLearn:
      learn(sw, pi);
      return;
    case PacketInRoute::Kind::kUnknownVlan:
      ++counters_.packet_in_unknown_vlan;
      return;
    case PacketInRoute::Kind::kVlanTap: {
      auto vt = sw.vlan_taps.find(route.vid);
      if (vt == sw.vlan_taps.end()) {
        ++counters_.packet_in_unknown_vlan;
        return;
      }
      if (!admit_punt(sw, pi.data)) return;
      if (route.strip_tag) {
        strip_vlan_tag(pi.data, sw.scratch);
        write_to_tap(sw, *vt->second, sw.scratch, whole, t0);
      } else {
        write_to_tap(sw, *vt->second, pi.data, whole, t0);
      }
      return;
    }
    case PacketInRoute::Kind::kPerPort:
      break;
  }
  auto pit = sw.ports.find(pi.in_port);
  if (pit == sw.ports.end()) {
    ++counters_.packet_in_unknown_port;
    return;
  }
  if (!admit_punt(sw, pi.data)) return;
  write_to_tap(sw, *pit->second, pi.data, whole, t0);
}

bool TapBridge::admit_punt(Switch& sw, std::span<const std::uint8_t> frame) {
  const PuntClass cls = classify_frame(frame, [&sw](const netns::IpAddress& a) {
    return std::binary_search(sw.local_addresses.begin(), sw.local_addresses.end(), a);
  });
  const auto c = static_cast<std::size_t>(cls);
  ++sw.punt.seen[c];
  if (!sw.policers[c].take(ns_since(Clock::time_point{}))) {
    ++sw.punt.policed[c];
    return false;
  }
  ++sw.punt.passed[c];
  if (cls == PuntClass::kRouting && config_.bfd_watch) {
    config_.bfd_watch->observe_frame(sw.dpid, false, frame, Clock::now());
  }
  return true;
}

bool TapBridge::write_to_tap(Switch& sw, Port& port, std::span<const std::uint8_t> frame, bool whole,
                             Clock::time_point t0) {
  if (!whole) {
    // Only part of the frame: the kernel must never see a cut frame.
    ++port.counters.drop_truncated;
    return false;
  }
  const int rc = port.tap.write(frame);
  if (rc == 0) {
    ++port.counters.to_tap_frames;
    port.counters.to_tap_bytes += frame.size();
    port.counters.to_tap_latency.record(ns_since(t0));
    // The kernel usually handles the frame inside write() and queues its
    // answer (ARP reply, ICMP echo reply, TCP ACK) on the TAP before write()
    // returns: take it now rather than one event-loop turn later.
    if (!port.paused) drain_tap(sw, port, Clock::now());
    return true;
  }
  if (rc == -EAGAIN) {
    ++port.counters.drop_tap_busy;
  } else if (port.counters.drop_tap_error++ == 0) {
    spdlog::warn("{} TAP {}: write failed: {}", sw.log, port.tap.name(), std::strerror(-rc));
  }
  return false;
}

void TapBridge::start_reading(Switch& sw, Port& port) {
  port.paused = false;
  if (port.waiting || !port.readable) return;
  port.waiting = true;
  std::weak_ptr<bool> alive = port.alive;
  Switch* swp = &sw;
  Port* pp = &port;
  port.readable->async_wait(asio::posix::stream_descriptor::wait_read,
                            [this, alive, swp, pp](const boost::system::error_code& ec) {
                              if (alive.expired()) return;
                              pp->waiting = false;
                              if (ec) return;
                              on_tap_readable(*swp, *pp);
                            });
}

void TapBridge::on_tap_readable(Switch& sw, Port& port) {
  if (drain_tap(sw, port, Clock::now())) start_reading(sw, port);
}

bool TapBridge::drain_tap(Switch& sw, Port& port, Clock::time_point t0) {
  static thread_local std::array<std::uint8_t, 65536> buf;
  auto& po = std::get<PacketOut>(sw.packet_out.body);
  bool congested_frame = false;  // a non-control frame was sent over the watermark
  for (std::size_t i = 0; i < config_.read_batch; ++i) {
    if (congested_frame) {
      // Leave the frames in the TAP's queue (the kernel drops beyond it and
      // counts it) until the switch drains what we already sent.
      ++port.counters.paused_congested;
      port.paused = true;
      std::weak_ptr<bool> alive = port.alive;
      Switch* swp = &sw;
      Port* pp = &port;
      sw.dp->when_writable([this, alive, swp, pp] {
        if (!alive.expired() && pp->paused) start_reading(*swp, *pp);
      });
      return false;
    }
    const ssize_t n = port.tap.read(buf);
    if (n <= 0) {
      if (n < 0 && n != -EAGAIN && port.counters.drop_tap_error++ == 0) {
        spdlog::warn("{} TAP {}: read failed: {}", sw.log, port.tap.name(),
                     std::strerror(static_cast<int>(-n)));
      }
      break;
    }
    if (sw.dp == nullptr || sw.standby || !sw.dp->is_up()) {
      ++port.counters.drop_switch_down;
      continue;
    }
    // The kernel's routing-protocol and ARP/ND frames overtake whatever bulk
    // (FLOW_MODs of a table install) is queued for the switch, and are read
    // even while the connection is congested; another frame sent over the
    // watermark pauses reading until the switch drains.
    const std::span<const std::uint8_t> frame(buf.data(), static_cast<std::size_t>(n));
    const PuntClass cls = classify_frame(frame, nullptr);
    const bool control = cls == PuntClass::kRouting || cls == PuntClass::kArpNd;
    const SendPriority prio = control ? SendPriority::kControl : SendPriority::kNormal;
    if (control) ++sw.punt.control_out;
    if (cls == PuntClass::kRouting && config_.bfd_watch) {
      config_.bfd_watch->observe_frame(sw.dpid, true, frame, t0);
    }
    if (!control && sw.dp->congested()) congested_frame = true;
    if (port.vlan != 0) {
      if (send_from_vlan_tap(sw, port, frame, prio)) {
        ++port.counters.to_switch_frames;
        port.counters.to_switch_bytes += static_cast<std::uint64_t>(n);
        port.counters.to_switch_latency.record(ns_since(t0));
      }
      continue;
    }
    sw.packet_out.version = sw.dp->version();
    sw.packet_out.xid = sw.dp->next_xid();
    po.data.assign(buf.begin(), buf.begin() + n);
    std::get<action::Output>(po.actions[0]).port = port.port_no;
    if (auto st = sw.dp->send(sw.packet_out, prio); !st) {
      ++port.counters.drop_send_error;
      continue;
    }
    ++port.counters.to_switch_frames;
    port.counters.to_switch_bytes += static_cast<std::uint64_t>(n);
    port.counters.to_switch_latency.record(ns_since(t0));
  }
  return true;
}

// ---------------------------------------------------------------- punt flows

MacAddress TapBridge::router_mac(const Switch& sw, const Port& port) const {
  // The namespace is the truth: an operator may have changed the MAC.
  if (sw.watcher && sw.watcher->synced()) {
    const auto& links = sw.watcher->state().links;
    if (auto l = links.find(port.tap.ifindex()); l != links.end() && !l->second.mac.is_zero()) {
      return l->second.mac;
    }
  }
  return port.mac;
}

void TapBridge::publish_ports(Switch& sw) {
  if (!ports_listener_) return;
  std::vector<TapPort> ports;
  for (const auto& [no, port] : sw.ports) {
    ports.push_back(TapPort{port->tap.ifindex(), no, router_mac(sw, *port), 0});
  }
  for (const auto& [vid, port] : sw.vlan_taps) {
    ports.push_back(TapPort{port->tap.ifindex(), 0, router_mac(sw, *port), vid});
  }
  if (sw.published && ports == sw.published_ports) return;
  sw.published = true;
  sw.published_ports = ports;
  ports_listener_(sw.dpid, sw.ns.name(), ports);
}

void TapBridge::sync_punts(Switch& sw) {
  publish_ports(sw);
  if (sw.dp == nullptr || sw.standby || !sw.dp->is_up() || !sw.watcher || !sw.watcher->synced()) {
    return;
  }
  sync_vlan_pipeline(sw);
  const netns::KernelState& ks = sw.watcher->state();
  PuntInputs in;
  in.version = sw.dp->version();
  if (in.version == kVersion13) in.fib_table = sw.pipeline.fib_table;
  in.meters = sw.meters;
  if (sw.meters) ensure_port_meters(sw, in.port_nd_meters);
  for (const auto& [no, port] : sw.ports) {
    in.ports.push_back(PuntPort{no, router_mac(sw, *port)});
  }
  for (const auto& [key, a] : ks.addresses) {
    // Host-scope addresses (127.0.0.1, ::1) are never reachable from a port.
    if (a.scope == RT_SCOPE_HOST) continue;
    in.addresses.push_back(a.prefix.addr);
  }
  sw.local_addresses = in.addresses;
  std::sort(sw.local_addresses.begin(), sw.local_addresses.end());
  ++counters_.punt_syncs;
  auto flows = punt_flows(in);
  const std::size_t n = flows.size();
  Datapath& dp = *sw.dp;
  const std::string log = sw.log;
  auto done = [log, n](Status st) {
    if (st) {
      spdlog::debug("{} punt flows in place ({})", log, n);
    } else {
      spdlog::warn("{} punt flows: {}", log, describe(st.error()));
    }
  };
  if (!sw.reconciled) {
    sw.reconciled = true;
    sw.punts.reconcile(dp, std::move(flows), done);
  } else {
    sw.punts.apply(dp, std::move(flows), done);
  }
}

// ---------------------------------------------------------------- VLAN mode

bool TapBridge::is_member(const Switch& sw, std::uint32_t port_no) const {
  return sw.member_up.count(port_no) != 0;
}

void TapBridge::resolve_vlans(Switch& sw, bool log_unknown) {
  sw.members.clear();
  sw.member_up.clear();
  if (sw.config.vlans.empty() || sw.dp == nullptr) return;
  const auto& ports = sw.dp->ports();
  for (const VlanConfig& vc : sw.config.vlans) {
    VlanMembers m;
    m.vid = vc.id;
    if (auto vt = sw.vlan_taps.find(vc.id); vt != sw.vlan_taps.end()) {
      m.router_mac = router_mac(sw, *vt->second);
    } else {
      m.router_mac = vc.mac ? *vc.mac : default_vlan_mac(sw.dpid, vc.id);
    }
    for (const auto* refs : {&vc.untagged, &vc.tagged}) {
      for (const PortRef& ref : *refs) {
        const openflow::Port* found = nullptr;
        for (const auto& p : ports) {
          if (p.port_no != 0 && p.port_no <= port::kMax && ref.matches(p.port_no, p.name)) found = &p;
        }
        if (found == nullptr) {
          // A numbered port may come later (port status ADD); a name the
          // switch does not have is likely a typo: say so once per connect.
          if (log_unknown && ref.port_name) {
            ++counters_.vlan_setup_errors;
            spdlog::error("{} VLAN {} ({}): the switch has no port named '{}'", sw.log, vc.id, vc.name,
                          *ref.port_name);
          } else if (log_unknown) {
            spdlog::info("{} VLAN {} ({}): member port {} is not on the switch yet", sw.log, vc.id,
                         vc.name, *ref.port_no);
          }
          continue;
        }
        (refs == &vc.tagged ? m.tagged : m.untagged).push_back(found->port_no);
        sw.member_up[found->port_no] = port_link_up(*found);
      }
    }
    std::sort(m.untagged.begin(), m.untagged.end());
    std::sort(m.tagged.begin(), m.tagged.end());
    sw.members.push_back(std::move(m));
  }
}

void TapBridge::ensure_vlan_taps(Switch& sw) {
  if (!sw.vlan_mode) return;
  for (const VlanConfig& vc : sw.config.vlans) {
    if (sw.vlan_taps.count(vc.id) != 0) continue;
    auto port = std::make_unique<Port>();
    port->vlan = vc.id;
    port->port_name = vc.name;
    port->mac_configured = true;
    port->mac = vc.mac ? *vc.mac : default_vlan_mac(sw.dpid, vc.id);
    try {
      port->tap = open_tap(sw, vc.name);
      const int ifindex = port->tap.ifindex();
      sw.links->set_mac(ifindex, port->mac);
      sw.links->set_mtu(ifindex, vc.mtu ? *vc.mtu : config_.mtu);
      sw.links->set_alias(ifindex, vlan_alias(sw.dpid, vc.id));
      sw.links->set_up(ifindex, true);
      for (const auto& a : vc.addresses) sw.links->add_address(ifindex, a);
      const int fd = ::dup(port->tap.fd());
      if (fd < 0) throw netns::Error("dup of the TAP descriptor", errno);
      port->readable = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    } catch (const std::exception& e) {
      ++counters_.setup_errors;
      spdlog::error("{} VLAN {}: cannot set up TAP {}: {}", sw.log, vc.id, vc.name, e.what());
      continue;
    }
    spdlog::info("{} VLAN {} -> TAP {} ifindex {} mac {}", sw.log, vc.id, port->tap.name(),
                 port->tap.ifindex(), port->mac.to_string());
    Port& ref = *port;
    sw.vlan_taps.emplace(vc.id, std::move(port));
    start_reading(sw, ref);
  }
}

void TapBridge::update_vlan_carriers(Switch& sw) {
  for (auto& [vid, port] : sw.vlan_taps) {
    bool up = false;
    if (const VlanMembers* m = sw.vlan(vid)) {
      for (const auto* list : {&m->untagged, &m->tagged}) {
        for (std::uint32_t p : *list) {
          auto it = sw.member_up.find(p);
          up = up || (it != sw.member_up.end() && it->second);
        }
      }
    }
    port->link_up = up;
    update_carrier(sw, *port);
    if (port->paused || !port->waiting) start_reading(sw, *port);
  }
}

void TapBridge::send_flow(Switch& sw, const FlowMod& fm) {
  if (sw.dp == nullptr || sw.standby || !sw.dp->is_up()) return;
  if (auto st = sw.dp->send(MessageBody{fm}); !st) {
    spdlog::warn("{} VLAN flow: {}", sw.log, describe(st.error()));
  }
}

void TapBridge::sync_vlan_pipeline(Switch& sw) {
  if (!sw.vlan_mode || sw.dp == nullptr || sw.standby || !sw.dp->is_up()) return;
  for (VlanMembers& m : sw.members) {
    if (auto vt = sw.vlan_taps.find(m.vid); vt != sw.vlan_taps.end()) {
      m.router_mac = router_mac(sw, *vt->second);
    }
  }
  if (!sw.groups_ready) {
    // Flows point at the flood groups: the groups go first. ADD fails for a
    // group the switch kept from an earlier connection, MODIFY for one it
    // lacks: read which exist.
    if (sw.groups_reading) return;
    sw.groups_reading = true;
    Switch* swp = &sw;
    std::weak_ptr<bool> alive = sw.alive;
    const std::uint64_t epoch = sw.epoch;
    // Which switch this is decides whether the routed flows may use a
    // Nicira action; the answer arrives before the groups' (same order).
    sw.dp->request(MultipartRequest{0, DescStatsRequest{}},
                   [swp, alive, epoch](Result<std::vector<Message>> replies) {
                     if (alive.expired() || swp->epoch != epoch || !replies) return;
                     for (const Message& m : *replies) {
                       const auto* mp = std::get_if<MultipartReply>(&m.body);
                       const auto* d = mp ? std::get_if<DescStatsReply>(&mp->body) : nullptr;
                       if (d == nullptr) continue;
                       swp->open_vswitch = d->desc.mfr_desc.find("Nicira") != std::string::npos;
                       if (!swp->open_vswitch) {
                         spdlog::warn("{} switch '{}' is not Open vSwitch: traffic routed between "
                                      "two VLANs of one trunk port cannot go back out of it",
                                      swp->log, d->desc.mfr_desc);
                       }
                     }
                   });
    sw.dp->request(MultipartRequest{0, GroupDescStatsRequest{}},
                   [this, swp, alive, epoch](Result<std::vector<Message>> replies) {
                     if (alive.expired() || swp->epoch != epoch || swp->dp == nullptr) return;
                     swp->groups_reading = false;
                     std::set<std::uint32_t> existing;
                     if (!replies) {
                       spdlog::warn("{} reading groups: {}", swp->log, describe(replies.error()));
                     } else {
                       for (const Message& m : *replies) {
                         const auto* mp = std::get_if<MultipartReply>(&m.body);
                         const auto* gd = mp ? std::get_if<GroupDescStatsReply>(&mp->body) : nullptr;
                         if (gd == nullptr) continue;
                         for (const GroupDesc& g : gd->groups) existing.insert(g.group_id);
                       }
                     }
                     swp->groups_ready = true;
                     swp->groups.clear();
                     send_vlan_groups(*swp, existing);
                     sync_vlan_pipeline(*swp);
                   });
    return;
  }
  send_vlan_groups(sw, {});

  VlanPipelineInputs in;
  in.vlans = sw.members;
  in.l2_table = config_.pipeline.l2_table;
  in.fib_table = sw.pipeline.fib_table;
  in.clear_in_port = sw.open_vswitch;
  if (sw.watcher && sw.watcher->synced()) {
    for (const auto& [key, a] : sw.watcher->state().addresses) {
      if (a.scope == RT_SCOPE_HOST) continue;
      in.addresses.push_back(a.prefix.addr);
    }
  }
  auto flows = vlan_flows(in);
  const std::size_t n = flows.size();
  const std::string log = sw.log;
  auto done = [log, n](Status st) {
    if (st) {
      spdlog::debug("{} VLAN flows in place ({})", log, n);
    } else {
      spdlog::warn("{} VLAN flows: {}", log, describe(st.error()));
    }
  };
  if (!sw.vlan_reconciled) {
    sw.vlan_reconciled = true;
    sw.vlan_static.reconcile(*sw.dp, std::move(flows), done);
  } else {
    sw.vlan_static.apply(*sw.dp, std::move(flows), done);
  }
  // Same connection, in order: the flows that used them are gone first.
  for (std::uint32_t id : sw.stale_groups) {
    GroupMod del;
    del.command = group_mod_command::kDelete;
    del.group_id = id;
    if (auto st = sw.dp->send(MessageBody{del}); !st) {
      spdlog::warn("{} deleting VLAN group {:#x}: {}", sw.log, id, describe(st.error()));
    }
  }
  sw.stale_groups.clear();
}

void TapBridge::send_vlan_groups(Switch& sw, const std::set<std::uint32_t>& existing) {
  VlanPipelineInputs in;
  in.vlans = sw.members;
  auto wanted_groups = vlan_groups(in);
  // Groups of a VLAN no longer configured (a reload), once no flow points at
  // them: the flows go first (sync_vlan_pipeline sends them after this).
  for (auto it = sw.groups.begin(); it != sw.groups.end();) {
    if (wanted_groups.contains(it->first)) {
      ++it;
      continue;
    }
    sw.stale_groups.insert(it->first);
    it = sw.groups.erase(it);
  }
  for (auto& [id, g] : wanted_groups) {
    auto have = sw.groups.find(id);
    if (have != sw.groups.end() && have->second == g) continue;
    GroupMod mod = g;
    if (have != sw.groups.end() || existing.count(id) != 0) mod.command = group_mod_command::kModify;
    if (auto st = sw.dp->send(MessageBody{mod}); !st) {
      spdlog::warn("{} VLAN group {:#x}: {}", sw.log, id, describe(st.error()));
      continue;
    }
    sw.groups[id] = std::move(g);
  }
}

void TapBridge::notify_l2(Switch& sw, std::uint16_t vid, const MacAddress& mac,
                          std::optional<std::pair<std::uint32_t, bool>> where) {
  if (!l2_listener_) return;
  auto vt = sw.vlan_taps.find(vid);
  if (vt == sw.vlan_taps.end()) return;
  l2_listener_(sw.dpid, vt->second->tap.ifindex(), mac, where);
}

void TapBridge::learn(Switch& sw, const PacketIn& pi) {
  ++counters_.learn_packet_ins;
  const auto vid = frame_vlan(pi.data);
  const auto src = frame_source(pi.data);
  if (!vid || !src) return;
  const VlanMembers* m = sw.vlan(*vid);
  if (m == nullptr) return;
  const bool tagged = std::binary_search(m->tagged.begin(), m->tagged.end(), pi.in_port);
  if (!tagged && !std::binary_search(m->untagged.begin(), m->untagged.end(), pi.in_port)) return;
  const MacLocation where{pi.in_port, tagged};
  const std::uint8_t l2 = config_.pipeline.l2_table;
  const std::optional<MacLocation> before =
      sw.macs.find(*vid, *src) ? std::optional<MacLocation>(sw.macs.find(*vid, *src)->where)
                               : std::nullopt;
  const std::uint64_t old_generation = sw.macs.find(*vid, *src) ? sw.macs.find(*vid, *src)->generation : 0;
  const auto r = sw.macs.learn(*vid, *src, where, m->router_mac);
  switch (r.outcome) {
    case MacTable::Outcome::kMoved: {
      ++counters_.mac_moves;
      // The old eth_src flow goes; the eth_dst flow is overwritten in place.
      send_flow(sw, learned_flow_deletes(*vid, *src, *before, l2, old_generation).first);
      spdlog::debug("{} VLAN {}: {} moved from port {} to {}", sw.log, *vid, src->to_string(),
                    before->port_no, pi.in_port);
      [[fallthrough]];
    }
    case MacTable::Outcome::kNew: {
      if (r.outcome == MacTable::Outcome::kNew) ++counters_.mac_learned;
      auto [eth_src, eth_dst] =
          learned_flows(*vid, *src, where, sw.config.mac_aging, l2, r.generation);
      send_flow(sw, eth_src);
      send_flow(sw, eth_dst);
      sw.macs.mark_refreshed(*vid, *src, ns_since(Clock::time_point{}));
      notify_l2(sw, *vid, *src, std::make_pair(where.port_no, where.tagged));
      break;
    }
    case MacTable::Outcome::kFull:
      if (counters_.mac_table_full++ == 0) {
        spdlog::warn("{} MAC table full ({} entries): not learning more (mac_table_size)", sw.log,
                     sw.macs.size());
      }
      break;
    case MacTable::Outcome::kKnown:
      // Frames in flight before the flows landed also come here; only a
      // second later does it mean the flows are gone: send them again.
      if (sw.macs.refresh_due(*vid, *src, ns_since(Clock::time_point{}), 1'000'000'000)) {
        ++counters_.mac_refreshed;
        auto [eth_src, eth_dst] =
            learned_flows(*vid, *src, where, sw.config.mac_aging, l2, r.generation);
        send_flow(sw, eth_src);
        send_flow(sw, eth_dst);
      }
      break;
    case MacTable::Outcome::kIgnored:
      break;
  }
}

void TapBridge::on_flow_removed(Datapath& dp, const FlowRemoved& fr) {
  if ((fr.cookie & pipeline::cookie::kSubclassMask) != pipeline::cookie::kLearnedSrc) return;
  auto it = switches_.find(dp.datapath_id());
  if (it == switches_.end()) return;
  Switch& sw = *it->second;
  const OxmField* vf = fr.match.find(oxm_field::kVlanVid);
  const OxmField* mf = fr.match.find(oxm_field::kEthSrc);
  if (vf == nullptr || mf == nullptr || mf->value.size() != 6) return;
  const auto vid = static_cast<std::uint16_t>(field_uint(*vf) & 0xfff);
  MacAddress mac;
  std::copy(mf->value.begin(), mf->value.end(), mac.octets.begin());
  const auto e = sw.macs.expire(vid, mac, fr.cookie & pipeline::cookie::kGenerationMask);
  if (!e) return;  // an older flow of a MAC that has moved since
  ++counters_.mac_aged;
  const std::uint8_t l2 = config_.pipeline.l2_table;
  send_flow(sw, learned_flow_deletes(vid, mac, e->where, l2, e->generation).second);
  spdlog::debug("{} VLAN {}: {} aged out (port {})", sw.log, vid, mac.to_string(), e->where.port_no);
  notify_l2(sw, vid, mac, std::nullopt);
}

void TapBridge::flush_port_macs(Switch& sw, std::uint32_t port_no) {
  drop_learned(sw, sw.macs.flush_port(port_no));
}

void TapBridge::drop_learned(Switch& sw, const MacTable::Flushed& flushed) {
  const std::uint8_t l2 = config_.pipeline.l2_table;
  for (const auto& [key, e] : flushed) {
    ++counters_.mac_flushed;
    auto [src, dst] = learned_flow_deletes(key.first, key.second, e.where, l2, e.generation);
    send_flow(sw, src);
    send_flow(sw, dst);
    notify_l2(sw, key.first, key.second, std::nullopt);
  }
}

void TapBridge::restore_learned(Switch& sw) {
  FlowStatsRequest fr;
  fr.table_id = kTableAll;
  fr.out_port = port::kAny;
  fr.out_group = kGroupAny;
  fr.cookie = pipeline::cookie::kLearned;
  fr.cookie_mask = pipeline::cookie::kVlanFlowsMask;
  const std::uint64_t epoch = sw.epoch;
  Switch* raw = &sw;
  sw.dp->request(MultipartRequest{0, fr}, [this, raw, epoch, alive = std::weak_ptr<bool>(sw.alive)](
                                              Result<std::vector<Message>> r) {
    if (alive.expired() || raw->epoch != epoch || raw->dp == nullptr) return;
    Switch& s = *raw;
    if (!r) {
      // Unknown state: start over, frames flood until relearned.
      spdlog::warn("{} VLAN: reading the learned flows back failed ({}): relearning", s.log,
                   describe(r.error()));
      send_flow(s, learned_flows_wipe());
    } else {
      std::vector<LearnedFlow> dsts;
      std::size_t restored = 0, dropped = 0;
      const auto now = ns_since(Clock::time_point{});
      std::vector<const FlowStats*> held;
      for_each_part<FlowStatsReply>(*r, [&held](const auto& part) {
        for (const FlowStats& fs : part.flows) held.push_back(&fs);
      });
      for (const FlowStats* held_flow : held) {
        const FlowStats& fs = *held_flow;
        auto lf = parse_learned_flow(fs.cookie, fs.table_id, fs.match, config_.pipeline.l2_table);
        if (!lf) {
          // Ours by cookie, not of a shape we make: delete it as spelled.
          FlowMod d;
          d.command = flow_mod_command::kDeleteStrict;
          d.table_id = fs.table_id;
          d.priority = fs.priority;
          d.match = fs.match;
          d.cookie = fs.cookie;
          d.cookie_mask = ~std::uint64_t{0};
          send_flow(s, d);
          ++dropped;
          continue;
        }
        if (!lf->src) {
          dsts.push_back(*lf);
          continue;
        }
        const VlanMembers* vm = s.vlan(lf->vid);
        const bool tagged =
            vm != nullptr && std::binary_search(vm->tagged.begin(), vm->tagged.end(), lf->port_no);
        const bool untagged = vm != nullptr && std::binary_search(vm->untagged.begin(),
                                                                  vm->untagged.end(), lf->port_no);
        const MacLocation where{lf->port_no, tagged};
        if ((tagged || untagged) &&
            s.macs.restore(lf->vid, lf->mac, where, lf->generation, now)) {
          ++restored;
          notify_l2(s, lf->vid, lf->mac, std::make_pair(where.port_no, where.tagged));
        } else {
          send_flow(s, learned_flow_deletes(lf->vid, lf->mac, where, config_.pipeline.l2_table,
                                            lf->generation)
                           .first);
          ++dropped;
        }
      }
      // eth_dst flows without their eth_src flow (of this generation) go.
      for (const LearnedFlow& d : dsts) {
        const MacTable::Entry* e = s.macs.find(d.vid, d.mac);
        if (e != nullptr && e->generation == d.generation) continue;
        send_flow(s, learned_flow_deletes(d.vid, d.mac, MacLocation{}, config_.pipeline.l2_table,
                                          d.generation)
                         .second);
        ++dropped;
      }
      counters_.mac_restored += restored;
      spdlog::info("{} VLAN: {} learned MACs taken back from the switch's flows, {} flows deleted",
                   s.log, restored, dropped);
    }
    if (l2_ready_listener_) l2_ready_listener_(s.dpid);
  });
}

void TapBridge::forget_macs(Switch& sw) {
  for (const auto& [key, e] : sw.macs.entries()) notify_l2(sw, key.first, key.second, std::nullopt);
  sw.macs.clear();
}

bool TapBridge::send_from_vlan_tap(Switch& sw, Port& port, std::span<const std::uint8_t> frame,
                                   SendPriority priority) {
  auto& po = std::get<PacketOut>(sw.vlan_packet_out.body);
  const VlanMembers* m = sw.vlan(port.vlan);
  po.actions = m != nullptr ? vlan_tap_actions(*m, frame, sw.macs, sw.member_up) : ActionList{};
  if (po.actions.empty()) {
    ++port.counters.drop_no_member;
    return false;
  }
  sw.vlan_packet_out.version = sw.dp->version();
  sw.vlan_packet_out.xid = sw.dp->next_xid();
  po.data.assign(frame.begin(), frame.end());
  if (auto st = sw.dp->send(sw.vlan_packet_out, priority); !st) {
    ++port.counters.drop_send_error;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- status

std::size_t TapBridge::table0_flows(std::uint64_t dpid) const {
  auto it = switches_.find(dpid);
  return it == switches_.end() ? 0 : it->second->punts.installed_count();
}

std::vector<PuntView> TapBridge::punt() const {
  std::vector<PuntView> out;
  for (const auto& [dpid, sw] : switches_) {
    PuntView v{dpid, sw->ns.name(), config_.punt_policy, sw->punt, sw->meters.has_value(), {}, {}};
    // Per class: its meter, and for arp_nd the ports' own meters too.
    auto add = [&](std::size_t c, std::uint32_t id) {
      auto it = sw->meter_stats.find(id);
      if (it == sw->meter_stats.end()) return;
      v.switch_packets[c] += it->second.packet_in_count;
      for (const auto& b : it->second.band_stats) v.switch_dropped[c] += b.packet_band_count;
    };
    for (std::size_t c = 0; c < kPuntClasses; ++c) add(c, punt_meter_id(static_cast<PuntClass>(c)));
    for (const auto& [port_no, id] : sw->port_meters) add(static_cast<std::size_t>(PuntClass::kArpNd), id);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<PortStatusView> TapBridge::ports() const {
  std::vector<PortStatusView> out;
  for (const auto& [dpid, sw] : switches_) {
    auto view = [&](const Port& port) {
      PortStatusView v;
      v.dpid = dpid;
      v.netns = sw->ns.name();
      v.port_name = port.port_name;
      v.interface = port.tap.name();
      v.ifindex = port.tap.ifindex();
      v.carrier = port.carrier;
      v.counters = port.counters;
      return v;
    };
    for (const auto& [no, port] : sw->ports) {
      out.push_back(view(*port));
      out.back().port_no = no;
    }
    for (const auto& [vid, port] : sw->vlan_taps) {
      out.push_back(view(*port));
      out.back().vlan = vid;
    }
  }
  return out;
}

std::size_t TapBridge::learned_macs(std::uint64_t dpid) const {
  auto it = switches_.find(dpid);
  return it == switches_.end() ? 0 : it->second->macs.size();
}

}  // namespace tapflow::tapd
