// HELLO and ERROR: the same layout in every version.
#include "version_codecs.hpp"

namespace tapflow::openflow::common {

Hello decode_hello(wire::Reader& r) {
  Hello hello;
  while (!r.empty() && r.ok()) {
    const std::size_t at = r.offset();
    const std::uint16_t type = r.u16();
    const std::uint16_t len = r.u16();
    if (!r.ok()) break;
    if (len < 4) {
      r.fail_at(at + 2, error_type::kBadRequest, bad_request::kBadLen,
                "HELLO element length below 4");
      break;
    }
    wire::Reader body = r.sub(len - 4u);
    HelloElement e;
    e.type = type;
    if (type == HelloElement::kVersionBitmap) {
      if (body.remaining() % 4 != 0) {
        body.fail(error_type::kBadRequest, bad_request::kBadLen,
                  "HELLO version bitmap is not a whole number of 32-bit words");
        break;
      }
      while (!body.empty()) e.bitmaps.push_back(body.u32());
    } else {
      e.data = body.rest_vector();
    }
    hello.elements.push_back(std::move(e));
    // Elements are padded to 8 bytes; tolerate a missing pad on the last one.
    const std::size_t pad = wire::pad8(len) - len;
    r.skip(std::min(pad, r.remaining()));
  }
  return hello;
}

void encode_hello(const Hello& m, wire::Writer& w) {
  for (const auto& e : m.elements) {
    const std::size_t start = w.pos();
    w.u16(e.type);
    w.u16(0);
    if (e.type == HelloElement::kVersionBitmap) {
      for (std::uint32_t b : e.bitmaps) w.u32(b);
    } else {
      w.bytes(e.data);
    }
    w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
    w.pad_from(start, 8);
  }
}

Error decode_error(wire::Reader& r, std::uint8_t version) {
  Error e;
  e.type = r.u16();
  e.code = r.u16();
  if (version == kVersion13 && e.type == error_type::kExperimenter) e.experimenter = r.u32();
  e.data = r.rest_vector();
  return e;
}

void encode_error(const Error& m, std::uint8_t version, wire::Writer& w) {
  w.u16(m.type);
  w.u16(m.code);
  if (version == kVersion13 && m.type == error_type::kExperimenter) w.u32(m.experimenter);
  w.bytes(m.data);
}

}  // namespace tapflow::openflow::common
