// Controller: listeners (TCP and TLS, IPv4 and IPv6), the datapath registry,
// and event delivery to one application.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tapflow/controller/app.hpp"
#include "tapflow/controller/connection.hpp"
#include "tapflow/controller/transport.hpp"

namespace tapflow::controller {

struct ListenerConfig {
  std::string address = "0.0.0.0";  // "::" listens on IPv6 (and IPv4 where the OS maps it)
  std::uint16_t port = 6653;        // 0: an ephemeral port (see local_endpoints)
  bool tls = false;
};

struct ControllerConfig {
  std::vector<ListenerConfig> listeners{ListenerConfig{}};
  // Several controllers per switch (tapflowd's cluster mode): the app sees a
  // switch only while this controller is its master (become_master). A
  // switch connects as standby: ROLE_REQUEST SLAVE, app on_datapath_standby.
  bool roles = false;
  std::optional<TlsFiles> tls;                // needed by TLS listeners
  std::set<std::uint64_t> allowed_datapaths;  // empty: any datapath id
  ConnectionOptions connection;
  std::size_t max_connections = 4096;  // beyond this, new connections are refused
};

struct ControllerCounters {
  std::uint64_t accepted = 0, refused = 0, closed = 0, replaced = 0;
  std::uint64_t role_requests = 0, role_errors = 0;
  std::uint64_t dropped_not_master = 0;  // PACKET_IN, FLOW_REMOVED... while standby
  std::uint64_t masters_confirmed = 0;
  std::uint64_t last_master_confirm_us = 0;  // become_master -> the switch's ROLE_REPLY
};

// What the switch's role is for this controller (roles on).
enum class SwitchRole : std::uint8_t { kStandby, kBecomingMaster, kMaster };

// Who decides the roles (tapflowd: the etcd elections). Called on the
// controller's event loop.
class RoleListener {
 public:
  virtual ~RoleListener() = default;
  // Handshake complete: this controller should compete for the switch.
  virtual void on_switch_connected(std::uint64_t dpid) = 0;
  virtual void on_switch_disconnected(std::uint64_t dpid) = 0;
  // The switch refused this controller as master (a stale generation id,
  // or IS_SLAVE errors: another controller has a newer claim). The
  // controller is standby for it already; the listener should give up the
  // mastership it believes it has.
  virtual void on_master_refused(std::uint64_t dpid, const std::string& why) = 0;
};

class Controller final : private ConnectionOwner {
 public:
  Controller(asio::io_context& io, ControllerConfig config, App& app);
  ~Controller() override;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Binds every listener; throws std::runtime_error naming the endpoint or
  // TLS file that failed.
  void start();
  // Closes the listeners and every connection (apps get on_datapath_down).
  void stop();

  std::vector<tcp::endpoint> local_endpoints() const;
  // The up datapath with this id, or nullptr.
  Datapath* find(std::uint64_t dpid) const;
  std::vector<Datapath*> datapaths() const;
  std::size_t connection_count() const { return connections_.size(); }

  // ---- roles (config.roles)
  void set_role_listener(RoleListener* l) { role_listener_ = l; }
  // This controller is the switch's master from now on, with this
  // generation id (1.3: it only grows; 1.0 has none). Sends ROLE_REQUEST
  // MASTER (1.0: the Nicira role request) once the switch is connected and
  // gives the app on_datapath_up when the switch confirms.
  void become_master(std::uint64_t dpid, std::uint64_t generation);
  // Another controller is (or may become) master: modifications stop at
  // once (the connection refuses them), the app gets on_datapath_standby,
  // and the switch gets ROLE_REQUEST SLAVE with `leader_generation` (the
  // current master's, 0 unknown: the switch's own is asked first).
  void become_standby(std::uint64_t dpid, std::uint64_t leader_generation);
  SwitchRole role(std::uint64_t dpid) const;
  const ControllerCounters& counters() const { return counters_; }

 private:
  struct Listener;

  struct RoleState {
    bool want_master = false;
    std::uint64_t generation = 0;         // ours, when master
    std::uint64_t leader_generation = 0;  // the master's, when standby
    SwitchRole role = SwitchRole::kStandby;
    std::uint64_t epoch = 0;  // bumped on every change: stale replies are ignored
    Clock::time_point asked{};
    Clock::time_point wanted{};  // become_master
    // What the app saw of the current connection: nothing, standby, up.
    enum class Seen : std::uint8_t { kNothing, kStandby, kUp } seen = Seen::kNothing;
    bool warned_no_roles = false;  // a 1.0 switch without the Nicira role request
  };

  void accept(Listener& l);
  void apply_role(Connection& c);
  void request_master(Connection& c, RoleState& rs);
  void request_slave(Connection& c, RoleState& rs);
  void master_refused(Connection& c, const std::string& why);
  bool admit(Connection& c) override;
  void on_connection_up(const std::shared_ptr<Connection>& c) override;
  void on_connection_message(Connection& c, const openflow::Message& m) override;
  void on_connection_closed(const std::shared_ptr<Connection>& c,
                            const std::string& reason) override;

  asio::io_context& io_;
  ControllerConfig config_;
  App& app_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::set<std::shared_ptr<Connection>> connections_;
  std::map<std::uint64_t, std::shared_ptr<Connection>> by_dpid_;
  ControllerCounters counters_;
  RoleListener* role_listener_ = nullptr;
  std::map<std::uint64_t, RoleState> roles_;
  bool stopping_ = false;
};

}  // namespace tapflow::controller
