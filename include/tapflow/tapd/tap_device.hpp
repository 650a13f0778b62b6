// TapDevice: one TAP interface (IFF_TAP | IFF_NO_PI) in a network namespace,
// opened non-blocking. Persistent by default, so the interface, its addresses
// and its ifindex outlive a restart of tapflowd (it shows NO-CARRIER meanwhile).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "tapflow/netns/namespace.hpp"
#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::tapd {

class TapDevice {
 public:
  // Creates the TAP `name` inside `ns`, or attaches to an existing persistent
  // TAP of that name. Throws netns::Error (EPERM: needs CAP_NET_ADMIN; EBUSY:
  // another process holds it; EINVAL: `name` exists and is not a TAP).
  static TapDevice open(const netns::NetNamespace& ns, const std::string& name,
                        bool persist = true);

  // Takes over a descriptor of an existing TAP (one the fd store kept across
  // a restart of tapflowd): no TUNSETIFF, so the carrier and the queue stay.
  // Checks with TUNGETIFF that it is a TAP (IFF_TAP | IFF_NO_PI) named
  // `name` whose device still exists (EBADFD when it was deleted), and looks
  // up its ifindex inside `ns`. Throws netns::Error (EINVAL: another device).
  static TapDevice adopt(const netns::NetNamespace& ns, const std::string& name, netns::UniqueFd fd,
                         bool persist = true);

  TapDevice() = default;
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;
  ~TapDevice();  // close(): a persistent device stays

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }

  // TUNSETCARRIER: the kernel's view of the link (what `ip link` shows as
  // NO-CARRIER / LOWER_UP, and what BIRD and FRR react to).
  void set_carrier(bool on);

  // One frame, non-blocking. Return: the frame's length, 0 if none is waiting
  // (EAGAIN), or -errno.
  ssize_t read(std::span<std::uint8_t> buf);
  // 0 if written, -EAGAIN if the kernel would block, or -errno.
  int write(std::span<const std::uint8_t> frame);

  // Closes the descriptor; a persistent device stays (NO-CARRIER).
  void close();
  // Removes the device: clears persistence, then closes.
  void destroy();

 private:
  int fd_ = -1;
  std::string name_;
  int ifindex_ = 0;
  bool persist_ = false;
};

// A Linux interface name for a switch port: at most 15 bytes, without '/',
// ':' or white space (replaced by '_' or '-'), not "." or ".."; "port<N>" when
// the port has no usable name. If `taken(name)` is true, a suffix makes it
// unique ("s1-eth1" -> "s1-eth1_2" ...), still within 15 bytes.
std::string interface_name_for_port(std::string_view port_name, std::uint32_t port_no,
                                     const std::function<bool(const std::string&)>& taken);

}  // namespace tapflow::tapd
