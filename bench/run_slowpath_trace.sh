#!/usr/bin/env bash
# Where a ping through tapd spends its time: the slow-path round trip split
# into segments, per packet, from packet captures along the path.
#
# The lab of run_slowpath_bench.sh's tapd configuration (slowpath_lab.sh): one private OVS
# (userspace datapath), bridge br0, host h1 (10.0.1.10) on port p1, tapflowd's
# router app with TAP eth1 (10.0.1.1/24) for p1 in namespace r1. While h1
# pings 10.0.1.1, tcpdump records (kernel timestamps, one clock) on
#   p1   the switch port, OVS's side of h1's veth: the echo request arriving,
#        the reply leaving;
#   lo   of the lab namespace, the OpenFlow connection: the PACKET_IN
#        carrying the request, the PACKET_OUT carrying the reply;
#   eth1 the TAP in r1: the request written by tapflowd, the kernel's reply.
# slowpath_stats.py trace turns them into five segments per echo:
#   ovs_in     p1 request   -> PACKET_IN on the wire   (OVS: wake-up, upcall, packet-in)
#   ctl_in     PACKET_IN    -> request on the TAP      (tapflowd: wake-up, read, write)
#   kernel     request      -> reply on the TAP        (the namespace's kernel)
#   ctl_out    reply on TAP -> PACKET_OUT on the wire  (tapflowd: read, encode, send)
#   ovs_out    PACKET_OUT   -> reply leaving p1        (OVS: wake-up, execute)
# and prints their median, p99 and max and the slowest echoes broken down.
# The captures cost CPU themselves (three tcpdumps on two cores): the
# segments show where the time goes, run_slowpath_bench.sh measures how much.
#
# Usage (as root): bench/run_slowpath_trace.sh [--build-dir DIR] [--count N]
#   --build-dir  tree with src/daemon/tapflowd (default build-bench).
#   --count      echoes (default 2000), every PING_INTERVAL (0.002 s), ping
#                at SCHED_IDLE as in run_slowpath_bench.sh.
# SYS_KEEP=1 keeps the temp dir with the captures.
# Needs root, openvswitch-switch, iproute2, tcpdump, iputils-ping,
# util-linux (chrt), python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# util-linux/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build="build-bench"
count=2000
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build=${1#*=}; shift ;;
    --count) count=${2:?--count needs a number}; shift 2 ;;
    --count=*) count=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "--count: a positive integer, not '$count'" >&2; exit 2; }
[[ $build == /* ]] || build=$root/$build
ping_interval=${PING_INTERVAL:-0.002}
TAPFLOWD=$build/src/daemon/tapflowd
if [[ ! -x $TAPFLOWD ]]; then
  echo "$TAPFLOWD not found: build it as bench/run_slowpath_bench.sh says." >&2
  exit 1
fi

# shellcheck source=../tests/system/lib/harness.sh
source "$root/tests/system/lib/harness.sh"
# shellcheck source=slowpath_lab.sh
source "$here/slowpath_lab.sh"

sys_init slowpath_trace
sys_require tcpdump chrt
slowpath_lab_start
tapd_start tapflowd
sys_ns h1 ping -n -q -c 20 -i 0.01 -W 1 "$ROUTER_IP" >/dev/null 2>&1 || true

cap=$SYS_DIR/capture
mkdir -p "$cap"
chmod 777 "$cap"  # tcpdump drops to its own user before writing
sys_daemon_start tcpdump-p1 lab 'listening on' 10 \
  tcpdump -n -i p1 -s 200 --time-stamp-precision=nano -w "$cap/p1.pcap" icmp
sys_daemon_start tcpdump-lo lab 'listening on' 10 \
  tcpdump -n -i lo -s 300 --time-stamp-precision=nano -w "$cap/lo.pcap" "tcp port $TAPD_PORT"
sys_daemon_start tcpdump-tap r1 'listening on' 10 \
  tcpdump -n -i eth1 -s 200 --time-stamp-precision=nano -w "$cap/tap.pcap" icmp

sys_step "ping -c $count -i $ping_interval $ROUTER_IP (SCHED_IDLE), captured on p1, lo and eth1"
sys_ns h1 chrt --idle 0 ping -n -c "$count" -i "$ping_interval" -W 1 "$ROUTER_IP" >"$cap/ping.txt" 2>&1 || true
sleep 0.5
for d in tcpdump-p1 tcpdump-lo tcpdump-tap; do
  pid=$(sys_daemon_pid "$d")
  kill -INT "$pid"
  sys_wait_gone "$pid" 10 || sys_kill_pid "$pid" 2
done
sys_del_controller br0
sys_daemon_stop tapflowd

python3 "$here/slowpath_stats.py" trace "$cap"
sys_pass
