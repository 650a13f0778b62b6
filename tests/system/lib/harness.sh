# shellcheck shell=bash disable=SC2034  # SYS_HOST_* etc. are for the tests
# System test harness: a private Open vSwitch, host namespaces on veth pairs,
# tapflowd (or any daemon) started and stopped by PID, all cleaned up on exit.
#
# Isolation. Everything a test makes lives in network namespaces named
# "tfs<PID>-<name>" and in one temp dir "/tmp/tapflow-sys.<PID>.XXXXXX":
#   - "<id>-lab" runs the test's own ovsdb-server and ovs-vswitchd (own db,
#     run, log dirs; no system OVS is used or touched) and the controller.
#     The userspace datapath creates persistent TAP devices ("ovs-netdev",
#     one per bridge) in the namespace ovs-vswitchd runs in, under fixed
#     names; running it in the lab namespace is what lets tests run in
#     parallel and leaves nothing behind (the TAPs die with the namespace).
#     The controller listens on the lab namespace's loopback, so the switch
#     reaches it at tcp:127.0.0.1:PORT.
#   - "<id>-<host>" is one host: "eth0" there, its veth peer "<host>" (or
#     the port name given to sys_add_port_host) in the lab namespace is a
#     bridge port.
#   - Namespaces that others make under this prefix (tapflowd's router app
#     makes "<id>-r1" when its config says so) are removed at cleanup too.
# A run killed with SIGKILL leaves its namespaces behind; the next sys_init
# removes namespaces, temp dirs and FRR instance dirs (/etc/frr/<id>-*,
# /var/run/frr/<id>-*) whose owner PID no longer exists.
#
# Usage (see learning_switch_ovs_test):
#   source "$(dirname "$0")/lib/harness.sh"
#   sys_init my_test                  # root check, programs, temp dir, traps
#   sys_require iperf3                # more programs the test needs
#   sys_ovs_start
#   sys_add_bridge br0 OpenFlow13
#   sys_add_host h1 br0 10.0.0.1/24 [fd00::1/64]
#   port=$(sys_free_port lab)
#   sys_tapflowd_start ctl --listen tcp:127.0.0.1:$port --app learning-switch
#   sys_set_controller br0 tcp:127.0.0.1:$port
#   sys_wait_log ctl 'up: OpenFlow 1\.3,'  # (sys_wait_connected br0 asks OVS,
#                                     #  which updates is_connected every ~5 s)
#   sys_ping h1 10.0.0.2; sys_iperf h2 h1 10.0.0.2 3; sys_flows br0
#   sys_daemon_stop ctl               # SIGTERM, must exit 0
#   sys_pass                          # at the end; anything else is a failure
# Also: sys_ns HOST CMD (run in a namespace), sys_lab CMD, sys_ns_create,
# sys_vsctl, sys_ofctl BR CMD, sys_daemon_start (any daemon, any namespace),
# sys_wait_until, sys_ping_fails, sys_make_pki, sys_free_port,
# sys_add_port_host (a host on a named bridge port), sys_veth (a veth between
# two test namespaces), sys_wait_ns, sys_wait_link/sys_link_* (a device's
# carrier, MTU, MAC, ifindex), sys_render (fill a configs/ template),
# sys_register_pid / sys_register_dir (cleanup of what daemons leave behind).
# lib/routers.sh adds BIRD and FRR on top of this.
#
# Every failure (a failed command under set -e, sys_fail, a signal, a timeout)
# prints what failed, the tails of the daemon logs and the bridges' flows,
# then cleans up. Set SYS_KEEP=1 to keep the temp dir (logs, db) afterwards.
# Harness messages go to stderr; stdout is for values functions return.

if [[ -n ${SYS_HARNESS_LOADED:-} ]]; then return 0; fi
SYS_HARNESS_LOADED=1

set -Eeuo pipefail
shopt -s inherit_errexit
export LC_ALL=C
export PATH="$PATH:/usr/sbin:/sbin"

SYS_ID="tfs$$"
SYS_T0=${EPOCHREALTIME/./}
SYS_NAME=""
SYS_DIR=""
SYS_OVS_DIR=""
SYS_OVSDB_PID=""
SYS_VSWITCHD_PID=""
SYS_PASSED=0
SYS_CLEANING=0
SYS_HOSTS=0
SYS_FDSTORE_PID=""  # the tapflow-fdstore of the last tapflowd started (router app)
SYS_OVS_SCHEMA=${SYS_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
declare -a SYS_NAMESPACES=() SYS_BG_PIDS=() SYS_BRIDGES=()
# Daemons that detach (BIRD, FRR): not our children, killed by PID at
# cleanup; directories made outside SYS_DIR, removed at cleanup; functions
# that print more diagnostics on failure (lib/routers.sh adds one).
# SYS_CLEANUP_HOOKS: functions run at cleanup once every process is gone,
# before the namespaces are (e.g. purging a package the test installed).
declare -a SYS_DETACHED_PIDS=() SYS_CLEANUP_DIRS=() SYS_DIAG_HOOKS=() SYS_CLEANUP_HOOKS=()
declare -A SYS_DAEMON_PID=() SYS_DAEMON_LOG=() SYS_BRIDGE_PROTOCOLS=() SYS_BRIDGE_PORTS=()
declare -A SYS_HOST_MAC=() SYS_HOST_IP4=() SYS_HOST_IP6=() SYS_HOST_PORT=() SYS_HOST_OFPORT=()

# ---------------------------------------------------------------- messages

sys_elapsed() { # seconds since the harness was loaded, one decimal
  local us=$(( ${EPOCHREALTIME/./} - SYS_T0 ))
  printf '%d.%d' $(( us / 1000000 )) $(( us / 100000 % 10 ))
}
# Progress and failures go to stderr (stdout is for values functions return).
sys_log() { printf '[%6ss] %s\n' "$(sys_elapsed)" "$*" >&2; }
sys_step() { printf '[%6ss] == %s\n' "$(sys_elapsed)" "$*" >&2; }
sys_fail() {
  printf '[%6ss] FAIL: %s\n' "$(sys_elapsed)" "$*" >&2
  exit 1
}
sys_require() { # PROGRAM... : fail (never skip) when one is missing
  local p missing=()
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if (( ${#missing[@]} )); then
    sys_fail "required program(s) not found: ${missing[*]} (scripts/setup.sh installs them:" \
             "openvswitch-switch iproute2 ethtool iperf3 openssl iputils-ping)"
  fi
}

sys__on_err() { # status line command
  (( SYS_CLEANING )) && return 0
  # shellcheck disable=SC2016  # the backquotes are literal
  printf '[%6ss] FAIL: `%s` exited with status %s (%s line %s, in %s)\n' "$(sys_elapsed)" "$3" \
    "$1" "${BASH_SOURCE[1]##*/}" "$2" "${FUNCNAME[1]:-main}" >&2
}
sys__on_signal() {
  trap '' PIPE # stderr may be the broken pipe: write errors must not recurse
  printf '[%6ss] FAIL: interrupted by SIG%s\n' "$(sys_elapsed)" "$1" >&2 || true
  exit 1
}

# ---------------------------------------------------------------- waiting

# sys_wait_until TIMEOUT_S DESCRIPTION COMMAND... : poll every 0.1 s.
sys_wait_until() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( ${EPOCHREALTIME/./} + timeout * 1000000 ))
  until "$@" >/dev/null 2>&1; do
    if (( ${EPOCHREALTIME/./} > deadline )); then
      sys_fail "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.1
  done
}

# sys_alive PID : running (a zombie waiting for its reaper counts as gone:
# daemons that detach are reaped by PID 1, sometimes seconds later).
sys_alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# sys_wait_gone PID TIMEOUT_S : true when the process is gone in time.
sys_wait_gone() {
  local pid=$1 deadline=$(( ${EPOCHREALTIME/./} + $2 * 1000000 ))
  while sys_alive "$pid"; do
    (( ${EPOCHREALTIME/./} > deadline )) && return 1
    sleep 0.05
  done
  return 0
}

# sys_kill_pid PID [GRACE_S] : TERM, then KILL after GRACE_S (default 5).
sys_kill_pid() {
  local pid=$1 grace=${2:-5}
  sys_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! sys_wait_gone "$pid" "$grace"; then
    sys_log "pid $pid ignored SIGTERM for ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sys_wait_gone "$pid" 5 || true
  fi
}

# ---------------------------------------------------------------- namespaces

sys_ns_name() { printf '%s-%s' "$SYS_ID" "$1"; }

sys_ns_create() { # SHORT_NAME
  local ns; ns=$(sys_ns_name "$1")
  ip netns add "$ns"
  SYS_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
}

sys_ns() { # SHORT_NAME COMMAND... : run a command in a test namespace
  local ns; ns=$(sys_ns_name "$1"); shift
  ip netns exec "$ns" "$@"
}

sys_lab() { sys_ns lab "$@"; }

# sys_wait_ns SHORT_NAME [TIMEOUT_S] : a namespace someone else makes (e.g.
# tapflowd's router namespace "<id>-r1") exists and can be entered.
sys_wait_ns() {
  local ns; ns=$(sys_ns_name "$1")
  sys_wait_until "${2:-20}" "namespace $ns to appear" ip netns exec "$ns" true
  sys_log "namespace $ns exists"
}

# sys_veth NS_A IF_A NS_B IF_B [IPV4_A/LEN] [IPV4_B/LEN] : a veth pair between
# two test namespaces (short names; the same one twice is fine), both ends up,
# TX checksum offload off (see sys_add_host), IPv4 addresses if given.
sys_veth() {
  local a=$1 ifa=$2 b=$3 ifb=$4 ip_a=${5:-} ip_b=${6:-}
  ip link add "$ifa" netns "$(sys_ns_name "$a")" type veth peer name "$ifb" netns "$(sys_ns_name "$b")"
  sys_ns "$a" ethtool -K "$ifa" tx off >/dev/null
  sys_ns "$b" ethtool -K "$ifb" tx off >/dev/null
  [[ -n $ip_a ]] && sys_ns "$a" ip addr add "$ip_a" dev "$ifa"
  [[ -n $ip_b ]] && sys_ns "$b" ip addr add "$ip_b" dev "$ifb"
  sys_ns "$a" ip link set "$ifa" up
  sys_ns "$b" ip link set "$ifb" up
  sys_log "veth $a:$ifa${ip_a:+ $ip_a} <-> $b:$ifb${ip_b:+ $ip_b}"
}

# ---------------------------------------------------------------- devices

# sys_link_flags NS DEV : the device's flags as `ip link` prints them, e.g.
# "BROADCAST,MULTICAST,UP,LOWER_UP" (fails when there is no such device).
sys_link_flags() {
  local line
  line=$(sys_ns "$1" ip -o link show dev "$2") || return 1
  line=${line#*<}
  printf '%s' "${line%%>*}"
}

# sys__carrier NS DEV on|off : LOWER_UP (carrier) is set / is not set.
sys__carrier() {
  local flags
  flags=$(sys_link_flags "$1" "$2" 2>/dev/null) || return 1
  if [[ $3 == on ]]; then [[ ,$flags, == *,LOWER_UP,* ]]; else [[ ,$flags, != *,LOWER_UP,* ]]; fi
}

# sys_wait_carrier NS DEV on|off [TIMEOUT_S] : wait for the carrier state.
sys_wait_carrier() {
  local ns=$1 dev=$2 want=$3 timeout=${4:-10}
  sys_wait_until "$timeout" "$dev in $(sys_ns_name "$ns") to have carrier $want" sys__carrier "$ns" "$dev" "$want"
  sys_log "$ns:$dev carrier $want <$(sys_link_flags "$ns" "$dev")>"
}

# sys_wait_link NS DEV [TIMEOUT_S] / sys_wait_link_gone NS DEV [TIMEOUT_S]
sys_wait_link() {
  sys_wait_until "${3:-10}" "device $2 in $(sys_ns_name "$1")" sys_ns "$1" ip link show dev "$2"
}
sys__link_absent() { ! sys_ns "$1" ip link show dev "$2" >/dev/null 2>&1; }
sys_wait_link_gone() {
  sys_wait_until "${3:-10}" "device $2 in $(sys_ns_name "$1") to disappear" sys__link_absent "$1" "$2"
}

# sys_link_field NS DEV FIELD : one attribute from `ip -d -j link show`, e.g.
# mtu, address, ifindex, operstate, link_type, linkinfo.info_data.persist
# (a dotted path; JSON booleans print as true/false, missing ones as "").
sys_link_field() {
  sys_ns "$1" ip -d -j link show dev "$2" | python3 -c '
import json, sys
v = json.load(sys.stdin)[0]
for k in sys.argv[1].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(json.dumps(v) if isinstance(v, bool) else v)' "$3"
}

# sys_addrs NS DEV : the device's global addresses, "ADDR/LEN" one per line, sorted.
sys_addrs() {
  sys_ns "$1" ip -j addr show dev "$2" scope global | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    for a in i.get("addr_info", []):
        if "local" in a:  # entries the scope filter left out are empty
            print("%s/%s" % (a["local"], a["prefixlen"]))' | sort
}

# ---------------------------------------------------------------- files

# sys_render TEMPLATE OUT [KEY=VALUE...] : copy TEMPLATE to OUT with every
# @KEY@ replaced by VALUE; fails if a @PLACEHOLDER@ is left unfilled (the
# configs under configs/lab/ use this form).
sys_render() {
  local tmpl=$1 out=$2 kv key val content left; shift 2
  [[ -r $tmpl ]] || sys_fail "template $tmpl not found"
  content=$(<"$tmpl")
  for kv in "$@"; do
    key=${kv%%=*} val=${kv#*=}
    content=${content//@"$key"@/"$val"}
  done
  left=$(grep -oE '@[A-Z][A-Z0-9_]*@' <<<"$content" | sort -u | tr '\n' ' ' || true)
  [[ -z $left ]] || sys_fail "$tmpl: placeholders left unfilled: $left"
  printf '%s\n' "$content" >"$out"
}

# sys_register_pid PID : a detached daemon of this test (not a child of
# this shell), killed by PID at cleanup.
sys_register_pid() { SYS_DETACHED_PIDS+=("$1"); }

# sys_register_dir DIR : a directory outside SYS_DIR this test made, removed
# at cleanup (absolute paths below /etc, /var, /run or /tmp only).
sys_register_dir() {
  [[ $1 =~ ^/(etc|var|run|tmp)/[^/]+/. && $1 != *..* ]] || sys_fail "sys_register_dir: refusing '$1'"
  SYS_CLEANUP_DIRS+=("$1")
}

# Namespaces and temp dirs of earlier runs whose process is gone (killed with
# SIGKILL, e.g. by a CTest timeout). Only names this harness makes are matched.
sys__reap_stale() {
  local ns pid d p
  while read -r ns _; do
    [[ $ns =~ ^tfs([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    sys_alive "$pid" && continue
    sys_log "removing stale namespace $ns (pid $pid is gone)"
    for p in $(ip netns pids "$ns" 2>/dev/null); do sys_kill_pid "$p" 2; done
    ip netns del "$ns" 2>/dev/null || true
  done < <(ip netns list 2>/dev/null)
  for d in "${TMPDIR:-/tmp}"/tapflow-sys.*; do
    [[ -d $d && ! -e $d/.keep && $d =~ tapflow-sys\.([0-9]+)\. ]] || continue
    sys_alive "${BASH_REMATCH[1]}" || rm -rf "$d"
  done
  # FRR instances (lib/routers.sh): /etc/frr/tfs<PID>-<name>, /var/run/frr/...
  for d in /etc/frr/tfs[0-9]*-* /var/run/frr/tfs[0-9]*-*; do
    [[ -d $d && ${d##*/} =~ ^tfs([0-9]+)- ]] || continue
    sys_alive "${BASH_REMATCH[1]}" || rm -rf "$d"
  done
}

# ---------------------------------------------------------------- setup/teardown

# sys_init NAME : checks, temp dir, traps, the lab namespace.
sys_init() {
  SYS_NAME=$1
  trap 'sys__on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR
  trap sys__cleanup EXIT
  trap 'sys__on_signal TERM' TERM
  trap 'sys__on_signal INT' INT
  trap 'sys__on_signal HUP' HUP
  trap 'sys__on_signal PIPE' PIPE
  [[ $(id -u) == 0 ]] || sys_fail "system tests need root (network namespaces, veth pairs, OVS)"
  sys_require ip ss ethtool ping timeout python3 nsenter ovsdb-tool ovsdb-server ovs-vswitchd \
              ovs-vsctl ovs-ofctl ovs-appctl
  [[ -r $SYS_OVS_SCHEMA ]] || sys_fail "OVS schema $SYS_OVS_SCHEMA not found (openvswitch-common)"
  [[ -c /dev/net/tun ]] || sys_fail "/dev/net/tun is missing (the OVS userspace datapath needs it)"
  sys__reap_stale
  SYS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tapflow-sys.$$.XXXXXX")
  sys_step "$SYS_NAME: pid $$, namespaces $SYS_ID-*, files in $SYS_DIR"
  sys_ns_create lab
  # Bridge ports in the lab namespace carry no IP stack of their own.
  sys_lab sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
}

sys_pass() {
  SYS_PASSED=1
  exit 0
}

sys__diagnostics() {
  local name br hook
  (( ${#SYS_DAEMON_LOG[@]} + ${#SYS_DIAG_HOOKS[@]} )) || [[ -n $SYS_OVS_DIR ]] || return 0
  printf '\n---- diagnostics (%s) ----\n' "$SYS_NAME" >&2
  for hook in "${SYS_DIAG_HOOKS[@]}"; do "$hook" >&2 2>&1 || true; done
  for name in "${!SYS_DAEMON_LOG[@]}"; do
    printf -- '-- %s log (last 40 lines of %s):\n' "$name" "${SYS_DAEMON_LOG[$name]}" >&2
    tail -n 40 "${SYS_DAEMON_LOG[$name]}" >&2 2>/dev/null || true
  done
  if [[ -n $SYS_OVS_DIR && -f $SYS_OVS_DIR/ovs-vswitchd.log ]]; then
    printf -- '-- ovs-vswitchd.log (last 30 lines):\n' >&2
    tail -n 30 "$SYS_OVS_DIR/ovs-vswitchd.log" >&2 || true
    if sys_alive "${SYS_VSWITCHD_PID:-0}"; then
      for br in "${SYS_BRIDGES[@]}"; do
        # SYS_DIAG_FLOW_LINES=N: only the first N lines (a test with a
        # million flows sets it; unset: all of them).
        printf -- '-- flows of %s%s:\n' "$br" "${SYS_DIAG_FLOW_LINES:+ (first $SYS_DIAG_FLOW_LINES lines)}" >&2
        timeout 5 ovs-ofctl -O "${SYS_BRIDGE_PROTOCOLS[$br]}" dump-flows \
          "unix:$SYS_OVS_DIR/$br.mgmt" 2>&1 | head -n "${SYS_DIAG_FLOW_LINES:--0}" >&2 || true
      done
      printf -- '-- controllers:\n' >&2
      timeout 5 ovs-vsctl --db="unix:$SYS_OVS_DIR/db.sock" --timeout=5 \
        --columns=target,is_connected,status list controller >&2 2>&1 || true
    fi
  fi
  printf -- '---- end of diagnostics ----\n\n' >&2
}

sys__cleanup() {
  local status=$? pid ns i p
  SYS_CLEANING=1
  set +e
  trap - ERR
  trap '' TERM INT HUP PIPE
  if (( ! SYS_PASSED )); then
    (( status == 0 )) && status=1
    sys__diagnostics
  fi
  # Detached daemons (routing daemons), newest first.
  for (( i = ${#SYS_DETACHED_PIDS[@]} - 1; i >= 0; i-- )); do
    sys_kill_pid "${SYS_DETACHED_PIDS[i]}" 5
  done
  # Our background processes (controllers, iperf3 servers), newest first.
  for (( i = ${#SYS_BG_PIDS[@]} - 1; i >= 0; i-- )); do
    sys_kill_pid "${SYS_BG_PIDS[i]}" 5
    wait "${SYS_BG_PIDS[i]}" 2>/dev/null
  done
  # OVS: ask it to exit, then make sure by PID.
  if [[ -n $SYS_VSWITCHD_PID ]] && sys_alive "$SYS_VSWITCHD_PID"; then
    timeout 5 ovs-appctl -t "$SYS_OVS_DIR/ovs-vswitchd.ctl" exit --cleanup >/dev/null 2>&1
    sys_wait_gone "$SYS_VSWITCHD_PID" 5 || sys_kill_pid "$SYS_VSWITCHD_PID" 2
  fi
  if [[ -n $SYS_OVSDB_PID ]] && sys_alive "$SYS_OVSDB_PID"; then
    timeout 5 ovs-appctl -t "$SYS_OVS_DIR/ovsdb-server.ctl" exit >/dev/null 2>&1
    sys_wait_gone "$SYS_OVSDB_PID" 5 || sys_kill_pid "$SYS_OVSDB_PID" 2
  fi
  for (( i = ${#SYS_CLEANUP_HOOKS[@]} - 1; i >= 0; i-- )); do
    "${SYS_CLEANUP_HOOKS[i]}" || sys_log "cleanup: ${SYS_CLEANUP_HOOKS[i]} failed"
  done
  # Anything still running inside our namespaces was started by this test.
  for (( i = ${#SYS_NAMESPACES[@]} - 1; i >= 0; i-- )); do
    ns=${SYS_NAMESPACES[i]}
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      sys_log "killing leftover pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)) in $ns"
      sys_kill_pid "$p" 2
    done
    ip netns del "$ns" 2>/dev/null || sys_log "could not delete namespace $ns"
  done
  # Namespaces others made under our prefix (tapflowd's router namespaces,
  # with the TAPs it keeps there): same treatment.
  while read -r ns _; do
    [[ $ns == "$SYS_ID"-* ]] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      sys_log "killing leftover pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)) in $ns"
      sys_kill_pid "$p" 2
    done
    ip netns del "$ns" 2>/dev/null || sys_log "could not delete namespace $ns"
  done < <(ip netns list 2>/dev/null)
  for (( i = ${#SYS_CLEANUP_DIRS[@]} - 1; i >= 0; i-- )); do
    rm -rf "${SYS_CLEANUP_DIRS[i]}"
  done
  if [[ -n $SYS_DIR && -d $SYS_DIR ]]; then
    if [[ ${SYS_KEEP:-0} == 1 ]]; then
      touch "$SYS_DIR/.keep"
      sys_log "kept $SYS_DIR (SYS_KEEP=1; remove it yourself)"
    else
      rm -rf "$SYS_DIR"
    fi
  fi
  if (( SYS_PASSED )); then
    sys_step "$SYS_NAME: PASS in $(sys_elapsed)s"
  else
    sys_step "$SYS_NAME: FAIL after $(sys_elapsed)s"
  fi
  exit "$status"
}

# ---------------------------------------------------------------- Open vSwitch

# sys_ovs_start : ovsdb-server and ovs-vswitchd of this test, in the lab
# namespace, with db/run/log/sysconf dirs in the temp dir.
sys_ovs_start() {
  local d=$SYS_DIR/ovs
  mkdir -p "$d"
  SYS_OVS_DIR=$d
  # Every OVS program of this shell defaults to the private instance.
  export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d
  ovsdb-tool create "$d/conf.db" "$SYS_OVS_SCHEMA"
  timeout 30 ip netns exec "$(sys_ns_name lab)" ovsdb-server "$d/conf.db" \
    --remote="punix:$d/db.sock" --pidfile="$d/ovsdb-server.pid" \
    --unixctl="$d/ovsdb-server.ctl" --log-file="$d/ovsdb-server.log" --detach --no-chdir \
    2>>"$d/startup.log" || { cat "$d/startup.log" >&2; sys_fail "ovsdb-server did not start"; }
  SYS_OVSDB_PID=$(<"$d/ovsdb-server.pid")
  sys_vsctl --no-wait init
  timeout 30 ip netns exec "$(sys_ns_name lab)" ovs-vswitchd "unix:$d/db.sock" \
    --pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
    --log-file="$d/ovs-vswitchd.log" --detach --no-chdir \
    2>>"$d/startup.log" || { cat "$d/startup.log" >&2; sys_fail "ovs-vswitchd did not start"; }
  SYS_VSWITCHD_PID=$(<"$d/ovs-vswitchd.pid")
  sys_log "private OVS $(ovs-vswitchd --version | awk 'NR == 1 { print $NF }'):" \
          "ovsdb-server pid $SYS_OVSDB_PID, ovs-vswitchd pid $SYS_VSWITCHD_PID"
}

sys_vsctl() { ovs-vsctl --db="unix:$SYS_OVS_DIR/db.sock" --timeout=30 "$@"; }

# sys_ofctl BRIDGE COMMAND [ARGS...] : ovs-ofctl on the bridge's mgmt socket,
# speaking the bridge's protocols.
sys_ofctl() {
  local br=$1 cmd=$2; shift 2
  timeout 30 ovs-ofctl -O "${SYS_BRIDGE_PROTOCOLS[$br]}" "$cmd" "unix:$SYS_OVS_DIR/$br.mgmt" "$@"
}

# sys_add_bridge BRIDGE PROTOCOLS [DPID] : userspace datapath, fail_mode
# secure, no in-band, e.g. PROTOCOLS=OpenFlow10 or OpenFlow10,OpenFlow13.
sys_add_bridge() {
  local br=$1 protocols=$2 dpid=${3:-}
  [[ -n $dpid ]] || dpid=$(printf '%016x' $(( ${#SYS_BRIDGES[@]} + 1 )))
  sys_vsctl add-br "$br" -- set bridge "$br" datapath_type=netdev fail_mode=secure \
    protocols="$protocols" other-config:disable-in-band=true other-config:datapath-id="$dpid"
  SYS_BRIDGES+=("$br")
  SYS_BRIDGE_PROTOCOLS[$br]=$protocols
  SYS_BRIDGE_PORTS[$br]=0
  sys_wait_until 10 "$br.mgmt" test -S "$SYS_OVS_DIR/$br.mgmt"
  sys_log "bridge $br: datapath_type=netdev fail_mode=secure protocols=$protocols dpid=$dpid"
}

# sys_add_host HOST BRIDGE IPV4/LEN [IPV6/LEN] : a namespace with eth0 on a
# veth whose peer (named HOST, in the lab namespace) is the next bridge port.
# MAC 02:00:00:00:00:NN in creation order; TX checksum offload off (TCP over
# the userspace datapath needs it).
sys_add_host() { sys_add_port_host "$1" "$2" "$1" "$3" "${4:-}"; }

# sys_add_port_host HOST BRIDGE PORT [IPV4/LEN] [IPV6/LEN] : sys_add_host
# with the bridge port (the veth end in the lab namespace) named PORT, e.g.
# "p1" as a tapflowd router config names it. IPV4 may be empty ("") for a
# host whose addresses come later (a routing daemon's namespace). IPv6 is
# off on eth0 unless an IPv6 address is given (no stray RS/MLD traffic).
# Sets SYS_HOST_PORT[HOST] (name) and SYS_HOST_OFPORT[HOST] (number).
sys_add_port_host() {
  local host=$1 br=$2 pname=$3 ip4=${4:-} ip6=${5:-} ns port mac
  ns=$(sys_ns_name "$host")
  sys_ns_create "$host"
  SYS_HOSTS=$(( SYS_HOSTS + 1 ))
  mac=$(printf '02:00:00:00:00:%02x' "$SYS_HOSTS")
  port=$(( ${SYS_BRIDGE_PORTS[$br]} + 1 ))
  SYS_BRIDGE_PORTS[$br]=$port
  ip link add eth0 netns "$ns" address "$mac" type veth peer name "$pname" netns "$(sys_ns_name lab)"
  sys_ns "$host" ethtool -K eth0 tx off >/dev/null
  if [[ -z $ip6 ]]; then
    sys_ns "$host" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  fi
  [[ -n $ip4 ]] && sys_ns "$host" ip addr add "$ip4" dev eth0
  [[ -n $ip6 ]] && sys_ns "$host" ip -6 addr add "$ip6" dev eth0 nodad
  sys_ns "$host" ip link set eth0 up
  sys_lab ip link set "$pname" up
  sys_vsctl add-port "$br" "$pname" -- set interface "$pname" ofport_request="$port"
  SYS_HOST_MAC[$host]=$mac
  SYS_HOST_IP4[$host]=${ip4%/*}
  SYS_HOST_IP6[$host]=${ip6%/*}
  SYS_HOST_PORT[$host]=$pname
  SYS_HOST_OFPORT[$host]=$port
  sys_log "host $host: $mac ${ip4:-(no IPv4)}${ip6:+ $ip6} on $br port $port ($pname)"
}

# sys_port_mac PORT : the MAC OVS uses for a bridge port (what the switch
# reports in its port descriptions, so what tapflowd gives the port's TAP).
sys_port_mac() {
  local mac
  mac=$(sys_vsctl get interface "$1" mac_in_use)
  mac=${mac//\"/}
  [[ $mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || sys_fail "no MAC for OVS port $1 (got '$mac')"
  printf '%s' "$mac"
}

# sys_set_controller BRIDGE TARGET... : reconnect backoff capped at 1 s.
sys_set_controller() {
  local br=$1; shift
  sys_vsctl set-controller "$br" "$@" -- set controller "$br" max_backoff=1000
  sys_log "$br: controller $*"
}

sys_del_controller() {
  sys_vsctl del-controller "$1"
  sys_log "$1: controller removed"
}

sys__connected() { [[ $(sys_vsctl get controller "$1" is_connected 2>/dev/null) == true ]]; }

# sys_wait_connected BRIDGE [TIMEOUT_S] : OVS says its controller is connected.
sys_wait_connected() {
  sys_wait_until "${2:-20}" "$1 to connect to its controller" sys__connected "$1"
  sys_log "$1: connected to controller"
}

# sys_flows BRIDGE : dump-flows without the reply header line.
sys_flows() { sys_ofctl "$1" dump-flows | { grep -v 'reply (' || true; }; }

# ---------------------------------------------------------------- daemons

# sys_daemon_start NAME NAMESPACE READY_REGEX TIMEOUT_S COMMAND... : start a
# background process in a test namespace, output to $SYS_DIR/NAME.log; wait
# until the log matches READY_REGEX (grep -E; empty: just check that it is
# still running after 0.2 s). Fails if the process exits first.
# With SYS_NSENTER=1 it enters only the network namespace (nsenter --net),
# keeping the shared mount namespace (see sys_tapflowd_start).
sys_daemon_start() {
  local name=$1 short_ns=$2 ready=$3 timeout=$4; shift 4
  local log=$SYS_DIR/$name.log pid deadline status
  : >"$log"
  if [[ ${SYS_NSENTER:-0} == 1 ]]; then
    nsenter --net="/run/netns/$(sys_ns_name "$short_ns")" "$@" >>"$log" 2>&1 </dev/null &
  else
    ip netns exec "$(sys_ns_name "$short_ns")" "$@" >>"$log" 2>&1 </dev/null &
  fi
  pid=$!
  SYS_BG_PIDS+=("$pid")
  SYS_DAEMON_PID[$name]=$pid
  SYS_DAEMON_LOG[$name]=$log
  deadline=$(( ${EPOCHREALTIME/./} + timeout * 1000000 ))
  [[ -n $ready ]] || sleep 0.2
  until { [[ -z $ready ]] && sys_alive "$pid"; } || { [[ -n $ready ]] && grep -qE -- "$ready" "$log"; }; do
    if ! sys_alive "$pid"; then
      wait "$pid" && status=0 || status=$?
      sys_fail "$name exited with status $status before logging /$ready/ ($*); its last line: $(tail -n1 "$log")"
    fi
    (( ${EPOCHREALTIME/./} > deadline )) && sys_fail "$name did not log /$ready/ within ${timeout}s"
    sleep 0.05
  done
  sys_log "$name: pid $pid ready ($*)"
}

sys_daemon_pid() { printf '%s' "${SYS_DAEMON_PID[$1]}"; }
sys_daemon_log() { printf '%s' "${SYS_DAEMON_LOG[$1]}"; }

# sys_daemon_stop NAME [TIMEOUT_S] : SIGTERM; fails unless the daemon exits
# with status 0 in time (a clean shutdown is part of what is tested).
sys_daemon_stop() {
  local name=$1 timeout=${2:-10} pid status
  pid=${SYS_DAEMON_PID[$name]}
  sys_alive "$pid" || sys_fail "$name (pid $pid) was already gone before SIGTERM"
  kill -TERM "$pid"
  sys_wait_gone "$pid" "$timeout" || sys_fail "$name (pid $pid) still running ${timeout}s after SIGTERM"
  wait "$pid" && status=0 || status=$?
  (( status == 0 )) || sys_fail "$name exited with status $status on SIGTERM"
  sys_log "$name: exited cleanly on SIGTERM"
}

# sys_log_count NAME REGEX : lines of the daemon's log matching REGEX.
sys_log_count() { grep -cE -- "$2" "${SYS_DAEMON_LOG[$1]}" || true; }

sys__log_has() { (( $(sys_log_count "$1" "$2") >= $3 )); }

# sys_wait_log NAME REGEX [COUNT] [TIMEOUT_S] : wait for COUNT matching lines.
sys_wait_log() {
  local name=$1 re=$2 count=${3:-1} timeout=${4:-20} deadline
  deadline=$(( ${EPOCHREALTIME/./} + timeout * 1000000 ))
  until sys__log_has "$name" "$re" "$count"; do
    sys_alive "${SYS_DAEMON_PID[$name]}" || sys_fail "$name died while waiting for /$re/ in its log"
    (( ${EPOCHREALTIME/./} > deadline )) && \
      sys_fail "$name did not log /$re/ (x$count) within ${timeout}s"
    sleep 0.05
  done
  grep -E -- "$re" "${SYS_DAEMON_LOG[$name]}" | sed -n "${count}p" | sed 's/^/    /' >&2
}

# sys_tapflowd_start NAME ARGS... : tapflowd ($TAPFLOWD) in the lab namespace.
# It enters the lab's network namespace only (nsenter), not a private mount
# namespace as `ip netns exec` would: the namespaces its router app creates
# under /run/netns must be visible to the test, as they are in production.
sys_tapflowd_start() {
  local name=$1; shift
  [[ -n ${TAPFLOWD:-} ]] || sys_fail "TAPFLOWD (path of the tapflowd binary) is not set"
  [[ -x $TAPFLOWD ]] || sys_fail "tapflowd not found or not executable at $TAPFLOWD (build it first)"
  SYS_NSENTER=1 sys_daemon_start "$name" lab 'listening on ' 15 "$TAPFLOWD" "$@"
  sys__register_fd_store "$name"
}

# sys__register_fd_store NAME : the router app logs "fd store: pid N at
# NAME" (before it listens) for the tapflow-fdstore it started or found; that
# process is detached and outlives tapflowd, so cleanup ends it by PID.
sys__register_fd_store() {
  local pid
  pid=$(sed -nE 's/.*fd store: pid ([0-9]+) at .*/\1/p' "${SYS_DAEMON_LOG[$1]}" | tail -n1)
  [[ -n $pid && $pid != 0 ]] || return 0
  sys_register_pid "$pid"
  SYS_FDSTORE_PID=$pid
}

# sys_free_port NAMESPACE : a TCP port nobody listens on in that namespace.
sys_free_port() {
  local p i
  for (( i = 0; i < 100; i++ )); do
    p=$(( 20000 + RANDOM % 40000 ))
    if [[ -z $(sys_ns "$1" ss -Hltn "sport = :$p") ]]; then printf '%s' "$p"; return 0; fi
  done
  sys_fail "no free TCP port found in namespace $1"
}

# ---------------------------------------------------------------- traffic

# sys_ping FROM_HOST DEST [COUNT] : COUNT echo requests, 0% loss required.
sys_ping() {
  local from=$1 dest=$2 count=${3:-5} out
  out=$(sys_ns "$from" ping -n -q -c "$count" -i 0.2 -W 2 "$dest" 2>&1) || true
  if ! grep -q ' 0% packet loss' <<<"$out"; then
    printf '%s\n' "$out" >&2
    sys_fail "ping $from -> $dest: packets lost"
  fi
  sys_log "ping $from -> $dest: $(grep -E 'packets|rtt' <<<"$out" | tr '\n' ' ')"
}

# sys_ping_fails FROM_HOST DEST [COUNT] : every echo request must be lost.
sys_ping_fails() {
  local from=$1 dest=$2 count=${3:-3} out
  out=$(sys_ns "$from" ping -n -q -c "$count" -i 0.2 -W 1 "$dest" 2>&1) || true
  if ! grep -q ' 100% packet loss' <<<"$out"; then
    printf '%s\n' "$out" >&2
    sys_fail "ping $from -> $dest went through, but it should not"
  fi
  sys_log "ping $from -> $dest: no reply, as expected"
}

# sys_iperf SERVER_HOST CLIENT_HOST SERVER_ADDR SECONDS : one TCP stream
# client -> server. Sets SYS_IPERF_BYTES and SYS_IPERF_MBPS (received).
sys_iperf() {
  local srv=$1 cli=$2 addr=$3 secs=$4 port=5201 json parsed
  sys_require iperf3
  sys_daemon_start "iperf3-$srv" "$srv" 'Server listening' 10 iperf3 -s -1 -p "$port" --forceflush
  json=$(sys_ns "$cli" timeout $(( secs + 30 )) iperf3 -c "$addr" -p "$port" -t "$secs" \
           --connect-timeout 5000 -J 2>&1) || { printf '%s\n' "$json" >&2; sys_fail "iperf3 client failed"; }
  parsed=$(python3 -c '
import json, sys
r = json.load(sys.stdin)
if "error" in r: sys.exit("iperf3: " + r["error"])
s = r["end"]["sum_received"]
print(int(s["bytes"]), "%.1f" % (s["bits_per_second"] / 1e6), r["end"]["sum_sent"].get("retransmits", 0))
' <<<"$json") || sys_fail "cannot read iperf3's result"
  read -r SYS_IPERF_BYTES SYS_IPERF_MBPS SYS_IPERF_RETRANS <<<"$parsed"
  sys_log "iperf3 $cli -> $srv: $SYS_IPERF_BYTES bytes in ${secs}s, $SYS_IPERF_MBPS Mbit/s," \
          "$SYS_IPERF_RETRANS retransmits"
  sys_wait_gone "${SYS_DAEMON_PID[iperf3-$srv]}" 10 || true
}

# ---------------------------------------------------------------- TLS

# sys_make_pki DIR : a CA, certificates signed by it for the controller
# (ctl-*) and the switch (sw-*), and a self-signed "rogue" pair nobody trusts.
sys_make_pki() {
  local d=$1 n
  sys_require openssl
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=tapflow test CA" -keyout ca-key.pem -out ca.pem
    for n in ctl sw; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=tapflow test $n" -keyout "$n-key.pem" -out "$n.csr"
      openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n') -out "$n-cert.pem"
    done
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=rogue switch" -keyout rogue-key.pem -out rogue-cert.pem
  ) >"$SYS_DIR/pki.log" 2>&1 || { cat "$SYS_DIR/pki.log" >&2; sys_fail "openssl could not make the test PKI"; }
  sys_log "PKI in $d: ca.pem, ctl-{key,cert}.pem, sw-{key,cert}.pem, rogue-{key,cert}.pem"
}
