"""
lbconn.py - long-lived TCP connections through a load balancer, for the
integration tests that check where each connection lands (test_lb.py).

    lbconn.py serve --bind ADDR --port P --id NAME
        answers every line it receives on a connection with "NAME\\n", for
        as long as the connection stays open; prints `listening` once bound.

    lbconn.py hold --dst VIP --port P --src ADDR --first-port N --count C
        opens C connections from ADDR:N, N+1, ... (fixed ports, so a run is
        deterministic), then every --interval seconds sends one line on each
        and prints one JSON line: {"round": r, "marks": m, "got": [NAME or
        "error: ..." per connection]}. A line on stdin counts as a mark, so
        the test can tell which rounds began after something it did; EOF on
        stdin, or --rounds rounds, ends it.

    lbconn.py once --dst VIP --port P --src ADDR --first-port N --count C
        one request on each of C new connections, closed at once; prints the
        JSON list of answers.

httpd.py speaks HTTP/1.0 and closes after each answer; these connections
stay open, which is what pins are about.
"""

import argparse
import json
import select
import socket
import socketserver
import sys
import time

TIMEOUT = 5.0


def serve(a):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for _ in self.rfile:
                self.wfile.write((a.id + "\n").encode())

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    with Server((a.bind, a.port), Handler) as srv:
        print("listening", flush=True)
        srv.serve_forever()


def connect(a, i):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(TIMEOUT)
    s.bind((a.src, a.first_port + i))
    s.connect((a.dst, a.port))
    return s


def ask(s):
    """One request on s; the answer, or why there was none."""
    try:
        s.sendall(b"who\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(64)
            if not chunk:
                return "error: closed"
            buf += chunk
        return buf.decode().strip()
    except OSError as e:
        return f"error: {e}"


def open_all(a):
    conns = []
    for i in range(a.count):
        try:
            conns.append(connect(a, i))
        except OSError as e:
            conns.append(f"error: connect: {e}")
    return conns


def hold(a):
    conns = open_all(a)
    marks = 0
    for r in range(a.rounds):
        got = [ask(s) if isinstance(s, socket.socket) else s for s in conns]
        print(json.dumps({"round": r, "marks": marks, "got": got}), flush=True)
        deadline = time.monotonic() + a.interval
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sys.stdin], [], [], left)
            if ready:
                if not sys.stdin.readline():
                    return
                marks += 1


def once(a):
    got = []
    for i in range(a.count):
        try:
            with connect(a, i) as s:
                got.append(ask(s))
        except OSError as e:
            got.append(f"error: connect: {e}")
    print(json.dumps(got), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--id", required=True)
    for name in ("hold", "once"):
        c = sub.add_parser(name)
        c.add_argument("--dst", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--src", required=True)
        c.add_argument("--first-port", type=int, required=True)
        c.add_argument("--count", type=int, required=True)
        c.add_argument("--interval", type=float, default=0.5)
        c.add_argument("--rounds", type=int, default=240)
    a = ap.parse_args()
    {"serve": serve, "hold": hold, "once": once}[a.mode](a)


if __name__ == "__main__":
    main()
