"""
golden.py - ordered golden-packet runs of slnfd on two pcap ports (lan,
wan), for the stateful NFs, whose verdicts depend on the packets before.

DPDK's pcap PMD hands out a port's rx_pcap as fast as it is polled, and a
worker polls its ports in config order, one rx burst each. With
workers.burst 1 a worker therefore receives lan[0], wan[0], lan[1], wan[1],
... in that order, each as a burst of its own, and with the shm store (which
completes inside submit) each burst is through the chain and its state is
in the store before the next is received. `sequence` turns one ordered list
of (port, frame) events into the two rx_pcap files by filling the other
port's slot of each round with a frame for a foreign MAC address, which the
worker drops before the chain (l2_not_ours), so the events reach the chain
exactly in list order. Whether that holds is not assumed: a test that
depends on order fails if the order was not kept.

`same` compares frames field by field (every layer, checksums included) and
says which field differs.
"""

from scapy.all import Ether

from pcapio import run_pcaps

FILLER_MAC = "02:00:00:00:00:99"


def filler(port_mac):
    """A frame for a MAC address that is not slnfd's: dropped as l2_not_ours."""
    return Ether(src="02:00:00:00:99:99", dst=FILLER_MAC, type=0x88B5) / (b"\0" * 46)


def sequence(events, ports=("lan", "wan")):
    """{port: [frames]} receiving events [(port, frame)] in order, and the
    number of filler frames added."""
    inputs = {p: [] for p in ports}
    fillers = 0
    for port, frame in events:
        for p in ports:
            if p == port:
                inputs[p].append(frame)
            else:
                inputs[p].append(filler(p))
                fillers += 1
    return inputs, fillers


def run_sequence(d, cfg, events, timeout=20):
    """Run events through instance d (topo.Slnfd) with cfg, whose workers
    must have burst 1; returns (stats, {port: [sent frames]}, fillers)."""
    assert cfg["workers"]["burst"] == 1 and cfg["workers"]["count"] == 1
    inputs, fillers = sequence(events)
    stats, out = run_pcaps(d, cfg, inputs, timeout=timeout)
    return stats, out, fillers


def fields(pkt):
    """[(layer, field, value)] of every layer of a scapy packet."""
    out = []
    layer = pkt
    while layer is not None and layer.name != "NoPayload":
        for f in layer.fields_desc:
            out.append((layer.name, f.name, layer.getfieldval(f.name)))
        layer = layer.payload if layer.payload else None
    return out


def diff(got, want):
    """The fields in which frame got differs from frame want (both bytes or
    scapy packets, parsed as Ethernet)."""
    g, w = Ether(bytes(got)), Ether(bytes(want))
    fg, fw = fields(g), fields(w)
    out = [f"{lg}.{n}: got {vg!r}, want {vw!r}"
           for (lg, n, vg), (_, _, vw) in zip(fg, fw) if vg != vw]
    if len(fg) != len(fw) or (not out and bytes(got) != bytes(want)):
        out.append(f"layers/bytes differ:\n got  {g!r}\n want {w!r}")
    return out


def assert_frames(got, want, what):
    """The frames a port sent are exactly want, in order, field by field."""
    assert len(got) == len(want), \
        f"{what}: {len(got)} frames, want {len(want)}:\n" + \
        "\n".join(repr(Ether(f)) for f in got)
    for i, (g, w) in enumerate(zip(got, want)):
        d = diff(g, w)
        assert not d, f"{what} frame {i}:\n  " + "\n  ".join(d)


def nonzero(drops):
    return {k: v for k, v in drops.items() if v}
