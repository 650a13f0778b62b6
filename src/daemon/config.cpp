#include "config.hpp"

#include "tapflow/fdstore/protocol.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace tapflow::daemon {
namespace {

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};
const std::set<std::string> kApps = {"learning-switch", "router"};
const std::set<std::string> kLogFormats = {"text", "json"};

class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& key, const std::string& what) const {
    std::ostringstream s;
    s << name_;
    int line = 0, column = 0;
    if (n.IsDefined() && n.Mark().line >= 0) {
      line = n.Mark().line + 1;
      column = n.Mark().column + 1;
      s << ":" << line << ":" << column;
    }
    s << ": " << key << ": " << what;
    throw ConfigError(s.str(), line, column);
  }

  void only_keys(const YAML::Node& map, const std::string& where,
                 const std::set<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, where, "must be a mapping");
    for (const auto& kv : map) {
      const auto key = kv.first.as<std::string>();
      if (allowed.count(key) == 0) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, where.empty() ? key : where + "." + key, "unknown key (known: " + list + ")");
      }
    }
  }

  std::string str(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "must be a single value");
    return n.as<std::string>();
  }

  template <class T>
  T number(const YAML::Node& n, const std::string& key, T lo, T hi) const {
    const std::string text = str(n, key);
    T v{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
      fail(n, key, "must be a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                       ", not '" + text + "'");
    }
    return v;
  }

  bool boolean(const YAML::Node& n, const std::string& key) const {
    const std::string t = str(n, key);
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
    fail(n, key, "must be true or false, not '" + t + "'");
  }

 private:
  std::string name_;
};

bool valid_interface_name(const std::string& n) {
  if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
  return std::none_of(n.begin(), n.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0;
  });
}

// The settings a TAP takes from the config, for a port's TAP or a VLAN's.
void parse_tap_settings(const Reader& r, const YAML::Node& n, const std::string& where,
                        std::optional<openflow::MacAddress>& mac, std::optional<unsigned>& mtu,
                        std::vector<netns::IpPrefix>& addresses) {
  if (n["mac"]) {
    const auto text = r.str(n["mac"], where + ".mac");
    mac = openflow::MacAddress::parse(text);
    if (!mac || mac->is_multicast() || mac->is_zero()) {
      r.fail(n["mac"], where + ".mac", "'" + text + "' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)");
    }
  }
  if (n["mtu"]) mtu = r.number<unsigned>(n["mtu"], where + ".mtu", 68, 65535);
  if (auto a = n["addresses"]) {
    if (!a.IsSequence()) r.fail(a, where + ".addresses", "must be a list of ADDRESS/LEN");
    for (const auto& item : a) {
      const auto text = r.str(item, where + ".addresses");
      auto p = netns::IpPrefix::parse(text);
      if (!p || text.find('/') == std::string::npos) {
        r.fail(item, where + ".addresses", "'" + text + "' is not ADDRESS/LEN (10.0.1.1/24, 2001:db8::1/64)");
      }
      addresses.push_back(*p);
    }
  }
}

void parse_port(const Reader& r, const YAML::Node& n, const std::string& where,
                tapd::PortConfig& pc) {
  r.only_keys(n, where, {"port", "name", "interface", "mac", "mtu", "addresses"});
  if (n["port"]) pc.port_no = r.number<std::uint32_t>(n["port"], where + ".port", 1, 0xffffff00);
  if (n["name"]) pc.port_name = r.str(n["name"], where + ".name");
  if (!pc.port_no && !pc.port_name) r.fail(n, where, "needs port (number) or name (the switch's port name)");
  if (n["interface"]) {
    pc.interface = r.str(n["interface"], where + ".interface");
    if (!valid_interface_name(*pc.interface)) {
      r.fail(n["interface"], where + ".interface",
             "'" + *pc.interface + "' is not a Linux interface name (1-15 characters, no '/', ':' or blanks)");
    }
  }
  parse_tap_settings(r, n, where, pc.mac, pc.mtu, pc.addresses);
}

// A member port: a number, or the switch's name for the port.
tapd::PortRef parse_port_ref(const Reader& r, const YAML::Node& n, const std::string& where) {
  const std::string text = r.str(n, where);
  tapd::PortRef ref;
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ref.port_no = r.number<std::uint32_t>(n, where, 1, 0xffffff00);
  } else if (text.empty()) {
    r.fail(n, where, "empty port name");
  } else {
    ref.port_name = text;
  }
  return ref;
}

std::string port_ref_text(const tapd::PortRef& p) {
  return p.port_no ? "port " + std::to_string(*p.port_no) : "port '" + *p.port_name + "'";
}

// router.switches[i].vlans: the VLAN interfaces of one switch. Membership
// conflicts are refused here; a port name the switch does not have can only
// be found when it connects (tapd logs it).
void parse_vlans(const Reader& r, const YAML::Node& list, const std::string& where,
                 tapd::SwitchConfig& sc) {
  if (!list.IsSequence()) r.fail(list, where, "must be a list");
  std::map<std::uint16_t, std::size_t> ids;
  std::set<std::string> names;
  // Where each port is untagged (a port has at most one untagged VLAN).
  std::vector<std::pair<tapd::PortRef, std::uint16_t>> untagged_in;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& n = list[i];
    const std::string w = where + "[" + std::to_string(i) + "]";
    r.only_keys(n, w, {"id", "name", "mac", "mtu", "addresses", "untagged", "tagged"});
    tapd::VlanConfig v;
    if (!n["id"]) r.fail(n, w, "needs id (the VLAN id, 1..4094)");
    v.id = r.number<std::uint16_t>(n["id"], w + ".id", 1, 4094);
    if (!ids.emplace(v.id, i).second) {
      r.fail(n["id"], w + ".id", "VLAN " + std::to_string(v.id) + " is listed twice");
    }
    v.name = n["name"] ? r.str(n["name"], w + ".name") : "vlan" + std::to_string(v.id);
    if (!valid_interface_name(v.name)) {
      r.fail(n["name"], w + ".name",
             "'" + v.name + "' is not a Linux interface name (1-15 characters, no '/', ':' or blanks)");
    }
    if (!names.insert(v.name).second) {
      r.fail(n["name"] ? n["name"] : n, w + ".name", "name '" + v.name + "' is used by another VLAN");
    }
    parse_tap_settings(r, n, w, v.mac, v.mtu, v.addresses);
    for (const char* key : {"untagged", "tagged"}) {
      const auto members = n[key];
      if (!members) continue;
      const std::string wk = w + "." + key;
      if (!members.IsSequence()) r.fail(members, wk, "must be a list of ports (numbers or names)");
      for (const auto& item : members) {
        tapd::PortRef ref = parse_port_ref(r, item, wk);
        const bool tagged = std::string(key) == "tagged";
        auto& mine = tagged ? v.tagged : v.untagged;
        auto& other = tagged ? v.untagged : v.tagged;
        if (std::find(mine.begin(), mine.end(), ref) != mine.end()) {
          r.fail(item, wk, port_ref_text(ref) + " is listed twice");
        }
        if (std::find(other.begin(), other.end(), ref) != other.end()) {
          r.fail(item, wk, port_ref_text(ref) + " is both tagged and untagged in VLAN " +
                               std::to_string(v.id));
        }
        for (const auto& pc : sc.ports) {
          if ((ref.port_no && pc.port_no == ref.port_no) ||
              (ref.port_name && !pc.port_no && pc.port_name == ref.port_name)) {
            r.fail(item, wk, port_ref_text(ref) + " is also in ports: (per-port mode); a port is "
                                 "either a VLAN member or has its own TAP");
          }
        }
        if (!tagged) {
          for (const auto& [p, vid] : untagged_in) {
            if (p == ref) {
              r.fail(item, wk, port_ref_text(ref) + " is already untagged in VLAN " +
                                   std::to_string(vid) + " (a port has one untagged VLAN)");
            }
          }
          untagged_in.emplace_back(ref, v.id);
        }
        mine.push_back(std::move(ref));
      }
    }
    sc.vlans.push_back(std::move(v));
  }
}

// router.fd_store: false, true, or a map of the store's settings.
void parse_fd_store(const Reader& r, const YAML::Node& n, DaemonConfig& cfg) {
  if (n.IsScalar()) {
    cfg.fd_store = r.boolean(n, "router.fd_store");
    return;
  }
  r.only_keys(n, "router.fd_store", {"name", "spawn", "program", "linger", "log"});
  cfg.fd_store = true;
  auto& o = cfg.fd_store_options;
  if (n["name"]) {
    o.name = r.str(n["name"], "router.fd_store.name");
    if (!fdstore::socket_address(o.name)) {
      r.fail(n["name"], "router.fd_store.name",
             "'" + o.name +
                 "' is not a socket name (1-107 bytes: an abstract name, or a path "
                 "starting with '/')");
    }
  }
  if (n["spawn"]) o.spawn = r.boolean(n["spawn"], "router.fd_store.spawn");
  if (n["program"]) {
    o.program = r.str(n["program"], "router.fd_store.program");
    if (o.program.empty() || o.program[0] != '/') {
      r.fail(n["program"], "router.fd_store.program", "must be an absolute path");
    }
  }
  if (n["linger"]) {
    o.linger =
        std::chrono::seconds(r.number<unsigned>(n["linger"], "router.fd_store.linger", 1, 86400));
  }
  if (n["log"]) o.log_file = r.str(n["log"], "router.fd_store.log");
}

void parse_router(const Reader& r, const YAML::Node& n, DaemonConfig& cfg) {
  tapd::TapBridgeConfig& rc = cfg.router;
  r.only_keys(n, "router", {"netns_prefix", "mtu", "persist_taps", "local_port", "read_batch",
                            "switches", "routing", "route_tables", "fib_table", "bundles",
                            "table_capacity", "forwarding", "l2_table", "carrier_hold",
                            "fd_store", "stale_hold", "punt_policer", "bundle_max", "bundle_target", "profile",
                            "compress", "bfd_yield"});
  if (auto c = n["compress"]) {
    const std::string v = r.str(c, "router.compress");
    using C = routing::RoutingConfig::Compress;
    if (v == "auto") cfg.routing_config.compress = C::kAuto;
    else if (v == "always") cfg.routing_config.compress = C::kAlways;
    else if (v == "never") cfg.routing_config.compress = C::kNever;
    else r.fail(c, "router.compress", "must be auto, always or never");
  }
  auto profile_of = [&r](const YAML::Node& v, const std::string& key) {
    const auto k = pipeline::parse_profile(r.str(v, key));
    if (!k) r.fail(v, key, "must be auto, ovs, mikrotik, generic-of13 or generic-of10");
    return *k;
  };
  if (n["profile"]) cfg.profile = profile_of(n["profile"], "router.profile");
  if (n["forwarding"]) rc.forwarding = r.boolean(n["forwarding"], "router.forwarding");
  if (n["routing"]) cfg.routing = r.boolean(n["routing"], "router.routing");
  auto& rt = cfg.routing_config;
  if (auto t = n["route_tables"]) {
    if (!t.IsSequence() || t.size() == 0) r.fail(t, "router.route_tables", "must be a non-empty list of table ids");
    rt.tables.clear();
    for (const auto& item : t) {
      const std::string text = r.str(item, "router.route_tables");
      if (text == "main") rt.tables.push_back(254);
      else rt.tables.push_back(r.number<std::uint32_t>(item, "router.route_tables", 1, 0xfffffffe));
    }
  }
  pipeline::Pipeline& pl = cfg.pipeline;
  if (n["fib_table"]) pl.fib_table = r.number<std::uint8_t>(n["fib_table"], "router.fib_table", 1, 254);
  if (n["l2_table"]) pl.l2_table = r.number<std::uint8_t>(n["l2_table"], "router.l2_table", 1, 252);
  if (n["bundles"]) rt.programmer.use_bundles = r.boolean(n["bundles"], "router.bundles");
  if (n["bundle_max"]) {
    rt.programmer.bundle_max = r.number<std::size_t>(n["bundle_max"], "router.bundle_max", 1, 1000000);
  }
  if (n["bundle_target"]) {
    rt.programmer.bundle_target = std::chrono::milliseconds(
        r.number<unsigned>(n["bundle_target"], "router.bundle_target", 0, 10000));
  }
  if (auto y = n["bfd_yield"]) {
    rt.bfd_yield = r.number<double>(y, "router.bfd_yield", 0.0, 1.0);
  }
  if (n["table_capacity"]) {
    rt.programmer.table_capacity =
        r.number<std::uint32_t>(n["table_capacity"], "router.table_capacity", 1, 0xffffffff);
  }
  if (n["netns_prefix"]) rc.netns_prefix = r.str(n["netns_prefix"], "router.netns_prefix");
  if (rc.netns_prefix.find('/') != std::string::npos) {
    r.fail(n["netns_prefix"], "router.netns_prefix", "must not contain '/'");
  }
  if (n["mtu"]) rc.mtu = r.number<unsigned>(n["mtu"], "router.mtu", 68, 65535);
  if (n["persist_taps"]) rc.persist_taps = r.boolean(n["persist_taps"], "router.persist_taps");
  if (n["local_port"]) rc.local_port = r.boolean(n["local_port"], "router.local_port");
  if (n["read_batch"]) rc.read_batch = r.number<std::size_t>(n["read_batch"], "router.read_batch", 1, 4096);
  if (n["carrier_hold"]) {
    rc.carrier_hold = std::chrono::milliseconds(static_cast<long>(
        r.number<double>(n["carrier_hold"], "router.carrier_hold", 0, 3600) * 1000));
  }
  if (auto f = n["fd_store"]) parse_fd_store(r, f, cfg);
  if (auto pp = n["punt_policer"]) {
    if (pp.IsScalar()) {
      if (r.boolean(pp, "router.punt_policer")) r.fail(pp, "router.punt_policer", "is false or a map of classes");
      for (auto& c : rc.punt_policy.classes) c = tapd::PolicerConfig{0, 0};
    } else {
      std::set<std::string> names;
      for (std::size_t c = 0; c < tapd::kPuntClasses; ++c) {
        names.insert(std::string(tapd::punt_class_name(static_cast<tapd::PuntClass>(c))));
      }
      r.only_keys(pp, "router.punt_policer", names);
      for (std::size_t c = 0; c < tapd::kPuntClasses; ++c) {
        const std::string name(tapd::punt_class_name(static_cast<tapd::PuntClass>(c)));
        const auto item = pp[name];
        if (!item) continue;
        const std::string where = "router.punt_policer." + name;
        r.only_keys(item, where, {"rate", "burst"});
        auto& pc = rc.punt_policy.classes[c];
        if (item["rate"]) pc.rate = r.number<std::uint32_t>(item["rate"], where + ".rate", 0, 10000000);
        if (item["burst"]) pc.burst = r.number<std::uint32_t>(item["burst"], where + ".burst", 1, 10000000);
      }
    }
  }
  if (auto h = n["stale_hold"]) {
    r.only_keys(h, "router.stale_hold", {"quiet", "max"});
    auto ms = [&](const char* key) {
      const std::string where = std::string("router.stale_hold.") + key;
      return std::chrono::milliseconds(
          static_cast<long>(r.number<double>(h[key], where, 0, 86400) * 1000));
    };
    if (h["quiet"]) rt.stale_quiet = ms("quiet");
    if (h["max"]) rt.stale_max = ms("max");
  }
  if (auto s = n["switches"]) {
    if (!s.IsSequence()) r.fail(s, "router.switches", "must be a list");
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto& item = s[i];
      const std::string where = "router.switches[" + std::to_string(i) + "]";
      r.only_keys(item, where, {"dpid", "name", "netns", "ports", "vlans", "mac_table_size", "mac_aging",
                                "profile", "table_capacity"});
      tapd::SwitchConfig sc;
      if (!item["dpid"]) r.fail(item, where, "needs dpid");
      try {
        sc.dpid = parse_datapath_id(r.str(item["dpid"], where + ".dpid"));
      } catch (const ConfigError& e) {
        r.fail(item["dpid"], where + ".dpid", e.what());
      }
      if (!seen.insert(sc.dpid).second) r.fail(item["dpid"], where + ".dpid", "listed twice");
      if (item["name"]) sc.name = r.str(item["name"], where + ".name");
      if (item["netns"]) sc.netns = r.str(item["netns"], where + ".netns");
      for (const auto* text : {&sc.name, &sc.netns}) {
        if (text->find('/') != std::string::npos || *text == "." || *text == "..") {
          r.fail(item, where, "'" + *text + "' cannot name a network namespace");
        }
      }
      if (auto ports = item["ports"]) {
        if (!ports.IsSequence()) r.fail(ports, where + ".ports", "must be a list");
        for (std::size_t j = 0; j < ports.size(); ++j) {
          tapd::PortConfig pc;
          parse_port(r, ports[j], where + ".ports[" + std::to_string(j) + "]", pc);
          sc.ports.push_back(std::move(pc));
        }
      }
      if (auto vlans = item["vlans"]) parse_vlans(r, vlans, where + ".vlans", sc);
      if (item["mac_table_size"]) {
        sc.mac_table_size = r.number<std::size_t>(item["mac_table_size"], where + ".mac_table_size", 1, 1000000);
      }
      if (item["mac_aging"]) sc.mac_aging = r.number<std::uint16_t>(item["mac_aging"], where + ".mac_aging", 1, 65535);
      if (item["profile"] || item["table_capacity"]) {
        ProfileConfig& pc = cfg.profiles[sc.dpid];
        if (item["profile"]) pc.kind = profile_of(item["profile"], where + ".profile");
        if (item["table_capacity"]) {
          pc.table_capacity = r.number<std::uint32_t>(item["table_capacity"], where + ".table_capacity", 1,
                                                      0xffffffff);
        }
      }
      rc.switches.push_back(std::move(sc));
    }
  }
  // VLAN mode: table 0 -> l2_table (eth_src) -> l2_table + 1 (eth_dst) -> the
  // FIB. GotoTable only goes forward, so an unset fib_table moves after them.
  pl.l2_tables = std::any_of(rc.switches.begin(), rc.switches.end(),
                             [](const tapd::SwitchConfig& sc) { return !sc.vlans.empty(); });
  if (pl.l2_tables) {
    const unsigned after = pl.first_fib_table();
    if (!n["fib_table"]) {
      pl.fib_table = static_cast<std::uint8_t>(after);
    } else if (*pl.fib_table < after) {
      r.fail(n["fib_table"], "router.fib_table",
             "with VLANs the FIB must come after the VLAN tables " + std::to_string(pl.l2_table) + " and " +
                 std::to_string(pl.l2_dst_table()) + " (l2_table): use " + std::to_string(after) + " or more");
    }
  }
  if (const std::string_view why = pl.validate(); !why.empty()) r.fail(n, "router", std::string(why));
}

}  // namespace

controller::ListenerConfig parse_listen(const std::string& spec) {
  controller::ListenerConfig l;
  auto colon = spec.find(':');
  if (colon == std::string::npos) throw ConfigError("listen '" + spec + "': expected tcp:ADDR:PORT or tls:ADDR:PORT");
  const std::string kind = spec.substr(0, colon);
  if (kind != "tcp" && kind != "tls") {
    throw ConfigError("listen '" + spec + "': transport must be tcp or tls, not '" + kind + "'");
  }
  l.tls = kind == "tls";
  std::string rest = spec.substr(colon + 1);
  std::string port_text = rest;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      throw ConfigError("listen '" + spec + "': IPv6 form is " + kind + ":[ADDR]:PORT");
    }
    l.address = rest.substr(1, close - 1);
    port_text = rest.substr(close + 2);
  } else if (auto c = rest.rfind(':'); c != std::string::npos) {
    l.address = rest.substr(0, c);
    port_text = rest.substr(c + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    throw ConfigError("listen '" + spec + "': bad port '" + port_text + "'");
  }
  l.port = static_cast<std::uint16_t>(port);
  boost::system::error_code bad;
  boost::asio::ip::make_address(l.address, bad);
  if (bad) throw ConfigError("listen '" + spec + "': bad address '" + l.address + "'");
  return l;
}

boost::asio::ip::tcp::endpoint parse_endpoint(const std::string& spec) {
  std::string address, port_text;
  if (!spec.empty() && spec[0] == '[') {
    const auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      throw ConfigError("'" + spec + "': the IPv6 form is [ADDR]:PORT");
    }
    address = spec.substr(1, close - 1);
    port_text = spec.substr(close + 2);
  } else {
    const auto c = spec.rfind(':');
    if (c == std::string::npos) throw ConfigError("'" + spec + "': expected ADDR:PORT (127.0.0.1:9108)");
    address = spec.substr(0, c);
    port_text = spec.substr(c + 1);
    if (address.find(':') != std::string::npos) {
      throw ConfigError("'" + spec + "': write an IPv6 address as [ADDR]:PORT");
    }
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    throw ConfigError("'" + spec + "': bad port '" + port_text + "'");
  }
  boost::system::error_code bad;
  const auto addr = boost::asio::ip::make_address(address, bad);
  if (bad) throw ConfigError("'" + spec + "': bad address '" + address + "'");
  return {addr, static_cast<std::uint16_t>(port)};
}

std::uint64_t parse_datapath_id(const std::string& text) {
  std::string hex;
  int base = 10;
  if (text.find(':') != std::string::npos) {
    for (char c : text) {
      if (c != ':') hex.push_back(c);
    }
    base = 16;
  } else if (text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0) {
    hex = text.substr(2);
    base = 16;
  } else {
    hex = text;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, base);
  if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size()) {
    throw ConfigError("datapath id '" + text + "' is not a number, 0x-hex or 00:00:..:01 form");
  }
  return v;
}

// control: false, or a map with the socket's path and group.
void parse_control(const Reader& r, const YAML::Node& n, ControlConfig& c) {
  if (n.IsScalar()) {
    if (r.boolean(n, "control")) r.fail(n, "control", "is false or a map (socket, group)");
    c.enabled = false;
    return;
  }
  r.only_keys(n, "control", {"socket", "group"});
  if (n["socket"]) {
    c.socket = r.str(n["socket"], "control.socket");
    // sockaddr_un holds 107 bytes and a NUL.
    if (c.socket.empty() || c.socket.front() != '/' || c.socket.size() > 107 ||
        c.socket.back() == '/') {
      r.fail(n["socket"], "control.socket", "must be an absolute path of a file (at most 107 bytes)");
    }
    c.explicit_socket = true;
  }
  if (n["group"]) {
    c.group = r.str(n["group"], "control.group");
    if (c.group.empty()) r.fail(n["group"], "control.group", "must not be empty");
  }
}

// cluster: etcd endpoints (and TLS), this instance's id, the lease TTL, the
// key prefix.
void parse_cluster(const Reader& r, const YAML::Node& n, DaemonConfig& cfg) {
  r.only_keys(n, "cluster", {"etcd", "id", "prefix", "lease_ttl"});
  ClusterConfig c;
  const YAML::Node etcd = n["etcd"];
  if (!etcd) r.fail(n, "cluster", "needs etcd (its endpoints)");
  r.only_keys(etcd, "cluster.etcd", {"endpoints", "ca_certificate", "certificate", "private_key",
                                     "request_timeout"});
  const YAML::Node eps = etcd["endpoints"];
  if (!eps || !eps.IsSequence() || eps.size() == 0) {
    r.fail(eps ? eps : etcd, "cluster.etcd.endpoints",
           "must be a non-empty list of http://HOST:PORT or https://HOST:PORT");
  }
  bool https = false;
  for (const auto& e : eps) {
    const std::string url = r.str(e, "cluster.etcd.endpoints");
    const bool tls = url.rfind("https://", 0) == 0;
    if (!tls && url.rfind("http://", 0) != 0) {
      r.fail(e, "cluster.etcd.endpoints", "'" + url + "' must start with http:// or https://");
    }
    const std::string rest = url.substr(tls ? 8 : 7);
    const auto colon = rest.rfind(':');
    if (rest.empty() || colon == std::string::npos || colon + 1 == rest.size()) {
      r.fail(e, "cluster.etcd.endpoints", "'" + url + "' needs a host and a port");
    }
    https = https || tls;
    c.endpoints.push_back(url);
  }
  if (etcd["ca_certificate"]) c.ca_file = r.str(etcd["ca_certificate"], "cluster.etcd.ca_certificate");
  if (etcd["certificate"]) c.cert_file = r.str(etcd["certificate"], "cluster.etcd.certificate");
  if (etcd["private_key"]) c.key_file = r.str(etcd["private_key"], "cluster.etcd.private_key");
  if (c.cert_file.empty() != c.key_file.empty()) {
    r.fail(etcd, "cluster.etcd", "certificate and private_key go together");
  }
  if (!https && (!c.ca_file.empty() || !c.cert_file.empty())) {
    r.fail(etcd, "cluster.etcd", "TLS files need https:// endpoints");
  }
  if (etcd["request_timeout"]) {
    c.request_timeout = std::chrono::milliseconds(static_cast<long>(
        r.number<double>(etcd["request_timeout"], "cluster.etcd.request_timeout", 0.05, 10) * 1000));
  }
  if (n["id"]) {
    c.instance_id = r.str(n["id"], "cluster.id");
    if (c.instance_id.empty()) r.fail(n["id"], "cluster.id", "must not be empty");
  }
  if (n["prefix"]) {
    c.prefix = r.str(n["prefix"], "cluster.prefix");
    if (c.prefix.empty() || c.prefix.front() != '/') {
      r.fail(n["prefix"], "cluster.prefix", "must start with /");
    }
    if (c.prefix.back() != '/') c.prefix += '/';
  }
  if (n["lease_ttl"]) {
    c.lease_ttl = std::chrono::seconds(r.number<unsigned>(n["lease_ttl"], "cluster.lease_ttl", 1, 600));
  }
  cfg.cluster = c;
  cfg.controller.roles = true;
}

DaemonConfig parse_config(const std::string& yaml, const std::string& name) {
  Reader r(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": " + e.msg,
                      e.mark.line + 1, e.mark.column + 1);
  }
  DaemonConfig cfg;
  if (!root || root.IsNull()) return cfg;
  r.only_keys(root, "", {"listen", "tls", "app", "log_level", "log_format", "keepalive", "datapaths",
                          "limits", "router", "metrics", "cluster", "control"});

  if (auto n = root["listen"]) {
    if (!n.IsSequence() || n.size() == 0) r.fail(n, "listen", "must be a non-empty list");
    cfg.controller.listeners.clear();
    for (const auto& item : n) {
      try {
        cfg.controller.listeners.push_back(parse_listen(r.str(item, "listen")));
      } catch (const ConfigError& e) {
        r.fail(item, "listen", e.what());
      }
    }
  }
  if (auto n = root["tls"]) {
    r.only_keys(n, "tls", {"certificate", "private_key", "ca_certificate",
                           "require_client_certificate"});
    controller::TlsFiles t;
    if (!n["certificate"] || !n["private_key"]) {
      r.fail(n, "tls", "needs certificate and private_key");
    }
    t.cert_file = r.str(n["certificate"], "tls.certificate");
    t.key_file = r.str(n["private_key"], "tls.private_key");
    if (n["ca_certificate"]) t.ca_file = r.str(n["ca_certificate"], "tls.ca_certificate");
    if (n["require_client_certificate"]) {
      t.require_client_cert =
          r.boolean(n["require_client_certificate"], "tls.require_client_certificate");
    }
    if (t.require_client_cert && t.ca_file.empty()) {
      r.fail(n, "tls", "require_client_certificate needs ca_certificate");
    }
    cfg.controller.tls = t;
  }
  for (const auto& l : cfg.controller.listeners) {
    if (l.tls && !cfg.controller.tls) r.fail(root["listen"], "listen", "a tls: listener needs a tls: section");
  }
  if (auto n = root["app"]) {
    cfg.app = r.str(n, "app");
    if (kApps.count(cfg.app) == 0) r.fail(n, "app", "unknown app '" + cfg.app + "' (known: learning-switch, router)");
  }
  if (auto n = root["log_level"]) {
    cfg.log_level = r.str(n, "log_level");
    if (kLogLevels.count(cfg.log_level) == 0) {
      r.fail(n, "log_level", "must be trace, debug, info, warn, error or off");
    }
  }
  if (auto n = root["log_format"]) {
    cfg.log_format = r.str(n, "log_format");
    if (kLogFormats.count(cfg.log_format) == 0) r.fail(n, "log_format", "must be text or json");
  }
  if (auto n = root["control"]) parse_control(r, n, cfg.control);
  if (auto n = root["keepalive"]) {
    r.only_keys(n, "keepalive", {"echo_interval", "echo_misses", "handshake_timeout",
                                 "request_timeout"});
    auto& c = cfg.controller.connection;
    auto secs = [&](const char* key) {
      return std::chrono::milliseconds(
          static_cast<long>(r.number<double>(n[key], std::string("keepalive.") + key, 0.05, 3600) * 1000));
    };
    if (n["echo_interval"]) c.echo_interval = secs("echo_interval");
    if (n["echo_misses"]) c.echo_misses = r.number<unsigned>(n["echo_misses"], "keepalive.echo_misses", 1, 100);
    if (n["handshake_timeout"]) c.handshake_timeout = secs("handshake_timeout");
    if (n["request_timeout"]) c.request_timeout = secs("request_timeout");
  }
  if (auto n = root["datapaths"]) {
    r.only_keys(n, "datapaths", {"allow"});
    if (auto a = n["allow"]) {
      if (!a.IsSequence()) r.fail(a, "datapaths.allow", "must be a list of datapath ids");
      for (const auto& item : a) {
        try {
          cfg.controller.allowed_datapaths.insert(parse_datapath_id(r.str(item, "datapaths.allow")));
        } catch (const ConfigError& e) {
          r.fail(item, "datapaths.allow", e.what());
        }
      }
    }
  }
  if (auto n = root["limits"]) {
    r.only_keys(n, "limits", {"max_connections", "write_queue_bytes"});
    if (n["max_connections"]) {
      cfg.controller.max_connections =
          r.number<std::size_t>(n["max_connections"], "limits.max_connections", 1, 1000000);
    }
    if (n["write_queue_bytes"]) {
      cfg.controller.connection.write_limit = r.number<std::size_t>(
          n["write_queue_bytes"], "limits.write_queue_bytes", 65536, std::size_t{1} << 32);
      cfg.controller.connection.write_high_watermark = cfg.controller.connection.write_limit / 8;
    }
  }
  if (auto n = root["router"]) parse_router(r, n, cfg);
  if (auto n = root["cluster"]) parse_cluster(r, n, cfg);
  if (auto n = root["metrics"]) {
    r.only_keys(n, "metrics", {"listen"});
    if (!n["listen"]) r.fail(n, "metrics", "needs listen (ADDR:PORT, e.g. 127.0.0.1:9108)");
    const auto text = r.str(n["listen"], "metrics.listen");
    try {
      parse_endpoint(text);
    } catch (const ConfigError& e) {
      r.fail(n["listen"], "metrics.listen", e.what());
    }
    cfg.metrics_listen = text;
  }
  return cfg;
}

std::string read_config_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

DaemonConfig load_config(const std::string& path) { return parse_config(read_config_text(path), path); }

std::vector<std::string> CommandLine::fixed_keys() const {
  std::vector<std::string> keys;
  if (!listen.empty()) keys.emplace_back("listen");
  if (!app.empty()) keys.emplace_back("app");
  if (!log_level.empty()) keys.emplace_back("log_level");
  if (!log_format.empty()) keys.emplace_back("log_format");
  if (!control_socket.empty()) keys.emplace_back("control.socket");
  if (!tls_cert.empty() || !tls_key.empty()) keys.emplace_back("tls");
  if (echo_interval > 0) keys.emplace_back("keepalive.echo_interval");
  if (!metrics_listen.empty()) keys.emplace_back("metrics.listen");
  return keys;
}

void apply_command_line(DaemonConfig& cfg, const CommandLine& cli) {
  if (!cli.listen.empty()) {
    cfg.controller.listeners.clear();
    for (const auto& l : cli.listen) cfg.controller.listeners.push_back(parse_listen(l));
  }
  if (!cli.app.empty()) {
    if (kApps.count(cli.app) == 0) {
      throw ConfigError("--app: unknown app '" + cli.app + "' (known: learning-switch, router)");
    }
    cfg.app = cli.app;
  }
  if (!cli.log_level.empty()) cfg.log_level = cli.log_level;
  if (!cli.log_format.empty()) cfg.log_format = cli.log_format;
  if (!cli.control_socket.empty()) {
    if (cli.control_socket.front() != '/') throw ConfigError("--control-socket: must be an absolute path");
    cfg.control.enabled = true;
    cfg.control.socket = cli.control_socket;
    cfg.control.explicit_socket = true;
  }
  if (!cli.tls_cert.empty() || !cli.tls_key.empty()) {
    controller::TlsFiles t;
    t.cert_file = cli.tls_cert;
    t.key_file = cli.tls_key;
    t.ca_file = cli.tls_ca;
    t.require_client_cert = !cli.tls_ca.empty();
    cfg.controller.tls = t;
  }
  if (cli.echo_interval > 0) {
    cfg.controller.connection.echo_interval =
        std::chrono::milliseconds(static_cast<long>(cli.echo_interval * 1000));
  }
  if (!cli.metrics_listen.empty()) {
    try {
      parse_endpoint(cli.metrics_listen);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("--metrics: ") + e.what());
    }
    cfg.metrics_listen = cli.metrics_listen;
  }
}

}  // namespace tapflow::daemon
