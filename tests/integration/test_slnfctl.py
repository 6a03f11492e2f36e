"""
test_slnfctl.py - slnfctl, the command-line client, against a real
slnf-orch.

One slnf-orch per module (127.0.0.1, port 0: the kernel picks one, read back
from the `ready: listening on` line) with a private token file, run
directory and shm table, all removed afterwards with any slnfd it launched
(killed by PID, after checking the PID is still a process of this test's
directory: instances outlive the orchestrator by design).

- resources created with `slnfctl create` from JSON files (a tenant on two
  ring ports, a pool, an instance that comes up as a real slnfd), then
  shown by `tenants`, `chains`, `pools`, `instances`, `stats`, `stats
  INSTANCE`, `steering` as tables, and with `-o json` exactly as the API
  answers; `delete`;
- tokens: none (401, exit 1, a hint), a wrong one (403), --token-file and
  $SLNF_TOKEN;
- a bad request: `slnfctl: 400: <field>: <reason>`, exit 1; usage errors
  exit 2; a file that is not JSON;
- a server that is not there: exit 1, the message names the URL;
- flows, explain, scale and drain, which slnf-orch is gaining: each is
  checked against the API's own answer to the same request. Only when the
  API itself answers 404 (no such path) or 501 for it is the rest of that
  check skipped, after checking slnfctl reported that answer correctly; a
  slnfctl that gets 404 where the API does not fails the test.
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

import pytest

import http_api
from topo import LIVE_PROCS, read_log, remove_shm, slnfd_path, stop_process

TOKEN = "slnfctl-test-token"
READY = re.compile(r"ready: listening on 127\.0\.0\.1:(\d+)")
ERROR_LINE = re.compile(r"^slnfctl: (\d{3}): ")


def slnfctl_path():
    return os.environ.get("SLNFCTL") or str(Path(slnfd_path()).parent / "slnfctl")


def orch_path():
    return os.environ.get("SLNF_ORCH") or str(Path(slnfd_path()).parent / "src/orch/slnf-orch")


def tenant_doc(name="t1", tid=1):
    """A tenant on two ring ports (nothing arrives, no namespace needed)."""
    return {"name": name, "id": tid, "match": {"ports": ["lan", "wan"]},
            "ports": [{"name": "lan", "type": "ring", "ipv4": ["10.1.1.1/24"]},
                      {"name": "wan", "type": "ring", "ipv4": ["10.2.2.1/24"]}],
            "inside": ["lan"],
            "chain": [{"nf": "firewall"},
                      {"nf": "router", "routes": [
                          {"prefix": "0.0.0.0/0", "port": "wan", "via": "10.2.2.254"}]}]}


class Orch:
    """One slnf-orch with its own directory, tokens and shm table."""

    def __init__(self, binary):
        self.binary = binary
        self.shm = f"t{os.getpid()}-slnfctl"
        self.proc = self.port = None
        self.tmp = Path(tempfile.mkdtemp(prefix=f"slnfc{os.getpid()}-"))
        self.tokens = self.tmp / "tokens"
        self.tokens.write_text(f"# slnfctl test tokens\n\n{TOKEN}\nsecond-token\n")
        cfg = {"listen": {"address": "127.0.0.1", "port": 0},
               "auth": {"tokens_file": str(self.tokens)},
               "store": {"backend": "shm", "capacity": 65536, "shm": {"name": self.shm}},
               "slnfd": slnfd_path(), "run_dir": str(self.tmp / "run"),
               "health": {"interval_ms": 20, "detection_ms": 100}}
        self.config = self.tmp / "orch.json"
        self.config.write_text(json.dumps(cfg, indent=2))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return read_log(self.tmp / "orch.log")

    def start(self, timeout=15):
        with open(self.tmp / "orch.log", "a") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        LIVE_PROCS[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            ports = READY.findall(self.log())
            if ports:
                self.port = int(ports[-1])
                return
            time.sleep(0.05)
        raise AssertionError(f"slnf-orch not ready in {timeout}s:\n{self.log()}")

    def call(self, method, path, body=None, token=TOKEN):
        """The API's own answer: (status, parsed JSON body or None)."""
        return http_api.call(self.url, method, path, body, token)

    def _our_pids(self):
        """slnfd processes started for this orchestrator's run directory."""
        pids = set()
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if str(self.tmp).encode() in (p / "cmdline").read_bytes():
                        pids.add(int(p.name))
                except OSError:
                    pass
        return pids

    def stop(self):
        try:
            if self.proc is not None:
                code, killed = stop_process(self.proc)
                assert code == 0 and not killed, f"slnf-orch exit {code}:\n{self.log()}"
        finally:
            for pid in self._our_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(self.tmp, ignore_errors=True)
            remove_shm(self.shm)
            # DPDK's runtime directories of this module's instances
            for d in Path("/var/run/dpdk").glob(f"slnf-[is]{os.getpid()}*"):
                shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def ctl():
    path = slnfctl_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"slnfctl not found: {path} (build it, or set SLNFCTL)")
    return path


@pytest.fixture(scope="module")
def orch():
    path = orch_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"slnf-orch not found: {path} (build it, or set SLNF_ORCH)")
    o = Orch(path)
    try:
        o.start()
        yield o
    finally:
        o.stop()


def run(ctl, *args, env=None, stdin=None, token=TOKEN, server=None):
    """slnfctl with args: (exit status, stdout, stderr). $SLNF_URL and
    $SLNF_TOKEN come from env only (none by default); token and server, when
    given, are passed with -t and -s."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLNF_")}
    full_env.update(env or {})
    cmd = [ctl]
    if server is not None:
        cmd += ["-s", server]
    if token is not None:
        cmd += ["-t", token]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                       env=full_env, input=stdin)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def deployed(ctl, orch):
    """t1, p1 and an instance created with `slnfctl create`, the instance up."""
    files = orch.tmp / "files"
    files.mkdir()
    inst = f"i{os.getpid()}c"
    docs = {"tenant": tenant_doc(), "pool": {"name": "p1", "tenant": "t1"},
            "instance": {"name": inst, "pool": "p1"}}
    for kind, doc in docs.items():
        f = files / f"{kind}.json"
        f.write_text(json.dumps(doc, indent=2))
        code, out, err = run(ctl, "create", kind, str(f), server=orch.url)
        assert code == 0, (kind, out, err)
        assert out == f"{kind} {doc['name']} created\n", out
    deadline, st = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        st = orch.call("GET", f"/v1/instances/{inst}")[1]["status"]
        if st["state"] == "up":
            break
        time.sleep(0.05)
    assert st["state"] == "up", f"{st}\n{orch.log()}"
    return {"instance": inst, "pid": st["pid"]}


def table(text):
    """A table as its header's words and rows split on runs of 2+ spaces."""
    lines = text.rstrip("\n").split("\n")
    rows = [re.split(r" {2,}", line.strip()) for line in lines]
    return rows[0], rows[1:]


# ---- resources, tables and -o json ----

def test_slnfctl_tables(ctl, orch, deployed):
    inst, pid = deployed["instance"], deployed["pid"]
    code, out, err = run(ctl, "tenants", server=orch.url)
    assert code == 0, err
    head, rows = table(out)
    assert head == ["NAME", "ID", "PORTS", "INSIDE", "CHAIN"], out
    assert rows == [["t1", "1", "lan,wan", "lan", "firewall,router"]], out
    assert not any(line.endswith(" ") for line in out.splitlines()), repr(out)

    code, out, err = run(ctl, "chains", "t1", server=orch.url)
    assert code == 0, err
    assert table(out) == (["TENANT", "ID", "INSIDE", "CHAIN"],
                          [["t1", "1", "lan", "firewall -> router"]]), out

    code, out, err = run(ctl, "pools", server=orch.url)
    assert code == 0, err
    head, rows = table(out)
    assert head == ["NAME", "TENANT", "MIN", "MAX", "INSTANCES"], out
    # INSTANCES: the pool's status.count, from an orchestrator that gives it
    count = orch.call("GET", "/v1/pools/p1")[1].get("status", {}).get("count", "-")
    assert rows == [["p1", "t1", "1", "8", str(count)]], out

    code, out, err = run(ctl, "instances", server=orch.url)
    assert code == 0, err
    head, rows = table(out)
    assert head == ["NAME", "POOL", "STATE", "PID", "HEARTBEAT-AGE", "REASON"], out
    assert len(rows) == 1 and rows[0][:4] == [inst, "p1", "up", str(pid)], out
    assert re.fullmatch(r"\d+(ms|\.\ds|s)", rows[0][4]), out
    # columns line up: each header word starts where its column's cells do
    lines = out.splitlines()
    col = lines[0].index("STATE")
    assert lines[1][col:col + 2] == "up", out

    code, out, err = run(ctl, "stats", server=orch.url)
    assert code == 0, err
    head, rows = table(out)
    assert head == ["FIELD", "VALUE"], out
    fields = dict(r for r in rows if len(r) == 2)
    assert fields["tenants"] == "1" and fields["pools"] == "1", out
    assert fields["instances.total"] == "1" and fields["instances.up"] == "1", out
    assert fields["store.backend"] == "shm", out

    code, out, err = run(ctl, "stats", inst, server=orch.url)
    assert code == 0, err
    assert out.startswith(f"instance {inst}: pid {pid}, up "), out
    head, rows = table(out.split("\n\n")[1])
    assert head[:3] == ["PORT", "TYPE", "RX-PACKETS"], out
    assert [r[:2] for r in rows] == [["lan", "ring"], ["wan", "ring"]], out

    for args in (["steering"], ["steering", "t1"]):
        code, out, err = run(ctl, *args, server=orch.url)
        assert code == 0, err
        assert table(out) == (["TENANT", "EPOCH", "INSTANCE", "ENTRIES", "SHARE"],
                              [["t1", table(out)[1][0][1], inst, "65537", "100.00%"]]), out


def test_slnfctl_json_output(ctl, orch, deployed):
    """-o json prints the API's answer itself."""
    for args, path in ((["tenants"], "/v1/tenants"), (["pools"], "/v1/pools"),
                       (["chains", "t1"], "/v1/tenants/t1"),
                       (["steering"], "/v1/steering")):
        code, out, err = run(ctl, "-o", "json", *args, server=orch.url)
        assert code == 0, err
        assert json.loads(out) == orch.call("GET", path)[1], (args, out)
        assert out.startswith("{\n  \""), out  # pretty-printed
    # instances change as they are probed: compare what does not
    code, out, err = run(ctl, "instances", "-o", "json", server=orch.url)
    assert code == 0, err
    got = json.loads(out)["instances"]
    assert [(i["name"], i["pool"], i["status"]["state"], i["status"]["pid"]) for i in got] == \
        [(deployed["instance"], "p1", "up", deployed["pid"])], out
    code, out, err = run(ctl, "-o", "json", "stats", deployed["instance"], server=orch.url)
    assert code == 0, err
    assert json.loads(out)["name"] == deployed["instance"], out


def test_slnfctl_create_delete(ctl, orch, deployed):
    doc = orch.tmp / "files" / "t2.json"
    doc.write_text(json.dumps(tenant_doc("t2", 2)))
    code, out, err = run(ctl, "create", "tenant", str(doc), server=orch.url)
    assert (code, out) == (0, "tenant t2 created\n"), err
    # from stdin
    code, out, err = run(ctl, "create", "pool", "-", stdin='{"name": "p2", "tenant": "t2"}',
                         server=orch.url)
    assert (code, out) == (0, "pool p2 created\n"), err
    code, out, err = run(ctl, "delete", "tenant", "t2", server=orch.url)
    assert code == 1 and out == "", out
    assert err.startswith("slnfctl: 409: "), err
    assert "pool 'p2' uses this tenant" in err, err
    for kind, name in (("pool", "p2"), ("tenant", "t2")):
        code, out, err = run(ctl, "delete", kind, name, server=orch.url)
        assert (code, out) == (0, f"{kind} {name} deleted\n"), err
    code, out, err = run(ctl, "delete", "pool", "p2", server=orch.url)
    assert code == 1 and err == "slnfctl: 404: no pool named 'p2'\n", err
    assert [t["name"] for t in orch.call("GET", "/v1/tenants")[1]["tenants"]] == ["t1"]


# ---- tokens ----

def test_slnfctl_tokens(ctl, orch):
    code, out, err = run(ctl, "pools", token=None, server=orch.url)
    assert code == 1 and out == "", out
    assert err.startswith("slnfctl: 401: missing API token"), err
    assert "-t TOKEN" in err and "SLNF_TOKEN" in err, err
    code, out, err = run(ctl, "pools", token="not-a-token", server=orch.url)
    assert (code, err) == (1, "slnfctl: 403: wrong API token\n"), err
    code, out, err = run(ctl, "--token-file", str(orch.tokens), "pools", token=None,
                         server=orch.url)
    assert code == 0 and out.startswith("NAME"), err
    code, out, err = run(ctl, "pools", token=None,
                         env={"SLNF_TOKEN": TOKEN, "SLNF_URL": orch.url})
    assert code == 0 and out.startswith("NAME"), err
    # -t beats $SLNF_TOKEN
    code, out, err = run(ctl, "pools", token="nope",
                         env={"SLNF_TOKEN": TOKEN, "SLNF_URL": orch.url})
    assert code == 1 and "403" in err, err
    missing = orch.tmp / "no-such-tokens"
    code, out, err = run(ctl, "--token-file", str(missing), "pools", token=None,
                         server=orch.url)
    assert code == 2 and str(missing) in err and "cannot read the token file" in err, err


# ---- errors ----

def test_slnfctl_bad_request(ctl, orch):
    bad = tenant_doc("t9", 9)
    bad["chain"][0]["bogus"] = 1
    f = orch.tmp / "bad.json"
    f.write_text(json.dumps(bad))
    code, out, err = run(ctl, "create", "tenant", str(f), server=orch.url)
    assert code == 1 and out == "", out
    assert err.startswith("slnfctl: 400: chain[0].bogus: unknown key"), err
    f.write_text('{"name": "t9",')
    code, out, err = run(ctl, "create", "tenant", str(f), server=orch.url)
    assert code == 1 and f"{f}: invalid JSON at line 1" in err, err
    code, out, err = run(ctl, "create", "pool", str(orch.tmp / "none.json"), server=orch.url)
    assert code == 1 and "cannot read" in err, err
    code, out, err = run(ctl, "stats", "no-such-instance", server=orch.url)
    assert (code, err) == (1, "slnfctl: 404: no instance named 'no-such-instance'\n"), err


def test_slnfctl_usage_errors(ctl, orch):
    for args, msg in ((["frobnicate"], "unknown command 'frobnicate'"),
                      ([], "no command given"),
                      (["pools", "extra"], "pools: expected pools"),
                      (["scale", "p1", "many"], "scale: N must be a number"),
                      (["explain", "t1", "tcp", "10.0.0.1", "10.0.0.2:80"], "SRC:SPORT"),
                      (["create", "widget", "x.json"], "unknown kind 'widget'"),
                      (["-o", "yaml", "pools"], "unknown output format"),
                      (["--frob", "pools"], "unknown option '--frob'")):
        code, out, err = run(ctl, *args, server=orch.url)
        assert code == 2 and out == "", (args, out)
        assert err.startswith("slnfctl: ") and msg in err, (args, err)
    code, out, err = run(ctl, "-h", token=None)
    assert code == 0 and out.startswith("usage: slnfctl") and "explain TENANT" in out, out


def test_slnfctl_server_unreachable(ctl):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code, out, err = run(ctl, "tenants", server=url)
    assert code == 1 and out == "", out
    assert err.startswith(f"slnfctl: cannot connect to {url}: "), err
    assert "refused" in err.lower(), err
    # the default comes from $SLNF_URL
    code, out, err = run(ctl, "tenants", env={"SLNF_URL": url})
    assert code == 1 and f"cannot connect to {url}" in err, err


# ---- endpoints slnf-orch is gaining: flows, explain, scale, drain ----

def endpoint_absent(orch, code, err, method, path, body=None):
    """Whether the API itself lacks this endpoint (404 for the path, or
    501). slnfctl's own 404/501 only counts if the API answers the same
    when asked directly; then slnfctl must have printed it as an error."""
    m = ERROR_LINE.match(err)
    if code == 0 or not m or m.group(1) not in ("404", "501"):
        return False
    status, ans = orch.call(method, path, body)
    assert status == int(m.group(1)), \
        f"slnfctl reported {m.group(1)}, the API answers {status} {ans} for {method} {path}"
    assert code == 1 and ans and ans.get("error") and ans["error"] in err, (err, ans)
    return True


def test_slnfctl_flows(ctl, orch, deployed):
    code, out, err = run(ctl, "flows", server=orch.url)
    if endpoint_absent(orch, code, err, "GET", "/v1/flows"):
        pytest.skip(f"slnf-orch has no /v1/flows yet: {err.strip()}")
    status, ans = orch.call("GET", "/v1/flows")
    assert code == (0 if status < 300 else 1), (status, ans, out, err)
    if code:
        assert err.startswith(f"slnfctl: {status}: ") and ans["error"] in err, err
        return
    flows = ans["flows"]
    lines = out.splitlines()
    assert len(lines) == len(flows), (out, ans)
    assert f"{len(flows)} flow" in err, err
    for line, f in zip(lines, flows):
        for k in ("src", "dst", "sport", "dport", "tenant", "nf"):
            if k in f:
                assert f" {k}={f[k]}" in line, (line, f)
    code, out, err = run(ctl, "-o", "json", "flows", server=orch.url)
    assert code == 0 and set(json.loads(out)) >= {"flows"}, out


def test_slnfctl_explain(ctl, orch, deployed):
    args = ["t1", "tcp", "10.1.1.2:40000", "10.2.2.9:80"]
    path = "/v1/explain?tenant=t1&proto=tcp&src=10.1.1.2&sport=40000&dst=10.2.2.9&dport=80"
    code, out, err = run(ctl, "explain", *args, server=orch.url)
    if endpoint_absent(orch, code, err, "GET", path):
        pytest.skip(f"slnf-orch has no /v1/explain yet: {err.strip()}")
    status, ans = orch.call("GET", path)
    assert code == (0 if status < 300 else 1), (status, ans, out, err)
    if code:
        assert err.startswith(f"slnfctl: {status}: ") and ans["error"] in err, err
        return
    assert out.startswith("flow t1 tcp 10.1.1.2:40000 -> 10.2.2.9:80 -> "), out
    assert f"instance {ans['instance']} " in out, (out, ans)
    assert f"(epoch {ans['epoch']}, entry {ans['entry']})" in out, (out, ans)
    assert ans["instance"] == deployed["instance"], ans
    # --port, with -o json: the API's answer to the same query
    status, ans = orch.call("GET", path + "&port=lan")
    code, out, err = run(ctl, "-o", "json", "explain", *args, "--port", "lan", server=orch.url)
    assert code == (0 if status < 300 else 1), (status, ans, out, err)
    if code == 0:
        assert json.loads(out) == ans, (out, ans)
    else:
        assert err.startswith(f"slnfctl: {status}: ") and ans["error"] in err, err


def test_slnfctl_scale(ctl, orch, deployed):
    pool = f"s{os.getpid()}"
    code, out, err = run(ctl, "create", "pool", "-", stdin=json.dumps(
        {"name": pool, "tenant": "t1", "min": 0}), server=orch.url)
    assert code == 0, err
    code, out, err = run(ctl, "scale", pool, "1", server=orch.url)
    if endpoint_absent(orch, code, err, "POST", f"/v1/pools/{pool}/scale", {"instances": 1}):
        pytest.skip(f"slnf-orch has no /v1/pools/POOL/scale yet: {err.strip()}")
    assert code == 0, (out, err)
    assert out.startswith(f"pool {pool}: scaling to 1 instance\n"), out
    if "\n\n" in out:  # the instances of the answer, with their pool
        head, rows = table(out.split("\n\n", 1)[1])
        assert head[:3] == ["NAME", "POOL", "STATE"] and rows, out
        assert all(r[1] == pool for r in rows), out
    # the scaled instances are the pool's
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        insts = [i for i in orch.call("GET", "/v1/instances")[1]["instances"]
                 if i["pool"] == pool]
        if len(insts) == 1:
            break
        time.sleep(0.1)
    assert len(insts) == 1, insts
    code, out, err = run(ctl, "-o", "json", "scale", pool, "0", server=orch.url)
    assert code == 0, err
    if out.strip():
        json.loads(out)


def test_slnfctl_drain(ctl, orch, deployed):
    inst = deployed["instance"]
    code, out, err = run(ctl, "drain", inst, server=orch.url)
    if endpoint_absent(orch, code, err, "POST", f"/v1/instances/{inst}/drain"):
        pytest.skip(f"slnf-orch has no /v1/instances/NAME/drain yet: {err.strip()}")
    m = ERROR_LINE.match(err)
    if code == 1 and m and m.group(1) in ("409", "503"):
        # the orchestrator's call (e.g. the last instance of a pool): shown as an error
        assert not out, out
    else:
        assert code == 0, (out, err)
        assert out.startswith(f"instance {inst}: draining\n"), out
    code, out, err = run(ctl, "drain", "no-such-instance", server=orch.url)
    assert code == 1 and err.startswith("slnfctl: 404: "), err
