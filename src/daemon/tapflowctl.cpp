// tapflowctl: command-line tools for tapflow: decode OpenFlow messages,
// inspect a running tapflowd (status, show ...), reload it, check a config file.
#include <CLI/CLI.hpp>

#include <iostream>

#include "ctl_commands.hpp"
#include "decode_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tapflowctl: tapflow command-line tools"};
  app.require_subcommand(1);

  tapflow::ctl::DecodeOptions decode;
  auto* cmd = app.add_subcommand(
      "decode",
      "Decode OpenFlow 1.0/1.3 messages: each FILE holds one or more concatenated "
      "binary messages (or hex text with --hex). Problems are reported with the file, "
      "the byte offset in its (decoded) byte stream and the OpenFlow error; the exit "
      "status is then 1.");
  cmd->add_flag("--hex", decode.hex, "FILE is hex text ('#' starts a comment)");
  cmd->add_flag("--json", decode.json, "print one JSON document per line (Ryu's shape)");
  cmd->add_flag("--roundtrip", decode.roundtrip,
                "re-encode every message and check the bytes are the same");
  cmd->add_option("FILE", decode.files, "input files, '-' for standard input")->required();

  // status and show: one request to tapflowd's control socket.
  tapflow::ctl::ControlOptions control;
  std::size_t limit = 0;
  auto add_control_options = [&](CLI::App* c) {
    c->add_option("--socket", control.socket, "tapflowd's control socket")
        ->capture_default_str();
    c->add_flag("--json", control.json, "print tapflowd's JSON reply as it is");
  };
  std::vector<std::string> status_args;
  auto* status = app.add_subcommand(
      "status", "Per switch: connected, OpenFlow version, role, FIB synced, routes, flows, "
                "withheld flows, programming progress. Exit status 3 when tapflowd cannot be "
                "reached, 1 when it answers with an error.");
  add_control_options(status);
  status->add_option("SWITCH", status_args, "a switch's name, datapath id or namespace");
  std::vector<std::string> show_args;
  auto* show = app.add_subcommand(
      "show",
      "show switches | ports [SWITCH] | routes [SWITCH] [PREFIX|ADDRESS] | neighbors [SWITCH] | "
      "groups [SWITCH] | flows [SWITCH] [--diff] | taps [SWITCH] | punt [SWITCH] | ha");
  add_control_options(show);
  show->add_flag("--diff", control.diff,
                 "show flows: only flows missing from the switch, extra or different");
  show->add_option("--limit", limit, "at most this many rows per switch (default 100000)");
  show->add_option("VIEW", show_args, "the view and its arguments")->required();

  auto* reload = app.add_subcommand(
      "reload", "Make tapflowd read its config file again and apply what changed without a "
                "restart: switches' ports, addresses, MTUs, VLANs, punt policers, carrier hold, log "
                "level and format. Prints what changed and what needs a restart. A file that does not "
                "load is refused and nothing changes (exit 1, FILE:LINE:COLUMN: message).");
  add_control_options(reload);

  std::string check_file;
  auto* config = app.add_subcommand("config", "tapflowd configuration files");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate a tapflowd config file as tapflowd reads it: errors as "
               "FILE:LINE:COLUMN: message (exit 1), else a one-line summary (exit 0)");
  check->add_option("FILE", check_file, "the YAML file")->required();

  CLI11_PARSE(app, argc, argv);

  if (*cmd) return tapflow::ctl::run_decode(decode, std::cin, std::cout, std::cerr);
  if (*reload) {
    control.words = {"reload"};
    return tapflow::ctl::run_control(control, std::cout, std::cerr);
  }
  if (*status || *show) {
    control.words = *status ? std::vector<std::string>{"status"} : std::vector<std::string>{"show"};
    const auto& args = *status ? status_args : show_args;
    control.words.insert(control.words.end(), args.begin(), args.end());
    if (limit > 0) control.limit = limit;
    return tapflow::ctl::run_control(control, std::cout, std::cerr);
  }
  if (*check) return tapflow::ctl::run_config_check(check_file, std::cout, std::cerr);
  return 2;
}
