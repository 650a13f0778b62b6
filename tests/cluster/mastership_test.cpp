// Mastership between tapflowd instances on a real 3-member etcd cluster:
// exactly one master per switch, failover within the lease TTL when the
// master dies, hand-over and shutdown without overlap, no role change when an
// etcd member dies, and a master cut off from etcd steps down before anyone
// else is elected.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "etcd_cluster.hpp"
#include "tapflow/cluster/mastership.hpp"

namespace tapflow::cluster {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::EtcdCluster;
using testing::run_until;
using testing::TcpProxy;

constexpr std::uint64_t kDpid = 0x00000000000000a1;

struct Event {
  std::string who;
  RoleChange change;
  Clock::time_point at;
};

// Every on_change of every instance, in order, and who is master of what:
// `most_masters` is the most instances that were master of one switch at once.
class Recorder {
 public:
  std::function<void(const RoleChange&)> sink(const std::string& who) {
    return [this, who](const RoleChange& c) {
      events.push_back({who, c, Clock::now()});
      auto& set = masters[c.dpid];
      if (c.role == Role::kMaster)
        set.insert(who);
      else
        set.erase(who);
      most_masters = std::max(most_masters, set.size());
    };
  }
  // A crashed instance programs nothing any more.
  void crashed(const std::string& who) {
    for (auto& [dpid, set] : masters) set.erase(who);
  }
  // Role changes of `who` (standby leader updates excluded).
  int role_changes(const std::string& who) const {
    int n = 0;
    std::map<std::uint64_t, Role> last;
    for (const auto& e : events) {
      if (e.who != who) continue;
      auto it = last.find(e.change.dpid);
      const Role before = it == last.end() ? Role::kStandby : it->second;
      n += before != e.change.role;
      last[e.change.dpid] = e.change.role;
    }
    return n;
  }
  // When `who` last became `role` for kDpid.
  std::optional<Clock::time_point> last(const std::string& who, Role role) const {
    std::optional<Clock::time_point> at;
    Role prev = Role::kStandby;
    for (const auto& e : events)
      if (e.who == who && e.change.dpid == kDpid) {
        if (e.change.role == role && prev != role) at = e.at;
        prev = e.change.role;
      }
    return at;
  }
  Event last_event(const std::string& who) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->who == who) return *it;
    return {};
  }
  std::string dump() const {
    std::string out;
    const auto t0 = events.empty() ? Clock::now() : events.front().at;
    for (const auto& e : events)
      out +=
          fmt::format("  +{:5} ms {} dpid {:x} {} gen {} leader '{}' ({})\n",
                      std::chrono::duration_cast<std::chrono::milliseconds>(e.at - t0).count(),
                      e.who, e.change.dpid, e.change.role == Role::kMaster ? "MASTER " : "standby",
                      e.change.generation, e.change.leader, e.change.reason);
    return out;
  }

  std::vector<Event> events;
  std::map<std::uint64_t, std::set<std::string>> masters;
  std::size_t most_masters = 0;
};

struct Instance {
  Instance(asio::io_context& io, Recorder& rec, std::string id_, std::vector<std::string> endpoints,
           MastershipOptions o = {})
      : id(std::move(id_)), recorder(rec) {
    client = std::make_unique<EtcdClient>(io, EtcdOptions{std::move(endpoints), {}, 500ms});
    o.instance_id = id;
    o.prefix = "/tapflow-test/";
    m = std::make_unique<Mastership>(io, *client, o, rec.sink(id));
  }
  // As SIGKILL: nothing told to etcd, every connection closed.
  void crash() {
    m.reset();
    client.reset();
    recorder.crashed(id);
  }
  Mastership& operator*() { return *m; }
  Mastership* operator->() { return m.get(); }

  std::string id;
  Recorder& recorder;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<Mastership> m;
};

class MastershipTest : public ::testing::Test {
 protected:
  void start_etcd(int members = 3) {
    etcd_ = std::make_unique<EtcdCluster>(members);
    const auto why = etcd_->start();
    ASSERT_TRUE(why.empty()) << why;
  }
  bool until(const std::function<bool()>& f, std::chrono::milliseconds limit) {
    return run_until(io_, f, limit);
  }
  // A master and a standby that knows it: the usual starting point.
  void master_and_standby(Instance& a, Instance& b) {
    a->start();
    a->join(kDpid);
    ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 5s)) << rec_.dump();
    b->start();
    b->join(kDpid);
    ASSERT_TRUE(until([&] { return b->leader(kDpid) == a.id; }, 5s)) << rec_.dump();
    EXPECT_EQ(b->role(kDpid), Role::kStandby);
    EXPECT_EQ(b->leader_generation(kDpid), a->generation(kDpid));
  }
  void TearDown() override {
    EXPECT_LE(rec_.most_masters, 1u) << "two masters at once:\n" << rec_.dump();
  }

  asio::io_context io_;
  std::unique_ptr<EtcdCluster> etcd_;
  Recorder rec_;
};

TEST_F(MastershipTest, ExactlyOneMasterAndFailoverWhenItDies) {
  ASSERT_NO_FATAL_FAILURE(start_etcd());
  Instance a(io_, rec_, "a", etcd_->endpoints());
  Instance b(io_, rec_, "b", etcd_->endpoints());
  ASSERT_NO_FATAL_FAILURE(master_and_standby(a, b));
  const auto gen_a = a->generation(kDpid);
  EXPECT_GT(gen_a, 0u);
  EXPECT_EQ(a->leader(kDpid), "a");
  EXPECT_EQ(a->counters().elections_won, 1u);
  EXPECT_EQ(a->counters().lease_grants, 1u);
  testing::run_for(io_, 1s);  // keepalives hold it
  EXPECT_EQ(a->role(kDpid), Role::kMaster);
  EXPECT_EQ(b->role(kDpid), Role::kStandby);
  EXPECT_EQ(b->generation(kDpid), 0u);

  const auto killed = Clock::now();
  a.crash();
  ASSERT_TRUE(until([&] { return b->role(kDpid) == Role::kMaster; }, 5s)) << rec_.dump();
  const auto took = Clock::now() - killed;
  EXPECT_LT(took, 3s) << "TTL 2 s + 1 s";  // ttl + 1 s
  EXPECT_GT(b->generation(kDpid), gen_a);
  EXPECT_EQ(b->leader(kDpid), "b");
  EXPECT_EQ(rec_.events.back().change.generation, b->generation(kDpid));
}

TEST_F(MastershipTest, HandOverMovesMastershipWithoutOverlapAndBack) {
  ASSERT_NO_FATAL_FAILURE(start_etcd());
  Instance a(io_, rec_, "a", etcd_->endpoints());
  Instance b(io_, rec_, "b", etcd_->endpoints());
  ASSERT_NO_FATAL_FAILURE(master_and_standby(a, b));
  const auto gen_a = a->generation(kDpid);

  const auto t0 = Clock::now();
  a->hand_over(kDpid);
  EXPECT_EQ(a->role(kDpid), Role::kStandby);  // at once, before etcd hears of it
  ASSERT_TRUE(until([&] { return b->role(kDpid) == Role::kMaster; }, 3s)) << rec_.dump();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_GT(b->generation(kDpid), gen_a);
  EXPECT_LT(*rec_.last("a", Role::kStandby), *rec_.last("b", Role::kMaster));
  // A campaigns again, as standby behind B.
  ASSERT_TRUE(until([&] { return a->leader(kDpid) == "b"; }, 3s)) << rec_.dump();
  testing::run_for(io_, 300ms);
  EXPECT_EQ(a->role(kDpid), Role::kStandby);

  // ...so it takes over when B hands over in turn.
  b->hand_over(kDpid);
  ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 3s)) << rec_.dump();
  EXPECT_GT(a->generation(kDpid), gen_a);
  EXPECT_EQ(b->role(kDpid), Role::kStandby);
}

TEST_F(MastershipTest, HandOverWithNobodyElseCampaignsAgainAfterTheWait) {
  ASSERT_NO_FATAL_FAILURE(start_etcd(1));
  MastershipOptions o;
  o.hand_over_wait = 1s;
  Instance a(io_, rec_, "a", etcd_->endpoints(), o);
  a->start();
  a->join(kDpid);
  ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 5s));
  const auto gen = a->generation(kDpid);
  a->hand_over(kDpid);
  testing::run_for(io_, 700ms);
  EXPECT_EQ(a->role(kDpid), Role::kStandby);
  ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 2s)) << rec_.dump();
  EXPECT_GT(a->generation(kDpid), gen);
}

TEST_F(MastershipTest, ManySwitchesShareOneLeaseAndHandOverAll) {
  ASSERT_NO_FATAL_FAILURE(start_etcd(1));
  Instance a(io_, rec_, "a", etcd_->endpoints());
  Instance b(io_, rec_, "b", etcd_->endpoints());
  const std::vector<std::uint64_t> dpids = {1, 2, 0xfedcba9876543210};
  a->start();
  for (auto d : dpids) a->join(d);
  a->join(1);  // idempotent
  ASSERT_TRUE(until(
      [&] {
        return std::all_of(dpids.begin(), dpids.end(),
                           [&](auto d) { return a->role(d) == Role::kMaster; });
      },
      5s));
  b->start();
  for (auto d : dpids) b->join(d);
  ASSERT_TRUE(until(
      [&] {
        return std::all_of(dpids.begin(), dpids.end(), [&](auto d) { return b->leader(d) == "a"; });
      },
      5s));
  EXPECT_EQ(a->counters().lease_grants, 1u);
  EXPECT_EQ(a->counters().elections_won, 3u);

  a->hand_over_all();
  ASSERT_TRUE(until(
      [&] {
        return std::all_of(dpids.begin(), dpids.end(),
                           [&](auto d) { return b->role(d) == Role::kMaster; });
      },
      3s))
      << rec_.dump();
  for (auto d : dpids) EXPECT_EQ(rec_.masters[d], std::set<std::string>{"b"});

  // Leaving a switch resigns it: A, back in the election, takes it over.
  ASSERT_TRUE(until(
      [&] {
        return std::all_of(dpids.begin(), dpids.end(), [&](auto d) { return a->leader(d) == "b"; });
      },
      3s))
      << rec_.dump();
  testing::run_for(io_, 300ms);  // A's campaigns are in place
  b->leave(2);
  EXPECT_EQ(b->role(2), Role::kStandby);
  ASSERT_TRUE(until([&] { return a->role(2) == Role::kMaster; }, 3s)) << rec_.dump();
}

TEST_F(MastershipTest, StopHandsOverAtOnce) {
  ASSERT_NO_FATAL_FAILURE(start_etcd(1));
  Instance a(io_, rec_, "a", etcd_->endpoints());
  Instance b(io_, rec_, "b", etcd_->endpoints());
  ASSERT_NO_FATAL_FAILURE(master_and_standby(a, b));
  const auto t0 = Clock::now();
  bool stopped = false;
  a->stop([&] { stopped = true; });
  EXPECT_EQ(a->role(kDpid), Role::kStandby);
  ASSERT_TRUE(until([&] { return b->role(kDpid) == Role::kMaster && stopped; }, 3s)) << rec_.dump();
  EXPECT_LT(Clock::now() - t0, 1s);  // not the lease TTL
}

TEST_F(MastershipTest, LeaseRevokedBehindOurBackStepsDownAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(start_etcd(1));
  Instance a(io_, rec_, "a", etcd_->endpoints());
  a->start();
  a->join(kDpid);
  ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 5s));
  const auto gen = a->generation(kDpid);
  EtcdClient other(io_, {etcd_->endpoints(), {}, 500ms});
  std::optional<Result<Empty>> revoked;
  other.revoke(a->lease(), [&](Result<Empty> r) { revoked = r; });
  ASSERT_TRUE(until([&] { return revoked.has_value(); }, 3s));
  ASSERT_TRUE(revoked->ok()) << revoked->error;
  ASSERT_TRUE(
      until([&] { return a->counters().lease_grants == 2 && a->role(kDpid) == Role::kMaster; }, 3s))
      << rec_.dump();
  EXPECT_GT(a->generation(kDpid), gen);
  EXPECT_EQ(a->counters().stepped_down, 1u);
}

// An etcd member dying, the raft leader included, fails over without a role change.
TEST_F(MastershipTest, EtcdMemberDeathCausesNoRoleChange) {
  ASSERT_NO_FATAL_FAILURE(start_etcd());
  int raft_leader = -1;
  ASSERT_TRUE(until([&] { return (raft_leader = etcd_->leader()) >= 0; }, 5s));
  // A talks to the raft leader first, so its own connections die too.
  auto eps = etcd_->endpoints();
  std::rotate(eps.begin(), eps.begin() + raft_leader, eps.end());
  Instance a(io_, rec_, "a", eps);
  Instance b(io_, rec_, "b", etcd_->endpoints());
  ASSERT_NO_FATAL_FAILURE(master_and_standby(a, b));
  const auto changes = rec_.events.size();

  for (int round = 0; round < 2; ++round) {
    raft_leader = etcd_->leader();
    ASSERT_GE(raft_leader, 0);
    etcd_->kill(static_cast<std::size_t>(raft_leader));
    testing::run_for(io_, 3s);  // longer than the lease TTL
    EXPECT_EQ(a->role(kDpid), Role::kMaster) << "round " << round << "\n" << rec_.dump();
    EXPECT_EQ(b->role(kDpid), Role::kStandby);
    EXPECT_EQ(a->counters().stepped_down, 0u);
    EXPECT_EQ(rec_.role_changes("a"), 1);  // elected, once
    EXPECT_EQ(rec_.role_changes("b"), 0);
    etcd_->restart(static_cast<std::size_t>(raft_leader));
    ASSERT_TRUE(etcd_->wait_healthy(10s).empty());
    testing::run_for(io_, 500ms);
  }
  EXPECT_EQ(rec_.events.size(), changes) << rec_.dump();
}

// A master cut off from etcd (all its connections silent, as behind a dead
// link) steps down before the standby can be elected, and competes again
// once etcd is back.
TEST_F(MastershipTest, MasterCutFromEtcdStepsDownBeforeTheOtherIsElected) {
  ASSERT_NO_FATAL_FAILURE(start_etcd());
  std::vector<std::unique_ptr<TcpProxy>> proxies;
  std::vector<std::string> via_proxies;
  for (std::size_t i = 0; i < etcd_->size(); ++i) {
    proxies.push_back(std::make_unique<TcpProxy>(etcd_->member(i).client_port));
    via_proxies.push_back(proxies.back()->url());
  }
  Instance a(io_, rec_, "a", via_proxies);
  Instance b(io_, rec_, "b", etcd_->endpoints());
  ASSERT_NO_FATAL_FAILURE(master_and_standby(a, b));
  const auto gen_a = a->generation(kDpid);

  const auto cut = Clock::now();
  for (auto& p : proxies) p->cut();
  ASSERT_TRUE(until([&] { return b->role(kDpid) == Role::kMaster; }, 6s)) << rec_.dump();
  const auto a_down = rec_.last("a", Role::kStandby);
  const auto b_up = rec_.last("b", Role::kMaster);
  ASSERT_TRUE(a_down && b_up) << rec_.dump();
  EXPECT_LT(*a_down, *b_up) << rec_.dump();
  EXPECT_LT(*a_down - cut, 2s) << "stepped down within the TTL";
  EXPECT_EQ(rec_.last_event("a").change.reason, "etcd lease at risk") << rec_.dump();
  EXPECT_GT(b->generation(kDpid), gen_a);
  EXPECT_FALSE(a->etcd_reachable());
  EXPECT_GT(a->counters().keepalive_failures, 0u);

  // etcd is back: A's lease is gone; it takes a new one and waits behind B.
  for (auto& p : proxies) p->restore();
  ASSERT_TRUE(until([&] { return a->etcd_reachable() && a->counters().lease_grants == 2; }, 5s))
      << rec_.dump();
  ASSERT_TRUE(until([&] { return a->leader(kDpid) == "b"; }, 3s)) << rec_.dump();
  EXPECT_EQ(a->role(kDpid), Role::kStandby);
  testing::run_for(io_, 500ms);  // a's campaign is in place
  b.crash();
  ASSERT_TRUE(until([&] { return a->role(kDpid) == Role::kMaster; }, 4s)) << rec_.dump();
  EXPECT_GT(a->generation(kDpid), gen_a);
}

}  // namespace
}  // namespace tapflow::cluster
