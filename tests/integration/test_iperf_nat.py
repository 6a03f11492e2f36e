"""
test_iperf_nat.py - real TCP traffic through the full stateful chain
filter -> firewall -> nat -> router (tenant inside: lan, so replies meet
the nat before the firewall and the firewall sees both directions with the
inside addresses), with the shm store and with redis.

An iperf3 TCP run of a few seconds (bounded by timeouts) from the client to
an iperf3 server, then a 5 MB HTTP download checked by sha256
(topo.http_download). Asserted: iperf3 completed on both ends; the server
received bytes, no more than the client sent, and both ends report the same
received count; the server saw only the NAT pool address (iperf3's
"remote_host" and the httpd connection log); neither the store nor the NFs
reported errors or conflicts. No throughput threshold: the test checks
behaviour only.

Why not "received == sent": iperf3 (3.12) counts as sent what the client
wrote into its socket, and the server stops counting when the test ends on
the control connection, so the data still in flight then (megabytes, also
with -n and with plain Linux forwarding) is sent but never received. Exact
delivery is what the sha256-checked download asserts.
"""

import json
import subprocess
import time

import pytest

from redis_server import redis_store  # noqa: F401 (a fixture)
from test_firewall import fw_edit
from topo import Topo, http_download, nf_stats, run

MB = 1024 * 1024
SECONDS = 3
PORT = 5201


def chain_edit(store):
    firewall = fw_edit(store)

    def edit(cfg):
        firewall(cfg)  # inserts the firewall first, sets the store
        pool = cfg["ports"][1]["ipv4"][0].split("/")[0]  # the gateway's wan address
        chain = cfg["tenants"][0]["chain"]
        fw = chain.pop(0)
        # filter -> firewall -> nat -> router
        chain[1:1] = [fw, {"nf": "nat", "inside": ["lan"], "pool": [pool]}]
        cfg["tenants"][0]["inside"] = ["lan"]
    return edit


def iperf(t):
    """(client JSON, server JSON) of one bounded iperf3 TCP run."""
    srv = t.spawn(t.ns_server, ["iperf3", "-s", "-1", "-J", "-B", t.server_ip, "-p", str(PORT)],
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    listening = False
    for _ in range(200):  # wait, bounded, for its listening socket
        listening = f"{t.server_ip}:{PORT}" in run(["ss", "-Hltn"], ns=t.ns_server).stdout
        if listening or srv.poll() is not None:
            break
        time.sleep(0.05)
    assert listening, f"iperf3 server did not listen (exit {srv.poll()})"
    c = run(["iperf3", "-c", t.server_ip, "-p", str(PORT), "-t", str(SECONDS), "-J",
             "--connect-timeout", "5000"], ns=t.ns_client, check=False, timeout=SECONDS + 60)
    s = t.stats()
    why = f"\ndrops: {nonzero(s['drops'])}\nfirewall: {nf_stats(s, 'firewall')}"
    try:
        cj = json.loads(c.stdout)
    except ValueError as e:
        raise AssertionError(f"iperf3 client printed no JSON ({e}):\n{c.stdout}{c.stderr}{why}")
    # iperf3 -J exits 0 also when it failed; the error is in the JSON
    assert c.returncode == 0 and "error" not in cj, \
        f"iperf3 client exit {c.returncode}, error {cj.get('error')!r}{why}"
    try:
        out, _ = srv.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        srv.kill()
        out, _ = srv.communicate(timeout=5)
    try:
        return cj, json.loads(out)
    except ValueError as e:
        raise AssertionError(f"iperf3 server printed no JSON ({e}):\n{out}")


def nonzero(drops):
    return {k: v for k, v in drops.items() if v}


@pytest.mark.parametrize("backend", ["shm", "redis"])
def test_iperf_and_download_through_firewall_and_nat(slnfd, backend, request):
    store = request.getfixturevalue("redis_store") if backend == "redis" else None
    with Topo(config=chain_edit(store)) as t:
        cj, sj = iperf(t)
        assert "error" not in cj and "error" not in sj, (cj.get("error"), sj.get("error"))
        sent = cj["end"]["sum_sent"]["bytes"]
        received = cj["end"]["sum_received"]["bytes"]
        assert 0 < received <= sent, (sent, received)
        assert sj["end"]["sum_received"]["bytes"] == received, sj["end"]["sum_received"]
        peers = {c["remote_host"] for c in sj["start"]["connected"]}
        assert peers == {t.gw_wan_ip}, peers

        http_download(t, 5 * MB)
        conns = (t.tmp / "httpd-8080.conns").read_text().split()
        assert conns and all(p.split(":")[0] == t.gw_wan_ip for p in conns), conns

        s = t.stats()
        assert s["drops"]["store_error"] == 0 and s["drops"]["store_conflict"] == 0, \
            s["drops"]
        fw, nat = nf_stats(s, "firewall"), nf_stats(s, "nat")
        assert fw["store_errors"] == 0 and nat["store_errors"] == 0, (fw, nat)
        # iperf3's control and data connections and the download's
        assert fw["new"]["allowed"] >= 3 and fw["established"]["allowed"] > 0, fw
        assert fw["invalid"]["allowed"] == 0, fw
        assert nat["created"] >= 3, nat
