#!/usr/bin/python3
"""
transfers.py - many concurrent, long-lived TCP transfers whose every byte is
checked at the receiver: the traffic of the failover and scaling tests.

    transfers.py serve --bind ADDR --port P --report FILE
    transfers.py send --dst ADDR --port P --conns N --bytes B --seconds S
                      [--churn-per-s R --churn-bytes B2 --churn-until-file F]

`send` opens N connections at once and paces each one to deliver B bytes in
about S seconds (a chunk every 20 ms), so they are all in flight for the
whole test. With --churn-per-s it also opens R short connections a second
(B2 bytes each) until the file F exists, then stops opening new ones: the
test creates F a moment after it kills an instance, so connections opened
in the last milliseconds before the kill are among them.

Each connection starts with a 12-byte header (id, length); its payload is a
pure function of (id, offset), so the receiver checks every byte as it
arrives and records the longest gap between two arrivals (the stall). When
it has all B bytes it answers "OK" plus a SHA-256 of what it got; the
sender compares it with its own. Both ends print one JSON object per
connection (the server into --report, appending a line as each ends; the
sender a summary on stdout): id, ok, error, bytes, max_gap_s. With
--ports-file the sender also writes the long connections' source ports
there as soon as they are open.

Everything is bounded: the sender gives up on a connection after
--timeout seconds and reports it as failed.
"""

import argparse
import hashlib
import json
import os
import selectors
import socket
import struct
import sys
import threading
import time

HEADER = struct.Struct("!IQ")


_BASE = hashlib.shake_256(b"slnf transfers").digest(65536)
_BASE2 = _BASE + _BASE


class Pattern:
    """A connection's payload, a pure function of (id, offset): 64 KiB
    blocks, each a different rotation of one pseudo-random block, so a byte
    that is wrong or out of place is noticed, at the cost of a slice."""

    BLOCK = 65536

    def __init__(self, conn_id):
        self.id = conn_id

    def block(self, b):
        r = (b * 40503 + self.id * 9973) % self.BLOCK
        return _BASE2[r:r + self.BLOCK]

    def get(self, offset, n):
        out = bytearray()
        while n:
            b, o = divmod(offset, self.BLOCK)
            take = min(n, self.BLOCK - o)
            out += self.block(b)[o:o + take]
            offset, n = offset + take, n - take
        return bytes(out)


# ---- server -----------------------------------------------------------------

def serve(args):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(1024)
    lock = threading.Lock()
    print("listening", flush=True)

    def handle(s, peer):
        rec = {"peer": f"{peer[0]}:{peer[1]}", "ok": False, "bytes": 0, "max_gap_s": 0.0}
        try:
            s.settimeout(args.timeout)
            head = b""
            while len(head) < HEADER.size:
                d = s.recv(HEADER.size - len(head))
                if not d:
                    raise ConnectionError("closed in the header")
                head += d
            conn_id, total = HEADER.unpack(head)
            rec["id"], pat, h = conn_id, Pattern(conn_id), hashlib.sha256()
            got, last = 0, time.monotonic()
            while got < total:
                d = s.recv(min(65536, total - got))
                if not d:
                    raise ConnectionError(f"closed after {got} of {total} bytes")
                now = time.monotonic()
                rec["max_gap_s"] = max(rec["max_gap_s"], now - last)
                last = now
                if d != pat.get(got, len(d)):
                    raise ValueError(f"wrong data at offset {got}")
                h.update(d)
                got += len(d)
                rec["bytes"] = got
            s.sendall(b"OK" + h.digest())
            rec["ok"] = True
        except Exception as e:  # reported, never fatal to the server
            rec["error"] = f"{type(e).__name__}: {e}"
        finally:
            s.close()
            with lock, open(args.report, "a") as f:
                f.write(json.dumps(rec) + "\n")

    while True:
        s, peer = ls.accept()
        threading.Thread(target=handle, args=(s, peer), daemon=True).start()


# ---- sender -----------------------------------------------------------------

class Conn:
    def __init__(self, conn_id, total, seconds, kind):
        self.id, self.total, self.kind = conn_id, total, kind
        self.pat = Pattern(conn_id)
        self.h = hashlib.sha256()
        self.sent = 0
        self.seconds = seconds
        self.t0 = time.monotonic()
        self.answer = b""
        self.done = False
        self.rec = {"id": conn_id, "kind": kind, "ok": False, "bytes": total}
        self.sock = None
        self.out = b""


def send(args):
    sel = selectors.DefaultSelector()
    conns, next_id = [], [args.first_id]
    start = time.monotonic()
    deadline = start + args.timeout

    def open_conn(total, seconds, kind):
        c = Conn(next_id[0], total, seconds, kind)
        next_id[0] += 1
        try:
            s = socket.create_connection((args.dst, args.port), timeout=5)
        except OSError as e:
            c.rec["error"] = f"connect: {e}"
            c.done = True
            conns.append(c)
            return
        s.setblocking(False)
        c.sock = s
        c.rec["sport"] = s.getsockname()[1]
        c.rec["opened_s"] = round(time.monotonic() - start, 3)
        c.out = HEADER.pack(c.id, total)
        sel.register(s, selectors.EVENT_READ, c)
        conns.append(c)

    def finish(c, ok, error=None):
        c.done = True
        c.rec["ok"] = ok
        if error:
            c.rec["error"] = error
        if c.sock:
            sel.unregister(c.sock)
            c.sock.close()
            c.sock = None

    for _ in range(args.conns):
        open_conn(args.bytes, args.seconds, "long")
    if args.ports_file:  # the long connections' source ports, for the test
        with open(args.ports_file + ".tmp", "w") as f:
            json.dump([c.rec.get("sport") for c in conns], f)
        os.replace(args.ports_file + ".tmp", args.ports_file)
    churn_next = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        churning = args.churn_per_s > 0 and not (
            args.churn_until_file and _exists(args.churn_until_file))
        if churning and now >= churn_next:
            open_conn(args.churn_bytes, 0.2, "churn")
            churn_next = now + 1.0 / args.churn_per_s
        if not churning and all(c.done for c in conns):
            break
        for c in conns:  # pace: queue what is due by now, B bytes over S seconds
            due = int(c.total * min(1.0, (now - c.t0) / c.seconds)) if c.seconds else c.total
            if c.sock and c.sent < due and len(c.out) < 65536:
                n = min(due - c.sent, 65536)
                d = c.pat.get(c.sent, n)
                c.h.update(d)
                c.out += d
                c.sent += n
        for c in conns:
            if c.sock and c.out:
                try:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                except BlockingIOError:
                    pass
                except OSError as e:
                    finish(c, False, f"send: {e}")
        for key, _ in sel.select(timeout=0.02):
            c = key.data
            try:
                d = c.sock.recv(64)
            except BlockingIOError:
                continue
            except OSError as e:
                finish(c, False, f"recv: {e}")
                continue
            if not d:
                finish(c, False, f"closed by the peer after {c.sent} bytes sent")
                continue
            c.answer += d
            if len(c.answer) >= 34:
                if c.answer[:2] == b"OK" and c.answer[2:34] == c.h.digest():
                    finish(c, True)
                else:
                    finish(c, False, "the receiver's digest differs")
    for c in conns:
        if not c.done:
            finish(c, False, f"timed out after {args.timeout}s ({c.sent} of {c.total} sent)")
    recs = [c.rec for c in conns]
    print(json.dumps({"conns": recs, "ok": sum(r["ok"] for r in recs),
                      "failed": sum(not r["ok"] for r in recs),
                      "elapsed_s": round(time.monotonic() - start, 3)}), flush=True)


def _exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--report", required=True)
    s.add_argument("--timeout", type=float, default=60)
    c = sub.add_parser("send")
    c.add_argument("--dst", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--conns", type=int, default=50)
    c.add_argument("--bytes", type=int, default=1 << 20)
    c.add_argument("--seconds", type=float, default=6)
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--first-id", type=int, default=1)
    c.add_argument("--churn-per-s", type=float, default=0)
    c.add_argument("--churn-bytes", type=int, default=32768)
    c.add_argument("--churn-until-file", default="")
    c.add_argument("--ports-file", default="")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        send(args)


if __name__ == "__main__":
    sys.exit(main())
