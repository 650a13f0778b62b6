// tapflowctl: aligned tables for the control socket's replies, the clear
// errors without a tapflowd, and `config check` with FILE:LINE:COLUMN.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "ctl_commands.hpp"
#include "ctl_tables.hpp"

namespace tapflow::ctl {
namespace {

using json = nlohmann::json;

TEST(CtlTables, ColumnsAlignWithoutTrailingBlanks) {
  TextTable t({"A", "LONGER", "C"});
  t.add({"wide value", "x", ""});
  t.add({"b", "yy", "zzz"});
  EXPECT_EQ(t.render(),
            "A           LONGER  C\n"
            "wide value  x\n"
            "b           yy      zzz\n");
  EXPECT_EQ(cell(json(nullptr)), "-");
  EXPECT_EQ(cell(json(true)), "yes");
  EXPECT_EQ(cell(json(42)), "42");
}

TEST(CtlTables, StatusShowsProgress) {
  const json reply = json::parse(R"j({"app":"router","cluster":false,"switches":[
    {"dpid":"0000000000000001","name":"r1","netns":"tapflow-r1","connected":true,"version":"1.3",
     "role":"master","synced":false,"routes":12,"flows":9,"withheld":0,"stale":0,
     "programming":{"active":true,"phase":"sending","done":250,"total":1000}}]})j");
  EXPECT_EQ(format_reply("status", reply),
            "tapflowd: app router\n"
            "SWITCH  DPID              CONNECTED  VERSION  ROLE    SYNCED  ROUTES  FLOWS  WITHHELD  PROGRAMMING\n"
            "r1      0000000000000001  yes        1.3      master  no      12      9      0         sending 250/1000 (25%)\n");
}

TEST(CtlTables, RoutesPerSwitchWithNextHopsAndErrors) {
  const json reply = json::parse(R"j({"view":"routes","switches":[
    {"dpid":"0000000000000001","name":"r1","netns":"ns1","total":2,"truncated":false,"routes":[
      {"prefix":"10.0.3.0/24","table":"main","type":"unicast","protocol":"bird","metric":32,
       "nexthops":[{"gateway":"10.0.2.2","dev":"eth2"}]},
      {"prefix":"10.0.9.0/24","table":"main","type":"unicast","protocol":"bird","metric":32,
       "nexthops":[{"gateway":"10.0.2.2","dev":"eth2","weight":2},{"gateway":"10.0.2.3","dev":"eth2"}]}]},
    {"dpid":"0000000000000002","name":"r2","netns":"ns2","error":"routing does not follow this switch's namespace (yet)"}]})j");
  EXPECT_EQ(format_reply("routes", reply),
            "r1 (dpid 0000000000000001, netns ns1)\n"
            "PREFIX       TABLE  TYPE     PROTO  METRIC  NEXT HOPS\n"
            "10.0.3.0/24  main   unicast  bird   32      via 10.0.2.2 dev eth2\n"
            "10.0.9.0/24  main   unicast  bird   32      via 10.0.2.2 dev eth2 weight 2, via 10.0.2.3 dev eth2\n"
            "2 routes\n"
            "\n"
            "r2 (dpid 0000000000000002, netns ns2): routing does not follow this switch's namespace (yet)\n");
}

TEST(CtlTables, FlowsWithCounts) {
  const json reply = json::parse(R"j({"view":"flows","diff":true,"switches":[
    {"dpid":"0000000000000001","name":"r1","netns":"ns1","table":1,"truncated":false,
     "counts":{"ok":8,"missing":1,"extra":0,"different":0,"withheld":0},
     "flows":[{"state":"missing","kind":"route","table":1,"priority":1048,"prefix":"10.0.3.0/24",
               "cookie":"0x726f010000000000","match":"m","want":"apply(group:1)","have":null}]}]})j");
  EXPECT_EQ(format_reply("flows", reply),
            "r1 (dpid 0000000000000001, netns ns1)\n"
            "STATE    KIND   PRIORITY  PREFIX       WANT            HAVE  PACKETS\n"
            "missing  route  1048      10.0.3.0/24  apply(group:1)  -     -\n"
            "ok 8, missing 1, extra 0, different 0, withheld 0\n");
}

TEST(CtlCommands, NoTapflowdSaysSoWithThePath) {
  ControlOptions o;
  o.socket = "/nonexistent-dir/tapflowd.sock";
  o.words = {"status"};
  std::ostringstream out, err;
  EXPECT_EQ(run_control(o, out, err), kExitUnreachable);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("is tapflowd running? (/nonexistent-dir/tapflowd.sock"), std::string::npos)
      << err.str();
  o.words = {"show", "bananas"};
  std::ostringstream err2;
  EXPECT_EQ(run_control(o, out, err2), kExitUsage);
  EXPECT_NE(err2.str().find("unknown view 'bananas'"), std::string::npos) << err2.str();
}

class ConfigCheck : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  // One file per test process and test: ctest runs the tests of this
  // fixture in parallel (-j2), each in its own process.
  std::string path_ = ::testing::TempDir() + "tapflowctl-check-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
};

TEST_F(ConfigCheck, ValidConfigGivesOneLineSummary) {
  const auto f = write("listen: [\"tcp:127.0.0.1:6653\"]\napp: router\nlog_format: json\n"
                       "control: { socket: /tmp/x/t.sock, group: ops }\n"
                       "router:\n  switches:\n    - { dpid: 1, name: r1 }\n");
  std::ostringstream out, err;
  EXPECT_EQ(run_config_check(f, out, err), kExitOk) << err.str();
  EXPECT_EQ(out.str(), f + ": ok: app router, 1 listener, 1 configured switch, routing on, "
                           "control /tmp/x/t.sock, log info json\n");
  EXPECT_EQ(err.str(), "");
}

TEST_F(ConfigCheck, ErrorsGiveFileLineColumn) {
  struct Case {
    std::string yaml, want;
  } cases[] = {
      {"app: router\nlisen: []\n", ":2:1: lisen: unknown key"},
      {"app: router\nrouter:\n  switches:\n    - dpid: 1\n      mtu: 9000\n", ":5:7: router.switches[0].mtu: unknown key"},
      {"log_format: yaml\n", ":1:13: log_format: must be text or json"},
      {"control:\n  socket: relative.sock\n", ":2:11: control.socket: must be an absolute path"},
      {"control: true\n", ":1:10: control: is false or a map"},
      {"listen: [\"tcp:1.2.3.4:6653\"\n", ":"},  // YAML syntax: where the parser stopped (below)
  };
  for (const auto& c : cases) {
    const auto f = write(c.yaml);
    std::ostringstream out, err;
    EXPECT_EQ(run_config_check(f, out, err), kExitFailed) << c.yaml;
    EXPECT_EQ(out.str(), "");
    EXPECT_EQ(err.str().rfind(f + c.want, 0), 0u) << "got: " << err.str() << "want prefix: " << f + c.want;
  }
  // The exception carries the mark too.
  try {
    daemon::parse_config("app: router\nlisten: [\"tcp:1.2.3.4:1\"\n", "t.yaml");
    ADD_FAILURE();
  } catch (const daemon::ConfigError& e) {
    EXPECT_GT(e.line(), 0);
    EXPECT_GT(e.column(), 0);
  }
  try {
    daemon::parse_config("router:\n  mtu: 10\n", "t.yaml");
    ADD_FAILURE();
  } catch (const daemon::ConfigError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.column(), 8);
  }
}

}  // namespace
}  // namespace tapflow::ctl
