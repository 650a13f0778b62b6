// Switch profiles in tapflowd: resolve, log once, remember for the metrics.
#include "profiles.hpp"

#include <spdlog/spdlog.h>

namespace tapflow::daemon {

ProfileBook::ProfileBook(pipeline::ProfileRequest base, std::map<std::uint64_t, ProfileConfig> switches)
    : base_(std::move(base)), switches_(std::move(switches)) {}

pipeline::SwitchProfile ProfileBook::resolve(const controller::Datapath& dp) {
  pipeline::ProfileRequest rq = base_;
  if (auto it = switches_.find(dp.datapath_id()); it != switches_.end()) {
    if (it->second.kind) rq.kind = *it->second.kind;
    if (it->second.table_capacity) rq.fib_capacity = it->second.table_capacity;
  }
  pipeline::Capabilities caps = dp.capabilities();
  caps.version = dp.version();
  if (caps.n_tables == 0) caps.n_tables = dp.features().n_tables;
  auto it = resolved_.find(dp.datapath_id());
  if (it != resolved_.end() && it->second.request == rq && it->second.caps == caps) {
    return it->second.profile;
  }
  pipeline::SwitchProfile p = pipeline::resolve_profile(rq, caps);
  spdlog::info("{} profile {}", dp.log_name(), p.summary());
  for (const std::string& l : p.limits) spdlog::warn("{} profile {}: {}", dp.log_name(),
                                                     pipeline::profile_name(p.kind), l);
  resolved_.insert_or_assign(dp.datapath_id(), Entry{rq, caps, p});
  return p;
}

std::vector<ProfileBook::View> ProfileBook::view() const {
  std::vector<View> out;
  for (const auto& [dpid, e] : resolved_) out.push_back(View{dpid, e.profile});
  return out;
}

}  // namespace tapflow::daemon
