# The lab of the slow-path benchmark and its trace, sourced by
# run_slowpath_bench.sh and run_slowpath_trace.sh after
# tests/system/lib/harness.sh: one private OVS (userspace datapath), bridge
# br0 (OpenFlow10,OpenFlow13, dpid 1), host h1 on port p1, and tapflowd's
# router app with TAP eth1 ($ROUTER_IP/24) for p1 in namespace r1.
# shellcheck shell=bash

# shellcheck disable=SC2034  # H2_IP: h2 of run_slowpath_bench.sh
H1_IP=10.0.1.10 H2_IP=10.0.1.20 ROUTER_IP=10.0.1.1

# slowpath_lab_start : OVS, br0 and h1 (10.0.1.10) on p1.
slowpath_lab_start() {
  sys_ovs_start
  sys_add_bridge br0 OpenFlow10,OpenFlow13 0000000000000001
  sys_add_port_host h1 br0 p1 "$H1_IP/24"
}

# purge_datapath : drops the datapath's cached megaflows. A miss seen while no
# controller was connected caches a drop megaflow that OVS keeps (it is not
# revalidated when a controller connects) as long as retries hit it.
purge_datapath() {
  sleep 0.2  # the OpenFlow handshake after the TCP connect
  timeout 10 ovs-appctl -t "$SYS_OVS_DIR/ovs-vswitchd.ctl" revalidator/purge >/dev/null
}

# reachable FROM DEST : one echo reply (for sys_wait_until).
reachable() { sys_ns "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# tapd_start NAME : tapflowd (daemon NAME) with its router app for br0, TAP
# eth1 in r1, OpenFlow and metrics on free ports of the lab namespace (left in
# TAPD_PORT and TAPD_METRICS_PORT); returns once h1 reaches $ROUTER_IP
# through it.
tapd_start() {
  local name=$1 conf=$SYS_DIR/$1.yaml
  TAPD_PORT=$(sys_free_port lab)
  TAPD_METRICS_PORT=$(sys_free_port lab)
  cat >"$conf" <<EOC
listen: ["tcp:127.0.0.1:$TAPD_PORT"]
app: router
log_level: info
metrics:
  listen: "127.0.0.1:$TAPD_METRICS_PORT"
router:
  persist_taps: false
  # The slow path's own capacity is measured here, not control-plane policing
  # (which would cap traffic to the router at 6000 frames/s).
  punt_policer: false
  switches:
    - dpid: 0x1
      name: r1
      netns: "$(sys_ns_name r1)"
      ports:
        - name: p1
          interface: eth1
          addresses: ["$ROUTER_IP/24"]
EOC
  sys_tapflowd_start "$name" -c "$conf"
  sys_set_controller br0 "tcp:127.0.0.1:$TAPD_PORT"
  sys_wait_log "$name" 'up: OpenFlow' 1 20
  purge_datapath
  sys_wait_ns r1 20
  sys_wait_link r1 eth1 20
  sys_wait_carrier r1 eth1 on 20
  sys_wait_until 30 "h1 -> $ROUTER_IP through tapd" reachable h1 "$ROUTER_IP"
}
