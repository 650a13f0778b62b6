#!/usr/bin/env bash
# Builds codec_bench (Release, in build-bench/ or $BUILD_DIR), runs it and the
# os-ken peer (bench/codec_peer.py) on the same messages, and prints a table
# of messages/s with the ratio ours/os-ken.
# Usage: bench/run_codec_bench.sh        (BENCH_SECONDS=1 per case by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}
seconds=${BENCH_SECONDS:-1}

# WERROR off: GCC 12 at -O3 gives false -Wstringop-overread warnings inside
# boost::container::small_vector; the -O2 builds keep warnings as errors.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_BENCH=ON -DTAPFLOW_WERROR=OFF \
  -DTAPFLOW_SYSTEM_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target codec_bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench/codec_bench" --dump="$tmp/messages"
echo "== tapflow codec (Google Benchmark, ${seconds}s per case)" >&2
"$build/bench/codec_bench" --benchmark_format=json --benchmark_min_time="$seconds" \
  >"$tmp/ours.json"
echo "== os-ken $(/usr/bin/python3 -c 'import os_ken; print(os_ken.__version__)' 2>/dev/null || true) (bench/codec_peer.py)" >&2
/usr/bin/python3 bench/codec_peer.py "$tmp/messages" --seconds "$seconds" --json >"$tmp/peer.json"

/usr/bin/python3 - "$tmp/ours.json" "$tmp/peer.json" <<'PY'
import json, sys
ours = {b["name"]: b["items_per_second"] for b in json.load(open(sys.argv[1]))["benchmarks"]}
peer = json.load(open(sys.argv[2]))
print(f"{'case':34} {'tapflow msg/s':>14} {'os-ken msg/s':>13} {'ours/os-ken':>12}")
for name, r in ours.items():
    p = peer.get(name)
    ratio = f"{r / p:11.1f}x" if p else "          -"
    pstr = f"{p:13,.0f}" if p else f"{'-':>13}"
    print(f"{name:34} {r:14,.0f} {pstr} {ratio}")
PY
