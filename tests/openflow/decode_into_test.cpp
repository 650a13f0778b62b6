// decode_into(): the same result as decode() whatever the scratch message held
// before (conformance corpus, generated PACKET_INs, truncated and corrupted
// inputs, all decoded in random order into one scratch), and a PACKET_IN
// decoded over a PACKET_IN reuses the scratch's buffers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/oxm.hpp"

namespace tapflow::openflow {
namespace {

namespace fs = std::filesystem;

struct Input {
  std::string name;
  Bytes wire;
};

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The Ryu wire corpus, as conformance_test.cpp finds it.
std::vector<Input> corpus() {
  std::vector<Input> out;
  const fs::path root = fs::path(TAPFLOW_CONFORMANCE_DIR) / "ryu/tests/packet_data";
  for (const char* sub : {"of10", "of13"}) {
    if (!fs::is_directory(root / sub)) continue;
    for (const auto& e : fs::directory_iterator(root / sub)) {
      if (e.path().extension() == ".packet") {
        out.push_back({std::string(sub) + "/" + e.path().filename().string(), read_file(e.path())});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Input& a, const Input& b) { return a.name < b.name; });
  return out;
}

Bytes data_of(std::size_t n, std::uint8_t seed) {
  Bytes d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(seed + i * 7);
  return d;
}

// PACKET_INs of both versions with varied data sizes and matches, so that the
// in-place PACKET_IN path meets every kind of earlier content.
std::vector<Input> packet_ins() {
  std::vector<Input> out;
  const std::size_t sizes[] = {0, 1, 60, 64, 200, 1500};
  int n = 0;
  for (std::size_t size : sizes) {
    PacketIn p10;
    p10.buffer_id = 0x100 + static_cast<std::uint32_t>(size);
    p10.total_len = static_cast<std::uint16_t>(size);
    p10.in_port = 1 + static_cast<std::uint32_t>(size % 7);
    p10.reason = packet_in_reason::kAction;
    p10.data = data_of(size, 1);
    auto w10 = encode(Message{kVersion10, 77, p10});
    EXPECT_TRUE(w10.ok());
    if (w10.ok()) out.push_back({"of10 packet_in " + std::to_string(size), *w10});

    for (int shape = 0; shape < 4; ++shape) {
      PacketIn p;
      p.buffer_id = kNoBuffer;
      p.total_len = static_cast<std::uint16_t>(size);
      p.reason = static_cast<std::uint8_t>(shape % 2);
      p.table_id = static_cast<std::uint8_t>(shape);
      p.cookie = 0x1122334455667788ULL + static_cast<std::uint64_t>(shape);
      if (shape != 3) p.match.fields.push_back(oxm::in_port(3 + static_cast<std::uint32_t>(shape)));
      if (shape >= 1) p.match.fields.push_back(oxm::metadata(0xabcdef00ULL + size));
      if (shape == 2) {
        p.match.fields.push_back(oxm::uint_field(oxm_field::kTunnelId, 0x42, 8));
        // An experimenter field longer than the inline 16 bytes of ValueBytes.
        OxmField exp;
        exp.oxm_class = oxm_class::kExperimenter;
        exp.field = 5;
        exp.experimenter = 0x00002320;
        exp.value.assign(20, 0x5a);
        p.match.fields.push_back(exp);
      }
      p.data = data_of(size, static_cast<std::uint8_t>(shape));
      auto w = encode(Message{kVersion13, static_cast<std::uint32_t>(1000 + n++), p});
      EXPECT_TRUE(w.ok()) << describe(w.error());
      if (w.ok()) {
        out.push_back(
            {"of13 packet_in " + std::to_string(size) + " shape " + std::to_string(shape), *w});
      }
    }
  }
  return out;
}

void set_length(Bytes& b) {
  if (b.size() >= 4) {
    b[2] = static_cast<std::uint8_t>(b.size() >> 8);
    b[3] = static_cast<std::uint8_t>(b.size());
  }
}

// Inputs derived from each valid one: truncations with the header length made
// to agree (so body decoders run out of bytes in every place) or left as it
// was, and copies with a few bytes after the header changed.
std::vector<Input> mutations(const std::vector<Input>& valid, std::mt19937& rng) {
  std::vector<Input> out;
  for (const auto& in : valid) {
    const std::size_t len = in.wire.size();
    for (int k = 0; k < 6 && len > 0; ++k) {
      const std::size_t cut = std::uniform_int_distribution<std::size_t>(0, len - 1)(rng);
      Bytes t(in.wire.begin(), in.wire.begin() + static_cast<std::ptrdiff_t>(cut));
      if (k != 0) set_length(t);
      out.push_back({in.name + " cut at " + std::to_string(cut) + (k != 0 ? "" : " (stale length)"),
                     std::move(t)});
    }
    for (int k = 0; k < 4 && len > 8; ++k) {
      Bytes c = in.wire;
      const int flips = 1 + k;
      for (int f = 0; f < flips; ++f) {
        const std::size_t at = std::uniform_int_distribution<std::size_t>(8, len - 1)(rng);
        c[at] = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
      }
      out.push_back({in.name + " corrupted " + std::to_string(k), std::move(c)});
    }
  }
  return out;
}

// decode_into(wire, scratch) must give exactly what decode(wire) gives.
void expect_same(const Input& in, Message& scratch) {
  SCOPED_TRACE(in.name);
  const auto fresh = decode(in.wire);
  const Status st = decode_into(in.wire, scratch);
  ASSERT_EQ(st.ok(), fresh.ok()) << (fresh.ok() ? describe(st.error()) : describe(fresh.error()));
  if (!fresh.ok()) {
    EXPECT_EQ(st.error().type, fresh.error().type);
    EXPECT_EQ(st.error().code, fresh.error().code);
    EXPECT_EQ(st.error().offset, fresh.error().offset);
    EXPECT_EQ(st.error().detail, fresh.error().detail);
    return;
  }
  EXPECT_EQ(scratch, *fresh);
  // Also byte for byte (covers what operator== leaves out, e.g. 1.0 match bytes).
  auto a = encode(scratch);
  auto b = encode(*fresh);
  ASSERT_EQ(a.ok(), b.ok());
  if (a.ok()) {
    EXPECT_EQ(to_hex(a->data(), a->size()), to_hex(b->data(), b->size()));
  }
}

TEST(DecodeInto, EqualsDecodeForCorpusPacketInsAndMutationsInRandomOrder) {
  const std::uint32_t seed = 20240611;
  std::mt19937 rng(seed);
  std::vector<Input> valid = corpus();
  ASSERT_EQ(valid.size(), 117u) << "conformance corpus missing under " << TAPFLOW_CONFORMANCE_DIR;
  for (auto& p : packet_ins()) valid.push_back(std::move(p));
  std::vector<Input> all = valid;
  for (auto& m : mutations(valid, rng)) all.push_back(std::move(m));

  // Every input must be compared at least once after several kinds of
  // earlier content: two shuffled passes over one scratch message.
  Message scratch;
  std::size_t ok = 0, failed = 0;
  for (int pass = 0; pass < 2; ++pass) {
    std::shuffle(all.begin(), all.end(), rng);
    for (const auto& in : all) {
      expect_same(in, scratch);
      (decode(in.wire).ok() ? ok : failed) += 1;
    }
  }
  // Both outcomes must be exercised, or the test proves little.
  EXPECT_GT(ok, 500u);
  EXPECT_GT(failed, 500u);
}

TEST(DecodeInto, PacketInOverPacketInReusesBuffers) {
  for (std::uint8_t version : {kVersion10, kVersion13}) {
    SCOPED_TRACE(int(version));
    PacketIn big;
    big.in_port = 2;
    big.data = data_of(1500, 9);
    if (version == kVersion13) {
      big.match.fields = {oxm::in_port(2), oxm::metadata(5),
                          oxm::uint_field(oxm_field::kTunnelId, 7, 8)};
    }
    PacketIn small = big;
    small.data = data_of(60, 3);
    small.in_port = 4;
    if (version == kVersion13) small.match.fields = {oxm::in_port(4)};
    auto wbig = encode(Message{version, 1, big});
    auto wsmall = encode(Message{version, 2, small});
    ASSERT_TRUE(wbig.ok() && wsmall.ok());

    Message scratch;
    ASSERT_TRUE(decode_into(*wbig, scratch).ok());
    const auto& pi = std::get<PacketIn>(scratch.body);
    const std::uint8_t* data = pi.data.data();
    const OxmField* fields = pi.match.fields.data();
    ASSERT_TRUE(decode_into(*wsmall, scratch).ok());
    const auto& pi2 = std::get<PacketIn>(scratch.body);
    EXPECT_EQ(pi2.data.data(), data) << "data buffer was reallocated";
    EXPECT_EQ(pi2.data, small.data);
    EXPECT_EQ(pi2.in_port, 4u);
    if (version == kVersion13) {
      EXPECT_EQ(pi2.match.fields.data(), fields) << "match buffer was reallocated";
      ASSERT_EQ(pi2.match.fields.size(), 1u);
    }
    EXPECT_GE(pi2.data.capacity(), 1500u);
  }
}

TEST(DecodeInto, ResetsWhatTheEarlierPacketInHad) {
  // A 1.3 PACKET_IN (cookie, table, match) then a 1.0 one (none of those):
  // nothing of the first may show through.
  PacketIn p13;
  p13.cookie = 99;
  p13.table_id = 3;
  p13.match.fields = {oxm::in_port(5), oxm::metadata(1)};
  p13.data = data_of(100, 1);
  PacketIn p10;
  p10.in_port = 6;
  p10.data = data_of(10, 2);
  auto w13 = encode(Message{kVersion13, 1, p13});
  auto w10 = encode(Message{kVersion10, 2, p10});
  ASSERT_TRUE(w13.ok() && w10.ok());
  Message scratch;
  ASSERT_TRUE(decode_into(*w13, scratch).ok());
  ASSERT_TRUE(decode_into(*w10, scratch).ok());
  const auto& pi = std::get<PacketIn>(scratch.body);
  EXPECT_EQ(pi.cookie, 0u);
  EXPECT_EQ(pi.table_id, 0u);
  EXPECT_TRUE(pi.match.fields.empty());
  EXPECT_EQ(pi.in_port, 6u);
  EXPECT_EQ(scratch.version, kVersion10);
  EXPECT_EQ(scratch.xid, 2u);
  EXPECT_EQ(scratch, *decode(*w10));
}

TEST(DecodeInto, RefillsAMovedFromMessage) {
  PacketIn p;
  p.match.fields = {oxm::in_port(1)};
  p.data = data_of(64, 4);
  auto w = encode(Message{kVersion13, 3, p});
  ASSERT_TRUE(w.ok());
  Message scratch;
  ASSERT_TRUE(decode_into(*w, scratch).ok());
  Message taken = std::move(scratch);  // as a request handler may do
  ASSERT_TRUE(decode_into(*w, scratch).ok());
  EXPECT_EQ(scratch, taken);
  EXPECT_EQ(scratch, *decode(*w));
}

}  // namespace
}  // namespace tapflow::openflow
