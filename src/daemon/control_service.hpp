// ControlService: answers the control socket's requests (control_request.hpp)
// from tapflowd's live objects, on its event loop: the controller's
// connections, tapd's TAPs and policers, routing's kernel state, compiler
// and programmer, the switch profiles and, in cluster mode, the elections.
// Everything is read in memory except `show flows`, which asks the switch
// (FLOW_STATS) and answers when it has replied.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_request.hpp"
#include "control_server.hpp"
#include "metrics.hpp"
#include "profiles.hpp"
#include "tapflow/controller/controller.hpp"
#include "tapflow/routing/router.hpp"
#include "tapflow/tapd/tap_bridge.hpp"

namespace tapflow::daemon {

struct ControlSources {
  std::string app;  // "router", "learning-switch"
  controller::Controller* controller = nullptr;
  tapd::TapBridge* bridge = nullptr;     // router app
  routing::Router* router = nullptr;     // router app with routing
  ProfileBook* profiles = nullptr;       // router app
  std::function<ClusterMetricsView()> cluster;  // cluster mode
  std::function<nlohmann::json()> reload;       // tapflowctl reload (reload.hpp); unset: refused
};

class ControlService {
 public:
  explicit ControlService(ControlSources sources);
  ~ControlService();
  ControlService(const ControlService&) = delete;
  ControlService& operator=(const ControlService&) = delete;

  // One request line; `reply` gets one JSON line ({"error": "..."} for a
  // bad request), at once or (show flows) once the switches answered.
  void handle(const std::string& line, const ControlServer::Reply& reply);

 private:
  struct FlowRead;
  nlohmann::json answer(const ControlRequest& r) const;
  // The datapaths a request is about: every known one, or the one it names.
  std::vector<std::uint64_t> select(const ControlRequest& r) const;
  std::vector<std::uint64_t> known() const;
  nlohmann::json header(std::uint64_t dpid) const;
  nlohmann::json status_of(std::uint64_t dpid) const;
  nlohmann::json switch_of(std::uint64_t dpid) const;
  nlohmann::json ports_of(std::uint64_t dpid) const;
  nlohmann::json groups_of(std::uint64_t dpid) const;
  nlohmann::json ha() const;
  void show_flows(const ControlRequest& r, const ControlServer::Reply& reply);
  void read_flows(const std::shared_ptr<FlowRead>& read, std::uint64_t dpid, std::size_t index);

  ControlSources src_;
  std::shared_ptr<bool> alive_;
};

}  // namespace tapflow::daemon
