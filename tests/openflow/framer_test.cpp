// Framer: whole messages out of a byte stream, however the stream is chunked.
#include "tapflow/openflow/framer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "test_util.hpp"

namespace tapflow::openflow {
namespace {

using testing::hex;

// A message of `len` bytes: 1.3 ECHO_REQUEST with a patterned payload.
Bytes echo(std::uint16_t len, std::uint32_t xid) {
  Bytes b = {0x04, 0x02, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len),
             static_cast<std::uint8_t>(xid >> 24), static_cast<std::uint8_t>(xid >> 16),
             static_cast<std::uint8_t>(xid >> 8), static_cast<std::uint8_t>(xid)};
  for (std::size_t i = 8; i < len; ++i) b.push_back(static_cast<std::uint8_t>(i * 7 + xid));
  return b;
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Cut {
  Bytes bytes;
  std::uint64_t offset;
};

// Drains the framer, copying each frame (frames are only valid until the
// next call).
void drain(Framer& f, std::vector<Cut>& out) {
  while (auto frame = f.next()) out.push_back({Bytes(frame->bytes.begin(), frame->bytes.end()), frame->offset});
}

// Feeds `stream` in chunks of the given sizes (cycled) and returns the frames.
std::vector<Cut> feed(const Bytes& stream, const std::vector<std::size_t>& chunks,
                      std::size_t* max_buffered = nullptr) {
  Framer f;
  std::vector<Cut> out;
  std::size_t at = 0;
  for (std::size_t i = 0; at < stream.size(); ++i) {
    std::size_t n = std::min(chunks[i % chunks.size()], stream.size() - at);
    // A fresh copy per push that dies after draining: the framer must not
    // keep pointers into it.
    Bytes chunk(stream.begin() + static_cast<std::ptrdiff_t>(at),
                stream.begin() + static_cast<std::ptrdiff_t>(at + n));
    f.push(chunk);
    drain(f, out);
    if (max_buffered) *max_buffered = std::max(*max_buffered, f.buffered());
    at += n;
  }
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_FALSE(f.failed());
  return out;
}

void expect_frames(const std::vector<Cut>& got, const std::vector<Bytes>& msgs) {
  ASSERT_EQ(got.size(), msgs.size());
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(got[i].bytes, msgs[i]) << "message " << i;
    EXPECT_EQ(got[i].offset, offset) << "message " << i;
    offset += msgs[i].size();
  }
}

TEST(Framer, WholeMessageIsReturnedWithoutCopy) {
  Bytes wire = hex("04 00 0008 00000001   # HELLO, len 8");
  Framer f;
  f.push(wire);
  auto frame = f.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->bytes.data(), wire.data()) << "a whole message must not be copied";
  EXPECT_EQ(frame->bytes.size(), 8u);
  EXPECT_EQ(frame->offset, 0u);
  EXPECT_FALSE(f.next());
  EXPECT_EQ(f.buffered(), 0u);
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_EQ(f.offset(), 8u);
}

TEST(Framer, ManyMessagesInOnePush) {
  Bytes wire = hex(R"(
    04 00 0008 00000001          # HELLO
    04 02 0010 00000002          # ECHO_REQUEST, len 16
    0102030405060708             #   payload
    04 14 0008 00000003          # BARRIER_REQUEST
  )");
  Framer f;
  f.push(wire);
  std::vector<Cut> got;
  drain(f, got);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].offset, 0u);
  EXPECT_EQ(got[1].offset, 8u);
  EXPECT_EQ(got[1].bytes.size(), 16u);
  EXPECT_EQ(got[2].offset, 24u);
  EXPECT_EQ(got[2].bytes[1], 0x14);
  EXPECT_EQ(f.buffered(), 0u) << "nothing needed copying";
}

TEST(Framer, MessageSplitInsideHeaderAndBody) {
  Bytes msg = echo(20, 9);
  for (std::size_t cut = 1; cut < msg.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Framer f;
    Bytes a(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(cut));
    Bytes b(msg.begin() + static_cast<std::ptrdiff_t>(cut), msg.end());
    f.push(a);
    EXPECT_FALSE(f.next());
    EXPECT_EQ(f.pending(), cut);
    a.assign(a.size(), 0xee);  // the framer must have copied the partial bytes
    f.push(b);
    auto frame = f.next();
    ASSERT_TRUE(frame);
    EXPECT_EQ(Bytes(frame->bytes.begin(), frame->bytes.end()), msg);
    EXPECT_FALSE(f.next());
  }
}

TEST(Framer, ByteAtATime) {
  std::vector<Bytes> msgs = {echo(8, 1), echo(100, 2), echo(9, 3), echo(1500, 4), echo(8, 5)};
  std::size_t max_buffered = 0;
  auto got = feed(concat(msgs), {1}, &max_buffered);
  expect_frames(got, msgs);
  EXPECT_LE(max_buffered, 1500u) << "buffer holds at most one message";
}

TEST(Framer, IrregularChunksMatchOneShot) {
  std::vector<Bytes> msgs;
  std::mt19937 rng(1234);
  for (std::uint32_t i = 0; i < 200; ++i) {
    msgs.push_back(echo(static_cast<std::uint16_t>(8 + rng() % 600), i));
  }
  const Bytes stream = concat(msgs);
  for (const auto& chunks : std::vector<std::vector<std::size_t>>{
           {3, 5, 7, 11}, {4096}, {7, 1000, 1}, {stream.size()}, {8}, {9}}) {
    SCOPED_TRACE(chunks.size());
    expect_frames(feed(stream, chunks), msgs);
  }
}

TEST(Framer, LargestMessage) {
  std::vector<Bytes> msgs = {echo(65535, 1), echo(8, 2)};
  std::size_t max_buffered = 0;
  expect_frames(feed(concat(msgs), {1000}, &max_buffered), msgs);
  EXPECT_LE(max_buffered, 65535u);
}

TEST(Framer, PushWithoutDrainingKeepsOrder) {
  // Two pushes before any next(): the framer keeps what is left of the first
  // push (a whole message and half of the next) in order.
  const Bytes full = concat({echo(8, 1), echo(16, 2), echo(12, 3)});
  Bytes a(full.begin(), full.begin() + 20);
  Bytes b(full.begin() + 20, full.end());
  Framer f;
  f.push(a);
  f.push(b);
  std::vector<Cut> got;
  drain(f, got);
  expect_frames(got, {echo(8, 1), echo(16, 2), echo(12, 3)});
}

TEST(Framer, LengthBelowHeaderIsStickyBadLen) {
  Bytes wire = hex(R"(
    04 00 0008 00000001   # HELLO, fine
    04 00 0004 00000002   # length 4 < 8: the stream cannot be framed
    04 00 0008 00000003   # never reached
  )");
  Framer f;
  f.push(wire);
  auto first = f.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->offset, 0u);
  EXPECT_FALSE(f.next());
  ASSERT_TRUE(f.failed());
  EXPECT_EQ(f.error()->type, error_type::kBadRequest);
  EXPECT_EQ(f.error()->code, bad_request::kBadLen);
  EXPECT_EQ(f.error()->offset, 8u) << "stream offset of the bad message";
  // Sticky: more bytes change nothing.
  Bytes more = hex("04 00 0008 00000004");
  f.push(more);
  EXPECT_FALSE(f.next());
  EXPECT_TRUE(f.failed());
}

TEST(Framer, ZeroLengthDetectedWhenSplit) {
  Bytes wire = concat({echo(12, 1), hex("04 00 0000 00000002")});
  Framer f;
  std::size_t frames = 0;
  for (std::uint8_t byte : wire) {
    Bytes one = {byte};
    f.push(one);
    while (f.next()) ++frames;
  }
  EXPECT_EQ(frames, 1u);
  ASSERT_TRUE(f.failed());
  EXPECT_EQ(f.error()->offset, 12u);
  EXPECT_EQ(f.error()->code, bad_request::kBadLen);
}

TEST(Framer, IncompleteTailIsPending) {
  Bytes wire = concat({echo(8, 1), hex("04 02 0020 00000002 aabb")});
  Framer f;
  f.push(wire);
  std::vector<Cut> got;
  drain(f, got);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_FALSE(f.failed());
  EXPECT_EQ(f.pending(), 10u) << "the stream ended inside a 32-byte message";
  EXPECT_EQ(f.offset(), 8u);
}

TEST(Framer, EmptyPushIsHarmless) {
  Framer f;
  f.push({});
  EXPECT_FALSE(f.next());
  EXPECT_EQ(f.pending(), 0u);
  EXPECT_FALSE(f.failed());
}

}  // namespace
}  // namespace tapflow::openflow
