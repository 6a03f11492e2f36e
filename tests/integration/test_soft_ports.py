"""
test_soft_ports.py - the port types the benchmarks use, which need neither
an interface nor a file: `ring` (DPDK rings inside slnfd; nothing arrives
unless slnfd sends it) and `null` (an endless stream of zero-filled 64-byte
frames in, everything sent thrown away). slnfd must start on them with a
router chain, count what the null port receives (frames for MAC 0, so
`l2_not_ours`) and exit 0 on SIGTERM. Every port type must use the MAC its
config gives.
"""

import pytest

from pcapio import pcap_port
from topo import Slnfd, nf_stats, port_stats

MAC = "02:00:00:00:00:11"


def router_tenant(ports):
    return [{"name": "t1", "id": 1, "match": {"ports": ports}, "chain": [
        {"nf": "router", "routes": [{"prefix": "0.0.0.0/0", "port": ports[-1],
                                     "via": "10.2.2.254"}]}]}]


def test_ring_and_null_ports_start_and_stop(slnfd):
    with Slnfd() as d:
        ports = [{"name": "r", "type": "ring", "ipv4": ["10.1.1.1/24"]},
                 {"name": "n", "type": "null", "ipv4": ["10.2.2.1/24"]}]
        d.start(d.config(ports, router_tenant(["r", "n"])))
        s = d.stats()
        assert [(p["name"], p["type"]) for p in s["ports"]] == [("r", "ring"), ("n", "null")]
        assert nf_stats(s, "router")["routes"] == 3  # two connected, one default
        r, n = port_stats(s, "r"), port_stats(s, "n")
        assert r["rx_packets"] == r["tx_packets"] == n["tx_packets"] == 0, (r, n)
        # counters are read while the worker runs: at most a burst in flight
        assert 0 < n["drops"]["l2_not_ours"] <= n["rx_packets"] <= n["drops"]["l2_not_ours"] + 32
        code = d.stop()
        assert code == 0 and not d.killed, f"exit {code}; log:\n{d.log()}"


@pytest.mark.parametrize("ptype", ["ring", "null", "pcap"])
def test_configured_mac_is_used(slnfd, ptype):
    with Slnfd() as d:
        port = pcap_port(d.tmp, "p", MAC, "10.2.2.1/24") if ptype == "pcap" else \
            {"name": "p", "type": ptype, "mac": MAC, "ipv4": ["10.2.2.1/24"]}
        d.start(d.config([port], router_tenant(["p"])))
        assert port_stats(d.stats(), "p")["mac"] == MAC, d.log()
