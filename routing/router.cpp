#include "tapflow/routing/router.hpp"

#include <spdlog/spdlog.h>

#include "tapflow/netns/namespace.hpp"
#include "tapflow/netns/netlink_watcher.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::routing {

using controller::Datapath;

struct Router::Switch {
  std::uint64_t dpid = 0;
  std::string log;
  netns::NetNamespace ns;
  std::unique_ptr<netns::NetlinkWatcher> watcher;
  RouterPorts ports;
  Datapath* dp = nullptr;
  // Made when the switch first comes up (the compiler needs its version) and
  // kept while it is away, so its snapshot stays current for the reconcile.
  std::unique_ptr<FibCompiler> compiler;
  std::unique_ptr<FibProgrammer> programmer;
  std::optional<std::uint32_t> capacity;  // the FIB table's size the programmer was made with
  std::optional<std::uint32_t> shared_table_size;  // one table: table 0's size (profile)
  std::string profile, profile_summary;   // the profile's name and summary, for status and metrics
  bool near_full = false;                 // warned: the FIB needs more than 90% of the table
  bool reconcile_pending = false;  // up, but the kernel state is not dumped yet
  bool l2_pending = false;         // up with VLAN ports, tapd's learned MACs not read back yet
  bool l2_ready = false;           // tapd said so for this connection (maybe before we heard of it)
  // Stale hold (RoutingConfig::stale_quiet/stale_max).
  std::unique_ptr<boost::asio::steady_timer> stale_timer;
  std::unique_ptr<boost::asio::steady_timer> refit_timer;  // FibProgrammer::maybe_refit, when too soon
  bool refit_armed = false;
  controller::Clock::time_point hold_since{}, last_change{};
  bool fib_in_place = false;  // reconciled with the switch on this connection
  std::unique_ptr<boost::asio::steady_timer> progress_timer;  // watch_progress
  std::unique_ptr<boost::asio::steady_timer> hold_timer;  // the programmer's `defer` (yield to BFD)
  bool progress_armed = false;
  controller::Clock::time_point progress_since{};

  explicit Switch(netns::NetNamespace n) : ns(std::move(n)) {}
};

Router::Router(boost::asio::io_context& io, RoutingConfig config)
    : io_(io), config_(std::move(config)) {}

Router::~Router() {
  for (auto& [dpid, sw] : switches_) {
    if (sw->stale_timer) sw->stale_timer->cancel();
    if (sw->refit_timer) sw->refit_timer->cancel();
    if (sw->progress_timer) sw->progress_timer->cancel();
    if (sw->hold_timer) sw->hold_timer->cancel();
    if (sw->watcher) sw->watcher->stop();
    if (sw->programmer) sw->programmer->stop();
  }
}

void Router::set_ports(std::uint64_t dpid, const std::string& netns_name, RouterPorts ports) {
  auto it = switches_.find(dpid);
  if (it == switches_.end()) {
    try {
      auto sw = std::make_unique<Switch>(netns::NetNamespace::open(netns_name));
      sw->dpid = dpid;
      sw->log = fmt::format("dpid={:016x} netns={}", dpid, netns_name);
      sw->ports = std::move(ports);
      sw->stale_timer = std::make_unique<boost::asio::steady_timer>(io_);
      sw->refit_timer = std::make_unique<boost::asio::steady_timer>(io_);
      sw->progress_timer = std::make_unique<boost::asio::steady_timer>(io_);
      sw->hold_timer = std::make_unique<boost::asio::steady_timer>(io_);
      Switch* raw = sw.get();
      sw->watcher = std::make_unique<netns::NetlinkWatcher>(
          io_, sw->ns, netns::NetlinkWatcher::kAll,
          [this, raw](const netns::KernelState& st, const netns::Changes& ch) {
            on_kernel_change(*raw, st, ch);
          });
      sw->watcher->start();
      spdlog::info("{} routing: following the kernel FIB", sw->log);
      switches_.emplace(dpid, std::move(sw));
    } catch (const std::exception& e) {
      ++counters_.setup_errors;
      spdlog::error("dpid={:016x} routing: cannot follow namespace {}: {}", dpid, netns_name,
                    e.what());
    }
    return;
  }
  Switch& sw = *it->second;
  if (sw.ports == ports) return;
  sw.ports = std::move(ports);
  if (sw.compiler && sw.watcher->synced()) {
    send(sw, sw.compiler->set_ports(sw.ports, sw.watcher->state()));
  }
}

void Router::set_l2_location(std::uint64_t dpid, int ifindex, const openflow::MacAddress& mac,
                             std::optional<L2Location> where) {
  ++counters_.l2_locations;
  L2Map& locs = l2_[dpid];
  const std::pair<int, openflow::MacAddress> key{ifindex, mac};
  if (where) {
    auto it = locs.find(key);
    if (it != locs.end() && it->second == *where) return;
    locs.insert_or_assign(key, *where);
  } else {
    const bool known = locs.erase(key) > 0;
    if (locs.empty()) l2_.erase(dpid);
    if (!known) return;
  }
  auto it = switches_.find(dpid);
  if (it == switches_.end() || !it->second->compiler) return;  // replayed when the compiler is made
  Switch& sw = *it->second;
  const FibDiff diff = sw.compiler->set_l2_location(ifindex, mac, where, sw.watcher->state());
  // Up but not reconciled yet: the reconcile sends the snapshot, which has it.
  if (sw.reconcile_pending) return;
  send(sw, diff);
}

void Router::on_kernel_change(Switch& sw, const netns::KernelState& state,
                              const netns::Changes& ch) {
  if (!sw.compiler) return;  // the switch never came up: nothing to compile for yet
  const auto t0 = controller::Clock::now();  // the netlink batch was just read
  FibDiff diff;
  if (ch.full_resync) {
    ++counters_.compiles;
    diff = sw.compiler->compile(state);
  } else {
    ++counters_.updates;
    diff = sw.compiler->update(state, ch);
  }
  const FibDiff refit = fit(sw);
  if (!diff.empty() || !refit.empty()) sw.last_change = t0;
  if (sw.reconcile_pending) {
    if (!sw.l2_pending) start_programming(sw);
    return;
  }
  send(sw, diff, t0);
  send(sw, refit, t0);
}

void Router::schedule_refit(Switch& sw) {
  if (!sw.programmer) return;
  const auto wait = sw.programmer->maybe_refit();
  if (!wait || sw.refit_armed) return;
  sw.refit_armed = true;
  sw.refit_timer->expires_after(*wait);
  sw.refit_timer->async_wait([this, raw = &sw](const boost::system::error_code& ec) {
    if (ec) return;
    raw->refit_armed = false;
    schedule_refit(*raw);
  });
}

FibDiff Router::fit(Switch& sw) {
  if (!sw.compiler) return {};
  give_room(sw);
  bool on = sw.compiler->compressing();
  switch (config_.compress) {
    case RoutingConfig::Compress::kAlways: on = true; break;
    case RoutingConfig::Compress::kNever: on = false; break;
    case RoutingConfig::Compress::kAuto: {
      const auto cap = capacity_of(sw);
      if (!cap) {
        on = false;
        break;
      }
      const double need = static_cast<double>(sw.compiler->uncompressed_flow_count());
      if (!on && need > *cap) on = true;
      if (on && need < 0.8 * *cap) on = false;
      break;
    }
  }
  if (on == sw.compiler->compressing()) return {};
  const std::size_t before = sw.compiler->flow_count();
  FibDiff d = sw.compiler->set_compress(on);
  spdlog::info("{} FIB: compression {}: {} routes, {} FIB flows (were {}); {} flow changes", sw.log,
               on ? "on" : "off", sw.compiler->route_count(), sw.compiler->flow_count(), before,
               d.size());
  return d;
}

void Router::give_room(Switch& sw) {
  // Without profiles (a Router outside tapflowd) the programmer keeps what
  // it was made with and what it reads from TABLE_FEATURES itself.
  if (sw.programmer && config_.profile_for) sw.programmer->set_table_capacity(room(sw));
}

std::optional<std::uint32_t> Router::room(const Switch& sw) const {
  if (sw.shared_table_size && config_.ingress_flows) {
    std::size_t tapd = config_.ingress_flows(sw.dpid);
    if (tapd == 0) tapd = pipeline::kIngressReserve;  // not installed yet
    return *sw.shared_table_size > tapd ? static_cast<std::uint32_t>(*sw.shared_table_size - tapd)
                                        : 1u;
  }
  return sw.capacity;
}

std::optional<std::uint32_t> Router::capacity_of(const Switch& sw) const {
  // The programmer's: room() as last given, or what a TABLE_FULL taught it.
  if (sw.programmer) return sw.programmer->table_capacity();
  return room(sw);
}

void Router::check_room(Switch& sw) {
  const auto capacity = capacity_of(sw);
  if (!capacity || !sw.compiler) return;
  const std::size_t want = sw.compiler->flow_count();
  const double cap = *capacity;
  // Warned at 90%, again only after dropping below 85% (no flapping log).
  if (!sw.near_full && static_cast<double>(want) >= 0.9 * cap) {
    sw.near_full = true;
    if (want > *capacity) {
      spdlog::error("{} FIB: needs {} flows{}, the switch's FIB table holds {}: the shortest "
                    "prefixes are left to the kernel (slow path)",
                    sw.log, want, sw.compiler->compressing() ? " compressed" : "", *capacity);
    } else {
      spdlog::warn("{} FIB: {} flows{} of the switch's {} ({:.0f}%): nearly full", sw.log, want,
                   sw.compiler->compressing() ? " compressed" : "", *capacity,
                   100.0 * static_cast<double>(want) / cap);
    }
  } else if (sw.near_full && static_cast<double>(want) < 0.85 * cap) {
    sw.near_full = false;
    spdlog::info("{} FIB: {} flows of the switch's {}: room again", sw.log, want, *capacity);
  }
}

void Router::send(Switch& sw, const FibDiff& diff, controller::Clock::time_point t0) {
  give_room(sw);
  check_room(sw);
  if (diff.empty() || sw.dp == nullptr || !sw.programmer) return;
  // From the kernel's change (as read from netlink) to the switch's
  // confirmation (bundle commit or barrier reply): the figure operators
  // watch for failover. Next-hop changes (groups rewritten) and big batches
  // are logged at info, routine route churn at debug.
  const std::size_t n = diff.size();
  const std::size_t groups = diff.groups_changed.size();
  const bool loud = groups > 0 || n >= 10000;
  spdlog::debug("{} FIB: {} changes", sw.log, n);
  // The programmer never calls back once destroyed (it is the Router's).
  sw.programmer->apply(diff, [this, raw = &sw, log = sw.log, t0, n, groups,
                              loud](openflow::Status st) {
    if (!st) return;  // errors are counted and logged by the programmer
    schedule_refit(*raw);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        controller::Clock::now() - t0)
                        .count();
    counters_.update_confirm_last_us = static_cast<std::uint64_t>(us);
    counters_.update_confirm_max_us =
        std::max(counters_.update_confirm_max_us, static_cast<std::uint64_t>(us));
    if (loud) {
      spdlog::info("{} FIB update confirmed by the switch {} us after the kernel's change: {} "
                   "changes, {} groups rewritten",
                   log, us, n, groups);
    } else {
      spdlog::debug("{} FIB update confirmed by the switch in {} us: {} changes", log, us, n);
    }
  });
  watch_progress(sw);
}

void Router::watch_progress(Switch& sw) {
  if (sw.progress_armed || !sw.programmer || sw.programmer->idle()) return;
  sw.progress_since = controller::Clock::now();
  log_progress_later(sw);
}

void Router::log_progress_later(Switch& sw) {
  sw.progress_armed = true;
  sw.progress_timer->expires_after(kProgressLogInterval);
  sw.progress_timer->async_wait([this, raw = &sw](const boost::system::error_code& ec) {
    if (ec) return;
    Switch& s = *raw;
    s.progress_armed = false;
    if (!s.programmer || s.dp == nullptr || s.programmer->idle()) return;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(controller::Clock::now() -
                                                                       s.progress_since)
                          .count();
    // Long operations only (a full sync, a big reconcile): the usual update
    // is confirmed well within the interval and logs nothing here.
    if (s.programmer->reconciling()) {
      spdlog::info("{} FIB programming: reading the switch's FIB back ({} s)", s.log, secs);
    } else {
      const std::uint64_t done = s.programmer->confirmed_messages();
      const std::uint64_t total = s.programmer->queued_messages();
      spdlog::info("{} FIB programming: {}/{} messages confirmed by the switch ({:.0f}%, {} s)",
                   s.log, done, total,
                   total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0.0,
                   secs);
    }
    log_progress_later(s);
  });
}

void Router::start_programming(Switch& sw) {
  sw.reconcile_pending = false;
  sw.fib_in_place = false;
  give_room(sw);
  ++counters_.reconciles;
  const std::string log = sw.log;
  const std::size_t flows = sw.compiler->flow_count();
  const std::size_t groups = sw.compiler->group_count();
  const auto t0 = controller::Clock::now();
  const bool hold = config_.stale_max.count() > 0;
  sw.stale_timer->cancel();
  Switch* raw = &sw;
  sw.programmer->reconcile(
      *sw.dp,
      [this, raw, log, flows, groups, t0](openflow::Status st) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            controller::Clock::now() - t0)
                            .count();
        if (!st) {
          spdlog::warn("{} FIB reconcile: {}", log, openflow::describe(st.error()));
          return;
        }
        raw->fib_in_place = true;
        spdlog::info("{} FIB in place: {} flows, {} groups (reconciled in {} ms)", log, flows,
                     groups, ms);
        if (raw->programmer->stale_flows() + raw->programmer->stale_groups() > 0) {
          ++counters_.stale_holds;
          raw->hold_since = controller::Clock::now();
          spdlog::info("{} FIB: holding {} stale flows and {} stale groups until the FIB has been "
                       "quiet for {} ms (at most {} ms)",
                       log, raw->programmer->stale_flows(), raw->programmer->stale_groups(),
                       config_.stale_quiet.count(), config_.stale_max.count());
          check_stale(*raw);
        }
      },
      hold);
  watch_progress(sw);
}

void Router::check_stale(Switch& sw) {
  if (!sw.programmer || sw.dp == nullptr) return;
  const std::size_t stale_flows = sw.programmer->stale_flows();
  const std::size_t stale_groups = sw.programmer->stale_groups();
  if (stale_flows + stale_groups == 0) return;
  const auto now = controller::Clock::now();
  // Still refilling (fewer flows than held stale): quiet means nothing yet.
  const bool refilling = sw.compiler->flow_count() < stale_flows;
  const char* why = nullptr;
  if (now - sw.hold_since >= config_.stale_max) {
    why = "the maximum hold is over";
  } else if (!refilling && now - std::max(sw.hold_since, sw.last_change) >= config_.stale_quiet) {
    why = "the FIB has been quiet";
  }
  if (why == nullptr) {
    sw.stale_timer->expires_after(std::chrono::milliseconds(250));
    sw.stale_timer->async_wait([this, raw = &sw](const boost::system::error_code& ec) {
      if (!ec) check_stale(*raw);
    });
    return;
  }
  ++counters_.stale_sweeps;
  const auto held_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - sw.hold_since).count();
  spdlog::info("{} FIB: {}: sweeping {} stale flows and {} stale groups held for {} ms", sw.log,
               why, stale_flows, stale_groups, held_ms);
  sw.programmer->sweep_stale();
}

void Router::on_datapath_up(Datapath& dp) {
  auto it = switches_.find(dp.datapath_id());
  if (it == switches_.end()) {
    spdlog::warn("{} routing: no TAPs for this switch (its namespace could not be set up)",
                 dp.log_name());
    return;
  }
  Switch& sw = *it->second;
  sw.dp = &dp;
  sw.fib_in_place = false;
  pipeline::SwitchProfile profile;
  profile.pipeline = config_.pipeline;
  if (config_.profile_for) profile = config_.profile_for(dp);
  FibOptions fo;
  fo.version = dp.version();
  fo.fib_table = profile.pipeline.fib_table.value_or(pipeline::table::kFib);
  fo.tables = config_.tables;
  fo.groups = profile.groups;
  fo.select_groups = profile.select_groups;
  fo.dec_ttl = profile.dec_ttl;
  fo.ipv6 = profile.ipv6;
  // The FIB's size: the configuration's, else the profile's (what the switch reports).
  std::optional<std::uint32_t> capacity = config_.programmer.table_capacity;
  if (!capacity) capacity = profile.fib_capacity;
  sw.shared_table_size =
      config_.programmer.table_capacity ? std::nullopt : profile.shared_table_size;
  sw.profile = std::string(pipeline::profile_name(profile.kind));
  sw.profile_summary = profile.summary();
  if (!sw.compiler || !(sw.compiler->options() == fo) || sw.capacity != capacity) {
    if (sw.compiler) {
      spdlog::info("{} routing: the switch's profile changed: FIB compiled anew", sw.log);
    }
    sw.capacity = capacity;
    sw.programmer.reset();
    sw.compiler = std::make_unique<FibCompiler>(fo, sw.ports);
    // Before any group exists: only records the locations.
    if (auto l2 = l2_.find(sw.dpid); l2 != l2_.end()) {
      for (const auto& [key, where] : l2->second) {
        (void)sw.compiler->set_l2_location(key.first, key.second, where, sw.watcher->state());
      }
    }
    FibProgrammerOptions po = config_.programmer;
    po.groups = profile.pipeline.fib_groups;
    po.table_capacity = capacity;
    // The profile read the switch's table sizes in the handshake.
    if (config_.profile_for) po.read_table_features = false;
    if (config_.bfd_watch && config_.bfd_yield > 0) {
      Switch* raw = &sw;
      po.hold = [this, raw] {
        const double share = config_.bfd_watch->worst_silence(raw->dpid, controller::Clock::now());
        if (share < config_.bfd_yield) return std::chrono::milliseconds(0);
        spdlog::debug("{} FIB: next bundle held: a BFD session silent for {:.0f}% of its detection time",
                      raw->log, share * 100);
        return std::chrono::milliseconds(10);
      };
      po.defer = [raw](std::chrono::milliseconds d, std::function<void()> f) {
        raw->hold_timer->expires_after(d);
        raw->hold_timer->async_wait([f = std::move(f)](const boost::system::error_code& ec) {
          if (!ec) f();
        });
      };
    }
    sw.programmer = std::make_unique<FibProgrammer>(*sw.compiler, po);
    if (config_.compress == RoutingConfig::Compress::kAlways) (void)sw.compiler->set_compress(true);
    if (sw.watcher->synced()) {
      ++counters_.compiles;
      (void)sw.compiler->compile(sw.watcher->state());
      (void)fit(sw);  // the reconcile sends the snapshot: compressed if it must be
    }
  }
  // Never reconcile against an empty snapshot: it would delete what the
  // switch still forwards. Wait for the kernel dump instead, and (VLAN mode)
  // for tapd's learned MACs.
  sw.reconcile_pending = true;
  bool vlan_ports = false;
  for (const auto& [ifindex, port] : sw.ports) vlan_ports = vlan_ports || port.vlan != 0;
  sw.l2_pending = vlan_ports && !sw.l2_ready;
  sw.l2_ready = false;
  if (sw.watcher->synced() && !sw.l2_pending) start_programming(sw);
}

void Router::set_l2_ready(std::uint64_t dpid) {
  auto it = switches_.find(dpid);
  if (it == switches_.end()) return;
  Switch& sw = *it->second;
  if (sw.dp == nullptr) {
    // tapd runs first on a datapath up: remember it for on_datapath_up.
    sw.l2_ready = true;
    return;
  }
  if (!sw.l2_pending) return;
  sw.l2_pending = false;
  if (sw.reconcile_pending && sw.watcher->synced()) start_programming(sw);
}

void Router::on_datapath_down(std::uint64_t dpid, const std::string& reason) {
  auto it = switches_.find(dpid);
  if (it == switches_.end()) return;
  Switch& sw = *it->second;
  sw.dp = nullptr;
  sw.reconcile_pending = false;
  sw.l2_pending = sw.l2_ready = false;
  sw.stale_timer->cancel();
  sw.refit_timer->cancel();
  sw.refit_armed = false;
  sw.progress_timer->cancel();
  sw.progress_armed = false;
  sw.fib_in_place = false;
  if (sw.programmer) sw.programmer->stop();
  spdlog::info("{} routing: switch away ({}); the FIB stays compiled", sw.log, reason);
}

void Router::on_error(Datapath& dp, const openflow::OfError& error, std::uint32_t xid) {
  auto it = switches_.find(dp.datapath_id());
  if (it == switches_.end() || !it->second->programmer) return;
  it->second->programmer->on_error(error, xid);
}

std::vector<Router::SwitchView> Router::switches() const {
  std::vector<SwitchView> out;
  for (const auto& [dpid, sw] : switches_) {
    SwitchView v;
    v.dpid = dpid;
    v.netns = sw->ns.name();
    v.synced = sw->watcher && sw->watcher->synced();
    v.connected = sw->dp != nullptr;
    v.fib_in_place = sw->fib_in_place;
    if (sw->watcher) v.watcher = sw->watcher->counters();
    if (sw->compiler) {
      v.compressing = sw->compiler->compressing();
      v.uncompressed_flows = sw->compiler->uncompressed_flow_count();
    }
    v.profile = sw->profile;
    v.profile_summary = sw->profile_summary;
    v.fib_capacity = capacity_of(*sw);
    if (v.synced) v.routes = sw->watcher->state().routes.size();
    if (sw->compiler) {
      v.flows = sw->compiler->flow_count();
      v.groups = sw->compiler->group_count();
      v.compiler_bytes = sw->compiler->memory_bytes();
    }
    if (sw->programmer) {
      v.programmer = sw->programmer->counters();
      v.installed_flows = sw->programmer->installed_flows();
      v.withheld_flows = sw->programmer->withheld();
      v.programming = !sw->programmer->idle();
      v.stale_flows = sw->programmer->stale_flows();
      v.stale_groups = sw->programmer->stale_groups();
      v.reading_back = sw->programmer->reconciling();
      v.progress_done = sw->programmer->confirmed_messages();
      v.progress_total = sw->programmer->queued_messages();
    }
    out.push_back(v);
  }
  return out;
}

const netns::KernelState* Router::kernel_state(std::uint64_t dpid) const {
  auto it = switches_.find(dpid);
  if (it == switches_.end() || !it->second->watcher || !it->second->watcher->synced()) return nullptr;
  return &it->second->watcher->state();
}

const FibCompiler* Router::compiler(std::uint64_t dpid) const {
  auto it = switches_.find(dpid);
  return it == switches_.end() ? nullptr : it->second->compiler.get();
}

const FibProgrammer* Router::programmer(std::uint64_t dpid) const {
  auto it = switches_.find(dpid);
  return it == switches_.end() ? nullptr : it->second->programmer.get();
}

}  // namespace tapflow::routing
