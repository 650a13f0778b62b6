// OpenFlow 1.3 OXM TLVs and ofp_match (OFPMT_OXM) on the wire.
//
// Decoding checks what the wire format itself defines: header and length
// sanity, the fixed size of every known basic field, masks only on maskable
// basic fields. It does not check prerequisites or duplicates (check_match()
// does), so a controller can read whatever match a switch reports.
#include "version_codecs.hpp"

namespace tapflow::openflow::of13 {
namespace {

constexpr std::uint16_t kMatchTypeOxm = 1;  // OFPMT_OXM
constexpr std::size_t kOxmHeaderLen = 4;
constexpr std::size_t kMatchHeaderLen = 4;  // type + length

}  // namespace

OxmField decode_oxm(wire::Reader& r) {
  using namespace bad_match;
  OxmField f;
  const std::size_t at = r.offset();
  if (r.remaining() < kOxmHeaderLen) {
    r.fail(error_type::kBadMatch, kBadLen, "truncated OXM header");
    return f;
  }
  const std::uint32_t header = r.u32();
  f.oxm_class = static_cast<std::uint16_t>(header >> 16);
  f.field = static_cast<std::uint8_t>((header >> 9) & 0x7f);
  f.has_mask = (header & 0x100) != 0;
  const std::size_t len = header & 0xff;
  if (len > r.remaining()) {
    r.fail_at(at + 3, error_type::kBadMatch, kBadLen, "OXM payload runs past the match");
    return f;
  }
  wire::Reader payload = r.sub(len, error_type::kBadMatch, kBadLen);
  if (f.oxm_class == oxm_class::kExperimenter) {
    if (len < 4) {
      payload.fail_at(at + 3, error_type::kBadMatch, kBadLen,
                      "experimenter OXM shorter than its experimenter id");
      return f;
    }
    f.experimenter = payload.u32();
  }
  const std::size_t n = payload.remaining();
  if (f.oxm_class == oxm_class::kOpenflowBasic) {
    const OxmFieldInfo* info = oxm_field_info(f.oxm_class, f.field);
    if (info == nullptr) {
      payload.fail_at(at, error_type::kBadMatch, kBadField,
                      "unknown OXM basic field " + std::to_string(f.field));
      return f;
    }
    if (f.has_mask && !info->maskable) {
      payload.fail_at(at, error_type::kBadMatch, kBadMask,
                      std::string(info->name) + " cannot be masked");
      return f;
    }
    if (n != (f.has_mask ? 2u : 1u) * info->length) {
      payload.fail_at(at + 3, error_type::kBadMatch, kBadLen,
                      std::string(info->name) + " has payload length " + std::to_string(n));
      return f;
    }
  } else if (f.has_mask && n % 2 != 0) {
    // Non-basic classes are opaque to us, but a mask still halves the payload.
    payload.fail_at(at + 3, error_type::kBadMatch, kBadLen,
                    "masked OXM with an odd payload length");
    return f;
  }
  const std::size_t vlen = f.has_mask ? n / 2 : n;
  auto value = payload.bytes(vlen);
  f.value.assign(value.begin(), value.end());
  if (f.has_mask) {
    auto mask = payload.bytes(vlen);
    f.mask.assign(mask.begin(), mask.end());
  }
  return f;
}

void encode_oxm(const OxmField& f, wire::Writer& w) {
  const std::size_t len = f.wire_size() - kOxmHeaderLen;
  w.u32((std::uint32_t{f.oxm_class} << 16) | (std::uint32_t{f.field & 0x7fu} << 9) |
        (f.has_mask ? 0x100u : 0u) | static_cast<std::uint32_t>(len & 0xff));
  if (f.oxm_class == oxm_class::kExperimenter) w.u32(f.experimenter);
  w.bytes(std::span<const std::uint8_t>(f.value.data(), f.value.size()));
  if (f.has_mask) w.bytes(std::span<const std::uint8_t>(f.mask.data(), f.mask.size()));
}

Match decode_match(wire::Reader& r) {
  Match m;
  decode_match_into(r, m);
  return m;
}

void decode_match_into(wire::Reader& r, Match& m) {
  using namespace bad_match;
  const std::size_t at = r.offset();
  if (r.remaining() < kMatchHeaderLen) {
    r.fail(error_type::kBadMatch, kBadLen, "truncated ofp_match header");
    return;
  }
  const std::uint16_t type = r.u16();
  const std::uint16_t len = r.u16();
  if (type != kMatchTypeOxm) {
    r.fail_at(at, error_type::kBadMatch, kBadType,
              "match type " + std::to_string(type) + " is not OFPMT_OXM");
    return;
  }
  if (len < kMatchHeaderLen) {
    r.fail_at(at + 2, error_type::kBadMatch, kBadLen, "ofp_match length below 4");
    return;
  }
  // The length excludes the padding to 8 bytes, which must still be there.
  const std::size_t padded = wire::pad8(len);
  if (padded - kMatchHeaderLen > r.remaining()) {
    r.fail_at(at + 2, error_type::kBadMatch, kBadLen,
              "ofp_match of length " + std::to_string(len) + " (padded " +
                  std::to_string(padded) + ") runs past its message");
    return;
  }
  wire::Reader fields = r.sub(len - kMatchHeaderLen, error_type::kBadMatch, kBadLen);
  while (!fields.empty() && fields.ok()) m.fields.push_back(decode_oxm(fields));
  r.skip(padded - len);
}

void encode_match(const Match& m, wire::Writer& w) {
  const std::size_t start = w.pos();
  w.u16(kMatchTypeOxm);
  w.u16(0);  // length, patched below
  for (const auto& f : m.fields) encode_oxm(f, w);
  w.patch_u16(start + 2, static_cast<std::uint16_t>(w.pos() - start));
  w.pad_from(start, 8);
}

}  // namespace tapflow::openflow::of13
