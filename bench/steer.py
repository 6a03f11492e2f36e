#!/usr/bin/python3
"""
steer.py - what the steering hop costs: one fabric (tests/integration/
fabric.py: client, steering node, two instances running firewall -> router,
server, on two Linux bridges), three paths through it, measured side by
side, rounds interleaved so machine noise hits every path alike:

  direct      the hosts route via instance i1 itself (no steering node);
  steer, 1    the hosts route via the steering node, whose table holds i1;
  steer, 2    the same with i1 and i2 in the table.

Each path: iperf3 UDP with 18-byte payloads (64-byte frames) from 4
parallel streams at unlimited rate (packets per second the server got),
and a 4-stream TCP bulk transfer (Gbit/s). Prints medians and the ratio to
the direct path. On a 2-core machine the steering node, the instances and
both iperf3 ends share the cores, so a second instance buys no CPU: the
ratios show the hop's cost, not a scaling curve. Not a test.

Usage: sudo SLNFD=build/slnfd bench/steer.py [--rounds N] [--seconds S]
"""
import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import topo  # noqa: E402
from fabric import Fabric  # noqa: E402
from iperf import iperf  # noqa: E402


def chain(n):
    return [{"nf": "firewall", "default": "deny", "rules": [
                {"name": "return", "action": "allow", "state": ["established", "related"]},
                {"name": "out", "action": "allow", "state": ["new"], "src": f"10.{n}.1.0/24"}]},
            {"nf": "router", "routes": [{"prefix": f"10.{n}.2.0/24", "port": "wan"},
                                        {"prefix": f"10.{n}.1.0/24", "port": "lan"}]}]


def route_via(f, client_gw, server_gw):
    topo.run(["ip", "route", "replace", "default", "via", client_gw], ns=f.ns_client)
    topo.run(["ip", "route", "replace", "default", "via", server_gw], ns=f.ns_server)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    args = ap.parse_args()
    paths = ["direct", "steer, 1", "steer, 2"]
    results = {p: {"udp_pps": [], "tcp_gbps": []} for p in paths}
    with Fabric(slots=2, orch=False) as f:
        f.chain = chain(f.net)
        f.start_direct(1)
        f.start_direct(2)
        n = f.net
        epoch = 0
        for rnd in range(args.rounds):
            for p in paths:
                epoch += 1
                if p == "direct":
                    route_via(f, f"10.{n}.1.11", f"10.{n}.2.11")
                else:
                    route_via(f, f.steer_lan_ip, f.steer_wan_ip)
                    f.push(["i1"] if p == "steer, 1" else ["i1", "i2"], epoch)
                topo.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", f.server_ip],
                         ns=f.ns_client, timeout=20)
                r = results[p]
                r["udp_pps"].append(iperf(f, True, args.seconds, streams=4))
                r["tcp_gbps"].append(iperf(f, False, args.seconds, streams=4))
                print(f"round {rnd + 1}/{args.rounds} {p}: udp {r['udp_pps'][-1]:.0f} pps, "
                      f"tcp {r['tcp_gbps'][-1]:.2f} Gbit/s", flush=True)
    base = {k: statistics.median(results["direct"][k]) for k in ("udp_pps", "tcp_gbps")}
    print()
    print(f"{'path':10} {'UDP 64B pps':>12} {'vs direct':>10} {'TCP Gbit/s':>11} {'vs direct':>10}")
    for p in paths:
        udp = statistics.median(results[p]["udp_pps"])
        tcp = statistics.median(results[p]["tcp_gbps"])
        print(f"{p:10} {udp:12.0f} {udp / base['udp_pps']:10.2f} {tcp:11.2f} "
              f"{tcp / base['tcp_gbps']:10.2f}")


if __name__ == "__main__":
    main()
