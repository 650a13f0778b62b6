// tapflowctl status / show / config check (ctl_commands.hpp).
#include "ctl_commands.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "control_request.hpp"
#include "ctl_tables.hpp"
#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::ctl {
namespace {

using json = nlohmann::json;

// Thrown with the exit status and the message for the user.
struct Failure {
  int status;
  std::string message;
};

netns::UniqueFd connect_to(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) throw Failure{kExitUsage, "socket path too long: " + path};
  netns::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw Failure{kExitUnreachable, std::string("socket: ") + std::strerror(errno)};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
      throw Failure{kExitUnreachable,
                    "cannot connect to tapflowd: is tapflowd running? (" + path + ": " + std::strerror(e) + ")"};
    }
    if (e == EACCES || e == EPERM) {
      throw Failure{kExitUnreachable, "permission denied on " + path +
                                          ": run tapflowctl as root or as a member of the tapflow group "
                                          "(tapflowd's control.group)"};
    }
    throw Failure{kExitUnreachable, "cannot connect to " + path + ": " + std::strerror(e)};
  }
  return fd;
}

std::string ask(const netns::UniqueFd& fd, const std::string& request) {
  const std::string line = request + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Failure{kExitUnreachable, std::string("sending the request: ") + std::strerror(errno)};
    }
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd.get(), SHUT_WR);  // one request: tapflowd closes after the reply
  std::string reply;
  char buf[65536];
  while (reply.find('\n') == std::string::npos) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) throw Failure{kExitUnreachable, "tapflowd did not answer in time"};
      throw Failure{kExitUnreachable, std::string("reading the reply: ") + std::strerror(errno)};
    }
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (reply.empty()) throw Failure{kExitUnreachable, "tapflowd closed the connection without a reply"};
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  return reply;
}

std::string plural(std::size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

int run_control(const ControlOptions& options, std::ostream& out, std::ostream& err) {
  try {
    std::string request;
    try {
      request = daemon::control_request_line(options.words, options.diff, options.limit);
    } catch (const daemon::ControlRequestError& e) {
      throw Failure{kExitUsage, e.what()};
    }
    const std::string view = options.words[0] == "show"
                                 ? std::string(daemon::view_name(*daemon::parse_view(options.words[1])))
                                 : options.words[0];
    const auto fd = connect_to(options.socket, options.timeout);
    const std::string line = ask(fd, request);
    json reply;
    try {
      reply = json::parse(line);
    } catch (const json::exception&) {
      throw Failure{kExitFailed, "tapflowd's reply is not JSON: " + line.substr(0, 200)};
    }
    if (reply.is_object() && reply.contains("error")) {
      if (options.json) out << line << "\n";
      throw Failure{kExitFailed, "tapflowd: " + cell(reply["error"])};
    }
    if (options.json) {
      out << line << "\n";
    } else {
      out << format_reply(view, reply);
    }
    // A reload some of whose changes the kernel or the switch refused.
    if (view == "reload" && !reply.value("failed", json::array()).empty()) return kExitFailed;
    return kExitOk;
  } catch (const Failure& f) {
    err << "tapflowctl: " << f.message << "\n";
    return f.status;
  }
}

int run_config_check(const std::string& file, std::ostream& out, std::ostream& err) {
  daemon::DaemonConfig cfg;
  try {
    cfg = daemon::load_config(file);
  } catch (const daemon::ConfigError& e) {
    err << e.what() << "\n";
    return kExitFailed;
  }
  std::string summary = file + ": ok: app " + cfg.app + ", " +
                        plural(cfg.controller.listeners.size(), "listener");
  if (cfg.app == "router") {
    const std::size_t n = cfg.router.switches.size();
    summary += ", " + std::to_string(n) + (n == 1 ? " configured switch" : " configured switches");
    summary += cfg.routing ? ", routing on" : ", routing off";
  }
  if (cfg.cluster) summary += ", cluster (" + plural(cfg.cluster->endpoints.size(), "etcd endpoint") + ")";
  if (cfg.metrics_listen) summary += ", metrics " + *cfg.metrics_listen;
  summary += cfg.control.enabled ? ", control " + cfg.control.socket : ", control off";
  summary += ", log " + cfg.log_level + " " + cfg.log_format;
  out << summary << "\n";
  return kExitOk;
}

}  // namespace tapflow::ctl
