#include "config.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace tapflow::daemon {
namespace {

const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};
const std::set<std::string> kApps = {"learning-switch"};

class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const YAML::Node& n, const std::string& key, const std::string& what) const {
    std::ostringstream s;
    s << name_;
    if (n.IsDefined() && n.Mark().line >= 0) {
      s << ":" << n.Mark().line + 1 << ":" << n.Mark().column + 1;
    }
    s << ": " << key << ": " << what;
    throw ConfigError(s.str());
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

DaemonConfig parse_config(const std::string& yaml, const std::string& name) {
  Reader r(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  DaemonConfig cfg;
  if (!root || root.IsNull()) return cfg;
  r.only_keys(root, "", {"listen", "tls", "app", "log_level", "keepalive", "datapaths", "limits"});

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
    if (kApps.count(cfg.app) == 0) r.fail(n, "app", "unknown app '" + cfg.app + "' (known: learning-switch)");
  }
  if (auto n = root["log_level"]) {
    cfg.log_level = r.str(n, "log_level");
    if (kLogLevels.count(cfg.log_level) == 0) {
      r.fail(n, "log_level", "must be trace, debug, info, warn, error or off");
    }
  }
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
  return cfg;
}

DaemonConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream s;
  s << in.rdbuf();
  return parse_config(s.str(), path);
}

}  // namespace tapflow::daemon
