// FIB programmer: sends a FibCompiler's diffs to one switch, ordered, batched
// (OpenFlow bundles where the switch has them, barrier-paced batches where
// not), with per-entry error accounting and a reconcile that reads the
// switch's FIB back instead of wiping it.
//
// Order: every diff is queued as groups_added (indirect before select),
// groups_changed (same), flows_added, flows_changed, flows_removed,
// groups_removed (select before indirect), so a flow never points at a
// missing group and a group is deleted only after its flows left (deleting a
// group in OpenFlow also deletes the flows that use it). Queued messages go
// out strictly in order; batches are confirmed in order.
//
// Batching:
// - 1.3 and bundles not known to be missing: up to `bundle_max` messages per
//   bundle (fewer while the switch takes longer than `bundle_target` for
//   one): BUNDLE_OPEN (request; an ERROR answer means "no bundles here":
//   remembered for this datapath, the batch goes out barrier-paced), one
//   BUNDLE_ADD per FLOW_MOD/GROUP_MOD (inner xid = add xid, as OVS checks),
//   BUNDLE_COMMIT(atomic|ordered). One bundle is in flight at a time (a
//   failed bundle is retried before anything after it, keeping the order).
//   A commit answered with ERROR rejected the whole bundle: its messages are
//   sent again one by one (barrier-paced) so the good ones go in; the errors
//   of that retry are the ones counted.
// - Otherwise: `batch_size` messages, then a BARRIER; at most
//   `max_inflight_batches` batches wait for their barrier. Sending pauses while
//   the connection is congested() and resumes on when_writable().
//
// Errors: the switch's ERRORs for our messages reach the App (they answer no
// request); the daemon forwards them to on_error(), which finds the message
// by xid (kept only while its batch is unconfirmed, so the map stays bounded
// by the batches in flight), counts it, logs it with the route or group it
// concerned (first `log_errors_per_batch` per batch; the rest are summed up
// when the batch is confirmed) and goes on: an error never stops the rest.
//
// Table capacity and TABLE_FULL: the capacity of the FIB table is
// `options.table_capacity` if set, else (1.3, `read_table_features`) the
// max_entries the switch reports for the FIB table in TABLE_FEATURES, read
// once per reconcile (0 or 0xffffffff: unlimited). Policy when the FIB needs
// more flows than that: keep the HIGHEST-priority flows (longest prefixes,
// host flows) and the miss flow, leave out the shortest prefixes. Every
// left-out flow then has a lower priority than every kept one (and flows of
// equal priority never overlap), so its packets cannot hit a wrong covering
// route: they reach the miss flow and the kernel forwards them, correctly but
// slowly. Leaving out long prefixes instead would send their packets along a
// covering shorter route: wrong forwarding. reconcile()
// applies the policy exactly. apply() keeps a count of installed flows and,
// when a diff would exceed the capacity, withholds that diff's lowest-
// priority additions (it does not evict installed shorter prefixes to make
// room; call reconcile() to restore the exact policy; withheld() tells how
// many flows are out). Logged once per over-capacity episode. A switch that
// still answers TABLE_FULL (capacity unknown or shared with other flows):
// that flow is not installed, the error is counted in `table_full` and
// logged; the rest goes on. Either way (flows withheld by apply(), or a
// TABLE_FULL) the programmer reconciles on its own once idle ("refit"): the
// exact policy again, so no long prefix stays out while a shorter one
// covering it is in (its packets would take that route: wrong forwarding);
// a refit makes room first (deletes before adds), so a TABLE_FULL during a
// refit means the switch holds all it can: the table's size becomes the FIB
// flows it holds at the next refit, if smaller than what was known (a table
// shared with other flows). When room is short, apply() too sends a diff's
// deletes before its adds (the switch counts its table message by message,
// even inside a bundle).
//
// Groups have no cookie: groups whose id is in `options.groups` (the
// pipeline's fib_groups) are this programmer's; reconcile deletes (or holds
// as stale, below) such groups the FIB no longer needs and leaves others
// alone.
//
// Group ids on the switch: the compiler numbers its groups itself, and a
// restarted compiler numbers them afresh, so its ids say nothing about what
// the switch holds. The programmer owns the switch's id space: it maps each
// compiler group to a switch group id (the same number where that is free,
// which is the whole story on a switch it programmed from empty) and renders
// every GROUP_MOD and every flow's group action with the switch's id. A
// reconcile matches the switch's groups to the compiler's by content (type
// and buckets, the next hop's port and MACs), so a group that still forwards
// correctly is adopted whatever its id, and the flows using it stay as they
// are; a group a later diff adds may likewise take back a stale group of its
// content (see "Stale hold"). A new group never takes an id the switch holds
// otherwise, so adding it can never
// change what an existing flow forwards to; with the order above (groups
// added, flows re-pointed, flows deleted, groups deleted) every prefix of the
// message sequence forwards correctly, also when a reconcile spans several
// bundles and the sender dies between two of them.
//
// Stale hold (graceful restart): reconcile(dp, done, /*hold_stale=*/true)
// does not delete what the switch holds and the compiler does not want. Such
// flows and groups are kept as stale: they go on forwarding while the
// namespace's FIB (re)fills after a restart, a reconnect or a takeover. The
// reconcile keeps what it read of them: each stale group's content (type and
// buckets, as the reconcile compares them) and each stale flow's identity and
// content digest. When the routes come back, what did not change is taken
// back without a message, so a takeover sends only the routes that changed,
// not a rewrite of the table:
// - A group a diff adds whose content equals a stale group's (select groups:
//   with their members' switch ids, so indirect groups are matched first)
//   takes that group's switch id: no GROUP_MOD, the group is stale no more
//   (counted in `stale_adopted_groups`). Several stale groups of that content:
//   the one with the compiler's id if there is one, else the lowest id.
// - A flow a diff adds (or changes) with the identity of a stale flow and
//   exactly its content (same kind, same flow_content_digest of the rendered
//   FlowMod with the switch's group ids, as the reconcile compares) is taken
//   over as it is: no FLOW_MOD, stale no more, counted as installed
//   (`stale_adopted_flows`). Other content: the ADD overwrites the stale flow
//   in the switch and it is stale no more (`stale_replaced`).
// A diff taken back entirely queues nothing: its `done` runs as soon as what
// was queued before it is confirmed (at once when nothing is). On 1.0 there
// are no groups: flows are compared with their actions inlined. sweep_stale()
// deletes what is still stale, flows first, then groups (select before
// indirect). When to sweep is the caller's decision (the Router: once the FIB
// has been quiet, bounded by a maximum hold). If the table's capacity does not
// leave room for the stale flows, the reconcile deletes them at once.
//
// Lifetime: the compiler must outlive the programmer. The programmer holds the
// datapath weakly; replies that arrive after the datapath closed, after
// stop()/reconcile() or after the programmer is destroyed are ignored. Not
// thread-safe: use it on the datapath's event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tapflow/controller/connection.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/openflow/result.hpp"
#include "tapflow/pipeline/pipeline.hpp"
#include "tapflow/routing/fib_compiler.hpp"

namespace tapflow::routing {

struct FibProgrammerOptions {
  bool use_bundles = true;                 // 1.3 only; probed per datapath
  // Messages per bundle. The switch applies a bundle's commit in one go (Open
  // vSwitch: about 10 us per flow, on its main loop, where the routing
  // protocols' PACKET_INs and PACKET_OUTs also wait): 2000 keeps a commit
  // near 20 ms, well inside BFD's 300 ms. Measured at 200k routes: resync
  // 1.81 s at 2000 and at 20000 messages per bundle, install 3.07 vs 2.85 s.
  std::size_t bundle_max = 2000;
  // The switch's time for one bundle (BUNDLE_OPEN sent to its commit's
  // reply): the routing protocols' PACKET_OUTs queued behind the bundle and
  // their PACKET_INs, which the switch's main loop handles between its
  // commits, wait up to that long. Above it the next bundles shrink (to
  // bundle_min, in proportion), below half of it they grow back (by a
  // quarter, up to bundle_max): a loaded switch gets smaller bites and
  // answers its control traffic in between. 0: bundles of bundle_max always.
  std::chrono::milliseconds bundle_target{50};
  std::size_t bundle_min = 100;
  std::size_t batch_size = 1000;           // messages per barrier-paced batch
  std::size_t max_inflight_batches = 2;    // barrier-paced batches awaiting their barrier
  std::chrono::milliseconds commit_timeout{120000};
  std::chrono::milliseconds min_refit_interval{1000};  // between two refits (full read-backs)
  std::optional<std::uint32_t> table_capacity;  // FIB flows the switch takes; unset: ask (1.3)
  bool read_table_features = true;
  // The group ids we own (the Router sets them from its pipeline).
  pipeline::IdRange groups = pipeline::Pipeline::standard().fib_groups;
  std::size_t log_errors_per_batch = 20;
  // Yielding to the routing protocols' liveness (the Router sets both from
  // bfdwatch::BfdWatch): asked before each new bundle or batch; a non-zero
  // answer holds it that long, then `hold` is asked again. `defer` runs a
  // function after a delay (the Router's timer). Unset: never held.
  std::function<std::chrono::milliseconds()> hold;
  std::function<void(std::chrono::milliseconds, std::function<void()>)> defer;
};

struct FibProgrammerCounters {
  std::uint64_t flow_mods = 0, group_mods = 0;  // sent (bundled or not, retries included)
  std::uint64_t bundles_committed = 0, bundles_failed = 0, batches = 0;
  std::uint64_t bundle_shrinks = 0;  // bundles made smaller: the switch took over bundle_target
  std::uint64_t retried = 0;      // messages resent one by one after a failed bundle
  std::uint64_t errors = 0;       // entries the switch rejected (or we could not send)
  std::uint64_t table_full = 0;   // of which TABLE_FULL
  std::uint64_t refits = 0;       // reconciles after withholding or TABLE_FULL (exact policy)
  std::uint64_t reconciles = 0;
  std::uint64_t reconcile_errors = 0;
  std::uint64_t groups_adopted = 0;        // switch groups kept by content at a reconcile
  std::uint64_t stale_held_flows = 0;      // flows a holding reconcile kept as stale
  std::uint64_t stale_replaced = 0;        // stale flows overwritten by the FIB's own (an ADD)
  std::uint64_t stale_adopted_flows = 0;   // stale flows taken back as they were (nothing sent)
  std::uint64_t stale_adopted_groups = 0;  // stale groups taken back by content (nothing sent)
  std::uint64_t stale_swept_flows = 0;     // stale flows deleted by sweep_stale()
  std::uint64_t stale_swept_groups = 0;
  std::uint64_t control_holds = 0;     // bundles/batches held for a silent BFD session (`hold`)
  std::uint64_t control_hold_us = 0;   // time held in all
};

// The FibFlow identity (kind, priority, prefix) of a switch flow with one of
// routing's cookies, if it has exactly the shape FibCompiler::render() gives:
// eth_type and, for a non-zero length, ipv4_dst / ipv6_dst with a contiguous
// mask; the miss flow matches nothing. Anything else (an older tapflow's
// flows, someone else's edits) is not a FIB flow: reconcile deletes it.
std::optional<FibFlow> parse_fib_flow(std::uint64_t cookie, std::uint16_t priority,
                                      const openflow::Match& match);

// Bundles: unknown until the first BUNDLE_OPEN of a datapath is answered.
enum class BundleSupport : std::uint8_t { kUnknown, kYes, kNo };

// Programs one datapath's FIB from a FibCompiler's diffs (see above).
class FibProgrammer {
 public:
  // Called with ok once every message queued before the call is confirmed
  // (bundle commit or barrier answered; entry errors are counted, not
  // failures), or with an error if the datapath went away / stop() /
  // the reconcile read failed first.
  using Done = std::function<void(openflow::Status)>;
  // Messages confirmed and queued in total since the last reconcile.
  using Progress = std::function<void(std::uint64_t confirmed, std::uint64_t queued)>;

  FibProgrammer(const FibCompiler& compiler, FibProgrammerOptions options = {});
  ~FibProgrammer();
  FibProgrammer(const FibProgrammer&) = delete;
  FibProgrammer& operator=(const FibProgrammer&) = delete;

  // The datapath is (re)connected: read its FIB flows (cookie class 0x726f)
  // and groups, and send only what differs from compiler.snapshot(). Drops
  // whatever was queued for a previous connection (its `done`s now wait for
  // this reconcile). Diffs applied while the read is in flight are folded in
  // (the snapshot is taken when the replies are there).
  // hold_stale: keep what the switch holds and the FIB does not as stale
  // (see above) instead of deleting it.
  void reconcile(controller::Datapath& dp, Done done = {}, bool hold_stale = false);
  // Deletes every flow and group still held as stale; returns how many
  // (flows + groups) it queued.
  std::size_t sweep_stale();
  // Queues one diff of the compiler (rendered now, as the compiler's state is
  // now) and sends it. Before any reconcile, or while the datapath is gone,
  // the diff is dropped (the next reconcile covers it) and `done` gets an
  // error. If nothing is pending `done` runs at once.
  void apply(const FibDiff& diff, Done done = {});
  // The datapath went down: drop everything; pending `done`s get an error.
  void stop();
  // Forward App::on_error here. True if `xid` was one of ours.
  bool on_error(const openflow::OfError& error, std::uint32_t xid);

  void set_progress(Progress p) { progress_ = std::move(p); }

  bool idle() const { return queue_.empty() && inflight_.empty() && !reconciling_; }
  // A refit is due (flows withheld, or a TABLE_FULL): it runs once the
  // programmer is idle, at most once a second (min_refit_interval); this
  // returns how long until it may, if it is due and could not run now.
  std::optional<std::chrono::milliseconds> maybe_refit();
  bool reconciling() const { return reconciling_; }
  BundleSupport bundle_support() const { return bundles_; }
  // The FIB table's capacity in flows, if known (configured or read).
  std::optional<std::uint32_t> table_capacity() const { return capacity_; }
  // A new size for the FIB table (the Router's: the profile's, or table 0
  // less tapd's flows in the one-table layout); a refit follows if the FIB
  // no longer fits as installed.
  void set_table_capacity(std::optional<std::uint32_t> capacity);
  std::uint64_t withheld() const { return withheld_; }
  // Whether this flow of the compiler is one of those left out for lack of room.
  bool is_withheld(const FibFlow& f) const { return withheld_set_.contains(withheld_key(f)); }
  // Messages the switch confirmed, and queued in total, since the last
  // reconcile finished reading (what set_progress reports); both 0 while
  // a reconcile reads the switch's FIB back.
  std::uint64_t confirmed_messages() const { return confirmed_ops_; }
  std::uint64_t queued_messages() const { return queued_ops_; }
  std::uint64_t installed_flows() const { return installed_flows_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t stale_flows() const { return stale_flow_count_; }
  std::size_t stale_groups() const { return stale_groups_.size(); }
  // The switch's id of a compiler group (the same number unless a reconcile
  // adopted another group of that content, or the number was taken).
  std::uint32_t switch_group_id(std::uint32_t compiler_id) const;
  std::size_t unconfirmed_xids() const { return xids_.size(); }
  const FibProgrammerCounters& counters() const { return counters_; }

 private:
  // One message to send: a 1.3 flow stays compact and is rendered when sent
  // (render() needs no compiler state on 1.3); groups and 1.0 flows (whose
  // actions come from the compiler's current groups) are rendered at once.
  struct Op {
    FibFlow flow;
    std::uint8_t command = 0;
    std::unique_ptr<openflow::MessageBody> body;  // set: send this
  };
  enum class Stage : std::uint8_t { kOpening, kSending, kConfirming };
  struct Batch {
    std::uint64_t seq = 0;
    bool bundle = false;
    bool retry = false;
    std::uint32_t bundle_id = 0;
    Stage stage = Stage::kSending;
    std::vector<Op> ops;
    std::vector<std::uint32_t> xids;  // per op sent
    std::size_t sent = 0;
    std::size_t errors = 0;
    controller::Clock::time_point opened{};  // BUNDLE_OPEN sent
  };
  struct XidRef {
    std::uint64_t batch = 0;
    std::size_t index = 0;
  };
  struct ReconcileRead;

  void queue_diff(const FibDiff& diff);
  // Switch ids: a free one for a new compiler group (`prefer` if free).
  std::uint32_t allocate_group_id(std::uint32_t prefer);
  void to_switch_ids(openflow::GroupMod& g) const;
  FibFlow to_switch_ids(FibFlow f) const;
  // The live stale flow of f's identity (its index), if any.
  std::optional<std::size_t> find_stale(const FibFlow& f) const;
  // f (switch ids) is about to be sent: true if the stale flow of its
  // identity holds exactly that already (taken back, nothing to send);
  // otherwise that stale flow, if any, is replaced by the ADD.
  bool adopt_or_unstale(const FibFlow& f);
  // The switch id of a stale group of this content (taken out of the stale
  // set), preferring `prefer`; nothing if none.
  std::optional<std::uint32_t> adopt_stale_group(const std::string& content, std::uint32_t prefer);
  // Type and buckets (members as switch ids) of a rendered compiler group.
  std::string switch_content(const openflow::GroupMod& g) const;
  void clear_stale();
  void push_flow(const FibFlow& f, std::uint8_t command);
  void push_body(openflow::MessageBody body);
  void pump();
  bool send_ops(controller::Datapath& dp, Batch& b);
  void finish_batch(controller::Datapath& dp, Batch& b);
  void on_open(std::uint64_t seq, openflow::Status st);
  void on_commit(std::uint64_t seq, openflow::Status st);
  void on_barrier(std::uint64_t seq, openflow::Status st);
  void confirm(std::uint64_t seq);
  Batch* find_batch(std::uint64_t seq);
  void fire_dones();
  void abort(const std::string& why, bool keep_dones);
  bool dp_gone() const;
  void finish_reconcile(ReconcileRead& r);
  std::string describe_op(const Op& op) const;
  openflow::MessageBody body_of(const Op& op) const;

  const FibCompiler& compiler_;
  FibProgrammerOptions options_;
  std::weak_ptr<controller::Datapath> dp_;
  std::uint8_t version_ = openflow::kVersion13;
  BundleSupport bundles_ = BundleSupport::kUnknown;
  // The FIB table's size: the smaller of what it was told (options,
  // set_table_capacity, TABLE_FEATURES) and what a refit learnt.
  std::optional<std::uint32_t> capacity_;
  std::optional<std::uint32_t> configured_capacity_, learned_capacity_;
  bool in_refit_ = false;  // the batches in flight come from a refit
  void update_capacity();
  bool capacity_read_ = false;  // TABLE_FEATURES asked on this datapath
  bool over_capacity_logged_ = false;
  // Withheld or refused flows: once idle, a reconcile applies the exact
  // policy (refit_); after a TABLE_FULL it also learns the table's real size
  // from the flows the switch holds (refit_learn_).
  bool refit_ = false, refit_learn_ = false;
  controller::Clock::time_point last_refit_{};
  std::uint64_t withheld_ = 0;  // withheld_set_.size()
  // The flows left out for lack of room, by (priority, prefix): never on the switch.
  using WithheldKey = std::pair<std::uint16_t, netns::IpPrefix>;
  static WithheldKey withheld_key(const FibFlow& f) { return {f.priority, f.prefix}; }
  std::set<WithheldKey> withheld_set_;
  std::uint64_t installed_flows_ = 0;

  // Compiler group id -> switch group id, where they differ or were
  // assigned; switch ids in use (mapped, or held as stale).
  std::unordered_map<std::uint32_t, std::uint32_t> group_ids_;
  std::set<std::uint32_t> used_group_ids_;
  // Stale hold: flows by identity, sorted as the switch orders them, with
  // their content digests and a flag for those not yet replaced or taken
  // back; groups by switch id with their type, and their ids by content.
  std::vector<FibFlow> stale_flows_;
  std::vector<std::uint64_t> stale_digests_;
  std::vector<bool> stale_alive_;
  std::size_t stale_flow_count_ = 0;
  std::map<std::uint32_t, std::uint8_t> stale_groups_;  // switch id -> type
  std::unordered_map<std::string, std::vector<std::uint32_t>> stale_group_ids_;  // content -> ids, ascending

  std::deque<Op> queue_;
  std::deque<Batch> inflight_;
  std::unordered_map<std::uint32_t, XidRef> xids_;
  std::uint64_t next_batch_ = 1;
  std::uint32_t next_bundle_ = 1;
  // Messages of the next bundle (bundle_target adapts it); a bundle's time
  // at the switch adjusts it on its commit.
  std::size_t bundle_size_ = 0;
  void adapt_bundle_size(const Batch& b);
  bool waiting_writable_ = false;
  bool held_ = false;  // `hold` said wait: `defer` resumes
  bool reconciling_ = false;
  std::uint64_t generation_ = 0;  // bumped by reconcile/stop: older replies are ignored

  std::uint64_t queued_ops_ = 0, confirmed_ops_ = 0;
  // Return freed memory to the system once a large batch of work is done.
  static constexpr std::size_t kTrimAfterOps = 50000;
  bool trim_when_idle_ = false;
  std::uint64_t ops_since_trim_ = 0;
  static constexpr std::uint64_t kAfterReconcile = ~std::uint64_t{0};
  std::deque<std::pair<std::uint64_t, Done>> dones_;  // (target confirmed count, callback)
  Progress progress_;
  FibProgrammerCounters counters_;
  std::shared_ptr<bool> alive_;
};

}  // namespace tapflow::routing
