// Parsing and building control requests (control_request.hpp).
#include "control_request.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <utility>

namespace tapflow::daemon {
namespace {

using json = nlohmann::json;

constexpr std::array<std::pair<ControlView, std::string_view>, 11> kViews{{
    {ControlView::kStatus, "status"},
    {ControlView::kSwitches, "switches"},
    {ControlView::kPorts, "ports"},
    {ControlView::kRoutes, "routes"},
    {ControlView::kNeighbors, "neighbors"},
    {ControlView::kGroups, "groups"},
    {ControlView::kFlows, "flows"},
    {ControlView::kTaps, "taps"},
    {ControlView::kPunt, "punt"},
    {ControlView::kHa, "ha"},
    {ControlView::kReload, "reload"},
}};

std::string view_list() {
  std::string out;
  for (const auto& [v, name] : kViews) {
    if (v == ControlView::kStatus || v == ControlView::kReload) continue;
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

// What follows the view: [SWITCH] for most, [SWITCH] [PREFIX|ADDRESS] for
// routes, nothing for ha.
void take_args(ControlRequest& r, const std::vector<std::string>& args) {
  const std::string view(view_name(r.view));
  if (r.view == ControlView::kHa) {
    if (!args.empty()) throw ControlRequestError("show ha takes no arguments");
    return;
  }
  if (r.view == ControlView::kRoutes) {
    // One argument: a destination if it reads as one, else a switch.
    auto destination = [&](const std::string& text) {
      auto p = netns::IpPrefix::parse(text);
      if (!p) return false;
      r.address = text.find('/') == std::string::npos;
      r.destination = r.address ? *p : p->network();
      return true;
    };
    if (args.size() > 2) throw ControlRequestError("show routes [SWITCH] [PREFIX|ADDRESS]");
    if (args.size() == 2) {
      r.switch_ref = args[0];
      if (!destination(args[1])) {
        throw ControlRequestError("'" + args[1] + "' is neither a prefix nor an address");
      }
      return;
    }
    if (args.size() == 1 && !destination(args[0])) r.switch_ref = args[0];
    return;
  }
  if (args.size() > 1) {
    throw ControlRequestError((r.view == ControlView::kStatus ? "status" : "show " + view) +
                              " takes at most one argument: [SWITCH]");
  }
  if (!args.empty()) r.switch_ref = args[0];
}

}  // namespace

std::string_view view_name(ControlView v) {
  for (const auto& [view, name] : kViews) {
    if (view == v) return name;
  }
  return "?";
}

std::optional<ControlView> parse_view(std::string_view name) {
  if (name == "neighbours" || name == "neighbor" || name == "neighbour") return ControlView::kNeighbors;
  for (const auto& [view, n] : kViews) {
    if (n == name && view != ControlView::kStatus && view != ControlView::kReload) return view;
  }
  return std::nullopt;
}

ControlRequest parse_control_request(std::string_view line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception&) {
    throw ControlRequestError("not a JSON object: one request per line, e.g. {\"command\":\"status\"}");
  }
  if (!j.is_object()) throw ControlRequestError("a request is a JSON object, e.g. {\"command\":\"status\"}");
  for (const auto& [key, value] : j.items()) {
    if (key != "command" && key != "view" && key != "args" && key != "diff" && key != "limit") {
      throw ControlRequestError("unknown key '" + key + "' (known: command, view, args, diff, limit)");
    }
  }
  const auto command = j.find("command");
  if (command == j.end() || !command->is_string()) {
    throw ControlRequestError("\"command\" must be \"status\", \"show\" or \"reload\"");
  }
  ControlRequest r;
  const std::string& cmd = command->get_ref<const std::string&>();
  if (cmd == "status") {
    if (j.contains("view")) throw ControlRequestError("status has no view");
    r.view = ControlView::kStatus;
  } else if (cmd == "show") {
    const auto view = j.find("view");
    if (view == j.end() || !view->is_string()) {
      throw ControlRequestError("show needs \"view\": one of " + view_list());
    }
    const auto v = parse_view(view->get_ref<const std::string&>());
    if (!v) {
      throw ControlRequestError("unknown view '" + view->get<std::string>() + "' (known: " +
                                view_list() + ")");
    }
    r.view = *v;
  } else if (cmd == "reload") {
    if (j.size() != 1) throw ControlRequestError("reload takes no arguments");
    r.view = ControlView::kReload;
    return r;
  } else {
    throw ControlRequestError("unknown command '" + cmd + "' (known: status, show, reload)");
  }
  std::vector<std::string> args;
  if (const auto a = j.find("args"); a != j.end()) {
    if (!a->is_array()) throw ControlRequestError("\"args\" must be a list of strings");
    for (const auto& item : *a) {
      if (!item.is_string()) throw ControlRequestError("\"args\" must be a list of strings");
      args.push_back(item.get<std::string>());
    }
  }
  take_args(r, args);
  if (const auto d = j.find("diff"); d != j.end()) {
    if (!d->is_boolean()) throw ControlRequestError("\"diff\" must be true or false");
    r.diff = d->get<bool>();
    if (r.diff && r.view != ControlView::kFlows) throw ControlRequestError("--diff is for show flows only");
  }
  if (const auto l = j.find("limit"); l != j.end()) {
    if (!l->is_number_unsigned() || l->get<std::uint64_t>() == 0) {
      throw ControlRequestError("\"limit\" must be a positive number");
    }
    r.limit = static_cast<std::size_t>(l->get<std::uint64_t>());
  }
  return r;
}

std::string control_request_line(const std::vector<std::string>& words, bool diff,
                                 std::optional<std::size_t> limit) {
  if (words.empty()) throw ControlRequestError("nothing to ask: status, show VIEW or reload");
  json j;
  std::vector<std::string> args;
  if (words[0] == "status") {
    j["command"] = "status";
    args.assign(words.begin() + 1, words.end());
  } else if (words[0] == "show") {
    if (words.size() < 2) throw ControlRequestError("show what? one of " + view_list());
    if (!parse_view(words[1])) {
      throw ControlRequestError("unknown view '" + words[1] + "' (known: " + view_list() + ")");
    }
    j["command"] = "show";
    j["view"] = words[1];
    args.assign(words.begin() + 2, words.end());
  } else if (words[0] == "reload") {
    if (words.size() > 1 || diff || limit) throw ControlRequestError("reload takes no arguments");
    j["command"] = "reload";
  } else {
    throw ControlRequestError("unknown command '" + words[0] + "' (known: status, show, reload)");
  }
  if (!args.empty()) j["args"] = args;
  if (diff) j["diff"] = true;
  if (limit) j["limit"] = *limit;
  std::string line = j.dump();
  (void)parse_control_request(line);  // the same checks as the daemon's, before connecting
  return line;
}

}  // namespace tapflow::daemon
