// The control socket's views as JSON, from plain inputs (the kernel state
// routing follows, FIB flows in compact form), so tests build them by hand.
// ControlService gathers the inputs from the live objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_request.hpp"
#include "tapflow/netns/kernel_state.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/routing/fib_compiler.hpp"

namespace tapflow::daemon {

using nlohmann::json;

// Names as `ip` prints them: "bird", "kernel" (else the number); "unicast",
// "blackhole", ...; "reachable", "stale", ... (NUD states, joined by ",").
std::string route_protocol_name(std::uint8_t protocol);
std::string route_type_name(std::uint8_t type);
std::string nud_state_name(std::uint16_t state);

// One route: prefix, table, type, protocol, metric and next hops (nexthop
// objects resolved; interface names from the state's links).
json route_json(const netns::Route& route, const netns::KernelState& state);
// The routes of `tables` (in the state's order), or only those of the
// request's destination: a prefix's routes, or the route an address takes
// (longest prefix; then the first table of `tables`, then the lowest
// metric, as the FIB compiler picks). {"routes": [...], "total": N,
// "truncated": bool} (at most request.limit routes).
json routes_json(const netns::KernelState& state, const std::vector<std::uint32_t>& tables,
                 const ControlRequest& request);
// {"neighbors": [{ip, mac, dev, state, router}], "total", "truncated"}.
json neighbors_json(const netns::KernelState& state, std::size_t limit);

// Instructions as text, "drop" if there are none ("apply(group:3)").
std::string instructions_text(const openflow::InstructionList& instructions);
// "route", "host", "miss".
std::string_view flow_kind_name(routing::FibFlowKind kind);

// show flows: the FIB flows the compiler wants against those the switch
// holds, matched by identity (priority and prefix, as the reconcile matches
// them) and compared by content digest. Rows are made only for flows that
// are shown (all, or with `diff` only missing/extra/different; at most
// `limit`), so a million flows cost their counts, not their text.
class FlowComparison {
 public:
  struct Want {
    routing::FibFlow flow;  // switch group ids
    std::uint64_t digest = 0;
    bool withheld = false;  // left out for lack of room: not expected on the switch
  };
  // A flow's shown parts.
  struct Text {
    std::uint64_t cookie = 0;
    std::string match, actions;
    std::optional<std::uint64_t> packets;  // the switch's counter
  };

  FlowComparison(std::vector<Want> want, std::uint8_t table, bool diff, std::size_t limit);
  // One flow of routing's cookie class the switch holds. `key`: its FIB
  // identity (routing::parse_fib_flow), nullopt for another shape or table.
  // `text` is called only if the flow is shown.
  void add_have(const std::optional<routing::FibFlow>& key, std::uint8_t table,
                std::uint16_t priority, std::uint64_t digest, const std::function<Text()>& text);
  // The counts and rows; `want_text` renders a wanted flow that is shown.
  json finish(const std::function<Text(const routing::FibFlow&)>& want_text);

 private:
  struct Row {
    std::string state;
    std::optional<routing::FibFlow> want;  // text filled by finish()
    std::optional<routing::FibFlowKind> kind;
    std::uint8_t table = 0;
    std::uint16_t priority = 0;
    std::optional<netns::IpPrefix> prefix;
    std::optional<Text> have;
  };
  void add_row(Row row);

  std::vector<Want> want_;  // sorted as the switch orders them
  std::vector<bool> seen_;
  std::uint8_t table_ = 0;
  bool diff_ = false;
  std::size_t limit_ = 0;
  std::size_t ok_ = 0, missing_ = 0, extra_ = 0, different_ = 0, withheld_ = 0;
  std::vector<Row> rows_;
  bool truncated_ = false;
};

}  // namespace tapflow::daemon
