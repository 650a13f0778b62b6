#!/usr/bin/python3
"""The codec benchmark's peer: the same operations with os-ken's parsers.

Reads the messages `codec_bench --dump=DIR` wrote. Decode cases parse those
bytes (header + os_ken.ofproto.ofproto_parser.msg, what an os-ken controller
does per message). Encode cases build the same message with os-ken's classes
once, check that serialize() gives exactly our bytes, and time serialize().

Usage: /usr/bin/python3 bench/codec_peer.py DIR [--seconds S] [--json]
Prints messages/s per case (a table, or a JSON object with --json).
"""

import argparse
import json
import os
import sys
import time

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_0 as of10
from os_ken.ofproto import ofproto_v1_0_parser as p10
from os_ken.ofproto import ofproto_v1_3 as of13
from os_ken.ofproto import ofproto_v1_3_parser as p13


class Datapath:
    """The part of os_ken.controller.Datapath the parsers use."""

    def __init__(self, ofproto, parser):
        self.ofproto = ofproto
        self.ofproto_parser = parser
        self.id = 1


DP10 = Datapath(of10, p10)
DP13 = Datapath(of13, p13)

ETH_SRC = "02:00:00:00:00:fe"  # the router port
ETH_DST = "02:00:00:00:01:01"  # the next hop


def xid_of(buf):
    return int.from_bytes(buf[4:8], "big")


def flow_mod13_route(_buf):
    match = p13.OFPMatch(eth_type=0x0800, ipv4_dst=("10.1.2.0", "255.255.255.0"))
    actions = [p13.OFPActionSetField(eth_src=ETH_SRC), p13.OFPActionSetField(eth_dst=ETH_DST),
               p13.OFPActionDecNwTtl(), p13.OFPActionOutput(2, 0)]
    return route13(match, actions)


def flow_mod13_group(_buf):
    match = p13.OFPMatch(eth_type=0x0800, ipv4_dst=("10.1.2.0", "255.255.255.0"))
    return route13(match, [p13.OFPActionGroup(7)])


def route13(match, actions):
    return p13.OFPFlowMod(
        DP13, cookie=0x2000000000000001, cookie_mask=0, table_id=1, command=of13.OFPFC_ADD,
        idle_timeout=0, hard_timeout=0, priority=24, buffer_id=of13.OFP_NO_BUFFER,
        out_port=of13.OFPP_ANY, out_group=of13.OFPG_ANY, flags=0, match=match,
        instructions=[p13.OFPInstructionActions(of13.OFPIT_APPLY_ACTIONS, actions)])


def flow_mod10_route(buf):
    # Our 1.0 encoder's ofp_match, field for field (wildcards as it wrote them).
    match = p10.OFPMatch(dl_type=0x0800, nw_dst=0x0A010200, nw_dst_mask=24)
    wildcards = int.from_bytes(buf[8:12], "big")
    match.wildcards = wildcards
    actions = [p10.OFPActionSetDlSrc(ETH_SRC), p10.OFPActionSetDlDst(ETH_DST),
               p10.OFPActionOutput(2, 0)]
    return p10.OFPFlowMod(DP10, match, cookie=0x2000000000000001, command=of10.OFPFC_ADD,
                          idle_timeout=0, hard_timeout=0, priority=24,
                          buffer_id=0xFFFFFFFF, out_port=of10.OFPP_NONE, flags=0,
                          actions=actions)


def packet_out13(buf):
    return p13.OFPPacketOut(DP13, buffer_id=of13.OFP_NO_BUFFER, in_port=of13.OFPP_CONTROLLER,
                            actions=[p13.OFPActionOutput(1, 0)], data=bytes(buf[24 + 16:]))


def packet_out10(buf):
    return p10.OFPPacketOut(DP10, buffer_id=0xFFFFFFFF, in_port=of10.OFPP_CONTROLLER,
                            actions=[p10.OFPActionOutput(1, 0)], data=bytes(buf[16 + 8:]))


# name -> (file, builder for encode cases or None for decode, datapath)
CASES = [
    ("decode/packet_in/1.0/64B", None, DP10),
    ("decode/packet_in/1.0/1500B", None, DP10),
    ("decode/packet_in/1.3/64B", None, DP13),
    ("decode/packet_in/1.3/1500B", None, DP13),
    ("encode/flow_mod/1.3/route", flow_mod13_route, DP13),
    ("encode/flow_mod/1.3/route_group", flow_mod13_group, DP13),
    ("encode/flow_mod/1.0/route", flow_mod10_route, DP10),
    ("encode/packet_out/1.0/64B", packet_out10, DP10),
    ("encode/packet_out/1.3/64B", packet_out13, DP13),
    ("encode/packet_out/1.3/1500B", packet_out13, DP13),
]


def rate(op, seconds):
    """Messages per second of op(), timed over about `seconds`."""
    n = 1
    while True:  # calibrate: a batch of about 0.1 s
        start = time.perf_counter()
        for _ in range(n):
            op()
        took = time.perf_counter() - start
        if took >= 0.1:
            break
        n *= 2
    total_n, total_t = 0, 0.0
    while total_t < seconds:
        start = time.perf_counter()
        for _ in range(n):
            op()
        total_t += time.perf_counter() - start
        total_n += n
    return total_n / total_t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="directory written by codec_bench --dump=DIR")
    ap.add_argument("--seconds", type=float, default=1.0, help="time per case")
    ap.add_argument("--json", action="store_true", help="print a JSON object")
    args = ap.parse_args()

    results = {}
    ok = True
    for name, build, dp in CASES:
        path = os.path.join(args.dir, name.replace("/", "_") + ".bin")
        with open(path, "rb") as f:
            buf = f.read()
        if build is None:
            def op(buf=buf, dp=dp):
                version, msg_type, msg_len, xid = ofproto_parser.header(buf)
                return ofproto_parser.msg(dp, version, msg_type, msg_len, xid, buf)
            msg = op()
            total_len = int.from_bytes(buf[12:14], "big")  # same place in 1.0 and 1.3
            if msg is None or len(msg.data) != total_len:
                print(f"codec_peer: os-ken cannot parse {name}", file=sys.stderr)
                ok = False
                continue
        else:
            msg = build(buf)
            msg.set_xid(xid_of(buf))
            msg.serialize()
            if bytes(msg.buf) != buf:
                print(f"codec_peer: os-ken encodes {name} differently from us:\n"
                      f"  ours   {buf.hex()}\n  os-ken {bytes(msg.buf).hex()}", file=sys.stderr)
                ok = False
                continue
            op = msg.serialize
        results[name] = rate(op, args.seconds)

    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        for name, r in results.items():
            print(f"{name:36} {r:12.0f} msg/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
