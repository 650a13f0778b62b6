#!/usr/bin/env bash
# Punt-storm benchmark (issue 15): offered flood rate against what the
# routing protocols lose, with control-plane protection and without.
#
# The lab of tests/system/punt_storm_test (tests/system/lib/punt_lab.sh,
# configs/lab/*punt*): tapflowd's router r1 (BIRD) on a private OVS
# (OpenFlow 1.3, meters), BIRD as lr on p2 behind a Linux bridge shared with
# flood host fl1, h1 on p1, h2 behind lr, fl2 on p3; OSPF (hello 1 / dead 4),
# eBGP (3/9) and BFD 100 ms x 3 between r1 and lr through the switch; h1
# pings h2 every 10 ms. For each offered rate (frames/s of ARP requests for
# r1's address and UDP to it, half each, from lib/flood.py; "max" = as fast
# as one core sends), a flood of --seconds from fl1 (or --host fl2), then:
#   sent     frames/s flood.py really sent;
#   switch   frames/s that reached the switch's tables (the rest was lost in
#            ovs-vswitchd's receive socket: the software switch's limit);
#   BFD down BFD session Up -> Down transitions (r1 + lr), BGP/OSPF down
#            (protocol or neighbour leaving Established/Full, r1 + lr);
#   BFD gap  the longest time r1's TAP got no BFD from lr (> 300 ms: down);
#   passed/s tapflowd's PACKET_INs written to the TAPs per second, by class
#            (routing, arp_nd, to_router), and the switch meters' drops;
#   pings    transit pings lost and the longest gap between replies.
# After each step the sessions must be back (up to 60 s) before the next.
# Two labs in one run: "protected" (router.punt_policer defaults, meters) and
# "unprotected" (punt_policer: false). Prints a markdown table and writes it
# to bench/results/punt-storm-DATE.md (untracked). Not run in CI.
#
# Usage (as root): bench/run_punt_storm_bench.sh [--build-dir DIR] [--rates LIST]
#   --build-dir  tree with src/daemon/tapflowd (default build)
#   --rates      comma-separated frames/s, "max" for as fast as possible
#                (default 10000,30000,60000,100000,max)
#   --seconds    length of each flood (default 10)
#   --host       fl1 (on lr's segment, default) or fl2 (its own port)
#   --only protected|unprotected  one of the two labs.
# Environment: SYS_KEEP=1 keeps the temp dirs (logs).
# Needs root, openvswitch-switch, iproute2, ethtool, bird2, tcpdump, curl, python3.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  sed -n '/^# Usage/,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
build=$root/build rates=10000,30000,60000,100000,max secs=10 host=fl1 only="" one="" out=""
while (( $# )); do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --rates) rates=${2:?}; shift 2 ;;
    --seconds) secs=${2:?}; shift 2 ;;
    --host) host=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --one) one=${2:?}; out=${3:?}; shift 3 ;;  # internal: one lab, table rows to a file
    *) usage ;;
  esac
done
[[ $secs =~ ^[0-9]+$ ]] && (( secs >= 3 && secs <= 120 )) || { echo "--seconds: 3..120" >&2; exit 2; }
[[ $rates =~ ^((max|[0-9]+),)*(max|[0-9]+)$ ]] || { echo "--rates: e.g. 10000,30000,max" >&2; exit 2; }
[[ $host == fl1 || $host == fl2 ]] || { echo "--host: fl1 or fl2" >&2; exit 2; }
TAPFLOWD=$(cd "$build" && pwd)/src/daemon/tapflowd
[[ -x $TAPFLOWD ]] || { echo "no tapflowd at $TAPFLOWD (build it first)" >&2; exit 2; }

if [[ -z $one ]]; then
  t_start=$(date +%s)
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  results=$(mktemp -d "${TMPDIR:-/tmp}/punt-storm-bench.XXXXXX")
  trap 'rm -rf "$results"' EXIT
  for v in protected unprotected; do
    [[ -z $only || $only == "$v" ]] || continue
    "$0" --build-dir "$build" --rates "$rates" --seconds "$secs" --host "$host" --one "$v" "$results/$v" \
      || echo "| $v | (the lab failed: see above) |||||||||||" >"$results/$v"
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  mkdir -p "$root/bench/results"
  file=$root/bench/results/punt-storm-$(date +%Y%m%d-%H%M%S).md
  {
    echo "# ARP + UDP flood to r1 from $host for ${secs} s per rate; BFD 100 ms x 3, OSPF 1/4, BGP 3/9 through the switch; h1 -> h2 ping -i 0.01; run took $(( $(date +%s) - t_start )) s; load before/after: $load_before / $load_after"
    echo
    echo "| policer | offered/s | sent/s | switch/s | BFD down | BGP/OSPF down | BFD gap ms | routing passed/s | arp_nd passed/s | to_router passed/s | meter drops/s | pings lost | ping gap ms |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for v in protected unprotected; do
      [[ -f $results/$v ]] && cat "$results/$v"
    done
  } >"$results/table.md"
  cat "$results/table.md"
  cp "$results/table.md" "$file"
  echo "(written to $file)" >&2
  exit 0
fi

# ---------------------------------------------------------------- one lab
# shellcheck source=../tests/system/lib/harness.sh
source "$root/tests/system/lib/harness.sh"
# shellcheck source=../tests/system/lib/routers.sh
source "$root/tests/system/lib/routers.sh"
# shellcheck source=../tests/system/lib/tapd_lab.sh
source "$root/tests/system/lib/tapd_lab.sh"
# shellcheck source=../tests/system/lib/routing_lab.sh
source "$root/tests/system/lib/routing_lab.sh"
# shellcheck source=../tests/system/lib/punt_lab.sh
source "$root/tests/system/lib/punt_lab.sh"

punt_setup "punt_storm_bench.$one" "$one"
punt_start ctl
punt_routers
punt_converged 45
: >"$out"
if [[ $host == fl1 ]]; then target=$PUNT_R1_P2 port=p2 src=$PUNT_FL1; else target=$PUNT_R1_P3 port=p3 src=$PUNT_FL2; fi
mac=$(sys_port_mac "$port")

# delta FILE0 FILE1 METRIC CLASS
delta() { echo $(( $(punt_val "$2" "$3" "$4") - $(punt_val "$1" "$3" "$4") )); }

IFS=, read -r -a rate_list <<<"$rates"
step=0
for r in "${rate_list[@]}"; do
  step=$(( step + 1 ))
  rate=$r; [[ $r == max ]] && rate=0
  sys_step "$one: flood at $r frames/s from $host for ${secs}s"
  m0=$SYS_DIR/m.$step.0 m1=$SYS_DIR/m.$step.1
  mark=$(punt_log_mark)
  punt_metrics "$m0"
  in0=$(punt_flow_pkts "$target")
  punt_bfd_capture_start "s$step"
  punt_ping_start "ping$step" $(( secs + 2 ))
  sleep 1
  punt_flood_start "flood$step" "$host" "$target" "$mac" "$src" "$secs" "$rate"
  punt_flood_wait "flood$step"
  punt_ping_wait "ping$step"
  bfd=$(punt_bfd_capture_stop "s$step")
  in1=$(punt_flow_pkts "$target")
  sleep 2.5  # the meters are read every 2 s
  punt_metrics "$m1"
  changes=$(punt_log_changes "$mark")
  bfd_down=$(grep -cE 'Session to .* changed state from Up to Down' <<<"$changes" || true)
  proto_down=$(grep -cE 'State changed to (stop|down)|changed state from Full to ' <<<"$changes" || true)
  bfd_gap=$(sed -nE 's/^r1 got .* longest gap ([0-9]+) ms.*/\1/p' <<<"$bfd")
  s=${PUNT_SENT_SECS%.*}; (( s > 0 )) || s=1
  w=$s  # per second of flood (the counters also cover the ~4 s around it, at background rates)
  drops=0
  for c in "${PUNT_CLASSES[@]}"; do drops=$(( drops + $(delta "$m0" "$m1" tapflow_punt_switch_meter_dropped_total "$c") )); done
  printf '| %s | %s | %d | %d | %d | %d | %s | %d | %d | %d | %d | %d/%d | %d |\n' "$one" "$r" "$PUNT_SENT_RATE" \
    $(( (in1 - in0) / s )) "$bfd_down" "$proto_down" "${bfd_gap:-?}" \
    $(( $(delta "$m0" "$m1" tapflow_punt_passed_total routing) / w )) \
    $(( $(delta "$m0" "$m1" tapflow_punt_passed_total arp_nd) / w )) \
    $(( $(delta "$m0" "$m1" tapflow_punt_passed_total to_router) / w )) \
    $(( drops / s )) "$PUNT_PING_LOST" "$PUNT_PING_SENT" "$PUNT_PING_GAP_MS" | tee -a "$out" >&2
  # The next step starts from converged sessions.
  punt_converged 60  # fails the lab if the sessions do not come back
  sleep 3
done
tapd_stop ctl
sys_pass
