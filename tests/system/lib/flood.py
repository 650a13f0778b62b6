#!/usr/bin/env python3
"""A bounded frame flood for the control-plane tests (punt_storm_test,
bench/run_punt_storm_bench.sh): raw Ethernet frames out of one interface
through an AF_PACKET socket, as fast as one core sends them (about 150k
small frames/s here) or paced at --rate, until --seconds or --count is
reached; then it stops by itself and prints one line of JSON with what it
sent. Run it inside a test namespace (ip netns exec): the frames stay there.

Kinds (--kind, repeatable; frames of the kinds alternate):
  arp  ARP requests "who has TARGET" from this interface's MAC and --src-ip,
       to the broadcast MAC (as real ARP requests are), so a Linux bridge
       floods them to every port of its LAN;
  udp  IPv4/UDP to TARGET at --dst-mac (the router's MAC on this link), from
       --src-ip, source ports cycling over 1024..65535 so no cache in the
       path sees one flow, destination port --udp-port, 18 bytes of payload.

  flood.py --iface eth0 --target 10.0.2.1 --dst-mac 02:.. --src-ip 10.0.2.66 \
           --kind arp --kind udp --seconds 60 [--rate 30000] [--count N]

Output (stdout, one line): {"sent": N, "arp": N, "udp": N, "errors": N,
"seconds": S, "rate": N/S, "target_rate": R or 0}. Errors are sends the
kernel refused (ENOBUFS): counted, not fatal. Exit 0 unless it could not
start (bad arguments, no interface, no permission).
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise argparse.ArgumentTypeError("not a MAC: %s" % text)
    return bytes(int(p, 16) for p in parts)


def ip_checksum(header):
    s = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def arp_request(src_mac, src_ip, target_ip):
    eth = b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1) + src_mac + src_ip + b"\x00" * 6 + target_ip
    return eth + arp + b"\x00" * 18  # padded to the 60-byte minimum


def udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport):
    payload = b"tapflow punt storm"
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
                     src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--target", required=True, help="the router's IPv4 address on this link")
    ap.add_argument("--dst-mac", type=mac_bytes, help="the router's MAC on this link (udp)")
    ap.add_argument("--src-ip", required=True, help="the flooder's IPv4 address")
    ap.add_argument("--kind", action="append", choices=["arp", "udp"], help="default: arp and udp")
    ap.add_argument("--udp-port", type=int, default=9)
    ap.add_argument("--seconds", type=float, required=True, help="stop after this long (required bound)")
    ap.add_argument("--count", type=int, default=100_000_000, help="stop after this many frames")
    ap.add_argument("--rate", type=float, default=0, help="frames/s to aim at (0: as fast as possible)")
    a = ap.parse_args()
    kinds = a.kind or ["arp", "udp"]
    if "udp" in kinds and a.dst_mac is None:
        ap.error("--kind udp needs --dst-mac")
    if a.seconds <= 0 or a.seconds > 3600 or a.count <= 0:
        ap.error("--seconds must be in (0, 3600], --count > 0")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((a.iface, 0))
    with open("/sys/class/net/%s/address" % a.iface) as f:
        src_mac = mac_bytes(f.read().strip())
    src_ip, dst_ip = socket.inet_aton(a.src_ip), socket.inet_aton(a.target)

    # Prebuilt frames, cycled: sending is then one syscall per frame.
    frames, kind_of = [], []
    n_udp = 256
    for i in range(n_udp):
        for k in kinds:
            if k == "arp":
                frames.append(arp_request(src_mac, src_ip, dst_ip))
            else:
                frames.append(udp_frame(src_mac, a.dst_mac, src_ip, dst_ip, 1024 + (i * 251) % 64512, a.udp_port))
            kind_of.append(k)
    n = len(frames)
    per_kind = {k: 0 for k in ("arp", "udp")}
    counts = [0] * n

    send = s.send
    sent = errors = 0
    batch = 64 if a.rate == 0 else max(1, min(256, int(a.rate / 2000)))
    t0 = time.monotonic()
    deadline = t0 + a.seconds
    i = 0
    while sent + errors < a.count:
        now = time.monotonic()
        if now >= deadline:
            break
        if a.rate > 0:
            # Paced: the frames due by now, in batches (a sleep is ~60 us here).
            due = int((now - t0) * a.rate)
            if sent + errors >= due:
                time.sleep(min(batch / a.rate, deadline - now))
                continue
        for _ in range(min(batch, a.count - sent - errors)):
            try:
                send(frames[i])
                counts[i] += 1
                sent += 1
            except OSError:
                errors += 1
            i += 1
            if i == n:
                i = 0
    elapsed = time.monotonic() - t0
    for j, c in enumerate(counts):
        per_kind[kind_of[j]] += c
    print(json.dumps({"sent": sent, "arp": per_kind["arp"], "udp": per_kind["udp"], "errors": errors,
                      "seconds": round(elapsed, 3), "rate": int(sent / elapsed) if elapsed > 0 else 0,
                      "target_rate": a.rate}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
