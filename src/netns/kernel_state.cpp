#include "tapflow/netns/kernel_state.hpp"

#include <algorithm>

namespace tapflow::netns {

RouteKey key_of(const Route& r) { return RouteLess::tie(r); }

namespace {

// A nexthop object's own next hop, with the weight it has in its group.
std::optional<NextHop> leaf_nexthop(const NexthopObject& o, unsigned weight) {
  if (o.blackhole || !o.nexthop) return std::nullopt;
  NextHop nh = *o.nexthop;
  nh.weight = static_cast<std::uint8_t>(std::min(weight, 255u));  // 256 and more: 255, as for routes
  return nh;
}

}  // namespace

std::vector<NextHop> KernelState::resolve_nexthops(const Route& r) const {
  if (r.nexthop_id == 0) return r.nexthops.to_vector();
  auto it = nexthop_objects.find(r.nexthop_id);
  if (it == nexthop_objects.end() || it->second.blackhole) return {};
  const NexthopObject& top = it->second;
  if (top.nexthop) return {*top.nexthop};
  std::vector<NextHop> out;
  for (const auto& [id, weight] : top.group) {
    auto m = nexthop_objects.find(id);
    if (m == nexthop_objects.end()) continue;
    if (auto nh = leaf_nexthop(m->second, weight)) {
      out.push_back(*nh);
      continue;
    }
    // The kernel refuses groups of groups today; one level is expanded so a
    // future kernel (or a hand-fed message) still resolves, weights multiplied.
    for (const auto& [sub_id, sub_weight] : m->second.group) {
      auto s = nexthop_objects.find(sub_id);
      if (s == nexthop_objects.end()) continue;
      if (auto nh = leaf_nexthop(s->second, unsigned{weight} * sub_weight)) out.push_back(*nh);
    }
  }
  return out;
}

}  // namespace tapflow::netns
