// LeaseDeadline: the bound on our lease's life counts from when a keepalive
// was sent, never moves back, and a master must be gone `guard` before it.
#include <gtest/gtest.h>

#include "tapflow/cluster/mastership.hpp"

namespace tapflow::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = LeaseDeadline::Clock;

TEST(LeaseDeadline, UnknownIsNeverSafe) {
  LeaseDeadline d;
  EXPECT_FALSE(d.known());
  EXPECT_FALSE(d.safe(Clock::now(), 400ms));
}

TEST(LeaseDeadline, CountsFromTheSendTimeNotTheAnswer) {
  LeaseDeadline d;
  const Clock::time_point sent{std::chrono::seconds(100)};
  d.acknowledged(sent, 2s);  // however late the answer came
  EXPECT_EQ(d.valid_until(), sent + 2s);
  EXPECT_EQ(d.step_down_at(400ms), sent + 1600ms);
  EXPECT_TRUE(d.safe(sent + 1599ms, 400ms));
  EXPECT_FALSE(d.safe(sent + 1600ms, 400ms));
  EXPECT_FALSE(d.safe(sent + 2s, 400ms));
}

TEST(LeaseDeadline, NeverMovesBack) {
  LeaseDeadline d;
  const Clock::time_point t{std::chrono::seconds(100)};
  d.acknowledged(t + 1s, 2s);
  d.acknowledged(t, 2s);  // an older keepalive's answer, late
  EXPECT_EQ(d.valid_until(), t + 3s);
  d.acknowledged(t + 2s, 2s);
  EXPECT_EQ(d.valid_until(), t + 4s);
  d.reset();
  EXPECT_FALSE(d.known());
}

TEST(LeaseDeadline, KeepalivesEverySixthOfTheTtlLeaveRoomForFailover) {
  // Keepalives every ttl/6; one is lost to a dead member and its retry goes
  // out after a 500 ms timeout: the bound still stays ahead of the guard.
  LeaseDeadline d;
  const Clock::time_point t0{std::chrono::seconds(100)};
  const auto ttl = 2s;
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 6;
  d.acknowledged(t0, ttl);
  const auto retry_sent = t0 + period + 500ms;
  EXPECT_TRUE(d.safe(retry_sent + 50ms /* answered */, 400ms));
  d.acknowledged(retry_sent, ttl);
  EXPECT_GT(d.step_down_at(400ms), retry_sent + 1s);
}

}  // namespace
}  // namespace tapflow::cluster
