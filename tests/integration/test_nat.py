"""
test_nat.py - NAT44 between the client (lan, inside) and the server (wan)
with real hosts, chain filter -> nat -> router, over the shm store and over
a redis-server started for the test: a 10 MB HTTP download (sha256
checked) whose connection the server sees from the pool address, ping
through the NAT, UDP through the NAT with the peer the server saw echoed
back, a port forward (the server fetches a file from an httpd in the
client namespace through pool address:8080), and hairpinning (two client
sockets reach each other through their outside endpoints).

Each test runs with two pools: the gateway's own wan address 10.N.2.1 (the
usual deployment: slnfd answers ARP for it, and replies to it go through the
chain, where the NAT claims them), and 10.N.2.100, an address slnfd does not
own, for which the server namespace gets a static neighbour entry (slnfd
answers ARP only for its own addresses).
"""

import subprocess
import sys

import pytest

from redis_server import redis_store  # noqa: F401  (the fixture)
from topo import HERE, PYTHON, Topo, assert_ping, http_download, nf_stats, read_line_with, run

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


HAIRPIN = r"""
import socket, sys
srv, pool = sys.argv[1], sys.argv[2]
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("0.0.0.0", 40011))
a.settimeout(1)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b.bind(("0.0.0.0", 40012))
b.settimeout(1)
for _ in range(10):  # a gets its mapping (pool:40011) by talking to the server
    a.sendto(b"hello", (srv, 9999))
    try:
        a.recvfrom(2048)
        break
    except socket.timeout:
        pass
for _ in range(10):  # b reaches a through a's outside endpoint
    b.sendto(b"via-pool", (pool, 40011))
    try:
        data, peer = a.recvfrom(2048)
        print("a-got %s %s:%d" % (data.decode(), peer[0], peer[1]), flush=True)
        a.sendto(b"back", peer)  # and a answers b's outside endpoint
        data, peer = b.recvfrom(2048)
        print("b-got %s %s:%d" % (data.decode(), peer[0], peer[1]), flush=True)
        break
    except socket.timeout:
        pass
"""


POOLS = ["wan-address", "extra-address"]
BACKENDS = ["shm", "redis"]


def pool_ip(t, pool):
    net = t.server_ip.rsplit(".", 1)[0]
    return net + (".1" if pool == "wan-address" else ".100")


def store_of(backend, request):
    """The store section for backend (None: the topology's shm default)."""
    return request.getfixturevalue("redis_store") if backend == "redis" else None


def nat_topo(pool, store=None, **nat_extra):
    def edit(cfg):
        net = cfg["ports"][1]["ipv4"][0].rsplit(".", 1)[0]
        addr = net + (".1" if pool == "wan-address" else ".100")
        client = cfg["ports"][0]["ipv4"][0].rsplit(".", 1)[0] + ".2"
        extra = {k: v(client) if callable(v) else v for k, v in nat_extra.items()}
        cfg["tenants"][0]["chain"].insert(1, {"nf": "nat", "inside": ["lan"], "pool": [addr],
                                              **extra})
        if store:
            cfg["store"] = store
    return Topo(config=edit)


def prepare(t, pool):
    """The server reaches an extra pool address through slnfd's wan port."""
    if pool == "wan-address":
        return
    mac = t.mac(t.ns_gw, t.if_wan)
    run(["ip", "neigh", "replace", pool_ip(t, pool), "lladdr", mac, "dev", t.if_server,
         "nud", "permanent"], ns=t.ns_server)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pool", POOLS)
def test_download_through_nat(slnfd, pool, backend, request):
    with nat_topo(pool, store_of(backend, request)) as t:
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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pool", POOLS)
def test_ping_and_udp_through_nat(slnfd, pool, backend, request):
    with nat_topo(pool, store_of(backend, request)) as t:
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_port_forward(slnfd, backend, request):
    """The server reaches an httpd in the client namespace through the
    forward pool:8080 -> client:8000, and sees its own address (no source
    NAT on inbound connections); the answers leave from pool:8080."""
    with nat_topo("wan-address", store_of(backend, request),
                  forwards=lambda client: [{"proto": "tcp", "port": 8080,
                                            "to": client + ":8000"}]) as t:
        www = t.tmp / "www-fwd"
        www.mkdir()
        (www / "hello.txt").write_text("forwarded\n")
        conns = t.tmp / "httpd-fwd.conns"
        conns.write_text("")
        p = t.spawn(t.ns_client, [PYTHON, str(HERE / "httpd.py"), "--bind", t.client_ip,
                                  "--port", "8000", "--dir", str(www), "--conn-log", str(conns)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        read_line_with(p, "listening", timeout=10)
        pool = pool_ip(t, "wan-address")
        r = run(["curl", "-sS", "--connect-timeout", "5", "--max-time", "20",
                 f"http://{pool}:8080/hello.txt"], ns=t.ns_server, check=False, timeout=30)
        assert r.returncode == 0 and r.stdout == "forwarded\n", (r.returncode, r.stdout, r.stderr)
        peers = conns.read_text().split()
        assert peers and all(p.split(":")[0] == t.server_ip for p in peers), peers
        nat = nf_stats(t.stats(), "nat")
        assert nat["forwarded_in"] >= 3 and nat["forwarded_out"] >= 3, nat
        assert nat["created"] == 0, nat  # a forward needs no dynamic mapping
        # a port with no forward stays closed
        r = run(["curl", "-sS", "--connect-timeout", "2", "--max-time", "3",
                 f"http://{pool}:8081/"], ns=t.ns_server, check=False, timeout=15)
        assert r.returncode in (7, 28), r.returncode


@pytest.mark.parametrize("backend", BACKENDS)
def test_hairpin(slnfd, backend, request):
    with nat_topo("wan-address", store_of(backend, request)) as t:
        srv = t.spawn(t.ns_server, [sys.executable, "-c", UDP_ECHO, t.server_ip, "9999"],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert srv.stdout.readline().strip() == "listening"
        pool = pool_ip(t, "wan-address")
        r = run([sys.executable, "-c", HAIRPIN, t.server_ip, pool], ns=t.ns_client, timeout=40)
        # each socket saw the other from its outside endpoint
        assert r.stdout.split("\n")[:2] == [f"a-got via-pool {pool}:40012",
                                            f"b-got back {pool}:40011"], r.stdout
        nat = nf_stats(t.stats(), "nat")
        assert nat["hairpinned"] >= 2, nat
