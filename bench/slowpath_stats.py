#!/usr/bin/env python3
"""Parsing and reporting for bench/run_slowpath_bench.sh.

  slowpath_stats.py rtt FILE        ping output (per-packet lines) -> key=value
  slowpath_stats.py udp FILE        iperf3 -u -J (client side, with the receiver report) -> key=value
  slowpath_stats.py tcp FILE        iperf3 -J (TCP) -> key=value
  slowpath_stats.py report META ROUND...
                                    META (# lines: the header) and one file of
                                    config.key=value lines per round -> markdown

The key=value lines go to stdout, one line, for the shell to keep; errors
(an iperf3 error, no replies at all) exit 1 with the reason on stderr.
"""
import json
import math
import re
import statistics
import sys


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

    base_med = g("baseline", "rtt.median_ms")
    out = [f"{m}  " for m in meta]
    out.append("")
    if n > 1:
        out.append(f"Each figure is the median of {n} rounds; in parentheses the range over the rounds.")
        out.append("")
    out.append("| configuration | UDP rx pkt/s | UDP loss | RTT median ms | RTT p99 ms "
               "| added RTT median / p99 ms | TCP Mbit/s | TCP retransmits | controller CPU UDP / TCP |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
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
        out.append(f"| {label} | {udp} | {num(g(cfg, 'udp.loss_pct'), '{:.1f}')}% "
                   f"| {rtt_med} | {rtt_p99} | {added} | {tcp} | {num(g(cfg, 'tcp.retransmits'))} | {cpu} |")
    out.append("")
    shown = [cfg for cfg, _ in CONFIGS if ran(cfg)]
    out.append("UDP offered load (pkt/s sent by the client): " + ", ".join(
        f"{cfg} {num(g(cfg, 'udp.tx_pps'))}" for cfg in shown) + ".  ")
    out.append("ovs-vswitchd CPU (share of one core) during UDP / TCP: " + ", ".join(
        f"{cfg} {num(g(cfg, 'udp.ovs_cpu'))}% / {num(g(cfg, 'tcp.ovs_cpu'))}%" for cfg in shown) + ".  ")
    if ran("hub"):
        out.append(f"Flows the hub installed: {num(g('hub', 'table.flows'))} (0: every packet took the slow path).  ")
    if ran("tapd"):
        bad = [r.get("tapd.exit.status") for r in rounds if r.get("tapd.exit.status", "0") != "0"]
        out.append(f"tapflowd exit status on SIGTERM: {'0 in every round' if not bad else 'non-zero: ' + ', '.join(bad)}.  ")
    out.append("")

    def added_p99(r):
        b, p = fnum(r.get("baseline.rtt.median_ms")), fnum(r.get("tapd.rtt.p99_ms"))
        return p - b if b is not None and p is not None else None

    def ratio_of(r, key):
        a, b = fnum(r.get(f"tapd.{key}")), fnum(r.get(f"hub.{key}"))
        return a / b if a is not None and b else None

    # Targets on the medians; the ratios are medians of per-round ratios (the
    # two configurations of one round ran a few seconds apart).
    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    pps_ratio = med([ratio_of(r, "udp.rx_pps") for r in rounds])
    tcp_ratio = med([ratio_of(r, "tcp.mbps") for r in rounds])
    t_tcp = g("tapd", "tcp.mbps")
    t_added = med([added_p99(r) for r in rounds])
    h_added = med([(fnum(r.get("hub.rtt.p99_ms")) - fnum(r.get("baseline.rtt.median_ms")))
                   if fnum(r.get("hub.rtt.p99_ms")) is not None and fnum(r.get("baseline.rtt.median_ms")) is not None
                   else None for r in rounds])

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
    out.append(f"| TCP, tapd / hub | {num(tcp_ratio, '{:.2f}')} | - | - |")
    out.append(f"| (the hub's p99 added RTT, ms) | {num(h_added, '{:.3f}')} | - | - |")
    out.append("")
    if n > 1:
        out.append("Per round (tapd/hub packet rate, tapd TCP Mbit/s, tapd p99 added RTT ms): " + "; ".join(
            f"{i + 1}: {num(ratio_of(r, 'udp.rx_pps'), '{:.2f}')}, {num(fnum(r.get('tapd.tcp.mbps')), '{:.0f}')}, "
            f"{num(added_p99(r), '{:.3f}')}" for i, r in enumerate(rounds)) + ".  ")
    out.append("Reference: a POX/PyTap TAP router (2012) managed about 4 Mbit/s and 1-50 ms latency.")
    print("\n".join(out))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "report":
        cmd_report(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] in ("rtt", "udp", "tcp"):
        {"rtt": cmd_rtt, "udp": cmd_udp, "tcp": cmd_tcp}[sys.argv[1]](sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
