// Human-readable text for OpenFlow messages, in the style of ovs-ofctl: one
// line per message, or an indented block for multi-entry messages.
#pragma once

#include <cstdint>
#include <string>

#include "tapflow/openflow/messages.hpp"

namespace tapflow::openflow {

// E.g. "FLOW_MOD v1.3 xid=0x1 table=1 cmd=add priority=123 cookie=0x0 idle=0
// hard=0 buffer=none out_port=any match: eth_dst=f2:0b:a4:7d:f8:ea actions:
// apply(dec_ttl,output:6)". Starts with type_name(), then version and xid.
// Multi-entry messages (stats replies, table features, queue configs, 1.0
// features with ports) continue with one "\n  "-indented line per entry.
std::string to_text(const Message& m);

// Parts, as they appear inside to_text().
std::string to_text(const Match& match);            // "any" or "f1=v1,f2=v2/m2"
std::string to_text(const OxmField& field);         // "eth_dst=f2:0b:a4:7d:f8:ea"
std::string to_text(const Action& action);          // "output:6", "set_field:..."
std::string to_text(const ActionList& actions);     // comma separated, "drop" if empty
std::string to_text(const Instruction& instruction);  // "apply(...)", "goto:2", ...
std::string port_to_text(std::uint32_t port);       // "6", "controller", "any", ...

// How a field's value is best shown: as an integer, a MAC, an IPv4 or IPv6
// address, or raw bytes (unknown fields, or a value of unexpected length).
enum class OxmValueKind { kInteger, kMac, kIpv4, kIpv6, kBytes };
OxmValueKind oxm_value_kind(const OxmField& field);

// A field as printers show it: its name as Ryu spells it ("eth_dst", "reg0",
// ONF experimenter fields such as the EXT-256 "pbb_uca", "field_<n>" for
// unknown ones), how to show the value, and the value/mask bytes without any
// experimenter header.
struct OxmFieldView {
  std::string name;
  OxmValueKind kind = OxmValueKind::kBytes;
  ValueBytes value;
  ValueBytes mask;  // empty unless the field has a mask
};
OxmFieldView view_oxm(const OxmField& field);

}  // namespace tapflow::openflow
