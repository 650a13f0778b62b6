// FlowSync: keeps one class of a switch's flows (those whose cookie matches
// cookie/mask) equal to a desired set, with the fewest FLOW_MODs. A flow is
// identified by (table, priority, match); the match compares field order-free.
// On (re)connect it reads what the switch already has (FLOW_STATS) instead of
// wiping it, so forwarding never stops for a reconcile.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tapflow/controller/connection.hpp"
#include "tapflow/openflow/messages.hpp"

namespace tapflow::controller {

struct FlowSyncCounters {
  std::uint64_t adds = 0, modifies = 0, deletes = 0;  // FLOW_MODs sent
  std::uint64_t reconciles = 0, errors = 0;
};

// The identity of a match as bytes: fields sorted by (class, experimenter,
// field), value bits outside the mask cleared, an all-ones mask spelled as no
// mask and an all-zero mask as no field. Equal strings match the same packets
// however a switch (or the 1.0 codec) orders and spells them.
std::string canonical_match(const openflow::Match& m);
// The identity of a flow in a switch: table, priority and canonical match.
std::string flow_identity(std::uint8_t table, std::uint16_t priority, const openflow::Match& m);
// Two flows of one identity do the same: same cookie and instructions (an
// empty ApplyActions counts as none: 1.0 reads it back that way).
bool same_flow_content(const openflow::FlowMod& a, const openflow::FlowMod& b);
// A 64-bit digest of what same_flow_content() compares (cookie and normalized
// instructions, as `version` encodes them): for comparing a million flows
// against a switch's without keeping them. Equal content, equal digest; a
// different content collides with probability about 2^-64.
std::uint64_t flow_content_digest(std::uint64_t cookie, const openflow::InstructionList& instructions,
                                  std::uint8_t version);

// Semantics worth knowing:
// - A changed flow (same identity, other instructions or cookie) is sent as
//   an ADD, which overwrites it in place (OpenFlow resets its counters); ADD
//   also works if the flow vanished meanwhile, where 1.3 MODIFY_STRICT would
//   do nothing. It is counted in `modifies`. New flows are sent before
//   deletes so traffic never falls between an old and a new flow.
// - A gone flow is sent as DELETE_STRICT (table, priority, match; 1.3: our
//   cookie/mask, so a flow someone else has since overwritten is left alone).
// - Errors for individual FLOW_MODs arrive at App::on_error (they answer no
//   request); `done` gets the result of the barrier, or the first FLOW_MOD
//   that could not be sent (e.g. not expressible in the switch's version).
// - What was sent is recorded as installed at once (optimistic).
// - A reconcile whose FLOW_STATS request fails installs nothing: its `done`
//   callbacks get the error and installed_count() is 0 until the next call.
// - forget() completes pending reconcile callbacks with an error. After the
//   FlowSync is destroyed no callback of it runs (pending replies are ignored).
// Not thread-safe: use it on the datapath's event loop.
class FlowSync {
 public:
  using Done = std::function<void(openflow::Status)>;

  FlowSync(std::uint64_t cookie, std::uint64_t cookie_mask)
      : cookie_(cookie), mask_(cookie_mask), alive_(std::make_shared<bool>(true)) {}
  ~FlowSync() { *alive_ = false; }
  // Pending callbacks hold this object's address: it cannot move.
  FlowSync(const FlowSync&) = delete;
  FlowSync& operator=(const FlowSync&) = delete;

  // Datapath came up: read its flows of this class (FLOW_STATS, all tables),
  // then make them equal to `desired`. `done` runs after the barrier that
  // confirms the FLOW_MODs (or with the first error).
  void reconcile(Datapath& dp, std::vector<openflow::FlowMod> desired, Done done = {});
  // Makes the switch's flows equal to `desired`, assuming what was installed
  // last is still there: sends only the difference, then a barrier. Calls made
  // while a reconcile is reading flows are folded into it (the latest
  // `desired` wins; every `done` runs). Of several desired flows with the same
  // identity the last one wins.
  void apply(Datapath& dp, std::vector<openflow::FlowMod> desired, Done done = {});
  // The datapath went down: nothing is known to be installed any more.
  void forget();

  std::size_t installed_count() const { return installed_.size(); }
  bool reconciling() const { return reconciling_; }
  const FlowSyncCounters& counters() const { return counters_; }

 private:
  using Replies = std::vector<openflow::Message>;
  bool ours(std::uint64_t cookie) const { return (cookie & mask_) == (cookie_ & mask_); }
  void on_flow_stats(Datapath& dp, openflow::Result<Replies> replies);
  void apply_now(Datapath& dp, std::vector<openflow::FlowMod> desired, std::vector<Done> done);

  std::uint64_t cookie_;
  std::uint64_t mask_;
  std::map<std::string, openflow::FlowMod> installed_;  // by identity key bytes
  FlowSyncCounters counters_;
  bool reconciling_ = false;
  std::uint64_t generation_ = 0;  // bumped by reconcile() and forget(): stale replies are ignored
  std::vector<openflow::FlowMod> queued_desired_;
  std::vector<Done> queued_done_;
  std::shared_ptr<bool> alive_;  // false once destroyed; pending callbacks hold a copy
};

}  // namespace tapflow::controller
