"""
test_orch_api.py - slnf-orch, the orchestrator, through its REST API.

Each test starts slnf-orch on 127.0.0.1 (port 0: the kernel picks a free
one, read back from the `ready: listening on` line) with a private token
file, run directory and shm table, and removes all of them afterwards, with
any slnfd the orchestrator launched (killed by PID; instances outlive the
orchestrator by design, so the test tracks their PIDs itself).

- a bad config is refused with the file, the field and the reason (exit 2);
- every resource (tenants, pools, instances, steering, stats, flows) and
  the error codes: 400 naming the field, 401 missing token, 403 wrong
  token, 404, 405, 409, 413;
- scaling, draining and explain: their bad requests (400 naming the field,
  404, 405, 503 without a steering node) and tokens;
- steering pushes to a fake steer node (a Unix socket served by the test):
  an instance up is pushed with its epoch, a SIGKILLed one is pushed out
  with the failover figure in /v1/stats, and a SIGKILLed orchestrator that
  restarts never pushes a table without its running, adopted instance, and
  goes on with a larger epoch;
- scale out from a template to real slnfd instances, scale in draining the
  highest-numbered one until it is stopped and removed;
- orchestrator restart: SIGKILL slnf-orch and start it again: the desired
  state is intact;
- an instance launched as a real slnfd on ring ports (no namespaces)
  comes up, is adopted by a restarted orchestrator, and is seen down once it
  is SIGKILLed.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import http_api
from topo import LIVE_PROCS, remove_shm, slnfd_path, stop_process, read_log

TOKEN = "t0ken-for-tests"
READY = re.compile(r"ready: listening on 127\.0\.0\.1:(\d+)")
_seq = iter(range(1, 1000))


def orch_path():
    return os.environ.get("SLNF_ORCH") or str(Path(slnfd_path()).parent / "src/orch/slnf-orch")


@pytest.fixture(scope="module")
def orch_bin():
    path = orch_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"slnf-orch not found: {path} (build it, or set SLNF_ORCH)")
    return path


def tenant(name="t1", tid=1):
    """A tenant on two ring ports (nothing arrives, no namespace needed)."""
    return {"name": name, "id": tid, "match": {"ports": ["lan", "wan"]},
            "ports": [{"name": "lan", "type": "ring", "ipv4": ["10.1.1.1/24"]},
                      {"name": "wan", "type": "ring", "ipv4": ["10.2.2.1/24"]}],
            "chain": [{"nf": "router", "routes": [
                {"prefix": "0.0.0.0/0", "port": "wan", "via": "10.2.2.254"}]}]}


class Orch:
    """One slnf-orch with its own directory, tokens and shm table."""

    def __init__(self, binary, **extra):
        self.binary, self.extra = binary, extra
        self.n = next(_seq)
        self.shm = f"t{os.getpid()}-orch{self.n}"
        self.proc = self.port = None
        self.instance_pids = set()

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix=f"slnfo{os.getpid()}-"))
        (self.tmp / "tokens").write_text(f"# test tokens\n{TOKEN}\n")
        cfg = {"listen": {"address": "127.0.0.1", "port": 0},
               "auth": {"tokens_file": str(self.tmp / "tokens")},
               "store": {"backend": "shm", "capacity": 65536, "shm": {"name": self.shm}},
               "slnfd": slnfd_path(), "run_dir": str(self.tmp / "run"),
               "health": {"interval_ms": 20, "detection_ms": 100}, **self.extra}
        self.config = self.tmp / "orch.json"
        self.config.write_text(json.dumps(cfg, indent=2))
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.proc is not None:
                code, killed = stop_process(self.proc)
                assert exc_type or (code == 0 and not killed), \
                    f"slnf-orch exit {code} on SIGTERM:\n{self.log()}"
            for pid in self.instance_pids:
                self._kill_instance(pid)
            # sanitizer builds report into the log without failing a request
            assert exc_type or not re.search(r"runtime error|Sanitizer", self.log()), self.log()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            remove_shm(self.shm)
        return False

    def _kill_instance(self, pid):
        """SIGKILL an instance we launched, if that PID is still it."""
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if str(self.tmp).encode() in cmd:
            os.kill(pid, signal.SIGKILL)

    def log(self):
        return read_log(self.tmp / "orch.log")

    def start(self, timeout=15):
        seen = len(self.log())  # a restart appends to the same log
        with open(self.tmp / "orch.log", "a") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        LIVE_PROCS[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            ports = READY.findall(self.log()[seen:])
            if ports:
                self.port = int(ports[-1])
                return
            time.sleep(0.05)
        raise AssertionError(f"slnf-orch not ready in {timeout}s:\n{self.log()}")

    def kill(self):
        """SIGKILL the orchestrator (instances keep running)."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        LIVE_PROCS.pop(self.proc.pid, None)
        self.proc = None

    def call(self, method, path, body=None, token=TOKEN, raw=None):
        """(status, parsed JSON body or None)."""
        status, got = http_api.call(f"http://127.0.0.1:{self.port}", method, path, body, token,
                                    raw)
        if path.startswith("/v1/instances") and method == "GET" and got:
            for inst in got.get("instances", [got]):
                pid = inst.get("status", {}).get("pid") if isinstance(inst, dict) else None
                if pid:
                    self.instance_pids.add(pid)
        return status, got

    def wait_state(self, name, state, timeout=30):
        deadline, inst = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            st, inst = self.call("GET", f"/v1/instances/{name}")
            assert st == 200, inst
            if inst["status"]["state"] == state:
                return inst
            time.sleep(0.02)
        raise AssertionError(f"instance {name} not {state} within {timeout}s: {inst}\n"
                             f"orch log:\n{self.log()}")


def expect_error(o, method, path, body, status, field=None, raw=None, token=TOKEN):
    st, b = o.call(method, path, body, raw=raw, token=token)
    assert st == status, (method, path, st, b)
    assert isinstance(b, dict) and b.get("error"), b
    if field is not None:
        assert b.get("field", "") == field, b
    return b


def test_orch_bad_config_refused(orch_bin, tmp_path):
    bad = tmp_path / "orch.json"
    tokens = tmp_path / "tokens"
    tokens.write_text("tok\n")
    cases = [
        ({"auth": {"tokens_file": str(tokens)}, "listen": {"port": 70000}}, "listen.port"),
        ({"auth": {"tokens_file": str(tokens)}, "store": {"backend": "nope"}}, "store.backend"),
        ({"auth": {"tokens_file": str(tokens)}, "helth": {}}, "helth"),
        ({}, "auth.tokens_file"),
        ({"auth": {"tokens_file": str(tokens)}, "slnfd": str(tmp_path / "no-slnfd")}, "slnfd"),
        ({"auth": {"tokens_file": str(tokens)}, "steering": {"sockets": []}}, "steering.sockets"),
        ({"auth": {"tokens_file": str(tokens)}, "steering": {"sockets": ["/a"], "push": 1}},
         "steering.push"),
        ({"auth": {"tokens_file": str(tokens)}, "steering": {"sockets": ["/a"],
                                                             "push_interval_ms": 1}},
         "steering.push_interval_ms"),
        ({"auth": {"tokens_file": str(tokens)}, "instances": {"drain_timeout_ms": "5s"}},
         "instances.drain_timeout_ms"),
    ]
    for cfg, field in cases:
        bad.write_text(json.dumps(cfg))
        r = subprocess.run([orch_bin, "-c", str(bad)], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (cfg, r.stderr)
        assert f"{bad}: {field}: " in r.stderr, r.stderr
    tokens.write_text("# no token here\n")
    bad.write_text(json.dumps({"auth": {"tokens_file": str(tokens)}}))
    r = subprocess.run([orch_bin, "-c", str(bad)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "no API token" in r.stderr, r.stderr


def test_orch_api_resources_and_errors(orch_bin):
    with Orch(orch_bin, max_body=4096) as o:
        o.start()
        # tokens: every request needs one (reads too, by default)
        assert expect_error(o, "GET", "/v1/tenants", None, 401, token=None)
        expect_error(o, "POST", "/v1/tenants", tenant(), 401, token=None)
        expect_error(o, "GET", "/v1/tenants", None, 403, token="wrong")
        expect_error(o, "DELETE", "/v1/tenants/t1", None, 403, token=TOKEN + "x")
        # tenants
        assert o.call("GET", "/v1/tenants") == (200, {"tenants": []})
        st, t1 = o.call("POST", "/v1/tenants", tenant())
        assert st == 201 and t1 == tenant()
        expect_error(o, "POST", "/v1/tenants", tenant(), 409, "name")
        expect_error(o, "POST", "/v1/tenants", tenant("t2", 1), 409, "id")
        expect_error(o, "POST", "/v1/tenants", None, 400, "", raw=b'{"name": "t2",')
        bad = tenant("t2", 2)
        bad["chain"][0]["routes"][0]["via"] = "10.9.9.9"
        b = expect_error(o, "POST", "/v1/tenants", bad, 400, "chain[0].routes[0].via")
        assert "connected network" in b["error"]
        bad = tenant("t2", 2)
        bad["chain"].insert(0, {"nf": "firewall", "default": "sometimes"})
        expect_error(o, "POST", "/v1/tenants", bad, 400, "chain[0].default")
        expect_error(o, "POST", "/v1/tenants", dict(tenant("t2", 2), extra=1), 400, "extra")
        expect_error(o, "POST", "/v1/tenants", None, 413, raw=b"{" + b" " * 8192 + b"}")
        assert o.call("GET", "/v1/tenants/t1") == (200, tenant())
        expect_error(o, "GET", "/v1/tenants/nobody", None, 404)
        changed = tenant()
        changed["chain"][0]["routes"][0]["via"] = "10.2.2.253"
        assert o.call("PUT", "/v1/tenants/t1", changed) == (200, changed)
        st, t2 = o.call("PUT", "/v1/tenants/t2", tenant("t2", 2))
        assert st == 201
        expect_error(o, "PATCH", "/v1/tenants/t1", {}, 405)
        expect_error(o, "DELETE", "/v1/tenants", None, 405)
        # pools
        expect_error(o, "POST", "/v1/pools", {"name": "p1", "tenant": "zz"}, 400, "tenant")
        expect_error(o, "POST", "/v1/pools", {"name": "p1", "tenant": "t1", "min": 9, "max": 2},
                     400, "min")
        st, p1 = o.call("POST", "/v1/pools", {"name": "p1", "tenant": "t1", "max": 4})
        assert st == 201 and p1 == {"name": "p1", "tenant": "t1", "max": 4, "min": 1,
                                    "status": {"count": 0, "instances": []}}
        assert o.call("GET", "/v1/pools")[1] == {"pools": [p1]}
        # instances (validated, not launched here: bad overrides are refused)
        expect_error(o, "POST", "/v1/instances", {"name": "i1", "pool": "nope"}, 400, "pool")
        expect_error(o, "POST", "/v1/instances",
                     {"name": "i1", "pool": "p1", "ports": {"lan": {"type": "floppy"}}}, 400,
                     "ports.lan.type")
        expect_error(o, "POST", "/v1/instances",
                     {"name": "i1", "pool": "p1", "ports": {"dmz": {}}}, 400, "ports.dmz")
        # references
        b = expect_error(o, "DELETE", "/v1/tenants/t1", None, 409)
        assert "p1" in b["error"]
        # read-only resources
        st, steer = o.call("GET", "/v1/steering")
        assert st == 200 and [t["tenant"] for t in steer["tenants"]] == ["t1", "t2"]
        assert all(t["instances"] == [] and t["size"] == 65537 for t in steer["tenants"])
        expect_error(o, "GET", "/v1/steering/zz", None, 404)
        expect_error(o, "PUT", "/v1/steering/t1", {}, 405)
        st, stats = o.call("GET", "/v1/stats")
        assert st == 200 and stats["tenants"] == 2 and stats["pools"] == 1
        assert stats["store"]["backend"] == "shm" and stats["desired"]["generation"] >= 4
        assert o.call("GET", "/v1/flows") == (200, {"flows": [], "instances": {}})
        expect_error(o, "POST", "/v1/flows", {}, 405)
        expect_error(o, "GET", "/v1/nothing", None, 404)
        expect_error(o, "GET", "/tenants", None, 404)
        # deleting in order
        assert o.call("DELETE", "/v1/pools/p1") == (204, None)
        assert o.call("DELETE", "/v1/tenants/t1") == (204, None)
        assert o.call("DELETE", "/v1/tenants/t2") == (204, None)
        assert o.call("GET", "/v1/tenants") == (200, {"tenants": []})


def test_orch_restart_keeps_desired_state(orch_bin):
    with Orch(orch_bin) as o:
        o.start()
        for i in range(1, 6):
            assert o.call("POST", "/v1/tenants", tenant(f"t{i}", i))[0] == 201
            assert o.call("POST", "/v1/pools", {"name": f"p{i}", "tenant": f"t{i}"})[0] == 201
        assert o.call("DELETE", "/v1/pools/p3")[0] == 204
        before = {k: o.call("GET", f"/v1/{k}")[1] for k in ("tenants", "pools")}
        gen = o.call("GET", "/v1/stats")[1]["desired"]["generation"]
        o.kill()
        o.start()
        after = {k: o.call("GET", f"/v1/{k}")[1] for k in ("tenants", "pools")}
        assert after == before
        assert o.call("GET", "/v1/stats")[1]["desired"]["generation"] == gen
        # and it keeps going from there
        assert o.call("POST", "/v1/pools", {"name": "p3", "tenant": "t3"})[0] == 201
        o.kill()
        o.start()
        assert len(o.call("GET", "/v1/pools")[1]["pools"]) == 5


def test_orch_instance_health_and_restart(orch_bin):
    # restarts off: the killed instance is to stay down (test_failover.py
    # checks a restart)
    with Orch(orch_bin, instances={"restart_ms": 0}) as o:
        o.start()
        name = f"i{os.getpid()}x{o.n}"
        assert o.call("POST", "/v1/tenants", tenant())[0] == 201
        assert o.call("POST", "/v1/pools", {"name": "p1", "tenant": "t1"})[0] == 201
        assert o.call("POST", "/v1/instances", {"name": name, "pool": "p1"})[0] == 201
        inst = o.wait_state(name, "up")
        pid = inst["status"]["pid"]
        assert Path(f"/proc/{pid}/exe").resolve().name == "slnfd"
        st, s = o.call("GET", f"/v1/instances/{name}/stats")
        assert st == 200 and s["name"] == name, s
        st, steer = o.call("GET", "/v1/steering/t1")
        assert [(i["name"], i["entries"]) for i in steer["instances"]] == [(name, 65537)]
        # orchestrator restart: the instance keeps running and is adopted
        o.kill()
        assert Path(f"/proc/{pid}").exists()
        o.start()
        inst = o.wait_state(name, "up")
        assert inst["status"]["pid"] == pid
        # the instance dies: seen down, and out of the steering table
        os.kill(pid, signal.SIGKILL)
        inst = o.wait_state(name, "down", timeout=10)
        assert inst["status"]["reason"], inst
        assert o.call("GET", "/v1/steering/t1")[1]["instances"] == []
        expect_error(o, "GET", f"/v1/instances/{name}/stats", None, 503)
        assert o.call("DELETE", f"/v1/instances/{name}") == (204, None)
        assert o.call("GET", "/v1/instances") == (200, {"instances": []})


def test_orch_deletes_running_instance(orch_bin):
    with Orch(orch_bin) as o:
        o.start()
        name = f"i{os.getpid()}x{o.n}"
        assert o.call("POST", "/v1/tenants", tenant())[0] == 201
        assert o.call("POST", "/v1/pools", {"name": "p1", "tenant": "t1"})[0] == 201
        assert o.call("POST", "/v1/instances", {"name": name, "pool": "p1"})[0] == 201
        pid = o.wait_state(name, "up")["status"]["pid"]
        expect_error(o, "DELETE", "/v1/pools/p1", None, 409)
        assert o.call("DELETE", f"/v1/instances/{name}") == (204, None)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_orch_scale_drain_explain_errors(orch_bin):
    with Orch(orch_bin) as o:
        o.start()
        assert o.call("POST", "/v1/tenants", tenant())[0] == 201
        # templates and policies are checked when the pool is
        expect_error(o, "POST", "/v1/pools",
                     {"name": "p1", "tenant": "t1", "template": {"name": "x"}}, 400,
                     "template.name")
        expect_error(o, "POST", "/v1/pools",
                     {"name": "p1", "tenant": "t1",
                      "template": {"ports": {"lan": {"type": "floppy"}}}}, 400,
                     "template.ports.lan.type")
        expect_error(o, "POST", "/v1/pools",
                     {"name": "p1", "tenant": "t1",
                      "policy": {"scale_out_pps": 100, "scale_in_pps": 100}}, 400,
                     "policy.scale_in_pps")
        st, p1 = o.call("POST", "/v1/pools", {"name": "p1", "tenant": "t1", "min": 0, "max": 2,
                                               "policy": {"scale_out_pps": 1e6,
                                                          "scale_in_pps": 10}})
        assert st == 201 and p1["policy"]["interval_ms"] == 1000, p1
        assert p1["status"]["pps"] is None, p1
        # tokens: scale, drain and explain need one
        for method, path, body in (("POST", "/v1/pools/p1/scale", {"instances": 1}),
                                   ("POST", "/v1/instances/x/drain", {}),
                                   ("GET", "/v1/explain?tenant=t1", None)):
            expect_error(o, method, path, body, 401, token=None)
            expect_error(o, method, path, body, 403, token="wrong")
        # scale
        expect_error(o, "POST", "/v1/pools/p1/scale", {"instances": 3}, 400, "instances")
        expect_error(o, "POST", "/v1/pools/p1/scale", {"instances": -1}, 400, "instances")
        expect_error(o, "POST", "/v1/pools/p1/scale", {}, 400, "instances")
        expect_error(o, "POST", "/v1/pools/p1/scale", {"instances": 1, "x": 1}, 400, "x")
        expect_error(o, "POST", "/v1/pools/p1/scale", None, 400, "", raw=b"{")
        expect_error(o, "POST", "/v1/pools/nope/scale", {"instances": 1}, 404)
        expect_error(o, "PUT", "/v1/pools/p1/scale", {"instances": 1}, 405)
        # drain
        expect_error(o, "POST", "/v1/instances/nope/drain", {}, 404)
        expect_error(o, "GET", "/v1/instances/nope/drain", None, 405)
        expect_error(o, "POST", "/v1/instances", {"name": "i1", "pool": "p1", "draining": True},
                     400, "draining")
        # explain: parameters named, then no steering node configured
        q = "tenant=t1&proto=tcp&src=10.1.1.2&sport=40000&dst=10.2.2.2&dport=80"
        expect_error(o, "GET", "/v1/explain", None, 400, "tenant")
        expect_error(o, "GET", "/v1/explain?tenant=zz", None, 400, "tenant")
        expect_error(o, "GET", "/v1/explain?" + q.replace("tcp", "tcpx"), None, 400, "proto")
        expect_error(o, "GET", "/v1/explain?" + q.replace("10.1.1.2", "10.1.1"), None, 400,
                     "src")
        expect_error(o, "GET", "/v1/explain?" + q.replace("40000", "70000"), None, 400, "sport")
        expect_error(o, "GET", "/v1/explain?" + q.replace("&dport=80", ""), None, 400, "dport")
        expect_error(o, "GET", "/v1/explain?" + q + "&colour=red", None, 400, "colour")
        expect_error(o, "GET", "/v1/explain?" + q + "&tenant=t1", None, 400, "tenant")
        expect_error(o, "GET", "/v1/explain?" + q + "&port=a%20b", None, 400, "port")
        b = expect_error(o, "GET", "/v1/explain?" + q, None, 503)
        assert "steering" in b["error"], b
        expect_error(o, "POST", "/v1/explain", {}, 405)
        st, steer = o.call("GET", "/v1/steering")
        assert st == 200 and steer["push"]["nodes"] == [], steer
        st, stats = o.call("GET", "/v1/stats")
        assert st == 200 and stats["last_failover_ms"] is None, stats


class FakeSteer:
    """A steer node's control socket as slnfd serves it: one line in, one
    JSON answer out. Records every steer message it acknowledges."""

    def __init__(self, path):
        self.path, self.messages, self.stop = str(path), [], False
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            with c:
                c.settimeout(5)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = c.recv(1 << 16)
                    if not chunk:
                        break
                    data += chunk
                line = data.decode().rstrip("\n")
                cmd, _, arg = line.partition(" ")
                if cmd == "steer":
                    msg = json.loads(arg)
                    with self.lock:
                        self.messages.append(msg)
                    answer = {"steer": "ok", "epoch": msg["epoch"],
                              "tenants": len(msg["tenants"])}
                elif cmd == "explain":
                    answer = {"tenant": json.loads(arg)["tenant"], "instance": "fake",
                              "epoch": 1, "hash": 7, "entry": 7}
                else:
                    answer = {"error": f"unknown command {cmd}"}
                c.sendall(json.dumps(answer).encode())

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        Path(self.path).unlink(missing_ok=True)

    def members(self, msg, tenant="t1"):
        return [i["name"] for t in msg["tenants"] if t["name"] == tenant
                for i in t["instances"]]

    def wait(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for m in reversed(self.messages):
                    if pred(m):
                        return m
            time.sleep(0.02)
        raise AssertionError(f"no steer message {what}; got {self.messages[-3:]}")


def test_orch_steering_push_failover_restart(orch_bin):
    tmp = Path(tempfile.mkdtemp(prefix=f"slnfs{os.getpid()}-"))
    steer = FakeSteer(tmp / "steer.sock")
    try:
        # restarts off: the dead instance must stay out of the tables here
        with Orch(orch_bin, steering={"sockets": [steer.path], "push_interval_ms": 200},
                  instances={"restart_ms": 0}) as o:
            o.start()
            a, b = f"a{os.getpid()}x{o.n}", f"b{os.getpid()}x{o.n}"
            assert o.call("POST", "/v1/tenants", tenant())[0] == 201
            assert o.call("POST", "/v1/pools", {"name": "p1", "tenant": "t1"})[0] == 201
            for name in (a, b):
                assert o.call("POST", "/v1/instances", {"name": name, "pool": "p1"})[0] == 201
            pa = o.wait_state(a, "up")["status"]["pid"]
            o.wait_state(b, "up")
            both = steer.wait(lambda m: steer.members(m) == sorted([a, b]), "with both")
            st, view = o.call("GET", "/v1/steering")
            assert view["epoch"] >= both["epoch"] and view["push"]["pushes"] >= 1, view
            assert view["push"]["nodes"][0]["ok"] is True, view
            # explain goes to the steer node
            st, ex = o.call("GET", "/v1/explain?tenant=t1&proto=udp&src=10.1.1.2&sport=5"
                                   "&dst=10.2.2.2&dport=53")
            assert st == 200 and ex["instance"] == "fake", ex
            # the orchestrator is SIGKILLed and restarts: every push after
            # the restart holds both running instances, with a larger epoch
            o.kill()
            with steer.lock:
                seen = len(steer.messages)
            o.start()
            o.wait_state(a, "up")
            later = steer.wait(lambda m: m["epoch"] > both["epoch"], "after the restart")
            assert steer.members(later) == sorted([a, b]), later
            with steer.lock:
                after = steer.messages[seen:]
            assert after and all(steer.members(m) == sorted([a, b]) for m in after), after
            # an instance dies: pushed out, and the failover figure is there
            os.kill(pa, signal.SIGKILL)
            o.wait_state(a, "down", timeout=10)
            steer.wait(lambda m: steer.members(m) == [b], f"without {a}")
            deadline = time.monotonic() + 10
            while o.call("GET", "/v1/stats")[1]["last_failover_ms"] is None:
                assert time.monotonic() < deadline, o.log()
                time.sleep(0.02)
            assert re.search(rf"instance {a} down: steering pushed \d+ ms after its last "
                             r"heartbeat", o.log()), o.log()
            # a steer node that restarts gets the tables again within the interval
            with steer.lock:
                steer.messages.clear()
            steer.wait(lambda m: steer.members(m) == [b], "resent")
    finally:
        steer.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_orch_scale_out_and_in(orch_bin):
    with Orch(orch_bin) as o:
        o.start()
        pool = f"s{os.getpid()}x{o.n}"
        assert o.call("POST", "/v1/tenants", tenant())[0] == 201
        assert o.call("POST", "/v1/pools", {
            "name": pool, "tenant": "t1", "min": 1, "max": 3,
            "template": {"eal": {"file_prefix": f"slnf-{pool}-{{n}}"}}})[0] == 201
        st, b = o.call("POST", f"/v1/pools/{pool}/scale", {"instances": 2})
        assert st == 202 and [i["name"] for i in b["instances"]] == [f"{pool}-1", f"{pool}-2"]
        for n in (1, 2):
            inst = o.wait_state(f"{pool}-{n}", "up")
            assert inst["eal"]["file_prefix"] == f"slnf-{pool}-{n}", inst
        st, steer = o.call("GET", "/v1/steering/t1")
        assert [i["name"] for i in steer["instances"]] == [f"{pool}-1", f"{pool}-2"], steer
        pid2 = o.call("GET", f"/v1/instances/{pool}-2")[1]["status"]["pid"]
        # scale in: the highest-numbered one drains (out of the table at
        # once), then, its counters still, is stopped and removed
        st, b = o.call("POST", f"/v1/pools/{pool}/scale", {"instances": 1})
        assert st == 202 and {i["name"]: i["state"] for i in b["instances"]}[f"{pool}-2"] \
            == "draining", b
        st, steer = o.call("GET", "/v1/steering/t1")
        assert [i["name"] for i in steer["instances"]] == [f"{pool}-1"], steer
        deadline = time.monotonic() + 30
        while o.call("GET", f"/v1/instances/{pool}-2")[0] != 404:
            assert time.monotonic() < deadline, o.log()
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid2}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(f"/proc/{pid2}").exists() or \
            Path(f"/proc/{pid2}/stat").read_text().split(")")[1].split()[0] == "Z"
        st, p = o.call("GET", f"/v1/pools/{pool}")
        assert p["status"]["count"] == 1, p
        # drain by API: the last one
        st, inst = o.call("POST", f"/v1/instances/{pool}-1/drain", {})
        assert st == 202 and inst["draining"] is True, inst
        deadline = time.monotonic() + 30
        while o.call("GET", f"/v1/instances/{pool}-1")[0] != 404:
            assert time.monotonic() < deadline, o.log()
            time.sleep(0.05)
        assert o.call("GET", "/v1/instances") == (200, {"instances": []})


def test_orch_policy_scales_idle_pool_in(orch_bin):
    """Ring ports carry nothing: 0 packets/s is below scale_in_pps, so the
    policy drains the pool down to its min, and shows what it measured."""
    with Orch(orch_bin) as o:
        o.start()
        pool = f"q{os.getpid()}x{o.n}"
        assert o.call("POST", "/v1/tenants", tenant())[0] == 201
        assert o.call("POST", "/v1/pools", {
            "name": pool, "tenant": "t1", "min": 1, "max": 2,
            "template": {"eal": {"file_prefix": f"slnf-{pool}-{{n}}"}},
            "policy": {"scale_out_pps": 1e9, "scale_in_pps": 10, "interval_ms": 200,
                       "cooldown_ms": 0}})[0] == 201
        assert o.call("POST", f"/v1/pools/{pool}/scale", {"instances": 2})[0] == 202
        deadline = time.monotonic() + 30
        while True:
            st, p = o.call("GET", f"/v1/pools/{pool}")
            if [i["name"] for i in p["status"]["instances"]] == [f"{pool}-1"]:
                break
            assert time.monotonic() < deadline, (p, o.log())
            time.sleep(0.05)
        assert p["status"]["count"] == 1 and p["status"]["pps"] is not None, p
        assert "policy scales in to 1" in o.log(), o.log()
        for inst in o.call("GET", "/v1/instances")[1]["instances"]:
            o.instance_pids.add(inst["status"]["pid"])


def test_orch_read_open_keeps_data_plane_reads_closed(orch_bin):
    with Orch(orch_bin) as o:
        cfg = json.loads(o.config.read_text())
        cfg["auth"] = {"tokens_file": str(o.tmp / "tokens"), "read_open": True}
        o.config.write_text(json.dumps(cfg))
        o.start()
        assert o.call("GET", "/v1/tenants", token=None) == (200, {"tenants": []})
        assert o.call("GET", "/v1/steering", token=None)[0] == 200
        # explain and flows ask the data plane: a token even for reads
        expect_error(o, "GET", "/v1/explain?tenant=t1", None, 401, token=None)
        expect_error(o, "GET", "/v1/flows", None, 401, token=None)
        expect_error(o, "GET", "/v1/flows", None, 403, token="wrong")
        assert o.call("GET", "/v1/flows")[0] == 200
        # changes always need one
        expect_error(o, "POST", "/v1/pools/p1/scale", {"instances": 1}, 401, token=None)
