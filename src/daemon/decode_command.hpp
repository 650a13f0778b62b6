// `tapflowctl decode`: decode OpenFlow messages from files and print them.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tapflow::ctl {

struct DecodeOptions {
  bool hex = false;        // files hold hex text ('#' comments allowed)
  bool json = false;       // one JSON document per line instead of text
  bool roundtrip = false;  // re-encode each message and compare bytes
  std::vector<std::string> files;  // "-" is standard input
};

// Decodes every file; prints each message to `out` and each problem to `err`
// as "tapflowctl: FILE: ...byte N...: ERROR". Goes on after a problem as far
// as the framing allows. Returns 0 when everything decoded (and round-tripped),
// 1 otherwise.
int run_decode(const DecodeOptions& options, std::istream& stdin_stream, std::ostream& out,
               std::ostream& err);

// The same for bytes already in memory (`name` is used in messages).
int decode_bytes(std::string_view name, std::span<const std::uint8_t> bytes,
                 const DecodeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tapflow::ctl
