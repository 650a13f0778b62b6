#!/usr/bin/env bash
# Route benchmark, one run (issue 5): how fast the kernel FIB of tapflowd's
# router namespace becomes flows in the switch, beside the switch's own
# limit, tapflowd's memory per route, and how fast a next hop's MAC change
# reaches the switch.
#
# One private OVS (userspace datapath, tests/system/lib/harness.sh), bridge
# br0 (OpenFlow 1.3, dpid 1), ports p1 (h1) and p2 (h2; next hops are static
# neighbours 10.0.2.101.. / fd00:2::101.. on p2's LAN, no traffic is sent).
#   switch    the switch's own limit: N IPv4 /24 flows (then N6 IPv6 /48s)
#             with eth_src, eth_dst, dec_ttl, output (bench/route_bench_gen.py)
#             timed through `ovs-ofctl -O OpenFlow13 --bundle add-flows`; no
#             controller; the flows are deleted afterwards.
#   tapflowd  tapflowd's router app (namespace r1, TAP eth1 = p1, eth2 = p2),
#             K next hops as `nud permanent` neighbours, then the same N
#             prefixes as kernel routes through `ip -batch` (round robin over
#             the next hops): time from the start of ip -batch until the FIB
#             table holds all of them (br0's table-1 flow_count, polled with
#             dump-aggregate every POLL s, not more often: each one walks
#             every flow in ovs-vswitchd; or, with --done-log, the time of
#             the first tapflowd log line matching it), the kernel's own time
#             (ip -batch alone), the lag after ip -batch returned, and
#             tapflowd's VmRSS growth divided by N. Likewise N6 IPv6 routes.
#             Then resync: tapflowd stopped, br0's FIB (table 1, groups)
#             cleared, tapflowd started with the routes in the kernel: time
#             until all flows are back.
#   failover  `ip neigh replace` of next hop 1 (N/K routes behind it) with a
#             new MAC, ROUNDS times; then `ip neigh del`. Three figures each:
#             tapflowd's own (its info line "FIB update confirmed by the
#             switch N us after the kernel's change": from reading the netlink
#             event to the switch's bundle-commit/barrier reply), end to end
#             (start of the ip command -> that log line's timestamp, ms
#             resolution), and the new MAC seen by polling dump-groups back to
#             back (coarse: one dump-groups walks every flow, shown).
# Prints a markdown table (with the ratio tapflowd / ovs-ofctl --bundle and the
# issue's targets: within 1.3x of the switch's limit, at most 200 bytes per
# route, failover under 50 ms) and writes it to bench/results/route-DATE.md
# (untracked). A missed target is reported, not an error; the exit status is
# non-zero only when the benchmark could not run.
#
# Usage (as root): bench/run_route_bench.sh [--build-dir DIR] [--routes N]
#                    [--routes6 N] [--nexthops K] [--only switch,tapflowd,failover]
#                    [--done-log REGEX] [--rounds N]
#   --build-dir  tree with src/daemon/tapflowd (default build-bench; a Release
#                build, see below); this script builds nothing.
#   --routes     IPv4 prefixes (default 1000000); --routes6: IPv6 (200000; 0: none).
#   --nexthops   next hops the routes are spread over (default 4; 1 puts every
#                route behind the next hop whose MAC changes).
#   --only       parts to run (default all three; failover needs tapflowd).
#   --done-log   a regex (grep -E) tapflowd logs when the switch confirmed the
#                last batch (e.g. the programmer's "in sync" line): its
#                timestamp ends the measurement instead of the polling.
#   --rounds     MAC changes measured (default 5).
# Environment: POLL (0.5 s between dump-aggregate polls), BUNDLE_MAX (router.bundle_max,
#   messages per bundle; default tapflowd's), SYS_KEEP=1 keeps the
#   temp dir (logs, generated files).
# Needs root, openvswitch-switch, iproute2, ethtool, python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build="build-bench" routes=1000000 routes6=200000 nexthops=4 only="switch,tapflowd,failover"
done_log="" rounds=5
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --routes) routes=${2:?--routes needs a number}; shift 2 ;;
    --routes6) routes6=${2:?--routes6 needs a number}; shift 2 ;;
    --nexthops) nexthops=${2:?--nexthops needs a number}; shift 2 ;;
    --only) only=${2:?--only needs a list}; shift 2 ;;
    --done-log) done_log=${2:?--done-log needs a regex}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for v in routes routes6 nexthops rounds; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "--$v: a number, not '${!v}'" >&2; exit 2; }
done
(( routes > 0 && routes <= 4194304 )) || { echo "--routes: 1 .. 4194304" >&2; exit 2; }
(( nexthops >= 1 && nexthops <= 99 )) || { echo "--nexthops: 1 .. 99" >&2; exit 2; }
for c in ${only//,/ }; do
  [[ $c == switch || $c == tapflowd || $c == failover ]] || { echo "--only: unknown part '$c'" >&2; exit 2; }
done
wants() { [[ ,$only, == *,$1,* ]]; }
if wants failover && ! wants tapflowd; then echo "--only: failover needs tapflowd" >&2; exit 2; fi
[[ $build == /* ]] || build=$root/$build
poll=${POLL:-0.5}

TAPFLOWD=$build/src/daemon/tapflowd
if wants tapflowd && [[ ! -x $TAPFLOWD ]]; then
  cat >&2 <<EOF
$TAPFLOWD not found. Build it first (Release, as for the other benchmarks):
  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_WERROR=OFF
  cmake --build $build -j2 --target tapflowd
or measure the switch alone: $0 --only switch
EOF
  exit 1
fi

# shellcheck source=../tests/system/lib/harness.sh
source "$root/tests/system/lib/harness.sh"

gen=$here/route_bench_gen.py
NS=r1
declare -A R=()  # results: key -> value

now_us() { printf '%s' "${EPOCHREALTIME/./}"; }
secs() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", (us > 0 ? n / (us / 1e6) : 0) }'; }
ofctl() { local cmd=$1; shift; timeout 600 ovs-ofctl --no-names -O OpenFlow13 "$cmd" "unix:$SYS_OVS_DIR/br0.mgmt" "$@"; }
fib_count() { ofctl dump-aggregate table=1 | sed -nE 's/.*flow_count=([0-9]+).*/\1/p'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

nh_ip() { printf '10.0.2.%d' $(( 100 + $1 )); }
nh_ip6() { printf 'fd00:2::%d' $(( 100 + $1 )); }
nh_mac() { printf '02:00:00:00:%02x:%02x' "$2" "$1"; }  # (next hop, generation)
list() { # FUNC : next hops 1..K joined by commas
  local i out=""
  for (( i = 1; i <= nexthops; i++ )); do out+="${out:+,}$("$1" "$i" 0)"; done
  printf '%s' "$out"
}

# ---------------------------------------------------------------- switch

# bundle_add FAMILY N : generate and time ovs-ofctl --bundle add-flows.
bundle_add() {
  local fam=$1 n=$2 file t0 t1 count
  file=$SYS_DIR/flows$fam.txt
  python3 "$gen" "flows$fam" "$n" "$file" "$(sys_port_mac p2)" "$(list nh_mac)" 2
  sys_log "switch: $n IPv$fam flows generated; ovs-ofctl --bundle add-flows"
  t0=$(now_us)
  timeout 600 ovs-ofctl -O OpenFlow13 --bundle add-flows "unix:$SYS_OVS_DIR/br0.mgmt" "$file"
  t1=$(now_us)
  count=$(fib_count)
  (( count == n )) || sys_fail "after add-flows, table 1 holds $count flows, not $n"
  R[switch$fam.us]=$(( t1 - t0 ))
  sys_log "switch: $n IPv$fam flows in $(secs $(( t1 - t0 ))) s ($(rate "$n" $(( t1 - t0 ))) flows/s)"
  t0=$(now_us)
  ofctl del-flows table=1
  sys_log "switch: deleted in $(secs $(( $(now_us) - t0 ))) s"
  rm -f "$file"
}

run_switch() {
  sys_step "switch: ovs-ofctl --bundle add-flows (no controller)"
  bundle_add 4 "$routes"
  (( routes6 == 0 )) || bundle_add 6 "$routes6"
}

# ---------------------------------------------------------------- tapflowd

CTL=""
start_tapflowd() { # NAME
  local conf=$SYS_DIR/tapflowd.yaml port
  port=$(sys_free_port lab)
  cat >"$conf" <<EOF
listen: ["tcp:127.0.0.1:$port"]
app: router
log_level: info
router:
  persist_taps: true
  # The TAP descriptors wait in tapflow-fdstore across the resync restart
  # (the harness ends it by PID; left behind, it exits 30 s after tapflowd).
  fd_store: { linger: 30 }
  # OVS reports max_entries 1000000 per table (nominal, not enforced): the
  # FIB here has 1M routes plus connected and host flows.
  table_capacity: 4294967295
  # BUNDLE_MAX (environment): messages per bundle, to compare slice sizes.
${BUNDLE_MAX:+  bundle_max: $BUNDLE_MAX}
  switches:
    - dpid: 0x1
      name: r1
      netns: "$(sys_ns_name "$NS")"
      ports:
        - name: p1
          interface: eth1
          addresses: ["10.0.1.1/24", "fd00:1::1/64"]
        - name: p2
          interface: eth2
          addresses: ["10.0.2.1/24", "fd00:2::1/64"]
EOF
  CTL=$1
  sys_tapflowd_start "$CTL" -c "$conf"
  sys_set_controller br0 "tcp:127.0.0.1:$port"
  sys_wait_log "$CTL" 'up: OpenFlow 1\.3,' 1 30
  sys_wait_ns "$NS" 20
  sys_wait_link "$NS" eth2 20
  sys_wait_carrier "$NS" eth2 on 20
}

# wait_fib TARGET T0 : polls until table 1 holds TARGET flows; prints the
# time (us since T0) the count was first seen (or the --done-log line's).
wait_fib() {
  local target=$1 t0=$2 c t line ts
  while :; do
    c=$(fib_count)
    t=$(now_us)
    (( c >= target )) && break
    (( t - t0 < ${WAIT_FIB_MAX:-600} * 1000000 )) || sys_fail "table 1 holds $c flows after ${WAIT_FIB_MAX:-600} s, expected $target"
    sys_alive "$(sys_daemon_pid "$CTL")" || sys_fail "tapflowd died ($(tail -n 1 "$(sys_daemon_log "$CTL")"))"
    sleep "$poll"
  done
  if [[ -n $done_log ]]; then
    # The daemon's log lines start with a local timestamp (2026-11-21T09:54:05.152).
    line=$(grep -E -- "$done_log" "$(sys_daemon_log "$CTL")" | tail -n 1 || true)
    if [[ -n $line ]] && ts=$(date -d "$(cut -d' ' -f1 <<<"$line" | tr T ' ')" +%s%6N 2>/dev/null) && (( ts >= t0 )); then
      t=$ts
    else
      sys_log "WARNING: no line /$done_log/ in tapflowd's log after the start: polled time used"
    fi
  fi
  printf '%s' $(( t - t0 ))
}

# install FAMILY N : ip -batch of N routes; time to the kernel and to br0.
install() {
  local fam=$1 n=$2 file base rss0 rss1 t0 t_ip t_fib pid
  file=$SYS_DIR/routes$fam.txt
  if [[ $fam == 4 ]]; then
    python3 "$gen" routes4 "$n" "$file" "$(list nh_ip)"
  else
    python3 "$gen" routes6 "$n" "$file" "$(list nh_ip6)"
  fi
  sleep 2
  base=$(fib_count)
  pid=$(sys_daemon_pid "$CTL")
  rss0=$(rss_kb "$pid")
  sys_log "tapflowd: $n IPv$fam routes by ip -batch (FIB table holds $base flows, tapflowd VmRSS $rss0 kB)"
  t0=$(now_us)
  sys_ns "$NS" ip -batch "$file"
  t_ip=$(( $(now_us) - t0 ))
  sys_log "tapflowd: ip -batch returned after $(secs "$t_ip") s"
  t_fib=$(wait_fib $(( base + n )) "$t0")
  sleep 2
  rss1=$(rss_kb "$pid")
  R[tapd$fam.ip_us]=$t_ip
  R[tapd$fam.us]=$t_fib
  R[tapd$fam.rss_kb]=$(( rss1 - rss0 ))
  sys_log "tapflowd: all $n IPv$fam routes in br0 after $(secs "$t_fib") s ($(rate "$n" "$t_fib") routes/s)," \
          "VmRSS $rss0 -> $rss1 kB ($(( (rss1 - rss0) * 1024 / n )) bytes/route)"
}

run_tapflowd() {
  local i t0 total pid
  sys_step "tapflowd: kernel routes by ip -batch -> flows in br0"
  start_tapflowd tapflowd
  # Room for N6 IPv6 routes (older kernels cap them with max_size), and
  # the next hops as static neighbours (resolved before any route).
  sys_ns "$NS" sysctl -qw net.ipv6.route.max_size=2147483647 || true
  for (( i = 1; i <= nexthops; i++ )); do
    sys_ns "$NS" ip neigh replace "$(nh_ip "$i")" lladdr "$(nh_mac "$i" 0)" dev eth2 nud permanent
    sys_ns "$NS" ip -6 neigh replace "$(nh_ip6 "$i")" lladdr "$(nh_mac "$i" 0)" dev eth2 nud permanent
  done
  install 4 "$routes"
  (( routes6 == 0 )) || install 6 "$routes6"
  total=$(fib_count)

  sys_step "resync: tapflowd restarted on an empty FIB table, the routes in the kernel"
  pid=$(sys_daemon_pid tapflowd)
  kill -TERM "$pid"
  sys_wait_gone "$pid" 60 || sys_fail "tapflowd did not exit within 60 s of SIGTERM"
  ofctl del-flows table=1
  ofctl del-groups
  sys_log "resync: FIB table and groups cleared; tapflowd again"
  t0=$(now_us)
  start_tapflowd tapflowd2
  R[resync.us]=$(wait_fib "$total" "$t0")
  R[resync.flows]=$total
  sys_log "resync: $total flows back after $(secs "${R[resync.us]}") s"
}

# ---------------------------------------------------------------- failover

# group_of_nh1 : the group of next hop 1 (its host flow's group).
group_of_nh1() {
  ofctl dump-flows table=1 | sed -nE "s/.*,ip,nw_dst=$(nh_ip 1 | sed 's/\./\\./g') actions=group:([0-9]+)$/\1/p"
}

# time_group GROUP NEEDLE CMD... : runs CMD, then polls dump-groups back to
# back until GROUP's line contains NEEDLE; prints "us polls".
time_group() {
  local g=$1 needle=$2 t0 t polls=0; shift 2
  t0=$(now_us)
  "$@"
  while :; do
    polls=$(( polls + 1 ))
    ofctl dump-groups | grep -E "^ *group_id=$g," | grep -qF -- "$needle" && break
    (( $(now_us) - t0 < 30000000 )) || sys_fail "group $g did not show '$needle' within 30 s"
  done
  t=$(( $(now_us) - t0 ))
  printf '%s %s' "$t" "$polls"
}

# confirm_line N : waits (5 s at most) for tapflowd's N-th "FIB update
# confirmed" log line and prints it.
confirm_line() {
  local n=$1 line i
  for (( i = 0; i < 100; i++ )); do
    line=$(grep -E "FIB update confirmed by the switch [0-9]+ us after" "$(sys_daemon_log "$CTL")" | sed -n "${n}p")
    [[ -n $line ]] && { printf '%s' "$line"; return 0; }
    sleep 0.05
  done
  sys_fail "tapflowd logged no confirmation #$n of a FIB update"
}
log_ts_us() { date -d "$(cut -d' ' -f1 <<<"$1" | tr T ' ')" +%s%6N; }
# median / max of a list of microsecond figures, in ms
med_max_ms() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f / %.1f", a[int((NR + 1) / 2)] / 1000, a[NR] / 1000 }'; }

run_failover() {
  local g r us polls res n t_cmd line inner e2e all=() per_poll=() inners=() e2es=()
  sys_step "failover: next hop $(nh_ip 1) ($(( routes / nexthops )) IPv4 routes) changes its MAC"
  g=$(group_of_nh1)
  [[ -n $g ]] || sys_fail "no host flow for $(nh_ip 1) pointing at a group in table 1"
  n=$(grep -cE "FIB update confirmed by the switch [0-9]+ us after" "$(sys_daemon_log "$CTL")" || true)
  for (( r = 1; r <= rounds; r++ )); do
    t_cmd=$(now_us)
    res=$(time_group "$g" "set_field:$(nh_mac 1 "$r")->eth_dst" \
      sys_ns "$NS" ip neigh replace "$(nh_ip 1)" lladdr "$(nh_mac 1 "$r")" dev eth2 nud permanent)
    read -r us polls <<<"$res"
    n=$(( n + 1 ))
    line=$(confirm_line "$n")
    inner=$(sed -nE 's/.* ([0-9]+) us after the kernel.s change.*/\1/p' <<<"$line")
    e2e=$(( $(log_ts_us "$line") - t_cmd ))
    all+=("$us")
    per_poll+=($(( us / polls )))
    inners+=("$inner")
    e2es+=("$e2e")
    sys_log "failover round $r: group $g confirmed by the switch ${inner} us after tapflowd read the" \
            "kernel's change; ip neigh start -> confirmation logged: $(( e2e / 1000 )) ms (log has ms" \
            "resolution); seen by polling dump-groups after $(( us / 1000 )) ms ($polls polls)"
    sleep 0.5
  done
  R[failover.inner_ms]=$(med_max_ms "${inners[@]}")
  R[failover.e2e_ms]=$(med_max_ms "${e2es[@]}")
  R[failover.ms]=$(med_max_ms "${all[@]}")
  R[failover.poll_ms]=$(printf '%s\n' "${per_poll[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }')
  t_cmd=$(now_us)
  res=$(time_group "$g" "CONTROLLER" sys_ns "$NS" ip neigh del "$(nh_ip 1)" dev eth2)
  read -r us polls <<<"$res"
  n=$(( n + 1 ))
  line=$(confirm_line "$n")
  R[gone.inner_ms]=$(awk -v us="$(sed -nE 's/.* ([0-9]+) us after the kernel.s change.*/\1/p' <<<"$line")" 'BEGIN { printf "%.1f", us / 1000 }')
  R[gone.ms]=$(awk -v us="$us" 'BEGIN { printf "%.1f", us / 1000 }')
  sys_log "next hop gone: group $g confirmed ${R[gone.inner_ms]} ms after the kernel's change (polled: ${R[gone.ms]} ms)"
}

# ---------------------------------------------------------------- main

sys_init route_bench
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
sys_ovs_start
sys_add_bridge br0 OpenFlow13 0000000000000001
sys_add_port_host h1 br0 p1 10.0.1.10/24
sys_add_port_host h2 br0 p2 10.0.2.10/24
if wants switch; then run_switch; fi
if wants tapflowd; then run_tapflowd; fi
if wants failover; then run_failover; fi
elapsed=$(( $(date +%s) - t_start ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

describe_tree() {
  local c
  c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { printf 'not a git checkout'; return; }
  printf 'commit %s' "$c"
  if git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then printf ', uncommitted changes'; fi
}
# row WHAT VALUE [TARGET]
row() { printf '| %s | %s | %s |\n' "$1" "$2" "${3:-}"; }
# vs_switch US_TAPD US_SWITCH : "1.23x" (target <= 1.3x)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
meets() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo met || echo MISSED; }

mkdir -p "$root/bench/results"
out=$root/bench/results/route-$(date +%Y%m%d-%H%M%S).md
{
  echo "# tapflow route benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores; script: $(describe_tree "$root")"
  echo "# OVS $(ovs-vswitchd --version | awk 'NR == 1 { print $NF }') userspace datapath (netdev), OpenFlow 1.3; $routes IPv4 /24s, $routes6 IPv6 /48s over $nexthops next hops"
  if wants tapflowd; then
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
    echo "# tapflowd: $TAPFLOWD, built from ${src:-?} ($(describe_tree "${src:-/nonexistent}")); end of install: ${done_log:+log line /$done_log/, else }table-1 flow_count polled every ${poll}s"
  fi
  echo "# load average before/after: $load_before / $load_after; run took ${elapsed}s"
  if awk -v a="${load_before%% *}" -v b="${load_after%% *}" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }'; then
    echo "# WARNING: the load average exceeded the $(nproc) cores: every figure here is skewed by other work."
  fi
  echo
  echo "| measure | value | target |"
  echo "|---|---|---|"
  for fam in 4 6; do
    n=$routes; [[ $fam == 6 ]] && n=$routes6
    (( n > 0 )) || continue
    if [[ -n ${R[switch$fam.us]:-} ]]; then
      row "switch: ovs-ofctl --bundle add-flows, $n IPv$fam flows" \
        "$(secs "${R[switch$fam.us]}") s, $(rate "$n" "${R[switch$fam.us]}") flows/s" \
        "(the limit$([[ $fam == 4 ]] && echo '; LAB.md: 82k/s at 1M'))"
    fi
    if [[ -n ${R[tapd$fam.us]:-} ]]; then
      row "tapflowd: ip -batch of $n IPv$fam routes (the kernel alone)" \
        "$(secs "${R[tapd$fam.ip_us]}") s, $(rate "$n" "${R[tapd$fam.ip_us]}") routes/s"
      row "tapflowd: start of ip -batch -> all $n flows in br0" \
        "$(secs "${R[tapd$fam.us]}") s, $(rate "$n" "${R[tapd$fam.us]}") routes/s"
      row "tapflowd: after ip -batch returned -> all in br0" "$(secs $(( ${R[tapd$fam.us]} - ${R[tapd$fam.ip_us]} ))) s"
      if [[ -n ${R[switch$fam.us]:-} ]]; then
        r=$(ratio "${R[tapd$fam.us]}" "${R[switch$fam.us]}")
        row "ratio tapflowd / ovs-ofctl --bundle (IPv$fam)" "$r" "<= 1.3x: $(meets "${r%x}" 1.3)"
      fi
      b=$(( ${R[tapd$fam.rss_kb]} * 1024 / n ))
      row "tapflowd VmRSS growth per IPv$fam route" "$b bytes" "$( [[ $fam == 4 ]] && echo "<= 200: $(meets "$b" 200)")"
    fi
  done
  if [[ -n ${R[resync.us]:-} ]]; then
    row "resync: tapflowd start, empty FIB, routes in the kernel -> all ${R[resync.flows]} flows" \
      "$(secs "${R[resync.us]}") s, $(rate "${R[resync.flows]}" "${R[resync.us]}") flows/s"
    if [[ -n ${R[switch4.us]:-} ]]; then
      # The switch's limit for the same number of flows, at its IPv4 rate.
      r=$(awk -v t="${R[resync.us]}" -v n="${R[resync.flows]}" -v sn="$routes" -v su="${R[switch4.us]}" \
            'BEGIN { printf "%.2fx", t / (n * su / sn) }')
      row "ratio resync / ovs-ofctl --bundle (same flow count at the IPv4 rate)" "$r" "<= 1.3x: $(meets "${r%x}" 1.3)"
    fi
  fi
  if [[ -n ${R[failover.ms]:-} ]]; then
    local_what="($(( routes / nexthops )) IPv4 routes behind it), median / max of $rounds"
    row "failover: neighbour MAC change, tapflowd reads it from netlink -> the switch confirms the group rewrite $local_what" \
      "${R[failover.inner_ms]} ms" "< 50 ms: $(meets "${R[failover.inner_ms]##* }" 50)"
    row "failover: start of ip neigh replace -> confirmation logged (log timestamps: ms resolution)" \
      "${R[failover.e2e_ms]} ms" "< 50 ms: $(meets "${R[failover.e2e_ms]##* }" 50)"
    row "failover: start of ip neigh replace -> new MAC seen by polling dump-groups (coarse: one poll takes ${R[failover.poll_ms]} ms)" \
      "${R[failover.ms]} ms"
    row "next hop gone (ip neigh del) -> switch confirms its group sends to the controller" "${R[gone.inner_ms]} ms (polled: ${R[gone.ms]} ms)"
  fi
} >"$SYS_DIR/table.md"
tee "$out" <"$SYS_DIR/table.md"
sys_log "written to $out"
sys_pass
