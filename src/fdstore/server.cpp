#include "tapflow/fdstore/server.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "fd_passing.hpp"
#include "tapflow/fdstore/protocol.hpp"

namespace tapflow::fdstore {
namespace {

using Clock = std::chrono::steady_clock;

std::system_error sys_error(int err, const std::string& what) {
  return std::system_error(err, std::generic_category(), what);
}

// Every stored TAP costs one descriptor: take what the hard limit allows.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("fd store: cannot raise RLIMIT_NOFILE: {}", std::strerror(errno));
  }
}

}  // namespace

FdStoreServer::FdStoreServer(ServerConfig config) : config_(std::move(config)) {
  raise_fd_limit();
  const auto addr = socket_address(config_.name);
  if (!addr) throw sys_error(EINVAL, "fd store name '" + config_.name + "'");
  listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_) throw sys_error(errno, "fd store socket");
  if (config_.name[0] == '/') {
    // A socket file left by a store that died: remove it, but only if
    // nobody answers there (a live store keeps its name).
    struct stat st {};
    if (::lstat(config_.name.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      netns::UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
      if (probe &&
          ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) == 0) {
        throw sys_error(EADDRINUSE, "fd store at " + config_.name);
      }
      ::unlink(config_.name.c_str());
    }
  }
  if (::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0) {
    throw sys_error(errno, "binding the fd store at " + config_.name);
  }
  if (config_.name[0] == '/') {
    unlink_path_ = config_.name;
    // TAP descriptors are capabilities: only the owner may connect (the
    // peer's uid is checked as well, which is all an abstract name has).
    ::chmod(config_.name.c_str(), 0600);
  }
  if (::listen(listen_.get(), 16) != 0) throw sys_error(errno, "listen on the fd store");
}

FdStoreServer::~FdStoreServer() {
  if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
}

void FdStoreServer::run(int stop_fd) {
  auto last_client = Clock::now();
  bool accept_paused = false;
  spdlog::info("fd store: listening at {} (pid {}, linger {} ms)", config_.name, ::getpid(),
               config_.linger.count());
  while (true) {
    int timeout_ms = -1;
    if (clients_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          last_client + config_.linger - Clock::now());
      if (left.count() <= 0) {
        spdlog::info("fd store: no client for {} ms: closing {} descriptors and exiting",
                     config_.linger.count(), entries_.size());
        break;
      }
      timeout_ms = static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
    }
    // Out of descriptors: stop accepting for a moment rather than spin.
    if (accept_paused && (timeout_ms < 0 || timeout_ms > 100)) timeout_ms = 100;
    const bool had_clients = !clients_.empty();
    std::vector<pollfd> fds;
    fds.push_back({accept_paused ? -1 : listen_.get(), POLLIN, 0});
    fds.push_back({stop_fd, POLLIN, 0});
    for (const Client& c : clients_) fds.push_back({c.sock.get(), POLLIN, 0});
    accept_paused = false;
    const int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("fd store: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[1].revents != 0) {
      spdlog::info("fd store: stopping: closing {} descriptors", entries_.size());
      break;
    }
    // Clients first (indices match fds[2..]); new ones after.
    std::vector<Client> keep;
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      Client& c = clients_[i];
      if (fds[i + 2].revents == 0 || serve(c)) {
        keep.push_back(std::move(c));
      } else {
        spdlog::info("fd store: client pid {} gone ({} stored)", c.pid, entries_.size());
      }
    }
    clients_ = std::move(keep);
    if (fds[0].revents != 0) {
      accept_paused = !accept_clients();
    }
    // The linger counts from the moment the last client left.
    if (had_clients || !clients_.empty()) last_client = Clock::now();
  }
  // Nobody may connect to a store that is going away.
  listen_.reset();
  if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
  unlink_path_.clear();
  clients_.clear();
  entries_.clear();  // every descriptor closed: the TAPs lose their carrier now
}

bool FdStoreServer::accept_clients() {
  while (true) {
    netns::UniqueFd s(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!s) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return true;
      spdlog::warn("fd store: accept: {}", std::strerror(err));
      return err != EMFILE && err != ENFILE;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(s.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("fd store: SO_PEERCRED: {}", std::strerror(errno));
      continue;
    }
    if (cred.uid != ::geteuid() && cred.uid != 0) {
      spdlog::warn("fd store: refusing pid {} (uid {}): not our user", cred.pid, cred.uid);
      continue;
    }
    if (clients_.size() >= config_.max_clients) {
      spdlog::warn("fd store: refusing pid {}: {} clients already", cred.pid, clients_.size());
      continue;
    }
    // Blocking with a send timeout: LIST answers wait for a slow reader,
    // but not forever. Reads use MSG_DONTWAIT.
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(config_.send_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(config_.send_timeout.count() % 1000 * 1000);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    spdlog::info("fd store: client pid {} connected ({} stored)", cred.pid, entries_.size());
    clients_.push_back(Client{std::move(s), cred.pid});
  }
}

bool FdStoreServer::serve(Client& c) {
  // A bounded number of messages per wakeup keeps one busy client from
  // starving the others (and the linger/stop checks).
  for (int i = 0; i < 256; ++i) {
    detail::Received r = detail::receive_message(c.sock.get(), kMaxMessage, MSG_DONTWAIT);
    if (r.error == EAGAIN) return true;
    if (r.error != 0) {
      spdlog::warn("fd store: client pid {}: {}", c.pid, std::strerror(r.error));
      return false;
    }
    if (r.eof) return false;
    const auto m = r.truncated ? std::nullopt : decode(r.bytes);
    if (!m || r.fds.size() != fds_for(m->op) || m->op == Op::kEntry || m->op == Op::kEnd) {
      // r.fds closes whatever came with it.
      spdlog::warn(
          "fd store: client pid {}: malformed message ({} bytes{}, {} descriptors): "
          "dropping the client",
          c.pid, r.bytes.size(), r.truncated ? ", truncated" : "", r.fds.size());
      return false;
    }
    switch (m->op) {
      case Op::kPut: {
        auto it = entries_.find(m->key);
        if (it == entries_.end() && entries_.size() >= config_.max_entries) {
          spdlog::warn("fd store: full ({} entries): not keeping {}", entries_.size(), m->key);
          break;  // r.fds closes it
        }
        if (it != entries_.end()) {
          it->second = std::move(r.fds[0]);  // the older one is closed here
        } else {
          entries_.emplace(m->key, std::move(r.fds[0]));
        }
        spdlog::debug("fd store: put {} ({} stored)", m->key, entries_.size());
        break;
      }
      case Op::kDel:
        entries_.erase(m->key);
        spdlog::debug("fd store: del {} ({} stored)", m->key, entries_.size());
        break;
      case Op::kList:
        if (!answer_list(c)) return false;
        break;
      case Op::kEntry:
      case Op::kEnd:
        break;
    }
  }
  return true;
}

bool FdStoreServer::answer_list(Client& c) {
  for (const auto& [key, fd] : entries_) {
    if (int err = detail::send_message(c.sock.get(), encode({Op::kEntry, key}), fd.get())) {
      spdlog::warn("fd store: answering pid {}: {}: dropping the client", c.pid,
                   std::strerror(err));
      return false;
    }
  }
  if (int err = detail::send_message(c.sock.get(), encode({Op::kEnd, {}}), -1)) {
    spdlog::warn("fd store: answering pid {}: {}: dropping the client", c.pid, std::strerror(err));
    return false;
  }
  return true;
}

}  // namespace tapflow::fdstore
