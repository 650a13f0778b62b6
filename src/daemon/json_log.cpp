// JSON log lines: escaping, the line, and tapflowd's logger setup.
#include "json_log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <ctime>

namespace tapflow::daemon {
namespace {

// The length of the valid UTF-8 sequence starting at text[i], or 0 if the
// bytes there are not one (overlong forms, surrogates and code points above
// U+10FFFF included).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t b0 = byte(i);
  std::size_t n = 0;
  std::uint32_t cp = 0, min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2, cp = b0 & 0x1fu, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3, cp = b0 & 0x0fu, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4, cp = b0 & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const std::uint8_t b = byte(i + k);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3fu);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

void append_json_escaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(text, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD for this byte; resynchronise on the next
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string json_log_line(std::chrono::system_clock::time_point time, std::string_view level,
                          std::string_view message) {
  using namespace std::chrono;
  const auto since = time.time_since_epoch();
  const auto secs = duration_cast<seconds>(since);
  auto ms = duration_cast<milliseconds>(since - secs).count();
  std::time_t t = static_cast<std::time_t>(secs.count());
  if (ms < 0) {  // before 1970: floor, not truncate
    ms += 1000;
    --t;
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out;
  out.reserve(64 + message.size());
  out += R"({"time":")";
  out.append(stamp, n);
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + ms / 10 % 10);
  out += static_cast<char>('0' + ms % 10);
  out += R"(Z","level":")";
  append_json_escaped(level, out);
  out += R"(","message":")";
  append_json_escaped(message, out);
  out += "\"}";
  return out;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto level = spdlog::level::to_string_view(msg.level);
  const std::string line = json_log_line(msg.time, std::string_view(level.data(), level.size()),
                                         std::string_view(msg.payload.data(), msg.payload.size()));
  dest.append(line.data(), line.data() + line.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

void setup_logging(const std::string& format, const std::string& level) {
  spdlog::drop("tapflowd");  // a reload sets it up again
  spdlog::set_default_logger(spdlog::stderr_color_mt("tapflowd"));
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  }
  // Unbuffered enough for tests and operators that follow the log.
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace tapflow::daemon
