#!/usr/bin/env bash
# The README demo: Open vSwitch routed by tapflowd next to legacy BIRD and
# FRR routers, in Mininet (mininet-topos/, topology "demo"):
#   1. installs what is missing (scripts/setup.sh) and builds what the demo
#      runs (scripts/build.sh --demo: tapflowd, tapflow-fdstore, tapflowctl;
#      the tests and benchmarks are scripts/test.sh's);
#   2. checks the OpenFlow codec on a recorded session (one line);
#   3. runs the demo topology: a private Open vSwitch (userspace datapath)
#      and tapflowd in a private network namespace, BIRD in tapflowd's
#      router namespace, BIRD and FRR legacy routers and hosts in Mininet;
#      OSPF + eBGP (with BFD) converge; it prints adjacencies, sessions and
#      BFD sessions, the routes
#      learned, the flows and groups installed, a ping matrix, the proof
#      that transit traffic went through flows and not the controller, and
#      two failovers (link down, silent failure detected by BFD) with their
#      measured times.
# Everything it starts is stopped and removed at the end; nothing
# system-wide (no system OVS, no root-namespace interfaces) is touched.
#   scripts/demo.sh            # about a minute once built
#   scripts/demo.sh --cli      # stay in the Mininet CLI before tearing down
#   scripts/demo.sh --keep     # keep the run directory (configs, logs)
# Exit status 0 only if every check held.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --demo

sample=tests/data/sample-session.hex
n=$(build/src/daemon/tapflowctl decode --hex "$sample" | grep -c '^[A-Z]')
build/src/daemon/tapflowctl decode --hex --roundtrip "$sample" >/dev/null
echo "demo: tapflowctl decoded $n OpenFlow messages of $sample; all re-encode byte for byte"

exec /usr/bin/python3 mininet-topos/lab.py demo --tapflowd build/src/daemon/tapflowd --failover both "$@"
