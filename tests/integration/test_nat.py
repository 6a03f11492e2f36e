"""
test_nat.py - source NAT between the client (lan, inside) and the server
(wan) with real hosts, chain filter -> nat -> router and the shm store: a
10 MB HTTP download (sha256 checked) whose connection the server sees from
the pool address, ping through the NAT, and UDP through the NAT with the
peer the server saw echoed back.

Each test runs with two pools: the gateway's own wan address 10.N.2.1 (the
usual deployment: slnfd answers ARP for it, and replies to it go through the
chain, where the NAT claims them), and 10.N.2.100, an address slnfd does not
own, for which the server namespace gets a static neighbour entry (slnfd
answers ARP only for its own addresses).
"""

import subprocess
import sys

import pytest

from topo import Topo, assert_ping, http_download, nf_stats, run

MB = 1024 * 1024

UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(("%s:%d " % peer).encode() + data, peer)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(1)
for _ in range(10):
    s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(2048)[0].decode())
        break
    except socket.timeout:
        pass
"""


POOLS = ["wan-address", "extra-address"]


def pool_ip(t, pool):
    net = t.server_ip.rsplit(".", 1)[0]
    return net + (".1" if pool == "wan-address" else ".100")


def nat_topo(pool):
    def edit(cfg):
        net = cfg["ports"][1]["ipv4"][0].rsplit(".", 1)[0]
        addr = net + (".1" if pool == "wan-address" else ".100")
        cfg["tenants"][0]["chain"].insert(1, {"nf": "nat", "inside": ["lan"], "pool": [addr]})
    return Topo(config=edit)


def prepare(t, pool):
    """The server reaches an extra pool address through slnfd's wan port."""
    if pool == "wan-address":
        return
    mac = t.mac(t.ns_gw, t.if_wan)
    run(["ip", "neigh", "replace", pool_ip(t, pool), "lladdr", mac, "dev", t.if_server,
         "nud", "permanent"], ns=t.ns_server)


@pytest.mark.parametrize("pool", POOLS)
def test_download_through_nat(slnfd, pool):
    with nat_topo(pool) as t:
        prepare(t, pool)
        http_download(t, 10 * MB)
        peers = (t.tmp / "httpd-8080.conns").read_text().split()
        assert peers, "the server logged no connection"
        assert all(p.split(":")[0] == pool_ip(t, pool) for p in peers), peers
        s = t.stats()
        nat = nf_stats(s, "nat")
        assert s["drops"]["store_error"] == 0, s["drops"]
        assert nat["created"] >= 1 and nat["store_errors"] == 0, nat
        assert nat["translated_out"] >= 1 and nat["translated_in"] >= 10 * MB // 1500, nat


@pytest.mark.parametrize("pool", POOLS)
def test_ping_and_udp_through_nat(slnfd, pool):
    with nat_topo(pool) as t:
        prepare(t, pool)
        assert_ping(t, t.ns_client, t.server_ip, count=3)
        srv = t.spawn(t.ns_server, [sys.executable, "-c", UDP_ECHO, t.server_ip, "9999"],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert srv.stdout.readline().strip() == "listening"
        r = run([sys.executable, "-c", UDP_CLIENT, t.server_ip, "9999", "40001"],
                ns=t.ns_client, timeout=20)
        # the server saw the pool address and the preserved port
        assert r.stdout.split() == [f"{pool_ip(t, pool)}:40001", "hello"], r.stdout
        nat = nf_stats(t.stats(), "nat")
        assert nat["preserved"] >= 2 and nat["translated_in"] >= 4, nat
