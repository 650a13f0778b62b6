// Live reload (tapflowctl reload, SIGHUP): which config changes apply to a
// running tapflowd and which wait for a restart, and the Reloader that reads
// the file again, refuses a bad one untouched, and applies the rest.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "service_notify.hpp"

namespace tapflow::daemon {

// Config keys (YAML paths, "router.fib_table", "router.switches[0x1].profile")
// whose value differs between two valid config texts and that only a restart
// applies, and those the command line fixes (their change has no effect).
// The keys that change live are left out: log_level, log_format and the
// router's switches (ports, addresses, VLANs), punt_policer and carrier_hold.
struct ReloadPlan {
  std::vector<std::string> restart_needed;
  std::vector<std::string> fixed_by_command_line;
};
ReloadPlan plan_reload(const std::string& running_yaml, const std::string& next_yaml,
                       const std::vector<std::string>& command_line_keys);

struct ReloadOutcome {
  std::string file;
  std::string error;  // set: refused ("FILE:LINE:COLUMN: ..."), nothing changed
  std::vector<std::string> applied;
  std::vector<std::string> restart_needed;
  std::vector<std::string> failed;  // changes the kernel or switch refused
  std::vector<std::string> fixed_by_command_line;
  bool ok() const { return error.empty() && failed.empty(); }
  // One line for the log and systemd's STATUS.
  std::string summary() const;
  nlohmann::json to_json() const;
};

class Reloader {
 public:
  // Applies the live part of a new config (tapd's switches, punt policers,
  // carrier hold) and adds what it did to the outcome.
  using Apply = std::function<void(const DaemonConfig& next, ReloadOutcome& outcome)>;

  // `running_text` is the file's text tapflowd started with (what needs a
  // restart is measured against it); `running` the config it runs, command
  // line applied. SIGHUP reloads too.
  Reloader(boost::asio::io_context& io, ServiceNotifier& notifier, std::string file, std::string running_text,
           const DaemonConfig& running, CommandLine command_line, Apply apply);
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  ReloadOutcome reload();

 private:
  void wait_hangup();

  boost::asio::signal_set hangup_;
  ServiceNotifier& notifier_;
  std::string file_;
  std::string started_text_;
  std::string log_level_, log_format_;  // as running
  CommandLine command_line_;
  Apply apply_;
};

}  // namespace tapflow::daemon
