#!/usr/bin/env bash
# Slow-path benchmark, one run: tapd (tapflowd --app router: PACKET_IN -> TAP,
# TAP -> PACKET_OUT) beside a plain C hub controller through the same Open
# vSwitch, with the datapath's own figures as the baseline (the issue's
# slow-path figures: packet rate, ping RTT median/p99, iperf3 TCP).
#
# One private OVS (userspace datapath, tests/system/lib/harness.sh), bridge
# br0 (OpenFlow10,OpenFlow13, dpid 1), host h1 (10.0.1.10) on port p1 and h2
# (10.0.1.20) on port p2, each on a veth. Three configurations, back to back:
#   baseline  no controller; ovs-ofctl flows p1 <-> p2; traffic h1 -> h2.
#             The datapath's own RTT, from which "added RTT" is computed.
#   hub       ovs-testcontroller -H -n -O OpenFlow10: no flows, every packet
#             is a PACKET_IN answered by PACKET_OUT FLOOD; traffic h1 -> h2.
#   tapd      tapflowd router app (config below, OpenFlow 1.3): namespace r1
#             with TAP eth1 (10.0.1.1/24) for port p1; traffic h1 -> 10.0.1.1,
#             servers run in r1. Its punt flows send everything for 10.0.1.1
#             to the controller, so each frame is one PACKET_IN (to the TAP)
#             and each answer one PACKET_OUT, as through the hub.
# Per configuration, from h1:
#   RTT     ping -i PING_INTERVAL -c PING_COUNT (after 20 warm-up pings);
#           median and p99 of the per-packet times (nearest rank). ping runs
#           at SCHED_IDLE (chrt --idle): below a 10 ms interval iputils ping
#           busy-waits between echoes (measured: a whole core at -i 0.002),
#           and at normal priority that core is taken from the path it
#           measures (ovs-vswitchd, the controller, their softirqs) whenever
#           they wake on it. Its times stay exact: ping stamps the send just
#           before sendmsg and takes the receive time from the kernel
#           (SO_TIMESTAMP); being preempted can only add to them.
#   noise   right before the pings, one process spinning on each CPU for
#           2 s (slowpath_stats.py jitter): how often per second a running
#           thread lost its CPU for more than 0.1 / 0.5 / 1 ms, and the
#           longest such gap. On a VM this is mostly the host taking the vCPU
#           away; a round trip through OVS and a controller crosses both CPUs
#           several times and meets these gaps in its p99.
#   UDP     iperf3 -u -l UDP_LEN -t SECONDS at each offered rate of
#           UDP_SWEEP (packets/s, paced by iperf3 -b), then once with
#           -b UDP_RATE (default 0: as fast as the client can); packets/s
#           RECEIVED by the server (its own report, end.sum_received) and the
#           loss. A configuration's packet rate is the highest received rate
#           over all of them (the peak of its received-vs-offered curve): the
#           iperf3 client runs on the same two cores, and without pacing it
#           takes the CPU the path under test needs, so the unlimited run
#           alone measures how the scheduler splits the cores between sender
#           and path under overload (reported too, with the drop accounting),
#           not what the path can carry.
#   TCP     iperf3 -t SECONDS, one stream; Mbit/s received, retransmits.
# Also the controller's and ovs-vswitchd's CPU (share of one core, /proc)
# during the UDP and TCP runs.
# Prints a markdown table with tapd/hub ratios and the issue's targets (TCP
# through tapd >= 200 Mbit/s, p99 added RTT < 0.5 ms, packet rate >= 90% of
# the hub's) and writes it to bench/results/slowpath-DATE.md (untracked).
# A missed target is reported, not an error: the exit status is non-zero only
# when the benchmark could not run (setup failed, a tool is missing).
#
# Usage (as root): bench/run_slowpath_bench.sh [--build-dir DIR] [--seconds N]
#                    [--rounds N] [--only baseline,hub,tapd]
#   --build-dir  tree with src/daemon/tapflowd (default build-bench); this
#                script builds nothing: it says how when tapflowd is missing.
#   --seconds    length of each iperf3 run (default 5).
#   --rounds     rounds of baseline, hub, tapd (default 3; hub and tapd swap
#                places in even rounds); the table shows each figure's median
#                over the rounds and their range, so that other load on the
#                machine, which comes and goes, hits every configuration alike.
#   --only       measure only these configurations (default all three).
# Environment: PING_COUNT (3000), PING_INTERVAL (0.002), UDP_LEN (64 bytes of
#   payload), UDP_SWEEP (offered rates in packets/s, default
#   "20000 30000 40000 50000 60000"; empty: none), UDP_RATE (iperf3 -b of the
#   last UDP run, default 0 = as fast as the client can),
#   UDP_WINDOW (iperf3 -w for the UDP run, default 2M; empty: the kernel's
#   default, 208 KiB): the socket buffers of client and server, the same for
#   every configuration. With the kernel's default the iperf3 server's
#   receive buffer overflowed (UdpRcvbufErrors) far more behind tapd, whose
#   TAP writes deliver in bursts, than behind the hub, which measured the
#   server and not the slow path; the kernel caps it at net.core.rmem_max
#   (the header says when that is below the request),
#   BENCH_NICE (e.g. -10: run the whole benchmark, OVS and controllers
#   included, at that niceness, so that other work on a shared machine skews
#   it less; the table says so), SYS_KEEP=1 keeps the temp dir (logs, iperf3
#   JSON, ping output).
# Needs root, openvswitch-switch, openvswitch-testcontroller, iproute2,
# ethtool, iperf3, iputils-ping, util-linux (chrt), python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# ethtool, iperf3/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build="build-bench"
seconds=5
rounds=3
only="baseline,hub,tapd"
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build=${1#*=}; shift ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --rounds=*) rounds=${1#*=}; shift ;;
    --only) only=${2:?--only needs a list}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "--seconds: a positive integer, not '$seconds'" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "--rounds: a positive integer, not '$rounds'" >&2; exit 2; }
for c in ${only//,/ }; do
  [[ $c == baseline || $c == hub || $c == tapd ]] || { echo "--only: unknown configuration '$c'" >&2; exit 2; }
done
[[ $build == /* ]] || build=$root/$build
ping_count=${PING_COUNT:-3000}
ping_interval=${PING_INTERVAL:-0.002}
udp_len=${UDP_LEN:-64}
udp_rate=${UDP_RATE:-0}
udp_sweep=${UDP_SWEEP-20000 30000 40000 50000 60000}
for r in $udp_sweep; do
  [[ $r =~ ^[1-9][0-9]*$ ]] || { echo "UDP_SWEEP: packets/s as positive integers, not '$r'" >&2; exit 2; }
done
udp_window=${UDP_WINDOW-2M}
[[ -z $udp_window || $udp_window =~ ^[1-9][0-9]*[KM]?$ ]] || { echo "UDP_WINDOW: bytes with an optional K or M, not '$udp_window'" >&2; exit 2; }
udp_wopt=()
[[ -n $udp_window ]] && udp_wopt=(-w "$udp_window")
wants() { [[ ,$only, == *,$1,* ]]; }

TAPFLOWD=$build/src/daemon/tapflowd
if wants tapd && [[ ! -x $TAPFLOWD ]]; then
  cat >&2 <<EOF
$TAPFLOWD not found. Build it first (Release, as for the other benchmarks):
  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_WERROR=OFF
  cmake --build $build -j2 --target tapflowd
or measure without it: $0 --only baseline,hub
EOF
  exit 1
fi

# shellcheck source=../tests/system/lib/harness.sh
source "$root/tests/system/lib/harness.sh"
# shellcheck source=slowpath_lab.sh
source "$here/slowpath_lab.sh"
IPERF_PORT=5201
stats=$here/slowpath_stats.py
clk_tck=$(getconf CLK_TCK)

# ---------------------------------------------------------------- recording

# record CFG PREFIX "k=v k=v ..." : appends CFG.PREFIX.k=v lines to this
# round's results.
record() {
  local cfg=$1 prefix=$2 pair
  for pair in $3; do printf '%s.%s.%s\n' "$cfg" "$prefix" "$pair" >>"$RESULTS.r$ROUND"; done
}

# cpu_ticks PID : utime + stime of a process (0 if it is gone).
cpu_ticks() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  stat=${stat##*) }
  # After "comm)": state is field 3, utime 14, stime 15 of the full line.
  local -a fields
  read -r -a fields <<<"$stat"
  echo $(( fields[11] + fields[12] ))
}

# cpu_pct TICKS_BEFORE TICKS_AFTER USEC : share of one core in percent.
cpu_pct() {
  awk -v a="$1" -v b="$2" -v us="$3" -v hz="$clk_tck" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / (us / 1e6) }'
}

# ---------------------------------------------------------------- drop points

# snapshot FILE SRV_HOST METRICS_PORT : the counters of every place a UDP
# packet from h1 can be dropped, raw, in "== section" blocks (slowpath_stats.py
# drops BEFORE AFTER turns two snapshots into deltas). Along the path:
#   h1 eth0 (iperf3 client's veth) -> lab p1 -> ovs-vswitchd's AF_PACKET socket
#   on p1 (ss -0: skmem d = socket drops) -> datapath (dpif-netdev stats,
#   failed upcalls) -> packet-in queue (coverage packet_in_overflow) ->
#   OpenFlow connection (coverage rconn_overflow: rconn queue full) ->
#   controller (tapflowd: its metrics, PACKET_IN received, TAP drops by
#   reason) -> TAP eth1 in r1, or for the hub PACKET_OUT -> p2 -> h2 eth0 ->
#   the receiving namespace's stack (nstat: IpInDiscards, UdpRcvbufErrors,
#   UdpInErrors) and the CPU backlog queues (/proc/net/softnet_stat, global).
# Best effort: a tool that fails leaves its section empty.
snapshot() {
  local f=$1 srv=$2 mport=${3:-}
  {
    echo "== link_h1"; sys_ns h1 ip -s -j link show 2>/dev/null || true; echo
    echo "== link_lab"; sys_lab ip -s -j link show 2>/dev/null || true; echo
    echo "== link_srv"; sys_ns "$srv" ip -s -j link show 2>/dev/null || true; echo
    echo "== nstat_srv"; sys_ns "$srv" nstat -saz 2>/dev/null || true
    echo "== softnet"; cat /proc/net/softnet_stat
    echo "== sock_lab"; sys_lab ss -0 -a -n -m 2>/dev/null || true
    echo "== ovs_coverage"; timeout 10 ovs-appctl -t "$SYS_OVS_DIR/ovs-vswitchd.ctl" coverage/show 2>/dev/null || true
    echo "== ovs_pmd"; timeout 10 ovs-appctl -t "$SYS_OVS_DIR/ovs-vswitchd.ctl" dpif-netdev/pmd-stats-show 2>/dev/null || true
    echo "== ovs_controller"; sys_vsctl --columns=target,is_connected,status list controller 2>/dev/null || true
    if [[ -n $mport ]]; then
      echo "== metrics"; sys_lab curl -s -m 5 "http://127.0.0.1:$mport/metrics" 2>/dev/null || true
    fi
  } >"$f" 2>&1
}

# ---------------------------------------------------------------- measuring

# timed CFG WHAT CTL_PID COMMAND... : runs the command with CPU accounting of
# the controller (CTL_PID, may be empty) and ovs-vswitchd; records
# CFG.WHAT.ctl_cpu / ovs_cpu. Returns the command's status.
timed() {
  local cfg=$1 what=$2 ctl=$3; shift 3
  local c0 c1 o0 o1 t0 t1 status=0
  c0=$( [[ -n $ctl ]] && cpu_ticks "$ctl" || echo 0 )
  o0=$(cpu_ticks "$SYS_VSWITCHD_PID")
  t0=${EPOCHREALTIME/./}
  "$@" || status=$?
  t1=${EPOCHREALTIME/./}
  c1=$( [[ -n $ctl ]] && cpu_ticks "$ctl" || echo 0 )
  o1=$(cpu_ticks "$SYS_VSWITCHD_PID")
  [[ -n $ctl ]] && record "$cfg" "$what" "ctl_cpu=$(cpu_pct "$c0" "$c1" $(( t1 - t0 )))"
  record "$cfg" "$what" "ovs_cpu=$(cpu_pct "$o0" "$o1" $(( t1 - t0 )))"
  return "$status"
}

# parse CFG PREFIX KIND ARG... : slowpath_stats.py KIND ARG... into the
# results as CFG.PREFIX.*; on failure records CFG.PREFIX.error=1 and logs why.
parse() {
  local cfg=$1 prefix=$2 out
  shift 2
  if out=$(python3 "$stats" "$@" 2>&1); then
    record "$cfg" "$prefix" "$out"
    sys_log "$cfg $prefix: $out"
  else
    record "$cfg" "$prefix" "error=1"
    sys_log "$cfg $prefix FAILED: $out"
  fi
}

# udp_run CFG KEY BITRATE DEST CTL_PID : iperf3 -u from h1 to DEST for
# SECONDS at BITRATE (iperf3 -b; 0: as fast as the client can), with the
# CPU accounting of timed; the server's report as CFG.KEY.*.
udp_run() {
  local cfg=$1 key=$2 rate=$3 dest=$4 ctl=$5 out=$SYS_DIR/$1.r$ROUND.$2
  timed "$cfg" "$key" "$ctl" sys_ns h1 timeout $(( seconds + 30 )) iperf3 -c "$dest" -p "$IPERF_PORT" -u \
    -l "$udp_len" -b "$rate" "${udp_wopt[@]}" -t "$seconds" --connect-timeout 5000 -J \
    >"$out.json" 2>"$out.err" || true
  parse "$cfg" "$key" udp "$out.json"
}

# measure CFG SERVER_HOST DEST CTL_PID [METRICS_PORT] : RTT, UDP packet rate
# and TCP from h1 to DEST, iperf3 server in SERVER_HOST's namespace; the drop
# counters (snapshot) before and after the UDP run, as deltas CFG.udpdrop.*.
measure() {
  local cfg=$1 srv=$2 dest=$3 ctl=${4:-} mport=${5:-} d
  d=$SYS_DIR/$cfg.r$ROUND
  echo "$cfg.ran=1" >>"$RESULTS.r$ROUND"
  sys_step "round $ROUND/$rounds, $cfg: measuring h1 -> $dest"
  sys_daemon_start "iperf3-$cfg.r$ROUND" "$srv" 'Server listening' 10 iperf3 -s -p "$IPERF_PORT" --forceflush

  # Warm-up: ARP entries, megaflows, the controller's first-packet paths.
  sys_ns h1 ping -n -q -c 20 -i 0.01 -W 1 "$dest" >/dev/null 2>&1 || true
  parse "$cfg" noise jitter 2
  sys_log "$cfg: ping -c $ping_count -i $ping_interval $dest (SCHED_IDLE)"
  timed "$cfg" rtt "$ctl" sys_ns h1 timeout 300 chrt --idle 0 ping -n -c "$ping_count" -i "$ping_interval" -W 1 "$dest" \
    >"$d.ping" 2>&1 || true
  parse "$cfg" rtt rtt "$d.ping"

  local pps
  for pps in $udp_sweep; do
    sleep 1
    sys_log "$cfg: iperf3 -u -l $udp_len -b $(( pps * udp_len * 8 )) (offered $pps pkt/s) ${udp_wopt[*]} -t $seconds -> $dest"
    udp_run "$cfg" "sweep$pps" "$(( pps * udp_len * 8 ))" "$dest" "$ctl"
  done

  sleep 1
  sys_log "$cfg: iperf3 -u -l $udp_len -b $udp_rate ${udp_wopt[*]} -t $seconds -> $dest"
  snapshot "$d.udp.before" "$srv" "$mport"
  udp_run "$cfg" udp "$udp_rate" "$dest" "$ctl"
  snapshot "$d.udp.after" "$srv" "$mport"
  record "$cfg" udp "load1=$(cut -d' ' -f1 /proc/loadavg)"
  parse "$cfg" udpdrop drops "$d.udp.before" "$d.udp.after"

  sleep 1
  sys_log "$cfg: iperf3 (TCP, 1 stream) -t $seconds -> $dest"
  timed "$cfg" tcp "$ctl" sys_ns h1 timeout $(( seconds + 30 )) iperf3 -c "$dest" -p "$IPERF_PORT" \
    -t "$seconds" --connect-timeout 5000 -J >"$d.tcp.json" 2>"$d.tcp.err" || true
  parse "$cfg" tcp tcp "$d.tcp.json"

  sys_kill_pid "$(sys_daemon_pid "iperf3-$cfg.r$ROUND")" 5
}

# established PORT : a TCP connection to PORT in the lab namespace (the switch
# connected to its controller; OVS itself updates is_connected only every ~5 s).
established() {
  [[ -n $(sys_lab ss -Htn state established "dport = :$1") ]]
}

# ---------------------------------------------------------------- configurations

run_baseline() {
  sys_step "baseline: flows p1 <-> p2, no controller"
  sys_ofctl br0 add-flow "priority=100,in_port=${SYS_HOST_OFPORT[h1]},actions=output:${SYS_HOST_OFPORT[h2]}"
  sys_ofctl br0 add-flow "priority=100,in_port=${SYS_HOST_OFPORT[h2]},actions=output:${SYS_HOST_OFPORT[h1]}"
  sys_wait_until 10 "h1 -> h2 over flows" reachable h1 "$H2_IP"
  measure baseline h2 "$H2_IP" ""
  sys_ofctl br0 del-flows
}

run_hub() {
  local port flows hub=hub.r$ROUND
  sys_step "hub: ovs-testcontroller -H -n (PACKET_OUT FLOOD for every packet, no flows)"
  port=$(sys_free_port lab)
  sys_daemon_start "$hub" lab '' 10 ovs-testcontroller -H -n -O OpenFlow10 \
    --unixctl="$SYS_DIR/$hub.ctl" -vsyslog:off "ptcp:$port:127.0.0.1"
  sys_wait_until 10 "ovs-testcontroller to listen on $port" \
    sh -c "ip netns exec $(sys_ns_name lab) ss -Hltn 'sport = :$port' | grep -q ."
  sys_set_controller br0 "tcp:127.0.0.1:$port"
  sys_wait_until 20 "br0 to connect to the hub" established "$port"
  purge_datapath
  sys_wait_until 30 "h1 -> h2 through the hub" reachable h1 "$H2_IP"
  measure hub h2 "$H2_IP" "$(sys_daemon_pid "$hub")"
  flows=$(sys_flows br0 | grep -c . || true)
  record hub table "flows=$flows"
  (( flows == 0 )) || sys_log "WARNING: the hub installed $flows flows; not every packet took the slow path"
  sys_del_controller br0
  sys_kill_pid "$(sys_daemon_pid "$hub")" 5
  sys_ofctl br0 del-flows
}

run_tapd() {
  local flows ctl=tapflowd.r$ROUND pid status
  sys_step "tapd: tapflowd --app router, TAP eth1 $ROUTER_IP/24 in $(sys_ns_name r1)"
  tapd_start "$ctl"
  pid=$(sys_daemon_pid "$ctl")
  measure tapd r1 "$ROUTER_IP" "$pid" "$TAPD_METRICS_PORT"
  flows=$(sys_flows br0 | grep -c . || true)
  record tapd table "flows=$flows"
  if (( ROUND == 1 )); then
    sys_log "tapd: $flows flows in br0:"
    sys_flows br0 | sed -E 's/^ *cookie=[^ ]+ //; s/^/    /' >&2
  fi
  sys_del_controller br0
  # A clean exit is the system tests' business: here an unclean one is
  # reported, and the next round starts a fresh tapflowd anyway.
  kill -TERM "$pid"
  sys_wait_gone "$pid" 10 || sys_kill_pid "$pid" 2
  wait "$pid" && status=0 || status=$?
  (( status == 0 )) || sys_log "WARNING: tapflowd exited with status $status on SIGTERM (see $(sys_daemon_log "$ctl"))"
  record tapd exit "status=$status"
  sys_ofctl br0 del-flows
}

# ---------------------------------------------------------------- main

sys_init slowpath_bench
if [[ -n ${BENCH_NICE:-} ]]; then
  # Everything started from here on (OVS, controllers, iperf3, ping) inherits it.
  renice -n "$BENCH_NICE" -p $$ >/dev/null
fi
sys_require iperf3 ovs-testcontroller chrt
RESULTS=$SYS_DIR/results
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

slowpath_lab_start
sys_add_port_host h2 br0 p2 "$H2_IP/24"

for (( ROUND = 1; ROUND <= rounds; ROUND++ )); do
  : >"$RESULTS.r$ROUND"
  if wants baseline; then run_baseline; fi
  # Hub and tapd swap places every other round: load that drifts during a
  # run then favours neither.
  if (( ROUND % 2 )); then
    if wants hub; then run_hub; fi
    if wants tapd; then run_tapd; fi
  else
    if wants tapd; then run_tapd; fi
    if wants hub; then run_hub; fi
  fi
done

elapsed=$(( $(date +%s) - t_start ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# describe_tree DIR : "commit abc1234[, uncommitted changes]" for a git checkout.
describe_tree() {
  local c
  c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { printf 'not a git checkout'; return; }
  printf 'commit %s' "$c"
  if git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then
    printf ', uncommitted changes'
  fi
}
# The tree tapflowd was built from (its build dir's CMake source directory).
tapflowd_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
{
  echo "# tapflow slow-path benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores;" \
       "script: $(describe_tree "$root")"
  echo "# OVS $(ovs-vswitchd --version | awk 'NR == 1 { print $NF }') userspace datapath (netdev), hosts on veth pairs;" \
       "hub: ovs-testcontroller -H -n -O OpenFlow10"
  if wants tapd; then
    echo "# tapd: $TAPFLOWD --app router (OpenFlow 1.3), built from ${tapflowd_src:-?}" \
         "($(describe_tree "${tapflowd_src:-/nonexistent}"))"
  fi
  echo "# RTT: $ping_count pings every ${ping_interval}s from h1 (ping at SCHED_IDLE); UDP: iperf3 -u -l $udp_len" \
       "${udp_window:+-w $udp_window }-t $seconds at offered ${udp_sweep:+$udp_sweep pkt/s and }-b $udp_rate," \
       "pkt/s received by the server; TCP: iperf3 one stream -t $seconds"
  if [[ -n $udp_window ]]; then
    wbytes=${udp_window%[KM]}
    case $udp_window in *K) wbytes=$(( wbytes * 1024 )) ;; *M) wbytes=$(( wbytes * 1048576 )) ;; esac
    rmax=$(sys_ns h1 cat /proc/sys/net/core/rmem_max)
    if (( rmax < wbytes )); then
      echo "# WARNING: net.core.rmem_max is $rmax < UDP_WINDOW $udp_window: the kernel caps the UDP socket buffers there."
    fi
  fi
  echo "# load average before/after: $load_before / $load_after (other work on the machine skews results);" \
       "niceness $(ps -o ni= -p $$ | tr -d ' '); run took ${elapsed}s"
  echo "# command:$(for v in UDP_SWEEP UDP_RATE UDP_WINDOW UDP_LEN BENCH_NICE; do [[ -n ${!v+x} ]] && printf ' %s=%q' "$v" "${!v}"; done) bench/run_slowpath_bench.sh --build-dir ${build#"$root"/} --seconds $seconds --rounds $rounds$([[ $only == baseline,hub,tapd ]] || echo " --only $only")"
  if awk -v a="${load_before%% *}" -v b="${load_after%% *}" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }'; then
    echo "# WARNING: the load average exceeded the $(nproc) cores: every figure here is skewed by other work."
  fi
} >"$RESULTS.meta"
mkdir -p "$root/bench/results"
out=$root/bench/results/slowpath-$(date +%Y%m%d-%H%M%S).md
round_files=()
for (( r = 1; r <= rounds; r++ )); do round_files+=("$RESULTS.r$r"); done
python3 "$stats" report "$RESULTS.meta" "${round_files[@]}" | tee "$out"
sys_log "written to $out"
sys_pass
