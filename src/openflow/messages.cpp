#include "tapflow/openflow/messages.hpp"

#include <type_traits>

namespace tapflow::openflow {

namespace {
template <class T, class V>
constexpr std::size_t index_of() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    std::size_t r = 0;
    ((r = std::is_same_v<T, std::variant_alternative_t<I, V>> ? I : r), ...);
    return r;
  }(std::make_index_sequence<std::variant_size_v<V>>{});
}
}  // namespace

const char* type_name(const MessageBody& body) {
  // Order follows MessageBody.
  static constexpr const char* kNames[] = {
      "HELLO",          "ERROR",          "ECHO_REQUEST",      "ECHO_REPLY",
      "EXPERIMENTER",   "FEATURES_REQUEST", "FEATURES_REPLY",  "GET_CONFIG_REQUEST",
      "GET_CONFIG_REPLY", "SET_CONFIG",   "PACKET_IN",         "FLOW_REMOVED",
      "PORT_STATUS",    "PACKET_OUT",     "FLOW_MOD",          "GROUP_MOD",
      "PORT_MOD",       "TABLE_MOD",      "MULTIPART_REQUEST", "MULTIPART_REPLY",
      "BARRIER_REQUEST", "BARRIER_REPLY", "QUEUE_GET_CONFIG_REQUEST", "QUEUE_GET_CONFIG_REPLY",
      "ROLE_REQUEST",   "ROLE_REPLY",     "GET_ASYNC_REQUEST", "GET_ASYNC_REPLY",
      "SET_ASYNC",      "METER_MOD",      "BUNDLE_CONTROL",    "BUNDLE_ADD_MESSAGE"};
  static_assert(std::size(kNames) == std::variant_size_v<MessageBody>);
  static_assert(index_of<BundleAddMessage, MessageBody>() == 31);
  static_assert(index_of<MeterMod, MessageBody>() == 29);
  return kNames[body.index()];
}

std::uint16_t multipart_type_of(const MultipartRequestBody& body) {
  static constexpr std::uint16_t kTypes[] = {
      multipart_type::kDesc,        multipart_type::kFlow,          multipart_type::kAggregate,
      multipart_type::kTable,       multipart_type::kPort,          multipart_type::kQueue,
      multipart_type::kGroup,       multipart_type::kGroupDesc,     multipart_type::kGroupFeatures,
      multipart_type::kMeter,       multipart_type::kMeterConfig,   multipart_type::kMeterFeatures,
      multipart_type::kTableFeatures, multipart_type::kPortDesc,    multipart_type::kExperimenter};
  static_assert(std::size(kTypes) == std::variant_size_v<MultipartRequestBody>);
  return kTypes[body.index()];
}

std::uint16_t multipart_type_of(const MultipartReplyBody& body) {
  static constexpr std::uint16_t kTypes[] = {
      multipart_type::kDesc,        multipart_type::kFlow,          multipart_type::kAggregate,
      multipart_type::kTable,       multipart_type::kPort,          multipart_type::kQueue,
      multipart_type::kGroup,       multipart_type::kGroupDesc,     multipart_type::kGroupFeatures,
      multipart_type::kMeter,       multipart_type::kMeterConfig,   multipart_type::kMeterFeatures,
      multipart_type::kTableFeatures, multipart_type::kPortDesc,    multipart_type::kExperimenter};
  static_assert(std::size(kTypes) == std::variant_size_v<MultipartReplyBody>);
  return kTypes[body.index()];
}

}  // namespace tapflow::openflow
