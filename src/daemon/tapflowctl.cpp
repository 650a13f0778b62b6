// tapflowctl: command-line tools for tapflow. For now: `decode`.
#include <CLI/CLI.hpp>

#include <iostream>

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

  CLI11_PARSE(app, argc, argv);

  if (*cmd) return tapflow::ctl::run_decode(decode, std::cin, std::cout, std::cerr);
  return 2;
}
