"""
test_firewall.py - the stateful firewall in front of the router, with real
hosts: the client side (lan) may open connections, the server side (wan)
may not. A 10 MB HTTP download works (checked by sha256) with the shm store
and with a redis store started for the test; a connection and a ping from
the server to the client are blocked and counted.
"""

import subprocess
import time

import pytest

from redis_server import redis_store  # noqa: F401 (a fixture)
from topo import Topo, assert_ping, delta, http_download, nf_stats, run

MB = 1024 * 1024


def fw_edit(store=None):
    def edit(cfg):
        lan = cfg["ports"][0]["ipv4"][0].rsplit(".", 1)[0] + ".0/24"
        cfg["tenants"][0]["chain"].insert(0, {
            "nf": "firewall", "default": "deny", "rules": [
                {"name": "est", "action": "allow", "state": ["established", "related"]},
                {"name": "lan-out", "action": "allow", "state": ["new"], "src": lan},
            ]})
        if store:
            cfg["store"] = store
    return edit


@pytest.mark.parametrize("backend", ["shm", "redis"])
def test_download_through_firewall(slnfd, backend, request):
    store = request.getfixturevalue("redis_store") if backend == "redis" else None
    with Topo(config=fw_edit(store)) as t:
        http_download(t, 10 * MB)
        s = t.stats()
        fw = nf_stats(s, "firewall")
        # both directions of a connection share one record and are never in
        # flight at once, so no update loses a version race
        assert s["drops"]["store_conflict"] == 0 and s["drops"]["store_error"] == 0, s["drops"]
        assert fw["new"]["allowed"] >= 1, fw
        assert fw["established"]["allowed"] >= 10 * MB // 1500, fw
        assert fw["created"] >= 1 and fw["store_errors"] == 0, fw


def test_inbound_blocked(slnfd):
    with Topo(config=fw_edit()) as t:
        assert_ping(t, t.ns_client, t.server_ip, count=2)
        before = t.stats()
        # an http server on the client; the server side tries to reach it
        t.spawn(t.ns_client, ["python3", "-m", "http.server", "--bind", t.client_ip, "8090"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        r = run(["curl", "-sS", "-o", "/dev/null", "--connect-timeout", "2", "--max-time", "3",
                 f"http://{t.client_ip}:8090/"], ns=t.ns_server, check=False, timeout=15)
        assert r.returncode in (7, 28), f"inbound connection not blocked: {r.returncode}"
        p = t.ping(t.ns_server, t.client_ip, count=2, wait=1, check=False)
        assert p.returncode != 0, p.stdout
        s = t.stats()
        assert delta(before, s, "fw_deny") >= 3, s["drops"]
        fw0, fw = nf_stats(before, "firewall"), nf_stats(s, "firewall")
        assert fw["new"]["denied"] - fw0["new"]["denied"] >= 3, fw
