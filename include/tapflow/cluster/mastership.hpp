// Mastership: per-switch (datapath) master election among tapflowd instances,
// one etcd election per datapath, all campaigned with the instance's lease.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "tapflow/cluster/etcd_client.hpp"

namespace tapflow::cluster {

enum class Role { kStandby, kMaster };

// generation: ours when kMaster; the leader's (0 unknown) when kStandby.
struct RoleChange {
  std::uint64_t dpid;
  Role role;
  std::uint64_t generation;
  std::string leader;  // the leader's instance_id, "" unknown
  std::string reason;
};

struct MastershipOptions {
  std::string instance_id;           // stored as the election value, shown as leader
  std::string prefix = "/tapflow/";  // election name: prefix + "switch/" + 16 hex digits of dpid
  std::chrono::seconds lease_ttl{2};
  // Step down this long before the lease may expire (see LeaseDeadline).
  std::chrono::milliseconds guard{400};
  // hand_over(): how long to stay out of the election if nobody else leads it.
  std::chrono::milliseconds hand_over_wait{10000};
};

struct MastershipCounters {
  std::uint64_t elections_won = 0, stepped_down = 0, lease_grants = 0, keepalive_failures = 0,
                etcd_errors = 0;
};

// How long our lease is surely alive, as far as we can tell from here.
//
// etcd expires a lease TTL after the *server* received its last keepalive,
// which is after we sent it; so "send time of the last acknowledged keepalive
// + returned TTL" is a bound the server's expiry cannot precede (a raft leader
// change only extends leases). No other instance can win our elections before
// the lease expires, so a master that stops before valid_until never overlaps
// with its successor.
class LeaseDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // A keepalive (or the grant) sent at `sent` was answered with `ttl`
  // seconds. Out-of-order answers never move the bound back.
  void acknowledged(Clock::time_point sent, std::chrono::seconds ttl);
  void reset() { valid_until_ = {}; }

  bool known() const { return valid_until_ != Clock::time_point{}; }
  Clock::time_point valid_until() const { return valid_until_; }
  // When a master must have stepped down.
  Clock::time_point step_down_at(std::chrono::milliseconds guard) const {
    return valid_until_ - guard;
  }
  // Safe to be (or become) master at `now`.
  bool safe(Clock::time_point now, std::chrono::milliseconds guard) const {
    return known() && now < step_down_at(guard);
  }

 private:
  Clock::time_point valid_until_{};
};

// The election name of a datapath: prefix + "switch/" + 16 lower-case hex digits.
std::string election_name(const std::string& prefix, std::uint64_t dpid);

// Runs on the io_context thread like the EtcdClient it uses (which must
// outlive it). on_change runs on role changes, and also, with kStandby again,
// when a standby learns of a new leader (leader / leader_generation changed)
// so it can send a fresh ROLE_REQUEST SLAVE.
class Mastership {
 public:
  Mastership(boost::asio::io_context& io, EtcdClient& etcd, MastershipOptions o,
             std::function<void(const RoleChange&)> on_change);
  // Cancels everything without telling etcd (as a crash would: the lease
  // expires after its TTL). Call stop() first for a clean hand-over.
  ~Mastership();
  Mastership(const Mastership&) = delete;
  Mastership& operator=(const Mastership&) = delete;

  void start();  // grant the lease and keep it alive
  // Steps down everywhere, then revokes the lease, which deletes all our
  // election keys at once: a clean shutdown hands over at once. `done` runs
  // when etcd answered (or the revoke failed); keep the io_context running
  // until then.
  void stop(std::function<void()> done = {});
  void join(std::uint64_t dpid);   // campaign for this switch (idempotent)
  void leave(std::uint64_t dpid);  // stop campaigning / resign (switch disconnected)
  // Planned switchover: step down and resign; stay out of the election until
  // another instance leads it (or hand_over_wait if nobody else campaigns),
  // then campaign again as standby. No-op unless master.
  void hand_over(std::uint64_t dpid);
  void hand_over_all();

  Role role(std::uint64_t dpid) const;
  std::uint64_t generation(std::uint64_t dpid) const;         // ours while master
  std::uint64_t leader_generation(std::uint64_t dpid) const;  // the leader's (observe), 0 unknown
  std::string leader(std::uint64_t dpid) const;  // the leader's instance_id, "" unknown
  bool etcd_reachable() const { return reachable_; }
  const MastershipCounters& counters() const { return counters_; }
  std::int64_t lease() const { return lease_; }  // 0 while none

 private:
  struct Election;
  enum class LeaseState { kNone, kGranting, kAlive };

  void grant();
  void on_granted(LeaseDeadline::Clock::time_point sent, const Result<Lease>& r);
  void tick();
  void send_keepalive();
  void on_keepalive(LeaseDeadline::Clock::time_point sent, std::int64_t lease,
                    const Result<std::int64_t>& r);
  void arm_guard();
  void lease_at_risk();
  void lease_lost(const std::string& why);
  void lease_recovered();

  void campaign(Election& e);
  void on_campaign(std::uint64_t dpid, std::int64_t lease, const Result<LeaderKey>& r);
  void on_verified(std::uint64_t dpid, std::int64_t lease, const LeaderKey& key,
                   const Result<KeyValue>& l);
  std::chrono::milliseconds keepalive_period() const;
  std::chrono::milliseconds keepalive_timeout() const;
  void observe(Election& e);
  void on_observed(std::uint64_t dpid, const Result<KeyValue>& r);
  void resign_if_leader(const std::string& name, std::int64_t lease);
  void step_down(Election& e, const std::string& reason);
  void retry_later(Election& e, void (Mastership::*what)(Election&));
  Election* find(std::uint64_t dpid);
  const Election* find(std::uint64_t dpid) const;
  void notify(const Election& e, const std::string& reason);
  std::string our_key(const std::string& name) const;

  boost::asio::io_context& io_;
  EtcdClient& etcd_;
  MastershipOptions options_;
  std::function<void(const RoleChange&)> on_change_;

  bool running_ = false;
  LeaseState lease_state_ = LeaseState::kNone;
  std::int64_t lease_ = 0;
  LeaseDeadline deadline_;
  bool at_risk_ = false;
  bool reachable_ = false;
  bool keepalive_in_flight_ = false;
  bool grant_failing_ = false;  // a failed grant was logged as a warning
  CallHandle grant_call_, keepalive_call_;
  boost::asio::steady_timer tick_timer_, guard_timer_, grant_timer_;
  std::map<std::uint64_t, std::unique_ptr<Election>> elections_;
  MastershipCounters counters_;
  // Checked by callbacks that may outlive this object's members' calls.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tapflow::cluster
