// JSON log lines: every message gives one valid JSON object whose message
// reads back exactly (escapes, control characters, UTF-8 kept, invalid
// UTF-8 replaced).
#include "json_log.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace tapflow::daemon {
namespace {

std::string escaped(std::string_view s) {
  std::string out;
  append_json_escaped(s, out);
  return out;
}

TEST(JsonLog, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(escaped("plain"), "plain");
  EXPECT_EQ(escaped("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escaped("C:\\tap"), "C:\\\\tap");
  EXPECT_EQ(escaped("a\nb\tc\rd\be\ff"), "a\\nb\\tc\\rd\\be\\ff");
  EXPECT_EQ(escaped(std::string("nul\0x", 5)), "nul\\u0000x");
  EXPECT_EQ(escaped("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(escaped("/"), "/");
}

TEST(JsonLog, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(escaped("port \xc3\xa9t\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80"),
            "port \xc3\xa9t\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");
  EXPECT_EQ(escaped("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(escaped("a\xc3"), "a\xef\xbf\xbd");              // truncated sequence
  EXPECT_EQ(escaped("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonLog, LineParsesBackToTheSameFields) {
  const std::string nasty = std::string("dpid=0000000000000001 \"q\" \\ \n\t\x01 \xc3\xa9 \xff end");
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  const std::string line = json_log_line(t, "warning", nasty);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("time"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j.at("level"), "warning");
  std::string want = nasty;
  want.replace(want.find('\xff'), 1, "\xef\xbf\xbd");
  EXPECT_EQ(j.at("message"), want);
  EXPECT_EQ(j.size(), 3u);
}

TEST(JsonLog, FormatterWritesOneLinePerMessage) {
  JsonLogFormatter f;
  spdlog::details::log_msg msg("tapflowd", spdlog::level::err, "two\nlines");
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  const std::string out(buf.data(), buf.size());
  ASSERT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("level"), "error");
  EXPECT_EQ(j.at("message"), "two\nlines");
}

}  // namespace
}  // namespace tapflow::daemon
