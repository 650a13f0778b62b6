// Router: the routing part of the router app. For every switch it follows the
// namespace's kernel state (NetlinkWatcher), compiles it into FIB flows and
// groups (FibCompiler) and keeps the switch equal to that (FibProgrammer):
// reconciled when the switch comes up, then only differences.
#pragma once

// <utility> first: Boost 1.74 asio/awaitable.hpp uses std::exchange without it.
#include <utility>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapflow/bfdwatch/bfd_watch.hpp"
#include "tapflow/controller/app.hpp"
#include "tapflow/netns/netlink_watcher.hpp"
#include "tapflow/pipeline/profile.hpp"
#include "tapflow/routing/fib_compiler.hpp"
#include "tapflow/routing/fib_programmer.hpp"

namespace tapflow::routing {

struct RoutingConfig {
  // The switches' layout: the FIB table (1.3; tapd's flows jump there) and
  // the group ids routing owns (they override programmer.groups).
  pipeline::Pipeline pipeline = pipeline::Pipeline::standard();
  // Per connection: what the switch's profile lets the FIB use (tables,
  // groups, TTL, size; the daemon resolves it, pipeline/profile.hpp). Unset:
  // `pipeline` with everything for every switch.
  std::function<pipeline::SwitchProfile(const controller::Datapath&)> profile_for;
  // One-table layout: the flows tapd keeps in table 0 of a switch (by dpid),
  // taken off the table's size to give the FIB's room.
  std::function<std::size_t(std::uint64_t)> ingress_flows;
  std::vector<std::uint32_t> tables{254};    // kernel route tables, in precedence order
  // FIB compression (FibCompiler::set_compress): kAuto compresses while the
  // FIB would not fit the switch's table (on above its size, off again below
  // 80% of it); kAlways whatever the size; kNever not at all.
  enum class Compress : std::uint8_t { kAuto, kAlways, kNever };
  Compress compress = Compress::kAuto;
  FibProgrammerOptions programmer;
  // After a reconcile (tapflowd started, the switch reconnected) the switch's
  // flows and groups that the namespace's FIB does not have are held as
  // stale (FibProgrammer) and swept once the FIB has been quiet for
  // `stale_quiet`, or after `stale_max` at the latest. While the FIB has
  // fewer flows than are held stale (the routing daemon is still learning
  // its routes) quiet does not count. stale_max 0: no hold, a reconcile
  // deletes at once.
  std::chrono::milliseconds stale_quiet{5000};
  std::chrono::milliseconds stale_max{120000};
  // Yield to BFD: the BFD sessions crossing each switch, as tapd sees them
  // (the daemon gives tapd and routing the same watch). While one that is Up
  // has been silent for `bfd_yield` of its detection time, the switch's FIB
  // programmer holds its next bundle (10 ms at a time, asked again), so the
  // switch and the CPUs serve the late packets first. 0 or no watch: never.
  std::shared_ptr<const bfdwatch::BfdWatch> bfd_watch;
  double bfd_yield = 0.4;
};

struct RouterCounters {
  std::uint64_t compiles = 0;        // full compiles (initial dump, resync, new version)
  std::uint64_t updates = 0;         // incremental batches
  std::uint64_t reconciles = 0;
  std::uint64_t setup_errors = 0;    // namespace or netlink failures
  // Kernel change read from netlink -> the switch confirmed the update.
  std::uint64_t update_confirm_last_us = 0, update_confirm_max_us = 0;
  std::uint64_t l2_locations = 0;    // VLAN MAC location changes received (set or cleared)
  std::uint64_t stale_holds = 0;     // reconciles that held stale flows or groups
  std::uint64_t stale_sweeps = 0;    // holds ended by a sweep
};

class Router final : public controller::App {
 public:
  Router(boost::asio::io_context& io, RoutingConfig config);
  ~Router() override;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The switch's TAPs (from tapd, through the daemon): which kernel interface
  // is which switch port, and the router MAC there. The first call for a
  // datapath starts following its namespace.
  void set_ports(std::uint64_t dpid, const std::string& netns, RouterPorts ports);
  // VLAN mode (from tapd's learning, through the daemon): `mac` behind the
  // VLAN TAP `ifindex` was learned at `where`, or is gone (nullopt). Kept per
  // datapath whether or not its namespace, compiler or switch exist yet, and
  // given to every compiler made for it; changes are sent while programming.
  void set_l2_location(std::uint64_t dpid, int ifindex, const openflow::MacAddress& mac,
                       std::optional<L2Location> where);
  // VLAN mode (from tapd): the learned locations of this datapath's
  // connection are all known. A switch with VLAN router ports is reconciled
  // only after this, so its next-hop groups compare with the switch's as
  // they are, and nothing is rewritten because tapd had not read back yet.
  void set_l2_ready(std::uint64_t dpid);

  void on_datapath_up(controller::Datapath& dp) override;
  void on_datapath_down(std::uint64_t dpid, const std::string& reason) override;
  void on_error(controller::Datapath& dp, const openflow::OfError& error,
                std::uint32_t xid) override;

  const RouterCounters& counters() const { return counters_; }
  // Per datapath: flows and groups the compiler wants, the programmer's counters.
  struct SwitchView {
    std::uint64_t dpid = 0;
    std::string netns;
    std::size_t routes = 0, flows = 0, groups = 0;
    std::size_t compiler_bytes = 0;
    bool synced = false;     // the namespace's kernel state is dumped (netlink)
    bool connected = false;  // the switch is up for routing (master in cluster mode)
    // The FIB was reconciled with the switch on this connection (then only
    // differences follow); reading back: the reconcile reads the switch's FIB.
    bool fib_in_place = false, reading_back = false;
    // Messages the switch confirmed and queued since the last reconcile read
    // (FibProgrammer::confirmed_messages / queued_messages).
    std::uint64_t progress_done = 0, progress_total = 0;
    FibProgrammerCounters programmer;
    std::uint64_t installed_flows = 0;  // sent and not removed (withheld ones excluded)
    std::uint64_t withheld_flows = 0;   // left out: the switch's FIB table is full
    bool programming = false;           // changes queued or not yet confirmed by the switch
    std::size_t stale_flows = 0, stale_groups = 0;  // held since the last reconcile
    netns::WatcherCounters watcher;  // its namespace's netlink watcher
    std::string profile;          // its connection's profile: ovs, mikrotik, generic-of13, ...
    std::string profile_summary;  // SwitchProfile::summary()
    std::optional<std::uint32_t> fib_capacity;  // flows its FIB table holds; unset: no limit known
    bool compressing = false;                   // the route flows are compressed
    std::size_t uncompressed_flows = 0;         // flows the FIB would need uncompressed
  };
  std::vector<SwitchView> switches() const;
  // For inspection (tapflowd's control socket), on the event loop: a
  // datapath's namespace state as netlink gave it (nullptr until dumped), its
  // compiler and programmer (nullptr until the switch first came up), and
  // the kernel route tables followed.
  const netns::KernelState* kernel_state(std::uint64_t dpid) const;
  const FibCompiler* compiler(std::uint64_t dpid) const;
  const FibProgrammer* programmer(std::uint64_t dpid) const;
  const std::vector<std::uint32_t>& route_tables() const { return config_.tables; }

 private:
  struct Switch;
  using L2Map = std::map<std::pair<int, openflow::MacAddress>, L2Location>;
  void on_kernel_change(Switch& sw, const netns::KernelState& state, const netns::Changes& ch);
  void start_programming(Switch& sw);
  // Logs when the FIB nears (90%) or exceeds the switch's table, and when it fits again.
  void check_room(Switch& sw);
  // Turns compression on or off as RoutingConfig::compress says for the FIB's
  // size now; the diff that moves the switch there (empty: no change).
  FibDiff fit(Switch& sw);
  // Lets the programmer refit (withheld flows, TABLE_FULL), now or when it may.
  void schedule_refit(Switch& sw);
  // The FIB's room as the profile (or the config) gives it; one table: table
  // 0's size less tapd's flows there.
  std::optional<std::uint32_t> room(const Switch& sw) const;
  // Hands room() to the programmer (with profiles, i.e. in tapflowd).
  void give_room(Switch& sw);
  // What the programmer works with: room(), or what a TABLE_FULL showed if smaller.
  std::optional<std::uint32_t> capacity_of(const Switch& sw) const;
  // Sweeps the stale flows and groups once the hold is over, else looks again later.
  void check_stale(Switch& sw);
  // While the programmer works, logs its progress every kProgressLogInterval.
  void watch_progress(Switch& sw);
  void log_progress_later(Switch& sw);
  static constexpr std::chrono::seconds kProgressLogInterval{5};
  // `t0`: when the change that caused `diff` was read (for the confirm time).
  void send(Switch& sw, const FibDiff& diff,
            controller::Clock::time_point t0 = controller::Clock::now());

  boost::asio::io_context& io_;
  RoutingConfig config_;
  std::map<std::uint64_t, std::unique_ptr<Switch>> switches_;
  std::map<std::uint64_t, L2Map> l2_;  // by dpid: what tapd last said, replayed into new compilers
  RouterCounters counters_;
};

}  // namespace tapflow::routing
