#include "tapflow/openflow/framer.hpp"

#include <algorithm>
#include <string>

#include "tapflow/openflow/constants.hpp"
#include "tapflow/openflow/errors.hpp"

namespace tapflow::openflow {
namespace {

// Bytes needed to read the length field (version, type, length).
constexpr std::size_t kLengthEnd = 4;
// Consumed bytes at the front of the buffer are dropped once they are at least
// this many and at least as many as the bytes still to return, so compaction
// costs O(1) per byte overall.
constexpr std::size_t kCompactThreshold = 4096;

}  // namespace

void Framer::push(std::span<const std::uint8_t> bytes) {
  if (failed()) return;
  compact();
  if (!input_.empty()) {
    // The previous push was not drained: keep what is left of it, in order.
    buffer_.insert(buffer_.end(), input_.begin(), input_.end());
  }
  input_ = bytes;
}

std::size_t Framer::message_length(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kLengthEnd) return 0;
  const std::size_t len = (std::size_t{bytes[2]} << 8) | bytes[3];
  // A 16-bit field cannot exceed kMaxMessageLen; the check documents the rule.
  if (len < kHeaderLen || len > kMaxMessageLen) {
    error_ = make_error(error_type::kBadRequest, bad_request::kBadLen,
                        "message header length " + std::to_string(len) + " is outside 8..65535",
                        static_cast<std::size_t>(offset_));
    return 0;
  }
  return len;
}

void Framer::compact() {
  if (head_ == 0) return;
  if (head_ == buffer_.size()) {
    buffer_.clear();
    head_ = 0;
  } else if (head_ >= kCompactThreshold && head_ >= buffer_.size() - head_) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

std::optional<Frame> Framer::next() {
  if (failed()) return std::nullopt;
  compact();

  // Moves up to n bytes from the borrowed input to the buffer.
  auto take = [this](std::size_t n) {
    n = std::min(n, input_.size());
    buffer_.insert(buffer_.end(), input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(n));
    input_ = input_.subspan(n);
  };

  if (buffered() > 0) {
    // A message began in an earlier push: complete it in the buffer.
    if (buffered() < kLengthEnd) take(kLengthEnd - buffered());
    if (buffered() < kLengthEnd) return std::nullopt;
    const std::size_t len =
        message_length(std::span<const std::uint8_t>(buffer_).subspan(head_));
    if (len == 0) return std::nullopt;
    if (buffered() < len) take(len - buffered());
    if (buffered() < len) return std::nullopt;
    Frame f{std::span<const std::uint8_t>(buffer_).subspan(head_, len), offset_};
    head_ += len;
    offset_ += len;
    return f;
  }

  if (input_.empty()) return std::nullopt;
  const std::size_t len = message_length(input_);
  if (failed()) return std::nullopt;
  if (len == 0 || input_.size() < len) {
    // Only part of a message: keep it until the rest arrives.
    take(input_.size());
    return std::nullopt;
  }
  Frame f{input_.first(len), offset_};
  input_ = input_.subspan(len);
  offset_ += len;
  return f;
}

}  // namespace tapflow::openflow
