#!/usr/bin/python3
"""
forward.py - forwarding benchmark: slnfd (filter + router chain) against Linux
kernel forwarding, measured side by side in one run on the same topology.

    client ns --veth-- gateway ns --veth-- server ns

For each gateway (kernel, slnfd on af_packet ports, slnfd on af_xdp ports) it
runs, ROUNDS times interleaved so machine noise hits every gateway alike:
  - UDP: iperf3 -u with 18-byte payloads (64-byte frames), unlimited rate:
    packets per second received by the server;
  - TCP: iperf3 bulk transfer: Gbit/s received.
The "busy" variant turns idle back-off off (workers.busy_poll) to show its cost;
the "+firewall" variants add the stateful firewall (af_xdp ports) with its
state on the local (per-process) and shm (shared memory) stores.
It prints the median of each and the ratio to the kernel. Absolute numbers
depend on the machine; the ratios are the result. Not a test: nothing here
passes or fails on speed.

Usage: sudo bench/forward.py [--rounds N] [--seconds S]
"""
import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
import topo  # noqa: E402
from iperf import iperf  # noqa: E402

def busy_poll(cfg):
    cfg["workers"]["busy_poll"] = True


FIREWALL = {"nf": "firewall", "default": "deny", "rules": [
    {"name": "return", "action": "allow", "state": ["established", "related"]},
    {"name": "out", "action": "allow", "state": ["new"]}]}


def with_firewall(backend):
    """The chain filter -> firewall -> router, state on the given backend."""
    def edit(cfg):
        chain = cfg["tenants"][0]["chain"]
        chain.insert(len(chain) - 1, FIREWALL)
        if backend == "local":
            cfg["store"] = {"backend": "local", "capacity": 65536}
    return edit


# (name, gateway, port type, config edit)
GATEWAYS = [("kernel", "kernel", "af_packet", None),
            ("slnfd af_packet", "slnfd", "af_packet", None),
            ("slnfd af_xdp", "slnfd", "af_xdp", None),
            ("slnfd af_xdp busy", "slnfd", "af_xdp", busy_poll),
            ("+firewall, local", "slnfd", "af_xdp", with_firewall("local")),
            ("+firewall, shm", "slnfd", "af_xdp", with_firewall("shm"))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    args = ap.parse_args()
    results = {name: {"udp_pps": [], "tcp_gbps": [], "eal_ms": []} for name, _, _, _ in GATEWAYS}
    for rnd in range(args.rounds):
        for name, gw, ptype, edit in GATEWAYS:
            with topo.Topo(port_type=ptype, gateway=gw, config=edit) as t:
                topo.assert_ping(t, t.ns_client, t.server_ip, count=2)
                r = results[name]
                r["udp_pps"].append(iperf(t, True, args.seconds))
                r["tcp_gbps"].append(iperf(t, False, args.seconds))
                if gw == "slnfd":
                    r["eal_ms"].append(t.stats()["eal_init_ms"])
            print(f"round {rnd + 1}/{args.rounds} {name}: udp {r['udp_pps'][-1]:.0f} pps, "
                  f"tcp {r['tcp_gbps'][-1]:.2f} Gbit/s", flush=True)
    base = {k: statistics.median(results["kernel"][k]) for k in ("udp_pps", "tcp_gbps")}
    print()
    print(f"{'gateway':18} {'UDP 64B pps':>12} {'vs kernel':>10} {'TCP Gbit/s':>11} "
          f"{'vs kernel':>10} {'EAL init ms':>12}")
    for name, _, _, _ in GATEWAYS:
        r = results[name]
        udp, tcp = statistics.median(r["udp_pps"]), statistics.median(r["tcp_gbps"])
        eal = f"{statistics.median(r['eal_ms']):.0f}" if r["eal_ms"] else "-"
        print(f"{name:18} {udp:12.0f} {udp / base['udp_pps']:10.2f} {tcp:11.2f} "
              f"{tcp / base['tcp_gbps']:10.2f} {eal:>12}")


if __name__ == "__main__":
    main()
