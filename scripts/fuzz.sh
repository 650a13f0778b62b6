#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and fuzzes the OpenFlow
# decoder (decode -> encode -> decode must agree) and the framer for a bounded
# time: SECONDS in all (default 60), three quarters for the decoder.
# Usage: scripts/fuzz.sh [SECONDS]
# Seeds are the Ryu conformance messages, copied at run time into
# fuzz/corpus-run/ (not committed; the corpus grows there from run to run).
# Exits non-zero on a finding; the input that triggered it is kept in
# build-fuzz/artifacts/ (replay: build-fuzz/fuzz/decode_fuzzer FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
conformance=${TAPFLOW_CONFORMANCE_DIR:-$root/../shared/conformance/ryu}
packets=$conformance/ryu/tests/packet_data

if ! [[ $seconds =~ ^[0-9]+$ ]] || (( seconds < 2 )); then
  echo "usage: scripts/fuzz.sh [SECONDS>=2]" >&2
  exit 2
fi

# clang must be able to link a libFuzzer + ASan + UBSan binary.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
  >"$probe/probe.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" \
     2>"$probe/err"; then
  cat "$probe/err" >&2
  echo "fuzz.sh: clang++ cannot link a libFuzzer target; install clang and its runtime" \
       "(Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi

echo "== building the fuzzers (build-fuzz/, clang, ASan + UBSan + libFuzzer)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPFLOW_FUZZ=ON -DTAPFLOW_BENCH=OFF \
  -DTAPFLOW_WERROR=OFF -DTAPFLOW_SYSTEM_TESTS=OFF \
  -DTAPFLOW_CONFORMANCE_DIR="$conformance" >/dev/null
cmake --build build-fuzz -j2 --target decode_fuzzer framer_fuzzer

# Seeds: every conformance message for the decoder; for the framer, streams of
# concatenated messages (the first byte of a framer input picks chunk sizes).
shopt -s nullglob
seeds=("$packets"/of10/*.packet "$packets"/of13/*.packet)
if (( ${#seeds[@]} == 0 )); then
  echo "fuzz.sh: no seed messages under $packets (set TAPFLOW_CONFORMANCE_DIR)" >&2
  exit 1
fi
corpus=$root/fuzz/corpus-run
mkdir -p "$corpus/decode" "$corpus/framer" "$root/build-fuzz/artifacts"
cp -n "${seeds[@]}" "$corpus/decode/"
for chunk in 1 7 64; do
  { printf "\\x$(printf %02x "$chunk")"; cat "${seeds[@]:0:12}"; } >"$corpus/framer/seed-$chunk"
done

status=0
run() {  # name seconds
  local name=$1 secs=$2 logs=$root/build-fuzz/fuzz-logs/$1 rc=0
  rm -rf "$logs"
  mkdir -p "$logs"
  echo "== $name: ${secs}s"
  # -jobs=1 runs the fuzzer in a child that logs to fuzz-0.log in the cwd.
  (cd "$logs" && "$root/build-fuzz/fuzz/$name" -max_total_time="$secs" -jobs=1 -workers=1 \
     -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
     -artifact_prefix="$root/build-fuzz/artifacts/$name-" "$corpus/${name%_fuzzer}") \
     >"$logs/run.out" 2>&1 || rc=$?
  local log=$logs/fuzz-0.log
  [[ -f $log ]] || log=$logs/run.out
  local execs rate
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
  rate=$(grep -h 'stat::average_exec_per_sec' "$log" | tail -n 1 | awk '{print $2}')
  echo "$name: ${execs:-?} executions (${rate:-?}/s), corpus $(ls "$corpus/${name%_fuzzer}" | wc -l) inputs"
  if (( rc != 0 )) || grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:|==[0-9]+==ERROR' "$log"; then
    echo "fuzz.sh: $name FOUND A PROBLEM (exit $rc); log: $log" >&2
    grep -E -A30 'ERROR|runtime error|invariant|!= m|does not' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
    ls -1 "$root/build-fuzz/artifacts/$name-"* 2>/dev/null | sed 's/^/  input: /' >&2 || true
    status=1
  fi
}

decode_secs=$(( seconds * 3 / 4 ))
run decode_fuzzer "$decode_secs"
run framer_fuzzer "$(( seconds - decode_secs ))"
if (( status == 0 )); then
  echo "fuzz.sh: no findings in ${seconds}s"
fi
exit "$status"
