"""
test_conntrack_diff.py - the firewall's TCP tracking compared with Linux
conntrack on the same scripted packets.

Each script is a crafted TCP conversation between the client and the
server namespace (handshakes, data, FIN from either side, RSTs exact,
inexact and out of the window, a refused SYN, simultaneous open, SYN
retransmits, bad SYN/ACKs, packets without a connection). Every packet is
sent with scapy-free raw sockets (rawpeer.py, one per end) and the test
records whether it came out on the other side. The same scripts run
through (a) a gateway namespace with Linux forwarding and nftables

    ct state invalid drop; ct state established,related accept;
    iifname <lan> ct state new accept; policy drop

(with nf_conntrack_tcp_loose=0: no mid-stream pickup, as in slnf), and (b)
slnfd with the firewall rules of test_firewall.py (established/related
allowed, new from the lan prefix allowed, default deny, invalid dropped).
The two verdict lists must be equal, except for the steps listed in
DIFFERENCES, each explained in docs/nf-firewall.md ("Differences from Linux
conntrack"); a listed step must still differ the listed way, so the list
cannot go stale.

The endpoints have no sockets on these ports; their kernels' RSTs are
dropped by an nftables output rule in each endpoint namespace, so only the
crafted packets are on the wire. Each script uses its own client port.
"""

import subprocess

import pytest

from topo import PYTHON, HERE, Topo, assert_ping, run
from test_firewall import fw_edit

WAIT = 0.5  # seconds to wait for a packet that may have been dropped
C_ISN, S_ISN = 100000, 3000000
CWIN, SWIN = 29200, 28960


class Conn:
    """A scripted connection client:cport <-> server:80, with each side's
    next sequence number."""

    def __init__(self, cport):
        self.cport, self.c, self.s = cport, C_ISN, S_ISN
        self.steps = []

    def _add(self, side, flags, data, seq, ack):
        """One step; only a packet at the side's next sequence number (seq
        not given) moves that side on."""
        mine, peer = (self.c, self.s) if side == "c" else (self.s, self.c)
        advance = seq is None
        seq = mine if seq is None else seq
        ack = peer if ack is None else ack
        self.steps.append((side, flags, seq % (1 << 32), ack % (1 << 32) if "A" in flags else 0,
                           data))
        n = len(data) + ("S" in flags) + ("F" in flags)
        if advance and side == "c":
            self.c += n
        elif advance:
            self.s += n
        return self

    def c_(self, flags, data=b"", seq=None, ack=None):
        return self._add("c", flags, data, seq, ack)

    def s_(self, flags, data=b"", seq=None, ack=None):
        return self._add("s", flags, data, seq, ack)

    def handshake(self):
        return self.c_("S").s_("SA").c_("A")


def scripts():
    out = {}

    def new(name, port):
        out[name] = Conn(port)
        return out[name]

    c = new("fin_client_first", 41001).handshake()
    c.c_("PA", b"a" * 100).s_("PA", b"b" * 200).c_("A").c_("FA").s_("A").s_("FA").c_("A")
    c.s_("A", seq=c.s - 1)  # the last FIN's retransmitted ACK... of the server, in TIME_WAIT

    c = new("fin_server_first", 41002).handshake()
    c.s_("FA").c_("A").c_("PA", b"c" * 50).s_("A").c_("FA").s_("A")

    c = new("rst_out_of_window", 41003).handshake()
    c.s_("R", seq=c.s + 10_000_000).s_("RA", seq=c.s - 10_000_000).c_("PA", b"d" * 10)
    c.s_("PA", b"e" * 10)

    c = new("rst_inexact_after", 41004).handshake()
    c.c_("PA", b"f" * 100).s_("A").s_("R", seq=c.s + 1000).c_("PA", b"g" * 10)
    c.s_("PA", b"h" * 10)

    c = new("rst_inexact_before", 41005).handshake()
    c.c_("PA", b"i" * 100).s_("PA", b"j" * 100).c_("A").s_("R", seq=c.s - 50)
    c.c_("PA", b"k" * 10)

    c = new("rst_exact", 41006).handshake()
    c.c_("PA", b"l" * 100).s_("A").c_("RA").s_("PA", b"m" * 10)
    c.c, c.s = C_ISN + 500000, S_ISN + 500000  # the port reused for a new connection
    c.handshake().c_("PA", b"n" * 10)

    c = new("syn_refused", 41007)
    c.c_("S").s_("RA", seq=0).c_("S", seq=C_ISN + 7)
    c.c = C_ISN + 8
    c.s_("SA").c_("A")

    c = new("simultaneous_open", 41008)
    c.c_("S").s_("S").c_("SA", seq=C_ISN).s_("SA", seq=S_ISN).c_("A").s_("A")
    c.c_("PA", b"o" * 10)

    c = new("syn_retransmits", 41009)
    c.c_("S").c_("S", seq=C_ISN).c_("S", seq=C_ISN).s_("SA").c_("A").c_("PA", b"p" * 10)

    c = new("syn_new_isn", 41010)
    c.c_("S").c_("S", seq=C_ISN + 90000)
    c.c = C_ISN + 90001
    c.s_("SA").c_("A")

    c = new("synack_bad_ack", 41011)
    c.c_("S").s_("SA", seq=S_ISN, ack=C_ISN + 1000).s_("SA", seq=S_ISN, ack=C_ISN)
    c.s_("SA").c_("A")

    c = new("data_out_of_window", 41012).handshake()
    # neither out-of-window packet is delivered, so neither moves its side on
    c.c_("PA", b"q" * 10, seq=c.c + 1_000_000).s_("PA", b"r" * 10, seq=c.s, ack=c.c + 1_000_000)
    c.c_("PA", b"s" * 10).s_("A")

    c = new("inbound_syn", 41013)
    c.s_("S").s_("A")

    c = new("no_connection", 41014)
    c.c_("A").c_("PA", b"t" * 10).c_("FA").c_("R")
    return out


# Steps where slnf deliberately differs from Linux, as (script, step index):
# (Linux delivered, slnf delivered). docs/nf-firewall.md, "Differences from
# Linux conntrack", explains each.
DIFFERENCES = {
    # an RST below what the receiver already acked: Linux marks it invalid;
    # slnf keeps no highest ack, finds it in the window and forwards it as an
    # inexact RST (the connection stays open; the receiver discards it)
    ("rst_inexact_before", 6): (False, True),
    # a SYN/ACK acking the SYN's own sequence number, not the one after:
    # Linux's ack window lets it through, slnf wants the SYN acked exactly
    ("synack_bad_ack", 2): (True, False),
}


def tcp_frame(t, gw_macs, step_id, cport, side, flags, seq, ack, data):
    from scapy.all import IP, TCP, Ether, Raw  # noqa: only the test process needs scapy
    fl = "".join(sorted(flags, key="FSRPAU".index))
    if side == "c":
        eth = Ether(src=t.mac(t.ns_client, t.if_client), dst=gw_macs["lan"])
        ip = IP(src=t.client_ip, dst=t.server_ip, id=step_id)
        tcp = TCP(sport=cport, dport=80, flags=fl, seq=seq, ack=ack, window=CWIN)
    else:
        eth = Ether(src=t.mac(t.ns_server, t.if_server), dst=gw_macs["wan"])
        ip = IP(src=t.server_ip, dst=t.client_ip, id=step_id)
        tcp = TCP(sport=80, dport=cport, flags=fl, seq=seq, ack=ack, window=SWIN)
    return bytes(eth / ip / (tcp / Raw(data) if data else tcp))


class Peer:
    def __init__(self, t, ns, iface):
        self.p = t.spawn(ns, [PYTHON, str(HERE / "rawpeer.py"), iface],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()


def nft(t, ns, name, ruleset):
    path = t.tmp / f"{name}.nft"
    path.write_text(ruleset)
    run(["nft", "-f", str(path)], ns=ns)


def drop_own_rsts(t):
    for ns in (t.ns_client, t.ns_server):
        nft(t, ns, "peer", "table inet peer {\n  chain out {\n"
            "    type filter hook output priority 0;\n"
            "    tcp flags & rst == rst drop\n  }\n}\n")


def kernel_firewall(t):
    nft(t, t.ns_gw, "gw", "table inet fw {\n  chain forward {\n"
        "    type filter hook forward priority 0; policy drop;\n"
        "    ct state invalid drop\n"
        "    ct state established,related accept\n"
        f"    iifname \"{t.if_lan}\" ct state new accept\n  }}\n}}\n")
    run(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"], ns=t.ns_gw)


def verdicts(t):
    """{script: [delivered?]} for every script, run through t's gateway."""
    drop_own_rsts(t)
    assert_ping(t, t.ns_client, t.server_ip, count=1)  # neighbours resolved
    gw_macs = {"lan": t.mac(t.ns_gw, t.if_lan), "wan": t.mac(t.ns_gw, t.if_wan)}
    peers = {"c": Peer(t, t.ns_client, t.if_client), "s": Peer(t, t.ns_server, t.if_server)}
    out, step_id = {}, 1000
    for name, conn in scripts().items():
        got = []
        for side, flags, seq, ack, data in conn.steps:
            step_id += 1
            frame = tcp_frame(t, gw_macs, step_id, conn.cport, side, flags, seq, ack, data)
            assert peers[side].ask("send " + frame.hex()) == "ok"
            other = peers["s" if side == "c" else "c"]
            got.append(other.ask(f"expect {step_id} {WAIT}").startswith("1"))
        out[name] = got
    return out


def describe(name, i):
    side, flags, seq, ack, data = scripts()[name].steps[i]
    return f"{name}[{i}] {'client' if side == 'c' else 'server'} {flags} " \
           f"seq={seq} ack={ack} len={len(data)}"


@pytest.fixture(scope="module")
def linux():
    with Topo(gateway="kernel") as t:
        kernel_firewall(t)
        return verdicts(t)


def test_linux_reference_is_sane(slnfd, linux):
    """The reference itself: handshakes pass, unsolicited traffic does not."""
    assert all(linux["fin_client_first"][:10]), linux["fin_client_first"]
    assert linux["inbound_syn"] == [False, False]
    assert linux["no_connection"] == [False] * 4


def test_slnf_firewall_agrees_with_linux_conntrack(slnfd, linux):
    with Topo(config=fw_edit()) as t:
        slnf = verdicts(t)
    diffs, stale = [], []
    for name in linux:
        for i, (k, s) in enumerate(zip(linux[name], slnf[name])):
            known = DIFFERENCES.get((name, i))
            if known is not None:
                if (k, s) != known:
                    stale.append(f"{describe(name, i)}: linux {k}, slnf {s}, listed {known}")
            elif k != s:
                diffs.append(f"{describe(name, i)}: linux {'passes' if k else 'drops'}, "
                             f"slnf {'passes' if s else 'drops'}")
    assert not diffs and not stale, "\n".join(diffs + stale)
