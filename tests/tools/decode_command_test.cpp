// tapflowctl decode, in-process: what it prints for good input, and how it
// reports bad input (file, byte offset, OpenFlow error) and carries on.
#include "decode_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tapflow/openflow/types.hpp"

namespace tapflow::ctl {
namespace {

namespace fs = std::filesystem;
using openflow::Bytes;

Bytes hex(std::string_view text) {
  auto b = openflow::parse_hex(text);
  EXPECT_TRUE(b.has_value()) << text;
  return b.value_or(Bytes{});
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Lines that start a message (continuation lines are indented).
std::vector<std::string> message_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ') out.push_back(line);
  }
  return out;
}

struct RunResult {
  int status;
  std::string out, err;
};

RunResult decode(const Bytes& bytes, DecodeOptions opts = {}) {
  std::ostringstream out, err;
  int status = decode_bytes("test.bin", bytes, opts, out, err);
  return {status, out.str(), err.str()};
}

TEST(DecodeCommand, ConcatenatedConformanceFilesRoundTrip) {
  const fs::path dir = fs::path(TAPFLOW_CONFORMANCE_DIR) / "ryu/tests/packet_data";
  Bytes stream;
  std::size_t files = 0;
  for (const char* sub : {"of10", "of13"}) {
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(dir / sub)) {
      if (e.path().extension() == ".packet") paths.push_back(e.path());
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      Bytes b = read_file(p);
      stream.insert(stream.end(), b.begin(), b.end());
      ++files;
    }
  }
  ASSERT_EQ(files, 117u) << "conformance data missing under " << dir;
  DecodeOptions opts;
  opts.roundtrip = true;
  RunResult r = decode(stream, opts);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(message_lines(r.out).size(), files);

  opts.roundtrip = false;
  opts.json = true;
  r = decode(stream, opts);
  EXPECT_EQ(r.status, 0) << r.err;
  auto lines = message_lines(r.out);
  ASSERT_EQ(lines.size(), files);
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ASSERT_TRUE(j.is_object() && j.size() == 1) << "one {\"OFPxxx\": {...}} per line: " << line;
    EXPECT_EQ(j.begin().key().rfind("OFP", 0), 0u) << line;
  }
}

TEST(DecodeCommand, TextShowsEachMessage) {
  RunResult r = decode(hex(R"(
    04 00 0008 00000001    # HELLO
    01 02 000c 00000002    # v1.0 ECHO_REQUEST, 4 bytes of data
    61626364
  )"));
  EXPECT_EQ(r.status, 0);
  auto lines = message_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("HELLO v1.3 xid=0x1", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("ECHO_REQUEST v1.0 xid=0x2", 0), 0u) << lines[1];
}

TEST(DecodeCommand, BadMessageIsReportedAndDecodingGoesOn) {
  Bytes stream = read_file(fs::path(TAPFLOW_TOOLS_DATA) / "malformed.hex");
  auto bytes = openflow::parse_hex(std::string(stream.begin(), stream.end()));
  ASSERT_TRUE(bytes);
  RunResult r = decode(*bytes);
  EXPECT_EQ(r.status, 1);
  auto lines = message_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << "messages 1 and 3 are still printed";
  EXPECT_NE(lines[1].find("BARRIER_REQUEST"), std::string::npos);
  EXPECT_NE(r.err.find("tapflowctl: test.bin: message 2 at byte 8 (version 0x04, type 14, 80 "
                       "bytes) does not decode: BAD_ACTION/BAD_LEN"),
            std::string::npos)
      << r.err;
  // The error offset is the stream's: 8 (message start) + 66 (the action's length field).
  EXPECT_NE(r.err.find("(at byte 74)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 message(s), 1 failed"), std::string::npos) << r.err;
}

TEST(DecodeCommand, FramingErrorStopsTheFile) {
  RunResult r = decode(hex("04 02 0008 00000001  04 02 0000 00000002  04 14 0008 00000003"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(message_lines(r.out).size(), 1u);
  EXPECT_NE(r.err.find("cannot find message boundaries after byte 8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("BAD_REQUEST/BAD_LEN: message header length 0"), std::string::npos) << r.err;
}

TEST(DecodeCommand, TruncatedTailIsReported) {
  RunResult r = decode(hex("04 14 0008 00000001  04 02 0010 00000002 aabbcc"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(message_lines(r.out).size(), 1u);
  EXPECT_NE(r.err.find("message 2 at byte 8 is truncated: BAD_REQUEST/BAD_LEN: file ends inside "
                       "a message: 11 bytes of 16 present (at byte 8)"),
            std::string::npos)
      << r.err;
}

TEST(DecodeCommand, RoundTripMismatchNamesTheByte) {
  // A PACKET_OUT whose padding is not zero decodes, but re-encodes with zeros.
  Bytes wire = hex(R"(
    04 0d 0018 00000001    # v1.3 PACKET_OUT, length 24
    ffffffff fffffffd      # buffer none, in_port controller
    0000 ffffffffffff      # actions_len 0, pad (should be zeros)
  )");
  DecodeOptions opts;
  EXPECT_EQ(decode(wire, opts).status, 0) << "without --roundtrip this is fine";
  opts.roundtrip = true;
  RunResult r = decode(wire, opts);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("message 1 at byte 0 (PACKET_OUT v1.3, 24 bytes) re-encodes differently: "
                       "first difference at byte 18 (byte 18 of the message: 0xff read, 0x00 "
                       "written)"),
            std::string::npos)
      << r.err;
}

TEST(DecodeCommand, HexFromStdinAndHexErrors) {
  DecodeOptions opts;
  opts.hex = true;
  opts.files = {"-"};
  std::istringstream in("# a barrier\n04 14 0008 00000009\n");
  std::ostringstream out, err;
  EXPECT_EQ(run_decode(opts, in, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "BARRIER_REQUEST v1.3 xid=0x9\n");

  std::istringstream bad("04 14 0008\n0000 00zz\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(run_decode(opts, bad, out2, err2), 1);
  EXPECT_EQ(err2.str(), "tapflowctl: <stdin>: line 2 column 8: unexpected 'z' in hex text\n");

  std::istringstream odd("04 14 0008 0000000");
  std::ostringstream out3, err3;
  EXPECT_EQ(run_decode(opts, odd, out3, err3), 1);
  EXPECT_NE(err3.str().find("odd number of hex digits"), std::string::npos);
}

TEST(DecodeCommand, MissingFileDoesNotStopTheOthers) {
  DecodeOptions opts;
  opts.files = {"/nonexistent/tapflow.bin",
                (fs::path(TAPFLOW_CONFORMANCE_DIR) /
                 "ryu/tests/packet_data/of13/4-17-ofp_barrier_request.packet")
                    .string()};
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(run_decode(opts, in, out, err), 1);
  EXPECT_NE(err.str().find("/nonexistent/tapflow.bin: cannot read"), std::string::npos);
  EXPECT_EQ(message_lines(out.str()).size(), 1u);
}

TEST(DecodeCommand, JsonCopesWithPortNamesThatAreNotUtf8) {
  Bytes wire = hex(R"(
    04 0c 0050 00000001    # v1.3 PORT_STATUS, length 80
    00 00000000000000      # reason ADD, pad
    00000001 00000000      # port 1, pad
    020000000001 0000      # hw_addr, pad
    ff fe 41 00000000000000000000000000   # name: bytes ff fe 'A' (not UTF-8)
    00000000 00000000 00000000 00000000   # config, state, curr, advertised
    00000000 00000000 00000000 00000000   # supported, peer, curr_speed, max_speed
  )");
  DecodeOptions opts;
  opts.json = true;
  RunResult r = decode(wire, opts);
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
}

TEST(DecodeCommand, EmptyInputIsFine) {
  RunResult r = decode({});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace tapflow::ctl
