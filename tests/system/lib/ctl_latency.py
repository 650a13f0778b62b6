#!/usr/bin/env python3
"""Latency of routing-protocol frames from a TAP to the wire after the switch.

    ctl_latency.py --tap TAP.pcap --wire WIRE.pcap --src 10.0.2.1 \
                   [--from EPOCH_S] [--to EPOCH_S] [--json OUT.json]

TAP.pcap is captured on the router's TAP (the frames its kernel hands to
tapflowd), WIRE.pcap on the far side of the switch port (the neighbour's
interface); both Ethernet, pcap with micro- or nanosecond timestamps (one
clock: one machine). Only IPv4 frames from --src count:

  bfd        UDP to port 3784 (BFD control). Their BFD headers repeat from
             one packet to the next (no sequence number); the key is (source
             port, IP id, UDP payload), and Linux numbers the IP ids of the
             BFD socket one by one, so each key is one packet. Were ids
             repeated (0), packets of one key are matched by order: the path
             is FIFO (tapflowd's control queue, one OpenFlow connection, one
             switch port). If a kind has fewer packets on the wire than on the TAP
             (a drop), order cannot tell which one went: the tool then pairs
             each wire packet with the nearest TAP packet before it (a lower
             bound for that packet) and says so (`ambiguous`).
  keepalive  TCP segments (port 179) whose payload holds a BGP KEEPALIVE
             (19-byte message of type 4); matched one to one by (ports, TCP
             sequence number, payload length), retransmissions in order.

Only TAP packets sent within [--from, --to] (if given) are counted; a TAP
packet in the window with no wire packet is `lost`. Prints one line per kind
(count, lost, p50/p99/max in ms), and one for both together (`all`), and writes the figures as JSON to --json.

The other direction (the neighbour's frames, switch port -> TAP): give the
neighbour's capture as --tap and the TAP's as --wire, and its address as
--src. --gaps N also prints the N longest silences between consecutive BFD
packets of --src in each capture (the sender's and the receiver's side):
a BFD session goes down after its detection time without a packet, and the
two lists tell whether the sender fell silent or the path held them.
--intervals prints (and writes to --json as sender_intervals) the intervals
between the sender's BFD packets within the window, where they leave it:
its own lateness, before any switch.
"""
import argparse
import json
import struct
import sys
import time

BFD_PORT = 3784
BGP_PORT = 179


def read_pcap(path):
    """Yields (time_s float, frame bytes) of a classic pcap file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        else:
            magic = struct.unpack(">I", head[:4])[0]
            if magic not in (0xA1B2C3D4, 0xA1B23C4D):
                raise SystemExit("%s: not a pcap file (magic %08x)" % (path, magic))
            endian = ">"
        nano = magic == 0xA1B23C4D
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        if linktype != 1:
            raise SystemExit("%s: link type %d, not Ethernet" % (path, linktype))
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, _orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / (1e9 if nano else 1e6), data


def packets(path, src):
    """(kind, key, time) of the frames from src: kind bfd or keepalive."""
    out = []
    for t, fr in read_pcap(path):
        if len(fr) < 34:
            continue
        etype = struct.unpack("!H", fr[12:14])[0]
        off = 14
        if etype == 0x8100:
            etype = struct.unpack("!H", fr[16:18])[0]
            off = 18
        if etype != 0x0800:
            continue
        ip = fr[off:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        ident = struct.unpack("!H", ip[4:6])[0]
        proto = ip[9]
        if ".".join(str(b) for b in ip[12:16]) != src:
            continue
        l4 = ip[ihl:total]
        if proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack("!HH", l4[:4])
            if dport == BFD_PORT:
                out.append(("bfd", (sport, ident, bytes(l4[8:])), t))
        elif proto == 6 and len(l4) >= 20:
            sport, dport, seq = struct.unpack("!HHI", l4[:8])
            if BGP_PORT not in (sport, dport):
                continue
            doff = (l4[12] >> 4) * 4
            payload = l4[doff:]
            # The BGP messages of the segment (a segment starting mid-message
            # is not parsed: keepalives go out alone, at a message boundary).
            i, keepalive = 0, False
            while i + 19 <= len(payload) and payload[i:i + 16] == b"\xff" * 16:
                mlen, mtype = struct.unpack("!HB", payload[i + 16:i + 19])
                if mlen == 19 and mtype == 4:
                    keepalive = True
                if mlen < 19:
                    break
                i += mlen
            if keepalive:
                out.append(("keepalive", (sport, dport, seq, len(payload)), t))
    return out


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def match(tap, wire):
    """tap, wire: lists of (key, time) in capture order. Returns (pairs of
    (tap_time, latency or None), ambiguous)."""
    by_key_tap, by_key_wire = {}, {}
    for key, t in tap:
        by_key_tap.setdefault(key, []).append(t)
    for key, t in wire:
        by_key_wire.setdefault(key, []).append(t)
    result, ambiguous = [], False
    for key, ts in by_key_tap.items():
        ws = by_key_wire.get(key, [])
        if len(ws) >= len(ts):
            # FIFO: the i-th on the TAP is the i-th on the wire (a surplus on
            # the wire would be from before the TAP capture started: the last
            # len(ts) are the ones).
            ws = ws[len(ws) - len(ts):]
            result.extend((t, w - t) for t, w in zip(ts, ws))
            continue
        ambiguous = True
        used = set()
        j = 0
        pairs = {}
        for w in ws:
            # The nearest TAP packet sent before w not matched yet.
            while j + 1 < len(ts) and ts[j + 1] <= w:
                j += 1
            k = j
            while k >= 0 and (k in used or ts[k] > w):
                k -= 1
            if k >= 0:
                used.add(k)
                pairs[k] = w - ts[k]
        result.extend((t, pairs.get(i)) for i, t in enumerate(ts))
    result.sort()
    return result, ambiguous


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--wire", required=True)
    ap.add_argument("--src", required=True, help="IPv4 source of the router's frames")
    ap.add_argument("--from", dest="t_from", type=float, default=None)
    ap.add_argument("--to", dest="t_to", type=float, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--gaps", type=int, default=0, help="print the N longest BFD silences of each capture")
    ap.add_argument("--intervals", action="store_true",
                    help="print the sender's BFD intervals (--tap, within the window) and write them to --json")
    args = ap.parse_args()
    tap = packets(args.tap, args.src)
    wire = packets(args.wire, args.src)
    report = {}
    matched = {}
    for kind in ("bfd", "keepalive"):
        matched[kind] = match([(k, t) for kk, k, t in tap if kk == kind],
                              [(k, t) for kk, k, t in wire if kk == kind])
    # Both kinds together: every routing frame r1 sent.
    matched["all"] = (sorted(matched["bfd"][0] + matched["keepalive"][0]),
                      matched["bfd"][1] or matched["keepalive"][1])
    for kind in ("bfd", "keepalive", "all"):
        pairs, ambiguous = matched[kind]
        win = [(t, lat) for t, lat in pairs
               if (args.t_from is None or t >= args.t_from) and (args.t_to is None or t <= args.t_to)]
        lats = sorted(lat for _, lat in win if lat is not None)
        worst = max(((lat, t) for t, lat in win if lat is not None), default=(None, None))
        r = {
            "tap_total": sum(1 for kk, _, _ in tap if kind in (kk, "all")),
            "wire_total": sum(1 for kk, _, _ in wire if kind in (kk, "all")),
            "count": len(win),
            "matched": len(lats),
            "lost": sum(1 for _, lat in win if lat is None),
            "ambiguous": ambiguous,
            "p50_ms": None if not lats else percentile(lats, 50) * 1e3,
            "p99_ms": None if not lats else percentile(lats, 99) * 1e3,
            "max_ms": None if not lats else lats[-1] * 1e3,
            "max_at": worst[1],
            "negative": sum(1 for x in lats if x < 0),
        }
        report[kind] = r
        fmt = lambda v: "-" if v is None else "%.3f" % v
        print("%-9s %4d in the window (%d on the TAP, %d on the wire in all), %d matched, %d lost%s:"
              " p50 %s ms, p99 %s ms, max %s ms"
              % (kind, r["count"], r["tap_total"], r["wire_total"], r["matched"], r["lost"],
                 " (drops: matched to the nearest earlier TAP packet)" if ambiguous else "",
                 fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["max_ms"])))
    if args.intervals:
        # The sender's own pace, before any switch: its BFD packets one after
        # the other as captured where they leave it. BFD spaces them 75-100%
        # of the interval (RFC 5880 6.8.7): anything longer is the sender
        # late, a baseline of the machine's scheduling delays in this run.
        ts = [t for kk, _, t in tap if kk == "bfd"
              and (args.t_from is None or t >= args.t_from) and (args.t_to is None or t <= args.t_to)]
        iv = sorted((b - a) * 1e3 for a, b in zip(ts, ts[1:]))
        report["sender_intervals"] = None if not iv else {
            "n": len(iv), "p50_ms": percentile(iv, 50), "p99_ms": percentile(iv, 99), "max_ms": iv[-1]}
        if iv:
            print("sender    %d BFD intervals at the sender: p50 %.3f ms, p99 %.3f ms, max %.3f ms"
                  % (len(iv), percentile(iv, 50), percentile(iv, 99), iv[-1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f)
    for name, caps in (("sent (--tap)", tap), ("received (--wire)", wire)):
        if args.gaps <= 0:
            break
        # Packets that say Up only (state, the top two bits of the second
        # byte of the BFD header): a session's slow Down/Init packets after
        # a flap would fill the list otherwise. The silence that took a
        # session down is the one from its last Up packet on.
        ts = [t for kk, k, t in caps if kk == "bfd" and len(k[2]) > 1 and k[2][1] >> 6 == 3]
        gaps = sorted(((b - a, a) for a, b in zip(ts, ts[1:])), reverse=True)[:args.gaps]
        print("longest BFD silences between Up packets, %s: %s" % (name, ", ".join(
            "%.1f ms after %s" % (g * 1e3, time.strftime("%H:%M:%S", time.localtime(t)) + ("%.3f" % (t % 1))[1:])
            for g, t in gaps) or "no BFD packets"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
