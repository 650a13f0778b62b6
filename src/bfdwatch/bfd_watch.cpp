// BFD watch: see bfd_watch.hpp.
#include "tapflow/bfdwatch/bfd_watch.hpp"

#include <algorithm>

#include "tapflow/openflow/packet.hpp"

namespace tapflow::bfdwatch {
namespace {

std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at) {
  return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 | std::uint32_t{b[at + 2]} << 8 |
         std::uint32_t{b[at + 3]};
}

constexpr auto kSweepEvery = std::chrono::seconds(10);

}  // namespace

std::optional<BfdControl> parse_bfd_control(std::span<const std::uint8_t> frame) {
  const openflow::packet::ParsedFrame p = openflow::packet::parse_frame(frame);
  if (!p.udp || (p.udp->dst_port() != 3784 && p.udp->dst_port() != 4784)) return std::nullopt;
  const auto b = p.udp->payload();
  // Version 1, a length of at least the mandatory 24 bytes, inside the datagram.
  if (b.size() < 24 || (b[0] >> 5) != 1 || b[3] < 24 || b[3] > b.size()) return std::nullopt;
  BfdControl c;
  c.state = static_cast<std::uint8_t>(b[1] >> 6);
  c.detect_mult = b[2];
  c.my_discriminator = be32(b, 4);
  c.desired_min_tx_us = be32(b, 12);
  if (c.detect_mult == 0 || c.my_discriminator == 0) return std::nullopt;  // invalid (RFC 5880 6.8.6)
  return c;
}

void BfdWatch::observe(std::uint64_t dpid, bool from_router, const BfdControl& c, Clock::time_point now) {
  ++counters_.packets;
  Datapath& dp = dps_[dpid];
  if (now - dp.last_sweep >= kSweepEvery) {
    std::erase_if(dp.sessions, [&](const auto& kv) { return now - kv.second.last >= kForget; });
    dp.last_sweep = now;
  }
  const std::uint64_t key = std::uint64_t{from_router} << 32 | c.my_discriminator;
  auto it = dp.sessions.find(key);
  if (it == dp.sessions.end()) {
    if (dp.sessions.size() >= kMaxSessions) {
      dp.sessions.erase(std::min_element(dp.sessions.begin(), dp.sessions.end(), [](const auto& a, const auto& b) {
        return a.second.last < b.second.last;
      }));
    }
    it = dp.sessions.emplace(key, Session{}).first;
    ++counters_.sessions_seen;
  }
  Session& s = it->second;
  s.last = now;
  s.up = c.state == BfdControl::kUp;
  s.detect = std::chrono::microseconds(std::uint64_t{c.detect_mult} * c.desired_min_tx_us);
}

void BfdWatch::observe_frame(std::uint64_t dpid, bool from_router, std::span<const std::uint8_t> frame,
                             Clock::time_point now) {
  if (auto c = parse_bfd_control(frame)) observe(dpid, from_router, *c, now);
}

double BfdWatch::worst_silence(std::uint64_t dpid, Clock::time_point now) const {
  auto it = dps_.find(dpid);
  if (it == dps_.end()) return 0;
  double worst = 0;
  for (const auto& [key, s] : it->second.sessions) {
    if (!s.up || s.detect <= Clock::duration::zero()) continue;
    const double share = std::chrono::duration<double>(now - s.last) / std::chrono::duration<double>(s.detect);
    if (share < 1.0) worst = std::max(worst, share);
  }
  return worst;
}

std::size_t BfdWatch::up_sessions(std::uint64_t dpid) const {
  auto it = dps_.find(dpid);
  if (it == dps_.end()) return 0;
  return static_cast<std::size_t>(
      std::count_if(it->second.sessions.begin(), it->second.sessions.end(), [](const auto& kv) { return kv.second.up; }));
}

void BfdWatch::forget(std::uint64_t dpid) { dps_.erase(dpid); }

}  // namespace tapflow::bfdwatch
