// VLAN switching: the pipeline's flows and groups, learned flows, PACKET_OUT
// actions, tag handling and the MAC table. See vlan_switch.hpp.
#include "tapflow/tapd/vlan_switch.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>

#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/tapd/punt_flows.hpp"

namespace tapflow::tapd {
namespace {

using namespace openflow;

constexpr std::uint16_t kVidPresent = 0x1000;
constexpr std::uint16_t kTpid = 0x8100;
constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthIpv6 = 0x86dd;

OxmField tagged_vid(std::uint16_t vid) { return oxm::vlan_vid(static_cast<std::uint16_t>(vid | kVidPresent)); }

ActionList push_tag(std::uint16_t vid) {
  return {action::PushVlan{kTpid}, action::SetField{tagged_vid(vid)}};
}

// Nicira NXAST_REG_LOAD of 0 into NXM_OF_IN_PORT[0..15] ("load:0->
// NXM_OF_IN_PORT[]"): Open vSwitch refuses an OpenFlow 1.3 set_field on
// in_port but takes this, its documented way to allow output to the port a
// packet came in on.
Action clear_in_port() {
  action::Experimenter e;
  e.experimenter = 0x00002320;
  e.data = {0x00, 0x07,              // subtype NXAST_REG_LOAD
            0x00, 0x0f,              // ofs 0, n_bits 16
            0x00, 0x00, 0x00, 0x02,  // NXM_OF_IN_PORT
            0, 0, 0, 0, 0, 0, 0, 0};  // value 0
  return e;
}

InstructionList apply(ActionList actions) { return {instruction::ApplyActions{std::move(actions)}}; }

InstructionList to_controller() {
  return apply({action::Output{port::kController, kControllerMaxLenNoBuffer}});
}

FlowMod flow(std::uint64_t cookie, std::uint8_t table, std::uint16_t priority,
             std::initializer_list<OxmField> fields, InstructionList instructions) {
  FlowMod f;
  f.cookie = cookie;
  f.table_id = table;
  f.command = flow_mod_command::kAdd;
  f.priority = priority;
  f.buffer_id = kNoBuffer;
  for (const OxmField& field : fields) f.match.add(field);
  f.instructions = std::move(instructions);
  return f;
}

MacAddress multicast_bit() {
  MacAddress m;
  m.octets = {0x01, 0, 0, 0, 0, 0};
  return m;
}

}  // namespace

std::vector<FlowMod> vlan_flows(const VlanPipelineInputs& in) {
  using namespace pipeline::priority::vlan;
  std::vector<FlowMod> out;
  const std::uint8_t l2 = in.l2_table;
  const std::uint8_t dst_table = static_cast<std::uint8_t>(l2 + 1);
  const bool to_fib = in.fib_table.has_value() && *in.fib_table > dst_table;

  // Learning: every frame from a source not yet learned here is copied to
  // the controller, and goes on to the eth_dst table meanwhile.
  if (!in.vlans.empty()) {
    out.push_back(flow(pipeline::cookie::kVlanLearnMiss, l2, kLearnMiss, {},
                       {instruction::ApplyActions{{action::Output{port::kController, 128}}},
                        instruction::GotoTable{dst_table}}));
  }

  std::set<std::uint32_t> members;
  for (const VlanMembers& v : in.vlans) {
    for (std::uint32_t p : v.untagged) {
      members.insert(p);
      ActionList tag = push_tag(v.vid);
      out.push_back(flow(pipeline::cookie::kVlanClassify, pipeline::table::kIngress, kClassify,
                         {oxm::in_port(p), oxm::vlan_vid(0)},
                         {instruction::ApplyActions{std::move(tag)}, instruction::GotoTable{l2}}));
    }
    for (std::uint32_t p : v.tagged) {
      members.insert(p);
      out.push_back(flow(pipeline::cookie::kVlanClassify, pipeline::table::kIngress, kClassify,
                         {oxm::in_port(p), tagged_vid(v.vid)},
                         {instruction::GotoTable{l2}}));
    }

    // To the router: its own traffic by address first (the same rules as
    // per-port mode, scoped to this VLAN and router MAC), then routed traffic.
    AddressPuntScope scope;
    scope.cookie = pipeline::cookie::kVlanRouter;
    scope.table = dst_table;
    scope.match = {tagged_vid(v.vid), oxm::eth_dst(v.router_mac)};
    for (FlowMod& f : address_punts(in.addresses, scope, true)) out.push_back(std::move(f));
    for (std::uint16_t type : {kEthIpv4, kEthIpv6}) {
      // in_port is cleared so a route back out of the ingress port (two
      // VLANs on one trunk, router on a stick) is not dropped by the
      // switch's rule against output to the input port. FIB PACKET_INs
      // then carry no port: tapd finds the VLAN by the metadata.
      InstructionList ins =
          to_fib ? InstructionList{instruction::ApplyActions{
                                       in.clear_in_port ? ActionList{action::PopVlan{}, clear_in_port()}
                                                        : ActionList{action::PopVlan{}}},
                                   instruction::WriteMetadata{v.vid, 0xfff},
                                   instruction::GotoTable{*in.fib_table}}
                 : to_controller();
      out.push_back(flow(pipeline::cookie::kVlanRouter, dst_table, kRouterRoute,
                         {tagged_vid(v.vid), oxm::eth_dst(v.router_mac), oxm::eth_type(type)},
                         std::move(ins)));
    }
    out.push_back(flow(pipeline::cookie::kVlanRouter, dst_table, kRouterOther,
                       {tagged_vid(v.vid), oxm::eth_dst(v.router_mac)}, to_controller()));

    out.push_back(flow(pipeline::cookie::kVlanFlood, dst_table, kFloodMulticast,
                       {tagged_vid(v.vid), oxm::eth_dst(multicast_bit(), multicast_bit())},
                       apply({action::Group{pipeline::flood_group_id(v.vid, true)}})));
    out.push_back(flow(pipeline::cookie::kVlanFlood, dst_table, kFloodUnknown, {tagged_vid(v.vid)},
                       apply({action::Group{pipeline::flood_group_id(v.vid, false)}})));
  }
  // A member port's frames with another tag (or none where a tag is due).
  for (std::uint32_t p : members) {
    out.push_back(flow(pipeline::cookie::kVlanClassify, pipeline::table::kIngress, kClassifyDrop,
                       {oxm::in_port(p)}, {}));
  }

  std::stable_sort(out.begin(), out.end(), [](const FlowMod& a, const FlowMod& b) {
    if (a.table_id != b.table_id) return a.table_id < b.table_id;
    if (a.priority != b.priority) return a.priority > b.priority;
    return controller::canonical_match(a.match) < controller::canonical_match(b.match);
  });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const FlowMod& a, const FlowMod& b) {
                          return controller::flow_identity(a.table_id, a.priority, a.match) ==
                                 controller::flow_identity(b.table_id, b.priority, b.match);
                        }),
            out.end());
  return out;
}

std::map<std::uint32_t, GroupMod> vlan_groups(const VlanPipelineInputs& in) {
  std::map<std::uint32_t, GroupMod> out;
  for (const VlanMembers& v : in.vlans) {
    std::vector<Bucket> buckets;
    std::set<std::uint32_t> untagged(v.untagged.begin(), v.untagged.end());
    std::set<std::uint32_t> tagged(v.tagged.begin(), v.tagged.end());
    for (std::uint32_t p : untagged) {
      Bucket b;
      b.actions = {action::PopVlan{}, action::Output{p, 0}};
      buckets.push_back(std::move(b));
    }
    for (std::uint32_t p : tagged) {
      Bucket b;
      b.actions = {action::Output{p, 0}};
      buckets.push_back(std::move(b));
    }
    GroupMod flood;
    flood.command = group_mod_command::kAdd;
    flood.type = group_type::kAll;
    flood.group_id = pipeline::flood_group_id(v.vid, false);
    flood.buckets = buckets;
    GroupMod with_router = flood;
    with_router.group_id = pipeline::flood_group_id(v.vid, true);
    Bucket to_router;
    // The router's TAP gets the frame tagged: tapd maps the vid to the TAP.
    to_router.actions = {action::Output{port::kController, kControllerMaxLenNoBuffer}};
    with_router.buckets.push_back(std::move(to_router));
    out.emplace(flood.group_id, std::move(flood));
    out.emplace(with_router.group_id, std::move(with_router));
  }
  return out;
}

std::pair<FlowMod, FlowMod> learned_flows(std::uint16_t vid, const MacAddress& mac, MacLocation where,
                                          std::uint16_t aging, std::uint8_t l2_table,
                                          std::uint64_t generation) {
  const std::uint64_t gen = generation & pipeline::cookie::kGenerationMask;
  const auto dst_table = static_cast<std::uint8_t>(l2_table + 1);
  FlowMod src = flow(pipeline::cookie::kLearnedSrc | gen, l2_table,
                     pipeline::priority::vlan::kLearnedSrc,
                     {oxm::in_port(where.port_no), tagged_vid(vid), oxm::eth_src(mac)},
                     {instruction::GotoTable{dst_table}});
  src.idle_timeout = aging;
  src.flags = flow_mod_flags::kSendFlowRem;
  ActionList out;
  if (!where.tagged) out.push_back(action::PopVlan{});
  out.push_back(action::Output{where.port_no, 0});
  FlowMod dst = flow(pipeline::cookie::kLearnedDst | gen, dst_table,
                     pipeline::priority::vlan::kLearned, {tagged_vid(vid), oxm::eth_dst(mac)},
                     apply(std::move(out)));
  return {std::move(src), std::move(dst)};
}

std::pair<FlowMod, FlowMod> learned_flow_deletes(std::uint16_t vid, const MacAddress& mac,
                                                 MacLocation where, std::uint8_t l2_table,
                                                 std::uint64_t generation) {
  auto [src, dst] = learned_flows(vid, mac, where, 0, l2_table, generation);
  for (FlowMod* f : {&src, &dst}) {
    f->command = flow_mod_command::kDeleteStrict;
    f->cookie_mask = ~std::uint64_t{0};
    f->instructions.clear();
    f->idle_timeout = 0;
    f->flags = 0;
  }
  return {std::move(src), std::move(dst)};
}

std::optional<LearnedFlow> parse_learned_flow(std::uint64_t cookie, std::uint8_t table_id,
                                              const Match& match, std::uint8_t l2_table) {
  LearnedFlow f;
  const std::uint64_t sub = cookie & pipeline::cookie::kSubclassMask;
  if (sub == pipeline::cookie::kLearnedSrc && table_id == l2_table) {
    f.src = true;
  } else if (sub == pipeline::cookie::kLearnedDst && table_id == l2_table + 1) {
    f.src = false;
  } else {
    return std::nullopt;
  }
  f.generation = cookie & pipeline::cookie::kGenerationMask;
  bool port = false, vid = false, mac = false;
  for (const OxmField& x : match.fields) {
    if (f.src && x.is_basic(oxm_field::kInPort) && !x.has_mask && !port) {
      f.port_no = static_cast<std::uint32_t>(x.value_uint());
      port = true;
    } else if (x.is_basic(oxm_field::kVlanVid) && !x.has_mask && !vid) {
      const auto v = static_cast<std::uint16_t>(x.value_uint());
      if ((v & kVlanPresent) == 0) return std::nullopt;
      f.vid = static_cast<std::uint16_t>(v & 0x0fff);
      vid = true;
    } else if (x.is_basic(f.src ? oxm_field::kEthSrc : oxm_field::kEthDst) && !x.has_mask && !mac &&
               x.value.size() == 6) {
      std::copy(x.value.begin(), x.value.end(), f.mac.octets.begin());
      mac = true;
    } else {
      return std::nullopt;
    }
  }
  if (!vid || !mac || (f.src && !port)) return std::nullopt;
  return f;
}

FlowMod learned_flows_wipe() {
  FlowMod f;
  f.command = flow_mod_command::kDelete;
  f.table_id = kTableAll;
  f.cookie = pipeline::cookie::kLearned;
  f.cookie_mask = pipeline::cookie::kVlanFlowsMask;
  f.buffer_id = kNoBuffer;
  return f;
}

ActionList unicast_actions(std::uint16_t vid, MacLocation where) {
  ActionList out;
  if (where.tagged) out = push_tag(vid);
  out.push_back(action::Output{where.port_no, 0});
  return out;
}

ActionList flood_actions(std::uint16_t vid, std::span<const std::uint32_t> untagged,
                         std::span<const std::uint32_t> tagged) {
  ActionList out;
  for (std::uint32_t p : untagged) out.push_back(action::Output{p, 0});
  if (!tagged.empty()) {
    for (Action& a : push_tag(vid)) out.push_back(std::move(a));
    for (std::uint32_t p : tagged) out.push_back(action::Output{p, 0});
  }
  return out;
}

PacketInRoute route_packet_in(bool vlan_mode, bool member, std::uint64_t cookie,
                              std::span<const std::uint8_t> frame,
                              std::optional<std::uint64_t> metadata) {
  using Kind = PacketInRoute::Kind;
  member = member && vlan_mode;
  if (member && (cookie & pipeline::cookie::kSubclassMask) == pipeline::cookie::kVlanLearnMiss) {
    return {Kind::kLearn, 0, false};
  }
  if (member) {
    if (auto tag = frame_vlan(frame); tag && *tag != 0) return {Kind::kVlanTap, *tag, true};
  }
  if (vlan_mode && metadata && (*metadata & 0xfff) != 0) {
    return {Kind::kVlanTap, static_cast<std::uint16_t>(*metadata & 0xfff), false};
  }
  return {member ? Kind::kUnknownVlan : Kind::kPerPort, 0, false};
}

std::optional<std::uint16_t> frame_vlan(std::span<const std::uint8_t> frame) {
  if (frame.size() < 18) return std::nullopt;
  const auto tpid = static_cast<std::uint16_t>((frame[12] << 8) | frame[13]);
  if (tpid != kTpid) return std::nullopt;
  return static_cast<std::uint16_t>(((frame[14] << 8) | frame[15]) & 0x0fff);
}

void strip_vlan_tag(std::span<const std::uint8_t> frame, Bytes& out) {
  if (!frame_vlan(frame)) {
    out.assign(frame.begin(), frame.end());
    return;
  }
  out.assign(frame.begin(), frame.begin() + 12);
  out.insert(out.end(), frame.begin() + 16, frame.end());
}

std::optional<MacAddress> frame_source(std::span<const std::uint8_t> frame) {
  if (frame.size() < 14) return std::nullopt;
  MacAddress m;
  std::copy(frame.begin() + 6, frame.begin() + 12, m.octets.begin());
  return m;
}

std::optional<MacAddress> frame_destination(std::span<const std::uint8_t> frame) {
  if (frame.size() < 14) return std::nullopt;
  MacAddress m;
  std::copy(frame.begin(), frame.begin() + 6, m.octets.begin());
  return m;
}

MacAddress default_vlan_mac(std::uint64_t dpid, std::uint16_t vid) {
  MacAddress m;
  m.octets = {0x02,
              static_cast<std::uint8_t>(dpid >> 16),
              static_cast<std::uint8_t>(dpid >> 8),
              static_cast<std::uint8_t>(dpid),
              static_cast<std::uint8_t>(vid >> 8),
              static_cast<std::uint8_t>(vid)};
  return m;
}

ActionList vlan_tap_actions(const VlanMembers& m, std::span<const std::uint8_t> frame,
                            const MacTable& macs, const std::map<std::uint32_t, bool>& port_up) {
  const auto dst = frame_destination(frame);
  if (dst && !dst->is_multicast()) {
    if (const MacTable::Entry* e = macs.find(m.vid, *dst)) return unicast_actions(m.vid, e->where);
  }
  auto up = [&port_up](std::uint32_t p) {
    auto it = port_up.find(p);
    return it != port_up.end() && it->second;
  };
  std::vector<std::uint32_t> untagged, tagged;
  std::copy_if(m.untagged.begin(), m.untagged.end(), std::back_inserter(untagged), up);
  std::copy_if(m.tagged.begin(), m.tagged.end(), std::back_inserter(tagged), up);
  return flood_actions(m.vid, untagged, tagged);
}

// ---------------------------------------------------------------- MacTable

MacTable::Learned MacTable::learn(std::uint16_t vid, const MacAddress& mac, MacLocation where,
                                  const MacAddress& router_mac) {
  Learned r;
  if (mac.is_multicast() || mac.is_zero() || mac == router_mac) return r;
  const auto key = std::make_pair(vid, mac);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.where == where) {
      r.outcome = Outcome::kKnown;
      r.generation = it->second.generation;
      return r;
    }
    r.outcome = Outcome::kMoved;
    r.old = it->second.where;
    it->second.where = where;
    it->second.generation = r.generation = next_generation();
    ++counters_.moves;
    return r;
  }
  if (entries_.size() >= limit_) {
    ++counters_.table_full;
    r.outcome = Outcome::kFull;
    return r;
  }
  r.outcome = Outcome::kNew;
  r.generation = next_generation();
  entries_.emplace(key, Entry{where, r.generation, 0});
  ++counters_.learned;
  return r;
}

bool MacTable::restore(std::uint16_t vid, const MacAddress& mac, MacLocation where,
                       std::uint64_t generation, std::uint64_t now_ns) {
  if (entries_.size() >= limit_ || entries_.contains(std::make_pair(vid, mac))) return false;
  entries_.emplace(std::make_pair(vid, mac),
                   Entry{where, generation & pipeline::cookie::kGenerationMask, now_ns});
  return true;
}

std::optional<MacTable::Entry> MacTable::expire(std::uint16_t vid, const MacAddress& mac,
                                                std::uint64_t generation) {
  auto it = entries_.find(std::make_pair(vid, mac));
  constexpr std::uint64_t mask = pipeline::cookie::kGenerationMask;
  if (it == entries_.end() || (it->second.generation & mask) != (generation & mask)) {
    return std::nullopt;
  }
  Entry e = it->second;
  entries_.erase(it);
  ++counters_.aged;
  return e;
}

MacTable::Flushed MacTable::flush_if(const std::function<bool(std::uint16_t vid, const Entry&)>& pred) {
  Flushed out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (pred(it->first.first, it->second)) {
      out.emplace_back(it->first, it->second);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

MacTable::Flushed MacTable::flush_port(std::uint32_t port_no) {
  return flush_if([port_no](std::uint16_t, const Entry& e) { return e.where.port_no == port_no; });
}

MacTable::Flushed MacTable::flush_vlan(std::uint16_t vid) {
  return flush_if([vid](std::uint16_t v, const Entry&) { return v == vid; });
}

std::uint64_t MacTable::next_generation() {
  const std::uint64_t g = next_generation_;
  next_generation_ = (next_generation_ + 1) & pipeline::cookie::kGenerationMask;
  if (next_generation_ == 0) next_generation_ = 1;
  return g;
}

bool MacTable::refresh_due(std::uint16_t vid, const MacAddress& mac, std::uint64_t now_ns,
                           std::uint64_t interval_ns) {
  auto it = entries_.find(std::make_pair(vid, mac));
  if (it == entries_.end() || now_ns - it->second.refreshed_ns < interval_ns) return false;
  it->second.refreshed_ns = now_ns;
  return true;
}

void MacTable::mark_refreshed(std::uint16_t vid, const MacAddress& mac, std::uint64_t now_ns) {
  auto it = entries_.find(std::make_pair(vid, mac));
  if (it != entries_.end()) it->second.refreshed_ns = now_ns;
}

const MacTable::Entry* MacTable::find(std::uint16_t vid, const MacAddress& mac) const {
  auto it = entries_.find(std::make_pair(vid, mac));
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace tapflow::tapd
