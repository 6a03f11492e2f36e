"""
redis_server.py - a throw-away redis-server for integration tests that run
slnfd with the redis store backend. Two ways to use it, same server:

    with redis_server(tmp_dir) as store:     # a context manager
        cfg["store"] = store   # {"backend": "redis", "redis": {"unix": ...}}

    from redis_server import redis_store  # noqa: F401   (a pytest fixture
    def test_x(redis_store): ...                          yielding the same)

The server listens on a Unix socket in tmp_dir (slnfd runs in the gateway
namespace, whose loopback is not the root namespace's; a socket file is
seen from every namespace) and on a free loopback port, keeps nothing on
disk, and is stopped by PID when the block or the test ends, pass or fail.
Tests skip when redis-server is not installed.
"""

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from topo import LIVE_PROCS, CommandError, stop_process

START_TIMEOUT = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(tmp_dir):
    """Start redis-server with its socket in tmp_dir; yield slnfd's store
    config for it; stop it on exit."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    tmp_dir = Path(tmp_dir)
    sock = tmp_dir / "redis.sock"
    p = subprocess.Popen(["redis-server", "--port", str(free_port()), "--bind", "127.0.0.1",
                          "--unixsocket", str(sock), "--unixsocketperm", "700",
                          "--save", "", "--appendonly", "no", "--dir", str(tmp_dir)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    LIVE_PROCS[p.pid] = p
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not sock.exists():
            if p.poll() is not None or time.monotonic() >= deadline:
                raise CommandError(f"redis-server did not create {sock} within "
                                   f"{START_TIMEOUT}s (exit status {p.poll()})")
            time.sleep(0.05)
        yield {"backend": "redis", "redis": {"unix": str(sock)}}
    finally:
        stop_process(p)


@pytest.fixture
def redis_store(tmp_path):
    """The store config of a redis_server(tmp_path) for the test."""
    with redis_server(tmp_path) as store:
        yield store
