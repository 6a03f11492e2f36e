"""
test_steer.py - the steering role of slnfd on the wire, without the
orchestrator: the test pushes the tables itself (fabric.Fabric.push), so
a failure here is the steering node's, not slnf-orch's.

- the steering node answers ARP and ping for its own addresses and carries
  real TCP transfers through two instances (firewall + nat + router, state
  in shm), both of which get flows;
- `explain` names the instance that really receives a flow;
- `flows` on either instance lists the same connections (from the store);
- a push replaces the table atomically while transfers run: kill one
  instance, push a table without it, and every transfer completes with
  correct data (its flows find their state in the store);
- a tenant with no instance drops with the reason steer_no_instance.
"""

import json
import time

from fabric import Fabric, received, wait_senders
from topo import run

PROBE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
for _ in range(5):
    s.sendto(b"probe", (sys.argv[1], 7777))
"""


def tenant_rx(stats):
    return sum(t["rx_packets"] for t in stats["tenants"])


def lan_rx(stats):
    """Packets in on the lan port: the probes, not the server's ICMP errors."""
    return next(p["rx_packets"] for p in stats["ports"] if p["name"] == "lan")


def test_steering_carries_tcp_over_two_instances_and_explain_agrees():
    with Fabric(slots=2, orch=False) as f:
        f.start_direct(1)
        f.start_direct(2)
        assert f.push(["i1", "i2"], epoch=1)["steer"] == "ok"
        assert f.steered_instances() == ["i1", "i2"]
        ping = run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", f.steer_lan_ip],
                   ns=f.ns_client, check=False)
        assert "3 received" in ping.stdout, ping.stdout + f.steer_log()
        ping = run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", f.server_ip],
                   ns=f.ns_client, check=False)
        assert "3 received" in ping.stdout, ping.stdout + f.steer_log()

        report = f.start_receiver()
        res = wait_senders(f.start_senders(conns=20, nbytes=200_000, seconds=2))
        assert res["failed"] == 0, [c for c in res["conns"] if not c["ok"]]
        assert sum(r["ok"] for r in received(report)) == 20
        per = {n: tenant_rx(f.instance_stats(n)) for n in ("i1", "i2")}
        assert all(v > 0 for v in per.values()), per

        # the flows are in the store: both instances list the same 20
        # connections to the receiver, whichever carried them
        lists = {}
        for n in ("i1", "i2"):
            got = f.control(f.sock(n), "flows")
            lists[n] = sorted((x["src"], x["sport"], x["state"]) for x in got["flows"]
                              if x["proto"] == "tcp" and x["dport"] == 5001)
            assert all(x["tenant"] == "t1" and x["nf"] == "firewall" for x in got["flows"])
        assert len(lists["i1"]) == 20 and lists["i1"] == lists["i2"], lists
        assert all(src == f.client_ip for src, _, _ in lists["i1"])

        for sport in range(41000, 41008):
            q = {"tenant": "t1", "port": "lan", "proto": "udp", "src": f.client_ip,
                 "sport": sport, "dst": f.server_ip, "dport": 7777}
            want = f.control(f.tmp / "steer.sock", "explain " + json.dumps(q))["instance"]
            before = {n: lan_rx(f.instance_stats(n)) for n in ("i1", "i2")}
            run(["/usr/bin/python3", "-c", PROBE, f.server_ip, str(sport)], ns=f.ns_client)
            after = {n: lan_rx(f.instance_stats(n)) for n in ("i1", "i2")}
            got = {n: after[n] - before[n] for n in after}
            other = "i2" if want == "i1" else "i1"
            assert got[want] >= 5 and got[other] < 5, (sport, want, got)


def test_push_without_a_killed_instance_keeps_every_transfer():
    with Fabric(slots=2, orch=False) as f:
        f.start_direct(1)
        f.start_direct(2)
        assert f.push(["i1", "i2"], epoch=1)["steer"] == "ok"
        report = f.start_receiver()
        senders = f.start_senders(conns=20, nbytes=400_000, seconds=4)
        time.sleep(1.5)
        f.direct["i1"].kill()
        answer = f.push(["i2"], epoch=2)
        assert answer == {"steer": "ok", "epoch": 2, "tenants": 1}, answer
        res = wait_senders(senders)
        assert res["failed"] == 0, [c for c in res["conns"] if not c["ok"]]
        assert all(r["ok"] for r in received(report))
        st = f.steering()
        assert st["epoch"] == 2 and st["pushes"] == 2


def test_no_instance_is_a_counted_drop():
    with Fabric(slots=1, orch=False) as f:
        msg = {"epoch": 1, "tenants": [{"name": "t1", "instances": []}]}
        assert f.control(f.tmp / "steer.sock", "steer " + json.dumps(msg))["steer"] == "ok"
        run(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", f.server_ip], ns=f.ns_client,
            check=False)
        stats = f.control(f.tmp / "steer.sock", "stats")
        assert stats["drops"]["steer_no_instance"] >= 2, stats["drops"]
        assert stats["role"] == "steer"
        bad = f.control(f.tmp / "steer.sock", 'steer {"epoch": 2, "tenants": [{"name": "x"}]}')
        assert bad["field"] == "tenants[0].name" and "unknown tenant" in bad["error"]
