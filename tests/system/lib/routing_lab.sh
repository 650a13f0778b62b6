# shellcheck shell=bash disable=SC2034  # RT_* are for the tests
# The lab of the routing tests (routing_*_test): tapflowd's router app
# compiles the kernel FIB of its namespace into the switch's flows and
# groups (issue 5; include/tapflow/routing/fib_compiler.hpp has the pipeline):
#
#   h1 10.0.1.10/24 fd00:1::10/64 -- p1 [ br0, dpid 1 ] p2 -- h2 10.0.2.10/24 fd00:2::10/64
#                                          |   |  p3 -- h3 10.0.3.10/24 fd00:3::10/64
#                                tapflowd (router app), namespace <id>-r1:
#                                TAP eth1 = p1 10.0.1.1/24 fd00:1::1/64, eth2 = p2 .2.1,
#                                eth3 = p3 .3.1 (configs/lab/tapflowd-routing.yaml)
#
#   source lib/harness.sh; source lib/routers.sh; source lib/tapd_lab.sh
#   source lib/routing_lab.sh
#   routing_setup NAME OpenFlow13       # sys_init, OVS, br0, h1..h3, the config
#   routing_start ctl                   # tapflowd up, TAPs with carrier, forwarding on
#   rt_wait_flow 10 "h2's host flow" "$(rt_host_flow_re 10.0.2.10 24)"
#   rt_check_next_hop "$(rt_flow_one "$(rt_host_flow_re 10.0.2.10 24)")" p2 "${SYS_HOST_MAC[h2]}"
#   rt_burst h1 10.0.2.10 200; rt_packet_ins; rt_ping_ttl h1 10.0.2.10
# The tapd lab (lib/tapd_lab.sh: the legacy router behind p2) works with the
# rt_* helpers too: routing_tapd_config after tapd_config adds the metrics
# endpoint and whatever routing needs in the config.
#
# What the helpers expect of the switch (the FIB compiler's contract):
#   cookies 0x726f01... route, 0x726f02... connected host, 0x726f03... miss;
#   priorities 1000 + 2*len (route), 1000 + 2*len + 1 (host in a /len subnet),
#   0 (miss, 1.3 only); FIB table 1 on OpenFlow 1.3 (actions=group:N, one
#   INDIRECT group per next hop: set eth_src, set eth_dst, dec_ttl, output;
#   SELECT groups for ECMP), table 0 on 1.0 (inline mod_dl_src, mod_dl_dst,
#   output; no TTL decrement).

if [[ -n ${SYS_ROUTING_LAB_LOADED:-} ]]; then return 0; fi
SYS_ROUTING_LAB_LOADED=1
[[ -n ${SYS_HARNESS_LOADED:-} && -n ${SYS_ROUTERS_LOADED:-} ]] || \
  { echo "routing_lab.sh: source lib/harness.sh, lib/routers.sh and lib/tapd_lab.sh first" >&2; exit 1; }
declare -F tapd_start >/dev/null || { echo "routing_lab.sh: source lib/tapd_lab.sh first" >&2; exit 1; }

RT_COOKIE_ROUTE=0x726f01 RT_COOKIE_HOST=0x726f02 RT_COOKIE_MISS=0x726f03
RT_DPID=0000000000000001
RT_METRICS_PORT=""
# Host N (1..3) is hN on port pN: 10.0.N.10/24 and fd00:N::10/64, its router
# (TAP ethN in r1) 10.0.N.1 and fd00:N::1.
rt_host_ip() { printf '10.0.%s.10' "$1"; }
rt_host_ip6() { printf 'fd00:%s::10' "$1"; }

sys__routing_diagnostics() {
  if [[ -n $SYS_OVS_DIR ]] && sys_alive "${SYS_VSWITCHD_PID:-0}"; then
    printf -- '-- groups of br0:\n'
    rt_ofctl dump-groups 2>&1 | sed 's/^/   /'
    if [[ $TAPD_VERSION == 1.3 ]]; then
      printf -- '-- group stats of br0:\n'
      rt_ofctl dump-group-stats 2>&1 | sed 's/^/   /'
    fi
  fi
  if [[ -n $RT_METRICS_PORT ]]; then
    printf -- '-- tapflowd packet-ins: %s\n' "$(rt_packet_ins 2>&1)"
  fi
}

# rt_lab_start NAME PROTOCOLS CALLER : what every routed lab starts with:
# sys_init NAME, tapd's and routing's diagnostics, a private OVS with br0
# (PROTOCOLS, datapath id 1) and TAPD_VERSION to match. CALLER names the
# setup function in the error for a bad PROTOCOLS.
rt_lab_start() {
  local name=$1 protocols=$2 caller=$3
  sys_init "$name"
  sys_require tcpdump curl
  SYS_DIAG_HOOKS+=(sys__tapd_diagnostics sys__routing_diagnostics)
  [[ -d $SYS_LAB_CONFIGS ]] || sys_fail "configs/lab not found (SYS_LAB_CONFIGS=$SYS_LAB_CONFIGS)"
  sys_ovs_start
  sys_add_bridge br0 "$protocols" "$RT_DPID"
  case $protocols in
    OpenFlow10) TAPD_VERSION=1.0 ;;
    OpenFlow13) TAPD_VERSION=1.3 ;;
    *) sys_fail "$caller: PROTOCOLS is OpenFlow10 or OpenFlow13, not $protocols" ;;
  esac
}

# routing_setup NAME PROTOCOLS : sys_init NAME, a private OVS with br0
# (datapath id 1), h1..h3 on p1..p3 (IPv4 and IPv6, default routes via r1),
# and $TAPD_CONFIG from configs/lab/tapflowd-routing.yaml.
routing_setup() {
  local name=$1 protocols=$2 n
  rt_lab_start "$name" "$protocols" routing_setup
  for n in 1 2 3; do
    sys_add_port_host "h$n" br0 "p$n" "$(rt_host_ip "$n")/24" "$(rt_host_ip6 "$n")/64"
    sys_ns "h$n" ip route add default via "10.0.$n.1"
    sys_ns "h$n" ip -6 route add default via "fd00:$n::1"
  done
  TAPD_CONFIG=$SYS_DIR/tapflowd.yaml
  TAPD_PORT=$(sys_free_port lab)
  RT_METRICS_PORT=$(sys_free_port lab)
  [[ $RT_METRICS_PORT != "$TAPD_PORT" ]] || RT_METRICS_PORT=$(( TAPD_PORT + 1 ))
  sys_render "$SYS_LAB_CONFIGS/tapflowd-routing.yaml" "$TAPD_CONFIG" LISTEN_PORT="$TAPD_PORT" \
    NETNS="$(sys_ns_name "$TAPD_NS")" METRICS_PORT="$RT_METRICS_PORT"
  routing__config_hook "$TAPD_CONFIG"
  sys_log "tapflowd config $TAPD_CONFIG (port $TAPD_PORT, metrics $RT_METRICS_PORT)"
}

# routing_tapd_config : for the tapd lab (tapd_setup, tapd_config): adds the
# metrics endpoint to $TAPD_CONFIG (and what routing_setup's config has).
routing_tapd_config() {
  [[ -n $TAPD_CONFIG ]] || sys_fail "routing_tapd_config: call tapd_config first"
  sys_require curl
  SYS_DIAG_HOOKS+=(sys__routing_diagnostics)
  RT_METRICS_PORT=$(sys_free_port lab)
  [[ $RT_METRICS_PORT != "$TAPD_PORT" ]] || RT_METRICS_PORT=$(( TAPD_PORT + 1 ))
  printf '\nmetrics:\n  listen: "127.0.0.1:%s"\n' "$RT_METRICS_PORT" >>"$TAPD_CONFIG"
  routing__config_hook "$TAPD_CONFIG"
}

# The one place for config the routing wiring may need beyond the router
# app (none so far: the router app routes what its namespace's FIB says).
routing__config_hook() { :; }

# routing_start NAME : tapd_start NAME (switch connected, TAPs eth1/eth2 with
# carrier), eth3 too if configured, IPv4/IPv6 forwarding on in r1 (so the
# kernel forwards what the switch punts: first packets, unresolved next
# hops), DAD done on the TAPs with IPv6 addresses.
routing_start() {
  local dev
  tapd_start "$1"
  if grep -q 'interface: eth3' "$TAPD_CONFIG"; then
    sys_wait_link "$TAPD_NS" eth3 10
    sys_wait_carrier "$TAPD_NS" eth3 on 10
  fi
  sys_ns "$TAPD_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  for dev in eth1 eth2 eth3; do
    if sys_ns "$TAPD_NS" ip -6 addr show dev "$dev" scope global 2>/dev/null | grep -q inet6; then
      tapd_wait_ipv6 "$dev"
    fi
  done
}

# ---------------------------------------------------------------- the switch

# rt_ofctl COMMAND [ARGS...] : ovs-ofctl on br0 at its version, port numbers
# (not names) in the output.
rt_ofctl() {
  local cmd=$1; shift
  timeout 30 ovs-ofctl --no-names -O "${SYS_BRIDGE_PROTOCOLS[br0]}" "$cmd" "unix:$SYS_OVS_DIR/br0.mgmt" "$@"
}

rt_fib_table() { if [[ $TAPD_VERSION == 1.3 ]]; then echo 1; else echo 0; fi; }

# rt_fib_flows : the FIB's flows (cookie class 0x726f), one per line.
rt_fib_flows() { rt_ofctl dump-flows | { grep -F 'cookie=0x726f' || true; }; }

# shellcheck disable=SC2001,SC2016  # one sed for every ERE metacharacter; $ is literal
rt__re_escape() { sed 's/[.[\*^$()+?{}|]/\\&/g' <<<"$1"; }

# rt__match_re ADDR/LEN : how OVS prints the match of that prefix.
rt__match_re() {
  local addr=${1%/*} len=${1#*/} field
  if [[ $addr == *:* ]]; then field="ipv6,ipv6_dst"; [[ $len == 128 ]] && len=""
  else field="ip,nw_dst"; [[ $len == 32 ]] && len=""
  fi
  printf '%s=%s' "$field" "$(rt__re_escape "$addr${len:+/$len}")"
}

# rt_route_flow_re PREFIX : regex (grep -E) of the route flow of PREFIX
# (ADDR/LEN as the kernel has it) in the FIB table, e.g. 192.168.50.0/24.
rt_route_flow_re() {
  local len=${1#*/}
  printf 'cookie=%s[0-9a-f]*, .*table=%s, .*priority=%s,%s actions=' "$RT_COOKIE_ROUTE" \
    "$(rt_fib_table)" $(( 1000 + 2 * len )) "$(rt__match_re "$1")"
}

# rt_host_flow_re ADDR SUBNET_LEN : regex of the host flow of a resolved
# neighbour ADDR in a connected /SUBNET_LEN.
rt_host_flow_re() {
  local max=32
  [[ $1 == *:* ]] && max=128
  printf 'cookie=%s[0-9a-f]*, .*table=%s, .*priority=%s,%s actions=' "$RT_COOKIE_HOST" \
    "$(rt_fib_table)" $(( 1000 + 2 * $2 + 1 )) "$(rt__match_re "$1/$max")"
}

rt_has_flow() { rt_fib_flows | grep -qE -- "$1"; }
rt_no_flow() { ! rt_has_flow "$1"; }

# rt_wait_flow TIMEOUT_S DESCRIPTION REGEX / rt_wait_flow_gone ...
rt_wait_flow() {
  sys_wait_until "$1" "$2 in br0 (/$3/)" rt_has_flow "$3"
  sys_log "flow: $(rt_flow_one "$3" | sed -E 's/^ *cookie=[^ ]+ duration=[^ ]+ //')"
}
rt_wait_flow_gone() {
  sys_wait_until "$1" "$2 to leave br0 (/$3/)" rt_no_flow "$3"
  sys_log "flow gone: $2"
}

# rt_flow_one REGEX : the one FIB flow matching REGEX (fails on none or more).
rt_flow_one() {
  local lines
  lines=$(rt_fib_flows | grep -E -- "$1" || true)
  if [[ -z $lines || $(wc -l <<<"$lines") != 1 ]]; then
    sys_fail "expected one FIB flow matching /$1/, got: ${lines:-none}"
  fi
  printf '%s\n' "$lines"
}

# rt_flow_field LINE FIELD : n_packets, duration (seconds, as printed),
# priority, group (the N of actions=group:N, empty if none) of a flow line.
rt_flow_field() {
  case $2 in
    n_packets) sed -E 's/.*[ ,]n_packets=([0-9]+),.*/\1/' <<<"$1" ;;
    duration) sed -E 's/.*[ ,]duration=([0-9.]+)s,.*/\1/' <<<"$1" ;;
    priority) sed -E 's/.*[ ,]priority=([0-9]+)[, ].*/\1/' <<<"$1" ;;
    group) sed -nE 's/.* actions=group:([0-9]+)$/\1/p' <<<"$1" ;;
    actions) sed -E 's/.* actions=//' <<<"$1" ;;
    *) sys_fail "rt_flow_field: unknown field $2" ;;
  esac
}

# rt_flow_packets REGEX : n_packets of the one FIB flow matching REGEX.
rt_flow_packets() { rt_flow_field "$(rt_flow_one "$1")" n_packets; }

# rt_wait_packets REGEX MIN [TIMEOUT_S] : the n_packets of the FIB flow
# matching REGEX reaches MIN (OVS pushes the datapath's statistics to its
# flows about every 0.5 s, so a count read right after traffic lags).
rt__packets_at_least() { # (a sys_wait_until predicate: must not sys_fail)
  local line
  line=$(rt_fib_flows | grep -E -- "$1" | head -n1)
  [[ -n $line ]] && (( $(rt_flow_field "$line" n_packets) >= $2 ))
}
rt_wait_packets() {
  sys_wait_until "${3:-5}" "n_packets >= $2 on the flow /$1/" rt__packets_at_least "$1" "$2"
}

# rt_group ID : br0's group ID as dump-groups prints it (empty if none).
rt_group() { rt_ofctl dump-groups | { grep -E "^ *group_id=$1," || true; }; }

# rt_group_buckets ID : the number of buckets of group ID.
rt_group_buckets() { rt_group "$1" | grep -o 'bucket=' | wc -l; }

# rt_group_bucket_packets ID : the packet_count of each bucket, one per line.
rt_group_bucket_packets() {
  rt_ofctl dump-group-stats | grep -E "^ *group_id=$1," | grep -oE 'bucket[0-9]+:packet_count=[0-9]+' \
    | sed 's/.*=//'
}

# rt__actions_forward ACTIONS PORT MAC : ACTIONS (of a flow or a bucket)
# rewrite the source MAC to PORT's, the destination to MAC and output on PORT.
rt__actions_forward() {
  local acts=$1 port=$2 mac=$3 port_mac ofport
  port_mac=$(sys_port_mac "$port")
  ofport=$(sys_vsctl get interface "$port" ofport)
  local src_re="(set_field:$port_mac->eth_src|mod_dl_src:$port_mac)(,|\$)"
  local dst_re="(set_field:$mac->eth_dst|mod_dl_dst:$mac)(,|\$)" out_re="(^|,)output:$ofport(,|\$)"
  [[ $acts =~ $src_re ]] || { echo "source MAC is not $port's $port_mac"; return 1; }
  [[ $acts =~ $dst_re ]] || { echo "destination MAC is not $mac"; return 1; }
  [[ $acts =~ $out_re ]] || { echo "no output to $port (port $ofport)"; return 1; }
}

# rt_check_next_hop FLOW_LINE PORT MAC : the flow forwards to MAC out of
# PORT: on 1.3 through an INDIRECT group [eth_src=PORT's MAC, eth_dst=MAC,
# dec_ttl, output:PORT]; on 1.0 with those actions inline (no dec_ttl).
# Prints the group id on 1.3 (nothing on 1.0).
rt_check_next_hop() {
  local line=$1 port=$2 mac=$3 g desc acts why
  if [[ $TAPD_VERSION == 1.3 ]]; then
    g=$(rt_flow_field "$line" group)
    [[ -n $g ]] || sys_fail "flow does not point at a group: $line"
    desc=$(rt_group "$g")
    [[ -n $desc ]] || sys_fail "flow points at group $g, which is not in br0: $line"
    [[ $desc == *type=indirect,* ]] || sys_fail "group $g is not INDIRECT: $desc"
    [[ $(rt_group_buckets "$g") == 1 ]] || sys_fail "group $g has not exactly one bucket: $desc"
    acts=${desc#*bucket=actions=}
    why=$(rt__actions_forward "$acts" "$port" "$mac") || sys_fail "group $g: $why: $desc"
    [[ $acts =~ (^|,)dec_ttl(,|$) ]] || sys_fail "group $g does not decrement the TTL: $desc"
    sys_log "group $g: $acts"
    printf '%s' "$g"
  else
    acts=$(rt_flow_field "$line" actions)
    why=$(rt__actions_forward "$acts" "$port" "$mac") || sys_fail "flow: $why: $line"
    [[ ! $acts =~ dec_ttl ]] || sys_fail "a 1.0 flow with dec_ttl (not a 1.0 action): $line"
    sys_log "inline actions: $acts"
  fi
}

# ---------------------------------------------------------------- the controller

# rt_metric NAME : the value of tapflowd's metric NAME for br0 (dpid label),
# from its Prometheus endpoint, as an integer.
rt_metric() {
  local name=$1 out
  out=$(sys_lab curl -sf --max-time 5 "http://127.0.0.1:$RT_METRICS_PORT/metrics") \
    || sys_fail "tapflowd's metrics at 127.0.0.1:$RT_METRICS_PORT do not answer"
  awk -v name="$name" -v dpid="$RT_DPID" '
    index($0, name "{") == 1 && index($0, "dpid=\"" dpid "\"") { n = $NF; found = 1 }
    END { if (!found) exit 1; printf "%d\n", n }' <<<"$out" \
    || sys_fail "no $name{dpid=\"$RT_DPID\"} in tapflowd's metrics"
}

# rt_packet_ins : tapflowd's PACKET_IN count from br0 (its metrics).
rt_packet_ins() { rt_metric tapflow_datapath_packet_ins_total; }

# rt_slow_path_packets : packets the switch sent to the controller because
# they were to be routed: n_packets summed over the FIB's CONTROLLER flows
# (miss, connected subnets, unreachable) and tapd's router-MAC flows when
# they go to the controller (1.0, or no FIB). ARP, ND, routing protocols
# and traffic to the router's own addresses hit other flows.
rt_slow_path_packets() {
  rt_ofctl dump-flows | awk '
    /actions=.*CONTROLLER/ && (/cookie=0x726f/ || (/cookie=0x7461/ && /priority=100,/)) {
      if (match($0, /n_packets=[0-9]+/)) n += substr($0, RSTART + 10, RLENGTH - 10)
    }
    END { printf "%d\n", n }'
}

# ---------------------------------------------------------------- traffic

# rt_forwarded_burst FROM DEST FLOW_RE... : RT_BURST pings FROM -> DEST (10
# ms apart), none lost, forwarded by the switch alone: each FIB flow (regex)
# counts at least RT_BURST more packets, the slow-path flows
# (rt_slow_path_packets) none, and tapflowd's PACKET_IN counter grows by at
# most RT_PI_SLACK (the hosts' ARP/ND refreshes, IPv6 autoconfiguration
# multicast, routing protocol hellos: not the burst, which would be at
# least 2*RT_BURST).
RT_BURST=200 RT_PI_SLACK=20
rt_forwarded_burst() {
  local from=$1 dest=$2 re pi0 pi1 slow0 slow1 i=0; shift 2
  local -a before=()
  for re in "$@"; do before+=("$(rt_flow_packets "$re")"); done
  pi0=$(rt_packet_ins)
  slow0=$(rt_slow_path_packets)
  rt_burst "$from" "$dest" "$RT_BURST"
  for re in "$@"; do
    rt_wait_packets "$re" $(( before[i] + RT_BURST )) 5
    sys_log "  flow /${re##*priority=}/: n_packets ${before[i]} -> $(rt_flow_packets "$re")"
    i=$(( i + 1 ))
  done
  slow1=$(rt_slow_path_packets)
  pi1=$(rt_packet_ins)
  sys_log "  slow-path flows: n_packets $slow0 -> $slow1; tapflowd PACKET_INs: $pi0 -> $pi1"
  (( slow1 == slow0 )) || \
    sys_fail "$(( slow1 - slow0 )) packets went to the controller through the FIB's or tapd's router-MAC flows during $RT_BURST pings $from -> $dest"
  (( pi1 - pi0 <= RT_PI_SLACK )) || \
    sys_fail "$(( pi1 - pi0 )) PACKET_INs during $RT_BURST pings $from -> $dest: not forwarded by the switch alone"
}

# rt_burst FROM DEST COUNT : COUNT echo requests 10 ms apart, none lost.
rt_burst() {
  local from=$1 dest=$2 count=$3 out
  out=$(sys_ns "$from" ping -n -q -c "$count" -i 0.01 -W 2 "$dest" 2>&1) || true
  grep -q ' 0% packet loss' <<<"$out" || { printf '%s\n' "$out" >&2; sys_fail "ping -c $count $from -> $dest: packets lost"; }
  sys_log "ping -c $count -i 0.01 $from -> $dest: $(grep -E 'packets' <<<"$out")"
}

# rt_ping_ttl FROM DEST : the TTL (hop limit) of the echo replies FROM gets
# (3 pings, all replies with one TTL).
rt_ping_ttl() {
  local out ttls
  out=$(sys_ns "$1" ping -n -c 3 -i 0.2 -W 2 "$2" 2>&1) || { printf '%s\n' "$out" >&2; sys_fail "ping $1 -> $2 failed"; }
  ttls=$(grep -oE 'ttl=[0-9]+' <<<"$out" | sort -u | sed 's/ttl=//')
  [[ -n $ttls && $(wc -l <<<"$ttls") == 1 ]] || { printf '%s\n' "$out" >&2; sys_fail "ping $1 -> $2: replies with TTLs [$(tr '\n' ' ' <<<"$ttls")]"; }
  printf '%s' "$ttls"
}

# rt_capture_start NAME HOST COUNT FILTER : tcpdump -e -v on HOST's eth0 for
# COUNT frames matching FILTER, in the background (rt_capture_wait NAME).
rt_capture_start() {
  local name=$1 host=$2 count=$3 filter=$4
  sys_daemon_start "$name" "$host" 'listening on' 10 timeout 30 tcpdump -l -n -e -v -i eth0 -c "$count" "$filter"
}

# rt_capture_wait NAME : waits for the capture to end; prints, per frame,
# "SRC_MAC DST_MAC TTL" (TTL: IPv4 ttl or IPv6 hlim).
rt_capture_wait() {
  local pid; pid=$(sys_daemon_pid "$1")
  sys_wait_gone "$pid" 20 || sys_fail "tcpdump ($1) did not see its frames within 20 s"
  # Its exit status may be gone already (reaped elsewhere): the log says
  # whether it captured its frames.
  wait "$pid" 2>/dev/null || grep -qE '^[0-9]+ packets? captured' "$(sys_daemon_log "$1")" || \
    sys_fail "tcpdump ($1) failed: $(tail -n 3 "$(sys_daemon_log "$1")")"
  sed -nE 's/^[0-9:.]+ ([0-9a-f:]{17}) > ([0-9a-f:]{17}), .*[ (](ttl|hlim) ([0-9]+)[,)].*/\1 \2 \4/p' \
    "$(sys_daemon_log "$1")"
}
