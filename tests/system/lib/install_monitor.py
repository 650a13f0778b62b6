#!/usr/bin/env python3
"""Samples a full-table install without loading the machine it measures.

    install_monitor.py --router-pid PID --metrics-port PORT --dpid DPID
                       --of-port PORT --kernel-target N
                       --samples FILE --latest FILE [--interval S]

Run it in the lab's network namespace (tapflowd's and Open vSwitch's).

One process for the whole install, in place of a shell loop that spawned a
dozen processes (ip netns exec, curl, awk, ss) ten times a second: on a
2-core machine that loop took a third of a core from the routers, Open
vSwitch and tapflowd while a BFD session at 100 ms x 3 was measured.

Every --interval (0.1 s) it reads, in process:
  - tapflowd's metrics of --dpid (HTTP to 127.0.0.1:PORT);
  - the OpenFlow connection's socket queues (/proc/self/net/tcp):
    bytes Open vSwitch has not read yet, bytes tapflowd sent and not acked.
The router namespace's kernel prefix count (/proc/ROUTER_PID/net/fib_triestat,
Main table) costs the kernel a walk of the whole FIB (some 80 ms at 1M
routes), so it is read every 0.5 s, every 0.1 s from 94% of --kernel-target
until it is reached, and every 2 s after.

Each sample is a line appended to --samples:
  time_us kernel_prefixes kernel_time_us routes flows_wanted switch_flows
  withheld programming ovs_unread tapflowd_unsent
(kernel_time_us: when that kernel count was read). The newest line is also
written to --latest (replaced atomically), for the test's loop to read with
a shell builtin. Runs until SIGTERM or SIGINT.
"""
import argparse
import http.client
import os
import signal
import sys
import time

def kernel_prefixes(pid):
    try:
        with open("/proc/%d/net/fib_triestat" % pid) as f:
            main = False
            for line in f:
                if line.startswith("Main:"):
                    main = True
                elif main and "Prefixes:" in line:
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


WANTED = ("tapflow_fib_routes", "tapflow_fib_flows", "tapflow_fib_switch_flows",
          "tapflow_fib_withheld_flows", "tapflow_fib_programming")


def metrics(port, dpid):
    vals = dict.fromkeys(WANTED, 0)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode("utf-8", "replace")
        c.close()
    except (OSError, http.client.HTTPException):
        return None
    needle = 'dpid="%s"' % dpid
    for line in body.splitlines():
        if not line.startswith("tapflow_fib_") or needle not in line:
            continue
        name = line.split("{", 1)[0]
        if name in vals:
            try:
                vals[name] = int(float(line.rsplit(None, 1)[1]))
            except ValueError:
                pass
    return [vals[k] for k in WANTED]


def of_queues(port):
    """(OVS unread, tapflowd unsent) of the established connection to port."""
    ovs_unread = tapd_unsent = 0
    try:
        with open("/proc/self/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                if p[3] != "01":  # ESTABLISHED
                    continue
                lport = int(p[1].rsplit(":", 1)[1], 16)
                rport = int(p[2].rsplit(":", 1)[1], 16)
                tx, rx = (int(x, 16) for x in p[4].split(":"))
                if lport == port:
                    tapd_unsent = tx
                elif rport == port:
                    ovs_unread = rx
    except (OSError, ValueError, StopIteration):
        pass
    return ovs_unread, tapd_unsent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--router-pid", type=int, required=True, help="a process in the router namespace")
    ap.add_argument("--metrics-port", type=int, required=True)
    ap.add_argument("--dpid", required=True)
    ap.add_argument("--of-port", type=int, required=True)
    ap.add_argument("--kernel-target", type=int, required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--latest", required=True)
    ap.add_argument("--interval", type=float, default=0.1)
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    k, k_us, next_k = 0, 0, 0.0
    with open(a.samples, "a") as out:
        print("ready", flush=True)
        while not stop:
            t = time.time()
            if t >= next_k:
                v = kernel_prefixes(a.router_pid)
                if v is not None:
                    k, k_us = v, int(t * 1e6)
                if k >= a.kernel_target:
                    next_k = t + 2.0
                elif k >= 0.94 * a.kernel_target:
                    next_k = t
                else:
                    next_k = t + 0.5
            m = metrics(a.metrics_port, a.dpid) or [0] * len(WANTED)
            oq, tq = of_queues(a.of_port)
            line = " ".join(str(x) for x in [int(t * 1e6), k, k_us] + m + [oq, tq])
            out.write(line + "\n")
            out.flush()
            tmp = a.latest + ".tmp"
            with open(tmp, "w") as f:
                f.write(line + "\n")
            os.replace(tmp, a.latest)
            time.sleep(max(0.0, a.interval - (time.time() - t)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
