// tapflowctl's commands that talk to tapflowd (status, show ...) through its
// control socket, and `config check`, which reads a config as tapflowd does.
#pragma once

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace tapflow::ctl {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // tapflowd answered with an error; the config is invalid
inline constexpr int kExitUsage = 2;        // the request cannot be made as asked
inline constexpr int kExitUnreachable = 3;  // no tapflowd at the socket (or no permission)

struct ControlOptions {
  std::string socket = "/run/tapflow/tapflowd.sock";
  std::vector<std::string> words;  // "status" [SWITCH], "show" VIEW [ARGS...], or "reload"
  bool json = false;               // print the reply as tapflowd sent it
  bool diff = false;               // show flows --diff
  std::optional<std::size_t> limit;
  std::chrono::milliseconds timeout{30000};
};

// Sends one request and prints the reply: aligned tables, or the JSON line.
// reload: exit 1 when tapflowd refused the file or some change failed.
int run_control(const ControlOptions& options, std::ostream& out, std::ostream& err);

// Validates a tapflowd config file exactly as tapflowd reads it: prints a
// one-line summary and returns 0, or "FILE:LINE:COLUMN: message" and 1.
int run_config_check(const std::string& file, std::ostream& out, std::ostream& err);

}  // namespace tapflow::ctl
