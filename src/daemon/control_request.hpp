// The control socket's requests: one JSON object per line, e.g.
//   {"command":"status"}
//   {"command":"show","view":"routes","args":["r1","10.0.3.0/24"]}
//   {"command":"show","view":"flows","args":["r1"],"diff":true,"limit":1000}
//   {"command":"reload"}
// parsed and checked here (tapflowd), and built from a command line
// (tapflowctl), so both sides agree on one shape.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tapflow/netns/ip.hpp"

namespace tapflow::daemon {

enum class ControlView {
  kStatus, kSwitches, kPorts, kRoutes, kNeighbors, kGroups, kFlows, kTaps, kPunt, kHa,
  kReload  // not a view: the reload command (reload.hpp)
};
// "status", "switches", "ports", ...; the view of a name ("neighbours" too).
std::string_view view_name(ControlView v);
std::optional<ControlView> parse_view(std::string_view name);

struct ControlRequest {
  static constexpr std::size_t kDefaultLimit = 100000;
  ControlView view = ControlView::kStatus;
  std::optional<std::string> switch_ref;  // a name, a datapath id or a namespace
  // show routes: a prefix (that route) or an address (its longest match).
  std::optional<netns::IpPrefix> destination;
  bool address = false;
  bool diff = false;  // show flows: only what differs
  std::size_t limit = kDefaultLimit;  // rows of long lists (routes, flows, ...)
};

// A request that cannot be served; its text is the reply's "error".
class ControlRequestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses one request line. Throws ControlRequestError for anything else
// than the shapes above: not JSON, unknown command, view or key, wrong
// types, arguments a view does not take.
ControlRequest parse_control_request(std::string_view line);

// The request line for tapflowctl's words: {"status", [SWITCH]},
// {"show", VIEW, ARGS...} or {"reload"}; throws ControlRequestError as the daemon would.
std::string control_request_line(const std::vector<std::string>& words, bool diff,
                                 std::optional<std::size_t> limit = std::nullopt);

}  // namespace tapflow::daemon
