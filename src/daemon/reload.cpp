// Live reload (reload.hpp).
#include "reload.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>

#include "json_log.hpp"

namespace tapflow::daemon {
namespace {

// Keys a reload applies (the rest of router.switches' entries is tapd's to
// judge: reconfigure() names what it keeps).
const std::set<std::string> kLive = {"log_level", "log_format", "router.punt_policer", "router.carrier_hold"};
// In a router.switches entry, what only a restart applies (the profile book
// is built at start).
const std::set<std::string> kSwitchRestart = {"profile", "table_capacity"};

// A missing key gives an invalid node, on which Type() throws: ask first.
bool absent(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }
bool is_map(const YAML::Node& n) { return !absent(n) && n.IsMap(); }

bool same(const YAML::Node& a, const YAML::Node& b) {
  if (absent(a) || absent(b)) return absent(a) == absent(b);
  if (a.Type() != b.Type()) return false;
  if (a.IsScalar()) return a.Scalar() == b.Scalar();
  if (a.size() != b.size()) return false;
  if (a.IsSequence()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same(a[i], b[i])) return false;
    }
    return true;
  }
  for (const auto& kv : a) {
    if (!same(kv.second, b[kv.first.Scalar()])) return false;
  }
  return true;
}

std::set<std::string> keys_of(const YAML::Node& a, const YAML::Node& b) {
  std::set<std::string> keys;
  for (const YAML::Node* n : {&a, &b}) {
    if (!is_map(*n)) continue;
    for (const auto& kv : *n) keys.insert(kv.first.Scalar());
  }
  return keys;
}

// router.switches entries by datapath id (the file is valid: each has one).
std::map<std::uint64_t, YAML::Node> by_dpid(const YAML::Node& seq) {
  std::map<std::uint64_t, YAML::Node> out;
  if (absent(seq) || !seq.IsSequence()) return out;
  for (const auto& item : seq) {
    try {
      out.emplace(parse_datapath_id(item["dpid"].Scalar()), item);
    } catch (const std::exception&) {
    }
  }
  return out;
}

void diff_switches(const YAML::Node& a, const YAML::Node& b, std::vector<std::string>& out) {
  auto before = by_dpid(a), after = by_dpid(b);
  std::set<std::uint64_t> ids;
  for (const auto& [id, n] : before) ids.insert(id);
  for (const auto& [id, n] : after) ids.insert(id);
  static const YAML::Node kNone;
  for (const std::uint64_t id : ids) {
    auto ia = before.find(id), ib = after.find(id);
    const YAML::Node& na = ia != before.end() ? ia->second : kNone;
    const YAML::Node& nb = ib != after.end() ? ib->second : kNone;
    for (const auto& key : kSwitchRestart) {
      const YAML::Node va = is_map(na) ? na[key] : kNone, vb = is_map(nb) ? nb[key] : kNone;
      if (!same(va, vb)) out.push_back(fmt::format("router.switches[{:#x}].{}", id, key));
    }
  }
}

void diff(const YAML::Node& a, const YAML::Node& b, const std::string& path, std::vector<std::string>& out) {
  // Mappings (or a mapping beside nothing) are compared key by key, the
  // rest as a whole.
  const bool maps = (is_map(a) || absent(a)) && (is_map(b) || absent(b)) && (is_map(a) || is_map(b));
  if (!maps) {
    if (!same(a, b)) out.push_back(path);
    return;
  }
  static const YAML::Node kNone;
  for (const auto& key : keys_of(a, b)) {
    const std::string p = path.empty() ? key : path + "." + key;
    const YAML::Node va = is_map(a) ? a[key] : kNone, vb = is_map(b) ? b[key] : kNone;
    if (kLive.contains(p)) continue;
    if (p == "router.switches") {
      diff_switches(va, vb, out);
      continue;
    }
    diff(va, vb, p, out);
  }
}

bool under(const std::string& key, const std::string& prefix) {
  return key == prefix || key.rfind(prefix + ".", 0) == 0;
}

}  // namespace

ReloadPlan plan_reload(const std::string& running_yaml, const std::string& next_yaml,
                       const std::vector<std::string>& command_line_keys) {
  std::vector<std::string> changed;
  const YAML::Node a = YAML::Load(running_yaml), b = YAML::Load(next_yaml);
  diff(a, b, "", changed);
  // The live keys the command line fixes are reported too: the file's
  // change has no effect there.
  for (const auto& key : {"log_level", "log_format"}) {
    if (!same(a[key], b[key])) changed.emplace_back(key);
  }
  ReloadPlan plan;
  for (const auto& key : changed) {
    const bool fixed = std::any_of(command_line_keys.begin(), command_line_keys.end(),
                                   [&key](const std::string& k) { return under(key, k); });
    if (fixed) {
      plan.fixed_by_command_line.push_back(key);
    } else if (key != "log_level" && key != "log_format") {
      plan.restart_needed.push_back(key);
    }
  }
  std::sort(plan.restart_needed.begin(), plan.restart_needed.end());
  std::sort(plan.fixed_by_command_line.begin(), plan.fixed_by_command_line.end());
  return plan;
}

std::string ReloadOutcome::summary() const {
  if (!error.empty()) return "reload refused, running configuration kept: " + error;
  std::string s = fmt::format("reloaded {}: {} change(s) applied", file, applied.size());
  if (!failed.empty()) s += fmt::format(", {} failed", failed.size());
  if (!restart_needed.empty()) s += fmt::format(", {} need a restart", restart_needed.size());
  return s;
}

nlohmann::json ReloadOutcome::to_json() const {
  if (!error.empty()) return {{"error", "reload refused, running configuration kept: " + error}};
  return {{"file", file},
          {"applied", applied},
          {"restart_needed", restart_needed},
          {"failed", failed},
          {"fixed_by_command_line", fixed_by_command_line}};
}

Reloader::Reloader(boost::asio::io_context& io, ServiceNotifier& notifier, std::string file,
                   std::string running_text, const DaemonConfig& running, CommandLine command_line,
                   Apply apply)
    : hangup_(io, SIGHUP),
      notifier_(notifier),
      file_(std::move(file)),
      started_text_(std::move(running_text)),
      log_level_(running.log_level),
      log_format_(running.log_format),
      command_line_(std::move(command_line)),
      apply_(std::move(apply)) {
  wait_hangup();
}

void Reloader::wait_hangup() {
  // SIGHUP, as ExecReload=/bin/kill -HUP $MAINPID sends it (never its
  // default action, which would end tapflowd).
  hangup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    spdlog::info("SIGHUP: reloading {}", file_.empty() ? "(no configuration file)" : file_);
    reload();
    wait_hangup();
  });
}

ReloadOutcome Reloader::reload() {
  ReloadOutcome out;
  out.file = file_;
  if (file_.empty()) {
    out.error = "tapflowd runs without a configuration file (-c): nothing to reload";
    spdlog::warn("reload: {}", out.error);
    return out;
  }
  notifier_.reloading("reloading " + file_);
  DaemonConfig next;
  std::string text;
  try {
    text = read_config_text(file_);
    next = parse_config(text, file_);
    apply_command_line(next, command_line_);
  } catch (const std::exception& e) {
    out.error = e.what();
    spdlog::error("reload: {} refused, the running configuration stays: {}", file_, out.error);
    notifier_.reloaded(out.summary());
    return out;
  }
  const ReloadPlan plan = plan_reload(started_text_, text, command_line_.fixed_keys());
  out.fixed_by_command_line = plan.fixed_by_command_line;
  for (const auto& key : plan.restart_needed) out.restart_needed.push_back(key + ": takes effect at the next restart");
  if (next.log_format != log_format_ || next.log_level != log_level_) {
    if (next.log_format != log_format_) out.applied.push_back("log_format " + log_format_ + " -> " + next.log_format);
    if (next.log_level != log_level_) out.applied.push_back("log_level " + log_level_ + " -> " + next.log_level);
    setup_logging(next.log_format, next.log_level);
    log_format_ = next.log_format;
    log_level_ = next.log_level;
  }
  if (apply_) apply_(next, out);
  for (const auto& key : out.fixed_by_command_line) {
    spdlog::info("reload: {} changed in the file, but the command line sets it", key);
  }
  for (const auto& key : plan.restart_needed) spdlog::warn("reload: {} changed: takes effect at the next restart", key);
  spdlog::info("reload: {}", out.summary());
  notifier_.reloaded(out.summary());
  return out;
}

}  // namespace tapflow::daemon
