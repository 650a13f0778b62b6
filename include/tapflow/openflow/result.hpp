// Result<T>: a value or the OpenFlow error {type, code} a controller would send back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace tapflow::openflow {

// An OpenFlow error, numbered as in OpenFlow 1.3 (ofp_error_type / codes).
// The OpenFlow 1.0 codec maps it to 1.0 numbering when it writes an OFPT_ERROR
// (see to_wire_error in errors.hpp). `detail` and `offset` are for humans and
// logs: what was wrong and where in the message (byte offset from its start).
struct OfError {
  std::uint16_t type = 0;
  std::uint16_t code = 0;
  std::string detail;
  std::size_t offset = 0;

  friend bool operator==(const OfError& a, const OfError& b) {
    return a.type == b.type && a.code == b.code;
  }
};

// A minimal expected-style result (std::expected needs C++23 and clang 14's
// libstdc++ support of it is missing, so we carry our own).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT
  Result(OfError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool ok() const noexcept { return v_.index() == 0; }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const OfError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, OfError> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace tapflow::openflow
