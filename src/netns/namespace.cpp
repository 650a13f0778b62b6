#include "tapflow/netns/namespace.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::netns {
namespace {

// Where `ip netns` keeps its names; /var/run is a symlink to /run on Debian.
constexpr const char* kNetnsDir = "/run/netns";
constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

std::string describe(const std::string& what, int err) {
  if (err == 0) return what;
  std::string msg = what + ": " + std::strerror(err);
  // The usual first-run failure: say what is missing, not just "EPERM".
  if (err == EPERM) msg += " (tapflowd needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run it as root)";
  return msg;
}

std::string path_of(const std::string& name) { return std::string(kNetnsDir) + "/" + name; }

// Same rules as iproute2: the name becomes one file name under /run/netns.
void check_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name.size() > 255) {
    throw Error("invalid network namespace name '" + name + "'", EINVAL);
  }
}


// True when `fd` is a network namespace (nsfs file of type CLONE_NEWNET), so a
// stale empty file left by an interrupted create is not mistaken for one.
bool is_net_namespace_fd(int fd) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0 || fs.f_type != static_cast<decltype(fs.f_type)>(NSFS_MAGIC)) {
    return false;
  }
  return ::ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

// Opens the named namespace; returns -errno on failure. EEXIST here means the
// file exists but holds no namespace.
int open_named(const std::string& name) {
  const std::string path = path_of(name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return -errno;
  if (!is_net_namespace_fd(fd.get())) return -EEXIST;
  return fd.release();
}

// /run/netns as a shared mount point, so namespaces mounted later by us or by
// `ip netns add` show up in every mount namespace that sees /run/netns. The
// retry loop is iproute2's: EINVAL from the propagation change means the
// directory is not a mount point yet, so make it one by binding it to itself.
void prepare_netns_dir(const std::string& what) {
  if (::mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST) {
    throw Error(what + ": creating " + kNetnsDir, errno);
  }
  bool bound_to_itself = false;
  while (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || bound_to_itself) {
      throw Error(what + ": making " + kNetnsDir + " a shared mount", errno);
    }
    if (::mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0) {
      throw Error(what + ": bind-mounting " + kNetnsDir + " onto itself", errno);
    }
    bound_to_itself = true;
  }
}

// Creates a namespace and pins it on `path` (an existing empty file). The
// unshare happens on a throwaway thread so no thread of ours ever leaves its
// namespace; /proc/thread-self (not /proc/self, the main thread) names it.
int create_pinned_namespace(const std::string& path) {
  int err = 0;
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    if (::mount(kThreadNetns, path.c_str(), "none", MS_BIND, nullptr) != 0) err = errno;
  });
  worker.join();
  return err;
}

}  // namespace

Error::Error(const std::string& what, int err)
    : std::runtime_error(describe(what, err)), errno_(err) {}

NetNamespace NetNamespace::open_or_create(const std::string& name) {
  check_name(name);
  const int existing = open_named(name);
  if (existing >= 0) return NetNamespace(existing, name, false);
  if (existing == -EEXIST) {
    throw Error("network namespace file " + path_of(name) +
                    " exists but holds no namespace (left over from an interrupted create? "
                    "`ip netns del " +
                    name + "` removes it)",
                EEXIST);
  }
  if (existing != -ENOENT) throw Error("opening network namespace '" + name + "'", -existing);

  const std::string what = "creating network namespace '" + name + "'";
  prepare_netns_dir(what);
  const std::string path = path_of(name);
  {
    UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
    if (file.get() < 0) {
      const int err = errno;
      // Someone else created it in the meantime: use theirs.
      if (err == EEXIST) {
        const int fd = open_named(name);
        if (fd >= 0) return NetNamespace(fd, name, false);
      }
      throw Error(what, err);
    }
  }
  if (const int err = create_pinned_namespace(path); err != 0) {
    ::unlink(path.c_str());
    throw Error(what, err);
  }
  const int fd = open_named(name);
  if (fd < 0) {
    remove(name);
    throw Error(what + ": opening it after the mount", -fd);
  }
  return NetNamespace(fd, name, true);
}

NetNamespace NetNamespace::open(const std::string& name) {
  check_name(name);
  const int fd = open_named(name);
  if (fd == -EEXIST) {
    throw Error("network namespace file " + path_of(name) + " holds no namespace", EINVAL);
  }
  if (fd < 0) throw Error("opening network namespace '" + name + "'", -fd);
  return NetNamespace(fd, name, false);
}

bool NetNamespace::exists(const std::string& name) {
  check_name(name);
  const int fd = open_named(name);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

void NetNamespace::remove(const std::string& name) {
  check_name(name);
  const std::string path = path_of(name);
  // EINVAL: not a mount point (a stale file); ENOENT: nothing there at all.
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    throw Error("unmounting network namespace '" + name + "'", errno);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error("removing network namespace file " + path, errno);
  }
}

NetNamespace NetNamespace::current() {
  const int fd = ::open(kThreadNetns, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(std::string("opening ") + kThreadNetns, errno);
  return NetNamespace(fd, "", false);
}

NetNamespace::NetNamespace(NetNamespace&& other) noexcept
    : fd_(other.fd_), name_(std::move(other.name_)), created_(other.created_) {
  other.fd_ = -1;
  other.created_ = false;
}

NetNamespace& NetNamespace::operator=(NetNamespace&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    name_ = std::move(other.name_);
    created_ = other.created_;
    other.fd_ = -1;
    other.created_ = false;
  }
  return *this;
}

NetNamespace::~NetNamespace() {
  if (fd_ >= 0) ::close(fd_);
}

NamespaceScope::NamespaceScope(const NetNamespace& ns) {
  saved_fd_ = ::open(kThreadNetns, O_RDONLY | O_CLOEXEC);
  if (saved_fd_ < 0) throw Error(std::string("opening ") + kThreadNetns, errno);
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
    const int err = errno;
    ::close(saved_fd_);
    saved_fd_ = -1;
    throw Error("entering network namespace '" + ns.name() + "'", err);
  }
}

NamespaceScope::~NamespaceScope() {
  if (saved_fd_ < 0) return;
  if (::setns(saved_fd_, CLONE_NEWNET) != 0) {
    // Carrying on would create every later socket, TAP and route in the wrong
    // namespace, silently. Stop here instead.
    std::fprintf(stderr, "tapflow: fatal: cannot return to the previous network namespace: %s\n",
                 std::strerror(errno));
    std::terminate();
  }
  ::close(saved_fd_);
}

bool have_required_capabilities() {
  // Capabilities belong to threads; the calling thread's are the ones its
  // setns, mount and TUNSETIFF calls are judged by.
  std::ifstream status("/proc/thread-self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    std::istringstream in(line.substr(7));
    unsigned long long caps = 0;
    if (!(in >> std::hex >> caps)) return false;
    constexpr unsigned long long kNetAdmin = 1ULL << 12;
    constexpr unsigned long long kSysAdmin = 1ULL << 21;
    return (caps & kNetAdmin) != 0 && (caps & kSysAdmin) != 0;
  }
  return false;
}

}  // namespace tapflow::netns
