#!/usr/bin/python3
"""Runs one of tapflow's Mininet lab topologies end to end and checks it.

  /usr/bin/python3 mininet-topos/lab.py TOPOLOGY [--tapflowd PATH] [--failover link|silent|both] [--cli] [--keep]
  TOPOLOGY: ospf, bgp, demo, two-switch, vlan-stick, ha (--list shows them)

It starts a private Open vSwitch (userspace datapath) and tapflowd in a
private network namespace, builds the Mininet network, starts BIRD/FRR in
tapflowd's router namespaces and in the legacy routers, waits for the
network to converge, then checks and prints: adjacencies and sessions,
routes learned in the tapflow namespaces, FIB flows and groups, a ping
matrix between all hosts (0% loss), BFD sessions Up where the topology
runs BFD, and that transit traffic was forwarded by flows (FIB flow
counters) and not by the controller (tapflowd's PACKET_IN counter, beyond
the routing protocols' idle rate). --failover (topologies with a backup
path) takes a link to a legacy router down, or fails it silently, and
measures how long BFD takes to notice and traffic to move.
Topology ha (issue 16) tells another story: three etcd members and two
tapflowd instances in a cluster for s1, r1's BIRD in each instance's
namespace, rb announcing --routes /24s; h1 pings h2 every 10 ms while the
master's server dies; the standby takes over (checked: no ping lost, the
takeover within lease TTL + 1 s, the routes learnt again, the switch in
sync) and a summary is printed.
--cli stays in the Mininet CLI before tearing down. Exit status 0 only if
every check held; everything it made is removed at the end.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tapflow_lab import (COOKIE_HOST, COOKIE_MISS, COOKIE_ROUTE, LAB_COOKIE, REPO, Lab, LabFailure, log,  # noqa: E402
                         ping_stats, run, wait_until)
from topos import TOPOLOGIES  # noqa: E402


def build_net(lab, topo):
    from functools import partial
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.node import Node, OVSBridge, OVSSwitch, RemoteController

    class LinuxRouter(Node):
        """A legacy router: a Mininet host that forwards IPv4."""

        def config(self, **params):
            super().config(**params)
            self.cmd('sysctl -qw net.ipv4.ip_forward=1')

    setLogLevel(os.environ.get('LAB_MININET_LOG', 'warning'))
    # Mininet raises system-wide limits and sysctls (fs.file-max,
    # net.core.*mem_max, kernel.pty.max, ...) on first use; these small
    # topologies don't need it and the lab touches nothing system-wide.
    import mininet.net
    mininet.net.fixLimits = lambda: None
    net = Mininet(topo=None, controller=None, build=False, autoSetMacs=False, autoStaticArp=False,
                  waitConnected=False)
    if lab.instances:
        # Cluster mode: the switches connect to every instance (OVS gets one
        # controller target per instance).
        for n, inst in enumerate(sorted(lab.instances)):
            net.addController('c%d' % n, controller=RemoteController, ip='127.0.0.1',
                              port=lab.instances[inst]['port'])
    else:
        net.addController('c0', controller=RemoteController, ip='127.0.0.1', port=lab.port)
    switch = partial(OVSSwitch, datapath='user', protocols='OpenFlow13', failMode='secure')
    for name, dpid in topo.switches:
        net.addSwitch(name, cls=switch, dpid='%016x' % dpid)
    for name, dpid in topo.bridges:
        net.addSwitch(name, cls=partial(OVSBridge, datapath='user', protocols='OpenFlow13'), dpid='%016x' % dpid)
    for r in topo.legacy:
        net.addHost(r['name'], cls=LinuxRouter, ip=None)
    for h in topo.hosts:
        net.addHost(h['name'], ip=None)
    for a, ia, _, b, ib, _ in topo.links:
        kw = dict(intfName1=ia, intfName2=ib)
        if a.startswith('s'):
            kw['port1'] = int(ia.rsplit('eth', 1)[1])
        if b.startswith('s'):
            kw['port2'] = int(ib.rsplit('eth', 1)[1])
        net.addLink(a, b, **kw)
    net.build()
    return net


def configure(net, topo):
    """Addresses, routes and sysctls of the Mininet nodes (the lab sets them;
    the routing daemons only add routes)."""
    for port, vid in topo.access_tags.items():
        run_ok = net[port.split('-')[0]].cmd('ovs-vsctl set port %s tag=%d && echo ok' % (port, vid))
        if 'ok' not in run_ok:
            raise LabFailure('could not make %s an access port of VLAN %d: %s' % (port, vid, run_ok.strip()))
    for node in net.hosts:
        # No IPv6: its router solicitations and MLD would only add noise.
        node.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
    for a, ia, aa, b, ib, ab in topo.links:
        for n, i, addr in ((a, ia, aa), (b, ib, ab)):
            if addr:
                net[n].cmd('ip addr flush dev %s; ip addr add %s dev %s' % (i, addr, i))
    for h in topo.hosts:
        node = net[h['name']]
        i = node.defaultIntf().name
        node.cmd('ip addr flush dev %s; ip addr add %s dev %s; ip route add default via %s' % (i, h['ip'], i, h['gw']))
    for r in topo.legacy:
        for addr in r.get('lo', []):
            net[r['name']].cmd('ip addr add %s dev lo' % addr)


def start_routers(lab, net, topo):
    for t in topo.tapflow_routers:
        ns = lab.prefix + t['name']
        lab.wait_taps(ns, t['taps'])
        r = lab.router(t['name'], t['kind'], netns=ns)
        r.start_bird(t['conf']) if t['kind'] == 'bird' else r.start_frr(t['conf'])
    for leg in topo.legacy:
        r = lab.router(leg['name'], leg['kind'], node=net[leg['name']])
        r.start_bird(leg['conf']) if leg['kind'] == 'bird' else r.start_frr(leg['conf'])


# OSPF's MinLSInterval (RFC 2328: 5 s): a router originates a new version
# of its router-LSA at most that often, so a failure within 5 s of the last
# topology change (the previous failover's repair) would wait for it.
MIN_LS_INTERVAL = 5.0


def converge(lab, topo, timeout=60):
    """Waits until every adjacency is Full, every session Established, every
    BFD session Up and every expected route is in its router's kernel;
    returns the seconds it took."""
    t0 = time.monotonic()

    def missing():
        out = []
        for name, rid in topo.ospf:
            r = lab.routers[name]
            if not r.alive():
                raise LabFailure('a routing daemon of %s died' % name)
            st = r.ospf_neighbors().get(rid, 'absent')
            if not st.startswith('Full'):
                out.append('%s: OSPF neighbour %s %s' % (name, rid, st))
        for name, ip in topo.bgp:
            st = lab.routers[name].bgp_sessions().get(ip, 'absent')
            if st != 'Established':
                out.append('%s: BGP %s %s' % (name, ip, st))
        for name, ip in topo.bfd:
            st = lab.routers[name].bfd_sessions().get(ip, 'absent')
            if st != 'Up':
                out.append('%s: BFD %s %s' % (name, ip, st))
        for name, prefix, via, _ in topo.routes:
            rt = lab.routers[name].route(prefix)
            if 'via %s ' % via not in rt + ' ':
                out.append('%s: route %s via %s (have: %s)' % (name, prefix, via, rt or 'none'))
        return out

    deadline = t0 + timeout
    while True:
        m = missing()
        if not m:
            lab.settled_at = time.time()
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise LabFailure('not converged after %ds:\n  %s' % (timeout, '\n  '.join(m)))
        time.sleep(0.5)


def switch_of(topo, router):
    for t in topo.tapflow_routers:
        if t['name'] == router:
            return t['switch']
    return None


def check_flows(lab, topo, ports, timeout=10):
    """Each route of a tapflow router is a FIB flow; with ports, its next hop
    leaves by the switch port of the route's interface (ethN = port N). (A
    next hop the namespace's kernel has not resolved yet, before the first
    packet to it, points to the controller: ports are checked after traffic.)"""
    def ok(name, prefix, dev):
        sw = switch_of(topo, name)
        f = lab.route_flow(sw, prefix)
        return f is not None and (not ports or lab.flow_out_ports(sw, f) == [int(dev[3:])])
    for name, prefix, _, dev in topo.routes:
        if switch_of(topo, name) is None:
            continue
        wait_until(timeout, 'the flow of %s in %s%s' % (prefix, switch_of(topo, name),
                                                       ' out of port %s' % dev[3:] if ports else ''),
                   lambda: ok(name, prefix, dev))


def check_host_flows(lab, topo, timeout=10):
    """Host flows of resolved neighbours: out of the given port, with the
    VLAN tag pushed (set_field of vlan_vid = 0x1000 | id) when one is given."""
    for sw, ip, port, vid in topo.host_flows:
        def ok():
            f = lab.host_flow(sw, ip)
            if f is None:
                return False
            acts = lab.flow_actions(sw, f)
            tagged = not vid or ('push_vlan' in acts and re.search(r'set_field:%d->vlan_vid' % (0x1000 | vid), acts))
            return lab.flow_out_ports(sw, f) == [port] and bool(tagged)
        wait_until(timeout, 'the host flow of %s in %s out of port %d%s' % (
            ip, sw, port, ' tagged %d' % vid if vid else ''), ok)


def host_ips(net, topo):
    return {h['name']: h['ip'].split('/')[0] for h in topo.hosts}


def ping_matrix(lab, net, topo):
    ips = host_ips(net, topo)
    names = [h['name'] for h in topo.hosts]
    pairs = [(net[a], b, ips[b]) for a in names for b in names if a != b]
    pairs += [(net[s], label, ip) for s, label, ip in topo.extra_targets]
    res = lab.ping_many(pairs)
    lines = ['         ' + ''.join('%-8s' % b for b in names)]
    for a in names:
        row = '%-9s' % a
        for b in names:
            if a == b:
                row += '%-8s' % '-'
            else:
                sent, got = res[(a, b)]
                row += '%-8s' % ('ok' if sent and got == sent else '%d/%d' % (got, sent))
        lines.append(row)
    for s, label, ip in topo.extra_targets:
        sent, got = res[(s, label)]
        lines.append('%s -> %s %s: %s' % (s, label, ip, 'ok' if sent and got == sent else '%d/%d' % (got, sent)))
    bad = ['%s -> %s: %d of %d replies' % (k[0], k[1], v[1], v[0]) for k, v in res.items() if not v[0] or v[1] != v[0]]
    return lines, len(res), bad


def transit_proof(lab, net, topo, count=200):
    """Pings across the switches' FIBs; the FIB flows must count every packet
    while tapflowd's PACKET_INs grow by the routing protocols' chatter only."""
    ips = host_ips(net, topo)
    switches = [s for s, _ in topo.switches]
    # The routing protocols' own rate of PACKET_INs (hellos, keepalives and,
    # where configured, BFD at 10 packets/s per session), measured idle.
    pin_a, t_a = lab.packet_ins(), time.monotonic()
    time.sleep(2.0)
    chatter_rate = (lab.packet_ins() - pin_a) / (time.monotonic() - t_a)
    fib0, pin0 = lab.fib_packets(switches), lab.packet_ins()
    t0 = time.monotonic()
    res = lab.ping_many([(net[a], b, ips[b]) for a, b in topo.transit], count=count, interval=0.01, wait=2)
    secs = time.monotonic() - t0
    sent = sum(v[0] for v in res.values())
    got = sum(v[1] for v in res.values())
    # Every echo request and every reply crosses at least one FIB flow.
    packets = sent + got
    # OVS updates flow counters from the datapath every ~0.5-1 s: wait
    # until they reach the count or stop moving.
    fib1, last, t_stable = lab.fib_packets(switches), None, time.monotonic()
    while fib1 - fib0 < packets and time.monotonic() - t_stable < 2.0:
        time.sleep(0.25)
        last, fib1 = fib1, lab.fib_packets(switches)
        if fib1 != last:
            t_stable = time.monotonic()
    pin1 = lab.packet_ins()
    chatter = chatter_rate * (time.monotonic() - t0)
    return dict(pings=sent, replies=got, packets=packets, fib=fib1 - fib0, packet_ins=pin1 - pin0, secs=secs,
                chatter_rate=chatter_rate, extra_packet_ins=max(0.0, pin1 - pin0 - chatter))


def summary(lab, net, topo, conv_secs, matrix, transit):
    out = []
    p = out.append
    p('')
    p('================ tapflow lab: %s ================' % topo.name)
    p(topo.title)
    p(topo.picture.rstrip())
    p('')
    p('converged in %.1f s (OSPF Full, BGP Established, routes in the kernels)' % conv_secs)
    p('-- adjacencies and sessions')
    for name, r in lab.routers.items():
        parts = []
        for rid, st in sorted(r.ospf_neighbors().items()):
            parts.append('OSPF %s %s' % (rid, st))
        for ip, st in sorted(r.bgp_sessions().items()):
            parts.append('BGP %s %s' % (ip, st))
        p('  %-3s %-4s %s' % (name, r.kind.upper(), ', '.join(parts) or '-'))
    if topo.bfd:
        p('-- BFD sessions (BIRD: birdc show bfd sessions; FRR: vtysh show bfd peers)')
        for name, r in lab.routers.items():
            sessions = r.bfd_sessions(detail=True)
            p('  %-3s %-4s %s' % (name, r.kind.upper(),
                                  ', '.join('%s %s' % kv for kv in sorted(sessions.items())) or '-'))
    for t in topo.tapflow_routers:
        r = lab.routers[t['name']]
        p('-- routes learned in tapflow namespace %s (%s)' % (r.netns, t['kind'].upper()))
        for line in r.routes():
            p('  ' + line.strip())
    for sw, _ in topo.switches:
        flows = lab.flows(sw)
        cls = lambda c: sum(1 for f in flows if f.startswith('cookie=' + c))  # noqa: E731
        p('-- %s (OpenFlow 1.3): %d flows: %d FIB routes, %d connected hosts, %d miss, %d tapd (punts to '
          'the namespace); %d groups' % (sw, len(flows), cls(COOKIE_ROUTE), cls(COOKIE_HOST), cls(COOKIE_MISS),
                                         cls('0x7461'), len(lab.groups(sw))))
    p('-- ping matrix (3 pings each, 0% loss expected)')
    for line in matrix[0]:
        p('  ' + line)
    p('-- transit traffic: %d pings (%d packets) across the switches in %.1f s:' % (
        transit['pings'], transit['packets'], transit['secs']))
    p('   FIB flow counters +%d (>= %d expected), tapflowd PACKET_INs +%d (routing protocol chatter only: '
      '%.1f/s when idle, +%.0f beyond it)' % (transit['fib'], transit['packets'], transit['packet_ins'],
                                             transit['chatter_rate'], transit['extra_packet_ins']))
    print('\n'.join(out), flush=True)


def measure_failover(lab, net, topo, mode):
    """Breaks the failover link while h1 pings across it every 50 ms, waits
    until the routes and flows moved to the backup path and the pings came
    back, then repairs the link and waits for the primary path. mode "link":
    both ends of the link go down (carrier loss, seen at once); "silent":
    s1 drops everything arriving from the legacy router (a drop flow with the
    lab's own cookie), so only BFD (when the topology has it: 3 x 100 ms) or
    else OSPF's dead interval (4 s) notices. Returns the outage (the longest
    gap between replies), the bound it must stay under and the other timings."""
    fo = topo.failover
    src, r = net[fo['src']], lab.routers[fo['router']]
    sw = switch_of(topo, fo['router'])
    a, b = fo['link']
    port = int(fo['dev_before'][3:])
    bfd = (fo['router'], fo['via_before']) in topo.bfd
    silent_bfd = mode == 'silent' and bfd
    # Silent without BFD: only the IGP prefix is timed (BGP's hold time, 9 s,
    # moves the customer prefix later). With BFD, BFD takes both OSPF's
    # neighbour and the BGP session down: both prefixes are timed.
    prefixes = fo['prefixes'] if mode == 'link' or bfd else fo['prefixes'][:1]
    if mode == 'link':
        bound, why = fo['bound'], 'carrier loss + SPF + FIB programming'
    elif silent_bfd:
        bound, why = fo['bound_bfd'], "BFD 3 x 100 ms + BIRD's 1 s SPF tick + FIB programming"
    else:
        bound, why = fo['bound'], 'OSPF dead 4 s + SPF + FIB programming'
    # Start from a settled network: everything up again after the previous
    # failover, and its LSAs older than MinLSInterval (plus BIRD's 1 s tick),
    # so the new failure is flooded at once, as it would be in a quiet network.
    converge(lab, topo, 45)
    time.sleep(max(0.0, lab.settled_at + MIN_LS_INTERVAL + 1.0 - time.time()))
    interval = 0.05
    ping = src.popen(['ping', '-n', '-D', '-i', str(interval), '-W', '1', fo['dst_ip']],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    what = 'link %s-%s down' % (a, b) if mode == 'link' else 'silent failure (%s drops all from %s)' % (a, b)
    log('failover: %s, pinging %s -> %s every %.0f ms' % (what, fo['src'], fo['dst_ip'], interval * 1000))
    t_down = time.time()
    if mode == 'link':
        net.configLinkStatus(a, b, 'down')
    else:
        lab.ofctl(sw, 'add-flow', 'cookie=%s,table=0,priority=65535,in_port=%d,actions=drop' % (LAB_COOKIE, port))
    t_bfd = None
    if silent_bfd:
        wait_until(10, '%s: BFD session with %s down' % (fo['router'], fo['via_before']),
                   lambda: r.bfd_sessions().get(fo['via_before']) != 'Up', interval=0.02)
        t_bfd = time.time() - t_down
    for prefix in prefixes:
        wait_until(30, '%s: %s via %s' % (fo['router'], prefix, fo['via_after']),
                   lambda: 'via %s ' % fo['via_after'] in r.route(prefix) + ' ', interval=0.05)
    t_routed = time.time() - t_down
    for prefix in prefixes:
        wait_until(10, 'the flow of %s out of port %s' % (prefix, fo['dev_after'][3:]),
                   lambda: (lambda f: f is not None and lab.flow_out_ports(sw, f) == [int(fo['dev_after'][3:])])(
                       lab.route_flow(sw, prefix)), interval=0.05)
    t_flows = time.time() - t_down
    time.sleep(2.0)
    ping.send_signal(signal.SIGINT)
    out = ping.communicate(timeout=10)[0]
    out = out.decode() if isinstance(out, bytes) else out
    stamps = [float(m) for m in re.findall(r'^\[(\d+\.\d+)\] \d+ bytes from', out, re.M)]
    after = [s for s in stamps if s > t_down]
    before = [s for s in stamps if s <= t_down]
    if not after:
        raise LabFailure('failover (%s): no ping replies after the failure' % mode)
    last_before = before[-1] if before else t_down
    outage = max(b2 - b1 for b1, b2 in zip([last_before] + after, after)) - interval
    sent, got = ping_stats(out)
    log('failover (%s): %sroutes moved after %.2f s, flows after %.2f s; pings interrupted %.2f s '
        '(%d of %d lost)' % (mode, 'BFD down after %.2f s, ' % t_bfd if t_bfd is not None else '',
                             t_routed, t_flows, outage, sent - got, sent))
    if mode == 'link':
        sent_c, got_c = lab.ping(src, fo['customer'], count=3)
        if got_c != sent_c:
            raise LabFailure('after failover %s reaches %s (BGP, via rf) with %d of %d replies' % (
                fo['src'], fo['customer'], got_c, sent_c))
    # Repair; traffic goes back to the primary path.
    t_up = time.time()
    if mode == 'link':
        net.configLinkStatus(a, b, 'up')
        for node in (net[a], net[b]):
            for intf in node.intfList():
                node.cmd('ethtool -K %s tx off >/dev/null 2>&1' % intf.name)
    else:
        lab.ofctl(sw, 'del-flows', 'cookie=%s/-1' % LAB_COOKIE)
    for prefix in prefixes:
        wait_until(45, '%s: %s back via %s' % (fo['router'], prefix, fo['via_before']),
                   lambda: 'via %s ' % fo['via_before'] in r.route(prefix) + ' ')
    t_back = time.time() - t_up
    sent2, got2 = lab.ping(src, fo['dst_ip'], count=3)
    if got2 != sent2:
        raise LabFailure('after the repair %s reaches %s with %d of %d replies' % (fo['src'], fo['dst_ip'], got2,
                                                                                sent2))
    log('failover (%s): repaired, routes back on the primary path after %.1f s' % (mode, t_back))
    # Every adjacency, session (and BFD session) back, every route in place.
    converge(lab, topo, 45)
    return dict(mode=mode, what=what, outage=outage, routed=t_routed, flows=t_flows, lost=sent - got, back=t_back,
                prefixes=prefixes, bfd=t_bfd, bound=bound, why=why)


def bulk_routes(n):
    """BIRD static routes: n /24s from 100.0.0.0 up, one `route ... blackhole;` a line."""
    return '\n'.join('  route %d.%d.%d.0/24 blackhole;' % (100 + i // 65536, i // 256 % 256, i % 256)
                     for i in range(n))


MASTER_RE = r'master of the switch, generation \d+'
STANDBY_RE = r'cluster: standby for dpid 0000000000000001'


def run_ha(lab, topo, args):
    """The HA story (topology ha): three etcd members, two tapflowd instances
    for s1 (a master, b standby), r1's BIRD in each instance's namespace, rb
    with N routes; h1 pings h2 every 10 ms while a's server dies (SIGKILL to
    tapflowd a and its BIRD; a's namespace goes with it). Checks: no echo
    lost, b master within the bound, rb's session Established again and
    every route in b's kernel, b in sync with nothing stale. Returns the
    failures (empty: every check held)."""
    ha = topo.ha
    routes = args.routes if args.routes is not None else ha['routes']
    lab.start_etcd(3)
    for n, inst in enumerate(ha['instances'], 1):
        lab.start_instance(inst, n, topo.tapflowd, ha['lease_ttl'])

    def on_alarm(_signum, _frame):
        raise LabFailure('Mininet did not build and start within 60 s')
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(60)
    net = build_net(lab, topo)
    lab.start_mininet(net)
    signal.alarm(0)
    # Both instances start together: either may win the election.
    a = wait_until(30, 'an instance to be master of s1',
                   lambda: next((i for i in ha['instances'] if lab.log_lines(i, MASTER_RE)), None))
    b = next(i for i in ha['instances'] if i != a)
    wait_until(30, 'instance %s to be standby for s1' % b, lambda: lab.log_lines(b, STANDBY_RE))
    log('instance %s is master of s1, %s standby' % (a, b))
    log('s1: %s' % ', '.join('%s %s' % kv for kv in sorted(lab.controller_roles('s1').items())))
    configure(net, topo)
    for inst in ha['instances']:
        ns = lab.instances[inst]['netns']
        wait_until(15, 'TAPs %s in %s' % (' '.join(ha['taps']), ns),
                   lambda: all('state' in run(['ip', '-n', ns, 'link', 'show', t], check=False) for t in ha['taps']))
        run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
        r = lab.router('r1' + inst, 'bird', netns=ns)
        r.start_bird(ha['r1_conf'], args=['-R'])
    rb = lab.router('rb', 'bird', node=net['rb'])
    rb.start_bird(topo.legacy[0]['conf'], BULK_ROUTES=bulk_routes(routes))
    r1a, r1b = lab.routers['r1' + a], lab.routers['r1' + b]

    def learnt(r):
        return int(r.sh('ip -4 -o route show root 64.0.0.0/2 | wc -l').strip() or 0)

    def in_sync(inst):
        m = lab.instance_metrics(inst)
        return (m.get('tapflow_fib_synced') == 1 and m.get('tapflow_fib_programming') == 0 and
                m.get('tapflow_fib_stale_flows', 0) == 0 and m.get('tapflow_fib_stale_groups', 0) == 0)

    t0 = time.monotonic()
    wait_until(60, 'r1 (%s) BGP Established with rb' % a,
               lambda: r1a.bgp_sessions().get(ha['peer']) == 'Established')
    wait_until(120, '%d routes in %s' % (routes, r1a.netns), lambda: learnt(r1a) >= routes)
    wait_until(120, 'tapflowd %s in sync' % a, lambda: in_sync(a))
    conv = time.monotonic() - t0
    # Reachable before the story (h2's first ping may wait for ARP on both sides).
    wait_until(15, '%s to reach %s (3 of 3 pings)' % (ha['src'], ha['dst_ip']),
               lambda: (lambda r: r[0] and r[0] == r[1])(lab.ping(net[ha['src']], ha['dst_ip'], count=3)),
               interval=0.5)
    log('converged in %.1f s: %d routes in %s, s1 in sync' % (conv, learnt(r1a), r1a.netns))

    # The story: a's server dies under pings.
    m0 = lab.instance_metrics(b)
    ping = net[ha['src']].popen(['ping', '-n', '-D', '-i', '0.01', '-W', '1', ha['dst_ip']],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    log('killing instance %s (tapflowd and its BIRD, SIGKILL) while %s pings %s every 10 ms' % (
        a, ha['src'], ha['dst_ip']))
    t_kill = time.time()
    lab.kill_instance(a)
    r1a.kill()
    wait_until(ha['lease_ttl'] + 15, 'instance %s to be master of s1' % b, lambda: lab.log_lines(b, MASTER_RE),
               interval=0.05)
    t_master = lab.log_time(lab.log_lines(b, MASTER_RE)[-1]) - t_kill
    roles = wait_until(10, 'OVS to list %s as master' % b,
                       lambda: (lambda r: r if r.get(b) == 'master' else None)(lab.controller_roles('s1')))
    wait_until(60, 'r1 (%s) BGP Established with rb' % b,
               lambda: r1b.bgp_sessions().get(ha['peer']) == 'Established', interval=0.1)
    t_bgp = time.time() - t_kill
    wait_until(120, '%d routes in %s' % (routes, r1b.netns), lambda: learnt(r1b) >= routes, interval=0.1)
    t_routes = time.time() - t_kill
    wait_until(120, 'tapflowd %s in sync, nothing stale' % b, lambda: in_sync(b), interval=0.1)
    t_sync = time.time() - t_kill
    time.sleep(1.0)
    ping.send_signal(signal.SIGINT)
    out = ping.communicate(timeout=10)[0]
    out = out.decode() if isinstance(out, bytes) else out
    sent, got = ping_stats(out)
    stamps = [float(x) for x in re.findall(r'^\[(\d+\.\d+)\] \d+ bytes from', out, re.M)]
    gap = max((y - x for x, y in zip(stamps, stamps[1:])), default=0.0)
    m1 = lab.instance_metrics(b)
    fm = int(m1.get('tapflow_fib_flow_mods_total', 0) - m0.get('tapflow_fib_flow_mods_total', 0))
    gm = int(m1.get('tapflow_fib_group_mods_total', 0) - m0.get('tapflow_fib_group_mods_total', 0))
    status = lab.stop_instance(b)

    print('\n'.join([
        '',
        '================ tapflow lab: %s ================' % topo.name,
        topo.title,
        topo.picture.rstrip(),
        '',
        'converged in %.1f s: %d routes learnt by r1 (instance %s), every one a flow in s1' % (conv, routes, a),
        '-- takeover: instance %s killed (tapflowd and its BIRD, SIGKILL)' % a,
        '   %s master of s1 after %.2f s (bound %.1f s: lease TTL %d s + 1 s); OVS: %s' % (
            b, t_master, ha['bound'], ha['lease_ttl'], ', '.join('%s %s' % kv for kv in sorted(roles.items()))),
        '   rb\'s BGP session with r1 Established again after %.1f s (graceful restart: rb kept r1\'s routes)' % t_bgp,
        '   %d routes in %s\'s kernel after %.1f s; %s in sync, stale entries swept after %.1f s' % (
            routes, b, t_routes, b, t_sync),
        '   FLOW_MODs / GROUP_MODs %s sent: %d / %d (the switch kept its %d+ flows)' % (b, fm, gm, routes),
        '   %s -> %s every 10 ms: %d sent, %d lost, longest gap between replies %.0f ms' % (
            ha['src'], ha['dst_ip'], sent, sent - got, gap * 1000),
        '   tapflowd %s exited %s on SIGTERM (resigned, lease revoked)' % (b, status),
    ]), flush=True)
    failures = []
    if sent - got:
        failures.append('%d of %d pings lost across the takeover' % (sent - got, sent))
    if t_master > ha['bound']:
        failures.append('%s became master %.2f s after the kill, over the bound %.1f s' % (b, t_master, ha['bound']))
    if status != 0:
        failures.append('tapflowd %s exited %s on SIGTERM' % (b, status))
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('topology', nargs='?', choices=sorted(TOPOLOGIES))
    ap.add_argument('--tapflowd', default=os.path.join(REPO, 'build', 'src', 'daemon', 'tapflowd'))
    ap.add_argument('--failover', choices=('link', 'silent', 'both'),
                    help='also break the link to a legacy router and time the failover (demo): link down, '
                         'a silent failure (dead timer), or both')
    ap.add_argument('--cli', action='store_true', help='stay in the Mininet CLI before tearing down')
    ap.add_argument('--keep', action='store_true', help='keep the run directory (logs, configs)')
    ap.add_argument('--timeout', type=int, default=60, help='seconds allowed for convergence')
    ap.add_argument('--list', action='store_true', help='list the topologies')
    ap.add_argument('--routes', type=int, default=None,
                    help='ha: /24s the legacy router announces (default: the topology\'s, 10000)')
    args = ap.parse_args()
    if args.list or not args.topology:
        for t in TOPOLOGIES.values():
            print('%-11s %s' % (t.name, t.title))
        return 0 if args.list else 2
    topo = TOPOLOGIES[args.topology]
    if args.failover and not topo.failover:
        print('topology %s has no backup path for --failover' % topo.name, file=sys.stderr)
        return 2

    # SIGTERM (timeout, CTest) and SIGHUP unwind like Ctrl-C so cleanup runs.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    t_start = time.monotonic()
    lab = Lab(args.tapflowd, keep=args.keep)
    ok = False
    try:
        lab.start()
        if topo.ha:
            failures = run_ha(lab, topo, args)
            if failures:
                raise LabFailure('\n  '.join(failures))
            ok = True
            print('-- RESULT: every check held', flush=True)
            return 0
        lab.start_tapflowd(topo.tapflowd)
        # A stuck Mininet step (it waits on its node shells) must fail, not hang.
        def on_alarm(_signum, _frame):
            raise LabFailure('Mininet did not build and start within 60 s')
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(60)
        net = build_net(lab, topo)
        lab.start_mininet(net)
        signal.alarm(0)
        lab.wait_switches_up([d for _, d in topo.switches])
        configure(net, topo)
        start_routers(lab, net, topo)
        log('waiting for OSPF/BGP to converge')
        conv = converge(lab, topo, args.timeout)
        log('converged in %.1f s' % conv)
        check_flows(lab, topo, ports=False)
        log('every learned route of the tapflow routers is a FIB flow')
        matrix = ping_matrix(lab, net, topo)
        check_flows(lab, topo, ports=True)
        check_host_flows(lab, topo)
        log('ping matrix done; the FIB flows lead out of the right ports')
        transit = transit_proof(lab, net, topo)
        summary(lab, net, topo, conv, matrix, transit)
        failures = []
        if matrix[2]:
            failures.append('ping matrix: ' + '; '.join(matrix[2]))
        if transit['replies'] != transit['pings']:
            failures.append('transit pings: %d of %d answered' % (transit['replies'], transit['pings']))
        if transit['fib'] < transit['packets']:
            failures.append('FIB flow counters grew by %d, less than the %d transit packets' % (
                transit['fib'], transit['packets']))
        # Beyond the idle chatter rate (BFD alone is 10/s per session of a
        # tapflow router), fewer PACKET_INs than a tenth of the pings.
        if transit['extra_packet_ins'] * 10 > transit['pings']:
            failures.append('tapflowd PACKET_INs grew by %d during %d transit pings (%.0f beyond the idle chatter '
                            'rate %.1f/s): traffic took the slow path' % (
                                transit['packet_ins'], transit['pings'], transit['extra_packet_ins'],
                                transit['chatter_rate']))
        if args.failover:
            tf = topo.failover
            for mode in (('link', 'silent') if args.failover == 'both' else (args.failover,)):
                fo = measure_failover(lab, net, topo, mode)
                print('-- failover, %s: %s%s moved to %s in %.2f s (flows %.2f s); %s -> %s interrupted for %.2f s '
                      '(bound %.0f s: %s); back on the primary path %.1f s after the repair' % (
                          fo['what'], 'BFD declared %s down after %.2f s (bound %.0f s), ' % (
                              tf['via_before'], fo['bfd'], tf['detect_bfd']) if fo['bfd'] is not None else '', ', '.join(fo['prefixes']), tf['via_after'], fo['routed'],
                          fo['flows'], tf['src'], tf['dst'], fo['outage'], fo['bound'], fo['why'], fo['back']),
                      flush=True)
                if fo['outage'] > fo['bound']:
                    failures.append('failover (%s): outage %.2f s exceeds the bound %.0f s (%s)' % (
                        mode, fo['outage'], fo['bound'], fo['why']))
                if fo['bfd'] is not None and fo['bfd'] >= tf['detect_bfd']:
                    failures.append('failover (%s): BFD took %.2f s to declare %s down, not under %.0f s' % (
                        mode, fo['bfd'], tf['via_before'], tf['detect_bfd']))
        if failures:
            raise LabFailure('\n  '.join(failures))
        ok = True
        print('-- RESULT: every check held (%d host pairs reachable, 0%% loss)' % matrix[1], flush=True)
        if args.cli:
            from mininet.cli import CLI
            print('Mininet CLI: try `h1 ping h2`, `sh ovs-ofctl -O OpenFlow13 dump-flows s1`, '
                  '`sh ip netns exec %sr1 birdc -s %s/routers/r1/bird.ctl show route`; exit to tear down'
                  % (lab.prefix, lab.dir), flush=True)
            CLI(net)
    except LabFailure as e:
        print('FAIL: %s' % e, file=sys.stderr, flush=True)
        lab.diagnostics()
    except KeyboardInterrupt as e:
        print('FAIL: interrupted (%s)' % e, file=sys.stderr, flush=True)
    except Exception:  # a bug of the lab: still diagnose and clean up
        traceback.print_exc()
        lab.diagnostics()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        lab.stop()
        status = getattr(lab, 'tapflowd_status', 0)
        if ok and status not in (0, None):
            print('FAIL: tapflowd exited %s on SIGTERM' % status, file=sys.stderr)
            ok = False
        log('torn down; %s in %.0f s' % ('PASS' if ok else 'FAIL', time.monotonic() - t_start))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
