// ovs-ofctl-like text for the OpenFlow model. Values that have a name
// (reserved ports, commands, reasons, error codes) print as names; addresses
// as addresses; opaque bytes as hex, cut after 64 bytes with the full count.
#include "tapflow/openflow/print.hpp"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/json.hpp"

namespace tapflow::openflow {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr std::size_t kMaxHexBytes = 64;

std::string hex_u(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string dec(std::uint64_t v) { return std::to_string(v); }

// Opaque bytes: hex, at most 64 bytes of it, then the full size.
std::string hex_data(const Bytes& b) {
  if (b.size() <= kMaxHexBytes) return to_hex(b.data(), b.size());
  return to_hex(b.data(), kMaxHexBytes) + "...(" + dec(b.size()) + " bytes)";
}

// " data=<hex>", or nothing for no data.
std::string data_part(const char* key, const Bytes& b) {
  if (b.empty()) return {};
  return std::string(" ") + key + "=" + hex_data(b);
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;  // UTF-8 passes through
    }
  }
  return out + "\"";
}

std::string version_text(std::uint8_t v) {
  switch (v) {
    case 1: return "1.0";
    case 2: return "1.1";
    case 3: return "1.2";
    case 4: return "1.3";
    case 5: return "1.4";
    case 6: return "1.5";
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", v);
      return buf;
    }
  }
}

// A name from a table indexed by value, or the number.
template <std::size_t N>
std::string named(const std::array<const char*, N>& names, std::uint64_t v) {
  if (v < N && names[v] != nullptr) return names[v];
  return dec(v);
}

// Flag bits as "a|b", unknown bits as hex, none as "0".
template <std::size_t N>
std::string flags_text(const std::array<const char*, N>& names, std::uint32_t v) {
  if (v == 0) return "0";
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if ((v >> i) & 1u) {
      if (!out.empty()) out += '|';
      out += names[i];
      v &= ~(1u << i);
    }
  }
  if (v != 0) {
    if (!out.empty()) out += '|';
    out += hex_u(v);
  }
  return out;
}

std::string table_text(std::uint8_t t) { return t == kTableAll ? "all" : dec(t); }

std::string buffer_text(std::uint32_t b) { return b == kNoBuffer ? "none" : hex_u(b); }

std::string group_text(std::uint32_t g) {
  if (g == kGroupAll) return "all";
  if (g == kGroupAny) return "any";
  return dec(g);
}

std::string meter_text(std::uint32_t m) {
  switch (m) {
    case 0xffffffff: return "all";
    case 0xfffffffe: return "slowpath";
    case 0xfffffffd: return "controller";
    default: return dec(m);
  }
}

std::string queue_text(std::uint32_t q) { return q == 0xffffffff ? "all" : dec(q); }

std::string duration_text(std::uint32_t sec, std::uint32_t nsec) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u.%09us", sec, nsec);
  return buf;
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Fields whose integer values read best in hex.
bool hex_field(const OxmField& f) {
  if (f.oxm_class != oxm_class::kOpenflowBasic) return true;  // registers, marks, ct_*
  switch (f.field) {
    case oxm_field::kMetadata:
    case oxm_field::kEthType:
    case oxm_field::kVlanVid:
    case oxm_field::kIpv6Flabel:
    case oxm_field::kPbbIsid:
    case oxm_field::kTunnelId:
    case oxm_field::kIpv6Exthdr:
      return true;
    default:
      return false;
  }
}

std::string value_text(const OxmField& f, OxmValueKind kind, const ValueBytes& v, bool hex) {
  switch (kind) {
    case OxmValueKind::kMac: {
      MacAddress m;
      std::copy(v.begin(), v.end(), m.octets.begin());
      return m.to_string();
    }
    case OxmValueKind::kIpv4:
      return ipv4_to_string(be32(v.data()));
    case OxmValueKind::kIpv6:
      return ipv6_to_string(v.data());
    case OxmValueKind::kInteger:
      if (v.size() <= 8) {
        std::uint64_t x = 0;
        for (auto b : v) x = (x << 8) | b;
        if (f.is_basic(oxm_field::kEthType)) {  // never masked
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%04" PRIx64, x);
          return buf;
        }
        return hex ? hex_u(x) : dec(x);
      }
      break;
    case OxmValueKind::kBytes:
      break;
  }
  return "0x" + to_hex(v.data(), v.size());
}

// ---------------------------------------------------------------- actions

std::string nicira_text(const action::Experimenter& e) {
  std::string name = "subtype?";
  Bytes rest = e.data;
  if (e.data.size() >= 2) {
    const auto subtype = static_cast<std::uint16_t>((e.data[0] << 8) | e.data[1]);
    std::string_view cls = nicira_action_name(subtype);
    constexpr std::string_view kPrefix = "NXAction";
    if (cls == "NXActionUnknown") {
      name = "subtype=" + dec(subtype);
    } else {
      name = std::string(cls.substr(kPrefix.size()));
    }
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  return "nicira:" + name + "(" + hex_data(rest) + ")";
}

std::string instruction_list_text(const InstructionList& l);

std::string bucket_text(const Bucket& b) {
  std::string out = " bucket=";
  if (b.weight != 0) out += "weight:" + dec(b.weight) + ",";
  if (b.watch_port != port::kAny) out += "watch_port:" + port_to_text(b.watch_port) + ",";
  if (b.watch_group != kGroupAny) out += "watch_group:" + group_text(b.watch_group) + ",";
  return out + "actions=" + to_text(b.actions);
}

std::string bands_text(const std::vector<MeterBand>& bands) {
  std::string out;
  for (const auto& b : bands) {
    if (!out.empty()) out += ',';
    std::string args = "rate=" + dec(b.rate) + ",burst=" + dec(b.burst_size);
    if (b.type == meter_band_type::kDrop) {
      out += "drop(" + args + ")";
    } else if (b.type == meter_band_type::kDscpRemark) {
      out += "dscp_remark(" + args + ",prec_level=" + dec(b.prec_level) + ")";
    } else if (b.type == meter_band_type::kExperimenter) {
      out += "experimenter(" + args + ",experimenter=" + hex_u(b.experimenter) +
             (b.data.empty() ? "" : ",data=" + hex_data(b.data)) + ")";
    } else {
      out += "type" + dec(b.type) + "(" + args + ")";
    }
  }
  return out.empty() ? "none" : out;
}

// ---------------------------------------------------------------- messages

constexpr std::array<const char*, 5> kFlowModCommands = {"add", "modify", "modify_strict",
                                                         "delete", "delete_strict"};
constexpr std::array<const char*, 5> kFlowModFlags13 = {"send_flow_rem", "check_overlap",
                                                        "reset_counts", "no_pkt_counts",
                                                        "no_byt_counts"};
constexpr std::array<const char*, 3> kFlowModFlags10 = {"send_flow_rem", "check_overlap", "emerg"};
constexpr std::array<const char*, 3> kPacketInReasons = {"no_match", "action", "invalid_ttl"};
constexpr std::array<const char*, 4> kFlowRemovedReasons = {"idle_timeout", "hard_timeout",
                                                            "delete", "group_delete"};
constexpr std::array<const char*, 3> kPortReasons = {"add", "delete", "modify"};
constexpr std::array<const char*, 3> kGroupCommands = {"add", "modify", "delete"};
constexpr std::array<const char*, 4> kGroupTypes = {"all", "select", "indirect", "ff"};
constexpr std::array<const char*, 3> kMeterCommands = {"add", "modify", "delete"};
constexpr std::array<const char*, 4> kRoles = {"nochange", "equal", "master", "slave"};
constexpr std::array<const char*, 8> kBundleTypes = {
    "open_request",   "open_reply",     "close_request",   "close_reply",
    "commit_request", "commit_reply",   "discard_request", "discard_reply"};
constexpr std::array<const char*, 2> kBundleFlags = {"atomic", "ordered"};
constexpr std::array<const char*, 14> kMultipartTypes = {
    "desc",  "flow",       "aggregate",      "table", "port",         "queue",
    "group", "group_desc", "group_features", "meter", "meter_config", "meter_features",
    "table_features", "port_desc"};

std::string multipart_type_text(std::uint8_t version, std::uint16_t t) {
  if (t == multipart_type::kExperimenter) return version == kVersion10 ? "vendor" : "experimenter";
  return named(kMultipartTypes, t);
}

std::string port_desc_text(std::uint8_t version, const Port& p) {
  std::string out = "port " + port_to_text(p.port_no) + ": name=" + quoted(p.name) +
                    " hw_addr=" + p.hw_addr.to_string() + " config=" + hex_u(p.config) +
                    " state=" + hex_u(p.state) + " curr=" + hex_u(p.curr) +
                    " advertised=" + hex_u(p.advertised) + " supported=" + hex_u(p.supported) +
                    " peer=" + hex_u(p.peer);
  if (version != kVersion10) {
    out += " curr_speed=" + dec(p.curr_speed) + " max_speed=" + dec(p.max_speed);
  }
  return out;
}

// Instructions as 1.3 shows them; 1.0 messages carry a plain action list.
std::string actions_part(std::uint8_t version, const InstructionList& l) {
  if (version == kVersion10) {
    ActionList flat;
    for (const auto& i : l) {
      if (const auto* a = std::get_if<instruction::ApplyActions>(&i)) {
        flat.insert(flat.end(), a->actions.begin(), a->actions.end());
      }
    }
    return " actions: " + to_text(flat);
  }
  return " actions: " + instruction_list_text(l);
}

std::string match_part(const Match& m) { return " match: " + to_text(m); }

std::string flow_filter_text(std::uint8_t version, const FlowStatsRequest& r) {
  std::string out = " table=" + table_text(r.table_id) + " out_port=" + port_to_text(r.out_port);
  if (version != kVersion10) {
    out += " out_group=" + group_text(r.out_group) + " cookie=" + hex_u(r.cookie) + "/" +
           hex_u(r.cookie_mask);
  }
  return out + match_part(r.match);
}

constexpr std::array<const char*, 16> kTablePropNames = {
    "instructions",   "instructions_miss",   "next_tables",     "next_tables_miss",
    "write_actions",  "write_actions_miss",  "apply_actions",   "apply_actions_miss",
    "match",          nullptr,               "wildcards",       nullptr,
    "write_setfield", "write_setfield_miss", "apply_setfield",  "apply_setfield_miss"};
constexpr std::array<const char*, 7> kInstructionNames = {
    nullptr, "goto_table", "write_metadata", "write_actions", "apply_actions", "clear_actions",
    "meter"};
constexpr std::array<const char*, 28> kActionNames = {
    "output",    nullptr,      nullptr,        nullptr,        nullptr,      nullptr,
    nullptr,     nullptr,      nullptr,        nullptr,        nullptr,      "copy_ttl_out",
    "copy_ttl_in", nullptr,    nullptr,        "set_mpls_ttl", "dec_mpls_ttl", "push_vlan",
    "pop_vlan",  "push_mpls",  "pop_mpls",     "set_queue",    "group",      "set_nw_ttl",
    "dec_nw_ttl", "set_field", "push_pbb",     "pop_pbb"};

std::string table_prop_text(const TableFeatureProp& p) {
  std::string name;
  if (p.type == 0xfffe) name = "experimenter";
  else if (p.type == 0xffff) name = "experimenter_miss";
  else if (p.type < kTablePropNames.size() && kTablePropNames[p.type] != nullptr)
    name = kTablePropNames[p.type];
  else name = "prop" + dec(p.type);

  std::string list;
  auto add = [&list](const std::string& s) {
    if (!list.empty()) list += ',';
    list += s;
  };
  switch (p.type) {
    case 0: case 1:
      for (const auto& id : p.ids) {
        add(id.type == 0xffff ? std::string("experimenter") : named(kInstructionNames, id.type));
      }
      break;
    case 2: case 3:
      for (auto t : p.table_ids) add(dec(t));
      break;
    case 4: case 5: case 6: case 7:
      for (const auto& id : p.ids) {
        add(id.type == 0xffff ? std::string("experimenter") : named(kActionNames, id.type));
      }
      break;
    case 8: case 10: case 12: case 13: case 14: case 15:
      for (std::size_t i = 0; i < p.oxm_ids.size(); ++i) {
        const std::uint32_t h = p.oxm_ids[i];
        OxmField f;
        f.oxm_class = static_cast<std::uint16_t>(h >> 16);
        f.field = static_cast<std::uint8_t>((h >> 9) & 0x7f);
        if (f.oxm_class == oxm_class::kExperimenter && i + 1 < p.oxm_ids.size()) {
          f.experimenter = p.oxm_ids[++i];
        }
        add(view_oxm(f).name + (((h >> 8) & 1) != 0 ? "/mask" : ""));
      }
      break;
    case 0xfffe: case 0xffff:
      return name + ": experimenter=" + hex_u(p.experimenter) + " exp_type=" + dec(p.exp_type) +
             data_part("data", p.data);
    default:
      return name + ":" + data_part("data", p.data);
  }
  return name + ": " + (list.empty() ? "none" : list);
}

std::string table_features_text(const std::vector<TableFeatures>& tables) {
  std::string out;
  for (const auto& t : tables) {
    out += "\n  table " + dec(t.table_id) + ": name=" + quoted(t.name) +
           " metadata_match=" + hex_u(t.metadata_match) +
           " metadata_write=" + hex_u(t.metadata_write) + " config=" + hex_u(t.config) +
           " max_entries=" + dec(t.max_entries);
    for (const auto& p : t.properties) out += "\n    " + table_prop_text(p);
  }
  return out;
}

std::string multipart_request_text(std::uint8_t v, const MultipartRequest& m) {
  std::string out = " type=" + multipart_type_text(v, multipart_type_of(m.body));
  if (m.flags != 0) out += " flags=" + hex_u(m.flags);
  return out + std::visit(
                   Overloaded{
                       [&](const FlowStatsRequest& r) { return flow_filter_text(v, r); },
                       [&](const AggregateStatsRequest& r) { return flow_filter_text(v, r.filter); },
                       [](const PortStatsRequest& r) { return " port=" + port_to_text(r.port_no); },
                       [](const QueueStatsRequest& r) {
                         return " port=" + port_to_text(r.port_no) + " queue=" + queue_text(r.queue_id);
                       },
                       [](const GroupStatsRequest& r) { return " group=" + group_text(r.group_id); },
                       [](const MeterStatsRequest& r) { return " meter=" + meter_text(r.meter_id); },
                       [](const MeterConfigRequest& r) { return " meter=" + meter_text(r.meter_id); },
                       [](const TableFeaturesStatsRequest& r) { return table_features_text(r.tables); },
                       [&](const ExperimenterMultipart& e) {
                         std::string s = " experimenter=" + hex_u(e.experimenter);
                         if (v != kVersion10) s += " exp_type=" + dec(e.exp_type);
                         return s + data_part("data", e.data);
                       },
                       [](const auto&) { return std::string(); },
                   },
                   m.body);
}

std::string multipart_reply_text(std::uint8_t v, const MultipartReply& m) {
  std::string out = " type=" + multipart_type_text(v, multipart_type_of(m.body));
  if (m.flags != 0) out += " flags=" + hex_u(m.flags);
  return out + std::visit(
      Overloaded{
          [](const DescStatsReply& r) {
            const auto& d = r.desc;
            return " mfr=" + quoted(d.mfr_desc) + " hw=" + quoted(d.hw_desc) + " sw=" +
                   quoted(d.sw_desc) + " serial=" + quoted(d.serial_num) + " dp=" + quoted(d.dp_desc);
          },
          [&](const FlowStatsReply& r) {
            std::string s;
            for (const auto& f : r.flows) {
              s += "\n  ";
              if (v != kVersion10) s += "table=" + dec(f.table_id) + " ";
              s += "duration=" + duration_text(f.duration_sec, f.duration_nsec) +
                   " priority=" + dec(f.priority) + " cookie=" + hex_u(f.cookie) +
                   " idle=" + dec(f.idle_timeout) + " hard=" + dec(f.hard_timeout);
              if (f.flags != 0) {
                s += " flags=" + flags_text(kFlowModFlags13, f.flags);
              }
              s += " packets=" + dec(f.packet_count) + " bytes=" + dec(f.byte_count) +
                   match_part(f.match) + actions_part(v, f.instructions);
            }
            return s;
          },
          [](const AggregateStatsReply& r) {
            return " packets=" + dec(r.stats.packet_count) + " bytes=" + dec(r.stats.byte_count) +
                   " flows=" + dec(r.stats.flow_count);
          },
          [&](const TableStatsReply& r) {
            std::string s;
            for (const auto& t : r.tables) {
              s += "\n  table " + dec(t.table_id) + ":";
              if (v == kVersion10) {
                s += " name=" + quoted(t.name) + " wildcards=" + hex_u(t.wildcards) +
                     " max_entries=" + dec(t.max_entries);
              }
              s += " active=" + dec(t.active_count) + " lookup=" + dec(t.lookup_count) +
                   " matched=" + dec(t.matched_count);
            }
            return s;
          },
          [&](const PortStatsReply& r) {
            std::string s;
            for (const auto& p : r.ports) {
              s += "\n  port " + port_to_text(p.port_no) + ": rx_packets=" + dec(p.rx_packets) +
                   " tx_packets=" + dec(p.tx_packets) + " rx_bytes=" + dec(p.rx_bytes) +
                   " tx_bytes=" + dec(p.tx_bytes) + " rx_dropped=" + dec(p.rx_dropped) +
                   " tx_dropped=" + dec(p.tx_dropped) + " rx_errors=" + dec(p.rx_errors) +
                   " tx_errors=" + dec(p.tx_errors) + " rx_frame_err=" + dec(p.rx_frame_err) +
                   " rx_over_err=" + dec(p.rx_over_err) + " rx_crc_err=" + dec(p.rx_crc_err) +
                   " collisions=" + dec(p.collisions);
              if (v != kVersion10) s += " duration=" + duration_text(p.duration_sec, p.duration_nsec);
            }
            return s;
          },
          [&](const QueueStatsReply& r) {
            std::string s;
            for (const auto& q : r.queues) {
              s += "\n  port " + port_to_text(q.port_no) + " queue " + dec(q.queue_id) +
                   ": tx_bytes=" + dec(q.tx_bytes) + " tx_packets=" + dec(q.tx_packets) +
                   " tx_errors=" + dec(q.tx_errors);
              if (v != kVersion10) s += " duration=" + duration_text(q.duration_sec, q.duration_nsec);
            }
            return s;
          },
          [](const GroupStatsReply& r) {
            std::string s;
            for (const auto& g : r.groups) {
              s += "\n  group " + group_text(g.group_id) + ": ref_count=" + dec(g.ref_count) +
                   " packets=" + dec(g.packet_count) + " bytes=" + dec(g.byte_count) +
                   " duration=" + duration_text(g.duration_sec, g.duration_nsec);
              for (const auto& b : g.bucket_stats) {
                s += " bucket=packets:" + dec(b.packet_count) + ",bytes:" + dec(b.byte_count);
              }
            }
            return s;
          },
          [](const GroupDescStatsReply& r) {
            std::string s;
            for (const auto& g : r.groups) {
              s += "\n  group " + group_text(g.group_id) + ": type=" + named(kGroupTypes, g.type);
              for (const auto& b : g.buckets) s += bucket_text(b);
            }
            return s;
          },
          [](const GroupFeaturesStatsReply& r) {
            const auto& f = r.features;
            auto list = [](const std::array<std::uint32_t, 4>& a) {
              return hex_u(a[0]) + "," + hex_u(a[1]) + "," + hex_u(a[2]) + "," + hex_u(a[3]);
            };
            return " types=" + hex_u(f.types) + " capabilities=" + hex_u(f.capabilities) +
                   " max_groups=" + dec(f.max_groups[0]) + "," + dec(f.max_groups[1]) + "," +
                   dec(f.max_groups[2]) + "," + dec(f.max_groups[3]) + " actions=" + list(f.actions);
          },
          [](const MeterStatsReply& r) {
            std::string s;
            for (const auto& m2 : r.meters) {
              s += "\n  meter " + meter_text(m2.meter_id) + ": flows=" + dec(m2.flow_count) +
                   " packets_in=" + dec(m2.packet_in_count) + " bytes_in=" + dec(m2.byte_in_count) +
                   " duration=" + duration_text(m2.duration_sec, m2.duration_nsec);
              for (const auto& b : m2.band_stats) {
                s += " band=packets:" + dec(b.packet_band_count) + ",bytes:" + dec(b.byte_band_count);
              }
            }
            return s;
          },
          [](const MeterConfigStatsReply& r) {
            std::string s;
            for (const auto& m2 : r.meters) {
              s += "\n  meter " + meter_text(m2.meter_id) + ": flags=" + hex_u(m2.flags) +
                   " bands: " + bands_text(m2.bands);
            }
            return s;
          },
          [](const MeterFeaturesStatsReply& r) {
            const auto& f = r.features;
            return " max_meter=" + dec(f.max_meter) + " band_types=" + hex_u(f.band_types) +
                   " capabilities=" + hex_u(f.capabilities) + " max_bands=" + dec(f.max_bands) +
                   " max_color=" + dec(f.max_color);
          },
          [](const TableFeaturesStatsReply& r) { return table_features_text(r.tables); },
          [&](const PortDescStatsReply& r) {
            std::string s;
            for (const auto& p : r.ports) s += "\n  " + port_desc_text(v, p);
            return s;
          },
          [&](const ExperimenterMultipart& e) {
            std::string s = " experimenter=" + hex_u(e.experimenter);
            if (v != kVersion10) s += " exp_type=" + dec(e.exp_type);
            return s + data_part("data", e.data);
          },
      },
      m.body);
}

std::string hello_text(const Hello& h) {
  std::string out;
  for (const auto& e : h.elements) {
    if (e.type == HelloElement::kVersionBitmap) {
      std::string versions;
      for (std::size_t w = 0; w < e.bitmaps.size(); ++w) {
        for (unsigned bit = 0; bit < 32; ++bit) {
          if (((e.bitmaps[w] >> bit) & 1u) == 0) continue;
          if (!versions.empty()) versions += ',';
          const std::size_t ver = w * 32 + bit;
          versions += ver < 256 ? version_text(static_cast<std::uint8_t>(ver)) : dec(ver);
        }
      }
      out += " versions=" + (versions.empty() ? std::string("none") : versions);
    } else {
      out += " element(type=" + dec(e.type) + (e.data.empty() ? "" : ",data=" + hex_data(e.data)) +
             ")";
    }
  }
  return out;
}

std::string async_text(const AsyncConfig& a) {
  auto pair = [](const std::array<std::uint32_t, 2>& m) {
    return "master:" + hex_u(m[0]) + ",slave:" + hex_u(m[1]);
  };
  return " packet_in=" + pair(a.packet_in_mask) + " port_status=" + pair(a.port_status_mask) +
         " flow_removed=" + pair(a.flow_removed_mask);
}

std::string body_text(std::uint8_t v, const MessageBody& body) {
  return std::visit(
      Overloaded{
          [](const Hello& h) { return hello_text(h); },
          [&](const Error& e) {
            if (v != kVersion10 && e.type == error_type::kExperimenter) {
              return " type=EXPERIMENTER exp_type=" + dec(e.code) +
                     " experimenter=" + hex_u(e.experimenter) + data_part("data", e.data);
            }
            return " type=" + error_type_name(v, e.type) +
                   " code=" + error_code_name(v, e.type, e.code) + data_part("data", e.data);
          },
          [](const EchoRequest& e) { return data_part("data", e.data); },
          [](const EchoReply& e) { return data_part("data", e.data); },
          [&](const Experimenter& e) {
            std::string s = " experimenter=" + hex_u(e.experimenter);
            if (v != kVersion10) s += " exp_type=" + dec(e.exp_type);
            return s + data_part("data", e.data);
          },
          [&](const FeaturesReply& f) {
            char dpid[32];
            std::snprintf(dpid, sizeof dpid, "0x%016" PRIx64, f.datapath_id);
            std::string s = std::string(" dpid=") + dpid + " n_buffers=" + dec(f.n_buffers) +
                            " n_tables=" + dec(f.n_tables);
            if (v != kVersion10) s += " auxiliary_id=" + dec(f.auxiliary_id);
            s += " capabilities=" + hex_u(f.capabilities);
            if (v == kVersion10) {
              s += " actions=" + hex_u(f.actions);
              for (const auto& p : f.ports) s += "\n  " + port_desc_text(v, p);
            }
            return s;
          },
          [](const GetConfigReply& g) {
            return " flags=" + hex_u(g.flags) + " miss_send_len=" +
                   (g.miss_send_len == kControllerMaxLenNoBuffer ? std::string("no_buffer")
                                                                 : dec(g.miss_send_len));
          },
          [](const SetConfig& g) {
            return " flags=" + hex_u(g.flags) + " miss_send_len=" +
                   (g.miss_send_len == kControllerMaxLenNoBuffer ? std::string("no_buffer")
                                                                 : dec(g.miss_send_len));
          },
          [&](const PacketIn& p) {
            std::string s = " buffer=" + buffer_text(p.buffer_id) + " total_len=" + dec(p.total_len);
            if (v == kVersion10) s += " in_port=" + port_to_text(p.in_port);
            s += " reason=" + named(kPacketInReasons, p.reason);
            if (v != kVersion10) {
              s += " table=" + dec(p.table_id) + " cookie=" + hex_u(p.cookie) + match_part(p.match);
            }
            return s + data_part("data", p.data);
          },
          [&](const FlowRemoved& f) {
            std::string s;
            if (v != kVersion10) s += " table=" + dec(f.table_id);
            s += " reason=" + named(kFlowRemovedReasons, f.reason) + " priority=" + dec(f.priority) +
                 " cookie=" + hex_u(f.cookie) +
                 " duration=" + duration_text(f.duration_sec, f.duration_nsec) +
                 " idle=" + dec(f.idle_timeout);
            if (v != kVersion10) s += " hard=" + dec(f.hard_timeout);
            return s + " packets=" + dec(f.packet_count) + " bytes=" + dec(f.byte_count) +
                   match_part(f.match);
          },
          [&](const PortStatus& p) {
            return " reason=" + named(kPortReasons, p.reason) + " " + port_desc_text(v, p.desc);
          },
          [](const PacketOut& p) {
            return " buffer=" + buffer_text(p.buffer_id) + " in_port=" + port_to_text(p.in_port) +
                   " actions: " + to_text(p.actions) + data_part("data", p.data);
          },
          [&](const FlowMod& f) {
            std::string s;
            if (v != kVersion10) s += " table=" + table_text(f.table_id);
            s += " cmd=" + named(kFlowModCommands, f.command) + " priority=" + dec(f.priority) +
                 " cookie=" + hex_u(f.cookie);
            if (v != kVersion10 && f.cookie_mask != 0) s += "/" + hex_u(f.cookie_mask);
            s += " idle=" + dec(f.idle_timeout) + " hard=" + dec(f.hard_timeout) +
                 " buffer=" + buffer_text(f.buffer_id) + " out_port=" + port_to_text(f.out_port);
            if (v != kVersion10 && f.out_group != kGroupAny) {
              s += " out_group=" + group_text(f.out_group);
            }
            if (f.flags != 0) {
              s += " flags=" + (v == kVersion10 ? flags_text(kFlowModFlags10, f.flags)
                                                : flags_text(kFlowModFlags13, f.flags));
            }
            return s + match_part(f.match) + actions_part(v, f.instructions);
          },
          [](const GroupMod& g) {
            std::string s = " cmd=" + named(kGroupCommands, g.command) +
                            " type=" + named(kGroupTypes, g.type) + " group=" + group_text(g.group_id);
            for (const auto& b : g.buckets) s += bucket_text(b);
            return s;
          },
          [](const PortMod& p) {
            return " port=" + port_to_text(p.port_no) + " hw_addr=" + p.hw_addr.to_string() +
                   " config=" + hex_u(p.config) + " mask=" + hex_u(p.mask) +
                   " advertise=" + hex_u(p.advertise);
          },
          [](const TableMod& t) {
            return " table=" + table_text(t.table_id) + " config=" + hex_u(t.config);
          },
          [&](const MultipartRequest& m) { return multipart_request_text(v, m); },
          [&](const MultipartReply& m) { return multipart_reply_text(v, m); },
          [](const QueueGetConfigRequest& q) { return " port=" + port_to_text(q.port); },
          [](const QueueGetConfigReply& q) {
            std::string s = " port=" + port_to_text(q.port);
            for (const auto& pq : q.queues) {
              s += "\n  queue " + dec(pq.queue_id) + ":";
              if (pq.port != 0) s += " port=" + port_to_text(pq.port);
              for (const auto& p : pq.properties) {
                if (p.property == 1) s += " min_rate=" + dec(p.rate);
                else if (p.property == 2) s += " max_rate=" + dec(p.rate);
                else if (p.property == 0xffff)
                  s += " experimenter=" + hex_u(p.experimenter) + data_part("data", p.data);
                else s += " property" + dec(p.property) + "=" + hex_data(p.data);
              }
            }
            return s;
          },
          [](const RoleRequest& r) {
            return " role=" + named(kRoles, r.role) + " generation_id=" + dec(r.generation_id);
          },
          [](const RoleReply& r) {
            return " role=" + named(kRoles, r.role) + " generation_id=" + dec(r.generation_id);
          },
          [](const GetAsyncReply& g) { return async_text(g.config); },
          [](const SetAsync& s) { return async_text(s.config); },
          [](const MeterMod& m) {
            return " cmd=" + named(kMeterCommands, m.command) + " meter=" + meter_text(m.meter_id) +
                   " flags=" + hex_u(m.flags) + " bands: " + bands_text(m.bands);
          },
          [](const BundleControl& b) {
            return " bundle_id=" + hex_u(b.bundle_id) + " type=" + named(kBundleTypes, b.type) +
                   " flags=" + flags_text(kBundleFlags, b.flags) + data_part("properties", b.properties);
          },
          [](const BundleAddMessage& b) {
            std::string s = " bundle_id=" + hex_u(b.bundle_id) +
                            " flags=" + flags_text(kBundleFlags, b.flags);
            auto inner = decode(b.message);
            s += inner.ok() ? " message: " + to_text(*inner) : data_part("message", b.message);
            return s + data_part("properties", b.properties);
          },
          // Header-only messages: FEATURES_REQUEST, GET_CONFIG_REQUEST, BARRIER_*, GET_ASYNC_REQUEST.
          [](const auto&) { return std::string(); },
      },
      body);
}

}  // namespace

OxmValueKind oxm_value_kind(const OxmField& f) {
  const auto* info = oxm_field_info(f.oxm_class, f.field);
  if (info == nullptr || f.value.size() != info->length) return OxmValueKind::kBytes;
  if (f.oxm_class == oxm_class::kNxm1 && (f.field == 31 || f.field == 32)) {
    return OxmValueKind::kIpv4;  // tun_ipv4_src/dst
  }
  if (f.oxm_class != oxm_class::kOpenflowBasic) return OxmValueKind::kInteger;
  switch (f.field) {
    case oxm_field::kEthDst:
    case oxm_field::kEthSrc:
    case oxm_field::kArpSha:
    case oxm_field::kArpTha:
    case oxm_field::kIpv6NdSll:
    case oxm_field::kIpv6NdTll:
      return OxmValueKind::kMac;
    case oxm_field::kIpv4Src:
    case oxm_field::kIpv4Dst:
    case oxm_field::kArpSpa:
    case oxm_field::kArpTpa:
      return OxmValueKind::kIpv4;
    case oxm_field::kIpv6Src:
    case oxm_field::kIpv6Dst:
    case oxm_field::kIpv6NdTarget:
      return OxmValueKind::kIpv6;
    default:
      return OxmValueKind::kInteger;
  }
}

OxmFieldView view_oxm(const OxmField& f) {
  OxmFieldView v;
  v.value = f.value;
  if (f.has_mask) v.mask = f.mask;
  if (f.oxm_class == oxm_class::kExperimenter && f.experimenter == kOnfExperimenter) {
    // ONF fields as Ryu's OpenFlow 1.3 table has them: EXT-109 tcp_flags (42)
    // and EXT-233 actset_output (43) directly; EXT-256 pbb_uca as field 0 with
    // a 16-bit exp_type 2560 before the value.
    std::size_t len = 0;
    if (f.field == 42) {
      v.name = "tcp_flags";
      len = 2;
    } else if (f.field == 43) {
      v.name = "actset_output";
      len = 4;
    } else if (f.field == 0 && f.value.size() >= 2 && f.value[0] == 0x0a && f.value[1] == 0x00) {
      v.name = "pbb_uca";
      len = 1;
      ValueBytes all(f.value.begin() + 2, f.value.end());
      all.insert(all.end(), f.mask.begin(), f.mask.end());
      if (f.has_mask) {
        v.value.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(all.size() / 2));
        v.mask.assign(all.begin() + static_cast<std::ptrdiff_t>(all.size() / 2), all.end());
      } else {
        v.value = std::move(all);
      }
    }
    if (!v.name.empty()) {
      v.kind = v.value.size() == len ? OxmValueKind::kInteger : OxmValueKind::kBytes;
      return v;
    }
  }
  if (const auto* info = oxm_field_info(f.oxm_class, f.field)) {
    v.name = std::string(info->name);
  } else {
    // Ryu's spelling of an unknown field: its OXM type number (class << 7 | field).
    v.name = "field_" + dec((std::uint32_t{f.oxm_class} << 7) | f.field);
  }
  v.kind = oxm_value_kind(f);
  return v;
}

std::string port_to_text(std::uint32_t p) {
  switch (p) {
    case port::kInPort: return "in_port";
    case port::kTable: return "table";
    case port::kNormal: return "normal";
    case port::kFlood: return "flood";
    case port::kAll: return "all";
    case port::kController: return "controller";
    case port::kLocal: return "local";
    case port::kAny: return "any";
    default: return dec(p);
  }
}

std::string to_text(const OxmField& f) {
  const OxmFieldView v = view_oxm(f);
  const bool hex = hex_field(f) || f.has_mask;
  std::string out = v.name + "=" + value_text(f, v.kind, v.value, hex);
  if (f.has_mask) out += "/" + value_text(f, v.kind, v.mask, true);
  return out;
}

std::string to_text(const Match& m) {
  if (m.fields.empty()) return "any";
  std::string out;
  for (const auto& f : m.fields) {
    if (!out.empty()) out += ',';
    out += to_text(f);
  }
  return out;
}

std::string to_text(const Action& a) {
  return std::visit(
      Overloaded{
          [](const action::Output& o) {
            std::string s = "output:" + port_to_text(o.port);
            if (o.port == port::kController && o.max_len != kControllerMaxLenNoBuffer) {
              s += "(max_len=" + dec(o.max_len) + ")";
            }
            return s;
          },
          [](const action::CopyTtlOut&) { return std::string("copy_ttl_out"); },
          [](const action::CopyTtlIn&) { return std::string("copy_ttl_in"); },
          [](const action::SetMplsTtl& s) { return "set_mpls_ttl:" + dec(s.ttl); },
          [](const action::DecMplsTtl&) { return std::string("dec_mpls_ttl"); },
          [](const action::PushVlan& p) { return "push_vlan:" + hex_u(p.ethertype); },
          [](const action::PopVlan&) { return std::string("pop_vlan"); },
          [](const action::PushMpls& p) { return "push_mpls:" + hex_u(p.ethertype); },
          [](const action::PopMpls& p) { return "pop_mpls:" + hex_u(p.ethertype); },
          [](const action::SetQueue& s) { return "set_queue:" + dec(s.queue_id); },
          [](const action::Group& g) { return "group:" + group_text(g.group_id); },
          [](const action::SetNwTtl& s) { return "set_nw_ttl:" + dec(s.ttl); },
          [](const action::DecNwTtl&) { return std::string("dec_ttl"); },
          [](const action::SetField& s) { return "set_field:" + to_text(s.field); },
          [](const action::PushPbb& p) { return "push_pbb:" + hex_u(p.ethertype); },
          [](const action::PopPbb&) { return std::string("pop_pbb"); },
          [](const action::SetVlanVid& s) { return "set_vlan_vid:" + dec(s.vid); },
          [](const action::SetVlanPcp& s) { return "set_vlan_pcp:" + dec(s.pcp); },
          [](const action::SetNwTos& s) { return "set_nw_tos:" + dec(s.tos); },
          [](const action::SetTpSrc& s) { return "set_tp_src:" + dec(s.port); },
          [](const action::SetTpDst& s) { return "set_tp_dst:" + dec(s.port); },
          [](const action::Enqueue& e) {
            return "enqueue:" + port_to_text(e.port) + ":" + dec(e.queue_id);
          },
          [](const action::Experimenter& e) {
            if (e.experimenter == kNiciraExperimenter) return nicira_text(e);
            return "experimenter:" + hex_u(e.experimenter) + "(" + hex_data(e.data) + ")";
          },
      },
      a);
}

std::string to_text(const ActionList& actions) {
  if (actions.empty()) return "drop";
  std::string out;
  for (const auto& a : actions) {
    if (!out.empty()) out += ',';
    out += to_text(a);
  }
  return out;
}

std::string to_text(const Instruction& i) {
  return std::visit(
      Overloaded{
          [](const instruction::GotoTable& g) { return "goto_table:" + dec(g.table_id); },
          [](const instruction::WriteMetadata& w) {
            return "write_metadata:" + hex_u(w.metadata) + "/" + hex_u(w.mask);
          },
          [](const instruction::WriteActions& w) {
            return "write(" + (w.actions.empty() ? std::string() : to_text(w.actions)) + ")";
          },
          [](const instruction::ApplyActions& a) {
            return "apply(" + (a.actions.empty() ? std::string() : to_text(a.actions)) + ")";
          },
          [](const instruction::ClearActions&) { return std::string("clear"); },
          [](const instruction::Meter& m) { return "meter:" + meter_text(m.meter_id); },
          [](const instruction::Experimenter& e) {
            return "experimenter:" + hex_u(e.experimenter) + "(" + hex_data(e.data) + ")";
          },
      },
      i);
}

namespace {
std::string instruction_list_text(const InstructionList& l) {
  if (l.empty()) return "drop";
  std::string out;
  for (const auto& i : l) {
    if (!out.empty()) out += ',';
    out += to_text(i);
  }
  return out;
}
}  // namespace

std::string to_text(const Message& m) {
  char xid[16];
  std::snprintf(xid, sizeof xid, "0x%x", m.xid);
  return std::string(type_name(m.body)) + " v" + version_text(m.version) + " xid=" + xid +
         body_text(m.version, m.body);
}

}  // namespace tapflow::openflow
