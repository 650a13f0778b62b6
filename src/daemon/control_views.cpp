// The control socket's views as JSON (control_views.hpp).
#include "control_views.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>
#include <utility>

#include "tapflow/openflow/print.hpp"

namespace tapflow::daemon {
namespace {

// Switch order: priority high to low, then prefix (as FibCompiler::flows()).
bool flow_before(const routing::FibFlow& a, const routing::FibFlow& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.prefix < b.prefix;
}

std::string table_name(std::uint32_t table) {
  switch (table) {
    case 254: return "main";
    case 255: return "local";
    case 253: return "default";
    default: return std::to_string(table);
  }
}

std::string cookie_text(std::uint64_t cookie) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(cookie));
  return text;
}

std::string dev_name(const netns::KernelState& state, int ifindex) {
  auto it = state.links.find(ifindex);
  return it == state.links.end() ? "if" + std::to_string(ifindex) : it->second.name;
}

}  // namespace

std::string route_protocol_name(std::uint8_t protocol) {
  static const std::map<std::uint8_t, const char*> kNames{
      {0, "unspec"}, {1, "redirect"}, {2, "kernel"},  {3, "boot"},     {4, "static"},
      {8, "gated"},  {9, "ra"},       {10, "mrt"},    {11, "zebra"},   {12, "bird"},
      {13, "dnrouted"}, {14, "xorp"}, {15, "ntk"},    {16, "dhcp"},    {17, "mrouted"},
      {18, "keepalived"}, {42, "babel"}, {99, "openr"}, {186, "bgp"},  {187, "isis"},
      {188, "ospf"}, {189, "rip"},    {192, "eigrp"}};
  auto it = kNames.find(protocol);
  return it == kNames.end() ? std::to_string(protocol) : it->second;
}

std::string route_type_name(std::uint8_t type) {
  static constexpr const char* kNames[] = {"unspec",    "unicast",     "local",    "broadcast",
                                           "anycast",   "multicast",   "blackhole", "unreachable",
                                           "prohibit",  "throw",       "nat",      "xresolve"};
  return type < std::size(kNames) ? kNames[type] : std::to_string(type);
}

std::string nud_state_name(std::uint16_t state) {
  static constexpr std::pair<std::uint16_t, const char*> kBits[] = {
      {0x01, "incomplete"}, {0x02, "reachable"}, {0x04, "stale"},  {0x08, "delay"},
      {0x10, "probe"},      {0x20, "failed"},    {0x40, "noarp"},  {0x80, "permanent"}};
  std::string out;
  for (const auto& [bit, name] : kBits) {
    if ((state & bit) != 0) out += (out.empty() ? "" : ",") + std::string(name);
  }
  return out.empty() ? "none" : out;
}

json route_json(const netns::Route& r, const netns::KernelState& state) {
  json j{{"prefix", r.dst.to_string()},
         {"table", table_name(r.table)},
         {"type", route_type_name(r.type)},
         {"protocol", route_protocol_name(r.protocol)},
         {"metric", r.priority}};
  if (r.nexthop_id != 0) j["nhid"] = r.nexthop_id;
  json hops = json::array();
  for (const netns::NextHop& nh : r.nexthop_id != 0 ? state.resolve_nexthops(r) : r.nexthops.to_vector()) {
    json h{{"dev", dev_name(state, nh.ifindex)}};
    if (nh.gateway) h["gateway"] = nh.gateway->to_string();
    if (nh.weight != 1) h["weight"] = nh.weight;
    if ((nh.flags & 0x01) != 0) h["dead"] = true;      // RTNH_F_DEAD
    if ((nh.flags & 0x10) != 0) h["linkdown"] = true;  // RTNH_F_LINKDOWN
    hops.push_back(std::move(h));
  }
  j["nexthops"] = std::move(hops);
  return j;
}

json routes_json(const netns::KernelState& state, const std::vector<std::uint32_t>& tables,
                 const ControlRequest& request) {
  auto followed = [&](std::uint32_t t) { return std::find(tables.begin(), tables.end(), t) != tables.end(); };
  std::vector<const netns::Route*> picked;
  if (request.destination && request.address) {
    // Longest prefix, then table precedence, then metric: the route the FIB follows.
    const netns::Route* best = nullptr;
    auto rank = [&](const netns::Route& r) {
      const auto t = static_cast<std::size_t>(std::find(tables.begin(), tables.end(), r.table) - tables.begin());
      return std::make_tuple(-static_cast<int>(r.dst.len), t, r.priority);
    };
    for (const netns::Route& r : state.routes) {
      if (!followed(r.table) || r.tos != 0 || !r.dst.contains(request.destination->addr)) continue;
      if (best == nullptr || rank(r) < rank(*best)) best = &r;
    }
    if (best != nullptr) picked.push_back(best);
  } else {
    for (const netns::Route& r : state.routes) {
      if (!followed(r.table)) continue;
      if (request.destination && r.dst != *request.destination) continue;
      picked.push_back(&r);
    }
  }
  json routes = json::array();
  for (std::size_t i = 0; i < picked.size() && i < request.limit; ++i) {
    routes.push_back(route_json(*picked[i], state));
  }
  return json{{"routes", std::move(routes)},
              {"total", picked.size()},
              {"truncated", picked.size() > request.limit}};
}

json neighbors_json(const netns::KernelState& state, std::size_t limit) {
  json out = json::array();
  for (const auto& [key, n] : state.neighbours) {
    if (out.size() >= limit) break;
    json j{{"ip", n.ip.to_string()},
           {"dev", dev_name(state, n.ifindex)},
           {"state", nud_state_name(n.state)},
           {"router", (n.flags & 0x80) != 0}};  // NTF_ROUTER
    j["mac"] = n.mac ? json(n.mac->to_string()) : json(nullptr);
    out.push_back(std::move(j));
  }
  return json{{"neighbors", std::move(out)},
              {"total", state.neighbours.size()},
              {"truncated", state.neighbours.size() > limit}};
}

std::string instructions_text(const openflow::InstructionList& instructions) {
  std::string out;
  for (const auto& i : instructions) out += (out.empty() ? "" : ",") + openflow::to_text(i);
  return out.empty() ? "drop" : out;
}

std::string_view flow_kind_name(routing::FibFlowKind kind) {
  switch (kind) {
    case routing::FibFlowKind::kRoute: return "route";
    case routing::FibFlowKind::kHost: return "host";
    case routing::FibFlowKind::kMiss: return "miss";
  }
  return "?";
}

// ------------------------------------------------------------------ flows

FlowComparison::FlowComparison(std::vector<Want> want, std::uint8_t table, bool diff,
                               std::size_t limit)
    : want_(std::move(want)), seen_(want_.size(), false), table_(table), diff_(diff), limit_(limit) {
  std::sort(want_.begin(), want_.end(),
            [](const Want& a, const Want& b) { return flow_before(a.flow, b.flow); });
}

void FlowComparison::add_row(Row row) {
  if (rows_.size() >= limit_) {
    truncated_ = true;
    return;
  }
  rows_.push_back(std::move(row));
}

void FlowComparison::add_have(const std::optional<routing::FibFlow>& key, std::uint8_t table,
                              std::uint16_t priority, std::uint64_t digest,
                              const std::function<Text()>& text) {
  Row row;
  row.table = table;
  row.priority = priority;
  if (key) {
    row.kind = key->kind;
    if (key->kind != routing::FibFlowKind::kMiss) row.prefix = key->prefix;
    auto it = std::lower_bound(want_.begin(), want_.end(), *key,
                               [](const Want& w, const routing::FibFlow& k) { return flow_before(w.flow, k); });
    if (it != want_.end() && !flow_before(*key, it->flow)) {
      const auto i = static_cast<std::size_t>(it - want_.begin());
      if (!seen_[i]) {
        seen_[i] = true;
        const bool same = it->flow.kind == key->kind && it->digest == digest;
        if (same) {
          ++ok_;
          if (diff_) return;
          row.state = "ok";
        } else {
          ++different_;
          row.state = "different";
        }
        row.want = it->flow;
        row.have = text();
        add_row(std::move(row));
        return;
      }
    }
  }
  ++extra_;
  row.state = "extra";
  row.have = text();
  add_row(std::move(row));
}

json FlowComparison::finish(const std::function<Text(const routing::FibFlow&)>& want_text) {
  for (std::size_t i = 0; i < want_.size(); ++i) {
    if (seen_[i]) continue;
    const Want& w = want_[i];
    if (w.withheld) {
      ++withheld_;
      if (diff_) continue;
    } else {
      ++missing_;
    }
    Row row;
    row.state = w.withheld ? "withheld" : "missing";
    row.want = w.flow;
    row.kind = w.flow.kind;
    row.table = table_;
    row.priority = w.flow.priority;
    if (w.flow.kind != routing::FibFlowKind::kMiss) row.prefix = w.flow.prefix;
    add_row(std::move(row));
  }
  std::stable_sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.prefix < b.prefix;
  });
  json flows = json::array();
  for (const Row& r : rows_) {
    json j{{"state", r.state}, {"table", r.table}, {"priority", r.priority}};
    j["kind"] = r.kind ? std::string(flow_kind_name(*r.kind)) : "other";
    j["prefix"] = r.prefix ? json(r.prefix->to_string()) : json(nullptr);
    std::optional<Text> want;
    if (r.want) want = want_text(*r.want);
    const Text& shown = r.have ? *r.have : *want;
    j["cookie"] = cookie_text(shown.cookie);
    j["match"] = shown.match;
    j["want"] = want ? json(want->actions) : json(nullptr);
    j["have"] = r.have ? json(r.have->actions) : json(nullptr);
    if (r.have && r.have->packets) j["packets"] = *r.have->packets;
    flows.push_back(std::move(j));
  }
  return json{{"flows", std::move(flows)},
              {"counts", {{"ok", ok_}, {"missing", missing_}, {"extra", extra_},
                          {"different", different_}, {"withheld", withheld_}}},
              {"truncated", truncated_}};
}

}  // namespace tapflow::daemon
