# shellcheck shell=bash disable=SC2034  # PUNT_* are for the tests
# The punt-storm lab (punt_storm_test, bench/run_punt_storm_bench.sh):
# control-plane policing (issue 15) under a flood of ARP requests and UDP to
# the router's addresses, with routing sessions and transit traffic running.
#
#   h1 10.0.1.10 -- p1 [ br0, dpid 1, OpenFlow 1.3 ] p2 -- ix: Linux bridge "lan"
#                            |       p3                      |- lr  10.0.2.2 (BIRD) -- h2 10.0.3.10
#                            |        \-- fl2 10.0.4.66      \- fl1 10.0.2.66 (flood host)
#                  tapflowd (router app, configs/lab/tapflowd-punt-storm.yaml),
#                  namespace <id>-r1: TAP eth1 = p1 10.0.1.1/24,
#                  eth2 = p2 10.0.2.1/24, eth3 = p3 10.0.4.1/24;
#                  BIRD (bird-punt-r1.conf): OSPF, eBGP, BFD 100 ms x 3 with lr
#
# fl1 sits on lr's segment: its frames enter the switch on the same port as
# lr's (as at an exchange point), and its broadcast ARP reaches lr too. fl2
# has a port of its own. lr runs configs/lab/bird-punt-lr.conf.
#
#   source lib/harness.sh lib/routers.sh lib/tapd_lab.sh lib/routing_lab.sh lib/punt_lab.sh
#   punt_setup NAME protected|unprotected   # sys_init, OVS, hosts, the config
#   punt_start ctl                          # tapflowd, TAPs with carrier
#   punt_routers; punt_converged            # BIRDs, OSPF/BGP/BFD up, transit by flows
#   punt_metrics FILE; punt_val FILE METRIC CLASS
#   punt_state                              # protocol/BFD/OSPF state lines of r1 and lr
#   punt_flood_start NAME HOST TARGET DST_MAC SRC_IP SECONDS [RATE]; punt_flood_wait NAME
#   punt_ping_start NAME SECONDS; punt_ping_wait NAME   # h1 -> h2 every 10 ms

if [[ -n ${SYS_PUNT_LAB_LOADED:-} ]]; then return 0; fi
SYS_PUNT_LAB_LOADED=1
declare -F rt_lab_start >/dev/null || { echo "punt_lab.sh: source lib/routing_lab.sh first" >&2; exit 1; }

PUNT_FLOOD_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/flood.py
PUNT_R1_P2=10.0.2.1 PUNT_R1_P3=10.0.4.1 PUNT_LR=10.0.2.2 PUNT_H2=10.0.3.10
PUNT_FL1=10.0.2.66 PUNT_FL2=10.0.4.66
PUNT_CLASSES=(routing arp_nd to_router glean other)
# The defaults of router.punt_policer (include/tapflow/tapd/punt_class.hpp), spelt out.
PUNT_DEFAULT_POLICER='{ routing: { rate: 6000, burst: 1000 }, arp_nd: { rate: 600, burst: 200 }, to_router: { rate: 6000, burst: 1000 }, glean: { rate: 6000, burst: 1000 }, other: { rate: 600, burst: 200 } }'
declare -A PUNT_PID=() PUNT_OUT=()

# punt__noipv6 HOST : no IPv6 on the namespace's links made from now on (no
# router solicitations, MLD reports or DAD in the figures).
punt__noipv6() {
  sys_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# punt_setup NAME protected|unprotected : the lab without daemons, and
# $TAPD_CONFIG with punt_policer the defaults (protected) or false.
punt_setup() {
  local name=$1 mode=$2 policer h
  case $mode in
    protected) policer=$PUNT_DEFAULT_POLICER ;;
    unprotected) policer=false ;;
    *) sys_fail "punt_setup: mode is protected or unprotected, not $mode" ;;
  esac
  rt_lab_start "$name" OpenFlow13 punt_setup
  sys_require bird birdc ping python3
  sys_add_port_host h1 br0 p1 10.0.1.10/24
  sys_ns h1 ip route add default via 10.0.1.1
  # p2: the shared segment, a Linux bridge in namespace ix with lr and fl1 on it.
  sys_add_port_host ix br0 p2 ""
  punt__noipv6 ix
  sys_ns ix ip link add lan type bridge
  sys_ns ix ip link set eth0 master lan
  sys_ns ix ip link set lan up
  for h in lr fl1 h2; do sys_ns_create "$h"; punt__noipv6 "$h"; done
  sys_veth ix lr lr eth0 "" "$PUNT_LR/24"
  sys_veth ix fl1 fl1 eth0 "" "$PUNT_FL1/24"
  sys_ns ix ip link set lr master lan
  sys_ns ix ip link set fl1 master lan
  sys_veth lr eth1 h2 eth0 10.0.3.1/24 "$PUNT_H2/24"
  sys_ns h2 ip route add default via 10.0.3.1
  sys_ns lr sysctl -qw net.ipv4.ip_forward=1
  sys_add_port_host fl2 br0 p3 "$PUNT_FL2/24"

  TAPD_CONFIG=$SYS_DIR/tapflowd.yaml
  TAPD_PORT=$(sys_free_port lab)
  RT_METRICS_PORT=$(sys_free_port lab)
  [[ $RT_METRICS_PORT != "$TAPD_PORT" ]] || RT_METRICS_PORT=$(( TAPD_PORT + 1 ))
  sys_render "$SYS_LAB_CONFIGS/tapflowd-punt-storm.yaml" "$TAPD_CONFIG" LISTEN_PORT="$TAPD_PORT" \
    NETNS="$(sys_ns_name "$TAPD_NS")" METRICS_PORT="$RT_METRICS_PORT" PUNT_POLICER="$policer"
  sys_log "tapflowd config $TAPD_CONFIG (port $TAPD_PORT, metrics $RT_METRICS_PORT, punt_policer: $mode)"
}

# punt_start NAME : tapflowd up, TAPs eth1..eth3 with carrier, IPv4
# forwarding in r1 (the kernel routes what the switch punts).
punt_start() {
  tapd_start "$1"
  sys_wait_link "$TAPD_NS" eth3 10
  sys_wait_carrier "$TAPD_NS" eth3 on 10
  sys_ns "$TAPD_NS" sysctl -qw net.ipv4.ip_forward=1
}

# punt_routers : BIRD as r1 (tapflowd's namespace) and as lr.
punt_routers() {
  local d
  d=$(sys_router_dir r1)
  sys_render "$SYS_LAB_CONFIGS/bird-punt-r1.conf" "$d/bird.conf" RUN_DIR="$d"
  sys_bird_start r1 "$TAPD_NS" "$d/bird.conf"
  d=$(sys_router_dir lr)
  sys_render "$SYS_LAB_CONFIGS/bird-punt-lr.conf" "$d/bird.conf" RUN_DIR="$d" UPLINK_IF=eth0 LAN_IF=eth1
  sys_bird_start lr lr "$d/bird.conf"
}

# The BFD session lines of a BIRD router (`show bfd sessions`), one per
# session: "ADDRESS IFACE STATE SINCE..." (the table's own header left out).
punt_bfd_lines() { sys_birdc "$1" show bfd sessions | awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/'; }
punt__bfd_up() { punt_bfd_lines "$1" | awk -v ip="$2" '$1 == ip && $3 == "Up" { ok = 1 } END { exit !ok }'; }

# punt_converged [TIMEOUT_S] : OSPF Full, BGP Established and BFD Up on both
# routers; the routes in both kernels; h1 -> h2 forwarded by the switch's
# flows (the OSPF route to 10.0.3.0/24, h1's host flow).
punt_converged() {
  local timeout=${1:-45} t0=${EPOCHREALTIME/./}
  sys_wait_ospf_full r1 10.255.0.2 "$timeout"
  sys_wait_ospf_full lr 10.255.0.1 "$timeout"
  sys_wait_bgp_established r1 "$PUNT_LR" "$timeout"
  sys_wait_bgp_established lr "$PUNT_R1_P2" "$timeout"
  sys__router_wait r1 "$timeout" "BFD session with $PUNT_LR Up" punt__bfd_up r1 "$PUNT_LR"
  sys__router_wait lr "$timeout" "BFD session with $PUNT_R1_P2 Up" punt__bfd_up lr "$PUNT_R1_P2"
  sys_wait_route "$TAPD_NS" 10.0.3.0/24 "$timeout" 'via 10\.0\.2\.2 dev eth2 proto bird'
  sys_wait_route "$TAPD_NS" 192.168.100.0/24 "$timeout" 'via 10\.0\.2\.2 dev eth2 proto bird'
  sys_wait_route lr 10.0.1.0/24 "$timeout" 'via 10\.0\.2\.1 dev eth0 proto bird'
  sys_wait_route lr 10.0.4.0/24 "$timeout" 'via 10\.0\.2\.1 dev eth0 proto bird'
  sys_wait_route lr 172.16.1.0/24 "$timeout" 'via 10\.0\.2\.1 dev eth0 proto bird'
  sys_log "converged (OSPF, BGP, BFD) in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
  sys_ping h1 "$PUNT_H2" 3
  PUNT_ROUTE_RE=$(rt_route_flow_re 10.0.3.0/24)
  PUNT_H1_RE=$(rt_host_flow_re 10.0.1.10 24)
  rt_wait_flow 10 "the flow of 10.0.3.0/24 (OSPF)" "$PUNT_ROUTE_RE"
  rt_wait_flow 10 "h1's host flow" "$PUNT_H1_RE"
}

# punt_state : what must not change while a flood runs, one line each: the
# protocols of r1 and lr with state and since (ms), their BFD sessions
# (state, since), their OSPF neighbours' state (no timers).
punt_state() {
  local r
  for r in r1 lr; do
    # "Since" to the second: birdc prints the same instant a millisecond
    # apart from one call to the next (it derives it from the current time).
    sys_birdc "$r" show protocols | sed -E 's/([0-9]{2}:[0-9]{2}:[0-9]{2})\.[0-9]+/\1/' \
      | awk -v r="$r" 'NR > 1 && NF >= 4 && $1 != "Name" { print r, "proto", $0 }'
    punt_bfd_lines "$r" | awk -v r="$r" '{ print r, "bfd", $1, $2, $3, $4, $5 }'
    sys__bird_ospf_neighbors "$r" | awk -v r="$r" '$1 ~ /^[0-9.]+$/ { print r, "ospf", $1, $3 }'
  done
}

# punt_log_mark : the line counts of both BIRD logs now ("N M").
punt_log_mark() { echo "$(wc -l <"$(sys_router_dir r1)/bird.log") $(wc -l <"$(sys_router_dir lr)/bird.log")"; }

# punt_log_changes MARK : the lines both BIRD logs got since MARK that tell
# a state change (protocol, BGP session, OSPF neighbour, BFD session),
# prefixed with the router's name.
PUNT_CHANGE_RE='[Ss]tate changed|changed state|[Ss]ession (to .* )?(down|up|closed)|BGP session|Neighbor .* (down|lost)|Connection (lost|closed)|Error:|hold timer expired|BFD session .* down'
punt_log_changes() {
  local -a mark
  read -r -a mark <<<"$1"
  tail -n +"$(( mark[0] + 1 ))" "$(sys_router_dir r1)/bird.log" | grep -E -- "$PUNT_CHANGE_RE" | sed 's/^/r1: /' || true
  tail -n +"$(( mark[1] + 1 ))" "$(sys_router_dir lr)/bird.log" | grep -E -- "$PUNT_CHANGE_RE" | sed 's/^/lr: /' || true
}

# punt_metrics FILE : tapflowd's metrics now, into FILE.
punt_metrics() {
  sys_lab curl -sf --max-time 5 "http://127.0.0.1:$RT_METRICS_PORT/metrics" >"$1" \
    || sys_fail "tapflowd's metrics at 127.0.0.1:$RT_METRICS_PORT do not answer"
}

# punt_val FILE METRIC [CLASS] : the value of METRIC (br0's, of CLASS if
# given) in a snapshot; 0 if absent.
punt_val() {
  awk -v name="$2" -v cls="${3:-}" -v dpid="$RT_DPID" '
    index($0, name "{") == 1 && index($0, "dpid=\"" dpid "\"") &&
      (cls == "" || index($0, "class=\"" cls "\"")) { n = $NF }
    END { printf "%d\n", n }' "$1"
}

# punt_flood_start NAME HOST TARGET DST_MAC SRC_IP SECONDS [RATE] : flood.py
# in HOST's namespace out of eth0 (ARP for TARGET and UDP to it), in the
# background, at nice PUNT_FLOOD_NICE (default 19). The flooder stands for an
# external host: a real one brings its own CPU, while here a full-speed
# sender takes one of the machine's two cores from the switch and the
# routers (ovs-vswitchd, tapflowd, BIRD, the kernel), which is not what is
# under test. At nice 19 it runs on the CPU they leave idle. It still
# offers 100-200k frames/s, 15-30x what the meters let through, and more
# than ovs-vswitchd's receive socket of the port takes (see punt_link_drops).
# PUNT_FLOOD_NICE=0: at normal priority, competing with the routers.
punt_flood_start() {
  local name=$1 host=$2 target=$3 mac=$4 src=$5 secs=$6 rate=${7:-0} nice=${PUNT_FLOOD_NICE:-19}
  if ! [[ $nice =~ ^[0-9]+$ ]] || (( nice > 19 )); then sys_fail "PUNT_FLOOD_NICE: 0..19, not $nice"; fi
  PUNT_OUT[$name]=$SYS_DIR/$name.json
  ip netns exec "$(sys_ns_name "$host")" nice -n "$nice" python3 "$PUNT_FLOOD_PY" --iface eth0 --target "$target" \
    --dst-mac "$mac" --src-ip "$src" --kind arp --kind udp --seconds "$secs" --rate "$rate" >"${PUNT_OUT[$name]}" 2>&1 &
  PUNT_PID[$name]=$!
  SYS_BG_PIDS+=("${PUNT_PID[$name]}")
  sys_log "$name: flood.py in $(sys_ns_name "$host") (pid ${PUNT_PID[$name]}): ARP for $target and UDP to" \
          "$target ($mac) for ${secs}s${rate:+ at ${rate} frames/s (0: as fast as it can)}, nice $nice"
}

# punt_flood_wait NAME : waits for flood.py; sets PUNT_SENT, PUNT_SENT_ARP,
# PUNT_SENT_UDP, PUNT_SENT_RATE, PUNT_SENT_SECS from its report.
punt_flood_wait() {
  local name=$1 status=0
  wait "${PUNT_PID[$name]}" || status=$?
  (( status == 0 )) || { cat "${PUNT_OUT[$name]}" >&2; sys_fail "$name: flood.py exited with status $status"; }
  read -r PUNT_SENT PUNT_SENT_ARP PUNT_SENT_UDP PUNT_SENT_RATE PUNT_SENT_SECS < <(python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(r["sent"], r["arp"], r["udp"], r["rate"], r["seconds"])' "${PUNT_OUT[$name]}") \
    || sys_fail "$name: no report from flood.py: $(cat "${PUNT_OUT[$name]}")"
  sys_log "$name: sent $PUNT_SENT frames ($PUNT_SENT_ARP ARP, $PUNT_SENT_UDP UDP) in ${PUNT_SENT_SECS}s:" \
          "$PUNT_SENT_RATE frames/s"
}

# punt_ping_start NAME SECONDS : h1 pings h2 every 10 ms for SECONDS (a
# deadline: under load ping sends fewer than 100 a second, it does not run
# longer), in the background, each reply logged with its sequence number.
punt_ping_start() {
  local name=$1 secs=$2
  PUNT_OUT[$name]=$SYS_DIR/$name.ping
  ip netns exec "$(sys_ns_name h1)" ping -n -D -i 0.01 -w "$secs" "$PUNT_H2" >"${PUNT_OUT[$name]}" 2>&1 &
  PUNT_PID[$name]=$!
  SYS_BG_PIDS+=("${PUNT_PID[$name]}")
}

# punt_ping_wait NAME : waits for the pings; sets PUNT_PING_SENT (echo
# requests ping tried, the last one left out: it may still have been on its
# way at the deadline), PUNT_PING_RECV (answered), PUNT_PING_LOST (the rest:
# no reply, or ping could not send because h1 had no ARP entry for its
# gateway, "Destination Host Unreachable"), PUNT_PING_ERRORS (those), and
# PUNT_PING_GAP_MS (the longest time between two replies: an outage, even
# where ping, refused by h1's kernel, stops sending) and PUNT_PING_LOST_SEQS
# (the first 20 lost sequence numbers, for the report).
punt_ping_wait() {
  local name=$1 out
  wait "${PUNT_PID[$name]}" || true
  out=${PUNT_OUT[$name]}
  PUNT_PING_SENT=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' "$out")
  [[ -n $PUNT_PING_SENT ]] || { tail -n 5 "$out" >&2; sys_fail "$name: no ping summary"; }
  PUNT_PING_SENT=$(( PUNT_PING_SENT > 0 ? PUNT_PING_SENT - 1 : 0 ))
  read -r PUNT_PING_RECV PUNT_PING_ERRORS PUNT_PING_GAP_MS PUNT_PING_LOST_SEQS < <(awk -v n="$PUNT_PING_SENT" '
    / bytes from .*icmp_seq=/ {
      match($0, /icmp_seq=[0-9]+/); got[substr($0, RSTART + 9, RLENGTH - 9)] = 1
      t = substr($1, 2, length($1) - 2) + 0
      if (last > 0 && t - last > gap) gap = t - last
      last = t
    }
    /icmp_seq=.*(Unreachable|error)/ { err++ }
    END {
      for (i = 1; i <= n; i++) if (i in got) recv++; else if (k < 20) s = s (k++ ? "," : "") i
      printf "%d %d %d %s\n", recv, err, gap * 1000, s
    }' "$out")
  PUNT_PING_LOST=$(( PUNT_PING_SENT - PUNT_PING_RECV ))
  sys_log "$name: h1 -> h2 $PUNT_PING_SENT pings, $PUNT_PING_LOST lost ($PUNT_PING_ERRORS not sent: no ARP" \
          "entry), longest gap between replies ${PUNT_PING_GAP_MS} ms $(grep -E '^rtt' "$out" || true)${PUNT_PING_LOST_SEQS:+ (seq $PUNT_PING_LOST_SEQS)}"
}

# punt_flow_pkts TARGET : n_packets of tapd's punt flows for the flood's
# frames to TARGET (ARP for it, on the shared flow or a port's own one,
# "arp,in_port=P,arp_tpa=...", and IPv4 to it): what reached the switch's
# tables, before any meter.
punt_flow_pkts() {
  local t=${1//./[.]}
  sys_ofctl br0 dump-flows | awk -v arp="arp,(in_port=[^,]+,)?arp_tpa=$t " -v ip="priority=39000,ip,nw_dst=$t " '
    /cookie=0x7461/ && ($0 ~ arp || $0 ~ ip) && match($0, /n_packets=[0-9]+/) { n += substr($0, RSTART + 10, RLENGTH - 10) }
    END { printf "%d\n", n }'
}

# punt_link_drops : "PORT DROPPED" for each switch port: frames the
# kernel dropped because ovs-vswitchd's receive socket (AF_PACKET, the
# userspace datapath's) of that port was full (`ss -0 -m`, skmem d); and
# "softnet DROPPED" (the kernel's per-CPU backlog, machine-wide). Where a
# flood is lost before the switch's tables.
punt_link_drops() {
  local n=0 _cpu drop _rest
  sys_lab ss -0 -m -a | awk '
    $5 ~ /^\*:p[0-9]+$/ { port = substr($5, 3) }
    port != "" && match($0, /,d[0-9]+\)/) { print port, substr($0, RSTART + 2, RLENGTH - 3); port = "" }'
  while read -r _cpu drop _rest; do n=$(( n + 16#$drop )); done </proc/net/softnet_stat
  echo "softnet $n"
}

# punt_neigh_watch_start NAME : `ip -ts monitor neigh` in r1, lr and h1 (the
# ends of the transit path's hops and of the routing sessions), in the
# background until punt_neigh_watch_stop NAME, which prints the changes of
# the entries that matter (r1: h1, lr; lr: r1; h1: r1), one per line.
punt_neigh_watch_start() {
  local name=$1 ns
  for ns in "$TAPD_NS" lr h1; do
    ip netns exec "$(sys_ns_name "$ns")" ip -ts monitor neigh >"$SYS_DIR/$name.neigh.$ns" 2>&1 &
    PUNT_PID[$name.$ns]=$!
    SYS_BG_PIDS+=("$!")
  done
}
punt_neigh_watch_stop() {
  local name=$1 ns
  for ns in "$TAPD_NS" lr h1; do
    sys_kill_pid "${PUNT_PID[$name.$ns]}" 2
    wait "${PUNT_PID[$name.$ns]}" 2>/dev/null || true
  done
  for ns in "$TAPD_NS" lr h1; do
    grep -E ' (10\.0\.1\.10|10\.0\.2\.2|10\.0\.2\.1|10\.0\.1\.1) ' "$SYS_DIR/$name.neigh.$ns" | sed "s/^/$ns: /" || true
  done
}

# punt_bfd_capture_start NAME : tcpdump of BFD from lr to r1 (UDP 3784 to
# 10.0.2.1) where lr sends it (lr's eth0) and where r1 gets it (r1's TAP
# eth2); punt_bfd_capture_stop NAME prints, for each end, the packets and
# the longest gap between two of them with its time: a gap over 300 ms is
# a BFD session down (100 ms x 3), and the two ends tell whether lr did not
# send or the way through the switch and tapflowd lost them.
punt_bfd_capture_start() {
  local name=$1 ns dev spec
  for spec in lr:eth0 "$TAPD_NS":eth2; do
    ns=${spec%%:*} dev=${spec#*:}
    ip netns exec "$(sys_ns_name "$ns")" tcpdump -n -U -s 96 -i "$dev" -w "$SYS_DIR/$name.bfd.$ns.pcap" \
      "src host $PUNT_LR and dst host $PUNT_R1_P2 and udp dst port 3784" >/dev/null 2>&1 &
    PUNT_PID[$name.bfd.$ns]=$!
    SYS_BG_PIDS+=("$!")
  done
  sleep 0.5  # tcpdump opens its socket
}
punt_bfd_capture_stop() {
  local name=$1 ns
  for ns in lr "$TAPD_NS"; do
    sys_kill_pid "${PUNT_PID[$name.bfd.$ns]}" 2
    wait "${PUNT_PID[$name.bfd.$ns]}" 2>/dev/null || true
  done
  local who n gap at
  for ns in lr "$TAPD_NS"; do
    if [[ $ns == lr ]]; then who="lr sent"; else who="r1 got"; fi
    read -r n gap at < <(tcpdump -n -tt -r "$SYS_DIR/$name.bfd.$ns.pcap" 2>/dev/null | awk '
      { t = $1 + 0; if (n++ && t - last > gap) { gap = t - last; at = last }; last = t }
      END { printf "%d %d %.3f\n", n, gap * 1000, at }')
    echo "$who $n BFD packets, longest gap $gap ms (from $(date -u -d "@$at" +%H:%M:%S.%3N))"
  done
}

# punt_bfd_flow_pkts : n_packets of the switch's punt flows of BFD to
# 10.0.2.1 (the routing class's own flow with meters; without them the
# general flow to 10.0.2.1 takes BFD too, and this prints 0).
punt_bfd_flow_pkts() {
  sys_ofctl br0 dump-flows | awk '
    /cookie=0x7461/ && /udp,nw_dst=10\.0\.2\.1,tp_dst=3784 / && match($0, /n_packets=[0-9]+/) { n += substr($0, RSTART + 10, RLENGTH - 10) }
    END { printf "%d\n", n }'
}
