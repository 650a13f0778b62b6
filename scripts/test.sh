#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   2. a bounded libFuzzer run of the OpenFlow decoder (build-fuzz/)
#   3. every other test in the release build (build/): tools, etcd, interop
#      with ovs-ofctl and tshark, and the system tests.
# Exits non-zero on the first failure. Set TAPFLOW_FUZZ_SECONDS to change the
# fuzz budget (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/setup.sh

echo "== sanitizer build (ASan + UBSan), unit tests"
# Both trees are unity builds (the same Asio, gtest and std templates compiled
# once per batch of files, not once per file: about half the compile time on
# 2 cores). lld links the instrumented test executables in a third of ld's time.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTAPFLOW_SANITIZE=ON \
  -DTAPFLOW_BENCH=OFF -DTAPFLOW_SYSTEM_TESTS=OFF -DCMAKE_UNITY_BUILD=ON -DTAPFLOW_UNIT_TESTS_PER_EXECUTABLE=ON \
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld >/dev/null
# Only the unit test executables: the daemon, tapflowctl and the other tests
# run in the release tree below.
cmake --build build-asan -j2 --target unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j2 --output-on-failure -L unit

echo "== fuzzing the decoder for ${TAPFLOW_FUZZ_SECONDS:-60} s"
scripts/fuzz.sh "${TAPFLOW_FUZZ_SECONDS:-60}"

echo "== release build, every other test"
# The unit tests ran above under the sanitizers: not built or run again here.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPFLOW_UNIT_TESTS=OFF \
  -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build build -j2
ctest --test-dir build -j2 --output-on-failure

echo "test.sh: all stages passed in $(( $(date +%s) - start )) s"
