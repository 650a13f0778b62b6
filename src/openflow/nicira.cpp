// Nicira vendor messages: the 1.0 controller role request and reply.
#include "tapflow/openflow/nicira.hpp"

namespace tapflow::openflow::nicira {

namespace {
void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint32_t get_u32(const Bytes& in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | in[at + i];
  return v;
}
}  // namespace

Experimenter role_request(std::uint32_t nx_role) {
  Experimenter e;
  e.experimenter = kVendorId;
  put_u32(e.data, kRoleRequest);
  put_u32(e.data, nx_role);
  return e;
}

std::optional<std::uint32_t> role_reply(const Experimenter& e) {
  if (e.experimenter != kVendorId || e.data.size() < 8 || get_u32(e.data, 0) != kRoleReply) {
    return std::nullopt;
  }
  return get_u32(e.data, 4);
}

}  // namespace tapflow::openflow::nicira
