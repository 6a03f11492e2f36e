"""
rawpeer.py - one end of a scripted packet exchange, run inside a test
namespace and driven line by line over stdin/stdout, so that a test can
play both ends of a crafted TCP conversation step by step without
starting a process per packet.

    rawpeer.py IFACE      (prints "ready" once its socket is bound)

Commands, one per line; each answers one line:
    send HEXFRAME         send the Ethernet frame on IFACE         -> "ok"
    expect IPID SECONDS   wait up to SECONDS for an incoming IPv4 frame
                          with that IP identification              -> "1 HEXFRAME" or "0"

Every incoming IPv4 frame is remembered by its IP id, so a frame that came
in before its `expect` is still found. Outgoing frames (also the ones the
namespace's kernel sends) are ignored.
"""

import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    iface = sys.argv[1]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    seen = {}

    def drain(until):
        while True:
            left = until - time.monotonic()
            r, _, _ = select.select([s], [], [], max(left, 0))
            if not r:
                return
            data, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING or len(data) < 34 or data[12:14] != b"\x08\x00":
                continue
            seen.setdefault(int.from_bytes(data[18:20], "big"), data)

    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "send":
            s.send(bytes.fromhex(cmd[1]))
            print("ok", flush=True)
        elif cmd[0] == "expect":
            ipid, deadline = int(cmd[1]), time.monotonic() + float(cmd[2])
            while ipid not in seen and time.monotonic() < deadline:
                drain(min(deadline, time.monotonic() + 0.05))
            got = seen.get(ipid)
            print(f"1 {got.hex()}" if got else "0", flush=True)
        else:
            print(f"error: unknown command {cmd[0]}", flush=True)


if __name__ == "__main__":
    main()
