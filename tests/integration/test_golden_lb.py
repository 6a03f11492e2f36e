"""
test_golden_lb.py - golden packets through the lb NF (chain lb -> router)
on pcap ports, in a fixed order (golden.py), with the shm store.

One VIP has two backends, one of them draining; a second VIP has only a
draining backend. The first run sends SYNs to the VIP from several client
ports, a mid-flow ACK with no pin, return traffic to a snat port nobody
owns and a SYN to the second VIP. Each SYN must come out towards the
non-draining backend, from the snat address and a port in 1024-65535 (the
lb picks it from the flow hash; the test reads it back and then builds the
whole expected frame with scapy, checksums included), one distinct port per
flow; the rest is dropped as lb_no_state / lb_no_backend. The shm table
outlives slnfd, so a second run of the same instance continues the first
flow: the backend's SYN/ACK to snat:port must come out as VIP:80 -> client,
and the client's ACK and data must follow the pin with the same snat port.
"""

from scapy.all import IP, TCP, Ether, Raw

from golden import assert_frames, nonzero, run_sequence
from pcapio import pcap_port
from topo import Slnfd, nf_stats

LAN_MAC, WAN_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT_MAC = "02:00:00:00:aa:01"
GW_LAN, CLIENT, GW_WAN = "10.1.1.1", "10.1.1.2", "10.2.2.1"
VIP, VIP_DRAINED, SNAT = "10.9.9.9", "10.9.9.10", "10.2.2.8"
DRAINING, ACTIVE, LONE = ("10.2.2.10", 8080), ("10.2.2.11", 8080), ("10.2.2.12", 8080)
MACS = {DRAINING[0]: "02:00:00:00:bb:10", ACTIVE[0]: "02:00:00:00:bb:11",
        LONE[0]: "02:00:00:00:bb:12"}
C_ISN, S_ISN = 7000, 900000


def config(d):
    ports = [pcap_port(d.tmp, "lan", LAN_MAC, GW_LAN + "/24", rx=True),
             pcap_port(d.tmp, "wan", WAN_MAC, GW_WAN + "/24", rx=True)]
    static = [{"port": "lan", "ip": CLIENT, "mac": CLIENT_MAC}] + \
        [{"port": "wan", "ip": ip, "mac": mac} for ip, mac in MACS.items()]
    chain = [{"nf": "lb", "snat": SNAT, "vips": [
                 {"vip": VIP, "port": 80, "proto": "tcp", "table_size": 251, "backends": [
                     {"addr": DRAINING[0], "port": DRAINING[1], "drain": True},
                     {"addr": ACTIVE[0], "port": ACTIVE[1]}]},
                 {"vip": VIP_DRAINED, "port": 80, "proto": "tcp", "table_size": 251,
                  "backends": [{"addr": LONE[0], "port": LONE[1], "drain": True}]}]},
             {"nf": "router", "routes": []}]
    return d.config(ports, [{"name": "t1", "id": 1, "match": {"ports": ["lan", "wan"]},
                             "chain": chain}],
                    neighbours={"static": static},
                    workers={"count": 1, "burst": 1, "busy_poll": False,
                             "idle_sleep_max_us": 200})


def client_tcp(cport, flags, seq, ack=0, data=b"", vip=VIP):
    l4 = TCP(sport=cport, dport=80, flags=flags, seq=seq, ack=ack, window=64240)
    return (Ether(src=CLIENT_MAC, dst=LAN_MAC) / IP(src=CLIENT, dst=vip, ttl=64, id=cport) /
            (l4 / Raw(data) if data else l4))


def backend_tcp(backend, sport, flags, seq, ack, data=b""):
    l4 = TCP(sport=backend[1], dport=sport, flags=flags, seq=seq, ack=ack, window=65160)
    return (Ether(src=MACS[backend[0]], dst=WAN_MAC) /
            IP(src=backend[0], dst=SNAT, ttl=64, id=4242) / (l4 / Raw(data) if data else l4))


def to_backend(frame, backend, sport):
    """What the lb and the router make of a client frame: dst the backend,
    src snat:sport, TTL one less, every checksum computed by scapy."""
    p = Ether(bytes(frame))
    ip, tcp = p[IP], p[TCP]
    l4 = TCP(sport=sport, dport=backend[1], flags=tcp.flags, seq=tcp.seq, ack=tcp.ack,
             window=tcp.window) / tcp.payload
    return Ether(src=WAN_MAC, dst=MACS[backend[0]]) / \
        IP(src=SNAT, dst=backend[0], ttl=ip.ttl - 1, id=ip.id) / l4


def to_client(frame, cport):
    p = Ether(bytes(frame))
    ip, tcp = p[IP], p[TCP]
    l4 = TCP(sport=80, dport=cport, flags=tcp.flags, seq=tcp.seq, ack=tcp.ack,
             window=tcp.window) / tcp.payload
    return Ether(src=LAN_MAC, dst=CLIENT_MAC) / \
        IP(src=VIP, dst=CLIENT, ttl=ip.ttl - 1, id=ip.id) / l4


FLOWS = 6
FIRST = 40000


def test_vip_flow_pinned_translated_and_returned(slnfd):
    syns = [client_tcp(FIRST + i, "S", C_ISN) for i in range(FLOWS)]
    stray = [("lan", client_tcp(45000, "A", C_ISN + 1, S_ISN + 1)),     # no pin
             ("wan", backend_tcp(ACTIVE, 9, "SA", S_ISN, C_ISN + 1)),   # no such snat port
             ("lan", client_tcp(45001, "S", C_ISN, vip=VIP_DRAINED))]   # only a drained backend
    with Slnfd() as d:
        cfg = config(d)
        s, out, fillers = run_sequence(d, cfg, [("lan", f) for f in syns] + stray)
        assert out["lan"] == []
        got = [Ether(f) for f in out["wan"]]
        ports = [p[TCP].sport if p.haslayer(TCP) else None for p in got]
        assert len(ports) == FLOWS and all(1024 <= p <= 65535 for p in ports), got
        assert len(set(ports)) == FLOWS, ports
        # every new flow to the non-draining backend, exactly as scapy builds it
        assert_frames(out["wan"], [to_backend(f, ACTIVE, p) for f, p in zip(syns, ports)],
                      "wan (to backends)")
        lb = nf_stats(s, "lb")
        assert (lb["new_flows"], lb["no_pin"], lb["unknown_return"], lb["no_backend"]) == \
            (FLOWS, 1, 1, 1), lb
        assert nonzero(s["drops"]) == {"l2_not_ours": fillers, "lb_no_state": 2,
                                       "lb_no_backend": 1}

        # second run, same store: the backend answers the first flow
        sport, cport = ports[0], FIRST
        synack = backend_tcp(ACTIVE, sport, "SA", S_ISN, C_ISN + 1)
        ack = client_tcp(cport, "A", C_ISN + 1, S_ISN + 1)
        data = client_tcp(cport, "PA", C_ISN + 1, S_ISN + 1, b"GET / HTTP/1.0\r\n\r\n")
        reply = backend_tcp(ACTIVE, sport, "PA", S_ISN + 1, C_ISN + 19, b"HTTP/1.0 200 OK\r\n")
        ev = [("wan", synack), ("lan", ack), ("lan", data), ("wan", reply)]
        s, out, fillers = run_sequence(d, cfg, ev)
    assert_frames(out["lan"], [to_client(synack, cport), to_client(reply, cport)],
                  "lan (to the client)")
    assert_frames(out["wan"], [to_backend(ack, ACTIVE, sport), to_backend(data, ACTIVE, sport)],
                  "wan (to the backend)")
    lb = nf_stats(s, "lb")
    assert (lb["new_flows"], lb["pinned"], lb["returned"]) == (0, 2, 2), lb
    assert nonzero(s["drops"]) == {"l2_not_ours": fillers}
