// Live reload: which changes need a restart (plan_reload), and the Reloader
// on SIGHUP and on request, with a real notification socket.
#include "reload.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "notify_socket.hpp"

namespace tapflow::daemon {
namespace {

using Keys = std::vector<std::string>;

const char* kRouter = R"(
listen: [ "tcp:127.0.0.1:6653" ]
app: router
log_level: info
metrics: { listen: "127.0.0.1:9101" }
router:
  fib_table: 1
  carrier_hold: 10
  punt_policer:
    arp_nd: { rate: 600, burst: 200 }
  switches:
    - dpid: 0x1
      name: r1
      profile: ovs
      ports:
        - port: 1
          addresses: [ "10.0.1.1/24" ]
)";

std::string edit(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ReloadPlan, TheSameFileNeedsNothing) {
  const auto plan = plan_reload(kRouter, kRouter, {});
  EXPECT_TRUE(plan.restart_needed.empty());
  EXPECT_TRUE(plan.fixed_by_command_line.empty());
}

TEST(ReloadPlan, LiveKeysAreNotRestartKeys) {
  std::string next = edit(kRouter, "log_level: info", "log_level: debug");
  next = edit(next, "carrier_hold: 10", "carrier_hold: 5");
  next = edit(next, "rate: 600", "rate: 100");
  next = edit(next, "\"10.0.1.1/24\" ]", "\"10.0.1.1/24\", \"10.0.5.1/24\" ]\n        - port: 3");
  const auto plan = plan_reload(kRouter, next, {});
  EXPECT_EQ(plan.restart_needed, Keys{});
}

TEST(ReloadPlan, NamesEachKeyThatNeedsARestart) {
  std::string next = edit(kRouter, "6653", "6654");
  next = edit(next, "fib_table: 1", "fib_table: 2");
  next = edit(next, "profile: ovs", "profile: mikrotik");
  next = edit(next, "9101", "9102");
  next += "cluster: { etcd: { endpoints: [ \"http://127.0.0.1:2379\" ] } }\n";
  const auto plan = plan_reload(kRouter, next, {});
  EXPECT_EQ(plan.restart_needed,
            (Keys{"cluster.etcd.endpoints", "listen", "metrics.listen", "router.fib_table", "router.switches[0x1].profile"}));
}

TEST(ReloadPlan, ASwitchEntryAddedWithAProfileNeedsARestartForIt) {
  const std::string next = std::string(kRouter) + "    - dpid: 2\n      table_capacity: 4000\n";
  EXPECT_EQ(plan_reload(kRouter, next, {}).restart_needed, Keys{"router.switches[0x2].table_capacity"});
}

TEST(ReloadPlan, KeysTheCommandLineSetsAreReportedAsSuch) {
  std::string next = edit(kRouter, "6653", "6654");
  next = edit(next, "log_level: info", "log_level: debug");
  const auto plan = plan_reload(kRouter, next, {"listen", "log_level"});
  EXPECT_EQ(plan.restart_needed, Keys{});
  EXPECT_EQ(plan.fixed_by_command_line, (Keys{"listen", "log_level"}));
}

TEST(ReloadPlan, FormattingAloneChangesNothing) {
  const std::string next = edit(kRouter, "listen: [ \"tcp:127.0.0.1:6653\" ]", "listen:\n  - tcp:127.0.0.1:6653");
  EXPECT_EQ(plan_reload(kRouter, next, {}).restart_needed, Keys{});
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tapflow-reload-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    saved_ = spdlog::get_level();
    spdlog::set_level(spdlog::level::info);
  }
  void TearDown() override {
    spdlog::set_level(saved_);
    std::filesystem::remove_all(dir_);
  }
  std::string write(const std::string& text) {
    const auto path = dir_ / "tapflowd.yaml";
    std::ofstream(path) << text;
    return path.string();
  }
  DaemonConfig running(const std::string& text) { return parse_config(text, "running"); }
  // SIGHUP to ourselves, then run the loop until the handler ran.
  static void hangup(boost::asio::io_context& io) {
    ASSERT_EQ(::raise(SIGHUP), 0);
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }

  std::filesystem::path dir_;
  spdlog::level::level_enum saved_ = spdlog::level::info;
};

TEST_F(ReloadTest, HangupAppliesTheLogLevelAndCallsApply) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  const std::string start = "app: learning-switch\nlog_level: info\n";
  const std::string file = write("app: learning-switch\nlog_level: warn\n");
  int applied = 0;
  std::string level;
  Reloader reload(io, n, file, start, running(start), {}, [&](const DaemonConfig& next, ReloadOutcome& out) {
    ++applied;
    level = next.log_level;
    out.applied.push_back("tapd: nothing");
  });
  hangup(io);
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(level, "warn");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  EXPECT_EQ(sock.next(), "RELOADING=1\nSTATUS=reloading " + file);
  EXPECT_EQ(sock.next(), "READY=1\nSTATUS=reloaded " + file + ": 2 change(s) applied");

  // A second SIGHUP is handled as well (the handler re-arms).
  write("app: learning-switch\nlog_level: debug\n");
  hangup(io);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_EQ(applied, 2);
}

TEST_F(ReloadTest, CommandLineLevelWins) {
  boost::asio::io_context io;
  ServiceNotifier n(io);
  CommandLine cl;
  cl.log_level = "trace";
  DaemonConfig cfg = running("log_level: info\n");
  apply_command_line(cfg, cl);
  spdlog::set_level(spdlog::level::trace);
  Reloader reload(io, n, write("log_level: error\n"), "log_level: info\n", cfg, cl, nullptr);
  const ReloadOutcome out = reload.reload();
  EXPECT_TRUE(out.ok());
  EXPECT_EQ(spdlog::get_level(), spdlog::level::trace);
  EXPECT_EQ(out.fixed_by_command_line, Keys{"log_level"});
  EXPECT_TRUE(out.applied.empty());
}

TEST_F(ReloadTest, ABrokenFileIsRefusedAndNothingIsApplied) {
  NotifySocket sock;
  boost::asio::io_context io;
  ServiceNotifier n(io);
  const std::string start = "log_level: info\n";
  const std::string file = write("log_level: warn\nlisen: []\n");
  bool applied = false;
  Reloader reload(io, n, file, start, running(start), {},
                  [&](const DaemonConfig&, ReloadOutcome&) { applied = true; });
  const ReloadOutcome out = reload.reload();
  EXPECT_FALSE(out.ok());
  EXPECT_FALSE(applied);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  // Where, as `tapflowctl config check` says it.
  EXPECT_NE(out.error.find(file + ":2:1: lisen: unknown key"), std::string::npos) << out.error;
  EXPECT_EQ(out.to_json().at("error").get<std::string>(),
            "reload refused, running configuration kept: " + out.error);
  EXPECT_EQ(sock.next(), "RELOADING=1\nSTATUS=reloading " + file);
  EXPECT_EQ(sock.next(), "READY=1\nSTATUS=reload refused, running configuration kept: " + out.error);
}

TEST_F(ReloadTest, RestartKeysAreNamedAgainUntilTheRestart) {
  boost::asio::io_context io;
  ServiceNotifier n(io);
  const std::string start = "listen: [ \"tcp:127.0.0.1:6653\" ]\n";
  const std::string file = write("listen: [ \"tcp:127.0.0.1:6654\" ]\n");
  Reloader reload(io, n, file, start, running(start), {}, nullptr);
  EXPECT_EQ(reload.reload().restart_needed, Keys{"listen: takes effect at the next restart"});
  EXPECT_EQ(reload.reload().restart_needed, Keys{"listen: takes effect at the next restart"});
  const auto j = reload.reload().to_json();
  EXPECT_EQ(j.at("file"), file);
  EXPECT_EQ(j.at("restart_needed").size(), 1u);
}

TEST_F(ReloadTest, WithoutAFileHangupIsHarmless) {
  boost::asio::io_context io;
  ServiceNotifier n(io);
  Reloader reload(io, n, "", "", DaemonConfig{}, {}, nullptr);
  hangup(io);  // the default action would have ended this test binary
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  EXPECT_FALSE(reload.reload().ok());
}

}  // namespace
}  // namespace tapflow::daemon
