"""
test_golden_firewall.py - golden packets through the stateful firewall
(chain firewall -> router) on pcap ports: scripted TCP, UDP and ICMP
exchanges between a client behind lan and a server behind wan go in, in a
fixed order (golden.py: burst 1, one event per round), and the test checks
exactly which frames come out of each port, field by field against frames
scapy builds (checksums included: the firewall must not touch a byte, the
router only rewrites MACs, TTL and the IPv4 checksum), the firewall's class
counters and every drop reason.

The rules are the usual ones: established/related allowed, new allowed from
the lan prefix, everything else denied; invalid packets are dropped.

A last test feeds whole bursts instead (lan's SYNs and wan's SYN/ACKs as one
rx burst each), with the shm store and with redis, whose batches complete
later: the worker must hold the wan burst until the lan burst's records are
written (worker.c's per-flow hold rule), or every SYN/ACK is invalid.
"""

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPerror, Raw, TCPerror, UDPerror

from golden import assert_frames, nonzero, run_sequence
from pcapio import pcap_port, run_pcaps
from redis_server import redis_server
from topo import Slnfd, nf_stats

LAN_MAC, WAN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:aa:01", "02:00:00:00:bb:01"
GW_LAN, CLIENT, GW_WAN, SERVER = "10.1.1.1", "10.1.1.2", "10.2.2.1", "10.2.2.2"
C_ISN, S_ISN = 1000, 500000
CWIN, SWIN = 64240, 65160


def config(d, burst=1, store=None):
    ports = [pcap_port(d.tmp, "lan", LAN_MAC, GW_LAN + "/24", rx=True),
             pcap_port(d.tmp, "wan", WAN_MAC, GW_WAN + "/24", rx=True)]
    static = [{"port": "lan", "ip": CLIENT, "mac": CLIENT_MAC},
              {"port": "wan", "ip": SERVER, "mac": SERVER_MAC}]
    chain = [{"nf": "firewall", "default": "deny", "rules": [
                 {"name": "est", "action": "allow", "state": ["established", "related"]},
                 {"name": "lan-out", "action": "allow", "state": ["new"],
                  "src": "10.1.1.0/24"}]},
             {"nf": "router", "routes": []}]
    cfg = d.config(ports, [{"name": "t1", "id": 1, "match": {"ports": ["lan", "wan"]},
                            "chain": chain}],
                   neighbours={"static": static},
                   workers={"count": 1, "burst": burst, "busy_poll": False,
                            "idle_sleep_max_us": 200})
    if store:
        cfg["store"] = store
    return cfg


# ---- frames: what each side sends, and what slnfd must send on ----------------

def c2s(l4, ttl=64):
    """A frame from the client, as it arrives on lan."""
    return Ether(src=CLIENT_MAC, dst=LAN_MAC) / IP(src=CLIENT, dst=SERVER, ttl=ttl) / l4


def s2c(l4, ttl=64, src=SERVER):
    """A frame from the server, as it arrives on wan."""
    return Ether(src=SERVER_MAC, dst=WAN_MAC) / IP(src=src, dst=CLIENT, ttl=ttl) / l4


def forwarded(frame):
    """The frame routed on, rebuilt by scapy from fields: new MACs, TTL one
    less, checksums computed afresh (the L4 ones must come out unchanged)."""
    p = Ether(bytes(frame))
    to_wan = p[IP].dst == SERVER
    out = (Ether(src=WAN_MAC if to_wan else LAN_MAC, dst=SERVER_MAC if to_wan else CLIENT_MAC) /
           p[IP].copy())
    out[IP].ttl -= 1
    del out[IP].chksum
    for layer in (TCP, UDP, ICMP):
        if out.haslayer(layer) and not isinstance(out.getlayer(layer).underlayer, IPerror):
            del out[layer].chksum
            break
    return Ether(bytes(out))


class Flow:
    """One TCP connection client:cport -> server:80; tracks both sides'
    next sequence numbers as frames are made."""

    def __init__(self, cport):
        self.cport, self.c, self.s = cport, C_ISN, S_ISN

    def tcp(self, from_client, flags, data=b"", seq=None, ack=None, win=None):
        if from_client:
            seq = self.c if seq is None else seq
            ack = self.s if ack is None else ack
            l4 = TCP(sport=self.cport, dport=80, flags=flags, seq=seq, ack=ack,
                     window=CWIN if win is None else win)
        else:
            seq = self.s if seq is None else seq
            ack = self.c if ack is None else ack
            l4 = TCP(sport=80, dport=self.cport, flags=flags, seq=seq, ack=ack,
                     window=SWIN if win is None else win)
        l4.seq %= 1 << 32
        l4.ack = l4.ack % (1 << 32) if "A" in flags else 0
        return l4 / Raw(data) if data else l4

    def client(self, flags, data=b"", **kw):
        f = c2s(self.tcp(True, flags, data, **kw))
        if "seq" not in kw:
            self.c += len(data) + ("S" in flags) + ("F" in flags)
        return ("lan", f)

    def server(self, flags, data=b"", **kw):
        f = s2c(self.tcp(False, flags, data, **kw))
        if "seq" not in kw:
            self.s += len(data) + ("S" in flags) + ("F" in flags)
        return ("wan", f)

    def handshake(self):
        return [self.client("S"), self.server("SA"), self.client("A")]


def run(events, expect, burst=1):
    """Run events; expect: the indexes of the events that must come out.
    Returns (stats, firewall stats, drops without the fillers)."""
    with Slnfd() as d:
        s, out, fillers = run_sequence(d, config(d, burst), events)
    want = {"lan": [], "wan": []}
    for i in expect:
        port, frame = events[i]
        want["wan" if port == "lan" else "lan"].append(forwarded(frame))
    assert_frames(out["wan"], want["wan"], "wan (client -> server)")
    assert_frames(out["lan"], want["lan"], "lan (server -> client)")
    drops = nonzero(s["drops"])
    assert drops.pop("l2_not_ours") == fillers
    return s, nf_stats(s, "firewall"), drops


def verdicts(fw):
    return {c: (fw[c]["allowed"], fw[c]["denied"])
            for c in ("new", "established", "related", "invalid")}


def test_handshake_and_data(slnfd):
    f = Flow(40000)
    ev = f.handshake() + [f.client("PA", b"GET / HTTP/1.0\r\n\r\n" * 5),
                          f.server("PA", b"x" * 1200), f.client("A"),
                          f.server("FA"), f.client("FA"), f.server("A")]
    s, fw, drops = run(ev, range(len(ev)))
    assert drops == {}
    assert verdicts(fw) == {"new": (1, 0), "established": (8, 0), "related": (0, 0),
                            "invalid": (0, 0)}
    assert fw["created"] == 1 and fw["store_errors"] == 0


def test_inbound_new_blocked(slnfd):
    f = Flow(40001)
    ev = [f.server("S"),
          ("wan", s2c(UDP(sport=53, dport=5353) / Raw(b"unasked"))),
          ("wan", s2c(ICMP(type=8, id=7, seq=1) / Raw(b"ping")))]
    s, fw, drops = run(ev, [])
    assert drops == {"fw_deny": 3}
    assert verdicts(fw)["new"] == (0, 3) and fw["created"] == 0


def test_rst_out_of_window_is_invalid(slnfd):
    f = Flow(40002)
    ev = f.handshake() + [f.server("R", seq=f.s + 10_000_000),
                          f.server("RA", seq=f.s - 10_000_000),
                          f.client("PA", b"still open")]
    s, fw, drops = run(ev, [0, 1, 2, 5])
    assert drops == {"fw_invalid": 2}
    assert verdicts(fw)["invalid"] == (0, 2) and fw["rst_inexact"] == 0


def test_rst_in_window_inexact_keeps_connection(slnfd):
    f = Flow(40003)
    ev = f.handshake() + [f.client("PA", b"a" * 100), f.server("A"),
                          f.server("R", seq=f.s + 1000),  # in the window, not exact
                          f.client("PA", b"b" * 100), f.server("PA", b"c" * 10),
                          # a SYN on an open connection is ignored, not a re-open
                          f.client("S", seq=C_ISN + 777777)]
    s, fw, drops = run(ev, range(len(ev)))
    assert drops == {}
    assert fw["rst_inexact"] == 1 and fw["ignored"] == 1
    assert verdicts(fw)["new"] == (1, 0)


def test_rst_exact_closes(slnfd):
    f = Flow(40004)
    ev = f.handshake() + [f.client("PA", b"a" * 100), f.server("RA")]  # seq == expected
    # closed: the next SYN on the same ports opens a new connection (class new)
    g = Flow(40004)
    g.c, g.s = C_ISN + 50000, S_ISN + 90000
    ev += g.handshake()
    s, fw, drops = run(ev, range(len(ev)))
    assert drops == {}
    assert fw["rst_inexact"] == 0 and fw["ignored"] == 0
    assert verdicts(fw)["new"] == (2, 0), verdicts(fw)


@pytest.mark.parametrize("first", ["client", "server"])
def test_fin_from_each_side(slnfd, first):
    f = Flow(40005 if first == "client" else 40006)
    a, b = (f.client, f.server) if first == "client" else (f.server, f.client)
    ev = f.handshake() + [a("FA"), b("A"), b("PA", b"last words"), a("A"), b("FA"), a("A")]
    g = Flow(f.cport)  # TIME_WAIT: a new SYN re-opens
    g.c, g.s = C_ISN + 70000, S_ISN + 70000
    ev += g.handshake()
    s, fw, drops = run(ev, range(len(ev)))
    assert drops == {}
    assert verdicts(fw)["new"] == (2, 0), verdicts(fw)
    assert fw["ignored"] == 0


def test_icmp_error_related(slnfd):
    q = c2s(UDP(sport=5000, dport=53) / Raw(b"query"))
    seen = Ether(bytes(q))[IP]  # as the server received it: TTL 63
    seen.ttl = 63
    quote = IPerror(bytes(seen)[:28])
    other = IPerror(bytes(c2s(UDP(sport=5000, dport=54) / Raw(b"never sent"))[IP])[:28])
    f = Flow(40007)
    tquote = IPerror(bytes(Ether(bytes(f.client("S")[1]))[IP])[:28])
    f = Flow(40007)
    ev = [("lan", q),
          ("wan", s2c(ICMP(type=3, code=3) / quote)),         # related to the UDP flow
          ("wan", s2c(ICMP(type=3, code=3) / other)),         # quotes no flow: invalid
          f.client("S"),
          ("wan", s2c(ICMP(type=11, code=0) / tquote, src="10.2.2.254"))]  # TCP flow
    s, fw, drops = run(ev, [0, 1, 3, 4])
    assert drops == {"fw_invalid": 1}
    assert verdicts(fw)["related"] == (2, 0) and verdicts(fw)["invalid"] == (0, 1)
    assert isinstance(quote.payload, UDPerror) and isinstance(tquote.payload, TCPerror)


def test_udp_pseudo_connection(slnfd):
    ev = [("lan", c2s(UDP(sport=5001, dport=53) / Raw(b"q1"))),
          ("wan", s2c(UDP(sport=53, dport=5001) / Raw(b"a1"))),
          ("wan", s2c(UDP(sport=53, dport=5002) / Raw(b"unasked"))),   # another flow
          ("lan", c2s(UDP(sport=5001, dport=53) / Raw(b"q2"))),
          ("lan", c2s(ICMP(type=8, id=9, seq=1) / Raw(b"ping"))),
          ("wan", s2c(ICMP(type=0, id=9, seq=1) / Raw(b"ping")))]
    s, fw, drops = run(ev, [0, 1, 3, 4, 5])
    assert drops == {"fw_deny": 1}
    assert verdicts(fw)["new"] == (2, 1) and verdicts(fw)["established"] == (3, 0)
    assert fw["created"] == 2


def test_invalid_without_connection(slnfd):
    f = Flow(40008)
    ev = [f.client("A"), f.client("FA"), f.client("PA", b"data"), f.client("SA"),
          f.server("A"), ("wan", s2c(ICMP(type=0, id=11, seq=1)))]
    s, fw, drops = run(ev, [])
    assert drops == {"fw_invalid": 6}
    assert verdicts(fw)["invalid"] == (0, 6) and fw["created"] == 0


FLOWS = 8


@pytest.mark.parametrize("backend", ["shm", "redis"])
def test_whole_bursts_held_per_flow(slnfd, backend, tmp_path):
    """lan's SYNs as one rx burst, wan's SYN/ACKs as the next: with redis the
    first burst is still waiting for the store when the second arrives."""
    flows = [Flow(41000 + i) for i in range(FLOWS)]
    syns = [f.client("S")[1] for f in flows]
    synacks = [f.server("SA")[1] for f in flows]
    with Slnfd() as d:
        if backend == "redis":
            with redis_server(tmp_path) as store:
                s, out = run_pcaps(d, config(d, 32, store), {"lan": syns, "wan": synacks})
        else:
            s, out = run_pcaps(d, config(d, 32), {"lan": syns, "wan": synacks})
    assert_frames(out["wan"], [forwarded(x) for x in syns], "wan")
    assert_frames(out["lan"], [forwarded(x) for x in synacks], "lan")
    fw = nf_stats(s, "firewall")
    assert verdicts(fw)["new"] == (FLOWS, 0) and verdicts(fw)["established"] == (FLOWS, 0)
    assert nonzero(s["drops"]) == {}
