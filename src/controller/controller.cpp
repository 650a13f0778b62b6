#include "tapflow/controller/controller.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "tapflow/openflow/errors.hpp"

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
  app_.on_datapath_up(*c);
}

void Controller::on_connection_message(Connection& c, const Message& m) {
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
  if (c->was_up()) app_.on_datapath_down(c->datapath_id(), reason);
}

}  // namespace tapflow::controller
