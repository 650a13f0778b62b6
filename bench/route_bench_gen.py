#!/usr/bin/python3
"""Inputs of bench/run_route_bench.sh: N prefixes as OpenFlow flows (for
`ovs-ofctl --bundle add-flows`) or as kernel routes (for `ip -batch`).

  route_bench_gen.py flows4 N FILE PORT_MAC NH_MAC[,NH_MAC...] OUT_PORT [TABLE]
  route_bench_gen.py flows6 N FILE PORT_MAC NH_MAC[,NH_MAC...] OUT_PORT [TABLE]
  route_bench_gen.py routes4 N FILE NH_IP[,NH_IP...]
  route_bench_gen.py routes6 N FILE NH_IP[,NH_IP...]

The i-th prefix is the same in every form: IPv4 /24s from 64.0.0.0 up (1M of
them reach 79.255.255.0/24, clear of the lab's 10.0.0.0/8), IPv6 /48s from
2a00::/48 up. Prefix i uses next hop i mod K. Flows are what the FIB compiler
makes of such a route on OpenFlow 1.3, with the next hop inlined as LAB.md's
measurement did (eth_src, eth_dst, dec_ttl, output) instead of a group.
"""
import sys


def v4(i):
    a = (64 << 24) + (i << 8)
    return "%d.%d.%d.0/24" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255)


def v6(i):
    return "2a00:%x:%x::/48" % (i >> 16, i & 0xFFFF)


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    kind, n, path = argv[1], int(argv[2]), argv[3]
    prefix, length = (v4, 24) if kind.endswith("4") else (v6, 48)
    with open(path, "w", buffering=1 << 20) as out:
        if kind in ("flows4", "flows6"):
            port_mac, nh_macs, port = argv[4], argv[5].split(","), argv[6]
            table = argv[7] if len(argv) > 7 else "1"
            match = "ip,nw_dst" if kind == "flows4" else "ipv6,ipv6_dst"
            prio = 1000 + 2 * length
            acts = ["set_field:%s->eth_src,set_field:%s->eth_dst,dec_ttl,output:%s" % (port_mac, m, port)
                    for m in nh_macs]
            k = len(acts)
            for i in range(n):
                out.write("table=%s,priority=%d,%s=%s,actions=%s\n" % (table, prio, match, prefix(i), acts[i % k]))
        elif kind in ("routes4", "routes6"):
            nhs = argv[4].split(",")
            k = len(nhs)
            for i in range(n):
                out.write("route add %s via %s\n" % (prefix(i), nhs[i % k]))
        else:
            sys.exit("unknown kind %r\n%s" % (kind, __doc__))


if __name__ == "__main__":
    main(sys.argv)
