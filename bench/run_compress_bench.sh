#!/usr/bin/env bash
# Builds fib_compress_bench (Release, in build-bench/ or $BUILD_DIR) and prints
# its tables for a generated 1M-route IPv4 table with 1, 2, 4 and 16 next hops:
# PrefixCompressor beside ORTC, build and update rates, diff sizes, memory.
# Usage: bench/run_compress_bench.sh [extra fib_compress_bench flags, e.g. --routes 200000]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-bench}

# WERROR off as in run_codec_bench.sh (GCC 12 -O3 false positives elsewhere).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAPFLOW_BENCH=ON -DTAPFLOW_WERROR=OFF \
  -DTAPFLOW_SYSTEM_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target fib_compress_bench >&2

for k in 4 1 2 16; do
  "$build/bench/fib_compress_bench" --nexthops "$k" "$@"
  echo
done
