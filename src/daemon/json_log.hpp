// tapflowd's log as JSON lines (--log-format json): one object per line with
// time, level and message, so log shippers need no pattern to parse it.
#pragma once

#include <spdlog/formatter.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace tapflow::daemon {

// Appends `text` to `out` as the inside of a JSON string: '"', '\\' and
// control characters escaped (\n, \t, ... or \u00XX), DEL as \u007f, valid
// UTF-8 kept as it is, and every byte of an invalid UTF-8 sequence replaced
// by U+FFFD, so the line is always valid JSON whatever a message holds.
void append_json_escaped(std::string_view text, std::string& out);

// {"time":"2024-05-01T12:00:00.123Z","level":"info","message":"..."}
// (time in UTC, milliseconds), without the newline.
std::string json_log_line(std::chrono::system_clock::time_point time, std::string_view level,
                          std::string_view message);

// The spdlog formatter that writes json_log_line() and a newline.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// tapflowd's logger on stderr, in "text" (the usual pattern) or "json".
void setup_logging(const std::string& format, const std::string& level);

}  // namespace tapflow::daemon
