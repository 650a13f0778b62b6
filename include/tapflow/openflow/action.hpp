// Actions and instructions, version-neutral. Where OpenFlow 1.0 and 1.3 share a
// meaning they share a type (1.0 SET_DL_SRC is SetField{eth_src}, 1.0
// STRIP_VLAN is PopVlan); 1.0-only actions have their own types.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "tapflow/openflow/constants.hpp"
#include "tapflow/openflow/oxm.hpp"

namespace tapflow::openflow {

namespace action {
struct Output {
  std::uint32_t port = 0;
  std::uint16_t max_len = kControllerMaxLenNoBuffer;
  friend bool operator==(const Output&, const Output&) = default;
};
struct CopyTtlOut { friend bool operator==(const CopyTtlOut&, const CopyTtlOut&) = default; };
struct CopyTtlIn { friend bool operator==(const CopyTtlIn&, const CopyTtlIn&) = default; };
struct SetMplsTtl {
  std::uint8_t ttl = 0;
  friend bool operator==(const SetMplsTtl&, const SetMplsTtl&) = default;
};
struct DecMplsTtl { friend bool operator==(const DecMplsTtl&, const DecMplsTtl&) = default; };
struct PushVlan {
  std::uint16_t ethertype = 0x8100;
  friend bool operator==(const PushVlan&, const PushVlan&) = default;
};
struct PopVlan { friend bool operator==(const PopVlan&, const PopVlan&) = default; };
struct PushMpls {
  std::uint16_t ethertype = 0x8847;
  friend bool operator==(const PushMpls&, const PushMpls&) = default;
};
struct PopMpls {
  std::uint16_t ethertype = 0x0800;
  friend bool operator==(const PopMpls&, const PopMpls&) = default;
};
struct SetQueue {
  std::uint32_t queue_id = 0;
  friend bool operator==(const SetQueue&, const SetQueue&) = default;
};
struct Group {
  std::uint32_t group_id = 0;
  friend bool operator==(const Group&, const Group&) = default;
};
struct SetNwTtl {
  std::uint8_t ttl = 0;
  friend bool operator==(const SetNwTtl&, const SetNwTtl&) = default;
};
struct DecNwTtl { friend bool operator==(const DecNwTtl&, const DecNwTtl&) = default; };
struct SetField {
  OxmField field;
  friend bool operator==(const SetField&, const SetField&) = default;
};
struct PushPbb {
  std::uint16_t ethertype = 0x88e7;
  friend bool operator==(const PushPbb&, const PushPbb&) = default;
};
struct PopPbb { friend bool operator==(const PopPbb&, const PopPbb&) = default; };

// OpenFlow 1.0 only.
struct SetVlanVid {
  std::uint16_t vid = 0;
  friend bool operator==(const SetVlanVid&, const SetVlanVid&) = default;
};
struct SetVlanPcp {
  std::uint8_t pcp = 0;
  friend bool operator==(const SetVlanPcp&, const SetVlanPcp&) = default;
};
struct SetNwTos {
  std::uint8_t tos = 0;
  friend bool operator==(const SetNwTos&, const SetNwTos&) = default;
};
struct SetTpSrc {
  std::uint16_t port = 0;
  friend bool operator==(const SetTpSrc&, const SetTpSrc&) = default;
};
struct SetTpDst {
  std::uint16_t port = 0;
  friend bool operator==(const SetTpDst&, const SetTpDst&) = default;
};
struct Enqueue {
  std::uint32_t port = 0;
  std::uint32_t queue_id = 0;
  friend bool operator==(const Enqueue&, const Enqueue&) = default;
};

// Experimenter (1.3) / vendor (1.0) action, kept opaque so it round-trips:
// `data` is every byte after the experimenter id (for Nicira: subtype first).
struct Experimenter {
  std::uint32_t experimenter = 0;
  Bytes data;
  friend bool operator==(const Experimenter&, const Experimenter&) = default;
};
}  // namespace action

using Action =
    std::variant<action::Output, action::CopyTtlOut, action::CopyTtlIn, action::SetMplsTtl,
                 action::DecMplsTtl, action::PushVlan, action::PopVlan, action::PushMpls,
                 action::PopMpls, action::SetQueue, action::Group, action::SetNwTtl,
                 action::DecNwTtl, action::SetField, action::PushPbb, action::PopPbb,
                 action::SetVlanVid, action::SetVlanPcp, action::SetNwTos, action::SetTpSrc,
                 action::SetTpDst, action::Enqueue, action::Experimenter>;
using ActionList = std::vector<Action>;

namespace instruction {
struct GotoTable {
  std::uint8_t table_id = 0;
  friend bool operator==(const GotoTable&, const GotoTable&) = default;
};
struct WriteMetadata {
  std::uint64_t metadata = 0;
  std::uint64_t mask = 0;
  friend bool operator==(const WriteMetadata&, const WriteMetadata&) = default;
};
struct WriteActions {
  ActionList actions;
  friend bool operator==(const WriteActions&, const WriteActions&) = default;
};
struct ApplyActions {
  ActionList actions;
  friend bool operator==(const ApplyActions&, const ApplyActions&) = default;
};
struct ClearActions {
  friend bool operator==(const ClearActions&, const ClearActions&) = default;
};
struct Meter {
  std::uint32_t meter_id = 0;
  friend bool operator==(const Meter&, const Meter&) = default;
};
// `data` is every byte after the experimenter id.
struct Experimenter {
  std::uint32_t experimenter = 0;
  Bytes data;
  friend bool operator==(const Experimenter&, const Experimenter&) = default;
};
}  // namespace instruction

using Instruction =
    std::variant<instruction::GotoTable, instruction::WriteMetadata, instruction::WriteActions,
                 instruction::ApplyActions, instruction::ClearActions, instruction::Meter,
                 instruction::Experimenter>;
using InstructionList = std::vector<Instruction>;

}  // namespace tapflow::openflow
