// NetlinkWatcher: follows one namespace's links, addresses, neighbours, routes
// and nexthop objects through rtnetlink (libnl), without ever blocking the
// event loop. It subscribes first and dumps second on the same socket, so no
// change falls in a gap; an overrun (ENOBUFS) or an interrupted dump throws the
// state away and dumps again (a full resync), so the state is always right.
#pragma once

// <utility> first: Boost 1.74 asio/awaitable.hpp uses std::exchange without it.
#include <utility>

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "tapflow/netns/kernel_state.hpp"
#include "tapflow/netns/namespace.hpp"

namespace tapflow::netns {

struct WatcherCounters {
  std::uint64_t messages = 0;    // netlink messages handled
  std::uint64_t dumps = 0;       // full dumps completed
  std::uint64_t resyncs = 0;     // dumps redone after an overrun or interrupted dump
  std::uint64_t overruns = 0;    // ENOBUFS seen
  std::uint64_t parse_errors = 0;
  std::uint64_t refreshes = 0;   // route/nexthop re-dumps after a link went down or lost carrier
};

// Tuning knobs; the defaults suit a full Internet table.
struct WatcherOptions {
  int receive_buffer_bytes = 64 << 20;  // SO_RCVBUFFORCE, else SO_RCVBUF (capped by rmem_max)
  unsigned max_recvs_per_batch = 256;   // (or 1 MiB) then the loop gets a turn before reading on
  unsigned recvs_per_call = 16;         // datagrams per recvmmsg() (1..16; 1: one system call each)
};

class NetlinkWatcher {
 public:
  enum Groups : unsigned {
    kLinks = 1,
    kAddresses = 2,
    kNeighbours = 4,
    kRoutes = 8,  // includes nexthop objects
    kAll = 15,
  };
  // Called on the io_context's thread after the initial dump (full_resync),
  // after each resync, and after each batch of changes. Never called while the
  // state is incomplete. It may call stop(), but must not destroy the watcher.
  using ChangeHandler = std::function<void(const KernelState&, const Changes&)>;

  // Opens the netlink socket inside `ns` (large receive buffer). Throws Error.
  // kRoutes also follows links and addresses: a link going down or losing its
  // last IPv4 address flushes IPv4 routes and nexthop objects without a word,
  // and the watcher re-dumps them when it sees that happen.
  NetlinkWatcher(boost::asio::io_context& io, const NetNamespace& ns, unsigned groups,
                 ChangeHandler on_change);
  NetlinkWatcher(boost::asio::io_context& io, const NetNamespace& ns, unsigned groups,
                 ChangeHandler on_change, WatcherOptions options);
  ~NetlinkWatcher();
  NetlinkWatcher(const NetlinkWatcher&) = delete;
  NetlinkWatcher& operator=(const NetlinkWatcher&) = delete;

  void start();  // subscribe, then dump; returns at once
  void stop();   // no more callbacks after this
  bool synced() const;
  const KernelState& state() const;
  const WatcherCounters& counters() const;

  // Handles `datagram` as if it had been read from the socket: tests feed
  // hand-built or mangled messages through the same parser the kernel's go to.
  void handle_datagram(std::span<const std::uint8_t> datagram);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tapflow::netns
