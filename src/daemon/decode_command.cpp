#include "decode_command.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/framer.hpp"
#include "tapflow/openflow/json.hpp"
#include "tapflow/openflow/print.hpp"

namespace tapflow::ctl {
namespace {

namespace of = tapflow::openflow;

std::string hex_byte(std::uint8_t b) { return "0x" + of::to_hex(&b, 1); }

std::string version_name(std::uint8_t v) {
  if (v == of::kVersion10) return "v1.0";
  if (v == of::kVersion13) return "v1.3";
  return "version " + hex_byte(v);
}

// Where hex text stops being hex, for the error message: "line L column C:
// unexpected 'z'", or the odd digit count.
std::string hex_problem(std::string_view text) {
  std::size_t line = 1, col = 0;
  bool comment = false;
  for (char c : text) {
    ++col;
    if (c == '\n') {
      ++line;
      col = 0;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (c == '#') {
      comment = true;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (std::isxdigit(u) || std::isspace(u) || c == ':' || c == ',' || c == 'x' || c == 'X') {
      continue;
    }
    std::string shown = std::isprint(u) ? std::string(1, c) : hex_byte(u);
    return "line " + std::to_string(line) + " column " + std::to_string(col) +
           ": unexpected '" + shown + "' in hex text";
  }
  return "odd number of hex digits";
}

std::optional<std::string> read_all(const std::string& file, std::istream& stdin_stream,
                                    std::string& problem) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(stdin_stream),
                       std::istreambuf_iterator<char>());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    problem = std::strerror(errno);
    return std::nullopt;
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    problem = "read error";
    return std::nullopt;
  }
  return data;
}

// The OfError with its offset moved from the message's start to the stream's.
of::OfError at_stream_offset(of::OfError e, std::uint64_t message_offset) {
  e.offset += static_cast<std::size_t>(message_offset);
  return e;
}

}  // namespace

int decode_bytes(std::string_view name, std::span<const std::uint8_t> bytes,
                 const DecodeOptions& options, std::ostream& out, std::ostream& err) {
  const std::string where = "tapflowctl: " + std::string(name) + ": ";
  int status = 0;
  std::size_t count = 0, failed = 0;

  of::Framer framer;
  framer.push(bytes);
  while (auto frame = framer.next()) {
    ++count;
    const auto h = of::peek_header(frame->bytes);
    // "message 3 at byte 24 (FLOW_MOD v1.3, 80 bytes)"; before decoding, the
    // raw version and type.
    auto what = [&](const char* type) {
      std::string s = "message " + std::to_string(count) + " at byte " +
                      std::to_string(frame->offset) + " (";
      if (type != nullptr) {
        s += std::string(type) + " " + version_name(h.version);
      } else {
        s += "version " + hex_byte(h.version) + ", type " + std::to_string(h.type);
      }
      return s + ", " + std::to_string(h.length) + " bytes)";
    };
    auto msg = of::decode(frame->bytes);
    if (!msg) {
      err << where << what(nullptr) << " does not decode: "
          << of::describe(at_stream_offset(msg.error(), frame->offset)) << "\n";
      ++failed;
      status = 1;
      continue;
    }
    if (options.json) {
      // Port and table names may hold any bytes: never throw on bad UTF-8.
      out << of::to_json(*msg).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    } else {
      out << of::to_text(*msg) << "\n";
    }
    if (!options.roundtrip) continue;

    auto again = of::encode(*msg);
    if (!again) {
      err << where << what(of::type_name(msg->body))
          << " does not re-encode: " << of::describe(again.error()) << "\n";
      ++failed;
      status = 1;
      continue;
    }
    const of::Bytes& b = *again;
    if (!std::equal(b.begin(), b.end(), frame->bytes.begin(), frame->bytes.end())) {
      std::size_t i = 0;
      while (i < b.size() && i < frame->bytes.size() && b[i] == frame->bytes[i]) ++i;
      err << where << what(of::type_name(msg->body))
          << " re-encodes differently: first difference at byte "
          << (frame->offset + i) << " (byte " << i << " of the message: ";
      if (i < b.size() && i < frame->bytes.size()) {
        err << hex_byte(frame->bytes[i]) << " read, " << hex_byte(b[i]) << " written";
      } else {
        err << frame->bytes.size() << " bytes read, " << b.size() << " written";
      }
      err << ")\n";
      ++failed;
      status = 1;
    }
  }

  if (framer.failed()) {
    err << where << "cannot find message boundaries after byte " << framer.offset()
        << ", giving up on this file: " << of::describe(*framer.error()) << "\n";
    status = 1;
  } else if (framer.pending() > 0) {
    // The stream ends inside a message: say how much of it is there.
    const auto rest = bytes.subspan(static_cast<std::size_t>(framer.offset()));
    std::string detail = "file ends inside a message: " + std::to_string(rest.size()) + " bytes";
    if (rest.size() >= 4) {
      detail += " of " + std::to_string((std::size_t{rest[2]} << 8) | rest[3]);
    }
    detail += " present";
    err << where << "message " << (count + 1) << " at byte " << framer.offset()
        << " is truncated: "
        << of::describe(of::make_error(of::error_type::kBadRequest, of::bad_request::kBadLen,
                                       detail, static_cast<std::size_t>(framer.offset())))
        << "\n";
    status = 1;
  }
  if (status != 0) {
    err << where << count << " message(s), " << failed << " failed\n";
  }
  return status;
}

int run_decode(const DecodeOptions& options, std::istream& stdin_stream, std::ostream& out,
               std::ostream& err) {
  int status = 0;
  for (const auto& file : options.files) {
    std::string problem;
    auto data = read_all(file, stdin_stream, problem);
    const std::string name = file == "-" ? "<stdin>" : file;
    if (!data) {
      err << "tapflowctl: " << name << ": cannot read: " << problem << "\n";
      status = 1;
      continue;
    }
    of::Bytes bytes;
    if (options.hex) {
      auto parsed = of::parse_hex(*data);
      if (!parsed) {
        err << "tapflowctl: " << name << ": " << hex_problem(*data) << "\n";
        status = 1;
        continue;
      }
      bytes = std::move(*parsed);
    } else {
      bytes.assign(data->begin(), data->end());
    }
    if (decode_bytes(name, bytes, options, out, err) != 0) status = 1;
  }
  out.flush();
  return status;
}

}  // namespace tapflow::ctl
