"""
test_scale.py - elastic scaling with nothing migrated, and an orchestrator
that can die: real TCP transfers run through the steering fabric
(fabric.py) while

- scale out 2 -> 3 (POST /v1/pools/p1/scale): the new instance is added to
  the steering table only once it is up; about 1/3 of the flows move to it
  (reported: the share of the 50 connections whose instance changed, from
  the steering node's explain before and after) and keep their state: no
  transfer breaks, and the new instance really carries packets;
- scale in 3 -> 2: the instance leaves the steering table first, is
  drained, then stopped and forgotten; no transfer breaks;
- the load policy: a pool of 1 with scale_out_pps 1500 grows under 50
  transfers (about 7,000 packets/s) without breaking one, and shrinks back
  to its min of 1, draining, once they are over;
- orchestrator restart: slnf-orch is SIGKILLed and started again during
  the transfers: no transfer is affected, the desired state is intact, the
  instances are adopted (same PIDs) and the steering table never loses a
  healthy instance.
"""

import json
import time

from fabric import (POOL, TENANT, Fabric, assert_transfers_intact, steered_packets,
                    wait_senders, wait_until)

CONNS = 50
NBYTES = 1_500_000
SECONDS = 8.0


def scale(f, n):
    status, body = f.api("POST", f"/v1/pools/{POOL}/scale", {"instances": n})
    assert status == 202, (status, body)
    return body


def names(n):
    return [f"{POOL}-{k}" for k in range(1, n + 1)]


def bring_up_pool(f, n):
    f.setup_tenant({"template": f.template()})
    scale(f, n)
    f.wait_up(names(n))
    f.wait_steered(names(n))


def explain_all(f, sports):
    """Which instance the steering node sends each connection to."""
    out = {}
    for sport in sports:
        q = {"tenant": TENANT, "port": "lan", "proto": "tcp", "src": f.client_ip,
             "sport": sport, "dst": f.server_ip, "dport": 5001}
        out[sport] = f.control(f.tmp / "steer.sock", "explain " + json.dumps(q))["instance"]
    return out


def read_ports(path):
    sports, _ = wait_until("the senders' ports file", lambda: path.exists() and
                           json.loads(path.read_text()), timeout=20, interval=0.05)
    return sports


def test_scale_out_2_to_3_moves_a_third_of_flows_and_breaks_none(record_property):
    with Fabric(slots=3) as f:
        bring_up_pool(f, 2)
        report = f.start_receiver()
        ports = f.tmp / "ports.json"
        senders = f.start_senders(conns=CONNS, nbytes=NBYTES, seconds=SECONDS, ports_file=ports)
        sports = read_ports(ports)
        time.sleep(1.5)
        before = explain_all(f, sports)
        t0 = time.monotonic()
        scale(f, 3)
        f.wait_up(names(3))
        f.wait_steered(names(3))
        record_property("figure: scale out, API call to steering with 3 instances (ms)",
                        round((time.monotonic() - t0) * 1000))
        after = explain_all(f, sports)
        moved = [s for s in sports if before[s] != after[s]]
        to_new = [s for s in moved if after[s] == f"{POOL}-3"]
        record_property("figure: share of the 50 connections moved by scale out",
                        f"{len(moved)}/{len(sports)} = {len(moved) / len(sports):.2f}")
        # Maglev moves about 1/N of the flows, to the new instance; 50 flows
        # at p = 1/3: fewer than 5 or more than 30 is beyond 4 deviations
        assert 5 <= len(moved) <= 30, (len(moved), before, after)
        assert len(to_new) >= len(moved) - 2, (moved, to_new)
        time.sleep(1.0)
        res = wait_senders(senders)
        stall = assert_transfers_intact(res, report, CONNS)
        record_property("figure: longest stall of a connection (ms)", round(stall * 1000))
        assert steered_packets(f)[f"{POOL}-3"] > 0
        assert f.instance_stats(f"{POOL}-3")["tenants"][0]["rx_packets"] > 0


def test_scale_in_3_to_2_drains_first_and_breaks_none(record_property):
    with Fabric(slots=3) as f:
        bring_up_pool(f, 3)
        report = f.start_receiver()
        senders = f.start_senders(conns=CONNS, nbytes=NBYTES, seconds=SECONDS)
        time.sleep(2.5)
        t0 = time.monotonic()
        body = scale(f, 2)
        assert f"{POOL}-3" in json.dumps(body)
        f.wait_steered(names(2))  # out of the table first ...
        record_property("figure: scale in, API call to steering without it (ms)",
                        round((time.monotonic() - t0) * 1000))
        _, waited = wait_until(  # ... then drained, stopped and forgotten
            "the drained instance removed",
            lambda: f.api("GET", f"/v1/instances/{POOL}-3")[0] == 404, timeout=30,
            interval=0.1)
        record_property("figure: scale in, API call to instance removed (ms)",
                        round((time.monotonic() - t0) * 1000))
        res = wait_senders(senders)
        stall = assert_transfers_intact(res, report, CONNS)
        record_property("figure: longest stall of a connection (ms)", round(stall * 1000))
        _, pool = f.api("GET", "/v1/instances", expect=200)
        assert sorted(i["name"] for i in pool["instances"]) == names(2)


def test_orchestrator_restart_after_sigkill_affects_no_connection():
    with Fabric(slots=2) as f:
        bring_up_pool(f, 2)
        desired = {r: f.api("GET", f"/v1/{r}", expect=200)[1]
                   for r in ("tenants", "pools")}
        pids = {n: f.instance(n)["status"]["pid"] for n in names(2)}
        epoch = f.steering()["epoch"]
        report = f.start_receiver()
        senders = f.start_senders(conns=CONNS, nbytes=NBYTES, seconds=SECONDS)
        time.sleep(2.0)
        f.kill_orch()
        time.sleep(0.5)
        assert f.steered_instances() == names(2)  # traffic goes on without it
        f.start_orch()
        for _ in range(20):  # while it adopts, the table never loses an instance
            assert f.steered_instances() == names(2)
            time.sleep(0.05)
        f.wait_up(names(2))
        assert {n: f.instance(n)["status"]["pid"] for n in names(2)} == pids
        for r, doc in desired.items():
            assert f.api("GET", f"/v1/{r}", expect=200)[1] == doc
        res = wait_senders(senders)
        assert_transfers_intact(res, report, CONNS)
        assert f.steering()["epoch"] >= epoch


def test_load_policy_scales_out_under_traffic_and_back_in_when_idle(record_property):
    policy = {"scale_out_pps": 1500, "scale_in_pps": 200, "interval_ms": 500,
              "cooldown_ms": 1500}
    with Fabric(slots=3) as f:
        f.setup_tenant({"template": f.template(), "policy": policy})
        scale(f, 1)
        f.wait_up(names(1))
        f.wait_steered(names(1))
        report = f.start_receiver()
        senders = f.start_senders(conns=CONNS, nbytes=NBYTES * 2, seconds=SECONDS * 2)
        t0 = time.monotonic()
        wait_until("the policy scaling out under load",
                   lambda: len(f.steered_instances()) >= 2, timeout=30, interval=0.1)
        record_property("figure: load policy, traffic start to a second instance (ms)",
                        round((time.monotonic() - t0) * 1000))
        res = wait_senders(senders)
        assert_transfers_intact(res, report, CONNS)
        record_property("figure: load policy, instances at the end of the traffic",
                        len(f.steered_instances()))
        # idle: back in, one instance at a time, down to min (1), drained
        wait_until("the policy scaling back in when idle",
                   lambda: f.steered_instances() == names(1) and
                   [i["name"] for i in f.api("GET", "/v1/instances")[1]["instances"]]
                   == names(1), timeout=40, interval=0.2)
