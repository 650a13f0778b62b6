// FlowSync: keeps one class of a switch's flows (those whose cookie matches
// cookie/mask) equal to a desired set, with the fewest FLOW_MODs. A flow is
// identified by (table, priority, match); the match compares field order-free.
// On (re)connect it reads what the switch already has (FLOW_STATS) instead of
// wiping it, so forwarding never stops for a reconcile.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tapflow/controller/connection.hpp"
#include "tapflow/openflow/messages.hpp"

namespace tapflow::controller {

struct FlowSyncCounters {
  std::uint64_t adds = 0, modifies = 0, deletes = 0;  // FLOW_MODs sent
  std::uint64_t reconciles = 0, errors = 0;
};

class FlowSync {
 public:
  using Done = std::function<void(openflow::Status)>;

  FlowSync(std::uint64_t cookie, std::uint64_t cookie_mask) : cookie_(cookie), mask_(cookie_mask) {}

  // Datapath came up: read its flows of this class (FLOW_STATS, all tables),
  // then make them equal to `desired`. `done` runs after the barrier that
  // confirms the FLOW_MODs (or with the first error).
  void reconcile(Datapath& dp, std::vector<openflow::FlowMod> desired, Done done = {});
  // Makes the switch's flows equal to `desired`, assuming what was installed
  // last is still there: sends only the difference, then a barrier. Calls made
  // while a reconcile is reading flows are folded into it.
  void apply(Datapath& dp, std::vector<openflow::FlowMod> desired, Done done = {});
  // The datapath went down: nothing is known to be installed any more.
  void forget();

  std::size_t installed_count() const { return installed_.size(); }
  const FlowSyncCounters& counters() const { return counters_; }

 private:
  struct Key;
  // ... implementation-defined members
  std::uint64_t cookie_;
  std::uint64_t mask_;
  std::map<std::string, openflow::FlowMod> installed_;  // by canonical key bytes
  FlowSyncCounters counters_;
  bool reconciling_ = false;
  std::vector<openflow::FlowMod> queued_desired_;
  bool have_queued_ = false;
  std::vector<Done> queued_done_;
};

}  // namespace tapflow::controller
