#!/usr/bin/python3
"""Checks a switch's FIB against the kernel FIB of tapflowd's namespace (IPv4).

    fib_check.py --flows FLOWS --groups GROUPS --routes ROUTES.json --neigh NEIGH.json
                 [--of 1.3|1.0] [--table N] [--port IFACE=OFPORT ...]
                 [--mac-port MAC=OFPORT ...] [--exact] [--quiet]

FLOWS and GROUPS are `ovs-ofctl --no-names --no-stats dump-flows / dump-groups`
of the switch; ROUTES and NEIGH are `ip -j -4 route show table main` and
`ip -j -4 neigh show` in the namespace. The FIB compiler's contract
(tests/system/lib/routing_lab.sh): cookie 0x726f01... one flow per route at
priority 1000 + 2*len, 0x726f02... one per resolved neighbour (/32) at
1000 + 2*len(subnet) + 1; on OpenFlow 1.3 in the FIB table with
actions=group:N (INDIRECT: eth_src, eth_dst, dec_ttl, output; SELECT for
ECMP), on 1.0 in table 0 with the actions inline.

Checked:
  - every kernel route (the lowest metric per prefix; unicast) has its flow;
  - a route with a resolved next hop forwards to it: the flow's group (1.3) or
    its actions (1.0) set eth_dst to the neighbour's MAC and output to the
    next hop's port (TAP ethN is switch port N unless --port/--mac-port say
    otherwise; --mac-port wins, e.g. for VLAN TAPs whose neighbours sit on
    different ports); ECMP: one bucket per next hop;
  - every host flow's group or actions send to that neighbour's MAC and port;
  - no flow points at a group the switch does not have;
  - with --exact: no route flow or host flow the kernel has no route or
    neighbour for (stale entries swept). Without it they are counted only.
Exit status 0 when all holds, 1 with the first problems listed, 2 on bad input.
Fast enough for a million routes (one pass over each input).
"""

import argparse
import ipaddress
import json
import re
import sys

COOKIE_ROUTE = 0x726F01
COOKIE_HOST = 0x726F02
UNRESOLVED_STATES = {"FAILED", "INCOMPLETE", "NOARP"}

MAC_RE = r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}"
DST_RE = re.compile(r"(?:set_field:(" + MAC_RE + r")->eth_dst|mod_dl_dst:(" + MAC_RE + r"))")
OUT_RE = re.compile(r"(?:^|,)output:(\d+)(?:,|$)")
GROUP_RE = re.compile(r"(?:^|,)group:(\d+)(?:,|$)")


def cookie_class(cookie):
    """0x726f01 / 0x726f02 ... : the class is the cookie's leading 0x726fNN."""
    text = "%x" % cookie
    if not text.startswith("726f") or len(text) < 6:
        return None
    return int(text[:6], 16)


def parse_flows(path, table):
    """-> (route flows {prefix: (priority, actions)}, host flows {addr: ...}, dups)."""
    routes, hosts, dups = {}, {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("cookie="):
                continue
            head, sep, actions = line.partition(" actions=")
            if not sep:
                continue
            fields = {}
            for part in head.replace(", ", ",").split(","):
                k, eq, v = part.strip().partition("=")
                fields[k] = v if eq else True
            cls = cookie_class(int(fields.get("cookie", "0"), 16))
            if cls not in (COOKIE_ROUTE, COOKIE_HOST):
                continue
            if int(fields.get("table", 0)) != table or "nw_dst" not in fields:
                continue
            net = ipaddress.ip_network(fields["nw_dst"], strict=False)
            prio = int(fields.get("priority", 32768))
            target = routes if cls == COOKIE_ROUTE else hosts
            key = str(net) if cls == COOKIE_ROUTE else str(net.network_address)
            if key in target:
                dups.append(line)
            target[key] = (prio, actions)
    return routes, hosts, dups


def parse_groups(path):
    """-> {group id: (type, [bucket actions, ...])}"""
    groups = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            m = re.match(r"group_id=(\d+),type=([a-z]+)", line)
            if not m:
                continue
            buckets = [b.split("actions=", 1)[1] if "actions=" in b else b
                       for b in line.split("bucket=")[1:]]
            groups[int(m.group(1))] = (m.group(2), [b.rstrip(",") for b in buckets])
    return groups


def forward_targets(actions, groups):
    """The (eth_dst, output port) pairs ACTIONS forward to; None: to the
    controller or dropped; raises KeyError for a missing group."""
    m = GROUP_RE.search(actions)
    if m:
        gid = int(m.group(1))
        if gid not in groups:
            raise KeyError(gid)
        return sorted(bucket_target(b) for b in groups[gid][1])
    if "CONTROLLER" in actions.upper() or actions in ("drop", ""):
        return None
    return [bucket_target(actions)]


def bucket_target(actions):
    d = DST_RE.search(actions)
    o = OUT_RE.search(actions)
    return ((d.group(1) or d.group(2)) if d else None, int(o.group(1)) if o else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", required=True)
    ap.add_argument("--groups", required=True)
    ap.add_argument("--routes", required=True)
    ap.add_argument("--neigh", required=True)
    ap.add_argument("--of", choices=["1.0", "1.3"], default="1.3")
    ap.add_argument("--table", type=int, default=None)
    ap.add_argument("--port", action="append", default=[], metavar="IFACE=OFPORT")
    ap.add_argument("--mac-port", action="append", default=[], metavar="MAC=OFPORT")
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    table = a.table if a.table is not None else (1 if a.of == "1.3" else 0)
    try:
        port_of_if = {k: int(v) for k, v in (p.split("=", 1) for p in a.port)}
        port_of_mac = {k.lower(): int(v) for k, v in (p.split("=", 1) for p in a.mac_port)}
        flows, host_flows, dups = parse_flows(a.flows, table)
        groups = parse_groups(a.groups) if a.of == "1.3" else {}
        with open(a.routes) as f:
            kroutes = json.load(f)
        with open(a.neigh) as f:
            kneigh = json.load(f)
    except (OSError, ValueError) as e:
        print("fib_check: bad input: %s" % e, file=sys.stderr)
        return 2

    def port_of(dev, mac):
        if mac and mac.lower() in port_of_mac:
            return port_of_mac[mac.lower()]
        if dev in port_of_if:
            return port_of_if[dev]
        m = re.fullmatch(r"eth(\d+)", dev or "")
        return int(m.group(1)) if m else None  # None: port not checked

    neigh = {}
    for n in kneigh:
        state = set(n.get("state", []))
        if "lladdr" in n and not state & UNRESOLVED_STATES:
            neigh[(n["dst"], n["dev"])] = n["lladdr"].lower()

    # The kernel's routes: the lowest metric per prefix, unicast only.
    best = {}
    skipped = 0
    for r in kroutes:
        if r.get("type", "unicast") != "unicast":
            skipped += 1
            continue
        dst = "0.0.0.0/0" if r["dst"] == "default" else r["dst"]
        key = str(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
        if key not in best or r.get("metric", 0) < best[key].get("metric", 0):
            best[key] = r

    problems = []
    stats = dict(checked=0, gw=0, connected=0, unresolved=0, extra=0, extra_hosts=0)

    def problem(text):
        problems.append(text)

    for prefix, r in best.items():
        stats["checked"] += 1
        plen = int(prefix.split("/")[1])
        f = flows.get(prefix)
        if f is None:
            problem("no flow for kernel route %s (%s)" % (prefix, json.dumps(r, sort_keys=True)))
            continue
        if f[0] != 1000 + 2 * plen:
            problem("flow of %s has priority %d, not %d" % (prefix, f[0], 1000 + 2 * plen))
        hops = r.get("nexthops") or ([r] if "gateway" in r else [])
        if not hops:
            stats["connected"] += 1
            continue
        stats["gw"] += 1
        want = []
        for h in hops:
            mac = neigh.get((h.get("gateway"), h.get("dev")))
            if mac is None:
                break
            want.append((mac, port_of(h.get("dev"), mac)))
        else:
            try:
                got = forward_targets(f[1], groups)
            except KeyError as e:
                problem("flow of %s points at group %s, which the switch does not have" % (prefix, e))
                continue
            if got is None:
                problem("flow of %s goes to the controller (actions=%s), but its next hop %s is resolved"
                        % (prefix, f[1], ", ".join(h.get("gateway", "?") for h in hops)))
                continue
            if not match_targets(sorted(want), got):
                problem("flow of %s (actions=%s) forwards to %s, the kernel's next hop is %s"
                        % (prefix, f[1], got, sorted(want)))
            continue
        stats["unresolved"] += 1

    for addr, f in host_flows.items():
        macs = [mac for (dst, _dev), mac in neigh.items() if dst == addr]
        devs = [dev for (dst, dev) in neigh if dst == addr]
        if not macs:
            stats["extra_hosts"] += 1
            if a.exact:
                problem("host flow of %s, but the kernel has no resolved neighbour %s" % (addr, addr))
            continue
        try:
            got = forward_targets(f[1], groups)
        except KeyError as e:
            problem("host flow of %s points at group %s, which the switch does not have" % (addr, e))
            continue
        want = [(macs[0], port_of(devs[0], macs[0]))]
        if got is None or not match_targets(want, got):
            problem("host flow of %s (actions=%s) forwards to %s, the neighbour is %s" % (addr, f[1], got, want))

    for prefix in flows:
        if prefix not in best:
            stats["extra"] += 1
            if a.exact:
                problem("route flow of %s, which the kernel has no route for (stale)" % prefix)
    for line in dups:
        problem("duplicate FIB flow: " + line)

    summary = ("kernel: %d routes (%d via a next hop, %d connected, %d unresolved next hop, %d not unicast); "
               "switch: %d route flows, %d host flows, %d groups; %d route flows and %d host flows without a "
               "kernel entry; %d problems" % (stats["checked"], stats["gw"], stats["connected"],
                                             stats["unresolved"], skipped, len(flows), len(host_flows),
                                             len(groups), stats["extra"], stats["extra_hosts"], len(problems)))
    print(summary)
    for p in problems[:15]:
        print("  " + p)
    if len(problems) > 15:
        print("  ... and %d more" % (len(problems) - 15))
    return 1 if problems else 0


def match_targets(want, got):
    """want/got: sorted [(mac, port)]; a port of None in want is not checked."""
    if len(want) != len(got):
        return False
    for (wm, wp), (gm, gp) in zip(want, got):
        if wm != gm or (wp is not None and wp != gp):
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
