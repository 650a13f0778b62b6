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
  std::optional<TlsFiles> tls;                // needed by TLS listeners
  std::set<std::uint64_t> allowed_datapaths;  // empty: any datapath id
  ConnectionOptions connection;
  std::size_t max_connections = 4096;  // beyond this, new connections are refused
};

struct ControllerCounters {
  std::uint64_t accepted = 0, refused = 0, closed = 0, replaced = 0;
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
  const ControllerCounters& counters() const { return counters_; }

 private:
  struct Listener;

  void accept(Listener& l);
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
  bool stopping_ = false;
};

}  // namespace tapflow::controller
