#!/usr/bin/python3
"""
udpflows.py - open many UDP flows fast, each one datagram from a different
source port, so the firewall and NAT of the instances create one tracked
connection and one mapping each: the "large state" of the failover test.

    udpflows.py --src A --dst B --dport P --count N --first-port S --rate R

Datagrams are built by hand (IPv4 + UDP, UDP checksum left 0, which is
legal) and sent on a raw socket at about R per second, source ports S,
S+1, ... (with more than 64511 flows the source address must vary: use
several runs with different --src). Prints {"sent": N, "seconds": T}.
Bounded: it sends exactly N datagrams.
"""

import argparse
import json
import socket
import struct
import time


def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, default=9)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--first-port", type=int, default=1024)
    ap.add_argument("--rate", type=float, default=10000)
    args = ap.parse_args()
    assert args.first_port + args.count <= 65536, "source ports run out: use another --src"
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = socket.inet_aton(args.src), socket.inet_aton(args.dst)
    payload = b"slnf-state"
    total = 20 + 8 + len(payload)
    start = time.monotonic()
    for i in range(args.count):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, i & 0xFFFF, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", args.first_port + i, args.dport, 8 + len(payload), 0)
        while True:
            try:
                s.sendto(ip + udp + payload, (args.dst, 0))
                break
            except BlockingIOError:  # the qdisc is full: let it drain
                time.sleep(0.001)
        ahead = (i + 1) / args.rate - (time.monotonic() - start)
        if ahead > 0.002:
            time.sleep(ahead)
    print(json.dumps({"sent": args.count, "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main()
