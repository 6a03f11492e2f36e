"""
httpd.py - a small HTTP file server for the integration tests.

Serves --dir on --bind:--port and appends one line per accepted TCP
connection to --conn-log, so a test can prove that a filtered port saw no
connection at all (not even one without a request). Prints `listening` once
the socket is bound. Runs until killed. Unlike `python3 -m http.server` it
sends no DNS query at start.
"""

import argparse
import functools
import http.server
import os
import socketserver


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--conn-log", required=True)
    a = ap.parse_args()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self):
            # HTTPServer.server_bind asks DNS for our name (getfqdn): a query
            # to a resolver the test network has no route to
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = self.server_address[:2]

        def get_request(self):
            sock, peer = super().get_request()
            with open(a.conn_log, "a") as f:
                f.write(f"{peer[0]}:{peer[1]}\n")
            return sock, peer

    srv = Server((a.bind, a.port), functools.partial(Handler, directory=a.dir))
    print("listening", flush=True)
    # nobody reads the pipe after this line: never block on a full one
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    srv.serve_forever()


if __name__ == "__main__":
    main()
