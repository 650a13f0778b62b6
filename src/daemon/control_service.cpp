// The control socket's requests answered from tapflowd's live objects
// (control_service.hpp).
#include "control_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "config.hpp"
#include "control_views.hpp"
#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/print.hpp"
#include "tapflow/pipeline/pipeline.hpp"

namespace tapflow::daemon {
namespace {

using routing::Router;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string error_reply(const std::string& what) { return dump(json{{"error", what}}); }

std::string_view role_name(controller::SwitchRole r) {
  switch (r) {
    case controller::SwitchRole::kStandby: return "standby";
    case controller::SwitchRole::kBecomingMaster: return "becoming-master";
    case controller::SwitchRole::kMaster: return "master";
  }
  return "?";
}

const Router::SwitchView* view_of(const std::vector<Router::SwitchView>& views, std::uint64_t dpid) {
  for (const auto& v : views) {
    if (v.dpid == dpid) return &v;
  }
  return nullptr;
}

// What the programmer is doing, in words.
std::string phase_of(const Router::SwitchView& v, bool connected, controller::SwitchRole role) {
  if (!connected) return "switch away";
  if (role == controller::SwitchRole::kStandby) return "standby";
  if (!v.connected) return "becoming master";
  if (!v.synced) return "waiting for the kernel's routes";
  if (v.reading_back) return "reading the switch's FIB";
  if (v.programming) return "sending";
  if (!v.fib_in_place) return "waiting to reconcile";
  return "idle";
}

}  // namespace

ControlService::ControlService(ControlSources sources)
    : src_(std::move(sources)), alive_(std::make_shared<bool>(true)) {}

ControlService::~ControlService() { *alive_ = false; }

std::vector<std::uint64_t> ControlService::known() const {
  std::set<std::uint64_t> ids;
  for (const controller::Datapath* dp : src_.controller->datapaths()) ids.insert(dp->datapath_id());
  if (src_.bridge) {
    for (const auto& p : src_.bridge->punt()) ids.insert(p.dpid);
  }
  if (src_.router) {
    for (const auto& v : src_.router->switches()) ids.insert(v.dpid);
  }
  return {ids.begin(), ids.end()};
}

std::vector<std::uint64_t> ControlService::select(const ControlRequest& r) const {
  const auto all = known();
  if (!r.switch_ref) return all;
  const std::string& ref = *r.switch_ref;
  std::optional<std::uint64_t> id;
  try {
    id = parse_datapath_id(ref);
  } catch (const ConfigError&) {
  }
  std::string names;
  for (std::uint64_t dpid : all) {
    const json h = header(dpid);
    if (h["name"] == ref || (h["netns"].is_string() && h["netns"] == ref) || id == dpid) return {dpid};
    names += (names.empty() ? "" : ", ") + h["name"].get<std::string>();
  }
  throw ControlRequestError("no switch '" + ref + "' (known: " + (names.empty() ? "none" : names) +
                            "; name, datapath id or namespace)");
}

json ControlService::header(std::uint64_t dpid) const {
  json j{{"dpid", dpid_label(dpid)}};
  j["name"] = src_.bridge ? src_.bridge->switch_name(dpid) : dpid_label(dpid);
  j["netns"] = src_.bridge ? json(src_.bridge->namespace_for(dpid)) : json(nullptr);
  return j;
}

json ControlService::status_of(std::uint64_t dpid) const {
  json j = header(dpid);
  const controller::Datapath* dp = src_.controller->find(dpid);
  const bool connected = dp != nullptr && dp->is_up();
  const auto role = src_.controller->role(dpid);
  j["connected"] = connected;
  j["version"] = dp != nullptr ? json(version_label(dp->version())) : json(nullptr);
  j["role"] = connected ? json(role_name(role)) : json(nullptr);
  const auto views = src_.router ? src_.router->switches() : std::vector<Router::SwitchView>{};
  if (const Router::SwitchView* v = view_of(views, dpid)) {
    j["synced"] = connected && v->connected && v->fib_in_place && !v->programming;
    j["routes"] = v->routes;
    j["flows"] = v->flows;
    j["withheld"] = v->withheld_flows;
    j["stale"] = v->stale_flows + v->stale_groups;
    const bool active = v->programming || v->reading_back;
    json p{{"active", active}, {"phase", phase_of(*v, connected, role)}};
    // Known once the reconcile has read the switch's FIB (then: messages).
    p["done"] = v->reading_back ? json(nullptr) : json(v->progress_done);
    p["total"] = v->reading_back ? json(nullptr) : json(v->progress_total);
    j["programming"] = std::move(p);
  } else {
    j["synced"] = nullptr;  // no FIB here (learning switch, routing off, not set up)
  }
  return j;
}

json ControlService::switch_of(std::uint64_t dpid) const {
  json j = header(dpid);
  const controller::Datapath* dp = src_.controller->find(dpid);
  j["connected"] = dp != nullptr && dp->is_up();
  if (dp != nullptr) {
    j["peer"] = dp->peer();
    j["version"] = version_label(dp->version());
    j["tables"] = dp->features().n_tables;
    j["buffers"] = dp->features().n_buffers;
    j["ports"] = dp->ports().size();
    j["role"] = role_name(src_.controller->role(dpid));
  }
  if (src_.profiles) {
    for (const auto& p : src_.profiles->view()) {
      if (p.dpid != dpid) continue;
      j["profile"] = std::string(pipeline::profile_name(p.profile.kind));
      j["profile_summary"] = p.profile.summary();
    }
  }
  if (src_.router) {
    const auto views = src_.router->switches();
    if (const Router::SwitchView* v = view_of(views, dpid)) {
      j["fib_capacity"] = v->fib_capacity ? json(*v->fib_capacity) : json(nullptr);
      j["compressing"] = v->compressing;
    }
  }
  if (src_.bridge) j["learned_macs"] = src_.bridge->learned_macs(dpid);
  return j;
}

json ControlService::ports_of(std::uint64_t dpid) const {
  json j = header(dpid);
  const controller::Datapath* dp = src_.controller->find(dpid);
  j["connected"] = dp != nullptr && dp->is_up();
  std::map<std::uint32_t, const tapd::PortStatusView*> taps;
  const auto tap_views = src_.bridge ? src_.bridge->ports() : std::vector<tapd::PortStatusView>{};
  for (const auto& t : tap_views) {
    if (t.dpid == dpid && t.port_no != 0) taps[t.port_no] = &t;
  }
  json ports = json::array();
  if (dp != nullptr) {
    for (const openflow::Port& p : dp->ports()) {
      json e{{"port", openflow::port_to_text(p.port_no)},
             {"name", p.name},
             {"mac", p.hw_addr.to_string()},
             {"admin", (p.config & 0x1) != 0 ? "down" : "up"},  // OFPPC_PORT_DOWN
             {"link", (p.state & 0x1) != 0 ? "down" : "up"}};   // OFPPS_LINK_DOWN
      e["speed_mbps"] = p.curr_speed != 0 ? json(p.curr_speed / 1000) : json(nullptr);
      if (auto t = taps.find(p.port_no); t != taps.end()) {
        e["tap"] = t->second->interface;
        e["carrier"] = t->second->carrier;
      } else {
        e["tap"] = nullptr;
        e["carrier"] = nullptr;
      }
      ports.push_back(std::move(e));
    }
  }
  j["ports"] = std::move(ports);
  return j;
}

json ControlService::groups_of(std::uint64_t dpid) const {
  json j = header(dpid);
  const routing::FibCompiler* comp = src_.router ? src_.router->compiler(dpid) : nullptr;
  const routing::FibProgrammer* prog = src_.router ? src_.router->programmer(dpid) : nullptr;
  json groups = json::array();
  if (comp != nullptr) {
    auto sid = [&](std::uint32_t id) { return prog != nullptr ? prog->switch_group_id(id) : id; };
    for (std::uint32_t id : comp->group_ids()) {
      openflow::GroupMod g = comp->render_group(id);
      json buckets = json::array();
      for (openflow::Bucket& b : g.buckets) {
        for (openflow::Action& a : b.actions) {
          if (auto* ga = std::get_if<openflow::action::Group>(&a)) ga->group_id = sid(ga->group_id);
        }
        json bj{{"actions", openflow::to_text(b.actions)}};
        if (g.type == openflow::group_type::kSelect) bj["weight"] = b.weight;
        buckets.push_back(std::move(bj));
      }
      static constexpr const char* kTypes[] = {"all", "select", "indirect", "fast-failover"};
      groups.push_back(json{{"id", sid(id)},
                            {"type", g.type < 4 ? kTypes[g.type] : std::to_string(g.type)},
                            {"buckets", std::move(buckets)}});
    }
  } else {
    j["error"] = "no FIB for this switch (routing off, or the switch never came up)";
  }
  j["groups"] = std::move(groups);
  return j;
}

json ControlService::ha() const {
  json j{{"view", "ha"}};
  json switches = json::array();
  if (src_.cluster) {
    const ClusterMetricsView v = src_.cluster();
    j["cluster"] = true;
    j["instance"] = v.instance;
    j["etcd_reachable"] = v.etcd_reachable;
    for (const auto& s : v.switches) {
      json e = header(s.dpid);
      e["role"] = role_name(s.role);
      e["generation"] = s.generation;
      e["leader"] = s.leader.empty() ? json(nullptr) : json(s.leader);
      switches.push_back(std::move(e));
    }
    j["elections_won"] = v.elections_won;
    j["stepped_down"] = v.stepped_down;
    j["handovers"] = v.handovers;
    j["master_refused"] = v.master_refused;
  } else {
    j["cluster"] = false;  // no cluster: section: this instance masters every switch alone
    for (const controller::Datapath* dp : src_.controller->datapaths()) {
      json e = header(dp->datapath_id());
      e["role"] = role_name(src_.controller->role(dp->datapath_id()));
      switches.push_back(std::move(e));
    }
  }
  j["switches"] = std::move(switches);
  return j;
}

json ControlService::answer(const ControlRequest& r) const {
  if (r.view == ControlView::kHa) return ha();
  const auto ids = select(r);
  json switches = json::array();
  if (r.view == ControlView::kStatus) {
    for (std::uint64_t id : ids) switches.push_back(status_of(id));
    return json{{"app", src_.app}, {"cluster", static_cast<bool>(src_.cluster)},
                {"switches", std::move(switches)}};
  }
  for (std::uint64_t id : ids) {
    switch (r.view) {
      case ControlView::kSwitches: switches.push_back(switch_of(id)); break;
      case ControlView::kPorts: switches.push_back(ports_of(id)); break;
      case ControlView::kGroups: switches.push_back(groups_of(id)); break;
      case ControlView::kRoutes:
      case ControlView::kNeighbors: {
        json j = header(id);
        const netns::KernelState* st = src_.router ? src_.router->kernel_state(id) : nullptr;
        if (st == nullptr) {
          j["error"] = "routing does not follow this switch's namespace (yet)";
        } else if (r.view == ControlView::kRoutes) {
          j.update(routes_json(*st, src_.router->route_tables(), r));
        } else {
          j.update(neighbors_json(*st, r.limit));
        }
        switches.push_back(std::move(j));
        break;
      }
      case ControlView::kTaps: {
        json j = header(id);
        json taps = json::array();
        if (src_.bridge) {
          for (const auto& t : src_.bridge->ports()) {
            if (t.dpid != id) continue;
            const auto& c = t.counters;
            taps.push_back(json{
                {"interface", t.interface}, {"ifindex", t.ifindex},
                {"port", t.port_no != 0 ? json(t.port_no) : json(nullptr)},
                {"port_name", t.port_name}, {"vlan", t.vlan != 0 ? json(t.vlan) : json(nullptr)},
                {"carrier", t.carrier},
                {"to_tap_frames", c.to_tap_frames}, {"to_switch_frames", c.to_switch_frames},
                {"drops", c.drop_tap_busy + c.drop_tap_error + c.drop_truncated +
                              c.drop_switch_down + c.drop_send_error + c.drop_no_member},
                {"to_tap_p99_us", c.to_tap_latency.quantile_ns(0.99) / 1000}});
          }
        }
        j["taps"] = std::move(taps);
        switches.push_back(std::move(j));
        break;
      }
      case ControlView::kPunt: {
        json j = header(id);
        json classes = json::array();
        if (src_.bridge) {
          for (const auto& p : src_.bridge->punt()) {
            if (p.dpid != id) continue;
            j["switch_meters"] = p.switch_meters;
            j["control_out"] = p.counters.control_out;
            for (std::size_t c = 0; c < tapd::kPuntClasses; ++c) {
              json e{{"class", tapd::punt_class_name(static_cast<tapd::PuntClass>(c))},
                     {"rate", p.policy.classes[c].rate},
                     {"burst", p.policy.classes[c].burst},
                     {"seen", p.counters.seen[c]},
                     {"passed", p.counters.passed[c]},
                     {"policed", p.counters.policed[c]}};
              if (p.switch_meters) {
                e["meter_packets"] = p.switch_packets[c];
                e["meter_dropped"] = p.switch_dropped[c];
              }
              classes.push_back(std::move(e));
            }
          }
        }
        j["classes"] = std::move(classes);
        switches.push_back(std::move(j));
        break;
      }
      case ControlView::kStatus:
      case ControlView::kFlows:
      case ControlView::kHa:
      case ControlView::kReload: break;  // answered elsewhere
    }
  }
  return json{{"view", view_name(r.view)}, {"switches", std::move(switches)}};
}

// ------------------------------------------------------------------ show flows

struct ControlService::FlowRead {
  ControlRequest request;
  ControlServer::Reply reply;
  json switches = json::array();
  std::size_t pending = 0;
};

void ControlService::show_flows(const ControlRequest& r, const ControlServer::Reply& reply) {
  const auto ids = select(r);
  auto read = std::make_shared<FlowRead>();
  read->request = r;
  read->reply = reply;
  read->pending = 1;  // held until every read is under way; each read adds one
  for (std::size_t i = 0; i < ids.size(); ++i) {
    read->switches.push_back(header(ids[i]));
    read_flows(read, ids[i], i);
  }
  if (--read->pending == 0) {
    read->reply(dump(json{{"view", "flows"}, {"diff", r.diff}, {"switches", std::move(read->switches)}}));
  }
}

void ControlService::read_flows(const std::shared_ptr<FlowRead>& read, std::uint64_t dpid,
                                std::size_t index) {
  json& slot = read->switches[index];
  const routing::FibCompiler* comp = src_.router ? src_.router->compiler(dpid) : nullptr;
  const routing::FibProgrammer* prog = src_.router ? src_.router->programmer(dpid) : nullptr;
  controller::Datapath* dp = src_.controller->find(dpid);
  if (comp == nullptr) {
    slot["error"] = "no FIB for this switch (routing off, or the switch never came up)";
    return;
  }
  if (dp == nullptr || !dp->is_up()) {
    slot["error"] = "the switch is not connected";
    return;
  }
  const std::uint8_t version = dp->version();
  const std::uint8_t want_table = comp->table_id();
  // What the compiler wants now, with the switch's group ids.
  std::vector<FlowComparison::Want> want;
  for (const routing::FibFlow& f : comp->flows()) {
    routing::FibFlow s = f;
    if (s.action == routing::FibAction::kGroup && prog != nullptr) s.group = prog->switch_group_id(f.group);
    const openflow::FlowMod fm = comp->render(s);
    want.push_back({s, controller::flow_content_digest(fm.cookie, fm.instructions, version),
                    prog != nullptr && prog->is_withheld(f)});
  }
  auto cmp = std::make_shared<FlowComparison>(std::move(want), want_table, read->request.diff,
                                              read->request.limit);
  slot["table"] = want_table;
  ++read->pending;
  // Routing's cookie class, every table, as the reconcile reads it (1.0 has
  // no cookie filter: filtered again below).
  openflow::FlowStatsRequest fr;
  fr.table_id = openflow::kTableAll;
  fr.out_port = openflow::port::kAny;
  fr.out_group = openflow::kGroupAny;
  fr.cookie = pipeline::cookie::kRouting;
  fr.cookie_mask = pipeline::cookie::kClassMask;
  dp->request_streaming(
      openflow::Message{version, 0, openflow::MultipartRequest{0, fr}},
      [alive = alive_, cmp, version, want_table](const openflow::Message& m) {
        if (!*alive) return;
        const auto* mp = std::get_if<openflow::MultipartReply>(&m.body);
        const auto* stats = mp != nullptr ? std::get_if<openflow::FlowStatsReply>(&mp->body) : nullptr;
        if (stats == nullptr) return;
        for (const openflow::FlowStats& fs : stats->flows) {
          if ((fs.cookie & pipeline::cookie::kClassMask) != pipeline::cookie::kRouting) continue;
          const std::uint8_t table = version == openflow::kVersion10 ? 0 : fs.table_id;
          std::optional<routing::FibFlow> key;
          if (table == want_table) key = routing::parse_fib_flow(fs.cookie, fs.priority, fs.match);
          cmp->add_have(key, table, fs.priority,
                        controller::flow_content_digest(fs.cookie, fs.instructions, version), [&fs] {
                          return FlowComparison::Text{fs.cookie, openflow::to_text(fs.match),
                                                      instructions_text(fs.instructions),
                                                      fs.packet_count};
                        });
        }
      },
      [this, alive = alive_, read, cmp, dpid, index](openflow::Result<controller::Connection::Replies> r) {
        if (!*alive) return;
        json& s = read->switches[index];
        if (!r) {
          s["error"] = "reading the switch's flows failed: " + openflow::describe(r.error());
        } else {
          s.update(cmp->finish([this, dpid](const routing::FibFlow& f) {
            const routing::FibCompiler* c = src_.router->compiler(dpid);
            if (c == nullptr) return FlowComparison::Text{0, "?", "?", std::nullopt};
            const openflow::FlowMod fm = c->render(f);
            return FlowComparison::Text{fm.cookie, openflow::to_text(fm.match),
                                        instructions_text(fm.instructions), std::nullopt};
          }));
        }
        if (--read->pending == 0) {
          read->reply(dump(json{{"view", "flows"}, {"diff", read->request.diff},
                                {"switches", std::move(read->switches)}}));
        }
      });
}

void ControlService::handle(const std::string& line, const ControlServer::Reply& reply) {
  try {
    const ControlRequest r = parse_control_request(line);
    if (r.view == ControlView::kFlows) return show_flows(r, reply);
    if (r.view == ControlView::kReload) {
      return reply(src_.reload ? dump(src_.reload()) : error_reply("this tapflowd cannot reload"));
    }
    reply(dump(answer(r)));
  } catch (const ControlRequestError& e) {
    reply(error_reply(e.what()));
  }
}

}  // namespace tapflow::daemon
