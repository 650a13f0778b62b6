// Fuzzes the Framer: the input is a byte stream fed in chunks whose sizes come
// from the input itself. Every frame must be exactly one header-length message
// at the right stream offset, frames plus the pending tail must be the whole
// stream, and a framing error must point at a header whose length is below 8.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/framer.hpp"

namespace of = tapflow::openflow;

namespace {
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "framer invariant broken: %s\n", what);
    __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // First byte: chunk size pattern seed; the rest: the stream.
  const std::uint8_t seed = data[0];
  const std::span<const std::uint8_t> stream(data + 1, size - 1);

  of::Framer framer;
  std::uint64_t expect_offset = 0;
  std::size_t at = 0, i = 0;
  while (at < stream.size()) {
    const std::size_t n =
        std::min<std::size_t>(stream.size() - at, 1 + ((seed * (i + 1) * 37u) % 97u));
    // A fresh heap copy per chunk, freed right after draining: ASan catches
    // a framer that keeps pointers into pushed bytes.
    std::vector<std::uint8_t> chunk(stream.begin() + static_cast<std::ptrdiff_t>(at),
                                    stream.begin() + static_cast<std::ptrdiff_t>(at + n));
    framer.push(chunk);
    while (auto frame = framer.next()) {
      check(frame->offset == expect_offset, "frame offset");
      check(frame->bytes.size() >= 8, "frame shorter than a header");
      const auto h = of::peek_header(frame->bytes);
      check(h.length == frame->bytes.size(), "frame size differs from its header length");
      check(std::equal(frame->bytes.begin(), frame->bytes.end(),
                       stream.begin() + static_cast<std::ptrdiff_t>(frame->offset)),
            "frame bytes differ from the stream");
      (void)of::decode(frame->bytes);
      expect_offset += frame->bytes.size();
    }
    at += n;
    ++i;
  }
  check(framer.offset() == expect_offset, "framer offset");
  if (framer.failed()) {
    const std::size_t bad = framer.error()->offset;
    check(bad == expect_offset && bad + 4 <= stream.size(), "error offset");
    const std::size_t len = (std::size_t{stream[bad + 2]} << 8) | stream[bad + 3];
    check(len < 8, "framing error on a valid length");
  } else {
    check(expect_offset + framer.pending() == stream.size(), "pending bytes");
  }
  return 0;
}
