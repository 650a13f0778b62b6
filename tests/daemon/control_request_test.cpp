// The control socket's requests: what parses, what is refused and why, and
// the lines tapflowctl builds from its words.
#include "control_request.hpp"

#include <gtest/gtest.h>

namespace tapflow::daemon {
namespace {

std::string error_of(std::string_view line) {
  try {
    parse_control_request(line);
  } catch (const ControlRequestError& e) {
    return e.what();
  }
  return "";
}

TEST(ControlRequest, StatusAndViews) {
  auto r = parse_control_request(R"({"command":"status"})");
  EXPECT_EQ(r.view, ControlView::kStatus);
  EXPECT_FALSE(r.switch_ref);
  r = parse_control_request(R"({"command":"show","view":"flows","args":["r1"],"diff":true,"limit":5})");
  EXPECT_EQ(r.view, ControlView::kFlows);
  EXPECT_EQ(r.switch_ref, "r1");
  EXPECT_TRUE(r.diff);
  EXPECT_EQ(r.limit, 5u);
  EXPECT_EQ(parse_control_request(R"({"command":"show","view":"neighbours"})").view, ControlView::kNeighbors);
}

TEST(ControlRequest, RoutesTakeASwitchAndOrADestination) {
  auto r = parse_control_request(R"({"command":"show","view":"routes","args":["10.0.3.7"]})");
  EXPECT_FALSE(r.switch_ref);
  ASSERT_TRUE(r.destination);
  EXPECT_TRUE(r.address);
  EXPECT_EQ(r.destination->to_string(), "10.0.3.7/32");
  r = parse_control_request(R"({"command":"show","view":"routes","args":["r1","10.0.3.9/24"]})");
  EXPECT_EQ(r.switch_ref, "r1");
  EXPECT_FALSE(r.address);
  EXPECT_EQ(r.destination->to_string(), "10.0.3.0/24");  // the prefix, host bits cleared
  r = parse_control_request(R"({"command":"show","view":"routes","args":["edge1"]})");
  EXPECT_EQ(r.switch_ref, "edge1");
  EXPECT_FALSE(r.destination);
  EXPECT_EQ(error_of(R"({"command":"show","view":"routes","args":["r1","nope"]})"),
            "'nope' is neither a prefix nor an address");
}

TEST(ControlRequest, BadRequestsSayWhy) {
  EXPECT_NE(error_of("garbage").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of("[1,2]").find("a request is a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{\"command\":\"status\"").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"reboot"})").find("unknown command 'reboot'"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"bananas"})").find("unknown view 'bananas'"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show"})").find("show needs \"view\""), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"status","x":1})").find("unknown key 'x'"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"routes","diff":true})").find("--diff is for show flows"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"ports","args":["a","b"]})").find("at most one argument"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"ha","args":["a"]})").find("takes no arguments"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"flows","args":[1]})").find("list of strings"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"flows","limit":0})").find("positive"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"show","view":"flows","limit":-3})").find("positive"), std::string::npos);
}

TEST(ControlRequest, LinesFromTapflowctlWordsRoundTrip) {
  const std::string line = control_request_line({"show", "flows", "r1"}, true, 10);
  const auto r = parse_control_request(line);
  EXPECT_EQ(r.view, ControlView::kFlows);
  EXPECT_EQ(r.switch_ref, "r1");
  EXPECT_TRUE(r.diff);
  EXPECT_EQ(r.limit, 10u);
  EXPECT_EQ(control_request_line({"status"}, false), R"({"command":"status"})");
  EXPECT_THROW(control_request_line({"show"}, false), ControlRequestError);
  EXPECT_THROW(control_request_line({"show", "routes", "a", "b", "c"}, false), ControlRequestError);
  EXPECT_THROW(control_request_line({"show", "routes"}, true), ControlRequestError);
  EXPECT_THROW(control_request_line({"halt"}, false), ControlRequestError);
}

TEST(ControlRequest, ReloadTakesNothingAndIsNoView) {
  EXPECT_EQ(parse_control_request(R"({"command":"reload"})").view, ControlView::kReload);
  EXPECT_EQ(control_request_line({"reload"}, false), R"({"command":"reload"})");
  EXPECT_NE(error_of(R"({"command":"reload","args":["x"]})").find("takes no arguments"), std::string::npos);
  EXPECT_THROW(control_request_line({"reload", "now"}, false), ControlRequestError);
  EXPECT_FALSE(parse_view("reload"));
  EXPECT_NE(error_of(R"({"command":"show","view":"reload"})").find("unknown view"), std::string::npos);
}

}  // namespace
}  // namespace tapflow::daemon
