# shellcheck shell=bash disable=SC2034  # TAPD_* are for the tests
# The lab of the tapd tests (tapd_*_test): tapflowd's router app on a private
# Open vSwitch, with the configs of configs/lab/ (README.md there):
#
#        h1 ---- p1 [ br0, dpid 1 ] p2 ---- eth0 [lr] eth1 ---- h2
#   10.0.1.10         |         |     10.0.2.2       10.0.3.1    10.0.3.10
#   fd00:1::10        | OpenFlow           legacy router (FRR or BIRD)
#                 tapflowd (router app), namespace <id>-r1:
#                 TAP eth1 = p1 10.0.1.1/24 fd00:1::1/64, eth2 = p2 10.0.2.1/24,
#                 BIRD (bird-r1.conf): OSPF with lr, eBGP 65001 <-> 65002
#
#   source lib/harness.sh; source lib/routers.sh; source lib/tapd_lab.sh
#   tapd_setup NAME OpenFlow13 [legacy]   # sys_init, OVS, br0, h1, lr (+ h2)
#   tapd_config ""                        # $SYS_DIR/tapflowd.yaml from the template
#   tapd_start ctl                        # tapflowd, switch connected, TAPs with carrier
#   tapd_r1_bird; tapd_legacy_frr | tapd_legacy_bird
#   tapd_converged ospf bgp               # adjacency, session, routes, pings
# The tests fail (never skip) until tapflowd has its router app: tapd_start
# then fails with tapflowd's own complaint about the config.

# Short names (sys_ns_name adds the test's prefix) and the addressing plan.
TAPD_NS=r1
TAPD_H1_IP=10.0.1.10 TAPD_H1_IP6=fd00:1::10 TAPD_R1_P1_IP=10.0.1.1 TAPD_R1_P1_IP6=fd00:1::1
TAPD_R1_P2_IP=10.0.2.1 TAPD_LR_IP=10.0.2.2 TAPD_LR_LAN_IP=10.0.3.1 TAPD_H2_IP=10.0.3.10
TAPD_R1_ID=10.255.0.1 TAPD_LR_ID=10.255.0.2
TAPD_CONFIG="" TAPD_PORT="" TAPD_VERSION="" TAPD_UPS=0

sys__tapd_diagnostics() {
  local ns; ns=$(sys_ns_name "$TAPD_NS")
  printf -- '-- tapflow namespace %s:\n' "$ns"
  if ip netns exec "$ns" true 2>/dev/null; then
    {
      ip -n "$ns" -d link show
      ip -n "$ns" addr show
      ip -n "$ns" neigh show
      ip -n "$ns" route show | head -n "${SYS_DIAG_ROUTE_LINES:--0}"  # see routers.sh
    } 2>&1 | sed 's/^/   /'
  else
    printf '   (does not exist)\n'
  fi
  if [[ -n $SYS_OVS_DIR ]] && sys_alive "${SYS_VSWITCHD_PID:-0}"; then
    printf -- '-- ports of br0:\n'
    sys_ofctl br0 show 2>&1 | sed 's/^/   /'
  fi
}

# tapd_setup NAME PROTOCOLS [legacy] : sys_init NAME, a private OVS with br0
# (datapath id 1, as tapflowd-router.yaml expects), h1 on p1 and the legacy
# router's namespace lr on p2 (addresses only: no daemon yet). With "legacy",
# also h2 behind lr on its LAN, lr forwarding.
tapd_setup() {
  local name=$1 protocols=$2 legacy=${3:-}
  sys_init "$name"
  sys_require iperf3
  SYS_DIAG_HOOKS+=(sys__tapd_diagnostics)
  [[ -d $SYS_LAB_CONFIGS ]] || sys_fail "configs/lab not found (SYS_LAB_CONFIGS=$SYS_LAB_CONFIGS)"
  sys_ovs_start
  sys_add_bridge br0 "$protocols" 0000000000000001
  case $protocols in
    OpenFlow10) TAPD_VERSION=1.0 ;;
    OpenFlow13) TAPD_VERSION=1.3 ;;
    *) sys_fail "tapd_setup: PROTOCOLS is OpenFlow10 or OpenFlow13, not $protocols" ;;
  esac
  sys_add_port_host h1 br0 p1 "$TAPD_H1_IP/24" "$TAPD_H1_IP6/64"
  sys_ns h1 ip route add default via "$TAPD_R1_P1_IP"
  sys_add_port_host lr br0 p2 "$TAPD_LR_IP/24"
  if [[ $legacy == legacy ]]; then
    sys_ns_create h2
    sys_veth lr eth1 h2 eth0 "$TAPD_LR_LAN_IP/24" "$TAPD_H2_IP/24"
    sys_ns h2 ip route add default via "$TAPD_LR_LAN_IP"
    sys_ns lr sysctl -qw net.ipv4.ip_forward=1
  fi
}

# tapd_config SED_SCRIPT : $SYS_DIR/tapflowd.yaml from configs/lab/
# tapflowd-router.yaml (a free port on the lab's loopback, namespace
# <id>-r1), then edited with `sed -e SED_SCRIPT` unless it is "".
# Sets TAPD_CONFIG and TAPD_PORT.
tapd_config() {
  TAPD_CONFIG=$SYS_DIR/tapflowd.yaml
  TAPD_PORT=$(sys_free_port lab)
  sys_render "$SYS_LAB_CONFIGS/tapflowd-router.yaml" "$TAPD_CONFIG" \
    LISTEN_PORT="$TAPD_PORT" NETNS="$(sys_ns_name "$TAPD_NS")"
  [[ -z ${1:-} ]] || sed -i -e "$1" "$TAPD_CONFIG"
  sys_log "tapflowd config $TAPD_CONFIG (port $TAPD_PORT, netns $(sys_ns_name "$TAPD_NS"))"
}

# tapd_start NAME : tapflowd -c $TAPD_CONFIG in the lab namespace; the
# switch connects (once set, the controller target stays) and tapflowd logs
# it up at the bridge's version; the namespace and the TAPs of p1 and p2
# exist and have carrier. The tapflow-fdstore that tapflowd starts or finds
# ("fd store: pid N at NAME") is registered by PID for cleanup, and its PID
# left in SYS_FDSTORE_PID (sys_tapflowd_start does both).
tapd_start() {
  local name=$1 other
  [[ -n $TAPD_CONFIG ]] || tapd_config ""
  sys_step "tapflowd -c tapflowd.yaml (app router) as '$name'"
  sys_tapflowd_start "$name" -c "$TAPD_CONFIG"
  if (( TAPD_UPS == 0 )); then sys_set_controller br0 "tcp:127.0.0.1:$TAPD_PORT"; fi
  TAPD_UPS=$(( TAPD_UPS + 1 ))
  sys_wait_log "$name" "dpid=[^ ]+ .*up: OpenFlow ${TAPD_VERSION//./\\.}," 1 20
  other=$(grep -E 'dpid=[^ ]+ .*up: OpenFlow' "$(sys_daemon_log "$name")" \
            | grep -vF "up: OpenFlow $TAPD_VERSION," || true)
  [[ -z $other ]] || sys_fail "tapflowd negotiated another version than $TAPD_VERSION: $other"
  sys_wait_ns "$TAPD_NS" 10
  sys_wait_link "$TAPD_NS" eth1 10
  sys_wait_link "$TAPD_NS" eth2 10
  sys_wait_carrier "$TAPD_NS" eth1 on 10
  sys_wait_carrier "$TAPD_NS" eth2 on 10
}

# tapd_stop NAME : SIGTERM, exit status 0; shows what it warned about.
tapd_stop() {
  local noisy line
  sys_daemon_stop "$1" 10
  noisy=$(grep -E ' (warn|warning|error|critical) ' "$(sys_daemon_log "$1")" || true)
  if [[ -n $noisy ]]; then
    sys_log "tapflowd ($1) logged warnings/errors:"
    while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$noisy" >&2
  fi
}

# tapd_wait_ipv6 DEV : the TAP's IPv6 addresses are past DAD (none tentative).
tapd__dad_done() { [[ -z $(sys_ns "$TAPD_NS" ip -6 addr show dev "$1" tentative) ]]; }
tapd_wait_ipv6() {
  sys_wait_until 10 "IPv6 DAD on $1 in $(sys_ns_name "$TAPD_NS")" tapd__dad_done "$1"
}

# tapd_r1_bird : BIRD in the tapflow namespace with configs/lab/bird-r1.conf.
tapd_r1_bird() {
  local d; d=$(sys_router_dir r1)
  sys_render "$SYS_LAB_CONFIGS/bird-r1.conf" "$d/bird.conf" RUN_DIR="$d"
  sys_bird_start r1 "$TAPD_NS" "$d/bird.conf"
}

# tapd_legacy_frr / tapd_legacy_bird : the legacy router lr (uplink eth0 on
# p2, LAN eth1 to h2) with configs/lab/frr-legacy/ or bird-legacy.conf.
tapd_legacy_frr() {
  local d f; d=$(sys_router_dir lr-conf)
  for f in zebra staticd ospfd bgpd; do
    sys_render "$SYS_LAB_CONFIGS/frr-legacy/$f.conf" "$d/$f.conf" UPLINK_IF=eth0 LAN_IF=eth1
  done
  sys_frr_start lr lr "$d"
}
tapd_legacy_bird() {
  local d; d=$(sys_router_dir lr)
  sys_render "$SYS_LAB_CONFIGS/bird-legacy.conf" "$d/bird.conf" RUN_DIR="$d" UPLINK_IF=eth0 LAN_IF=eth1
  sys_bird_start lr lr "$d/bird.conf"
}

# tapd_converged OSPF_PROTO BGP_PROTO [TIMEOUT_S] : OSPF Full and BGP
# Established on both sides, the routes each side learnt in its kernel (lr's
# carry OSPF_PROTO/BGP_PROTO: FRR "ospf"/"bgp", BIRD "bird"; r1's "bird"),
# and traffic to r1's addresses across both: lr -> 10.0.2.1 (p2), h2 via lr
# -> 10.0.1.1 (r1 answers through its OSPF route to 10.0.3.0/24).
tapd_converged() {
  local ospf_proto=$1 bgp_proto=$2 timeout=${3:-45} t0=${EPOCHREALTIME/./}
  sys_wait_ospf_full r1 "$TAPD_LR_ID" "$timeout"
  sys_wait_ospf_full lr "$TAPD_R1_ID" "$timeout"
  sys_wait_bgp_established r1 "$TAPD_LR_IP" "$timeout"
  sys_wait_bgp_established lr "$TAPD_R1_P2_IP" "$timeout"
  sys_wait_route "$TAPD_NS" 10.0.3.0/24 "$timeout" 'via 10\.0\.2\.2 dev eth2 proto bird'
  sys_wait_route "$TAPD_NS" 192.168.100.0/24 "$timeout" 'via 10\.0\.2\.2 dev eth2 proto bird'
  sys_wait_route lr 10.0.1.0/24 "$timeout" "via 10\\.0\\.2\\.1 dev eth0 proto $ospf_proto"
  sys_wait_route lr 172.16.1.0/24 "$timeout" "via 10\\.0\\.2\\.1 dev eth0 proto $bgp_proto"
  sys_log "converged in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
  sys_ping lr "$TAPD_R1_P2_IP" 3
  sys_ping h2 "$TAPD_R1_P1_IP" 3
}

# tapd_routing_test LEGACY : the body of tapd_bird_frr_test (frr) and
# tapd_bird_bird_test (bird): BIRD in the tapflow namespace peers through
# the switch with the legacy router; the adjacency and session stay up
# longer than their dead/hold times (hellos and keepalives keep flowing
# through tapflowd); SIGTERM to tapflowd exits 0.
tapd_routing_test() {
  local legacy=$1 ospf_proto bgp_proto
  if [[ $legacy == frr ]]; then ospf_proto=ospf bgp_proto=bgp; else ospf_proto=bird bgp_proto=bird; fi
  tapd_setup "tapd_bird_${legacy}" OpenFlow13 legacy
  sys_require bird birdc
  [[ $legacy == bird ]] || sys_require vtysh
  tapd_config ""
  tapd_start ctl

  sys_step "BIRD in $(sys_ns_name "$TAPD_NS") <-> ${legacy^^} in $(sys_ns_name lr), through br0 and tapflowd"
  tapd_r1_bird
  if [[ $legacy == frr ]]; then tapd_legacy_frr; else tapd_legacy_bird; fi
  tapd_converged "$ospf_proto" "$bgp_proto"

  sys_step "still up after 10 s (longer than OSPF dead 4 s and BGP hold 9 s)"
  sleep 10
  sys__ospf_full r1 "$TAPD_LR_ID" || sys_fail "r1 lost its OSPF adjacency with lr"
  sys__ospf_full lr "$TAPD_R1_ID" || sys_fail "lr lost its OSPF adjacency with r1"
  sys__bgp_established r1 "$TAPD_LR_IP" || sys_fail "r1's BGP session with lr is $(sys__bgp_state r1 "$TAPD_LR_IP")"
  sys__bgp_established lr "$TAPD_R1_P2_IP" || sys_fail "lr's BGP session with r1 is $(sys__bgp_state lr "$TAPD_R1_P2_IP")"
  sys_ping h2 "$TAPD_R1_P1_IP" 3
  if [[ $legacy == frr ]]; then
    sys_vtysh lr 'show ip ospf neighbor' 'show bgp summary' | sed 's/^/    /' >&2
  else
    sys_birdc lr show protocols | sed 's/^/    /' >&2
  fi

  sys_step "SIGTERM to tapflowd"
  tapd_stop ctl
  sys_pass
}
