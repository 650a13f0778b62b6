# shellcheck shell=bash
# Helpers of the live-reload tests (reload_test, vlan_reload_test): what the
# switch holds before and after a reload, what went over the wire, pings that
# run through it.
#
#   source lib/harness.sh lib/routers.sh lib/tapd_lab.sh lib/routing_lab.sh lib/reload_lab.sh
#   rl_ping_start NAME FROM DEST; ...; rl_ping_check NAME    # no echo lost
#   rl_flows FILE                                            # dump-flows, with durations
#   rl_snoop_start; ...; rl_snoop_stop; rl_flow_mods RE [delete]
#   python3 lib/flow_churn.py BEFORE AFTER SECONDS ADDED_RE REMOVED_RE

declare -A RL_PING_PID=() RL_PING_OUT=()

# rl_ping_start NAME FROM DEST : FROM pings DEST every 20 ms until rl_ping_check.
rl_ping_start() {
  RL_PING_OUT[$1]=$SYS_DIR/ping-$1.out
  ip netns exec "$(sys_ns_name "$2")" ping -n -D -i 0.02 -W 1 "$3" >"${RL_PING_OUT[$1]}" 2>&1 </dev/null &
  RL_PING_PID[$1]=$!
  SYS_BG_PIDS+=("$!")
}

# rl_ping_check NAME : stops the ping; every echo was answered but the last,
# which may still be on its way when SIGINT stops ping.
rl_ping_check() {
  local stats
  kill -INT "${RL_PING_PID[$1]}" 2>/dev/null || true
  wait "${RL_PING_PID[$1]}" 2>/dev/null || true
  stats=$(grep -E 'packets transmitted' "${RL_PING_OUT[$1]}" || true)
  sys_log "ping $1 every 20 ms: $stats"
  python3 - "${RL_PING_OUT[$1]}" <<'PY' || sys_fail "ping $1: echoes lost during the reloads: $stats"
import re, sys
text = open(sys.argv[1]).read()
sent = int(re.search(r"(\d+) packets transmitted", text).group(1))
got = {int(s) for s in re.findall(r"icmp_seq=(\d+) ", text)}
lost = sorted(set(range(1, sent)) - got)
print(f"    {sent} sent, {len(got)} answered, lost: {lost[:20] or 'none'}", file=sys.stderr)
sys.exit(1 if lost or sent < 100 else 0)
PY
}

# rl_flows FILE : br0's flows, with their durations.
rl_flows() { rt_ofctl dump-flows >"$1"; }

# rl_snoop_start / rl_snoop_stop : ovs-ofctl snoop of br0's controller
# connection (every message tapflowd sends or gets) into $RL_SNOOP_OUT.
RL_SNOOP_N=0 RL_SNOOP_OUT="" RL_SNOOP_PID=""
rl_snoop_start() {
  RL_SNOOP_N=$(( RL_SNOOP_N + 1 ))
  RL_SNOOP_OUT=$SYS_DIR/snoop-$RL_SNOOP_N.txt
  ovs-ofctl -O OpenFlow13 snoop br0 >"$RL_SNOOP_OUT" 2>&1 </dev/null &
  RL_SNOOP_PID=$!
  SYS_BG_PIDS+=("$RL_SNOOP_PID")
  sleep 1
  sys_alive "$RL_SNOOP_PID" || { cat "$RL_SNOOP_OUT" >&2; sys_fail "ovs-ofctl snoop br0 did not start"; }
}
rl_snoop_stop() {
  sleep 2  # what the reload set off (netlink, punt and FIB flows) has gone out
  sys_kill_pid "$RL_SNOOP_PID"
}

# rl_flow_mods ALLOWED_RE [delete] : every FLOW_MOD of the last snoop is an
# ADD (or with "delete" a DELETE) whose text matches ALLOWED_RE; prints how
# many there were.
rl_flow_mods() {
  python3 - "$RL_SNOOP_OUT" "$1" "${2:-add}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
allowed, kind = re.compile(sys.argv[2]), sys.argv[3]
# ofp-print: "OFPT_FLOW_MOD (OF1.3) (xid=0x..): ADD table:0 priority=... actions=..."
mods = re.findall(r"OFPT_FLOW_MOD[^\n]*:\s*([A-Z_]+)([^\n]*)", text)
want = "ADD" if kind == "add" else "DEL"
bad = [f"{cmd}{rest}" for cmd, rest in mods if not cmd.startswith(want) or not allowed.search(rest)]
for b in bad:
    print(f"    unexpected FLOW_MOD: {b}", file=sys.stderr)
print(len(mods))
sys.exit(1 if bad else 0)
PY
}
