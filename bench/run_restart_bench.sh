#!/usr/bin/env bash
# Restart benchmark (issue 14): a tapflowd restart under a full table, with
# the issue's hold (fd store, carrier hold, stale hold) and without it.
#
# The lab of tests/system/routing_sessions_test, bird_of13
# (tests/system/lib/session_lab.sh, configs/lab/*sessions*): BIRD as r1 in
# tapflowd's namespace learns N IPv4 /24s over eBGP from BIRD on lb through a
# private OVS (OpenFlow 1.3), and a LAN over OSPF from FRR on lf; h1 pings
# every 10 ms an address in a BGP-learnt prefix (on lb) and one in the OSPF
# LAN. Once everything is converged: SIGTERM to tapflowd and tapflowd again
# at once. Measured per run:
#   reconcile   tapflowd start -> tapflow_fib_synced 1, tapflow_fib_programming
#               0, no stale flows, and at least N FIB flows in the switch with
#               N BGP routes in r1's kernel (metrics polled every 0.2 s);
#   FLOW_MODs / GROUP_MODs the new tapflowd sent by then;
#   pings lost (and the longest gap) on each destination, from SIGTERM to
#               2 s after the reconcile;
#   BGP and OSPF: r1's session state afterwards and the state changes its
#               BIRD (and lb's, lf's) logged.
# Two runs, each its own lab: "hold" (tapflowd-sessions.yaml as the tests run
# it) and "no hold" (carrier_hold: 0, fd_store: false, stale_hold: {max: 0}).
# Prints a markdown table and writes it to bench/results/restart-DATE.md
# (untracked). Not run in CI.
#
# Usage (as root): bench/run_restart_bench.sh [--build-dir DIR] [--routes N]
#   --build-dir  tree with src/daemon/tapflowd (default build-bench; a Release
#                build: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release);
#                this script builds nothing.
#   --routes     BGP routes (default 1000000).
#   --only hold|nohold  one of the two runs.
# Environment: SYS_KEEP=1 keeps the temp dirs (logs).
# Needs root, openvswitch-switch, iproute2, ethtool, nftables, bird2, frr, curl, python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build="build-bench" routes=1000000 only="hold,nohold" one="" out=""
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --routes) routes=${2:?--routes needs a number}; shift 2 ;;
    --only) only=${2:?--only needs hold or nohold}; shift 2 ;;
    --one) one=${2:?}; out=${3:?}; shift 3 ;;  # internal: one run, results to a file
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
$TAPFLOWD not found. Build it first (Release, as for the other benchmarks):
  cmake -S $root -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_WERROR=OFF
  cmake --build $build -j2
EOF
  exit 1
fi

# ---------------------------------------------------------------- the two runs

if [[ -z $one ]]; then
  results=$(mktemp -d "${TMPDIR:-/tmp}/restart-bench.XXXXXX")
  trap 'rm -rf "$results"' EXIT
  t_start=$(date +%s)
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for v in hold nohold; do
    [[ ,$only, == *,$v,* ]] || continue
    echo "== run: $v" >&2
    "$0" --build-dir "$build" --routes "$routes" --one "$v" "$results/$v" \
      || { echo "the '$v' run failed (above)" >&2; exit 1; }
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
  dirty=""
  if git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then dirty=", uncommitted changes"; fi
  mkdir -p "$root/bench/results"
  file=$root/bench/results/restart-$(date +%Y%m%d-%H%M%S).md
  {
    echo "# tapflow restart benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores; commit $commit$dirty"
    echo "# $routes IPv4 /24s over eBGP (BIRD lb -> BIRD r1), OSPF LAN from FRR lf; OVS $(ovs-vswitchd --version | awk 'NR == 1 { print $NF }') userspace, OpenFlow 1.3; tapflowd $TAPFLOWD"
    echo "# SIGTERM to tapflowd under ping -i 0.01 to a BGP-learnt and an OSPF-learnt address; run took $(( $(date +%s) - t_start )) s; load before/after: $load_before / $load_after"
    echo
    echo "| run | config | reconcile (start -> in sync, all flows) | FLOW_MODs | GROUP_MODs | pings lost BGP / OSPF (longest gap) | r1 BGP / OSPF after | session state changes |"
    echo "|---|---|---|---|---|---|---|---|"
    for v in hold nohold; do
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

SESS_ROUTES=$routes SESS_CHURN=1000
sess_setup "restart_bench.$one" OpenFlow13 bird
# OVS reports max_entries 1000000 per table (nominal, not enforced): the FIB
# here has N routes plus connected and host flows.
sed -i 's/^  persist_taps: true$/&\n  table_capacity: 4294967295/' "$TAPD_CONFIG"
if [[ $one == nohold ]]; then
  sed -i -e 's/^  fd_store: .*/  fd_store: false/' -e 's/^  carrier_hold: .*/  carrier_hold: 0/' \
         -e 's/^  stale_hold: .*/  stale_hold: { max: 0 }/' "$TAPD_CONFIG"
fi
sys_log "config ($one): $(grep -E '^  (fd_store|carrier_hold|stale_hold|table_capacity):' "$TAPD_CONFIG" | tr -s ' \n' ' ')"
t0=${EPOCHREALTIME/./}
sess_start
sess_routers_start
sess_converged 900
sys_log "converged with $routes routes in $(( (${EPOCHREALTIME/./} - t0) / 1000000 )) s"

SESS_SCENARIO="restart ($one)"
sess_sessions_mark
sess_ping_start bgp "$SESS_PING_BGP"
sess_ping_start ospf "$SESS_PING_OSPF"
sleep 1
sys_step "SIGTERM to tapflowd, tapflowd again at once ($one)"
tapd_stop "$SESS_CTL"
t_start=${EPOCHREALTIME/./}
sess_start
# Reconciled: in sync and idle with every route in the kernel and the switch
# (without the hold the sessions drop and the routes come back over BGP).
deadline=$(( t_start + 900000000 ))
until sess__routes_complete && sess_in_sync; do
  (( ${EPOCHREALTIME/./} < deadline )) || sys_fail "not reconciled within 900 s"
  sys_alive "$(sys_daemon_pid "$SESS_CTL")" || sys_fail "tapflowd died"
  sleep 0.2
done
t_sync=$(( ${EPOCHREALTIME/./} - t_start ))
m=$(sess_metrics)
fm=$(sess_metric tapflow_fib_flow_mods_total "$m")
gm=$(sess_metric tapflow_fib_group_mods_total "$m")
sleep 2
pings=()
for p in bgp ospf; do
  sess_ping_stop "$p"
  read -r lost gap sent <<<"$(sess_ping_result "$p")"
  pings+=("$lost of $sent (${gap} ms)")
done
bgp=$(sys__bgp_state r1 "$SESS_BGP_PEER_IP")
ospf=$(sys__ospf_lines r1 "$SESS_OSPF_PEER_ID" | awk '{ print $3 }' | head -n1)
changes=$(sess_session_changes | grep -vc '^r1: .* now$' || true)
if [[ $one == hold ]]; then
  conf="fd_store, carrier_hold ${SESS_CARRIER_HOLD} s, stale_hold 5 s quiet / 120 s max"
else
  conf="carrier_hold 0, fd_store false, stale_hold max 0"
fi
printf '| %s | %s | %s s | %s | %s | %s / %s | %s / %s | %s |\n' "$one" "$conf" \
  "$(awk -v us="$t_sync" 'BEGIN { printf "%.1f", us / 1e6 }')" "${fm:-?}" "${gm:-?}" "${pings[0]}" "${pings[1]}" \
  "${bgp:-?}" "${ospf:-gone}" "$changes" >"$out"
sys_log "result: $(cat "$out")"
tapd_stop "$SESS_CTL"
sys_pass
