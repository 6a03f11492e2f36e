"""
test_lb.py - the lb NF in front of the router, with real hosts: the server
namespace gets three more addresses (the backends), each running httpd.py
with a file that names it. The client fetches that file from the VIP (an
address slnfd does not own, routed to it by the client's default route)
100 times from fixed source ports, so the run is deterministic: every
answer must be one backend's identity, and the three backends (weights
1:1:2) must each get a share close to theirs. Replies come back through
slnfd because the backends see the snat address, which the server
namespace routes to the gateway.

Pins across a live reload: 30 long-lived connections (lbconn.py, one
request on each every half second) are spread over the three backends;
`slnfd --reload` then adds a 4th backend. Every connection must keep
reaching the backend it started on, in every round during and after the
reload, and 60 new connections must now include the 4th backend in about
its weight share.

Every test runs with the shm store and with a redis-server started for it
(redis_server.py).
"""

import copy
import json
import subprocess

import pytest

from redis_server import redis_store  # noqa: F401  (a fixture)
from topo import PYTHON, HERE, Topo, nf_stats, read_line_with, run, slnfd_path

WEIGHTS = (1, 1, 2)
CONNECTIONS = 100
HELD = 30      # long-lived connections across the reload
FRESH = 60     # new connections after it
NEW_WEIGHT = 2  # of the 4th backend


@pytest.fixture(params=["shm", "redis"])
def store(request):
    """The store section for slnfd: None (the topology's shm table) or a
    redis-server of the test's own."""
    return request.getfixturevalue("redis_store") if request.param == "redis" else None


def backends(t, n=len(WEIGHTS)):
    net = t.server_ip.rsplit(".", 1)[0]
    return [(f"{net}.{10 + i}", 8090 + i) for i in range(n)]


def vip(t):
    return t.server_ip.rsplit(".", 2)[0] + ".9.9"


def lb_element(t, weights=WEIGHTS):
    return {
        "nf": "lb",
        "snat": t.server_ip.rsplit(".", 2)[0] + ".8.8",
        "vips": [{"vip": vip(t), "port": 80, "proto": "tcp", "backends": [
            {"addr": a, "port": p, "weight": w}
            for (a, p), w in zip(backends(t, len(weights)), weights)]}],
    }


def lb_edit(t, store=None):
    def edit(cfg):
        cfg["tenants"][0]["chain"].insert(0, lb_element(t))
        if store:
            cfg["store"] = store
    return edit


def start_backends(t):
    for i, (addr, port) in enumerate(backends(t)):
        run(["ip", "addr", "add", addr + "/24", "dev", t.if_server], ns=t.ns_server)
        www = t.tmp / f"www-{i}"
        www.mkdir()
        (www / "id").write_text(f"backend-{i}\n")
        t.start_httpd(port, www, bind=addr)


def test_lb_spreads_per_weights(slnfd, store):
    t = Topo()
    t.config_edit = lb_edit(t, store)
    with t:
        start_backends(t)
        hits = [0] * len(WEIGHTS)
        for i in range(CONNECTIONS):
            out = t.tmp / "got"
            r = run(["curl", "-sS", "-o", str(out), "--local-port", str(40000 + i),
                     "--connect-timeout", "5", "--max-time", "10", "-w", "%{http_code}",
                     f"http://{vip(t)}/id"], ns=t.ns_client, check=False, timeout=20)
            assert r.returncode == 0 and r.stdout == "200", \
                f"connection {i}: curl exit {r.returncode}: {r.stdout} {r.stderr}\n{t.log()}"
            body = out.read_text()
            assert body.startswith("backend-"), body
            hits[int(body.strip().split("-")[1])] += 1
        total = sum(WEIGHTS)
        for i, w in enumerate(WEIGHTS):
            want = CONNECTIONS * w / total
            assert want * 0.5 <= hits[i] <= want * 1.5, (hits, WEIGHTS)
        s = t.stats()
        lb = nf_stats(s, "lb")
        assert lb["new_flows"] == CONNECTIONS, lb
        assert lb["returned"] > 0 and lb["store_errors"] == 0, lb
        assert s["drops"]["store_error"] == 0, s["drops"]


def add_backend_addr(t, addr):
    run(["ip", "addr", "add", addr + "/24", "dev", t.if_server], ns=t.ns_server)


def start_line_backend(t, i):
    """lbconn.py serve as backend i, answering `backend-i` on every line."""
    addr, port = backends(t, i + 1)[i]
    add_backend_addr(t, addr)
    p = t.spawn(t.ns_server, [PYTHON, str(HERE / "lbconn.py"), "serve", "--bind", addr,
                              "--port", str(port), "--id", f"backend-{i}"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    read_line_with(p, "listening", timeout=10)


def client_args(t, mode, first_port, count):
    return [PYTHON, str(HERE / "lbconn.py"), mode, "--dst", vip(t), "--port", "80",
            "--src", t.client_ip, "--first-port", str(first_port), "--count", str(count)]


def next_round(t, holder):
    line = read_line_with(holder, '"round"', timeout=30).strip().splitlines()[-1]
    return json.loads(line)


def test_lb_pins_held_across_reload(slnfd, store):
    t = Topo()
    t.config_edit = lb_edit(t, store)
    with t:
        for i in range(len(WEIGHTS)):
            start_line_backend(t, i)
        holder = t.spawn(t.ns_client, client_args(t, "hold", 41000, HELD),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
        first = next_round(t, holder)["got"]
        assert all(g.startswith("backend-") for g in first), f"{first}\n{t.log()}"
        assert len(set(first)) == len(WEIGHTS), first  # each backend has some

        # the 4th backend, and the chain that lists it
        start_line_backend(t, len(WEIGHTS))
        cfg = copy.deepcopy(t.config)
        cfg["tenants"][0]["chain"][0] = lb_element(t, WEIGHTS + (NEW_WEIGHT,))
        t.config_path.write_text(json.dumps(cfg, indent=2))
        r = run([slnfd_path(), "--reload", "-c", str(t.config_path)], check=False, timeout=60)
        assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{t.log()}"
        holder.stdin.write("reloaded\n")
        holder.stdin.flush()

        # every round, during and after the reload, finds the same backends
        after = 0
        while after < 2:
            rnd = next_round(t, holder)
            assert rnd["got"] == first, (rnd, first)
            after += rnd["marks"] > 0
        holder.stdin.close()

        got = json.loads(run(client_args(t, "once", 42000, FRESH), ns=t.ns_client,
                             timeout=120).stdout)
        assert all(g.startswith("backend-") for g in got), got
        counts = [got.count(f"backend-{i}") for i in range(len(WEIGHTS) + 1)]
        weights = WEIGHTS + (NEW_WEIGHT,)
        # Which backend a connection gets depends on its addresses, which
        # differ from run to run, so the counts are a sample: every backend
        # gets some (a weight-1 one misses all 60 with p < 1e-4) and the
        # weight-2 ones together clearly more than the weight-1 ones (40
        # against 20 expected, 5 standard deviations apart).
        assert all(c > 0 for c in counts), (counts, weights)
        heavy = sum(c for c, w in zip(counts, weights) if w == 2)
        light = sum(c for c, w in zip(counts, weights) if w == 1)
        assert heavy > light, (counts, weights)

        s = t.stats()
        assert s["reload"]["generation"] == 1
        lb = nf_stats(s, "lb")
        # the rebuilt lb context counts from the reload on
        assert lb["new_flows"] == FRESH, lb
        assert lb["pinned"] >= 2 * HELD and lb["store_errors"] == 0, lb
        assert s["drops"]["store_error"] == 0 and s["drops"]["lb_no_state"] == 0, s["drops"]
