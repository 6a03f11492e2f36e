"""
pcapio.py - golden-packet runs of slnfd on DPDK `pcap` ports, no namespaces.

DPDK's pcap PMD reads a port's rx_pcap once, as fast as it is polled, and
writes every transmitted frame to its tx_pcap (flushed after each burst,
closed when slnfd stops the port). A port may have only one of the two: with
no rx_pcap it receives nothing, with no tx_pcap what it transmits is thrown
away (and still counted as sent). So a test writes the frames each port
receives, runs slnfd until the stats show them all received, stops it with
SIGTERM and reads back exactly what each port sent.
"""

from scapy.all import rdpcap, wrpcap
from scapy.utils import checksum, mac2str


def pcap_port(tmp, name, mac, ipv4, rx=False):
    """A pcap port writing to tmp/<name>-out.pcap and, with rx, reading
    tmp/<name>-in.pcap."""
    port = {"name": name, "type": "pcap", "tx_pcap": str(tmp / f"{name}-out.pcap"),
            "mac": mac, "ipv4": [ipv4]}
    if rx:
        port["rx_pcap"] = str(tmp / f"{name}-in.pcap")
    return port


def run_pcaps(d, cfg, inputs, timeout=10):
    """Feed inputs ({port name: [frames]}) to slnfd instance d (a topo.Slnfd)
    running cfg; stop it once everything was received and return (stats,
    {port name: [frame bytes it sent]})."""
    ports = {p["name"]: p for p in cfg["ports"]}
    for name, frames in inputs.items():
        wrpcap(ports[name]["rx_pcap"], [bytes(f) for f in frames], linktype=1)  # Ethernet
    d.start(cfg)
    stats = d.wait_rx(sum(len(f) for f in inputs.values()), timeout=timeout)
    code = d.stop()
    assert code == 0 and not d.killed, f"exit {code} on SIGTERM; log:\n{d.log()}"
    # the frames were addressed to the configured MACs: if slnfd uses others,
    # they were all dropped as l2_not_ours, and this says why
    used = {p["name"]: p["mac"] for p in stats["ports"]}
    assert used == {n: p["mac"] for n, p in ports.items()}, f"ports[].mac not used: {used}"
    return stats, {name: [bytes(f) for f in rdpcap(p["tx_pcap"])]
                   for name, p in ports.items()}


def routed(frame, src_mac, dst_mac):
    """frame as a router must send it on: new MAC addresses, TTL one less, the
    IPv4 header checksum right again, every other byte (VLAN tag, L4 header
    and checksum, payload) as it came in."""
    b = bytearray(bytes(frame))
    b[0:12] = mac2str(dst_mac) + mac2str(src_mac)
    ip = 18 if b[12:14] == b"\x81\x00" else 14  # behind an 802.1Q tag or not
    ihl = (b[ip] & 0x0F) * 4
    b[ip + 8] -= 1
    b[ip + 10:ip + 12] = b"\0\0"
    b[ip + 10:ip + 12] = checksum(bytes(b[ip:ip + ihl])).to_bytes(2, "big")
    return bytes(b)


def hexes(frames):
    """Frames as sorted hex strings: order-free, readable when they differ."""
    return sorted(bytes(f).hex() for f in frames)


def sums_ok(data):
    """An Internet checksum over data that includes its own checksum field."""
    return checksum(bytes(data)) == 0
