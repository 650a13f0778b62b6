#!/usr/bin/env bash
# High-availability benchmark (issue 16): what a dead controller costs with a
# standby taking over, side by side with a single tapflowd restarted.
#
# The lab of tests/system/ha_takeover_test (tests/system/lib/ha_lab.sh,
# configs/lab/tapflowd-ha.yaml, bird-ha-*.conf): BIRD as r1 in tapflowd's
# namespace learns N IPv4 /24s over eBGP from BIRD on lb through a private
# OVS (OpenFlow 1.3); h1 pings 100.0.0.1 (on lb, in the first learnt /24)
# every 10 ms. Once everything is converged, one event per run:
#   takeover  two instances (a master, b standby; three etcd members, lease
#             TTL HA_LEASE_TTL s): a's server dies: SIGKILL to tapflowd a,
#             its BIRD and its fd store; a's namespace is deleted. b takes
#             over, b's BIRD (waiting with its link down) peers with lb.
#   restart   one tapflowd (the same config without `cluster:`): SIGKILL to
#             tapflowd only and tapflowd again at once (its BIRD and fd store
#             keep running: issue 14's restart).
#   reboot    one tapflowd: the server dies as in `takeover` (tapflowd, BIRD,
#             fd store, namespace), then all of it is started again at once
#             (what a single controller's crash costs without a standby).
# Measured from the SIGKILL:
#   switch     the new master confirmed by the switch ("master of the
#              switch" in b's log; for one tapflowd: its "up: OpenFlow" line);
#   routes     every route in the (new) master's kernel (polled every 0.2 s);
#   in sync    tapflowd in sync and idle, the stale entries swept;
#   FLOW_MODs / GROUP_MODs the new master sent by then;
#   pings lost (longest gap), h1 -> 100.0.0.1, until 1 s after "in sync".
# Prints a markdown table and writes it to bench/results/ha-DATE.md
# (untracked). Not run in CI.
#
# Usage (as root): bench/run_ha_bench.sh [--build-dir DIR] [--routes N] [--only RUNS]
#   --build-dir  tree with src/daemon/tapflowd (default build: the release
#                build); this script builds nothing.
#   --routes     BGP routes (default $HA_BENCH_ROUTES, else 100000; 1M by hand:
#                HA_BENCH_ROUTES=1000000 bench/run_ha_bench.sh).
#   --only       comma-separated runs of takeover,restart,reboot (default all).
# Environment: HA_BENCH_ROUTES, HA_LEASE_TTL (2), SYS_KEEP=1 keeps the temp dirs.
# Needs root, openvswitch-switch, iproute2, ethtool, nftables, bird2, etcd-server,
# etcd-client, curl, python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build="build" routes=${HA_BENCH_ROUTES:-100000} only="takeover,restart,reboot" one="" result_out=""
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --routes) routes=${2:?--routes needs a number}; shift 2 ;;
    --only) only=${2:?--only needs takeover, restart and/or reboot}; shift 2 ;;
    --one) one=${2:?}; result_out=${3:?}; shift 3 ;;  # internal: one run, results to a file
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
if ! [[ $routes =~ ^[0-9]+$ ]] || (( routes < 2000 || routes > 4000000 )); then
  echo "--routes: 2000 .. 4000000" >&2
  exit 2
fi
[[ $build == /* ]] || build=$root/$build
TAPFLOWD=$build/src/daemon/tapflowd
if [[ ! -x $TAPFLOWD ]]; then
  cat >&2 <<EOF
$TAPFLOWD not found. Build it first (Release):
  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build $build -j2
EOF
  exit 1
fi
RUNS=(takeover restart reboot)

# ---------------------------------------------------------------- the runs

if [[ -z $one ]]; then
  results=$(mktemp -d "${TMPDIR:-/tmp}/ha-bench.XXXXXX")
  trap 'rm -rf "$results"' EXIT
  t_start=$(date +%s)
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for v in "${RUNS[@]}"; do
    [[ ,$only, == *,$v,* ]] || continue
    echo "== run: $v ($routes routes)" >&2
    "$0" --build-dir "$build" --routes "$routes" --one "$v" "$results/$v" \
      || { echo "the '$v' run failed (above)" >&2; exit 1; }
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
  dirty=""
  if git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then dirty=", uncommitted changes"; fi
  mkdir -p "$root/bench/results"
  file=$root/bench/results/ha-$(date +%Y%m%d-%H%M%S).md
  {
    echo "# tapflow HA benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores; commit $commit$dirty"
    echo "# $routes IPv4 /24s over eBGP (BIRD lb -> BIRD r1, graceful restart), OVS $(ovs-vswitchd --version | awk 'NR == 1 { print $NF }') userspace, OpenFlow 1.3; etcd $(etcd --version | awk 'NR == 1 { print $NF }') x3, lease TTL ${HA_LEASE_TTL:-2} s; tapflowd $TAPFLOWD"
    echo "# SIGKILL at t=0 under ping -i 0.01 h1 -> 100.0.0.1; runs took $(( $(date +%s) - t_start )) s; load before/after: $load_before / $load_after"
    echo
    echo "| run | what dies | switch: new master (or reconnected) | routes in the master's kernel | in sync, stale swept | FLOW_MODs | GROUP_MODs | pings lost (longest gap) | lb's BGP session |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for v in "${RUNS[@]}"; do
      [[ -f $results/$v ]] && cat "$results/$v"
    done
  } >"$results/table.md"
  cat "$results/table.md"
  cp "$results/table.md" "$file"
  echo "written to $file" >&2
  exit 0
fi

# ---------------------------------------------------------------- one run

# shellcheck source=../tests/system/lib/harness.sh
source "$root/tests/system/lib/harness.sh"
# shellcheck source=../tests/system/lib/routers.sh
source "$root/tests/system/lib/routers.sh"
# shellcheck source=../tests/system/lib/tapd_lab.sh
source "$root/tests/system/lib/tapd_lab.sh"
# shellcheck source=../tests/system/lib/routing_lab.sh
source "$root/tests/system/lib/routing_lab.sh"
# shellcheck source=../tests/system/lib/session_lab.sh
source "$root/tests/system/lib/session_lab.sh"
# shellcheck source=../tests/system/lib/ha_lab.sh
source "$root/tests/system/lib/ha_lab.sh"

HA_ROUTES=$routes HA_CHURN=1000
ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }'; }

ha_setup "ha_bench.$one" router
for id in a b; do
  # OVS reports max_entries 1000000 per table (nominal, not enforced).
  sed -i 's/^  persist_taps: true$/&\n  table_capacity: 4294967295/' "${HA_CONF[$id]}"
  if [[ $one != takeover ]]; then
    # One tapflowd: the same config without the cluster section.
    sed -i '/^cluster:$/,/^$/d' "${HA_CONF[$id]}"
    ! grep -q '^cluster:' "${HA_CONF[$id]}" || sys_fail "could not drop cluster: from ${HA_CONF[$id]}"
  fi
done
t0=$(ms)
ha_start a
if [[ $one == takeover ]]; then
  ha_wait_master a 20
  ha_start b
  ha_wait_standby b 20
  sys_ns "${HA_NS[b]}" sysctl -qw net.ipv4.ip_forward=1
else
  # One controller: br0 connects to a's port only.
  sys_set_controller br0 "tcp:127.0.0.1:${HA_PORT[a]}"
  ha_wait_log a 'up: OpenFlow 1\.3,' 1 20
  sys_wait_carrier "${HA_NS[a]}" eth2 on 10
fi
sys_ns "${HA_NS[a]}" sysctl -qw net.ipv4.ip_forward=1
ha_router_start a
[[ $one == takeover ]] && ha_router_start b
ha_legacy_start
ha_converged a 900
sys_log "converged with $routes routes in $(( ($(ms) - t0) / 1000 )) s"

sess_ping_start bgp 100.0.0.1
sleep 1
new=a up_re='up: OpenFlow 1\.3,'
case $one in
  takeover)
    new=b up_re=$HA_MASTER_RE
    n=$(ha_log_count b "$up_re")
    sys_step "takeover: a's server dies"
    ha_kill_server a
    kill_ms=$(( HA_KILL_US / 1000 ))
    ha_wait_log b "$up_re" $(( n + 1 )) 60
    ;;
  restart)
    sys_step "restart: SIGKILL to tapflowd a, tapflowd again at once"
    kill_ms=$(ms)
    ha_kill a
    ha_start a
    ha_wait_log a "$up_re" 1 60
    ;;
  reboot)
    sys_step "reboot: a's server dies; tapflowd, its BIRD and its fd store again at once"
    ha_kill_server a
    kill_ms=$(( HA_KILL_US / 1000 ))
    ha_start a
    ha_wait_log a "$up_re" 1 60
    sys_wait_ns "${HA_NS[a]}" 20
    sys_wait_carrier "${HA_NS[a]}" eth2 on 20
    sys_ns "${HA_NS[a]}" sysctl -qw net.ipv4.ip_forward=1
    ha_router_start a
    ;;
esac
switch_ms=$(( $(ha_log_ms "$new" "$up_re") - kill_ms ))
ha_use "$new"
routes_ms="" deadline=$(( $(ms) + 900000 ))
until [[ -n $routes_ms ]] && sess_in_sync; do
  (( $(ms) < deadline )) || sys_fail "not in sync within 900 s"
  sys_alive "$(ha_pid "$new")" || sys_fail "tapflowd $new died"
  if [[ -z $routes_ms ]] && sess__routes_complete; then routes_ms=$(( $(ms) - kill_ms )); fi
  sleep 0.2
done
sync_ms=$(( $(ms) - kill_ms ))
fm=$(ha_metric "$new" tapflow_fib_flow_mods_total) gm=$(ha_metric "$new" tapflow_fib_group_mods_total)
sleep 1
sess_ping_stop bgp
read -r lost gap sent <<<"$(sess_ping_result bgp)"
since=$(ha_lb_since) lb="same session"
(( since < kill_ms )) || lb="new session after $(secs $(( since - kill_ms )))"
case $one in
  takeover) what="tapflowd a + BIRD + fd store; b takes over" ;;
  restart) what="tapflowd only; restarted" ;;
  reboot) what="tapflowd + BIRD + fd store; all restarted" ;;
esac
printf '| %s | %s | %s | %s | %s | %s | %s | %s of %s (%s ms) | %s |\n' "$one" "$what" "$(secs "$switch_ms")" \
  "$(secs "$routes_ms")" "$(secs "$sync_ms")" "${fm:-?}" "${gm:-?}" "$lost" "$sent" "$gap" "$lb" >"$result_out"
sys_log "result: $(cat "$result_out")"
sys_daemon_stop "${HA_CTL[$new]}" 10
sys_pass
