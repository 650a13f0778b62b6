#include "tapflow/tapd/tap_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::tapd {
namespace {

constexpr std::size_t kMaxIfName = IFNAMSIZ - 1;  // 15 bytes, the kernel's limit

}  // namespace

TapDevice TapDevice::open(const netns::NetNamespace& ns, const std::string& name, bool persist) {
  const std::string where = "TAP '" + name + "' in namespace '" + ns.name() + "'";
  // The kernel would silently truncate a long name, and expand "%d" into a
  // number of its choosing: either way we would not know the device's name.
  if (name.empty() || name.size() > kMaxIfName || name.find('%') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    throw netns::Error("opening " + where + ": not a valid interface name", EINVAL);
  }

  // Created inside the namespace so the device is born there: moving it later
  // would drop its addresses.
  netns::NamespaceScope scope(ns);
  netns::UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) throw netns::Error("opening /dev/net/tun for " + where, errno);

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    std::string what = "creating " + where;
    if (err == EBUSY) what += " (another process holds it open)";
    if (err == EINVAL) what += " (an interface of that name exists and is not a TAP)";
    throw netns::Error(what, err);
  }
  if (::ioctl(fd.get(), TUNSETPERSIST, persist ? 1 : 0) != 0) {
    throw netns::Error("setting persistence of " + where, errno);
  }
  const unsigned index = ::if_nametoindex(ifr.ifr_name);
  if (index == 0) throw netns::Error("looking up the ifindex of " + where, errno);

  TapDevice tap;
  tap.fd_ = fd.release();
  tap.name_ = ifr.ifr_name;
  tap.ifindex_ = static_cast<int>(index);
  tap.persist_ = persist;
  return tap;
}

TapDevice TapDevice::adopt(const netns::NetNamespace& ns, const std::string& name,
                           netns::UniqueFd fd, bool persist) {
  const std::string where = "stored TAP '" + name + "' in namespace '" + ns.name() + "'";
  ifreq ifr{};
  if (::ioctl(fd.get(), TUNGETIFF, &ifr) != 0) {
    const int err = errno;
    throw netns::Error("checking " + where + (err == EBADFD ? " (the device is gone)" : ""), err);
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  const auto kind = ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI);
  if (kind != (IFF_TAP | IFF_NO_PI) || name != ifr.ifr_name) {
    throw netns::Error("checking " + where + ": the descriptor is '" + ifr.ifr_name +
                           "' with flags " + std::to_string(ifr.ifr_flags),
                       EINVAL);
  }
  // The store may have kept it in blocking mode, and a dup shares the flag.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    throw netns::Error("making " + where + " non-blocking", errno);
  }
  if (::ioctl(fd.get(), TUNSETPERSIST, persist ? 1 : 0) != 0) {
    throw netns::Error("setting persistence of " + where, errno);
  }
  unsigned index = 0;
  {
    netns::NamespaceScope scope(ns);
    index = ::if_nametoindex(ifr.ifr_name);
  }
  if (index == 0) throw netns::Error("looking up the ifindex of " + where, errno);

  TapDevice tap;
  tap.fd_ = fd.release();
  tap.name_ = ifr.ifr_name;
  tap.ifindex_ = static_cast<int>(index);
  tap.persist_ = persist;
  return tap;
}

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_(other.fd_),
      name_(std::move(other.name_)),
      ifindex_(other.ifindex_),
      persist_(other.persist_) {
  other.fd_ = -1;
  other.ifindex_ = 0;
}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    name_ = std::move(other.name_);
    ifindex_ = other.ifindex_;
    persist_ = other.persist_;
    other.fd_ = -1;
    other.ifindex_ = 0;
  }
  return *this;
}

TapDevice::~TapDevice() { close(); }

void TapDevice::set_carrier(bool on) {
  int value = on ? 1 : 0;
  if (::ioctl(fd_, TUNSETCARRIER, &value) != 0) {
    throw netns::Error(
        "setting carrier " + std::string(on ? "on" : "off") + " on TAP '" + name_ + "'", errno);
  }
}

ssize_t TapDevice::read(std::span<std::uint8_t> buf) {
  const ssize_t n = ::read(fd_, buf.data(), buf.size());
  if (n >= 0) return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  return -errno;
}

int TapDevice::write(std::span<const std::uint8_t> frame) {
  if (::write(fd_, frame.data(), frame.size()) >= 0) return 0;
  if (errno == EWOULDBLOCK) return -EAGAIN;
  return -errno;
}

void TapDevice::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TapDevice::destroy() {
  if (fd_ < 0) return;
  const int rc = ::ioctl(fd_, TUNSETPERSIST, 0);
  const int err = errno;
  close();  // the last descriptor going away is what removes a non-persistent TAP
  if (rc != 0) throw netns::Error("clearing persistence of TAP '" + name_ + "'", err);
}

std::string interface_name_for_port(std::string_view port_name, std::uint32_t port_no,
                                    const std::function<bool(const std::string&)>& taken) {
  // A conservative alphabet: the kernel refuses '/', ':' and white space, but
  // '%' makes TUNSETIFF pick a number, '@' confuses `ip link` output, and
  // control or non-ASCII bytes end up in daemon configs and logs.
  std::string base;
  bool has_alnum = false;
  for (const char c : port_name) {
    if (base.size() == kMaxIfName) break;
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && std::isalnum(u)) {
      base += c;
      has_alnum = true;
    } else if (c == '-' || c == '_' || c == '.') {
      base += c;
    } else if (c == '/' || c == ':') {
      base += '-';  // "Ethernet1/1" -> "Ethernet1-1"
    } else {
      base += '_';
    }
  }
  // Nothing left that names anything ("", "...", "   "): use the number.
  if (!has_alnum) base = "port" + std::to_string(port_no);

  if (!taken(base)) return base;
  for (std::uint32_t n = 2; n != 0; ++n) {
    const std::string suffix = "_" + std::to_string(n);
    const std::string candidate = base.substr(0, kMaxIfName - suffix.size()) + suffix;
    if (!taken(candidate)) return candidate;
  }
  throw std::runtime_error("no free interface name for port " + std::to_string(port_no));
}

}  // namespace tapflow::tapd
