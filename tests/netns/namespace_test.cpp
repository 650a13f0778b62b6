// Real network namespaces (root): create/open/remove as `ip netns` does, and
// NamespaceScope moving a thread in and out.
#include "tapflow/netns/namespace.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "namespace_guard.hpp"

namespace tapflow::netns {
namespace {

using test_support::NamespaceGuard;
using test_support::unique_name;

ino_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

ino_t current_inode() { return inode_of(NetNamespace::current().fd()); }

// Runs `f` on a thread that has lost CAP_SYS_ADMIN and CAP_NET_ADMIN from its
// effective set (capabilities are per thread), as an unprivileged daemon would.
template <typename F>
void without_admin_caps(F f) {
  std::thread t([&] {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    ASSERT_EQ(::syscall(SYS_capget, &hdr, data), 0);
    data[0].effective &= ~((1u << CAP_SYS_ADMIN) | (1u << CAP_NET_ADMIN));
    ASSERT_EQ(::syscall(SYS_capset, &hdr, data), 0);
    f();
  });
  t.join();
}

TEST(NetNamespace, CreateOpenExistsRemove) {
  NamespaceGuard guard(unique_name("a"));
  const std::string& name = guard.name;
  EXPECT_FALSE(NetNamespace::exists(name));
  try {
    NetNamespace::open(name);
    ADD_FAILURE() << "open of a missing namespace did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.error(), ENOENT);
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }

  auto made = NetNamespace::open_or_create(name);
  EXPECT_TRUE(made.created());
  EXPECT_EQ(made.name(), name);
  EXPECT_GE(made.fd(), 0);
  EXPECT_TRUE(NetNamespace::exists(name));
  // A new namespace, not ours.
  EXPECT_NE(inode_of(made.fd()), current_inode());

  auto again = NetNamespace::open_or_create(name);
  EXPECT_FALSE(again.created());
  auto opened = NetNamespace::open(name);
  EXPECT_EQ(inode_of(again.fd()), inode_of(made.fd()));
  EXPECT_EQ(inode_of(opened.fd()), inode_of(made.fd()));

  // iproute2 sees it as one of its own.
  EXPECT_EQ(std::system(("ip netns exec " + name + " true").c_str()), 0);

  NetNamespace::remove(name);
  EXPECT_FALSE(NetNamespace::exists(name));
  EXPECT_NE(std::system(("ip netns exec " + name + " true 2>/dev/null").c_str()), 0);
  EXPECT_NO_THROW(NetNamespace::remove(name));  // already gone: no error
}

TEST(NetNamespace, SeesNamespacesMadeByIproute2) {
  NamespaceGuard guard(unique_name("ip"));
  ASSERT_EQ(std::system(("ip netns add " + guard.name).c_str()), 0);
  EXPECT_TRUE(NetNamespace::exists(guard.name));
  auto ns = NetNamespace::open_or_create(guard.name);
  EXPECT_FALSE(ns.created());
  NetNamespace::remove(guard.name);
  EXPECT_NE(std::system(("ip netns exec " + guard.name + " true 2>/dev/null").c_str()), 0);
}

TEST(NetNamespace, RejectsBadNames) {
  for (const std::string& bad :
       std::initializer_list<std::string>{"", ".", "..", "a/b", std::string(256, 'x')}) {
    try {
      NetNamespace::open_or_create(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.error(), EINVAL) << bad;
    }
  }
}

TEST(NetNamespace, StaleFileIsNotANamespace) {
  NamespaceGuard guard(unique_name("stale"));
  const std::string path = "/run/netns/" + guard.name;
  ::mkdir("/run/netns", 0755);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL, 0);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_FALSE(NetNamespace::exists(guard.name));
  EXPECT_THROW(NetNamespace::open(guard.name), Error);
  try {
    NetNamespace::open_or_create(guard.name);
    ADD_FAILURE() << "a stale file was taken for a namespace";
  } catch (const Error& e) {
    EXPECT_EQ(e.error(), EEXIST);
    EXPECT_NE(std::string(e.what()).find("ip netns del"), std::string::npos) << e.what();
  }
  NetNamespace::remove(guard.name);  // removes the plain file too
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(NetNamespace, MissingCapabilitiesGiveAClearError) {
  NamespaceGuard guard(unique_name("perm"));
  EXPECT_TRUE(have_required_capabilities());
  without_admin_caps([&] {
    EXPECT_FALSE(have_required_capabilities());
    try {
      NetNamespace::open_or_create(guard.name);
      ADD_FAILURE() << "created a namespace without CAP_SYS_ADMIN";
    } catch (const Error& e) {
      EXPECT_EQ(e.error(), EPERM);
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("creating network namespace '" + guard.name + "'", 0), 0u) << msg;
      EXPECT_NE(msg.find("Operation not permitted"), std::string::npos) << msg;
      EXPECT_NE(msg.find("CAP_NET_ADMIN and CAP_SYS_ADMIN"), std::string::npos) << msg;
    }
  });
  EXPECT_FALSE(NetNamespace::exists(guard.name));
}

TEST(NamespaceScope, MovesTheThreadInAndBack) {
  NamespaceGuard guard(unique_name("scope"));
  auto ns = NetNamespace::open_or_create(guard.name);
  const ino_t home = current_inode();
  const ino_t target = inode_of(ns.fd());
  ASSERT_NE(home, target);

  int sock = -1;
  {
    NamespaceScope scope(ns);
    EXPECT_EQ(current_inode(), target);
    // A fresh namespace has only lo, and it is down.
    EXPECT_NE(::if_nametoindex("lo"), 0u);
    EXPECT_EQ(::if_nametoindex("eth0"), 0u);
    sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock, 0);
    {
      // Scopes nest: entering the same namespace again and leaving comes back here.
      NamespaceScope inner(ns);
      EXPECT_EQ(current_inode(), target);
    }
    EXPECT_EQ(current_inode(), target);
  }
  EXPECT_EQ(current_inode(), home);

  // The socket stays in the namespace it was made in.
  const int sock_ns = ::ioctl(sock, SIOCGSKNS);
  ASSERT_GE(sock_ns, 0);
  EXPECT_EQ(inode_of(sock_ns), target);
  ::close(sock_ns);
  ::close(sock);
}

TEST(NamespaceScope, OtherThreadsStayWhereTheyAre) {
  NamespaceGuard guard(unique_name("thr"));
  auto ns = NetNamespace::open_or_create(guard.name);
  const ino_t home = current_inode();
  std::promise<void> entered;
  std::promise<ino_t> seen_by_other;
  // Started before the scope: a thread made inside it would inherit the
  // namespace, as clone() copies it.
  std::thread t([&] {
    entered.get_future().wait();
    seen_by_other.set_value(current_inode());
  });
  {
    NamespaceScope scope(ns);
    entered.set_value();
    EXPECT_EQ(seen_by_other.get_future().get(), home);
  }
  t.join();
}

TEST(NamespaceScope, FailedEntryThrowsAndStaysHome) {
  NamespaceGuard guard(unique_name("noperm"));
  auto ns = NetNamespace::open_or_create(guard.name);
  const ino_t home = current_inode();
  without_admin_caps([&] {
    try {
      NamespaceScope scope(ns);
      ADD_FAILURE() << "setns without CAP_SYS_ADMIN succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.error(), EPERM);
      EXPECT_NE(std::string(e.what()).find(guard.name), std::string::npos) << e.what();
    }
    EXPECT_EQ(current_inode(), home);
  });
}

}  // namespace
}  // namespace tapflow::netns
