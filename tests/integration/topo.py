"""
topo.py - throw-away network namespace topologies for slnf's integration tests.

    client ns                gateway ns (slnfd)                server ns
    <cif> 10.N.1.2 ---veth--- <lan>  slnfd  <wan> ---veth--- <sif> 10.N.2.2
                              10.N.1.1       10.N.2.1 (owned by slnfd, not by Linux)

Topo is a context manager. Entering builds the namespaces and veth pairs
(created directly inside the namespaces, so nothing ever appears in the root
namespace), writes an slnfd config into a private temporary directory, starts
slnfd inside the gateway namespace and waits, bounded in time, for its `ready`
line. Leaving, also after a failure or an exception, stops slnfd by PID
(SIGTERM, then SIGKILL), kills every helper process the test started, detaches
XDP programs, deletes the namespaces and removes the temporary files.

gateway="kernel" builds the same topology with Linux forwarding in the gateway
namespace instead of slnfd: it checks this helper on its own, so that a test
failure can be blamed on slnfd and not on the topology.

Slnfd runs one slnfd outside any namespace, for the port types that need
none (pcap, ring, null), with the same start-up wait, stats and clean-up.

Every name carries the pytest PID, so concurrent test runs never touch each
other and conftest.py can check that a session left nothing behind.
"""

import copy
import hashlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYTHON = "/usr/bin/python3"  # Debian's, with pytest and scapy
NS_PREFIX = f"slnft{os.getpid()}-"  # every namespace this process creates
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
READY = re.compile(r"\bready\b")  # `slnf[slnfd] INFO: ready: ...`; not "already"

_counter = itertools.count(1)
# slnfd and helper processes started by this module and not yet reaped.
LIVE_PROCS = {}


class CommandError(AssertionError):
    """A command failed; the message holds its output."""


def slnfd_path():
    return os.environ.get("SLNFD") or str(REPO / "build" / "slnfd")


def in_ns(ns, cmd):
    return ["ip", "netns", "exec", ns] + list(cmd) if ns else list(cmd)


def run(cmd, ns=None, check=True, timeout=30, **kw):
    """Run cmd (in namespace ns) to completion, bounded by timeout."""
    full = in_ns(ns, cmd)
    try:
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise CommandError(f"timed out after {timeout}s: {' '.join(full)}\n"
                           f"stdout: {e.stdout}\nstderr: {e.stderr}") from None
    if check and r.returncode != 0:
        raise CommandError(f"exit {r.returncode}: {' '.join(full)}\n"
                           f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


SHM_DIR = Path("/dev/shm")


def shm_store(name):
    """The store section of a test instance: the shm backend (the default)
    with a table named after the instance, so tests never share state."""
    return {"backend": "shm", "capacity": 65536, "shm": {"name": name}}


def remove_shm(name):
    """Remove an instance's shm table (state outlives slnfd by design)."""
    (SHM_DIR / name).unlink(missing_ok=True)


def shm_leftovers():
    """shm tables of this test process still present."""
    return sorted(p.name for p in SHM_DIR.glob(f"t{os.getpid()}-*"))


def netns_list():
    r = run(["ip", "-j", "netns", "list"], check=False)
    if r.returncode != 0 or not r.stdout.strip():
        return []
    return [n["name"] for n in json.loads(r.stdout)]


def delete_netns(ns):
    """Delete a namespace this module created, with what still runs in it."""
    # processes still inside were started by the test (curl, servers)
    r = run(["ip", "netns", "pids", ns], check=False)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    run(["ip", "netns", "del", ns])


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Signal one process we started, then SIGKILL it if it outlives timeout.

    Returns (returncode, killed)."""
    killed = False
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            proc.kill()
            proc.wait(timeout=10)
    LIVE_PROCS.pop(proc.pid, None)
    return proc.returncode, killed


def read_line_with(proc, needle, timeout):
    """Read proc.stdout until a line contains needle; return all text read."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            if not line:
                break  # EOF: the process died
            text += line
            if needle in line:
                return text
        elif proc.poll() is not None:
            break
    raise CommandError(f"no line with {needle!r} after {timeout}s "
                       f"(exit status {proc.poll()}); output:\n{text}")


def read_log(path):
    try:
        return Path(path).read_text(errors="replace")
    except (OSError, TypeError):
        return ""


def start_slnfd(config_path, log_path, ns=None, ready_timeout=READY_TIMEOUT):
    """Start `slnfd -c config_path` (in namespace ns) with its output in
    log_path; return the process once it logged `ready`. If it does not within
    ready_timeout, stop it and raise CommandError with its log."""
    with open(log_path, "w") as log:
        # `ip netns exec` execs slnfd in place: proc.pid is slnfd's PID
        proc = subprocess.Popen(in_ns(ns, [slnfd_path(), "-c", str(config_path)]),
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    LIVE_PROCS[proc.pid] = proc
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if READY.search(read_log(log_path)):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    status = proc.poll()
    stop_process(proc)
    raise CommandError(f"slnfd did not log `ready` within {ready_timeout}s "
                       f"(exit status {status}); log:\n{read_log(log_path)}")


def read_stats(config_path, timeout=10):
    """`slnfd --stats -c config_path` parsed."""
    r = run([slnfd_path(), "--stats", "-c", str(config_path)], timeout=timeout)
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise CommandError(f"--stats printed no JSON ({e}):\n{r.stdout}\n{r.stderr}")


class Slnfd:
    """One slnfd outside any namespace, for ports that need none (pcap, ring,
    null). Entering makes a private temporary directory, self.tmp, for the
    config, control socket, log and the test's own files; leaving stops slnfd
    by PID (SIGTERM, then SIGKILL) and removes the directory."""

    def __init__(self, ready_timeout=READY_TIMEOUT):
        self.id = next(_counter)
        self.name = f"t{os.getpid()}-{self.id}"
        self.ready_timeout = ready_timeout
        self.tmp = self.proc = self.config_path = self.log_path = None
        self.exit_code, self.killed = None, False

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"slnft{os.getpid()}-"))
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            remove_shm(self.name)
        return False

    def config(self, ports, tenants, **extra):
        """A config with this instance's name and control socket."""
        return {"name": self.name, "control": {"socket": str(self.tmp / "slnfd.sock")},
                "store": shm_store(self.name), "ports": ports, "tenants": tenants, **extra}

    def start(self, cfg):
        self.config_path, self.log_path = self.tmp / "slnfd.json", self.tmp / "slnfd.log"
        self.config_path.write_text(json.dumps(cfg, indent=2))
        self.proc = start_slnfd(self.config_path, self.log_path, None, self.ready_timeout)

    def log(self):
        return read_log(self.log_path)

    def stats(self, timeout=10):
        return read_stats(self.config_path, timeout)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop slnfd; return its exit code (negative: killed by a signal)."""
        if self.proc is not None:
            self.exit_code, self.killed = stop_process(self.proc, sig, timeout)
            self.proc = None
        return self.exit_code

    def wait_rx(self, n, timeout=10):
        """Poll the stats until the ports received n packets in all and the
        counters hold still; return those stats."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            s = self.stats()
            rx = sum(p["rx_packets"] for p in s["ports"])
            if rx == n and last == s["ports"]:
                return s
            last = s["ports"] if rx == n else None
            time.sleep(0.05)
        raise CommandError(f"ports received {rx} packets, not {n}, in {timeout}s; "
                           f"ports: {s['ports']}\nlog:\n{self.log()}")


class Steps:
    """Teardown steps: step(what, fn) runs fn and keeps going when it fails;
    the failures collect in step.errors."""

    def __init__(self):
        self.errors = []

    def __call__(self, what, fn):
        try:
            fn()
        except Exception as e:  # keep tearing down
            self.errors.append(f"{what}: {e}")


class Scene:
    """A throw-away set of namespaces and processes as a context manager:
    entering runs setup(), and if that fails, close() before re-raising;
    leaving runs close() (which must tear down everything, step by step,
    and return the errors) and fails a test that passed if it could not."""

    def __enter__(self):
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        errors = self.close()
        if errors and exc_type is None:
            raise CommandError("cleanup failed:\n" + "\n".join(errors))
        return False

    def spawn(self, ns, cmd, **kw):
        """Start a background process in ns; it is stopped by close() (self.helpers)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(in_ns(ns, cmd), start_new_session=True, text=True, **kw)
        self.helpers.append(p)
        LIVE_PROCS[p.pid] = p
        return p



class Topo(Scene):
    """client <-> gateway <-> server in three fresh namespaces."""

    def __init__(self, port_type="af_packet", gateway="slnfd", config=None,
                 ready_timeout=READY_TIMEOUT, net=None):
        assert gateway in ("slnfd", "kernel")
        assert port_type in ("af_packet", "af_xdp")
        self.id = next(_counter)
        self.port_type = port_type
        self.gateway = gateway
        self.ready_timeout = ready_timeout
        self.config_edit = config  # callable(dict) editing the default config
        n = net if net is not None else 20 + (os.getpid() + self.id) % 200
        self.net = n
        base = f"{NS_PREFIX}{self.id}"
        self.ns_client, self.ns_gw, self.ns_server = base + "-c", base + "-g", base + "-s"
        tag = f"{os.getpid() % 100000}x{self.id % 1000}"  # <= 9 chars
        self.if_client, self.if_server = f"c{tag}", f"s{tag}"
        self.if_lan, self.if_wan = f"g{tag}l", f"g{tag}w"
        assert max(len(i) for i in (self.if_client, self.if_lan, self.if_wan)) <= 15
        self.client_ip, self.gw_lan_ip = f"10.{n}.1.2", f"10.{n}.1.1"
        self.server_ip, self.gw_wan_ip = f"10.{n}.2.2", f"10.{n}.2.1"
        self.lan_net, self.wan_net = f"10.{n}.1.0/24", f"10.{n}.2.0/24"
        self.name = f"t{os.getpid()}-{self.id}"  # slnfd instance name
        self.tmp = None
        self.proc = None
        self.log_path = None
        self.config_path = None
        self.config = None
        self.exit_code = None
        self.killed = False
        self.helpers = []
        self.namespaces = []

    # ---- lifecycle ---------------------------------------------------------

    def setup(self):
        self.build()
        if self.gateway == "slnfd":
            self.start()

    def build(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"slnft{os.getpid()}-"))
        for ns in (self.ns_client, self.ns_gw, self.ns_server):
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            # no IPv6: no router solicitations or MLD reports on the wire, so
            # drop counters only move for the packets a test sends
            run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"], ns=ns)
            run(["ip", "link", "set", "lo", "up"], ns=ns)
        g = self.ns_gw
        run(["ip", "-n", g, "link", "add", self.if_lan, "type", "veth",
             "peer", "name", self.if_client, "netns", self.ns_client])
        run(["ip", "-n", g, "link", "add", self.if_wan, "type", "veth",
             "peer", "name", self.if_server, "netns", self.ns_server])
        for ns, ifc in self.all_ifaces():
            # checksums computed in software: with tx offload on, veth delivers
            # UDP and TCP with partial checksums that a DPDK forwarder passes on
            run(["ethtool", "-K", ifc, "tx", "off", "tso", "off", "gso", "off",
                 "gro", "off"], ns=ns)
            run(["ip", "link", "set", ifc, "up"], ns=ns)
        for ns, ifc, ip, gw in ((self.ns_client, self.if_client, self.client_ip, self.gw_lan_ip),
                                (self.ns_server, self.if_server, self.server_ip, self.gw_wan_ip)):
            run(["ip", "addr", "add", ip + "/24", "dev", ifc], ns=ns)
            run(["ip", "route", "add", "default", "via", gw], ns=ns)
        if self.gateway == "kernel":
            run(["ip", "addr", "add", self.gw_lan_ip + "/24", "dev", self.if_lan], ns=g)
            run(["ip", "addr", "add", self.gw_wan_ip + "/24", "dev", self.if_wan], ns=g)
            run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns=g)
        else:
            # the gateway's Linux stack owns no address and forwards nothing:
            # everything the hosts see from the gateway comes from slnfd
            run(["sysctl", "-qw", "net.ipv4.ip_forward=0"], ns=g)

    def all_ifaces(self):
        return ((self.ns_client, self.if_client), (self.ns_gw, self.if_lan),
                (self.ns_gw, self.if_wan), (self.ns_server, self.if_server))

    def default_config(self):
        """The demo chain (filter denying tcp/23 and tcp/8081, then router)."""
        ports = []
        for name, ifc, ip in (("lan", self.if_lan, self.gw_lan_ip),
                              ("wan", self.if_wan, self.gw_wan_ip)):
            ports.append({"name": name, "type": self.port_type, "iface": ifc,
                          "ipv4": [ip + "/24"]})
        return {
            "name": self.name,
            "role": "nf",
            "eal": {"hugepages": False, "memory_mb": 256},
            "workers": {"count": 1, "busy_poll": False, "idle_sleep_max_us": 500},
            "control": {"socket": str(self.tmp / "slnfd.sock")},
            "store": shm_store(self.name),
            "neighbours": {"reachable_s": 30, "max_pending": 16},
            "ports": ports,
            "tenants": [{
                "name": "t1",
                "id": 1,
                "match": {"ports": ["lan", "wan"]},
                "chain": [
                    {"nf": "filter", "default": "allow", "rules": [
                        {"name": "no-telnet", "action": "deny", "proto": "tcp",
                         "dst_port": "23"},
                        {"name": "no-8081", "action": "deny", "proto": "tcp",
                         "dst_port": "8081"},
                    ]},
                    {"nf": "router", "routes": [
                        {"prefix": self.wan_net, "port": "wan"},
                        {"prefix": self.lan_net, "port": "lan"},
                    ]},
                ],
            }],
        }

    def start(self):
        """Write the config and start slnfd; return once it logged `ready`."""
        cfg = self.default_config()
        if self.config_edit:
            cfg = copy.deepcopy(cfg)
            self.config_edit(cfg)
        self.config = cfg
        self.config_path = self.tmp / "slnfd.json"
        self.config_path.write_text(json.dumps(cfg, indent=2))
        self.log_path = self.tmp / "slnfd.log"
        self.exit_code, self.killed = None, False
        self.proc = start_slnfd(self.config_path, self.log_path, self.ns_gw, self.ready_timeout)

    def log(self):
        return read_log(self.log_path)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop slnfd; return its exit code (negative: killed by a signal)."""
        if self.proc is None:
            return self.exit_code
        self.exit_code, self.killed = stop_process(self.proc, sig, timeout)
        self.proc = None
        if self.exit_code != 0 and self.port_type == "af_xdp":
            self.xdp_off()
        return self.exit_code

    def xdp_off(self):
        # after an unclean exit the XDP program stays and swallows every frame
        for ifc in (self.if_lan, self.if_wan):
            run(["ip", "link", "set", "dev", ifc, "xdp", "off"], ns=self.ns_gw,
                check=False)

    def close(self):
        """Tear everything down; every step runs even if one fails."""
        step = Steps()
        errors = step.errors
        step("stop slnfd", self.stop)
        for p in self.helpers:
            step(f"stop helper {p.pid}", lambda p=p: stop_process(p, timeout=3))
        self.helpers = []
        if self.port_type == "af_xdp" and self.ns_gw in self.namespaces:
            step("xdp off", self.xdp_off)
        for ns in reversed(self.namespaces):
            step(f"delete {ns}", lambda ns=ns: delete_netns(ns))
        self.namespaces = []
        if self.tmp:
            step("remove temp dir", lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        step("remove shm table", lambda: remove_shm(self.name))
        return errors

    # ---- helpers for tests ---------------------------------------------------

    def stats(self, timeout=10):
        """`slnfd --stats -c CONFIG` parsed."""
        return read_stats(self.config_path, timeout)

    def ping(self, ns, dst, count=3, interval=0.2, wait=2, ttl=None, check=True):
        cmd = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
        if ttl is not None:
            cmd += ["-t", str(ttl)]
        return run(cmd + [dst], ns=ns, check=check, timeout=count * (interval + wait) + 10)

    def mac(self, ns, ifc):
        r = run(["ip", "-j", "link", "show", "dev", ifc], ns=ns)
        return json.loads(r.stdout)[0]["address"]

    def neigh(self, ns, ip):
        """lladdr of ip in the kernel neighbour table of ns, or None."""
        r = run(["ip", "-j", "neigh", "show", ip], ns=ns)
        for e in json.loads(r.stdout or "[]"):
            if e.get("dst") == ip and "lladdr" in e:
                return e["lladdr"]
        return None

    def start_httpd(self, port, directory, bind=None):
        """tests/integration/httpd.py in the server namespace.

        Returns (process, path of its accepted-connections log)."""
        conn_log = self.tmp / f"httpd-{port}.conns"
        conn_log.write_text("")
        p = self.spawn(self.ns_server,
                       [PYTHON, str(HERE / "httpd.py"), "--bind", bind or self.server_ip,
                        "--port", str(port), "--dir", str(directory),
                        "--conn-log", str(conn_log)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        read_line_with(p, "listening", timeout=10)
        return p, conn_log

    def curl(self, url, out, max_time=60, connect_timeout=5, check=False):
        return run(["curl", "-sS", "-o", str(out), "--connect-timeout", str(connect_timeout),
                    "--max-time", str(max_time), "-w", "%{http_code} %{size_download}", url],
                   ns=self.ns_client, check=check, timeout=max_time + 10)

    def scapy(self, ns, *args, timeout=60):
        """tests/integration/pkttool.py in ns; returns its JSON output."""
        r = run([PYTHON, str(HERE / "pkttool.py")] + [str(a) for a in args], ns=ns,
                timeout=timeout)
        return json.loads(r.stdout)


# ---- reading `slnfd --stats` -------------------------------------------------

def port_stats(stats, name):
    for p in stats["ports"]:
        if p["name"] == name:
            return p
    raise KeyError(f"no port {name!r} in stats: {[p['name'] for p in stats['ports']]}")


def nf_stats(stats, nf, tenant=None):
    for t in stats["tenants"]:
        if tenant is None or t["name"] == tenant:
            for s in t["nfs"]:
                if s["nf"] == nf:
                    return s
    raise KeyError(f"no nf {nf!r} in stats")


def rule_hits(stats, rule):
    for r in nf_stats(stats, "filter")["rules"]:
        if r["name"] == rule:
            return r["hits"]
    raise KeyError(f"no filter rule {rule!r} in stats")


def drops(stats, reason):
    return stats["drops"][reason]


def delta(before, after, reason):
    return drops(after, reason) - drops(before, reason)


# ---- checks shared by several tests -----------------------------------------

def assert_ping(t, ns, dst, count=3, **kw):
    """Every echo request answered."""
    r = t.ping(ns, dst, count=count, check=False, **kw)
    assert f"{count} packets transmitted, {count} received" in r.stdout, \
        f"ping {dst} from {ns}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def http_download(t, size, port=8080):
    """Serve `size` random bytes from the server, fetch them with curl from
    the client and compare sha256. Returns the size downloaded."""
    www = t.tmp / f"www{port}"
    www.mkdir(exist_ok=True)
    body = os.urandom(size)
    (www / "blob.bin").write_bytes(body)
    t.start_httpd(port, www)
    out = t.tmp / f"blob{port}.got"
    r = t.curl(f"http://{t.server_ip}:{port}/blob.bin", out, max_time=90)
    assert r.returncode == 0 and r.stdout.startswith("200 "), \
        f"curl exit {r.returncode}: {r.stdout} {r.stderr}\nslnfd log:\n{t.log()}"
    got = out.read_bytes()
    assert len(got) == size
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    return size
