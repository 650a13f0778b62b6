#include "tapflow/fdstore/client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <thread>

#include "fd_passing.hpp"
#include "tapflow/fdstore/protocol.hpp"

namespace tapflow::fdstore {

// ---------------------------------------------------------------- client

std::unique_ptr<FdStoreClient> FdStoreClient::connect(const std::string& name,
                                                      std::chrono::milliseconds timeout) {
  const auto addr = socket_address(name);
  if (!addr)
    throw std::system_error(EINVAL, std::generic_category(), "fd store name '" + name + "'");
  netns::UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) throw std::system_error(errno, std::generic_category(), "fd store socket");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0) {
    const int err = errno;
    if (err == ECONNREFUSED || err == ENOENT) return nullptr;
    throw std::system_error(err, std::generic_category(), "connecting to the fd store at " + name);
  }
  // The store answers at once; a store that hangs must not hang tapflowd.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(s.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) cred.pid = 0;
  return std::unique_ptr<FdStoreClient>(new FdStoreClient(name, std::move(s), cred.pid));
}

FdStoreClient::FdStoreClient(std::string name, netns::UniqueFd sock, pid_t peer)
    : name_(std::move(name)), sock_(std::move(sock)), peer_pid_(peer) {}

void FdStoreClient::lost(const std::string& why) {
  spdlog::warn("fd store at {} lost ({}): TAPs will lose their carrier when tapflowd restarts",
               name_, why);
  sock_.reset();
}

bool FdStoreClient::send(const std::string& bytes, int fd, const char* what) {
  if (!sock_) return false;
  if (int err = detail::send_message(sock_.get(), bytes, fd)) {
    lost(std::string(what) + ": " + std::strerror(err));
    return false;
  }
  return true;
}

bool FdStoreClient::put(const std::string& key, int fd) {
  if (!valid_key(key)) {
    spdlog::warn("fd store: not storing '{}': not a valid key", key);
    return false;
  }
  return send(encode({Op::kPut, key}), fd, "put");
}

bool FdStoreClient::del(const std::string& key) {
  if (!valid_key(key)) return false;
  return send(encode({Op::kDel, key}), -1, "del");
}

std::vector<StoredFd> FdStoreClient::list() {
  std::vector<StoredFd> out;
  if (!send(encode({Op::kList, {}}), -1, "list")) return out;
  while (true) {
    detail::Received r = detail::receive_message(sock_.get(), kMaxMessage, 0);
    if (r.error != 0 || r.eof) {
      lost(r.eof ? "closed while listing" : std::string("list: ") + std::strerror(r.error));
      return {};
    }
    const auto m = r.truncated ? std::nullopt : decode(r.bytes);
    if (m && m->op == Op::kEnd && r.fds.empty()) return out;
    if (!m || m->op != Op::kEntry || r.fds.size() != 1) {
      lost("malformed answer to list");
      return {};
    }
    out.push_back(StoredFd{m->key, std::move(r.fds[0])});
  }
}

// ---------------------------------------------------------------- spawning

std::string default_program() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "tapflow-fdstore";
  std::string self(buf, static_cast<std::size_t>(n));
  const auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
         "/tapflow-fdstore";
}

namespace {

// Starts `argv[0]` detached: a grandchild in its own session (no terminal,
// not our child, so never our zombie), stdio on /dev/null or the log file,
// no descriptor of ours (TAPs, the switch sockets) inherited. Between fork
// and exec only async-signal-safe calls. Returns an errno, or 0.
int spawn_detached(const std::vector<std::string>& args, const std::string& log_file) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const char* out_path = log_file.empty() ? "/dev/null" : log_file.c_str();
  const pid_t child = ::fork();
  if (child < 0) return errno;
  if (child == 0) {
    ::setsid();
    const pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::signal(sig, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

std::unique_ptr<FdStoreClient> try_connect(const std::string& name) {
  try {
    return FdStoreClient::connect(name);
  } catch (const std::exception& e) {
    spdlog::warn("fd store: {}", e.what());
    return nullptr;
  }
}

}  // namespace

std::unique_ptr<FdStoreClient> connect_or_spawn(const StoreOptions& options) {
  const char* without =
      "tapflowd runs without it: TAPs stay, but lose their carrier across a restart";
  if (!socket_address(options.name)) {
    spdlog::warn("fd store: '{}' is not a usable socket name; {}", options.name, without);
    return nullptr;
  }
  auto client = try_connect(options.name);
  if (!client && options.spawn) {
    const std::string program = options.program.empty() ? default_program() : options.program;
    if (::access(program.c_str(), X_OK) != 0) {
      spdlog::warn("fd store: cannot run {}: {}; {}", program, std::strerror(errno), without);
      return nullptr;
    }
    const std::vector<std::string> args{program, "--name", options.name, "--linger",
                                        std::to_string(options.linger.count())};
    if (int err = spawn_detached(args, options.log_file)) {
      spdlog::warn("fd store: starting {} failed: {}; {}", program, std::strerror(err), without);
      return nullptr;
    }
    const auto deadline = std::chrono::steady_clock::now() + options.wait;
    while (!client && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      client = try_connect(options.name);
    }
  }
  if (!client) {
    spdlog::warn("fd store: nobody listens at {}{}; {}", options.name,
                 options.spawn ? " (even after starting it)" : " (spawn: false)", without);
    return nullptr;
  }
  spdlog::info("fd store: pid {} at {}", client->peer_pid(), options.name);
  return client;
}

}  // namespace tapflow::fdstore
