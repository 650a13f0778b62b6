// FlowSync against a fake switch over loopback: only differences are sent,
// reconcile reads the switch's flows (filtered by cookie) instead of wiping
// them, and pending callbacks survive the FlowSync's destruction.
#include "tapflow/controller/flow_sync.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>

#include "harness.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::controller {
namespace {

using namespace testing;

constexpr std::uint64_t kCookie = 0x7461000000000000ULL;
constexpr std::uint64_t kMask = 0xffff000000000000ULL;
constexpr std::uint64_t kForeign = 0x1234000000000001ULL;

InstructionList to_controller() {
  return {instruction::ApplyActions{{action::Output{port::kController, kControllerMaxLenNoBuffer}}}};
}

FlowMod flow(std::uint16_t priority, std::vector<OxmField> fields, InstructionList ins,
             std::uint64_t cookie = kCookie) {
  FlowMod f;
  f.cookie = cookie;
  f.priority = priority;
  for (auto& x : fields) f.match.add(std::move(x));
  f.instructions = std::move(ins);
  return f;
}

const MacAddress kMac1 = MacAddress::from_u64(0x0200000000a1ULL);
const MacAddress kMac2 = MacAddress::from_u64(0x0200000000a2ULL);

// Punt-like flows, all expressible in 1.0 and 1.3. Fields are deliberately
// not in the order the 1.0 decoder reports them.
FlowMod drop_flow() { return flow(0, {}, {}); }
FlowMod arp_flow() {
  return flow(40000, {oxm::eth_type(0x0806), oxm::arp_tpa(0x0a000001)}, to_controller());
}
FlowMod mcast_flow() {
  return flow(40000, {oxm::eth_type(0x0800), oxm::ipv4_dst(0xe0000000, 0xffffff00)},
              to_controller());
}
FlowMod local_flow() {
  return flow(39000, {oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000001)}, to_controller());
}
FlowMod mac_flow(const MacAddress& mac, std::uint32_t in_port) {
  return flow(100, {oxm::eth_dst(mac), oxm::in_port(in_port)}, to_controller());
}

// Fields sorted: a 1.0 switch decodes them in ofp_match order.
std::string text(const FlowMod& f) {
  Match sorted = f.match;
  std::sort(sorted.fields.begin(), sorted.fields.end(),
            [](const OxmField& a, const OxmField& b) { return a.field < b.field; });
  std::string s = "cmd=" + std::to_string(f.command) + " table=" + std::to_string(f.table_id) +
                  " prio=" + std::to_string(f.priority) + " match=" + to_text(sorted);
  for (const auto& i : f.instructions) s += " " + to_text(i);
  return s;
}
std::vector<std::string> texts(const std::vector<FlowMod>& flows) {
  std::vector<std::string> out;
  for (const auto& f : flows) out.push_back(text(f));
  std::sort(out.begin(), out.end());
  return out;
}

FlowStats stats_of(const FlowMod& f, std::uint8_t table = 0) {
  FlowStats s;
  s.table_id = table;
  s.priority = f.priority;
  s.cookie = f.cookie;
  s.match = f.match;
  s.instructions = f.instructions;
  s.packet_count = 12;
  return s;
}

// What the controller sent up to (and including) a barrier.
struct Batch {
  std::vector<FlowMod> mods;
  std::vector<std::string> order;  // "add"/"delete" in arrival order
  std::optional<Message> barrier;
};

// A switch with a FlowSync on the controller's event loop.
class SyncLab {
 public:
  explicit SyncLab(std::uint8_t version) : version_(version) {
    sw.handshake(version, 1, {FakeSwitch::make_port(1, "p1"), FakeSwitch::make_port(2, "p2")});
    EXPECT_TRUE(f.app.wait_kind("up"));
    f.run([this] { sync = std::make_unique<FlowSync>(kCookie, kMask); });
  }
  ~SyncLab() {
    f.run([this] { sync.reset(); });
  }

  std::future<Status> apply(std::vector<FlowMod> flows) {
    auto p = std::make_shared<std::promise<Status>>();
    auto fut = p->get_future();
    f.run([&] { sync->apply(dp(), std::move(flows), [p](Status st) { p->set_value(st); }); });
    return fut;
  }
  std::future<Status> reconcile(std::vector<FlowMod> flows) {
    auto p = std::make_shared<std::promise<Status>>();
    auto fut = p->get_future();
    f.run([&] { sync->reconcile(dp(), std::move(flows), [p](Status st) { p->set_value(st); }); });
    return fut;
  }

  // Reads FLOW_MODs until a BARRIER_REQUEST, answers it if asked to.
  Batch collect(bool answer_barrier = true) {
    Batch b;
    for (;;) {
      auto m = sw.recv();
      if (!m) {
        ADD_FAILURE() << "no barrier after " << b.mods.size() << " FLOW_MODs";
        return b;
      }
      EXPECT_EQ(m->version, version_);
      if (const auto* e = std::get_if<EchoRequest>(&m->body)) {
        sw.send(Message{m->version, m->xid, EchoReply{e->data}});
      } else if (const auto* fm = std::get_if<FlowMod>(&m->body)) {
        b.mods.push_back(*fm);
        b.order.push_back(fm->command == flow_mod_command::kDeleteStrict ? "delete" : "add");
      } else if (std::holds_alternative<BarrierRequest>(m->body)) {
        if (answer_barrier) sw.send(Message{m->version, m->xid, BarrierReply{}});
        b.barrier = m;
        return b;
      } else {
        ADD_FAILURE() << "unexpected " << type_name(m->body);
      }
    }
  }

  // Answers the FLOW_STATS request with `parts` (one reply message each).
  Message answer_flow_stats(const std::vector<std::vector<FlowStats>>& parts) {
    auto req = sw.expect<MultipartRequest>();
    EXPECT_TRUE(req);
    if (!req) return {};
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::uint16_t flags = i + 1 < parts.size() ? multipart_flags::kMore : 0;
      sw.send(Message{version_, req->xid, MultipartReply{flags, FlowStatsReply{parts[i]}}});
    }
    return *req;
  }

  // Nothing more from the controller for a while (echo requests aside).
  void expect_silence(std::chrono::milliseconds t = 300ms) {
    auto deadline = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = sw.recv(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!m) return;
      if (const auto* e = std::get_if<EchoRequest>(&m->body)) {
        sw.send(Message{m->version, m->xid, EchoReply{e->data}});
        continue;
      }
      ADD_FAILURE() << "unexpected " << type_name(m->body);
    }
  }

  std::size_t installed() {
    return f.run([this] { return sync->installed_count(); });
  }
  FlowSyncCounters counters() {
    return f.run([this] { return sync->counters(); });
  }
  Datapath& dp() { return *f.controller().find(1); }  // on the loop only

  ControllerFixture f;
  FakeSwitch sw{f.port};
  std::unique_ptr<FlowSync> sync;

 private:
  std::uint8_t version_;
};

Status get(std::future<Status>& fut) {
  if (fut.wait_for(3s) != std::future_status::ready) {
    ADD_FAILURE() << "done was not called";
    return make_error(0, 0, "timeout");
  }
  return fut.get();
}

class FlowSyncTest : public ::testing::TestWithParam<std::uint8_t> {};

std::vector<FlowMod> base_set() {
  return {drop_flow(), arp_flow(), mcast_flow(), local_flow(), mac_flow(kMac1, 1)};
}

TEST_P(FlowSyncTest, EmptySwitchGetsOneAddPerFlowThenABarrier) {
  SyncLab lab(GetParam());
  auto done = lab.apply(base_set());
  Batch b = lab.collect();
  ASSERT_TRUE(b.barrier);
  ASSERT_EQ(b.mods.size(), 5u);
  for (const FlowMod& m : b.mods) {
    EXPECT_EQ(m.command, flow_mod_command::kAdd);
    EXPECT_EQ(m.cookie, kCookie);
    EXPECT_EQ(m.buffer_id, kNoBuffer);
  }
  EXPECT_EQ(texts(b.mods), texts(base_set()));
  EXPECT_TRUE(get(done).ok());
  EXPECT_EQ(lab.installed(), 5u);
  EXPECT_EQ(lab.counters().adds, 5u);
}

TEST_P(FlowSyncTest, SameSetAgainSendsOnlyABarrier) {
  SyncLab lab(GetParam());
  auto d1 = lab.apply(base_set());
  (void)lab.collect();
  EXPECT_TRUE(get(d1).ok());
  // Same flows, other order, fields of one match in another order.
  auto again = base_set();
  std::reverse(again.begin(), again.end());
  std::reverse(again[0].match.fields.begin(), again[0].match.fields.end());
  auto d2 = lab.apply(again);
  Batch b = lab.collect();
  EXPECT_TRUE(b.barrier);
  EXPECT_TRUE(b.mods.empty()) << texts(b.mods).front();
  EXPECT_TRUE(get(d2).ok());
  EXPECT_EQ(lab.counters().adds, 5u);
}

TEST_P(FlowSyncTest, ChangedFlowIsReAddedGoneFlowIsStrictlyDeleted) {
  SyncLab lab(GetParam());
  auto d1 = lab.apply(base_set());
  (void)lab.collect();
  EXPECT_TRUE(get(d1).ok());

  auto next = base_set();
  next[3].instructions = {instruction::ApplyActions{{action::Output{2}}}};  // local_flow changed
  next.erase(next.begin() + 1);                                              // arp_flow gone
  next.push_back(mac_flow(kMac2, 2));                                        // new
  auto d2 = lab.apply(next);
  Batch b = lab.collect();
  ASSERT_EQ(b.mods.size(), 3u);
  // Adds first, the delete last.
  EXPECT_EQ(b.order, (std::vector<std::string>{"add", "add", "delete"}));
  EXPECT_EQ(texts({b.mods[0], b.mods[1]}), texts({next[2], next[4]}));

  const FlowMod& del = b.mods[2];
  EXPECT_EQ(del.command, flow_mod_command::kDeleteStrict);
  EXPECT_EQ(del.priority, arp_flow().priority);
  EXPECT_EQ(canonical_match(del.match), canonical_match(arp_flow().match));
  EXPECT_EQ(del.out_port, port::kAny);
  EXPECT_EQ(del.table_id, 0);
  EXPECT_TRUE(del.instructions.empty());
  if (GetParam() == kVersion13) {
    EXPECT_EQ(del.out_group, kGroupAny);
    EXPECT_EQ(del.cookie, kCookie);
    EXPECT_EQ(del.cookie_mask, kMask);
  }
  EXPECT_TRUE(get(d2).ok());
  const auto c = lab.counters();
  EXPECT_EQ(c.adds, 6u);
  EXPECT_EQ(c.modifies, 1u);
  EXPECT_EQ(c.deletes, 1u);
  EXPECT_EQ(lab.installed(), 5u);
}

TEST_P(FlowSyncTest, ReconcileDeletesOnlyOurStaleFlowsAndAddsMissingOnes) {
  SyncLab lab(GetParam());
  const bool v13 = GetParam() == kVersion13;
  auto desired = base_set();
  auto done = lab.reconcile(desired);

  // The switch has: arp, mcast, drop (ours and current; mcast spelled with
  // host bits in its value, which a mask hides), local_flow with an old
  // action (changed), a stale flow of ours, and a foreign flow. It misses
  // mac_flow(kMac1, 1).
  FlowMod changed = local_flow();
  changed.instructions = {instruction::ApplyActions{{action::Output{7}}}};
  FlowMod stale = mac_flow(kMac2, 2);
  FlowMod foreign = flow(500, {oxm::in_port(3)}, {instruction::ApplyActions{{action::Output{1}}}},
                         kForeign);
  FlowMod foreign_beside_ours = mac_flow(kMac1, 1);  // like the missing one, but not ours
  foreign_beside_ours.cookie = kForeign;
  foreign_beside_ours.priority = 101;
  Match mcast_spelled;  // the switch's own spelling: its field order, value with host bits
  mcast_spelled.add(oxm::uint_field_masked(oxm_field::kIpv4Dst, 0xe0000005, 0xffffff00, 4));
  mcast_spelled.fields.insert(mcast_spelled.fields.begin(), oxm::eth_type(0x0800));
  FlowMod mcast = mcast_flow();
  mcast.match = mcast_spelled;

  std::vector<std::vector<FlowStats>> parts = {
      {stats_of(arp_flow()), stats_of(foreign)},
      {stats_of(mcast), stats_of(changed), stats_of(stale), stats_of(drop_flow()),
       stats_of(foreign_beside_ours)}};
  Message req = lab.answer_flow_stats(parts);
  const auto& mp = std::get<MultipartRequest>(req.body);
  ASSERT_TRUE(std::holds_alternative<FlowStatsRequest>(mp.body));
  const auto& fsr = std::get<FlowStatsRequest>(mp.body);
  EXPECT_EQ(fsr.table_id, kTableAll);
  EXPECT_EQ(fsr.out_port, port::kAny);
  EXPECT_TRUE(fsr.match.empty());
  if (v13) {
    EXPECT_EQ(fsr.out_group, kGroupAny);
    EXPECT_EQ(fsr.cookie, kCookie);
    EXPECT_EQ(fsr.cookie_mask, kMask);
  }

  Batch b = lab.collect();
  ASSERT_TRUE(b.barrier);
  ASSERT_EQ(b.mods.size(), 3u) << ::testing::PrintToString(texts(b.mods));
  EXPECT_EQ(b.order, (std::vector<std::string>{"add", "add", "delete"}));
  EXPECT_EQ(texts({b.mods[0], b.mods[1]}), texts({local_flow(), mac_flow(kMac1, 1)}));
  EXPECT_EQ(b.mods[2].priority, stale.priority);
  EXPECT_EQ(canonical_match(b.mods[2].match), canonical_match(stale.match));
  EXPECT_TRUE(get(done).ok());
  EXPECT_EQ(lab.installed(), 5u);
  const auto c = lab.counters();
  EXPECT_EQ(c.reconciles, 1u);
  EXPECT_EQ(c.adds, 1u);
  EXPECT_EQ(c.modifies, 1u);
  EXPECT_EQ(c.deletes, 1u);

  // What reconcile learned is what apply() now diffs against.
  auto again = lab.apply(desired);
  Batch b2 = lab.collect();
  EXPECT_TRUE(b2.mods.empty());
  EXPECT_TRUE(get(again).ok());
}

TEST_P(FlowSyncTest, ApplyDuringReconcileIsFoldedIntoIt) {
  SyncLab lab(GetParam());
  auto d1 = lab.reconcile({drop_flow()});
  auto d2 = lab.apply({drop_flow(), arp_flow()});
  auto d3 = lab.apply({arp_flow(), local_flow()});
  EXPECT_TRUE(lab.f.run([&] { return lab.sync->reconciling(); }));
  lab.answer_flow_stats({{stats_of(drop_flow())}});
  Batch b = lab.collect();
  // The latest desired set wins: drop deleted, arp and local added.
  ASSERT_EQ(b.mods.size(), 3u);
  EXPECT_EQ(texts({b.mods[0], b.mods[1]}), texts({arp_flow(), local_flow()}));
  EXPECT_EQ(b.mods[2].command, flow_mod_command::kDeleteStrict);
  EXPECT_EQ(b.mods[2].priority, 0);
  for (auto* d : {&d1, &d2, &d3}) EXPECT_TRUE(get(*d).ok());
  EXPECT_EQ(lab.installed(), 2u);
  lab.expect_silence(100ms);  // one barrier for all of them
}

TEST_P(FlowSyncTest, ForgetDropsInstalledAndIgnoresALateFlowStatsReply) {
  SyncLab lab(GetParam());
  auto d1 = lab.apply(base_set());
  (void)lab.collect();
  EXPECT_TRUE(get(d1).ok());
  EXPECT_EQ(lab.installed(), 5u);
  lab.f.run([&] { lab.sync->forget(); });
  EXPECT_EQ(lab.installed(), 0u);

  auto d2 = lab.reconcile(base_set());
  lab.f.run([&] { lab.sync->forget(); });
  Status st = get(d2);
  EXPECT_FALSE(st.ok()) << "forget() must finish the reconcile's callbacks with an error";
  lab.answer_flow_stats({{stats_of(arp_flow())}});  // arrives after forget(): ignored
  lab.expect_silence();
  EXPECT_EQ(lab.installed(), 0u);

  // Knowing nothing, apply() adds everything.
  auto d3 = lab.apply(base_set());
  EXPECT_EQ(lab.collect().mods.size(), 5u);
  EXPECT_TRUE(get(d3).ok());
}

TEST_P(FlowSyncTest, FailedFlowStatsRequestReportsTheErrorAndSendsNothing) {
  SyncLab lab(GetParam());
  auto done = lab.reconcile(base_set());
  auto req = lab.sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  Error e;
  e.type = GetParam() == kVersion13 ? error_type::kBadRequest : 1;  // BAD_REQUEST in both
  e.code = 1;  // BAD_TYPE / BAD_STAT
  lab.sw.send(Message{GetParam(), req->xid, e});
  Status st = get(done);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().type, error_type::kBadRequest);
  lab.expect_silence();
  EXPECT_EQ(lab.installed(), 0u);
  EXPECT_EQ(lab.counters().errors, 1u);
}

TEST_P(FlowSyncTest, DestroyedWithPendingBarrierOrReplyTouchesNothing) {
  SyncLab lab(GetParam());
  auto called = std::make_shared<std::atomic<int>>(0);
  lab.f.run([&] {
    lab.sync->apply(lab.dp(), base_set(), [called](Status) { ++*called; });
  });
  Batch b = lab.collect(/*answer_barrier=*/false);
  ASSERT_TRUE(b.barrier);
  lab.f.run([&] { lab.sync.reset(); });
  lab.sw.send(Message{GetParam(), b.barrier->xid, BarrierReply{}});

  lab.f.run([&] {
    lab.sync = std::make_unique<FlowSync>(kCookie, kMask);
    lab.sync->reconcile(lab.dp(), base_set(), [called](Status) { ++*called; });
  });
  auto req = lab.sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  lab.f.run([&] { lab.sync.reset(); });
  lab.sw.send(Message{GetParam(), req->xid, MultipartReply{0, FlowStatsReply{}}});
  lab.expect_silence(200ms);  // a dead FlowSync sends no FLOW_MODs

  // And a barrier still pending when the connection closes.
  lab.f.run([&] {
    lab.sync = std::make_unique<FlowSync>(kCookie, kMask);
    lab.sync->apply(lab.dp(), {drop_flow()}, [called](Status) { ++*called; });
  });
  ASSERT_TRUE(lab.collect(false).barrier);
  lab.f.run([&] { lab.sync.reset(); });
  ::shutdown(lab.sw.fd(), SHUT_RDWR);
  ASSERT_TRUE(lab.f.app.wait_kind("down"));
  EXPECT_EQ(called->load(), 0);
}

TEST_P(FlowSyncTest, ConnectionClosingWithAPendingBarrierCompletesDoneWithAnError) {
  SyncLab lab(GetParam());
  auto done = lab.apply({drop_flow()});
  ASSERT_TRUE(lab.collect(false).barrier);
  ::shutdown(lab.sw.fd(), SHUT_RDWR);
  EXPECT_FALSE(get(done).ok());
}

INSTANTIATE_TEST_SUITE_P(Versions, FlowSyncTest, ::testing::Values(kVersion10, kVersion13),
                         [](const auto& p) {
                           return p.param == kVersion10 ? std::string("OF10")
                                                           : std::string("OF13");
                         });

TEST(FlowSync, UnexpressibleFlowIsReportedOthersStillGoOut) {
  SyncLab lab(kVersion10);
  std::array<std::uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  FlowMod ipv6 = flow(39000, {oxm::eth_type(0x86dd), oxm::ipv6_dst(v6)}, to_controller());
  auto done = lab.apply({drop_flow(), ipv6, arp_flow()});
  Batch b = lab.collect();
  EXPECT_EQ(texts(b.mods), texts({drop_flow(), arp_flow()}));
  Status st = get(done);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().type, error_type::kBadMatch);
  EXPECT_EQ(lab.installed(), 2u) << "what was not sent is not installed";
}

TEST(FlowSync, OpenFlow13TableIsPartOfTheIdentity) {
  SyncLab lab(kVersion13);
  FlowMod t0 = arp_flow();
  FlowMod t1 = arp_flow();
  t1.table_id = 1;
  auto d1 = lab.apply({t0, t1});
  EXPECT_EQ(lab.collect().mods.size(), 2u);
  EXPECT_TRUE(get(d1).ok());
  auto d2 = lab.apply({t0});
  Batch b = lab.collect();
  ASSERT_EQ(b.mods.size(), 1u);
  EXPECT_EQ(b.mods[0].command, flow_mod_command::kDeleteStrict);
  EXPECT_EQ(b.mods[0].table_id, 1);
  EXPECT_TRUE(get(d2).ok());
}

// ---------------------------------------------------------------- canonical_match

TEST(CanonicalMatch, FieldOrderDoesNotMatter) {
  Match a, b;
  a.add(oxm::in_port(1)).add(oxm::eth_dst(kMac1)).add(oxm::eth_type(0x86dd));
  b.add(oxm::eth_type(0x86dd)).add(oxm::in_port(1)).add(oxm::eth_dst(kMac1));
  EXPECT_EQ(canonical_match(a), canonical_match(b));
}

TEST(CanonicalMatch, MasksAreNormalized) {
  auto m = [](OxmField f) {
    Match x;
    x.add(oxm::eth_type(0x0800)).add(std::move(f));
    return canonical_match(x);
  };
  OxmField all_ones = oxm::ipv4_dst(0x0a000001);
  all_ones.has_mask = true;
  all_ones.mask = {0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(m(all_ones), m(oxm::ipv4_dst(0x0a000001)));
  OxmField zero = oxm::ipv4_dst(0x0a000001);
  zero.has_mask = true;
  zero.mask = {0, 0, 0, 0};
  Match only_type;
  only_type.add(oxm::eth_type(0x0800));
  EXPECT_EQ(m(zero), canonical_match(only_type));
  OxmField host_bits = oxm::ipv4_dst(0xe0000005, 0xffffff00);
  host_bits.value = {0xe0, 0x00, 0x00, 0x05};  // the mask hides the .5
  EXPECT_EQ(m(host_bits), m(oxm::ipv4_dst(0xe0000000, 0xffffff00)));
}

TEST(CanonicalMatch, DifferentMatchesDiffer) {
  auto m = [](std::vector<OxmField> fields) {
    Match x;
    for (auto& f : fields) x.add(std::move(f));
    return canonical_match(x);
  };
  const std::string base = m({oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000001)});
  EXPECT_NE(base, m({oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000002)}));
  EXPECT_NE(base, m({oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000001, 0xffffff00)}));
  EXPECT_NE(base, m({oxm::eth_type(0x0806), oxm::arp_tpa(0x0a000001)}));
  EXPECT_NE(base, m({oxm::eth_type(0x0800)}));
  EXPECT_NE(base, m({oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000001), oxm::in_port(1)}));
  EXPECT_NE(m({oxm::in_port(1)}), m({oxm::in_port(256)}));
  EXPECT_EQ(m({}), "");
}

// A 1.0 switch reports matches as ofp_match: the decoder's field order and
// spelling. Our matches, read back through the 1.0 codec, keep their identity.
TEST(CanonicalMatch, SurvivesTheOpenFlow10Codec) {
  std::vector<FlowMod> flows = base_set();
  flows.push_back(flow(40000, {oxm::eth_type(0x86dd), oxm::eth_dst(MacAddress::from_u64(0x3333ff000001ULL))},
                       to_controller()));
  flows.push_back(flow(39000, {oxm::eth_dst(kMac2), oxm::eth_type(0x86dd), oxm::in_port(2)},
                       to_controller()));
  flows.push_back(flow(10, {oxm::eth_type(0x0800), oxm::ipv4_dst(0x0a000000, 0xff000000),
                            oxm::ipv4_src(0xc0a80000, 0xffff0000)},
                       to_controller()));
  for (const FlowMod& f : flows) {
    FlowStatsReply reply{{stats_of(f)}};
    Message out{kVersion10, 9, MultipartReply{0, reply}};
    auto bytes = encode(out);
    ASSERT_TRUE(bytes.ok()) << text(f) << ": " << describe(bytes.error());
    auto back = decode(*bytes);
    ASSERT_TRUE(back.ok()) << text(f);
    const auto& fs =
        std::get<FlowStatsReply>(std::get<MultipartReply>(back->body).body).flows.at(0);
    EXPECT_EQ(canonical_match(fs.match), canonical_match(f.match)) << text(f);
    EXPECT_EQ(fs.instructions, f.instructions) << text(f);
    // The FLOW_MOD path too: what the switch decodes from our 1.0 FLOW_MOD.
    auto fm_bytes = encode(Message{kVersion10, 10, f});
    ASSERT_TRUE(fm_bytes.ok());
    auto fm_back = decode(*fm_bytes);
    ASSERT_TRUE(fm_back.ok());
    EXPECT_EQ(canonical_match(std::get<FlowMod>(fm_back->body).match), canonical_match(f.match));
  }
}

}  // namespace
}  // namespace tapflow::controller
