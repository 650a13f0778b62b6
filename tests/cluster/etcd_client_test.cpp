// EtcdClient against real etcd members: leases, elections (campaign, leader,
// observe, resign), etcd's own error answers, and failover when a member dies.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <optional>

#include "etcd_cluster.hpp"
#include "tapflow/cluster/etcd_client.hpp"

namespace tapflow::cluster {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::EtcdCluster;
using testing::run_until;

template <class T>
Result<T> wait(asio::io_context& io, std::optional<Result<T>>& slot,
               std::chrono::milliseconds limit = 5s) {
  run_until(
      io, [&] { return slot.has_value(); }, limit);
  if (!slot) return Result<T>{EtcdErrc::kUnavailable, "the test timed out waiting", {}};
  auto r = std::move(*slot);
  slot.reset();
  return r;
}

class EtcdClientTest : public ::testing::Test {
 protected:
  void start(int members) {
    etcd_ = std::make_unique<EtcdCluster>(members);
    const auto why = etcd_->start();
    ASSERT_TRUE(why.empty()) << why;
    client_ = std::make_unique<EtcdClient>(io_, EtcdOptions{etcd_->endpoints(), {}, 500ms});
  }
  Lease grant(std::chrono::seconds ttl = 5s) {
    std::optional<Result<Lease>> r;
    client_->grant_lease(ttl, [&](Result<Lease> x) { r = x; });
    auto got = wait(io_, r);
    EXPECT_TRUE(got.ok()) << got.error;
    return got.value;
  }

  asio::io_context io_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, LeaseGrantKeepaliveRevoke) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  const auto lease = grant(2s);
  EXPECT_NE(lease.id, 0);
  EXPECT_EQ(lease.ttl, 2);

  std::optional<Result<std::int64_t>> ttl;
  client_->keep_alive(lease.id, [&](Result<std::int64_t> r) { ttl = r; });
  auto k = wait(io_, ttl);
  ASSERT_TRUE(k.ok()) << k.error;
  EXPECT_EQ(k.value, 2);

  std::optional<Result<Empty>> done;
  client_->revoke(lease.id, [&](Result<Empty> r) { done = r; });
  auto rv = wait(io_, done);
  ASSERT_TRUE(rv.ok()) << rv.error;

  client_->keep_alive(lease.id, [&](Result<std::int64_t> r) { ttl = r; });
  k = wait(io_, ttl);
  ASSERT_TRUE(k.ok()) << k.error;
  EXPECT_EQ(k.value, 0);  // gone

  client_->revoke(lease.id, [&](Result<Empty> r) { done = r; });
  rv = wait(io_, done);
  EXPECT_EQ(rv.code, EtcdErrc::kLeaseNotFound);
  EXPECT_NE(rv.error.find(etcd_->member(0).client_url()), std::string::npos) << rv.error;
  EXPECT_NE(rv.error.find("requested lease not found"), std::string::npos) << rv.error;
}

TEST_F(EtcdClientTest, LeaseExpiresWithoutKeepalives) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  const auto lease = grant(2s);
  testing::run_for(io_, 3500ms);  // TTL, plus etcd's 500 ms expiry sweep, plus slack
  std::optional<Result<std::int64_t>> ttl;
  client_->keep_alive(lease.id, [&](Result<std::int64_t> r) { ttl = r; });
  auto k = wait(io_, ttl);
  ASSERT_TRUE(k.ok()) << k.error;
  EXPECT_EQ(k.value, 0);
}

TEST_F(EtcdClientTest, CampaignLeaderObserveResign) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  const std::string name = "/tapflow/test/switch/0000000000000001";
  const auto a = grant();
  const auto b = grant();

  std::vector<Result<KeyValue>> observed;
  auto obs = client_->observe(name, [&](Result<KeyValue> r) { observed.push_back(r); });

  std::optional<Result<LeaderKey>> won_a, won_b;
  client_->campaign(name, a.id, "inst-a", [&](Result<LeaderKey> r) { won_a = r; });
  auto la = wait(io_, won_a);
  ASSERT_TRUE(la.ok()) << la.error;
  EXPECT_EQ(la.value.name, name);
  EXPECT_EQ(la.value.lease, a.id);
  EXPECT_EQ(la.value.key, name + "/" + fmt::format("{:x}", a.id));  // etcd's key layout
  EXPECT_GT(la.value.rev, 0);

  // Campaigning again with the same lease: answered at once, same key.
  client_->campaign(name, a.id, "inst-a", [&](Result<LeaderKey> r) { won_a = r; });
  auto again = wait(io_, won_a, 2s);
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.value.rev, la.value.rev);

  std::optional<Result<KeyValue>> leader;
  client_->leader(name, [&](Result<KeyValue> r) { leader = r; });
  auto l = wait(io_, leader);
  ASSERT_TRUE(l.ok()) << l.error;
  EXPECT_EQ(l.value.value, "inst-a");
  EXPECT_EQ(l.value.create_revision, la.value.rev);
  EXPECT_EQ(l.value.lease, a.id);

  // B waits behind A.
  client_->campaign(name, b.id, "inst-b", [&](Result<LeaderKey> r) { won_b = r; });
  testing::run_for(io_, 500ms);
  EXPECT_FALSE(won_b);

  std::optional<Result<Empty>> resigned;
  client_->resign(la.value, [&](Result<Empty> r) { resigned = r; });
  auto rs = wait(io_, resigned);
  ASSERT_TRUE(rs.ok()) << rs.error;
  auto lb = wait(io_, won_b);
  ASSERT_TRUE(lb.ok()) << lb.error;
  EXPECT_GT(lb.value.rev, la.value.rev);  // a newer leader has a newer key

  run_until(
      io_, [&] { return observed.size() >= 2; }, 3s);
  ASSERT_EQ(observed.size(), 2u);
  ASSERT_TRUE(observed[0].ok()) << observed[0].error;
  EXPECT_EQ(observed[0].value.value, "inst-a");
  ASSERT_TRUE(observed[1].ok()) << observed[1].error;
  EXPECT_EQ(observed[1].value.value, "inst-b");
  EXPECT_EQ(observed[1].value.create_revision, lb.value.rev);
  obs.cancel();
}

TEST_F(EtcdClientTest, EtcdsOwnErrorsAreClear) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  const std::string name = "/tapflow/test/switch/0000000000000002";

  std::optional<Result<KeyValue>> leader;
  client_->leader(name, [&](Result<KeyValue> r) { leader = r; });
  auto l = wait(io_, leader);
  EXPECT_EQ(l.code, EtcdErrc::kNoLeader);
  EXPECT_NE(l.error.find("leader " + name + ": etcd " + etcd_->member(0).client_url() +
                         ": election: no leader"),
            std::string::npos)
      << l.error;

  std::optional<Result<LeaderKey>> won;
  client_->campaign(name, 12345, "x", [&](Result<LeaderKey> r) { won = r; });
  auto c = wait(io_, won);
  EXPECT_EQ(c.code, EtcdErrc::kLeaseNotFound);
  EXPECT_NE(c.error.find("requested lease not found"), std::string::npos) << c.error;

  // Resigning a key that is not (or no longer) the leader's: etcd accepts it.
  std::optional<Result<Empty>> resigned;
  client_->resign(LeaderKey{name, name + "/1", 1, 1}, [&](Result<Empty> r) { resigned = r; });
  EXPECT_TRUE(wait(io_, resigned).ok());
}

TEST_F(EtcdClientTest, CancelledCampaignWithdrawsTheCandidacy) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  const std::string name = "/tapflow/test/switch/0000000000000003";
  const auto a = grant();
  const auto b = grant();
  std::optional<Result<LeaderKey>> won_a;
  client_->campaign(name, a.id, "inst-a", [&](Result<LeaderKey> r) { won_a = r; });
  auto la = wait(io_, won_a);
  ASSERT_TRUE(la.ok()) << la.error;

  bool b_called = false;
  auto cb = client_->campaign(name, b.id, "inst-b", [&](Result<LeaderKey>) { b_called = true; });
  testing::run_for(io_, 300ms);
  cb.cancel();
  testing::run_for(io_, 300ms);

  std::optional<Result<Empty>> resigned;
  client_->resign(la.value, [&](Result<Empty> r) { resigned = r; });
  ASSERT_TRUE(wait(io_, resigned).ok());
  std::optional<Result<KeyValue>> leader;
  client_->leader(name, [&](Result<KeyValue> r) { leader = r; });
  EXPECT_EQ(wait(io_, leader).code, EtcdErrc::kNoLeader);  // B's key went with its campaign
  EXPECT_FALSE(b_called);
}

TEST_F(EtcdClientTest, FailsOverWhenTheRaftLeaderDies) {
  ASSERT_NO_FATAL_FAILURE(start(3));
  int raft_leader = -1;
  ASSERT_TRUE(run_until(
      io_, [&] { return (raft_leader = etcd_->leader()) >= 0; }, 5s));
  // The client talks to the raft leader first.
  auto eps = etcd_->endpoints();
  std::rotate(eps.begin(), eps.begin() + raft_leader, eps.end());
  client_ = std::make_unique<EtcdClient>(io_, EtcdOptions{eps, {}, 300ms});
  const auto lease = grant();
  EXPECT_EQ(client_->endpoint(), eps[0]);
  etcd_->kill(static_cast<std::size_t>(raft_leader));

  // Refused at once by the dead member; the others hold requests until they
  // elect a new raft leader (~0.5-1 s with these timers): ask until answered,
  // as a lease holder does.
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<Result<std::int64_t>> ttl;
  Result<std::int64_t> k;
  int calls = 0;
  do {
    ++calls;
    client_->keep_alive(lease.id, [&](Result<std::int64_t> r) { ttl = r; });
    k = wait(io_, ttl, 5s);
  } while (!k.ok() && std::chrono::steady_clock::now() - t0 < 5s);
  ASSERT_TRUE(k.ok()) << k.error;
  EXPECT_GT(k.value, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << calls << " calls";
  EXPECT_NE(client_->endpoint(), eps[0]);
}

TEST_F(EtcdClientTest, AllMembersDownIsUnavailableNamingEach) {
  ASSERT_NO_FATAL_FAILURE(start(1));
  etcd_->kill(0);
  std::optional<Result<Lease>> r;
  client_->grant_lease(2s, [&](Result<Lease> x) { r = x; });
  auto g = wait(io_, r);
  EXPECT_EQ(g.code, EtcdErrc::kUnavailable);
  EXPECT_NE(g.error.find("lease grant: no etcd endpoint answered (" +
                         etcd_->member(0).client_url() + ": connect: Connection refused)"),
            std::string::npos)
      << g.error;
}

TEST_F(EtcdClientTest, TlsWithAClientCertificate) {
  etcd_ = std::make_unique<EtcdCluster>(1);
  const auto tls_why = etcd_->use_tls();
  ASSERT_TRUE(tls_why.empty()) << tls_why;
  const auto why = etcd_->start();
  ASSERT_TRUE(why.empty()) << why;
  const auto& files = *etcd_->tls();
  const auto url = etcd_->member(0).client_url();
  ASSERT_EQ(url.rfind("https://", 0), 0u);
  client_ = std::make_unique<EtcdClient>(
      io_, EtcdOptions{{url}, EtcdTls{files.ca, files.client_cert, files.client_key}, 500ms});
  const auto lease = grant();
  ASSERT_NE(lease.id, 0);

  const std::string name = "/tapflow/test/switch/00000000000000f1";
  std::vector<Result<KeyValue>> observed;
  client_->observe(name, [&](Result<KeyValue> r) { observed.push_back(r); });
  std::optional<Result<LeaderKey>> won;
  client_->campaign(name, lease.id, "inst-tls", [&](Result<LeaderKey> r) { won = r; });
  auto w = wait(io_, won);
  ASSERT_TRUE(w.ok()) << w.error;
  run_until(
      io_, [&] { return !observed.empty(); }, 3s);
  ASSERT_EQ(observed.size(), 1u);
  ASSERT_TRUE(observed[0].ok()) << observed[0].error;
  EXPECT_EQ(observed[0].value.value, "inst-tls");

  // Without a client certificate etcd refuses us; with a CA that did not sign
  // etcd's certificate we refuse etcd. Both say it was TLS.
  EtcdClient anonymous(io_, EtcdOptions{{url}, EtcdTls{files.ca, "", ""}, 500ms});
  std::optional<Result<Lease>> g;
  anonymous.grant_lease(2s, [&](Result<Lease> r) { g = r; });
  auto a = wait(io_, g);
  EXPECT_FALSE(a.ok());
  EXPECT_NE(a.error.find(url), std::string::npos) << a.error;

  EtcdClient wrong_ca(io_, EtcdOptions{{url}, EtcdTls{files.client_cert, "", ""}, 500ms});
  wrong_ca.grant_lease(2s, [&](Result<Lease> r) { g = r; });
  auto b = wait(io_, g);
  EXPECT_EQ(b.code, EtcdErrc::kUnavailable);
  EXPECT_NE(b.error.find("TLS handshake"), std::string::npos) << b.error;
  EXPECT_NE(b.error.find("certificate verify failed"), std::string::npos) << b.error;
}

}  // namespace
}  // namespace tapflow::cluster
