#!/usr/bin/env bash
# Controller benchmark, one run: tapflowd (--app learning-switch) against
# ovs-testcontroller (C learning switch, OpenFlow 1.0 only, at most 16
# switches) and an os-ken learning switch (bench/oskenswitch.py), all driven
# by bench/cbench with the same settings:
#   throughput, 16 switches, OpenFlow 1.0   tapflowd, ovs-testcontroller, os-ken
#   latency,    16 switches, OpenFlow 1.0   tapflowd, ovs-testcontroller, os-ken
#   throughput, 16 switches, OpenFlow 1.3   tapflowd, os-ken
#   latency,    16 switches, OpenFlow 1.3   tapflowd, os-ken
#   1000 switches, OpenFlow 1.3             tapflowd, os-ken (connected, served)
# Each case gets a freshly started controller on a free loopback port, stopped
# by its PID afterwards. Nothing is pinned: on 2 cores the generator takes one
# and the controller the other. Prints a table (responses/s, ratios
# tapflowd/peer, the targets) and writes it to bench/results/controller-DATE.txt
# (untracked).
#
# Usage: bench/run_controller_bench.sh
# Environment: BUILD_DIR (build-bench), LOOPS (10), MS_PER_LOOP (1000),
#   WARMUP (2), MACS (1000 per switch), WINDOW (64), BIG_SWITCHES (1000),
#   BIG_MACS (16), BIG_WINDOW (4), CONTROLLERS ("tapflowd ovs osken"),
#   LATENCY_RUNS (3: the OpenFlow 1.0 latency case, which decides a target and
#   is the noisiest on a shared machine, runs tapflowd and ovs-testcontroller
#   alternately this many times; the table shows the median run),
#   SKIP_BUILD=1 to use the binaries as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build-bench}
loops=${LOOPS:-10}
ms=${MS_PER_LOOP:-1000}
warmup=${WARMUP:-2}
macs=${MACS:-1000}
window=${WINDOW:-64}
big=${BIG_SWITCHES:-1000}
big_macs=${BIG_MACS:-16}
big_window=${BIG_WINDOW:-4}
controllers=${CONTROLLERS:-"tapflowd ovs osken"}
latency_runs=${LATENCY_RUNS:-3}
python=/usr/bin/python3

if [[ -z ${SKIP_BUILD:-} ]]; then
  # Same configuration as run_codec_bench.sh, so both share one Release tree.
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_BENCH=ON \
    -DTAPFLOW_WERROR=OFF -DTAPFLOW_SYSTEM_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target tapflowd cbench >&2
fi
cbench=$root/$build/bench/cbench
tapflowd=$root/$build/src/daemon/tapflowd
for bin in "$cbench" "$tapflowd"; do
  [[ -x $bin ]] || { echo "missing $bin (build it, or unset SKIP_BUILD)" >&2; exit 1; }
done
command -v ovs-testcontroller >/dev/null || { echo "ovs-testcontroller is not installed" >&2; exit 1; }
[[ -x /usr/bin/osken-manager ]] || { echo "/usr/bin/osken-manager (python3-os-ken) is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
ctl_pid=""
stop_controller() {
  [[ -n $ctl_pid ]] || return 0
  if kill -TERM "$ctl_pid" 2>/dev/null; then
    for _ in $(seq 50); do
      kill -0 "$ctl_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$ctl_pid" 2>/dev/null || true
  fi
  wait "$ctl_pid" 2>/dev/null || true
  ctl_pid=""
}
cleanup() {
  stop_controller
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something listens on 127.0.0.1:$1 (without connecting to it,
# which a controller would take for a switch) while process $2 lives.
wait_listening() {
  local port=$1 pid=$2
  for _ in $(seq 200); do
    if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# start_controller NAME PORT: starts it in the background, sets ctl_pid.
start_controller() {
  local name=$1 port=$2 log=$tmp/$1-$2.log
  case $name in
    tapflowd)
      "$tapflowd" --listen "tcp:127.0.0.1:$port" --app learning-switch --log-level warn \
        >"$log" 2>&1 &
      ;;
    ovs)
      ovs-testcontroller -O OpenFlow10 --unixctl="$tmp/ovs-$port.ctl" -vconsole:off \
        -vsyslog:off "ptcp:$port:127.0.0.1" >"$log" 2>&1 &
      ;;
    osken)
      "$python" /usr/bin/osken-manager --ofp-listen-host 127.0.0.1 \
        --ofp-tcp-listen-port "$port" "$root/bench/oskenswitch.py" >"$log" 2>&1 &
      ;;
  esac
  ctl_pid=$!
  if ! wait_listening "$port" "$ctl_pid"; then
    echo "$name did not start listening on port $port:" >&2
    tail -20 "$log" >&2
    stop_controller
    return 1
  fi
}

# run_case KEY NAME RUN cbench-args...: one controller, one cbench run; keeps
# the RESULT line in $tmp/KEY.NAME.runRUN.
run_case() {
  local key=$1 name=$2 run=$3
  shift 3
  local port out=$tmp/$key.$name.run$run.out res=$tmp/$key.$name.run$run
  port=$(free_port)
  echo "== $key: $name (port $port): cbench $*" >&2
  if ! start_controller "$name" "$port"; then
    echo "RESULT avg=0 failed=start" >"$res"
    return 0
  fi
  "$cbench" --controller "127.0.0.1:$port" --controller-pid "$ctl_pid" "$@" >"$out" 2>&1 || true
  grep -v '^loop' "$out" | sed 's/^/   /' >&2
  grep '^RESULT avg=' "$out" >"$res" || echo "RESULT avg=0 failed=cbench" >"$res"
  # A controller that died during the run is a failure, not a slow result.
  if ! kill -0 "$ctl_pid" 2>/dev/null; then
    echo "   $name exited during the run; its log:" >&2
    tail -20 "$tmp/$name-$port.log" | sed 's/^/   /' >&2
  fi
  stop_controller
}

has() { [[ " $controllers " == *" $1 "* ]]; }

# pick_median KEY NAME: $tmp/KEY.NAME becomes the run with the median rate;
# with several runs, $tmp/KEY.NAME.range holds "N runs, range MIN..MAX".
pick_median() {
  local key=$1 name=$2 f
  local -a runs=()
  for f in "$tmp/$key.$name".run[0-9]*; do
    [[ -f $f && $f != *.out ]] && runs+=("$(sed -n 's/^RESULT avg=\([0-9]*\).*/\1/p' "$f") $f")
  done
  ((${#runs[@]})) || return 0
  mapfile -t runs < <(printf '%s\n' "${runs[@]}" | sort -n)
  cp "${runs[$((${#runs[@]} / 2))]#* }" "$tmp/$key.$name"
  if ((${#runs[@]} > 1)); then
    echo "${#runs[@]} runs, range ${runs[0]%% *}..${runs[-1]%% *}" >"$tmp/$key.$name.range"
  fi
}

common=(--loops "$loops" --ms-per-loop "$ms" --warmup "$warmup" --macs "$macs")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)

for v in 1.0 1.3; do
  for mode in throughput latency; do
    key="$mode-16-$v"
    runs=1
    [[ $mode == latency && $v == 1.0 ]] && runs=$latency_runs
    for run in $(seq "$runs"); do
      for name in tapflowd ovs osken; do
        has "$name" || continue
        [[ $name == ovs && $v == 1.3 ]] && continue  # its learning switch speaks 1.0 only
        [[ $name == osken && $run -gt 1 ]] && continue  # far from the targets: once will do
        run_case "$key" "$name" "$run" --switches 16 --version "$v" --mode "$mode" \
          --window "$window" "${common[@]}"
      done
    done
    for name in tapflowd ovs osken; do pick_median "$key" "$name"; done
  done
done
for name in tapflowd osken; do
  has "$name" || continue
  run_case "big-1.3" "$name" 1 --switches "$big" --version 1.3 --mode throughput \
    --window "$big_window" --loops "$loops" --ms-per-loop "$ms" --warmup "$warmup" \
    --macs "$big_macs" --connect-timeout-ms 60000
  pick_median "big-1.3" "$name"
done
elapsed=$(($(date +%s) - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# field FILE KEY: a key=value from a RESULT line ("" if absent).
field() {
  [[ -f $1 ]] || return 0
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $(cat "$1")"
}
ratio() {  # ratio A B: A/B with one decimal, "-" if either is missing or 0
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a + 0 == 0 || b + 0 == 0) print "-"; else printf "%.1fx", a / b }'
}
num() { [[ -n $1 && $1 != 0 ]] && printf "%'.0f" "$1" || printf -- "-"; }

table() {
  echo "tapflow controller benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) cores"
  echo "cbench: $loops loops of $ms ms after $warmup warmup loops; 16-switch cases: $macs MACs/switch," \
       "throughput window $window; big case: $big switches, $big_macs MACs/switch, window $big_window"
  echo "controllers: tapflowd --app learning-switch; ovs-testcontroller $(ovs-testcontroller -V | head -1 | awk '{print $NF}') -O OpenFlow10;" \
       "os-ken $("$python" -c 'import os_ken; print(os_ken.__version__)') bench/oskenswitch.py"
  echo "load average before/after: $load_before / $load_after (other work on the machine skews results); run took ${elapsed}s"
  echo
  printf "%-26s %12s %12s %12s %10s %10s\n" "case (responses/s)" tapflowd ovs-testctl os-ken "vs ovs" "vs os-ken"
  local key label t o k
  for key in throughput-16-1.0 latency-16-1.0 throughput-16-1.3 latency-16-1.3; do
    label=${key//-16-/ 16 sw OF}
    t=$(field "$tmp/$key.tapflowd" avg)
    o=$(field "$tmp/$key.ovs" avg)
    k=$(field "$tmp/$key.osken" avg)
    printf "%-26s %12s %12s %12s %10s %10s\n" "$label" "$(num "$t")" "$(num "$o")" "$(num "$k")" \
      "$(ratio "$t" "$o")" "$(ratio "$t" "$k")"
  done
  for name in tapflowd ovs; do
    [[ -f $tmp/latency-16-1.0.$name.range ]] &&
      echo "  latency 16 sw OF1.0, $name: median of $(cat "$tmp/latency-16-1.0.$name.range")"
  done
  echo
  printf "%-26s %18s %18s %18s\n" "round trip p50/avg/p99 us" tapflowd ovs-testctl os-ken
  for key in latency-16-1.0 latency-16-1.3; do
    local cells=()
    for name in tapflowd ovs osken; do
      if [[ -f $tmp/$key.$name ]] && [[ $(field "$tmp/$key.$name" avg) != 0 ]]; then
        cells+=("$(field "$tmp/$key.$name" lat_p50_us | cut -d. -f1)/$(field "$tmp/$key.$name" lat_avg_us | cut -d. -f1)/$(field "$tmp/$key.$name" lat_p99_us | cut -d. -f1)")
      else
        cells+=("-")
      fi
    done
    printf "%-26s %18s %18s %18s\n" "${key//-16-/ 16 sw OF}" "${cells[@]}"
  done
  echo
  # CPU time per answered PACKET_IN over the measured loops (from /proc): what
  # decides the rate when the cores are shared; and how busy each side was.
  printf "%-26s %16s %16s %16s\n" "controller CPU us/answer" tapflowd ovs-testctl os-ken
  for key in throughput-16-1.0 latency-16-1.0 throughput-16-1.3 latency-16-1.3 big-1.3; do
    local cells=()
    for name in tapflowd ovs osken; do
      if [[ -f $tmp/$key.$name ]] && [[ $(field "$tmp/$key.$name" avg) != 0 ]]; then
        cells+=("$(field "$tmp/$key.$name" ctl_us_per_answer) ($(awk -v u="$(field "$tmp/$key.$name" ctl_cpu)" 'BEGIN { printf "%.0f%%", 100 * u }'))")
      else
        cells+=("-")
      fi
    done
    printf "%-26s %16s %16s %16s\n" "${key//-16-/ 16 sw OF}" "${cells[@]}"
  done
  echo "  (in parentheses: the controller's share of one core; cbench's own share per case is below)"
  echo
  printf "%-26s %12s %12s %12s\n" "$big switches OF1.3" tapflowd ovs-testctl os-ken
  local cells=() rates=()
  for name in tapflowd ovs osken; do
    if [[ -f $tmp/big-1.3.$name ]]; then
      cells+=("$(field "$tmp/big-1.3.$name" served)/$(field "$tmp/big-1.3.$name" switches)")
      rates+=("$(num "$(field "$tmp/big-1.3.$name" avg)")")
    else
      cells+=("-")
      rates+=("-")
    fi
  done
  printf "%-26s %12s %12s %12s\n" "  connected+served" "${cells[@]}"
  printf "%-26s %12s %12s %12s\n" "  responses/s" "${rates[@]}"
  echo "  (ovs-testcontroller accepts at most 16 switches)"
  echo
  # Every case: answered PACKET_INs differ from responses if a controller
  # sends more than one message per PACKET_IN; lost = never answered.
  echo "details (answered/s, lost, unmatched, disconnects, errors, cbench CPU share):"
  for f in "$tmp"/*.tapflowd "$tmp"/*.ovs "$tmp"/*.osken; do
    [[ -f $f ]] || continue
    printf "  %-28s answered=%s lost=%s unmatched=%s disconnects=%s errors=%s gen_cpu=%s\n" \
      "$(basename "$f")" "$(field "$f" answered)" "$(field "$f" lost)" "$(field "$f" unmatched)" \
      "$(field "$f" disconnects)" "$(field "$f" errors)" "$(field "$f" gen_cpu)"
  done
  echo
  local thr lat okthr oklat served
  thr=$(ratio "$(field "$tmp/throughput-16-1.0.tapflowd" avg)" "$(field "$tmp/throughput-16-1.0.ovs" avg)")
  lat=$(ratio "$(field "$tmp/latency-16-1.0.tapflowd" avg)" "$(field "$tmp/latency-16-1.0.ovs" avg)")
  okthr=$(awk -v r="${thr%x}" 'BEGIN { print (r != "-" && r + 0 >= 3) ? "met" : "MISSED" }')
  oklat=$(awk -v r="${lat%x}" 'BEGIN { print (r != "-" && r + 0 >= 1.5) ? "met" : "MISSED" }')
  served=$(field "$tmp/big-1.3.tapflowd" served)
  local cpu
  cpu=$(ratio "$(field "$tmp/latency-16-1.0.ovs" ctl_us_per_answer)" \
    "$(field "$tmp/latency-16-1.0.tapflowd" ctl_us_per_answer)")
  echo "targets: throughput 16 sw >= 3x ovs-testcontroller: $thr $okthr;" \
       "latency 16 sw >= 1.5x: $lat $oklat (CPU per answer: ovs/tapflowd $cpu);" \
       "$big switches served by tapflowd: ${served:-0}/$big $([[ ${served:-0} == "$big" ]] && echo met || echo MISSED)"
}

mkdir -p bench/results
result=bench/results/controller-$(date +%Y%m%d-%H%M%S).txt
table | tee "$result"
echo "written to $result" >&2
