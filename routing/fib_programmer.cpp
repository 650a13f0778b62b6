// FIB programmer: ordered, batched sending of FibCompiler diffs to one
// switch, with bundles, barrier pacing, error accounting and reconcile. See
// fib_programmer.hpp for the semantics.
#include "tapflow/routing/fib_programmer.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <set>
#include <utility>

#include "tapflow/controller/flow_sync.hpp"
#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::routing {
namespace {

using namespace openflow;
using controller::Datapath;
using Replies = std::vector<Message>;

// A group's content as it forwards: type and buckets, without its id.
// Weights mean something in select groups only and watch fields in
// fast-failover groups only; a switch may report them differently for the
// others, so they are cleared there. Two groups forward alike exactly when
// their contents are equal.
std::string group_content(std::uint8_t type, std::vector<Bucket> buckets) {
  for (Bucket& b : buckets) {
    if (type != group_type::kSelect) b.weight = 0;
    if (type != group_type::kFastFailover) {
      b.watch_port = port::kAny;
      b.watch_group = kGroupAny;
    }
  }
  GroupMod g;
  g.type = type;
  g.buckets = std::move(buckets);
  auto bytes = encode(Message{kVersion13, 0, std::move(g)});
  // Not encodable (cannot happen for what a switch sent us): equal to nothing.
  if (!bytes) return "!" + std::to_string(type) + describe(bytes.error());
  return std::string(bytes->begin(), bytes->end());
}

bool is_select(const GroupMod& g) { return g.type == group_type::kSelect; }

constexpr std::uint16_t kEthIpv4 = 0x0800;
constexpr std::uint16_t kEthIpv6 = 0x86dd;

// One FIB flow the switch holds, in compact form: its identity (the compiler
// spells every match from kind, priority and prefix) and a digest of its
// content. A million of these take 40 MB where decoded FlowStats took 400.
struct HaveFlow {
  FibFlow key;                // kind, prefix, priority (action and group unused)
  std::uint64_t content = 0;  // flow_content_digest of what the switch holds
};

// Switch order: priority high to low, then prefix (as FibCompiler::flows()).
bool flow_before(const FibFlow& a, const FibFlow& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.prefix < b.prefix;
}

bool contiguous_v4(std::uint32_t mask, std::uint8_t& len) {
  const std::uint32_t inv = ~mask;
  if ((inv & (inv + 1)) != 0) return false;  // ones then zeros only
  len = static_cast<std::uint8_t>(std::popcount(mask));
  return true;
}

bool contiguous_v6(const ValueBytes& mask, std::uint8_t& len) {
  len = 0;
  bool zeros = false;
  for (std::uint8_t byte : mask) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool one = ((byte >> bit) & 1) != 0;
      if (one && zeros) return false;
      if (one) ++len;
      zeros = zeros || !one;
    }
  }
  return true;
}

}  // namespace

// See fib_programmer.hpp: the shape FibCompiler::render() gives, read back.
std::optional<FibFlow> parse_fib_flow(std::uint64_t cookie, std::uint16_t priority,
                                      const Match& match) {
  FibFlow f;
  f.priority = priority;
  switch (cookie & pipeline::cookie::kSubclassMask) {
    case pipeline::cookie::kRoute: f.kind = FibFlowKind::kRoute; break;
    case pipeline::cookie::kHost: f.kind = FibFlowKind::kHost; break;
    case pipeline::cookie::kFibMiss: f.kind = FibFlowKind::kMiss; break;
    default: return std::nullopt;
  }
  if (f.kind == FibFlowKind::kMiss) {
    if (!match.fields.empty()) return std::nullopt;
    return f;
  }
  std::optional<std::uint16_t> eth_type;
  const OxmField* dst = nullptr;
  for (const OxmField& x : match.fields) {
    if (x.is_basic(oxm_field::kEthType) && !x.has_mask && !eth_type) {
      eth_type = static_cast<std::uint16_t>(x.value_uint());
    } else if ((x.is_basic(oxm_field::kIpv4Dst) || x.is_basic(oxm_field::kIpv6Dst)) && !dst) {
      dst = &x;
    } else {
      return std::nullopt;
    }
  }
  if (eth_type == kEthIpv4) {
    f.prefix.addr = netns::IpAddress::v4(0);
    if (dst != nullptr) {
      if (!dst->is_basic(oxm_field::kIpv4Dst) || dst->value.size() != 4) return std::nullopt;
      const auto addr = static_cast<std::uint32_t>(dst->value_uint());
      std::uint8_t len = 32;
      if (dst->has_mask && !contiguous_v4(static_cast<std::uint32_t>(dst->mask_uint()), len)) {
        return std::nullopt;
      }
      f.prefix.addr = netns::IpAddress::v4(addr);
      f.prefix.len = len;
    }
  } else if (eth_type == kEthIpv6) {
    std::array<std::uint8_t, 16> zero{};
    f.prefix.addr = netns::IpAddress::v6(zero.data());
    if (dst != nullptr) {
      if (!dst->is_basic(oxm_field::kIpv6Dst) || dst->value.size() != 16) return std::nullopt;
      std::uint8_t len = 128;
      if (dst->has_mask && (dst->mask.size() != 16 || !contiguous_v6(dst->mask, len))) {
        return std::nullopt;
      }
      f.prefix.addr = netns::IpAddress::v6(dst->value.data());
      f.prefix.len = len;
    }
  } else {
    return std::nullopt;
  }
  f.prefix = f.prefix.network();
  return f;
}

struct FibProgrammer::ReconcileRead {
  std::uint64_t generation = 0;
  int pending = 0;
  std::optional<OfError> error;
  std::vector<HaveFlow> flows;   // the switch's FIB flows of our shape
  std::vector<FlowMod> foreign;  // our cookie class, another shape: deleted
  Replies groups;
  std::optional<std::uint32_t> capacity;
  bool hold_stale = false;
};

FibProgrammer::FibProgrammer(const FibCompiler& compiler, FibProgrammerOptions options)
    : compiler_(compiler),
      options_(std::move(options)),
      capacity_(options_.table_capacity),
      configured_capacity_(options_.table_capacity),
      alive_(std::make_shared<bool>(true)) {
  options_.bundle_max = std::max<std::size_t>(options_.bundle_max, 1);
  options_.bundle_min = std::clamp<std::size_t>(options_.bundle_min, 1, options_.bundle_max);
  bundle_size_ = options_.bundle_max;
  options_.batch_size = std::max<std::size_t>(options_.batch_size, 1);
  options_.max_inflight_batches = std::max<std::size_t>(options_.max_inflight_batches, 1);
}

FibProgrammer::~FibProgrammer() { *alive_ = false; }

bool FibProgrammer::dp_gone() const {
  auto dp = dp_.lock();
  return !dp || dp->is_closed();
}

// ------------------------------------------------------------------ queueing

void FibProgrammer::push_flow(const FibFlow& f, std::uint8_t command) {
  Op op;
  op.flow = f;
  op.command = command;
  // Inline next-hop actions are rendered now: they follow the compiler's
  // groups, which later diffs change.
  if (!compiler_.uses_groups()) op.body = std::make_unique<MessageBody>(body_of(op));
  queue_.push_back(std::move(op));
}

void FibProgrammer::push_body(MessageBody body) {
  Op op;
  op.body = std::make_unique<MessageBody>(std::move(body));
  queue_.push_back(std::move(op));
}

MessageBody FibProgrammer::body_of(const Op& op) const {
  if (op.body) return *op.body;
  FlowMod fm = compiler_.render(op.flow, op.command);
  if (op.command == flow_mod_command::kDeleteStrict && version_ != kVersion10) {
    // Only our flow: one someone else has since overwritten stays.
    fm.cookie_mask = pipeline::cookie::kSubclassMask;
  }
  return fm;
}

// ------------------------------------------------------------------ switch group ids

std::uint32_t FibProgrammer::switch_group_id(std::uint32_t compiler_id) const {
  auto it = group_ids_.find(compiler_id);
  return it == group_ids_.end() ? compiler_id : it->second;
}

std::uint32_t FibProgrammer::allocate_group_id(std::uint32_t prefer) {
  const std::uint32_t lo = options_.groups.first, hi = options_.groups.last;
  std::uint32_t id = prefer;
  if (id < lo || id > hi || used_group_ids_.contains(id)) {
    // The lowest free id: used ids are few (one per next hop).
    id = lo;
    for (auto it = used_group_ids_.lower_bound(lo); it != used_group_ids_.end() && *it == id; ++it) {
      if (id == hi) {
        spdlog::error("FIB: no free group id in [{}, {}]: group {} shares an id", lo, hi, prefer);
        return prefer;
      }
      ++id;
    }
  }
  used_group_ids_.insert(id);
  return id;
}

void FibProgrammer::to_switch_ids(GroupMod& g) const {
  g.group_id = switch_group_id(g.group_id);
  for (Bucket& b : g.buckets) {
    for (Action& a : b.actions) {
      if (auto* ga = std::get_if<action::Group>(&a)) ga->group_id = switch_group_id(ga->group_id);
    }
  }
}

FibFlow FibProgrammer::to_switch_ids(FibFlow f) const {
  if (f.action == FibAction::kGroup) f.group = switch_group_id(f.group);
  return f;
}

std::string FibProgrammer::switch_content(const GroupMod& g) const {
  GroupMod c = g;
  to_switch_ids(c);  // select buckets: the members' switch ids
  return group_content(c.type, std::move(c.buckets));
}

std::optional<std::uint32_t> FibProgrammer::adopt_stale_group(const std::string& content,
                                                              std::uint32_t prefer) {
  auto it = stale_group_ids_.find(content);
  if (it == stale_group_ids_.end() || it->second.empty()) return std::nullopt;
  auto& ids = it->second;
  auto pick = std::find(ids.begin(), ids.end(), prefer);
  if (pick == ids.end()) pick = ids.begin();
  const std::uint32_t sid = *pick;
  ids.erase(pick);
  if (ids.empty()) stale_group_ids_.erase(it);
  stale_groups_.erase(sid);  // its id stays in used_group_ids_: it is ours now
  ++counters_.stale_adopted_groups;
  return sid;
}

std::optional<std::size_t> FibProgrammer::find_stale(const FibFlow& f) const {
  if (stale_flow_count_ == 0) return std::nullopt;
  auto it = std::lower_bound(stale_flows_.begin(), stale_flows_.end(), f, flow_before);
  if (it == stale_flows_.end() || flow_before(f, *it)) return std::nullopt;
  const auto i = static_cast<std::size_t>(it - stale_flows_.begin());
  if (!stale_alive_[i]) return std::nullopt;
  return i;
}

bool FibProgrammer::adopt_or_unstale(const FibFlow& f) {
  const auto i = find_stale(f);
  if (!i) return false;
  stale_alive_[*i] = false;
  --stale_flow_count_;
  // Compared as the reconcile compares: the rendered flow, switch group ids.
  const FlowMod fm = compiler_.render(f);
  if (stale_flows_[*i].kind == f.kind &&
      stale_digests_[*i] == controller::flow_content_digest(fm.cookie, fm.instructions, version_)) {
    ++counters_.stale_adopted_flows;
    return true;
  }
  ++counters_.stale_replaced;  // the ADD overwrites it in the switch
  return false;
}

void FibProgrammer::queue_diff(const FibDiff& diff) {
  const std::size_t before = queue_.size();
  // Many small diffs (a full table arriving from the kernel batch by batch)
  // add up to the same churn as one big one.
  ops_since_trim_ += diff.size();
  trim_when_idle_ = trim_when_idle_ || ops_since_trim_ >= kTrimAfterOps;
  // New compiler groups get their switch ids before anything is rendered
  // with switch ids: select groups name indirect ones in their buckets.
  // Select groups point at indirect ones: those first, also so that a select
  // group's content (its members' switch ids) is known when it is compared
  // with the stale groups. A stale group of the same content is taken back
  // (see the header): its id, and no GROUP_MOD.
  std::vector<GroupMod> added;
  added.reserve(diff.groups_added.size());
  for (std::uint32_t id : diff.groups_added) {
    added.push_back(compiler_.render_group(id, group_mod_command::kAdd));
  }
  std::stable_partition(added.begin(), added.end(), [](const GroupMod& g) { return !is_select(g); });
  std::vector<bool> send(added.size(), true);
  for (std::size_t i = 0; i < added.size(); ++i) {
    const std::uint32_t id = added[i].group_id;
    if (auto it = group_ids_.find(id); it != group_ids_.end()) {
      used_group_ids_.erase(it->second);
      group_ids_.erase(it);
    }
    std::optional<std::uint32_t> sid;
    if (!stale_groups_.empty()) sid = adopt_stale_group(switch_content(added[i]), id);
    send[i] = !sid;
    group_ids_[id] = sid ? *sid : allocate_group_id(id);
  }
  for (std::size_t i = 0; i < added.size(); ++i) {
    if (!send[i]) continue;
    to_switch_ids(added[i]);
    push_body(std::move(added[i]));
  }
  std::vector<GroupMod>().swap(added);
  {
    std::vector<GroupMod> mods;
    for (std::uint32_t id : diff.groups_changed) {
      mods.push_back(compiler_.render_group(id, group_mod_command::kModify));
      to_switch_ids(mods.back());
    }
    std::stable_partition(mods.begin(), mods.end(), [](const GroupMod& g) { return !is_select(g); });
    for (GroupMod& g : mods) push_body(std::move(g));
  }

  std::vector<FibFlow> adds = diff.flows_added;
  // Flows left out (withheld) are not on the switch: removing one sends
  // nothing, changing one keeps it out.
  std::vector<FibFlow> removed;
  removed.reserve(diff.flows_removed.size());
  for (const FibFlow& f : diff.flows_removed) {
    if (!withheld_set_.empty() && withheld_set_.erase(withheld_key(f)) > 0) continue;
    removed.push_back(f);
  }
  std::vector<FibFlow> changed;
  changed.reserve(diff.flows_changed.size());
  for (const FibFlow& f : diff.flows_changed) {
    if (!withheld_set_.empty() && withheld_set_.contains(withheld_key(f))) continue;
    changed.push_back(f);
  }
  // Room short: the deletes go first (a switch counts its table message by
  // message, even inside an atomic bundle, where the order costs nothing).
  const bool room_first =
      capacity_ && installed_flows_ + adds.size() > *capacity_ && !removed.empty();
  if (room_first) {
    for (const FibFlow& f : removed) push_flow(f, flow_mod_command::kDeleteStrict);
  }
  if (capacity_) {
    const std::uint64_t after =
        installed_flows_ + adds.size() - std::min<std::uint64_t>(installed_flows_, removed.size());
    if (after > *capacity_) {
      // Keep the longest prefixes of this diff (see the header's policy).
      std::stable_sort(adds.begin(), adds.end(), [](const FibFlow& a, const FibFlow& b) {
        return a.priority > b.priority;
      });
      const std::uint64_t excess = std::min<std::uint64_t>(after - *capacity_, adds.size());
      for (std::size_t i = adds.size() - excess; i < adds.size(); ++i) {
        withheld_set_.insert(withheld_key(adds[i]));
      }
      adds.resize(adds.size() - excess);
      if (excess > 0) refit_ = true;
      if (!over_capacity_logged_) {
        over_capacity_logged_ = true;
        spdlog::warn(
            "FIB: the switch's FIB table holds {} flows and the FIB needs more: {} flows with the "
            "shortest prefixes are left out (their packets go to the kernel via the miss flow); "
            "reconcile to keep exactly the longest prefixes",
            *capacity_, excess);
      }
    }
  }
  // A stale flow of the same identity: taken back if it holds exactly this,
  // else the ADD overwrites it (see the header).
  auto add = [&](const FibFlow& f) {
    const FibFlow w = to_switch_ids(f);
    if (!adopt_or_unstale(w)) push_flow(w, flow_mod_command::kAdd);
  };
  for (const FibFlow& f : adds) add(f);
  for (const FibFlow& f : changed) add(f);
  if (!room_first) {
    for (const FibFlow& f : removed) push_flow(f, flow_mod_command::kDeleteStrict);
  }
  installed_flows_ += adds.size();
  installed_flows_ -= std::min<std::uint64_t>(installed_flows_, removed.size());
  withheld_ = withheld_set_.size();
  if (capacity_ && installed_flows_ < *capacity_ && withheld_ == 0) over_capacity_logged_ = false;

  // Groups removed: the compiler already lists select before indirect (it
  // no longer knows their types; we could not sort them here).
  // The switch id is free again once the DELETE is queued: whatever reuses
  // it is queued after the DELETE.
  for (std::uint32_t id : diff.groups_removed) {
    const std::uint32_t sid = switch_group_id(id);
    push_body(FibCompiler::delete_group(sid));
    group_ids_.erase(id);
    used_group_ids_.erase(sid);
  }
  queued_ops_ += queue_.size() - before;
}

void FibProgrammer::apply(const FibDiff& diff, Done done) {
  if (reconciling_) {
    // The reconcile's snapshot is taken later and includes this diff.
    if (done) dones_.emplace_back(kAfterReconcile, std::move(done));
    return;
  }
  if (dp_gone()) {
    if (done) {
      done(make_error(error_type::kBadRequest, bad_request::kEperm,
                      "FIB programmer: no datapath (the next reconcile sends this diff)"));
    }
    return;
  }
  queue_diff(diff);
  if (done) dones_.emplace_back(queued_ops_, std::move(done));
  pump();
  fire_dones();
}

// ------------------------------------------------------------------ sending

FibProgrammer::Batch* FibProgrammer::find_batch(std::uint64_t seq) {
  for (Batch& b : inflight_) {
    if (b.seq == seq) return &b;
  }
  return nullptr;
}

void FibProgrammer::pump() {
  if (reconciling_ || waiting_writable_ || held_) return;
  auto dpp = dp_.lock();
  if (!dpp || dpp->is_closed()) return;
  Datapath& dp = *dpp;
  for (;;) {
    if (!inflight_.empty() && inflight_.back().stage == Stage::kSending) {
      Batch& b = inflight_.back();
      if (!send_ops(dp, b)) return;  // congested: when_writable() resumes
      finish_batch(dp, b);
      continue;
    }
    if (queue_.empty()) return;
    const bool bundle =
        options_.use_bundles && version_ != kVersion10 && bundles_ != BundleSupport::kNo;
    if (bundle && !inflight_.empty()) return;  // one bundle at a time, after everything before it
    if (!bundle && inflight_.size() >= options_.max_inflight_batches) return;
    if (options_.hold && options_.defer) {
      if (const std::chrono::milliseconds wait = options_.hold(); wait.count() > 0) {
        held_ = true;
        ++counters_.control_holds;
        counters_.control_hold_us += static_cast<std::uint64_t>(wait.count()) * 1000;
        options_.defer(wait, [this, alive = alive_] {
          if (!*alive) return;
          held_ = false;
          pump();  // whatever happened meanwhile (a reconcile, a stop), pump() looks afresh
        });
        return;
      }
    }

    Batch b;
    b.seq = next_batch_++;
    b.bundle = bundle;
    const std::size_t n = std::min(queue_.size(), bundle ? bundle_size_ : options_.batch_size);
    b.ops.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      b.ops.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++counters_.batches;
    if (!bundle) {
      inflight_.push_back(std::move(b));
      continue;
    }
    b.bundle_id = next_bundle_++;
    b.stage = Stage::kOpening;
    b.opened = controller::Clock::now();
    const std::uint64_t seq = b.seq;
    const std::uint32_t id = b.bundle_id;
    inflight_.push_back(std::move(b));
    dp.request(
        BundleControl{id, bundle_ctrl_type::kOpenRequest,
                      static_cast<std::uint16_t>(bundle_flags::kAtomic | bundle_flags::kOrdered), {}},
        [this, alive = alive_, gen = generation_, seq](Result<Replies> r) {
          if (!*alive || gen != generation_) return;
          on_open(seq, r ? ok_status() : Status(r.error()));
        });
    return;
  }
}

bool FibProgrammer::send_ops(Datapath& dp, Batch& b) {
  while (b.sent < b.ops.size()) {
    const std::size_t i = b.sent++;
    const Op& op = b.ops[i];
    MessageBody body = body_of(op);
    const bool group = std::holds_alternative<GroupMod>(body);
    const std::uint32_t xid = dp.next_xid();
    Status st = ok_status();
    if (b.bundle) {
      auto inner = encode(Message{version_, xid, std::move(body)});
      if (inner) {
        st = dp.send(Message{version_, xid,
                             BundleAddMessage{b.bundle_id,
                                              static_cast<std::uint16_t>(bundle_flags::kAtomic |
                                                                         bundle_flags::kOrdered),
                                              std::move(*inner),
                                              {}}});
      } else {
        st = Status(inner.error());
      }
    } else {
      st = dp.send(Message{version_, xid, std::move(body)});
    }
    if (!st) {
      ++counters_.errors;
      ++b.errors;
      spdlog::warn("{} FIB: could not send {}: {}", dp.log_name(), describe_op(op),
                   describe(st.error()));
    } else {
      ++(group ? counters_.group_mods : counters_.flow_mods);
      if (b.retry) ++counters_.retried;
      b.xids.push_back(xid);
      xids_[xid] = XidRef{b.seq, i};
    }
    if (dp.is_closed()) return false;
    if (dp.congested()) {
      waiting_writable_ = true;
      dp.when_writable([this, alive = alive_, gen = generation_] {
        if (!*alive || gen != generation_) return;
        waiting_writable_ = false;
        pump();
      });
      return false;
    }
  }
  return true;
}

void FibProgrammer::finish_batch(Datapath& dp, Batch& b) {
  b.stage = Stage::kConfirming;
  const std::uint64_t seq = b.seq;
  if (b.bundle) {
    dp.request(
        Message{version_, 0,
                BundleControl{b.bundle_id, bundle_ctrl_type::kCommitRequest,
                              static_cast<std::uint16_t>(bundle_flags::kAtomic |
                                                         bundle_flags::kOrdered),
                              {}}},
        [this, alive = alive_, gen = generation_, seq](Result<Replies> r) {
          if (!*alive || gen != generation_) return;
          on_commit(seq, r ? ok_status() : Status(r.error()));
        },
        options_.commit_timeout);
  } else {
    dp.barrier([this, alive = alive_, gen = generation_, seq](Status st) {
      if (!*alive || gen != generation_) return;
      on_barrier(seq, st);
    });
  }
}

void FibProgrammer::on_open(std::uint64_t seq, Status st) {
  Batch* b = find_batch(seq);
  if (b == nullptr) return;
  if (!st) {
    if (dp_gone()) return abort("datapath closed", false);
    // No bundles on this switch (or this one could not be opened): send this
    // batch and everything after it barrier-paced.
    if (bundles_ != BundleSupport::kNo) {
      spdlog::info("FIB: switch refused BUNDLE_OPEN ({}): barrier-paced batches from now on",
                   describe(st.error()));
    }
    bundles_ = BundleSupport::kNo;
    b->bundle = false;
  } else {
    bundles_ = BundleSupport::kYes;
  }
  b->stage = Stage::kSending;
  pump();
}

void FibProgrammer::on_commit(std::uint64_t seq, Status st) {
  Batch* b = find_batch(seq);
  if (b == nullptr) return;
  if (st) {
    ++counters_.bundles_committed;
    adapt_bundle_size(*b);
    confirm(seq);
    return;
  }
  if (dp_gone()) return abort("datapath closed", false);
  // Atomic: nothing of the bundle went in. Retry one by one so the good
  // entries do; errors of the bundle's own attempt were not counted.
  ++counters_.bundles_failed;
  spdlog::warn("FIB: bundle {} of {} messages rejected ({}): resending them one by one",
               b->bundle_id, b->ops.size(), describe(st.error()));
  for (std::uint32_t x : b->xids) xids_.erase(x);
  b->xids.clear();
  b->bundle = false;
  b->retry = true;
  b->sent = 0;
  b->errors = 0;
  b->stage = Stage::kSending;
  pump();
}

void FibProgrammer::adapt_bundle_size(const Batch& b) {
  const auto target = options_.bundle_target;
  if (target.count() <= 0) return;
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(controller::Clock::now() - b.opened);
  const auto target_us = std::chrono::duration_cast<std::chrono::microseconds>(target);
  const std::size_t before = bundle_size_;
  if (took > target_us) {
    // In proportion to the overrun, at most to a quarter at once.
    const auto scaled = static_cast<std::size_t>(static_cast<double>(b.ops.size()) *
                                                 static_cast<double>(target_us.count()) /
                                                 static_cast<double>(took.count()));
    bundle_size_ = std::clamp(scaled, std::max(options_.bundle_min, bundle_size_ / 4), bundle_size_);
  } else if (2 * took < target_us && b.ops.size() >= bundle_size_) {
    bundle_size_ = std::min(options_.bundle_max, bundle_size_ + bundle_size_ / 4 + 1);
  }
  if (bundle_size_ < before) {
    ++counters_.bundle_shrinks;
    spdlog::debug("FIB: a bundle of {} took {} ms at the switch (target {} ms): {} per bundle now",
                  b.ops.size(), took.count() / 1000, target.count(), bundle_size_);
  }
}

void FibProgrammer::on_barrier(std::uint64_t seq, Status st) {
  if (find_batch(seq) == nullptr) return;
  if (!st) {
    if (dp_gone()) return abort("datapath closed", false);
    // A barrier timeout: the switch is slow; what it rejected was reported.
    spdlog::warn("FIB: barrier failed ({}); treating the batch as sent", describe(st.error()));
  }
  confirm(seq);
}

void FibProgrammer::confirm(std::uint64_t seq) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [seq](const Batch& b) { return b.seq == seq; });
  if (it == inflight_.end()) return;
  for (std::uint32_t x : it->xids) xids_.erase(x);
  if (it->errors > options_.log_errors_per_batch) {
    spdlog::warn("FIB: {} of {} messages of a batch were rejected ({} not logged)", it->errors,
                 it->ops.size(), it->errors - options_.log_errors_per_batch);
  }
  confirmed_ops_ += it->ops.size();
  inflight_.erase(it);
  const auto alive = alive_;
  if (progress_) progress_(confirmed_ops_, queued_ops_);
  if (!*alive) return;
  fire_dones();
  if (!*alive) return;
  pump();
  if (!*alive) return;
  if (idle() && !refit_) in_refit_ = false;
  (void)maybe_refit();  // too soon: the Router asks again (Router::send)
}

void FibProgrammer::update_capacity() {
  capacity_ = configured_capacity_;
  if (learned_capacity_ && (!capacity_ || *learned_capacity_ < *capacity_)) capacity_ = learned_capacity_;
}

void FibProgrammer::set_table_capacity(std::optional<std::uint32_t> capacity) {
  if (configured_capacity_ == capacity) return;
  configured_capacity_ = capacity;
  update_capacity();
  if (withheld_ > 0 || (capacity_ && installed_flows_ > *capacity_)) refit_ = true;
}

std::optional<std::chrono::milliseconds> FibProgrammer::maybe_refit() {
  if (!refit_ || !idle()) return std::nullopt;
  auto dp = dp_.lock();
  if (!dp || dp->is_closed()) return std::nullopt;
  const auto now = controller::Clock::now();
  if (now - last_refit_ < options_.min_refit_interval) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options_.min_refit_interval -
                                                                 (now - last_refit_)) +
           std::chrono::milliseconds(1);
  }
  last_refit_ = now;
  refit_ = false;
  in_refit_ = true;
  ++counters_.refits;
  spdlog::info("FIB: refit: reconciling with the switch to keep exactly the longest prefixes");
  reconcile(*dp, nullptr, false);
  return std::nullopt;
}

void FibProgrammer::fire_dones() {
  if (trim_when_idle_ && idle()) {
    // A big reconcile or diff freed tens of megabytes of queued messages in
    // small blocks; glibc keeps them unless asked, and a router's memory per
    // route is what operators size machines by.
    trim_when_idle_ = false;
    ops_since_trim_ = 0;
    std::deque<Op>().swap(queue_);
    ::malloc_trim(0);
  }
  const auto alive = alive_;
  const std::uint64_t gen = generation_;
  while (!dones_.empty() && dones_.front().first <= confirmed_ops_ &&
         dones_.front().first != kAfterReconcile) {
    Done d = std::move(dones_.front().second);
    dones_.pop_front();
    if (d) d(ok_status());
    if (!*alive || gen != generation_) return;  // destroyed or restarted by the callback
  }
}

bool FibProgrammer::on_error(const OfError& error, std::uint32_t xid) {
  auto it = xids_.find(xid);
  if (it == xids_.end()) return false;
  Batch* b = find_batch(it->second.batch);
  if (b == nullptr) return false;
  const Op& op = b->ops[it->second.index];
  if (b->bundle) {
    // The commit fails too and the batch is retried message by message: the
    // retry's errors are the ones that count.
    spdlog::debug("FIB: in bundle {}: {} rejected: {}", b->bundle_id, describe_op(op),
                  describe(error));
    return true;
  }
  ++counters_.errors;
  const bool full = error.type == error_type::kFlowModFailed && error.code == flow_mod_failed::kTableFull;
  if (full) {
    ++counters_.table_full;
    if (!refit_) {
      spdlog::warn("FIB: the switch's FIB table is full: once the batches in flight are "
                   "confirmed, its flows are read back and the longest prefixes kept");
    }
    refit_ = true;
    // Refused during a refit, which makes room first: the switch holds
    // all it can, so what it holds then is the table's real size.
    if (in_refit_) refit_learn_ = true;
  }
  if (++b->errors <= options_.log_errors_per_batch) {
    spdlog::warn("FIB: switch rejected {}: {}{}", describe_op(op), describe(error),
                 full ? " (table full: refit follows)" : "");
  }
  return true;
}

std::string FibProgrammer::describe_op(const Op& op) const {
  if (op.body) {
    if (const auto* g = std::get_if<GroupMod>(op.body.get())) {
      const char* cmd = g->command == group_mod_command::kAdd      ? "add"
                        : g->command == group_mod_command::kModify ? "modify"
                                                                   : "delete";
      return std::string("GROUP_MOD ") + cmd + " group " + std::to_string(g->group_id);
    }
    if (const auto* f = std::get_if<FlowMod>(op.body.get())) {
      return std::string(f->command == flow_mod_command::kDeleteStrict ? "FLOW_MOD delete "
                                                                       : "FLOW_MOD add ") +
             "priority " + std::to_string(f->priority) + " " + to_text(f->match);
    }
    return "message";
  }
  std::string s = op.command == flow_mod_command::kDeleteStrict ? "FLOW_MOD delete " : "FLOW_MOD add ";
  s += op.flow.kind == FibFlowKind::kMiss   ? std::string("miss flow")
       : op.flow.kind == FibFlowKind::kHost ? "host " + op.flow.prefix.to_string()
                                            : "route " + op.flow.prefix.to_string();
  if (op.flow.action == FibAction::kGroup) s += " -> group " + std::to_string(op.flow.group);
  return s;
}

// ------------------------------------------------------------------ lifecycle

void FibProgrammer::abort(const std::string& why, bool keep_dones) {
  ++generation_;
  queue_.clear();
  inflight_.clear();
  xids_.clear();
  waiting_writable_ = false;
  reconciling_ = false;
  queued_ops_ = confirmed_ops_ = 0;
  if (keep_dones) {
    for (auto& d : dones_) d.first = kAfterReconcile;
    return;
  }
  auto dones = std::move(dones_);
  dones_.clear();
  const auto alive = alive_;
  for (auto& [target, d] : dones) {
    if (!*alive) return;
    if (d) d(make_error(error_type::kBadRequest, bad_request::kEperm, "FIB programmer: " + why));
  }
}

void FibProgrammer::clear_stale() {
  std::vector<FibFlow>().swap(stale_flows_);
  std::vector<std::uint64_t>().swap(stale_digests_);
  std::vector<bool>().swap(stale_alive_);
  stale_flow_count_ = 0;
  stale_groups_.clear();
  stale_group_ids_.clear();
}

void FibProgrammer::stop() {
  dp_.reset();
  installed_flows_ = 0;
  // The next reconcile reads the switch again, stale entries included.
  clear_stale();
  abort("stopped (datapath down)", false);
}

std::size_t FibProgrammer::sweep_stale() {
  if (stale_flow_count_ == 0 && stale_groups_.empty()) {
    clear_stale();
    return 0;
  }
  const std::size_t before = queue_.size();
  std::size_t flows = 0;
  for (std::size_t i = 0; i < stale_flows_.size(); ++i) {
    if (!stale_alive_[i]) continue;
    push_flow(stale_flows_[i], flow_mod_command::kDeleteStrict);
    ++flows;
  }
  // Select groups name indirect ones: those go first.
  std::vector<std::pair<std::uint32_t, std::uint8_t>> stale_groups;
  stale_groups.reserve(stale_groups_.size());
  for (const auto& [id, type] : stale_groups_) stale_groups.emplace_back(id, type);
  std::stable_partition(stale_groups.begin(), stale_groups.end(),
                        [](const auto& g) { return g.second == group_type::kSelect; });
  for (const auto& [id, type] : stale_groups) {
    GroupMod d = FibCompiler::delete_group(id);
    d.type = type;
    push_body(std::move(d));
    used_group_ids_.erase(id);
  }
  const std::size_t groups = stale_groups_.size();
  counters_.stale_swept_flows += flows;
  counters_.stale_swept_groups += groups;
  clear_stale();
  queued_ops_ += queue_.size() - before;
  trim_when_idle_ = trim_when_idle_ || flows >= kTrimAfterOps;
  if (!reconciling_) {
    pump();
    fire_dones();
  }
  return flows + groups;
}

void FibProgrammer::reconcile(Datapath& dp, Done done, bool hold_stale) {
  ++counters_.reconciles;
  clear_stale();
  const bool same_dp = dp_.lock().get() == &dp;
  abort("reconcile", true);
  if (done) dones_.emplace_back(kAfterReconcile, std::move(done));
  if (!same_dp) {
    bundles_ = BundleSupport::kUnknown;
    capacity_read_ = false;
  }
  dp_ = dp.weak_from_this();
  version_ = dp.version();
  reconciling_ = true;

  auto read = std::make_shared<ReconcileRead>();
  read->generation = generation_;
  read->hold_stale = hold_stale;
  auto handler = [this, alive = alive_, read](Replies* into, bool optional) {
    return [this, alive, read, into, optional](Result<Replies> r) {
      if (!*alive || read->generation != generation_) return;
      if (r) {
        if (into != nullptr) *into = std::move(*r);
      } else if (!optional && !read->error) {
        read->error = r.error();
      }
      if (--read->pending == 0) finish_reconcile(*read);
    };
  };

  Replies* features = nullptr;
  auto features_replies = std::make_shared<Replies>();
  if (version_ != kVersion10 && !options_.table_capacity && options_.read_table_features &&
      !capacity_read_) {
    capacity_read_ = true;
    features = features_replies.get();
  }
  FlowStatsRequest fr;
  fr.table_id = kTableAll;
  fr.out_port = port::kAny;
  fr.out_group = kGroupAny;
  // 1.0 has no cookie filter: finish_reconcile filters again.
  fr.cookie = pipeline::cookie::kRouting;
  fr.cookie_mask = pipeline::cookie::kClassMask;
  read->pending = 1 + (compiler_.uses_groups() ? 1 : 0) + (features != nullptr ? 1 : 0);

  if (features != nullptr) {
    const std::uint8_t fib_table = compiler_.table_id();
    dp.request(MultipartRequest{0, TableFeaturesStatsRequest{}},
               [this, alive = alive_, read, features_replies, fib_table](Result<Replies> r) {
                 if (!*alive || read->generation != generation_) return;
                 if (r) {
                   for (const Message& m : *r) {
                     const auto* mp = std::get_if<MultipartReply>(&m.body);
                     const auto* tf =
                         mp != nullptr ? std::get_if<TableFeaturesStatsReply>(&mp->body) : nullptr;
                     if (tf == nullptr) continue;
                     for (const TableFeatures& t : tf->tables) {
                       if (t.table_id == fib_table && t.max_entries != 0 &&
                           t.max_entries != 0xffffffffu) {
                         read->capacity = t.max_entries;
                       }
                     }
                   }
                 } else {
                   spdlog::info("FIB: TABLE_FEATURES failed ({}): table capacity unknown",
                                describe(r.error()));
                 }
                 if (--read->pending == 0) finish_reconcile(*read);
               });
  }
  // Streamed: each FLOW_STATS part is boiled down to HaveFlows as it arrives,
  // so reading back a million flows never holds them decoded.
  const std::uint8_t want_table = compiler_.table_id();
  dp.request_streaming(
      Message{version_, 0, MultipartRequest{0, fr}},
      [this, alive = alive_, read, want_table](const Message& m) {
        if (!*alive || read->generation != generation_) return;
        const auto* mp = std::get_if<MultipartReply>(&m.body);
        const auto* stats = mp != nullptr ? std::get_if<FlowStatsReply>(&mp->body) : nullptr;
        if (stats == nullptr) return;
        for (const FlowStats& fs : stats->flows) {
          if ((fs.cookie & pipeline::cookie::kClassMask) != pipeline::cookie::kRouting) {
            continue;  // not ours
          }
          const std::uint8_t table = version_ == kVersion10 ? 0 : fs.table_id;
          std::optional<FibFlow> key;
          if (table == want_table) key = parse_fib_flow(fs.cookie, fs.priority, fs.match);
          if (key) {
            read->flows.push_back(
                HaveFlow{*key, controller::flow_content_digest(fs.cookie, fs.instructions, version_)});
          } else {
            FlowMod d;
            d.command = flow_mod_command::kDeleteStrict;
            d.table_id = table;
            d.priority = fs.priority;
            d.match = fs.match;  // as the switch spelled it
            d.cookie = fs.cookie;
            d.cookie_mask = ~std::uint64_t{0};
            read->foreign.push_back(std::move(d));
          }
        }
      },
      handler(nullptr, false));
  if (compiler_.uses_groups()) {
    dp.request(MultipartRequest{0, GroupDescStatsRequest{}}, handler(&read->groups, false));
  }
}

void FibProgrammer::finish_reconcile(ReconcileRead& r) {
  reconciling_ = false;
  if (refit_learn_ && !r.error) {
    // After a TABLE_FULL the switch holds what fits.
    refit_learn_ = false;
    const std::size_t holds = r.flows.size();
    if (holds > 0 && (!capacity_ || holds < *capacity_)) {
      learned_capacity_ = static_cast<std::uint32_t>(holds);
      update_capacity();
      spdlog::warn("FIB: the switch refused flows with {} FIB flows in its table after making "
                   "room: its FIB table holds {} from now on",
                   holds, holds);
    }
  }
  if (r.capacity) {
    configured_capacity_ = r.capacity;
    update_capacity();
    spdlog::info("FIB: the switch's FIB table {} holds {} flows", compiler_.table_id(),
                 *capacity_);
  }
  if (r.error) {
    ++counters_.reconcile_errors;
    spdlog::warn("FIB: reconcile could not read the switch's FIB: {}", describe(*r.error));
    abort("reconcile read failed: " + describe(*r.error), false);
    return;
  }
  auto dpp = dp_.lock();
  if (!dpp || dpp->is_closed()) return abort("datapath closed during reconcile", false);

  // What the switch should hold. Flows stay compact (32 bytes each) and are
  // rendered one at a time, when compared or sent.
  std::vector<FibFlow> want = compiler_.flows();
  // Capacity: keep the highest-priority flows and the miss flow.
  withheld_ = 0;
  withheld_set_.clear();
  over_capacity_logged_ = false;
  if (capacity_ && want.size() > *capacity_) {
    std::optional<FibFlow> miss;
    if (!want.empty() && want.back().kind == FibFlowKind::kMiss) {
      miss = want.back();
      want.pop_back();
    }
    const std::size_t keep = *capacity_ > 0 ? *capacity_ - (miss ? 1 : 0) : 0;
    if (want.size() > keep) {
      withheld_ = want.size() - keep;
      const FlowMod first_out = compiler_.render(want[keep]);
      spdlog::warn(
          "FIB: the switch's FIB table holds {} flows, the FIB has {}: the {} lowest-priority "
          "flows (shortest prefixes, from priority {} {} down) are left out; their packets go to "
          "the kernel via the miss flow",
          *capacity_, want.size() + (miss ? 1 : 0), withheld_, first_out.priority,
          to_text(first_out.match));
      over_capacity_logged_ = true;
      for (std::size_t i = keep; i < want.size(); ++i) withheld_set_.insert(withheld_key(want[i]));
      want.resize(keep);
      want.shrink_to_fit();
    }
    if (miss) want.push_back(*miss);
  }

  std::map<std::uint32_t, GroupDesc> have_groups;
  for (const Message& m : r.groups) {
    const auto* mp = std::get_if<MultipartReply>(&m.body);
    const auto* gd = mp != nullptr ? std::get_if<GroupDescStatsReply>(&mp->body) : nullptr;
    if (gd == nullptr) continue;
    for (const GroupDesc& g : gd->groups) {
      if (options_.groups.contains(g.group_id)) {
        have_groups.emplace(g.group_id, g);
      }
    }
  }
  Replies().swap(r.groups);

  // Groups: the switch's are adopted by content (see the header), the
  // compiler's numbering notwithstanding. Indirect groups first: select
  // groups name them, so their content is known only once the indirect
  // groups have their switch ids.
  const auto previous = std::move(group_ids_);
  group_ids_.clear();
  used_group_ids_.clear();
  std::map<std::string, std::vector<std::uint32_t>> by_content;  // content -> switch ids
  for (const auto& [id, g] : have_groups) by_content[group_content(g.type, g.buckets)].push_back(id);
  std::set<std::uint32_t> adopted;
  auto prefer = [&](std::uint32_t id) {
    auto it = previous.find(id);
    return it == previous.end() ? id : it->second;
  };
  // Takes the switch group of that content (the preferred id if it is one
  // of them), or nothing.
  auto adopt = [&](const std::string& content,
                   std::uint32_t preferred) -> std::optional<std::uint32_t> {
    auto it = by_content.find(content);
    if (it == by_content.end() || it->second.empty()) return std::nullopt;
    auto& ids = it->second;
    auto pick = std::find(ids.begin(), ids.end(), preferred);
    if (pick == ids.end()) pick = ids.begin();
    const std::uint32_t sid = *pick;
    ids.erase(pick);
    return sid;
  };
  const std::vector<std::uint32_t> want_groups = compiler_.group_ids();
  std::vector<GroupMod> rendered;
  rendered.reserve(want_groups.size());
  for (std::uint32_t id : want_groups) rendered.push_back(compiler_.render_group(id));
  std::stable_partition(rendered.begin(), rendered.end(), [](const GroupMod& g) { return !is_select(g); });
  const auto first_select = std::find_if(rendered.begin(), rendered.end(), is_select);
  // Switch ids of the groups no switch group matches, taken after the
  // matches so that no match loses its id to a new group.
  std::vector<GroupMod> gadd;
  std::set<std::uint32_t> unmatched;  // compiler ids: new groups on the switch
  auto match_range = [&](auto begin, auto end) {
    for (auto it = begin; it != end; ++it) {
      GroupMod g = *it;
      to_switch_ids(g);  // select buckets: the members' switch ids
      if (auto sid = adopt(group_content(g.type, g.buckets), prefer(it->group_id))) {
        group_ids_[it->group_id] = *sid;
        adopted.insert(*sid);
      } else {
        unmatched.insert(it->group_id);
      }
    }
    // After the matches, so that no match loses its id to a new group.
    for (auto it = begin; it != end; ++it) {
      if (unmatched.contains(it->group_id)) group_ids_[it->group_id] = allocate_group_id(prefer(it->group_id));
    }
  };
  // Every switch group keeps its id reserved while it is there: a new group
  // must never overwrite one that flows may still use.
  for (const auto& [id, g] : have_groups) used_group_ids_.insert(id);
  match_range(rendered.begin(), first_select);
  match_range(first_select, rendered.end());
  for (GroupMod& g : rendered) {
    if (!unmatched.contains(g.group_id)) continue;
    to_switch_ids(g);
    gadd.push_back(std::move(g));
  }
  std::vector<GroupMod>().swap(rendered);
  counters_.groups_adopted += adopted.size();
  // What the switch holds and the FIB does not use: deleted, or held as stale.
  std::vector<GroupMod> gdel;
  for (auto& [id, g] : have_groups) {
    if (adopted.contains(id)) continue;
    GroupMod d = FibCompiler::delete_group(id);
    d.type = g.type;
    gdel.push_back(std::move(d));
  }
  std::stable_partition(gdel.begin(), gdel.end(), [](const GroupMod& g) { return is_select(g); });

  // Flows: a merge of two sorted lists. Same identity and digest (with the
  // switch's group ids): kept; same identity, other content: ADD (overwrites
  // in place); only wanted: ADD; only held: DELETE_STRICT, or stale.
  std::vector<HaveFlow>& have = r.flows;
  std::sort(have.begin(), have.end(),
            [](const HaveFlow& a, const HaveFlow& b) { return flow_before(a.key, b.key); });
  const std::size_t have_count = have.size() + r.foreign.size();
  std::vector<FibFlow> fadd, fdel;
  std::vector<std::uint64_t> fdel_digests;  // hold_stale: what the stale flows hold
  auto gone = [&](const HaveFlow& hf) {
    fdel.push_back(hf.key);
    if (r.hold_stale) fdel_digests.push_back(hf.content);
  };
  std::size_t h = 0;
  for (const FibFlow& wanted : want) {
    const FibFlow w = to_switch_ids(wanted);
    while (h < have.size() && flow_before(have[h].key, w)) gone(have[h++]);
    if (h < have.size() && !flow_before(w, have[h].key)) {
      const FlowMod fm = compiler_.render(w);
      const bool same =
          have[h].key.kind == w.kind &&
          have[h].content == controller::flow_content_digest(fm.cookie, fm.instructions, version_);
      ++h;
      if (same) continue;
    }
    fadd.push_back(w);
  }
  while (h < have.size()) gone(have[h++]);
  installed_flows_ = want.size();
  std::vector<HaveFlow>().swap(have);
  std::vector<FibFlow>().swap(want);

  // New flows before old ones leave (forwarding never stops), unless the
  // table is full: then make room first, and hold nothing.
  const bool room_first = capacity_ && have_count + fadd.size() > *capacity_;
  const bool hold = r.hold_stale && !room_first;
  if (r.hold_stale && room_first && (!fdel.empty() || !gdel.empty())) {
    spdlog::warn("{} FIB reconcile: no room in the switch's FIB table to hold {} stale flows: "
                 "deleting them now",
                 dpp->log_name(), fdel.size());
  }
  if (hold) {
    // fdel is in switch order already (a merge of sorted lists).
    stale_flows_ = std::move(fdel);
    fdel.clear();
    stale_digests_ = std::move(fdel_digests);
    stale_alive_.assign(stale_flows_.size(), true);
    stale_flow_count_ = stale_flows_.size();
    counters_.stale_held_flows += stale_flow_count_;
    // Their content, as the switch holds them, for diffs to take them back.
    for (const GroupMod& g : gdel) {
      const GroupDesc& have_group = have_groups.at(g.group_id);
      stale_group_ids_[group_content(have_group.type, have_group.buckets)].push_back(g.group_id);
      stale_groups_.emplace(g.group_id, g.type);
      used_group_ids_.insert(g.group_id);
    }
    gdel.clear();
  } else {
    for (const GroupMod& g : gdel) used_group_ids_.erase(g.group_id);
  }
  auto deletes = [&] {
    for (FlowMod& f : r.foreign) push_body(std::move(f));
    for (const FibFlow& f : fdel) push_flow(f, flow_mod_command::kDeleteStrict);
  };
  for (GroupMod& g : gadd) push_body(std::move(g));
  if (room_first) deletes();
  for (const FibFlow& f : fadd) push_flow(f, flow_mod_command::kAdd);
  if (!room_first) deletes();
  for (GroupMod& g : gdel) push_body(std::move(g));
  const std::size_t n_add = fadd.size(), n_del = fdel.size() + r.foreign.size();
  trim_when_idle_ = trim_when_idle_ || n_add + n_del >= kTrimAfterOps;
  std::vector<FibFlow>().swap(fadd);
  std::vector<FibFlow>().swap(fdel);
  std::vector<std::uint64_t>().swap(fdel_digests);
  std::vector<FlowMod>().swap(r.foreign);
  queued_ops_ = queue_.size();
  confirmed_ops_ = 0;
  spdlog::info(
      "{} FIB reconcile: switch had {} FIB flows and {} groups ({} groups adopted by content); "
      "sending {} group adds, {} flow adds/modifies, {} flow deletes, {} group deletes{}",
      dpp->log_name(), have_count, have_groups.size(), adopted.size(), gadd.size(), n_add, n_del,
      gdel.size(),
      hold ? fmt::format("; holding {} flows and {} groups as stale", stale_flow_count_,
                         stale_groups_.size())
           : std::string());
  for (auto& d : dones_) {
    if (d.first == kAfterReconcile) d.first = queued_ops_;
  }
  pump();
  fire_dones();
}

}  // namespace tapflow::routing
