// Codec micro-benchmarks: the messages a router controller handles most.
//   decode PACKET_IN (1.0, 1.3; 64- and 1500-byte frames)
//   encode FLOW_MOD (1.3 route: eth_type + ipv4_dst/24, apply(set eth_src,
//          set eth_dst, dec_ttl, output); 1.3 route via group; 1.0 route)
//   encode PACKET_OUT (1.0, 1.3; 64- and 1500-byte frames)
// Each reports items_per_second (messages/s). bench/codec_peer.py runs the
// same operations with os-ken; `codec_bench --dump=DIR` writes the messages
// it uses so the peer decodes the same bytes and checks it encodes them too.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/errors.hpp"
#include "tapflow/openflow/packet.hpp"

namespace of = tapflow::openflow;
namespace pkt = tapflow::openflow::packet;

namespace {

of::MacAddress mac(const char* s) { return of::MacAddress::parse(s).value(); }

of::Bytes frame(std::size_t len) {
  pkt::UdpFrameSpec s;
  s.eth_dst = mac("02:00:00:00:00:fe");
  s.eth_src = mac("02:00:00:00:00:01");
  s.ip_src = 0x0a000001;
  s.ip_dst = 0x0a010203;
  s.src_port = 40000;
  s.dst_port = 53;
  return pkt::build_ipv4_udp_frame(s, len);
}

of::Message packet_in(std::uint8_t version, std::size_t frame_len) {
  of::PacketIn p;
  p.buffer_id = of::kNoBuffer;
  p.data = frame(frame_len);
  p.total_len = static_cast<std::uint16_t>(p.data.size());
  p.in_port = 1;
  p.reason = of::packet_in_reason::kNoMatch;
  if (version == of::kVersion13) p.match.add(of::oxm::in_port(1));
  return of::Message{version, 0x10, p};
}

of::Match route_match() {
  of::Match m;
  m.add(of::oxm::eth_type(0x0800));
  m.add(of::oxm::ipv4_dst(0x0a010200, 0xffffff00));  // 10.1.2.0/24
  return m;
}

of::FlowMod route_flow(of::ActionList actions) {
  of::FlowMod f;
  f.table_id = 1;
  f.cookie = 0x2000000000000001ULL;
  f.priority = 24;  // priority from the prefix length
  f.buffer_id = of::kNoBuffer;
  f.match = route_match();
  f.instructions.push_back(of::instruction::ApplyActions{std::move(actions)});
  return f;
}

of::Message flow_mod13_route() {
  return of::Message{of::kVersion13, 0x20,
                     route_flow({of::action::SetField{of::oxm::eth_src(mac("02:00:00:00:00:fe"))},
                                 of::action::SetField{of::oxm::eth_dst(mac("02:00:00:00:01:01"))},
                                 of::action::DecNwTtl{}, of::action::Output{2, 0}})};
}

of::Message flow_mod13_group() {
  return of::Message{of::kVersion13, 0x21, route_flow({of::action::Group{7}})};
}

of::Message flow_mod10_route() {
  of::FlowMod f = route_flow({of::action::SetField{of::oxm::eth_src(mac("02:00:00:00:00:fe"))},
                              of::action::SetField{of::oxm::eth_dst(mac("02:00:00:00:01:01"))},
                              of::action::Output{2, 0}});
  f.table_id = 0;
  return of::Message{of::kVersion10, 0x22, f};
}

of::Message packet_out(std::uint8_t version, std::size_t frame_len) {
  of::PacketOut p;
  p.buffer_id = of::kNoBuffer;
  p.in_port = of::port::kController;
  p.actions.push_back(of::action::Output{1, 0});
  p.data = frame(frame_len);
  return of::Message{version, 0x30, p};
}

of::Bytes must_encode(const of::Message& m) {
  auto b = of::encode(m);
  if (!b) {
    std::fprintf(stderr, "codec_bench: cannot encode %s: %s\n", of::type_name(m.body),
                 of::describe(b.error()).c_str());
    std::exit(1);
  }
  return *b;
}

struct Case {
  std::string name;  // also the file name under --dump (with '/' -> '_')
  bool decode;
  of::Message message;
};

std::vector<Case> cases() {
  return {
      {"decode/packet_in/1.0/64B", true, packet_in(of::kVersion10, 64)},
      {"decode/packet_in/1.0/1500B", true, packet_in(of::kVersion10, 1500)},
      {"decode/packet_in/1.3/64B", true, packet_in(of::kVersion13, 64)},
      {"decode/packet_in/1.3/1500B", true, packet_in(of::kVersion13, 1500)},
      {"encode/flow_mod/1.3/route", false, flow_mod13_route()},
      {"encode/flow_mod/1.3/route_group", false, flow_mod13_group()},
      {"encode/flow_mod/1.0/route", false, flow_mod10_route()},
      {"encode/packet_out/1.0/64B", false, packet_out(of::kVersion10, 64)},
      {"encode/packet_out/1.3/64B", false, packet_out(of::kVersion13, 64)},
      {"encode/packet_out/1.3/1500B", false, packet_out(of::kVersion13, 1500)},
  };
}

void bench_decode(benchmark::State& state, const of::Bytes& wire) {
  for (auto _ : state) {
    auto m = of::decode(wire);
    benchmark::DoNotOptimize(m);
    if (!m) state.SkipWithError("decode failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

void bench_encode(benchmark::State& state, const of::Message& m) {
  of::Bytes out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();  // a connection's write buffer is reused, not reallocated
    auto st = of::encode(m, out);
    benchmark::DoNotOptimize(out.data());
    if (!st) state.SkipWithError("encode failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

int dump(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& c : cases()) {
    std::string file = c.name;
    for (char& ch : file) {
      if (ch == '/') ch = '_';
    }
    const of::Bytes b = must_encode(c.message);
    std::ofstream out(std::filesystem::path(dir) / (file + ".bin"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) {
      std::fprintf(stderr, "codec_bench: cannot write %s\n", file.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dump=", 7) == 0) return dump(argv[i] + 7);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The cases live until the benchmarks have run.
  static const std::vector<Case> all = cases();
  static std::vector<of::Bytes> wires;
  wires.reserve(all.size());
  for (const auto& c : all) {
    wires.push_back(must_encode(c.message));
    if (c.decode) {
      benchmark::RegisterBenchmark(c.name.c_str(), bench_decode, std::cref(wires.back()));
    } else {
      benchmark::RegisterBenchmark(c.name.c_str(), bench_encode, std::cref(c.message));
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
