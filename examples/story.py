#!/usr/bin/python3
"""
story.py - the stateless story, live: `make run`'s second part.

    client ---- steering node ---- instances p1-1, p1-2 (firewall -> nat -> router) ---- server
                 (slnfd steer)      state in the embedded shm store; slnf-orch watching

Builds the topology of the failover tests (tests/integration/fabric.py:
network namespaces, two Linux bridges, a steering node, slnf-orch, which
launches the instances), then, one step per line:

1. creates the tenant and its pool with slnfctl and scales the pool to 2;
2. starts 50 long TCP transfers whose every byte the receiver checks;
3. lists the flows in the store (slnfctl flows) and which instance a
   connection goes to (slnfctl explain);
4. SIGKILLs the instance carrying the most traffic, and shows the
   orchestrator noticing and the steering table without it;
5. waits for the 50 transfers: every one completes with correct data; the
   longest stall a connection saw is printed;
6. shows the orchestrator having restarted the killed instance, back in
   the table;
7. scales out (slnfctl scale p1 3): the new instance starts, joins the
   table, and new connections spread over it;
8. prints the instances and the steering table.

Everything is torn down at the end, on Ctrl-C, or on failure; the exit
status is 1 if a step failed. Run as root (make run does).
"""

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from fabric import (POOL, TENANT, Fabric, busiest_instance, received,  # noqa: E402
                    steered_packets, wait_senders, wait_until)

STEPS = {"n": 0, "failed": 0}


def step(text, ok=True, detail=""):
    STEPS["n"] += 1
    STEPS["failed"] += not ok
    print(f"[{'ok' if ok else 'FAIL'}] {STEPS['n']:2}. {text}", flush=True)
    if detail:
        for line in detail.rstrip().splitlines():
            print(f"        {line}")


def ctl(f, *args):
    r = f.slnfctl(*args)
    if r.returncode != 0:
        raise RuntimeError(f"slnfctl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def story(f):
    tenant = f.tenant()
    (f.tmp / "tenant.json").write_text(json.dumps(tenant))
    (f.tmp / "pool.json").write_text(json.dumps(
        {"name": POOL, "tenant": TENANT, "min": 1, "max": 3, "template": f.template()}))
    ctl(f, "create", "tenant", str(f.tmp / "tenant.json"))
    ctl(f, "create", "pool", str(f.tmp / "pool.json"))
    ctl(f, "scale", POOL, "2")
    names = [f"{POOL}-1", f"{POOL}-2"]
    t0 = time.monotonic()
    f.wait_up(names)
    f.wait_steered(names)
    step(f"tenant {TENANT} (firewall -> nat -> router) and pool {POOL} created, scaled to 2: "
         f"up and in the steering table in {time.monotonic() - t0:.1f} s",
         detail=ctl(f, "instances"))

    report = f.start_receiver()
    senders = f.start_senders(conns=50, nbytes=2_000_000, seconds=10, ports_file=f.tmp / "p")
    time.sleep(2.0)
    step("50 TCP transfers of 2 MB running client -> server through the chain",
         detail="\n".join(ctl(f, "flows").splitlines()[:6]) + "\n...")
    sport = json.loads((f.tmp / "p").read_text())[0]
    step(f"which instance carries the connection from port {sport}",
         detail=ctl(f, "explain", TENANT, "tcp", f"{f.client_ip}:{sport}",
                    f"{f.server_ip}:5001"))

    victim, rate = busiest_instance(f)
    survivor = next(n for n in names if n != victim)
    t_kill = f.kill_instance(victim)
    wait_until("the steering table without it", lambda: f.steered_instances() == [survivor])
    took = (time.monotonic() - t_kill) * 1000
    step(f"kill -9 {victim} (the busiest, {rate} packets/s): down and out of the steering "
         f"table {took:.0f} ms later", detail=ctl(f, "instances"))

    res = wait_senders(senders)
    recs = received(report)
    ok = res["failed"] == 0 and all(r["ok"] for r in recs) and len(recs) == 50
    stall = max(r["max_gap_s"] for r in recs) * 1000 if recs else 0
    step(f"{res['ok']}/50 transfers completed with every byte checked, none reset: their "
         f"state was in the store; longest stall {stall:.0f} ms", ok=ok,
         detail="" if ok else json.dumps([c for c in res["conns"] if not c["ok"]][:3]))

    f.wait_up(names)
    f.wait_steered(names)
    restarts = f.instance(victim)["status"]["restarts"]
    step(f"the orchestrator restarted {victim} (restarts: {restarts}): it is back in the "
         "table, and the flows Maglev gives back to it found their state in the store",
         detail=ctl(f, "instances"))

    before = steered_packets(f)
    ctl(f, "scale", POOL, "3")
    new = f"{POOL}-3"
    t0 = time.monotonic()
    f.wait_up([new])
    f.wait_steered(names + [new])
    step(f"slnfctl scale {POOL} 3: {new} started and joined the table in "
         f"{time.monotonic() - t0:.1f} s (nothing migrated)")
    report = f.start_receiver(port=5002)
    res = wait_senders(f.start_senders(conns=30, nbytes=300_000, seconds=3, port=5002))
    after = steered_packets(f)
    share = {n: after.get(n, 0) - before.get(n, 0) for n in names + [new]}
    ok = res["failed"] == 0 and share[new] > 0
    step("30 new connections spread over the three, all completed (packets steered: " +
         ", ".join(f"{n} {v}" for n, v in share.items()) + ")", ok=ok,
         detail=ctl(f, "steering"))


def main():
    if os.geteuid() != 0:
        sys.exit("story.py: run as root (network namespaces, DPDK)")
    print("slnf: the stateless story - orchestrator, steering node, instances, embedded store")
    try:
        with Fabric(slots=3) as f:
            step("client, steering node, 3 instance slots and server built; slnf-orch "
                 "and the steering node running")
            story(f)
    except KeyboardInterrupt:
        print("interrupted: torn down")
        return 1
    except Exception as e:  # the topology is gone by now
        step(f"stopped: {e}", ok=False)
    print(f"story: {STEPS['n'] - STEPS['failed']}/{STEPS['n']} steps ok; everything torn down")
    return 1 if STEPS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
