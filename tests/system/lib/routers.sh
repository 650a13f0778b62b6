# shellcheck shell=bash disable=SC2004,SC2034  # SYS_DAEMON_* are harness.sh's associative arrays
# Routing daemons for system tests: BIRD 2 and FRR 8 in test namespaces,
# started by name, asked about their state, stopped and cleaned up by PID
# through the harness (never by process name).
#
# Usage (source after harness.sh; see routers_selftest):
#   source "$here/lib/harness.sh"; source "$here/lib/routers.sh"
#   sys_init my_test
#   dir=$(sys_router_dir r1)           # per-router dir: configs, socket, logs
#   sys_render "$SYS_LAB_CONFIGS/bird-r1.conf" "$dir/bird.conf" RUN_DIR="$dir"
#   sys_bird_start r1 r1 "$dir/bird.conf"     # NAME NAMESPACE CONF
#   sys_frr_start lr lr "$frr_conf_dir"       # NAME NAMESPACE DIR of *.conf
#   sys_wait_ospf_full r1 10.255.0.2 20       # NAME NEIGHBOR_ROUTER_ID TIMEOUT_S
#   sys_wait_bgp_established lr 10.0.2.1 30   # NAME NEIGHBOR_IP TIMEOUT_S
#   sys_wait_route r1 192.168.100.0/24 30 'proto bird'  # NS PREFIX TIMEOUT_S [REGEX]
#   sys_birdc r1 show protocols; sys_vtysh lr 'show ip ospf neighbor'
#   sys_router_stop lr                        # SIGTERM, must be gone in time
#
# BIRD: `bird -c CONF -s SOCK -P PIDFILE` in the namespace; it detaches, and
# the PID from its pid file is killed at cleanup. Its log is wherever CONF
# says: the configs under configs/lab/ log to @RUN_DIR@/bird.log, which is
# why sys_router_dir comes first.
# FRR: one instance per router with `-N <SYS_ID>-NAME` (own /etc/frr/<inst>
# and /var/run/frr/<inst>, owned by frr:frr, removed at cleanup): zebra, then
# each of staticd, bfdd, ospfd, ospf6d, bgpd whose DAEMON.conf is in DIR (so
# bfdd only where a config asks for BFD with a bfdd.conf). Logs go
# to the router dir (NAME-DAEMON in the failure diagnostics). (ospfd 8.4
# writes /var/run/frr/ospfd-gr.json outside its instance dir, shared by all
# instances; it only matters with OSPF graceful restart, which we don't use.)
# On failure the harness prints, per router, its protocols, OSPF neighbours,
# BGP sessions and the namespace's routes.

if [[ -n ${SYS_ROUTERS_LOADED:-} ]]; then return 0; fi
SYS_ROUTERS_LOADED=1
[[ -n ${SYS_HARNESS_LOADED:-} ]] || { echo "routers.sh: source lib/harness.sh first" >&2; exit 1; }

# configs/lab of this source tree: the BIRD, FRR and tapflowd templates.
SYS_LAB_CONFIGS=${SYS_LAB_CONFIGS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../configs/lab" 2>/dev/null && pwd)}
SYS_FRR_BIN=${SYS_FRR_BIN:-/usr/lib/frr}
SYS_FRR_DAEMONS=(staticd bfdd ospfd ospf6d bgpd) # started after zebra, in this order (each only with its DAEMON.conf)

declare -a SYS_ROUTERS=()
# NAME -> bird|frr, short namespace, router dir, space-separated PIDs
declare -A SYS_ROUTER_KIND=() SYS_ROUTER_NS=() SYS_ROUTER_DIR=() SYS_ROUTER_PIDS=()
declare -A SYS_FRR_INSTANCE=() SYS_FRR_RUNNING=() # NAME -> FRR pathspace (-N), daemons started

sys__routers_diagnostics() {
  local name ns
  for name in "${SYS_ROUTERS[@]}"; do
    ns=${SYS_ROUTER_NS[$name]}
    printf -- '-- router %s (%s in %s, pids %s):\n' "$name" "${SYS_ROUTER_KIND[$name]}" \
      "$(sys_ns_name "$ns")" "${SYS_ROUTER_PIDS[$name]}"
    if sys__router_alive "$name"; then
      if [[ ${SYS_ROUTER_KIND[$name]} == bird ]]; then
        sys_birdc "$name" show protocols
        sys__bird_ospf_neighbors "$name"
      else
        sys_vtysh "$name" 'show ip ospf neighbor' 'show ip ospf interface brief' \
          'show bgp summary'
      fi
    else
      printf '   (not running)\n'
    fi
    printf -- '-- %s: addresses and routes:\n' "$(sys_ns_name "$ns")"
    sys_ns "$ns" ip -br addr
    # SYS_DIAG_ROUTE_LINES=N: only the first N routes (a test with a full
    # table sets it; unset: all of them).
    sys_ns "$ns" ip route | head -n "${SYS_DIAG_ROUTE_LINES:--0}"
  done 2>&1 | sed 's/^/   /'
}
SYS_DIAG_HOOKS+=(sys__routers_diagnostics)

# sys_router_dir NAME : $SYS_DIR/routers/NAME (made here), where a router's
# rendered configs, control socket, pid file and logs live. Prints the path.
sys_router_dir() {
  local d=$SYS_DIR/routers/$1
  mkdir -p "$d"
  printf '%s' "$d"
}

# A router name may be started again (same or other daemon) once stopped.
sys__router_new() { # NAME KIND NS
  if [[ -n ${SYS_ROUTER_KIND[$1]:-} ]]; then
    sys__router_alive "$1" && sys_fail "router $1 is already running"
  else
    SYS_ROUTERS+=("$1")
  fi
  ip netns exec "$(sys_ns_name "$3")" true 2>/dev/null || sys_fail "router $1: no namespace $(sys_ns_name "$3")"
  SYS_FRR_RUNNING[$1]=""
  SYS_ROUTER_KIND[$1]=$2
  SYS_ROUTER_NS[$1]=$3
  SYS_ROUTER_DIR[$1]=$(sys_router_dir "$1")
  SYS_ROUTER_PIDS[$1]=""
}

# sys__router_alive NAME : every daemon of the router still runs.
sys__router_alive() {
  local pid
  [[ -n ${SYS_ROUTER_PIDS[$1]:-} ]] || return 1
  for pid in ${SYS_ROUTER_PIDS[$1]}; do sys_alive "$pid" || return 1; done
}

# sys__wait_pidfile FILE TIMEOUT_S : a detaching daemon wrote its PID.
sys__wait_pidfile() {
  sys_wait_until "$2" "pid file $1" grep -qE '^[0-9]+' "$1"
  local pid; pid=$(head -n1 "$1")
  printf '%s' "${pid//[^0-9]/}"
}

# ---------------------------------------------------------------- BIRD

# sys_bird_start NAME NS CONF [BIRD_ARGS...] : BIRD 2 in namespace NS (short
# name) with CONF, control socket and pid file in the router dir, and any
# further options (e.g. -R, graceful restart recovery). Checks the config
# first so a syntax error reads as one.
sys_bird_start() {
  local name=$1 ns=$2 conf=$3 dir out pid
  shift 3
  sys_require bird birdc
  [[ -r $conf ]] || sys_fail "BIRD config $conf not found"
  sys__router_new "$name" bird "$ns"
  dir=${SYS_ROUTER_DIR[$name]}
  rm -f "$dir/bird.pid" # a stale one (a restart) would pass for the new daemon's
  out=$(bird -p -c "$conf" 2>&1) || { printf '%s\n' "$out" >&2; sys_fail "BIRD config $conf is invalid"; }
  timeout 30 ip netns exec "$(sys_ns_name "$ns")" bird "$@" -c "$conf" -s "$dir/bird.ctl" \
    -P "$dir/bird.pid" >>"$dir/bird.out" 2>&1 </dev/null \
    || { cat "$dir/bird.out" >&2; sys_fail "bird ($name) did not start"; }
  pid=$(sys__wait_pidfile "$dir/bird.pid" 10)
  sys_register_pid "$pid"
  SYS_ROUTER_PIDS[$name]=$pid
  SYS_DAEMON_PID[$name]=$pid
  SYS_DAEMON_LOG[$name]=$dir/bird.log
  sys_wait_until 10 "bird ($name) to answer on $dir/bird.ctl" sys__bird_up "$name"
  sys_log "bird $name: pid $pid in $(sys_ns_name "$ns") ($(bird --version 2>&1 | awk '{ print $NF }'), $conf${*:+, $*})"
}

sys__bird_up() { sys_birdc "$1" show status | grep -q 'Daemon is up and running'; }

# sys_birdc NAME COMMAND... : one birdc command, e.g. sys_birdc r1 show protocols all.
sys_birdc() {
  local name=$1; shift
  [[ ${SYS_ROUTER_KIND[$name]:-} == bird ]] || { echo "sys_birdc: $name is not a BIRD router" >&2; return 2; }
  timeout 10 birdc -s "${SYS_ROUTER_DIR[$name]}/bird.ctl" "$@"
}

# The OSPF protocols' neighbour tables (BIRD wants a protocol name as soon
# as there are two OSPF protocols, e.g. OSPFv2 and OSPFv3).
sys__bird_ospf_neighbors() {
  local p
  for p in $(sys_birdc "$1" show protocols | awk '$2 == "OSPF" { print $1 }'); do
    sys_birdc "$1" show ospf neighbors "$p"
  done
}

# ---------------------------------------------------------------- FRR

# sys_frr_start NAME NS DIR : an FRR instance in namespace NS (short name):
# zebra (DIR/zebra.conf, or an empty one), then staticd, bfdd, ospfd, ospf6d
# and bgpd for each DAEMON.conf present in DIR.
sys_frr_start() {
  local name=$1 ns=$2 src=$3 inst etc run dir d started=() pid
  sys_require vtysh
  for d in zebra "${SYS_FRR_DAEMONS[@]}"; do
    if [[ $d == zebra || -f $src/$d.conf ]]; then
      [[ -x $SYS_FRR_BIN/$d ]] || sys_fail "FRR daemon $SYS_FRR_BIN/$d not found (apt-get install frr)"
    fi
  done
  getent passwd frr >/dev/null || sys_fail "no 'frr' user (apt-get install frr)"
  sys__router_new "$name" frr "$ns"
  dir=${SYS_ROUTER_DIR[$name]}
  inst="$SYS_ID-$name"
  etc=/etc/frr/$inst run=/var/run/frr/$inst
  SYS_FRR_INSTANCE[$name]=$inst
  sys_register_dir "$etc"
  sys_register_dir "$run"
  mkdir -p "$etc" "$run"
  rm -rf "${run:?}"/* # pid files and sockets of an earlier start would pass for new ones
  cp "$src"/*.conf "$etc"/
  [[ -f $etc/zebra.conf ]] || printf 'hostname %s\n' "$name" >"$etc/zebra.conf"
  : >"$etc/vtysh.conf" # vtysh complains without one
  chown -R frr:frr "$etc" "$run"
  chmod 0640 "$etc"/*.conf
  for d in zebra "${SYS_FRR_DAEMONS[@]}"; do
    [[ $d == zebra || -f $etc/$d.conf ]] || continue
    # -P 0: no vty TCP port (vtysh uses the unix socket in $run).
    timeout 30 ip netns exec "$(sys_ns_name "$ns")" "$SYS_FRR_BIN/$d" -d -N "$inst" \
      -f "$etc/$d.conf" -i "$run/$d.pid" -P 0 --log "file:$dir/$d.log" \
      >>"$dir/$d.out" 2>&1 </dev/null || { cat "$dir/$d.out" >&2; sys_fail "FRR $d ($name) did not start"; }
    pid=$(sys__wait_pidfile "$run/$d.pid" 10)
    sys_register_pid "$pid"
    SYS_ROUTER_PIDS[$name]+="${SYS_ROUTER_PIDS[$name]:+ }$pid"
    SYS_DAEMON_PID[$name-$d]=$pid
    SYS_DAEMON_LOG[$name-$d]=$dir/$d.log
    # Each daemon answers vtysh once its vty socket is there; the others
    # connect to zebra, so zebra goes first and must be ready.
    sys_wait_until 10 "FRR $d ($name) vty socket" test -S "$run/$d.vty"
    [[ $d == zebra ]] && sys_wait_until 10 "zebra ($name) API socket" test -S "$run/zserv.api"
    started+=("$d:$pid")
    SYS_FRR_RUNNING[$name]+=" $d "
  done
  SYS_DAEMON_PID[$name]=${SYS_ROUTER_PIDS[$name]%% *}
  SYS_DAEMON_LOG[$name]=$dir/zebra.log
  sys_log "frr $name: ${started[*]} in $(sys_ns_name "$ns") (-N $inst, $src)"
}

# sys_vtysh NAME COMMAND... : vtysh -c COMMAND for each argument, in order.
sys_vtysh() {
  local name=$1 c args=(); shift
  [[ ${SYS_ROUTER_KIND[$name]:-} == frr ]] || { echo "sys_vtysh: $name is not an FRR router" >&2; return 2; }
  for c in "$@"; do args+=(-c "$c"); done
  timeout 10 vtysh -N "${SYS_FRR_INSTANCE[$name]}" "${args[@]}"
}

# ---------------------------------------------------------------- both

# sys_router_stop NAME [TIMEOUT_S] : SIGTERM to the router's daemons (FRR:
# protocol daemons first, zebra last); fails unless each is gone in time.
# BIRD and zebra withdraw the kernel routes they installed as they exit.
sys_router_stop() {
  local name=$1 timeout=${2:-10} pids=() i pid
  [[ -n ${SYS_ROUTER_KIND[$name]:-} ]] || sys_fail "no router $name"
  read -r -a pids <<<"${SYS_ROUTER_PIDS[$name]}"
  for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
    pid=${pids[i]}
    sys_alive "$pid" || sys_fail "router $name: pid $pid was already gone before SIGTERM"
    kill -TERM "$pid"
    sys_wait_gone "$pid" "$timeout" || sys_fail "router $name: pid $pid still running ${timeout}s after SIGTERM"
  done
  sys_log "router $name (${SYS_ROUTER_KIND[$name]}): stopped"
}

# sys__router_wait NAME TIMEOUT_S DESCRIPTION COMMAND... : sys_wait_until,
# failing at once (with the router's log) if one of its daemons dies.
sys__router_wait() {
  local name=$1 timeout=$2 what=$3; shift 3
  local deadline=$(( ${EPOCHREALTIME/./} + timeout * 1000000 )) t0=${EPOCHREALTIME/./}
  [[ -n ${SYS_ROUTER_KIND[$name]:-} ]] || sys_fail "no router $name"
  until "$@" >/dev/null 2>&1; do
    sys__router_alive "$name" || sys_fail "router $name died while waiting for $what"
    (( ${EPOCHREALTIME/./} > deadline )) && sys_fail "router $name: timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
  SYS_WAITED=$(( (${EPOCHREALTIME/./} - t0) / 100000 ))
  SYS_WAITED="$(( SYS_WAITED / 10 )).$(( SYS_WAITED % 10 ))"
}

# Neighbour table lines for router id ID (BIRD: "ID pri Full/PtP ...",
# FRR: "ID pri Full/- ...", ospf6d: "ID pri dead Full/PointToPoint ...").
sys__ospf_lines() {
  local name=$1 id=$2
  if [[ ${SYS_ROUTER_KIND[$name]} == bird ]]; then
    sys__bird_ospf_neighbors "$name"
  else
    sys_vtysh "$name" 'show ip ospf neighbor'
    if [[ ${SYS_FRR_RUNNING[$name]} == *" ospf6d "* ]]; then
      sys_vtysh "$name" 'show ipv6 ospf6 neighbor'
    fi
  fi | awk -v id="$id" '$1 == id'
}
sys__ospf_full() { sys__ospf_lines "$1" "$2" | awk '/[ \t]Full\// { ok = 1 } END { exit !ok }'; }

# sys_wait_ospf_full NAME NEIGHBOR_ROUTER_ID [TIMEOUT_S] : the router has an
# OSPF adjacency in state Full with that neighbour.
sys_wait_ospf_full() {
  local name=$1 id=$2 timeout=${3:-30}
  sys__router_wait "$name" "$timeout" "OSPF neighbour $id to be Full" sys__ospf_full "$name" "$id"
  sys_log "$name: OSPF neighbour $id Full after ${SYS_WAITED}s: $(sys__ospf_lines "$name" "$id" | head -n1 | tr -s ' \t' ' ')"
}

# The state of the BGP session with neighbour IP ("Established", "Active", ...).
sys__bgp_state() {
  local name=$1 ip=$2
  if [[ ${SYS_ROUTER_KIND[$name]} == bird ]]; then
    # Per protocol block of `show protocols all`: its neighbour and state.
    sys_birdc "$name" show protocols all | awk -v ip="$ip" '
      /^[^ \t]/ { nb = ""; st = "" }
      /^[ \t]+BGP state:/ { st = $3 }
      /^[ \t]+Neighbor address:/ { nb = $3 }
      nb == ip && st != "" { print st; exit }'
  else
    sys_vtysh "$name" "show bgp neighbors $ip" | sed -nE 's/.*BGP state = ([A-Za-z]+).*/\1/p' | head -n1
  fi
}
sys__bgp_established() { [[ $(sys__bgp_state "$1" "$2") == Established ]]; }

# sys_wait_bgp_established NAME NEIGHBOR_IP [TIMEOUT_S] : the router's BGP
# session with that neighbour is Established.
sys_wait_bgp_established() {
  local name=$1 ip=$2 timeout=${3:-30}
  sys__router_wait "$name" "$timeout" "BGP session with $ip to be Established" sys__bgp_established "$name" "$ip"
  sys_log "$name: BGP session with $ip Established after ${SYS_WAITED}s"
}

# sys_route NS PREFIX : the kernel's route for exactly PREFIX in that
# namespace (main table), empty if none.
sys_route() {
  local family=-4
  [[ $2 == *:* ]] && family=-6
  sys_ns "$1" ip "$family" route show exact "$2"
}
sys__route_matches() { # NS PREFIX REGEX
  local r; r=$(sys_route "$1" "$2") || return 1
  [[ -n $r ]] && grep -qE -- "$3" <<<"$r"
}
sys__route_absent() { [[ -z $(sys_route "$1" "$2" 2>/dev/null) ]]; }

# sys_wait_route NS PREFIX [TIMEOUT_S] [REGEX] : a kernel route for PREFIX in
# namespace NS (short name), matching REGEX if given (e.g. 'via 10.0.2.2',
# 'proto (bird|ospf)'). Works for any daemon: it asks the kernel.
sys_wait_route() {
  local ns=$1 prefix=$2 timeout=${3:-30} re=${4:-.}
  sys_wait_until "$timeout" "route $prefix${4:+ (/$re/)} in $(sys_ns_name "$ns")" \
    sys__route_matches "$ns" "$prefix" "$re"
  sys_log "$ns: route $(sys_route "$ns" "$prefix" | head -n1)"
}

# sys_wait_route_gone NS PREFIX [TIMEOUT_S]
sys_wait_route_gone() {
  sys_wait_until "${3:-30}" "route $2 to leave $(sys_ns_name "$1")" sys__route_absent "$1" "$2"
  sys_log "$1: no route $2"
}
