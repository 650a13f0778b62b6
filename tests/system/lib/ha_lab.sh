# shellcheck shell=bash disable=SC2034,SC2153  # HA_* are for the tests; SESS_*, TAPD_*, RT_* from the other labs
# The high-availability lab (issue 16; tests/system/ha_takeover_test,
# bench/run_ha_bench.sh): two tapflowd instances in a cluster, one etcd
# election per switch, one OpenFlow switch connected to both.
#
# Router mode (configs/lab/tapflowd-ha.yaml), ha_setup NAME router:
#
#   h1 10.0.1.10 -- p1 [ br0, dpid 1, OpenFlow 1.3 ] p2 -- lb 10.0.2.2   BIRD, eBGP AS 65002:
#                          |                  |             HA_ROUTES /24s from 100.0.0.0 up
#                    tcp:127.0.0.1:PA   tcp:127.0.0.1:PB    (bulk + churn); 100.0.0.1 on its lo
#                          |                  |
#           tapflowd a (cluster id a)    tapflowd b (cluster id b)
#           namespace <id>-ra, fd store  namespace <id>-rb, fd store
#           BIRD r1a (bird -R)           BIRD r1b (bird -R)
#                \______ etcd: 3 members on the lab's loopback ______/
#                 a talks to them at 127.0.1.1, b at 127.0.2.1
#
# Switch mode (configs/lab/tapflowd-ha-switch.yaml), ha_setup NAME switch:
# tapflowd --app learning-switch twice, h1 10.0.0.1 and h2 10.0.0.2 on br0.
#
# etcd: three members (m1..m3) run in the lab namespace, each with its data
# dir under $SYS_DIR/etcd, a peer port on 127.0.0.1 and its client port on
# three addresses: 127.0.0.1 (the test's etcdctl), 127.0.1.1 (instance a's
# endpoints) and 127.0.2.1 (b's). The whole of 127/8 is local on lo, so
# dropping one of those addresses with nftables (ha_etcd_cut) cuts one
# instance off from etcd and nothing else.
# Raft timers: --heartbeat-interval 100 --election-timeout 500 (defaults 100
# / 1000). A killed raft leader is then replaced within about 0.5-1 s, well
# inside the instances' 2 s lease (a lease keepalive that hits the leaderless
# window is retried on another member after request_timeout 0.5 s), and the
# smallest lease etcd grants drops from 2 s to 1 s (1.5 x election timeout).
# 500 ms is still 5 heartbeats: on these 2 loaded cores the members were not
# seen to call spurious elections. --pre-vote: a member killed and started
# again (ha_etcd_member_start) rejoins without deposing the leader.
#
# Routing (router mode): the routers of lib/session_lab.sh's BGP side, with
# graceful restart: lb (bird-ha-legacy.conf) announces HA_ROUTES /24s; each
# instance's BIRD (bird-ha-r1.conf) is r1 in that instance's namespace, both
# with the same router id and addresses; only the master's TAPs have carrier,
# so only the master's BIRD peers. Each r1 BIRD runs with -R (graceful restart
# recovery: why in bird-ha-r1.conf).
#
#   source lib/harness.sh lib/routers.sh lib/tapd_lab.sh lib/routing_lab.sh
#          lib/session_lab.sh lib/ha_lab.sh
#   ha_setup NAME router; ha_start a; ha_wait_master a; ha_start b; ha_wait_standby b
#   ha_routers_start; ha_converged a 150
#   ha_kill_server a            # SIGKILL: tapflowd a, its fd store, its BIRD; namespace gone
#   ha_wait_master b 10; ha_ovs_master   # -> b
#   ha_etcd_cut b; ...; ha_etcd_uncut
#   ha_etcd_leader; ha_etcd_member_kill 2; ha_etcd_member_start 2
#
# Environment: HA_ROUTES (100000), HA_CHURN (1000; the routes lb withdraws
# during a takeover), HA_LEASE_TTL (2), HA_R1_BIRD_ARGS (options of r1's
# BIRD, default -R; HA_R1_BIRD_ARGS= runs it without graceful restart
# recovery, to see what that costs).

if [[ -n ${SYS_HA_LAB_LOADED:-} ]]; then return 0; fi
SYS_HA_LAB_LOADED=1
[[ -n ${SYS_SESSION_LAB_LOADED:-} ]] || \
  { echo "ha_lab.sh: source lib/harness.sh, routers.sh, tapd_lab.sh, routing_lab.sh and session_lab.sh first" >&2; exit 1; }

HA_ROUTES=${HA_ROUTES:-100000}
HA_CHURN=${HA_CHURN:-1000}
HA_LEASE_TTL=${HA_LEASE_TTL:-2}
HA_MODE=""                       # router | switch
HA_IDS=(a b)
HA_ETCD_ELECTION_MS=500 HA_ETCD_HEARTBEAT_MS=100
HA_MASTER_RE='master of the switch, generation [0-9]+'
HA_ELECTED_RE='cluster: elected master of dpid 0000000000000001'
HA_STANDBY_RE='cluster: standby for dpid 0000000000000001'
HA_TAPD_STANDBY_RE="tapd: .*standby, another controller is the switch's master"
# The master giving the switch up (etcd lease at risk, hand-over, refusal).
HA_STEPDOWN_RE='mastership: stepped down as master for dpid 0000000000000001'
# Any line of the cluster driver, the election or the switch that says a role changed.
HA_ROLE_CHANGE_RE="cluster: (elected master|standby for|dpid [0-9a-f]+ away|dpid [0-9a-f]+: .*resigning)|mastership: (elected master|stepped down|handing over|dpid [0-9a-f]+ handed over)|master of the switch|tapd: .*(standby|master of the switch now)"
declare -A HA_PORT=() HA_METRICS=() HA_NS=() HA_CONF=() HA_ADDR=() HA_CTL=() HA_N=() HA_FDSTORE=()
declare -a HA_ETCD_CLIENT=() HA_ETCD_PEER=() HA_ETCD_NAME=() HA_ETCD_N=()
HA_ETCD_CLUSTER="" HA_CUT_TABLE="" HA_POLL_PID="" HA_POLL_OUT=""
HA_ADDR[a]=127.0.1.1 HA_ADDR[b]=127.0.2.1

# ---------------------------------------------------------------- diagnostics

ha__diagnostics() {
  local id
  printf -- '-- ha lab: controllers of br0 (target, role, is_connected):\n'
  ha_ovs_roles 2>&1 | sed 's/^/   /'
  for id in "${HA_IDS[@]}"; do
    [[ -n ${HA_METRICS[$id]:-} ]] || continue
    printf -- '-- tapflowd %s (%s): cluster and FIB metrics:\n' "$id" "${HA_CTL[$id]:-not started}"
    sys_lab curl -sf --max-time 3 "http://127.0.0.1:${HA_METRICS[$id]}/metrics" 2>/dev/null \
      | grep -E '^tapflow_(cluster|fib)_' | sed 's/^/   /' || printf '   (no answer)\n'
  done
  if [[ ${#HA_ETCD_CLIENT[@]} -gt 0 ]]; then
    printf -- '-- etcd members:\n'
    ha_etcdctl endpoint status -w table 2>&1 | sed 's/^/   /' || true
  fi
}

# ---------------------------------------------------------------- etcd

# ha_etcd_endpoints ADDR : the members' client URLs at ADDR, comma-separated.
ha_etcd_endpoints() {
  local i out=()
  for i in 1 2 3; do out+=("http://$1:${HA_ETCD_CLIENT[i]}"); done
  local IFS=,
  printf '%s' "${out[*]}"
}

# ha_etcdctl ARGS... : etcdctl (v3 API) against all three members on 127.0.0.1.
ha_etcdctl() {
  ETCDCTL_API=3 sys_lab timeout 10 etcdctl --endpoints="$(ha_etcd_endpoints 127.0.0.1)" \
    --dial-timeout=1s --command-timeout=2s "$@"
}

# ha_etcd_member_start I : member mI (1..3), new or again with its data dir.
ha_etcd_member_start() {
  local i=$1 d=$SYS_DIR/etcd/m$1 name
  mkdir -p "$SYS_DIR/etcd"
  HA_ETCD_N[i]=$(( ${HA_ETCD_N[i]:-0} + 1 ))
  name=etcd-m$i
  (( HA_ETCD_N[i] == 1 )) || name=etcd-m$i.${HA_ETCD_N[i]}
  HA_ETCD_NAME[i]=$name
  # The initial-cluster flags only matter for a new data dir; a member
  # started again reads its membership from its data dir.
  sys_daemon_start "$name" lab "" 10 etcd --name "m$i" --data-dir "$d" \
    --listen-client-urls "http://127.0.0.1:${HA_ETCD_CLIENT[i]},http://127.0.1.1:${HA_ETCD_CLIENT[i]},http://127.0.2.1:${HA_ETCD_CLIENT[i]}" \
    --advertise-client-urls "http://127.0.0.1:${HA_ETCD_CLIENT[i]}" \
    --listen-peer-urls "http://127.0.0.1:${HA_ETCD_PEER[i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${HA_ETCD_PEER[i]}" \
    --initial-cluster "$HA_ETCD_CLUSTER" --initial-cluster-state new \
    --initial-cluster-token "$SYS_ID" \
    --heartbeat-interval "$HA_ETCD_HEARTBEAT_MS" --election-timeout "$HA_ETCD_ELECTION_MS" --pre-vote
}

# ha_etcd_start : the three members; waits until all are healthy.
ha_etcd_start() {
  local i used=" " p
  sys_require etcd etcdctl
  for i in 1 2 3; do
    for p in client peer; do
      local port
      port=$(sys_free_port lab)
      while [[ $used == *" $port "* ]]; do port=$(sys_free_port lab); done
      used+="$port "
      if [[ $p == client ]]; then HA_ETCD_CLIENT[i]=$port; else HA_ETCD_PEER[i]=$port; fi
    done
  done
  HA_ETCD_CLUSTER="m1=http://127.0.0.1:${HA_ETCD_PEER[1]},m2=http://127.0.0.1:${HA_ETCD_PEER[2]},m3=http://127.0.0.1:${HA_ETCD_PEER[3]}"
  sys_step "etcd: 3 members (heartbeat ${HA_ETCD_HEARTBEAT_MS} ms, election timeout ${HA_ETCD_ELECTION_MS} ms)"
  for i in 1 2 3; do ha_etcd_member_start "$i"; done
  sys_wait_until 30 "the etcd cluster to be healthy" ha__etcd_healthy 3
  sys_log "etcd healthy: client ports ${HA_ETCD_CLIENT[*]:1}, peer ports ${HA_ETCD_PEER[*]:1}; leader m$(ha_etcd_leader)"
}

# ha__etcd_healthy N : N members answer endpoint health.
ha__etcd_healthy() {
  local n
  n=$(ha_etcdctl endpoint health 2>&1 | grep -c 'is healthy' || true)
  (( n >= $1 ))
}

# ha_etcd_leader : the raft leader's member number (1..3), from
# `etcdctl endpoint status -w json` (the member whose id is the leader id).
ha_etcd_leader() {
  local i json
  json=$(ha_etcdctl endpoint status -w json 2>/dev/null) || true
  python3 -c '
import json, sys
eps = sys.argv[2:]
for e in json.loads(sys.argv[1] or "[]"):
    s = e.get("Status", {})
    if s.get("header", {}).get("member_id") == s.get("leader"):
        port = e["Endpoint"].rsplit(":", 1)[1]
        print(eps.index(port) + 1)
        break
' "$json" "${HA_ETCD_CLIENT[1]}" "${HA_ETCD_CLIENT[2]}" "${HA_ETCD_CLIENT[3]}"
}

# ha_etcd_member_kill I : SIGKILL to member mI.
ha_etcd_member_kill() {
  local pid; pid=$(sys_daemon_pid "${HA_ETCD_NAME[$1]}")
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  sys_wait_gone "$pid" 5 || sys_fail "etcd m$1 (pid $pid) still there after SIGKILL"
  sys_log "etcd m$1 (pid $pid) killed"
}

# ha_etcd_cut ID : drops every packet to and from instance ID's etcd address
# (nftables in the lab namespace, input hook, both directions: no RST, the
# connections go half-open). ha_etcd_uncut ends it.
ha_etcd_cut() {
  local addr=${HA_ADDR[$1]} table=tapflow_etcd_cut_$$
  sys_lab nft -f - <<EOF
table inet $table {
  chain input {
    type filter hook input priority -10; policy accept;
    ip daddr $addr drop
    ip saddr $addr drop
  }
}
EOF
  HA_CUT_TABLE=$table
  sys_log "etcd cut for instance $1: $addr dropped in $(sys_ns_name lab) (nft table inet $table)"
}
ha_etcd_uncut() {
  [[ -n $HA_CUT_TABLE ]] || return 0
  sys_lab nft delete table inet "$HA_CUT_TABLE"
  sys_log "etcd cut over: nft table inet $HA_CUT_TABLE deleted"
  HA_CUT_TABLE=""
}

# ---------------------------------------------------------------- set-up

# ha_setup NAME router|switch : sys_init NAME, OVS with br0 (OpenFlow 1.3,
# dpid 1), the hosts, etcd, the two instances' configs, br0's controllers.
ha_setup() {
  local name=$1 mode=$2 id eps
  HA_MODE=$mode
  [[ $mode == router || $mode == switch ]] || sys_fail "ha_setup: mode is router or switch, not $mode"
  rt_lab_start "$name" OpenFlow13 ha_setup
  sys_require etcd etcdctl nft curl python3
  [[ $mode == router ]] && sys_require bird birdc
  SYS_DIAG_HOOKS+=(ha__diagnostics)
  if [[ $mode == router ]]; then
    SYS_DIAG_HOOKS+=(sess__diagnostics)
    # A failure prints the first flows and routes only (not 100k of each).
    SYS_DIAG_FLOW_LINES=${SYS_DIAG_FLOW_LINES:-80} SYS_DIAG_ROUTE_LINES=${SYS_DIAG_ROUTE_LINES:-40}
    sys_add_port_host h1 br0 p1 10.0.1.10/24
    sys_ns h1 ip route add default via 10.0.1.1
    sys_add_port_host lb br0 p2 10.0.2.2/24
    sys_ns lb ip addr add 100.0.0.1/32 dev lo
    SESS_MODE=ports SESS_BGP_PEER=lb SESS_BGP_PEER_IP=10.0.2.2 SESS_R1_BGP_IP=10.0.2.1
    SESS_PING_FROM=h1 SESS_PING_BGP=100.0.0.1
    SESS_ROUTES=$HA_ROUTES SESS_CHURN=$HA_CHURN SESS_CHURN_ON=1
    (( HA_ROUTES > HA_CHURN )) || sys_fail "HA_ROUTES ($HA_ROUTES) must exceed HA_CHURN ($HA_CHURN)"
  else
    sys_add_host h1 br0 10.0.0.1/24
    sys_add_host h2 br0 10.0.0.2/24
    SESS_PING_FROM=h1
  fi
  ha_etcd_start
  for id in "${HA_IDS[@]}"; do
    HA_NS[$id]=r$id
    HA_PORT[$id]=$(sys_free_port lab)
    HA_METRICS[$id]=$(sys_free_port lab)
    HA_N[$id]=0
    HA_CONF[$id]=$SYS_DIR/tapflowd-$id.yaml
    eps=$(ha_etcd_endpoints "${HA_ADDR[$id]}" | sed 's/[^,]*/"&"/g; s/,/, /g')
    if [[ $mode == router ]]; then
      sys_render "$SYS_LAB_CONFIGS/tapflowd-ha.yaml" "${HA_CONF[$id]}" INSTANCE="$id" \
        LISTEN_PORT="${HA_PORT[$id]}" METRICS_PORT="${HA_METRICS[$id]}" \
        NETNS="$(sys_ns_name "${HA_NS[$id]}")" FD_STORE="tapflow-fdstore-$SYS_ID-$id" \
        ETCD_ENDPOINTS="$eps" LEASE_TTL="$HA_LEASE_TTL"
    else
      sys_render "$SYS_LAB_CONFIGS/tapflowd-ha-switch.yaml" "${HA_CONF[$id]}" INSTANCE="$id" \
        LISTEN_PORT="${HA_PORT[$id]}" METRICS_PORT="${HA_METRICS[$id]}" \
        ETCD_ENDPOINTS="$eps" LEASE_TTL="$HA_LEASE_TTL"
    fi
    sys_log "instance $id: ${HA_CONF[$id]} (port ${HA_PORT[$id]}, metrics ${HA_METRICS[$id]}, etcd at ${HA_ADDR[$id]})"
  done
  [[ ${HA_PORT[a]} != "${HA_PORT[b]}" && ${HA_METRICS[a]} != "${HA_METRICS[b]}" ]] \
    || sys_fail "port clash between the instances (${HA_PORT[*]} / ${HA_METRICS[*]}): run again"
  ha_set_controllers
}

# ha_set_controllers : br0 connects to both instances (reconnect backoff 1 s).
ha_set_controllers() {
  local u
  sys_vsctl set-controller br0 "tcp:127.0.0.1:${HA_PORT[a]}" "tcp:127.0.0.1:${HA_PORT[b]}"
  for u in $(sys_vsctl --bare --columns=_uuid list controller); do
    sys_vsctl set controller "$u" max_backoff=1000
  done
  sys_log "br0: controllers tcp:127.0.0.1:${HA_PORT[a]} (a), tcp:127.0.0.1:${HA_PORT[b]} (b)"
}

# ---------------------------------------------------------------- instances

# ha_use ID : point the session lab's helpers (sess_metrics, sess_in_sync,
# sess_bgp_routes, sess_fib_check) at instance ID.
ha_use() {
  TAPD_NS=${HA_NS[$1]:-r$1} RT_METRICS_PORT=${HA_METRICS[$1]} SESS_CTL=${HA_CTL[$1]:-}
}

# ha_start ID : tapflowd instance ID ("a", then "a2", "a3" ... in the harness's
# daemon names and logs) in the lab namespace; listening.
ha_start() {
  local id=$1 name
  HA_N[$id]=$(( ${HA_N[$id]} + 1 ))
  name=$id
  (( HA_N[$id] == 1 )) || name=$id${HA_N[$id]}
  sys_step "tapflowd instance $id ($name), cluster id $id"
  SYS_FDSTORE_PID=""
  sys_tapflowd_start "$name" -c "${HA_CONF[$id]}"
  HA_CTL[$id]=$name
  HA_FDSTORE[$id]=$SYS_FDSTORE_PID
}

ha_pid() { sys_daemon_pid "${HA_CTL[$1]}"; }
ha_log() { sys_daemon_log "${HA_CTL[$1]}"; }

# ha_log_count ID REGEX : lines of the instance's current log matching REGEX.
ha_log_count() { sys_log_count "${HA_CTL[$1]}" "$2"; }

# ha_wait_log ID REGEX [COUNT] [TIMEOUT_S]
ha_wait_log() { sys_wait_log "${HA_CTL[$1]}" "$2" "${3:-1}" "${4:-20}"; }

# ha_log_ms ID REGEX [NTH] : the time (epoch ms) of the NTH (default: the
# last) line matching REGEX in the instance's log; tapflowd's lines start
# with the local time to the millisecond ("2026-12-06T03:44:06.123 info ...").
ha_log_ms() {
  local line
  if [[ -n ${3:-} ]]; then
    line=$(grep -E -- "$2" "$(ha_log "$1")" | sed -n "${3}p")
  else
    line=$(grep -E -- "$2" "$(ha_log "$1")" | tail -n1)
  fi
  [[ -n $line ]] || return 1
  date -d "${line%% *}" +%s%3N
}

# ha_metric ID NAME : one value of the instance's metrics (dpid 1's where the
# metric has a dpid label); "" when absent or not answering.
ha_metric() {
  sys_lab curl -sf --max-time 3 "http://127.0.0.1:${HA_METRICS[$1]}/metrics" 2>/dev/null | awk -v n="$2" '
    { name = $1; sub(/\{.*/, "", name) }
    name == n && (index($0, "dpid=\"0000000000000001\"") || index($0, "dpid=") == 0) { printf "%d\n", $NF; exit }' || true
}

ha_role() { ha_metric "$1" tapflow_cluster_role; }   # 0 standby, 1 becoming, 2 master

# ha_wait_master ID [TIMEOUT_S] [COUNT] : the instance logged that the switch
# confirmed it as master for the COUNTth time in its current log (default 1;
# for a later takeover pass ha_log_count ID "$HA_MASTER_RE" + 1, counted
# before the event), and its tapflow_cluster_role says 2.
# ha_wait_standby ID [TIMEOUT_S] [COUNT] : likewise "cluster: standby for"
# (and tapd's standby line in router mode), role 0.
ha_wait_master() {
  local id=$1 timeout=${2:-20} count=${3:-1}
  ha_wait_log "$id" "$HA_MASTER_RE" "$count" "$timeout"
  sys_wait_until 5 "tapflow_cluster_role of $id to be 2" ha__role_is "$id" 2
}
ha_wait_standby() {
  local id=$1 timeout=${2:-20} count=${3:-1}
  ha_wait_log "$id" "$HA_STANDBY_RE" "$count" "$timeout"
  [[ $HA_MODE == switch ]] || ha_wait_log "$id" "$HA_TAPD_STANDBY_RE" "$count" "$timeout"
  sys_wait_until 5 "tapflow_cluster_role of $id to be 0" ha__role_is "$id" 0
}
ha__role_is() { [[ $(ha_role "$1") == "$2" ]]; }
ha__role_not_master() { local r; r=$(ha_role "$1"); [[ -n $r && $r != 2 ]]; }

# ha_kill ID : SIGKILL to the instance's tapflowd (only).
ha_kill() {
  local pid; pid=$(ha_pid "$1")
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  sys_wait_gone "$pid" 5 || sys_fail "tapflowd $1 (pid $pid) still there after SIGKILL"
}

# ha_kill_server ID : what the death of instance ID's server leaves: SIGKILL
# to its tapflowd, its fd store and its BIRD at once; then its namespace is
# deleted (a rebooted server starts from nothing: no TAPs, no kernel routes).
# HA_KILL_US: when the kills were sent (epoch us).
ha_kill_server() {
  local id=$1 pids=() p ns
  pids+=("$(ha_pid "$id")")
  [[ -n ${HA_FDSTORE[$id]:-} ]] && pids+=("${HA_FDSTORE[$id]}")
  [[ -n ${SYS_ROUTER_PIDS[r1$id]:-} ]] && pids+=("${SYS_ROUTER_PIDS[r1$id]}")
  HA_KILL_US=${EPOCHREALTIME/./}
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
    sys_wait_gone "$p" 5 || sys_fail "pid $p of instance $id still there after SIGKILL"
  done
  sys_log "instance $id's server died: SIGKILL to pids ${pids[*]} (tapflowd, fd store, BIRD)"
  if [[ $HA_MODE == router ]]; then
    ns=$(sys_ns_name "${HA_NS[$id]}")
    for p in $(ip netns pids "$ns" 2>/dev/null); do sys_kill_pid "$p" 2; done
    ip netns del "$ns"
    rm -f "${SYS_ROUTER_DIR[r1$id]}/bird.ctl" "${SYS_ROUTER_DIR[r1$id]}/bird.pid"
    sys_log "namespace $ns deleted (the server's state is gone)"
  fi
}

# ---------------------------------------------------------------- the switch

# ha_ovs_roles : "INSTANCE ROLE CONNECTED" per controller of br0, from OVSDB.
ha_ovs_roles() {
  sys_vsctl --format=csv --no-headings --columns=target,role,is_connected list controller | \
    awk -F, -v pa="${HA_PORT[a]}" -v pb="${HA_PORT[b]}" '{
      gsub(/"/, ""); id = "?"
      if ($1 ~ (":" pa "$")) id = "a"; else if ($1 ~ (":" pb "$")) id = "b"
      print id, ($2 == "" ? "-" : $2), $3 }' | sort
}

# ha_ovs_master : the instances OVS lists as master (space-separated; "" for none).
ha_ovs_master() { ha_ovs_roles | awk '$2 == "master" { printf "%s%s", sep, $1; sep = " " }'; }
ha__ovs_master_is() { [[ $(ha_ovs_master) == "$1" ]]; }

# ha_poll_start : polls br0's controller roles every 0.1 s into a file, one
# line per poll: "EPOCH_MS a=ROLE b=ROLE". ha_poll_stop ends it and prints
# the polls that saw two masters (none expected).
ha_poll_start() {
  HA_POLL_OUT=$SYS_DIR/roles-${EPOCHREALTIME/./}.txt
  (
    trap - ERR EXIT
    set +e
    while :; do
      r=$(ha_ovs_roles 2>/dev/null | awk '{ printf "%s=%s ", $1, $2 }')
      printf '%s %s\n' "$(( ${EPOCHREALTIME/./} / 1000 ))" "$r"
      sleep 0.1
    done
  ) >"$HA_POLL_OUT" 2>/dev/null &
  HA_POLL_PID=$!
  SYS_BG_PIDS+=("$HA_POLL_PID")
}
ha_poll_stop() {
  [[ -n $HA_POLL_PID ]] || return 0
  kill "$HA_POLL_PID" 2>/dev/null || true
  wait "$HA_POLL_PID" 2>/dev/null || true
  HA_POLL_PID=""
  grep -E 'a=master .*b=master' "$HA_POLL_OUT" || true
}
# ha_poll_first MS ROLE_PATTERN : the first poll at or after MS matching the
# pattern (e.g. 'b=master'); prints its time (epoch ms).
ha_poll_first() {
  awk -v t="$1" -v p="$2" '$1 >= t && $0 ~ p { print $1; exit }' "$HA_POLL_OUT"
}

# ha_flows_snapshot FILE : br0's flows (every table) and groups without
# counters or durations, sorted: what a controller has programmed.
ha_flows_snapshot() {
  {
    rt_ofctl dump-flows --no-stats | grep -v 'reply (' | sort
    rt_ofctl dump-groups | grep -v 'reply (' | sort
  } >"$1"
}

# ha_young_fib_flows SECONDS : FIB flows (cookie 0x726f) in the switch whose
# duration is under SECONDS: written (added or replaced) since then.
ha_young_fib_flows() {
  rt_ofctl dump-flows "table=$(rt_fib_table)" | awk -v s="$1" '
    /cookie=0x726f/ { if (match($0, /duration=[0-9.]+s/)) { d = substr($0, RSTART + 9, RLENGTH - 10); if (d + 0 < s) n++ } }
    END { print n + 0 }'
}

# ---------------------------------------------------------------- routers

# ha_router_start ID : BIRD r1 in instance ID's namespace (bird-ha-r1.conf),
# with -R (graceful restart recovery: bird-ha-r1.conf says why).
ha_router_start() {
  local id=$1 d
  d=$(sys_router_dir "r1$id")
  sys_render "$SYS_LAB_CONFIGS/bird-ha-r1.conf" "$d/bird.conf" RUN_DIR="$d" STUB_IF=eth1 \
    BGP_LOCAL=10.0.2.1 BGP_PEER=10.0.2.2
  # shellcheck disable=SC2086  # HA_R1_BIRD_ARGS: words
  sys_bird_start "r1$id" "${HA_NS[$id]}" "$d/bird.conf" ${HA_R1_BIRD_ARGS--R}
}

# ha_router_restart ID : the instance's BIRD stopped (SIGTERM) and started
# again with -R: after an instance stepped down, so that its next takeover
# is a graceful restart for lb too (its BIRD said "forwarding state kept").
ha_router_restart() {
  sys_router_stop "r1$1"
  ha_router_start "$1"
}

# ha_legacy_start : lb with HA_ROUTES generated /24s (HA_CHURN of them in
# its `churn` protocol).
ha_legacy_start() {
  local d bulk=$(( HA_ROUTES - HA_CHURN ))
  d=$(sys_router_dir lb)
  sess__gen_routes 0 "$bulk" >"$d/bulk.routes"
  sess__gen_routes "$bulk" "$HA_CHURN" >"$d/churn.routes"
  sys_render "$SYS_LAB_CONFIGS/bird-ha-legacy.conf" "$d/bird.conf.in" RUN_DIR="$d" \
    LOCAL_IP=10.0.2.2 PEER_IP=10.0.2.1 BULK_ROUTES='%%BULK_ROUTES%%' CHURN_ROUTES='%%CHURN_ROUTES%%'
  awk -v bulk="$d/bulk.routes" -v churn="$d/churn.routes" '
    $0 == "%%BULK_ROUTES%%" { while ((getline l < bulk) > 0) print l; next }
    $0 == "%%CHURN_ROUTES%%" { while ((getline l < churn) > 0) print l; next }
    { print }' "$d/bird.conf.in" >"$d/bird.conf"
  sys_log "lb: $(grep -c '^  route ' "$d/bird.conf") static routes in $d/bird.conf"
  sys_bird_start lb lb "$d/bird.conf"
}

# ha_lb_since : when lb's BGP protocol r1 last changed state (epoch ms), from
# `birdc show protocols r1` (timeformat protocol iso long ms).
ha_lb_since() {
  local line
  line=$(sys_birdc lb show protocols r1 | awk '$1 == "r1" { print $5, $6 }')
  [[ -n $line ]] || return 1
  date -d "$line" +%s%3N
}

# ha_converged ID TIMEOUT_S : instance ID's BIRD and lb Established, every
# expected route in ID's kernel, ID in sync and idle with no stale entries,
# h1 reaches 100.0.0.1.
ha_converged() {
  local id=$1 timeout=$2 t0=${EPOCHREALTIME/./}
  ha_use "$id"
  sys_wait_bgp_established "r1$id" 10.0.2.2 "$timeout"
  sys_wait_bgp_established lb 10.0.2.1 "$timeout"
  sys_wait_until "$timeout" "$(sess_expected_routes) BGP routes in r1$id's kernel (has $(sess_bgp_routes))" sess__routes_complete
  sys_wait_until "$timeout" "tapflowd $id in sync with $(sess_expected_routes)+ FIB flows, nothing stale" sess_in_sync
  sys_ping h1 100.0.0.1 3
  sys_log "converged on $id in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms: $(sess_bgp_routes) BGP routes"
}

# ha_fib_check ID : lib/fib_check.py --exact on the switch and ID's kernel.
ha_fib_check() { ha_use "$1"; sess_fib_check --exact; }
