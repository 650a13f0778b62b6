// FlowSync: diff a desired flow set against what is installed and send only
// the difference. See flow_sync.hpp for the semantics.
#include "tapflow/controller/flow_sync.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::controller {
namespace {

using namespace openflow;

void put_u8(std::string& s, std::uint8_t v) { s.push_back(static_cast<char>(v)); }
void put_u16(std::string& s, std::uint16_t v) {
  put_u8(s, static_cast<std::uint8_t>(v >> 8));
  put_u8(s, static_cast<std::uint8_t>(v));
}
void put_u32(std::string& s, std::uint32_t v) {
  put_u16(s, static_cast<std::uint16_t>(v >> 16));
  put_u16(s, static_cast<std::uint16_t>(v));
}
void put_bytes(std::string& s, const ValueBytes& b) {
  put_u8(s, static_cast<std::uint8_t>(b.size()));
  for (std::uint8_t x : b) put_u8(s, x);
}

// A field in the form two spellings of the same match agree on.
struct CanonicalField {
  std::uint16_t oxm_class;
  std::uint32_t experimenter;
  std::uint8_t field;
  ValueBytes value;
  ValueBytes mask;  // empty: exact

  auto tie() const { return std::tie(oxm_class, experimenter, field, value, mask); }
};

std::optional<CanonicalField> canonical(const OxmField& f) {
  CanonicalField c{f.oxm_class, f.experimenter, f.field, f.value, {}};
  if (!f.has_mask) return c;
  if (f.mask.size() != f.value.size()) {
    c.mask = f.mask;  // malformed: keep it as it is, it cannot equal a valid field
    return c;
  }
  bool all_ones = true, all_zero = true;
  for (std::size_t i = 0; i < f.mask.size(); ++i) {
    c.value[i] &= f.mask[i];  // bits outside the mask do not take part in the match
    all_ones = all_ones && f.mask[i] == 0xff;
    all_zero = all_zero && f.mask[i] == 0x00;
  }
  if (all_zero) return std::nullopt;  // matches anything: the same as no field
  if (!all_ones) c.mask = f.mask;
  return c;
}

// 1.0 has no table numbers in FLOW_MOD: everything lands in table 0.
std::uint8_t effective_table(const Datapath& dp, std::uint8_t table) {
  return dp.version() == kVersion10 ? 0 : table;
}

// An empty ApplyActions does nothing; 1.0 cannot even spell it (its decoder
// reads an empty action list as no instruction), so it is left out.
InstructionList normalized(const InstructionList& in) {
  InstructionList out;
  for (const Instruction& i : in) {
    if (const auto* a = std::get_if<instruction::ApplyActions>(&i); a != nullptr && a->actions.empty()) {
      continue;
    }
    out.push_back(i);
  }
  return out;
}

}  // namespace

std::string canonical_match(const Match& m) {
  std::vector<CanonicalField> fields;
  fields.reserve(m.fields.size());
  for (const OxmField& f : m.fields) {
    if (auto c = canonical(f)) fields.push_back(std::move(*c));
  }
  std::sort(fields.begin(), fields.end(),
            [](const CanonicalField& a, const CanonicalField& b) { return a.tie() < b.tie(); });
  std::string out;
  for (const CanonicalField& c : fields) {
    put_u16(out, c.oxm_class);
    put_u32(out, c.experimenter);
    put_u8(out, c.field);
    put_bytes(out, c.value);
    put_bytes(out, c.mask);
  }
  return out;
}

std::string flow_identity(std::uint8_t table, std::uint16_t priority, const Match& m) {
  std::string k;
  put_u8(k, table);
  put_u16(k, priority);
  k += canonical_match(m);
  return k;
}

bool same_flow_content(const FlowMod& a, const FlowMod& b) {
  return a.cookie == b.cookie && normalized(a.instructions) == normalized(b.instructions);
}

std::uint64_t flow_content_digest(std::uint64_t cookie, const InstructionList& instructions,
                                  std::uint8_t version) {
  FlowMod f;
  f.cookie = cookie;
  f.instructions = normalized(instructions);
  Bytes wire;
  // Only instructions the codec cannot encode fail here; they never equal
  // anything a switch reports, so a digest of their absence is still unequal.
  if (!encode(Message{version, 1, std::move(f)}, wire).ok()) return 0;
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a
  for (std::uint8_t b : wire) {
    h ^= b;
    h *= 1099511628211ULL;
  }
  return h;
}

void FlowSync::reconcile(Datapath& dp, std::vector<FlowMod> desired, Done done) {
  ++counters_.reconciles;
  reconciling_ = true;
  const std::uint64_t generation = ++generation_;
  // An apply() arriving while the flows are read replaces `desired` here.
  queued_desired_ = std::move(desired);
  if (done) queued_done_.push_back(std::move(done));

  FlowStatsRequest req;
  req.table_id = kTableAll;
  req.out_port = port::kAny;  // 1.0: OFPP_NONE
  req.out_group = kGroupAny;
  // 1.0 has no cookie filter: on_flow_stats filters again.
  req.cookie = cookie_ & mask_;
  req.cookie_mask = mask_;
  // The Connection itself calls the handler (reply, timeout or close), so
  // `dp` is alive whenever it runs; `this` may not be, hence the token.
  dp.request(MultipartRequest{0, req},
             [this, alive = alive_, generation, dpp = &dp](Result<Replies> r) {
               if (!*alive || generation != generation_) return;
               on_flow_stats(*dpp, std::move(r));
             });
}

void FlowSync::on_flow_stats(Datapath& dp, Result<Replies> replies) {
  reconciling_ = false;
  std::vector<FlowMod> desired = std::move(queued_desired_);
  std::vector<Done> done = std::move(queued_done_);
  queued_desired_.clear();
  queued_done_.clear();
  installed_.clear();

  if (!replies) {
    ++counters_.errors;
    const auto alive = alive_;
    for (Done& d : done) {
      if (!*alive) return;  // a callback destroyed us
      if (d) d(replies.error());
    }
    return;
  }
  for (const Message& m : *replies) {
    const auto* mp = std::get_if<MultipartReply>(&m.body);
    const auto* stats = mp != nullptr ? std::get_if<FlowStatsReply>(&mp->body) : nullptr;
    if (stats == nullptr) continue;
    for (const FlowStats& fs : stats->flows) {
      if (!ours(fs.cookie)) continue;  // someone else's flow: not ours to judge
      FlowMod f;
      f.cookie = fs.cookie;
      f.table_id = effective_table(dp, fs.table_id);
      f.priority = fs.priority;
      f.idle_timeout = fs.idle_timeout;
      f.hard_timeout = fs.hard_timeout;
      f.flags = fs.flags;
      f.match = fs.match;  // keeps the 1.0 wire bytes: a DELETE_STRICT repeats them exactly
      f.instructions = fs.instructions;
      installed_.insert_or_assign(flow_identity(f.table_id, f.priority, f.match), std::move(f));
    }
  }
  apply_now(dp, std::move(desired), std::move(done));
}

void FlowSync::apply(Datapath& dp, std::vector<FlowMod> desired, Done done) {
  if (reconciling_) {
    queued_desired_ = std::move(desired);
    if (done) queued_done_.push_back(std::move(done));
    return;
  }
  std::vector<Done> dones;
  if (done) dones.push_back(std::move(done));
  apply_now(dp, std::move(desired), std::move(dones));
}

void FlowSync::apply_now(Datapath& dp, std::vector<FlowMod> desired, std::vector<Done> done) {
  std::map<std::string, FlowMod> want;
  for (FlowMod& f : desired) {
    f.table_id = effective_table(dp, f.table_id);
    std::string k = flow_identity(f.table_id, f.priority, f.match);
    want.insert_or_assign(std::move(k), std::move(f));
  }

  std::optional<OfError> first_error;
  auto send = [&](FlowMod fm) {
    Status st = dp.send(MessageBody{std::move(fm)});
    if (!st) {
      ++counters_.errors;
      if (!first_error) first_error = st.error();
    }
    return st.ok();
  };

  std::map<std::string, FlowMod> now;
  for (auto& [key, f] : want) {
    auto it = installed_.find(key);
    const bool present = it != installed_.end();
    if (present && same_flow_content(it->second, f)) {
      now.insert_or_assign(key, std::move(it->second));
      continue;
    }
    FlowMod add = f;
    add.command = flow_mod_command::kAdd;
    add.cookie_mask = 0;
    add.buffer_id = kNoBuffer;
    add.out_port = port::kAny;
    add.out_group = kGroupAny;
    if (send(std::move(add))) {
      ++(present ? counters_.modifies : counters_.adds);
      now.insert_or_assign(key, std::move(f));
    } else if (present) {
      now.insert_or_assign(key, std::move(it->second));  // the old one is still there
    }
  }
  // Deletes after adds: a flow replaced by one of another identity keeps
  // forwarding until its successor is in.
  for (auto& [key, f] : installed_) {
    if (want.contains(key)) continue;
    FlowMod del;
    del.command = flow_mod_command::kDeleteStrict;
    del.table_id = f.table_id;
    del.priority = f.priority;
    del.match = f.match;
    del.out_port = port::kAny;
    del.out_group = kGroupAny;
    del.cookie = cookie_;
    del.cookie_mask = mask_;
    del.buffer_id = kNoBuffer;
    if (send(std::move(del))) {
      ++counters_.deletes;
    } else {
      now.insert_or_assign(key, std::move(f));
    }
  }
  installed_ = std::move(now);

  dp.barrier([this, alive = alive_, first_error, dones = std::move(done)](Status st) {
    if (!*alive) return;
    if (!st) ++counters_.errors;
    const Status result = first_error ? Status(*first_error) : st;
    for (const Done& d : dones) {
      if (!*alive) return;  // a callback destroyed us
      if (d) d(result);
    }
  });
}

void FlowSync::forget() {
  installed_.clear();
  ++generation_;  // a FLOW_STATS reply still on its way no longer counts
  if (!reconciling_) return;
  reconciling_ = false;
  queued_desired_.clear();
  std::vector<Done> done = std::move(queued_done_);
  queued_done_.clear();
  const auto alive = alive_;
  for (Done& d : done) {
    if (!*alive) return;
    if (d) {
      d(make_error(error_type::kBadRequest, bad_request::kEperm,
                   "flow sync forgotten (datapath down) before its reconcile finished"));
    }
  }
}

}  // namespace tapflow::controller
