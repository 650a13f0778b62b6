#include "tapflow/controller/connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "tapflow/openflow/errors.hpp"

namespace tapflow::controller {

using namespace tapflow::openflow;

namespace {

std::string versions_text(const std::vector<std::uint8_t>& vs) {
  std::string s;
  for (auto v : vs) {
    if (!s.empty()) s += ", ";
    s += v == kVersion10 ? "1.0" : v == kVersion13 ? "1.3" : "0x" + to_hex(&v, 1);
  }
  return s;
}

milliseconds tick_period(const ConnectionOptions& o) {
  auto p = std::min({o.echo_interval, o.request_timeout, o.handshake_timeout}) / 4;
  return std::clamp(p, milliseconds(10), milliseconds(1000));
}

bool is_switch_request(const MessageBody& b) {
  // Controller-to-switch requests a switch must not send us.
  return std::holds_alternative<FeaturesRequest>(b) || std::holds_alternative<GetConfigRequest>(b) ||
         std::holds_alternative<FlowMod>(b) || std::holds_alternative<GroupMod>(b) ||
         std::holds_alternative<PortMod>(b) || std::holds_alternative<TableMod>(b) ||
         std::holds_alternative<MeterMod>(b) || std::holds_alternative<PacketOut>(b) ||
         std::holds_alternative<MultipartRequest>(b) ||
         std::holds_alternative<BarrierRequest>(b) || std::holds_alternative<SetConfig>(b) ||
         std::holds_alternative<RoleRequest>(b) || std::holds_alternative<GetAsyncRequest>(b) ||
         std::holds_alternative<SetAsync>(b) || std::holds_alternative<QueueGetConfigRequest>(b);
}

// What a controller in the SLAVE role may not send (OpenFlow 1.3 section
// 6.3.4; OVS refuses the same with IS_SLAVE).
bool modifies_switch(const MessageBody& b) {
  return std::holds_alternative<FlowMod>(b) || std::holds_alternative<GroupMod>(b) ||
         std::holds_alternative<MeterMod>(b) || std::holds_alternative<PortMod>(b) ||
         std::holds_alternative<TableMod>(b) || std::holds_alternative<PacketOut>(b) ||
         std::holds_alternative<SetAsync>(b) || std::holds_alternative<BundleControl>(b) ||
         std::holds_alternative<BundleAddMessage>(b);
}

}  // namespace

Connection::Connection(asio::io_context& io, std::unique_ptr<Transport> transport,
                       const ConnectionOptions& options, ConnectionOwner& owner)
    : io_(io),
      transport_(std::move(transport)),
      options_(options),
      owner_(owner),
      peer_(transport_->peer()),
      timer_(io) {
  if (options_.versions.empty()) options_.versions = {kVersion10, kVersion13};
  std::sort(options_.versions.begin(), options_.versions.end());
  version_ = options_.versions.back();
  set_log_name();
}

Connection::~Connection() = default;

void Connection::set_log_name() {
  char buf[64];
  std::snprintf(buf, sizeof buf, "dpid=%016llx",
                static_cast<unsigned long long>(features_.datapath_id));
  log_name_ = std::string(buf) + " peer=" + peer_;
}

const Port* Connection::port(std::uint32_t port_no) const {
  for (const auto& p : ports_) {
    if (p.port_no == port_no) return &p;
  }
  return nullptr;
}

std::uint32_t Connection::next_xid() {
  if (++xid_ == 0) ++xid_;
  return xid_;
}

void Connection::start() {
  started_ = last_rx_ = Clock::now();
  schedule_tick();
  auto self = shared_from_this();
  transport_->async_start([self](const error_code& ec) {
    if (self->is_closed()) return;
    if (ec) {
      // A refused certificate is an operator's concern: say so at warn.
      spdlog::warn("{} TLS handshake failed: {}", self->log_name_, ec.message());
      self->close("TLS handshake failed: " + ec.message());
      return;
    }
    self->state_ = State::kHello;
    HelloElement bitmap;
    std::uint32_t bits = 0;
    for (auto v : self->options_.versions) bits |= 1u << v;
    bitmap.bitmaps = {bits};
    (void)self->send(Message{self->version_, 0, Hello{{bitmap}}});
    self->read_more();
  });
}

// ------------------------------------------------------------------ reading

void Connection::read_more() {
  auto self = shared_from_this();
  transport_->async_read_some(asio::buffer(read_buf_),
                              [self](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const error_code& ec, std::size_t n) {
  if (is_closed()) return;
  if (ec) {
    close(ec == asio::error::eof ? "switch closed the connection" : "read failed: " + ec.message());
    return;
  }
  counters_.rx_bytes += n;
  last_rx_ = Clock::now();
  framer_.push(std::span<const std::uint8_t>(read_buf_.data(), n));
  // Everything the messages of this read make us send (a learning switch's
  // FLOW_MOD and PACKET_OUT, tapd's PACKET_OUTs) leaves in one write, not one
  // write per message: a syscall saved per message when one is outstanding.
  in_read_ = true;
  while (auto frame = framer_.next()) {
    handle_frame(frame->bytes);
    if (is_closed()) return;
  }
  in_read_ = false;
  flush();
  if (framer_.failed()) {
    // The stream cannot be resynchronised: tell the switch, then hang up.
    const OfError& e = *framer_.error();
    spdlog::warn("{} framing error: {}", log_name_, describe(e));
    send_error(e, {}, 0);
    close("framing error: " + describe(e));
    return;
  }
  read_more();
}

void Connection::handle_frame(std::span<const std::uint8_t> bytes) {
  ++counters_.rx_messages;
  if (close_after_write_) return;  // hanging up: nothing more is read
  // Decoded into the reused rx_ so a stream of PACKET_INs allocates nothing
  // (tapd pumps every control-plane frame through here). handle_message may
  // move from rx_ (request replies, echo data); the next frame refills it.
  const Status decoded = decode_into(bytes, rx_);
  if (!decoded) {
    const Header h = peek_header(bytes);
    if (state_ == State::kHello && h.type == 0) {
      // A HELLO whose elements we cannot parse: negotiate on its header version.
      spdlog::debug("{} unparsable HELLO elements ({}), using header version", log_name_,
                    describe(decoded.error()));
      Message hello{h.version, h.xid, Hello{}};
      on_hello(hello);
      return;
    }
    ++counters_.decode_errors;
    spdlog::warn("{} bad message from switch (type {}, xid {}): {}", log_name_, int(h.type), h.xid,
                 describe(decoded.error()));
    send_error(decoded.error(), bytes, h.xid);
    if (state_ == State::kProbing) {
      // An answer to a probe we cannot read: that part stays unknown now
      // rather than at its timeout (the only requests pending are probes).
      if (auto it = requests_.find(h.xid); it != requests_.end()) {
        Pending p = std::move(it->second);
        requests_.erase(it);
        OfError err = decoded.error();
        err.detail = "undecodable reply: " + describe(err);
        p.handler(std::move(err));
      }
    }
    return;
  }
  handle_message(rx_, bytes);
}

void Connection::handle_message(Message& msg, std::span<const std::uint8_t> bytes) {
  if (state_ == State::kHello) {
    if (std::holds_alternative<Hello>(msg.body)) {
      on_hello(msg);
    } else if (const auto* e = std::get_if<Error>(&msg.body)) {
      close("switch sent ERROR " + error_type_name(msg.version, e->type) + "/" +
            error_code_name(msg.version, e->type, e->code) + " before HELLO");
    } else {
      close(std::string("expected HELLO, switch sent ") + type_name(msg.body));
    }
    return;
  }
  if (std::holds_alternative<Hello>(msg.body)) return;  // a repeated HELLO is harmless
  if (msg.version != version_) {
    send_error(make_error(error_type::kBadRequest, bad_request::kBadVersion,
                          "message version differs from the negotiated one"),
               bytes, msg.xid);
    return;
  }

  if (auto* echo = std::get_if<EchoRequest>(&msg.body)) {
    (void)send(Message{version_, msg.xid, EchoReply{std::move(echo->data)}});
    return;
  }
  if (std::holds_alternative<EchoReply>(msg.body)) return;
  if (complete_request(msg)) return;
  if (!stale_xids_.empty() && drop_stale_reply(msg)) return;

  if (const auto* f = std::get_if<FeaturesReply>(&msg.body)) {
    if (state_ == State::kFeatures) on_features(*f);
    return;
  }
  if (const auto* e = std::get_if<Error>(&msg.body); e != nullptr && state_ != State::kUp) {
    close("switch refused the handshake: " + error_type_name(version_, e->type) + "/" +
          error_code_name(version_, e->type, e->code));
    return;
  }
  if (auto* ps = std::get_if<PortStatus>(&msg.body)) {
    auto it = std::find_if(ports_.begin(), ports_.end(),
                           [&](const Port& p) { return p.port_no == ps->desc.port_no; });
    if (ps->reason == port_reason::kDelete) {
      if (it != ports_.end()) ports_.erase(it);
    } else if (it != ports_.end()) {
      *it = ps->desc;
    } else {
      ports_.push_back(ps->desc);
    }
  }
  if (std::holds_alternative<PacketIn>(msg.body)) ++counters_.packet_ins;

  if (is_switch_request(msg.body)) {
    send_error(make_error(error_type::kBadRequest, bad_request::kBadType,
                          std::string("a controller does not accept ") + type_name(msg.body)),
               bytes, msg.xid);
    return;
  }
  if (state_ == State::kUp) owner_.on_connection_message(*this, msg);
}

bool Connection::complete_request(Message& msg) {
  auto it = requests_.find(msg.xid);
  if (it == requests_.end()) return false;
  if (const auto* e = std::get_if<Error>(&msg.body)) {
    Pending p = std::move(it->second);
    requests_.erase(it);
    OfError err = from_wire_error(*e, version_);
    err.detail = "switch answered with ERROR " + error_type_name(version_, e->type) + "/" +
                 error_code_name(version_, e->type, e->code);
    p.handler(std::move(err));
    return true;
  }
  const auto* reply = std::get_if<MultipartReply>(&msg.body);
  const bool more = reply != nullptr && (reply->flags & multipart_flags::kMore) != 0;
  if (it->second.on_part) {
    it->second.deadline = Clock::now() + it->second.timeout;
    // Copied out first: the handler may issue requests (rehashing requests_).
    PartHandler on_part = it->second.on_part;
    on_part(msg);
    if (more) return true;
    it = requests_.find(msg.xid);
    if (it == requests_.end()) return true;  // closed from inside the handler
  } else {
    it->second.parts.push_back(std::move(msg));
    if (more) return true;
  }
  Pending p = std::move(it->second);
  requests_.erase(it);
  p.handler(std::move(p.parts));
  return true;
}

// ------------------------------------------------------------------ handshake

void Connection::on_hello(const Message& msg) {
  const auto& hello = std::get<Hello>(msg.body);
  std::optional<std::uint8_t> chosen;
  const HelloElement* bitmap = nullptr;
  for (const auto& e : hello.elements) {
    if (e.type == HelloElement::kVersionBitmap && !e.bitmaps.empty()) bitmap = &e;
  }
  if (bitmap != nullptr) {
    for (auto it = options_.versions.rbegin(); it != options_.versions.rend(); ++it) {
      const std::size_t word = *it / 32, bit = *it % 32;
      if (word < bitmap->bitmaps.size() && (bitmap->bitmaps[word] >> bit & 1u) != 0) {
        chosen = *it;
        break;
      }
    }
  } else {
    const std::uint8_t v = std::min(msg.version, options_.versions.back());
    if (std::find(options_.versions.begin(), options_.versions.end(), v) !=
        options_.versions.end()) {
      chosen = v;
    }
  }
  if (!chosen) {
    const std::string why = "no common OpenFlow version: switch offers 0x" +
                            to_hex(&msg.version, 1) + (bitmap ? " (with bitmap)" : "") +
                            ", tapflow speaks " + versions_text(options_.versions);
    spdlog::warn("{} {}", log_name_, why);
    Error err;
    err.type = error_type::kHelloFailed;
    err.code = hello_failed::kIncompatible;
    const std::string text = "tapflow speaks OpenFlow " + versions_text(options_.versions);
    err.data.assign(text.begin(), text.end());
    // The error goes in the switch's own version so it can read it; the
    // connection closes once it is written (or at the handshake timeout).
    if (encode(Message{std::min(msg.version, options_.versions.back()), msg.xid, err}, pending_)) {
      ++counters_.tx_messages;
    }
    close_after_write_ = why;
    state_ = State::kStarting;  // ignore anything else the switch sends
    flush();
    return;
  }
  version_ = *chosen;
  state_ = State::kFeatures;
  spdlog::debug("{} negotiated OpenFlow {}", log_name_, versions_text({version_}));
  (void)send(FeaturesRequest{});
}

void Connection::on_features(const FeaturesReply& f) {
  features_ = f;
  set_log_name();
  if (!owner_.admit(*this)) {
    close("datapath id not allowed by the configuration");
    return;
  }
  caps_.version = version_;
  caps_.n_tables = f.n_tables;
  if (version_ == kVersion10) {
    ports_ = f.ports;
    probe();
    return;
  }
  state_ = State::kPortDesc;
  auto self = shared_from_this();
  request(MultipartRequest{0, PortDescStatsRequest{}}, [self](Result<Replies> r) {
    if (self->is_closed()) return;
    if (!r) {
      self->close("PORT_DESC request failed: " + describe(r.error()));
      return;
    }
    self->ports_.clear();
    for (const auto& m : *r) {
      if (const auto* mp = std::get_if<MultipartReply>(&m.body)) {
        if (const auto* pd = std::get_if<PortDescStatsReply>(&mp->body)) {
          self->ports_.insert(self->ports_.end(), pd->ports.begin(), pd->ports.end());
        }
      }
    }
    self->probe();
  });
}

// ------------------------------------------------------------------ capabilities

namespace {

constexpr std::uint16_t kTfptInstructions = 0, kTfptApplyActions = 6;  // OFPTFPT_*
constexpr std::uint16_t kInstructionGotoTable = 1;                     // OFPIT_GOTO_TABLE
constexpr std::uint16_t kActionDecNwTtl = 24;                          // OFPAT_DEC_NW_TTL

bool lists(const TableFeatureProp& p, std::uint16_t id_type) {
  return std::any_of(p.ids.begin(), p.ids.end(),
                     [&](const TableFeatureId& id) { return id.type == id_type; });
}

// A DESC string fit for a one-line log: printable ASCII, trimmed.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  const auto b = out.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  return out.substr(b, out.find_last_not_of(' ') - b + 1);
}

const char* yes_no(const std::optional<bool>& b) { return !b ? "unknown" : *b ? "yes" : "no"; }

std::string capabilities_text(const pipeline::Capabilities& c) {
  std::string s;
  const std::string mfr = printable(c.manufacturer);
  s += mfr.empty() ? std::string("(no DESC)") : "\"" + mfr + "\"";
  const std::string hw = printable(c.hardware), sw = printable(c.software);
  if (!hw.empty() || !sw.empty()) {
    s += " (" + hw + (hw.empty() || sw.empty() ? "" : " ") + sw + ")";
  }
  s += " " + std::to_string(c.n_tables) + " tables";
  s += std::string(", goto-table ") + yes_no(c.goto_table);
  s += std::string(", dec_ttl ") + yes_no(c.dec_ttl);
  s += ", groups ";
  if (!c.group_indirect || !c.group_select) {
    s += "unknown";
  } else if (!*c.group_indirect && !*c.group_select) {
    s += "none";
  } else {
    s += *c.group_indirect ? (*c.group_select ? "indirect+select" : "indirect") : "select";
  }
  const auto t0 = c.max_entries.find(0);
  if (t0 == c.max_entries.end()) {
    s += ", table 0 size unknown";
  } else if (t0->second == 0 || t0->second == 0xffffffff) {
    s += ", table 0 no flow limit given";
  } else {
    s += ", table 0 max " + std::to_string(t0->second) + " flows";
  }
  return s;
}

}  // namespace

void Connection::probe() {
  if (!options_.probe_capabilities) {
    configure();
    return;
  }
  state_ = State::kProbing;
  // At most half of what is left of the handshake: a switch that ignores the
  // probes still gets configured before the handshake timeout.
  const auto left = options_.handshake_timeout -
                    std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
  const milliseconds timeout = std::max(milliseconds(1), std::min(options_.request_timeout, left / 2));

  ++probes_left_;  // held while the requests go out: none completes the stage early

  auto desc = std::make_shared<DescStats>();
  probe_one(
      "DESC", DescStatsRequest{},
      [desc](const Message& m) {
        const auto* mp = std::get_if<MultipartReply>(&m.body);
        if (const auto* d = mp ? std::get_if<DescStatsReply>(&mp->body) : nullptr) *desc = d->desc;
      },
      [this, desc] {
        caps_.manufacturer = desc->mfr_desc;
        caps_.hardware = desc->hw_desc;
        caps_.software = desc->sw_desc;
      },
      timeout);

  if (version_ == kVersion10) {
    auto sizes = std::make_shared<std::map<std::uint8_t, std::uint32_t>>();
    probe_one(
        "TABLE stats", TableStatsRequest{},
        [sizes](const Message& m) {
          const auto* mp = std::get_if<MultipartReply>(&m.body);
          if (const auto* ts = mp ? std::get_if<TableStatsReply>(&mp->body) : nullptr) {
            for (const auto& t : ts->tables) (*sizes)[t.table_id] = t.max_entries;
          }
        },
        [this, sizes] { caps_.max_entries = std::move(*sizes); }, timeout);
  } else {
    struct Tables {
      std::map<std::uint8_t, std::uint32_t> sizes;
      std::optional<bool> goto_table, dec_ttl;
    };
    auto tables = std::make_shared<Tables>();
    // Parts are read as they arrive (OVS sends 255 tables' worth) and not kept.
    probe_one(
        "TABLE_FEATURES", TableFeaturesStatsRequest{},
        [tables](const Message& m) {
          const auto* mp = std::get_if<MultipartReply>(&m.body);
          const auto* tf = mp ? std::get_if<TableFeaturesStatsReply>(&mp->body) : nullptr;
          if (tf == nullptr) return;
          for (const auto& t : tf->tables) {
            tables->sizes[t.table_id] = t.max_entries;
            if (t.table_id != 0) continue;
            for (const auto& p : t.properties) {
              if (p.type == kTfptInstructions) tables->goto_table = lists(p, kInstructionGotoTable);
              if (p.type == kTfptApplyActions) tables->dec_ttl = lists(p, kActionDecNwTtl);
            }
          }
        },
        [this, tables] {
          caps_.max_entries = std::move(tables->sizes);
          caps_.goto_table = tables->goto_table;
          caps_.dec_ttl = tables->dec_ttl;
        },
        timeout);

    // GROUP_FEATURES only where asked for (probe_group_features); unasked,
    // groups count as unknown: assumed present, errors tell.
    auto groups = std::make_shared<std::optional<GroupFeatures>>();
    if (options_.probe_group_features) probe_one(
        "GROUP_FEATURES", GroupFeaturesStatsRequest{},
        [groups](const Message& m) {
          const auto* mp = std::get_if<MultipartReply>(&m.body);
          if (const auto* g = mp ? std::get_if<GroupFeaturesStatsReply>(&mp->body) : nullptr) {
            *groups = g->features;
          }
        },
        [this, groups] {
          if (!*groups) return;
          caps_.group_indirect = ((*groups)->types >> group_type::kIndirect & 1u) != 0;
          caps_.group_select = ((*groups)->types >> group_type::kSelect & 1u) != 0;
        },
        timeout);
  }

  if (--probes_left_ == 0 && state_ == State::kProbing) probe_finished();
}

void Connection::probe_one(const char* what, MultipartRequestBody body, PartHandler on_part,
                           std::function<void()> commit, milliseconds timeout) {
  if (is_closed()) return;
  const std::uint32_t xid = next_xid();
  ++probes_left_;
  auto self = shared_from_this();
  request_streaming(
      Message{version_, xid, MultipartRequest{0, std::move(body)}}, std::move(on_part),
      [self, what, xid, commit = std::move(commit)](Result<Replies> r) {
        if (self->is_closed() || self->state_ != State::kProbing) return;
        if (r) {
          commit();
        } else {
          spdlog::debug("{} capability probe {} failed, left unknown: {}", self->log_name_, what,
                        describe(r.error()));
          // Whatever still comes for it (a late reply, more parts) is dropped.
          self->stale_xids_.push_back(xid);
        }
        if (--self->probes_left_ == 0) self->probe_finished();
      },
      timeout);
}

void Connection::probe_finished() {
  spdlog::info("{} capabilities: {}", log_name_, capabilities_text(caps_));
  configure();
}

bool Connection::drop_stale_reply(const Message& msg) {
  auto it = std::find(stale_xids_.begin(), stale_xids_.end(), msg.xid);
  if (it == stale_xids_.end()) return false;
  const auto* mp = std::get_if<MultipartReply>(&msg.body);
  const bool error = std::holds_alternative<Error>(msg.body);
  if (mp == nullptr && !error) return false;
  if (error || (mp->flags & multipart_flags::kMore) == 0) stale_xids_.erase(it);
  spdlog::debug("{} dropping a late {} for an abandoned capability probe (xid {})", log_name_,
                type_name(msg.body), msg.xid);
  return true;
}

void Connection::configure() {
  state_ = State::kConfiguring;
  // Whole frames to the controller: the router needs every byte (DESIGN.md).
  (void)send(SetConfig{0, kControllerMaxLenNoBuffer});
  if (may_modify_) install_table_miss();
  auto self = shared_from_this();
  barrier([self](Status st) {
    if (self->is_closed()) return;
    if (!st) {
      self->close("switch rejected the initial configuration: " + describe(st.error()));
      return;
    }
    self->become_up();
  });
}

void Connection::install_table_miss() {
  if (version_ != kVersion13 || !options_.install_table_miss) return;
  FlowMod miss;
  miss.table_id = 0;
  miss.priority = 0;
  miss.instructions = {
      instruction::ApplyActions{{action::Output{port::kController, kControllerMaxLenNoBuffer}}}};
  (void)send(std::move(miss));
}

void Connection::become_up() {
  state_ = State::kUp;
  reported_up_ = true;
  spdlog::info("{} up: OpenFlow {}, {} ports, {} tables, {}", log_name_,
               versions_text({version_}), ports_.size(), int(features_.n_tables),
               transport_->is_tls() ? "TLS" : "TCP");
  owner_.on_connection_up(shared_from_this());
}

// ------------------------------------------------------------------ writing

Status Connection::send(const Message& msg, SendPriority priority) {
  if (is_closed()) {
    return make_error(error_type::kBadRequest, bad_request::kEperm,
                      "connection to " + log_name_ + " is closed");
  }
  if (!may_modify_ && modifies_switch(msg.body)) {
    ++counters_.refused_not_master;
    return make_error(error_type::kBadRequest, bad_request::kIsSlave,
                      "not the master of " + log_name_ + ": another controller programs it");
  }
  if (msg.version != version_ || msg.xid == 0) {
    Message copy = msg;
    copy.version = version_;
    if (copy.xid == 0) copy.xid = next_xid();
    return send(copy, priority);
  }
  Status st = encode(msg, priority == SendPriority::kControl ? urgent_ : pending_);
  if (!st) return st;
  ++counters_.tx_messages;
  if (queued_bytes() > options_.write_limit) {
    close("write queue over " + std::to_string(options_.write_limit) +
          " bytes: the switch is not reading");
    return make_error(error_type::kBadRequest, bad_request::kEperm, "write queue overflow");
  }
  if (!in_read_) flush();  // else on_read flushes once all its messages are handled
  return ok_status();
}

std::size_t Connection::drop_queued_modifications() {
  // Wire types that change the switch, per version (bundles are ONF
  // experimenter messages in 1.3).
  auto modifies = [this](const std::uint8_t* m, std::size_t len) {
    const std::uint8_t type = m[1];
    if (version_ == kVersion10) return type == 13 || type == 14 || type == 15;
    if (type == 4 && len >= 12) {
      const std::uint32_t exp = (std::uint32_t{m[8]} << 24) | (std::uint32_t{m[9]} << 16) |
                                (std::uint32_t{m[10]} << 8) | m[11];
      return exp == 0x4F4E4600;  // ONF: bundle control and add
    }
    return (type >= 13 && type <= 17) || type == 28 || type == 29;
  };
  std::size_t dropped = 0;
  auto filter = [&](openflow::Bytes& buf, std::size_t from) {
    openflow::Bytes kept;
    std::size_t at = from;
    while (at + 8 <= buf.size()) {
      const std::size_t len = (std::size_t{buf[at + 2]} << 8) | buf[at + 3];
      if (len < 8 || at + len > buf.size()) break;  // cannot happen: we encoded it
      if (modifies(buf.data() + at, len)) {
        ++dropped;
      } else {
        kept.insert(kept.end(), buf.begin() + static_cast<std::ptrdiff_t>(at),
                    buf.begin() + static_cast<std::ptrdiff_t>(at + len));
      }
      at += len;
    }
    buf.swap(kept);
  };
  filter(pending_, pending_head_);
  pending_head_ = 0;
  filter(urgent_, 0);
  return dropped;
}

void Connection::when_writable(std::function<void()> fn) {
  if (is_closed()) return;
  if (!congested()) {
    asio::post(io_, std::move(fn));
    return;
  }
  writable_waiters_.push_back(std::move(fn));
}

void Connection::flush() {
  if (writing_ || is_closed()) return;
  if (!urgent_.empty()) {
    std::swap(inflight_, urgent_);
    urgent_.clear();
  } else if (pending_head_ < pending_.size()) {
    // Whole messages (each starts with its length at bytes 2-3, as encoded
    // here), at least one, up to kWriteSlice bytes.
    std::size_t end = pending_head_;
    while (end + 4 <= pending_.size()) {
      const std::size_t len = (std::size_t{pending_[end + 2]} << 8) | pending_[end + 3];
      if (len < 8 || end + len > pending_.size()) {  // cannot happen: we encoded it
        end = pending_.size();
        break;
      }
      if (end > pending_head_ && end + len - pending_head_ > kWriteSlice) break;
      end += len;
    }
    if (pending_head_ == 0 && end == pending_.size()) {
      std::swap(inflight_, pending_);
      pending_.clear();
    } else {
      inflight_.assign(pending_.begin() + static_cast<std::ptrdiff_t>(pending_head_),
                       pending_.begin() + static_cast<std::ptrdiff_t>(end));
      pending_head_ = end;
      if (pending_head_ == pending_.size()) {
        pending_.clear();
        pending_head_ = 0;
      } else if (pending_head_ >= 16 * kWriteSlice && 2 * pending_head_ >= pending_.size()) {
        // Written bytes make up half the buffer: drop them (amortized: each
        // byte is moved at most once per halving).
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_head_));
        pending_head_ = 0;
      }
    }
  } else {
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  transport_->async_write(asio::buffer(inflight_), [self](const error_code& ec, std::size_t n) {
    self->on_written(ec, n);
  });
}

void Connection::on_written(const error_code& ec, std::size_t n) {
  writing_ = false;
  if (is_closed()) return;
  if (ec) {
    close("write failed: " + ec.message());
    return;
  }
  counters_.tx_bytes += n;
  inflight_.clear();
  // Keep a buffer's capacity for the next burst, but not a huge one forever.
  if (inflight_.capacity() > (std::size_t{4} << 20)) inflight_.shrink_to_fit();
  flush();
  if (close_after_write_ && !writing_) {
    close(*close_after_write_);
    return;
  }
  if (!congested() && !writable_waiters_.empty()) {
    auto waiters = std::move(writable_waiters_);
    writable_waiters_.clear();
    for (auto& fn : waiters) fn();
  }
}

void Connection::send_error(const OfError& e, std::span<const std::uint8_t> offending,
                            std::uint32_t xid) {
  (void)send(Message{version_, xid, to_wire_error(e, version_, offending)});
}

// ------------------------------------------------------------------ requests

void Connection::request(Message msg, ReplyHandler handler, std::optional<milliseconds> timeout) {
  request_streaming(std::move(msg), {}, std::move(handler), timeout);
}

void Connection::request_streaming(Message msg, PartHandler on_part, ReplyHandler handler,
                                   std::optional<milliseconds> timeout) {
  if (is_closed()) {
    handler(make_error(error_type::kBadRequest, bad_request::kEperm, "connection closed"));
    return;
  }
  if (msg.xid == 0) msg.xid = next_xid();
  msg.version = version_;
  const std::uint32_t xid = msg.xid;
  Status st = send(msg);
  if (!st) {
    handler(st.error());
    return;
  }
  const milliseconds t = timeout.value_or(options_.request_timeout);
  requests_[xid] = Pending{Clock::now() + t, std::move(handler), {}, std::move(on_part), t};
}

void Connection::barrier(std::function<void(Status)> done) {
  request(BarrierRequest{}, [done = std::move(done)](Result<Replies> r) {
    if (!r) {
      done(r.error());
    } else {
      done(ok_status());
    }
  });
}

void Connection::fail_all_requests(const std::string& why) {
  auto reqs = std::move(requests_);
  requests_.clear();
  for (auto& [xid, p] : reqs) {
    p.handler(make_error(error_type::kBadRequest, bad_request::kEperm,
                         "request xid " + std::to_string(xid) + " abandoned: " + why));
  }
}

// ------------------------------------------------------------------ timers

void Connection::schedule_tick() {
  timer_.expires_after(tick_period(options_));
  auto self = shared_from_this();
  timer_.async_wait([self](const error_code& ec) {
    if (ec || self->is_closed()) return;
    self->tick();
    if (!self->is_closed()) self->schedule_tick();
  });
}

void Connection::tick() {
  const auto now = Clock::now();
  if (close_after_write_ && now - started_ > options_.handshake_timeout) {
    close(*close_after_write_);
    return;
  }
  if (state_ != State::kUp && now - started_ > options_.handshake_timeout) {
    close("handshake not finished within " + std::to_string(options_.handshake_timeout.count()) +
          " ms");
    return;
  }
  const auto idle = now - last_rx_;
  if (idle > options_.echo_interval * options_.echo_misses) {
    close("echo timeout: nothing from the switch for " +
          std::to_string(std::chrono::duration_cast<milliseconds>(idle).count()) + " ms");
    return;
  }
  if (state_ != State::kStarting && idle >= options_.echo_interval &&
      now - last_echo_sent_ >= options_.echo_interval) {
    last_echo_sent_ = now;
    (void)send(EchoRequest{});
  }
  std::vector<std::uint32_t> expired;
  for (const auto& [xid, p] : requests_) {
    if (p.deadline <= now) expired.push_back(xid);
  }
  for (auto xid : expired) {
    auto it = requests_.find(xid);
    if (it == requests_.end()) continue;
    Pending p = std::move(it->second);
    requests_.erase(it);
    p.handler(make_error(error_type::kBadRequest, bad_request::kEperm,
                         "no reply to xid " + std::to_string(xid) + " in time"));
    if (is_closed()) return;
  }
}

// ------------------------------------------------------------------ closing

void Connection::close(const std::string& reason) {
  if (is_closed()) return;
  // What was queued for the switch (an ERROR explaining the hang-up) gets its
  // write attempted now: a socket write is tried at once when it is started.
  in_read_ = false;
  flush();
  state_ = State::kClosed;
  timer_.cancel();
  transport_->close();
  writable_waiters_.clear();
  if (reported_up_) {
    spdlog::info("{} down: {}", log_name_, reason);
  } else {
    spdlog::debug("{} closed before handshake finished: {}", log_name_, reason);
  }
  fail_all_requests(reason);
  owner_.on_connection_closed(shared_from_this(), reason);
}

}  // namespace tapflow::controller
