# shellcheck shell=bash disable=SC2034,SC2153  # SESS_* are for the tests; TAPD_*, RT_* from the other labs
# The lab of routing_sessions_test (issue 14: "Restarts and reconnects never
# drop a routing session"): a routing daemon in tapflowd's namespace learns
# its routes over eBGP and OSPF from legacy routers through the switch, while
# tapflowd restarts, is killed, or loses the switch connection.
#
# Port mode (configs/lab/tapflowd-sessions.yaml), sess_setup NAME PROTOCOLS bird|frr:
#
#   h1 10.0.1.10 -- p1 [ br0, dpid 1 ] p2 -- lb 10.0.2.2   BIRD, eBGP AS 65002: SESS_ROUTES
#                           |    |                           /24s from 100.0.0.0 up (bulk +
#                           |    |                           churn); 100.0.0.1 on its lo
#                           |    p3 -- lf 10.0.3.2 -- 10.0.4.1 | h4 10.0.4.10
#                           |         OSPF area 0 (FRR with a BIRD r1, BIRD with an FRR r1)
#              tapflowd, namespace <id>-r1: TAPs eth1..eth3 = p1..p3 (10.0.N.1/24),
#              r1 = BIRD (bird-sessions-r1.conf) or FRR (frr-sessions-r1/)
#
# VLAN mode (lib/vlan_lab.sh, configs/lab/tapflowd-vlan.yaml), sess_vlan_setup NAME:
# the VLAN lab plus lv (BIRD, bird-sessions-lv.conf) on p6, an access port of
# VLAN 10: OSPF and eBGP with r1 over TAP vlan10; lv announces 10.0.30.0/24
# (OSPF, 10.0.30.1 on its lo) and SESS_ROUTES /24s (BGP, 100.0.0.1 on its lo);
# h20a in VLAN 20 pings both, routed by the switch.
#
# Two pings (`ping -i 0.01`) run across each scenario, one to an address in a
# BGP-learnt prefix and one in an OSPF-learnt prefix (SESS_PING_*):
#   source lib/harness.sh lib/routers.sh lib/tapd_lab.sh lib/routing_lab.sh
#          [lib/vlan_lab.sh] lib/session_lab.sh
#   sess_setup NAME OpenFlow13 bird; sess_start; sess_routers_start; sess_converged 90
#   sess_begin "1. SIGTERM + restart"; sess_restart term; sess_end_hitless 10
#   sess_begin "4. 3 s cut"; sess_cut 3; sess_end_hitless
#   sess_finish
# sess_begin waits until everything is converged (sessions up, every route in
# the kernel and the switch, pings answered), notes the routers' session state
# and starts the pings; sess_end_hitless waits until tapflowd is in sync and
# idle, then asserts: no echo lost, no BGP or OSPF state change on r1 or on the
# legacy routers, at most N FLOW_MODs in the scenario (from the restarted
# tapflowd, or since the start for a cut), and the
# switch's FIB exactly the kernel's (tests/system/lib/fib_check.py) once the
# stale entries are swept.
#
# Environment:
#   SESS_ROUTES / SESS_CHURN   routes lb announces / of those, the ones of the
#                              `churn` protocol (set by the test per case)
#   SESS_KEEP_GOING=1  a failed assertion is reported and the run goes on to
#                      the next scenario (the test still fails at the end):
#                      all the evidence of one run against an old tapflowd
#   SESS_PRE14=1       drop the config keys of issue 14 (lines marked
#                      "# issue 14") for a tapflowd that predates them, to
#                      show that the tests fail without the feature

if [[ -n ${SYS_SESSION_LAB_LOADED:-} ]]; then return 0; fi
SYS_SESSION_LAB_LOADED=1
[[ -n ${SYS_ROUTING_LAB_LOADED:-} ]] || \
  { echo "session_lab.sh: source lib/harness.sh, lib/routers.sh, lib/tapd_lab.sh and lib/routing_lab.sh first" >&2; exit 1; }

SESS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SESS_ROUTES=${SESS_ROUTES:-200000}
SESS_CHURN=${SESS_CHURN:-50000}
# tapflowd runs its default keepalive (tapflowd-sessions.yaml has none): the
# switch connection is declared lost after 5 s x 3 = 15 s of silence; a
# shorter cut only stalls the TCP connection, which resumes (no disconnect).
SESS_DETECT_S=15
# Carrier hold of the lab (counted from that detection): short, so that a cut
# longer than detection + hold (sess_cut_past_hold) fits the time budget.
SESS_CARRIER_HOLD=${SESS_CARRIER_HOLD:-4}
SESS_MODE=""           # ports | vlan
SESS_R1_KIND=""        # bird | frr
SESS_CTL="" SESS_CTL_N=0 SESS_CHURN_ON=1
SESS_OSPF_PEER="" SESS_OSPF_PEER_ID="" SESS_BGP_PEER="" SESS_BGP_PEER_IP="" SESS_R1_BGP_IP=""
SESS_OSPF_PREFIX="" SESS_OSPF_IF="" SESS_UPLINK_IF=""
SESS_PING_FROM="" SESS_PING_BGP=100.0.0.1 SESS_PING_OSPF=""
SESS_SCENARIO="" SESS_SCENARIO_T0=0
SESS_R1_ID=10.255.0.1
declare -a SESS_FAILURES=() SESS_TIMES=() SESS_PINGS=()
declare -A SESS_PING_PID=() SESS_PING_OUT=() SESS_LOG_MARK=() SESS_FRR_MARK=() SESS_FRR_MARK_T=()

# ---------------------------------------------------------------- set-up

# sess__gen_routes FIRST COUNT : BIRD static routes, the /24s number FIRST ..
# FIRST+COUNT-1 counted from 100.0.0.0/24, one `route ... blackhole;` a line.
sess__gen_routes() {
  awk -v first="$1" -v n="$2" 'BEGIN {
    for (i = first; i < first + n; i++)
      printf "  route %d.%d.%d.0/24 blackhole;\n", 100 + int(i / 65536), int(i / 256) % 256, i % 256
  }'
}

# sess__issue14_config FILE : with SESS_PRE14=1, the issue-14 lines go.
sess__issue14_config() {
  if [[ ${SESS_PRE14:-0} == 1 ]]; then
    sed -i -E -e '/# issue 14$/d' -e '/^  (fd_store|carrier_hold|stale_hold):/d' "$1"
    sys_log "SESS_PRE14=1: the issue-14 keys (fd_store, carrier_hold, stale_hold) are left out of $1"
  fi
}

sess__diagnostics() {
  printf -- '-- session lab: scenario "%s"; tapflowd %s; pings:\n' "$SESS_SCENARIO" "$SESS_CTL"
  local n
  for n in "${SESS_PINGS[@]}"; do
    [[ -f ${SESS_PING_OUT[$n]:-} ]] && printf '   %s: %s\n' "$n" "$(tail -n 2 "${SESS_PING_OUT[$n]}" | tr '\n' ' ')"
  done
  if [[ -n $RT_METRICS_PORT ]]; then
    printf -- '-- tapflowd FIB metrics:\n'
    sys_lab curl -sf --max-time 3 "http://127.0.0.1:$RT_METRICS_PORT/metrics" 2>/dev/null \
      | grep -E '^tapflow_(fib|fdstore)_' | sed 's/^/   /' || true
  fi
}

# sess_setup NAME PROTOCOLS bird|frr : port mode (see the top).
sess_setup() {
  local name=$1 protocols=$2 kind=$3
  SESS_MODE=ports SESS_R1_KIND=$kind
  rt_lab_start "$name" "$protocols" sess_setup
  sys_require bird birdc nft curl python3
  [[ $kind == bird ]] || sys_require vtysh
  SYS_DIAG_HOOKS+=(sys__tapd_diagnostics sys__routing_diagnostics sess__diagnostics)
  sys_add_port_host h1 br0 p1 10.0.1.10/24
  sys_ns h1 ip route add default via 10.0.1.1
  sys_add_port_host lb br0 p2 10.0.2.2/24
  sys_ns lb ip addr add 100.0.0.1/32 dev lo
  sys_add_port_host lf br0 p3 10.0.3.2/24
  sys_ns_create h4
  sys_veth lf eth1 h4 eth0 10.0.4.1/24 10.0.4.10/24
  sys_ns h4 ip route add default via 10.0.4.1
  sys_ns lf sysctl -qw net.ipv4.ip_forward=1
  SESS_OSPF_PEER=lf SESS_OSPF_PEER_ID=10.255.0.2 SESS_BGP_PEER=lb SESS_BGP_PEER_IP=10.0.2.2
  SESS_R1_BGP_IP=10.0.2.1 SESS_OSPF_PREFIX=10.0.4.0/24 SESS_OSPF_IF=eth3 SESS_UPLINK_IF=eth2
  SESS_PING_FROM=h1 SESS_PING_OSPF=10.0.4.10
  TAPD_CONFIG=$SYS_DIR/tapflowd.yaml
  TAPD_PORT=$(sys_free_port lab)
  RT_METRICS_PORT=$(sys_free_port lab)
  [[ $RT_METRICS_PORT != "$TAPD_PORT" ]] || RT_METRICS_PORT=$(( TAPD_PORT + 1 ))
  sys_render "$SYS_LAB_CONFIGS/tapflowd-sessions.yaml" "$TAPD_CONFIG" LISTEN_PORT="$TAPD_PORT" \
    NETNS="$(sys_ns_name "$TAPD_NS")" METRICS_PORT="$RT_METRICS_PORT" CARRIER_HOLD="$SESS_CARRIER_HOLD"
  sess__issue14_config "$TAPD_CONFIG"
  sys_log "tapflowd config $TAPD_CONFIG (port $TAPD_PORT, metrics $RT_METRICS_PORT, carrier_hold $SESS_CARRIER_HOLD s)"
}

# sess_vlan_setup NAME : VLAN mode (see the top): vlan_setup, lv on port 6
# (VLAN 10 untagged), the issue-14 knobs of tapflowd-sessions.yaml added to
# the VLAN lab's config.
sess_vlan_setup() {
  local keys
  SESS_MODE=vlan SESS_R1_KIND=bird
  vlan_setup "$1" OpenFlow13
  sys_require bird birdc nft
  SYS_DIAG_HOOKS+=(sess__diagnostics)
  sys_add_port_host lv br0 p6 10.0.10.2/24
  [[ ${SYS_HOST_OFPORT[lv]} == 6 ]] || sys_fail "lv is on port ${SYS_HOST_OFPORT[lv]}, not 6 (VLAN 10's spare port)"
  sys_ns lv ip addr add 100.0.0.1/32 dev lo
  sys_ns lv ip addr add 10.0.30.1/32 dev lo
  SESS_OSPF_PEER=lv SESS_OSPF_PEER_ID=10.255.0.4 SESS_BGP_PEER=lv SESS_BGP_PEER_IP=10.0.10.2
  SESS_R1_BGP_IP=10.0.10.1 SESS_OSPF_PREFIX=10.0.30.0/24 SESS_OSPF_IF=vlan10 SESS_UPLINK_IF=vlan10
  SESS_PING_FROM=h20a SESS_PING_OSPF=10.0.30.1
  # The same knobs as tapflowd-sessions.yaml, marked likewise (and, like it,
  # tapflowd's default keepalive: the VLAN lab's config sets none).
  keys=$(sed -nE '/^(  (fd_store|carrier_hold|stale_hold):.*# issue 14)$/p' "$SYS_LAB_CONFIGS/tapflowd-sessions.yaml" \
           | sed "s/@CARRIER_HOLD@/$SESS_CARRIER_HOLD/")
  [[ $(wc -l <<<"$keys") == 3 ]] || sys_fail "tapflowd-sessions.yaml: the three issue-14 lines not found"
  # (Keys the VLAN lab's config sets itself, e.g. fd_store, stay as it says.)
  python3 - "$TAPD_CONFIG" "$keys" <<'EOF'
import sys
path, keys = sys.argv[1], sys.argv[2]
text = open(path).read()
anchor = "\n  persist_taps: true\n"
assert anchor in text, "no persist_taps line in " + path
# Only the knobs the VLAN lab's config does not set itself.
keys = [k for k in keys.splitlines() if "\n" + k.split(":")[0] + ":" not in text]
text = text.replace(anchor, anchor + "".join(k + "\n" for k in keys), 1)
assert "\nkeepalive:" not in text, path + " sets a keepalive: the sessions lab runs tapflowd's default"
open(path, "w").write(text)
EOF
  sess__issue14_config "$TAPD_CONFIG"
  sys_log "tapflowd config: $(grep -E '^  (fd_store|carrier_hold|stale_hold):' "$TAPD_CONFIG" | tr -s ' \n' ' ' || true)default keepalive"
}

# sess_start : tapflowd (ctl, ctl2, ...) with $TAPD_CONFIG; switch connected,
# TAPs with carrier, forwarding on in the namespace.
sess_start() {
  SESS_CTL_N=$(( SESS_CTL_N + 1 ))
  SESS_CTL=ctl
  (( SESS_CTL_N == 1 )) || SESS_CTL=ctl$SESS_CTL_N
  if [[ $SESS_MODE == vlan ]]; then
    vlan_start "$SESS_CTL"
    sys_ns "$TAPD_NS" sysctl -qw net.ipv4.ip_forward=1
  else
    routing_start "$SESS_CTL"
  fi
  # (The fd store tapflowd spawns is registered for cleanup by
  # sys_tapflowd_start, under both.)
}

# sess_routers_start : r1 in tapflowd's namespace and the legacy routers.
sess_routers_start() {
  local d f bulk=$(( SESS_ROUTES - SESS_CHURN )) t0=${EPOCHREALTIME/./}
  (( bulk >= 1 && SESS_CHURN >= 0 )) || sys_fail "SESS_ROUTES ($SESS_ROUTES) must exceed SESS_CHURN ($SESS_CHURN)"
  sys_step "routers: r1 ($SESS_R1_KIND) in $(sys_ns_name "$TAPD_NS"), $SESS_BGP_PEER (BGP, $SESS_ROUTES routes), $SESS_OSPF_PEER (OSPF)"
  d=$(sys_router_dir r1)
  if [[ $SESS_R1_KIND == bird ]]; then
    if [[ $SESS_MODE == vlan ]]; then
      sys_render "$SYS_LAB_CONFIGS/bird-sessions-r1.conf" "$d/bird.conf" RUN_DIR="$d" OSPF_IF=vlan10 \
        STUB_IF=vlan20 BGP_LOCAL=10.0.10.1 BGP_PEER=10.0.10.2
    else
      sys_render "$SYS_LAB_CONFIGS/bird-sessions-r1.conf" "$d/bird.conf" RUN_DIR="$d" OSPF_IF=eth3 \
        STUB_IF=eth1 BGP_LOCAL=10.0.2.1 BGP_PEER=10.0.2.2
    fi
    sys_bird_start r1 "$TAPD_NS" "$d/bird.conf"
  else
    sys_frr_start r1 "$TAPD_NS" "$SYS_LAB_CONFIGS/frr-sessions-r1"
  fi
  # The BGP speaker: its routes written inline into its config.
  d=$(sys_router_dir "$SESS_BGP_PEER")
  sess__gen_routes 0 "$bulk" >"$d/bulk.routes"
  sess__gen_routes "$bulk" "$SESS_CHURN" >"$d/churn.routes"
  sess__render_speaker "$d"
  sys_bird_start "$SESS_BGP_PEER" "$SESS_BGP_PEER" "$d/bird.conf"
  if [[ $SESS_MODE == ports ]]; then
    if [[ $SESS_R1_KIND == bird ]]; then
      d=$(sys_router_dir lf-conf)
      for f in zebra ospfd; do
        sys_render "$SYS_LAB_CONFIGS/frr-legacy/$f.conf" "$d/$f.conf" UPLINK_IF=eth0 LAN_IF=eth1
      done
      # The sessions lab's OSPF dead interval (8, as every router here: see
      # bird-sessions-r1.conf) in this copy only; frr-legacy keeps its 4 for
      # the other tests.
      sed -i -e 's/^ ip ospf dead-interval 4$/ ip ospf dead-interval 8/' \
        -e 's|(hello 1 / dead 4)|(hello 1 / dead 8: session_lab.sh)|' "$d/ospfd.conf"
      grep -qx ' ip ospf dead-interval 8' "$d/ospfd.conf" \
        || sys_fail "frr-legacy/ospfd.conf: no 'ip ospf dead-interval 4' line to set to 8 for the sessions lab"
      sys_frr_start lf lf "$d"
    else
      d=$(sys_router_dir lf)
      sys_render "$SYS_LAB_CONFIGS/bird-sessions-lf.conf" "$d/bird.conf" RUN_DIR="$d" UPLINK_IF=eth0 LAN_IF=eth1
      sys_bird_start lf lf "$d/bird.conf"
    fi
  fi
  sys_log "routers started in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
}

# sess__render_speaker DIR : the BGP speaker's config with its generated
# routes spliced in where the template has @BULK_ROUTES@ / @CHURN_ROUTES@.
sess__render_speaker() {
  local d=$1 tmpl=bird-sessions-lb.conf
  [[ $SESS_MODE == vlan ]] && tmpl=bird-sessions-lv.conf
  # The other placeholders by sys_render (routes as markers), then the routes.
  sys_render "$SYS_LAB_CONFIGS/$tmpl" "$d/bird.conf.in" RUN_DIR="$d" UPLINK_IF=eth0 \
    LOCAL_IP="$SESS_BGP_PEER_IP" PEER_IP="$SESS_R1_BGP_IP" BULK_ROUTES='%%BULK_ROUTES%%' \
    CHURN_ROUTES='%%CHURN_ROUTES%%'
  awk -v bulk="$d/bulk.routes" -v churn="$d/churn.routes" '
    $0 == "%%BULK_ROUTES%%" { while ((getline l < bulk) > 0) print l; next }
    $0 == "%%CHURN_ROUTES%%" { while ((getline l < churn) > 0) print l; next }
    { print }' "$d/bird.conf.in" >"$d/bird.conf"
  sys_log "$SESS_BGP_PEER: $(grep -c '^  route ' "$d/bird.conf") static routes in $d/bird.conf ($(( $(stat -c %s "$d/bird.conf") / 1024 )) KiB)"
}

# ---------------------------------------------------------------- state

# sess_metrics : tapflowd's per-switch FIB metrics as "name value" lines
# (dpid 1); nothing when it does not answer.
sess_metrics() {
  sys_lab curl -sf --max-time 3 "http://127.0.0.1:$RT_METRICS_PORT/metrics" 2>/dev/null | awk -v dpid="$RT_DPID" '
    /^tapflow_(fib|fdstore)_/ && (index($0, "dpid=\"" dpid "\"") || index($0, "{") == 0) {
      name = $1; sub(/\{.*/, "", name); printf "%s %d\n", name, $NF }' || true
}
# sess_metric NAME [METRICS] : one value ("" when absent).
sess_metric() {
  local m=${2-}
  [[ -n $m ]] || m=$(sess_metrics)
  awk -v n="$1" '$1 == n { print $2; exit }' <<<"$m"
}

# sess_in_sync : tapflowd answers, has read the namespace in full, has
# nothing queued or unconfirmed, holds no stale flows and no stale groups
# (when it says: fib_check.py does not see an unreferenced group), and the
# switch holds at least as many FIB flows as the kernel has learnt routes.
sess_in_sync() {
  local m stale
  m=$(sess_metrics)
  [[ $(sess_metric tapflow_fib_synced "$m") == 1 && $(sess_metric tapflow_fib_programming "$m") == 0 ]] || return 1
  stale=$(sess_metric tapflow_fib_stale_flows "$m")
  [[ -z $stale || $stale == 0 ]] || return 1
  stale=$(sess_metric tapflow_fib_stale_groups "$m")
  [[ -z $stale || $stale == 0 ]] || return 1
  (( $(sess_metric tapflow_fib_switch_flows "$m") >= $(sess_expected_routes) ))
}

# The routes r1 should have learnt over BGP: bulk, and churn unless disabled.
sess_expected_routes() {
  if (( SESS_CHURN_ON )); then echo "$SESS_ROUTES"; else echo $(( SESS_ROUTES - SESS_CHURN )); fi
}
# sess_bgp_routes : BGP-learnt routes in r1's kernel (the /24s from 100.0.0.0 up;
# 64.0.0.0/2 holds 1.7M of them).
sess_bgp_routes() { sys_ns "$TAPD_NS" ip -4 -o route show root 64.0.0.0/2 | wc -l; }
sess__routes_complete() { (( $(sess_bgp_routes) == $(sess_expected_routes) )); }

# sess_sessions_up : OSPF Full and BGP Established on both sides.
sess_sessions_up() {
  sys__ospf_full r1 "$SESS_OSPF_PEER_ID" && sys__ospf_full "$SESS_OSPF_PEER" "$SESS_R1_ID" &&
    sys__bgp_established r1 "$SESS_BGP_PEER_IP" && sys__bgp_established "$SESS_BGP_PEER" "$SESS_R1_BGP_IP"
}

# sess_converged TIMEOUT_S : sessions up, every route in r1's kernel and as a
# flow in the switch, tapflowd in sync, both destinations answer.
sess_converged() {
  local timeout=$1 t0=${EPOCHREALTIME/./}
  sys_wait_ospf_full r1 "$SESS_OSPF_PEER_ID" "$timeout"
  sys_wait_ospf_full "$SESS_OSPF_PEER" "$SESS_R1_ID" "$timeout"
  sys_wait_bgp_established r1 "$SESS_BGP_PEER_IP" "$timeout"
  sys_wait_bgp_established "$SESS_BGP_PEER" "$SESS_R1_BGP_IP" "$timeout"
  sys_wait_route "$TAPD_NS" "$SESS_OSPF_PREFIX" "$timeout" "dev $SESS_OSPF_IF proto (bird|ospf)"
  sys_wait_until "$timeout" "$(sess_expected_routes) BGP routes in r1's kernel (has $(sess_bgp_routes))" sess__routes_complete
  sys_wait_until "$timeout" "tapflowd in sync with $(sess_expected_routes)+ FIB flows in the switch" sess_in_sync
  sys_ping "$SESS_PING_FROM" "$SESS_PING_BGP" 3
  sys_ping "$SESS_PING_FROM" "$SESS_PING_OSPF" 3
  sys_log "converged in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms: $(sess_bgp_routes) BGP routes, OSPF $SESS_OSPF_PREFIX"
}

# ---------------------------------------------------------------- sessions

# State changes are counted from what the routers log after a mark:
#   BIRD (debug protocols { states, events }): a protocol's "State changed
#   to ...", a BGP "BGP session ..." / "Connected to table", an OSPF
#   neighbour "changed state from ... to ...";
#   FRR: bgpd's neighbour changes (log-neighbor-changes: "%ADJCHANGE") and
#   ospfd's adjacency changes ("AdjChg", log-adjacency-changes) where its
#   config asks for them, and always `show bgp neighbors json` (connections
#   established / dropped) and `show ip ospf neighbor json` (state, uptime).
SESS_BIRD_STATE_RE='State changed to|BGP session|New neighbor|Neighbor .* changed state from|Interface .* changed state from .* to Down'
SESS_FRR_STATE_RE='ADJCHANGE|AdjChg|[Nn]eighbor .* (Down|Up)|NSM change'

sess__router_logs() { # NAME : its log files
  local name=$1 dir=${SYS_ROUTER_DIR[$1]}
  if [[ ${SYS_ROUTER_KIND[$name]} == bird ]]; then
    printf '%s\n' "$dir/bird.log"
  else
    printf '%s\n' "$dir/bgpd.log" "$dir/ospfd.log"
  fi
}

# sess__frr_state NAME : one line per neighbour of an FRR router:
# "ospf ROUTER_ID UPTIME_MS STATE" (show ip ospf neighbor json) and, with
# bgpd, "bgp ADDRESS ESTABLISHED DROPPED STATE" (show bgp neighbors json:
# connections established / dropped).
sess__frr_state() {
  local name=$1 cmds=('show ip ospf neighbor json')
  [[ ${SYS_FRR_RUNNING[$name]} == *" bgpd "* ]] && cmds+=('show bgp neighbors json')
  sys_vtysh "$name" "${cmds[@]}" 2>/dev/null | python3 -c '
import json, sys
text, dec, docs, i = sys.stdin.read(), json.JSONDecoder(), [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    d, i = dec.raw_decode(text, i)
    docs.append(d)
for d in docs:
    if "neighbors" in d:
        for rid, entries in sorted(d["neighbors"].items()):
            for e in entries:
                print("ospf", rid, e.get("upTimeInMsec", 0), e.get("converged", e.get("state", "?")).split("/")[0])
    else:
        for ip, p in sorted(d.items()):
            if isinstance(p, dict) and "bgpState" in p:
                print("bgp", ip, p.get("connectionsEstablished", -1), p.get("connectionsDropped", -1), p["bgpState"])
'
}

# sess_sessions_mark : remembers where each router's log ends, and each FRR
# router's neighbours (sess__frr_state) with the time.
sess_sessions_mark() {
  local name f
  for name in "${SYS_ROUTERS[@]}"; do
    while read -r f; do SESS_LOG_MARK[$f]=$( [[ -f $f ]] && wc -l <"$f" || echo 0 ); done < <(sess__router_logs "$name")
    if [[ ${SYS_ROUTER_KIND[$name]} == frr ]]; then
      SESS_FRR_MARK[$name]=$(sess__frr_state "$name")
      SESS_FRR_MARK_T[$name]=${EPOCHREALTIME/./}
    fi
  done
}

# sess__frr_changes NAME : what changed since the mark: an OSPF neighbour
# gone, not Full, or up for less time than has passed (its adjacency was
# made anew); a BGP neighbour's connection counters or state changed.
sess__frr_changes() {
  local name=$1 ms
  ms=$(( (${EPOCHREALTIME/./} - ${SESS_FRR_MARK_T[$name]}) / 1000 ))
  python3 - "$name" "$ms" "${SESS_FRR_MARK[$name]}" "$(sess__frr_state "$name")" <<'EOF'
import sys
name, ms, before, now = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def table(text):
    return {tuple(l.split()[:2]): l.split()[2:] for l in text.splitlines() if l.strip()}
b, n = table(before), table(now)
for key, old in sorted(b.items()):
    new = n.get(key)
    what = "%s: %s neighbour %s" % (name, "OSPF" if key[0] == "ospf" else "BGP", key[1])
    if new is None:
        print(what + " is gone")
    elif key[0] == "ospf":
        if new[1] != "Full":
            print(what + " is %s" % new[1])
        elif int(new[0]) + 1500 < int(old[0]) + ms:
            print(what + " up %d ms, but was up %d ms %d ms ago: a new adjacency" % (int(new[0]), int(old[0]), ms))
    elif new != old:
        print(what + ": connections established/dropped, state %s -> %s" % (" ".join(old), " ".join(new)))
for key in sorted(set(n) - set(b)):
    print("%s: new %s neighbour %s" % (name, key[0], key[1]))
EOF
}

# sess_session_changes : prints the state changes since the mark, one per
# line ("router: line"); nothing when there were none.
sess_session_changes() {
  local name f re now
  for name in "${SYS_ROUTERS[@]}"; do
    re=$SESS_BIRD_STATE_RE
    [[ ${SYS_ROUTER_KIND[$name]} == bird ]] || re=$SESS_FRR_STATE_RE
    while read -r f; do
      [[ -f $f ]] || continue
      # (The speaker's static protocols are switched by the tests themselves.)
      tail -n +$(( ${SESS_LOG_MARK[$f]:-0} + 1 )) "$f" | grep -E -- "$re" | grep -vE '> (bulk|churn|lan): ' \
        | sed "s|^|$name: |" || true
    done < <(sess__router_logs "$name")
  done
  for name in "${SYS_ROUTERS[@]}"; do
    if [[ ${SYS_ROUTER_KIND[$name]} == frr ]]; then sess__frr_changes "$name"; fi
  done
  sys__ospf_full r1 "$SESS_OSPF_PEER_ID" || echo "r1: OSPF neighbour $SESS_OSPF_PEER_ID is not Full now"
  sys__bgp_established r1 "$SESS_BGP_PEER_IP" || echo "r1: BGP with $SESS_BGP_PEER_IP is $(sys__bgp_state r1 "$SESS_BGP_PEER_IP") now"
}

# ---------------------------------------------------------------- pings

# sess_ping_start NAME DEST : ping -i 0.01 from SESS_PING_FROM until stopped.
sess_ping_start() {
  local name=$1 dest=$2
  SESS_PING_OUT[$name]=$SYS_DIR/ping-$name-$SESS_CTL_N-${#SESS_TIMES[@]}.out
  ip netns exec "$(sys_ns_name "$SESS_PING_FROM")" ping -n -i 0.01 -W 1 "$dest" \
    >"${SESS_PING_OUT[$name]}" 2>&1 </dev/null &
  SESS_PING_PID[$name]=$!
  SYS_BG_PIDS+=("$!")
  SESS_PINGS+=("$name")
}

# sess_ping_stop NAME : SIGINT; waits for its summary.
sess_ping_stop() {
  local name=$1 pid=${SESS_PING_PID[$1]}
  sys_alive "$pid" || sys_fail "ping $name ended early: $(tail -n 3 "${SESS_PING_OUT[$name]}" | tr '\n' ' ')"
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
}

# sess_ping_result NAME : the echoes a stopped ping lost: the sequence
# numbers never answered (a last one still in flight when it stopped
# excepted). Prints "LOST LONGEST_GAP_MS SENT".
sess_ping_result() {
  python3 - "${SESS_PING_OUT[$1]}" <<'EOF'
import re, sys
got, sent = set(), None
for line in open(sys.argv[1]):
    m = re.search(r"icmp_seq=(\d+) ttl=", line)
    if m:
        got.add(int(m.group(1)))
    m = re.match(r"(\d+) packets transmitted", line)
    if m:
        sent = int(m.group(1))
if sent is None:
    sys.exit("ping printed no summary")
lost = [s for s in range(1, sent + 1) if s not in got]
if lost and lost[-1] == sent and sent - 1 not in lost:
    lost.pop()  # the last echo, in flight when ping stopped
run = best = 0
prev = None
for s in lost:
    run = run + 1 if prev == s - 1 else 1
    best = max(best, run)
    prev = s
print(len(lost), best * 10, sent)
EOF
}

# ---------------------------------------------------------------- the switch

# sess_fib_check [--exact] : fib_check.py on the switch's FIB and r1's
# kernel; prints its summary; status as the checker's.
sess_fib_check() {
  local d=$SYS_DIR/fibcheck t0=${EPOCHREALTIME/./} args=() of=1.3 table status=0
  mkdir -p "$d"
  [[ $TAPD_VERSION == 1.0 ]] && of=1.0
  table=$(rt_fib_table)
  [[ $SESS_MODE == vlan ]] && table=$VL_FIB_TABLE
  args=(--of "$of" --table "$table")
  [[ $SESS_MODE == vlan ]] && args+=(--mac-port "${SYS_HOST_MAC[lv]}=6" \
    --mac-port "${SYS_HOST_MAC[h10a]}=1" --mac-port "${SYS_HOST_MAC[h10b]}=2" \
    --mac-port "${SYS_HOST_MAC[h20a]}=3" --mac-port "${SYS_HOST_MAC[h20b]}=4" \
    --mac-port "${SYS_HOST_MAC[h10c]}=5" --mac-port "${SYS_HOST_MAC[h20c]}=5")
  timeout 120 ovs-ofctl --no-names --no-stats -O "${SYS_BRIDGE_PROTOCOLS[br0]}" dump-flows \
    "unix:$SYS_OVS_DIR/br0.mgmt" "table=$table" >"$d/flows"
  if [[ $of == 1.3 ]]; then rt_ofctl dump-groups >"$d/groups"; else : >"$d/groups"; fi
  sys_ns "$TAPD_NS" ip -j -4 route show table main >"$d/routes.json"
  sys_ns "$TAPD_NS" ip -j -4 neigh show >"$d/neigh.json"
  python3 "$SESS_LIB/fib_check.py" --flows "$d/flows" --groups "$d/groups" --routes "$d/routes.json" \
    --neigh "$d/neigh.json" "${args[@]}" "$@" >"$d/out" || status=$?
  sys_log "fib_check ${*:-}($(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms): $(head -n1 "$d/out")"
  tail -n +2 "$d/out" | sed 's/^/    /' >&2
  return "$status"
}

# sess_cut SECONDS : the switch connection loses every packet for SECONDS:
# nftables in the lab namespace (OVS and tapflowd talk over its loopback)
# drops TCP to and from tapflowd's port, on input, both ways; no RST, no FIN:
# the connection goes half-open and keepalives and OVS's backoff decide.
sess_cut() {
  local secs=$1 table=tapflow_cut_$$
  sys_lab nft -f - <<EOF
table inet $table {
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport $TAPD_PORT drop
    tcp sport $TAPD_PORT drop
  }
}
EOF
  sys_log "cut: TCP port $TAPD_PORT dropped in $(sys_ns_name lab) (nft table inet $table) for ${secs}s"
  SESS_CUT_TABLE=$table
  sleep "$secs"
  sess_cut_end
}
sess_cut_end() {
  [[ -n ${SESS_CUT_TABLE:-} ]] || return 0
  sys_lab nft delete table inet "$SESS_CUT_TABLE"
  sys_log "cut over: nft table inet $SESS_CUT_TABLE deleted"
  SESS_CUT_TABLE=""
}

# ---------------------------------------------------------------- tapflowd

# sess_restart term|kill : SIGTERM (must exit 0) or SIGKILL to tapflowd, then
# tapflowd again at once with the same config.
sess_restart() {
  local pid
  pid=$(sys_daemon_pid "$SESS_CTL")
  if [[ $1 == term ]]; then
    sys_step "SIGTERM to tapflowd ($SESS_CTL, pid $pid)"
    tapd_stop "$SESS_CTL"
  else
    sys_step "SIGKILL to tapflowd ($SESS_CTL, pid $pid)"
    sess_kill
  fi
  SESS_RESTART_T0=${EPOCHREALTIME/./}
  sess_start
  sys_log "tapflowd $SESS_CTL up $(( (${EPOCHREALTIME/./} - SESS_RESTART_T0) / 1000 )) ms after the old one was gone"
}
sess_kill() {
  local pid; pid=$(sys_daemon_pid "$SESS_CTL")
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  sys_wait_gone "$pid" 5 || sys_fail "tapflowd (pid $pid) still there after SIGKILL"
  sys_log "tapflowd $SESS_CTL killed"
}

# ---------------------------------------------------------------- scenarios

# sess_check_fail MESSAGE : an assertion of the scenario failed.
sess_check_fail() {
  if [[ ${SESS_KEEP_GOING:-0} == 1 ]]; then
    printf '[%6ss] FAIL (going on, SESS_KEEP_GOING=1): %s: %s\n' "$(sys_elapsed)" "$SESS_SCENARIO" "$*" >&2
    SESS_FAILURES+=("$SESS_SCENARIO: $*")
  else
    sys_fail "$SESS_SCENARIO: $*"
  fi
}

# sess_begin NAME : converged first, then the sessions marked and the pings on.
sess_begin() {
  SESS_SCENARIO=$1
  sys_step "scenario $SESS_SCENARIO"
  sess_converged 120
  sess_sessions_mark
  SESS_BEGIN_CTL=$SESS_CTL
  SESS_BEGIN_FM=$(sess_metric tapflow_fib_flow_mods_total)
  SESS_BEGIN_GM=$(sess_metric tapflow_fib_group_mods_total)
  sess_ping_start bgp "$SESS_PING_BGP"
  sess_ping_start ospf "$SESS_PING_OSPF"
  sleep 1
  SESS_SCENARIO_T0=${EPOCHREALTIME/./}
  sys_log "pings every 10 ms: $SESS_PING_FROM -> $SESS_PING_BGP (BGP route), -> $SESS_PING_OSPF (OSPF route)"
}

# sess_wait_settled TIMEOUT_S : every route in r1's kernel, tapflowd in sync
# and idle (sess_in_sync); logs how long after the event.
sess_wait_settled() {
  local t0=${EPOCHREALTIME/./} deadline=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
  until sess__routes_complete && sess_in_sync; do
    sys_alive "$(sys_daemon_pid "$SESS_CTL")" || sys_fail "tapflowd ($SESS_CTL) died: $(tail -n 2 "$(sys_daemon_log "$SESS_CTL")")"
    if (( ${EPOCHREALTIME/./} > deadline )); then
      sess_check_fail "tapflowd not in sync and idle within ${1}s ($(sess_metrics | tr '\n' ' '))"
      return 0
    fi
    sleep 0.2
  done
  SESS_SETTLED_MS=$(( (${EPOCHREALTIME/./} - SESS_SCENARIO_T0) / 1000 ))
  sys_log "tapflowd in sync and idle $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms after the event was over" \
          "(${SESS_SETTLED_MS} ms into the scenario)"
}

# sess_end_hitless [MAX_FLOW_MODS] : the assertions of a hitless scenario
# (see the top). MAX_FLOW_MODS: the FLOW_MODs tapflowd may have sent in the
# scenario (a restarted one: all it sent); none given: not checked.
SESS_TAIL_S=9
sess_end_hitless() {
  local max=${1:-} res lost gap sent name changes m fm gm stale t_end=${EPOCHREALTIME/./} left
  sess_wait_settled 90
  # The pings go on SESS_TAIL_S past the event (longer than OSPF's dead
  # interval, 8: a late disconnect or a lost adjacency shows), and 1 s past
  # the reconcile.
  left=$(( t_end + SESS_TAIL_S * 1000000 - ${EPOCHREALTIME/./} ))
  (( left > 1000000 )) || left=1000000
  sleep "$(( left / 1000000 )).$(printf '%06d' $(( left % 1000000 )))"
  for name in bgp ospf; do
    sess_ping_stop "$name"
    res=$(sess_ping_result "$name") || sys_fail "cannot read ping $name's output"
    read -r lost gap sent <<<"$res"
    sys_log "ping $name: $sent sent, $lost lost (longest gap ${gap} ms)"
    (( lost == 0 )) || sess_check_fail "ping $SESS_PING_FROM -> $([[ $name == bgp ]] && echo "$SESS_PING_BGP" || echo "$SESS_PING_OSPF") ($name route): $lost of $sent echoes lost, the longest gap ${gap} ms"
  done
  changes=$(sess_session_changes)
  if [[ -n $changes ]]; then
    sess_check_fail "routing session state changed: $(wc -l <<<"$changes") change(s):
$(head -n 12 <<<"$changes" | sed 's/^/      /')"
  else
    sys_log "no BGP or OSPF state change on r1, $SESS_BGP_PEER or $SESS_OSPF_PEER"
  fi
  m=$(sess_metrics)
  fm=$(sess_metric tapflow_fib_flow_mods_total "$m")
  gm=$(sess_metric tapflow_fib_group_mods_total "$m")
  stale=$(sess_metric tapflow_fib_stale_flows "$m")
  [[ -n $fm && -n $gm ]] || sess_check_fail "no tapflow_fib_flow_mods_total / group_mods_total in tapflowd's metrics"
  # The same tapflowd as at the start (a cut): what it sent since then.
  if [[ $SESS_CTL == "$SESS_BEGIN_CTL" ]]; then
    fm=$(( ${fm:-0} - ${SESS_BEGIN_FM:-0} )) gm=$(( ${gm:-0} - ${SESS_BEGIN_GM:-0} ))
  fi
  sys_log "FLOW_MODs in this scenario: ${fm:-?} (GROUP_MODs ${gm:-?}; tapflowd $SESS_CTL, $(sess_expected_routes) BGP routes); stale flows now: ${stale:-absent}"
  SESS_LAST_FLOW_MODS="FLOW_MODs ${fm:-?}, GROUP_MODs ${gm:-?}"
  [[ -n $stale ]] || sess_check_fail "no tapflow_fib_stale_flows in tapflowd's metrics"
  if [[ -n $max ]] && (( ${fm:-0} > max )); then
    sess_check_fail "tapflowd sent $fm FLOW_MODs, more than $max (the FIB has $(sess_expected_routes)+ routes)"
  fi
  sess_fib_check --exact || sess_check_fail "the switch's FIB is not the kernel's (fib_check.py above)"
  sess_end
}

# sess_end : the scenario's time.
sess_end() {
  local ms=$(( (${EPOCHREALTIME/./} - SESS_SCENARIO_T0) / 1000 ))
  SESS_TIMES+=("$(printf '%-50s %6d.%d s  %s' "$SESS_SCENARIO" $(( ms / 1000 )) $(( ms % 1000 / 100 )) "${SESS_LAST_FLOW_MODS:-}")")
  SESS_LAST_FLOW_MODS=""
  sys_log "scenario $SESS_SCENARIO: done in $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
}

# sess_phase NAME T0_US : a set-up phase's time, for the summary.
sess_phase() {
  local ms=$(( (${EPOCHREALTIME/./} - $2) / 1000 ))
  SESS_TIMES+=("$(printf '%-50s %6d.%d s' "$1" $(( ms / 1000 )) $(( ms % 1000 / 100 )))")
}

# sess_kill_while_programming : lb's `churn` protocol (SESS_CHURN routes)
# disabled: r1 withdraws them and tapflowd deletes their flows; SIGKILL while
# tapflow_fib_programming is 1, then tapflowd again.
sess_kill_while_programming() {
  local deadline seen="" m
  sys_birdc "$SESS_BGP_PEER" disable churn >/dev/null
  SESS_CHURN_ON=0
  sys_log "$SESS_BGP_PEER: protocol churn disabled ($SESS_CHURN routes withdrawn)"
  deadline=$(( ${EPOCHREALTIME/./} + 30000000 ))
  while (( ${EPOCHREALTIME/./} < deadline )); do
    m=$(sess_metrics)
    if [[ $(sess_metric tapflow_fib_programming "$m") == 1 ]]; then seen=1; break; fi
    sleep 0.02
  done
  [[ -n $seen ]] || sys_fail "tapflow_fib_programming never became 1 within 30 s of the withdrawal"
  sys_log "tapflow_fib_programming 1 (switch flows $(sess_metric tapflow_fib_switch_flows "$m"), kernel $(sess_bgp_routes) BGP routes): SIGKILL"
  sess_kill
  SESS_RESTART_T0=${EPOCHREALTIME/./}
  sess_start
}

# sess_cut_past_hold SECONDS : a cut longer than detection + carrier_hold:
# the TAP of the uplink must lose its carrier meanwhile (polled), and the
# routing sessions go down (asserted by the caller).
sess_cut_past_hold() {
  local secs=$1 t0 off="" dev=$SESS_UPLINK_IF
  sys_lab nft -f - <<EOF
table inet tapflow_cut_$$ {
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport $TAPD_PORT drop
    tcp sport $TAPD_PORT drop
  }
}
EOF
  SESS_CUT_TABLE=tapflow_cut_$$
  t0=${EPOCHREALTIME/./}
  sys_log "cut: TCP port $TAPD_PORT dropped for ${secs}s (carrier_hold ${SESS_CARRIER_HOLD}s)"
  while (( ${EPOCHREALTIME/./} - t0 < secs * 1000000 )); do
    if [[ -z $off ]] && sys__carrier "$TAPD_NS" "$dev" off; then
      off=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
      sys_log "$dev lost its carrier ${off} ms into the cut"
    fi
    sleep 0.1
  done
  sess_cut_end
  [[ -n $off ]] || sess_check_fail "$dev kept its carrier through a ${secs}s cut (carrier_hold ${SESS_CARRIER_HOLD}s)"
  sys_wait_carrier "$TAPD_NS" "$dev" on 30
}

# sess_finish : the phase times; fails if a scenario failed (SESS_KEEP_GOING).
sess_finish() {
  local line
  sys_step "times ($SYS_NAME, $SESS_ROUTES routes)"
  for line in "${SESS_TIMES[@]}"; do printf '    %s\n' "$line" >&2; done
  if (( ${#SESS_FAILURES[@]} )); then
    for line in "${SESS_FAILURES[@]}"; do printf '    FAILED: %s\n' "$line" >&2; done
    sys_fail "${#SESS_FAILURES[@]} assertion(s) failed (above)"
  fi
}
