#!/usr/bin/python3
"""Compares tapflowctl's JSON views with what the kernel and the switch say.

    ctl_compare.py routes CTL.json IP4.json IP6.json
        CTL.json: `tapflowctl show routes SWITCH --json`; IP4/IP6.json:
        `ip -j [-6] route show table main` in the switch's namespace. The same
        routes: prefix, metric, next hops (gateway, device). Link-local
        destinations (fe80::/10) are left out on both sides: the kernel keeps
        one fe80::/64 per interface with the same metric, which routing's
        kernel-state model (one route per table, prefix, tos and metric)
        holds as one, and the FIB ignores them anyway.
    ctl_compare.py flows CTL.json DUMP.txt
        CTL.json: `tapflowctl show flows SWITCH --json`; DUMP.txt:
        `ovs-ofctl --no-names dump-flows` of the switch. The flows of routing's
        cookie class the switch holds, as tapflowctl reports them ("have"):
        cookie, table, priority, destination prefix, action (group, controller,
        drop).
Prints the differences and exits 1 when there are any, 0 when equal.
"""

import ipaddress
import json
import re
import sys

ROUTING_CLASS = 0x726F


def ctl_switch(path):
    with open(path) as f:
        reply = json.load(f)
    switches = reply["switches"]
    if len(switches) != 1:
        sys.exit(f"expected one switch in {path}, got {len(switches)}")
    s = switches[0]
    if "error" in s:
        sys.exit(f"tapflowctl: {s['error']}")
    return s


def link_local(prefix):
    return ipaddress.ip_network(prefix).is_link_local


def ip_routes(path, family):
    with open(path) as f:
        text = f.read().strip()
    out = set()
    for r in json.loads(text) if text else []:
        dst = r["dst"]
        if dst == "default":
            dst = "0.0.0.0/0" if family == 4 else "::/0"
        net = ipaddress.ip_network(dst, strict=False)
        if link_local(str(net)):
            continue
        hops = r.get("nexthops") or [r]
        nh = frozenset((h.get("gateway"), h.get("dev")) for h in hops)
        out.add((str(net), r.get("metric", 0), nh))
    return out


def compare(name, ours, theirs):
    missing, extra = theirs - ours, ours - theirs
    for x in sorted(map(str, missing)):
        print(f"{name}: the switch/kernel has, tapflowctl does not: {x}")
    for x in sorted(map(str, extra)):
        print(f"{name}: tapflowctl has, the switch/kernel does not: {x}")
    print(f"{name}: {len(ours)} in tapflowctl, {len(theirs)} in the kernel/switch, "
          f"{len(missing) + len(extra)} differences")
    return 1 if missing or extra else 0


def routes(ctl, ip4, ip6):
    ours = set()
    for r in ctl_switch(ctl)["routes"]:
        if link_local(r["prefix"]):
            continue
        nh = frozenset((h.get("gateway"), h.get("dev")) for h in r["nexthops"])
        ours.add((str(ipaddress.ip_network(r["prefix"])), r["metric"], nh))
    return compare("routes", ours, ip_routes(ip4, 4) | ip_routes(ip6, 6))


def action_of(text):
    m = re.search(r"group:(\d+)", text)
    if m:
        return "group:" + m.group(1)
    if re.search(r"controller", text, re.I):
        return "controller"
    if text.strip() in ("drop", ""):
        return "drop"
    return text


def prefix_of(match):
    m = re.search(r"(?:nw_dst|ipv6_dst|ipv4_dst)=([0-9a-f.:]+)(?:/([0-9a-f.:]+))?", match)
    if not m:
        return None
    addr, mask = m.group(1), m.group(2)
    if mask is None:
        return str(ipaddress.ip_network(addr))
    if mask.isdigit():
        return str(ipaddress.ip_network(f"{addr}/{mask}", strict=False))
    return str(ipaddress.ip_network(f"{addr}/{mask}", strict=False))


def flows(ctl, dump):
    ours = set()
    for f in ctl_switch(ctl)["flows"]:
        if f["have"] is None:
            continue
        ours.add((int(f["cookie"], 16), f["table"], f["priority"], f["prefix"], action_of(f["have"])))
    theirs = set()
    line_re = re.compile(r"cookie=(0x[0-9a-f]+),.*table=(\d+),.*priority=(\d+)(,\S*)? actions=(\S*)")
    with open(dump) as f:
        for line in f:
            m = line_re.search(line)
            if not m or int(m.group(1), 16) >> 48 != ROUTING_CLASS:
                continue
            theirs.add((int(m.group(1), 16), int(m.group(2)), int(m.group(3)),
                        prefix_of(m.group(4) or ""), action_of(m.group(5))))
    return compare("flows", ours, theirs)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "routes":
        return routes(*sys.argv[2:])
    if len(sys.argv) == 4 and sys.argv[1] == "flows":
        return flows(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
