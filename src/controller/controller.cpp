#include "tapflow/controller/controller.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/nicira.hpp"

namespace tapflow::controller {

using namespace tapflow::openflow;

struct Controller::Listener {
  Listener(asio::io_context& io, ListenerConfig c) : config(std::move(c)), acceptor(io) {}
  ListenerConfig config;
  tcp::acceptor acceptor;
};

Controller::Controller(asio::io_context& io, ControllerConfig config, App& app)
    : io_(io), config_(std::move(config)), app_(app) {}

Controller::~Controller() { stop(); }

void Controller::start() {
  for (const auto& lc : config_.listeners) {
    if (lc.tls && !tls_) {
      if (!config_.tls) {
        throw std::runtime_error("listener tls:" + lc.address + ":" + std::to_string(lc.port) +
                                 " needs TLS certificate files");
      }
      tls_ = make_server_tls_context(*config_.tls);
    }
    auto l = std::make_unique<Listener>(io_, lc);
    error_code ec;
    auto addr = asio::ip::make_address(lc.address, ec);
    if (ec) throw std::runtime_error("listener address '" + lc.address + "': " + ec.message());
    tcp::endpoint ep(addr, lc.port);
    l->acceptor.open(ep.protocol(), ec);
    if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) l->acceptor.bind(ep, ec);
    if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(std::string("cannot listen on ") + (lc.tls ? "tls:" : "tcp:") +
                               lc.address + ":" + std::to_string(lc.port) + ": " + ec.message());
    }
    spdlog::info("listening on {}:[{}]:{}", lc.tls ? "tls" : "tcp", lc.address,
                 l->acceptor.local_endpoint().port());
    accept(*l);
    listeners_.push_back(std::move(l));
  }
}

void Controller::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& l : listeners_) {
    error_code ec;
    l->acceptor.close(ec);
  }
  auto conns = connections_;
  for (const auto& c : conns) c->close("controller shutting down");
  connections_.clear();
  by_dpid_.clear();
}

std::vector<tcp::endpoint> Controller::local_endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& l : listeners_) {
    error_code ec;
    auto ep = l->acceptor.local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

Datapath* Controller::find(std::uint64_t dpid) const {
  auto it = by_dpid_.find(dpid);
  return it == by_dpid_.end() ? nullptr : it->second.get();
}

std::vector<Datapath*> Controller::datapaths() const {
  std::vector<Datapath*> out;
  for (const auto& [id, c] : by_dpid_) out.push_back(c.get());
  return out;
}

void Controller::accept(Listener& l) {
  l.acceptor.async_accept([this, &l](const error_code& ec, tcp::socket socket) {
    if (stopping_ || !l.acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: log, and keep accepting after a pause
      // instead of spinning.
      spdlog::warn("accept on port {} failed: {}", l.config.port, ec.message());
      auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      t->async_wait([this, &l, t](const error_code&) {
        if (!stopping_) accept(l);
      });
      return;
    }
    if (connections_.size() >= config_.max_connections) {
      ++counters_.refused;
      error_code ignored;
      spdlog::warn("refusing connection from {}: {} connections already",
                   socket.remote_endpoint(ignored).address().to_string(), connections_.size());
      socket.close(ignored);
    } else {
      ++counters_.accepted;
      auto transport = l.config.tls ? make_tls_transport(std::move(socket), tls_)
                                    : make_tcp_transport(std::move(socket));
      ConnectionOwner& owner = *this;
      auto conn = std::make_shared<Connection>(io_, std::move(transport), config_.connection, owner);
      connections_.insert(conn);
      conn->start();
    }
    accept(l);
  });
}

bool Controller::admit(Connection& c) {
  if (config_.allowed_datapaths.empty()) return true;
  if (config_.allowed_datapaths.count(c.datapath_id()) != 0) return true;
  spdlog::warn("{} refused: datapath id not in the allow-list", c.log_name());
  return false;
}

void Controller::on_connection_up(const std::shared_ptr<Connection>& c) {
  auto it = by_dpid_.find(c->datapath_id());
  if (it != by_dpid_.end() && it->second != c) {
    // The same switch reconnected: the new connection wins.
    ++counters_.replaced;
    auto old = it->second;
    by_dpid_.erase(it);
    old->close("replaced by a new connection from " + c->peer());
  }
  by_dpid_[c->datapath_id()] = c;
  if (!config_.roles) {
    app_.on_datapath_up(*c);
    return;
  }
  // Standby until the elections say otherwise: nothing that changes the
  // switch leaves this connection before the switch confirms us as master.
  c->set_may_modify(false);
  RoleState& rs = roles_[c->datapath_id()];
  rs.seen = RoleState::Seen::kNothing;
  rs.role = SwitchRole::kStandby;
  apply_role(*c);
  if (role_listener_) role_listener_->on_switch_connected(c->datapath_id());
}

// ------------------------------------------------------------------ roles

SwitchRole Controller::role(std::uint64_t dpid) const {
  if (!config_.roles) return find(dpid) != nullptr ? SwitchRole::kMaster : SwitchRole::kStandby;
  auto it = roles_.find(dpid);
  return it == roles_.end() ? SwitchRole::kStandby : it->second.role;
}

void Controller::become_master(std::uint64_t dpid, std::uint64_t generation) {
  RoleState& rs = roles_[dpid];
  if (rs.want_master && rs.generation == generation && rs.role != SwitchRole::kStandby) return;
  rs.want_master = true;
  rs.generation = generation;
  rs.wanted = Clock::now();
  if (Datapath* c = find(dpid)) apply_role(*c);
}

void Controller::become_standby(std::uint64_t dpid, std::uint64_t leader_generation) {
  RoleState& rs = roles_[dpid];
  const bool changed = rs.want_master || rs.leader_generation != leader_generation;
  rs.want_master = false;
  rs.leader_generation = leader_generation;
  if (!changed && rs.role == SwitchRole::kStandby) return;
  if (Datapath* c = find(dpid)) apply_role(*c);
}

void Controller::apply_role(Connection& c) {
  RoleState& rs = roles_[c.datapath_id()];
  ++rs.epoch;
  if (rs.want_master) {
    request_master(c, rs);
    return;
  }
  const bool was_master = rs.role != SwitchRole::kStandby;
  rs.role = SwitchRole::kStandby;
  c.set_may_modify(false);
  if (was_master) {
    // What was queued as master stays here: the next master programs the
    // switch from what it finds there.
    const std::size_t dropped = c.drop_queued_modifications();
    spdlog::info("{} standing down: another controller is to be master ({} queued modifications "
                 "dropped)",
                 c.log_name(), dropped);
  }
  if (rs.seen != RoleState::Seen::kStandby) {
    rs.seen = RoleState::Seen::kStandby;
    app_.on_datapath_standby(c);
  }
  request_slave(c, rs);
}

void Controller::request_master(Connection& c, RoleState& rs) {
  rs.role = SwitchRole::kBecomingMaster;
  rs.asked = Clock::now();
  ++counters_.role_requests;
  const std::uint64_t dpid = c.datapath_id(), epoch = rs.epoch, generation = rs.generation;
  const bool v10 = c.version() == kVersion10;
  MessageBody body;
  if (v10) {
    body = nicira::role_request(nicira::kRoleMaster);
  } else {
    body = RoleRequest{controller_role::kMaster, generation};
  }
  std::weak_ptr<Connection> weak = c.shared_from_this();
  c.request(std::move(body), [this, weak, dpid, epoch, generation, v10](Result<Connection::Replies> r) {
    auto conn = weak.lock();
    auto it = roles_.find(dpid);
    if (!conn || conn->is_closed() || find(dpid) != conn.get() || it == roles_.end() ||
        it->second.epoch != epoch) {
      return;  // superseded
    }
    RoleState& st = it->second;
    if (!r) {
      const OfError& e = r.error();
      const bool unsupported = v10 && e.type == error_type::kBadRequest &&
                               (e.code == bad_request::kBadExperimenter ||
                                e.code == bad_request::kBadExpType ||
                                e.code == bad_request::kBadType);
      if (!unsupported) {
        ++counters_.role_errors;
        master_refused(*conn, "role request MASTER refused: " + describe(e));
        return;
      }
      if (!st.warned_no_roles) {
        st.warned_no_roles = true;
        spdlog::warn("{} the switch has no controller roles (OpenFlow 1.0 without the Nicira role "
                     "request): master without telling it; standbys stay connected and silent, "
                     "and nothing but the elections keeps two masters apart",
                     conn->log_name());
      }
    } else {
      std::optional<std::uint32_t> role;
      for (const Message& m : r.value()) {
        if (const auto* rr = std::get_if<RoleReply>(&m.body)) role = rr->role;
        if (const auto* e = std::get_if<Experimenter>(&m.body)) {
          if (auto nx = nicira::role_reply(*e)) {
            role = *nx == nicira::kRoleMaster ? controller_role::kMaster : controller_role::kSlave;
          }
        }
      }
      if (role != controller_role::kMaster) {
        ++counters_.role_errors;
        master_refused(*conn, "the switch did not confirm the role MASTER");
        return;
      }
    }
    st.role = SwitchRole::kMaster;
    ++counters_.masters_confirmed;
    counters_.last_master_confirm_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - st.wanted).count());
    conn->set_may_modify(true);
    conn->install_table_miss();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - st.asked).count();
    spdlog::info("{} master of the switch, generation {} (confirmed in {} ms)", conn->log_name(),
                 generation, ms);
    st.seen = RoleState::Seen::kUp;
    app_.on_datapath_up(*conn);
  });
}

void Controller::request_slave(Connection& c, RoleState& rs) {
  ++counters_.role_requests;
  const std::uint64_t dpid = c.datapath_id(), epoch = rs.epoch;
  std::weak_ptr<Connection> weak = c.shared_from_this();
  auto done = [this, dpid](const std::string& log, const Result<Connection::Replies>& r) {
    if (r) return;
    ++counters_.role_errors;
    // Left EQUAL: the switch still sends us PACKET_INs (dropped) and would
    // take our modifications, which the connection refuses.
    spdlog::warn("{} role request SLAVE: {} (dpid {:016x})", log, describe(r.error()), dpid);
  };
  if (c.version() == kVersion10) {
    c.request(nicira::role_request(nicira::kRoleSlave),
              [weak, done](Result<Connection::Replies> r) {
                if (auto conn = weak.lock()) done(conn->log_name(), r);
              });
    return;
  }
  // The generation id of a SLAVE request must not be older than the
  // switch's: ask the switch for its own first (role NOCHANGE).
  c.request(RoleRequest{controller_role::kNoChange, 0}, [this, weak, dpid, epoch,
                                                         done](Result<Connection::Replies> r) {
    auto conn = weak.lock();
    auto it = roles_.find(dpid);
    if (!conn || conn->is_closed() || it == roles_.end() || it->second.epoch != epoch) return;
    std::uint64_t generation = it->second.leader_generation;
    if (r) {
      for (const Message& m : r.value()) {
        if (const auto* rr = std::get_if<RoleReply>(&m.body)) {
          const bool defined = rr->generation_id != 0 && rr->generation_id != ~std::uint64_t{0};
          if (defined && static_cast<std::int64_t>(rr->generation_id - generation) > 0) {
            generation = rr->generation_id;
          }
        }
      }
    }
    conn->request(Message{conn->version(), 0, RoleRequest{controller_role::kSlave, generation}},
                  [weak, done](Result<Connection::Replies> rr) {
                    if (auto c2 = weak.lock()) done(c2->log_name(), rr);
                  });
  });
}

void Controller::master_refused(Connection& c, const std::string& why) {
  const std::uint64_t dpid = c.datapath_id();
  spdlog::warn("{} {}: standing down", c.log_name(), why);
  RoleState& rs = roles_[dpid];
  rs.want_master = false;
  apply_role(c);
  if (role_listener_) role_listener_->on_master_refused(dpid, why);
}

void Controller::on_connection_message(Connection& c, const Message& m) {
  if (config_.roles) {
    RoleState& rs = roles_[c.datapath_id()];
    if (const auto* e = std::get_if<Error>(&m.body)) {
      const OfError oe = from_wire_error(*e, c.version());
      if (rs.role == SwitchRole::kMaster && oe.type == error_type::kBadRequest &&
          oe.code == bad_request::kIsSlave) {
        ++counters_.role_errors;
        master_refused(c, "the switch answers IS_SLAVE: another controller has become its master");
        return;
      }
    }
    const bool port_status = std::holds_alternative<PortStatus>(m.body);
    if (rs.seen == RoleState::Seen::kNothing ||
        (rs.seen == RoleState::Seen::kStandby && !port_status)) {
      ++counters_.dropped_not_master;
      return;
    }
  }
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, PacketIn>) {
          app_.on_packet_in(c, body);
        } else if constexpr (std::is_same_v<T, PortStatus>) {
          app_.on_port_status(c, body);
        } else if constexpr (std::is_same_v<T, FlowRemoved>) {
          app_.on_flow_removed(c, body);
        } else if constexpr (std::is_same_v<T, Error>) {
          OfError e = from_wire_error(body, c.version());
          e.detail = "switch reported " + error_type_name(c.version(), body.type) + "/" +
                     error_code_name(c.version(), body.type, body.code);
          spdlog::warn("{} {} for xid {}", c.log_name(), e.detail, m.xid);
          app_.on_error(c, e, m.xid);
        } else if constexpr (std::is_same_v<T, Experimenter>) {
          app_.on_experimenter(c, body);
        } else {
          spdlog::debug("{} ignoring unsolicited {}", c.log_name(), type_name(m.body));
        }
      },
      m.body);
}

void Controller::on_connection_closed(const std::shared_ptr<Connection>& c,
                                      const std::string& reason) {
  ++counters_.closed;
  connections_.erase(c);
  auto it = by_dpid_.find(c->datapath_id());
  const bool current = it != by_dpid_.end() && it->second == c;
  if (current) by_dpid_.erase(it);
  if (config_.roles && current) {
    RoleState& rs = roles_[c->datapath_id()];
    ++rs.epoch;
    rs.role = SwitchRole::kStandby;
    rs.seen = RoleState::Seen::kNothing;
  }
  if (c->was_up()) app_.on_datapath_down(c->datapath_id(), reason);
  if (config_.roles && current && role_listener_ && !stopping_) {
    role_listener_->on_switch_disconnected(c->datapath_id());
  }
}

}  // namespace tapflow::controller
