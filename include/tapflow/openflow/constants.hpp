// Protocol numbers shared by the model and both wire versions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapflow::openflow {

// Wire protocol versions.
inline constexpr std::uint8_t kVersion10 = 0x01;
inline constexpr std::uint8_t kVersion13 = 0x04;

inline constexpr std::size_t kHeaderLen = 8;
inline constexpr std::size_t kMaxMessageLen = 65535;

// Ports, in OpenFlow 1.3 numbering (32 bit). The 1.0 codec maps 0xff00..0xffff
// to 0xffffff00..0xffffffff and back.
namespace port {
inline constexpr std::uint32_t kMax = 0xffffff00;
inline constexpr std::uint32_t kInPort = 0xfffffff8;
inline constexpr std::uint32_t kTable = 0xfffffff9;
inline constexpr std::uint32_t kNormal = 0xfffffffa;
inline constexpr std::uint32_t kFlood = 0xfffffffb;
inline constexpr std::uint32_t kAll = 0xfffffffc;
inline constexpr std::uint32_t kController = 0xfffffffd;
inline constexpr std::uint32_t kLocal = 0xfffffffe;
inline constexpr std::uint32_t kAny = 0xffffffff;  // OF1.0 OFPP_NONE
}  // namespace port

inline constexpr std::uint32_t kNoBuffer = 0xffffffff;
inline constexpr std::uint16_t kControllerMaxLenNoBuffer = 0xffff;  // OFPCML_NO_BUFFER
inline constexpr std::uint32_t kGroupAll = 0xfffffffc;
inline constexpr std::uint32_t kGroupAny = 0xffffffff;
inline constexpr std::uint8_t kTableAll = 0xff;
inline constexpr std::uint16_t kVlanNone = 0x0000;      // OF1.3 OFPVID_NONE
inline constexpr std::uint16_t kVlanPresent = 0x1000;   // OF1.3 OFPVID_PRESENT
inline constexpr std::uint16_t kVlanNone10 = 0xffff;    // OF1.0 OFP_VLAN_NONE

// Experimenter (vendor) ids.
inline constexpr std::uint32_t kNiciraExperimenter = 0x00002320;
inline constexpr std::uint32_t kOnfExperimenter = 0x4f4e4600;

// ONF extension 2300/2301: bundles on OpenFlow 1.3 (as Open vSwitch accepts them).
inline constexpr std::uint32_t kOnfBundleControl = 2300;
inline constexpr std::uint32_t kOnfBundleAddMessage = 2301;

namespace flow_mod_command {
inline constexpr std::uint8_t kAdd = 0, kModify = 1, kModifyStrict = 2, kDelete = 3,
                              kDeleteStrict = 4;
}
namespace flow_mod_flags {
inline constexpr std::uint16_t kSendFlowRem = 1 << 0, kCheckOverlap = 1 << 1,
                               kResetCounts = 1 << 2, kNoPktCounts = 1 << 3,
                               kNoBytCounts = 1 << 4;
// OF1.0: bit 2 is OFPFF_EMERG.
inline constexpr std::uint16_t kEmerg10 = 1 << 2;
}  // namespace flow_mod_flags

namespace group_mod_command {
inline constexpr std::uint16_t kAdd = 0, kModify = 1, kDelete = 2;
}
namespace group_type {
inline constexpr std::uint8_t kAll = 0, kSelect = 1, kIndirect = 2, kFastFailover = 3;
}
namespace meter_mod_command {
inline constexpr std::uint16_t kAdd = 0, kModify = 1, kDelete = 2;
}
namespace meter_band_type {
inline constexpr std::uint16_t kDrop = 1, kDscpRemark = 2, kExperimenter = 0xffff;
}
namespace packet_in_reason {
inline constexpr std::uint8_t kNoMatch = 0, kAction = 1, kInvalidTtl = 2;
}
namespace port_reason {
inline constexpr std::uint8_t kAdd = 0, kDelete = 1, kModify = 2;
}
namespace port_config {
inline constexpr std::uint32_t kPortDown = 1 << 0;
}
namespace port_state {
inline constexpr std::uint32_t kLinkDown = 1 << 0;
}
namespace controller_role {
inline constexpr std::uint32_t kNoChange = 0, kEqual = 1, kMaster = 2, kSlave = 3;
}

// Multipart (1.3) / stats (1.0) types, 1.3 numbering. 1.0 uses the same numbers
// for DESC..QUEUE and 0xffff for VENDOR.
namespace multipart_type {
inline constexpr std::uint16_t kDesc = 0, kFlow = 1, kAggregate = 2, kTable = 3, kPort = 4,
                               kQueue = 5, kGroup = 6, kGroupDesc = 7, kGroupFeatures = 8,
                               kMeter = 9, kMeterConfig = 10, kMeterFeatures = 11,
                               kTableFeatures = 12, kPortDesc = 13, kExperimenter = 0xffff;
}
namespace multipart_flags {
inline constexpr std::uint16_t kMore = 1;
}

// Error types, OpenFlow 1.3 numbering (the version-neutral numbering).
namespace error_type {
inline constexpr std::uint16_t kHelloFailed = 0, kBadRequest = 1, kBadAction = 2,
                               kBadInstruction = 3, kBadMatch = 4, kFlowModFailed = 5,
                               kGroupModFailed = 6, kPortModFailed = 7, kTableModFailed = 8,
                               kQueueOpFailed = 9, kSwitchConfigFailed = 10,
                               kRoleRequestFailed = 11, kMeterModFailed = 12,
                               kTableFeaturesFailed = 13, kExperimenter = 0xffff;
}
namespace hello_failed {
inline constexpr std::uint16_t kIncompatible = 0, kEperm = 1;
}
namespace bad_request {
inline constexpr std::uint16_t kBadVersion = 0, kBadType = 1, kBadMultipart = 2,
                               kBadExperimenter = 3, kBadExpType = 4, kEperm = 5, kBadLen = 6,
                               kBufferEmpty = 7, kBufferUnknown = 8, kBadTableId = 9,
                               kIsSlave = 10, kBadPort = 11, kBadPacket = 12,
                               kMultipartBufferOverflow = 13;
}
namespace bad_action {
inline constexpr std::uint16_t kBadType = 0, kBadLen = 1, kBadExperimenter = 2,
                               kBadExpType = 3, kBadOutPort = 4, kBadArgument = 5, kEperm = 6,
                               kTooMany = 7, kBadQueue = 8, kBadOutGroup = 9,
                               kMatchInconsistent = 10, kUnsupportedOrder = 11, kBadTag = 12,
                               kBadSetType = 13, kBadSetLen = 14, kBadSetArgument = 15;
}
namespace bad_instruction {
inline constexpr std::uint16_t kUnknownInst = 0, kUnsupInst = 1, kBadTableId = 2,
                               kUnsupMetadata = 3, kUnsupMetadataMask = 4, kBadExperimenter = 5,
                               kBadExpType = 6, kBadLen = 7, kEperm = 8;
}
namespace bad_match {
inline constexpr std::uint16_t kBadType = 0, kBadLen = 1, kBadTag = 2, kBadDlAddrMask = 3,
                               kBadNwAddrMask = 4, kBadWildcards = 5, kBadField = 6,
                               kBadValue = 7, kBadMask = 8, kBadPrereq = 9, kDupField = 10,
                               kEperm = 11;
}
namespace flow_mod_failed {
inline constexpr std::uint16_t kUnknown = 0, kTableFull = 1, kBadTableId = 2, kOverlap = 3,
                               kEperm = 4, kBadTimeout = 5, kBadCommand = 6, kBadFlags = 7;
}
namespace group_mod_failed {
inline constexpr std::uint16_t kGroupExists = 0, kInvalidGroup = 1, kWeightUnsupported = 2,
                               kOutOfGroups = 3, kOutOfBuckets = 4, kChainingUnsupported = 5,
                               kWatchUnsupported = 6, kLoop = 7, kUnknownGroup = 8,
                               kChainedGroup = 9, kBadType = 10, kBadCommand = 11,
                               kBadBucket = 12, kBadWatch = 13, kEperm = 14;
}
namespace meter_mod_failed {
inline constexpr std::uint16_t kUnknown = 0, kMeterExists = 1, kInvalidMeter = 2,
                               kUnknownMeter = 3, kBadCommand = 4, kBadFlags = 5, kBadRate = 6,
                               kBadBurst = 7, kBadBand = 8, kBadBandValue = 9,
                               kOutOfMeters = 10, kOutOfBands = 11;
}
namespace table_features_failed {
inline constexpr std::uint16_t kBadTable = 0, kBadMetadata = 1, kBadType = 2, kBadLen = 3,
                               kBadArgument = 4, kEperm = 5;
}

}  // namespace tapflow::openflow
