#!/usr/bin/env bash
# Configures and builds tapflow in build/ (RelWithDebInfo, warnings as errors).
# Usage: scripts/build.sh [--demo] [extra cmake -D options]
#   (no --demo)  every target: libraries, tapflowd, tapflowctl, tests, benchmarks
#   --demo       only what scripts/demo.sh runs: tapflowd (with tapflow-fdstore,
#                which it starts) and tapflowctl; the tests and benchmarks are
#                left for scripts/test.sh (a fresh machine saves most of the build)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
if [[ ${1:-} == --demo ]]; then
  shift
  targets=(--target tapflowd tapflowctl)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j2 "${targets[@]}"
