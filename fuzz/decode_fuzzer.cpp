// Fuzzes decode(): any input must give a Message or an OfError, never a crash
// or a read past the end. A decoded message must re-encode, and decoding that
// must give the same Message back. The printers must cope with whatever decodes.
#include <cstdint>
#include <cstdio>
#include <span>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/json.hpp"
#include "tapflow/openflow/print.hpp"

namespace of = tapflow::openflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto first = of::decode(std::span<const std::uint8_t>(data, size));
  if (!first) {
    (void)of::describe(first.error());
    return 0;
  }
  const auto bytes = of::encode(*first);
  if (!bytes) {
    std::fprintf(stderr, "decoded %s does not re-encode: %s\n", of::type_name(first->body),
                 of::describe(bytes.error()).c_str());
    __builtin_trap();
  }
  const auto second = of::decode(*bytes);
  if (!second) {
    std::fprintf(stderr, "re-encoded %s does not decode: %s\n", of::type_name(first->body),
                 of::describe(second.error()).c_str());
    __builtin_trap();
  }
  if (!(*second == *first)) {
    std::fprintf(stderr, "decode(encode(m)) != m for %s\n  re-encoded: %s\n",
                 of::type_name(first->body), of::to_hex(bytes->data(), bytes->size()).c_str());
    __builtin_trap();
  }
  (void)of::to_text(*first);
  // Port and table names can hold any bytes: dump as tapflowctl does.
  (void)of::to_json(*first).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
