// Bounded big-endian reader and appending writer used by every wire codec.
// The reader never reads past its span: a short read records the error given
// for that region (the first error wins), returns zeros, and empties the
// reader, so decoding loops end by themselves.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tapflow/openflow/constants.hpp"
#include "tapflow/openflow/result.hpp"
#include "tapflow/openflow/types.hpp"

namespace tapflow::openflow::wire {

// Shared by a reader and its sub-readers: the first error of one decode.
struct DecodeState {
  std::optional<OfError> error;
};

class Reader {
 public:
  Reader(std::span<const std::uint8_t> data, DecodeState& state, std::size_t base_offset = 0,
         std::uint16_t underrun_type = error_type::kBadRequest,
         std::uint16_t underrun_code = bad_request::kBadLen)
      : data_(data),
        state_(&state),
        base_(base_offset),
        under_type_(underrun_type),
        under_code_(underrun_code) {}

  bool ok() const { return !state_->error.has_value(); }
  bool empty() const { return pos_ >= data_.size(); }
  std::size_t remaining() const { return data_.size() - pos_; }
  // Offset from the start of the whole message.
  std::size_t offset() const { return base_ + pos_; }
  DecodeState& state() const { return *state_; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return data_[pos_++];
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
                      (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    std::uint64_t hi = u32();
    return (hi << 32) | u32();
  }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    if (!need(n)) return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  Bytes byte_vector(std::size_t n) {
    auto s = bytes(n);
    return Bytes(s.begin(), s.end());
  }
  MacAddress mac() {
    MacAddress m;
    auto s = bytes(6);
    if (!s.empty()) std::copy(s.begin(), s.end(), m.octets.begin());
    return m;
  }
  // A fixed-size, NUL-terminated string field; the text ends at the first
  // NUL. A field with no NUL (a non-conforming peer) yields its first n-1
  // bytes, as Writer::fixed_string would write them back.
  std::string fixed_string(std::size_t n) {
    auto s = bytes(n);
    if (s.empty()) return {};
    auto end = std::find(s.begin(), s.end() - 1, std::uint8_t{0});
    return std::string(s.begin(), end);
  }
  void skip(std::size_t n) { (void)bytes(n); }
  // Everything left.
  std::span<const std::uint8_t> rest() { return bytes(remaining()); }
  Bytes rest_vector() { return byte_vector(remaining()); }

  // A reader over the next n bytes whose underruns report (type, code). If
  // fewer than n bytes remain, this reader's underrun error is recorded.
  Reader sub(std::size_t n, std::uint16_t type, std::uint16_t code) {
    std::size_t at = offset();
    auto s = bytes(n);
    return Reader(s, *state_, at, type, code);
  }
  Reader sub(std::size_t n) { return sub(n, under_type_, under_code_); }

  // Records an error at the current offset (the first error wins) and empties
  // the reader.
  void fail(std::uint16_t type, std::uint16_t code, std::string_view detail) {
    fail_at(offset(), type, code, detail);
  }
  void fail_at(std::size_t at, std::uint16_t type, std::uint16_t code, std::string_view detail) {
    if (!state_->error) state_->error = OfError{type, code, std::string(detail), at};
    pos_ = data_.size();
  }

 private:
  bool need(std::size_t n) {
    if (!ok()) {
      pos_ = data_.size();
      return false;
    }
    if (remaining() < n) {
      fail(under_type_, under_code_, "message too short for its contents");
      return false;
    }
    return true;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  DecodeState* state_;
  std::size_t base_;
  std::uint16_t under_type_;
  std::uint16_t under_code_;
};

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(&out) {}

  std::size_t pos() const { return out_->size(); }
  Bytes& buffer() { return *out_; }

  void u8(std::uint8_t v) { out_->push_back(v); }
  void u16(std::uint16_t v) {
    out_->push_back(static_cast<std::uint8_t>(v >> 8));
    out_->push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                         static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    out_->insert(out_->end(), b, b + 4);
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void bytes(std::span<const std::uint8_t> b) { out_->insert(out_->end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { out_->insert(out_->end(), n, 0); }
  void mac(const MacAddress& m) { out_->insert(out_->end(), m.octets.begin(), m.octets.end()); }
  // NUL-padded to n bytes; longer text is cut to n-1 bytes so a NUL remains
  // (OpenFlow's fixed strings are NUL-terminated).
  void fixed_string(std::string_view s, std::size_t n) {
    std::size_t len = std::min(s.size(), n == 0 ? 0 : n - 1);
    out_->insert(out_->end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(len));
    zeros(n - len);
  }
  void patch_u16(std::size_t at, std::uint16_t v) {
    (*out_)[at] = static_cast<std::uint8_t>(v >> 8);
    (*out_)[at + 1] = static_cast<std::uint8_t>(v);
  }
  // Zero-pads so that the bytes written since `from` are a multiple of `align`.
  void pad_from(std::size_t from, std::size_t align) {
    std::size_t n = (pos() - from) % align;
    if (n != 0) zeros(align - n);
  }

 private:
  Bytes* out_;
};

inline std::size_t pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

}  // namespace tapflow::openflow::wire
