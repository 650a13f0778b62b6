#include "tapflow/cluster/mastership.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <vector>

namespace tapflow::cluster {

namespace asio = boost::asio;
using Clock = LeaseDeadline::Clock;
using namespace std::chrono_literals;

namespace {

// Retry pace for a failed campaign, observe or grant: quick enough to win an
// election soon after etcd is back, slow enough not to hammer a sick cluster.
constexpr auto kRetry = 200ms;
// After a keepalive failed on every endpoint, try again this soon: the
// lease's remaining time is what is at stake.
constexpr auto kKeepaliveRetry = 50ms;

std::string lease_text(std::int64_t lease) { return fmt::format("{:x}", lease); }

}  // namespace

// ---------------------------------------------------------------- deadline

void LeaseDeadline::acknowledged(Clock::time_point sent, std::chrono::seconds ttl) {
  valid_until_ = std::max(valid_until_, sent + ttl);
}

std::string election_name(const std::string& prefix, std::uint64_t dpid) {
  return fmt::format("{}switch/{:016x}", prefix, dpid);
}

// ---------------------------------------------------------------- elections

struct Mastership::Election {
  Election(asio::io_context& io, std::uint64_t d, std::string n)
      : dpid(d), name(std::move(n)), campaign_retry(io), observe_retry(io), hand_over_timer(io) {}
  ~Election() {
    campaign_call.cancel();
    observe_call.cancel();
  }

  std::uint64_t dpid;
  std::string name;
  Role role = Role::kStandby;
  LeaderKey key;  // ours, while master (key.rev is our generation)
  // The leader as observed (or as we won it): instance, generation, key.
  std::string leader;
  std::uint64_t leader_generation = 0;
  std::string leader_key;
  CallHandle campaign_call, observe_call;
  std::int64_t campaign_lease = 0;  // the lease the pending campaign uses
  bool handing_over = false;
  std::string handed_key;  // the key we resigned in hand_over()
  std::int64_t handed_rev = 0;
  asio::steady_timer campaign_retry, observe_retry, hand_over_timer;
};

Mastership::Mastership(asio::io_context& io, EtcdClient& etcd, MastershipOptions o,
                       std::function<void(const RoleChange&)> on_change)
    : io_(io),
      etcd_(etcd),
      options_(std::move(o)),
      on_change_(std::move(on_change)),
      tick_timer_(io),
      guard_timer_(io),
      grant_timer_(io) {}

Mastership::~Mastership() {
  alive_.reset();
  grant_call_.cancel();
  keepalive_call_.cancel();
  elections_.clear();
}

Mastership::Election* Mastership::find(std::uint64_t dpid) {
  auto it = elections_.find(dpid);
  return it == elections_.end() ? nullptr : it->second.get();
}

const Mastership::Election* Mastership::find(std::uint64_t dpid) const {
  auto it = elections_.find(dpid);
  return it == elections_.end() ? nullptr : it->second.get();
}

std::string Mastership::our_key(const std::string& name) const {
  // etcd's election key: the election name, '/', the lease id in hex.
  return name + "/" + lease_text(lease_);
}

void Mastership::notify(const Election& e, const std::string& reason) {
  if (!on_change_) return;
  const RoleChange change{
      e.dpid, e.role,
      e.role == Role::kMaster ? static_cast<std::uint64_t>(e.key.rev) : e.leader_generation,
      e.leader, reason};
  on_change_(change);
}

// ---------------------------------------------------------------- lease

void Mastership::start() {
  if (running_) return;
  running_ = true;
  spdlog::info("mastership: instance '{}' starting ({} switch(es), lease TTL {} s)",
               options_.instance_id, elections_.size(), options_.lease_ttl.count());
  for (auto& [dpid, e] : elections_) observe(*e);
  grant();
}

void Mastership::grant() {
  if (!running_) return;
  lease_state_ = LeaseState::kGranting;
  const auto sent = Clock::now();
  std::weak_ptr<bool> alive = alive_;
  grant_call_ = etcd_.grant_lease(options_.lease_ttl, [this, alive, sent](Result<Lease> r) {
    if (alive.lock()) on_granted(sent, r);
  });
}

void Mastership::on_granted(Clock::time_point sent, const Result<Lease>& r) {
  if (!running_) return;
  if (!r.ok()) {
    ++counters_.etcd_errors;
    if (!grant_failing_)
      spdlog::warn("mastership: cannot get an etcd lease (retrying every {} ms): {}",
                   kRetry.count(), r.error);
    else
      spdlog::debug("mastership: cannot get an etcd lease: {}", r.error);
    grant_failing_ = true;
    reachable_ = false;
    std::weak_ptr<bool> alive = alive_;
    grant_timer_.expires_after(kRetry);
    grant_timer_.async_wait([this, alive](boost::system::error_code ec) {
      if (!ec && alive.lock()) grant();
    });
    return;
  }
  ++counters_.lease_grants;
  grant_failing_ = false;
  reachable_ = true;
  lease_ = r.value.id;
  lease_state_ = LeaseState::kAlive;
  at_risk_ = false;
  deadline_.reset();
  deadline_.acknowledged(sent, std::chrono::seconds(r.value.ttl));
  spdlog::info("mastership: etcd lease {} granted (TTL {} s)", lease_text(lease_), r.value.ttl);
  arm_guard();
  tick();
  for (auto& [dpid, e] : elections_) {
    e->campaign_call.cancel();  // any pending one used a lease that is gone
    campaign(*e);
  }
}

std::chrono::milliseconds Mastership::keepalive_period() const {
  // ttl/6: five more chances to be answered before the lease expires.
  return std::max<std::chrono::milliseconds>(options_.lease_ttl / 6, 100ms);
}

std::chrono::milliseconds Mastership::keepalive_timeout() const {
  // A silent member costs one period at most before the next one is asked.
  return std::min(etcd_.options().request_timeout, keepalive_period());
}

void Mastership::tick() {
  if (!running_ || lease_state_ != LeaseState::kAlive) return;
  if (!keepalive_in_flight_) send_keepalive();
  const auto period = keepalive_period();
  std::weak_ptr<bool> alive = alive_;
  tick_timer_.expires_after(period);
  tick_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (!ec && alive.lock()) tick();
  });
}

void Mastership::send_keepalive() {
  keepalive_in_flight_ = true;
  const auto sent = Clock::now();
  const auto lease = lease_;
  std::weak_ptr<bool> alive = alive_;
  keepalive_call_ = etcd_.keep_alive(
      lease,
      [this, alive, sent, lease](Result<std::int64_t> r) {
        if (alive.lock()) on_keepalive(sent, lease, r);
      },
      keepalive_timeout());
}

void Mastership::on_keepalive(Clock::time_point sent, std::int64_t lease,
                              const Result<std::int64_t>& r) {
  keepalive_in_flight_ = false;
  if (!running_ || lease != lease_ || lease_state_ != LeaseState::kAlive) return;
  if (!r.ok()) {
    ++counters_.keepalive_failures;
    ++counters_.etcd_errors;
    if (r.code == EtcdErrc::kLeaseNotFound) return lease_lost("etcd lease expired");
    if (reachable_)
      spdlog::warn("mastership: keepalive of lease {} failed: {}", lease_text(lease_), r.error);
    else
      spdlog::debug("mastership: keepalive of lease {} failed: {}", lease_text(lease_), r.error);
    reachable_ = false;
    // Again soon, on the endpoint the client moved on to.
    std::weak_ptr<bool> alive = alive_;
    tick_timer_.expires_after(kKeepaliveRetry);
    tick_timer_.async_wait([this, alive](boost::system::error_code ec) {
      if (!ec && alive.lock()) tick();
    });
    return;
  }
  if (!reachable_) {
    const auto margin = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_.step_down_at(options_.guard) - Clock::now());
    spdlog::info("mastership: etcd answers again (lease {}, {} ms before a step-down)",
                 lease_text(lease_), margin.count());
    // A stream held by a member that stopped answering may never speak
    // again: observe anew (harmless if it was fine).
    for (auto& [dpid, e] : elections_) observe(*e);
  }
  reachable_ = true;
  if (r.value == 0) return lease_lost("etcd lease expired");
  deadline_.acknowledged(sent, std::chrono::seconds(r.value));
  arm_guard();
  if (at_risk_ && deadline_.safe(Clock::now(), options_.guard)) lease_recovered();
}

// The guard (400 ms by default) is how long before valid_until a master
// stops. valid_until alone already precedes the server's expiry; the guard
// covers what happens on our side after the decision: a late timer on a
// loaded host, the on_change handler sending ROLE_REQUEST SLAVE and the
// switch acting on it, and a steady clock that runs a little slow. It costs
// nothing while etcd answers: keepalives every ttl/6 (333 ms) keep
// valid_until 1.6 s or more ahead. A keepalive waits at most
// min(request_timeout, ttl/6) per member, less than the guard, before the
// next member is asked (a refused connection moves on at once), so a dead
// member, or a raft leader election of 0.5-1 s with fast etcd timers, is
// ridden out within the 1.6 s: an etcd member dying causes no step-down.
// (With etcd's default 1 s election timeout a raft leader's death can take
// 1-2 s and make a master with a 2 s lease step down: safe, not free.)
void Mastership::arm_guard() {
  std::weak_ptr<bool> alive = alive_;
  guard_timer_.expires_at(deadline_.step_down_at(options_.guard));
  guard_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (ec || !alive.lock() || !running_ || lease_state_ != LeaseState::kAlive) return;
    if (!deadline_.safe(Clock::now(), options_.guard)) lease_at_risk();
  });
}

void Mastership::lease_at_risk() {
  if (at_risk_) return;
  at_risk_ = true;
  spdlog::warn(
      "mastership: etcd lease {} at risk: no keepalive answered for {} ms", lease_text(lease_),
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease_ttl - options_.guard)
          .count());
  std::vector<std::uint64_t> dpids;
  for (auto& [dpid, e] : elections_) dpids.push_back(dpid);
  for (auto dpid : dpids)
    if (auto* e = find(dpid)) step_down(*e, "etcd lease at risk");
}

void Mastership::lease_recovered() {
  at_risk_ = false;
  spdlog::info("mastership: etcd lease {} alive again, campaigning", lease_text(lease_));
  // A campaign that won while we were at risk was ignored; campaigning again
  // with the same lease answers at once if we still lead.
  for (auto& [dpid, e] : elections_)
    if (!e->campaign_call.active()) campaign(*e);
}

void Mastership::lease_lost(const std::string& why) {
  spdlog::warn("mastership: etcd lease {} lost ({}), asking for a new one", lease_text(lease_),
               why);
  std::vector<std::uint64_t> dpids;
  for (auto& [dpid, e] : elections_) {
    e->campaign_call.cancel();
    dpids.push_back(dpid);
  }
  lease_ = 0;
  lease_state_ = LeaseState::kNone;
  deadline_.reset();
  at_risk_ = false;
  guard_timer_.cancel();
  keepalive_call_.cancel();
  keepalive_in_flight_ = false;
  for (auto dpid : dpids)
    if (auto* e = find(dpid)) step_down(*e, why);
  grant();
}

// ---------------------------------------------------------------- campaigns

void Mastership::campaign(Election& e) {
  if (!running_ || lease_state_ != LeaseState::kAlive || e.handing_over) return;
  if (e.campaign_call.active() && e.campaign_lease == lease_) return;
  e.campaign_call.cancel();
  e.campaign_lease = lease_;
  const auto dpid = e.dpid;
  const auto lease = lease_;
  std::weak_ptr<bool> alive = alive_;
  e.campaign_call = etcd_.campaign(e.name, lease, options_.instance_id,
                                   [this, alive, dpid, lease](Result<LeaderKey> r) {
                                     if (alive.lock()) on_campaign(dpid, lease, r);
                                   });
}

void Mastership::on_campaign(std::uint64_t dpid, std::int64_t lease, const Result<LeaderKey>& r) {
  Election* e = find(dpid);
  if (!e || !running_) return;
  if (!r.ok()) {
    ++counters_.etcd_errors;
    if (r.code == EtcdErrc::kLeaseNotFound && lease == lease_ && lease_state_ == LeaseState::kAlive)
      return lease_lost("etcd lease not found");
    if (reachable_)
      spdlog::warn("mastership: campaign for dpid {:016x} failed: {}", dpid, r.error);
    else
      spdlog::debug("mastership: campaign for dpid {:016x} failed: {}", dpid, r.error);
    return retry_later(*e, &Mastership::campaign);
  }
  if (lease != lease_ || r.value.lease != lease_) return;  // an old lease's campaign
  if (e->role == Role::kMaster) return;                    // campaigned again while leading
  if (e->handing_over) {
    // Won while we meant to stay out (a race with hand_over): give it back.
    etcd_.resign(r.value, [](Result<Empty>) {});
    return;
  }
  if (!deadline_.safe(Clock::now(), options_.guard)) {
    spdlog::info("mastership: won dpid {:016x} but lease {} is at risk; waiting for etcd", dpid,
                 lease_text(lease_));
    return;  // lease_recovered() campaigns again
  }
  if (static_cast<std::uint64_t>(r.value.rev) < e->leader_generation) {
    // A newer leader was observed since: this answer is stale.
    return retry_later(*e, &Mastership::campaign);
  }
  // Make sure the key that won is still there and leads: a campaign of ours
  // that etcd withdrew (a dropped connection it noticed late) deletes the
  // key this lease shares with the campaign that just won.
  const LeaderKey key = r.value;
  std::weak_ptr<bool> alive = alive_;
  etcd_.leader(e->name, [this, alive, dpid, lease, key](Result<KeyValue> l) {
    if (alive.lock()) on_verified(dpid, lease, key, l);
  });
}

void Mastership::on_verified(std::uint64_t dpid, std::int64_t lease, const LeaderKey& key,
                             const Result<KeyValue>& l) {
  Election* e = find(dpid);
  if (!e || !running_ || lease != lease_ || e->role == Role::kMaster) return;
  if (e->handing_over) {
    etcd_.resign(key, [](Result<Empty>) {});
    return;
  }
  if (!l.ok() || l.value.key != key.key || l.value.create_revision != key.rev) {
    if (!l.ok() && l.code != EtcdErrc::kNoLeader) ++counters_.etcd_errors;
    spdlog::info(
        "mastership: won dpid {:016x} but etcd does not confirm it ({}); campaigning again", dpid,
        l.ok() ? fmt::format("'{}' leads", l.value.value) : l.error);
    return retry_later(*e, &Mastership::campaign);
  }
  if (!deadline_.safe(Clock::now(), options_.guard)) return;  // lease_recovered() campaigns again
  if (static_cast<std::uint64_t>(key.rev) < e->leader_generation)
    return retry_later(*e, &Mastership::campaign);
  e->role = Role::kMaster;
  e->key = key;
  e->leader = options_.instance_id;
  e->leader_generation = static_cast<std::uint64_t>(key.rev);
  e->leader_key = key.key;
  ++counters_.elections_won;
  spdlog::info("mastership: elected master for dpid {:016x} generation {}", dpid, key.rev);
  notify(*e, "elected");
}

void Mastership::observe(Election& e) {
  if (!running_) return;
  e.observe_call.cancel();
  const auto dpid = e.dpid;
  std::weak_ptr<bool> alive = alive_;
  e.observe_call = etcd_.observe(e.name, [this, alive, dpid](Result<KeyValue> r) {
    if (alive.lock()) on_observed(dpid, r);
  });
}

void Mastership::on_observed(std::uint64_t dpid, const Result<KeyValue>& r) {
  Election* e = find(dpid);
  if (!e || !running_) return;
  if (!r.ok()) {
    ++counters_.etcd_errors;
    spdlog::debug("mastership: observing dpid {:016x}: {}", dpid, r.error);
    return retry_later(*e, &Mastership::observe);
  }
  const auto& kv = r.value;
  const auto gen = static_cast<std::uint64_t>(kv.create_revision);
  // Successive leaders have growing create revisions (the leader is the
  // oldest key); anything older is a stale message.
  if (gen < e->leader_generation) return;
  const bool changed = gen != e->leader_generation || kv.value != e->leader;
  e->leader = kv.value;
  e->leader_generation = gen;
  e->leader_key = kv.key;
  if (e->role == Role::kMaster) {
    if (gen > static_cast<std::uint64_t>(e->key.rev))
      step_down(*e, fmt::format("'{}' leads with generation {}", kv.value, gen));
    return;
  }
  if (e->handing_over && kv.key != e->handed_key &&
      gen > static_cast<std::uint64_t>(e->handed_rev)) {
    spdlog::info("mastership: dpid {:016x} handed over to '{}' (generation {})", dpid, kv.value,
                 gen);
    e->handing_over = false;
    e->hand_over_timer.cancel();
    campaign(*e);
  }
  // Our own key: the campaign's answer (on its own connection) makes us master.
  if (changed && kv.lease != lease_) notify(*e, fmt::format("leader is '{}'", kv.value));
}

void Mastership::retry_later(Election& e, void (Mastership::*what)(Election&)) {
  auto& timer = what == &Mastership::observe ? e.observe_retry : e.campaign_retry;
  const auto dpid = e.dpid;
  std::weak_ptr<bool> alive = alive_;
  timer.expires_after(kRetry);
  timer.async_wait([this, alive, dpid, what](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    if (auto* e2 = find(dpid)) (this->*what)(*e2);
  });
}

void Mastership::step_down(Election& e, const std::string& reason) {
  if (e.role != Role::kMaster) return;
  e.role = Role::kStandby;
  ++counters_.stepped_down;
  spdlog::warn("mastership: stepped down as master for dpid {:016x} generation {}: {}", e.dpid,
               e.key.rev, reason);
  notify(e, reason);
}

void Mastership::resign_if_leader(const std::string& name, std::int64_t lease) {
  // A waiting campaign we cancel is withdrawn by etcd; one that won just as
  // we cancelled it is not, so look, and resign the key if it is ours.
  EtcdClient* etcd = &etcd_;
  etcd_.leader(name, [etcd, name, lease](Result<KeyValue> r) {
    if (!r.ok() || r.value.lease != lease) return;
    etcd->resign(LeaderKey{name, r.value.key, r.value.create_revision, r.value.lease},
                 [](Result<Empty>) {});
  });
}

// ---------------------------------------------------------------- switches

void Mastership::join(std::uint64_t dpid) {
  if (find(dpid)) return;
  auto& e = *elections_
                 .emplace(dpid, std::make_unique<Election>(io_, dpid,
                                                           election_name(options_.prefix, dpid)))
                 .first->second;
  spdlog::info("mastership: joining the election for dpid {:016x} ({})", dpid, e.name);
  observe(e);
  campaign(e);
}

void Mastership::leave(std::uint64_t dpid) {
  auto it = elections_.find(dpid);
  if (it == elections_.end()) return;
  std::unique_ptr<Election> e = std::move(it->second);
  elections_.erase(it);
  e->campaign_call.cancel();
  e->observe_call.cancel();
  spdlog::info("mastership: leaving the election for dpid {:016x}", dpid);
  if (lease_ == 0) return;
  const bool was_master = e->role == Role::kMaster;
  if (was_master) {
    e->role = Role::kStandby;
    ++counters_.stepped_down;
    etcd_.resign(e->key, [dpid](Result<Empty> r) {
      if (!r.ok()) spdlog::warn("mastership: resigning dpid {:016x}: {}", dpid, r.error);
    });
  } else {
    resign_if_leader(e->name, lease_);
  }
  if (was_master) notify(*e, "left the election");
}

void Mastership::hand_over(std::uint64_t dpid) {
  Election* e = find(dpid);
  if (!e || e->role != Role::kMaster) return;
  const LeaderKey key = e->key;
  e->handing_over = true;
  e->handed_key = key.key;
  e->handed_rev = key.rev;
  e->campaign_call.cancel();
  // Stop first, resign after: the successor can only win once our key is gone.
  step_down(*e, "hand over");
  spdlog::info("mastership: handing over dpid {:016x} (resigning generation {})", dpid, key.rev);
  std::weak_ptr<bool> alive = alive_;
  etcd_.resign(key, [this, alive, dpid](Result<Empty> r) {
    if (r.ok() || !alive.lock()) return;
    ++counters_.etcd_errors;
    spdlog::warn("mastership: resigning dpid {:016x} for a hand-over: {}", dpid, r.error);
    if (auto* e2 = find(dpid); e2 && e2->handing_over) resign_if_leader(e2->name, lease_);
  });
  if (!(e = find(dpid))) return;  // on_change left the election
  e->hand_over_timer.expires_after(options_.hand_over_wait);
  e->hand_over_timer.async_wait([this, alive, dpid](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    auto* e2 = find(dpid);
    if (!e2 || !e2->handing_over) return;
    spdlog::info("mastership: nobody took dpid {:016x} over; campaigning again", dpid);
    e2->handing_over = false;
    campaign(*e2);
  });
}

void Mastership::hand_over_all() {
  std::vector<std::uint64_t> dpids;
  for (auto& [dpid, e] : elections_) dpids.push_back(dpid);
  for (auto dpid : dpids) hand_over(dpid);
}

void Mastership::stop(std::function<void()> done) {
  const bool was_running = running_;
  std::vector<std::uint64_t> dpids;
  for (auto& [dpid, e] : elections_) dpids.push_back(dpid);
  for (auto dpid : dpids)
    if (auto* e = find(dpid)) step_down(*e, "stopping");
  running_ = false;
  for (auto& [dpid, e] : elections_) {
    e->campaign_call.cancel();
    e->observe_call.cancel();
    e->campaign_retry.cancel();
    e->observe_retry.cancel();
    e->hand_over_timer.cancel();
    e->handing_over = false;
  }
  grant_call_.cancel();
  keepalive_call_.cancel();
  keepalive_in_flight_ = false;
  tick_timer_.cancel();
  guard_timer_.cancel();
  grant_timer_.cancel();
  const auto lease = lease_;
  lease_ = 0;
  lease_state_ = LeaseState::kNone;
  deadline_.reset();
  at_risk_ = false;
  if (!was_running || lease == 0) {
    if (done) asio::post(io_, std::move(done));
    return;
  }
  spdlog::info("mastership: stopping; revoking etcd lease {}", lease_text(lease));
  // Not bound to this object: the revoke is worth finishing even if it goes.
  etcd_.revoke(lease, [lease, done = std::move(done)](Result<Empty> r) {
    if (r.ok())
      spdlog::info("mastership: etcd lease {} revoked", lease_text(lease));
    else
      spdlog::warn("mastership: revoking etcd lease {}: {} (it expires by itself)",
                   lease_text(lease), r.error);
    if (done) done();
  });
}

// ---------------------------------------------------------------- queries

Role Mastership::role(std::uint64_t dpid) const {
  const auto* e = find(dpid);
  return e ? e->role : Role::kStandby;
}

std::uint64_t Mastership::generation(std::uint64_t dpid) const {
  const auto* e = find(dpid);
  return e && e->role == Role::kMaster ? static_cast<std::uint64_t>(e->key.rev) : 0;
}

std::uint64_t Mastership::leader_generation(std::uint64_t dpid) const {
  const auto* e = find(dpid);
  return e ? e->leader_generation : 0;
}

std::string Mastership::leader(std::uint64_t dpid) const {
  const auto* e = find(dpid);
  return e ? e->leader : std::string();
}

}  // namespace tapflow::cluster
