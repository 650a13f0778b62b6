"""The lab's topologies, as data: switches routed by tapflowd, legacy routers
(BIRD or FRR in Mininet hosts), hosts, links with addresses, and what must
hold once the network has converged (adjacencies, sessions, routes, flows).
Their configs are in configs/lab/mininet/<topology>/ (and tapflowd*.yaml
there); the addressing plan is drawn in each topology's r1-bird.conf or
below.

Common plan (ospf, bgp, demo):
    h1 10.1.0.10 -- s1-eth1 [ s1 = tapflow router r1 ] s1-eth2 -- rb-eth0 10.0.12.2 [ rb BIRD ] rb-eth1 -- h2 10.2.0.10
                 10.1.0.1                              s1-eth3 -- rf-eth0 10.0.13.2 [ rf FRR  ] rf-eth1 -- h3 10.3.0.10
    r1's TAPs (namespace tfm<pid>-r1): eth1 10.1.0.1/24, eth2 10.0.12.1/24, eth3 10.0.13.1/24
    demo adds the backup link rb-eth2 10.0.23.2 -- rf-eth2 10.0.23.3 and the
    "customer" loopbacks 192.168.2.1 (rb) and 192.168.3.1 (rf), announced over eBGP.
"""

import os

from tapflow_lab import CONFIGS


def cfg(*parts):
    return os.path.join(CONFIGS, *parts)


def host(name, ip, gw):
    return dict(name=name, ip=ip, gw=gw)


# A link: (node A, interface A, address A or None, node B, interface B,
# address B or None). Switch interfaces are "<switch>-eth<port>": the port
# number is taken from the name (tapflowd's config names the ports so).
def link(a, ia, aa, b, ib, ab):
    return (a, ia, aa, b, ib, ab)


COMMON_HOSTS = [host('h1', '10.1.0.10/24', '10.1.0.1'),
                host('h2', '10.2.0.10/24', '10.2.0.1'),
                host('h3', '10.3.0.10/24', '10.3.0.1')]
COMMON_LINKS = [link('s1', 's1-eth1', None, 'h1', 'h1-eth0', None),
                link('s1', 's1-eth2', None, 'rb', 'rb-eth0', '10.0.12.2/24'),
                link('s1', 's1-eth3', None, 'rf', 'rf-eth0', '10.0.13.2/24'),
                link('rb', 'rb-eth1', '10.2.0.1/24', 'h2', 'h2-eth0', None),
                link('rf', 'rf-eth1', '10.3.0.1/24', 'h3', 'h3-eth0', None)]
R1 = dict(name='r1', switch='s1', dpid=1, taps=['eth1', 'eth2', 'eth3'])


class Topology:
    """One lab network and what must hold in it."""

    def __init__(self, name, title, picture, tapflowd, switches, tapflow_routers, legacy, hosts, links,
                 ospf=(), bgp=(), routes=(), transit=(), extra_targets=(), failover=None, bridges=(),
                 access_tags=None, host_flows=(), bfd=(), ha=None):
        self.name, self.title, self.picture = name, title, picture
        self.tapflowd = tapflowd
        self.switches = switches                  # [(name, dpid)]
        self.tapflow_routers = tapflow_routers    # [dict(name, switch, dpid, taps, kind, conf)]
        self.legacy = legacy                      # [dict(name, kind, conf, lo=[addr])]
        self.hosts = hosts
        self.links = links
        self.ospf = ospf                          # [(router, neighbour router id)]
        self.bgp = bgp                            # [(router, neighbour address)]
        self.bfd = bfd                            # [(router, peer address)] BFD sessions that must be Up
        self.routes = routes                      # [(router, prefix, via, dev)]
        self.transit = transit                    # [(src host, dst host)] crossing a switch's FIB
        self.extra_targets = extra_targets        # [(src host, label, ip)]
        self.failover = failover
        self.bridges = bridges                    # [(name, dpid)] plain L2 switches (OVS standalone)
        self.access_tags = access_tags or {}      # {bridge port: VLAN id} access ports of those
        self.host_flows = host_flows              # [(switch, host ip, out port, VLAN id pushed or 0)]
        self.ha = ha                              # cluster mode (lab.py's run_ha): its story's parameters


OSPF = Topology(
    'ospf', 'OSPF: tapflow router r1 between a BIRD and an FRR router',
    """
    h1 --- [ s1 = r1: tapflowd + BIRD ] --- rb (BIRD) --- h2
    10.1.0.10          |                  10.0.12.2      10.2.0.10
                       +------------------ rf (FRR)  --- h3
                                          10.0.13.2      10.3.0.10
    OSPF area 0: r1-rb, r1-rf point-to-point (hello 1 / dead 4, BFD 100 ms x 3); LANs as stubs.""",
    cfg('tapflowd.yaml'), [('s1', 1)],
    [dict(R1, kind='bird', conf=cfg('ospf', 'r1-bird.conf'))],
    [dict(name='rb', kind='bird', conf=cfg('ospf', 'rb-bird.conf')),
     dict(name='rf', kind='frr', conf=cfg('ospf', 'rf-frr'))],
    COMMON_HOSTS, COMMON_LINKS,
    ospf=[('r1', '10.255.0.2'), ('r1', '10.255.0.3'), ('rb', '10.255.0.1'), ('rf', '10.255.0.1')],
    bfd=[('r1', '10.0.12.2'), ('r1', '10.0.13.2'), ('rb', '10.0.12.1'), ('rf', '10.0.13.1')],
    routes=[('r1', '10.2.0.0/24', '10.0.12.2', 'eth2'), ('r1', '10.3.0.0/24', '10.0.13.2', 'eth3'),
            ('rb', '10.1.0.0/24', '10.0.12.1', None), ('rb', '10.3.0.0/24', '10.0.12.1', None),
            ('rf', '10.1.0.0/24', '10.0.13.1', None), ('rf', '10.2.0.0/24', '10.0.13.1', None)],
    transit=[('h2', 'h3'), ('h1', 'h2'), ('h1', 'h3')])

BGP = Topology(
    'bgp', 'BGP: tapflow router r1 (AS 65001) peering eBGP with BIRD (AS 65002) and FRR (AS 65003)',
    """
    h1 --- [ s1 = r1: tapflowd + BIRD, AS 65001 ] --- rb (BIRD, AS 65002) --- h2
    10.1.0.10          |                                                    10.2.0.10
                       +------------------------------ rf (FRR, AS 65003)  --- h3
                                                                            10.3.0.10
    eBGP r1-rb, r1-rf (keepalive 3 / hold 9, BFD 100 ms x 3); each announces its LAN, r1 passes
    on what it learns (rb's and rf's LANs reach each other through s1).""",
    cfg('tapflowd.yaml'), [('s1', 1)],
    [dict(R1, kind='bird', conf=cfg('bgp', 'r1-bird.conf'))],
    [dict(name='rb', kind='bird', conf=cfg('bgp', 'rb-bird.conf')),
     dict(name='rf', kind='frr', conf=cfg('bgp', 'rf-frr'))],
    COMMON_HOSTS, COMMON_LINKS,
    bgp=[('r1', '10.0.12.2'), ('r1', '10.0.13.2'), ('rb', '10.0.12.1'), ('rf', '10.0.13.1')],
    bfd=[('r1', '10.0.12.2'), ('r1', '10.0.13.2'), ('rb', '10.0.12.1'), ('rf', '10.0.13.1')],
    routes=[('r1', '10.2.0.0/24', '10.0.12.2', 'eth2'), ('r1', '10.3.0.0/24', '10.0.13.2', 'eth3'),
            ('rb', '10.1.0.0/24', '10.0.12.1', None), ('rb', '10.3.0.0/24', '10.0.12.1', None),
            ('rf', '10.1.0.0/24', '10.0.13.1', None), ('rf', '10.2.0.0/24', '10.0.13.1', None)],
    transit=[('h2', 'h3'), ('h1', 'h2'), ('h1', 'h3')])

DEMO = Topology(
    'demo', 'Demo: OSPF + eBGP, tapflow router r1 with a BIRD and an FRR router and a backup path',
    """
                 h1 10.1.0.10
                      |
          [ s1 = r1: tapflowd + BIRD ]  AS 65001
         s1-eth2 /            \\ s1-eth3
       10.0.12.2 /              \\ 10.0.13.2
       rb (BIRD) ---------------- rf (FRR)      backup link 10.0.23.0/24 (OSPF cost 100)
       AS 65002                   AS 65003
           |                          |
       h2 10.2.0.10               h3 10.3.0.10
    OSPF area 0 on every router link carries the LANs; eBGP between every pair
    carries the customer prefixes 192.168.2.0/24 (rb) and 192.168.3.0/24 (rf).
    BFD (100 ms x 3) on every router link, for OSPF and BGP.""",
    cfg('tapflowd.yaml'), [('s1', 1)],
    [dict(R1, kind='bird', conf=cfg('demo', 'r1-bird.conf'))],
    [dict(name='rb', kind='bird', conf=cfg('demo', 'rb-bird.conf'), lo=['192.168.2.1/32']),
     dict(name='rf', kind='frr', conf=cfg('demo', 'rf-frr'), lo=['192.168.3.1/32'])],
    COMMON_HOSTS,
    COMMON_LINKS + [link('rb', 'rb-eth2', '10.0.23.2/24', 'rf', 'rf-eth2', '10.0.23.3/24')],
    ospf=[('r1', '10.255.0.2'), ('r1', '10.255.0.3'), ('rb', '10.255.0.1'), ('rb', '10.255.0.3'),
          ('rf', '10.255.0.1'), ('rf', '10.255.0.2')],
    bgp=[('r1', '10.0.12.2'), ('r1', '10.0.13.2'), ('rb', '10.0.12.1'), ('rb', '10.0.23.3'),
         ('rf', '10.0.13.1'), ('rf', '10.0.23.2')],
    bfd=[('r1', '10.0.12.2'), ('r1', '10.0.13.2'), ('rb', '10.0.12.1'), ('rb', '10.0.23.3'),
         ('rf', '10.0.13.1'), ('rf', '10.0.23.2')],
    routes=[('r1', '10.2.0.0/24', '10.0.12.2', 'eth2'), ('r1', '10.3.0.0/24', '10.0.13.2', 'eth3'),
            ('r1', '192.168.2.0/24', '10.0.12.2', 'eth2'), ('r1', '192.168.3.0/24', '10.0.13.2', 'eth3'),
            ('rb', '10.1.0.0/24', '10.0.12.1', None), ('rb', '10.3.0.0/24', '10.0.12.1', None),
            ('rb', '172.16.1.0/24', '10.0.12.1', None),
            ('rf', '10.1.0.0/24', '10.0.13.1', None), ('rf', '10.2.0.0/24', '10.0.13.1', None),
            ('rf', '172.16.1.0/24', '10.0.13.1', None)],
    transit=[('h2', 'h3'), ('h1', 'h2'), ('h1', 'h3')],
    extra_targets=[('h1', 'rb customer', '192.168.2.1'), ('h1', 'rf customer', '192.168.3.1')],
    failover=dict(link=('s1', 'rb'), src='h1', dst='h2', dst_ip='10.2.0.10', router='r1',
                  prefixes=['10.2.0.0/24', '192.168.2.0/24'], via_before='10.0.12.2', dev_before='eth2',
                  via_after='10.0.13.2', dev_after='eth3', customer='192.168.2.1',
                  # Link down: carrier loss is seen at once, then BIRD's SPF
                  # tick (1 s) + FIB to flows + ping's 0.05 s interval; 10 s
                  # leaves room for a loaded machine.
                  bound=10.0,
                  # Silent failure (the link stays up): BFD declares rb down
                  # after 3 x 100 ms, asserted under 1 s (detect_bfd). The
                  # OSPF routes then wait for BIRD's next SPF tick on r1 and
                  # rb (every 1 s; BIRD 2 has no shorter tick), so traffic
                  # moves 0.35-1.4 s after the failure: bound 2 s. (Without
                  # BFD: OSPF's dead interval, 4 s, under `bound`.)
                  detect_bfd=1.0, bound_bfd=2.0))

TWO_SWITCH = Topology(
    'two-switch', 'Two switches routed by one tapflowd: r1 (BIRD) and r2 (FRR) in their own namespaces',
    """
    h1 -- [ s1 = r1: BIRD ] ---- 10.0.100.0/24 ---- [ s2 = r2: FRR ] -- h4
    10.1.0.10     |                                       |        10.4.0.10
              rb (BIRD) -- h2 10.2.0.10             rf (FRR) -- h3 10.3.0.10
    One tapflowd, two datapaths (dpid 1 and 2), two namespaces (r1, r2).
    OSPF area 0 everywhere: r1-r2 over the s1-s2 link, r1-rb, r2-rf; BFD 100 ms x 3 on each.""",
    cfg('tapflowd-two-switch.yaml'), [('s1', 1), ('s2', 2)],
    [dict(name='r1', switch='s1', dpid=1, taps=['eth1', 'eth2', 'eth3'], kind='bird',
          conf=cfg('two-switch', 'r1-bird.conf')),
     dict(name='r2', switch='s2', dpid=2, taps=['eth1', 'eth2', 'eth3'], kind='frr',
          conf=cfg('two-switch', 'r2-frr'))],
    # rb and rf only know their own interfaces: the OSPF topology's configs.
    [dict(name='rb', kind='bird', conf=cfg('ospf', 'rb-bird.conf')),
     dict(name='rf', kind='frr', conf=cfg('ospf', 'rf-frr'))],
    COMMON_HOSTS + [host('h4', '10.4.0.10/24', '10.4.0.1')],
    [link('s1', 's1-eth1', None, 'h1', 'h1-eth0', None),
     link('s1', 's1-eth2', None, 's2', 's2-eth2', None),
     link('s1', 's1-eth3', None, 'rb', 'rb-eth0', '10.0.12.2/24'),
     link('s2', 's2-eth1', None, 'h4', 'h4-eth0', None),
     link('s2', 's2-eth3', None, 'rf', 'rf-eth0', '10.0.13.2/24'),
     link('rb', 'rb-eth1', '10.2.0.1/24', 'h2', 'h2-eth0', None),
     link('rf', 'rf-eth1', '10.3.0.1/24', 'h3', 'h3-eth0', None)],
    ospf=[('r1', '10.255.0.4'), ('r1', '10.255.0.2'), ('r2', '10.255.0.1'), ('r2', '10.255.0.3'),
          ('rb', '10.255.0.1'), ('rf', '10.255.0.4')],
    bfd=[('r1', '10.0.100.2'), ('r1', '10.0.12.2'), ('r2', '10.0.100.1'), ('r2', '10.0.13.2'),
         ('rb', '10.0.12.1'), ('rf', '10.0.13.1')],
    routes=[('r1', '10.2.0.0/24', '10.0.12.2', 'eth3'), ('r1', '10.4.0.0/24', '10.0.100.2', 'eth2'),
            ('r1', '10.3.0.0/24', '10.0.100.2', 'eth2'),
            ('r2', '10.1.0.0/24', '10.0.100.1', 'eth2'), ('r2', '10.2.0.0/24', '10.0.100.1', 'eth2'),
            ('r2', '10.3.0.0/24', '10.0.13.2', 'eth3'),
            ('rb', '10.4.0.0/24', '10.0.12.1', None), ('rf', '10.1.0.0/24', '10.0.13.1', None)],
    transit=[('h2', 'h3'), ('h1', 'h4'), ('h1', 'h3')])

VLAN_STICK = Topology(
    'vlan-stick', 'Router on a stick: VLANs 10 and 20 tagged on one port of s1, routed in the switch (issue 7 VLAN mode)',
    """
    h10 10.10.0.10 -- tag 10 [ sw1: L2 switch ] ==== trunk (10, 20 tagged) ==== s1-eth1 [ s1 = r1: BIRD ] s1-eth2 -- rb -- h2
    h20 10.20.0.10 -- tag 20 [ OVS standalone ]                    r1: TAPs vlan10 10.10.0.1, vlan20 10.20.0.1, eth2
    This kernel has no 802.1Q: sw1 (a second OVS bridge) does the tagging the
    "subinterfaces" side would do. OSPF r1-rb (BFD 100 ms x 3); h10 <-> h20 is routed by s1.""",
    cfg('tapflowd-vlan-stick.yaml'), [('s1', 1)],
    [dict(name='r1', switch='s1', dpid=1, taps=['vlan10', 'vlan20', 'eth2'], kind='bird',
          conf=cfg('vlan-stick', 'r1-bird.conf'))],
    [dict(name='rb', kind='bird', conf=cfg('ospf', 'rb-bird.conf'))],
    [host('h10', '10.10.0.10/24', '10.10.0.1'), host('h20', '10.20.0.10/24', '10.20.0.1'),
     host('h2', '10.2.0.10/24', '10.2.0.1')],
    [link('sw1', 'sw1-eth1', None, 's1', 's1-eth1', None),
     link('sw1', 'sw1-eth2', None, 'h10', 'h10-eth0', None),
     link('sw1', 'sw1-eth3', None, 'h20', 'h20-eth0', None),
     link('s1', 's1-eth2', None, 'rb', 'rb-eth0', '10.0.12.2/24'),
     link('rb', 'rb-eth1', '10.2.0.1/24', 'h2', 'h2-eth0', None)],
    ospf=[('r1', '10.255.0.2'), ('rb', '10.255.0.1')],
    bfd=[('r1', '10.0.12.2'), ('rb', '10.0.12.1')],
    routes=[('r1', '10.2.0.0/24', '10.0.12.2', 'eth2'),
            ('rb', '10.10.0.0/24', '10.0.12.1', None), ('rb', '10.20.0.0/24', '10.0.12.1', None)],
    transit=[('h10', 'h20'), ('h10', 'h2'), ('h20', 'h2')],
    bridges=[('sw1', 0x10)], access_tags={'sw1-eth2': 10, 'sw1-eth3': 20},
    # Routed to h10/h20: out of the trunk (port 1) with their VLAN's tag pushed.
    host_flows=[('s1', '10.10.0.10', 1, 10), ('s1', '10.20.0.10', 1, 20)])

HA = Topology(
    'ha', 'High availability: two tapflowd instances (etcd election) for s1, the master killed under pings',
    """
    h1 --- [ s1 = r1 ] --- rb (BIRD, AS 65002) --- h2
    10.1.0.10   |  |       10.0.12.2                10.2.0.10
                |  +-- tapflowd b: namespace rb, its own BIRD as r1 (AS 65001)
                +----- tapflowd a: namespace ra, its own BIRD as r1 (AS 65001)
    etcd: 3 members on the lab's loopback; one election for s1 (lease TTL 2 s): its winner
    masters s1 and its BIRD peers; the other stands by (TAPs without carrier, BIRD waiting).
    eBGP r1-rb with graceful restart; rb announces h2's LAN and N bulk /24s (--routes).
    Story: h1 pings h2 every 10 ms, the master's server dies (tapflowd, BIRD), the standby takes over.""",
    cfg('tapflowd-ha.yaml'), [('s1', 1)],
    [],  # r1 runs once per instance: lab.py's run_ha starts it in each instance's namespace
    [dict(name='rb', kind='bird', conf=cfg('ha', 'rb-bird.conf'), lo=['100.0.0.1/32'])],
    [host('h1', '10.1.0.10/24', '10.1.0.1'), host('h2', '10.2.0.10/24', '10.2.0.1')],
    [link('s1', 's1-eth1', None, 'h1', 'h1-eth0', None),
     link('s1', 's1-eth2', None, 'rb', 'rb-eth0', '10.0.12.2/24'),
     link('rb', 'rb-eth1', '10.2.0.1/24', 'h2', 'h2-eth0', None)],
    ha=dict(instances=('a', 'b'), r1_conf=cfg('ha', 'r1-bird.conf'), taps=['eth1', 'eth2'], lease_ttl=2,
            peer='10.0.12.2', r1_ip='10.0.12.1', src='h1', dst_ip='10.2.0.10', routes=10000,
            # Kill -> the standby confirmed master: the lease TTL (the dead
            # master's lease must run out) + 1 s for etcd's expiry check,
            # the election and the switch's answer.
            bound=3.0))

TOPOLOGIES = {t.name: t for t in (OSPF, BGP, DEMO, TWO_SWITCH, VLAN_STICK, HA)}
