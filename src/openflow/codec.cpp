// Top-level decode/encode: header, the per-version length table, dispatch.
#include "tapflow/openflow/codec.hpp"

#include <array>
#include <optional>
#include <string>

#include "tapflow/openflow/errors.hpp"
#include "version_codecs.hpp"
#include "wire_io.hpp"

namespace tapflow::openflow {
namespace {

// One row per wire message type: its name and the smallest legal length
// (header included); `exact` when the message has a fixed size. A length
// outside this is rejected here, in one place, as BAD_REQUEST/BAD_LEN.
struct TypeRow {
  const char* name;
  std::uint16_t min_len;
  bool exact;
};

constexpr std::array<TypeRow, 22> kTypes10 = {{
    {"HELLO", 8, false},
    {"ERROR", 12, false},
    {"ECHO_REQUEST", 8, false},
    {"ECHO_REPLY", 8, false},
    {"VENDOR", 12, false},
    {"FEATURES_REQUEST", 8, true},
    {"FEATURES_REPLY", 32, false},
    {"GET_CONFIG_REQUEST", 8, true},
    {"GET_CONFIG_REPLY", 12, true},
    {"SET_CONFIG", 12, true},
    {"PACKET_IN", 18, false},
    {"FLOW_REMOVED", 88, true},
    {"PORT_STATUS", 64, true},
    {"PACKET_OUT", 16, false},
    {"FLOW_MOD", 72, false},
    {"PORT_MOD", 32, true},
    {"STATS_REQUEST", 12, false},
    {"STATS_REPLY", 12, false},
    {"BARRIER_REQUEST", 8, true},
    {"BARRIER_REPLY", 8, true},
    {"QUEUE_GET_CONFIG_REQUEST", 12, true},
    {"QUEUE_GET_CONFIG_REPLY", 16, false},
}};

constexpr std::array<TypeRow, 30> kTypes13 = {{
    {"HELLO", 8, false},
    {"ERROR", 12, false},
    {"ECHO_REQUEST", 8, false},
    {"ECHO_REPLY", 8, false},
    {"EXPERIMENTER", 16, false},
    {"FEATURES_REQUEST", 8, true},
    {"FEATURES_REPLY", 32, true},
    {"GET_CONFIG_REQUEST", 8, true},
    {"GET_CONFIG_REPLY", 12, true},
    {"SET_CONFIG", 12, true},
    {"PACKET_IN", 34, false},
    {"FLOW_REMOVED", 56, false},
    {"PORT_STATUS", 80, true},
    {"PACKET_OUT", 24, false},
    {"FLOW_MOD", 56, false},
    {"GROUP_MOD", 16, false},
    {"PORT_MOD", 40, true},
    {"TABLE_MOD", 16, true},
    {"MULTIPART_REQUEST", 16, false},
    {"MULTIPART_REPLY", 16, false},
    {"BARRIER_REQUEST", 8, true},
    {"BARRIER_REPLY", 8, true},
    {"QUEUE_GET_CONFIG_REQUEST", 16, true},
    {"QUEUE_GET_CONFIG_REPLY", 16, false},
    {"ROLE_REQUEST", 24, true},
    {"ROLE_REPLY", 24, true},
    {"GET_ASYNC_REQUEST", 8, true},
    {"GET_ASYNC_REPLY", 32, true},
    {"SET_ASYNC", 32, true},
    {"METER_MOD", 16, false},
}};

const TypeRow* type_row(std::uint8_t version, std::uint8_t type) {
  if (version == kVersion10 && type < kTypes10.size()) return &kTypes10[type];
  if (version == kVersion13 && type < kTypes13.size()) return &kTypes13[type];
  return nullptr;
}

constexpr std::uint8_t kHelloType = 0;
constexpr std::uint8_t kErrorType = 1;

}  // namespace

Header peek_header(std::span<const std::uint8_t> b) {
  Header h;
  h.version = b[0];
  h.type = b[1];
  h.length = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
  h.xid = (std::uint32_t{b[4]} << 24) | (std::uint32_t{b[5]} << 16) | (std::uint32_t{b[6]} << 8) |
          std::uint32_t{b[7]};
  return h;
}

namespace {

// The one decoder behind decode() and decode_into(): fills `msg`, returns the
// error if any.
std::optional<OfError> decode_message(std::span<const std::uint8_t> bytes, Message& msg) {
  using namespace error_type;
  if (bytes.size() < kHeaderLen) {
    return make_error(kBadRequest, bad_request::kBadLen,
                      "message of " + std::to_string(bytes.size()) +
                          " bytes is shorter than the 8-byte header");
  }
  const Header h = peek_header(bytes);
  if (h.length != bytes.size()) {
    return make_error(kBadRequest, bad_request::kBadLen,
                      "header length " + std::to_string(h.length) + " but " +
                          std::to_string(bytes.size()) + " bytes present",
                      2);
  }

  msg.version = h.version;
  msg.xid = h.xid;
  wire::DecodeState state;
  wire::Reader r(bytes.subspan(kHeaderLen), state, kHeaderLen);

  if (h.type == kHelloType) {
    // HELLO is readable in any version: negotiation depends on it.
    msg.body = common::decode_hello(r);
  } else if (h.type == kErrorType && h.version != kVersion10 && h.version != kVersion13) {
    // So is ERROR (same layout in every version): a HELLO_FAILED must be
    // readable by the peer whose version we refused.
    if (h.length < 12) {
      return make_error(kBadRequest, bad_request::kBadLen, "ERROR shorter than 12 bytes", 2);
    }
    msg.body = common::decode_error(r, h.version);
  } else {
    if (h.version != kVersion10 && h.version != kVersion13) {
      return make_error(kBadRequest, bad_request::kBadVersion,
                        "unsupported OpenFlow version 0x" + to_hex(&h.version, 1), 0);
    }
    const TypeRow* row = type_row(h.version, h.type);
    if (row == nullptr) {
      return make_error(kBadRequest, bad_request::kBadType,
                        "unknown message type " + std::to_string(h.type), 1);
    }
    if (h.length < row->min_len || (row->exact && h.length != row->min_len)) {
      return make_error(kBadRequest, bad_request::kBadLen,
                        std::string(row->name) + " of length " + std::to_string(h.length) +
                            (row->exact ? ", must be " : ", minimum is ") +
                            std::to_string(row->min_len),
                        2);
    }
    if (h.version == kVersion10) {
      of10::decode_body(h.type, r, msg.body);
    } else {
      of13::decode_body(h.type, r, msg.body);
    }
  }
  if (state.error) return std::move(state.error);
  if (!r.empty()) {
    return make_error(kBadRequest, bad_request::kBadLen,
                      std::to_string(r.remaining()) + " unexpected bytes at the end of " +
                          type_name(msg.body),
                      r.offset());
  }
  return std::nullopt;
}

}  // namespace

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  Message msg;
  if (auto err = decode_message(bytes, msg)) return std::move(*err);
  return msg;
}

Status decode_into(std::span<const std::uint8_t> bytes, Message& out) {
  if (auto err = decode_message(bytes, out)) return std::move(*err);
  return ok_status();
}

int wire_type(std::uint8_t version, const MessageBody& body) {
  if (std::holds_alternative<Hello>(body)) return kHelloType;
  if (std::holds_alternative<Error>(body) && version != kVersion10 && version != kVersion13) {
    return kErrorType;
  }
  if (version == kVersion10) return of10::wire_type(body);
  if (version == kVersion13) return of13::wire_type(body);
  return -1;
}

Status encode(const Message& msg, Bytes& out) {
  const std::size_t start = out.size();
  const int type = wire_type(msg.version, msg.body);
  if (type < 0) {
    return make_error(error_type::kBadRequest,
                      msg.version == kVersion10 || msg.version == kVersion13
                          ? bad_request::kBadType
                          : bad_request::kBadVersion,
                      std::string(type_name(msg.body)) + " cannot be expressed in OpenFlow version 0x" +
                          to_hex(&msg.version, 1));
  }
  wire::Writer w(out);
  w.u8(msg.version);
  w.u8(static_cast<std::uint8_t>(type));
  w.u16(0);  // length, patched below
  w.u32(msg.xid);

  Status st = ok_status();
  if (const auto* hello = std::get_if<Hello>(&msg.body)) {
    common::encode_hello(*hello, w);
  } else if (msg.version != kVersion10 && msg.version != kVersion13) {
    common::encode_error(std::get<Error>(msg.body), msg.version, w);
  } else if (msg.version == kVersion10) {
    st = of10::encode_body(msg.body, w);
  } else {
    st = of13::encode_body(msg.body, w);
  }
  const std::size_t len = out.size() - start;
  if (st.ok() && len > kMaxMessageLen) {
    st = make_error(error_type::kBadRequest, bad_request::kBadLen,
                    std::string(type_name(msg.body)) + " would be " + std::to_string(len) +
                        " bytes, more than 65535");
  }
  if (!st.ok()) {
    out.resize(start);
    return st;
  }
  w.patch_u16(start + 2, static_cast<std::uint16_t>(len));
  return st;
}

Result<Bytes> encode(const Message& msg) {
  Bytes out;
  Status st = encode(msg, out);
  if (!st) return st.error();
  return out;
}

}  // namespace tapflow::openflow
