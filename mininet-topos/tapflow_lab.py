"""tapflow's Mininet lab: Open vSwitch switches routed by tapflowd, legacy
BIRD and FRR routers in Mininet hosts, and the checks the demo and the
end-to-end tests make (adjacencies, routes, flows, pings, counters).

Isolation: everything runs in a private network namespace "tfm<PID>-lab"
that this process enters (setns, network only) before it starts anything:
its own ovsdb-server and ovs-vswitchd (OVS_RUNDIR/OVS_DBDIR point Mininet's
ovs-vsctl at them), tapflowd (the switches reach it on that namespace's
loopback), Mininet's switch ports and the hosts' namespaces made from there.
tapflowd makes one namespace per routed switch, "tfm<PID>-<router>". Nothing
in the root namespace or a system OVS is touched. Cleanup is by PID and by
that prefix, also after a crash: the next run removes what a dead PID left.

Used by lab.py (the command line) and topos.py (the topologies).
"""

import contextlib
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, 'configs', 'lab', 'mininet')
FRR_BIN = '/usr/lib/frr'
OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
PREFIX_RE = re.compile(r'^tfm(\d+)-')

# FIB cookie classes of tapflowd's routing (src/routing): route, connected
# host, miss. tapd's own flows (punts to the router namespace) are 0x7461...
COOKIE_ROUTE = '0x726f01'
COOKIE_HOST = '0x726f02'
COOKIE_MISS = '0x726f03'
# Flows the lab itself adds (the silent-failure drop), so it deletes only its own.
LAB_COOKIE = '0x1ab0000000000000'

T0 = time.monotonic()


class LabFailure(Exception):
    """A check of the lab did not hold (the run fails with this message)."""


def log(msg):
    print('[%6.1fs] %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def run(argv, check=True, timeout=30, **kw):
    """Runs a command in this process's namespace; its output as text."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise LabFailure('`%s` exited %d: %s' % (' '.join(argv), p.returncode, p.stdout.strip()))
    return p.stdout


def wait_until(timeout, what, fn, interval=0.2):
    """Polls fn() until it returns something true; its value, or LabFailure."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise LabFailure('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
        return state != 'Z'
    except (OSError, IndexError):
        return False


def kill_pid(pid, grace=5.0):
    """SIGTERM, then SIGKILL after grace seconds; only the given PID."""
    if not alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        log('pid %d ignored SIGTERM for %.0fs: SIGKILL' % (pid, grace))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def render(template, out, **subs):
    """Copies a configs/ template with every @KEY@ filled in; fails on leftovers."""
    with open(template) as f:
        text = f.read()
    for k, v in subs.items():
        text = text.replace('@%s@' % k, str(v))
    left = sorted(set(re.findall(r'@[A-Z][A-Z0-9_]*@', text)))
    if left:
        raise LabFailure('%s: placeholders left unfilled: %s' % (template, ' '.join(left)))
    with open(out, 'w') as f:
        f.write(text)
    return out


def setns_net(path):
    """Moves this (single-threaded) process into the network namespace at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            err = ctypes.get_errno()
            raise OSError(err, 'setns(%s): %s' % (path, os.strerror(err)))
    finally:
        os.close(fd)


def reap_stale():
    """Namespaces, run dirs and FRR instance dirs of lab runs whose PID is gone
    (killed with SIGKILL): only names this library makes are matched."""
    out = run(['ip', 'netns', 'list'], check=False)
    for line in out.splitlines():
        ns = line.split()[0] if line.split() else ''
        m = PREFIX_RE.match(ns)
        if not m or alive(int(m.group(1))):
            continue
        log('removing stale namespace %s (pid %s is gone)' % (ns, m.group(1)))
        for p in run(['ip', 'netns', 'pids', ns], check=False).split():
            if p.isdigit():
                kill_pid(int(p), 2)
        run(['ip', 'netns', 'del', ns], check=False)
    for d in glob.glob('/etc/frr/tfm*-*') + glob.glob('/var/run/frr/tfm*-*') + \
            glob.glob(os.path.join(tempfile.gettempdir(), 'tapflow-lab.*')):
        m = re.search(r'(?:tfm|tapflow-lab\.)(\d+)', os.path.basename(d))
        if m and not alive(int(m.group(1))) and not os.path.exists(os.path.join(d, '.keep')):
            shutil.rmtree(d, ignore_errors=True)


def ping_stats(output):
    """(transmitted, received) from ping's summary line."""
    m = re.search(r'(\d+) packets transmitted, (\d+) (?:packets )?received', output)
    if not m:
        return (0, 0)
    return (int(m.group(1)), int(m.group(2)))


class Router:
    """A routing daemon set (BIRD, or FRR's daemons) of one router, run either
    in a Mininet node or in a named namespace (a tapflow router's)."""

    def __init__(self, lab, name, kind, node=None, netns=None):
        self.lab, self.name, self.kind, self.node, self.netns = lab, name, kind, node, netns
        self.dir = os.path.join(lab.dir, 'routers', name)
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []  # (daemon, Popen)
        self.frr_instance = lab.prefix + name

    def _popen(self, argv, logname):
        out = open(os.path.join(self.dir, logname), 'ab')
        kw = dict(stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if self.node is not None:
            p = self.node.popen(argv, **kw)
        else:
            p = subprocess.Popen(['ip', 'netns', 'exec', self.netns] + argv, start_new_session=True, **kw)
        out.close()
        return p

    def where(self):
        return 'Mininet host %s' % self.node.name if self.node is not None else 'namespace %s' % self.netns

    def start_bird(self, template, args=(), **subs):
        """BIRD with the template rendered (RUN_DIR and subs filled in) and
        any further options (args, e.g. ['-R'] for graceful restart recovery)."""
        conf = render(template, os.path.join(self.dir, 'bird.conf'), RUN_DIR=self.dir, **subs)
        out = run(['bird', '-p', '-c', conf], check=False)
        if out.strip():
            raise LabFailure('BIRD config %s is invalid: %s' % (template, out.strip()))
        self.sock = os.path.join(self.dir, 'bird.ctl')
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        p = self._popen(['bird', '-f'] + list(args) + ['-c', conf, '-s', self.sock,
                                                     '-P', os.path.join(self.dir, 'bird.pid')], 'bird.out')
        self.procs.append(('bird', p))
        self.lab.logs['%s bird' % self.name] = os.path.join(self.dir, 'bird.log')
        wait_until(10, 'BIRD of %s to answer' % self.name,
                   lambda: 'Daemon is up' in self.birdc('show status', check=False))
        log('%s: BIRD pid %d in %s (%s)' % (self.name, p.pid, self.where(), os.path.relpath(template, REPO)))

    def start_frr(self, template_dir):
        etc = '/etc/frr/' + self.frr_instance
        rundir = '/var/run/frr/' + self.frr_instance
        for d in (etc, rundir):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            self.lab.cleanup_dirs.append(d)
        # bfdd only where the config asks for BFD (a bfdd.conf), before the
        # daemons that register sessions with it.
        daemons = ['zebra'] + [d for d in ('staticd', 'bfdd', 'ospfd', 'bgpd')
                               if os.path.exists(os.path.join(template_dir, d + '.conf'))]
        for d in daemons:
            render(os.path.join(template_dir, d + '.conf'), os.path.join(etc, d + '.conf'), RUN_DIR=self.dir)
        open(os.path.join(etc, 'vtysh.conf'), 'w').close()
        run(['chown', '-R', 'frr:frr', etc, rundir])
        for d in daemons:
            # Foreground (no -d): the Popen is the daemon, stopped by its PID.
            # -P 0: no vty TCP port; vtysh -N uses the sockets in rundir.
            p = self._popen([os.path.join(FRR_BIN, d), '-N', self.frr_instance, '-f', os.path.join(etc, d + '.conf'),
                             '-i', os.path.join(rundir, d + '.pid'), '-P', '0',
                             '--log', 'file:%s/%s.log' % (self.dir, d)], d + '.out')
            self.procs.append((d, p))
            self.lab.logs['%s %s' % (self.name, d)] = os.path.join(self.dir, d + '.log')
            wait_until(10, 'FRR %s of %s' % (d, self.name),
                       lambda: os.path.exists(os.path.join(rundir, d + '.vty')) or p.poll() is not None)
            if p.poll() is not None:
                raise LabFailure('FRR %s of %s exited %s: %s' % (d, self.name, p.returncode,
                                                                  self.lab.tail(os.path.join(self.dir, d + '.out'))))
            if d == 'zebra':
                wait_until(10, 'zebra API socket of %s' % self.name,
                           lambda: os.path.exists(os.path.join(rundir, 'zserv.api')))
        log('%s: FRR %s in %s (-N %s, %s)' % (self.name, ' '.join('%s:%d' % (d, p.pid) for d, p in self.procs),
                                              self.where(), self.frr_instance, os.path.relpath(template_dir, REPO)))

    def stop(self):
        for _, p in reversed(self.procs):
            kill_pid(p.pid, 5)
            with contextlib.suppress(Exception):
                p.wait(timeout=1)
        self.procs = []

    def kill(self):
        """SIGKILL to every daemon of the router (its server died)."""
        for _, p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        for _, p in self.procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=5)
        self.procs = []

    def alive(self):
        return bool(self.procs) and all(p.poll() is None for _, p in self.procs)

    def birdc(self, command, check=True):
        return run(['birdc', '-s', self.sock] + command.split(), check=check, timeout=10)

    def vtysh(self, *commands, check=True):
        argv = ['vtysh', '-N', self.frr_instance]
        for c in commands:
            argv += ['-c', c]
        return run(argv, check=check, timeout=10)

    def sh(self, command):
        """A shell command in the router's namespace."""
        if self.node is not None:
            return self.node.cmd(command)
        return run(['ip', 'netns', 'exec', self.netns, 'sh', '-c', command], check=False)

    # -- state

    def ospf_neighbors(self):
        """{router id: state} of the OSPF neighbours, e.g. 'Full/PtP'."""
        if self.kind == 'bird':
            text = self.birdc('show ospf neighbors', check=False)
        else:
            text = self.vtysh('show ip ospf neighbor', check=False)
        found = {}
        for line in text.splitlines():
            f = line.split()
            if len(f) >= 3 and re.match(r'^\d+\.\d+\.\d+\.\d+$', f[0]) and '/' in f[2]:
                found[f[0]] = f[2]
        return found

    def bgp_sessions(self):
        """{neighbour address: state} of the BGP sessions."""
        found = {}
        if self.kind == 'bird':
            text = self.birdc('show protocols all', check=False)
            state = neighbor = None
            for line in text.splitlines():
                if line and not line[0].isspace():
                    state = neighbor = None
                m = re.match(r'\s+BGP state:\s+(\S+)', line)
                if m:
                    state = m.group(1)
                m = re.match(r'\s+Neighbor address:\s+(\S+)', line)
                if m:
                    neighbor = m.group(1)
                if state and neighbor:
                    found[neighbor] = state
                    state = neighbor = None
        else:
            try:
                data = json.loads(self.vtysh('show bgp summary json', check=False) or '{}')
            except json.JSONDecodeError:
                data = {}
            for ip, peer in data.get('ipv4Unicast', {}).get('peers', {}).items():
                found[ip] = peer.get('state', '?')
        return found

    def bfd_sessions(self, detail=False):
        """{peer address: state} of the BFD sessions, e.g. 'Up' (BIRD's
        `show bfd sessions`, FRR's `show bfd peers json`); with detail, the
        state followed by interface, interval and detection time."""
        found = {}
        if self.kind == 'bird':
            # IP address  Interface  State  Since  Interval  Timeout
            for line in self.birdc('show bfd sessions', check=False).splitlines():
                f = line.split()
                if len(f) >= 5 and re.match(r'^\d+\.\d+\.\d+\.\d+$', f[0]):
                    found[f[0]] = f[2] if not detail else '%s (%s, tx %s s, detect %s s)' % (
                        f[2], f[1], f[-2], f[-1])
        else:
            try:
                data = json.loads(self.vtysh('show bfd peers json', check=False) or '[]')
            except json.JSONDecodeError:
                data = []
            for peer in data if isinstance(data, list) else []:
                if 'peer' not in peer:
                    continue
                st = peer.get('status', '?').capitalize()
                # Detection time: the slower of our rx and their tx, times their multiplier.
                tx = max(peer.get('transmit-interval', 0), peer.get('remote-receive-interval', 0))
                rx = max(peer.get('receive-interval', 0), peer.get('remote-transmit-interval', 0))
                detect = rx * peer.get('remote-detect-multiplier', 0)
                found[peer['peer']] = st if not detail else '%s (%s, tx %.3f s, detect %.3f s)' % (
                    st, peer.get('interface', '-'), tx / 1000.0, detect / 1000.0)
        return found

    def route(self, prefix):
        """The kernel's route for exactly prefix in the router's namespace."""
        return self.sh('ip -4 route show exact %s' % prefix).strip()

    def routes(self):
        """Routes the routing daemon installed (not the kernel's connected ones)."""
        text = self.sh('ip -o -4 route show').replace('\\\t', ' ')
        return [' '.join(l.split()) for l in text.splitlines() if re.search(r'proto (bird|ospf|bgp|static)', l)]


class Lab:
    """One lab run: the private namespace, OVS, tapflowd, Mininet and the
    routers; stop() undoes all of it (also after a failure)."""

    def __init__(self, tapflowd, keep=False):
        self.tapflowd = os.path.abspath(tapflowd)
        if not os.access(self.tapflowd, os.X_OK):
            raise LabFailure('tapflowd not found at %s (build it: scripts/build.sh)' % self.tapflowd)
        self.keep = keep
        self.pid = os.getpid()
        self.prefix = 'tfm%d-' % self.pid
        self.ns = self.prefix + 'lab'
        self.procs = {}          # name -> Popen (our children)
        self.logs = {}           # name -> log file, for failure diagnostics
        self.routers = {}        # name -> Router
        self.cleanup_dirs = []
        self.namespaces = []
        self.net = None
        self.switch_protocols = {}
        self.dir = None
        self.instances = {}      # cluster mode (topology ha): id -> Instance
        self.etcd_ports = []     # [(client port, peer port)] of the etcd members

    # -- setup

    def start(self):
        if os.geteuid() != 0:
            raise LabFailure('the lab needs root (namespaces, veth pairs, OVS)')
        for prog in ('ip', 'ethtool', 'ping', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl',
                     'ovs-appctl', 'ovsdb-tool', 'mnexec', 'bird', 'birdc', 'vtysh'):
            if not shutil.which(prog):
                raise LabFailure('%s not found: run scripts/setup.sh (openvswitch-switch mininet bird2 frr '
                                 'ethtool iputils-ping)' % prog)
        reap_stale()
        self.dir = tempfile.mkdtemp(prefix='tapflow-lab.%d.' % self.pid)
        log('lab: pid %d, namespaces %s*, files in %s' % (self.pid, self.prefix, self.dir))
        run(['ip', 'netns', 'add', self.ns])
        self.namespaces.append(self.ns)
        setns_net('/run/netns/' + self.ns)
        run(['ip', 'link', 'set', 'lo', 'up'])
        self._start_ovs()

    def _start_ovs(self):
        d = os.path.join(self.dir, 'ovs')
        os.makedirs(d)
        # Every OVS program this process and its children run (Mininet's
        # ovs-vsctl, ovs-ofctl s1 ...) talks to this private instance.
        for k in ('OVS_RUNDIR', 'OVS_DBDIR', 'OVS_LOGDIR', 'OVS_SYSCONFDIR'):
            os.environ[k] = d
        self.ovs_dir = d
        run(['ovsdb-tool', 'create', os.path.join(d, 'conf.db'), OVS_SCHEMA])
        self._spawn('ovsdb-server', ['ovsdb-server', os.path.join(d, 'conf.db'), '--remote=punix:%s/db.sock' % d,
                                     '--pidfile=%s/ovsdb-server.pid' % d, '--unixctl=%s/ovsdb-server.ctl' % d,
                                     '--log-file=%s/ovsdb-server.log' % d, '--no-chdir'])
        wait_until(10, 'ovsdb-server', lambda: os.path.exists(os.path.join(d, 'db.sock')))
        run(['ovs-vsctl', '--no-wait', 'init'])
        self._spawn('ovs-vswitchd', ['ovs-vswitchd', 'unix:%s/db.sock' % d, '--pidfile=%s/ovs-vswitchd.pid' % d,
                                     '--unixctl=%s/ovs-vswitchd.ctl' % d, '--log-file=%s/ovs-vswitchd.log' % d,
                                     '--no-chdir'])
        self.logs['ovs-vswitchd'] = os.path.join(d, 'ovs-vswitchd.log')
        wait_until(10, 'ovs-vswitchd', lambda: os.path.exists(os.path.join(d, 'ovs-vswitchd.ctl')) or
                   self.procs['ovs-vswitchd'].poll() is not None)
        if self.procs['ovs-vswitchd'].poll() is not None:
            raise LabFailure('ovs-vswitchd exited: %s' % self.tail(os.path.join(self.dir, 'ovs-vswitchd.out')))
        version = run(['ovs-vswitchd', '--version']).split()[-1]
        log('private Open vSwitch %s: ovsdb-server pid %d, ovs-vswitchd pid %d' % (
            version, self.procs['ovsdb-server'].pid, self.procs['ovs-vswitchd'].pid))

    def _spawn(self, name, argv):
        out = open(os.path.join(self.dir, name + '.out'), 'ab')
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        out.close()
        self.procs[name] = p
        return p

    def free_port(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            return s.getsockname()[1]

    def start_tapflowd(self, template):
        self.port = self.free_port()
        self.metrics_port = self.free_port()
        while self.metrics_port == self.port:
            self.metrics_port = self.free_port()
        conf = render(template, os.path.join(self.dir, 'tapflowd.yaml'), LISTEN_PORT=self.port,
                      METRICS_PORT=self.metrics_port, NETNS_PREFIX=self.prefix)
        with open(conf) as f:
            self.tapflow_netns = re.findall(r'netns:\s*"([^"]+)"', f.read())
        self.namespaces += self.tapflow_netns
        self.tapflowd_log = os.path.join(self.dir, 'tapflowd.log')
        self.logs['tapflowd'] = self.tapflowd_log
        out = open(self.tapflowd_log, 'ab')
        p = subprocess.Popen([self.tapflowd, '-c', conf], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs['tapflowd'] = p

        def listening():
            if p.poll() is not None:
                raise LabFailure('tapflowd exited %s: %s' % (p.returncode, self.tail(self.tapflowd_log)))
            with socket.socket() as s:
                return s.connect_ex(('127.0.0.1', self.port)) == 0
        wait_until(10, 'tapflowd to listen on 127.0.0.1:%d' % self.port, listening)
        # With persist_taps the router app starts (or finds) a detached
        # tapflow-fdstore and logs "fd store: pid N at NAME": ended by PID at stop.
        with open(self.tapflowd_log, errors='replace') as f:
            m = re.findall(r'fd store: pid (\d+) at ', f.read())
        if m and int(m[-1]) > 0:
            self.fdstore_pid = int(m[-1])
        log('tapflowd pid %d listening on 127.0.0.1:%d, metrics :%d (%s)' % (
            p.pid, self.port, self.metrics_port, os.path.relpath(template, REPO)))

    # -- cluster mode (issue 16): etcd and several tapflowd instances

    def start_etcd(self, members=3, heartbeat_ms=100, election_ms=500):
        """etcd members on this namespace's loopback, each with its data dir
        in the run dir; returns once all of them report healthy. Each member's
        client port listens on 127.0.0.1 and on 127.0.N.1 for instance N (so
        that one instance can be cut off from etcd alone). Raft timers: a
        killed leader is replaced in ~0.5-1 s, inside a 2 s lease."""
        for prog in ('etcd', 'etcdctl'):
            if not shutil.which(prog):
                raise LabFailure('%s not found: run scripts/setup.sh (etcd-server etcd-client)' % prog)
        used = set()
        for _ in range(members):
            pair = []
            while len(pair) < 2:
                p = self.free_port()
                if p not in used:
                    used.add(p)
                    pair.append(p)
            self.etcd_ports.append(tuple(pair))
        cluster = ','.join('m%d=http://127.0.0.1:%d' % (i + 1, peer) for i, (_, peer) in enumerate(self.etcd_ports))
        for i, (client, peer) in enumerate(self.etcd_ports):
            name = 'm%d' % (i + 1)
            urls = ','.join('http://%s:%d' % (a, client) for a in ('127.0.0.1', '127.0.1.1', '127.0.2.1'))
            self._spawn('etcd-' + name, [
                'etcd', '--name', name, '--data-dir', os.path.join(self.dir, 'etcd', name),
                '--listen-client-urls', urls, '--advertise-client-urls', 'http://127.0.0.1:%d' % client,
                '--listen-peer-urls', 'http://127.0.0.1:%d' % peer,
                '--initial-advertise-peer-urls', 'http://127.0.0.1:%d' % peer,
                '--initial-cluster', cluster, '--initial-cluster-state', 'new',
                '--initial-cluster-token', self.prefix + 'etcd',
                '--heartbeat-interval', str(heartbeat_ms), '--election-timeout', str(election_ms), '--pre-vote'])
            self.logs['etcd-' + name] = os.path.join(self.dir, 'etcd-%s.out' % name)
        wait_until(30, 'etcd: %d members healthy' % members,
                   lambda: self.etcdctl('endpoint', 'health').count('is healthy') == members)
        log('etcd: %d members, client ports %s (heartbeat %d ms, election timeout %d ms)' % (
            members, ' '.join(str(c) for c, _ in self.etcd_ports), heartbeat_ms, election_ms))

    def etcd_endpoints(self, addr='127.0.0.1'):
        return ['http://%s:%d' % (addr, c) for c, _ in self.etcd_ports]

    def etcdctl(self, *args):
        env = dict(os.environ, ETCDCTL_API='3')
        return run(['etcdctl', '--endpoints=' + ','.join(self.etcd_endpoints()), '--dial-timeout=1s',
                    '--command-timeout=2s'] + list(args), check=False, timeout=10, env=env)

    def start_instance(self, inst, number, template, lease_ttl=2):
        """tapflowd instance `inst` (cluster id; `number` picks its etcd
        address 127.0.<number>.1) from template; returns once it listens."""
        port, metrics = self.free_port(), self.free_port()
        while metrics == port:
            metrics = self.free_port()
        eps = ', '.join('"%s"' % e for e in self.etcd_endpoints('127.0.%d.1' % number))
        conf = render(template, os.path.join(self.dir, 'tapflowd-%s.yaml' % inst), LISTEN_PORT=port,
                      METRICS_PORT=metrics, NETNS_PREFIX=self.prefix, INSTANCE=inst, ETCD_ENDPOINTS=eps,
                      LEASE_TTL=lease_ttl)
        with open(conf) as f:
            netns = re.findall(r'netns:\s*"([^"]+)"', f.read())
        self.namespaces += [n for n in netns if n not in self.namespaces]
        logf = os.path.join(self.dir, 'tapflowd-%s.log' % inst)
        name = 'tapflowd-' + inst
        self.logs[name] = logf
        out = open(logf, 'ab')
        p = subprocess.Popen([self.tapflowd, '-c', conf], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.procs[name] = p
        self.instances[inst] = dict(id=inst, port=port, metrics_port=metrics, log=logf,
                                    netns=netns[0] if netns else None, proc=p, conf=conf)

        def listening():
            if p.poll() is not None:
                raise LabFailure('tapflowd %s exited %s: %s' % (inst, p.returncode, self.tail(logf)))
            with socket.socket() as s:
                return s.connect_ex(('127.0.0.1', port)) == 0
        wait_until(10, 'tapflowd %s to listen on 127.0.0.1:%d' % (inst, port), listening)
        log('tapflowd %s: pid %d listening on 127.0.0.1:%d, metrics :%d (%s)' % (
            inst, p.pid, port, metrics, os.path.relpath(template, REPO)))
        return self.instances[inst]

    def kill_instance(self, inst):
        """SIGKILL to instance inst's tapflowd."""
        i = self.instances[inst]
        with contextlib.suppress(ProcessLookupError):
            os.kill(i['proc'].pid, signal.SIGKILL)
        i['proc'].wait(timeout=5)
        self.procs.pop('tapflowd-' + inst, None)

    def stop_instance(self, inst, timeout=10):
        """SIGTERM to instance inst's tapflowd; its exit status."""
        i = self.instances[inst]
        kill_pid(i['proc'].pid, timeout)
        with contextlib.suppress(Exception):
            i['proc'].wait(timeout=2)
        self.procs.pop('tapflowd-' + inst, None)
        return i['proc'].returncode

    def instance_metrics(self, inst):
        """{metric name: value} of instance inst (dpid 1's where labelled)."""
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % self.instances[inst]['metrics_port'],
                                        timeout=3) as r:
                text = r.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line.startswith('#') or not line.strip():
                continue
            name = re.split(r'[{ ]', line, 1)[0]
            if '{' in line and 'dpid="0000000000000001"' not in line and 'dpid=' in line:
                continue
            out.setdefault(name, float(line.split()[-1]))
        return out

    def log_lines(self, inst, pattern):
        return [l for l in self.read(self.instances[inst]['log']).splitlines() if re.search(pattern, l)]

    @staticmethod
    def log_time(line):
        """Epoch seconds of a tapflowd log line ("2026-12-06T03:44:06.123 info ...", local time)."""
        stamp = line.split(' ', 1)[0]
        return time.mktime(time.strptime(stamp[:19], '%Y-%m-%dT%H:%M:%S')) + float('0' + stamp[19:])

    def controller_roles(self, switch):
        """{instance id: OVS's role for its controller} ('master', 'slave', ...)."""
        out = run(['ovs-vsctl', '--format=csv', '--no-headings', '--columns=target,role', 'list', 'controller'],
                  check=False)
        roles = {}
        for line in out.splitlines():
            target, _, role = line.replace('"', '').partition(',')
            for inst, i in self.instances.items():
                if target.endswith(':%d' % i['port']):
                    roles[inst] = role
        return roles

    def start_mininet(self, net):
        """net: a built Mininet whose switches use controller port self.port."""
        self.net = net
        net.start()
        for sw in net.switches:
            self.switch_protocols[sw.name] = getattr(sw, 'protocols', None) or 'OpenFlow13'
        # TCP across the userspace datapath fails with TX checksum offload
        # on the veths (LAB.md): off on every end, switch ports included.
        for node in net.hosts + net.switches:
            for intf in node.intfList():
                if intf.name != 'lo':
                    node.cmd('ethtool -K %s tx off >/dev/null 2>&1' % intf.name)
        log('Mininet: %d switches, %d hosts and routers, %d links' % (
            len(net.switches), len(net.hosts), len(net.links)))

    def wait_switches_up(self, dpids, timeout=20):
        def up():
            text = self.read(self.tapflowd_log)
            return all(re.search(r'dpid=%016x .*up: OpenFlow' % d, text) for d in dpids)
        wait_until(timeout, 'switches %s to connect to tapflowd' % dpids, up)
        log('switches up at tapflowd: %s' % ', '.join('%016x' % d for d in dpids))

    def wait_taps(self, netns, interfaces, timeout=15):
        def ready():
            out = run(['ip', '-n', netns, '-o', 'link', 'show'], check=False)
            return all(re.search(r'\d+: %s[:@].*LOWER_UP' % i, out) for i in interfaces)
        wait_until(timeout, 'TAPs %s with carrier in %s' % (' '.join(interfaces), netns), ready)

    def router(self, name, kind, node=None, netns=None):
        r = Router(self, name, kind, node=node, netns=netns)
        self.routers[name] = r
        return r

    # -- reading

    @staticmethod
    def read(path):
        try:
            with open(path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def tail(self, path, n=30):
        return '\n'.join(self.read(path).splitlines()[-n:])

    def ofctl(self, switch, *args):
        return run(['ovs-ofctl', '--no-names', '-O', self.switch_protocols.get(switch, 'OpenFlow13')] +
                   [args[0], switch] + list(args[1:]))

    def flows(self, switch):
        return [l.strip() for l in self.ofctl(switch, 'dump-flows').splitlines() if 'cookie=' in l]

    def groups(self, switch):
        return [l.strip() for l in self.ofctl(switch, 'dump-groups').splitlines() if 'group_id=' in l]

    def fib_flows(self, switch, classes=(COOKIE_ROUTE, COOKIE_HOST)):
        return [f for f in self.flows(switch) if any(f.startswith('cookie=' + c) for c in classes)]

    @staticmethod
    def n_packets(flow):
        m = re.search(r'n_packets=(\d+)', flow)
        return int(m.group(1)) if m else 0

    def fib_packets(self, switches):
        return sum(self.n_packets(f) for s in switches for f in self.fib_flows(s))

    def metrics(self):
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % self.metrics_port, timeout=5) as r:
            return r.read().decode()

    def packet_ins(self):
        total = 0
        for line in self.metrics().splitlines():
            if line.startswith('tapflow_datapath_packet_ins_total'):
                total += int(float(line.split()[-1]))
        return total

    def route_flow(self, switch, prefix):
        """The FIB route flow of prefix (table 1 on OpenFlow 1.3), or None."""
        addr, _, length = prefix.partition('/')
        match = 'nw_dst=%s' % (addr if length == '32' else prefix)
        for f in self.fib_flows(switch, (COOKIE_ROUTE,)):
            if re.search(r'[ ,]%s[ ,]' % re.escape(match), f + ' '):
                return f
        return None

    def flow_actions(self, switch, flow):
        """The actions a FIB flow applies, its groups' buckets followed
        (groups that chain to groups too: FRR's next-hop objects become a
        select group of indirect ones), as one text."""
        groups = {}
        for g in self.groups(switch):
            m = re.search(r'group_id=(\d+),', g)
            if m:
                groups[m.group(1)] = g
        parts, seen = [], set()

        def walk(actions):
            parts.append(actions)
            for gid in re.findall(r'group:(\d+)', actions):
                if gid not in seen and gid in groups:
                    seen.add(gid)
                    walk(groups[gid].split('bucket=', 1)[-1] if 'bucket=' in groups[gid] else '')
        walk(flow.split('actions=', 1)[1])
        return ' '.join(parts)

    def flow_out_ports(self, switch, flow):
        """Output ports a FIB flow leads to (inline on 1.0, through groups on 1.3)."""
        return sorted(set(int(p) for p in re.findall(r'output:(\d+)', self.flow_actions(switch, flow))))

    def host_flow(self, switch, ip):
        """The FIB host flow of a resolved neighbour ip, or None."""
        for f in self.fib_flows(switch, (COOKIE_HOST,)):
            if re.search(r'[ ,]nw_dst=%s[ ,]' % re.escape(ip), f + ' '):
                return f
        return None

    # -- pings

    def ping(self, src, dst_ip, count=3, interval=0.2, wait=2):
        out = src.cmd('ping -n -q -c %d -i %s -W %d %s' % (count, interval, wait, dst_ip))
        return ping_stats(out)

    def ping_many(self, pairs, count=3, interval=0.2, wait=2):
        """Pings all (src node, label, dst ip) at once; {(src, label): (sent, received)}."""
        procs = {}
        for src, label, ip in pairs:
            procs[(src.name, label)] = src.popen(['ping', '-n', '-q', '-c', str(count), '-i', str(interval),
                                                  '-W', str(wait), ip], stdout=subprocess.PIPE,
                                                 stderr=subprocess.STDOUT)
        res = {}
        for k, p in procs.items():
            out, _ = p.communicate(timeout=count * interval + wait + 20)
            res[k] = ping_stats(out.decode() if isinstance(out, bytes) else out)
        return res

    # -- teardown

    def diagnostics(self):
        print('\n---- diagnostics ----', file=sys.stderr)
        for name, r in self.routers.items():
            print('-- router %s (%s, %s, %s):' % (name, r.kind, r.where(), 'running' if r.alive() else 'NOT running'),
                  file=sys.stderr)
            try:
                if r.kind == 'bird':
                    print(r.birdc('show protocols', check=False), r.birdc('show ospf neighbors', check=False),
                          r.birdc('show bfd sessions', check=False), file=sys.stderr)
                else:
                    print(r.vtysh('show ip ospf neighbor', 'show bgp summary', 'show bfd peers brief', check=False),
                          file=sys.stderr)
                print(r.sh('ip -4 addr; ip -4 route'), file=sys.stderr)
            except Exception as e:  # diagnostics must not hide the failure
                print('   (%s)' % e, file=sys.stderr)
        for name, path in self.logs.items():
            print('-- %s log (last 25 lines of %s):' % (name, path), file=sys.stderr)
            print(self.tail(path, 25), file=sys.stderr)
        if self.net is not None:
            for sw in self.switch_protocols:
                with contextlib.suppress(Exception):
                    print('-- flows of %s:\n%s' % (sw, '\n'.join(self.flows(sw))), file=sys.stderr)
                    print('-- groups of %s:\n%s' % (sw, '\n'.join(self.groups(sw))), file=sys.stderr)
        print('---- end of diagnostics ----\n', file=sys.stderr)

    def stop(self):
        """Undoes everything, newest first; safe to call twice."""
        for r in reversed(list(self.routers.values())):
            with contextlib.suppress(Exception):
                r.stop()
        if self.net is not None:
            net, self.net = self.net, None
            try:
                import mininet.log
                mininet.log.setLogLevel('error')
                net.stop()
                # RemoteController.stop() does nothing: its shell stays.
                for c in net.controllers:
                    c.terminate()
            except Exception as e:  # the namespaces go anyway, below
                log('Mininet stop failed: %r' % e)
        tf = self.procs.pop('tapflowd', None)
        if tf is not None:
            kill_pid(tf.pid, 10)
            with contextlib.suppress(Exception):
                tf.wait(timeout=1)
            self.tapflowd_status = tf.returncode
        store = getattr(self, 'fdstore_pid', None)
        if store is not None:
            self.fdstore_pid = None
            kill_pid(store, 5)
        if 'ovs-vswitchd' in self.procs:
            with contextlib.suppress(Exception):
                run(['ovs-appctl', '-t', os.path.join(self.ovs_dir, 'ovs-vswitchd.ctl'), 'exit', '--cleanup'],
                    check=False, timeout=5)
        for name in reversed(list(self.procs)):
            p = self.procs.pop(name)
            kill_pid(p.pid, 5)
            with contextlib.suppress(Exception):
                p.wait(timeout=1)
        for ns in reversed(self.namespaces):
            for pid in run(['ip', 'netns', 'pids', ns], check=False).split():
                if pid.isdigit() and int(pid) != self.pid and alive(int(pid)):
                    log('killing leftover pid %s (%s) in %s' % (pid, self.read('/proc/%s/cmdline' % pid).replace('\0', ' '), ns))
                    kill_pid(int(pid), 2)
            run(['ip', 'netns', 'del', ns], check=False)
        self.namespaces = []
        for d in self.cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.cleanup_dirs = []
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            open(os.path.join(self.dir, '.keep'), 'w').close()
            log('kept %s' % self.dir)
