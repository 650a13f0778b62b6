// tapflowctl's tables for the control socket's replies (ctl_tables.hpp).
#include "ctl_tables.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

namespace tapflow::ctl {
namespace {

using json = nlohmann::json;

std::string at(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? "-" : cell(*it);
}

// "r1 (dpid 0000000000000001, netns tapflow-r1)"
std::string switch_title(const json& s) {
  std::string t = at(s, "name") + " (dpid " + at(s, "dpid");
  if (s.contains("netns") && s["netns"].is_string()) t += ", netns " + s["netns"].get<std::string>();
  return t + ")";
}

std::string nexthops_text(const json& hops) {
  std::string out;
  for (const json& h : hops) {
    std::string one;
    if (h.contains("gateway")) one = "via " + at(h, "gateway") + " ";
    one += "dev " + at(h, "dev");
    if (h.contains("weight")) one += " weight " + cell(h["weight"]);
    if (h.value("dead", false)) one += " dead";
    if (h.value("linkdown", false)) one += " linkdown";
    out += (out.empty() ? "" : ", ") + one;
  }
  return out.empty() ? "-" : out;
}

std::string programming_text(const json& p) {
  if (!p.is_object()) return "-";
  std::string t = at(p, "phase");
  const json total_j = p.value("total", json()), done_j = p.value("done", json());
  if (p.value("active", false) && total_j.is_number_unsigned() && done_j.is_number_unsigned() &&
      total_j.get<std::uint64_t>() > 0) {
    const auto done = done_j.get<std::uint64_t>(), total = total_j.get<std::uint64_t>();
    t += " " + std::to_string(done) + "/" + std::to_string(total) + " (" +
         std::to_string(done * 100 / total) + "%)";
  }
  return t;
}

// Per switch: its title, then its table (or its error).
std::string per_switch(const json& reply, const std::vector<std::string>& headers,
                       const std::function<void(const json&, TextTable&)>& rows,
                       const std::function<std::string(const json&)>& footer = {}) {
  std::ostringstream out;
  bool first = true;
  for (const json& s : reply.value("switches", json::array())) {
    if (!first) out << "\n";
    first = false;
    out << switch_title(s);
    if (s.contains("error")) {
      out << ": " << cell(s["error"]) << "\n";
      continue;
    }
    out << "\n";
    TextTable t(headers);
    rows(s, t);
    if (t.size() > 0) out << t.render();  // the footer says what is there
    if (footer) out << footer(s);
  }
  if (first) out << "no switches\n";
  return out.str();
}

std::string status_text(const json& reply) {
  std::ostringstream out;
  out << "tapflowd: app " << at(reply, "app") << (reply.value("cluster", false) ? ", cluster mode" : "")
      << "\n";
  TextTable t({"SWITCH", "DPID", "CONNECTED", "VERSION", "ROLE", "SYNCED", "ROUTES", "FLOWS",
               "WITHHELD", "PROGRAMMING"});
  for (const json& s : reply.value("switches", json::array())) {
    t.add({at(s, "name"), at(s, "dpid"), at(s, "connected"), at(s, "version"), at(s, "role"),
           at(s, "synced"), at(s, "routes"), at(s, "flows"), at(s, "withheld"),
           programming_text(s.value("programming", json()))});
  }
  if (t.size() == 0) return out.str() + "no switches\n";
  return out.str() + t.render();
}

std::string ha_text(const json& reply) {
  std::ostringstream out;
  if (reply.value("cluster", false)) {
    out << "cluster mode: instance " << at(reply, "instance") << ", etcd "
        << (reply.value("etcd_reachable", false) ? "reachable" : "UNREACHABLE") << "; elections won "
        << at(reply, "elections_won") << ", stepped down " << at(reply, "stepped_down") << "\n";
  } else {
    out << "not in cluster mode (no cluster: section): this instance masters every switch alone\n";
  }
  TextTable t({"SWITCH", "DPID", "ROLE", "GENERATION", "LEADER"});
  for (const json& s : reply.value("switches", json::array())) {
    t.add({at(s, "name"), at(s, "dpid"), at(s, "role"), at(s, "generation"), at(s, "leader")});
  }
  return out.str() + (t.size() == 0 ? "no switches\n" : t.render());
}

std::string flows_footer(const json& s) {
  const json& c = s.value("counts", json::object());
  std::string t = "ok " + at(c, "ok") + ", missing " + at(c, "missing") + ", extra " + at(c, "extra") +
                  ", different " + at(c, "different") + ", withheld " + at(c, "withheld");
  if (s.value("truncated", false)) t += " (list truncated: --limit)";
  return t + "\n";
}

// "1 route", "8 routes".
std::string total_footer(const json& s, const std::string& what) {
  const std::string n = at(s, "total");
  std::string t = n + " " + what + (n == "1" ? "" : "s");
  if (s.value("truncated", false)) t += " (list truncated: --limit)";
  return t + "\n";
}

}  // namespace

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

std::string TextTable::render() const {
  std::vector<std::size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string& c = i < row.size() ? row[i] : std::string();
      l += c;
      if (i + 1 < width.size()) l += std::string(width[i] - c.size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
  return out;
}

// tapflowctl reload: what changed, what waits for a restart, what failed.
std::string reload_text(const json& reply) {
  std::string out = "reloaded " + at(reply, "file") + "\n";
  auto list = [&](const char* key, const char* label) {
    for (const json& line : reply.value(key, json::array())) out += std::string("  ") + label + cell(line) + "\n";
  };
  list("applied", "applied:         ");
  list("restart_needed", "needs a restart: ");
  list("fixed_by_command_line", "command line:    ");
  list("failed", "FAILED:          ");
  if (reply.value("applied", json::array()).empty() && reply.value("restart_needed", json::array()).empty() &&
      reply.value("failed", json::array()).empty()) {
    out += "  nothing changed\n";
  }
  return out;
}

std::string format_reply(const std::string& view, const json& reply) {
  if (view == "status") return status_text(reply);
  if (view == "reload") return reload_text(reply);
  if (view == "ha") return ha_text(reply);
  if (view == "switches") {
    TextTable t({"SWITCH", "DPID", "CONNECTED", "PEER", "VERSION", "TABLES", "PORTS", "ROLE",
                 "PROFILE", "FIB CAPACITY"});
    for (const json& s : reply.value("switches", json::array())) {
      t.add({at(s, "name"), at(s, "dpid"), at(s, "connected"), at(s, "peer"), at(s, "version"),
             at(s, "tables"), at(s, "ports"), at(s, "role"), at(s, "profile"), at(s, "fib_capacity")});
    }
    return t.size() == 0 ? "no switches\n" : t.render();
  }
  if (view == "ports") {
    return per_switch(reply, {"PORT", "NAME", "MAC", "ADMIN", "LINK", "SPEED", "TAP", "CARRIER"},
                      [](const json& s, TextTable& t) {
                        for (const json& p : s.value("ports", json::array())) {
                          const std::string speed =
                              p.value("speed_mbps", json()).is_number() ? at(p, "speed_mbps") + "M" : "-";
                          t.add({at(p, "port"), at(p, "name"), at(p, "mac"), at(p, "admin"),
                                 at(p, "link"), speed, at(p, "tap"), at(p, "carrier")});
                        }
                      });
  }
  if (view == "routes") {
    return per_switch(
        reply, {"PREFIX", "TABLE", "TYPE", "PROTO", "METRIC", "NEXT HOPS"},
        [](const json& s, TextTable& t) {
          for (const json& r : s.value("routes", json::array())) {
            t.add({at(r, "prefix"), at(r, "table"), at(r, "type"), at(r, "protocol"), at(r, "metric"),
                   nexthops_text(r.value("nexthops", json::array()))});
          }
        },
        [](const json& s) { return total_footer(s, "route"); });
  }
  if (view == "neighbors") {
    return per_switch(
        reply, {"ADDRESS", "MAC", "DEV", "STATE", "ROUTER"},
        [](const json& s, TextTable& t) {
          for (const json& n : s.value("neighbors", json::array())) {
            t.add({at(n, "ip"), at(n, "mac"), at(n, "dev"), at(n, "state"), at(n, "router")});
          }
        },
        [](const json& s) { return total_footer(s, "neighbor"); });
  }
  if (view == "groups") {
    return per_switch(reply, {"GROUP", "TYPE", "BUCKETS"}, [](const json& s, TextTable& t) {
      for (const json& g : s.value("groups", json::array())) {
        std::string buckets;
        for (const json& b : g.value("buckets", json::array())) {
          std::string one = at(b, "actions");
          if (b.contains("weight")) one = "weight " + cell(b["weight"]) + ": " + one;
          buckets += (buckets.empty() ? "" : " | ") + one;
        }
        t.add({at(g, "id"), at(g, "type"), buckets.empty() ? "(no buckets: drop)" : buckets});
      }
    });
  }
  if (view == "flows") {
    return per_switch(
        reply, {"STATE", "KIND", "PRIORITY", "PREFIX", "WANT", "HAVE", "PACKETS"},
        [](const json& s, TextTable& t) {
          for (const json& f : s.value("flows", json::array())) {
            const std::string prefix = f.value("prefix", json()).is_string() ? at(f, "prefix") : at(f, "match");
            t.add({at(f, "state"), at(f, "kind"), at(f, "priority"), prefix, at(f, "want"),
                   at(f, "have"), at(f, "packets")});
          }
        },
        flows_footer);
  }
  if (view == "taps") {
    return per_switch(reply,
                      {"TAP", "IFINDEX", "PORT", "VLAN", "CARRIER", "TO TAP", "TO SWITCH", "DROPS",
                       "P99 US"},
                      [](const json& s, TextTable& t) {
                        for (const json& p : s.value("taps", json::array())) {
                          t.add({at(p, "interface"), at(p, "ifindex"), at(p, "port_name"),
                                 at(p, "vlan"), at(p, "carrier"), at(p, "to_tap_frames"),
                                 at(p, "to_switch_frames"), at(p, "drops"), at(p, "to_tap_p99_us")});
                        }
                      });
  }
  if (view == "punt") {
    return per_switch(
        reply, {"CLASS", "RATE", "BURST", "SEEN", "PASSED", "POLICED", "METER PKTS", "METER DROPS"},
        [](const json& s, TextTable& t) {
          for (const json& c : s.value("classes", json::array())) {
            t.add({at(c, "class"), at(c, "rate"), at(c, "burst"), at(c, "seen"), at(c, "passed"),
                   at(c, "policed"), at(c, "meter_packets"), at(c, "meter_dropped")});
          }
        },
        [](const json& s) {
          return "meters in the switch: " + at(s, "switch_meters") +
                 "; control frames sent ahead of bulk: " + at(s, "control_out") + "\n";
        });
  }
  return reply.dump(2) + "\n";
}

}  // namespace tapflow::ctl
