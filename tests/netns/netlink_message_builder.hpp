// MessageBuilder: hand-built rtnetlink messages for tests (header, family
// header, attributes, nested attributes, rtnexthop lists), fed to
// NetlinkWatcher::handle_datagram without a kernel.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tapflow/netns/ip.hpp"

namespace tapflow::netns::test_support {

class MessageBuilder {
 public:
  explicit MessageBuilder(std::uint16_t type, std::uint16_t flags = 0) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    put(&h, sizeof h);
  }
  template <typename T>
  MessageBuilder& family(const T& t) {
    put(&t, sizeof t);
    return *this;
  }
  MessageBuilder& attr(std::uint16_t type, const void* data, std::size_t len) {
    nlattr a{static_cast<std::uint16_t>(sizeof(nlattr) + len), type};
    put(&a, sizeof a);
    if (len > 0) put(data, len);
    return *this;
  }
  MessageBuilder& u32(std::uint16_t type, std::uint32_t v) { return attr(type, &v, 4); }
  MessageBuilder& str(std::uint16_t type, const std::string& s) {
    return attr(type, s.c_str(), s.size() + 1);
  }
  MessageBuilder& addr(std::uint16_t type, const IpAddress& a) {
    return attr(type, a.bytes.data(), a.size());
  }
  // A nested attribute whose length covers what is added until end().
  std::size_t begin(std::uint16_t type) {
    const std::size_t at = bytes_.size();
    nlattr a{0, type};
    put(&a, sizeof a);
    return at;
  }
  void end(std::size_t at) { set_len16(at, bytes_.size() - at); }
  // A struct rtnexthop whose length covers what is added until end_rtnh.
  std::size_t begin_rtnh(int ifindex, std::uint8_t hops, std::uint8_t flags = 0) {
    const std::size_t at = bytes_.size();
    rtnexthop r{};
    r.rtnh_ifindex = ifindex;
    r.rtnh_hops = hops;
    r.rtnh_flags = flags;
    put(&r, sizeof r);
    return at;
  }
  void end_rtnh(std::size_t at) { set_len16(at, bytes_.size() - at); }
  std::vector<std::uint8_t> done() {
    const auto len = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.data(), &len, 4);
    return bytes_;
  }

 private:
  void put(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
  }
  void set_len16(std::size_t at, std::size_t len) {
    const auto v = static_cast<std::uint16_t>(len);
    std::memcpy(bytes_.data() + at, &v, 2);
  }
  std::vector<std::uint8_t> bytes_;
};

}  // namespace tapflow::netns::test_support
