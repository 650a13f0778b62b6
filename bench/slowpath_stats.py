#!/usr/bin/env python3
"""Parsing and reporting for bench/run_slowpath_bench.sh.

  slowpath_stats.py rtt FILE        ping output (per-packet lines) -> key=value
  slowpath_stats.py udp FILE        iperf3 -u -J (client side, with the receiver report) -> key=value
  slowpath_stats.py tcp FILE        iperf3 -J (TCP) -> key=value
  slowpath_stats.py jitter SECONDS  the machine's scheduling noise: one process
                                    spinning on each CPU for SECONDS, counting
                                    the times it lost its CPU (two clock reads
                                    more than 0.1 / 0.5 / 1 ms apart) -> key=value
  slowpath_stats.py trace DIR       run_slowpath_trace.sh's captures (p1.pcap,
                                    lo.pcap, tap.pcap, ping.txt) -> the round
                                    trip's segments per echo, markdown
  slowpath_stats.py drops BEFORE AFTER
                                    two run_slowpath_bench.sh snapshots (drop
                                    counters along the path) -> deltas, key=value
  slowpath_stats.py report META ROUND...
                                    META (# lines: the header) and one file of
                                    config.key=value lines per round -> markdown

The key=value lines go to stdout, one line, for the shell to keep; errors
(an iperf3 error, no replies at all) exit 1 with the reason on stderr.
"""
import json
import math
import os
import re
import statistics
import struct
import sys
import time


def kv(**fields):
    print(" ".join(f"{k}={v}" for k, v in fields.items()))


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def cmd_rtt(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    times = [float(t) for t in re.findall(r"time=([0-9.]+) ms", text)]
    m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    if not times or not m:
        sys.exit(f"no echo replies in {path}")
    sent, recv = int(m.group(1)), int(m.group(2))
    kv(sent=sent, received=recv,
       loss_pct=f"{100.0 * (sent - recv) / sent:.2f}",
       min_ms=f"{min(times):.3f}", median_ms=f"{statistics.median(times):.3f}",
       avg_ms=f"{statistics.fmean(times):.3f}", p99_ms=f"{percentile(times, 99):.3f}",
       max_ms=f"{max(times):.3f}")


def spin(seconds, cpu, out):
    """Spins on CPU for SECONDS; writes the gaps between clock reads above
    0.1, 0.5 and 1 ms and the longest (ns) to the pipe OUT."""
    os.sched_setaffinity(0, {cpu})
    clock = time.perf_counter_ns
    start = last = clock()
    end = start + int(seconds * 1e9)
    g100 = g500 = g1000 = longest = 0
    while last < end:
        now = clock()
        gap = now - last
        last = now
        if gap > 100_000:
            g100 += 1
            g500 += gap > 500_000
            g1000 += gap > 1_000_000
            longest = max(longest, gap)
    os.write(out, f"{g100} {g500} {g1000} {longest}\n".encode())


def cmd_jitter(seconds):
    """How often a running thread loses its CPU on this machine: interrupts,
    other tasks, and on a VM the host taking the vCPU away. A path that
    crosses several processes and both cores meets these gaps in its tail."""
    seconds = float(seconds)
    cpus = sorted(os.sched_getaffinity(0))
    r, w = os.pipe()
    pids = []
    for cpu in cpus:
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                spin(seconds, cpu, w)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    for pid in pids:
        os.waitpid(pid, 0)
    rows = [list(map(int, line.split())) for line in data.decode().splitlines()]
    if len(rows) != len(cpus):
        sys.exit(f"jitter: {len(rows)} of {len(cpus)} spinners reported")
    per_s = lambda i: sum(row[i] for row in rows) / seconds / len(cpus)
    kv(cpus=len(cpus), gaps100_per_s=f"{per_s(0):.1f}", gaps500_per_s=f"{per_s(1):.1f}",
       gaps1000_per_s=f"{per_s(2):.2f}", max_gap_ms=f"{max(row[3] for row in rows) / 1e6:.3f}")


def pcap_records(path):
    """(timestamp s, frame bytes) of a classic pcap file (micro- or
    nanosecond, little-endian as tcpdump writes it here)."""
    data = open(path, "rb").read()
    if len(data) < 24:
        sys.exit(f"{path}: not a pcap file")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: not a little-endian pcap file (magic {magic:#x})")
    scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        off += 16
        yield sec + frac * scale, data[off:off + incl]
        off += incl


def icmp_echo(frame):
    """(ICMP type, sequence) of an IPv4 echo request/reply in an Ethernet
    frame, else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4 or frame[23] != 1:
        return None
    icmp = frame[14 + (frame[14] & 15) * 4:]
    if len(icmp) < 8 or icmp[0] not in (0, 8):
        return None
    return icmp[0], struct.unpack(">H", icmp[6:8])[0]


def first_seen(path, key_of):
    seen = {}
    for t, frame in pcap_records(path):
        for key in key_of(frame):
            seen.setdefault(key, t)
    return seen


def openflow_echoes(frame):
    """Keys ("pin"|"pout", (ICMP type, seq)) of the PACKET_INs and PACKET_OUTs
    (OpenFlow 1.0 or 1.3) in one TCP segment on lo that carry an echo."""
    ip = frame[14:]
    tcp = ip[(ip[0] & 15) * 4:]
    payload = tcp[(tcp[12] >> 4) * 4:]
    i = 0
    while i + 8 <= len(payload):
        version, kind, length = payload[i], payload[i + 1], struct.unpack(">H", payload[i + 2:i + 4])[0]
        if version not in (1, 4) or length < 8:
            return  # a message split across segments: the capture keeps the rest
        if kind in (10, 13):  # PACKET_IN, PACKET_OUT: the frame is their tail
            msg = payload[i:i + length]
            for m in re.finditer(b"\x08\x00\x45", msg):
                echo = icmp_echo(msg[m.start() - 12:]) if m.start() >= 12 else None
                if echo:
                    yield ("pin" if kind == 10 else "pout", echo)
                    break
        i += length


SEGMENTS = [
    ("ovs_in", "OVS: port -> PACKET_IN (wake-up, upcall, packet-in)"),
    ("ctl_in", "tapflowd: PACKET_IN -> TAP (wake-up, read, write)"),
    ("kernel", "the namespace's kernel: request -> reply on the TAP"),
    ("ctl_out", "tapflowd: TAP -> PACKET_OUT (read, encode, send)"),
    ("ovs_out", "OVS: PACKET_OUT -> port (wake-up, execute)"),
]


def cmd_trace(directory):
    port = first_seen(f"{directory}/p1.pcap", lambda f: [e] if (e := icmp_echo(f)) else [])
    tap = first_seen(f"{directory}/tap.pcap", lambda f: [e] if (e := icmp_echo(f)) else [])
    wire = first_seen(f"{directory}/lo.pcap", lambda f: list(openflow_echoes(f)))
    ping = {int(s): float(t) for s, t in
            re.findall(r"icmp_seq=(\d+) .*?time=([0-9.]+) ms", open(f"{directory}/ping.txt").read())}
    rows = []
    for (kind, seq), t0 in sorted(port.items(), key=lambda kv: kv[1]):
        if kind != 8:
            continue
        try:
            marks = [t0, wire[("pin", (8, seq))], tap[(8, seq)], tap[(0, seq)],
                     wire[("pout", (0, seq))], port[(0, seq)]]
        except KeyError:
            continue  # a capture missed it (tcpdump drops under load)
        rows.append((seq, t0, [(b - a) * 1e6 for a, b in zip(marks, marks[1:])]))
    if not rows or not ping:
        sys.exit(f"trace: {len(rows)} echoes seen at every capture point, {len(ping)} ping replies")

    def row(label, v):
        return f"| {label} | {statistics.median(v):.0f} | {percentile(v, 99):.0f} | {max(v):.0f} |"

    out = [f"{len(rows)} of {len(ping)} echoes seen at every capture point.", "",
           "| segment | median us | p99 us | max us |", "|---|---:|---:|---:|"]
    out += [row(label, [r[2][i] for r in rows]) for i, (_, label) in enumerate(SEGMENTS)]
    out.append(row("whole round trip at the switch port", [sum(r[2]) for r in rows]))
    out.append(row("ping's RTT (all replies)", [t * 1000 for t in ping.values()]))
    out += ["", "The slowest 1% of the traced echoes, by their round trip at the port (us):", "",
            "| seq | ms into the run | " + " | ".join(k for k, _ in SEGMENTS) + " | round trip |",
            "|---:|---:|" + "---:|" * (len(SEGMENTS) + 1)]
    start = rows[0][1]
    for seq, t0, seg in sorted(rows, key=lambda r: -sum(r[2]))[:max(1, len(rows) // 100)]:
        out.append(f"| {seq} | {(t0 - start) * 1000:.0f} | " + " | ".join(f"{x:.0f}" for x in seg)
                   + f" | {sum(seg):.0f} |")
    print("\n".join(out))


def load_iperf(path):
    try:
        r = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        sys.exit(f"cannot read iperf3 JSON {path}: {e}")
    if "error" in r:
        sys.exit("iperf3: " + r["error"])
    return r


def cmd_udp(path):
    r = load_iperf(path)
    # What the receiver counted: the server's own report, which iperf3
    # exchanges at the end of a UDP test (sum_received, "sender": false).
    rs = r["end"].get("sum_received")
    if not rs or rs.get("sender", False):
        sys.exit(f"{path}: no receiver-side report (end.sum_received)")
    # The server's "packets" is the highest sequence number seen (what was
    # sent up to the last arrival); lost = packets never received.
    received = int(rs["packets"]) - int(rs["lost_packets"])
    secs = float(rs["seconds"]) or 1.0
    cs = r["end"]["sum"]
    sent = int(cs["packets"])
    csecs = float(cs["seconds"]) or 1.0
    kv(rx_pps=f"{received / secs:.0f}", tx_pps=f"{sent / csecs:.0f}",
       received=received, sent=sent,
       loss_pct=f"{100.0 * (sent - received) / sent:.1f}" if sent else "0",
       rx_mbps=f"{rs['bits_per_second'] / 1e6:.1f}", seconds=f"{secs:.2f}")


def cmd_tcp(path):
    r = load_iperf(path)
    s = r["end"]["sum_received"]
    kv(mbps=f"{s['bits_per_second'] / 1e6:.1f}", bytes=int(s["bytes"]),
       retransmits=int(r["end"]["sum_sent"].get("retransmits", 0)))


# ---------------------------------------------------------------- drops

def sections(path):
    """run_slowpath_bench.sh snapshot file -> {section: text}."""
    out, cur = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("== "):
            cur = line[3:].strip()
            out[cur] = ""
        elif cur is not None:
            out[cur] += line
    return out


def links(text):
    """ip -s -j link show -> {ifname: stats64}."""
    try:
        return {l["ifname"]: l.get("stats64", {}) for l in json.loads(text or "[]")}
    except ValueError:
        return {}


def snapshot_counters(path):
    """The counters of one snapshot, flat: name -> int."""
    sec = sections(path)
    c = {}
    for ns, key in (("h1", "link_h1"), ("lab", "link_lab"), ("srv", "link_srv")):
        for ifname, st in links(sec.get(key)).items():
            for d in ("rx", "tx"):
                for f in ("packets", "dropped", "errors"):
                    c[f"{ns}.{ifname}.{d}_{f}"] = int(st.get(d, {}).get(f, 0))
    for line in sec.get("nstat_srv", "").splitlines():
        f = line.split()
        if len(f) >= 2 and not f[0].startswith("#") and f[1].isdigit():
            c[f"nstat.{f[0]}"] = int(f[1])
    # softnet_stat: per CPU, hex; column 2 = dropped (backlog queue full).
    c["softnet.dropped"] = sum(int(l.split()[1], 16) for l in sec.get("softnet", "").splitlines()
                               if len(l.split()) > 1)
    # ss -0 -m: ovs-vswitchd's AF_PACKET sockets; skmem d = packets the socket dropped.
    c["ovs.sock_drops"] = sum(int(x) for x in re.findall(r"skmem:\([^)]*\bd(\d+)\)", sec.get("sock_lab", "")))
    for m in re.finditer(r"^(\S+)\s+.*total:\s*(\d+)\s*$", sec.get("ovs_coverage", ""), re.M):
        c[f"cov.{m.group(1)}"] = int(m.group(2))
    for m in re.finditer(r"^\s*(packets received|miss with success upcall|miss with failed upcall"
                         r"|emc hits|megaflow hits):\s*(\d+)", sec.get("ovs_pmd", ""), re.M):
        k = "pmd." + m.group(1).replace(" ", "_")
        c[k] = c.get(k, 0) + int(m.group(2))
    for line in sec.get("metrics", "").splitlines():
        m = re.match(r"^(tapflow_\w+)(\{[^}]*\})?\s+([0-9.e+]+)$", line)
        if not m:
            continue
        name, labels, v = m.group(1), m.group(2) or "", int(float(m.group(3)))
        if name == "tapflow_datapath_packet_ins_total":
            c["tapd.packet_ins"] = c.get("tapd.packet_ins", 0) + v
        elif name == "tapflow_tap_frames_total" and 'direction="to_tap"' in labels:
            c["tapd.to_tap"] = c.get("tapd.to_tap", 0) + v
        elif name == "tapflow_tap_frames_total" and 'direction="to_switch"' in labels:
            c["tapd.to_switch"] = c.get("tapd.to_switch", 0) + v
        elif name == "tapflow_tap_drops_total":
            r = re.search(r'reason="(\w+)"', labels)
            k = f"tapd.drop_{r.group(1) if r else 'other'}"
            c[k] = c.get(k, 0) + v
        elif name == "tapflow_tap_read_pauses_total":
            c["tapd.read_pauses"] = c.get("tapd.read_pauses", 0) + v
        elif name == "tapflow_bridge_packet_in_unknown_port_total":
            c["tapd.pin_unknown_port"] = v
    return c


# The drop points in the order a packet meets them, as key=value names:
# (output key, counter in snapshot_counters or a function of the deltas).
def drop_fields(d):
    def g(k):
        return d.get(k, 0)
    srv_if = "eth1" if any(k.startswith("srv.eth1.") for k in d) else "eth0"
    f = {
        "h1_tx": g("h1.eth0.tx_packets"),
        "h1_txdrop": g("h1.eth0.tx_dropped") + g("h1.eth0.tx_errors"),
        "p1_rx": g("lab.p1.rx_packets"),
        "p1_rxdrop": g("lab.p1.rx_dropped"),
        "ovs_sockdrop": g("ovs.sock_drops"),
        "ovs_rx": g("pmd.packets_received"),
        "upcall_ok": g("pmd.miss_with_success_upcall"),
        "upcall_fail": g("pmd.miss_with_failed_upcall"),
        "pin_overflow": g("cov.packet_in_overflow"),
        "rconn_overflow": g("cov.rconn_overflow"),
        "rconn_sent": g("cov.rconn_sent"),
        "p2_txdrop": g("lab.p2.tx_dropped") + g("lab.p2.tx_errors"),
        "srv_rx": g(f"srv.{srv_if}.rx_packets"),
        "srv_rxdrop": g(f"srv.{srv_if}.rx_dropped"),
        "softnet_drop": g("softnet.dropped"),
        "ip_indiscards": g("nstat.IpInDiscards"),
        "udp_in": g("nstat.UdpInDatagrams"),
        "udp_rcvbuf_err": g("nstat.UdpRcvbufErrors"),
        "udp_in_err": g("nstat.UdpInErrors"),
    }
    if "tapd.packet_ins" in d:
        f["tapd_pin"] = g("tapd.packet_ins")
        f["tapd_to_tap"] = g("tapd.to_tap")
        f["tapd_to_switch"] = g("tapd.to_switch")
        for k in sorted(d):
            if k.startswith("tapd.drop_"):
                f["tapd_" + k[5:]] = d[k]
        f["tapd_read_pauses"] = g("tapd.read_pauses")
    # Any other OVS event counter with "drop", "overflow" or "fail" in its
    # name that moved: a drop point not listed above.
    for k in sorted(d):
        if k.startswith("cov.") and re.search(r"drop|overflow|fail|discard", k) and d[k] \
                and k not in ("cov.packet_in_overflow", "cov.rconn_overflow"):
            f["cov_" + k[4:]] = d[k]
    return f


def cmd_drops(before, after):
    a, b = snapshot_counters(before), snapshot_counters(after)
    d = {k: b[k] - a.get(k, 0) for k in b}
    if not any(k.startswith("nstat.") for k in d):
        sys.exit(f"{after}: no nstat counters (snapshot failed?)")
    kv(**drop_fields(d))


# ---------------------------------------------------------------- report

CONFIGS = [
    ("baseline", "baseline (flows, no controller)"),
    ("hub", "hub: ovs-testcontroller -H -n"),
    ("tapd", "tapd: tapflowd router, TAP"),
]

TARGET_TCP_MBPS = 200.0
TARGET_P99_ADDED_MS = 0.5
TARGET_PPS_RATIO = 0.9


def num(v, fmt="{:.0f}"):
    try:
        return fmt.format(float(v))
    except (TypeError, ValueError):
        return "-"


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_round(path):
    res = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            res[k] = v
    return res


DROP_ROWS = [
    ("load1", "udp.load1", "load average (1 min) right after the UDP run"),
    ("udp.tx_pps", "udp.tx_pps", "offered, pkt/s (iperf3 client)"),
    ("udp.rx_pps", "udp.rx_pps", "received, pkt/s (iperf3 server)"),
    ("h1_tx", "udpdrop.h1_tx", "h1 eth0 tx packets"),
    ("h1_txdrop", "udpdrop.h1_txdrop", "h1 eth0 tx dropped+errors"),
    ("p1_rx", "udpdrop.p1_rx", "lab p1 (OVS side) rx packets"),
    ("p1_rxdrop", "udpdrop.p1_rxdrop", "lab p1 rx dropped"),
    ("ovs_sockdrop", "udpdrop.ovs_sockdrop", "ovs-vswitchd AF_PACKET socket drops (ss -0 skmem d)"),
    ("ovs_rx", "udpdrop.ovs_rx", "OVS datapath packets received (all ports)"),
    ("upcall_ok", "udpdrop.upcall_ok", "OVS upcalls ok"),
    ("upcall_fail", "udpdrop.upcall_fail", "OVS upcalls failed"),
    ("pin_overflow", "udpdrop.pin_overflow", "OVS packet_in_overflow (packet-in queue full)"),
    ("rconn_overflow", "udpdrop.rconn_overflow", "OVS rconn_overflow (OpenFlow send queue full)"),
    ("rconn_sent", "udpdrop.rconn_sent", "OVS rconn_sent (OpenFlow messages sent)"),
    ("tapd_pin", "udpdrop.tapd_pin", "tapflowd PACKET_IN received"),
    ("tapd_to_tap", "udpdrop.tapd_to_tap", "tapflowd frames written to the TAP"),
    ("tapd_drop_tap_busy", "udpdrop.tapd_drop_tap_busy", "tapflowd drops: tap_busy"),
    ("tapd_drop_tap_error", "udpdrop.tapd_drop_tap_error", "tapflowd drops: tap_error"),
    ("tapd_drop_truncated", "udpdrop.tapd_drop_truncated", "tapflowd drops: truncated"),
    ("tapd_drop_switch_down", "udpdrop.tapd_drop_switch_down", "tapflowd drops: switch_down"),
    ("tapd_drop_send_error", "udpdrop.tapd_drop_send_error", "tapflowd drops: send_error"),
    ("p2_txdrop", "udpdrop.p2_txdrop", "lab p2 tx dropped (OVS -> h2)"),
    ("srv_rx", "udpdrop.srv_rx", "server's interface rx packets (tapd: TAP eth1; others: h2 eth0)"),
    ("srv_rxdrop", "udpdrop.srv_rxdrop", "server's interface rx dropped"),
    ("softnet_drop", "udpdrop.softnet_drop", "softnet_stat dropped (backlog full, all CPUs)"),
    ("ip_indiscards", "udpdrop.ip_indiscards", "server namespace IpInDiscards"),
    ("udp_in", "udpdrop.udp_in", "server namespace UdpInDatagrams"),
    ("udp_rcvbuf_err", "udpdrop.udp_rcvbuf_err", "server namespace UdpRcvbufErrors (socket buffer full)"),
    ("udp_in_err", "udpdrop.udp_in_err", "server namespace UdpInErrors"),
]


def drop_table(rounds, shown, g):
    """Where the UDP packets went: every drop point's delta over the UDP run."""
    if not any(f"{cfg}.udpdrop.h1_tx" in r for r in rounds for cfg in shown):
        return []
    out = ["UDP packet accounting: counters along the path, deltas over the UDP run "
           "(median over the rounds; '-': not on this configuration's path). OVS coverage "
           "counters (packet_in_overflow, rconn_*) are summed by OVS about once a second, so "
           "they lag; the others are exact.", "",
           "| counter | " + " | ".join(shown) + " |", "|---|" + "---:|" * len(shown)]
    extra = sorted({k.split(".udpdrop.", 1)[1] for r in rounds for k in r
                    if ".udpdrop.cov_" in k})
    rows = DROP_ROWS + [(e, f"udpdrop.{e}", f"OVS coverage {e[4:]}") for e in extra]
    for _, key, label in rows:
        vals = [g(cfg, key) for cfg in shown]
        if all(v is None for v in vals):
            continue
        fmt = "{:.2f}" if key == "udp.load1" else "{:.0f}"
        out.append(f"| {label} | " + " | ".join(num(v, fmt) for v in vals) + " |")
    # The biggest loss between two consecutive points, per configuration.
    out.append("")
    for cfg in shown:
        sent, got = g(cfg, "udpdrop.h1_tx"), g(cfg, "udpdrop.udp_in")
        if sent is None or got is None:
            continue
        cands = {name: g(cfg, f"udpdrop.{name}") or 0 for name, _, _ in rows
                 if name not in ("load1", "udp.tx_pps", "udp.rx_pps", "h1_tx", "p1_rx", "ovs_rx",
                                 "upcall_ok", "rconn_sent", "tapd_pin", "tapd_to_tap", "srv_rx",
                                 "udp_in", "tapd_to_switch", "tapd_read_pauses",
                                 # Not a loss: OVS 3.1's netdev datapath counts
                                 # every packet its controller action sent up
                                 # (equals rconn_sent; every packet the datapath
                                 # received reached the controller and beyond).
                                 "cov_datapath_drop_userspace_action_error",
                                 "udp_in_err")}  # includes udp_rcvbuf_err
        top = sorted(cands.items(), key=lambda kv_: -kv_[1])[:3]
        out.append(f"{cfg}: h1 sent {sent:.0f}, server socket got {got:.0f} "
                   f"({100.0 * (sent - got) / sent if sent else 0:.1f}% lost); biggest counted drops: "
                   + ", ".join(f"{k} {v:.0f}" for k, v in top) + ".  ")
    out.append("")
    return out


def cmd_report(meta_path, round_paths):
    """Markdown: per configuration the median of each figure over the rounds,
    then tapd against the hub and the targets, then every round's key figures."""
    meta = [l[1:].strip() for l in open(meta_path, encoding="utf-8") if l.startswith("#")]
    rounds = [read_round(p) for p in round_paths]
    n = len(rounds)

    def values(cfg, key):
        return [v for v in (fnum(r.get(f"{cfg}.{key}")) for r in rounds) if v is not None]

    def g(cfg, key):
        """Median over the rounds that have the figure (None if none has)."""
        v = values(cfg, key)
        return statistics.median(v) if v else None

    def failures(cfg, prefix):
        return sum(1 for r in rounds if f"{cfg}.{prefix}.error" in r)

    def ran(cfg):
        return any(f"{cfg}.ran" in r for r in rounds)

    def spread(cfg, key, fmt):
        v = values(cfg, key)
        if len(v) < 2:
            return ""
        return f" ({fmt.format(min(v))}..{fmt.format(max(v))})"

    def failed_note(cfg, prefix):
        k = failures(cfg, prefix)
        return f" [failed in {k}/{n} rounds]" if k else ""

    def sweep_rates():
        rates = set()
        for r in rounds:
            for k in r:
                m = re.match(r"^[a-z]+\.sweep(\d+)\.rx_pps$", k)
                if m:
                    rates.add(int(m.group(1)))
        return sorted(rates)

    rates = sweep_rates()
    run_keys = [f"sweep{p}" for p in rates] + ["udp"]

    # A configuration's packet rate in one round, kept as the round's
    # CFG.peak.rx_pps: the highest rate the server received over the sweep
    # and the unlimited run. g(), spread() and ratio_of() then serve it like
    # any measured figure.
    for r in rounds:
        for cfg, _ in CONFIGS:
            v = [x for x in (fnum(r.get(f"{cfg}.{k}.rx_pps")) for k in run_keys) if x is not None]
            if v:
                r[f"{cfg}.peak.rx_pps"] = str(max(v))

    def lossless(cfg):
        losses = {p: g(cfg, f"sweep{p}.loss_pct") for p in rates}
        ok = [p for p, loss in losses.items() if loss is not None and loss < 1.0]
        return max(ok) if ok else None

    base_med = g("baseline", "rtt.median_ms")
    out = [f"{m}  " for m in meta]
    out.append("")
    if n > 1:
        out.append(f"Each figure is the median of {n} rounds; in parentheses the range over the rounds.")
        out.append("")
    out.append("| configuration | packet rate, pkt/s | UDP rx pkt/s, unlimited sender | its loss "
               "| RTT median ms | RTT p99 ms "
               "| added RTT median / p99 ms | TCP Mbit/s | TCP retransmits | controller CPU UDP / TCP |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cfg, label in CONFIGS:
        if not ran(cfg):
            continue
        med, p99 = g(cfg, "rtt.median_ms"), g(cfg, "rtt.p99_ms")
        if cfg == "baseline" or base_med is None or med is None:
            added = "-"
        else:
            added = f"{med - base_med:+.3f} / {p99 - base_med:+.3f}"
        udp = num(g(cfg, "udp.rx_pps")) + spread(cfg, "udp.rx_pps", "{:.0f}") + failed_note(cfg, "udp")
        rtt_med = num(med, "{:.3f}") + spread(cfg, "rtt.median_ms", "{:.3f}")
        loss = g(cfg, "rtt.loss_pct")
        if loss:
            rtt_med += f" [{loss:.2f}% lost]"
        rtt_med += failed_note(cfg, "rtt")
        rtt_p99 = num(p99, "{:.3f}") + spread(cfg, "rtt.p99_ms", "{:.3f}")
        tcp = num(g(cfg, "tcp.mbps"), "{:.1f}") + spread(cfg, "tcp.mbps", "{:.0f}") + failed_note(cfg, "tcp")
        cpu = "-"
        if g(cfg, "udp.ctl_cpu") is not None:
            cpu = f"{num(g(cfg, 'udp.ctl_cpu'))}% / {num(g(cfg, 'tcp.ctl_cpu'))}%"
        out.append(f"| {label} | {num(g(cfg, 'peak.rx_pps'))}{spread(cfg, 'peak.rx_pps', '{:.0f}')} | {udp} | {num(g(cfg, 'udp.loss_pct'), '{:.1f}')}% "
                   f"| {rtt_med} | {rtt_p99} | {added} | {tcp} | {num(g(cfg, 'tcp.retransmits'))} | {cpu} |")
    out.append("")
    shown = [cfg for cfg, _ in CONFIGS if ran(cfg)]
    out.append("UDP offered load (pkt/s sent by the client): " + ", ".join(
        f"{cfg} {num(g(cfg, 'udp.tx_pps'))}" for cfg in shown) + ".  ")
    out.append("ovs-vswitchd CPU (share of one core) during UDP / TCP: " + ", ".join(
        f"{cfg} {num(g(cfg, 'udp.ovs_cpu'))}% / {num(g(cfg, 'tcp.ovs_cpu'))}%" for cfg in shown) + ".  ")
    out.append("Packet rate: the highest rate the server received at any offered load (the sweep and the "
               "unlimited run), median over the rounds.  ")
    if any(g(cfg, "noise.gaps100_per_s") is not None for cfg in shown):
        out.append("Machine noise right before each configuration's pings (a process spinning on each CPU "
                   "for 2 s; times per second and CPU it lost the CPU for > 0.1 ms / > 0.5 ms / > 1 ms, "
                   "the longest gap; median over the rounds): " + ", ".join(
                       f"{cfg} {num(g(cfg, 'noise.gaps100_per_s'), '{:.1f}')} / "
                       f"{num(g(cfg, 'noise.gaps500_per_s'), '{:.1f}')} / "
                       f"{num(g(cfg, 'noise.gaps1000_per_s'), '{:.1f}')}, "
                       f"{num(g(cfg, 'noise.max_gap_ms'), '{:.1f}')} ms" for cfg in shown) + ".  ")
    out.append("")
    if rates:
        out.append("UDP received pkt/s by offered load (median over the rounds; in brackets the loss):")
        out.append("")
        out.append("| offered | " + " | ".join(cfg for cfg in shown) + " |")
        out.append("|---|" + "---:|" * len(shown))
        for k, label in [(f"sweep{p}", f"{p} pkt/s") for p in rates] + [("udp", "unlimited (-b 0)")]:
            cells = []
            for cfg in shown:
                rx, loss = g(cfg, f"{k}.rx_pps"), g(cfg, f"{k}.loss_pct")
                cell = num(rx) + (f" [{loss:.1f}%]" if loss is not None else "")
                if k == "udp" and g(cfg, "udp.tx_pps") is not None:
                    cell += f" of {num(g(cfg, 'udp.tx_pps'))}"
                cells.append(cell + failed_note(cfg, k))
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
        out.append("Highest offered rate carried with under 1% loss (RFC 2544 style, median loss): " + ", ".join(
            f"{cfg} {num(lossless(cfg))} pkt/s" for cfg in shown) + ".  ")
        out.append("")
    out.extend(drop_table(rounds, shown, g))
    if ran("hub"):
        out.append(f"Flows the hub installed: {num(g('hub', 'table.flows'))} (0: every packet took the slow path).  ")
    if ran("tapd"):
        bad = [r.get("tapd.exit.status") for r in rounds if r.get("tapd.exit.status", "0") != "0"]
        out.append(f"tapflowd exit status on SIGTERM: {'0 in every round' if not bad else 'non-zero: ' + ', '.join(bad)}.  ")
    out.append("")

    def diff(r, a, b):
        x, y = fnum(r.get(a)), fnum(r.get(b))
        return x - y if x is not None and y is not None else None

    def added_p99(r):
        return diff(r, "tapd.rtt.p99_ms", "baseline.rtt.median_ms")

    def ratio_of(r, key):
        a, b = fnum(r.get(f"tapd.{key}")), fnum(r.get(f"hub.{key}"))
        return a / b if a is not None and b else None

    # Targets on the medians; the ratios are medians of per-round ratios (the
    # two configurations of one round ran a few seconds apart).
    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    pps_ratio = med([ratio_of(r, "peak.rx_pps") for r in rounds])
    overload_ratio = med([ratio_of(r, "udp.rx_pps") for r in rounds])
    tcp_ratio = med([ratio_of(r, "tcp.mbps") for r in rounds])
    t_tcp = g("tapd", "tcp.mbps")
    t_added = med([added_p99(r) for r in rounds])
    h_added = med([diff(r, "hub.rtt.p99_ms", "baseline.rtt.median_ms") for r in rounds])
    t_over_tail = med([diff(r, "tapd.rtt.p99_ms", "baseline.rtt.p99_ms") for r in rounds])

    def verdict(value, ok):
        return "-" if value is None else ("**met**" if ok(value) else "**MISSED**")

    out.append("| tapd | value | target | result |")
    out.append("|---|---:|---:|---|")
    out.append(f"| packet rate, tapd / hub | {num(pps_ratio, '{:.2f}')} | >= {TARGET_PPS_RATIO:.2f} "
               f"| {verdict(pps_ratio, lambda v: v >= TARGET_PPS_RATIO)} |")
    out.append(f"| TCP through tapd, Mbit/s | {num(t_tcp, '{:.1f}')} | >= {TARGET_TCP_MBPS:.0f} "
               f"| {verdict(t_tcp, lambda v: v >= TARGET_TCP_MBPS)} |")
    out.append(f"| p99 added RTT, ms (tapd p99 - baseline median) | {num(t_added, '{:.3f}')} "
               f"| < {TARGET_P99_ADDED_MS:.1f} | {verdict(t_added, lambda v: v < TARGET_P99_ADDED_MS)} |")
    out.append(f"| (packet rate under overload, unlimited sender, tapd / hub) | {num(overload_ratio, '{:.2f}')} | - | - |")
    lt, lh = lossless("tapd"), lossless("hub")
    out.append(f"| (highest offered rate with < 1% loss, tapd / hub) "
               f"| {num(lt / lh if lt and lh else None, '{:.2f}')} | - | - |")
    out.append(f"| TCP, tapd / hub | {num(tcp_ratio, '{:.2f}')} | - | - |")
    out.append(f"| (the hub's p99 added RTT, ms) | {num(h_added, '{:.3f}')} | - | - |")
    out.append(f"| (tapd p99 - baseline p99, ms: the slow path's p99 over the datapath's own) "
               f"| {num(t_over_tail, '{:.3f}')} | - | - |")
    out.append("")
    if n > 1:
        out.append("Per round (tapd/hub packet rate, tapd TCP Mbit/s, tapd p99 added RTT ms): " + "; ".join(
            f"{i + 1}: {num(ratio_of(r, 'peak.rx_pps'), '{:.2f}')}, {num(fnum(r.get('tapd.tcp.mbps')), '{:.0f}')}, "
            f"{num(added_p99(r), '{:.3f}')}" for i, r in enumerate(rounds)) + ".  ")
    out.append("Reference: a POX/PyTap TAP router (2012) managed about 4 Mbit/s and 1-50 ms latency.")
    print("\n".join(out))


ONE_ARGUMENT = {"rtt": cmd_rtt, "udp": cmd_udp, "tcp": cmd_tcp, "jitter": cmd_jitter, "trace": cmd_trace}


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "report":
        cmd_report(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "drops":
        cmd_drops(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] in ONE_ARGUMENT:
        ONE_ARGUMENT[sys.argv[1]](sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
