#!/usr/bin/env bash
# The demo. For now (the codec milestone) it installs what is missing, builds,
# and decodes a sample controller<->switch session with tapflowctl: as text,
# then as JSON, then checks every message re-encodes byte for byte.
# It grows into the Mininet demo (OVS routed by tapflow, peering with BIRD/FRR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DTAPFLOW_BENCH=OFF
sample=tests/data/sample-session.hex
echo
echo "== tapflowctl decode --hex $sample"
build/src/daemon/tapflowctl decode --hex "$sample"
echo
echo "== the same session as JSON (first 3 messages)"
build/src/daemon/tapflowctl decode --hex --json "$sample" | head -n 3
echo
echo "== round trip: every message re-encodes to the same bytes"
build/src/daemon/tapflowctl decode --hex --roundtrip "$sample" >/dev/null
echo "summary: $(grep -cv '^\s*\(#\|$\)' "$sample" >/dev/null; build/src/daemon/tapflowctl decode --hex "$sample" | grep -c '^[A-Z]') messages decoded, all round-trip byte for byte"
