// NetNamespace: a handle on a Linux network namespace named the way `ip netns`
// names them (/run/netns/NAME), and NamespaceScope, which moves the calling
// thread into one for as long as it lives.
#pragma once

#include <stdexcept>
#include <string>

namespace tapflow::netns {

// A failed system call: the message names what was being done and strerror;
// `error()` is the errno value (0 when none applies).
class Error : public std::runtime_error {
 public:
  Error(const std::string& what, int err);
  int error() const { return errno_; }

 private:
  int errno_;
};

class NetNamespace {
 public:
  // Opens /run/netns/NAME, creating the namespace first (exactly as `ip netns
  // add` does: /run/netns made a shared mount, a bind mount of a new namespace)
  // if it is missing. Throws Error; EPERM says CAP_SYS_ADMIN/CAP_NET_ADMIN is needed.
  static NetNamespace open_or_create(const std::string& name);
  // Opens an existing named namespace; throws Error (ENOENT) if missing.
  static NetNamespace open(const std::string& name);
  static bool exists(const std::string& name);
  // `ip netns del NAME`: unmounts and unlinks. No error if it does not exist.
  static void remove(const std::string& name);
  // The calling thread's current namespace (name "").
  static NetNamespace current();

  NetNamespace(NetNamespace&& other) noexcept;
  NetNamespace& operator=(NetNamespace&& other) noexcept;
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;
  ~NetNamespace();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // open_or_create made it (it did not exist before).
  bool created() const { return created_; }

 private:
  NetNamespace(int fd, std::string name, bool created)
      : fd_(fd), name_(std::move(name)), created_(created) {}
  int fd_ = -1;
  std::string name_;
  bool created_ = false;
};

// Moves the calling thread into `ns` (setns) and back to where it was on
// destruction. Sockets and devices created meanwhile belong to `ns`. Throws Error.
class NamespaceScope {
 public:
  explicit NamespaceScope(const NetNamespace& ns);
  ~NamespaceScope();
  NamespaceScope(const NamespaceScope&) = delete;
  NamespaceScope& operator=(const NamespaceScope&) = delete;

 private:
  int saved_fd_ = -1;
};

// True when the process holds CAP_NET_ADMIN and CAP_SYS_ADMIN (namespaces,
// TAPs and mounts need both).
bool have_required_capabilities();

}  // namespace tapflow::netns
