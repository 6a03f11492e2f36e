"""
test_golden_nat.py - golden packets through the chain nat -> router on DPDK
pcap ports (see pcapio.py): frames built with scapy go in, and what each
port sent is compared field by field, checksums included, with packets
scapy builds and checksums itself.

The NAT is stateful and a pcap port reads its whole file at once, so a
test runs in phases, one slnfd run each over the same shm table (state
outlives slnfd by design): phase 1 sends from the inside, phase 2 answers
from outside, phase 3 sends from the inside again. Every port source is
above 1024 and distinct, so each mapping keeps its port and the expected
packets are exact. Covered: outbound TCP, UDP (with a checksum of 0) and
ICMP echo; replies translated back; unmapped inbound dropped; ICMP errors
translated both ways (RFC 5508); hairpinning; a port forward; and
address-dependent filtering.
"""

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw

from pcapio import pcap_port, run_pcaps
from topo import Slnfd, nf_stats

LAN_MAC, WAN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
GW_LAN, GW_WAN = "10.1.1.1", "10.2.2.1"
POOL = GW_WAN  # the usual SNAT: to the gateway's own wan address
HOSTS = {  # name: (port, address, mac)
    "client": ("lan", "10.1.1.2", "02:00:00:00:aa:01"),
    "client2": ("lan", "10.1.1.3", "02:00:00:00:aa:02"),
    "web": ("lan", "10.1.1.5", "02:00:00:00:aa:05"),
    "server": ("wan", "10.2.2.2", "02:00:00:00:bb:01"),
    "server2": ("wan", "10.2.2.3", "02:00:00:00:bb:02"),
    "rtr": ("wan", "10.2.2.254", "02:00:00:00:bb:fe"),
}
GW_MAC = {"lan": LAN_MAC, "wan": WAN_MAC}


def ip_of(h):
    return HOSTS[h][1]


def config(d, rx, nat_extra):
    ports = [pcap_port(d.tmp, "lan", LAN_MAC, GW_LAN + "/24", rx="lan" in rx),
             pcap_port(d.tmp, "wan", WAN_MAC, GW_WAN + "/24", rx="wan" in rx)]
    static = [{"port": p, "ip": a, "mac": m} for p, a, m in HOSTS.values()]
    nat = {"nf": "nat", "inside": ["lan"], "pool": [POOL], **nat_extra}
    chain = [nat, {"nf": "router"}]
    return d.config(ports, [{"name": "t1", "id": 1, "match": {"ports": ["lan", "wan"]},
                             "chain": chain}], neighbours={"static": static})


def frm(h, l3):
    """A frame host h sends to the gateway."""
    port, _, mac = HOSTS[h]
    return Ether(src=mac, dst=GW_MAC[port]) / l3


def sent_to(h, l3):
    """The frame the gateway sends host h (l3 with checksums left to scapy)."""
    port, _, mac = HOSTS[h]
    return Ether(src=GW_MAC[port], dst=mac) / l3


def phase(d, nat_extra, inputs):
    """One slnfd run: returns (stats, {port: [Ether]})."""
    s, out = run_pcaps(d, config(d, inputs, nat_extra), inputs)
    return s, {p: [Ether(f) for f in frames] for p, frames in out.items()}


def same(got, want):
    """Field by field (scapy's dump names the field that differs), then
    byte for byte."""
    want = Ether(bytes(want))  # checksums computed
    assert got.show(dump=True) == want.show(dump=True)
    assert bytes(got) == bytes(want)


def same_set(got, want):
    """The same packets in any order."""
    got = sorted(got, key=bytes)
    want = sorted((Ether(bytes(w)) for w in want), key=bytes)
    assert len(got) == len(want), [p.summary() for p in got]
    for g, w in zip(got, want):
        same(g, w)


def drops(s):
    return {k: v for k, v in s["drops"].items() if v}


def test_snat_replies_errors_hairpin_forward(slnfd):
    fwd = {"forwards": [{"proto": "tcp", "port": 8080, "to": ip_of("web") + ":80"}]}
    c, c2, srv = ip_of("client"), ip_of("client2"), ip_of("server")
    payload = Raw(b"golden-nat" * 3)
    udp = IP(src=c, dst=srv, id=1) / UDP(sport=40001, dport=53) / payload
    udp0 = IP(src=c, dst=srv, id=2) / UDP(sport=40002, dport=9, chksum=0) / payload
    tcp = IP(src=c, dst=srv, id=3) / TCP(sport=40003, dport=443, flags="S", seq=1000)
    echo = IP(src=c, dst=srv, id=4) / ICMP(id=40004, seq=1) / payload
    pin = IP(src=c, dst=srv, id=5) / UDP(sport=40005, dport=3478) / payload

    with Slnfd() as d:
        # ---- phase 1: out from the inside
        s, out = phase(d, fwd, {"lan": [frm("client", p) for p in (udp, udp0, tcp, echo, pin)]})
        want = []
        for p in (udp, udp0, tcp, echo, pin):
            q = p.copy()
            q.src, q.ttl = POOL, 63
            del q.chksum
            if q.haslayer(UDP) and q[UDP].chksum != 0:
                del q[UDP].chksum
            for layer in (TCP, ICMP):
                if q.haslayer(layer):
                    del q[layer].chksum
            want.append(sent_to("server", q))
        same_set(out["wan"], want)
        assert out["lan"] == []
        assert [p[UDP].chksum for p in out["wan"] if UDP in p and p[UDP].sport == 40002] == [0]
        nat = nf_stats(s, "nat")
        assert (nat["created"], nat["preserved"], nat["translated_out"]) == (5, 5, 5), nat
        assert drops(s) == {}
        sent = {p[IP].id: p for p in out["wan"]}

        # ---- phase 2: from outside: replies, an unmapped packet, ICMP
        # errors quoting what phase 1 sent (one whole, one 8 bytes), a
        # connection to the port forward
        reply = IP(src=srv, dst=POOL, id=11) / UDP(sport=53, dport=40001) / payload
        ereply = IP(src=srv, dst=POOL, id=12) / ICMP(type=0, id=40004, seq=1) / payload
        stray = IP(src=srv, dst=POOL, id=13) / UDP(sport=53, dport=6000) / payload
        unreach = (IP(src=ip_of("rtr"), dst=POOL, id=14) / ICMP(type=3, code=1) /
                   Raw(bytes(sent[1][IP])))
        expired = (IP(src=ip_of("rtr"), dst=POOL, id=15) / ICMP(type=11, code=0) /
                   Raw(bytes(sent[3][IP])[:28]))
        syn = IP(src=srv, dst=POOL, id=16) / TCP(sport=33000, dport=8080, flags="S", seq=5)
        s, out = phase(d, fwd, {"wan": [frm("server", p) for p in (reply, ereply, stray, syn)] +
                                [frm("rtr", p) for p in (unreach, expired)]})
        assert out["wan"] == []
        quote_udp = bytes(IP(src=c, dst=srv, id=1, ttl=63) / UDP(sport=40001, dport=53) / payload)
        quote_tcp = bytes(IP(src=c, dst=srv, id=3, ttl=63) /
                          TCP(sport=40003, dport=443, flags="S", seq=1000))[:28]
        to_client = [
            IP(src=srv, dst=c, id=11, ttl=63) / UDP(sport=53, dport=40001) / payload,
            IP(src=srv, dst=c, id=12, ttl=63) / ICMP(type=0, id=40004, seq=1) / payload,
            IP(src=ip_of("rtr"), dst=c, id=14, ttl=63) / ICMP(type=3, code=1) / Raw(quote_udp),
            IP(src=ip_of("rtr"), dst=c, id=15, ttl=63) / ICMP(type=11, code=0) / Raw(quote_tcp),
        ]
        want = [sent_to("client", p) for p in to_client] + [
            sent_to("web", IP(src=srv, dst=ip_of("web"), id=16, ttl=63) /
                    TCP(sport=33000, dport=80, flags="S", seq=5))]
        # the quotes are restored to what the client sent (TTL as the
        # router left it), every checksum in them recomputed by scapy
        same_set(out["lan"], want)
        nat = nf_stats(s, "nat")
        assert (nat["translated_in"], nat["icmp_errors_in"], nat["forwarded_in"],
                nat["unmapped"]) == (3, 2, 1, 1), nat  # translated_in counts the forward
        assert drops(s) == {"nat_unmapped": 1}
        got_reply = [p for p in out["lan"] if p[IP].id == 11][0]

        # ---- phase 3: from the inside: port unreachable about the reply,
        # hairpinning to the client's mapping, the web server's answer
        perr = (IP(src=c, dst=srv, id=21) / ICMP(type=3, code=3) / Raw(bytes(got_reply[IP])))
        hair = IP(src=c2, dst=POOL, id=22) / UDP(sport=41000, dport=40005) / payload
        synack = (IP(src=ip_of("web"), dst=srv, id=23) /
                  TCP(sport=80, dport=33000, flags="SA", seq=9, ack=6))
        s, out = phase(d, fwd, {"lan": [frm("client", perr), frm("client2", hair),
                                        frm("web", synack)]})
        quote_reply = bytes(IP(src=srv, dst=POOL, id=11, ttl=63) / UDP(sport=53, dport=40001) /
                            payload)
        same_set(out["wan"], [
            sent_to("server", IP(src=POOL, dst=srv, id=21, ttl=63) / ICMP(type=3, code=3) /
                    Raw(quote_reply)),
            sent_to("server", IP(src=POOL, dst=srv, id=23, ttl=63) /
                    TCP(sport=8080, dport=33000, flags="SA", seq=9, ack=6)),
        ])
        same_set(out["lan"], [
            sent_to("client", IP(src=POOL, dst=c, id=22, ttl=63) /
                    UDP(sport=41000, dport=40005) / payload),
        ])
        nat = nf_stats(s, "nat")
        assert (nat["icmp_errors_out"], nat["hairpinned"], nat["forwarded_out"]) == (1, 1, 1), nat
        assert drops(s) == {}


def test_address_dependent_filtering(slnfd):
    adf = {"filtering": "address-dependent"}
    c, srv, srv2 = ip_of("client"), ip_of("server"), ip_of("server2")
    with Slnfd() as d:
        s, out = phase(d, adf, {"lan": [frm("client", IP(src=c, dst=srv, id=1) /
                                              UDP(sport=45000, dport=3478))]})
        assert len(out["wan"]) == 1 and out["wan"][0][IP].src == POOL
        assert nf_stats(s, "nat")["permits"] == 1
        ok = IP(src=srv, dst=POOL, id=2) / UDP(sport=3479, dport=45000)  # another port: fine
        no = IP(src=srv2, dst=POOL, id=3) / UDP(sport=3478, dport=45000)
        s, out = phase(d, adf, {"wan": [frm("server", ok), frm("server2", no)]})
        same_set(out["lan"], [sent_to("client", IP(src=srv, dst=c, id=2, ttl=63) /
                                      UDP(sport=3479, dport=45000))])
        assert nf_stats(s, "nat")["filtered"] == 1
        assert drops(s) == {"nat_filtered": 1}
