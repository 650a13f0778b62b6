// FibProgrammer against a fake switch over loopback: the fake keeps a model of
// its flow and group tables and checks on every message that no flow points
// at a missing group and no group is deleted while used (the ordering rules);
// it speaks bundles or refuses them, rejects chosen FLOW_MODs, and can hold
// back barrier replies to observe pacing.
#include "tapflow/routing/fib_programmer.hpp"

#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "../controller/harness.hpp"
#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::routing {
namespace {

using namespace controller::testing;
using netns::IpAddress;
using netns::IpPrefix;

IpAddress ip(const char* t) { return IpAddress::parse(t).value(); }
IpPrefix pfx(const char* t) { return IpPrefix::parse(t).value(); }

constexpr int kTap1 = 10, kTap2 = 11;
const RouterPorts kPorts{{kTap1, {1, MacAddress::from_u64(0x020000000001ULL)}},
                         {kTap2, {2, MacAddress::from_u64(0x020000000002ULL)}}};

void put_route(netns::KernelState& s, const char* dst, std::vector<std::pair<int, const char*>> hops) {
  netns::Route r;
  r.table = RT_TABLE_MAIN;
  r.dst = pfx(dst);
  r.type = RTN_UNICAST;
  r.protocol = RTPROT_STATIC;
  for (auto [ifindex, gw] : hops) r.nexthops.push_back(netns::NextHop{ifindex, ip(gw), 1, 0});
  s.routes.put(r);
}
void put_neigh(netns::KernelState& s, int ifindex, const char* addr, std::uint64_t mac) {
  s.neighbours[{ifindex, ip(addr)}] =
      netns::Neighbour{ifindex, ip(addr), MacAddress::from_u64(mac), NUD_REACHABLE, 0};
}

// Two resolved gateways, `n` routes alternating between them, one ECMP route.
netns::KernelState base_state(int n) {
  netns::KernelState s;
  put_neigh(s, kTap1, "192.0.2.1", 0x0200000000a1ULL);
  put_neigh(s, kTap2, "198.51.100.1", 0x0200000000a2ULL);
  for (int i = 0; i < n; ++i) {
    const std::string dst = "10." + std::to_string(i) + ".0.0/16";
    if (i % 2 == 0) {
      put_route(s, dst.c_str(), {{kTap1, "192.0.2.1"}});
    } else {
      put_route(s, dst.c_str(), {{kTap2, "198.51.100.1"}});
    }
  }
  put_route(s, "172.16.0.0/12", {{kTap1, "192.0.2.1"}, {kTap2, "198.51.100.1"}});
  return s;
}

std::string flow_id(const FlowMod& f, std::uint8_t version) {
  return std::to_string(version == kVersion10 ? 0 : f.table_id) + "/" + std::to_string(f.priority) +
         "/" + controller::canonical_match(f.match);
}

std::uint32_t group_of(const InstructionList& ins) {
  for (const auto& i : ins) {
    if (const auto* a = std::get_if<instruction::ApplyActions>(&i)) {
      for (const auto& act : a->actions) {
        if (const auto* g = std::get_if<action::Group>(&act)) return g->group_id;
      }
    }
  }
  return 0;
}

// The switch: a model of its tables plus scripted behaviour.
struct SwitchModel {
  std::uint8_t version = kVersion13;
  bool bundles = true;
  std::function<bool(const FlowMod&)> reject;  // answered with FLOW_MOD_FAILED/TABLE_FULL
  std::size_t limit = 0;  // flows the table holds (0: no limit): a new one beyond is TABLE_FULL
  std::map<std::string, FlowMod> flows;
  std::map<std::uint32_t, GroupMod> groups;
  std::vector<std::string> log;  // what arrived, in order
  int order_violations = 0;
  int opens = 0, commits = 0, barriers = 0, flow_mods_plain = 0, bundle_adds = 0;
  std::vector<std::size_t> bundle_sizes;  // messages per committed bundle, in order
  std::chrono::milliseconds commit_delay{0};  // a slow switch: each commit takes this long
  std::vector<std::pair<std::uint32_t, OfError>> errors_sent;

  // Applies one FLOW_MOD/GROUP_MOD; false if the switch rejects it.
  bool check(const Message& m) const {
    if (const auto* f = std::get_if<FlowMod>(&m.body)) {
      if (limit != 0 && f->command == flow_mod_command::kAdd && !flows.contains(flow_id(*f, version)) &&
          flows.size() >= limit) {
        return false;
      }
      return !(reject && f->command == flow_mod_command::kAdd && reject(*f));
    }
    return true;
  }
  void apply(const Message& m) {
    if (const auto* f = std::get_if<FlowMod>(&m.body)) {
      const std::string id = flow_id(*f, version);
      if (f->command == flow_mod_command::kDeleteStrict) {
        log.push_back("flow_del " + std::to_string(f->priority));
        flows.erase(id);
        return;
      }
      log.push_back("flow_add " + std::to_string(f->priority));
      if (std::uint32_t g = group_of(f->instructions); g != 0 && !groups.contains(g)) {
        ++order_violations;
        ADD_FAILURE() << "flow points at missing group " << g;
      }
      flows.insert_or_assign(id, *f);
    } else if (const auto* g = std::get_if<GroupMod>(&m.body)) {
      if (g->command == group_mod_command::kDelete) {
        log.push_back("group_del " + std::to_string(g->group_id));
        for (const auto& [fid, fl] : flows) {
          if (group_of(fl.instructions) == g->group_id) {
            ++order_violations;
            ADD_FAILURE() << "group " << g->group_id << " deleted while a flow uses it";
          }
        }
        for (const auto& [id, other] : groups) {
          for (const auto& b : other.buckets) {
            for (const auto& a : b.actions) {
              if (const auto* ga = std::get_if<action::Group>(&a); ga && ga->group_id == g->group_id) {
                ++order_violations;
                ADD_FAILURE() << "group " << g->group_id << " deleted while group " << id << " uses it";
              }
            }
          }
        }
        groups.erase(g->group_id);
        return;
      }
      log.push_back(std::string(g->command == group_mod_command::kAdd ? "group_add " : "group_mod ") +
                    std::to_string(g->group_id));
      for (const auto& b : g->buckets) {
        for (const auto& a : b.actions) {
          if (const auto* ga = std::get_if<action::Group>(&a); ga && !groups.contains(ga->group_id)) {
            ++order_violations;
            ADD_FAILURE() << "group " << g->group_id << " points at missing group " << ga->group_id;
          }
        }
      }
      groups.insert_or_assign(g->group_id, *g);
    }
  }
};

// Group ids in a snapshot renumbered (groups, select buckets and flows), as a
// compiler that allocated in another order would have numbered them.
void renumber(FibSnapshot& snap, const std::map<std::uint32_t, std::uint32_t>& ids) {
  auto to = [&](std::uint32_t id) {
    auto it = ids.find(id);
    return it == ids.end() ? id : it->second;
  };
  auto actions = [&](ActionList& list) {
    for (auto& a : list) {
      if (auto* g = std::get_if<action::Group>(&a)) g->group_id = to(g->group_id);
    }
  };
  std::map<std::uint32_t, GroupMod> groups;
  for (auto& [id, g] : snap.groups) {
    g.group_id = to(id);
    for (auto& b : g.buckets) actions(b.actions);
    groups[g.group_id] = g;
  }
  snap.groups = std::move(groups);
  for (auto& fm : snap.flows) {
    for (auto& i : fm.instructions) {
      if (auto* a = std::get_if<instruction::ApplyActions>(&i)) actions(a->actions);
    }
  }
}

// The FIB another compiler (an earlier tapflowd) left on the switch for
// `state`, or for base_state(n).
FibSnapshot earlier_life(const netns::KernelState& state, std::uint8_t version = kVersion13) {
  FibOptions fo;
  fo.version = version;
  FibCompiler other(fo, kPorts);
  (void)other.compile(state);
  return other.snapshot();
}
FibSnapshot earlier_life(int n, std::uint8_t version = kVersion13) {
  return earlier_life(base_state(n), version);
}

void put_connected(netns::KernelState& s, const char* dst, int ifindex) {
  netns::Route r;
  r.table = RT_TABLE_MAIN;
  r.dst = pfx(dst);
  r.type = RTN_UNICAST;
  r.protocol = RTPROT_KERNEL;
  r.scope = RT_SCOPE_LINK;
  r.nexthops.push_back(netns::NextHop{ifindex, std::nullopt, 1, 0});
  s.routes.put(r);
}

// A namespace's FIB as the routing daemon refills it after a takeover: the
// connected subnets from the start; once routes come (k > 0) the gateways
// are resolved and routes 10.i.0.0/16, i < k of n, alternate between them
// (those in `moved` via a third gateway, 192.0.2.3, instead, resolved with
// the first of them), with an equal-
// cost pair 172.16.0.0/12 and, with the last route, an unequal-cost pair
// 172.32.0.0/12 (two select groups).
netns::KernelState refill_state(int n, int k, const std::set<int>& moved = {}) {
  netns::KernelState s;
  put_connected(s, "192.0.2.0/24", kTap1);
  put_connected(s, "198.51.100.0/24", kTap2);
  if (k == 0) return s;
  put_neigh(s, kTap1, "192.0.2.1", 0x0200000000a1ULL);
  put_neigh(s, kTap2, "198.51.100.1", 0x0200000000a2ULL);
  if (!moved.empty() && *moved.begin() < k) put_neigh(s, kTap1, "192.0.2.3", 0x0200000000a3ULL);
  for (int i = 0; i < k; ++i) {
    const std::string dst = "10." + std::to_string(i) + ".0.0/16";
    if (moved.contains(i)) {
      put_route(s, dst.c_str(), {{kTap1, "192.0.2.3"}});
    } else if (i % 2 == 0) {
      put_route(s, dst.c_str(), {{kTap1, "192.0.2.1"}});
    } else {
      put_route(s, dst.c_str(), {{kTap2, "198.51.100.1"}});
    }
  }
  put_route(s, "172.16.0.0/12", {{kTap1, "192.0.2.1"}, {kTap2, "198.51.100.1"}});
  if (k == n) {
    netns::Route r;
    r.table = RT_TABLE_MAIN;
    r.dst = pfx("172.32.0.0/12");
    r.type = RTN_UNICAST;
    r.protocol = RTPROT_STATIC;
    r.nexthops.push_back(netns::NextHop{kTap1, ip("192.0.2.1"), 1, 0});
    r.nexthops.push_back(netns::NextHop{kTap2, ip("198.51.100.1"), 3, 0});
    s.routes.put(r);
  }
  return s;
}

// refill_state(n, n) and what never comes back: five routes via a gateway,
// 198.51.100.9, the new life does not know (its group and its host flow).
netns::KernelState earlier_with_leftovers(int n) {
  netns::KernelState s = refill_state(n, n);
  put_neigh(s, kTap2, "198.51.100.9", 0x0200000000a9ULL);
  for (int i = 0; i < 5; ++i) {
    const std::string dst = "10.200." + std::to_string(i) + ".0/24";
    put_route(s, dst.c_str(), {{kTap2, "198.51.100.9"}});
  }
  return s;
}

// Group ids of an earlier life moved by `by`: a restarted compiler numbers
// its groups afresh, so nothing says they are the new compiler's ids.
void shift_group_ids(FibSnapshot& snap, std::uint32_t by) {
  std::map<std::uint32_t, std::uint32_t> ids;
  for (const auto& [id, g] : snap.groups) ids[id] = id + by;
  renumber(snap, ids);
}

FlowStats stats_of(const FlowMod& f) {
  FlowStats s;
  s.table_id = f.table_id;
  s.priority = f.priority;
  s.cookie = f.cookie;
  s.match = f.match;
  s.instructions = f.instructions;
  return s;
}

class Lab {
 public:
  explicit Lab(std::uint8_t version, FibProgrammerOptions opts = {}) : version_(version) {
    model.version = version;
    sw.handshake(version, 1, {FakeSwitch::make_port(1, "p1"), FakeSwitch::make_port(2, "p2")});
    EXPECT_TRUE(f.app.wait_kind("up"));
    FibOptions fo;
    fo.version = version;
    f.run([&] {
      compiler = std::make_unique<FibCompiler>(fo, kPorts);
      prog = std::make_unique<FibProgrammer>(*compiler, opts);
    });
  }
  ~Lab() {
    f.run([this] {
      prog.reset();
      compiler.reset();
    });
  }

  controller::Datapath& dp() { return *f.controller().find(1); }

  std::future<Status> compile_and_apply(const netns::KernelState& s) {
    auto p = std::make_shared<std::promise<Status>>();
    auto fut = p->get_future();
    f.run([&] {
      FibDiff d = compiler->compile(s);
      prog->apply(d, [p](Status st) { p->set_value(st); });
    });
    return fut;
  }
  std::future<Status> reconcile(bool hold_stale = false) {
    auto p = std::make_shared<std::promise<Status>>();
    auto fut = p->get_future();
    f.run([&] { prog->reconcile(dp(), [p](Status st) { p->set_value(st); }, hold_stale); });
    return fut;
  }
  std::future<Status> sweep() {
    auto p = std::make_shared<std::promise<Status>>();
    auto fut = p->get_future();
    f.run([&] {
      prog->sweep_stale();
      prog->apply(FibDiff{}, [p](Status st) { p->set_value(st); });
    });
    return fut;
  }
  // The switch holds these from an earlier life: in its tables (the model)
  // and in its answers to the reconcile's reads.
  void preload(const std::vector<FlowMod>& flows, const std::map<std::uint32_t, GroupMod>& groups) {
    for (const FlowMod& fm : flows) {
      preexisting_flows.push_back(stats_of(fm));
      model.flows[flow_id(fm, version_)] = fm;
    }
    for (const auto& [id, g] : groups) {
      preexisting_groups.push_back(GroupDesc{g.type, id, g.buckets});
      GroupMod held = g;
      held.group_id = id;
      model.groups[id] = held;
    }
  }
  // Messages the switch got since `from` in the model's log, by kind.
  std::map<std::string, int> sent_since(std::size_t from) const {
    std::map<std::string, int> n;
    for (std::size_t i = from; i < model.log.size(); ++i) {
      const std::string& l = model.log[i];
      ++n[l.substr(0, l.find(' '))];
    }
    return n;
  }
  // The switch starts empty: an empty reconcile binds the programmer.
  void bind() {
    auto fut = reconcile();
    serve_until(fut);
    ASSERT_TRUE(fut.get().ok());
  }

  // Hands the errors the switch sent to the programmer (as the daemon's
  // App::on_error does), before the batch they belong to is confirmed.
  void forward_errors() {
    ASSERT_TRUE(f.app.wait_kind("error", model.errors_sent.size()));
    auto ev = f.app.events();
    std::vector<std::pair<std::uint32_t, OfError>> errs;
    for (const auto& e : ev) {
      if (e.kind == "error") errs.emplace_back(e.xid, e.error);
    }
    for (std::size_t i = forwarded_; i < errs.size(); ++i) {
      f.run([&] { (void)prog->on_error(errs[i].second, errs[i].first); });
    }
    forwarded_ = errs.size();
  }

  void send_error(std::uint32_t xid, std::uint16_t type, std::uint16_t code) {
    Error e;
    e.type = type;
    e.code = code;
    sw.send(Message{version_, xid, e});
    model.errors_sent.emplace_back(xid, OfError{type, code, "", 0});
  }

  // Plays the switch for one message; false on timeout.
  bool step(std::chrono::milliseconds timeout = 2s, bool answer_barrier = true,
            std::optional<Message>* held_barrier = nullptr) {
    auto m = sw.recv(timeout);
    if (!m) return false;
    EXPECT_EQ(m->version, version_);
    const std::uint32_t xid = m->xid;
    if (const auto* e = std::get_if<EchoRequest>(&m->body)) {
      sw.send(Message{version_, xid, EchoReply{e->data}});
    } else if (const auto* bc = std::get_if<BundleControl>(&m->body)) {
      if (bc->type == bundle_ctrl_type::kOpenRequest) {
        ++model.opens;
        model.log.push_back("bundle_open");
        if (!model.bundles) {
          Error refused;
          refused.type = error_type::kBadRequest;
          refused.code = bad_request::kBadExperimenter;
          sw.send(Message{version_, xid, refused});
          return true;
        }
        EXPECT_EQ(bc->flags, bundle_flags::kAtomic | bundle_flags::kOrdered);
        bundle_.clear();
        sw.send(Message{version_, xid, BundleControl{bc->bundle_id, bundle_ctrl_type::kOpenReply, bc->flags, {}}});
      } else if (bc->type == bundle_ctrl_type::kCommitRequest) {
        ++model.commits;
        model.bundle_sizes.push_back(bundle_.size());
        if (model.commit_delay.count() > 0) std::this_thread::sleep_for(model.commit_delay);
        bool ok = true;
        for (const Message& inner : bundle_) {
          if (!model.check(inner)) {
            send_error(inner.xid, error_type::kFlowModFailed, flow_mod_failed::kTableFull);
            ok = false;
            break;
          }
        }
        if (ok) {
          for (const Message& inner : bundle_) model.apply(inner);
          model.log.push_back("bundle_commit");
          sw.send(Message{version_, xid, BundleControl{bc->bundle_id, bundle_ctrl_type::kCommitReply, bc->flags, {}}});
        } else {
          model.log.push_back("bundle_failed");
          // As in the daemon, the inner message's error reaches the
          // programmer before the commit's answer.
          forward_errors();
          Error failed;
          failed.type = error_type::kBadRequest;
          failed.code = bad_request::kEperm;
          sw.send(Message{version_, xid, failed});
        }
        bundle_.clear();
      }
    } else if (const auto* add = std::get_if<BundleAddMessage>(&m->body)) {
      ++model.bundle_adds;
      auto inner = decode(add->message);
      EXPECT_TRUE(inner.ok());
      if (inner) {
        EXPECT_EQ(inner->xid, xid);  // OVS insists
        bundle_.push_back(*inner);
      }
    } else if (std::holds_alternative<FlowMod>(m->body) || std::holds_alternative<GroupMod>(m->body)) {
      if (std::holds_alternative<FlowMod>(m->body)) ++model.flow_mods_plain;
      if (model.check(*m)) {
        model.apply(*m);
      } else {
        model.log.push_back("rejected");
        send_error(xid, error_type::kFlowModFailed, flow_mod_failed::kTableFull);
      }
    } else if (std::holds_alternative<BarrierRequest>(m->body)) {
      ++model.barriers;
      if (!answer_barrier) {
        if (held_barrier) *held_barrier = m;
        return true;
      }
      forward_errors();
      sw.send(Message{version_, xid, BarrierReply{}});
    } else if (const auto* mp = std::get_if<MultipartRequest>(&m->body)) {
      if (const auto* fr = std::get_if<FlowStatsRequest>(&mp->body)) {
        if (version_ != kVersion10) {
          EXPECT_EQ(fr->cookie, pipeline::cookie::kRouting);
          EXPECT_EQ(fr->cookie_mask, pipeline::cookie::kClassMask);
        }
        // In parts of up to 3 flows, as a switch splits a long dump: the
        // programmer must take them as they come.
        if (read_model) {  // what the switch holds now
          preexisting_flows.clear();
          for (const auto& [id, fm] : model.flows) preexisting_flows.push_back(stats_of(fm));
        }
        const std::size_t n = preexisting_flows.size();
        for (std::size_t i = 0; i == 0 || i < n; i += 3) {
          const std::size_t end = std::min(n, i + 3);
          std::vector<FlowStats> part(preexisting_flows.begin() + static_cast<long>(i),
                                      preexisting_flows.begin() + static_cast<long>(end));
          const std::uint16_t flags = end < n ? multipart_flags::kMore : std::uint16_t{0};
          sw.send(Message{version_, xid, MultipartReply{flags, FlowStatsReply{std::move(part)}}});
        }
      } else if (std::holds_alternative<GroupDescStatsRequest>(mp->body)) {
        sw.send(Message{version_, xid, MultipartReply{0, GroupDescStatsReply{preexisting_groups}}});
      } else if (std::holds_alternative<TableFeaturesStatsRequest>(mp->body)) {
        TableFeatures t;
        t.table_id = 1;
        t.name = "fib";
        t.max_entries = table_max_entries;
        sw.send(Message{version_, xid, MultipartReply{0, TableFeaturesStatsReply{{t}}}});
      } else {
        ADD_FAILURE() << "unexpected multipart request";
      }
    } else {
      ADD_FAILURE() << "unexpected " << type_name(m->body);
    }
    return true;
  }

  void serve_until(std::future<Status>& fut, std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fut.wait_for(0s) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "done was not called";
        return;
      }
      (void)step(50ms);
    }
  }

  // The switch's tables equal the compiler's snapshot (ours only), group ids
  // as the programmer maps them to the switch's.
  void expect_switch_equals_snapshot(std::size_t foreign = 0) {
    FibSnapshot snap = f.run([&] {
      FibSnapshot s = compiler->snapshot();
      std::map<std::uint32_t, std::uint32_t> ids;
      for (const auto& [id, g] : s.groups) ids[id] = prog->switch_group_id(id);
      renumber(s, ids);
      return s;
    });
    std::map<std::string, std::string> want, have;
    for (const auto& fm : snap.flows) {
      want[flow_id(fm, version_)] = to_text(fm.instructions.empty() ? Instruction{} : fm.instructions[0]);
    }
    std::size_t others = 0;
    for (const auto& [id, fm] : model.flows) {
      if ((fm.cookie & pipeline::cookie::kClassMask) != pipeline::cookie::kRouting) {
        ++others;
        continue;
      }
      have[id] = to_text(fm.instructions.empty() ? Instruction{} : fm.instructions[0]);
    }
    EXPECT_EQ(want, have);
    EXPECT_EQ(others, foreign);
    EXPECT_EQ(snap.groups.size(), model.groups.size());
    for (const auto& [id, g] : snap.groups) {
      auto it = model.groups.find(id);
      ASSERT_NE(it, model.groups.end()) << "group " << id;
      EXPECT_EQ(it->second.buckets, g.buckets) << "group " << id;
    }
    EXPECT_EQ(model.order_violations, 0);
  }

  FibProgrammerCounters counters() {
    return f.run([&] { return prog->counters(); });
  }

  ControllerFixture f;
  FakeSwitch sw{f.port};
  SwitchModel model;
  std::unique_ptr<FibCompiler> compiler;
  std::unique_ptr<FibProgrammer> prog;
  bool read_model = false;  // FLOW_STATS answered from the model (else preexisting_flows)
  std::vector<FlowStats> preexisting_flows;
  std::vector<GroupDesc> preexisting_groups;
  std::uint32_t table_max_entries = 0xffffffff;

 private:
  std::uint8_t version_;
  std::vector<Message> bundle_;
  std::size_t forwarded_ = 0;
};

Status get(std::future<Status>& fut) {
  if (fut.wait_for(3s) != std::future_status::ready) return make_error(0, 0, "timeout");
  return fut.get();
}

TEST(FibProgrammer, BundlesInstallEverythingInOrder) {
  FibProgrammerOptions o;
  o.bundle_max = 7;  // several bundles
  Lab lab(kVersion13, o);
  lab.bind();
  auto fut = lab.compile_and_apply(base_state(20));
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot();
  EXPECT_EQ(lab.model.flow_mods_plain, 0);
  EXPECT_GT(lab.model.commits, 2);
  EXPECT_EQ(lab.model.opens, lab.model.commits);
  // Groups first: indirect (2), select (1), then flows.
  ASSERT_GE(lab.model.log.size(), 4u);
  EXPECT_EQ(lab.model.log[0], "bundle_open");
  EXPECT_EQ(lab.model.log[1].rfind("group_add", 0), 0u);
  const auto c = lab.counters();
  EXPECT_EQ(c.bundles_committed, static_cast<std::uint64_t>(lab.model.commits));
  EXPECT_EQ(c.errors, 0u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->bundle_support(); }), BundleSupport::kYes);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->unconfirmed_xids(); }), 0u);

  // An update that removes routes and the ECMP route: flows leave before
  // their groups (the model checks), select group before indirect.
  auto s = base_state(20);
  s.routes.erase(s.routes.begin());
  for (auto it = s.routes.begin(); it != s.routes.end();) {
    it = it->nexthops.size() > 1 ? s.routes.erase(it) : std::next(it);
  }
  auto fut2 = lab.compile_and_apply(s);
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  lab.expect_switch_equals_snapshot();
  EXPECT_EQ(lab.model.log.back().rfind("bundle_commit", 0), 0u);
}

TEST(FibProgrammer, BundlesShrinkWhileTheSwitchIsSlowAndGrowBack) {
  FibProgrammerOptions o;
  o.bundle_max = 40;
  o.bundle_min = 4;
  o.bundle_target = 100ms;  // "fast" below 50 ms: room for a loaded test machine
  Lab lab(kVersion13, o);
  lab.bind();
  // A switch that takes 400 ms per commit, whatever its size: bundles shrink
  // (in proportion, at most to a quarter at once) down to bundle_min.
  lab.model.commit_delay = 400ms;
  auto fut = lab.compile_and_apply(base_state(60));
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot();
  const auto slow = lab.model.bundle_sizes;
  ASSERT_GE(slow.size(), 4u);
  EXPECT_EQ(slow[0], 40u);
  EXPECT_EQ(slow[1], 10u);  // 40 x 100 ms / 400 ms
  EXPECT_EQ(slow[2], 4u);   // bundle_min
  for (std::size_t i = 2; i + 1 < slow.size(); ++i) EXPECT_EQ(slow[i], 4u) << i;
  EXPECT_GE(lab.counters().bundle_shrinks, 2u);

  // Fast again: each full bundle grows by a quarter, back to bundle_max.
  lab.model.commit_delay = 0ms;
  lab.model.bundle_sizes.clear();
  auto fut2 = lab.compile_and_apply(base_state(200));
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  lab.expect_switch_equals_snapshot();
  const auto fast = lab.model.bundle_sizes;
  ASSERT_GE(fast.size(), 3u);
  EXPECT_EQ(fast[0], 4u);
  EXPECT_EQ(fast[1], 6u);  // 4 + 4/4 + 1
  EXPECT_EQ(fast[2], 8u);  // 6 + 6/4 + 1
  for (std::size_t i = 1; i + 1 < fast.size(); ++i) {
    EXPECT_EQ(fast[i], std::min<std::size_t>(40, fast[i - 1] + fast[i - 1] / 4 + 1)) << i;
  }
  EXPECT_GE(*std::max_element(fast.begin(), fast.end()), 20u);
}

// Yield to BFD (RoutingConfig::bfd_yield sets `hold` from the BFD watch):
// while `hold` says wait, no bundle goes out; asked again after each wait,
// the install resumes once it says go, and every hold is counted.
TEST(FibProgrammer, HoldsItsNextBundleWhileAskedToYield) {
  std::atomic<bool> blocked{true};
  std::atomic<int> asks{0};
  Lab* labp = nullptr;
  FibProgrammerOptions o;
  o.bundle_max = 10;
  o.hold = [&] {
    ++asks;
    return blocked ? 10ms : 0ms;
  };
  o.defer = [&](std::chrono::milliseconds d, std::function<void()> fn) {
    auto t = std::make_shared<boost::asio::steady_timer>(labp->f.io(), d);
    t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  };
  Lab lab(kVersion13, o);
  labp = &lab;
  lab.bind();
  const int opens_before = lab.model.opens;
  auto fut = lab.compile_and_apply(base_state(30));
  // Held: no bundle reaches the switch while the answer is "wait" (echoes may).
  const auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) (void)lab.step(50ms);
  EXPECT_EQ(lab.model.opens, opens_before);
  EXPECT_GE(asks.load(), 3);  // asked again after each 10 ms
  blocked = false;
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot();
  EXPECT_GT(lab.model.opens, opens_before);
  const auto c = lab.counters();
  EXPECT_GE(c.control_holds, 3u);
  EXPECT_EQ(c.control_hold_us, c.control_holds * 10000);
}

TEST(FibProgrammer, FallsBackToBarriersWhenBundlesAreRefused) {
  Lab lab(kVersion13);
  lab.model.bundles = false;
  lab.bind();
  auto fut = lab.compile_and_apply(base_state(10));
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot();
  EXPECT_EQ(lab.model.opens, 1);  // asked once, remembered
  EXPECT_EQ(lab.model.commits, 0);
  EXPECT_GT(lab.model.barriers, 0);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->bundle_support(); }), BundleSupport::kNo);
  auto s = base_state(12);
  auto fut2 = lab.compile_and_apply(s);
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  EXPECT_EQ(lab.model.opens, 1);
  lab.expect_switch_equals_snapshot();
}

TEST(FibProgrammer, FailedBundleIsRetriedMessageByMessage) {
  Lab lab(kVersion13);
  const auto bad = pfx("10.3.0.0/16");
  lab.model.reject = [&](const FlowMod& f) {
    return f.priority == pipeline::priority::fib::route(16) &&
           controller::canonical_match(f.match) ==
               controller::canonical_match([&] {
                 Match m;
                 m.add(oxm::eth_type(0x0800));
                 m.add(oxm::ipv4_dst(bad.addr.v4_host_order(), 0xffff0000));
                 return m;
               }());
  };
  lab.bind();
  auto fut = lab.compile_and_apply(base_state(8));
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_EQ(lab.model.commits, 1);
  EXPECT_NE(std::find(lab.model.log.begin(), lab.model.log.end(), "bundle_failed"), lab.model.log.end());
  const auto c = lab.counters();
  EXPECT_EQ(c.bundles_failed, 1u);
  EXPECT_EQ(c.errors, 1u);  // the retry's error only, not the bundle's
  EXPECT_EQ(c.table_full, 1u);
  EXPECT_GT(c.retried, 0u);
  // Everything but the bad route went in.
  FibSnapshot snap = lab.f.run([&] { return lab.compiler->snapshot(); });
  std::size_t ours = 0;
  for (const auto& [id, f] : lab.model.flows) {
    ours += (f.cookie & pipeline::cookie::kClassMask) == pipeline::cookie::kRouting;
  }
  EXPECT_EQ(ours + 1, snap.flows.size());
  EXPECT_EQ(lab.model.groups.size(), snap.groups.size());
  EXPECT_EQ(lab.model.order_violations, 0);
}

TEST(FibProgrammer, BarrierPacingBoundsMessagesInFlight) {
  FibProgrammerOptions o;
  o.use_bundles = false;
  o.batch_size = 4;
  o.max_inflight_batches = 1;
  Lab lab(kVersion13, o);
  lab.bind();
  auto fut = lab.compile_and_apply(base_state(14));  // 3 groups + 15 flows + miss
  int mods_before_barrier = 0, rounds = 0;
  while (fut.wait_for(0s) != std::future_status::ready && rounds < 20) {
    ++rounds;
    std::optional<Message> held;
    const int before = lab.model.flow_mods_plain + static_cast<int>(lab.model.groups.size());
    while (!held) {
      if (!lab.step(2s, false, &held)) break;
    }
    ASSERT_TRUE(held) << "no barrier";
    mods_before_barrier =
        lab.model.flow_mods_plain + static_cast<int>(lab.model.groups.size()) - before;
    EXPECT_LE(mods_before_barrier, 4);
    // Nothing more until the barrier is answered (echo requests aside).
    const int sent = lab.model.flow_mods_plain + static_cast<int>(lab.model.groups.size());
    const int barriers = lab.model.barriers;
    const auto until = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < until) (void)lab.step(50ms, false);
    EXPECT_EQ(lab.model.flow_mods_plain + static_cast<int>(lab.model.groups.size()), sent);
    EXPECT_EQ(lab.model.barriers, barriers);
    lab.forward_errors();
    lab.sw.send(Message{kVersion13, (*held).xid, BarrierReply{}});
    // Let done run if it was the last batch.
    (void)fut.wait_for(50ms);
  }
  ASSERT_TRUE(get(fut).ok());
  EXPECT_GE(rounds, 5);
  lab.expect_switch_equals_snapshot();
}

TEST(FibProgrammer, ReconcileSendsOnlyTheDifference) {
  Lab lab(kVersion13);
  // What the switch holds from an earlier life: the FIB of base_state(6)
  // (groups with the same ids), a stale route and a stale group, a valid
  // route pointing at another group, and someone else's flow.
  FibSnapshot old = earlier_life(6);
  for (auto& f : old.flows) lab.preexisting_flows.push_back(stats_of(f));
  for (auto& [id, g] : old.groups) lab.preexisting_groups.push_back(GroupDesc{g.type, id, g.buckets});
  FlowMod stale;
  stale.cookie = pipeline::cookie::kRoute;
  stale.table_id = 1;
  stale.priority = pipeline::priority::fib::route(24);
  stale.match.add(oxm::eth_type(0x0800));
  stale.match.add(oxm::ipv4_dst(0x0a630100, 0xffffff00));
  stale.instructions = {instruction::ApplyActions{{action::Group{1}}}};
  lab.preexisting_flows.push_back(stats_of(stale));
  FlowMod foreign = stale;
  foreign.cookie = 0x7461000000000001ULL;
  foreign.priority = 500;
  lab.preexisting_flows.push_back(stats_of(foreign));
  lab.preexisting_groups.push_back(GroupDesc{group_type::kIndirect, 77, {Bucket{}}});
  // The model holds the same.
  for (const auto& s : lab.preexisting_flows) {
    FlowMod f;
    f.cookie = s.cookie;
    f.table_id = s.table_id;
    f.priority = s.priority;
    f.match = s.match;
    f.instructions = s.instructions;
    lab.model.flows[flow_id(f, kVersion13)] = f;
  }
  for (const auto& g : lab.preexisting_groups) lab.model.groups[g.group_id] = GroupMod{0, g.type, g.group_id, g.buckets};
  lab.table_max_entries = 100000;

  // The compiler now wants base_state(8) with route 10.5.0.0/16 moved to the
  // other gateway.
  auto s = base_state(8);
  s.routes.erase(netns::key_of([] {
    netns::Route r;
    r.table = RT_TABLE_MAIN;
    r.dst = pfx("10.5.0.0/16");
    return r;
  }()));
  put_route(s, "10.5.0.0/16", {{kTap1, "192.0.2.1"}});
  lab.f.run([&] { (void)lab.compiler->compile(s); });
  const std::size_t before = lab.model.log.size();
  auto fut = lab.reconcile();
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot(1);
  std::vector<std::string> sent(lab.model.log.begin() + static_cast<long>(before), lab.model.log.end());
  // 2 new routes + 1 changed route; 1 stale flow; 1 stale group; nothing else.
  int adds = 0, dels = 0, gdel = 0, gadd = 0;
  for (const auto& l : sent) {
    adds += l.rfind("flow_add", 0) == 0;
    dels += l.rfind("flow_del", 0) == 0;
    gdel += l.rfind("group_del", 0) == 0;
    gadd += l.rfind("group_add", 0) == 0 || l.rfind("group_mod", 0) == 0;
  }
  EXPECT_EQ(adds, 3);
  EXPECT_EQ(dels, 1);
  EXPECT_EQ(gdel, 1);
  EXPECT_EQ(gadd, 0);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->table_capacity(); }), std::optional<std::uint32_t>(100000));
  EXPECT_EQ(lab.counters().reconciles, 1u);
}

TEST(FibProgrammer, ReconcileDeletesOurCookiesInAShapeTheCompilerNeverMakes) {
  Lab lab(kVersion13);
  auto s = base_state(2);
  lab.f.run([&] { (void)lab.compiler->compile(s); });
  // A wanted route, as an older program might have spelled it: an extra
  // in_port. Same cookie and priority, another flow for the switch.
  FibSnapshot want = lab.f.run([&] { return lab.compiler->snapshot(); });
  FlowMod odd;
  for (const FlowMod& f : want.flows) {
    if (f.cookie == pipeline::cookie::kRoute) {
      odd = f;
      break;
    }
  }
  ASSERT_EQ(odd.cookie, pipeline::cookie::kRoute);
  odd.match.add(oxm::in_port(3));
  lab.preexisting_flows.push_back(stats_of(odd));
  // And one with a non-contiguous mask.
  FlowMod holes = odd;
  holes.match = {};
  holes.match.add(oxm::eth_type(0x0800));
  holes.match.add(oxm::ipv4_dst(0x0a000001, 0xff00ff00));
  lab.preexisting_flows.push_back(stats_of(holes));
  for (const FlowMod& f : {odd, holes}) lab.model.flows[flow_id(f, kVersion13)] = f;
  auto fut = lab.reconcile();
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot();
}

TEST(FibProgrammer, ReconcileKeepsTheLongestPrefixesWhenTheTableIsTooSmall) {
  FibProgrammerOptions o;
  o.table_capacity = 5;
  Lab lab(kVersion13, o);
  auto s = base_state(6);
  put_route(s, "10.0.1.0/24", {{kTap1, "192.0.2.1"}});
  lab.f.run([&] { (void)lab.compiler->compile(s); });
  auto fut = lab.reconcile();
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  ASSERT_EQ(lab.model.flows.size(), 5u);
  std::vector<std::uint16_t> prios;
  for (const auto& [id, f] : lab.model.flows) prios.push_back(f.priority);
  std::sort(prios.begin(), prios.end());
  EXPECT_EQ(prios.front(), 0);  // the miss flow stays
  EXPECT_EQ(prios.back(), pipeline::priority::fib::route(24));
  EXPECT_EQ(lab.f.run([&] { return lab.prog->withheld(); }), 9u - 5u + 0u);
  EXPECT_EQ(lab.model.order_violations, 0);
}

// A switch whose table holds less than anyone said (no size known here):
// TABLE_FULL, a refit that makes room first, a TABLE_FULL within it, and the
// next refit learns the real size and keeps exactly the highest priorities
// (the longest prefixes) and the miss flow.
TEST(FibProgrammer, HardTableLimitIsLearntAndTheLongestPrefixesKept) {
  FibProgrammerOptions o;
  o.use_bundles = false;
  o.read_table_features = false;
  o.min_refit_interval = std::chrono::milliseconds(0);
  Lab lab(kVersion13, o);
  lab.model.limit = 6;
  lab.read_model = true;
  auto s = base_state(6);
  put_route(s, "10.0.1.0/24", {{kTap1, "192.0.2.1"}});
  lab.bind();
  auto fut = lab.compile_and_apply(s);
  lab.serve_until(fut);
  // The refits run on their own once each batch is confirmed.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline &&
         !lab.f.run([&] { return lab.prog->idle() && lab.prog->table_capacity().has_value(); })) {
    (void)lab.step(50ms);
  }
  const auto c = lab.counters();
  EXPECT_GT(c.table_full, 0u);
  EXPECT_GE(c.refits, 2u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->table_capacity(); }), std::optional<std::uint32_t>(6));
  std::vector<std::uint16_t> want;
  for (const FibFlow& f : lab.f.run([&] { return lab.compiler->flows(); })) want.push_back(f.priority);
  ASSERT_GT(want.size(), 6u);
  std::vector<std::uint16_t> keep(want.begin(), want.begin() + 5);  // sorted by priority, highest first
  keep.push_back(0);                                                 // and the miss flow
  std::vector<std::uint16_t> have;
  for (const auto& [id, f] : lab.model.flows) have.push_back(f.priority);
  std::sort(have.rbegin(), have.rend());
  EXPECT_EQ(have, keep);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->withheld(); }), want.size() - 6);
  EXPECT_EQ(lab.model.order_violations, 0);
}

TEST(FibProgrammer, OpenFlow10ReconcileFiltersByCookie) {
  Lab lab(kVersion10);
  FlowMod foreign;
  foreign.cookie = 0x7461000000000001ULL;
  foreign.priority = 100;
  foreign.match.add(oxm::eth_type(0x0806));
  lab.preexisting_flows.push_back(stats_of(foreign));
  lab.model.flows[flow_id(foreign, kVersion10)] = foreign;
  FlowMod stale;
  stale.cookie = pipeline::cookie::kRoute;
  stale.priority = pipeline::priority::fib::route(24);
  stale.match.add(oxm::eth_type(0x0800));
  stale.match.add(oxm::ipv4_dst(0x0a630100, 0xffffff00));
  lab.preexisting_flows.push_back(stats_of(stale));
  lab.model.flows[flow_id(stale, kVersion10)] = stale;
  lab.f.run([&] { (void)lab.compiler->compile(base_state(4)); });
  auto fut = lab.reconcile();
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  lab.expect_switch_equals_snapshot(1);
  EXPECT_EQ(lab.model.opens, 0);  // no bundles on 1.0
}

TEST(FibProgrammer, DatapathGoneMidBundleIsSafe) {
  Lab lab(kVersion13);
  lab.bind();
  auto fut = lab.compile_and_apply(base_state(10));
  // Open the bundle, take a few adds, then the switch disappears.
  ASSERT_TRUE(lab.step());
  ASSERT_EQ(lab.model.opens, 1);
  ASSERT_TRUE(lab.step());
  ::shutdown(lab.sw.fd(), SHUT_RDWR);
  ASSERT_TRUE(lab.f.app.wait_kind("down"));
  const Status st = get(fut);
  EXPECT_FALSE(st.ok());
  // Applying later without a datapath fails cleanly.
  auto p = std::make_shared<std::promise<Status>>();
  auto fut2 = p->get_future();
  lab.f.run([&] {
    lab.prog->stop();
    lab.prog->apply(FibDiff{}, [p](Status s) { p->set_value(s); });
  });
  EXPECT_FALSE(get(fut2).ok());
}

TEST(FibProgrammer, DestroyedWhileCommitPendingIsSafe) {
  Lab lab(kVersion13);
  lab.bind();
  bool called = false;
  lab.f.run([&] {
    FibDiff d = lab.compiler->compile(base_state(4));
    lab.prog->apply(d, [&called](Status) { called = true; });
  });
  // Read up to the commit, then destroy the programmer before answering.
  std::optional<Message> commit;
  for (int i = 0; i < 50 && !commit; ++i) {
    auto m = lab.sw.recv(1s);
    ASSERT_TRUE(m);
    if (const auto* bc = std::get_if<BundleControl>(&m->body)) {
      if (bc->type == bundle_ctrl_type::kOpenRequest) {
        lab.sw.send(Message{kVersion13, m->xid, BundleControl{bc->bundle_id, bundle_ctrl_type::kOpenReply, bc->flags, {}}});
      } else if (bc->type == bundle_ctrl_type::kCommitRequest) {
        commit = m;
      }
    }
  }
  ASSERT_TRUE(commit);
  lab.f.run([&] { lab.prog.reset(); });
  const auto& bc = std::get<BundleControl>(commit->body);
  lab.sw.send(Message{kVersion13, commit->xid, BundleControl{bc.bundle_id, bundle_ctrl_type::kCommitReply, bc.flags, {}}});
  lab.sw.send(Message{kVersion13, 1, EchoRequest{}});
  (void)lab.sw.expect<EchoReply>();  // the reply was handled (and ignored)
  EXPECT_FALSE(called);
}

// The switch's FIB as another compiler left it: the same routes, next hops
// and ECMP group, but the group ids in another order (a restarted tapflowd
// numbers its groups afresh). Nothing forwards differently, so nothing is
// sent: the groups are adopted by content and the flows using them stay.
TEST(FibProgrammer, ReconcileAdoptsGroupsByContentWhateverTheirIds) {
  Lab lab(kVersion13);
  FibSnapshot old = earlier_life(20);
  ASSERT_EQ(old.groups.size(), 3u);  // two gateways, one ECMP pair
  renumber(old, {{1, 3}, {2, 1}, {3, 2}});
  lab.preload(old.flows, old.groups);
  lab.f.run([&] { (void)lab.compiler->compile(base_state(20)); });
  const std::size_t before = lab.model.log.size();
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_TRUE(lab.sent_since(before).empty()) << "sent " << lab.model.log.size() - before << " messages";
  lab.expect_switch_equals_snapshot();
  EXPECT_EQ(lab.counters().groups_adopted, 3u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows() + lab.prog->stale_groups(); }), 0u);

  // A next hop's MAC changes: one GROUP_MOD, to the group the switch had for
  // that next hop, and no flow.
  auto moved = base_state(20);
  put_neigh(moved, kTap1, "192.0.2.1", 0x0200000000b1ULL);
  const std::size_t mark = lab.model.log.size();
  auto fut2 = lab.compile_and_apply(moved);
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  const auto sent = lab.sent_since(mark);
  EXPECT_EQ(sent.count("flow_add"), 0u);
  EXPECT_EQ(sent.at("group_mod"), 1);
  lab.expect_switch_equals_snapshot();
}

// A group the switch holds under an id the new compiler also uses, with
// other content (a next hop that is gone): the compiler's group gets another
// switch id, so the old flows through the old group never forward to the
// new next hop; held as stale, both stay until the sweep, which deletes the
// flow before its group.
TEST(FibProgrammer, NewGroupsNeverTakeAnIdTheSwitchHolds) {
  Lab lab(kVersion13);
  GroupMod gone;
  gone.type = group_type::kIndirect;
  gone.group_id = 1;
  Bucket b;
  b.actions = {action::SetField{oxm::eth_dst(MacAddress::from_u64(0x0200000000eeULL))},
               action::Output{2, 0}};
  gone.buckets = {b};
  FlowMod via_gone;
  via_gone.cookie = pipeline::cookie::kRoute;
  via_gone.table_id = 1;
  via_gone.priority = pipeline::priority::fib::route(24);
  via_gone.match.add(oxm::eth_type(0x0800));
  via_gone.match.add(oxm::ipv4_dst(0x0a630100, 0xffffff00));  // 10.99.1.0/24
  via_gone.instructions = {instruction::ApplyActions{{action::Group{1}}}};
  lab.preload({via_gone}, {{1, gone}});
  lab.f.run([&] { (void)lab.compiler->compile(base_state(4)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_EQ(lab.model.order_violations, 0);
  // Still there, still what it was: the stale route forwards as before.
  ASSERT_TRUE(lab.model.groups.contains(1));
  EXPECT_EQ(lab.model.groups.at(1).buckets, gone.buckets);
  EXPECT_EQ(group_of(lab.model.flows.at(flow_id(via_gone, kVersion13)).instructions), 1u);
  EXPECT_NE(lab.f.run([&] { return lab.prog->switch_group_id(1); }), 1u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), 1u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_groups(); }), 1u);
  EXPECT_EQ(lab.counters().stale_held_flows, 1u);

  const std::size_t mark = lab.model.log.size();
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  const std::vector<std::string> after(lab.model.log.begin() + static_cast<long>(mark), lab.model.log.end());
  const auto flow_del = std::find_if(after.begin(), after.end(), [](const std::string& l) { return l.rfind("flow_del", 0) == 0; });
  const auto group_del = std::find(after.begin(), after.end(), "group_del 1");
  ASSERT_NE(flow_del, after.end());
  ASSERT_NE(group_del, after.end());
  EXPECT_LT(flow_del, group_del);
  lab.expect_switch_equals_snapshot();
  EXPECT_EQ(lab.counters().stale_swept_flows, 1u);
  EXPECT_EQ(lab.counters().stale_swept_groups, 1u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows() + lab.prog->stale_groups(); }), 0u);
}

// The FIB refills after the reconcile: a route that comes back as it was
// takes its stale flow back (nothing sent, no delete), and the sweep leaves
// it alone.
TEST(FibProgrammer, RoutesThatComeBackTakeTheirStaleFlowsBack) {
  Lab lab(kVersion13);
  FibSnapshot old = earlier_life(10);
  lab.preload(old.flows, old.groups);
  // Right after a restart with the sessions down: only two routes so far.
  lab.f.run([&] { (void)lab.compiler->compile(base_state(2)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  const std::size_t held = lab.f.run([&] { return lab.prog->stale_flows(); });
  EXPECT_EQ(held, 8u);  // 10.2/16 .. 10.9/16
  EXPECT_EQ(lab.sent_since(0).count("flow_del"), 0u);
  // The routing daemon learns the rest again.
  const std::size_t mark = lab.model.log.size();
  auto fut2 = lab.compile_and_apply(base_state(10));
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), 0u);
  EXPECT_EQ(lab.counters().stale_adopted_flows, 8u);
  EXPECT_EQ(lab.counters().stale_replaced, 0u);
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  EXPECT_TRUE(lab.sent_since(mark).empty());
  lab.expect_switch_equals_snapshot();
}

TEST(FibProgrammer, OpenFlow10HoldsStaleFlowsToo) {
  Lab lab(kVersion10);
  FibSnapshot old = earlier_life(6, kVersion10);
  lab.preload(old.flows, {});
  lab.f.run([&] { (void)lab.compiler->compile(base_state(4)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_TRUE(lab.sent_since(0).empty());
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), 2u);
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  EXPECT_EQ(lab.sent_since(0).at("flow_del"), 2);
  lab.expect_switch_equals_snapshot();
}

// A takeover: the new master starts with the connected subnets only and
// holds the earlier life's FIB as stale (its group ids other than the new
// compiler's); the same routes come back in several diffs, as netlink
// batches would. Every group is taken back by content (the indirect ones
// with the first batch, with the equal-cost select group naming them in the
// same diff; the unequal-cost one with the last route) and every flow as it
// is: not one FLOW_MOD or GROUP_MOD, each diff's done at once, and nothing
// left to sweep.
TEST(FibProgrammer, TakeoverTakesTheSameRoutesBackWithoutMessages) {
  constexpr int n = 200;
  Lab lab(kVersion13);
  FibSnapshot old = earlier_life(refill_state(n, n));
  ASSERT_EQ(old.groups.size(), 4u);  // two gateways, two ECMP sets
  shift_group_ids(old, 10);
  lab.preload(old.flows, old.groups);
  lab.f.run([&] { (void)lab.compiler->compile(refill_state(n, 0)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_TRUE(lab.sent_since(0).empty());
  // n routes, two ECMP routes, two host flows; the connected ones and the
  // miss flow are the new compiler's too.
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), std::size_t{n} + 4);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_groups(); }), 4u);

  const std::size_t mark = lab.model.log.size();
  for (int k : {50, 120, 199, n}) {
    auto d = lab.compile_and_apply(refill_state(n, k));
    // Nothing to send: done ran within apply().
    ASSERT_EQ(d.wait_for(0s), std::future_status::ready) << "k=" << k;
    EXPECT_TRUE(d.get().ok());
  }
  EXPECT_TRUE(lab.sent_since(mark).empty()) << "sent " << lab.model.log.size() - mark << " messages";
  auto c = lab.counters();
  EXPECT_EQ(c.flow_mods, 0u);
  EXPECT_EQ(c.group_mods, 0u);
  EXPECT_EQ(c.stale_adopted_flows, std::uint64_t{n} + 4);
  EXPECT_EQ(c.stale_adopted_groups, 4u);
  EXPECT_EQ(c.stale_replaced, 0u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows() + lab.prog->stale_groups(); }), 0u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->installed_flows(); }),
            lab.f.run([&] { return lab.compiler->flows().size(); }));
  EXPECT_EQ(lab.f.run([&] { return lab.prog->queued(); }), 0u);
  EXPECT_TRUE(lab.f.run([&] { return lab.prog->idle(); }));
  for (std::uint32_t id : lab.f.run([&] { return lab.compiler->group_ids(); })) {
    const std::uint32_t sid = lab.f.run([&] { return lab.prog->switch_group_id(id); });
    EXPECT_TRUE(old.groups.contains(sid)) << "group " << id << " -> " << sid;
  }
  lab.expect_switch_equals_snapshot();

  std::size_t swept_n = 1;
  lab.f.run([&] { swept_n = lab.prog->sweep_stale(); });
  EXPECT_EQ(swept_n, 0u);
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  EXPECT_TRUE(lab.sent_since(mark).empty());
  lab.expect_switch_equals_snapshot();

  // The groups taken back are ours: a next hop's MAC changes, one GROUP_MOD
  // to the group the switch had.
  auto later = refill_state(n, n);
  put_neigh(later, kTap1, "192.0.2.1", 0x0200000000b1ULL);
  auto fut2 = lab.compile_and_apply(later);
  lab.serve_until(fut2);
  ASSERT_TRUE(get(fut2).ok());
  const auto sent = lab.sent_since(mark);
  EXPECT_EQ(sent.count("flow_add"), 0u);
  EXPECT_EQ(sent.count("group_add"), 0u);
  EXPECT_EQ(sent.at("group_mod"), 1);
  lab.expect_switch_equals_snapshot();
}

// A takeover where 10% of the routes come back via another gateway (a new
// next hop) and some never come back: exactly the moved routes' flows, the
// new gateway's group and its host flow are sent; the sweep deletes exactly
// what never came back (five routes, a host flow, a group). A diff taken back
// entirely, applied while an earlier one is in flight, is done once that one
// is.
TEST(FibProgrammer, TakeoverSendsOnlyTheRoutesThatChanged) {
  constexpr int n = 100;
  std::set<int> moved;
  for (int i = 5; i < n; i += 10) moved.insert(i);  // 10 routes, all via 198.51.100.1 before
  Lab lab(kVersion13);
  FibSnapshot old = earlier_life(earlier_with_leftovers(n));
  ASSERT_EQ(old.groups.size(), 5u);
  shift_group_ids(old, 3);
  lab.preload(old.flows, old.groups);
  lab.f.run([&] { (void)lab.compiler->compile(refill_state(n, 0)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_TRUE(lab.sent_since(0).empty());
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), std::size_t{n} + 4 + 6);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_groups(); }), 5u);

  const std::size_t mark = lab.model.log.size();
  // 10.5, 10.15, 10.25 moved: sent. 10.30 .. 10.34 as they were: queued
  // nothing, done after the first diff's.
  auto d1 = lab.compile_and_apply(refill_state(n, 30, moved));
  auto d2 = lab.compile_and_apply(refill_state(n, 35, moved));
  EXPECT_NE(d2.wait_for(0s), std::future_status::ready);
  lab.serve_until(d2);
  ASSERT_EQ(d1.wait_for(0s), std::future_status::ready);
  EXPECT_TRUE(d1.get().ok());
  EXPECT_TRUE(get(d2).ok());
  for (int k : {70, n}) {
    auto d = lab.compile_and_apply(refill_state(n, k, moved));
    lab.serve_until(d);
    ASSERT_TRUE(get(d).ok());
  }
  const auto sent = lab.sent_since(mark);
  EXPECT_EQ(sent.count("flow_add") ? sent.at("flow_add") : 0, 10 + 1);  // moved + 192.0.2.3's host flow
  EXPECT_EQ(sent.count("group_add") ? sent.at("group_add") : 0, 1);     // 192.0.2.3's group
  EXPECT_EQ(sent.count("group_mod"), 0u);
  EXPECT_EQ(sent.count("flow_del"), 0u);
  EXPECT_EQ(sent.count("group_del"), 0u);
  auto c = lab.counters();
  EXPECT_EQ(c.flow_mods, 11u);
  EXPECT_EQ(c.group_mods, 1u);
  EXPECT_EQ(c.stale_replaced, 10u);
  EXPECT_EQ(c.stale_adopted_flows, std::uint64_t{n} - 10 + 4);
  EXPECT_EQ(c.stale_adopted_groups, 4u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), 6u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_groups(); }), 1u);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->installed_flows(); }),
            lab.f.run([&] { return lab.compiler->flows().size(); }));

  const std::size_t mark2 = lab.model.log.size();
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  const auto deleted = lab.sent_since(mark2);
  EXPECT_EQ(deleted.at("flow_del"), 6);
  EXPECT_EQ(deleted.at("group_del"), 1);
  EXPECT_EQ(deleted.count("flow_add") + deleted.count("group_add") + deleted.count("group_mod"), 0u);
  EXPECT_EQ(lab.counters().stale_swept_flows, 6u);
  EXPECT_EQ(lab.counters().stale_swept_groups, 1u);
  lab.expect_switch_equals_snapshot();
}

// The same on OpenFlow 1.0: no groups, next hops inlined. Routes that come
// back as they were send nothing; moved ones are sent; the sweep deletes
// what never came back.
TEST(FibProgrammer, OpenFlow10TakeoverSendsOnlyTheRoutesThatChanged) {
  constexpr int n = 100;
  const std::set<int> moved{61, 71, 81, 91};
  Lab lab(kVersion10);
  FibSnapshot old = earlier_life(earlier_with_leftovers(n), kVersion10);
  ASSERT_TRUE(old.groups.empty());
  lab.preload(old.flows, {});
  lab.f.run([&] { (void)lab.compiler->compile(refill_state(n, 0)); });
  auto fut = lab.reconcile(true);
  lab.serve_until(fut);
  ASSERT_TRUE(get(fut).ok());
  EXPECT_TRUE(lab.sent_since(0).empty());
  const std::size_t held = lab.f.run([&] { return lab.prog->stale_flows(); });
  EXPECT_EQ(held, std::size_t{n} + 4 + 6);

  const std::size_t mark = lab.model.log.size();
  for (int k : {25, 50}) {
    auto d = lab.compile_and_apply(refill_state(n, k, moved));
    ASSERT_EQ(d.wait_for(0s), std::future_status::ready) << "k=" << k;
    EXPECT_TRUE(d.get().ok());
  }
  auto d = lab.compile_and_apply(refill_state(n, n, moved));
  lab.serve_until(d);
  ASSERT_TRUE(get(d).ok());
  const auto sent = lab.sent_since(mark);
  EXPECT_EQ(sent.at("flow_add"), 4 + 1);  // moved + 192.0.2.3's host flow
  EXPECT_EQ(sent.count("flow_del"), 0u);
  auto c = lab.counters();
  EXPECT_EQ(c.flow_mods, 5u);
  EXPECT_EQ(c.stale_replaced, 4u);
  EXPECT_EQ(c.stale_adopted_flows, std::uint64_t{n} - 4 + 4);
  EXPECT_EQ(lab.f.run([&] { return lab.prog->stale_flows(); }), 6u);

  const std::size_t mark2 = lab.model.log.size();
  auto swept = lab.sweep();
  lab.serve_until(swept);
  ASSERT_TRUE(get(swept).ok());
  EXPECT_EQ(lab.sent_since(mark2).at("flow_del"), 6);
  lab.expect_switch_equals_snapshot();
}

}  // namespace
}  // namespace tapflow::routing
