"""
fabric.py - the steering topology of the failover and scaling tests: a
client and a server host, a steering node and a pool of NF instances, all
real processes on real (veth) ports, in fresh network namespaces.

    client ns                       gateway ns                         server ns
    <cif> 10.N.1.2 ---+         +-- steer  <lan> 10.N.1.1   <wan> 10.N.2.1 --+
                      |         |          (slnfd role steer;     +NAT pool)  |
                     [lan bridge]-- i1 <lan> 10.N.1.11  <wan> 10.N.2.11 --[wan bridge]--- <sif> 10.N.2.2
                                |-- i2 <lan> 10.N.1.12  <wan> 10.N.2.12 --|
                                +-- ...                                   +

Two Linux bridges in the gateway namespace are the L2 segments (the
switch); every slnfd port is one end of a veth pair whose other end is a
bridge port. The hosts' gateways are the steering node's addresses, and it
also owns the NAT pool address, so everything the hosts send reaches the
steering node first, which forwards it to an instance by MAC. Instances
send straight to the hosts. The NF chain is firewall -> nat -> router with
its state in one store (shm by default, or redis) that every instance
shares.

slnf-orch runs in the gateway namespace too (its API on that namespace's
loopback: the test calls it with curl inside the namespace) and launches
the instances there; the steering node is started by the fabric and named
in the orchestrator's `steering.sockets`.

Everything is removed on exit, pass or fail: the orchestrator, every
instance it launched (by PID, read from its status and its run directory),
the steering node, helpers, namespaces, the shm table and the temporary
directory.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from topo import (HERE, LIVE_PROCS, NS_PREFIX, PYTHON, CommandError, Scene, Steps, delete_netns, in_ns,
                  read_line_with, read_log, remove_shm, run, slnfd_path, start_slnfd,
                  stop_process)

TOKEN = "fabric-test-token"
TENANT = "t1"
POOL = "p1"
ORCH_READY = re.compile(r"ready: listening on 127\.0\.0\.1:(\d+)")
_seq = iter(range(1, 10000))


def orch_path():
    return os.environ.get("SLNF_ORCH") or str(Path(slnfd_path()).parent / "src/orch/slnf-orch")


class Fabric(Scene):
    def __init__(self, slots=3, store=None, chain=None, capacity=262144, workers=1, orch=True,
                 instance_store=None):
        self.id = next(_seq)
        n = 20 + (os.getpid() * 7 + self.id) % 200
        self.net = n
        base = f"{NS_PREFIX}f{self.id}"
        self.ns_client, self.ns_gw, self.ns_server = base + "-c", base + "-g", base + "-s"
        self.slots = slots
        self.client_ip, self.server_ip = f"10.{n}.1.2", f"10.{n}.2.2"
        self.steer_lan_ip, self.steer_wan_ip = f"10.{n}.1.1", f"10.{n}.2.1"
        self.pool_ip = f"10.{n}.2.100"
        self.shm = f"t{os.getpid()}-fab{self.id}"
        self.store = store or {"backend": "shm", "capacity": capacity,
                               "shm": {"name": self.shm}}
        self.chain = chain
        self.workers = workers
        self.with_orch = orch
        self.instance_store = instance_store  # instances' store, if not the orchestrator's
        self.direct = {}  # instances started by the fabric itself (orch=False)
        self.namespaces, self.helpers = [], []
        self.tmp = self.steer = self.orch = self.orch_port = None
        self.instance_pids = set()

    # ---- lifecycle ---------------------------------------------------------

    def setup(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"slnff{os.getpid()}-"))
        self.build()
        self.start_steer()
        if self.with_orch:
            self.start_orch()

    def build(self):
        for ns in (self.ns_client, self.ns_gw, self.ns_server):
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"], ns=ns)
            run(["ip", "link", "set", "lo", "up"], ns=ns)
        g = self.ns_gw
        run(["sysctl", "-qw", "net.ipv4.ip_forward=0"], ns=g)
        for br in ("brl", "brw"):
            run(["ip", "link", "add", br, "type", "bridge", "stp_state", "0",
                 "forward_delay", "0"], ns=g)
            run(["ip", "link", "set", br, "up"], ns=g)
        # hosts: one veth each, the far end a bridge port
        for ns, ifc, br, ip, gw in ((self.ns_client, "cif", "brl", self.client_ip,
                                     self.steer_lan_ip),
                                    (self.ns_server, "sif", "brw", self.server_ip,
                                     self.steer_wan_ip)):
            run(["ip", "-n", g, "link", "add", ifc + "b", "type", "veth", "peer", "name", ifc,
                 "netns", ns])
            self._bridge_port(ifc + "b", br)
            self._quiet(ns, ifc)
            run(["ip", "addr", "add", ip + "/24", "dev", ifc], ns=ns)
            run(["ip", "route", "add", "default", "via", gw], ns=ns)
        # slnfd ports: the steering node's and each instance slot's. DPDK's
        # af_packet PMD names its PACKET_FANOUT group (getpid() ^ ifindex) &
        # 0xffff, and two slnfd processes in one namespace whose groups
        # collide cannot both open their port (EINVAL). So each process's
        # interfaces get ifindexes in a 4096-block of their own: a collision
        # would then need two PIDs at least 4093 apart, more than a test forks.
        for slot, name in enumerate(["st"] + [f"i{k}" for k in range(1, self.slots + 1)]):
            for j, (side, br) in enumerate((("l", "brl"), ("w", "brw"))):
                idx = 4096 * (slot + 1) + 2 * j + 1
                run(["ip", "-n", g, "link", "add", name + side, "index", str(idx), "type",
                     "veth", "peer", "name", name + side + "b", "index", str(idx + 1)])
                self._bridge_port(name + side + "b", br)
                self._quiet(g, name + side)

    def _bridge_port(self, ifc, br):
        g = self.ns_gw
        run(["ip", "link", "set", ifc, "master", br], ns=g)
        self._quiet(g, ifc)

    def _quiet(self, ns, ifc):
        # software checksums (see DESIGN.md: tx offload on veth breaks UDP/TCP
        # checksums through a DPDK forwarder), then up
        run(["ethtool", "-K", ifc, "tx", "off", "tso", "off", "gso", "off", "gro", "off"],
            ns=ns)
        run(["ip", "link", "set", ifc, "up"], ns=ns)

    def close(self):
        step = Steps()
        errors = step.errors
        if self.orch is not None:
            step("stop slnf-orch", lambda: stop_process(self.orch))
        step("stop instances", self.kill_instances)
        for p in self.direct.values():
            step(f"stop instance {p.pid}", lambda p=p: stop_process(p))
        if self.steer is not None:
            step("stop steer", lambda: stop_process(self.steer))
        for p in self.helpers:
            step(f"stop helper {p.pid}", lambda p=p: stop_process(p, timeout=3))
        for ns in reversed(self.namespaces):
            step(f"delete {ns}", lambda ns=ns: delete_netns(ns))
        self.namespaces = []
        step("remove shm", lambda: remove_shm(self.shm))
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return errors

    def kill_instances(self):
        """SIGKILL every slnfd the orchestrator launched for us (known by
        PID, and only if that PID still runs a config of our run dir)."""
        for pid in self.instance_pids | self._run_dir_pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(self.tmp).encode() in cmd:
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                Path(f"/proc/{p}").exists() for p in self.instance_pids):
            time.sleep(0.05)

    def _run_dir_pids(self):
        pids = set()
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if str(self.tmp / "run").encode() in (p / "cmdline").read_bytes():
                        pids.add(int(p.name))
                except OSError:
                    pass
        return pids

    # ---- the steering node -------------------------------------------------

    def steer_config(self):
        return {
            "name": f"t{os.getpid()}-steer{self.id}", "role": "steer",
            "eal": {"hugepages": False, "memory_mb": 256},
            "workers": {"count": 1, "idle_sleep_max_us": 500},
            "control": {"socket": str(self.tmp / "steer.sock")},
            "store": self.store,
            "ports": [
                {"name": "lan", "type": "af_packet", "iface": "stl",
                 "ipv4": [self.steer_lan_ip + "/24"]},
                {"name": "wan", "type": "af_packet", "iface": "stw",
                 "ipv4": [self.steer_wan_ip + "/24", self.pool_ip + "/32"]},
            ],
            "tenants": [{"name": TENANT, "id": 1, "match": {"ports": ["lan", "wan"]},
                         "inside": ["lan"]}],
        }

    def start_steer(self):
        path = self.tmp / "steer.json"
        path.write_text(json.dumps(self.steer_config(), indent=2))
        self.steer = start_slnfd(path, self.tmp / "steer.log", self.ns_gw)

    def steer_log(self):
        return read_log(self.tmp / "steer.log")

    def control(self, sock, cmd, timeout=5):
        """One control-socket command (dp/control.h); the parsed answer.
        Unix sockets are files: no need to enter the namespace."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(cmd.encode() + b"\n")
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        return json.loads(out)

    def steering(self):
        return self.control(self.tmp / "steer.sock", "steering")

    def steered_instances(self):
        t = next(t for t in self.steering()["tenants"] if t["name"] == TENANT)
        return sorted(i["name"] for i in t["instances"])

    def wait_steered(self, names, timeout=20):
        """Until the steering node's table holds exactly these instances."""
        deadline, got = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            got = self.steered_instances()
            if got == sorted(names):
                return
            time.sleep(0.02)
        raise CommandError(f"steering holds {got}, not {sorted(names)} after {timeout}s\n"
                           f"orch log:\n{self.orch_log()[-3000:]}")

    # ---- the orchestrator --------------------------------------------------

    def orch_config(self):
        return {"listen": {"address": "127.0.0.1", "port": 0},
                "auth": {"tokens_file": str(self.tmp / "tokens")},
                "store": self.store, "slnfd": slnfd_path(), "run_dir": str(self.tmp / "run"),
                "health": {"interval_ms": 20, "detection_ms": 100},
                "steering": {"sockets": [str(self.tmp / "steer.sock")]},
                **({"instances": {"store": self.instance_store}} if self.instance_store else {})}

    def start_orch(self, timeout=20):
        (self.tmp / "tokens").write_text(TOKEN + "\n")
        path = self.tmp / "orch.json"
        path.write_text(json.dumps(self.orch_config(), indent=2))
        seen = len(self.orch_log())
        with open(self.tmp / "orch.log", "a") as log:
            self.orch = subprocess.Popen(in_ns(self.ns_gw, [orch_path(), "-c", str(path)]),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        LIVE_PROCS[self.orch.pid] = self.orch
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.orch.poll() is None:
            m = ORCH_READY.search(self.orch_log()[seen:])
            if m:
                self.orch_port = int(m.group(1))
                return
            time.sleep(0.05)
        raise CommandError(f"slnf-orch not ready (exit {self.orch.poll()}):\n{self.orch_log()}")

    def kill_orch(self):
        self.orch.send_signal(signal.SIGKILL)
        self.orch.wait(timeout=10)
        LIVE_PROCS.pop(self.orch.pid, None)
        self.orch = None

    def orch_log(self):
        return read_log(self.tmp / "orch.log")

    def api(self, method, path, body=None, expect=None, timeout=30):
        """One REST call inside the gateway namespace; (status, parsed body)."""
        cmd = ["curl", "-sS", "-X", method, "-m", str(timeout), "-w", "\n%{http_code}",
               "-H", f"Authorization: Bearer {TOKEN}",
               f"http://127.0.0.1:{self.orch_port}{path}"]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        r = run(cmd, ns=self.ns_gw, timeout=timeout + 5)
        text, _, code = r.stdout.rpartition("\n")
        status = int(code)
        doc = json.loads(text) if text.strip() else None
        if expect is not None and status != expect:
            raise CommandError(f"{method} {path}: {status} {text}, expected {expect}")
        return status, doc

    def slnfctl(self, *args, timeout=30):
        ctl = Path(slnfd_path()).parent / "slnfctl"
        return run([str(ctl), "-s", f"http://127.0.0.1:{self.orch_port}", "-t", TOKEN,
                    *args], ns=self.ns_gw, check=False, timeout=timeout)

    # ---- the tenant, its pool and instances --------------------------------

    def default_chain(self):
        n = self.net
        return [
            {"nf": "firewall", "default": "deny", "rules": [
                {"name": "return", "action": "allow", "state": ["established", "related"]},
                {"name": "lan-out", "action": "allow", "state": ["new"],
                 "src": f"10.{n}.1.0/24"}]},
            {"nf": "nat", "inside": ["lan"], "pool": [self.pool_ip]},
            {"nf": "router", "routes": [
                {"prefix": f"10.{n}.2.0/24", "port": "wan"},
                {"prefix": f"10.{n}.1.0/24", "port": "lan"}]},
        ]

    def tenant(self):
        return {"name": TENANT, "id": 1, "match": {"ports": ["lan", "wan"]},
                "inside": ["lan"],
                "ports": [{"name": "lan", "type": "af_packet", "iface": "i1l",
                           "ipv4": [f"10.{self.net}.1.11/24"]},
                          {"name": "wan", "type": "af_packet", "iface": "i1w",
                           "ipv4": [f"10.{self.net}.2.11/24"]}],
                "chain": self.chain or self.default_chain()}

    def instance_overrides(self, k):
        n = self.net
        return {"ports": {"lan": {"iface": f"i{k}l", "ipv4": [f"10.{n}.1.{10 + k}/24"]},
                          "wan": {"iface": f"i{k}w", "ipv4": [f"10.{n}.2.{10 + k}/24"]}},
                "workers": {"count": self.workers, "idle_sleep_max_us": 500},
                "eal": {"hugepages": False, "memory_mb": 256}}

    def template(self):
        """The pool's instance template: instance n gets slot n's veths."""
        n = self.net
        return {"ports": {"lan": {"iface": "i{n}l", "ipv4": [f"10.{n}.1.1{{n}}/24"]},
                          "wan": {"iface": "i{n}w", "ipv4": [f"10.{n}.2.1{{n}}/24"]}},
                "workers": {"count": self.workers, "idle_sleep_max_us": 500},
                "eal": {"hugepages": False, "memory_mb": 256}}

    def setup_tenant(self, pool_extra=None):
        self.api("POST", "/v1/tenants", self.tenant(), expect=201)
        pool = {"name": POOL, "tenant": TENANT, "min": 1, "max": self.slots}
        pool.update(pool_extra or {})
        self.api("POST", "/v1/pools", pool, expect=201)

    def add_instance(self, k):
        body = {"name": f"i{k}", "pool": POOL, **self.instance_overrides(k)}
        self.api("POST", "/v1/instances", body, expect=201)

    def instance(self, name):
        return self.api("GET", f"/v1/instances/{name}", expect=200)[1]

    def wait_up(self, names, timeout=60):
        deadline, states = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            states = {n: self.instance(n)["status"] for n in names}
            for st in states.values():
                if st.get("pid"):
                    self.instance_pids.add(st["pid"])
            if all(s["state"] == "up" for s in states.values()):
                return
            bad = [n for n, s in states.items() if s["state"] == "failed"]
            if bad:
                break
            time.sleep(0.1)
        raise CommandError(f"instances not up: {states}\n"
                           f"{self.instance_logs(names)}\norch:\n{self.orch_log()[-3000:]}")

    def instance_logs(self, names):
        return "\n".join(f"--- {n}:\n{read_log(self.tmp / 'run' / (n + '.log'))[-2000:]}"
                         for n in names)

    def sock(self, name):
        """An instance's control socket: in the orchestrator's run directory,
        or the fabric's own for a direct instance."""
        if name in self.direct:
            return self.tmp / f"{name}.sock"
        return self.tmp / "run" / f"{name}.sock"

    def instance_stats(self, name):
        return self.control(self.sock(name), "stats")

    def kill_instance(self, name):
        """SIGKILL one instance (an slnfd the orchestrator launched for this
        test); the time it was killed."""
        pid = self.instance(name)["status"]["pid"]
        assert pid and str(self.tmp).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        os.kill(pid, signal.SIGKILL)
        return time.monotonic()

    # ---- instances without the orchestrator (orch=False) -------------------

    def start_direct(self, k):
        """Start instance i<k> as the orchestrator would configure it."""
        t = self.tenant()
        o = self.instance_overrides(k)
        ports = [dict(p, **o["ports"][p["name"]]) for p in t.pop("ports")]
        cfg = {"name": f"t{os.getpid()}-f{self.id}i{k}", "workers": o["workers"],
               "eal": o["eal"], "control": {"socket": str(self.tmp / f"i{k}.sock")},
               "store": self.store, "ports": ports, "tenants": [t]}
        path = self.tmp / f"i{k}.json"
        path.write_text(json.dumps(cfg, indent=2))
        self.direct[f"i{k}"] = start_slnfd(path, self.tmp / f"i{k}.log", self.ns_gw)

    def push(self, names, epoch):
        """Do the orchestrator's job by hand: a steer message for the
        direct instances named."""
        insts = []
        for name in sorted(names):
            ports = self.control(self.sock(name), "ports")["ports"]
            insts.append({"name": name, "macs": {p["name"]: p["mac"] for p in ports}})
        msg = {"epoch": epoch, "tenants": [{"name": TENANT, "instances": insts}]}
        return self.control(self.tmp / "steer.sock", "steer " + json.dumps(msg))

    # ---- traffic -----------------------------------------------------------

    def start_receiver(self, port=5001):
        report = self.tmp / f"received-{port}.jsonl"
        report.write_text("")
        p = self.spawn(self.ns_server, [PYTHON, str(HERE / "transfers.py"), "serve", "--bind",
                                        self.server_ip, "--port", str(port), "--report",
                                        str(report)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        read_line_with(p, "listening", timeout=10)
        return report

    def start_senders(self, conns=50, nbytes=1 << 20, seconds=8, port=5001, churn_per_s=0,
                      churn_until=None, timeout=90, ports_file=None):
        cmd = [PYTHON, str(HERE / "transfers.py"), "send", "--dst", self.server_ip, "--port",
               str(port), "--conns", str(conns), "--bytes", str(nbytes), "--seconds",
               str(seconds), "--timeout", str(timeout)]
        if churn_per_s:
            cmd += ["--churn-per-s", str(churn_per_s), "--churn-until-file", str(churn_until)]
        if ports_file:
            cmd += ["--ports-file", str(ports_file)]
        return self.spawn(self.ns_client, cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


def wait_senders(p, timeout=120):
    """The senders' summary (transfers.py send)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise CommandError(f"senders did not finish in {timeout}s: {err}")
    LIVE_PROCS.pop(p.pid, None)
    if p.returncode != 0:
        raise CommandError(f"senders exit {p.returncode}: {err}")
    return json.loads(out)


def received(report):
    return [json.loads(line) for line in Path(report).read_text().splitlines() if line]


# ---- checks shared by the failover and scaling tests -------------------------

def steered_packets(f):
    """Packets the steering node sent to each instance of the tenant."""
    t = next(t for t in f.steering()["tenants"] if t["name"] == TENANT)
    return {i["name"]: i["packets"] for i in t["instances"]}


def busiest_instance(f, window=1.0):
    """The instance the steering node sent the most packets to in the last
    `window` seconds, and that count."""
    a = steered_packets(f)
    time.sleep(window)
    b = steered_packets(f)
    rates = {n: b[n] - a.get(n, 0) for n in b}
    name = max(rates, key=rates.get)
    return name, rates[name]


def assert_transfers_intact(res, report, expect_long):
    """Every connection the senders opened completed, with the receiver's
    digest matching, and the receiver saw no error (no reset, no wrong byte).
    Returns the longest stall the receiver saw on a connection."""
    failed = [c for c in res["conns"] if not c["ok"]]
    assert not failed, f"{len(failed)} of {len(res['conns'])} failed: {failed[:5]}"
    longs = [c for c in res["conns"] if c["kind"] == "long"]
    assert len(longs) == expect_long
    recs = received(report)
    bad = [r for r in recs if not r["ok"]]
    assert not bad, bad[:5]
    assert len(recs) == len(res["conns"]), (len(recs), len(res["conns"]))
    return max(r["max_gap_s"] for r in recs)


def wait_until(what, fn, timeout=20, interval=0.01):
    """Poll fn until it returns a true value; (value, seconds waited)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        v = fn()
        if v:
            return v, time.monotonic() - start
        time.sleep(interval)
    raise CommandError(f"{what}: not within {timeout}s")
