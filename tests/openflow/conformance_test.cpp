// The Ryu conformance data (../shared/conformance/ryu): every wire message
// decodes and re-encodes to the same bytes; the truncated case is rejected.
// A missing data directory fails the test: it never skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

namespace fs = std::filesystem;

fs::path data_dir() { return fs::path(TAPFLOW_CONFORMANCE_DIR) / "ryu/tests/packet_data"; }

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<fs::path> packet_files(const char* sub) {
  std::vector<fs::path> out;
  fs::path dir = data_dir() / sub;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".packet") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_roundtrip(const fs::path& p, std::uint8_t version) {
  SCOPED_TRACE(p.filename().string());
  Bytes wire = read_file(p);
  auto m = decode(wire);
  ASSERT_TRUE(m.ok()) << describe(m.error());
  EXPECT_EQ(m->version, version);
  auto again = encode(*m);
  ASSERT_TRUE(again.ok()) << describe(again.error());
  EXPECT_EQ(to_hex(again->data(), again->size()), to_hex(wire.data(), wire.size()));
}

TEST(Conformance, DataIsPresent) {
  EXPECT_EQ(packet_files("of10").size(), 13u) << "missing " << data_dir();
  EXPECT_EQ(packet_files("of13").size(), 104u) << "missing " << data_dir();
}

TEST(Conformance, OpenFlow10WireRoundTrip) {
  for (const auto& p : packet_files("of10")) check_roundtrip(p, kVersion10);
}

TEST(Conformance, OpenFlow13WireRoundTrip) {
  for (const auto& p : packet_files("of13")) check_roundtrip(p, kVersion13);
}

TEST(Conformance, TruncatedFlowModIsBadLen) {
  Bytes wire = read_file(data_dir() / "of13/libofproto-OFP13-flow_mod.packet");
  ASSERT_GT(wire.size(), 64u);
  wire.resize(64);
  auto m = decode(wire);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().type, error_type::kBadRequest);
  EXPECT_EQ(m.error().code, bad_request::kBadLen);
}

}  // namespace
}  // namespace tapflow::openflow
