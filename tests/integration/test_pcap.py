"""
test_pcap.py - golden packets through the demo chain (filter -> router) on
DPDK pcap ports: frames written with scapy, fed to slnfd from files, and what
each port sent read back and compared byte for byte. Next hops are static
neighbours, so no ARP is involved and the output is exact: a forwarded frame
is the input with new MAC addresses, TTL one less and a fixed header
checksum, nothing else; denied, malformed and foreign frames are absent and
counted under their reason; TTL 1 and no-route packets come back out of the
ingress port as ICMP errors quoting the original.
"""

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw
from scapy.layers.inet import in4_chksum

from pcapio import hexes, pcap_port, routed, run_pcaps, sums_ok
from pkttool import ipv4, udp
from topo import Slnfd, nf_stats, port_stats, rule_hits

LAN_MAC, WAN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:aa:01", "02:00:00:00:bb:01"
UPSTREAM_MAC = "02:00:00:00:bb:fe"
GW_LAN, CLIENT, GW_WAN, SERVER = "10.1.1.1", "10.1.1.2", "10.2.2.1", "10.2.2.2"
FAR = "10.3.0.5"  # behind the upstream router 10.2.2.254
NO_ROUTE = "192.0.2.55"


def config(d, rx):
    ports = [pcap_port(d.tmp, "lan", LAN_MAC, GW_LAN + "/24", rx="lan" in rx),
             pcap_port(d.tmp, "wan", WAN_MAC, GW_WAN + "/24", rx="wan" in rx)]
    static = [{"port": "lan", "ip": CLIENT, "mac": CLIENT_MAC},
              {"port": "wan", "ip": SERVER, "mac": SERVER_MAC},
              {"port": "wan", "ip": "10.2.2.254", "mac": UPSTREAM_MAC}]
    chain = [{"nf": "filter", "rules": [{"name": "no-telnet", "action": "deny",
                                         "proto": "tcp", "dst_port": "23"}]},
             {"nf": "router", "routes": [{"prefix": "10.3.0.0/16", "port": "wan",
                                          "via": "10.2.2.254"}]}]
    return d.config(ports, [{"name": "t1", "id": 1, "match": {"ports": ["lan", "wan"]},
                             "chain": chain}], neighbours={"static": static})


def from_client(dst, l4, ttl=64, mac=LAN_MAC, ident=1):
    return Ether(src=CLIENT_MAC, dst=mac) / IP(src=CLIENT, dst=dst, ttl=ttl, id=ident) / l4


def run(rx):
    with Slnfd() as d:
        return run_pcaps(d, config(d, rx), rx)


def test_forwarding_is_exact(slnfd):
    dns = [from_client(SERVER, UDP(sport=4000 + i, dport=53) / Raw(b"q%d" % i * 50), ident=i)
           for i in range(3)]
    far = from_client(FAR, TCP(sport=5555, dport=443, flags="S", seq=77), ttl=9, ident=9)
    telnet = [from_client(SERVER, TCP(sport=6000 + i, dport=23), ident=20 + i) for i in range(2)]
    foreign = from_client(SERVER, UDP(dport=53), mac="02:00:00:00:00:99")
    reply = (Ether(src=SERVER_MAC, dst=WAN_MAC) / IP(src=SERVER, dst=CLIENT, ttl=64) /
             UDP(sport=53, dport=4000) / Raw(b"answer"))
    s, out = run({"lan": dns + [telnet[0], far, foreign, telnet[1]], "wan": [reply]})

    assert hexes(out["wan"]) == hexes([routed(f, WAN_MAC, SERVER_MAC) for f in dns] +
                                      [routed(far, WAN_MAC, UPSTREAM_MAC)])
    assert hexes(out["lan"]) == hexes([routed(reply, LAN_MAC, CLIENT_MAC)])
    for f in out["wan"] + out["lan"]:  # what `routed` promises, checked on its own
        ip = Ether(f)[IP]
        assert sums_ok(f[14:34]) and ip.ttl in (63, 8), ip.show(dump=True)
        assert in4_chksum(ip.proto, ip, bytes(ip.payload)) == 0, ip.show(dump=True)
    assert rule_hits(s, "no-telnet") == 2 and nf_stats(s, "filter")["denied"] == 2
    assert nf_stats(s, "router")["forwarded"] == 5
    lan, wan = port_stats(s, "lan"), port_stats(s, "wan")
    assert (lan["rx_packets"], lan["tx_packets"], wan["rx_packets"], wan["tx_packets"]) == \
        (7, 1, 1, 4)
    assert {k: v for k, v in s["drops"].items() if v} == {"filter_deny": 2, "l2_not_ours": 1}
    assert s["tenants"][0]["rx_packets"] == 7  # the foreign frame never got as far


def test_ttl_1_and_no_route_answered_on_ingress_port(slnfd):
    expired = from_client(SERVER, UDP(sport=33000, dport=33434) / Raw(b"x" * 40), ttl=1, ident=5)
    lost = from_client(NO_ROUTE, ICMP(id=7, seq=1) / Raw(b"ping"), ident=6)
    s, out = run({"lan": [expired, lost]})

    assert out["wan"] == []
    got = sorted((Ether(f) for f in out["lan"]), key=lambda p: p[ICMP].type)
    assert [(p[ICMP].type, p[ICMP].code) for p in got] == [(3, 0), (11, 0)]
    for p, orig in zip(got, (lost, expired)):
        f = bytes(p)
        assert (p.src, p.dst) == (LAN_MAC, CLIENT_MAC)
        assert (p[IP].src, p[IP].dst, p[IP].ttl, p[IP].tos, p[IP].proto) == \
            (GW_LAN, CLIENT, 64, 0xC0, 1)
        assert sums_ok(f[14:34]) and sums_ok(f[34:])  # IPv4 header, ICMP message
        assert p[IP].len == len(f) - 14 == 20 + 8 + 28
        # the quote: the original IPv4 header as received (TTL 1, not 0),
        # then the first 8 bytes of its payload
        assert f[14 + 28:] == bytes(orig[IP])[:28]
    r = nf_stats(s, "router")
    assert (r["ttl_exceeded"], r["no_route"], r["icmp_sent"], r["forwarded"]) == (1, 1, 2, 0)
    assert port_stats(s, "lan")["tx_packets"] == 2
    # answered or not, neither was forwarded: both count as drops (docs/stats.md)
    assert {k: v for k, v in s["drops"].items() if v} == {"ttl_exceeded": 1, "no_route": 1}


DATA = udp(40000, 9, b"slnf" * 8)  # checksum 0 ("none"): only the IPv4 header is at fault
MALFORMED = {  # reason: (how many, the IPv4 packet with exactly that defect)
    "ip_truncated": (2, ipv4(CLIENT, SERVER, DATA)[:12]),
    "ip_bad_version": (1, b"\x65" + ipv4(CLIENT, SERVER, DATA)[1:]),
    "ip_bad_ihl": (3, ipv4(CLIENT, SERVER, DATA, ihl=4)),
    "ip_bad_len": (4, ipv4(CLIENT, SERVER, DATA, total_len=1400)),
    "ip_bad_csum": (5, ipv4(CLIENT, SERVER, DATA, bad_csum=True)),
    "ip_bad_src": (1, ipv4("0.0.0.0", SERVER, DATA)),
}


def test_malformed_dropped_and_counted_by_reason(slnfd):
    eth = bytes(Ether(src=CLIENT_MAC, dst=LAN_MAC, type=0x0800))
    good = eth + ipv4(CLIENT, SERVER, DATA)
    frames = [good[:10]]  # runt
    for n, packet in MALFORMED.values():
        frames += [eth + packet] * n
    s, out = run({"lan": frames + [good]})

    # the good packet after them all still goes through, and nothing else does
    assert hexes(out["wan"]) == hexes([routed(good, WAN_MAC, SERVER_MAC)])
    assert out["lan"] == []
    want = {reason: n for reason, (n, _) in MALFORMED.items()}
    assert {k: v for k, v in s["drops"].items() if v} == {"runt": 1, **want}
    assert port_stats(s, "lan")["drops"] == s["drops"]
    assert s["tenants"][0]["rx_packets"] == 1
