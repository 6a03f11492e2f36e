"""
pkttool.py - scapy packet crafting for the integration tests.

Runs inside a namespace (`ip netns exec NS /usr/bin/python3 pkttool.py ...`)
and prints one JSON object on stdout.

  malformed --iface IF --dst-mac MAC --src IP --dst IP --kind KIND --count N
      send N IPv4 frames with exactly one defect each:
        truncated  frame ends 12 bytes into the IPv4 header
        ihl        IHL 4 (16-byte header), checksum right for the 20 bytes sent
        len        total length 1400 in a 60-byte packet, checksum right
        csum       a correct packet with a wrong header checksum
      -> {"sent": N, "frame_len": L}

  probe --iface IF --dst-mac MAC --src IP --dst IP [--ttl T] [--proto udp|icmp]
        [--count N] [--timeout S]
      send N well-formed packets and collect the ICMP messages (other than
      echo requests) that come back to --src within S seconds
      -> {"sent": N, "icmp": [{"src", "dst", "ttl", "type", "code", "quoted": {...}}]}
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time

from scapy.all import ICMP, IP, UDP, AsyncSniffer, Ether, Raw, conf, sendp  # noqa: E402

conf.verb = 0


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, payload, ihl=5, total_len=None, ttl=64, proto=17, bad_csum=False):
    tl = 20 + len(payload) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, tl, 0x5151, 0, ttl, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    c = inet_csum(hdr)
    if bad_csum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def udp(sport, dport, data):
    # checksum 0: "none" for IPv4 UDP, so only the IPv4 header is at fault
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def malformed(a):
    data = udp(40000, 9, b"slnf-malformed-test-" + b"x" * 12)  # 8 + 32 bytes
    if a.kind == "truncated":
        ip = ipv4(a.src, a.dst, data)[:12]
    elif a.kind == "ihl":
        ip = ipv4(a.src, a.dst, data, ihl=4)
    elif a.kind == "len":
        ip = ipv4(a.src, a.dst, data, total_len=1400)
    elif a.kind == "csum":
        ip = ipv4(a.src, a.dst, data, bad_csum=True)
    else:
        sys.exit(f"unknown kind {a.kind}")
    frame = Ether(dst=a.dst_mac, type=0x0800) / Raw(ip)
    sendp(frame, iface=a.iface, count=a.count, inter=0.01)
    return {"sent": a.count, "frame_len": len(frame)}


def quoted(icmp):
    inner = icmp.payload
    if not inner or inner.name not in ("IP in ICMP", "IP"):
        return None
    return {"src": inner.src, "dst": inner.dst, "proto": inner.proto, "ttl": inner.ttl}


def probe(a):
    got = []
    started = threading.Event()

    def mine(p):
        return (p.haslayer(ICMP) and p.haslayer(IP) and p[IP].dst == a.src
                and p[ICMP].type != 8)

    sniffer = AsyncSniffer(iface=a.iface, lfilter=mine, store=True,
                           started_callback=started.set)
    sniffer.start()
    started.wait(5)
    time.sleep(0.1)
    for i in range(a.count):
        l3 = IP(src=a.src, dst=a.dst, ttl=a.ttl)
        if a.proto == "udp":
            pkt = l3 / UDP(sport=40000 + i, dport=33434) / Raw(b"slnf-probe")
        else:
            pkt = l3 / ICMP(type=8, id=0x51F, seq=i + 1) / Raw(b"slnf-probe")
        sendp(Ether(dst=a.dst_mac) / pkt, iface=a.iface)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline and len(sniffer.results or []) < a.count:
        time.sleep(0.05)
    time.sleep(0.2)  # would-be duplicates
    sniffer.stop()
    for p in sniffer.results or []:
        icmp = p[ICMP]
        got.append({"src": p[IP].src, "dst": p[IP].dst, "ttl": p[IP].ttl,
                    "type": icmp.type, "code": icmp.code, "quoted": quoted(icmp)})
    return {"sent": a.count, "icmp": got}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("malformed", "probe"):
        p = sub.add_parser(name)
        p.add_argument("--iface", required=True)
        p.add_argument("--dst-mac", required=True)
        p.add_argument("--src", required=True)
        p.add_argument("--dst", required=True)
        p.add_argument("--count", type=int, default=1)
    sub.choices["malformed"].add_argument(
        "--kind", required=True, choices=["truncated", "ihl", "len", "csum"])
    pr = sub.choices["probe"]
    pr.add_argument("--ttl", type=int, default=64)
    pr.add_argument("--proto", choices=["udp", "icmp"], default="udp")
    pr.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    out = malformed(a) if a.cmd == "malformed" else probe(a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
