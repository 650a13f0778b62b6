// tapflow-fdstore: holds tapflowd's TAP descriptors across its restarts, so
// the TAPs keep their carrier and the routing daemons see nothing. Started
// by tapflowd (detached) when none listens; exits when no tapflowd has been
// connected for --linger seconds, or at once on SIGTERM, closing every
// descriptor (the TAPs then show NO-CARRIER).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <iostream>
#include <system_error>

#include "tapflow/fdstore/server.hpp"
#include "tapflow/netns/unique_fd.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"tapflow-fdstore: keeps tapflowd's TAP descriptors across restarts"};
  tapflow::fdstore::ServerConfig config;
  double linger = 60;
  std::string log_level = "info";
  cli.add_option("--name", config.name, "socket: an abstract name, or a path if it starts with '/'")
      ->capture_default_str();
  cli.add_option("--linger", linger, "seconds without any client before exiting")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cli.add_option("--max-entries", config.max_entries, "descriptors kept at most")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  CLI11_PARSE(cli, argc, argv);
  config.linger = std::chrono::milliseconds(static_cast<long long>(linger * 1000));

  spdlog::set_default_logger(spdlog::stderr_color_mt("tapflow-fdstore"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::flush_on(spdlog::level::info);

  // SIGTERM/SIGINT through a signalfd: the poll loop sees them like any
  // other event and closes the descriptors on the way out.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  tapflow::netns::UniqueFd sigfd(signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return 1;
  }
  try {
    tapflow::fdstore::FdStoreServer server(config);
    server.run(sigfd.get());
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    // Another store already answers at this name: not an error for the
    // tapflowd that started us, which connects to that one.
    return e.code().value() == EADDRINUSE ? 3 : 1;
  }
  return 0;
}
