// Controller roles (several controllers per switch): standby until elected,
// ROLE_REQUEST MASTER/SLAVE with generation ids (1.3) or the Nicira role
// request (1.0), modifications refused while standby, and stepping down when
// the switch says another controller is master.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "tapflow/openflow/nicira.hpp"

namespace tapflow::controller::testing {
namespace {

class RecordingRoles : public RoleListener {
 public:
  void on_switch_connected(std::uint64_t dpid) override { add("connected", dpid); }
  void on_switch_disconnected(std::uint64_t dpid) override { add("disconnected", dpid); }
  void on_master_refused(std::uint64_t dpid, const std::string& why) override {
    add("refused:" + why, dpid);
  }
  bool wait_for(const std::string& prefix, std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] {
      for (const auto& e : events_) {
        if (e.rfind(prefix, 0) == 0) return true;
      }
      return false;
    });
  }

 private:
  void add(std::string e, std::uint64_t) {
    {
      std::lock_guard lk(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

ControllerConfig roles_config() {
  ControllerConfig c = ControllerFixture::fast_config();
  c.roles = true;
  return c;
}

struct RolesFixture {
  RolesFixture() { f.run([this] { f.controller().set_role_listener(&roles); }); }
  ~RolesFixture() {
    f.run([this] { f.controller().set_role_listener(nullptr); });
  }
  RecordingRoles roles;
  ControllerFixture f{roles_config()};
};

// Answers the standby's NOCHANGE query with `switch_generation` and expects
// the SLAVE request that follows; returns the generation it carried.
std::uint64_t answer_slave(FakeSwitch& sw, std::uint64_t switch_generation) {
  auto q = sw.expect<RoleRequest>();
  EXPECT_TRUE(q);
  if (!q) return 0;
  EXPECT_EQ(std::get<RoleRequest>(q->body).role, controller_role::kNoChange);
  sw.send(Message{kVersion13, q->xid, RoleReply{controller_role::kEqual, switch_generation}});
  auto s = sw.expect<RoleRequest>();
  EXPECT_TRUE(s);
  if (!s) return 0;
  EXPECT_EQ(std::get<RoleRequest>(s->body).role, controller_role::kSlave);
  const std::uint64_t g = std::get<RoleRequest>(s->body).generation_id;
  sw.send(Message{kVersion13, s->xid, RoleReply{controller_role::kSlave, g}});
  return g;
}

// Expects ROLE_REQUEST MASTER with `generation` and confirms it.
void answer_master(FakeSwitch& sw, std::uint64_t generation) {
  auto m = sw.expect<RoleRequest>();
  ASSERT_TRUE(m);
  EXPECT_EQ(std::get<RoleRequest>(m->body).role, controller_role::kMaster);
  EXPECT_EQ(std::get<RoleRequest>(m->body).generation_id, generation);
  sw.send(Message{kVersion13, m->xid, RoleReply{controller_role::kMaster, generation}});
}

TEST(Roles, SwitchConnectsAsStandbyAndTheAppSendsNothing) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x1, {FakeSwitch::make_port(1, "p1")}, /*table_miss=*/false);
  ASSERT_TRUE(r.roles.wait_for("connected"));
  ASSERT_TRUE(r.f.app.wait_kind("standby"));
  // The switch already has a master with generation 40: the SLAVE request
  // must not be older than that (it would be refused as stale).
  EXPECT_EQ(answer_slave(sw, 40), 40u);
  r.f.run([&] {
    Datapath* dp = r.f.controller().find(0x1);
    ASSERT_NE(dp, nullptr);
    EXPECT_EQ(r.f.controller().role(0x1), SwitchRole::kStandby);
    FlowMod fm;
    auto st = dp->send(fm);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, bad_request::kIsSlave);
    EXPECT_FALSE(dp->send(PacketOut{}));
    EXPECT_EQ(dp->counters().refused_not_master, 2u);
  });
  // Standbys follow port status but see no PACKET_IN.
  PacketIn pi;
  pi.data = {1, 2, 3};
  sw.send(Message{kVersion13, 0, pi});
  PortStatus ps;
  ps.reason = port_reason::kModify;
  ps.desc = FakeSwitch::make_port(1, "p1");
  sw.send(Message{kVersion13, 0, ps});
  ASSERT_TRUE(r.f.app.wait_kind("port_status"));
  EXPECT_EQ(RecordingApp::count(r.f.app.events(), "packet_in"), 0u);
  EXPECT_EQ(RecordingApp::count(r.f.app.events(), "up"), 0u);
}

TEST(Roles, ElectedMasterAsksTheSwitchAndOnlyThenProgramsIt) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x2, {}, false);
  ASSERT_TRUE(r.f.app.wait_kind("standby"));
  answer_slave(sw, 0);
  r.f.run([&] { r.f.controller().become_master(0x2, 77); });
  answer_master(sw, 77);
  ASSERT_TRUE(r.f.app.wait_kind("up"));
  // The table-miss flow comes with the mastership.
  auto fm = sw.expect<FlowMod>();
  ASSERT_TRUE(fm);
  EXPECT_EQ(std::get<FlowMod>(fm->body).priority, 0);
  r.f.run([&] {
    EXPECT_EQ(r.f.controller().role(0x2), SwitchRole::kMaster);
    EXPECT_TRUE(r.f.controller().find(0x2)->send(FlowMod{}));
    EXPECT_EQ(r.f.controller().counters().masters_confirmed, 1u);
  });
  // Standing down: the app is told, modifications stop at once.
  r.f.run([&] {
    r.f.controller().become_standby(0x2, 78);
    EXPECT_FALSE(r.f.controller().find(0x2)->send(FlowMod{}));
  });
  ASSERT_TRUE(r.f.app.wait_kind("standby", 2));
  EXPECT_EQ(answer_slave(sw, 77), 78u);
}

TEST(Roles, StandingDownDropsTheModificationsStillQueued) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x8, {}, false);
  answer_slave(sw, 0);
  r.f.run([&] { r.f.controller().become_master(0x8, 3); });
  answer_master(sw, 3);
  ASSERT_TRUE(r.f.app.wait_kind("up"));
  (void)sw.expect<FlowMod>();  // table miss
  constexpr int kQueued = 20000;
  r.f.run([&] {
    Datapath* dp = r.f.controller().find(0x8);
    for (int i = 0; i < kQueued; ++i) {
      FlowMod fm;
      fm.priority = 100;
      ASSERT_TRUE(dp->send(fm));
    }
    (void)dp->barrier([](Status) {});
    r.f.controller().become_standby(0x8, 4);
  });
  // At most the write in flight (one 64 KiB slice) gets through; the
  // barrier, a request, stays; then the standby's role requests.
  int flow_mods = 0;
  bool barrier = false;
  for (;;) {
    auto m = sw.recv();
    ASSERT_TRUE(m) << "no ROLE_REQUEST after " << flow_mods << " FLOW_MODs";
    if (std::holds_alternative<FlowMod>(m->body)) ++flow_mods;
    if (std::holds_alternative<BarrierRequest>(m->body)) barrier = true;
    if (std::holds_alternative<RoleRequest>(m->body)) break;
  }
  EXPECT_TRUE(barrier);
  EXPECT_LT(flow_mods, 2000);
}

TEST(Roles, StaleGenerationMakesTheMasterStepDown) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x3, {}, false);
  answer_slave(sw, 0);
  r.f.run([&] { r.f.controller().become_master(0x3, 5); });
  auto m = sw.expect<RoleRequest>();
  ASSERT_TRUE(m);
  sw.send(Message{kVersion13, m->xid,
                  Error{error_type::kRoleRequestFailed, 0 /*STALE*/, 0, {}}});
  ASSERT_TRUE(r.roles.wait_for("refused:"));
  answer_slave(sw, 9);
  r.f.run([&] { EXPECT_EQ(r.f.controller().role(0x3), SwitchRole::kStandby); });
  EXPECT_EQ(RecordingApp::count(r.f.app.events(), "up"), 0u);
}

TEST(Roles, IsSlaveErrorWhileMasterMeansAnotherControllerTookOver) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x4, {}, false);
  answer_slave(sw, 0);
  r.f.run([&] { r.f.controller().become_master(0x4, 10); });
  answer_master(sw, 10);
  ASSERT_TRUE(r.f.app.wait_kind("up"));
  (void)sw.expect<FlowMod>();  // table miss
  sw.send(Message{kVersion13, 99, Error{error_type::kBadRequest, bad_request::kIsSlave, 0, {}}});
  ASSERT_TRUE(r.roles.wait_for("refused:"));
  ASSERT_TRUE(r.f.app.wait_kind("standby", 2));
  r.f.run([&] { EXPECT_EQ(r.f.controller().role(0x4), SwitchRole::kStandby); });
}

TEST(Roles, OpenFlow10UsesTheNiciraRoleRequest) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion10, 0x5, {FakeSwitch::make_port(1, "p1")}, false);
  auto slave = sw.expect<Experimenter>();
  ASSERT_TRUE(slave);
  EXPECT_EQ(std::get<Experimenter>(slave->body), nicira::role_request(nicira::kRoleSlave));
  Experimenter reply = nicira::role_request(nicira::kRoleSlave);
  reply.data[3] = static_cast<std::uint8_t>(nicira::kRoleReply);
  sw.send(Message{kVersion10, slave->xid, reply});
  r.f.run([&] { r.f.controller().become_master(0x5, 3); });
  auto master = sw.expect<Experimenter>();
  ASSERT_TRUE(master);
  EXPECT_EQ(std::get<Experimenter>(master->body), nicira::role_request(nicira::kRoleMaster));
  Experimenter mreply = nicira::role_request(nicira::kRoleMaster);
  mreply.data[3] = static_cast<std::uint8_t>(nicira::kRoleReply);
  sw.send(Message{kVersion10, master->xid, mreply});
  ASSERT_TRUE(r.f.app.wait_kind("up"));
}

TEST(Roles, OpenFlow10SwitchWithoutRolesStillGetsAMaster) {
  RolesFixture r;
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion10, 0x6, {}, false);
  auto slave = sw.expect<Experimenter>();
  ASSERT_TRUE(slave);
  sw.send(Message{kVersion10, slave->xid,
                  Error{error_type::kBadRequest, 3 /*1.0 BAD_VENDOR*/, 0, {}}});
  r.f.run([&] { r.f.controller().become_master(0x6, 1); });
  auto master = sw.expect<Experimenter>();
  ASSERT_TRUE(master);
  sw.send(Message{kVersion10, master->xid,
                  Error{error_type::kBadRequest, 3 /*1.0 BAD_VENDOR*/, 0, {}}});
  ASSERT_TRUE(r.f.app.wait_kind("up"));
}

TEST(Roles, DisconnectIsReportedAndTheMastershipSurvivesAReconnect) {
  RolesFixture r;
  {
    FakeSwitch sw(r.f.port);
    sw.handshake(kVersion13, 0x7, {}, false);
    answer_slave(sw, 0);
    r.f.run([&] { r.f.controller().become_master(0x7, 12); });
    answer_master(sw, 12);
    ASSERT_TRUE(r.f.app.wait_kind("up"));
  }
  ASSERT_TRUE(r.roles.wait_for("disconnected"));
  ASSERT_TRUE(r.f.app.wait_kind("down"));
  // Back: still elected, so MASTER at once with the same generation.
  FakeSwitch sw(r.f.port);
  sw.handshake(kVersion13, 0x7, {}, false);
  answer_master(sw, 12);
  ASSERT_TRUE(r.f.app.wait_kind("up", 2));
}

}  // namespace
}  // namespace tapflow::controller::testing
