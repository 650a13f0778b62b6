# shellcheck shell=bash disable=SC2034,SC2153,SC2004  # VL_* for the tests; TAPD_* from tapd_lab.sh; SYS_BRIDGE_* are associative
# The lab of the VLAN tests (vlan_*_test, issue 7): tapflowd's router app with
# routed VLAN interfaces (configs/lab/tapflowd-vlan.yaml): the namespace
# <id>-r1 has one TAP per VLAN (vlan10 10.0.10.1/24 fd00:10::1/64, vlan20
# 10.0.20.1/24 fd00:20::1/64); hosts inside a VLAN are switched by br0's flows
# (MAC learning), traffic between VLANs is routed through the FIB (table 3).
#
#   h10a 10.0.10.11 -- p1 [              ] p3 -- h20a 10.0.20.21
#   h10b 10.0.10.12 -- p2 [ br0, dpid 1  ] p4 -- h20b 10.0.20.22
#            (port 6: spare VLAN 10 port)  tr5 (port 5, trunk: 10 and 20 tagged)
#                                           |
#            lsw: the "legacy L2 switch", a second OVS bridge (standalone, no
#            controller; this kernel has no 802.1Q, so no host can tag itself):
#            trunk ltr, access l10 (tag=10) -- h10c 10.0.10.13
#                           access l20 (tag=20) -- h20c 10.0.20.23
#   (hosts also have fd00:VV::HH/64; default routes via .1 and fd00:VV::1)
#
#   source lib/harness.sh lib/routers.sh lib/tapd_lab.sh lib/routing_lab.sh lib/vlan_lab.sh
#   vlan_setup NAME        # sys_init, OVS, br0 + lsw, the hosts, the config
#   vlan_start ctl         # tapflowd up, vlan10/vlan20 with carrier, DAD done
#   vl_wait_learned 10 h10a 1 untagged; vl_dst_packets h10a; rt_packet_ins
# The rt_* helpers of routing_lab.sh work here (br0, metrics); the FIB is in
# table VL_FIB_TABLE.

if [[ -n ${SYS_VLAN_LAB_LOADED:-} ]]; then return 0; fi
SYS_VLAN_LAB_LOADED=1
[[ -n ${SYS_ROUTING_LAB_LOADED:-} ]] || \
  { echo "vlan_lab.sh: source lib/harness.sh, lib/routers.sh, lib/tapd_lab.sh and lib/routing_lab.sh first" >&2; exit 1; }

VL_FIB_TABLE=3 VL_L2_TABLE=1
VL_COOKIE_LEARNED_SRC=0x746120 VL_COOKIE_LEARNED_DST=0x746121
# Router MACs tapd derives for dpid 1 (configs/lab/tapflowd-vlan.yaml sets none).
VL_R10_MAC=02:00:00:01:00:0a VL_R20_MAC=02:00:00:01:00:14
declare -A VL_HOST_VLAN=()

sys__vlan_diagnostics() {
  if [[ -n $SYS_OVS_DIR ]] && sys_alive "${SYS_VSWITCHD_PID:-0}"; then
    printf -- '-- lsw (legacy switch) MAC table:\n'
    sys_lab ovs-appctl -t "$SYS_OVS_DIR/ovs-vswitchd.ctl" fdb/show lsw 2>&1 | sed 's/^/   /'
  fi
}

# vl__host NAME BRIDGE PORT VLAN HOST_NUMBER : a host in VLAN with
# 10.0.VLAN.HOST_NUMBER/24 and fd00:VLAN::HOST_NUMBER/64, routes via r1.
vl__host() {
  local name=$1 br=$2 port=$3 vlan=$4 n=$5
  sys_add_port_host "$name" "$br" "$port" "10.0.$vlan.$n/24" "fd00:$vlan::$n/64"
  sys_ns "$name" ip route add default via "10.0.$vlan.1"
  sys_ns "$name" ip -6 route add default via "fd00:$vlan::1"
  VL_HOST_VLAN[$name]=$vlan
}

# vlan_setup NAME [PROTOCOLS] : sys_init NAME, a private OVS with br0
# (PROTOCOLS, default OpenFlow13; datapath id 1) and lsw, the hosts above,
# $TAPD_CONFIG from configs/lab/tapflowd-vlan.yaml.
vlan_setup() {
  local protocols=${2:-OpenFlow13} br=br0 legacy=lsw
  rt_lab_start "$1" "$protocols" vlan_setup
  SYS_DIAG_HOOKS+=(sys__vlan_diagnostics)
  vl__host h10a br0 p1 10 11
  vl__host h10b br0 p2 10 12
  vl__host h20a br0 p3 20 21
  vl__host h20b br0 p4 20 22
  # The legacy switch: NORMAL forwarding, a trunk (all VLANs tagged) to br0.
  sys_vsctl add-br lsw -- set bridge lsw datapath_type=netdev fail_mode=standalone \
    other-config:disable-in-band=true
  SYS_BRIDGES+=(lsw)
  SYS_BRIDGE_PROTOCOLS[$legacy]=OpenFlow13
  SYS_BRIDGE_PORTS[$legacy]=0
  sys_lab ip link add tr5 type veth peer name ltr
  sys_lab ip link set tr5 up
  sys_lab ip link set ltr up
  sys_vsctl add-port br0 tr5 -- set interface tr5 ofport_request=5
  SYS_BRIDGE_PORTS[$br]=5
  sys_vsctl add-port lsw ltr
  vl__host h10c lsw l10 10 13
  vl__host h20c lsw l20 20 23
  sys_vsctl set port l10 tag=10 -- set port l20 tag=20
  sys_log "trunk: br0 port 5 (tr5) <-> lsw ltr; lsw l10 tag=10 (h10c), l20 tag=20 (h20c)"
  TAPD_CONFIG=$SYS_DIR/tapflowd.yaml
  TAPD_PORT=$(sys_free_port lab)
  RT_METRICS_PORT=$(sys_free_port lab)
  [[ $RT_METRICS_PORT != "$TAPD_PORT" ]] || RT_METRICS_PORT=$(( TAPD_PORT + 1 ))
  sys_render "$SYS_LAB_CONFIGS/tapflowd-vlan.yaml" "$TAPD_CONFIG" LISTEN_PORT="$TAPD_PORT" \
    NETNS="$(sys_ns_name "$TAPD_NS")" METRICS_PORT="$RT_METRICS_PORT"
  sys_log "tapflowd config $TAPD_CONFIG (port $TAPD_PORT, metrics $RT_METRICS_PORT)"
}

# vlan_start NAME : tapflowd up (OpenFlow 1.3), the TAPs vlan10 and vlan20
# with carrier and their IPv6 addresses past DAD.
vlan_start() {
  local name=$1 dev
  sys_step "tapflowd -c tapflowd.yaml (router app, VLANs 10 and 20) as '$name'"
  sys_tapflowd_start "$name" -c "$TAPD_CONFIG"
  if (( TAPD_UPS == 0 )); then sys_set_controller br0 "tcp:127.0.0.1:$TAPD_PORT"; fi
  TAPD_UPS=$(( TAPD_UPS + 1 ))
  sys_wait_log "$name" 'dpid=[^ ]+ .*up: OpenFlow 1\.3,' 1 20
  sys_wait_ns "$TAPD_NS" 10
  for dev in vlan10 vlan20; do
    sys_wait_link "$TAPD_NS" "$dev" 10
    sys_wait_carrier "$TAPD_NS" "$dev" on 10
    tapd_wait_ipv6 "$dev"
  done
  # No per-port TAP for a VLAN member port.
  if sys_ns "$TAPD_NS" ip -o link show | grep -E ': (p[1-6]|tr5)[@:]'; then
    sys_fail "VLAN member ports got TAPs of their own"
  fi
}

# vl_flows : br0's flows (port numbers, not names).
vl_flows() { rt_ofctl dump-flows | { grep -v 'reply (' || true; }; }

# vl_dst_re HOST : regex of the learned eth_dst flow of HOST's MAC.
vl_dst_re() {
  printf 'cookie=%s[0-9a-f]*, .*table=%s, .*priority=20000,dl_vlan=%s,dl_dst=%s actions=' \
    "$VL_COOKIE_LEARNED_DST" $(( VL_L2_TABLE + 1 )) "${VL_HOST_VLAN[$1]}" "${SYS_HOST_MAC[$1]}"
}
# vl_src_re HOST PORT : regex of the learned eth_src flow of HOST on PORT.
vl_src_re() {
  printf 'cookie=%s[0-9a-f]*, .*table=%s, .*priority=100,in_port=%s,dl_vlan=%s,dl_src=%s actions=' \
    "$VL_COOKIE_LEARNED_SRC" "$VL_L2_TABLE" "$2" "${VL_HOST_VLAN[$1]}" "${SYS_HOST_MAC[$1]}"
}

vl__has_flow() { vl_flows | grep -qE -- "$1"; }

# vl_wait_learned TIMEOUT_S HOST PORT untagged|tagged : HOST's MAC is learned
# on PORT: its eth_src flow there, and an eth_dst flow that outputs to PORT
# (popping the tag for an untagged member, keeping it on a trunk).
vl_wait_learned() {
  local timeout=$1 host=$2 port=$3 mode=$4 want line acts
  if [[ $mode == untagged ]]; then want="pop_vlan,output:$port"; else want="output:$port"; fi
  sys_wait_until "$timeout" "$host's MAC learned on port $port (eth_src flow)" vl__has_flow "$(vl_src_re "$host" "$port")"
  sys_wait_until "$timeout" "$host's eth_dst flow -> $want" vl__has_flow "$(vl_dst_re "$host")$want\$"
  line=$(vl_flows | grep -E -- "$(vl_dst_re "$host")")
  acts=${line##* actions=}
  sys_log "learned $host (${SYS_HOST_MAC[$host]}) on port $port: eth_dst flow actions=$acts"
}

# vl_dst_packets HOST : n_packets of HOST's learned eth_dst flow.
vl_dst_packets() {
  local line
  line=$(vl_flows | grep -E -- "$(vl_dst_re "$1")" | head -n1)
  [[ -n $line ]] || sys_fail "no learned eth_dst flow for $1"
  rt_flow_field "$line" n_packets
}
vl__dst_packets_at_least() {
  local line
  line=$(vl_flows | grep -E -- "$(vl_dst_re "$1")" | head -n1)
  [[ -n $line ]] && (( $(rt_flow_field "$line" n_packets) >= $2 ))
}

# vl_switched_burst FROM TO : RT_BURST pings inside a VLAN, none lost,
# forwarded by the learned flows alone: both hosts' eth_dst flows count at
# least RT_BURST more packets, tapflowd's PACKET_INs grow by at most
# RT_PI_SLACK.
vl_switched_burst() {
  local from=$1 to=$2 a0 b0 pi0 pi1
  a0=$(vl_dst_packets "$to")
  b0=$(vl_dst_packets "$from")
  pi0=$(rt_packet_ins)
  rt_burst "$from" "${SYS_HOST_IP4[$to]}" "$RT_BURST"
  sys_wait_until 5 "$to's eth_dst flow to count $RT_BURST more packets" vl__dst_packets_at_least "$to" $(( a0 + RT_BURST ))
  sys_wait_until 5 "$from's eth_dst flow to count $RT_BURST more packets" vl__dst_packets_at_least "$from" $(( b0 + RT_BURST ))
  pi1=$(rt_packet_ins)
  sys_log "  eth_dst flows: $to $a0 -> $(vl_dst_packets "$to"), $from $b0 -> $(vl_dst_packets "$from");" \
          "tapflowd PACKET_INs $pi0 -> $pi1"
  (( pi1 - pi0 <= RT_PI_SLACK )) || \
    sys_fail "$(( pi1 - pi0 )) PACKET_INs during $RT_BURST pings $from -> $to: the controller is in the path"
}

# vl_fib_host_re ADDR : regex of the FIB host flow of a neighbour in a /24 (/64).
vl_fib_host_re() {
  local len=24 max=32
  [[ $1 == *:* ]] && len=64 max=128
  printf 'cookie=%s[0-9a-f]*, .*table=%s, .*priority=%s,%s actions=' "$RT_COOKIE_HOST" "$VL_FIB_TABLE" \
    $(( 1000 + 2 * len + 1 )) "$(rt__match_re "$1/$max")"
}

# vl_check_routed_group FLOW_RE ROUTER_MAC HOST PORT untagged|tagged VLAN :
# the FIB flow points at an INDIRECT group [eth_src=ROUTER_MAC,
# eth_dst=HOST's MAC, dec_ttl, (tagged: push_vlan, vlan_vid=VLAN), output:PORT].
vl_check_routed_group() {
  local re=$1 rmac=$2 host=$3 port=$4 mode=$5 vlan=$6 line g desc acts
  line=$(vl_flows | grep -E -- "$re" | head -n1)
  [[ -n $line ]] || sys_fail "no FIB flow /$re/"
  g=$(rt_flow_field "$line" group)
  [[ -n $g ]] || sys_fail "FIB flow does not point at a group: $line"
  desc=$(rt_group "$g")
  acts=${desc#*bucket=actions=}
  [[ $desc == *type=indirect,* ]] || sys_fail "group $g is not INDIRECT: $desc"
  [[ $acts == *"set_field:$rmac->eth_src"* ]] || sys_fail "group $g: source MAC is not the router's $rmac: $desc"
  [[ $acts == *"set_field:${SYS_HOST_MAC[$host]}->eth_dst"* ]] || sys_fail "group $g: destination is not $host: $desc"
  [[ $acts =~ (^|,)dec_ttl(,|$) ]] || sys_fail "group $g does not decrement the TTL: $desc"
  [[ $acts =~ (^|,)output:$port(,|$) ]] || sys_fail "group $g does not output to port $port: $desc"
  if [[ $mode == tagged ]]; then
    [[ $acts == *push_vlan:0x8100* && $acts == *"set_field:$(( 4096 + vlan ))->vlan_vid"* ]] \
      || sys_fail "group $g does not tag VLAN $vlan: $desc"
  else
    [[ $acts != *push_vlan* ]] || sys_fail "group $g tags for an untagged member: $desc"
  fi
  sys_log "group $g: $acts"
}

# vl_wait_routed_group TIMEOUT_S ... : vl_check_routed_group once it passes.
vl__routed_group_ok() { ( vl_check_routed_group "$@" ) >/dev/null 2>&1; }
vl_wait_routed_group() {
  local timeout=$1; shift
  sys_wait_until "$timeout" "the FIB group of $3 to reach port $4 ($5)" vl__routed_group_ok "$@"
  vl_check_routed_group "$@"
}

# vl_capture_start NAME HOST FILTER : tcpdump on HOST's eth0 in the background
# for at most 30 s, every matching frame one line (vl_capture_lines NAME).
vl_capture_start() {
  sys_daemon_start "$1" "$2" 'listening on' 10 timeout 30 tcpdump -l -n -e -i eth0 "$3"
}
vl_capture_lines() {
  grep -cE '^[0-9]{2}:[0-9]{2}:' "$(sys_daemon_log "$1")" || true
}
