// Nicira (Open vSwitch) vendor messages tapflow uses on OpenFlow 1.0: the
// controller role request and reply (NXT_ROLE_REQUEST / NXT_ROLE_REPLY).
#pragma once

#include <cstdint>
#include <optional>

#include "tapflow/openflow/messages.hpp"

namespace tapflow::openflow::nicira {

inline constexpr std::uint32_t kVendorId = 0x00002320;
inline constexpr std::uint32_t kRoleRequest = 10, kRoleReply = 11;
// NX roles: other (equal), master, slave. No generation id: a 1.0 switch
// cannot fence a stale master; the newest MASTER request wins.
inline constexpr std::uint32_t kRoleOther = 0, kRoleMaster = 1, kRoleSlave = 2;

// A VENDOR message body: subtype, then the role (both big-endian).
Experimenter role_request(std::uint32_t nx_role);
// The role of an NXT_ROLE_REPLY, or nothing if `e` is not one.
std::optional<std::uint32_t> role_reply(const Experimenter& e);

}  // namespace tapflow::openflow::nicira
